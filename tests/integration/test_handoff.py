"""Connections spread evenly over the workers (src/server/handoff.c): a
burst lands half on each worker and every client is greeted at once; a
handed-over session works like any other; a descriptor sent by a process of
another uid to a worker's hand-over socket is refused, never served."""
import os
import re
import selectors
import signal
import socket
import struct
import time

import pytest

from conftest import handoff_sockets, wait_for
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


def worker_uid(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    raise AssertionError(f"no Uid line for {pid}")


def hand_over(master, row, uid, fd, svc, port, before_send):
    """As a process of uid (a worker's), connect to row's hand-over socket,
    call before_send() in the parent once connected, then hand fd over as
    a worker would."""
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            out = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            out.connect(f"\0postern-handoff-{master}-{row}".encode())
            os.write(w1, b"c")
            os.read(r2, 1)
            socket.send_fds(out, [struct.pack("=IIHxx", HANDOFF_MAGIC, svc, port)], [fd])
            os._exit(0)
        except BaseException:
            os._exit(2)
    os.close(w1)
    os.close(r2)
    try:
        assert os.read(r1, 1) == b"c", "could not connect to the hand-over socket"
        before_send()
        os.write(w2, b"g")
    finally:
        os.close(r1)
        os.close(w2)
        _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0


def tcp_pair():
    """A loopback TCP connection: (client end, server end)."""
    ls = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(ls.getsockname())
    server_end, _ = ls.accept()
    ls.close()
    return client, server_end


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as the workers' uid")
def test_handed_over_to_a_stopping_worker_gets_goodbye(postern_factory):
    """A connection handed over in a worker's last instant (it is stopping:
    a session in DATA keeps it running for server.grace) is told so, never
    closed unanswered."""
    p = postern_factory(services=["smtp", "imap"], options={"server.workers": "1"})
    setup_accounts(p.data)
    p.start()
    worker = p.workers()[0]
    smtp = socket.create_connection(p.addr("smtp"), timeout=10)
    f = smtp.makefile("rb")
    f.readline()
    for line, code in ((b"EHLO t", b"250 "), (b"MAIL FROM:<a@remote.test>", b"250 "),
                       (b"RCPT TO:<carol@example.test>", b"250 "), (b"DATA", b"354 ")):
        smtp.sendall(line + b"\r\n")
        while not (reply := f.readline()).startswith(code):
            assert reply[3:4] == b"-", reply
    smtp.sendall(b"Subject: held\r\n\r\nin DATA while the worker stops\r\n")
    client, server_end = tcp_pair()

    def stop_worker():
        os.kill(worker, signal.SIGTERM)
        assert wait_for(lambda: "stopping: 1 sessions to finish" in p.log_text(), 5)

    hand_over(p.master(), 0, worker_uid(worker), server_end.fileno(), SVC_IMAP,
              p.addr("imap")[1], stop_worker)
    server_end.close()
    client.settimeout(5)
    got = b""
    while chunk := client.recv(4096):
        got += chunk
    assert got == b"* BYE [UNAVAILABLE] Server shutting down\r\n"
    # The session in DATA still ends as it should: its message is taken,
    # then the server says it is going.
    smtp.sendall(b".\r\n")
    assert f.readline().startswith(b"250 ")
    assert f.readline().startswith(b"421 4.3.2 ")
    smtp.close()
    client.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as the workers' uid")
def test_handed_over_as_a_worker_ends_gets_goodbye(postern_factory):
    """A connection still queued on the hand-over socket when an idle
    worker stops (its loop ends at once) is answered too: the worker is
    frozen, the connection queued and SIGTERM sent, then it runs on.
    Whichever it sees first, the client is told the server is going."""
    p = postern_factory(services=["imap"], options={"server.workers": "1"})
    setup_accounts(p.data)
    p.start()
    worker = p.workers()[0]
    client, server_end = tcp_pair()
    os.kill(worker, signal.SIGSTOP)
    try:
        hand_over(p.master(), 0, worker_uid(worker), server_end.fileno(), SVC_IMAP,
                  p.addr("imap")[1], lambda: None)
        os.kill(worker, signal.SIGTERM)
    finally:
        os.kill(worker, signal.SIGCONT)
    server_end.close()
    client.settimeout(5)
    got = b""
    while chunk := client.recv(4096):
        got += chunk
    # A greeting first when the connection was taken before the signal.
    assert got.endswith(b"* BYE [UNAVAILABLE] Server shutting down\r\n"), got
    client.close()


def handoff_row(master, pid):
    """The row whose hand-over socket worker pid listens on."""
    inodes = {}
    with open("/proc/net/unix") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 8 and parts[7].startswith(f"@postern-handoff-{master}-"):
                inodes[parts[6]] = int(parts[7].rsplit("-", 1)[1])
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:[") and link[8:-1] in inodes:
            return inodes[link[8:-1]]
    raise AssertionError(f"no hand-over socket for {pid}")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another uid")
def test_squatted_handoff_name_never_given_clients(postern_factory):
    """The name of a worker that died, bound by another local user before
    the master noticed (it is frozen here to hold that instant open), is
    not handed clients: the worker checks who holds it."""
    p = start(postern_factory)
    master = p.master()
    a, b = p.workers()
    row = handoff_row(master, b)
    r, w = os.pipe()
    ready_r, ready_w = os.pipe()
    os.kill(master, signal.SIGSTOP)
    try:
        os.kill(b, signal.SIGKILL)
        # gone (a zombie: the frozen master does not reap it) with its socket
        name = f"@postern-handoff-{master}-{row}"
        assert wait_for(lambda: name not in handoff_sockets(master), 5)
        pid = os.fork()
        if pid == 0:  # the other local user, listening on b's name
            try:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
                ls = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                ls.bind(f"\0postern-handoff-{master}-{row}".encode())
                ls.listen(8)
                os.write(ready_w, b"r")
                ls.settimeout(3)
                got = 0
                try:
                    while True:
                        c, _ = ls.accept()
                        c.settimeout(1)
                        try:
                            _, fds, _, _ = socket.recv_fds(c, 64, 4)
                            got += len(fds)
                        except OSError:
                            pass
                except OSError:
                    pass
                os.write(w, str(got).encode())
                os._exit(0)
            except BaseException:
                os._exit(2)
        assert os.read(ready_r, 1) == b"r"
        # Clients land on the living worker, which would hand some over
        # to the one that looks less busy.
        clients = []
        for _ in range(6):
            s = socket.create_connection(p.addr("imap"), timeout=5)
            assert s.recv(100).startswith(b"* OK"), "a client was not greeted"
            clients.append(s)
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0
        assert os.read(r, 16) == b"0", "clients were handed to the other user"
        for s in clients:
            s.close()
    finally:
        os.kill(master, signal.SIGCONT)
    assert wait_for(lambda: "not a worker: not used" in p.log_text(), 5), p.log_text()[-3000:]
