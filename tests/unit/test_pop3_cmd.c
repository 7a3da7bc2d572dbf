/* test_pop3_cmd.c - POP3 command lines and message numbers. */
#include "lib/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include "pop3/pop3_cmd.h"

static void
test_parse(void **state)
{
	struct pop3_cmd c;
	char l1[] = "retr 12", l2[] = "TOP 1 10", l3[] = "QUIT", l4[] = "USER a b c";
	char l5[] = "", l6[] = "RETRX 1", l7[] = "RE1R", l8[] = "NOOP\tx", l9[] = " STAT";
	char l10[] = "FROB", l11[] = "PASS  spaced ";

	assert_int_equal(pop3_cmd_parse(l1, &c), 0);
	assert_int_equal(c.verb, POP3_RETR);
	assert_string_equal(c.arg, "12");
	assert_int_equal(pop3_cmd_parse(l2, &c), 0);
	assert_int_equal(c.verb, POP3_TOP);
	assert_string_equal(c.arg, "1 10");
	assert_int_equal(pop3_cmd_parse(l3, &c), 0);
	assert_int_equal(c.verb, POP3_QUIT);
	assert_null(c.arg);
	assert_int_equal(pop3_cmd_parse(l4, &c), 0);
	assert_string_equal(c.arg, "a b c");
	assert_int_equal(pop3_cmd_parse(l5, &c), -1);
	assert_int_equal(pop3_cmd_parse(l6, &c), -1);
	assert_int_equal(pop3_cmd_parse(l7, &c), -1);
	assert_int_equal(pop3_cmd_parse(l8, &c), -1);
	assert_int_equal(pop3_cmd_parse(l9, &c), -1);
	assert_int_equal(pop3_cmd_parse(l10, &c), 0);
	assert_int_equal(c.verb, POP3_UNKNOWN);
	/* A password keeps its spaces. */
	assert_int_equal(pop3_cmd_parse(l11, &c), 0);
	assert_string_equal(c.arg, " spaced ");
}

static void
test_msgnum(void **state)
{
	size_t n;
	const char *rest;

	assert_int_equal(pop3_msgnum("3", 5, &n, NULL), 1);
	assert_int_equal(n, 3);
	assert_int_equal(pop3_msgnum("6", 5, &n, NULL), 0);
	assert_int_equal(pop3_msgnum("0", 5, &n, NULL), -1);
	assert_int_equal(pop3_msgnum("-1", 5, &n, NULL), -1);
	assert_int_equal(pop3_msgnum("1x", 5, &n, NULL), -1);
	assert_int_equal(pop3_msgnum("1 2", 5, &n, NULL), -1);
	assert_int_equal(pop3_msgnum("", 5, &n, NULL), -1);
	assert_int_equal(pop3_msgnum(NULL, 5, &n, NULL), -1);
	assert_int_equal(pop3_msgnum("99999999999999999999999", 5, &n, NULL), -1);
	assert_int_equal(pop3_msgnum("2 10", 5, &n, &rest), 1);
	assert_string_equal(rest, "10");
}

static void
test_apop_digest(void **state)
{
	char d[33];

	/* RFC 1939 7, the example exchange. */
	assert_int_equal(pop3_apop_digest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf", d), 0);
	assert_string_equal(d, "c4c9334bac560ecc979e58001b3e22fb");
	assert_true(pop3_apop_match(d, "c4c9334bac560ecc979e58001b3e22fb"));
	assert_true(pop3_apop_match(d, "C4C9334BAC560ECC979E58001B3E22FB"));
	assert_false(pop3_apop_match(d, "c4c9334bac560ecc979e58001b3e22fa"));
	assert_false(pop3_apop_match(d, "c4c9334bac560ecc979e58001b3e22f"));
	assert_false(pop3_apop_match(d, ""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_msgnum),
		cmocka_unit_test(test_apop_digest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
