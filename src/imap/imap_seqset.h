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

/* Parse s[len] ("1,3:5,7:*", "*:4", or "$"). Numbers are nz-numbers,
 * 1..2^32-1 without leading zeros (0 is an error); 2^32-1 itself is read
 * as 2^32-2 so that it cannot be taken for '*' (no message or UID is that
 * large: "11:4294967295" stays above a mailbox's last UID 10, where
 * "11:*" would be 10:11). Spaces, empty items ("1,,2", "1,") are errors;
 * more than IMAP_SEQSET_MAX_RANGES items too. A set without '*' comes out
 * sorted and merged, as imap_seqset_resolve leaves it. Returns 0, or -1
 * with *error_r set (static text) and *set_r empty. Free with
 * imap_seqset_clear. */
int imap_seqset_parse(const char *s, size_t len, struct imap_seqset *set_r,
		      const char **error_r);
void imap_seqset_clear(struct imap_seqset *set);

/* Replace '*' by star (the largest sequence number or UID in the mailbox;
 * 0 when empty), re-ordering ranges as needed ("*:4" with star 2 is 2:4),
 * then sort and merge the ranges. star 0 (an empty mailbox) leaves the set
 * empty: nothing is in it, whatever it said. A saved ("$") set is left
 * alone. */
void imap_seqset_resolve(struct imap_seqset *set, uint32_t star);

/* True when n is in the set, which must be resolved (or parsed without
 * '*'); O(log ranges). Always false for "$" (use the saved result). */
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n);

/* Append ascending values v[n] as a set: "1:3,5,9:10" (repeated values
 * are written once). Returns 0 or -1 (out full; out unchanged in length).
 * n == 0 appends nothing. */
int imap_seqset_write(struct buf *out, const uint32_t *v, size_t n);

#endif
