/* imapload.c - IMAP load generator for the benchmark harness.
 *
 * One process, N non-blocking clients on N users, driven by epoll. Each
 * client runs a realistic cycle on INBOX - header FETCH of a range, three
 * whole-message FETCHes, STORE of a flag and back, APPEND, FETCH of what was
 * appended, STORE \Deleted, EXPUNGE - either in a new session per cycle
 * (connect, LOGIN, SELECT, cycle, LOGOUT) or in one long-lived session.
 * Everything received is verified: whole messages hash to the manifest
 * (bench/mailgen.py), header FETCHes name listed messages with their exact
 * RFC822.SIZE, counts (EXISTS, FETCH responses, EXPUNGE) match, STORE
 * reports the new flags and the appended message comes back byte for byte.
 *
 * Idle mode opens K connections that LOGIN, SELECT and IDLE, prints a
 * "ready" line, waits for "probe" on stdin, then times a fresh LOGIN.
 *
 * Output: one JSON object on stdout. Exit status 0 only when nothing failed.
 */
#define _GNU_SOURCE
#include "imapresp.h"
#include "lg.h"

#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

enum kind { K_CONNECT, K_LOGIN, K_SELECT, K_FETCH_HDR, K_FETCH_BODY, K_STORE, K_APPEND,
	    K_EXPUNGE, K_NOOP, K_LOGOUT, K_IDLE, K_COUNT };
static const char *const kind_names[K_COUNT] = {
	"CONNECT", "LOGIN", "SELECT", "FETCH_HEADERS", "FETCH_BODY", "STORE", "APPEND",
	"EXPUNGE", "NOOP", "LOGOUT", "IDLE"
};

enum step { ST_GREETING, ST_LOGIN, ST_SELECT, ST_FETCH_HDR, ST_FETCH_BODY, ST_STORE_ADD,
	    ST_STORE_DEL, ST_APPEND, ST_NOOP, ST_FETCH_APPENDED, ST_MARK_DELETED, ST_EXPUNGE,
	    ST_LOGOUT, ST_IDLE, ST_IDLING, ST_DONE };

enum mode { MODE_SESSION, MODE_LONG, MODE_IDLE };

struct client {
	struct lg_conn conn;
	unsigned idx, user;
	uint64_t rng;
	enum step step;
	bool probe;
	unsigned gen;             /* bumped by every (re)connect */
	unsigned cycles_left, cycle_no, bodies_left;
	uint32_t exists, base, range_a, range_b, target, fetch_seen;
	bool item_ok, expunge_seen, append_cont;
	unsigned tagn;
	char tag[16];
	enum kind kind;
	uint64_t t_sent, t_connect;
	struct lgb append;
	unsigned char append_sha[32];
};

static struct {
	int port, epfd;
	enum mode mode;
	unsigned nclients, cycles, idle, src_per, src_base;
	uint64_t seed;
	const char *domain;
	struct lg_manifest man;
	struct lg_lat lat[K_COUNT];
	unsigned long errors, commands, bodies_verified, headers_verified, appends_verified;
	unsigned active, idling, started, closed_idle;
	bool ready_printed, probe_started;
	double probe_login_ms, probe_total_ms;
	bool probe_ok;
	char first_error[512];
} g;

static void client_send_next(struct client *c);
static void client_start(struct client *c);

static void
client_error(struct client *c, const char *fmt, ...) LG_ATTR_PRINTF(2, 3);

static void
client_error(struct client *c, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (g.errors < 10)
		fprintf(stderr, "imapload: client %u (user %u) step %d: %s\n", c->idx, c->user,
			(int)c->step, msg);
	if (g.errors == 0)
		snprintf(g.first_error, sizeof(g.first_error), "client %u: %s", c->idx, msg);
	g.errors++;
	if (c->conn.fd >= 0)
		lg_close(&c->conn);
	if (c->step == ST_IDLING)
		g.closed_idle++; /* no longer counted as active since it idled */
	else if (c->step != ST_DONE)
		g.active--;
	c->step = ST_DONE;
}

static void
send_cmd(struct client *c, enum kind k, const char *fmt, ...) LG_ATTR_PRINTF(3, 4);

static void
send_cmd(struct client *c, enum kind k, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	snprintf(c->tag, sizeof(c->tag), "a%u", ++c->tagn);
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		lg_fatal("command too long");
	lgb_printf(&c->conn.out, "%s %s\r\n", c->tag, line);
	c->kind = k;
	c->t_sent = lg_now_us();
	g.commands++;
	if (lg_flush(&c->conn) < 0) {
		client_error(c, "write failed: %s", strerror(errno));
		return;
	}
	lg_want_write(&c->conn, g.epfd, c, lgb_avail(&c->conn.out) > 0);
}

static uint32_t
rnd(struct client *c, uint32_t n)
{
	return (uint32_t)(lg_rand(&c->rng) % n);
}

/* Build this cycle's APPEND message (CRLF, unique Message-ID). */
static void
make_append(struct client *c)
{
	unsigned lines = 40 + rnd(c, 120);

	c->append.off = c->append.len = 0;
	lgb_printf(&c->append,
		   "Message-ID: <append-%u-%u-%llu@load.bench.test>\r\n"
		   "From: \"Load %u\" <load%u@bench.test>\r\n"
		   "To: <user%u@bench.test>\r\n"
		   "Subject: appended by imapload, cycle %u\r\n"
		   "Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n"
		   "MIME-Version: 1.0\r\n"
		   "Content-Type: text/plain; charset=us-ascii\r\n\r\n",
		   c->idx, c->cycle_no, (unsigned long long)g.seed, c->idx, c->idx, c->user,
		   c->cycle_no);
	for (unsigned i = 0; i < lines; i++)
		lgb_printf(&c->append, "line %u of an appended message, random %016llx\r\n", i,
			   (unsigned long long)lg_rand(&c->rng));
	lg_sha256(lgb_ptr(&c->append), lgb_avail(&c->append), c->append_sha);
}

static void
client_send_next(struct client *c)
{
	char user[128], pass[128];

	switch (c->step) {
	case ST_LOGIN:
		lg_user_name(user, sizeof(user), c->user, g.domain);
		lg_user_pass(pass, sizeof(pass), c->user);
		send_cmd(c, K_LOGIN, "LOGIN \"%s\" \"%s\"", user, pass);
		break;
	case ST_SELECT:
		c->exists = 0;
		send_cmd(c, K_SELECT, "SELECT INBOX");
		break;
	case ST_FETCH_HDR: {
		uint32_t span = 20;

		c->range_a = 1 + rnd(c, c->base > span ? c->base - span + 1 : 1);
		c->range_b = c->range_a + span - 1 > c->base ? c->base : c->range_a + span - 1;
		c->fetch_seen = 0;
		send_cmd(c, K_FETCH_HDR,
			 "FETCH %u:%u (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS "
			 "(FROM TO CC SUBJECT DATE MESSAGE-ID CONTENT-TYPE)])",
			 c->range_a, c->range_b);
		break;
	}
	case ST_FETCH_BODY:
		c->target = 1 + rnd(c, c->base);
		c->item_ok = false;
		send_cmd(c, K_FETCH_BODY, "FETCH %u (UID BODY.PEEK[])", c->target);
		break;
	case ST_STORE_ADD:
		c->target = 1 + rnd(c, c->base);
		c->item_ok = false;
		send_cmd(c, K_STORE, "STORE %u +FLAGS (\\Flagged)", c->target);
		break;
	case ST_STORE_DEL:
		c->item_ok = false;
		send_cmd(c, K_STORE, "STORE %u -FLAGS (\\Flagged)", c->target);
		break;
	case ST_APPEND:
		make_append(c);
		c->append_cont = true;
		send_cmd(c, K_APPEND, "APPEND INBOX (\\Seen) {%zu}", lgb_avail(&c->append));
		break;
	case ST_NOOP:
		send_cmd(c, K_NOOP, "NOOP");
		break;
	case ST_FETCH_APPENDED:
		c->target = c->base + 1;
		c->item_ok = false;
		send_cmd(c, K_FETCH_BODY, "FETCH %u (BODY.PEEK[])", c->target);
		break;
	case ST_MARK_DELETED:
		send_cmd(c, K_STORE, "STORE %u +FLAGS.SILENT (\\Deleted)", c->target);
		break;
	case ST_EXPUNGE:
		c->expunge_seen = false;
		send_cmd(c, K_EXPUNGE, "EXPUNGE");
		break;
	case ST_LOGOUT:
		send_cmd(c, K_LOGOUT, "LOGOUT");
		break;
	case ST_IDLE:
		send_cmd(c, K_IDLE, "IDLE");
		break;
	default:
		lg_fatal("send_next in step %d", (int)c->step);
	}
}

static void
print_ready(void)
{
	printf("{\"ready\":%u}\n", g.idling);
	fflush(stdout);
	g.ready_printed = true;
}

/* The tagged OK of the command in flight: check what it should have shown
 * and choose the next step. */
static void
on_tagged_ok(struct client *c)
{
	switch (c->step) {
	case ST_LOGIN:
		if (c->probe)
			g.probe_login_ms = (lg_now_us() - c->t_connect) / 1000.0;
		c->step = ST_SELECT;
		break;
	case ST_SELECT:
		if (c->exists != g.man.count) {
			client_error(c, "SELECT: %u messages, the mailbox has %zu", c->exists,
				     g.man.count);
			return;
		}
		c->base = c->exists;
		if (c->probe) {
			c->step = ST_LOGOUT;
		} else if (g.mode == MODE_IDLE) {
			c->step = ST_IDLE;
		} else {
			c->step = ST_FETCH_HDR;
		}
		break;
	case ST_FETCH_HDR:
		if (c->fetch_seen != c->range_b - c->range_a + 1) {
			client_error(c, "FETCH %u:%u returned %u messages", c->range_a, c->range_b,
				     c->fetch_seen);
			return;
		}
		c->bodies_left = 3;
		c->step = ST_FETCH_BODY;
		break;
	case ST_FETCH_BODY:
		if (!c->item_ok) {
			client_error(c, "FETCH %u BODY[] returned no message", c->target);
			return;
		}
		if (--c->bodies_left == 0)
			c->step = ST_STORE_ADD;
		break;
	case ST_STORE_ADD:
	case ST_STORE_DEL:
		if (!c->item_ok) {
			client_error(c, "STORE %u did not report the new flags", c->target);
			return;
		}
		c->step = c->step == ST_STORE_ADD ? ST_STORE_DEL : ST_APPEND;
		break;
	case ST_APPEND:
		if (c->append_cont) {
			client_error(c, "APPEND completed without a continuation");
			return;
		}
		c->step = c->exists == c->base + 1 ? ST_FETCH_APPENDED : ST_NOOP;
		break;
	case ST_NOOP:
		if (c->exists != c->base + 1) {
			client_error(c, "after APPEND the mailbox has %u messages, expected %u",
				     c->exists, c->base + 1);
			return;
		}
		c->step = ST_FETCH_APPENDED;
		break;
	case ST_FETCH_APPENDED:
		if (!c->item_ok) {
			client_error(c, "the appended message did not come back");
			return;
		}
		g.appends_verified++;
		c->step = ST_MARK_DELETED;
		break;
	case ST_MARK_DELETED:
		c->step = ST_EXPUNGE;
		break;
	case ST_EXPUNGE:
		if (!c->expunge_seen || c->exists != c->base) {
			client_error(c, "EXPUNGE: expunged=%d, %u messages left (expected %u)",
				     c->expunge_seen, c->exists, c->base);
			return;
		}
		c->cycle_no++;
		c->cycles_left--;
		if (g.mode == MODE_LONG && c->cycles_left > 0)
			c->step = ST_FETCH_HDR;
		else
			c->step = ST_LOGOUT;
		break;
	case ST_LOGOUT:
		lg_close(&c->conn);
		if (c->probe) {
			g.probe_total_ms = (lg_now_us() - c->t_connect) / 1000.0;
			g.probe_ok = true;
			c->step = ST_DONE;
			g.active--;
			return;
		}
		if (g.mode == MODE_SESSION && c->cycles_left > 0) {
			client_start(c);
		} else {
			c->step = ST_DONE;
			g.active--;
		}
		return;
	default:
		client_error(c, "unexpected tagged OK");
		return;
	}
	client_send_next(c);
}

static void
on_fetch(struct client *c, uint32_t seq, const char *p, size_t n)
{
	struct imap_fetch f;
	const char *err;

	if (imap_parse_fetch(p, n, &f) < 0) {
		client_error(c, "malformed FETCH response");
		return;
	}
	switch (c->step) {
	case ST_FETCH_HDR: {
		const char *id;
		size_t idlen;
		const struct lg_msg *m;

		if (seq < c->range_a || seq > c->range_b || !f.has_hdr || !f.has_size ||
		    !f.has_uid || !f.has_flags) {
			client_error(c, "FETCH %u: missing items or out of range", seq);
			return;
		}
		idlen = lg_find_msgid(f.hdr, f.hdr_len, &id);
		m = idlen ? lg_manifest_find(&g.man, id, idlen) : NULL;
		if (m == NULL) {
			client_error(c, "FETCH %u: header has no known Message-ID", seq);
			return;
		}
		if (m->size != f.size) {
			client_error(c, "FETCH %u: RFC822.SIZE %zu, the message has %zu", seq,
				     f.size, m->size);
			return;
		}
		c->fetch_seen++;
		g.headers_verified++;
		break;
	}
	case ST_FETCH_BODY:
		if (seq != c->target || !f.has_body)
			return; /* an unsolicited update */
		if (lg_verify_message(&g.man, f.body, f.body_len, &err) < 0) {
			client_error(c, "FETCH %u BODY[]: %s", seq, err);
			return;
		}
		g.bodies_verified++;
		c->item_ok = true;
		break;
	case ST_STORE_ADD:
	case ST_STORE_DEL:
		if (seq != c->target || !f.has_flags)
			return;
		if (imap_has_flag(f.flags, f.flags_len, "\\Flagged") != (c->step == ST_STORE_ADD)) {
			client_error(c, "STORE %u: FLAGS (%.*s)", seq, (int)f.flags_len, f.flags);
			return;
		}
		c->item_ok = true;
		break;
	case ST_FETCH_APPENDED: {
		unsigned char sha[32];

		if (seq != c->target || !f.has_body)
			return;
		lg_sha256(f.body, f.body_len, sha);
		if (f.body_len != lgb_avail(&c->append) || memcmp(sha, c->append_sha, 32) != 0) {
			client_error(c, "appended message came back different (%zu vs %zu octets)",
				     f.body_len, lgb_avail(&c->append));
			return;
		}
		c->item_ok = true;
		break;
	}
	default:
		break;
	}
}

static void
on_response(struct client *c, const char *p, size_t n)
{
	size_t tl = strlen(c->tag);
	uint32_t num;
	size_t wlen;
	const char *w;

	if (c->step == ST_GREETING) {
		if (n < 4 || strncmp(p, "* OK", 4) != 0) {
			client_error(c, "bad greeting");
			return;
		}
		lg_lat_add(&g.lat[K_CONNECT], lg_now_us() - c->t_connect);
		c->step = ST_LOGIN;
		client_send_next(c);
		return;
	}
	if (n >= 2 && p[0] == '+' && (p[1] == ' ' || p[1] == '\r' || p[1] == '\n')) {
		if (c->step == ST_APPEND && c->append_cont) {
			c->append_cont = false;
			lgb_add(&c->conn.out, lgb_ptr(&c->append), lgb_avail(&c->append));
			lgb_add(&c->conn.out, "\r\n", 2);
			if (lg_flush(&c->conn) < 0) {
				client_error(c, "write failed");
				return;
			}
			lg_want_write(&c->conn, g.epfd, c, lgb_avail(&c->conn.out) > 0);
			return;
		}
		if (c->step == ST_IDLE) {
			lg_lat_add(&g.lat[K_IDLE], lg_now_us() - c->t_sent);
			c->step = ST_IDLING;
			g.idling++;
			g.active--; /* set up; the next connection may start */
			if (!g.ready_printed && g.idling == g.idle)
				print_ready();
			return;
		}
		client_error(c, "unexpected continuation request");
		return;
	}
	if (n > tl && memcmp(p, c->tag, tl) == 0 && p[tl] == ' ') {
		uint64_t us = lg_now_us() - c->t_sent;

		if (n < tl + 3 || strncasecmp(p + tl + 1, "OK", 2) != 0) {
			client_error(c, "%.*s", (int)(n > 200 ? 200 : n), p);
			return;
		}
		lg_lat_add(&g.lat[c->kind], us);
		on_tagged_ok(c);
		return;
	}
	w = imap_untagged_num(p, n, &num, &wlen);
	if (w != NULL) {
		if (wlen == 6 && strncasecmp(w, "EXISTS", 6) == 0) {
			c->exists = num;
		} else if (wlen == 7 && strncasecmp(w, "EXPUNGE", 7) == 0) {
			if (num == c->target && c->step == ST_EXPUNGE)
				c->expunge_seen = true;
			if (c->exists > 0)
				c->exists--;
		} else if (wlen == 5 && strncasecmp(w, "FETCH", 5) == 0) {
			size_t off = (size_t)(w - p) + 6;

			if (off < n)
				on_fetch(c, num, p + off, n - off);
		}
		return;
	}
	if (n >= 5 && strncasecmp(p, "* BYE", 5) == 0 && c->step != ST_LOGOUT) {
		client_error(c, "server said BYE: %.*s", (int)(n > 200 ? 200 : n), p);
		return;
	}
	if (n < 2 || p[0] != '*') {
		client_error(c, "unparsable response: %.*s", (int)(n > 100 ? 100 : n), p);
	}
}

static void
client_start(struct client *c)
{
	const char *err;
	unsigned src = g.src_base + (g.src_per ? c->idx / g.src_per : 0);

	c->step = ST_GREETING;
	c->tagn = 0;
	c->gen++;
	c->t_connect = lg_now_us();
	if (lg_connect(&c->conn, g.epfd, c, g.port, src, &err) < 0) {
		c->conn.fd = -1;
		client_error(c, "connect: %s", err);
	}
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
			break;
		if (r <= 0) {
			if (c->step == ST_LOGOUT || c->step == ST_DONE)
				break;
			client_error(c, r == 0 ? "connection closed by server" : "read error");
			return;
		}
		while (c->conn.fd >= 0 && c->step != ST_DONE) {
			ssize_t len = imap_response_len(lgb_ptr(&c->conn.in), lgb_avail(&c->conn.in));

			if (len < 0) {
				client_error(c, "malformed literal");
				return;
			}
			if (len == 0)
				break;
			/* on_response may close or reconnect (resetting the buffer) */
			unsigned gen = c->gen;

			on_response(c, lgb_ptr(&c->conn.in), (size_t)len);
			if (c->gen != gen || c->conn.fd < 0 || c->step == ST_DONE)
				return;
			lgb_consume(&c->conn.in, (size_t)len);
		}
		if (c->conn.fd < 0 || c->step == ST_DONE)
			return;
	}
}

static void
usage(void)
{
	fprintf(stderr,
		"usage: imapload --port P --manifest FILE [--mode session|long|idle]\n"
		"       [--clients N] [--cycles C] [--idle K] [--seed S] [--timeout SEC]\n"
		"       [--domain D] [--src-per N] [--src-base N]\n"
		"       imapload --self-test\n");
	exit(2);
}

int imapload_self_test(void);

static void
print_result(double elapsed)
{
	struct lgb out = { 0 };

	lgb_printf(&out, "{\"ok\":%s,\"errors\":%lu,\"mode\":\"%s\",\"clients\":%u,"
		   "\"cycles\":%u,\"elapsed_s\":%.6f,\"commands\":%lu,\"commands_per_s\":%.2f,"
		   "\"bodies_verified\":%lu,\"headers_verified\":%lu,\"appends_verified\":%lu",
		   g.errors ? "false" : "true", g.errors,
		   g.mode == MODE_SESSION ? "session" : g.mode == MODE_LONG ? "long" : "idle",
		   g.mode == MODE_IDLE ? g.idle : g.nclients, g.cycles, elapsed, g.commands,
		   elapsed > 0 ? g.commands / elapsed : 0.0, g.bodies_verified,
		   g.headers_verified, g.appends_verified);
	if (g.mode == MODE_IDLE)
		lgb_printf(&out, ",\"idling\":%u,\"dropped\":%u,\"probe_ok\":%s,"
			   "\"probe_login_ms\":%.3f,\"probe_total_ms\":%.3f",
			   g.idling, g.closed_idle, g.probe_ok ? "true" : "false",
			   g.probe_login_ms, g.probe_total_ms);
	if (g.errors) {
		lgb_add(&out, ",\"first_error\":\"", 16);
		for (const char *s = g.first_error; *s; s++) {
			if (*s == '"' || *s == '\\')
				lgb_add(&out, "\\", 1);
			if ((unsigned char)*s >= 0x20)
				lgb_add(&out, s, 1);
		}
		lgb_add(&out, "\"", 1);
	}
	lgb_add(&out, ",\"cmds\":{", 9);
	bool first = true;
	for (int k = 0; k < K_COUNT; k++) {
		if (g.lat[k].n == 0)
			continue;
		if (!first)
			lgb_add(&out, ",", 1);
		first = false;
		lg_lat_json(&g.lat[k], &out);
	}
	lgb_add(&out, "}}\n", 3);
	fwrite(lgb_ptr(&out), 1, lgb_avail(&out), stdout);
	fflush(stdout);
	lgb_free(&out);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "manifest", required_argument, NULL, 'm' },
		{ "mode", required_argument, NULL, 'M' },
		{ "clients", required_argument, NULL, 'c' },
		{ "cycles", required_argument, NULL, 'n' },
		{ "idle", required_argument, NULL, 'k' },
		{ "seed", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "domain", required_argument, NULL, 'u' },
		{ "src-per", required_argument, NULL, 'S' },
		{ "src-base", required_argument, NULL, 'B' },
		{ "self-test", no_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	const char *manifest = NULL, *err;
	unsigned timeout = 600, concurrency = 100;
	struct client *clients, probe = { 0 };
	int o;

	g.mode = MODE_SESSION;
	g.nclients = 10;
	g.cycles = 10;
	g.idle = 100;
	g.seed = 1;
	g.src_per = 20000;
	g.domain = "bench.test";
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'p': g.port = atoi(optarg); break;
		case 'm': manifest = optarg; break;
		case 'M':
			if (strcmp(optarg, "session") == 0)
				g.mode = MODE_SESSION;
			else if (strcmp(optarg, "long") == 0)
				g.mode = MODE_LONG;
			else if (strcmp(optarg, "idle") == 0)
				g.mode = MODE_IDLE;
			else
				usage();
			break;
		case 'c': g.nclients = (unsigned)atoi(optarg); break;
		case 'n': g.cycles = (unsigned)atoi(optarg); break;
		case 'k': g.idle = (unsigned)atoi(optarg); break;
		case 's': g.seed = strtoull(optarg, NULL, 10); break;
		case 't': timeout = (unsigned)atoi(optarg); break;
		case 'u': g.domain = optarg; break;
		case 'S': g.src_per = (unsigned)atoi(optarg); break;
		case 'B': g.src_base = (unsigned)atoi(optarg); break;
		case 'T': return imapload_self_test();
		default: usage();
		}
	}
	if (g.port <= 0 || manifest == NULL || g.nclients == 0 || g.cycles == 0 || g.idle == 0)
		usage();
	if (lg_manifest_load(&g.man, manifest, &err) < 0)
		lg_fatal("%s: %s", manifest, err);
	for (int k = 0; k < K_COUNT; k++)
		g.lat[k].name = kind_names[k];
	g.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (g.epfd < 0)
		lg_fatal("epoll_create1: %s", strerror(errno));

	unsigned total = g.mode == MODE_IDLE ? g.idle : g.nclients;
	lg_raise_nofile((size_t)total + 1024);
	clients = calloc(total, sizeof(*clients));
	if (clients == NULL)
		lg_fatal("out of memory");
	for (unsigned i = 0; i < total; i++) {
		clients[i].idx = i;
		clients[i].user = i % g.nclients;
		clients[i].rng = (g.seed * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)(i + 1) << 20) ^ 0xABCDu;
		clients[i].cycles_left = g.cycles;
		clients[i].conn.fd = -1;
	}

	uint64_t t0 = lg_now_us(), deadline = t0 + (uint64_t)timeout * 1000000u;
	struct epoll_event evs[256];
	bool stdin_open = false;

	if (g.mode != MODE_IDLE) {
		for (unsigned i = 0; i < total; i++) {
			g.active++;
			client_start(&clients[i]);
		}
	}
	for (;;) {
		if (g.mode == MODE_IDLE) {
			while (g.started < total && g.active < concurrency) {
				g.active++;
				client_start(&clients[g.started++]);
			}
			if (g.ready_printed && !stdin_open) {
				struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

				if (epoll_ctl(g.epfd, EPOLL_CTL_ADD, 0, &ev) < 0)
					lg_fatal("epoll stdin: %s", strerror(errno));
				stdin_open = true;
			}
			if (g.probe_started && probe.step == ST_DONE)
				break;
			if (g.started == total && g.active == 0 && !g.ready_printed) {
				print_ready(); /* some failed; report what is idling */
			}
		} else if (g.active == 0) {
			break;
		}
		uint64_t now = lg_now_us();
		if (now > deadline) {
			snprintf(g.first_error, sizeof(g.first_error), "timeout after %u s", timeout);
			g.errors++;
			break;
		}
		int n = epoll_wait(g.epfd, evs, 256, 1000);
		if (n < 0 && errno != EINTR)
			lg_fatal("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			struct client *c = evs[i].data.ptr;

			if (c == NULL) {
				char line[64];
				ssize_t r = read(0, line, sizeof(line));

				(void)epoll_ctl(g.epfd, EPOLL_CTL_DEL, 0, NULL);
				if (r <= 0 || g.probe_started) {
					probe.step = ST_DONE;
					g.probe_started = true;
					continue;
				}
				probe.idx = total;
				probe.user = 0;
				probe.probe = true;
				probe.cycles_left = 1;
				probe.conn.fd = -1;
				g.probe_started = true;
				g.active++;
				client_start(&probe);
				continue;
			}
			if (c->conn.fd >= 0)
				client_io(c, evs[i].events);
		}
	}
	double elapsed = (lg_now_us() - t0) / 1e6;
	print_result(elapsed);
	for (unsigned i = 0; i < total; i++)
		lg_close(&clients[i].conn);
	return g.errors ? 1 : 0;
}
