/* downgrade.c - 8-bit to 7-bit conversion of a whole message (see
 * downgrade.h).
 *
 * The part tree (mime/part.h) gives the byte ranges; the message is written
 * out again part by part. What lies between parts (preamble, delimiter
 * lines, epilogue) is copied with its line ends made CRLF, long lines cut
 * and any 8-bit octet turned into '?' (a preamble is not shown to readers).
 * A part whose header and body are already 7-bit and that needs no change
 * is copied byte for byte.
 */
#include "lib/common.h"

#include "lib/base64.h"
#include "lib/buf.h"
#include "lib/qp.h"
#include "mime/downgrade.h"
#include "mime/header.h"
#include "mime/part.h"
#include "smtp/smtp_path.h"

#define LINE_MAX_7BIT 998	/* RFC 5322 2.1.1, without the CRLF */
#define EW_MAX 75		/* an encoded word, RFC 2047 2 */
#define FIELD_NAME_IN_ERROR 40

/* The message of the last failure in this thread (it may name a field). */
static __thread char downgrade_error[96];

struct ctx {
	const char *msg;
	struct buf *out;
	const char *error;
	char error_buf[96];
};

bool
mime_is_7bit(const char *msg, size_t len)
{
	size_t col = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)msg[i];

		if (c == '\r') {
			if (i + 1 >= len || msg[i + 1] != '\n')
				return false;
			i++;
			col = 0;
		} else if (c == '\n' || c == '\0' || c >= 0x80 || ++col > LINE_MAX_7BIT) {
			return false;
		}
	}
	return true;
}

static bool
has_8bit(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			return true;
	return false;
}

static int
fail(struct ctx *c, const char *error)
{
	if (c->error == NULL)
		c->error = error;
	return -1;
}

static int
add(struct ctx *c, const void *p, size_t n)
{
	return buf_add(c->out, p, n) < 0 ? fail(c, "output too large") : 0;
}

static int
add_str(struct ctx *c, const char *s)
{
	return add(c, s, strlen(s));
}

/* Text between parts: CRLF line ends, no 8-bit octet, no NUL, no line
 * over LINE_MAX_7BIT. */
static int
add_text(struct ctx *c, const char *p, size_t n)
{
	size_t col = 0;

	if (mime_is_7bit(p, n))
		return add(c, p, n);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch == '\r' || ch == '\n') {
			if (ch == '\r' && i + 1 < n && p[i + 1] == '\n')
				i++;
			if (add(c, "\r\n", 2) < 0)
				return -1;
			col = 0;
			continue;
		}
		if (col == LINE_MAX_7BIT) {
			if (add(c, "\r\n", 2) < 0)
				return -1;
			col = 0;
		}
		if (ch >= 0x80 || ch == '\0')
			ch = '?';
		if (buf_add_char(c->out, (char)ch) < 0)
			return fail(c, "output too large");
		col++;
	}
	return 0;
}

/* ---- header fields ---- */

/* An unstructured field (RFC 5322 3.6.5, 3.6.8) whose name is printable
 * ASCII, as RFC 5322 2.2 requires. */
static bool
is_unstructured(const struct mime_header_field *f)
{
	for (size_t i = 0; i < f->name_len; i++)
		if ((unsigned char)f->name[i] <= 0x20 || (unsigned char)f->name[i] >= 0x7f)
			return false;
	return mime_header_field_is(f, "subject") || mime_header_field_is(f, "comments") ||
	       mime_header_field_is(f, "content-description") ||
	       (f->name_len > 2 && ascii_tolower((unsigned char)f->name[0]) == 'x' &&
		f->name[1] == '-');
}

/* The value as RFC 5322 2.2.3 unfolds it (CR and LF removed), without the
 * whitespace around it. */
static int
unfold(const struct mime_header_field *f, struct buf *v)
{
	size_t start = 0, end = f->raw_len;

	while (start < end && (f->raw[start] == ' ' || f->raw[start] == '\t' ||
			       f->raw[start] == '\r' || f->raw[start] == '\n'))
		start++;
	while (end > start && (f->raw[end - 1] == ' ' || f->raw[end - 1] == '\t' ||
			       f->raw[end - 1] == '\r' || f->raw[end - 1] == '\n'))
		end--;
	for (size_t i = start; i < end; i++)
		if (f->raw[i] != '\r' && f->raw[i] != '\n' && buf_add_char(v, f->raw[i]) < 0)
			return -1;
	return 0;
}

/* "Name: =?utf-8?q?...?=" with one encoded word per line (RFC 2047: at
 * most 75 characters each, a character never split between two). */
static int
add_encoded_field(struct ctx *c, const struct mime_header_field *f)
{
	struct buf v;
	const char *cs;
	size_t room, i = 0;
	int r;

	buf_init(&v, c->out->max);
	if (unfold(f, &v) < 0) {
		buf_release(&v);
		return fail(c, "output too large");
	}
	cs = smtp_utf8_valid(buf_cstr(&v), v.len) ? "utf-8" : "unknown-8bit";
	room = EW_MAX - (strlen(cs) + strlen("=?") + strlen("?q?") + strlen("?="));
	r = add(c, f->name, f->name_len);
	if (r == 0)
		r = add_str(c, ":");
	while (r == 0 && i < v.len) {
		size_t used = 0, start = i;

		while (i < v.len) {
			size_t k = cs[0] == 'u' && cs[1] == 't' ? smtp_utf8_seq(v.data + i, v.len - i)
								: 1;
			size_t sz = qp_q_encoded_size(v.data + i, k);

			if (used + sz > room)
				break;
			used += sz;
			i += k;
		}
		r = add_str(c, start == 0 ? " " : "\r\n ");
		if (r == 0 && buf_printf(c->out, "=?%s?q?", cs) < 0)
			r = fail(c, "output too large");
		if (r == 0 && qp_encode_q(c->out, v.data + start, i - start) < 0)
			r = fail(c, "output too large");
		if (r == 0)
			r = add_str(c, "?=");
	}
	if (r == 0)
		r = add(c, "\r\n", 2);
	buf_release(&v);
	return r;
}

static int
field_error(struct ctx *c, const struct mime_header_field *f, const char *what)
{
	size_t n = MIN(f->name_len, (size_t)FIELD_NAME_IN_ERROR);
	char name[FIELD_NAME_IN_ERROR + 1];

	for (size_t i = 0; i < n; i++)
		name[i] = (unsigned char)f->name[i] > 0x20 && (unsigned char)f->name[i] < 0x7f
				  ? f->name[i]
				  : '?';
	name[n] = '\0';
	if (c->error == NULL) {
		if (n == 0 || f->no_colon)
			(void)snprintf(c->error_buf, sizeof(c->error_buf), "%s in the header", what);
		else
			(void)snprintf(c->error_buf, sizeof(c->error_buf), "%s in the %s field",
				       what, name);
		c->error = c->error_buf;
	}
	return -1;
}

static int
add_field(struct ctx *c, const struct mime_header_field *f, const char *hdr)
{
	const char *p = hdr + f->offset;

	if (mime_is_7bit(p, f->size))
		return add(c, p, f->size);
	if (memchr(p, '\0', f->size) != NULL)
		return field_error(c, f, "NUL");
	if (!has_8bit(p, f->size)) {
		/* 7-bit but for its line ends or lengths. */
		size_t col = 0;

		for (size_t i = 0; i < f->size; i++) {
			if (p[i] == '\r' || p[i] == '\n')
				col = 0;
			else if (++col > LINE_MAX_7BIT)
				break;
		}
		if (col <= LINE_MAX_7BIT)
			return add_text(c, p, f->size);
	}
	if (!f->no_colon && is_unstructured(f))
		return add_encoded_field(c, f);
	/* Other fields cannot be encoded or folded without knowing their
	 * syntax. */
	return field_error(c, f, has_8bit(p, f->size) ? "8-bit data" : "a line over 998 octets");
}

static bool
is_cte(const struct mime_header_field *f)
{
	return !f->no_colon && mime_header_field_is(f, "content-transfer-encoding");
}

/* Write the header at hdr[0..n), its Content-Transfer-Encoding replaced by
 * cte when cte is not NULL (and MIME-Version added to a message header that
 * lacks it). */
static int
add_header(struct ctx *c, const char *hdr, size_t n, const char *cte, bool top)
{
	struct mime_header h;
	size_t end = 0;
	int r = 0;

	if (cte == NULL && mime_is_7bit(hdr, n))
		return add(c, hdr, n);
	(void)mime_header_parse(hdr, n, NULL, &h);
	if ((h.flags & (MIME_HEADER_F_TOO_LARGE | MIME_HEADER_F_TOO_MANY)) != 0) {
		mime_header_clear(&h);
		return fail(c, "header too large to convert");
	}
	for (size_t i = 0; i < h.count && r == 0; i++) {
		const struct mime_header_field *f = &h.fields[i];

		end = f->offset + f->size;
		if (cte != NULL && is_cte(f))
			continue;
		r = add_field(c, f, hdr);
	}
	if (r == 0 && cte != NULL) {
		if (top && mime_header_find(&h, "mime-version") == NULL)
			r = add_str(c, "MIME-Version: 1.0\r\n");
		if (r == 0 && buf_printf(c->out, "Content-Transfer-Encoding: %s\r\n", cte) < 0)
			r = fail(c, "output too large");
	}
	/* The empty line ending the header. */
	if (r == 0)
		r = add_text(c, hdr + end, n - end);
	mime_header_clear(&h);
	return r;
}

/* ---- bodies ---- */

static bool
is_identity(const char *enc)
{
	return strcmp(enc, "7bit") == 0 || strcmp(enc, "8bit") == 0 || strcmp(enc, "binary") == 0;
}

/* Decode an already encoded body whose text is not 7-bit (junk octets, long
 * lines) and encode it again, the same way, cleanly. */
static int
reencode(struct ctx *c, const struct mime_part *p, const char *body, bool text)
{
	struct buf d;
	int r = 0;

	buf_init(&d, c->out->max);
	if (strcmp(p->encoding, "base64") == 0) {
		struct base64_decoder dec;

		base64_decoder_init(&dec);
		if (base64_decoder_more(&dec, &d, body, p->body_size) < 0 ||
		    base64_decoder_finish(&dec, &d) < 0 ||
		    base64_encode(c->out, buf_cstr(&d), d.len, BASE64_MIME_LINE) < 0)
			r = fail(c, "output too large");
	} else {
		if (qp_decode(&d, body, p->body_size, NULL) < 0 ||
		    qp_encode(c->out, buf_cstr(&d), d.len, text ? QP_MODE_TEXT : QP_MODE_BINARY) < 0)
			r = fail(c, "output too large");
	}
	buf_release(&d);
	if (r == 0 && p->body_size > 0 && body[p->body_size - 1] == '\n' &&
	    strcmp(p->encoding, "base64") == 0)
		r = add(c, "\r\n", 2);
	return r;
}

static int
encode_body(struct ctx *c, const struct mime_part *p, const char *body, bool text)
{
	int r = text ? qp_encode(c->out, body, p->body_size, QP_MODE_TEXT)
		     : base64_encode(c->out, body, p->body_size, BASE64_MIME_LINE);

	if (r < 0)
		return fail(c, "output too large");
	/* base64 has no final line break; keep the one the body had. */
	if (!text && p->body_size > 0 && body[p->body_size - 1] == '\n')
		return add(c, "\r\n", 2);
	return 0;
}

static int emit_part(struct ctx *c, const struct mime_part *p, bool top);

static int
emit_leaf(struct ctx *c, const struct mime_part *p, bool top)
{
	const char *hdr = c->msg + p->header_offset, *body = c->msg + p->body_offset;
	bool text = strcmp(p->ct.type, "text") == 0;

	if (mime_is_7bit(body, p->body_size))
		return add_header(c, hdr, p->header_size, NULL, top) < 0
			       ? -1
			       : add(c, body, p->body_size);
	if (strcmp(p->encoding, "base64") == 0 || strcmp(p->encoding, "quoted-printable") == 0) {
		if (add_header(c, hdr, p->header_size, NULL, top) < 0)
			return -1;
		return reencode(c, p, body, text);
	}
	if (!is_identity(p->encoding))
		return fail(c, "8-bit data in a part with an unknown transfer encoding");
	/* Parts the tree did not split, and types that RFC 2046 5.2 keeps to
	 * the identity encodings. */
	if (strcmp(p->ct.type, "multipart") == 0 ||
	    (strcmp(p->ct.type, "message") == 0 &&
	     (strcmp(p->ct.subtype, "partial") == 0 || strcmp(p->ct.subtype, "external-body") == 0 ||
	      strcmp(p->ct.subtype, "rfc822") == 0 || strcmp(p->ct.subtype, "global") == 0)))
		return fail(c, (p->flags & (MIME_PART_F_TOO_DEEP | MIME_PART_F_TOO_MANY)) != 0
				       ? "8-bit data in parts nested too deep to convert"
				       : "8-bit data in a part that cannot be encoded");
	if (add_header(c, hdr, p->header_size, text ? "quoted-printable" : "base64", top) < 0)
		return -1;
	return encode_body(c, p, body, text);
}

/* A multipart or message with 8bit or binary as its own encoding becomes
 * 7bit once its content is. */
static const char *
container_cte(const struct mime_part *p)
{
	return strcmp(p->encoding, "8bit") == 0 || strcmp(p->encoding, "binary") == 0 ? "7bit"
										       : NULL;
}

static int
emit_container(struct ctx *c, const struct mime_part *p, bool top)
{
	size_t pos = p->body_offset, end = p->body_offset + p->body_size;

	if (add_header(c, c->msg + p->header_offset, p->header_size, container_cte(p), top) < 0)
		return -1;
	for (const struct mime_part *ch = p->children; ch != NULL; ch = ch->next) {
		if (add_text(c, c->msg + pos, ch->header_offset - pos) < 0 ||
		    emit_part(c, ch, (p->flags & MIME_PART_F_MESSAGE) != 0) < 0)
			return -1;
		pos = ch->body_offset + ch->body_size;
	}
	return add_text(c, c->msg + pos, end - pos);
}

static int
emit_part(struct ctx *c, const struct mime_part *p, bool top)
{
	size_t n = p->body_offset + p->body_size - p->header_offset;

	if (mime_is_7bit(c->msg + p->header_offset, n))
		return add(c, c->msg + p->header_offset, n);
	if (p->children != NULL)
		return emit_container(c, p, top);
	return emit_leaf(c, p, top);
}

int
mime_downgrade(const char *msg, size_t len, struct buf *out, const char **error_r)
{
	struct ctx c = {.msg = msg, .out = out};
	struct mime_message m;
	size_t orig = out->len;
	int r;

	if (mime_is_7bit(msg, len)) {
		if (buf_add(out, msg, len) < 0)
			return (*error_r = "output too large"), -1;
		return 0;
	}
	(void)mime_message_parse(msg, len, NULL, &m);
	r = emit_part(&c, m.root, true);
	mime_message_clear(&m);
	if (r == 0 && !mime_is_7bit(out->data + orig, out->len - orig))
		r = fail(&c, "internal error: conversion left 8-bit data");
	if (r < 0) {
		buf_set_len(out, orig);
		/* c.error may point into c: copy it to a lasting buffer. */
		(void)snprintf(downgrade_error, sizeof(downgrade_error), "%s",
			       c.error != NULL ? c.error : "conversion failed");
		*error_r = downgrade_error;
		return -1;
	}
	return 0;
}
