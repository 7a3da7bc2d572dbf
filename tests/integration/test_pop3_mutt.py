"""mutt reads a POP3 mailbox (STLS) in a terminal driven through tmux."""
import shutil
import subprocess
import time
import uuid

import pytest

from smtp_helpers import PASSWORD
from test_pop3 import pop  # noqa: F401  (fixture: alice has three messages)

pytestmark = pytest.mark.skipif(not (shutil.which("mutt") and shutil.which("tmux")),
                                reason="mutt and tmux needed")


def screen(session):
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                          text=True).stdout


def test_mutt_reads_pop3(pop, tmp_path):  # noqa: F811
    rc = tmp_path / "muttrc"
    rc.write_text(f"""
set pop_user = "alice@example.test"
set pop_pass = "{PASSWORD}"
set ssl_starttls = yes
set ssl_force_tls = yes
set certificate_file = "{pop.data / 'tls' / 'selfsigned.crt'}"
set pop_delete = no
set move = no
set quit = yes
set sort = date-sent
set folder = "{tmp_path}"
set spoolfile = "{tmp_path}/spool"
""")
    (tmp_path / "spool").write_text("")
    session = "postern-" + uuid.uuid4().hex[:8]
    url = f"pop://alice@example.test@localhost:{pop.ports['pop3']}/"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "30",
                    f"HOME={tmp_path} TERM=xterm mutt -n -F {rc} -f {url}"], check=True)
    try:
        deadline = time.monotonic() + 20
        text = ""
        while time.monotonic() < deadline:
            text = screen(session)
            if text.count("n2") and "n0" in text:
                break
            time.sleep(0.3)
        assert "n0" in text and "n1" in text and "n2" in text, text
        # Open the first message and see its body.
        subprocess.run(["tmux", "send-keys", "-t", session, "Enter"], check=True)
        time.sleep(1.5)
        body = screen(session)
        assert "Message " in body and ".leading dot line" in body, body
        subprocess.run(["tmux", "send-keys", "-t", session, "q", "q"], check=True)
        time.sleep(1)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
