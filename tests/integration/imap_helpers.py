"""A raw IMAP client for tests that imaplib cannot drive (IDLE, LITERAL+,
pipelining, bad input), and the common fixture setup."""
import imaplib
import re
import smtplib
import socket
import ssl
import time

from smtp_helpers import PASSWORD, setup_accounts
from test_smtp import SMTP_POLICY, simple_message

FAST = {"auth.failure_delay": "100"}
LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")


class RawImap:
    """Line-level IMAP: responses are bytes with literals inlined."""

    def __init__(self, addr, tls=False, timeout=10, source=None):
        """source: the client's own address (e.g. 127.0.0.2), for tests
        that tell clients apart by address."""
        self.sock = socket.create_connection(addr, timeout=timeout,
                                             source_address=(source, 0) if source else None)
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.sock = ctx.wrap_socket(self.sock)
        self.buf = b""
        self.n = 0
        try:
            self.greeting = self.line()
        except (OSError, EOFError):
            self.sock.close()
            raise

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def line(self):
        """One response line, literals included (their bytes inline)."""
        out = b""
        while True:
            while b"\r\n" not in self.buf:
                self._fill()
            i = self.buf.index(b"\r\n") + 2
            part, self.buf = self.buf[:i], self.buf[i:]
            out += part
            m = LITERAL.search(part)
            if not m:
                return out
            size = int(m.group(1))
            while len(self.buf) < size:
                self._fill()
            out += self.buf[:size]
            self.buf = self.buf[size:]

    def tag(self):
        self.n += 1
        return f"t{self.n}"

    def cmd(self, text, tag=None):
        """Send a command; return (untagged lines, tagged line)."""
        tag = tag or self.tag()
        data = text if isinstance(text, bytes) else text.encode()
        self.send(tag.encode() + b" " + data + b"\r\n")
        return self.until(tag)

    def append(self, mailbox, msg, binary=False, tag=None):
        """APPEND msg to mailbox as a non-synchronising literal (~{n+}
        when binary); returns (untagged lines, tagged line)."""
        return self.cmd(b"APPEND %s %s{%d+}\r\n%s" % (mailbox.encode(), b"~" if binary else b"",
                                                       len(msg), msg), tag)

    def until(self, tag):
        untagged = []
        while True:
            l = self.line()
            if l.startswith(tag.encode() + b" "):
                return untagged, l
            untagged.append(l)

    def login(self, user="alice@example.test", password=PASSWORD):
        try:
            _, ok = self.cmd(f'LOGIN "{user}" "{password}"')
        except (OSError, EOFError):
            self.close()
            raise
        assert b" OK " in ok, ok
        return self

    def closed(self, wait=3):
        self.sock.settimeout(wait)
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except (ConnectionResetError, ssl.SSLError):
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def deliver(p, rcpt="alice@example.test", subject="hello", body="Hello there.\n", count=1,
            sender="bob@remote.test"):
    with smtplib.SMTP(*p.addr("smtp")) as s:
        for i in range(count):
            msg = simple_message(subject=subject if count == 1 else f"{subject} {i}", body=body)
            s.sendmail(sender, [rcpt], msg.as_bytes(policy=SMTP_POLICY))


def imap_server(postern_factory, options=None, messages=3):
    p = postern_factory(options={**FAST, **(options or {})})
    setup_accounts(p.data)
    p.start()
    if messages:
        deliver(p, count=messages, subject="msg")
    return p


def client(p, user="alice@example.test"):
    c = imaplib.IMAP4(*p.addr("imap"), timeout=10)
    c.login(user, PASSWORD)
    return c


def wait_exists(conn_fn, want, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if conn_fn() >= want:
            return True
        time.sleep(0.1)
    return False
