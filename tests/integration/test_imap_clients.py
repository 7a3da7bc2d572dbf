"""Real IMAP clients against postern on loopback: mbsync and offlineimap
sync both ways (messages, flags, deletions, folders; a second run changes
nothing), getmail6 and fetchmail download, keeping and deleting.

Each client's configuration is a template in clients/, filled in the test's
tmp dir; HOME is the tmp dir, so no real home directory is written."""
import email
import hashlib
import imaplib
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from string import Template

import pytest

from conftest import tls_client_context
from imap_helpers import deliver, imap_server
from smtp_helpers import PASSWORD
from test_smtp import SMTP_POLICY, simple_message

TEMPLATES = Path(__file__).resolve().parent / "clients"
CLIENT_TIMEOUT = 20


def need(tool):
    return pytest.mark.skipif(shutil.which(tool) is None, reason=f"{tool} not installed")


def render(name, dest_dir, **values):
    """clients/NAME with $values substituted, written to dest_dir/NAME."""
    text = Template((TEMPLATES / name).read_text()).substitute(values)
    out = Path(dest_dir) / name
    out.write_text(text)
    os.chmod(out, 0o600)
    return out


def run(argv, home, timeout=CLIENT_TIMEOUT):
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=str(home))


def cert(p):
    return p.data / "tls" / "selfsigned.crt"


# No login without TLS, even on loopback: a client that logs in at all
# has used IMAPS or STARTTLS.
TLS_ONLY = {"auth.plaintext_loopback": "no"}


@pytest.fixture
def imap(postern_factory):
    """postern with alice's INBOX holding "msg 0", "msg 1", "msg 2"."""
    return imap_server(postern_factory, options=TLS_ONLY)


def client(p):
    """imaplib over IMAPS, logged in as alice: how the tests look at the
    server's side."""
    c = imaplib.IMAP4_SSL(*p.addr("imaps"), ssl_context=tls_client_context(), timeout=10)
    c.login("alice@example.test", PASSWORD)
    return c


# ---- the server's side, seen through imaplib --------------------------------

LIST_LINE = re.compile(rb'^\((?P<attrs>[^)]*)\) (?:NIL|"[^"]*") (?P<name>.+)$')


def mailbox_names(c):
    typ, data = c.list()
    assert typ == "OK", data
    names = []
    for line in data:
        if isinstance(line, tuple):  # name sent as a literal
            names.append(line[1].decode())
            continue
        m = LIST_LINE.match(line)
        assert m, line
        names.append(m.group("name").decode().strip('"'))
    return sorted(names)


def subject_of(raw):
    return str(email.message_from_bytes(raw)["Subject"])


def server_box(c, name):
    """{subject: set of flags} of one mailbox, examined read-only."""
    typ, data = c.select(f'"{name}"', readonly=True)
    assert typ == "OK", data
    out = {}
    if int(data[0]) == 0:
        return out
    typ, data = c.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK", data
    # Each message: (b'* n FETCH (... {size}', header) then b' ...)', with
    # FLAGS before or after the literal.
    for i, item in enumerate(data):
        if not isinstance(item, tuple):
            continue
        rest = data[i + 1] if i + 1 < len(data) and isinstance(data[i + 1], bytes) else b""
        flags = re.search(rb"FLAGS \(([^)]*)\)", item[0] + rest).group(1).decode().split()
        out[subject_of(item[1])] = set(flags) - {"\\Recent"}
    return out


def server_state(p):
    """Everything a sync could change on the server: per mailbox its
    UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ (any STORE raises it, even one that
    changes no flag) and each message's UID and flags."""
    c = client(p)
    try:
        state = {}
        for name in mailbox_names(c):
            typ, data = c.status(f'"{name}"', "(UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ)")
            assert typ == "OK", data
            status = data[0].decode()
            typ, _ = c.select(f'"{name}"', readonly=True)
            assert typ == "OK"
            typ, data = c.uid("FETCH", "1:*", "(FLAGS)")
            msgs = sorted(x.decode() for x in data if x)
            state[name] = (status[status.index("("):], msgs)
        return state
    finally:
        c.logout()


def on_server(p, name="INBOX"):
    """{subject: set of flags} of a mailbox of alice's, on the server."""
    c = client(p)
    try:
        return server_box(c, name)
    finally:
        c.logout()


def store_flags(p, subject, flags, box="INBOX"):
    c = client(p)
    try:
        c.select(box)
        typ, data = c.search(None, "SUBJECT", f'"{subject}"')
        assert typ == "OK" and data[0], (subject, data)
        for n in data[0].split():
            assert c.store(n.decode(), "+FLAGS", flags)[0] == "OK"
    finally:
        c.logout()


def create_with_message(p, box, subject):
    c = client(p)
    try:
        assert c.create(box)[0] == "OK"
        msg = simple_message(subject=subject, body="filed on the server\n")
        typ, data = c.append(box, None, None, msg.as_bytes(policy=SMTP_POLICY))
        assert typ == "OK", data
    finally:
        c.logout()


# ---- the local Maildir -------------------------------------------------------

def local_box(folder):
    """{subject: (path, flags)} of one local Maildir folder."""
    out = {}
    for sub in ("new", "cur"):
        d = Path(folder) / sub
        for f in sorted(d.iterdir()) if d.is_dir() else []:
            flags = f.name.split(":2,", 1)[1] if ":2," in f.name else ""
            out[subject_of(f.read_bytes())] = (f, flags)
    return out


def set_local_flags(path, flags):
    """Give a Maildir message these flags (it moves to cur/)."""
    base = path.name.split(":2,", 1)[0]
    dest = path.parent.parent / "cur" / f"{base}:2,{''.join(sorted(flags))}"
    path.rename(dest)
    return dest


def add_local(folder, subject, flags=None):
    """A message written by a local mail program, without any sync id."""
    name = f"{time.time_ns()}.{os.getpid()}_1.localhost"
    msg = simple_message(subject=subject, body="written locally\n").as_bytes(policy=SMTP_POLICY)
    if flags is None:
        path = Path(folder) / "new" / name
    else:
        path = Path(folder) / "cur" / f"{name}:2,{flags}"
    path.write_bytes(msg)
    return path


def local_state(root):
    """{relative path: sha256} of every message file under root (sync state
    files excluded: a client may rewrite them without changing anything)."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        d = Path(dirpath)
        if d.name not in ("new", "cur"):
            continue
        for f in files:
            out[str((d / f).relative_to(root))] = hashlib.sha256((d / f).read_bytes()).hexdigest()
    return out


def make_local_changes(root):
    """The same local edits for every two-way client: in INBOX "msg 0" seen
    and flagged, "msg 1" deleted, a new message "local 0"; a new folder
    "Projects" with one message."""
    box = root / "INBOX"
    local = local_box(box)
    set_local_flags(local["msg 0"][0], "FS")
    local["msg 1"][0].unlink()
    add_local(box, "local 0")
    for sub in ("cur", "new", "tmp"):
        (root / "Projects" / sub).mkdir(parents=True)
    add_local(root / "Projects", "local folder", flags="S")


def make_server_changes(p):
    """"msg 2" seen on the server, a new message, a new folder "Work" with
    one message."""
    store_flags(p, "msg 2", "\\Seen")
    deliver(p, subject="server new")
    create_with_message(p, "Work", "in work")


def check_after_two_way(p, root):
    want = {"msg 0", "msg 2", "server new", "local 0"}
    srv = on_server(p)
    assert set(srv) == want, srv
    assert {"\\Seen", "\\Flagged"} <= srv["msg 0"], srv
    assert "\\Seen" in srv["msg 2"] and "\\Flagged" not in srv["msg 2"], srv
    assert "\\Seen" not in srv["local 0"] and "\\Seen" not in srv["server new"], srv
    local = local_box(root / "INBOX")
    assert set(local) == want, local
    assert "S" in local["msg 2"][1] and "F" in local["msg 0"][1], local
    assert "S" not in local["server new"][1], local
    work = local_box(root / "Work")
    assert set(work) == {"in work"}, work
    projects = on_server(p, "Projects")
    assert projects == {"local folder": {"\\Seen"}}, projects


# ---- mbsync -------------------------------------------------------------------

def mbsync(rc, home):
    """One run with the IMAP exchange in its output (-Dn); returns that
    output and the commands sent, without tags."""
    r = run(["mbsync", "-Dn", "-c", rc, "-a"], home)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    sent = [line.split(" ", 2)[2] for line in out.splitlines() if line.startswith(">>> ")]
    return out, sent


@need("mbsync")
@pytest.mark.parametrize("tls", ["IMAPS", "STARTTLS"])
def test_mbsync_two_way(imap, tmp_path, tls):
    store_flags(imap, "msg 1", "\\Flagged")
    maildir = tmp_path / "Mail"
    maildir.mkdir()
    port = imap.ports["imaps" if tls == "IMAPS" else "imap"]
    rc = render("mbsyncrc", tmp_path, port=port, ssltype=tls, password=PASSWORD,
                cert=cert(imap), maildir=maildir)

    # First run: the server's messages and flags arrive.
    mbsync(rc, tmp_path)
    local = local_box(maildir / "INBOX")
    assert set(local) == {"msg 0", "msg 1", "msg 2"}, local
    assert local["msg 1"][1] == "F" and local["msg 0"][1] == "", local

    # Changes on both sides, then sync both ways.
    make_local_changes(maildir)
    make_server_changes(imap)
    mbsync(rc, tmp_path)
    check_after_two_way(imap, maildir)

    # Once more: nothing to do; nothing changes on either side.
    before = (local_state(maildir), server_state(imap))
    out, sent = mbsync(rc, tmp_path)
    after = (local_state(maildir), server_state(imap))
    assert after == before, out
    # Only looked: no message fetched, stored, appended or expunged.
    for command in sent:
        words = command.split()
        verb = " ".join(words[:2]) if words[0] == "UID" else words[0]
        assert verb in ("CAPABILITY", "STARTTLS", "LOGIN", "NAMESPACE", "LIST", "SELECT",
                        "CLOSE", "LOGOUT", "UID FETCH"), out
        assert "BODY" not in command, out


def big_message(size):
    """A message with a base64 attachment of about size bytes."""
    msg = simple_message(subject="big one", body="see the attachment\n")
    msg.add_attachment(os.urandom(size * 3 // 4), maintype="application",
                       subtype="octet-stream", filename="blob.bin")
    return msg.as_bytes(policy=SMTP_POLICY)


def crlf_to_lf(data):
    return data.replace(b"\r\n", b"\n")


@need("mbsync")
def test_mbsync_many_large_and_nested(imap, tmp_path):
    """Pulling 81 messages, one of 3 MB, and folders with a nested and a
    non-ASCII name: the local copies are byte for byte the server's; a
    2 MB message written locally reaches the server byte for byte."""
    deliver(imap, subject="bulk", count=77)
    c = client(imap)
    try:
        assert c.append("INBOX", None, None, big_message(3 << 20))[0] == "OK"
        for box in ("Work", "Work.2026", "Entw&APw-rfe"):  # "Entwürfe" in mUTF-7
            assert c.create(box)[0] == "OK", box
            msg = simple_message(subject=f"in {box}").as_bytes(policy=SMTP_POLICY)
            assert c.append(box, None, None, msg)[0] == "OK"
        c.select("INBOX", readonly=True)
        typ, data = c.uid("FETCH", "1:*", "(BODY.PEEK[])")
        assert typ == "OK"
        server = sorted(crlf_to_lf(item[1]) for item in data if isinstance(item, tuple))
    finally:
        c.logout()
    assert len(server) == 81
    maildir = tmp_path / "Mail"
    maildir.mkdir()
    rc = render("mbsyncrc", tmp_path, port=imap.ports["imaps"], ssltype="IMAPS",
                password=PASSWORD, cert=cert(imap), maildir=maildir)
    mbsync(rc, tmp_path)
    # mbsync marks each copy with an X-TUID header line of its own.
    local = sorted(re.sub(rb"(?m)^X-TUID: .*\n", b"", f.read_bytes(), count=1)
                   for sub in ("new", "cur") for f in (maildir / "INBOX" / sub).iterdir())
    assert len(local) == 81
    assert local == server
    # Nested folders are directories below their parent; mbsync 1.4 keeps
    # the mUTF-7 name as it is.
    assert set(local_box(maildir / "Work" / "2026")) == {"in Work.2026"}
    assert set(local_box(maildir / "Work")) == {"in Work"}
    assert set(local_box(maildir / "Entw&APw-rfe")) == {"in Entw&APw-rfe"}

    # A large message written locally goes up whole (APPEND of a 2 MB
    # literal).
    upload = big_message(2 << 20).replace(b"big one", b"big upload", 1)
    (maildir / "INBOX" / "new" / f"{time.time_ns()}.1_1.localhost").write_bytes(upload)
    mbsync(rc, tmp_path)
    c = client(imap)
    try:
        c.select("INBOX", readonly=True)
        typ, data = c.uid("SEARCH", None, "SUBJECT", '"big upload"')
        assert typ == "OK" and len(data[0].split()) == 1, data
        typ, data = c.uid("FETCH", data[0].decode(), "(BODY.PEEK[])")
        got = re.sub(rb"(?m)^X-TUID: .*\r\n", b"", data[0][1], count=1)
    finally:
        c.logout()
    assert got == upload


# ---- offlineimap --------------------------------------------------------------

def offlineimap(rc, home):
    r = run(["offlineimap", "-c", rc, "-o", "-u", "basic"], home)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "ERROR" not in out, out
    return out


@need("offlineimap")
def test_offlineimap_two_way(imap, tmp_path):
    # IMAPS only: after STARTTLS, offlineimap's imaplib2 reads the TLS
    # socket in one thread while writing it in another, an unsynchronised
    # use of one SSL object that hangs now and then under TLS 1.3 (whose
    # session tickets come after the handshake), whatever the server.
    store_flags(imap, "msg 1", "\\Flagged")
    maildir = tmp_path / "Mail"
    rc = render("offlineimaprc", tmp_path, port=imap.ports["imaps"], password=PASSWORD,
                cert=cert(imap), maildir=maildir, meta=tmp_path / "offlineimap")

    offlineimap(rc, tmp_path)
    local = local_box(maildir / "INBOX")
    assert set(local) == {"msg 0", "msg 1", "msg 2"}, local
    assert local["msg 1"][1] == "F" and local["msg 0"][1] == "", local

    make_local_changes(maildir)
    make_server_changes(imap)
    offlineimap(rc, tmp_path)
    check_after_two_way(imap, maildir)

    before = (local_state(maildir), server_state(imap))
    out = offlineimap(rc, tmp_path)
    after = (local_state(maildir), server_state(imap))
    assert after == before, out
    for verb in ("Copy message", "Adding flag", "Removing flag", "Deleting"):
        assert verb not in out, out


# ---- getmail6 -----------------------------------------------------------------

@need("getmail")
@pytest.mark.parametrize("delete", [False, True])
def test_getmail_imaps(imap, tmp_path, delete):
    # getmail will not deliver as root: as root, it delivers as the
    # unprivileged user into a directory that user can reach.
    as_user = ""
    top = tmp_path
    if os.geteuid() == 0:
        top = Path(tempfile.mkdtemp(prefix="postern-getmail-", dir="/tmp"))
        os.chmod(top, 0o755)
        as_user = "user = postern"
    try:
        maildir = top / "Maildir"
        for sub in ("cur", "new", "tmp"):
            (maildir / sub).mkdir(parents=True)
        if as_user:
            pw = pwd.getpwnam("postern")
            for d in (maildir, *(maildir / s for s in ("cur", "new", "tmp"))):
                os.chown(d, pw.pw_uid, pw.pw_gid)
        rc = render("getmailrc", tmp_path, port=imap.ports["imaps"], password=PASSWORD,
                    cert=cert(imap), maildir=maildir, as_user=as_user,
                    delete="true" if delete else "false")
        argv = ["getmail", "--getmaildir", tmp_path, "--rcfile", rc]
        r = run(argv, tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
        got = sorted(subject_of((maildir / "new" / f).read_bytes())
                     for f in os.listdir(maildir / "new"))
        assert got == ["msg 0", "msg 1", "msg 2"], r.stdout + r.stderr
        left = on_server(imap)
        assert set(left) == (set() if delete else {"msg 0", "msg 1", "msg 2"}), left
        # A second run fetches nothing again (kept messages are remembered);
        # after a new delivery, only that one.
        deliver(imap, subject="later")
        r = run(argv, tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
        got = sorted(subject_of((maildir / "new" / f).read_bytes())
                     for f in os.listdir(maildir / "new"))
        assert got == ["later", "msg 0", "msg 1", "msg 2"], r.stdout + r.stderr
        assert set(on_server(imap)) == (set() if delete else {"msg 0", "msg 1", "msg 2", "later"})
    finally:
        if top != tmp_path:
            shutil.rmtree(top)


# ---- fetchmail ----------------------------------------------------------------

@need("fetchmail")
@pytest.mark.parametrize("keep", [True, False])
def test_fetchmail_imap_starttls(imap, tmp_path, keep):
    out = tmp_path / "fetched.mbox"
    rc = render("fetchmailrc", tmp_path, port=imap.ports["imap"], password=PASSWORD,
                cert=cert(imap), keep="keep" if keep else "nokeep fetchall",
                mda=f"/bin/cat >> {out}")
    argv = ["fetchmail", "-f", rc, "--nosyslog", "-v", "--pidfile", tmp_path / "fetchmail.pid"]
    r = run(argv, tmp_path)
    log = r.stdout + r.stderr
    assert r.returncode == 0, log
    assert "STARTTLS" in log, log
    text = out.read_text()
    assert sorted(re.findall(r"^Subject: (msg \d)$", text, re.M)) == ["msg 0", "msg 1", "msg 2"]
    left = on_server(imap)
    if keep:
        # Kept, and marked seen: the next run has no new mail (exit 1).
        assert set(left) == {"msg 0", "msg 1", "msg 2"}, left
        assert all("\\Seen" in f for f in left.values()), left
        r = run(argv, tmp_path)
        assert r.returncode == 1, r.stdout + r.stderr
        assert out.read_text() == text
    else:
        assert left == {}, left
