/* test_queue_setup.c - making the queue's directories (queue_setup) and
 * opening them: idempotent, clear errors for what is missing or is no
 * directory. (The refusal of links when the directories are given to
 * another user is test_owner.c's and test_crash_resources.py's.) */
#include "lib/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include "queue_testlib.h"

static void
test_setup_and_open(void **state)
{
	struct qt *t = qt_new();
	struct queue *q;
	const char *error;

	/* setup is idempotent; open fails clearly without the directories. */
	assert_int_equal(queue_setup(t->qpath, (uid_t)-1, (gid_t)-1, &error), 0);
	char *missing = xasprintf("%s/nowhere", t->dir);
	assert_int_equal(queue_open(missing, &q, &error), -1);
	assert_contains(error, "nowhere");
	char *sub = xasprintf("%s/state", t->qpath);
	assert_int_equal(rmdir(sub), 0);
	assert_int_equal(queue_open(t->qpath, &q, &error), -1);
	assert_contains(error, "state");
	assert_int_equal(queue_setup(t->qpath, getuid(), getgid(), &error), 0);
	assert_int_equal(queue_open(t->qpath, &q, &error), 0);
	queue_close(&q);
	assert_null(q);
	queue_close(&q);
	/* A file where a directory belongs. */
	assert_int_equal(rmdir(sub), 0);
	int fd = open(sub, O_WRONLY | O_CREAT, 0600);
	close(fd);
	assert_int_equal(queue_setup(t->qpath, (uid_t)-1, (gid_t)-1, &error), -1);
	assert_contains(error, "not a directory");
	assert_int_equal(unlink(sub), 0);
	assert_int_equal(mkdir(sub, 0700), 0);
	free(sub);
	free(missing);
	qt_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_setup_and_open, qt_cleanup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
