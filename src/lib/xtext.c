/* xtext.c - RFC 3461 xtext decoding. */
#include "lib/common.h"

#include "lib/xtext.h"

static int
hex_digit(unsigned char c, unsigned flags)
{
	if (ascii_is_digit(c))
		return c - '0';
	if ((flags & XTEXT_UPPER) == 0)
		c = (unsigned char)(c >= 'a' && c <= 'f' ? c - 'a' + 'A' : c);
	return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

ssize_t
xtext_decode(const char *s, size_t len, char *out, size_t max, unsigned flags)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '+') {
			int hi = i + 2 < len ? hex_digit((unsigned char)s[i + 1], flags) : -1;
			int lo = hi >= 0 ? hex_digit((unsigned char)s[i + 2], flags) : -1;
			if (lo < 0)
				return -1;
			c = (unsigned char)(hi << 4 | lo);
			if ((flags & XTEXT_PRINTABLE) != 0 && (c < 0x20 || c == 0x7f))
				return -1;
			i += 2;
		} else if (c < 33 || c > 126 || c == '=') {
			return -1;
		}
		if (o >= max)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return (ssize_t)o;
}
