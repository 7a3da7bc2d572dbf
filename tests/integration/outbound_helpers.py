"""Fake mail exchangers for the outbound tests: a small threaded SMTP server
on a 127.0.0.x address that records what it is sent and answers as told
(per-recipient refusals, temporary failures, no 8BITMIME, STARTTLS, a
stall before the final reply)."""
import socket
import ssl
import subprocess
import threading
import time

from conftest import free_port


def make_cert(tmp, name="mx.test"):
    """A self-signed certificate and key (PEM files) for a fake exchanger."""
    cert, key = tmp / f"{name}.crt", tmp / f"{name}.key"
    if not cert.exists():
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                        "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True)
    return cert, key


class Received:
    def __init__(self):
        self.helo = None
        self.mail = None
        self.rcpts = []
        self.data = b""
        self.tls = False
        self.acked = False
        self.session = None  # {"quit": bool}: did its session end with QUIT


class FakeMX:
    """SMTP server on (host, port).

    ehlo: keywords announced after the greeting line.
    rcpt_reply(addr) -> (code, text) or None for 250.
    data_reply(n) -> (code, text) for the n-th message (0-based) or None for 250.
    stall: seconds to wait before answering the final dot of message n when
      stall_first > n.
    """

    def __init__(self, host, port, ehlo=None, rcpt_reply=None, data_reply=None,
                 tls=None, stall=0, stall_first=0, greeting=(220, "fake ESMTP"),
                 auth=None):
        self.host, self.port = host, port
        self.ehlo = ehlo if ehlo is not None else [
            "PIPELINING", "SIZE 10240000", "8BITMIME", "ENHANCEDSTATUSCODES", "DSN",
            "SMTPUTF8"]
        self.rcpt_reply = rcpt_reply or (lambda a: None)
        self.data_reply = data_reply or (lambda n: None)
        self.tls = tls  # (cert, key) or None
        self.stall, self.stall_first = stall, stall_first
        self.greeting = greeting
        self.auth = auth  # (user, password) to require, or None
        self.logins = []  # (user, password) received
        self.messages = []   # Received, acknowledged or not
        self.connections = 0
        self.active = 0       # sessions open now
        self.max_active = 0   # most sessions open at once
        self.lock = threading.Lock()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(64)
        self.stopped = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def acked(self):
        with self.lock:
            return [m for m in self.messages if m.acked]

    def wait_acked(self, n, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.acked()) >= n:
                return self.acked()
            time.sleep(0.05)
        return self.acked()

    def close(self):
        self.stopped = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept()
        except OSError:
            pass
        self.thread.join(5)
        try:
            self.sock.close()
        except OSError:
            pass

    def _accept(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn):
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            self._serve(conn)
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            with self.lock:
                self.active -= 1
            try:
                conn.close()
            except OSError:
                pass

    def _serve(self, conn):
        f = conn.makefile("rb")
        tls = False

        def send(code, text, more=()):
            lines = list(more)
            out = b""
            for line in lines:
                out += f"{code}-{line}\r\n".encode()
            out += f"{code} {text}\r\n".encode()
            conn.sendall(out)

        send(*self.greeting)
        if self.greeting[0] != 220:
            return
        cur = None
        authed = False
        session = {"quit": False}
        while True:
            line = f.readline(4096)
            if not line:
                return
            cmd = line.rstrip(b"\r\n").decode("utf-8", "replace")
            verb = cmd.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                keys = [k for k in self.ehlo if not (tls and k == "STARTTLS")]
                if self.tls and not tls and "STARTTLS" not in keys:
                    keys.append("STARTTLS")
                if self.auth and "AUTH PLAIN LOGIN" not in keys:
                    keys.append("AUTH PLAIN LOGIN")
                if verb == "HELO":
                    keys = []
                send(250, keys[-1] if keys else "fake", ["fake"] + keys[:-1] if keys else [])
                helo = cmd
            elif verb == "STARTTLS" and self.tls:
                send(220, "2.0.0 go ahead")
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(*map(str, self.tls))
                conn = ctx.wrap_socket(conn, server_side=True)
                f = conn.makefile("rb")
                tls = True
            elif verb == "AUTH" and self.auth:
                parts = cmd.split()
                if len(parts) < 3 or parts[1].upper() != "PLAIN":
                    send(504, "5.5.4 only PLAIN with an initial response here")
                    continue
                import base64
                _, user, pw = base64.b64decode(parts[2]).decode().split("\0")
                self.logins.append((user, pw))
                if (user, pw) == tuple(self.auth):
                    authed = True
                    send(235, "2.7.0 ok")
                else:
                    send(535, "5.7.8 bad credentials")
            elif verb == "MAIL" and self.auth and not authed:
                send(530, "5.7.0 authentication required")
            elif verb == "MAIL":
                cur = Received()
                cur.helo = helo
                cur.mail = cmd
                cur.tls = tls
                cur.session = session
                send(250, "2.1.0 ok")
            elif verb == "RCPT":
                addr = cmd.split("<", 1)[1].split(">", 1)[0] if "<" in cmd else ""
                r = self.rcpt_reply(addr)
                if r is None:
                    cur.rcpts.append(cmd)
                    send(250, "2.1.5 ok")
                else:
                    send(*r)
            elif verb == "DATA":
                if not cur or not cur.rcpts:
                    send(554, "5.5.1 no valid recipients")
                    continue
                send(354, "go ahead")
                data = b""
                while True:
                    l = f.readline(1 << 20)
                    if not l:
                        return
                    if l == b".\r\n":
                        break
                    data += l
                cur.data = data
                with self.lock:
                    n = len(self.messages)
                    self.messages.append(cur)
                if n < self.stall_first and self.stall:
                    time.sleep(self.stall)
                r = self.data_reply(n)
                if r is None:
                    send(250, "2.0.0 queued as FAKE%d" % n)
                    cur.acked = True
                else:
                    send(*r)
                cur = None
            elif verb == "RSET":
                cur = None
                send(250, "2.0.0 ok")
            elif verb == "NOOP":
                send(250, "2.0.0 ok")
            elif verb == "QUIT":
                session["quit"] = True
                send(221, "2.0.0 bye")
                return
            else:
                send(502, "5.5.2 unknown")


def outbound_options(dns, port, **extra):
    """Options for a postern that delivers to fake exchangers on port,
    routed by the test resolver dns, retrying fast."""
    opts = {
        "delivery.port": str(port),
        "dns.resolver": dns.resolver,
        "delivery.retry_min": "1s",
        "delivery.retry_max": "2s",
        "delivery.ipv6": "no",
        "delivery.connect_timeout": "2s",
        "delivery.scan_interval": "1s",
        "smtpd.relay_networks": "127.0.0.0/8",
    }
    opts.update(extra)
    return opts


def free_port_on(hosts):
    """A port free on every one of hosts."""
    for _ in range(100):
        port = free_port(hosts[0])  # below the ephemeral range
        ok = True
        for h in hosts[1:]:
            t = socket.socket()
            try:
                t.bind((h, port))
            except OSError:
                ok = False
            finally:
                t.close()
        if ok:
            return port
    raise RuntimeError("no common free port")
