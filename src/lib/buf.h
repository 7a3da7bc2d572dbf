/* buf.h - the one growable byte string, with a hard cap.
 *
 * Every growing byte string in postern is a struct buf. Appends never
 * truncate: an append that would take len past max fails with -1 and leaves
 * the buffer unchanged, so the caller decides (reply "too long", close).
 * data is always NUL-terminated at data[len] (handy for logging; binary data
 * may itself contain NULs). Memory is never NULL after the first append.
 */
#ifndef POSTERN_BUF_H
#define POSTERN_BUF_H

#include "lib/common.h"

struct buf {
	char *data;
	size_t len;
	size_t cap; /* allocated bytes, including the terminating NUL */
	size_t max; /* hard limit on len */
};

#define BUF_UNLIMITED SIZE_MAX

/* For a buf embedded in another struct: init sets it empty with cap max,
 * release frees its memory (it can be reused after buf_init again). */
void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);

/* Heap-allocated buf; buf_free(&b) frees it and sets b to NULL. */
struct buf *buf_new(size_t max);
void buf_free(struct buf **b);

/* Append n bytes. Returns 0, or -1 when len would exceed max (nothing added). */
int buf_add(struct buf *b, const void *p, size_t n) ATTR_NODISCARD;
int buf_add_str(struct buf *b, const char *s) ATTR_NODISCARD;
int buf_add_char(struct buf *b, char c) ATTR_NODISCARD;
int buf_printf(struct buf *b, const char *fmt, ...) ATTR_PRINTF(2, 3) ATTR_NODISCARD;
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) ATTR_PRINTF(2, 0) ATTR_NODISCARD;

/* Make room for n more bytes without changing len; returns a pointer to
 * write them at, or NULL when len + n would exceed max. Commit with
 * buf_set_len(b, b->len + written). */
char *buf_reserve(struct buf *b, size_t n);
void buf_set_len(struct buf *b, size_t len);

void buf_reset(struct buf *b);
/* Drop the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
/* Take ownership of the data (NUL-terminated); b becomes empty. */
char *buf_steal(struct buf *b);

static inline const char *
buf_cstr(const struct buf *b)
{
	return b->data != NULL ? b->data : "";
}

#endif
