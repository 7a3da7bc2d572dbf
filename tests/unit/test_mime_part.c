/* test_mime_part.c - the MIME part tree over messages in tests/data/mime. */
#include "lib/common.h"

#include <setjmp.h>

#include <cmocka.h> /* after setjmp.h */

#include "lib/buf.h"
#include "mime/header.h"
#include "mime/part.h"
#include "mime/rfc2047.h"

static char *
load(const char *name, size_t *len_r)
{
	const char *srcdir = getenv("POSTERN_SRCDIR");
	char path[1024], *data;
	FILE *fp;
	long n;

	assert_non_null(srcdir);
	assert_true(snprintf(path, sizeof(path), "%s/tests/data/mime/%s", srcdir, name) <
		    (int)sizeof(path));
	fp = fopen(path, "rb");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	data = malloc((size_t)n + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)n, fp), (size_t)n);
	data[n] = '\0';
	fclose(fp);
	*len_r = (size_t)n;
	return data;
}

static const struct mime_part *
find(const struct mime_message *m, const char *section)
{
	const struct mime_part *p = mime_part_find(m, section);

	assert_non_null(p);
	return p;
}

static void
assert_body(const char *msg, const struct mime_part *p, const char *want)
{
	assert_int_equal(p->body_size, strlen(want));
	assert_memory_equal(msg + p->body_offset, want, p->body_size);
}

static void
assert_type(const struct mime_part *p, const char *type, const char *subtype)
{
	assert_string_equal(p->ct.type, type);
	assert_string_equal(p->ct.subtype, subtype);
}

static void
test_nested(void **state)
{
	size_t len;
	char *msg = load("nested.eml", &len);
	struct mime_message m;
	const struct mime_part *p;

	assert_int_equal(mime_message_parse(msg, len, NULL, &m), 0);
	assert_int_equal(m.nparts, 9);
	assert_int_equal(m.root->nchildren, 3);
	assert_int_equal(m.flags & (MIME_PART_F_NO_CLOSE | MIME_PART_F_NO_DELIMITER), 0);
	assert_type(m.root, "multipart", "mixed");
	assert_int_equal(m.root->header_offset, 0);
	assert_int_equal(m.root->body_offset, strstr(msg, "This is the preamble") - msg);
	assert_int_equal(m.root->body_offset + m.root->body_size, len);

	p = find(&m, "1");
	assert_type(p, "multipart", "alternative");
	assert_int_equal(p->nchildren, 2);
	assert_int_equal(p->header_offset,
			 strstr(msg, "Content-Type: multipart/alternative") - msg);
	p = find(&m, "1.1");
	assert_type(p, "text", "plain");
	assert_body(msg, p, "plain line 1\r\nplain line 2");
	assert_int_equal(p->body_lines, 1);
	assert_string_equal(p->encoding, "7bit");
	assert_body(msg, find(&m, "1.2"), "<p>html</p>");
	assert_body(
	    msg, find(&m, "1"),
	    "--outer-inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
	    "plain line 1\r\nplain line 2\r\n--outer-inner\r\n"
	    "Content-Type: text/html; charset=utf-8\r\n\r\n<p>html</p>\r\n--outer-inner--\r\n");

	/* message/rfc822: its child is the encapsulated message; section
	 * numbers after it count in that message. */
	p = find(&m, "2");
	assert_type(p, "message", "rfc822");
	assert_true((p->flags & MIME_PART_F_MESSAGE) != 0);
	assert_int_equal(p->nchildren, 1);
	assert_int_equal(p->children->header_offset, p->body_offset);
	assert_type(p->children, "multipart", "mixed");
	assert_int_equal(p->body_offset + p->body_size,
			 strstr(msg, "--fwd--\r\n") + strlen("--fwd--\r\n") - msg);
	p = find(&m, "2.1");
	assert_type(p, "text", "plain");
	assert_int_equal(p->header_size, 2);
	assert_body(msg, p, "implicit text/plain");
	p = find(&m, "2.2");
	assert_type(p, "application", "octet-stream");
	assert_string_equal(p->encoding, "base64");
	assert_body(msg, p, "AAEC");

	/* Transport padding after the delimiter. */
	p = find(&m, "3");
	assert_type(p, "image", "png");
	assert_body(msg, p, "iVBORw0KGgo=");

	assert_null(mime_part_find(&m, "4"));
	assert_null(mime_part_find(&m, "2.1.1"));
	assert_null(mime_part_find(&m, "0"));
	assert_null(mime_part_find(&m, "1."));
	assert_null(mime_part_find(&m, "01"));
	assert_null(mime_part_find(&m, ""));
	assert_null(mime_part_find(&m, "1..1"));
	mime_message_clear(&m);
	assert_null(m.root);
	free(msg);
}

static void
test_broken_boundary(void **state)
{
	size_t len;
	char *msg = load("broken-boundary.eml", &len);
	struct mime_message m;
	const struct mime_part *p;

	assert_int_equal(mime_message_parse(msg, len, NULL, &m), 0);
	assert_int_equal(m.root->nchildren, 2);
	assert_true((m.root->flags & MIME_PART_F_NO_CLOSE) != 0);
	/* "--bb" is not a delimiter for "b". */
	assert_body(msg, find(&m, "1"), "first\n--bb\nnot a delimiter");
	p = find(&m, "2");
	assert_int_equal(p->header_size, 1);
	assert_body(msg, p, "second, no close delimiter\n");
	assert_int_equal(p->body_offset + p->body_size, len);
	assert_int_equal(p->body_lines, 1);
	mime_message_clear(&m);
	free(msg);
}

static void
test_digest_and_single(void **state)
{
	size_t len;
	char *msg = load("digest.eml", &len);
	struct mime_message m;
	const struct mime_part *p;
	struct mime_header h;

	assert_int_equal(mime_message_parse(msg, len, NULL, &m), 0);
	p = find(&m, "1");
	assert_type(p, "message", "rfc822");
	assert_int_equal(
	    mime_header_parse(msg + p->children->header_offset, p->children->header_size, NULL, &h),
	    0);
	assert_string_equal(mime_header_find(&h, "subject")->value, "one");
	mime_header_clear(&h);
	/* 1.1: the encapsulated message's body, which is not multipart. */
	assert_body(msg, find(&m, "1.1"), "body one");
	assert_type(find(&m, "2"), "text", "plain");
	mime_message_clear(&m);
	free(msg);

	/* A single-part message: "1" is its body. */
	assert_int_equal(mime_message_parse("Subject: x\n\nhello\n", 18, NULL, &m), 0);
	assert_int_equal(m.nparts, 1);
	assert_ptr_equal(find(&m, "1"), m.root);
	assert_null(mime_part_find(&m, "2"));
	assert_type(m.root, "text", "plain");
	assert_int_equal(m.root->body_offset, 12);
	assert_int_equal(m.root->body_lines, 1);
	mime_message_clear(&m);

	/* No header at all, nothing at all. */
	assert_int_equal(mime_message_parse("", 0, NULL, &m), 0);
	assert_int_equal(m.root->body_size, 0);
	mime_message_clear(&m);
}

static void
test_no_delimiter(void **state)
{
	size_t len;
	char *msg = load("no-delimiter.eml", &len);
	struct mime_message m;
	struct mime_header h;
	const struct mime_header_field *f;
	struct buf b;

	assert_int_equal(mime_message_parse(msg, len, NULL, &m), 0);
	assert_int_equal(m.root->nchildren, 0);
	assert_true((m.root->flags & MIME_PART_F_NO_DELIMITER) != 0);
	assert_null(mime_part_find(&m, "1"));
	mime_message_clear(&m);

	/* Its 8-bit subject with an encoded word, as SEARCH would see it. */
	assert_int_equal(mime_header_parse(msg, len, NULL, &h), 0);
	assert_true((h.flags & MIME_HEADER_F_8BIT) != 0);
	f = mime_header_find(&h, "subject");
	assert_non_null(f);
	buf_init(&b, 1024);
	assert_int_equal(rfc2047_decode(&b, f->value, f->value_len), 0);
	assert_string_equal(b.data, "\xc3\xa4\xc3\xb6\xc3\xbc 8bit \xc3\xa4");
	buf_release(&b);
	mime_header_clear(&h);
	free(msg);

	msg = load("outlook-attachment.eml", &len);
	assert_int_equal(mime_message_parse(msg, len, NULL, &m), 0);
	assert_int_equal(m.root->nchildren, 2);
	assert_string_equal(find(&m, "1")->encoding, "quoted-printable");
	assert_type(find(&m, "2"), "application", "pdf");
	assert_body(msg, find(&m, "2"), "JVBERi0xLjQKJcOkw7zDtsOfCjEgMCBvYmoK\r\n");
	mime_message_clear(&m);
	free(msg);
}

static void
test_limits(void **state)
{
	struct buf b;
	struct mime_message m;
	struct mime_part_limits lim = {.max_depth = 5, .max_parts = 100};
	const struct mime_part *p;
	size_t i, depth = 0;

	buf_init(&b, BUF_UNLIMITED);
	for (i = 0; i < 20; i++)
		assert_int_equal(buf_add_str(&b, "Content-Type: message/rfc822\r\n\r\n"), 0);
	assert_int_equal(buf_add_str(&b, "Subject: deep\r\n\r\nbody"), 0);
	assert_int_equal(mime_message_parse(b.data, b.len, &lim, &m), 0);
	for (p = m.root; p->children != NULL; p = p->children)
		depth++;
	assert_int_equal(depth, 5);
	assert_true((p->flags & MIME_PART_F_TOO_DEEP) != 0);
	assert_true((m.flags & MIME_PART_F_TOO_DEEP) != 0);
	assert_int_equal(m.nparts, 6);
	mime_message_clear(&m);

	buf_reset(&b);
	assert_int_equal(buf_add_str(&b, "Content-Type: multipart/mixed; boundary=x\r\n\r\n"), 0);
	for (i = 0; i < 300; i++)
		assert_int_equal(buf_add_str(&b, "--x\r\n\r\npart\r\n"), 0);
	assert_int_equal(buf_add_str(&b, "--x--\r\n"), 0);
	assert_int_equal(mime_message_parse(b.data, b.len, &lim, &m), 0);
	assert_int_equal(m.nparts, 100);
	assert_int_equal(m.root->nchildren, 99);
	assert_true((m.flags & MIME_PART_F_TOO_MANY) != 0);
	mime_message_clear(&m);

	assert_int_equal(mime_message_parse(b.data, b.len, NULL, &m), 0);
	assert_int_equal(m.root->nchildren, 300);
	assert_int_equal(m.flags & MIME_PART_F_TOO_MANY, 0);
	mime_message_clear(&m);
	buf_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nested),
	    cmocka_unit_test(test_broken_boundary),
	    cmocka_unit_test(test_digest_and_single),
	    cmocka_unit_test(test_no_delimiter),
	    cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
