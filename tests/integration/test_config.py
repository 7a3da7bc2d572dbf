"""Configuration: embedded defaults, -c FILE, -o overrides, and `postern check`."""
import os

from conftest import run_cli


def test_check_prints_defaults(tmp_path):
    r = run_cli("check", data=tmp_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "[server]" in out and f"data_dir = {tmp_path}" in out
    root = os.geteuid() == 0
    for svc, (rport, uport) in {"smtp": (25, 2525), "submission": (587, 2587),
                                "smtps": (465, 2465), "imap": (143, 1143),
                                "imaps": (993, 1993), "pop3": (110, 1110),
                                "pop3s": (995, 1995), "http": (80, 8080),
                                "https": (443, 8443)}.items():
        section = out.split(f"[{svc}]\n", 1)[1].split("\n\n", 1)[0]
        assert f"\nlisten = *:{rport if root else uport}\n" in "\n" + section


def test_check_output_is_a_valid_config_file(tmp_path):
    r = run_cli("check", "-o", "imap.listen=127.0.0.1:1143, [::1]:1143",
                "-o", "server.hostname=mail.example.test", data=tmp_path)
    assert r.returncode == 0, r.stderr
    conf = tmp_path / "round.conf"
    conf.write_text(r.stdout)
    r2 = run_cli("check", "-c", conf)
    assert r2.returncode == 0, r2.stderr
    assert r2.stdout == r.stdout
    assert "listen = 127.0.0.1:1143, [::1]:1143" in r2.stdout
    assert "hostname = mail.example.test" in r2.stdout


def test_override_beats_file(tmp_path):
    conf = tmp_path / "p.conf"
    conf.write_text("# comment\n[server]\nhostname = file.example.test\n"
                    "; another\n[imap]\nidle_timeout = 10m\n")
    r = run_cli("check", "-c", conf, "-o", "server.hostname=cli.example.test",
                data=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "hostname = cli.example.test" in r.stdout
    assert "idle_timeout = 600s" in r.stdout


def test_file_errors_name_file_line_and_key(tmp_path):
    conf = tmp_path / "p.conf"
    for text, want in [
        ("[server]\nhostname = a.b\n[imap]\nmax_per_ip = many\n", ":4: imap.max_per_ip"),
        ("[imap]\nbogus = 1\n", ":2: unknown key 'imap.bogus'"),
        ("hostname = x\n", ":1: key outside a [section]"),
        ("[server\n", ":1: bad section header"),
        ("[server]\nhostname\n", ":2: expected key = value"),
        ("[log]\nlevel = loud\n", ":2: log.level"),
        ("[server]\ngrace = 5 minutes\n", ":2: server.grace"),
        ("[tls]\ncert = /x.pem\n", "tls.cert and tls.key must be set together"),
        ("[delivery]\nrelayhost_user = u\nrelayhost_password = p\n",
         "delivery.relayhost_user and delivery.relayhost_password need delivery.relayhost"),
    ]:
        conf.write_text(text)
        r = run_cli("check", "-c", conf, data=tmp_path)
        assert r.returncode == 1, text
        assert want in r.stderr, (text, r.stderr)
        assert r.stderr.count("\n") == 1, r.stderr


def test_missing_config_file(tmp_path):
    r = run_cli("check", "-c", tmp_path / "nope.conf")
    assert r.returncode == 1 and "nope.conf: No such file or directory" in r.stderr


def test_bad_override_syntax(tmp_path):
    r = run_cli("check", "-o", "server.hostname", data=tmp_path)
    assert r.returncode == 1 and "expected SECTION.KEY=VALUE" in r.stderr


def test_help_for_every_command():
    r = run_cli("--help")
    assert r.returncode == 0 and "serve" in r.stdout and "check" in r.stdout
    for cmd in ("serve", "check", "domain", "user", "alias"):
        r = run_cli(cmd, "--help")
        assert r.returncode == 0, (cmd, r.stderr)
        assert "usage: postern " + cmd in r.stdout, (cmd, r.stdout)


def test_unknown_command():
    r = run_cli("frobnicate")
    assert r.returncode == 2 and "unknown command 'frobnicate'" in r.stderr


def test_check_does_not_show_the_relay_password(tmp_path):
    r = run_cli("check", "-o", "delivery.relayhost=[192.0.2.1]:587",
                "-o", "delivery.relayhost_user=me", "-o", "delivery.relayhost_password=s3cret!",
                data=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "relayhost_user = me" in r.stdout
    assert "# relayhost_password = (set, not shown)" in r.stdout
    assert "s3cret" not in r.stdout + r.stderr
    # Read back as a configuration, the output has no password (a clear
    # error), not the words in its place.
    conf = tmp_path / "from-check.conf"
    conf.write_text(r.stdout)
    r = run_cli("check", "-c", conf, data=tmp_path)
    assert r.returncode == 1
    assert "relayhost_user and delivery.relayhost_password must be set together" in r.stderr
