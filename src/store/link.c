/* link.c - a new message file in a mailbox: its name, the hard link (or
 * the copy when no link can be made), and the quota arithmetic. Delivery,
 * APPEND and COPY/MOVE all put files into mailboxes through here. */
#include "lib/common.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/xalloc.h"
#include "store/maildir_name.h"
#include "store/store_private.h"

int
store_write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Copy from_dir/from_name into box's tmp/BASE, fsync it, keep its mtime
 * (an internal date for a later pickup or rebuild), and link it to
 * to_dir/to_name. */
static int
copy_in(int from_dir, const char *from_name, struct store_mailbox *box, const char *base,
	int to_dir, const char *to_name)
{
	char buf[65536];
	char *tmpname = xasprintf("tmp/%s", base);
	int in = openat(from_dir, from_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int out = in < 0 ? -1
			 : openat(box->box_fd, tmpname,
				  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int ret = -1, err = 0;
	uint64_t off = 0;
	struct stat st;

	if (in < 0 || out < 0)
		goto out;
	for (;;) {
		ssize_t n = pread(in, buf, sizeof(buf), (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (n > 0 && store_write_all(out, buf, (size_t)n) < 0))
			goto out;
		if (n == 0)
			break;
		off += (uint64_t)n;
	}
	if (fstat(in, &st) == 0) {
		struct timespec times[2] = {st.st_atim, st.st_mtim};
		(void)futimens(out, times);
	}
	if (fsync(out) < 0 || linkat(box->box_fd, tmpname, to_dir, to_name, 0) < 0)
		goto out;
	ret = 0;
out:
	err = errno;
	if (in >= 0)
		close(in);
	if (out >= 0) {
		close(out);
		(void)unlinkat(box->box_fd, tmpname, 0);
	}
	free(tmpname);
	errno = err;
	return ret;
}

/* The base and file names of one attempt; -1 when they do not fit. */
static int
make_names(struct store *store, const char *first_base, uint64_t disk_size, uint64_t crlf_size,
	   unsigned flags, bool to_cur, struct buf *base, struct buf *file)
{
	buf_reset(base);
	buf_reset(file);
	int r = first_base != NULL ? buf_add_str(base, first_base) : store_new_base(store, base);
	if (r < 0 || maildir_base_add_sizes(base, disk_size, crlf_size) < 0 ||
	    buf_add_str(file, to_cur ? "cur/" : "new/") < 0 ||
	    buf_add(file, base->data, base->len) < 0)
		return -1;
	if (to_cur &&
	    (buf_add_str(file, ":2,") < 0 || maildir_flags_letters(flags, NULL, 0, file) < 0))
		return -1;
	return 0;
}

int
link_new(struct store *store, int from_dir, const char *from_name, const char *first_base,
	 uint64_t disk_size, uint64_t crlf_size, unsigned flags, bool to_cur,
	 struct store_mailbox *box, char **base_r, char **file_r)
{
	struct buf base, file;
	int to_dir = to_cur ? box->cur_fd : box->new_fd;
	int err = 0;

	buf_init(&base, MAILDIR_NAME_MAX);
	buf_init(&file, MAILDIR_NAME_MAX + 4);
	for (int attempt = 0; attempt < 3; attempt++) {
		/* A name taken already (a clock step back, another system's
		 * file): make a fresh one. */
		if (make_names(store, attempt == 0 ? first_base : NULL, disk_size, crlf_size, flags,
			       to_cur, &base, &file) < 0) {
			err = ENAMETOOLONG;
			break;
		}
		int r = linkat(from_dir, from_name, to_dir, file.data + 4, 0);
		if (r < 0 && (errno == EXDEV || errno == EMLINK || errno == EPERM))
			r = copy_in(from_dir, from_name, box, base.data, to_dir, file.data + 4);
		if (r == 0) {
			*base_r = buf_steal(&base);
			*file_r = buf_steal(&file);
			return 0;
		}
		err = errno;
		if (err != EEXIST)
			break;
	}
	buf_release(&base);
	buf_release(&file);
	errno = err;
	return -1;
}

void
link_remove(struct store_mailbox *box, const char *file)
{
	(void)unlinkat(maildir_file_dir(box, file), file + 4, 0);
}

bool
quota_passed(uint64_t quota, uint64_t used, uint64_t pending, uint64_t size)
{
	if (quota == 0)
		return false;
	return size > quota || pending > quota - size || used > quota - size - pending;
}
