/* rfc2047.c - encoded-word decoding (see rfc2047.h). */
#include "lib/common.h"

#include "lib/base64.h"
#include "lib/buf.h"
#include "lib/qp.h"
#include "mime/charset.h"
#include "mime/rfc2047.h"

struct word {
	char charset[MIME_CHARSET_NAME_MAX + 1];
	char enc; /* 'b' or 'q' */
	size_t text, text_len;
	size_t end; /* after "?=" */
};

static bool
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Parse an encoded word starting at p[i] ("=?"). */
static bool
parse_word(const unsigned char *p, size_t n, size_t i, struct word *w)
{
	size_t cs = i + 2, j = cs, cs_len;
	const unsigned char *q;

	while (j < n && p[j] != '?' && !is_space(p[j]))
		j++;
	if (j >= n || p[j] != '?')
		return false;
	/* RFC 2231 section 5: charset "*" language. */
	q = memchr(p + cs, '*', j - cs);
	cs_len = q != NULL ? (size_t)(q - (p + cs)) : j - cs;
	if (!mime_charset_name_valid((const char *)p + cs, cs_len))
		return false;
	if (j + 3 > n || p[j + 2] != '?')
		return false;
	w->enc = (char)ascii_tolower(p[j + 1]);
	if (w->enc != 'b' && w->enc != 'q')
		return false;
	w->text = j + 3;
	for (j = w->text; j < n && p[j] != '?' && !is_space(p[j]); j++)
		;
	if (j + 1 >= n || p[j] != '?' || p[j + 1] != '=')
		return false;
	w->text_len = j - w->text;
	w->end = j + 2;
	memcpy(w->charset, p + cs, cs_len);
	w->charset[cs_len] = '\0';
	return true;
}

static bool
decode_text(struct buf *bytes, const unsigned char *p, const struct word *w)
{
	size_t orig = bytes->len;

	if (w->enc == 'q')
		return qp_decode_q(bytes, p + w->text, w->text_len, NULL) == 0;

	struct base64_decoder dec;

	base64_decoder_init(&dec);
	if (base64_decoder_more(&dec, bytes, p + w->text, w->text_len) < 0 ||
	    base64_decoder_finish(&dec, bytes) < 0 || dec.junk > 0) {
		buf_set_len(bytes, orig);
		return false;
	}
	return true;
}

/* Literal text with line breaks removed. */
static int
add_literal(struct buf *dst, const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i;

		while (j < n && p[j] != '\r' && p[j] != '\n')
			j++;
		if (mime_utf8_append_valid(dst, p + i, j - i) < 0)
			return -1;
		while (j < n && (p[j] == '\r' || p[j] == '\n'))
			j++;
		i = j;
	}
	return 0;
}

/* Convert a run of decoded bytes; CR, LF and NUL in it become spaces so
 * that an encoded word cannot break a line or a C string. */
static int
flush_run(struct buf *dst, const char *charset, struct buf *bytes)
{
	size_t start = dst->len, i;

	if (mime_charset_to_utf8(dst, charset, buf_cstr(bytes), bytes->len) < 0)
		return -1;
	for (i = start; i < dst->len; i++) {
		if (dst->data[i] == '\r' || dst->data[i] == '\n' || dst->data[i] == '\0')
			dst->data[i] = ' ';
	}
	buf_reset(bytes);
	return 0;
}

static bool
same_charset(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++) {
		if (ascii_tolower((unsigned char)*a) != ascii_tolower((unsigned char)*b))
			return false;
	}
	return *a == *b;
}

int
rfc2047_decode(struct buf *dst, const void *src, size_t n)
{
	const unsigned char *p = src;
	struct buf bytes; /* decoded bytes of the pending run of words */
	char charset[MIME_CHARSET_NAME_MAX + 1] = "";
	bool pending = false, adjacent;
	size_t orig = dst->len, lit = 0, i = 0;
	int ret = -1;

	/* Decoding never makes a word longer than its text. */
	buf_init(&bytes, n);
	while (i < n) {
		struct word w;

		if (p[i] != '=' || i + 1 >= n || p[i + 1] != '?' || !parse_word(p, n, i, &w)) {
			if (pending && !is_space(p[i])) {
				if (flush_run(dst, charset, &bytes) < 0)
					goto out;
				pending = false;
			}
			i++;
			continue;
		}
		adjacent = pending;
		if (pending && !same_charset(charset, w.charset)) {
			if (flush_run(dst, charset, &bytes) < 0)
				goto out;
			pending = false;
		}
		if (!decode_text(&bytes, p, &w)) {
			/* Invalid: literal, and it ends the run. */
			if (pending) {
				if (flush_run(dst, charset, &bytes) < 0)
					goto out;
				pending = false;
			}
			i += 2;
			continue;
		}
		if (!pending) {
			/* Whitespace between two words in a run is dropped;
			 * anything else before the word is literal. */
			if (!adjacent && add_literal(dst, p + lit, i - lit) < 0)
				goto out;
			memcpy(charset, w.charset, sizeof(charset));
			pending = true;
		}
		i = w.end;
		lit = i;
	}
	if (pending && flush_run(dst, charset, &bytes) < 0)
		goto out;
	if (add_literal(dst, p + lit, n - lit) < 0)
		goto out;
	ret = 0;
out:
	buf_release(&bytes);
	if (ret < 0)
		buf_set_len(dst, orig);
	return ret;
}
