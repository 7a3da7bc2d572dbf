/* sqlite_vfs.h - SQLite with relative paths kept relative.
 *
 * Processes that drop privileges chdir into the data directory first and
 * then open every file relative to it, so the data directory may lie below
 * directories the service user cannot traverse (a checkout in /root). The
 * standard unix VFS defeats that: it turns a relative name into an absolute
 * one by lstat()ing each parent directory. This registers, as the default,
 * a copy of the unix VFS whose xFullPathname leaves a relative name as it
 * is. Such processes must not chdir again while a database is open.
 */
#ifndef POSTERN_SQLITE_VFS_H
#define POSTERN_SQLITE_VFS_H

/* Idempotent. Returns 0, or -1 when the unix VFS is missing. */
int sqlite_vfs_relative_register(void);

#endif
