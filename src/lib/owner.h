/* owner.h - giving a file or directory to a user without being led
 * elsewhere by a symbolic link.
 *
 * The master runs as root and the data directory belongs to the
 * unprivileged user, who can put links in it: a chown or chmod by path
 * there would follow a link to /etc and give it away. Here the entry is
 * opened without following links and changed through its descriptor. A
 * link is followed only to what is the user's already (queue/ on another
 * disk, say): root then changes nothing through it that the user could not
 * change itself. A regular file with other hard links is not given away
 * (it could be a link to a file of root's). */
#ifndef POSTERN_OWNER_H
#define POSTERN_OWNER_H

#include "lib/common.h"

#include <sys/stat.h>

/* Open name, relative to the directory dir (or AT_FDCWD), which must be of
 * type (S_IFDIR or S_IFREG); give it to uid:gid unless uid is (uid_t)-1,
 * and set its permission bits to mode unless mode is 0. Returns the
 * descriptor (read-only, close-on-exec), or -1 with errno set and a reason
 * in err[size] (ENOENT when name does not exist; ELOOP when it is a link
 * to what uid does not own; EMLINK for a file with other hard links). */
int owner_give_at(int dir, const char *name, mode_t type, uid_t uid, gid_t gid, mode_t mode,
		  char *err, size_t size);

#endif
