/* accounts_int.h - internals shared by the src/store/accounts*.c files.
 *
 * Not for use elsewhere.
 */
#ifndef POSTERN_ACCOUNTS_INT_H
#define POSTERN_ACCOUNTS_INT_H

#include "lib/common.h"

#include <sqlite3.h>

#include "lib/buf.h"
#include "store/accounts.h"

/* Every statement postern runs on the accounts database; the SQL text is
 * in accounts.c. Prepared once per handle, on first use. */
enum acc_stmt {
	ST_BEGIN,
	ST_BEGIN_IMMEDIATE,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_DOMAIN_ID,
	ST_DOMAIN_ADD,
	ST_DOMAIN_DEL,
	ST_DOMAIN_LIST,
	ST_DOMAIN_COUNT_USERS,
	ST_DOMAIN_COUNT_ALIASES,
	ST_DOMAIN_DEL_USERS,
	ST_DOMAIN_DEL_ALIASES,
	ST_USER_ADD,
	ST_USER_GET,
	ST_USER_DEL,
	ST_USER_SET_PASSWORD,
	ST_USER_SET_QUOTA,
	ST_USER_SET_ENABLED,
	ST_USER_SET_APOP,
	ST_USER_GET_APOP,
	ST_USER_LIST_ALL,
	ST_USER_LIST_DOMAIN,
	ST_ALIAS_ADD,
	ST_ALIAS_EXISTS,
	ST_ALIAS_TARGETS,
	ST_ALIAS_DEL_ALL,
	ST_ALIAS_DEL_ONE,
	ST_ALIAS_LIST_ALL,
	ST_ALIAS_LIST_DOMAIN,
	ST_ALIAS_COUNT_TARGET,
	ST_COUNT
};

struct accounts {
	sqlite3 *db;
	sqlite3_stmt *stmt[ST_COUNT];
	bool in_tx;
	char error[512];
};

/* The prepared statement id, reset and ready for binding; NULL with the
 * error set (ACCOUNTS_ERR_INTERNAL) when it cannot be prepared. */
sqlite3_stmt *acc_stmt(struct accounts *db, enum acc_stmt id, const char **error_r);
/* Reset st and drop its bindings (call when done with its rows). */
void acc_done(sqlite3_stmt *st);

/* Format the handle's error message (control characters replaced), point
 * *error_r at it and return code. */
int acc_error(struct accounts *db, int code, const char **error_r, const char *fmt, ...)
    ATTR_PRINTF(4, 5);
/* ACCOUNTS_ERR_INTERNAL with SQLite's message for what failed. */
int acc_db_error(struct accounts *db, const char **error_r, const char *what);

/* Step a statement that returns no rows / one integer, then reset it.
 * ACCOUNTS_ERR_INTERNAL (message naming what) on failure. */
int acc_run(struct accounts *db, sqlite3_stmt *st, const char *what, const char **error_r);
int acc_run_count(struct accounts *db, sqlite3_stmt *st, int64_t *count_r, const char **error_r);

/* Transactions. begin fails if one is already open (no nesting). rollback
 * is a no-op outside a transaction. */
int acc_begin(struct accounts *db, bool write, const char **error_r);
int acc_commit(struct accounts *db, const char **error_r);
void acc_rollback(struct accounts *db);

/* Canonicalise into out, failing with ACCOUNTS_ERR_INVALID and a message
 * "invalid WHAT 'input': reason". */
int acc_canon_addr(struct accounts *db, const char *in, const char *what, struct buf *out,
		   const char **error_r);
int acc_canon_domain(struct accounts *db, const char *in, struct buf *out, const char **error_r);

/* Look up a canonical domain: 1 with *id_r set, 0 when absent, <0. */
int acc_domain_id(struct accounts *db, const char *domain, int64_t *id_r, const char **error_r);
/* Resolve an optional domain filter (NULL: all, *id_r = 0) to its id;
 * ACCOUNTS_ERR_NOT_FOUND when the domain does not exist. */
int acc_domain_filter(struct accounts *db, const char *domain, int64_t *id_r, const char **error_r);
/* Is there a user with exactly this canonical address: 1, 0, <0. */
int acc_user_exists(struct accounts *db, const char *address, const char **error_r);

/* Targets of exactly this canonical source, at most max of them, as a
 * NULL-terminated array of strings the caller frees with acc_strv_free.
 * Returns the count or <0. */
int acc_alias_targets(struct accounts *db, const char *source, size_t max, char ***targets_r,
		      const char **error_r);
void acc_strv_free(char ***strv);

/* accounts_resolve() on a canonical address inside an open transaction. */
int acc_resolve_canon(struct accounts *db, const char *address, struct accounts_rcpt *r,
		      const char **error_r);

#endif
