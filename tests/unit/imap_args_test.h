/* imap_args_test.h - a tiny IMAP argument tokenizer for tests and fuzz
 * targets of modules that take struct imap_arg trees (SEARCH, ...), so
 * they need not wait for the real command parser.
 *
 * Atoms (NIL becomes IMAP_ARG_NIL), "quoted" strings with backslash
 * escapes, {n} literals (an optional CRLF after the brace, then n bytes)
 * and (lists), separated by spaces. Lenient: unbalanced parentheses and
 * short literals are taken as they come. Bounded: at most TEST_ARGS_MAX
 * arguments and TEST_ARGS_DEPTH levels (deeper lists stay flat).
 */
#ifndef POSTERN_TEST_IMAP_ARGS_H
#define POSTERN_TEST_IMAP_ARGS_H

#include "lib/common.h"

#include "imap/imap_parser.h"
#include "lib/xalloc.h"

#define TEST_ARGS_MAX 10000
#define TEST_ARGS_DEPTH 32

struct test_args {
	const unsigned char *p, *end;
	size_t nargs;
};

static void
test_args_push(struct imap_arg **list, size_t *count, const struct imap_arg *a)
{
	*list = xreallocarray(*list, *count + 1, sizeof(**list));
	(*list)[(*count)++] = *a;
}

static char *
test_args_copy(const unsigned char *s, size_t n)
{
	char *c = xmalloc(n + 1);

	memcpy(c, s, n);
	c[n] = '\0';
	return c;
}

/* Arguments up to a ')' at depth > 0 or the end. */
static void
test_args_list(struct test_args *t, unsigned depth, struct imap_arg **list_r, size_t *count_r)
{
	*list_r = NULL;
	*count_r = 0;
	while (t->p < t->end && t->nargs < TEST_ARGS_MAX) {
		struct imap_arg a = {0};
		unsigned char c = *t->p;

		if (c == ' ') {
			t->p++;
			continue;
		}
		if (c == ')') {
			t->p++;
			if (depth > 0)
				return;
			continue;
		}
		t->nargs++;
		if (c == '(' && depth < TEST_ARGS_DEPTH) {
			t->p++;
			a.type = IMAP_ARG_LIST;
			test_args_list(t, depth + 1, &a.list, &a.count);
		} else if (c == '"') {
			unsigned char *s = xmalloc((size_t)(t->end - t->p));
			size_t n = 0;

			for (t->p++; t->p < t->end && *t->p != '"'; t->p++) {
				if (*t->p == '\\' && t->p + 1 < t->end)
					t->p++;
				s[n++] = *t->p;
			}
			t->p += t->p < t->end;
			a.type = IMAP_ARG_STRING;
			a.str = test_args_copy(s, n);
			a.len = n;
			free(s);
		} else if (c == '{') {
			size_t n = 0;

			for (t->p++; t->p < t->end && ascii_is_digit(*t->p) && n < 1000000; t->p++)
				n = n * 10 + (size_t)(*t->p - '0');
			t->p += t->p < t->end && *t->p == '}';
			if (t->end - t->p >= 2 && t->p[0] == '\r' && t->p[1] == '\n')
				t->p += 2;
			n = MIN(n, (size_t)(t->end - t->p));
			a.type = IMAP_ARG_LITERAL;
			a.str = test_args_copy(t->p, n);
			a.len = n;
			t->p += n;
		} else {
			const unsigned char *s = t->p;

			while (t->p < t->end && *t->p != ' ' && *t->p != '(' && *t->p != ')' &&
			       *t->p != '"' && *t->p != '{')
				t->p++;
			if (t->p == s)
				t->p++; /* a '(' past the depth */
			a.type = IMAP_ARG_ATOM;
			a.str = test_args_copy(s, (size_t)(t->p - s));
			a.len = (size_t)(t->p - s);
			if (ascii_ci_equal(a.str, a.len, "NIL"))
				a.type = IMAP_ARG_NIL;
		}
		test_args_push(list_r, count_r, &a);
	}
}

static void
test_args_parse(const void *data, size_t len, struct imap_arg **args_r, size_t *count_r)
{
	struct test_args t = {.p = data, .end = (const unsigned char *)data + len};

	test_args_list(&t, 0, args_r, count_r);
}

static void
test_args_free(struct imap_arg *args, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++) {
		if (args[i].type == IMAP_ARG_LIST)
			test_args_free(args[i].list, args[i].count);
		free((char *)args[i].str);
	}
	free(args);
}

#endif
