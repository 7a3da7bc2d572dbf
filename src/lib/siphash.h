/* siphash.h - SipHash-2-4 (Aumasson and Bernstein), a keyed hash for tables
 * whose keys come from the network (client addresses), so that a peer
 * cannot choose colliding keys without knowing the random key. */
#ifndef POSTERN_SIPHASH_H
#define POSTERN_SIPHASH_H

#include "lib/common.h"

uint64_t siphash24(const uint8_t key[16], const void *data, size_t len);

#endif
