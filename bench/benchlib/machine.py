"""machine.py - describe the machine a benchmark ran on (for the table header)."""

import os
import platform


def cpu_model(cpuinfo_text):
    """First 'model name' in /proc/cpuinfo text, or None."""
    for line in cpuinfo_text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("model name", "Model", "cpu model"):
            return value.strip()
    return None


def mount_of(path, mounts_text):
    """(device, mountpoint, fstype) of the longest mountpoint containing path."""
    best = None
    path = os.path.realpath(path)
    for line in mounts_text.splitlines():
        f = line.split()
        if len(f) < 3:
            continue
        mp = f[1].replace("\\040", " ")
        if path == mp or path.startswith(mp.rstrip("/") + "/") or mp == "/":
            if best is None or len(mp) > len(best[1]):
                best = (f[0], mp, f[2])
    return best


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def describe(workdir):
    """Dict of machine facts; every value is a printable string."""
    cores = os.cpu_count() or 0
    model = cpu_model(_read("/proc/cpuinfo")) or platform.processor() or "unknown"
    mem = 0
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1])
    m = mount_of(workdir, _read("/proc/mounts"))
    disk = "%s on %s (%s)" % m if m else "unknown"
    dev = m[0] if m else ""
    rot = ""
    if dev.startswith("/dev/"):
        base = os.path.basename(dev).rstrip("0123456789")
        r = _read("/sys/block/%s/queue/rotational" % base).strip()
        if r == "0":
            rot = ", non-rotational"
        elif r == "1":
            rot = ", rotational"
    return {
        "cores": str(cores),
        "cpu": model,
        "memory": "%.1f GiB" % (mem / 1048576.0),
        "kernel": "%s %s" % (platform.system(), platform.release()),
        "disk": disk + rot,
        "os": _os_release(),
    }


def _os_release():
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return platform.platform()
