/* linereader.c - the bounded line reader. */
#include "lib/common.h"

#include "lib/linereader.h"

void
line_reader_init(struct line_reader *lr, size_t max)
{
	lr->max = max;
	lr->skipping = false;
}

enum line_result
line_reader_next(struct line_reader *lr, const char *data, size_t len, struct line *line_r,
		 size_t *consumed_r)
{
	*consumed_r = 0;
	if (lr->skipping) {
		const char *lf = memchr(data, '\n', len);
		if (lf == NULL) {
			*consumed_r = len;
			return LINE_NEED_MORE;
		}
		lr->skipping = false;
		size_t skipped = (size_t)(lf - data) + 1;
		enum line_result r = line_reader_next(lr, data + skipped, len - skipped, line_r,
						      consumed_r);
		*consumed_r += skipped;
		return r;
	}

	/* A line of max bytes may be followed by CR LF: look at most max+2. */
	size_t window = len;
	if (lr->max <= SIZE_MAX - 2 && window > lr->max + 2)
		window = lr->max + 2;
	const char *lf = memchr(data, '\n', window);
	if (lf == NULL) {
		if (len < lr->max + 2 || lr->max > SIZE_MAX - 2)
			return LINE_NEED_MORE;
		/* No LF within the window: too long. A final CR in the window may
		 * still be the start of the terminator of a max-length line only
		 * if the window was shorter, which it is not here. */
		lr->skipping = true;
		*consumed_r = window;
		return LINE_TOO_LONG;
	}
	size_t end = (size_t)(lf - data);
	bool cr = end > 0 && data[end - 1] == '\r';
	size_t line_len = cr ? end - 1 : end;
	if (line_len > lr->max) {
		*consumed_r = end + 1;
		return LINE_TOO_LONG;
	}
	line_r->data = data;
	line_r->len = line_len;
	line_r->bare_lf = !cr;
	line_r->bare_cr = memchr(data, '\r', line_len) != NULL;
	line_r->has_nul = memchr(data, '\0', line_len) != NULL;
	*consumed_r = end + 1;
	return LINE_OK;
}
