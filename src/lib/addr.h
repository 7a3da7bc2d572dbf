/* addr.h - validate and canonicalise mail domains and addresses.
 *
 * Pure functions (no I/O, no global state). Every address and domain that
 * postern stores or looks up goes through here first, so that one mailbox
 * has exactly one spelling:
 *
 *   domain     LDH labels separated by dots, in lower-case A-label (ASCII)
 *              form. Internationalised names are converted with libidn2
 *              (IDNA2008 with UTS #46 non-transitional mapping), so
 *              "BÜcher.Example" and "xn--bcher-kva.example" are the same
 *              domain. At most 253 octets, labels at most 63. IP literals
 *              ("[192.0.2.1]", "1.2.3.4") and trailing dots are refused.
 *   local part RFC 5321 dot-atom or quoted-string; UTF-8 is allowed in both
 *              (RFC 6531, SMTPUTF8). Canonical form: ASCII letters lower-cased
 *              (lookups are case-insensitive, as Postfix and Dovecot do by
 *              default), a quoted-string whose content is a valid dot-atom is
 *              unquoted, any other quoted-string is re-quoted with the fewest
 *              backslashes. Non-ASCII characters are kept as given (no Unicode
 *              normalisation). At most 64 octets.
 *   address    local "@" domain, at most 254 octets in canonical form.
 *
 * A canonical address contains exactly one '@' outside quotes, and its domain
 * part never contains '@', so the last '@' splits it.
 */
#ifndef POSTERN_ADDR_H
#define POSTERN_ADDR_H

#include "lib/common.h"

#include "lib/buf.h"

#define ADDR_DOMAIN_MAX 253 /* octets, A-label form */
#define ADDR_LABEL_MAX 63
#define ADDR_LOCAL_MAX 64
#define ADDR_MAX 254
/* Input longer than this is refused before any work (a U-label domain may be
 * longer than its A-label form, so this is above the limits above). */
#define ADDR_INPUT_MAX 1024

/* The plus-addressing separator: "user+tag@domain" is delivered to user. */
#define ADDR_TAG_SEP '+'

/* Canonicalise the domain in (NUL-terminated, UTF-8 or ASCII). On success
 * appends the canonical A-label form to out and returns 0. On failure returns
 * -1, leaves out unchanged, and sets *error_r to a static message. */
int addr_domain_canon(const char *in, struct buf *out, const char **error_r);

/* Canonicalise the local part in[0..len) (no '@domain'). Same contract as
 * addr_domain_canon. */
int addr_local_canon(const char *in, size_t len, struct buf *out, const char **error_r);

/* Canonicalise a whole address "local@domain" (no angle brackets, no
 * comments, no display name). Same contract as addr_domain_canon. */
int addr_canon(const char *in, struct buf *out, const char **error_r);

/* Convert a canonical (A-label) domain to its Unicode form for display.
 * Appends to out and returns 0; -1 with *error_r set when libidn2 cannot
 * decode it (out unchanged). */
int addr_domain_to_utf8(const char *domain, struct buf *out, const char **error_r);

/* The domain part of a canonical address (points into addr), or NULL when
 * addr has no '@'. */
const char *addr_domain_part(const char *addr);

/* Length of the local part of a canonical address (bytes before the last
 * '@'); strlen(addr) when there is no '@'. */
size_t addr_local_len(const char *addr);

/* True when s is all ASCII (an address usable without SMTPUTF8). */
bool addr_is_ascii(const char *s);

/* Split plus-addressing in a canonical address: for "user+tag@domain"
 * appends "user@domain" to base_r and, when tag_r is not NULL, "tag" to
 * tag_r, and returns 1. The first separator counts, the tag may be empty
 * ("user+@domain"). Returns 0 and appends nothing when there is no tag: no
 * separator, an empty user part ("+tag@domain"), or a quoted local part.
 * Returns -1 only when an append fails (buffer cap). */
int addr_split_tag(const char *addr, char sep, struct buf *base_r, struct buf *tag_r);

#endif
