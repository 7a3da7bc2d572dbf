/* test_tls.c - the TLS module: self-signed certificate, contexts, and real
 * handshakes over loopback TCP driven by a libevent loop (implicit TLS,
 * STARTTLS with the command injection attack, versions, verification,
 * session resumption, reload).
 */
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

#define HOST "mail.example.test"

struct fixture {
	char dir[64]; /* temporary data directory */
	char *cert, *key;
	SSL_CTX *server_ctx;
	struct event_base *base;
};

/* ---- helpers ---- */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
rm_tree(const char *dir)
{
	(void)nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
make_tmpdir(char *dir, size_t size)
{
	assert_int_equal(str_copy(dir, size, "/tmp/postern-tls-XXXXXX"), 0);
	assert_non_null(mkdtemp(dir));
}

static void
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

static X509 *
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

static EVP_PKEY *
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

static void
write_cert(const char *path, X509 *x)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(PEM_write_X509(f, x), 1);
	assert_int_equal(fclose(f), 0);
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static mode_t
file_mode(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static ino_t
file_ino(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

/* A connected loopback TCP pair, both ends non-blocking. */
static void
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

static void
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
static void
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

static void
peer_init(struct peer *p)
{
	memset(p, 0, sizeof(*p));
	buf_init(&p->got, 16 * 1024 * 1024);
}

static void
peer_done(struct peer *p)
{
	tls_free(&p->bev);
	buf_release(&p->got);
}

static void
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

static void
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

static void
peer_attach(struct peer *p, struct bufferevent *bev)
{
	assert_non_null(bev);
	p->bev = bev;
	bufferevent_setcb(bev, peer_read, NULL, peer_event, p);
	assert_int_equal(bufferevent_enable(bev, EV_READ | EV_WRITE), 0);
}

static SSL_CTX *
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
static void
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

static int
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

static int
teardown(void **state)
{
	struct fixture *f = *state;

	settle(f->base);
	event_base_free(f->base);
	SSL_CTX_free(f->server_ctx);
	rm_tree(f->dir);
	free(f->cert);
	free(f->key);
	free(f);
	return 0;
}

/* ---- self-signed certificate ---- */

static void
test_selfsigned_generate_and_reuse(void **state)
{
	struct fixture *f = *state;
	char path[256], *cert = NULL, *key = NULL;
	const char *error = NULL;
	struct buf before, after;

	/* setup() generated it: check the files. */
	assert_int_equal(snprintf(path, sizeof(path), "%s/tls", f->dir) < (int)sizeof(path), 1);
	assert_int_equal(file_mode(path), 0700);
	assert_int_equal(file_mode(f->key), 0600);
	assert_int_equal(file_mode(f->cert), 0644);
	assert_int_equal(snprintf(path, sizeof(path), "%s/tls/selfsigned.crt", f->dir) > 0, 1);
	assert_string_equal(f->cert, path);
	assert_int_equal(snprintf(path, sizeof(path), "%s/tls/selfsigned.key", f->dir) > 0, 1);
	assert_string_equal(f->key, path);

	/* The certificate itself. */
	X509 *x = load_cert(f->cert);
	EVP_PKEY *k = load_key(f->key);
	char cn[256], group[64];

	assert_int_equal(X509_get_version(x), X509_VERSION_3);
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
					      sizeof(cn)) > 0);
	assert_string_equal(cn, HOST);
	assert_int_equal(X509_check_private_key(x, k), 1);
	assert_int_equal(X509_verify(x, k), 1);
	/* Self-issued; not a CA, so no keyCertSign (X509_check_issued says so). */
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);
	assert_int_equal(X509_check_issued(x, x), X509_V_ERR_KEYUSAGE_NO_CERTSIGN);
	assert_true(EVP_PKEY_is_a(k, "EC"));
	assert_int_equal(EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof(group), NULL), 1);
	assert_string_equal(group, "prime256v1");
	/* SANs: exactly the four names. */
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_non_null(gens);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 4);
	GENERAL_NAMES_free(gens);
	assert_int_equal(X509_check_host(x, HOST, 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(x, "localhost", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_ip_asc(x, "::1", 0), 1);
	assert_int_equal(X509_check_host(x, "other.example.test", 0, 0, NULL), 0);
	/* CA:FALSE, digitalSignature, serverAuth. */
	uint32_t flags = X509_get_extension_flags(x);
	assert_true(flags & EXFLAG_BCONS);
	assert_false(flags & EXFLAG_CA);
	assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
	assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_SERVER);
	/* A positive random serial. */
	BIGNUM *serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	assert_non_null(serial);
	assert_false(BN_is_negative(serial));
	assert_true(BN_num_bits(serial) > 64);
	BN_free(serial);
	/* Valid from an hour ago, for 825 days. */
	int days, secs;
	assert_int_equal(
	    ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x)), 1);
	assert_int_equal(days, TLS_SELFSIGNED_DAYS);
	assert_int_equal(secs, 0);
	assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notBefore(x)), 1);
	assert_int_equal(days, 0);
	assert_true(secs <= -3600 + 60 && secs >= -3600 - 60);
	X509_free(x);
	EVP_PKEY_free(k);

	/* A second call reuses both files untouched. */
	buf_init(&before, BUF_UNLIMITED);
	buf_init(&after, BUF_UNLIMITED);
	read_file(f->cert, &before);
	ino_t ino = file_ino(f->cert);
	assert_int_equal(tls_selfsigned_ensure(f->dir, HOST, &cert, &key, &error), 0);
	assert_string_equal(cert, f->cert);
	assert_string_equal(key, f->key);
	read_file(f->cert, &after);
	assert_int_equal(before.len, after.len);
	assert_memory_equal(before.data, after.data, before.len);
	assert_int_equal(file_ino(f->cert), ino);
	/* Host names compare without case. */
	free(cert);
	free(key);
	assert_int_equal(tls_selfsigned_ensure(f->dir, "MAIL.Example.Test", &cert, &key, &error),
			 0);
	free(cert);
	free(key);
	buf_release(&before);
	buf_release(&after);

	/* No temporary file is left behind. */
	assert_int_equal(snprintf(path, sizeof(path), "%s/tls/selfsigned.crt.tmp", f->dir) > 0, 1);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(snprintf(path, sizeof(path), "%s/tls/selfsigned.key.tmp", f->dir) > 0, 1);
	assert_int_equal(access(path, F_OK), -1);
}

/* ensure() again and expect a regeneration (returns 1, a different cert). */
static void
expect_regenerated(struct fixture *f, const char *host)
{
	char *cert = NULL, *key = NULL;
	const char *error = NULL;
	struct buf before, after;

	buf_init(&before, BUF_UNLIMITED);
	buf_init(&after, BUF_UNLIMITED);
	read_file(f->cert, &before);
	assert_int_equal(tls_selfsigned_ensure(f->dir, host, &cert, &key, &error), 1);
	read_file(f->cert, &after);
	assert_false(before.len == after.len && memcmp(before.data, after.data, before.len) == 0);
	X509 *x = load_cert(cert);
	EVP_PKEY *k = load_key(key);
	assert_int_equal(X509_check_private_key(x, k), 1);
	assert_int_equal(X509_cmp_current_time(X509_get0_notAfter(x)), 1);
	X509_free(x);
	EVP_PKEY_free(k);
	assert_int_equal(file_mode(key), 0600);
	free(cert);
	free(key);
	buf_release(&before);
	buf_release(&after);
}

static void
test_selfsigned_regenerates(void **state)
{
	struct fixture *f = *state;
	char other_dir[64], *ocert = NULL, *okey = NULL, *cert = NULL, *key = NULL;
	const char *error = NULL;

	/* Unreadable certificate. */
	write_text(f->cert, "garbage\n");
	expect_regenerated(f, HOST);

	/* Expired: the same certificate, re-signed with notAfter in the past. */
	X509 *x = load_cert(f->cert);
	EVP_PKEY *k = load_key(f->key);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -10 * 86400));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), -86400));
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	write_cert(f->cert, x);
	/* ... which the server context still loads, with a warning. */
	SSL_CTX *ctx = tls_server_ctx_new(f->cert, f->key, &error);
	assert_non_null(ctx);
	SSL_CTX_free(ctx);
	expect_regenerated(f, HOST);
	/* Expiring within the renewal margin. */
	X509_free(x);
	x = load_cert(f->cert);
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	write_cert(f->cert, x);
	X509_free(x);
	EVP_PKEY_free(k);
	expect_regenerated(f, HOST);

	/* A key that is not the certificate's (a crash between the renames). */
	make_tmpdir(other_dir, sizeof(other_dir));
	assert_int_equal(tls_selfsigned_ensure(other_dir, HOST, &ocert, &okey, &error), 1);
	assert_int_equal(rename(okey, f->key), 0);
	expect_regenerated(f, HOST);
	rm_tree(other_dir);
	free(ocert);
	free(okey);

	/* Missing key only. */
	assert_int_equal(unlink(f->key), 0);
	expect_regenerated(f, HOST);

	/* The configured host name changed. */
	expect_regenerated(f, "imap.example.test");
	x = load_cert(f->cert);
	assert_int_equal(X509_check_host(x, "imap.example.test", 0, 0, NULL), 1);
	X509_free(x);

	/* An IP address as host name goes into an IP SAN. */
	expect_regenerated(f, "192.0.2.7");
	x = load_cert(f->cert);
	assert_int_equal(X509_check_ip_asc(x, "192.0.2.7", 0), 1);
	assert_int_equal(X509_check_host(x, "localhost", 0, 0, NULL), 1);
	X509_free(x);

	/* Loose modes are tightened and the pair is kept. */
	char dir[128];
	assert_int_equal(snprintf(dir, sizeof(dir), "%s/tls", f->dir) > 0, 1);
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(chmod(f->key, 0644), 0);
	ino_t ino = file_ino(f->cert);
	assert_int_equal(tls_selfsigned_ensure(f->dir, "192.0.2.7", &cert, &key, &error), 0);
	assert_int_equal(file_ino(f->cert), ino);
	assert_int_equal(file_mode(dir), 0700);
	assert_int_equal(file_mode(f->key), 0600);
	free(cert);
	free(key);
}

static void
test_selfsigned_errors(void **state)
{
	struct fixture *f = *state;
	char *cert = NULL, *key = NULL, path[128];
	const char *error = NULL;

	/* A host name that would inject SAN entries, and other junk. */
	assert_int_equal(tls_selfsigned_ensure(f->dir, "a.test,IP:10.0.0.1", &cert, &key, &error),
			 -1);
	assert_non_null(strstr(error, "a.test,IP:10.0.0.1"));
	assert_int_equal(tls_selfsigned_ensure(f->dir, "", &cert, &key, &error), -1);
	assert_int_equal(tls_selfsigned_ensure(f->dir, "a..test", &cert, &key, &error), -1);
	assert_int_equal(tls_selfsigned_ensure(f->dir, "-.", &cert, &key, &error), -1);
	/* A data directory that does not exist. */
	assert_int_equal(snprintf(path, sizeof(path), "%s/missing", f->dir) > 0, 1);
	assert_int_equal(tls_selfsigned_ensure(path, HOST, &cert, &key, &error), -1);
	assert_non_null(strstr(error, "missing/tls"));
	assert_non_null(strstr(error, "No such file or directory"));
	/* A name too long for a CN (64) still goes whole into the SAN. */
	char longname[128];
	memset(longname, 'a', 60);
	assert_int_equal(str_copy(longname + 60, sizeof(longname) - 60, ".example.test"), 0);
	assert_int_equal(tls_selfsigned_ensure(f->dir, longname, &cert, &key, &error), 1);
	X509 *x = load_cert(cert);
	char cn[128];
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
					      sizeof(cn)) > 0);
	assert_string_equal(cn, "postern self-signed");
	assert_int_equal(X509_check_host(x, longname, 0, 0, NULL), 1);
	X509_free(x);
	free(cert);
	free(key);
	/* DATA_DIR/tls is a file. */
	assert_int_equal(snprintf(path, sizeof(path), "%s/plain", f->dir) > 0, 1);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(snprintf(path, sizeof(path), "%s/plain/tls", f->dir) > 0, 1);
	write_text(path, "x");
	assert_int_equal(snprintf(path, sizeof(path), "%s/plain", f->dir) > 0, 1);
	assert_int_equal(tls_selfsigned_ensure(path, HOST, &cert, &key, &error), -1);
	assert_non_null(strstr(error, "not a directory"));
}

/* ---- server context ---- */

static void
test_server_ctx_defaults(void **state)
{
	struct fixture *f = *state;
	SSL_CTX *ctx = f->server_ctx;

	assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	assert_true(SSL_CTX_get_options(ctx) & SSL_OP_NO_COMPRESSION);
	assert_true(SSL_CTX_get_options(ctx) & SSL_OP_NO_RENEGOTIATION);
	assert_false(SSL_CTX_get_options(ctx) & SSL_OP_NO_TICKET);
	assert_true(SSL_CTX_get_mode(ctx) & SSL_MODE_RELEASE_BUFFERS);
	/* Only the intended TLS 1.2 suites (plus the three TLS 1.3 ones). */
	STACK_OF(SSL_CIPHER) *ciphers = SSL_CTX_get_ciphers(ctx);
	int n12 = 0;
	for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); i++) {
		const SSL_CIPHER *c = sk_SSL_CIPHER_value(ciphers, i);
		const char *name = SSL_CIPHER_get_name(c);

		if (strncmp(name, "TLS_", 4) == 0)
			continue;
		n12++;
		assert_true(strstr(name, "GCM") != NULL || strstr(name, "CHACHA20") != NULL);
		assert_true(strncmp(name, "ECDHE-", 6) == 0 || strncmp(name, "DHE-", 4) == 0);
	}
	assert_int_equal(n12, 9);
}

static void
test_server_ctx_errors(void **state)
{
	struct fixture *f = *state;
	char other_dir[64], path[128], *ocert = NULL, *okey = NULL;
	const char *error = NULL;

	/* Missing files, named. */
	assert_null(tls_server_ctx_new("/nonexistent/cert.pem", f->key, &error));
	assert_string_equal(error, "certificate /nonexistent/cert.pem: No such file or directory");
	assert_null(tls_server_ctx_new(f->cert, "/nonexistent/key.pem", &error));
	assert_string_equal(error, "private key /nonexistent/key.pem: No such file or directory");

	/* Not PEM. */
	assert_int_equal(snprintf(path, sizeof(path), "%s/junk.pem", f->dir) > 0, 1);
	write_text(path, "this is not a certificate\n");
	assert_null(tls_server_ctx_new(path, f->key, &error));
	assert_non_null(strstr(error, path));
	assert_non_null(strstr(error, "no PEM data found"));
	assert_null(tls_server_ctx_new(f->cert, path, &error));
	assert_non_null(strstr(error, path));
	assert_non_null(strstr(error, "private key"));

	/* A key from another pair. */
	make_tmpdir(other_dir, sizeof(other_dir));
	assert_int_equal(tls_selfsigned_ensure(other_dir, HOST, &ocert, &okey, &error), 1);
	assert_null(tls_server_ctx_new(f->cert, okey, &error));
	assert_non_null(strstr(error, okey));
	assert_non_null(strstr(error, f->cert));
	assert_non_null(strstr(error, "does not match"));

	/* A key encrypted with a passphrase is refused, without prompting. */
	EVP_PKEY *k = load_key(f->key);
	FILE *fp = fopen(okey, "w");
	assert_non_null(fp);
	assert_int_equal(
	    PEM_write_PKCS8PrivateKey(fp, k, EVP_aes_256_cbc(), "secret", 6, NULL, NULL), 1);
	fclose(fp);
	EVP_PKEY_free(k);
	assert_null(tls_server_ctx_new(f->cert, okey, &error));
	assert_non_null(strstr(error, "passphrase"));
	assert_non_null(strstr(error, okey));

	/* Nothing left on OpenSSL's error queue by any of this. */
	assert_int_equal(ERR_peek_error(), 0);
	rm_tree(other_dir);
	free(ocert);
	free(okey);
}

/* ---- handshakes ---- */

static void
test_versions(void **state)
{
	struct fixture *f = *state;
	static const int versions[] = {TLS1_1_VERSION, TLS1_2_VERSION, TLS1_3_VERSION};
	char desc[128];

	for (size_t i = 0; i < N_ELEMENTS(versions); i++) {
		struct peer server, client;
		SSL_CTX *cctx = client_ctx(false, NULL);

		/* A client that speaks only this version. TLS 1.1 needs security
		 * level 0 in OpenSSL 3, or the client would not even offer it. */
		assert_int_equal(SSL_CTX_set_min_proto_version(cctx, versions[i]), 1);
		assert_int_equal(SSL_CTX_set_max_proto_version(cctx, versions[i]), 1);
		if (versions[i] == TLS1_1_VERSION)
			assert_int_equal(SSL_CTX_set_cipher_list(cctx, "DEFAULT:@SECLEVEL=0"), 1);
		peer_init(&server);
		peer_init(&client);
		handshake(f, f->server_ctx, cctx, HOST, &server, &client);
		if (versions[i] == TLS1_1_VERSION) {
			assert_true(server.error);
			assert_false(server.connected);
			assert_non_null(strstr(server.errtext, "unsupported protocol"));
			assert_int_equal(tls_describe(server.bev, desc, sizeof(desc)), -1);
			assert_string_equal(desc, "");
		} else {
			assert_true(server.connected && client.connected);
			assert_int_equal(tls_describe(server.bev, desc, sizeof(desc)), 0);
			if (versions[i] == TLS1_2_VERSION) {
				assert_true(strncmp(desc, "TLSv1.2 with cipher ECDHE-ECDSA-", 32) ==
					    0);
			} else {
				assert_true(strncmp(desc, "TLSv1.3 with cipher TLS_", 24) == 0);
			}
		}
		peer_done(&server);
		peer_done(&client);
		settle(f->base);
		SSL_CTX_free(cctx);
	}
}

static void
test_weak_cipher_refused(void **state)
{
	struct fixture *f = *state;
	struct peer server, client;
	SSL_CTX *cctx = client_ctx(false, NULL);

	/* TLS 1.2 with only a suite without forward secrecy. */
	assert_int_equal(SSL_CTX_set_max_proto_version(cctx, TLS1_2_VERSION), 1);
	assert_int_equal(SSL_CTX_set_cipher_list(cctx, "AES128-SHA:AES256-GCM-SHA384"), 1);
	peer_init(&server);
	peer_init(&client);
	handshake(f, f->server_ctx, cctx, HOST, &server, &client);
	assert_true(server.error);
	assert_non_null(strstr(server.errtext, "no shared cipher"));
	peer_done(&server);
	peer_done(&client);
	SSL_CTX_free(cctx);
}

static void
test_echo_round_trip(void **state)
{
	struct fixture *f = *state;
	struct peer server, client;
	SSL_CTX *cctx = client_ctx(false, NULL);
	char desc[128];
	const size_t big = 1024 * 1024 + 17;

	peer_init(&server);
	peer_init(&client);
	server.echo = true;
	handshake(f, f->server_ctx, cctx, HOST, &server, &client);
	assert_true(server.connected && client.connected);
	assert_true(tls_is_tls(server.bev));

	/* A line, then a megabyte (many records, partial writes). */
	assert_int_equal(bufferevent_write(client.bev, "hello, tls\r\n", 12), 0);
	RUN_UNTIL(f->base, client.got.len >= 12);
	assert_int_equal(client.got.len, 12);
	assert_memory_equal(client.got.data, "hello, tls\r\n", 12);
	buf_reset(&client.got);
	char *data = xmalloc(big);
	for (size_t i = 0; i < big; i++)
		data[i] = (char)(i * 31 + (i >> 9));
	assert_int_equal(bufferevent_write(client.bev, data, big), 0);
	RUN_UNTIL(f->base, client.got.len >= big || client.error || server.error);
	assert_int_equal(client.got.len, big);
	assert_memory_equal(client.got.data, data, big);
	free(data);

	/* Both sides describe the same session. */
	assert_int_equal(tls_describe(server.bev, desc, sizeof(desc)), 0);
	char cdesc[128];
	assert_int_equal(tls_describe(client.bev, cdesc, sizeof(cdesc)), 0);
	assert_string_equal(desc, cdesc);
	assert_true(
	    strncmp(desc, "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)", 64) == 0);
	/* Too small a buffer: -1 and an empty string, never a cut one. */
	char tiny[16];
	assert_int_equal(tls_describe(server.bev, tiny, sizeof(tiny)), -1);
	assert_string_equal(tiny, "");

	/* The client says goodbye properly: the server sees EOF. */
	tls_free(&client.bev);
	RUN_UNTIL(f->base, server.eof || server.error);
	assert_true(server.eof);
	assert_false(server.error);
	peer_done(&server);
	peer_done(&client);
	SSL_CTX_free(cctx);
}

static void
test_dirty_close_is_eof(void **state)
{
	struct fixture *f = *state;
	struct peer server, client;
	SSL_CTX *cctx = client_ctx(false, NULL);

	peer_init(&server);
	peer_init(&client);
	handshake(f, f->server_ctx, cctx, HOST, &server, &client);
	assert_true(server.connected && client.connected);
	/* Close the TCP connection without close_notify, as many mail clients
	 * do: reported as EOF, not as an error. */
	shutdown(bufferevent_getfd(client.bev), SHUT_RDWR);
	RUN_UNTIL(f->base, server.eof || server.error);
	assert_true(server.eof);
	assert_false(server.error);
	peer_done(&server);
	peer_done(&client);
	SSL_CTX_free(cctx);
}

static void
test_verification(void **state)
{
	struct fixture *f = *state;
	struct peer server, client;
	const char *reason = NULL;
	SSL_CTX *cctx;

	/* Opportunistic: connects, but says the peer is not verified. */
	cctx = client_ctx(false, NULL);
	peer_init(&server);
	peer_init(&client);
	handshake(f, f->server_ctx, cctx, HOST, &server, &client);
	assert_true(client.connected);
	assert_false(tls_peer_verified(client.bev, &reason));
	assert_non_null(strstr(reason, "self-signed"));
	peer_done(&server);
	peer_done(&client);
	SSL_CTX_free(cctx);

	/* Verifying, with the certificate as trust anchor: the right name
	 * (and the IP SAN) pass... */
	static const char *const good[] = {HOST, "localhost", "127.0.0.1"};
	cctx = client_ctx(true, f->cert);
	for (size_t i = 0; i < N_ELEMENTS(good); i++) {
		peer_init(&server);
		peer_init(&client);
		handshake(f, f->server_ctx, cctx, good[i], &server, &client);
		assert_true(client.connected);
		assert_true(tls_peer_verified(client.bev, &reason));
		assert_string_equal(reason, "verified");
		/* SNI carried the name (not for an IP address). */
		SSL *ssl = bufferevent_openssl_get_ssl(server.bev);
		const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
		if (i < 2)
			assert_string_equal(sni, good[i]);
		else
			assert_null(sni);
		peer_done(&server);
		peer_done(&client);
	}
	/* ... a wrong name fails the handshake. */
	peer_init(&server);
	peer_init(&client);
	handshake(f, f->server_ctx, cctx, "wrong.example.test", &server, &client);
	assert_true(client.error);
	assert_false(client.connected);
	assert_non_null(strstr(client.errtext, "certificate verify failed"));
	peer_done(&server);
	peer_done(&client);
	SSL_CTX_free(cctx);

	/* Verifying against the system store only: self-signed fails. */
	cctx = client_ctx(true, NULL);
	peer_init(&server);
	peer_init(&client);
	handshake(f, f->server_ctx, cctx, HOST, &server, &client);
	assert_true(client.error);
	peer_done(&server);
	peer_done(&client);
	SSL_CTX_free(cctx);
}

static void
test_session_resumption(void **state)
{
	struct fixture *f = *state;
	static const int versions[] = {TLS1_2_VERSION, TLS1_3_VERSION};

	for (size_t i = 0; i < N_ELEMENTS(versions); i++) {
		SSL_CTX *cctx = client_ctx(false, NULL);
		SSL_SESSION *sess;
		struct peer server, client;
		evutil_socket_t sfd, cfd;
		const char *error = NULL;

		assert_int_equal(SSL_CTX_set_max_proto_version(cctx, versions[i]), 1);
		peer_init(&server);
		peer_init(&client);
		server.echo = true;
		handshake(f, f->server_ctx, cctx, HOST, &server, &client);
		/* A round trip, so that a TLS 1.3 ticket has arrived. */
		assert_int_equal(bufferevent_write(client.bev, "x\n", 2), 0);
		RUN_UNTIL(f->base, client.got.len == 2);
		sess = SSL_get1_session(bufferevent_openssl_get_ssl(client.bev));
		assert_non_null(sess);
		assert_true(SSL_SESSION_is_resumable(sess));
		peer_done(&server);
		peer_done(&client);
		settle(f->base);

		/* The second connection resumes from the ticket, although the
		 * server keeps no session cache. */
		peer_init(&server);
		peer_init(&client);
		tcp_pair(&sfd, &cfd);
		peer_attach(&server, tls_accept_socket(f->base, sfd, f->server_ctx, &error));
		peer_attach(&client, tls_connect_socket(f->base, cfd, cctx, HOST, &error));
		assert_int_equal(SSL_set_session(bufferevent_openssl_get_ssl(client.bev), sess), 1);
		RUN_UNTIL(f->base,
			  (server.connected && client.connected) || server.error || client.error);
		assert_true(server.connected && client.connected);
		assert_true(SSL_session_reused(bufferevent_openssl_get_ssl(server.bev)));
		assert_true(SSL_session_reused(bufferevent_openssl_get_ssl(client.bev)));
		SSL_SESSION_free(sess);
		peer_done(&server);
		peer_done(&client);
		settle(f->base);
		SSL_CTX_free(cctx);
	}
}

/* SIGHUP: the old context is freed while a connection still uses it. */
static void
test_reload_keeps_connections(void **state)
{
	struct fixture *f = *state;
	struct peer server, client;
	const char *error = NULL;
	SSL_CTX *cctx = client_ctx(false, NULL);
	SSL_CTX *old = tls_server_ctx_new(f->cert, f->key, &error);

	assert_non_null(old);
	peer_init(&server);
	peer_init(&client);
	server.echo = true;
	handshake(f, old, cctx, HOST, &server, &client);
	assert_true(server.connected);
	SSL_CTX *fresh = tls_server_ctx_new(f->cert, f->key, &error);
	assert_non_null(fresh);
	SSL_CTX_free(old);
	assert_int_equal(bufferevent_write(client.bev, "still here\n", 11), 0);
	RUN_UNTIL(f->base, client.got.len == 11);
	assert_memory_equal(client.got.data, "still here\n", 11);
	peer_done(&server);
	peer_done(&client);
	SSL_CTX_free(fresh);
	SSL_CTX_free(cctx);
}

/* ---- STARTTLS ---- */

static void
server_tls_ready(struct bufferevent *bev, size_t discarded, const char *error, void *arg)
{
	struct peer *p = arg;

	assert_non_null(bev);
	assert_null(error);
	p->switched = true;
	p->discarded = discarded;
	peer_attach(p, bev);
}

/* The server's plaintext reader: one command, STARTTLS. */
static void
server_plain_read(struct bufferevent *bev, void *arg)
{
	struct peer *p = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len = evbuffer_get_length(in);
	char all[64];

	/* The attack's precondition: both commands arrived together. */
	assert_int_equal(len, 16);
	assert_int_equal(evbuffer_copyout(in, all, len), 16);
	assert_memory_equal(all, "STARTTLS\r\nRSET\r\n", 16);

	size_t n;
	char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF_STRICT);
	assert_non_null(line);
	assert_string_equal(line, "STARTTLS");
	free(line);
	assert_int_equal(bufferevent_write(bev, "220 ready\r\n", 11), 0);
	p->bev = NULL;
	tls_starttls_when_flushed(bev, p->ctx, server_tls_ready, p);
}

static void
client_plain_read(struct bufferevent *bev, void *arg)
{
	struct peer *p = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	const char *error = NULL;
	size_t n, discarded = 99;
	char *line;

	if ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF_STRICT)) == NULL)
		return;
	assert_string_equal(line, "220 ready");
	free(line);
	p->bev = tls_starttls_client(bev, p->ctx, HOST, &discarded, &error);
	assert_non_null(p->bev);
	assert_int_equal(discarded, 0);
	p->switched = true;
	bufferevent_setcb(p->bev, peer_read, NULL, peer_event, p);
	assert_int_equal(bufferevent_enable(p->bev, EV_READ | EV_WRITE), 0);
	/* Queued now, sent once the handshake is done. */
	assert_int_equal(bufferevent_write(p->bev, "NOOP\r\n", 6), 0);
}

static void
test_starttls_injection(void **state)
{
	struct fixture *f = *state;
	struct peer server, client;
	evutil_socket_t sfd, cfd;
	SSL_CTX *cctx = client_ctx(true, f->cert);

	peer_init(&server);
	peer_init(&client);
	server.ctx = f->server_ctx;
	server.reply = "250 ok\r\n";
	client.ctx = cctx;
	tcp_pair(&sfd, &cfd);

	/* The attacker's single write: a command pipelined behind STARTTLS. */
	assert_int_equal(write(cfd, "STARTTLS\r\nRSET\r\n", 16), 16);
	server.bev = tls_plain_socket(f->base, sfd);
	assert_non_null(server.bev);
	assert_false(tls_is_tls(server.bev));
	bufferevent_setcb(server.bev, server_plain_read, NULL, peer_event, &server);
	bufferevent_enable(server.bev, EV_READ | EV_WRITE);
	client.bev = tls_plain_socket(f->base, cfd);
	assert_non_null(client.bev);
	bufferevent_setcb(client.bev, client_plain_read, NULL, peer_event, &client);
	bufferevent_enable(client.bev, EV_READ | EV_WRITE);

	RUN_UNTIL(f->base,
		  client.got.len >= 8 || client.error || server.error || client.eof || server.eof);
	assert_true(server.switched && client.switched);
	/* RSET was dropped, NOOP (sent through TLS) arrived, alone. */
	assert_int_equal(server.discarded, 6);
	assert_int_equal(server.got.len, 6);
	assert_memory_equal(server.got.data, "NOOP\r\n", 6);
	assert_int_equal(client.got.len, 8);
	assert_memory_equal(client.got.data, "250 ok\r\n", 8);
	/* The same sockets carry TLS now, verified. */
	assert_int_equal(bufferevent_getfd(server.bev), sfd);
	assert_int_equal(bufferevent_getfd(client.bev), cfd);
	assert_true(tls_is_tls(server.bev));
	assert_true(tls_peer_verified(client.bev, NULL));

	/* Freeing the TLS bufferevent closes the fd, exactly once. */
	peer_done(&server);
	peer_done(&client);
	settle(f->base);
	assert_int_equal(fcntl(sfd, F_GETFD), -1);
	assert_int_equal(fcntl(cfd, F_GETFD), -1);
	SSL_CTX_free(cctx);
}

/* Plaintext that arrives after the switch (still in the kernel when the
 * server went TLS) is read as a TLS record: the handshake fails and nothing
 * reaches the TLS reader. */
static void
server_plain_read_one(struct bufferevent *bev, void *arg)
{
	struct peer *p = arg;
	size_t n;
	char *line = evbuffer_readln(bufferevent_get_input(bev), &n, EVBUFFER_EOL_CRLF_STRICT);

	if (line == NULL)
		return;
	assert_string_equal(line, "STARTTLS");
	free(line);
	assert_int_equal(bufferevent_write(bev, "220 ready\r\n", 11), 0);
	p->bev = NULL;
	tls_starttls_when_flushed(bev, p->ctx, server_tls_ready, p);
}

static void
client_inject_late(struct bufferevent *bev, void *arg)
{
	struct peer *p = arg;
	const char *error = NULL;
	size_t n;
	char *line = evbuffer_readln(bufferevent_get_input(bev), &n, EVBUFFER_EOL_CRLF_STRICT);

	if (line == NULL)
		return;
	free(line);
	/* A man in the middle adds plaintext after the 220. */
	assert_true(tls_output_drained(bev));
	assert_int_equal(write(bufferevent_getfd(bev), "RSET\r\n", 6), 6);
	p->bev = tls_starttls_client(bev, p->ctx, HOST, NULL, &error);
	assert_non_null(p->bev);
	p->switched = true;
	bufferevent_setcb(p->bev, peer_read, NULL, peer_event, p);
	bufferevent_enable(p->bev, EV_READ | EV_WRITE);
	assert_int_equal(bufferevent_write(p->bev, "NOOP\r\n", 6), 0);
}

static void
test_starttls_late_plaintext(void **state)
{
	struct fixture *f = *state;
	struct peer server, client;
	evutil_socket_t sfd, cfd;
	SSL_CTX *cctx = client_ctx(false, NULL);

	peer_init(&server);
	peer_init(&client);
	server.ctx = f->server_ctx;
	client.ctx = cctx;
	tcp_pair(&sfd, &cfd);
	server.bev = tls_plain_socket(f->base, sfd);
	bufferevent_setcb(server.bev, server_plain_read_one, NULL, peer_event, &server);
	bufferevent_enable(server.bev, EV_READ | EV_WRITE);
	client.bev = tls_plain_socket(f->base, cfd);
	bufferevent_setcb(client.bev, client_inject_late, NULL, peer_event, &client);
	bufferevent_enable(client.bev, EV_READ | EV_WRITE);
	assert_int_equal(bufferevent_write(client.bev, "STARTTLS\r\n", 10), 0);

	RUN_UNTIL(f->base, server.error || server.eof);
	assert_true(server.switched);
	assert_true(server.error);
	assert_false(server.connected);
	assert_int_equal(server.got.len, 0);
	assert_int_equal(server.nread, 0);
	peer_done(&server);
	peer_done(&client);
	SSL_CTX_free(cctx);
}

/* The "ready" reply was already flushed when the helper is called: the
 * switch still happens, from the loop. */
static void
server_plain_read_flushed(struct bufferevent *bev, void *arg)
{
	struct peer *p = arg;
	size_t n;
	char *line = evbuffer_readln(bufferevent_get_input(bev), &n, EVBUFFER_EOL_CRLF_STRICT);

	if (line == NULL)
		return;
	free(line);
	assert_int_equal(write(bufferevent_getfd(bev), "220 ready\r\n", 11), 11);
	assert_true(tls_output_drained(bev));
	p->bev = NULL;
	tls_starttls_when_flushed(bev, p->ctx, server_tls_ready, p);
	/* Never from inside the call. */
	assert_false(p->switched);
}

static void
test_starttls_already_flushed(void **state)
{
	struct fixture *f = *state;
	struct peer server, client;
	evutil_socket_t sfd, cfd;
	SSL_CTX *cctx = client_ctx(false, NULL);

	peer_init(&server);
	peer_init(&client);
	server.ctx = f->server_ctx;
	server.reply = "250 ok\r\n";
	client.ctx = cctx;
	tcp_pair(&sfd, &cfd);
	server.bev = tls_plain_socket(f->base, sfd);
	bufferevent_setcb(server.bev, server_plain_read_flushed, NULL, peer_event, &server);
	bufferevent_enable(server.bev, EV_READ | EV_WRITE);
	client.bev = tls_plain_socket(f->base, cfd);
	bufferevent_setcb(client.bev, client_plain_read, NULL, peer_event, &client);
	bufferevent_enable(client.bev, EV_READ | EV_WRITE);
	assert_int_equal(bufferevent_write(client.bev, "STARTTLS\r\n", 10), 0);

	RUN_UNTIL(f->base, client.got.len >= 8 || client.error || server.error);
	assert_int_equal(server.discarded, 0);
	assert_int_equal(server.got.len, 6);
	assert_memory_equal(server.got.data, "NOOP\r\n", 6);
	assert_memory_equal(client.got.data, "250 ok\r\n", 8);
	peer_done(&server);
	peer_done(&client);
	SSL_CTX_free(cctx);
}

struct lost {
	bool called;
	char error[256];
};

static void
lost_cb(struct bufferevent *bev, size_t discarded, const char *error, void *arg)
{
	struct lost *l = arg;

	assert_null(bev);
	assert_non_null(error);
	l->called = true;
	assert_int_equal(str_copy(l->error, sizeof(l->error), error), 0);
}

/* The client resets the connection while the reply is still queued. */
static void
test_starttls_connection_lost(void **state)
{
	struct fixture *f = *state;
	evutil_socket_t sfd, cfd;
	struct lost lost = {0};
	const size_t big = 8 * 1024 * 1024;

	tcp_pair(&sfd, &cfd);
	int small = 4096;
	assert_int_equal(setsockopt(sfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	assert_int_equal(setsockopt(cfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	struct bufferevent *plain = tls_plain_socket(f->base, sfd);
	assert_non_null(plain);
	bufferevent_enable(plain, EV_READ | EV_WRITE);
	/* More than the socket buffers hold, so the output cannot drain. */
	char *data = xcalloc(big, 1);
	assert_int_equal(bufferevent_write(plain, data, big), 0);
	free(data);
	tls_starttls_when_flushed(plain, f->server_ctx, lost_cb, &lost);
	settle(f->base);
	assert_false(lost.called);
	/* RST instead of FIN. */
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	assert_int_equal(setsockopt(cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(cfd);
	RUN_UNTIL(f->base, lost.called);
	assert_non_null(strstr(lost.error, "before STARTTLS"));
	settle(f->base);
	/* plain was freed, and its fd closed. */
	assert_int_equal(fcntl(sfd, F_GETFD), -1);
}

/* A client that connects and never sends a ClientHello is ended by the
 * timeout the caller sets. */
static void
test_handshake_timeout(void **state)
{
	struct fixture *f = *state;
	struct peer server;
	evutil_socket_t sfd, cfd;
	const char *error = NULL;
	struct timeval tv = {0, 200 * 1000};

	peer_init(&server);
	tcp_pair(&sfd, &cfd);
	peer_attach(&server, tls_accept_socket(f->base, sfd, f->server_ctx, &error));
	bufferevent_set_timeouts(server.bev, &tv, &tv);
	RUN_UNTIL(f->base, server.timeout || server.error || server.eof);
	assert_true(server.timeout);
	assert_false(server.connected);
	peer_done(&server);
	close(cfd);
}

static void
test_plain_helpers(void **state)
{
	struct fixture *f = *state;
	evutil_socket_t sfd, cfd;
	char text[128];

	tcp_pair(&sfd, &cfd);
	struct bufferevent *bev = tls_plain_socket(f->base, sfd);
	assert_non_null(bev);
	assert_false(tls_is_tls(bev));
	assert_true(tls_output_drained(bev));
	assert_int_equal(tls_describe(bev, text, sizeof(text)), -1);
	assert_false(tls_peer_verified(bev, NULL));
	assert_int_equal(tls_error_text(bev, text, sizeof(text)), 0);
	assert_string_equal(text, "connection closed");
	/* Freeing the plain bufferevent closes its fd. */
	tls_free(&bev);
	assert_null(bev);
	settle(f->base);
	assert_int_equal(fcntl(sfd, F_GETFD), -1);
	close(cfd);
	tls_free(&bev); /* NULL is fine */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_selfsigned_generate_and_reuse, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_selfsigned_regenerates, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_selfsigned_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_ctx_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_ctx_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_versions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_weak_cipher_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_echo_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dirty_close_is_eof, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_verification, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_resumption, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reload_keeps_connections, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_starttls_injection, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_starttls_late_plaintext, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_starttls_already_flushed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_starttls_connection_lost, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_handshake_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_plain_helpers, setup, teardown),
	};

	/* A peer that vanishes must not kill the process (libevent writes
	 * with write(), not send(MSG_NOSIGNAL)). */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
