/* queue_read.c - the queue runner's side of the relay queue: the scan for
 * messages due, opening one locked, streaming its content, recording
 * delivery attempts durably, and disposing of it. */
#include "lib/common.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "queue/queue.h"
#include "queue/queue_private.h"

struct queue_msg {
	struct queue *q;
	int fd; /* the message file, locked */
	enum queue_dir dir;
	struct queue_envelope *env;
	uint64_t content_offset;
	bool dirty; /* states changed since the last sync */
};

static int
entry_cmp(const void *a, const void *b)
{
	const struct queue_entry *x = a, *y = b;

	if (x->due != y->due)
		return x->due < y->due ? -1 : 1;
	return strcmp(x->id, y->id);
}

int
queue_scan(struct queue *q, struct queue_entry **entries_r, size_t *count_r, const char **error_r)
{
	static const enum queue_dir ready[] = {QDIR_INCOMING, QDIR_DEFERRED};
	struct queue_entry *entries = NULL;
	size_t count = 0, alloc = 0;

	for (size_t i = 0; i < N_ELEMENTS(ready); i++) {
		struct queue_name *names;
		size_t n;
		if (queue_dir_names_list(q, ready[i], false, &names, &n, NULL, error_r) < 0) {
			free(entries);
			return -1;
		}
		for (size_t k = 0; k < n; k++) {
			if (count == alloc) {
				alloc = alloc == 0 ? 64 : alloc * 2;
				entries = xreallocarray(entries, alloc, sizeof(*entries));
			}
			struct queue_entry *e = &entries[count++];
			memcpy(e->id, names[k].name, QUEUE_ID_SIZE);
			e->state = (enum queue_state)ready[i];
			struct stat st;
			if (fstatat(q->dir_fd[QDIR_STATE], e->id, &st, AT_SYMLINK_NOFOLLOW) == 0)
				e->due = st.st_mtim.tv_sec;
			else
				e->due = queue_id_time(e->id);
		}
		free(names);
	}
	if (count > 1)
		qsort(entries, count, sizeof(*entries), entry_cmp);
	*entries_r = entries;
	*count_r = count;
	return 0;
}

int
queue_msg_open(struct queue *q, const char *id, struct queue_msg **msg_r, const char **error_r)
{
	enum queue_dir dir;
	uint64_t offset;
	bool corrupt;

	if (!queue_id_valid(id)) {
		queue_error_set(error_r, "invalid queue id");
		return -1;
	}
	int fd = queue_find_locked(q, id, &dir);
	if (fd < 0) {
		if (errno == ENOENT || errno == EWOULDBLOCK) {
			queue_error_set(error_r, "%s: %s", id,
					errno == ENOENT ? "not in the queue" : "busy");
			return QUEUE_SKIP;
		}
		queue_error_set(error_r, "cannot open %s: %s", id, strerror(errno));
		return -1;
	}
	if (dir != QDIR_INCOMING && dir != QDIR_DEFERRED) {
		/* Held (or quarantined) since the scan. */
		close(fd);
		queue_error_set(error_r, "%s: in %s", id, queue_dir_names[dir]);
		return QUEUE_SKIP;
	}
	struct queue_envelope *env = queue_load(q, fd, id, &offset, &corrupt, error_r);
	if (env == NULL) {
		close(fd);
		return corrupt ? QUEUE_CORRUPT_FILE : -1;
	}
	struct queue_msg *msg = xcalloc(1, sizeof(*msg));
	msg->q = q;
	msg->fd = fd;
	msg->dir = dir;
	msg->env = env;
	msg->content_offset = offset;
	*msg_r = msg;
	return 0;
}

const struct queue_envelope *
queue_msg_envelope(const struct queue_msg *msg)
{
	return msg->env;
}

enum queue_state
queue_msg_state(const struct queue_msg *msg)
{
	return (enum queue_state)msg->dir;
}

int
queue_msg_fd(const struct queue_msg *msg)
{
	return msg->fd;
}

uint64_t
queue_msg_content_offset(const struct queue_msg *msg)
{
	return msg->content_offset;
}

ssize_t
queue_msg_read(struct queue_msg *msg, uint64_t offset, void *data, size_t size,
	       const char **error_r)
{
	uint64_t total = msg->env->content_size;

	if (offset >= total)
		return 0;
	size = (size_t)MIN((uint64_t)size, total - offset);
	size = MIN(size, (size_t)SSIZE_MAX);
	if (queue_pread_full(msg->fd, data, size, msg->content_offset + offset) < 0) {
		queue_error_set(error_r, "cannot read %s: %s", msg->env->id,
				errno != 0 ? strerror(errno) : "file shrank");
		return -1;
	}
	return (ssize_t)size;
}

static struct queue_rcpt *
rcpt_get(struct queue_msg *msg, size_t i, const char **error_r)
{
	if (i >= msg->env->rcpt_count) {
		queue_error_set(error_r, "%s: no recipient %zu", msg->env->id, i);
		return NULL;
	}
	struct queue_rcpt *r = &msg->env->rcpts[i];
	if (r->state == QUEUE_RCPT_DELIVERED || r->state == QUEUE_RCPT_FAILED) {
		queue_error_set(error_r, "%s: recipient %zu is already %s", msg->env->id, i,
				queue_rcpt_state_name(r->state));
		return NULL;
	}
	return r;
}

static bool
time_ok(time_t t)
{
	return t >= 0 && t <= QUEUE_TIME_MAX;
}

int
queue_msg_record_attempt(struct queue_msg *msg, size_t rcpt, const struct queue_attempt *a,
			 const char **error_r)
{
	struct queue_rcpt *r = rcpt_get(msg, rcpt, error_r);
	const char *remote = a->remote != NULL && a->remote[0] != '\0' ? a->remote : NULL;
	const char *reply = a->reply != NULL && a->reply[0] != '\0' ? a->reply : NULL;

	if (r == NULL)
		return -1;
	if ((a->state != QUEUE_RCPT_PENDING && a->state != QUEUE_RCPT_DELIVERED &&
	     a->state != QUEUE_RCPT_FAILED) ||
	    !time_ok(a->when) || !time_ok(a->next_attempt) ||
	    (remote != NULL && !queue_text_valid(remote, strlen(remote), QUEUE_REMOTE_MAX)) ||
	    (reply != NULL && !queue_text_valid(reply, strlen(reply), QUEUE_REPLY_MAX))) {
		queue_error_set(error_r, "%s: invalid attempt result for recipient %zu",
				msg->env->id, rcpt);
		return -1;
	}
	if (r->attempts >= QUEUE_ATTEMPTS_MAX) {
		queue_error_set(error_r, "%s: recipient %zu: too many attempts", msg->env->id,
				rcpt);
		return -1;
	}
	r->attempts++;
	r->last_attempt = a->when;
	r->next_attempt = a->state == QUEUE_RCPT_PENDING ? a->next_attempt : 0;
	if (a->state != QUEUE_RCPT_PENDING || r->state != QUEUE_RCPT_DELAYED)
		r->state = a->state;
	free(r->remote);
	free(r->reply);
	r->remote = remote != NULL ? xstrdup(remote) : NULL;
	r->reply = reply != NULL ? xstrdup(reply) : NULL;
	msg->dirty = true;
	return 0;
}

int
queue_msg_mark_delayed(struct queue_msg *msg, size_t rcpt, const char **error_r)
{
	struct queue_rcpt *r = rcpt_get(msg, rcpt, error_r);

	if (r == NULL)
		return -1;
	if (r->state != QUEUE_RCPT_DELAYED) {
		r->state = QUEUE_RCPT_DELAYED;
		msg->dirty = true;
	}
	return 0;
}

int
queue_msg_sync(struct queue_msg *msg, const char **error_r)
{
	if (!msg->dirty)
		return 0;
	if (queue_state_write(msg->q, msg->env, error_r) < 0)
		return -1;
	msg->dirty = false;
	return 0;
}

int
queue_msg_move(struct queue_msg *msg, enum queue_state to, const char **error_r)
{
	if ((unsigned)to >= QUEUE_STATE_COUNT) {
		queue_error_set(error_r, "invalid queue state");
		return -1;
	}
	if (queue_move(msg->q, msg->env->id, msg->dir, (enum queue_dir)to, error_r) < 0)
		return -1;
	msg->dir = (enum queue_dir)to;
	return 0;
}

void
queue_msg_close(struct queue_msg **msgp)
{
	struct queue_msg *msg = *msgp;

	if (msg == NULL)
		return;
	close(msg->fd);
	queue_envelope_free(&msg->env);
	free(msg);
	*msgp = NULL;
}

int
queue_msg_finish(struct queue_msg **msgp, const char **error_r)
{
	struct queue_msg *msg = *msgp;
	struct queue *q = msg->q;
	const char *id = msg->env->id;
	int ret = -1;

	time_t due = queue_envelope_due(msg->env);
	if (due < 0) {
		/* Every recipient is final: the message goes, and its state
		 * with it; writing that state first would be wasted. */
		ret = queue_remove(q, id, msg->dir, error_r);
		goto out;
	}
	if (queue_msg_sync(msg, error_r) < 0)
		goto out;
	struct stat st;
	if (fstatat(q->dir_fd[QDIR_STATE], id, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		/* Never tried (no state yet): it stays where it is. */
		ret = 0;
		goto out;
	}
	if (st.st_mtim.tv_sec != due) {
		/* Repair the scan's hint (it is only a hint: no fsync). */
		struct timespec times[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = due}};
		if (utimensat(q->dir_fd[QDIR_STATE], id, times, AT_SYMLINK_NOFOLLOW) < 0)
			log_warning("queue %s: cannot set the state file's time: %s", id,
				    strerror(errno));
	}
	ret = msg->dir == QDIR_INCOMING ? queue_msg_move(msg, QUEUE_DEFERRED, error_r) : 0;
out:
	queue_msg_close(msgp);
	return ret;
}

int
queue_msg_finish_many(struct queue_msg **msgs, size_t n, const char **error_r)
{
	bool unlinked_in[QDIR_COUNT] = {false};
	bool *removed = xcalloc(n + 1, sizeof(*removed));
	int ret = 0;

	/* The messages whose every recipient is final: unlink them all,
	 * sync each directory once, then drop their state files (the order
	 * of queue_remove, shared). */
	for (size_t i = 0; i < n; i++) {
		struct queue_msg *msg = msgs[i];
		if (queue_envelope_due(msg->env) >= 0)
			continue;
		if (unlinkat(msg->q->dir_fd[msg->dir], msg->env->id, 0) < 0) {
			log_error("queue: cannot remove %s/%s: %s", queue_dir_names[msg->dir],
				  msg->env->id, strerror(errno));
			continue;
		}
		removed[i] = true;
		unlinked_in[msg->dir] = true;
	}
	queue_crash_point("remove-unlinked");
	bool synced = true;
	for (int d = 0; d < QDIR_COUNT; d++)
		if (unlinked_in[d] && n > 0 &&
		    queue_dir_sync(msgs[0]->q, (enum queue_dir)d, error_r) < 0)
			synced = false;
	queue_crash_point("remove-synced");
	for (size_t i = 0; i < n; i++) {
		if (!removed[i]) {
			if (queue_msg_finish(&msgs[i], error_r) < 0)
				ret = -1;
			continue;
		}
		struct queue_msg *msg = msgs[i];
		if (synced) {
			char tmp_name[QUEUE_ID_LEN + 8];
			if (unlinkat(msg->q->dir_fd[QDIR_STATE], msg->env->id, 0) < 0 &&
			    errno != ENOENT)
				log_warning("queue %s: cannot remove its state file: %s",
					    msg->env->id, strerror(errno));
			(void)snprintf(tmp_name, sizeof(tmp_name), "%s.tmp", msg->env->id);
			(void)unlinkat(msg->q->dir_fd[QDIR_STATE], tmp_name, 0);
		}
		queue_msg_close(&msgs[i]);
	}
	free(removed);
	return synced ? ret : -1;
}

int
queue_quarantine(struct queue *q, const char *id, const char **error_r)
{
	enum queue_dir dir;

	if (!queue_id_valid(id)) {
		queue_error_set(error_r, "invalid queue id");
		return -1;
	}
	int fd = queue_find_locked(q, id, &dir);
	if (fd < 0) {
		queue_error_set(error_r, "%s: %s", id,
				errno == ENOENT	       ? "not in the queue"
				: errno == EWOULDBLOCK ? "busy"
						       : strerror(errno));
		return -1;
	}
	int ret = queue_move(q, id, dir, QDIR_CORRUPT, error_r);
	if (ret == 0 && dir != QDIR_CORRUPT)
		log_error("queue %s: moved to %s/corrupt", id, q->path);
	close(fd);
	return ret;
}
