"""Integration test harness: start the real `postern serve` on a temporary
data directory with free loopback ports, and stop it afterwards.

Tests get a `server` fixture (a running Postern) or use `Postern` directly
for start/stop scenarios. Every process a test starts is stopped, and the
harness checks that none is left behind.
"""
import os
import random
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = os.environ.get("POSTERN_BIN", str(REPO / "build" / "postern"))

# Under `make asan`, a report from AddressSanitizer, LeakSanitizer or
# UndefinedBehaviorSanitizer in any postern process fails the test.
SANITIZER_MARKERS = ["ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:"]

SERVICES = ["smtp", "submission", "smtps", "imap", "imaps",
            "pop3", "pop3s", "http", "https"]
IMPLICIT_TLS = {"smtps", "imaps", "pop3s", "https"}


def ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(host="127.0.0.1"):
    """A TCP port that nothing uses right now, below the ephemeral range:
    a port the kernel may give a client's connection could be taken while
    a killed server is down (its restart then fails to listen), or be
    connected to itself by a client retrying it (TCP simultaneous open)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    low = ephemeral_low()
    for _ in range(200):
        port = random.randrange(10000, low) if low > 11000 else 0
        with socket.socket(family, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise AssertionError("no free port below the ephemeral range")


def run_cli(*args, data=None, input=None, check=False):
    """Run `postern [--data DATA] ARGS...`; returns CompletedProcess (text)."""
    cmd = [BIN] + (["--data", str(data)] if data else []) + [str(a) for a in args]
    return subprocess.run(cmd, input=input, capture_output=True, text=True,
                          timeout=60, check=check)


def processes_using(path):
    """PIDs whose command line mentions path (master and its workers)."""
    pids = []
    needle = str(path).encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if needle in f.read():
                    pids.append(int(entry))
        except OSError:
            pass
    return pids


def process_exited(pid):
    """True once pid has closed its files: gone, or a zombie (a process
    becomes one only after closing them)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


def children_of(pid):
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                kids.append(int(entry))
        except (OSError, IndexError, ValueError):
            pass
    return sorted(kids)


def process_name(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def proc_uids(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    return []


def wait_for(predicate, timeout=10.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def can_connect(host, port):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def tls_client_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def handoff_sockets(master):
    """The workers' listening hand-over sockets (abstract names
    postern-handoff-MASTER-ROW, src/server/handoff.c)."""
    prefix = f"@postern-handoff-{master}-"
    paths = set()
    try:
        with open("/proc/net/unix") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 8 and parts[7].startswith(prefix):
                    paths.add(parts[7])
    except OSError:
        pass
    return paths


class Postern:
    """One `postern serve` process on its own data directory and ports."""

    def __init__(self, tmp, options=None, config_text=None, host="127.0.0.1",
                 services=SERVICES, wrapper=None):
        self.tmp = Path(tmp)
        # A command the server runs under, e.g. ["strace", "-f", "-o", LOG]:
        # the master is then the wrapper's child (see master()).
        self.wrapper = list(wrapper or [])
        self.wrapper_forks = bool(self.wrapper)
        if not self.wrapper and os.environ.get("POSTERN_VALGRIND"):
            # make valgrind: the server under memcheck (which runs it in
            # the same process and follows its forks), one log per process.
            self.wrapper = ["valgrind", "--quiet", "--leak-check=full",
                            "--errors-for-leak-kinds=definite",
                            "--child-silent-after-fork=no", "--num-callers=30",
                            f"--log-file={self.tmp}/valgrind.%p.log"]
            self.wrapper_forks = False
        self.data = self.tmp / "var"
        self.host = host
        self.ports = {svc: free_port(host) for svc in services}
        self.options = dict(options or {})
        self.config = None
        if config_text is not None:
            self.config = self.tmp / "postern.conf"
            self.config.write_text(config_text)
        self.log = self.tmp / "postern.log"
        self.proc = None

    def addr(self, svc):
        return (self.host, self.ports[svc])

    def argv(self):
        argv = [BIN, "serve", "--data", str(self.data)]
        if self.config is not None:
            argv += ["-c", str(self.config)]
        # No DNS traffic leaves the machine: outbound tests run their own
        # resolver; the others get one that never answers.
        opts = {"server.workers": "2", "server.grace": "3s",
                "server.hostname": "mx.example.test", "dns.resolver": "127.0.0.1@9"}
        h = f"[{self.host}]" if ":" in self.host else self.host
        for svc in SERVICES:
            port = self.ports.get(svc)
            opts[f"{svc}.listen"] = f"{h}:{port}" if port else ""
        opts.update(self.options)
        for key, value in opts.items():
            if value is not None:  # None: leave the key to the config file
                argv += ["-o", f"{key}={value}"]
        return argv

    def start(self, wait=True, attempts=3):
        """Start and wait until every listener answers. A port found free
        may be taken by another process before postern binds it: then try
        again with new ports."""
        for attempt in range(attempts):
            try:
                return self._start(wait)
            except AssertionError as e:
                if "Address already in use" not in str(e) or attempt == attempts - 1:
                    raise
                self.ports = {svc: free_port(self.host) for svc in self.ports}

    def _start(self, wait):
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen(self.wrapper + self.argv(), stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        if wait:
            ok = wait_for(lambda: self.proc.poll() is not None or all(
                can_connect(self.host, p) for p in self.ports.values()), 15)
            if self.proc.poll() is not None or not ok:
                self.stop()
                raise AssertionError("postern did not start:\n" + self.log_text())
            # Every worker has its event loop running: it makes its
            # hand-over socket once its databases are open, right before
            # the loop (a worker still opening them grows by megabytes,
            # which tests measuring memory would count).
            n = int(self.options.get("server.workers", "2"))
            wait_for(lambda: self.proc.poll() is not None or
                     len(self.workers()) >= n and len(handoff_sockets(self.master())) >= n, 10)
            if self.proc.poll() is not None:  # the ports answered, but not from it
                self.stop()
                raise AssertionError("postern did not start:\n" + self.log_text())
        return self

    def master(self):
        """The master's pid: the process started, or the wrapper's child."""
        if not self.wrapper_forks:
            return self.proc.pid
        kids = wait_for(lambda: children_of(self.proc.pid), 5)
        return kids[0] if kids else self.proc.pid

    def children(self):
        return children_of(self.master()) if self.proc else []

    def workers(self):
        """The worker processes (not the queue runner)."""
        return [p for p in self.children() if process_name(p) != "postern-runner"]

    def runner(self):
        """The queue runner's pid, or None."""
        for p in self.children():
            if process_name(p) == "postern-runner":
                return p
        return None

    def log_text(self):
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def signal(self, sig):
        os.kill(self.master(), sig)

    def stop(self, timeout=15):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.master(), signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in processes_using(self.data):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.logf.close()
        self.proc = None

    def connect(self, svc, timeout=5):
        s = socket.create_connection(self.addr(svc), timeout=timeout)
        if svc in IMPLICIT_TLS:
            s = tls_client_context().wrap_socket(s)
        return s

    def greeting(self, svc):
        with self.connect(svc) as s:
            return s.recv(4096)


@pytest.fixture
def postern_factory(tmp_path):
    """Make Postern instances; all are stopped at the end of the test and
    none may leave a process behind."""
    made = []

    def make(**kwargs):
        sub = tmp_path / f"p{len(made)}"
        sub.mkdir()
        p = Postern(sub, **kwargs)
        made.append(p)
        return p

    yield make
    for p in made:
        p.stop()
    for p in made:
        left = processes_using(p.data)
        assert not left, f"processes left behind: {left}"
        log = p.log_text()
        for marker in SANITIZER_MARKERS:
            assert marker not in log, f"sanitizer report in the server log:\n{log}"
        for vlog in sorted(p.tmp.glob("valgrind.*.log")):
            text = vlog.read_text(errors="replace")
            assert "ERROR SUMMARY: 0 errors" in text or not text.strip(), \
                f"valgrind found errors ({vlog.name}):\n{text[-6000:]}"


@pytest.fixture
def server(postern_factory):
    """A running postern with every service on a free loopback port."""
    return postern_factory().start()
