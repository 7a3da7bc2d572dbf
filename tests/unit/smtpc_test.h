/* smtpc_test.h - checks of dot-stuffed output shared by the SMTP client's
 * unit tests (test_smtpc_parse.c, test_smtpc.c). Include after cmocka.h. */
#ifndef POSTERN_SMTPC_TEST_H
#define POSTERN_SMTPC_TEST_H

/* The reference: line breaks normalised, lines dot-stuffed, joined by CRLF. */
static inline void
stuff_reference(const char *in, size_t len, struct buf *out)
{
	bool line_start = true;

	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\r' || in[i] == '\n') {
			if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n')
				i++;
			assert_int_equal(buf_add(out, "\r\n", 2), 0);
			line_start = true;
			continue;
		}
		if (line_start && in[i] == '.')
			assert_int_equal(buf_add_char(out, '.'), 0);
		assert_int_equal(buf_add_char(out, in[i]), 0);
		line_start = false;
	}
	if (!line_start)
		assert_int_equal(buf_add(out, "\r\n", 2), 0);
	assert_int_equal(buf_add(out, ".\r\n", 3), 0);
}

/* No bare CR or LF; ends with CRLF.CRLF (or is ".\r\n" alone). */
static inline bool
crlf_clean(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\r' && (i + 1 == len || s[i + 1] != '\n'))
			return false;
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			return false;
	}
	return true;
}

#endif
