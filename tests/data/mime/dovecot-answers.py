#!/usr/bin/python3
"""dovecot-answers.py - regenerate tests/data/mime/NAME.expected from Dovecot.

For each NAME.eml given (default: every *.eml beside this script), the
message is converted to CRLF (every LF not preceded by CR becomes CRLF,
exactly as test_mime_bodystructure.c does), put alone in a fresh maildir,
and a private, pre-authenticated Dovecot imap process (no daemon, no port:
/usr/lib/dovecot/imap on a pipe, with a throw-away config in a temporary
directory) is asked for ENVELOPE, BODY, BODYSTRUCTURE and the sections in
ITEMS. The answers go to NAME.expected, one record per item:

    ITEM LENGTH\\n<LENGTH bytes>\\n      the answer
    ITEM NO\\n                          Dovecot refused (e.g. [UNKNOWN-CTE])

ENVELOPE, BODY and BODYSTRUCTURE are kept in IMAP syntax as sent without
UTF8=ACCEPT (literals included); sections are the string's contents.
NAME.postern, when it exists, holds records in the same format that
override Dovecot's for intentional differences (docs/mime.md lists them).

Needs dovecot-imapd installed. Run as root the mail process drops to uid
65534 (Dovecot refuses root); otherwise it runs as the caller.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
IMAP = "/usr/lib/dovecot/imap"

# Sections asked of every message (a missing part gives an empty answer).
SECTIONS = [
    "BODY[HEADER]",
    "BODY[TEXT]",
    "BODY[HEADER.FIELDS (SUBJECT FROM)]",
    "BODY[HEADER.FIELDS.NOT (SUBJECT FROM)]",
    "BODY[1]",
    "BODY[1.MIME]",
    "BODY[1.HEADER]",
    "BODY[1.TEXT]",
    "BODY[2]",
    "BODY[2.MIME]",
    "BODY[2.HEADER]",
    "BODY[2.TEXT]",
    "BODY[2.HEADER.FIELDS (SUBJECT)]",
    "BODY[1.1]",
    "BODY[1.2]",
    "BODY[1.1.MIME]",
    "BODY[2.1]",
    "BODY[2.1.MIME]",
    "BODY[3]",
    "BINARY[]",
    "BINARY[1]",
    "BINARY[2]",
    "BINARY[3]",
    "BINARY[1.1]",
    "BINARY[1.2]",
    "BINARY[2.1]",
]
ITEMS = ["ENVELOPE", "BODY", "BODYSTRUCTURE"] + SECTIONS


def crlf(data):
    return re.sub(rb"(?<!\r)\n", b"\r\n", data)


def config(tmp, uid, gid):
    return f"""base_dir = {tmp}/run
state_dir = {tmp}/state
log_path = {tmp}/log
protocols =
ssl = no
mail_location = maildir:{tmp}/home/Maildir
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = 0
first_valid_gid = 0
mail_privileged_group =
passdb {{
  driver = static
  args = nopassword=y
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={tmp}/home
}}
"""


def read_response(data, pos):
    """One response line starting at pos, literals included: (bytes, next)."""
    out = b""
    while True:
        eol = data.index(b"\r\n", pos)
        line = data[pos:eol + 2]
        out += line
        pos = eol + 2
        m = re.search(rb"~?\{(\d+)\}\r\n$", line)
        if not m:
            return out, pos
        n = int(m.group(1))
        out += data[pos:pos + n]
        pos += n


def string_value(v):
    """Contents of an IMAP nstring / literal / literal8 value."""
    if v == b"NIL":
        return b""
    if v.startswith(b'"'):
        return re.sub(rb"\\(.)", rb"\1", v[1:-1])
    m = re.match(rb"~?\{(\d+)\}\r\n", v)
    if not m:
        raise ValueError(f"unexpected value {v[:40]!r}")
    return v[m.end():m.end() + int(m.group(1))]


def ask(msg):
    tmp = tempfile.mkdtemp(prefix="postern-dovecot-")
    try:
        root = os.geteuid() == 0
        uid, gid = (65534, 65534) if root else (os.getuid(), os.getgid())
        for d in ("cur", "new", "tmp"):
            os.makedirs(f"{tmp}/home/Maildir/{d}")
        with open(f"{tmp}/home/Maildir/cur/1.msg:2,", "wb") as f:
            f.write(msg)
        with open(f"{tmp}/dovecot.conf", "w") as f:
            f.write(config(tmp, uid, gid))
        if root:
            for dirpath, _, files in os.walk(tmp):
                os.chown(dirpath, uid, gid)
                for name in files:
                    os.chown(os.path.join(dirpath, name), uid, gid)
        cmds = b"s SELECT INBOX\r\n"
        for i, item in enumerate(ITEMS):
            peek = item.replace("BODY[", "BODY.PEEK[").replace("BINARY[", "BINARY.PEEK[")
            cmds += f"t{i} FETCH 1 ({peek})\r\n".encode()
        cmds += b"z LOGOUT\r\n"
        env = {"USER": "nobody" if root else os.environ.get("USER", "user"),
               "HOME": f"{tmp}/home", "MAIL": f"maildir:{tmp}/home/Maildir",
               "PATH": "/usr/bin:/bin"}
        out = subprocess.run([IMAP, "-c", f"{tmp}/dovecot.conf"], input=cmds, env=env,
                             capture_output=True, timeout=30, check=True).stdout
    finally:
        shutil.rmtree(tmp)
    # Dovecot runs pipelined commands concurrently: answers are matched by
    # the item named in each FETCH response, refusals by tag.
    answers = {}
    pos = 0
    while pos < len(out):
        resp, pos = read_response(out, pos)
        m = re.match(rb"t(\d+) (NO|BAD)", resp)
        if m:
            answers[ITEMS[int(m.group(1))]] = None
            continue
        m = re.match(rb"\* 1 FETCH \((.*)\)\r\n$", resp, re.S)
        if not m:
            continue
        body = m.group(1)
        name_end = body.index(b"]") + 1 if b"[" in body.split(b" ")[0] else body.index(b" ")
        name, value = body[:name_end].decode(), body[name_end + 1:]
        if name not in ITEMS:
            print(f"ignored: {resp[:80]!r}", file=sys.stderr)
            continue
        answers[name] = value if name in ("ENVELOPE", "BODY", "BODYSTRUCTURE") \
            else string_value(value)
    return answers


def main(names):
    if not names:
        names = sorted(f[:-4] for f in os.listdir(HERE) if f.endswith(".eml"))
    version = subprocess.run(["dovecot", "--version"], capture_output=True,
                             text=True).stdout.strip()
    for name in names:
        with open(os.path.join(HERE, name + ".eml"), "rb") as f:
            answers = ask(crlf(f.read()))
        rec = f"# Dovecot {version} answers for {name}.eml (dovecot-answers.py)\n".encode()
        for item in ITEMS:
            v = answers[item]
            rec += f"{item} NO\n".encode() if v is None else \
                f"{item} {len(v)}\n".encode() + v + b"\n"
        with open(os.path.join(HERE, name + ".expected"), "wb") as f:
            f.write(rec)
        print(name)


if __name__ == "__main__":
    main([os.path.basename(a).removesuffix(".eml") for a in sys.argv[1:]])
