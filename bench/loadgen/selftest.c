/* selftest.c - unit tests of the generators' pure parsers (imapload --self-test).
 *
 * Run by bench/tests/test_loadgen.py. Framing is checked by feeding every
 * prefix of a response, which is what byte-at-a-time arrival looks like.
 */
#include "imapresp.h"
#include "lg.h"
#include "pop3resp.h"

#include <string.h>

static int failures;

#define CHECK(cond)                                                              \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "selftest %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			failures++;                                              \
		}                                                                \
	} while (0)

static void
test_framing(void)
{
	static const char resp[] =
		"* 3 FETCH (UID 7 BODY[] {12}\r\nab\r\n{3}\r\ncdef RFC822.SIZE 12)\r\n"
		"a1 OK done\r\n";
	size_t first = strlen(resp) - strlen("a1 OK done\r\n");

	/* every strict prefix of the first response is incomplete */
	for (size_t i = 0; i < first; i++)
		CHECK(imap_response_len(resp, i) == 0);
	CHECK(imap_response_len(resp, first) == (ssize_t)first);
	CHECK(imap_response_len(resp, sizeof(resp) - 1) == (ssize_t)first);
	CHECK(imap_response_len(resp + first, sizeof(resp) - 1 - first) == 12);
	CHECK(imap_response_len("* OK x\n", 7) == 7);
	CHECK(imap_response_len("* 1 FETCH (BODY[] {99999999999}\r\n", 33) == -1);
	CHECK(imap_response_len("* 1 FETCH (BODY[] {0}\r\n)\r\n", 26) == 26);
	CHECK(imap_response_len("a APPEND {5+}\r\nhello\r\n", 22) == 22);
}

static void
test_fetch(void)
{
	static const char r1[] =
		"(UID 42 FLAGS (\\Seen \\Flagged) RFC822.SIZE 1234 "
		"BODY[HEADER.FIELDS (FROM MESSAGE-ID)] {30}\r\nMessage-ID: <x@y>\r\nFrom: a\r\n\r\n)";
	static const char r2[] = "(BODY[] {5}\r\nhello UID 3)";
	static const char r3[] = "(FLAGS () BODY[]<0> \"quo\\\"ted\")";
	struct imap_fetch f;

	CHECK(imap_parse_fetch(r1, sizeof(r1) - 1, &f) == 0);
	CHECK(f.has_uid && f.uid == 42);
	CHECK(f.has_size && f.size == 1234);
	CHECK(f.has_flags && imap_has_flag(f.flags, f.flags_len, "\\flagged"));
	CHECK(!imap_has_flag(f.flags, f.flags_len, "\\Deleted"));
	CHECK(f.has_hdr && f.hdr_len == 30 && !f.has_body);
	CHECK(imap_parse_fetch(r2, sizeof(r2) - 1, &f) == 0);
	CHECK(f.has_body && f.body_len == 5 && memcmp(f.body, "hello", 5) == 0);
	CHECK(f.has_uid && f.uid == 3);
	CHECK(imap_parse_fetch(r3, sizeof(r3) - 1, &f) == 0);
	CHECK(f.has_body && f.body_len == 8 && f.has_flags && f.flags_len == 0);
	CHECK(imap_parse_fetch("(UID)", 5, &f) == -1);
	CHECK(imap_parse_fetch("(UID 1", 6, &f) == -1);
	CHECK(imap_parse_fetch("(BODY[] {10}\r\nabc)", 18, &f) == -1);
	CHECK(imap_parse_fetch("(UID x1)", 8, &f) == -1);
}

static void
test_untagged(void)
{
	uint32_t num;
	size_t len;
	const char *w = imap_untagged_num("* 17 EXISTS\r\n", 13, &num, &len);

	CHECK(w != NULL && num == 17 && len == 6 && strncmp(w, "EXISTS", 6) == 0);
	CHECK(imap_untagged_num("* OK hi\r\n", 9, &num, &len) == NULL);
	CHECK(imap_untagged_num("* 99999999999 EXISTS\r\n", 22, &num, &len) == NULL);
}

static void
test_msgid(void)
{
	static const char h[] = "From: a\r\nmessage-id:   <id@x>  \r\nSubject: s\r\n\r\nMessage-ID: <b@x>\r\n";
	static const char h2[] = "From: a\r\n\r\nMessage-ID: <b@x>\r\n";
	const char *v;
	size_t n = lg_find_msgid(h, sizeof(h) - 1, &v);

	CHECK(n == 6 && memcmp(v, "<id@x>", 6) == 0);
	CHECK(lg_find_msgid(h2, sizeof(h2) - 1, &v) == 0);
}

static void
test_pop3(void)
{
	static const char ml[] = "+OK 2 octets\r\n..dot\r\nline\r\n.\r\n+OK next\r\n";
	size_t end = strlen(ml) - strlen("+OK next\r\n");
	struct lgb body = { 0 };

	for (size_t i = 0; i < end; i++)
		CHECK(pop3_multiline_len(ml, i) == 0);
	CHECK(pop3_multiline_len(ml, sizeof(ml) - 1) == (ssize_t)end);
	CHECK(pop3_unstuff(ml, end, &body) == 0);
	CHECK(lgb_avail(&body) == 12 && memcmp(lgb_ptr(&body), ".dot\r\nline\r\n", 12) == 0);
	CHECK(pop3_line_len("+OK x\r\nrest", 11) == 7);
	CHECK(pop3_line_len("+OK x", 5) == 0);
	lgb_free(&body);
}

int imapload_self_test(void);

int
imapload_self_test(void)
{
	test_framing();
	test_fetch();
	test_untagged();
	test_msgid();
	test_pop3();
	if (failures == 0)
		printf("selftest: ok\n");
	return failures ? 1 : 0;
}
