/* test_mime_rfc2047.c - encoded words and charset conversion. */
#include "lib/common.h"

#include <setjmp.h>

#include <cmocka.h> /* after setjmp.h */

#include "lib/buf.h"
#include "mime/charset.h"
#include "mime/rfc2047.h"

static void
assert_decodes(const char *in, const char *want)
{
	struct buf b;

	buf_init(&b, 4096);
	assert_int_equal(rfc2047_decode(&b, in, strlen(in)), 0);
	assert_string_equal(buf_cstr(&b), want);
	buf_release(&b);
}

static void
test_basic(void **state)
{
	assert_decodes("plain text", "plain text");
	assert_decodes("=?iso-8859-1?q?J=F6rg_M=FCller?=", "J\xc3\xb6rg M\xc3\xbcller");
	assert_decodes("=?UTF-8?B?5byg5LiJ?= <z@x>", "\xe5\xbc\xa0\xe4\xb8\x89 <z@x>");
	assert_decodes("a =?utf-8?q?b?= c", "a b c");
	assert_decodes("=?utf-8?q?\?=", "");
	/* RFC 2047 section 8 examples. */
	assert_decodes("(=?ISO-8859-1?Q?a?=)", "(a)");
	assert_decodes("(=?ISO-8859-1?Q?a?= b)", "(a b)");
	assert_decodes("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)");
	assert_decodes("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)");
	assert_decodes("(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", "(ab)");
	assert_decodes("(=?ISO-8859-1?Q?a_b?=)", "(a b)");
	assert_decodes("(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)");
	/* RFC 2231 language suffix. */
	assert_decodes("=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore");
}

static void
test_split_character(void **state)
{
	/* The UTF-8 of U+00FC split across two words (Outlook does this). */
	assert_decodes("=?utf-8?B?w7w=?=", "\xc3\xbc");
	assert_decodes("=?utf-8?Q?=C3?= =?utf-8?Q?=BC?=", "\xc3\xbc");
	assert_decodes(
	    "Subject =?utf-8?B?UmU6IEFuZ2Vib3Qgw7xiZXIgZGllIExpZWZlcnVuZyB2b24gQmF1dGU=?=\r\n"
	    " =?utf-8?B?aWxlbg==?=",
	    "Subject Re: Angebot \xc3\xbc"
	    "ber die Lieferung von Bauteilen");
	/* A different charset starts a new run; the space between still goes. */
	assert_decodes("=?utf-8?Q?=C3?= =?iso-8859-1?Q?=FC?=", "\xef\xbf\xbd\xc3\xbc");
}

static void
test_invalid_left_literal(void **state)
{
	assert_decodes("=?utf-8?x?abc?=", "=?utf-8?x?abc?=");
	assert_decodes("=?utf-8?q?a b?=", "=?utf-8?q?a b?=");
	assert_decodes("=?utf-8?b?a$b=?=", "=?utf-8?b?a$b=?=");
	assert_decodes("=?utf/8?q?a?=", "=?utf/8?q?a?=");
	assert_decodes("=?utf-8?q?abc", "=?utf-8?q?abc");
	assert_decodes("=?", "=?");
	assert_decodes("=?=?utf-8?q?x?=", "=?x");
	/* Glued to text (not RFC, but common): decoded. */
	assert_decodes("Re:=?utf-8?q?x?=y", "Re:xy");
	/* Decoded line breaks and NULs become spaces. */
	assert_decodes("=?utf-8?q?a=0D=0Ab=00c?=", "a  b c");
	assert_decodes("=?x-unknown?b?YQpi?=", "a b");
	/* Whitespace before an invalid word is kept. */
	assert_decodes("=?utf-8?q?a?= =?bad", "a =?bad");
}

static void
test_charsets(void **state)
{
	/* Unknown charset: the bytes as UTF-8. */
	assert_decodes("=?x-unknown-cs?q?ab=FF?=", "ab\xef\xbf\xbd");
	/* Stateful encoding: ISO-2022-JP. */
	assert_decodes("=?ISO-2022-JP?B?GyRCJEYkOSRIGyhC?=",
		       "\xe3\x81\xa6\xe3\x81\x99\xe3\x81\xa8");
	assert_decodes("=?windows-1252?q?=80?=", "\xe2\x82\xac");
	/* 8-bit outside words: kept when UTF-8, U+FFFD otherwise. */
	assert_decodes("caf\xc3\xa9 caf\xe9", "caf\xc3\xa9 caf\xef\xbf\xbd");
	/* Invalid UTF-8 inside a utf-8 word. */
	assert_decodes("=?utf-8?q?=ED=A0=80?=", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	/* A truncated multibyte sequence in iconv input. */
	assert_decodes("=?shift_jis?q?=82?=", "\xef\xbf\xbd");
	assert_true(mime_charset_name_valid("ISO-8859-1", 10));
	assert_false(mime_charset_name_valid("UTF-8//TRANSLIT", 15));
	assert_false(mime_charset_name_valid("", 0));
}

static void
test_bounded(void **state)
{
	struct buf b;

	buf_init(&b, 4);
	assert_int_equal(buf_add(&b, "ab", 2), 0);
	assert_int_equal(rfc2047_decode(&b, "=?utf-8?q?cde?=", 15), -1);
	assert_int_equal(b.len, 2);
	assert_int_equal(rfc2047_decode(&b, "=?iso-8859-1?q?=E9?=", 20), 0);
	assert_string_equal(b.data, "ab\xc3\xa9");
	assert_int_equal(rfc2047_decode(&b, "x", 1), -1);
	assert_string_equal(b.data, "ab\xc3\xa9");
	buf_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_basic),
	    cmocka_unit_test(test_split_character),
	    cmocka_unit_test(test_invalid_left_literal),
	    cmocka_unit_test(test_charsets),
	    cmocka_unit_test(test_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
