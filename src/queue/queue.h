/* queue.h - the relay queue: messages accepted for non-local recipients,
 * kept on disk until every recipient is delivered or has failed.
 *
 * Layout (relative to the data directory; docs/queue.md has the state
 * table, the file formats and the reasons):
 *
 *   queue/tmp/ID        being written by an SMTP session; never acknowledged
 *   queue/incoming/ID   committed, not yet tried
 *   queue/deferred/ID   tried; some recipients are still pending
 *   queue/hold/ID       held by the administrator; not delivered
 *   queue/corrupt/ID    failed to parse; kept for the administrator
 *   queue/state/ID      per-recipient delivery state, once there is any
 *   queue/state/ID.tmp  the next state file, being written
 *
 * A message file (envelope + content, queue_file.h) is written once and
 * never changed; what changes during delivery lives in its state file,
 * replaced atomically. A message is in exactly one of incoming, deferred,
 * hold and corrupt; moving it is one rename.
 *
 * Concurrency: every process that changes a message (the SMTP session
 * writing it, the runner delivering it, an administration command) holds an
 * exclusive flock on the message file; the others see it as busy and leave
 * it alone. Moves also hold a shared flock on queue/ itself, which recovery
 * takes exclusively. Only a move waits for a lock (recovery's short sweep);
 * everything else reports a busy message instead of waiting.
 *
 * Errors: functions that fail return -1 (or another negative value where
 * said) and set *error_r, when error_r is not NULL, to a message in a
 * per-thread buffer valid until the next failing queue call in the thread.
 */
#ifndef POSTERN_QUEUE_H
#define POSTERN_QUEUE_H

#include "lib/common.h"

#include <time.h>

#include "lib/buf.h"
#include "queue/queue_file.h"

#define QUEUE_DIR "queue"

/* Where a message is. The order is the list order. */
enum queue_state { QUEUE_INCOMING, QUEUE_DEFERRED, QUEUE_HOLD, QUEUE_CORRUPT, QUEUE_STATE_COUNT };

const char *queue_state_name(enum queue_state state);

/* Results besides 0 and -1. */
#define QUEUE_SKIP 1		/* busy (locked by another process) or gone since the scan */
#define QUEUE_CORRUPT_FILE (-2) /* the file does not parse: quarantine it */

struct queue;

/* Create path and its subdirectories (mode 0700) where missing, and when
 * uid is not (uid_t)-1 make them belong to uid:gid, through descriptors
 * opened without following links: path may be a link only to a directory
 * that is uid's already (lib/owner.h). For the master, before it forks;
 * the directories are needed before queue_open(). */
int queue_setup(const char *path, uid_t uid, gid_t gid, const char **error_r);

/* Open the queue at path (normally QUEUE_DIR, relative to the data
 * directory). The handle keeps one descriptor per directory; it is used by
 * one process (a worker keeps one for its lifetime) and must not cross a
 * fork. */
int queue_open(const char *path, struct queue **q_r, const char **error_r);
void queue_close(struct queue **q);

/* ---- writing: the SMTP session ---- */

struct queue_writer;

/* ESMTP parameters of MAIL FROM that travel with the message. */
struct queue_params {
	enum queue_body body;
	bool smtputf8;
	bool requiretls;
	enum queue_ret ret;
	const char *envid;	/* NULL = none */
	uint64_t declared_size; /* SIZE=; 0 = none */
};

/* The client, for Received: and DSNs. */
struct queue_client {
	const char *addr;     /* numeric IP; NULL = local submission */
	const char *name;     /* verified reverse DNS name or NULL */
	const char *helo;     /* or NULL */
	const char *auth;     /* authenticated user or NULL */
	const char *protocol; /* "ESMTPSA", ... (RFC 3848); mandatory */
};

/* Start a message: creates queue/tmp/ID (locked, so that recovery leaves it
 * alone) with a new id and the current time as arrival. *w_r is owned by
 * the caller until queue_writer_commit() or queue_writer_abort(). */
int queue_writer_create(struct queue *q, struct queue_writer **w_r, const char **error_r);
/* The message's id, for "250 2.0.0 Ok: queued as ID" and logs; valid until
 * the writer is freed. */
const char *queue_writer_id(const struct queue_writer *w);

/* Envelope, before the first queue_writer_write() (after it, calling these
 * is a bug and panics). Each checks its values against the format's limits
 * (queue_file.h) and fails with a message naming the field. Strings are
 * copied. The sender and the client's protocol are mandatory. */
int queue_writer_set_sender(struct queue_writer *w, const char *sender, const char **error_r);
int queue_writer_set_params(struct queue_writer *w, const struct queue_params *p,
			    const char **error_r);
int queue_writer_set_client(struct queue_writer *w, const struct queue_client *c,
			    const char **error_r);
/* orcpt NULL = none; notify a QUEUE_NOTIFY_* mask, 0 = none. At most
 * QUEUE_RCPT_MAX recipients. */
int queue_writer_add_rcpt(struct queue_writer *w, const char *addr, const char *orcpt,
			  unsigned notify, const char **error_r);

/* Append content (CRLF line ends, not dot-stuffed, exactly as it will be
 * sent), buffered. The first call writes the envelope. Fails on I/O errors
 * (ENOSPC...) and past QUEUE_CONTENT_MAX bytes; the caller then aborts. */
int queue_writer_write(struct queue_writer *w, const void *data, size_t len, const char **error_r);

/* Make the message durable: flush, record the content length, fsync the
 * file, link it into queue/incoming, fsync that directory, remove the tmp
 * name. Only when this returns 0 may the session answer 250. Frees the
 * writer and sets *w to NULL whatever the result; on failure nothing stays
 * in the queue. */
int queue_writer_commit(struct queue_writer **w, const char **error_r);
/* Drop the message (unlink its tmp file) and free the writer; NULL-safe. */
void queue_writer_abort(struct queue_writer **w);

/* ---- delivering: the queue runner ---- */

struct queue_entry {
	char id[QUEUE_ID_SIZE];
	enum queue_state state; /* incoming or deferred */
	time_t due;		/* when its earliest pending recipient is due */
};

/* List the messages ready for delivery (incoming and deferred), sorted by
 * due time, then id. due comes from the state file's mtime, or the id's
 * arrival time when there is none; it is a hint: the runner opens the
 * message to learn which recipients are due. *entries_r (caller frees) may
 * be NULL when *count_r is 0. */
int queue_scan(struct queue *q, struct queue_entry **entries_r, size_t *count_r,
	       const char **error_r);

struct queue_msg;

/* Open and lock message id (in incoming or deferred), parse its envelope,
 * check the content's length and apply its state file. Returns 0 with
 * *msg_r (caller owns it), QUEUE_SKIP when another process holds it, or it
 * is gone or held since the scan,
 * QUEUE_CORRUPT_FILE when it does not parse (queue_quarantine() it), -1 on
 * other errors. */
int queue_msg_open(struct queue *q, const char *id, struct queue_msg **msg_r, const char **error_r);
/* The envelope with the recipients' current state; owned by msg. */
const struct queue_envelope *queue_msg_envelope(const struct queue_msg *msg);
enum queue_state queue_msg_state(const struct queue_msg *msg);

/* The content is content_size bytes at content_offset of the file open on
 * fd (owned by msg; for evbuffer_add_file_segment() and the like). */
int queue_msg_fd(const struct queue_msg *msg);
uint64_t queue_msg_content_offset(const struct queue_msg *msg);
/* Read up to size content bytes from offset (relative to the content).
 * Returns the count (0 at the end), or -1. */
ssize_t queue_msg_read(struct queue_msg *msg, uint64_t offset, void *data, size_t size,
		       const char **error_r);

/* The result of one delivery attempt for one recipient. */
struct queue_attempt {
	enum queue_rcpt_state state; /* PENDING (try again), DELIVERED or FAILED */
	time_t when;		     /* of the attempt */
	time_t next_attempt;	     /* for PENDING */
	const char *remote;	     /* host that answered, or NULL */
	const char *reply;	     /* its reply or the error; NULL or "" = none.
					Clean untrusted text with queue_text_clean(). */
};

/* Record an attempt in memory: attempts + 1, last_attempt, next_attempt,
 * remote, reply, and the state (PENDING keeps a DELAYED recipient
 * DELAYED). A final recipient (DELIVERED, FAILED) cannot change. Durable
 * only after queue_msg_sync() or queue_msg_finish(). */
int queue_msg_record_attempt(struct queue_msg *msg, size_t rcpt, const struct queue_attempt *a,
			     const char **error_r);
/* After queueing a delay DSN for a pending recipient: mark it DELAYED. */
int queue_msg_mark_delayed(struct queue_msg *msg, size_t rcpt, const char **error_r);
/* Write the recorded states durably (state file replaced atomically). A
 * no-op when nothing changed. */
int queue_msg_sync(struct queue_msg *msg, const char **error_r);
/* Move the message (held by msg) to another state; its fd stays valid. */
int queue_msg_move(struct queue_msg *msg, enum queue_state to, const char **error_r);
/* End of a delivery run: sync; then remove the message when every
 * recipient is final, else move it from incoming to deferred and set the
 * scan hint to its next due time. Frees msg and sets *msg to NULL whatever
 * the result. */
int queue_msg_finish(struct queue_msg **msg, const char **error_r);
/* queue_msg_finish for n messages at once (each freed, each msgs[i] set
 * to NULL): the removals of the messages whose every recipient is final
 * share one fsync per directory. Returns -1 (*error_r: the first error)
 * when any finish failed. */
int queue_msg_finish_many(struct queue_msg **msgs, size_t n, const char **error_r);
/* Release the lock and free, writing nothing (unsynced changes are lost). */
void queue_msg_close(struct queue_msg **msg);

/* Move a message that does not parse to queue/corrupt (taking its lock). */
int queue_quarantine(struct queue *q, const char *id, const char **error_r);

/* ---- administration (postern queue ...) ---- */

/* One message, for listing. */
struct queue_info {
	const char *id;
	enum queue_state state;
	uint64_t file_size;		  /* bytes on disk (envelope + content) */
	const struct queue_envelope *env; /* NULL when it cannot be read */
	const char *error;		  /* why env is NULL */
};

/* Called for each message; a non-zero return stops the listing and is
 * returned by queue_list(). info is valid during the call only. */
typedef int queue_list_cb(const struct queue_info *info, void *ctx);

/* Every message in every state (incoming, deferred, hold, corrupt), each
 * state sorted by id (arrival). Reads without locking: a message being
 * delivered shows its last synced state. */
int queue_list(struct queue *q, queue_list_cb *cb, void *ctx, const char **error_r);
/* The same for the messages in one state only (the others' files are not
 * read). */
int queue_list_state(struct queue *q, enum queue_state state, queue_list_cb *cb, void *ctx,
		     const char **error_r);
/* Append a mailq-like block for info to out (times in UTC):
 *   0CK9TQH4S2M3R7QX  deferred  1234  2023-11-14 22:13:20Z  <alice@example.org>
 *       pending    <bob@example.net>  3 attempts, next 2023-11-15 00:00:00Z
 *                  mx.example.net[192.0.2.7]: 451 4.7.1 Try again later
 * Returns -1 when out's cap is reached. */
int queue_info_format(const struct queue_info *info, struct buf *out);

/* Remove message id (any state). Fails when it is busy (being delivered)
 * or not in the queue. */
int queue_delete(struct queue *q, const char *id, const char **error_r);
/* Move message id from incoming or deferred to hold. */
int queue_hold(struct queue *q, const char *id, const char **error_r);
/* Move message id from hold back to incoming (never tried) or deferred,
 * due at now. */
int queue_release(struct queue *q, const char *id, time_t now, const char **error_r);
/* Make a deferred message (id NULL: every one) due at now. Busy messages
 * are being delivered and are skipped. *count_r (may be NULL): messages
 * rescheduled. */
int queue_flush(struct queue *q, const char *id, time_t now, size_t *count_r, const char **error_r);

/* ---- recovery ---- */

struct queue_recovery {
	size_t tmp_removed;	  /* unacknowledged messages in tmp/ */
	size_t state_tmp_removed; /* half-written state files */
	size_t orphans_removed;	  /* state files of removed messages */
	size_t links_removed;	  /* second names of a message after a crash in a move */
	size_t unknown;		  /* files that are not the queue's, left alone */
};

/* At start (the master, before the workers and the runner; safe at any
 * time): remove what a crash can leave, as listed in docs/queue.md. Every
 * committed message is intact by construction and stays. */
int queue_recover(struct queue *q, struct queue_recovery *r, const char **error_r);

#endif
