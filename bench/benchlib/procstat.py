"""procstat.py - CPU and memory of a whole system (a process tree) from /proc.

A system is one or more root pids (postfix's master, dovecot's master,
postern serve) and all their descendants. CPU time of the tree is
sum(utime + stime + cutime + cstime) over the live processes: a child that
exited and was reaped moves its time into its parent's cutime/cstime, so the
sum stays continuous while per-session processes come and go. Memory is the
sum of PSS (from smaps_rollup; RSS when PSS is unreadable).
"""

import os
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def parse_stat(text):
    """Parse /proc/PID/stat; returns dict or None when malformed.

    The command name may hold spaces and parentheses, so the fields are
    split after the last ')'.
    """
    lp = text.find("(")
    rp = text.rfind(")")
    if lp < 0 or rp < lp:
        return None
    try:
        pid = int(text[:lp].strip())
    except ValueError:
        return None
    rest = text[rp + 1:].split()
    # rest[0] is state (field 3); utime is field 14 -> rest[11].
    if len(rest) < 15:
        return None
    try:
        return {
            "pid": pid,
            "comm": text[lp + 1:rp],
            "state": rest[0],
            "ppid": int(rest[1]),
            "utime": int(rest[11]),
            "stime": int(rest[12]),
            "cutime": int(rest[13]),
            "cstime": int(rest[14]),
        }
    except ValueError:
        return None


def parse_smaps_rollup(text):
    """Parse smaps_rollup (or status) 'Key:   N kB' lines into {key: kB}."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        parts = value.split()
        if len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
            out[key.strip()] = int(parts[0])
    return out


def descendants(roots, ppid_of):
    """All pids in ppid_of that descend from (or are) one of roots."""
    children = {}
    for pid, ppid in ppid_of.items():
        children.setdefault(ppid, []).append(pid)
    out = set()
    stack = [r for r in roots if r in ppid_of]
    while stack:
        pid = stack.pop()
        if pid in out:
            continue
        out.add(pid)
        stack.extend(children.get(pid, ()))
    return out


def _read(path):
    try:
        with open(path, "r", encoding="ascii", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def read_all_stats(proc="/proc"):
    """{pid: parsed stat} for every readable process."""
    out = {}
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        text = _read(os.path.join(proc, name, "stat"))
        if text is None:
            continue
        st = parse_stat(text)
        if st is not None:
            out[st["pid"]] = st
    return out


def tree_pids(roots, proc="/proc"):
    stats = read_all_stats(proc)
    return descendants(roots, {p: s["ppid"] for p, s in stats.items()}), stats


def memory_kb(pid, proc="/proc"):
    """(pss_kb, rss_kb) of one process; (0, 0) if it vanished."""
    text = _read(os.path.join(proc, str(pid), "smaps_rollup"))
    if text:
        m = parse_smaps_rollup(text)
        if "Pss" in m:
            return m["Pss"], m.get("Rss", 0)
    text = _read(os.path.join(proc, str(pid), "status"))
    if text:
        rss = parse_smaps_rollup(text).get("VmRSS", 0)
        return rss, rss
    return 0, 0


def snapshot(roots, proc="/proc", with_memory=True):
    """One sample of the tree: {'pids', 'cpu_ticks', 'pss_kb', 'rss_kb'}."""
    pids, stats = tree_pids(roots, proc)
    ticks = 0
    pss = rss = 0
    for pid in pids:
        s = stats[pid]
        ticks += s["utime"] + s["stime"] + s["cutime"] + s["cstime"]
        if with_memory:
            p, r = memory_kb(pid, proc)
            pss += p
            rss += r
    return {"pids": len(pids), "cpu_ticks": ticks, "pss_kb": pss, "rss_kb": rss}


class Sampler:
    """Samples a system's tree in a thread while a scenario runs.

    roots_fn() returns the current root pids (a list). result() after
    stop() gives cpu seconds, peak and mean PSS, peak process count.
    """

    def __init__(self, roots_fn, interval=0.5):
        self.roots_fn = roots_fn
        self.interval = interval
        self.samples = []
        self._stop = threading.Event()
        self._thread = None
        self._t0 = None
        self._first = None
        self._last = None

    def _sample(self):
        try:
            roots = self.roots_fn()
        except Exception:  # a root that went away is not our failure
            roots = []
        return snapshot(roots)

    def start(self):
        self._t0 = time.monotonic()
        self._first = self._sample()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(self.interval):
            self.samples.append(self._sample())

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join()
        self._last = self._sample()
        self.samples.append(self._last)
        return self.result(time.monotonic() - self._t0)

    def result(self, wall):
        return summarize_samples(self._first, self.samples, wall)


def summarize_samples(first, samples, wall):
    """Reduce samples to {'cpu_s', 'cpu_pct', 'pss_peak_kb', 'pss_mean_kb', 'procs_peak'}."""
    if not samples or first is None:
        return {"cpu_s": None, "cpu_pct": None, "pss_peak_kb": None,
                "pss_mean_kb": None, "procs_peak": None}
    cpu_s = max(0, samples[-1]["cpu_ticks"] - first["cpu_ticks"]) / CLK_TCK
    pss = [s["pss_kb"] for s in samples]
    return {
        "cpu_s": cpu_s,
        "cpu_pct": 100.0 * cpu_s / wall if wall > 0 else None,
        "pss_peak_kb": max(pss),
        "pss_mean_kb": sum(pss) / len(pss),
        "procs_peak": max(s["pids"] for s in samples),
    }
