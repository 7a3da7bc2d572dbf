/* test_fs.h - file system helpers the unit tests share. */
#ifndef POSTERN_TEST_FS_H
#define POSTERN_TEST_FS_H

#include "lib/common.h"

#include <ftw.h>
#include <sys/stat.h>

static inline int
test_rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* Remove a tree, without a shell. Returns 0 or -1. */
static inline int
rm_rf(const char *path)
{
	return nftw(path, test_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
