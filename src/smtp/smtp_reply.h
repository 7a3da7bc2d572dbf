/* smtp_reply.h - SMTP replies: building them (server) and parsing them
 * (client). RFC 5321 4.2, enhanced status codes RFC 2034 / RFC 3463.
 *
 * Building. A reply is one or more lines "CODE-text" ending with "CODE text",
 * each CRLF-terminated and at most SMTP_REPLY_LINE_MAX octets, code and CRLF
 * included (RFC 5321 4.5.3.1.5). The enhanced status code, when given, starts
 * every line's text (RFC 2034 3); it is left out of the greeting and of the
 * HELO/EHLO replies, as RFC 2034 says. A line that would be too long, or
 * whose text holds a control character other than TAB (CR or LF would let
 * text inject reply lines), fails the whole reply: it is rolled back out of
 * the output buffer and nothing is sent half-built. Text is never truncated.
 *
 * Parsing. The parser takes the bytes the server sent, in chunks of any size,
 * through the bounded line reader, and returns one complete reply at a time:
 * its code (the same on every line, or the reply is an error), its enhanced
 * status code (from the first line, removed from every line that repeats it)
 * and its text lines. Bounded: line length, line count and total text are
 * capped; control characters in the text (a NUL, a bare CR) are replaced by
 * '?' so the text is safe to log and to quote in a bounce. A line ended by a
 * bare LF is accepted (servers that do it exist; the client sends nothing
 * back based on line endings).
 */
#ifndef POSTERN_SMTP_REPLY_H
#define POSTERN_SMTP_REPLY_H

#include "lib/common.h"

#include "lib/buf.h"
#include "lib/linereader.h"

#define SMTP_REPLY_LINE_MAX 512
#define SMTP_ENHANCED_MAX 9 /* "5.999.999" */

/* ---- building ---- */

struct smtp_reply_builder {
	struct buf *out;
	size_t start;  /* out->len when the reply began */
	size_t sep;    /* offset of the last line's '-' */
	unsigned code;
	char enhanced[SMTP_ENHANCED_MAX + 1];
	unsigned lines;
	const char *error; /* set once the reply failed */
};

/* Begin a reply with code (200-559: first digit 2-5, second 0-5) and
 * enhanced status (e.g. "2.1.0", its class the code's first digit; NULL for
 * none, and required NULL for 3yz). A bad code or enhanced code fails the
 * reply (smtp_reply_end reports it). Nothing is written yet. */
void smtp_reply_begin(struct smtp_reply_builder *b, struct buf *out, unsigned code,
		      const char *enhanced);

/* Add one line of text. Returns 0, or -1 when the reply failed (now or
 * before): then the reply is rolled back out of out. */
int smtp_reply_line(struct smtp_reply_builder *b, const char *fmt, ...) ATTR_PRINTF(2, 3);
int smtp_reply_vline(struct smtp_reply_builder *b, const char *fmt, va_list ap)
    ATTR_PRINTF(2, 0);

/* Finish the reply: its last line becomes "CODE text". A reply without a
 * line gets one with no text. Returns 0, or -1 with *error_r set (and out
 * as it was before smtp_reply_begin). */
int smtp_reply_end(struct smtp_reply_builder *b, const char **error_r);

/* A one-line reply: begin, line, end. */
int smtp_reply(struct buf *out, const char **error_r, unsigned code, const char *enhanced,
	       const char *fmt, ...) ATTR_PRINTF(5, 6);

/* ---- parsing ---- */

struct smtp_reply {
	unsigned code;
	char enhanced[SMTP_ENHANCED_MAX + 1]; /* "" when the reply has none */
	unsigned lines;
	/* Each line's text (after the code, its separator and the enhanced
	 * code), joined by '\n'; NUL-terminated, no control characters but
	 * TAB and those '\n'. */
	struct buf text;
};

struct smtp_reply_parser {
	struct line_reader lr;
	unsigned max_lines;
	bool done;         /* reply holds the last complete reply */
	const char *error; /* the parser failed: it stays failed */
	struct smtp_reply reply;
};

/* line_max: longest line accepted (terminator excluded; RFC 5321 says 510,
 * be generous: 2048); max_lines: lines per reply (e.g. 100); max_text: total
 * text octets per reply (e.g. 64 KiB). */
void smtp_reply_parser_init(struct smtp_reply_parser *p, size_t line_max, unsigned max_lines,
			    size_t max_text);
void smtp_reply_parser_deinit(struct smtp_reply_parser *p);

enum smtp_reply_status {
	SMTP_REPLY_MORE,  /* no complete reply yet: keep the unconsumed bytes, add more */
	SMTP_REPLY_DONE,  /* p->reply holds one reply, valid until the next call */
	SMTP_REPLY_ERROR, /* not an SMTP reply: *error_r says why; give up the connection */
};

/* Parse data[0..len). *consumed_r is how many bytes the caller must drop
 * whatever the result; on DONE the bytes after them are the next reply
 * (pipelining). After ERROR the parser stays in error until re-initialised. */
enum smtp_reply_status smtp_reply_parse(struct smtp_reply_parser *p, const char *data, size_t len,
					size_t *consumed_r, const char **error_r);

/* The class of a code: 2, 3, 4 or 5. */
static inline unsigned
smtp_reply_class(unsigned code)
{
	return code / 100;
}

#endif
