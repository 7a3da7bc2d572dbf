/* store_test.h - helpers shared by the store's unit tests: a data
 * directory in /tmp, delivering a text, reading files. */
#ifndef POSTERN_STORE_TEST_H
#define POSTERN_STORE_TEST_H

#include "lib/common.h"

#include <sys/stat.h>
#include <unistd.h>

#include "test_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h */

#include "lib/buf.h"
#include "store/store.h"

struct fixture {
	char dir[64];
	struct store *store;
};


static int
fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *error = NULL;

	assert_non_null(f);
	assert_int_equal(str_copy(f->dir, sizeof(f->dir), "/tmp/postern-store-XXXXXX"), 0);
	assert_non_null(mkdtemp(f->dir));
	if (store_open(f->dir, "mx.example.org", &f->store, &error) < 0)
		fail_msg("store_open: %s", error);
	*state = f;
	return 0;
}

static int
fixture_teardown(void **state)
{
	struct fixture *f = *state;

	store_close(&f->store);
	rm_rf(f->dir);
	free(f);
	return 0;
}

/* A finished spool holding text. */
static ATTR_UNUSED struct store_spool *
spool_text(struct store *store, const char *text)
{
	struct store_spool *spool;
	const char *error = NULL;

	if (store_spool_open(store, &spool, &error) < 0)
		fail_msg("spool_open: %s", error);
	if (store_spool_write(spool, text, strlen(text), &error) < 0 ||
	    store_spool_finish(spool, NULL, &error) < 0)
		fail_msg("spool: %s", error);
	return spool;
}

/* Deliver text to one address (INBOX, no quota); returns the UID. */
static ATTR_UNUSED uint32_t
deliver_one(struct store *store, const char *address, const char *text)
{
	struct store_spool *spool = spool_text(store, text);
	struct store_rcpt r = {.address = address};
	struct store_result res;

	int ok = store_deliver(spool, &r, 1, &res);
	if (ok != 1)
		fail_msg("deliver to %s: %s", address, res.message);
	store_spool_free(&spool);
	return res.uid;
}

/* Count the regular files in DIR/sub. */
static ATTR_UNUSED int
count_files(const char *dir, const char *sub)
{
	char path[512];
	int n = 0;

	assert_true(snprintf(path, sizeof(path), "%s/%s", dir, sub) < (int)sizeof(path));
	DIR *d = opendir(path);
	if (d == NULL)
		return -1;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* The name of the only (or first) file in DIR/sub, or "". */
static ATTR_UNUSED void
first_file(const char *dir, const char *sub, char *out, size_t size)
{
	char path[512];

	out[0] = '\0';
	assert_true(snprintf(path, sizeof(path), "%s/%s", dir, sub) < (int)sizeof(path));
	DIR *d = opendir(path);
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.') {
			assert_int_equal(str_copy(out, size, e->d_name), 0);
			break;
		}
	closedir(d);
}

static ATTR_UNUSED void
write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* UIDs of a mailbox in order, into uids[] (at most max); returns count. */
static ATTR_UNUSED size_t
list_uids(struct store_mailbox *box, uint32_t *uids, size_t max)
{
	struct store_iter *it;
	const struct store_message *m;
	const char *error = NULL;
	size_t n = 0;
	int r;

	assert_int_equal(store_iter_init(box, 1, UINT32_MAX, 0, &it, &error), 0);
	while ((r = store_iter_next(it, &m, &error)) == 1)
		if (n < max)
			uids[n++] = m->uid;
	assert_int_equal(r, 0);
	store_iter_free(&it);
	return n;
}

#endif
