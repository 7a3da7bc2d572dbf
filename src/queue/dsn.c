/* dsn.c - delivery status notifications (see dsn.h).
 *
 * The three parts are built first, each into its own buffer, so that the
 * boundary can be checked against everything it will enclose; the message
 * is then assembled into the caller's buffer. Every text that comes from
 * outside (addresses, replies, host names) goes through add_text(), which
 * turns control characters into spaces, so nothing can end a header line
 * early or smuggle a bare CR or LF.
 */
#include "lib/common.h"

#include <time.h>

#include "lib/buf.h"
#include "lib/xalloc.h"
#include "lib/xtext.h"
#include "mime/header.h"
#include "queue/dsn.h"
#include "smtp/smtp_path.h"

#define DSN_LINE_MAX 998    /* RFC 5322 2.1.1, without the CRLF */
#define DSN_FOLD_WIDTH 78   /* header fields are folded to this when they can be */
#define DSN_TEXT_WIDTH 76   /* lines of the human-readable part */
#define DSN_WORD_CHUNK 900  /* a longer word is cut into pieces of this size */
#define DSN_MTA_MAX 255	    /* a domain name */
#define DSN_QUEUE_ID_MAX 64 /* what Message-ID and boundary take of the queue id */
#define DSN_BOUNDARY_TRIES 8

/* The order of the sections of the human part and of the subject choice. */
static const enum dsn_action section_order[] = {DSN_FAILED, DSN_DELAYED, DSN_DELIVERED,
						DSN_RELAYED};

struct report {
	const struct dsn_msg *m;
	bool global;		/* message/global-* types, utf-8 text */
	bool any_failed;
	bool has[N_ELEMENTS(section_order)];
	bool eightbit;		/* the result holds an octet above 127 */
	struct buf human, status, original;
};

/* ---- small text helpers ---- */

static bool
is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

static bool
has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static bool
has_8bit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

/* Append s, each control character turned into a space. */
static int
add_text(struct buf *b, const char *s, size_t n)
{
	size_t start = b->len;

	if (buf_add(b, s, n) < 0)
		return -1;
	for (size_t i = start; i < b->len; i++)
		if ((unsigned char)b->data[i] < 0x20 || b->data[i] == 0x7f)
			b->data[i] = ' ';
	return 0;
}

/* Where to cut a word of n octets longer than DSN_WORD_CHUNK: not inside a
 * UTF-8 sequence. */
static size_t
chunk_len(const char *w, size_t n)
{
	size_t k = MIN(n, (size_t)DSN_WORD_CHUNK);

	while (k < n && k > DSN_WORD_CHUNK - 4 && ((unsigned char)w[k] & 0xc0) == 0x80)
		k--;
	return k;
}

/* Append text (already free of control characters) as words separated by
 * single spaces, starting at column col of the current line: a word that
 * would pass width begins a new line with indent. A word too long for any
 * line is cut into pieces, each of which may begin a line, so no line
 * passes DSN_LINE_MAX. space_first: a space before the first word. No
 * final line break. */
static int
add_wrapped(struct buf *b, size_t col, const char *text, size_t n, size_t width,
	    const char *indent, bool space_first)
{
	size_t i = 0, ilen = strlen(indent);
	bool first = true;

	while (i < n) {
		size_t w, start;
		bool sep;

		while (i < n && text[i] == ' ')
			i++;
		start = i;
		while (i < n && text[i] != ' ')
			i++;
		w = i - start;
		sep = w > 0 && (!first || space_first);
		while (w > 0) {
			size_t piece = w > DSN_WORD_CHUNK ? chunk_len(text + start, w) : w;

			if (col + (sep ? 1 : 0) + piece > width && col > ilen) {
				if (buf_add(b, "\r\n", 2) < 0 || buf_add(b, indent, ilen) < 0)
					return -1;
				col = ilen;
				sep = false;
			}
			if (sep && buf_add_char(b, ' ') < 0)
				return -1;
			if (buf_add(b, text + start, piece) < 0)
				return -1;
			col += (sep ? 1 : 0) + piece;
			start += piece;
			w -= piece;
			sep = false;
			first = false;
		}
	}
	return 0;
}

/* "Name: value" with value folded, then CRLF. */
static int
add_field(struct buf *b, const char *name, const char *value)
{
	struct buf v;
	int r;

	buf_init(&v, BUF_UNLIMITED);
	r = add_text(&v, value, strlen(value));
	if (r == 0)
		r = buf_printf(b, "%s:", name);
	if (r == 0)
		r = add_wrapped(b, strlen(name) + 1, buf_cstr(&v), v.len, DSN_FOLD_WIDTH, " ",
				true);
	if (r == 0)
		r = buf_add(b, "\r\n", 2);
	buf_release(&v);
	return r;
}

/* "Name: type; value" folded. */
static int
add_typed_field(struct buf *b, const char *name, const char *type, const char *value)
{
	struct buf v;
	int r;

	buf_init(&v, BUF_UNLIMITED);
	r = buf_printf(&v, "%s; %s", type, value);
	if (r == 0)
		r = add_field(b, name, buf_cstr(&v));
	buf_release(&v);
	return r;
}

/* RFC 5322 3.3 date-time, local time with its offset, English names
 * whatever the locale. */
static int
add_date(struct buf *b, time_t when)
{
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;
	long off;

	if (localtime_r(&when, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6 ||
	    tm.tm_mon < 0 || tm.tm_mon > 11)
		return -1;
	off = tm.tm_gmtoff / 60;
	return buf_printf(b, "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld", days[tm.tm_wday],
			  tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
			  tm.tm_sec, off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
}

static int
add_date_field(struct buf *b, const char *name, time_t when)
{
	if (buf_printf(b, "%s: ", name) < 0 || add_date(b, when) < 0)
		return -1;
	return buf_add(b, "\r\n", 2);
}

/* ---- xtext ---- */

int
dsn_xtext_decode(const char *in, size_t len, struct buf *out)
{
	char *tmp = xmalloc(len + 1);
	ssize_t n = xtext_decode(in, len, tmp, len, XTEXT_UPPER | XTEXT_PRINTABLE);
	int ret = n < 0 || buf_add(out, tmp, (size_t)n) < 0 ? -1 : 0;

	free(tmp);
	return ret;
}

/* The value of Original-Envelope-Id or the address of Original-Recipient:
 * RFC 3464 2.2.1 and 2.3.1 give them as text, so the xtext of the SMTP
 * parameter is decoded (as the DSN's reader never saw the SMTP encoding).
 * A decoded value that is not printable is given as received instead (it
 * is printable ASCII): in a message/global-delivery-status part UTF-8 is
 * kept (RFC 6533 utf-8-addr-unitext), elsewhere the non-ASCII characters
 * of a utf-8 address are written \x{HEX} (utf-8-addr-xtext). */
static int
add_decoded(struct buf *b, const char *xtext, size_t len, bool global, bool utf8_type)
{
	struct buf d;
	int r = 0;

	buf_init(&d, 4 * len + 1);
	if (dsn_xtext_decode(xtext, len, &d) < 0 || !smtp_utf8_valid(buf_cstr(&d), d.len) ||
	    (has_8bit(buf_cstr(&d), d.len) && !global && !utf8_type)) {
		r = buf_add(b, xtext, len);
	} else if (global || !has_8bit(buf_cstr(&d), d.len)) {
		r = buf_add(b, d.data, d.len);
	} else {
		const unsigned char *p = (const unsigned char *)buf_cstr(&d);

		for (size_t i = 0; i < d.len && r == 0;) {
			size_t k = smtp_utf8_seq((const char *)p + i, d.len - i);
			uint32_t cp = p[i];

			if (k == 1) {
				r = buf_add_char(b, (char)p[i]);
				i++;
				continue;
			}
			cp &= k == 2 ? 0x1f : k == 3 ? 0x0f : 0x07;
			for (size_t j = 1; j < k; j++)
				cp = cp << 6 | (p[i + j] & 0x3f);
			r = buf_printf(b, "\\x{%X}", (unsigned)cp);
			i += k;
		}
	}
	buf_release(&d);
	return r;
}

/* ---- part 1: the human-readable explanation ---- */

static const char *
action_name(enum dsn_action a)
{
	switch (a) {
	case DSN_FAILED:
		return "failed";
	case DSN_DELAYED:
		return "delayed";
	case DSN_DELIVERED:
		return "delivered";
	case DSN_RELAYED:
		return "relayed";
	}
	return "failed";
}

static const char *
section_intro(enum dsn_action a)
{
	switch (a) {
	case DSN_FAILED:
		return "Your message could not be delivered to one or more recipients. "
		       "The reasons are given below.";
	case DSN_DELAYED:
		return "Your message has not been delivered yet to the recipients below. "
		       "It is still in the queue and delivery will be tried again: you do "
		       "not need to send it again.";
	case DSN_DELIVERED:
		return "Your message was delivered to the recipients below.";
	case DSN_RELAYED:
		return "Your message was passed on to the next mail system for the "
		       "recipients below. That system does not report delivery status, so "
		       "this is the last notice you will receive about them.";
	}
	return "";
}

/* One paragraph of text wrapped at DSN_TEXT_WIDTH, then a blank line. */
static int
add_paragraph(struct buf *b, const char *text, const char *indent)
{
	if (add_wrapped(b, 0, text, strlen(text), DSN_TEXT_WIDTH, indent, false) < 0)
		return -1;
	return buf_add(b, "\r\n\r\n", 4);
}

/* "<addr>: host mx said: 550 5.1.1 User unknown (in reply to RCPT TO
 * command)", or "<addr>: reason", wrapped with a four-space indent. */
static int
add_rcpt_line(struct buf *b, const struct dsn_rcpt *rc)
{
	struct buf line, clean;
	int r;

	buf_init(&line, BUF_UNLIMITED);
	buf_init(&clean, BUF_UNLIMITED);
	r = buf_printf(&line, "<%s>:", rc->addr);
	if (r == 0 && rc->diagnostic != NULL) {
		if (rc->remote_mta != NULL)
			r = buf_printf(&line, " host %s said:", rc->remote_mta);
		if (r == 0)
			r = buf_printf(&line, " %s", rc->diagnostic);
		if (r == 0 && rc->reply_command != NULL)
			r = buf_printf(&line, " (in reply to %s command)", rc->reply_command);
	} else if (r == 0 && rc->reason != NULL) {
		r = buf_printf(&line, " %s", rc->reason);
		if (r == 0 && rc->remote_mta != NULL)
			r = buf_printf(&line, " (host %s)", rc->remote_mta);
	} else if (r == 0) {
		r = buf_printf(&line, " %s", action_name(rc->action));
	}
	if (r == 0)
		r = add_text(&clean, buf_cstr(&line), line.len);
	if (r == 0)
		r = add_wrapped(b, 0, buf_cstr(&clean), clean.len, DSN_TEXT_WIDTH, "    ", false);
	if (r == 0)
		r = buf_add(b, "\r\n\r\n", 4);
	buf_release(&line);
	buf_release(&clean);
	return r;
}

static int
build_human(struct report *rp)
{
	const struct dsn_msg *m = rp->m;
	struct buf *b = &rp->human;

	if (buf_printf(b, "Content-Description: Notification\r\n"
			  "Content-Type: text/plain; charset=%s\r\n",
		       rp->global ? "utf-8" : "us-ascii") < 0)
		return -1;
	if (rp->global && buf_add_str(b, "Content-Transfer-Encoding: 8bit\r\n") < 0)
		return -1;
	if (buf_add(b, "\r\n", 2) < 0 || buf_add_str(b, "This is the mail system at host ") < 0 ||
	    add_text(b, m->reporting_mta, strlen(m->reporting_mta)) < 0 ||
	    buf_add_str(b, ".\r\n\r\n") < 0)
		return -1;
	for (size_t s = 0; s < N_ELEMENTS(section_order); s++) {
		enum dsn_action a = section_order[s];
		time_t until = 0;

		if (!rp->has[s])
			continue;
		if (add_paragraph(b, section_intro(a), "") < 0)
			return -1;
		for (size_t i = 0; i < m->nrcpts; i++) {
			const struct dsn_rcpt *rc = &m->rcpts[i];

			if (rc->action != a)
				continue;
			if (add_rcpt_line(b, rc) < 0)
				return -1;
			if (a == DSN_DELAYED && rc->will_retry_until > until)
				until = rc->will_retry_until;
		}
		if (until != 0) {
			if (buf_add_str(b, "The mail system will give up on this message at ") < 0 ||
			    add_date(b, until) < 0 || buf_add_str(b, ".\r\n\r\n") < 0)
				return -1;
		}
	}
	if (rp->any_failed &&
	    add_paragraph(b,
			  "For further help, write to the postmaster of this mail system and "
			  "include this report.",
			  "") < 0)
		return -1;
	return buf_add_str(b, "                   The mail system\r\n");
}

/* ---- part 2: the machine-readable report (RFC 3464 2.2, 2.3) ---- */

/* "d.ddd.ddd" (RFC 3463 4) with class 2, 4 or 5. */
static bool
status_valid(const char *s, size_t n)
{
	size_t i = 1, k;

	if (n < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return false;
	for (int part = 0; part < 2; part++) {
		i++;
		for (k = 0; i < n && ascii_is_digit((unsigned char)s[i]) && k < 3; i++, k++)
			;
		if (k == 0 || (part == 0 && (i >= n || s[i] != '.')))
			return false;
	}
	return i == n;
}

/* The Status value: the one given, else the enhanced code of the reply
 * when its class fits the action, else the action's generic code. */
static int
add_status(struct buf *b, const struct dsn_rcpt *rc)
{
	char cls = rc->action == DSN_FAILED ? '5' : rc->action == DSN_DELAYED ? '4' : '2';
	const char *d = rc->diagnostic;

	if (rc->status != NULL && status_valid(rc->status, strlen(rc->status)))
		return buf_add_str(b, rc->status);
	if (d != NULL && strlen(d) > 4 && ascii_is_digit((unsigned char)d[0]) && d[3] == ' ' &&
	    d[4] == cls) {
		size_t n = strcspn(d + 4, " ");

		if (status_valid(d + 4, n))
			return buf_add(b, d + 4, n);
	}
	return buf_printf(b, "%c.0.0", cls);
}

/* A remote given as "name[address]" is named by its name alone. */
static int
add_mta_name(struct buf *b, const char *remote)
{
	const char *br = strchr(remote, '[');

	return add_text(b, remote, br != NULL && br != remote ? (size_t)(br - remote) : strlen(remote));
}

static int
add_rcpt_fields(struct report *rp, const struct dsn_rcpt *rc)
{
	struct buf *b = &rp->status;
	struct buf v;
	int r = 0;

	buf_init(&v, BUF_UNLIMITED);
	if (rc->orcpt != NULL) {
		const char *semi = strchr(rc->orcpt, ';');

		if (semi != NULL && semi != rc->orcpt) {
			bool utf8_type = ascii_ci_equal(rc->orcpt, (size_t)(semi - rc->orcpt), "utf-8");

			r = buf_printf(&v, "%.*s; ", (int)(semi - rc->orcpt), rc->orcpt);
			if (r == 0)
				r = add_decoded(&v, semi + 1, strlen(semi + 1), rp->global, utf8_type);
			if (r == 0)
				r = add_field(b, "Original-Recipient", buf_cstr(&v));
		}
	}
	if (r == 0)
		r = add_typed_field(b, "Final-Recipient",
				    is_ascii(rc->addr) ? "rfc822" : "utf-8", rc->addr);
	if (r == 0)
		r = buf_printf(b, "Action: %s\r\nStatus: ", action_name(rc->action));
	if (r == 0)
		r = add_status(b, rc);
	if (r == 0)
		r = buf_add(b, "\r\n", 2);
	if (r == 0 && rc->remote_mta != NULL) {
		buf_reset(&v);
		r = add_mta_name(&v, rc->remote_mta);
		if (r == 0)
			r = add_typed_field(b, "Remote-MTA", "dns", buf_cstr(&v));
	}
	if (r == 0 && rc->diagnostic != NULL)
		r = add_typed_field(b, "Diagnostic-Code", "smtp", rc->diagnostic);
	else if (r == 0 && rc->reason != NULL)
		r = add_typed_field(b, "Diagnostic-Code", "X-Postern", rc->reason);
	if (r == 0 && rc->last_attempt != 0)
		r = add_date_field(b, "Last-Attempt-Date", rc->last_attempt);
	if (r == 0 && rc->action == DSN_DELAYED && rc->will_retry_until != 0)
		r = add_date_field(b, "Will-Retry-Until", rc->will_retry_until);
	buf_release(&v);
	return r;
}

static int
build_status(struct report *rp)
{
	const struct dsn_msg *m = rp->m;
	struct buf *b = &rp->status;
	struct buf v;
	int r;

	r = buf_printf(b, "Content-Description: Delivery report\r\n"
			  "Content-Type: message/%sdelivery-status\r\n",
		       rp->global ? "global-" : "");
	if (r == 0 && rp->global)
		r = buf_add_str(b, "Content-Transfer-Encoding: 8bit\r\n");
	if (r == 0)
		r = buf_add(b, "\r\n", 2);
	if (r == 0)
		r = add_typed_field(b, "Reporting-MTA", "dns", m->reporting_mta);
	if (r == 0 && m->queue_id != NULL)
		r = add_field(b, "X-Postern-Queue-ID", m->queue_id);
	if (r == 0 && m->envid != NULL) {
		buf_init(&v, BUF_UNLIMITED);
		r = add_decoded(&v, m->envid, strlen(m->envid), false, false);
		if (r == 0)
			r = add_field(b, "Original-Envelope-Id", buf_cstr(&v));
		buf_release(&v);
	}
	if (r == 0 && m->received_from != NULL)
		r = add_typed_field(b, "Received-From-MTA", "dns", m->received_from);
	if (r == 0 && m->arrival != 0)
		r = add_date_field(b, "Arrival-Date", m->arrival);
	for (size_t i = 0; i < m->nrcpts && r == 0; i++) {
		r = buf_add(b, "\r\n", 2);
		if (r == 0)
			r = add_rcpt_fields(rp, &m->rcpts[i]);
	}
	return r;
}

/* ---- part 3: the original message or its header ---- */

/* Copy src[n] with every line ending in CRLF (a bare CR or LF becomes one).
 * Lines longer than DSN_LINE_MAX are cut with CRLF and a space (a fold in
 * a header); *long_r tells whether any was. */
static int
add_lines(struct buf *b, const char *src, size_t n, bool *long_r)
{
	size_t col = 0;

	for (size_t i = 0; i < n; i++) {
		char c = src[i];

		if (c == '\r' || c == '\n') {
			if (c == '\r' && i + 1 < n && src[i + 1] == '\n')
				i++;
			if (buf_add(b, "\r\n", 2) < 0)
				return -1;
			col = 0;
			continue;
		}
		if (col >= DSN_LINE_MAX - 1) {
			if (buf_add(b, "\r\n ", 3) < 0)
				return -1;
			col = 1;
			*long_r = true;
		}
		if (buf_add_char(b, c == '\0' ? ' ' : c) < 0)
			return -1;
		col++;
	}
	return 0;
}

/* May the original travel whole: no NUL, no bare CR or LF, no long line. */
static bool
original_is_sendable(const char *s, size_t n)
{
	size_t col = 0;

	if (memchr(s, '\0', n) != NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r') {
			if (i + 1 >= n || s[i + 1] != '\n')
				return false;
			col = 0;
			i++;
		} else if (s[i] == '\n') {
			return false;
		} else if (++col > DSN_LINE_MAX) {
			return false;
		}
	}
	return true;
}

static int
build_original(struct report *rp)
{
	const struct dsn_msg *m = rp->m;
	struct buf *b = &rp->original;
	bool full = rp->any_failed && m->ret != QUEUE_RET_HDRS &&
		    m->original_len <= m->max_original &&
		    original_is_sendable(m->original, m->original_len);
	size_t n = m->original_len, body_start;
	bool eight, cut = false;
	const char *type;
	int r;

	if (!full) {
		struct mime_header h;

		(void)mime_header_parse(m->original, m->original_len, NULL, &h);
		n = h.size;
		mime_header_clear(&h);
	}
	eight = has_8bit(m->original, n);
	if (full)
		type = m->smtputf8 ? "message/global" : "message/rfc822";
	else
		type = m->smtputf8 ? "text/global-headers" : "text/rfc822-headers";
	r = buf_printf(b, "Content-Description: %s\r\nContent-Type: %s\r\n",
		       full ? "Undelivered Message" : "Message Headers", type);
	if (r == 0 && eight)
		r = buf_add_str(b, "Content-Transfer-Encoding: 8bit\r\n");
	if (r == 0)
		r = buf_add(b, "\r\n", 2);
	body_start = b->len;
	if (r == 0)
		r = add_lines(b, m->original, n, &cut);
	/* The part ends with its own line break before the delimiter. */
	if (r == 0 && b->len > body_start &&
	    (b->len - body_start < 2 || b->data[b->len - 1] != '\n'))
		r = buf_add(b, "\r\n", 2);
	rp->eightbit |= eight;
	return r;
}

/* ---- assembly ---- */

/* Replies and reasons come from other systems and may hold any octet: in
 * a 7-bit report every octet above 127 becomes '?', in a global one only
 * those that are not part of well-formed UTF-8. */
static void
clean_8bit(struct buf *b, bool keep_utf8)
{
	unsigned char *p = (unsigned char *)b->data;

	for (size_t i = 0; i < b->len;) {
		size_t k = keep_utf8 ? smtp_utf8_seq((const char *)p + i, b->len - i) : p[i] < 0x80;

		if (k == 0) {
			p[i++] = '?';
			continue;
		}
		i += k;
	}
}

static const char *
subject(const struct report *rp)
{
	if (rp->has[0])
		return "Undelivered Mail Returned to Sender";
	if (rp->has[1])
		return "Delayed Mail (still being retried)";
	return "Successful Mail Delivery Report";
}

static bool
occurs_in(const struct report *rp, const char *s)
{
	size_t n = strlen(s);
	const struct buf *parts[] = {&rp->human, &rp->status, &rp->original};

	for (size_t i = 0; i < N_ELEMENTS(parts); i++)
		if (memmem(buf_cstr(parts[i]), parts[i]->len, s, n) != NULL)
			return true;
	return false;
}

/* The first choice depends on the queue id and the time only (tests can
 * predict it); the next ones add 64 random bits. */
static int
choose_boundary(const struct report *rp, char *out, size_t size)
{
	const struct dsn_msg *m = rp->m;

	for (unsigned try = 0; try < DSN_BOUNDARY_TRIES; try++) {
		int r;

		if (try == 0)
			r = snprintf(out, size, "%.*s.%lld/dsn", DSN_QUEUE_ID_MAX, m->queue_id,
				     (long long)m->now);
		else
			r = snprintf(out, size, "%.*s.%lld.%08x%08x/dsn", DSN_QUEUE_ID_MAX,
				     m->queue_id, (long long)m->now, arc4random(), arc4random());
		if (r < 0 || (size_t)r >= size)
			return -1;
		if (!occurs_in(rp, out))
			return 0;
	}
	return -1;
}

static int
add_top_header(struct report *rp, struct buf *out, const char *boundary)
{
	const struct dsn_msg *m = rp->m;
	int r;

	r = buf_printf(out,
		       "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n"
		       "To: <%s>\r\nSubject: %s\r\nDate: ",
		       m->reporting_mta, m->sender, subject(rp));
	if (r == 0)
		r = add_date(out, m->now);
	if (r == 0)
		r = buf_printf(out,
			       "\r\nMessage-ID: <dsn-%.*s.%lld.%08x@%s>\r\n"
			       "Auto-Submitted: auto-replied\r\n"
			       "MIME-Version: 1.0\r\n"
			       "Content-Type: multipart/report; report-type=%sdelivery-status;\r\n"
			       "\tboundary=\"%s\"\r\n",
			       DSN_QUEUE_ID_MAX, m->queue_id, (long long)m->now, arc4random(),
			       m->reporting_mta, rp->global ? "global-" : "", boundary);
	if (r == 0 && rp->eightbit)
		r = buf_add_str(out, "Content-Transfer-Encoding: 8bit\r\n");
	if (r == 0)
		r = buf_add_str(out, "\r\nThis is a MIME-encapsulated message.\r\n");
	return r;
}

static int
assemble(struct report *rp, struct buf *out, const char **error_r)
{
	const struct buf *parts[] = {&rp->human, &rp->status, &rp->original};
	char boundary[128];
	int r;

	if (choose_boundary(rp, boundary, sizeof(boundary)) < 0)
		return (*error_r = "no boundary found that the original does not contain"), -1;
	r = add_top_header(rp, out, boundary);
	for (size_t i = 0; i < N_ELEMENTS(parts) && r == 0; i++) {
		r = buf_printf(out, "\r\n--%s\r\n", boundary);
		if (r == 0)
			r = buf_add(out, buf_cstr(parts[i]), parts[i]->len);
	}
	if (r == 0)
		r = buf_printf(out, "\r\n--%s--\r\n", boundary);
	if (r < 0)
		*error_r = "DSN too large";
	return r;
}

static bool
valid_name(const char *s, size_t max)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '<' ||
		    s[i] == '>' || s[i] == '"' || s[i] == '\\')
			return false;
	return true;
}

static const char *
check_args(const struct dsn_msg *m)
{
	if (!valid_name(m->reporting_mta, DSN_MTA_MAX))
		return "invalid reporting MTA name";
	if (!valid_name(m->queue_id, DSN_QUEUE_ID_MAX))
		return "invalid queue id";
	if (m->sender == NULL || m->sender[0] == '\0')
		return "no DSN to the null reverse-path";
	if (strlen(m->sender) > QUEUE_ADDR_MAX || has_control(m->sender) ||
	    !smtp_utf8_valid(m->sender, strlen(m->sender)))
		return "invalid sender address";
	if (m->rcpts == NULL || m->nrcpts == 0)
		return "no recipients";
	if (m->original == NULL && m->original_len > 0)
		return "no original";
	for (size_t i = 0; i < m->nrcpts; i++) {
		const struct dsn_rcpt *rc = &m->rcpts[i];

		if (rc->addr == NULL || rc->addr[0] == '\0' || strlen(rc->addr) > QUEUE_ADDR_MAX ||
		    has_control(rc->addr) || !smtp_utf8_valid(rc->addr, strlen(rc->addr)))
			return "invalid recipient address";
		if ((unsigned)rc->action > DSN_RELAYED)
			return "invalid action";
		if (rc->orcpt != NULL && !queue_orcpt_valid(rc->orcpt, strlen(rc->orcpt)))
			return "invalid ORCPT";
	}
	if (m->envid != NULL && !queue_envid_valid(m->envid, strlen(m->envid)))
		return "invalid ENVID";
	return NULL;
}

int
dsn_build(const struct dsn_msg *msg, struct buf *out, bool *eightbit_r, const char **error_r)
{
	static const char empty[] = "";
	struct dsn_msg m = *msg;
	struct report rp;
	size_t orig_len = out->len, room = out->max - out->len;
	const char *err;
	int r;

	if (m.original == NULL && m.original_len == 0)
		m.original = empty;
	if ((err = check_args(&m)) != NULL)
		return (*error_r = err), -1;
	memset(&rp, 0, sizeof(rp));
	rp.m = &m;
	rp.global = m.smtputf8 || !is_ascii(m.sender);
	for (size_t i = 0; i < m.nrcpts; i++) {
		for (size_t s = 0; s < N_ELEMENTS(section_order); s++)
			rp.has[s] |= m.rcpts[i].action == section_order[s];
		rp.global |= !is_ascii(m.rcpts[i].addr);
	}
	rp.any_failed = rp.has[0];
	buf_init(&rp.human, room);
	buf_init(&rp.status, room);
	buf_init(&rp.original, room);
	r = build_human(&rp) < 0 || build_status(&rp) < 0 || build_original(&rp) < 0 ? -1 : 0;
	if (r < 0) {
		*error_r = "DSN too large";
	} else {
		clean_8bit(&rp.human, rp.global);
		clean_8bit(&rp.status, rp.global);
		rp.eightbit |= rp.global;
		r = assemble(&rp, out, error_r);
	}
	buf_release(&rp.human);
	buf_release(&rp.status);
	buf_release(&rp.original);
	if (r < 0) {
		buf_set_len(out, orig_len);
		return -1;
	}
	if (eightbit_r != NULL)
		*eightbit_r = has_8bit(out->data + orig_len, out->len - orig_len);
	return 0;
}
