/* test_store_copy.c - COPY and MOVE (store_copy): COPYUID pairs, flags,
 * keywords, internal date, sizes and cache taken along, new MODSEQs, hard
 * links, a move's expunges seen by another session, the same mailbox as
 * destination, a missing destination, the quota, all or nothing when the
 * commit fails, and what a crash part way leaves. */
#include "lib/common.h"

#include "store_msg_test.h"

#include <sys/wait.h>

static const char *const A = "cora@example.org";
static const char *const A_REL = "mail/example.org/cora";

static const char *const texts[] = {
    "From: a@example.org\nSubject: one\n\nfirst\n",
    "From: b@example.org\nSubject: two\n\nsecond message\n",
    "From: c@example.org\nSubject: three\n\nthird, longer message body\n",
};

/* Deliver texts[0..2] to INBOX: the first flagged \Seen \Flagged, with
 * keywords, an internal date and a cache text. */
static void
deliver_three(struct fixture *f)
{
	for (size_t i = 0; i < N_ELEMENTS(texts); i++) {
		struct store_spool *spool = spool_text(f->store, texts[i]);
		struct store_rcpt r = {.address = A};
		struct store_result res;
		if (i == 0) {
			r.flags = STORE_FLAG_SEEN | STORE_FLAG_FLAGGED;
			r.keywords = "Todo $Work";
			r.internal_date = 1000000000;
			store_spool_set_cache(spool, "(cache one)");
		}
		assert_int_equal(store_deliver(spool, &r, 1, &res), 1);
		assert_int_equal(res.uid, i + 1);
		store_spool_free(&spool);
	}
}

static struct store_mailbox *
open_box(struct store_user *u, const char *name, bool readonly)
{
	struct store_mailbox *box;
	const char *error = NULL;

	if (store_mailbox_open(u, name, readonly, &box, &error) < 0)
		fail_msg("open %s: %s", name, error);
	return box;
}

static int
files_in(struct fixture *f, const char *dir)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s/%s", f->dir, A_REL, dir);
	int n = count_files(path, "cur");
	int m = count_files(path, "new");
	return n + m;
}

/* The same message in both mailboxes: content, and the row copied but for
 * UID and MODSEQ. */
static void
assert_same_message(struct store_mailbox *from, const struct snap *a, struct store_mailbox *to,
		    const struct snap *b)
{
	assert_int_equal(a->flags, b->flags);
	assert_string_equal(a->keywords, b->keywords);
	assert_int_equal(a->date, b->date);
	assert_int_equal(a->disk, b->disk);
	assert_int_equal(a->crlf, b->crlf);
	assert_int_equal(a->has_cache, b->has_cache);
	assert_string_equal(a->cache, b->cache);
	char *x = content_of(from, a->uid, NULL);
	char *y = content_of(to, b->uid, NULL);
	assert_string_equal(x, y);
	free(x);
	free(y);
}

static void
test_copy(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	struct store_copy_result res;
	struct snap src[4], dst[4];
	uint64_t bytes_before, bytes_after;

	deliver_three(f);
	struct store_user *u = user_of(f, A, false);
	struct store_mailbox *inbox = open_box(u, "INBOX", false);
	struct store_mailbox *archive = open_box(u, "Archive", true);
	struct store_status_info ast;
	store_mailbox_status(archive, &ast);
	assert_int_equal(store_user_usage(u, &bytes_before, NULL, &error), 0);

	/* UIDs 1 and 3 exist, 7 does not and is skipped. */
	const uint32_t uids[] = {1, 3, 7};
	assert_int_equal(store_copy(inbox, uids, 3, "Archive", false, 0, &res, &error), 0);
	assert_int_equal(res.uidvalidity, ast.uidvalidity);
	assert_int_equal(res.count, 2);
	assert_int_equal(res.src_uids[0], 1);
	assert_int_equal(res.src_uids[1], 3);
	assert_int_equal(res.dst_uids[0], 1);
	assert_int_equal(res.dst_uids[1], 2);
	assert_null(res.expunged);
	assert_int_equal(res.expunged_count, 0);
	store_copy_result_free(&res);

	/* The copies: everything taken along, new MODSEQs after the
	 * destination's HIGHESTMODSEQ. */
	assert_int_equal(snaps_of(inbox, src, 4), 3);
	assert_int_equal(store_mailbox_sync(archive, &error), 0);
	assert_int_equal(snaps_of(archive, dst, 4), 2);
	assert_int_equal(src[0].flags, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
	assert_string_equal(src[0].keywords, "$Work Todo");
	assert_int_equal(src[0].date, 1000000000);
	assert_string_equal(src[0].cache, "(cache one)");
	assert_same_message(inbox, &src[0], archive, &dst[0]);
	assert_same_message(inbox, &src[2], archive, &dst[1]);
	assert_int_equal(dst[0].modseq, ast.highestmodseq + 1);
	assert_int_equal(dst[1].modseq, ast.highestmodseq + 2);
	/* Hard links into cur/, with the flags in the name. */
	ino_t i1, i2;
	free(content_of(inbox, 1, &i1));
	free(content_of(archive, 1, &i2));
	assert_true(i1 == i2);
	char path[512], name[300];
	snprintf(path, sizeof(path), "%s/%s/.Archive", f->dir, A_REL);
	assert_int_equal(count_files(path, "cur"), 2);
	assert_int_equal(count_files(path, "new"), 0);
	/* The usage counts both copies; the source is unchanged. */
	assert_int_equal(store_user_usage(u, &bytes_after, NULL, &error), 0);
	assert_int_equal(bytes_after, bytes_before + src[0].disk + src[2].disk);
	assert_int_equal(files_in(f, ""), 3);

	/* A copy from a read-only (EXAMINE) mailbox is allowed. */
	struct store_mailbox *ro = open_box(u, "INBOX", true);
	const uint32_t two = 2;
	assert_int_equal(store_copy(ro, &two, 1, "Archive", false, 0, &res, &error), 0);
	assert_int_equal(res.count, 1);
	assert_int_equal(res.dst_uids[0], 3);
	store_copy_result_free(&res);
	store_mailbox_close(&ro);
	snprintf(path, sizeof(path), "%s/%s/.Archive", f->dir, A_REL);
	first_file(path, "cur", name, sizeof(name));
	assert_non_null(strstr(name, ":2,"));
	store_mailbox_close(&archive);
	store_mailbox_close(&inbox);
	store_user_close(&u);
}

static void
test_move(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	struct store_copy_result res;
	struct snap before[4], after[4], moved[4];
	uint64_t bytes_before, bytes_after;

	deliver_three(f);
	struct store_user *u = user_of(f, A, false);
	struct store_mailbox *inbox = open_box(u, "INBOX", false);
	/* Another session with the same mailbox selected. */
	struct store_user *u2 = user_of(f, A, false);
	struct store_mailbox *other = open_box(u2, "INBOX", false);
	struct store_status_info st;
	store_mailbox_status(other, &st);
	assert_int_equal(snaps_of(inbox, before, 4), 3);
	assert_int_equal(store_user_usage(u, &bytes_before, NULL, &error), 0);

	/* A quota below the usage does not stop a move. */
	const uint32_t uids[] = {1, 2};
	assert_int_equal(store_copy(inbox, uids, 2, "Trash", true, 1, &res, &error), 0);
	assert_int_equal(res.count, 2);
	assert_int_equal(res.dst_uids[0], 1);
	assert_int_equal(res.dst_uids[1], 2);
	assert_int_equal(res.expunged_count, 2);
	assert_int_equal(res.expunged[0], 1);
	assert_int_equal(res.expunged[1], 2);
	store_copy_result_free(&res);

	/* The source lost them (rows and files), the destination has them,
	 * the usage did not change. */
	assert_int_equal(snaps_of(inbox, after, 4), 1);
	assert_int_equal(after[0].uid, 3);
	assert_int_equal(files_in(f, ""), 1);
	assert_int_equal(files_in(f, ".Trash"), 2);
	struct store_mailbox *trash = open_box(u, "Trash", true);
	assert_int_equal(snaps_of(trash, moved, 4), 2);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(moved[i].flags, before[i].flags);
		assert_string_equal(moved[i].keywords, before[i].keywords);
		assert_int_equal(moved[i].date, before[i].date);
		assert_string_equal(moved[i].cache, before[i].cache);
		char *text = content_of(trash, moved[i].uid, NULL);
		assert_non_null(strstr(text, i == 0 ? "first\r\n" : "second message\r\n"));
		free(text);
	}
	store_mailbox_close(&trash);
	assert_int_equal(store_user_usage(u, &bytes_after, NULL, &error), 0);
	assert_int_equal(bytes_after, bytes_before);

	/* The other session sees the expunges. */
	uint32_t *gone;
	size_t ngone;
	assert_int_equal(store_mailbox_sync(other, &error), 0);
	assert_int_equal(store_expunged_since(other, st.highestmodseq, &gone, &ngone, &error), 0);
	assert_int_equal(ngone, 2);
	assert_int_equal(gone[0], 1);
	assert_int_equal(gone[1], 2);
	free(gone);
	struct store_status_info st2;
	store_mailbox_status(other, &st2);
	assert_int_equal(st2.messages, 1);
	assert_true(st2.highestmodseq > st.highestmodseq);

	/* Moving out of a read-only mailbox is refused. */
	struct store_mailbox *ro = open_box(u, "INBOX", true);
	const uint32_t three = 3;
	assert_int_equal(store_copy(ro, &three, 1, "Trash", true, 0, &res, &error), -1);
	assert_int_equal(errno, EROFS);
	store_mailbox_close(&ro);
	store_mailbox_close(&other);
	store_user_close(&u2);
	store_mailbox_close(&inbox);
	store_user_close(&u);
}

static void
test_same_mailbox(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	struct store_copy_result res;
	struct snap v[8];

	deliver_three(f);
	struct store_user *u = user_of(f, A, false);
	struct store_mailbox *inbox = open_box(u, "INBOX", false);
	const uint32_t uids[] = {1, 2};
	assert_int_equal(store_copy(inbox, uids, 2, "INBOX", false, 0, &res, &error), 0);
	assert_int_equal(res.count, 2);
	assert_int_equal(res.dst_uids[0], 4);
	assert_int_equal(res.dst_uids[1], 5);
	store_copy_result_free(&res);
	assert_int_equal(snaps_of(inbox, v, 8), 5);
	assert_same_message(inbox, &v[0], inbox, &v[3]);
	assert_same_message(inbox, &v[1], inbox, &v[4]);
	assert_int_equal(files_in(f, ""), 5);

	/* A move within the mailbox: a new UID, the old one expunged. */
	const uint32_t four = 4;
	assert_int_equal(store_copy(inbox, &four, 1, "inbox", true, 0, &res, &error), 0);
	assert_int_equal(res.count, 1);
	assert_int_equal(res.dst_uids[0], 6);
	assert_int_equal(res.expunged[0], 4);
	store_copy_result_free(&res);
	assert_int_equal(snaps_of(inbox, v, 8), 5);
	assert_int_equal(v[3].uid, 5);
	assert_int_equal(v[4].uid, 6);
	assert_string_equal(v[4].keywords, "$Work Todo");
	assert_int_equal(files_in(f, ""), 5);
	/* A sync finds nothing to pick up or expunge. */
	assert_int_equal(store_mailbox_sync(inbox, &error), 0);
	assert_int_equal(snaps_of(inbox, v, 8), 5);
	store_mailbox_close(&inbox);
	store_user_close(&u);
}

static struct store *hook_store;

static void
delete_hook(const char *point)
{
	struct store_user *u;
	const char *error = NULL;

	if (strcmp(point, "synced") != 0)
		return;
	assert_int_equal(store_user_open(hook_store, A, false, &u, &error), 0);
	assert_int_equal(store_mailbox_delete(u, "Archive", &error), 0);
	store_user_close(&u);
}

static void
test_errors(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	struct store_copy_result res;
	uint64_t used;

	deliver_three(f);
	struct store_user *u = user_of(f, A, false);
	struct store_mailbox *inbox = open_box(u, "INBOX", false);
	const uint32_t uids[] = {1, 2, 3};

	/* A missing destination: ENOENT ([TRYCREATE]), nothing done. */
	assert_int_equal(store_copy(inbox, uids, 3, "Nowhere", false, 0, &res, &error), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(store_copy(inbox, uids, 3, "Nowhere", true, 0, &res, &error), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(res.count, 0);
	assert_int_equal(files_in(f, ""), 3);

	/* The quota: the usage plus all the copies must fit. */
	assert_int_equal(store_user_usage(u, &used, NULL, &error), 0);
	uint64_t all = used;
	assert_int_equal(store_copy(inbox, uids, 3, "Junk", false, used + all - 1, &res, &error),
			 -1);
	assert_int_equal(errno, EDQUOT);
	assert_int_equal(files_in(f, ".Junk"), 0);
	assert_int_equal(store_copy(inbox, uids, 3, "Junk", false, used + all, &res, &error), 0);
	assert_int_equal(res.count, 3);
	store_copy_result_free(&res);

	/* The destination deleted by another session after the links: ENOENT,
	 * the source untouched. */
	hook_store = f->store;
	store_test_hook = delete_hook;
	assert_int_equal(store_copy(inbox, uids, 3, "Archive", true, 0, &res, &error), -1);
	store_test_hook = NULL;
	assert_int_equal(errno, ENOENT);
	assert_int_equal(files_in(f, ""), 3);
	struct snap v[4];
	assert_int_equal(snaps_of(inbox, v, 4), 3);

	/* Nothing to copy: fine, nothing done. */
	const uint32_t none = 99;
	assert_int_equal(store_copy(inbox, &none, 1, "Junk", true, 0, &res, &error), 0);
	assert_int_equal(res.count, 0);
	store_copy_result_free(&res);
	store_mailbox_close(&inbox);
	store_user_close(&u);
}

/* The commit fails after the links (and, for a move, the source unlinks):
 * everything is put back. */
static void
test_all_or_nothing(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	struct store_copy_result res;
	struct snap before[4], after[4];

	deliver_three(f);
	struct store_user *u = user_of(f, A, false);
	struct store_mailbox *inbox = open_box(u, "INBOX", false);
	struct store_status_info st;
	store_mailbox_status(inbox, &st);
	assert_int_equal(snaps_of(inbox, before, 4), 3);
	block_dir = f->dir;
	block_user = A_REL;
	block_box = "Drafts";
	const uint32_t uids[] = {1, 2, 3};
	for (int move = 0; move < 2; move++) {
		store_test_hook = block_hook;
		assert_int_equal(store_copy(inbox, uids, 3, "Drafts", move, 0, &res, &error), -1);
		store_test_hook = NULL;
		assert_int_equal(res.count, 0);
		assert_int_equal(files_in(f, ".Drafts"), 0);
		assert_int_equal(files_in(f, ""), 3);
		unblock();
		assert_int_equal(store_mailbox_sync(inbox, &error), 0);
		assert_int_equal(snaps_of(inbox, after, 4), 3);
		for (size_t i = 0; i < 3; i++) {
			assert_int_equal(after[i].uid, before[i].uid);
			char *text = content_of(inbox, after[i].uid, NULL);
			free(text);
		}
		uint32_t *gone;
		size_t ngone;
		assert_int_equal(
		    store_expunged_since(inbox, st.highestmodseq, &gone, &ngone, &error), 0);
		assert_int_equal(ngone, 0);
		free(gone);
	}
	/* And it works once nothing is in the way. */
	assert_int_equal(store_copy(inbox, uids, 3, "Drafts", true, 0, &res, &error), 0);
	assert_int_equal(res.count, 3);
	assert_int_equal(res.dst_uids[0], 1);
	store_copy_result_free(&res);
	assert_int_equal(files_in(f, ".Drafts"), 3);
	assert_int_equal(files_in(f, ""), 0);
	store_mailbox_close(&inbox);
	store_user_close(&u);
}

static const char *crash_point;

static void
crash_hook(const char *point)
{
	if (strcmp(point, crash_point) == 0)
		_exit(0);
}

/* A crash after the links (before or after their directory fsync) leaves
 * files in the destination that the index does not know: the next open
 * picks them up, flags from their names, once each; the source is intact
 * (a copy that the client was not told of: docs/store.md). */
static void
test_crash(void **state)
{
	struct fixture *f = *state;
	static const char *const points[] = {"linked", "synced"};
	struct snap v[8];

	deliver_three(f);
	for (size_t p = 0; p < N_ELEMENTS(points); p++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			struct store *store;
			struct store_user *u;
			struct store_mailbox *box;
			struct store_copy_result res;
			const char *error;
			const uint32_t one = 1;
			if (store_open(f->dir, "mx.example.org", &store, &error) < 0 ||
			    store_user_open(store, A, false, &u, &error) < 0 ||
			    store_mailbox_open(u, "INBOX", false, &box, &error) < 0)
				_exit(2);
			crash_point = points[p];
			store_test_hook = crash_hook;
			(void)store_copy(box, &one, 1, "Sent", true, 0, &res, &error);
			_exit(3);
		}
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	struct store_user *u = user_of(f, A, false);
	assert_int_equal(snaps_of_name(u, "INBOX", v, 8), 3);
	assert_int_equal(snaps_of_name(u, "Sent", v, 8), 2);
	assert_int_equal(snaps_of_name(u, "Sent", v, 8), 2);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(v[i].uid, i + 1);
		assert_int_equal(v[i].flags, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
		assert_int_equal(v[i].disk, strlen(texts[0]));
	}
	store_user_close(&u);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_copy, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_move, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_same_mailbox, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_errors, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_all_or_nothing, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_crash, fixture_setup, fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
