/* smtpd.h - the SMTP server session (RFC 5321) on the smtp (25), submission
 * (587) and smtps (465) services.
 *
 * One struct smtpd per connection, one enum of states and smtpd_set_state()
 * the only place that changes it. Commands are parsed by smtp_cmd.h, content
 * read by smtp_data.h; this layer holds policy and state:
 *
 *   HELO -(HELO/EHLO)-> READY -(MAIL)-> MAIL -(RCPT)-> RCPT -(DATA)-> DATA
 *                         ^                               |-(BDAT)-> BDAT <-> BDAT_WAIT
 *                         +--- delivered / RSET ----------+
 *   READY -(AUTH)-> AUTH -(response)-> AUTH_CHECK -> READY
 *   any -(QUIT, too many errors, time-out, shutdown)-> QUIT
 *
 * Roles. On smtp (port 25) mail for local domains is accepted from anyone
 * and relaying needs authentication; on submission and smtps every
 * transaction needs authentication. AUTH is offered only on an encrypted
 * channel, or from loopback when auth.plaintext_loopback allows it. An
 * authenticated sender may use as envelope sender and in From: only its own
 * address or an alias that resolves to it.
 *
 * Durability. The final reply to DATA or BDAT LAST is 250 only when every
 * local copy is on stable storage (store_deliver) and every copy for another
 * domain is committed to the queue (queue_writer_commit). docs/queue.md has
 * the state tables.
 */
#ifndef POSTERN_SMTPD_H
#define POSTERN_SMTPD_H

#include "lib/common.h"

#include "lib/buf.h"
#include "lib/linereader.h"
#include "server/conn.h"
#include "smtp/smtp_cmd.h"
#include "smtp/smtp_data.h"
#include "smtp/smtp_reply.h"

struct auth_request;
struct delivery;
struct queue_writer;
struct sasl_exchange;
struct store_spool;
struct submit_call;

enum smtpd_state {
	SMTPD_HELO,       /* greeting sent: HELO or EHLO first */
	SMTPD_READY,      /* no transaction */
	SMTPD_MAIL,       /* MAIL accepted, no recipient yet */
	SMTPD_RCPT,       /* at least one recipient */
	SMTPD_DATA,       /* reading DATA content */
	SMTPD_BDAT,       /* reading the bytes of a BDAT chunk */
	SMTPD_BDAT_WAIT,  /* between BDAT chunks */
	SMTPD_AUTH,       /* SASL exchange: the next line is a response */
	SMTPD_AUTH_CHECK, /* waiting for the password check */
	SMTPD_DELIVERING, /* content complete, delivery running */
	SMTPD_ETRN_WAIT,  /* ETRN: waiting for the queue runner's answer */
	SMTPD_QUIT,       /* closing: nothing more is read */
};

/* A recipient as the client gave it, and where it leads. */
struct smtpd_rcpt {
	char *address;   /* as given in RCPT TO (formatted) */
	char *orcpt;     /* ORCPT as "addr-type;xtext": given, or the address itself */
	unsigned notify; /* SMTP_NOTIFY_* */
	size_t first_local, nlocal;   /* its share of smtpd->local */
	size_t first_remote, nremote; /* its share of smtpd->remote */
};

/* A local mailbox the message goes to. */
struct smtpd_local {
	char *address; /* canonical */
	char *folder;  /* from the +tag, or NULL */
	uint64_t quota;
	size_t rcpt;   /* index in rcpts */
};

/* An address in another domain the message is queued for. */
struct smtpd_remote {
	char *address;
	size_t rcpt;
};

struct smtpd {
	struct conn *conn;
	enum smtpd_state state;
	struct line_reader lr;
	struct buf out; /* replies being built */

	bool esmtp;
	char *helo;
	unsigned extensions;   /* SMTP_EXT_* advertised */
	bool submission;       /* submission or smtps: AUTH required */
	char *auth_user;       /* canonical address after AUTH */
	struct sasl_exchange *sasl;
	struct auth_request *auth_req;
	char auth_mech[SMTP_SASL_MECH_MAX + 1];
	unsigned errors;
	bool shutting_down;
	struct submit_call *etrn; /* ETRN in flight */
	char *etrn_node;          /* and its node */

	/* the transaction */
	char *sender;          /* "" for <> */
	struct smtp_params mail;
	struct smtpd_rcpt *rcpts;
	size_t nrcpts;
	struct smtpd_local *local;
	size_t nlocal;
	struct smtpd_remote *remote;
	size_t nremote;
	struct smtp_data_reader data;
	bool data_started;
	struct store_spool *spool;
	struct queue_writer *qw;
	struct delivery *delivery; /* in flight (smtpd_deliver.h) */
	bool sink_failed;
	int sink_errno;
	char msgid[40];        /* "queued as" id */
	bool from_ok;          /* From: passed the submission check */
	unsigned hops;         /* Received: fields with ours */
	uint64_t bdat_left;
	bool bdat_last;
	enum smtpd_state bdat_orphan; /* BDAT outside a transaction: state to return to
				       * (SMTPD_BDAT when there is none) */
	bool bdat_failed;      /* the chunks are read but the message is refused */
	unsigned bdat_code;    /* and why */
	const char *bdat_enhanced;
	const char *bdat_text;
};

extern const struct protocol proto_smtp;

void smtpd_set_state(struct smtpd *s, enum smtpd_state state);

/* Replies: one line, or start/line/end for multi-line. Each counts as an
 * error when its class is 4 or 5 (errors close the session past
 * smtpd.max_errors). */
void smtpd_reply(struct smtpd *s, unsigned code, const char *enhanced, const char *fmt, ...)
    ATTR_PRINTF(4, 5);
/* Multi-line replies: smtp_reply_begin(&b, &s->out, ...), lines, then this
 * ends the reply, sends it and counts it like smtpd_reply. */
void smtpd_reply_send(struct smtpd *s, struct smtp_reply_builder *b);
/* Reply 421 and close once it is sent. */
void smtpd_close(struct smtpd *s, const char *enhanced, const char *text);

/* Forget the transaction (RSET, after delivery, after EHLO). */
void smtpd_reset(struct smtpd *s);

/* Commands (smtpd_cmd.c, smtpd_auth.c, smtpd_data.c). */
void smtpd_cmd_helo(struct smtpd *s, const struct smtp_cmd *cmd);
void smtpd_cmd_mail(struct smtpd *s, const struct smtp_cmd *cmd);
void smtpd_cmd_rcpt(struct smtpd *s, const struct smtp_cmd *cmd);
void smtpd_cmd_vrfy(struct smtpd *s, const struct smtp_cmd *cmd);
void smtpd_cmd_expn(struct smtpd *s, const struct smtp_cmd *cmd);
void smtpd_cmd_help(struct smtpd *s, const struct smtp_cmd *cmd);
void smtpd_cmd_auth(struct smtpd *s, const struct smtp_cmd *cmd);
void smtpd_auth_response(struct smtpd *s, const char *line, size_t len);
void smtpd_cmd_starttls(struct smtpd *s);
void smtpd_cmd_data(struct smtpd *s);
void smtpd_cmd_bdat(struct smtpd *s, const struct smtp_cmd *cmd);
/* Feed content in the DATA or BDAT state; returns false when it needs more
 * input. */
bool smtpd_data_input(struct smtpd *s);
/* A BDAT chunk has been read completely. */
void smtpd_bdat_chunk_done(struct smtpd *s);
/* Free whatever the transaction's content holds (spool, queue file). */
void smtpd_data_abort(struct smtpd *s);

/* Is address one the authenticated user may send as (its own, a +tag of
 * it, or an alias resolving to it)? False without authentication. */
bool smtpd_sender_owned(struct smtpd *s, const char *address);
void smtpd_auth_free(struct smtpd *s);

/* RFC 3848 / RFC 6531 name of the protocol in use ("ESMTPSA"). */
const char *smtpd_protocol_name(const struct smtpd *s);

/* True when AUTH may be offered and used on this connection now. */
bool smtpd_auth_offered(const struct smtpd *s);

#endif
