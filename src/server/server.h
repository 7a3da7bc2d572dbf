/* server.h - what a worker process serves: listeners, connections, shared
 * limits, TLS context. One struct server per process; the master fills it,
 * each forked worker runs its own event loop over it.
 */
#ifndef POSTERN_SERVER_H
#define POSTERN_SERVER_H

#include "lib/common.h"

#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "lib/config.h"
#include "server/limits.h"

struct accounts;
struct auth_penalty;
struct auth_verifier;
struct conn;
struct peer;
struct queue;
struct store;
struct workpool;

struct listener {
	enum service svc;
	char name[96]; /* "smtp 127.0.0.1:2525" */
	char host[64]; /* as bound: numeric, never "*" */
	uint16_t port;
	int fd;
	struct server *srv;
	struct evconnlistener *evl; /* worker side */
};

struct server {
	struct config *cfg;
	SSL_CTX *tls;
	struct limits *limits;
	int limits_row;
	struct auth_penalty *penalty; /* failed logins per address, shared */
	struct listener *listeners;
	size_t listener_count;

	/* worker side */
	unsigned worker_index;
	struct event_base *base;
	struct conn *conns; /* every open connection */
	size_t conn_count;
	/* Opened by the worker after fork (worker_resources), used by every
	 * session of the worker. */
	struct accounts *accounts;
	struct store *store;
	struct queue *queue;
	struct auth_verifier *auth;
	struct workpool *delivery; /* SMTP deliveries (smtp/smtpd_deliver.h) */
	unsigned long messages; /* counter for message ids */

	/* handoff.h: this worker's listening socket for the other workers,
	 * their connections to it, its own connections to them (by row, made
	 * on first use), and the master's pid (in the names). */
	bool handoff_open;
	int handoff_in;
	struct event *handoff_ev;
	struct peer *handoff_peers;
	int handoff_to[LIMITS_ROWS];
	pid_t master_pid;

	bool retiring;  /* replaced by a reload: no new connections */
	bool stopping;  /* told to stop: sessions finish within server.grace */
	struct event *stop_timer;
};

/* Run a worker's event loop until it is told to stop and its sessions are
 * done or the grace period has passed. Called in the forked child after
 * privileges have been dropped. Returns the exit status. */
int worker_run(struct server *srv);

/* The accounts database, mail store, queue and password verifier of this
 * worker, opened on first use. Returns -1 (logged) when one cannot be
 * opened: sessions then answer with a temporary error. */
int worker_resources(struct server *srv);

/* Called by conn.c when the last connection of a stopping worker closes. */
void worker_idle(struct server *srv);

#endif
