/* fuzz_smtpc_stuff.c - the SMTP client's dot-stuffer: fed in random chunks
 * it gives what it gives fed in one; the output has no bare CR or LF, ends
 * with CRLF "." CRLF, and undoing the stuffing gives the input with every
 * line break (CR LF, bare CR, bare LF) as CRLF. The first byte seeds the
 * chunking. */
#include "lib/common.h"

#include "lib/buf.h"
#include "smtp/smtpc.h"

static void
stuff(const char *in, size_t len, uint32_t seed, struct buf *out)
{
	struct smtpc_stuffer st;

	smtpc_stuff_init(&st);
	for (size_t off = 0; off < len;) {
		size_t n = len - off;
		if (seed != 0) {
			seed = seed * 1103515245u + 12345u;
			n = MIN(n, (seed >> 16) % 9);
		}
		if (smtpc_stuff(&st, in + off, n, out) < 0)
			abort();
		off += n;
	}
	if (smtpc_stuff_finish(&st, out) < 0)
		abort();
}

/* The input with line breaks normalised to CRLF and a final one added. */
static void
normalise(const char *in, size_t len, struct buf *out)
{
	bool line_start = true;

	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\r' || in[i] == '\n') {
			if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n')
				i++;
			if (buf_add(out, "\r\n", 2) < 0)
				abort();
			line_start = true;
		} else {
			if (buf_add_char(out, in[i]) < 0)
				abort();
			line_start = false;
		}
	}
	if (!line_start && buf_add(out, "\r\n", 2) < 0)
		abort();
}

/* Check the wire form and undo the stuffing. */
static void
unstuff(const struct buf *wire, struct buf *out)
{
	const char *s = buf_cstr(wire);
	size_t len = wire->len;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\r' && (i + 1 == len || s[i + 1] != '\n'))
			abort();
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			abort();
	}
	if (len < 3 || memcmp(s + len - 3, ".\r\n", 3) != 0)
		abort();
	if (len > 3 && memcmp(s + len - 5, "\r\n.\r\n", 5) != 0)
		abort();
	len -= 3;
	for (size_t start = 0; start < len;) {
		const char *nl = memchr(s + start, '\n', len - start);
		size_t end = (size_t)(nl - s) + 1;
		if (s[start] == '.') {
			/* Every line starting with '.' was stuffed. */
			if (end - start < 4 || s[start + 1] != '.')
				abort();
			start++;
		}
		if (buf_add(out, s + start, end - start) < 0)
			abort();
		start = end;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *in = (const char *)data + 1;
	size_t len = size - 1;
	struct buf one, split, back, norm;

	buf_init(&one, BUF_UNLIMITED);
	buf_init(&split, BUF_UNLIMITED);
	buf_init(&back, BUF_UNLIMITED);
	buf_init(&norm, BUF_UNLIMITED);
	stuff(in, len, 0, &one);
	stuff(in, len, 1u + data[0], &split);
	if (one.len != split.len || memcmp(buf_cstr(&one), buf_cstr(&split), one.len) != 0)
		abort();
	unstuff(&one, &back);
	normalise(in, len, &norm);
	if (back.len != norm.len || memcmp(buf_cstr(&back), buf_cstr(&norm), back.len) != 0)
		abort();
	buf_release(&one);
	buf_release(&split);
	buf_release(&back);
	buf_release(&norm);
	return 0;
}
