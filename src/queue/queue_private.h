/* queue_private.h - what the relay queue's source files share and nothing
 * else may use: the queue handle, directory and lock helpers, the error
 * buffer, and the crash points the unit tests stop at.
 */
#ifndef POSTERN_QUEUE_PRIVATE_H
#define POSTERN_QUEUE_PRIVATE_H

#include "lib/common.h"

#include "queue/queue.h"

/* Directories below queue/, indexed by enum queue_state, then the two that
 * hold no messages. */
enum queue_dir {
	QDIR_INCOMING = QUEUE_INCOMING,
	QDIR_DEFERRED = QUEUE_DEFERRED,
	QDIR_HOLD = QUEUE_HOLD,
	QDIR_CORRUPT = QUEUE_CORRUPT,
	QDIR_TMP,
	QDIR_STATE,
	QDIR_COUNT
};

struct queue {
	int root_fd; /* queue/ itself: the structural lock */
	int dir_fd[QDIR_COUNT];
	char *path; /* for messages: "queue" */
};

extern const char *const queue_dir_names[QDIR_COUNT];

/* Format the module's error message into the per-thread buffer, store it in
 * *error_r when error_r is not NULL, and return it. Arguments may point into
 * the buffer itself (a message wrapped in another). */
const char *queue_error_set(const char **error_r, const char *fmt, ...) ATTR_PRINTF(2, 3);
/* The last message set, also when the caller passed error_r NULL. */
const char *queue_error_last(void);

/* ---- shared by the format's files (queue_values.c) ---- */

#define QUEUE_VERSION "1"

extern const char *const queue_rcpt_state_names[4];
extern const char *const queue_body_names[4];
extern const char *const queue_ret_names[3];

/* queue_id_valid() for s[0..len), not NUL-terminated. */
bool queue_id_valid_len(const char *s, size_t len);
/* A decimal number without sign or leading zero, at most max. */
bool queue_number_parse(const char *s, size_t len, uint64_t max, uint64_t *v_r);
/* Seconds since the epoch, 0 to QUEUE_TIME_MAX. */
bool queue_time_parse(const char *s, size_t len, time_t *t_r);
bool queue_time_valid(time_t t);
/* NULL, or text valid with queue_text_valid(). */
bool queue_opt_text_valid(const char *s, size_t max);
/* An untrusted key, printable and shortened, for an error message. */
void queue_key_show(const char *key, size_t len, char *out, size_t size);
/* The next record in data[0..len): 1 with *line_len_r (without the LF)
 * and *consumed_r (with it), 0 when incomplete, -1 (*error_r) when longer
 * than QUEUE_LINE_MAX. */
int queue_record_next(const char *data, size_t len, size_t *line_len_r, size_t *consumed_r,
		      const char **error_r);
/* Split a record (without its LF) at its first space; -1 (*error_r) when
 * there is none or the value holds a control character. */
int queue_record_split(const char *line, size_t len, const char **key_r, size_t *key_len_r,
		       const char **value_r, size_t *value_len_r, const char **error_r);

/* ---- shared by the envelope and state files (queue_state_file.c) ---- */

/* Free a recipient's remote and reply and set them to NULL. */
void queue_rcpt_state_release(struct queue_rcpt *r);
/* Check recipient i's delivery state fields; -1 with *error_r. */
int queue_rcpt_state_check(const struct queue_rcpt *r, size_t i, const char **error_r);

/* fsync a directory of the queue; -1 with *error_r. */
int queue_dir_sync(struct queue *q, enum queue_dir dir, const char **error_r);

/* Write all of data at the file's offset, retrying short writes and EINTR. */
int queue_write_full(int fd, const void *data, size_t len);
/* pread exactly len bytes at off, 0, or -1 (errno set; EIO-like with errno
 * 0 when the file ends early). */
int queue_pread_full(int fd, void *data, size_t len, uint64_t off);

/* Open dir/name for reading and take an exclusive flock without waiting.
 * Returns the fd, -1 with errno (ENOENT: no such file; EWOULDBLOCK: locked
 * by someone else). */
int queue_open_locked(struct queue *q, enum queue_dir dir, const char *name);
/* Create dir/name with O_EXCL (mode 0600, for writing) and lock it. The
 * lock protocol of docs/queue.md: a file is removed by recovery only by the
 * holder of its lock, so after locking we check it is still linked.
 * Returns the fd, or -1 with errno (EEXIST: the name is taken). */
int queue_create_locked(struct queue *q, enum queue_dir dir, const char *name);
/* Open a fixed name (for state/ID.tmp) with O_CREAT|O_TRUNC and lock it
 * with the same protocol; waits for nobody (EWOULDBLOCK when busy). */
int queue_open_tmp_locked(struct queue *q, enum queue_dir dir, const char *name);

/* A name in a queue directory: an id, or (in state/) an id + ".tmp". */
struct queue_name {
	char name[QUEUE_ID_LEN + 5];
	bool tmp; /* ends in ".tmp" */
};

/* The names in dir that are queue ids (and, when with_tmp, ids + ".tmp"),
 * sorted; *names_r (caller frees) may be NULL when *count_r is 0. Other
 * names are counted in *unknown_r (may be NULL) and skipped. */
int queue_dir_names_list(struct queue *q, enum queue_dir dir, bool with_tmp,
			 struct queue_name **names_r, size_t *count_r, size_t *unknown_r,
			 const char **error_r);

/* Find id in the message directories (incoming, deferred, hold, corrupt)
 * and open it locked. Returns the fd with *dir_r set; -1 with errno ENOENT
 * (in none of them), EWOULDBLOCK (locked by someone else) or another errno.
 * Once this returns, the file stays where *dir_r says until the lock is
 * released: every move holds the message's lock. */
int queue_find_locked(struct queue *q, const char *id, enum queue_dir *dir_r);

/* Move a message (its lock held by the caller) between message
 * directories: rename, then fsync the destination and the source, under a
 * shared lock on queue/ so that recovery never looks in between (a move
 * waits for recovery's sweep, which is short). */
int queue_move(struct queue *q, const char *id, enum queue_dir from, enum queue_dir to,
	       const char **error_r);
/* Remove a message whose lock the caller holds: the message file, the
 * directory sync, then its state file. */
int queue_remove(struct queue *q, const char *id, enum queue_dir dir, const char **error_r);

/* Read a whole small file (a state file) below dir into out (capped by its
 * max). 0, 1 when it does not exist, -1 with *error_r, -2 with *error_r
 * when it is not a regular file or larger than out's cap. */
int queue_read_small(struct queue *q, enum queue_dir dir, const char *name, struct buf *out,
		     const char **error_r);
/* Parse the envelope of the message file open on fd (from offset 0), check
 * that the content fills the rest of the file exactly, and apply its state
 * file. name is for messages. Returns the envelope, or NULL with *error_r
 * and *corrupt_r true when the file (not the system) is at fault. */
struct queue_envelope *queue_load(struct queue *q, int fd, const char *id, uint64_t *offset_r,
				  bool *corrupt_r, const char **error_r);
/* Replace state/ID with env's recipient states: state/ID.tmp, fsync,
 * rename, fsync state/. due (or arrival when -1) becomes the state file's
 * mtime, the scan's hint. */
int queue_state_write(struct queue *q, const struct queue_envelope *env, const char **error_r);

/* Crash points for the unit tests: when queue_crash_hook is set, each
 * named step of a multi-step update calls it. The tests _exit there in a
 * child process, or run recovery at the racy points of the lock protocol
 * ("create-opened", "state-tmp-opened": a file created, not yet locked). */
extern void (*queue_crash_hook)(const char *point);

static inline void
queue_crash_point(const char *point)
{
	if (queue_crash_hook != NULL)
		queue_crash_hook(point);
}

#endif
