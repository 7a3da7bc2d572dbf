/* imap_search_test.h - a message for imap_search_match's load callback,
 * shared by the unit test and the fuzz target: counts the loads and can
 * play a message that vanished. */
#ifndef POSTERN_TEST_IMAP_SEARCH_H
#define POSTERN_TEST_IMAP_SEARCH_H

#include "lib/common.h"

struct test_msg {
	const char *data;
	size_t len;
	int loads;
	bool gone; /* load fails */
};

static int
test_msg_load(void *ctx, const char **data_r, size_t *len_r)
{
	struct test_msg *f = ctx;

	f->loads++;
	if (f->gone)
		return -1;
	*data_r = f->data;
	*len_r = f->len;
	return 0;
}

#endif
