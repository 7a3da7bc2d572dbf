/* user.c - a user's store: opening (and creating) it, and the mailbox list
 * (list, create, delete, rename, subscriptions, special-use). */
#include "lib/common.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/names.h"
#include "store/store_private.h"

/* Prefix of a deleted mailbox's directory until its files are removed: a
 * leading ".." is never a Maildir++ folder. */
#define TRASH_PREFIX "..postern-deleted-"

static const struct {
	const char *name;
	enum store_special special;
} default_mailboxes[] = {
    {"INBOX", STORE_SPECIAL_NONE},    {"Sent", STORE_SPECIAL_SENT},
    {"Drafts", STORE_SPECIAL_DRAFTS}, {"Trash", STORE_SPECIAL_TRASH},
    {"Junk", STORE_SPECIAL_JUNK},     {"Archive", STORE_SPECIAL_ARCHIVE},
};

/* A name resolved to its normal form and directory. */
struct resolved {
	struct buf name;
	struct buf dir;
};

static int
resolve(struct store_user *user, const char *name, struct resolved *r, const char **error_r)
{
	const char *why;

	buf_init(&r->name, STORE_MAILBOX_NAME_MAX + 8);
	buf_init(&r->dir, 256);
	if (mailbox_name_resolve(name, &r->name, &r->dir, &why) < 0) {
		buf_release(&r->name);
		buf_release(&r->dir);
		return user_fail(user, error_r, EINVAL, "%s", why);
	}
	return 0;
}

static void
resolved_release(struct resolved *r)
{
	buf_release(&r->name);
	buf_release(&r->dir);
}

int
mailboxes_create_defaults(struct store_user *user, bool durable, const char **error_r)
{
	struct resolved r;
	struct mailbox_row row;

	for (size_t i = 0; i < N_ELEMENTS(default_mailboxes); i++) {
		if (resolve(user, default_mailboxes[i].name, &r, error_r) < 0)
			return -1;
		int found = idx_mailbox_get(user, buf_cstr(&r.name), &row, error_r);
		if (found == 0)
			mailbox_row_release(&row);
		int ret = found < 0 ? -1 : 0;
		if (found == 1 &&
		    (maildir_make(user, buf_cstr(&r.dir), durable, error_r) < 0 ||
		     idx_mailbox_add(user, buf_cstr(&r.name), buf_cstr(&r.dir),
				     default_mailboxes[i].special, true, NULL, error_r) < 0))
			ret = -1;
		resolved_release(&r);
		if (ret < 0)
			return -1;
	}
	return 0;
}

static int
move_index_aside(struct store_user *user, const char **error_r)
{
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	long long now = (long long)time(NULL);

	for (size_t i = 0; i < N_ELEMENTS(suffixes); i++) {
		char from[32], to[64];
		(void)snprintf(from, sizeof(from), "index.db%s", suffixes[i]);
		(void)snprintf(to, sizeof(to), "index.db.broken-%lld%s", now, suffixes[i]);
		if (renameat(user->dir_fd, from, user->dir_fd, to) < 0 && errno != ENOENT)
			return user_fail(user, error_r, 0, "%s/%s: %s", user->rel, from,
					 strerror(errno));
	}
	log_warning("%s: unreadable index moved aside as index.db.broken-%lld; building a new "
		    "one (new UIDVALIDITY)",
		    user->address, now);
	return 0;
}

int
store_user_open(struct store *store, const char *address, bool create, struct store_user **user_r,
		const char **error_r)
{
	return user_open(store, address, create, create, user_r, error_r);
}

int
user_open(struct store *store, const char *address, bool create_dir, bool create_index,
	  struct store_user **user_r, const char **error_r)
{
	const char *local, *domain, *why;
	size_t llen, dlen;
	bool created, index_created;

	if (store_address_split(address, &local, &llen, &domain, &dlen, &why) < 0) {
		errno = EINVAL;
		return store_fail(store, error_r, "%s: %s", address, why);
	}
	struct store_user *user = xcalloc(1, sizeof(*user));
	user->store = store;
	user->dir_fd = -1;
	user->address = xstrdup(address);
	user->rel = xasprintf("mail/%.*s/%.*s", (int)dlen, domain, (int)llen, local);
	user->index_rel = xasprintf("%s/index.db", user->rel);
	if (maildir_user_dir(user, domain, dlen, local, llen, create_dir, &created, error_r) < 0)
		goto fail;
	if (created && maildir_make(user, "", true, error_r) < 0)
		goto fail;
	if (index_open(user, create_index, &index_created, error_r) < 0) {
		/* The index is rebuildable: one SQLite cannot read is kept
		 * aside for inspection and made anew (UIDVALIDITY changes). */
		if (errno != EBADMSG || !create_index || move_index_aside(user, error_r) < 0 ||
		    index_open(user, true, &index_created, error_r) < 0)
			goto fail;
	}
	user->index_created = index_created;
	if (create_index) {
		struct mailbox_row row;
		int found = idx_mailbox_get(user, "INBOX", &row, error_r);
		if (found < 0)
			goto fail;
		if (found == 0) {
			mailbox_row_release(&row);
		} else {
			/* A new user, or an index being rebuilt: under the lock,
			 * so that two first deliveries do this once. */
			if (idx_begin(user, error_r) < 0)
				goto fail;
			if (mailboxes_create_defaults(user, true, error_r) < 0 ||
			    idx_commit(user, error_r) < 0) {
				idx_rollback(user);
				goto fail;
			}
		}
	}
	struct stat st;
	if (fstat(user->dir_fd, &st) == 0) {
		user->dir_dev = st.st_dev;
		user->dir_ino = st.st_ino;
	}
	if (fstatat(user->dir_fd, "index.db", &st, AT_SYMLINK_NOFOLLOW) == 0)
		user->index_ino = st.st_ino;
	*user_r = user;
	return 0;
fail:;
	int err = errno;
	if (error_r != NULL && *error_r == user->error) {
		(void)snprintf(store->error, sizeof(store->error), "%s", user->error);
		*error_r = store->error;
	}
	store_user_close(&user);
	errno = err;
	return -1;
}

void
store_user_close(struct store_user **userp)
{
	struct store_user *user = *userp;

	if (user == NULL)
		return;
	index_close(user);
	if (user->dir_fd >= 0)
		close(user->dir_fd);
	free(user->address);
	free(user->rel);
	free(user->index_rel);
	free(user);
	*userp = NULL;
}

static bool
still_valid(struct store_user *user)
{
	struct stat st;

	if (fstatat(user->store->data_fd, user->rel, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    st.st_dev != user->dir_dev || st.st_ino != user->dir_ino)
		return false;
	if (fstatat(user->dir_fd, "index.db", &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    st.st_ino != user->index_ino)
		return false;
	return true;
}

int
user_cache_get(struct store *store, const char *address, struct store_user **user_r,
	       const char **error_r)
{
	for (size_t i = 0; i < STORE_USER_CACHE; i++) {
		struct store_user *u = store->cache[i];
		if (u == NULL || strcmp(u->address, address) != 0)
			continue;
		store->cache[i] = NULL;
		if (still_valid(u)) {
			u->error[0] = '\0';
			*user_r = u;
			return 0;
		}
		store_user_close(&u); /* deleted, moved, or its index replaced */
		break;
	}
	return store_user_open(store, address, true, user_r, error_r);
}

void
user_cache_put(struct store *store, struct store_user **userp)
{
	struct store_user *user = *userp;
	size_t slot = 0;

	if (user == NULL)
		return;
	*userp = NULL;
	if (user->db == NULL || user->depth != 0) {
		store_user_close(&user);
		return;
	}
	user->last_used = time(NULL);
	for (size_t i = 0; i < STORE_USER_CACHE; i++) {
		if (store->cache[i] == NULL) {
			slot = i;
			break;
		}
		if (store->cache[i]->last_used < store->cache[slot]->last_used)
			slot = i;
	}
	store_user_close(&store->cache[slot]);
	store->cache[slot] = user;
}

void
store_cache_trim(struct store *store, time_t max_idle)
{
	time_t now = time(NULL);

	for (size_t i = 0; i < STORE_USER_CACHE; i++)
		if (store->cache[i] != NULL && store->cache[i]->last_used <= now - max_idle)
			store_user_close(&store->cache[i]);
}

const char *
store_user_index_path(const struct store_user *user)
{
	return user->index_rel;
}

static int
read_state(struct store_user *user, uint64_t *bytes, uint64_t *messages, uint64_t *changes,
	   const char **error_r)
{
	sqlite3_stmt *st = idx_stmt(user, ST_USAGE);

	if (st == NULL || sqlite3_step(st) != SQLITE_ROW) {
		if (st != NULL)
			sqlite3_reset(st);
		return user_db_fail(user, error_r, "state");
	}
	if (bytes != NULL)
		*bytes = (uint64_t)sqlite3_column_int64(st, 0);
	if (messages != NULL)
		*messages = (uint64_t)sqlite3_column_int64(st, 1);
	if (changes != NULL)
		*changes = (uint64_t)sqlite3_column_int64(st, 2);
	sqlite3_reset(st);
	return 0;
}

int
store_user_changes(struct store_user *user, uint64_t *changes_r, const char **error_r)
{
	return read_state(user, NULL, NULL, changes_r, error_r);
}

int
store_user_usage(struct store_user *user, uint64_t *bytes_r, uint64_t *messages_r,
		 const char **error_r)
{
	return read_state(user, bytes_r, messages_r, NULL, error_r);
}

/* --- reconciling the mailbox list with the folders on disk --- */

struct disk_folder {
	char *name;
	char *dir;
};

static int
folder_cmp(const void *a, const void *b)
{
	return strcmp(((const struct disk_folder *)a)->dir, ((const struct disk_folder *)b)->dir);
}

/* The folder directories of the user's Maildir, sorted by directory;
 * leftovers of interrupted deletions are removed on the way. */
static int
read_folders(struct store_user *user, struct disk_folder **v_r, size_t *n_r, const char **error_r)
{
	int fd = openat(user->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct disk_folder *v = NULL;
	size_t n = 0;
	struct buf name;

	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return user_fail(user, error_r, 0, "%s: %s", user->rel, strerror(errno));
	}
	buf_init(&name, STORE_MAILBOX_NAME_MAX * 4);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, TRASH_PREFIX, strlen(TRASH_PREFIX)) == 0) {
			(void)maildir_remove_tree(user->dir_fd, e->d_name);
			continue;
		}
		if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN)
			continue;
		if (mailbox_dir_to_name(e->d_name, &name) < 0)
			continue;
		struct stat st;
		if (e->d_type == DT_UNKNOWN &&
		    (fstatat(user->dir_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		     !S_ISDIR(st.st_mode)))
			continue;
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n].name = xstrdup(name.data);
		v[n].dir = xstrdup(e->d_name);
		n++;
	}
	closedir(d);
	buf_release(&name);
	if (n > 1)
		qsort(v, n, sizeof(*v), folder_cmp);
	*v_r = v;
	*n_r = n;
	return 0;
}

static void
folders_free(struct disk_folder *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].dir);
	}
	free(v);
}

static int
delete_mailbox_rows(struct store_user *user, int64_t id, const char **error_r)
{
	static const char *const sql[] = {
	    "DELETE FROM messages WHERE mailbox = ?",
	    "DELETE FROM expunged WHERE mailbox = ?",
	    "DELETE FROM mailboxes WHERE id = ?",
	};

	for (size_t i = 0; i < N_ELEMENTS(sql); i++) {
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(user->db, sql[i], -1, &st, NULL) != SQLITE_OK)
			return user_db_fail(user, error_r, "mailbox delete");
		sqlite3_bind_int64(st, 1, id);
		int rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return user_db_fail(user, error_r, "mailbox delete");
	}
	return idx_changed(user, error_r);
}

/* Compare the mailbox rows with the folders on disk; with apply, adopt new
 * folders and drop rows whose folder is gone. *differs_r tells whether
 * anything differed. */
static int
reconcile(struct store_user *user, bool apply, bool *differs_r, const char **error_r)
{
	struct disk_folder *v = NULL;
	size_t n = 0;
	sqlite3_stmt *st;
	int ret = -1;

	*differs_r = false;
	if (read_folders(user, &v, &n, error_r) < 0)
		return -1;
	bool *seen = xcalloc(n + 1, sizeof(*seen));
	if (sqlite3_prepare_v2(user->db, "SELECT id, name, dir FROM mailboxes WHERE dir != ''", -1,
			       &st, NULL) != SQLITE_OK) {
		user_db_fail(user, error_r, "mailbox list");
		goto out;
	}
	int64_t *gone = NULL;
	size_t ngone = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct disk_folder key = {.dir = (char *)sqlite3_column_text(st, 2)};
		struct disk_folder *f = n == 0 ? NULL : bsearch(&key, v, n, sizeof(*v), folder_cmp);
		if (f != NULL) {
			seen[f - v] = true;
			continue;
		}
		gone = xreallocarray(gone, ngone + 1, sizeof(*gone));
		gone[ngone++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(gone);
		user_db_fail(user, error_r, "mailbox list");
		goto out;
	}
	ret = 0;
	for (size_t i = 0; i < ngone && ret == 0; i++) {
		*differs_r = true;
		if (apply) {
			log_info("%s: mailbox directory of id %lld is gone; dropped", user->address,
				 (long long)gone[i]);
			ret = delete_mailbox_rows(user, gone[i], error_r);
		}
	}
	free(gone);
	for (size_t i = 0; i < n && ret == 0; i++) {
		if (seen[i])
			continue;
		*differs_r = true;
		if (apply) {
			log_info("%s: adopted folder %s", user->address, v[i].dir);
			ret = maildir_make(user, v[i].dir, false, error_r);
			if (ret == 0)
				ret = idx_mailbox_add(user, v[i].name, v[i].dir, STORE_SPECIAL_NONE,
						      true, NULL, error_r);
		}
	}
out:
	free(seen);
	folders_free(v, n);
	return ret;
}

int
mailboxes_reconcile(struct store_user *user, const char **error_r)
{
	bool differs;

	return reconcile(user, true, &differs, error_r);
}

/* Reconcile if needed, taking the write lock only when something differs. */
static int
reconcile_if_needed(struct store_user *user, const char **error_r)
{
	bool differs;

	if (reconcile(user, false, &differs, error_r) < 0)
		return -1;
	if (!differs)
		return 0;
	if (idx_begin(user, error_r) < 0)
		return -1;
	if (mailboxes_reconcile(user, error_r) < 0 || idx_commit(user, error_r) < 0) {
		idx_rollback(user);
		return -1;
	}
	return 0;
}

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
			       "SELECT " INFO_COLUMNS ", id FROM mailboxes WHERE name = ?", -1, &st,
			       NULL) != SQLITE_OK) {
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
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(
		user->db,
		"SELECT count(*), total(flags & 1 = 0), total(disk_size) FROM messages"
		" WHERE mailbox = ?",
		-1, &st, NULL) != SQLITE_OK) {
		store_mailbox_info_release(info_r);
		return user_db_fail(user, error_r, "mailbox count");
	}
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		info_r->messages = (uint32_t)sqlite3_column_int64(st, 0);
		info_r->unseen = (uint32_t)sqlite3_column_double(st, 1);
		info_r->bytes = (uint64_t)sqlite3_column_double(st, 2);
	}
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
	/* The messages keep their UIDs in the new mailbox; INBOX keeps its
	 * UIDNEXT, so that no UID is used twice there. */
	char *sql = xasprintf("INSERT OR REPLACE INTO expunged (mailbox, uid, modseq)"
			      " SELECT %lld, uid, %llu FROM messages WHERE mailbox = %lld;"
			      "UPDATE messages SET mailbox = %lld WHERE mailbox = %lld;"
			      "UPDATE mailboxes SET uidnext = %lu, highestmodseq = %llu,"
			      " new_mtime = 0, cur_mtime = 0 WHERE id = %lld;"
			      "UPDATE mailboxes SET highestmodseq = highestmodseq + 1,"
			      " new_mtime = 0, cur_mtime = 0 WHERE id = %lld;",
			      (long long)inbox.id, (unsigned long long)inbox.highestmodseq + 1,
			      (long long)inbox.id, (long long)to_id, (long long)inbox.id,
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

/* --- opening a mailbox --- */

int
mailbox_open_raw(struct store_user *user, const char *name, struct store_mailbox **box_r,
		 const char **error_r)
{
	struct resolved r;
	struct store_mailbox *box = xcalloc(1, sizeof(*box));

	box->user = user;
	box->box_fd = box->new_fd = box->cur_fd = -1;
	if (resolve(user, name, &r, error_r) < 0) {
		free(box);
		return -1;
	}
	int found = idx_mailbox_get(user, buf_cstr(&r.name), &box->row, error_r);
	resolved_release(&r);
	if (found != 0) {
		free(box);
		return found;
	}
	if (maildir_open_box(box, error_r) < 0) {
		mailbox_row_release(&box->row);
		free(box);
		return -1;
	}
	*box_r = box;
	return 0;
}

int
store_mailbox_open(struct store_user *user, const char *name, bool readonly,
		   struct store_mailbox **box_r, const char **error_r)
{
	int found = mailbox_open_raw(user, name, box_r, error_r);

	if (found == 1) {
		/* Perhaps a folder another program made. */
		if (reconcile_if_needed(user, error_r) < 0)
			return -1;
		found = mailbox_open_raw(user, name, box_r, error_r);
	}
	if (found == 1)
		return user_fail(user, error_r, ENOENT, "no mailbox %s", name);
	if (found < 0)
		return -1;
	(*box_r)->readonly = readonly;
	if (store_mailbox_sync(*box_r, error_r) < 0) {
		store_mailbox_close(box_r);
		return -1;
	}
	return 0;
}
