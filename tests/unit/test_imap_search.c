/* test_imap_search.c - SEARCH programs: parsing, every key, charsets,
 * dates, RETURN and "$". Arguments come from the test tokenizer. */
#include "lib/common.h"

#include <setjmp.h>
#include <time.h>

#include <cmocka.h> /* after setjmp.h */

#include "imap/imap_search.h"
#include "imap/imap_search_private.h"
#include "imap_args_test.h"
#include "imap_search_test.h"
#include "lib/buf.h"

/* No Date:, no Content-Type, 8-bit UTF-8 body with a NUL. */
static const char msg2[] = "From: alice@example.com\r\n"
			   "Subject: hello\r\n"
			   "\r\n"
			   "\xce\xa3\xce\xbf\xcf\x86\xce\xaf\xce\xb1 and \xd0\x81\xd0\xbb\xd0\xba\xd0\xb0\r\n"
			   "nul here:\0:end\r\n";

/* 1994-02-01 22:30:00 UTC */
#define INTERNAL_DATE ((time_t)760141800)

static struct store_message meta1 = {
    .uid = 10,
    .modseq = 500,
    .flags = STORE_FLAG_SEEN | STORE_FLAG_FLAGGED,
    .keywords = "$Forwarded Junk",
    .internal_date = INTERNAL_DATE,
    .crlf_size = 2000,
};

static const uint32_t saved_uids[] = {3, 4, 5, 10, 12};

static int
parse(const char *search, size_t len, struct imap_search_program *prog, bool *bad_r,
      const char **error_r)
{
	struct imap_arg *args;
	size_t count;
	bool bad;
	int ret;

	test_args_parse(search, len, &args, &count);
	ret = imap_search_parse(args, count, prog, bad_r != NULL ? bad_r : &bad, error_r);
	test_args_free(args, count);
	return ret;
}

/* Match search against message data with meta as message 3 of 5 (UIDs
 * up to 20, "$" = saved_uids). Counts the loads in *loads_r (may be NULL). */
static int
run_on(const char *search, size_t slen, const char *data, size_t len,
       const struct store_message *meta, int *loads_r)
{
	struct imap_search_program prog;
	struct test_msg f = {.data = data, .len = len};
	struct imap_search_msg m = {.seq = 3, .meta = meta, .load = test_msg_load, .ctx = &f};
	const char *error = NULL;
	int ret;

	m.now = INTERNAL_DATE + 3600;
	if (parse(search, slen, &prog, NULL, &error) < 0)
		fail_msg("%s: %s", search, error);
	imap_search_resolve(&prog, 5, 20, saved_uids, N_ELEMENTS(saved_uids));
	ret = imap_search_match(&prog, &m);
	assert_true(f.loads <= 1);
	if (loads_r != NULL)
		*loads_r = f.loads;
	imap_search_clear(&prog);
	return ret;
}

static int
run(const char *search, size_t slen)
{
	return run_on(search, slen, test_search_sample, sizeof(test_search_sample) - 1, &meta1, NULL);
}

/* Search string literals may hold NULs. */
#define YES(s) assert_int_equal(run(s, sizeof(s) - 1), 1)
#define NO(s) assert_int_equal(run(s, sizeof(s) - 1), 0)
#define MSG1(s, loads_r) run_on(s, sizeof(s) - 1, test_search_sample, sizeof(test_search_sample) - 1, &meta1, loads_r)
#define MSG2(s) run_on(s, sizeof(s) - 1, msg2, sizeof(msg2) - 1, &meta1, NULL)
#define assert_error(s, want) check_error(s, sizeof(s) - 1, want)

static void
check_error(const char *search, size_t slen, const char *want)
{
	struct imap_search_program prog;
	const char *error = NULL;
	bool bad = true;

	assert_int_equal(parse(search, slen, &prog, &bad, &error), -1);
	assert_false(bad);
	if (strcmp(error, want) != 0)
		fail_msg("%s: got \"%s\", want \"%s\"", search, error, want);
}

static void
test_flags(void **state)
{
	YES("ALL");
	YES("SEEN");
	YES("FLAGGED");
	YES("seen flagged");
	NO("ANSWERED");
	NO("DELETED");
	NO("DRAFT");
	NO("UNSEEN");
	YES("UNANSWERED");
	YES("UNDELETED");
	YES("UNDRAFT");
	NO("UNFLAGGED");
	YES("KEYWORD $Forwarded");
	YES("KEYWORD $forwarded");
	YES("KEYWORD junk");
	NO("KEYWORD Jun");
	NO("KEYWORD $Label1");
	YES("UNKEYWORD $Label1");
	NO("UNKEYWORD JUNK");
	NO("NEW");
	YES("OLD");
	NO("RECENT");
}

static void
test_sets(void **state)
{
	YES("3");
	YES("1:3");
	YES("2,4:*,3");
	NO("4:*");
	YES("*:3");
	NO("1,2");
	YES("UID 10");
	YES("UID 9:11");
	NO("UID 12:*");
	YES("UID *:10");
	NO("UID 11:*");
	YES("UID 1:*");
	/* "$" is the saved UIDs, also as a sequence set. */
	YES("$");
	YES("UID $");
	YES("NOT NOT $");
	assert_int_equal(run_on("UID $", 5, test_search_sample, sizeof(test_search_sample) - 1,
				&(struct store_message){.uid = 11, .keywords = ""}, NULL),
			 0);
	assert_int_equal(run_on("$", 1, test_search_sample, sizeof(test_search_sample) - 1,
				&(struct store_message){.uid = 4, .keywords = ""}, NULL),
			 1);
}

static void
test_sizes_modseq(void **state)
{
	struct imap_search_program prog;
	const char *error;

	YES("LARGER 1999");
	NO("LARGER 2000");
	YES("SMALLER 2001");
	NO("SMALLER 2000");
	YES("LARGER 0");
	NO("LARGER 9223372036854775807");
	YES("MODSEQ 500");
	YES("MODSEQ 0");
	NO("MODSEQ 501");
	YES("MODSEQ \"/flags/\\\\draft\" all 499");
	YES("MODSEQ \"/flags/$Junk\" priv 1");

	assert_int_equal(parse("MODSEQ 5", 8, &prog, NULL, &error), 0);
	assert_true(prog.has_modseq);
	imap_search_clear(&prog);
	assert_int_equal(parse("SEEN", 4, &prog, NULL, &error), 0);
	assert_false(prog.has_modseq);
	assert_false(prog.esearch);
	imap_search_clear(&prog);
}

static void
test_dates(void **state)
{
	int y, m, d;

	/* Internal date 1994-02-01 22:30 UTC; the test runs in UTC. */
	YES("ON 1-Feb-1994");
	YES("ON 01-FEB-1994");
	YES("ON \"1-feb-1994\"");
	NO("ON 2-Feb-1994");
	NO("ON 31-Jan-1994");
	YES("SINCE 1-Feb-1994");
	YES("SINCE 31-Jan-1994");
	NO("SINCE 2-Feb-1994");
	YES("BEFORE 2-Feb-1994");
	NO("BEFORE 1-Feb-1994");
	/* Date: Tue, 1 Feb 1994 23:59:00 -1200: its own day, zone ignored. */
	YES("SENTON 1-Feb-1994");
	YES("SENTBEFORE 2-Feb-1994");
	NO("SENTBEFORE 1-Feb-1994");
	YES("SENTSINCE 1-Feb-1994");
	NO("SENTSINCE 2-Feb-1994");
	/* No Date: the internal date's day. */
	assert_int_equal(MSG2("SENTON 1-Feb-1994"), 1);
	/* now is an hour after the internal date. */
	YES("YOUNGER 3600");
	NO("YOUNGER 3599");
	YES("OLDER 3599");
	NO("OLDER 3600");

	/* Two hours east of UTC the internal date is on 2 Feb. */
	setenv("TZ", "XST-2", 1);
	tzset();
	YES("ON 2-Feb-1994");
	NO("ON 1-Feb-1994");
	YES("SINCE 2-Feb-1994");
	assert_int_equal(MSG2("SENTON 2-Feb-1994"), 1);
	YES("SENTON 1-Feb-1994");
	setenv("TZ", "UTC", 1);
	tzset();

	assert_int_equal(imap_search_date_parse("29-Feb-2000", 11, &y, &m, &d), 0);
	assert_int_equal(y * 10000 + m * 100 + d, 20000229);
	assert_int_equal(imap_search_date_parse("29-Feb-1900", 11, &y, &m, &d), -1);
	assert_int_equal(imap_search_date_parse("1-Feb-94", 8, &y, &m, &d), -1);
	assert_int_equal(imap_search_date_parse("1 Feb 1994", 10, &y, &m, &d), -1);
	assert_int_equal(imap_search_days(1970, 1, 1), 0);
	assert_int_equal(imap_search_days(1994, 2, 1), 760141800 / 86400);
}

static void
assert_sent_day(const char *value, int y, int m, int d)
{
	int64_t day;

	if (y == 0) {
		assert_int_equal(imap_search_sent_day(value, strlen(value), &day), -1);
		return;
	}
	assert_int_equal(imap_search_sent_day(value, strlen(value), &day), 0);
	assert_int_equal(day, imap_search_days(y, m, d));
}

static void
test_sent_day(void **state)
{
	assert_sent_day("Tue, 1 Feb 1994 23:59:00 -1200", 1994, 2, 1);
	assert_sent_day("1 Feb 1994 10:00 +0000", 1994, 2, 1);
	assert_sent_day(" (comment) Tue (x) , 01 (y) feb 1994", 1994, 2, 1);
	assert_sent_day("Tue 1 February 1994", 1994, 2, 1);
	assert_sent_day("Fri, 21 Nov 97 09:55:06 GMT", 1997, 11, 21);
	assert_sent_day("21 Nov 04 09:55:06 GMT", 2004, 11, 21);
	assert_sent_day("21 Nov 104 09:55:06 GMT", 2004, 11, 21);
	assert_sent_day("1-Feb-1994", 1994, 2, 1);
	assert_sent_day("", 0, 0, 0);
	assert_sent_day("Tue, 31 Feb 1994", 0, 0, 0);
	assert_sent_day("Tue, 1 Foo 1994", 0, 0, 0);
	assert_sent_day("Tue, Feb 1 1994", 0, 0, 0);
	assert_sent_day("(unterminated", 0, 0, 0);
}

static void
test_headers(void **state)
{
	YES("SUBJECT \u043f\u0440\u0438\u0432\u0435\u0442");	   /* привет */
	YES("SUBJECT \"\u041f\u0420\u0418\u0412\u0415\u0422 \u041c\u0418\u0420\""); /* ПРИВЕТ МИР */
	YES("SUBJECT \"TI\u1ebeNG VI\u1ec6T\"");		   /* TIẾNG VIỆT */
	YES("SUBJECT \"za\u017c\u00f3\u0142\u0107 G\u0118\u015aL\u0104\"");   /* zażółć GĘŚLĄ */
	NO("SUBJECT \"mir / za\"");
	YES("SUBJECT \"\u043c\u0438\u0440 / Ti\""); /* the words are joined as decoded */
	NO("SUBJECT =?koi8-r?B?");
	YES("FROM \u043f\u0440\u0438\u0432\u0435\u0442");
	YES("FROM ivan@EXAMPLE.ru");
	YES("TO kowalski");
	YES("TO \"\\\"Jan\"");
	YES("CC TEAM");
	NO("CC ivan");
	NO("BCC \"\"");
	YES("HEADER X-Empty \"\"");
	YES("HEADER x-empty \"\"");
	NO("HEADER X-Empty a");
	NO("HEADER X-Missing \"\"");
	YES("HEADER Content-Type B1");
	YES("HEADER DATE \"1 feb\"");
	NO("HEADER Subject quokka"); /* the inner message's */
	/* Headers are not the body. */
	NO("BODY ivan");
	YES("TEXT ivan");
	YES("TEXT \"subject: \u043f\u0440\u0438\u0432\u0435\u0442\"");
	YES("SUBJECT {4}\r\n\u043f\u0440");
}

static void
test_body(void **state)
{
	/* KOI8-R base64 text part. */
	YES("BODY \u0444\u0440\u0430\u043d\u0446\u0443\u0437\u0441\u043a\u0438\u0445");
	YES("BODY \"\u0415\u0429\u0401 \u042d\u0422\u0418\u0425\""); /* ЕЩЁ ЭТИХ */
	/* ISO-8859-1 quoted-printable part. */
	YES("BODY caf\u00e9");
	YES("BODY \"\u00e0 BIENT\u00d4T\"");
	NO("BODY caf=E9");
	/* The attachment: neither its decoded nor its encoded form. */
	NO("BODY secret");
	NO("BODY c2VjcmV0");
	NO("TEXT zebra");
	/* The preamble is no part. */
	NO("BODY preamble");
	/* message/rfc822: its header and body. */
	YES("BODY quokka");
	YES("BODY wombat");
	YES("TEXT WOMBAT");
	YES("BODY \"\"");
	/* 8-bit body without Content-Type; a NUL in a literal. */
	assert_int_equal(MSG2("BODY \u03c3\u03bf\u03c6\u03af\u03b1"), 1); /* σοφία */
	assert_int_equal(MSG2("BODY \u03a3\u039f\u03a6\u038a\u0391"), 1); /* ΣΟΦΊΑ */
	assert_int_equal(MSG2("BODY \u0451\u043b\u043a\u0430"), 1);	/* ёлка */
	assert_int_equal(MSG2("BODY {5}\r\nhere:"), 1);
	assert_int_equal(MSG2("BODY {7}\r\nhere:\0:"), 1);
	assert_int_equal(MSG2("BODY {7}\r\nhere:\0;"), 0);
	assert_int_equal(MSG2("BODY hello"), 0);
	assert_int_equal(MSG2("TEXT hello"), 1);
}

static void
test_charset(void **state)
{
	struct imap_search_program prog;
	const char *error;
	bool bad;

	YES("CHARSET UTF-8 BODY caf\u00e9");
	YES("CHARSET us-ascii BODY bon OR BODY caf BODY xyzzy");
	YES("CHARSET ISO-8859-1 BODY CAF\xc9");
	YES("CHARSET KOI8-R SUBJECT \xed\xe9\xf2");	 /* МИР */
	YES("CHARSET WINDOWS-1251 SUBJECT \xec\xe8\xf0"); /* мир */
	YES("CHARSET windows-1251 BODY \"\xd4\xd0\xc0\xcd\xd6\xd3\xc7\xd1\xca\xc8\xd5\"");
	YES("CHARSET \"ISO-8859-2\" SUBJECT \"\xbf\xf3\xb3\xe6\""); /* żółć */
	NO("CHARSET KOI8-R SUBJECT \xec\xe8\xf0");

	assert_int_equal(parse("CHARSET X-NOPE BODY a", 21, &prog, &bad, &error), -1);
	assert_true(bad);
	assert_int_equal(parse("CHARSET UTF-8//TRANSLIT BODY a", 30, &prog, &bad, &error), -1);
	assert_true(bad);
	assert_int_equal(parse("CHARSET {5}\r\nUTF-8 ALL", 22, &prog, &bad, &error), 0);
	imap_search_clear(&prog);
	assert_int_equal(parse("CHARSET {5}\r\nU\0F-8 ALL", 22, &prog, &bad, &error), -1);
	assert_true(bad);
}

static void
test_logic(void **state)
{
	int loads;

	YES("OR ANSWERED SEEN");
	YES("OR SEEN ANSWERED");
	NO("OR ANSWERED DELETED");
	YES("NOT ANSWERED");
	NO("NOT SEEN");
	YES("(SEEN FLAGGED)");
	NO("(SEEN ANSWERED)");
	YES("(SEEN (FLAGGED (UID 10)))");
	NO("OR (ANSWERED SEEN) DELETED");
	YES("OR (FLAGGED SEEN) DELETED");
	YES("OR OR OR ANSWERED DELETED DRAFT FLAGGED");
	YES("NOT (ANSWERED OR DELETED DRAFT)");
	YES("SEEN NOT OR BODY secret SUBJECT nothing-like-this");
	NO("SEEN NOT OR BODY wombat SUBJECT nothing-like-this");
	YES("not nOt seen");
	YES("subject ZA body WOMBAT from IVAN text quokka");

	/* Cheap keys first: a failing flag key saves the load, in any order. */
	assert_int_equal(MSG1("BODY wombat ANSWERED", &loads), 0);
	assert_int_equal(loads, 0);
	assert_int_equal(MSG1("OR BODY wombat SEEN", &loads), 1);
	assert_int_equal(loads, 0);
	assert_int_equal(MSG1("SEEN UID 10 LARGER 5", &loads), 1);
	assert_int_equal(loads, 0);
	/* One load for several content keys. */
	assert_int_equal(
	    MSG1("BODY wombat TEXT ivan SUBJECT za SENTON 1-Feb-1994 NOT HEADER X-Missing \"\"",
		 &loads),
	    1);
	assert_int_equal(loads, 1);
}

static void
test_gone(void **state)
{
	struct imap_search_program prog;
	struct test_msg f = {.gone = true};
	struct imap_search_msg m = {.seq = 1, .meta = &meta1, .load = test_msg_load, .ctx = &f};
	const char *error;

	/* A message that vanished matches nothing, not even a NOT. */
	assert_int_equal(parse("NOT BODY x", 10, &prog, NULL, &error), 0);
	assert_true(prog.needs_body);
	assert_false(prog.needs_header);
	imap_search_resolve(&prog, 1, 10, NULL, 0);
	assert_int_equal(imap_search_match(&prog, &m), 0);
	imap_search_clear(&prog);

	assert_int_equal(parse("SEEN", 4, &prog, NULL, &error), 0);
	assert_int_equal(imap_search_match(&prog, &m), 1);
	assert_int_equal(f.loads, 1);
	imap_search_clear(&prog);

	assert_int_equal(parse("TEXT x", 6, &prog, NULL, &error), 0);
	assert_true(prog.needs_body && prog.needs_header);
	imap_search_clear(&prog);
	assert_int_equal(parse("SENTON 1-Feb-2000", 17, &prog, NULL, &error), 0);
	assert_true(!prog.needs_body && prog.needs_header);
	imap_search_clear(&prog);

	/* "$" with nothing saved matches nothing. */
	assert_int_equal(parse("$", 1, &prog, NULL, &error), 0);
	imap_search_resolve(&prog, 1, 10, NULL, 0);
	assert_int_equal(imap_search_match(&prog, &m), 0);
	imap_search_clear(&prog);
}

static void
assert_return(const char *search, bool esearch, unsigned ret)
{
	struct imap_search_program prog;
	const char *error = NULL;

	if (parse(search, strlen(search), &prog, NULL, &error) < 0)
		fail_msg("%s: %s", search, error);
	assert_int_equal(prog.esearch, esearch);
	assert_int_equal(prog.ret, ret);
	imap_search_clear(&prog);
}

static void
test_return(void **state)
{
	assert_return("ALL", false, 0);
	assert_return("RETURN () ALL", true, IMAP_SEARCH_RET_ALL);
	assert_return("RETURN (MIN MAX) ALL", true, IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_MAX);
	assert_return("return (count all min max save) CHARSET UTF-8 ALL", true,
		      IMAP_SEARCH_RET_COUNT | IMAP_SEARCH_RET_ALL | IMAP_SEARCH_RET_MIN |
			  IMAP_SEARCH_RET_MAX | IMAP_SEARCH_RET_SAVE);
	assert_return("RETURN (SAVE) SEEN", false, IMAP_SEARCH_RET_SAVE);
	assert_return("RETURN (SAVE MIN) SEEN", true, IMAP_SEARCH_RET_SAVE | IMAP_SEARCH_RET_MIN);
	assert_error("RETURN (PARTIAL 1:10) ALL", "Unknown RETURN option");
	assert_error("RETURN ALL", "RETURN needs a list");
	assert_error("CHARSET UTF-8 RETURN () ALL", "Unknown search key");
	assert_error("RETURN ()", "Missing search key");
}

/* b = open n times, key, close n times. */
static void
nest(struct buf *b, const char *open, int n, const char *key, const char *close)
{
	int i;

	buf_reset(b);
	for (i = 0; i < n; i++)
		assert_int_equal(buf_add_str(b, open), 0);
	assert_int_equal(buf_add_str(b, key), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(buf_add_str(b, close), 0);
}

static void
test_errors(void **state)
{
	struct buf b;

	assert_error("", "Missing search key");
	assert_error("FOO", "Unknown search key");
	assert_error("\"SEEN\"", "Invalid search key");
	assert_error("NIL", "Unknown search key");
	assert_error("SUBJECT", "Missing search key argument");
	assert_error("SUBJECT (a)", "Invalid search string");
	assert_error("HEADER", "Missing search key argument");
	assert_error("HEADER Subject", "Missing search key argument");
	assert_error("HEADER \"\" x", "Invalid header field name");
	assert_error("HEADER {3}\r\na\0b x", "Invalid header field name");
	assert_error("OR SEEN", "Missing search key");
	assert_error("NOT", "Missing search key");
	assert_error("()", "Empty search key list");
	assert_error("SEEN ()", "Empty search key list");
	assert_error("LARGER x", "Invalid number");
	assert_error("LARGER -1", "Invalid number");
	assert_error("LARGER 9223372036854775808", "Invalid number");
	assert_error("OLDER 0", "Invalid number");
	assert_error("YOUNGER 4294967296", "Invalid number");
	assert_error("BEFORE 32-Jan-2000", "Invalid date");
	assert_error("BEFORE 1-Jax-2000", "Invalid date");
	assert_error("BEFORE (1-Jan-2000)", "Invalid date");
	assert_error("ON", "Missing search key argument");
	assert_error("KEYWORD \"a\"", "Invalid keyword");
	assert_error("UID", "Missing search key argument");
	assert_error("UID 0", "invalid sequence set");
	assert_error("UID \"1\"", "Invalid sequence set");
	assert_error("1:x", "invalid sequence set");
	assert_error("MODSEQ", "Invalid MODSEQ value");
	assert_error("MODSEQ x", "Invalid MODSEQ value");
	assert_error("MODSEQ \"/flags/x\" any 5", "Invalid MODSEQ entry");
	assert_error("MODSEQ \"x\" all 5", "Invalid MODSEQ entry");
	assert_error("MODSEQ \"/flags/x\" all", "Invalid MODSEQ value");

	/* Depth: 63 NOTs fit, 64 do not; the same for lists. */
	buf_init(&b, BUF_UNLIMITED);
	nest(&b, "NOT ", 63, "DELETED", "");
	assert_int_equal(run(b.data, b.len), 1);
	nest(&b, "NOT ", 64, "SEEN", "");
	check_error(b.data, b.len, "Search program nested too deeply");
	/* Each level is a list and a NOT. */
	nest(&b, "(NOT ", 31, "SEEN", ")");
	assert_int_equal(run(b.data, b.len), 0);
	nest(&b, "(NOT ", 32, "SEEN", ")");
	check_error(b.data, b.len, "Search program nested too deeply");
	/* Keys in all. */
	nest(&b, "SEEN ", IMAP_SEARCH_MAX_KEYS, "", "");
	assert_int_equal(run(b.data, b.len), 1);
	assert_int_equal(buf_add_str(&b, "SEEN"), 0);
	check_error(b.data, b.len, "Too many search keys");
	buf_release(&b);
}

static void
assert_folds(const char *in, const char *want)
{
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(imap_search_fold(&b, in, strlen(in)), 0);
	assert_string_equal(buf_cstr(&b), want);
	buf_release(&b);
}

static void
test_fold(void **state)
{
	struct buf b;

	assert_folds("ABC xyz 123", "abc xyz 123");
	assert_folds("\u00c0\u00c9\u00de\u00df\u00b5\u00ff\u0178", "\u00e0\u00e9\u00fe\u00df\u03bc\u00ff\u00ff");
	assert_folds("\u0104\u0106\u0141\u0143\u0179\u017b\u017f", "\u0105\u0107\u0142\u0144\u017a\u017c" "s");
	assert_folds("\u01a0\u01af\u0110\u1ea0\u1ec6\u1ef8", "\u01a1\u01b0\u0111\u1ea1\u1ec7\u1ef9");
	assert_folds("\u0391\u03a3\u03c2\u038f\u03d0", "\u03b1\u03c3\u03c3\u03ce\u03b2");
	assert_folds("\u0401\u0410\u042f\u0462\u04c1\u0531", "\u0451\u0430\u044f\u0463\u04c2\u0561");
	assert_folds("\u212a\u2126\u212b\u2160\u24b6\uff21", "k\u03c9\u00e5\u2170\u24d0\uff41");
	/* Left alone: full-only foldings, uncovered blocks, bad bytes. */
	assert_folds("\u1e9e\u0130\u023a\u13a0\U00010400", "\u1e9e\u0130\u023a\u13a0\U00010400");
	assert_folds("a\xff\xc3(\xe2\x82", "a\xff\xc3(\xe2\x82");
	assert_int_equal(imap_search_fold_cp(0x1f59), 0x1f51);
	assert_int_equal(imap_search_fold_cp(0x1f5a), 0x1f5a);

	/* Output capped at a character boundary. */
	buf_init(&b, 4);
	assert_int_equal(imap_search_fold(&b, "AB\u0416", 4), 0);
	buf_reset(&b);
	assert_int_equal(imap_search_fold(&b, "ABC\u0416", 5), -1);
	assert_string_equal(buf_cstr(&b), "abc");
	buf_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_flags),	  cmocka_unit_test(test_sets),
	    cmocka_unit_test(test_sizes_modseq), cmocka_unit_test(test_dates),
	    cmocka_unit_test(test_sent_day),	  cmocka_unit_test(test_headers),
	    cmocka_unit_test(test_body),	  cmocka_unit_test(test_charset),
	    cmocka_unit_test(test_logic),	  cmocka_unit_test(test_gone),
	    cmocka_unit_test(test_return),	  cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_fold),
	};

	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
