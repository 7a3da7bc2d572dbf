/* tls_test.h - what the TLS unit tests share: a temporary data directory,
 * certificate files, a loopback TCP pair, TLS peers on a libevent loop, and
 * the fixture with a server context. */
#ifndef POSTERN_TLS_TEST_H
#define POSTERN_TLS_TEST_H

#include "lib/common.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "lib/buf.h"
#include "lib/tls.h"
#include "lib/xalloc.h"
#include "test_fs.h"

#define HOST "mail.example.test"

struct fixture {
	char dir[64]; /* temporary data directory */
	char *cert, *key;
	SSL_CTX *server_ctx;
	struct event_base *base;
};

/* ---- helpers ---- */

ATTR_UNUSED static void
make_tmpdir(char *dir, size_t size)
{
	assert_int_equal(str_copy(dir, size, "/tmp/postern-tls-XXXXXX"), 0);
	assert_non_null(mkdtemp(dir));
}

ATTR_UNUSED static void
read_file(const char *path, struct buf *out)
{
	char chunk[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	buf_reset(out);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		assert_int_equal(buf_add(out, chunk, n), 0);
	fclose(f);
}

ATTR_UNUSED static X509 *
load_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	return x;
}

ATTR_UNUSED static EVP_PKEY *
load_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;

	assert_non_null(f);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(k);
	return k;
}

ATTR_UNUSED static void
write_cert(const char *path, X509 *x)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(PEM_write_X509(f, x), 1);
	assert_int_equal(fclose(f), 0);
}

ATTR_UNUSED static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

ATTR_UNUSED static mode_t
file_mode(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

ATTR_UNUSED static ino_t
file_ino(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

/* A connected loopback TCP pair, both ends non-blocking. */
ATTR_UNUSED static void
tcp_pair(evutil_socket_t *server_r, evutil_socket_t *client_r)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(l >= 0 && c >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(l, 4), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sin, &len), 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sin, sizeof(sin)), 0);
	int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	assert_true(s >= 0);
	close(l);
	assert_int_equal(evutil_make_socket_nonblocking(s), 0);
	assert_int_equal(evutil_make_socket_nonblocking(c), 0);
	*server_r = s;
	*client_r = c;
}

ATTR_UNUSED static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	*(bool *)arg = true;
}

/* Run the loop until expr holds; fail after 10 seconds. */
#define RUN_UNTIL(base, expr)                                                                      \
	do {                                                                                       \
		bool timed_out_ = false;                                                           \
		struct timeval tv_ = {10, 0};                                                      \
		struct event *t_ = evtimer_new((base), timeout_cb, &timed_out_);                   \
		evtimer_add(t_, &tv_);                                                             \
		while (!(expr) && !timed_out_)                                                     \
			event_base_loop((base), EVLOOP_ONCE);                                      \
		event_free(t_);                                                                    \
		assert_false(timed_out_);                                                          \
	} while (0)

/* Let pending finalizers (bufferevent frees) run. */
ATTR_UNUSED static void
settle(struct event_base *base)
{
	for (int i = 0; i < 3; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

struct peer {
	struct bufferevent *bev;
	struct buf got;
	bool echo; /* write back what is read */
	size_t nread;
	bool connected, eof, error, timeout;
	char errtext[512];
	/* STARTTLS */
	SSL_CTX *ctx;
	bool switched;
	size_t discarded;
	const char *reply; /* written when the TLS side has read a full line */
};

ATTR_UNUSED static void
peer_init(struct peer *p)
{
	memset(p, 0, sizeof(*p));
	buf_init(&p->got, 16 * 1024 * 1024);
}

ATTR_UNUSED static void
peer_done(struct peer *p)
{
	tls_free(&p->bev);
	buf_release(&p->got);
}

ATTR_UNUSED static void
peer_read(struct bufferevent *bev, void *arg)
{
	struct peer *p = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n = evbuffer_get_length(in);

	p->nread += n;
	if (p->echo) {
		assert_int_equal(bufferevent_write_buffer(bev, in), 0);
		return;
	}
	char *dst = buf_reserve(&p->got, n);
	assert_non_null(dst);
	assert_int_equal(evbuffer_remove(in, dst, n), (int)n);
	buf_set_len(&p->got, p->got.len + n);
	if (p->reply != NULL && memchr(p->got.data, '\n', p->got.len) != NULL) {
		assert_int_equal(bufferevent_write(bev, p->reply, strlen(p->reply)), 0);
		p->reply = NULL;
	}
}

ATTR_UNUSED static void
peer_event(struct bufferevent *bev, short what, void *arg)
{
	struct peer *p = arg;

	if (what & BEV_EVENT_CONNECTED)
		p->connected = true;
	if (what & BEV_EVENT_EOF)
		p->eof = true;
	if (what & BEV_EVENT_TIMEOUT)
		p->timeout = true;
	if (what & BEV_EVENT_ERROR) {
		p->error = true;
		(void)tls_error_text(bev, p->errtext, sizeof(p->errtext));
	}
}

ATTR_UNUSED static void
peer_attach(struct peer *p, struct bufferevent *bev)
{
	assert_non_null(bev);
	p->bev = bev;
	bufferevent_setcb(bev, peer_read, NULL, peer_event, p);
	assert_int_equal(bufferevent_enable(bev, EV_READ | EV_WRITE), 0);
}

ATTR_UNUSED static SSL_CTX *
client_ctx(bool verify, const char *ca_file)
{
	const char *error = NULL;
	SSL_CTX *ctx = tls_client_ctx_new(verify, &error);

	assert_non_null(ctx);
	if (ca_file != NULL)
		assert_int_equal(SSL_CTX_load_verify_locations(ctx, ca_file, NULL), 1);
	return ctx;
}

/* Implicit TLS on a fresh loopback pair; runs until both sides are done
 * with the handshake or one failed. */
ATTR_UNUSED static void
handshake(struct fixture *f, SSL_CTX *sctx, SSL_CTX *cctx, const char *servername,
	  struct peer *server, struct peer *client)
{
	evutil_socket_t sfd, cfd;
	const char *error = NULL;

	tcp_pair(&sfd, &cfd);
	peer_attach(server, tls_accept_socket(f->base, sfd, sctx, &error));
	peer_attach(client, tls_connect_socket(f->base, cfd, cctx, servername, &error));
	RUN_UNTIL(f->base, (server->connected && client->connected) || server->error ||
			       client->error || server->eof || client->eof);
}

/* ---- fixture ---- */

ATTR_UNUSED static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	const char *error = NULL;

	make_tmpdir(f->dir, sizeof(f->dir));
	assert_int_equal(tls_selfsigned_ensure(f->dir, HOST, &f->cert, &f->key, &error), 1);
	f->server_ctx = tls_server_ctx_new(f->cert, f->key, &error);
	assert_non_null(f->server_ctx);
	f->base = event_base_new();
	assert_non_null(f->base);
	*state = f;
	return 0;
}

ATTR_UNUSED static int
teardown(void **state)
{
	struct fixture *f = *state;

	settle(f->base);
	event_base_free(f->base);
	SSL_CTX_free(f->server_ctx);
	(void)rm_rf(f->dir);
	free(f->cert);
	free(f->key);
	free(f);
	return 0;
}

/* ---- self-signed certificate ---- */

#endif
