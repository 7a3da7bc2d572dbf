/* fuzz_envelope.c - any header section gives an ENVELOPE whose parentheses
 * balance outside quoted strings and literals, with ten top-level items. */
#include "lib/common.h"

#include "mime/envelope.h"

static void
check_shape(const struct buf *b)
{
	const char *p = b->data, *end = b->data + b->len;
	int depth = 0, top_items = 0;
	bool item_open = false;

	while (p < end) {
		char c = *p++;
		if (c == '"') {
			while (p < end && *p != '"')
				p += *p == '\\' ? 2 : 1;
			if (p >= end)
				abort();
			p++;
		} else if (c == '{') {
			size_t n = 0;
			while (p < end && *p >= '0' && *p <= '9')
				n = n * 10 + (size_t)(*p++ - '0');
			if (p + 3 > end || p[0] != '}' || p[1] != '\r' || p[2] != '\n' ||
			    (size_t)(end - p - 3) < n)
				abort();
			p += 3 + n;
		} else if (c == '(') {
			depth++;
		} else if (c == ')') {
			if (--depth < 0)
				abort();
		}
		if (depth == 1 && c != ' ' && c != '(' && !item_open) {
			item_open = true;
			top_items++;
		}
		if (depth == 1 && c == ' ')
			item_open = false;
		if (depth == 2 && c == '(' && !item_open) {
			item_open = true;
			top_items++;
		}
	}
	if (depth != 0 || b->data[0] != '(' || top_items != 10)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_header hdr;
	struct buf out;

	if (mime_header_parse(data, size, NULL, &hdr) != 0)
		abort();
	buf_init(&out, BUF_UNLIMITED);
	if (mime_envelope(&hdr, size > 0 && (data[0] & 1), &out) != 0)
		abort();
	check_shape(&out);
	buf_release(&out);
	mime_header_clear(&hdr);
	return 0;
}
