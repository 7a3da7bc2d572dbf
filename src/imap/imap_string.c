/* imap_string.c - quoted strings and literals. */
#include "lib/common.h"

#include "imap/imap_string.h"

/* Quoted strings longer than this go out as literals: clients read them
 * more easily and quoting costs nothing then. */
#define IMAP_QUOTED_MAX 4096

int
imap_append_nstring(struct buf *out, const char *s, size_t len, bool utf8)
{
	size_t start = out->len;
	bool quotable = len <= IMAP_QUOTED_MAX;

	if (s == NULL)
		return buf_add_str(out, "NIL");
	for (size_t i = 0; i < len && quotable; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r' || c == '\n' || c == '\0' || (c >= 0x80 && !utf8))
			quotable = false;
	}
	if (!quotable) {
		if (buf_printf(out, "{%zu}\r\n", len) < 0 || imap_append_nonul(out, s, len) < 0)
			goto full;
		return 0;
	}
	if (buf_add_char(out, '"') < 0)
		goto full;
	for (size_t i = 0; i < len; i++) {
		if ((s[i] == '"' || s[i] == '\\') && buf_add_char(out, '\\') < 0)
			goto full;
		if (buf_add_char(out, s[i]) < 0)
			goto full;
	}
	if (buf_add_char(out, '"') < 0)
		goto full;
	return 0;
full:
	buf_set_len(out, start);
	return -1;
}

int
imap_append_nonul(struct buf *out, const char *s, size_t len)
{
	size_t start = out->len;

	for (const char *p = s, *end = s + len; p < end;) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		size_t n = nul != NULL ? (size_t)(nul - p) : (size_t)(end - p);
		if (buf_add(out, p, n) < 0 || (nul != NULL && buf_add_char(out, '\x80') < 0)) {
			buf_set_len(out, start);
			return -1;
		}
		p += n + (nul != NULL);
	}
	return 0;
}
