/* test_imap_seqset.c - sequence sets: parsing, '*', membership, writing. */
#include "lib/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include "imap/imap_seqset.h"
#include "lib/buf.h"

/* The set as "lo:hi,..." ('*' for IMAP_SEQ_STAR), "$" when saved. */
static void
show(const struct imap_seqset *set, struct buf *out)
{
	buf_reset(out);
	if (set->saved)
		assert_int_equal(buf_add_char(out, '$'), 0);
	for (size_t i = 0; i < set->count; i++) {
		const struct imap_range *r = &set->ranges[i];
		if (i > 0)
			assert_int_equal(buf_add_char(out, ','), 0);
		if (r->lo == IMAP_SEQ_STAR)
			assert_int_equal(buf_add_char(out, '*'), 0);
		else
			assert_int_equal(buf_printf(out, "%u", r->lo), 0);
		if (r->hi != r->lo && r->hi == IMAP_SEQ_STAR)
			assert_int_equal(buf_add_str(out, ":*"), 0);
		else if (r->hi != r->lo)
			assert_int_equal(buf_printf(out, ":%u", r->hi), 0);
	}
}

/* Parse s; expect its ranges as parsed and, resolved against star, as
 * resolved. */
static void
ok(const char *s, const char *parsed, uint32_t star, const char *resolved)
{
	struct imap_seqset set;
	const char *error = NULL;
	struct buf out;

	buf_init(&out, BUF_UNLIMITED);
	if (imap_seqset_parse(s, strlen(s), &set, &error) < 0)
		fail_msg("'%s': %s", s, error);
	show(&set, &out);
	if (strcmp(buf_cstr(&out), parsed) != 0)
		fail_msg("'%s' parsed: got '%s' want '%s'", s, buf_cstr(&out), parsed);
	imap_seqset_resolve(&set, star);
	show(&set, &out);
	if (strcmp(buf_cstr(&out), resolved) != 0)
		fail_msg("'%s' star %u: got '%s' want '%s'", s, star, buf_cstr(&out), resolved);
	imap_seqset_clear(&set);
	assert_null(set.ranges);
	buf_release(&out);
}

static void
bad(const char *s)
{
	struct imap_seqset set;
	const char *error = NULL;

	if (imap_seqset_parse(s, strlen(s), &set, &error) == 0)
		fail_msg("'%s' parsed", s);
	assert_non_null(error);
	assert_int_equal(set.count, 0);
	assert_null(set.ranges);
}

static void
test_parse(void **state)
{
	(void)state;
	ok("1", "1", 10, "1");
	ok("1,3:5,7:*", "1,3:5,7:*", 10, "1,3:5,7:10");
	ok("*", "*", 10, "10");
	ok("*:4", "4:*", 10, "4:10");
	ok("*:4", "4:*", 2, "2:4");
	ok("5:2", "2:5", 10, "2:5");
	ok("7:*", "7:*", 3, "3:7");
	/* '*' resolved before merging: 5:* with star 3 is 3:5, 9 stays. */
	ok("5:*,9", "5:*,9", 3, "3:5,9");
	ok("*,*:*", "*,*", 4, "4");
	/* Without '*', sorted and merged at once. */
	ok("9,1,2,3,5:7,6", "1:3,5:7,9", 10, "1:3,5:7,9");
	ok("9,1,2,3,5:7,6,8", "1:3,5:9", 10, "1:3,5:9");
	ok("1:10,3:4", "1:10", 10, "1:10");
	ok("4294967294", "4294967294", 10, "4294967294");
	ok("4294967295", "4294967294", 10, "4294967294");
	ok("1:4294967295", "1:4294967294", 10, "1:4294967294");
	ok("11:4294967295,11:*", "11:4294967294,11:*", 10, "10:4294967294");
	ok("$", "$", 10, "$");
	/* An empty mailbox: the set is empty. */
	ok("1:*", "1:*", 0, "");
	ok("1,2", "1:2", 0, "");
}

static void
test_errors(void **state)
{
	(void)state;
	bad("");
	bad("0");
	bad("0:5");
	bad("5:0");
	bad("01");
	bad("4294967296");
	bad("99999999999999999999");
	bad("1,");
	bad(",1");
	bad("1,,2");
	bad("1 ,2");
	bad("1, 2");
	bad(" 1");
	bad("1:");
	bad(":1");
	bad("1:2:3");
	bad("**");
	bad("1*");
	bad("$,1");
	bad("1,$");
	bad("$$");
	bad("a");
	bad("-1");

	struct buf big;
	buf_init(&big, BUF_UNLIMITED);
	for (int i = 0; i < IMAP_SEQSET_MAX_RANGES; i++)
		assert_int_equal(buf_printf(&big, "%s%d", i > 0 ? "," : "", 2 * i + 1), 0);
	struct imap_seqset set;
	const char *error;
	assert_int_equal(imap_seqset_parse(big.data, big.len, &set, &error), 0);
	assert_int_equal(set.count, IMAP_SEQSET_MAX_RANGES);
	assert_true(imap_seqset_contains(&set, 1));
	assert_false(imap_seqset_contains(&set, 2));
	assert_true(imap_seqset_contains(&set, 2 * IMAP_SEQSET_MAX_RANGES - 1));
	assert_false(imap_seqset_contains(&set, 2 * IMAP_SEQSET_MAX_RANGES + 1));
	imap_seqset_clear(&set);
	assert_int_equal(buf_add_str(&big, ",7"), 0);
	assert_int_equal(imap_seqset_parse(big.data, big.len, &set, &error), -1);
	buf_release(&big);
}

static void
test_contains(void **state)
{
	struct imap_seqset set;
	const char *error;

	(void)state;
	assert_int_equal(imap_seqset_parse("3:5,9,20:*,1", 12, &set, &error), 0);
	imap_seqset_resolve(&set, 25);
	for (uint32_t n = 0; n < 30; n++) {
		bool want = n == 1 || (n >= 3 && n <= 5) || n == 9 || (n >= 20 && n <= 25);
		if (imap_seqset_contains(&set, n) != want)
			fail_msg("%u", n);
	}
	assert_false(imap_seqset_contains(&set, UINT32_MAX));
	imap_seqset_clear(&set);

	assert_int_equal(imap_seqset_parse("1:*", 3, &set, &error), 0);
	imap_seqset_resolve(&set, 0);
	for (uint32_t n = 0; n < 5; n++)
		assert_false(imap_seqset_contains(&set, n));
	imap_seqset_clear(&set);

	assert_int_equal(imap_seqset_parse("1:4294967295", 12, &set, &error), 0);
	assert_true(imap_seqset_contains(&set, 4294967294u));
	assert_false(imap_seqset_contains(&set, 0));
	imap_seqset_clear(&set);

	assert_int_equal(imap_seqset_parse("$", 1, &set, &error), 0);
	assert_true(set.saved);
	imap_seqset_resolve(&set, 10);
	assert_false(imap_seqset_contains(&set, 1));
	imap_seqset_clear(&set);
}

static void
write_is(const uint32_t *v, size_t n, const char *want)
{
	struct buf out;

	buf_init(&out, BUF_UNLIMITED);
	assert_int_equal(buf_add_str(&out, "x "), 0);
	assert_int_equal(imap_seqset_write(&out, v, n), 0);
	assert_string_equal(buf_cstr(&out) + 2, want);
	buf_release(&out);
}

static void
test_write(void **state)
{
	static const uint32_t a[] = {1, 2, 3, 5, 9, 10};
	static const uint32_t b[] = {7};
	static const uint32_t c[] = {1, 1, 2, 4, 4, 6, 7};
	static const uint32_t d[] = {4294967293u, 4294967294u, 4294967295u};
	struct buf out;

	(void)state;
	write_is(a, N_ELEMENTS(a), "1:3,5,9:10");
	write_is(b, 1, "7");
	write_is(c, N_ELEMENTS(c), "1:2,4,6:7");
	write_is(d, N_ELEMENTS(d), "4294967293:4294967295");
	write_is(a, 0, "");

	/* Full: out unchanged in length. */
	buf_init(&out, 8);
	assert_int_equal(buf_add_str(&out, "ab"), 0);
	assert_int_equal(imap_seqset_write(&out, a, N_ELEMENTS(a)), -1);
	assert_string_equal(buf_cstr(&out), "ab");
	assert_int_equal(imap_seqset_write(&out, a, 3), 0);
	assert_string_equal(buf_cstr(&out), "ab1:3");
	buf_release(&out);

	/* Round trip through parse. */
	buf_init(&out, BUF_UNLIMITED);
	assert_int_equal(imap_seqset_write(&out, c, N_ELEMENTS(c)), 0);
	struct imap_seqset set;
	const char *error;
	assert_int_equal(imap_seqset_parse(out.data, out.len, &set, &error), 0);
	for (uint32_t n = 0; n < 10; n++)
		assert_int_equal(imap_seqset_contains(&set, n),
				 n == 1 || n == 2 || n == 4 || n == 6 || n == 7);
	imap_seqset_clear(&set);
	buf_release(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_contains),
	    cmocka_unit_test(test_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
