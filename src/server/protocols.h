/* protocols.h - the protocol serving each service. Each protocol module
 * exports its struct protocol; protocols.c maps services to them. */
#ifndef POSTERN_PROTOCOLS_H
#define POSTERN_PROTOCOLS_H

#include "server/conn.h"

extern const struct protocol proto_http_unavailable;

#endif
