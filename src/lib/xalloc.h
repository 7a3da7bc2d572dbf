/* xalloc.h - allocation wrappers that never return NULL.
 *
 * Out of memory is a broken environment: each wrapper calls fatal() instead of
 * returning NULL. Array sizes are checked for n * size overflow, which is a
 * broken invariant (panic).
 */
#ifndef POSTERN_XALLOC_H
#define POSTERN_XALLOC_H

#include "lib/common.h"

void *xmalloc(size_t size);
/* Zeroed array of n elements of size bytes; n * size overflow panics. */
void *xcalloc(size_t n, size_t size);
/* Resize to n * size bytes; overflow panics. */
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a newly allocated string. */
char *xasprintf(const char *fmt, ...) ATTR_PRINTF(1, 2);

#endif
