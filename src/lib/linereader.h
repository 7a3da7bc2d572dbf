/* linereader.h - the bounded line reader: line, need more, or too long.
 *
 * The one place where line endings are decided for every line-based
 * protocol (SMTP commands, IMAP command lines, POP3). A line ends at LF; a CR
 * directly before that LF is part of the terminator. A line ended by a bare
 * LF is still a line, flagged so that the protocol can apply its policy. A
 * bare CR inside a line is reported too (SMTP smuggling defence depends on
 * the DATA reader, not on this one, but protocols may refuse such commands).
 *
 * When more than max bytes arrive without an LF, LINE_TOO_LONG is returned
 * once; the reader then discards input up to and including the next LF
 * (returning LINE_NEED_MORE while it does) and resumes with the following line.
 * Pure: no I/O, no allocation.
 */
#ifndef POSTERN_LINEREADER_H
#define POSTERN_LINEREADER_H

#include "lib/common.h"

enum line_result {
	LINE_OK,
	LINE_NEED_MORE,
	LINE_TOO_LONG,
};

struct line_reader {
	size_t max;    /* longest line accepted, terminator excluded */
	bool skipping; /* discarding the rest of a too-long line */
};

struct line {
	const char *data; /* points into the input; valid until it is consumed */
	size_t len;       /* without the terminator */
	bool bare_lf;     /* ended by LF without CR */
	bool bare_cr;     /* contains a CR not followed by LF */
	bool has_nul;     /* contains a NUL byte */
};

void line_reader_init(struct line_reader *lr, size_t max);

/* Look for the next line in data[0..len). *consumed_r is set to how many
 * bytes the caller must drop from its input whatever the result (for
 * LINE_OK: the line and its terminator). */
enum line_result line_reader_next(struct line_reader *lr, const char *data, size_t len,
				  struct line *line_r, size_t *consumed_r);

#endif
