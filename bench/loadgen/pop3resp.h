/* pop3resp.h - pure POP3 response framing for pop3load (no I/O). */
#ifndef BENCH_POP3RESP_H
#define BENCH_POP3RESP_H

#include <stddef.h>
#include <sys/types.h>

#include "lg.h"

/* Length of the first line in p[0..n) including its LF, or 0 if incomplete. */
ssize_t pop3_line_len(const char *p, size_t n);

/* Length of a complete multi-line response (status line, data lines, the
 * terminating "." line) at the start of p[0..n), or 0 if incomplete. */
ssize_t pop3_multiline_len(const char *p, size_t n);

/* Append the data of the complete multi-line response p[0..n) to out,
 * without the status line and the terminator, with leading dots unstuffed
 * and line ends kept as received. Returns 0, or -1 when p is not one. */
int pop3_unstuff(const char *p, size_t n, struct lgb *out);

#endif
