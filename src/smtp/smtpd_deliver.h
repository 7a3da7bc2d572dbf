/* smtpd_deliver.h - delivering an accepted message off the event loop.
 *
 * At the end of DATA or BDAT the session hands its spool (local copies) and
 * queue file (other domains) to a delivery job on the worker's delivery
 * pool: the fsyncs of many sessions then overlap, and the event loop keeps
 * serving. The job owns copies of everything it needs, so the session may
 * go away meanwhile (the job is then cancelled if it has not started: the
 * client got no 250 and will send again). The session waits in the
 * DELIVERING state and answers when the job is done.
 */
#ifndef POSTERN_SMTPD_DELIVER_H
#define POSTERN_SMTPD_DELIVER_H

#include "lib/common.h"

#include "queue/queue.h"

struct smtpd;
struct server;
struct queue_writer;

/* What a queue file needs to know of the transaction (copied). */
struct smtpd_env {
	char *sender;
	struct queue_params params;
	char *envid;
	char *client_addr, *helo, *auth;
	const char *protocol; /* static */
};

struct smtpd_env_rcpt {
	char *address;
	char *orcpt;
	unsigned notify;
};

void smtpd_env_init(struct smtpd_env *env, const struct smtpd *s, const char *protocol);
void smtpd_env_free(struct smtpd_env *env);
/* Write the envelope and the recipients into a new queue file. */
int smtpd_env_write(const struct smtpd_env *env, struct queue_writer *qw,
		    const struct smtpd_env_rcpt *rcpts, size_t n, const char **error_r);

/* The delivery pool of a worker: threads with their own store handles. */
struct workpool *smtpd_delivery_pool_new(struct server *srv);

/* Hand the finished content to the delivery pool (s->spool and s->qw move
 * to the job); the session enters DELIVERING and replies when it is done. */
void smtpd_deliver(struct smtpd *s);
/* The session is going away: forget it (see above). */
void smtpd_deliver_cancel(struct smtpd *s);

/* The lane of the delivery pool for jobs on address's mailbox: SMTP
 * deliveries and IMAP APPENDs to one user run one after the other on one
 * thread instead of contending for the user's index on several. */
uint64_t smtpd_delivery_key(const char *address);

/* The mail store handle of a thread of the delivery pool (the thread_ctx
 * its jobs are given), for other protocols' jobs on that pool (IMAP
 * APPEND); NULL when the thread could not open the store. */
struct store *smtpd_delivery_thread_store(void *thread_ctx);

#endif
