/* test_addr.c - domain and address validation and canonical forms. */
#include "lib/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include "lib/addr.h"
#include "lib/buf.h"

struct good {
	const char *in;
	const char *canon;
};

static const struct good good_domains[] = {
	{"example.com", "example.com"},
	{"EXAMPLE.Com", "example.com"},
	{"localhost", "localhost"},
	{"a.b.c.d.e", "a.b.c.d.e"},
	{"a-b.example", "a-b.example"},
	{"1example.com", "1example.com"},
	{"123.example", "123.example"},
	{"example.com1", "example.com1"},
	{"BÜcher.Example", "xn--bcher-kva.example"},
	{"bücher.example", "xn--bcher-kva.example"},
	{"xn--bcher-kva.example", "xn--bcher-kva.example"},
	{"XN--BCHER-KVA.EXAMPLE", "xn--bcher-kva.example"},
	{"faß.de", "xn--fa-hia.de"}, /* non-transitional: sharp s kept */
	{"münchen.de", "xn--mnchen-3ya.de"},
	{"\xef\xbc\xa1\xef\xbc\xa2\xef\xbc\xa3.com", "abc.com"}, /* full-width ABC */
	{"b\xc3\xbc" "cher\xe3\x80\x82" "example", "xn--bcher-kva.example"}, /* ideographic stop */
	{"пример.рф", "xn--e1afmkfd.xn--p1ai"},
	{"例え.テスト", "xn--r8jz45g.xn--zckzah"},
};

struct bad {
	const char *in;
	const char *why; /* a substring of the error message, or NULL */
};

static const struct bad bad_domains[] = {
	{"", "empty"},
	{".", "dot"},
	{"example.com.", "ends with a dot"},
	{".example.com", "empty label"},
	{"a..b", "empty label"},
	{"-a.com", "hyphen"},
	{"a-.com", "hyphen"},
	{"a_b.com", "character"},
	{"a b.com", "character"},
	{"ex%ample.com", "character"},
	{"exa\tmple.com", "control"},
	{"[192.0.2.1]", "literal"},
	{"[IPv6:2001:db8::1]", "literal"},
	{"192.0.2.1", "numeric"},
	{"10.0.0.300", "numeric"},
	{"example.123", "numeric"},
	{"ab--cd.example", "third and fourth"},
	{"xn--.example", NULL},
	{"xn--a-ecp.ru", NULL},    /* A-label for a disallowed character */
	{"xn--ls8h.la", NULL},     /* emoji: not IDNA2008 */
	{"\xf0\x9f\x92\xa9.la", NULL},
	{"bad\xff.example", NULL}, /* not UTF-8 */
	{"\xc3.example", NULL},
	{"user@example.com", "character"},
};

static void
test_domains_good(void **state)
{
	for (size_t i = 0; i < N_ELEMENTS(good_domains); i++) {
		struct buf b;
		const char *error = NULL;
		buf_init(&b, BUF_UNLIMITED);
		int rc = addr_domain_canon(good_domains[i].in, &b, &error);
		if (rc != 0)
			fail_msg("'%s' refused: %s", good_domains[i].in, error);
		assert_string_equal(buf_cstr(&b), good_domains[i].canon);
		/* The canonical form is a fixed point. */
		struct buf again;
		buf_init(&again, BUF_UNLIMITED);
		assert_int_equal(addr_domain_canon(buf_cstr(&b), &again, &error), 0);
		assert_string_equal(buf_cstr(&again), buf_cstr(&b));
		buf_release(&again);
		buf_release(&b);
	}
}

static void
test_domains_bad(void **state)
{
	for (size_t i = 0; i < N_ELEMENTS(bad_domains); i++) {
		struct buf b;
		const char *error = NULL;
		buf_init(&b, BUF_UNLIMITED);
		assert_int_equal(buf_add_str(&b, "keep"), 0);
		if (addr_domain_canon(bad_domains[i].in, &b, &error) == 0)
			fail_msg("'%s' accepted as '%s'", bad_domains[i].in, buf_cstr(&b));
		assert_non_null(error);
		if (bad_domains[i].why != NULL && strstr(error, bad_domains[i].why) == NULL)
			fail_msg("'%s': unexpected error '%s'", bad_domains[i].in, error);
		assert_string_equal(buf_cstr(&b), "keep"); /* unchanged on failure */
		buf_release(&b);
	}
}

static void
test_domain_lengths(void **state)
{
	char d[600];
	struct buf b;
	const char *error;

	buf_init(&b, BUF_UNLIMITED);
	/* 63-octet label is fine, 64 is not. */
	memset(d, 'a', 63);
	memcpy(d + 63, ".com", 5);
	assert_int_equal(addr_domain_canon(d, &b, &error), 0);
	memset(d, 'a', 64);
	memcpy(d + 64, ".com", 5);
	assert_int_equal(addr_domain_canon(d, &b, &error), -1);
	assert_non_null(strstr(error, "63"));

	/* 253 octets total is fine, 254 is not: 4 labels of 63 + 3 dots = 255. */
	size_t n = 0;
	for (int l = 0; l < 4; l++) {
		memset(d + n, 'a' + l, 63);
		n += 63;
		d[n++] = '.';
	}
	d[--n] = '\0'; /* 255 */
	buf_reset(&b);
	assert_int_equal(addr_domain_canon(d + 2, &b, &error), 0); /* 253 */
	assert_int_equal(b.len, 253);
	assert_int_equal(addr_domain_canon(d + 1, &b, &error), -1); /* 254 */
	assert_non_null(strstr(error, "253"));

	/* Far too long is refused before any work. */
	char big[ADDR_INPUT_MAX + 10];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(addr_domain_canon(big, &b, &error), -1);
	buf_release(&b);
}

static const struct good good_addrs[] = {
	{"user@example.com", "user@example.com"},
	{"User.Name@Example.COM", "user.name@example.com"},
	{"a@b", "a@b"},
	{"first.last+tag@example.com", "first.last+tag@example.com"},
	{"!#$%&'*+-/=?^_`{|}~@example.com", "!#$%&'*+-/=?^_`{|}~@example.com"},
	{"\"john\"@example.com", "john@example.com"}, /* quoting not needed */
	{"\"John.Doe\"@example.com", "john.doe@example.com"},
	{"\"john doe\"@example.com", "\"john doe\"@example.com"},
	{"\"John Doe\"@example.com", "\"john doe\"@example.com"},
	{"\"a@b\"@example.com", "\"a@b\"@example.com"},
	{"\"a\\\"b\"@example.com", "\"a\\\"b\"@example.com"},
	{"\"a\\\\b\"@example.com", "\"a\\\\b\"@example.com"},
	{"\"\\a\"@example.com", "a@example.com"}, /* needless escape dropped */
	{"\"a..b\"@example.com", "\"a..b\"@example.com"},
	{"\".a\"@example.com", "\".a\"@example.com"},
	{"user@BÜcher.Example", "user@xn--bcher-kva.example"},
	{"Jörg@Bücher.example", "jörg@xn--bcher-kva.example"}, /* SMTPUTF8 */
	{"ÄBC@example.com", "Äbc@example.com"}, /* only ASCII is lower-cased */
	{"用户@例子.广告", "用户@xn--fsqu00a.xn--4rr70v"},
	{"\"用户 名\"@example.com", "\"用户 名\"@example.com"},
	{"postmaster@localhost", "postmaster@localhost"},
};

static const struct bad bad_addrs[] = {
	{"", "empty"},
	{"user", "no domain"},
	{"@example.com", "empty local"},
	{"user@", "empty domain"},
	{"user@@example.com", NULL},
	{"a@b@example.com", NULL},
	{".user@example.com", "dot"},
	{"user.@example.com", "dot"},
	{"us..er@example.com", "dot"},
	{"us er@example.com", "space"},
	{"us\"er@example.com", "quote"},
	{"us\\er@example.com", "backslash"},
	{"us(er)@example.com", "character"},
	{"us,er@example.com", "character"},
	{"us[er@example.com", "character"},
	{"us\ter@example.com", "control"},
	{"us\x7f" "er@example.com", "control"},
	{"\"\"@example.com", "empty local"},
	{"\"unterminated@example.com", "unterminated"},
	{"\"a\"b@example.com", "after the closing quote"},
	{"\"a\tb\"@example.com", "quoted"},
	{"\"a\\\x01\"@example.com", "escaped"},
	{"us\xff" "er@example.com", "UTF-8"},
	{"us\xc0\xaf" "er@example.com", "UTF-8"},     /* overlong '/' */
	{"us\xed\xa0\x80" "er@example.com", "UTF-8"}, /* surrogate */
	{"us\xc2\x85" "er@example.com", "UTF-8"},     /* C1 control NEL */
	{"us\xe4\xb8" "@example.com", "UTF-8"},       /* truncated */
	{"user@[192.0.2.1]", "literal"},
	{"user@192.0.2.1", "numeric"},
	{"user@exa_mple.com", "character"},
	{"user@example.com.", "dot"},
	{"<user@example.com>", NULL},
	{"User <user@example.com>", NULL},
};

static void
test_addrs_good(void **state)
{
	for (size_t i = 0; i < N_ELEMENTS(good_addrs); i++) {
		struct buf b;
		const char *error = NULL;
		buf_init(&b, BUF_UNLIMITED);
		if (addr_canon(good_addrs[i].in, &b, &error) != 0)
			fail_msg("'%s' refused: %s", good_addrs[i].in, error);
		assert_string_equal(buf_cstr(&b), good_addrs[i].canon);
		struct buf again;
		buf_init(&again, BUF_UNLIMITED);
		assert_int_equal(addr_canon(buf_cstr(&b), &again, &error), 0);
		assert_string_equal(buf_cstr(&again), buf_cstr(&b));
		buf_release(&again);
		buf_release(&b);
	}
}

static void
test_addrs_bad(void **state)
{
	for (size_t i = 0; i < N_ELEMENTS(bad_addrs); i++) {
		struct buf b;
		const char *error = NULL;
		buf_init(&b, BUF_UNLIMITED);
		assert_int_equal(buf_add_str(&b, "keep"), 0);
		if (addr_canon(bad_addrs[i].in, &b, &error) == 0)
			fail_msg("'%s' accepted as '%s'", bad_addrs[i].in, buf_cstr(&b));
		assert_non_null(error);
		if (bad_addrs[i].why != NULL && strstr(error, bad_addrs[i].why) == NULL)
			fail_msg("'%s': unexpected error '%s'", bad_addrs[i].in, error);
		assert_string_equal(buf_cstr(&b), "keep");
		buf_release(&b);
	}
}

static void
test_addr_lengths(void **state)
{
	char a[400];
	struct buf b;
	const char *error;

	buf_init(&b, BUF_UNLIMITED);
	/* 64-octet local part is fine, 65 is not. */
	memset(a, 'x', 64);
	memcpy(a + 64, "@example.com", 13);
	assert_int_equal(addr_canon(a, &b, &error), 0);
	memset(a, 'x', 65);
	memcpy(a + 65, "@example.com", 13);
	assert_int_equal(addr_canon(a, &b, &error), -1);
	assert_non_null(strstr(error, "64"));

	/* A quoted form that only shrinks below 64 when unquoted is fine. */
	buf_reset(&b);
	a[0] = '"';
	memset(a + 1, 'y', 64);
	memcpy(a + 65, "\"@example.com", 14);
	assert_int_equal(addr_canon(a, &b, &error), 0);
	assert_int_equal(addr_local_len(buf_cstr(&b)), 64);

	/* Re-quoting that needs escapes can push a local part over 64:
	 * 32 escaped quotes are 64 octets, plus the two quotes. */
	size_t n = 0;
	a[n++] = '"';
	for (int i = 0; i < 32; i++) {
		a[n++] = '\\';
		a[n++] = '"';
	}
	a[n++] = '"';
	memcpy(a + n, "@example.com", 13);
	assert_int_equal(addr_canon(a, &b, &error), -1);
	assert_non_null(strstr(error, "64"));
	buf_release(&b);
}

static void
test_addr_total_exact(void **state)
{
	struct buf b;
	const char *error;
	char a[300];

	buf_init(&b, BUF_UNLIMITED);
	/* local 64 + '@' + domain 189 = 254. Domain: 63.63.61 = 189. */
	memset(a, 'u', 64);
	a[64] = '@';
	memset(a + 65, 'a', 63);
	a[128] = '.';
	memset(a + 129, 'b', 63);
	a[192] = '.';
	memset(a + 193, 'c', 61);
	a[254] = '\0';
	assert_int_equal(strlen(a), 254);
	assert_int_equal(addr_canon(a, &b, &error), 0);
	assert_int_equal(b.len, 254);
	/* one more octet in the last label: 255 */
	a[254] = 'c';
	a[255] = '\0';
	buf_reset(&b);
	assert_int_equal(addr_canon(a, &b, &error), -1);
	assert_non_null(strstr(error, "254"));
	buf_release(&b);
}

static void
test_addr_parts(void **state)
{
	assert_string_equal(addr_domain_part("a@example.com"), "example.com");
	assert_string_equal(addr_domain_part("\"a@b\"@example.com"), "example.com");
	assert_null(addr_domain_part("nodomain"));
	assert_int_equal(addr_local_len("abc@example.com"), 3);
	assert_int_equal(addr_local_len("\"a@b\"@x.org"), 5);
	assert_int_equal(addr_local_len("abc"), 3);
	assert_true(addr_is_ascii("user@example.com"));
	assert_false(addr_is_ascii("jörg@example.com"));
}

static void
test_split_tag(void **state)
{
	static const struct {
		const char *in, *base, *tag;
	} cases[] = {
		{"user+tag@example.com", "user@example.com", "tag"},
		{"user+@example.com", "user@example.com", ""},
		{"user+a+b@example.com", "user@example.com", "a+b"},
		{"first.last+x.y@example.com", "first.last@example.com", "x.y"},
		{"jörg+news@example.com", "jörg@example.com", "news"},
		{"user@example.com", NULL, NULL},
		{"+tag@example.com", NULL, NULL},
		{"a.+tag@example.com", NULL, NULL},
		{"\"a+b c\"@example.com", NULL, NULL},
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct buf base, tag;
		buf_init(&base, BUF_UNLIMITED);
		buf_init(&tag, BUF_UNLIMITED);
		int rc = addr_split_tag(cases[i].in, ADDR_TAG_SEP, &base, &tag);
		if (cases[i].base == NULL) {
			assert_int_equal(rc, 0);
			assert_int_equal(base.len, 0);
			assert_int_equal(tag.len, 0);
		} else {
			assert_int_equal(rc, 1);
			assert_string_equal(buf_cstr(&base), cases[i].base);
			assert_string_equal(buf_cstr(&tag), cases[i].tag);
		}
		buf_release(&base);
		buf_release(&tag);
	}
	/* tag_r may be NULL; a too-small base buffer fails cleanly. */
	struct buf small;
	buf_init(&small, 4);
	assert_int_equal(addr_split_tag("user+tag@example.com", '+', &small, NULL), -1);
	assert_int_equal(small.len, 0);
	buf_release(&small);
}

static void
test_to_utf8(void **state)
{
	struct buf b;
	const char *error;

	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(addr_domain_to_utf8("xn--bcher-kva.example", &b, &error), 0);
	assert_string_equal(buf_cstr(&b), "bücher.example");
	buf_reset(&b);
	assert_int_equal(addr_domain_to_utf8("example.com", &b, &error), 0);
	assert_string_equal(buf_cstr(&b), "example.com");
	buf_release(&b);
}

static void
test_buffer_cap(void **state)
{
	struct buf b;
	const char *error;

	buf_init(&b, 5);
	assert_int_equal(addr_canon("user@example.com", &b, &error), -1);
	assert_int_equal(b.len, 0);
	assert_int_equal(addr_domain_canon("example.com", &b, &error), -1);
	assert_int_equal(addr_domain_canon("bücher.example", &b, &error), -1);
	assert_int_equal(b.len, 0);
	buf_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_domains_good),  cmocka_unit_test(test_domains_bad),
		cmocka_unit_test(test_domain_lengths), cmocka_unit_test(test_addrs_good),
		cmocka_unit_test(test_addrs_bad),     cmocka_unit_test(test_addr_lengths),
		cmocka_unit_test(test_addr_total_exact), cmocka_unit_test(test_addr_parts),
		cmocka_unit_test(test_split_tag),     cmocka_unit_test(test_to_utf8),
		cmocka_unit_test(test_buffer_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
