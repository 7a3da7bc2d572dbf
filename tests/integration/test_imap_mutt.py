"""mutt reads alice's INBOX over IMAPS in a terminal driven through tmux:
the message list, one message's body, and a deletion synced to the server."""
import shutil
import subprocess
import time
import uuid

import pytest

from imap_helpers import imap_server
from smtp_helpers import PASSWORD
from test_imap_clients import TLS_ONLY, cert, inbox, render

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


def test_mutt_reads_and_deletes_over_imaps(postern_factory, tmp_path):
    p = imap_server(postern_factory, options=TLS_ONLY)
    rc = render("muttrc", tmp_path, port=p.ports["imaps"], password=PASSWORD, cert=cert(p))
    session = "postern-" + uuid.uuid4().hex[:8]
    url = f"imaps://localhost:{p.ports['imaps']}/INBOX"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "30",
                    f"HOME={tmp_path} TERM=xterm mutt -n -F {rc} -f {url}"],
                   check=True, timeout=5)
    try:
        # The index lists the three messages.
        text = wait_screen(session, lambda t: all(f"msg {i}" in t for i in range(3)))
        assert all(f"msg {i}" in text for i in range(3)), text
        # Open the first one: its body shows.
        keys(session, "Enter")
        text = wait_screen(session, lambda t: "Hello there." in t)
        assert "Hello there." in text and "Subject: msg 0" in text, text
        # Back to the index, delete it, and sync the mailbox ($).
        keys(session, "q")
        wait_screen(session, lambda t: "msg 1" in t)
        keys(session, "d")
        time.sleep(0.3)
        keys(session, "$")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "msg 0" in inbox(p):
            time.sleep(0.3)
        left = inbox(p)
        assert set(left) == {"msg 1", "msg 2"}, (left, screen(session))
        keys(session, "q")
        time.sleep(0.5)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, timeout=5)
