/* runner.c - the queue runner process: set-up, scanning, wake-ups. */
#include "lib/common.h"

#include <signal.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/tls.h"
#include "lib/xalloc.h"
#include "queue/submit.h"
#include "server/runner.h"
#include "server/runner_private.h"
#include "server/server.h"
#include "store/accounts.h"
#include "store/store.h"

static bool
is_active(const struct runner *r, const char *id)
{
	for (const struct rmsg *m = r->active; m != NULL; m = m->next)
		if (strcmp(m->id, id) == 0)
			return true;
	return false;
}

static void
backlog_push(struct runner *r, const char *id)
{
	if (r->backlog_len - r->backlog_head >= RUNNER_BACKLOG_MAX) {
		r->scan_again = true;
		return;
	}
	if (r->backlog_head > 0 && r->backlog_len == r->backlog_alloc) {
		/* Slide the live part to the front. */
		memmove(r->backlog, r->backlog + r->backlog_head,
			(r->backlog_len - r->backlog_head) * sizeof(*r->backlog));
		r->backlog_len -= r->backlog_head;
		r->backlog_head = 0;
	}
	if (r->backlog_len == r->backlog_alloc) {
		r->backlog_alloc = r->backlog_alloc == 0 ? 256 : r->backlog_alloc * 2;
		r->backlog = xreallocarray(r->backlog, r->backlog_alloc, sizeof(*r->backlog));
	}
	str_copy(r->backlog[r->backlog_len++], QUEUE_ID_SIZE, id);
}

void
runner_slot_free(struct runner *r)
{
	/* A run that ends inside runner_start_message calls this again:
	 * the outer loop goes on instead (no recursion per message). */
	if (r->in_slot_free)
		return;
	r->in_slot_free = true;
	while (r->nactive < RUNNER_ACTIVE_MAX && r->backlog_head < r->backlog_len && !r->stopping) {
		char id[QUEUE_ID_SIZE];
		str_copy(id, sizeof(id), r->backlog[r->backlog_head++]);
		runner_start_message(r, id);
	}
	r->in_slot_free = false;
	if (r->backlog_head == r->backlog_len) {
		r->backlog_head = r->backlog_len = 0;
		if (r->scan_again)
			runner_scan_soon(r);
	}
}

/* Returns QUEUE_SKIP when the message is busy (or gone), else 0. */
static int
try_start(struct runner *r, const char *id)
{
	struct queue_msg *qm;
	const char *error;
	int ret;

	if (r->stopping || is_active(r, id))
		return 0;
	if (r->nactive >= RUNNER_ACTIVE_MAX) {
		backlog_push(r, id);
		return 0;
	}
	switch ((ret = queue_msg_open(r->q, id, &qm, &error))) {
	case 0:
		rmsg_start(r, qm);
		break;
	case QUEUE_SKIP:
		return QUEUE_SKIP;
	case QUEUE_CORRUPT_FILE:
		log_error("%s: queue file does not parse (%s): moved to queue/corrupt", id, error);
		if (queue_quarantine(r->q, id, &error) < 0)
			log_error("%s: quarantine: %s", id, error);
		break;
	default:
		log_error("%s: open: %s", id, error);
		break;
	}
	return 0;
}

void
runner_start_message(struct runner *r, const char *id)
{
	(void)try_start(r, id);
}

/* A message just committed may still be locked by its writer (inotify
 * reports the link into incoming/ before the writer's directory fsync and
 * close, which take long on a busy disk): try again every BUSY_RETRY_MS,
 * for up to BUSY_RETRIES times (30 s); the periodic scan covers the rest. */
#define BUSY_RETRY_MS 10
#define BUSY_RETRIES 3000

static void
busy_retry(evutil_socket_t fd, short what, void *arg)
{
	struct runner *r = arg;
	size_t keep = 0, n = r->nbusy;

	r->nbusy = 0; /* try_start may not add to it */
	for (size_t i = 0; i < n; i++) {
		struct runner_busy b = r->busy[i];
		if (try_start(r, b.id) == QUEUE_SKIP && ++b.tries < BUSY_RETRIES)
			r->busy[keep++] = b;
	}
	r->nbusy = keep;
	if (keep > 0) {
		struct timeval tv = {.tv_usec = BUSY_RETRY_MS * 1000};
		evtimer_add(r->busy_timer, &tv);
	}
}

/* A new message: start it, or retry soon while its writer holds it. */
static void
start_new(struct runner *r, const char *id)
{
	if (try_start(r, id) != QUEUE_SKIP)
		return;
	if (r->nbusy == r->busy_alloc) {
		r->busy_alloc = r->busy_alloc == 0 ? 64 : r->busy_alloc * 2;
		r->busy = xreallocarray(r->busy, r->busy_alloc, sizeof(*r->busy));
	}
	str_copy(r->busy[r->nbusy].id, QUEUE_ID_SIZE, id);
	r->busy[r->nbusy++].tries = 0;
	if (!evtimer_pending(r->busy_timer, NULL)) {
		struct timeval tv = {.tv_usec = BUSY_RETRY_MS * 1000};
		evtimer_add(r->busy_timer, &tv);
	}
}

static void
arm_scan(struct runner *r, time_t delay)
{
	struct timeval tv = {.tv_sec = delay};

	evtimer_add(r->scan_timer, &tv);
}

static void
scan(evutil_socket_t fd, short what, void *arg)
{
	struct runner *r = arg;
	struct queue_entry *entries = NULL;
	size_t n = 0;
	const char *error;

	r->scan_pending = false;
	if (r->stopping)
		return;
	time_t now = time(NULL);
	time_t next = now + r->cfg->delivery_scan_interval;
	r->scan_again = false;
	r->backlog_head = r->backlog_len = 0; /* the scan finds them again */
	if (queue_scan(r->q, &entries, &n, &error) < 0) {
		log_error("queue scan: %s", error);
		n = 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (entries[i].due > now) {
			next = MIN(next, entries[i].due);
			break; /* sorted by due time */
		}
		runner_start_message(r, entries[i].id);
	}
	free(entries);
	if (!r->scan_pending)
		arm_scan(r, MAX(next - now, 1));
}

void
runner_scan_soon(struct runner *r)
{
	if (r->scan_pending || r->stopping)
		return;
	r->scan_pending = true;
	evtimer_del(r->scan_timer);
	arm_scan(r, 0);
}

/* New names in queue/incoming: committed messages. */
static void
on_inotify(evutil_socket_t fd, short what, void *arg)
{
	struct runner *r = arg;
	char events[16384] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		ssize_t got = read(fd, events, sizeof(events));
		if (got <= 0)
			return;
		for (char *p = events; p < events + got;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			if ((ev->mask & IN_Q_OVERFLOW) != 0)
				runner_scan_soon(r);
			else if (ev->len > 0 && queue_id_valid(ev->name))
				start_new(r, ev->name);
			p += sizeof(*ev) + ev->len;
		}
	}
}

static void
submitted(const char *id, void *arg)
{
	start_new(arg, id);
}

/* True when some recipient of a deferred message is in domain. */
struct etrn_ctx {
	struct runner *r;
	const char *domain;
	size_t count;
	time_t now;
};

static int
etrn_one(const struct queue_info *info, void *arg)
{
	struct etrn_ctx *ctx = arg;
	const char *error;

	if (info->state != QUEUE_DEFERRED || info->env == NULL)
		return 0;
	/* "@example.org": the domain and its subdomains (RFC 1985 5.3). */
	bool subdomains = ctx->domain[0] == '@';
	const char *want = ctx->domain + subdomains;
	size_t wlen = strlen(want);
	for (size_t i = 0; i < info->env->rcpt_count; i++) {
		const char *at = strrchr(info->env->rcpts[i].addr, '@');
		if (at == NULL)
			continue;
		const char *dom = at + 1;
		size_t dlen = strlen(dom);
		bool match = strcasecmp(dom, want) == 0 ||
			     (subdomains && dlen > wlen + 1 && dom[dlen - wlen - 1] == '.' &&
			      strcasecmp(dom + dlen - wlen, want) == 0);
		if (match) {
			size_t n = 0;
			if (queue_flush(ctx->r->q, info->id, ctx->now, &n, &error) == 0)
				ctx->count += n;
			break;
		}
	}
	return 0;
}

static size_t
flush_requested(const char *id, const char *domain, void *arg)
{
	struct runner *r = arg;
	const char *error;
	size_t n = 0;

	if (domain != NULL) {
		struct etrn_ctx ctx = {.r = r, .domain = domain, .now = time(NULL)};
		if (queue_list_state(r->q, QUEUE_DEFERRED, etrn_one, &ctx, &error) < 0)
			log_error("ETRN %s: %s", domain, error);
		n = ctx.count;
		log_info("ETRN %s: %zu messages to deliver now", domain, n);
	} else if (queue_flush(r->q, id, time(NULL), &n, &error) < 0) {
		log_error("flush: %s", error);
	}
	runner_scan_soon(r);
	return n;
}

static void
exit_now(evutil_socket_t fd, short what, void *arg)
{
	struct runner *r = arg;

	if (r->nactive > 0)
		log_notice("stopping with %zu messages in flight: they will be retried",
			   r->nactive);
	event_base_loopexit(r->base, NULL);
}

static void
finish_batch(struct runner *r)
{
	const char *error;

	if (r->nfinishing == 0)
		return;
	if (queue_msg_finish_many(r->finishing, r->nfinishing, &error) < 0)
		log_error("finishing delivered messages: %s", error);
	r->nfinishing = 0;
}

static void
on_finish(evutil_socket_t fd, short what, void *arg)
{
	struct runner *r = arg;

	finish_batch(r);
	runner_check_idle(r);
}

void
runner_finish_later(struct runner *r, struct queue_msg *qm)
{
	if (r->nfinishing == r->finishing_alloc) {
		r->finishing_alloc = r->finishing_alloc == 0 ? 64 : r->finishing_alloc * 2;
		r->finishing =
		    xreallocarray(r->finishing, r->finishing_alloc, sizeof(*r->finishing));
	}
	r->finishing[r->nfinishing++] = qm;
	if (r->nfinishing == 1)
		event_active(r->finish_ev, EV_TIMEOUT, 0);
}

void
runner_check_idle(struct runner *r)
{
	if (r->stopping && r->nactive == 0 && r->nfinishing == 0)
		event_base_loopexit(r->base, NULL);
}

/* SIGTERM, SIGINT: finish the transactions in flight within server.grace.
 * SIGUSR1 (replaced by a reload): the same with server.reload_grace. */
static void
on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct runner *r = arg;
	struct timeval grace = {.tv_sec = sig == SIGUSR1 ? r->cfg->reload_grace : r->cfg->grace};

	if (r->stopping)
		return;
	r->stopping = true;
	evtimer_del(r->scan_timer);
	submit_server_free(&r->submit);
	log_info("stopping: %zu messages in flight", r->nactive);
	rdest_stop(r);
	r->stop_timer = evtimer_new(r->base, exit_now, r);
	evtimer_add(r->stop_timer, &grace);
	runner_check_idle(r);
}

static int
setup(struct runner *r)
{
	const struct config *cfg = r->cfg;
	const char *error;

	if (queue_open(QUEUE_DIR, &r->q, &error) < 0)
		return log_error("queue: %s", error), -1;
	if (accounts_open(".", &r->accounts, &error) < 0)
		return log_error("accounts database: %s", error), -1;
	if (store_open(".", cfg->hostname, &r->store, &error) < 0)
		return log_error("mail store: %s", error), -1;
	if (store_cleanup_spool(r->store, STORE_SPOOL_STALE_SECS, &error) < 0)
		log_error("mail store: %s", error);
	if (dns_new(r->base, cfg->dns_resolver, &r->dns, &error) < 0)
		return log_error("DNS: %s", error), -1;
	if (cfg->dns_trust_anchor != NULL &&
	    dns_set_trust_anchor(r->dns, cfg->dns_trust_anchor, &error) < 0)
		return log_error("DNS: %s", error), -1;
	if (cfg->delivery_tls != DELIVERY_TLS_NONE &&
	    (r->tls = tls_client_ctx_new(cfg->delivery_tls == DELIVERY_TLS_VERIFY, &error)) == NULL)
		return log_error("TLS client: %s", error), -1;
	r->smtpc.helo_name = cfg->hostname;
	r->smtpc.tls = cfg->delivery_tls;
	r->smtpc.tls_ctx = r->tls;
	r->smtpc.auth_user = cfg->delivery_relayhost_user;
	r->smtpc.auth_password = cfg->delivery_relayhost_password;
	r->smtpc.connect_timeout = cfg->delivery_connect_timeout;
	r->smtpc.timeout_scale = 1;
	r->smtpc_plain = r->smtpc;
	r->smtpc_plain.tls = DELIVERY_TLS_NONE;
	r->smtpc_plain.tls_ctx = NULL;

	static const struct submit_handlers handlers = {submitted, flush_requested};
	if (submit_server_new(r->base, r->q, cfg, SUBMIT_SOCKET, &handlers, r, &r->submit, &error) <
	    0)
		log_error("local submission socket %s: %s (postern sendmail will queue "
			  "directly when it can)",
			  SUBMIT_SOCKET, error);

	r->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (r->inotify_fd < 0 ||
	    inotify_add_watch(r->inotify_fd, QUEUE_DIR "/incoming", IN_CREATE | IN_MOVED_TO) < 0) {
		log_warning("inotify on %s/incoming: %s; new messages wait for the next scan",
			    QUEUE_DIR, strerror(errno));
	} else {
		r->inotify_ev =
		    event_new(r->base, r->inotify_fd, EV_READ | EV_PERSIST, on_inotify, r);
		event_add(r->inotify_ev, NULL);
	}
	r->scan_timer = evtimer_new(r->base, scan, r);
	r->finish_ev = event_new(r->base, -1, 0, on_finish, r);
	r->busy_timer = evtimer_new(r->base, busy_retry, r);
	runner_scan_soon(r);
	return 0;
}

static void
teardown(struct runner *r)
{
	rdest_free_all(r);
	if (r->finish_ev != NULL) {
		finish_batch(r);
		event_free(r->finish_ev);
	}
	free(r->finishing);
	free(r->backlog);
	free(r->busy);
	if (r->busy_timer != NULL)
		event_free(r->busy_timer);
	while (r->active != NULL) {
		struct rmsg *m = r->active;
		r->active = m->next;
		queue_msg_close(&m->qm);
		/* The rest of m is freed with the process. */
	}
	submit_server_free(&r->submit);
	if (r->inotify_ev != NULL)
		event_free(r->inotify_ev);
	if (r->inotify_fd >= 0)
		close(r->inotify_fd);
	if (r->scan_timer != NULL)
		event_free(r->scan_timer);
	if (r->stop_timer != NULL)
		event_free(r->stop_timer);
	dns_free(&r->dns);
	SSL_CTX_free(r->tls);
	store_close(&r->store);
	accounts_close(&r->accounts);
	queue_close(&r->q);
}

int
runner_run(struct server *srv)
{
	static const int signals[] = {SIGTERM, SIGINT, SIGUSR1};
	struct event *sigs[N_ELEMENTS(signals)];
	struct runner r = {.srv = srv, .cfg = srv->cfg, .inotify_fd = -1};

	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGHUP, SIG_IGN);
	/* The runner accepts no connections. */
	for (size_t i = 0; i < srv->listener_count; i++)
		if (srv->listeners[i].fd >= 0)
			close(srv->listeners[i].fd);
	r.base = event_base_new();
	if (r.base == NULL)
		fatal("event_base_new failed");
	srv->base = r.base;
	for (size_t i = 0; i < N_ELEMENTS(signals); i++) {
		sigs[i] = evsignal_new(r.base, signals[i], on_stop, &r);
		evsignal_add(sigs[i], NULL);
	}
	int status = 0;
	if (setup(&r) == 0) {
		event_base_dispatch(r.base);
		/* Connections closed at the stop are sending QUIT: give their
		 * answers a moment (they free themselves). */
		struct timeval drain = {.tv_usec = 200000};
		event_base_loopexit(r.base, &drain);
		event_base_dispatch(r.base);
	} else {
		status = 1;
	}
	teardown(&r);
	for (size_t i = 0; i < N_ELEMENTS(signals); i++)
		event_free(sigs[i]);
	event_base_free(r.base);
	return status;
}
