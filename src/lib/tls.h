/* tls.h - TLS for every postern connection: OpenSSL 3 contexts, libevent
 * bufferevents for implicit TLS and STARTTLS, and the self-signed fallback
 * certificate.
 *
 * Contexts. tls_server_ctx_new() and tls_client_ctx_new() return an SSL_CTX
 * with one reference, owned by the caller (free with SSL_CTX_free). Every SSL
 * made from it takes a reference of its own, so a context may be freed while
 * connections still use it: it is destroyed when the last of them closes.
 * That is how reload works (docs/tls.md): on SIGHUP build a new context with
 * tls_server_ctx_new(); if that fails keep the old one and log the error;
 * otherwise SSL_CTX_free(old) and use the new one for new connections. This
 * module keeps no global state besides the text of the last error.
 *
 * Bufferevents. Every bufferevent made here is created with
 * BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS: callbacks run from the
 * event loop, never from inside bufferevent_write() or bufferevent_free(),
 * and bufferevent_free() closes the socket (and frees the SSL). Functions
 * that take an fd take ownership of it, also when they fail (it is closed).
 * A TLS bufferevent reports a peer that closes the TCP connection without
 * close_notify as BEV_EVENT_EOF, not as an error: mail protocols delimit
 * their own data, so a truncation is always seen by the protocol layer.
 *
 * Errors. Functions with a `const char **error_r` set it on failure to a
 * message that stays valid until the next call to a tls_* function in the
 * same thread.
 */
#ifndef POSTERN_TLS_H
#define POSTERN_TLS_H

#include "lib/common.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>

/* Paths under the data directory for the generated certificate. */
#define TLS_SELFSIGNED_DIR "tls"
#define TLS_SELFSIGNED_CERT "selfsigned.crt"
#define TLS_SELFSIGNED_KEY "selfsigned.key"
/* Lifetime of a generated certificate (days), and how long before its end a
 * reused one is replaced anyway (seconds). */
#define TLS_SELFSIGNED_DAYS 825
#define TLS_SELFSIGNED_RENEW_MARGIN (24 * 60 * 60)

/* A server context: TLS 1.2 minimum, Mozilla "intermediate" ciphers for TLS
 * 1.2, OpenSSL's default TLS 1.3 suites, groups X25519:P-256:P-384, no
 * compression, no renegotiation, stateless session tickets, released idle
 * buffers. cert_file holds the certificate followed by its chain (PEM); key_file
 * the matching private key (PEM, unencrypted). Returns NULL with *error_r
 * naming the file and the problem (missing, unreadable, not PEM, key does not
 * match). Logs a warning when the certificate has expired or expires within
 * 14 days, but still returns the context. */
SSL_CTX *tls_server_ctx_new(const char *cert_file, const char *key_file, const char **error_r);

/* A client context for outgoing SMTP: TLS 1.2 minimum, the system CA store.
 * verify=true makes a failed certificate or name check abort the handshake;
 * verify=false (opportunistic STARTTLS, RFC 7435) lets it go on, and
 * tls_peer_verified() still tells whether it would have passed. */
SSL_CTX *tls_client_ctx_new(bool verify, const char **error_r);

/* Make sure DATA_DIR/tls/selfsigned.{crt,key} exist and are usable for
 * hostname, generating them when needed: an ECDSA P-256 key and a
 * self-signed X.509v3 certificate (CN and subjectAltName hostname, plus
 * localhost, 127.0.0.1 and ::1; CA:FALSE; digitalSignature; serverAuth;
 * random serial; valid from one hour ago for TLS_SELFSIGNED_DAYS). Existing
 * files are reused unless unreadable, not a matching pair, not valid for
 * hostname, or expired (or expiring within TLS_SELFSIGNED_RENEW_MARGIN); a
 * replacement is logged with its reason. Files are written crash-safely
 * (temporary file, fsync, rename, fsync of the directory); the key has mode
 * 0600 and the directory 0700. data_dir must exist. hostname must be a DNS
 * name or an IP address literal.
 * Returns 1 when generated, 0 when reused, -1 on error. On success *cert_r and
 * *key_r are the two paths, allocated (caller frees). */
int tls_selfsigned_ensure(const char *data_dir, const char *hostname, char **cert_r, char **key_r,
			  const char **error_r);

/* A plaintext bufferevent for an accepted socket, such that tls_starttls()
 * can later move the same fd to TLS. Freeing it closes fd. Returns NULL (fd
 * closed) only when libevent cannot allocate. */
struct bufferevent *tls_plain_socket(struct event_base *base, evutil_socket_t fd);

/* Implicit TLS, server side: a bufferevent that performs the handshake on fd
 * (accepted, non-blocking) and then carries the protocol. The handshake ends
 * with BEV_EVENT_CONNECTED on success or BEV_EVENT_ERROR (see
 * tls_error_text). Freeing it closes fd and frees the SSL. Returns NULL (fd
 * closed) when the SSL or bufferevent cannot be created, with *error_r. */
struct bufferevent *tls_accept_socket(struct event_base *base, evutil_socket_t fd, SSL_CTX *ctx,
				      const char **error_r);

/* Client side on a connected (or non-blocking connecting) socket. servername
 * is sent as SNI (unless it is an IP literal) and is the name the certificate
 * is checked against; NULL sends no SNI and checks no name. Ownership as in
 * tls_accept_socket. */
struct bufferevent *tls_connect_socket(struct event_base *base, evutil_socket_t fd, SSL_CTX *ctx,
				       const char *servername, const char **error_r);

/* True when the output buffer of bev is empty, i.e. everything written has
 * been handed to the kernel (plaintext bufferevent) or to SSL_write. */
static inline bool
tls_output_drained(struct bufferevent *bev)
{
	return evbuffer_get_length(bufferevent_get_output(bev)) == 0;
}

/* Switch plain (made by tls_plain_socket) to TLS, server side.
 * Precondition: the "ready to start TLS" reply has been flushed, i.e.
 * tls_output_drained(plain); calling it otherwise is a bug (panic). Any
 * plaintext already read into plain's input (commands pipelined behind
 * STARTTLS: the STARTTLS command injection attack, CVE-2011-0411) is
 * discarded and its length stored in *discarded_r (may be NULL). Plaintext
 * still in the kernel is read as TLS records and fails the handshake. The
 * caller must also drop whatever its own line reader holds. plain is freed
 * without closing the fd, its callbacks and timeouts are gone: set them again
 * on the returned bufferevent (which starts the handshake as
 * tls_accept_socket does). On failure plain is freed, the fd closed, NULL
 * returned with *error_r: the session must end, since the client is already
 * speaking TLS. */
struct bufferevent *tls_starttls(struct bufferevent *plain, SSL_CTX *ctx, size_t *discarded_r,
				 const char **error_r);
/* The same, client side, after the server's "220 ready" has been read. */
struct bufferevent *tls_starttls_client(struct bufferevent *plain, SSL_CTX *ctx,
					const char *servername, size_t *discarded_r,
					const char **error_r);

/* Called by tls_starttls_when_flushed: bev is the TLS bufferevent (callbacks
 * and timeouts unset) or NULL when the connection was lost, timed out before
 * the reply was flushed, or the switch failed; error then says why. */
typedef void tls_starttls_cb(struct bufferevent *bev, size_t discarded, const char *error,
			     void *arg);

/* The usual way to do STARTTLS on the server: after writing the "ready"
 * reply to plain, call this and return. It stops reading from plain at once
 * (so no pipelined command is processed), waits until the reply is flushed,
 * switches with tls_starttls() and calls cb(bev, ...) from the event loop,
 * always later, never from inside this call. plain belongs to this function
 * from now on: its callbacks are replaced, a write timeout set on it still
 * bounds the flush, and it is freed (fd closed) when the connection is lost
 * first. It holds its own reference to ctx while it waits, so a reload may
 * free the caller's. */
void tls_starttls_when_flushed(struct bufferevent *plain, SSL_CTX *ctx, tls_starttls_cb *cb,
			       void *arg);

/* True when bev is a TLS bufferevent (whether or not the handshake is done). */
bool tls_is_tls(struct bufferevent *bev);

/* Describe the negotiated protocol for logs and Received headers:
 * "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)". Returns 0, or
 * -1 when bev is not TLS, the handshake is not finished, or size is too
 * small (out is then ""). */
int tls_describe(struct bufferevent *bev, char *out, size_t size);

/* For a client connection: true when the peer's certificate chain verified
 * against the CA store and matched servername. *reason_r (may be NULL) gets
 * "verified" or OpenSSL's reason ("self-signed certificate", ...). */
bool tls_peer_verified(struct bufferevent *bev, const char **reason_r);

/* The TLS errors libevent recorded on bev (it keeps the first few), written
 * as "error:0A00010B:SSL routines::wrong version number; ..." into out. When
 * none are recorded, the current errno text or "connection closed". Pops the
 * errors, so call it once per event. Returns the number of TLS errors. */
int tls_error_text(struct bufferevent *bev, char *out, size_t size);

/* Send close_notify when bev is TLS with a finished handshake and nothing
 * left to write, then free it (closing the fd). *bev becomes NULL. */
void tls_free(struct bufferevent **bev);

#endif
