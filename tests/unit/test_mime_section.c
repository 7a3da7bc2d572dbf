/* test_mime_section.c - section ranges, full buffers, BINARY results and
 * the BODYSTRUCTURE cache (Dovecot comparisons: test_mime_bodystructure.c). */
#include "lib/common.h"

#include <setjmp.h>

#include <cmocka.h> /* after setjmp.h */

#include "lib/buf.h"
#include "mime/bodystructure.h"
#include "mime/part.h"
#include "mime/section.h"

static const char msg[] = "Subject: s\r\n"
			  "Content-Type: multipart/mixed; boundary=b\r\n"
			  "\r\n"
			  "--b\r\n"
			  "Content-Type: text/plain\r\n"
			  "Content-Transfer-Encoding: base64\r\n"
			  "\r\n"
			  "aGVsbG8=\r\n"
			  "--b\r\n"
			  "Content-Type: message/rfc822\r\n"
			  "\r\n"
			  "Subject: inner\r\n"
			  "X-A: 1\r\n"
			  "\r\n"
			  "inner body\r\n"
			  "--b\r\n"
			  "Content-Transfer-Encoding: x-uuencode\r\n"
			  "\r\n"
			  "begin\r\n"
			  "--b--\r\n";

static void
get(const struct mime_message *m, const char *part, enum mime_section_text text,
    const char *want)
{
	struct buf out;
	const char *fields[] = {"subject"};

	buf_init(&out, BUF_UNLIMITED);
	assert_int_equal(mime_section_get(msg, sizeof(msg) - 1, m, part, text, fields, 1, &out), 0);
	assert_int_equal(out.len, strlen(want));
	assert_memory_equal(buf_cstr(&out), want, out.len);
	buf_release(&out);
}

static void
test_sections(void **state)
{
	struct mime_message m;
	size_t off, len;

	(void)state;
	assert_int_equal(mime_message_parse(msg, sizeof(msg) - 1, NULL, &m), 0);
	get(&m, "1", MIME_SECTION_ALL, "aGVsbG8=");
	get(&m, "1.1", MIME_SECTION_ALL, "aGVsbG8="); /* a leaf is its own "1" */
	get(&m, "2.HEADER", MIME_SECTION_ALL, "");    /* malformed number */
	get(&m, "2", MIME_SECTION_HEADER, "Subject: inner\r\nX-A: 1\r\n\r\n");
	get(&m, "2", MIME_SECTION_TEXT, "inner body");
	get(&m, "2", MIME_SECTION_HEADER_FIELDS, "Subject: inner\r\n\r\n");
	get(&m, "2", MIME_SECTION_HEADER_FIELDS_NOT, "X-A: 1\r\n\r\n");
	get(&m, "2.1", MIME_SECTION_ALL, "inner body");
	get(&m, "1", MIME_SECTION_HEADER, ""); /* not a message */
	get(&m, "9", MIME_SECTION_ALL, "");
	get(&m, "", MIME_SECTION_HEADER_FIELDS, "Subject: s\r\n\r\n");
	assert_int_equal(mime_section_range(&m, "", MIME_SECTION_ALL, &off, &len), 0);
	assert_int_equal(off, 0);
	assert_int_equal(len, sizeof(msg) - 1);
	assert_int_equal(mime_section_range(&m, "", MIME_SECTION_HEADER_FIELDS, &off, &len), -1);
	mime_message_clear(&m);
}

static void
test_binary(void **state)
{
	struct mime_message m;
	struct buf out;

	(void)state;
	assert_int_equal(mime_message_parse(msg, sizeof(msg) - 1, NULL, &m), 0);
	buf_init(&out, BUF_UNLIMITED);
	assert_int_equal(mime_binary_get(msg, sizeof(msg) - 1, &m, "1", &out), MIME_BINARY_OK);
	assert_string_equal(buf_cstr(&out), "hello");
	assert_int_equal(mime_binary_get(msg, sizeof(msg) - 1, &m, "3", &out),
			 MIME_BINARY_UNKNOWN_CTE);
	assert_int_equal(mime_binary_get(msg, sizeof(msg) - 1, &m, "", &out),
			 MIME_BINARY_UNKNOWN_CTE);
	assert_int_equal(mime_binary_get(msg, sizeof(msg) - 1, &m, "4", &out), MIME_BINARY_NO_PART);
	assert_int_equal(out.len, 5);
	buf_release(&out);
	buf_init(&out, 3);
	assert_int_equal(mime_binary_get(msg, sizeof(msg) - 1, &m, "1", &out), MIME_BINARY_FULL);
	assert_int_equal(out.len, 0);
	buf_release(&out);
	mime_message_clear(&m);
}

/* Every output refuses a short buffer and leaves it as it was. */
static void
test_full(void **state)
{
	struct mime_message m;
	struct buf big, small;

	(void)state;
	assert_int_equal(mime_message_parse(msg, sizeof(msg) - 1, NULL, &m), 0);
	buf_init(&big, BUF_UNLIMITED);
	assert_int_equal(mime_bodystructure(msg, sizeof(msg) - 1, &m, true, false, &big), 0);
	for (size_t max = 0; max < big.len; max++) {
		buf_init(&small, max);
		assert_int_equal(mime_bodystructure(msg, sizeof(msg) - 1, &m, true, false, &small), -1);
		assert_int_equal(small.len, 0);
		buf_release(&small);
	}
	buf_init(&small, 5);
	assert_int_equal(mime_section_get(msg, sizeof(msg) - 1, &m, "2", MIME_SECTION_HEADER_FIELDS,
					  (const char *const[]){"subject"}, 1, &small),
			 -1);
	assert_int_equal(small.len, 0);
	buf_release(&small);
	buf_release(&big);
	mime_message_clear(&m);
}

static void
test_cache(void **state)
{
	struct buf c, bs;
	struct mime_message m;
	const char *p;
	size_t n;
	static const char nul_msg[] = "Subject: a\0b\r\n\r\nx\r\n";

	(void)state;
	buf_init(&c, BUF_UNLIMITED);
	assert_int_equal(mime_cache_build(msg, sizeof(msg) - 1, &c), 0);
	assert_null(memchr(c.data, '\0', c.len));
	assert_int_equal(mime_message_parse(msg, sizeof(msg) - 1, NULL, &m), 0);
	buf_init(&bs, BUF_UNLIMITED);
	assert_int_equal(mime_bodystructure(msg, sizeof(msg) - 1, &m, true, false, &bs), 0);
	assert_int_equal(mime_cache_get(buf_cstr(&c), MIME_CACHE_BODYSTRUCTURE, &p, &n), 0);
	assert_int_equal(n, bs.len);
	assert_memory_equal(p, bs.data, n);
	assert_int_equal(mime_cache_get(buf_cstr(&c), MIME_CACHE_ENVELOPE, &p, &n), 0);
	assert_true(n > 0 && p[0] == '(');
	/* Damaged or foreign caches are refused. */
	c.data[c.len - 1] = 'x';
	assert_int_equal(mime_cache_get(buf_cstr(&c), MIME_CACHE_BODY, &p, &n), -1);
	assert_int_equal(mime_cache_get("postern-mime 0\n", MIME_CACHE_BODY, &p, &n), -1);
	assert_int_equal(mime_cache_get("postern-mime 1\n99999999999999\n", MIME_CACHE_BODY, &p, &n),
			 -1);
	/* A NUL in the header cannot reach the cache (text): 0x80 instead. */
	buf_reset(&c);
	assert_int_equal(mime_cache_build(nul_msg, sizeof(nul_msg) - 1, &c), 0);
	assert_int_equal(strlen(buf_cstr(&c)), c.len);
	assert_int_equal(mime_cache_get(buf_cstr(&c), MIME_CACHE_ENVELOPE, &p, &n), 0);
	assert_non_null(memmem(p, n, "{3}\r\na\x80" "b", 8));
	buf_release(&bs);
	buf_release(&c);
	mime_message_clear(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sections),
	    cmocka_unit_test(test_binary),
	    cmocka_unit_test(test_full),
	    cmocka_unit_test(test_cache),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
