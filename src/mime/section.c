/* section.c - IMAP sections and BINARY decoding (see section.h). */
#include "lib/common.h"

#include "lib/base64.h"
#include "lib/buf.h"
#include "lib/qp.h"
#include "mime/header.h"
#include "mime/part.h"
#include "mime/section.h"

static bool
is_rfc822(const struct mime_part *p)
{
	return mime_content_is(&p->ct, "message", "rfc822");
}

/* The encapsulated message of a message/rfc822 part, or NULL. */
static const struct mime_part *
inner(const struct mime_part *p)
{
	return is_rfc822(p) && (p->flags & MIME_PART_F_MESSAGE) != 0 ? p->children : NULL;
}

static const struct mime_part *
nth_child(const struct mime_part *p, unsigned long n)
{
	const struct mime_part *c = p->children;

	for (; c != NULL && n > 1; n--)
		c = c->next;
	return c;
}

/* The part a section number names. In a multipart each number picks a
 * child; a part that is not multipart answers to "1" itself, and only a
 * message/rfc822 part may be followed by more numbers, which then count
 * in its encapsulated message. So "2.1" of a leaf "2" is "2" again. */
static const struct mime_part *
find(const struct mime_message *tree, const char *section)
{
	const struct mime_part *cur = tree->root;
	const char *s = section;

	if (cur == NULL || *s == '\0')
		return cur;
	while (*s != '\0' && cur != NULL) {
		unsigned long n = 0;
		size_t digits = 0;
		bool more;

		if (*s == '0')
			return NULL;
		while (ascii_is_digit((unsigned char)*s)) {
			if (++digits > 9)
				return NULL;
			n = n * 10 + (unsigned long)(*s++ - '0');
		}
		if (digits == 0 || (*s != '\0' && (*s != '.' || !ascii_is_digit((unsigned char)s[1]))))
			return NULL;
		more = *s == '.';
		if (more)
			s++;
		if ((cur->flags & MIME_PART_F_MULTIPART) != 0)
			cur = nth_child(cur, n);
		else if (n != 1 || (more && !is_rfc822(cur)))
			return NULL;
		if (cur != NULL && more && is_rfc822(cur))
			cur = inner(cur);
	}
	return cur;
}

/* The message whose header/text a HEADER*, TEXT section names. */
static const struct mime_part *
message_of(const struct mime_message *tree, const char *part)
{
	const struct mime_part *p = find(tree, part);

	if (p == NULL || *part == '\0')
		return p;
	return inner(p);
}

int
mime_section_range(const struct mime_message *tree, const char *part,
		   enum mime_section_text text, size_t *off_r, size_t *len_r)
{
	const struct mime_part *p;

	*off_r = 0;
	*len_r = 0;
	switch (text) {
	case MIME_SECTION_ALL:
		p = find(tree, part);
		if (p != NULL && *part == '\0') {
			*len_r = p->body_offset + p->body_size;
		} else if (p != NULL) {
			*off_r = p->body_offset;
			*len_r = p->body_size;
		}
		return 0;
	case MIME_SECTION_MIME:
		p = *part != '\0' ? find(tree, part) : NULL;
		if (p != NULL) {
			*off_r = p->header_offset;
			*len_r = p->header_size;
		}
		return 0;
	case MIME_SECTION_HEADER:
		p = message_of(tree, part);
		if (p != NULL) {
			*off_r = p->header_offset;
			*len_r = p->header_size;
		}
		return 0;
	case MIME_SECTION_TEXT:
		p = message_of(tree, part);
		if (p != NULL) {
			*off_r = p->body_offset;
			*len_r = p->body_size;
		}
		return 0;
	case MIME_SECTION_HEADER_FIELDS:
	case MIME_SECTION_HEADER_FIELDS_NOT:
		break;
	}
	return -1;
}

static bool
listed(const struct mime_header_field *f, const char *const *fields, size_t nfields)
{
	for (size_t i = 0; i < nfields; i++) {
		if (f->name_len == strlen(fields[i]) &&
		    ascii_ci_equal(f->name, f->name_len, fields[i]))
			return true;
	}
	return false;
}

static int
header_fields(const char *msg, const struct mime_part *p, bool not, const char *const *fields,
	      size_t nfields, struct buf *out)
{
	struct mime_header h;
	size_t start = out->len;
	int ret = 0;

	(void)mime_header_parse(msg + p->header_offset, p->header_size, NULL, &h);
	for (size_t i = 0; i < h.count && ret == 0; i++) {
		const struct mime_header_field *f = &h.fields[i];

		if (f->no_colon ? !not : listed(f, fields, nfields) == not)
			continue;
		ret = buf_add(out, msg + p->header_offset + f->offset, f->size);
		/* A last field without its line break still ends a line. */
		if (ret == 0 && (f->size == 0 || msg[p->header_offset + f->offset + f->size - 1] != '\n'))
			ret = buf_add(out, "\r\n", 2);
	}
	/* The empty line ends the section, unless the header had none and
	 * nothing was taken from it. */
	if (ret == 0 && (out->len > start || (h.flags & MIME_HEADER_F_NO_END) == 0))
		ret = buf_add(out, "\r\n", 2);
	mime_header_clear(&h);
	return ret;
}

int
mime_section_get(const char *msg, size_t len, const struct mime_message *tree, const char *part,
		 enum mime_section_text text, const char *const *fields, size_t nfields,
		 struct buf *out)
{
	const struct mime_part *p;
	size_t off, n, start = out->len;

	if (mime_section_range(tree, part, text, &off, &n) == 0) {
		if (off > len || n > len - off)
			return -1;
		return buf_add(out, msg + off, n);
	}
	p = message_of(tree, part);
	if (p == NULL)
		return 0;
	if (header_fields(msg, p, text == MIME_SECTION_HEADER_FIELDS_NOT, fields, nfields, out) < 0) {
		buf_set_len(out, start);
		return -1;
	}
	return 0;
}

/* BINARY: leaves are decoded and their Content-Transfer-Encoding field
 * says "binary"; multiparts and messages are walked, their delimiters and
 * headers copied as they are. */
struct bin {
	const char *msg;
	struct buf *out;
};

enum cte { CTE_IDENTITY, CTE_BASE64, CTE_QP, CTE_UNKNOWN };

/* The encoding a leaf is decoded from. The field must hold one token and
 * nothing else ("8bit trailing" is an unknown encoding). */
static enum cte
cte_of(const struct bin *b, const struct mime_part *p)
{
	const struct mime_header_field *f;
	struct mime_header h;
	bool clean = true;

	if (is_rfc822(p) || (p->flags & MIME_PART_F_MULTIPART) != 0)
		return CTE_IDENTITY; /* only leaves are decoded */
	(void)mime_header_parse(b->msg + p->header_offset, p->header_size, NULL, &h);
	f = mime_header_find(&h, "content-transfer-encoding");
	if (f != NULL) {
		size_t i = strspn(f->value, " \t");

		i += strcspn(f->value + i, " \t(");
		clean = f->value[i + strspn(f->value + i, " \t")] == '\0';
	}
	mime_header_clear(&h);
	if (!clean)
		return CTE_UNKNOWN;
	if (strcmp(p->encoding, "base64") == 0)
		return CTE_BASE64;
	if (strcmp(p->encoding, "quoted-printable") == 0)
		return CTE_QP;
	if (strcmp(p->encoding, "7bit") == 0 || strcmp(p->encoding, "8bit") == 0 ||
	    strcmp(p->encoding, "binary") == 0)
		return CTE_IDENTITY;
	return CTE_UNKNOWN;
}

static enum mime_binary_result
bin_copy(struct bin *b, size_t from, size_t to)
{
	return buf_add(b->out, b->msg + from, to - from) < 0 ? MIME_BINARY_FULL : MIME_BINARY_OK;
}

static enum mime_binary_result bin_whole(struct bin *b, const struct mime_part *p);

static enum mime_binary_result
bin_body(struct bin *b, const struct mime_part *p)
{
	enum mime_binary_result r = MIME_BINARY_OK;
	size_t pos = p->body_offset, end = p->body_offset + p->body_size;
	const struct mime_part *c;
	struct base64_decoder dec;

	if ((p->flags & MIME_PART_F_MULTIPART) != 0 || inner(p) != NULL) {
		for (c = p->children; c != NULL && r == MIME_BINARY_OK; c = c->next) {
			r = bin_copy(b, pos, c->header_offset);
			if (r == MIME_BINARY_OK)
				r = bin_whole(b, c);
			pos = c->body_offset + c->body_size;
		}
		return r == MIME_BINARY_OK ? bin_copy(b, pos, end) : r;
	}
	switch (cte_of(b, p)) {
	case CTE_IDENTITY:
		return bin_copy(b, pos, end);
	case CTE_BASE64:
		base64_decoder_init(&dec);
		if (base64_decoder_more(&dec, b->out, b->msg + pos, p->body_size) < 0 ||
		    base64_decoder_finish(&dec, b->out) < 0)
			return MIME_BINARY_FULL;
		return MIME_BINARY_OK;
	case CTE_QP:
		return qp_decode(b->out, b->msg + pos, p->body_size, NULL) < 0 ? MIME_BINARY_FULL
									   : MIME_BINARY_OK;
	case CTE_UNKNOWN:
		break;
	}
	return MIME_BINARY_UNKNOWN_CTE;
}

/* Header and body. When the body is decoded, the header loses its
 * Content-Transfer-Encoding fields and gets "binary" as its last field. */
static enum mime_binary_result
bin_whole(struct bin *b, const struct mime_part *p)
{
	enum cte cte = cte_of(b, p);
	struct mime_header h;
	size_t pos = 0;
	int ret = 0;

	if (cte == CTE_UNKNOWN)
		return MIME_BINARY_UNKNOWN_CTE;
	if (cte == CTE_IDENTITY) {
		if (bin_copy(b, p->header_offset, p->body_offset) != MIME_BINARY_OK)
			return MIME_BINARY_FULL;
		return bin_body(b, p);
	}
	(void)mime_header_parse(b->msg + p->header_offset, p->header_size, NULL, &h);
	for (size_t i = 0; i < h.count && ret == 0; i++) {
		const struct mime_header_field *f = &h.fields[i];

		if (f->no_colon || !mime_header_field_is(f, "content-transfer-encoding"))
			continue;
		ret = buf_add(b->out, b->msg + p->header_offset + pos, f->offset - pos);
		pos = f->offset + f->size;
	}
	if (ret == 0) {
		/* The fields end where the empty line starts. */
		size_t end = h.count > 0 ? h.fields[h.count - 1].offset + h.fields[h.count - 1].size : 0;

		ret = buf_add(b->out, b->msg + p->header_offset + pos, end > pos ? end - pos : 0);
		if (ret == 0)
			ret = buf_add_str(b->out, "Content-Transfer-Encoding: binary\r\n");
		pos = MAX(pos, end);
	}
	mime_header_clear(&h);
	if (ret < 0 || bin_copy(b, p->header_offset + pos, p->body_offset) != MIME_BINARY_OK)
		return MIME_BINARY_FULL;
	return bin_body(b, p);
}

enum mime_binary_result
mime_binary_get(const char *msg, size_t len, const struct mime_message *tree, const char *part,
		struct buf *out)
{
	const struct mime_part *p = find(tree, part);
	struct bin b = {.msg = msg, .out = out};
	size_t start = out->len;
	enum mime_binary_result r;

	if (p == NULL)
		return MIME_BINARY_NO_PART;
	if (p->body_offset > len || p->body_size > len - p->body_offset)
		return MIME_BINARY_NO_PART;
	r = *part == '\0' ? bin_whole(&b, p) : bin_body(&b, p);
	if (r != MIME_BINARY_OK)
		buf_set_len(out, start);
	return r;
}
