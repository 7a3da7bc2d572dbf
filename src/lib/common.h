/* common.h - included first by every postern source file.
 *
 * System headers every module uses, attribute shorthands, and the poisoning
 * of libc string functions that cannot be used safely (STYLE.md, practice 2).
 */
#ifndef POSTERN_COMMON_H
#define POSTERN_COMMON_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define ATTR_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define ATTR_NORETURN __attribute__((noreturn))
#define ATTR_NODISCARD __attribute__((warn_unused_result))
#define ATTR_UNUSED __attribute__((unused))

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Case-insensitive ASCII comparison that ignores the locale. */
static inline int
ascii_tolower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static inline bool
ascii_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* A letter or digit ("let-dig" of RFC 5321). */
static inline bool
ascii_is_letdig(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || ascii_is_digit(c);
}

/* s[0..len) equals the NUL-terminated lit, ignoring ASCII case. */
static inline bool
ascii_ci_equal(const char *s, size_t len, const char *lit)
{
	size_t n = strlen(lit);

	if (len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (ascii_tolower((unsigned char)s[i]) != ascii_tolower((unsigned char)lit[i]))
			return false;
	return true;
}

/* Copy src into dst[size]; returns -1 (and copies nothing useful) when it
 * would not fit, so callers never truncate silently. */
static inline int
str_copy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

#pragma GCC poison strcpy strcat sprintf vsprintf gets strncpy stpcpy

#endif
