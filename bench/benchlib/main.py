"""main.py - bench/run: install anchors, run scenarios interleaved, print the table."""

import argparse
import ctypes
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from . import machine, procstat, report, scenarios, servers
from .scenarios import Unavailable, VerifyError

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # bench/
TOP = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import mailgen  # noqa: E402

PR_SET_CHILD_SUBREAPER = 36


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="bench/run", description="postern against Postfix and "
                                 "Dovecot, interleaved, on loopback.")
    ap.add_argument("--scenarios", default=",".join(scenarios.NAMES),
                    help="comma-separated subset of: %s" % ", ".join(scenarios.NAMES))
    ap.add_argument("--reps", type=int, default=3, help="repetitions per system (default 3)")
    ap.add_argument("--idle-reps", type=int, default=1, help="repetitions of the idle scenario")
    ap.add_argument("--smtp-messages", type=int, default=5000)
    ap.add_argument("--smtp-sessions", type=int, default=20)
    ap.add_argument("--smtp-size", type=int, default=4096, help="message body bytes")
    ap.add_argument("--e2e-messages", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=20, help="IMAP/POP3 clients = users")
    ap.add_argument("--mailbox", type=int, default=1000, help="messages per user mailbox")
    ap.add_argument("--imap-cycles", type=int, default=20, help="IMAP cycles per client")
    ap.add_argument("--pop3-sessions", type=int, default=20, help="POP3 sessions per client")
    ap.add_argument("--pop3-retr", type=int, default=5, help="RETR per POP3 session")
    ap.add_argument("--idle-anchor", type=int, default=2000, help="idle connections for Dovecot")
    ap.add_argument("--idle-postern", type=int, default=50000, help="idle connections for postern")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=int, default=600, help="seconds per run before failing")
    ap.add_argument("--postern", default=os.environ.get("POSTERN_BIN",
                                                        os.path.join(TOP, "build", "postern")))
    ap.add_argument("--postern-option", "-o", action="append", default=[], metavar="KEY=VALUE",
                    help="an extra -o for postern serve (repeatable; for experiments: the "
                         "published runs use the defaults)")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "latest.md"))
    ap.add_argument("--workdir", default=None, help="parent of the temporary directory")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--no-install", action="store_true", help="do not install the anchors")
    a = ap.parse_args(argv)
    names = [s.strip() for s in a.scenarios.split(",") if s.strip()]
    bad = [n for n in names if n not in scenarios.NAMES]
    if bad:
        ap.error("unknown scenario(s): %s" % ", ".join(bad))
    a.scenario_list = names
    return a


def params_of(a):
    return {"reps": a.reps, "smtp_messages": a.smtp_messages, "smtp_sessions": a.smtp_sessions,
            "smtp_size": a.smtp_size, "e2e_messages": a.e2e_messages, "clients": a.clients,
            "mailbox": a.mailbox, "imap_cycles": a.imap_cycles,
            "pop3_sessions": a.pop3_sessions, "pop3_retr": a.pop3_retr,
            "idle_anchor": a.idle_anchor, "idle_postern": a.idle_postern, "seed": a.seed,
            "timeout": a.timeout}


def log(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


def become_subreaper():
    """Orphans of the servers we start (daemonized masters) become our children."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_stragglers():
    """Kill every descendant of this process that is still running."""
    me = os.getpid()
    for _ in range(3):
        pids, _ = procstat.tree_pids([me])
        pids.discard(me)
        live = [p for p in pids if servers._alive(p)]
        if not live:
            break
        for p in live:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)
        reap()
    reap()


class Run:
    def __init__(self, a, root, tools):
        self.a = a
        self.p = params_of(a)
        self.root = root
        self.tools = tools
        self.live = []

    def _dir(self, *parts):
        d = os.path.join(self.root, *parts)
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
        return d

    def _install_mailboxes(self, system):
        # Each system's mail belongs to the user its server runs as.
        uid, gid = getattr(system, "mail_owner", (servers.MAIL_UID, servers.MAIL_GID))
        for i in range(self.a.clients):
            md = system.maildir(i)
            servers.make_maildir(md, uid, gid)
            mailgen.install_maildir(self.tools["gen"], md, uid, gid)

    def start_anchor(self, sc):
        name = sc["name"]
        root = self._dir(name, "anchor")
        nusers = self.a.clients
        if name in ("smtp_inbound", "smtp_relay"):
            sink = None
            if name == "smtp_relay":
                sink = servers.SmtpSink(self._dir(name))
                sink.start()
                self.live.append(sink)
                self.sink = sink
            pf = servers.Postfix(root, nusers, "virtual", sink_port=sink.port if sink else None)
            pf.start()
            for i in range(nusers):
                servers.make_maildir(pf.maildir(i))
            return pf
        if name == "e2e":
            dv = servers.Dovecot(root, nusers)
            dv.start()
            try:
                pf = servers.Postfix(root, nusers, "lmtp", lmtp_port=dv.ports["lmtp"])
                pf.start()
            except Exception:
                dv.stop()
                raise
            c = scenarios.Composite([dv, pf])
            c.port = pf.port
            c.ports = dv.ports
            return c
        k = self.a.idle_anchor if name == "idle" else self.a.clients
        dv = servers.Dovecot(root, nusers, max_conns=k + 64)
        for i in range(nusers):
            servers.make_maildir(dv.maildir(i))
        self._install_mailboxes(dv)
        dv.start()
        return dv

    def start_postern(self, sc):
        name = sc["name"]
        root = self._dir(name, "postern")
        sink_port = self.sink.port if name == "smtp_relay" else None
        options = list(self.a.postern_option)
        if name == "idle":
            # The k idle sessions plus the probe login (imap.max_connections
            # is 50,000 by default).
            options.append("imap.max_connections=%d" % (self.a.idle_postern + 100))
            # Each worker holds its share of the connections, one descriptor
            # each: enough workers that no share passes this machine's
            # per-process limit (the same rule as the load generators).
            shares = len(scenarios.idle_split(self.a.idle_postern))
            if shares > 1:
                options.append("server.workers=%d" % (shares + 1))
        ps = scenarios.Postern(root, self.a.clients, self.a.postern, sc["need"], sink_port,
                               options)
        if name in ("imap_session", "imap_long", "pop3", "idle"):
            real_start = ps.start

            def start():
                # mailboxes go in before serve starts; users exist by then
                os.makedirs(ps.data, exist_ok=True)
                self._install_mailboxes(ps)
                real_start()
            ps.start = start
        ps.start()
        return ps

    def run_once(self, sc, system, which):
        name = sc["name"]
        sampler = procstat.Sampler(system.roots, 1.0 if name == "idle" else 0.5)
        sampler.start()
        try:
            if name == "smtp_inbound":
                r = scenarios.smtp_run(system, self.p, "inbound")
            elif name == "smtp_relay":
                r = scenarios.smtp_run(system, self.p, "relay", sink=self.sink)
            elif name == "e2e":
                r = scenarios.smtp_run(system, self.p, "e2e", imap_port=system.ports["imap"])
            elif name == "imap_session":
                r = scenarios.imap_run(system, self.p, "session", self.tools)
            elif name == "imap_long":
                r = scenarios.imap_run(system, self.p, "long", self.tools)
            elif name == "pop3":
                r = scenarios.pop3_run(system, self.p, self.tools)
            else:
                k = self.a.idle_postern if which == "postern" else self.a.idle_anchor
                r = scenarios.idle_run(system, self.p, k, self.tools)
        finally:
            res = sampler.stop()
        r["resources"] = res
        return r

    def scenario(self, sc):
        self.sink = None
        out = {"name": sc["name"], "title": sc["title"], "anchor": sc["anchor"],
               "metrics": sc["metrics"], "status": {}, "runs": {"postern": [], "anchor": []}}
        systems = {}
        try:
            try:
                systems["anchor"] = self.start_anchor(sc)
                out["status"]["anchor"] = "ok"
            except Exception as e:  # the anchor must run; report why it did not
                out["status"]["anchor"] = "failed to start: %s" % str(e).splitlines()[0][:120]
                log("%s: anchor: %s" % (sc["name"], e))
            try:
                systems["postern"] = self.start_postern(sc)
                out["status"]["postern"] = "ok"
            except Unavailable as e:
                out["status"]["postern"] = report.NA
                log("%s: postern: %s" % (sc["name"], e))
            reps = self.a.idle_reps if sc["name"] == "idle" else self.a.reps
            for rep in range(reps):
                for which in ("postern", "anchor"):      # A B A B ...
                    sys_ = systems.get(which)
                    if sys_ is None or out["status"].get(which) != "ok":
                        continue
                    log("%s: %s rep %d/%d" % (sc["name"], which, rep + 1, reps))
                    try:
                        r = self.run_once(sc, sys_, which)
                    except (VerifyError, subprocess.TimeoutExpired, OSError) as e:
                        out["status"][which] = "failed: %s" % str(e).splitlines()[0][:120]
                        log("%s: %s failed: %s" % (sc["name"], which, e))
                        continue
                    log("%s: %s %s" % (sc["name"], which, json.dumps(r["metrics"])))
                    out["runs"][which].append(r)
        finally:
            for s in systems.values():
                s.stop()
            for s in self.live:
                s.stop()
            self.live = []
            reap()
        return out


def build_tools(root):
    bindir = os.path.join(HERE, "results", "bin")
    os.makedirs(bindir, exist_ok=True)
    r = subprocess.run(["make", "-s", "-C", os.path.join(HERE, "loadgen"), "OUT=" + bindir],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise SystemExit("bench: building the load generators failed:\n" + r.stdout)
    return {"imapload": os.path.join(bindir, "imapload"),
            "pop3load": os.path.join(bindir, "pop3load")}


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    if os.geteuid() != 0:
        raise SystemExit("bench: run as root (the anchors need their system users)")
    if not a.no_install:
        r = subprocess.run([os.path.join(TOP, "scripts", "deps.sh"), "bench"])
        if r.returncode != 0:
            raise SystemExit("bench: installing the anchors failed")
    if not servers.have_anchor_packages():
        raise SystemExit("bench: postfix/dovecot/smtp-source missing (scripts/deps.sh bench)")
    servers.check_accounts()
    become_subreaper()
    root = tempfile.mkdtemp(prefix="postern-bench-", dir=a.workdir)
    os.chmod(root, 0o755)

    def on_signal(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_signal)
    t0 = time.monotonic()
    results = {"started": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
               "machine": machine.describe(root), "params": params_of(a), "scenarios": []}
    try:
        tools = build_tools(root)
        gen = os.path.join(root, "gen")
        mailgen.generate(a.seed, a.mailbox, gen)
        tools["gen"] = gen
        tools["manifest"] = os.path.join(gen, "manifest")
        run = Run(a, root, tools)
        for sc in scenarios.SCENARIOS:
            if sc["name"] in a.scenario_list:
                log("scenario %s" % sc["name"])
                results["scenarios"].append(run.scenario(sc))
    finally:
        kill_stragglers()
        if not a.keep:
            shutil.rmtree(root, ignore_errors=True)
    results["elapsed_s"] = round(time.monotonic() - t0, 1)
    text = report.render(results)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        f.write(text)
    with open(os.path.splitext(a.out)[0] + ".json", "w") as f:
        json.dump(results, f, indent=1)
    sys.stdout.write(text)
    log("done in %.0f s; table in %s" % (results["elapsed_s"], a.out))
    failed = [s["name"] for s in results["scenarios"] if s["status"].get("anchor") != "ok"
              or s["status"].get("postern", "").startswith("failed")]
    return 1 if failed else 0
