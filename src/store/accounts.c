/* accounts.c - the accounts database: schema and migrations, the table of
 * SQL statements, open/close, and helpers the other accounts*.c files share
 * (see accounts.h and accounts_int.h). Domains and users are in
 * accounts_users.c, aliases in accounts_aliases.c, resolution and
 * authentication in accounts_resolve.c. Every statement is prepared with
 * bound parameters; no SQL text is ever built from data.
 */
#include "lib/common.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/accounts.h"
#include "store/accounts_int.h"
#include "store/store.h"

#define BUSY_TIMEOUT_MS 5000

/* Schema migrations: entry i takes the schema from version i to i + 1.
 * Append only; never edit a released entry. */
static const char *const migrations[] = {
    /* 1: domains, users, aliases */
    "CREATE TABLE domains ("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE," /* canonical A-label form */
    " created INTEGER NOT NULL"
    ") STRICT;"
    "CREATE TABLE users ("
    " id INTEGER PRIMARY KEY,"
    " address TEXT NOT NULL UNIQUE," /* canonical */
    " domain_id INTEGER NOT NULL REFERENCES domains(id),"
    " password TEXT NOT NULL," /* {SCHEME}hash */
    " quota INTEGER NOT NULL DEFAULT 0 CHECK (quota >= 0),"
    " enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),"
    " created INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX users_domain ON users(domain_id);"
    "CREATE TABLE aliases ("
    " id INTEGER PRIMARY KEY,"
    " source TEXT NOT NULL," /* canonical address or @domain */
    " domain_id INTEGER NOT NULL REFERENCES domains(id),"
    " target TEXT NOT NULL," /* canonical address */
    " created INTEGER NOT NULL,"
    " UNIQUE (source, target)"
    ") STRICT;"
    "CREATE INDEX aliases_domain ON aliases(domain_id);"
    "CREATE INDEX aliases_target ON aliases(target);",
    /* 2: the APOP secret, an explicit per-user opt-in (NULL: no APOP) */
    "ALTER TABLE users ADD COLUMN apop_secret TEXT;",
};

#define USER_COLUMNS                                                                               \
	"SELECT u.id, u.address, d.name, u.password, u.quota, u.enabled, u.created "               \
	"FROM users u JOIN domains d ON d.id = u.domain_id"

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN",
    [ST_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_DOMAIN_ID] = "SELECT id FROM domains WHERE name = ?1",
    [ST_DOMAIN_ADD] = "INSERT INTO domains (name, created) VALUES (?1, ?2)",
    [ST_DOMAIN_DEL] = "DELETE FROM domains WHERE id = ?1",
    [ST_DOMAIN_LIST] = "SELECT name FROM domains ORDER BY name",
    [ST_DOMAIN_COUNT_USERS] = "SELECT count(*) FROM users WHERE domain_id = ?1",
    /* ?2 is "@domain": a canonical target ends with it exactly when its
     * domain is that domain (domains never contain '@'). */
    [ST_DOMAIN_COUNT_ALIASES] = "SELECT count(*) FROM aliases WHERE domain_id = ?1 "
				"OR substr(target, -length(?2)) = ?2",
    [ST_DOMAIN_DEL_USERS] = "DELETE FROM users WHERE domain_id = ?1",
    [ST_DOMAIN_DEL_ALIASES] = "DELETE FROM aliases WHERE domain_id = ?1 "
			      "OR substr(target, -length(?2)) = ?2",
    [ST_USER_ADD] = "INSERT INTO users (address, domain_id, password, quota, enabled, created) "
		    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_USER_GET] = USER_COLUMNS " WHERE u.address = ?1",
    [ST_USER_DEL] = "DELETE FROM users WHERE address = ?1",
    [ST_USER_SET_PASSWORD] = "UPDATE users SET password = ?2 WHERE address = ?1",
    [ST_USER_SET_QUOTA] = "UPDATE users SET quota = ?2 WHERE address = ?1",
    [ST_USER_SET_ENABLED] = "UPDATE users SET enabled = ?2 WHERE address = ?1",
    [ST_USER_SET_APOP] = "UPDATE users SET apop_secret = NULLIF(?2, '') WHERE address = ?1",
    [ST_USER_GET_APOP] = "SELECT apop_secret FROM users WHERE address = ?1 AND enabled = 1",
    [ST_USER_LIST_ALL] = USER_COLUMNS " ORDER BY d.name, u.address",
    [ST_USER_LIST_DOMAIN] = USER_COLUMNS " WHERE u.domain_id = ?1 ORDER BY u.address",
    [ST_ALIAS_ADD] = "INSERT INTO aliases (source, domain_id, target, created) "
		     "VALUES (?1, ?2, ?3, ?4)",
    [ST_ALIAS_EXISTS] = "SELECT 1 FROM aliases WHERE source = ?1 AND target = ?2",
    [ST_ALIAS_TARGETS] = "SELECT target FROM aliases WHERE source = ?1 "
			 "ORDER BY target LIMIT ?2",
    [ST_ALIAS_DEL_ALL] = "DELETE FROM aliases WHERE source = ?1",
    [ST_ALIAS_DEL_ONE] = "DELETE FROM aliases WHERE source = ?1 AND target = ?2",
    [ST_ALIAS_LIST_ALL] = "SELECT source, target FROM aliases ORDER BY source, target",
    [ST_ALIAS_LIST_DOMAIN] = "SELECT source, target FROM aliases WHERE domain_id = ?1 "
			     "ORDER BY source, target",
    [ST_ALIAS_COUNT_TARGET] = "SELECT count(*) FROM aliases WHERE target = ?1",
};

/* ---- internals shared by the accounts*.c files ---- */

static void
sanitize(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

int
acc_error(struct accounts *db, int code, const char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(db->error, sizeof(db->error), fmt, ap) < 0)
		db->error[0] = '\0';
	va_end(ap);
	sanitize(db->error);
	*error_r = db->error;
	return code;
}

int
acc_db_error(struct accounts *db, const char **error_r, const char *what)
{
	return acc_error(db, ACCOUNTS_ERR_INTERNAL, error_r, "accounts database: %s: %s", what,
			 sqlite3_errmsg(db->db));
}

sqlite3_stmt *
acc_stmt(struct accounts *db, enum acc_stmt id, const char **error_r)
{
	if (db->stmt[id] == NULL &&
	    sqlite3_prepare_v3(db->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &db->stmt[id],
			       NULL) != SQLITE_OK) {
		acc_db_error(db, error_r, "prepare");
		db->stmt[id] = NULL;
		return NULL;
	}
	return db->stmt[id];
}

void
acc_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Run a statement that returns no rows. */
int
acc_run(struct accounts *db, sqlite3_stmt *st, const char *what, const char **error_r)
{
	int rc = sqlite3_step(st);

	acc_done(st);
	if (rc != SQLITE_DONE)
		return acc_db_error(db, error_r, what);
	return 0;
}

/* Run a statement that returns one integer (count(*)). */
int
acc_run_count(struct accounts *db, sqlite3_stmt *st, int64_t *count_r, const char **error_r)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_ROW) {
		acc_done(st);
		return acc_db_error(db, error_r, "count");
	}
	*count_r = sqlite3_column_int64(st, 0);
	acc_done(st);
	return 0;
}

int
acc_begin(struct accounts *db, bool write, const char **error_r)
{
	sqlite3_stmt *st = acc_stmt(db, write ? ST_BEGIN_IMMEDIATE : ST_BEGIN, error_r);

	if (st == NULL)
		return ACCOUNTS_ERR_INTERNAL;
	if (db->in_tx)
		panic("accounts: nested transaction");
	if (acc_run(db, st, "begin", error_r) < 0)
		return ACCOUNTS_ERR_INTERNAL;
	db->in_tx = true;
	return 0;
}

int
acc_commit(struct accounts *db, const char **error_r)
{
	sqlite3_stmt *st = acc_stmt(db, ST_COMMIT, error_r);

	if (st == NULL || acc_run(db, st, "commit", error_r) < 0) {
		acc_rollback(db);
		return ACCOUNTS_ERR_INTERNAL;
	}
	db->in_tx = false;
	return 0;
}

void
acc_rollback(struct accounts *db)
{
	const char *error;
	sqlite3_stmt *st;

	if (!db->in_tx)
		return;
	db->in_tx = false;
	st = acc_stmt(db, ST_ROLLBACK, &error);
	if (st == NULL || acc_run(db, st, "rollback", &error) < 0) {
		/* SQLite rolls back by itself when it cannot; say so. */
		if (sqlite3_get_autocommit(db->db) == 0)
			log_error("accounts: rollback failed: %s", sqlite3_errmsg(db->db));
	}
}

int
acc_canon_addr(struct accounts *db, const char *in, const char *what, struct buf *out,
	       const char **error_r)
{
	const char *why;

	if (addr_canon(in, out, &why) < 0)
		return acc_error(db, ACCOUNTS_ERR_INVALID, error_r, "invalid %s '%.300s': %s", what,
				 in, why);
	return 0;
}

int
acc_canon_domain(struct accounts *db, const char *in, struct buf *out, const char **error_r)
{
	const char *why;

	if (addr_domain_canon(in, out, &why) < 0)
		return acc_error(db, ACCOUNTS_ERR_INVALID, error_r, "invalid domain '%.300s': %s",
				 in, why);
	return 0;
}

int
acc_domain_id(struct accounts *db, const char *domain, int64_t *id_r, const char **error_r)
{
	sqlite3_stmt *st = acc_stmt(db, ST_DOMAIN_ID, error_r);
	int rc;

	if (st == NULL)
		return ACCOUNTS_ERR_INTERNAL;
	sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id_r = sqlite3_column_int64(st, 0);
		acc_done(st);
		return 1;
	}
	acc_done(st);
	if (rc != SQLITE_DONE)
		return acc_db_error(db, error_r, "domain lookup");
	return 0;
}

int
acc_user_exists(struct accounts *db, const char *address, const char **error_r)
{
	sqlite3_stmt *st = acc_stmt(db, ST_USER_GET, error_r);
	int rc;

	if (st == NULL)
		return ACCOUNTS_ERR_INTERNAL;
	sqlite3_bind_text(st, 1, address, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	acc_done(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc != SQLITE_DONE)
		return acc_db_error(db, error_r, "user lookup");
	return 0;
}

void
acc_strv_free(char ***strvp)
{
	char **strv = *strvp;

	if (strv == NULL)
		return;
	for (size_t i = 0; strv[i] != NULL; i++)
		free(strv[i]);
	free(strv);
	*strvp = NULL;
}

int
acc_alias_targets(struct accounts *db, const char *source, size_t max, char ***targets_r,
		  const char **error_r)
{
	sqlite3_stmt *st = acc_stmt(db, ST_ALIAS_TARGETS, error_r);
	char **v = NULL;
	size_t n = 0;
	int rc;

	*targets_r = NULL;
	if (st == NULL)
		return ACCOUNTS_ERR_INTERNAL;
	sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	v = xcalloc(1, sizeof(*v));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = xreallocarray(v, n + 2, sizeof(*v));
		v[n++] = xstrdup((const char *)sqlite3_column_text(st, 0));
		v[n] = NULL;
	}
	acc_done(st);
	if (rc != SQLITE_DONE) {
		acc_strv_free(&v);
		return acc_db_error(db, error_r, "alias lookup");
	}
	*targets_r = v;
	return (int)n;
}

/* ---- open, close, migrate ---- */

static _Thread_local char open_error[512];

static int open_fail(int code, const char **error_r, const char *fmt, ...) ATTR_PRINTF(3, 4);

static int
open_fail(int code, const char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(open_error, sizeof(open_error), fmt, ap) < 0)
		open_error[0] = '\0';
	va_end(ap);
	sanitize(open_error);
	*error_r = open_error;
	return code;
}

static int
schema_version_read(sqlite3 *sq, int *version_r)
{
	sqlite3_stmt *st;
	int rc;

	*version_r = 0;
	rc = sqlite3_prepare_v2(sq,
				"SELECT count(*) FROM sqlite_master WHERE type = 'table' "
				"AND name = 'schema_version'",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return -1;
	rc = sqlite3_step(st);
	bool exists = rc == SQLITE_ROW && sqlite3_column_int(st, 0) > 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return -1;
	if (!exists)
		return 0;
	if (sqlite3_prepare_v2(sq, "SELECT version FROM schema_version", -1, &st, NULL) !=
	    SQLITE_OK)
		return -1;
	int rows = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*version_r = sqlite3_column_int(st, 0);
		rows++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE || rows > 1)
		return -1;
	return 0;
}

static int
migrate(sqlite3 *sq, const char *path, const char **error_r)
{
	const int latest = (int)N_ELEMENTS(migrations);
	int version;
	char *msg = NULL;

	if (schema_version_read(sq, &version) < 0)
		return open_fail(ACCOUNTS_ERR_INTERNAL, error_r,
				 "%s: cannot read the schema "
				 "version: %s",
				 path, sqlite3_errmsg(sq));
	if (version == latest)
		return 0;
	if (sqlite3_exec(sq, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	/* Another process may have migrated meanwhile. */
	if (sqlite3_exec(sq,
			 "CREATE TABLE IF NOT EXISTS schema_version "
			 "(version INTEGER NOT NULL) STRICT",
			 NULL, NULL, &msg) != SQLITE_OK)
		goto fail_rollback;
	if (schema_version_read(sq, &version) < 0)
		goto fail_rollback;
	if (version < 0 || version > latest) {
		sqlite3_exec(sq, "ROLLBACK", NULL, NULL, NULL);
		return open_fail(ACCOUNTS_ERR_INTERNAL, error_r,
				 "%s: schema version %d is newer than this postern understands "
				 "(%d)",
				 path, version, latest);
	}
	for (int v = version; v < latest; v++)
		if (sqlite3_exec(sq, migrations[v], NULL, NULL, &msg) != SQLITE_OK)
			goto fail_rollback;
	if (sqlite3_exec(sq, "DELETE FROM schema_version", NULL, NULL, &msg) != SQLITE_OK)
		goto fail_rollback;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(sq, "INSERT INTO schema_version (version) VALUES (?1)", -1, &st,
			       NULL) != SQLITE_OK)
		goto fail_rollback;
	sqlite3_bind_int(st, 1, latest);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		goto fail_rollback;
	if (sqlite3_exec(sq, "COMMIT", NULL, NULL, &msg) != SQLITE_OK)
		goto fail_rollback;
	if (version != 0)
		log_notice("accounts: %s migrated from schema version %d to %d", path, version,
			   latest);
	return 0;
fail_rollback:
	open_fail(ACCOUNTS_ERR_INTERNAL, error_r, "%s: schema migration failed: %s", path,
		  msg != NULL ? msg : sqlite3_errmsg(sq));
	sqlite3_exec(sq, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_free(msg);
	return ACCOUNTS_ERR_INTERNAL;
fail:
	open_fail(ACCOUNTS_ERR_INTERNAL, error_r, "%s: %s", path,
		  msg != NULL ? msg : sqlite3_errmsg(sq));
	sqlite3_free(msg);
	return ACCOUNTS_ERR_INTERNAL;
}

static int
configure(sqlite3 *sq, const char *path, const char **error_r)
{
	sqlite3_stmt *st;
	char *msg = NULL;
	bool wal = false;

	sqlite3_extended_result_codes(sq, 1);
	sqlite3_busy_timeout(sq, BUSY_TIMEOUT_MS);
	if (sqlite3_exec(sq,
			 "PRAGMA foreign_keys = ON;"
			 "PRAGMA synchronous = FULL;"
			 "PRAGMA secure_delete = ON;"
			 "PRAGMA trusted_schema = OFF;",
			 NULL, NULL, &msg) != SQLITE_OK) {
		open_fail(ACCOUNTS_ERR_INTERNAL, error_r, "%s: %s", path, msg);
		sqlite3_free(msg);
		return ACCOUNTS_ERR_INTERNAL;
	}
	if (sqlite3_prepare_v2(sq, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK)
		return open_fail(ACCOUNTS_ERR_INTERNAL, error_r, "%s: %s", path,
				 sqlite3_errmsg(sq));
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *mode = (const char *)sqlite3_column_text(st, 0);
		wal = mode != NULL && strcmp(mode, "wal") == 0;
	}
	sqlite3_finalize(st);
	if (!wal)
		return open_fail(ACCOUNTS_ERR_INTERNAL, error_r,
				 "%s: cannot use write-ahead logging: %s", path,
				 sqlite3_errmsg(sq));
	return 0;
}

int
accounts_open(const char *data_dir, struct accounts **db_r, const char **error_r)
{
	struct stat st;
	sqlite3 *sq = NULL;
	int ret;

	*db_r = NULL;
	store_sqlite_init();
	if (stat(data_dir, &st) < 0) {
		if (errno == ENOENT)
			return open_fail(ACCOUNTS_ERR_NOT_FOUND, error_r,
					 "data directory '%s' does not exist", data_dir);
		return open_fail(ACCOUNTS_ERR_INTERNAL, error_r, "data directory '%s': %s",
				 data_dir, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		return open_fail(ACCOUNTS_ERR_INTERNAL, error_r,
				 "data directory '%s' is not a directory", data_dir);

	char *path = xasprintf("%s/%s", data_dir, ACCOUNTS_DB_NAME);
	/* Create the file ourselves so that it is 0600 from the start (SQLite
	 * gives its -wal and -shm files the same mode and owner). */
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	bool created = fd >= 0;
	if (fd < 0 && errno != EEXIST) {
		ret = open_fail(ACCOUNTS_ERR_INTERNAL, error_r, "%s: %s", path, strerror(errno));
		free(path);
		return ret;
	}
	if (created) {
		int err = 0;
		if (fchmod(fd, 0600) < 0)
			err = errno;
		/* Run as root on a directory the service user owns: the
		 * database must stay readable by the service. */
		if (err == 0 && geteuid() == 0 && (st.st_uid != 0 || st.st_gid != 0) &&
		    fchown(fd, st.st_uid, st.st_gid) < 0)
			err = errno;
		close(fd);
		if (err != 0) {
			ret = open_fail(ACCOUNTS_ERR_INTERNAL, error_r, "%s: %s", path,
					strerror(err));
			goto fail;
		}
	}
	if (sqlite3_open_v2(path, &sq, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL) !=
	    SQLITE_OK) {
		ret = open_fail(ACCOUNTS_ERR_INTERNAL, error_r, "%s: %s", path,
				sq != NULL ? sqlite3_errmsg(sq) : "out of memory");
		goto fail;
	}
	if ((ret = configure(sq, path, error_r)) < 0 || (ret = migrate(sq, path, error_r)) < 0)
		goto fail;
	struct accounts *db = xcalloc(1, sizeof(*db));
	db->db = sq;
	*db_r = db;
	free(path);
	return 0;
fail:
	sqlite3_close(sq);
	if (created) {
		/* Leave nothing behind that we made. */
		char *side = xasprintf("%s-wal", path);
		unlink(side);
		free(side);
		side = xasprintf("%s-shm", path);
		unlink(side);
		free(side);
		unlink(path);
	}
	free(path);
	return ret;
}

void
accounts_close(struct accounts **dbp)
{
	struct accounts *db = *dbp;

	if (db == NULL)
		return;
	acc_rollback(db);
	for (size_t i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(db->stmt[i]);
	if (sqlite3_close(db->db) != SQLITE_OK)
		log_error("accounts: close: %s", sqlite3_errmsg(db->db));
	free(db);
	*dbp = NULL;
}

int
accounts_schema_version(void)
{
	return (int)N_ELEMENTS(migrations);
}

/* Resolve an optional domain filter to its id (0 = all). */
int
acc_domain_filter(struct accounts *db, const char *domain, int64_t *id_r, const char **error_r)
{
	struct buf canon;
	int ret;

	*id_r = 0;
	if (domain == NULL)
		return 0;
	buf_init(&canon, BUF_UNLIMITED);
	if ((ret = acc_canon_domain(db, domain, &canon, error_r)) == 0 &&
	    (ret = acc_domain_id(db, canon.data, id_r, error_r)) == 0)
		ret = acc_error(db, ACCOUNTS_ERR_NOT_FOUND, error_r, "unknown domain '%s'",
				canon.data);
	buf_release(&canon);
	return ret < 0 ? ret : 0;
}
