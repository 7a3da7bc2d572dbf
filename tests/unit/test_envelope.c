/* test_envelope.c - IMAP strings and ENVELOPE. */
#include "lib/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include "imap/imap_string.h"
#include "mime/envelope.h"

static void
check(const char *msg, bool utf8, const char *expect)
{
	struct mime_header hdr;
	struct buf out;

	assert_int_equal(mime_header_parse(msg, strlen(msg), NULL, &hdr), 0);
	buf_init(&out, BUF_UNLIMITED);
	assert_int_equal(mime_envelope(&hdr, utf8, &out), 0);
	if (strcmp(buf_cstr(&out), expect) != 0)
		fail_msg("got\n%s\nwant\n%s", buf_cstr(&out), expect);
	buf_release(&out);
	mime_header_clear(&hdr);
}

static void
test_rfc3501_example(void **state)
{
	/* RFC 3501 section 8, the FETCH example's message. The example text
	 * puts a space between two addresses; the formal syntax (env-cc =
	 * "(" 1*address ")") has none, and that is what clients parse and
	 * Dovecot sends. */
	check("Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n"
	      "From: Terry Gray <gray@cac.washington.edu>\r\n"
	      "Subject: IMAP4rev1 WG mtg summary and minutes\r\n"
	      "To: imap@cac.washington.edu\r\n"
	      "cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n"
	      "Message-Id: <B27397-0100000@cac.washington.edu>\r\n"
	      "MIME-Version: 1.0\r\n"
	      "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
	      "\r\n"
	      "body\r\n",
	      false,
	      "(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" "
	      "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
	      "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
	      "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
	      "((NIL NIL \"imap\" \"cac.washington.edu\")) "
	      "((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")"
	      "(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL "
	      "\"<B27397-0100000@cac.washington.edu>\")");
}

static void
test_missing_and_defaults(void **state)
{
	check("\r\nbody\r\n", false, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	/* Empty Sender and Reply-To take From; empty To is NIL. */
	check("From: a@b.example\nSender:\nReply-To: \nTo:\nSubject:\n\n", false,
	      "(NIL \"\" ((NIL NIL \"a\" \"b.example\")) ((NIL NIL \"a\" \"b.example\")) "
	      "((NIL NIL \"a\" \"b.example\")) NIL NIL NIL NIL NIL)");
	/* The first field of a name counts. */
	check("Subject: one\nSubject: two\n\n", false,
	      "(NIL \"one\" NIL NIL NIL NIL NIL NIL NIL NIL)");
}

static void
test_groups_routes_quotes(void **state)
{
	check("To: Team: a@x.example, \"B \\\"Q\\\"\" <b@y.example>;, c@z.example\n"
	      "Bcc: <@r1.example,@r2.example:d@w.example>\n\n",
	      false,
	      "(NIL NIL NIL NIL NIL ((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"x.example\")"
	      "(\"B \\\"Q\\\"\" NIL \"b\" \"y.example\")(NIL NIL NIL NIL)"
	      "(NIL NIL \"c\" \"z.example\")) NIL "
	      "((NIL \"@r1.example,@r2.example\" \"d\" \"w.example\")) NIL NIL)");
}

static void
test_encoded_folded_8bit(void **state)
{
	/* Encoded words are sent raw; folding is removed. */
	check("Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n and more\r\n\r\n", false,
	      "(NIL \"=?UTF-8?Q?Gr=C3=BC=C3=9Fe?= and more\" NIL NIL NIL NIL NIL NIL NIL NIL)");
	/* Raw 8-bit text: a literal, or quoted under UTF8=ACCEPT. */
	check("Subject: Gr\xc3\xbc\xc3\x9f" "e\n\n", false,
	      "(NIL {7}\r\nGr\xc3\xbc\xc3\x9f" "e NIL NIL NIL NIL NIL NIL NIL NIL)");
	check("Subject: Gr\xc3\xbc\xc3\x9f" "e\n\n", true,
	      "(NIL \"Gr\xc3\xbc\xc3\x9f" "e\" NIL NIL NIL NIL NIL NIL NIL NIL)");
}

static void
test_nstring_cap(void **state)
{
	struct buf b;

	buf_init(&b, 8);
	assert_int_equal(imap_append_nstring(&b, "abc", 3, false), 0);
	assert_string_equal(b.data, "\"abc\"");
	/* Over the cap: refused, unchanged. */
	assert_int_equal(imap_append_nstring(&b, "abcdef", 6, false), -1);
	assert_string_equal(b.data, "\"abc\"");
	buf_release(&b);
	buf_init(&b, 64);
	/* A NUL is no string's: 0x80 in its place. */
	assert_int_equal(imap_append_nstring(&b, "a\0b\0", 4, true), 0);
	assert_memory_equal(b.data, "{4}\r\na\x80" "b\x80", 9);
	buf_reset(&b);
	assert_int_equal(imap_append_nonul(&b, "\0\0x\0", 4), 0);
	assert_memory_equal(b.data, "\x80\x80x\x80", 4);
	assert_int_equal(b.len, 4);
	buf_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc3501_example),
		cmocka_unit_test(test_missing_and_defaults),
		cmocka_unit_test(test_groups_routes_quotes),
		cmocka_unit_test(test_encoded_folded_8bit),
		cmocka_unit_test(test_nstring_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
