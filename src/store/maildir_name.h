/* maildir_name.h - Maildir file names: a pure parser and the builders.
 *
 * postern names files as Dovecot does:
 *
 *   <time>.M<usec>P<pid>Q<counter>.<host>,S=<disk size>,W=<CRLF size>:2,<flags>
 *
 * The "base" is everything before the first ':' (the info separator): it
 * identifies a message for its whole life, while the flags after ":2,"
 * change. S= and W= are optional fields after the first ',' of the base;
 * migrated files may have neither, and are then measured once at pickup.
 * Nothing here does I/O or allocates (except into a struct buf).
 */
#ifndef POSTERN_MAILDIR_NAME_H
#define POSTERN_MAILDIR_NAME_H

#include "lib/common.h"

#include "lib/buf.h"

/* Longest file name accepted (one directory entry). */
#define MAILDIR_NAME_MAX 255
/* Largest size taken from S= or W= (SQLite integers are signed). */
#define MAILDIR_SIZE_MAX ((uint64_t)INT64_MAX)

struct maildir_name {
	size_t base_len;    /* bytes before ':' (all of it when there is none) */
	bool has_disk_size; /* S=, well formed and present once */
	uint64_t disk_size;
	bool has_crlf_size; /* W=, well formed and present once */
	uint64_t crlf_size;
	bool has_info;	  /* ":2," follows the base */
	size_t flags_off; /* where the letters after ":2," start */
	size_t flags_len;
	unsigned flags; /* enum store_flag from the letters S R F T D */
};

/* Parse name[0..len). Returns 0, or -1 when it cannot be a message file:
 * empty, over MAILDIR_NAME_MAX, starting with '.', or containing '/' or
 * NUL (such entries are ignored when a directory is scanned). A malformed S=
 * or W= field, or an info that is not ":2,", is not an error: the field or
 * the flags are just absent. */
int maildir_name_parse(const char *name, size_t len, struct maildir_name *r);

/* Maildir letters for flags merged with the letters of an existing info
 * (old, may be NULL/0): letters postern does not manage (P, keyword letters
 * a-z, ...) are kept, S R F T D follow flags; the result is in ASCII order
 * without repeats. Appends to out; -1 when out is full. */
int maildir_flags_letters(unsigned flags, const char *old, size_t old_len, struct buf *out);

/* Append the host part of new names: hostname with '/', ':', ',', '\\' and
 * bytes outside printable ASCII written as "\ooo" (octal), as Dovecot does;
 * "localhost" when hostname is empty. */
int maildir_host_escape(const char *hostname, struct buf *out);

/* Append a new unique base: "<sec>.M<usec>P<pid>Q<counter>.<host>" where
 * host is already escaped. */
int maildir_base_make(struct buf *out, int64_t sec, long usec, long pid, unsigned long counter,
		      const char *host);

/* Append ",S=<disk>,W=<crlf>" to a base. */
int maildir_base_add_sizes(struct buf *out, uint64_t disk_size, uint64_t crlf_size);

#endif
