/* imapd_private.h - what the files of the IMAP server share.
 *
 * imapd.c       session: input, parser events, replies, states, dispatch,
 *               STARTTLS, IDLE, time-outs, output flow control
 * imapd_auth.c  CAPABILITY, ID, ENABLE, LOGIN, AUTHENTICATE
 * imapd_mbox.c  mailbox names, LIST/LSUB, NAMESPACE, STATUS, CREATE,
 *               DELETE, RENAME, (UN)SUBSCRIBE
 * imapd_view.c  the selected mailbox as the session sees it: sequence
 *               numbers, flags told, changes of other sessions
 * imapd_select.c SELECT, EXAMINE, CLOSE, UNSELECT, EXPUNGE, CHECK
 * imapd_fetch.c FETCH, PARTIAL, message loading
 * imapd_store.c STORE, COPY, MOVE, SEARCH, APPEND
 */
#ifndef POSTERN_IMAPD_PRIVATE_H
#define POSTERN_IMAPD_PRIVATE_H

#include "lib/common.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <sys/types.h>
#include <time.h>

#include "imap/imap_parser.h"
#include "imap/imap_seqset.h"
#include "lib/buf.h"
#include "lib/linereader.h"
#include "server/conn.h"
#include "store/store.h"

/* Largest message APPEND takes, and all literals of one APPEND command. */
#define IMAPD_APPEND_MAX (64ULL * 1024 * 1024)
#define IMAPD_APPEND_TOTAL_MAX (256ULL * 1024 * 1024)
/* Literals of other commands (search strings, names, passwords). */
#define IMAPD_LITERAL_MAX (64 * 1024)
/* Bad commands in a row before the session is closed. */
#define IMAPD_MAX_ERRORS 20
/* A session in IDLE may stay silent this long (RFC 2177: clients
 * re-issue IDLE at least every 29 minutes). */
#define IMAPD_IDLE_TIMEOUT (2 * 60 * 60)
/* Output queued before a FETCH or LIST stops producing until the client
 * reads. */
#define IMAPD_OUTPUT_HIGH (4 * 1024 * 1024)

enum imapd_state {
	IMAPD_NOT_AUTH,
	IMAPD_AUTH,
	IMAPD_SELECTED,
	IMAPD_LOGOUT,
};

/* What the session waits for before it reads the next command. */
enum imapd_wait {
	IMAPD_WAIT_NONE,
	IMAPD_WAIT_AUTH,   /* the password check */
	IMAPD_WAIT_SASL,   /* a line: the client's SASL response */
	IMAPD_WAIT_IDLE,   /* a line: DONE */
	IMAPD_WAIT_OUTPUT, /* a FETCH or LIST goes on once output drains */
	IMAPD_WAIT_APPEND, /* APPEND's job on the delivery pool */
};

/* A run of messages with consecutive UIDs: uid..uid+n-1 are numbered
 * seq..seq+n-1. Mailboxes are mostly such runs, so a session holds a few
 * bytes for thousands of messages. */
struct imapd_range {
	uint32_t uid;
	uint32_t n;
	uint32_t seq;
};

struct imapd_view {
	struct store_mailbox *box;
	char *name; /* store (UTF-8) name */
	bool readonly;
	uint32_t uidvalidity;
	uint32_t uidnext;	 /* messages below it are in the view (or expunged) */
	uint64_t modseq;	 /* flag changes up to here are told */
	uint64_t expunge_modseq; /* expunges up to here are told */
	struct imapd_range *ranges;
	size_t nranges, alloc;
	size_t count;	       /* messages in the view */
	uint32_t first_unseen; /* at SELECT: its sequence number, 0: none */
	char *keywords;	       /* space-separated keywords told in FLAGS */
	uint32_t nkeywords;    /* how many */
	uint32_t *saved;       /* SEARCHRES "$": ascending UIDs */
	size_t nsaved;
};

struct imapd_fetch_job;
struct imapd_list_job;
struct imapd_append;

struct imapd {
	struct conn *conn;
	enum imapd_state state;
	enum imapd_wait wait;
	struct imap_parser *parser;
	struct line_reader raw; /* SASL responses, DONE */
	unsigned errors;
	uint64_t literal_total; /* literals accepted in the current command */

	char *address; /* canonical, after login */
	struct store_user *su;
	uint64_t quota;
	struct imapd_view *view;

	bool utf8; /* ENABLE UTF8=ACCEPT */
	bool rev2; /* ENABLE IMAP4rev2 */
	bool condstore;
	bool qresync;

	/* A command running across events: its tag and name. */
	char *tag;
	char cmd_name[32];
	struct sasl_exchange *sasl;
	struct auth_request *auth_req;
	struct event *idle_timer;
	uint64_t idle_changes;
	struct imapd_idle_probe {
		ino_t ino;
		off_t size;
		struct timespec mtime;
	} idle_probe; /* the index's -wal file as last seen */
	struct imapd_fetch_job *job;
	struct imapd_list_job *list;
	struct imapd_append *append;
};

/* --- imapd.c ------------------------------------------------------------- */

struct evbuffer *imapd_out(struct imapd *s);
/* More than IMAPD_OUTPUT_HIGH waits to be sent. */
bool imapd_output_high(struct imapd *s);
void imapd_untagged(struct imapd *s, const char *fmt, ...) ATTR_PRINTF(2, 3);
/* "tag OK/NO/BAD text": the command is done. */
void imapd_tagged(struct imapd *s, const char *tag, const char *status, const char *fmt, ...)
    ATTR_PRINTF(4, 5);
/* Tagged BAD; counts towards IMAPD_MAX_ERRORS. */
void imapd_bad(struct imapd *s, const char *tag, const char *fmt, ...) ATTR_PRINTF(3, 4);
void imapd_set_state(struct imapd *s, enum imapd_state state);
/* Plaintext passwords allowed on this connection? */
bool imapd_plaintext_allowed(const struct imapd *s);
/* A command that ran across events is done: read the next ones. */
void imapd_resume(struct imapd *s);
/* Append an IMAP string (quoted or literal) / astring mailbox name. */
void imapd_put_string(struct imapd *s, struct evbuffer *out, const char *str, size_t len);
/* Log and answer a store failure. */
void imapd_store_failed(struct imapd *s, const char *tag, const char *what, const char *error);

/* --- imapd_users.c ------------------------------------------------------- */

/* The worker's shared store handle of a user (opened, and created, on
 * first use); release it with the session. */
int imapd_user_acquire(struct store *store, const char *address, struct store_user **su_r,
		       const char **error_r);
void imapd_user_release(struct store_user **su);
/* The same for a mailbox of a shared user handle (opened, or synchronised
 * again as an open would, for each session that selects it). */
int imapd_box_acquire(struct store_user *su, const char *name, bool readonly,
		      struct store_mailbox **box_r, const char **error_r);
void imapd_box_release(struct store_mailbox **box);

/* --- imapd_auth.c ---------------------------------------------------------- */

void imapd_capability_list(struct imapd *s, struct buf *out);
void imapd_cmd_capability(struct imapd *s, const struct imap_command *cmd);
void imapd_cmd_id(struct imapd *s, const struct imap_command *cmd);
void imapd_cmd_enable(struct imapd *s, const struct imap_command *cmd);
void imapd_cmd_login(struct imapd *s, const struct imap_command *cmd);
void imapd_cmd_authenticate(struct imapd *s, const struct imap_command *cmd);
void imapd_sasl_response(struct imapd *s, const char *line);

/* --- imapd_mbox.c ---------------------------------------------------------- */

/* The store name of a mailbox argument (mUTF-7 unless UTF-8 is enabled),
 * into name. -1: answered NO/BAD already. */
int imapd_mailbox_arg(struct imapd *s, const char *tag, const struct imap_arg *arg,
		      struct buf *name);
/* Write a store name as the client expects it. */
void imapd_put_mailbox(struct imapd *s, struct evbuffer *out, const char *name);
void imapd_cmd_list(struct imapd *s, const struct imap_command *cmd);
void imapd_cmd_lsub(struct imapd *s, const struct imap_command *cmd);
/* Go on with a LIST or LSUB paused for output. */
void imapd_list_continue(struct imapd *s);
/* The session ends or stops: a paused LIST stays unanswered (its lines
 * sent so far are whole). */
void imapd_list_free(struct imapd *s);
void imapd_cmd_namespace(struct imapd *s, const struct imap_command *cmd);
void imapd_cmd_status(struct imapd *s, const struct imap_command *cmd);
void imapd_cmd_create(struct imapd *s, const struct imap_command *cmd);
void imapd_cmd_delete(struct imapd *s, const struct imap_command *cmd);
void imapd_cmd_rename(struct imapd *s, const struct imap_command *cmd);
void imapd_cmd_subscribe(struct imapd *s, const struct imap_command *cmd);
void imapd_cmd_unsubscribe(struct imapd *s, const struct imap_command *cmd);

/* --- imapd_view.c ---------------------------------------------------------- */

int imapd_view_open(struct imapd *s, const char *name, bool readonly, const char **error_r);
void imapd_view_close(struct imapd *s);
/* Tell the client what changed (EXISTS, EXPUNGE/VANISHED, FETCH FLAGS).
 * allow_expunge false during FETCH, STORE and SEARCH (RFC 9051 7.5.1).
 * -1 when the mailbox cannot be read; when it was deleted, or deleted and
 * made again, by someone else, BYE is sent and the session closes. */
int imapd_view_sync(struct imapd *s, bool allow_expunge);
/* Sequence number (1-based) of uid, 0 when not in the view. */
uint32_t imapd_view_seq(const struct imapd_view *v, uint32_t uid);
/* Remove expunged uids from the view, telling the client. */
void imapd_view_expunged(struct imapd *s, const uint32_t *uids, size_t n);
/* Resolve a sequence-set argument into ascending UIDs present in the view.
 * uid: the set holds UIDs. -1: answered BAD. */
int imapd_view_set(struct imapd *s, const char *tag, const struct imap_arg *arg, bool uid,
		   uint32_t **uids_r, size_t *n_r);
/* "* <prefix><set>" for ascending values (nothing when n is 0). */
void imapd_untagged_set(struct imapd *s, const char *prefix, const uint32_t *uids, size_t n);
/* "* VANISHED (EARLIER) uids" for the UIDs expunged with a MODSEQ above
 * since, limited to the UID set within (an atom; NULL: all). */
int imapd_view_vanished_since(struct imapd *s, uint64_t since, const struct imap_arg *within,
			      const char **error_r);
/* Highest UID in the view, 0 when empty. */
uint32_t imapd_view_max_uid(const struct imapd_view *v);
/* Flags list "(\Seen kw)" for a message. */
void imapd_put_flags(struct evbuffer *out, unsigned flags, const char *keywords);
/* When the mailbox has used keywords the view has not told (a number
 * other than the view's), read them and send "* FLAGS" again. */
int imapd_view_keywords(struct imapd *s, const char **error_r);
/* "* FLAGS" and "* OK [PERMANENTFLAGS]" of the selected mailbox. */
void imapd_view_send_flags(struct imapd *s);
/* The mailbox's HIGHESTMODSEQ now (status refreshed from the index). */
uint64_t imapd_view_highestmodseq(struct imapd *s);
/* After this session changed flags and told them in its replies: when
 * nobody else changed the mailbox meanwhile (HIGHESTMODSEQ went from
 * before to before + 1, the one MODSEQ a flag update takes), the change
 * counts as told and the next sync does not repeat it. */
void imapd_view_own_change(struct imapd *s, uint64_t before);

/* --- imapd_select.c ---------------------------------------------------- */

void imapd_cmd_select(struct imapd *s, const struct imap_command *cmd);
void imapd_cmd_examine(struct imapd *s, const struct imap_command *cmd);
void imapd_cmd_close(struct imapd *s, const struct imap_command *cmd);
void imapd_cmd_unselect(struct imapd *s, const struct imap_command *cmd);
void imapd_cmd_expunge(struct imapd *s, const struct imap_command *cmd);
void imapd_cmd_uid_expunge(struct imapd *s, const struct imap_command *cmd);
void imapd_cmd_check(struct imapd *s, const struct imap_command *cmd);

/* --- imapd_fetch.c ------------------------------------------------------- */

void imapd_cmd_fetch(struct imapd *s, const struct imap_command *cmd, bool uid);
void imapd_cmd_partial(struct imapd *s, const struct imap_command *cmd);
/* Go on with a FETCH paused for output. */
void imapd_fetch_continue(struct imapd *s);
/* The session ends (BYE) while a FETCH is paused, perhaps within a
 * message's response: that response is closed, so that the BYE that
 * follows starts a line. The FETCH stays unanswered. */
void imapd_fetch_interrupt(struct imapd *s);
void imapd_fetch_job_free(struct imapd_fetch_job **job);
/* The message as clients see it (CRLF): -1 when gone. */
int imapd_load_message(struct imapd *s, uint32_t uid, bool header_only, struct buf *out,
		       const char **error_r);

/* --- imapd_store.c ------------------------------------------------------- */

void imapd_cmd_store(struct imapd *s, const struct imap_command *cmd, bool uid);
void imapd_cmd_copy(struct imapd *s, const struct imap_command *cmd, bool uid, bool move);
void imapd_cmd_search(struct imapd *s, const struct imap_command *cmd, bool uid);
void imapd_cmd_append(struct imapd *s, const struct imap_command *cmd);
/* The session goes away: its APPEND job is cancelled (or, running,
 * finishes unanswered). */
void imapd_append_cancel(struct imapd *s);
/* Parse a flag list argument into system flags and keywords. -1: BAD sent. */
int imapd_flags_arg(struct imapd *s, const char *tag, const struct imap_arg *arg, unsigned *flags_r,
		    struct buf *keywords);

#endif
