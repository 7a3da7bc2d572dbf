"""The DNS test server itself: unbound answers the records it was given,
NXDOMAIN elsewhere under test., and `postern route` reads them through
dns.resolver."""
from conftest import run_cli
from dns_helpers import DnsServer, dns_server, udp_query  # noqa: F401 (fixture)

try:
    import dns.message
    import dns.query
except ImportError:
    dns = None

RECORDS = ["example.test. MX 10 mx1.example.test.",
           "example.test. MX 20 mx2.example.test.",
           "mx1.example.test. A 127.0.0.2",
           "mx2.example.test. A 127.0.0.3"]


def test_answers(dns_server):
    server = dns_server(RECORDS)
    assert server.resolver == f"127.0.0.1@{server.port}"
    if dns is not None:
        reply = dns.query.udp(dns.message.make_query("example.test", "MX"),
                              "127.0.0.1", port=server.port, timeout=2)
        assert sorted(str(r) for a in reply.answer for r in a) == \
            ["10 mx1.example.test.", "20 mx2.example.test."]
    assert udp_query(server.port, "example.test", 15) == (0, 2)
    assert udp_query(server.port, "mx1.example.test", 1) == (0, 1)
    assert udp_query(server.port, "mx1.example.test", 28) == (0, 0)
    assert udp_query(server.port, "nowhere.test", 1)[0] == 3  # NXDOMAIN


def test_route_command(dns_server, tmp_path):
    server = dns_server(RECORDS)
    r = run_cli("-o", f"dns.resolver={server.resolver}", "route", "example.test",
                data=tmp_path / "var")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "example.test: MX, OK"
    assert lines[1].split() == ["10", "mx1.example.test", "127.0.0.2"]
    assert lines[2].split() == ["20", "mx2.example.test", "127.0.0.3"]
    r = run_cli("-o", f"dns.resolver={server.resolver}", "route", "nowhere.test",
                data=tmp_path / "var")
    assert r.returncode == 1
    assert "name=nowhere.test type=MX: Host not found" in r.stdout


def test_stop_and_restart(tmp_path):
    server = DnsServer(tmp_path, ["a.test. A 192.0.2.1"])
    server.start()
    server.stop()
    server.stop()  # twice is harmless
    assert not server.dir.exists()
    server.start()
    assert udp_query(server.port, "a.test", 1) == (0, 1)
    server.stop()
