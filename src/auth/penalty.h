/* penalty.h - failed logins counted per client address, shared by every
 * process of the server, so that a client that keeps guessing passwords is
 * refused for a while instead of being answered.
 *
 * The master maps one table before forking; every worker counts into it.
 * An address (IPv4, or the /64 of an IPv6 address, where one client
 * usually holds the whole /64) has a slot with its failure count and the
 * time of the first failure of its window. Once it has failed max times
 * within window seconds, it is refused until the window, counted from that
 * first failure, has passed; then counting starts again. A successful
 * login does not reset the count: one known password must not buy an
 * attacker more guesses at the others.
 *
 * Slots hold the address itself (no hash collisions between clients). The
 * table has PENALTY_SLOTS; an address is looked for in PENALTY_PROBE slots
 * from its hash, and when they are all in use by live windows the one with
 * the oldest window is taken over: a flood from many addresses can only
 * make the table forget, never refuse an innocent client.
 *
 * The table is guarded by a robust process-shared mutex (a worker killed
 * while holding it does not block the others). Failed logins are rare, so
 * the lock is never contended in normal operation.
 */
#ifndef POSTERN_PENALTY_H
#define POSTERN_PENALTY_H

#include "lib/common.h"

#include <time.h>

#define PENALTY_SLOTS 8192
#define PENALTY_PROBE 16

struct auth_penalty;

/* Master: map the shared table (fatal on failure). */
struct auth_penalty *auth_penalty_create(void);
void auth_penalty_destroy(struct auth_penalty **p);

/* Has ip (numeric, as in conn->peer_ip) failed max times in the window
 * that is running at now? max 0: never. An address that cannot be parsed
 * is never refused (and never counted). */
bool auth_penalty_refused(struct auth_penalty *p, const char *ip, unsigned max, unsigned window,
			  time_t now);

/* Count a failed login from ip at now; returns the failures in its
 * current window, this one included (0 when ip cannot be parsed). */
unsigned auth_penalty_fail(struct auth_penalty *p, const char *ip, unsigned window, time_t now);

#endif
