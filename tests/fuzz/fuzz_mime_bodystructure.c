/* fuzz_mime_bodystructure.c - libFuzzer target for BODY/BODYSTRUCTURE,
 * the cache and sections.
 *
 * Input: the message. Checks that BODYSTRUCTURE has balanced parentheses
 * outside strings, that the cache (when built) holds exactly the BODY and
 * BODYSTRUCTURE computed directly, that a short buffer is refused with
 * nothing written, and that sections stay inside the message.
 */
#include "lib/common.h"

#include "lib/buf.h"
#include "mime/bodystructure.h"
#include "mime/part.h"
#include "mime/section.h"

static void
check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_mime_bodystructure: %s\n", what);
		abort();
	}
}

/* Parentheses balance outside quoted strings and literals. */
static void
check_balanced(const struct buf *b)
{
	long depth = 0;
	const char *s = buf_cstr(b);

	for (size_t i = 0; i < b->len; i++) {
		if (s[i] == '"') {
			for (i++; i < b->len && s[i] != '"'; i++)
				i += s[i] == '\\';
		} else if (s[i] == '{') {
			size_t n = strtoul(s + i + 1, NULL, 10);

			i = (size_t)(strchr(s + i, '\n') - s) + n;
		} else if (s[i] == '(') {
			depth++;
		} else if (s[i] == ')') {
			check(--depth >= 0, "unbalanced )");
		}
	}
	check(depth == 0, "unbalanced (");
}

static void
check_cached(const char *cache, enum mime_cache_item item, const struct buf *want)
{
	const char *p;
	size_t n;

	check(mime_cache_get(cache, item, &p, &n) == 0, "cache get");
	check(n == want->len && memcmp(p, want->data, n) == 0, "cache differs");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const parts[] = {"", "1", "2", "1.1", "2.1", "1.2.1", "3"};
	static const char *const fields[] = {"subject", "content-type"};
	const char *msg = (const char *)data;
	struct mime_message m;
	struct buf body, bs, c, small;

	(void)mime_message_parse(data, size, NULL, &m);
	buf_init(&body, BUF_UNLIMITED);
	buf_init(&bs, BUF_UNLIMITED);
	buf_init(&c, BUF_UNLIMITED);
	check(mime_bodystructure(msg, size, &m, false, false, &body) == 0, "body");
	check(mime_bodystructure(msg, size, &m, true, false, &bs) == 0, "bodystructure");
	check_balanced(&bs);
	buf_init(&small, bs.len / 2);
	check(mime_bodystructure(msg, size, &m, true, false, &small) == -1 || bs.len == 0, "small");
	check(small.len == 0, "small written");
	buf_release(&small);
	/* Every message has its cache, which is text. */
	check(mime_cache_build(msg, size, &c) == 0, "no cache");
	check(memchr(c.data, '\0', c.len) == NULL, "NUL in cache");
	check_cached(buf_cstr(&c), MIME_CACHE_BODY, &body);
	check_cached(buf_cstr(&c), MIME_CACHE_BODYSTRUCTURE, &bs);
	for (size_t i = 0; i < N_ELEMENTS(parts); i++) {
		for (int t = MIME_SECTION_ALL; t <= MIME_SECTION_MIME; t++) {
			size_t off, len;

			buf_reset(&c);
			check(mime_section_get(msg, size, &m, parts[i], (enum mime_section_text)t, fields,
					       N_ELEMENTS(fields), &c) == 0,
			      "section");
			if (mime_section_range(&m, parts[i], (enum mime_section_text)t, &off, &len) == 0)
				check(off <= size && len <= size - off && len == c.len, "range");
		}
		buf_reset(&c);
		(void)mime_binary_get(msg, size, &m, parts[i], &c);
	}
	buf_release(&body);
	buf_release(&bs);
	buf_release(&c);
	mime_message_clear(&m);
	return 0;
}
