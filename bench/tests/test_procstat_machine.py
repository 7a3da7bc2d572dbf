"""Unit tests of /proc parsing, process trees and machine description."""
import os

import _path  # noqa: F401

from benchlib import machine, procstat, servers


STAT = ("1234 (imap (x) y) S 77 1234 1234 0 -1 4194560 500 0 0 0 "
        "11 22 33 44 20 0 1 0 100 1000000 200 18446744073709551615")


def test_parse_stat_with_parens_in_name():
    st = procstat.parse_stat(STAT)
    assert st["pid"] == 1234 and st["comm"] == "imap (x) y" and st["ppid"] == 77
    assert (st["utime"], st["stime"], st["cutime"], st["cstime"]) == (11, 22, 33, 44)
    assert procstat.parse_stat("garbage") is None


def test_parse_smaps_rollup():
    text = "00400000-7fff [rollup]\nRss:        2048 kB\nPss:         700 kB\nSwap: 0 kB\n"
    m = procstat.parse_smaps_rollup(text)
    assert m["Rss"] == 2048 and m["Pss"] == 700


def test_descendants():
    ppid = {1: 0, 10: 1, 11: 10, 12: 11, 20: 1, 21: 20}
    assert procstat.descendants([10], ppid) == {10, 11, 12}
    assert procstat.descendants([99], ppid) == set()


def test_summarize_samples():
    first = {"cpu_ticks": 100, "pss_kb": 10, "pids": 2}
    samples = [{"cpu_ticks": 150, "pss_kb": 30, "pids": 4},
               {"cpu_ticks": 300, "pss_kb": 20, "pids": 3}]
    r = procstat.summarize_samples(first, samples, 2.0)
    assert r["cpu_s"] == 200 / procstat.CLK_TCK
    assert r["pss_peak_kb"] == 30 and r["procs_peak"] == 4


def test_snapshot_of_this_process():
    s = procstat.snapshot([os.getpid()])
    assert s["pids"] >= 1 and s["pss_kb"] > 0


def test_machine_helpers():
    assert machine.cpu_model("processor: 0\nmodel name\t: Foo CPU @ 2GHz\n") == "Foo CPU @ 2GHz"
    mounts = "/dev/vda / ext4 rw 0 0\ntmpfs /tmp tmpfs rw 0 0\n"
    assert machine.mount_of("/tmp/x", mounts) == ("tmpfs", "/tmp", "tmpfs")
    assert machine.mount_of("/var/lib", mounts) == ("/dev/vda", "/", "ext4")
    d = machine.describe("/")
    assert d["cores"].isdigit() and d["kernel"].startswith("Linux")


def test_sink_counter_parsing():
    assert servers.parse_sink_counters("") == 0
    assert servers.parse_sink_counters("sess=1 quit=1 mesg=7\rsess=2 quit=2 mesg=12\r") == 12
