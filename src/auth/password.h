/* password.h - password hashing and verification, in Dovecot's formats.
 *
 * Stored hashes are "{SCHEME}hash" strings as Dovecot writes them, so that
 * accounts migrate from Dovecot (or a Postfix/Dovecot SQL setup) unchanged:
 *
 *   {ARGON2ID}$argon2id$v=19$m=..,t=..,p=..$salt$hash   (new passwords)
 *   {ARGON2I}$argon2i$v=19$...
 *   {SHA512-CRYPT}$6$...   {SHA256-CRYPT}$5$...
 *   {BLF-CRYPT}$2y$... ($2b$, $2a$)
 *   {CRYPT}...             any libxcrypt method that is not legacy:
 *                          yescrypt $y$, gost-yescrypt $gy$, scrypt $7$,
 *                          bcrypt, SHA-crypt
 *   a bare crypt string ("$6$...", "$2y$...", "$argon2id$...") without a scheme
 *
 * Plain-text schemes (PLAIN, CLEARTEXT, ...) and weak ones (MD5, SHA1, SSHA,
 * MD5-CRYPT, DES crypt, ...) are refused. Hash parameters are capped (argon2
 * memory 256 MiB, bcrypt cost 14, SHA-crypt 1,000,000 rounds, (yes)crypt
 * memory 256 MiB) so that no stored hash can make one login cost seconds or
 * gigabytes. Comparisons of computed and stored hashes are constant-time.
 *
 * Messages returned through error_r are static or live in a per-thread
 * buffer valid until the next call into this module from the same thread.
 */
#ifndef POSTERN_PASSWORD_H
#define POSTERN_PASSWORD_H

#include "lib/common.h"

#include "lib/buf.h"

/* Longest password accepted, in bytes (SHA-crypt cost grows with length). */
#define PASSWORD_MAX 1024
/* Longest stored hash string accepted. */
#define PASSWORD_HASH_MAX 512

/* argon2id cost for new hashes: 64 MiB, 3 passes, 1 lane (Dovecot's
 * ARGON2ID default and within OWASP's guidance); about 0.2 s per hash. */
struct password_cost {
	uint32_t m_kib;
	uint32_t t;
	uint32_t p;
};
extern const struct password_cost password_default_cost;

/* Hash a new password (NUL-terminated, 1..PASSWORD_MAX bytes) with argon2id
 * and a random 16-byte salt from getrandom(). Appends the stored form
 * "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$SALT$HASH" to out and returns 0;
 * -1 with *error_r on an empty or too long password, or a system failure. */
int password_hash(const char *password, struct buf *out, const char **error_r);
/* The same with an explicit cost (tests; future configuration). The cost
 * must be within the caps above. */
int password_hash_cost(const char *password, const struct password_cost *cost, struct buf *out,
		       const char **error_r);

/* Verify password against a stored hash. Returns 1 when it matches, 0 when
 * it does not (or the password is longer than PASSWORD_MAX), -1 with
 * *error_r when the stored hash cannot be used (unknown or refused scheme,
 * malformed, parameters over the caps). */
int password_verify(const char *password, const char *stored, const char **error_r);

/* Validate a hash supplied by an administrator ("{SCHEME}hash" or a bare
 * crypt string) before it is stored. On success appends the stored form,
 * which always carries an upper-case scheme prefix (a bare "$6$..." becomes
 * "{SHA512-CRYPT}$6$..."), and returns 0. On failure returns -1 with
 * *error_r saying why: plain-text or weak scheme, unsupported scheme, the
 * hash does not match its scheme, malformed, or too expensive. */
int password_import(const char *hash, struct buf *out, const char **error_r);

/* True when stored is not argon2id at (at least) the default cost: a caller
 * that has just verified the plain password may store password_hash() of it
 * instead. */
bool password_needs_rehash(const char *stored);

/* A valid argon2id hash at the default cost that no password is known to
 * match: verify against it when the user does not exist, so that failing
 * for an unknown user takes as long as failing for a known one. */
const char *password_dummy_hash(void);

#endif
