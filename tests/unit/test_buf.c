/* test_buf.c - the capped growable buffer. */
#include "lib/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include "lib/buf.h"

static void
test_add_and_cap(void **state)
{
	struct buf b;

	buf_init(&b, 10);
	assert_string_equal(buf_cstr(&b), "");
	assert_int_equal(buf_add(&b, "hello", 5), 0);
	assert_int_equal(buf_add_str(&b, "world"), 0);
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "helloworld");
	/* One more byte is over the cap: refused, buffer unchanged. */
	assert_int_equal(buf_add_char(&b, '!'), -1);
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "helloworld");
	buf_release(&b);
	assert_null(b.data);
}

static void
test_printf_grows(void **state)
{
	struct buf *b = buf_new(BUF_UNLIMITED);
	char big[1000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(buf_printf(b, "%d-%s", 42, big), 0);
	assert_int_equal(b->len, 3 + 999);
	assert_memory_equal(b->data, "42-xxx", 6);
	assert_int_equal(b->data[b->len], '\0');
	buf_free(&b);
	assert_null(b);
}

static void
test_printf_over_cap(void **state)
{
	struct buf b;

	buf_init(&b, 8);
	assert_int_equal(buf_printf(&b, "%s", "123456789"), -1);
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_printf(&b, "%s", "12345678"), 0);
	buf_release(&b);
}

static void
test_consume_and_steal(void **state)
{
	struct buf b;

	buf_init(&b, 100);
	assert_int_equal(buf_add_str(&b, "abcdef"), 0);
	buf_consume(&b, 2);
	assert_string_equal(b.data, "cdef");
	char *s = buf_steal(&b);
	assert_string_equal(s, "cdef");
	assert_int_equal(b.len, 0);
	assert_null(b.data);
	free(s);
}

static void
test_reserve_overflow(void **state)
{
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(buf_add_char(&b, 'a'), 0);
	assert_null(buf_reserve(&b, SIZE_MAX));
	assert_null(buf_reserve(&b, SIZE_MAX - 1));
	char *p = buf_reserve(&b, 3);
	assert_non_null(p);
	memcpy(p, "bcd", 3);
	buf_set_len(&b, b.len + 3);
	assert_string_equal(b.data, "abcd");
	buf_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_and_cap),
		cmocka_unit_test(test_printf_grows),
		cmocka_unit_test(test_printf_over_cap),
		cmocka_unit_test(test_consume_and_steal),
		cmocka_unit_test(test_reserve_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
