"""Integration tests for `postern domain|user|alias`, run against the real binary.

The binary is $POSTERN_BIN (default <repo>/build/postern). Every test works in
its own temporary data directory. Error cases check the exit code, the one-line
message and that the database did not change (a full dump of its tables is
compared before and after).
"""

import os
import pathlib
import select
import shutil
import sqlite3
import stat
import subprocess
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("POSTERN_BIN", str(REPO / "build" / "postern"))

SHA512_HASH = (
    "{SHA512-CRYPT}$6$92H5jESZ7YFgU/Aq$vsHtZNr8CFCkO4nmD9k2.ebYy6r25OoPcFJG0w."
    "dHkqG0oBKo9lC/PhblcUhmHfcLYJiaFyWovK5wQZw1dG7Q/"
)
BLF_HASH = "{BLF-CRYPT}$2y$05$CWpqbdTxjLxbicAJgB3z..lDI3iqa65tM2X4aLPgIrOdIWAI4zfiK"
VECTOR_PASSWORD = "correct horse battery staple"  # of both hashes (doveadm pw)


def postern(data, *args, stdin=None, data_opt=True):
    cmd = [BIN]
    if data_opt:
        cmd += ["--data", str(data)]
    cmd += [str(a) for a in args]
    return subprocess.run(
        cmd,
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        timeout=60,
    )


def ok(data, *args, stdin=None):
    r = postern(data, *args, stdin=stdin)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


SCHEMA = 2  # migrations in src/store/accounts.c
EMPTY = {"schema_version": [(SCHEMA,)], "domains": [], "users": [], "aliases": []}


def snapshot(data):
    """Every row of every table. A database that does not exist yet counts as
    an empty one: any command may create the (empty) database on first use."""
    db = pathlib.Path(data) / "postern.db"
    if not db.exists():
        return EMPTY
    con = sqlite3.connect(db)
    try:
        dump = {}
        for table in ("schema_version", "domains", "users", "aliases"):
            dump[table] = sorted(con.execute(f"SELECT * FROM {table}").fetchall())
        return dump
    finally:
        con.close()


def fails(data, code, command, message, *args, stdin=None):
    """Run a command that must fail with exit code `code`, print one line
    "postern COMMAND: ..." containing `message`, and change nothing."""
    before = snapshot(data)
    r = postern(data, *args, stdin=stdin)
    assert r.returncode == code, (args, r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert lines, (args, r.stderr)
    assert lines[0].startswith(f"postern {command}: "), lines
    assert message in lines[0], (message, lines[0])
    if code == 1:
        assert len(lines) == 1, lines
    else:
        assert lines[1:] == [f"Try 'postern {command} --help'."], lines
    assert r.stdout == "", r.stdout
    assert snapshot(data) == before
    return r


def lines(r):
    return r.stdout.splitlines()


@pytest.fixture
def data(tmp_path):
    d = tmp_path / "var"
    d.mkdir()
    return d


@pytest.fixture
def hosted(data):
    """A data directory with example.com, two users and an alias."""
    ok(data, "domain", "add", "example.com")
    ok(data, "domain", "add", "example.org")
    ok(data, "user", "add", "alice@example.com", "--password-hash", SHA512_HASH)
    ok(data, "user", "add", "bob@example.com", "--password-hash", BLF_HASH)
    ok(data, "alias", "add", "team@example.com", "alice@example.com", "bob@example.com")
    return data


# ---- help and usage ----


@pytest.mark.parametrize("command", ["domain", "user", "alias"])
def test_help(data, command):
    for args in ([command, "--help"], [command, "-h"], [command, "add", "--help"],
                 [command, "list", "--help"], [command, "del", "--help"]):
        r = postern(data, *args)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith(f"usage: postern {command} add"), r.stdout
        assert r.stderr == ""
    # --help works without a data directory too
    r = postern(data / "missing", command, "--help")
    assert r.returncode == 0


@pytest.mark.parametrize("command", ["domain", "user", "alias"])
def test_no_action_prints_usage(data, command):
    r = postern(data, command)
    assert r.returncode == 2
    assert r.stderr.startswith(f"usage: postern {command}")
    assert not (data / "postern.db").exists()


def test_usage_errors(hosted):
    fails(hosted, 2, "domain", "unknown action 'frob'", "domain", "frob")
    fails(hosted, 2, "domain", "needs more arguments", "domain", "add")
    fails(hosted, 2, "domain", "too many arguments", "domain", "add", "a.example", "b.example")
    fails(hosted, 2, "domain", "too many arguments", "domain", "list", "extra")
    fails(hosted, 2, "domain", "option --quota does not apply", "domain", "add", "x.example",
          "--quota", "1M")
    fails(hosted, 2, "domain", "unknown option '--bogus'", "domain", "del", "example.org",
          "--bogus")
    fails(hosted, 2, "user", "unknown action 'rename'", "user", "rename", "a@example.com")
    fails(hosted, 2, "user", "needs more arguments", "user", "quota", "alice@example.com")
    fails(hosted, 2, "user", "option --force does not apply", "user", "del",
          "alice@example.com", "--force")
    fails(hosted, 2, "user", "option --quota needs a value", "user", "add",
          "carol@example.com", "--quota")
    fails(hosted, 2, "user", "bad size 'lots'", "user", "add", "carol@example.com",
          "--password-stdin", "--quota", "lots", stdin="pw\n")
    fails(hosted, 2, "user", "bad size '12X'", "user", "quota", "alice@example.com", "12X")
    fails(hosted, 2, "user", "exclude each other", "user", "add", "carol@example.com",
          "--password-stdin", "--password-hash", SHA512_HASH, stdin="pw\n")
    fails(hosted, 2, "user", "no password given", "user", "add", "carol@example.com")
    fails(hosted, 2, "user", "no password given", "user", "passwd", "alice@example.com")
    fails(hosted, 2, "alias", "needs more arguments", "alias", "add", "x@example.com")
    fails(hosted, 2, "alias", "too many arguments", "alias", "del", "a@example.com",
          "b@example.com", "c@example.com")
    fails(hosted, 2, "alias", "unknown option '-x'", "alias", "list", "-x")


# ---- data directory ----


@pytest.mark.parametrize("args", [
    ["domain", "list"], ["domain", "add", "example.com"], ["user", "list"],
    ["user", "add", "a@example.com", "--password-hash", SHA512_HASH], ["alias", "list"],
    ["alias", "del", "a@example.com"],
])
def test_missing_data_dir(tmp_path, args):
    missing = tmp_path / "nope"
    r = postern(missing, *args)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        f"postern {args[0]}: data directory '{missing}' does not exist "
        "(create it, or choose another with --data DIR)"
    ]
    assert not missing.exists()


def test_database_created_private(data):
    ok(data, "domain", "list")
    db = data / "postern.db"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA,)]
    con.close()


def test_global_options_anywhere(data):
    r = subprocess.run([BIN, "domain", "add", "one.example", "--data", str(data)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([BIN, "--data", str(data), "domain", "add", "two.example"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([BIN, "domain", "-o", f"server.data_dir={data}", "add", "three.example"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert lines(ok(data, "domain", "list")) == ["one.example", "three.example", "two.example"]


def test_config_file_option(data, tmp_path):
    conf = tmp_path / "postern.conf"
    conf.write_text(f"[server]\ndata_dir = {data}\n")
    r = subprocess.run([BIN, "domain", "add", "-c", str(conf), "four.example"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert lines(ok(data, "domain", "list")) == ["four.example"]


# ---- domains ----


def test_domains(data):
    r = ok(data, "domain", "add", "Example.COM")
    assert r.stdout == "domain example.com added\n"
    ok(data, "domain", "add", "b.example")
    ok(data, "domain", "add", "a.example")
    # persistence across invocations, sorted, one per line
    assert ok(data, "domain", "list").stdout == "a.example\nb.example\nexample.com\n"
    fails(data, 1, "domain", "domain 'example.com' already exists", "domain", "add",
          "EXAMPLE.com")
    r = ok(data, "domain", "del", "b.example")
    assert "domain b.example deleted" in r.stdout
    assert lines(ok(data, "domain", "list")) == ["a.example", "example.com"]
    fails(data, 1, "domain", "unknown domain 'b.example'", "domain", "del", "b.example")


@pytest.mark.parametrize("bad", [
    "bad_domain", "192.0.2.1", "[192.0.2.1]", "x-.example", "a..example",
    "example.com.", "ab--cd.example", "a" * 64 + ".example", "xn--a-ecp.ru", "exa mple.com",
])
def test_domain_invalid(data, bad):
    ok(data, "domain", "add", "example.com")
    fails(data, 1, "domain", "invalid domain", "domain", "add", bad)


def test_words_after_double_dash(data):
    # An argument that looks like an option is a usage error, unless it
    # follows "--"; then it is checked as a name.
    fails(data, 2, "domain", "unknown option '-x.example'", "domain", "add", "-x.example")
    fails(data, 1, "domain", "invalid domain '-x.example'", "domain", "add", "--",
          "-x.example")
    ok(data, "domain", "add", "example.com")
    ok(data, "user", "add", "--password-hash", SHA512_HASH, "--", "-dash@example.com")
    assert lines(ok(data, "user", "list")) == ["-dash@example.com"]
    fails(data, 2, "user", "bad size '-5'", "user", "quota", "--", "-dash@example.com", "-5")


def test_idn_domain_stored_once(data):
    r = ok(data, "domain", "add", "BÜcher.Example")
    assert r.stdout == "domain xn--bcher-kva.example added\n"
    fails(data, 1, "domain", "domain 'xn--bcher-kva.example' already exists", "domain", "add",
          "xn--bcher-kva.example")
    fails(data, 1, "domain", "already exists", "domain", "add", "bücher.example")
    fails(data, 1, "domain", "already exists", "domain", "add", "XN--BCHER-KVA.EXAMPLE")
    assert lines(ok(data, "domain", "list")) == ["xn--bcher-kva.example"]
    # users and aliases in it, by either spelling
    ok(data, "user", "add", "Jörg@bücher.example", "--password-hash", SHA512_HASH)
    assert lines(ok(data, "user", "list", "xn--bcher-kva.example")) == [
        "jörg@xn--bcher-kva.example"]
    assert lines(ok(data, "user", "list", "BÜCHER.example")) == ["jörg@xn--bcher-kva.example"]
    fails(data, 1, "user", "already exists", "user", "add", "jörg@xn--bcher-kva.example",
          "--password-hash", SHA512_HASH)
    ok(data, "domain", "del", "Bücher.Example", "--force")
    assert ok(data, "domain", "list").stdout == ""


def test_domain_del_in_use_and_force(hosted):
    mail = hosted / "mail" / "example.com" / "alice" / "new"
    mail.mkdir(parents=True)
    (mail / "1.msg").write_text("Subject: kept\n\nhello\n")
    fails(hosted, 1, "domain", "domain 'example.com' still has 2 users and 2 aliases",
          "domain", "del", "example.com")
    r = ok(hosted, "domain", "del", "example.com", "--force")
    assert r.stdout == (
        f"domain example.com deleted with 2 users and 2 aliases; "
        f"mail stored under {hosted}/mail/ was not touched\n")
    assert lines(ok(hosted, "domain", "list")) == ["example.org"]
    assert ok(hosted, "user", "list").stdout == ""
    assert ok(hosted, "alias", "list").stdout == ""
    assert (mail / "1.msg").read_text() == "Subject: kept\n\nhello\n"
    # an empty domain goes without --force
    r = ok(hosted, "domain", "del", "example.org")
    assert "deleted;" in r.stdout


# ---- users ----


def test_user_add_and_list(data):
    ok(data, "domain", "add", "example.com")
    ok(data, "domain", "add", "example.net")
    r = ok(data, "user", "add", "Alice@Example.com", "--password-stdin", "--quota", "500M",
           stdin="hunter2\n")
    assert r.stdout == "user alice@example.com added\n"
    assert "hunter2" not in r.stdout + r.stderr
    ok(data, "user", "add", "bob@example.com", "--password-stdin", "--quota", "2G",
       "--disabled", stdin="pw\n")
    ok(data, "user", "add", "carol@example.net", "--quota=1234", "--password-hash",
       SHA512_HASH)
    ok(data, "user", "add", "dave@example.com", "--password-hash", BLF_HASH, "--quota", "0")
    assert lines(ok(data, "user", "list")) == [
        "alice@example.com", "bob@example.com", "dave@example.com", "carol@example.net"]
    assert lines(ok(data, "user", "list", "--long")) == [
        "alice@example.com\t524288000\tenabled",
        "bob@example.com\t2147483648\tdisabled",
        "dave@example.com\t0\tenabled",
        "carol@example.net\t1234\tenabled",
    ]
    assert lines(ok(data, "user", "list", "example.net", "-l")) == [
        "carol@example.net\t1234\tenabled"]
    fails(data, 1, "user", "unknown domain 'example.org'", "user", "list", "example.org")

    con = sqlite3.connect(data / "postern.db")
    rows = dict(con.execute("SELECT address, password FROM users").fetchall())
    con.close()
    assert rows["alice@example.com"].startswith("{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$")
    assert rows["carol@example.net"] == SHA512_HASH
    assert rows["dave@example.com"] == BLF_HASH
    if shutil.which("doveadm"):
        # Dovecot itself accepts the hash postern wrote.
        v = subprocess.run(["doveadm", "pw", "-t", rows["alice@example.com"], "-p", "hunter2"],
                           capture_output=True, text=True)
        assert v.returncode == 0 and "(verified)" in v.stdout, v.stderr


def test_user_add_errors(data):
    ok(data, "domain", "add", "example.com")
    ok(data, "user", "add", "alice@example.com", "--password-hash", SHA512_HASH)
    fails(data, 1, "user", "user 'alice@example.com' already exists", "user", "add",
          "ALICE@example.COM", "--password-stdin", stdin="pw\n")
    fails(data, 1, "user", "unknown domain 'example.org'", "user", "add", "bob@example.org",
          "--password-stdin", stdin="pw\n")
    for bad in ("bob", "bob@", "@example.com", "bo b@example.com", "bob@@example.com",
                "bob@[192.0.2.1]", ".bob@example.com", "x" * 65 + "@example.com"):
        fails(data, 1, "user", "invalid address", "user", "add", bad, "--password-stdin",
              stdin="pw\n")
    fails(data, 1, "user", "cannot contain '+'", "user", "add", "bob+x@example.com",
          "--password-hash", SHA512_HASH)
    fails(data, 1, "user", "empty password", "user", "add", "bob@example.com",
          "--password-stdin", stdin="\n")
    fails(data, 1, "user", "empty password", "user", "add", "bob@example.com",
          "--password-stdin", stdin="")
    fails(data, 1, "user", "longer than 1024", "user", "add", "bob@example.com",
          "--password-stdin", stdin="x" * 1025 + "\n")
    assert lines(ok(data, "user", "list")) == ["alice@example.com"]


def test_password_stdin_strips_only_newline(data):
    ok(data, "domain", "add", "example.com")
    ok(data, "user", "add", "a@example.com", "--password-stdin", stdin=" spaced pw \r\n")
    ok(data, "user", "add", "b@example.com", "--password-stdin", stdin="no newline")
    if shutil.which("doveadm"):
        con = sqlite3.connect(data / "postern.db")
        rows = dict(con.execute("SELECT address, password FROM users").fetchall())
        con.close()
        for addr, pw in (("a@example.com", " spaced pw "), ("b@example.com", "no newline")):
            v = subprocess.run(["doveadm", "pw", "-t", rows[addr], "-p", pw],
                               capture_output=True, text=True)
            assert v.returncode == 0, (addr, v.stderr)


def test_migrated_hashes(data):
    ok(data, "domain", "add", "example.com")
    ok(data, "user", "add", "sha@example.com", "--password-hash", SHA512_HASH)
    ok(data, "user", "add", "blf@example.com", "--password-hash", BLF_HASH)
    # a bare crypt string gets its scheme
    ok(data, "user", "add", "bare@example.com", "--password-hash", SHA512_HASH[len("{SHA512-CRYPT}"):])
    con = sqlite3.connect(data / "postern.db")
    rows = dict(con.execute("SELECT address, password FROM users").fetchall())
    con.close()
    assert rows == {"sha@example.com": SHA512_HASH, "blf@example.com": BLF_HASH,
                    "bare@example.com": SHA512_HASH}
    if shutil.which("doveadm"):
        for h in rows.values():
            v = subprocess.run(["doveadm", "pw", "-t", h, "-p", VECTOR_PASSWORD],
                               capture_output=True, text=True)
            assert v.returncode == 0, v.stderr


@pytest.mark.parametrize("bad,message", [
    ("{PLAIN}secret", "{PLAIN} keeps the password in plain text"),
    ("{CLEARTEXT}secret", "plain text"),
    ("{PLAIN-MD5}5f4dcc3b5aa765d61d8327deb882cf99", "{PLAIN-MD5} is a weak password scheme"),
    ("{MD5-CRYPT}$1$xnfcs4sJ$NHhXyZkYcQpD6HhZ6MqKu1", "weak"),
    ("{SSHA}xxxxxxxxxxxxxxxxxxxx", "weak"),
    ("$1$xnfcs4sJ$NHhXyZkYcQpD6HhZ6MqKu1", "weak crypt method"),
    ("{FOO}bar", "unsupported password scheme {FOO}"),
    ("{SHA512-CRYPT}$6$92H5jESZ7YFgU/Aq$short", "malformed"),
    ("{SHA512-CRYPT}" + BLF_HASH[len("{BLF-CRYPT}"):], "is not a {SHA512-CRYPT} hash"),
    ("garbage", "not a password hash"),
])
def test_refused_hashes(data, bad, message):
    ok(data, "domain", "add", "example.com")
    r = fails(data, 1, "user", message, "user", "add", "x@example.com", "--password-hash", bad)
    assert r.stderr.startswith("postern user: invalid password hash: ")
    ok(data, "user", "add", "x@example.com", "--password-hash", SHA512_HASH)
    fails(data, 1, "user", message, "user", "passwd", "x@example.com", "--password-hash", bad)


def test_user_passwd(hosted):
    con = sqlite3.connect(hosted / "postern.db")
    before = con.execute("SELECT password FROM users WHERE address='alice@example.com'").fetchone()
    con.close()
    r = ok(hosted, "user", "passwd", "ALICE@example.com", "--password-stdin", stdin="new pw\n")
    assert r.stdout == "password of alice@example.com changed\n"
    assert "new pw" not in r.stdout + r.stderr
    con = sqlite3.connect(hosted / "postern.db")
    after = con.execute("SELECT password FROM users WHERE address='alice@example.com'").fetchone()
    con.close()
    assert after != before and after[0].startswith("{ARGON2ID}$argon2id$")
    ok(hosted, "user", "passwd", "alice@example.com", "--password-hash", BLF_HASH)
    fails(hosted, 1, "user", "no such user 'nobody@example.com'", "user", "passwd",
          "nobody@example.com", "--password-stdin", stdin="pw\n")
    fails(hosted, 1, "user", "invalid address", "user", "passwd", "not-an-address",
          "--password-stdin", stdin="pw\n")


def test_user_quota_enable_disable(hosted):
    r = ok(hosted, "user", "quota", "alice@example.com", "2G")
    assert r.stdout == "quota of alice@example.com set to 2147483648 bytes\n"
    ok(hosted, "user", "quota", "bob@example.com", "1048576")
    assert ok(hosted, "user", "disable", "Bob@Example.com").stdout == \
        "user bob@example.com disabled\n"
    assert lines(ok(hosted, "user", "list", "-l")) == [
        "alice@example.com\t2147483648\tenabled", "bob@example.com\t1048576\tdisabled"]
    ok(hosted, "user", "enable", "bob@example.com")
    assert ok(hosted, "user", "quota", "alice@example.com", "none").stdout == \
        "quota of alice@example.com removed\n"
    assert lines(ok(hosted, "user", "list", "-l")) == [
        "alice@example.com\t0\tenabled", "bob@example.com\t1048576\tenabled"]
    for action in (["quota", "nobody@example.com", "1G"], ["enable", "nobody@example.com"],
                   ["disable", "nobody@example.com"]):
        fails(hosted, 1, "user", "no such user 'nobody@example.com'", "user", *action)
    fails(hosted, 2, "user", "unknown option '-5'", "user", "quota", "alice@example.com", "-5")
    fails(hosted, 2, "user", "bad size", "user", "quota", "alice@example.com",
          "99999999999999999999")


def test_user_del(hosted):
    mail = hosted / "mail" / "example.com" / "bob"
    mail.mkdir(parents=True)
    r = ok(hosted, "user", "del", "BOB@example.com")
    assert r.stdout == (f"user bob@example.com deleted; mail stored under {hosted}/mail/ "
                        "was not touched\n")
    assert r.stderr == ("postern user: warning: 1 alias still names bob@example.com as a "
                        "target (see 'postern alias list')\n")
    assert mail.is_dir()
    assert lines(ok(hosted, "user", "list")) == ["alice@example.com"]
    fails(hosted, 1, "user", "no such user 'bob@example.com'", "user", "del", "bob@example.com")
    fails(hosted, 1, "user", "invalid address", "user", "del", "bob")


# ---- aliases ----


def test_aliases(hosted):
    r = ok(hosted, "alias", "add", "Sales@Example.com", "alice@example.com",
           "Partner@Elsewhere.NET", "alice@EXAMPLE.com")
    assert r.stdout == "alias sales@example.com added (3 targets)\n"
    ok(hosted, "alias", "add", "@example.org", "bob@example.com")
    ok(hosted, "alias", "add", "all@example.com", "team@example.com", "sales@example.com")
    assert lines(ok(hosted, "alias", "list")) == [
        "@example.org\tbob@example.com",
        "all@example.com\tsales@example.com",
        "all@example.com\tteam@example.com",
        "sales@example.com\talice@example.com",
        "sales@example.com\tpartner@elsewhere.net",
        "team@example.com\talice@example.com",
        "team@example.com\tbob@example.com",
    ]
    assert lines(ok(hosted, "alias", "list", "example.org")) == ["@example.org\tbob@example.com"]
    fails(hosted, 1, "alias", "unknown domain 'example.net'", "alias", "list", "example.net")

    r = ok(hosted, "alias", "del", "sales@example.com", "partner@elsewhere.net")
    assert r.stdout == "alias sales@example.com: 1 target deleted\n"
    r = ok(hosted, "alias", "del", "TEAM@example.com")
    assert r.stdout == "alias team@example.com: 2 targets deleted\n"
    ok(hosted, "alias", "del", "@EXAMPLE.org")
    # all -> team stays: deleting an alias does not rewrite the ones naming it
    assert lines(ok(hosted, "alias", "list")) == [
        "all@example.com\tsales@example.com", "all@example.com\tteam@example.com",
        "sales@example.com\talice@example.com"]


def test_alias_errors(hosted):
    fails(hosted, 1, "alias", "alias 'team@example.com' -> 'bob@example.com' already exists",
          "alias", "add", "team@example.com", "carol@elsewhere.net", "bob@example.com")
    fails(hosted, 1, "alias", "alias target 'ghost@example.com' is not a user or alias",
          "alias", "add", "x@example.com", "alice@example.com", "ghost@example.com")
    fails(hosted, 1, "alias", "unknown domain 'example.net'", "alias", "add",
          "x@example.net", "alice@example.com")
    fails(hosted, 1, "alias", "invalid alias target 'not an address'", "alias", "add",
          "x@example.com", "alice@example.com", "not an address")
    fails(hosted, 1, "alias", "a target must be an address", "alias", "add", "x@example.com",
          "@example.org")
    fails(hosted, 1, "alias", "invalid alias source", "alias", "add", "x@@example.com",
          "alice@example.com")
    fails(hosted, 1, "alias", "invalid alias source", "alias", "add", "@bad_domain",
          "alice@example.com")
    fails(hosted, 1, "alias", "not a user or alias", "alias", "add", "self@example.com",
          "self@example.com")
    fails(hosted, 1, "alias", "no alias 'team@example.com' -> 'carol@example.com'", "alias",
          "del", "team@example.com", "carol@example.com")
    fails(hosted, 1, "alias", "no alias 'nobody@example.com'", "alias", "del",
          "nobody@example.com")


def test_alias_shadowing_user_notes_it(hosted):
    r = ok(hosted, "alias", "add", "alice@example.com", "bob@example.com")
    assert "note: alice@example.com is also a user" in r.stderr
    r = ok(hosted, "alias", "add", "bob@example.com", "bob@example.com", "alice@example.com")
    assert r.stderr == ""


# ---- interactive password ----


def _read_until(fd, text, timeout=10):
    buf = b""
    end = time.monotonic() + timeout
    while text.encode() not in buf:
        left = end - time.monotonic()
        assert left > 0, f"timed out waiting for {text!r}; got {buf!r}"
        r, _, _ = select.select([fd], [], [], left)
        if r:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
    return buf


def _tty_add(data, address, first, second):
    master, slave = os.openpty()
    p = subprocess.Popen([BIN, "--data", str(data), "user", "add", address], stdin=slave,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(slave)
    try:
        _read_until(p.stderr.fileno(), "Password: ")
        os.write(master, first.encode() + b"\n")
        _read_until(p.stderr.fileno(), "Retype password: ")
        os.write(master, second.encode() + b"\n")
        out, err = p.communicate(timeout=30)
        # Nothing typed came back through the terminal: echo was off.
        echoed = b""
        while select.select([master], [], [], 0)[0]:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            echoed += chunk
        return p.returncode, out.decode(), err.decode(), echoed
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)


def test_terminal_prompt(data):
    ok(data, "domain", "add", "example.com")
    rc, out, err, echoed = _tty_add(data, "tty@example.com", "typed secret", "typed secret")
    assert rc == 0, err
    assert out == "user tty@example.com added\n"
    assert b"typed secret" not in echoed
    assert "typed secret" not in out + err
    before = snapshot(data)
    rc, out, err, echoed = _tty_add(data, "tty2@example.com", "one", "two")
    assert rc == 1
    assert "postern user: the passwords do not match" in err
    assert snapshot(data) == before
