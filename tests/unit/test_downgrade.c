/* test_downgrade.c - 8-bit to 7-bit conversion of whole messages.
 *
 * With DSN_SAMPLES_DIR set, some results are also written to
 * DIR/<name>.eml, for tests/integration/test_dsn_format.py to parse with
 * Python's email package. */
#include "lib/common.h"

#include <setjmp.h>

#include <cmocka.h>

#include "lib/base64.h"
#include "lib/buf.h"
#include "lib/qp.h"
#include "mime/downgrade.h"
#include "mime/rfc2047.h"

#include "samples_test.h"

#define GRUSS "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln\r\n"

/* Convert msg[len]; it must succeed and give a 7-bit result. */
static void
convert(const char *name, const char *msg, size_t len, struct buf *out)
{
	const char *error = NULL;

	buf_init(out, 10 * 1024 * 1024);
	if (mime_downgrade(msg, len, out, &error) != 0)
		fail_msg("mime_downgrade: %s", error);
	assert_true(mime_is_7bit(out->data, out->len));
	if (name != NULL)
		save_sample(name, out);
}

static void
assert_has(const struct buf *b, const char *s)
{
	if (memmem(buf_cstr(b), b->len, s, strlen(s)) == NULL)
		fail_msg("missing \"%s\" in:\n%s", s, buf_cstr(b));
}

static void
assert_lacks(const struct buf *b, const char *s)
{
	if (memmem(buf_cstr(b), b->len, s, strlen(s)) != NULL)
		fail_msg("unexpected \"%s\" in:\n%s", s, buf_cstr(b));
}

/* The text after the first empty line after "from". */
static const char *
body_after(const struct buf *b, const char *from)
{
	const char *p = memmem(buf_cstr(b), b->len, from, strlen(from));

	assert_non_null(p);
	p = strstr(p, "\r\n\r\n");
	assert_non_null(p);
	return p + 4;
}

static void
assert_qp_decodes(const char *enc, size_t n, const char *want, size_t want_len)
{
	struct buf d;
	size_t damage = 1;

	buf_init(&d, BUF_UNLIMITED);
	assert_int_equal(qp_decode(&d, enc, n, &damage), 0);
	assert_int_equal(damage, 0);
	assert_int_equal(d.len, want_len);
	assert_memory_equal(d.data, want, want_len);
	buf_release(&d);
}

static void
assert_b64_decodes(const char *enc, size_t n, const void *want, size_t want_len)
{
	struct base64_decoder dec;
	struct buf d;

	buf_init(&d, BUF_UNLIMITED);
	base64_decoder_init(&dec);
	assert_int_equal(base64_decoder_more(&dec, &d, enc, n), 0);
	assert_int_equal(base64_decoder_finish(&dec, &d), 0);
	assert_true(base64_decoder_is_clean(&dec));
	assert_int_equal(d.len, want_len);
	assert_memory_equal(d.data, want, want_len);
	buf_release(&d);
}

/* ---- tests ---- */

static void
test_is_7bit(void **state)
{
	char line[1002];

	(void)state;
	assert_true(mime_is_7bit("", 0));
	assert_true(mime_is_7bit("a\r\nb\r\n", 6));
	assert_true(mime_is_7bit("no final break", 14));
	assert_false(mime_is_7bit("a\nb", 3));
	assert_false(mime_is_7bit("a\rb", 3));
	assert_false(mime_is_7bit("a\r", 2));
	assert_false(mime_is_7bit("a\0b", 3));
	assert_false(mime_is_7bit("caf\xe9", 4));
	memset(line, 'x', sizeof(line));
	memcpy(line + 998, "\r\n", 2);
	assert_true(mime_is_7bit(line, 1000));
	line[998] = 'x';
	memcpy(line + 999, "\r\n", 2);
	assert_false(mime_is_7bit(line, 1001));
}

static void
test_text_8bit(void **state)
{
	static const char msg[] = "From: a@example.org\r\n"
				  "To: b@example.net\r\n"
				  "Subject: plain\r\n"
				  "MIME-Version: 1.0\r\n"
				  "Content-Type: text/plain; charset=utf-8\r\n"
				  "Content-Transfer-Encoding: 8bit\r\n"
				  "\r\n" GRUSS GRUSS GRUSS;
	struct buf out;
	const char *body;

	(void)state;
	convert("text_8bit", msg, strlen(msg), &out);
	assert_has(&out, "Content-Type: text/plain; charset=utf-8\r\n"
			 "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	assert_lacks(&out, "8bit");
	assert_has(&out, "Subject: plain\r\n");
	body = body_after(&out, "Content-Transfer-Encoding: quoted-printable");
	assert_has(&out, "Gr=C3=BC=C3=9Fe aus K=C3=B6ln\r\n");
	assert_qp_decodes(body, out.len - (size_t)(body - out.data), GRUSS GRUSS GRUSS,
			  strlen(GRUSS GRUSS GRUSS));
	buf_release(&out);
}

/* A body with no Content-Type or Content-Transfer-Encoding at all: text;
 * MIME-Version is added with the encoding. */
static void
test_no_mime_header(void **state)
{
	static const char msg[] = "From: a@example.org\r\nSubject: x\r\n\r\ncaf\xc3\xa9\r\n";
	struct buf out;

	(void)state;
	convert(NULL, msg, strlen(msg), &out);
	assert_has(&out, "Subject: x\r\nMIME-Version: 1.0\r\n"
			 "Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9\r\n");
	buf_release(&out);
}

static void
append_bytes(struct buf *b)
{
	for (int i = 0; i < 256; i++)
		assert_int_equal(buf_add_char(b, (char)i), 0);
}

static void
test_attachment(void **state)
{
	struct buf msg, out;
	unsigned char bytes[256];
	const char *body, *end;

	(void)state;
	for (int i = 0; i < 256; i++)
		bytes[i] = (unsigned char)i;
	buf_init(&msg, BUF_UNLIMITED);
	assert_int_equal(buf_add_str(&msg, "From: a@example.org\r\nMIME-Version: 1.0\r\n"
					   "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
					   "--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
					   "--b1\r\nContent-Type: application/octet-stream\r\n"
					   "Content-Transfer-Encoding: binary\r\n"
					   "Content-Disposition: attachment; filename=x.bin\r\n\r\n"),
			 0);
	append_bytes(&msg);
	assert_int_equal(buf_add_str(&msg, "\r\n--b1--\r\n"), 0);
	convert(NULL, msg.data, msg.len, &out);
	assert_has(&out, "--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b1\r\n");
	assert_has(&out, "Content-Type: application/octet-stream\r\n"
			 "Content-Disposition: attachment; filename=x.bin\r\n"
			 "Content-Transfer-Encoding: base64\r\n\r\n");
	assert_lacks(&out, "binary");
	body = body_after(&out, "Content-Transfer-Encoding: base64");
	end = strstr(body, "\r\n--b1--\r\n");
	assert_non_null(end);
	assert_b64_decodes(body, (size_t)(end - body), bytes, sizeof(bytes));
	buf_release(&out);
	buf_release(&msg);
}

static void
test_nested(void **state)
{
	static const char plain_part[] = "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
					 "Hello, plain world.\r\n";
	static const char head[] =
	    "From: a@example.org\r\n"
	    "To: b@example.net\r\n"
	    "Subject: nested\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
	    "\r\n"
	    "This is the preamble.\r\n"
	    "--outer\r\n"
	    "Content-Type: multipart/alternative; boundary=\"inner\"\r\n"
	    "\r\n"
	    "--inner\r\n";
	static const char html_part[] = "Content-Type: text/html; charset=utf-8\r\n"
					"Content-Transfer-Encoding: 8bit\r\n\r\n"
					"<p>" GRUSS "</p>\r\n";
	static const char pdf_part[] = "Content-Type: application/pdf\r\n"
				       "Content-Transfer-Encoding: base64\r\n\r\n"
				       "JVBERi0xLjQK\r\n";
	struct buf msg, out;

	(void)state;
	buf_init(&msg, BUF_UNLIMITED);
	assert_int_equal(buf_printf(&msg,
				    "%s%s\r\n--inner\r\n%s\r\n--inner--\r\n"
				    "\r\n--outer\r\n%s\r\n--outer\r\n"
				    "Content-Type: application/octet-stream\r\n"
				    "Content-Transfer-Encoding: 8bit\r\n\r\n",
				    head, plain_part, html_part, pdf_part),
			 0);
	append_bytes(&msg);
	assert_int_equal(buf_add_str(&msg, "\r\n--outer--\r\nThe epilogue.\r\n"), 0);
	convert("nested", msg.data, msg.len, &out);
	/* Unchanged parts, byte for byte, with what surrounds them. */
	assert_has(&out, head);
	assert_has(&out, plain_part);
	assert_has(&out, pdf_part);
	assert_has(&out, "\r\n--outer--\r\nThe epilogue.\r\n");
	assert_has(&out, "Content-Type: text/html; charset=utf-8\r\n"
			 "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
			 "<p>Gr=C3=BC=C3=9Fe aus K=C3=B6ln\r\n</p>\r\n\r\n--inner--");
	assert_has(&out, "Content-Type: application/octet-stream\r\n"
			 "Content-Transfer-Encoding: base64\r\n\r\nAAECAwQF");
	buf_release(&out);
	buf_release(&msg);
}

static void
test_message_rfc822(void **state)
{
	static const char msg[] = "From: a@example.org\r\n"
				  "MIME-Version: 1.0\r\n"
				  "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
				  "--b\r\nContent-Type: text/plain\r\n\r\nforwarded:\r\n"
				  "--b\r\nContent-Type: message/rfc822\r\n"
				  "Content-Transfer-Encoding: 8bit\r\n\r\n"
				  "From: c@example.org\r\nSubject: inner\r\nMIME-Version: 1.0\r\n"
				  "Content-Type: multipart/mixed; boundary=\"i\"\r\n\r\n"
				  "--i\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
				  "inner " GRUSS "--i\r\nContent-Type: text/plain\r\n\r\n"
				  "ascii\r\n--i--\r\n"
				  "\r\n--b--\r\n";
	struct buf out;

	(void)state;
	convert(NULL, msg, strlen(msg), &out);
	assert_has(&out, "Content-Type: message/rfc822\r\n"
			 "Content-Transfer-Encoding: 7bit\r\n\r\n"
			 "From: c@example.org\r\n");
	assert_has(&out, "--i\r\nContent-Type: text/plain; charset=utf-8\r\n"
			 "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
			 "inner Gr=C3=BC=C3=9Fe aus K=C3=B6ln\r\n--i\r\n");
	assert_has(&out, "--i\r\nContent-Type: text/plain\r\n\r\nascii\r\n--i--\r\n");
	buf_release(&out);
}

static void
test_already_7bit(void **state)
{
	static const char msg[] = "From: a@example.org\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n"
				  "Content-Type: text/plain\r\n"
				  "Content-Transfer-Encoding: 8bit\r\n\r\nplain ascii\r\n";
	struct buf out;

	(void)state;
	assert_true(mime_is_7bit(msg, strlen(msg)));
	convert(NULL, msg, strlen(msg), &out);
	assert_int_equal(out.len, strlen(msg));
	assert_memory_equal(out.data, msg, out.len);
	buf_release(&out);
}

static void
test_long_lines(void **state)
{
	struct buf msg, out, want;
	const char *body;
	size_t col = 0;

	(void)state;
	buf_init(&msg, BUF_UNLIMITED);
	buf_init(&want, BUF_UNLIMITED);
	assert_int_equal(buf_add_str(&msg, "From: a@example.org\r\nContent-Type: text/plain\r\n\r\n"),
			 0);
	for (int i = 0; i < 3000; i++)
		assert_int_equal(buf_add_char(&want, (char)('a' + i % 26)), 0);
	assert_int_equal(buf_add_str(&want, "\r\nshort\r\n"), 0);
	assert_int_equal(buf_add(&msg, want.data, want.len), 0);
	assert_false(mime_is_7bit(msg.data, msg.len));
	convert(NULL, msg.data, msg.len, &out);
	assert_has(&out, "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	body = body_after(&out, "quoted-printable");
	for (const char *p = body; p < out.data + out.len; p++) {
		col = *p == '\n' ? 0 : col + 1;
		assert_true(col <= QP_LINE_MAX + 1);
	}
	assert_qp_decodes(body, out.len - (size_t)(body - out.data), want.data, want.len);
	buf_release(&out);
	buf_release(&msg);
	buf_release(&want);
}

static void
test_subject_8bit(void **state)
{
	struct buf msg, out, dec, subject;
	const char *p, *end;

	(void)state;
	buf_init(&msg, BUF_UNLIMITED);
	buf_init(&subject, BUF_UNLIMITED);
	assert_int_equal(buf_add_str(&subject, "Gr\xc3\xbc\xc3\x9f" "e \xe2\x80\x94"), 0);
	for (int i = 0; i < 20; i++)
		assert_int_equal(buf_add_str(&subject, " \xc3\xa9t\xc3\xa9"), 0);
	assert_int_equal(buf_add_str(&subject, " fin"), 0);
	assert_int_equal(buf_printf(&msg,
				    "From: a@example.org\r\nSubject: %s\r\nX-Note: caf\xc3\xa9\r\n"
				    "Comments: caf\xe9\r\n"
				    "Content-Type: text/plain\r\n\r\nbody\r\n",
				    subject.data),
			 0);
	convert("subject_8bit", msg.data, msg.len, &out);
	assert_has(&out, "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_=E2=80=94_");
	assert_has(&out, "X-Note: =?utf-8?q?caf=C3=A9?=\r\n");
	assert_has(&out, "Comments: =?unknown-8bit?q?caf=E9?=\r\n");
	assert_has(&out, "Content-Type: text/plain\r\n\r\nbody\r\n");
	/* Every encoded word is at most 75 characters; decoding gives the
	 * subject back. */
	p = strstr(out.data, "Subject:") + strlen("Subject:");
	end = strstr(p, "\r\nX-Note:");
	for (const char *w = p; w < end;) {
		const char *q;

		w = strstr(w, "=?");
		assert_true(w != NULL && w < end);
		q = strstr(w + strlen("=?utf-8?q?"), "?=");
		assert_true(q != NULL && q < end);
		assert_true(q + 2 - w <= 75);
		w = q + 2;
		if (w < end)
			assert_memory_equal(w, "\r\n ", 3);
	}
	buf_init(&dec, BUF_UNLIMITED);
	assert_int_equal(rfc2047_decode(&dec, p, (size_t)(end - p)), 0);
	assert_string_equal(dec.data + (dec.data[0] == ' '), subject.data);
	buf_release(&dec);
	buf_release(&out);
	buf_release(&msg);
	buf_release(&subject);
}

static void
assert_fails(const char *msg, size_t len, const char *want_error)
{
	struct buf out;
	const char *error = NULL;

	buf_init(&out, BUF_UNLIMITED);
	assert_int_equal(buf_add_str(&out, "keep"), 0);
	assert_int_equal(mime_downgrade(msg, len, &out, &error), -1);
	assert_non_null(error);
	if (want_error != NULL)
		assert_string_equal(error, want_error);
	assert_int_equal(out.len, 4);
	buf_release(&out);
}

static void
test_errors(void **state)
{
	static const char from[] = "From: J\xc3\xb6rg <j@example.org>\r\nSubject: x\r\n\r\nbody\r\n";
	static const char uue[] = "From: a@example.org\r\nContent-Type: application/x\r\n"
				  "Content-Transfer-Encoding: x-uuencode\r\n\r\n\xff\r\n";
	static const char nul[] = "From: a@example.org\r\nTo: b\0c\r\n\r\nbody\r\n";
	static const char xname[] = "From: a@example.org\r\nX-N\xe4me: caf\xc3\xa9\r\n\r\nx\r\n";
	static const char body8[] = "From: a@example.org\r\n\r\ncaf\xc3\xa9\r\n";
	struct buf out;
	const char *error = NULL;

	(void)state;
	assert_fails(from, strlen(from), "8-bit data in the From field");
	assert_fails(uue, strlen(uue), "8-bit data in a part with an unknown transfer encoding");
	assert_fails(nul, sizeof(nul) - 1, "NUL in the To field");
	assert_fails(xname, strlen(xname), "8-bit data in the X-N?me field");
	/* The output cap. */
	buf_init(&out, 30);
	assert_int_equal(mime_downgrade(body8, strlen(body8), &out, &error), -1);
	assert_string_equal(error, "output too large");
	assert_int_equal(out.len, 0);
	buf_release(&out);
}

/* A base64 part with stray 8-bit octets and a long line is encoded again. */
static void
test_dirty_base64(void **state)
{
	struct buf msg, out;
	const char *body, *end;

	(void)state;
	buf_init(&msg, BUF_UNLIMITED);
	assert_int_equal(buf_add_str(&msg, "From: a@example.org\r\nMIME-Version: 1.0\r\n"
					   "Content-Type: application/octet-stream\r\n"
					   "Content-Transfer-Encoding: base64\r\n\r\nAAEC\xff"),
			 0);
	for (int i = 0; i < 400; i++)
		assert_int_equal(buf_add_str(&msg, "AAAA"), 0);
	assert_int_equal(buf_add_str(&msg, "\r\n"), 0);
	convert(NULL, msg.data, msg.len, &out);
	assert_has(&out, "Content-Transfer-Encoding: base64\r\n\r\nAAECAAAA");
	body = body_after(&out, "Content-Transfer-Encoding: base64");
	end = out.data + out.len;
	{
		unsigned char want[3 + 1200];

		memset(want, 0, sizeof(want));
		want[1] = 1;
		want[2] = 2;
		assert_b64_decodes(body, (size_t)(end - body), want, sizeof(want));
	}
	buf_release(&out);
	buf_release(&msg);
}

/* Bare LF line ends become CRLF. */
static void
test_bare_lf(void **state)
{
	static const char msg[] = "From: a@example.org\nSubject: x\n\ncaf\xc3\xa9\nline\n";
	struct buf out;

	(void)state;
	convert(NULL, msg, strlen(msg), &out);
	assert_has(&out, "From: a@example.org\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
			 "Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9\r\nline\r\n");
	buf_release(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_is_7bit),
	    cmocka_unit_test(test_text_8bit),
	    cmocka_unit_test(test_no_mime_header),
	    cmocka_unit_test(test_attachment),
	    cmocka_unit_test(test_nested),
	    cmocka_unit_test(test_message_rfc822),
	    cmocka_unit_test(test_already_7bit),
	    cmocka_unit_test(test_long_lines),
	    cmocka_unit_test(test_subject_8bit),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_dirty_base64),
	    cmocka_unit_test(test_bare_lf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
