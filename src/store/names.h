/* names.h - the names the store turns into paths: addresses, mailbox names
 * and their Maildir++ directories, modified UTF-7 (pure).
 *
 * A name that cannot be a safe path segment is refused, never escaped: no
 * '/', no NUL, no control byte, no "." or "..", no leading dot, bounded
 * lengths. Mailbox directories are "." followed by the name in modified
 * UTF-7 (RFC 3501 5.1.3), as Dovecot stores Maildir++ folders; INBOX is the
 * Maildir's root ("").
 */
#ifndef POSTERN_STORE_NAMES_H
#define POSTERN_STORE_NAMES_H

#include "lib/common.h"

#include "lib/buf.h"

#define STORE_DOMAIN_MAX 253
#define STORE_LOCALPART_MAX 64

/* Check a canonical address and give its parts: pointers into address and
 * lengths (the local part is everything before the last '@'). */
int store_address_split(const char *address, const char **local_r, size_t *local_len_r,
			const char **domain_r, size_t *domain_len_r, const char **error_r);

/* Strict UTF-8 (no overlong forms, surrogates or code points over U+10FFFF). */
bool utf8_valid(const char *s, size_t len);

/* Modified UTF-7 from UTF-8 (-1: invalid UTF-8) and back (-1: not the one
 * canonical mUTF-7 form of some UTF-8 text: bad base64, non-zero padding
 * bits, an encoded printable ASCII character, a lone surrogate, two encoded
 * runs in a row, a byte outside printable ASCII). Both append to out. */
int mutf7_encode(const char *utf8, size_t len, struct buf *out);
int mutf7_decode(const char *mutf7, size_t len, struct buf *out);

/* Check a mailbox name and give its normalised form (a first level
 * "INBOX" in any case becomes "INBOX") and its directory relative to the
 * user's Maildir ("" for INBOX, else ".<mUTF-7>"). */
int mailbox_name_resolve(const char *name, struct buf *norm, struct buf *dir, const char **error_r);

/* The mailbox name of a directory entry of the user's Maildir (".Name"), or
 * -1 when the entry is not a folder (no leading dot, "." / "..", invalid
 * mUTF-7, a name that does not pass the check, INBOX's own form). */
int mailbox_dir_to_name(const char *entry, struct buf *name);

/* Is name (normalised) below parent (normalised)? "A.B" is below "A". */
bool mailbox_name_is_below(const char *name, const char *parent);

#endif
