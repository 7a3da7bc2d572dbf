"""Connections spread evenly over the workers (src/server/handoff.c): a
burst lands half on each worker and every client is greeted at once; a
handed-over session works like any other; a descriptor sent by a process of
another uid to a worker's hand-over socket is refused, never served."""
import os
import re
import selectors
import socket
import struct
import time

import pytest

from conftest import wait_for
from imap_helpers import RawImap
from smtp_helpers import setup_accounts

HANDOFF_MAGIC = 0x706f6877
SVC_IMAP = 3


def start(postern_factory, **options):
    p = postern_factory(options={"server.workers": "2", "imap.max_per_ip": "0",
                                 "auth.failure_delay": "100", **options})
    setup_accounts(p.data)
    return p.start()


def connects(p, before=None):
    """pid -> IMAP connections logged (since before), and how many were
    handed over."""
    per_pid = {}
    for m in re.finditer(r"postern\[(\d+)\] worker \d+: info: \[\w+\] connect from .* to "
                         r"imap [^\n]*", p.log_text()):
        per_pid[m.group(1)] = per_pid.get(m.group(1), 0) + 1
    for pid, n in (before or {}).items():
        per_pid[pid] -= n
    return per_pid, p.log_text().count("(handed over)")


def test_burst_split_evenly(postern_factory):
    p = start(postern_factory)
    # the start's readiness probe, once it is in the log
    assert wait_for(lambda: sum(connects(p)[0].values()) > 0, 5)
    time.sleep(0.2)
    before, _ = connects(p)
    n = 40
    sel = selectors.DefaultSelector()
    socks = []
    t0 = time.monotonic()
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(p.addr("imap"))
        sel.register(s, selectors.EVENT_READ)
        socks.append(s)
    greeted = []
    while len(greeted) < n and time.monotonic() < t0 + 10:
        for key, _ in sel.select(1):
            assert key.fileobj.recv(4096).startswith(b"* OK")
            greeted.append(time.monotonic() - t0)
            sel.unregister(key.fileobj)
    assert len(greeted) == n
    assert max(greeted) < 1.0, max(greeted)
    for s in socks:
        s.close()
    per_pid, handed = connects(p, before)
    assert len(per_pid) == 2, per_pid
    a, b = per_pid.values()
    # even but for the connections both workers take at the same instant,
    # each seeing the other as loaded as itself
    assert a + b == n and abs(a - b) <= 4, per_pid
    print(f"split {per_pid}, {handed} handed over, last greeting after "
          f"{max(greeted) * 1000:.1f} ms")


def test_handed_over_sessions_work(postern_factory):
    p = start(postern_factory)
    clients = [RawImap(p.addr("imap")) for _ in range(10)]
    for r in clients:
        r.login()
        _, ok = r.cmd("SELECT INBOX")
        assert b"OK" in ok, ok
        r.cmd("LOGOUT")
        r.close()
    per_pid, handed = connects(p)
    assert len(per_pid) == 2 and handed > 0, (per_pid, handed)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another uid")
def test_descriptor_from_another_uid_dropped(postern_factory):
    p = start(postern_factory)
    master = p.master()
    port = p.addr("imap")[1]
    ours, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:  # the other local user
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            msg = struct.pack("=IIHxx", HANDOFF_MAGIC, SVC_IMAP, port)
            sent = 0
            deadline = time.monotonic() + 5  # until the workers listen
            while sent == 0 and time.monotonic() < deadline:
                for row in range(4):
                    out = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                    try:
                        out.connect(f"\0postern-handoff-{master}-{row}".encode())
                        socket.send_fds(out, [msg], [theirs.fileno()])
                        sent += 1
                    except OSError:
                        pass
                    out.close()
                time.sleep(0.05)
            os._exit(0 if sent > 0 else 3)
        except BaseException:
            os._exit(2)
    theirs.close()
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0, "no worker socket to send to"
    # Never served: no greeting; the worker closed its copies.
    ours.settimeout(5)
    assert ours.recv(100) == b""
    ours.close()
    assert wait_for(lambda: "handoff: refused a connection from uid 65534" in p.log_text(), 5)
    assert "connect from unknown" not in p.log_text()
