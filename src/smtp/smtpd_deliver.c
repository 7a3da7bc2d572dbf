/* smtpd_deliver.c - local delivery and queue commit on the delivery pool,
 * several messages into one mailbox at a time (group commit). */
#include "lib/common.h"

#include <unistd.h>

#include "lib/log.h"
#include "lib/workpool.h"
#include "lib/xalloc.h"
#include "mime/bodystructure.h"
#include "queue/queue.h"
#include "server/server.h"
#include "smtp/smtpd.h"
#include "smtp/smtpd_deliver.h"
#include "store/store.h"

struct delivery {
	struct smtpd *s; /* NULL once the session is gone */
	struct workpool_job *job;
	struct queue *queue; /* the worker's (read-only use) */
	unsigned quota_reply;
	bool ran;
	char sid[12];
	char msgid[40];
	struct smtpd_env env;
	struct store_spool *spool;
	struct queue_writer *qw;
	struct store_rcpt *rcpts; /* local copies */
	struct smtpd_env_rcpt *local_env;
	size_t nlocal;
	char **remote; /* for the log */
	size_t nremote;
	/* the answer */
	unsigned code;
	const char *enhanced;
	char text[160];
};

struct delivery_thread {
	struct store *store;
};

void
smtpd_env_init(struct smtpd_env *env, const struct smtpd *s, const char *protocol)
{
	memset(env, 0, sizeof(*env));
	env->sender = xstrdup(s->sender);
	env->params.body = s->mail.body == SMTP_BODY_8BITMIME ? QUEUE_BODY_8BITMIME
			   : s->mail.body == SMTP_BODY_7BIT   ? QUEUE_BODY_7BIT
							      : QUEUE_BODY_NONE;
	env->params.smtputf8 = s->mail.smtputf8;
	env->params.ret = s->mail.ret == SMTP_RET_FULL	 ? QUEUE_RET_FULL
			  : s->mail.ret == SMTP_RET_HDRS ? QUEUE_RET_HDRS
							 : QUEUE_RET_NONE;
	if (s->mail.present & SMTP_PARAM_ENVID)
		env->envid = xstrdup(s->mail.envid);
	env->params.envid = env->envid;
	env->params.declared_size = (s->mail.present & SMTP_PARAM_SIZE) ? s->mail.size : 0;
	env->client_addr = xstrdup(s->conn->peer_ip);
	env->helo = s->helo != NULL ? xstrdup(s->helo) : NULL;
	env->auth = s->auth_user != NULL ? xstrdup(s->auth_user) : NULL;
	env->protocol = protocol;
}

void
smtpd_env_free(struct smtpd_env *env)
{
	free(env->sender);
	free(env->envid);
	free(env->client_addr);
	free(env->helo);
	free(env->auth);
	memset(env, 0, sizeof(*env));
}

int
smtpd_env_write(const struct smtpd_env *env, struct queue_writer *qw,
		const struct smtpd_env_rcpt *rcpts, size_t n, const char **error_r)
{
	struct queue_client c = {
	    .addr = env->client_addr,
	    .helo = env->helo,
	    .auth = env->auth,
	    .protocol = env->protocol,
	};

	if (queue_writer_set_sender(qw, env->sender, error_r) < 0 ||
	    queue_writer_set_params(qw, &env->params, error_r) < 0 ||
	    queue_writer_set_client(qw, &c, error_r) < 0)
		return -1;
	/* RFC 3461 4.2: the original recipient travels with every copy (also
	 * those made by aliases), so a DSN names what the sender wrote. */
	for (size_t i = 0; i < n; i++)
		if (queue_writer_add_rcpt(qw, rcpts[i].address, rcpts[i].orcpt, rcpts[i].notify,
					  error_r) < 0)
			return -1;
	return 0;
}

static void *
thread_init(void *arg)
{
	struct server *srv = arg;
	struct delivery_thread *t = xcalloc(1, sizeof(*t));
	const char *error;

	/* The worker's cwd is the data directory. */
	if (store_open(".", srv->cfg->hostname, &t->store, &error) < 0)
		log_error("delivery thread: mail store: %s", error);
	return t;
}

static void
thread_fini(void *ctx)
{
	struct delivery_thread *t = ctx;

	store_close(&t->store);
	free(t);
}

uint64_t
smtpd_delivery_key(const char *address)
{
	uint64_t key = 0;

	for (const char *p = address; *p != '\0'; p++)
		key = key * 1099511628211ULL + (unsigned char)*p;
	return key;
}

struct store *
smtpd_delivery_thread_store(void *thread_ctx)
{
	return ((struct delivery_thread *)thread_ctx)->store;
}

struct workpool *
smtpd_delivery_pool_new(struct server *srv)
{
	return workpool_new(srv->base, srv->cfg->smtpd_delivery_threads, thread_init, thread_fini,
			    srv);
}

static void answer(struct delivery *d, unsigned code, const char *enhanced, const char *fmt, ...)
    ATTR_PRINTF(4, 5);

static void
answer(struct delivery *d, unsigned code, const char *enhanced, const char *fmt, ...)
{
	va_list ap;

	d->code = code;
	d->enhanced = enhanced;
	va_start(ap, fmt);
	if (vsnprintf(d->text, sizeof(d->text), fmt, ap) < 0)
		d->text[0] = '\0';
	va_end(ap);
}

static void
local_failure(struct delivery *d, enum store_status status)
{
	switch (status) {
	case STORE_OVER_QUOTA:
		if (d->quota_reply == 552)
			answer(d, 552, "5.2.2", "Error: mailbox full");
		else
			answer(d, 452, "4.2.2", "Error: mailbox full");
		break;
	case STORE_NO_SPACE:
		answer(d, 452, "4.3.1", "Error: insufficient system storage");
		break;
	case STORE_REFUSED:
		answer(d, 550, "5.1.1", "Error: mailbox unavailable");
		break;
	default:
		answer(d, 451, "4.3.0", "Error: local delivery failed, try again later");
		break;
	}
}

/* Copy the finished spool (LF, starting with Return-Path) into a new queue
 * file (CRLF, without Return-Path) for the local copies that failed, so that
 * the queue runner retries or bounces them. */
static int
requeue_local(struct delivery *d, const size_t *failed, size_t n, const char **error_r)
{
	struct queue_writer *qw = NULL;
	struct smtpd_env_rcpt *rcpts = xcalloc(n, sizeof(*rcpts));
	char in[16384], out[2 * sizeof(in)];
	int fd = store_spool_fd(d->spool);
	off_t off = 0;
	bool at_start = true, skipping = false, prev_cr = false;

	for (size_t i = 0; i < n; i++)
		rcpts[i] = d->local_env[failed[i]];
	if (queue_writer_create(d->queue, &qw, error_r) < 0 ||
	    smtpd_env_write(&d->env, qw, rcpts, n, error_r) < 0)
		goto fail;
	for (;;) {
		ssize_t got = pread(fd, in, sizeof(in), off);
		if (got < 0) {
			*error_r = strerror(errno);
			goto fail;
		}
		if (got == 0)
			break;
		size_t o = 0;
		for (ssize_t i = 0; i < got; i++) {
			char c = in[i];
			if (at_start) {
				/* The first line is our Return-Path: drop it. */
				skipping = true;
				at_start = false;
			}
			if (skipping) {
				if (c == '\n')
					skipping = false;
				continue;
			}
			if (c == '\n' && !prev_cr)
				out[o++] = '\r';
			out[o++] = c;
			prev_cr = c == '\r';
		}
		if (queue_writer_write(qw, out, o, error_r) < 0)
			goto fail;
		off += got;
	}
	free(rcpts);
	return queue_writer_commit(&qw, error_r);
fail:
	free(rcpts);
	queue_writer_abort(&qw);
	return -1;
}

/* One message's local results: the log, a queue file for the copies that
 * failed (or the answer, when none was delivered and nothing else was). */
static void
local_results(struct delivery *d, const struct store_result *results)
{
	const char *error;
	size_t *failed = xcalloc(d->nlocal + 1, sizeof(*failed));
	size_t nfailed = 0;
	enum store_status first = STORE_OK;
	bool same = true;

	for (size_t i = 0; i < d->nlocal; i++) {
		if (results[i].status == STORE_OK) {
			log_sid(LOG_LVL_INFO, d->sid, "to=<%s> relay=local status=sent (uid %u)",
				d->rcpts[i].address, results[i].uid);
			continue;
		}
		log_sid(LOG_LVL_WARNING, d->sid, "to=<%s> relay=local status=%s (%s)",
			d->rcpts[i].address,
			results[i].status == STORE_OVER_QUOTA ? "over-quota" : "failed",
			results[i].message);
		if (first == STORE_OK)
			first = results[i].status;
		else if (results[i].status != first)
			same = false;
		failed[nfailed++] = i;
	}
	if (nfailed == d->nlocal && d->qw == NULL && same) {
		/* Nothing was delivered: the client keeps the message. */
		local_failure(d, first);
	} else if (nfailed > 0 && requeue_local(d, failed, nfailed, &error) < 0) {
		log_sid(LOG_LVL_ERROR, d->sid, "queue for failed local copies: %s", error);
		answer(d, 451, "4.3.0", "Error: local delivery failed, try again later");
	}
	free(failed);
}

/* After local delivery: commit the queue file of the remote recipients,
 * and answer. */
static void
delivery_finish(struct delivery *d)
{
	const char *error;

	store_spool_free(&d->spool);
	if (d->code != 0) {
		queue_writer_abort(&d->qw);
		return;
	}
	if (d->qw != NULL && queue_writer_commit(&d->qw, &error) < 0) {
		log_sid(LOG_LVL_ERROR, d->sid, "queue: %s", error);
		answer(d, 451, "4.3.0", "Error: queue file write error");
		return;
	}
	for (size_t i = 0; i < d->nremote; i++)
		log_sid(LOG_LVL_INFO, d->sid, "to=<%s> status=queued (%s)", d->remote[i], d->msgid);
	answer(d, 250, "2.0.0", "Ok: queued as %s", d->msgid);
}

/* The messages queued for one mailbox, together (group commit): their
 * spools fsync'd in parallel, then one store_deliver_batch (one fsync of
 * the mailbox's directory and one index transaction for all of them),
 * then each message's queue file and answer as if it had been alone. */
/* ENVELOPE and BODYSTRUCTURE are computed on the delivery thread and
 * stored with the index row (store_spool_cache). */
static void
delivery_run_batch(void *thread_ctx, void **args, size_t n)
{
	struct delivery_thread *t = thread_ctx;
	struct store_spool **spools = xcalloc(n, sizeof(*spools));
	struct store_delivery *msgs = xcalloc(n, sizeof(*msgs));
	size_t *which = xcalloc(n, sizeof(*which));
	size_t nspools = 0, nmsgs = 0;

	for (size_t i = 0; i < n; i++) {
		struct delivery *d = args[i];
		d->ran = true;
		d->code = 0;
		if (d->spool == NULL)
			continue;
		if (t->store == NULL) {
			answer(d, 451, "4.3.0", "Error: local delivery failed, try again later");
			continue;
		}
		store_spool_rebind(d->spool, t->store);
		spools[nspools++] = d->spool;
	}
	store_spool_finish_many(spools, nspools);
	for (size_t i = 0; i < n; i++) {
		struct delivery *d = args[i];
		const char *error;
		int err = 0;
		if (d->spool == NULL || d->code != 0)
			continue;
		if (store_spool_finish(d->spool, &err, &error) < 0) {
			log_sid(LOG_LVL_ERROR, d->sid, "spool: %s", error);
			local_failure(d, err == ENOSPC ? STORE_NO_SPACE : STORE_TEMP_FAIL);
			continue;
		}
		store_spool_cache(d->spool);
		msgs[nmsgs] = (struct store_delivery){
		    .spool = d->spool,
		    .rcpts = d->rcpts,
		    .nrcpts = d->nlocal,
		    .results = xcalloc(d->nlocal + 1, sizeof(struct store_result)),
		};
		which[nmsgs++] = i;
	}
	(void)store_deliver_batch(msgs, nmsgs);
	for (size_t k = 0; k < nmsgs; k++) {
		local_results(args[which[k]], msgs[k].results);
		free(msgs[k].results);
	}
	for (size_t i = 0; i < n; i++)
		delivery_finish(args[i]);
	free(spools);
	free(msgs);
	free(which);
}

static void
delivery_free(struct delivery *d)
{
	store_spool_free(&d->spool);
	queue_writer_abort(&d->qw);
	for (size_t i = 0; i < d->nlocal; i++) {
		free((char *)d->rcpts[i].address);
		free((char *)d->rcpts[i].folder);
		free(d->local_env[i].orcpt);
	}
	free(d->rcpts);
	free(d->local_env);
	for (size_t i = 0; i < d->nremote; i++)
		free(d->remote[i]);
	free(d->remote);
	smtpd_env_free(&d->env);
	free(d);
}

static void
delivery_done(void *arg, bool cancelled)
{
	struct delivery *d = arg;
	struct smtpd *s = d->s;

	if (s == NULL) {
		if (d->ran)
			log_sid(LOG_LVL_NOTICE, d->sid,
				"client gone before the answer to its message (%u %s)", d->code,
				d->text);
		delivery_free(d);
		return;
	}
	s->delivery = NULL;
	smtpd_reply(s, d->code, d->enhanced, "%s", d->text);
	delivery_free(d);
	smtpd_reset(s);
	/* Commands the client pipelined behind its message. */
	if (!s->conn->closing)
		s->conn->proto->input(s->conn);
}

void
smtpd_deliver(struct smtpd *s)
{
	struct server *srv = s->conn->srv;
	struct delivery *d = xcalloc(1, sizeof(*d));

	d->s = s;
	d->queue = srv->queue;
	d->quota_reply = srv->cfg->smtpd_quota_reply;
	str_copy(d->sid, sizeof(d->sid), s->conn->id);
	str_copy(d->msgid, sizeof(d->msgid), s->msgid);
	smtpd_env_init(&d->env, s, smtpd_protocol_name(s));
	d->spool = s->spool;
	d->qw = s->qw;
	s->spool = NULL;
	s->qw = NULL;
	d->nlocal = d->spool != NULL ? s->nlocal : 0;
	d->rcpts = xcalloc(d->nlocal ? d->nlocal : 1, sizeof(*d->rcpts));
	d->local_env = xcalloc(d->nlocal ? d->nlocal : 1, sizeof(*d->local_env));
	for (size_t i = 0; i < d->nlocal; i++) {
		const struct smtpd_local *l = &s->local[i];
		const struct smtpd_rcpt *r = &s->rcpts[l->rcpt];
		d->rcpts[i].address = xstrdup(l->address);
		d->rcpts[i].folder = l->folder != NULL ? xstrdup(l->folder) : NULL;
		d->rcpts[i].quota = l->quota;
		d->local_env[i].address = (char *)d->rcpts[i].address;
		d->local_env[i].orcpt = r->orcpt != NULL ? xstrdup(r->orcpt) : NULL;
		d->local_env[i].notify = r->notify;
	}
	d->nremote = d->qw != NULL ? s->nremote : 0;
	d->remote = xcalloc(d->nremote ? d->nremote : 1, sizeof(*d->remote));
	for (size_t i = 0; i < d->nremote; i++)
		d->remote[i] = xstrdup(s->remote[i].address);
	smtpd_set_state(s, SMTPD_DELIVERING);
	s->delivery = d;
	/* Deliveries into one mailbox go to one thread, in order: they would
	 * only contend for its index. Those waiting there are delivered
	 * together (group commit: one directory fsync and one index
	 * transaction for all of them). */
	const char *who = d->nlocal > 0 ? d->rcpts[0].address : d->msgid;
	d->job = workpool_submit_batched(srv->delivery, smtpd_delivery_key(who), delivery_run_batch,
					 delivery_done, d);
}

void
smtpd_deliver_cancel(struct smtpd *s)
{
	struct delivery *d = s->delivery;

	if (d == NULL)
		return;
	s->delivery = NULL;
	d->s = NULL;
	workpool_cancel(d->job);
}
