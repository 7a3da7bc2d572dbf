/* test_smtp_reply.c - building SMTP replies, and the client's reply parser
 * (whole, one byte at a time, pipelined, bounded). */
#include "lib/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include "lib/buf.h"
#include "smtp/smtp_reply.h"

/* ---- building ---- */

static void
test_build_single(void **state)
{
	struct buf out;
	const char *error = NULL;

	buf_init(&out, 4096);
	assert_int_equal(smtp_reply(&out, &error, 250, "2.1.0", "Sender <%s> ok", "a@b"), 0);
	assert_string_equal(buf_cstr(&out), "250 2.1.0 Sender <a@b> ok\r\n");
	buf_reset(&out);
	assert_int_equal(smtp_reply(&out, &error, 220, NULL, "%s ESMTP postern", "mx.example"), 0);
	assert_string_equal(buf_cstr(&out), "220 mx.example ESMTP postern\r\n");
	buf_reset(&out);
	assert_int_equal(smtp_reply(&out, &error, 354, NULL, "End data with <CR><LF>.<CR><LF>"),
			 0);
	assert_string_equal(buf_cstr(&out), "354 End data with <CR><LF>.<CR><LF>\r\n");
	buf_reset(&out);
	/* empty text */
	assert_int_equal(smtp_reply(&out, &error, 250, "2.0.0", "%s", ""), 0);
	assert_string_equal(buf_cstr(&out), "250 2.0.0\r\n");
	buf_reset(&out);
	assert_int_equal(smtp_reply(&out, &error, 250, NULL, "%s", ""), 0);
	assert_string_equal(buf_cstr(&out), "250\r\n");
	buf_reset(&out);
	/* TAB is allowed in text */
	assert_int_equal(smtp_reply(&out, &error, 214, "2.0.0", "a\tb"), 0);
	assert_string_equal(buf_cstr(&out), "214 2.0.0 a\tb\r\n");
	buf_release(&out);
}

static void
test_build_multi(void **state)
{
	struct smtp_reply_builder b;
	struct buf out;
	const char *error = NULL;

	buf_init(&out, 4096);
	smtp_reply_begin(&b, &out, 250, NULL);
	assert_int_equal(smtp_reply_line(&b, "mx.example Hello %s", "client.example"), 0);
	assert_int_equal(smtp_reply_line(&b, "PIPELINING"), 0);
	assert_int_equal(smtp_reply_line(&b, "SIZE %d", 10240000), 0);
	assert_int_equal(smtp_reply_end(&b, &error), 0);
	assert_string_equal(buf_cstr(&out), "250-mx.example Hello client.example\r\n"
					    "250-PIPELINING\r\n"
					    "250 SIZE 10240000\r\n");
	buf_reset(&out);

	smtp_reply_begin(&b, &out, 550, "5.7.1");
	assert_int_equal(smtp_reply_line(&b, "first"), 0);
	assert_int_equal(smtp_reply_line(&b, "%s", ""), 0);
	assert_int_equal(smtp_reply_line(&b, "last"), 0);
	assert_int_equal(smtp_reply_end(&b, &error), 0);
	assert_string_equal(buf_cstr(&out), "550-5.7.1 first\r\n550-5.7.1\r\n550 5.7.1 last\r\n");
	buf_reset(&out);

	/* no line at all: one empty line */
	smtp_reply_begin(&b, &out, 250, "2.0.0");
	assert_int_equal(smtp_reply_end(&b, &error), 0);
	assert_string_equal(buf_cstr(&out), "250 2.0.0\r\n");
	buf_reset(&out);
	/* last line empty */
	smtp_reply_begin(&b, &out, 250, NULL);
	assert_int_equal(smtp_reply_line(&b, "a"), 0);
	assert_int_equal(smtp_reply_line(&b, "%s", ""), 0);
	assert_int_equal(smtp_reply_end(&b, &error), 0);
	assert_string_equal(buf_cstr(&out), "250-a\r\n250\r\n");
	buf_release(&out);
}

static void
test_build_limits(void **state)
{
	struct smtp_reply_builder b;
	struct buf out;
	const char *error = NULL;
	char text[600];

	buf_init(&out, 4096);
	assert_int_equal(buf_add_str(&out, "before\r\n"), 0);

	/* 512 octets with code and CRLF: "250 " + 506 + CRLF */
	memset(text, 'x', 506);
	text[506] = '\0';
	assert_int_equal(smtp_reply(&out, &error, 250, NULL, "%s", text), 0);
	assert_int_equal(out.len, 8 + 512);
	buf_set_len(&out, 8);
	text[506] = 'x', text[507] = '\0';
	assert_int_equal(smtp_reply(&out, &error, 250, NULL, "%s", text), -1);
	assert_string_equal(error, "Reply line too long");
	assert_string_equal(buf_cstr(&out), "before\r\n");
	/* with the enhanced code: "250 2.0.0 " + 500 + CRLF */
	text[500] = '\0';
	assert_int_equal(smtp_reply(&out, &error, 250, "2.0.0", "%s", text), 0);
	assert_int_equal(out.len, 8 + 512);
	buf_set_len(&out, 8);
	text[500] = 'x';
	text[501] = '\0';
	assert_int_equal(smtp_reply(&out, &error, 250, "2.0.0", "%s", text), -1);

	/* a failed line rolls the whole reply back; later calls fail too */
	memset(text, 'x', 520);
	text[520] = '\0';
	smtp_reply_begin(&b, &out, 250, NULL);
	assert_int_equal(smtp_reply_line(&b, "ok line"), 0);
	assert_int_equal(smtp_reply_line(&b, "%s", text), -1);
	assert_string_equal(buf_cstr(&out), "before\r\n");
	assert_int_equal(smtp_reply_line(&b, "short"), -1);
	assert_int_equal(smtp_reply_end(&b, &error), -1);
	assert_string_equal(error, "Reply line too long");
	assert_string_equal(buf_cstr(&out), "before\r\n");

	/* CR, LF and other controls would inject lines: refused */
	const char *bad[] = {"a\r\n250 injected", "a\nb", "a\rb", "a\x01", "a\x7f"};
	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		assert_int_equal(smtp_reply(&out, &error, 250, "2.0.0", "%s", bad[i]), -1);
		assert_string_equal(error, "Control character in reply text");
		assert_string_equal(buf_cstr(&out), "before\r\n");
	}

	/* codes and enhanced codes */
	static const struct {
		unsigned code;
		const char *enh;
	} invalid[] = {
		{199, NULL},     {600, NULL},    {260, NULL},       {250, "5.0.0"},
		{354, "3.0.0"},  {354, "2.0.0"}, {250, "2.1"},      {250, "2.1000.1"},
		{250, "2.1.0x"}, {250, ""},      {250, "2..0"},     {550, "5.1.1.1"},
		{450, "4.a.1"},  {250, "2.1.0 "}, {250, "12.1.0"},
	};
	for (size_t i = 0; i < N_ELEMENTS(invalid); i++) {
		error = NULL;
		if (smtp_reply(&out, &error, invalid[i].code, invalid[i].enh, "x") != -1)
			fail_msg("code %u enhanced %s accepted", invalid[i].code,
				 invalid[i].enh != NULL ? invalid[i].enh : "NULL");
		assert_non_null(error);
		assert_string_equal(buf_cstr(&out), "before\r\n");
	}
	assert_int_equal(smtp_reply(&out, &error, 559, "5.999.999", "x"), 0);
	buf_release(&out);

	/* a full output buffer */
	buf_init(&out, 20);
	assert_int_equal(smtp_reply(&out, &error, 250, "2.0.0", "this is too long"), -1);
	assert_string_equal(error, "Reply buffer full");
	assert_int_equal(out.len, 0);
	buf_release(&out);
}

/* ---- parsing ---- */

/* Summarise every reply in input, fed in steps of `step` bytes the way a
 * connection would (unconsumed bytes stay pending): "code|enh|lines|text;"
 * and "E:why" on error. */
static void
parse_all(const char *input, size_t len, size_t step, size_t line_max, unsigned max_lines,
	  size_t max_text, struct buf *out)
{
	struct smtp_reply_parser p;
	struct buf pending;

	smtp_reply_parser_init(&p, line_max, max_lines, max_text);
	buf_init(&pending, BUF_UNLIMITED);
	for (size_t off = 0; off < len;) {
		size_t n = MIN(step, len - off);
		assert_int_equal(buf_add(&pending, input + off, n), 0);
		off += n;
		for (;;) {
			size_t used;
			const char *error;
			enum smtp_reply_status st =
				smtp_reply_parse(&p, buf_cstr(&pending), pending.len, &used, &error);
			assert_true(used <= pending.len);
			buf_consume(&pending, used);
			if (st == SMTP_REPLY_MORE)
				break;
			if (st == SMTP_REPLY_ERROR) {
				assert_int_equal(buf_printf(out, "E:%s", error), 0);
				/* it stays failed */
				assert_int_equal(smtp_reply_parse(&p, "250 x\r\n", 7, &used, &error),
						 SMTP_REPLY_ERROR);
				assert_int_equal(used, 0);
				goto done;
			}
			assert_int_equal(buf_printf(out, "%u|%s|%u|%s;", p.reply.code,
						    p.reply.enhanced, p.reply.lines,
						    buf_cstr(&p.reply.text)),
					 0);
		}
	}
done:
	buf_release(&pending);
	smtp_reply_parser_deinit(&p);
}

static void
check(const char *input, const char *want, int line)
{
	size_t len = strlen(input);
	size_t steps[] = {1, 2, 3, 5, 64, len > 0 ? len : 1};

	for (size_t i = 0; i < N_ELEMENTS(steps); i++) {
		struct buf out;
		buf_init(&out, BUF_UNLIMITED);
		parse_all(input, len, steps[i], 512, 100, 65536, &out);
		if (strcmp(buf_cstr(&out), want) != 0)
			fail_msg("line %d step %zu: got '%s' want '%s'", line, steps[i],
				 buf_cstr(&out), want);
		buf_release(&out);
	}
}

#define CHECK(input, want) check((input), (want), __LINE__)

static void
test_parse_basic(void **state)
{
	CHECK("250 OK\r\n", "250||1|OK;");
	CHECK("250 2.1.0 Ok\r\n", "250|2.1.0|1|Ok;");
	CHECK("220 mx.example ESMTP\r\n", "220||1|mx.example ESMTP;");
	CHECK("354 go ahead\r\n", "354||1|go ahead;");
	CHECK("250\r\n", "250||1|;");
	CHECK("250 \r\n", "250||1|;");
	CHECK("250 2.0.0\r\n", "250|2.0.0|1|;");
	CHECK("250 ok\n", "250||1|ok;"); /* bare LF accepted */
	/* the enhanced code must match the class and be followed by SP */
	CHECK("250 5.1.1 x\r\n", "250||1|5.1.1 x;");
	CHECK("550 5.1.1x y\r\n", "550||1|5.1.1x y;");
	CHECK("550 5.1.1234 y\r\n", "550||1|5.1.1234 y;");
	CHECK("451 4.3.0 try later\r\n", "451|4.3.0|1|try later;");
	/* nothing yet */
	CHECK("250 partial", "");
	CHECK("250-first\r\n", "");
}

static void
test_parse_multi(void **state)
{
	CHECK("250-mx.example\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 SMTPUTF8\r\n",
	      "250||4|mx.example\nPIPELINING\nSIZE 1000\nSMTPUTF8;");
	CHECK("550-5.1.1 first\r\n550 5.1.1 second\r\n", "550|5.1.1|2|first\nsecond;");
	/* lines without the code, or with another one, keep their text */
	CHECK("550-5.1.1 first\r\n550 second\r\n", "550|5.1.1|2|first\nsecond;");
	CHECK("550-5.1.1 first\r\n550 5.7.1 second\r\n", "550|5.1.1|2|first\n5.7.1 second;");
	CHECK("250-\r\n250 x\r\n", "250||2|\nx;");
	/* pipelined replies, one at a time */
	CHECK("250 a\r\n250 b\r\n554-x\r\n554 y\r\n", "250||1|a;250||1|b;554||2|x\ny;");
	/* the code must stay the same */
	CHECK("250-a\r\n251 b\r\n", "E:Reply code changes within a reply");
	CHECK("250-a\r\n550 b\r\n", "E:Reply code changes within a reply");
}

static void
test_parse_errors(void **state)
{
	CHECK("25 x\r\n", "E:Invalid reply code");
	CHECK("2500 x\r\n", "E:Invalid reply line");
	CHECK("250x\r\n", "E:Invalid reply line");
	CHECK("abc\r\n", "E:Invalid reply code");
	CHECK("150 x\r\n", "E:Invalid reply code");
	CHECK("650 x\r\n", "E:Invalid reply code");
	CHECK("260 x\r\n", "E:Invalid reply code");
	CHECK("\r\n", "E:Invalid reply code");
	CHECK("250 ok\r\nHTTP/1.1 400\r\n", "250||1|ok;E:Invalid reply code");

	/* control characters are replaced, not passed on */
	struct buf out;
	buf_init(&out, BUF_UNLIMITED);
	parse_all("250 a\x01" "b\r\n", 9, 1, 512, 100, 100, &out);
	assert_string_equal(buf_cstr(&out), "250||1|a?b;");
	buf_reset(&out);
	parse_all("250 a\0b\rc\x7f\td\r\n", 14, 1, 512, 100, 100, &out);
	assert_string_equal(buf_cstr(&out), "250||1|a?b?c?\td;");
	buf_reset(&out);

	/* bounds: line length, line count, text size */
	parse_all("250 0123456789012345678901234567890\r\n", 37, 4, 20, 100, 1000, &out);
	assert_string_equal(buf_cstr(&out), "E:Reply line too long");
	buf_reset(&out);
	parse_all("250-a\r\n250-b\r\n250-c\r\n250 d\r\n", 28, 1, 512, 3, 1000, &out);
	assert_string_equal(buf_cstr(&out), "E:Too many reply lines");
	buf_reset(&out);
	parse_all("250-a\r\n250-b\r\n250-c\r\n250 d\r\n", 28, 1, 512, 4, 1000, &out);
	assert_string_equal(buf_cstr(&out), "250||4|a\nb\nc\nd;");
	buf_reset(&out);
	parse_all("250-01234\r\n250 56789\r\n", 22, 3, 512, 10, 10, &out);
	assert_string_equal(buf_cstr(&out), "E:Reply text too long");
	buf_reset(&out);
	parse_all("250-01234\r\n250 5678\r\n", 21, 3, 512, 10, 10, &out);
	assert_string_equal(buf_cstr(&out), "250||2|01234\n5678;");
	buf_release(&out);
}

static void
test_round_trip(void **state)
{
	struct smtp_reply_builder b;
	struct buf wire, out;
	const char *error;

	buf_init(&wire, 4096);
	buf_init(&out, BUF_UNLIMITED);
	smtp_reply_begin(&b, &wire, 452, "4.5.3");
	assert_int_equal(smtp_reply_line(&b, "Too many recipients"), 0);
	assert_int_equal(smtp_reply_line(&b, "try again later"), 0);
	assert_int_equal(smtp_reply_end(&b, &error), 0);
	assert_int_equal(smtp_reply(&wire, &error, 250, NULL, "done"), 0);
	parse_all(wire.data, wire.len, 1, 512, 100, 1000, &out);
	assert_string_equal(buf_cstr(&out), "452|4.5.3|2|Too many recipients\ntry again later;"
					    "250||1|done;");
	assert_int_equal(smtp_reply_class(452), 4);
	buf_release(&wire);
	buf_release(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_single),
		cmocka_unit_test(test_build_multi),
		cmocka_unit_test(test_build_limits),
		cmocka_unit_test(test_parse_basic),
		cmocka_unit_test(test_parse_multi),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
