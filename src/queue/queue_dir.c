/* queue_dir.c - the relay queue's directories: opening them, the lock
 * protocol, crash-safe moves and removals, loading a message with its state
 * file, and replacing a state file atomically. */
#include "lib/common.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/owner.h"
#include "lib/xalloc.h"
#include "queue/queue.h"
#include "queue/queue_private.h"

/* Largest state file: every recipient with the longest remote and reply. */
#define QUEUE_STATE_FILE_MAX                                                                       \
	(256 + (size_t)QUEUE_RCPT_MAX * (80 + QUEUE_REMOTE_MAX + QUEUE_REPLY_MAX + 16))
#define READ_CHUNK 65536

void (*queue_crash_hook)(const char *point);

const char *const queue_dir_names[QDIR_COUNT] = {
    [QDIR_INCOMING] = "incoming", [QDIR_DEFERRED] = "deferred", [QDIR_HOLD] = "hold",
    [QDIR_CORRUPT] = "corrupt",	  [QDIR_TMP] = "tmp",		[QDIR_STATE] = "state",
};

const char *
queue_state_name(enum queue_state state)
{
	return (size_t)state < QUEUE_STATE_COUNT ? queue_dir_names[state] : "?";
}

/* Give the directory name in dir to uid:gid ((uid_t)-1: leave it) and
 * close it; shown is its path for messages. */
static int
setup_dir(int dir, const char *name, const char *shown, uid_t uid, gid_t gid, int *fd_r,
	  const char **error_r)
{
	char why[160];

	if (mkdirat(dir, name, 0700) < 0 && errno != EEXIST) {
		queue_error_set(error_r, "cannot create %s: %s", shown, strerror(errno));
		return -1;
	}
	int fd = owner_give_at(dir, name, S_IFDIR, uid, gid, 0, why, sizeof(why));
	if (fd < 0) {
		queue_error_set(error_r, "%s: %s", shown, why);
		return -1;
	}
	if (fd_r != NULL)
		*fd_r = fd;
	else
		close(fd);
	return 0;
}

int
queue_setup(const char *path, uid_t uid, gid_t gid, const char **error_r)
{
	char sub[4096];
	int root;

	/* queue/ itself may be a symbolic link (to another disk) when what
	 * it leads to is uid's already; the directories inside it may not
	 * (queue_open refuses them). Nothing here follows a link further
	 * than that: the master runs this as root in a directory that is
	 * uid's (lib/owner.h). */
	if (setup_dir(AT_FDCWD, path, path, uid, gid, &root, error_r) < 0)
		return -1;
	for (int i = 0; i < QDIR_COUNT; i++) {
		int n = snprintf(sub, sizeof(sub), "%s/%s", path, queue_dir_names[i]);
		if (n < 0 || (size_t)n >= sizeof(sub)) {
			queue_error_set(error_r, "queue path too long");
			close(root);
			return -1;
		}
		if (setup_dir(root, queue_dir_names[i], sub, uid, gid, NULL, error_r) < 0) {
			close(root);
			return -1;
		}
	}
	close(root);
	return 0;
}

int
queue_open(const char *path, struct queue **q_r, const char **error_r)
{
	struct queue *q = xcalloc(1, sizeof(*q));

	q->path = xstrdup(path);
	for (int i = 0; i < QDIR_COUNT; i++)
		q->dir_fd[i] = -1;
	q->root_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (q->root_fd < 0) {
		queue_error_set(error_r, "cannot open the queue %s: %s", path, strerror(errno));
		queue_close(&q);
		return -1;
	}
	for (int i = 0; i < QDIR_COUNT; i++) {
		q->dir_fd[i] = openat(q->root_fd, queue_dir_names[i],
				      O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (q->dir_fd[i] < 0) {
			queue_error_set(error_r, "cannot open %s/%s: %s", path, queue_dir_names[i],
					strerror(errno));
			queue_close(&q);
			return -1;
		}
	}
	*q_r = q;
	return 0;
}

void
queue_close(struct queue **qp)
{
	struct queue *q = *qp;

	if (q == NULL)
		return;
	for (int i = 0; i < QDIR_COUNT; i++)
		if (q->dir_fd[i] >= 0)
			close(q->dir_fd[i]);
	if (q->root_fd >= 0)
		close(q->root_fd);
	free(q->path);
	free(q);
	*qp = NULL;
}

int
queue_dir_sync(struct queue *q, enum queue_dir dir, const char **error_r)
{
	if (fsync(q->dir_fd[dir]) < 0) {
		queue_error_set(error_r, "cannot sync %s/%s: %s", q->path, queue_dir_names[dir],
				strerror(errno));
		return -1;
	}
	return 0;
}

int
queue_write_full(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
queue_pread_full(int fd, void *data, size_t len, uint64_t off)
{
	char *p = data;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = 0;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct queue_name *)a)->name, ((const struct queue_name *)b)->name);
}

int
queue_dir_names_list(struct queue *q, enum queue_dir dir, bool with_tmp,
		     struct queue_name **names_r, size_t *count_r, size_t *unknown_r,
		     const char **error_r)
{
	struct queue_name *names = NULL;
	size_t count = 0, alloc = 0, unknown = 0;
	/* fdopendir takes the descriptor: give it its own. */
	int fd = openat(q->dir_fd[dir], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (d == NULL) {
		queue_error_set(error_r, "cannot read %s/%s: %s", q->path, queue_dir_names[dir],
				strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (de == NULL)
			break;
		const char *name = de->d_name;
		size_t len = strlen(name);
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		bool tmp =
		    with_tmp && len == QUEUE_ID_LEN + 4 && strcmp(name + QUEUE_ID_LEN, ".tmp") == 0;
		char id[QUEUE_ID_SIZE];
		if (len >= QUEUE_ID_LEN) {
			memcpy(id, name, QUEUE_ID_LEN);
			id[QUEUE_ID_LEN] = '\0';
		}
		if ((len != QUEUE_ID_LEN && !tmp) || !queue_id_valid(id)) {
			unknown++;
			continue;
		}
		if (count == alloc) {
			alloc = alloc == 0 ? 64 : alloc * 2;
			names = xreallocarray(names, alloc, sizeof(*names));
		}
		if (str_copy(names[count].name, sizeof(names[count].name), name) < 0)
			panic("queue_dir_names_list: name %s", name);
		names[count++].tmp = tmp;
	}
	int saved = errno;
	closedir(d);
	if (saved != 0) {
		free(names);
		queue_error_set(error_r, "cannot read %s/%s: %s", q->path, queue_dir_names[dir],
				strerror(saved));
		return -1;
	}
	if (count > 1)
		qsort(names, count, sizeof(*names), name_cmp);
	*names_r = names;
	*count_r = count;
	if (unknown_r != NULL)
		*unknown_r = unknown;
	return 0;
}

/* ---- the lock protocol ---- */

static int
lock_nb(int fd)
{
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

int
queue_open_locked(struct queue *q, enum queue_dir dir, const char *name)
{
	int fd = openat(q->dir_fd[dir], name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -1;
	if (lock_nb(fd) < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* After taking the lock on a file we created: if recovery unlinked it in
 * between (it only removes what it has locked), the name is gone. */
static int
still_linked(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -1;
	return st.st_nlink > 0 ? 1 : 0;
}

int
queue_create_locked(struct queue *q, enum queue_dir dir, const char *name)
{
	int fd =
	    openat(q->dir_fd[dir], name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return -1;
	queue_crash_point("create-opened");
	int linked = lock_nb(fd) < 0 ? 0 : still_linked(fd);
	if (linked <= 0) {
		/* Recovery holds it or has removed it: it will be gone; the
		 * caller picks another name. */
		close(fd);
		errno = EEXIST;
		return -1;
	}
	return fd;
}

int
queue_open_tmp_locked(struct queue *q, enum queue_dir dir, const char *name)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		int fd =
		    openat(q->dir_fd[dir], name, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return -1;
		queue_crash_point("state-tmp-opened");
		int linked = lock_nb(fd) < 0 ? 0 : still_linked(fd);
		if (linked > 0) {
			if (ftruncate(fd, 0) < 0) {
				int saved = errno;
				close(fd);
				errno = saved;
				return -1;
			}
			return fd;
		}
		close(fd);
		if (linked < 0)
			return -1;
	}
	errno = EWOULDBLOCK;
	return -1;
}

static const enum queue_dir message_dirs[] = {QDIR_INCOMING, QDIR_DEFERRED, QDIR_HOLD,
					      QDIR_CORRUPT};

int
queue_find_locked(struct queue *q, const char *id, enum queue_dir *dir_r)
{
	/* A message moving between directories while we look can be missed
	 * by one pass; a second pass finds it. */
	for (int pass = 0; pass < 3; pass++) {
		for (size_t i = 0; i < N_ELEMENTS(message_dirs); i++) {
			enum queue_dir d = message_dirs[i];
			int fd = queue_open_locked(q, d, id);
			if (fd < 0) {
				if (errno == ENOENT)
					continue;
				return -1;
			}
			/* Locked; the previous holder may have moved or
			 * removed it before letting go. */
			struct stat st_fd, st_name;
			if (fstat(fd, &st_fd) == 0 &&
			    fstatat(q->dir_fd[d], id, &st_name, AT_SYMLINK_NOFOLLOW) == 0 &&
			    st_fd.st_dev == st_name.st_dev && st_fd.st_ino == st_name.st_ino) {
				*dir_r = d;
				return fd;
			}
			close(fd);
			break; /* it moved: start over */
		}
	}
	errno = ENOENT;
	return -1;
}

/* ---- moves and removal ---- */

static int
rename_noreplace(int from_fd, const char *from, int to_fd, const char *to)
{
	if (renameat2(from_fd, from, to_fd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* A file system without RENAME_NOREPLACE: ids are unique, so a plain
	 * rename replaces nothing. */
	return renameat(from_fd, from, to_fd, to);
}

int
queue_move(struct queue *q, const char *id, enum queue_dir from, enum queue_dir to,
	   const char **error_r)
{
	int ret = -1;

	if (from == to)
		return 0;
	while (flock(q->root_fd, LOCK_SH) < 0) {
		if (errno != EINTR) {
			queue_error_set(error_r, "cannot lock %s: %s", q->path, strerror(errno));
			return -1;
		}
	}
	if (rename_noreplace(q->dir_fd[from], id, q->dir_fd[to], id) < 0) {
		queue_error_set(error_r, "cannot move %s from %s to %s: %s", id,
				queue_dir_names[from], queue_dir_names[to], strerror(errno));
		goto out;
	}
	queue_crash_point("move-renamed");
	/* The destination first: once it is on disk the message cannot be
	 * lost; a crash before the source is synced may leave both names,
	 * which recovery resolves. */
	if (queue_dir_sync(q, to, error_r) < 0)
		goto out;
	queue_crash_point("move-synced-to");
	if (queue_dir_sync(q, from, error_r) < 0)
		goto out;
	ret = 0;
out:
	(void)flock(q->root_fd, LOCK_UN);
	return ret;
}

int
queue_remove(struct queue *q, const char *id, enum queue_dir dir, const char **error_r)
{
	char tmp_name[QUEUE_ID_LEN + 8];

	if (unlinkat(q->dir_fd[dir], id, 0) < 0) {
		queue_error_set(error_r, "cannot remove %s/%s/%s: %s", q->path,
				queue_dir_names[dir], id, strerror(errno));
		return -1;
	}
	queue_crash_point("remove-unlinked");
	/* The message's removal must be on disk before its state file goes:
	 * a message without its state would be delivered again to every
	 * recipient. A state file without its message is only an orphan. */
	if (queue_dir_sync(q, dir, error_r) < 0)
		return -1;
	queue_crash_point("remove-synced");
	if (unlinkat(q->dir_fd[QDIR_STATE], id, 0) < 0 && errno != ENOENT)
		log_warning("queue %s: cannot remove its state file: %s", id, strerror(errno));
	(void)snprintf(tmp_name, sizeof(tmp_name), "%s.tmp", id);
	(void)unlinkat(q->dir_fd[QDIR_STATE], tmp_name, 0);
	return 0;
}

/* ---- loading ---- */

int
queue_read_small(struct queue *q, enum queue_dir dir, const char *name, struct buf *out,
		 const char **error_r)
{
	int fd = openat(q->dir_fd[dir], name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	int ret = -1;

	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		queue_error_set(error_r, "cannot open %s/%s: %s", queue_dir_names[dir], name,
				strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		queue_error_set(error_r, "cannot stat %s/%s: %s", queue_dir_names[dir], name,
				strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > out->max) {
		queue_error_set(error_r, "%s/%s: not a regular file or too large",
				queue_dir_names[dir], name);
		ret = -2;
		goto out;
	}
	size_t size = (size_t)st.st_size;
	char *dst = buf_reserve(out, size);
	if (dst == NULL || queue_pread_full(fd, dst, size, 0) < 0) {
		queue_error_set(error_r, "cannot read %s/%s: %s", queue_dir_names[dir], name,
				errno != 0 ? strerror(errno) : "file shrank");
		goto out;
	}
	buf_set_len(out, out->len + size);
	ret = 0;
out:
	close(fd);
	return ret;
}

struct queue_envelope *
queue_load(struct queue *q, int fd, const char *id, uint64_t *offset_r, bool *corrupt_r,
	   const char **error_r)
{
	struct queue_env_parser p;
	struct queue_envelope *env = NULL;
	struct buf pending, state;
	const char *error;
	uint64_t off = 0;
	struct stat st;
	enum queue_parse_result r = QUEUE_PARSE_NEED_MORE;

	*corrupt_r = false;
	queue_env_parser_init(&p);
	buf_init(&pending, READ_CHUNK + QUEUE_LINE_MAX + 1);
	buf_init(&state, QUEUE_STATE_FILE_MAX);
	if (fstat(fd, &st) < 0) {
		queue_error_set(error_r, "%s: cannot stat: %s", id, strerror(errno));
		goto out;
	}
	while (r == QUEUE_PARSE_NEED_MORE) {
		char *dst = buf_reserve(&pending, READ_CHUNK);
		if (dst == NULL)
			panic("queue_load: pending buffer full");
		ssize_t n = pread(fd, dst, READ_CHUNK, (off_t)(off + pending.len));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			queue_error_set(error_r, "%s: cannot read: %s", id, strerror(errno));
			goto out;
		}
		if (n == 0) {
			queue_error_set(error_r, "%s: truncated envelope", id);
			*corrupt_r = true;
			goto out;
		}
		buf_set_len(&pending, pending.len + (size_t)n);
		size_t consumed;
		r = queue_env_parse(&p, pending.data, pending.len, &consumed, &error);
		off += consumed;
		buf_consume(&pending, consumed);
	}
	if (r == QUEUE_PARSE_ERROR) {
		queue_error_set(error_r, "%s: %s", id, error);
		*corrupt_r = true;
		goto out;
	}
	env = queue_env_parser_take(&p);
	if (strcmp(env->id, id) != 0) {
		queue_error_set(error_r, "%s: the file holds message %s", id, env->id);
		*corrupt_r = true;
		goto fail;
	}
	if ((uint64_t)st.st_size != off + env->content_size) {
		queue_error_set(error_r,
				"%s: file is %" PRIu64 " bytes, the envelope says %" PRIu64, id,
				(uint64_t)st.st_size, off + env->content_size);
		*corrupt_r = true;
		goto fail;
	}
	int got = queue_read_small(q, QDIR_STATE, id, &state, error_r);
	if (got < 0) {
		*corrupt_r = got == -2;
		goto fail;
	}
	if (got == 0 && queue_state_parse(env, state.data, state.len, &error) < 0) {
		queue_error_set(error_r, "%s: state file: %s", id, error);
		*corrupt_r = true;
		goto fail;
	}
	*offset_r = off;
	goto out;
fail:
	queue_envelope_free(&env);
out:
	queue_env_parser_release(&p);
	buf_release(&pending);
	buf_release(&state);
	return env;
}

int
queue_state_write(struct queue *q, const struct queue_envelope *env, const char **error_r)
{
	char tmp_name[QUEUE_ID_LEN + 8];
	struct buf text;
	int fd = -1, ret = -1;

	buf_init(&text, QUEUE_STATE_FILE_MAX);
	if (queue_state_format(env, &text, error_r) < 0)
		goto out;
	(void)snprintf(tmp_name, sizeof(tmp_name), "%s.tmp", env->id);
	fd = queue_open_tmp_locked(q, QDIR_STATE, tmp_name);
	if (fd < 0 || queue_write_full(fd, text.data, text.len) < 0) {
		queue_error_set(error_r, "cannot write %s/state/%s: %s", q->path, tmp_name,
				strerror(errno));
		goto fail;
	}
	queue_crash_point("state-written");
	/* The mtime is the scan's hint of when the message is next due. */
	time_t due = queue_envelope_due(env);
	struct timespec times[2] = {
	    {.tv_nsec = UTIME_OMIT},
	    {.tv_sec = due >= 0 ? due : time(NULL)},
	};
	if (futimens(fd, times) < 0 || fsync(fd) < 0) {
		queue_error_set(error_r, "cannot sync %s/state/%s: %s", q->path, tmp_name,
				strerror(errno));
		goto fail;
	}
	queue_crash_point("state-synced");
	if (renameat(q->dir_fd[QDIR_STATE], tmp_name, q->dir_fd[QDIR_STATE], env->id) < 0) {
		queue_error_set(error_r, "cannot rename %s/state/%s: %s", q->path, tmp_name,
				strerror(errno));
		goto fail;
	}
	queue_crash_point("state-renamed");
	if (queue_dir_sync(q, QDIR_STATE, error_r) < 0)
		goto out;
	queue_crash_point("state-dir-synced");
	ret = 0;
	goto out;
fail:
	if (fd >= 0)
		(void)unlinkat(q->dir_fd[QDIR_STATE], tmp_name, 0);
out:
	if (fd >= 0)
		close(fd);
	buf_release(&text);
	return ret;
}
