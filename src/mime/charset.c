/* charset.c - MIME text to UTF-8 with iconv (see charset.h). */
#include "lib/common.h"

#include <iconv.h>

#include "lib/buf.h"
#include "mime/charset.h"

static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */

bool
mime_charset_name_valid(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > MIME_CHARSET_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
			continue;
		if (strchr("!#$%&+^_`{}~.:-", c) == NULL || c == '\0')
			return false;
	}
	return true;
}

static bool
name_is(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++) {
		if (ascii_tolower((unsigned char)*a) != *b)
			return false;
	}
	return *a == *b;
}

bool
mime_charset_is_utf8(const char *charset)
{
	return name_is(charset, "utf-8") || name_is(charset, "utf8") ||
	       name_is(charset, "us-ascii") || name_is(charset, "ascii");
}

/* Length of the well-formed UTF-8 sequence at p[n] (n > 0), or 0. */
static size_t
utf8_seq_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t len, i;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	/* The second byte's range excludes overlongs, surrogates and
	 * code points past U+10FFFF (Unicode table 3-7). */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < len; i++) {
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	}
	return len;
}

int
mime_utf8_append_valid(struct buf *dst, const void *src, size_t n)
{
	const unsigned char *p = src;
	size_t orig = dst->len, i = 0, run = 0;

	while (i < n) {
		size_t k = utf8_seq_len(p + i, n - i);

		if (k > 0) {
			i += k;
			continue;
		}
		if (buf_add(dst, p + run, i - run) < 0 || buf_add(dst, replacement, 3) < 0)
			goto fail;
		i++;
		run = i;
	}
	if (buf_add(dst, p + run, n - run) < 0)
		goto fail;
	return 0;
fail:
	buf_set_len(dst, orig);
	return -1;
}

int
mime_charset_to_utf8(struct buf *dst, const char *charset, const void *src, size_t n)
{
	char out[1024];
	char *in = (char *)src, *o;
	size_t inleft = n, oleft, orig = dst->len;
	iconv_t cd;
	bool done = false;

	if (mime_charset_is_utf8(charset))
		return mime_utf8_append_valid(dst, src, n);
	if (!mime_charset_name_valid(charset, strlen(charset)) ||
	    (cd = iconv_open("UTF-8", charset)) == (iconv_t)-1) {
		if (mime_utf8_append_valid(dst, src, n) < 0)
			return -1;
		return 1;
	}
	while (!done) {
		size_t r;
		bool bad = false;

		o = out;
		oleft = sizeof(out);
		if (inleft > 0) {
			r = iconv(cd, &in, &inleft, &o, &oleft);
			if (r == (size_t)-1 && errno != E2BIG) {
				/* EILSEQ: skip one byte; EINVAL: a sequence
				 * cut by the end of the input. */
				bad = true;
				if (errno == EILSEQ) {
					in++;
					inleft--;
				} else {
					inleft = 0;
				}
			}
		} else {
			/* Return stateful encodings to the initial state. */
			r = iconv(cd, NULL, NULL, &o, &oleft);
			if (r == (size_t)-1 && errno == E2BIG)
				bad = false;
			else
				done = true;
		}
		if (mime_utf8_append_valid(dst, out, (size_t)(o - out)) < 0 ||
		    (bad && buf_add(dst, replacement, 3) < 0)) {
			iconv_close(cd);
			buf_set_len(dst, orig);
			return -1;
		}
	}
	iconv_close(cd);
	return 0;
}
