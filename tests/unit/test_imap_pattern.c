/* test_imap_pattern.c - LIST patterns: the cases RFC 9051 6.3.9 names,
 * patterns where a '%' must leave room to an earlier '*', and every
 * pattern and name of a small alphabet against a plain backtracking
 * matcher. */
#include "lib/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include "imap/imap_pattern.h"

static bool
match(const char *pat, const char *name)
{
	struct imap_pattern *p = imap_pattern_new(pat, strlen(pat), '.', strlen(name));
	bool r = imap_pattern_match(p, name);

	imap_pattern_free(&p);
	assert_null(p);
	return r;
}

/* The definition, tried every way (exponential: short strings only). */
static bool
reference(const char *pat, const char *name)
{
	if (*pat == '\0')
		return *name == '\0';
	if (*pat == '*' || *pat == '%') {
		for (const char *n = name;; n++) {
			if (reference(pat + 1, n))
				return true;
			if (*n == '\0' || (*pat == '%' && *n == '.'))
				return false;
		}
	}
	return *pat == *name && reference(pat + 1, name + 1);
}

static void
test_rfc_cases(void **state)
{
	(void)state;
	assert_true(match("*", ""));
	assert_true(match("*", "a.b.c"));
	assert_true(match("%", "INBOX"));
	assert_false(match("%", "a.b"));
	assert_true(match("a.%", "a.b"));
	assert_false(match("a.%", "a.b.c"));
	assert_true(match("a.*", "a.b.c"));
	assert_false(match("a.*", "a"));
	assert_true(match("a*", "a"));
	assert_false(match("A", "a")); /* case matters (INBOX is the caller's) */
	assert_true(match("", ""));
	assert_false(match("", "a"));
	assert_true(match("Sent", "Sent"));
	assert_false(match("Sent", "Sent.x"));
}

static void
test_percent_after_star(void **state)
{
	(void)state;
	/* '*' takes "a.b", '%' the last level: a matcher that forgets the
	 * '*' once it meets the '%' answers no. */
	assert_true(match("*.%", "a.b.c"));
	assert_true(match("*%", "a.b"));
	assert_true(match("*.%.x", "a.b.c.x"));
	assert_false(match("*.%.x", "a.b.c.y"));
	assert_true(match("%.*.%", "a.b.c.d"));
	assert_false(match("%.*.%", "a.b"));
	assert_true(match("*b%", "a.b.bc"));
}

static void
test_long_names(void **state)
{
	char name[4001], pat[8001];

	(void)state;
	/* 2000 levels: "a.a.a...a" */
	for (size_t i = 0; i < 2000; i++) {
		name[2 * i] = 'a';
		name[2 * i + 1] = '.';
	}
	name[3999] = '\0';
	/* "%a%a...": more literals than the name has characters of them. */
	for (size_t i = 0; i < 4000; i++) {
		pat[2 * i] = '%';
		pat[2 * i + 1] = 'a';
	}
	pat[8000] = '\0';
	assert_false(match(pat, name));
	assert_true(match("*.a", name));
	assert_false(match("*.b", name));
	assert_true(match("*.%.%.%", name));
	memcpy(pat, "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a", 65);
	assert_true(match(pat, name));
	/* Bytes above 127 are literals like any other. */
	assert_true(match("*\xc3\xa9", "caf\xc3\xa9"));
	assert_false(match("%\xc3\xa9", "x.caf\xc3\xa9"));
}

/* Every string of up to len characters over alphabet, in order. */
static bool
next_string(char *s, size_t max, const char *alphabet)
{
	size_t n = strlen(s), k = strlen(alphabet);

	for (size_t i = n; i-- > 0;) {
		const char *at = strchr(alphabet, s[i]);
		if ((size_t)(at - alphabet) + 1 < k) {
			s[i] = at[1];
			for (size_t j = i + 1; j < n; j++)
				s[j] = alphabet[0];
			return true;
		}
	}
	if (n == max)
		return false;
	memset(s, alphabet[0], n + 1);
	s[n + 1] = '\0';
	return true;
}

static void
test_against_reference(void **state)
{
	char pat[8] = "", name[8] = "";
	size_t tried = 0;

	(void)state;
	do {
		struct imap_pattern *p = imap_pattern_new(pat, strlen(pat), '.', 5);
		name[0] = '\0';
		do {
			if (imap_pattern_match(p, name) != reference(pat, name))
				fail_msg("pattern \"%s\", name \"%s\": reference says %d", pat, name,
					 reference(pat, name));
			tried++;
		} while (next_string(name, 5, "ab."));
		imap_pattern_free(&p);
	} while (next_string(pat, 5, "ab.*%"));
	assert_true(tried > 1000000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc_cases),
	    cmocka_unit_test(test_percent_after_star),
	    cmocka_unit_test(test_long_names),
	    cmocka_unit_test(test_against_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
