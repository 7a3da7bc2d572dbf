/* xtext.h - the xtext encoding of RFC 3461 4 (ENVID, ORCPT, AUTH=):
 * xchar = "!".."~" except "+" and "=", hexchar = "+" and two hex digits. */
#ifndef POSTERN_XTEXT_H
#define POSTERN_XTEXT_H

#include "lib/common.h"

#define XTEXT_UPPER 0x1u     /* upper-case hex digits only, as the RFC writes them */
#define XTEXT_PRINTABLE 0x2u /* refuse a decoded control character (< 0x20, DEL) */

/* Decode s[0..len) into out[max + 1], NUL-terminated. Returns the decoded
 * length, or -1 when malformed, refused by flags, or longer than max. Pure. */
ssize_t xtext_decode(const char *s, size_t len, char *out, size_t max, unsigned flags);

#endif
