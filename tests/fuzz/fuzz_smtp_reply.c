/* fuzz_smtp_reply.c - the reply parser gives the same replies whatever the
 * chunking and stays within its bounds; a reply built from the input, when
 * the builder accepts it, parses back to the same code, enhanced code and
 * lines. The first byte picks the mode and the split seed. */
#include "lib/common.h"

#include "lib/buf.h"
#include "smtp/smtp_reply.h"

/* All replies in input, fed in pieces chosen by seed (0: one shot), as
 * "code|enh|lines|text;" and "E;" on error. */
static void
parse_all(const char *in, size_t len, uint32_t seed, struct buf *out)
{
	struct smtp_reply_parser p;
	struct buf pending;

	smtp_reply_parser_init(&p, 100, 8, 300);
	buf_init(&pending, BUF_UNLIMITED);
	for (size_t off = 0; off < len;) {
		size_t n = len - off;
		if (seed != 0) {
			seed = seed * 1103515245u + 12345u;
			size_t k = 1 + (seed >> 16) % 11;
			n = MIN(n, k);
		}
		if (buf_add(&pending, in + off, n) < 0)
			abort();
		off += n;
		for (;;) {
			size_t used;
			const char *error;
			enum smtp_reply_status st =
				smtp_reply_parse(&p, buf_cstr(&pending), pending.len, &used, &error);
			if (used > pending.len)
				abort();
			buf_consume(&pending, used);
			if (st == SMTP_REPLY_MORE)
				break;
			if (st == SMTP_REPLY_ERROR) {
				if (error == NULL || buf_add_str(out, "E;") < 0)
					abort();
				goto done;
			}
			const struct smtp_reply *r = &p.reply;
			if (r->code < 200 || r->code > 559 || r->lines == 0 || r->lines > 8 ||
			    r->text.len > 300 || strlen(r->enhanced) > SMTP_ENHANCED_MAX)
				abort();
			for (size_t i = 0; i < r->text.len; i++) {
				unsigned char c = (unsigned char)r->text.data[i];
				if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
					abort();
			}
			if (buf_printf(out, "%u|%s|%u|", r->code, r->enhanced, r->lines) < 0 ||
			    buf_add(out, r->text.data, r->text.len) < 0 || buf_add_str(out, ";") < 0)
				abort();
		}
	}
done:
	buf_release(&pending);
	smtp_reply_parser_deinit(&p);
}

/* Build a reply from the input: code from two bytes, enhanced code
 * sometimes, lines split at '|'. */
static void
round_trip(const char *in, size_t len)
{
	if (len < 3)
		return;
	unsigned code = 200 + ((unsigned char)in[0] * 256u + (unsigned char)in[1]) % 360;
	bool with_enh = (in[2] & 1) != 0;
	char enh[16];
	if (snprintf(enh, sizeof(enh), "%u.%u.%u", code / 100, (unsigned char)in[2] % 8,
		     (unsigned char)in[2] % 13) < 0)
		abort();
	in += 3, len -= 3;

	struct buf wire, expect;
	struct smtp_reply_builder b;
	const char *error = NULL;
	buf_init(&wire, 1 << 16);
	buf_init(&expect, 1 << 16);
	smtp_reply_begin(&b, &wire, code, with_enh ? enh : NULL);
	unsigned lines = 0;
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && in[i] != '|')
			continue;
		if (smtp_reply_line(&b, "%.*s", (int)(i - start), in + start) == 0) {
			/* %.*s stops at a NUL */
			if ((lines > 0 && buf_add_char(&expect, '\n') < 0) ||
			    buf_add(&expect, in + start, strnlen(in + start, i - start)) < 0)
				abort();
		}
		lines++;
		start = i + 1;
	}
	int ret = smtp_reply_end(&b, &error);
	bool code_ok = (code / 10) % 10 <= 5 && !(with_enh && code / 100 == 3);
	if (ret == 0) {
		if (!code_ok)
			abort();
		/* every line within the limit, CRLF-terminated */
		size_t ls = 0;
		for (size_t i = 0; i < wire.len; i++) {
			if (wire.data[i] == '\n') {
				if (i - ls + 1 > SMTP_REPLY_LINE_MAX || wire.data[i - 1] != '\r')
					abort();
				ls = i + 1;
			}
		}
		/* text starting like an enhanced code is ambiguous without one */
		bool ambiguous = !with_enh && len > 0 && in[0] >= '0' && in[0] <= '9';
		struct smtp_reply_parser p;
		size_t used;
		smtp_reply_parser_init(&p, SMTP_REPLY_LINE_MAX, 1u << 20, 1 << 16);
		if (smtp_reply_parse(&p, wire.data, wire.len, &used, &error) != SMTP_REPLY_DONE ||
		    used != wire.len || p.reply.code != code || p.reply.lines != lines ||
		    (strcmp(p.reply.enhanced, with_enh ? enh : "") != 0 && !ambiguous))
			abort();
		if (!ambiguous && (p.reply.text.len != expect.len ||
				   memcmp(buf_cstr(&p.reply.text), buf_cstr(&expect), expect.len)))
			abort();
		smtp_reply_parser_deinit(&p);
	} else if (wire.len != 0 || error == NULL) {
		abort();
	}
	buf_release(&wire);
	buf_release(&expect);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *in = (const char *)data + 1;
	size_t len = size - 1;

	if (data[0] & 1) {
		round_trip(in, len);
		return 0;
	}
	struct buf one, split;
	buf_init(&one, BUF_UNLIMITED);
	buf_init(&split, BUF_UNLIMITED);
	parse_all(in, len, 0, &one);
	parse_all(in, len, 1 + data[0], &split);
	if (one.len != split.len || memcmp(buf_cstr(&one), buf_cstr(&split), one.len) != 0)
		abort();
	buf_release(&one);
	buf_release(&split);
	return 0;
}
