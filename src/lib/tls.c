/* tls.c - TLS contexts and TLS bufferevents: implicit TLS, STARTTLS on both
 * sides, description of the negotiated protocol, error text.
 *
 * The self-signed certificate lives in tls_cert.c; what both share is in
 * tls_private.h.
 */
#include "lib/common.h"

#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "lib/log.h"
#include "lib/tls.h"
#include "lib/tls_private.h"
#include "lib/xalloc.h"

/* Mozilla's "intermediate" configuration (version 5.7) for TLS 1.2: forward
 * secret AEAD suites only. TLS 1.3 keeps OpenSSL's default suites, which are
 * the same three that Mozilla lists. */
#define TLS12_CIPHERS                                                                              \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                               \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                               \
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
#define TLS_GROUPS "X25519:P-256:P-384"
/* Session lifetime, which is also the ticket lifetime hint. */
#define TLS_SESSION_TIMEOUT (60 * 60)
/* A certificate expiring sooner than this is worth a warning at load time. */
#define TLS_EXPIRY_WARN (14 * 24 * 60 * 60)

static const unsigned char session_id_context[] = "postern";

static _Thread_local char tls_errbuf[768];

const char *
tls_error_set(const char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(tls_errbuf, sizeof(tls_errbuf), fmt, ap) < 0)
		(void)str_copy(tls_errbuf, sizeof(tls_errbuf), "TLS error");
	va_end(ap);
	if (error_r != NULL)
		*error_r = tls_errbuf;
	return tls_errbuf;
}

void
tls_openssl_reason(char *out, size_t size)
{
	unsigned long e = ERR_peek_error();
	const char *reason;

	if (e == 0) {
		(void)snprintf(out, size, "unknown OpenSSL error");
	} else if (ERR_GET_LIB(e) == ERR_LIB_SYS) {
		(void)snprintf(out, size, "%s", strerror(ERR_GET_REASON(e)));
	} else if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
		(void)snprintf(out, size, "no PEM data found");
	} else if ((reason = ERR_reason_error_string(e)) != NULL) {
		(void)snprintf(out, size, "%s", reason);
	} else {
		ERR_error_string_n(e, out, size);
	}
	ERR_clear_error();
}

int
tls_no_password_cb(char *buf, int size, int rwflag, void *userdata)
{
	bool *asked = userdata;

	if (asked != NULL)
		*asked = true;
	return -1;
}

/* Options shared by server and client contexts. */
static int
ctx_common(SSL_CTX *ctx, const char **error_r)
{
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		tls_error_set(error_r, "cannot set the minimum TLS version");
		return -1;
	}
	/* No compression (CRIME), no renegotiation (a CPU cost the peer
	 * controls, and needless), and an EOF without close_notify is a plain
	 * EOF (see tls.h). */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
				     SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* Release the 34 kB of read/write buffers while a connection is idle;
	 * libevent retries writes from a buffer that may move. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
				  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_set1_groups_list(ctx, TLS_GROUPS) != 1) {
		tls_error_set(error_r, "cannot set the key exchange groups %s", TLS_GROUPS);
		ERR_clear_error();
		return -1;
	}
	return 0;
}

/* Open the file to turn a missing or unreadable one into an errno message
 * that names it, before OpenSSL reports it as "system library". */
static int
check_readable(const char *path, const char *what, const char **error_r)
{
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		tls_error_set(error_r, "%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	fclose(f);
	return 0;
}

static void
format_asn1_time(const ASN1_TIME *t, char *out, size_t size)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1 || strftime(out, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		(void)snprintf(out, size, "(unknown date)");
}

static void
warn_validity(SSL_CTX *ctx, const char *cert_file)
{
	X509 *leaf = SSL_CTX_get0_certificate(ctx);
	time_t soon = time(NULL) + TLS_EXPIRY_WARN;
	char when[64];

	if (leaf == NULL)
		return;
	if (X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0) {
		format_asn1_time(X509_get0_notBefore(leaf), when, sizeof(when));
		log_warning("certificate %s is not valid before %s", cert_file, when);
	}
	format_asn1_time(X509_get0_notAfter(leaf), when, sizeof(when));
	if (X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0)
		log_warning("certificate %s expired on %s", cert_file, when);
	else if (X509_cmp_time(X509_get0_notAfter(leaf), &soon) <= 0)
		log_warning("certificate %s expires on %s", cert_file, when);
}

SSL_CTX *
tls_server_ctx_new(const char *cert_file, const char *key_file, const char **error_r)
{
	char reason[256];
	bool asked = false;
	SSL_CTX *ctx;

	ERR_clear_error();
	if (check_readable(cert_file, "certificate", error_r) < 0 ||
	    check_readable(key_file, "private key", error_r) < 0)
		return NULL;
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		tls_openssl_reason(reason, sizeof(reason));
		tls_error_set(error_r, "cannot create a TLS context: %s", reason);
		return NULL;
	}
	if (ctx_common(ctx, error_r) < 0)
		goto fail;
	if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
		tls_error_set(error_r, "cannot set the TLS 1.2 cipher list");
		goto fail;
	}
	/* TLS 1.2: the server's order (strongest first), except that a client
	 * putting ChaCha20 first (no AES hardware) gets it. */
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA);
	/* For the DHE-RSA suites: RFC 7919 groups sized to the key. */
	SSL_CTX_set_dh_auto(ctx, 1);
	/* Stateless tickets only: a session cache in one worker is useless to
	 * the others, while tickets work in every worker forked after the
	 * context was made (they share its ticket keys). */
	SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL);
	SSL_CTX_set_timeout(ctx, TLS_SESSION_TIMEOUT);
	if (SSL_CTX_set_session_id_context(ctx, session_id_context,
					   sizeof(session_id_context) - 1) != 1) {
		tls_error_set(error_r, "cannot set the session id context");
		goto fail;
	}

	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		tls_openssl_reason(reason, sizeof(reason));
		tls_error_set(error_r, "certificate %s: cannot load the certificate chain: %s",
			      cert_file, reason);
		goto fail;
	}
	/* An encrypted key would make OpenSSL prompt on the terminal. */
	SSL_CTX_set_default_passwd_cb(ctx, tls_no_password_cb);
	SSL_CTX_set_default_passwd_cb_userdata(ctx, &asked);
	int ok = SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM);
	SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
	if (ok != 1) {
		unsigned long e = ERR_peek_error();

		tls_openssl_reason(reason, sizeof(reason));
		if (asked)
			tls_error_set(error_r,
				      "private key %s is encrypted with a passphrase; "
				      "postern needs it unencrypted (protect it with mode 0600)",
				      key_file);
		else if (ERR_GET_LIB(e) == ERR_LIB_X509 &&
			 ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH)
			tls_error_set(error_r,
				      "private key %s does not match the certificate in %s",
				      key_file, cert_file);
		else
			tls_error_set(error_r, "private key %s: cannot load: %s", key_file, reason);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		tls_error_set(error_r, "private key %s does not match the certificate in %s",
			      key_file, cert_file);
		goto fail;
	}
	warn_validity(ctx, cert_file);
	return ctx;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *
tls_client_ctx_new(bool verify, const char **error_r)
{
	char reason[256];
	SSL_CTX *ctx;

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		tls_openssl_reason(reason, sizeof(reason));
		tls_error_set(error_r, "cannot create a TLS context: %s", reason);
		return NULL;
	}
	if (ctx_common(ctx, error_r) < 0)
		goto fail;
	if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		tls_openssl_reason(reason, sizeof(reason));
		tls_error_set(error_r, "cannot load the system CA store: %s", reason);
		goto fail;
	}
	SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	return ctx;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

struct bufferevent *
tls_plain_socket(struct event_base *base, evutil_socket_t fd)
{
	struct bufferevent *bev =
	    bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);

	if (bev == NULL)
		evutil_closesocket(fd);
	return bev;
}

bool
tls_is_ip_literal(const char *s)
{
	unsigned char addr[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1;
}

/* Wrap ssl (owned) and fd (owned) into a bufferevent; on failure both are
 * released. */
static struct bufferevent *
bev_new(struct event_base *base, evutil_socket_t fd, SSL *ssl, enum bufferevent_ssl_state state,
	const char **error_r)
{
	struct bufferevent *bev;

	bev = bufferevent_openssl_socket_new(base, fd, ssl, state,
					     BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL) {
		SSL_free(ssl);
		evutil_closesocket(fd);
		ERR_clear_error();
		tls_error_set(error_r, "cannot create a TLS bufferevent");
		return NULL;
	}
	/* For OpenSSL before 3 (SSL_ERROR_SYSCALL on EOF); with 3 the
	 * SSL_OP_IGNORE_UNEXPECTED_EOF option does it. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

static SSL *
ssl_new(SSL_CTX *ctx, evutil_socket_t fd, const char **error_r)
{
	char reason[256];
	SSL *ssl = SSL_new(ctx);

	if (ssl == NULL) {
		tls_openssl_reason(reason, sizeof(reason));
		tls_error_set(error_r, "cannot create a TLS connection: %s", reason);
		evutil_closesocket(fd);
	}
	return ssl;
}

/* Client side: SNI and the name the certificate must carry. */
static int
ssl_set_peer_name(SSL *ssl, const char *servername, const char **error_r)
{
	char literal[INET6_ADDRSTRLEN];
	size_t len = servername != NULL ? strlen(servername) : 0;
	int ok;

	if (servername == NULL)
		return 0;
	/* An address literal ("[192.0.2.1]", "[IPv6:2001:db8::1]", RFC 5321
	 * 4.1.3) names its address. */
	if (len > 2 && servername[0] == '[' && servername[len - 1] == ']') {
		const char *a = servername + 1;
		len -= 2;
		if (len > 5 && strncasecmp(a, "IPv6:", 5) == 0) {
			a += 5;
			len -= 5;
		}
		if (len < sizeof(literal)) {
			memcpy(literal, a, len);
			literal[len] = '\0';
			if (tls_is_ip_literal(literal))
				servername = literal;
		}
	}
	if (tls_is_ip_literal(servername)) {
		/* RFC 6066: no IP addresses in SNI. */
		ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), servername);
	} else {
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		ok = SSL_set_tlsext_host_name(ssl, servername) == 1 &&
		     SSL_set1_host(ssl, servername) == 1;
	}
	if (ok != 1) {
		ERR_clear_error();
		tls_error_set(error_r, "invalid TLS server name '%s'", servername);
		return -1;
	}
	return 0;
}

struct bufferevent *
tls_accept_socket(struct event_base *base, evutil_socket_t fd, SSL_CTX *ctx, const char **error_r)
{
	SSL *ssl = ssl_new(ctx, fd, error_r);

	if (ssl == NULL)
		return NULL;
	return bev_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, error_r);
}

struct bufferevent *
tls_connect_socket(struct event_base *base, evutil_socket_t fd, SSL_CTX *ctx,
		   const char *servername, const char **error_r)
{
	SSL *ssl = ssl_new(ctx, fd, error_r);

	if (ssl == NULL)
		return NULL;
	if (ssl_set_peer_name(ssl, servername, error_r) < 0) {
		SSL_free(ssl);
		evutil_closesocket(fd);
		return NULL;
	}
	return bev_new(base, fd, ssl, BUFFEREVENT_SSL_CONNECTING, error_r);
}

/* Free plain without closing its fd, after dropping what it had read, and
 * return the fd. */
static evutil_socket_t
plain_release(struct bufferevent *plain, size_t *discarded_r)
{
	struct evbuffer *input = bufferevent_get_input(plain);
	size_t pending = evbuffer_get_length(input);
	evutil_socket_t fd = bufferevent_getfd(plain);

	if (tls_is_tls(plain))
		panic("STARTTLS on a connection that is already TLS");
	if (!tls_output_drained(plain))
		panic("STARTTLS before the reply was flushed (%zu bytes pending)",
		      evbuffer_get_length(bufferevent_get_output(plain)));
	if (fd < 0)
		panic("STARTTLS on a bufferevent without a socket");
	/* Plaintext sent after STARTTLS must never be read as if it had come
	 * through TLS. */
	if (evbuffer_drain(input, pending) < 0)
		panic("cannot drain %zu bytes", pending);
	if (discarded_r != NULL)
		*discarded_r = pending;
	bufferevent_setcb(plain, NULL, NULL, NULL, NULL);
	bufferevent_disable(plain, EV_READ | EV_WRITE);
	/* Detach the fd (this cannot fail for a socket bufferevent), so that
	 * freeing plain, now or when its last callback returns, leaves it open. */
	if (bufferevent_setfd(plain, -1) < 0)
		panic("bufferevent_setfd failed");
	bufferevent_free(plain);
	return fd;
}

struct bufferevent *
tls_starttls(struct bufferevent *plain, SSL_CTX *ctx, size_t *discarded_r, const char **error_r)
{
	struct event_base *base = bufferevent_get_base(plain);
	evutil_socket_t fd = plain_release(plain, discarded_r);

	return tls_accept_socket(base, fd, ctx, error_r);
}

struct bufferevent *
tls_starttls_client(struct bufferevent *plain, SSL_CTX *ctx, const char *servername,
		    size_t *discarded_r, const char **error_r)
{
	struct event_base *base = bufferevent_get_base(plain);
	evutil_socket_t fd = plain_release(plain, discarded_r);

	return tls_connect_socket(base, fd, ctx, servername, error_r);
}

/* errno values that plausibly describe why a connection failed; anything
 * else left in errno is stale and would mislead. */
static bool
socket_errno_meaningful(int err)
{
	switch (err) {
	case ECONNRESET:
	case ECONNREFUSED:
	case ECONNABORTED:
	case EPIPE:
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ENETDOWN:
		return true;
	default:
		return false;
	}
}

struct starttls_wait {
	SSL_CTX *ctx; /* our own reference: a reload may free the caller's */
	tls_starttls_cb *cb;
	void *arg;
};

static void
starttls_wait_free(struct starttls_wait *w)
{
	SSL_CTX_free(w->ctx);
	free(w);
}

static void
starttls_wait_write(struct bufferevent *plain, void *arg)
{
	struct starttls_wait *w = arg;
	struct bufferevent *bev;
	const char *error = NULL;
	size_t discarded = 0;

	if (!tls_output_drained(plain))
		return;
	bev = tls_starttls(plain, w->ctx, &discarded, &error);
	w->cb(bev, discarded, error, w->arg);
	starttls_wait_free(w);
}

static void
starttls_wait_event(struct bufferevent *plain, short what, void *arg)
{
	struct starttls_wait *w = arg;
	char error[256];

	if ((what & BEV_EVENT_TIMEOUT) != 0)
		(void)snprintf(error, sizeof(error), "timed out sending the STARTTLS reply");
	else if ((what & BEV_EVENT_EOF) != 0)
		(void)snprintf(error, sizeof(error), "connection closed before STARTTLS");
	else if (socket_errno_meaningful(EVUTIL_SOCKET_ERROR()))
		(void)snprintf(error, sizeof(error), "connection lost before STARTTLS: %s",
			       strerror(EVUTIL_SOCKET_ERROR()));
	else
		(void)snprintf(error, sizeof(error), "connection lost before STARTTLS");
	bufferevent_free(plain);
	w->cb(NULL, 0, error, w->arg);
	starttls_wait_free(w);
}

void
tls_starttls_when_flushed(struct bufferevent *plain, SSL_CTX *ctx, tls_starttls_cb *cb, void *arg)
{
	struct starttls_wait *w = xcalloc(1, sizeof(*w));

	if (SSL_CTX_up_ref(ctx) != 1)
		panic("SSL_CTX_up_ref failed");
	w->ctx = ctx;
	w->cb = cb;
	w->arg = arg;
	bufferevent_disable(plain, EV_READ);
	bufferevent_setwatermark(plain, EV_WRITE, 0, 0);
	bufferevent_setcb(plain, NULL, starttls_wait_write, starttls_wait_event, w);
	if (tls_output_drained(plain)) {
		/* Nothing left to flush, so no write will call us: run the
		 * write callback from the loop all the same. */
		bufferevent_trigger(plain, EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
	} else {
		bufferevent_enable(plain, EV_WRITE);
	}
}

bool
tls_is_tls(struct bufferevent *bev)
{
	return bufferevent_openssl_get_ssl(bev) != NULL;
}

int
tls_describe(struct bufferevent *bev, char *out, size_t size)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	const SSL_CIPHER *cipher;
	int bits, alg_bits = 0, n;

	if (size > 0)
		out[0] = '\0';
	if (ssl == NULL || !SSL_is_init_finished(ssl))
		return -1;
	cipher = SSL_get_current_cipher(ssl);
	if (cipher == NULL)
		return -1;
	bits = SSL_CIPHER_get_bits(cipher, &alg_bits);
	n = snprintf(out, size, "%s with cipher %s (%d/%d bits)", SSL_get_version(ssl),
		     SSL_CIPHER_get_name(cipher), bits, alg_bits);
	if (n < 0 || (size_t)n >= size) {
		if (size > 0)
			out[0] = '\0';
		return -1;
	}
	return 0;
}

bool
tls_peer_verified(struct bufferevent *bev, const char **reason_r)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	const char *reason;
	long result;

	if (ssl == NULL) {
		reason = "not a TLS connection";
	} else if (SSL_get0_peer_certificate(ssl) == NULL) {
		reason = "no peer certificate";
	} else if ((result = SSL_get_verify_result(ssl)) != X509_V_OK) {
		reason = X509_verify_cert_error_string(result);
	} else {
		if (reason_r != NULL)
			*reason_r = "verified";
		return true;
	}
	if (reason_r != NULL)
		*reason_r = reason;
	return false;
}

int
tls_error_text(struct bufferevent *bev, char *out, size_t size)
{
	unsigned long e;
	size_t used = 0;
	int count = 0;

	if (size == 0)
		return 0;
	out[0] = '\0';
	while ((e = bufferevent_get_openssl_error(bev)) != 0) {
		char one[256];
		int n;

		ERR_error_string_n(e, one, sizeof(one));
		n = snprintf(out + used, size - used, "%s%s", count > 0 ? "; " : "", one);
		count++;
		/* Keep the errors that fit whole: the first are the telling ones. */
		if (n < 0 || (size_t)n >= size - used)
			out[used] = '\0';
		else
			used += (size_t)n;
	}
	if (count == 0) {
		int err = EVUTIL_SOCKET_ERROR();

		(void)snprintf(out, size, "%s",
			       socket_errno_meaningful(err) ? strerror(err) : "connection closed");
	}
	return count;
}

void
tls_free(struct bufferevent **bevp)
{
	struct bufferevent *bev = *bevp;
	SSL *ssl;

	if (bev == NULL)
		return;
	*bevp = NULL;
	ssl = bufferevent_openssl_get_ssl(bev);
	if (ssl != NULL && SSL_is_init_finished(ssl) && tls_output_drained(bev) &&
	    (SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN) == 0) {
		/* One non-blocking attempt; the peer's reply is not awaited. */
		(void)SSL_shutdown(ssl);
		ERR_clear_error();
	}
	bufferevent_free(bev);
}
