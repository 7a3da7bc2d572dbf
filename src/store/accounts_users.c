/* accounts_users.c - domains and users in the accounts database (see
 * accounts.h). */
#include "lib/common.h"

#include <limits.h>
#include <time.h>

#include <sqlite3.h>

#include "auth/password.h"
#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/accounts.h"
#include "store/accounts_int.h"

/* ---- domains ---- */

int
accounts_domain_add(struct accounts *db, const char *domain, const char **error_r)
{
	struct buf canon;
	sqlite3_stmt *st;
	int64_t id;
	int ret;

	buf_init(&canon, BUF_UNLIMITED);
	if ((ret = acc_canon_domain(db, domain, &canon, error_r)) < 0)
		goto out;
	if ((ret = acc_begin(db, true, error_r)) < 0)
		goto out;
	if ((ret = acc_domain_id(db, canon.data, &id, error_r)) != 0) {
		if (ret > 0)
			ret = acc_error(db, ACCOUNTS_ERR_EXISTS, error_r,
					"domain '%s' already exists", canon.data);
		goto rollback;
	}
	if ((st = acc_stmt(db, ST_DOMAIN_ADD, error_r)) == NULL) {
		ret = ACCOUNTS_ERR_INTERNAL;
		goto rollback;
	}
	sqlite3_bind_text(st, 1, canon.data, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
	if ((ret = acc_run(db, st, "add domain", error_r)) < 0)
		goto rollback;
	ret = acc_commit(db, error_r);
	goto out;
rollback:
	acc_rollback(db);
out:
	buf_release(&canon);
	return ret;
}

int
accounts_domain_del(struct accounts *db, const char *domain, bool force, unsigned *users_r,
		    unsigned *aliases_r, const char **error_r)
{
	struct buf canon, suffix;
	sqlite3_stmt *st;
	int64_t id, users = 0, aliases = 0;
	int ret;

	if (users_r != NULL)
		*users_r = 0;
	if (aliases_r != NULL)
		*aliases_r = 0;
	buf_init(&canon, BUF_UNLIMITED);
	buf_init(&suffix, BUF_UNLIMITED);
	if ((ret = acc_canon_domain(db, domain, &canon, error_r)) < 0)
		goto out;
	if (buf_printf(&suffix, "@%s", canon.data) < 0)
		panic("accounts: unlimited buffer refused an append");
	if ((ret = acc_begin(db, true, error_r)) < 0)
		goto out;
	if ((ret = acc_domain_id(db, canon.data, &id, error_r)) <= 0) {
		if (ret == 0)
			ret = acc_error(db, ACCOUNTS_ERR_NOT_FOUND, error_r, "unknown domain '%s'",
					canon.data);
		goto rollback;
	}
	ret = ACCOUNTS_ERR_INTERNAL;
	if ((st = acc_stmt(db, ST_DOMAIN_COUNT_USERS, error_r)) == NULL)
		goto rollback;
	sqlite3_bind_int64(st, 1, id);
	if (acc_run_count(db, st, &users, error_r) < 0)
		goto rollback;
	if ((st = acc_stmt(db, ST_DOMAIN_COUNT_ALIASES, error_r)) == NULL)
		goto rollback;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, suffix.data, -1, SQLITE_STATIC);
	if (acc_run_count(db, st, &aliases, error_r) < 0)
		goto rollback;
	if (users_r != NULL)
		*users_r = (unsigned)MIN(users, (int64_t)UINT_MAX);
	if (aliases_r != NULL)
		*aliases_r = (unsigned)MIN(aliases, (int64_t)UINT_MAX);
	if (!force && (users > 0 || aliases > 0)) {
		ret = acc_error(db, ACCOUNTS_ERR_IN_USE, error_r,
				"domain '%s' still has %lld user%s and %lld alias%s", canon.data,
				(long long)users, users == 1 ? "" : "s", (long long)aliases,
				aliases == 1 ? "" : "es");
		goto rollback;
	}
	if ((st = acc_stmt(db, ST_DOMAIN_DEL_ALIASES, error_r)) == NULL)
		goto rollback;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, suffix.data, -1, SQLITE_STATIC);
	if (acc_run(db, st, "delete aliases", error_r) < 0)
		goto rollback;
	if ((st = acc_stmt(db, ST_DOMAIN_DEL_USERS, error_r)) == NULL)
		goto rollback;
	sqlite3_bind_int64(st, 1, id);
	if (acc_run(db, st, "delete users", error_r) < 0)
		goto rollback;
	if ((st = acc_stmt(db, ST_DOMAIN_DEL, error_r)) == NULL)
		goto rollback;
	sqlite3_bind_int64(st, 1, id);
	if (acc_run(db, st, "delete domain", error_r) < 0)
		goto rollback;
	ret = acc_commit(db, error_r);
	goto out;
rollback:
	acc_rollback(db);
out:
	buf_release(&canon);
	buf_release(&suffix);
	return ret;
}

int
accounts_domain_exists(struct accounts *db, const char *domain, const char **error_r)
{
	struct buf canon;
	const char *why;
	int64_t id;
	int ret = 0;

	buf_init(&canon, BUF_UNLIMITED);
	if (addr_domain_canon(domain, &canon, &why) == 0)
		ret = acc_domain_id(db, canon.data, &id, error_r);
	buf_release(&canon);
	return ret;
}

int
accounts_domain_list(struct accounts *db, accounts_domain_cb *cb, void *ctx, const char **error_r)
{
	sqlite3_stmt *st = acc_stmt(db, ST_DOMAIN_LIST, error_r);
	int rc, ret = 0;

	if (st == NULL)
		return ACCOUNTS_ERR_INTERNAL;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((ret = cb((const char *)sqlite3_column_text(st, 0), ctx)) != 0)
			break;
	acc_done(st);
	if (ret == 0 && rc != SQLITE_DONE)
		return acc_db_error(db, error_r, "list domains");
	return ret;
}

/* ---- users ---- */

void
accounts_user_clear(struct accounts_user *user)
{
	free(user->address);
	free(user->domain);
	if (user->password != NULL)
		explicit_bzero(user->password, strlen(user->password));
	free(user->password);
	memset(user, 0, sizeof(*user));
}

/* Borrow the columns of a USER_COLUMNS row. */
static void
user_from_row(sqlite3_stmt *st, struct accounts_user *u)
{
	u->id = sqlite3_column_int64(st, 0);
	u->address = (char *)sqlite3_column_text(st, 1);
	u->domain = (char *)sqlite3_column_text(st, 2);
	u->password = (char *)sqlite3_column_text(st, 3);
	u->quota = (uint64_t)sqlite3_column_int64(st, 4);
	u->enabled = sqlite3_column_int(st, 5) != 0;
	u->created = sqlite3_column_int64(st, 6);
}

int
accounts_user_canon(struct accounts *db, const char *address, struct buf *out, const char **error_r)
{
	int ret = acc_canon_addr(db, address, "address", out, error_r);

	if (ret < 0)
		return ret;
	size_t llen = addr_local_len(out->data);
	if (out->data[0] == '"')
		return acc_error(db, ACCOUNTS_ERR_INVALID, error_r,
				 "invalid user '%s': a user name cannot be a quoted string",
				 out->data);
	if (memchr(out->data, '/', llen) != NULL)
		return acc_error(db, ACCOUNTS_ERR_INVALID, error_r,
				 "invalid user '%s': a user name cannot contain '/'", out->data);
	if (memchr(out->data, ADDR_TAG_SEP, llen) != NULL)
		return acc_error(db, ACCOUNTS_ERR_INVALID, error_r,
				 "invalid user '%s': a user name cannot contain '%c' (it "
				 "separates plus-address tags)",
				 out->data, ADDR_TAG_SEP);
	return 0;
}

static int
import_hash(struct accounts *db, const char *hash, struct buf *out, const char **error_r)
{
	const char *why;

	if (password_import(hash, out, &why) < 0)
		return acc_error(db, ACCOUNTS_ERR_INVALID, error_r, "invalid password hash: %s",
				 why);
	return 0;
}

int
accounts_user_add(struct accounts *db, const char *address, const char *password_hash,
		  uint64_t quota, bool enabled, const char **error_r)
{
	struct buf canon, hash;
	sqlite3_stmt *st;
	int64_t domain_id;
	int ret;

	buf_init(&canon, BUF_UNLIMITED);
	buf_init(&hash, BUF_UNLIMITED);
	if ((ret = accounts_user_canon(db, address, &canon, error_r)) < 0 ||
	    (ret = import_hash(db, password_hash, &hash, error_r)) < 0)
		goto out;
	if (quota > INT64_MAX) {
		ret = acc_error(db, ACCOUNTS_ERR_INVALID, error_r, "quota too large");
		goto out;
	}
	if ((ret = acc_begin(db, true, error_r)) < 0)
		goto out;
	const char *domain = addr_domain_part(canon.data);
	if ((ret = acc_domain_id(db, domain, &domain_id, error_r)) <= 0) {
		if (ret == 0)
			ret = acc_error(db, ACCOUNTS_ERR_NOT_FOUND, error_r, "unknown domain '%s'",
					domain);
		goto rollback;
	}
	if ((ret = acc_user_exists(db, canon.data, error_r)) != 0) {
		if (ret > 0)
			ret = acc_error(db, ACCOUNTS_ERR_EXISTS, error_r,
					"user '%s' already exists", canon.data);
		goto rollback;
	}
	if ((st = acc_stmt(db, ST_USER_ADD, error_r)) == NULL) {
		ret = ACCOUNTS_ERR_INTERNAL;
		goto rollback;
	}
	sqlite3_bind_text(st, 1, canon.data, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, domain_id);
	sqlite3_bind_text(st, 3, hash.data, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)quota);
	sqlite3_bind_int(st, 5, enabled ? 1 : 0);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)time(NULL));
	if ((ret = acc_run(db, st, "add user", error_r)) < 0)
		goto rollback;
	ret = acc_commit(db, error_r);
	goto out;
rollback:
	acc_rollback(db);
out:
	buf_release(&canon);
	if (hash.data != NULL)
		explicit_bzero(hash.data, hash.len);
	buf_release(&hash);
	return ret;
}

int
accounts_user_del(struct accounts *db, const char *address, unsigned *aliases_left_r,
		  const char **error_r)
{
	struct buf canon;
	sqlite3_stmt *st;
	int64_t left = 0;
	int ret;

	if (aliases_left_r != NULL)
		*aliases_left_r = 0;
	buf_init(&canon, BUF_UNLIMITED);
	if ((ret = acc_canon_addr(db, address, "address", &canon, error_r)) < 0)
		goto out;
	if ((ret = acc_begin(db, true, error_r)) < 0)
		goto out;
	ret = ACCOUNTS_ERR_INTERNAL;
	if ((st = acc_stmt(db, ST_USER_DEL, error_r)) == NULL)
		goto rollback;
	sqlite3_bind_text(st, 1, canon.data, -1, SQLITE_STATIC);
	if (acc_run(db, st, "delete user", error_r) < 0)
		goto rollback;
	if (sqlite3_changes(db->db) == 0) {
		ret =
		    acc_error(db, ACCOUNTS_ERR_NOT_FOUND, error_r, "no such user '%s'", canon.data);
		goto rollback;
	}
	if ((st = acc_stmt(db, ST_ALIAS_COUNT_TARGET, error_r)) == NULL)
		goto rollback;
	sqlite3_bind_text(st, 1, canon.data, -1, SQLITE_STATIC);
	if (acc_run_count(db, st, &left, error_r) < 0)
		goto rollback;
	if (aliases_left_r != NULL)
		*aliases_left_r = (unsigned)MIN(left, (int64_t)UINT_MAX);
	ret = acc_commit(db, error_r);
	goto out;
rollback:
	acc_rollback(db);
out:
	buf_release(&canon);
	return ret;
}

int
accounts_user_get(struct accounts *db, const char *address, struct accounts_user *user_r,
		  const char **error_r)
{
	struct buf canon;
	sqlite3_stmt *st;
	int ret, rc;

	memset(user_r, 0, sizeof(*user_r));
	buf_init(&canon, BUF_UNLIMITED);
	if ((ret = acc_canon_addr(db, address, "address", &canon, error_r)) < 0)
		goto out;
	if ((st = acc_stmt(db, ST_USER_GET, error_r)) == NULL) {
		ret = ACCOUNTS_ERR_INTERNAL;
		goto out;
	}
	sqlite3_bind_text(st, 1, canon.data, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		struct accounts_user borrowed;
		user_from_row(st, &borrowed);
		*user_r = borrowed;
		user_r->address = xstrdup(borrowed.address);
		user_r->domain = xstrdup(borrowed.domain);
		user_r->password = xstrdup(borrowed.password);
		ret = 0;
	} else if (rc == SQLITE_DONE) {
		ret =
		    acc_error(db, ACCOUNTS_ERR_NOT_FOUND, error_r, "no such user '%s'", canon.data);
	} else {
		ret = acc_db_error(db, error_r, "user lookup");
	}
	acc_done(st);
out:
	buf_release(&canon);
	return ret;
}

/* UPDATE one user's column ?2 from a bound value; NOT_FOUND when absent. */
static int
user_update(struct accounts *db, const char *address, enum acc_stmt id, const char *text,
	    int64_t number, const char **error_r)
{
	struct buf canon;
	sqlite3_stmt *st;
	int ret;

	buf_init(&canon, BUF_UNLIMITED);
	if ((ret = acc_canon_addr(db, address, "address", &canon, error_r)) < 0)
		goto out;
	if ((ret = acc_begin(db, true, error_r)) < 0)
		goto out;
	if ((st = acc_stmt(db, id, error_r)) == NULL) {
		ret = ACCOUNTS_ERR_INTERNAL;
		goto rollback;
	}
	sqlite3_bind_text(st, 1, canon.data, -1, SQLITE_STATIC);
	if (text != NULL)
		sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 2, number);
	if ((ret = acc_run(db, st, "update user", error_r)) < 0)
		goto rollback;
	if (sqlite3_changes(db->db) == 0) {
		ret =
		    acc_error(db, ACCOUNTS_ERR_NOT_FOUND, error_r, "no such user '%s'", canon.data);
		goto rollback;
	}
	ret = acc_commit(db, error_r);
	goto out;
rollback:
	acc_rollback(db);
out:
	buf_release(&canon);
	return ret;
}

int
accounts_user_set_password(struct accounts *db, const char *address, const char *password_hash,
			   const char **error_r)
{
	struct buf hash;
	int ret;

	buf_init(&hash, BUF_UNLIMITED);
	ret = import_hash(db, password_hash, &hash, error_r);
	if (ret == 0)
		ret = user_update(db, address, ST_USER_SET_PASSWORD, hash.data, 0, error_r);
	if (hash.data != NULL)
		explicit_bzero(hash.data, hash.len);
	buf_release(&hash);
	return ret;
}

int
accounts_user_set_quota(struct accounts *db, const char *address, uint64_t quota,
			const char **error_r)
{
	if (quota > INT64_MAX)
		return acc_error(db, ACCOUNTS_ERR_INVALID, error_r, "quota too large");
	return user_update(db, address, ST_USER_SET_QUOTA, NULL, (int64_t)quota, error_r);
}

int
accounts_user_set_enabled(struct accounts *db, const char *address, bool enabled,
			  const char **error_r)
{
	return user_update(db, address, ST_USER_SET_ENABLED, NULL, enabled ? 1 : 0, error_r);
}

int
accounts_user_set_apop(struct accounts *db, const char *address, const char *secret,
		       const char **error_r)
{
	return user_update(db, address, ST_USER_SET_APOP, secret != NULL ? secret : "", 0, error_r);
}

int
accounts_user_apop(struct accounts *db, const char *address, struct buf *secret_r,
		   const char **error_r)
{
	sqlite3_stmt *st = acc_stmt(db, ST_USER_GET_APOP, error_r);
	int ret = 0;

	if (st == NULL)
		return ACCOUNTS_ERR_INTERNAL;
	sqlite3_bind_text(st, 1, address, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_TEXT) {
		if (buf_add_str(secret_r, (const char *)sqlite3_column_text(st, 0)) < 0)
			ret = acc_error(db, ACCOUNTS_ERR_INTERNAL, error_r, "APOP secret too long");
		else
			ret = 1;
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		ret = acc_db_error(db, error_r, "APOP secret");
	}
	acc_done(st);
	return ret;
}

int
accounts_user_list(struct accounts *db, const char *domain, accounts_user_cb *cb, void *ctx,
		   const char **error_r)
{
	sqlite3_stmt *st;
	int64_t id;
	int rc, ret;

	if ((ret = acc_domain_filter(db, domain, &id, error_r)) < 0)
		return ret;
	st = acc_stmt(db, domain != NULL ? ST_USER_LIST_DOMAIN : ST_USER_LIST_ALL, error_r);
	if (st == NULL)
		return ACCOUNTS_ERR_INTERNAL;
	if (domain != NULL)
		sqlite3_bind_int64(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct accounts_user u;
		user_from_row(st, &u);
		if ((ret = cb(&u, ctx)) != 0)
			break;
	}
	acc_done(st);
	if (ret == 0 && rc != SQLITE_DONE)
		return acc_db_error(db, error_r, "list users");
	return ret;
}
