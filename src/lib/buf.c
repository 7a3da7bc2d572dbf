/* buf.c - the capped growable byte string. */
#include "lib/common.h"

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xalloc.h"

void
buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void
buf_release(struct buf *b)
{
	free(b->data);
	buf_init(b, b->max);
}

struct buf *
buf_new(size_t max)
{
	struct buf *b = xmalloc(sizeof(*b));

	buf_init(b, max);
	return b;
}

void
buf_free(struct buf **bp)
{
	if (*bp == NULL)
		return;
	free((*bp)->data);
	free(*bp);
	*bp = NULL;
}

char *
buf_reserve(struct buf *b, size_t n)
{
	if (n > b->max || b->len > b->max - n)
		return NULL;
	if (n >= SIZE_MAX - 1 - b->len)
		return NULL;
	size_t need = b->len + n + 1;
	if (need > b->cap) {
		size_t cap = b->cap < 64 ? 64 : b->cap;
		while (cap < need)
			cap = cap > SIZE_MAX / 2 ? need : cap * 2;
		b->data = xreallocarray(b->data, cap, 1);
		b->cap = cap;
		b->data[b->len] = '\0';
	}
	return b->data + b->len;
}

void
buf_set_len(struct buf *b, size_t len)
{
	if (len > b->len && (b->data == NULL || len >= b->cap))
		panic("buf_set_len: %zu beyond reserved %zu", len, b->cap);
	b->len = len;
	if (b->data != NULL)
		b->data[len] = '\0';
}

int
buf_add(struct buf *b, const void *p, size_t n)
{
	char *dst = buf_reserve(b, n);

	if (dst == NULL)
		return -1;
	if (n > 0)
		memcpy(dst, p, n);
	buf_set_len(b, b->len + n);
	return 0;
}

int
buf_add_str(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int
buf_add_char(struct buf *b, char c)
{
	return buf_add(b, &c, 1);
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	char small[256];

	va_copy(ap2, ap);
	int n = vsnprintf(small, sizeof(small), fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(small))
		return buf_add(b, small, (size_t)n);
	char *dst = buf_reserve(b, (size_t)n);
	if (dst == NULL)
		return -1;
	if (vsnprintf(dst, (size_t)n + 1, fmt, ap) != n)
		return -1;
	buf_set_len(b, b->len + (size_t)n);
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int ret = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return ret;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n > b->len)
		panic("buf_consume: %zu > len %zu", n, b->len);
	if (n == 0)
		return; /* b->data may be NULL */
	memmove(b->data, b->data + n, b->len - n);
	buf_set_len(b, b->len - n);
}

char *
buf_steal(struct buf *b)
{
	char *p = b->data != NULL ? b->data : xstrdup("");

	buf_init(b, b->max);
	return p;
}
