"""Real clients sending through postern, implicit TLS on 465, quotas."""
import shutil
import smtplib
import subprocess

import pytest

from conftest import run_cli, tls_client_context
from smtp_helpers import PASSWORD, Raw, messages, parse, setup_accounts
from test_smtp import FAST, make_mta, simple_message, SMTP_POLICY


@pytest.mark.skipif(shutil.which("mutt") is None, reason="mutt not installed")
def test_mutt_sends_with_starttls_and_auth(postern_factory, tmp_path):
    p = make_mta(postern_factory)
    rc = tmp_path / "muttrc"
    rc.write_text(f"""
set from = "Alice <alice@example.test>"
set use_from = yes
set smtp_url = "smtp://alice@example.test@127.0.0.1:{p.ports['submission']}/"
set smtp_pass = "{PASSWORD}"
set ssl_starttls = yes
set ssl_force_tls = yes
set certificate_file = "{p.data / 'tls' / 'selfsigned.crt'}"
set record = ""
set copy = no
set charset = "utf-8"
set send_charset = "utf-8"
""")
    body = tmp_path / "body.txt"
    body.write_text("Bonjour from mutt.\nSecond line.\n")
    attach = tmp_path / "notes.txt"
    attach.write_text("attached text\n")
    r = subprocess.run(["mutt", "-n", "-F", str(rc), "-s", "Grüße from mutt",
                        "-a", str(attach), "--", "bob@example.test"],
                       stdin=open(body), capture_output=True, text=True, timeout=60,
                       env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin",
                            "LANG": "C.UTF-8"})
    assert r.returncode == 0, r.stdout + r.stderr
    raw = messages(p.data, "bob@example.test", wait=5)[0]
    m = parse(raw)
    assert m["From"] == "Alice <alice@example.test>"
    assert "with ESMTPSA id" in m["Received"]
    assert "(Authenticated sender: alice@example.test)" in m["Received"]
    assert m.is_multipart()
    parts = [part.get_filename() for part in m.walk()]
    assert "notes.txt" in parts


def test_smtps_implicit_tls(postern_factory):
    p = make_mta(postern_factory)
    with smtplib.SMTP_SSL(*p.addr("smtps"), context=tls_client_context()) as s:
        code, lines = s.ehlo("client.test")
        assert code == 250 and b"STARTTLS" not in lines and b"AUTH PLAIN LOGIN" in lines
        s.login("carol@example.test", PASSWORD)
        s.sendmail("carol@example.test", ["alice@example.test"],
                   simple_message(frm="carol@example.test").as_bytes(policy=SMTP_POLICY))
    m = parse(messages(p.data, "alice@example.test")[0])
    assert "with ESMTPSA id" in m["Received"]


@pytest.mark.parametrize("reply", ["452", "552"])
def test_quota(postern_factory, reply):
    p = postern_factory(options=dict(FAST, **{"smtpd.quota_reply": reply}))
    setup_accounts(p.data)
    run_cli("user", "quota", "bob@example.test", "6K", data=p.data, check=True)
    p.start()
    msg = simple_message(to="bob@example.test", body="x" * 3000 + "\n")
    with smtplib.SMTP(*p.addr("smtp")) as s:
        s.sendmail("a@remote.test", ["bob@example.test"], msg.as_bytes(policy=SMTP_POLICY))
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("a@remote.test", ["bob@example.test"],
                       simple_message(to="bob@example.test", body="y" * 4000 + "\n")
                       .as_bytes(policy=SMTP_POLICY))
        want = (452, b"4.2.2") if reply == "452" else (552, b"5.2.2")
        assert (e.value.smtp_code, e.value.smtp_error[:5]) == want
    assert len(messages(p.data, "bob@example.test")) == 1


def test_partly_over_quota_keeps_the_others(postern_factory):
    # alice can take it, bob cannot: alice gets it now, bob's copy waits in
    # the queue (for the queue runner to retry or bounce), the client sees 250.
    p = postern_factory(options=dict(FAST))
    setup_accounts(p.data)
    run_cli("user", "quota", "bob@example.test", "1K", data=p.data, check=True)
    p.start()
    with smtplib.SMTP(*p.addr("smtp")) as s:
        s.sendmail("a@remote.test", ["alice@example.test", "bob@example.test"],
                   simple_message(body="z" * 2000 + "\n").as_bytes(policy=SMTP_POLICY))
    assert len(messages(p.data, "alice@example.test")) == 1
    assert messages(p.data, "bob@example.test") == []
    from smtp_helpers import queued
    ids = queued(p.data)
    assert len(ids) == 1
    raw = (p.data / "queue" / "incoming" / ids[0]).read_bytes()
    assert b"bob@example.test" in raw and b"Return-Path" not in raw
