/* index.c - a user's SQLite index: schema and migrations, cached
 * statements, transactions, UIDs and MODSEQs.
 *
 * WAL with synchronous=NORMAL: a commit writes the WAL without fsync, so an
 * OS crash or power loss may lose the last transactions, never corrupt the
 * database. That is enough because the Maildir is the truth: a message whose
 * row is lost is a file the index does not know, and the next sync gives it
 * a UID again (docs/store.md). Nothing here runs an fsync inside a write
 * transaction except SQLite's own checkpoints.
 */
#include "lib/common.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "lib/xalloc.h"
#include "store/store_private.h"

/* Schema version N is reached by running migrations[0..N-1] in order, each
 * in the same transaction that sets user_version. To change the schema, add
 * one entry: never edit a released one. */
static const char *const migrations[] = {
    /* 1: the first schema. */
    "CREATE TABLE state ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " changes INTEGER NOT NULL DEFAULT 0,"
    " usage_bytes INTEGER NOT NULL DEFAULT 0,"
    " usage_messages INTEGER NOT NULL DEFAULT 0,"
    " last_uidvalidity INTEGER NOT NULL DEFAULT 0);"
    "INSERT INTO state (id) VALUES (1);"
    "CREATE TABLE mailboxes ("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " dir TEXT NOT NULL UNIQUE,"
    " uidvalidity INTEGER NOT NULL,"
    " uidnext INTEGER NOT NULL DEFAULT 1,"
    " highestmodseq INTEGER NOT NULL DEFAULT 1,"
    " special INTEGER NOT NULL DEFAULT 0,"
    " subscribed INTEGER NOT NULL DEFAULT 0,"
    " new_mtime INTEGER NOT NULL DEFAULT 0,"
    " cur_mtime INTEGER NOT NULL DEFAULT 0,"
    " deliver_mtime INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE messages ("
    " mailbox INTEGER NOT NULL,"
    " uid INTEGER NOT NULL,"
    " base TEXT NOT NULL,"
    " file TEXT NOT NULL,"
    " flags INTEGER NOT NULL DEFAULT 0,"
    " keywords TEXT NOT NULL DEFAULT '',"
    " modseq INTEGER NOT NULL,"
    " internal_date INTEGER NOT NULL,"
    " disk_size INTEGER NOT NULL,"
    " crlf_size INTEGER NOT NULL,"
    " cache TEXT,"
    " PRIMARY KEY (mailbox, uid)) WITHOUT ROWID;"
    "CREATE UNIQUE INDEX messages_base ON messages (mailbox, base);"
    "CREATE INDEX messages_modseq ON messages (mailbox, modseq);"
    "CREATE TABLE expunged ("
    " mailbox INTEGER NOT NULL,"
    " uid INTEGER NOT NULL,"
    " modseq INTEGER NOT NULL,"
    " PRIMARY KEY (mailbox, uid)) WITHOUT ROWID;"
    "CREATE TRIGGER usage_add AFTER INSERT ON messages BEGIN"
    " UPDATE state SET usage_bytes = usage_bytes + NEW.disk_size,"
    " usage_messages = usage_messages + 1 WHERE id = 1; END;"
    "CREATE TRIGGER usage_del AFTER DELETE ON messages BEGIN"
    " UPDATE state SET usage_bytes = usage_bytes - OLD.disk_size,"
    " usage_messages = usage_messages - 1 WHERE id = 1; END;"
    "CREATE TRIGGER usage_upd AFTER UPDATE OF disk_size ON messages BEGIN"
    " UPDATE state SET usage_bytes = usage_bytes - OLD.disk_size + NEW.disk_size"
    " WHERE id = 1; END;",
    /* 2: expunges since a MODSEQ (every IMAP session asks before each
     * command) without reading the whole expunge log. */
    "CREATE INDEX expunged_modseq ON expunged (mailbox, modseq);",
    /* 3: the message count kept in the mailbox row (asked before each
     * command, was a count of every row), and the \Deleted messages
     * found without reading every row (EXPUNGE, CLOSE). */
    "ALTER TABLE mailboxes ADD COLUMN message_count INTEGER NOT NULL DEFAULT 0;"
    "UPDATE mailboxes SET message_count ="
    " (SELECT count(*) FROM messages WHERE mailbox = mailboxes.id);"
    "CREATE TRIGGER count_add AFTER INSERT ON messages BEGIN"
    " UPDATE mailboxes SET message_count = message_count + 1 WHERE id = NEW.mailbox; END;"
    "CREATE TRIGGER count_del AFTER DELETE ON messages BEGIN"
    " UPDATE mailboxes SET message_count = message_count - 1 WHERE id = OLD.mailbox; END;"
    "CREATE TRIGGER count_move AFTER UPDATE OF mailbox ON messages"
    " WHEN OLD.mailbox != NEW.mailbox BEGIN"
    " UPDATE mailboxes SET message_count = message_count - 1 WHERE id = OLD.mailbox;"
    " UPDATE mailboxes SET message_count = message_count + 1 WHERE id = NEW.mailbox; END;"
    "CREATE INDEX messages_deleted ON messages (mailbox, uid) WHERE flags & 8 != 0;",
    /* 4: the keywords each mailbox has used (its FLAGS list, capped at
     * STORE_MAILBOX_KEYWORDS_MAX; was the union of every message's
     * keywords, built at each SELECT), counted in the mailbox row. */
    "CREATE TABLE keywords ("
    " mailbox INTEGER NOT NULL,"
    " name TEXT NOT NULL COLLATE NOCASE,"
    " PRIMARY KEY (mailbox, name)) WITHOUT ROWID;"
    "ALTER TABLE mailboxes ADD COLUMN keyword_count INTEGER NOT NULL DEFAULT 0;"
    "CREATE TRIGGER keyword_add AFTER INSERT ON keywords BEGIN"
    " UPDATE mailboxes SET keyword_count = keyword_count + 1 WHERE id = NEW.mailbox; END;"
    "CREATE TRIGGER keyword_del AFTER DELETE ON keywords BEGIN"
    " UPDATE mailboxes SET keyword_count = keyword_count - 1 WHERE id = OLD.mailbox; END;"
    "CREATE TRIGGER keyword_box_del AFTER DELETE ON mailboxes BEGIN"
    " DELETE FROM keywords WHERE mailbox = OLD.id; END;"
    "WITH RECURSIVE split(mailbox, word, rest) AS ("
    " SELECT mailbox, '', keywords || ' ' FROM messages WHERE keywords != ''"
    " UNION ALL SELECT mailbox, substr(rest, 1, instr(rest, ' ') - 1),"
    " substr(rest, instr(rest, ' ') + 1) FROM split WHERE rest != '')"
    " INSERT OR IGNORE INTO keywords (mailbox, name)"
    " SELECT mailbox, word FROM split WHERE word != '';",
    /* 5: STATUS without reading every row of the mailbox: its bytes kept
     * in its row with its count (one trigger per change as before), its
     * unseen messages found by a partial index. A size change within a
     * mailbox is bytes_upd's, a move count_move's. The index holds flags so
     * that counting in it reads no row (10,000 unseen: 0.7 ms, not 7). */
    "ALTER TABLE mailboxes ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;"
    "UPDATE mailboxes SET bytes ="
    " (SELECT total(disk_size) FROM messages WHERE mailbox = mailboxes.id);"
    "DROP TRIGGER IF EXISTS count_add; DROP TRIGGER IF EXISTS count_del;"
    "DROP TRIGGER IF EXISTS count_move;"
    "CREATE TRIGGER count_add AFTER INSERT ON messages BEGIN"
    " UPDATE mailboxes SET message_count = message_count + 1, bytes = bytes + NEW.disk_size"
    " WHERE id = NEW.mailbox; END;"
    "CREATE TRIGGER count_del AFTER DELETE ON messages BEGIN"
    " UPDATE mailboxes SET message_count = message_count - 1, bytes = bytes - OLD.disk_size"
    " WHERE id = OLD.mailbox; END;"
    "CREATE TRIGGER count_move AFTER UPDATE OF mailbox ON messages"
    " WHEN OLD.mailbox != NEW.mailbox BEGIN"
    " UPDATE mailboxes SET message_count = message_count - 1, bytes = bytes - OLD.disk_size"
    " WHERE id = OLD.mailbox;"
    " UPDATE mailboxes SET message_count = message_count + 1, bytes = bytes + NEW.disk_size"
    " WHERE id = NEW.mailbox; END;"
    "CREATE TRIGGER bytes_upd AFTER UPDATE OF disk_size ON messages"
    " WHEN OLD.mailbox = NEW.mailbox BEGIN"
    " UPDATE mailboxes SET bytes = bytes - OLD.disk_size + NEW.disk_size"
    " WHERE id = NEW.mailbox; END;"
    "CREATE INDEX messages_unseen ON messages (mailbox, flags) WHERE flags & 1 = 0;",
};
#define SCHEMA_VERSION ((int)N_ELEMENTS(migrations))
_Static_assert(STORE_FLAG_DELETED == 8, "migration 3 and ST_DELETED_UIDS name \\Deleted as 8");
_Static_assert(STORE_FLAG_SEEN == 1, "migration 5 and store_mailbox_info name \\Seen as 1");

#define MAILBOX_COLUMNS                                                                            \
	"id, name, dir, uidvalidity, uidnext, highestmodseq, new_mtime, cur_mtime, special,"       \
	" subscribed, deliver_mtime, message_count, keyword_count FROM mailboxes"

static const char *const stmt_sql[ST_COUNT] = {
    [ST_MAILBOX_BY_NAME] = "SELECT " MAILBOX_COLUMNS " WHERE name = ?",
    [ST_MAILBOX_BY_ID] = "SELECT " MAILBOX_COLUMNS " WHERE id = ?",
    [ST_UID_ALLOC] = "UPDATE mailboxes SET uidnext = uidnext + 1,"
		     " highestmodseq = highestmodseq + 1 WHERE id = ?"
		     " RETURNING uidnext - 1, highestmodseq",
    [ST_MSG_INSERT] = "INSERT INTO messages (mailbox, uid, base, file, flags, keywords,"
		      " modseq, internal_date, disk_size, crlf_size, cache)"
		      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_MSG_BY_BASE] = "SELECT uid, file, flags FROM messages WHERE mailbox = ? AND base = ?",
    [ST_MSG_BY_UID] = "SELECT base, file, flags, keywords, modseq, internal_date, disk_size,"
		      " crlf_size, cache FROM messages WHERE mailbox = ? AND uid = ?",
    [ST_MSG_SET_FILE] = "UPDATE messages SET file = ? WHERE mailbox = ? AND uid = ?",
    [ST_MSG_SET_FLAGS] = "UPDATE messages SET file = ?, flags = ?, keywords = ?, modseq = ?"
			 " WHERE mailbox = ? AND uid = ?",
    [ST_MSG_DELETE] = "DELETE FROM messages WHERE mailbox = ? AND uid = ?",
    [ST_EXPUNGED_SINCE] = "SELECT uid FROM expunged WHERE mailbox = ? AND modseq > ?"
			  " ORDER BY uid",
    [ST_EXPUNGED_ADD] = "INSERT OR REPLACE INTO expunged (mailbox, uid, modseq)"
			" VALUES (?, ?, ?)",
    [ST_MODSEQ_BUMP] = "UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ?"
		       " RETURNING highestmodseq",
    [ST_CHANGED] = "UPDATE state SET changes = changes + 1 WHERE id = 1",
    [ST_USAGE] = "SELECT usage_bytes, usage_messages, changes, last_uidvalidity FROM state"
		 " WHERE id = 1",
    [ST_SET_MTIMES] = "UPDATE mailboxes SET new_mtime = ?, cur_mtime = ? WHERE id = ?",
    /* The partial index needs the literal 8 (STORE_FLAG_DELETED): a bound
     * parameter would not match its WHERE; INDEXED BY because without
     * statistics SQLite prefers the primary key. */
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_DELETED_UIDS] = "SELECT uid FROM messages INDEXED BY messages_deleted"
			" WHERE mailbox = ? AND flags & 8 != 0 ORDER BY uid",
    [ST_KEYWORD_FIND] = "SELECT name FROM keywords WHERE mailbox = ? AND name = ?",
    [ST_KEYWORD_ADD] = "INSERT INTO keywords (mailbox, name) VALUES (?, ?)",
    [ST_KEYWORD_COUNT] = "SELECT keyword_count FROM mailboxes WHERE id = ?",
    [ST_KEYWORD_LIST] = "SELECT name FROM keywords WHERE mailbox = ? ORDER BY name",
};

sqlite3_stmt *
idx_stmt(struct store_user *user, enum stmt_id id)
{
	sqlite3_stmt *st = user->stmts[id];

	if (st == NULL) {
		if (sqlite3_prepare_v3(user->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st,
				       NULL) != SQLITE_OK)
			return NULL;
		user->stmts[id] = st;
		return st;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

int
idx_exec(struct store_user *user, const char *sql, const char **error_r)
{
	if (sqlite3_exec(user->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return user_db_fail(user, error_r, "update");
	return 0;
}

/* Step a statement that returns no row (or whose rows are ignored). */
static int
step_done(struct store_user *user, sqlite3_stmt *st, const char **error_r, const char *what)
{
	int rc;

	if (st == NULL)
		return user_db_fail(user, error_r, what);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE)
		return user_db_fail(user, error_r, what);
	sqlite3_reset(st);
	return 0;
}

int
idx_begin(struct store_user *user, const char **error_r)
{
	if (user->depth != 0)
		return user_fail(user, error_r, EINVAL, "%s: nested index transaction",
				 user->address);
	if (step_done(user, idx_stmt(user, ST_BEGIN), error_r, "begin") < 0)
		return -1;
	user->depth = 1;
	return 0;
}

int
idx_commit(struct store_user *user, const char **error_r)
{
	if (step_done(user, idx_stmt(user, ST_COMMIT), error_r, "commit") < 0) {
		idx_rollback(user);
		return -1;
	}
	user->depth = 0;
	return 0;
}

void
idx_rollback(struct store_user *user)
{
	if (!sqlite3_get_autocommit(user->db))
		(void)sqlite3_exec(user->db, "ROLLBACK", NULL, NULL, NULL);
	user->depth = 0;
}

int
idx_changed(struct store_user *user, const char **error_r)
{
	return step_done(user, idx_stmt(user, ST_CHANGED), error_r, "change counter");
}

static uint32_t
read_hint(int dir_fd)
{
	char text[32];
	int fd = openat(dir_fd, "uidvalidity", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return 0;
	ssize_t n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	unsigned long v = strtoul(text, NULL, 10);
	return v > UINT32_MAX ? 0 : (uint32_t)v;
}

/* The hint survives an index that is deleted or broken, so that a rebuild
 * never hands out a UIDVALIDITY a client may still remember. Written
 * atomically; not fsync'd (losing it falls back to the clock). */
static void
write_hint(int dir_fd, uint32_t v)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "%lu\n", (unsigned long)v);
	int fd = openat(dir_fd, "uidvalidity.tmp",
			O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return;
	bool ok = n > 0 && write(fd, text, (size_t)n) == n;
	if (close(fd) < 0 || !ok || renameat(dir_fd, "uidvalidity.tmp", dir_fd, "uidvalidity") < 0)
		(void)unlinkat(dir_fd, "uidvalidity.tmp", 0);
}

int
idx_new_uidvalidity(struct store_user *user, uint32_t *uidvalidity_r, const char **error_r)
{
	sqlite3_stmt *st = idx_stmt(user, ST_USAGE);

	if (st == NULL || sqlite3_step(st) != SQLITE_ROW)
		return user_db_fail(user, error_r, "state");
	uint64_t last = (uint64_t)sqlite3_column_int64(st, 3);
	sqlite3_reset(st);
	uint64_t hint = read_hint(user->dir_fd);
	uint64_t v = (uint64_t)time(NULL);
	v = MAX(v, last + 1);
	v = MAX(v, hint + 1);
	if (v > UINT32_MAX)
		v = 1 + v % UINT32_MAX; /* after 2106: still different from the last */
	sqlite3_stmt *up;
	if (sqlite3_prepare_v2(user->db, "UPDATE state SET last_uidvalidity = ? WHERE id = 1", -1,
			       &up, NULL) != SQLITE_OK)
		return user_db_fail(user, error_r, "state");
	sqlite3_bind_int64(up, 1, (int64_t)v);
	int ret = step_done(user, up, error_r, "state");
	sqlite3_finalize(up);
	if (ret < 0)
		return -1;
	write_hint(user->dir_fd, (uint32_t)v);
	*uidvalidity_r = (uint32_t)v;
	return 0;
}

static char *
column_strdup(sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	return xstrdup(s != NULL ? (const char *)s : "");
}

static int
mailbox_row_read(struct store_user *user, sqlite3_stmt *st, struct mailbox_row *row,
		 const char **error_r)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return 1;
	}
	if (rc != SQLITE_ROW)
		return user_db_fail(user, error_r, "mailbox lookup");
	row->id = sqlite3_column_int64(st, 0);
	row->name = column_strdup(st, 1);
	row->dir = column_strdup(st, 2);
	row->uidvalidity = (uint32_t)sqlite3_column_int64(st, 3);
	row->uidnext = (uint32_t)sqlite3_column_int64(st, 4);
	row->highestmodseq = (uint64_t)sqlite3_column_int64(st, 5);
	row->new_mtime = sqlite3_column_int64(st, 6);
	row->cur_mtime = sqlite3_column_int64(st, 7);
	row->special = (enum store_special)sqlite3_column_int(st, 8);
	row->subscribed = sqlite3_column_int(st, 9) != 0;
	row->deliver_mtime = sqlite3_column_int64(st, 10);
	row->message_count = (uint32_t)sqlite3_column_int64(st, 11);
	row->keyword_count = (uint32_t)sqlite3_column_int64(st, 12);
	sqlite3_reset(st);
	return 0;
}

int
idx_mailbox_get(struct store_user *user, const char *name, struct mailbox_row *row_r,
		const char **error_r)
{
	sqlite3_stmt *st = idx_stmt(user, ST_MAILBOX_BY_NAME);

	if (st == NULL)
		return user_db_fail(user, error_r, "mailbox lookup");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	return mailbox_row_read(user, st, row_r, error_r);
}

int
idx_mailbox_get_id(struct store_user *user, int64_t id, struct mailbox_row *row_r,
		   const char **error_r)
{
	sqlite3_stmt *st = idx_stmt(user, ST_MAILBOX_BY_ID);

	if (st == NULL)
		return user_db_fail(user, error_r, "mailbox lookup");
	sqlite3_bind_int64(st, 1, id);
	return mailbox_row_read(user, st, row_r, error_r);
}

void
mailbox_row_release(struct mailbox_row *row)
{
	free(row->name);
	free(row->dir);
	row->name = row->dir = NULL;
}

int
idx_mailbox_add(struct store_user *user, const char *name, const char *dir,
		enum store_special special, bool subscribed, int64_t *id_r, const char **error_r)
{
	uint32_t uidvalidity;
	sqlite3_stmt *st;

	if (idx_new_uidvalidity(user, &uidvalidity, error_r) < 0)
		return -1;
	if (sqlite3_prepare_v2(user->db,
			       "INSERT INTO mailboxes (name, dir, uidvalidity, special, subscribed)"
			       " VALUES (?, ?, ?, ?, ?)",
			       -1, &st, NULL) != SQLITE_OK)
		return user_db_fail(user, error_r, "mailbox insert");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, dir, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, uidvalidity);
	sqlite3_bind_int(st, 4, (int)special);
	sqlite3_bind_int(st, 5, subscribed ? 1 : 0);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_CONSTRAINT)
		return user_fail(user, error_r, EEXIST, "mailbox %s already exists", name);
	if (rc != SQLITE_DONE)
		return user_db_fail(user, error_r, "mailbox insert");
	if (id_r != NULL)
		*id_r = sqlite3_last_insert_rowid(user->db);
	return idx_changed(user, error_r);
}

int
idx_modseq_next(struct store_user *user, int64_t box, uint64_t *modseq_r, const char **error_r)
{
	sqlite3_stmt *st = idx_stmt(user, ST_MODSEQ_BUMP);

	if (st == NULL)
		return user_db_fail(user, error_r, "modseq");
	sqlite3_bind_int64(st, 1, box);
	if (sqlite3_step(st) != SQLITE_ROW)
		return user_db_fail(user, error_r, "modseq");
	*modseq_r = (uint64_t)sqlite3_column_int64(st, 0);
	return step_done(user, st, error_r, "modseq");
}

static int
msg_insert(struct store_user *user, int64_t box, const struct msg_add *m, const char *keywords,
	   uint32_t *uid_r, const char **error_r)
{
	sqlite3_stmt *st = idx_stmt(user, ST_MSG_BY_BASE);

	if (keywords == NULL)
		keywords = "";
	if (st == NULL)
		return user_db_fail(user, error_r, "message lookup");
	sqlite3_bind_int64(st, 1, box);
	sqlite3_bind_text(st, 2, m->base, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		/* Picked up by another process between our link and this
		 * commit: it could not know the keywords, the internal date
		 * (it took the file's mtime) or the cache. */
		*uid_r = (uint32_t)sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		sqlite3_stmt *up;
		if (sqlite3_prepare_v2(user->db,
				       "UPDATE messages SET keywords = ?, internal_date = ?,"
				       " cache = coalesce(?, cache) WHERE mailbox = ? AND uid = ?",
				       -1, &up, NULL) != SQLITE_OK)
			return user_db_fail(user, error_r, "message update");
		sqlite3_bind_text(up, 1, keywords, -1, SQLITE_STATIC);
		sqlite3_bind_int64(up, 2, m->internal_date);
		if (m->cache != NULL)
			sqlite3_bind_text(up, 3, m->cache, -1, SQLITE_STATIC);
		sqlite3_bind_int64(up, 4, box);
		sqlite3_bind_int64(up, 5, *uid_r);
		rc = sqlite3_step(up);
		sqlite3_finalize(up);
		return rc == SQLITE_DONE ? 0 : user_db_fail(user, error_r, "message update");
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return user_db_fail(user, error_r, "message lookup");

	st = idx_stmt(user, ST_UID_ALLOC);
	if (st == NULL)
		return user_db_fail(user, error_r, "uid");
	sqlite3_bind_int64(st, 1, box);
	if (sqlite3_step(st) != SQLITE_ROW)
		return user_db_fail(user, error_r, "uid");
	int64_t uid = sqlite3_column_int64(st, 0);
	int64_t modseq = sqlite3_column_int64(st, 1);
	if (step_done(user, st, error_r, "uid") < 0)
		return -1;
	if (uid <= 0 || uid > (int64_t)UINT32_MAX - 1)
		return user_fail(user, error_r, EOVERFLOW, "%s: UIDs exhausted in a mailbox",
				 user->address);

	st = idx_stmt(user, ST_MSG_INSERT);
	if (st == NULL)
		return user_db_fail(user, error_r, "message insert");
	sqlite3_bind_int64(st, 1, box);
	sqlite3_bind_int64(st, 2, uid);
	sqlite3_bind_text(st, 3, m->base, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, m->file, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, (int)(m->flags & STORE_FLAGS_ALL));
	sqlite3_bind_text(st, 6, keywords, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, modseq);
	sqlite3_bind_int64(st, 8, m->internal_date);
	sqlite3_bind_int64(st, 9, (int64_t)m->disk_size);
	sqlite3_bind_int64(st, 10, (int64_t)m->crlf_size);
	if (m->cache != NULL)
		sqlite3_bind_text(st, 11, m->cache, -1, SQLITE_STATIC);
	if (step_done(user, st, error_r, "message insert") < 0 || idx_changed(user, error_r) < 0)
		return -1;
	*uid_r = (uint32_t)uid;
	return 0;
}

int
idx_msg_add(struct store_user *user, int64_t box, const struct msg_add *m, uint32_t *uid_r,
	    const char **error_r)
{
	char *kept;

	if (idx_keywords_admit(user, box, m->keywords, m->keywords_strict, &kept, error_r) < 0)
		return -1;
	int ret = msg_insert(user, box, m, kept != NULL ? kept : m->keywords, uid_r, error_r);
	free(kept);
	return ret;
}

int
idx_msg_expunged(struct store_user *user, int64_t box, uint32_t uid, uint64_t modseq,
		 const char **error_r)
{
	sqlite3_stmt *st = idx_stmt(user, ST_MSG_DELETE);

	if (st == NULL)
		return user_db_fail(user, error_r, "expunge");
	sqlite3_bind_int64(st, 1, box);
	sqlite3_bind_int64(st, 2, uid);
	if (step_done(user, st, error_r, "expunge") < 0)
		return -1;
	st = idx_stmt(user, ST_EXPUNGED_ADD);
	if (st == NULL)
		return user_db_fail(user, error_r, "expunge");
	sqlite3_bind_int64(st, 1, box);
	sqlite3_bind_int64(st, 2, uid);
	sqlite3_bind_int64(st, 3, (int64_t)modseq);
	return step_done(user, st, error_r, "expunge");
}

static int
schema_version(struct store_user *user, int *version_r, const char **error_r)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(user->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return user_db_fail(user, error_r, "schema version");
	int rc = sqlite3_step(st);
	*version_r = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return user_db_fail(user, error_r, "schema version");
	return 0;
}

static int
migrate(struct store_user *user, bool *created_r, const char **error_r)
{
	int version;

	if (schema_version(user, &version, error_r) < 0)
		return -1;
	if (version == SCHEMA_VERSION)
		return 0;
	if (version > SCHEMA_VERSION)
		return user_fail(user, error_r, EPROTO,
				 "%s: index schema %d is newer than this postern's (%d)",
				 user->address, version, SCHEMA_VERSION);
	if (idx_begin(user, error_r) < 0)
		return -1;
	/* Another process may have migrated while we waited for the lock. */
	if (schema_version(user, &version, error_r) < 0)
		goto fail;
	if (version == 0)
		*created_r = true;
	for (int v = version; v < SCHEMA_VERSION; v++) {
		char sql[64];
		if (idx_exec(user, migrations[v], error_r) < 0)
			goto fail;
		(void)snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if (idx_exec(user, sql, error_r) < 0)
			goto fail;
	}
	return idx_commit(user, error_r);
fail:
	idx_rollback(user);
	return -1;
}

int
index_open(struct store_user *user, bool create, bool *created_r, const char **error_r)
{
	char *path = xasprintf("%s/%s", user->store->data_dir, user->index_rel);
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX;

	*created_r = false;
	if (create) {
		/* Create the file ourselves: SQLite would use 0644. Its -wal
		 * and -shm files copy this mode. */
		int fd = openat(user->dir_fd, "index.db",
				O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
		else if (errno != EEXIST) {
			free(path);
			return user_fail(user, error_r, 0, "%s: %s", user->index_rel,
					 strerror(errno));
		}
	}
	int rc = sqlite3_open_v2(path, &user->db, flags, NULL);
	free(path);
	if (rc != SQLITE_OK) {
		int err = rc == SQLITE_CANTOPEN ? ENOENT : EIO;
		if (user->db == NULL)
			return user_fail(user, error_r, ENOMEM, "%s: cannot open", user->index_rel);
		user_fail(user, error_r, err, "%s: %s", user->index_rel, sqlite3_errmsg(user->db));
		sqlite3_close(user->db);
		user->db = NULL;
		return -1;
	}
	sqlite3_extended_result_codes(user->db, 0);
	sqlite3_busy_timeout(user->db, STORE_BUSY_TIMEOUT_MS);
	(void)sqlite3_db_config(user->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	if (idx_exec(user, "PRAGMA journal_mode = WAL", error_r) < 0 ||
	    idx_exec(user, "PRAGMA synchronous = NORMAL", error_r) < 0 ||
	    migrate(user, created_r, error_r) < 0) {
		index_close(user);
		return -1;
	}
	return 0;
}

void
index_close(struct store_user *user)
{
	for (size_t i = 0; i < ST_COUNT; i++) {
		sqlite3_finalize(user->stmts[i]);
		user->stmts[i] = NULL;
	}
	for (size_t i = 0; i < N_ELEMENTS(user->iter_stmts); i++) {
		sqlite3_finalize(user->iter_stmts[i]);
		user->iter_stmts[i] = NULL;
		user->iter_busy[i] = false;
	}
	if (user->db != NULL)
		sqlite3_close(user->db);
	user->db = NULL;
}
