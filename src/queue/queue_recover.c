/* queue_recover.c - the relay queue's recovery: remove what a crash can
 * leave behind (docs/queue.md, "Crashes and recovery"). Committed messages
 * are intact by construction and are never touched, except for removing a
 * second name of one. */
#include "lib/common.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "queue/queue.h"
#include "queue/queue_private.h"

/* Remove dir/name if nobody holds its lock: 1 removed, 0 left (in use or
 * gone), -1 with *error_r. */
static int
remove_unlocked(struct queue *q, enum queue_dir dir, const char *name, const char **error_r)
{
	int fd = queue_open_locked(q, dir, name);

	if (fd < 0) {
		if (errno == ENOENT || errno == EWOULDBLOCK)
			return 0;
		queue_error_set(error_r, "cannot open %s/%s/%s: %s", q->path, queue_dir_names[dir],
				name, strerror(errno));
		return -1;
	}
	int ret = 1;
	if (unlinkat(q->dir_fd[dir], name, 0) < 0) {
		queue_error_set(error_r, "cannot remove %s/%s/%s: %s", q->path,
				queue_dir_names[dir], name, strerror(errno));
		ret = errno == ENOENT ? 0 : -1;
	}
	close(fd);
	return ret;
}

static void
note_unknown(struct queue *q, enum queue_dir dir, size_t n, struct queue_recovery *r)
{
	if (n == 0)
		return;
	log_warning("%s/%s: %zu files that are not queue files; left alone", q->path,
		    queue_dir_names[dir], n);
	r->unknown += n;
}

/* Files in tmp/ were never acknowledged. Those still locked are being
 * written right now. */
static int
recover_tmp(struct queue *q, struct queue_recovery *r, const char **error_r)
{
	struct queue_name *names;
	size_t count, unknown;
	int ret = 0;

	if (queue_dir_names_list(q, QDIR_TMP, false, &names, &count, &unknown, error_r) < 0)
		return -1;
	note_unknown(q, QDIR_TMP, unknown, r);
	for (size_t i = 0; i < count && ret == 0; i++) {
		int got = remove_unlocked(q, QDIR_TMP, names[i].name, error_r);
		if (got < 0)
			ret = -1;
		else if (got > 0) {
			log_notice("queue %s: removed the unacknowledged %s/tmp/%s", names[i].name,
				   q->path, names[i].name);
			r->tmp_removed++;
		}
	}
	free(names);
	if (ret == 0 && r->tmp_removed > 0)
		ret = queue_dir_sync(q, QDIR_TMP, error_r);
	return ret;
}

struct located {
	char id[QUEUE_ID_SIZE];
	enum queue_dir dir;
};

static int
located_cmp(const void *a, const void *b)
{
	/* Which name wins when a crash in a move left two: the
	 * administrator's hold, then corrupt, then deferred (the runner's
	 * move out of incoming). */
	static const int prio[] = {
	    [QDIR_INCOMING] = 0, [QDIR_DEFERRED] = 1, [QDIR_CORRUPT] = 2, [QDIR_HOLD] = 3};
	const struct located *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	return c != 0 ? c : prio[y->dir] - prio[x->dir];
}

static const enum queue_dir message_dirs[] = {QDIR_INCOMING, QDIR_DEFERRED, QDIR_HOLD,
					      QDIR_CORRUPT};

/* One message under two names (a crash between a move's rename and the
 * sync of its source directory, on a file system that can show both). */
static int
recover_links(struct queue *q, struct queue_recovery *r, const char **error_r)
{
	struct located *all = NULL;
	size_t count = 0, alloc = 0;
	int ret = 0;

	for (size_t d = 0; d < N_ELEMENTS(message_dirs); d++) {
		struct queue_name *names;
		size_t n, unknown;
		if (queue_dir_names_list(q, message_dirs[d], false, &names, &n, &unknown, error_r) <
		    0) {
			free(all);
			return -1;
		}
		note_unknown(q, message_dirs[d], unknown, r);
		for (size_t i = 0; i < n; i++) {
			if (count == alloc) {
				alloc = alloc == 0 ? 64 : alloc * 2;
				all = xreallocarray(all, alloc, sizeof(*all));
			}
			memcpy(all[count].id, names[i].name, QUEUE_ID_SIZE);
			all[count++].dir = message_dirs[d];
		}
		free(names);
	}
	if (count > 1)
		qsort(all, count, sizeof(*all), located_cmp);
	for (size_t i = 1; i < count && ret == 0; i++) {
		const struct located *keep = &all[i - 1], *extra = &all[i];
		struct stat a, b;
		if (strcmp(keep->id, extra->id) != 0)
			continue;
		if (fstatat(q->dir_fd[keep->dir], keep->id, &a, AT_SYMLINK_NOFOLLOW) < 0 ||
		    fstatat(q->dir_fd[extra->dir], extra->id, &b, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* removed meanwhile */
		if (a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
			log_error("queue %s: two different messages in %s and %s; left alone",
				  keep->id, queue_dir_names[keep->dir],
				  queue_dir_names[extra->dir]);
			continue;
		}
		int got = remove_unlocked(q, extra->dir, extra->id, error_r);
		if (got < 0) {
			ret = -1;
		} else if (got > 0) {
			log_notice("queue %s: removed its second name in %s, kept the one in %s",
				   keep->id, queue_dir_names[extra->dir],
				   queue_dir_names[keep->dir]);
			r->links_removed++;
			ret = queue_dir_sync(q, extra->dir, error_r);
		}
	}
	free(all);
	return ret;
}

static bool
message_exists(struct queue *q, const char *id)
{
	struct stat st;

	for (size_t d = 0; d < N_ELEMENTS(message_dirs); d++)
		if (fstatat(q->dir_fd[message_dirs[d]], id, &st, AT_SYMLINK_NOFOLLOW) == 0)
			return true;
	return false;
}

/* Half-written state files, and state files whose message was removed
 * (a crash between the two unlinks of queue_remove()). */
static int
recover_state(struct queue *q, struct queue_recovery *r, const char **error_r)
{
	struct queue_name *names;
	size_t count, unknown;
	int ret = 0;
	bool changed = false;

	if (queue_dir_names_list(q, QDIR_STATE, true, &names, &count, &unknown, error_r) < 0)
		return -1;
	note_unknown(q, QDIR_STATE, unknown, r);
	for (size_t i = 0; i < count && ret == 0; i++) {
		const char *name = names[i].name;
		if (names[i].tmp) {
			int got = remove_unlocked(q, QDIR_STATE, name, error_r);
			if (got < 0)
				ret = -1;
			else if (got > 0) {
				r->state_tmp_removed++;
				changed = true;
			}
			continue;
		}
		if (message_exists(q, name))
			continue;
		if (unlinkat(q->dir_fd[QDIR_STATE], name, 0) < 0) {
			if (errno == ENOENT)
				continue;
			queue_error_set(error_r, "cannot remove %s/state/%s: %s", q->path, name,
					strerror(errno));
			ret = -1;
			continue;
		}
		log_notice("queue %s: removed the state file of a removed message", name);
		r->orphans_removed++;
		changed = true;
	}
	free(names);
	if (ret == 0 && changed)
		ret = queue_dir_sync(q, QDIR_STATE, error_r);
	return ret;
}

int
queue_recover(struct queue *q, struct queue_recovery *r, const char **error_r)
{
	memset(r, 0, sizeof(*r));
	if (recover_tmp(q, r, error_r) < 0)
		return -1;
	/* No move may happen while we decide that a message is in no
	 * directory, or in two. */
	while (flock(q->root_fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			queue_error_set(error_r, "cannot lock %s: %s", q->path, strerror(errno));
			return -1;
		}
	}
	int ret = recover_links(q, r, error_r);
	if (ret == 0)
		ret = recover_state(q, r, error_r);
	(void)flock(q->root_fd, LOCK_UN);
	return ret;
}
