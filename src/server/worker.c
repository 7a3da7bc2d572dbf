/* worker.c - a worker process: one event loop serving every listener. */
#include "lib/common.h"

#include <signal.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "auth/verify.h"
#include "lib/log.h"
#include "lib/workpool.h"
#include "queue/queue.h"
#include "server/conn.h"
#include "server/handoff.h"
#include "server/server.h"
#include "smtp/smtpd_deliver.h"
#include "store/accounts.h"
#include "store/store.h"

static void
stop_now(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	if (srv->conn_count > 0)
		log_notice("grace period over, closing %zu sessions", srv->conn_count);
	event_base_loopexit(srv->base, NULL);
}

int
worker_resources(struct server *srv)
{
	const char *error;

	/* The worker has chdir'd into the data directory. */
	if (srv->accounts == NULL && accounts_open(".", &srv->accounts, &error) < 0) {
		log_error("accounts database: %s", error);
		return -1;
	}
	if (srv->store == NULL) {
		if (store_open(".", srv->cfg->hostname, &srv->store, &error) < 0) {
			log_error("mail store: %s", error);
			return -1;
		}
		/* Spool files of a process killed mid-delivery. */
		if (store_cleanup_spool(srv->store, STORE_SPOOL_STALE_SECS, &error) < 0)
			log_error("mail store: %s", error);
	}
	if (srv->queue == NULL && queue_open(QUEUE_DIR, &srv->queue, &error) < 0) {
		log_error("queue: %s", error);
		return -1;
	}
	if (srv->delivery == NULL)
		srv->delivery = smtpd_delivery_pool_new(srv);
	if (srv->auth == NULL) {
		srv->auth =
		    auth_verifier_new(srv->base, srv->cfg->auth_threads, srv->cfg->auth_cache_ttl,
				      srv->cfg->auth_failure_delay);
		auth_verifier_set_penalty(srv->auth, srv->penalty, srv->cfg->auth_max_failures,
					  srv->cfg->auth_failure_window);
	}
	return 0;
}

static void
resources_close(struct server *srv)
{
	workpool_free(&srv->delivery);
	auth_verifier_free(&srv->auth);
	queue_close(&srv->queue);
	store_close(&srv->store);
	accounts_close(&srv->accounts);
}

void
worker_idle(struct server *srv)
{
	event_base_loopexit(srv->base, NULL);
}

static void
close_listeners(struct server *srv)
{
	handoff_stop_accepting(srv);
	for (size_t i = 0; i < srv->listener_count; i++) {
		if (srv->listeners[i].evl != NULL)
			evconnlistener_free(srv->listeners[i].evl);
		srv->listeners[i].evl = NULL;
	}
}

/* SIGTERM, SIGINT: stop. Sessions are asked to finish at their next safe
 * point and get server.grace to do it. */
static void
worker_stop(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	struct timeval grace = {.tv_sec = srv->cfg->grace};

	if (srv->stopping)
		return;
	srv->stopping = true;
	close_listeners(srv);
	log_info("stopping: %zu sessions to finish", srv->conn_count);
	conn_shutdown_all(srv);
	if (srv->conn_count == 0) {
		event_base_loopexit(srv->base, NULL);
		return;
	}
	if (srv->stop_timer != NULL)
		event_free(srv->stop_timer);
	srv->stop_timer = evtimer_new(srv->base, stop_now, srv);
	evtimer_add(srv->stop_timer, &grace);
}

static void
retire_over(evutil_socket_t fd, short what, void *arg)
{
	worker_stop(SIGTERM, 0, arg);
}

/* SIGUSR1: a reload replaced this worker. Accept nothing more; serve the
 * open sessions until they end, for at most server.reload_grace, then stop
 * as for SIGTERM. */
static void
worker_retire(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	struct timeval limit = {.tv_sec = srv->cfg->reload_grace};

	if (srv->retiring || srv->stopping)
		return;
	srv->retiring = true;
	close_listeners(srv);
	log_info("replaced by a reload: %zu sessions still open", srv->conn_count);
	if (srv->conn_count == 0) {
		event_base_loopexit(srv->base, NULL);
		return;
	}
	srv->stop_timer = evtimer_new(srv->base, retire_over, srv);
	evtimer_add(srv->stop_timer, &limit);
}

static void
resume_accept(evutil_socket_t fd, short what, void *arg)
{
	evconnlistener_enable(arg);
}

static void
accept_error(struct evconnlistener *evl, void *arg)
{
	struct listener *l = arg;
	int err = EVUTIL_SOCKET_ERROR();

	/* EMFILE/ENFILE/ENOBUFS: keep serving; libevent retries on the next
	 * readiness. Pause briefly so that a full fd table does not spin. */
	log_error("%s: accept: %s", l->name, evutil_socket_error_to_string(err));
	if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
		struct timeval pause = {.tv_sec = 0, .tv_usec = 100000};
		evconnlistener_disable(evl);
		event_base_once(l->srv->base, -1, EV_TIMEOUT, resume_accept, evl, &pause);
	}
}

/* Store handles kept for the next session or delivery of a user are
 * closed after this long unused. */
#define HOUSEKEEPING_SECS 60
#define STORE_HANDLE_IDLE_SECS 300

static void
housekeeping(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	if (srv->store != NULL)
		store_cache_trim(srv->store, STORE_HANDLE_IDLE_SECS);
}

int
worker_run(struct server *srv)
{
	const int signals[] = {SIGTERM, SIGINT, SIGUSR1};
	struct event *sigs[N_ELEMENTS(signals)];

	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	srv->base = event_base_new();
	if (srv->base == NULL)
		fatal("event_base_new failed");
	/* SIGHUP: the master reloads by replacing workers. */
	signal(SIGHUP, SIG_IGN);
	for (size_t i = 0; i < N_ELEMENTS(signals); i++) {
		sigs[i] = evsignal_new(srv->base, signals[i],
				       signals[i] == SIGUSR1 ? worker_retire : worker_stop, srv);
		evsignal_add(sigs[i], NULL);
	}
	for (size_t i = 0; i < srv->listener_count; i++) {
		struct listener *l = &srv->listeners[i];
		l->srv = srv;
		l->evl =
		    evconnlistener_new(srv->base, conn_accept, l, LEV_OPT_CLOSE_ON_FREE, -1, l->fd);
		if (l->evl == NULL)
			fatal("%s: cannot listen: %s", l->name, strerror(errno));
		evconnlistener_set_error_cb(l->evl, accept_error);
	}
	log_debug("serving %zu listeners", srv->listener_count);
	(void)worker_resources(srv);
	/* Connections are handed to this worker only once it is about to
	 * run its loop (opening the databases may take a while). */
	(void)handoff_open(srv);
	struct event *hk = event_new(srv->base, -1, EV_PERSIST, housekeeping, srv);
	struct timeval every = {.tv_sec = HOUSEKEEPING_SECS};
	event_add(hk, &every);
	event_base_dispatch(srv->base);
	event_free(hk);
	handoff_close(srv);
	resources_close(srv);
	for (size_t i = 0; i < N_ELEMENTS(signals); i++)
		event_free(sigs[i]);
	if (srv->stop_timer != NULL)
		event_free(srv->stop_timer);
	return 0;
}
