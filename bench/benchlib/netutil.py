"""netutil.py - loopback helpers: free ports, greeting probes, small clients.

Everything here talks to 127.0.0.1 only.
"""

import socket
import time

LOOPBACK = "127.0.0.1"


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def free_ports(n):
    """n distinct free ports (sockets held open together so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((LOOPBACK, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class LineClient:
    """A blocking CRLF line client with a deadline, for probes and polling."""

    def __init__(self, port, timeout=5.0, host=LOOPBACK):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def readline(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def send(self, line):
        self.sock.sendall(line.encode() + b"\r\n")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def greeting_matches(proto, line):
    """True when line is a ready greeting for proto ('smtp', 'imap', 'pop3')."""
    if proto == "smtp":
        return line.startswith("220 ") or line == "220"
    if proto == "imap":
        return line.startswith("* OK")
    if proto == "pop3":
        return line.startswith("+OK")
    raise ValueError(proto)


def probe(proto, port, timeout=2.0):
    """True when the server on port answers proto properly.

    SMTP needs a 220 greeting and a 250 reply to EHLO; IMAP "* OK";
    POP3 "+OK". Every failure (refused, closed, garbage, timeout) is False.
    """
    try:
        c = LineClient(port, timeout=timeout)
    except OSError:
        return False
    try:
        line = c.readline()
        if proto == "smtp":
            while line[:4] == "220-":
                line = c.readline()
            if not greeting_matches("smtp", line):
                return False
            c.send("EHLO probe.bench.test")
            while True:
                line = c.readline()
                if line[:4] == "250-":
                    continue
                ok = line[:3] == "250"
                break
            c.send("QUIT")
            return ok
        ok = greeting_matches(proto, line)
        c.send("a LOGOUT" if proto == "imap" else "QUIT")
        return ok
    except (OSError, ConnectionError, ValueError):
        return False
    finally:
        c.close()


def wait_until(pred, timeout, interval=0.05):
    """Poll pred() until true; returns whether it became true in time."""
    end = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(interval)


def imap_message_count(port, user, password, mailbox="INBOX", timeout=5.0):
    """MESSAGES of mailbox via IMAP STATUS, or None on any failure."""
    try:
        c = LineClient(port, timeout=timeout)
    except OSError:
        return None
    try:
        if not c.readline().startswith("* OK"):
            return None
        c.send('a LOGIN "%s" "%s"' % (user, password))
        if not _imap_tagged_ok(c, "a"):
            return None
        c.send("b STATUS %s (MESSAGES)" % mailbox)
        count = None
        while True:
            line = c.readline()
            if line.startswith("* STATUS"):
                count = parse_status_messages(line)
            elif line.startswith("b "):
                if not line.startswith("b OK"):
                    return None
                break
        c.send("c LOGOUT")
        return count
    except (OSError, ConnectionError):
        return None
    finally:
        c.close()


def _imap_tagged_ok(c, tag):
    while True:
        line = c.readline()
        if line.startswith(tag + " "):
            return line.startswith(tag + " OK")


def parse_status_messages(line):
    """MESSAGES n from '* STATUS mbox (MESSAGES n ...)', or None."""
    up = line.upper()
    i = up.rfind("(")
    if i < 0:
        return None
    items = up[i + 1:].rstrip(")").split()
    for k, v in zip(items[0::2], items[1::2]):
        if k == "MESSAGES" and v.isdigit():
            return int(v)
    return None
