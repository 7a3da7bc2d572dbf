/* copy.c - IMAP COPY and MOVE: messages of a selected mailbox into another
 * mailbox of the same user (or into the same one).
 *
 * The order (docs/store.md, "Copying, moving, appending"): the source rows
 * are read; each file is hard-linked (copied when it cannot be) into the
 * destination's cur/ under a new base; cur/ is fsync'd; then one index
 * transaction checks that the destination still exists, for a move
 * unlinks the source files (as store_expunge does), adds the destination
 * rows (new UIDs and MODSEQs; flags, keywords, internal date, sizes and
 * cache taken along) and, for a move, deletes the source rows under one
 * new MODSEQ. When anything fails, the source files are put back and the
 * links removed: all or nothing. No fsync runs inside the transaction.
 */
#include "lib/common.h"

#include <fcntl.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/store_private.h"

struct copy_item {
	uint32_t src_uid;
	struct msg_row m; /* the source row */
	char *base;	  /* in the destination */
	char *file;
	bool linked; /* else skipped: gone meanwhile */
	char *gone;  /* move: the source file unlinked, put back on failure */
	uint32_t dst_uid;
};

struct copy {
	struct store_mailbox *src;
	struct store_mailbox *dst;
	bool move;
	struct copy_item *v;
	size_t n;
	uint32_t uidvalidity;
};

void
store_copy_result_free(struct store_copy_result *result)
{
	free(result->src_uids);
	free(result->dst_uids);
	free(result->expunged);
	memset(result, 0, sizeof(*result));
}

/* The rows of the UIDs that exist (repeats skipped). */
static int
read_sources(struct copy *c, const uint32_t *uids, size_t n, const char **error_r)
{
	c->v = xcalloc(n + 1, sizeof(*c->v));
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && uids[i] == uids[i - 1])
			continue;
		struct copy_item *it = &c->v[c->n];
		int found = msg_get(c->src, uids[i], &it->m, error_r);
		if (found < 0)
			return -1;
		if (found == 1)
			continue;
		it->src_uid = uids[i];
		c->n++;
	}
	return 0;
}

static int
check_quota(struct copy *c, uint64_t quota, const char **error_r)
{
	struct store_user *user = c->src->user;
	uint64_t used, size = 0;

	/* A move takes as much as it frees. */
	if (quota == 0 || c->move)
		return 0;
	if (store_user_usage(user, &used, NULL, error_r) < 0)
		return -1;
	for (size_t i = 0; i < c->n; i++)
		size = c->v[i].m.disk_size > UINT64_MAX - size ? UINT64_MAX
							       : size + c->v[i].m.disk_size;
	if (quota_passed(quota, used, 0, size))
		return user_fail(user, error_r, EDQUOT,
				 "%s: over quota (%llu of %llu bytes used, copy %llu)",
				 user->address, (unsigned long long)used, (unsigned long long)quota,
				 (unsigned long long)size);
	return 0;
}

/* Link one source file into the destination's cur/. A file renamed by
 * another session (its flags) is looked for by its base; one that is gone
 * (expunged meanwhile) is skipped, as a missing UID is. */
static int
link_one(struct copy *c, struct copy_item *it, const char **error_r)
{
	struct store_mailbox *src = c->src;
	const char *from = it->m.file;
	char *moved = NULL;
	int err = 0;

	for (int attempt = 0;; attempt++) {
		if (link_new(src->user->store, maildir_file_dir(src, from), from + 4, NULL,
			     it->m.disk_size, it->m.crlf_size, it->m.flags, true, c->dst, &it->base,
			     &it->file) == 0) {
			it->linked = true;
			free(moved);
			return 0;
		}
		err = errno;
		if (err != ENOENT || attempt > 0)
			break;
		moved = maildir_find_base(src, it->m.base);
		if (moved == NULL)
			return 0;
		from = moved;
	}
	user_fail(src->user, error_r, err, "%s: copy %s/%s to %s: %s", src->user->address,
		  src->row.dir, from, c->dst->row.name, strerror(err));
	free(moved);
	return -1;
}

/* Undo after a failure: source files put back (and made durable) before
 * the links that hold their content go. A source file that cannot be put
 * back keeps its link in the destination, which the next sync picks up:
 * a failed move may leave the message moved, never lost. */
static void
undo(struct copy *c)
{
	bool put_back = false;

	for (size_t i = 0; i < c->n; i++) {
		struct copy_item *it = &c->v[i];
		if (it->gone == NULL)
			continue;
		if (linkat(c->dst->cur_fd, it->file + 4, maildir_file_dir(c->src, it->gone),
			   it->gone + 4, 0) == 0) {
			put_back = true;
		} else {
			log_warning("%s: failed move: cannot put %s/%s back (%s); it stays in %s",
				    c->src->user->address, c->src->row.dir, it->gone,
				    strerror(errno), c->dst->row.name);
			it->linked = false;
		}
		free(it->gone);
		it->gone = NULL;
	}
	if (put_back) {
		(void)fsync_dir(c->src->new_fd);
		(void)fsync_dir(c->src->cur_fd);
	}
	for (size_t i = 0; i < c->n; i++) {
		if (c->v[i].linked)
			link_remove(c->dst, c->v[i].file);
		c->v[i].linked = false;
	}
}

/* The source rows of a move, now that their files are unlinked. */
static int
expunge_sources(struct copy *c, const char **error_r)
{
	uint32_t *uids = xcalloc(c->n + 1, sizeof(*uids));
	size_t k = 0;

	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].linked)
			uids[k++] = c->v[i].src_uid;
	int ret = expunge_rows(c->src, uids, k, error_r);
	free(uids);
	return ret;
}

/* The index transaction. */
static int
commit(struct copy *c, const char **error_r)
{
	struct store_user *user = c->src->user;
	int found;

	if (idx_begin(user, error_r) < 0)
		return -1;
	if (mailbox_reload(c->dst, error_r) < 0)
		goto fail;
	c->uidvalidity = c->dst->row.uidvalidity;
	for (size_t i = 0; i < c->n && c->move; i++) {
		struct copy_item *it = &c->v[i];
		if (!it->linked)
			continue;
		/* Files first, then rows, as store_expunge does. */
		found = expunge_file(c->src, it->src_uid, &it->gone, error_r);
		if (found < 0)
			goto fail;
		if (found == 0) {
			/* Expunged by another session since we read it. */
			link_remove(c->dst, it->file);
			it->linked = false;
		}
	}
	for (size_t i = 0; i < c->n; i++) {
		struct copy_item *it = &c->v[i];
		if (!it->linked)
			continue;
		struct msg_add m = {
		    .base = it->base,
		    .file = it->file,
		    .flags = it->m.flags,
		    .keywords = it->m.keywords,
		    .internal_date = it->m.internal_date,
		    .disk_size = it->m.disk_size,
		    .crlf_size = it->m.crlf_size,
		    .cache = it->m.cache,
		};
		if (idx_msg_add(user, c->dst->row.id, &m, &it->dst_uid, error_r) < 0)
			goto fail;
	}
	if (c->move && expunge_sources(c, error_r) < 0)
		goto fail;
	return idx_commit(user, error_r);
fail:
	idx_rollback(user);
	return -1;
}

static void
fill_result(const struct copy *c, struct store_copy_result *r)
{
	r->uidvalidity = c->uidvalidity;
	r->src_uids = xcalloc(c->n + 1, sizeof(*r->src_uids));
	r->dst_uids = xcalloc(c->n + 1, sizeof(*r->dst_uids));
	for (size_t i = 0; i < c->n; i++) {
		if (!c->v[i].linked)
			continue;
		r->src_uids[r->count] = c->v[i].src_uid;
		r->dst_uids[r->count++] = c->v[i].dst_uid;
	}
	if (c->move) {
		r->expunged = xcalloc(r->count + 1, sizeof(*r->expunged));
		memcpy(r->expunged, r->src_uids, r->count * sizeof(*r->expunged));
		r->expunged_count = r->count;
	}
}

static void
copy_release(struct copy *c)
{
	for (size_t i = 0; i < c->n; i++) {
		msg_row_release(&c->v[i].m);
		free(c->v[i].base);
		free(c->v[i].file);
		free(c->v[i].gone);
	}
	free(c->v);
	store_mailbox_close(&c->dst);
}

int
store_copy(struct store_mailbox *box, const uint32_t *uids, size_t n, const char *dest, bool move,
	   uint64_t quota, struct store_copy_result *result_r, const char **error_r)
{
	struct store_user *user = box->user;
	struct copy c = {.src = box, .move = move};
	bool any = false;
	int ret = -1;

	memset(result_r, 0, sizeof(*result_r));
	if (move && box->readonly)
		return user_fail(user, error_r, EROFS, "mailbox is read-only");
	if (mailbox_open_existing(user, dest, &c.dst, error_r) < 0)
		return -1;
	if (read_sources(&c, uids, n, error_r) < 0 || check_quota(&c, quota, error_r) < 0)
		goto out;
	for (size_t i = 0; i < c.n; i++) {
		if (link_one(&c, &c.v[i], error_r) < 0)
			goto undo;
		any = any || c.v[i].linked;
	}
	store_hook("linked");
	if (any && fsync_dir(c.dst->cur_fd) < 0) {
		user_fail(user, error_r, 0, "%s: fsync %s: %s", user->address, c.dst->row.name,
			  strerror(errno));
		goto undo;
	}
	store_hook("synced");
	if (commit(&c, error_r) < 0)
		goto undo;
	store_hook("committed");
	fill_result(&c, result_r);
	ret = 0;
	goto out;
undo:
	undo(&c);
out:
	copy_release(&c);
	if (ret < 0)
		errno = user->last_errno;
	return ret;
}
