/* test_xtext.c - RFC 3461 xtext decoding. */
#include "lib/common.h"

#include <setjmp.h>

#include <cmocka.h>

#include "lib/xtext.h"

static void
check(const char *in, unsigned flags, ssize_t want, const char *out_want)
{
	char out[16];

	assert_int_equal(xtext_decode(in, strlen(in), out, sizeof(out) - 1, flags), want);
	if (want >= 0)
		assert_memory_equal(out, out_want, (size_t)want + 1);
}

static void
test_decode(void **state)
{
	(void)state;
	check("", 0, 0, "");
	check("a+2Bb+3Dc", 0, 5, "a+b=c");
	check("+2b", 0, 1, "+");	     /* lower case accepted ... */
	check("+2b", XTEXT_UPPER, -1, NULL); /* ... unless upper case is asked for */
	check("+0A", 0, 1, "\n");
	check("+0A", XTEXT_PRINTABLE, -1, NULL);
	check("+7F", XTEXT_PRINTABLE, -1, NULL);
	check("+", 0, -1, NULL);
	check("+2", 0, -1, NULL);
	check("+G0", 0, -1, NULL);
	check("a=b", 0, -1, NULL);
	check("a b", 0, -1, NULL);
	check("a\x80", 0, -1, NULL);
	check("0123456789abcdef", 0, -1, NULL); /* 16 > max 15 */
	check("0123456789abcde", 0, 15, "0123456789abcde");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_decode)};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
