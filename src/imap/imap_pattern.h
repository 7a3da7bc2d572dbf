/* imap_pattern.h - LIST patterns (RFC 9051 6.3.9): '*' matches any run of
 * characters, '%' any run without the hierarchy separator, every other
 * character itself (case matters). Pure.
 *
 * A pattern is compiled once and matched against many names. Matching
 * follows every way the wildcards can split a name at once (a bit per
 * pattern position), so it is exact ("*.%" matches "a.b.c") and costs
 * O(len(name) * len(pattern) / 64) whatever the name and pattern; a
 * pattern holding more literal characters than a name is long is refused
 * at once.
 */
#ifndef POSTERN_IMAP_PATTERN_H
#define POSTERN_IMAP_PATTERN_H

#include "lib/common.h"

struct imap_pattern;

/* Compile pat[len] (any bytes but NUL; runs of wildcards are folded:
 * "%*" is "*") for names of at most longest bytes: a pattern with more
 * literal characters than that matches none, and takes no more memory
 * (what it takes grows with the pattern's length times the number of
 * distinct bytes in it). */
struct imap_pattern *imap_pattern_new(const char *pat, size_t len, char sep, size_t longest);
void imap_pattern_free(struct imap_pattern **p);
/* Does the NUL-terminated name (at most longest bytes) match? (p holds
 * the scratch space: one match at a time per pattern.) */
bool imap_pattern_match(struct imap_pattern *p, const char *name);

#endif
