/* test_mime_address.c - RFC 5322 address lists for ENVELOPE. */
#include "lib/common.h"

#include <setjmp.h>

#include <cmocka.h> /* after setjmp.h */

#include "lib/buf.h"
#include "mime/address.h"

/* The list written as ENVELOPE would: (name adl mailbox host) with NIL. */
static void
assert_list_n(const char *in, size_t len, const char *want)
{
	struct mime_address_list l;
	struct buf b;
	size_t i;

	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(mime_address_parse(in, len, &l), 0);
	for (i = 0; i < l.count; i++) {
		const struct mime_address *a = &l.addrs[i];
		const char *f[4] = {a->name, a->adl, a->mailbox, a->host};
		size_t k;

		assert_int_equal(buf_add_str(&b, i > 0 ? " (" : "("), 0);
		for (k = 0; k < 4; k++) {
			if (f[k] == NULL)
				assert_int_equal(buf_printf(&b, "%sNIL", k > 0 ? " " : ""), 0);
			else
				assert_int_equal(buf_printf(&b, "%s\"%s\"", k > 0 ? " " : "", f[k]),
						 0);
		}
		assert_int_equal(buf_add_str(&b, a->invalid ? ")!" : ")"), 0);
	}
	assert_string_equal(buf_cstr(&b), want);
	buf_release(&b);
	mime_address_list_clear(&l);
}

static void
assert_list(const char *in, const char *want)
{
	assert_list_n(in, strlen(in), want);
}

static void
test_simple(void **state)
{
	assert_list("user@example.com", "(NIL NIL \"user\" \"example.com\")");
	assert_list("John Doe <jdoe@machine.example>",
		    "(\"John Doe\" NIL \"jdoe\" \"machine.example\")");
	assert_list("\"Smith, Anna\" <anna.smith@corp.example>, "
		    "=?utf-8?B?5byg5LiJ?=\r\n\t<zhang@corp.example>",
		    "(\"Smith, Anna\" NIL \"anna.smith\" \"corp.example\") "
		    "(\"=?utf-8?B?5byg5LiJ?=\" NIL \"zhang\" \"corp.example\")");
	assert_list(
	    "=?iso-8859-1?Q?J=F6rg_M=FCller?= <joerg.mueller@corp.example>",
	    "(\"=?iso-8859-1?Q?J=F6rg_M=FCller?=\" NIL \"joerg.mueller\" \"corp.example\")");
	assert_list("", "");
	assert_list(" , ,", "");
}

static void
test_comments(void **state)
{
	/* No display name: the comment is the name. */
	assert_list("jdoe@example.org (John Doe)", "(\"John Doe\" NIL \"jdoe\" \"example.org\")");
	assert_list("(Mary  Smith) mary@x.test", "(\"Mary Smith\" NIL \"mary\" \"x.test\")");
	/* RFC 5322 A.5. */
	assert_list("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
		    "(\"Pete\" NIL \"pete\" \"silly.test\")");
	assert_list("<a@b> (x (nested) y)", "(\"x (nested) y\" NIL \"a\" \"b\")");
}

static void
test_groups(void **state)
{
	assert_list("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
		    "(NIL NIL \"A Group\" NIL) (\"Ed Jones\" NIL \"c\" \"a.test\") "
		    "(NIL NIL \"joe\" \"where.test\") (\"John\" NIL \"jdoe\" \"one.test\") "
		    "(NIL NIL NIL NIL)");
	assert_list("undisclosed-recipients:;",
		    "(NIL NIL \"undisclosed-recipients\" NIL) (NIL NIL NIL NIL)");
	assert_list(
	    "Undisclosed recipients: ; , x@y",
	    "(NIL NIL \"Undisclosed recipients\" NIL) (NIL NIL NIL NIL) (NIL NIL \"x\" \"y\")");
	/* An unclosed group is closed at the end. */
	assert_list("g: a@b", "(NIL NIL \"g\" NIL) (NIL NIL \"a\" \"b\") (NIL NIL NIL NIL)");
}

static void
test_obsolete(void **state)
{
	/* RFC 5322 A.6.1 and A.6.3. */
	assert_list("Joe Q. Public <john.q.public@example.com>",
		    "(\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")");
	assert_list("Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example",
		    "(\"Mary Smith\" \"@node.test\" \"mary\" \"example.net\") "
		    "(NIL NIL \"jdoe\" \"test.example\")");
	assert_list("<@a.test,@b.test:u@h>", "(NIL \"@a.test,@b.test\" \"u\" \"h\")");
	assert_list("John (middle) Doe <jdoe @ machine . example>",
		    "(\"John Doe\" NIL \"jdoe\" \"machine.example\")");
}

static void
test_quoting(void **state)
{
	assert_list("\"john doe\"@example.com", "(NIL NIL \"john doe\" \"example.com\")");
	assert_list("\"Joe \\\"the\\\" Q.\" <j@[192.0.2.1]>",
		    "(\"Joe \"the\" Q.\" NIL \"j\" \"[192.0.2.1]\")");
	assert_list("\"folded\r\n name\" <a@b>", "(\"folded name\" NIL \"a\" \"b\")");
	/* 8-bit (RFC 6532) display names and local parts. */
	assert_list("J\xc3\xb6rg <j\xc3\xb6rg@b\xc3\xbc.example>",
		    "(\"J\xc3\xb6rg\" NIL \"j\xc3\xb6rg\" \"b\xc3\xbc.example\")");
}

static void
test_broken(void **state)
{
	assert_list("user", "(NIL NIL \"user\" \"MISSING_DOMAIN\")!");
	assert_list("<>", "(NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")!");
	assert_list("Name <a@b", "(\"Name\" NIL \"a\" \"b\")!");
	assert_list("a@b junk, c@d", "(NIL NIL \"a\" \"b\")! (NIL NIL \"c\" \"d\")");
	assert_list(">>>, c@d", "(NIL NIL \"c\" \"d\")");
	assert_list("@example.com", "(NIL NIL \"MISSING_MAILBOX\" \"example.com\")!");
	/* An unquoted address as display name. */
	assert_list("john@example.com <john@example.com>, x",
		    "(\"john@example.com\" NIL \"john\" \"example.com\") "
		    "(NIL NIL \"x\" \"MISSING_DOMAIN\")!");
	assert_list("j@x\r\n .y <j@x.y>", "(\"j@x .y\" NIL \"j\" \"x.y\")");
	assert_list("\"a\\\r\n b\" <x@[1.2\\\r\n.3]>", "(\"a b\" NIL \"x\" \"[1.2.3]\")");
	assert_list("a@b@c", "(NIL NIL \"a\" \"b\")!");
	/* NULs are dropped from quoted strings and end atoms. */
	assert_list_n("\"a\0\0\"@b, x\0y@z\0", 15,
		      "(NIL NIL \"a\" \"b\") (NIL NIL \"x\" \"MISSING_DOMAIN\")!");
	assert_list("\"unterminated <a@b>", "(NIL NIL \"unterminated <a@b>\" \"MISSING_DOMAIN\")!");
}

static void
test_limits(void **state)
{
	struct mime_address_list l;
	struct buf b;
	size_t i;

	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(buf_add_str(&b, "g:"), 0);
	for (i = 0; i < MIME_ADDRESS_MAX + 5; i++)
		assert_int_equal(buf_add_str(&b, "a@b,"), 0);
	assert_int_equal(mime_address_parse(b.data, b.len, &l), 0);
	assert_int_equal(l.count, MIME_ADDRESS_MAX + 1);
	assert_true(mime_address_is_group_end(&l.addrs[l.count - 1]));
	assert_true(mime_address_is_group_start(&l.addrs[0]));
	assert_true((l.flags & MIME_ADDRESS_F_TOO_MANY) != 0);
	mime_address_list_clear(&l);

	buf_reset(&b);
	for (i = 0; i < MIME_ADDRESS_STR_MAX + 5; i++)
		assert_int_equal(buf_add_char(&b, 'x'), 0);
	assert_int_equal(buf_add_str(&b, " <a@b>"), 0);
	assert_int_equal(mime_address_parse(b.data, b.len, &l), 0);
	assert_int_equal(l.count, 1);
	assert_int_equal(strlen(l.addrs[0].name), MIME_ADDRESS_STR_MAX);
	assert_true((l.flags & MIME_ADDRESS_F_STR_CUT) != 0);
	mime_address_list_clear(&l);
	buf_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_simple),  cmocka_unit_test(test_comments),
	    cmocka_unit_test(test_groups),  cmocka_unit_test(test_obsolete),
	    cmocka_unit_test(test_quoting), cmocka_unit_test(test_broken),
	    cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
