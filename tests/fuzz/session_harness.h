/* session_harness.h - a real server session run in-process, for the
 * whole-session fuzzers (fuzz_session_smtp.c, fuzz_session_imap.c,
 * fuzz_session_pop3.c).
 *
 * One struct server with its own event loop, no listener, no TLS context
 * and no connection limits. Each session gets a fresh data directory
 * (copied from a template made at first use on /dev/shm: domain
 * example.org, user HARNESS_USER with password HARNESS_PASSWORD and APOP
 * secret HARNESS_APOP, three messages in INBOX), its own accounts, store,
 * queue, delivery pool and password verifier, so that no input depends on
 * an earlier one. The connection is one end of a bufferevent pair
 * (conn_open_bufferevent, server/conn.h), from 127.0.0.1 (a loopback peer:
 * plaintext logins are allowed, auth.failure_delay is 0). The client end
 * writes the input at once and throws the replies away.
 *
 * The loop runs until the session stands still: every reply sent, no
 * password verification or delivery pending on the pools, and no input it
 * would still take. Then the client closes (the session sees the end of
 * the input, as on a dropped connection) and the resources are closed.
 * HARNESS_LOG=1 in the environment shows the server's log, HARNESS_ECHO=1
 * its replies (on stderr), to see what an input does.
 * Not covered: STARTTLS and implicit TLS (refused: no TLS context), the
 * queue runner (queued mail stays in the queue), ETRN (the submission
 * socket is absent), idle and data time-outs (no input waits for one).
 */
#ifndef POSTERN_SESSION_HARNESS_H
#define POSTERN_SESSION_HARNESS_H

#include "lib/common.h"

#include "lib/config.h"

#define HARNESS_DOMAIN "example.org"
#define HARNESS_USER "user@example.org"
#define HARNESS_PASSWORD "fuzzpass"
#define HARNESS_APOP "apopsecret"

/* Serve one session of svc (SVC_SMTP, SVC_SUBMISSION, SVC_IMAP or
 * SVC_POP3): the client sends prefix (fixed commands that lead to a
 * starting state; may be empty) then input. Exits the process on a setup
 * failure (not a finding in the server). */
void harness_session(enum service svc, const void *prefix, size_t prefix_len, const uint8_t *input,
		     size_t len);

#endif
