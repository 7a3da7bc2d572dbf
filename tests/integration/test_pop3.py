"""The POP3 server with Python's poplib and raw sockets."""
import base64
import poplib
import smtplib
import socket
import time

import pytest

from conftest import tls_client_context
from smtp_helpers import PASSWORD, messages, setup_accounts
from test_smtp import FAST, SMTP_POLICY, simple_message


@pytest.fixture
def pop(postern_factory):
    p = postern_factory(options=dict(FAST))
    setup_accounts(p.data)
    p.start()
    with smtplib.SMTP(*p.addr("smtp")) as s:
        for i in range(3):
            body = f"Message {i}\n.leading dot line\n" + "line\n" * 10
            s.sendmail("a@remote.test", ["alice@example.test"],
                       simple_message(subject=f"n{i}", body=body).as_bytes(policy=SMTP_POLICY))
    return p


def login(p, user="alice@example.test"):
    c = poplib.POP3(*p.addr("pop3"), timeout=10)
    c.user(user)
    c.pass_(PASSWORD)
    return c


def test_greeting_capa_stat_list_retr(pop):
    c = poplib.POP3(*pop.addr("pop3"), timeout=10)
    assert c.getwelcome().startswith(b"+OK mx.example.test POP3 server")
    caps = c.capa()
    for want in ("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "USER", "STLS"):
        assert want in caps, caps
    assert caps["SASL"] == ["PLAIN", "LOGIN"]
    c.user("alice@example.test")
    c.pass_(PASSWORD)
    count, size = c.stat()
    stored = messages(pop.data, "alice@example.test")
    assert count == 3
    # Octets are counted in CRLF form, exactly.
    crlf = [m.replace(b"\n", b"\r\n") for m in stored]
    assert size == sum(len(m) for m in crlf)
    resp, listing, _ = c.list()
    assert [int(l.split()[1]) for l in listing] == [len(m) for m in crlf]
    resp, lines, octets = c.retr(1)
    assert resp.startswith(b"+OK")
    # poplib undoes the byte-stuffing: the lines are the message.
    assert b"\r\n".join(lines) + b"\r\n" == crlf[0]
    assert b".leading dot line" in lines
    c.quit()


def test_top_uidl_stable(pop):
    c = login(pop)
    resp, lines, _ = c.top(2, 1)
    body_start = lines.index(b"")
    assert len(lines) == body_start + 2 and lines[body_start + 1] == b"Message 1"
    resp, uidls, _ = c.uidl()
    first = [u.split()[1] for u in uidls]
    assert len(set(first)) == 3 and all(len(u) == 16 for u in first)
    assert c.uidl(2).split()[2] == first[1]
    c.quit()
    c = login(pop)
    assert [u.split()[1] for u in c.uidl()[1]] == first
    c.quit()


def test_dele_only_on_quit(pop):
    c = login(pop)
    c.dele(1)
    with pytest.raises(poplib.error_proto):
        c.retr(1)  # deleted in this session
    assert c.stat()[0] == 2
    c.rset()
    assert c.stat()[0] == 3
    c.dele(2)
    # Dropping the connection deletes nothing.
    c.close()
    time.sleep(0.3)
    c = login(pop)
    assert c.stat()[0] == 3
    c.dele(2)
    assert c.quit().startswith(b"+OK")
    assert len(messages(pop.data, "alice@example.test")) == 2
    c = login(pop)
    assert c.stat()[0] == 2
    c.quit()


def test_maildrop_lock(pop):
    a = login(pop)
    b = poplib.POP3(*pop.addr("pop3"), timeout=10)
    b.user("alice@example.test")
    with pytest.raises(poplib.error_proto) as e:
        b.pass_(PASSWORD)
    assert e.value.args[0] == b"-ERR [IN-USE] maildrop already locked"
    a.quit()
    b = login(pop)
    b.quit()


def test_errors_and_states(pop):
    c = poplib.POP3(*pop.addr("pop3"), timeout=10)
    with pytest.raises(poplib.error_proto):
        c.stat()  # not in AUTHORIZATION
    with pytest.raises(poplib.error_proto) as e:
        c.pass_("x")
    c.user("alice@example.test")
    with pytest.raises(poplib.error_proto) as e:
        c.pass_("wrong")
    assert e.value.args[0].startswith(b"-ERR [AUTH]")
    c.user("alice@example.test")
    c.pass_(PASSWORD)
    for bad in ("RETR 0", "RETR 99", "RETR x", "DELE", "TOP 1", "FROB", "USER bob"):
        with pytest.raises(poplib.error_proto):
            c._shortcmd(bad)
    assert c.noop().startswith(b"+OK")
    c.quit()


def test_auth_plain_and_stls(pop):
    c = poplib.POP3(*pop.addr("pop3"), timeout=10)
    c.stls(context=tls_client_context())
    token = base64.b64encode(b"\0alice@example.test\0" + PASSWORD.encode()).decode()
    assert c._shortcmd(f"AUTH PLAIN {token}").startswith(b"+OK")
    assert c.stat()[0] == 3
    c.quit()


def test_pop3s(pop):
    c = poplib.POP3_SSL(*pop.addr("pop3s"), context=tls_client_context(), timeout=10)
    c.user("alice@example.test")
    c.pass_(PASSWORD)
    assert c.stat()[0] == 3
    c.quit()


def test_stls_injection_discarded(pop):
    s = socket.create_connection(pop.addr("pop3"), timeout=10)
    s.recv(200)
    s.sendall(b"STLS\r\nUSER alice@example.test\r\n")
    assert s.recv(200) == b"+OK Begin TLS negotiation\r\n"
    t = tls_client_context().wrap_socket(s)
    t.sendall(b"PASS " + PASSWORD.encode() + b"\r\n")
    # The pipelined USER was not executed: PASS has no user.
    assert t.recv(200) == b"-ERR USER first\r\n"
    t.close()


def test_plaintext_refused_off_loopback_policy(postern_factory):
    p = postern_factory(options=dict(FAST, **{"auth.plaintext_loopback": "no"}))
    setup_accounts(p.data)
    p.start()
    c = poplib.POP3(*p.addr("pop3"), timeout=10)
    assert "USER" not in c.capa()
    with pytest.raises(poplib.error_proto) as e:
        c.user("alice@example.test")
    assert e.value.args[0].startswith(b"-ERR [AUTH]")
    c.stls(context=tls_client_context())
    assert "USER" in c.capa()
    c.user("alice@example.test")
    c.pass_(PASSWORD)
    c.quit()


def test_source_document_session(pop):
    # The RFC 1939 examples the course material shows, with our mailbox.
    c = poplib.POP3(*pop.addr("pop3"), timeout=10)
    c.user("alice@example.test")
    resp = c.pass_(PASSWORD)
    assert resp.startswith(b"+OK maildrop has 3 messages (")
    assert c._shortcmd("DELE 1") == b"+OK message 1 deleted"
    with pytest.raises(poplib.error_proto) as e:
        c._shortcmd("DELE 1")
    assert e.value.args[0] == b"-ERR message 1 already deleted"
    assert c._shortcmd("RSET").startswith(b"+OK maildrop has 3 messages (")
    c._shortcmd("DELE 1")
    assert c.quit() == b"+OK mx.example.test POP3 server signing off (2 messages left)"


def test_apop_opt_in(pop):
    import hashlib
    import re
    from conftest import run_cli
    r = run_cli("user", "passwd", "alice@example.test", "--apop-secret", data=pop.data,
                input="tanstaaf\n")
    assert r.returncode == 0, r.stderr

    def apop(user, secret):
        c = poplib.POP3(*pop.addr("pop3"), timeout=10)
        ts = re.search(rb"<[^>]+>", c.getwelcome()).group(0)
        digest = hashlib.md5(ts + secret.encode()).hexdigest()
        try:
            return c, c._shortcmd(f"APOP {user} {digest}")
        except poplib.error_proto as e:
            return c, e.args[0]

    c, resp = apop("alice@example.test", "tanstaaf")
    assert resp.startswith(b"+OK maildrop has 3 messages")
    assert c.stat()[0] == 3
    c.quit()
    # Each greeting has its own timestamp.
    w1 = poplib.POP3(*pop.addr("pop3"), timeout=10).getwelcome()
    w2 = poplib.POP3(*pop.addr("pop3"), timeout=10).getwelcome()
    assert re.search(rb"<[^>]+@mx\.example\.test>", w1) and w1 != w2
    # Wrong secret, and a user without the opt-in: the same refusal.
    assert apop("alice@example.test", "wrong")[1] == b"-ERR [AUTH] Authentication failed"
    assert apop("bob@example.test", "tanstaaf")[1] == b"-ERR [AUTH] Authentication failed"
    assert apop("nobody@example.test", "x")[1] == b"-ERR [AUTH] Authentication failed"
    r = run_cli("user", "passwd", "alice@example.test", "--no-apop", data=pop.data)
    assert r.returncode == 0
    assert apop("alice@example.test", "tanstaaf")[1] == b"-ERR [AUTH] Authentication failed"
