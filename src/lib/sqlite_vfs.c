/* sqlite_vfs.c - the unix VFS with relative paths kept relative. */
#include "lib/common.h"

#include <sqlite3.h>

#include "lib/sqlite_vfs.h"

static sqlite3_vfs relative_vfs;
static int (*unix_full_pathname)(sqlite3_vfs *, const char *, int, char *);

static int
relative_full_pathname(sqlite3_vfs *vfs, const char *name, int size, char *out)
{
	if (name[0] == '/')
		return unix_full_pathname(vfs, name, size, out);
	size_t n = strlen(name);
	if (size < 0 || n >= (size_t)size)
		return SQLITE_CANTOPEN;
	memcpy(out, name, n + 1);
	return SQLITE_OK;
}

int
sqlite_vfs_relative_register(void)
{
	if (unix_full_pathname != NULL)
		return 0;
	sqlite3_vfs *unix_vfs = sqlite3_vfs_find("unix");
	if (unix_vfs == NULL)
		return -1;
	relative_vfs = *unix_vfs;
	relative_vfs.zName = "postern-relative";
	relative_vfs.pNext = NULL;
	unix_full_pathname = unix_vfs->xFullPathname;
	relative_vfs.xFullPathname = relative_full_pathname;
	return sqlite3_vfs_register(&relative_vfs, 1) == SQLITE_OK ? 0 : -1;
}
