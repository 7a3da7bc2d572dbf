/* fuzz_queue_file.c - the relay queue's envelope parser on arbitrary bytes:
 * the same result whole and fed in small chunks; whatever it accepts is
 * canonical (re-encodes to the same bytes); and the content of an accepted
 * file, parsed as that message's state file, is canonical too. */
#include "lib/common.h"

#include "lib/buf.h"
#include "lib/log.h"
#include "queue/queue_file.h"

static enum queue_parse_result
parse_chunked(const uint8_t *data, size_t size, size_t step, size_t *offset_r,
	      struct queue_envelope **env_r)
{
	struct queue_env_parser p;
	struct buf pending;
	size_t off = 0, total = 0;
	const char *error;
	enum queue_parse_result r = QUEUE_PARSE_NEED_MORE;

	queue_env_parser_init(&p);
	buf_init(&pending, BUF_UNLIMITED);
	while (r == QUEUE_PARSE_NEED_MORE && off < size) {
		size_t n = MIN(step, size - off), consumed;
		if (buf_add(&pending, data + off, n) < 0)
			abort();
		off += n;
		r = queue_env_parse(&p, pending.data, pending.len, &consumed, &error);
		if (consumed > pending.len)
			abort();
		if (r == QUEUE_PARSE_NEED_MORE && pending.len - consumed > QUEUE_LINE_MAX)
			abort(); /* must have been refused as too long */
		total += consumed;
		buf_consume(&pending, consumed);
	}
	*offset_r = total;
	*env_r = r == QUEUE_PARSE_DONE ? queue_env_parser_take(&p) : NULL;
	queue_env_parser_release(&p);
	buf_release(&pending);
	return r;
}

static void
check_canonical(const struct queue_envelope *env, const uint8_t *data, size_t len)
{
	struct buf out;
	const char *error;

	buf_init(&out, BUF_UNLIMITED);
	if (queue_env_format(env, &out, &error) < 0 || out.len != len ||
	    memcmp(out.data, data, len) != 0)
		abort();
	buf_release(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue_envelope *whole, *env1, *env7;
	size_t off_whole, off1, off7, content_offset;
	const char *error;

	log_set_level(LOG_LVL_ERROR + 1);
	enum queue_parse_result r =
	    parse_chunked(data, size, size == 0 ? 1 : size, &off_whole, &whole);
	if (parse_chunked(data, size, 1, &off1, &env1) != r ||
	    parse_chunked(data, size, 7, &off7, &env7) != r)
		abort();
	if (r == QUEUE_PARSE_DONE) {
		if (off1 != off_whole || off7 != off_whole)
			abort();
		check_canonical(whole, data, off_whole);
		check_canonical(env1, data, off_whole);
		check_canonical(env7, data, off_whole);
	}
	queue_envelope_free(&env1);
	queue_envelope_free(&env7);

	struct queue_envelope *env =
	    queue_file_parse((const char *)data, size, &content_offset, &error);
	if ((env != NULL) != (r == QUEUE_PARSE_DONE && size - off_whole == whole->content_size))
		abort();
	if (env != NULL) {
		const char *content = (const char *)data + content_offset;
		size_t len = size - content_offset;
		if (queue_state_parse(env, content, len, &error) == 0) {
			struct buf out;
			buf_init(&out, BUF_UNLIMITED);
			if (queue_state_format(env, &out, &error) < 0 || out.len != len ||
			    memcmp(out.data, content, len) != 0)
				abort();
			buf_release(&out);
			(void)queue_envelope_due(env);
		}
	}
	queue_envelope_free(&env);
	queue_envelope_free(&whole);
	return 0;
}
