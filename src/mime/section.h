/* section.h - the bytes an IMAP section names (RFC 3501 6.4.5, RFC 9051
 * 6.4.5) and BINARY decoding (RFC 3516). Pure.
 *
 * Input is the whole message with CRLF line endings (as the store gives it
 * to clients) and its part tree from mime_message_parse() over those same
 * bytes, so that offsets and sizes are the octets clients count.
 *
 * part is "" (the message itself) or a section number "1", "2.1.3". Numbers
 * are resolved as Dovecot does: in a multipart a number picks a child; a
 * part that is not multipart answers to "1" itself, so "2.1" of a leaf "2"
 * is "2" (but "1.1" of a text/plain message is nothing); only after a
 * message/rfc822 part may more numbers follow, counted in its encapsulated
 * message. text says which piece of that part:
 *   ALL                whole part: for "" the whole message; for a number,
 *                      the part's body (its MIME header not included)
 *   HEADER             header section of the message ("" ) or of the
 *                      message/rfc822 part's encapsulated message, the
 *                      empty line included
 *   HEADER_FIELDS      only the named fields (case-insensitive, in message
 *                      order, folding kept) followed by the empty line
 *   HEADER_FIELDS_NOT  every field except the named ones, then the empty line
 *                      (for both: a header without empty line from which no
 *                      field was taken gives "")
 *   TEXT               body of the message or encapsulated message
 *   MIME               the part's own MIME header (only with a number; for
 *                      "1" of a non-multipart message, the message header)
 * HEADER, HEADER_FIELDS(_NOT) and TEXT after a part number need that part
 * to be message/rfc822 and parsed (message/global is a leaf, as in Dovecot
 * 2.3); otherwise the section is empty (as Dovecot answers: ""), which is
 * also the answer for a missing part.
 */
#ifndef POSTERN_MIME_SECTION_H
#define POSTERN_MIME_SECTION_H

#include "lib/common.h"

#include "lib/buf.h"
#include "mime/part.h"

enum mime_section_text {
	MIME_SECTION_ALL,
	MIME_SECTION_HEADER,
	MIME_SECTION_HEADER_FIELDS,
	MIME_SECTION_HEADER_FIELDS_NOT,
	MIME_SECTION_TEXT,
	MIME_SECTION_MIME,
};

/* Where the section's bytes are in msg: *off_r and *len_r, for the whole
 * section without partial. 0 on success (len may be 0: empty section);
 * only for text ALL, HEADER, TEXT and MIME (contiguous pieces). -1 for the
 * other kinds (use mime_section_get). */
int mime_section_range(const struct mime_message *tree, const char *part,
		       enum mime_section_text text, size_t *off_r, size_t *len_r);

/* Append the section's bytes to out. fields/nfields are the names for
 * HEADER_FIELDS(_NOT) (ignored otherwise). Returns 0, or -1 when out is
 * full (out unchanged in length). */
int mime_section_get(const char *msg, size_t len, const struct mime_message *tree,
		     const char *part, enum mime_section_text text, const char *const *fields,
		     size_t nfields, struct buf *out);

enum mime_binary_result {
	MIME_BINARY_OK = 0,
	MIME_BINARY_NO_PART = -1,     /* no such part */
	MIME_BINARY_UNKNOWN_CTE = -2, /* [UNKNOWN-CTE]: a leaf's encoding is not one of 7bit, 8bit, binary, base64, QP */
	MIME_BINARY_FULL = -3,	      /* out is full */
};

/* BINARY[part] (RFC 3516), as Dovecot answers: a leaf's body decoded from
 * its Content-Transfer-Encoding (base64 leniently: characters outside the
 * alphabet skipped; quoted-printable per RFC 2045 6.7 with soft line
 * breaks; 7bit, 8bit, binary as they are; the field must hold the token
 * alone). A multipart or message/rfc822 part gives its body with every leaf
 * inside decoded: delimiters and headers are copied, except that a decoded
 * leaf's header loses its Content-Transfer-Encoding fields and gets
 * "Content-Transfer-Encoding: binary" as its last field. part "" is the
 * whole message so treated, header included. MIME_BINARY_UNKNOWN_CTE when
 * any leaf to decode has another encoding; NO_PART when the part does not
 * exist (IMAP answers an empty string then). Also used for BINARY.SIZE.
 * On any error out is unchanged. */
enum mime_binary_result mime_binary_get(const char *msg, size_t len,
					const struct mime_message *tree, const char *part,
					struct buf *out);

#endif
