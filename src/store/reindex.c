/* reindex.c - rebuild a user's index from the Maildir. */
#include "lib/common.h"

#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/names.h"
#include "store/store_private.h"

static int
wipe(struct store_user *user, const char **error_r)
{
	return idx_exec(user,
			"DELETE FROM messages; DELETE FROM expunged; DELETE FROM mailboxes;"
			" UPDATE state SET changes = changes + 1 WHERE id = 1;",
			error_r);
}

static int
reindex_mailboxes(struct store_user *user, struct store_reindex_report *rep, const char **error_r)
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
	/* UIDNEXT above every UID; counts and usage recounted. */
	ret = idx_exec(user,
		       "UPDATE mailboxes SET uidnext = max(uidnext, 1 + coalesce((SELECT max(uid)"
		       " FROM messages WHERE mailbox = mailboxes.id), 0)),"
		       " message_count = (SELECT count(*) FROM messages"
		       " WHERE mailbox = mailboxes.id),"
		       " keyword_count = (SELECT count(*) FROM keywords"
		       " WHERE mailbox = mailboxes.id),"
		       " bytes = (SELECT total(disk_size) FROM messages"
		       " WHERE mailbox = mailboxes.id);"
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
	/* An index SQLite cannot read is moved aside and made anew there. */
	if (user_open(store, address, false, true, &user, error_r) < 0)
		return -1;
	if (user->index_created)
		from_scratch = true;
	report_r->from_scratch = from_scratch;
	if (idx_begin(user, error_r) < 0)
		goto fail;
	if (from_scratch &&
	    (wipe(user, error_r) < 0 || mailboxes_create_defaults(user, true, error_r) < 0))
		goto fail_tx;
	if (mailboxes_reconcile(user, error_r) < 0 ||
	    reindex_mailboxes(user, report_r, error_r) < 0 || idx_commit(user, error_r) < 0)
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
