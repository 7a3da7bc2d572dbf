/* test_smtpd_from.c - addresses of a From: field for the submission check. */
#include "lib/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include "lib/buf.h"
#include "smtp/smtpd_from.h"

static int
collect(const char *address, void *ctx)
{
	struct buf *b = ctx;

	if (strcmp(address, "evil@example.net") == 0)
		return -1;
	return buf_printf(b, "[%s]", address);
}

static void
check(const char *value, int want, const char *want_seen)
{
	struct buf seen;

	buf_init(&seen, 4096);
	int r = smtpd_from_check(value, strlen(value), collect, &seen);
	if (r != want || strcmp(buf_cstr(&seen), want_seen) != 0)
		fail_msg("'%s': got %d '%s', want %d '%s'", value, r, buf_cstr(&seen), want,
			 want_seen);
	buf_release(&seen);
}

static void
test_forms(void **state)
{
	check("alice@example.test", 0, "[alice@example.test]");
	check("Alice <alice@example.test>", 0, "[alice@example.test]");
	check("\"Smith, Alice\" <alice@example.test>", 0, "[alice@example.test]");
	check("alice@example.test (Alice Smith)", 0, "[alice@example.test]");
	check("(c) <alice@example.test> (d)", 0, "[alice@example.test]");
	check("a@example.test, \"B, b\" <b@example.test>", 0, "[a@example.test][b@example.test]");
	check("\"quoted local\"@example.test", 0, "[\"quoted local\"@example.test]");
	check("Team: a@example.test, b@example.test;", 0, "[a@example.test][b@example.test]");
	/* A display name that looks like an address does not count. */
	check("\"alice@example.test\" <evil@example.net>", -1, "");
}

static void
test_refused(void **state)
{
	check("", -1, "");
	check("Alice", -1, "");
	check("Alice <alice@example.test", -1, "");
	check("<a@example.test> <b@example.test>", -1, "");
	check("a@example.test, evil@example.net", -1, "[a@example.test]");
	check("\"unterminated <a@example.test>", -1, "");
	check("(unterminated a@example.test", -1, "");
	check("Team:;", -1, "");
	/* Deep comment nesting is bounded. */
	char deep[200];
	memset(deep, '(', 100);
	memset(deep + 100, ')', 99);
	deep[199] = '\0';
	check(deep, -1, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
