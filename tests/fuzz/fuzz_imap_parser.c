/* fuzz_imap_parser.c - IMAP command parsing fed in random chunks, literals
 * accepted or refused by bits of the input; the same events whatever the
 * chunks. Atom arguments also go through the sequence set parser.
 *
 * Input: byte 0 literal decisions (bit i for the i-th literal, cycling),
 * byte 1 chunk-size seed, byte 2 limits choice, then the stream. */
#include "lib/common.h"

#include "imap/imap_parser.h"
#include "imap/imap_seqset.h"
#include "lib/buf.h"

static void
check_seqset(const struct imap_arg *a, uint32_t star)
{
	struct imap_seqset set;
	const char *error = NULL;

	if (imap_seqset_parse(a->str, a->len, &set, &error) < 0) {
		if (error == NULL || set.ranges != NULL || set.count != 0)
			abort();
		return;
	}
	imap_seqset_resolve(&set, star);
	for (size_t i = 0; i < set.count; i++) {
		const struct imap_range *r = &set.ranges[i];
		if (r->lo == 0 || r->lo > r->hi)
			abort();
		if (i > 0 && r->lo <= set.ranges[i - 1].hi + 1)
			abort(); /* sorted, disjoint, not touching */
		if (!imap_seqset_contains(&set, r->lo) || !imap_seqset_contains(&set, r->hi))
			abort();
		if (r->lo > 1 && imap_seqset_contains(&set, r->lo - 1))
			abort();
	}
	if (imap_seqset_contains(&set, 0))
		abort();
	imap_seqset_clear(&set);
}

/* Walk the tree: the limits hold, strings are terminated; record it. */
static void
walk(const struct imap_arg *args, size_t count, unsigned depth, const struct imap_parser_limits *l,
     size_t *nargs, struct buf *out)
{
	if (depth > l->max_depth)
		abort();
	for (size_t i = 0; i < count; i++) {
		const struct imap_arg *a = &args[i];
		if (++*nargs > l->max_args)
			abort();
		(void)buf_printf(out, "%d:%zu:", (int)a->type,
				 a->type == IMAP_ARG_LIST ? a->count : a->len);
		if (a->type == IMAP_ARG_LIST) {
			walk(a->list, a->count, depth + 1, l, nargs, out);
			continue;
		}
		if (a->str == NULL || a->str[a->len] != '\0')
			abort();
		if ((a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_NIL) &&
		    (a->len == 0 || strlen(a->str) != a->len))
			abort();
		(void)buf_add(out, a->str, a->len);
		if (a->type == IMAP_ARG_ATOM)
			check_seqset(a, a->len % 3 == 0 ? 0 : (uint32_t)(a->len * 7));
	}
}

/* One run: step 0 feeds everything at once, else random chunk sizes. */
static void
run(const uint8_t *data, size_t size, uint8_t decide, unsigned seed, bool whole,
    const struct imap_parser_limits *l, struct buf *out)
{
	struct imap_parser *p = imap_parser_new(l);
	size_t off = 0, pending = 0; /* data[off .. off + pending) is unconsumed */
	unsigned nlit = 0, stuck = 0;

	while (off + pending < size) {
		size_t n = size - off - pending;
		if (!whole) {
			seed = seed * 1103515245 + 12345;
			n = MIN(n, 1 + (seed >> 16) % 17);
		}
		pending += n;
		for (;;) {
			enum imap_parse_event ev;
			size_t used = imap_parser_feed(p, data + off, pending, &ev);
			if (used > pending)
				abort();
			off += used;
			pending -= used;
			if (ev == IMAP_PARSE_MORE) {
				if (pending != 0)
					abort();
				break;
			}
			/* An event without progress is allowed once (the state
			 * changed); twice in a row would be a loop. */
			stuck = used == 0 ? stuck + 1 : 0;
			if (stuck > 1)
				abort();
			(void)buf_printf(out, "@%zu ", off);
			if (ev == IMAP_PARSE_COMMAND) {
				const struct imap_command *c = imap_parser_command(p);
				size_t nargs = 0;
				if (c->tag == NULL || c->tag[0] == '\0' || c->name == NULL ||
				    c->name[0] == '\0')
					abort();
				for (const char *s = c->name; *s != '\0'; s++)
					if (*s >= 'a' && *s <= 'z')
						abort();
				(void)buf_printf(out, "C %s %s ", c->tag, c->name);
				walk(c->args, c->count, 0, l, &nargs, out);
			} else if (ev == IMAP_PARSE_LITERAL) {
				uint64_t lsize;
				bool sync;
				const char *tag, *name;
				imap_parser_literal(p, &lsize, &sync, &tag, &name);
				if (tag == NULL || name == NULL || lsize > (uint64_t)INT64_MAX)
					abort();
				(void)buf_printf(out, "L%llu%d ", (unsigned long long)lsize, sync);
				if ((decide >> (nlit++ % 8)) & 1)
					imap_parser_literal_accept(p);
				else
					imap_parser_literal_refuse(p);
			} else {
				const char *tag, *reason;
				imap_parser_error(p, &tag, &reason);
				if (reason == NULL)
					abort();
				(void)buf_printf(out, "E %s %s ", tag != NULL ? tag : "-", reason);
			}
		}
	}
	imap_parser_free(&p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser_limits small = {64, 12, 3};
	struct buf a, b;

	if (size < 3)
		return 0;
	uint8_t decide = data[0], seed = data[1], lim = data[2];
	const struct imap_parser_limits *l = &small;
	struct imap_parser_limits def = {IMAP_PARSER_DEFAULT_MAX_LINE, IMAP_PARSER_DEFAULT_MAX_ARGS,
					 IMAP_PARSER_DEFAULT_MAX_DEPTH};
	if (lim & 1)
		l = &def;
	else
		small.max_line = 8 + lim;
	data += 3;
	size -= 3;

	buf_init(&a, 1 << 20);
	buf_init(&b, 1 << 20);
	run(data, size, decide, seed, true, l, &a);
	run(data, size, decide, seed, false, l, &b);
	/* Same events, at the same input offsets, whatever the chunks (a
	 * transcript that hit its cap compares as far as it goes). */
	if (a.len != b.len || memcmp(buf_cstr(&a), buf_cstr(&b), a.len) != 0)
		abort();
	buf_release(&a);
	buf_release(&b);
	return 0;
}
