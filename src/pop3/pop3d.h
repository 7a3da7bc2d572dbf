/* pop3d.h - the POP3 server (RFC 1939, CAPA RFC 2449, STLS RFC 2595,
 * AUTH RFC 5034) on the pop3 (110, STLS) and pop3s (995) services.
 *
 * States AUTHORIZATION -> TRANSACTION -> UPDATE (QUIT). The maildrop is the
 * user's INBOX in the mail store; a second POP3 session of the same user is
 * refused with -ERR [IN-USE] (a lock file beside the user's index, held
 * with flock for the session's life), while IMAP sessions go on unhindered.
 * The message list is a snapshot taken at login; messages that arrive later
 * appear in the next session. DELE only marks; only QUIT from TRANSACTION
 * expunges, so a dropped connection deletes nothing. UIDL values are
 * UIDVALIDITY and UID in hex, stable across sessions and re-indexing that
 * keeps UIDs.
 */
#ifndef POSTERN_POP3D_H
#define POSTERN_POP3D_H

#include "server/conn.h"

extern const struct protocol proto_pop3;

#endif
