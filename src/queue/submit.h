/* submit.h - local submission and wake-ups through the queue runner's
 * socket, DATA_DIR/public/submit.sock (mode 0666 in a 0755 directory).
 *
 * Clients: `postern sendmail` (any local user) submits messages;
 * `postern queue flush` and the SMTP server's ETRN ask the runner to try
 * deferred mail now. The runner serves the socket on its event loop; the
 * peer's uid comes from SO_PEERCRED, never from what the peer says.
 *
 * The protocol, one request per connection. The client sends one of
 *
 *   SUBMIT LF, then records "key SP value LF":
 *     sender ADDR          mandatory, first; empty value = <>
 *     ret full|hdrs        optional (DSN RET)
 *     envid XTEXT          optional (DSN ENVID)
 *     rcpt ADDR            1 to QUEUE_RCPT_MAX
 *     notify LIST          optional, after its rcpt (as in queue files)
 *     content N            last; then exactly N octets of content (CRLF
 *                          line ends; the client normalises)
 *   FLUSH LF               every deferred message due now
 *   FLUSH SP ID LF         that message
 *   ETRN SP DOMAIN LF      deferred messages with a recipient in DOMAIN
 *                          (1 to 256 printable ASCII bytes without space,
 *                          "@domain" and "#queue" passed on as RFC 1985
 *                          has them)
 *
 * and the server answers one line and closes:
 *
 *   250 SP ID LF           (SUBMIT: queued as ID; FLUSH/ETRN: "250 N")
 *   4xx SP TEXT LF         temporary failure (no space, queue error)
 *   5xx SP TEXT LF         refused (syntax, too large, not allowed)
 *
 * Values follow the queue file's rules (queue_file.h); content larger
 * than smtpd.max_message_size is refused (552). FLUSH and ETRN are
 * allowed for uid 0 and the runner's own uid only (550 otherwise).
 *
 * What the server writes: a queue file with protocol "local", no client
 * address, and the content prefixed with
 *   Received: by HOSTNAME (postern, from userid UID LOGIN)
 *   \tid ID
 *   \tfor <RCPT>; DATE
 * (the "for" line only when there is one recipient; LOGIN only when the
 * uid has a login name).
 * Body type 8BITMIME when the content has an octet above 127, and SMTPUTF8
 * when an address is not ASCII. Recipients in local domains are queued
 * like the others: the runner delivers them to the mail store.
 */
#ifndef POSTERN_SUBMIT_H
#define POSTERN_SUBMIT_H

#include "lib/common.h"

#include <event2/event.h>
#include <sys/types.h>

#include "lib/buf.h"
#include "queue/queue_file.h"

#define SUBMIT_DIR "public"
#define SUBMIT_SOCKET "public/submit.sock" /* relative to the data directory */

struct config;
struct queue;

/* ---- the request, shared by both sides ---- */

struct submit_rcpt {
	char *addr;
	unsigned notify; /* QUEUE_NOTIFY_* or 0 */
};

struct submit_request {
	char *sender; /* "" = <> */
	enum queue_ret ret;
	char *envid; /* NULL = none */
	struct submit_rcpt *rcpts;
	size_t nrcpts;
};

void submit_request_free(struct submit_request *req);

/* Append the SUBMIT head (through "content N LF") to out. -1 with *error_r
 * when a value breaks the queue file's rules. */
int submit_request_format(const struct submit_request *req, uint64_t content_size,
			  struct buf *out, const char **error_r);

/* Incremental parser of a request head (SUBMIT, FLUSH or ETRN line and the
 * records). Pure and bounded: every line at most QUEUE_LINE_MAX, at most
 * QUEUE_RCPT_MAX recipients. */
enum submit_kind { SUBMIT_SUBMIT, SUBMIT_FLUSH, SUBMIT_ETRN };

struct submit_parser {
	enum submit_kind kind;
	struct submit_request req;
	char arg[QUEUE_ADDR_MAX + 1]; /* FLUSH id ("" = all) or ETRN domain */
	uint64_t content_size;	      /* SUBMIT */
	unsigned rank;		      /* parser state */
	bool done;
};

enum submit_parse_result { SUBMIT_PARSE_MORE, SUBMIT_PARSE_DONE, SUBMIT_PARSE_ERROR };

void submit_parser_init(struct submit_parser *p);
void submit_parser_release(struct submit_parser *p);
/* Feed data[0..len); only whole lines are consumed (*consumed_r). DONE
 * after the FLUSH/ETRN line or the content record (the content follows). */
enum submit_parse_result submit_parse(struct submit_parser *p, const char *data, size_t len,
				      size_t *consumed_r, const char **error_r);

/* ---- writing the queue file (server side, and the direct fallback) ---- */

/* Queue one submitted message from local user uid: the envelope from req,
 * the Received field described above, then content[0..len). On success
 * (0) id_r holds the queue id and the message is durable
 * (queue_writer_commit). Returns -1 with *error_r and *temporary_r (true
 * for I/O errors, false for invalid values). */
int submit_queue(struct queue *q, const struct config *cfg, const struct submit_request *req,
		 uid_t uid, const char *content, size_t len, char id_r[QUEUE_ID_SIZE],
		 bool *temporary_r, const char **error_r);

/* ---- server (the queue runner) ---- */

struct submit_handlers {
	/* A message was queued: schedule it. */
	void (*queued)(const char *id, void *arg);
	/* FLUSH (id NULL = all deferred) or ETRN (domain set, id NULL):
	 * make them due now; returns how many. */
	size_t (*flush)(const char *id, const char *domain, void *arg);
};

struct submit_server;

/* Bind the socket at path (an old socket file there is replaced) with mode
 * 0666 and serve it on base. Each connection is bounded in size and time
 * (60 s without progress closes it); content is read into memory (at most
 * smtpd.max_message_size; 256 MiB for all connections together, beyond
 * which a request is told 451 unless it is the only one) and queued with
 * submit_queue() inline. */
int submit_server_new(struct event_base *base, struct queue *q, const struct config *cfg,
		      const char *path, const struct submit_handlers *h, void *arg,
		      struct submit_server **s_r, const char **error_r);
void submit_server_free(struct submit_server **s);

/* ---- clients ---- */

/* Time limit of a FLUSH or ETRN exchange. */
#define SUBMIT_FLUSH_SECS 5
/* Longest reply line read. */
#define SUBMIT_REPLY_MAX 1024
/* Longest FLUSH or ETRN request line, LF and NUL included. */
#define SUBMIT_FLUSH_LINE_MAX (QUEUE_ADDR_MAX + 16)

/* Blocking clients, for commands: */

/* Submit: returns the reply code (250, 4xx, 5xx) with its text in reply
 * (what follows "NNN SP", one line, no LF: the queue id for 250), or -1
 * with *error_r when the request is invalid (submit_request_format), the
 * socket cannot be reached (the runner is not running) or the connection
 * fails; time limit 60 s. */
int submit_send(const char *path, const struct submit_request *req, const char *content,
		size_t len, struct buf *reply, const char **error_r);
/* FLUSH [id] or ETRN domain (one of id/domain, or neither for FLUSH all):
 * returns the reply code, or -1 with *error_r. Time limit: 5 s. */
int submit_flush(const char *path, const char *id, const char *domain, struct buf *reply,
		 const char **error_r);

/* The same FLUSH or ETRN on an event loop (the SMTP server's ETRN: a
 * worker's loop must not wait on the runner). done(code, text, error,
 * arg) is called exactly once, on the loop, never from inside
 * submit_flush_start: code and text as submit_flush gives them, or -1 and
 * error. submit_call_cancel (before done) ends the call without done. */
struct submit_call;
typedef void submit_done_fn(int code, const char *text, const char *error, void *arg);
struct submit_call *submit_flush_start(struct event_base *base, const char *path, const char *id,
				       const char *domain, submit_done_fn *done, void *arg);
void submit_call_cancel(struct submit_call *call);

/* What the clients share: the request line of a FLUSH or ETRN (its length,
 * or -1 with *error_r when an argument is too long); a connected,
 * non-blocking socket to path, the connect waiting for room in the
 * server's backlog or not (or -1 with *error_r); a reply line
 * "NNN SP TEXT" without its LF: its code with TEXT in reply, or -1 with
 * *error_r when it is malformed. */
int submit_flush_line(const char *id, const char *domain, char line[SUBMIT_FLUSH_LINE_MAX],
		      const char **error_r);
int submit_connect(const char *path, bool wait, const char **error_r);
int submit_reply_parse(const char *line, size_t len, struct buf *reply, const char **error_r);

#endif
