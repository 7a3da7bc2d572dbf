/* sendmail.h - what the parts of 'postern sendmail' share: the
 * invocation's settings, the message fix-up, and delivery through the
 * submission socket (or directly into the queue). docs/sendmail.md.
 *
 * Exit codes are sysexits.h's: 0 queued, EX_USAGE, EX_DATAERR, EX_NOUSER,
 * EX_TEMPFAIL (the mail system is not running, or a temporary failure),
 * EX_CONFIG, EX_IOERR, EX_SOFTWARE.
 */
#ifndef POSTERN_CLI_SENDMAIL_H
#define POSTERN_CLI_SENDMAIL_H

#include "lib/common.h"

#include "cli/cli.h"
#include "lib/buf.h"
#include "queue/submit.h"

struct config;
struct queue;

struct sendmail {
	struct cli *cli;
	struct config *cfg;
	uid_t uid;	 /* the real uid: the submitting user */
	char login[256]; /* its login name, "" when it has none */
	char *sock;	 /* DATA_DIR/public/submit.sock */
	struct queue *q; /* direct queueing, once opened */

	/* options */
	bool extract;		/* -t */
	bool dots;		/* a line "." ends the input (no -i) */
	const char *sender_opt; /* -f / -r, NULL = LOGIN@HOSTNAME */
	const char *full_name;	/* -F */
	unsigned notify;	/* -N: QUEUE_NOTIFY_*, 0 = none */
	enum queue_ret ret;	/* -R */
	const char *envid;	/* -V */
};

/* Fix the message up in place (CRLF content): add Date:, Message-ID: and
 * From: (from, and the -F name) when missing; with extract, append the
 * recipients of To/Cc/Bcc (Resent-To/Cc/Bcc when any Resent- field is
 * present) to req; Bcc and Resent-Bcc are always removed. Returns 0, or
 * EX_DATAERR with a message in why. */
int sendmail_fixup(struct sendmail *sm, struct buf *msg, const char *from, bool extract,
		   struct submit_request *req, struct buf *why);

/* Append the addresses of an RFC 5322 address list (or a command-line
 * argument, commas allowed) to req; a bare local part gets
 * "@server.hostname". Duplicates are dropped. Returns 0, or EX_DATAERR with
 * a message in why. */
int sendmail_add_rcpts(struct sendmail *sm, const char *list, size_t len,
		       struct submit_request *req, struct buf *why);

/* Queue the message: through the socket, else directly when this process
 * can write the queue (root, or the data directory's owner). Returns 0
 * with the id in id_r, or a sysexits code with a message in why. */
int sendmail_deliver(struct sendmail *sm, const struct submit_request *req, const char *content,
		     size_t len, char id_r[QUEUE_ID_SIZE], struct buf *why);

/* The address for an added From: field: the sender, or LOGIN@HOSTNAME
 * for the null sender (caller frees). */
char *sendmail_from(const struct sendmail *sm, const char *sender);

/* Set why to a formatted message (cut at 512 bytes). */
void sendmail_why(struct buf *why, const char *fmt, ...) ATTR_PRINTF(2, 3);

/* -bs: an SMTP session on standard input and output. Returns the exit
 * code. */
int sendmail_smtp(struct sendmail *sm);

#endif
