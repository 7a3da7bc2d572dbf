/* store_msg_test.h - helpers of the copy and append tests: a message's
 * row and content as the store shows them, and a row slipped into the
 * index behind the store's back to make a commit fail. */
#ifndef POSTERN_STORE_MSG_TEST_H
#define POSTERN_STORE_MSG_TEST_H

#include "store_test.h"

#include <sqlite3.h>

#include "store/store_private.h"

struct snap {
	uint32_t uid;
	uint64_t modseq;
	unsigned flags;
	char keywords[256];
	time_t date;
	uint64_t disk;
	uint64_t crlf;
	char cache[256]; /* "" for NULL */
	bool has_cache;
};

/* A user's store (created when create). */
static ATTR_UNUSED struct store_user *
user_of(struct fixture *f, const char *address, bool create)
{
	struct store_user *u;
	const char *error = NULL;

	if (store_user_open(f->store, address, create, &u, &error) < 0)
		fail_msg("user_open %s: %s", address, error);
	return u;
}

/* The messages of a mailbox, in UID order; returns the count. */
static ATTR_UNUSED size_t
snaps_of(struct store_mailbox *box, struct snap *v, size_t max)
{
	struct store_iter *it;
	const struct store_message *m;
	const char *error = NULL;
	size_t n = 0;
	int r;

	assert_int_equal(store_iter_init(box, 1, UINT32_MAX, 0, &it, &error), 0);
	while ((r = store_iter_next(it, &m, &error)) == 1) {
		assert_true(n < max);
		struct snap *s = &v[n++];
		memset(s, 0, sizeof(*s));
		s->uid = m->uid;
		s->modseq = m->modseq;
		s->flags = m->flags;
		assert_int_equal(str_copy(s->keywords, sizeof(s->keywords), m->keywords), 0);
		s->date = m->internal_date;
		s->disk = m->disk_size;
		s->crlf = m->crlf_size;
		s->has_cache = m->cache != NULL;
		if (m->cache != NULL)
			assert_int_equal(str_copy(s->cache, sizeof(s->cache), m->cache), 0);
	}
	assert_int_equal(r, 0);
	store_iter_free(&it);
	return n;
}

/* The snapshot of one mailbox of a user, opened read-only. */
static ATTR_UNUSED size_t
snaps_of_name(struct store_user *u, const char *name, struct snap *v, size_t max)
{
	struct store_mailbox *box;
	const char *error = NULL;

	if (store_mailbox_open(u, name, true, &box, &error) < 0)
		fail_msg("open %s: %s", name, error);
	size_t n = snaps_of(box, v, max);
	store_mailbox_close(&box);
	return n;
}

/* The content of a message as CRLF text (free it); *ino_r its inode. */
static ATTR_UNUSED char *
content_of(struct store_mailbox *box, uint32_t uid, ino_t *ino_r)
{
	struct store_content c;
	struct stat st;
	struct buf out;
	const char *error = NULL;

	if (store_message_open(box, uid, &c, &error) < 0)
		fail_msg("open UID %u: %s", (unsigned)uid, error);
	assert_int_equal(fstat(c.fd, &st), 0);
	if (ino_r != NULL)
		*ino_r = st.st_ino;
	buf_init(&out, BUF_UNLIMITED);
	assert_int_equal(store_content_to_buf(&c, &out, &error), 0);
	close(c.fd);
	return buf_steal(&out);
}

/* Run SQL on a user's index through a connection of its own. */
static ATTR_UNUSED void
index_exec(const char *data_dir, const char *user_rel, const char *sql)
{
	char path[512];
	sqlite3 *db;
	char *msg = NULL;

	assert_true(snprintf(path, sizeof(path), "%s/%s/index.db", data_dir, user_rel) <
		    (int)sizeof(path));
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
}

/* Fault injection: at "synced", a row is slipped into mailbox
 * block_box with the UID its second new message would get, so that the
 * store's insert of that message fails and its commit with it. */
static const char *block_dir, *block_user, *block_box;

static ATTR_UNUSED void
block_hook(const char *point)
{
	char sql[512];

	if (strcmp(point, "synced") != 0)
		return;
	assert_true(
	    snprintf(sql, sizeof(sql),
		     "INSERT INTO messages (mailbox, uid, base, file, modseq,"
		     " internal_date, disk_size, crlf_size) SELECT id, uidnext + 1,"
		     " 'blocker', 'cur/blocker', 1, 0, 0, 0 FROM mailboxes WHERE name = '%s'",
		     block_box) < (int)sizeof(sql));
	index_exec(block_dir, block_user, sql);
}

/* Remove the blocking row again. */
static ATTR_UNUSED void
unblock(void)
{
	index_exec(block_dir, block_user, "DELETE FROM messages WHERE base = 'blocker'");
}

#endif
