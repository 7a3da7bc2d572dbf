/* mailboxes.c - a user's mailbox list: listing, STATUS counters, create,
 * delete, rename (INBOX included), subscriptions, special-use. */
#include "lib/common.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/xalloc.h"
#include "store/names.h"
#include "store/store_private.h"

/* --- listing --- */

static int
info_cmp(const void *pa, const void *pb)
{
	const struct store_mailbox_info *a = pa, *b = pb;
	bool ai = strcmp(a->name, "INBOX") == 0, bi = strcmp(b->name, "INBOX") == 0;

	if (ai != bi)
		return ai ? -1 : 1;
	return strcmp(a->name, b->name);
}

static void
info_from_row(sqlite3_stmt *st, struct store_mailbox_info *info)
{
	memset(info, 0, sizeof(*info));
	info->name = xstrdup((const char *)sqlite3_column_text(st, 0));
	info->special = (enum store_special)sqlite3_column_int(st, 1);
	info->subscribed = sqlite3_column_int(st, 2) != 0;
	info->uidvalidity = (uint32_t)sqlite3_column_int64(st, 3);
	info->uidnext = (uint32_t)sqlite3_column_int64(st, 4);
	info->highestmodseq = (uint64_t)sqlite3_column_int64(st, 5);
}

#define INFO_COLUMNS "name, special, subscribed, uidvalidity, uidnext, highestmodseq"

int
store_mailbox_list(struct store_user *user, struct store_mailbox_info **list_r, size_t *count_r,
		   const char **error_r)
{
	struct store_mailbox_info *v = NULL;
	size_t n = 0;
	sqlite3_stmt *st;
	int rc;

	if (reconcile_if_needed(user, error_r) < 0)
		return -1;
	if (sqlite3_prepare_v2(user->db, "SELECT " INFO_COLUMNS " FROM mailboxes", -1, &st, NULL) !=
	    SQLITE_OK)
		return user_db_fail(user, error_r, "mailbox list");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = xreallocarray(v, n + 1, sizeof(*v));
		info_from_row(st, &v[n++]);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		store_mailbox_list_free(&v, n);
		return user_db_fail(user, error_r, "mailbox list");
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), info_cmp);
	/* In name order, whatever is below a mailbox follows it, possibly
	 * after siblings whose names continue with a byte below '.'. */
	for (size_t i = 0; i < n; i++)
		for (size_t k = i + 1;
		     k < n && strncmp(v[k].name, v[i].name, strlen(v[i].name)) == 0; k++)
			if (mailbox_name_is_below(v[k].name, v[i].name)) {
				v[i].has_children = true;
				break;
			}
	if (n > 0 && strcmp(v[0].name, "INBOX") == 0)
		for (size_t k = 1; k < n; k++)
			if (mailbox_name_is_below(v[k].name, "INBOX")) {
				v[0].has_children = true;
				break;
			}
	*list_r = v;
	*count_r = n;
	return (int)MIN(n, (size_t)INT32_MAX);
}

void
store_mailbox_list_free(struct store_mailbox_info **list, size_t count)
{
	if (*list == NULL)
		return;
	for (size_t i = 0; i < count; i++)
		free((*list)[i].name);
	free(*list);
	*list = NULL;
}

void
store_mailbox_info_release(struct store_mailbox_info *info)
{
	free(info->name);
	info->name = NULL;
}

int
store_mailbox_info(struct store_user *user, const char *name, struct store_mailbox_info *info_r,
		   const char **error_r)
{
	struct resolved r;
	sqlite3_stmt *st;

	if (resolve(user, name, &r, error_r) < 0)
		return -1;
	if (sqlite3_prepare_v2(user->db,
			       "SELECT " INFO_COLUMNS ", id, message_count, bytes FROM mailboxes"
			       " WHERE name = ?",
			       -1, &st, NULL) != SQLITE_OK) {
		resolved_release(&r);
		return user_db_fail(user, error_r, "mailbox lookup");
	}
	sqlite3_bind_text(st, 1, buf_cstr(&r.name), -1, SQLITE_TRANSIENT);
	resolved_release(&r);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		if (rc == SQLITE_DONE)
			return user_fail(user, error_r, ENOENT, "no mailbox %s", name);
		return user_db_fail(user, error_r, "mailbox lookup");
	}
	info_from_row(st, info_r);
	int64_t id = sqlite3_column_int64(st, 6);
	info_r->messages = (uint32_t)sqlite3_column_int64(st, 7);
	info_r->bytes = (uint64_t)sqlite3_column_int64(st, 8);
	sqlite3_finalize(st);
	/* The count and bytes are kept in the row; the unseen messages are
	 * counted in the partial index (the literal 1 is STORE_FLAG_SEEN: a
	 * bound parameter would not match the index's WHERE). */
	if (sqlite3_prepare_v2(user->db,
			       "SELECT count(*) FROM messages INDEXED BY messages_unseen"
			       " WHERE mailbox = ? AND flags & 1 = 0",
			       -1, &st, NULL) != SQLITE_OK) {
		store_mailbox_info_release(info_r);
		return user_db_fail(user, error_r, "mailbox count");
	}
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		info_r->unseen = (uint32_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW) {
		store_mailbox_info_release(info_r);
		return user_db_fail(user, error_r, "mailbox count");
	}
	return 0;
}

/* --- changes to the list --- */

/* How many mailboxes the user has (INT64_MAX on error, so that a caller
 * checking a limit refuses). */
static int64_t
mailbox_count(struct store_user *user, const char **error_r)
{
	sqlite3_stmt *st;
	int64_t n = INT64_MAX;

	if (sqlite3_prepare_v2(user->db, "SELECT count(*) FROM mailboxes", -1, &st, NULL) !=
	    SQLITE_OK) {
		user_db_fail(user, error_r, "mailbox count");
		return n;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	else
		user_db_fail(user, error_r, "mailbox count");
	sqlite3_finalize(st);
	return n;
}

int
store_mailbox_create(struct store_user *user, const char *name, enum store_special special,
		     const char **error_r)
{
	struct resolved r;
	struct mailbox_row row;

	if (resolve(user, name, &r, error_r) < 0)
		return -1;
	int ret = -1;
	if (idx_begin(user, error_r) < 0)
		goto out;
	int found = idx_mailbox_get(user, buf_cstr(&r.name), &row, error_r);
	if (found == 0) {
		mailbox_row_release(&row);
		user_fail(user, error_r, EEXIST, "mailbox %s already exists", buf_cstr(&r.name));
	} else if (found == 1 && mailbox_count(user, error_r) >= STORE_MAILBOXES_MAX) {
		user_fail(user, error_r, EDQUOT, "too many mailboxes (at most %d)",
			  STORE_MAILBOXES_MAX);
	} else if (found == 1) {
		struct stat st;
		/* A folder left on disk by a crash or another program is
		 * adopted, not emptied. */
		if (fstatat(user->dir_fd, buf_cstr(&r.dir), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    !S_ISDIR(st.st_mode))
			user_fail(user, error_r, EEXIST, "%s/%s exists and is not a directory",
				  user->rel, buf_cstr(&r.dir));
		else if (maildir_make(user, buf_cstr(&r.dir), true, error_r) == 0 &&
			 idx_mailbox_add(user, buf_cstr(&r.name), buf_cstr(&r.dir), special, true,
					 NULL, error_r) == 0)
			ret = 0;
	}
	if (ret == 0)
		ret = idx_commit(user, error_r);
	else
		idx_rollback(user);
out:
	resolved_release(&r);
	return ret;
}

int
store_mailbox_delete(struct store_user *user, const char *name, const char **error_r)
{
	struct resolved r;
	struct mailbox_row row;
	char trash[64];
	int ret = -1;

	if (resolve(user, name, &r, error_r) < 0)
		return -1;
	if (strcmp(buf_cstr(&r.name), "INBOX") == 0) {
		resolved_release(&r);
		return user_fail(user, error_r, EPERM, "INBOX cannot be deleted");
	}
	if (idx_begin(user, error_r) < 0)
		goto out;
	int found = idx_mailbox_get(user, buf_cstr(&r.name), &row, error_r);
	if (found != 0) {
		if (found == 1)
			user_fail(user, error_r, ENOENT, "no mailbox %s", buf_cstr(&r.name));
		idx_rollback(user);
		goto out;
	}
	/* Out of sight first (a rename), rows next, files last: a crash
	 * leaves a trash directory that the next listing removes. */
	(void)snprintf(trash, sizeof(trash), TRASH_PREFIX "%lld.%ld", (long long)row.id,
		       (long)getpid());
	if (renameat(user->dir_fd, row.dir, user->dir_fd, trash) < 0 && errno != ENOENT) {
		user_fail(user, error_r, 0, "%s/%s: %s", user->rel, row.dir, strerror(errno));
		idx_rollback(user);
	} else if (delete_mailbox_rows(user, row.id, error_r) < 0 ||
		   idx_commit(user, error_r) < 0) {
		idx_rollback(user);
		(void)renameat(user->dir_fd, trash, user->dir_fd, row.dir);
	} else {
		(void)maildir_remove_tree(user->dir_fd, trash);
		ret = 0;
	}
	mailbox_row_release(&row);
out:
	resolved_release(&r);
	return ret;
}

struct rename_step {
	int64_t id;
	char *old_dir;
	char *new_name;
	char *new_dir;
	bool done;
};

static void
undo_renames(struct store_user *user, struct rename_step *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i].done)
			(void)renameat(user->dir_fd, s[i].new_dir, user->dir_fd, s[i].old_dir);
}

static int
update_name(struct store_user *user, const struct rename_step *s, const char **error_r)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(user->db, "UPDATE mailboxes SET name = ?, dir = ? WHERE id = ?", -1,
			       &st, NULL) != SQLITE_OK)
		return user_db_fail(user, error_r, "mailbox rename");
	sqlite3_bind_text(st, 1, s->new_name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, s->new_dir, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, s->id);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_CONSTRAINT)
		return user_fail(user, error_r, EEXIST, "mailbox %s already exists", s->new_name);
	if (rc != SQLITE_DONE)
		return user_db_fail(user, error_r, "mailbox rename");
	return 0;
}

/* RFC 3501: renaming INBOX moves its messages to a new mailbox. */
static int rename_inbox(struct store_user *user, const struct resolved *to, const char **error_r);

int
store_mailbox_rename(struct store_user *user, const char *from, const char *to,
		     const char **error_r)
{
	struct resolved rf, rt;
	struct rename_step *steps = NULL;
	size_t n = 0;
	int ret = -1;

	if (resolve(user, from, &rf, error_r) < 0)
		return -1;
	if (resolve(user, to, &rt, error_r) < 0) {
		resolved_release(&rf);
		return -1;
	}
	const char *fname = buf_cstr(&rf.name), *tname = buf_cstr(&rt.name);
	if (strcmp(tname, "INBOX") == 0 || mailbox_name_is_below(tname, fname) ||
	    strcmp(tname, fname) == 0) {
		user_fail(user, error_r, EINVAL, "cannot rename %s to %s", fname, tname);
		goto out;
	}
	if (idx_begin(user, error_r) < 0)
		goto out;
	if (strcmp(fname, "INBOX") == 0) {
		ret = rename_inbox(user, &rt, error_r);
		if (ret == 0)
			ret = idx_commit(user, error_r);
		else
			idx_rollback(user);
		goto out;
	}
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(user->db, "SELECT id, name, dir FROM mailboxes", -1, &st, NULL) !=
	    SQLITE_OK) {
		user_db_fail(user, error_r, "mailbox list");
		idx_rollback(user);
		goto out;
	}
	size_t flen = strlen(fname);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 1);
		if (strcmp(name, fname) != 0 && !mailbox_name_is_below(name, fname))
			continue;
		struct resolved nr;
		char *new_name = xasprintf("%s%s", tname, name + flen);
		if (resolve(user, new_name, &nr, error_r) < 0) {
			free(new_name);
			sqlite3_finalize(st);
			idx_rollback(user);
			goto out;
		}
		free(new_name);
		steps = xreallocarray(steps, n + 1, sizeof(*steps));
		steps[n].id = sqlite3_column_int64(st, 0);
		steps[n].old_dir = xstrdup((const char *)sqlite3_column_text(st, 2));
		steps[n].new_name = xstrdup(buf_cstr(&nr.name));
		steps[n].new_dir = xstrdup(buf_cstr(&nr.dir));
		steps[n].done = false;
		n++;
		resolved_release(&nr);
	}
	sqlite3_finalize(st);
	if (n == 0) {
		user_fail(user, error_r, ENOENT, "no mailbox %s", fname);
		idx_rollback(user);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct stat sb;
		if (fstatat(user->dir_fd, steps[i].new_dir, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
			user_fail(user, error_r, EEXIST, "mailbox %s already exists",
				  steps[i].new_name);
			goto undo;
		}
		if (update_name(user, &steps[i], error_r) < 0)
			goto undo;
		if (renameat(user->dir_fd, steps[i].old_dir, user->dir_fd, steps[i].new_dir) < 0) {
			user_fail(user, error_r, 0, "%s/%s: %s", user->rel, steps[i].old_dir,
				  strerror(errno));
			goto undo;
		}
		steps[i].done = true;
	}
	if (idx_changed(user, error_r) == 0 && idx_commit(user, error_r) == 0) {
		ret = 0;
		goto out;
	}
undo:
	idx_rollback(user);
	undo_renames(user, steps, n);
out:
	for (size_t i = 0; i < n; i++) {
		free(steps[i].old_dir);
		free(steps[i].new_name);
		free(steps[i].new_dir);
	}
	free(steps);
	resolved_release(&rf);
	resolved_release(&rt);
	return ret;
}

/* Move one file of INBOX into the new mailbox's directory. */
static int
move_inbox_file(struct store_user *user, int to_fd, const char *file, const char **error_r)
{
	/* file is "new/NAME" or "cur/NAME": the same relative path. */
	if (renameat(user->dir_fd, file, to_fd, file) < 0 && errno != ENOENT)
		return user_fail(user, error_r, 0, "%s/%s: %s", user->rel, file, strerror(errno));
	return 0;
}

static int
rename_inbox(struct store_user *user, const struct resolved *to, const char **error_r)
{
	struct mailbox_row inbox, target;
	int64_t to_id;
	sqlite3_stmt *st;
	int ret = -1;

	int found = idx_mailbox_get(user, buf_cstr(&to->name), &target, error_r);
	if (found <= 0) {
		if (found == 0) {
			mailbox_row_release(&target);
			user_fail(user, error_r, EEXIST, "mailbox %s already exists",
				  buf_cstr(&to->name));
		}
		return -1;
	}
	if (idx_mailbox_get(user, "INBOX", &inbox, error_r) != 0)
		return -1;
	if (maildir_make(user, buf_cstr(&to->dir), true, error_r) < 0 ||
	    idx_mailbox_add(user, buf_cstr(&to->name), buf_cstr(&to->dir), STORE_SPECIAL_NONE, true,
			    &to_id, error_r) < 0)
		goto out;
	int to_fd = openat(user->dir_fd, buf_cstr(&to->dir),
			   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (to_fd < 0) {
		user_fail(user, error_r, 0, "%s/%s: %s", user->rel, buf_cstr(&to->dir),
			  strerror(errno));
		goto out;
	}
	if (sqlite3_prepare_v2(user->db, "SELECT file FROM messages WHERE mailbox = ?", -1, &st,
			       NULL) != SQLITE_OK) {
		close(to_fd);
		user_db_fail(user, error_r, "message list");
		goto out;
	}
	sqlite3_bind_int64(st, 1, inbox.id);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (move_inbox_file(user, to_fd, (const char *)sqlite3_column_text(st, 0),
				    error_r) < 0)
			break;
	sqlite3_finalize(st);
	close(to_fd);
	if (rc != SQLITE_DONE) {
		if (rc != SQLITE_ROW)
			user_db_fail(user, error_r, "message list");
		goto out;
	}
	/* The messages keep their UIDs (and their keywords) in the new
	 * mailbox; INBOX keeps its UIDNEXT, so that no UID is used twice
	 * there. */
	char *sql = xasprintf("INSERT OR REPLACE INTO expunged (mailbox, uid, modseq)"
			      " SELECT %lld, uid, %llu FROM messages WHERE mailbox = %lld;"
			      "UPDATE messages SET mailbox = %lld WHERE mailbox = %lld;"
			      "INSERT OR IGNORE INTO keywords (mailbox, name)"
			      " SELECT %lld, name FROM keywords WHERE mailbox = %lld;"
			      "DELETE FROM keywords WHERE mailbox = %lld;"
			      "UPDATE mailboxes SET uidnext = %lu, highestmodseq = %llu,"
			      " new_mtime = 0, cur_mtime = 0 WHERE id = %lld;"
			      "UPDATE mailboxes SET highestmodseq = highestmodseq + 1,"
			      " new_mtime = 0, cur_mtime = 0 WHERE id = %lld;",
			      (long long)inbox.id, (unsigned long long)inbox.highestmodseq + 1,
			      (long long)inbox.id, (long long)to_id, (long long)inbox.id,
			      (long long)to_id, (long long)inbox.id, (long long)inbox.id,
			      (unsigned long)inbox.uidnext, (unsigned long long)inbox.highestmodseq,
			      (long long)to_id, (long long)inbox.id);
	ret = idx_exec(user, sql, error_r);
	free(sql);
out:
	mailbox_row_release(&inbox);
	return ret;
}

static int
update_mailbox_column(struct store_user *user, const char *name, const char *column, int value,
		      const char **error_r)
{
	struct resolved r;
	sqlite3_stmt *st;

	if (resolve(user, name, &r, error_r) < 0)
		return -1;
	char *sql = xasprintf("UPDATE mailboxes SET %s = ? WHERE name = ?", column);
	int rc = sqlite3_prepare_v2(user->db, sql, -1, &st, NULL);
	free(sql);
	if (rc != SQLITE_OK) {
		resolved_release(&r);
		return user_db_fail(user, error_r, "mailbox update");
	}
	sqlite3_bind_int(st, 1, value);
	sqlite3_bind_text(st, 2, buf_cstr(&r.name), -1, SQLITE_TRANSIENT);
	resolved_release(&r);
	if (idx_begin(user, error_r) < 0) {
		sqlite3_finalize(st);
		return -1;
	}
	rc = sqlite3_step(st);
	int changed = sqlite3_changes(user->db);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		user_db_fail(user, error_r, "mailbox update");
		idx_rollback(user);
		return -1;
	}
	if (changed == 0) {
		idx_rollback(user);
		return user_fail(user, error_r, ENOENT, "no mailbox %s", name);
	}
	if (idx_changed(user, error_r) < 0 || idx_commit(user, error_r) < 0) {
		idx_rollback(user);
		return -1;
	}
	return 0;
}

int
store_mailbox_subscribe(struct store_user *user, const char *name, bool subscribed,
			const char **error_r)
{
	return update_mailbox_column(user, name, "subscribed", subscribed ? 1 : 0, error_r);
}

int
store_mailbox_set_special(struct store_user *user, const char *name, enum store_special special,
			  const char **error_r)
{
	if ((unsigned)special > STORE_SPECIAL_ARCHIVE)
		return user_fail(user, error_r, EINVAL, "bad special-use value");
	return update_mailbox_column(user, name, "special", (int)special, error_r);
}
