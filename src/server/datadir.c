/* datadir.c - preparing the data directory at the master's start, and
 * working in it with the unprivileged user's rights (datadir.h). */
#include "lib/common.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/owner.h"
#include "lib/tls.h"
#include "queue/queue.h"
#include "queue/submit.h"
#include "server/datadir.h"

/* Give name in dir (shown as top/sub/name), when it exists, to uid:gid
 * ((uid_t)-1: leave the owner) with mode (0: leave it). Returns the open
 * descriptor, or -1 when there is no such entry. */
static int
give(int dir, const char *top, const char *sub, const char *name, mode_t type, uid_t uid,
     gid_t gid, mode_t mode)
{
	char why[160];
	int fd = owner_give_at(dir, name, type, uid, gid, mode, why, sizeof(why));

	if (fd < 0 && errno != ENOENT)
		fatal("data directory %s: %s%s%s: %s", top, sub, *sub != '\0' ? "/" : "", name,
		      why);
	return fd;
}

/* Go on in the visit with p's rights (none given: root's). */
static void
visit_as(struct datadir_visit *v, const struct privs *p)
{
	if (p != NULL) {
		privs_enter(p);
		v->entered = true;
	}
}

static void
give_and_close(int dir, const char *top, const char *sub, const char *name, mode_t type,
	       uid_t uid, gid_t gid, mode_t mode)
{
	int fd = give(dir, top, sub, name, type, uid, gid, mode);

	if (fd >= 0)
		close(fd);
}

void
datadir_prepare(const char *dir, const struct privs *p)
{
	static const char *const db[] = {"postern.db", "postern.db-wal", "postern.db-shm"};
	static const char *const tls[] = {TLS_SELFSIGNED_KEY, TLS_SELFSIGNED_CERT};
	uid_t uid = p != NULL ? p->uid : (uid_t)-1;
	gid_t gid = p != NULL ? p->gid : (gid_t)-1;
	struct stat st;
	char why[160];

	if (mkdir(dir, 0751) < 0 && errno != EEXIST)
		fatal("data directory %s: %s", dir, strerror(errno));
	int top = owner_give_at(AT_FDCWD, dir, S_IFDIR, uid, gid, 0, why, sizeof(why));
	if (top < 0)
		fatal("data directory %s: %s", dir, why);
	/* Other local users may pass through (to public/submit.sock) but
	 * not list it; everything else in it is the server's alone. */
	if (fstat(top, &st) < 0 ||
	    ((st.st_mode & 07777) != 0751 && fchmod(top, (st.st_mode & 0750) | 0001) < 0))
		fatal("data directory %s: %s", dir, strerror(errno));
	/* What root made before the first start (postern user add, say) is
	 * given to the server's user. */
	for (size_t i = 0; i < N_ELEMENTS(db); i++)
		give_and_close(top, dir, "", db[i], S_IFREG, uid, gid, 0600);
	int t = give(top, dir, "", TLS_SELFSIGNED_DIR, S_IFDIR, uid, gid, 0);
	if (t >= 0) {
		for (size_t i = 0; i < N_ELEMENTS(tls); i++)
			give_and_close(t, dir, TLS_SELFSIGNED_DIR, tls[i], S_IFREG, uid, gid, 0);
		close(t);
	}
	/* The local submission socket's directory: reachable by every local
	 * user (postern sendmail), writable by the server only. */
	if (mkdirat(top, SUBMIT_DIR, 0755) < 0 && errno != EEXIST)
		fatal("data directory %s: %s: %s", dir, SUBMIT_DIR, strerror(errno));
	give_and_close(top, dir, "", SUBMIT_DIR, S_IFDIR, uid, gid, 0755);
	close(top);
	/* queue_setup gives queue/ and its directories away safely itself;
	 * the recovery runs with the user's rights. */
	struct datadir_visit v;
	const char *error;
	if (datadir_enter(dir, NULL, &v, &error) < 0)
		fatal("data directory %s", error);
	if (queue_setup(QUEUE_DIR, uid, gid, &error) < 0)
		fatal("data directory %s: queue: %s", dir, error);
	visit_as(&v, p);
	struct queue *q;
	struct queue_recovery rec = {0};
	if (queue_open(QUEUE_DIR, &q, &error) < 0 || queue_recover(q, &rec, &error) < 0)
		fatal("data directory %s: queue: %s", dir, error);
	queue_close(&q);
	datadir_leave(&v);
}

int
datadir_enter(const char *dir, const struct privs *p, struct datadir_visit *v,
	      const char **error_r)
{
	static char error[256];
	int fd;

	v->entered = false;
	v->cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (v->cwd < 0 || (fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		(void)snprintf(error, sizeof(error), "%s: %s", v->cwd < 0 ? "." : dir,
			       strerror(errno));
		if (v->cwd >= 0)
			close(v->cwd);
		*error_r = error;
		return -1;
	}
	if (fchdir(fd) < 0) {
		(void)snprintf(error, sizeof(error), "%s: %s", dir, strerror(errno));
		close(fd);
		close(v->cwd);
		*error_r = error;
		return -1;
	}
	close(fd);
	visit_as(v, p);
	return 0;
}

void
datadir_leave(struct datadir_visit *v)
{
	if (v->entered)
		privs_leave();
	v->entered = false;
	if (fchdir(v->cwd) < 0)
		fatal("cannot return to the working directory: %s", strerror(errno));
	close(v->cwd);
	v->cwd = -1;
}
