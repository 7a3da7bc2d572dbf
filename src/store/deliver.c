/* deliver.c - local delivery: the spool file, and its links into the
 * recipients' Maildirs.
 *
 * The order (docs/queue.md, "Local delivery"): the spool file is written
 * and fsync'd once; for each recipient it is hard-linked into the mailbox's
 * new/ (cur/ when flags are given) under its final name; then each of
 * those directories is fsync'd; then each index row is committed. Links
 * come first and directory fsyncs after them, so that a batch of
 * recipients pays for about one cache flush rather than one per recipient
 * (the directory fsyncs run in parallel); no fsync ever runs inside an
 * index transaction.
 */
#include "lib/common.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/maildir_name.h"
#include "store/names.h"
#include "store/store_private.h"

#define SPOOL_BUFFER 65536
/* Recipients handled together (each holds an index connection and a few
 * descriptors until its row is committed). */
#define DELIVER_BATCH 32

void (*store_test_hook)(const char *point);

static void
hook(const char *point)
{
	if (store_test_hook != NULL)
		store_test_hook(point);
}

struct store_spool {
	struct store *store;
	int fd;
	char *name; /* in tmp/; the base of delivered files */
	struct buf wbuf;
	uint64_t disk_size;
	uint64_t crlf_size;
	struct crlf_state crlf;
	int err; /* sticky errno */
	bool finished;
	time_t received;
	struct stat st; /* after finish */
};

int
store_spool_open(struct store *store, struct store_spool **spool_r, const char **error_r)
{
	struct buf name;
	int fd = -1;

	buf_init(&name, MAILDIR_NAME_MAX);
	for (int attempt = 0; attempt < 5 && fd < 0; attempt++) {
		buf_reset(&name);
		if (store_new_base(store, &name) < 0) {
			buf_release(&name);
			return store_fail(store, error_r, "host name too long for a file name");
		}
		fd = openat(store->tmp_fd, name.data,
			    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		int err = errno;
		buf_release(&name);
		errno = err;
		return store_fail(store, error_r, "spool file in %s/tmp: %s", store->data_dir,
				  strerror(err));
	}
	struct store_spool *spool = xcalloc(1, sizeof(*spool));
	spool->store = store;
	spool->fd = fd;
	spool->name = buf_steal(&name);
	buf_init(&spool->wbuf, SPOOL_BUFFER);
	*spool_r = spool;
	return 0;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
spool_flush(struct store_spool *spool)
{
	if (spool->wbuf.len > 0 && write_all(spool->fd, spool->wbuf.data, spool->wbuf.len) < 0) {
		spool->err = errno;
		return -1;
	}
	buf_reset(&spool->wbuf);
	return 0;
}

static int
spool_fail(struct store_spool *spool, const char **error_r)
{
	return store_fail(spool->store, error_r, "spool file tmp/%s: %s", spool->name,
			  strerror(spool->err));
}

int
store_spool_write(struct store_spool *spool, const void *data, size_t len, const char **error_r)
{
	if (spool->finished) {
		spool->err = EINVAL;
		return spool_fail(spool, error_r);
	}
	if (spool->err != 0)
		return spool_fail(spool, error_r);
	if (len > MAILDIR_SIZE_MAX / 2 - spool->crlf_size) {
		spool->err = EFBIG;
		return spool_fail(spool, error_r);
	}
	spool->crlf_size += len + crlf_count(&spool->crlf, data, len);
	spool->disk_size += len;
	if (spool->wbuf.len + len > SPOOL_BUFFER && spool_flush(spool) < 0)
		return spool_fail(spool, error_r);
	if (len >= SPOOL_BUFFER) {
		if (write_all(spool->fd, data, len) < 0) {
			spool->err = errno;
			return spool_fail(spool, error_r);
		}
		return 0;
	}
	if (buf_add(&spool->wbuf, data, len) < 0)
		panic("spool buffer over its cap");
	return 0;
}

int
store_spool_finish(struct store_spool *spool, int *errno_r, const char **error_r)
{
	if (spool->err == 0 && !spool->finished) {
		if (spool_flush(spool) == 0) {
			while (fsync(spool->fd) < 0 && spool->err == 0)
				if (errno != EINTR)
					spool->err = errno;
		}
		if (spool->err == 0 && fstat(spool->fd, &spool->st) < 0)
			spool->err = errno;
		if (spool->err == 0 && (uint64_t)spool->st.st_size != spool->disk_size)
			spool->err = EIO;
	}
	if (spool->err != 0) {
		if (errno_r != NULL)
			*errno_r = spool->err;
		return spool_fail(spool, error_r);
	}
	spool->finished = true;
	spool->received = time(NULL);
	buf_release(&spool->wbuf);
	return 0;
}

uint64_t
store_spool_disk_size(const struct store_spool *spool)
{
	return spool->disk_size;
}

uint64_t
store_spool_crlf_size(const struct store_spool *spool)
{
	return spool->crlf_size;
}

void
store_spool_rebind(struct store_spool *spool, struct store *store)
{
	spool->store = store;
}

int
store_spool_fd(const struct store_spool *spool)
{
	return spool->fd;
}

void
store_spool_free(struct store_spool **spoolp)
{
	struct store_spool *spool = *spoolp;

	if (spool == NULL)
		return;
	if (spool->fd >= 0)
		close(spool->fd);
	(void)unlinkat(spool->store->tmp_fd, spool->name, 0);
	buf_release(&spool->wbuf);
	free(spool->name);
	free(spool);
	*spoolp = NULL;
}

/* --- delivery --- */

struct target {
	size_t rcpt;
	struct store_user *user;
	struct store_mailbox *box;
	char *base;
	char *file; /* "new/NAME" or "cur/NAME" */
	char *keywords;
	bool linked;
	bool fell_back;	    /* folder missing: INBOX */
};

static void result_set(struct store_result *r, enum store_status status, const char *fmt, ...)
    ATTR_PRINTF(3, 4);

static void
result_set(struct store_result *r, enum store_status status, const char *fmt, ...)
{
	va_list ap;

	r->status = status;
	va_start(ap, fmt);
	(void)vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
}

static enum store_status
status_of(int err)
{
	return err == ENOSPC || err == EDQUOT ? STORE_NO_SPACE : STORE_TEMP_FAIL;
}

static void
target_fail(struct target *t, struct store_result *r, int err, const char *what)
{
	result_set(r, status_of(err), "%s", what);
	if (t->linked) {
		int fd = strncmp(t->file, "new/", 4) == 0 ? t->box->new_fd : t->box->cur_fd;
		(void)unlinkat(fd, t->file + 4, 0);
		t->linked = false;
	}
}

static void
target_release(struct store *store, struct target *t, const struct store_result *r)
{
	store_mailbox_close(&t->box);
	/* Keep the connection for the next delivery only when this one went
	 * well: a broken index must be opened (and rebuilt) afresh. */
	if (r->status == STORE_OK || r->status == STORE_OVER_QUOTA)
		user_cache_put(store, &t->user);
	else
		store_user_close(&t->user);
	free(t->base);
	free(t->file);
	free(t->keywords);
	memset(t, 0, sizeof(*t));
}

/* Copy the spool into the mailbox's tmp/, fsync it, and link it to its
 * name (when a hard link cannot be made: another filesystem, too many
 * links). */
static int
copy_in(struct store_spool *spool, struct target *t, int dirfd)
{
	char buf[65536];
	char *tmpname = xasprintf("tmp/%s", t->base);
	int in = openat(spool->store->tmp_fd, spool->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int out = openat(t->box->box_fd, tmpname,
			 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int ret = -1, err = 0;
	uint64_t off = 0;

	if (in < 0 || out < 0)
		goto out;
	for (;;) {
		ssize_t n = pread(in, buf, sizeof(buf), (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (n > 0 && write_all(out, buf, (size_t)n) < 0))
			goto out;
		if (n == 0)
			break;
		off += (uint64_t)n;
	}
	if (fsync(out) < 0 || linkat(t->box->box_fd, tmpname, dirfd, t->file + 4, 0) < 0)
		goto out;
	ret = 0;
out:
	err = errno;
	if (in >= 0)
		close(in);
	if (out >= 0) {
		close(out);
		(void)unlinkat(t->box->box_fd, tmpname, 0);
	}
	free(tmpname);
	errno = err;
	return ret;
}

/* Name the file for this recipient and link (or copy) it in. */
static int
link_in(struct store_spool *spool, struct target *t, const struct store_rcpt *rcpt)
{
	struct buf base, file;
	bool flagged = (rcpt->flags & STORE_FLAGS_ALL) != 0;
	int dirfd = flagged ? t->box->cur_fd : t->box->new_fd;

	buf_init(&base, MAILDIR_NAME_MAX);
	buf_init(&file, MAILDIR_NAME_MAX + 4);
	for (int attempt = 0; attempt < 3; attempt++) {
		buf_reset(&base);
		buf_reset(&file);
		/* A name taken already (a clock step back, another system's
		 * file): make a fresh one. */
		int r = attempt == 0 ? buf_add_str(&base, spool->name)
				     : store_new_base(spool->store, &base);
		if (r < 0 ||
		    maildir_base_add_sizes(&base, spool->disk_size, spool->crlf_size) < 0 ||
		    buf_add_str(&file, flagged ? "cur/" : "new/") < 0 ||
		    buf_add(&file, base.data, base.len) < 0 ||
		    (flagged && (buf_add_str(&file, ":2,") < 0 ||
				 maildir_flags_letters(rcpt->flags, NULL, 0, &file) < 0))) {
			errno = ENAMETOOLONG;
			break;
		}
		r = linkat(spool->store->tmp_fd, spool->name, dirfd, file.data + 4, 0);
		if (r < 0 && (errno == EXDEV || errno == EMLINK || errno == EPERM)) {
			t->base = xstrdup(base.data);
			t->file = xstrdup(file.data);
			r = copy_in(spool, t, dirfd);
			if (r < 0 && errno == EEXIST) {
				free(t->base);
				free(t->file);
				t->base = t->file = NULL;
			}
		}
		if (r == 0) {
			if (t->base == NULL) {
				t->base = buf_steal(&base);
				t->file = buf_steal(&file);
			}
			buf_release(&base);
			buf_release(&file);
			t->linked = true;
			return 0;
		}
		if (errno != EEXIST)
			break;
	}
	int err = errno;
	buf_release(&base);
	buf_release(&file);
	errno = err;
	return -1;
}

/* Open the recipient's store and mailbox, check the quota. false when
 * *r has been given the outcome. */
static bool
prepare(struct store_spool *spool, struct target *t, const struct store_rcpt *rcpt,
	struct store_result *r)
{
	const char *error;

	if (store_address_check(rcpt->address, &error) < 0) {
		result_set(r, STORE_REFUSED, "refused: %s", error);
		return false;
	}
	if (store_keywords_normalize(rcpt->keywords, &t->keywords) < 0) {
		result_set(r, STORE_REFUSED, "refused: invalid keywords");
		return false;
	}
	if (user_cache_get(spool->store, rcpt->address, &t->user, &error) < 0) {
		result_set(r, status_of(errno), "%s", error);
		return false;
	}
	int found = 1;
	if (rcpt->folder != NULL) {
		found = mailbox_open_raw(t->user, rcpt->folder, &t->box, &error);
		if (found < 0 && errno != EINVAL) {
			result_set(r, status_of(errno), "%s", error);
			return false;
		}
		t->fell_back = found != 0;
	}
	if (t->box == NULL && mailbox_open_raw(t->user, "INBOX", &t->box, &error) != 0) {
		result_set(r, STORE_TEMP_FAIL, "%s: INBOX: %s", rcpt->address,
			   t->user->error[0] != '\0' ? t->user->error : "missing");
		return false;
	}
	if (rcpt->quota > 0) {
		uint64_t used;
		if (store_user_usage(t->user, &used, NULL, &error) < 0) {
			result_set(r, status_of(errno), "%s", error);
			return false;
		}
		if (spool->disk_size > rcpt->quota || used > rcpt->quota - spool->disk_size) {
			result_set(r, STORE_OVER_QUOTA,
				   "%s: over quota (%llu of %llu bytes used, message %llu)",
				   rcpt->address, (unsigned long long)used,
				   (unsigned long long)rcpt->quota,
				   (unsigned long long)spool->disk_size);
			return false;
		}
	}
	return true;
}

/* An earlier recipient of the batch that resolved to the same mailbox (the
 * same address once with a missing folder, once without). */
static const struct target *
same_mailbox(const struct target *batch, size_t nb, const struct target *t)
{
	for (size_t b = 0; b < nb; b++)
		if (&batch[b] != t && batch[b].linked &&
		    strcmp(batch[b].user->address, t->user->address) == 0 &&
		    batch[b].box->row.id == t->box->row.id)
			return &batch[b];
	return NULL;
}

/* Give the linked file its row (and pick up leftovers found in new/). */
static void
commit(struct store_spool *spool, struct target *t, const struct store_rcpt *rcpt,
       struct store_result *r)
{
	struct store_user *user = t->user;
	const char *error;
	uint32_t uid;

	struct msg_add m = {
	    .base = t->base,
	    .file = t->file,
	    .flags = rcpt->flags & STORE_FLAGS_ALL,
	    .keywords = t->keywords,
	    .internal_date =
		rcpt->internal_date != 0 ? (int64_t)rcpt->internal_date : (int64_t)spool->received,
	    .disk_size = spool->disk_size,
	    .crlf_size = spool->crlf_size,
	};
	/* No scan of new/ here: files the index does not know (crash
	 * leftovers, other programs' drops) are picked up when the mailbox is
	 * opened. Scanning at each delivery made delivery cost grow with the
	 * mailbox whenever another process had delivered in between. */
	if (idx_begin(user, &error) < 0 ||
	    idx_msg_add(user, t->box->row.id, &m, &uid, &error) < 0 ||
	    idx_commit(user, &error) < 0) {
		int err = user->last_errno;
		idx_rollback(user);
		target_fail(t, r, err, error);
		return;
	}
	r->uidvalidity = t->box->row.uidvalidity;
	r->uid = uid;
	result_set(r, STORE_OK, "delivered to %s as UID %lu%s%s%s", t->box->row.name,
		   (unsigned long)uid, t->fell_back ? " (no folder " : "",
		   t->fell_back ? rcpt->folder : "", t->fell_back ? ")" : "");
}

static char *
dedupe_key(const struct store_rcpt *rcpt)
{
	struct buf norm, dir;
	char *key;

	buf_init(&norm, STORE_MAILBOX_NAME_MAX + 8);
	buf_init(&dir, 256);
	if (rcpt->folder == NULL || mailbox_name_resolve(rcpt->folder, &norm, &dir, NULL) < 0)
		key = xasprintf("%s\n", rcpt->address);
	else if (strcmp(norm.data, "INBOX") == 0)
		key = xasprintf("%s\n", rcpt->address);
	else
		key = xasprintf("%s\n%s", rcpt->address, norm.data);
	buf_release(&norm);
	buf_release(&dir);
	return key;
}

int
store_deliver(struct store_spool *spool, const struct store_rcpt *rcpts, size_t n,
	      struct store_result *results)
{
	struct target batch[DELIVER_BATCH];
	char **keys = xcalloc(n + 1, sizeof(*keys));
	size_t *dup_of = xcalloc(n + 1, sizeof(*dup_of));
	int ok = 0;

	for (size_t i = 0; i < n; i++) {
		memset(&results[i], 0, sizeof(results[i]));
		keys[i] = dedupe_key(&rcpts[i]);
		dup_of[i] = i;
		for (size_t j = 0; j < i; j++)
			if (strcmp(keys[i], keys[j]) == 0) {
				dup_of[i] = j;
				break;
			}
	}
	if (!spool->finished) {
		for (size_t i = 0; i < n; i++)
			result_set(&results[i], STORE_TEMP_FAIL, "spool not finished");
		goto out;
	}
	size_t i = 0;
	while (i < n) {
		size_t nb = 0;
		memset(batch, 0, sizeof(batch));
		for (; i < n && nb < DELIVER_BATCH; i++) {
			if (dup_of[i] != i)
				continue;
			struct target *t = &batch[nb++];
			t->rcpt = i;
			if (!prepare(spool, t, &rcpts[i], &results[i]))
				continue;
			const struct target *twin = same_mailbox(batch, nb, t);
			if (twin != NULL) {
				dup_of[i] = twin->rcpt;
				continue;
			}
			if (link_in(spool, t, &rcpts[i]) < 0)
				result_set(&results[i], status_of(errno), "%s: link into %s: %s",
					   rcpts[i].address, t->box->row.name, strerror(errno));
		}
		hook("linked");
		/* Make the new directory entries durable: every directory
		 * fsync'd, all at once, after all the links. */
		int fds[DELIVER_BATCH], errs[DELIVER_BATCH];
		size_t who[DELIVER_BATCH], nfds = 0;
		for (size_t b = 0; b < nb; b++) {
			struct target *t = &batch[b];
			if (!t->linked)
				continue;
			fds[nfds] =
			    strncmp(t->file, "new/", 4) == 0 ? t->box->new_fd : t->box->cur_fd;
			who[nfds++] = b;
		}
		fsync_dirs(fds, errs, nfds);
		for (size_t k = 0; k < nfds; k++) {
			struct target *t = &batch[who[k]];
			if (errs[k] != 0) {
				char what[STORE_ERROR_MAX];
				(void)snprintf(what, sizeof(what), "%s: fsync %s: %s",
					       rcpts[t->rcpt].address, t->box->row.name,
					       strerror(errs[k]));
				target_fail(t, &results[t->rcpt], errs[k], what);
			}
		}
		hook("synced");
		for (size_t b = 0; b < nb; b++) {
			struct target *t = &batch[b];
			if (t->linked)
				commit(spool, t, &rcpts[t->rcpt], &results[t->rcpt]);
			target_release(spool->store, t, &results[t->rcpt]);
		}
		hook("committed");
	}
	for (size_t k = 0; k < n; k++) {
		if (dup_of[k] != k)
			results[k] = results[dup_of[k]];
		if (results[k].status == STORE_OK)
			ok++;
	}
out:
	for (size_t k = 0; k < n; k++)
		free(keys[k]);
	free(keys);
	free(dup_of);
	return ok;
}
