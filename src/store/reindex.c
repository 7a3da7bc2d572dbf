/* reindex.c - rebuild a user's index from the Maildir. */
#include "lib/common.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/names.h"
#include "store/store_private.h"

/* Move an index SQLite cannot read out of the way (kept for inspection). */
static int
move_aside(struct store *store, const char *address, const char **error_r)
{
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	const char *local, *domain, *why;
	size_t llen, dlen;

	if (store_address_split(address, &local, &llen, &domain, &dlen, &why) < 0)
		return store_fail(store, error_r, "%s: %s", address, why);
	char *dir = xasprintf("%.*s/%.*s", (int)dlen, domain, (int)llen, local);
	int fd = openat(store->mail_fd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return store_fail(store, error_r, "%s: %s", address, strerror(errno));
	long long now = (long long)time(NULL);
	for (size_t i = 0; i < N_ELEMENTS(suffixes); i++) {
		char from[64], to[96];
		(void)snprintf(from, sizeof(from), "index.db%s", suffixes[i]);
		(void)snprintf(to, sizeof(to), "index.db.broken-%lld%s", now, suffixes[i]);
		if (renameat(fd, from, fd, to) < 0 && errno != ENOENT) {
			int err = errno;
			close(fd);
			return store_fail(store, error_r, "%s: rename %s: %s", address, from,
					  strerror(err));
		}
	}
	close(fd);
	log_warning("%s: unreadable index moved aside as index.db.broken-%lld", address, now);
	return 0;
}

static int
wipe(struct store_user *user, const char **error_r)
{
	return idx_exec(user,
			"DELETE FROM messages; DELETE FROM expunged; DELETE FROM mailboxes;"
			" UPDATE state SET changes = changes + 1 WHERE id = 1;",
			error_r);
}

static int
reindex_mailboxes(struct store_user *user, struct store_reindex_report *rep,
		  const char **error_r)
{
	sqlite3_stmt *st;
	int64_t *ids = NULL;
	size_t n = 0;
	int rc, ret = -1;

	if (sqlite3_prepare_v2(user->db, "SELECT id FROM mailboxes ORDER BY id", -1, &st, NULL) !=
	    SQLITE_OK)
		return user_db_fail(user, error_r, "mailbox list");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ids = xreallocarray(ids, n + 1, sizeof(*ids));
		ids[n++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(ids);
		return user_db_fail(user, error_r, "mailbox list");
	}
	for (size_t i = 0; i < n; i++) {
		struct store_mailbox box = {.user = user, .box_fd = -1, .new_fd = -1, .cur_fd = -1};
		struct sync_stats stats = {0};
		if (idx_mailbox_get_id(user, ids[i], &box.row, error_r) != 0)
			goto out;
		int r = maildir_open_box(&box, error_r);
		if (r == 0)
			r = sync_mailbox(&box, SYNC_FORCE, false, NULL, 0, &stats, error_r);
		maildir_close_box(&box);
		mailbox_row_release(&box.row);
		if (r < 0)
			goto out;
		rep->mailboxes++;
		rep->kept += stats.kept;
		rep->added += stats.added;
		rep->removed += stats.removed;
	}
	/* UIDNEXT above every UID; usage recounted. */
	ret = idx_exec(user,
		       "UPDATE mailboxes SET uidnext = max(uidnext, 1 + coalesce((SELECT max(uid)"
		       " FROM messages WHERE mailbox = mailboxes.id), 0));"
		       "UPDATE state SET usage_bytes = (SELECT total(disk_size) FROM messages),"
		       " usage_messages = (SELECT count(*) FROM messages) WHERE id = 1;",
		       error_r);
out:
	free(ids);
	return ret;
}

int
store_reindex(struct store *store, const char *address, bool from_scratch,
	      struct store_reindex_report *report_r, const char **error_r)
{
	struct store_user *user = NULL;
	const char *why;

	memset(report_r, 0, sizeof(*report_r));
	if (store_address_check(address, &why) < 0)
		return store_fail(store, error_r, "%s: %s", address, why);
	if (user_open(store, address, false, true, &user, error_r) < 0) {
		if (errno != EBADMSG && errno != EPROTO)
			return -1;
		if (errno == EPROTO)
			return -1; /* a newer schema: not ours to replace */
		if (move_aside(store, address, error_r) < 0 ||
		    user_open(store, address, false, true, &user, error_r) < 0)
			return -1;
		from_scratch = true;
	}
	report_r->from_scratch = from_scratch;
	if (idx_begin(user, error_r) < 0)
		goto fail;
	if (from_scratch && (wipe(user, error_r) < 0 ||
			     mailboxes_create_defaults(user, true, error_r) < 0))
		goto fail_tx;
	if (mailboxes_reconcile(user, error_r) < 0 || reindex_mailboxes(user, report_r, error_r) < 0 ||
	    idx_commit(user, error_r) < 0)
		goto fail_tx;
	store_user_close(&user);
	return 0;
fail_tx:
	idx_rollback(user);
fail:
	(void)snprintf(store->error, sizeof(store->error), "%s", user->error);
	if (error_r != NULL)
		*error_r = store->error;
	store_user_close(&user);
	return -1;
}
