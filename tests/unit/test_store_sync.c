/* test_store_sync.c - the Maildir is the truth: files dropped in by other
 * programs are picked up, crashes between link and index commit leave a
 * message picked up exactly once, reindex keeps UIDs or starts over. */
#include "lib/common.h"

#include "store_test.h"

#include <sys/wait.h>

#include "store/store_private.h"

static const char *const A = "jack@example.org";

static void
user_path(struct fixture *f, const char *sub, char *out, size_t size)
{
	assert_true(snprintf(out, size, "%s/mail/example.org/jack%s%s", f->dir, *sub ? "/" : "",
			     sub) < (int)size);
}

static struct store_mailbox *
open_box(struct fixture *f, struct store_user **u, const char *name, bool readonly)
{
	struct store_mailbox *box;
	const char *error = NULL;

	if (store_user_open(f->store, A, true, u, &error) < 0)
		fail_msg("user_open: %s", error);
	if (store_mailbox_open(*u, name, readonly, &box, &error) < 0)
		fail_msg("mailbox_open: %s", error);
	return box;
}

static void
close_box(struct store_mailbox **box, struct store_user **u)
{
	store_mailbox_close(box);
	store_user_close(u);
}

struct seen {
	uint32_t uid;
	unsigned flags;
	uint64_t disk, crlf;
};

static size_t
messages(struct store_mailbox *box, struct seen *v, size_t max)
{
	struct store_iter *it;
	const struct store_message *m;
	const char *error = NULL;
	size_t n = 0;

	assert_int_equal(store_iter_init(box, 1, UINT32_MAX, 0, &it, &error), 0);
	while (store_iter_next(it, &m, &error) == 1)
		if (n < max) {
			v[n].uid = m->uid;
			v[n].flags = m->flags;
			v[n].disk = m->disk_size;
			v[n].crlf = m->crlf_size;
			n++;
		}
	store_iter_free(&it);
	return n;
}

static void
test_pickup_by_hand(void **state)
{
	struct fixture *f = *state;
	char path[512];
	struct store_user *u;
	struct seen v[8];

	deliver_one(f->store, A, "Subject: first\n\n1\n");
	/* Dropped in by procmail, by a Dovecot migration, by hand. */
	user_path(f, "new/1600000001.P1Q1.other", path, sizeof(path));
	write_file(path, "Subject: procmail\n\nno sizes\n");
	user_path(f, "cur/1600000002.M1P2.dovecot,S=6,W=8:2,SF", path, sizeof(path));
	write_file(path, "a\nbb\n\n"); /* wrong: real sizes are 6 and 9, W= is not trusted */
	user_path(f, "cur/1600000003.M1P3.dovecot,S=5,W=7:2,RT", path, sizeof(path));
	write_file(path, "ab\nc\n");
	user_path(f, "cur/1600000004.M1P4.dovecot,S=99,W=120:2,", path, sizeof(path));
	write_file(path, "S= is a lie\n");
	user_path(f, "new/.dotfile", path, sizeof(path));
	write_file(path, "ignored\n");

	struct store_mailbox *box = open_box(f, &u, "INBOX", true);
	size_t n = messages(box, v, 8);
	assert_int_equal(n, 5);
	assert_int_equal(v[0].uid, 1);
	/* The picked-up files, in name order, get 2..5. */
	assert_int_equal(v[1].uid, 2);
	assert_int_equal(v[1].disk, strlen("Subject: procmail\n\nno sizes\n"));
	assert_int_equal(v[1].crlf, v[1].disk + 3);
	assert_int_equal(v[1].flags, 0);
	assert_int_equal(v[2].flags, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
	assert_int_equal(v[2].disk, 6);
	assert_int_equal(v[2].crlf, 8); /* S= matched, so W= was taken */
	assert_int_equal(v[3].flags, STORE_FLAG_ANSWERED | STORE_FLAG_DELETED);
	assert_int_equal(v[3].crlf, 7);
	assert_int_equal(v[4].disk, strlen("S= is a lie\n"));
	assert_int_equal(v[4].crlf, v[4].disk + 1);
	/* CRLF streaming of a measured file gives exactly its size. */
	struct store_content c;
	const char *error = NULL;
	struct buf out;
	assert_int_equal(store_message_open(box, 2, &c, &error), 0);
	buf_init(&out, BUF_UNLIMITED);
	assert_int_equal(store_content_to_buf(&c, &out, &error), 0);
	assert_int_equal(out.len, v[1].crlf);
	buf_release(&out);
	close(c.fd);
	close_box(&box, &u);

	/* Once only: opening again adds nothing, and a delivery goes on. */
	box = open_box(f, &u, "INBOX", false);
	assert_int_equal(messages(box, v, 8), 5);
	close_box(&box, &u);
	assert_int_equal(deliver_one(f->store, A, "Subject: next\n\n6\n"), 6);

	/* A file dropped into new/ is not looked for by deliveries (that
	 * would make each delivery cost grow with the mailbox): the next open
	 * picks it up, after the delivered message. */
	user_path(f, "new/1600000009.P9Q9.other", path, sizeof(path));
	write_file(path, "Subject: late\n\n\n");
	assert_int_equal(deliver_one(f->store, A, "Subject: after\n\n8\n"), 7);
	box = open_box(f, &u, "INBOX", true);
	n = messages(box, v, 8);
	assert_int_equal(n, 8);
	assert_int_equal(v[6].uid, 7);
	assert_int_equal(v[6].disk, strlen("Subject: after\n\n8\n"));
	assert_int_equal(v[7].uid, 8);
	assert_int_equal(v[7].disk, strlen("Subject: late\n\n\n"));
	close_box(&box, &u);
}

static void
test_foreign_changes(void **state)
{
	struct fixture *f = *state;
	char path[512], name[300], from[900], to[1000];
	struct store_user *u;
	struct seen v[4];
	const char *error = NULL;

	deliver_one(f->store, A, "Subject: a\n\n1\n");
	deliver_one(f->store, A, "Subject: b\n\n2\n");
	struct store_mailbox *box = open_box(f, &u, "INBOX", false); /* moves to cur/ */
	struct store_status_info st;
	store_mailbox_status(box, &st);
	uint64_t hms = st.highestmodseq;

	/* mutt marks one seen, and deletes the other. */
	user_path(f, "cur", path, sizeof(path));
	DIR *d = opendir(path);
	struct dirent *e;
	int k = 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		assert_int_equal(str_copy(name, sizeof(name), e->d_name), 0);
		snprintf(from, sizeof(from), "%s/%s", path, name);
		if (strstr(name, ",S=14,") != NULL && k++ == 0) {
			assert_non_null(strstr(name, ":2,"));
			snprintf(to, sizeof(to), "%sS", from);
			assert_int_equal(rename(from, to), 0);
		} else {
			assert_int_equal(unlink(from), 0);
		}
	}
	closedir(d);
	/* The directory mtimes may not have moved within this tick: the
	 * sync must not trust a too recent scan. */
	assert_int_equal(store_mailbox_sync(box, &error), 0);
	assert_int_equal(messages(box, v, 4), 1);
	assert_int_equal(v[0].flags, STORE_FLAG_SEEN);
	store_mailbox_status(box, &st);
	assert_true(st.highestmodseq > hms);
	uint32_t *gone;
	size_t ngone;
	assert_int_equal(store_expunged_since(box, hms, &gone, &ngone, &error), 0);
	assert_int_equal(ngone, 1);
	free(gone);
	close_box(&box, &u);
}

/* store_mailbox_refresh: postern's own changes at once (they are in the
 * index), another program's files within STORE_REFRESH_SCAN_MS. */
static void
test_refresh_rate_limited(void **state)
{
	struct fixture *f = *state;
	char path[512];
	struct store_user *u;
	struct seen v[4];
	const char *error = NULL;

	deliver_one(f->store, A, "Subject: a\n\n1\n");
	struct store_mailbox *box = open_box(f, &u, "INBOX", false);
	assert_int_equal(messages(box, v, 4), 1);
	/* A first refresh may scan (the open's scan found recent mtimes)... */
	assert_int_equal(store_mailbox_refresh(box, &error), 0);
	/* ...then a file dropped by hand is not looked for at once, */
	user_path(f, "new/1600000009.P9Q9.other", path, sizeof(path));
	write_file(path, "Subject: by hand\n\n\n");
	assert_int_equal(store_mailbox_refresh(box, &error), 0);
	assert_int_equal(messages(box, v, 4), 1);
	/* while a delivery is seen at once, */
	assert_int_equal(deliver_one(f->store, A, "Subject: b\n\n2\n"), 2);
	assert_int_equal(store_mailbox_refresh(box, &error), 0);
	assert_int_equal(messages(box, v, 4), 2);
	/* and the file after the interval (or by store_mailbox_sync). */
	usleep((STORE_REFRESH_SCAN_MS + 100) * 1000);
	assert_int_equal(store_mailbox_refresh(box, &error), 0);
	assert_int_equal(messages(box, v, 4), 3);
	close_box(&box, &u);
}

/* --- crashes --- */

static const char *crash_point;

static void
crash_hook(const char *point)
{
	if (strcmp(point, crash_point) == 0)
		_exit(0);
}

/* Deliver in a child that dies at point. */
static void
deliver_and_crash(struct fixture *f, const char *point, const char *text)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *store;
		const char *error;
		if (store_open(f->dir, "mx.example.org", &store, &error) < 0)
			_exit(2);
		crash_point = point;
		store_test_hook = crash_hook;
		struct store_spool *spool = spool_text(store, text);
		struct store_rcpt r = {.address = A};
		struct store_result res;
		(void)store_deliver(spool, &r, 1, &res);
		_exit(3); /* the hook did not fire */
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_crash_after_link(void **state)
{
	struct fixture *f = *state;
	static const char *const points[] = {"linked", "synced"};
	char path[512];
	struct store_user *u;
	struct seen v[8];

	deliver_one(f->store, A, "Subject: before\n\n\n");
	for (size_t i = 0; i < N_ELEMENTS(points); i++) {
		deliver_and_crash(f, points[i], "Subject: crashed\n\n\n");
		/* A complete file in new/ that the index does not know, and
		 * a stale spool in tmp/. */
		user_path(f, "new", path, sizeof(path));
		assert_int_equal(count_files(path, ""), 2 + (int)i);
		assert_int_equal(count_files(f->dir, "tmp"), 1 + (int)i);
	}
	/* Opening picks both up, once. */
	struct store_mailbox *box = open_box(f, &u, "INBOX", true);
	assert_int_equal(messages(box, v, 8), 3);
	assert_int_equal(v[1].uid, 2);
	assert_int_equal(v[2].uid, 3);
	assert_int_equal(v[1].disk, strlen("Subject: crashed\n\n\n"));
	close_box(&box, &u);
	box = open_box(f, &u, "INBOX", true);
	assert_int_equal(messages(box, v, 8), 3);
	close_box(&box, &u);
	assert_int_equal(deliver_one(f->store, A, "Subject: after\n\n\n"), 4);
	/* The stale spools go with the cleanup. */
	assert_int_equal(store_cleanup_spool(f->store, -1, NULL), 2);
}

static void
put_file(const char *dir, const char *name, time_t age)
{
	char path[768];

	assert_true(snprintf(path, sizeof(path), "%s/%s", dir, name) < (int)sizeof(path));
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	struct timespec t[2] = {{.tv_sec = time(NULL) - age}, {.tv_sec = time(NULL) - age}};
	assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
}

/* What an interrupted copy into a mailbox leaves in its tmp/ goes at the
 * next read-write open: at once when its writer (pid and host in the name)
 * is gone, after 36 hours when the name is another program's. */
static void
test_tmp_leftovers(void **state)
{
	struct fixture *f = *state;
	char tmp[512], name[256];
	struct store_user *u;

	deliver_one(f->store, A, "Subject: x\n\n\n");
	pid_t child = fork();
	if (child == 0)
		_exit(0);
	assert_int_equal(waitpid(child, NULL, 0), child);
	user_path(f, "tmp", tmp, sizeof(tmp));
	snprintf(name, sizeof(name), "%ld.M1P%ldQ1.%s", (long)time(NULL), (long)child,
		 f->store->host);
	put_file(tmp, name, 0); /* writer gone */
	snprintf(name, sizeof(name), "%ld.M1P%ldQ2.%s", (long)time(NULL), (long)getpid(),
		 f->store->host);
	put_file(tmp, name, 0);			    /* writer alive */
	put_file(tmp, "1.procmail.other-host", 60); /* in progress */
	put_file(tmp, "2.procmail.other-host", STORE_MAILDIR_TMP_STALE_SECS + 60); /* stale */
	assert_int_equal(count_files(tmp, ""), 4);

	struct store_mailbox *box = open_box(f, &u, "INBOX", true);
	close_box(&box, &u);
	assert_int_equal(count_files(tmp, ""), 4); /* read-only: untouched */
	box = open_box(f, &u, "INBOX", false);
	close_box(&box, &u);
	assert_int_equal(count_files(tmp, ""), 2);
	assert_true(access(tmp, F_OK) == 0);
	char path[768];
	snprintf(path, sizeof(path), "%s/1.procmail.other-host", tmp);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	assert_int_equal(access(path, F_OK), 0);
}

static void
test_crash_picked_up_after_delivery(void **state)
{
	struct fixture *f = *state;
	struct store_user *u;
	struct seen v[8];

	deliver_one(f->store, A, "Subject: before\n\n\n");
	deliver_and_crash(f, "synced", "Subject: crashed\n\n\n");
	/* The next delivery goes on without looking; the next open finds
	 * the leftover, exactly once. */
	assert_int_equal(deliver_one(f->store, A, "Subject: after\n\n\n"), 2);
	struct store_mailbox *box = open_box(f, &u, "INBOX", true);
	assert_int_equal(messages(box, v, 8), 3);
	assert_int_equal(v[1].disk, strlen("Subject: after\n\n\n"));
	assert_int_equal(v[2].disk, strlen("Subject: crashed\n\n\n"));
	close_box(&box, &u);
	box = open_box(f, &u, "INBOX", true);
	assert_int_equal(messages(box, v, 8), 3);
	close_box(&box, &u);
}

static void
test_crash_after_commit(void **state)
{
	struct fixture *f = *state;
	struct store_user *u;
	struct seen v[8];

	deliver_and_crash(f, "committed", "Subject: done\n\n\n");
	struct store_mailbox *box = open_box(f, &u, "INBOX", true);
	assert_int_equal(messages(box, v, 8), 1);
	close_box(&box, &u);
	assert_int_equal(count_files(f->dir, "tmp"), 1);
}

/* --- reindex --- */

/* A folder made by another program, with a message in it. */
static int
store_mailbox_create_test_folder(struct fixture *f)
{
	char path[512];

	user_path(f, ".Projects", path, sizeof(path));
	if (mkdir(path, 0700) < 0)
		return -1;
	user_path(f, ".Projects/cur", path, sizeof(path));
	if (mkdir(path, 0700) < 0)
		return -1;
	user_path(f, ".Projects/cur/1600000000.P5Q5.x:2,S", path, sizeof(path));
	write_file(path, "Subject: p\n\n\n");
	return 0;
}

static void
d_has_broken(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	bool found = false;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, "index.db.broken-", 16) == 0)
			found = true;
	closedir(d);
	assert_true(found);
}

static void
test_reindex_keeps_uids(void **state)
{
	struct fixture *f = *state;
	char path[512];
	struct store_user *u;
	struct seen v[8];
	struct store_reindex_report rep;
	const char *error = NULL;

	for (int i = 0; i < 4; i++)
		deliver_one(f->store, A, "Subject: m\n\nbody\n");
	struct store_mailbox *box = open_box(f, &u, "INBOX", false);
	uint32_t two = 2, three = 3;
	assert_int_equal(store_flags_update(box, &two, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN,
					    "$Important", 0, NULL, NULL, &error),
			 1);
	assert_int_equal(store_expunge(box, &three, 1, NULL, NULL, &error), 1);
	struct store_status_info before;
	store_mailbox_status(box, &before);
	close_box(&box, &u);
	assert_int_equal(store_mailbox_create_test_folder(f), 0);

	user_path(f, "cur/1600000000.P1Q1.old", path, sizeof(path));
	write_file(path, "Subject: old\n\n\n");
	assert_int_equal(store_reindex(f->store, A, false, &rep, &error), 0);
	assert_false(rep.from_scratch);
	assert_int_equal(rep.kept, 3);
	assert_int_equal(rep.added, 2); /* one in INBOX, one in the adopted folder */
	assert_int_equal(rep.removed, 0);
	assert_int_equal(rep.mailboxes, 7);
	box = open_box(f, &u, "INBOX", true);
	struct store_status_info after;
	store_mailbox_status(box, &after);
	assert_int_equal(after.uidvalidity, before.uidvalidity);
	size_t n = messages(box, v, 8);
	assert_int_equal(n, 4);
	assert_int_equal(v[0].uid, 1);
	assert_int_equal(v[1].uid, 2);
	assert_int_equal(v[1].flags, STORE_FLAG_SEEN);
	assert_int_equal(v[2].uid, 4);
	assert_int_equal(v[3].uid, 5); /* the new file: after UIDNEXT, not in a gap */
	close_box(&box, &u);

	/* From scratch: a new UIDVALIDITY, UIDs from 1 in name order. */
	assert_int_equal(store_reindex(f->store, A, true, &rep, &error), 0);
	assert_true(rep.from_scratch);
	box = open_box(f, &u, "INBOX", true);
	store_mailbox_status(box, &after);
	assert_true(after.uidvalidity > before.uidvalidity);
	n = messages(box, v, 8);
	assert_int_equal(n, 4);
	assert_int_equal(v[0].uid, 1);
	assert_int_equal(v[3].uid, 4);
	close_box(&box, &u);
	struct store_user *uu;
	struct store_mailbox_info info;
	assert_int_equal(store_user_open(f->store, A, false, &uu, &error), 0);
	assert_int_equal(store_mailbox_info(uu, "Sent", &info, &error), 0);
	assert_int_equal(info.special, STORE_SPECIAL_SENT);
	store_mailbox_info_release(&info);
	assert_int_equal(store_mailbox_info(uu, "Projects", &info, &error), 0);
	store_mailbox_info_release(&info);
	store_user_close(&uu);

	/* A broken index: moved aside, rebuilt, UIDVALIDITY still new. */
	uint32_t last = after.uidvalidity;
	user_path(f, "index.db", path, sizeof(path));
	write_file(path, "this is not an SQLite database, not even close to one......."
			 "................................................................");
	char wal[600];
	snprintf(wal, sizeof(wal), "%s-wal", path);
	unlink(wal);
	assert_int_equal(store_reindex(f->store, A, false, &rep, &error), 0);
	assert_true(rep.from_scratch);
	box = open_box(f, &u, "INBOX", true);
	store_mailbox_status(box, &after);
	assert_true(after.uidvalidity > last);
	assert_int_equal(messages(box, v, 8), 4);
	close_box(&box, &u);
	user_path(f, "", path, sizeof(path));
	d_has_broken(path);

	assert_int_equal(store_reindex(f->store, "nobody@example.org", false, &rep, &error), -1);
	assert_int_equal(store_reindex(f->store, "../x@example.org", false, &rep, &error), -1);
}

/* Several processes deliver to one user while another keeps opening the
 * mailbox read-write (moving new/ to cur/, picking up whatever it finds):
 * every message gets exactly one UID. */
static void
test_concurrent(void **state)
{
	struct fixture *f = *state;
	enum { CHILDREN = 4, EACH = 25 };
	pid_t pids[CHILDREN];
	struct store_user *u;
	struct seen v[CHILDREN * EACH + 1];
	char path[512];

	deliver_one(f->store, A, "Subject: first\n\n\n");
	for (int c = 0; c < CHILDREN; c++) {
		pids[c] = fork();
		assert_true(pids[c] >= 0);
		if (pids[c] == 0) {
			struct store *store;
			const char *error;
			if (store_open(f->dir, "mx.example.org", &store, &error) < 0)
				_exit(2);
			for (int i = 1; i < EACH; i++) {
				struct store_spool *spool =
				    spool_text(store, "Subject: c\n\nbody\n");
				struct store_rcpt r = {.address = A};
				struct store_result res;
				if (store_deliver(spool, &r, 1, &res) != 1)
					_exit(3);
				store_spool_free(&spool);
			}
			store_close(&store);
			_exit(0);
		}
	}
	for (int k = 0; k < 30; k++) {
		struct store_mailbox *box = open_box(f, &u, "INBOX", false);
		close_box(&box, &u);
	}
	for (int c = 0; c < CHILDREN; c++) {
		int status;
		assert_int_equal(waitpid(pids[c], &status, 0), pids[c]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	struct store_mailbox *box = open_box(f, &u, "INBOX", false);
	size_t n = messages(box, v, N_ELEMENTS(v));
	size_t expect = 1 + CHILDREN * (EACH - 1);
	assert_int_equal(n, expect);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(v[i].uid, i + 1);
	close_box(&box, &u);
	user_path(f, "cur", path, sizeof(path));
	assert_int_equal(count_files(path, ""), (int)expect);
}

static void
test_broken_index_rebuilt_on_delivery(void **state)
{
	struct fixture *f = *state;
	char path[512], wal[600];
	struct store_user *u;
	struct seen v[8];

	deliver_one(f->store, A, "Subject: 1\n\n\n");
	deliver_one(f->store, A, "Subject: 2\n\n\n");
	store_cache_trim(f->store, -1);
	user_path(f, "index.db", path, sizeof(path));
	snprintf(wal, sizeof(wal), "%s-wal", path);
	unlink(wal);
	write_file(path, "garbage garbage garbage garbage garbage garbage garbage garbage garbage"
			 " garbage garbage garbage garbage garbage garbage garbage garbage");
	/* Delivery still works, into a new index (new UIDVALIDITY); the old
	 * files are picked up when the mailbox is next opened. */
	assert_int_equal(deliver_one(f->store, A, "Subject: 3\n\n\n"), 1);
	struct store_mailbox *box = open_box(f, &u, "INBOX", true);
	assert_int_equal(messages(box, v, 8), 3);
	assert_int_equal(v[0].disk, strlen("Subject: 3\n\n\n"));
	close_box(&box, &u);
	user_path(f, "", path, sizeof(path));
	d_has_broken(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_pickup_by_hand, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_foreign_changes, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_refresh_rate_limited, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_crash_after_link, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_tmp_leftovers, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_crash_picked_up_after_delivery, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_crash_after_commit, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_reindex_keeps_uids, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_broken_index_rebuilt_on_delivery, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent, fixture_setup, fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
