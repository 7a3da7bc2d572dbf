"""A full disk gives 452 4.3.1, never a half-delivered message, and mail
flows again once there is room."""
import os
import smtplib
import subprocess

import pytest

from smtp_helpers import messages, setup_accounts
from test_smtp import FAST, SMTP_POLICY, simple_message


def mount_tmpfs(path, size):
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                       capture_output=True, text=True)
    return r.returncode == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a small tmpfs")
def test_disk_full(postern_factory):
    p = postern_factory(services=["smtp"], options=dict(FAST))
    if not mount_tmpfs(p.data, "2m"):
        pytest.skip("cannot mount tmpfs here")
    try:
        setup_accounts(p.data)
        p.start()
        accepted, refused = 0, []
        body = "x" * 76 + "\n"
        with smtplib.SMTP(*p.addr("smtp"), timeout=30) as s:
            for i in range(60):
                msg = simple_message(subject=f"m{i}", body=body * 1300)  # ~100 KiB
                try:
                    s.sendmail("a@remote.test", ["alice@example.test"],
                               msg.as_bytes(policy=SMTP_POLICY))
                    accepted += 1
                except smtplib.SMTPDataError as e:
                    refused.append((e.smtp_code, e.smtp_error[:5]))
                    if len(refused) >= 3:
                        break
        assert refused, "the disk never filled"
        assert set(refused) == {(452, b"4.3.1")}, refused
        # Nothing half-delivered: every file is a whole accepted message.
        stored = messages(p.data, "alice@example.test")
        assert len(stored) == accepted
        assert all(m.rstrip().endswith(b"x" * 76) for m in stored)
        # Room again: mail flows.
        subprocess.run(["mount", "-o", "remount,size=20m", str(p.data)], check=True)
        with smtplib.SMTP(*p.addr("smtp"), timeout=30) as s:
            s.sendmail("a@remote.test", ["alice@example.test"],
                       simple_message(subject="after").as_bytes(policy=SMTP_POLICY))
        assert len(messages(p.data, "alice@example.test")) == accepted + 1
        p.stop()
    finally:
        p.stop()
        subprocess.run(["umount", "-l", str(p.data)], capture_output=True)
