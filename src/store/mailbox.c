/* mailbox.c - a selected mailbox: sync and status, iteration, content,
 * flags, expunge, and the records other sessions use to notice changes. */
#include "lib/common.h"

#include <time.h>

#include <dirent.h>
#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/xalloc.h"
#include "store/maildir_name.h"
#include "store/store_private.h"

void
store_mailbox_close(struct store_mailbox **boxp)
{
	struct store_mailbox *box = *boxp;

	if (box == NULL)
		return;
	maildir_close_box(box);
	mailbox_row_release(&box->row);
	free(box);
	*boxp = NULL;
}

static int64_t
dir_mtime(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -1;
	return (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

int
mailbox_reload(struct store_mailbox *box, const char **error_r)
{
	struct mailbox_row row;
	int found = idx_mailbox_get_id(box->user, box->row.id, &row, error_r);

	/* A row id is used again by a mailbox made after the deletion of
	 * the one it named; UIDVALIDITY tells them apart (a mailbox keeps
	 * its own for its life, renames included). The handle's directories
	 * are the old mailbox's: a sync through them would take the new
	 * one's messages for gone. */
	if (found == 0 && row.uidvalidity != box->row.uidvalidity) {
		mailbox_row_release(&row);
		found = 1;
	}
	if (found == 1)
		return user_fail(box->user, error_r, ENOENT, "mailbox %s was deleted",
				 box->row.name);
	if (found < 0)
		return -1;
	mailbox_row_release(&box->row);
	box->row = row;
	return 0;
}

/* The status from the mailbox row; reload: read the row again first (it
 * may have changed since box->row was read). The message and keyword
 * counts are kept in the row by the index's triggers. */
static int
refresh_status(struct store_mailbox *box, bool reload, const char **error_r)
{
	if (reload && mailbox_reload(box, error_r) < 0)
		return -1;
	box->status.messages = box->row.message_count;
	box->status.keywords = box->row.keyword_count;
	box->status.uidvalidity = box->row.uidvalidity;
	box->status.uidnext = box->row.uidnext;
	box->status.highestmodseq = box->row.highestmodseq;
	return 0;
}

static int64_t
monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
mailbox_sync(struct store_mailbox *box, bool rate_limited, const char **error_r)
{
	struct store_user *user = box->user;
	struct sync_stats stats = {0};

	if (mailbox_reload(box, error_r) < 0)
		return -1;
	int64_t now = monotonic_ns();
	bool may_scan = !rate_limited || box->scanned_at == 0 ||
			now - box->scanned_at >= (int64_t)STORE_REFRESH_SCAN_MS * 1000000;
	bool scanned = false;
	/* Nothing changed on disk since the last full scan: no lock needed. */
	if (may_scan && (box->row.new_mtime == 0 || box->row.new_mtime != dir_mtime(box->new_fd) ||
			 box->row.cur_mtime == 0 || box->row.cur_mtime != dir_mtime(box->cur_fd))) {
		scanned = true;
		box->scanned_at = now;
		if (idx_begin(user, error_r) < 0)
			return -1;
		if (mailbox_reload(box, error_r) < 0 ||
		    sync_mailbox(box, SYNC_FULL, !box->readonly, NULL, 0, &stats, error_r) < 0 ||
		    idx_commit(user, error_r) < 0) {
			idx_rollback(user);
			return -1;
		}
	}
	return refresh_status(box, scanned, error_r);
}

int
store_mailbox_sync(struct store_mailbox *box, const char **error_r)
{
	return mailbox_sync(box, false, error_r);
}

int
store_mailbox_refresh(struct store_mailbox *box, const char **error_r)
{
	return mailbox_sync(box, true, error_r);
}

void
store_mailbox_status(const struct store_mailbox *box, struct store_status_info *status_r)
{
	*status_r = box->status;
}

const char *
store_mailbox_name(const struct store_mailbox *box)
{
	return box->row.name;
}

/* --- iteration --- */

struct store_iter {
	struct store_mailbox *box;
	sqlite3_stmt *st;
	int cached; /* index into the user's iter_stmts, or -1: st is its own */
	struct store_message msg;
};

int
store_iter_init(struct store_mailbox *box, uint32_t uid_first, uint32_t uid_last,
		uint64_t changed_since, struct store_iter **iter_r, const char **error_r)
{
	struct store_user *user = box->user;
	sqlite3_stmt *st;

	/* Changes since a MODSEQ are few: found through the modseq index
	 * rather than by reading every row of the range. */
	static const char all[] = "SELECT uid, modseq, flags, keywords, internal_date, disk_size,"
				  " crlf_size, cache FROM messages WHERE mailbox = ? AND uid >= ?"
				  " AND uid <= ? AND modseq > ? ORDER BY uid";
	static const char changed[] = "SELECT uid, modseq, flags, keywords, internal_date,"
				      " disk_size, crlf_size, cache FROM messages"
				      " INDEXED BY messages_modseq WHERE mailbox = ? AND uid >= ?"
				      " AND uid <= ? AND modseq > ? ORDER BY uid";

	int which = changed_since > 0 ? 1 : 0, cached = -1;
	if (!user->iter_busy[which]) {
		if (user->iter_stmts[which] == NULL &&
		    sqlite3_prepare_v2(user->db, which ? changed : all, -1,
				       &user->iter_stmts[which], NULL) != SQLITE_OK)
			return user_db_fail(user, error_r, "message list");
		st = user->iter_stmts[which];
		user->iter_busy[which] = true;
		cached = which;
	} else if (sqlite3_prepare_v2(user->db, which ? changed : all, -1, &st, NULL) !=
		   SQLITE_OK) {
		return user_db_fail(user, error_r, "message list");
	}
	sqlite3_bind_int64(st, 1, box->row.id);
	sqlite3_bind_int64(st, 2, uid_first);
	sqlite3_bind_int64(st, 3, uid_last);
	sqlite3_bind_int64(st, 4, (int64_t)MIN(changed_since, (uint64_t)INT64_MAX));
	struct store_iter *it = xcalloc(1, sizeof(*it));
	it->box = box;
	it->st = st;
	it->cached = cached;
	*iter_r = it;
	return 0;
}

int
store_iter_next(struct store_iter *it, const struct store_message **msg_r, const char **error_r)
{
	int rc = sqlite3_step(it->st);

	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return user_db_fail(it->box->user, error_r, "message list");
	struct store_message *m = &it->msg;
	m->uid = (uint32_t)sqlite3_column_int64(it->st, 0);
	m->modseq = (uint64_t)sqlite3_column_int64(it->st, 1);
	m->flags = (unsigned)sqlite3_column_int(it->st, 2);
	const unsigned char *kw = sqlite3_column_text(it->st, 3);
	m->keywords = kw != NULL ? (const char *)kw : "";
	m->internal_date = (time_t)sqlite3_column_int64(it->st, 4);
	m->disk_size = (uint64_t)sqlite3_column_int64(it->st, 5);
	m->crlf_size = (uint64_t)sqlite3_column_int64(it->st, 6);
	m->cache = (const char *)sqlite3_column_text(it->st, 7);
	*msg_r = m;
	return 1;
}

void
store_iter_free(struct store_iter **itp)
{
	if (*itp == NULL)
		return;
	struct store_iter *it = *itp;
	if (it->cached >= 0) {
		struct store_user *user = it->box->user;
		sqlite3_reset(it->st);
		sqlite3_clear_bindings(it->st);
		user->iter_busy[it->cached] = false;
	} else {
		sqlite3_finalize(it->st);
	}
	free(it);
	*itp = NULL;
}

static int
collect_uids(struct store_user *user, sqlite3_stmt *st, bool cached, uint32_t **uids_r,
	     size_t *count_r, const char **error_r)
{
	uint32_t *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n++] = (uint32_t)sqlite3_column_int64(st, 0);
	}
	if (cached)
		sqlite3_reset(st);
	else
		sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(v);
		return user_db_fail(user, error_r, "uid list");
	}
	*uids_r = v;
	*count_r = n;
	return 0;
}

int
store_expunged_since(struct store_mailbox *box, uint64_t modseq, uint32_t **uids_r, size_t *count_r,
		     const char **error_r)
{
	sqlite3_stmt *st = idx_stmt(box->user, ST_EXPUNGED_SINCE);

	if (st == NULL)
		return user_db_fail(box->user, error_r, "expunged list");
	sqlite3_bind_int64(st, 1, box->row.id);
	sqlite3_bind_int64(st, 2, (int64_t)MIN(modseq, (uint64_t)INT64_MAX));
	return collect_uids(box->user, st, true, uids_r, count_r, error_r);
}

int
store_message_set_cache(struct store_mailbox *box, uint32_t uid, const char *cache,
			const char **error_r)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(box->user->db,
			       "UPDATE messages SET cache = ? WHERE mailbox = ? AND uid = ?", -1,
			       &st, NULL) != SQLITE_OK)
		return user_db_fail(box->user, error_r, "cache update");
	if (cache != NULL)
		sqlite3_bind_text(st, 1, cache, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, box->row.id);
	sqlite3_bind_int64(st, 3, uid);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return user_db_fail(box->user, error_r, "cache update");
	return 0;
}

/* --- content --- */

void
msg_row_release(struct msg_row *m)
{
	free(m->base);
	free(m->file);
	free(m->keywords);
	free(m->cache);
	memset(m, 0, sizeof(*m));
}

int
msg_get(struct store_mailbox *box, uint32_t uid, struct msg_row *m, const char **error_r)
{
	sqlite3_stmt *st = idx_stmt(box->user, ST_MSG_BY_UID);

	if (st == NULL)
		return user_db_fail(box->user, error_r, "message lookup");
	sqlite3_bind_int64(st, 1, box->row.id);
	sqlite3_bind_int64(st, 2, uid);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return 1;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return user_db_fail(box->user, error_r, "message lookup");
	}
	m->base = xstrdup((const char *)sqlite3_column_text(st, 0));
	m->file = xstrdup((const char *)sqlite3_column_text(st, 1));
	m->flags = (unsigned)sqlite3_column_int(st, 2);
	m->keywords = xstrdup((const char *)sqlite3_column_text(st, 3));
	m->modseq = (uint64_t)sqlite3_column_int64(st, 4);
	m->internal_date = sqlite3_column_int64(st, 5);
	m->disk_size = (uint64_t)sqlite3_column_int64(st, 6);
	m->crlf_size = (uint64_t)sqlite3_column_int64(st, 7);
	const unsigned char *cache = sqlite3_column_text(st, 8);
	m->cache = cache != NULL ? xstrdup((const char *)cache) : NULL;
	sqlite3_reset(st);
	return 0;
}

char *
maildir_find_base(struct store_mailbox *box, const char *base)
{
	size_t blen = strlen(base);
	int fds[2] = {box->cur_fd, box->new_fd};

	for (int i = 0; i < 2; i++) {
		int fd = openat(fds[i], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *d = fd < 0 ? NULL : fdopendir(fd);
		if (d == NULL) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		struct dirent *e;
		char *found = NULL;
		while (found == NULL && (e = readdir(d)) != NULL)
			if (strncmp(e->d_name, base, blen) == 0 &&
			    (e->d_name[blen] == '\0' || e->d_name[blen] == ':'))
				found = xasprintf("%s/%s", i == 0 ? "cur" : "new", e->d_name);
		closedir(d);
		if (found != NULL)
			return found;
	}
	return NULL;
}

int
store_message_open(struct store_mailbox *box, uint32_t uid, struct store_content *content_r,
		   const char **error_r)
{
	struct msg_row m;
	int found = msg_get(box, uid, &m, error_r);

	if (found == 1)
		return user_fail(box->user, error_r, ENOENT, "no message with UID %lu",
				 (unsigned long)uid);
	if (found < 0)
		return -1;
	int fd =
	    openat(maildir_file_dir(box, m.file), m.file + 4, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		char *moved = maildir_find_base(box, m.base);
		if (moved != NULL)
			fd = openat(maildir_file_dir(box, moved), moved + 4,
				    O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		free(moved);
		if (fd < 0)
			errno = ENOENT;
	}
	if (fd < 0) {
		int err = errno;
		user_fail(box->user, error_r, err, "UID %lu: %s/%s: %s", (unsigned long)uid,
			  box->row.dir, m.file, strerror(err));
		msg_row_release(&m);
		return -1;
	}
	content_r->fd = fd;
	content_r->disk_size = m.disk_size;
	content_r->crlf_size = m.crlf_size;
	msg_row_release(&m);
	return 0;
}

/* --- flags --- */

static bool
keyword_valid(const char *k, size_t len)
{
	if (len == 0 || len > STORE_KEYWORD_MAX || k[0] == '\\')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)k[i];
		if (c <= ' ' || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

struct kwset {
	char *v[STORE_KEYWORDS_MAX];
	size_t n;
};

static void
kwset_release(struct kwset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	s->n = 0;
}

static ssize_t
kwset_find(const struct kwset *s, const char *k)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcasecmp(s->v[i], k) == 0)
			return (ssize_t)i;
	return -1;
}

/* Parse a space-separated list into s (added to what it holds); -1 on an
 * invalid keyword (errno EINVAL) or too many (E2BIG). */
static int
kwset_parse(struct kwset *s, const char *text, bool remove)
{
	const char *p = text != NULL ? text : "";

	while (*p != '\0') {
		if (*p == ' ') {
			p++;
			continue;
		}
		size_t len = strcspn(p, " ");
		if (!keyword_valid(p, len)) {
			errno = EINVAL;
			return -1;
		}
		char *k = xstrndup(p, len);
		ssize_t at = kwset_find(s, k);
		if (remove && at >= 0) {
			free(s->v[at]);
			s->v[at] = s->v[--s->n];
			free(k);
		} else if (remove || at >= 0) {
			free(k);
		} else if (s->n == STORE_KEYWORDS_MAX) {
			free(k);
			errno = E2BIG;
			return -1;
		} else {
			s->v[s->n++] = k;
		}
		p += len;
	}
	return 0;
}

static int
kw_cmp(const void *a, const void *b)
{
	return strcasecmp(*(char *const *)a, *(char *const *)b);
}

static char *
kwset_text(struct kwset *s)
{
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(s->v[0]), kw_cmp);
	for (size_t i = 0; i < s->n; i++)
		if ((i > 0 && buf_add_char(&b, ' ') < 0) || buf_add_str(&b, s->v[i]) < 0)
			break;
	return buf_steal(&b);
}

int
store_keywords_normalize(const char *in, char **out_r)
{
	struct kwset s = {.n = 0};

	if (kwset_parse(&s, in, false) < 0) {
		kwset_release(&s);
		return -1;
	}
	*out_r = kwset_text(&s);
	kwset_release(&s);
	return 0;
}

int
user_keywords_normalize(struct store_user *user, const char *in, char **out_r, const char **error_r)
{
	if (store_keywords_normalize(in, out_r) < 0)
		return user_fail(user, error_r, errno, "%s keywords",
				 errno == E2BIG ? "too many" : "invalid");
	return 0;
}

/* The file name for new flags: cur/BASE:2,LETTERS. */
static char *
flagged_name(const char *base, const char *old_file, unsigned flags)
{
	struct maildir_name mn;
	struct buf b;
	const char *old = old_file + 4;

	buf_init(&b, BUF_UNLIMITED);
	bool ok = buf_add_str(&b, base) == 0 && buf_add_str(&b, ":2,") == 0;
	if (maildir_name_parse(old, strlen(old), &mn) == 0 && mn.has_info)
		ok = ok && maildir_flags_letters(flags, old + mn.flags_off, mn.flags_len, &b) == 0;
	else
		ok = ok && maildir_flags_letters(flags, NULL, 0, &b) == 0;
	if (!ok) {
		buf_release(&b);
		return NULL;
	}
	return buf_steal(&b);
}

static int
add_uid(uint32_t **v, size_t *n, uint32_t uid)
{
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = uid;
	return 0;
}

/* Apply new flags to one message; 1 when changed, 0 when not (or gone). */
static int
flags_one(struct store_mailbox *box, uint32_t uid, const struct msg_row *m, unsigned flags,
	  const char *keywords, uint64_t *modseq, const char **error_r)
{
	struct store_user *user = box->user;
	char *file = NULL;

	if (flags != m->flags) {
		char *name = flagged_name(m->base, m->file, flags);
		if (name == NULL)
			return user_fail(user, error_r, ENAMETOOLONG, "file name too long");
		file = xasprintf("cur/%s", name);
		free(name);
	} else {
		file = xstrdup(m->file);
	}
	if (strcmp(file, m->file) != 0) {
		const char *from = m->file;
		char *moved = NULL;
		int rc = renameat(maildir_file_dir(box, from), from + 4, box->cur_fd, file + 4);
		if (rc < 0 && errno == ENOENT && (moved = maildir_find_base(box, m->base)) != NULL)
			rc = renameat(maildir_file_dir(box, moved), moved + 4, box->cur_fd,
				      file + 4);
		free(moved);
		if (rc < 0) {
			int err = errno;
			free(file);
			if (err == ENOENT)
				return 0; /* gone: the next sync expunges it */
			return user_fail(user, error_r, err, "%s/%s: %s", box->row.dir, from,
					 strerror(err));
		}
	}
	if (*modseq == 0 && idx_modseq_next(user, box->row.id, modseq, error_r) < 0) {
		free(file);
		return -1;
	}
	sqlite3_stmt *st = idx_stmt(user, ST_MSG_SET_FLAGS);
	if (st == NULL) {
		free(file);
		return user_db_fail(user, error_r, "flags");
	}
	sqlite3_bind_text(st, 1, file, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, (int)flags);
	sqlite3_bind_text(st, 3, keywords, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (int64_t)*modseq);
	sqlite3_bind_int64(st, 5, box->row.id);
	sqlite3_bind_int64(st, 6, uid);
	free(file);
	if (sqlite3_step(st) != SQLITE_DONE)
		return user_db_fail(user, error_r, "flags");
	sqlite3_reset(st);
	return 1;
}

int
store_flags_update(struct store_mailbox *box, const uint32_t *uids, size_t n,
		   enum store_flags_op op, unsigned flags, const char *keywords,
		   uint64_t unchanged_since, uint32_t **modified_r, size_t *modified_count_r,
		   const char **error_r)
{
	struct store_user *user = box->user;
	char *given = NULL, *kept = NULL;
	uint64_t modseq = 0;
	int changed = 0;

	if (modified_r != NULL) {
		*modified_r = NULL;
		*modified_count_r = 0;
	}
	if (box->readonly)
		return user_fail(user, error_r, EROFS, "mailbox is read-only");
	if ((flags & ~STORE_FLAGS_ALL) != 0)
		return user_fail(user, error_r, EINVAL, "invalid flags");
	if (user_keywords_normalize(user, keywords, &given, error_r) < 0)
		return -1;
	keywords = given;
	if (idx_begin(user, error_r) < 0) {
		free(given);
		return -1;
	}
	/* The keywords given are used in the mailbox before any message
	 * carries them (removing them uses none). */
	if (op != STORE_FLAGS_REMOVE && n > 0 &&
	    idx_keywords_admit(user, box->row.id, given, true, &kept, error_r) < 0)
		goto fail;
	if (kept != NULL)
		keywords = kept;
	for (size_t i = 0; i < n; i++) {
		struct msg_row m;
		int found = msg_get(box, uids[i], &m, error_r);
		if (found == 1)
			continue;
		if (found < 0)
			goto fail;
		if (unchanged_since > 0 && m.modseq > unchanged_since) {
			if (modified_r != NULL)
				add_uid(modified_r, modified_count_r, uids[i]);
			msg_row_release(&m);
			continue;
		}
		unsigned nf = op == STORE_FLAGS_SET   ? flags
			      : op == STORE_FLAGS_ADD ? (m.flags | flags)
						      : (m.flags & ~flags);
		struct kwset kw = {.n = 0};
		if (op != STORE_FLAGS_SET)
			(void)kwset_parse(&kw, m.keywords, false);
		int r = kwset_parse(&kw, keywords, op == STORE_FLAGS_REMOVE);
		char *text = kwset_text(&kw);
		kwset_release(&kw);
		if (r < 0) {
			user_fail(user, error_r, E2BIG, "too many keywords on a message");
		} else if (nf == m.flags && strcmp(text, m.keywords) == 0) {
			r = 0;
		} else {
			r = flags_one(box, uids[i], &m, nf, text, &modseq, error_r);
			if (r > 0)
				changed++;
		}
		free(text);
		msg_row_release(&m);
		if (r < 0)
			goto fail;
	}
	if (changed > 0 && idx_changed(user, error_r) < 0)
		goto fail;
	if (idx_commit(user, error_r) < 0)
		goto fail_nocommit;
	free(given);
	free(kept);
	return changed;
fail:
	idx_rollback(user);
fail_nocommit:
	free(given);
	free(kept);
	if (modified_r != NULL) {
		free(*modified_r);
		*modified_r = NULL;
		*modified_count_r = 0;
	}
	return -1;
}

/* --- expunge --- */

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int
expunge_file(struct store_mailbox *box, uint32_t uid, char **file_r, const char **error_r)
{
	struct msg_row m;
	int found = msg_get(box, uid, &m, error_r);
	char *gone = NULL;

	if (file_r != NULL)
		*file_r = NULL;
	if (found != 0)
		return found == 1 ? 0 : -1;
	int rc = unlinkat(maildir_file_dir(box, m.file), m.file + 4, 0);
	if (rc == 0) {
		gone = m.file;
		m.file = NULL;
	} else if (errno == ENOENT) {
		gone = maildir_find_base(box, m.base);
		rc = gone != NULL ? unlinkat(maildir_file_dir(box, gone), gone + 4, 0) : 0;
		if (rc < 0 && errno == ENOENT) {
			rc = 0;
			free(gone);
			gone = NULL;
		}
	}
	if (rc < 0) {
		user_fail(box->user, error_r, 0, "%s/%s: %s", box->row.dir,
			  gone != NULL ? gone : m.file, strerror(errno));
		free(gone);
		msg_row_release(&m);
		return -1;
	}
	msg_row_release(&m);
	if (file_r != NULL)
		*file_r = gone;
	else
		free(gone);
	return 1;
}

int
expunge_rows(struct store_mailbox *box, const uint32_t *uids, size_t n, const char **error_r)
{
	uint64_t modseq;

	if (n == 0)
		return 0;
	if (idx_modseq_next(box->user, box->row.id, &modseq, error_r) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (idx_msg_expunged(box->user, box->row.id, uids[i], modseq, error_r) < 0)
			return -1;
	return idx_changed(box->user, error_r);
}

int
store_expunge(struct store_mailbox *box, const uint32_t *uids, size_t n, uint32_t **expunged_r,
	      size_t *count_r, const char **error_r)
{
	struct store_user *user = box->user;
	uint32_t *done = NULL;
	size_t ndone = 0;

	if (expunged_r != NULL) {
		*expunged_r = NULL;
		*count_r = 0;
	}
	if (box->readonly)
		return user_fail(user, error_r, EROFS, "mailbox is read-only");
	if (idx_begin(user, error_r) < 0)
		return -1;
	uint32_t *cand = NULL;
	size_t ncand = 0;
	if (uids == NULL) {
		sqlite3_stmt *st = idx_stmt(user, ST_DELETED_UIDS);
		if (st == NULL) {
			user_db_fail(user, error_r, "expunge");
			goto fail;
		}
		sqlite3_bind_int64(st, 1, box->row.id);
		if (collect_uids(user, st, true, &cand, &ncand, error_r) < 0)
			goto fail;
		uids = cand;
		n = ncand;
	}
	/* Files first, then rows: a crash in between leaves rows without
	 * files, which the next sync expunges. */
	for (size_t i = 0; i < n; i++) {
		int found = expunge_file(box, uids[i], NULL, error_r);
		if (found < 0)
			goto fail;
		if (found == 1)
			add_uid(&done, &ndone, uids[i]);
	}
	if (expunge_rows(box, done, ndone, error_r) < 0)
		goto fail;
	if (idx_commit(user, error_r) < 0)
		goto fail_nocommit;
	free(cand);
	if (ndone > 1)
		qsort(done, ndone, sizeof(*done), uid_cmp);
	if (expunged_r != NULL) {
		*expunged_r = done;
		*count_r = ndone;
	} else {
		free(done);
	}
	return (int)MIN(ndone, (size_t)INT32_MAX);
fail:
	idx_rollback(user);
fail_nocommit:
	free(cand);
	free(done);
	return -1;
}
