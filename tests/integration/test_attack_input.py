"""Attack suite, input part (issue #8): hostile content, names and timing
against the real `postern serve` on loopback. MIME bombs fetched over IMAP,
hostile mailbox, login and domain names (file access checked with strace),
shell metacharacters in every envelope field (execve checked with strace),
login floods and login timing, 5,000 slow connections, and TLS
close_notify in the middle of a BDAT chunk or an IMAP literal followed by
plaintext. Every result is recorded in docs/security.md ("Attack suite")."""
import base64
import codecs
import imaplib
import os
import re
import resource
import selectors
import smtplib
import socket
import ssl
import statistics
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import BIN, Postern, run_cli, tls_client_context
from imap_helpers import RawImap
from smtp_helpers import PASSWORD, Raw, setup_accounts
from test_attack_protocols import (assert_grew_less, fast_reply, memory,
                                   new_messages, start_server, stop_server, stored)

MiB = 1024 * 1024


@pytest.fixture
def fresh(tmp_path):
    """Servers of the test's own, stopped and checked at its end."""
    made = []

    def make(wrapper=None, **options):
        sub = tmp_path / f"p{len(made)}"
        if wrapper is None:
            p = start_server(sub, options)
        else:
            p = Postern(sub, options={"auth.failure_delay": "100", **options},
                        wrapper=wrapper(sub))
            setup_accounts(p.data)
            p.start()
        made.append(p)
        return p

    yield make
    for p in made:
        stop_server(p)


def timed(fn):
    t0 = time.monotonic()
    value = fn()
    return value, time.monotonic() - t0


# ---- 1. MIME bombs, fetched over IMAP ---------------------------------------

HEAD = (b"From: bob@remote.test\r\nTo: alice@example.test\r\n"
        b"Subject: bomb\r\nMIME-Version: 1.0\r\n")


def deep_message(depth):
    out = [HEAD]
    for i in range(depth):
        out.append(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i))
    out.append(b"Content-Type: text/plain\r\n\r\nneedle at the bottom\r\n")
    out += [b"--b%d--\r\n" % i for i in reversed(range(depth))]
    return b"".join(out)


def params_message(count):
    # RFC 2231 sections (p7*3=...), encoded sections (p7*4*=%41) and
    # charset-tagged first sections, over 1,000 names.
    fields = []
    for i in range(count):
        name, sec = i % 1000, i // 1000
        if sec == 0:
            fields.append(b"p%d*0*=us-ascii'en'%%41" % name)
        elif i % 2:
            fields.append(b"p%d*%d*=%%42" % (name, sec))
        else:
            fields.append(b"p%d*%d=c" % (name, sec))
    return (HEAD + b"Content-Type: text/plain;\r\n " + b";\r\n ".join(fields) +
            b"\r\n\r\nneedle in the body\r\n")


def parts_message(count):
    return (HEAD + b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
            b"--b\r\n\r\nneedle first\r\n" + b"--b\r\n\r\nx\r\n" * (count - 1) +
            b"--b--\r\n")


BOMBS = {
    # name: (message, section path asked for)
    "10000-deep": (deep_message(10000), ".".join(["1"] * 10000)),
    "100000-params": (params_message(100000), "1"),
    "100000-parts": (parts_message(100000), "99999"),
}


@pytest.mark.parametrize("bomb", list(BOMBS))
def test_mime_bomb(fresh, bomb):
    message, section = BOMBS[bomb]
    p = fresh()
    r = RawImap(p.addr("imap"), timeout=30)
    r.login()  # (the password hash's 64 MiB are not the message's)
    r.cmd("SELECT INBOX")
    mem0 = memory(p)
    with smtplib.SMTP(*p.addr("smtp"), timeout=30) as s:
        _, took = timed(lambda: s.sendmail("bob@remote.test", ["alice@example.test"],
                                           message))
    assert took < 5.0, took
    untagged, _ = r.cmd("NOOP")
    assert b"* 1 EXISTS\r\n" in untagged, untagged
    commands = ["FETCH 1 BODYSTRUCTURE", "FETCH 1 (ENVELOPE BODY)",
                f"FETCH 1 BODY.PEEK[{section}]", f"FETCH 1 BODY.PEEK[{section}.MIME]",
                "FETCH 1 BINARY.PEEK[1]", "SEARCH TEXT needle", "SEARCH BODY nothing-like-it",
                "FETCH 1 BODY.PEEK[]"]
    slowest = 0.0
    for command in commands:
        (untagged, ok), took = timed(lambda: r.cmd(command))
        assert ok.split()[1] in (b"OK", b"NO"), (command, ok[:200])
        slowest = max(slowest, took)
        assert took < 3.0, (command, took)
        if command.startswith("SEARCH TEXT"):
            # Below the depth cap (32) parts are not split, and the text
            # of an unsplit multipart is not searched.
            found = [b"* SEARCH\r\n"] if bomb == "10000-deep" else [b"* SEARCH 1\r\n"]
            assert untagged == found, untagged
        if command == "FETCH 1 BODY.PEEK[]":
            assert message in untagged[0], "the message is not given back whole"
    assert_grew_less(mem0, memory(p), 32 * 1024)
    r.close()
    assert fast_reply(p, limit=1.0) < 1.0
    print(f"{bomb}: {len(message)} bytes, slowest command {slowest:.2f} s, "
          f"memory {mem0} -> {memory(p)} KiB")


# ---- strace ------------------------------------------------------------------

def strace(log, trace):
    def wrapper(sub):
        sub.mkdir(parents=True, exist_ok=True)
        return ["strace", "-f", "-y", "-s", "65536", "-e", f"trace={trace}",
                "-o", str(sub / log)]
    return wrapper


SYSCALL = re.compile(r"^(\d+) +(\w+)\((.*)")
# The end of a call strace split around another process's ("<unfinished ...>").
RESUMED = re.compile(r"^(\d+) +<\.\.\. (\w+) resumed>")
# A path argument: a string, possibly after a directory descriptor.
PATH_ARG = re.compile(r'(?:^|, )(?:(AT_FDCWD|-?\d+)(?:<((?:[^>\\]|\\.)*)>)?, )?'
                      r'"((?:[^"\\]|\\.)*)"')
CREATING = {"mkdir", "mkdirat", "rename", "renameat", "renameat2", "link", "linkat",
            "symlink", "symlinkat", "unlink", "unlinkat", "rmdir", "creat", "mknod",
            "mknodat", "truncate"}


def unescape(s):
    return codecs.escape_decode(s.encode("latin-1", "backslashreplace"))[0].decode(
        "utf-8", "surrogateescape")


def traced_paths(log, cwd, after=None):
    """(syscall, absolute normalised path, creates) for every path argument
    of every file system call in an `strace -f -y` log; only those after
    the first line holding after, when given."""
    out = []
    pending = {}  # pid -> directory of a chdir strace split around another call
    lines = Path(log).read_text(errors="surrogateescape").splitlines()
    if after is not None:
        lines = lines[next(i for i, l in enumerate(lines) if after in l):]
    for line in lines:
        r = RESUMED.match(line)
        if r:
            if r.group(2) == "chdir" and r.group(1) in pending and line.rstrip().endswith("= 0"):
                cwd = pending.pop(r.group(1))
            continue
        m = SYSCALL.match(line)
        if not m:
            continue
        call, args = m.group(2), m.group(3)
        if call == "fchdir":  # the master works in the data directory this way
            f = re.match(r'-?\d+<((?:[^>\\]|\\.)*)>\)\s+= 0', args)
            if f:
                cwd = unescape(f.group(1))
            continue
        if call.startswith("exec"):
            args = args.split(", [", 1)[0]
        creates = call in CREATING or (call.startswith("open") and "O_CREAT" in args)
        for fd, fd_path, path in PATH_ARG.findall(args):
            path = unescape(path)
            # (a descriptor that is no directory, as inotify's: the cwd)
            base = unescape(fd_path) if fd_path.startswith("/") else cwd
            full = os.path.normpath(os.path.join(base, path))
            out.append((call, full, creates))
        if call == "chdir" and line.rstrip().endswith("= 0"):
            cwd = out[-1][1]
        elif call == "chdir" and "<unfinished" in line:
            pending[m.group(1)] = out[-1][1]
    return out


SYSTEM = ("/etc/", "/usr/", "/lib", "/proc/", "/dev/", "/sys/")


def outside(paths, allowed):
    """Paths not in an allowed tree nor a system one; the allowed paths'
    ancestors may be looked at (realpath() of the data directory)."""
    def ok(path, a):
        return (path == a or path.startswith(a.rstrip("/") + "/") or
                a.startswith(path.rstrip("/") + "/"))
    return sorted({(call, path) for call, path, creates in paths
                   if not path.startswith(SYSTEM) and
                   not any(ok(path, a) and not (creates and a.startswith(path + "/"))
                           for a in allowed)})


# ---- 2. Hostile mailbox, login and domain names --------------------------------

HOSTILE_MAILBOXES = [
    "..", "../../etc", "../..", "/etc/passwd", "/", "//", "~root", "~", "~/x",
    "%", "*", "a%b", "a*b", "\x00", "a\x00b", "INBOX\x00../../x", "&", "&-&",
    "&AGE", "&AC4ALg-", "&AC8-etc", "&AC4ALgAv-etc", "&Jjo!", "&ZeVnLIqe",
    "x" * 10240, "d." * 200 + "d", ".".join(["e"] * 4000), "INBOX/../x", "INBOX/..",
    "INBOX..x", ".hidden", "x.", "..x", "INBOX.", "a\\b", "..\\..\\etc", "\\",
    "a\x01b", "a\tb", "a\rb", "a\nb", "a\x7fb", "new", "cur", "tmp", "INBOX.new",
    "INBOX.tmp", "..%2f..%2fetc", "$HOME", "`id`", "$(id)", "a;b", "|x",
    "\u202e\u2024\u2024", "\xe9t\xe9", "..\u2215etc", "\ufeff..", "x/",
    "Trash/../../../etc",
]

HOSTILE_LOGINS = [
    "../x@example.test", "a/b@c", "../../etc/passwd", "/etc/passwd@example.test",
    "alice@example.test/../bob", "alice@../../etc", "x\x00y@example.test",
    "alice@example.test\x00", "~root@example.test", "%@example.test",
    "z" * 10240 + "@example.test",
]

HOSTILE_DOMAINS = [
    "../../etc", "..", ".", "/etc/passwd", "example.test/../../etc", "[../../etc]",
    "%", "*", "~root", "a\\b", "example.test/../alice", "[IPv6:../..]",
    "d" * 300, "a..b", "-x-", "\u2024\u2024", "example.test%00.evil",
]


def imap_string(name):
    raw = name.encode("utf-8", "surrogatepass")
    return b"{%d+}\r\n" % len(raw) + raw


def quoted(name):
    if any(c in name for c in "\x00\r\n") or not name.isascii():
        return None
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def imap_names_attack(p):
    r = RawImap(p.addr("imap"), timeout=30)
    r.login()
    r.cmd("CREATE attack-starts-here")  # a mark in the strace log
    r.cmd("CREATE good")
    msg = b"Subject: x\r\n\r\nx\r\n"
    answers = {}
    for name in HOSTILE_MAILBOXES:
        for form in (imap_string(name), (quoted(name) or "").encode()):
            if not form:
                continue
            for cmd in (b"CREATE %s", b"SELECT %s", b"STATUS %s (MESSAGES UIDNEXT)",
                        b"APPEND %s {%d+}\r\n%s" % (b"%s", len(msg), msg),
                        b"RENAME good %s", b"RENAME %s good2", b"DELETE %s",
                        b"SUBSCRIBE %s", b"LIST \"\" %s"):
                _, ok = r.cmd(cmd.replace(b"%s", form, 1))
                r.cmd("NOOP")  # 20 BADs in a row end the session
                answers[ok.split()[1]] = answers.get(ok.split()[1], 0) + 1
    r.cmd("LOGOUT")
    r.close()
    return answers


def login_names_attack(p):
    for name in HOSTILE_LOGINS:
        r = RawImap(p.addr("imap"))
        _, ok = r.cmd(b"LOGIN " + imap_string(name) + b" " + imap_string(PASSWORD))
        assert b" NO " in ok or b" BAD " in ok, (name, ok)
        r.close()
        pop = socket.create_connection(p.addr("pop3"), timeout=10)
        pop.recv(512)
        pop.sendall(b"USER " + name.encode() + b"\r\nPASS " + PASSWORD.encode() +
                    b"\r\nQUIT\r\n")
        got = b""
        while got.count(b"\r\n") < 3:
            chunk = pop.recv(4096)
            if not chunk:
                break
            got += chunk
        assert got.split(b"\r\n")[1].startswith(b"-ERR"), (name, got[:200])
        pop.close()
        c = Raw(p.addr("submission"))
        c.cmd("EHLO attacker.test")
        code, _ = c.auth_plain(name)
        assert code in (500, 501, 535), (name, code)
        c.close()


def domains_attack(p):
    for svc in ("smtp", "submission"):
        c = Raw(p.addr(svc))
        c.cmd("EHLO attacker.test")
        if svc == "submission":
            assert c.auth_plain("alice@example.test")[0] == 235
        for domain in HOSTILE_DOMAINS:
            for local in ("x", "alice", "../../tmp/x"):
                c.cmd("RSET")
                assert c.cmd("MAIL FROM:<alice@example.test>")[0] == 250
                code, _ = c.cmd(f"RCPT TO:<{local}@{domain}>")
                if code == 250:
                    assert c.cmd("DATA")[0] == 354
                    c.send(b"Subject: x\r\n\r\nx\r\n.\r\n")
                    c.reply()
        c.close()


def test_hostile_names_touch_no_file_outside(fresh):
    p = fresh(wrapper=strace("files.strace", "%file,fchdir"), **{"smtpd.max_errors": "100000"})
    data = os.path.realpath(p.data)
    alice = os.path.join(data, "mail", "example.test", "alice")
    before = {str(f) for f in Path(data).rglob("*")}
    answers = imap_names_attack(p)
    login_names_attack(p)
    domains_attack(p)
    assert fast_reply(p) < 2.0
    p.stop()
    paths = traced_paths(p.tmp / "files.strace", os.getcwd())
    assert len(paths) > 1000, "strace saw too little"
    # Outside the data directory: only the system's files and the binary.
    assert outside(paths, [data, BIN]) == [], outside(paths, [data, BIN])
    # Creation, renaming and removal: only in alice's Maildir, the queue,
    # the store's tmp/ (names of the server's making), the submission
    # socket's directory and the data directory's own databases.
    own = tuple(os.path.join(data, d) + "/" for d in
                ["mail/example.test/alice", "queue", "tmp", "public"])

    def foreign(path):
        return not (path.startswith(own) or os.path.dirname(path) == data or
                    path == alice or alice.startswith(path + "/"))

    created = sorted({path for _, path, creates in
                      traced_paths(p.tmp / "files.strace", data, "attack-starts-here")
                      if creates and foreign(path)})
    assert created == [], "\n".join(created)
    after = {str(f) for f in Path(data).rglob("*")}
    assert [f for f in sorted(after - before) if foreign(f)] == []
    assert answers.get(b"OK") and answers.get(b"NO") and answers.get(b"BAD"), answers


# ---- 3. Shell metacharacters in every envelope field ---------------------------

def shell_words(marker):
    """Ways a shell would run `touch marker` if handed the word."""
    return [f"$(touch {marker})", f"`touch {marker}`", f";touch {marker}",
            f"|touch {marker}", f"&&touch {marker}", f"'\";touch {marker};'",
            f"$(touch${{IFS}}{marker})", f"\ntouch {marker}"]


def smtp_quote(word):
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def execs(log):
    return [l for l in Path(log).read_text(errors="replace").splitlines()
            if re.match(r"^\d+ +exec", l) and "resumed>" not in l]


def test_shell_metacharacters_exec_nothing(fresh, tmp_path):
    marker = tmp_path / "marker"
    p = fresh(wrapper=strace("exec.strace", "execve,execveat"),
              **{"smtpd.max_errors": "100000"})
    words = shell_words(marker)
    for svc in ("smtp", "submission"):
        for word in words:
            c = Raw(p.addr(svc))
            assert c.cmd("HELO " + word.replace("\n", " "))[0] == 501
            assert c.cmd("EHLO " + word.replace("\n", " "))[0] == 501
            c.cmd("EHLO attacker.test")
            if svc == "submission":
                c.auth_plain(word + "@example.test")  # refused
                c.auth_plain("alice@example.test", password=word)
                assert c.auth_plain("alice@example.test")[0] == 235
            local = smtp_quote(word.replace("\n", " "))
            c.cmd(f"MAIL FROM:<{local}@example.test>")
            for rcpt in (f"{local}@example.test", f"{local}@elsewhere.test",
                         f"alice@{word.split()[0]}", "bob@example.test"):
                c.cmd(f"RCPT TO:<{rcpt}>")
            if c.cmd("DATA")[0] == 354:
                c.send(f"Subject: {word}\r\nFrom: {word}\r\n\r\n{word}\r\n.\r\n")
                c.reply()
            c.close()
    # postern sendmail: -f, -F and the recipients, through the runner's
    # submission socket; sendmail itself runs under strace too. Quoted, the
    # words are addresses and go to the runner; bare, their spaces make them
    # no address (refused, EX_DATAERR).
    for word in words[:5]:
        for sender, rcpt, code in ((smtp_quote(word), smtp_quote(word), 0),
                                   (word, word, 65)):
            log = tmp_path / "sendmail.strace"
            # (LeakSanitizer cannot run under ptrace: off for an ASan build)
            env = {**os.environ, "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") +
                   ":detect_leaks=0"}
            r = subprocess.run(["strace", "-f", "-e", "trace=execve", "-o", str(log), BIN,
                                "--data", str(p.data), "sendmail", "-f",
                                sender + "@example.test", "-F", word, "--",
                                rcpt + "@elsewhere.test"],
                               input=b"Subject: x\n\nx\n", capture_output=True, timeout=60,
                               env=env)
            assert r.returncode == code, r
            assert len(execs(log)) == 1, execs(log)  # itself, nothing more
    # The runner took each quoted submission (and worked on it: the quoted
    # words are longer than a local part may be, so it bounced them).
    assert p.log_text().count("runner: info: submit: ") >= 5, p.log_text()
    assert fast_reply(p) < 2.0
    p.stop()
    runs = execs(p.tmp / "exec.strace")
    assert len(runs) == 1 and f'execve("{BIN}"' in runs[0], runs
    assert not marker.exists()


# ---- 4. 1,000 failed logins from one address ------------------------------------

def add_cheap_user(p, address, password):
    """A user whose stored hash is SHA512-crypt (5,000 rounds, a few ms):
    a flood of wrong passwords then costs the delay, not argon2's 0.2 s."""
    hashed = subprocess.run(["openssl", "passwd", "-6", "-salt", "attacksalt", password],
                            capture_output=True, text=True, check=True).stdout.strip()
    run_cli("user", "add", address, "--password-hash", hashed, data=p.data, check=True)


def pipelined_logins(p, user, password, count, out, i):
    """count LOGINs, pipelined; after a refusal (the server answers BYE and
    closes) the rest go on a new connection. out[i]: (seconds, tagged
    answer, refused with BYE) for each."""
    t0 = time.monotonic()
    times = []
    while len(times) < count:
        r = RawImap(p.addr("imap"), timeout=60)
        first = len(times)
        r.send(b"".join(b"a%d LOGIN %s {%d+}\r\n%s\r\n" % (n, user.encode(), len(password),
                                                             password.encode())
                        for n in range(first, count)))
        try:
            for n in range(first, count):
                untagged, ok = r.until(f"a{n}")
                bye = any(l.startswith(b"* BYE") for l in untagged)
                times.append((time.monotonic() - t0, ok, bye))
                if bye:
                    break
        except (EOFError, ConnectionResetError):
            pass  # closed after a refusal: the rest on a new connection
        r.close()
    out[i] = times


def test_thousand_failed_logins(fresh):
    """1,000 wrong passwords from 127.0.0.1 on 50 connections: each failure
    answered after the delay; after auth.max_failures, every login from the
    address refused (BYE, connection closed), the right password too and on
    every protocol, without slowing anyone else down."""
    delay, max_failures, conns, each = 0.2, 100, 50, 20
    p = fresh(**{"auth.failure_delay": str(int(delay * 1000)), "imap.max_per_ip": "0",
                 "auth.max_failures": str(max_failures), "auth.failure_window": "1h",
                 "server.workers": "2"})
    add_cheap_user(p, "dave@example.test", "dave's secret")
    fast_reply(p)
    mem0 = memory(p)
    out = [None] * conns
    threads = [threading.Thread(target=pipelined_logins, daemon=True,
                                args=(p, "dave@example.test", "wrong", each, out, i))
               for i in range(conns)]
    for t in threads:
        t.start()
    probes, peak = [], [0, 0]
    while any(t.is_alive() for t in threads):
        probes.append(fast_reply(p, "smtp"))
        _, took = timed(lambda: imaplib.IMAP4(*p.addr("imap"), timeout=5).logout())
        probes.append(took)
        mem = memory(p)
        peak[:] = [max(peak[0], mem[0]), max(peak[1], mem[1])]
        time.sleep(0.2)
    for t in threads:
        t.join()
    answers = [a for times in out for a in times]
    assert len(answers) == conns * each
    failed = [a for a in answers if b"NO [AUTHENTICATIONFAILED]" in a[1]]
    refused = [a for a in answers if b"NO [UNAVAILABLE] Too many failed logins" in a[1]]
    assert len(failed) + len(refused) == len(answers), {a[1] for a in answers}
    # Up to one in flight per connection may pass the check as the count
    # reaches its maximum; every answer after that is a refusal.
    assert max_failures <= len(failed) <= max_failures + conns, len(failed)
    assert all(bye for _, _, bye in refused) and not any(bye for _, _, bye in failed)
    # Delays, then refusals: every answer, refusals included, waits the delay.
    for times in out:
        assert times[0][0] >= delay * 0.9, times
        assert times[-1][0] >= each * delay * 0.9, times
    # The address stays refused, the right password too, on every protocol.
    r = RawImap(p.addr("imap"))
    untagged, ok = r.cmd('LOGIN "bob@example.test" "%s"' % PASSWORD)
    assert b"* BYE" in b"".join(untagged) and b"[UNAVAILABLE]" in ok, (untagged, ok)
    c = Raw(p.addr("smtp"))
    c.cmd("EHLO client.test")
    auth = base64.b64encode(f"\0bob@example.test\0{PASSWORD}".encode()).decode()
    code, text = c.cmd("AUTH PLAIN " + auth)
    assert code == 421 and "too many failed logins" in text[0], (code, text)
    c.close()
    pop = socket.create_connection(p.addr("pop3"), timeout=10)
    f = pop.makefile("rb")
    f.readline()
    pop.sendall(f"USER bob@example.test\r\nPASS {PASSWORD}\r\n".encode())
    assert f.readline().startswith(b"+OK")
    assert f.readline().startswith(b"-ERR [SYS/TEMP] Too many failed logins")
    assert f.readline() == b""  # closed
    pop.close()
    # Another address logs in at once.
    _, took = timed(lambda: RawImap(p.addr("imap"), source="127.0.0.2")
                    .login("bob@example.test").close())
    assert took < 2.0, took
    assert max(probes) < 1.0, max(probes)
    assert_grew_less(mem0, tuple(peak), 32 * 1024)
    assert "127.0.0.1: %d failed logins, refused" % max_failures in p.log_text()
    print(f"1000 logins: {len(failed)} failed, {len(refused)} refused, last answer after "
          f"{max(t[-1][0] for t in out):.1f} s, slowest probe {max(probes):.2f} s, "
          f"memory {mem0} -> {peak} KiB")


def test_refusal_counts_every_protocol_and_ends(fresh):
    """Failures over SMTP AUTH, POP3 APOP and IMAP count together, across
    workers; the refusal ends with the window."""
    p = fresh(**{"auth.failure_delay": "50", "auth.max_failures": "3",
                 "auth.failure_window": "3s", "server.workers": "2"})
    t0 = time.monotonic()
    c = Raw(p.addr("smtp"))
    c.cmd("EHLO client.test")
    code, _ = c.cmd("AUTH PLAIN " + base64.b64encode(b"\0alice@example.test\0wrong").decode())
    assert code == 535
    c.close()
    pop = socket.create_connection(p.addr("pop3"), timeout=10)
    f = pop.makefile("rb")
    f.readline()
    pop.sendall(b"APOP alice@example.test 0123456789abcdef0123456789abcdef\r\n")
    assert f.readline().startswith(b"-ERR [AUTH]")
    pop.close()
    r = RawImap(p.addr("imap"))
    _, ok = r.cmd('LOGIN "alice@example.test" "wrong"')
    assert b"NO [AUTHENTICATIONFAILED]" in ok
    # The fourth attempt, with the right password, is refused.
    untagged, ok = r.cmd('LOGIN "alice@example.test" "%s"' % PASSWORD)
    assert b"[UNAVAILABLE]" in ok and untagged and untagged[0].startswith(b"* BYE"), ok
    r.close()
    time.sleep(max(0.0, t0 + 3.5 - time.monotonic()))
    RawImap(p.addr("imap")).login().close()


# ---- 5. Unknown user and wrong password take the same time -----------------------

def test_unknown_user_and_bad_password_timing(fresh):
    delay = 250  # ms
    p = fresh(**{"auth.failure_delay": str(delay), "auth.threads": "2",
                 "auth.max_failures": "0"})
    conns = [RawImap(p.addr("imap"), timeout=30) for _ in range(2)]
    kinds = {"unknown": "nobody@example.test", "bad": "alice@example.test"}
    took = {"unknown": [], "bad": []}

    def attempt(r, kind, n):
        t0 = time.monotonic()
        _, ok = r.cmd(f'LOGIN {kinds[kind]} "wrong password {n}"')
        assert b"NO [AUTHENTICATIONFAILED]" in ok, ok
        took[kind].append(time.monotonic() - t0)

    # Interleaved: each round runs one of each kind at once, on alternating
    # connections, so that load falls on both alike.
    for n in range(50):
        order = ["unknown", "bad"] if n % 2 else ["bad", "unknown"]
        ts = [threading.Thread(target=attempt, args=(conns[i], order[i], n))
              for i in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    for r in conns:
        r.close()
    assert len(took["unknown"]) == len(took["bad"]) == 50
    med = {k: statistics.median(v) for k, v in took.items()}
    assert min(med.values()) >= delay / 1000 * 0.9, med
    assert abs(med["unknown"] - med["bad"]) < 0.2 * delay / 1000, med
    print(f"medians: unknown {med['unknown'] * 1000:.0f} ms, "
          f"bad password {med['bad'] * 1000:.0f} ms")


# ---- 6. 5,000 slow connections -------------------------------------------------

def test_slow_connections(fresh):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    limits = {f"{svc}.{key}": value for svc in ("smtp", "imap")
              for key, value in (("max_per_ip", "0"), ("max_connections", "10000"))}
    p = fresh(**limits)
    socks = []
    try:
        # In batches of 500 (non-blocking connects), each batch greeted
        # before the next: more at once overflow the kernel's listen queues
        # and wait for SYN retransmissions, which is no test of postern.
        t0 = time.monotonic()
        sel = selectors.DefaultSelector()
        greeted = 0
        for n in range(5000):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(p.addr("smtp" if n % 2 else "imap"))
            socks.append(s)
            sel.register(s, selectors.EVENT_READ)
            while n % 500 == 499 and greeted <= n and time.monotonic() < t0 + 30:
                for key, _ in sel.select(1):
                    assert key.fileobj.recv(4096), "a slow connection was closed"
                    greeted += 1
                    sel.unregister(key.fileobj)
        all_in = time.monotonic() - t0
        assert greeted == len(socks), (greeted, all_in)
        # They stay: a third of them sends one byte of a command each
        # round, the rest nothing, while real clients come and go.
        probes = []
        for round_ in range(3):
            for s in socks[round_::3]:
                s.send(b"N")
            _, took = timed(lambda: smtplib.SMTP(*p.addr("smtp"), timeout=5).quit())
            probes.append(took)
            _, took = timed(lambda: imaplib.IMAP4(*p.addr("imap"), timeout=5).logout())
            probes.append(took)
            time.sleep(1)
        assert max(probes) < 1.0, probes
        for s in socks:
            s.setblocking(True)
            s.settimeout(0)
            try:
                assert s.recv(4096) != b"", "a slow connection was closed"
            except BlockingIOError:
                pass
        print(f"5,000 slow connections: all greeted after {all_in:.1f} s, "
              f"slowest probe {max(probes):.2f} s, memory {memory(p)} KiB")
    finally:
        for s in socks:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert fast_reply(p, limit=1.0) < 1.0


# ---- 7. TLS close_notify in the middle of a BDAT chunk or a literal ---------------

class BioTls:
    """TLS over memory BIOs on a TCP socket, so that the test decides when
    a close_notify goes out and can write plaintext after it."""

    def __init__(self, sock):
        self.sock = sock
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = tls_client_context().wrap_bio(self.inc, self.out)
        self.buf = b""
        self._run(self.tls.do_handshake)

    def _run(self, fn, *args):
        while True:
            try:
                value = fn(*args)
                self._flush()
                return value
            except ssl.SSLWantReadError:
                self._flush()
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError("closed")
                self.inc.write(chunk)

    def _flush(self):
        data = self.out.read()
        if data:
            self.sock.sendall(data)

    def send(self, data):
        self._run(self.tls.write, data)

    def line(self):
        while b"\r\n" not in self.buf:
            self.buf += self._run(self.tls.read, 65536)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def smtp(self, cmd):
        """Send an SMTP command; the last line of its reply."""
        self.send(cmd + b"\r\n")
        while True:
            line = self.line()
            if line[3:4] != b"-":
                return line

    def close_notify(self):
        try:
            self.tls.unwrap()
        except ssl.SSLWantReadError:
            pass
        self._flush()


def plaintext_after(t, plain):
    """Send plaintext on the bare TCP connection; what comes back until the
    server closes (None if it does not within 5 s)."""
    try:
        t.sock.sendall(plain)
    except (BrokenPipeError, ConnectionResetError):
        pass
    t.sock.settimeout(5)
    got = b""
    try:
        while True:
            chunk = t.sock.recv(65536)
            if not chunk:
                return got
            got += chunk
    except ConnectionResetError:
        return got
    except socket.timeout:
        return None


SMUGGLED_SMTP = (b"\r\nMAIL FROM:<alice@example.test>\r\nRCPT TO:<carol@example.test>\r\n"
                 b"DATA\r\nSubject: plaintext\r\n\r\nevil\r\n.\r\nQUIT\r\n")


@pytest.mark.parametrize("svc", ["submission", "smtps"])
def test_close_notify_mid_bdat(fresh, svc):
    p = fresh()
    before = stored(p.data)
    sock = socket.create_connection(p.addr(svc), timeout=10)
    if svc == "submission":
        c = Raw.__new__(Raw)
        c.sock, c.buf = sock, b""
        c.reply()
        c.cmd("EHLO attacker.test")
        assert c.cmd("STARTTLS")[0] == 220
    t = BioTls(sock)
    if svc == "smtps":
        assert t.line().startswith(b"220 ")  # the greeting
    assert t.smtp(b"EHLO attacker.test").startswith(b"250 ")
    token = base64.b64encode(f"\0alice@example.test\0{PASSWORD}".encode())
    assert t.smtp(b"AUTH PLAIN " + token).startswith(b"235 ")
    assert t.smtp(b"MAIL FROM:<alice@example.test>").startswith(b"250 ")
    assert t.smtp(b"RCPT TO:<bob@example.test>").startswith(b"250 ")
    t.send(b"BDAT 1000 LAST\r\nSubject: tls\r\n\r\n" + b"x" * 80)
    t.close_notify()
    got = plaintext_after(t, b"y" * 900 + SMUGGLED_SMTP)
    assert got is not None, "the server did not close the connection"
    assert b"250 " not in got and b"354 " not in got, got
    time.sleep(0.5)
    assert new_messages(p.data, before) == ([], [])
    assert fast_reply(p, limit=1.0) < 1.0


def test_close_notify_mid_literal(fresh):
    p = fresh()
    before = stored(p.data)
    t = BioTls(socket.create_connection(p.addr("imaps"), timeout=10))
    assert t.line().startswith(b"* OK")
    t.send(f'a LOGIN alice@example.test "{PASSWORD}"\r\n'.encode())
    while not t.line().startswith(b"a OK"):
        pass
    t.send(b"b APPEND INBOX {1000}\r\n")
    assert t.line().startswith(b"+")
    t.send(b"Subject: tls\r\n\r\n" + b"x" * 80)
    t.close_notify()
    plain = b"Subject: plain\r\n\r\nx\r\n"
    got = plaintext_after(t, b"y" * 900 + b"\r\nc APPEND INBOX {%d+}\r\n%sd LOGOUT\r\n"
                          % (len(plain), plain))
    assert got is not None, "the server did not close the connection"
    assert b"OK" not in got and b"BYE" not in got, got
    time.sleep(0.5)
    assert new_messages(p.data, before) == ([], [])
    assert fast_reply(p, limit=1.0) < 1.0
