/* runner.h - the queue runner process of 'postern serve'.
 *
 * Forked by the master beside the workers (and restarted like them when it
 * dies), it delivers what the relay queue holds: remote recipients over
 * SMTP to the next hop found in DNS (or the relay host), local recipients
 * into the mail store, with retries, delay notices and bounces; and it
 * serves the local submission socket (queue/submit.h). It learns of new
 * messages from the submission socket and from inotify on queue/incoming,
 * and of due retries from its own timers and a periodic scan
 * (delivery.scan_interval). Several runners (an old generation after a
 * reload) may run at once: message locks keep them apart.
 * docs/outbound.md describes it.
 */
#ifndef POSTERN_RUNNER_H
#define POSTERN_RUNNER_H

#include "lib/common.h"

struct server;

/* Run in the forked child after the privilege drop, in the data
 * directory. Returns the exit status. */
int runner_run(struct server *srv);

#endif
