/* append.c - IMAP APPEND (and MULTIAPPEND): finished spools into one named
 * mailbox, all or none.
 *
 * The order is delivery's (docs/queue.md, "Local delivery"; the crash
 * states are the same): every spool was fsync'd by store_spool_finish;
 * each is linked into the mailbox (cur/ with its flags, new/ without) and
 * the file's mtime set to the internal date, so that a pickup or a rebuild
 * of the index finds that date; the directories that received links are
 * fsync'd together; then one index transaction adds every row. When any
 * step fails, every link made is removed. Unlike delivery, a missing
 * mailbox is an error ([TRYCREATE]), never INBOX.
 */
#include "lib/common.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/store_private.h"

struct append_item {
	const struct store_append_msg *msg;
	char *keywords; /* normalised */
	char *base;
	char *file;
	bool linked;
};

/* Flags, keywords and spools checked before anything is linked. */
static int
check_msgs(struct store_user *user, const struct store_append_msg *msgs, size_t n,
	   struct append_item *v, uint64_t *size_r, const char **error_r)
{
	uint64_t size = 0;

	for (size_t i = 0; i < n; i++) {
		struct store_spool *spool = msgs[i].spool;
		if (spool->store != user->store)
			panic("store_append: a spool of another store handle");
		v[i].msg = &msgs[i];
		if (!spool->finished)
			return user_fail(user, error_r, EINVAL, "spool not finished");
		if ((msgs[i].flags & ~STORE_FLAGS_ALL) != 0)
			return user_fail(user, error_r, EINVAL, "invalid flags");
		if (user_keywords_normalize(user, msgs[i].keywords, &v[i].keywords, error_r) < 0)
			return -1;
		size = spool->disk_size > UINT64_MAX - size ? UINT64_MAX : size + spool->disk_size;
	}
	*size_r = size;
	return 0;
}

static int
link_all(struct store_mailbox *box, struct append_item *v, size_t n, const char **error_r)
{
	for (size_t i = 0; i < n; i++) {
		const struct store_append_msg *msg = v[i].msg;
		struct store_spool *spool = msg->spool;
		if (link_new(spool->store, spool->store->tmp_fd, spool->name, spool->name,
			     spool->disk_size, spool->crlf_size, msg->flags, msg->flags != 0, box,
			     &v[i].base, &v[i].file) < 0)
			return user_fail(box->user, error_r, 0, "%s: link into %s: %s",
					 box->user->address, box->row.name, strerror(errno));
		v[i].linked = true;
		if (msg->internal_date != 0) {
			struct timespec times[2] = {{.tv_nsec = UTIME_OMIT},
						    {.tv_sec = msg->internal_date}};
			(void)utimensat(maildir_file_dir(box, v[i].file), v[i].file + 4, times,
					AT_SYMLINK_NOFOLLOW);
		}
	}
	return 0;
}

/* fsync new/ and cur/ as far as they received links, both at once. */
static int
sync_dirs(struct store_mailbox *box, const struct append_item *v, size_t n, const char **error_r)
{
	bool in_new = false, in_cur = false;
	int fds[2], errs[2];
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (maildir_file_dir(box, v[i].file) == box->new_fd)
			in_new = true;
		else
			in_cur = true;
	}
	if (in_new)
		fds[k++] = box->new_fd;
	if (in_cur)
		fds[k++] = box->cur_fd;
	fsync_dirs(fds, errs, k);
	for (size_t d = 0; d < k; d++)
		if (errs[d] != 0)
			return user_fail(box->user, error_r, errs[d], "%s: fsync %s: %s",
					 box->user->address, box->row.name, strerror(errs[d]));
	return 0;
}

static int
commit(struct store_mailbox *box, const struct append_item *v, size_t n, uint32_t *uidvalidity_r,
       uint32_t *uids_r, const char **error_r)
{
	struct store_user *user = box->user;

	if (idx_begin(user, error_r) < 0)
		return -1;
	if (mailbox_reload(box, error_r) < 0)
		goto fail;
	if (uidvalidity_r != NULL)
		*uidvalidity_r = box->row.uidvalidity;
	for (size_t i = 0; i < n; i++) {
		const struct store_spool *spool = v[i].msg->spool;
		time_t date = v[i].msg->internal_date;
		struct msg_add m = {
		    .base = v[i].base,
		    .file = v[i].file,
		    .flags = v[i].msg->flags,
		    .keywords = v[i].keywords,
		    .keywords_strict = true,
		    .internal_date = date != 0 ? (int64_t)date : (int64_t)spool->received,
		    .disk_size = spool->disk_size,
		    .crlf_size = spool->crlf_size,
		    .cache = spool->cache,
		};
		if (idx_msg_add(user, box->row.id, &m, &uids_r[i], error_r) < 0)
			goto fail;
	}
	return idx_commit(user, error_r);
fail:
	idx_rollback(user);
	return -1;
}

int
store_append(struct store_user *user, const char *mailbox, const struct store_append_msg *msgs,
	     size_t n, uint64_t quota, uint32_t *uidvalidity_r, uint32_t *uids_r,
	     const char **error_r)
{
	struct append_item *v = xcalloc(n + 1, sizeof(*v));
	struct store_mailbox *box = NULL;
	uint64_t size = 0, used;
	int ret = -1;

	if (check_msgs(user, msgs, n, v, &size, error_r) < 0 ||
	    mailbox_open_existing(user, mailbox, &box, error_r) < 0)
		goto out;
	if (quota != 0) {
		if (store_user_usage(user, &used, NULL, error_r) < 0)
			goto out;
		if (quota_passed(quota, used, 0, size)) {
			user_fail(user, error_r, EDQUOT,
				  "%s: over quota (%llu of %llu bytes used, append %llu)",
				  user->address, (unsigned long long)used,
				  (unsigned long long)quota, (unsigned long long)size);
			goto out;
		}
	}
	if (link_all(box, v, n, error_r) < 0)
		goto out;
	store_hook("linked");
	if (sync_dirs(box, v, n, error_r) < 0)
		goto out;
	store_hook("synced");
	if (commit(box, v, n, uidvalidity_r, uids_r, error_r) < 0)
		goto out;
	store_hook("committed");
	ret = 0;
out:
	for (size_t i = 0; i < n; i++) {
		if (ret < 0 && v[i].linked)
			link_remove(box, v[i].file);
		free(v[i].keywords);
		free(v[i].base);
		free(v[i].file);
	}
	free(v);
	store_mailbox_close(&box);
	if (ret < 0)
		errno = user->last_errno;
	return ret;
}
