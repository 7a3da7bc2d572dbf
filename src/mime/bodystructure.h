/* bodystructure.h - IMAP BODY and BODYSTRUCTURE (RFC 3501 7.4.2, RFC 9051
 * 7.5.2), and the per-message cache the store keeps of them. Pure.
 *
 * Built from the message with CRLF endings and its part tree (part.h), so
 * sizes and line counts are what clients count. As Dovecot 2.3 answers
 * (tests compare with its answers for tests/data/mime/; docs/mime.md lists
 * every intentional difference):
 *   basic:      (type subtype (params) id description encoding size
 *                [md5 (disposition) (language) location])
 *   text:       ... size lines [extension]
 *   message/rfc822: ... size envelope body lines [extension]
 *   multipart:  (part part ... subtype [(params) (disposition) (language)
 *                location])
 * Type, subtype, encoding, parameter names and values are sent as written
 * (case kept), re-read from the part's header with MIME token rules; only a
 * message/rfc822 part is always "message" "rfc822". Without Content-Type a
 * part is "text" "plain"; a text part without charset gets
 * ("charset" "us-ascii") appended. A broken Content-Type gives the type
 * as far as it parsed ("" when cut after the slash) and no parameters.
 * RFC 2231 sections are joined and sent still encoded, as "name*"
 * "charset'lang'%XX..." (plain sections joined to encoded ones get '%'
 * escaped and a "''" prefix), after the plain parameters, sorted by name;
 * with a section missing each is sent alone as "name*N[*]". Content-*
 * fields count only in a MIME part (MIME-Version or Content-Type in its
 * header, or a child of a multipart). A multipart with no parts gets one
 * empty text/plain; a message/rfc822 that is not parsed (encoded) an empty
 * envelope and body. message/global is a basic part, as in Dovecot 2.3.
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
 * the index (store_message_set_cache), in a SQLite TEXT column. Format:
 * "postern-mime 1\n", then for each of ENVELOPE, BODY, BODYSTRUCTURE its
 * length in decimal, "\n", its bytes, "\n". It may hold 8-bit bytes (in
 * literals) but never a NUL. A cache of another version is not accepted by
 * mime_cache_get (rebuild it). */
enum mime_cache_item {
	MIME_CACHE_ENVELOPE,
	MIME_CACHE_BODY,
	MIME_CACHE_BODYSTRUCTURE,
};

/* Append the cache string for msg (CRLF) to out (text: the items hold no
 * NUL, see imap_string.h). Returns 0, or -1 with out unchanged when out is
 * full. */
int mime_cache_build(const char *msg, size_t len, struct buf *out);
/* Find item in a cache string (NUL-terminated): 0 with *p_r and *len_r
 * pointing into cache, -1 (outputs untouched) when cache is not a valid
 * cache of this version. */
int mime_cache_get(const char *cache, enum mime_cache_item item, const char **p_r,
		   size_t *len_r);

#endif
