/* test_dns.c - MX record parsing and ordering, and routes resolved through
 * a real unbound (Debian's /usr/sbin/unbound) serving a "test." zone on a
 * loopback port. The live tests are skipped when unbound is missing. */
#include "lib/common.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/xalloc.h"
#include "smtp/dns.h"
#include "test_fs.h"

#define UNBOUND "/usr/sbin/unbound"

/* ---- dns_mx_parse ---- */

static int
parse(const char *rdata, size_t len, unsigned *pref, char name[DNS_NAME_MAX + 1])
{
	return dns_mx_parse((const unsigned char *)rdata, len, pref, name);
}

static void
test_mx_parse_good(void **state)
{
	static const char rec[] = "\x00\x0a\x04MAIL\x07"
				  "example\x03"
				  "com";
	char name[DNS_NAME_MAX + 1];
	unsigned pref;

	assert_int_equal(parse(rec, sizeof(rec), &pref, name), 0); /* with the NUL: root label */
	assert_int_equal(pref, 10);
	assert_string_equal(name, "mail.example.com");

	assert_int_equal(parse("\xff\xfe\x05mx_-9\x00", 9, &pref, name), 0);
	assert_int_equal(pref, 0xfffe);
	assert_string_equal(name, "mx_-9");
}

static void
test_mx_parse_null_mx(void **state)
{
	char name[DNS_NAME_MAX + 1];
	unsigned pref = 99;

	assert_int_equal(parse("\x00\x00\x00", 3, &pref, name), 0);
	assert_int_equal(pref, 0);
	assert_string_equal(name, "");
}

static void
test_mx_parse_truncated(void **state)
{
	static const char rec[] = "\x00\x0a\x04mail\x07"
				  "example\x03"
				  "com";
	char name[DNS_NAME_MAX + 1];
	unsigned pref;

	for (size_t len = 0; len < sizeof(rec); len++)
		assert_int_equal(parse(rec, len, &pref, name), -1);
	/* a byte after the root label */
	char longer[sizeof(rec) + 1];
	memcpy(longer, rec, sizeof(rec));
	longer[sizeof(rec)] = 'x';
	assert_int_equal(parse(longer, sizeof(longer), &pref, name), -1);
}

static void
test_mx_parse_compressed(void **state)
{
	char name[DNS_NAME_MAX + 1];
	unsigned pref;

	assert_int_equal(parse("\x00\x0a\xc0\x0c", 4, &pref, name), -1);
	assert_int_equal(parse("\x00\x0a\x02mx\xc0\x0c", 7, &pref, name), -1);
	assert_int_equal(parse("\x00\x0a\x40", 3, &pref, name), -1); /* 64: extended label */
	assert_int_equal(parse("\x00\x0a\x80\x00", 4, &pref, name), -1);
}

static void
test_mx_parse_bad_chars(void **state)
{
	static const char *const bad[] = {"a b", "a*", "a.b", "\x80", "a\x00"};
	char rec[16], name[DNS_NAME_MAX + 1];
	unsigned pref;

	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		size_t n = i == 4 ? 2 : strlen(bad[i]);
		rec[0] = 0;
		rec[1] = 5;
		rec[2] = (char)n;
		memcpy(rec + 3, bad[i], n);
		rec[3 + n] = 0;
		assert_int_equal(parse(rec, n + 4, &pref, name), -1);
	}
}

/* Wire form of a name made of labels of the given lengths, after a
 * preference; returns the rdata length. */
static size_t
make_name(unsigned char *out, const size_t *labels, size_t nlabels)
{
	size_t pos = 2;

	out[0] = 0;
	out[1] = 1;
	for (size_t i = 0; i < nlabels; i++) {
		out[pos++] = (unsigned char)labels[i];
		memset(out + pos, 'a' + (int)(i % 26), labels[i]);
		pos += labels[i];
	}
	out[pos++] = 0;
	return pos;
}

static void
test_mx_parse_long(void **state)
{
	unsigned char rec[600];
	char name[DNS_NAME_MAX + 1];
	unsigned pref;
	size_t len;

	len = make_name(rec, (const size_t[]){63, 3}, 2);
	assert_int_equal(dns_mx_parse(rec, len, &pref, name), 0);
	assert_int_equal(strlen(name), 67);

	/* 64 would be the start of an extended label type */
	len = make_name(rec, (const size_t[]){64, 3}, 2);
	assert_int_equal(dns_mx_parse(rec, len, &pref, name), -1);

	/* wire form of 255 octets (63+1)*3 + 61+1 + 1: the longest */
	len = make_name(rec, (const size_t[]){63, 63, 63, 61}, 4);
	assert_int_equal(len - 2, 255);
	assert_int_equal(dns_mx_parse(rec, len, &pref, name), 0);
	assert_int_equal(strlen(name), 253);

	len = make_name(rec, (const size_t[]){63, 63, 63, 62}, 4);
	assert_int_equal(dns_mx_parse(rec, len, &pref, name), -1);

	/* many short labels past the limit */
	size_t ones[200];
	for (size_t i = 0; i < N_ELEMENTS(ones); i++)
		ones[i] = 1;
	len = make_name(rec, ones, N_ELEMENTS(ones));
	assert_int_equal(dns_mx_parse(rec, len, &pref, name), -1);
	len = make_name(rec, ones, 127); /* 127 * 2 + 1 = 255 */
	assert_int_equal(dns_mx_parse(rec, len, &pref, name), 0);
}

/* ---- dns_mx_order ---- */

static uint32_t
xorshift(void *arg)
{
	uint64_t *s = arg;

	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (uint32_t)((*s * 0x2545f4914f6cdd1dULL) >> 32);
}

static void
set_host(struct dns_host *h, const char *name, unsigned pref)
{
	memset(h, 0, sizeof(*h));
	assert_int_equal(str_copy(h->name, sizeof(h->name), name), 0);
	h->pref = pref;
}

static void
test_mx_order_preference(void **state)
{
	struct dns_host hosts[5];
	uint64_t seed = 1;

	set_host(&hosts[0], "c", 30);
	set_host(&hosts[1], "a", 10);
	set_host(&hosts[2], "b", 20);
	set_host(&hosts[3], "d", 5);
	set_host(&hosts[4], "e", 65535);
	assert_int_equal(dns_mx_order(hosts, 5, xorshift, &seed), 5);
	static const char *const want[] = {"d", "a", "b", "c", "e"};
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(hosts[i].name, want[i]);
	assert_int_equal(dns_mx_order(hosts, 0, xorshift, &seed), 0);
	assert_int_equal(dns_mx_order(hosts, 1, xorshift, &seed), 1);
}

static void
test_mx_order_shuffle(void **state)
{
	bool seen_first[4] = {false};
	size_t orders = 0;

	for (uint64_t s = 1; s <= 200; s++) {
		struct dns_host hosts[5];
		uint64_t seed = s * 0x9e3779b97f4a7c15ULL;
		set_host(&hosts[0], "a", 10);
		set_host(&hosts[1], "b", 10);
		set_host(&hosts[2], "c", 10);
		set_host(&hosts[3], "z", 20);
		set_host(&hosts[4], "y", 5);
		assert_int_equal(dns_mx_order(hosts, 5, xorshift, &seed), 5);
		assert_string_equal(hosts[0].name, "y");
		assert_string_equal(hosts[4].name, "z");
		for (size_t i = 1; i < 4; i++)
			assert_int_equal(hosts[i].pref, 10);
		size_t first = (size_t)(hosts[1].name[0] - 'a');
		assert_true(first < 3);
		if (!seen_first[first]) {
			seen_first[first] = true;
			orders++;
		}
	}
	/* every one of the three came first at least once */
	assert_int_equal(orders, 3);
}

static void
test_mx_order_duplicates(void **state)
{
	struct dns_host hosts[6];
	uint64_t seed = 7;

	set_host(&hosts[0], "a", 20);
	set_host(&hosts[1], "b", 10);
	set_host(&hosts[2], "a", 10);
	set_host(&hosts[3], "c", 30);
	set_host(&hosts[4], "b", 40);
	set_host(&hosts[5], "a", 10);
	size_t n = dns_mx_order(hosts, 6, xorshift, &seed);
	assert_int_equal(n, 3);
	assert_int_equal(hosts[0].pref, 10);
	assert_int_equal(hosts[1].pref, 10);
	assert_string_equal(hosts[2].name, "c");
	assert_true(strcmp(hosts[0].name, hosts[1].name) != 0);
}

/* ---- a live unbound ---- */

struct live {
	char dir[64];
	int port;
	int blackhole; /* a UDP socket that reads nothing: a server that never answers */
	int blackhole_port;
	pid_t pid;
	struct event_base *base;
	struct dns *dns;
};

static struct live live;

static const char *const zone[] = {
    "multi.test. MX 10 mx1.multi.test.",
    "multi.test. MX 20 mx2.multi.test.",
    "multi.test. MX 20 mx3.multi.test.",
    "multi.test. MX 30 MX1.multi.test.",
    "mx1.multi.test. A 192.0.2.1",
    "mx1.multi.test. AAAA 2001:db8::1",
    "mx2.multi.test. A 192.0.2.2",
    "mx3.multi.test. A 192.0.2.3",
    "mx3.multi.test. A 192.0.2.33",
    "cname.test. MX 10 alias.cname.test.",
    "alias.cname.test. CNAME real.cname.test.",
    "real.cname.test. A 192.0.2.7",
    "plain.test. A 192.0.2.9",
    "plain.test. AAAA 2001:db8::9",
    "nullmx.test. MX 0 .",
    "noaddr.test. MX 10 mx.noaddr.test.",
    "mx.noaddr.test. TXT \\\"no address here\\\"",
    "gone.test. MX 10 mx.gone.test.",
    "partial.test. MX 10 mx.dead.test.",
    "partial.test. MX 20 mx2.multi.test.",
};

/* lagN.test: MX 10 mxN.slow.test, whose server never answers, and MX 20
 * mx2.multi.test. unbound keeps a failed answer for a while, so that each
 * test that needs a lookup still in flight takes a fresh N. */
#define LAGGING_MAX 32
static int lagging_used;

static const char *
lagging(char name[32])
{
	assert_true(lagging_used < LAGGING_MAX);
	snprintf(name, 32, "lag%d.test", lagging_used++);
	return name;
}

/* A UDP socket on a free loopback port; its port in *port_r. */
static int
udp_socket(int *port_r)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port_r = ntohs(sin.sin_port);
	return fd;
}

/* Whether nothing has port on 127.0.0.1 for type right now. */
static bool
port_free(int type, int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

/* A port free for UDP and TCP, below the ephemeral range: one the kernel
 * may give a client's connection could be taken before unbound binds it,
 * and tcp_answers() could connect to itself there (TCP simultaneous open)
 * and take a resolver that is not up yet for one that answers. */
static int
free_port(void)
{
	int low = 32768, high;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");

	if (f != NULL) {
		if (fscanf(f, "%d %d", &low, &high) != 2)
			low = 32768;
		fclose(f);
	}
	if (low <= 11000)
		return -1;
	for (int i = 0; i < 200; i++) {
		int port = 10000 + (int)(arc4random() % (uint32_t)(low - 10000));
		if (port_free(SOCK_DGRAM, port) && port_free(SOCK_STREAM, port))
			return port;
	}
	return -1;
}

static bool
tcp_answers(int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

static int
write_config(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fprintf(f,
		"server:\n"
		"  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n"
		"  directory: \"%s\"\n  pidfile: \"%s/unbound.pid\"\n"
		"  logfile: \"\"\n  use-syslog: no\n  verbosity: 0\n"
		"  interface: 127.0.0.1\n  port: %d\n  do-ip6: no\n  num-threads: 1\n"
		"  do-not-query-localhost: no\n  infra-keep-probing: yes\n"
		"  module-config: \"iterator\"\n"
		"  access-control: 127.0.0.0/8 allow\n"
		"  local-zone: \"test.\" static\n"
		"  local-zone: \"dead.test.\" transparent\n"
		"  local-zone: \"slow.test.\" transparent\n",
		live.dir, live.dir, live.port);
	for (size_t i = 0; i < N_ELEMENTS(zone); i++)
		fprintf(f, "  local-data: \"%s\"\n", zone[i]);
	for (int i = 0; i < LAGGING_MAX; i++)
		fprintf(f,
			"  local-data: \"lag%d.test. MX 10 mx%d.slow.test.\"\n"
			"  local-data: \"lag%d.test. MX 20 mx2.multi.test.\"\n",
			i, i, i);
	fprintf(f,
		"stub-zone:\n  name: \"dead.test.\"\n  stub-addr: 127.0.0.1@1\n"
		"stub-zone:\n  name: \"slow.test.\"\n  stub-addr: 127.0.0.1@%d\n"
		"remote-control:\n  control-enable: no\n",
		live.blackhole_port);
	return fclose(f);
}

static int
live_setup(void **state)
{
	char conf[128], log[128];

	if (access(UNBOUND, X_OK) != 0)
		return 0;
	assert_int_equal(str_copy(live.dir, sizeof(live.dir), "/tmp/postern-dns-XXXXXX"), 0);
	if (mkdtemp(live.dir) == NULL || (live.port = free_port()) < 0 ||
	    (live.blackhole = udp_socket(&live.blackhole_port)) < 0)
		return -1;
	snprintf(conf, sizeof(conf), "%s/unbound.conf", live.dir);
	snprintf(log, sizeof(log), "%s/unbound.log", live.dir);
	if (write_config(conf) < 0)
		return -1;
	int out = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0 || (live.pid = fork()) < 0)
		return -1;
	if (live.pid == 0) {
		/* unbound goes with this test, even when it crashes */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(out, 1);
		dup2(out, 2);
		execl(UNBOUND, "unbound", "-d", "-c", conf, (char *)NULL);
		_exit(127);
	}
	close(out);
	for (int i = 0; i < 500 && !tcp_answers(live.port); i++) {
		if (waitpid(live.pid, NULL, WNOHANG) == live.pid) {
			fprintf(stderr, "unbound exited, see %s\n", log);
			live.pid = 0;
			return -1;
		}
		nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	}
	if (!tcp_answers(live.port)) {
		fprintf(stderr, "unbound does not answer on port %d, see %s\n", live.port, log);
		return -1;
	}
	return 0;
}

static int
live_teardown(void **state)
{
	if (live.pid > 0) {
		kill(live.pid, SIGTERM);
		waitpid(live.pid, NULL, 0);
		live.pid = 0;
	}
	if (live.blackhole > 0)
		close(live.blackhole);
	if (live.dir[0] != '\0')
		rm_rf(live.dir);
	return 0;
}

static char resolver[64];

static int
dns_setup(void **state)
{
	const char *error;

	if (live.pid <= 0)
		return 0;
	snprintf(resolver, sizeof(resolver), "127.0.0.1@%d", live.port);
	live.base = event_base_new();
	assert_non_null(live.base);
	if (dns_new(live.base, resolver, &live.dns, &error) < 0) {
		fprintf(stderr, "dns_new: %s\n", error);
		return -1;
	}
	return 0;
}

static int
dns_teardown(void **state)
{
	dns_free(&live.dns);
	if (live.base != NULL)
		event_base_free(live.base);
	live.base = NULL;
	return 0;
}

/* Skips the calling test when unbound could not be started. */
static void
need_unbound(void)
{
	if (live.pid <= 0)
		skip();
}

struct result {
	int calls;
	struct dns_route route;
	struct dns_host hosts[DNS_MX_MAX];
};

static void
route_done(const struct dns_route *route, void *arg)
{
	struct result *res = arg;

	res->calls++;
	res->route = *route;
	assert_true(route->nhosts <= DNS_MX_MAX);
	if (route->nhosts > 0)
		memcpy(res->hosts, route->hosts, route->nhosts * sizeof(*route->hosts));
	res->route.hosts = res->hosts;
	event_base_loopbreak(live.base);
}

/* Run the loop for at most ms milliseconds, or until a callback breaks it. */
static void
run_loop(struct event_base *base, long ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void
nothing(evutil_socket_t fd, short what, void *arg)
{
}

/* One turn of the loop: what is ready, or whatever comes within 5 ms. */
static void
loop_turn(struct event_base *base)
{
	struct event *tick = evtimer_new(base, nothing, NULL);
	struct timeval tv = {0, 5000};

	evtimer_add(tick, &tv);
	event_base_loop(base, EVLOOP_ONCE);
	event_free(tick);
}

static void
route_sync(struct dns *dns, const char *domain, unsigned flags, struct result *res)
{
	memset(res, 0, sizeof(*res));
	dns_route(dns, domain, flags, route_done, res);
	assert_int_equal(res->calls, 0); /* never from inside dns_route */
	run_loop(live.base, 15000);
	assert_int_equal(res->calls, 1);
}

static void
assert_addr(const struct sockaddr_storage *sa, const char *text)
{
	char got[INET6_ADDRSTRLEN];
	const void *bin = sa->ss_family == AF_INET6
			      ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
			      : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;

	assert_non_null(inet_ntop(sa->ss_family, bin, got, sizeof(got)));
	assert_string_equal(got, text);
	if (sa->ss_family == AF_INET6)
		assert_int_equal(((const struct sockaddr_in6 *)sa)->sin6_port, 0);
	else
		assert_int_equal(((const struct sockaddr_in *)sa)->sin_port, 0);
}

static void
test_live_multi(void **state)
{
	struct result res;

	need_unbound();
	route_sync(live.dns, "Multi.TEST.", DNS_ROUTE_IPV6, &res);
	assert_int_equal(res.route.status, DNS_OK);
	assert_false(res.route.implicit_mx);
	assert_false(res.route.secure);
	assert_int_equal(res.route.nhosts, 3); /* MX1 at 30 is a duplicate */
	const struct dns_host *h = res.route.hosts;
	assert_string_equal(h[0].name, "mx1.multi.test");
	assert_int_equal(h[0].pref, 10);
	assert_int_equal(h[0].status, DNS_OK);
	assert_int_equal(h[0].naddrs, 2);
	assert_addr(&h[0].addrs[0], "2001:db8::1");
	assert_addr(&h[0].addrs[1], "192.0.2.1");
	assert_int_equal(h[1].pref, 20);
	assert_int_equal(h[2].pref, 20);
	const struct dns_host *mx3 = strcmp(h[1].name, "mx3.multi.test") == 0 ? &h[1] : &h[2];
	assert_string_equal(mx3->name, "mx3.multi.test");
	assert_int_equal(mx3->naddrs, 2);

	/* without IPv6: A records only */
	route_sync(live.dns, "multi.test", 0, &res);
	assert_int_equal(res.route.status, DNS_OK);
	assert_int_equal(res.route.hosts[0].naddrs, 1);
	assert_addr(&res.route.hosts[0].addrs[0], "192.0.2.1");

	/* equal preferences come in both orders over some tries */
	bool seen[2] = {false, false};
	for (int i = 0; i < 40 && !(seen[0] && seen[1]); i++) {
		route_sync(live.dns, "multi.test", 0, &res);
		seen[strcmp(res.route.hosts[1].name, "mx2.multi.test") == 0] = true;
	}
	assert_true(seen[0] && seen[1]);
}

static void
test_live_cname(void **state)
{
	struct result res;

	need_unbound();
	route_sync(live.dns, "cname.test", DNS_ROUTE_IPV6, &res);
	assert_int_equal(res.route.status, DNS_OK);
	assert_int_equal(res.route.nhosts, 1);
	assert_string_equal(res.route.hosts[0].name, "alias.cname.test");
	assert_int_equal(res.route.hosts[0].naddrs, 1);
	assert_addr(&res.route.hosts[0].addrs[0], "192.0.2.7");
}

static void
test_live_implicit(void **state)
{
	struct result res;

	need_unbound();
	route_sync(live.dns, "plain.test", DNS_ROUTE_IPV6, &res);
	assert_int_equal(res.route.status, DNS_OK);
	assert_true(res.route.implicit_mx);
	assert_int_equal(res.route.nhosts, 1);
	assert_string_equal(res.route.hosts[0].name, "plain.test");
	assert_int_equal(res.route.hosts[0].pref, 0);
	assert_int_equal(res.route.hosts[0].naddrs, 2);
	assert_addr(&res.route.hosts[0].addrs[0], "2001:db8::9");
	assert_addr(&res.route.hosts[0].addrs[1], "192.0.2.9");

	/* a relay host: no MX lookup */
	route_sync(live.dns, "mx3.multi.test", DNS_ROUTE_NO_MX, &res);
	assert_int_equal(res.route.status, DNS_OK);
	assert_int_equal(res.route.nhosts, 1);
	assert_int_equal(res.route.hosts[0].naddrs, 2);
	route_sync(live.dns, "multi.test", DNS_ROUTE_NO_MX, &res);
	assert_int_equal(res.route.status, DNS_NO_ADDRESS);
}

static void
test_live_null_mx(void **state)
{
	struct result res;

	need_unbound();
	route_sync(live.dns, "nullmx.test", 0, &res);
	assert_int_equal(res.route.status, DNS_NULL_MX);
	assert_int_equal(res.route.nhosts, 0);
	assert_non_null(strstr(res.route.error, "nullmx.test does not accept mail"));
}

static void
test_live_nxdomain(void **state)
{
	struct result res;

	need_unbound();
	route_sync(live.dns, "nowhere.test", 0, &res);
	assert_int_equal(res.route.status, DNS_NXDOMAIN);
	assert_string_equal(res.route.error, "Host or domain name not found. Name service error "
					     "for name=nowhere.test type=MX: Host not found");
	assert_string_equal(dns_status_name(res.route.status), "domain not found");
}

static void
test_live_no_address(void **state)
{
	struct result res;

	need_unbound();
	route_sync(live.dns, "noaddr.test", DNS_ROUTE_IPV6, &res);
	assert_int_equal(res.route.status, DNS_NO_ADDRESS);
	assert_int_equal(res.route.nhosts, 1);
	assert_int_equal(res.route.hosts[0].status, DNS_NO_ADDRESS);
	assert_string_equal(
	    res.route.error,
	    "Host or domain name not found. Name service error for "
	    "name=mx.noaddr.test type=A: Host found but no data record of requested type");

	/* an exchanger that does not exist */
	route_sync(live.dns, "gone.test", 0, &res);
	assert_int_equal(res.route.status, DNS_NO_ADDRESS);
	assert_non_null(strstr(res.route.error, "name=mx.gone.test type=A: Host not found"));
}

static void
test_live_literals(void **state)
{
	struct result res;

	need_unbound();
	route_sync(live.dns, "[192.0.2.44]", 0, &res);
	assert_int_equal(res.route.status, DNS_OK);
	assert_int_equal(res.route.nhosts, 1);
	assert_string_equal(res.route.hosts[0].name, "[192.0.2.44]");
	assert_int_equal(res.route.hosts[0].naddrs, 1);
	assert_addr(&res.route.hosts[0].addrs[0], "192.0.2.44");

	route_sync(live.dns, "[ipv6:2001:DB8::5]", 0, &res);
	assert_int_equal(res.route.status, DNS_OK);
	assert_addr(&res.route.hosts[0].addrs[0], "2001:db8::5");

	static const char *const bad[] = {
	    "[192.0.2.300]", "[2001:db8::1]", "[IPv6:192.0.2.1]", "[192.0.2.1", "[]", "[IPv6:]"};
	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		route_sync(live.dns, bad[i], 0, &res);
		assert_int_equal(res.route.status, DNS_INVALID);
	}
}

static void
test_live_invalid(void **state)
{
	char longname[300];
	struct result res;

	need_unbound();
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	const char *bad[] = {"",    ".",      "a..b", ".a", "a b", "a\nb", "exa*mple.test",
			     "a..", longname, NULL};
	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		route_sync(live.dns, bad[i], 0, &res);
		assert_int_equal(res.route.status, DNS_INVALID);
		assert_non_null(strstr(res.route.error, "Invalid"));
		assert_null(strchr(res.route.error, '\n'));
	}
	/* a label of 64 */
	memset(longname, 'b', 64);
	memcpy(longname + 64, ".test", 6);
	route_sync(live.dns, longname, 0, &res);
	assert_int_equal(res.route.status, DNS_INVALID);
	longname[1] = '.'; /* labels of 1 and 62 */
	route_sync(live.dns, longname, 0, &res);
	assert_int_equal(res.route.status, DNS_NXDOMAIN);
}

static void
test_live_cancel(void **state)
{
	struct result res[10];
	char lag[32];

	need_unbound();
	/* at once, and after every number of loop turns: no callback after
	 * the cancel, whatever was in flight */
	for (int turns = 0; turns < 10; turns++) {
		memset(&res[turns], 0, sizeof(res[turns]));
		struct dns_query *q = dns_route(live.dns, turns % 2 ? "multi.test" : lagging(lag),
						DNS_ROUTE_IPV6, route_done, &res[turns]);
		for (int i = 0; i < turns && res[turns].calls == 0; i++)
			loop_turn(live.base);
		if (res[turns].calls == 0)
			dns_cancel(q);
	}
	/* lagN.test's mxN.slow.test does not answer: after the MX answer its
	 * address lookups are in flight */
	struct result late = {0};
	struct dns_query *q = dns_route(live.dns, lagging(lag), DNS_ROUTE_IPV6, route_done, &late);
	run_loop(live.base, 300);
	assert_int_equal(late.calls, 0);
	dns_cancel(q);
	/* an immediate result cancelled before the loop ran */
	q = dns_route(live.dns, "[192.0.2.1]", 0, route_done, &late);
	dns_cancel(q);
	q = dns_route(live.dns, "bad..name", 0, route_done, &late);
	dns_cancel(q);
	run_loop(live.base, 300);
	assert_int_equal(late.calls, 0);
	for (int turns = 0; turns < 10; turns++)
		assert_true(res[turns].calls <= 1);
}

/* The other query of the free-in-callback test, and what it had been
 * told when the context was freed. */
static struct result free_other;
static int calls_at_free;

static void
free_in_callback(const struct dns_route *route, void *arg)
{
	struct dns **dns = arg;

	calls_at_free = free_other.calls;
	dns_free(dns);
	event_base_loopbreak(live.base);
}

static void
test_live_free(void **state)
{
	struct result res = {0};
	char lag[32];
	struct dns *dns;
	const char *error;

	need_unbound();
	/* queries in flight when the context goes */
	assert_int_equal(dns_new(live.base, resolver, &dns, &error), 0);
	dns_route(dns, "multi.test", DNS_ROUTE_IPV6, route_done, &res);
	dns_route(dns, lagging(lag), DNS_ROUTE_IPV6, route_done, &res);
	loop_turn(live.base);
	/* multi.test may have been answered in that turn (the resolver has it
	 * cached from earlier tests); no call after the free is what counts */
	int before = res.calls;
	dns_route(dns, "[192.0.2.1]", 0, route_done, &res);
	dns_free(&dns);
	assert_null(dns);
	run_loop(live.base, 200);
	assert_int_equal(res.calls, before);

	/* dns_free from inside a callback: the other query, in flight (it
	 * may have been answered first on a slow machine), is never called
	 * after the free */
	memset(&free_other, 0, sizeof(free_other));
	assert_int_equal(dns_new(live.base, resolver, &dns, &error), 0);
	dns_route(dns, "plain.test", 0, free_in_callback, &dns);
	dns_route(dns, lagging(lag), 0, route_done, &free_other);
	run_loop(live.base, 15000); /* ends at the callback */
	assert_null(dns);
	run_loop(live.base, 200);
	assert_int_equal(free_other.calls, calls_at_free);
}

static void
test_live_tempfail(void **state)
{
	struct result res;
	struct dns *dns;
	const char *error;
	char dead[64];
	time_t start;

	need_unbound();
	/* the zone's server is down: SERVFAIL or our time limit */
	dns_set_timeout(live.dns, 1);
	start = time(NULL);
	route_sync(live.dns, "x.dead.test", 0, &res);
	assert_int_equal(res.route.status, DNS_TEMPFAIL);
	assert_non_null(
	    strstr(res.route.error, "name=x.dead.test type=MX: Host not found, try again"));
	assert_true(time(NULL) - start <= 3);

	/* one exchanger's address lookups fail, or do not end in time: the
	 * other one is used */
	char lag[32], slow[32];
	const char *partial[] = {"partial.test", lagging(lag)};
	snprintf(slow, sizeof(slow), "mx%d.slow.test", lagging_used - 1);
	for (size_t i = 0; i < N_ELEMENTS(partial); i++) {
		start = time(NULL);
		route_sync(live.dns, partial[i], DNS_ROUTE_IPV6, &res);
		assert_int_equal(res.route.status, DNS_OK);
		assert_int_equal(res.route.nhosts, 2);
		assert_string_equal(res.route.hosts[0].name, i == 0 ? "mx.dead.test" : slow);
		assert_int_equal(res.route.hosts[0].status, DNS_TEMPFAIL);
		assert_int_equal(res.route.hosts[0].naddrs, 0);
		assert_int_equal(res.route.hosts[1].status, DNS_OK);
		assert_true(time(NULL) - start <= 3);
	}
	/* nothing but the slow one */
	route_sync(live.dns, "mx.slow.test", DNS_ROUTE_NO_MX, &res);
	assert_int_equal(res.route.status, DNS_TEMPFAIL);
	assert_string_equal(res.route.error,
			    "Host or domain name not found. Name service error for "
			    "name=mx.slow.test type=A: Host not found, try again");
	dns_set_timeout(live.dns, DNS_TIMEOUT);

	/* nothing listens where the resolver should be */
	snprintf(dead, sizeof(dead), "127.0.0.1@%d", free_port());
	assert_int_equal(dns_new(live.base, dead, &dns, &error), 0);
	dns_set_timeout(dns, 1);
	start = time(NULL);
	route_sync(dns, "multi.test", 0, &res);
	assert_int_equal(res.route.status, DNS_TEMPFAIL);
	assert_true(time(NULL) - start <= 3);
	dns_free(&dns);
}

static void
test_resolver_syntax(void **state)
{
	static const char *const good[] = {"127.0.0.1", "127.0.0.1@53", " 127.0.0.1@5353 , ::1@53",
					   "2001:db8::1"};
	static const char *const bad[] = {"localhost",	     "127.0.0.1@", "127.0.0.1@0",
					  "127.0.0.1@65536", "127.0.0.1,", "127.0.0.1@5x",
					  "1.2.3.4.5",	     "@53"};
	struct event_base *base = event_base_new();
	struct dns *dns;
	const char *error;

	for (size_t i = 0; i < N_ELEMENTS(good); i++) {
		assert_int_equal(dns_new(base, good[i], &dns, &error), 0);
		dns_free(&dns);
	}
	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		error = NULL;
		assert_int_equal(dns_new(base, bad[i], &dns, &error), -1);
		assert_non_null(strstr(error, "bad resolver"));
	}
	/* the system's */
	assert_int_equal(dns_new(base, NULL, &dns, &error), 0);
	dns_free(&dns);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest pure[] = {
	    cmocka_unit_test(test_mx_parse_good),	cmocka_unit_test(test_mx_parse_null_mx),
	    cmocka_unit_test(test_mx_parse_truncated),	cmocka_unit_test(test_mx_parse_compressed),
	    cmocka_unit_test(test_mx_parse_bad_chars),	cmocka_unit_test(test_mx_parse_long),
	    cmocka_unit_test(test_mx_order_preference), cmocka_unit_test(test_mx_order_shuffle),
	    cmocka_unit_test(test_mx_order_duplicates), cmocka_unit_test(test_resolver_syntax),
	};
	const struct CMUnitTest with_unbound[] = {
	    cmocka_unit_test_setup_teardown(test_live_multi, dns_setup, dns_teardown),
	    cmocka_unit_test_setup_teardown(test_live_cname, dns_setup, dns_teardown),
	    cmocka_unit_test_setup_teardown(test_live_implicit, dns_setup, dns_teardown),
	    cmocka_unit_test_setup_teardown(test_live_null_mx, dns_setup, dns_teardown),
	    cmocka_unit_test_setup_teardown(test_live_nxdomain, dns_setup, dns_teardown),
	    cmocka_unit_test_setup_teardown(test_live_no_address, dns_setup, dns_teardown),
	    cmocka_unit_test_setup_teardown(test_live_literals, dns_setup, dns_teardown),
	    cmocka_unit_test_setup_teardown(test_live_invalid, dns_setup, dns_teardown),
	    cmocka_unit_test_setup_teardown(test_live_cancel, dns_setup, dns_teardown),
	    cmocka_unit_test_setup_teardown(test_live_free, dns_setup, dns_teardown),
	    cmocka_unit_test_setup_teardown(test_live_tempfail, dns_setup, dns_teardown),
	};
	int failed = cmocka_run_group_tests_name("pure", pure, NULL, NULL);

	return failed +
	       cmocka_run_group_tests_name("unbound", with_unbound, live_setup, live_teardown);
}
