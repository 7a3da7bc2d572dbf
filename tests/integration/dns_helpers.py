"""A real DNS server for tests: Debian's unbound on a free loopback port,
serving a static "test." zone from the records a test gives.

    server = DnsServer(tmp_path, ["example.test. MX 10 mx.example.test.",
                                  "mx.example.test. A 127.0.0.2"])
    server.start()
    ... postern with dns.resolver = server.resolver ("127.0.0.1@PORT") ...
    server.stop()

Records are unbound local-data lines ("name [TTL] TYPE rdata"); names
without a trailing dot are taken as written. Names under "test." that have
no record get NXDOMAIN; a name with records of other types gets NODATA.
Extra unbound "server:" lines may be given as `extra` (e.g. a stub zone to
a dead address to provoke SERVFAIL).

The `dns_server` fixture is a factory: `dns_server(records)` returns a
started server, stopped at the end of the test.
"""
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest

UNBOUND = "/usr/sbin/unbound"


def _free_port():
    """A port free on 127.0.0.1 for both UDP and TCP right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port")


def _quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def build_query(name, rrtype, qid=None):
    """A DNS query packet (RD set) for name and numeric rrtype."""
    qid = random.randrange(65536) if qid is None else qid
    packet = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        packet += bytes([len(label)]) + label.encode("ascii")
    return packet + b"\0" + struct.pack("!HH", rrtype, 1)


def udp_query(port, name, rrtype, host="127.0.0.1", timeout=2.0):
    """Send one query; returns (rcode, answer count) of the reply."""
    query = build_query(name, rrtype)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(query, (host, port))
        reply, _ = s.recvfrom(65535)
    qid, flags, _qd, ancount, _ns, _ar = struct.unpack("!HHHHHH", reply[:12])
    if qid != struct.unpack("!H", query[:2])[0] or not flags & 0x8000:
        raise ValueError("not a reply to the query")
    return flags & 0xF, ancount


class DnsServer:
    def __init__(self, tmp_path, records, extra=()):
        self.dir = Path(tmp_path) / f"unbound-{os.getpid()}-{random.randrange(1 << 30)}"
        self.records = list(records)
        self.extra = list(extra)
        self.port = None
        self.proc = None

    @property
    def resolver(self):
        """The dns.resolver value that points postern at this server."""
        return f"127.0.0.1@{self.port}"

    def _config(self):
        lines = [
            "server:",
            "  do-daemonize: no",
            '  username: ""',
            '  chroot: ""',
            f"  directory: {_quote(str(self.dir))}",
            f"  pidfile: {_quote(str(self.dir / 'unbound.pid'))}",
            '  logfile: ""',
            "  use-syslog: no",
            "  verbosity: 1",
            "  interface: 127.0.0.1",
            f"  port: {self.port}",
            "  do-ip6: no",
            "  num-threads: 1",
            "  do-not-query-localhost: no",
            '  module-config: "iterator"',
            "  access-control: 127.0.0.0/8 allow",
            '  local-zone: "test." static',
        ]
        lines += [f"  local-data: {_quote(r)}" for r in self.records]
        lines += self.extra
        lines += ["remote-control:", "  control-enable: no"]
        return "\n".join(lines) + "\n"

    def start(self, timeout=10.0):
        if not os.access(UNBOUND, os.X_OK):
            pytest.skip(f"{UNBOUND} is not installed")
        self.dir.mkdir(parents=True)
        self.port = _free_port()
        conf = self.dir / "unbound.conf"
        conf.write_text(self._config())
        self.log = open(self.dir / "unbound.log", "wb")
        self.proc = subprocess.Popen([UNBOUND, "-d", "-c", str(conf)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                log = (self.dir / "unbound.log").read_text(errors="replace")
                self.proc = None
                raise RuntimeError(f"unbound exited: {log}")
            try:
                udp_query(self.port, "probe.test", 1, timeout=0.2)
                return self
            except (OSError, ValueError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("unbound does not answer")

    def stop(self):
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if getattr(self, "log", None) is not None:
            self.log.close()
            self.log = None
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def dns_server(tmp_path):
    """Factory: dns_server(records, extra=()) -> a started DnsServer."""
    servers = []

    def start(records, extra=()):
        server = DnsServer(tmp_path, records, extra)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()
