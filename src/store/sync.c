/* sync.c - bring a mailbox's index in line with its Maildir.
 *
 * The Maildir is the truth. A sync (always inside a write transaction, so
 * one process at a time) gives the next UIDs to files the index does not
 * know (in name order, which is delivery order for names made by postern,
 * Dovecot or Courier), and, in a full sync, expunges rows whose file is
 * gone, takes over flags changed in file names by other programs, and
 * optionally moves files from new/ to cur/.
 *
 * A full sync reads new/ and cur/ only when one of their mtimes differs
 * from what the last full scan saw. An mtime within STORE_DIRTY_SECS of the
 * scan is not remembered, because a change in the same timestamp tick would
 * not move it (Dovecot does the same).
 *
 * A delivery sync reads only new/, where deliveries and their crash
 * leftovers are, and only picks up. It must stay short, so it reads new/
 * only when new/ changed since the last delivery committed (deliver_mtime,
 * taken after that delivery's own link): the first delivery after a crash
 * picks the leftover up. What lands in new/ within the same timestamp tick
 * as another delivery's commit is not seen by deliveries; the next full
 * sync (any open of the mailbox) takes it, since its own mtimes are kept
 * apart from deliver_mtime.
 */
#include "lib/common.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/maildir_name.h"
#include "store/store_private.h"

struct entry {
	char *name;
	struct maildir_name mn;
	bool in_new;
};

struct entries {
	struct entry *v;
	size_t n, cap;
};

static void
entries_free(struct entries *es)
{
	for (size_t i = 0; i < es->n; i++)
		free(es->v[i].name);
	free(es->v);
	es->v = NULL;
	es->n = es->cap = 0;
}

static int
read_dir(int fd, bool in_new, struct entries *es)
{
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd < 0 ? NULL : fdopendir(dfd);

	if (d == NULL) {
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	struct dirent *e;
	while ((errno = 0, e = readdir(d)) != NULL) {
		struct maildir_name mn;
		if (e->d_type != DT_REG && e->d_type != DT_UNKNOWN)
			continue;
		if (maildir_name_parse(e->d_name, strlen(e->d_name), &mn) < 0)
			continue; /* dot files and the like: not messages */
		if (es->n == es->cap) {
			es->cap = es->cap == 0 ? 64 : es->cap * 2;
			es->v = xreallocarray(es->v, es->cap, sizeof(*es->v));
		}
		es->v[es->n].name = xstrdup(e->d_name);
		es->v[es->n].mn = mn;
		es->v[es->n].in_new = in_new;
		es->n++;
	}
	int err = errno;
	closedir(d);
	errno = err;
	return err != 0 ? -1 : 0;
}

/* Compare two bases as SQLite's BINARY collation does. */
static int
base_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, MIN(alen, blen));

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int
entry_cmp(const void *pa, const void *pb)
{
	const struct entry *a = pa, *b = pb;
	int c = base_cmp(a->name, a->mn.base_len, b->name, b->mn.base_len);

	/* The same base twice: cur/ first. */
	return c != 0 ? c : (int)a->in_new - (int)b->in_new;
}

static int64_t
mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

int64_t
dir_mtime_ns(int fd)
{
	struct stat st;

	return fstat(fd, &st) < 0 ? -1 : mtime_ns(&st);
}

static unsigned
file_flags(const struct entry *e)
{
	return e->in_new || !e->mn.has_info ? 0 : e->mn.flags;
}

/* Move a file from new/ to cur/ with an (empty) info. On success e names
 * the file in cur/. */
static int
move_to_cur(struct store_mailbox *box, struct entry *e)
{
	struct buf name;

	buf_init(&name, MAILDIR_NAME_MAX);
	if (buf_add(&name, e->name, e->mn.base_len) < 0 || buf_add_str(&name, ":2,") < 0) {
		buf_release(&name);
		return -1;
	}
	if (renameat(box->new_fd, e->name, box->cur_fd, name.data) < 0) {
		buf_release(&name);
		return -1;
	}
	free(e->name);
	e->name = buf_steal(&name);
	e->in_new = false;
	(void)maildir_name_parse(e->name, strlen(e->name), &e->mn);
	return 0;
}

static size_t
move_or_warn(struct store_mailbox *box, struct entry *e)
{
	if (move_to_cur(box, e) == 0)
		return 1;
	log_warning("%s: cannot move new/%s to cur/: %s", box->user->address, e->name,
		    strerror(errno));
	return 1; /* new/ may have changed all the same */
}

static char *
file_column(const struct entry *e)
{
	return xasprintf("%s/%s", e->in_new ? "new" : "cur", e->name);
}

/* Give a UID to a file the index does not know. */
static int
pick_up(struct store_mailbox *box, struct entry *e, const char **error_r)
{
	struct store_user *user = box->user;
	int dirfd = e->in_new ? box->new_fd : box->cur_fd;
	struct stat st;
	uint64_t disk = e->mn.disk_size, crlf = e->mn.crlf_size;

	int fd = openat(dirfd, e->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT || errno == ELOOP)
			return 0; /* gone meanwhile, or a link: not ours to take */
		return user_fail(user, error_r, 0, "%s/%s/%s: %s", user->rel, box->row.dir, e->name,
				 strerror(errno));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	/* Trust S= and W= only when S= matches the file. */
	if (!e->mn.has_disk_size || !e->mn.has_crlf_size || (uint64_t)st.st_size != disk) {
		if (maildir_measure(fd, &disk, &crlf) < 0) {
			int err = errno;
			close(fd);
			return user_fail(user, error_r, err, "%s/%s: %s", user->rel, e->name,
					 strerror(err));
		}
	}
	close(fd);
	char *base = xstrndup(e->name, e->mn.base_len);
	char *file = file_column(e);
	struct msg_add m = {
	    .base = base,
	    .file = file,
	    .flags = file_flags(e),
	    .keywords = "",
	    .internal_date = (int64_t)st.st_mtime,
	    .disk_size = disk,
	    .crlf_size = crlf,
	};
	uint32_t uid;
	int ret = idx_msg_add(user, box->row.id, &m, &uid, error_r);
	if (ret == 0)
		log_debug("%s: picked up %s in %s as UID %lu", user->address, file, box->row.name,
			  (unsigned long)uid);
	free(base);
	free(file);
	return ret;
}

struct row {
	uint32_t uid;
	char *base;
	char *file;
	unsigned flags;
};

static int
read_rows(struct store_mailbox *box, struct row **rows_r, size_t *n_r, const char **error_r)
{
	struct store_user *user = box->user;
	sqlite3_stmt *st;
	struct row *rows = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if (sqlite3_prepare_v2(user->db,
			       "SELECT uid, base, file, flags FROM messages WHERE mailbox = ?"
			       " ORDER BY base",
			       -1, &st, NULL) != SQLITE_OK)
		return user_db_fail(user, error_r, "message list");
	sqlite3_bind_int64(st, 1, box->row.id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			rows = xreallocarray(rows, cap, sizeof(*rows));
		}
		rows[n].uid = (uint32_t)sqlite3_column_int64(st, 0);
		rows[n].base = xstrdup((const char *)sqlite3_column_text(st, 1));
		rows[n].file = xstrdup((const char *)sqlite3_column_text(st, 2));
		rows[n].flags = (unsigned)sqlite3_column_int(st, 3);
		n++;
	}
	sqlite3_finalize(st);
	*rows_r = rows;
	*n_r = n;
	if (rc != SQLITE_DONE)
		return user_db_fail(user, error_r, "message list");
	return 0;
}

static void
rows_free(struct row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(rows[i].base);
		free(rows[i].file);
	}
	free(rows);
}

/* Does the file a row names still exist (it may have been missed by a
 * readdir racing with another program's rename)? */
static bool
row_file_exists(struct store_mailbox *box, const struct row *r)
{
	struct stat st;
	bool in_new = strncmp(r->file, "new/", 4) == 0;

	return fstatat(in_new ? box->new_fd : box->cur_fd, r->file + 4, &st, AT_SYMLINK_NOFOLLOW) ==
	       0;
}

static int
set_file(struct store_user *user, int64_t box, uint32_t uid, const char *file, const char **error_r)
{
	sqlite3_stmt *st = idx_stmt(user, ST_MSG_SET_FILE);

	if (st == NULL)
		return user_db_fail(user, error_r, "message update");
	sqlite3_bind_text(st, 1, file, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, box);
	sqlite3_bind_int64(st, 3, uid);
	if (sqlite3_step(st) != SQLITE_DONE)
		return user_db_fail(user, error_r, "message update");
	sqlite3_reset(st);
	return 0;
}

static int
set_flags_from_file(struct store_user *user, int64_t box, uint32_t uid, const char *file,
		    unsigned flags, uint64_t modseq, const char **error_r)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(user->db,
			       "UPDATE messages SET file = ?, flags = ?, modseq = ?"
			       " WHERE mailbox = ? AND uid = ?",
			       -1, &st, NULL) != SQLITE_OK)
		return user_db_fail(user, error_r, "message update");
	sqlite3_bind_text(st, 1, file, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, (int)flags);
	sqlite3_bind_int64(st, 3, (int64_t)modseq);
	sqlite3_bind_int64(st, 4, box);
	sqlite3_bind_int64(st, 5, uid);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return user_db_fail(user, error_r, "message update");
	return 0;
}

/* One modseq for every change a sync makes. */
static int
sync_modseq(struct store_mailbox *box, uint64_t *modseq, const char **error_r)
{
	if (*modseq != 0)
		return 0;
	if (idx_modseq_next(box->user, box->row.id, modseq, error_r) < 0)
		return -1;
	return idx_changed(box->user, error_r);
}

static int
sync_full(struct store_mailbox *box, bool force, bool move_new, const char *skip_base,
	  struct sync_stats *stats, const char **error_r)
{
	struct store_user *user = box->user;
	struct stat nst, cst;
	struct entries es = {0};
	struct row *rows = NULL;
	size_t nrows = 0;
	uint64_t modseq = 0;
	size_t moved = 0;
	int ret = -1;

	if (fstat(box->new_fd, &nst) < 0 || fstat(box->cur_fd, &cst) < 0)
		return user_fail(user, error_r, 0, "%s: %s", user->rel, strerror(errno));
	int64_t nm = mtime_ns(&nst), cm = mtime_ns(&cst);
	if (!force && box->row.new_mtime != 0 && box->row.new_mtime == nm &&
	    box->row.cur_mtime != 0 && box->row.cur_mtime == cm)
		return 0;
	time_t scan_start = time(NULL);
	/* new/ first: a file another program moves to cur/ meanwhile is then
	 * seen in one of the two. */
	if (read_dir(box->new_fd, true, &es) < 0 || read_dir(box->cur_fd, false, &es) < 0) {
		user_fail(user, error_r, 0, "%s/%s: %s", user->rel, box->row.dir, strerror(errno));
		goto out;
	}
	if (es.n > 1)
		qsort(es.v, es.n, sizeof(*es.v), entry_cmp);
	if (read_rows(box, &rows, &nrows, error_r) < 0)
		goto out;

	size_t i = 0, j = 0;
	while (i < es.n || j < nrows) {
		struct entry *e = i < es.n ? &es.v[i] : NULL;
		struct row *r = j < nrows ? &rows[j] : NULL;
		int c = e == NULL   ? 1
			: r == NULL ? -1
				    : base_cmp(e->name, e->mn.base_len, r->base, strlen(r->base));
		if (e != NULL && i + 1 < es.n &&
		    base_cmp(e->name, e->mn.base_len, es.v[i + 1].name, es.v[i + 1].mn.base_len) ==
			0) {
			/* Same base twice (a copy by some other program): the
			 * first (cur/) counts, the other is left alone. */
			log_warning("%s: %s/%s%s: duplicate of another file's base, ignored",
				    user->address, box->row.dir,
				    es.v[i + 1].in_new ? "new/" : "cur/", es.v[i + 1].name);
			free(es.v[i + 1].name);
			memmove(&es.v[i + 1], &es.v[i + 2], (es.n - i - 2) * sizeof(*es.v));
			es.n--;
			continue;
		}
		if (c < 0) {
			/* A file the index does not know. */
			if (skip_base == NULL || strlen(skip_base) != e->mn.base_len ||
			    memcmp(skip_base, e->name, e->mn.base_len) != 0) {
				if (move_new && e->in_new)
					moved += move_or_warn(box, e);
				if (pick_up(box, e, error_r) < 0)
					goto out;
				stats->added++;
			}
			i++;
			continue;
		}
		if (c > 0) {
			/* A row whose file is gone. */
			if (!row_file_exists(box, r)) {
				if (sync_modseq(box, &modseq, error_r) < 0 ||
				    idx_msg_expunged(user, box->row.id, r->uid, modseq, error_r) <
					0)
					goto out;
				log_info("%s: %s UID %lu: file %s gone, expunged", user->address,
					 box->row.name, (unsigned long)r->uid, r->file);
				stats->removed++;
			}
			j++;
			continue;
		}
		/* Known: follow renames and flags set by other programs. */
		if (move_new && e->in_new)
			moved += move_or_warn(box, e);
		char *file = file_column(e);
		unsigned ff = file_flags(e);
		int rc = 0;
		if (ff != r->flags) {
			rc = sync_modseq(box, &modseq, error_r);
			if (rc == 0)
				rc = set_flags_from_file(user, box->row.id, r->uid, file, ff,
							 modseq, error_r);
		} else if (strcmp(file, r->file) != 0) {
			rc = set_file(user, box->row.id, r->uid, file, error_r);
		}
		free(file);
		if (rc < 0)
			goto out;
		stats->kept++;
		i++;
		j++;
	}
	/* Remember the mtimes seen before reading, unless too recent to be
	 * sure that no later change shares them, or changed by our own moves
	 * (then the next sync reads once more). */
	int64_t limit = ((int64_t)scan_start - STORE_DIRTY_SECS) * 1000000000;
	int64_t keep_n = nm < limit && moved == 0 ? nm : 0;
	int64_t keep_c = cm < limit && moved == 0 ? cm : 0;
	sqlite3_stmt *st = idx_stmt(user, ST_SET_MTIMES);
	if (st == NULL)
		goto dbfail;
	sqlite3_bind_int64(st, 1, keep_n);
	sqlite3_bind_int64(st, 2, keep_c);
	sqlite3_bind_int64(st, 3, box->row.id);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto dbfail;
	sqlite3_reset(st);
	box->row.new_mtime = keep_n;
	box->row.cur_mtime = keep_c;
	ret = 0;
	goto out;
dbfail:
	user_db_fail(user, error_r, "sync state");
out:
	rows_free(rows, nrows);
	entries_free(&es);
	return ret;
}

int
sync_mailbox(struct store_mailbox *box, enum sync_mode mode, bool move_new, const char *skip_base,
	     int64_t new_before, struct sync_stats *stats, const char **error_r)
{
	size_t added = stats->added;
	int ret = sync_full(box, mode == SYNC_FORCE, move_new, skip_base, stats, error_r);

	/* One line for a mailbox's worth of files found on disk (each file
	 * at debug level). */
	if (ret == 0 && stats->added > added)
		log_info("%s: picked up %zu files in %s", box->user->address, stats->added - added,
			 box->row.name);
	return ret;
}
