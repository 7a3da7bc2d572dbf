/* bodystructure.h - IMAP BODY and BODYSTRUCTURE (RFC 3501 7.4.2, RFC 9051
 * 7.5.2), and the per-message cache the store keeps of them. Pure.
 *
 * Built from the message with CRLF endings and its part tree (part.h), so
 * sizes and line counts are what clients count. As Dovecot answers (tests
 * compare with its answers for tests/data/mime/; docs/mime.md lists every
 * intentional difference):
 *   basic:      (type subtype (params) id description encoding size
 *                [md5 (disposition) (language) location])
 *   text:       ... size lines [extension]
 *   message/rfc822 (and message/global): ... size envelope body lines
 *   multipart:  (part part ... subtype [(params) (disposition) (language)
 *                location])
 * Type, subtype and parameter names are upper-cased? No: as Dovecot does
 * (quoted, type/subtype as written in lower... see docs/mime.md). Values are
 * sent as written, RFC 2231 values in the form Dovecot sends.
 * extended: BODYSTRUCTURE (with extension data); !extended: BODY.
 */
#ifndef POSTERN_MIME_BODYSTRUCTURE_H
#define POSTERN_MIME_BODYSTRUCTURE_H

#include "lib/common.h"

#include "lib/buf.h"
#include "mime/part.h"

/* Append BODY (extended false) or BODYSTRUCTURE (true) of msg to out. utf8:
 * 8-bit text may be quoted (UTF8=ACCEPT). Returns 0, or -1 when out is full
 * (out unchanged in length). */
int mime_bodystructure(const char *msg, size_t len, const struct mime_message *tree,
		       bool extended, bool utf8, struct buf *out);

/* The cache: one string holding ENVELOPE, BODY and BODYSTRUCTURE of a
 * message (utf8 false), built once (at delivery or first FETCH) and kept in
 * the index (store_message_set_cache). Opaque text, versioned: a cache of
 * another version is not accepted by mime_cache_get (rebuild it). */
enum mime_cache_item {
	MIME_CACHE_ENVELOPE,
	MIME_CACHE_BODY,
	MIME_CACHE_BODYSTRUCTURE,
};

/* Append the cache string for msg (CRLF) to out. Returns 0 or -1 (full). */
int mime_cache_build(const char *msg, size_t len, struct buf *out);
/* Find item in a cache string: 0 with *p_r and *len_r pointing into cache, -1
 * when cache is not a valid cache of this version. */
int mime_cache_get(const char *cache, enum mime_cache_item item, const char **p_r,
		   size_t *len_r);

#endif
