/* store_private.h - what the files of the Maildir + SQLite backend share.
 * Nothing outside src/store/ includes it. */
#ifndef POSTERN_STORE_PRIVATE_H
#define POSTERN_STORE_PRIVATE_H

#include "lib/common.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include "lib/buf.h"
#include "store/store.h"

#define STORE_ERROR_MAX 512
/* How long a writer waits for another process's write transaction. Writers
 * hold it for a directory scan and a few rows at most: never for an fsync. */
#define STORE_BUSY_TIMEOUT_MS 5000
/* A directory whose mtime is this recent may change again within the same
 * timestamp tick: it is not remembered as scanned (Dovecot does the same). */
#define STORE_DIRTY_SECS 2
/* store_mailbox_refresh scans the directories at most this often per
 * handle (ms). */
#define STORE_REFRESH_SCAN_MS 1000

/* Index connections kept open by a process between deliveries: opening a
 * WAL database that no other connection has open rebuilds its shared
 * index from the whole WAL, which costs more than the delivery itself. */
#define STORE_USER_CACHE 32

struct store {
	char *data_dir;
	int data_fd;
	int tmp_fd;
	int mail_fd;
	char *host;				    /* escaped for file names */
	struct store_user *cache[STORE_USER_CACHE]; /* idle user handles */
	char error[STORE_ERROR_MAX];
};

/* Prepared statements kept for the life of a user handle. */
enum stmt_id {
	ST_MAILBOX_BY_NAME,
	ST_MAILBOX_BY_ID,
	ST_UID_ALLOC,
	ST_MSG_INSERT,
	ST_MSG_BY_BASE,
	ST_MSG_BY_UID,
	ST_MSG_SET_FILE,
	ST_MSG_SET_FLAGS,
	ST_MSG_DELETE,
	ST_EXPUNGED_ADD,
	ST_EXPUNGED_SINCE,
	ST_MODSEQ_BUMP,
	ST_CHANGED,
	ST_USAGE,
	ST_SET_MTIMES,
	ST_DELETED_UIDS,
	ST_KEYWORD_FIND,
	ST_KEYWORD_ADD,
	ST_KEYWORD_COUNT,
	ST_KEYWORD_LIST,
	ST_BEGIN,
	ST_COMMIT,
	ST_COUNT
};

struct store_user {
	struct store *store;
	char *address;
	char *rel;	 /* "mail/DOMAIN/LOCAL", relative to the data directory */
	char *index_rel; /* rel + "/index.db" */
	int dir_fd;	 /* the user's Maildir (INBOX) */
	sqlite3 *db;
	sqlite3_stmt *stmts[ST_COUNT];
	/* store_iter's two queries (all rows, rows changed since a MODSEQ),
	 * kept prepared while no iterator uses them. */
	sqlite3_stmt *iter_stmts[2];
	bool iter_busy[2];
	int depth;	 /* nested idx_begin */
	bool failed;	 /* an inner step failed: the outermost commit rolls back */
	int last_errno;	 /* errno of the last failure (ENOSPC for a full disk) */
	dev_t dir_dev;	 /* what dir_fd and the index were when opened: a */
	ino_t dir_ino;	 /* cached handle is reused only while they still */
	ino_t index_ino; /* are what the paths name */
	time_t last_used;
	bool index_created; /* the index was made by this open (new, or rebuilt) */
	char error[STORE_ERROR_MAX];
};

struct mailbox_row {
	int64_t id;
	char *name;
	char *dir;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	int64_t new_mtime; /* ns, as of the last full scan; 0: scan next time */
	int64_t cur_mtime;
	int64_t deliver_mtime;	/* ns, new/ after the last delivery's commit */
	uint32_t message_count; /* kept by triggers on messages */
	uint32_t keyword_count; /* kept by triggers on keywords */
	enum store_special special;
	bool subscribed;
};

struct store_mailbox {
	struct store_user *user;
	struct mailbox_row row;
	int box_fd;
	int new_fd;
	int cur_fd;
	bool readonly;
	struct store_status_info status;
	int64_t scanned_at; /* CLOCK_MONOTONIC ns of this handle's last disk scan */
};

/* --- CRLF (crlf.c) --- */
struct crlf_state {
	bool last_cr;
};
/* CRLF size added by n bytes: one byte per LF not preceded by CR. */
uint64_t crlf_count(struct crlf_state *st, const char *p, size_t n);

/* Fault injection for the crash tests: when set, called at named points of
 * a delivery, a copy or an append ("linked": after the links, before the
 * directory fsyncs; "synced": after them, before the index commits;
 * "committed": after them; once per round of a batch). Production code
 * never sets it. */
extern void (*store_test_hook)(const char *point);
/* Call store_test_hook when set. */
void store_hook(const char *point);

/* A spool file (deliver.c; read by append.c). */
struct store_spool {
	struct store *store;
	int fd;
	char *name; /* in tmp/; the base of delivered files */
	struct buf wbuf;
	uint64_t disk_size;
	uint64_t crlf_size;
	struct crlf_state crlf;
	bool pending_cr; /* store_spool_write_crlf: a CR ended the last chunk */
	int err;	 /* sticky errno */
	bool finished;
	time_t received;
	struct stat st; /* after finish */
	char *cache;	/* store_spool_set_cache, or NULL */
};

/* --- errors (store.c) --- */
int store_fail(struct store *store, const char **error_r, const char *fmt, ...) ATTR_PRINTF(3, 4);
/* Sets user->error (and last_errno from errno when err is 0). */
int user_fail(struct store_user *user, const char **error_r, int err, const char *fmt, ...)
    ATTR_PRINTF(4, 5);
int user_db_fail(struct store_user *user, const char **error_r, const char *what);
/* Next unique base name for a new file ("<sec>.M<usec>P<pid>Q<n>.<host>"). */
int store_new_base(struct store *store, struct buf *out);
/* Remove the regular files of a tmp/ directory last modified more than
 * max_age seconds ago, and those whose writer is gone (a name of this
 * store's host whose pid is no process); label names the directory in the
 * log. The number removed, or -1 (errno). */
int store_clean_tmp(struct store *store, int dir_fd, const char *label, time_t max_age);
/* write(2) all of p, retrying EINTR; -1 with errno. (link.c) */
int store_write_all(int fd, const char *p, size_t n);
/* fsync a directory fd, retrying EINTR. */
int fsync_dir(int fd);
/* fsync n directories (or spool files) at once, errs[i] getting 0 or the
 * errno of fds[i]. The fsyncs run in parallel (up to FSYNC_THREADS short-lived threads):
 * every directory is fsync'd, as POSIX requires, but their cache flushes
 * overlap, so ten cost about what one does (docs/store.md, measurements). */
#define FSYNC_THREADS 16
void fsync_dirs(const int *fds, int *errs, size_t n);

/* --- the index (index.c) --- */
int index_open(struct store_user *user, bool create, bool *created_r, const char **error_r);
void index_close(struct store_user *user);
/* A cached prepared statement, reset and unbound. */
sqlite3_stmt *idx_stmt(struct store_user *user, enum stmt_id id);
int idx_exec(struct store_user *user, const char *sql, const char **error_r);
/* Nested write transaction (BEGIN IMMEDIATE at the outermost level). */
int idx_begin(struct store_user *user, const char **error_r);
int idx_commit(struct store_user *user, const char **error_r);
void idx_rollback(struct store_user *user);
/* Mark the user's change counter (inside a transaction). */
int idx_changed(struct store_user *user, const char **error_r);
/* A fresh UIDVALIDITY (greater than any this user had). */
int idx_new_uidvalidity(struct store_user *user, uint32_t *uidvalidity_r, const char **error_r);
/* Mailbox rows. *row_r is filled (free with mailbox_row_release); 0 found,
 * 1 missing, -1 error. */
int idx_mailbox_get(struct store_user *user, const char *name, struct mailbox_row *row_r,
		    const char **error_r);
int idx_mailbox_get_id(struct store_user *user, int64_t id, struct mailbox_row *row_r,
		       const char **error_r);
int idx_mailbox_add(struct store_user *user, const char *name, const char *dir,
		    enum store_special special, bool subscribed, int64_t *id_r,
		    const char **error_r);
void mailbox_row_release(struct mailbox_row *row);

struct msg_add {
	const char *base;
	const char *file; /* "new/NAME" or "cur/NAME" */
	unsigned flags;
	const char *keywords; /* normal form (store_keywords_normalize), or NULL */
	bool keywords_strict; /* E2BIG when one is too many for the mailbox */
	int64_t internal_date;
	uint64_t disk_size;
	uint64_t crlf_size;
	const char *cache; /* or NULL */
};

/* Insert a message with the next UID and MODSEQ (inside a transaction).
 * When the mailbox already has this base (another process picked the file
 * up first), that row gets m's keywords, internal date and cache (which
 * the pickup could not know) and its UID is returned. Its keywords are
 * admitted to the mailbox first (idx_keywords_admit, strict as m says). */
int idx_msg_add(struct store_user *user, int64_t box, const struct msg_add *m, uint32_t *uid_r,
		const char **error_r);
/* store_keywords_normalize, failing as the user's handle does (errno
 * EINVAL for an invalid keyword, E2BIG for more than STORE_KEYWORDS_MAX). */
int user_keywords_normalize(struct store_user *user, const char *in, char **out_r,
			    const char **error_r);
/* Make the keywords (space-separated, normal form) used in the mailbox
 * (inside a transaction). A keyword new to a mailbox that has used
 * STORE_MAILBOX_KEYWORDS_MAX is, when strict, refused (-1, E2BIG), else left
 * off; one the mailbox has used in another case is spelt as it was first.
 * *kept_r is then the keywords to store (free it); NULL when they are the
 * ones given. */
int idx_keywords_admit(struct store_user *user, int64_t box, const char *keywords, bool strict,
		       char **kept_r, const char **error_r);
/* Bump a mailbox's HIGHESTMODSEQ; returns the new value in *modseq_r. */
int idx_modseq_next(struct store_user *user, int64_t box, uint64_t *modseq_r, const char **error_r);
/* Delete a message row and remember the expunge at modseq. */
int idx_msg_expunged(struct store_user *user, int64_t box, uint32_t uid, uint64_t modseq,
		     const char **error_r);

/* A message row (msg_get). */
struct msg_row {
	char *base;
	char *file; /* "new/NAME" or "cur/NAME" */
	unsigned flags;
	char *keywords;
	uint64_t modseq;
	int64_t internal_date;
	uint64_t disk_size;
	uint64_t crlf_size;
	char *cache; /* or NULL */
};
/* Read the row of uid in box: 0 found, 1 missing, -1 error. (mailbox.c) */
int msg_get(struct store_mailbox *box, uint32_t uid, struct msg_row *m, const char **error_r);
void msg_row_release(struct msg_row *m);

/* --- the Maildir (maildir.c) --- */
/* Open (creating with create) mail/DOMAIN/LOCAL without following links. */
int maildir_user_dir(struct store_user *user, const char *domain, size_t dlen, const char *local,
		     size_t llen, bool create, bool *created_r, const char **error_r);
/* Make a Maildir (cur/ new/ tmp/) in dir (relative to the user's Maildir,
 * "" for INBOX); folders get a "maildirfolder" file. With durable, the
 * directories are fsync'd. */
int maildir_make(struct store_user *user, const char *dir, bool durable, const char **error_r);
/* Open a mailbox's directories (box_fd, new_fd, cur_fd), recreating
 * cur/ new/ tmp/ when missing. */
int maildir_open_box(struct store_mailbox *box, const char **error_r);
void maildir_close_box(struct store_mailbox *box);
/* Remove what interrupted writers left in box's tmp/ (store_clean_tmp,
 * STORE_MAILDIR_TMP_STALE_SECS); quiet and best effort. */
void maildir_clean_tmp(struct store_mailbox *box);
/* Remove a directory tree below dirfd (no links followed). */
int maildir_remove_tree(int dirfd, const char *name);
/* Measure a file: disk size and CRLF size (reads it). */
int maildir_measure(int fd, uint64_t *disk_r, uint64_t *crlf_r);
/* The directory of a file column ("new/NAME" or "cur/NAME") of box. */
int maildir_file_dir(const struct store_mailbox *box, const char *file);
/* The file of a base when another program renamed it (new/ to cur/, other
 * flags): looks in both directories. "new/NAME" or "cur/NAME" (allocated),
 * or NULL. (mailbox.c) */
char *maildir_find_base(struct store_mailbox *box, const char *base);

/* --- new message files (link.c) --- */
/* Give the file from_dir/from_name a new name in box: hard-linked, or
 * copied through box's tmp/ (fsync'd, mtime kept) when a link cannot be
 * made (another filesystem, too many links). It goes into cur/ with a
 * ":2,<flags>" info when to_cur, else into new/. The base is first_base
 * (NULL, or taken already: a fresh one) with ",S=<disk>,W=<crlf>".
 * *base_r and *file_r ("new/NAME" or "cur/NAME") are allocated. -1 with
 * errno (ENOENT: from_name is gone, or box's directory). */
int link_new(struct store *store, int from_dir, const char *from_name, const char *first_base,
	     uint64_t disk_size, uint64_t crlf_size, unsigned flags, bool to_cur,
	     struct store_mailbox *box, char **base_r, char **file_r);
/* Remove a file link_new made (best effort). */
void link_remove(struct store_mailbox *box, const char *file);
/* Whether size more bytes, after pending ones not counted in used yet,
 * pass quota (0: none). */
bool quota_passed(uint64_t quota, uint64_t used, uint64_t pending, uint64_t size);

/* --- synchronisation (sync.c) --- */
enum sync_mode {
	SYNC_DELIVER, /* new/ only, pick up unknown files */
	SYNC_FULL,    /* new/ and cur/ when changed: pickups, vanished, flags */
	SYNC_FORCE,   /* both, whatever the mtimes say (reindex) */
};
struct sync_stats {
	size_t kept, added, removed;
};
/* Inside a transaction. skip_base (may be NULL) is a file being delivered
 * right now, left to its deliverer. With move_new (read-write opens), files
 * in new/ move to cur/. For SYNC_DELIVER, new_before is the mtime of new/
 * taken before the delivery's own link. */
int sync_mailbox(struct store_mailbox *box, enum sync_mode mode, bool move_new,
		 const char *skip_base, int64_t new_before, struct sync_stats *stats,
		 const char **error_r);
int64_t dir_mtime_ns(int fd);

/* A user handle for delivery: from the cache when one is there and still
 * names the same directory and index, else opened (and created). Give it
 * back with user_cache_put, which keeps it (closing the least recently
 * used one when full) or closes it. */
int user_cache_get(struct store *store, const char *address, struct store_user **user_r,
		   const char **error_r);
void user_cache_put(struct store *store, struct store_user **user);

/* --- mailboxes (user.c, mailboxes.c) --- */
/* Prefix of a deleted mailbox's directory until its files are removed: a
 * leading ".." is never a Maildir++ folder; listings remove leftovers. */
#define TRASH_PREFIX "..postern-deleted-"

/* A name resolved to its normal form and directory. */
struct resolved {
	struct buf name;
	struct buf dir;
};
/* Check and resolve a mailbox name (EINVAL with the reason). */
int resolve(struct store_user *user, const char *name, struct resolved *r, const char **error_r);
void resolved_release(struct resolved *r);
/* Delete a mailbox's rows (messages, expunges, the mailbox). */
int delete_mailbox_rows(struct store_user *user, int64_t id, const char **error_r);
/* Reconcile, taking the write lock only when something differs. */
int reconcile_if_needed(struct store_user *user, const char **error_r);
/* store_user_open with separate choices: create the user's directory,
 * create the index (and the default mailboxes) when missing. */
int user_open(struct store *store, const char *address, bool create_dir, bool create_index,
	      struct store_user **user_r, const char **error_r);
/* Open a mailbox by name without syncing (delivery, internal use); 1 when
 * it does not exist. */
int mailbox_open_raw(struct store_user *user, const char *name, struct store_mailbox **box_r,
		     const char **error_r);
/* Read box's row again (UIDNEXT, HIGHESTMODSEQ, ...); -1 with errno ENOENT
 * when the mailbox was deleted meanwhile (also when another one has been
 * made since under its row id). (mailbox.c) */
int mailbox_reload(struct store_mailbox *box, const char **error_r);
/* mailbox_open_raw, adopting a folder made on disk by another program
 * when name is not in the index; -1 with errno ENOENT when missing. */
int mailbox_open_existing(struct store_user *user, const char *name, struct store_mailbox **box_r,
			  const char **error_r);
/* Adopt folder directories the index does not know, drop rows of
 * mailboxes whose directory is gone (inside a transaction). */
int mailboxes_reconcile(struct store_user *user, const char **error_r);
/* Create the default mailboxes of a new user (inside a transaction). */
int mailboxes_create_defaults(struct store_user *user, bool durable, const char **error_r);

/* Expunge, in two steps inside one transaction (mailbox.c). Unlink the
 * file of uid (following a rename by another program): 1 when the row
 * exists (*file_r, may be NULL, gets the file unlinked, or NULL when it
 * was gone already), 0 when there is no such row, -1 on error. */
int expunge_file(struct store_mailbox *box, uint32_t uid, char **file_r, const char **error_r);
/* Delete the rows of uids (their files unlinked) with one new MODSEQ,
 * remembered for store_expunged_since. */
int expunge_rows(struct store_mailbox *box, const uint32_t *uids, size_t n, const char **error_r);

/* Normalise a space-separated keyword list: valid IMAP atoms, no repeats
 * (case-insensitive), sorted; -1 when invalid or over STORE_KEYWORDS_MAX.
 * *out_r is allocated. (mailbox.c) */
int store_keywords_normalize(const char *in, char **out_r);

#endif
