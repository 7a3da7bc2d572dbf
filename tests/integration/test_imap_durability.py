"""An APPEND answered OK is on stable storage and indexed: kill -9 every
postern process at random moments while clients APPEND, restart, and check
that each acknowledged message is in the mailbox exactly once, with the UID
its APPENDUID named."""
import random
import re
import threading
import time
from collections import Counter

from conftest import run_cli
from imap_helpers import RawImap
from test_smtp_durability import kill_all

APPENDUID = re.compile(rb"OK \[APPENDUID (\d+) (\d+)\]")


def appender(p, n0, acked, errors, stop):
    """APPEND until the connection dies; record (subject, uid) of each OK and
    any answer that is neither an OK with APPENDUID nor a dropped link."""
    r = None
    try:
        r = RawImap(p.addr("imap"), timeout=5).login("carol@example.test", "x-secret")
        n = n0
        while not stop.is_set():
            body = b"Subject: m%d\r\nMessage-ID: <m%d@t>\r\n\r\n%s\r\n" % (n, n, b"x" * (n % 500))
            r.send(b"a APPEND INBOX {%d+}\r\n%s\r\n" % (len(body), body))
            _, ok = r.until("a")
            m = APPENDUID.search(ok)
            if not m:
                errors.append(ok)
                return
            acked.append((b"m%d" % n, int(m.group(1)), int(m.group(2))))
            n += 1
    except (OSError, EOFError):
        pass
    finally:
        if r is not None:
            r.close()


def test_kill_9_during_append(postern_factory):
    p = postern_factory(services=["imap"], options={"server.workers": "2"})
    p.data.mkdir()
    run_cli("domain", "add", "example.test", data=p.data, check=True)
    run_cli("user", "add", "carol@example.test", "--password-stdin", data=p.data,
            input="x-secret\n", check=True)
    rng = random.Random(5)
    acked, errors = [], []
    for round_ in range(4):
        p.start()
        stop = threading.Event()
        threads = [threading.Thread(target=appender, args=(p, 100000 * (round_ * 4 + i),
                                                           acked, errors, stop))
                   for i in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.5 + rng.random())
        kill_all(p)
        stop.set()
        for t in threads:
            t.join(timeout=10)
    assert errors == []
    assert len(acked) > 50, len(acked)  # acknowledged APPENDs across the kills
    p.start()
    r = RawImap(p.addr("imap")).login("carol@example.test", "x-secret")
    untagged, ok = r.cmd("SELECT INBOX")
    r_close = r.close
    uidvalidity = int(re.search(rb"UIDVALIDITY (\d+)", b"".join(untagged)).group(1))
    untagged, ok = r.cmd("UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    stored = {}
    subjects = Counter()
    for line in untagged:
        m = re.search(rb"UID (\d+) BODY\[HEADER.FIELDS \(SUBJECT\)\] \{\d+\}\r\nSubject: (m\d+)",
                      line)
        if m:
            stored[m.group(2)] = int(m.group(1))
            subjects[m.group(2)] += 1
    for subject, validity, uid in acked:
        assert validity == uidvalidity
        assert subjects[subject] == 1, subject
        assert stored[subject] == uid, (subject, stored[subject], uid)
    r_close()
    p.stop()
