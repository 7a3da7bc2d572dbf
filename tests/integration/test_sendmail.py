"""Integration tests for `postern sendmail`, `mailq` and `postern queue`,
run against the real binary ($POSTERN_BIN, default <repo>/build/postern).

No server runs: sendmail finds no submission socket and, run as root (or as
the data directory's owner), queues directly into DATA/queue/incoming. The
queue files are then read back and checked (envelope and content). One test
plays the queue runner's side of the submission socket with a small Python
server, to check what sendmail sends and how it maps the replies to exit
codes. Nothing here needs the queue runner.
"""

import os
import pathlib
import re
import socket
import subprocess
import threading

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("POSTERN_BIN", str(REPO / "build" / "postern"))

HOST = "mx.example.test"
EX_USAGE, EX_DATAERR, EX_TEMPFAIL = 64, 65, 75


@pytest.fixture
def env(tmp_path):
    """A data directory and a configuration file of their own."""
    data = tmp_path / "var"
    data.mkdir()
    conf = tmp_path / "postern.conf"
    conf.write_text(f"[server]\nhostname = {HOST}\n\n[smtpd]\nmax_message_size = 20000\n")
    return {"data": data, "conf": conf, "tmp": tmp_path}


def postern(env, *args, stdin=None):
    cmd = [BIN, "--data", str(env["data"]), "-c", str(env["conf"])] + [str(a) for a in args]
    return subprocess.run(cmd, input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
                          capture_output=True, timeout=60)


def sendmail(env, *args, stdin=b""):
    if isinstance(stdin, str):
        stdin = stdin.encode()
    return postern(env, "sendmail", *args, stdin=stdin)


def as_named(env, name, *args, stdin=b""):
    """The binary invoked through a symlink called name (sendmail, mailq)."""
    link = env["tmp"] / "bin" / name
    link.parent.mkdir(exist_ok=True)
    if not link.exists():
        link.symlink_to(BIN)
    e = dict(os.environ, POSTERN_DATA=str(env["data"]), POSTERN_CONFIG=str(env["conf"]))
    return subprocess.run([str(link)] + list(args), input=stdin, env=e, capture_output=True,
                          timeout=60)


def queued(env, state="incoming"):
    """{id: (envelope dict, content bytes)} of the messages in queue/STATE."""
    out = {}
    d = env["data"] / "queue" / state
    if not d.exists():
        return out
    for f in sorted(d.iterdir()):
        raw = f.read_bytes()
        envelope = {"rcpt": [], "notify": []}
        pos = 0
        while True:
            end = raw.index(b"\n", pos)
            key, _, value = raw[pos:end].decode().partition(" ")
            pos = end + 1
            if key == "rcpt":
                envelope["rcpt"].append(value)
            elif key == "notify":
                envelope["notify"].append((envelope["rcpt"][-1], value))
            else:
                envelope[key] = value
            if key == "content":
                break
        content = raw[pos:]
        assert len(content) == int(envelope["content"])
        out[f.name] = (envelope, content)
    return out


def only(env):
    msgs = queued(env)
    assert len(msgs) == 1, msgs
    return next(iter(msgs.items()))


def header(content):
    head = content.split(b"\r\n\r\n", 1)[0].decode()
    return head.replace("\r\n\t", " ").split("\r\n")


def field(content, name):
    return [h.split(":", 1)[1].strip() for h in header(content)
            if h.lower().startswith(name.lower() + ":")]


def login():
    import pwd
    return pwd.getpwuid(os.getuid()).pw_name


# ---- submission ----


def test_t_to_cc_bcc(env):
    msg = ("To: Bob <bob@example.net>, carol@example.org\n"
           "Cc: \"Dave D.\" <dave@example.com>\n"
           "Bcc: eve@example.com\n"
           "Subject: hello\n"
           "\n"
           "Body line\n")
    r = sendmail(env, "-t", "frank@example.net", stdin=msg)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"" and r.stderr == b""
    qid, (envelope, content) = only(env)
    assert envelope["id"] == qid
    assert envelope["protocol"] == "local"
    assert "client-addr" not in envelope
    assert envelope["sender"] == f"{login()}@{HOST}"
    # Command-line recipients are kept along with the extracted ones.
    assert sorted(envelope["rcpt"]) == sorted(["frank@example.net", "bob@example.net",
                                               "carol@example.org", "dave@example.com",
                                               "eve@example.com"])
    assert b"Bcc" not in content and b"eve@" not in content
    assert content.endswith(b"\r\n\r\nBody line\r\n")
    assert b"\n" not in content.replace(b"\r\n", b"")
    names = [h.split(":")[0] for h in header(content)]
    assert names[0] == "Received"
    assert names.count("Date") == 1 and names.count("Message-ID") == 1
    received = header(content)[0]
    assert received.startswith(f"Received: by {HOST} (postern, from userid {os.getuid()} {login()})")
    assert f"id {qid};" in received  # several recipients: no "for"
    assert re.fullmatch(r"<[^@<>]+@mx\.example\.test>", field(content, "Message-ID")[0])
    assert field(content, "From") == [f"{login()}@{HOST}"]


def test_resent_fields(env):
    msg = ("To: old@example.net\nResent-To: new@example.net\nResent-Bcc: hidden@example.net\n"
           "Subject: again\n\nx\n")
    assert sendmail(env, "-t", stdin=msg).returncode == 0
    _, (envelope, content) = only(env)
    assert sorted(envelope["rcpt"]) == ["hidden@example.net", "new@example.net"]
    assert b"hidden" not in content


def test_sender_and_full_name(env):
    r = sendmail(env, "-f", "alice@example.org", "-F", "Alice \"A\" Liddell",
                 "bob@example.net", stdin="Subject: s\n\nbody\n")
    assert r.returncode == 0, r.stderr
    _, (envelope, content) = only(env)
    assert envelope["sender"] == "alice@example.org"
    assert field(content, "From") == ['"Alice \\"A\\" Liddell" <alice@example.org>']
    received = header(content)[0]
    assert "for <bob@example.net>;" in received


def test_sender_forms(env):
    for args, want in ((["-falice@example.org"], "alice@example.org"),
                       (["-r", "<bounce@example.org>"], "bounce@example.org"),
                       (["-f", "<>"], "")):
        r = sendmail(env, *args, "bob@example.net", stdin="Subject: s\n\nbody\n")
        assert r.returncode == 0, r.stderr
    senders = sorted(e["sender"] for e, _ in queued(env).values())
    assert senders == sorted(["alice@example.org", "bounce@example.org", ""])


def test_existing_fields_kept(env):
    msg = ("From: Someone <someone@example.org>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
           "Message-ID: <fixed@example.org>\n\nbody\n")
    assert sendmail(env, "bob@example.net", stdin=msg).returncode == 0
    _, (_, content) = only(env)
    assert field(content, "From") == ["Someone <someone@example.org>"]
    assert field(content, "Message-ID") == ["<fixed@example.org>"]
    assert len(field(content, "Date")) == 1


def test_no_header_at_all(env):
    assert sendmail(env, "bob@example.net", stdin="just a body line\n").returncode == 0
    _, (_, content) = only(env)
    assert content.endswith(b"\r\n\r\njust a body line\r\n")
    assert len(field(content, "Date")) == 1


def test_lone_dot(env):
    msg = "Subject: dots\n\nbefore\n.\nafter\n"
    assert sendmail(env, "a@example.net", stdin=msg).returncode == 0
    for opt in ("-i", "-oi"):
        assert sendmail(env, opt, "b@example.net", stdin=msg).returncode == 0
    bodies = {e["rcpt"][0]: c for e, c in queued(env).values()}
    assert bodies["a@example.net"].endswith(b"\r\nbefore\r\n")
    assert b"after" not in bodies["a@example.net"]
    for r in ("b@example.net",):
        assert bodies[r].endswith(b"\r\nbefore\r\n.\r\nafter\r\n")


def test_crlf_input_and_dots_not_unstuffed(env):
    msg = b"Subject: crlf\r\n\r\n..two dots\r\nlast line without end"
    assert sendmail(env, "bob@example.net", stdin=msg).returncode == 0
    _, (_, content) = only(env)
    assert content.endswith(b"\r\n\r\n..two dots\r\nlast line without end\r\n")


def test_recipient_arguments(env):
    r = sendmail(env, "--", "a@example.net, B <b@example.net>", "root", "a@example.net",
                 stdin="Subject: s\n\nx\n")
    assert r.returncode == 0, r.stderr
    _, (envelope, _) = only(env)
    assert envelope["rcpt"] == ["a@example.net", "b@example.net", f"root@{HOST}"]


def test_dsn_options(env):
    r = sendmail(env, "-N", "success,failure", "-R", "hdrs", "-V", "env-1", "-B", "8BITMIME",
                 "-odb", "-oem", "-v", "bob@example.net", stdin="Subject: s\n\nx\n")
    assert r.returncode == 0, r.stderr
    _, (envelope, _) = only(env)
    assert envelope["ret"] == "hdrs" and envelope["envid"] == "env-1"
    assert envelope["notify"] == [("bob@example.net", "success,failure")]
    assert sendmail(env, "-N", "never", "c@example.net", stdin="x\n").returncode == 0


def test_8bit_body(env):
    msg = "Subject: caf\u00e9\n\nd\u00e9j\u00e0 vu\n".encode()
    assert sendmail(env, "bob@example.net", stdin=msg).returncode == 0
    _, (envelope, _) = only(env)
    assert envelope["body"] == "8bitmime"


def test_exit_codes(env):
    r = sendmail(env, stdin="Subject: nobody\n\nx\n")
    assert r.returncode == EX_DATAERR
    assert r.stderr.decode().startswith("postern sendmail: no recipients")
    r = sendmail(env, "-t", stdin="Subject: nobody\n\nx\n")
    assert r.returncode == EX_DATAERR
    for args in (["-Z", "a@example.net"], ["-N", "sometimes", "a@example.net"],
                 ["-R", "most", "a@example.net"], ["-bd"], ["-f"], ["--bogus"]):
        r = sendmail(env, *args, stdin="x\n")
        assert r.returncode == EX_USAGE, (args, r.stderr)
    r = sendmail(env, "bad address@", stdin="x\n")
    assert r.returncode == EX_DATAERR, r.stderr
    # A list ending inside a quoted string (with a backslash): an error,
    # never a recipient dropped in silence.
    r = sendmail(env, "-t", stdin='To: a@example.net, "b\\\n\nx\n')
    assert r.returncode == EX_DATAERR, r.stderr
    # Words that would become parameters of the next hop's MAIL or RCPT.
    for args in (["-f", "a@example.org> AUTH=<x@example.org>", "b@example.net"],
                 ["-f", "<a@example.org> SIZE=1>", "b@example.net"],
                 ["-f", '"unclosed@example.org', "b@example.net"],
                 ["b@example.net> NOTIFY=NEVER"]):
        r = sendmail(env, *args, stdin="x\n")
        assert r.returncode == EX_DATAERR, (args, r.stderr)
    # A quoted local part may hold them: it is written as it is, quoted.
    r = sendmail(env, "-f", '"a b>c"@example.org', "b@example.net", stdin="x\n")
    assert r.returncode == 0, r.stderr
    [qid] = queued(env)
    assert '"a b>c"@example.org' in (env["data"] / "queue" / "incoming" / qid).read_text()
    postern(env, "queue", "delete", qid)
    r = sendmail(env, "a@example.net", stdin="x" * 30000 + "\n")
    assert r.returncode == EX_DATAERR
    assert b"larger than" in r.stderr
    assert queued(env) == {}
    r = sendmail(env, "--help")
    assert r.returncode == 0 and b"usage: sendmail" in r.stdout


def test_invoked_as_sendmail(env):
    r = as_named(env, "sendmail", "-t", "-i", stdin=b"To: bob@example.net\n\n.\nx\n")
    assert r.returncode == 0, r.stderr
    _, (envelope, content) = only(env)
    assert envelope["rcpt"] == ["bob@example.net"]
    assert envelope["sender"].endswith("@" + HOST)  # the configuration came from POSTERN_CONFIG
    assert content.endswith(b"\r\n\r\n.\r\nx\r\n")


def test_root_queues_as_data_owner(env):
    """Root with a data directory that belongs to the server user: the
    queue files are written as that user; Received names root."""
    os.chown(env["data"], 65534, 65534)
    r = sendmail(env, "bob@example.net", stdin="Subject: s\n\nx\n")
    assert r.returncode == 0, r.stderr
    qid, (_, content) = only(env)
    for path in (env["data"] / "queue", env["data"] / "queue" / "incoming" / qid):
        st = path.stat()
        assert (st.st_uid, st.st_gid) == (65534, 65534), path
    assert header(content)[0].startswith(f"Received: by {HOST} (postern, from userid 0 root)")
    r = postern(env, "queue", "list")
    assert r.returncode == 0 and qid in r.stdout.decode()


def test_not_running_and_not_allowed(env):
    """A user who may not write the queue, with no runner: 75."""
    r = subprocess.run([BIN, "--data", str(env["data"]), "sendmail", "bob@example.net"],
                       input=b"x\n", capture_output=True, timeout=60,
                       user=65534, group=65534, extra_groups=[])
    assert r.returncode == EX_TEMPFAIL, r.stderr
    assert r.stderr == b"postern sendmail: mail system is not running\n"


# ---- -bs ----


def smtp_session(env, lines, *args):
    data = "".join(line + "\r\n" for line in lines).encode()
    r = postern(env, "sendmail", "-bs", *args, stdin=data)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode().split("\r\n")


def codes(replies):
    return [line[:3] for line in replies if len(line) > 3 and line[3] == " "]


def test_bs_session(env):
    replies = smtp_session(env, [
        "EHLO client.example",
        "RCPT TO:<early@example.net>",
        "MAIL FROM:<alice@example.org> RET=HDRS ENVID=abc",
        "RCPT TO:<bob@example.net> NOTIFY=SUCCESS,DELAY",
        "RCPT TO:<carol@example.net>",
        "DATA",
        "Subject: over smtp",
        "",
        "..dot-stuffed",
        "line",
        ".",
        "MAIL FROM:<>",
        "RCPT TO:<x@example.net>",
        "RSET",
        "DATA",
        "NOOP",
        "BOGUS",
        "QUIT",
    ])
    assert replies[0].startswith(f"220 {HOST} ")
    assert f"250-{HOST}" in replies and "250-DSN" in replies
    assert codes(replies) == ["220", "250", "503", "250", "250", "250", "354", "250",
                              "250", "250", "250", "503", "250", "500", "221"]
    queued_line = [x for x in replies if "queued as" in x][0]
    qid = queued_line.rsplit(" ", 1)[1]
    msgs = queued(env)
    assert list(msgs) == [qid]
    envelope, content = msgs[qid]
    assert envelope["sender"] == "alice@example.org"
    assert envelope["rcpt"] == ["bob@example.net", "carol@example.net"]
    assert envelope["notify"] == [("bob@example.net", "success,delay")]
    assert envelope["ret"] == "hdrs" and envelope["envid"] == "abc"
    assert content.endswith(b"\r\n\r\n.dot-stuffed\r\nline\r\n")
    assert field(content, "From") == ["alice@example.org"]


def test_bs_eof_in_data(env):
    replies = smtp_session(env, ["HELO x", "MAIL FROM:<a@example.org>",
                                 "RCPT TO:<b@example.net>", "DATA", "unfinished"])
    assert codes(replies) == ["220", "250", "250", "250", "354"]
    assert queued(env) == {}


# ---- through the socket (a stand-in for the runner) ----


class FakeRunner:
    """Serves DATA/public/submit.sock: reads one request and answers."""

    def __init__(self, data, answer):
        self.path = data / "public" / "submit.sock"
        self.path.parent.mkdir()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(self.path))
        self.sock.listen(4)
        self.answer = answer
        self.requests = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            data = b""
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
                m = re.search(rb"(?:^|\n)content (\d+)\n", data)
                if data.startswith(b"FLUSH") and data.endswith(b"\n"):
                    break
                if m and len(data) >= m.end() + int(m.group(1)):
                    break
            self.requests.append(data)
            conn.sendall(self.answer)

    def close(self):
        self.sock.close()
        self.thread.join(5)


@pytest.mark.parametrize("answer,code", [(b"250 0CK9TQH4S2M3R7QX\n", 0),
                                         (b"451 4.3.0 disk full\n", EX_TEMPFAIL),
                                         (b"552 5.3.4 message larger than 10 bytes\n", EX_DATAERR)])
def test_through_socket(env, answer, code):
    runner = FakeRunner(env["data"], answer)
    try:
        r = sendmail(env, "-f", "alice@example.org", "-N", "failure", "bob@example.net",
                     stdin="Subject: s\n\nbody\n")
    finally:
        runner.close()
    assert r.returncode == code, r.stderr
    assert queued(env) == {}  # nothing queued directly
    req = runner.requests[0]
    head, _, content = req.partition(b"content ")
    assert head == (b"SUBMIT\nsender alice@example.org\nrcpt bob@example.net\n"
                    b"notify failure\n")
    size, _, content = content.partition(b"\n")
    assert int(size) == len(content)
    assert content.endswith(b"\r\n\r\nbody\r\n")
    if code != 0:
        assert answer.decode().split(" ", 1)[1].strip() in r.stderr.decode()


# ---- postern queue and mailq ----


def queue_some(env, n):
    for i in range(n):
        r = sendmail(env, "-f", "alice@example.org", f"rcpt{i}@example.net",
                     stdin=f"Subject: {i}\n\nbody {i}\n")
        assert r.returncode == 0, r.stderr
    return sorted(queued(env))


def test_queue_list_and_mailq(env):
    r = postern(env, "queue", "list")
    assert r.returncode == 0 and r.stdout == b"Mail queue is empty\n"
    ids = queue_some(env, 2)
    r = postern(env, "queue", "list")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode().splitlines()
    assert out[0].startswith(ids[0] + "  incoming")
    assert out[0].endswith("<alice@example.org>")
    assert out[1].split() == ["pending", "<rcpt0@example.net>"]
    assert out[2].startswith(ids[1])
    assert re.fullmatch(r"-- \d+ Kbytes in 2 requests\.", out[-1])
    assert as_named(env, "mailq").stdout == r.stdout
    assert postern(env, "mailq").stdout == r.stdout
    assert sendmail(env, "-bp").stdout == r.stdout


def test_queue_show(env):
    [qid] = queue_some(env, 1)
    r = postern(env, "queue", "show", qid)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert f"id         {qid}\nstate      incoming\n" in out
    assert "sender     <alice@example.org>\n" in out
    assert "client     local submission (local)\n" in out
    assert "  <rcpt0@example.net>\n    state      pending, 0 attempts\n" in out
    assert "\nheader\n  Received: by " in out
    assert "  Subject: 0\n" in out
    assert "body 0" not in out
    r = postern(env, "queue", "show", "0CK9TQH4S2M3R7QX")
    assert r.returncode == 1
    assert r.stderr == b"postern queue: message 0CK9TQH4S2M3R7QX is not in the queue\n"
    r = postern(env, "queue", "show", "nonsense")
    assert r.returncode == 1 and b"not a queue id" in r.stderr


def test_queue_hold_release_delete(env):
    a, b, c = queue_some(env, 3)
    r = postern(env, "queue", "hold", a, b)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == f"message {a} held\nmessage {b} held\n"
    assert sorted(queued(env, "hold")) == [a, b]
    listing = postern(env, "queue", "list").stdout.decode()
    assert f"{a}  hold" in listing and f"{c}  incoming" in listing
    r = postern(env, "queue", "hold", a)
    assert r.returncode == 1 and b"postern queue: " in r.stderr
    r = postern(env, "queue", "release", a)
    assert r.returncode == 0 and r.stdout.decode() == f"message {a} released\n"
    assert sorted(queued(env)) == [a, c]
    r = postern(env, "queue", "release", c)
    assert r.returncode == 1 and b"not held" in r.stderr
    r = postern(env, "queue", "delete", b, "0CK9TQH4S2M3R7QX")
    assert r.returncode == 1
    assert r.stdout.decode() == f"message {b} deleted\n"
    assert b"0CK9TQH4S2M3R7QX" in r.stderr
    assert queued(env, "hold") == {}
    r = postern(env, "queue", "delete", "ALL")
    assert r.returncode == 0 and r.stdout == b"2 messages deleted\n"
    assert postern(env, "queue", "list").stdout == b"Mail queue is empty\n"


def test_queue_flush(env):
    [qid] = queue_some(env, 1)
    r = postern(env, "queue", "flush")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().startswith("0 deferred messages are due now; "
                                        "the queue runner is not running")
    r = postern(env, "queue", "flush", qid)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().startswith(f"message {qid} is due now; ")
    r = postern(env, "queue", "flush", "0CK9TQH4S2M3R7QX")
    assert r.returncode == 1 and r.stderr.startswith(b"postern queue: ")


def test_queue_usage(env):
    for args in (["queue"], ["queue", "frobnicate"], ["queue", "show"],
                 ["queue", "hold"], ["queue", "list", "extra"]):
        assert postern(env, *args).returncode == 2, args
    r = postern(env, "queue", "--help")
    assert r.returncode == 0 and b"postern queue list" in r.stdout
    r = postern(env, "queue", "hold", "x")
    assert r.returncode == 1  # no queue yet
