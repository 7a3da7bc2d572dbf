/* envelope.h - the IMAP ENVELOPE of a message (RFC 3501 7.4.2, RFC 9051
 * 7.5.2), built from its parsed header section. Pure.
 *
 *   (date subject from sender reply-to to cc bcc in-reply-to message-id)
 *
 * The first field of each name counts. date, subject, in-reply-to and
 * message-id are the unfolded values as written (encoded words are not
 * decoded: clients do that); a missing field is NIL. Address lists are
 * ((name adl mailbox host) ...), groups as (NIL NIL "group" NIL) ...
 * (NIL NIL NIL NIL); an absent or empty list is NIL, and an absent or empty
 * Sender or Reply-To takes the From list, as the RFC says.
 */
#ifndef POSTERN_MIME_ENVELOPE_H
#define POSTERN_MIME_ENVELOPE_H

#include "lib/common.h"

#include "lib/buf.h"
#include "mime/header.h"

/* Append the parenthesised ENVELOPE to out. utf8: 8-bit text may be sent
 * quoted (UTF8=ACCEPT); otherwise such text goes as literals. Returns -1
 * when out is full (out unchanged). */
int mime_envelope(const struct mime_header *hdr, bool utf8, struct buf *out);

#endif
