/* test_queue_crash.c - a process killed at each step of every multi-step
 * queue update (commit, state update, move, removal): after recovery the
 * queue holds either nothing or an intact message, never half of one, and
 * a state file is the old one or the new one.
 *
 * A child process does the update and _exit()s at the named step (through
 * queue_crash_hook); the parent then recovers and inspects. This covers
 * every intermediate state a process crash can leave; what a power loss
 * adds (writes not yet on disk) is covered by the fsync order, argued in
 * docs/queue.md. */
#include "lib/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include <sys/wait.h>

#include "queue/queue_private.h"
#include "queue_testlib.h"

#define CRASHED 42
#define CONTENT_SIZE 150000

static const char *crash_at;

static void
crash_hook(const char *point)
{
	if (crash_at != NULL && strcmp(point, crash_at) == 0)
		_exit(CRASHED);
}

/* The child's side. No cmocka assertion may run in the child: any failure
 * is an exit status the parent reports. */
enum child_action {
	DO_COMMIT,
	DO_STATE_UPDATE,
	DO_FINISH_DEFER, /* attempt recorded, then moved incoming -> deferred */
	DO_HOLD,
	DO_FINISH_REMOVE, /* every recipient delivered: removed */
};

static int
child_commit(struct queue *q)
{
	struct queue_writer *w;
	const char *error;
	struct buf content;
	struct queue_client client = {.addr = "192.0.2.1", .protocol = "ESMTP"};

	if (queue_writer_create(q, &w, &error) < 0 ||
	    queue_writer_set_sender(w, "a@example.org", &error) < 0 ||
	    queue_writer_set_client(w, &client, &error) < 0 ||
	    queue_writer_add_rcpt(w, "b@example.net", NULL, 0, &error) < 0 ||
	    queue_writer_add_rcpt(w, "c@example.net", NULL, 0, &error) < 0)
		return 1;
	buf_init(&content, BUF_UNLIMITED);
	qt_content(&content, CONTENT_SIZE);
	for (size_t off = 0; off < content.len; off += 10000) {
		if (queue_writer_write(w, content.data + off, MIN(10000, content.len - off),
				       &error) < 0)
			return 2;
		if (off >= content.len / 2 && strcmp(crash_at, "half-content") == 0)
			_exit(CRASHED);
	}
	return queue_writer_commit(&w, &error) < 0 ? 3 : 0;
}

static int
child_run(const char *qpath, enum child_action action, const char *id)
{
	struct queue *q;
	struct queue_msg *msg;
	const char *error;
	struct queue_attempt later = {.state = QUEUE_RCPT_PENDING,
				      .when = 1700000000,
				      .next_attempt = 1700003600,
				      .reply = "451 later"};
	struct queue_attempt ok = {.state = QUEUE_RCPT_DELIVERED, .when = 1700000000};

	if (queue_open(qpath, &q, &error) < 0)
		return 10;
	queue_crash_hook = crash_hook;
	switch (action) {
	case DO_COMMIT:
		return child_commit(q);
	case DO_HOLD:
		return queue_hold(q, id, &error) < 0 ? 11 : 0;
	case DO_STATE_UPDATE:
	case DO_FINISH_DEFER:
	case DO_FINISH_REMOVE:
		break;
	}
	if (queue_msg_open(q, id, &msg, &error) != 0)
		return 12;
	for (size_t i = 0; i < 2; i++)
		if (queue_msg_record_attempt(msg, i, action == DO_FINISH_REMOVE ? &ok : &later,
					     &error) < 0)
			return 13;
	if (action == DO_STATE_UPDATE)
		return queue_msg_sync(msg, &error) < 0 ? 14 : 0;
	return queue_msg_finish(&msg, &error) < 0 ? 15 : 0;
}

/* Run action in a child that crashes at point; the point must be reached. */
static void
crash_child(struct qt *t, enum child_action action, const char *id, const char *point)
{
	int status;

	crash_at = point;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_run(t->qpath, action, id));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) != CRASHED)
		fail_msg("%s: the child exited with %d instead of crashing", point,
			 WEXITSTATUS(status));
	crash_at = NULL;
}

/* Every message the scan and the listing see opens and is whole. Returns
 * how many there are. */
static size_t
check_intact(struct qt *t)
{
	struct queue_entry *e;
	size_t n;
	const char *error;
	struct buf want;

	buf_init(&want, BUF_UNLIMITED);
	qt_content(&want, CONTENT_SIZE);
	assert_int_equal(queue_scan(t->q, &e, &n, &error), 0);
	for (size_t i = 0; i < n; i++) {
		struct queue_msg *msg;
		if (queue_msg_open(t->q, e[i].id, &msg, &error) != 0)
			fail_msg("%s: %s", e[i].id, error);
		const struct queue_envelope *env = queue_msg_envelope(msg);
		assert_int_equal(env->rcpt_count, 2);
		assert_string_equal(env->rcpts[1].addr, "c@example.net");
		assert_int_equal(env->content_size, CONTENT_SIZE);
		char *data = xmalloc(CONTENT_SIZE);
		assert_int_equal(queue_msg_read(msg, 0, data, CONTENT_SIZE, &error), CONTENT_SIZE);
		assert_memory_equal(data, want.data, CONTENT_SIZE);
		free(data);
		queue_msg_close(&msg);
	}
	free(e);
	buf_release(&want);
	return n;
}

static void
recover(struct qt *t, struct queue_recovery *r)
{
	const char *error;

	assert_int_equal(queue_recover(t->q, r, &error), 0);
	assert_int_equal(qt_count(t, "tmp"), 0);
}

static void
test_crash_in_commit(void **state)
{
	static const struct {
		const char *point;
		size_t queued; /* messages after recovery */
		size_t tmp_removed;
	} steps[] = {
		{"create-opened", 0, 1},
		{"half-content", 0, 1},
		{"commit-written", 0, 1},
		{"commit-patched", 0, 1},
		{"commit-synced", 0, 1},
		{"commit-linked", 1, 1},
		{"commit-dir-synced", 1, 1},
		{"commit-unlinked", 1, 0},
	};

	for (size_t i = 0; i < N_ELEMENTS(steps); i++) {
		struct qt *t = qt_new();
		struct queue_recovery r;

		crash_child(t, DO_COMMIT, NULL, steps[i].point);
		recover(t, &r);
		if (r.tmp_removed != steps[i].tmp_removed)
			fail_msg("%s: %zu files removed from tmp", steps[i].point, r.tmp_removed);
		if (check_intact(t) != steps[i].queued)
			fail_msg("%s: not %zu messages", steps[i].point, steps[i].queued);
		assert_int_equal(qt_count(t, "incoming"), steps[i].queued);
		assert_int_equal(qt_count(t, "state"), 0);
		qt_free(&t);
	}
}

static void
test_crash_in_state_update(void **state)
{
	static const struct {
		const char *point;
		bool updated;
	} steps[] = {
		{"state-tmp-opened", false},
		{"state-written", false},
		{"state-synced", false},
		{"state-renamed", true},
		{"state-dir-synced", true},
	};

	for (size_t i = 0; i < N_ELEMENTS(steps); i++) {
		struct qt *t = qt_new();
		struct queue_recovery r;
		char id[QUEUE_ID_SIZE];
		struct queue_msg *msg;
		const char *error;

		crash_child(t, DO_COMMIT, NULL, "commit-unlinked");
		struct queue_entry *e;
		size_t n;
		assert_int_equal(queue_scan(t->q, &e, &n, &error), 0);
		assert_int_equal(n, 1);
		memcpy(id, e[0].id, sizeof(id));
		free(e);
		/* A first state, synced, so there is an old one to keep. */
		assert_int_equal(queue_msg_open(t->q, id, &msg, &error), 0);
		struct queue_attempt first = {
		    .state = QUEUE_RCPT_PENDING, .when = 1, .next_attempt = 2};
		assert_int_equal(queue_msg_record_attempt(msg, 0, &first, &error), 0);
		assert_int_equal(queue_msg_sync(msg, &error), 0);
		queue_msg_close(&msg);

		crash_child(t, DO_STATE_UPDATE, id, steps[i].point);
		recover(t, &r);
		assert_int_equal(r.state_tmp_removed, steps[i].updated ? 0 : 1);
		assert_int_equal(qt_count(t, "state"), 1);
		assert_int_equal(check_intact(t), 1);
		assert_int_equal(queue_msg_open(t->q, id, &msg, &error), 0);
		const struct queue_envelope *env = queue_msg_envelope(msg);
		if (steps[i].updated) {
			assert_int_equal(env->rcpts[0].attempts, 2);
			assert_int_equal(env->rcpts[1].attempts, 1);
			assert_string_equal(env->rcpts[1].reply, "451 later");
		} else {
			assert_int_equal(env->rcpts[0].attempts, 1);
			assert_int_equal(env->rcpts[1].attempts, 0);
		}
		queue_msg_close(&msg);
		qt_free(&t);
	}
}

static void
test_crash_in_move_and_remove(void **state)
{
	static const struct {
		enum child_action action;
		const char *point;
		const char *where; /* NULL: removed */
	} steps[] = {
		{DO_FINISH_DEFER, "move-renamed", "deferred"},
		{DO_FINISH_DEFER, "move-synced-to", "deferred"},
		{DO_HOLD, "move-renamed", "hold"},
		{DO_HOLD, "move-synced-to", "hold"},
		{DO_FINISH_REMOVE, "remove-unlinked", NULL},
		{DO_FINISH_REMOVE, "remove-synced", NULL},
	};

	for (size_t i = 0; i < N_ELEMENTS(steps); i++) {
		struct qt *t = qt_new();
		struct queue_recovery r;
		char id[QUEUE_ID_SIZE];
		const char *error;

		crash_child(t, DO_COMMIT, NULL, "commit-unlinked");
		struct queue_entry *e;
		size_t n;
		assert_int_equal(queue_scan(t->q, &e, &n, &error), 0);
		memcpy(id, e[0].id, sizeof(id));
		free(e);
		crash_child(t, steps[i].action, id, steps[i].point);
		recover(t, &r);
		static const char *const dirs[] = {"incoming", "deferred", "hold", "corrupt"};
		size_t found = 0;
		for (size_t d = 0; d < N_ELEMENTS(dirs); d++)
			if (qt_exists(t, dirs[d], id)) {
				found++;
				if (steps[i].where == NULL || strcmp(dirs[d], steps[i].where) != 0)
					fail_msg("%s: found in %s", steps[i].point, dirs[d]);
			}
		assert_int_equal(found, steps[i].where != NULL ? 1 : 0);
		if (steps[i].where == NULL) {
			/* A message whose every recipient is final is removed
			 * without writing its state first: no orphan is left
			 * (it had no state file before). */
			assert_int_equal(r.orphans_removed, 0);
			assert_int_equal(qt_count(t, "state"), 0);
		} else if (steps[i].action == DO_FINISH_DEFER) {
			assert_int_equal(check_intact(t), 1);
		} else {
			assert_int_equal(check_intact(t), 0);
			assert_int_equal(queue_release(t->q, id, time(NULL), &error), 0);
			assert_int_equal(check_intact(t), 1);
		}
		qt_free(&t);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_crash_in_commit, qt_cleanup),
		cmocka_unit_test_teardown(test_crash_in_state_update, qt_cleanup),
		cmocka_unit_test_teardown(test_crash_in_move_and_remove, qt_cleanup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
