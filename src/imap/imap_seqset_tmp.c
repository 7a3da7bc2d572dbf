/* imap_seqset_tmp.c - TEMPORARY stand-in for imap_seqset.c (being written
 * in another branch) so that the SEARCH module's tests link. Drop at merge.
 * Only parse, resolve, contains and clear; straightforward, not tuned.
 */
#include "lib/common.h"

#include "imap/imap_seqset.h"
#include "lib/xalloc.h"

static int
parse_num(const char *s, size_t len, size_t *i, uint32_t *n_r)
{
	uint64_t n = 0;
	size_t start = *i;

	if (*i < len && s[*i] == '*') {
		(*i)++;
		*n_r = IMAP_SEQ_STAR;
		return 0;
	}
	while (*i < len && ascii_is_digit((unsigned char)s[*i])) {
		n = n * 10 + (unsigned)(s[*i] - '0');
		if (n >= UINT32_MAX)
			return -1;
		(*i)++;
	}
	if (*i == start || n == 0)
		return -1;
	*n_r = (uint32_t)n;
	return 0;
}

int
imap_seqset_parse(const char *s, size_t len, struct imap_seqset *set_r, const char **error_r)
{
	size_t i = 0, cap = 0;

	memset(set_r, 0, sizeof(*set_r));
	if (len == 1 && s[0] == '$') {
		set_r->saved = true;
		return 0;
	}
	for (;;) {
		struct imap_range r;

		if (parse_num(s, len, &i, &r.lo) < 0)
			goto bad;
		r.hi = r.lo;
		if (i < len && s[i] == ':') {
			i++;
			if (parse_num(s, len, &i, &r.hi) < 0)
				goto bad;
		}
		if (r.lo > r.hi) {
			uint32_t t = r.lo;
			r.lo = r.hi;
			r.hi = t;
		}
		if (set_r->count == IMAP_SEQSET_MAX_RANGES)
			goto bad;
		if (set_r->count == cap) {
			cap = cap == 0 ? 4 : cap * 2;
			set_r->ranges = xreallocarray(set_r->ranges, cap, sizeof(*set_r->ranges));
		}
		set_r->ranges[set_r->count++] = r;
		if (i == len)
			return 0;
		if (s[i] != ',')
			goto bad;
		i++;
	}
bad:
	imap_seqset_clear(set_r);
	*error_r = "Invalid sequence set";
	return -1;
}

void
imap_seqset_clear(struct imap_seqset *set)
{
	free(set->ranges);
	memset(set, 0, sizeof(*set));
}

static int
range_cmp(const void *a, const void *b)
{
	const struct imap_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

void
imap_seqset_resolve(struct imap_seqset *set, uint32_t star)
{
	size_t i, n = 0;

	for (i = 0; i < set->count; i++) {
		struct imap_range *r = &set->ranges[i];

		if (r->lo == IMAP_SEQ_STAR)
			r->lo = star;
		if (r->hi == IMAP_SEQ_STAR)
			r->hi = star;
		if (r->lo > r->hi) {
			uint32_t t = r->lo;
			r->lo = r->hi;
			r->hi = t;
		}
	}
	if (set->count == 0)
		return;
	qsort(set->ranges, set->count, sizeof(*set->ranges), range_cmp);
	for (i = 1; i < set->count; i++) {
		struct imap_range *last = &set->ranges[n];

		if (set->ranges[i].lo <= last->hi || set->ranges[i].lo - 1 == last->hi) {
			if (set->ranges[i].hi > last->hi)
				last->hi = set->ranges[i].hi;
		} else {
			set->ranges[++n] = set->ranges[i];
		}
	}
	set->count = n + 1;
}

bool
imap_seqset_contains(const struct imap_seqset *set, uint32_t n)
{
	size_t lo = 0, hi = set->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (n < set->ranges[mid].lo)
			hi = mid;
		else if (n > set->ranges[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}
