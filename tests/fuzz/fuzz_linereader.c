/* fuzz_linereader.c - the line reader must give the same lines whatever the
 * chunking, never read out of bounds, and never return a line over max. */
#include "lib/common.h"

#include "lib/buf.h"
#include "lib/linereader.h"

static void
collect(const uint8_t *data, size_t size, size_t max, size_t step, struct buf *out)
{
	struct line_reader lr;
	struct buf pending;

	line_reader_init(&lr, max);
	buf_init(&pending, BUF_UNLIMITED);
	size_t off = 0;
	while (off < size) {
		size_t n = MIN(step, size - off);
		if (buf_add(&pending, data + off, n) < 0)
			abort();
		off += n;
		for (;;) {
			struct line line;
			size_t consumed;
			enum line_result r =
				line_reader_next(&lr, pending.data, pending.len, &line, &consumed);
			if (consumed > pending.len)
				abort();
			if (r == LINE_OK) {
				if (line.len > max)
					abort();
				if (buf_printf(out, "L%d%zu:", line.bare_lf, line.len) < 0 ||
				    buf_add(out, line.data, line.len) < 0)
					abort();
			} else if (r == LINE_TOO_LONG && buf_add_str(out, "T") < 0) {
				abort();
			}
			buf_consume(&pending, consumed);
			if (r == LINE_NEED_MORE)
				break;
		}
	}
	buf_release(&pending);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t max = 1 + data[0] % 64, step = 1 + data[1] % 17;
	struct buf a, b;

	buf_init(&a, BUF_UNLIMITED);
	buf_init(&b, BUF_UNLIMITED);
	collect(data + 2, size - 2, max, size, &a);
	collect(data + 2, size - 2, max, step, &b);
	if (a.len != b.len || memcmp(buf_cstr(&a), buf_cstr(&b), a.len) != 0)
		abort();
	buf_release(&a);
	buf_release(&b);
	return 0;
}
