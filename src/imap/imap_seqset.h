/* imap_seqset.h - sequence sets (RFC 9051 9 sequence-set, RFC 5182 "$")
 * and writing sorted UID lists back in their short form. Pure.
 */
#ifndef POSTERN_IMAP_SEQSET_H
#define POSTERN_IMAP_SEQSET_H

#include "lib/common.h"

#include "lib/buf.h"

/* Most ranges one set may hold. */
#define IMAP_SEQSET_MAX_RANGES 100000

/* '*' before it is resolved against a mailbox. */
#define IMAP_SEQ_STAR UINT32_MAX

struct imap_range {
	uint32_t lo, hi; /* lo <= hi after parsing ("5:2" is 2:5); '*' = IMAP_SEQ_STAR */
};

struct imap_seqset {
	struct imap_range *ranges;
	size_t count;
	bool saved; /* the set was "$" (SEARCHRES): ranges empty, use the saved result */
};

/* Parse s[len] ("1,3:5,7:*", or "$"). Numbers are 1..2^32-1 (0 is an
 * error). Returns 0, or -1 with *error_r set (static text). Free with
 * imap_seqset_clear. */
int imap_seqset_parse(const char *s, size_t len, struct imap_seqset *set_r,
		      const char **error_r);
void imap_seqset_clear(struct imap_seqset *set);

/* Replace '*' by star (the largest sequence number or UID in the mailbox;
 * 0 when empty), re-ordering ranges as needed, then sort and merge the
 * ranges. */
void imap_seqset_resolve(struct imap_seqset *set, uint32_t star);

/* True when n is in the (resolved) set; O(log ranges) once resolved. */
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n);

/* Append ascending values v[n] as a set: "1:3,5,9:10". Returns 0 or -1
 * (out full; out unchanged in length). n == 0 appends nothing. */
int imap_seqset_write(struct buf *out, const uint32_t *v, size_t n);

#endif
