/* queue_testlib.h - helpers shared by the relay queue's unit tests: a
 * queue in a fresh temporary directory, a standard message, and directory
 * inspection. Included after cmocka.h. */
#ifndef POSTERN_QUEUE_TESTLIB_H
#define POSTERN_QUEUE_TESTLIB_H

#include "lib/common.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/xalloc.h"
#include "queue/queue.h"

struct qt {
	char dir[64]; /* the temporary data directory */
	char *qpath;  /* DIR/queue */
	struct queue *q;
};

/* The queue of the running test, removed by qt_cleanup() when a failed
 * assertion skips the test's own qt_free(). */
static struct qt *qt_live;

static inline struct qt *
qt_new(void)
{
	struct qt *t = xcalloc(1, sizeof(*t));
	const char *error;

	(void)snprintf(t->dir, sizeof(t->dir), "/tmp/postern-queue-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	t->qpath = xasprintf("%s/%s", t->dir, QUEUE_DIR);
	assert_int_equal(queue_setup(t->qpath, (uid_t)-1, (gid_t)-1, &error), 0);
	assert_int_equal(queue_open(t->qpath, &t->q, &error), 0);
	qt_live = t;
	return t;
}

static int
qt_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static inline void
qt_free(struct qt **tp)
{
	struct qt *t = *tp;

	queue_close(&t->q);
	int ret = nftw(t->dir, qt_rm, 16, FTW_DEPTH | FTW_PHYS);
	free(t->qpath);
	free(t);
	*tp = NULL;
	qt_live = NULL;
	assert_int_equal(ret, 0);
}

/* Fail unless part is in s. */
static inline void
assert_contains(const char *s, const char *part)
{
	if (strstr(s, part) == NULL)
		fail_msg("'%s' does not contain '%s'", s, part);
}

/* cmocka teardown for every test that uses qt_new(). */
static inline int
qt_cleanup(void **state)
{
	if (qt_live != NULL)
		qt_free(&qt_live);
	return 0;
}

/* Number of entries (besides . and ..) in queue/SUB. */
static inline size_t
qt_count(const struct qt *t, const char *sub)
{
	char *path = xasprintf("%s/%s", t->qpath, sub);
	DIR *d = opendir(path);
	size_t n = 0;
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	free(path);
	return n;
}

static inline bool
qt_exists(const struct qt *t, const char *sub, const char *name)
{
	char *path = xasprintf("%s/%s/%s", t->qpath, sub, name);
	struct stat st;
	bool ok = lstat(path, &st) == 0;

	free(path);
	return ok;
}

/* Deterministic content of n bytes: CRLF lines of varying length. */
static inline void
qt_content(struct buf *out, size_t n)
{
	static const char filler[] = "The quick brown fox jumps over the lazy dog; 0123456789.";
	size_t start = out->len;

	for (size_t line = 0; out->len - start < n; line++) {
		char text[128];
		int len = snprintf(text, sizeof(text), "line %zu %.*s\r\n", line,
				   (int)(line % (sizeof(filler) - 1)), filler);
		assert_true(len > 0 && (size_t)len < sizeof(text));
		assert_int_equal(buf_add(out, text, MIN((size_t)len, n - (out->len - start))), 0);
	}
}

/* Queue a message with nrcpt recipients (rcptI@example.net) and n bytes of
 * content written in chunks of chunk bytes; its id into id. */
static inline void
qt_queue(struct qt *t, size_t nrcpt, size_t n, size_t chunk, char *id)
{
	struct queue_writer *w;
	const char *error;
	struct buf content;
	struct queue_client client = {
	    .addr = "192.0.2.1", .helo = "client.example", .protocol = "ESMTP"};

	assert_int_equal(queue_writer_create(t->q, &w, &error), 0);
	memcpy(id, queue_writer_id(w), QUEUE_ID_SIZE);
	assert_int_equal(queue_writer_set_sender(w, "sender@example.org", &error), 0);
	assert_int_equal(queue_writer_set_client(w, &client, &error), 0);
	for (size_t i = 0; i < nrcpt; i++) {
		char addr[64];
		(void)snprintf(addr, sizeof(addr), "rcpt%zu@example.net", i);
		assert_int_equal(queue_writer_add_rcpt(w, addr, NULL, 0, &error), 0);
	}
	buf_init(&content, BUF_UNLIMITED);
	qt_content(&content, n);
	for (size_t off = 0; off < n; off += chunk)
		assert_int_equal(
		    queue_writer_write(w, content.data + off, MIN(chunk, n - off), &error), 0);
	buf_release(&content);
	if (queue_writer_commit(&w, &error) < 0)
		fail_msg("commit: %s", error);
	assert_null(w);
}

#endif
