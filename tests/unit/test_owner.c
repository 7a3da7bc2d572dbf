/* test_owner.c - giving entries away through descriptors, links refused
 * unless they lead to what the new owner has already. The ownership cases
 * need root (uid 65534 stands for the server's user); the rest run as
 * anyone. */
#include "lib/common.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/owner.h"
#include "test_fs.h"

#define OTHER 65534

struct fix {
	char dir[64];
	int fd;
};

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	(void)snprintf(f->dir, sizeof(f->dir), "/tmp/test_owner.XXXXXX");
	if (f == NULL || mkdtemp(f->dir) == NULL)
		return -1;
	f->fd = open(f->dir, O_RDONLY | O_DIRECTORY);
	*state = f;
	return f->fd < 0 ? -1 : 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	close(f->fd);
	int rc = rm_rf(f->dir);
	free(f);
	return rc;
}

static void
make_file(struct fix *f, const char *name, mode_t mode)
{
	int fd = openat(f->fd, name, O_WRONLY | O_CREAT | O_EXCL, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static struct stat
stat_of(struct fix *f, const char *name)
{
	struct stat st;

	assert_int_equal(fstatat(f->fd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
	return st;
}

static int
give(struct fix *f, const char *name, mode_t type, uid_t uid, mode_t mode, int *errno_r)
{
	char err[160];
	int fd = owner_give_at(f->fd, name, type, uid, (gid_t)uid, mode, err, sizeof(err));

	*errno_r = fd < 0 ? errno : 0;
	if (fd < 0)
		assert_true(err[0] != '\0');
	else
		close(fd);
	return fd < 0 ? -1 : 0;
}

/* Modes, types and absence: as anyone. */
static void
test_modes_and_types(void **state)
{
	struct fix *f = *state;
	int e;

	make_file(f, "file", 0644);
	assert_int_equal(mkdirat(f->fd, "dir", 0755), 0);
	assert_int_equal(give(f, "file", S_IFREG, (uid_t)-1, 0600, &e), 0);
	assert_int_equal(stat_of(f, "file").st_mode & 07777, 0600);
	assert_int_equal(give(f, "dir", S_IFDIR, (uid_t)-1, 0700, &e), 0);
	assert_int_equal(stat_of(f, "dir").st_mode & 07777, 0700);
	assert_int_equal(give(f, "dir", S_IFDIR, (uid_t)-1, 0, &e), 0); /* mode left */
	assert_int_equal(stat_of(f, "dir").st_mode & 07777, 0700);
	assert_int_equal(give(f, "missing", S_IFREG, (uid_t)-1, 0600, &e), -1);
	assert_int_equal(e, ENOENT);
	assert_int_equal(give(f, "file", S_IFDIR, (uid_t)-1, 0, &e), -1);
	assert_int_equal(e, ENOTDIR);
	assert_int_equal(give(f, "dir", S_IFREG, (uid_t)-1, 0, &e), -1);
	assert_int_equal(e, EINVAL);
	/* Without a new owner, a link is followed (the user's own server). */
	assert_int_equal(symlinkat("file", f->fd, "flink"), 0);
	assert_int_equal(give(f, "flink", S_IFREG, (uid_t)-1, 0640, &e), 0);
	assert_int_equal(stat_of(f, "file").st_mode & 07777, 0640);
	assert_int_equal(symlinkat("dir", f->fd, "dlink"), 0);
	assert_int_equal(give(f, "dlink", S_IFDIR, (uid_t)-1, 0750, &e), 0);
	assert_int_equal(stat_of(f, "dir").st_mode & 07777, 0750);
}

/* Ownership: root gives away what is the directory's, never what a link
 * or another hard link leads to. */
static void
test_links_refused(void **state)
{
	struct fix *f = *state;
	int e;

	if (geteuid() != 0)
		skip();
	make_file(f, "mine", 0600);
	assert_int_equal(give(f, "mine", S_IFREG, OTHER, 0, &e), 0);
	assert_int_equal(stat_of(f, "mine").st_uid, OTHER);
	assert_int_equal(stat_of(f, "mine").st_gid, OTHER);
	assert_int_equal(mkdirat(f->fd, "d", 0700), 0);
	assert_int_equal(give(f, "d", S_IFDIR, OTHER, 0700, &e), 0);
	assert_int_equal(stat_of(f, "d").st_uid, OTHER);

	/* Links to root's file and directory: refused, nothing changed. */
	make_file(f, "roots", 0644);
	assert_int_equal(mkdirat(f->fd, "rootdir", 0700), 0);
	assert_int_equal(symlinkat("roots", f->fd, "to-file"), 0);
	assert_int_equal(symlinkat("rootdir", f->fd, "to-dir"), 0);
	assert_int_equal(give(f, "to-file", S_IFREG, OTHER, 0600, &e), -1);
	assert_int_equal(e, ELOOP);
	assert_int_equal(give(f, "to-dir", S_IFDIR, OTHER, 0755, &e), -1);
	assert_int_equal(e, ELOOP);
	assert_int_equal(stat_of(f, "roots").st_uid, 0);
	assert_int_equal(stat_of(f, "roots").st_mode & 07777, 0644);
	assert_int_equal(stat_of(f, "rootdir").st_uid, 0);
	assert_int_equal(stat_of(f, "rootdir").st_mode & 07777, 0700);

	/* A link to what is the new owner's already is followed. */
	assert_int_equal(symlinkat("d", f->fd, "to-mine"), 0);
	assert_int_equal(give(f, "to-mine", S_IFDIR, OTHER, 0750, &e), 0);
	assert_int_equal(stat_of(f, "d").st_mode & 07777, 0750);

	/* A second hard link to root's file: refused; one already the new
	 * owner's is fine. */
	assert_int_equal(linkat(f->fd, "roots", f->fd, "hard", 0), 0);
	assert_int_equal(give(f, "hard", S_IFREG, OTHER, 0600, &e), -1);
	assert_int_equal(e, EMLINK);
	assert_int_equal(stat_of(f, "roots").st_uid, 0);
	assert_int_equal(stat_of(f, "roots").st_mode & 07777, 0644);
	assert_int_equal(linkat(f->fd, "mine", f->fd, "mine2", 0), 0);
	assert_int_equal(give(f, "mine2", S_IFREG, OTHER, 0640, &e), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_modes_and_types, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_links_refused, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
