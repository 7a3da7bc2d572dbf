/* verify.h - checking a login without blocking the event loop.
 *
 * Password hashes are deliberately slow (argon2id: about 0.2 s and 64 MiB),
 * so a worker never computes one on its event loop: the user is looked up
 * inline (one SQLite read) and the hash is verified on a small pool of
 * threads, the result coming back to the loop through a pipe.
 *
 * A successful verification is remembered for auth.cache_ttl: the cache keeps
 * HMAC-SHA256(per-process random key, password || stored hash) under a key
 * derived from the address and the stored hash, so a password change (a new
 * stored hash) invalidates it and the cache never holds a password or
 * anything an attacker could test guesses against offline without the
 * process's key. Failures are never cached and are answered only after
 * failure_delay, and an unknown or disabled user costs the same hash
 * verification as a known one, so timing reveals nothing.
 *
 * With a failed-login table (auth_verifier_set_penalty, penalty.h), every
 * failure is counted against the client's address, and an address that has
 * failed too often is refused (AUTH_REFUSED, after the failure delay)
 * without its password being looked at, right or wrong.
 *
 * Threads are created on first use, so a verifier must be made in the
 * process that uses it (a worker, after fork).
 */
#ifndef POSTERN_VERIFY_H
#define POSTERN_VERIFY_H

#include "lib/common.h"

#include <event2/event.h>

struct accounts;
struct auth_penalty;

enum auth_result {
	AUTH_OK,
	AUTH_FAILED,   /* wrong password, unknown or disabled user */
	AUTH_TEMPFAIL, /* database failure, too busy: try again later */
	AUTH_REFUSED,  /* too many failed logins from the client's address */
};

/* result, the canonical address on AUTH_OK (valid during the call), and a
 * reason for the log (never for the client). */
typedef void auth_verify_cb(enum auth_result result, const char *address, const char *reason,
			    void *ctx);

struct auth_verifier;
struct auth_request;

/* threads: hash verifications at once (each may take 64 MiB); ttl: seconds
 * a success is cached (0: no cache); failure_delay_ms: how long a failure
 * waits before it is reported. */
struct auth_verifier *auth_verifier_new(struct event_base *base, unsigned threads, unsigned ttl,
					unsigned failure_delay_ms);
/* Count failures in penalty (shared by every process) and refuse an
 * address once it has failed max_failures times within window seconds
 * (max_failures 0: count, never refuse). */
void auth_verifier_set_penalty(struct auth_verifier *v, struct auth_penalty *penalty,
			       unsigned max_failures, unsigned window);

/* Cancels every pending request (their callbacks are not called), joins
 * the threads, frees. */
void auth_verifier_free(struct auth_verifier **v);

/* Check address/password against db for a client at peer_ip (numeric;
 * NULL: not counted, never refused). The callback is always called later
 * from the event loop, never from inside this call. Returns a request the
 * caller must cancel if it goes away first. */
struct auth_request *auth_verify(struct auth_verifier *v, struct accounts *db, const char *peer_ip,
				 const char *address, const char *password, auth_verify_cb *cb,
				 void *ctx);

/* The same for a login the caller checked itself (APOP's digest): address
 * is the canonical address when the check succeeded, NULL when it failed
 * (fail_reason: for the log, static).
 * A failure is counted and delayed, a refused address refused, exactly as
 * with auth_verify. */
struct auth_request *auth_verify_checked(struct auth_verifier *v, const char *peer_ip,
					 const char *address, const char *fail_reason,
					 auth_verify_cb *cb, void *ctx);
/* The callback will not be called; *req becomes NULL. */
void auth_request_cancel(struct auth_request **req);

/* Verifications queued or running on the threads (a failure waiting for
 * its failure_delay is not counted): for harnesses that wait for the
 * verifier to answer (tests/fuzz/session_harness.c). */
size_t auth_verifier_pending(const struct auth_verifier *v);

/* Password hashes computed so far (cache hits compute none). */
unsigned long auth_verifier_hashes(const struct auth_verifier *v);

#endif
