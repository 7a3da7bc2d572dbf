/* smtpd_from.h - the addresses of a From: field, for the submission check
 * that a user sends only as itself (RFC 6409 8.1 leaves the policy to the
 * MSA). Pure and bounded.
 *
 * The value is an RFC 5322 mailbox-list (or a group): display names,
 * quoted strings, comments and angle addresses. Every address found is
 * given to check(); the field passes only when there is at least one and
 * check() accepts each.
 */
#ifndef POSTERN_SMTPD_FROM_H
#define POSTERN_SMTPD_FROM_H

#include "lib/common.h"

#define SMTPD_FROM_MAX_ADDRESSES 32

/* Returns 0 when accepted, -1 otherwise. */
typedef int smtpd_from_check_fn(const char *address, void *ctx);

/* Returns 0 when value names at least one address and check accepts every
 * one; -1 when it names none, more than SMTPD_FROM_MAX_ADDRESSES, is
 * malformed, or check refuses one. */
int smtpd_from_check(const char *value, size_t len, smtpd_from_check_fn *check, void *ctx);

/* The check used by the session: the address is the authenticated user's. */
int smtpd_from_owned(const char *address, void *ctx);

#endif
