/* imap_pattern.c - LIST patterns (imap_pattern.h).
 *
 * The folded pattern is a list of tokens (a literal byte, '*' or '%');
 * bit j of a state set means "tokens 0..j-1 match what was read". A byte
 * moves bit j to j+1 when token j is that literal, keeps it when token j
 * is '*' (or '%', unless the byte is the separator); a wildcard may also
 * match nothing, so bit j brings bit j+1 with it when token j is one (the
 * folding leaves no two wildcards side by side: one step is enough). The
 * name matches when bit m (all tokens) is set at its end.
 */
#include "lib/common.h"

#include "imap/imap_pattern.h"
#include "lib/xalloc.h"

struct imap_pattern {
	size_t words;	    /* uint64_t per state set: (m + 1 + 63) / 64 */
	size_t m;	    /* tokens */
	size_t literals;    /* literal tokens: a shorter name cannot match */
	bool none;	    /* more of them than the longest name: not compiled */
	char sep;
	uint8_t class[256]; /* byte -> its mask in lit (0: in no literal) */
	uint64_t *lit;	    /* per class: the tokens that are that byte */
	uint64_t *star, *pct, *wild;
	uint64_t *cur, *next; /* scratch */
};

static void
bit_set(uint64_t *set, size_t j)
{
	set[j / 64] |= (uint64_t)1 << (j % 64);
}

/* to |= (from & mask) << 1: each bit of from at a token of mask moves on
 * to the next position (to may be from). */
static void
or_moved(uint64_t *to, const uint64_t *from, const uint64_t *mask, size_t words)
{
	uint64_t carry = 0;

	for (size_t w = 0; w < words; w++) {
		uint64_t moved = from[w] & mask[w];
		to[w] |= moved << 1 | carry;
		carry = moved >> 63;
	}
}

struct imap_pattern *
imap_pattern_new(const char *pat, size_t len, char sep, size_t longest)
{
	struct imap_pattern *p = xcalloc(1, sizeof(*p));
	size_t classes = 1;

	for (size_t i = 0; i < len; i++)
		if (pat[i] != '*' && pat[i] != '%')
			p->literals++;
	if (p->literals > longest) {
		p->none = true;
		return p;
	}
	/* Count the tokens and give each literal byte a class. */
	for (size_t i = 0; i < len; i++) {
		bool wild = pat[i] == '*' || pat[i] == '%';
		if (wild && i > 0 && (pat[i - 1] == '*' || pat[i - 1] == '%'))
			continue;
		p->m++;
		if (!wild && p->class[(uint8_t)pat[i]] == 0)
			p->class[(uint8_t)pat[i]] = (uint8_t)classes++;
	}
	p->sep = sep;
	p->words = (p->m + 1 + 63) / 64;
	p->lit = xcalloc(classes * p->words, sizeof(uint64_t));
	p->star = xcalloc(5 * p->words, sizeof(uint64_t));
	p->pct = p->star + p->words;
	p->wild = p->pct + p->words;
	p->cur = p->wild + p->words;
	p->next = p->cur + p->words;
	size_t j = 0;
	for (size_t i = 0; i < len; i++) {
		if (pat[i] != '*' && pat[i] != '%') {
			bit_set(p->lit + p->class[(uint8_t)pat[i]] * p->words, j++);
			continue;
		}
		/* A run of wildcards: '*' if it holds one, else '%'. */
		bool star = false;
		for (; i < len && (pat[i] == '*' || pat[i] == '%'); i++)
			star = star || pat[i] == '*';
		i--;
		bit_set(star ? p->star : p->pct, j);
		bit_set(p->wild, j++);
	}
	return p;
}

void
imap_pattern_free(struct imap_pattern **pp)
{
	struct imap_pattern *p = *pp;

	if (p == NULL)
		return;
	free(p->lit);
	free(p->star);
	free(p);
	*pp = NULL;
}

bool
imap_pattern_match(struct imap_pattern *p, const char *name)
{
	size_t words = p->words;
	uint64_t *cur = p->cur, *next = p->next;

	if (p->none || strnlen(name, p->literals) < p->literals)
		return false;
	memset(cur, 0, words * sizeof(*cur));
	bit_set(cur, 0);
	or_moved(cur, cur, p->wild, words); /* wildcards may match nothing */
	for (const char *c = name; *c != '\0'; c++) {
		const uint64_t *lit = p->lit + p->class[(uint8_t)*c] * words;
		bool any = false;
		memset(next, 0, words * sizeof(*next));
		if (p->class[(uint8_t)*c] != 0)
			or_moved(next, cur, lit, words);
		for (size_t w = 0; w < words; w++) {
			next[w] |= cur[w] & p->star[w];
			if (*c != p->sep)
				next[w] |= cur[w] & p->pct[w];
		}
		or_moved(next, next, p->wild, words);
		for (size_t w = 0; w < words && !any; w++)
			any = next[w] != 0;
		if (!any)
			return false;
		uint64_t *t = cur;
		cur = next;
		next = t;
	}
	return (cur[p->m / 64] >> (p->m % 64)) & 1;
}
