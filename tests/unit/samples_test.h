/* samples_test.h - for unit tests that build messages (test_dsn.c,
 * test_downgrade.c): with DSN_SAMPLES_DIR set, save_sample() writes a
 * result to DIR/<name>.eml, which tests/integration/test_dsn_format.py
 * parses with Python's email package. Include after cmocka.h. */
#ifndef POSTERN_SAMPLES_TEST_H
#define POSTERN_SAMPLES_TEST_H

#include "lib/buf.h"

static void
save_sample(const char *name, const struct buf *b)
{
	const char *dir = getenv("DSN_SAMPLES_DIR");
	char path[1024];
	FILE *fp;

	if (dir == NULL)
		return;
	assert_true(snprintf(path, sizeof(path), "%s/%s.eml", dir, name) < (int)sizeof(path));
	fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(b->data, 1, b->len, fp), b->len);
	assert_int_equal(fclose(fp), 0);
}

#endif
