"""scenarios.py - what each benchmark scenario does to a system, and postern's driver.

A scenario knows how to start its anchor (Postfix, Dovecot or both), how to
start postern for it, and how to run one measured repetition against a
started system. The same function and the same parameters run both sides.
"""

import json
import os
import subprocess
import time

from . import netutil, procstat, servers

SMTP_SOURCE = "smtp-source"


class Unavailable(Exception):
    """postern cannot serve this scenario yet (missing binary or protocol)."""


class VerifyError(Exception):
    """A run produced a wrong answer (counts, bytes, errors)."""


# ----------------------------------------------------------------- postern

class Postern(servers.Server):
    """postern serve on loopback ports with its own --data directory.

    Interface it relies on (see docs/benchmarks.md): `postern --data DIR
    domain add D`, `postern --data DIR user add U --password-hash H`, and
    `postern serve --data DIR -o smtp.listen=127.0.0.1:P -o imap.listen=...
    -o pop3.listen=... [-o delivery.relayhost=127.0.0.1:P]`; mail is stored in
    DIR/mail/DOMAIN/USER (Maildir++).
    """

    name = "postern"

    def __init__(self, root, nusers, binary, need, sink_port=None, options=()):
        super().__init__()
        self.options = list(options)
        self.base = os.path.join(root, "postern")
        self.data = os.path.join(self.base, "data")
        p = netutil.free_ports(3)
        self.port, self.ports = p[0], {"smtp": p[0], "imap": p[1], "pop3": p[2]}
        self.nusers = nusers
        self.binary = binary
        self.need = need
        self.sink_port = sink_port

    def maildir(self, i):
        return os.path.join(self.data, "mail", servers.DOMAIN, servers.user_name(i))

    @property
    def mail_owner(self):
        """postern's workers run as the user 'postern' when started as root."""
        if os.geteuid() != 0:
            return os.getuid(), os.getgid()
        import pwd
        pw = pwd.getpwnam("postern")
        return pw.pw_uid, pw.pw_gid

    def _admin(self, args, stdin=None):
        r = subprocess.run([self.binary, "--data", self.data] + args, input=stdin,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=60)
        if r.returncode != 0:
            raise Unavailable("postern %s: %s" % (" ".join(args[:2]), r.stdout.strip()[:200]))

    def start(self):
        if not self.binary or not os.access(self.binary, os.X_OK):
            raise Unavailable("no postern binary (build it with make build)")
        os.makedirs(self.data, exist_ok=True)
        self._admin(["domain", "add", servers.DOMAIN])
        for i in range(self.nusers):
            self._admin(["user", "add", servers.user_address(i), "--password-hash",
                         servers.user_hash(i)])
        cmd = [self.binary, "serve", "--data", self.data]
        for proto, port in self.ports.items():
            # Every load generator connects from 127.0.0.1: no per-address
            # limit (the anchors are configured the same way).
            cmd += ["-o", "%s.listen=127.0.0.1:%d" % (proto, port),
                    "-o", "%s.max_per_ip=0" % proto]
        # The other listeners are not part of the benchmark.
        for proto in ("submission", "smtps", "imaps", "pop3s", "http", "https"):
            cmd += ["-o", "%s.listen=" % proto]
        if self.sink_port:
            # Relayed like the anchor: clients on loopback may relay (its
            # mynetworks), everything goes to the sink.
            cmd += ["-o", "delivery.relayhost=127.0.0.1:%d" % self.sink_port,
                    "-o", "smtpd.relay_networks=127.0.0.0/8"]
        for opt in self.options:
            cmd += ["-o", opt]
        log = open(os.path.join(self.base, "serve.log"), "w")
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                             preexec_fn=servers._raise_nofile)
        log.close()
        self.procs.append(p)
        ok = netutil.wait_until(
            lambda: p.poll() is None and all(netutil.probe(x, self.ports[x]) for x in self.need),
            5, 0.1)
        if not ok:
            self.stop()
            raise Unavailable("postern does not answer %s" % "/".join(self.need))


class Composite(servers.Server):
    """Several servers sampled and stopped as one system (Postfix + Dovecot)."""

    def __init__(self, parts):
        super().__init__()
        self.parts = parts

    def roots(self):
        out = []
        for p in self.parts:
            out.extend(p.roots())
        return out

    def stop(self):
        for p in reversed(self.parts):
            p.stop()


# ------------------------------------------------------------ measurement

def count_maildir(path):
    n = 0
    for sub in ("new", "cur"):
        try:
            n += len(os.listdir(os.path.join(path, sub)))
        except FileNotFoundError:
            pass
    return n


def run_smtp_source(port, messages, sessions, size, rcpt, timeout):
    cmd = [SMTP_SOURCE, "-d", "-l", str(size), "-m", str(messages), "-s", str(sessions),
           "-M", "client.bench.test", "-f", "sender@client.bench.test", "-t", rcpt,
           "127.0.0.1:%d" % port]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout)
    if r.returncode != 0:
        raise VerifyError("smtp-source failed: %s" % r.stdout.strip()[-300:])


def smtp_run(system, p, kind, sink=None, imap_port=None):
    """One SMTP repetition. kind: 'inbound', 'relay' or 'e2e'."""
    n = p["smtp_messages"] if kind != "e2e" else p["e2e_messages"]
    if kind == "relay":
        rcpt = "rcpt@%s" % servers.RELAY_DOMAIN
        before = sink.messages()
        done = lambda: sink.messages() - before
    elif kind == "e2e":
        rcpt = servers.user_address(0)
        before = netutil.imap_message_count(imap_port, rcpt, servers.user_password(0))
        if before is None:
            raise VerifyError("IMAP STATUS failed before the run")
        state = {"seen": before}

        def done():
            c = netutil.imap_message_count(imap_port, rcpt, servers.user_password(0))
            if c is not None:
                state["seen"] = c
            return state["seen"] - before
    else:
        rcpt = servers.user_address(0)
        md = system.maildir(0)
        before = count_maildir(md)
        done = lambda: count_maildir(md) - before
    t0 = time.monotonic()
    run_smtp_source(system.port, n, p["smtp_sessions"], p["smtp_size"], rcpt, p["timeout"])
    t1 = time.monotonic()
    interval = 0.2 if kind == "e2e" else 0.02
    if not netutil.wait_until(lambda: done() >= n, p["timeout"], interval):
        raise VerifyError("only %d of %d messages arrived" % (done(), n))
    t2 = time.monotonic()
    time.sleep(0.3)
    if done() != n:
        raise VerifyError("%d messages arrived for %d sent" % (done(), n))
    m = {"accepted_per_s": n / (t1 - t0), "delivered_per_s": n / (t2 - t0)}
    if kind == "e2e":
        m = {"visible_per_s": n / (t2 - t0), "accepted_per_s": n / (t1 - t0)}
    return {"metrics": m}


def loadgen_json(text):
    """The last JSON object line of a generator's stdout."""
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise VerifyError("load generator printed no result")


def check_loadgen(res, rc, stderr):
    if rc != 0 or not res.get("ok") or res.get("errors"):
        raise VerifyError("load generator: %s %s" % (res.get("first_error", "exit %d" % rc),
                                                      stderr.strip()[-300:]))


def imap_run(system, p, mode, tools):
    cmd = [tools["imapload"], "--port", str(system.ports["imap"]), "--manifest",
           tools["manifest"], "--mode", mode, "--clients", str(p["clients"]),
           "--cycles", str(p["imap_cycles"]), "--seed", str(p["seed"]),
           "--timeout", str(p["timeout"])]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=p["timeout"] + 30)
    res = loadgen_json(r.stdout) if r.stdout.strip() else {}
    check_loadgen(res, r.returncode, r.stderr)
    return {"metrics": {"commands_per_s": res["commands_per_s"]}, "latency": res.get("cmds", {})}


def pop3_run(system, p, tools):
    cmd = [tools["pop3load"], "--port", str(system.ports["pop3"]), "--manifest",
           tools["manifest"], "--clients", str(p["clients"]), "--sessions",
           str(p["pop3_sessions"]), "--retr", str(p["pop3_retr"]), "--seed", str(p["seed"]),
           "--timeout", str(p["timeout"])]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=p["timeout"] + 30)
    res = loadgen_json(r.stdout) if r.stdout.strip() else {}
    check_loadgen(res, r.returncode, r.stderr)
    return {"metrics": {"sessions_per_s": res["sessions_per_s"], "retr_per_s": res["retr_per_s"]},
            "latency": res.get("cmds", {})}


def nofile_limit():
    """Descriptors one process may open here (the hard limit may be below
    what a run wants: a sandbox that cannot raise it)."""
    import resource
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def idle_split(k, limit=None):
    """Connections per load-generator process: each process holds at most
    limit - 1000 sockets (and stays below the 28,000 ephemeral ports of
    its own source address)."""
    limit = nofile_limit() if limit is None else limit
    per = max(1, min(limit - 1000, 25000))
    n = (k + per - 1) // per
    return [k // n + (1 if i < k % n else 0) for i in range(n)]


def idle_run(system, p, k, tools):
    """Open k idling IMAP connections; memory per connection and a probe login.
    Several load generators share k when one process may not hold them all
    (idle_split), each from its own 127.0.0.x source address."""
    base = procstat.snapshot(system.roots())
    procs = []
    try:
        for i, ki in enumerate(idle_split(k)):
            cmd = [tools["imapload"], "--port", str(system.ports["imap"]), "--manifest",
                   tools["manifest"], "--mode", "idle", "--idle", str(ki), "--clients",
                   str(p["clients"]), "--timeout", str(p["timeout"]),
                   "--src-base", str(i + 1), "--src-per", str(ki + 1)]
            procs.append(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True))
            line = procs[-1].stdout.readline()
            ready = json.loads(line) if line.strip().startswith("{") else {}
            if ready.get("ready") != ki:
                procs[-1].kill()
                out, err = procs[-1].communicate(timeout=30)
                raise VerifyError("only %s of %d connections idle: %s" % (
                    ready.get("ready"), ki, (out + err).strip()[-300:]))
        time.sleep(1.0)
        full = procstat.snapshot(system.roots())
        results = []
        for proc in procs:
            proc.stdin.write("probe\n")
            proc.stdin.flush()
            out, err = proc.communicate(timeout=p["timeout"])
            res = loadgen_json(out)
            check_loadgen(res, proc.returncode, err)
            if res.get("dropped") or not res.get("probe_ok"):
                raise VerifyError("idle connections dropped or probe failed: %s" % res)
            results.append(res)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    per = (full["pss_kb"] - base["pss_kb"]) / float(k)
    return {"metrics": {"kib_per_conn": per, "probe_login_ms": results[0]["probe_login_ms"],
                        "connections": float(k), "total_pss_mib": full["pss_kb"] / 1024.0}}


# ------------------------------------------------------------- scenario set

def _m(key, label, unit, better="higher"):
    return {"key": key, "label": label, "unit": unit, "better": better}


SCENARIOS = [
    {"name": "smtp_inbound", "title": "SMTP inbound", "anchor": "Postfix (virtual)",
     "need": ["smtp"],
     "metrics": [_m("accepted_per_s", "accepted", "msg/s"),
                 _m("delivered_per_s", "in Maildir", "msg/s")]},
    {"name": "smtp_relay", "title": "SMTP relay", "anchor": "Postfix",
     "need": ["smtp"],
     "metrics": [_m("accepted_per_s", "accepted", "msg/s"),
                 _m("delivered_per_s", "at the sink", "msg/s")]},
    {"name": "e2e", "title": "End to end", "anchor": "Postfix+Dovecot LMTP",
     "need": ["smtp", "imap"],
     "metrics": [_m("accepted_per_s", "accepted", "msg/s"),
                 _m("visible_per_s", "visible over IMAP", "msg/s")]},
    {"name": "imap_session", "title": "IMAP, session per cycle", "anchor": "Dovecot",
     "need": ["imap"], "metrics": [_m("commands_per_s", "commands", "cmd/s")]},
    {"name": "imap_long", "title": "IMAP, long-lived sessions", "anchor": "Dovecot",
     "need": ["imap"], "metrics": [_m("commands_per_s", "commands", "cmd/s")]},
    {"name": "pop3", "title": "POP3", "anchor": "Dovecot",
     "need": ["pop3"],
     "metrics": [_m("sessions_per_s", "sessions", "sess/s"), _m("retr_per_s", "RETR", "RETR/s")]},
    {"name": "idle", "title": "Idle IMAP", "anchor": "Dovecot",
     "need": ["imap"],
     "metrics": [_m("connections", "connections held", "conn"),
                 _m("kib_per_conn", "memory per connection", "KiB PSS", "lower"),
                 _m("total_pss_mib", "memory of all processes", "MiB PSS", "lower"),
                 _m("probe_login_ms", "new login while idle", "ms", "lower")]},
]

NAMES = [s["name"] for s in SCENARIOS]
