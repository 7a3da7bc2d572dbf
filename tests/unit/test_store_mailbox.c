/* test_store_mailbox.c - the read API: mailboxes, select, iteration,
 * content as CRLF, flags and expunge with MODSEQ, change counters. */
#include "lib/common.h"

#include "store_test.h"

#include <event2/buffer.h>
#include <sqlite3.h>

static const char *const A = "ivy@example.org";

static struct store_user *
open_user(struct fixture *f)
{
	struct store_user *u;
	const char *error = NULL;

	if (store_user_open(f->store, A, true, &u, &error) < 0)
		fail_msg("user_open: %s", error);
	return u;
}

/* ivy's index, opened behind the store's back. */
static sqlite3 *
index_open(struct fixture *f)
{
	char path[512];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/mail/example.org/ivy/index.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static void
index_exec(struct fixture *f, const char *sql)
{
	sqlite3 *db = index_open(f);

	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static bool
has_mailbox(struct store_user *u, const char *name, bool *children)
{
	struct store_mailbox_info *list;
	size_t n;
	const char *error = NULL;
	bool found = false;

	assert_true(store_mailbox_list(u, &list, &n, &error) >= 0);
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i].name, name) == 0) {
			found = true;
			if (children != NULL)
				*children = list[i].has_children;
		}
	store_mailbox_list_free(&list, n);
	return found;
}

static void
test_mailbox_admin(void **state)
{
	struct fixture *f = *state;
	struct store_user *u = open_user(f);
	const char *error = NULL;
	char path[512];
	bool children;

	assert_int_equal(store_mailbox_create(u, "Work", STORE_SPECIAL_NONE, &error), 0);
	assert_int_equal(store_mailbox_create(u, "Work.Projects", STORE_SPECIAL_NONE, &error), 0);
	assert_int_equal(store_mailbox_create(u, "Entw\xc3\xbcrfe", STORE_SPECIAL_NONE, &error), 0);
	assert_int_equal(store_mailbox_create(u, "Work", STORE_SPECIAL_NONE, &error), -1);
	assert_int_equal(errno, EEXIST);
	snprintf(path, sizeof(path), "%s/mail/example.org/ivy/.Entw&APw-rfe/cur", f->dir);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_true(has_mailbox(u, "Work", &children));
	assert_true(children);
	assert_true(has_mailbox(u, "Work.Projects", &children));
	assert_false(children);

	/* Unsafe names are refused before touching the disk. */
	static const char *const bad[] = {"..", "../x", "a/b", ".hidden", "a..b", "x%"};
	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		assert_int_equal(store_mailbox_create(u, bad[i], STORE_SPECIAL_NONE, &error), -1);
		assert_int_equal(errno, EINVAL);
	}
	assert_int_equal(store_mailbox_delete(u, "INBOX", &error), -1);
	assert_int_equal(store_mailbox_delete(u, "inbox", &error), -1);

	/* Rename moves the children and keeps UIDVALIDITY. */
	struct store_mailbox_info before, after;
	assert_int_equal(store_mailbox_info(u, "Work.Projects", &before, &error), 0);
	assert_int_equal(store_mailbox_rename(u, "Work", "Job", &error), 0);
	assert_false(has_mailbox(u, "Work", NULL));
	assert_true(has_mailbox(u, "Job", NULL));
	assert_int_equal(store_mailbox_info(u, "Job.Projects", &after, &error), 0);
	assert_int_equal(before.uidvalidity, after.uidvalidity);
	store_mailbox_info_release(&before);
	store_mailbox_info_release(&after);
	snprintf(path, sizeof(path), "%s/mail/example.org/ivy/.Job.Projects/new", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(store_mailbox_rename(u, "Job", "Sent", &error), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(store_mailbox_rename(u, "Job", "Job.Sub", &error), -1);

	/* Delete, then create again: a new UIDVALIDITY. */
	assert_int_equal(store_mailbox_info(u, "Job", &before, &error), 0);
	assert_int_equal(store_mailbox_delete(u, "Job", &error), 0);
	assert_false(has_mailbox(u, "Job", NULL));
	assert_true(has_mailbox(u, "Job.Projects", NULL));
	assert_int_equal(store_mailbox_create(u, "Job", STORE_SPECIAL_NONE, &error), 0);
	assert_int_equal(store_mailbox_info(u, "Job", &after, &error), 0);
	assert_true(after.uidvalidity > before.uidvalidity);
	store_mailbox_info_release(&before);
	store_mailbox_info_release(&after);

	/* Subscriptions and special-use. */
	assert_int_equal(store_mailbox_subscribe(u, "Job", false, &error), 0);
	assert_int_equal(store_mailbox_set_special(u, "Job", STORE_SPECIAL_ARCHIVE, &error), 0);
	assert_int_equal(store_mailbox_info(u, "Job", &after, &error), 0);
	assert_false(after.subscribed);
	assert_int_equal(after.special, STORE_SPECIAL_ARCHIVE);
	store_mailbox_info_release(&after);
	assert_int_equal(store_mailbox_subscribe(u, "Nope", true, &error), -1);
	assert_int_equal(errno, ENOENT);

	/* A folder made by another program is adopted; one removed behind
	 * our back is dropped. */
	snprintf(path, sizeof(path), "%s/mail/example.org/ivy/.Procmail", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/mail/example.org/ivy/.Job.Projects", f->dir);
	rm_rf(path);
	assert_true(has_mailbox(u, "Procmail", NULL));
	assert_false(has_mailbox(u, "Job.Projects", NULL));
	store_user_close(&u);
}

static void
test_rename_inbox(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;

	deliver_one(f->store, A, "Subject: 1\n\none\n");
	deliver_one(f->store, A, "Subject: 2\n\ntwo\n");
	struct store_user *u = open_user(f);
	assert_int_equal(store_mailbox_rename(u, "INBOX", "Old", &error), 0);
	struct store_mailbox *box;
	struct store_status_info st;
	uint32_t uids[4];
	assert_int_equal(store_mailbox_open(u, "Old", false, &box, &error), 0);
	store_mailbox_status(box, &st);
	assert_int_equal(st.messages, 2);
	assert_int_equal(list_uids(box, uids, 4), 2);
	assert_int_equal(uids[0], 1);
	assert_int_equal(uids[1], 2);
	store_mailbox_close(&box);
	assert_int_equal(store_mailbox_open(u, "INBOX", false, &box, &error), 0);
	store_mailbox_status(box, &st);
	assert_int_equal(st.messages, 0);
	assert_int_equal(st.uidnext, 3);
	uint32_t *gone;
	size_t ngone;
	assert_int_equal(store_expunged_since(box, 1, &gone, &ngone, &error), 0);
	assert_int_equal(ngone, 2);
	free(gone);
	store_mailbox_close(&box);
	store_user_close(&u);
	/* INBOX goes on from UID 3. */
	assert_int_equal(deliver_one(f->store, A, "Subject: 3\n\nthree\n"), 3);
}

static void
check_crlf(struct store_mailbox *box, uint32_t uid, const char *expect)
{
	struct store_content c;
	const char *error = NULL;
	struct buf out;

	assert_int_equal(store_message_open(box, uid, &c, &error), 0);
	assert_int_equal(c.crlf_size, strlen(expect));
	buf_init(&out, BUF_UNLIMITED);
	assert_int_equal(store_content_to_buf(&c, &out, &error), 0);
	assert_int_equal(out.len, c.crlf_size);
	assert_memory_equal(out.data, expect, out.len);
	/* A cap too small: refused, nothing added. */
	struct buf small;
	buf_init(&small, c.crlf_size - 1);
	assert_int_equal(store_content_to_buf(&c, &small, &error), -1);
	assert_int_equal(small.len, 0);
	buf_release(&small);
	struct evbuffer *ev = evbuffer_new();
	assert_int_equal(store_content_to_evbuffer(&c, ev, &error), 0);
	assert_int_equal(evbuffer_get_length(ev), c.crlf_size);
	assert_memory_equal(evbuffer_pullup(ev, -1), expect, c.crlf_size);
	evbuffer_free(ev);
	close(c.fd);
	buf_release(&out);
}

static void
test_content_crlf(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;

	uint32_t u1 = deliver_one(f->store, A, "Subject: x\n\nline\n\nend\n");
	/* Already CRLF in places, a bare CR, no final newline. */
	uint32_t u2 = deliver_one(f->store, A, "A: b\r\n\nc\rd\ne");
	struct store_user *u = open_user(f);
	struct store_mailbox *box;
	assert_int_equal(store_mailbox_open(u, "INBOX", true, &box, &error), 0);
	check_crlf(box, u1, "Subject: x\r\n\r\nline\r\n\r\nend\r\n");
	check_crlf(box, u2, "A: b\r\n\r\nc\rd\r\ne");

	/* RFC822.SIZE from the iterator is the W= size. */
	struct store_iter *it;
	const struct store_message *m;
	assert_int_equal(store_iter_init(box, u1, u1, 0, &it, &error), 0);
	assert_int_equal(store_iter_next(it, &m, &error), 1);
	assert_int_equal(m->crlf_size, strlen("Subject: x\r\n\r\nline\r\n\r\nend\r\n"));
	assert_int_equal(m->disk_size, strlen("Subject: x\n\nline\n\nend\n"));
	assert_null(m->cache);
	assert_int_equal(store_iter_next(it, &m, &error), 0);
	store_iter_free(&it);
	assert_int_equal(store_message_set_cache(box, u1, "(ENVELOPE)", &error), 0);
	assert_int_equal(store_iter_init(box, u1, u1, 0, &it, &error), 0);
	assert_int_equal(store_iter_next(it, &m, &error), 1);
	assert_string_equal(m->cache, "(ENVELOPE)");
	store_iter_free(&it);

	/* A file that no longer matches its size is reported, not sent. */
	struct store_content c;
	assert_int_equal(store_message_open(box, u1, &c, &error), 0);
	c.crlf_size--;
	struct buf out;
	buf_init(&out, BUF_UNLIMITED);
	assert_int_equal(store_content_to_buf(&c, &out, &error), -1);
	assert_int_equal(out.len, 0);
	buf_release(&out);
	close(c.fd);
	assert_int_equal(store_message_open(box, 99, &c, &error), -1);
	assert_int_equal(errno, ENOENT);
	store_mailbox_close(&box);
	store_user_close(&u);
}

static uint64_t
modseq_of(struct store_mailbox *box, uint32_t uid, unsigned *flags, char *kw, size_t kwsize)
{
	struct store_iter *it;
	const struct store_message *m;
	const char *error = NULL;

	assert_int_equal(store_iter_init(box, uid, uid, 0, &it, &error), 0);
	assert_int_equal(store_iter_next(it, &m, &error), 1);
	uint64_t modseq = m->modseq;
	if (flags != NULL)
		*flags = m->flags;
	if (kw != NULL)
		assert_int_equal(str_copy(kw, kwsize, m->keywords), 0);
	store_iter_free(&it);
	return modseq;
}

static void
test_flags_and_expunge(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	char path[512], name[300], kw[256];
	unsigned flags;

	for (int i = 0; i < 3; i++)
		deliver_one(f->store, A, "Subject: x\n\nbody\n");
	struct store_user *u = open_user(f);
	struct store_mailbox *box, *other;
	struct store_status_info st;
	uint64_t changes0, changes1;
	assert_int_equal(store_user_changes(u, &changes0, &error), 0);
	assert_int_equal(store_mailbox_open(u, "INBOX", false, &box, &error), 0);
	/* A read-write open moved new/ to cur/. */
	snprintf(path, sizeof(path), "%s/mail/example.org/ivy", f->dir);
	assert_int_equal(count_files(path, "new"), 0);
	assert_int_equal(count_files(path, "cur"), 3);
	store_mailbox_status(box, &st);
	uint64_t hms = st.highestmodseq;
	assert_int_equal(st.messages, 3);

	uint32_t one = 2;
	assert_int_equal(store_flags_update(box, &one, 1, STORE_FLAGS_ADD,
					    STORE_FLAG_SEEN | STORE_FLAG_FLAGGED, "$Label1 Work", 0,
					    NULL, NULL, &error),
			 1);
	uint64_t ms = modseq_of(box, 2, &flags, kw, sizeof(kw));
	assert_true(ms > hms);
	assert_int_equal(flags, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
	assert_string_equal(kw, "$Label1 Work");
	/* The file name carries the flags. */
	snprintf(path, sizeof(path), "%s/mail/example.org/ivy/cur", f->dir);
	DIR *d = opendir(path);
	struct dirent *e;
	int flagged = 0;
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, ":2,FS") != NULL)
			flagged++;
	closedir(d);
	assert_int_equal(flagged, 1);
	/* No change, no new MODSEQ. */
	assert_int_equal(store_flags_update(box, &one, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, "work",
					    0, NULL, NULL, &error),
			 0);
	assert_int_equal(modseq_of(box, 2, NULL, NULL, 0), ms);
	/* Remove a keyword (case-insensitive) and a flag. */
	assert_int_equal(store_flags_update(box, &one, 1, STORE_FLAGS_REMOVE, STORE_FLAG_FLAGGED,
					    "WORK", 0, NULL, NULL, &error),
			 1);
	uint64_t ms2 = modseq_of(box, 2, &flags, kw, sizeof(kw));
	assert_true(ms2 > ms);
	assert_int_equal(flags, STORE_FLAG_SEEN);
	assert_string_equal(kw, "$Label1");
	/* CONDSTORE: UNCHANGEDSINCE below the message's MODSEQ. */
	uint32_t both[2] = {1, 2};
	uint32_t *modified;
	size_t nmod;
	assert_int_equal(store_flags_update(box, both, 2, STORE_FLAGS_SET, STORE_FLAG_ANSWERED,
					    NULL, ms, &modified, &nmod, &error),
			 1);
	assert_int_equal(nmod, 1);
	assert_int_equal(modified[0], 2);
	free(modified);
	assert_int_equal(
	    store_flags_update(box, &one, 1, STORE_FLAGS_ADD, 0, "bad(kw", 0, NULL, NULL, &error),
	    -1);

	/* Another session sees the changes through the counters. */
	assert_int_equal(store_user_changes(u, &changes1, &error), 0);
	assert_true(changes1 > changes0);
	struct store_user *u2 = open_user(f);
	assert_int_equal(store_mailbox_open(u2, "INBOX", true, &other, &error), 0);
	struct store_status_info st2;
	store_mailbox_status(other, &st2);
	assert_int_equal(store_flags_update(other, &one, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL,
					    0, NULL, NULL, &error),
			 -1); /* read-only */
	assert_int_equal(errno, EROFS);

	/* Expunge \Deleted: files unlinked, rows gone, MODSEQ bumped,
	 * remembered for the other session. */
	uint32_t three = 3;
	assert_int_equal(store_flags_update(box, &three, 1, STORE_FLAGS_ADD, STORE_FLAG_DELETED,
					    NULL, 0, NULL, NULL, &error),
			 1);
	uint32_t *gone;
	size_t ngone;
	assert_int_equal(store_expunge(box, NULL, 0, &gone, &ngone, &error), 1);
	assert_int_equal(ngone, 1);
	assert_int_equal(gone[0], 3);
	free(gone);
	snprintf(path, sizeof(path), "%s/mail/example.org/ivy", f->dir);
	assert_int_equal(count_files(path, "cur"), 2);
	store_mailbox_status(box, &st);
	assert_int_equal(store_mailbox_sync(box, &error), 0);
	store_mailbox_status(box, &st);
	assert_int_equal(st.messages, 2);
	assert_true(st.highestmodseq > ms2);
	assert_int_equal(store_mailbox_sync(other, &error), 0);
	struct store_status_info st3;
	store_mailbox_status(other, &st3);
	assert_true(st3.highestmodseq > st2.highestmodseq);
	assert_int_equal(store_expunged_since(other, st2.highestmodseq, &gone, &ngone, &error), 0);
	assert_int_equal(ngone, 1);
	assert_int_equal(gone[0], 3);
	free(gone);
	/* Changed since: the CONDSTORE view. */
	struct store_iter *it;
	const struct store_message *m;
	assert_int_equal(store_iter_init(other, 1, UINT32_MAX, st2.highestmodseq, &it, &error), 0);
	assert_int_equal(store_iter_next(it, &m, &error), 0);
	store_iter_free(&it);
	assert_int_equal(store_iter_init(other, 1, UINT32_MAX, ms, &it, &error), 0);
	int n = 0;
	while (store_iter_next(it, &m, &error) == 1)
		n++;
	assert_int_equal(n, 2);
	store_iter_free(&it);
	store_mailbox_close(&other);
	store_user_close(&u2);

	/* Expunge by UID list (unsorted, with a missing one). */
	uint32_t list[3] = {2, 77, 1};
	assert_int_equal(store_expunge(box, list, 3, &gone, &ngone, &error), 2);
	assert_int_equal(gone[0], 1);
	assert_int_equal(gone[1], 2);
	free(gone);
	first_file(path, "cur", name, sizeof(name));
	assert_string_equal(name, "");
	uint64_t bytes, count;
	assert_int_equal(store_user_usage(u, &bytes, &count, &error), 0);
	assert_int_equal(bytes, 0);
	assert_int_equal(count, 0);
	store_mailbox_close(&box);
	store_user_close(&u);
}

static void
test_mailbox_limit(void **state)
{
	struct fixture *f = *state;
	struct store_user *u = open_user(f);
	const char *error = NULL;

	/* Fill the index up to the limit behind the store's back. */
	index_exec(f, "WITH RECURSIVE n(i) AS (SELECT 7 UNION ALL SELECT i + 1 FROM n"
		      " WHERE i < 10000) INSERT INTO mailboxes (name, dir, uidvalidity)"
		      " SELECT 'F' || i, '.F' || i, 1 FROM n");
	assert_int_equal(store_mailbox_create(u, "OneTooMany", STORE_SPECIAL_NONE, &error), -1);
	assert_int_equal(errno, EDQUOT);
	store_user_close(&u);
}

/* An index of schema 2 (no message count in the mailbox row) is
 * migrated with the count of the rows it has; the count then follows
 * deliveries and expunges. */
static void
test_count_migration(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;

	for (int i = 0; i < 3; i++)
		deliver_one(f->store, A, "Subject: x\n\nbody\n");
	index_exec(f, "DROP TRIGGER count_add; DROP TRIGGER count_del;"
		      " DROP TRIGGER count_move; DROP TRIGGER bytes_upd;"
		      " DROP INDEX messages_unseen; ALTER TABLE mailboxes DROP COLUMN bytes;"
		      " DROP TRIGGER keyword_add; DROP TRIGGER keyword_del;"
		      " DROP TRIGGER keyword_box_del; DROP TABLE keywords;"
		      " ALTER TABLE mailboxes DROP COLUMN keyword_count;"
		      " DROP INDEX messages_deleted;"
		      " ALTER TABLE mailboxes DROP COLUMN message_count;"
		      " PRAGMA user_version = 2;");

	struct store_user *u = open_user(f);
	struct store_mailbox *box;
	struct store_status_info st;
	assert_int_equal(store_mailbox_open(u, "INBOX", false, &box, &error), 0);
	store_mailbox_status(box, &st);
	assert_int_equal(st.messages, 3);
	uint32_t two = 2;
	assert_int_equal(store_flags_update(box, &two, 1, STORE_FLAGS_ADD, STORE_FLAG_DELETED, NULL,
					    0, NULL, NULL, &error),
			 1);
	assert_int_equal(store_expunge(box, NULL, 0, NULL, NULL, &error), 1);
	deliver_one(f->store, A, "Subject: y\n\nbody\n");
	assert_int_equal(store_mailbox_sync(box, &error), 0);
	store_mailbox_status(box, &st);
	assert_int_equal(st.messages, 3);
	assert_int_equal(st.uidnext, 5);
	store_mailbox_close(&box);
	store_user_close(&u);
}

/* STATUS's numbers (store_mailbox_info: messages, unseen, bytes) are what
 * a count of the mailbox's rows gives, after every kind of change. */
static void
assert_info_counts(struct fixture *f, struct store_user *u, const char *name)
{
	struct store_mailbox_info info;
	const char *error = NULL;
	sqlite3_stmt *st;

	assert_int_equal(store_mailbox_info(u, name, &info, &error), 0);
	sqlite3 *db = index_open(f);
	assert_int_equal(
	    sqlite3_prepare_v2(db,
			       "SELECT count(*), total(flags & 1 = 0), total(disk_size)"
			       " FROM messages JOIN mailboxes ON mailbox = mailboxes.id"
			       " WHERE mailboxes.name = ?",
			       -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(info.messages, sqlite3_column_int64(st, 0));
	assert_int_equal(info.unseen, (int64_t)sqlite3_column_double(st, 1));
	assert_int_equal(info.bytes, (int64_t)sqlite3_column_double(st, 2));
	sqlite3_finalize(st);
	sqlite3_close(db);
	store_mailbox_info_release(&info);
}

static void
test_status_counts(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	struct store_mailbox_info info;
	struct store_copy_result res;
	uint32_t uids[] = {1, 2, 3};

	deliver_one(f->store, A, "Subject: 1\n\none\n");
	deliver_one(f->store, A, "Subject: 2\n\ntwo, longer\n");
	deliver_one(f->store, A, "Subject: 3\n\nthree, longer still\n");
	struct store_user *u = open_user(f);
	assert_int_equal(store_mailbox_info(u, "INBOX", &info, &error), 0);
	assert_int_equal(info.messages, 3);
	assert_int_equal(info.unseen, 3);
	assert_true(info.bytes > 3 * 15);
	store_mailbox_info_release(&info);
	assert_info_counts(f, u, "INBOX");

	struct store_mailbox *box;
	assert_int_equal(store_mailbox_open(u, "INBOX", false, &box, &error), 0);
	assert_int_equal(store_flags_update(box, uids, 2, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0,
					    NULL, NULL, &error),
			 2);
	assert_int_equal(store_flags_update(box, uids, 1, STORE_FLAGS_REMOVE, STORE_FLAG_SEEN, NULL,
					    0, NULL, NULL, &error),
			 1);
	assert_info_counts(f, u, "INBOX");
	assert_int_equal(store_mailbox_info(u, "INBOX", &info, &error), 0);
	assert_int_equal(info.unseen, 2);
	store_mailbox_info_release(&info);

	assert_int_equal(store_mailbox_create(u, "Box", STORE_SPECIAL_NONE, &error), 0);
	assert_int_equal(store_copy(box, uids + 1, 1, "Box", true, 0, &res, &error), 0);
	store_copy_result_free(&res);
	assert_int_equal(store_copy(box, uids, 1, "Box", false, 0, &res, &error), 0);
	store_copy_result_free(&res);
	assert_info_counts(f, u, "INBOX");
	assert_info_counts(f, u, "Box");
	assert_int_equal(store_flags_update(box, uids + 2, 1, STORE_FLAGS_ADD, STORE_FLAG_DELETED,
					    NULL, 0, NULL, NULL, &error),
			 1);
	assert_int_equal(store_expunge(box, NULL, 0, NULL, NULL, &error), 1);
	assert_info_counts(f, u, "INBOX");
	store_mailbox_close(&box);

	assert_int_equal(store_mailbox_rename(u, "INBOX", "Old", &error), 0);
	assert_info_counts(f, u, "INBOX");
	assert_info_counts(f, u, "Old");
	assert_int_equal(store_mailbox_info(u, "Old", &info, &error), 0);
	assert_int_equal(info.messages, 1);
	assert_int_equal(info.unseen, 1);
	store_mailbox_info_release(&info);
	store_user_close(&u);

	/* An index of schema 4 gets the bytes of each mailbox. */
	index_exec(f, "DROP TRIGGER count_add; DROP TRIGGER count_del;"
		      " DROP TRIGGER count_move; DROP TRIGGER bytes_upd;"
		      " DROP INDEX messages_unseen; ALTER TABLE mailboxes DROP COLUMN bytes;"
		      " PRAGMA user_version = 4;");
	u = open_user(f);
	assert_info_counts(f, u, "Old");
	assert_info_counts(f, u, "Box");
	assert_int_equal(store_mailbox_info(u, "Box", &info, &error), 0);
	assert_int_equal(info.messages, 2);
	assert_true(info.bytes > 30);
	store_mailbox_info_release(&info);
	deliver_one(f->store, A, "Subject: 4\n\nfour\n");
	assert_info_counts(f, u, "INBOX");
	store_user_close(&u);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_mailbox_admin, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_rename_inbox, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_count_migration, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_mailbox_limit, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_status_counts, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_content_crlf, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_flags_and_expunge, fixture_setup,
					    fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
