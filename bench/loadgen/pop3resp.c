/* pop3resp.c - pure POP3 response framing (see pop3resp.h). */
#include "pop3resp.h"

#include <string.h>

ssize_t
pop3_line_len(const char *p, size_t n)
{
	const char *lf = memchr(p, '\n', n);

	return lf ? (ssize_t)(lf - p + 1) : 0;
}

/* True when the line p[0..len) (with its line end) is the terminator. */
static int
is_terminator(const char *p, size_t len)
{
	return (len == 3 && memcmp(p, ".\r\n", 3) == 0) || (len == 2 && memcmp(p, ".\n", 2) == 0);
}

ssize_t
pop3_multiline_len(const char *p, size_t n)
{
	size_t pos = 0;

	for (int first = 1;; first = 0) {
		ssize_t l = pop3_line_len(p + pos, n - pos);

		if (l == 0)
			return 0;
		if (!first && is_terminator(p + pos, (size_t)l))
			return (ssize_t)(pos + (size_t)l);
		pos += (size_t)l;
	}
}

int
pop3_unstuff(const char *p, size_t n, struct lgb *out)
{
	ssize_t l = pop3_line_len(p, n);
	size_t pos;

	if (l == 0)
		return -1;
	pos = (size_t)l;
	for (;;) {
		l = pop3_line_len(p + pos, n - pos);
		if (l == 0)
			return -1;
		if (is_terminator(p + pos, (size_t)l))
			return pos + (size_t)l == n ? 0 : -1;
		if (p[pos] == '.')
			lgb_add(out, p + pos + 1, (size_t)l - 1);
		else
			lgb_add(out, p + pos, (size_t)l);
		pos += (size_t)l;
	}
}
