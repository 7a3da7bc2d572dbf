/* test_store_deliver.c - local delivery: spool, links, quota, duplicates,
 * refusals, UIDs across deliveries and reopen, stale spool cleanup. */
#include "lib/common.h"

#include <unistd.h>

#include "store_test.h"

#include <sys/time.h>
#include <time.h>

static const char msg1[] = "From: a@example.org\nSubject: one\n\nhello\n";

static void
test_deliver_one(void **state)
{
	struct fixture *f = *state;
	char path[512], name[300];
	const char *error = NULL;

	struct store_spool *spool = spool_text(f->store, msg1);
	assert_int_equal(store_spool_disk_size(spool), strlen(msg1));
	assert_int_equal(store_spool_crlf_size(spool), strlen(msg1) + 4);
	struct store_rcpt r = {.address = "alice@example.org"};
	struct store_result res;
	assert_int_equal(store_deliver(spool, &r, 1, &res), 1);
	assert_int_equal(res.status, STORE_OK);
	assert_int_equal(res.uid, 1);
	assert_true(res.uidvalidity > 0);
	store_spool_free(&spool);
	/* The spool is gone, the file is in new/ with its sizes. */
	assert_int_equal(count_files(f->dir, "tmp"), 0);
	snprintf(path, sizeof(path), "%s/mail/example.org/alice", f->dir);
	assert_int_equal(count_files(path, "new"), 1);
	first_file(path, "new", name, sizeof(name));
	char sizes[64];
	snprintf(sizes, sizeof(sizes), ",S=%zu,W=%zu", strlen(msg1), strlen(msg1) + 4);
	assert_non_null(strstr(name, sizes));
	assert_non_null(strstr(name, ".mx.example.org,"));
	assert_null(strchr(name, ':'));
	/* Modes: directories 0700, files 0600. */
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/mail/example.org/alice/new/%s", f->dir, name);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/mail/example.org/alice/index.db", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/mail/example.org/alice/.Sent/maildirfolder", f->dir);
	assert_int_equal(stat(path, &st), 0);

	/* The default mailboxes exist, subscribed, with special-use. */
	struct store_user *u;
	struct store_mailbox_info *list;
	size_t n;
	assert_int_equal(store_user_open(f->store, "alice@example.org", false, &u, &error), 0);
	assert_true(store_mailbox_list(u, &list, &n, &error) >= 0);
	assert_int_equal(n, 6);
	assert_string_equal(list[0].name, "INBOX");
	static const char *const names[] = {"Archive", "Drafts", "Junk", "Sent", "Trash"};
	static const enum store_special sp[] = {STORE_SPECIAL_ARCHIVE, STORE_SPECIAL_DRAFTS,
						STORE_SPECIAL_JUNK, STORE_SPECIAL_SENT,
						STORE_SPECIAL_TRASH};
	for (size_t i = 0; i < 5; i++) {
		assert_string_equal(list[i + 1].name, names[i]);
		assert_int_equal(list[i + 1].special, sp[i]);
		assert_true(list[i + 1].subscribed);
	}
	assert_int_equal(list[0].uidnext, 2);
	store_mailbox_list_free(&list, n);
	uint64_t bytes, count;
	assert_int_equal(store_user_usage(u, &bytes, &count, &error), 0);
	assert_int_equal(bytes, strlen(msg1));
	assert_int_equal(count, 1);
	store_user_close(&u);
}

static void
test_deliver_many_shares_links(void **state)
{
	struct fixture *f = *state;
	struct store_rcpt r[4] = {
	    {.address = "alice@example.org"},
	    {.address = "bob@example.org"},
	    {.address = "carol@other.example"},
	    {.address = "alice@example.org", .folder = "inbox"}, /* the same as [0] */
	};
	struct store_result res[4];
	char path[512], name[300];

	struct store_spool *spool = spool_text(f->store, msg1);
	assert_int_equal(store_deliver(spool, r, 4, res), 4);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(res[i].status, STORE_OK);
		assert_int_equal(res[i].uid, 1);
	}
	/* alice got it once, and all three files are one inode. */
	snprintf(path, sizeof(path), "%s/mail/example.org/alice", f->dir);
	assert_int_equal(count_files(path, "new"), 1);
	first_file(path, "new", name, sizeof(name));
	snprintf(path, sizeof(path), "%s/mail/example.org/alice/new/%s", f->dir, name);
	struct stat a, b;
	assert_int_equal(stat(path, &a), 0);
	assert_int_equal(a.st_nlink, 4); /* three users and the spool */
	snprintf(path, sizeof(path), "%s/mail/other.example/carol/new/%s", f->dir, name);
	assert_int_equal(stat(path, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	store_spool_free(&spool);
	assert_int_equal(stat(path, &b), 0);
	assert_int_equal(b.st_nlink, 3);
}

static void
test_deliver_folder_and_flags(void **state)
{
	struct fixture *f = *state;
	struct store_rcpt r[3] = {
	    {.address = "dave@example.org", .folder = "Junk", .keywords = "$Junk"},
	    {.address = "dave@example.org", .folder = "Sent", .flags = STORE_FLAG_SEEN},
	    {.address = "dave@example.org", .folder = "No.Such"},
	};
	struct store_result res[3];
	char path[512], name[300];
	const char *error = NULL;

	struct store_spool *spool = spool_text(f->store, msg1);
	assert_int_equal(store_deliver(spool, r, 3, res), 3);
	store_spool_free(&spool);
	assert_non_null(strstr(res[0].message, "Junk"));
	assert_non_null(strstr(res[2].message, "INBOX"));
	assert_non_null(strstr(res[2].message, "no folder"));
	/* Flagged: straight into cur/ with its info. */
	snprintf(path, sizeof(path), "%s/mail/example.org/dave/.Sent", f->dir);
	assert_int_equal(count_files(path, "new"), 0);
	first_file(path, "cur", name, sizeof(name));
	assert_non_null(strstr(name, ":2,S"));

	struct store_user *u;
	struct store_mailbox *box;
	struct store_iter *it;
	const struct store_message *m;
	assert_int_equal(store_user_open(f->store, "dave@example.org", false, &u, &error), 0);
	assert_int_equal(store_mailbox_open(u, "Junk", true, &box, &error), 0);
	assert_int_equal(store_iter_init(box, 1, UINT32_MAX, 0, &it, &error), 0);
	assert_int_equal(store_iter_next(it, &m, &error), 1);
	assert_string_equal(m->keywords, "$Junk");
	assert_int_equal(m->flags, 0);
	store_iter_free(&it);
	store_mailbox_close(&box);
	assert_int_equal(store_mailbox_open(u, "Sent", true, &box, &error), 0);
	assert_int_equal(store_iter_init(box, 1, UINT32_MAX, 0, &it, &error), 0);
	assert_int_equal(store_iter_next(it, &m, &error), 1);
	assert_int_equal(m->flags, STORE_FLAG_SEEN);
	store_iter_free(&it);
	store_mailbox_close(&box);
	store_user_close(&u);
}

static void
test_same_mailbox_twice(void **state)
{
	struct fixture *f = *state;
	struct store_rcpt r[3] = {
	    {.address = "lee@example.org"},
	    {.address = "lee@example.org", .folder = "Missing"}, /* falls back to INBOX */
	    {.address = "lee@example.org", .folder = "bad/name"},
	};
	struct store_result res[3];
	char path[512];

	struct store_spool *spool = spool_text(f->store, msg1);
	assert_int_equal(store_deliver(spool, r, 3, res), 3);
	store_spool_free(&spool);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(res[i].status, STORE_OK);
		assert_int_equal(res[i].uid, 1);
	}
	snprintf(path, sizeof(path), "%s/mail/example.org/lee", f->dir);
	assert_int_equal(count_files(path, "new"), 1);
}

static void
test_quota(void **state)
{
	struct fixture *f = *state;
	struct store_result res[2];
	char path[512];

	/* Room for two copies of msg1, not three. */
	uint64_t quota = 2 * strlen(msg1) + 10;
	struct store_rcpt r[2] = {
	    {.address = "erin@example.org", .quota = quota},
	    {.address = "frank@example.org", .quota = 1},
	};
	for (int i = 0; i < 3; i++) {
		struct store_spool *spool = spool_text(f->store, msg1);
		int ok = store_deliver(spool, r, 2, res);
		store_spool_free(&spool);
		assert_int_equal(ok, i < 2 ? 1 : 0);
		assert_int_equal(res[0].status, i < 2 ? STORE_OK : STORE_OVER_QUOTA);
		assert_int_equal(res[1].status, STORE_OVER_QUOTA);
	}
	assert_non_null(strstr(res[0].message, "quota"));
	snprintf(path, sizeof(path), "%s/mail/example.org/erin", f->dir);
	assert_int_equal(count_files(path, "new"), 2);
	snprintf(path, sizeof(path), "%s/mail/example.org/frank", f->dir);
	assert_int_equal(count_files(path, "new"), 0);
}

static void
test_refused(void **state)
{
	struct fixture *f = *state;
	char big[10 * 1024];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big + sizeof(big) - 13, "@example.org", 12);
	struct store_rcpt r[] = {
	    {.address = "../../etc@example.org"},
	    {.address = "..@example.org"},
	    {.address = "a/b@example.org"},
	    {.address = ".hidden@example.org"},
	    {.address = "x@../../tmp"},
	    {.address = big},
	    {.address = "ok@example.org", .keywords = "bad\\kw"},
	};
	struct store_result res[N_ELEMENTS(r)];

	struct store_spool *spool = spool_text(f->store, msg1);
	assert_int_equal(store_deliver(spool, r, N_ELEMENTS(r), res), 0);
	store_spool_free(&spool);
	for (size_t i = 0; i < N_ELEMENTS(r); i++)
		assert_int_equal(res[i].status, STORE_REFUSED);
	/* Nothing was created anywhere. */
	assert_int_equal(count_files(f->dir, "mail"), 0);
	/* A user store that does not exist is not made by a plain open. */
	struct store_user *u;
	const char *error = NULL;
	assert_int_equal(store_user_open(f->store, "nobody@example.org", false, &u, &error), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(store_user_open(f->store, "../x@example.org", true, &u, &error), -1);
}

static void
test_uids_ascend(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	uint32_t last = 0, uidvalidity = 0;

	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 5; i++) {
			uint32_t uid = deliver_one(f->store, "gina@example.org", msg1);
			assert_true(uid > last);
			last = uid;
		}
		/* Reopen, expunge some, deliver again: never a UID twice. */
		struct store_user *u;
		struct store_mailbox *box;
		struct store_status_info st;
		assert_int_equal(store_user_open(f->store, "gina@example.org", false, &u, &error),
				 0);
		assert_int_equal(store_mailbox_open(u, "INBOX", false, &box, &error), 0);
		store_mailbox_status(box, &st);
		if (uidvalidity == 0)
			uidvalidity = st.uidvalidity;
		assert_int_equal(st.uidvalidity, uidvalidity);
		assert_int_equal(st.uidnext, last + 1);
		uint32_t top = last;
		assert_int_equal(store_expunge(box, &top, 1, NULL, NULL, &error), 1);
		store_mailbox_close(&box);
		store_user_close(&u);
	}
	assert_int_equal(last, 15);
}

static void
test_spool_cleanup(void **state)
{
	struct fixture *f = *state;
	char path[512];
	const char *error = NULL;
	struct store_spool *live;

	assert_int_equal(store_spool_open(f->store, &live, &error), 0);
	snprintf(path, sizeof(path), "%s/tmp/stale", f->dir);
	write_file(path, "x");
	struct timespec old[2] = {{time(NULL) - STORE_SPOOL_STALE_SECS - 60, 0},
				  {time(NULL) - STORE_SPOOL_STALE_SECS - 60, 0}};
	assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
	assert_int_equal(store_cleanup_spool(f->store, STORE_SPOOL_STALE_SECS, &error), 1);
	assert_int_equal(count_files(f->dir, "tmp"), 1); /* the live one */
	store_spool_free(&live);
	assert_int_equal(count_files(f->dir, "tmp"), 0);
}

static void
test_spool_large_and_unfinished(void **state)
{
	struct fixture *f = *state;
	struct store_spool *spool;
	const char *error = NULL;
	struct buf big;

	/* Writes of all sizes, with a CR at the end of one write and its LF
	 * at the start of the next. */
	buf_init(&big, BUF_UNLIMITED);
	for (int i = 0; i < 20000; i++)
		assert_int_equal(buf_printf(&big, "line %d\n", i), 0);
	assert_int_equal(store_spool_open(f->store, &spool, &error), 0);
	struct store_rcpt r = {.address = "hal@example.org"};
	struct store_result res;
	assert_int_equal(store_deliver(spool, &r, 1, &res), 0);
	assert_int_equal(res.status, STORE_TEMP_FAIL); /* not finished */
	assert_int_equal(store_spool_write(spool, "a\r", 2, &error), 0);
	assert_int_equal(store_spool_write(spool, "\nb\n", 3, &error), 0);
	assert_int_equal(store_spool_write(spool, big.data, big.len, &error), 0);
	assert_int_equal(store_spool_write(spool, "x", 1, &error), 0);
	assert_int_equal(store_spool_finish(spool, NULL, &error), 0);
	assert_int_equal(store_spool_disk_size(spool), 5 + big.len + 1);
	assert_int_equal(store_spool_crlf_size(spool), 5 + 1 + big.len + 20000 + 1);
	assert_int_equal(store_spool_write(spool, "y", 1, &error), -1);
	assert_int_equal(store_deliver(spool, &r, 1, &res), 1);
	store_spool_free(&spool);
	buf_release(&big);
}

/* CRLF content fed byte by byte and in chunks gives the same LF file: CRLF
 * pairs split across writes join, a CR without LF stays, also the last. */
static void
test_spool_write_crlf(void **state)
{
	struct fixture *f = *state;
	static const char in[] = "a\r\nb\rc\r\r\nd\r";
	static const char want[] = "a\nb\rc\r\nd\r";
	const char *error = NULL;

	for (size_t step = 1; step <= sizeof(in) - 1; step++) {
		struct store_spool *spool;
		char got[sizeof(want)];
		assert_int_equal(store_spool_open(f->store, &spool, &error), 0);
		for (size_t off = 0; off < sizeof(in) - 1; off += step) {
			size_t n = MIN(step, sizeof(in) - 1 - off);
			assert_int_equal(store_spool_write_crlf(spool, in + off, n, &error), 0);
		}
		assert_int_equal(store_spool_finish(spool, NULL, &error), 0);
		assert_int_equal(store_spool_disk_size(spool), sizeof(want) - 1);
		assert_int_equal(pread(store_spool_fd(spool), got, sizeof(got), 0),
				 (ssize_t)sizeof(want) - 1);
		assert_memory_equal(got, want, sizeof(want) - 1);
		store_spool_free(&spool);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_deliver_one, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_deliver_many_shares_links, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_deliver_folder_and_flags, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_same_mailbox_twice, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_quota, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_refused, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_uids_ascend, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_spool_cleanup, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_spool_write_crlf, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_spool_large_and_unfinished, fixture_setup,
					    fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
