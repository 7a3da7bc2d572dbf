/* xalloc.c - allocation wrappers that never return NULL. */
#include "lib/common.h"

#include "lib/log.h"
#include "lib/xalloc.h"

static void *
checked(void *p, size_t size)
{
	if (p == NULL && size != 0)
		fatal("out of memory allocating %zu bytes", size);
	return p;
}

void *
xmalloc(size_t size)
{
	return checked(malloc(size ? size : 1), size ? size : 1);
}

void *
xcalloc(size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		panic("xcalloc: %zu * %zu overflows", n, size);
	return checked(calloc(n ? n : 1, size ? size : 1), 1);
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		panic("xreallocarray: %zu * %zu overflows", n, size);
	size_t total = n * size;
	return checked(realloc(p, total ? total : 1), total ? total : 1);
}

char *
xstrdup(const char *s)
{
	return checked(strdup(s), 1);
}

char *
xstrndup(const char *s, size_t n)
{
	return checked(strndup(s, n), 1);
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		fatal("out of memory formatting a string");
	va_end(ap);
	return s;
}
