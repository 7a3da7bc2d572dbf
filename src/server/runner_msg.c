/* runner_msg.c - one message's delivery run: the split into local copies and
 * remote requests, the results, the DSNs, the end of the run. */
#include "lib/common.h"

#include <time.h>

#include "lib/addr.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "queue/dsn.h"
#include "server/runner_private.h"
#include "store/accounts.h"
#include "store/store.h"

#define REPLY_TEXT_MAX 600

static void rmsg_finish(struct rmsg *m);

const char *
rmsg_content(struct rmsg *m, size_t *len_r)
{
	const char *error;

	if (!m->content_loaded) {
		uint64_t size = m->env->content_size;
		m->content = xmalloc(size + 1);
		uint64_t off = 0;
		while (off < size) {
			ssize_t got = queue_msg_read(m->qm, off, m->content + off,
						     (size_t)MIN(size - off, 1u << 20), &error);
			if (got <= 0) {
				log_error("%s: reading the content: %s", m->id,
					  got < 0 ? error : "short file");
				free(m->content);
				m->content = NULL;
				return NULL;
			}
			off += (uint64_t)got;
		}
		m->content[size] = '\0';
		m->content_len = (size_t)size;
		m->content_loaded = true;
	}
	*len_r = m->content_len;
	return m->content;
}

/* Seconds until the next try after attempt number n (1 = the first). */
static time_t
backoff(const struct config *cfg, unsigned n)
{
	uint64_t d = cfg->delivery_retry_min;

	for (unsigned i = 1; i < n && d < cfg->delivery_retry_max; i++)
		d *= 2;
	return (time_t)MIN(d, (uint64_t)cfg->delivery_retry_max);
}

static void
format_reply(struct buf *out, const struct smtpc_reply *reply)
{
	struct buf raw;

	buf_init(&raw, 2048);
	if (buf_printf(&raw, "%u%s%s%s%s", reply->code, reply->enhanced[0] != '\0' ? " " : "",
		       reply->enhanced, reply->text[0] != '\0' ? " " : "", reply->text) < 0)
		buf_reset(&raw);
	buf_reset(out);
	queue_text_clean(out, raw.data != NULL ? raw.data : "", raw.len, REPLY_TEXT_MAX);
	buf_release(&raw);
}

void
rmsg_result(struct rmsg *m, size_t i, const struct smtpc_reply *reply, const char *remote,
	    bool peer_dsn)
{
	const struct config *cfg = m->r->cfg;
	const struct queue_rcpt *rc = &m->env->rcpts[i];
	time_t now = time(NULL);
	const char *error;
	struct buf text;
	unsigned cls = reply->code / 100;

	buf_init(&text, REPLY_TEXT_MAX + 16);
	format_reply(&text, reply);
	bool expired = now >= m->env->arrival + (time_t)cfg->delivery_max_lifetime;
	bool local = reply->stage != NULL && strcmp(reply->stage, "local delivery") == 0;
	log_info("%s: to=<%s> relay=%s status=%s (%s)", m->id, rc->addr,
		 remote != NULL ? remote
		 : local	? "local"
				: "none",
		 cls == 2	       ? "sent"
		 : cls == 5 || expired ? "bounced"
				       : "deferred",
		 buf_cstr(&text));

	struct queue_attempt a = {.when = now, .remote = remote, .reply = buf_cstr(&text)};
	if (cls == 2) {
		a.state = QUEUE_RCPT_DELIVERED;
		if ((rc->notify & QUEUE_NOTIFY_SUCCESS) != 0 && (remote == NULL || !peer_dsn)) {
			m->notify_success[i] = true;
			m->relayed[i] = remote != NULL;
		}
	} else if (cls == 5 || expired) {
		/* Recorded once the bounce is queued (rmsg_finish). */
		m->failed[i] = true;
		buf_reset(&m->failed_reply[i]);
		if (cls != 5 &&
		    buf_add_str(&m->failed_reply[i], "delivery time expired; last error: ") < 0)
			panic("runner: reply buffer");
		if (buf_add(&m->failed_reply[i], text.data, text.len) < 0)
			panic("runner: reply buffer");
		/* A reply the client made itself names no remote host. */
		free(m->failed_remote[i]);
		m->failed_remote[i] = remote != NULL && !reply->generated ? xstrdup(remote) : NULL;
		m->failed_stage[i] = reply->generated ? NULL : reply->stage;
		buf_release(&text);
		return;
	} else {
		a.state = QUEUE_RCPT_PENDING;
		a.next_attempt = now + backoff(cfg, rc->attempts + 1);
		/* Try once more when the lifetime ends, then give up. */
		time_t end = m->env->arrival + (time_t)cfg->delivery_max_lifetime;
		if (a.next_attempt > end)
			a.next_attempt = MAX(end, now + 1);
	}
	if (queue_msg_record_attempt(m->qm, i, &a, &error) < 0)
		log_error("%s: recording the attempt for <%s>: %s", m->id, rc->addr, error);
	buf_release(&text);
}

void
rmsg_sync(struct rmsg *m)
{
	const char *error;

	if (queue_msg_sync(m->qm, &error) < 0)
		log_error("%s: saving the delivery state: %s", m->id, error);
}

void
rmsg_request_done(struct rmsg *m)
{
	/* Results become durable after each transaction; after the last
	 * one, rmsg_finish writes them (or removes the message). */
	if (--m->requests == 0)
		rmsg_finish(m);
	else
		rmsg_sync(m);
}

/* ---- local copies ---- */

struct local_item {
	size_t rcpt;   /* envelope index */
	char *address; /* canonical user address */
	char *folder;  /* from the +tag, or NULL */
	uint64_t quota;
};

void
runner_reply(struct smtpc_reply *reply, unsigned code, const char *enhanced, const char *text,
	     const char *stage)
{
	memset(reply, 0, sizeof(*reply));
	reply->code = code;
	str_copy(reply->enhanced, sizeof(reply->enhanced), enhanced);
	str_copy(reply->text, sizeof(reply->text), text);
	reply->generated = true;
	reply->stage = stage;
}

static void
local_reply(struct smtpc_reply *reply, unsigned code, const char *enhanced, const char *text)
{
	runner_reply(reply, code, enhanced, text, "local delivery");
}

static void
store_reply(const struct config *cfg, const struct store_result *res, struct smtpc_reply *reply)
{
	switch (res->status) {
	case STORE_OK:
		local_reply(reply, 250, "2.0.0", "delivered to mailbox");
		break;
	case STORE_OVER_QUOTA:
		if (cfg->smtpd_quota_reply == 552)
			local_reply(reply, 552, "5.2.2", "mailbox full");
		else
			local_reply(reply, 452, "4.2.2", "mailbox full");
		break;
	case STORE_NO_SPACE:
		local_reply(reply, 452, "4.3.1", "insufficient system storage");
		break;
	case STORE_REFUSED:
		local_reply(reply, 550, "5.1.1", "mailbox unavailable");
		break;
	default:
		local_reply(reply, 451, "4.3.0", "local delivery failed");
		break;
	}
}

/* Deliver the local copies; every item's recipient gets one result (the
 * first failure among its users, else success). */
static void
deliver_local(struct rmsg *m, struct local_item *items, size_t n)
{
	struct runner *r = m->r;
	struct store_spool *spool = NULL;
	struct smtpc_reply *replies = xcalloc(n, sizeof(*replies));
	const char *content, *error;
	size_t len;
	struct buf rp;

	buf_init(&rp, QUEUE_ADDR_MAX + 32);
	if ((content = rmsg_content(m, &len)) == NULL) {
		for (size_t i = 0; i < n; i++)
			local_reply(&replies[i], 451, "4.3.0", "queue file read error");
	} else if (buf_printf(&rp, "Return-Path: <%s>\n", m->env->sender) < 0 ||
		   store_spool_open(r->store, &spool, &error) < 0 ||
		   store_spool_write(spool, rp.data, rp.len, &error) < 0 ||
		   store_spool_write_crlf(spool, content, len, &error) < 0 ||
		   store_spool_finish(spool, NULL, &error) < 0) {
		log_error("%s: local delivery spool: %s", m->id,
			  spool == NULL && rp.len == 0 ? "address too long" : error);
		for (size_t i = 0; i < n; i++)
			local_reply(&replies[i], 451, "4.3.0", "local delivery failed");
	} else {
		struct store_rcpt *rcpts = xcalloc(n, sizeof(*rcpts));
		struct store_result *results = xcalloc(n, sizeof(*results));
		for (size_t i = 0; i < n; i++) {
			rcpts[i].address = items[i].address;
			rcpts[i].folder = items[i].folder;
			rcpts[i].quota = items[i].quota;
		}
		(void)store_deliver(spool, rcpts, n, results);
		for (size_t i = 0; i < n; i++)
			store_reply(r->cfg, &results[i], &replies[i]);
		free(rcpts);
		free(results);
	}
	store_spool_free(&spool);
	buf_release(&rp);
	/* One result per envelope recipient: its first failure wins. The
	 * items of one recipient are next to each other (route_rcpt). */
	for (size_t i = 0; i < n;) {
		size_t pick = i, k = i;
		for (; k < n && items[k].rcpt == items[i].rcpt; k++)
			if (replies[pick].code / 100 == 2 && replies[k].code / 100 != 2)
				pick = k;
		rmsg_result(m, items[i].rcpt, &replies[pick], NULL, false);
		i = k;
	}
	free(replies);
}

/* ---- the start of a run ---- */

struct remote_group {
	char *domain;
	struct rreq *rq;
};

static void
group_add(struct rmsg *m, struct remote_group **groups, size_t *ngroups, const char *domain,
	  size_t rcpt)
{
	struct rreq *rq = NULL;

	for (size_t g = 0; g < *ngroups; g++)
		if (strcasecmp((*groups)[g].domain, domain) == 0)
			rq = (*groups)[g].rq;
	if (rq == NULL) {
		*groups = xreallocarray(*groups, *ngroups + 1, sizeof(**groups));
		rq = xcalloc(1, sizeof(*rq));
		rq->msg = m;
		rq->rcpts = xcalloc(m->env->rcpt_count, sizeof(*rq->rcpts));
		(*groups)[*ngroups].domain = xstrdup(domain);
		(*groups)[*ngroups].rq = rq;
		(*ngroups)++;
	}
	rq->rcpts[rq->n++] = rcpt;
}

/* Where recipient i goes: local users (items), a forward (externals), a
 * remote group, or an immediate result. */
static void
route_rcpt(struct rmsg *m, size_t i, struct local_item **items, size_t *nitems,
	   struct remote_group **groups, size_t *ngroups)
{
	struct runner *r = m->r;
	const char *addr = m->env->rcpts[i].addr;
	const char *at = strrchr(addr, '@');
	struct accounts_rcpt ar = {0};
	struct smtpc_reply reply;
	struct buf canon;
	const char *error;
	int status;

	buf_init(&canon, QUEUE_ADDR_MAX + 1);
	if (at == NULL || at[1] == '\0') {
		status = ACCOUNTS_RCPT_INVALID;
	} else if (at[1] == '[') {
		status = ACCOUNTS_RCPT_NOT_LOCAL; /* no local address literals */
	} else if (addr_canon(addr, &canon, &error) < 0) {
		status = ACCOUNTS_RCPT_INVALID;
	} else {
		status = accounts_resolve(r->accounts, buf_cstr(&canon), &ar, &error);
	}
	switch (status) {
	case ACCOUNTS_RCPT_NOT_LOCAL:
		group_add(m, groups, ngroups, r->cfg->delivery_relayhost != NULL ? "" : at + 1, i);
		break;
	case ACCOUNTS_RCPT_FOUND: {
		const char *plus = strchr(addr, ADDR_TAG_SEP);
		for (size_t k = 0; k < ar.local_count; k++) {
			struct accounts_user user = {0};
			*items = xreallocarray(*items, *nitems + 1, sizeof(**items));
			struct local_item *it = &(*items)[(*nitems)++];
			it->rcpt = i;
			it->address = xstrdup(ar.local[k].address);
			it->folder = NULL;
			if (ar.local[k].tag != NULL && plus != NULL && plus < at)
				it->folder = xstrndup(plus + 1, (size_t)(at - plus - 1));
			it->quota = 0;
			if (accounts_user_get(r->accounts, it->address, &user, &error) == 0)
				it->quota = user.quota;
			accounts_user_clear(&user);
		}
		if (ar.external_count > 0) {
			char id[QUEUE_ID_SIZE];
			size_t len;
			const char *content = rmsg_content(m, &len);
			if (content == NULL ||
			    runner_queue_message(r, m->env->sender,
						 (const char *const *)ar.external,
						 ar.external_count, m->env->body, m->env->smtputf8,
						 content, len, id, &error) < 0) {
				local_reply(&reply, 451, "4.3.0", "forwarding failed");
				rmsg_result(m, i, &reply, NULL, false);
			} else if (ar.local_count == 0) {
				log_info("%s: <%s> forwarded as %s", m->id, addr, id);
				local_reply(&reply, 250, "2.1.5", "forwarded");
				rmsg_result(m, i, &reply, NULL, false);
			}
		}
		break;
	}
	case ACCOUNTS_RCPT_UNKNOWN:
		local_reply(&reply, 550, "5.1.1", "user unknown");
		rmsg_result(m, i, &reply, NULL, false);
		break;
	case ACCOUNTS_RCPT_LOOP:
		local_reply(&reply, 550, "5.4.6", "alias loop");
		rmsg_result(m, i, &reply, NULL, false);
		break;
	case ACCOUNTS_RCPT_INVALID:
		local_reply(&reply, 553, "5.1.3", "bad address syntax");
		rmsg_result(m, i, &reply, NULL, false);
		break;
	default:
		log_error("%s: resolving <%s>: %s", m->id, addr, error);
		local_reply(&reply, 451, "4.3.0", "temporary lookup failure");
		rmsg_result(m, i, &reply, NULL, false);
		break;
	}
	accounts_rcpt_clear(&ar);
	buf_release(&canon);
}

void
rmsg_start(struct runner *r, struct queue_msg *qm)
{
	struct rmsg *m = xcalloc(1, sizeof(*m));
	const struct queue_envelope *env = queue_msg_envelope(qm);
	time_t now = time(NULL);
	struct local_item *items = NULL;
	size_t nitems = 0, ngroups = 0;
	struct remote_group *groups = NULL;

	m->r = r;
	m->qm = qm;
	m->env = env;
	str_copy(m->id, sizeof(m->id), env->id);
	size_t n = env->rcpt_count;
	m->nrcpts = n;
	m->failed = xcalloc(n, sizeof(*m->failed));
	m->failed_reply = xcalloc(n, sizeof(*m->failed_reply));
	for (size_t i = 0; i < n; i++)
		buf_init(&m->failed_reply[i], REPLY_TEXT_MAX + 64);
	m->failed_remote = xcalloc(n, sizeof(*m->failed_remote));
	m->failed_stage = xcalloc(n, sizeof(*m->failed_stage));
	m->notify_success = xcalloc(n, sizeof(*m->notify_success));
	m->relayed = xcalloc(n, sizeof(*m->relayed));
	m->next = r->active;
	if (r->active != NULL)
		r->active->prev = m;
	r->active = m;
	r->nactive++;
	/* A token for the start itself, so that a request answered at once
	 * cannot end the run before every request is out. */
	m->requests = 1;

	for (size_t i = 0; i < n; i++) {
		const struct queue_rcpt *rc = &env->rcpts[i];
		if (rc->state == QUEUE_RCPT_DELIVERED || rc->state == QUEUE_RCPT_FAILED)
			continue;
		if (rc->next_attempt > now)
			continue;
		route_rcpt(m, i, &items, &nitems, &groups, &ngroups);
	}
	if (nitems > 0) {
		deliver_local(m, items, nitems);
		if (ngroups > 0)
			rmsg_sync(m);
	}
	for (size_t i = 0; i < nitems; i++) {
		free(items[i].address);
		free(items[i].folder);
	}
	free(items);
	for (size_t g = 0; g < ngroups; g++) {
		m->requests++;
		rdest_submit(r, groups[g].domain, groups[g].rq);
		free(groups[g].domain);
	}
	free(groups);
	if (ngroups > 0)
		rdest_dispatch_all(r);
	rmsg_request_done(m);
}

/* ---- DSNs and the end of the run ---- */

int
runner_queue_message(struct runner *r, const char *sender, const char *const *rcpts, size_t n,
		     enum queue_body body, bool smtputf8, const char *content, size_t len,
		     char id_r[QUEUE_ID_SIZE], const char **error_r)
{
	struct queue_writer *w = NULL;
	struct queue_params params = {.body = body, .smtputf8 = smtputf8};
	struct queue_client client = {.protocol = "local"};

	if (queue_writer_create(r->q, &w, error_r) < 0)
		return -1;
	str_copy(id_r, QUEUE_ID_SIZE, queue_writer_id(w));
	if (queue_writer_set_sender(w, sender, error_r) < 0 ||
	    queue_writer_set_params(w, &params, error_r) < 0 ||
	    queue_writer_set_client(w, &client, error_r) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if (queue_writer_add_rcpt(w, rcpts[i], NULL, 0, error_r) < 0)
			goto fail;
	if (queue_writer_write(w, content, len, error_r) < 0)
		goto fail;
	return queue_writer_commit(&w, error_r);
fail:
	queue_writer_abort(&w);
	return -1;
}

static bool
wants(unsigned notify, unsigned bit)
{
	/* No NOTIFY: failures and delays are reported (RFC 3461 4.1). */
	if (notify == 0)
		return bit != QUEUE_NOTIFY_SUCCESS;
	return (notify & bit) != 0;
}

/* Build and queue one DSN to the sender for the recipients in which[]. */
static int
send_dsn(struct rmsg *m, const bool *which, enum dsn_action action, time_t now)
{
	struct runner *r = m->r;
	const struct queue_envelope *env = m->env;
	struct dsn_rcpt *rcpts = xcalloc(env->rcpt_count, sizeof(*rcpts));
	char **statuses = xcalloc(env->rcpt_count, sizeof(*statuses));
	size_t n = 0, len = 0;
	const char *content = rmsg_content(m, &len), *error = "queue file read error";
	int ret = -1;

	for (size_t i = 0; i < env->rcpt_count; i++) {
		if (!which[i])
			continue;
		const struct queue_rcpt *rc = &env->rcpts[i];
		struct dsn_rcpt *d = &rcpts[n++];
		d->addr = rc->addr;
		d->orcpt = rc->orcpt;
		d->action = action == DSN_DELIVERED && m->relayed[i] ? DSN_RELAYED : action;
		d->last_attempt = now;
		if (action == DSN_FAILED) {
			d->diagnostic = buf_cstr(&m->failed_reply[i]);
			d->remote_mta = m->failed_remote[i];
		} else if (action == DSN_DELAYED) {
			d->diagnostic = rc->reply;
			d->remote_mta = rc->remote;
			d->will_retry_until = env->arrival + (time_t)r->cfg->delivery_max_lifetime;
		}
		/* "550 5.1.1 text": the enhanced code is the status, when its
		 * class is the reply's (a "550 2.0.0" must not report success). */
		const char *sp = d->diagnostic != NULL ? strchr(d->diagnostic, ' ') : NULL;
		if (sp != NULL && sp[1] >= '2' && sp[1] <= '5' && sp[2] == '.' &&
		    sp[1] == d->diagnostic[0]) {
			size_t k = strcspn(sp + 1, " ");
			statuses[i] = xstrndup(sp + 1, k);
			d->status = statuses[i];
		}
		if (action == DSN_FAILED && d->remote_mta != NULL)
			d->reply_command = m->failed_stage[i];
	}
	if (content != NULL) {
		struct dsn_msg dm = {
		    .reporting_mta = r->cfg->hostname,
		    .sender = env->sender,
		    .envid = env->envid,
		    .received_from = env->client_name != NULL ? env->client_name : env->client_addr,
		    .arrival = env->arrival,
		    .now = now,
		    .queue_id = env->id,
		    .ret = env->ret,
		    .smtputf8 = env->smtputf8,
		    .original = content,
		    .original_len = len,
		    .max_original = (size_t)r->cfg->delivery_bounce_size_limit,
		    .rcpts = rcpts,
		    .nrcpts = n,
		};
		struct buf out;
		bool eightbit = false;
		char id[QUEUE_ID_SIZE];
		buf_init(&out, QUEUE_CONTENT_MAX);
		const char *to = env->sender;
		if (dsn_build(&dm, &out, &eightbit, &error) == 0 &&
		    runner_queue_message(r, "", &to, 1,
					 eightbit ? QUEUE_BODY_8BITMIME : QUEUE_BODY_NONE,
					 env->smtputf8, out.data, out.len, id, &error) == 0) {
			log_info("%s: sender %s notification: %s", m->id,
				 action == DSN_FAILED	 ? "non-delivery"
				 : action == DSN_DELAYED ? "delay"
							 : "delivery",
				 id);
			ret = 0;
		}
		buf_release(&out);
	}
	if (ret < 0)
		log_error("%s: cannot queue the notification to <%s>: %s", m->id, env->sender,
			  error);
	for (size_t i = 0; i < env->rcpt_count; i++)
		free(statuses[i]);
	free(statuses);
	free(rcpts);
	return ret;
}

/* Failures: queue the bounce (when due), then record them. A bounce that
 * cannot be queued leaves the recipients pending, to fail again later. */
static void
finish_failures(struct rmsg *m, time_t now)
{
	const struct queue_envelope *env = m->env;
	bool *report = xcalloc(env->rcpt_count, sizeof(*report));
	bool any = false, queued = true;
	const char *error;

	for (size_t i = 0; i < env->rcpt_count; i++)
		if (m->failed[i] && env->sender[0] != '\0' &&
		    wants(env->rcpts[i].notify, QUEUE_NOTIFY_FAILURE))
			report[i] = any = true;
	if (any)
		queued = send_dsn(m, report, DSN_FAILED, now) == 0;
	for (size_t i = 0; i < env->rcpt_count; i++) {
		if (!m->failed[i])
			continue;
		struct queue_attempt a = {
		    .state = queued ? QUEUE_RCPT_FAILED : QUEUE_RCPT_PENDING,
		    .when = now,
		    .next_attempt = now + backoff(m->r->cfg, env->rcpts[i].attempts + 1),
		    .remote = m->failed_remote[i],
		    .reply = buf_cstr(&m->failed_reply[i]),
		};
		if (queue_msg_record_attempt(m->qm, i, &a, &error) < 0)
			log_error("%s: recording the failure of <%s>: %s", m->id,
				  env->rcpts[i].addr, error);
	}
	free(report);
}

static void
finish_delays(struct rmsg *m, time_t now)
{
	const struct config *cfg = m->r->cfg;
	const struct queue_envelope *env = m->env;
	const char *error;
	bool any = false;

	if (cfg->delivery_delay_warning == 0 || env->sender[0] == '\0' ||
	    now - env->arrival < (time_t)cfg->delivery_delay_warning)
		return;
	bool *report = xcalloc(env->rcpt_count, sizeof(*report));
	for (size_t i = 0; i < env->rcpt_count; i++)
		if (env->rcpts[i].state == QUEUE_RCPT_PENDING && env->rcpts[i].attempts > 0 &&
		    wants(env->rcpts[i].notify, QUEUE_NOTIFY_DELAY))
			report[i] = any = true;
	if (any && send_dsn(m, report, DSN_DELAYED, now) == 0)
		for (size_t i = 0; i < env->rcpt_count; i++)
			if (report[i] && queue_msg_mark_delayed(m->qm, i, &error) < 0)
				log_error("%s: %s", m->id, error);
	free(report);
}

static void
rmsg_free(struct rmsg *m)
{
	size_t n = m->nrcpts;

	for (size_t i = 0; i < n; i++) {
		buf_release(&m->failed_reply[i]);
		free(m->failed_remote[i]);
	}
	free(m->failed_reply);
	free(m->failed_remote);
	free(m->failed_stage);
	free(m->failed);
	free(m->notify_success);
	free(m->relayed);
	free(m->content);
	free(m);
}

static void
rmsg_finish(struct rmsg *m)
{
	struct runner *r = m->r;
	time_t now = time(NULL);
	bool any = false;

	finish_failures(m, now);
	finish_delays(m, now);
	for (size_t i = 0; i < m->env->rcpt_count; i++)
		any |= m->notify_success[i];
	if (any && m->env->sender[0] != '\0')
		(void)send_dsn(m, m->notify_success, DSN_DELIVERED, now);
	runner_finish_later(r, m->qm);
	m->qm = NULL;
	if (m->prev != NULL)
		m->prev->next = m->next;
	else
		r->active = m->next;
	if (m->next != NULL)
		m->next->prev = m->prev;
	r->nactive--;
	m->env = NULL; /* freed with qm */
	rmsg_free(m);
	runner_slot_free(r);
}
