/* imap_string.h - writing IMAP strings (RFC 3501 4.3, RFC 9051 4.3).
 *
 * A value goes out as a quoted string when it can (no CR, LF or NUL; no
 * 8-bit byte unless UTF8=ACCEPT is in effect), otherwise as a literal
 * {n}CRLF followed by the bytes. NIL for an absent value. A string holds
 * no NUL (RFC 9051 4.3: CHAR8 excludes it): a NUL of the value (a header
 * field of a hostile message, for ENVELOPE) goes out as the byte 0x80, as
 * Dovecot writes it. Pure.
 */
#ifndef POSTERN_IMAP_STRING_H
#define POSTERN_IMAP_STRING_H

#include "lib/common.h"

#include "lib/buf.h"

/* Append s[0..len) as an IMAP string; NIL when s is NULL. utf8: 8-bit
 * bytes may be quoted (the client enabled UTF8=ACCEPT). Returns -1 when out
 * is full (out unchanged). */
int imap_append_nstring(struct buf *out, const char *s, size_t len, bool utf8);
/* Append s[0..len) with each NUL as 0x80: the bytes of a literal that is
 * no literal8 (BODY[] of a message holding NULs, as Dovecot sends it).
 * Returns -1 when out is full (out unchanged). */
int imap_append_nonul(struct buf *out, const char *s, size_t len);

#endif
