/* imap_seqset.c - sequence sets: parsing, resolving '*', membership, and
 * writing sorted values back in short form. */
#include "lib/common.h"

#include "imap/imap_seqset.h"

#include "lib/xalloc.h"

/* nz-number or '*' at s[*i]. */
static int
read_seq(const char *s, size_t len, size_t *i, uint32_t *n_r)
{
	uint64_t n = 0;
	size_t j = *i;

	if (j < len && s[j] == '*') {
		*n_r = IMAP_SEQ_STAR;
		*i = j + 1;
		return 0;
	}
	if (j >= len || s[j] < '1' || s[j] > '9')
		return -1;
	for (; j < len && ascii_is_digit((unsigned char)s[j]); j++) {
		n = n * 10 + (uint64_t)(s[j] - '0');
		if (n > UINT32_MAX)
			return -1;
	}
	/* 2^32-1 is a valid number but spells '*' here: read it as the
	 * largest value no message or UID ever has, below it. */
	*n_r = n == UINT32_MAX ? UINT32_MAX - 1 : (uint32_t)n;
	*i = j;
	return 0;
}

static int
range_cmp(const void *a, const void *b)
{
	const struct imap_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sort the ranges and merge those that overlap or touch. */
static void
normalize(struct imap_seqset *set)
{
	size_t k = 0;

	if (set->count == 0)
		return;
	qsort(set->ranges, set->count, sizeof(*set->ranges), range_cmp);
	for (size_t i = 1; i < set->count; i++) {
		struct imap_range *last = &set->ranges[k], *r = &set->ranges[i];
		if (last->hi == UINT32_MAX || r->lo <= last->hi + 1) {
			last->hi = MAX(last->hi, r->hi);
		} else {
			set->ranges[++k] = *r;
		}
	}
	set->count = k + 1;
}

int
imap_seqset_parse(const char *s, size_t len, struct imap_seqset *set_r, const char **error_r)
{
	size_t items = 1, i = 0;
	bool star = false;

	memset(set_r, 0, sizeof(*set_r));
	if (len == 1 && s[0] == '$') {
		set_r->saved = true;
		return 0;
	}
	for (size_t j = 0; j < len; j++)
		if (s[j] == ',')
			items++;
	if (items > IMAP_SEQSET_MAX_RANGES) {
		*error_r = "too many ranges in the sequence set";
		return -1;
	}
	set_r->ranges = xcalloc(items, sizeof(*set_r->ranges));
	for (;;) {
		struct imap_range r;
		if (read_seq(s, len, &i, &r.lo) < 0)
			break;
		r.hi = r.lo;
		if (i < len && s[i] == ':') {
			i++;
			if (read_seq(s, len, &i, &r.hi) < 0)
				break;
		}
		if (r.lo > r.hi) {
			uint32_t t = r.lo;
			r.lo = r.hi;
			r.hi = t;
		}
		star = star || r.hi == IMAP_SEQ_STAR;
		set_r->ranges[set_r->count++] = r;
		if (i == len) {
			/* Without '*' the set is final: ready for contains. */
			if (!star)
				normalize(set_r);
			return 0;
		}
		if (s[i] != ',')
			break;
		i++;
	}
	imap_seqset_clear(set_r);
	*error_r = "invalid sequence set";
	return -1;
}

void
imap_seqset_clear(struct imap_seqset *set)
{
	free(set->ranges);
	memset(set, 0, sizeof(*set));
}

void
imap_seqset_resolve(struct imap_seqset *set, uint32_t star)
{
	if (star == 0) {
		set->count = 0;
		return;
	}
	for (size_t i = 0; i < set->count; i++) {
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
	normalize(set);
}

bool
imap_seqset_contains(const struct imap_seqset *set, uint32_t n)
{
	size_t lo = 0, hi = set->count;

	/* The last range starting at or before n. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (set->ranges[mid].lo <= n)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && n <= set->ranges[lo - 1].hi;
}

int
imap_seqset_write(struct buf *out, const uint32_t *v, size_t n)
{
	size_t start = out->len;

	for (size_t i = 0; i < n;) {
		size_t j = i;
		/* Runs of consecutive values (repeats folded in). */
		while (j + 1 < n && (v[j + 1] == v[j] || v[j + 1] == v[j] + 1))
			j++;
		int r = i == 0 ? 0 : buf_add_char(out, ',');
		if (r == 0)
			r = v[i] == v[j] ? buf_printf(out, "%u", v[i])
					 : buf_printf(out, "%u:%u", v[i], v[j]);
		if (r < 0) {
			buf_set_len(out, start);
			return -1;
		}
		i = j + 1;
	}
	return 0;
}
