"""mutt works on alice's INBOX over IMAPS in a terminal driven through
tmux: the message list, one message's body, a deletion synced to the
server, new mail showing up, a message saved to another folder, and a
reopening with a header cache that asks for changes only (QRESYNC)."""
import contextlib
import shutil
import subprocess
import time
import uuid

import pytest

from imap_helpers import deliver, imap_server
from smtp_helpers import PASSWORD
from test_imap_clients import TLS_ONLY, cert, client, on_server, render

pytestmark = pytest.mark.skipif(not (shutil.which("mutt") and shutil.which("tmux")),
                                reason="mutt and tmux needed")


def screen(session):
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                          text=True, timeout=5).stdout


def keys(session, *k):
    subprocess.run(["tmux", "send-keys", "-t", session, *k], check=True, timeout=5)


def wait_screen(session, pred, timeout=10):
    deadline = time.monotonic() + timeout
    text = screen(session)
    while not pred(text) and time.monotonic() < deadline:
        time.sleep(0.2)
        text = screen(session)
    return text


def wait_server(pred, box="INBOX", p=None, timeout=10):
    deadline = time.monotonic() + timeout
    state = on_server(p, box)
    while not pred(state) and time.monotonic() < deadline:
        time.sleep(0.3)
        state = on_server(p, box)
    return state


@contextlib.contextmanager
def mutt(p, tmp_path, check=600, hcache="", expect=("msg 0", "msg 1", "msg 2")):
    """mutt on alice's INBOX in a tmux session (its debug log, with the
    IMAP exchange, in tmp_path/.muttdebug0); yields the session name once
    the index lists the subjects expected. With a header cache, QRESYNC
    is on."""
    rc = render("muttrc", tmp_path, port=p.ports["imaps"], password=PASSWORD, cert=cert(p),
                check=check, hcache=hcache, qresync="yes" if hcache else "no")
    session = "postern-" + uuid.uuid4().hex[:8]
    url = f"imaps://localhost:{p.ports['imaps']}/INBOX"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "30",
                    f"HOME={tmp_path} TERM=xterm mutt -d 2 -n -F {rc} -f {url}"],
                   check=True, timeout=5)
    try:
        text = wait_screen(session, lambda t: all(x in t for x in expect))
        assert all(x in text for x in expect), text
        yield session
        keys(session, "q")
        time.sleep(0.5)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, timeout=5)


@pytest.fixture
def imap(postern_factory):
    return imap_server(postern_factory, options=TLS_ONLY)


def test_mutt_reads_and_deletes_over_imaps(imap, tmp_path):
    with mutt(imap, tmp_path) as session:
        # Open the first message: its body shows.
        keys(session, "Enter")
        text = wait_screen(session, lambda t: "Hello there." in t)
        assert "Hello there." in text and "Subject: msg 0" in text, text
        # Back to the index, delete it, and sync the mailbox ($).
        keys(session, "q")
        wait_screen(session, lambda t: "msg 1" in t)
        keys(session, "d")
        time.sleep(0.3)
        keys(session, "$")
        left = wait_server(lambda s: "msg 0" not in s, p=imap)
        assert set(left) == {"msg 1", "msg 2"}, (left, screen(session))


def test_mutt_new_mail_and_save_to_folder(imap, tmp_path):
    with mutt(imap, tmp_path, check=1) as session:
        # Mail delivered while mutt is open shows up in the index.
        deliver(imap, subject="late arrival")
        text = wait_screen(session, lambda t: "late arrival" in t)
        assert "late arrival" in text, text
        # Save the current message ("msg 0") to the Archive folder; saving
        # marks it deleted here, and the sync removes it from the INBOX.
        keys(session, "s")
        wait_screen(session, lambda t: "Save to mailbox" in t, timeout=5)
        keys(session, "C-u", "=Archive", "Enter")
        archive = wait_server(lambda s: "msg 0" in s, box="Archive", p=imap)
        assert set(archive) == {"msg 0"}, (archive, screen(session))
        keys(session, "$")
        left = wait_server(lambda s: "msg 0" not in s, p=imap)
        assert set(left) == {"msg 1", "msg 2", "late arrival"}, (left, screen(session))


def index_line(text, subject):
    return next(line for line in text.splitlines() if line.rstrip().endswith(subject))


def test_mutt_reopens_with_header_cache_and_qresync(imap, tmp_path):
    hcache = tmp_path / "hcache"
    hcache.mkdir()
    with mutt(imap, tmp_path, hcache=hcache):
        pass
    # While mutt is away: one message expunged, one flagged, one new.
    c = client(imap)
    try:
        c.select("INBOX")
        c.uid("STORE", "1", "+FLAGS", "(\\Deleted)")
        c.uid("STORE", "2", "+FLAGS", "(\\Flagged)")
        assert c.expunge()[0] == "OK"
    finally:
        c.logout()
    deliver(imap, subject="fresh")
    with mutt(imap, tmp_path, hcache=hcache, expect=("msg 1", "msg 2", "fresh")) as session:
        text = screen(session)
        assert "msg 0" not in text, text
        assert "!" in index_line(text, "msg 1") and "!" not in index_line(text, "msg 2"), text
    # The second session asked only for what changed since its cache.
    log = (tmp_path / ".muttdebug0").read_text(errors="replace")
    assert "ENABLE QRESYNC" in log and "(CHANGEDSINCE " in log, log
    assert "< * VANISHED (EARLIER) 1" in log, log
