/* dsn.h - delivery status notifications (RFC 3464, RFC 3461, RFC 6533):
 * the message the queue runner sends back to a sender when delivery failed,
 * is delayed, or succeeded and NOTIFY=SUCCESS asked to be told. Pure: the
 * message is built in memory, the caller queues it (sender <>, so that a
 * DSN is never answered by another DSN).
 *
 * The message (CRLF line ends, no line longer than 998 octets):
 *
 *   From: Mail Delivery System <MAILER-DAEMON@reporting_mta>
 *   To: <sender>
 *   Subject: Undelivered Mail Returned to Sender      (failed)
 *            Delayed Mail (still being retried)        (delayed only)
 *            Successful Mail Delivery Report           (delivered/relayed only)
 *            (a mix of actions: the subject of the first in that order)
 *   Date, Message-ID (<dsn-ID.time.random@reporting_mta>), Auto-Submitted:
 *   auto-replied (RFC 3834), MIME-Version: 1.0,
 *   Content-Type: multipart/report; report-type=delivery-status; boundary=...
 *
 *   1. text/plain; charset=us-ascii (utf-8 when an address is not ASCII):
 *      a human-readable explanation naming each recipient and the reason.
 *   2. message/delivery-status (message/global-delivery-status when an
 *      address is not ASCII, RFC 6533): per-message fields
 *      (Reporting-MTA: dns; NAME, Original-Envelope-Id when envid,
 *      Received-From-MTA when known, Arrival-Date), then per recipient
 *      (Original-Recipient when orcpt, Final-Recipient: rfc822; ADDR
 *      (utf-8; ADDR when not ASCII), Action, Status, Remote-MTA: dns; HOST
 *      when known, Diagnostic-Code: smtp; REPLY when known, Last-Attempt-Date,
 *      Will-Retry-Until for delayed). Long fields are folded.
 *   3. The original: message/rfc822 with the whole message when ret is
 *      FULL (or NONE for a failure) and it is at most max_original octets;
 *      else text/rfc822-headers with its header only (always for delay and
 *      success reports, RFC 3461 4.3). message/global / text/global-headers
 *      when the original needs SMTPUTF8.
 *
 * Boundaries are chosen so that they do not occur in the original.
 */
#ifndef POSTERN_DSN_H
#define POSTERN_DSN_H

#include "lib/common.h"

#include <time.h>

#include "lib/buf.h"
#include "queue/queue_file.h"

enum dsn_action {
	DSN_FAILED,
	DSN_DELAYED,
	DSN_DELIVERED,
	DSN_RELAYED, /* to a next hop that does not do DSN (RFC 3461 5.2.2) */
};

struct dsn_rcpt {
	const char *addr;	 /* Final-Recipient */
	const char *orcpt;	 /* "addr-type;xtext" as received, or NULL */
	enum dsn_action action;
	const char *status;	 /* enhanced status "5.1.1"; NULL: derived from action */
	const char *remote_mta;	 /* host name that answered, or NULL */
	const char *diagnostic;	 /* the SMTP reply "550 5.1.1 User unknown", or NULL */
	const char *reason;	 /* human text for part 1 when there is no reply
				    ("Host or domain name not found"), or NULL */
	const char *reply_command; /* the command the reply answered ("RCPT TO",
				      "end of DATA"), or NULL when not known */
	time_t last_attempt;	 /* 0 = none */
	time_t will_retry_until; /* DELAYED only; 0 = none */
};

struct dsn_msg {
	const char *reporting_mta; /* our host name */
	const char *sender;	   /* the original envelope sender: the DSN's To */
	const char *envid;	   /* ENVID xtext as received, or NULL */
	const char *received_from; /* the client's name or address, or NULL */
	time_t arrival;
	time_t now;		   /* Date */
	const char *queue_id;	   /* the original's queue id (Message-ID, text) */
	enum queue_ret ret;
	bool smtputf8; /* the original needs SMTPUTF8 (or an address is not ASCII) */
	const char *original;	   /* the original content, CRLF */
	size_t original_len;
	size_t max_original;	   /* larger originals come back as headers only */
	const struct dsn_rcpt *rcpts;
	size_t nrcpts; /* at least 1 */
};

/* Build the DSN into out. *eightbit_r (may be NULL) is set when the result
 * holds 8-bit octets (an 8-bit original or UTF-8 text), so that the caller
 * queues it with BODY=8BITMIME (and SMTPUTF8 when msg->smtputf8). Returns
 * -1 with *error_r when out's cap is reached or an argument is invalid. */
int dsn_build(const struct dsn_msg *msg, struct buf *out, bool *eightbit_r, const char **error_r);

/* The xtext decoding of RFC 3461 4 ("+2B" -> '+') into out, for ENVID and
 * ORCPT values; -1 on a malformed or control-character escape. */
int dsn_xtext_decode(const char *in, size_t len, struct buf *out);

#endif
