/* accounts_aliases.c - aliases in the accounts database (see accounts.h). */
#include "lib/common.h"

#include <time.h>

#include <sqlite3.h>

#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/xalloc.h"
#include "store/accounts.h"
#include "store/accounts_int.h"

/* ---- aliases ---- */

/* Canonical alias source: an address, or "@domain" for a catch-all. */
static int
canon_source(struct accounts *db, const char *source, struct buf *out, const char **error_r)
{
	const char *why = "";

	if (source[0] != '@')
		return acc_canon_addr(db, source, "alias source", out, error_r);
	if (buf_add_char(out, '@') < 0 || addr_domain_canon(source + 1, out, &why) < 0)
		return acc_error(db, ACCOUNTS_ERR_INVALID, error_r,
				 "invalid alias source '%.300s': %s", source, why);
	return 0;
}

static const char *
source_domain(const char *canon_source)
{
	return canon_source[0] == '@' ? canon_source + 1 : addr_domain_part(canon_source);
}

/* Each local target must lead to somebody: before the new rows exist
 * (when after is false: catches unknown names), and after (when true:
 * catches loops through the new rows, for the source and each target). */
static int
alias_check(struct accounts *db, const char *source, char **targets, size_t n, bool after,
	    const char **error_r)
{
	struct accounts_rcpt r;
	int status;

	for (size_t i = 0; i <= n; i++) {
		const char *a = i < n ? targets[i] : source;
		if (a[0] == '@' || (i == n && !after))
			continue; /* a catch-all is checked through its targets */
		status = acc_resolve_canon(db, a, &r, error_r);
		accounts_rcpt_clear(&r);
		if (status < 0)
			return status;
		if (status == ACCOUNTS_RCPT_LOOP) {
			char why[sizeof(db->error)];
			if (snprintf(why, sizeof(why), "%s", *error_r) < 0)
				why[0] = '\0';
			return acc_error(db, ACCOUNTS_ERR_INVALID, error_r,
					 "alias '%s' refused: %s", source, why);
		}
		if (status == ACCOUNTS_RCPT_UNKNOWN)
			return acc_error(db, ACCOUNTS_ERR_INVALID, error_r,
					 "alias target '%s' is not a user or alias of local domain "
					 "'%s'",
					 a, addr_domain_part(a));
	}
	return 0;
}

int
accounts_alias_add(struct accounts *db, const char *source, const char *const *targets,
		   size_t target_count, const char **error_r)
{
	struct buf src, t;
	char **canon = NULL;
	size_t n = 0;
	sqlite3_stmt *st;
	int64_t domain_id;
	int ret;

	buf_init(&src, BUF_UNLIMITED);
	buf_init(&t, BUF_UNLIMITED);
	if (target_count == 0) {
		ret = acc_error(db, ACCOUNTS_ERR_INVALID, error_r, "an alias needs a target");
		goto out;
	}
	if (target_count > ACCOUNTS_ALIAS_FANOUT_MAX) {
		ret = acc_error(db, ACCOUNTS_ERR_INVALID, error_r,
				"an alias may have at most %d targets", ACCOUNTS_ALIAS_FANOUT_MAX);
		goto out;
	}
	if ((ret = canon_source(db, source, &src, error_r)) < 0)
		goto out;
	canon = xcalloc(target_count + 1, sizeof(*canon));
	for (size_t i = 0; i < target_count; i++) {
		buf_reset(&t);
		if (targets[i][0] == '@') {
			ret = acc_error(db, ACCOUNTS_ERR_INVALID, error_r,
					"invalid alias target '%.300s': a target must be an "
					"address",
					targets[i]);
			goto out;
		}
		if ((ret = acc_canon_addr(db, targets[i], "alias target", &t, error_r)) < 0)
			goto out;
		bool dup = false;
		for (size_t k = 0; k < n && !dup; k++)
			dup = strcmp(canon[k], t.data) == 0;
		if (!dup)
			canon[n++] = xstrdup(t.data);
	}

	if ((ret = acc_begin(db, true, error_r)) < 0)
		goto out;
	const char *domain = source_domain(src.data);
	if ((ret = acc_domain_id(db, domain, &domain_id, error_r)) <= 0) {
		if (ret == 0)
			ret = acc_error(db, ACCOUNTS_ERR_NOT_FOUND, error_r,
					"unknown domain '%s' (an alias source must be in a local "
					"domain)",
					domain);
		goto rollback;
	}
	if ((ret = alias_check(db, src.data, canon, n, false, error_r)) < 0)
		goto rollback;
	for (size_t i = 0; i < n; i++) {
		ret = ACCOUNTS_ERR_INTERNAL;
		if ((st = acc_stmt(db, ST_ALIAS_EXISTS, error_r)) == NULL)
			goto rollback;
		sqlite3_bind_text(st, 1, src.data, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, canon[i], -1, SQLITE_STATIC);
		int rc = sqlite3_step(st);
		acc_done(st);
		if (rc == SQLITE_ROW) {
			ret = acc_error(db, ACCOUNTS_ERR_EXISTS, error_r,
					"alias '%s' -> '%s' already exists", src.data, canon[i]);
			goto rollback;
		}
		if (rc != SQLITE_DONE) {
			ret = acc_db_error(db, error_r, "alias lookup");
			goto rollback;
		}
		if ((st = acc_stmt(db, ST_ALIAS_ADD, error_r)) == NULL)
			goto rollback;
		sqlite3_bind_text(st, 1, src.data, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, domain_id);
		sqlite3_bind_text(st, 3, canon[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
		if ((ret = acc_run(db, st, "add alias", error_r)) < 0)
			goto rollback;
	}
	if ((ret = alias_check(db, src.data, canon, n, true, error_r)) < 0)
		goto rollback;
	ret = acc_commit(db, error_r);
	goto out;
rollback:
	acc_rollback(db);
out:
	if (canon != NULL)
		acc_strv_free(&canon);
	buf_release(&src);
	buf_release(&t);
	return ret;
}

int
accounts_alias_del(struct accounts *db, const char *source, const char *target,
		   const char **error_r)
{
	struct buf src, t;
	sqlite3_stmt *st;
	int ret;

	buf_init(&src, BUF_UNLIMITED);
	buf_init(&t, BUF_UNLIMITED);
	if ((ret = canon_source(db, source, &src, error_r)) < 0)
		goto out;
	if (target != NULL && (ret = acc_canon_addr(db, target, "alias target", &t, error_r)) < 0)
		goto out;
	if ((ret = acc_begin(db, true, error_r)) < 0)
		goto out;
	if ((st = acc_stmt(db, target != NULL ? ST_ALIAS_DEL_ONE : ST_ALIAS_DEL_ALL, error_r)) ==
	    NULL) {
		ret = ACCOUNTS_ERR_INTERNAL;
		goto rollback;
	}
	sqlite3_bind_text(st, 1, src.data, -1, SQLITE_STATIC);
	if (target != NULL)
		sqlite3_bind_text(st, 2, t.data, -1, SQLITE_STATIC);
	if ((ret = acc_run(db, st, "delete alias", error_r)) < 0)
		goto rollback;
	int deleted = sqlite3_changes(db->db);
	if (deleted == 0) {
		if (target != NULL)
			ret = acc_error(db, ACCOUNTS_ERR_NOT_FOUND, error_r,
					"no alias '%s' -> '%s'", src.data, t.data);
		else
			ret = acc_error(db, ACCOUNTS_ERR_NOT_FOUND, error_r, "no alias '%s'",
					src.data);
		goto rollback;
	}
	if ((ret = acc_commit(db, error_r)) == 0)
		ret = deleted;
	goto out;
rollback:
	acc_rollback(db);
out:
	buf_release(&src);
	buf_release(&t);
	return ret;
}

int
accounts_alias_list(struct accounts *db, const char *domain, accounts_alias_cb *cb, void *ctx,
		    const char **error_r)
{
	sqlite3_stmt *st;
	int64_t id;
	int rc, ret;

	if ((ret = acc_domain_filter(db, domain, &id, error_r)) < 0)
		return ret;
	st = acc_stmt(db, domain != NULL ? ST_ALIAS_LIST_DOMAIN : ST_ALIAS_LIST_ALL, error_r);
	if (st == NULL)
		return ACCOUNTS_ERR_INTERNAL;
	if (domain != NULL)
		sqlite3_bind_int64(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((ret = cb((const char *)sqlite3_column_text(st, 0),
			      (const char *)sqlite3_column_text(st, 1), ctx)) != 0)
			break;
	acc_done(st);
	if (ret == 0 && rc != SQLITE_DONE)
		return acc_db_error(db, error_r, "list aliases");
	return ret;
}

int
accounts_alias_lookup(struct accounts *db, const char *source, accounts_alias_cb *cb, void *ctx,
		      const char **error_r)
{
	struct buf src;
	char **targets = NULL;
	int ret;

	buf_init(&src, BUF_UNLIMITED);
	if ((ret = canon_source(db, source, &src, error_r)) == 0 &&
	    (ret = acc_alias_targets(db, src.data, ACCOUNTS_ALIAS_FANOUT_MAX, &targets, error_r)) >=
		0) {
		for (int i = 0; i < ret; i++) {
			int r = cb(src.data, targets[i], ctx);
			if (r != 0) {
				ret = r;
				break;
			}
		}
	}
	acc_strv_free(&targets);
	buf_release(&src);
	return ret;
}
