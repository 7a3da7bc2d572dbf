/* owner.c - chown and chmod through a descriptor opened without following
 * links (owner.h). */
#include "lib/common.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "lib/owner.h"

static int
fail(int fd, int error, char *err, size_t size, const char *reason)
{
	(void)snprintf(err, size, "%s", reason != NULL ? reason : strerror(error));
	if (fd >= 0)
		close(fd);
	errno = error;
	return -1;
}

int
owner_give_at(int dir, const char *name, mode_t type, uid_t uid, gid_t gid, mode_t mode,
	      char *err, size_t size)
{
	int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW;
	bool link = false;
	struct stat st;

	if (type == S_IFDIR)
		flags |= O_DIRECTORY;
	int fd = openat(dir, name, flags);
	/* With O_DIRECTORY a link fails as ENOTDIR, not ELOOP. */
	if (fd < 0 && (errno == ELOOP || errno == ENOTDIR) &&
	    fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
		link = true;
		fd = openat(dir, name, flags & ~O_NOFOLLOW);
	} else if (fd < 0 && errno == ELOOP) {
		errno = ENOTDIR; /* replaced by something else meanwhile */
	}
	if (fd < 0)
		return fail(-1, errno, err, size,
			    errno == ENOTDIR ? "not a directory" : NULL);
	if (fstat(fd, &st) < 0)
		return fail(fd, errno, err, size, NULL);
	if ((st.st_mode & S_IFMT) != type)
		return fail(fd, type == S_IFDIR ? ENOTDIR : EINVAL, err, size,
			    type == S_IFDIR ? "not a directory" : "not a regular file");
	if (uid != (uid_t)-1 && (st.st_uid != uid || st.st_gid != gid)) {
		if (link)
			return fail(fd, ELOOP, err, size,
				    "a symbolic link to what is not the server user's "
				    "(give that to the user and its group, or replace the link)");
		if (type == S_IFREG && st.st_nlink > 1)
			return fail(fd, EMLINK, err, size,
				    "has other hard links (not given to the server's user)");
		if (fchown(fd, uid, gid) < 0)
			return fail(fd, errno, err, size, NULL);
	}
	if (mode != 0 && (st.st_mode & 07777) != mode && fchmod(fd, mode) < 0)
		return fail(fd, errno, err, size, NULL);
	return fd;
}
