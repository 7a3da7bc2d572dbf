/* test_mime_params.c - Content-Type / Content-Disposition with RFC 2231. */
#include "lib/common.h"

#include <setjmp.h>

#include <cmocka.h> /* after setjmp.h */

#include "lib/buf.h"
#include "mime/params.h"

static void
assert_param(const struct mime_content *c, const char *name, const char *value)
{
	const struct mime_param *p = mime_content_param(c, name);

	assert_non_null(p);
	assert_string_equal(p->value, value);
	assert_int_equal(p->value_len, strlen(value));
}

static void
parse_ct(const char *s, struct mime_content *c)
{
	assert_int_equal(mime_content_type_parse(s, strlen(s), c), 0);
}

static void
test_basic(void **state)
{
	struct mime_content c;

	parse_ct("Text/HTML; Charset=\"UTF-8\"", &c);
	assert_string_equal(c.type, "text");
	assert_string_equal(c.subtype, "html");
	assert_int_equal(c.nparams, 1);
	assert_param(&c, "charset", "UTF-8");
	assert_true(mime_content_is(&c, "text", "html"));
	assert_int_equal(c.flags, 0);
	mime_content_clear(&c);

	/* RFC 2045's own example, with a comment. */
	parse_ct("text/plain; charset=us-ascii (Plain text)", &c);
	assert_param(&c, "charset", "us-ascii");
	assert_int_equal(c.flags, 0);
	mime_content_clear(&c);

	parse_ct("multipart/mixed;\r\n\tboundary=\"_004_AM0PR01MB1234AM0PR01MB_\"", &c);
	assert_param(&c, "boundary", "_004_AM0PR01MB1234AM0PR01MB_");
	assert_null(mime_content_charset(&c));
	mime_content_clear(&c);

	parse_ct(" (comment) message / rfc822 ;; x=\"a\\\"b\" ; y = z", &c);
	assert_true(mime_content_is(&c, "message", "rfc822"));
	assert_param(&c, "x", "a\"b");
	assert_param(&c, "y", "z");
	mime_content_clear(&c);
}

static void
test_defaults(void **state)
{
	struct mime_content c;

	assert_int_equal(mime_content_type_parse(NULL, 0, &c), 0);
	assert_true(mime_content_is(&c, "text", "plain"));
	assert_param(&c, "charset", "us-ascii");
	assert_int_equal(c.flags, MIME_CONTENT_F_DEFAULTED);
	mime_content_clear(&c);

	parse_ct("text", &c);
	assert_true(mime_content_is(&c, "text", "plain"));
	assert_true((c.flags & MIME_CONTENT_F_BAD_SYNTAX) != 0);
	mime_content_clear(&c);

	/* Invalid type, but the charset given is kept. */
	parse_ct("text/; charset=utf-8", &c);
	assert_true(mime_content_is(&c, "text", "plain"));
	assert_param(&c, "charset", "utf-8");
	assert_int_equal(c.nparams, 1);
	mime_content_clear(&c);

	/* A text type without charset: us-ascii, no parameter added. */
	parse_ct("text/html", &c);
	assert_int_equal(c.nparams, 0);
	assert_string_equal(mime_content_charset(&c), "us-ascii");
	mime_content_clear(&c);
}

static void
test_lenient_values(void **state)
{
	struct mime_content c;

	parse_ct("application/octet-stream; name=my file  (x) name.pdf; x=\"unterminated", &c);
	assert_param(&c, "name", "my file name.pdf");
	assert_param(&c, "x", "unterminated");
	mime_content_clear(&c);

	parse_ct("text/plain; garbage; charset=utf-8; =x; a=1; A=2", &c);
	assert_param(&c, "charset", "utf-8");
	assert_param(&c, "a", "1"); /* first wins */
	assert_int_equal(c.nparams, 2);
	assert_true((c.flags & MIME_CONTENT_F_BAD_SYNTAX) != 0);
	mime_content_clear(&c);
}

static void
test_rfc2231(void **state)
{
	struct mime_content c;
	const struct mime_param *p;

	/* RFC 2231 section 3 and 4 examples. */
	parse_ct(
	    "message/external-body; access-type=URL;\r\n"
	    " URL*0=\"ftp://\";\r\n URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\"",
	    &c);
	assert_param(&c, "url", "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar");
	assert_false(mime_content_param(&c, "url")->extended);
	mime_content_clear(&c);

	parse_ct("application/x-stuff; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A",
		 &c);
	p = mime_content_param(&c, "title");
	assert_non_null(p);
	assert_true(p->extended);
	assert_string_equal(p->value, "This is ***fun***");
	assert_string_equal(p->charset, "us-ascii");
	assert_string_equal(p->language, "en-us");
	mime_content_clear(&c);

	parse_ct("application/x-stuff;\r\n title*0*=us-ascii'en'This%20is%20even%20more%20;\r\n"
		 " title*1*=%2A%2A%2Afun%2A%2A%2A%20;\r\n title*2=\"isn't it!\"",
		 &c);
	assert_param(&c, "title", "This is even more ***fun*** isn't it!");
	mime_content_clear(&c);

	/* Latin-1 converted to UTF-8; sections out of order. */
	parse_ct("application/pdf; name*1*=%E9.pdf; name*0*=iso-8859-1''r%E9sum", &c);
	assert_param(&c, "name", "r\xc3\xa9sum\xc3\xa9.pdf");
	mime_content_clear(&c);
}

static void
test_outlook(void **state)
{
	struct mime_content c;
	const struct mime_param *p;

	/* Outlook: a plain RFC 2047 name plus RFC 2231 sections; the RFC 2231
	 * form wins, the plain one is kept raw. */
	static const char cd[] =
	    "attachment;\r\n\tfilename*0*=utf-8''Angebot%20f%C3%BCr%20die%20Lieferung%20von%"
	    "20Bauteile;\r\n"
	    "\tfilename*1*=n%202026%20%E2%80%93%20%C3%BCberarbeitete%20Fassung.pdf;\r\n"
	    "\tfilename=\"=?utf-8?B?QW5nZWJvdA==?=\"; size=24;\r\n"
	    "\tcreation-date=\"Mon, 02 Nov 2026 09:14:00 GMT\"";

	assert_int_equal(mime_content_disposition_parse(cd, strlen(cd), &c), 0);
	assert_string_equal(c.type, "attachment");
	assert_null(c.subtype);
	p = mime_content_param(&c, "filename");
	assert_true(p->extended);
	assert_string_equal(p->value,
			    "Angebot f\xc3\xbcr die Lieferung von Bauteilen 2026 \xe2\x80\x93 "
			    "\xc3\xbc"
			    "berarbeitete Fassung.pdf");
	assert_string_equal(p->charset, "utf-8");
	assert_param(&c, "size", "24");
	assert_param(&c, "creation-date", "Mon, 02 Nov 2026 09:14:00 GMT");
	assert_int_equal(c.nparams, 3);
	mime_content_clear(&c);
}

static void
test_display(void **state)
{
	struct mime_content c;
	struct buf b;

	buf_init(&b, 1024);
	parse_ct("application/"
		 "pdf;\r\n\tname=\"=?utf-8?B?"
		 "QW5nZWJvdCBmw7xyIGRpZSBMaWVmZXJ1bmcgdm9uIEJhdXRlaWxlbiAyMDI2?=\"",
		 &c);
	assert_int_equal(mime_param_decode(mime_content_param(&c, "name"), &b), 0);
	assert_string_equal(b.data, "Angebot f\xc3\xbcr die Lieferung von Bauteilen 2026");
	mime_content_clear(&c);

	buf_reset(&b);
	parse_ct("a/b; name*=utf-8''%3D%3Fx", &c);
	assert_int_equal(mime_param_decode(mime_content_param(&c, "name"), &b), 0);
	assert_string_equal(b.data, "=?x");
	mime_content_clear(&c);
	buf_release(&b);
}

static void
test_broken_sections(void **state)
{
	struct mime_content c;

	/* A gap ends the value; a repeated section is ignored. */
	parse_ct("a/b; n*0=x; n*2=z; n*0=y", &c);
	assert_param(&c, "n", "x");
	assert_true((c.flags & MIME_CONTENT_F_BAD_SECTIONS) != 0);
	mime_content_clear(&c);

	/* No section 0: no value from the sections, the plain one stays. */
	parse_ct("a/b; n*1=x; n=plain", &c);
	assert_param(&c, "n", "plain");
	mime_content_clear(&c);

	/* Markers without a name are part of the name. */
	parse_ct("a/b; *=x; *0*=y", &c);
	assert_param(&c, "*", "x");
	assert_param(&c, "*0*", "y");
	assert_false(mime_content_param(&c, "*")->extended);
	mime_content_clear(&c);

	/* Bad percent escapes and no quotes in the charset part. */
	parse_ct("a/b; n*=abc%zz%4", &c);
	assert_param(&c, "n", "abc%zz%4");
	mime_content_clear(&c);

	/* Decoded line breaks and NULs become spaces. */
	parse_ct("a/b; n*=utf-8''a%0D%0Ab%00c", &c);
	assert_param(&c, "n", "a  b c");
	mime_content_clear(&c);

	/* Unknown charset: bytes as UTF-8, invalid ones replaced. */
	parse_ct("a/b; n*=x-foo''a%FFb", &c);
	assert_param(&c, "n",
		     "a\xef\xbf\xbd"
		     "b");
	mime_content_clear(&c);
}

static void
test_limits(void **state)
{
	struct buf b;
	struct mime_content c;
	size_t i;

	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(buf_add_str(&b, "a/b"), 0);
	for (i = 0; i < MIME_PARAMS_MAX + 10; i++)
		assert_int_equal(buf_printf(&b, "; p%zu=v", i), 0);
	assert_int_equal(mime_content_type_parse(b.data, b.len, &c), 0);
	assert_int_equal(c.nparams, MIME_PARAMS_MAX);
	assert_true((c.flags & MIME_CONTENT_F_TOO_MANY) != 0);
	mime_content_clear(&c);

	buf_reset(&b);
	assert_int_equal(buf_add_str(&b, "a/b; n*0*=iso-8859-1''"), 0);
	for (i = 0; i < MIME_PARAM_VALUE_MAX; i++)
		assert_int_equal(buf_add_str(&b, "%E9"), 0);
	assert_int_equal(mime_content_type_parse(b.data, b.len, &c), 0);
	assert_true((c.flags & MIME_CONTENT_F_VALUE_CUT) != 0);
	assert_true(mime_content_param(&c, "n")->value_len <= MIME_PARAM_VALUE_MAX);
	assert_true(mime_content_param(&c, "n")->value_len > MIME_PARAM_VALUE_MAX / 2);
	mime_content_clear(&c);
	buf_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_basic),	   cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_lenient_values), cmocka_unit_test(test_rfc2231),
	    cmocka_unit_test(test_outlook),	   cmocka_unit_test(test_broken_sections),
	    cmocka_unit_test(test_display),	   cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
