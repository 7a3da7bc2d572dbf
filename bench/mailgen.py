#!/usr/bin/python3
"""mailgen.py - deterministic test mailbox for the IMAP/POP3 benchmarks.

Generates COUNT varied RFC 5322 messages from a seed: plain text, quoted-
printable UTF-8, multipart/alternative (text + HTML), multipart/mixed with
base64 attachments, nested message/rfc822, and RFC 2047 non-ASCII headers.
The same seed always gives the same bytes.

Output directory:
  msgs/NNNNN.eml   one message each, LF line ends (as stored in a Maildir)
  manifest         one line per message: MESSAGE-ID SIZE SHA256 FLAGS
                   SIZE and SHA256 are of the CRLF form, the bytes IMAP FETCH
                   BODY[] and POP3 RETR (unstuffed) must return.

Usage: mailgen.py --seed N --count N --out DIR
"""

import argparse
import base64
import hashlib
import os
import quopri
import random
import sys

WORDS = ("the of and to in is was that for on with as by at from this be are "
         "have not or an they which one you had were her all she there would "
         "their we him been has when who will more no if out so said what up "
         "its about into than them can only other new some could time these "
         "two may then do first any my now such like our over man me even most "
         "made after also did many before must through back years where much "
         "your way well down should because each just those people how too "
         "little state good very make world still own see men work long get "
         "here between both life being under never day same another know while "
         "last might us great old year off come since against go came right "
         "used take three mailbox server delivery queue relay header message "
         "quarterly report invoice meeting agenda schedule budget draft review").split()
NAMES = ("Alice Martin", "Bob Durand", "Chloé Lefèvre", "Dmitri Иванов", "Eva Nováková",
         "François Müller", "Grace Hopper", "Hiro 山田", "Ingrid Søren", "José Núñez",
         "Kim Lee", "Łukasz Wróbel", "Mårten Åberg", "Nadia Benali", "Olga Petrova")
SUBJECTS_UTF8 = ("Réunion de lundi", "Счёт за март", "Überprüfung des Entwurfs",
                 "会議の議事録", "Ζητήματα προϋπολογισμού", "Café et croissants ☕",
                 "Año nuevo, planes nuevos", "Ærlig talt", "Prośba o akceptację")


def _addr(rng, name=None):
    name = name or rng.choice(NAMES)
    local = "".join(ch for ch in name.split()[0].lower() if ch.isascii() and ch.isalpha()) or "user"
    return name, "%s.%d@example%d.test" % (local, rng.randrange(100), rng.randrange(5))


def _encoded_word(text):
    """RFC 2047 B-encoded word for non-ASCII text, text itself if ASCII."""
    if text.isascii():
        return text
    return "=?UTF-8?B?%s?=" % base64.b64encode(text.encode("utf-8")).decode("ascii")


def _fmt_addr(name, addr):
    if name.isascii():
        return '"%s" <%s>' % (name, addr)
    return "%s <%s>" % (_encoded_word(name), addr)


def _paragraphs(rng, nbytes, utf8=False):
    out = []
    size = 0
    while size < nbytes:
        words = [rng.choice(WORDS) for _ in range(rng.randrange(8, 60))]
        if utf8 and rng.random() < 0.5:
            words.insert(rng.randrange(len(words)), rng.choice(SUBJECTS_UTF8))
        para = " ".join(words).capitalize() + "."
        lines, line = [], ""
        for w in para.split(" "):
            if len(line) + len(w) + 1 > 72:
                lines.append(line)
                line = w
            else:
                line = (line + " " + w) if line else w
        lines.append(line)
        text = "\n".join(lines)
        out.append(text)
        size += len(text.encode("utf-8")) + 2
    return "\n\n".join(out) + "\n"


def _date(rng, n):
    day = 1 + n % 28
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    return "%s, %02d %s 2024 %02d:%02d:%02d +0000" % (
        ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[n % 7], day,
        months[n % 12], rng.randrange(24), rng.randrange(60), rng.randrange(60))


def _headers(rng, seed, n, subject):
    fn, fa = _addr(rng)
    tn, ta = _addr(rng)
    h = [
        "Return-Path: <%s>" % fa,
        "Received: from mx%d.example.test (mx%d.example.test [192.0.2.%d])\n"
        "\tby mail.bench.test with ESMTPS id %08X\n\tfor <%s>; %s"
        % (n % 7, n % 7, 1 + n % 250, rng.getrandbits(32), ta, _date(rng, n)),
        "Message-ID: <bench-%d-%05d@gen.bench.test>" % (seed, n),
        "Date: %s" % _date(rng, n),
        "From: %s" % _fmt_addr(fn, fa),
        "To: %s" % _fmt_addr(tn, ta),
        "Subject: %s" % _encoded_word(subject),
    ]
    if rng.random() < 0.3:
        cn, ca = _addr(rng)
        h.append("Cc: %s" % _fmt_addr(cn, ca))
    if rng.random() < 0.4:
        h.append("In-Reply-To: <bench-%d-%05d@gen.bench.test>" % (seed, rng.randrange(max(n, 1))))
    h.append("MIME-Version: 1.0")
    return h


def _subject(rng):
    if rng.random() < 0.3:
        return rng.choice(SUBJECTS_UTF8)
    return " ".join(rng.choice(WORDS) for _ in range(rng.randrange(2, 9))).capitalize()


def _qp(text):
    return quopri.encodestring(text.encode("utf-8")).decode("ascii")


def _b64_lines(data):
    s = base64.b64encode(data).decode("ascii")
    return "\n".join(s[i:i + 76] for i in range(0, len(s), 76)) + "\n"


def _boundary(rng):
    return "=_bench_%016x" % rng.getrandbits(64)


def _body_plain(rng):
    return ["Content-Type: text/plain; charset=us-ascii", "Content-Transfer-Encoding: 7bit"], \
        _paragraphs(rng, rng.choice((300, 800, 2000, 5000, 12000)))


def _body_qp(rng):
    return ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: quoted-printable"], \
        _qp(_paragraphs(rng, rng.choice((400, 1500, 4000)), utf8=True))


def _alternative(rng):
    b = _boundary(rng)
    text = _paragraphs(rng, rng.choice((500, 1500, 4000)), utf8=True)
    html = "<html><body>\n" + "".join(
        "<p>%s</p>\n" % p.replace("\n", " ") for p in text.split("\n\n")) + "</body></html>\n"
    parts = "--%s\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: " \
            "quoted-printable\n\n%s\n--%s\nContent-Type: text/html; charset=utf-8\n" \
            "Content-Transfer-Encoding: quoted-printable\n\n%s\n--%s--\n" % (
                b, _qp(text), b, _qp(html), b)
    return ['Content-Type: multipart/alternative; boundary="%s"' % b], parts


def _mixed(rng):
    b = _boundary(rng)
    ctype, body = (_alternative if rng.random() < 0.5 else _body_plain)(rng)
    out = "This is a multi-part message in MIME format.\n\n--%s\n%s\n\n%s" % (
        b, "\n".join(ctype), body)
    for k in range(rng.randrange(1, 3)):
        kind = rng.choice(("application/pdf", "image/png", "application/octet-stream",
                           "text/csv"))
        size = rng.choice((700, 3000, 9000, 24000))
        data = bytes(rng.getrandbits(8) for _ in range(size))
        fname = rng.choice(("report", "scan", "données", "出张", "budget")) + "-%d.bin" % k
        disp = 'attachment; filename="%s"' % fname if fname.isascii() else \
            "attachment; filename*=utf-8''%s" % "".join(
                "%%%02X" % c for c in fname.encode("utf-8"))
        out += "\n--%s\nContent-Type: %s\nContent-Transfer-Encoding: base64\n" \
               "Content-Disposition: %s\n\n%s" % (b, kind, disp, _b64_lines(data))
    out += "\n--%s--\n" % b
    return ['Content-Type: multipart/mixed; boundary="%s"' % b], out


def _forwarded(rng, seed, n):
    b = _boundary(rng)
    inner_h = _headers(rng, seed, 100000 + n, _subject(rng))
    inner_h = [h for h in inner_h if not h.startswith(("Return-Path", "Received"))]
    inner_h[0] = "Message-ID: <inner-%d-%05d@gen.bench.test>" % (seed, n)
    ic, ib = (_body_qp if rng.random() < 0.5 else _mixed)(rng)
    inner = "\n".join(inner_h + ic) + "\n\n" + ib
    out = "--%s\nContent-Type: text/plain; charset=us-ascii\n\n%s\n--%s\n" \
          "Content-Type: message/rfc822\nContent-Disposition: inline\n\n%s\n--%s--\n" % (
              b, _paragraphs(rng, 300), b, inner, b)
    return ['Content-Type: multipart/mixed; boundary="%s"' % b], out


def message(seed, n):
    """The bytes (LF line ends) of message n for seed."""
    rng = random.Random(seed * 1000003 + n)
    kind = rng.random()
    h = _headers(rng, seed, n, _subject(rng))
    if kind < 0.35:
        ct, body = _body_plain(rng)
    elif kind < 0.50:
        ct, body = _body_qp(rng)
    elif kind < 0.72:
        ct, body = _alternative(rng)
    elif kind < 0.92:
        ct, body = _mixed(rng)
    else:
        ct, body = _forwarded(rng, seed, n)
    text = "\n".join(h + ct) + "\n\n" + body
    return text.encode("utf-8")


def crlf(data):
    """LF line ends to CRLF (input has no CR)."""
    return data.replace(b"\n", b"\r\n")


def flags_for(seed, n):
    """Maildir flags the message starts with (deterministic): R and S."""
    rng = random.Random(seed * 7919 + n)
    f = ""
    # never F: the IMAP mix toggles \Flagged and expects a FETCH back
    if rng.random() < 0.2:
        f += "R"
    if rng.random() < 0.7:
        f += "S"
    return f


def generate(seed, count, out):
    """Write msgs/ and manifest into out; returns the manifest rows."""
    os.makedirs(os.path.join(out, "msgs"), exist_ok=True)
    rows = []
    for n in range(count):
        data = message(seed, n)
        wire = crlf(data)
        msgid = "<bench-%d-%05d@gen.bench.test>" % (seed, n)
        with open(os.path.join(out, "msgs", "%05d.eml" % n), "wb") as f:
            f.write(data)
        rows.append((msgid, len(wire), hashlib.sha256(wire).hexdigest(), flags_for(seed, n)))
    tmp = os.path.join(out, "manifest.tmp")
    with open(tmp, "w") as f:
        for r in rows:
            f.write("%s %d %s %s\n" % (r[0], r[1], r[2], r[3] or "-"))
    os.rename(tmp, os.path.join(out, "manifest"))
    return rows


def read_manifest(path):
    rows = []
    with open(path) as f:
        for line in f:
            msgid, size, sha, flags = line.split()
            rows.append((msgid, int(size), sha, "" if flags == "-" else flags))
    return rows


def install_maildir(gen_dir, maildir, uid=None, gid=None):
    """Copy the generated messages into maildir/cur with their flags."""
    rows = read_manifest(os.path.join(gen_dir, "manifest"))
    cur = os.path.join(maildir, "cur")
    for n, (_, _, _, flags) in enumerate(rows):
        src = os.path.join(gen_dir, "msgs", "%05d.eml" % n)
        with open(src, "rb") as f:
            data = f.read()
        name = "1700000000.M%dP%d.bench,S=%d:2,%s" % (n, n, len(data), flags)
        dst = os.path.join(cur, name)
        with open(dst, "wb") as f:
            f.write(data)
        if uid is not None:
            os.chown(dst, uid, gid)
    return len(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    rows = generate(a.seed, a.count, a.out)
    total = sum(r[1] for r in rows)
    print("%d messages, %d bytes (CRLF) in %s" % (len(rows), total, a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
