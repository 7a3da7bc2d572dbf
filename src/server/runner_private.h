/* runner_private.h - the queue runner's parts (runner.c: the process,
 * scanning and scheduling; runner_msg.c: one message's delivery run, local
 * copies, results, DSNs; runner_dest.c: destinations, routes and SMTP
 * connections). docs/outbound.md describes the behaviour.
 *
 * A message is "active" from queue_msg_open() to queue_msg_finish(): its
 * due recipients are split into one local group (delivered at once, in the
 * store) and one request per remote destination (domain, or the relay
 * host). Requests wait in their destination's list until a connection is
 * free; each connection carries requests one transaction at a time. When
 * the message's last request is answered, its results are made durable,
 * DSNs queued, and the message finished.
 */
#ifndef POSTERN_RUNNER_PRIVATE_H
#define POSTERN_RUNNER_PRIVATE_H

#include "lib/common.h"

#include <event2/event.h>
#include <openssl/ssl.h>

#include "lib/buf.h"
#include "queue/queue.h"
#include "smtp/dns.h"
#include "smtp/smtpc.h"

struct accounts;
struct config;
struct server;
struct store;
struct submit_server;

/* Messages open at once (each holds a descriptor and a lock). */
#define RUNNER_ACTIVE_MAX 1000
/* Due messages remembered beyond those; more wait for the next scan. */
#define RUNNER_BACKLOG_MAX 100000
/* A destination's route is looked up again after this long. */
#define RUNNER_ROUTE_TTL 300
/* An idle connection is kept this long for the next request. */
#define RUNNER_IDLE_SECS 5

struct rmsg;
struct rdest;

/* The recipients of one message for one destination. */
struct rreq {
	struct rmsg *msg;
	struct rdest *dest;
	size_t *rcpts; /* indices into the envelope's recipients */
	size_t n;
	struct rreq *next; /* in the destination's waiting list */
};

/* One open message. */
struct rmsg {
	struct runner *r;
	struct rmsg *prev, *next; /* active list */
	char id[QUEUE_ID_SIZE];
	struct queue_msg *qm;
	const struct queue_envelope *env; /* owned by qm */
	size_t nrcpts;
	size_t requests; /* remote requests not yet answered */
	/* What the run decided per recipient, applied at the end. */
	bool *failed;		  /* final failure: recorded after the bounce is queued */
	struct buf *failed_reply; /* per recipient, the reply or reason (failed) */
	char **failed_remote;
	const char **failed_stage; /* the command the reply answered (static) */
	bool *notify_success;	   /* delivered, and a success DSN is due */
	bool *relayed;		   /* delivered to a next hop without DSN */
	char *content;		   /* loaded on first need (local copies, conversion, DSN) */
	size_t content_len;
	bool content_loaded;
};

/* A destination: a domain, or the relay host. */
struct rdest {
	struct runner *r;
	struct rdest *next; /* hash chain */
	char *key;	    /* lower-case domain, or the relay host as written */
	char *lookup;	    /* name to route: domain or relay host name */
	unsigned lookup_flags;
	uint16_t port;
	struct rreq *head, *tail; /* waiting */
	size_t waiting;
	unsigned active;	 /* connections open or opening */
	struct dns_query *dq;	 /* route lookup in flight */
	struct dns_route *route; /* the last route found (a copy) */
	time_t route_time;
	struct rconn *idle; /* idle connections */
};

/* One SMTP connection of a destination. */
struct rconn {
	struct rdest *dest;
	struct rconn *next; /* in the idle list */
	struct smtpc *c;
	struct rreq *req;     /* the transaction in progress, or the one to send */
	size_t host, addr;    /* position in the route */
	bool plain;	      /* retrying this address without STARTTLS */
	unsigned addrs_tried; /* for the request in hand (delivery.mx_address_limit) */
	unsigned sessions;    /* ... and answered connections (delivery.mx_session_limit) */
	struct smtpc_msg msg; /* the transaction being sent */
	struct smtpc_rcpt *rcpts;
	struct buf converted;	       /* 7-bit copy of the content, when needed */
	struct smtpc_reply last_error; /* why the last address failed */
	bool have_error;
	struct event *idle_timer;
};

struct runner {
	struct server *srv;
	const struct config *cfg;
	struct event_base *base;
	struct queue *q;
	struct accounts *accounts;
	struct store *store;
	struct dns *dns;
	SSL_CTX *tls;
	struct smtpc_config smtpc;
	struct smtpc_config smtpc_plain; /* the same without STARTTLS */
	struct submit_server *submit;

	struct rmsg *active; /* open messages */
	size_t nactive;
	struct rdest **dests; /* hash table */
	size_t ndest_buckets;
	unsigned connections; /* open or opening, all destinations */

	struct queue_msg **finishing; /* ended runs, finished together */
	size_t nfinishing, finishing_alloc;
	struct event *finish_ev;

	struct event *scan_timer; /* next scan (the earliest due time) */
	bool scan_pending;
	bool scan_again; /* the backlog overflowed: scan when it is empty */
	/* Due messages waiting for a free slot (RUNNER_ACTIVE_MAX), oldest
	 * first: backlog[backlog_head..backlog_len). */
	char (*backlog)[QUEUE_ID_SIZE];
	size_t backlog_head, backlog_len, backlog_alloc;
	bool in_slot_free;
	/* New messages still locked by their writer, tried again shortly. */
	struct runner_busy {
		char id[QUEUE_ID_SIZE];
		unsigned tries;
	} * busy;
	size_t nbusy, busy_alloc;
	struct event *busy_timer;
	int inotify_fd;
	struct event *inotify_ev;
	bool stopping;
	struct event *stop_timer;
};

/* runner.c */
/* Scan the queue soon (from the loop, coalesced). */
void runner_scan_soon(struct runner *r);
/* Open message id and start its run unless it is active, held, busy or
 * not due. */
void runner_start_message(struct runner *r, const char *id);
/* A message left the active list: start waiting ones. */
void runner_slot_free(struct runner *r);
/* Finish qm (remove or move it) with the others ended in this turn of
 * the loop: their removals share one fsync per directory. */
void runner_finish_later(struct runner *r, struct queue_msg *qm);
/* The stopping runner exits once nothing is in flight. */
void runner_check_idle(struct runner *r);

/* runner_msg.c */
/* Start the run of an opened message: every due recipient to its group. */
void rmsg_start(struct runner *r, struct queue_msg *qm);
/* The result of one attempt for recipient i (of a remote request or local
 * delivery): code/enhanced/text as an SMTP reply; remote NULL = local. */
void rmsg_result(struct rmsg *m, size_t i, const struct smtpc_reply *reply, const char *remote,
		 bool peer_dsn);
/* A reply made by the runner itself (generated). */
void runner_reply(struct smtpc_reply *reply, unsigned code, const char *enhanced, const char *text,
		  const char *stage);
/* Make the recorded results durable (after each transaction). */
void rmsg_sync(struct rmsg *m);
/* One request of m is answered (results recorded); the last one ends the
 * run. */
void rmsg_request_done(struct rmsg *m);
/* The content, loaded on first call; NULL when it cannot be read. */
const char *rmsg_content(struct rmsg *m, size_t *len_r);
/* Queue a new message (DSNs, forwarded copies): returns 0 with its id. */
int runner_queue_message(struct runner *r, const char *sender, const char *const *rcpts, size_t n,
			 enum queue_body body, bool smtputf8, const char *content, size_t len,
			 char id_r[QUEUE_ID_SIZE], const char **error_r);

/* runner_dest.c */
/* Queue request rq on its destination (found or made for domain). */
void rdest_submit(struct runner *r, const char *domain, struct rreq *rq);
/* Start connections where the limits allow. */
void rdest_dispatch_all(struct runner *r);
/* Stopping: drop the waiting requests (untried), close idle connections. */
void rdest_stop(struct runner *r);
/* Close every connection and forget every destination (at exit). */
void rdest_free_all(struct runner *r);

#endif
