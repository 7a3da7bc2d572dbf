/* test_store_batch.c - group commit (store_deliver_batch): several
 * messages into one mailbox or several, mixed recipients, the quota
 * counted per message in batch order, UIDs in batch order, rounds, spools
 * finished together, and a crash between the links and the directory
 * fsync leaving messages picked up exactly once. */
#include "lib/common.h"

#include "store_test.h"

#include <sys/wait.h>

#include "store/store_private.h"

static const char *const A = "alice@example.org";
static const char *const B = "bob@example.org";

/* A text of a given length (so that messages are told apart by size). */
static char *
text_of(size_t len, int seq)
{
	char *t = malloc(len + 1);

	assert_non_null(t);
	int head = snprintf(t, len + 1, "Subject: %d\n\n", seq);
	assert_true(head > 0 && (size_t)head < len);
	memset(t + head, 'x', len - (size_t)head);
	t[len - 1] = '\n';
	t[len] = '\0';
	return t;
}

struct seen {
	uint32_t uid;
	uint64_t disk;
};

static size_t
messages_of(struct fixture *f, const char *address, const char *box_name, struct seen *v,
	    size_t max)
{
	struct store_user *u;
	struct store_mailbox *box;
	struct store_iter *it;
	const struct store_message *m;
	const char *error = NULL;
	size_t n = 0;

	if (store_user_open(f->store, address, false, &u, &error) < 0)
		fail_msg("user_open: %s", error);
	if (store_mailbox_open(u, box_name, false, &box, &error) < 0)
		fail_msg("mailbox_open: %s", error);
	assert_int_equal(store_iter_init(box, 1, UINT32_MAX, 0, &it, &error), 0);
	while (store_iter_next(it, &m, &error) == 1)
		if (n < max) {
			v[n].uid = m->uid;
			v[n].disk = m->disk_size;
			n++;
		}
	store_iter_free(&it);
	store_mailbox_close(&box);
	store_user_close(&u);
	return n;
}

static void
box_path(struct fixture *f, const char *local, const char *sub, char *out, size_t size)
{
	assert_true(snprintf(out, size, "%s/mail/example.org/%s/%s", f->dir, local, sub) <
		    (int)size);
}

/* Hook calls per point name. */
static int hook_linked, hook_synced, hook_committed;

static void
count_hook(const char *point)
{
	if (strcmp(point, "linked") == 0)
		hook_linked++;
	else if (strcmp(point, "synced") == 0)
		hook_synced++;
	else if (strcmp(point, "committed") == 0)
		hook_committed++;
}

/* n messages of one recipient each (the same rcpt for all). */
struct batch {
	size_t n;
	struct store_spool *spools[80];
	struct store_delivery msgs[80];
	struct store_result results[80][4];
	size_t sizes[80];
};

static void
batch_add(struct batch *b, struct store *store, size_t len, const struct store_rcpt *rcpts,
	  size_t nrcpts)
{
	char *text = text_of(len, (int)b->n);

	assert_true(b->n < N_ELEMENTS(b->spools) && nrcpts <= 4);
	b->spools[b->n] = spool_text(store, text);
	free(text);
	b->sizes[b->n] = len;
	b->msgs[b->n] = (struct store_delivery){
	    .spool = b->spools[b->n],
	    .rcpts = rcpts,
	    .nrcpts = nrcpts,
	    .results = b->results[b->n],
	};
	b->n++;
}

static void
batch_free(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		store_spool_free(&b->spools[i]);
}

static void
test_one_mailbox(void **state)
{
	struct fixture *f = *state;
	static struct batch b;
	struct store_rcpt r = {.address = A};
	struct seen v[16];
	char path[512];

	memset(&b, 0, sizeof(b));
	deliver_one(f->store, A, "Subject: first\n\nhello\n");
	for (size_t i = 0; i < 8; i++)
		batch_add(&b, f->store, 100 + 10 * i, &r, 1);
	hook_linked = hook_synced = hook_committed = 0;
	store_test_hook = count_hook;
	assert_int_equal(store_deliver_batch(b.msgs, b.n), 8);
	store_test_hook = NULL;
	/* One round: one pass of links, of directory fsyncs, of commits. */
	assert_int_equal(hook_linked, 1);
	assert_int_equal(hook_synced, 1);
	assert_int_equal(hook_committed, 1);
	for (size_t i = 0; i < 8; i++) {
		assert_int_equal(b.results[i][0].status, STORE_OK);
		/* UIDs ascend in batch order. */
		assert_int_equal(b.results[i][0].uid, 2 + i);
		assert_non_null(strstr(b.results[i][0].message, "delivered to INBOX"));
	}
	batch_free(&b);
	assert_int_equal(count_files(f->dir, "tmp"), 0);
	box_path(f, "alice", "", path, sizeof(path));
	assert_int_equal(count_files(path, "new"), 9);
	assert_int_equal(messages_of(f, A, "INBOX", v, 16), 9);
	for (size_t i = 0; i < 8; i++) {
		assert_int_equal(v[i + 1].uid, 2 + i);
		assert_int_equal(v[i + 1].disk, b.sizes[i]);
	}
	/* The usage counts every message. */
	struct store_user *u;
	uint64_t bytes, count;
	const char *error = NULL;
	assert_int_equal(store_user_open(f->store, A, false, &u, &error), 0);
	assert_int_equal(store_user_usage(u, &bytes, &count, &error), 0);
	assert_int_equal(count, 9);
	store_user_close(&u);
	/* Deliveries go on after the batch. */
	assert_int_equal(deliver_one(f->store, A, "Subject: after\n\n\n"), 10);
}

static void
test_several_mailboxes(void **state)
{
	struct fixture *f = *state;
	static struct batch b;
	struct store_rcpt ra = {.address = A}, rb = {.address = B};
	struct store_rcpt rs = {.address = A, .folder = "Sent"};
	struct store_rcpt rf = {.address = B, .flags = STORE_FLAG_SEEN};
	struct seen v[8];
	char path[512];

	memset(&b, 0, sizeof(b));
	batch_add(&b, f->store, 50, &ra, 1);
	batch_add(&b, f->store, 60, &rb, 1);
	batch_add(&b, f->store, 70, &rs, 1);
	batch_add(&b, f->store, 80, &rb, 1);
	batch_add(&b, f->store, 90, &ra, 1);
	batch_add(&b, f->store, 95, &rf, 1);
	assert_int_equal(store_deliver_batch(b.msgs, b.n), 6);
	static const uint32_t uids[] = {1, 1, 1, 2, 2, 3};
	for (size_t i = 0; i < b.n; i++) {
		assert_int_equal(b.results[i][0].status, STORE_OK);
		assert_int_equal(b.results[i][0].uid, uids[i]);
	}
	assert_non_null(strstr(b.results[2][0].message, "delivered to Sent"));
	/* Each user's mailboxes have their own UIDVALIDITY. */
	assert_int_not_equal(b.results[0][0].uidvalidity, 0);
	assert_int_equal(b.results[0][0].uidvalidity, b.results[4][0].uidvalidity);
	batch_free(&b);
	box_path(f, "alice", "", path, sizeof(path));
	assert_int_equal(count_files(path, "new"), 2);
	assert_int_equal(count_files(path, ".Sent/new"), 1);
	box_path(f, "bob", "", path, sizeof(path));
	assert_int_equal(count_files(path, "new"), 2);
	assert_int_equal(count_files(path, "cur"), 1);
	assert_int_equal(messages_of(f, B, "INBOX", v, 8), 3);
	assert_int_equal(v[0].disk, 60);
	assert_int_equal(v[1].disk, 80);
	assert_int_equal(v[2].disk, 95);
	assert_int_equal(messages_of(f, A, "Sent", v, 8), 1);
	assert_int_equal(v[0].disk, 70);
}

static void
test_mixed_recipients(void **state)
{
	struct fixture *f = *state;
	static struct batch b;
	/* Message 0: alice and bob. Message 1: bob, alice, alice again, and
	 * alice in a missing folder (the same mailbox: one copy). Message 2:
	 * an unsafe address and bob. */
	struct store_rcpt m0[] = {{.address = A}, {.address = B}};
	struct store_rcpt m1[] = {
	    {.address = B}, {.address = A}, {.address = A}, {.address = A, .folder = "Nope"}};
	struct store_rcpt m2[] = {{.address = "../x@example.org"}, {.address = B}};
	struct seen v[8];
	char path[512];

	memset(&b, 0, sizeof(b));
	batch_add(&b, f->store, 40, m0, 2);
	batch_add(&b, f->store, 41, m1, 4);
	batch_add(&b, f->store, 42, m2, 2);
	assert_int_equal(store_deliver_batch(b.msgs, b.n), 2 + 4 + 1);
	assert_int_equal(b.results[0][0].uid, 1);
	assert_int_equal(b.results[0][1].uid, 1);
	assert_int_equal(b.results[1][0].uid, 2);
	for (size_t i = 1; i < 4; i++) {
		assert_int_equal(b.results[1][i].status, STORE_OK);
		assert_int_equal(b.results[1][i].uid, 2);
	}
	assert_int_equal(b.results[2][0].status, STORE_REFUSED);
	assert_int_equal(b.results[2][1].status, STORE_OK);
	assert_int_equal(b.results[2][1].uid, 3);
	batch_free(&b);
	box_path(f, "alice", "", path, sizeof(path));
	assert_int_equal(count_files(path, "new"), 2);
	box_path(f, "bob", "", path, sizeof(path));
	assert_int_equal(count_files(path, "new"), 3);
	assert_int_equal(messages_of(f, B, "INBOX", v, 8), 3);
	assert_int_equal(v[2].disk, 42);

	/* A missing folder alone falls back to INBOX, and says so. */
	struct store_rcpt nope = {.address = A, .folder = "Nope"};
	memset(&b, 0, sizeof(b));
	batch_add(&b, f->store, 43, &nope, 1);
	batch_add(&b, f->store, 44, &nope, 1);
	assert_int_equal(store_deliver_batch(b.msgs, b.n), 2);
	assert_non_null(strstr(b.results[1][0].message, "(no folder Nope)"));
	assert_int_equal(b.results[1][0].uid, 4);
	batch_free(&b);
}

static void
test_quota_mid_batch(void **state)
{
	struct fixture *f = *state;
	static struct batch b;
	/* Room for two of 100 bytes and one of 30. */
	struct store_rcpt r = {.address = "erin@example.org", .quota = 230};
	struct store_rcpt two[] = {{.address = "erin@example.org", .quota = 230}, {.address = B}};
	char path[512];

	memset(&b, 0, sizeof(b));
	batch_add(&b, f->store, 100, &r, 1);
	batch_add(&b, f->store, 100, two, 2);
	batch_add(&b, f->store, 100, &r, 1); /* over: 300 */
	batch_add(&b, f->store, 30, &r, 1);  /* fits: 230 */
	batch_add(&b, f->store, 20, &r, 1);  /* over */
	assert_int_equal(store_deliver_batch(b.msgs, b.n), 4);
	assert_int_equal(b.results[0][0].status, STORE_OK);
	assert_int_equal(b.results[1][0].status, STORE_OK);
	assert_int_equal(b.results[1][1].status, STORE_OK);
	assert_int_equal(b.results[2][0].status, STORE_OVER_QUOTA);
	assert_non_null(strstr(b.results[2][0].message, "200 of 230 bytes used"));
	assert_int_equal(b.results[3][0].status, STORE_OK);
	assert_int_equal(b.results[3][0].uid, 3);
	assert_int_equal(b.results[4][0].status, STORE_OVER_QUOTA);
	batch_free(&b);
	box_path(f, "erin", "", path, sizeof(path));
	assert_int_equal(count_files(path, "new"), 3);
	/* The next delivery sees the committed usage. */
	memset(&b, 0, sizeof(b));
	batch_add(&b, f->store, 20, &r, 1);
	assert_int_equal(store_deliver_batch(b.msgs, b.n), 0);
	assert_non_null(strstr(b.results[0][0].message, "230 of 230 bytes used"));
	batch_free(&b);
}

static void
test_rounds_and_unfinished(void **state)
{
	struct fixture *f = *state;
	static struct batch b;
	struct store_rcpt r = {.address = A};
	static struct seen v[80];
	const char *error = NULL;

	memset(&b, 0, sizeof(b));
	for (size_t i = 0; i < 70; i++)
		batch_add(&b, f->store, 20 + i, &r, 1);
	/* One spool not finished: only its message fails. */
	store_spool_free(&b.spools[5]);
	assert_int_equal(store_spool_open(f->store, &b.spools[5], &error), 0);
	b.msgs[5].spool = b.spools[5];
	hook_linked = hook_synced = hook_committed = 0;
	store_test_hook = count_hook;
	assert_int_equal(store_deliver_batch(b.msgs, b.n), 69);
	store_test_hook = NULL;
	/* 69 recipients: a round of 64, then one of 5. */
	assert_int_equal(hook_linked, 2);
	assert_int_equal(hook_committed, 2);
	assert_int_equal(b.results[5][0].status, STORE_TEMP_FAIL);
	assert_non_null(strstr(b.results[5][0].message, "not finished"));
	batch_free(&b);
	assert_int_equal(messages_of(f, A, "INBOX", v, 80), 69);
	for (size_t i = 0, k = 0; i < 70; i++) {
		if (i == 5)
			continue;
		assert_int_equal(v[k].uid, k + 1);
		assert_int_equal(v[k].disk, 20 + i);
		k++;
	}
}

static void
test_spool_finish_many(void **state)
{
	struct fixture *f = *state;
	struct store_spool *spools[3];
	const char *error = NULL;
	int err = 0;

	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(store_spool_open(f->store, &spools[i], &error), 0);
		assert_int_equal(store_spool_write(spools[i], "Subject: s\n\nbody\n", 17, &error),
				 0);
	}
	/* The second one's flush fails (its descriptor closed under it):
	 * it alone stays failed, sticky; the others finish. */
	int fd1 = store_spool_fd(spools[1]);
	assert_int_equal(close(fd1), 0);
	store_spool_finish_many(spools, 3);
	/* Give the number back before anything else can take it. */
	assert_int_equal(dup2(store_spool_fd(spools[0]), fd1), fd1);
	assert_int_equal(store_spool_finish(spools[0], &err, &error), 0);
	assert_int_equal(store_spool_finish(spools[1], &err, &error), -1);
	assert_int_equal(err, EBADF);
	assert_int_equal(store_spool_finish(spools[2], &err, &error), 0);
	assert_int_equal(store_spool_disk_size(spools[2]), 17);
	struct store_rcpt r = {.address = A};
	struct store_result res;
	assert_int_equal(store_deliver(spools[2], &r, 1, &res), 1);
	assert_int_equal(store_deliver(spools[1], &r, 1, &res), 0);
	assert_int_equal(res.status, STORE_TEMP_FAIL);
	for (size_t i = 0; i < 3; i++)
		store_spool_free(&spools[i]);
}

/* --- a crash between the links and the directory fsync --- */

static const char *crash_point;

static void
crash_hook(const char *point)
{
	if (strcmp(point, crash_point) == 0)
		_exit(0);
}

static void
test_crash_in_batch(void **state)
{
	struct fixture *f = *state;
	static const char *const points[] = {"linked", "synced"};
	struct seen v[16];
	char path[512];

	deliver_one(f->store, A, "Subject: before\n\n\n");
	for (size_t p = 0; p < N_ELEMENTS(points); p++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			static struct batch b;
			struct store *store;
			const char *error;
			struct store_rcpt r = {.address = A};
			if (store_open(f->dir, "mx.example.org", &store, &error) < 0)
				_exit(2);
			for (size_t i = 0; i < 3; i++)
				batch_add(&b, store, 200 + 10 * p + i, &r, 1);
			crash_point = points[p];
			store_test_hook = crash_hook;
			(void)store_deliver_batch(b.msgs, b.n);
			_exit(3); /* the hook did not fire */
		}
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
		/* Complete files in new/ that the index does not know. */
		box_path(f, "alice", "", path, sizeof(path));
		assert_int_equal(count_files(path, "new"), 1 + 3 * (int)(p + 1));
	}
	/* The next delivery goes on without looking. */
	assert_int_equal(deliver_one(f->store, A, "Subject: after\n\n\n"), 2);
	/* Opening picks all six up, exactly once, and a second open finds
	 * nothing more. */
	assert_int_equal(messages_of(f, A, "INBOX", v, 16), 8);
	assert_int_equal(messages_of(f, A, "INBOX", v, 16), 8);
	size_t crashed = 0;
	for (size_t i = 0; i < 8; i++) {
		assert_int_equal(v[i].uid, i + 1);
		crashed += v[i].disk >= 200 && v[i].disk < 220;
	}
	assert_int_equal(crashed, 6);
	assert_int_equal(deliver_one(f->store, A, "Subject: later\n\n\n"), 9);
	assert_int_equal(store_cleanup_spool(f->store, -1, NULL), 6);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_one_mailbox, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_several_mailboxes, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_mixed_recipients, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_quota_mid_batch, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_rounds_and_unfinished, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_spool_finish_many, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_crash_in_batch, fixture_setup, fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
