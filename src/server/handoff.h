/* handoff.h - a connection just accepted, passed to a less busy worker.
 *
 * Workers share each listening socket, and whichever wakes first accepts.
 * A long-lived session (IMAP, a webmail's) stays on the worker that
 * accepted it, so an uneven split leaves cores idle: with 11 sessions on
 * one worker and 9 on the other, the second runs out of work while the
 * first still has plenty. Waiting before accepting (to let the others go
 * first) balances but delays every client of a burst by milliseconds.
 * Instead a worker accepts at once and, when another accepting worker has
 * a lower load (limits.h: connections plus those handed to it), gives the
 * descriptor to it before a byte is sent (SCM_RIGHTS), over a
 * SOCK_SEQPACKET connection to the socket the receiver listens on, in the
 * abstract namespace, named after the master's pid and the receiver's row
 * (made on first use, kept, made again when that worker was replaced).
 * The receiver admits it like one of its own (limits, the service's
 * protocol) and never hands it on. It accepts connections only from
 * processes of its own uid (SO_PEERCRED): no other local user can slip it
 * a connection. (Not a datagram socket: at most 10 datagrams wait in one,
 * net.unix.max_dgram_qlen, too few for a burst while the receiver runs a
 * long command.) When anything fails, the accepting worker keeps the
 * connection, so nothing is lost.
 */
#ifndef POSTERN_HANDOFF_H
#define POSTERN_HANDOFF_H

#include "lib/common.h"

struct listener;
struct server;

/* Worker, after fork: bind this worker's socket and watch it; mark the row
 * as accepting. -1 (logged) when the socket cannot be made: the worker
 * then serves what it accepts itself. */
int handoff_open(struct server *srv);
/* The row takes no more connections (retiring, stopping). */
void handoff_stop_accepting(struct server *srv);
void handoff_close(struct server *srv);

/* fd was just accepted on l: hand it to a less loaded worker. true when
 * handed (fd closed here), false when the caller keeps it. */
bool handoff_give(struct listener *l, int fd);

#endif
