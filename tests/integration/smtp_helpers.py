"""Helpers for SMTP integration tests: a mail system with users and
aliases, a raw SMTP client that shows exactly what the server says, and
readers of the Maildir."""
import base64
import os
import socket
import ssl
import time
from email import message_from_bytes
from pathlib import Path

from conftest import run_cli, tls_client_context

PASSWORD = "correct horse battery"


def setup_accounts(data):
    """example.test with alice, bob, carol; aliases: list, forward, catch-all
    on lists.test."""
    data.mkdir(parents=True, exist_ok=True)
    for d in ("example.test", "lists.test"):
        run_cli("domain", "add", d, data=data, check=True)
    for u in ("alice", "bob", "carol"):
        run_cli("user", "add", f"{u}@example.test", "--password-stdin",
                data=data, input=PASSWORD + "\n", check=True)
    run_cli("alias", "add", "team@example.test", "alice@example.test",
            "bob@example.test", data=data, check=True)
    run_cli("alias", "add", "sales@example.test", "alice@example.test",
            data=data, check=True)
    run_cli("alias", "add", "fwd@example.test", "someone@elsewhere.test",
            data=data, check=True)
    run_cli("alias", "add", "@lists.test", "carol@example.test", data=data,
            check=True)


class Raw:
    """A line-level SMTP client: send exactly these bytes, read replies."""

    def __init__(self, addr, tls=False, timeout=10):
        self.sock = socket.create_connection(addr, timeout=timeout)
        if tls:
            self.sock = tls_client_context().wrap_socket(self.sock)
        self.buf = b""
        self.greeting = self.reply()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed; pending: %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        """(code, [lines of text]) of one possibly multi-line reply."""
        lines = []
        while True:
            line = self._line()
            lines.append(line[4:])
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), lines

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def starttls(self):
        code, _ = self.cmd("STARTTLS")
        assert code == 220
        self.sock = tls_client_context().wrap_socket(self.sock)
        self.buf = b""

    def auth_plain(self, user, password=PASSWORD):
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        return self.cmd(f"AUTH PLAIN {token}")

    def closed(self, wait=3):
        """True when the server has closed the connection."""
        self.sock.settimeout(wait)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (socket.timeout, ssl.SSLError):
            return False
        except OSError:
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def maildir(data, address, folder=None):
    local, domain = address.split("@")
    base = Path(data) / "mail" / domain / local
    return base / ("." + folder if folder else "")


def messages(data, address, folder=None, wait=0):
    """Messages (bytes) in a user's Maildir new/ and cur/, oldest first."""
    deadline = time.monotonic() + wait
    while True:
        box = maildir(data, address, folder)
        files = []
        for sub in ("new", "cur"):
            d = box / sub
            if d.is_dir():
                files += [d / f for f in os.listdir(d)]
        if files or time.monotonic() >= deadline:
            files.sort(key=lambda p: p.stat().st_mtime_ns)
            return [f.read_bytes() for f in files]
        time.sleep(0.05)


def message_files(data, address):
    box = maildir(data, address)
    out = []
    for sub in ("new", "cur"):
        d = box / sub
        if d.is_dir():
            out += [d / f for f in os.listdir(d)]
    return out


def parse(raw):
    return message_from_bytes(raw)


def queued(data):
    """Queue ids of committed messages waiting for relay."""
    q = Path(data) / "queue"
    ids = []
    for sub in ("incoming", "deferred", "hold"):
        d = q / sub
        if d.is_dir():
            ids += os.listdir(d)
    return sorted(ids)
