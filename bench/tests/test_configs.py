"""Unit tests of the anchors' generated configuration: private and loopback only."""
import re

import _path  # noqa: F401

from benchlib import netutil, servers


def test_postfix_main_private_and_loopback():
    m = servers.render_postfix_main("/t/pf", "virtual")
    assert "queue_directory = /t/pf/queue" in m
    assert "data_directory = /t/pf/data" in m
    assert "inet_interfaces = 127.0.0.1" in m
    assert "virtual_mailbox_maps = texthash:/t/pf/vmailbox" in m
    assert "virtual_transport" not in m
    lm = servers.render_postfix_main("/t/pf", "lmtp", lmtp_port=2424)
    assert "virtual_transport = lmtp:inet:127.0.0.1:2424" in lm


def test_postfix_master_listens_on_loopback_only():
    mc = servers.render_postfix_master(2525)
    inet = [l for l in mc.splitlines() if " inet " in l]
    assert len(inet) == 1 and inet[0].startswith("127.0.0.1:2525 ")
    # no chroot anywhere (column 5)
    for l in mc.splitlines()[1:]:
        assert l.split()[4] == "n"


def test_postfix_maps():
    assert servers.render_postfix_vmailbox(2) == \
        "user0@bench.test bench.test/user0/\nuser1@bench.test bench.test/user1/\n"
    assert servers.render_postfix_transport(9925) == "relay.test smtp:[127.0.0.1]:9925\n"


def test_dovecot_conf_loopback_and_limits():
    c = servers.render_dovecot_conf("/t/dv", "/t/mail", {"imap": 1, "pop3": 2, "lmtp": 3}, 2000)
    assert "base_dir = /t/dv/run" in c and "state_dir = /t/dv/state" in c
    assert "log_path = /t/dv/log" in c and "listen = 127.0.0.1" in c
    addrs = re.findall(r"^\s*address = (\S+)", c, re.M)
    assert addrs and all(a == "127.0.0.1" for a in addrs)
    assert re.search(r"service imap \{\s+process_limit = 2064", c)
    assert "mail_max_userip_connections = 2064" in c
    assert c.count("{") == c.count("}")


def test_dovecot_users():
    u = servers.render_dovecot_users(2, "/t/mail").splitlines()
    assert u[0].startswith("user0@bench.test:{SHA512-CRYPT}$6$bench0$")
    assert u[0].endswith(":65534:65534::/t/mail/bench.test/user0::")
    # The stored hash verifies the user's password (both systems get it).
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    h = servers.user_hash(1)[len("{SHA512-CRYPT}"):]
    assert crypt.crypt(servers.user_password(1), h) == h
    assert len(u) == 2


def test_status_and_greetings():
    assert netutil.parse_status_messages("* STATUS INBOX (MESSAGES 42 UIDNEXT 3)") == 42
    assert netutil.parse_status_messages("* STATUS INBOX ()") is None
    assert netutil.greeting_matches("smtp", "220 host ESMTP")
    assert not netutil.greeting_matches("smtp", "554 go away")
    assert netutil.greeting_matches("imap", "* OK ready")
    assert netutil.greeting_matches("pop3", "+OK hi")


def test_probe_refused_port_is_false():
    assert netutil.probe("smtp", netutil.free_port(), timeout=0.5) is False


def test_idle_split_respects_the_descriptor_limit():
    from benchlib import scenarios
    # One process holds them all when the limit allows.
    assert scenarios.idle_split(2000, limit=1 << 20) == [2000]
    # 50,000 under a 20,000 limit: no share above 19,000, all counted.
    shares = scenarios.idle_split(50000, limit=20000)
    assert sum(shares) == 50000 and max(shares) <= 19000 and len(shares) == 3
    # Never more than the ephemeral ports of one source address.
    assert max(scenarios.idle_split(60000, limit=1 << 20)) <= 25000
