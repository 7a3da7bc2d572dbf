"""The SMTP server: RFC 5321 sessions, policy, local delivery and the
queue, driven with Python smtplib, swaks and raw sockets."""
import os
import smtplib
import socket
import subprocess
import time
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY

import pytest

from conftest import tls_client_context, wait_for
from smtp_helpers import (PASSWORD, Raw, maildir, message_files, messages,
                          parse, queued, setup_accounts)

FAST = {"auth.failure_delay": "100"}


@pytest.fixture
def mta(postern_factory):
    p = postern_factory(options=dict(FAST))
    setup_accounts(p.data)
    return p.start()


def make_mta(postern_factory, **options):
    opts = dict(FAST)
    opts.update(options)
    p = postern_factory(options=opts)
    setup_accounts(p.data)
    return p.start()


def simple_message(frm="sender@remote.test", to="alice@example.test",
                   subject="hello", body="Hi there.\n"):
    m = EmailMessage()
    m["From"] = frm
    m["To"] = to
    m["Subject"] = subject
    m["Message-ID"] = f"<{time.monotonic_ns()}@remote.test>"
    m["Date"] = "Sun, 22 Nov 2026 12:00:00 +0000"
    m.set_content(body)
    return m


# ---- the protocol ----------------------------------------------------------

def test_greeting_helo_quit(mta):
    # RFC 5321 D.1 shape: greeting, HELO, QUIT.
    c = Raw(mta.addr("smtp"))
    assert c.greeting == (220, ["mx.example.test ESMTP postern"])
    assert c.cmd("HELO client.remote.test") == (250, ["mx.example.test"])
    assert c.cmd("QUIT") == (221, ["2.0.0 mx.example.test Bye"])
    assert c.closed()


def test_ehlo_extensions(mta):
    c = Raw(mta.addr("smtp"))
    code, lines = c.cmd("EHLO client.remote.test")
    assert code == 250 and lines[0] == "mx.example.test"
    ext = set(lines[1:])
    for want in ("PIPELINING", "SIZE 52428800", "STARTTLS", "ENHANCEDSTATUSCODES",
                 "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING", "AUTH PLAIN LOGIN"):
        assert want in ext, (want, ext)
    # After STARTTLS, no STARTTLS; AUTH still there.
    c.starttls()
    code, lines = c.cmd("EHLO client.remote.test")
    assert "STARTTLS" not in lines and "AUTH PLAIN LOGIN" in lines


def test_three_recipients_one_unknown(mta):
    # The source documents' example: three RCPTs, one refused with 550.
    c = Raw(mta.addr("smtp"))
    c.cmd("HELO remote.test")
    assert c.cmd("MAIL FROM:<smith@remote.test>")[0] == 250
    assert c.cmd("RCPT TO:<alice@example.test>")[0] == 250
    code, text = c.cmd("RCPT TO:<green@example.test>")
    assert code == 550 and text[0].startswith("5.1.1")
    assert c.cmd("RCPT TO:<bob@example.test>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send("Subject: three\r\n\r\nBlah blah blah...\r\n..etc. etc. etc.\r\n.\r\n")
    code, text = c.reply()
    assert code == 250 and text[0].startswith("2.0.0 Ok: queued as ")
    assert c.cmd("QUIT")[0] == 221
    for who in ("alice", "bob"):
        got = messages(mta.data, f"{who}@example.test")
        assert len(got) == 1
        # Dot-stuffing removed; LF on disk.
        assert b"\n.etc. etc. etc.\n" in got[0] and b"\r\n" not in got[0]
    assert not maildir(mta.data, "green@example.test").exists()


def test_command_errors_and_codes(mta):
    c = Raw(mta.addr("smtp"))
    assert c.cmd("MAIL FROM:<a@remote.test>") == (503, ["5.5.1 Error: send HELO/EHLO first"])
    assert c.cmd("FROB")[0] == 500
    c.cmd("EHLO remote.test")
    for verb in ("SEND FROM:<a@b>", "SOML FROM:<a@b>", "SAML FROM:<a@b>", "TURN"):
        code, text = c.cmd(verb)
        assert code == 502 and text[0].startswith("5.5.1"), (verb, code, text)
    assert c.cmd("RCPT TO:<alice@example.test>")[0] == 503
    assert c.cmd("DATA")[0] == 503
    assert c.cmd("MAIL FROM:<not an address>")[0] == 501
    assert c.cmd("MAIL FROM:<a@remote.test> FOO=BAR")[0] == 555
    assert c.cmd("MAIL FROM:<a@remote.test>")[0] == 250
    assert c.cmd("MAIL FROM:<a@remote.test>")[0] == 503  # nested
    assert c.cmd("DATA")[0] == 554  # no valid recipients
    assert c.cmd("RSET") == (250, ["2.0.0 Ok"])
    assert c.cmd("NOOP whatever") == (250, ["2.0.0 Ok"])
    code, lines = c.cmd("HELP")
    assert code == 214 and len(lines) > 1
    assert c.cmd("DATA extra")[0] == 501


def test_null_sender_postmaster_route_literal(mta):
    c = Raw(mta.addr("smtp"))
    c.cmd("EHLO remote.test")
    assert c.cmd("MAIL FROM:<>")[0] == 250
    # <Postmaster> and postmaster@ of every local domain, even with no alias.
    assert c.cmd("RCPT TO:<Postmaster>")[0] == 250
    assert c.cmd("RCPT TO:<postmaster@lists.test>")[0] == 250
    # A source route is accepted and ignored.
    assert c.cmd("RCPT TO:<@relay1.test,@relay2.test:bob@example.test>")[0] == 250
    assert c.cmd('RCPT TO:<"quoted"@example.test>')[0] == 550
    assert c.cmd("DATA")[0] == 354
    c.send("Subject: bounce\r\n\r\nx\r\n.\r\n")
    assert c.reply()[0] == 250
    got = messages(mta.data, "bob@example.test")
    assert got and got[0].startswith(b"Return-Path: <>\n")
    assert messages(mta.data, "postmaster@mx.example.test")
    # The catch-all of lists.test does not swallow postmaster: RFC 5321 wants
    # a postmaster for each domain, and the catch-all carol gets it here.
    assert messages(mta.data, "carol@example.test") or \
        messages(mta.data, "postmaster@lists.test")


def test_smtputf8_addresses(mta):
    c = Raw(mta.addr("smtp"))
    c.cmd("EHLO remote.test")
    assert c.cmd("MAIL FROM:<jürgen@remote.test>")[0] == 553
    assert c.cmd("MAIL FROM:<jürgen@remote.test> SMTPUTF8")[0] == 250
    assert c.cmd("RCPT TO:<alice@example.test>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send("Subject: utf8\r\n\r\nGrüße\r\n.\r\n".encode())
    assert c.reply()[0] == 250
    got = messages(mta.data, "alice@example.test")
    assert b"Return-Path: <j\xc3\xbcrgen@remote.test>" in got[0]
    assert b"with UTF8SMTP id" in got[0]


def test_received_and_return_path(mta):
    with smtplib.SMTP(*mta.addr("smtp"), local_hostname="client.remote.test") as s:
        s.sendmail("smith@remote.test", ["alice@example.test"],
                   simple_message().as_bytes(policy=SMTP_POLICY))
    raw = messages(mta.data, "alice@example.test")[0]
    m = parse(raw)
    assert m["Return-Path"] == "<smith@remote.test>"
    rcvd = m["Received"]
    assert rcvd.startswith("from client.remote.test ([127.0.0.1])")
    assert "by mx.example.test (postern) with ESMTP id" in rcvd
    assert "for <alice@example.test>" in rcvd
    # Trace fields come first, in order.
    assert raw.startswith(b"Return-Path: ")
    assert raw.split(b"\n")[1].startswith(b"Received: ")


# ---- policy ----------------------------------------------------------------

RELAY_ATTEMPTS = [
    "victim@elsewhere.test",
    "victim%elsewhere.test@example.test",
    "elsewhere.test!victim@example.test",
    '"victim@elsewhere.test"@example.test',
    "@example.test:victim@elsewhere.test",
    "victim@[192.0.2.1]",
    "victim@elsewhere.test.",
    "VICTIM@ELSEWHERE.TEST",
]


@pytest.mark.parametrize("rcpt", RELAY_ATTEMPTS)
def test_open_relay_matrix(mta, rcpt):
    c = Raw(mta.addr("smtp"))
    c.cmd("EHLO remote.test")
    assert c.cmd("MAIL FROM:<spammer@remote.test>")[0] == 250
    code, text = c.cmd(f"RCPT TO:<{rcpt}>")
    assert code >= 500, (rcpt, code, text)
    assert c.cmd("DATA")[0] in (503, 554)
    assert queued(mta.data) == []


def test_relay_matrix_from_a_local_sender_too(mta):
    # A forged local sender does not open the relay.
    c = Raw(mta.addr("smtp"))
    c.cmd("EHLO remote.test")
    c.cmd("MAIL FROM:<alice@example.test>")
    assert c.cmd("RCPT TO:<victim@elsewhere.test>")[0] == 554


def test_submission_requires_auth(mta):
    c = Raw(mta.addr("submission"))
    c.cmd("EHLO client.test")
    assert c.cmd("MAIL FROM:<alice@example.test>") == (530, ["5.7.0 Authentication required"])
    c = Raw(mta.addr("smtps"), tls=True)
    c.cmd("EHLO client.test")
    assert c.cmd("MAIL FROM:<alice@example.test>")[0] == 530


def test_auth_needs_tls_off_loopback(postern_factory):
    p = make_mta(postern_factory, **{"auth.plaintext_loopback": "no"})
    c = Raw(p.addr("submission"))
    code, lines = c.cmd("EHLO client.test")
    assert not any(l.startswith("AUTH") for l in lines)
    assert c.auth_plain("alice@example.test")[0] == 538
    c.starttls()
    code, lines = c.cmd("EHLO client.test")
    assert "AUTH PLAIN LOGIN" in lines
    assert c.auth_plain("alice@example.test") == (235, ["2.7.0 Authentication successful"])


def test_auth_login_and_failures(mta):
    c = Raw(mta.addr("submission"))
    c.cmd("EHLO client.test")
    assert c.auth_plain("alice@example.test", "wrong")[0] == 535
    assert c.auth_plain("nobody@example.test")[0] == 535
    assert c.cmd("AUTH CRAM-MD5") [0] == 504
    assert c.cmd("AUTH LOGIN") == (334, ["VXNlcm5hbWU6"])
    assert c.cmd("*")[0] == 501
    assert c.cmd("AUTH LOGIN") == (334, ["VXNlcm5hbWU6"])
    assert c.cmd("YWxpY2VAZXhhbXBsZS50ZXN0") == (334, ["UGFzc3dvcmQ6"])
    import base64
    assert c.cmd(base64.b64encode(PASSWORD.encode()).decode())[0] == 235
    assert c.cmd("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdAB4")[0] == 503
    log = mta.log_text()
    assert "sasl_method=LOGIN sasl_username=alice@example.test" in log
    assert PASSWORD not in log


def test_submission_with_smtplib_starttls(mta):
    m = simple_message(frm="Alice <alice@example.test>", to="bob@example.test")
    del m["Message-ID"]
    del m["Date"]
    with smtplib.SMTP(*mta.addr("submission")) as s:
        s.starttls(context=tls_client_context())
        s.login("alice@example.test", PASSWORD)
        s.send_message(m)
    raw = messages(mta.data, "bob@example.test")[0]
    got = parse(raw)
    # Submission adds what is missing (RFC 6409 8.3, 8.4).
    assert got["Message-ID"] and got["Message-ID"].endswith("@mx.example.test>")
    assert got["Date"]
    rcvd = got["Received"]
    assert "with ESMTPSA id" in rcvd and "(using TLSv1.3 with cipher" in rcvd
    assert "(Authenticated sender: alice@example.test)" in rcvd


def test_sender_must_be_owned(mta):
    with smtplib.SMTP(*mta.addr("submission")) as s:
        s.starttls(context=tls_client_context())
        s.login("alice@example.test", PASSWORD)
        with pytest.raises(smtplib.SMTPSenderRefused) as e:
            s.sendmail("bob@example.test", ["carol@example.test"], b"Subject: x\r\n\r\nx\r\n")
        assert e.value.smtp_code == 553 and b"5.7.1" in e.value.smtp_error
        # An alias of hers, and a +tag of hers, are hers.
        for frm in ("sales@example.test", "alice+news@example.test"):
            s.sendmail(frm, ["carol@example.test"],
                       simple_message(frm=frm, to="carol@example.test").as_bytes(policy=SMTP_POLICY))
        # From: must be hers too.
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("alice@example.test", ["carol@example.test"],
                       simple_message(frm="Boss <bob@example.test>").as_bytes(policy=SMTP_POLICY))
        assert e.value.smtp_code == 553
    assert len(messages(mta.data, "carol@example.test")) == 2


@pytest.mark.parametrize("before", [
    b"X-" + b"A" * 300 + b": a field name too long to look at\r\n",
    b"X-Filler: " + b"f" * 900 + b"\r\n" * 1 + (b"X-Filler: " + b"f" * 900 + b"\r\n") * 400,
], ids=["long-field-name", "big-header"])
def test_from_hidden_past_what_is_checked(mta, before):
    """A From: the check never reached (after a field name too long for the
    header scanner, or past its size limit) is no way around it: the
    message is refused, as a From: not the user's."""
    with smtplib.SMTP(*mta.addr("submission")) as s:
        s.starttls(context=tls_client_context())
        s.login("alice@example.test", PASSWORD)
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("alice@example.test", ["carol@example.test"],
                       before + b"From: Boss <bob@example.test>\r\nSubject: x\r\n\r\nx\r\n")
        assert e.value.smtp_code == 553, e.value
    assert messages(mta.data, "carol@example.test", wait=0) == []


def test_authenticated_relay_is_queued(mta):
    with smtplib.SMTP(*mta.addr("submission")) as s:
        s.starttls(context=tls_client_context())
        s.login("alice@example.test", PASSWORD)
        code, text = s.docmd("MAIL FROM:<alice@example.test>")
        assert code == 250
        assert s.docmd("RCPT TO:<friend@elsewhere.test> NOTIFY=SUCCESS,FAILURE "
                       "ORCPT=rfc822;friend@elsewhere.test")[0] == 250
        assert s.docmd("RCPT TO:<bob@example.test>")[0] == 250
        code, _ = s.docmd("DATA")
        assert code == 354
        s.send(b"From: alice@example.test\r\nSubject: out\r\n\r\nbody\r\n.\r\n")
        code, text = s.getreply()
        assert code == 250
    ids = queued(mta.data)
    assert len(ids) == 1 and ids[0] in text.decode()
    # The local copy is delivered at once.
    assert len(messages(mta.data, "bob@example.test")) == 1


def test_relay_of_a_long_utf8_address(mta):
    """The original recipient kept for DSNs grows when encoded again (each
    UTF-8 octet becomes "+XX"): past what a queue file holds, the message
    is queued without it, never refused with a 451 on every try."""
    rcpt = "é" * 32 + "@" + "ü" * 30 + "." + "ö" * 30 + ".test"
    with smtplib.SMTP(*mta.addr("submission")) as s:
        s.starttls(context=tls_client_context())
        s.login("alice@example.test", PASSWORD)
        assert s.docmd("MAIL FROM:<alice@example.test> SMTPUTF8")[0] == 250
        s.send(f"RCPT TO:<{rcpt}>\r\n".encode())
        code, text = s.getreply()
        assert code == 250, text
        assert s.docmd("DATA")[0] == 354
        s.send("From: alice@example.test\r\nSubject: ü\r\n\r\nbody\r\n.\r\n".encode())
        code, text = s.getreply()
        assert code == 250, text
    assert len(queued(mta.data)) == 1


# ---- aliases and forwarding ----------------------------------------------

def test_list_alias_stored_once_per_mailbox(mta):
    with smtplib.SMTP(*mta.addr("smtp")) as s:
        s.sendmail("x@remote.test", ["team@example.test", "alice@example.test"],
                   simple_message(to="team@example.test").as_bytes(policy=SMTP_POLICY))
    a = message_files(mta.data, "alice@example.test")
    b = message_files(mta.data, "bob@example.test")
    assert len(a) == 1 and len(b) == 1
    assert os.stat(a[0]).st_ino == os.stat(b[0]).st_ino  # one file, hard links


def test_forward_alias_answers_251_and_queues(mta):
    c = Raw(mta.addr("smtp"))
    c.cmd("EHLO remote.test")
    c.cmd("MAIL FROM:<x@remote.test>")
    assert c.cmd("RCPT TO:<fwd@example.test>") == (
        251, ["2.1.5 User not local; will forward to <someone@elsewhere.test>"])
    c.cmd("DATA")
    c.send("Subject: fwd\r\n\r\nx\r\n.\r\n")
    assert c.reply()[0] == 250
    assert len(queued(mta.data)) == 1


def test_catch_all_and_plus_addressing(mta):
    with smtplib.SMTP(*mta.addr("smtp")) as s:
        s.sendmail("x@remote.test", ["anything@lists.test"], simple_message().as_bytes(policy=SMTP_POLICY))
        s.sendmail("x@remote.test", ["bob+Archive@example.test"], simple_message().as_bytes(policy=SMTP_POLICY))
        s.sendmail("x@remote.test", ["bob+nosuchfolder@example.test"],
                   simple_message().as_bytes(policy=SMTP_POLICY))
    assert len(messages(mta.data, "carol@example.test")) == 1
    # The +tag picks an existing folder; an unknown one falls back to INBOX.
    assert len(messages(mta.data, "bob@example.test", folder="Archive")) == 1
    assert len(messages(mta.data, "bob@example.test")) == 1


def test_vrfy_expn_off_by_default_and_identical(mta):
    c = Raw(mta.addr("smtp"))
    c.cmd("EHLO remote.test")
    known = c.cmd("VRFY alice@example.test")
    unknown = c.cmd("VRFY nobody@example.test")
    assert known == unknown and known[0] == 252
    assert c.cmd("EXPN team@example.test") == c.cmd("EXPN nobody@example.test")
    assert c.cmd("EXPN team@example.test")[0] == 502


def test_vrfy_expn_for_authenticated_users(postern_factory):
    p = make_mta(postern_factory, **{"smtpd.vrfy": "auth", "smtpd.expn": "auth"})
    c = Raw(p.addr("submission"))
    c.cmd("EHLO client.test")
    assert c.cmd("VRFY alice@example.test")[0] == 252  # not yet authenticated
    c.auth_plain("alice@example.test")
    # The source documents' examples: VRFY a user, EXPN a list.
    assert c.cmd("VRFY alice@example.test") == (250, ["2.1.5 <alice@example.test>"])
    assert c.cmd("VRFY Alice <alice@example.test>") == (250, ["2.1.5 <alice@example.test>"])
    assert c.cmd("VRFY bob") == (250, ["2.1.5 <bob@example.test>"])
    assert c.cmd("VRFY nobody@example.test")[0] == 550
    assert c.cmd("VRFY fwd@example.test") == (
        251, ["2.1.5 User not local; will forward to <someone@elsewhere.test>"])
    assert c.cmd("VRFY team@example.test")[0] == 553
    assert c.cmd("EXPN team@example.test") == (
        250, ["2.1.5 <alice@example.test>", "2.1.5 <bob@example.test>"])


def test_vrfy_ambiguous(postern_factory, tmp_path):
    p = postern_factory(options=dict(FAST, **{"smtpd.vrfy": "all"}))
    setup_accounts(p.data)
    from conftest import run_cli
    run_cli("user", "add", "alice@lists.test", "--password-stdin", data=p.data,
            input="x-password\n", check=True)
    p.start()
    c = Raw(p.addr("smtp"))
    c.cmd("EHLO remote.test")
    code, lines = c.cmd("VRFY alice")
    assert code == 553 and lines[0] == "5.1.4 User ambiguous; possibilities are"
    assert set(lines[1:]) == {"5.1.4 <alice@example.test>", "5.1.4 <alice@lists.test>"}


def test_vrfy_expn_long_arguments(postern_factory):
    """A client's argument too long to quote back in a 512-octet reply line
    is cut in the reply, never a crash of the worker."""
    p = postern_factory(options=dict(FAST, **{"smtpd.vrfy": "all", "smtpd.expn": "all"}))
    setup_accounts(p.data)
    p.start()
    workers = sorted(p.workers())
    c = Raw(p.addr("smtp"))
    c.cmd("EHLO remote.test")
    for arg, code in (("a" * 600, 550), ("a" * 600 + "@", 553), ("<" + "b" * 900 + ">", 550)):
        got, lines = c.cmd("VRFY " + arg)
        assert got == code, (got, lines)
        assert len(lines) == 1 and len(lines[0]) < 300, lines
        got, lines = c.cmd("EXPN " + arg)
        assert got == code, (got, lines)
    assert c.cmd("NOOP")[0] == 250
    assert sorted(p.workers()) == workers  # none died


def test_mail_loop_refused(mta):
    """A message that has passed through too many servers (49 Received:
    fields, and ours would make the 50th) is taken for a loop: 554 5.4.6;
    one hop fewer goes through."""
    def with_hops(n):
        return b"".join(b"Received: from hop%d.test by hop%d.test; Mon, 1 Jan 2024 "
                        b"00:00:00 +0000\r\n" % (i, i + 1) for i in range(n)) + \
            b"From: x@remote.test\r\nSubject: hops %d\r\n\r\nbody\r\n" % n

    with smtplib.SMTP(*mta.addr("smtp")) as s:
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("x@remote.test", ["carol@example.test"], with_hops(49))
        assert e.value.smtp_code == 554 and e.value.smtp_error.startswith(b"5.4.6 "), e.value
        s.sendmail("x@remote.test", ["carol@example.test"], with_hops(48))
    [got] = messages(mta.data, "carol@example.test", wait=5)
    assert b"Subject: hops 48" in got and got.count(b"Received: ") == 49


# ---- limits and bad input ------------------------------------------------

def test_size_limits(postern_factory):
    p = make_mta(postern_factory, **{"smtpd.max_message_size": "10K"})
    c = Raw(p.addr("smtp"))
    code, lines = c.cmd("EHLO remote.test")
    assert "SIZE 10240" in lines
    code, text = c.cmd("MAIL FROM:<a@remote.test> SIZE=10241")
    assert code == 552 and text[0].startswith("5.3.4")
    assert c.cmd("MAIL FROM:<a@remote.test> SIZE=100")[0] == 250
    c.cmd("RCPT TO:<alice@example.test>")
    c.cmd("DATA")
    c.send("Subject: big\r\n\r\n" + ("x" * 998 + "\r\n") * 20 + ".\r\n")
    code, text = c.reply()
    assert code == 552 and text[0].startswith("5.3.4")
    # The session is still usable.
    assert c.cmd("NOOP")[0] == 250
    assert messages(p.data, "alice@example.test") == []


def test_too_many_recipients(postern_factory):
    p = make_mta(postern_factory, **{"smtpd.max_recipients": "3"})
    c = Raw(p.addr("smtp"))
    c.cmd("EHLO remote.test")
    c.cmd("MAIL FROM:<a@remote.test>")
    for who in ("alice", "bob", "carol"):
        assert c.cmd(f"RCPT TO:<{who}@example.test>")[0] == 250
    assert c.cmd("RCPT TO:<team@example.test>") == (452, ["4.5.3 Error: too many recipients"])


def test_long_line_and_error_limit(postern_factory):
    p = make_mta(postern_factory, **{"smtpd.max_errors": "5"})
    c = Raw(p.addr("smtp"))
    c.cmd("EHLO remote.test")
    # A 1 MiB line: one 500, the rest discarded, the session goes on.
    c.send(b"NOOP " + b"x" * (1024 * 1024) + b"\r\n")
    assert c.reply() == (500, ["5.5.2 Error: line too long"])
    assert c.cmd("NOOP")[0] == 250
    for _ in range(3):
        assert c.cmd("BOGUS")[0] == 500
    code, text = c.cmd("BOGUS")
    assert code == 500
    assert c.reply() == (421, ["4.7.0 mx.example.test Error: too many errors"])
    assert c.closed()


def test_10000_rcpts_bounded(postern_factory):
    p = make_mta(postern_factory)
    c = Raw(p.addr("smtp"), timeout=60)
    c.cmd("EHLO remote.test")
    c.cmd("MAIL FROM:<a@remote.test>")
    try:
        c.send("".join(f"RCPT TO:<user{i}@example.test>\r\n" for i in range(10000)))
    except OSError:
        pass  # the server may close before reading them all
    codes = []
    try:
        while True:
            codes.append(c.reply()[0])
    except (ConnectionError, OSError):
        pass
    # Unknown users are errors: after smtpd.max_errors (20) the session is
    # closed with 421, without reading the rest.
    assert codes[:19] == [550] * 19 and codes[-1] == 421, codes[:25]
    if os.environ.get("POSTERN_VALGRIND"):
        return  # memcheck's own memory counts in RSS
    for pid in p.workers():
        rss = int(open(f"/proc/{pid}/status").read().split("VmRSS:")[1].split()[0])
        assert rss < 64 * 1024, rss  # KiB


def test_pipelining_groups_replies(mta):
    c = Raw(mta.addr("smtp"))
    c.cmd("EHLO remote.test")
    c.send("MAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@example.test>\r\n"
           "RCPT TO:<nobody@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
    time.sleep(0.3)
    data = c.sock.recv(65536)
    # All five replies arrive together, in order.
    codes = [int(l[:3]) for l in data.decode().split("\r\n") if l]
    assert codes == [250, 250, 550, 250, 354]
    c.send("Subject: p\r\n\r\nx\r\n.\r\nQUIT\r\n")
    assert c.reply()[0] == 250
    assert c.reply()[0] == 221


def test_swaks_starttls_auth_pipelining(mta):
    r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(mta.ports["submission"]),
                        "--tls", "--auth", "PLAIN", "--auth-user", "alice@example.test",
                        "--auth-password", PASSWORD, "--pipeline",
                        "--from", "alice@example.test", "--to", "bob@example.test",
                        "--header", "Subject: via swaks", "--body", "Hello from swaks",
                        "--helo", "client.test"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "<~  250 2.0.0 Ok: queued as" in r.stdout or "<~* 250 2.0.0 Ok" in r.stdout
    got = parse(messages(mta.data, "bob@example.test")[0])
    assert got["Subject"] == "via swaks"


def test_bdat(mta):
    c = Raw(mta.addr("smtp"))
    c.cmd("EHLO remote.test")
    c.cmd("MAIL FROM:<a@remote.test>")
    c.cmd("RCPT TO:<alice@example.test>")
    part1 = b"Subject: chunks\r\n\r\nfirst "
    part2 = b"second\r\n.not stuffed\r\n"
    c.send(b"BDAT %d\r\n" % len(part1) + part1)
    assert c.reply() == (250, [f"2.0.0 Ok: {len(part1)} octets received"])
    # Commands other than BDAT/RSET/QUIT/NOOP are refused mid-sequence.
    assert c.cmd("MAIL FROM:<b@remote.test>")[0] == 503
    c.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
    code, text = c.reply()
    assert code == 250 and "queued as" in text[0]
    body = messages(mta.data, "alice@example.test")[0]
    assert body.endswith(b"first second\n.not stuffed\n")
    # BDAT without a transaction: the chunk is read and refused.
    c.send(b"BDAT 5 LAST\r\nhello")
    assert c.reply()[0] == 503
    assert c.cmd("NOOP")[0] == 250


# ---- SMTP smuggling ------------------------------------------------------

SMUGGLING = [
    b"\n.\n", b"\n.\r\n", b"\r.\r\n", b"\r\n.\r", b"\r\n\x00.\r\n", b"\r\n.\n",
    b"\n.\r", b"\r.\n", b"\r.\r", b".\n", b"\r\n..\n",
]


@pytest.mark.parametrize("seq", SMUGGLING, ids=[repr(s) for s in SMUGGLING])
def test_smuggling_in_data(mta, seq):
    c = Raw(mta.addr("smtp"))
    c.cmd("EHLO remote.test")
    c.cmd("MAIL FROM:<a@remote.test>")
    c.cmd("RCPT TO:<alice@example.test>")
    assert c.cmd("DATA")[0] == 354
    smuggled = (b"MAIL FROM:<admin@example.test>\r\nRCPT TO:<bob@example.test>\r\n"
                b"DATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n")
    # The attack as sent to a vulnerable server: it would end the first
    # message at seq and take the rest as a second transaction.
    c.send(b"Subject: outer\r\n\r\nouter" + seq + smuggled)
    code, text = c.reply()
    # Either the whole thing is one refused message, or (for sequences that
    # are legitimate content) one accepted message: never two.
    assert code in (250, 550, 552), (code, text)
    assert c.cmd("NOOP")[0] == 250
    assert messages(mta.data, "bob@example.test") == []
    assert len(messages(mta.data, "alice@example.test")) <= 1


@pytest.mark.parametrize("seq", SMUGGLING[:6], ids=[repr(s) for s in SMUGGLING[:6]])
def test_smuggling_in_bdat(mta, seq):
    c = Raw(mta.addr("smtp"))
    c.cmd("EHLO remote.test")
    c.cmd("MAIL FROM:<a@remote.test>")
    c.cmd("RCPT TO:<alice@example.test>")
    content = b"Subject: outer\r\n\r\nouter" + seq + b"MAIL FROM:<x@y>\r\n"
    c.send(b"BDAT %d LAST\r\n" % len(content) + content)
    code, _ = c.reply()
    assert code == 550
    assert c.cmd("NOOP")[0] == 250
    assert messages(mta.data, "alice@example.test") == []


def test_starttls_injection_discarded(mta):
    c = Raw(mta.addr("smtp"))
    c.cmd("EHLO remote.test")
    c.send("STARTTLS\r\nRSET\r\n")
    assert c.reply() == (220, ["2.0.0 Ready to start TLS"])
    c.sock = tls_client_context().wrap_socket(c.sock)
    c.buf = b""
    # The pipelined RSET was not executed: the first reply over TLS is ours.
    assert c.cmd("NOOP") == (250, ["2.0.0 Ok"])
    # And the session starts over: EHLO is needed again.
    assert c.cmd("MAIL FROM:<a@remote.test>")[0] == 503
    assert "discarded 6 bytes of plaintext pipelined after STARTTLS" in mta.log_text()


def test_idle_timeout_421(postern_factory):
    p = make_mta(postern_factory, **{"smtp.idle_timeout": "1s"})
    c = Raw(p.addr("smtp"))
    c.cmd("EHLO remote.test")
    time.sleep(1.5)
    assert c.reply() == (421, ["4.4.2 mx.example.test Error: timeout exceeded"])
    assert c.closed()


def test_data_timeout(postern_factory):
    p = make_mta(postern_factory, **{"smtpd.data_timeout": "1s", "smtp.idle_timeout": "30s"})
    c = Raw(p.addr("smtp"))
    c.cmd("EHLO remote.test")
    c.cmd("MAIL FROM:<a@remote.test>")
    c.cmd("RCPT TO:<alice@example.test>")
    assert c.cmd("DATA")[0] == 354
    c.send("Subject: stalled\r\n\r\nhalf a mess")
    t0 = time.monotonic()
    assert c.reply() == (421, ["4.4.2 mx.example.test Error: timeout exceeded"])
    assert time.monotonic() - t0 < 5
    assert c.closed()
    assert messages(p.data, "alice@example.test") == []


def test_per_ip_limit_refusal_on_smtp(postern_factory):
    p = make_mta(postern_factory, **{"smtp.max_per_ip": "1"})
    # The harness's readiness probes may still count for an instant.
    for _ in range(50):
        first = Raw(p.addr("smtp"))
        if first.greeting[0] == 220:
            break
        first.close()
        time.sleep(0.1)
    assert first.greeting[0] == 220
    second = socket.create_connection(p.addr("smtp"), timeout=5)
    assert second.recv(200) == b"421 4.7.0 Error: too many connections from your address\r\n"
    second.close()
    assert first.cmd("NOOP")[0] == 250


def test_source_document_aborted_transaction(mta):
    # The sessions shown in the course material (RFC 821 appendix style):
    # one RCPT accepted, one refused, the transaction abandoned with RSET.
    c = Raw(mta.addr("smtp"))
    assert c.greeting[0] == 220
    assert c.cmd("HELO ISI-VAXA.ARPA") == (250, ["mx.example.test"])
    assert c.cmd("MAIL FROM:<Smith@remote.test>") == (250, ["2.1.0 Ok"])
    assert c.cmd("RCPT TO:<alice@example.test>") == (250, ["2.1.5 Ok"])
    code, text = c.cmd("RCPT TO:<Green@example.test>")
    assert code == 550 and "User unknown" in text[0]
    assert c.cmd("RSET") == (250, ["2.0.0 Ok"])
    assert c.cmd("QUIT") == (221, ["2.0.0 mx.example.test Bye"])
    assert messages(mta.data, "alice@example.test") == []
