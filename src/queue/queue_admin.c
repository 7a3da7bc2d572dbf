/* queue_admin.c - what 'postern queue list/delete/hold/release/flush' does,
 * so that the CLI only parses arguments and prints. */
#include "lib/common.h"

#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "queue/queue.h"
#include "queue/queue_private.h"

/* ---- listing ---- */

int
queue_list_state(struct queue *q, enum queue_state state, queue_list_cb *cb, void *ctx,
		 const char **error_r)
{
	struct queue_name *names;
	size_t count;
	int ret = 0;

	if (queue_dir_names_list(q, (enum queue_dir)state, false, &names, &count, NULL, error_r) <
	    0)
		return -1;
	for (size_t i = 0; i < count && ret == 0; i++) {
		const char *id = names[i].name;
		char why[512];
		struct queue_info info = {.id = id, .state = state};
		struct queue_envelope *env = NULL;
		int fd = openat(q->dir_fd[state], id, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		struct stat st;
		if (fd < 0 && errno == ENOENT)
			continue; /* delivered or moved since the readdir */
		if (fd < 0 || fstat(fd, &st) < 0) {
			(void)snprintf(why, sizeof(why), "%s", strerror(errno));
		} else {
			const char *error;
			uint64_t offset;
			bool corrupt;
			info.file_size = (uint64_t)st.st_size;
			env = queue_load(q, fd, id, &offset, &corrupt, &error);
			if (env == NULL)
				(void)snprintf(why, sizeof(why), "%s", error);
		}
		if (fd >= 0)
			close(fd);
		info.env = env;
		info.error = env == NULL ? why : NULL;
		ret = cb(&info, ctx);
		queue_envelope_free(&env);
	}
	free(names);
	return ret;
}

int
queue_list(struct queue *q, queue_list_cb *cb, void *ctx, const char **error_r)
{
	for (int s = 0; s < QUEUE_STATE_COUNT; s++) {
		int ret = queue_list_state(q, (enum queue_state)s, cb, ctx, error_r);
		if (ret != 0)
			return ret;
	}
	return 0;
}

static int
time_add(struct buf *out, time_t t)
{
	struct tm tm;
	char text[32];

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
		return buf_printf(out, "@%" PRId64, (int64_t)t);
	return buf_add_str(out, text);
}

int
queue_info_format(const struct queue_info *info, struct buf *out)
{
	const struct queue_envelope *env = info->env;
	size_t start = out->len;
	int ret = 0;

	if (env == NULL) {
		ret |= buf_printf(out, "%-16s  %-8s  %10" PRIu64 "  unreadable: %s\n", info->id,
				  queue_state_name(info->state), info->file_size,
				  info->error != NULL ? info->error : "?");
		goto out;
	}
	ret |= buf_printf(out, "%-16s  %-8s  %10" PRIu64 "  ", env->id,
			  queue_state_name(info->state), env->content_size);
	ret |= time_add(out, env->arrival);
	ret |= buf_printf(out, "  <%s>\n", env->sender);
	for (size_t i = 0; i < env->rcpt_count && ret == 0; i++) {
		const struct queue_rcpt *r = &env->rcpts[i];
		bool waiting = r->state == QUEUE_RCPT_PENDING || r->state == QUEUE_RCPT_DELAYED;
		ret |= buf_printf(out, "    %-9s  <%s>", queue_rcpt_state_name(r->state), r->addr);
		if (r->attempts > 0)
			ret |= buf_printf(out, "  %u attempt%s", r->attempts,
					  r->attempts == 1 ? "" : "s");
		if (waiting && r->next_attempt != 0) {
			ret |= buf_add_str(out, r->attempts > 0 ? ", next " : "  next ");
			ret |= time_add(out, r->next_attempt);
		}
		ret |= buf_add_char(out, '\n');
		if (r->remote != NULL || r->reply != NULL)
			ret |= buf_printf(out, "               %s%s%s\n",
					  r->remote != NULL ? r->remote : "",
					  r->remote != NULL && r->reply != NULL ? ": " : "",
					  r->reply != NULL ? r->reply : "");
	}
out:
	if (ret != 0) {
		buf_set_len(out, start);
		return -1;
	}
	return 0;
}

/* ---- changes ---- */

static void
lock_error(const char *id, int err, const char **error_r)
{
	queue_error_set(error_r, "message %s: %s", id,
			err == ENOENT	     ? "not in the queue"
			: err == EWOULDBLOCK ? "being delivered; try again later"
					     : strerror(err));
}

/* Lock message id for an administrative change; the fd, or -1 with a
 * message saying why. */
static int
admin_lock(struct queue *q, const char *id, enum queue_dir *dir_r, const char **error_r)
{
	if (!queue_id_valid(id)) {
		queue_error_set(error_r, "'%.40s' is not a queue id", id);
		return -1;
	}
	int fd = queue_find_locked(q, id, dir_r);
	if (fd < 0)
		lock_error(id, errno, error_r);
	return fd;
}

/* Make the recipients still waiting due at now, durably. */
static int
reschedule(struct queue *q, int fd, const char *id, time_t now, const char **error_r)
{
	uint64_t offset;
	bool corrupt;
	struct queue_envelope *env = queue_load(q, fd, id, &offset, &corrupt, error_r);

	if (env == NULL)
		return -1;
	for (size_t i = 0; i < env->rcpt_count; i++) {
		struct queue_rcpt *r = &env->rcpts[i];
		if ((r->state == QUEUE_RCPT_PENDING || r->state == QUEUE_RCPT_DELAYED) &&
		    r->next_attempt > now)
			r->next_attempt = now;
	}
	int ret = queue_state_write(q, env, error_r);
	queue_envelope_free(&env);
	return ret;
}

int
queue_delete(struct queue *q, const char *id, const char **error_r)
{
	enum queue_dir dir;
	int fd = admin_lock(q, id, &dir, error_r);

	if (fd < 0)
		return -1;
	int ret = queue_remove(q, id, dir, error_r);
	close(fd);
	if (ret == 0)
		log_notice("queue %s: deleted by the administrator", id);
	return ret;
}

int
queue_hold(struct queue *q, const char *id, const char **error_r)
{
	enum queue_dir dir;
	int ret = -1;
	int fd = admin_lock(q, id, &dir, error_r);

	if (fd < 0)
		return -1;
	if (dir != QDIR_INCOMING && dir != QDIR_DEFERRED)
		queue_error_set(error_r, "message %s is in %s, not waiting for delivery", id,
				queue_dir_names[dir]);
	else
		ret = queue_move(q, id, dir, QDIR_HOLD, error_r);
	close(fd);
	if (ret == 0)
		log_notice("queue %s: held by the administrator", id);
	return ret;
}

int
queue_release(struct queue *q, const char *id, time_t now, const char **error_r)
{
	enum queue_dir dir;
	struct stat st;
	int ret = -1;
	int fd = admin_lock(q, id, &dir, error_r);

	if (fd < 0)
		return -1;
	if (dir != QDIR_HOLD) {
		queue_error_set(error_r, "message %s is not held", id);
	} else if (fstatat(q->dir_fd[QDIR_STATE], id, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		/* Tried before: deferred, due now. */
		if (reschedule(q, fd, id, now, error_r) == 0)
			ret = queue_move(q, id, dir, QDIR_DEFERRED, error_r);
	} else {
		ret = queue_move(q, id, dir, QDIR_INCOMING, error_r);
	}
	close(fd);
	if (ret == 0)
		log_notice("queue %s: released by the administrator", id);
	return ret;
}

/* 0 when rescheduled, QUEUE_SKIP when there is nothing to do (incoming is
 * due already; for a bulk flush also busy, gone or no longer deferred), -1. */
static int
flush_one(struct queue *q, const char *id, time_t now, bool bulk, const char **error_r)
{
	enum queue_dir dir;
	int fd = queue_find_locked(q, id, &dir);
	int ret;

	if (fd < 0) {
		if (bulk && (errno == ENOENT || errno == EWOULDBLOCK))
			return QUEUE_SKIP;
		lock_error(id, errno, error_r);
		return -1;
	}
	if (dir == QDIR_DEFERRED) {
		ret = reschedule(q, fd, id, now, error_r);
	} else if (dir == QDIR_INCOMING || bulk) {
		ret = QUEUE_SKIP;
	} else {
		queue_error_set(error_r, "message %s is in %s", id, queue_dir_names[dir]);
		ret = -1;
	}
	close(fd);
	return ret;
}

int
queue_flush(struct queue *q, const char *id, time_t now, size_t *count_r, const char **error_r)
{
	struct queue_name *names;
	size_t count = 0, n;
	char first_error[512] = "";

	if (count_r != NULL)
		*count_r = 0;
	if (id != NULL) {
		if (!queue_id_valid(id)) {
			queue_error_set(error_r, "'%.40s' is not a queue id", id);
			return -1;
		}
		int ret = flush_one(q, id, now, false, error_r);
		if (ret < 0)
			return -1;
		if (count_r != NULL)
			*count_r = ret == 0 ? 1 : 0;
		return 0;
	}
	if (queue_dir_names_list(q, QDIR_DEFERRED, false, &names, &n, NULL, error_r) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *error;
		int ret = flush_one(q, names[i].name, now, true, &error);
		if (ret == 0)
			count++;
		else if (ret < 0 && first_error[0] == '\0')
			(void)snprintf(first_error, sizeof(first_error), "%s", error);
	}
	free(names);
	if (count_r != NULL)
		*count_r = count;
	if (first_error[0] != '\0') {
		queue_error_set(error_r, "%s", first_error);
		return -1;
	}
	return 0;
}
