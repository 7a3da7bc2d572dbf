/* smtp_reply.c - building SMTP replies, and the client's reply parser. */
#include "lib/common.h"

#include "smtp/smtp_reply.h"

/* status-code = class "." subject "." detail (RFC 3463 2), class 2, 4 or 5,
 * subject and detail 1 to 3 digits. Returns its length at the start of
 * s[0..len), or 0. */
static size_t
enhanced_span(const char *s, size_t len)
{
	size_t i = 0;

	if (len < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	i = 2;
	for (int part = 0; part < 2; part++) {
		size_t start = i;
		while (i < len && ascii_is_digit((unsigned char)s[i]) && i - start < 3)
			i++;
		if (i == start)
			return 0;
		if (part == 0) {
			if (i >= len || s[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < len && ascii_is_digit((unsigned char)s[i]))
		return 0;
	return i;
}

static bool
code_valid(unsigned code)
{
	return code >= 200 && code <= 559 && (code / 10) % 10 <= 5;
}

/* ---- building ---- */

static int
builder_fail(struct smtp_reply_builder *b, const char *error)
{
	if (b->error == NULL)
		b->error = error;
	buf_set_len(b->out, b->start);
	return -1;
}

void
smtp_reply_begin(struct smtp_reply_builder *b, struct buf *out, unsigned code,
		 const char *enhanced)
{
	memset(b, 0, sizeof(*b));
	b->out = out;
	b->start = out->len;
	b->code = code;
	if (!code_valid(code)) {
		b->error = "Invalid reply code";
		return;
	}
	if (enhanced == NULL)
		return;
	size_t n = strlen(enhanced);
	if (n == 0 || n > SMTP_ENHANCED_MAX || enhanced_span(enhanced, n) != n ||
	    (unsigned)(enhanced[0] - '0') != code / 100) {
		b->error = "Invalid enhanced status code";
		return;
	}
	memcpy(b->enhanced, enhanced, n + 1);
}

int
smtp_reply_vline(struct smtp_reply_builder *b, const char *fmt, va_list ap)
{
	if (b->error != NULL)
		return builder_fail(b, b->error);
	size_t line_start = b->out->len;
	if (buf_printf(b->out, "%03u-", b->code) < 0)
		return builder_fail(b, "Reply buffer full");
	b->sep = line_start + 3;
	size_t text_start = b->out->len;
	if (b->enhanced[0] != '\0' && buf_printf(b->out, "%s ", b->enhanced) < 0)
		return builder_fail(b, "Reply buffer full");
	if (buf_vprintf(b->out, fmt, ap) < 0)
		return builder_fail(b, "Reply buffer full");
	for (size_t i = text_start; i < b->out->len; i++) {
		unsigned char c = (unsigned char)b->out->data[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return builder_fail(b, "Control character in reply text");
	}
	/* "250 2.1.0" + nothing: drop the space after the enhanced code. */
	if (b->enhanced[0] != '\0' && b->out->len - text_start == strlen(b->enhanced) + 1)
		buf_set_len(b->out, b->out->len - 1);
	if (b->out->len - line_start + 2 > SMTP_REPLY_LINE_MAX)
		return builder_fail(b, "Reply line too long");
	if (buf_add(b->out, "\r\n", 2) < 0)
		return builder_fail(b, "Reply buffer full");
	b->lines++;
	return 0;
}

int
smtp_reply_line(struct smtp_reply_builder *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int ret = smtp_reply_vline(b, fmt, ap);
	va_end(ap);
	return ret;
}

int
smtp_reply_end(struct smtp_reply_builder *b, const char **error_r)
{
	if (b->error == NULL && b->lines == 0)
		(void)smtp_reply_line(b, "%s", "");
	if (b->error != NULL) {
		builder_fail(b, b->error);
		*error_r = b->error;
		return -1;
	}
	if (b->out->data[b->sep + 1] == '\r') {
		/* no text: "250" CRLF rather than "250 " CRLF */
		memcpy(b->out->data + b->sep, "\r\n", 2);
		buf_set_len(b->out, b->out->len - 1);
	} else {
		b->out->data[b->sep] = ' ';
	}
	return 0;
}

int
smtp_reply(struct buf *out, const char **error_r, unsigned code, const char *enhanced,
	   const char *fmt, ...)
{
	struct smtp_reply_builder b;
	va_list ap;

	smtp_reply_begin(&b, out, code, enhanced);
	va_start(ap, fmt);
	(void)smtp_reply_vline(&b, fmt, ap);
	va_end(ap);
	return smtp_reply_end(&b, error_r);
}

/* ---- parsing ---- */

void
smtp_reply_parser_init(struct smtp_reply_parser *p, size_t line_max, unsigned max_lines,
		       size_t max_text)
{
	memset(p, 0, sizeof(*p));
	line_reader_init(&p->lr, line_max);
	p->max_lines = max_lines;
	buf_init(&p->reply.text, max_text);
}

void
smtp_reply_parser_deinit(struct smtp_reply_parser *p)
{
	buf_release(&p->reply.text);
}

static void
reply_reset(struct smtp_reply *r)
{
	r->code = 0;
	r->enhanced[0] = '\0';
	r->lines = 0;
	buf_reset(&r->text);
}

/* One line of a reply; returns 1 for its last line, 0 for a continuation,
 * -1 on error. */
static int
parse_line(struct smtp_reply_parser *p, const struct line *line, const char **error_r)
{
	struct smtp_reply *r = &p->reply;
	const char *s = line->data;
	size_t len = line->len;

	if (len < 3 || s[0] < '2' || s[0] > '5' || s[1] < '0' || s[1] > '5' ||
	    !ascii_is_digit((unsigned char)s[2])) {
		*error_r = "Invalid reply code";
		return -1;
	}
	unsigned code = (unsigned)(s[0] - '0') * 100 + (unsigned)(s[1] - '0') * 10 +
			(unsigned)(s[2] - '0');
	bool last = len == 3 || s[3] == ' ';
	if (!last && s[3] != '-') {
		*error_r = "Invalid reply line";
		return -1;
	}
	if (r->lines > 0 && code != r->code) {
		*error_r = "Reply code changes within a reply";
		return -1;
	}
	if (r->lines >= p->max_lines) {
		*error_r = "Too many reply lines";
		return -1;
	}
	const char *text = len > 4 ? s + 4 : s + len;
	size_t tlen = len > 4 ? len - 4 : 0;

	/* Enhanced status code: taken from the first line when its class is
	 * the reply's; removed from any line that repeats it. */
	size_t en = enhanced_span(text, tlen);
	if (en > 0 && (en == tlen || text[en] == ' ')) {
		if (r->lines == 0 && (unsigned)(text[0] - '0') == code / 100) {
			memcpy(r->enhanced, text, en);
			r->enhanced[en] = '\0';
		}
		if (r->enhanced[0] != '\0' && strlen(r->enhanced) == en &&
		    memcmp(r->enhanced, text, en) == 0) {
			text += en < tlen ? en + 1 : en;
			tlen -= en < tlen ? en + 1 : en;
		}
	}
	r->code = code;
	size_t mark = r->text.len;
	if ((r->lines > 0 && buf_add_char(&r->text, '\n') < 0) || buf_add(&r->text, text, tlen) < 0) {
		buf_set_len(&r->text, mark);
		*error_r = "Reply text too long";
		return -1;
	}
	for (size_t i = r->text.len - tlen; i < r->text.len; i++) {
		unsigned char c = (unsigned char)r->text.data[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			r->text.data[i] = '?';
	}
	r->lines++;
	return last ? 1 : 0;
}

enum smtp_reply_status
smtp_reply_parse(struct smtp_reply_parser *p, const char *data, size_t len, size_t *consumed_r,
		 const char **error_r)
{
	size_t used = 0;

	*consumed_r = 0;
	*error_r = NULL;
	if (p->error != NULL) {
		*error_r = p->error;
		return SMTP_REPLY_ERROR;
	}
	if (p->done) {
		reply_reset(&p->reply);
		p->done = false;
	}
	for (;;) {
		struct line line;
		size_t n;
		enum line_result lr = line_reader_next(&p->lr, data + used, len - used, &line, &n);
		used += n;
		*consumed_r = used;
		if (lr == LINE_NEED_MORE)
			return SMTP_REPLY_MORE;
		int r = -1;
		if (lr == LINE_TOO_LONG)
			*error_r = "Reply line too long";
		else
			r = parse_line(p, &line, error_r);
		if (r < 0) {
			p->error = *error_r;
			return SMTP_REPLY_ERROR;
		}
		if (r > 0) {
			p->done = true;
			return SMTP_REPLY_DONE;
		}
	}
}
