/* store.h - postern's mail store: the one interface protocols use.
 *
 * SMTP local delivery, IMAP, POP3 and the webmail reach mail only through
 * this header, so that another backend (PostgreSQL, docs/store.md) can be
 * added without touching protocol code. Today's backend keeps, relative to
 * the data directory:
 *
 *   tmp/                        spool files of messages being delivered
 *   mail/DOMAIN/LOCALPART/      one user's Maildir++ (INBOX: cur/ new/ tmp/;
 *                               folders: ".Name" directories, mUTF-7)
 *   mail/DOMAIN/LOCALPART/index.db   the user's SQLite index (rebuildable)
 *
 * docs/store.md describes the layout, the index and its recovery;
 * docs/queue.md ("Local delivery") the crash states of a delivery.
 *
 * Handles. A struct store is one process's view of a data directory (open it
 * after fork: file names carry the pid). A struct store_user is one user's
 * mail (a SQLite connection and directory descriptors); a struct
 * store_mailbox is one selected mailbox of that user. A handle is used by one
 * thread at a time; several processes may use the same user concurrently
 * (SQLite locking serialises the writers, briefly).
 *
 * Errors. Functions returning int give 0 (or a count) on success and -1 on
 * failure with *error_r set to a message that stays valid until the next
 * call on the same handle (the store_user for user, mailbox and message
 * calls). error_r may be NULL.
 *
 * Names. Addresses are canonical ("local@domain": domain in lower-case
 * ASCII, A-labels; local part as given). Mailbox names are UTF-8 with '.' as
 * the hierarchy separator (Dovecot's Maildir++ default); "INBOX" matches any
 * case. Names that cannot be a safe single path segment are refused, never
 * escaped.
 */
#ifndef POSTERN_STORE_H
#define POSTERN_STORE_H

#include "lib/common.h"

#include <time.h>

#include "lib/buf.h"

struct evbuffer;

struct store;
struct store_user;
struct store_mailbox;
struct store_spool;

/* Hierarchy separator of mailbox names. */
#define STORE_SEPARATOR '.'
/* Longest mailbox name in bytes (UTF-8); its on-disk form must also fit
 * one directory entry (255 bytes). */
#define STORE_MAILBOX_NAME_MAX 255
/* Most mailboxes one user may create (folders adopted from disk are not
 * refused). */
#define STORE_MAILBOXES_MAX 10000
/* Longest keyword, and most keywords on one message. */
#define STORE_KEYWORD_MAX 64
#define STORE_KEYWORDS_MAX 64
/* Most keywords one mailbox may use (its IMAP FLAGS list): a keyword new to
 * a mailbox that has used this many is refused (APPEND, flag changes: E2BIG,
 * as is a message with more than STORE_KEYWORDS_MAX) or left off the message
 * (copies, moves and deliveries, which never fail for a keyword). Keywords
 * stay used while the mailbox lives, as in other IMAP servers' lists. */
#define STORE_MAILBOX_KEYWORDS_MAX 1000
/* Spool files older than this are removed by store_cleanup_spool(). */
#define STORE_SPOOL_STALE_SECS (36 * 60 * 60)
/* Files in a mailbox's tmp/ older than this are removed when the mailbox is
 * opened read-write (Maildir's rule: a delivery never takes 36 hours). */
#define STORE_MAILDIR_TMP_STALE_SECS (36 * 60 * 60)

/* System flags. Maildir letters: S, R, F, T, D. */
enum store_flag {
	STORE_FLAG_SEEN = 1 << 0,
	STORE_FLAG_ANSWERED = 1 << 1,
	STORE_FLAG_FLAGGED = 1 << 2,
	STORE_FLAG_DELETED = 1 << 3,
	STORE_FLAG_DRAFT = 1 << 4,
};
#define STORE_FLAGS_ALL 0x1fu

/* RFC 6154 special-use attributes. */
enum store_special {
	STORE_SPECIAL_NONE,
	STORE_SPECIAL_SENT,
	STORE_SPECIAL_DRAFTS,
	STORE_SPECIAL_TRASH,
	STORE_SPECIAL_JUNK,
	STORE_SPECIAL_ARCHIVE,
};

/* "\Sent", ...; "" for NONE. */
const char *store_special_name(enum store_special special);

/* --- The data directory --------------------------------------------------- */

/* SQLite's process-wide settings, made once before its first use (by
 * store_open and accounts_open; thread-safe). */
void store_sqlite_init(void);

/* Open the store in data_dir ("." in a worker, which has chdir'd there), and
 * create tmp/ and mail/ (mode 0700) when missing. hostname goes into the
 * names of new files (escaped as Dovecot does). The store keeps descriptors
 * of data_dir, tmp/ and mail/. */
int store_open(const char *data_dir, const char *hostname, struct store **store_r,
	       const char **error_r);
void store_close(struct store **store);

/* Remove spool files in tmp/ last modified more than max_age seconds ago
 * (STORE_SPOOL_STALE_SECS for the server), and those whose writer is gone:
 * the pid in the name is no process and the host in it is this store's (a
 * process killed mid-delivery). Workers and the queue runner call it when
 * they start. Returns how many were removed, or -1. Safe while deliveries
 * run: live spool files are younger and their writers alive. */
int store_cleanup_spool(struct store *store, time_t max_age, const char **error_r);

/* Deliveries keep the index connections of recent recipients open (at
 * most 32 per process; see docs/store.md). Close those unused for
 * max_idle seconds (the server calls this now and then; -1: all). */
void store_cache_trim(struct store *store, time_t max_idle);

/* Check that address is "local@domain" with both parts safe single path
 * segments: domain lower-case LDH labels (A-labels) of at most 63 bytes, 253
 * in all; local part 1..64 bytes, no '/', NUL or control byte, not "." or
 * "..", no leading dot. Pure. */
int store_address_check(const char *address, const char **error_r);

/* Check a mailbox name (see above: valid UTF-8, no empty level, no '/',
 * '%', '*' or control character, on-disk form within one directory entry).
 * Pure. */
int store_mailbox_name_check(const char *name, const char **error_r);

/* --- Delivery ----------------------------------------------------------------
 *
 * store_spool_open -> store_spool_write... -> store_spool_finish ->
 * store_deliver (once or more) -> store_spool_free. See docs/queue.md for
 * what exists on disk at each step.
 */

/* Create a spool file in tmp/ (0600, O_EXCL). */
int store_spool_open(struct store *store, struct store_spool **spool_r, const char **error_r);
/* Append message bytes, already converted to LF line endings (a CR before
 * an LF is kept and counted as part of a CRLF). Buffered; a failure
 * (disk full) is sticky: later calls and finish fail too. */
int store_spool_write(struct store_spool *spool, const void *data, size_t len,
		      const char **error_r);
/* Append message bytes with CRLF line endings (as SMTP and IMAP carry
 * them), converted to LF: every CRLF becomes LF, a CR not followed by LF
 * stays. Chunks may split a CRLF anywhere (a CR ending a chunk waits for
 * the next byte, or for store_spool_finish). Same errors as
 * store_spool_write. */
int store_spool_write_crlf(struct store_spool *spool, const void *data, size_t len,
			   const char **error_r);
/* Flush and fsync. After success the sizes are known and the spool is ready
 * for store_deliver. errno_r (may be NULL) gets the errno of a failure, so
 * that ENOSPC can be told apart. */
int store_spool_finish(struct store_spool *spool, int *errno_r, const char **error_r);
/* store_spool_finish for n spools at once: their fsyncs run in parallel,
 * so that the filesystem commits them together (one journal commit
 * rather than n). Afterwards store_spool_finish on each spool returns at
 * once with that spool's outcome (and its error text). */
void store_spool_finish_many(struct store_spool *const *spools, size_t n);
/* Size on disk (LF endings) and as sent to clients (CRLF). */
uint64_t store_spool_disk_size(const struct store_spool *spool);
uint64_t store_spool_crlf_size(const struct store_spool *spool);
/* Continue with the spool through another handle of the same data
 * directory: a thread that delivers with its own struct store (a store
 * handle, like its user cache, belongs to one thread) takes the spool over
 * before store_spool_finish/store_deliver/store_spool_free. */
void store_spool_rebind(struct store_spool *spool, struct store *store);
/* The spool file's descriptor (read-only use: pread), valid until
 * store_spool_free; for copying a finished spool elsewhere. */
int store_spool_fd(const struct store_spool *spool);
/* Unlink the spool file (the delivered links stay) and free. */
void store_spool_free(struct store_spool **spool);

struct store_rcpt {
	const char *address;  /* canonical address */
	const char *folder;   /* NULL: INBOX; a missing folder falls back to INBOX */
	uint64_t quota;	      /* bytes, 0: none (counted on disk sizes) */
	unsigned flags;	      /* enum store_flag bits to set */
	const char *keywords; /* space-separated IMAP keywords, or NULL */
	time_t internal_date; /* 0: now */
};

enum store_status {
	STORE_OK,
	STORE_OVER_QUOTA,
	STORE_TEMP_FAIL, /* I/O or database error: try again later */
	STORE_NO_SPACE,	 /* disk full (ENOSPC, SQLITE_FULL): SMTP 452 4.3.1 */
	STORE_REFUSED,	 /* unsafe address: permanent */
};

struct store_result {
	enum store_status status;
	uint32_t uidvalidity; /* STORE_OK: where the message went */
	uint32_t uid;
	char message[256]; /* what happened, for logs and SMTP replies */
};

/* Deliver a finished spool to n recipients; results[i] answers rcpts[i]
 * (a recipient listed twice, same address and folder, is delivered once and
 * both entries get that result). Returns the number of STORE_OK results.
 * STORE_OK means: the file and its directory entry are on stable storage
 * and the index row (with its UID) is committed. The user's Maildir and
 * index are created on first delivery. Messages with system flags go to
 * cur/ (with their Maildir info), others to new/. */
int store_deliver(struct store_spool *spool, const struct store_rcpt *rcpts, size_t n,
		  struct store_result *results);

/* One message of a batch: results[i] answers rcpts[i]. */
struct store_delivery {
	struct store_spool *spool; /* finished; bound to the same store as the others */
	const struct store_rcpt *rcpts;
	size_t nrcpts;
	struct store_result *results;
};

/* Group commit: deliver n messages as store_deliver would deliver each
 * in turn (same duplicates rule within a message, same fallbacks, same
 * results; the quota is checked per message in batch order, counting the
 * earlier messages of the batch as used), but with one fsync per distinct
 * directory and one index transaction per user for all of them (in rounds
 * of up to 64 recipients). UIDs in one mailbox ascend in batch order.
 * STORE_OK has the meaning it has for store_deliver: every file was
 * fsync'd before it was linked (store_spool_finish), every directory
 * after all its links, and the rows committed, before any result is
 * given. One user's rows of a round commit together: when that commit
 * fails, every message of the round for that user fails (and its link is
 * removed). All spools must be bound to one store handle (panic
 * otherwise). Returns the number of STORE_OK results over all messages. */
int store_deliver_batch(const struct store_delivery *msgs, size_t n);

/* --- A user's store --------------------------------------------------------- */

/* Open (and, with create, make: Maildir, index, INBOX, Sent, Drafts, Trash,
 * Junk, Archive) the store of a canonical address. Without create, a user
 * with no store fails with *error_r "no such user store" and errno ENOENT.
 * With create, an index SQLite cannot read is moved aside
 * (index.db.broken-TIME) and built anew from the Maildir as messages are
 * found (new UIDVALIDITY). */
int store_user_open(struct store *store, const char *address, bool create,
		    struct store_user **user_r, const char **error_r);
void store_user_close(struct store_user **user);
/* The same through the process's cache of recently used handles (the one
 * deliveries use): store_user_get gives a cached handle when it still
 * names the user's store (not deleted, moved or rebuilt meanwhile), else
 * opens one (creating the store); store_user_put keeps it for the next
 * get (at most 32, the least recently used closed). */
int store_user_get(struct store *store, const char *address, struct store_user **user_r,
		   const char **error_r);
void store_user_put(struct store *store, struct store_user **user);

/* A counter that grows with every change the index records for this user
 * (messages added, flags, expunges, mailboxes created, renamed, deleted).
 * Another session compares it with the value it last saw (IDLE, NOTIFY). */
int store_user_changes(struct store_user *user, uint64_t *changes_r, const char **error_r);
/* Bytes and messages counted against the quota. */
int store_user_usage(struct store_user *user, uint64_t *bytes_r, uint64_t *messages_r,
		     const char **error_r);
/* Path of the index database, relative to the data directory (for
 * inotify on its -wal file). */
const char *store_user_index_path(const struct store_user *user);

struct store_mailbox_info {
	char *name; /* UTF-8 */
	enum store_special special;
	bool subscribed;
	bool has_children; /* some other mailbox is below it */
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	uint32_t messages;
	uint32_t unseen;
	uint64_t bytes; /* disk sizes */
};

/* Every mailbox, INBOX first, then in name order. Folders created on disk
 * by other programs are adopted, and mailboxes whose directory is gone are
 * dropped, before listing. Free with store_mailbox_list_free. */
int store_mailbox_list(struct store_user *user, struct store_mailbox_info **list_r, size_t *count_r,
		       const char **error_r);
void store_mailbox_list_free(struct store_mailbox_info **list, size_t count);
/* One mailbox's counters (STATUS); -1 with errno ENOENT when missing. */
int store_mailbox_info(struct store_user *user, const char *name, struct store_mailbox_info *info_r,
		       const char **error_r);
void store_mailbox_info_release(struct store_mailbox_info *info);

/* Create a mailbox (a new UIDVALIDITY); fails with errno EEXIST when it
 * exists, EDQUOT when the user has STORE_MAILBOXES_MAX already. Parents
 * are not created (Maildir++ needs none). */
int store_mailbox_create(struct store_user *user, const char *name, enum store_special special,
			 const char **error_r);
/* Delete a mailbox and its messages (not INBOX; mailboxes below it stay).
 * A later mailbox of the same name gets a new UIDVALIDITY. */
int store_mailbox_delete(struct store_user *user, const char *name, const char **error_r);
/* Rename a mailbox and every mailbox below it, keeping UIDVALIDITY and
 * UIDs. Renaming INBOX moves its messages into a new mailbox and leaves
 * INBOX empty (RFC 3501). */
int store_mailbox_rename(struct store_user *user, const char *from, const char *to,
			 const char **error_r);
int store_mailbox_subscribe(struct store_user *user, const char *name, bool subscribed,
			    const char **error_r);
int store_mailbox_set_special(struct store_user *user, const char *name, enum store_special special,
			      const char **error_r);

/* --- A selected mailbox ----------------------------------------------------- */

struct store_status_info {
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	uint32_t messages;
	uint32_t keywords; /* keywords the mailbox has used */
};

/* Select a mailbox. It is first synchronised with its Maildir: files the
 * index does not know (crash leftovers, files dropped in by other programs)
 * get the next UIDs, rows whose file is gone are expunged, flags changed in
 * file names are taken over; unless readonly, files in new/ move to cur/.
 * The user handle must outlive the mailbox. */
int store_mailbox_open(struct store_user *user, const char *name, bool readonly,
		       struct store_mailbox **box_r, const char **error_r);
void store_mailbox_close(struct store_mailbox **box);
/* Synchronise again and refresh the status. -1 with errno ENOENT when the
 * mailbox was deleted (a mailbox made again under its name is another:
 * open that one anew). */
int store_mailbox_sync(struct store_mailbox *box, const char **error_r);
/* The same for a session that asks often (IMAP, before each command and in
 * IDLE): what postern's own processes change is always seen (it is in the
 * index), but the directories are scanned for other programs' changes at
 * most once a second per handle, since under steady activity their mtimes
 * stay too recent to be trusted and every look would be a full scan. */
int store_mailbox_refresh(struct store_mailbox *box, const char **error_r);
/* The status as of the last open or sync. */
void store_mailbox_status(const struct store_mailbox *box, struct store_status_info *status_r);
/* The keywords the mailbox has used, read now: space-separated in
 * *list_r ("" when none; free it) unless list_r is NULL, their number in
 * *count_r. Every keyword of one of its messages is among them. */
int store_mailbox_keywords(struct store_mailbox *box, char **list_r, uint32_t *count_r,
			   const char **error_r);
/* The mailbox's name (normal form, UTF-8) as of the last open, sync or
 * refresh: a handle follows its mailbox when another session renames it.
 * Valid until the next sync or refresh of box. */
const char *store_mailbox_name(const struct store_mailbox *box);

struct store_message {
	uint32_t uid;
	uint64_t modseq;
	unsigned flags;	      /* enum store_flag */
	const char *keywords; /* space-separated, sorted; "" when none */
	time_t internal_date;
	uint64_t disk_size; /* LF, on disk */
	uint64_t crlf_size; /* as sent: RFC822.SIZE, POP3 octets */
	const char *cache;  /* ENVELOPE/BODYSTRUCTURE cache, or NULL */
};

struct store_iter;

/* Iterate the messages with uid_first <= UID <= uid_last (UINT32_MAX for
 * "*") and MODSEQ > changed_since (0 for all), in UID order. The strings of
 * a message stay valid until the next store_iter_next. Finish (free) the
 * iterator before changing the mailbox. */
int store_iter_init(struct store_mailbox *box, uint32_t uid_first, uint32_t uid_last,
		    uint64_t changed_since, struct store_iter **iter_r, const char **error_r);
/* 1: *msg_r is the next message; 0: no more; -1: error. */
int store_iter_next(struct store_iter *iter, const struct store_message **msg_r,
		    const char **error_r);
void store_iter_free(struct store_iter **iter);

/* UIDs expunged with a MODSEQ above modseq (QRESYNC VANISHED, sessions
 * noticing another's EXPUNGE), ascending. Free *uids_r. */
int store_expunged_since(struct store_mailbox *box, uint64_t modseq, uint32_t **uids_r,
			 size_t *count_r, const char **error_r);

/* Store the cached ENVELOPE/BODYSTRUCTURE text of a message (NULL clears).
 * Does not change MODSEQ. */
int store_message_set_cache(struct store_mailbox *box, uint32_t uid, const char *cache,
			    const char **error_r);

/* A message's content: an fd open on the file (LF endings), owned by the
 * caller (close it), with both sizes. */
struct store_content {
	int fd;
	uint64_t disk_size;
	uint64_t crlf_size;
};

/* Open the content of a message; -1 with errno ENOENT when the message is
 * expunged (also when its file has vanished: the next sync expunges it). */
int store_message_open(struct store_mailbox *box, uint32_t uid, struct store_content *content_r,
		       const char **error_r);
/* Append the content as CRLF to out: exactly crlf_size bytes, or -1 (and out
 * unchanged in length) when the file does not match its size, or out's cap
 * is too small. Reads from the start of the file (pread). These two keep
 * their error text in a per-thread static buffer, valid until their next
 * call in the same thread. */
int store_content_to_buf(const struct store_content *content, struct buf *out,
			 const char **error_r);
int store_content_to_evbuffer(const struct store_content *content, struct evbuffer *out,
			      const char **error_r);
/* Append the CRLF form of the message's header section only: through its
 * first empty line (included), or the whole message when it has none; the
 * rest of the file is not read (header fields fetched by IMAP). */
int store_content_header_to_buf(const struct store_content *content, struct buf *out,
				const char **error_r);

enum store_flags_op {
	STORE_FLAGS_SET, /* replace */
	STORE_FLAGS_ADD,
	STORE_FLAGS_REMOVE,
};

/* Change the flags and keywords (space-separated, NULL for none) of the
 * messages with the given UIDs (missing UIDs are skipped). Every message
 * whose flags change gets a new MODSEQ (the mailbox's HIGHESTMODSEQ + 1) and
 * its file is renamed to carry the Maildir flags (moving to cur/). With
 * unchanged_since > 0 (CONDSTORE), a message whose MODSEQ is above it is
 * left alone and its UID added to *modified_r (may be NULL otherwise; free
 * *modified_r). Keywords new to the mailbox are refused (-1, E2BIG) past
 * STORE_MAILBOX_KEYWORDS_MAX, as is a message left with more than
 * STORE_KEYWORDS_MAX; nothing is changed then. Returns the number of
 * messages changed. */
int store_flags_update(struct store_mailbox *box, const uint32_t *uids, size_t n,
		       enum store_flags_op op, unsigned flags, const char *keywords,
		       uint64_t unchanged_since, uint32_t **modified_r, size_t *modified_count_r,
		       const char **error_r);

/* Expunge: the given UIDs, or with uids NULL every message flagged
 * \Deleted. Files are unlinked first, then the rows deleted (a crash in
 * between is finished by the next sync); each expunge bumps MODSEQ and is
 * remembered for store_expunged_since. *expunged_r (may be NULL) gets the
 * expunged UIDs, ascending; free it. Returns the count. */
int store_expunge(struct store_mailbox *box, const uint32_t *uids, size_t n, uint32_t **expunged_r,
		  size_t *count_r, const char **error_r);

/* --- Copying and appending (IMAP COPY, MOVE, APPEND) ------------------------ */

struct store_copy_result {
	uint32_t uidvalidity; /* of the destination */
	uint32_t *src_uids;   /* pairs, ascending source UIDs: COPYUID */
	uint32_t *dst_uids;
	size_t count;
	uint32_t *expunged; /* move: the source UIDs expunged (= src_uids) */
	size_t expunged_count;
};
void store_copy_result_free(struct store_copy_result *result);

/* Copy (move false) or move the messages with the given UIDs (ascending;
 * missing ones and repeats skipped) of box into the mailbox dest of the
 * same user: files hard-linked into dest's cur/ under new names (copied
 * when a link is not possible), flags, keywords, internal date, sizes and
 * cache taken along, new UIDs in dest ascending in source order, each with
 * a new MODSEQ there. A move then expunges the sources as store_expunge
 * does, in the same index transaction. All or nothing: fails with errno
 * ENOENT when dest does not exist ([TRYCREATE]), EDQUOT when a copy would
 * pass quota (bytes, 0: none; the usage plus all the copies; a move is
 * never refused for the quota), EROFS for a move out of a read-only box.
 * dest may be box's own mailbox. *result_r is filled on success (count 0
 * when no UID exists) and zeroed on failure; free it with
 * store_copy_result_free. docs/store.md has the crash states. */
int store_copy(struct store_mailbox *box, const uint32_t *uids, size_t n, const char *dest,
	       bool move, uint64_t quota, struct store_copy_result *result_r, const char **error_r);

struct store_append_msg {
	struct store_spool *spool; /* finished (store_spool_finish) */
	unsigned flags;		   /* enum store_flag */
	const char *keywords;	   /* space-separated, or NULL */
	time_t internal_date;	   /* 0: now */
};

/* APPEND (MULTIAPPEND): add n messages to the mailbox name, all or none
 * (one index transaction, files fsync'd and linked before it commits, links
 * removed when it fails). Messages with flags go to cur/, others to new/,
 * as delivery does; keywords are checked as delivery does (EINVAL; E2BIG
 * when a message has too many or the mailbox may use no new one).
 * uids_r[n] gets their UIDs, ascending in message order (unless another
 * process picked a file up before the commit: it keeps the UID it got).
 * *uidvalidity_r (may be NULL) gets the mailbox's UIDVALIDITY. Fails with
 * errno ENOENT when the mailbox does not exist ([TRYCREATE]; no fallback
 * to INBOX), EDQUOT over quota (bytes, 0: none; the usage plus all the
 * messages), ENOSPC when the disk is full, EINVAL for an unfinished spool
 * or invalid flags or keywords. The spools must be bound to the store
 * user was opened from (panic otherwise). */
int store_append(struct store_user *user, const char *mailbox, const struct store_append_msg *msgs,
		 size_t n, uint64_t quota, uint32_t *uidvalidity_r, uint32_t *uids_r,
		 const char **error_r);

/* Give the message of a spool its cache text (mime_cache_build) before
 * store_deliver / store_deliver_batch / store_append, so its index rows
 * carry it from the start. The spool keeps a copy. */
void store_spool_set_cache(struct store_spool *spool, const char *cache);
/* Build that cache from the finished spool's CRLF form (the bytes FETCH
 * serves, whose octet counts BODYSTRUCTURE tells: a message written with
 * bare LF or CR CR LF is stored normalised) and set it; messages over
 * STORE_SPOOL_CACHE_MAX get theirs at their first FETCH instead. */
#define STORE_SPOOL_CACHE_MAX (16 * 1024 * 1024)
void store_spool_cache(struct store_spool *spool);

/* --- Maintenance ------------------------------------------------------------- */

struct store_reindex_report {
	bool from_scratch; /* new UIDVALIDITY everywhere */
	size_t mailboxes;
	size_t kept;	/* messages that kept their UID */
	size_t added;	/* files given new UIDs */
	size_t removed; /* rows whose file was gone */
};

/* Rebuild a user's index from the Maildir. Every mailbox directory is
 * scanned: rows whose file is found keep their UID, flags and keywords,
 * unknown files get new UIDs, rows without a file go. With from_scratch,
 * or when index.db cannot be read (it is then moved aside as
 * index.db.broken-TIME), the index is built anew and every mailbox gets a
 * new UIDVALIDITY. */
int store_reindex(struct store *store, const char *address, bool from_scratch,
		  struct store_reindex_report *report_r, const char **error_r);

#endif
