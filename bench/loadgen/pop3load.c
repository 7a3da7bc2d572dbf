/* pop3load.c - POP3 load generator for the benchmark harness.
 *
 * One process, N non-blocking clients on N users, driven by epoll. Each
 * session: greeting, USER, PASS, STAT, LIST, R x RETR of random messages,
 * QUIT. Verified: STAT's count and octets equal the generated mailbox, LIST
 * lists every message and its sizes add up, each RETR (dot-unstuffed) has
 * exactly LIST's octet count and hashes to the manifest entry of its
 * Message-ID. Output: one JSON object on stdout; exit 0 only without errors.
 */
#define _GNU_SOURCE
#include "lg.h"
#include "pop3resp.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

enum kind { K_CONNECT, K_USER, K_PASS, K_STAT, K_LIST, K_RETR, K_QUIT, K_COUNT };
static const char *const kind_names[K_COUNT] = {
	"CONNECT", "USER", "PASS", "STAT", "LIST", "RETR", "QUIT"
};

enum step { ST_GREETING, ST_USER, ST_PASS, ST_STAT, ST_LIST, ST_RETR, ST_QUIT, ST_DONE };

struct client {
	struct lg_conn conn;
	unsigned idx, user, sessions_left, retr_left, target, gen;
	uint64_t rng, t_sent, t_connect;
	enum step step;
	size_t *sizes; /* LIST octets by message number (1-based) */
	size_t nsizes;
	struct lgb body;
};

static struct {
	int port, epfd;
	unsigned nclients, sessions, retrs;
	uint64_t seed;
	const char *domain;
	struct lg_manifest man;
	struct lg_lat lat[K_COUNT];
	unsigned long errors, commands, sessions_done, retr_done;
	unsigned active;
	char first_error[512];
} g;

static void client_start(struct client *c);

static void client_error(struct client *c, const char *fmt, ...) LG_ATTR_PRINTF(2, 3);

static void
client_error(struct client *c, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (g.errors < 10)
		fprintf(stderr, "pop3load: client %u step %d: %s\n", c->idx, (int)c->step, msg);
	if (g.errors == 0)
		snprintf(g.first_error, sizeof(g.first_error), "client %u: %s", c->idx, msg);
	g.errors++;
	lg_close(&c->conn);
	if (c->step != ST_DONE)
		g.active--;
	c->step = ST_DONE;
}

static void send_cmd(struct client *c, const char *fmt, ...) LG_ATTR_PRINTF(2, 3);

static void
send_cmd(struct client *c, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		lg_fatal("command too long");
	lgb_printf(&c->conn.out, "%s\r\n", line);
	c->t_sent = lg_now_us();
	g.commands++;
	if (lg_flush(&c->conn) < 0) {
		client_error(c, "write failed");
		return;
	}
	lg_want_write(&c->conn, g.epfd, c, lgb_avail(&c->conn.out) > 0);
}

static void
next_retr(struct client *c)
{
	c->target = 1 + (unsigned)(lg_rand(&c->rng) % c->nsizes);
	send_cmd(c, "RETR %u", c->target);
}

static int
parse_stat(const char *p, size_t n, size_t *count_r, size_t *octets_r)
{
	const char *sp1, *sp2, *end = p + n;

	while (end > p && (end[-1] == '\r' || end[-1] == '\n'))
		end--;
	if (n < 4 || strncmp(p, "+OK ", 4) != 0)
		return -1;
	sp1 = p + 4;
	sp2 = memchr(sp1, ' ', (size_t)(end - sp1));
	if (sp2 == NULL)
		return -1;
	const char *e2 = memchr(sp2 + 1, ' ', (size_t)(end - sp2 - 1));
	if (e2 == NULL)
		e2 = end;
	if (lg_parse_size(sp1, (size_t)(sp2 - sp1), count_r) < 0 ||
	    lg_parse_size(sp2 + 1, (size_t)(e2 - sp2 - 1), octets_r) < 0)
		return -1;
	return 0;
}

/* Parse LIST's data lines into c->sizes; -1 when malformed or out of order. */
static int
parse_list(struct client *c, const char *p, size_t n)
{
	ssize_t l = pop3_line_len(p, n);
	size_t pos = (size_t)l, expect = 1;

	c->nsizes = 0;
	for (;;) {
		l = pop3_line_len(p + pos, n - pos);
		if (l <= 0)
			return -1;
		const char *s = p + pos, *e = s + l;

		while (e > s && (e[-1] == '\r' || e[-1] == '\n'))
			e--;
		if (e - s == 1 && s[0] == '.')
			return 0;
		const char *sp = memchr(s, ' ', (size_t)(e - s));
		size_t num, size;

		if (sp == NULL || lg_parse_size(s, (size_t)(sp - s), &num) < 0 ||
		    lg_parse_size(sp + 1, (size_t)(e - sp - 1), &size) < 0 || num != expect)
			return -1;
		if (c->nsizes >= g.man.count + 1)
			return -1;
		c->sizes[c->nsizes++] = size;
		expect++;
		pos += (size_t)l;
	}
}

/* Handle one complete response (line, or multi-line for LIST/RETR). */
static void
on_response(struct client *c, const char *p, size_t n)
{
	uint64_t us = lg_now_us() - c->t_sent;
	char user[128], pass[128];

	if (n < 3 || strncmp(p, "+OK", 3) != 0) {
		client_error(c, "%.*s", (int)(n > 200 ? 200 : n), p);
		return;
	}
	switch (c->step) {
	case ST_GREETING:
		lg_lat_add(&g.lat[K_CONNECT], lg_now_us() - c->t_connect);
		lg_user_name(user, sizeof(user), c->user, g.domain);
		c->step = ST_USER;
		send_cmd(c, "USER %s", user);
		return;
	case ST_USER:
		lg_lat_add(&g.lat[K_USER], us);
		lg_user_pass(pass, sizeof(pass), c->user);
		c->step = ST_PASS;
		send_cmd(c, "PASS %s", pass);
		return;
	case ST_PASS:
		lg_lat_add(&g.lat[K_PASS], us);
		c->step = ST_STAT;
		send_cmd(c, "STAT");
		return;
	case ST_STAT: {
		size_t count, octets;

		lg_lat_add(&g.lat[K_STAT], us);
		if (parse_stat(p, n, &count, &octets) < 0 || count != g.man.count ||
		    octets != g.man.total) {
			client_error(c, "STAT %.*s, the mailbox has %zu messages, %llu octets",
				     (int)(n > 60 ? 60 : n), p, g.man.count,
				     (unsigned long long)g.man.total);
			return;
		}
		c->step = ST_LIST;
		send_cmd(c, "LIST");
		return;
	}
	case ST_LIST: {
		uint64_t sum = 0;

		lg_lat_add(&g.lat[K_LIST], us);
		if (parse_list(c, p, n) < 0 || c->nsizes != g.man.count) {
			client_error(c, "LIST malformed or with %zu messages", c->nsizes);
			return;
		}
		for (size_t i = 0; i < c->nsizes; i++)
			sum += c->sizes[i];
		if (sum != g.man.total) {
			client_error(c, "LIST octets add up to %llu, not %llu",
				     (unsigned long long)sum, (unsigned long long)g.man.total);
			return;
		}
		c->step = ST_RETR;
		c->retr_left = g.retrs;
		next_retr(c);
		return;
	}
	case ST_RETR: {
		const char *err;

		lg_lat_add(&g.lat[K_RETR], us);
		c->body.off = c->body.len = 0;
		if (pop3_unstuff(p, n, &c->body) < 0) {
			client_error(c, "RETR %u: malformed multi-line response", c->target);
			return;
		}
		if (lgb_avail(&c->body) != c->sizes[c->target - 1]) {
			client_error(c, "RETR %u: %zu octets, LIST said %zu", c->target,
				     lgb_avail(&c->body), c->sizes[c->target - 1]);
			return;
		}
		if (lg_verify_message(&g.man, lgb_ptr(&c->body), lgb_avail(&c->body), &err) < 0) {
			client_error(c, "RETR %u: %s", c->target, err);
			return;
		}
		g.retr_done++;
		if (--c->retr_left > 0) {
			next_retr(c);
		} else {
			c->step = ST_QUIT;
			send_cmd(c, "QUIT");
		}
		return;
	}
	case ST_QUIT:
		lg_lat_add(&g.lat[K_QUIT], us);
		lg_close(&c->conn);
		g.sessions_done++;
		if (--c->sessions_left > 0) {
			client_start(c);
		} else {
			c->step = ST_DONE;
			g.active--;
		}
		return;
	default:
		client_error(c, "response in step %d", (int)c->step);
	}
}

static void
client_start(struct client *c)
{
	const char *err;

	c->step = ST_GREETING;
	c->gen++;
	c->t_connect = lg_now_us();
	if (lg_connect(&c->conn, g.epfd, c, g.port, 0, &err) < 0)
		client_error(c, "connect: %s", err);
}

static void
client_io(struct client *c, uint32_t events)
{
	if (events & EPOLLOUT) {
		if (lg_flush(&c->conn) < 0) {
			client_error(c, "write failed");
			return;
		}
		lg_want_write(&c->conn, g.epfd, c, lgb_avail(&c->conn.out) > 0);
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		ssize_t r = lg_read(&c->conn);

		if (r == -2)
			return;
		if (r <= 0) {
			client_error(c, r == 0 ? "connection closed by server" : "read error");
			return;
		}
		for (;;) {
			const char *p = lgb_ptr(&c->conn.in);
			size_t n = lgb_avail(&c->conn.in);
			bool multi = (c->step == ST_LIST || c->step == ST_RETR) && n >= 3 &&
				     strncmp(p, "+OK", 3) == 0;
			ssize_t len = multi ? pop3_multiline_len(p, n) : pop3_line_len(p, n);
			unsigned gen = c->gen;

			if (len == 0)
				break;
			on_response(c, p, (size_t)len);
			if (c->gen != gen || c->conn.fd < 0 || c->step == ST_DONE)
				return;
			lgb_consume(&c->conn.in, (size_t)len);
		}
	}
}

static void
usage(void)
{
	fprintf(stderr, "usage: pop3load --port P --manifest FILE [--clients N] [--sessions S]\n"
			"       [--retr R] [--seed S] [--timeout SEC] [--domain D]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "manifest", required_argument, NULL, 'm' },
		{ "clients", required_argument, NULL, 'c' },
		{ "sessions", required_argument, NULL, 'n' },
		{ "retr", required_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "domain", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	const char *manifest = NULL, *err;
	unsigned timeout = 600;
	struct client *clients;
	int o;

	g.nclients = 10;
	g.sessions = 10;
	g.retrs = 5;
	g.seed = 1;
	g.domain = "bench.test";
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'p': g.port = atoi(optarg); break;
		case 'm': manifest = optarg; break;
		case 'c': g.nclients = (unsigned)atoi(optarg); break;
		case 'n': g.sessions = (unsigned)atoi(optarg); break;
		case 'r': g.retrs = (unsigned)atoi(optarg); break;
		case 's': g.seed = strtoull(optarg, NULL, 10); break;
		case 't': timeout = (unsigned)atoi(optarg); break;
		case 'u': g.domain = optarg; break;
		default: usage();
		}
	}
	if (g.port <= 0 || manifest == NULL || g.nclients == 0 || g.sessions == 0 || g.retrs == 0)
		usage();
	if (lg_manifest_load(&g.man, manifest, &err) < 0)
		lg_fatal("%s: %s", manifest, err);
	for (int k = 0; k < K_COUNT; k++)
		g.lat[k].name = kind_names[k];
	g.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (g.epfd < 0)
		lg_fatal("epoll_create1: %s", strerror(errno));
	lg_raise_nofile((size_t)g.nclients + 64);
	clients = calloc(g.nclients, sizeof(*clients));
	if (clients == NULL)
		lg_fatal("out of memory");

	uint64_t t0 = lg_now_us(), deadline = t0 + (uint64_t)timeout * 1000000u;
	for (unsigned i = 0; i < g.nclients; i++) {
		struct client *c = &clients[i];

		c->idx = i;
		c->user = i;
		c->rng = (g.seed * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)(i + 1) << 20) ^ 0x5151u;
		c->sessions_left = g.sessions;
		c->sizes = calloc(g.man.count + 1, sizeof(*c->sizes));
		if (c->sizes == NULL)
			lg_fatal("out of memory");
		c->conn.fd = -1;
		g.active++;
		client_start(c);
	}
	struct epoll_event evs[256];
	while (g.active > 0) {
		if (lg_now_us() > deadline) {
			snprintf(g.first_error, sizeof(g.first_error), "timeout after %u s", timeout);
			g.errors++;
			break;
		}
		int n = epoll_wait(g.epfd, evs, 256, 1000);

		if (n < 0 && errno != EINTR)
			lg_fatal("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			struct client *c = evs[i].data.ptr;

			if (c->conn.fd >= 0)
				client_io(c, evs[i].events);
		}
	}
	double elapsed = (lg_now_us() - t0) / 1e6;
	struct lgb out = { 0 };

	lgb_printf(&out, "{\"ok\":%s,\"errors\":%lu,\"clients\":%u,\"elapsed_s\":%.6f,"
		   "\"commands\":%lu,\"sessions\":%lu,\"sessions_per_s\":%.2f,\"retr\":%lu,"
		   "\"retr_per_s\":%.2f,\"commands_per_s\":%.2f",
		   g.errors ? "false" : "true", g.errors, g.nclients, elapsed, g.commands,
		   g.sessions_done, elapsed > 0 ? g.sessions_done / elapsed : 0.0, g.retr_done,
		   elapsed > 0 ? g.retr_done / elapsed : 0.0,
		   elapsed > 0 ? g.commands / elapsed : 0.0);
	if (g.errors) {
		lgb_printf(&out, ",\"first_error\":\"");
		for (const char *s = g.first_error; *s; s++) {
			if (*s == '"' || *s == '\\')
				lgb_add(&out, "\\", 1);
			if ((unsigned char)*s >= 0x20)
				lgb_add(&out, s, 1);
		}
		lgb_add(&out, "\"", 1);
	}
	lgb_printf(&out, ",\"cmds\":{");
	for (int k = 0; k < K_COUNT; k++) {
		if (k > 0)
			lgb_add(&out, ",", 1);
		lg_lat_json(&g.lat[k], &out);
	}
	lgb_printf(&out, "}}\n");
	fwrite(lgb_ptr(&out), 1, lgb_avail(&out), stdout);
	fflush(stdout);
	for (unsigned i = 0; i < g.nclients; i++)
		lg_close(&clients[i].conn);
	return g.errors ? 1 : 0;
}
