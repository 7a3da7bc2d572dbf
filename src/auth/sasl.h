/* sasl.h - server side of SASL (RFC 4422) mechanisms that carry a user name
 * and password: PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login).
 *
 * Pure: no I/O and no password check. A protocol (SMTP AUTH, IMAP
 * AUTHENTICATE, POP3 AUTH) frames the exchange ("334 ", "+ "), feeds each
 * client response (still base64, as received) to sasl_step, sends back the
 * challenge it returns, and when the exchange is SASL_DONE checks the
 * credentials itself (see auth/verify.h). A client response of "*" cancels
 * (the protocol's business: RFC 4954 501, RFC 3501 BAD).
 */
#ifndef POSTERN_SASL_H
#define POSTERN_SASL_H

#include "lib/common.h"

#include "lib/buf.h"

/* Limits of RFC 4616: each of authzid, authcid and password at most 255
 * octets of UTF-8. */
#define SASL_FIELD_MAX 255

enum sasl_result {
	SASL_CONTINUE, /* send the challenge in *challenge_r (raw, to be base64'd) */
	SASL_DONE,     /* credentials are ready */
	SASL_FAIL,     /* malformed exchange: *error_r says why */
	SASL_DENIED,   /* sasl_next only: an authorisation identity other than
			* the authentication identity (not supported) */
};

struct sasl_exchange;

/* The mechanisms offered, space separated ("PLAIN LOGIN"), for EHLO and
 * CAPABILITY. */
const char *sasl_mechanisms(void);

/* Start mech (case-insensitive); NULL when it is not supported. */
struct sasl_exchange *sasl_new(const char *mech);
/* Wipes the credentials, frees, sets *ex to NULL. */
void sasl_free(struct sasl_exchange **ex);

/* Feed the initial response (SASL-IR) or a response to our last challenge:
 * base64 text as the client sent it; "=" is an empty initial response;
 * NULL means no initial response was given. Returns the next step. The
 * challenge is written raw into challenge (reset first). */
enum sasl_result sasl_step(struct sasl_exchange *ex, const char *response, struct buf *challenge,
			   const char **error_r);

/* What every protocol does with a response: sasl_step, then the challenge
 * base64-encoded into b64 (reset first) for SASL_CONTINUE, and for
 * SASL_DONE the authorisation identity checked: empty or the same as the
 * authentication identity (ASCII case-insensitive), else SASL_DENIED. */
enum sasl_result sasl_next(struct sasl_exchange *ex, const char *response, struct buf *b64,
			   const char **error_r);

/* After SASL_DONE: the authentication identity, the authorisation identity
 * ("" when absent) and the password; owned by ex. */
const char *sasl_authcid(const struct sasl_exchange *ex);
const char *sasl_authzid(const struct sasl_exchange *ex);
const char *sasl_password(const struct sasl_exchange *ex);

#endif
