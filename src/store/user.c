/* user.c - a user's store: opening (and creating) it, the delivery cache
 * of open handles, quota and change counters, reconciling the mailbox list
 * with the folders on disk, opening a mailbox. */
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

static const struct {
	const char *name;
	enum store_special special;
} default_mailboxes[] = {
    {"INBOX", STORE_SPECIAL_NONE},    {"Sent", STORE_SPECIAL_SENT},
    {"Drafts", STORE_SPECIAL_DRAFTS}, {"Trash", STORE_SPECIAL_TRASH},
    {"Junk", STORE_SPECIAL_JUNK},     {"Archive", STORE_SPECIAL_ARCHIVE},
};

int
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

void
resolved_release(struct resolved *r)
{
	buf_release(&r->name);
	buf_release(&r->dir);
}

/* The folders are made without an fsync each; then every folder made and
 * the user's directory are synced at once, in parallel (fsync_dirs): a new
 * user's first login waits for one round of fsyncs, not a dozen in a row.
 * The index rows are added meanwhile, inside the caller's transaction,
 * which commits after this returns. */
int
mailboxes_create_defaults(struct store_user *user, bool durable, const char **error_r)
{
	int fds[N_ELEMENTS(default_mailboxes) + 1], errs[N_ELEMENTS(fds)];
	size_t nfds = 0, made = 0;
	struct resolved r;
	struct mailbox_row row;
	int ret = 0;

	for (size_t i = 0; i < N_ELEMENTS(default_mailboxes) && ret == 0; i++) {
		if (resolve(user, default_mailboxes[i].name, &r, error_r) < 0) {
			ret = -1;
			break;
		}
		const char *dir = buf_cstr(&r.dir);
		int found = idx_mailbox_get(user, buf_cstr(&r.name), &row, error_r);
		if (found == 0)
			mailbox_row_release(&row);
		if (found < 0)
			ret = -1;
		if (found == 1 &&
		    (maildir_make(user, dir, false, error_r) < 0 ||
		     idx_mailbox_add(user, buf_cstr(&r.name), dir, default_mailboxes[i].special,
				     true, NULL, error_r) < 0))
			ret = -1;
		if (found == 1 && ret == 0) {
			made++;
			/* INBOX is the user's directory itself, synced below */
			if (durable && *dir != '\0') {
				int fd = openat(user->dir_fd, dir,
						O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				if (fd < 0)
					ret = user_fail(user, error_r, 0, "%s/%s: %s", user->rel,
							dir, strerror(errno));
				else
					fds[nfds++] = fd;
			}
		}
		resolved_release(&r);
	}
	if (ret == 0 && durable && made > 0) {
		fds[nfds] = user->dir_fd;
		fsync_dirs(fds, errs, nfds + 1);
		for (size_t i = 0; i <= nfds && ret == 0; i++)
			if (errs[i] != 0)
				ret = user_fail(user, error_r, errs[i], "%s: fsync: %s", user->rel,
						strerror(errs[i]));
	}
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	return ret;
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

int
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

int
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
mailbox_open_existing(struct store_user *user, const char *name, struct store_mailbox **box_r,
		      const char **error_r)
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
	return found < 0 ? -1 : 0;
}

int
store_mailbox_open(struct store_user *user, const char *name, bool readonly,
		   struct store_mailbox **box_r, const char **error_r)
{
	if (mailbox_open_existing(user, name, box_r, error_r) < 0)
		return -1;
	(*box_r)->readonly = readonly;
	if (!readonly)
		maildir_clean_tmp(*box_r);
	if (store_mailbox_sync(*box_r, error_r) < 0) {
		store_mailbox_close(box_r);
		return -1;
	}
	return 0;
}

int
store_user_get(struct store *store, const char *address, struct store_user **user_r,
	       const char **error_r)
{
	return user_cache_get(store, address, user_r, error_r);
}

void
store_user_put(struct store *store, struct store_user **user)
{
	user_cache_put(store, user);
}
