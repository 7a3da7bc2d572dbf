"""DSNs and downgraded messages as a mail reader sees them.

The unit tests tests/unit/test_dsn.c and test_downgrade.c write the
messages they build into DSN_SAMPLES_DIR when it is set; this test runs
them (from the build directory beside BIN) and parses every sample with
Python's email package: multipart/report structure, report-type, part
types, delivery-status fields per recipient, CRLF line ends and the
998-octet line limit, and encoded words that decode back.
"""
import email
import email.policy
import subprocess
from pathlib import Path

import pytest

from conftest import BIN

BUILD = Path(BIN).resolve().parent


def run_samples(tmp_path, name):
    exe = BUILD / name
    if not exe.exists():
        pytest.skip(f"{exe} not built")
    env = {"DSN_SAMPLES_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    subprocess.run([str(exe)], env=env, check=True, capture_output=True, timeout=120)
    samples = {p.stem: p.read_bytes() for p in tmp_path.glob("*.eml")}
    assert samples
    return samples


def check_lines(raw):
    assert raw.endswith(b"\r\n")
    for line in raw.split(b"\r\n")[:-1]:
        assert b"\n" not in line and b"\r" not in line
        assert len(line) <= 998


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


@pytest.fixture(scope="module")
def dsn_samples(tmp_path_factory):
    return run_samples(tmp_path_factory.mktemp("dsn"), "test_dsn")


def report_parts(msg):
    assert msg.get_content_type() == "multipart/report"
    parts = msg.get_payload()
    assert len(parts) == 3
    return parts


def recipient_blocks(status_part):
    blocks = status_part.get_payload()
    assert len(blocks) >= 2
    return blocks[0], blocks[1:]


def test_every_sample_parses(dsn_samples):
    for name, raw in dsn_samples.items():
        check_lines(raw)
        msg = parse(raw)
        assert not msg.defects, (name, msg.defects)
        human, status, original = report_parts(msg)
        assert msg["Auto-Submitted"] == "auto-replied"
        assert msg["From"].addresses[0].username == "MAILER-DAEMON"
        assert msg["Message-ID"].startswith("<dsn-")
        assert msg["Date"].datetime is not None
        boundary = msg.get_param("boundary")
        for part in (human, status, original):
            assert not part.defects, (name, part.defects)
        assert human.get_content_type() == "text/plain"
        assert "The mail system" in human.get_content()
        # In the Content-Type parameter and the four delimiters only.
        assert raw.count(boundary.encode()) == 5, name


def test_failed_full(dsn_samples):
    msg = parse(dsn_samples["failed_full"])
    assert msg.get_param("report-type") == "delivery-status"
    assert msg["Subject"] == "Undelivered Mail Returned to Sender"
    human, status, original = report_parts(msg)
    assert human.get_content_charset() == "us-ascii"
    text = human.get_content()
    assert "could not be delivered to one or more recipients" in text
    assert "<bob@example.net>: host mx.example.net[192.0.2.7] said: 550 5.1.1" in text
    assert status.get_content_type() == "message/delivery-status"
    per_msg, rcpts = recipient_blocks(status)
    assert per_msg["Reporting-MTA"] == "dns; mail.example.org"
    assert per_msg["Arrival-Date"]
    assert len(rcpts) == 1
    r = rcpts[0]
    assert r["Final-Recipient"] == "rfc822; bob@example.net"
    assert r["Action"] == "failed"
    assert r["Status"] == "5.1.1"
    assert r["Remote-MTA"] == "dns; mx.example.net"
    assert r["Diagnostic-Code"].startswith("smtp; 550 5.1.1 <bob@example.net>: Recipient")
    assert r["Diagnostic-Code"].endswith("User unknown")
    assert original.get_content_type() == "message/rfc822"
    inner = original.get_payload()[0]
    assert inner["Subject"] == "hello"
    assert "the body of the message." in inner.get_content()


@pytest.mark.parametrize("name", ["failed_large", "failed_hdrs", "delayed",
                                  "delivered_relayed"])
def test_headers_only(dsn_samples, name):
    msg = parse(dsn_samples[name])
    original = report_parts(msg)[2]
    assert original.get_content_type() == "text/rfc822-headers"
    text = original.get_payload(decode=True)
    assert text.endswith(b"\r\n\r\n")
    assert b"Subject: hello\r\n" in text
    assert b"the body of the message." not in text


def test_delayed(dsn_samples):
    msg = parse(dsn_samples["delayed"])
    assert msg["Subject"] == "Delayed Mail (still being retried)"
    human, status, _ = report_parts(msg)
    assert "will give up on this message at" in human.get_content()
    _, rcpts = recipient_blocks(status)
    r = rcpts[0]
    assert r["Action"] == "delayed"
    assert r["Status"] == "4.0.0"
    assert r["Will-Retry-Until"]
    assert email.utils.parsedate_to_datetime(str(r["Will-Retry-Until"]))
    assert r["Diagnostic-Code"].startswith("X-Postern; Host or domain name not found.")


def test_success(dsn_samples):
    msg = parse(dsn_samples["delivered_relayed"])
    assert msg["Subject"] == "Successful Mail Delivery Report"
    _, status, _ = report_parts(msg)
    _, rcpts = recipient_blocks(status)
    assert [r["Action"] for r in rcpts] == ["delivered", "relayed"]
    assert [r["Status"] for r in rcpts] == ["2.0.0", "2.0.0"]


def test_mixed(dsn_samples):
    msg = parse(dsn_samples["mixed"])
    assert msg["Subject"] == "Undelivered Mail Returned to Sender"
    _, status, original = report_parts(msg)
    _, rcpts = recipient_blocks(status)
    assert [(r["Final-Recipient"], r["Action"]) for r in rcpts] == [
        ("rfc822; dave@example.net", "delivered"),
        ("rfc822; carol@example.net", "delayed"),
        ("rfc822; bob@example.net", "failed"),
    ]
    assert original.get_content_type() == "message/rfc822"


def test_envid_orcpt(dsn_samples):
    msg = parse(dsn_samples["envid_orcpt"])
    _, status, _ = report_parts(msg)
    per_msg, rcpts = recipient_blocks(status)
    assert per_msg["Original-Envelope-Id"] == "QQ314159+x"
    assert rcpts[0]["Original-Recipient"] == "rfc822; Bob+dsn@Example.NET"
    assert rcpts[1]["Original-Recipient"] == "utf-8; b\\x{F6}@example.net"


def test_utf8_address(dsn_samples):
    raw = dsn_samples["utf8_address"]
    msg = parse(raw)
    assert msg.get_param("report-type") == "global-delivery-status"
    human, status, _ = report_parts(msg)
    assert human.get_content_charset() == "utf-8"
    assert "<j\u00f6ran@b\u00fccher.example>: host" in human.get_content()
    assert status.get_content_type() == "message/global-delivery-status"
    assert "Final-Recipient: utf-8; j\u00f6ran@b\u00fccher.example".encode() in raw


def test_eightbit_original(dsn_samples):
    msg = parse(dsn_samples["eightbit_original"])
    original = report_parts(msg)[2]
    assert original.get_content_type() == "message/rfc822"
    assert original["Content-Transfer-Encoding"] == "8bit"
    inner = original.get_payload()[0]
    assert inner.get_content().replace("\r\n", "\n") == "caf\u00e9\n"


def test_smtputf8_original(dsn_samples):
    msg = parse(dsn_samples["smtputf8_original"])
    original = report_parts(msg)[2]
    assert original.get_content_type() == "message/global"


def test_boundary_collision(dsn_samples):
    plain = parse(dsn_samples["boundary_plain"]).get_param("boundary")
    trapped = dsn_samples["boundary_collision"]
    msg = parse(trapped)
    assert msg.get_param("boundary") != plain
    original = report_parts(msg)[2]
    inner = original.get_payload()[0]
    assert inner["Subject"] == "trap"
    assert f"--{plain}--" in inner.get_content()


# ---- 8-bit to 7-bit conversion ----

@pytest.fixture(scope="module")
def downgrade_samples(tmp_path_factory):
    return run_samples(tmp_path_factory.mktemp("downgrade"), "test_downgrade")


def test_downgraded_are_7bit(downgrade_samples):
    for name, raw in downgrade_samples.items():
        check_lines(raw)
        assert max(raw) < 128, name
        assert b"\0" not in raw


def test_downgraded_decode(downgrade_samples):
    msg = parse(downgrade_samples["text_8bit"])
    assert msg["Content-Transfer-Encoding"] == "quoted-printable"
    assert msg.get_content().replace("\r\n", "\n") == "Gr\u00fc\u00dfe aus K\u00f6ln\n" * 3
    msg = parse(downgrade_samples["subject_8bit"])
    assert msg["Subject"] == "Gr\u00fc\u00dfe \u2014 " + "\u00e9t\u00e9 " * 20 + "fin"
    assert msg["X-Note"] == "caf\u00e9"
    msg = parse(downgrade_samples["nested"])
    parts = list(msg.walk())
    leaves = [p for p in parts if not p.is_multipart()]
    att = [p for p in leaves if p.get_content_type() == "application/octet-stream"][0]
    assert att["Content-Transfer-Encoding"] == "base64"
    assert att.get_payload(decode=True) == bytes(range(256))
