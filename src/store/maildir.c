/* maildir.c - directories of a user's Maildir++: creation without
 * following links, opening a mailbox's new/ and cur/, removal, measuring
 * files. */
#include "lib/common.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/xalloc.h"
#include "store/names.h"
#include "store/store_private.h"

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* Open name below dirfd as a directory, creating it when create. *made_r
 * tells whether it was created (its parent then needs an fsync). */
static int
open_dir(int dirfd, const char *name, bool create, bool *made_r)
{
	int fd = openat(dirfd, name, DIR_FLAGS);

	if (fd >= 0 || errno != ENOENT || !create)
		return fd;
	if (mkdirat(dirfd, name, 0700) == 0)
		*made_r = true;
	else if (errno != EEXIST)
		return -1;
	return openat(dirfd, name, DIR_FLAGS);
}

int
maildir_user_dir(struct store_user *user, const char *domain, size_t dlen, const char *local,
		 size_t llen, bool create, bool *created_r, const char **error_r)
{
	char dname[STORE_DOMAIN_MAX + 1], lname[STORE_LOCALPART_MAX + 1];
	bool made_domain = false, made_user = false;

	if (dlen >= sizeof(dname) || llen >= sizeof(lname))
		return user_fail(user, error_r, ENAMETOOLONG, "address too long");
	memcpy(dname, domain, dlen);
	dname[dlen] = '\0';
	memcpy(lname, local, llen);
	lname[llen] = '\0';
	*created_r = false;
	int dfd = open_dir(user->store->mail_fd, dname, create, &made_domain);
	if (dfd < 0) {
		if (errno == ENOENT)
			return user_fail(user, error_r, ENOENT, "%s: no such user store",
					 user->address);
		return user_fail(user, error_r, 0, "%s: %s", user->rel, strerror(errno));
	}
	int ufd = open_dir(dfd, lname, create, &made_user);
	int err = errno;
	/* New directory entries must be durable before anything inside them
	 * is acknowledged. */
	if (made_user && fsync_dir(dfd) < 0)
		err = errno, ufd = ufd >= 0 ? (close(ufd), -1) : -1;
	if (made_domain && ufd >= 0 && fsync_dir(user->store->mail_fd) < 0)
		err = errno, ufd = (close(ufd), -1);
	close(dfd);
	if (ufd < 0) {
		if (err == ENOENT)
			return user_fail(user, error_r, ENOENT, "%s: no such user store",
					 user->address);
		return user_fail(user, error_r, err, "%s: %s", user->rel, strerror(err));
	}
	user->dir_fd = ufd;
	*created_r = made_user;
	return 0;
}

int
maildir_make(struct store_user *user, const char *dir, bool durable, const char **error_r)
{
	static const char *const subdirs[] = {"cur", "new", "tmp"};
	bool folder = *dir != '\0', made = false, made_sub = false;
	int fd = folder ? open_dir(user->dir_fd, dir, true, &made) : dup(user->dir_fd);

	if (fd < 0)
		return user_fail(user, error_r, 0, "%s/%s: %s", user->rel, dir, strerror(errno));
	for (size_t i = 0; i < N_ELEMENTS(subdirs); i++) {
		if (mkdirat(fd, subdirs[i], 0700) == 0)
			made_sub = true;
		else if (errno != EEXIST)
			goto fail;
	}
	if (folder) {
		int f =
		    openat(fd, "maildirfolder", O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (f < 0)
			goto fail;
		close(f);
	}
	if (durable && (made_sub || made) && fsync_dir(fd) < 0)
		goto fail;
	if (durable && made && fsync_dir(user->dir_fd) < 0)
		goto fail;
	close(fd);
	return 0;
fail:;
	int err = errno;
	close(fd);
	return user_fail(user, error_r, err, "%s/%s: %s", user->rel, dir, strerror(err));
}

int
maildir_open_box(struct store_mailbox *box, const char **error_r)
{
	struct store_user *user = box->user;
	const char *dir = box->row.dir;

	for (int attempt = 0; attempt < 2; attempt++) {
		box->box_fd = *dir == '\0' ? openat(user->dir_fd, ".", DIR_FLAGS)
					   : openat(user->dir_fd, dir, DIR_FLAGS);
		if (box->box_fd >= 0) {
			box->new_fd = openat(box->box_fd, "new", DIR_FLAGS);
			box->cur_fd = box->new_fd < 0 ? -1 : openat(box->box_fd, "cur", DIR_FLAGS);
			if (box->cur_fd >= 0)
				return 0;
		}
		int err = errno;
		maildir_close_box(box);
		if (err != ENOENT || attempt > 0)
			return user_fail(user, error_r, err, "%s/%s: %s", user->rel, dir,
					 strerror(err));
		/* Lost (or never made, after a crash): make it again. */
		if (maildir_make(user, dir, true, error_r) < 0)
			return -1;
	}
	return -1;
}

void
maildir_close_box(struct store_mailbox *box)
{
	if (box->cur_fd >= 0)
		close(box->cur_fd);
	if (box->new_fd >= 0)
		close(box->new_fd);
	if (box->box_fd >= 0)
		close(box->box_fd);
	box->box_fd = box->new_fd = box->cur_fd = -1;
}

void
maildir_clean_tmp(struct store_mailbox *box)
{
	int fd = openat(box->box_fd, "tmp", DIR_FLAGS);

	if (fd < 0)
		return;
	char *label =
	    xasprintf("%s/%s%stmp", box->user->rel, box->row.dir, *box->row.dir != '\0' ? "/" : "");
	(void)store_clean_tmp(box->user->store, fd, label, STORE_MAILDIR_TMP_STALE_SECS);
	free(label);
	close(fd);
}

static int
remove_tree_at(int parent, const char *name, int depth)
{
	if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
		return 0;
	if ((errno != EISDIR && errno != EPERM) || depth > 4)
		return -1;
	int fd = openat(parent, name, DIR_FLAGS);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return errno == ENOENT ? 0 : -1;
	}
	int ret = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (remove_tree_at(dirfd(d), e->d_name, depth + 1) < 0)
			ret = -1;
	}
	closedir(d);
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		ret = -1;
	return ret;
}

int
maildir_remove_tree(int dirfd, const char *name)
{
	return remove_tree_at(dirfd, name, 0);
}

int
maildir_measure(int fd, uint64_t *disk_r, uint64_t *crlf_r)
{
	char chunk[65536];
	struct crlf_state st = {false};
	uint64_t disk = 0, extra = 0;

	for (;;) {
		ssize_t n = pread(fd, chunk, sizeof(chunk), (off_t)disk);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		extra += crlf_count(&st, chunk, (size_t)n);
		disk += (uint64_t)n;
	}
	*disk_r = disk;
	*crlf_r = disk + extra;
	return 0;
}

int
maildir_file_dir(const struct store_mailbox *box, const char *file)
{
	return strncmp(file, "new/", 4) == 0 ? box->new_fd : box->cur_fd;
}
