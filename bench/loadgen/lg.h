/* lg.h - shared pieces of the benchmark load generators (imapload, pop3load).
 *
 * One process drives many non-blocking loopback clients through epoll. This
 * header gives the growable byte buffer, connections, clocks, latency
 * recorders, the message manifest (what every message must hash to) and the
 * small JSON writer the generators report with. Not part of postern itself.
 */
#ifndef BENCH_LG_H
#define BENCH_LG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define LG_ATTR_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* A growable byte string: data[off..len) is unread. Never NULL after init;
 * lgb_add aborts the process when memory runs out. */
struct lgb {
	char *data;
	size_t off, len, cap;
};

void lgb_add(struct lgb *b, const void *p, size_t n);
void lgb_printf(struct lgb *b, const char *fmt, ...) LG_ATTR_PRINTF(2, 3);
/* Drop n unread bytes from the front. */
void lgb_consume(struct lgb *b, size_t n);
static inline const char *lgb_ptr(const struct lgb *b) { return b->data + b->off; }
static inline size_t lgb_avail(const struct lgb *b) { return b->len - b->off; }
void lgb_free(struct lgb *b);

/* A non-blocking TCP client connection to 127.0.0.1. */
struct lg_conn {
	int fd;
	bool connected;
	struct lgb in, out;
};

/* Start connecting to 127.0.0.1:port from source address 127.0.0.(1+src)
 * (several sources give more than one ephemeral port range). Registers the
 * fd in epfd with ptr as its data. Returns 0, or -1 with *error_r. */
int lg_connect(struct lg_conn *c, int epfd, void *ptr, int port, unsigned src,
	       const char **error_r);
/* Write as much of c->out as the socket takes; -1 on a broken connection. */
int lg_flush(struct lg_conn *c);
/* Read what is available into c->in: >0 bytes read, 0 on EOF, -1 on error,
 * -2 when nothing was available. */
ssize_t lg_read(struct lg_conn *c);
void lg_close(struct lg_conn *c);
/* Ask epoll for EPOLLOUT too while output is pending. */
void lg_want_write(struct lg_conn *c, int epfd, void *ptr, bool on);

/* Monotonic clock in microseconds. */
uint64_t lg_now_us(void);

/* Raise RLIMIT_NOFILE to at least want (up to what the kernel allows). */
void lg_raise_nofile(size_t want);

/* Latency samples (microseconds) of one command kind. */
struct lg_lat {
	const char *name;
	uint32_t *v;
	size_t n, cap;
};
void lg_lat_add(struct lg_lat *l, uint64_t us);
/* Append `"name":{"n":..,"p50_ms":..,"p90_ms":..,"p99_ms":..,"max_ms":..}`. */
void lg_lat_json(struct lg_lat *l, struct lgb *out);

/* One message of the generated mailbox, as the manifest describes it. */
struct lg_msg {
	char *msgid;
	size_t size;            /* octets in CRLF form */
	unsigned char sha[32];  /* SHA-256 of the CRLF form */
};
struct lg_manifest {
	struct lg_msg *msgs;
	size_t count;
	uint64_t total;
};
/* Load bench/mailgen.py's manifest. Returns 0 or -1 with *error_r. */
int lg_manifest_load(struct lg_manifest *m, const char *path, const char **error_r);
const struct lg_msg *lg_manifest_find(const struct lg_manifest *m, const char *msgid, size_t n);

/* SHA-256 of p[0..n). */
void lg_sha256(const void *p, size_t n, unsigned char out[32]);

/* Find the Message-ID header value in the header block at the start of
 * p[0..n) (stops at the first empty line). Returns its length and sets
 * *val_r, or 0 when there is none. The value is trimmed of blanks. */
size_t lg_find_msgid(const char *p, size_t n, const char **val_r);

/* Check one message received in CRLF form against the manifest: its
 * Message-ID must be listed and its size and hash must match. Returns 0, or
 * -1 with a static *error_r. */
int lg_verify_message(const struct lg_manifest *m, const char *p, size_t n,
		      const char **error_r);

/* Deterministic per-client PRNG (xorshift64*). */
static inline uint64_t
lg_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* Parse a decimal size_t from p[0..n); -1 on garbage or overflow. */
int lg_parse_size(const char *p, size_t n, size_t *val_r);

/* The benchmark's accounts: user<i>@domain with password pw-<i>-bench
 * (bench/benchlib/servers.py creates the same). */
void lg_user_name(char *buf, size_t size, unsigned i, const char *domain);
void lg_user_pass(char *buf, size_t size, unsigned i);

/* Print a fatal message to stderr and exit(2). */
void lg_fatal(const char *fmt, ...) LG_ATTR_PRINTF(1, 2) __attribute__((noreturn));

#endif
