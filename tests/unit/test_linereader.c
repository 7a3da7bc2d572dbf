/* test_linereader.c - the bounded line reader, whole and one byte at a time. */
#include "lib/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include "lib/buf.h"
#include "lib/linereader.h"

/* Run input through the reader fed in chunks of `step` bytes, as a network
 * reader would (unconsumed bytes stay at the front of the pending buffer).
 * Collects "L:<line>|" for lines (with flags) and "T|" for too-long. */
static void
run(const char *input, size_t len, size_t max, size_t step, struct buf *out)
{
	struct line_reader lr;
	struct buf pending;

	line_reader_init(&lr, max);
	buf_init(&pending, BUF_UNLIMITED);
	for (size_t off = 0; off < len || pending.len > 0;) {
		size_t n = MIN(step, len - off);
		assert_int_equal(buf_add(&pending, input + off, n), 0);
		off += n;
		for (;;) {
			struct line line;
			size_t consumed;
			enum line_result r =
				line_reader_next(&lr, pending.data, pending.len, &line, &consumed);
			if (r == LINE_OK) {
				assert_int_equal(buf_printf(out, "L%s%s:%.*s|", line.bare_lf ? "n" : "",
							    line.bare_cr ? "r" : "", (int)line.len,
							    line.data), 0);
			} else if (r == LINE_TOO_LONG) {
				assert_int_equal(buf_add_str(out, "T|"), 0);
			}
			buf_consume(&pending, consumed);
			if (r == LINE_NEED_MORE)
				break;
		}
		if (off >= len)
			break;
	}
	buf_release(&pending);
}

static void
check(const char *input, size_t max, const char *expect)
{
	size_t len = strlen(input);
	size_t steps[] = {1, 2, 3, 7, len ? len : 1};

	for (size_t i = 0; i < N_ELEMENTS(steps); i++) {
		struct buf out;
		buf_init(&out, BUF_UNLIMITED);
		run(input, len, max, steps[i], &out);
		if (strcmp(buf_cstr(&out), expect) != 0)
			fail_msg("input %s step %zu: got '%s' want '%s'", input, steps[i],
				 buf_cstr(&out), expect);
		buf_release(&out);
	}
}

static void
test_lines(void **state)
{
	check("HELO a\r\nQUIT\r\n", 100, "L:HELO a|L:QUIT|");
	check("HELO a\nQUIT\r\n", 100, "Ln:HELO a|L:QUIT|");
	check("\r\n\n", 100, "L:|Ln:|");
	check("no end", 100, "");
	check("a\rb\r\n", 100, "Lr:a\rb|");
	check("a\r\r\n", 100, "Lr:a\r|");
}

static void
test_max_exact(void **state)
{
	/* Exactly max bytes is fine with either terminator. */
	check("abcd\r\nabcd\nx\r\n", 4, "L:abcd|Ln:abcd|L:x|");
	/* max+1 is too long, and the reader resumes after it. */
	check("abcde\r\nok\r\n", 4, "T|L:ok|");
	check("abcdefghijklmnop\r\nok\r\n", 4, "T|L:ok|");
	check("abcdefghijklmnop", 4, "T|");
	/* A CR at the cut point must not be mistaken for the terminator. */
	check("abcd\rx\r\nok\n", 4, "T|Ln:ok|");
}

static void
test_skipping_spans_many_chunks(void **state)
{
	struct buf in, out;

	buf_init(&in, BUF_UNLIMITED);
	buf_init(&out, BUF_UNLIMITED);
	for (int i = 0; i < 100000; i++)
		assert_int_equal(buf_add_char(&in, 'x'), 0);
	assert_int_equal(buf_add_str(&in, "\r\nNOOP\r\n"), 0);
	run(in.data, in.len, 512, 4096, &out);
	assert_string_equal(buf_cstr(&out), "T|L:NOOP|");
	buf_release(&in);
	buf_release(&out);
}

static void
test_nul(void **state)
{
	struct line_reader lr;
	struct line line;
	size_t consumed;

	line_reader_init(&lr, 10);
	assert_int_equal(line_reader_next(&lr, "a\0b\r\n", 5, &line, &consumed), LINE_OK);
	assert_true(line.has_nul);
	assert_int_equal(line.len, 3);
	assert_int_equal(consumed, 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_max_exact),
		cmocka_unit_test(test_skipping_spans_many_chunks),
		cmocka_unit_test(test_nul),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
