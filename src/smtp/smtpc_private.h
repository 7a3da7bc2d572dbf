/* smtpc_private.h - what the SMTP client's files share: the session struct,
 * its states, the queue of replies it waits for, and the helpers the
 * transaction code (smtpc_txn.c) uses from the connection code (smtpc.c). */
#ifndef POSTERN_SMTPC_PRIVATE_H
#define POSTERN_SMTPC_PRIVATE_H

#include "lib/common.h"

#include <event2/bufferevent.h>

#include "smtp/smtp_reply.h"
#include "smtp/smtpc.h"

/* Reply parser bounds (smtpc.h). */
#define SMTPC_REPLY_LINE_MAX 2048
#define SMTPC_REPLY_LINES_MAX 100
#define SMTPC_REPLY_TEXT_MAX (64 * 1024)

/* Content streaming: read this much at a time, keep the output buffer
 * between the low and the high mark, send BINARYMIME in BDAT chunks of
 * this size. */
#define SMTPC_READ_CHUNK (64 * 1024)
#define SMTPC_OUT_LOW (64 * 1024)
#define SMTPC_OUT_HIGH (256 * 1024)
#define SMTPC_BDAT_CHUNK (1024 * 1024)

enum smtpc_state {
	SMTPC_S_CONNECT,   /* TCP connect in progress */
	SMTPC_S_GREETING,  /* waiting for the 220 */
	SMTPC_S_EHLO,      /* EHLO or HELO sent */
	SMTPC_S_STARTTLS,  /* STARTTLS sent */
	SMTPC_S_HANDSHAKE, /* TLS handshake in progress */
	SMTPC_S_AUTH,      /* AUTH exchange */
	SMTPC_S_READY,     /* idle, or a transaction's result not yet delivered */
	SMTPC_S_TXN,       /* a transaction is in progress */
	SMTPC_S_QUIT,      /* QUIT sent; c frees itself */
	SMTPC_S_DEAD,      /* connection gone; only smtpc_free is left */
};

/* What each awaited reply answers. */
enum smtpc_cmd {
	SMTPC_CMD_GREETING,
	SMTPC_CMD_EHLO,
	SMTPC_CMD_HELO,
	SMTPC_CMD_STARTTLS,
	SMTPC_CMD_AUTH,
	SMTPC_CMD_AUTH_USER, /* LOGIN: the user name sent */
	SMTPC_CMD_AUTH_PASS, /* LOGIN: the password sent */
	SMTPC_CMD_RSET,
	SMTPC_CMD_MAIL,
	SMTPC_CMD_RCPT,
	SMTPC_CMD_DATA,
	SMTPC_CMD_BDAT,
	SMTPC_CMD_DOT,
	SMTPC_CMD_QUIT,
};

struct smtpc_pending {
	enum smtpc_cmd cmd;
	size_t rcpt; /* RCPT: the recipient's index */
	bool last;   /* BDAT: the LAST chunk */
};

enum smtpc_notify {
	SMTPC_NOTIFY_NONE,
	SMTPC_NOTIFY_READY,
	SMTPC_NOTIFY_DONE,
};

/* Per recipient, during a transaction. */
enum smtpc_rcpt_state {
	SMTPC_RCPT_WAIT,     /* RCPT reply not yet in */
	SMTPC_RCPT_ACCEPTED, /* RCPT accepted, waiting for the end of data */
	SMTPC_RCPT_FINAL,    /* reply known */
};

/* The next transaction command to send. */
enum smtpc_step {
	SMTPC_STEP_RSET,
	SMTPC_STEP_MAIL,
	SMTPC_STEP_RCPT,
	SMTPC_STEP_DATA,
	SMTPC_STEP_SENT, /* all commands are out */
};

struct smtpc_txn {
	const struct smtpc_msg *msg; /* NULL: no transaction */
	smtpc_done_cb *cb;
	void *arg;
	struct smtpc_reply *replies;
	unsigned char *rstate; /* enum smtpc_rcpt_state per recipient */
	enum smtpc_step step;
	size_t next;	       /* STEP_RCPT: the recipient */
	size_t accepted;       /* recipients with RCPT accepted */
	bool mail_failed;      /* MAIL refused: its reply went to everyone */
	bool failed;	       /* the peer's transaction state is unknown: RSET next */
	bool broken;	       /* the connection cannot carry another transaction */
	bool bdat;	       /* content by BDAT (BINARYMIME) */
	bool aborted;	       /* DATA got 354 with no recipient: "." sent at once */
	/* content */
	bool sending;	     /* streaming the content */
	uint64_t sent;	     /* content bytes queued so far */
	uint64_t chunk_left; /* BDAT: bytes of the current chunk still to queue */
	struct smtpc_stuffer st;
	struct buf stuffed;
	char *chunk; /* SMTPC_READ_CHUNK bytes read from fd */
};

struct smtpc {
	struct event_base *base;
	const struct smtpc_config *cfg;
	char *host;
	bool loopback;
	evutil_socket_t fd; /* while connecting; then owned by bev */
	struct bufferevent *bev;
	enum smtpc_state state;
	struct smtpc_peer peer;
	struct smtp_reply_parser parser;
	struct buf out;	       /* commands being built */
	struct event *timer;   /* connect, reply and handshake time-outs */
	struct event *conn_ev; /* connect completion */
	struct event *notify_ev;
	enum smtpc_notify notify;
	smtpc_ready_cb *ready_cb;
	void *ready_arg;
	bool failed; /* ready_cb gets error */
	struct smtpc_error error;
	struct smtpc_pending *pend; /* replies awaited, in order */
	size_t pend_head, pend_count, pend_cap;
	bool tls_tried; /* STARTTLS sent once already */
	bool need_rset; /* the last transaction failed: RSET before the next */
	struct smtpc_txn txn;
};

#define smtpc_log(c, level, ...) log_sid((level), (c)->peer.name, __VA_ARGS__)

/* ---- smtpc.c, for smtpc_txn.c ---- */

void smtpc_set_state(struct smtpc *c, enum smtpc_state state);
/* RFC 5321 time-out of a step, scaled; in seconds of the unscaled value. */
struct timeval smtpc_timeout(const struct smtpc *c, unsigned seconds);
/* Await one more reply. */
void smtpc_push(struct smtpc *c, enum smtpc_cmd cmd, size_t rcpt, bool last);
/* Close the connection (no callback): state DEAD. */
void smtpc_close(struct smtpc *c);
/* Write what c->out holds and empty it. */
void smtpc_flush(struct smtpc *c);
/* Append a command line to c->out. */
void smtpc_cmd(struct smtpc *c, const char *fmt, ...) ATTR_PRINTF(2, 3);
/* Fill r from a parsed reply. */
void smtpc_reply_from(struct smtpc_reply *r, const struct smtp_reply *in, const char *stage);
/* Fill r with a generated reply. */
void smtpc_reply_gen(struct smtpc_reply *r, unsigned code, const char *enhanced,
		     const char *stage, const char *fmt, ...) ATTR_PRINTF(5, 6);
/* The stage name of a command, and its reply time-out (unscaled seconds). */
const char *smtpc_cmd_stage(enum smtpc_cmd cmd);
unsigned smtpc_cmd_timeout(enum smtpc_cmd cmd);
/* Callbacks and time-outs on a new c->bev (connect, STARTTLS). */
void smtpc_setup_bev(struct smtpc *c);
/* The session failed before it was ready (c->error.reply is filled):
 * close, and ready_cb with the error. */
void smtpc_setup_failed(struct smtpc *c, enum smtpc_error_kind kind);
/* Deliver the pending callback from the event loop. */
void smtpc_notify(struct smtpc *c, enum smtpc_notify what);
/* The connection broke: close it, fail what was in progress. */
void smtpc_broken(struct smtpc *c, const char *fmt, ...) ATTR_PRINTF(2, 3);

/* ---- smtpc_setup.c ---- */

/* A reply to a setup command (greeting to AUTH). */
void smtpc_setup_reply(struct smtpc *c, const struct smtpc_pending *p, const struct smtp_reply *r);
/* The TLS handshake is done. */
void smtpc_tls_done(struct smtpc *c);
/* Fail the setup with a generated 451 4.7.0 text. */
void smtpc_setup_error(struct smtpc *c, enum smtpc_error_kind kind, const char *stage,
		       const char *text);

/* ---- smtpc_txn.c ---- */

/* A reply to a transaction command. */
void smtpc_txn_reply(struct smtpc *c, const struct smtpc_pending *p, const struct smtp_reply *r);
/* Fill the output buffer with more content (write callback). */
void smtpc_txn_pump(struct smtpc *c);
/* The connection broke during the transaction: every open recipient gets
 * a generated 4xx with text (stage of the step that was under way). */
void smtpc_txn_lost(struct smtpc *c, const char *stage, const char *text);
/* Hand the transaction's result over to done_cb (from notify). */
void smtpc_txn_deliver(struct smtpc *c);
/* Free the transaction's memory. */
void smtpc_txn_clear(struct smtpc_txn *t);

#endif
