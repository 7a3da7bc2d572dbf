"""postern serve: listeners, process model, signals, limits, reload, TLS
material, configuration errors."""
import imaplib
import os
import select
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import (BIN, IMPLICIT_TLS, SERVICES, can_connect, free_port,
                      proc_uids, processes_using, run_cli, tls_client_context,
                      wait_for)

# What each service greets with (the ones not built yet: their protocol's
# "service not available").
NOT_AVAILABLE = {
    "smtp": b"220 mx.example.test ESMTP postern\r\n",
    "submission": b"220 mx.example.test ESMTP postern\r\n",
    "smtps": b"220 mx.example.test ESMTP postern\r\n",
    "imap": b"* OK [CAPABILITY IMAP4rev1 IMAP4rev2 ",
    "imaps": b"* OK [CAPABILITY IMAP4rev1 IMAP4rev2 ",
    "pop3": b"+OK mx.example.test POP3 server (postern) ready <",
    "pop3s": b"+OK mx.example.test POP3 server (postern) ready <",
    "http": b"HTTP/1.1 503",
    "https": b"HTTP/1.1 503",
}


def listening_sockets(pid):
    """(address, port) of every TCP socket in LISTEN state owned by pid."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        with open(table) as f:
            next(f)
            for line in f:
                cols = line.split()
                local, state, inode = cols[1], cols[3], cols[9]
                if state != "0A" or inode not in inodes:
                    continue
                addr_hex, port_hex = local.split(":")
                if v6:
                    raw = bytes.fromhex(addr_hex)
                    raw = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                    addr = socket.inet_ntop(socket.AF_INET6, raw)
                else:
                    addr = socket.inet_ntoa(bytes.fromhex(addr_hex)[::-1])
                found.add((addr, int(port_hex, 16)))
    return found


def hold(p, svc):
    """A TCP connection the server has admitted and keeps open (an implicit
    TLS port waiting for the handshake). Retries while readiness probes of
    the harness may still count against a limit."""
    for _ in range(20):
        s = socket.create_connection(p.addr(svc))
        if not select.select([s], [], [], 0.3)[0]:
            return s
        s.close()
    raise AssertionError("connection not held")


def test_every_listener_answers(server):
    for svc in SERVICES:
        greeting = server.greeting(svc)
        assert greeting.startswith(NOT_AVAILABLE[svc]), (svc, greeting)
        assert greeting.endswith(b"\r\n") or svc.startswith("http")


def test_listens_exactly_where_told(postern_factory):
    p = postern_factory(services=["imap", "pop3s"]).start()
    assert listening_sockets(p.proc.pid) == {
        ("127.0.0.1", p.ports["imap"]), ("127.0.0.1", p.ports["pop3s"])}
    # Services with an empty listen list are off.
    assert p.greeting("imap").startswith(b"* OK [CAPABILITY")


def test_ipv6_listener(postern_factory):
    if not socket.has_ipv6 or not can_bind_v6():
        pytest.skip("no IPv6 loopback on this machine")
    p = postern_factory(host="::1", services=["imap"]).start()
    assert listening_sockets(p.proc.pid) == {("::1", p.ports["imap"])}
    with socket.create_connection(("::1", p.ports["imap"]), timeout=5) as s:
        assert s.recv(100).startswith(b"* OK [CAPABILITY")


def can_bind_v6():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_worker_killed_is_replaced_within_a_second(server):
    before = server.workers()
    assert len(before) == 2
    victim = before[0]
    os.kill(victim, signal.SIGKILL)
    t0 = time.monotonic()
    after = wait_for(lambda: (lambda w: w if len(w) == 2 and victim not in w else None)(
        server.workers()), timeout=3, interval=0.02)
    elapsed = time.monotonic() - t0
    assert after and victim not in after, server.log_text()
    assert elapsed < 1.0, f"replacement took {elapsed:.2f}s"
    assert server.greeting("pop3").startswith(b"+OK")
    assert "killed by signal 9" in server.log_text()


def test_sigterm_stops_every_process_within_grace(server):
    pids = [server.proc.pid] + server.workers()
    t0 = time.monotonic()
    server.signal(signal.SIGTERM)
    server.proc.wait(timeout=10)
    assert time.monotonic() - t0 < 3 + 2
    assert server.proc.returncode == 0
    assert wait_for(lambda: not any(os.path.exists(f"/proc/{p}") and
                                    open(f"/proc/{p}/stat").read().split()[2] != "Z"
                                    for p in pids), 3)


def test_sigterm_waits_for_sessions_then_cuts_them(postern_factory):
    # An implicit-TLS connection in its handshake is a session in progress.
    p = postern_factory(options={"server.grace": "2s"}).start()
    held = hold(p, "imaps")
    t0 = time.monotonic()
    p.signal(signal.SIGTERM)
    p.proc.wait(timeout=10)
    elapsed = time.monotonic() - t0
    assert 1.5 < elapsed < 2 + 2.5, elapsed
    held.close()
    assert "grace period over, closing 1 sessions" in p.log_text()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to test privilege dropping")
def test_no_worker_runs_as_root(server):
    assert proc_uids(server.proc.pid)[0] == 0  # the master keeps root to rebind
    for pid in server.workers():
        uids = proc_uids(pid)
        assert uids and all(u != 0 for u in uids), (pid, uids)
    # The data directory now belongs to the service user.
    assert os.stat(server.data).st_uid != 0


def test_self_signed_certificate_generated_and_reused(postern_factory):
    p = postern_factory(services=["imaps"]).start()
    cert = p.data / "tls" / "selfsigned.crt"
    key = p.data / "tls" / "selfsigned.key"
    assert cert.exists() and key.exists()
    assert (key.stat().st_mode & 0o777) == 0o600
    with p.connect("imaps") as s:
        der1 = s.getpeercert(binary_form=True)
    p.stop()
    p.start()
    with p.connect("imaps") as s:
        der2 = s.getpeercert(binary_form=True)
    assert der1 == der2
    # It names the host and localhost.
    text = subprocess.run(["openssl", "x509", "-noout", "-text", "-in", str(cert)],
                          capture_output=True, text=True).stdout
    assert "DNS:mx.example.test" in text and "DNS:localhost" in text


def test_tls_versions(server):
    for svc in ("imaps", "pop3s", "smtps", "https"):
        ctx = tls_client_context()
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        try:
            ctx.set_ciphers("ALL:@SECLEVEL=0")
        except ssl.SSLError:
            pass
        with socket.create_connection(server.addr(svc), timeout=5) as raw:
            with pytest.raises((ssl.SSLError, ConnectionResetError)):
                ctx.wrap_socket(raw).recv(10)
        ctx = tls_client_context()
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        with ctx.wrap_socket(socket.create_connection(server.addr(svc), timeout=5)) as s:
            assert s.version() == "TLSv1.2"
            assert s.recv(100).startswith(NOT_AVAILABLE[svc])


def test_per_ip_limit(postern_factory):
    p = postern_factory(options={"pop3s.max_per_ip": "2", "pop3.max_per_ip": "2"}).start()
    # Implicit-TLS connections that have not finished their handshake count.
    held = [hold(p, "pop3s") for _ in range(2)]
    with socket.create_connection(p.addr("pop3s"), timeout=5) as s:
        assert s.recv(100) == b""  # closed at once, no plaintext on a TLS port
    # Limits are per service: pop3 is still open.
    assert p.greeting("pop3").startswith(b"+OK")
    for s in held:
        s.close()
    # Released: a new TLS client is served again.
    assert wait_for(lambda: try_tls_greeting(p, "pop3s"), 5)
    assert "too many connections from your address" in p.log_text()


def try_tls_greeting(p, svc):
    try:
        return p.greeting(svc).startswith(b"+OK")
    except OSError:
        return False


def test_total_limit_refusal_text(postern_factory):
    p = postern_factory(options={"imaps.max_connections": "1",
                                 "imap.max_connections": "0"}).start()
    held = hold(p, "imaps")
    with socket.create_connection(p.addr("imaps"), timeout=5) as s:
        assert s.recv(100) == b""
    held.close()
    assert "refused" in p.log_text() and "too many connections" in p.log_text()


def test_idle_timeout(postern_factory):
    p = postern_factory(options={"imaps.idle_timeout": "1s"}).start()
    with socket.create_connection(p.addr("imaps"), timeout=10) as s:
        t0 = time.monotonic()
        assert s.recv(100) == b""
        assert 0.5 < time.monotonic() - t0 < 5


def test_tls_handshake_time_limit(postern_factory):
    """A client that never finishes its TLS handshake is let go after
    tls.handshake_timeout, even where sessions may idle long (STARTTLS) or
    for ever (idle_timeout 0); once the handshake is done, the idle time-out
    rules again."""
    p = postern_factory(options={"tls.handshake_timeout": "2s", "imaps.idle_timeout": "0",
                                 "imap.idle_timeout": "30m"}).start()
    # Implicit TLS: connected, and never a ClientHello.
    with socket.create_connection(p.addr("imaps"), timeout=10) as s:
        t0 = time.monotonic()
        assert s.recv(100) == b""
        assert 1.5 < time.monotonic() - t0 < 6
    # STARTTLS answered, then silence.
    with socket.create_connection(p.addr("imap"), timeout=10) as s:
        f = s.makefile("rb")
        assert f.readline().startswith(b"* OK")
        s.sendall(b"a STARTTLS\r\n")
        assert f.readline().startswith(b"a OK")
        t0 = time.monotonic()
        assert s.recv(100) == b""
        assert 1.5 < time.monotonic() - t0 < 6
    # Handshake done: the session idles past the handshake limit.
    c = imaplib.IMAP4(*p.addr("imap"), timeout=10)
    c.starttls(ssl_context=tls_client_context())
    time.sleep(3)
    assert c.noop()[0] == "OK"
    c.logout()


def test_sighup_reload_keeps_listeners_and_adds_new(postern_factory, tmp_path):
    p = postern_factory(services=["pop3", "imap"], options={"pop3s.listen": None})
    new_port = free_port()
    p.config = p.tmp / "postern.conf"
    p.config.write_text("[log]\nlevel = info\n")
    p.start()
    old_workers = p.workers()
    failures = []
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            try:
                with socket.create_connection(p.addr("pop3"), timeout=5) as s:
                    if not s.recv(100).startswith(b"+OK"):
                        failures.append("bad greeting")
            except OSError as e:
                failures.append(str(e))

    t = threading.Thread(target=hammer)
    t.start()
    try:
        p.config.write_text(f"[pop3s]\nlisten = 127.0.0.1:{new_port}\n")
        p.signal(signal.SIGHUP)
        assert wait_for(lambda: can_connect("127.0.0.1", new_port), 5), p.log_text()
        assert wait_for(lambda: not set(old_workers) & set(p.workers()), 8)
        time.sleep(0.3)
    finally:
        stop.set()
        t.join()
    assert failures == [], failures
    assert len(p.workers()) == 2
    with tls_client_context().wrap_socket(
            socket.create_connection(("127.0.0.1", new_port), timeout=5)) as s:
        assert s.recv(100).startswith(b"+OK")


def test_sighup_with_bad_config_keeps_running(postern_factory):
    p = postern_factory(services=["pop3"])
    p.config = p.tmp / "postern.conf"
    p.config.write_text("[log]\nlevel = info\n")
    p.start()
    workers = p.workers()
    p.config.write_text("[pop3]\nmax_per_ip = lots\n")
    p.signal(signal.SIGHUP)
    assert wait_for(lambda: "reload failed" in p.log_text(), 5)
    assert p.workers() == workers
    assert p.greeting("pop3").startswith(b"+OK")


def test_sighup_reloads_certificate(postern_factory, tmp_path):
    certdir = tmp_path / "certs"
    certdir.mkdir()

    def make_cert(cn):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                        "-subj", f"/CN={cn}", "-keyout", str(certdir / "key.pem"),
                        "-out", str(certdir / "cert.pem")], check=True,
                       capture_output=True)

    make_cert("first.example.test")
    p = postern_factory(services=["imaps"], options={
        "tls.cert": str(certdir / "cert.pem"), "tls.key": str(certdir / "key.pem")}).start()

    def subject_cn():
        with p.connect("imaps") as s:
            der = s.getpeercert(binary_form=True)
        pem = ssl.DER_cert_to_PEM_cert(der)
        out = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=pem,
                             capture_output=True, text=True).stdout
        return out

    assert "first.example.test" in subject_cn()
    make_cert("second.example.test")
    p.signal(signal.SIGHUP)
    assert wait_for(lambda: "second.example.test" in subject_cn(), 8), p.log_text()


def test_serve_rejects_unknown_key_and_bad_value(tmp_path):
    r = run_cli("serve", "-o", "imap.lisen=127.0.0.1:1", data=tmp_path / "v")
    assert r.returncode != 0
    assert "imap.lisen" in r.stderr and "unknown key" in r.stderr
    r = run_cli("serve", "-o", "imap.listen=localhost:143", data=tmp_path / "v")
    assert r.returncode != 0 and "imap.listen" in r.stderr
    r = run_cli("serve", "-o", "smtp.listen=127.0.0.1:99999", data=tmp_path / "v")
    assert r.returncode != 0 and "smtp.listen" in r.stderr
    assert not (tmp_path / "v").exists()


def test_serve_port_in_use_is_a_clear_error(postern_factory, tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        r = subprocess.run([BIN, "serve", "--data", str(tmp_path / "v"), "-o",
                            f"imap.listen=127.0.0.1:{port}"] +
                           [x for s in SERVICES if s != "imap"
                            for x in ("-o", f"{s}.listen=")],
                           capture_output=True, text=True, timeout=20)
        assert r.returncode != 0
        assert f"imap 127.0.0.1:{port}: cannot listen: Address already in use" in r.stderr
    finally:
        busy.close()


def test_workers_die_with_the_master(server):
    workers = server.children()  # the queue runner too
    server.proc.kill()  # SIGKILL: no chance to tell anyone
    server.proc.wait()
    assert wait_for(lambda: not any(os.path.exists(f"/proc/{w}") and
                                    open(f"/proc/{w}/stat").read().split()[2] != "Z"
                                    for w in workers), 5)
