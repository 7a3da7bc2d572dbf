/* charset.h - conversion of MIME text to UTF-8 for display and search.
 *
 * Used by encoded words (RFC 2047) and RFC 2231 parameter values. Charset
 * names are checked before they reach iconv (letters, digits and
 * "!#$%&+^_`{}~.:-", at most MIME_CHARSET_NAME_MAX bytes: no '/', so no
 * "//TRANSLIT" suffixes or paths). UTF-8 and US-ASCII are not converted but
 * checked (8-bit bytes in "us-ascii" text are taken as UTF-8, as mailers that
 * mislabel UTF-8 expect). Every invalid or unconvertible sequence becomes
 * U+FFFD, so the output is always valid UTF-8. NULs pass through.
 */
#ifndef POSTERN_MIME_CHARSET_H
#define POSTERN_MIME_CHARSET_H

#include "lib/common.h"

#include "lib/buf.h"

#define MIME_CHARSET_NAME_MAX 64

/* True when name[len] is an acceptable charset name (see above). */
bool mime_charset_name_valid(const char *name, size_t len);

/* True when charset (NUL-terminated) names UTF-8 or US-ASCII. */
bool mime_charset_is_utf8(const char *charset);

/* Append src[n] to dst as valid UTF-8: each byte that does not start a
 * well-formed sequence (overlong forms, surrogates and code points past
 * U+10FFFF included) gives one U+FFFD. Returns 0, or -1 when dst would pass
 * dst->max (dst unchanged). */
int mime_utf8_append_valid(struct buf *dst, const void *src, size_t n) ATTR_NODISCARD;

/* Append src[n], text in charset (NUL-terminated), to dst converted to
 * UTF-8. Returns 0; 1 when the charset is invalid or unknown to iconv (the
 * bytes were then appended as by mime_utf8_append_valid); -1 when dst would
 * pass dst->max (dst unchanged). */
int mime_charset_to_utf8(struct buf *dst, const char *charset, const void *src,
			 size_t n) ATTR_NODISCARD;

#endif
