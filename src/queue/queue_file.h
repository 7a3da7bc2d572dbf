/* queue_file.h - the relay queue's on-disk formats: queue ids, the message
 * file's envelope, and the per-message state file. Pure: bytes in, result
 * out, no I/O. docs/queue.md describes the formats record by record.
 *
 * A message file is a text envelope followed by the content:
 *
 *   postern-queue 1
 *   id 0CK9TQH4S2M3R7QX
 *   arrival 1700000000
 *   sender alice@example.org           (empty value: the null reverse-path)
 *   ... optional records in a fixed order ...
 *   protocol ESMTPSA
 *   rcpt bob@example.net               (1 to QUEUE_RCPT_MAX, each followed
 *   orcpt rfc822;bob@example.net        by its optional orcpt and notify)
 *   content 00000000000000001234       (exactly 20 digits)
 *   <exactly 1234 bytes of content, then end of file>
 *
 * Every record is "key SP value LF". Keys appear in one fixed order, each at
 * most once (recipient blocks repeat). Values hold no byte below 0x20 and no
 * DEL; numbers are decimal without leading zeros. The encoding is canonical:
 * whatever the parser accepts, queue_env_format() writes back byte for byte.
 * An unknown, duplicate, misplaced, overlong or truncated record, a missing
 * mandatory record, a value out of range, and a byte after the content are
 * all errors.
 *
 * The state file holds what changes during delivery (see docs/queue.md for
 * why it is a separate file, replaced atomically):
 *
 *   postern-queue-state 1
 *   id 0CK9TQH4S2M3R7QX
 *   rcpts 2                            (the message's recipient count)
 *   rcpt 0 delayed 3 1700003000 1700006600   (index state attempts last next)
 *   remote mx.example.net[192.0.2.7]   (optional)
 *   reply 451 4.7.1 Try again later    (optional)
 *   rcpt 1 delivered 1 1700000100 0
 *
 * Errors: functions below that fail set *error_r (when error_r is not NULL)
 * to a message in a per-thread buffer, valid until the next failing call of
 * a queue function in the same thread.
 */
#ifndef POSTERN_QUEUE_FILE_H
#define POSTERN_QUEUE_FILE_H

#include "lib/common.h"

#include <time.h>

#include "lib/buf.h"

/* Queue ids: 16 characters of Crockford's base32 (0-9, A-Z without I, L, O,
 * U), big-endian: 55 bits of microseconds since the epoch, then 25 random
 * bits. ASCII order is time order; safe as a file name. */
#define QUEUE_ID_LEN 16
#define QUEUE_ID_SIZE (QUEUE_ID_LEN + 1)

/* Limits of the format; the writer refuses what the parser would refuse, so
 * every file written can be read back. The SMTP layer checks its own (lower)
 * limits earlier, so that it can answer before a message is queued. */
#define QUEUE_RCPT_MAX 10000  /* recipients per message */
#define QUEUE_ADDR_MAX 512    /* sender or recipient address, bytes (an SMTP path is <= 256) */
#define QUEUE_ORCPT_MAX 500   /* ORCPT value (RFC 3461 4.2) */
#define QUEUE_ENVID_MAX 100   /* ENVID value (RFC 3461 4.4) */
#define QUEUE_NAME_MAX 512    /* HELO argument, client host name, SASL user */
#define QUEUE_PROTOCOL_MAX 32 /* "ESMTPSA", RFC 3848 */
#define QUEUE_REMOTE_MAX 320  /* "mx.example.net[2001:db8::1]" */
#define QUEUE_REPLY_MAX 1024  /* last SMTP reply, one line */
#define QUEUE_ATTEMPTS_MAX 1000000
#define QUEUE_TIME_MAX INT64_C(253402300799)  /* 9999-12-31T23:59:59Z */
#define QUEUE_CONTENT_MAX (UINT64_C(1) << 32) /* far above any message size limit */
/* A record: key, space, value, LF. Long enough for every value above. */
#define QUEUE_LINE_MAX 1100

enum queue_body {
	QUEUE_BODY_NONE, /* no BODY parameter */
	QUEUE_BODY_7BIT,
	QUEUE_BODY_8BITMIME,
	QUEUE_BODY_BINARYMIME,
};

enum queue_ret {
	QUEUE_RET_NONE, /* no RET parameter */
	QUEUE_RET_FULL,
	QUEUE_RET_HDRS,
};

/* NOTIFY (RFC 3461 4.1); 0 = no NOTIFY parameter. NEVER stands alone. */
#define QUEUE_NOTIFY_NEVER 0x1u
#define QUEUE_NOTIFY_SUCCESS 0x2u
#define QUEUE_NOTIFY_FAILURE 0x4u
#define QUEUE_NOTIFY_DELAY 0x8u

enum queue_rcpt_state {
	QUEUE_RCPT_PENDING,   /* to be tried (again) at next_attempt */
	QUEUE_RCPT_DELIVERED, /* final: accepted by the next hop */
	QUEUE_RCPT_FAILED,    /* final: failed permanently or expired; DSN queued if due */
	QUEUE_RCPT_DELAYED,   /* still pending, and a delay DSN has been queued */
};

struct queue_rcpt {
	/* In the message file, fixed once queued. */
	char *addr;  /* never empty */
	char *orcpt; /* ORCPT as received, "addr-type;xtext"; NULL = none */
	unsigned notify;
	/* In the state file; a message without one has every recipient
	 * PENDING with no attempt. */
	enum queue_rcpt_state state;
	unsigned attempts;
	time_t last_attempt; /* 0 = never tried */
	time_t next_attempt; /* 0 = as soon as possible */
	char *remote;	     /* host that gave the last reply; NULL = none */
	char *reply;	     /* last SMTP reply or error text; NULL = none */
};

struct queue_envelope {
	char id[QUEUE_ID_SIZE];
	time_t arrival;
	char *sender; /* "" = null reverse-path <> */
	enum queue_body body;
	bool smtputf8;
	bool requiretls; /* RFC 8689 */
	enum queue_ret ret;
	char *envid;		/* xtext as received; NULL = none */
	uint64_t declared_size; /* SIZE= from MAIL FROM; 0 = none */
	/* The client, for Received: and DSNs. client_addr NULL = submitted
	 * locally (postern sendmail). */
	char *client_addr; /* numeric IPv4 or IPv6 */
	char *client_name; /* verified reverse DNS name, NULL = none */
	char *helo;	   /* NULL = none */
	char *auth;	   /* authenticated user, NULL = none */
	char *protocol;	   /* "ESMTPSA", "ESMTP", "local": [A-Za-z0-9-], mandatory */
	struct queue_rcpt *rcpts;
	size_t rcpt_count;
	size_t rcpt_alloc;
	uint64_t content_size; /* bytes after the envelope */
};

enum queue_parse_result {
	QUEUE_PARSE_NEED_MORE,
	QUEUE_PARSE_DONE,
	QUEUE_PARSE_ERROR,
};

/* Incremental envelope parser. */
struct queue_env_parser {
	struct queue_envelope *env;
	unsigned rank;	 /* rank of the last record seen */
	uint64_t offset; /* bytes consumed so far */
	bool done;
};

/* ---- ids ---- */

/* Write the id for usec microseconds since the epoch and 25 bits of rnd
 * into id[QUEUE_ID_SIZE]. */
void queue_id_make(char *id, uint64_t usec, uint32_t rnd);
/* True when s is a well-formed id (exactly QUEUE_ID_LEN characters). */
bool queue_id_valid(const char *s);
/* The arrival time encoded in a valid id, in seconds. */
time_t queue_id_time(const char *id);

/* ---- values (shared by the writer's setters and the parser) ---- */

bool queue_addr_valid(const char *s, size_t len, bool may_be_empty);
bool queue_orcpt_valid(const char *s, size_t len);
bool queue_envid_valid(const char *s, size_t len);
bool queue_ip_valid(const char *s, size_t len);
bool queue_protocol_valid(const char *s, size_t len);
/* Printable text (no byte < 0x20, no DEL), 1..max bytes. */
bool queue_text_valid(const char *s, size_t len, size_t max);
bool queue_notify_valid(unsigned notify);

const char *queue_rcpt_state_name(enum queue_rcpt_state state);
const char *queue_body_name(enum queue_body body);

/* Append in (len bytes of untrusted text, e.g. a remote server's reply) to
 * out as a valid reply/remote value: control characters become spaces,
 * whitespace runs collapse, and the result is cut at max bytes (ending in
 * "..." when cut), at a UTF-8 character boundary. */
void queue_text_clean(struct buf *out, const char *in, size_t len, size_t max);

/* ---- envelopes ---- */

struct queue_envelope *queue_envelope_new(void);
void queue_envelope_free(struct queue_envelope **env);
/* Append a recipient (strings copied, state PENDING). Returns -1 when the
 * envelope already has QUEUE_RCPT_MAX; values are not checked here. */
int queue_envelope_add_rcpt(struct queue_envelope *env, const char *addr, const char *orcpt,
			    unsigned notify, const char **error_r);
/* Check every field against the format's rules; 0 or -1 with *error_r. */
int queue_envelope_check(const struct queue_envelope *env, const char **error_r);

/* Append the envelope records (through "content", whose value is
 * env->content_size in 20 digits) to out. Checks the envelope first;
 * returns -1 (out unchanged) when it is invalid or out's cap is reached. */
int queue_env_format(const struct queue_envelope *env, struct buf *out, const char **error_r);
/* Offset of the 20 digits of the content record from the end of the
 * formatted envelope: the writer patches them at commit. */
#define QUEUE_CONTENT_DIGITS 20
#define QUEUE_CONTENT_PATCH_BACK (QUEUE_CONTENT_DIGITS + 1)

/* The parser owns the envelope it fills until queue_env_parser_take(). */
void queue_env_parser_init(struct queue_env_parser *p);
void queue_env_parser_release(struct queue_env_parser *p);
/* Feed data[0..len). Only complete records are consumed; *consumed_r says
 * how many bytes to drop (the caller keeps the rest and appends more).
 * NEED_MORE: give more input (a partial record longer than QUEUE_LINE_MAX
 * is an error instead). DONE: the "content" record was consumed; the
 * content starts right after it. ERROR: *error_r says why; p is finished. */
enum queue_parse_result queue_env_parse(struct queue_env_parser *p, const char *data, size_t len,
					size_t *consumed_r, const char **error_r);
/* After DONE: the envelope, now owned by the caller. */
struct queue_envelope *queue_env_parser_take(struct queue_env_parser *p);

/* A whole message file in memory: the envelope, then exactly
 * content_size bytes. Returns the envelope (caller frees) and the content's
 * offset, or NULL with *error_r. */
struct queue_envelope *queue_file_parse(const char *data, size_t len, size_t *content_offset_r,
					const char **error_r);

/* ---- state files ---- */

/* Append the state file for env's recipients to out. -1 when out's cap is
 * reached or a recipient's state fields are invalid. */
int queue_state_format(const struct queue_envelope *env, struct buf *out, const char **error_r);
/* Parse a state file and set the state fields of env's recipients. The id
 * and recipient count must match env. On error env's state fields are
 * left unchanged. */
int queue_state_parse(struct queue_envelope *env, const char *data, size_t len,
		      const char **error_r);
/* The earliest next_attempt of a recipient that is not final (PENDING or
 * DELAYED); -1 when every recipient is final. */
time_t queue_envelope_due(const struct queue_envelope *env);

#endif
