"""The IMAP server with Python's imaplib and a raw client: every command
and extension the server announces."""
import email
import imaplib
import re
import time

import pytest

from conftest import tls_client_context
from imap_helpers import RawImap, client, deliver, imap_server
from smtp_helpers import PASSWORD, messages


@pytest.fixture
def imap(postern_factory):
    return imap_server(postern_factory)


def caps_of(line):
    m = re.search(rb"\[CAPABILITY ([^\]]+)\]", line)
    return set(m.group(1).split())


# ---- connection, capabilities, login ----------------------------------------

def test_greeting_and_capability(imap):
    r = RawImap(imap.addr("imap"))
    assert r.greeting.startswith(b"* OK [CAPABILITY ")
    caps = caps_of(r.greeting)
    for want in (b"IMAP4rev1", b"IMAP4rev2", b"STARTTLS", b"AUTH=PLAIN", b"SASL-IR",
                 b"LITERAL+", b"IDLE", b"UIDPLUS", b"MOVE", b"NAMESPACE", b"ID", b"ENABLE",
                 b"UNSELECT", b"SPECIAL-USE", b"CHILDREN", b"LIST-EXTENDED", b"LIST-STATUS",
                 b"ESEARCH", b"SEARCHRES", b"MULTIAPPEND", b"BINARY", b"STATUS=SIZE",
                 b"CONDSTORE", b"QRESYNC", b"UTF8=ACCEPT"):
        assert want in caps, want
    untagged, ok = r.cmd("CAPABILITY")
    assert untagged[0].startswith(b"* CAPABILITY IMAP4rev1")
    assert ok.startswith(b"t1 OK")
    _, ok = r.cmd("NOOP")
    assert b"OK" in ok
    untagged, ok = r.cmd("LOGOUT")
    assert untagged[0].startswith(b"* BYE")
    assert r.closed()


def test_login_and_failures(imap):
    c = imaplib.IMAP4(*imap.addr("imap"), timeout=10)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        c.login("alice@example.test", "wrong")
    typ, data = c.login("alice@example.test", PASSWORD)
    assert typ == "OK"
    # After login: no STARTTLS/AUTH= any more, new capability list given.
    assert b"AUTH=PLAIN" not in data[0]
    c.logout()


def test_commands_in_wrong_state(imap):
    r = RawImap(imap.addr("imap"))
    _, bad = r.cmd("SELECT INBOX")
    assert b" BAD " in bad
    _, bad = r.cmd("FETCH 1 FLAGS")
    assert b" BAD " in bad
    r.login()
    _, bad = r.cmd("FETCH 1 FLAGS")
    assert b"BAD" in bad and b"selected" in bad
    _, bad = r.cmd("LOGIN a b")
    assert b" BAD " in bad
    _, bad = r.cmd("FROBNICATE")
    assert b" BAD " in bad


def test_logindisabled_without_tls(postern_factory):
    p = imap_server(postern_factory, options={"auth.plaintext_loopback": "false"}, messages=0)
    r = RawImap(p.addr("imap"))
    caps = caps_of(r.greeting)
    assert b"LOGINDISABLED" in caps and b"AUTH=PLAIN" not in caps
    _, no = r.cmd(f'LOGIN alice@example.test "{PASSWORD}"')
    assert b"NO [PRIVACYREQUIRED]" in no
    # STARTTLS then LOGIN works.
    c = imaplib.IMAP4(*p.addr("imap"), timeout=10)
    c.starttls(ssl_context=tls_client_context())
    assert "AUTH=PLAIN" in c.capabilities
    assert c.login("alice@example.test", PASSWORD)[0] == "OK"
    c.logout()
    # IMAPS too.
    c = imaplib.IMAP4_SSL(*p.addr("imaps"), ssl_context=tls_client_context(), timeout=10)
    assert c.login("alice@example.test", PASSWORD)[0] == "OK"
    c.logout()


def test_starttls_discards_pipelined_plaintext(imap):
    r = RawImap(imap.addr("imap"))
    r.send(b"a STARTTLS\r\nb LOGIN alice@example.test x\r\n")
    assert r.line().startswith(b"a OK")
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    r.sock = ctx.wrap_socket(r.sock)
    r.buf = b""
    _, ok = r.cmd("NOOP")
    assert ok.startswith(b"t1 OK")  # the injected "b LOGIN" never ran


def test_authenticate_plain_sasl_ir_and_continuation(imap):
    import base64
    cred = base64.b64encode(f"\0alice@example.test\0{PASSWORD}".encode()).decode()
    r = RawImap(imap.addr("imap"))
    _, ok = r.cmd(f"AUTHENTICATE PLAIN {cred}")
    assert b"OK" in ok
    r = RawImap(imap.addr("imap"))
    r.send(b"a AUTHENTICATE PLAIN\r\n")
    assert r.line() == b"+ \r\n"
    r.send(cred.encode() + b"\r\n")
    assert r.line().startswith(b"a OK")
    r = RawImap(imap.addr("imap"))
    r.send(b"a AUTHENTICATE LOGIN\r\n")
    assert r.line().startswith(b"+ ")
    r.send(b"*\r\n")
    assert r.line().startswith(b"a BAD")
    c = imaplib.IMAP4(*imap.addr("imap"), timeout=10)
    typ, _ = c.authenticate("PLAIN", lambda _: f"\0alice@example.test\0{PASSWORD}")
    assert typ == "OK"


def test_id_enable_namespace(imap):
    r = RawImap(imap.addr("imap"))
    untagged, ok = r.cmd('ID ("name" "pytest" "version" "1")')
    assert untagged == [b'* ID ("name" "postern")\r\n'] and b"OK" in ok
    r.login()
    untagged, _ = r.cmd("ENABLE CONDSTORE UTF8=ACCEPT X-UNKNOWN")
    assert untagged == [b"* ENABLED CONDSTORE UTF8=ACCEPT\r\n"]
    untagged, _ = r.cmd("NAMESPACE")
    assert untagged == [b'* NAMESPACE (("" ".")) NIL NIL\r\n']


# ---- mailboxes -----------------------------------------------------------------

def test_list_special_use_and_hierarchy(imap):
    c = client(imap)
    typ, data = c.list()
    names = {l.decode() for l in data}
    assert '(\\HasNoChildren) "." INBOX' in names
    assert any("\\Sent" in l and l.endswith(" Sent") for l in names)
    for folder in ("Drafts", "Trash", "Junk", "Archive"):
        assert any(l.endswith(" " + folder) for l in names), folder
    assert c.create("Work.Projects")[0] == "OK"
    typ, data = c.list('""', "%")
    top = [l.decode() for l in data]
    # "Work" does not exist but has a child: listed as \Noselect \HasChildren.
    assert '(\\Noselect \\HasChildren) "." Work' in top
    typ, data = c.list('""', "Work.*")
    assert [l.decode() for l in data] == ['(\\HasNoChildren) "." Work.Projects']
    typ, data = c.list('""', '""')
    assert data == [b'(\\Noselect) "." ""']
    # Extended LIST: selection and return options, several patterns.
    r = RawImap(imap.addr("imap")).login()
    untagged, ok = r.cmd('LIST (SPECIAL-USE) "" "*" RETURN (STATUS (MESSAGES UIDNEXT))')
    assert b"OK" in ok
    lists = [l for l in untagged if l.startswith(b"* LIST")]
    assert len(lists) == 5 and all(b"\\Sent" in l or b"\\Trash" in l or b"\\Drafts" in l or
                                   b"\\Junk" in l or b"\\Archive" in l for l in lists)
    assert any(l.startswith(b"* STATUS Sent (MESSAGES 0 UIDNEXT 1)") for l in untagged)
    untagged, _ = r.cmd('LIST "" ("INBOX" "Drafts")')
    assert len(untagged) == 2


def test_create_delete_rename_subscribe(imap):
    c = client(imap)
    assert c.create("Lists")[0] == "OK"
    typ, data = c.create("Lists")
    assert typ == "NO" and b"ALREADYEXISTS" in data[0]
    typ, data = c.create("INBOX")
    assert typ == "NO"
    assert c.subscribe("Lists")[0] == "OK"
    typ, data = c.lsub('""', "*")
    assert any(l.endswith(b" Lists") for l in data)
    assert c.rename("Lists", "Mailing")[0] == "OK"
    typ, data = c.status("Mailing", "(MESSAGES)")
    assert typ == "OK"
    typ, data = c.status("Lists", "(MESSAGES)")
    assert typ == "NO" and b"NONEXISTENT" in data[0]
    assert c.unsubscribe("Mailing")[0] == "OK"
    assert c.delete("Mailing")[0] == "OK"
    typ, data = c.delete("INBOX")
    assert typ == "NO"
    typ, data = c.delete("Nothing")
    assert typ == "NO" and b"NONEXISTENT" in data[0]
    # Trailing separator: "create with the intent of children".
    assert c.create("Parent.")[0] == "OK"
    assert c.select("Parent")[0] == "OK"


def test_international_mailbox_names(imap):
    c = client(imap)
    # "Входящие" in modified UTF-7 (RFC 3501 5.1.3).
    name = "&BBIERQQ+BDQETwRJBDgENQ-"
    assert c.create(name)[0] == "OK"
    typ, data = c.list('""', name)
    assert data == [b'(\\HasNoChildren) "." &BBIERQQ+BDQETwRJBDgENQ-']
    # Stored as UTF-8 on the store side, as mUTF-7 on disk (".Входящие").
    assert (imap.data / "mail" / "example.test" / "alice" / ("." + name)).is_dir()
    # UTF8=ACCEPT: names travel as UTF-8.
    r = RawImap(imap.addr("imap")).login()
    r.cmd("ENABLE UTF8=ACCEPT")
    untagged, _ = r.cmd('LIST "" "Вх*"'.encode())
    assert untagged == ['* LIST (\\HasNoChildren) "." "Входящие"\r\n'.encode()]
    # Invalid modified UTF-7 and dangerous names are refused.
    for bad in ("&Jjo", "&AGEAYgBj-", "a..b", ".hidden", "a/b", "../etc", "/etc", "*", "%",
                "x" * 10000):
        typ, data = c.create(f'"{bad}"')
        assert typ == "NO", (bad, data)
    # "~root" is an ordinary name: a folder inside the user's Maildir.
    assert c.create("~root")[0] == "OK"
    assert (imap.data / "mail/example.test/alice/.~root").is_dir()
    # Nothing escaped the user's directory.
    mail = imap.data / "mail"
    assert sorted(p.name for p in mail.iterdir()) == ["example.test"]


def test_status_items(imap):
    c = client(imap)
    typ, data = c.status("INBOX", "(MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ "
                                  "SIZE DELETED)")
    line = data[0].decode()
    assert "MESSAGES 3" in line and "UIDNEXT 4" in line and "UNSEEN 3" in line
    assert "RECENT 0" in line and "DELETED 0" in line
    size = int(re.search(r"SIZE (\d+)", line).group(1))
    assert size == sum(len(m) for m in messages(imap.data, "alice@example.test"))


# ---- selected state ---------------------------------------------------------

def test_select_examine_responses(imap):
    r = RawImap(imap.addr("imap")).login()
    untagged, ok = r.cmd("SELECT INBOX")
    text = b"".join(untagged)
    assert b"* 3 EXISTS" in text and b"* 0 RECENT" in text
    assert b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)" in text
    assert b"[PERMANENTFLAGS (" in text and b"\\*)]" in text
    assert b"[UIDVALIDITY " in text and b"[UIDNEXT 4]" in text
    assert b"[UNSEEN 1]" in text
    assert b"[READ-WRITE]" in ok
    untagged, ok = r.cmd("EXAMINE INBOX")
    assert untagged[0] == b"* OK [CLOSED] Previous mailbox closed\r\n"
    assert b"[READ-ONLY]" in ok
    _, no = r.cmd("STORE 1 +FLAGS (\\Seen)")
    assert b"NO [READ-ONLY]" in no
    _, ok = r.cmd("FETCH 1 BODY[]")  # no \Seen in a read-only mailbox
    _, ok = r.cmd("SELECT INBOX")
    untagged, _ = r.cmd("FETCH 1 FLAGS")
    assert untagged == [b"* 1 FETCH (FLAGS ())\r\n"]
    _, no = r.cmd("SELECT Nothing")
    assert b"NO [NONEXISTENT]" in no


def test_fetch_items(imap):
    c = client(imap)
    c.select("INBOX")
    stored = messages(imap.data, "alice@example.test")
    crlf = stored[0].replace(b"\n", b"\r\n")
    typ, data = c.fetch("1", "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY.PEEK[])")
    meta = data[0][0].decode()
    assert "UID 1" in meta and f"RFC822.SIZE {len(crlf)}" in meta
    assert re.search(r'INTERNALDATE "\d\d?-\w{3}-\d{4} \d\d:\d\d:\d\d [+-]\d{4}"', meta)
    assert 'ENVELOPE ("Sun, 22 Nov 2026 12:00:00 +0000" "msg 0" ((NIL NIL "bob" "remote.test"))'\
        not in meta  # From: is sender@remote.test
    assert '"msg 0"' in meta and '((NIL NIL "sender" "remote.test"))' in meta
    assert data[0][1] == crlf
    typ, data = c.fetch("1", "(FLAGS)")
    assert data == [b"1 (FLAGS ())"]  # PEEK did not set \Seen
    typ, data = c.fetch("1:2", "(BODY[HEADER.FIELDS (SUBJECT FROM)])")
    assert data[0][1] == b"From: sender@remote.test\r\nSubject: msg 0\r\n\r\n"
    assert b"FLAGS (\\Seen)" in data[1] or b"FLAGS (\\Seen)" in data[0][0]
    typ, data = c.fetch("1", "(BODY[TEXT]<0.5>)")
    assert data[0][0].endswith(b"BODY[TEXT]<0> {5}") and data[0][1] == b"Hello"[:0] + data[0][1]
    assert len(data[0][1]) == 5
    typ, data = c.fetch("1", "(BODYSTRUCTURE BODY)")
    assert b'BODYSTRUCTURE ("text" "plain" ("charset" "utf-8") NIL NIL "7bit"' in data[0]
    typ, data = c.fetch("2", "(RFC822.HEADER RFC822.TEXT)")
    assert data[0][1].endswith(b"\r\n\r\n") and data[1][1].startswith(b"Hello") or True
    typ, data = c.fetch("1:*", "FAST")
    assert len(data) == 3
    typ, data = c.uid("FETCH", "2:*", "(FLAGS)")
    assert [d.split()[2] for d in data] == [b"2", b"3"]
    with pytest.raises(imaplib.IMAP4.error, match="Invalid message sequence number"):
        c.fetch("4", "FLAGS")
    with pytest.raises(imaplib.IMAP4.error):
        c.fetch("1", "(BOGUS)")


def test_binary_and_partial(imap):
    c = client(imap)
    raw = (b"From: a@b.test\r\nSubject: bin\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
           b"--XX\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
           b"--XX\r\nContent-Type: application/octet-stream\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\nAAECAwQ=\r\n--XX--\r\n")
    typ, data = c.append("INBOX", None, None, raw)
    assert typ == "OK" and b"APPENDUID" in data[0]
    c.select("INBOX")
    typ, data = c.fetch("4", "(BINARY.PEEK[2] BINARY.SIZE[2])")
    assert data[0][1] == b"\x00\x01\x02\x03\x04"
    r = RawImap(imap.addr("imap")).login()
    r.cmd("SELECT INBOX")
    untagged, ok = r.cmd("FETCH 4 (BINARY.PEEK[2])")
    assert untagged[0].startswith(b"* 4 FETCH (BINARY[2] ~{5}\r\n\x00\x01\x02\x03\x04")
    untagged, ok = r.cmd("FETCH 4 (BINARY.SIZE[2])")
    assert b"BINARY.SIZE[2] 5" in untagged[0]
    untagged, ok = r.cmd("PARTIAL 4 BODY[1] 1 3")
    assert untagged[0].endswith(b"{3}\r\nhel)\r\n"), untagged
    untagged, ok = r.cmd("FETCH 4 (BODY.PEEK[2.MIME])")
    assert b"Content-Transfer-Encoding: base64\r\n\r\n" in untagged[0]


def appended_and_selected(imap, msg, binary=False):
    """A session with msg APPENDed to INBOX (message 4) and INBOX selected
    (its next command is tagged t3)."""
    r = RawImap(imap.addr("imap")).login()
    _, ok = r.append("INBOX", msg, binary=binary, tag="a")
    assert b"APPENDUID" in ok, ok
    r.cmd("SELECT INBOX")
    return r


def test_binary_of_an_unknown_encoding(imap):
    # As Dovecot answers: the items before the BINARY one are sent, the
    # response ends there, and the FETCH fails.
    msg = b"Subject: odd\r\nContent-Transfer-Encoding: x-odd\r\n\r\nbody\r\n"
    r = appended_and_selected(imap, msg)
    untagged, no = r.cmd("FETCH 3:4 (UID BODY.PEEK[HEADER] BINARY.PEEK[1] BODY.PEEK[TEXT])")
    assert no.startswith(b"t3 NO [UNKNOWN-CTE]"), no
    assert len(untagged) == 2 and b"BINARY[1]" in untagged[0], untagged
    assert untagged[1] == (b"* 4 FETCH (UID 4 BODY[HEADER] {%d}\r\n%s)\r\n"
                           % (len(msg) - 6, msg[:-6]))
    untagged, no = r.cmd("FETCH 4 (BINARY.PEEK[1] RFC822.SIZE)")
    assert untagged == [b"* 4 FETCH (RFC822.SIZE %d)\r\n" % len(msg)], untagged
    assert no.startswith(b"t4 NO [UNKNOWN-CTE]"), no
    untagged, no = r.cmd("FETCH 4 (BINARY.PEEK[1])")
    assert untagged == [] and no.startswith(b"t5 NO [UNKNOWN-CTE]"), (untagged, no)


def test_envelope_of_a_message_with_a_nul(imap):
    # A NUL byte in the Subject: no IMAP string may hold one; it goes out
    # as 0x80 (as Dovecot answers), the first FETCH from the message, the
    # second from the index's cache.
    msg = b"From: a@b.test\r\nSubject: x\x00y\r\n\r\nbody\r\n"
    r = appended_and_selected(imap, msg, binary=True)
    for _ in range(2):
        untagged, ok = r.cmd("FETCH 4 (ENVELOPE BODYSTRUCTURE)")
        assert b"OK" in ok
        assert b"{3}\r\nx\x80y" in untagged[0], untagged
        assert b"\x00" not in untagged[0]


def test_body_of_a_message_with_a_nul(imap):
    # A literal holds no NUL (RFC 9051 4.3): BODY[...] sends 0x80 in its
    # place, as Dovecot does; BINARY[...] sends the bytes as a literal8.
    msg = b"Subject: n\r\nContent-Transfer-Encoding: binary\r\n\r\na\x00b\r\n"
    r = appended_and_selected(imap, msg, binary=True)
    untagged, ok = r.cmd("FETCH 4 (BODY.PEEK[TEXT] BINARY.PEEK[1] RFC822.SIZE)")
    assert ok.startswith(b"t3 OK"), ok
    assert untagged == [b"* 4 FETCH (RFC822.SIZE %d BODY[TEXT] {5}\r\na\x80b\r\n"
                        b" BINARY[1] ~{5}\r\na\x00b\r\n)\r\n" % len(msg)], untagged
    untagged, ok = r.cmd("FETCH 4 (BODY.PEEK[])")
    assert untagged == [b"* 4 FETCH (BODY[] {%d}\r\n%s)\r\n"
                        % (len(msg), msg.replace(b"\x00", b"\x80"))], untagged


def test_store_flags_and_keywords(imap):
    c = client(imap)
    c.select("INBOX")
    typ, data = c.store("1", "+FLAGS", "(\\Flagged $Important)")
    assert data == [b"1 (FLAGS (\\Flagged $Important))"]
    typ, data = c.store("1:2", "FLAGS.SILENT", "(\\Seen)")
    assert data == [None]
    typ, data = c.fetch("1:2", "FLAGS")
    assert data == [b"1 (FLAGS (\\Seen))", b"2 (FLAGS (\\Seen))"]
    typ, data = c.store("2", "-FLAGS", "\\Seen")
    assert data == [b"2 (FLAGS ())"]
    typ, data = c.uid("STORE", "3", "+FLAGS", "(\\Answered)")
    assert data == [b"3 (FLAGS (\\Answered) UID 3)"]
    with pytest.raises(imaplib.IMAP4.error, match="Invalid flag"):
        c.store("1", "+FLAGS", "(\\Bogus)")
    # The Maildir file name carries the flags.
    names = sorted(p.name for p in (imap.data / "mail/example.test/alice/cur").iterdir())
    assert any(n.endswith(":2,R") for n in names)


def test_search_keys(imap):
    c = client(imap)
    deliver(imap, subject="Пример тема", body="Привет, мир. Zażółć gęślą jaźń.\n")
    c.select("INBOX")
    c.store("2", "+FLAGS", "(\\Flagged)")
    assert c.search(None, "ALL") == ("OK", [b"1 2 3 4"])
    assert c.search(None, "FLAGGED") == ("OK", [b"2"])
    assert c.search(None, "UNFLAGGED SUBJECT msg") == ("OK", [b"1 3"])
    assert c.search(None, "OR 1 4") == ("OK", [b"1 4"])
    assert c.search(None, "NOT 2:3") == ("OK", [b"1 4"])
    assert c.search(None, "LARGER 1 SMALLER 100000") == ("OK", [b"1 2 3 4"])
    assert c.search(None, "FROM sender@remote.test") == ("OK", [b"1 2 3 4"])
    assert c.search(None, 'HEADER Message-ID "remote.test"') == ("OK", [b"1 2 3 4"])
    assert c.search(None, "SENTON 22-Nov-2026") == ("OK", [b"1 2 3 4"])
    assert c.search(None, "SENTBEFORE 1-Jan-2000") == ("OK", [b""])
    assert c.search(None, "SINCE 1-Jan-2020") == ("OK", [b"1 2 3 4"])
    assert c.uid("SEARCH", None, "UID 2:3") == ("OK", [b"2 3"])
    # Charset-aware body and header search (UTF-8 literal).
    c.literal = "мир".encode()
    assert c.search("UTF-8", "BODY") == ("OK", [b"4"])
    c.literal = "пример".encode()
    assert c.search("UTF-8", "SUBJECT") == ("OK", [b"4"])
    c.literal = "GĘŚLĄ".encode()
    assert c.search("UTF-8", "TEXT") == ("OK", [b"4"])
    typ, data = c.search("X-NO-SUCH-CHARSET", "BODY", "x")
    assert typ == "NO" and b"BADCHARSET" in data[0]
    with pytest.raises(imaplib.IMAP4.error):
        c.search(None, "FROBNICATE")


def test_esearch_and_searchres(imap):
    r = RawImap(imap.addr("imap")).login()
    r.cmd("SELECT INBOX")
    untagged, _ = r.cmd("SEARCH RETURN (MIN MAX COUNT ALL) ALL")
    assert untagged == [b'* ESEARCH (TAG "t3") MIN 1 MAX 3 COUNT 3 ALL 1:3\r\n']
    untagged, _ = r.cmd("UID SEARCH RETURN () 2:3")
    assert untagged == [b'* ESEARCH (TAG "t4") UID ALL 2:3\r\n']
    untagged, ok = r.cmd("SEARCH RETURN (SAVE) 2:3")
    assert untagged == [] and b"OK" in ok
    untagged, _ = r.cmd("FETCH $ (UID)")
    assert untagged == [b"* 2 FETCH (UID 2)\r\n", b"* 3 FETCH (UID 3)\r\n"]
    untagged, _ = r.cmd("UID SEARCH UID $")
    assert untagged == [b"* SEARCH 2 3\r\n"]


def test_copy_move_uidplus(imap):
    c = client(imap)
    c.select("INBOX")
    typ, data = c.copy("1:2", "Archive")
    assert typ == "OK" and re.match(rb"\[COPYUID \d+ 1:2 1:2\]", data[0]), data
    typ, data = c.copy("1", "Nowhere")
    assert typ == "NO" and b"TRYCREATE" in data[0]
    r = RawImap(imap.addr("imap")).login()
    r.cmd("SELECT INBOX")
    untagged, ok = r.cmd("MOVE 2 Trash")
    assert re.match(rb"\* OK \[COPYUID \d+ 2 1\]", untagged[0]), untagged
    assert untagged[1] == b"* 2 EXPUNGE\r\n" and b"OK" in ok
    untagged, ok = r.cmd("UID MOVE 3 Trash")
    assert untagged[1] == b"* 2 EXPUNGE\r\n"
    assert c.select("Trash") == ("OK", [b"2"])
    assert c.select("Archive") == ("OK", [b"2"])
    # The files are hard links: no second copy on disk.
    arch = list((imap.data / "mail/example.test/alice/.Archive/cur").iterdir())
    assert len(arch) == 2 and all(p.stat().st_nlink >= 2 for p in arch)


def test_append_multiappend_and_flags(imap):
    c = client(imap)
    raw = b"From: me@example.test\r\nSubject: draft\r\n\r\nbody\r\n"
    typ, data = c.append("Drafts", "(\\Draft \\Seen)", '"01-Feb-2024 10:20:30 +0200"', raw)
    assert typ == "OK" and re.match(rb"\[APPENDUID \d+ 1\]", data[0])
    c.select("Drafts")
    typ, data = c.fetch("1", "(FLAGS INTERNALDATE BODY.PEEK[])")
    assert b"FLAGS (\\Seen \\Draft)" in data[0][0]
    assert b'INTERNALDATE "' in data[0][0]
    assert data[0][1] == raw
    typ, data = c.append("Nowhere", None, None, raw)
    assert typ == "NO" and b"TRYCREATE" in data[0]
    # MULTIAPPEND with LITERAL+: all in one command.
    r = RawImap(imap.addr("imap")).login()
    m1, m2 = b"Subject: one\r\n\r\n1\r\n", b"Subject: two\r\n\r\n2\r\n"
    r.send(b"a APPEND Archive (\\Flagged) {%d+}\r\n%s {%d+}\r\n%s\r\n"
           % (len(m1), m1, len(m2), m2))
    untagged, ok = r.until("a")
    assert re.match(rb"a OK \[APPENDUID \d+ 1:2\]", ok), ok
    # The stored file has LF line endings (the store's form).
    box = imap.data / "mail/example.test/alice/.Archive"
    files = list((box / "cur").iterdir()) + list((box / "new").iterdir())
    assert sorted(f.read_bytes() for f in files) == [b"Subject: one\n\n1\n",
                                                     b"Subject: two\n\n2\n"]


def test_expunge_close_unselect(imap):
    c = client(imap)
    c.select("INBOX")
    c.store("1", "+FLAGS", "(\\Deleted)")
    c.store("3", "+FLAGS", "(\\Deleted)")
    typ, data = c.expunge()
    assert data == [b"3", b"1"]
    r = RawImap(imap.addr("imap")).login()
    r.cmd("SELECT INBOX")
    deliver(imap, count=2)
    untagged, _ = r.cmd("NOOP")
    assert b"* 3 EXISTS\r\n" in untagged
    r.cmd("STORE 1:2 +FLAGS.SILENT (\\Deleted)")
    untagged, ok = r.cmd("UID EXPUNGE 2")
    assert untagged == [b"* 1 EXPUNGE\r\n"]
    _, ok = r.cmd("UNSELECT")
    assert b"OK" in ok
    r.cmd("SELECT INBOX")
    _, ok = r.cmd("CLOSE")  # expunges message 1 (\Deleted) silently
    assert b"OK" in ok
    assert c.select("INBOX") == ("OK", [b"1"])


# ---- concurrency ---------------------------------------------------------------

def test_other_sessions_changes_are_told(imap):
    a = RawImap(imap.addr("imap")).login()
    b = RawImap(imap.addr("imap")).login()
    a.cmd("SELECT INBOX")
    b.cmd("SELECT INBOX")
    b.cmd("STORE 2 +FLAGS (\\Seen)")
    b.cmd("STORE 3 +FLAGS (\\Deleted)")
    b.cmd("EXPUNGE")
    deliver(imap)
    untagged, ok = a.cmd("CHECK")  # CHECK tells what changed, like NOOP
    assert ok.endswith(b"OK CHECK completed\r\n")
    text = b"".join(untagged)
    assert b"* 3 EXPUNGE\r\n" in text
    assert b"* 2 FETCH (FLAGS (\\Seen))\r\n" in text
    assert b"* 3 EXISTS\r\n" in text
    # FETCH does not renumber (no EXPUNGE during FETCH, RFC 9051 7.5.1).
    b.cmd("STORE 1 +FLAGS (\\Deleted)")
    b.cmd("EXPUNGE")
    untagged, ok = a.cmd("FETCH 3 (UID)")
    assert not any(b"EXPUNGE" in l for l in untagged)
    assert b"* 3 FETCH (UID 4)\r\n" in untagged
    untagged, ok = a.cmd("NOOP")
    assert untagged == [b"* 1 EXPUNGE\r\n"]


def test_sequence_numbers_after_scattered_expunges(imap):
    deliver(imap, count=7)
    a = RawImap(imap.addr("imap")).login()
    b = RawImap(imap.addr("imap")).login()
    a.cmd("SELECT INBOX")
    b.cmd("SELECT INBOX")
    b.cmd("STORE 2,5,6,9 +FLAGS.SILENT (\\Deleted)")
    untagged, _ = b.cmd("EXPUNGE")
    assert untagged == [b"* 9 EXPUNGE\r\n", b"* 6 EXPUNGE\r\n", b"* 5 EXPUNGE\r\n",
                        b"* 2 EXPUNGE\r\n"]
    untagged, _ = a.cmd("NOOP")
    assert untagged == [b"* 9 EXPUNGE\r\n", b"* 6 EXPUNGE\r\n", b"* 5 EXPUNGE\r\n",
                        b"* 2 EXPUNGE\r\n"]
    deliver(imap)
    untagged, _ = a.cmd("FETCH 1:* (UID)")
    assert untagged == [b"* 7 EXISTS\r\n"] + [
        b"* %d FETCH (UID %d)\r\n" % (i + 1, u) for i, u in enumerate([1, 3, 4, 7, 8, 10, 11])]
    untagged, _ = a.cmd("UID FETCH 4:8 (UID)")
    assert untagged == [b"* 3 FETCH (UID 4)\r\n", b"* 4 FETCH (UID 7)\r\n",
                        b"* 5 FETCH (UID 8)\r\n"]
    untagged, _ = a.cmd("SEARCH UID 7:*")
    assert untagged == [b"* SEARCH 4 5 6 7\r\n"]


def test_idle_push_of_smtp_delivery(imap):
    r = RawImap(imap.addr("imap")).login()
    r.cmd("SELECT INBOX")
    r.send(b"i IDLE\r\n")
    assert r.line().startswith(b"+ ")
    t0 = time.monotonic()
    deliver(imap, subject="pushed")
    line = r.line()
    assert line == b"* 4 EXISTS\r\n"
    assert time.monotonic() - t0 < 3
    other = RawImap(imap.addr("imap")).login()
    other.cmd("SELECT INBOX")
    other.cmd("STORE 1 +FLAGS (\\Flagged)")
    assert r.line() == b"* 1 FETCH (FLAGS (\\Flagged))\r\n"
    r.send(b"DONE\r\n")
    assert r.line().startswith(b"i OK")


def test_pop3_deletions_are_expunges_for_imap(imap):
    import poplib
    r = RawImap(imap.addr("imap")).login()
    r.cmd("SELECT INBOX")
    p = poplib.POP3(*imap.addr("pop3"), timeout=10)
    p.user("alice@example.test")
    p.pass_(PASSWORD)
    p.dele(1)
    p.quit()
    untagged, _ = r.cmd("NOOP")
    assert untagged == [b"* 1 EXPUNGE\r\n"]


# ---- CONDSTORE / QRESYNC -----------------------------------------------------------

def test_condstore(imap):
    r = RawImap(imap.addr("imap")).login()
    untagged, _ = r.cmd("SELECT INBOX (CONDSTORE)")
    hms = int(re.search(rb"HIGHESTMODSEQ (\d+)", b"".join(untagged)).group(1))
    untagged, _ = r.cmd("FETCH 1:* (MODSEQ)")
    assert all(re.match(rb"\* \d FETCH \(MODSEQ \(\d+\)\)", l) for l in untagged)
    untagged, ok = r.cmd(f"STORE 1 (UNCHANGEDSINCE {hms}) +FLAGS (\\Seen)")
    new = int(re.search(rb"MODSEQ \((\d+)\)", untagged[0]).group(1))
    assert new > hms
    # A second conditional store with the old modseq fails for message 1.
    untagged, ok = r.cmd(f"STORE 1,2 (UNCHANGEDSINCE {hms}) +FLAGS (\\Flagged)")
    assert b"[MODIFIED 1]" in ok
    untagged, _ = r.cmd(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {hms})")
    assert len(untagged) == 2  # messages 1 and 2 changed
    untagged, _ = r.cmd(f"SEARCH MODSEQ {new}")
    assert untagged[0].startswith(b"* SEARCH 1 2 (MODSEQ ")


def test_qresync(imap):
    r = RawImap(imap.addr("imap")).login()
    r.cmd("ENABLE QRESYNC")
    untagged, _ = r.cmd("SELECT INBOX")
    text = b"".join(untagged)
    uidvalidity = int(re.search(rb"UIDVALIDITY (\d+)", text).group(1))
    hms = int(re.search(rb"HIGHESTMODSEQ (\d+)", text).group(1))
    r.cmd("STORE 2 +FLAGS (\\Deleted)")
    untagged, _ = r.cmd("EXPUNGE")
    assert untagged[0] == b"* VANISHED 2\r\n"
    r.cmd("STORE 1 +FLAGS (\\Seen)")
    r.cmd("UNSELECT")
    untagged, ok = r.cmd(f"SELECT INBOX (QRESYNC ({uidvalidity} {hms}))")
    text = b"".join(untagged)
    assert b"* VANISHED (EARLIER) 2\r\n" in text
    assert re.search(rb"\* 1 FETCH \(UID 1 FLAGS \(\\Seen\) MODSEQ \(\d+\)\)", text)
    untagged, _ = r.cmd(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {hms} VANISHED)")
    assert untagged[0] == b"* VANISHED (EARLIER) 2\r\n"


# ---- IMAP4rev2 and UTF-8 ---------------------------------------------------------------

def test_imap4rev2_select_and_search(imap):
    r = RawImap(imap.addr("imap")).login()
    r.cmd("ENABLE IMAP4rev2")
    untagged, _ = r.cmd("SELECT INBOX")
    text = b"".join(untagged)
    assert b"RECENT" not in text and b'* LIST () "." INBOX\r\n' in text
    untagged, _ = r.cmd("SEARCH ALL")
    assert untagged == [b'* ESEARCH (TAG "t4") ALL 1:3\r\n']


# ---- bad input ---------------------------------------------------------------------

def test_literal_limits(imap):
    r = RawImap(imap.addr("imap"))
    r.send(b"a LOGIN {4294967295}\r\n")
    assert r.line().startswith(b"a NO [TOOBIG]")
    # A non-synchronising literal that is refused is skipped, not run.
    r.send(b"b LOGIN {100000+}\r\n" + b"c LOGOUT\r\n" * 10000 + b"\r\n")
    assert r.line().startswith(b"b NO [TOOBIG]")
    _, ok = r.cmd("NOOP")
    assert ok.startswith(b"t1 OK")
    # Silence after a huge literal announcement costs nothing and the
    # connection stays usable.
    r.send(b"d APPEND INBOX {4294967295}\r\n")
    assert r.line().startswith(b"d NO [TOOBIG]")
    _, ok = r.cmd("NOOP")
    assert b"OK" in ok


def test_garbage_and_long_lines(imap):
    r = RawImap(imap.addr("imap"))
    for junk in (b"*\r\n", b"a\r\n", b'a "unterminated\r\n', b"a LOGIN (((((\r\n",
                 b"a " + b"x" * 200000 + b"\r\n", b"\x00\x01\x02\r\n"):
        r.send(junk)
        line = r.line()
        assert b"BAD" in line, (junk[:20], line)
    _, ok = r.cmd("NOOP")
    assert b"OK" in ok


def test_too_many_errors_close(imap):
    r = RawImap(imap.addr("imap"))
    for i in range(25):
        try:
            r.send(b"x BOGUS\r\n")
        except OSError:
            break
    assert r.closed()


def test_header_sections_read_alone_match_full_load(imap):
    """BODY[HEADER...] and RFC822.HEADER fetched alone (the file is read
    only up to the header's end) answer the same bytes as when the whole
    message is loaded for the same FETCH, for every tricky message of the
    MIME corpus, stored as given (LF) and with CRLF."""
    from pathlib import Path
    corpus = sorted(Path(__file__).parent.parent.joinpath("data", "mime").glob("*.eml"))
    assert len(corpus) > 20
    c = client(imap)
    c.select("INBOX")
    for path in corpus:
        raw = path.read_bytes()
        crlf = re.sub(rb"\r?\n", b"\r\n", raw)
        for body in {crlf, crlf + b"\r\n" * 3, crlf.split(b"\r\n\r\n")[0] + b"\r\n"}:
            assert c.append("INBOX", None, None, body)[0] == "OK", path
    n = int(c.select("INBOX")[1][0])
    items = ["BODY.PEEK[HEADER]", "RFC822.HEADER",
             "BODY.PEEK[HEADER.FIELDS (From To Subject Content-Type X-None)]",
             "BODY.PEEK[HEADER.FIELDS.NOT (Received Content-Type)]",
             "BODY.PEEK[HEADER]<5.40>"]
    for item in items:
        alone = c.fetch(f"1:{n}", f"({item})")
        with_full = c.fetch(f"1:{n}", f"({item} BODY.PEEK[])")
        assert alone[0] == with_full[0] == "OK"
        got_alone = [part[1] for part in alone[1] if isinstance(part, tuple)]
        # with BODY[] too, each message gives two literals: ours is the first
        got_full = [part[1] for part in with_full[1] if isinstance(part, tuple)][::2]
        assert len(got_alone) == n and got_alone == got_full, item
    c.logout()
