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
 *
 * Group commit: store_deliver_batch does the same for several messages at
 * once, in rounds of up to DELIVER_ROUND recipients: all their links, then
 * one fsync per distinct directory, then one index transaction per user
 * holding the rows of all its messages in batch order. store_deliver is
 * the batch of one.
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

void
store_hook(const char *point)
{
	if (store_test_hook != NULL)
		store_test_hook(point);
}

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
spool_flush(struct store_spool *spool)
{
	if (spool->wbuf.len > 0 &&
	    store_write_all(spool->fd, spool->wbuf.data, spool->wbuf.len) < 0) {
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
		if (store_write_all(spool->fd, data, len) < 0) {
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
store_spool_write_crlf(struct store_spool *spool, const void *data, size_t len,
		       const char **error_r)
{
	const char *p = data, *end = p + len;

	if (len > 0 && spool->pending_cr) {
		spool->pending_cr = false;
		if (*p != '\n' && store_spool_write(spool, "\r", 1, error_r) < 0)
			return -1;
	}
	while (p < end) {
		const char *cr = memchr(p, '\r', (size_t)(end - p));
		if (cr == NULL)
			return store_spool_write(spool, p, (size_t)(end - p), error_r);
		if (cr > p && store_spool_write(spool, p, (size_t)(cr - p), error_r) < 0)
			return -1;
		if (cr + 1 == end) {
			spool->pending_cr = true; /* decided by the next byte */
			return 0;
		}
		if (cr[1] != '\n' && store_spool_write(spool, "\r", 1, error_r) < 0)
			return -1;
		p = cr + 1;
	}
	return 0;
}

void
store_spool_finish_many(struct store_spool *const *spools, size_t n)
{
	int *fds = xcalloc(n + 1, sizeof(*fds));
	int *errs = xcalloc(n + 1, sizeof(*errs));
	size_t *who = xcalloc(n + 1, sizeof(*who));
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		struct store_spool *spool = spools[i];
		const char *error;
		/* A CR that ended the CRLF content is a byte of its own. */
		if (spool->pending_cr && !spool->finished) {
			spool->pending_cr = false;
			(void)store_spool_write(spool, "\r", 1, &error);
		}
		if (spool->err == 0 && !spool->finished && spool_flush(spool) == 0) {
			fds[k] = spool->fd;
			who[k++] = i;
		}
	}
	/* In parallel: the filesystem commits them together. */
	fsync_dirs(fds, errs, k);
	for (size_t j = 0; j < k; j++) {
		struct store_spool *spool = spools[who[j]];
		if (errs[j] != 0)
			spool->err = errs[j];
		else if (fstat(spool->fd, &spool->st) < 0)
			spool->err = errno;
		else if ((uint64_t)spool->st.st_size != spool->disk_size)
			spool->err = EIO;
		if (spool->err == 0) {
			spool->finished = true;
			spool->received = time(NULL);
			buf_release(&spool->wbuf);
		}
	}
	free(fds);
	free(errs);
	free(who);
}

int
store_spool_finish(struct store_spool *spool, int *errno_r, const char **error_r)
{
	store_spool_finish_many(&spool, 1);
	if (spool->err != 0) {
		if (errno_r != NULL)
			*errno_r = spool->err;
		return spool_fail(spool, error_r);
	}
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
	free(spool->cache);
	free(spool);
	*spoolp = NULL;
}

void
store_spool_set_cache(struct store_spool *spool, const char *cache)
{
	free(spool->cache);
	spool->cache = cache != NULL ? xstrdup(cache) : NULL;
}

/* --- delivery --- */

/* Recipients (targets) handled in one round: each holds a mailbox's
 * descriptors until its row is committed; the targets of one user share
 * its index connection. */
#define DELIVER_ROUND 64

/* A user within one round: one handle, one index transaction. */
struct round_user {
	struct store_user *user;
	uint64_t pending; /* disk bytes linked in this round, not committed yet */
	bool broken;	  /* a failure: close the handle rather than keep it */
};

struct target {
	size_t msg; /* which message of the batch */
	size_t rcpt;
	struct round_user *ru;
	struct store_mailbox *box;
	bool own_box; /* else borrowed from an earlier target of the round */
	char *base;
	char *file; /* "new/NAME" or "cur/NAME" */
	char *keywords;
	bool linked;
	bool fell_back; /* folder missing: INBOX */
};

struct round {
	struct store *store;
	const struct store_delivery *msgs;
	struct target t[DELIVER_ROUND];
	size_t nt;
	struct round_user users[DELIVER_ROUND];
	size_t nusers;
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

static const struct store_rcpt *
rcpt_of(const struct round *rd, const struct target *t)
{
	return &rd->msgs[t->msg].rcpts[t->rcpt];
}

static struct store_result *
result_of(const struct round *rd, const struct target *t)
{
	return &rd->msgs[t->msg].results[t->rcpt];
}

static struct store_spool *
spool_of(const struct round *rd, const struct target *t)
{
	return rd->msgs[t->msg].spool;
}

static void
target_fail(struct target *t, struct store_result *r, int err, const char *what)
{
	result_set(r, status_of(err), "%s", what);
	if (t->linked) {
		link_remove(t->box, t->file);
		t->linked = false;
	}
}

/* Name the file for this recipient and link (or copy) it in. */
static int
link_in(struct store_spool *spool, struct target *t, const struct store_rcpt *rcpt)
{
	unsigned flags = rcpt->flags & STORE_FLAGS_ALL;

	if (link_new(spool->store, spool->store->tmp_fd, spool->name, spool->name, spool->disk_size,
		     spool->crlf_size, flags, flags != 0, t->box, &t->base, &t->file) < 0)
		return -1;
	t->linked = true;
	return 0;
}

/* The round's handle of a user, taken from the cache (or opened) on its
 * first recipient. NULL when *r has been given the outcome. */
static struct round_user *
round_user(struct round *rd, const char *address, struct store_result *r)
{
	const char *error;

	for (size_t u = 0; u < rd->nusers; u++)
		if (strcmp(rd->users[u].user->address, address) == 0)
			return &rd->users[u];
	struct round_user *ru = &rd->users[rd->nusers];
	memset(ru, 0, sizeof(*ru));
	if (user_cache_get(rd->store, address, &ru->user, &error) < 0) {
		result_set(r, status_of(errno), "%s", error);
		return NULL;
	}
	rd->nusers++;
	return ru;
}

/* An earlier target of the round whose mailbox handle t can share: the
 * same user and the same folder argument. */
static const struct target *
box_owner(const struct round *rd, const struct target *t)
{
	const char *folder = rcpt_of(rd, t)->folder;

	for (size_t b = 0; b < rd->nt; b++) {
		const struct target *o = &rd->t[b];
		if (o == t || !o->own_box || o->ru != t->ru)
			continue;
		const char *of = rcpt_of(rd, o)->folder;
		if ((folder == NULL && of == NULL) ||
		    (folder != NULL && of != NULL && strcmp(folder, of) == 0))
			return o;
	}
	return NULL;
}

/* Open (or share) the recipient's user and mailbox. false when *r has
 * been given the outcome. */
static bool
prepare(struct round *rd, struct target *t, struct store_result *r)
{
	const struct store_rcpt *rcpt = rcpt_of(rd, t);
	const char *error;

	if (store_address_check(rcpt->address, &error) < 0) {
		result_set(r, STORE_REFUSED, "refused: %s", error);
		return false;
	}
	if (store_keywords_normalize(rcpt->keywords, &t->keywords) < 0) {
		result_set(r, STORE_REFUSED, "refused: invalid keywords");
		return false;
	}
	t->ru = round_user(rd, rcpt->address, r);
	if (t->ru == NULL)
		return false;
	struct store_user *user = t->ru->user;
	const struct target *owner = box_owner(rd, t);
	if (owner != NULL) {
		t->box = owner->box;
		t->fell_back = owner->fell_back;
		return true;
	}
	int found = 1;
	if (rcpt->folder != NULL) {
		found = mailbox_open_raw(user, rcpt->folder, &t->box, &error);
		if (found < 0 && errno != EINVAL) {
			result_set(r, status_of(errno), "%s", error);
			return false;
		}
		t->fell_back = found != 0;
	}
	if (t->box == NULL && mailbox_open_raw(user, "INBOX", &t->box, &error) != 0) {
		result_set(r, STORE_TEMP_FAIL, "%s: INBOX: %s", rcpt->address,
			   user->error[0] != '\0' ? user->error : "missing");
		return false;
	}
	t->own_box = true;
	return true;
}

/* The quota, counting what earlier messages of the round linked for the
 * same user as used. false when *r has been given the outcome. */
static bool
quota_ok(struct round *rd, const struct target *t, struct store_result *r)
{
	const struct store_rcpt *rcpt = rcpt_of(rd, t);
	uint64_t size = spool_of(rd, t)->disk_size;
	uint64_t used, pending = t->ru->pending;
	const char *error;

	if (rcpt->quota == 0)
		return true;
	if (store_user_usage(t->ru->user, &used, NULL, &error) < 0) {
		result_set(r, status_of(errno), "%s", error);
		return false;
	}
	if (quota_passed(rcpt->quota, used, pending, size)) {
		result_set(
		    r, STORE_OVER_QUOTA, "%s: over quota (%llu of %llu bytes used, message %llu)",
		    rcpt->address,
		    (unsigned long long)(pending > UINT64_MAX - used ? UINT64_MAX : used + pending),
		    (unsigned long long)rcpt->quota, (unsigned long long)size);
		return false;
	}
	return true;
}

/* An earlier recipient of the same message that resolved to the same
 * mailbox (the same address once with a missing folder, once without). */
static const struct target *
same_mailbox(const struct round *rd, const struct target *t)
{
	for (size_t b = 0; b < rd->nt; b++) {
		const struct target *o = &rd->t[b];
		if (o != t && o->msg == t->msg && o->linked && o->ru == t->ru &&
		    o->box->row.id == t->box->row.id)
			return o;
	}
	return NULL;
}

/* Make the round's new directory entries durable: every directory that
 * received a link fsync'd once, all of them at once, after all the links. */
static void
sync_dirs(struct round *rd)
{
	int fds[DELIVER_ROUND], errs[DELIVER_ROUND];
	const struct target *first[DELIVER_ROUND]; /* the first target of each */
	size_t dir_of[DELIVER_ROUND], nfds = 0;

	for (size_t b = 0; b < rd->nt; b++) {
		const struct target *t = &rd->t[b];
		if (!t->linked)
			continue;
		bool is_new = strncmp(t->file, "new/", 4) == 0;
		size_t d = 0;
		for (; d < nfds; d++) {
			const struct target *o = first[d];
			if (o->ru == t->ru && o->box->row.id == t->box->row.id &&
			    (strncmp(o->file, "new/", 4) == 0) == is_new)
				break;
		}
		if (d == nfds) {
			first[nfds] = t;
			fds[nfds++] = is_new ? t->box->new_fd : t->box->cur_fd;
		}
		dir_of[b] = d;
	}
	fsync_dirs(fds, errs, nfds);
	for (size_t b = 0; b < rd->nt; b++) {
		struct target *t = &rd->t[b];
		if (!t->linked || errs[dir_of[b]] == 0)
			continue;
		char what[STORE_ERROR_MAX];
		(void)snprintf(what, sizeof(what), "%s: fsync %s: %s", rcpt_of(rd, t)->address,
			       t->box->row.name, strerror(errs[dir_of[b]]));
		target_fail(t, result_of(rd, t), errs[dir_of[b]], what);
	}
}

/* Give the user's linked files their rows, in round order, in one
 * transaction: all of them are committed, or none (and their links go). */
static void
commit_user(struct round *rd, struct round_user *ru)
{
	struct store_user *user = ru->user;
	uint32_t uids[DELIVER_ROUND];
	const char *error = "index error";
	size_t b, count = 0;

	for (b = 0; b < rd->nt; b++)
		if (rd->t[b].ru == ru && rd->t[b].linked)
			count++;
	if (count == 0)
		return;
	/* No scan of new/ here: files the index does not know (crash
	 * leftovers, other programs' drops) are picked up when the mailbox is
	 * opened. Scanning at each delivery made delivery cost grow with the
	 * mailbox whenever another process had delivered in between. */
	int ret = idx_begin(user, &error);
	for (b = 0; b < rd->nt && ret == 0; b++) {
		const struct target *t = &rd->t[b];
		if (t->ru != ru || !t->linked)
			continue;
		const struct store_rcpt *rcpt = rcpt_of(rd, t);
		const struct store_spool *spool = spool_of(rd, t);
		struct msg_add m = {
		    .base = t->base,
		    .file = t->file,
		    .flags = rcpt->flags & STORE_FLAGS_ALL,
		    .keywords = t->keywords,
		    .internal_date = rcpt->internal_date != 0 ? (int64_t)rcpt->internal_date
							      : (int64_t)spool->received,
		    .disk_size = spool->disk_size,
		    .crlf_size = spool->crlf_size,
		    .cache = spool->cache,
		};
		ret = idx_msg_add(user, t->box->row.id, &m, &uids[b], &error);
	}
	if (ret == 0)
		ret = idx_commit(user, &error);
	if (ret < 0) {
		int err = user->last_errno;
		idx_rollback(user);
		for (b = 0; b < rd->nt; b++)
			if (rd->t[b].ru == ru && rd->t[b].linked)
				target_fail(&rd->t[b], result_of(rd, &rd->t[b]), err, error);
		return;
	}
	for (b = 0; b < rd->nt; b++) {
		const struct target *t = &rd->t[b];
		if (t->ru != ru || !t->linked)
			continue;
		const struct store_rcpt *rcpt = rcpt_of(rd, t);
		struct store_result *r = result_of(rd, t);
		r->uidvalidity = t->box->row.uidvalidity;
		r->uid = uids[b];
		result_set(r, STORE_OK, "delivered to %s as UID %lu%s%s%s", t->box->row.name,
			   (unsigned long)uids[b], t->fell_back ? " (no folder " : "",
			   t->fell_back ? rcpt->folder : "", t->fell_back ? ")" : "");
	}
}

/* Close the round's mailboxes; keep the users' connections for the next
 * delivery only when all went well for them: a broken index must be
 * opened (and rebuilt) afresh. */
static void
round_release(struct round *rd)
{
	for (size_t b = 0; b < rd->nt; b++) {
		struct target *t = &rd->t[b];
		enum store_status st = result_of(rd, t)->status;
		if (t->ru != NULL && st != STORE_OK && st != STORE_OVER_QUOTA)
			t->ru->broken = true;
		free(t->base);
		free(t->file);
		free(t->keywords);
	}
	/* Owners last: borrowers point at their boxes. */
	for (size_t b = 0; b < rd->nt; b++)
		if (rd->t[b].own_box)
			store_mailbox_close(&rd->t[b].box);
	for (size_t u = 0; u < rd->nusers; u++) {
		if (rd->users[u].broken)
			store_user_close(&rd->users[u].user);
		else
			user_cache_put(rd->store, &rd->users[u].user);
	}
	rd->nt = rd->nusers = 0;
	memset(rd->t, 0, sizeof(rd->t));
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

/* Per message: results cleared, and which recipient each one repeats
 * (dup[i] == i: none). false when the spool is not finished. */
static bool
message_start(const struct store_delivery *msg, size_t *dup)
{
	char **keys = xcalloc(msg->nrcpts + 1, sizeof(*keys));

	for (size_t i = 0; i < msg->nrcpts; i++) {
		memset(&msg->results[i], 0, sizeof(msg->results[i]));
		keys[i] = dedupe_key(&msg->rcpts[i]);
		dup[i] = i;
		for (size_t j = 0; j < i; j++)
			if (strcmp(keys[i], keys[j]) == 0) {
				dup[i] = j;
				break;
			}
	}
	for (size_t i = 0; i < msg->nrcpts; i++)
		free(keys[i]);
	free(keys);
	if (msg->spool->finished)
		return true;
	for (size_t i = 0; i < msg->nrcpts; i++)
		result_set(&msg->results[i], STORE_TEMP_FAIL, "spool not finished");
	return false;
}

/* Prepare, check and link one recipient as the round's next target. */
static void
target_add(struct round *rd, size_t m, size_t i, size_t *dup)
{
	struct target *t = &rd->t[rd->nt++];
	struct store_result *r = &rd->msgs[m].results[i];
	const struct store_rcpt *rcpt = &rd->msgs[m].rcpts[i];

	t->msg = m;
	t->rcpt = i;
	if (!prepare(rd, t, r))
		return;
	/* Before the quota: this message is in that mailbox already. */
	const struct target *twin = same_mailbox(rd, t);
	if (twin != NULL) {
		dup[i] = twin->rcpt;
		return;
	}
	if (!quota_ok(rd, t, r))
		return;
	if (link_in(rd->msgs[m].spool, t, rcpt) < 0) {
		result_set(r, status_of(errno), "%s: link into %s: %s", rcpt->address,
			   t->box->row.name, strerror(errno));
		return;
	}
	t->ru->pending += rd->msgs[m].spool->disk_size;
}

int
store_deliver_batch(const struct store_delivery *msgs, size_t n)
{
	if (n == 0)
		return 0;
	struct round *rd = xcalloc(1, sizeof(*rd));
	size_t **dup = xcalloc(n, sizeof(*dup));
	bool *ready = xcalloc(n, sizeof(*ready));
	int ok = 0;

	rd->store = msgs[0].spool->store;
	rd->msgs = msgs;
	for (size_t m = 0; m < n; m++) {
		if (msgs[m].spool->store != rd->store)
			panic("store_deliver_batch: spools of different store handles");
		dup[m] = xcalloc(msgs[m].nrcpts + 1, sizeof(**dup));
		ready[m] = message_start(&msgs[m], dup[m]);
	}
	size_t m = 0, i = 0;
	for (;;) {
		while (m < n && rd->nt < DELIVER_ROUND) {
			if (!ready[m] || i >= msgs[m].nrcpts) {
				m++;
				i = 0;
			} else if (dup[m][i] != i) {
				i++;
			} else {
				target_add(rd, m, i, dup[m]);
				i++;
			}
		}
		if (rd->nt == 0)
			break;
		store_hook("linked");
		sync_dirs(rd);
		store_hook("synced");
		for (size_t u = 0; u < rd->nusers; u++)
			commit_user(rd, &rd->users[u]);
		round_release(rd);
		store_hook("committed");
	}
	for (m = 0; m < n; m++) {
		for (size_t k = 0; k < msgs[m].nrcpts; k++) {
			if (dup[m][k] != k)
				msgs[m].results[k] = msgs[m].results[dup[m][k]];
			if (msgs[m].results[k].status == STORE_OK)
				ok++;
		}
		free(dup[m]);
	}
	free(dup);
	free(ready);
	free(rd);
	return ok;
}

int
store_deliver(struct store_spool *spool, const struct store_rcpt *rcpts, size_t n,
	      struct store_result *results)
{
	struct store_delivery msg = {
	    .spool = spool,
	    .rcpts = rcpts,
	    .nrcpts = n,
	    .results = results,
	};

	return store_deliver_batch(&msg, 1);
}
