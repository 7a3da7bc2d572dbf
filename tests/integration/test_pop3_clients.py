"""fetchmail (STLS) and getmail6 (POP3S) download from postern, keeping and
deleting."""
import os
import shutil
import smtplib
import subprocess
from pathlib import Path

import pytest

from smtp_helpers import PASSWORD, messages, setup_accounts
from test_smtp import FAST, SMTP_POLICY, simple_message


@pytest.fixture
def pop(postern_factory):
    p = postern_factory(options=dict(FAST))
    setup_accounts(p.data)
    p.start()
    with smtplib.SMTP(*p.addr("smtp")) as s:
        for i in range(4):
            s.sendmail("a@remote.test", ["alice@example.test"],
                       simple_message(subject=f"fetch {i}",
                                      body=f"body {i}\n.dot\n").as_bytes(policy=SMTP_POLICY))
    return p


@pytest.mark.skipif(shutil.which("fetchmail") is None, reason="fetchmail not installed")
@pytest.mark.parametrize("keep", [True, False])
def test_fetchmail_stls(pop, tmp_path, keep):
    out = tmp_path / "fetched.mbox"
    rc = tmp_path / "fetchmailrc"
    rc.write_text(
        f'set no bouncemail\n'
        f'poll 127.0.0.1 protocol POP3 port {pop.ports["pop3"]}\n'
        f'  user "alice@example.test" there with password "{PASSWORD}" is root here\n'
        f'  sslproto "TLS1.2+" sslcertck sslcommonname "localhost"\n'
        f'  sslcertfile "{pop.data / "tls" / "selfsigned.crt"}"\n'
        f'  {"keep" if keep else "nokeep"} fetchall\n'
        f'  mda "/bin/cat >> {out}"\n')
    os.chmod(rc, 0o600)
    r = subprocess.run(["fetchmail", "-f", str(rc), "--nosyslog", "-v"], capture_output=True,
                       text=True, timeout=60, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "STLS" in r.stdout + r.stderr
    text = out.read_text()
    assert text.count("Subject: fetch ") == 4
    assert "\n.dot\n" in text  # byte-stuffing undone
    left = len(messages(pop.data, "alice@example.test"))
    assert left == (4 if keep else 0)


@pytest.mark.skipif(shutil.which("getmail") is None, reason="getmail6 not installed")
@pytest.mark.parametrize("delete", [False, True])
def test_getmail_pop3s(pop, tmp_path, delete):
    # getmail will not deliver as root: as root, it delivers as the
    # unprivileged user into a directory that user can reach.
    as_user = ""
    top = tmp_path
    if os.geteuid() == 0:
        import pwd
        import tempfile
        top = Path(tempfile.mkdtemp(prefix="postern-getmail-", dir="/tmp"))
        os.chmod(top, 0o755)
        pw = pwd.getpwnam("postern")
        as_user = "user = postern\n"
    maildir = top / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    if as_user:
        for d in (maildir, *(maildir / s for s in ("cur", "new", "tmp"))):
            os.chown(d, pw.pw_uid, pw.pw_gid)
    rc = tmp_path / "getmailrc"
    rc.write_text(
        "[retriever]\ntype = SimplePOP3SSLRetriever\nserver = 127.0.0.1\n"
        f"port = {pop.ports['pop3s']}\nusername = alice@example.test\npassword = {PASSWORD}\n"
        f"ca_certs = {pop.data / 'tls' / 'selfsigned.crt'}\n"
        f"[destination]\ntype = Maildir\npath = {maildir}/\n{as_user}"
        f"[options]\nread_all = false\ndelete = {'true' if delete else 'false'}\n")
    r = subprocess.run(["getmail", "--getmaildir", str(tmp_path), "--rcfile", str(rc)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    got = os.listdir(maildir / "new")
    assert len(got) == 4
    assert len(messages(pop.data, "alice@example.test")) == (0 if delete else 4)
    # A second run with delete=false fetches nothing new (UIDL remembered).
    if not delete:
        r = subprocess.run(["getmail", "--getmaildir", str(tmp_path), "--rcfile", str(rc)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and len(os.listdir(maildir / "new")) == 4
    if top != tmp_path:
        shutil.rmtree(top)
