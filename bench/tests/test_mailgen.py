"""Unit tests of the deterministic mailbox generator."""
import email
import email.policy
import hashlib
import os

import _path  # noqa: F401

import mailgen


def test_deterministic_and_seed_dependent():
    assert mailgen.message(1, 5) == mailgen.message(1, 5)
    assert mailgen.message(1, 5) != mailgen.message(2, 5)


def test_variety_and_parseable():
    kinds = set()
    for n in range(200):
        raw = mailgen.message(3, n)
        assert b"\r" not in raw
        m = email.message_from_bytes(raw, policy=email.policy.default)
        assert m["Message-ID"] == "<bench-3-%05d@gen.bench.test>" % n
        kinds.add(m.get_content_type())
        for part in m.walk():
            kinds.add(part.get_content_type())
            cte = part.get("Content-Transfer-Encoding")
            if cte:
                kinds.add(cte.lower())
        if "=?UTF-8?B?" in raw.decode():
            kinds.add("encoded-word")
    for want in ("text/plain", "text/html", "multipart/alternative", "multipart/mixed",
                 "message/rfc822", "quoted-printable", "base64", "encoded-word"):
        assert want in kinds, want


def test_generate_manifest_and_install(tmp_path):
    rows = mailgen.generate(7, 20, str(tmp_path / "g"))
    assert len(rows) == 20
    back = mailgen.read_manifest(str(tmp_path / "g" / "manifest"))
    assert back == rows
    raw = (tmp_path / "g" / "msgs" / "00003.eml").read_bytes()
    wire = raw.replace(b"\n", b"\r\n")
    assert rows[3][1] == len(wire) and rows[3][2] == hashlib.sha256(wire).hexdigest()
    md = tmp_path / "md"
    for sub in ("cur", "new", "tmp"):
        (md / sub).mkdir(parents=True)
    assert mailgen.install_maildir(str(tmp_path / "g"), str(md)) == 20
    names = sorted(os.listdir(md / "cur"))
    assert len(names) == 20 and all(":2," in n and ",S=" in n for n in names)
    assert all("F" not in n.split(":2,")[1] for n in names)
