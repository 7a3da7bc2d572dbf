/* imapd.h - the IMAP server (RFC 9051 IMAP4rev2 and RFC 3501 IMAP4rev1
 * with the extensions docs/imap.md lists) on the imap and imaps services. */
#ifndef POSTERN_IMAPD_H
#define POSTERN_IMAPD_H

#include "server/conn.h"

extern const struct protocol proto_imap;

#endif
