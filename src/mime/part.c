/* part.c - MIME part tree of a message in memory (see part.h). */
#include "lib/common.h"

#include "lib/xalloc.h"
#include "mime/header.h"
#include "mime/params.h"
#include "mime/part.h"

/* Recursion follows the depth of the tree; this keeps the stack small
 * whatever limits a caller passes. */
#define PART_DEPTH_HARD_MAX 200

static const struct mime_part_limits default_limits = {
    .max_depth = MIME_PART_DEFAULT_MAX_DEPTH,
    .max_parts = MIME_PART_DEFAULT_MAX_PARTS,
};

struct ctx {
	const unsigned char *p;
	unsigned int max_depth;
	size_t max_parts;
	struct mime_message *msg;
};

static size_t
count_lf(const unsigned char *p, size_t n)
{
	size_t lines = 0;
	const unsigned char *end = p + n, *lf;

	while (p < end && (lf = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		lines++;
		p = lf + 1;
	}
	return lines;
}

static char *
read_encoding(const struct mime_header_field *f)
{
	size_t i = 0, start, k;
	char *enc;

	if (f == NULL)
		return xstrdup("7bit");
	while (i < f->value_len && (f->value[i] == ' ' || f->value[i] == '\t'))
		i++;
	start = i;
	while (i < f->value_len && f->value[i] > ' ' && f->value[i] != ';' && f->value[i] != '(' &&
	       (unsigned char)f->value[i] < 0x7f)
		i++;
	if (i == start || i - start > MIME_TOKEN_MAX)
		return xstrdup("7bit");
	enc = xstrndup(f->value + start, i - start);
	for (k = 0; enc[k] != '\0'; k++)
		enc[k] = (char)ascii_tolower((unsigned char)enc[k]);
	return enc;
}

static struct mime_part *
new_child(struct ctx *ctx, struct mime_part *parent, struct mime_part **tail)
{
	struct mime_part *c = xcalloc(1, sizeof(*c));

	c->parent = parent;
	c->depth = parent->depth + 1;
	if (*tail == NULL)
		parent->children = c;
	else
		(*tail)->next = c;
	*tail = c;
	parent->nchildren++;
	ctx->msg->nparts++;
	return c;
}

/* May parent get one more child? */
static bool
may_add(struct ctx *ctx, struct mime_part *parent)
{
	if (parent->depth >= ctx->max_depth) {
		parent->flags |= MIME_PART_F_TOO_DEEP;
		return false;
	}
	if (ctx->msg->nparts >= ctx->max_parts) {
		parent->flags |= MIME_PART_F_TOO_MANY;
		return false;
	}
	return true;
}

static void parse_part(struct ctx *ctx, struct mime_part *part, size_t start, size_t end,
		       bool digest_child);

/* Is line[n] (no line break) a delimiter for boundary[blen]? */
static bool
is_delimiter(const unsigned char *line, size_t n, const char *boundary, size_t blen, bool *close_r)
{
	size_t i;

	if (n < 2 + blen || line[0] != '-' || line[1] != '-' ||
	    memcmp(line + 2, boundary, blen) != 0)
		return false;
	i = 2 + blen;
	*close_r = false;
	if (n - i >= 2 && line[i] == '-' && line[i + 1] == '-') {
		*close_r = true;
		i += 2;
	}
	for (; i < n; i++) {
		if (line[i] != ' ' && line[i] != '\t')
			return false;
	}
	return true;
}

static void
split_multipart(struct ctx *ctx, struct mime_part *part)
{
	const struct mime_param *bp = mime_content_param(&part->ct, "boundary");
	bool digest = mime_content_is(&part->ct, "multipart", "digest");
	size_t pos = part->body_offset, end = part->body_offset + part->body_size;
	size_t cstart = 0, blen;
	bool preamble = true, closed = false;
	struct mime_part *tail = NULL;

	part->flags |= MIME_PART_F_MULTIPART;
	if (bp == NULL || bp->value_len == 0 || memchr(bp->value, '\0', bp->value_len) != NULL) {
		part->flags |= MIME_PART_F_NO_DELIMITER;
		return;
	}
	blen = bp->value_len;
	while (pos < end) {
		const unsigned char *lf = memchr(ctx->p + pos, '\n', end - pos);
		size_t next = lf != NULL ? (size_t)(lf - ctx->p) + 1 : end;
		size_t llen = (lf != NULL ? (size_t)(lf - ctx->p) : end) - pos;
		bool close;

		if (llen > 0 && ctx->p[pos + llen - 1] == '\r')
			llen--;
		if (!is_delimiter(ctx->p + pos, llen, bp->value, blen, &close)) {
			pos = next;
			continue;
		}
		if (!preamble) {
			size_t cend = pos;

			/* The line break before the delimiter is part of it. */
			if (cend > cstart && ctx->p[cend - 1] == '\n') {
				cend--;
				if (cend > cstart && ctx->p[cend - 1] == '\r')
					cend--;
			}
			if (!may_add(ctx, part))
				return;
			parse_part(ctx, new_child(ctx, part, &tail), cstart, cend, digest);
		}
		preamble = false;
		if (close) {
			closed = true;
			break;
		}
		cstart = next;
		pos = next;
	}
	if (closed)
		return;
	if (preamble) {
		part->flags |= MIME_PART_F_NO_DELIMITER;
		return;
	}
	part->flags |= MIME_PART_F_NO_CLOSE;
	if (may_add(ctx, part))
		parse_part(ctx, new_child(ctx, part, &tail), cstart, end, digest);
}

static void
parse_part(struct ctx *ctx, struct mime_part *part, size_t start, size_t end, bool digest_child)
{
	struct mime_header h;
	const struct mime_header_field *f;

	(void)mime_header_parse(ctx->p + start, end - start, NULL, &h);
	part->header_offset = start;
	part->header_size = h.size;
	part->body_offset = start + h.size;
	part->body_size = end - part->body_offset;
	part->body_lines = count_lf(ctx->p + part->body_offset, part->body_size);
	f = mime_header_find(&h, "content-type");
	if (f != NULL)
		(void)mime_content_type_parse(f->value, f->value_len, &part->ct);
	else if (digest_child)
		(void)mime_content_type_parse("message/rfc822", strlen("message/rfc822"),
					      &part->ct);
	else
		(void)mime_content_type_parse(NULL, 0, &part->ct);
	part->encoding = read_encoding(mime_header_find(&h, "content-transfer-encoding"));
	mime_header_clear(&h);

	if (strcmp(part->ct.type, "multipart") == 0) {
		split_multipart(ctx, part);
	} else if ((mime_content_is(&part->ct, "message", "rfc822") ||
		    mime_content_is(&part->ct, "message", "global")) &&
		   strcmp(part->encoding, "base64") != 0 &&
		   strcmp(part->encoding, "quoted-printable") != 0) {
		struct mime_part *tail = NULL;

		if (may_add(ctx, part)) {
			part->flags |= MIME_PART_F_MESSAGE;
			parse_part(ctx, new_child(ctx, part, &tail), part->body_offset, end, false);
		}
	}
	ctx->msg->flags |= part->flags;
}

int
mime_message_parse(const void *msg, size_t len, const struct mime_part_limits *limits,
		   struct mime_message *msg_r)
{
	struct ctx ctx = {.p = msg, .msg = msg_r};

	if (limits == NULL)
		limits = &default_limits;
	ctx.max_depth = MIN(limits->max_depth, PART_DEPTH_HARD_MAX);
	ctx.max_parts = MAX(limits->max_parts, 1);
	memset(msg_r, 0, sizeof(*msg_r));
	msg_r->root = xcalloc(1, sizeof(*msg_r->root));
	msg_r->nparts = 1;
	parse_part(&ctx, msg_r->root, 0, len, false);
	return 0;
}

static void
free_part(struct mime_part *part)
{
	struct mime_part *c = part->children, *next;

	for (; c != NULL; c = next) {
		next = c->next;
		free_part(c);
	}
	mime_content_clear(&part->ct);
	free(part->encoding);
	free(part);
}

void
mime_message_clear(struct mime_message *msg)
{
	if (msg->root != NULL)
		free_part(msg->root);
	memset(msg, 0, sizeof(*msg));
}

static const struct mime_part *
nth_child(const struct mime_part *part, unsigned long n)
{
	const struct mime_part *c = part->children;

	for (; c != NULL && n > 1; n--)
		c = c->next;
	return c;
}

const struct mime_part *
mime_part_find(const struct mime_message *msg, const char *section)
{
	const struct mime_part *cur = msg->root; /* a message, or a multipart */
	const struct mime_part *found = NULL;
	const char *s = section;

	if (cur == NULL || *s == '\0')
		return NULL;
	while (*s != '\0') {
		unsigned long n = 0;
		size_t digits = 0;

		if (found != NULL) {
			/* Descend into the part found by the previous number. */
			if ((found->flags & MIME_PART_F_MESSAGE) != 0)
				cur = found->children;
			else if ((found->flags & MIME_PART_F_MULTIPART) != 0)
				cur = found;
			else
				return NULL;
		}
		if (*s == '0')
			return NULL;
		while (*s >= '0' && *s <= '9') {
			if (++digits > 9)
				return NULL;
			n = n * 10 + (unsigned long)(*s++ - '0');
		}
		if (digits == 0 || (*s != '\0' && *s != '.') || (*s == '.' && s[1] == '\0'))
			return NULL;
		if (*s == '.')
			s++;
		if ((cur->flags & MIME_PART_F_MULTIPART) != 0)
			found = nth_child(cur, n);
		else
			found = n == 1 ? cur : NULL;
		if (found == NULL)
			return NULL;
	}
	return found;
}
