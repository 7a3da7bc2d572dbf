/* smtpc.h - the SMTP client: one connection to one next-hop address, over
 * which the queue runner sends one or more transactions (RFC 5321, 3207,
 * 2920, 1870, 6152, 6531, 3461, 4954).
 *
 * Life of a connection:
 *
 *   smtpc_connect -> TCP connect (cfg->connect_timeout)
 *     -> 220 greeting -> EHLO (HELO when EHLO is refused with 5xx)
 *     -> STARTTLS when offered and cfg->tls allows (then EHLO again)
 *     -> AUTH when cfg has credentials (PLAIN, else LOGIN; only over TLS or
 *        to a loopback address)
 *     -> ready_cb(c, NULL)                  ... or ready_cb(c, &error)
 *   smtpc_send(msg) -> MAIL, RCPT..., DATA/BDAT, content, end
 *     -> done_cb(c, result)                 (any number of times, one at a time)
 *   smtpc_quit / smtpc_free
 *
 * Callbacks always come from the event loop, never from inside the call
 * that started the step. After ready_cb with an error, or a done_cb whose
 * result says the connection is unusable, the only call left is
 * smtpc_free() (done_cb may call it itself; so may ready_cb).
 *
 * The client:
 * - PIPELINING (RFC 2920) when offered: MAIL, every RCPT and DATA in one
 *   write, replies read in order; else one command at a time.
 * - SIZE (RFC 1870): SIZE=n on MAIL when offered; a message larger than the
 *   peer's announced limit is not sent: every recipient gets a generated
 *   552 5.3.4 "message size exceeds fixed limit of peer".
 * - 8BITMIME / BINARYMIME (RFC 6152, 3030): BODY= passed on when the peer
 *   offers it. msg->body 8BITMIME or BINARYMIME to a peer without it is the
 *   caller's to convert (smtpc_peer() tells); smtpc refuses it with a
 *   generated 554 5.6.3 rather than send 8-bit data unannounced.
 *   BINARYMIME is sent with BDAT (requires CHUNKING); else with DATA.
 * - SMTPUTF8 (RFC 6531): passed on when offered; a message that requires
 *   it, sent to a peer without it, fails with a generated 553 5.6.7.
 * - DSN (RFC 3461): RET, ENVID, NOTIFY and ORCPT passed on when offered.
 * - DATA content is dot-stuffed, ends with CRLF "." CRLF, and every line
 *   break is sent as CRLF: a bare CR or LF in the content is sent as CRLF,
 *   so the client never emits a bare CR or LF (smuggling, RFC 5321 2.3.8).
 * - STARTTLS: a peer that sends anything after its 220 reply to STARTTLS
 *   before the handshake (response injection) is dropped: ready_cb gets
 *   SMTPC_ERR_TLS. With DELIVERY_TLS_MAY a failed handshake is reported as
 *   SMTPC_ERR_TLS too; the caller may retry the address without TLS.
 * - Time-outs (RFC 5321 4.5.3.2): greeting 5 min, EHLO/HELO/STARTTLS/AUTH
 *   5 min, MAIL 5 min, RCPT 5 min, DATA 2 min, each block of content 3
 *   min, the final "." 10 min; cfg->timeout_scale (tests) divides them all.
 * - Replies are parsed by smtp_reply_parse (bounded: 2048-byte lines, 100
 *   lines, 64 KiB); a malformed reply drops the connection.
 *
 * Per-recipient results. Each recipient of a transaction ends with one
 * reply: its RCPT refusal (4xx/5xx), or, when RCPT was accepted, the reply
 * to the end of data (one for all); a connection lost or timed out before
 * that reply gives a generated 4xx ("lost connection with HOST while
 * sending RCPT TO") with generated = true. A 4xx/5xx to MAIL applies to
 * every recipient.
 */
#ifndef POSTERN_SMTPC_H
#define POSTERN_SMTPC_H

#include "lib/common.h"

#include <event2/event.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include "lib/buf.h"
#include "lib/config.h"
#include "queue/queue_file.h"

struct smtpc;

struct smtpc_config {
	const char *helo_name;	/* our name in EHLO/HELO */
	enum delivery_tls tls;	/* STARTTLS policy */
	SSL_CTX *tls_ctx;	/* client context (tls_client_ctx_new); NULL = no TLS */
	const char *auth_user;	/* AUTH credentials (relay host); NULL = no AUTH */
	const char *auth_password;
	unsigned connect_timeout; /* seconds */
	unsigned timeout_scale;	  /* divide the RFC time-outs by this (0 or 1 = as is) */
};

/* What the peer announced in its (last) EHLO reply. */
#define SMTPC_EXT_PIPELINING 0x001u
#define SMTPC_EXT_SIZE 0x002u
#define SMTPC_EXT_8BITMIME 0x004u
#define SMTPC_EXT_BINARYMIME 0x008u
#define SMTPC_EXT_CHUNKING 0x010u
#define SMTPC_EXT_SMTPUTF8 0x020u
#define SMTPC_EXT_DSN 0x040u
#define SMTPC_EXT_STARTTLS 0x080u
#define SMTPC_EXT_AUTH 0x100u
#define SMTPC_EXT_ENHANCEDSTATUSCODES 0x200u

/* SASL mechanisms of the AUTH keyword that the client can use. */
#define SMTPC_AUTH_PLAIN 0x1u
#define SMTPC_AUTH_LOGIN 0x2u

struct smtpc_peer {
	char name[300];	     /* "mx.example.net[192.0.2.7]" (":port" added when not 25),
				for logs and the queue's remote */
	unsigned ext;	     /* SMTPC_EXT_* */
	uint64_t size_max;   /* SIZE value; 0 = none announced */
	unsigned auth;	     /* SMTPC_AUTH_* offered */
	bool esmtp;	     /* EHLO worked (else HELO) */
	bool tls;	     /* the channel is encrypted */
	bool tls_verified;   /* the certificate verified for the host name */
	char tls_desc[128];  /* tls_describe(), "" without TLS */
};

/* A reply, as received or generated. */
struct smtpc_reply {
	unsigned code;	   /* 200-599 */
	char enhanced[10]; /* "5.1.1" or "" */
	char text[512];	   /* the reply's text lines joined by spaces, cleaned
			      (queue_text_clean), cut to fit */
	bool generated;	   /* made by the client (connection lost, SIZE, ...) */
	const char *stage; /* "MAIL FROM", "RCPT TO", "DATA", "BDAT", "end of data",
			      "RSET", "connect", "greeting", "EHLO", "HELO",
			      "STARTTLS", "AUTH" (static) */
};

enum smtpc_error_kind {
	SMTPC_ERR_CONNECT,  /* TCP connect failed or timed out */
	SMTPC_ERR_PROTOCOL, /* lost connection, time-out, bad reply during the setup */
	SMTPC_ERR_REPLY,    /* the peer refused us: greeting, EHLO/HELO or AUTH reply */
	SMTPC_ERR_TLS,	    /* STARTTLS failed or was required and not offered */
};

struct smtpc_error {
	enum smtpc_error_kind kind;
	struct smtpc_reply reply; /* the peer's reply (REPLY) or a generated 4xx */
};

/* Called once, when the session is ready for smtpc_send() (error NULL), or
 * has failed (then only smtpc_free is allowed). */
typedef void smtpc_ready_cb(struct smtpc *c, const struct smtpc_error *error, void *arg);

/* Connect to sa (address and port set) for host (the MX name: SNI, the
 * certificate check, logs). cfg and its strings must outlive c. */
struct smtpc *smtpc_connect(struct event_base *base, const struct smtpc_config *cfg,
			    const struct sockaddr *sa, socklen_t salen, const char *host,
			    smtpc_ready_cb *cb, void *arg);

/* After a successful ready_cb. */
const struct smtpc_peer *smtpc_peer(const struct smtpc *c);

struct smtpc_rcpt {
	const char *addr;
	const char *orcpt; /* "rfc822;xtext" or NULL */
	unsigned notify;   /* QUEUE_NOTIFY_* mask, 0 = none */
};

/* One transaction. Everything must stay valid until done_cb. */
struct smtpc_msg {
	const char *sender; /* "" for <> */
	enum queue_body body;
	bool smtputf8;
	enum queue_ret ret;
	const char *envid; /* xtext or NULL */
	const struct smtpc_rcpt *rcpts;
	size_t nrcpts;
	/* The content: size bytes, CRLF line ends, not dot-stuffed; from
	 * memory when data is not NULL, else read with pread() from fd at
	 * offset (the queue file: queue_msg_fd/queue_msg_content_offset). */
	const char *data;
	int fd;
	uint64_t offset;
	uint64_t size;
};

struct smtpc_result {
	const struct smtpc_reply *replies; /* one per recipient, in msg order */
	size_t nreplies;
	bool usable; /* the connection may carry another transaction */
};

typedef void smtpc_done_cb(struct smtpc *c, const struct smtpc_result *result, void *arg);

/* Send one transaction; only when ready and no other is in progress.
 * result (and its replies) are valid during the callback only. */
void smtpc_send(struct smtpc *c, const struct smtpc_msg *msg, smtpc_done_cb *cb, void *arg);

/* Send QUIT, wait briefly for its reply, then close and free c; no further
 * callback. */
void smtpc_quit(struct smtpc *c);
/* Close at once and free (no QUIT); no further callback. NULL-safe. */
void smtpc_free(struct smtpc *c);

/* ---- pure parts, for tests and fuzzing ---- */

/* Parse the EHLO reply's text lines, joined by '\n' as smtp_reply_parse
 * gives them (the first line is the greeting; each further line "KEYWORD
 * params", keywords in any case) into peer->ext, peer->size_max and
 * peer->auth, which are reset first. */
void smtpc_parse_ehlo(const char *text, size_t len, struct smtpc_peer *peer);

/* Dot-stuffing with line-end repair, incremental: feed content in chunks of
 * any size, then finish. Output: every line break as CRLF (bare CR and bare
 * LF become CRLF; CR LF stays one break), a '.' starting a line doubled,
 * and finish adds CRLF if the content did not end with a line break, then
 * ".\r\n". */
struct smtpc_stuffer {
	bool line_start; /* the next byte starts a line */
	bool cr;	 /* the last byte was a CR */
};
void smtpc_stuff_init(struct smtpc_stuffer *st);
/* Appends to out; returns -1 when out's cap is reached (out then holds a
 * prefix and the stuffer is unusable). */
int smtpc_stuff(struct smtpc_stuffer *st, const char *data, size_t len, struct buf *out);
int smtpc_stuff_finish(struct smtpc_stuffer *st, struct buf *out);

#endif
