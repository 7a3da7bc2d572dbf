/* fuzz_submit.c - the local submission request parser: parsing the input
 * whole and in chunks of 1 and 7 bytes gives the same result and consumes
 * the same bytes; an accepted SUBMIT head is canonical (formatting the
 * parsed request gives back the bytes consumed); an accepted FLUSH/ETRN
 * argument is printable and NUL-terminated. */
#include "lib/common.h"

#include "lib/buf.h"
#include "queue/submit.h"

struct outcome {
	enum submit_parse_result r;
	size_t used;
};

static struct outcome
parse(struct submit_parser *p, const uint8_t *data, size_t size, size_t chunk)
{
	struct buf pending;
	struct outcome o = {SUBMIT_PARSE_MORE, 0};
	size_t fed = 0;
	const char *error;

	buf_init(&pending, BUF_UNLIMITED);
	while (o.r == SUBMIT_PARSE_MORE && fed < size) {
		size_t n = chunk == 0 ? size : MIN(chunk, size - fed), consumed;
		if (buf_add(&pending, data + fed, n) < 0)
			abort();
		fed += n;
		o.r = submit_parse(p, pending.data, pending.len, &consumed, &error);
		if (consumed > pending.len || (o.r == SUBMIT_PARSE_ERROR && error == NULL))
			abort();
		buf_consume(&pending, consumed);
		o.used += consumed;
	}
	buf_release(&pending);
	return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t chunks[] = {0, 1, 7};
	struct outcome first = {0};
	struct submit_parser whole;

	submit_parser_init(&whole);
	for (size_t i = 0; i < N_ELEMENTS(chunks); i++) {
		struct submit_parser p;
		submit_parser_init(&p);
		struct outcome o = parse(&p, data, size, chunks[i]);
		if (i == 0) {
			first = o;
			whole = p;
			continue;
		}
		if (o.r != first.r || (o.r == SUBMIT_PARSE_DONE && o.used != first.used))
			abort();
		submit_parser_release(&p);
	}
	if (first.r == SUBMIT_PARSE_DONE) {
		if (whole.kind == SUBMIT_SUBMIT) {
			struct buf again;
			const char *error;
			buf_init(&again, BUF_UNLIMITED);
			if (submit_request_format(&whole.req, whole.content_size, &again, &error) <
				0 ||
			    again.len != first.used || memcmp(again.data, data, again.len) != 0)
				abort();
			buf_release(&again);
		} else {
			size_t len = strnlen(whole.arg, sizeof(whole.arg));
			if (len == sizeof(whole.arg))
				abort();
			for (size_t k = 0; k < len; k++)
				if ((unsigned char)whole.arg[k] <= 0x20 ||
				    (unsigned char)whole.arg[k] >= 0x7f)
					abort();
		}
	}
	submit_parser_release(&whole);
	return 0;
}
