/* rfc2047.h - decoding of RFC 2047 encoded words for display and search.
 *
 * An encoded word is "=?" charset ["*" language] "?" ("B" | "Q") "?" text
 * "?=" where the charset passes mime_charset_name_valid() and the text holds
 * no '?', space, tab or line break. Like Dovecot, words are recognised
 * anywhere in the text, not only as whole tokens (mailers glue them to
 * words and quotes). Whitespace (line breaks included) between two encoded
 * words is dropped, and the bytes of adjacent words in the same charset are
 * joined before conversion, so a character split across words survives.
 * Invalid words (bad syntax, base64 with characters outside its alphabet)
 * are left literal. CR, LF and NUL decoded from a word become spaces. Line breaks outside encoded
 * words are removed (the value is unfolded). The output is valid UTF-8 (charset.h): unknown
 * charsets and 8-bit text outside words are taken as UTF-8 and invalid bytes become U+FFFD.
 */
#ifndef POSTERN_MIME_RFC2047_H
#define POSTERN_MIME_RFC2047_H

#include "lib/common.h"

#include "lib/buf.h"

/* Append the decoded form of src[n] (a header value, raw or unfolded) to
 * dst. Work is linear in n and the output is bounded by dst->max. Returns
 * 0, or -1 when dst would pass dst->max (dst unchanged). */
int rfc2047_decode(struct buf *dst, const void *src, size_t n) ATTR_NODISCARD;

#endif
