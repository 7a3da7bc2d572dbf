/* fuzz_mime_part.c - libFuzzer target for the MIME part tree.
 *
 * Input: byte 0 picks small or default limits; the rest is the message.
 * Checks for every part that header and body are contiguous and inside the
 * message, that children lie inside their parent's body in order without
 * overlapping, that a message/rfc822 child starts at its parent's body,
 * that body_lines is the LF count, that depth and part count respect the
 * limits (nparts is the number of nodes), and that every part is found
 * again by its IMAP section number.
 */
#include "lib/common.h"

#include "mime/part.h"

struct state {
	const uint8_t *msg;
	size_t len;
	const struct mime_message *m;
	unsigned int max_depth;
	size_t nodes;
};

static void
check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_mime_part: %s\n", what);
		abort();
	}
}

static void
check_tree(struct state *st, const struct mime_part *p)
{
	const struct mime_part *c;
	size_t lines = 0, i, prev_end, n = 0;

	st->nodes++;
	check(p->depth <= st->max_depth, "depth");
	check(p->header_offset + p->header_size == p->body_offset, "header/body");
	check(p->body_offset <= st->len && p->body_size <= st->len - p->body_offset, "bounds");
	for (i = 0; i < p->body_size; i++)
		lines += st->msg[p->body_offset + i] == '\n';
	check(lines == p->body_lines, "lines");
	check(p->ct.type != NULL && p->encoding != NULL, "type");
	prev_end = p->body_offset;
	for (c = p->children; c != NULL; c = c->next) {
		n++;
		check(c->parent == p && c->depth == p->depth + 1, "links");
		check(c->header_offset >= prev_end, "order");
		prev_end = c->body_offset + c->body_size;
		check(prev_end <= p->body_offset + p->body_size, "child outside parent");
		if ((p->flags & MIME_PART_F_MESSAGE) != 0)
			check(c->header_offset == p->body_offset && p->nchildren == 1,
			      "message child");
		check_tree(st, c);
	}
	check(n == p->nchildren, "nchildren");
}

static void visit_part(struct state *st, const struct mime_part *p, const char *s);

static void
found_at(struct state *st, const struct mime_part *p, const char *s)
{
	check(mime_part_find(st->m, s) == p, "section lookup");
	visit_part(st, p, s);
}

static void
visit_multipart(struct state *st, const struct mime_part *p, const char *prefix)
{
	const struct mime_part *c;
	size_t i = 1;
	char s[1024];

	for (c = p->children; c != NULL; c = c->next, i++) {
		int r = snprintf(s, sizeof(s), "%s%s%zu", prefix, prefix[0] != '\0' ? "." : "", i);

		check(r > 0 && (size_t)r < sizeof(s), "section length");
		found_at(st, c, s);
	}
}

static void
visit_message(struct state *st, const struct mime_part *m, const char *prefix)
{
	char s[1024];
	int r;

	if ((m->flags & MIME_PART_F_MULTIPART) != 0) {
		visit_multipart(st, m, prefix);
		return;
	}
	r = snprintf(s, sizeof(s), "%s%s1", prefix, prefix[0] != '\0' ? "." : "");
	check(r > 0 && (size_t)r < sizeof(s), "section length");
	found_at(st, m, s);
}

static void
visit_part(struct state *st, const struct mime_part *p, const char *s)
{
	if ((p->flags & MIME_PART_F_MULTIPART) != 0)
		visit_multipart(st, p, s);
	else if ((p->flags & MIME_PART_F_MESSAGE) != 0)
		visit_message(st, p->children, s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_part_limits small = {.max_depth = 6, .max_parts = 50};
	const struct mime_part_limits *lim;
	struct mime_message m;
	struct state st;

	if (size < 1)
		return 0;
	lim = (data[0] & 1) != 0 ? &small : NULL;
	(void)mime_message_parse(data + 1, size - 1, lim, &m);
	memset(&st, 0, sizeof(st));
	st.msg = data + 1;
	st.len = size - 1;
	st.m = &m;
	st.max_depth = lim != NULL ? lim->max_depth : MIME_PART_DEFAULT_MAX_DEPTH;
	check(m.root != NULL && m.root->header_offset == 0, "root");
	check(m.root->body_offset + m.root->body_size == st.len, "root size");
	check_tree(&st, m.root);
	check(st.nodes == m.nparts, "nparts");
	check(m.nparts <= (lim != NULL ? lim->max_parts : MIME_PART_DEFAULT_MAX_PARTS),
	      "max parts");
	visit_message(&st, m.root, "");
	mime_message_clear(&m);
	return 0;
}
