/* limits.h - connection counts shared by all workers.
 *
 * The master maps one shared table before forking. Each worker owns a row
 * (claimed by the master at fork, zeroed by the master when the worker dies,
 * so a crash never leaks counts). A connection is admitted by incrementing
 * the worker's own counters first, then summing every row: if a limit is
 * exceeded the increment is undone and the connection refused. Concurrent
 * admissions can therefore only refuse too eagerly for an instant, never
 * exceed a limit.
 *
 * Per-address counts live in hashed buckets (SipHash with a random key), so
 * two addresses sharing a bucket count together: a rare, conservative error.
 */
#ifndef POSTERN_LIMITS_H
#define POSTERN_LIMITS_H

#include "lib/common.h"

#include <sys/socket.h>

#include "lib/config.h"

#define LIMITS_ROWS 128
#define LIMITS_IP_BUCKETS 8192

enum limit_verdict {
	LIMIT_OK,
	LIMIT_TOTAL,  /* the service's max_connections */
	LIMIT_PER_IP, /* the service's max_per_ip */
};

struct limit_ticket {
	int row;
	enum service svc;
	uint32_t bucket;
};

struct limits;

/* Master: map the shared table (fatal on failure). */
struct limits *limits_create(void);
void limits_destroy(struct limits **l);

/* Master: claim a free row for a worker about to be forked; -1 when none. */
int limits_row_claim(struct limits *l);
/* Master: the worker in row has exited; forget its counts. */
void limits_row_release(struct limits *l, int row);

/* Worker: admit a connection from peer to svc, within max_total and
 * max_per_ip (0 = unlimited). On LIMIT_OK, *ticket_r must later be given to
 * limits_release. */
enum limit_verdict limits_admit(struct limits *l, int row, enum service svc,
				const struct sockaddr *peer, unsigned max_total,
				unsigned max_per_ip, struct limit_ticket *ticket_r);
void limits_release(struct limits *l, const struct limit_ticket *ticket);

/* Current connections to svc across all workers. */
unsigned limits_current(struct limits *l, enum service svc);

/* Balancing long-lived sessions (server/handoff.h). A worker's load is
 * its connections (every service) plus those handed to it and not yet
 * admitted. */
/* Worker: row takes new connections (set at start, cleared when it
 * retires or stops); only such rows are given connections. */
void limits_set_accepting(struct limits *l, int row, bool accepting);
/* The accepting row other than row with the lowest load, if that load is
 * below row's own; -1 when none is. */
int limits_less_loaded(struct limits *l, int row);
/* A connection handed to row (+1) or taken by it (-1). */
void limits_incoming(struct limits *l, int row, int delta);

#endif
