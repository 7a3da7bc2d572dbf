/* lg.c - shared pieces of the benchmark load generators (see lg.h). */
#define _GNU_SOURCE
#include "lg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

void
lg_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("loadgen: fatal: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static void
lgb_reserve(struct lgb *b, size_t n)
{
	size_t need;

	if (b->off > 0 && b->off == b->len) {
		b->off = b->len = 0;
	}
	if (n > SIZE_MAX - b->len)
		lg_fatal("buffer size overflow");
	need = b->len + n;
	if (need <= b->cap)
		return;
	if (b->off > 0 && need - b->off <= b->cap) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
		return;
	}
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < need) {
		if (cap > SIZE_MAX / 2)
			lg_fatal("buffer size overflow");
		cap *= 2;
	}
	char *p = realloc(b->data, cap);
	if (p == NULL)
		lg_fatal("out of memory (%zu bytes)", cap);
	b->data = p;
	b->cap = cap;
}

void
lgb_add(struct lgb *b, const void *p, size_t n)
{
	lgb_reserve(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void
lgb_printf(struct lgb *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		lg_fatal("vsnprintf failed");
	lgb_reserve(b, (size_t)n + 1);
	va_start(ap, fmt);
	if (vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap) != n)
		lg_fatal("vsnprintf changed its mind");
	va_end(ap);
	b->len += (size_t)n;
}

void
lgb_consume(struct lgb *b, size_t n)
{
	if (n > b->len - b->off)
		lg_fatal("lgb_consume past end");
	b->off += n;
	if (b->off == b->len)
		b->off = b->len = 0;
}

void
lgb_free(struct lgb *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

int
lg_connect(struct lg_conn *c, int epfd, void *ptr, int port, unsigned src,
	   const char **error_r)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = ptr };
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	c->connected = false;
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (src > 0) {
		struct sockaddr_in la = { .sin_family = AF_INET };

		if (src > 250) {
			*error_r = "too many source addresses";
			goto fail;
		}
		la.sin_addr.s_addr = htonl(0x7f000001u + src);
		(void)setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(c->fd, (struct sockaddr *)&la, sizeof(la)) < 0) {
			*error_r = strerror(errno);
			goto fail;
		}
	}
	sa.sin_addr.s_addr = htonl(0x7f000001u);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		*error_r = strerror(errno);
		goto fail;
	}
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		*error_r = strerror(errno);
		goto fail;
	}
	return 0;
fail:
	close(c->fd);
	c->fd = -1;
	return -1;
}

void
lg_want_write(struct lg_conn *c, int epfd, void *ptr, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = ptr };

	(void)epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

int
lg_flush(struct lg_conn *c)
{
	while (lgb_avail(&c->out) > 0) {
		ssize_t n = send(c->fd, lgb_ptr(&c->out), lgb_avail(&c->out), MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			return -1;
		}
		lgb_consume(&c->out, (size_t)n);
	}
	return 0;
}

ssize_t
lg_read(struct lg_conn *c)
{
	for (;;) {
		lgb_reserve(&c->in, 65536);
		ssize_t n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);

		if (n > 0) {
			c->in.len += (size_t)n;
			return n;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return -2;
		return -1;
	}
}

void
lg_close(struct lg_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->connected = false;
	c->in.off = c->in.len = 0;
	c->out.off = c->out.len = 0;
}

uint64_t
lg_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void
lg_raise_nofile(size_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur >= want)
		return;
	if (rl.rlim_max < want) {
		struct rlimit hi = { want, want };

		if (setrlimit(RLIMIT_NOFILE, &hi) == 0)
			return;
	}
	rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
}

void
lg_lat_add(struct lg_lat *l, uint64_t us)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 1024;
		uint32_t *v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL)
			lg_fatal("out of memory");
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array, in milliseconds. */
static double
pct_ms(const uint32_t *v, size_t n, unsigned p)
{
	size_t rank = (n * p + 99) / 100;

	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1] / 1000.0;
}

void
lg_lat_json(struct lg_lat *l, struct lgb *out)
{
	if (l->n == 0) {
		lgb_printf(out, "\"%s\":{\"n\":0}", l->name);
		return;
	}
	qsort(l->v, l->n, sizeof(*l->v), cmp_u32);
	lgb_printf(out, "\"%s\":{\"n\":%zu,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,"
		   "\"max_ms\":%.3f}", l->name, l->n, pct_ms(l->v, l->n, 50),
		   pct_ms(l->v, l->n, 90), pct_ms(l->v, l->n, 99), l->v[l->n - 1] / 1000.0);
}

int
lg_parse_size(const char *p, size_t n, size_t *val_r)
{
	size_t v = 0;

	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		if (v > (SIZE_MAX - 9) / 10)
			return -1;
		v = v * 10 + (size_t)(p[i] - '0');
	}
	*val_r = v;
	return 0;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
cmp_msg(const void *a, const void *b)
{
	return strcmp(((const struct lg_msg *)a)->msgid, ((const struct lg_msg *)b)->msgid);
}

int
lg_manifest_load(struct lg_manifest *m, const char *path, const char **error_r)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	size_t cap = 0;

	memset(m, 0, sizeof(*m));
	if (f == NULL) {
		*error_r = "cannot open manifest";
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char id[512], sha[80], flags[32];
		size_t size;
		struct lg_msg *msg;

		if (strchr(line, '\n') == NULL ||
		    sscanf(line, "%511s %zu %79s %31s", id, &size, sha, flags) != 4 ||
		    strlen(sha) != 64) {
			*error_r = "malformed manifest line";
			fclose(f);
			return -1;
		}
		if (m->count == cap) {
			cap = cap ? cap * 2 : 1024;
			m->msgs = realloc(m->msgs, cap * sizeof(*m->msgs));
			if (m->msgs == NULL)
				lg_fatal("out of memory");
		}
		msg = &m->msgs[m->count++];
		msg->msgid = strdup(id);
		if (msg->msgid == NULL)
			lg_fatal("out of memory");
		msg->size = size;
		for (int i = 0; i < 32; i++) {
			int hi = hexval(sha[2 * i]), lo = hexval(sha[2 * i + 1]);

			if (hi < 0 || lo < 0) {
				*error_r = "malformed manifest hash";
				fclose(f);
				return -1;
			}
			msg->sha[i] = (unsigned char)(hi << 4 | lo);
		}
		m->total += size;
	}
	fclose(f);
	if (m->count == 0) {
		*error_r = "empty manifest";
		return -1;
	}
	qsort(m->msgs, m->count, sizeof(*m->msgs), cmp_msg);
	return 0;
}

const struct lg_msg *
lg_manifest_find(const struct lg_manifest *m, const char *msgid, size_t n)
{
	size_t lo = 0, hi = m->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *s = m->msgs[mid].msgid;
		size_t sl = strlen(s);
		int c = memcmp(s, msgid, sl < n ? sl : n);

		if (c == 0)
			c = sl < n ? -1 : sl > n;
		if (c == 0)
			return &m->msgs[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void
lg_sha256(const void *p, size_t n, unsigned char out[32])
{
	unsigned int len = 32;

	if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1 || len != 32)
		lg_fatal("EVP_Digest failed");
}

size_t
lg_find_msgid(const char *p, size_t n, const char **val_r)
{
	static const char key[] = "message-id:";
	size_t i = 0;

	while (i < n) {
		const char *eol = memchr(p + i, '\n', n - i);
		size_t end = eol ? (size_t)(eol - p) : n;
		size_t len = end - i;

		if (len > 0 && p[end - 1] == '\r')
			len--;
		if (len == 0)
			return 0; /* end of the header block */
		if (len >= sizeof(key) - 1 && strncasecmp(p + i, key, sizeof(key) - 1) == 0) {
			size_t a = i + sizeof(key) - 1, b = i + len;

			while (a < b && (p[a] == ' ' || p[a] == '\t'))
				a++;
			while (b > a && (p[b - 1] == ' ' || p[b - 1] == '\t'))
				b--;
			*val_r = p + a;
			return b - a;
		}
		i = end + 1;
	}
	return 0;
}

int
lg_verify_message(const struct lg_manifest *m, const char *p, size_t n, const char **error_r)
{
	const char *id;
	size_t idlen = lg_find_msgid(p, n, &id);
	const struct lg_msg *msg;
	unsigned char sha[32];

	if (idlen == 0) {
		*error_r = "message without Message-ID";
		return -1;
	}
	msg = lg_manifest_find(m, id, idlen);
	if (msg == NULL) {
		*error_r = "Message-ID not in the manifest";
		return -1;
	}
	if (msg->size != n) {
		*error_r = "message size differs from the Maildir file";
		return -1;
	}
	lg_sha256(p, n, sha);
	if (memcmp(sha, msg->sha, 32) != 0) {
		*error_r = "message bytes differ from the Maildir file (SHA-256)";
		return -1;
	}
	return 0;
}

void
lg_user_name(char *buf, size_t size, unsigned i, const char *domain)
{
	int n = snprintf(buf, size, "user%u@%s", i, domain);

	if (n < 0 || (size_t)n >= size)
		lg_fatal("user name too long");
}

void
lg_user_pass(char *buf, size_t size, unsigned i)
{
	int n = snprintf(buf, size, "pw-%u-bench", i);

	if (n < 0 || (size_t)n >= size)
		lg_fatal("password too long");
}
