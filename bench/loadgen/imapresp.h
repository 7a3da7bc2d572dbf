/* imapresp.h - pure IMAP response framing and FETCH parsing for imapload.
 *
 * No I/O: bytes in, result out. A response is one line (CRLF or LF ended)
 * that may embed literals ("{N}\r\n" followed by N octets, then the line
 * goes on); the framer finds where a response ends without copying.
 */
#ifndef BENCH_IMAPRESP_H
#define BENCH_IMAPRESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Largest literal the generator accepts from a server. */
#define IMAP_MAX_LITERAL (64u * 1024 * 1024)

/* Length of the first complete response in p[0..n) including its final
 * line end; 0 when more bytes are needed; -1 when a literal is malformed or
 * larger than IMAP_MAX_LITERAL. */
ssize_t imap_response_len(const char *p, size_t n);

/* The items of one FETCH response that the generator checks. Pointers
 * point into the parsed response and live as long as it does. */
struct imap_fetch {
	bool has_uid, has_size, has_flags, has_body, has_hdr;
	uint32_t uid;
	size_t size;                 /* RFC822.SIZE */
	const char *flags;           /* inside the parentheses */
	size_t flags_len;
	const char *body;            /* BODY[] */
	size_t body_len;
	const char *hdr;             /* BODY[HEADER...] or BODY[HEADER.FIELDS ...] */
	size_t hdr_len;
};

/* Parse the parenthesised attribute list of "* N FETCH (...)": p points at
 * '(' and [p, p+n) holds the rest of the response. Returns 0, or -1 when the
 * list is malformed. */
int imap_parse_fetch(const char *p, size_t n, struct imap_fetch *f);

/* Classify a response. For "* N WORD ..." sets *num_r and returns the WORD
 * (and its length in *len_r) pointer; otherwise NULL. */
const char *imap_untagged_num(const char *p, size_t n, uint32_t *num_r, size_t *len_r);

/* True when flags (the inside of a FLAGS list) contains flag (case-insensitive). */
bool imap_has_flag(const char *flags, size_t n, const char *flag);

#endif
