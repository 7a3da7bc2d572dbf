/* downgrade.h - 8-bit to 7-bit conversion of a whole message, for a next
 * hop without 8BITMIME (RFC 6152 3: "the SMTP client ... MUST either
 * convert the message to 7-bit ... or return a non-delivery notification").
 *
 * Every leaf part whose body holds an octet above 127, a NUL, a bare CR or
 * LF, or a line longer than 998 octets, and whose Content-Transfer-Encoding
 * is 7bit, 8bit, binary or absent, is re-encoded: quoted-printable for text types (and
 * a part without Content-Type), base64 for every other type; its
 * Content-Transfer-Encoding header is replaced (or added) and nothing else
 * in the part changes. Multiparts are walked (mime/part.h, with its
 * limits); a message/rfc822 part with 8-bit content is converted inside
 * and its own Content-Transfer-Encoding becomes 7bit. Parts already
 * base64 or quoted-printable are copied as they are. 8-bit octets in a
 * header field (the message's or a part's) are encoded as RFC 2047
 * encoded words (charset utf-8 when the field is valid UTF-8, else
 * unknown-8bit) in unstructured fields (Subject, Comments, Content-
 * Description, X-*); 8-bit octets in any other field make the conversion
 * fail: the caller bounces (554 5.6.3) rather than send the field
 * unconverted. The result has CRLF line ends and no line longer than 998
 * octets. Pure; output bounded by out's cap.
 */
#ifndef POSTERN_MIME_DOWNGRADE_H
#define POSTERN_MIME_DOWNGRADE_H

#include "lib/common.h"

#include "lib/buf.h"

/* True when msg[0..len) needs no conversion to travel over 7-bit SMTP: no
 * octet above 127, no NUL, no bare CR or LF, no line over 998 octets. */
bool mime_is_7bit(const char *msg, size_t len);

/* Convert msg[0..len) (CRLF line ends) into out as described above.
 * Returns 0, or -1 with *error_r ("8-bit data in the From field", "output
 * too large", ...). out is appended to. */
int mime_downgrade(const char *msg, size_t len, struct buf *out, const char **error_r);

#endif
