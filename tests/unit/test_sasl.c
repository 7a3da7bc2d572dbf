/* test_sasl.c - PLAIN and LOGIN exchanges, good and malformed. */
#include "lib/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include "auth/sasl.h"
#include "lib/base64.h"

static char *
b64(const char *s, size_t n)
{
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(base64_encode(&b, s, n, 0), 0);
	return buf_steal(&b);
}

static void
test_plain_initial_response(void **state)
{
	struct sasl_exchange *ex = sasl_new("plain");
	struct buf ch;
	const char *error;
	/* RFC 4616 section 4 example. */
	char *r = b64("\0tim\0tanstaaftanstaaf", 21);

	buf_init(&ch, 1024);
	assert_non_null(ex);
	assert_int_equal(sasl_step(ex, r, &ch, &error), SASL_DONE);
	assert_string_equal(sasl_authcid(ex), "tim");
	assert_string_equal(sasl_authzid(ex), "");
	assert_string_equal(sasl_password(ex), "tanstaaftanstaaf");
	sasl_free(&ex);
	assert_null(ex);
	free(r);

	/* With an authorisation identity. */
	ex = sasl_new("PLAIN");
	r = b64("Ursel\0Kurt\0xipj3plmq", 20);
	assert_int_equal(sasl_step(ex, r, &ch, &error), SASL_DONE);
	assert_string_equal(sasl_authzid(ex), "Ursel");
	assert_string_equal(sasl_authcid(ex), "Kurt");
	sasl_free(&ex);
	free(r);
	buf_release(&ch);
}

static void
test_plain_without_initial_response(void **state)
{
	struct sasl_exchange *ex = sasl_new("PLAIN");
	struct buf ch;
	const char *error;
	char *r = b64("\0alice@example.test\0secret", 26);

	buf_init(&ch, 1024);
	assert_int_equal(sasl_step(ex, NULL, &ch, &error), SASL_CONTINUE);
	assert_int_equal(ch.len, 0);
	assert_int_equal(sasl_step(ex, r, &ch, &error), SASL_DONE);
	assert_string_equal(sasl_authcid(ex), "alice@example.test");
	sasl_free(&ex);
	free(r);
	buf_release(&ch);
}

static void
test_plain_malformed(void **state)
{
	static const struct {
		const char *raw;
		size_t len;
	} bad[] = {
		{"", 0},                      /* empty */
		{"\0user", 5},                /* one NUL */
		{"user\0pass", 9},            /* one NUL */
		{"\0\0pass", 6},              /* empty authcid */
		{"\0user\0", 6},              /* empty password */
		{"\0us\xc3\0pass", 9},        /* truncated UTF-8 */
		{"\0user\0pa\0ss", 11},       /* NUL in password */
		{"\0user\0\xed\xa0\x80", 9},  /* surrogate */
		{"\0user\0\xc0\xaf", 8},      /* overlong */
	};
	struct buf ch;
	const char *error;

	buf_init(&ch, 1024);
	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		struct sasl_exchange *ex = sasl_new("PLAIN");
		char *r = bad[i].len ? b64(bad[i].raw, bad[i].len) : strdup("=");
		if (sasl_step(ex, r, &ch, &error) != SASL_FAIL)
			fail_msg("case %zu accepted", i);
		sasl_free(&ex);
		free(r);
	}
	/* Not base64 at all; padding errors. */
	struct sasl_exchange *ex = sasl_new("PLAIN");
	assert_int_equal(sasl_step(ex, "AGZvbwBiYXI*", &ch, &error), SASL_FAIL);
	sasl_free(&ex);
	ex = sasl_new("PLAIN");
	assert_int_equal(sasl_step(ex, "AGZvbwBiYXI", &ch, &error), SASL_FAIL);
	sasl_free(&ex);
	/* A 256-octet password is over the limit; 255 is fine. */
	char big[2 + 4 + 256];
	memcpy(big, "\0bob\0", 5);
	memset(big + 5, 'p', 256);
	ex = sasl_new("PLAIN");
	char *r = b64(big, 5 + 256);
	assert_int_equal(sasl_step(ex, r, &ch, &error), SASL_FAIL);
	free(r);
	sasl_free(&ex);
	ex = sasl_new("PLAIN");
	r = b64(big, 5 + 255);
	assert_int_equal(sasl_step(ex, r, &ch, &error), SASL_DONE);
	free(r);
	sasl_free(&ex);
	buf_release(&ch);
}

static void
test_login(void **state)
{
	struct sasl_exchange *ex = sasl_new("LOGIN");
	struct buf ch;
	const char *error;

	buf_init(&ch, 1024);
	assert_int_equal(sasl_step(ex, NULL, &ch, &error), SASL_CONTINUE);
	assert_string_equal(buf_cstr(&ch), "Username:");
	assert_int_equal(sasl_step(ex, "YWxpY2VAZXhhbXBsZS50ZXN0", &ch, &error), SASL_CONTINUE);
	assert_string_equal(buf_cstr(&ch), "Password:");
	assert_int_equal(sasl_step(ex, "c2VjcmV0", &ch, &error), SASL_DONE);
	assert_string_equal(sasl_authcid(ex), "alice@example.test");
	assert_string_equal(sasl_password(ex), "secret");
	assert_int_equal(sasl_step(ex, "c2VjcmV0", &ch, &error), SASL_FAIL);
	sasl_free(&ex);

	/* Initial response carries the user name. */
	ex = sasl_new("login");
	assert_int_equal(sasl_step(ex, "Ym9i", &ch, &error), SASL_CONTINUE);
	assert_string_equal(buf_cstr(&ch), "Password:");
	assert_int_equal(sasl_step(ex, "=", &ch, &error), SASL_FAIL); /* empty password */
	sasl_free(&ex);
	buf_release(&ch);
}

static void
test_unknown_mechanism(void **state)
{
	assert_null(sasl_new("CRAM-MD5x"));
	assert_null(sasl_new(""));
	assert_string_equal(sasl_mechanisms(), "PLAIN LOGIN");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_initial_response),
		cmocka_unit_test(test_plain_without_initial_response),
		cmocka_unit_test(test_plain_malformed),
		cmocka_unit_test(test_login),
		cmocka_unit_test(test_unknown_mechanism),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
