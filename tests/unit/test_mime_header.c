/* test_mime_header.c - RFC 5322 header section parser. */
#include "lib/common.h"

#include <setjmp.h>

#include <cmocka.h> /* after setjmp.h */

#include "mime/header.h"

#define S(s) s, sizeof(s) - 1

static void
assert_value(const struct mime_header *h, const char *name, const char *value)
{
	const struct mime_header_field *f = mime_header_find(h, name);

	assert_non_null(f);
	assert_int_equal(f->value_len, strlen(value));
	assert_memory_equal(f->value, value, f->value_len);
}

static void
test_crlf_and_folding(void **state)
{
	static const char msg[] = "From: a@b.example\r\n"
				  "Subject: one\r\n two\r\n\tthree  \r\n"
				  "To : c@d.example\r\n"
				  "\r\n"
				  "body\r\n";
	struct mime_header h;
	const struct mime_header_field *f;

	assert_int_equal(mime_header_parse(S(msg), NULL, &h), 0);
	assert_int_equal(h.count, 3);
	assert_int_equal(h.flags, 0);
	assert_int_equal(h.body_offset, strlen(msg) - strlen("body\r\n"));
	assert_value(&h, "from", "a@b.example");
	assert_value(&h, "SUBJECT", "one two\tthree");
	f = mime_header_find(&h, "subject");
	assert_int_equal(f->raw_len, strlen(" one\r\n two\r\n\tthree  "));
	assert_memory_equal(f->raw, " one\r\n two\r\n\tthree  ", f->raw_len);
	assert_int_equal(f->offset, strlen("From: a@b.example\r\n"));
	assert_int_equal(f->size, strlen("Subject: one\r\n two\r\n\tthree  \r\n"));
	/* Whitespace before the colon is not part of the name. */
	assert_value(&h, "to", "c@d.example");
	mime_header_clear(&h);
	assert_int_equal(h.count, 0);
}

static void
test_lf_only_and_all(void **state)
{
	static const char msg[] =
	    "Received: one\nreceived: two\n  folded\nX: y\nRECEIVED: three\n\nb";
	struct mime_header h;
	const struct mime_header_field *f;
	const char *want[] = {"one", "two  folded", "three"};
	size_t n = 0;

	assert_int_equal(mime_header_parse(S(msg), NULL, &h), 0);
	assert_true((h.flags & MIME_HEADER_F_BARE_LF) != 0);
	assert_int_equal(h.body_offset, sizeof(msg) - 2);
	for (f = mime_header_find(&h, "Received"); f != NULL;
	     f = mime_header_find_next(&h, f, "Received")) {
		assert_true(n < 3);
		assert_string_equal(f->value, want[n]);
		n++;
	}
	assert_int_equal(n, 3);
	assert_null(mime_header_find(&h, "Receive"));
	mime_header_clear(&h);
}

static void
test_garbage_lines(void **state)
{
	static const char msg[] = "  leading continuation\r\n"
				  "Subject: ok\r\n"
				  "this line has no colon\r\n"
				  "Subject\r\n"
				  "X-8bit: caf\xc3\xa9\r\n"
				  "\r\n";
	struct mime_header h;

	assert_int_equal(mime_header_parse(S(msg), NULL, &h), 0);
	assert_int_equal(h.count, 5);
	assert_true(h.fields[0].no_colon);
	assert_int_equal(h.fields[0].name_len, 0);
	assert_true(h.fields[2].no_colon);
	assert_int_equal(h.fields[2].name_len, strlen("this line has no colon"));
	/* A no_colon line named like a field is never returned by lookups. */
	assert_true(h.fields[3].no_colon);
	assert_string_equal(mime_header_find(&h, "subject")->value, "ok");
	assert_null(mime_header_find_next(&h, mime_header_find(&h, "subject"), "subject"));
	assert_string_equal(mime_header_find(&h, "x-8bit")->value, "caf\xc3\xa9");
	assert_true((h.flags & MIME_HEADER_F_GARBAGE) != 0);
	assert_true((h.flags & MIME_HEADER_F_8BIT) != 0);
	mime_header_clear(&h);
}

static void
test_no_end(void **state)
{
	struct mime_header h;

	assert_int_equal(mime_header_parse(S("Subject: x\r\nFrom: y"), NULL, &h), 0);
	assert_int_equal(h.count, 2);
	assert_true((h.flags & MIME_HEADER_F_NO_END) != 0);
	assert_int_equal(h.body_offset, strlen("Subject: x\r\nFrom: y"));
	assert_string_equal(mime_header_find(&h, "from")->value, "y");
	mime_header_clear(&h);

	assert_int_equal(mime_header_parse("", 0, NULL, &h), 0);
	assert_int_equal(h.count, 0);
	assert_int_equal(h.body_offset, 0);
	mime_header_clear(&h);

	/* A message with an empty header. */
	assert_int_equal(mime_header_parse(S("\r\nbody"), NULL, &h), 0);
	assert_int_equal(h.count, 0);
	assert_int_equal(h.body_offset, 2);
	mime_header_clear(&h);
}

static void
test_limits(void **state)
{
	static const char msg[] = "A: 1\r\nB: 22\r\nC: \xc3\xa9\xc3\xa9\r\nD: 4\r\n\r\nbody";
	struct mime_header_limits lim = {.max_size = 1000, .max_fields = 2, .max_value = 100};
	struct mime_header h;

	assert_int_equal(mime_header_parse(S(msg), &lim, &h), 0);
	assert_int_equal(h.count, 2);
	assert_true((h.flags & MIME_HEADER_F_TOO_MANY) != 0);
	assert_int_equal(h.body_offset, sizeof(msg) - 1 - 4);
	mime_header_clear(&h);

	lim.max_fields = 100;
	lim.max_size = 13; /* A and B end at 13 */
	assert_int_equal(mime_header_parse(S(msg), &lim, &h), 0);
	assert_int_equal(h.count, 2);
	assert_true((h.flags & MIME_HEADER_F_TOO_LARGE) != 0);
	assert_int_equal(h.body_offset, sizeof(msg) - 1 - 4);
	mime_header_clear(&h);

	/* The cut never splits a UTF-8 sequence. */
	lim.max_size = 1000;
	lim.max_value = 3;
	assert_int_equal(mime_header_parse(S(msg), &lim, &h), 0);
	assert_int_equal(h.count, 4);
	assert_true(h.fields[2].value_cut);
	assert_string_equal(h.fields[2].value, "\xc3\xa9");
	assert_false(h.fields[1].value_cut);
	assert_true((h.flags & MIME_HEADER_F_VALUE_CUT) != 0);
	mime_header_clear(&h);
}

static void
test_nul_and_cr(void **state)
{
	static const char msg[] = "A: x\0y\r\nB: a\rb\r\n\r\n";
	struct mime_header h;

	assert_int_equal(mime_header_parse(S(msg), NULL, &h), 0);
	assert_int_equal(h.count, 2);
	assert_int_equal(h.fields[0].value_len, 3);
	assert_memory_equal(h.fields[0].value, "x\0y", 3);
	assert_string_equal(mime_header_find(&h, "b")->value, "a\rb");
	assert_true((h.flags & MIME_HEADER_F_NUL) != 0);
	mime_header_clear(&h);
}

static void
test_data_file(void **state)
{
	const char *srcdir = getenv("POSTERN_SRCDIR");
	char path[1024], *data;
	FILE *fp;
	long n;
	struct mime_header h;

	assert_non_null(srcdir);
	assert_true(snprintf(path, sizeof(path), "%s/tests/data/mime/outlook-attachment.eml",
			     srcdir) < (int)sizeof(path));
	fp = fopen(path, "rb");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	rewind(fp);
	data = malloc((size_t)n);
	assert_int_equal(fread(data, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	assert_int_equal(mime_header_parse(data, (size_t)n, NULL, &h), 0);
	assert_non_null(mime_header_find(&h, "content-type"));
	assert_string_equal(mime_header_find(&h, "mime-version")->value, "1.0");
	assert_int_equal(h.flags & MIME_HEADER_F_NO_END, 0);
	mime_header_clear(&h);
	free(data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crlf_and_folding), cmocka_unit_test(test_lf_only_and_all),
	    cmocka_unit_test(test_garbage_lines),    cmocka_unit_test(test_no_end),
	    cmocka_unit_test(test_limits),	     cmocka_unit_test(test_nul_and_cr),
	    cmocka_unit_test(test_data_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
