/* store.c - the data directory handle, errors, unique names, spool
 * cleanup. */
#include "lib/common.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/maildir_name.h"
#include "store/store_private.h"

const char *
store_special_name(enum store_special special)
{
	switch (special) {
	case STORE_SPECIAL_SENT:
		return "\\Sent";
	case STORE_SPECIAL_DRAFTS:
		return "\\Drafts";
	case STORE_SPECIAL_TRASH:
		return "\\Trash";
	case STORE_SPECIAL_JUNK:
		return "\\Junk";
	case STORE_SPECIAL_ARCHIVE:
		return "\\Archive";
	case STORE_SPECIAL_NONE:
		break;
	}
	return "";
}

int
store_fail(struct store *store, const char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(store->error, sizeof(store->error), fmt, ap);
	va_end(ap);
	if (error_r != NULL)
		*error_r = store->error;
	return -1;
}

int
user_fail(struct store_user *user, const char **error_r, int err, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	(void)vsnprintf(user->error, sizeof(user->error), fmt, ap);
	va_end(ap);
	user->last_errno = err != 0 ? err : saved;
	user->failed = true;
	if (error_r != NULL)
		*error_r = user->error;
	errno = user->last_errno;
	return -1;
}

int
user_db_fail(struct store_user *user, const char **error_r, const char *what)
{
	int code = sqlite3_errcode(user->db);
	int err = EIO;

	if (code == SQLITE_FULL)
		err = ENOSPC;
	else if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
		err = EAGAIN;
	else if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB)
		err = EBADMSG;
	return user_fail(user, error_r, err, "%s: index %s: %s", user->address, what,
			 sqlite3_errmsg(user->db));
}

int
fsync_dir(int fd)
{
	while (fsync(fd) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

struct fsync_job {
	const int *fds;
	int *errs;
	size_t n;
	atomic_size_t next;
};

static void *
fsync_worker(void *arg)
{
	struct fsync_job *job = arg;
	size_t i;

	while ((i = atomic_fetch_add(&job->next, 1)) < job->n)
		job->errs[i] = fsync_dir(job->fds[i]) < 0 ? errno : 0;
	return NULL;
}

void
fsync_dirs(const int *fds, int *errs, size_t n)
{
	struct fsync_job job = {.fds = fds, .errs = errs, .n = n};
	pthread_t threads[FSYNC_THREADS];
	size_t started = 0;
	sigset_t all, old;

	atomic_init(&job.next, 0);
	if (n > 1) {
		/* The helpers take no signals: the worker's loop handles them. */
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		for (; started < MIN(n - 1, (size_t)FSYNC_THREADS); started++)
			if (pthread_create(&threads[started], NULL, fsync_worker, &job) != 0)
				break;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	fsync_worker(&job);
	for (size_t i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
}

/* One counter for every store handle of the process: threads with their
 * own handles must never make the same name in the same microsecond. */
static _Atomic unsigned long name_counter;

int
store_new_base(struct store *store, struct buf *out)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return maildir_base_make(out, (int64_t)tv.tv_sec, (long)tv.tv_usec, (long)getpid(),
				 atomic_fetch_add(&name_counter, 1) + 1, store->host);
}

/* Open (creating, mode 0700) a directory below dirfd without following a
 * link. */
static int
open_subdir(int dirfd, const char *name)
{
	if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
		return -1;
	return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static void
sqlite_setup(void)
{
	/* No memory statistics: with them every allocation of every
	 * connection takes one process-wide mutex, which the delivery threads
	 * and the event loop then fight over. */
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	(void)sqlite3_initialize();
}

void
store_sqlite_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, sqlite_setup);
}

int
store_open(const char *data_dir, const char *hostname, struct store **store_r, const char **error_r)
{
	static char open_error[STORE_ERROR_MAX];
	struct store *store = xcalloc(1, sizeof(*store));
	struct buf host;

	store_sqlite_init();
	store->data_fd = store->tmp_fd = store->mail_fd = -1;
	store->data_dir = xstrdup(data_dir);
	buf_init(&host, 1024);
	if (maildir_host_escape(hostname, &host) < 0) {
		(void)snprintf(open_error, sizeof(open_error), "host name too long");
		goto fail;
	}
	store->host = buf_steal(&host);
	store->data_fd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (store->data_fd < 0) {
		(void)snprintf(open_error, sizeof(open_error), "data directory %s: %s", data_dir,
			       strerror(errno));
		goto fail;
	}
	store->tmp_fd = open_subdir(store->data_fd, "tmp");
	store->mail_fd = store->tmp_fd < 0 ? -1 : open_subdir(store->data_fd, "mail");
	if (store->mail_fd < 0) {
		(void)snprintf(open_error, sizeof(open_error), "%s/%s: %s", data_dir,
			       store->tmp_fd < 0 ? "tmp" : "mail", strerror(errno));
		goto fail;
	}
	*store_r = store;
	return 0;
fail:
	buf_release(&host);
	store_close(&store);
	if (error_r != NULL)
		*error_r = open_error;
	return -1;
}

void
store_close(struct store **storep)
{
	struct store *store = *storep;

	if (store == NULL)
		return;
	store_cache_trim(store, -1);
	if (store->data_fd >= 0)
		close(store->data_fd);
	if (store->tmp_fd >= 0)
		close(store->tmp_fd);
	if (store->mail_fd >= 0)
		close(store->mail_fd);
	free(store->data_dir);
	free(store->host);
	free(store);
	*storep = NULL;
}

/* The writer of a spool file "<sec>.M<usec>P<pid>Q<n>.<host>" is gone when
 * host is this store's and no process has that pid: nobody will link or
 * remove it any more (a kill -9 between store_spool_open and
 * store_spool_free). A pid that is reused keeps the file until it is old. */
static bool
spool_writer_gone(const struct store *store, const char *name)
{
	const char *p = strstr(name, ".M");
	char *end;

	if (p == NULL || (p = strchr(p, 'P')) == NULL || !ascii_is_digit((unsigned char)p[1]))
		return false;
	errno = 0;
	long pid = strtol(p + 1, &end, 10);
	if (errno != 0 || pid <= 0 || pid > INT_MAX || *end != 'Q')
		return false;
	const char *host = strchr(end, '.');
	if (host == NULL || strcmp(host + 1, store->host) != 0)
		return false;
	if (kill((pid_t)pid, 0) < 0)
		return errno == ESRCH;
	/* A zombie (killed, not yet reaped by init) is gone too. */
	char path[64], stat[512];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, stat, sizeof(stat) - 1);
	close(fd);
	if (n <= 0)
		return false;
	stat[n] = '\0';
	const char *paren = strrchr(stat, ')');
	return paren != NULL && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

int
store_clean_tmp(struct store *store, int dir_fd, const char *label, time_t max_age)
{
	int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	time_t now = time(NULL);
	int removed = 0;

	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct dirent *e;
	while ((errno = 0, e = readdir(d)) != NULL) {
		struct stat st;
		if (e->d_name[0] == '.')
			continue;
		if (fstatat(dir_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) ||
		    (st.st_mtime > now - max_age && !spool_writer_gone(store, e->d_name)))
			continue;
		if (unlinkat(dir_fd, e->d_name, 0) == 0) {
			log_info("removed stale file %s/%s", label, e->d_name);
			removed++;
		}
	}
	int err = errno;
	closedir(d);
	errno = err;
	return err != 0 ? -1 : removed;
}

int
store_cleanup_spool(struct store *store, time_t max_age, const char **error_r)
{
	int removed = store_clean_tmp(store, store->tmp_fd, "tmp", max_age);

	if (removed < 0)
		return store_fail(store, error_r, "%s/tmp: %s", store->data_dir, strerror(errno));
	return removed;
}
