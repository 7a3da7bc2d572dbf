/* test_store_names.c - the pure parts of the store: Maildir file names,
 * modified UTF-7, mailbox names and their directories, addresses. */
#include "lib/common.h"

#include <setjmp.h>

#include <cmocka.h> /* after setjmp.h */

#include "lib/buf.h"
#include "store/maildir_name.h"
#include "store/names.h"
#include "store/store.h"

static void
parse(const char *name, struct maildir_name *mn)
{
	assert_int_equal(maildir_name_parse(name, strlen(name), mn), 0);
}

static void
test_name_full(void **state)
{
	struct maildir_name mn;
	const char *n = "1700000000.M123456P4242Q7.mx.example.org,S=1234,W=1260:2,FRS";

	parse(n, &mn);
	assert_int_equal(mn.base_len,
			 strlen("1700000000.M123456P4242Q7.mx.example.org,S=1234,W=1260"));
	assert_true(mn.has_disk_size);
	assert_int_equal(mn.disk_size, 1234);
	assert_true(mn.has_crlf_size);
	assert_int_equal(mn.crlf_size, 1260);
	assert_true(mn.has_info);
	assert_int_equal(mn.flags_len, 3);
	assert_memory_equal(n + mn.flags_off, "FRS", 3);
	assert_int_equal(mn.flags, STORE_FLAG_FLAGGED | STORE_FLAG_ANSWERED | STORE_FLAG_SEEN);
}

static void
test_name_variants(void **state)
{
	struct maildir_name mn;

	/* Courier/Postfix style: no sizes, no info. */
	parse("1700000000.V803I1234M5678.host", &mn);
	assert_false(mn.has_disk_size);
	assert_false(mn.has_crlf_size);
	assert_false(mn.has_info);
	assert_int_equal(mn.base_len, strlen("1700000000.V803I1234M5678.host"));
	/* S= only; unknown fields ignored; empty info. */
	parse("1.M1P1Q1.h,X=abc,S=10:2,", &mn);
	assert_true(mn.has_disk_size);
	assert_int_equal(mn.disk_size, 10);
	assert_false(mn.has_crlf_size);
	assert_true(mn.has_info);
	assert_int_equal(mn.flags, 0);
	/* Keyword letters and P are not system flags. */
	parse("1.h:2,DPTabc", &mn);
	assert_int_equal(mn.flags, STORE_FLAG_DRAFT | STORE_FLAG_DELETED);
	/* Experimental info ":1," carries no flags; the base still ends at ':'. */
	parse("1.h:1,S", &mn);
	assert_false(mn.has_info);
	assert_int_equal(mn.flags, 0);
	assert_int_equal(mn.base_len, 3);
	/* Malformed sizes: absent, not an error. */
	parse("1.h,S=,W=12a", &mn);
	assert_false(mn.has_disk_size);
	assert_false(mn.has_crlf_size);
	parse("1.h,S=012", &mn);
	assert_false(mn.has_disk_size);
	parse("1.h,S=99999999999999999999999", &mn);
	assert_false(mn.has_disk_size);
	parse("1.h,S=9223372036854775807", &mn);
	assert_true(mn.has_disk_size);
	parse("1.h,S=9223372036854775808", &mn);
	assert_false(mn.has_disk_size);
	/* Twice: ambiguous, so absent. */
	parse("1.h,S=1,S=2,W=3", &mn);
	assert_false(mn.has_disk_size);
	assert_true(mn.has_crlf_size);
	/* A trailing comma. */
	parse("1.h,S=5,", &mn);
	assert_true(mn.has_disk_size);
}

static void
test_name_refused(void **state)
{
	struct maildir_name mn;
	char big[300];

	assert_int_equal(maildir_name_parse("", 0, &mn), -1);
	assert_int_equal(maildir_name_parse(".hidden", 7, &mn), -1);
	assert_int_equal(maildir_name_parse("..", 2, &mn), -1);
	assert_int_equal(maildir_name_parse("a/b", 3, &mn), -1);
	assert_int_equal(maildir_name_parse("a\0b", 3, &mn), -1);
	memset(big, 'a', sizeof(big));
	assert_int_equal(maildir_name_parse(big, 255, &mn), 0);
	assert_int_equal(maildir_name_parse(big, 256, &mn), -1);
}

static void
test_flag_letters(void **state)
{
	struct buf b;

	buf_init(&b, 64);
	assert_int_equal(maildir_flags_letters(STORE_FLAG_SEEN | STORE_FLAG_DRAFT, NULL, 0, &b), 0);
	assert_string_equal(b.data, "DS");
	buf_reset(&b);
	/* Keep P and keyword letters, drop S, add F; sorted, no repeats. */
	assert_int_equal(maildir_flags_letters(STORE_FLAG_FLAGGED, "bPSa,b", 6, &b), 0);
	assert_string_equal(b.data, "FPab");
	buf_reset(&b);
	assert_int_equal(maildir_flags_letters(0, "S", 1, &b), 0);
	assert_string_equal(buf_cstr(&b), "");
	buf_release(&b);
}

static void
test_host_escape(void **state)
{
	struct buf b;

	buf_init(&b, 256);
	assert_int_equal(maildir_host_escape("a/b:c,d\\e", &b), 0);
	assert_string_equal(b.data, "a\\057b\\072c\\054d\\134e");
	buf_reset(&b);
	assert_int_equal(maildir_host_escape("", &b), 0);
	assert_string_equal(b.data, "localhost");
	buf_reset(&b);
	assert_int_equal(maildir_base_make(&b, 1700000000, 42, 7, 3, "h"), 0);
	assert_int_equal(maildir_base_add_sizes(&b, 10, 12), 0);
	assert_string_equal(b.data, "1700000000.M000042P7Q3.h,S=10,W=12");
	buf_release(&b);
}

static void
mutf7_roundtrip(const char *utf8, const char *expect)
{
	struct buf enc, dec;

	buf_init(&enc, 4096);
	buf_init(&dec, 4096);
	assert_int_equal(mutf7_encode(utf8, strlen(utf8), &enc), 0);
	assert_string_equal(buf_cstr(&enc), expect);
	assert_int_equal(mutf7_decode(enc.data, enc.len, &dec), 0);
	assert_string_equal(buf_cstr(&dec), utf8);
	buf_release(&enc);
	buf_release(&dec);
}

static void
test_mutf7(void **state)
{
	/* RFC 3501 5.1.3's example and Dovecot-style names. */
	mutf7_roundtrip("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
			"~peter/mail/&U,BTFw-/&ZeVnLIqe-");
	mutf7_roundtrip("Entw\xc3\xbc"
			"rfe",
			"Entw&APw-rfe");
	mutf7_roundtrip("A&B", "A&-B");
	mutf7_roundtrip("\xc3\xa9t\xc3\xa9", "&AOk-t&AOk-");
	mutf7_roundtrip("\xf0\x9f\x93\xa7 mail", "&2D3c5w- mail");
	mutf7_roundtrip("plain", "plain");

	struct buf b;
	buf_init(&b, 4096);
	static const char *const bad[] = {
	    "&",	   /* unterminated */
	    "&AOk",	   /* unterminated */
	    "&-&",	   /* unterminated */
	    "&AOk-&AOk-",  /* two runs in a row */
	    "&AGE-",	   /* encodes 'a', printable */
	    "&AOl-",	   /* non-zero padding bits */
	    "&2D0-",	   /* lone high surrogate */
	    "&3A0-",	   /* lone low surrogate */
	    "&A/k-",	   /* '/' is not modified base64 */
	    "a\x01",	   /* control byte */
	    "caf\xc3\xa9", /* 8-bit */
	    "&-A-",	   /* fine, then plain: valid, checked below */
	};
	for (size_t i = 0; i + 1 < N_ELEMENTS(bad); i++) {
		buf_reset(&b);
		assert_int_equal(mutf7_decode(bad[i], strlen(bad[i]), &b), -1);
	}
	buf_reset(&b);
	assert_int_equal(mutf7_decode("&-A-", 4, &b), 0);
	assert_string_equal(b.data, "&A-");
	/* Invalid UTF-8 cannot be encoded. */
	buf_reset(&b);
	assert_int_equal(mutf7_encode("\xc0\xaf", 2, &b), -1);
	assert_int_equal(mutf7_encode("\xed\xa0\x80", 3, &b), -1);
	buf_release(&b);
}

static void
resolve_ok(const char *name, const char *norm, const char *dir)
{
	struct buf n, d;
	const char *error = NULL;

	buf_init(&n, 1024);
	buf_init(&d, 1024);
	if (mailbox_name_resolve(name, &n, &d, &error) < 0)
		fail_msg("%s: %s", name, error);
	assert_string_equal(buf_cstr(&n), norm);
	assert_string_equal(buf_cstr(&d), dir);
	/* And back from the directory. */
	if (*dir != '\0') {
		struct buf back;
		buf_init(&back, 1024);
		assert_int_equal(mailbox_dir_to_name(dir, &back), 0);
		assert_string_equal(buf_cstr(&back), norm);
		buf_release(&back);
	}
	buf_release(&n);
	buf_release(&d);
}

static void
test_mailbox_names(void **state)
{
	resolve_ok("INBOX", "INBOX", "");
	resolve_ok("inbox", "INBOX", "");
	resolve_ok("InBoX.Sub", "INBOX.Sub", ".INBOX.Sub");
	resolve_ok("Sent", "Sent", ".Sent");
	resolve_ok("Work.Projects.2024", "Work.Projects.2024", ".Work.Projects.2024");
	resolve_ok("Entw\xc3\xbc"
		   "rfe",
		   "Entw\xc3\xbc"
		   "rfe",
		   ".Entw&APw-rfe");
	resolve_ok("Inboxes", "Inboxes", ".Inboxes");
	resolve_ok("A&B", "A&B", ".A&-B");

	char big[10 * 1024 + 1];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	static const char *const bad[] = {
	    "",		 ".",	    "..",	  ".hidden", "a..b",
	    "a.",	 "a/b",	    "../x",	  "a%",	     "a*",
	    "tab\there", "del\x7f", "c1\xc2\x85", "bad\xff", "\xc0\xae\xc0\xae",
	};
	struct buf n, d;
	buf_init(&n, 1024);
	buf_init(&d, 1024);
	for (size_t i = 0; i < N_ELEMENTS(bad); i++)
		if (mailbox_name_resolve(bad[i], &n, &d, NULL) == 0)
			fail_msg("accepted mailbox name '%s'", bad[i]);
	assert_int_equal(mailbox_name_resolve(big, &n, &d, NULL), -1);
	/* 255 bytes of name, but 256 bytes on disk with the dot. */
	big[255] = '\0';
	assert_int_equal(mailbox_name_resolve(big, &n, &d, NULL), -1);
	big[254] = '\0';
	assert_int_equal(mailbox_name_resolve(big, &n, &d, NULL), 0);
	/* Non-ASCII grows in mUTF-7: the directory limit decides. */
	char wide[200 * 2 + 1];
	for (size_t i = 0; i < 200; i++)
		memcpy(wide + 2 * i, "\xc3\xa9", 2);
	wide[400] = '\0';
	assert_int_equal(mailbox_name_resolve(wide, &n, &d, NULL), -1);
	buf_release(&n);
	buf_release(&d);

	/* Directory entries that are not folders. */
	struct buf back;
	buf_init(&back, 1024);
	static const char *const not_folders[] = {
	    "cur",     ".",	   "..",       "..postern-deleted-1.2",
	    ".a..b",   ".a.",	   ".inbox.x", ".&AGE-",
	    ".&AAA-x", ".a&AC8-b", ".x&ABI-",
	};
	for (size_t i = 0; i < N_ELEMENTS(not_folders); i++)
		if (mailbox_dir_to_name(not_folders[i], &back) == 0)
			fail_msg("took '%s' for a folder", not_folders[i]);
	buf_release(&back);

	assert_true(mailbox_name_is_below("A.B", "A"));
	assert_true(mailbox_name_is_below("A.B.C", "A"));
	assert_false(mailbox_name_is_below("AB", "A"));
	assert_false(mailbox_name_is_below("A", "A"));
}

static void
test_addresses(void **state)
{
	static const char *const good[] = {
	    "user@example.org",
	    "First.Last@sub.example.org",
	    "u+tag@xn--bcher-kva.example",
	    "\"john doe\"@example.org",
	    "j\xc3\xb6rg@example.org",
	    "a@b",
	    "a@1-2.example",
	};
	for (size_t i = 0; i < N_ELEMENTS(good); i++)
		if (store_address_check(good[i], NULL) < 0)
			fail_msg("refused %s", good[i]);

	char big[10 * 1024 + 16];
	memset(big, 'a', sizeof(big));
	memcpy(big + sizeof(big) - 13, "@example.org", 13);
	char longdomain[300];
	memset(longdomain, 'a', sizeof(longdomain));
	longdomain[0] = 'u';
	longdomain[1] = '@';
	for (size_t i = 50; i < sizeof(longdomain) - 1; i += 50)
		longdomain[i] = '.';
	longdomain[sizeof(longdomain) - 1] = '\0';
	static const char *const bad[] = {
	    "user",
	    "@example.org",
	    "user@",
	    "../x@example.org",
	    "..@example.org",
	    ".@example.org",
	    ".hidden@example.org",
	    "a/b@example.org",
	    "a@exa/mple.org",
	    "a@..",
	    "a@.example.org",
	    "a@example.org.",
	    "a@Example.org",
	    "a@ex ample.org",
	    "a@-x.org",
	    "a@x-.org",
	    "a\x01@example.org",
	    "a@b@example..org",
	    "\xff@example.org",
	    "a@\xc3\xa9.org",
	};
	for (size_t i = 0; i < N_ELEMENTS(bad); i++)
		if (store_address_check(bad[i], NULL) == 0)
			fail_msg("accepted %s", bad[i]);
	assert_int_equal(store_address_check(big, NULL), -1);
	assert_int_equal(store_address_check(longdomain, NULL), -1);
	/* 64 bytes of local part is the limit. */
	char l64[80];
	memset(l64, 'l', 65);
	memcpy(l64 + 65, "@x.org", 7);
	assert_int_equal(store_address_check(l64, NULL), -1);
	assert_int_equal(store_address_check(l64 + 1, NULL), 0);
	/* The last '@' splits. */
	const char *local, *domain;
	size_t ll, dl;
	assert_int_equal(store_address_split("\"a@b\"@x.org", &local, &ll, &domain, &dl, NULL), 0);
	assert_int_equal(ll, 5);
	assert_string_equal(domain, "x.org");
}

/* The public check agrees with the resolver: the dangerous names fail. */
static void
test_mailbox_name_check(void **state)
{
	static const char *const good[] = {"INBOX", "inbox", "Sent",
					   "A.B.C", "~root", "\xd0\x92\xd1\x85\xd0\xbe\xd0\xb4"};
	static const char *const bad[] = {"",	 ".",	   "..",   "a..b", ".x", "x.",
					  "a/b", "../etc", "/etc", "*",	   "%",	 "a\tb"};
	const char *error;

	for (size_t i = 0; i < N_ELEMENTS(good); i++)
		assert_int_equal(store_mailbox_name_check(good[i], &error), 0);
	for (size_t i = 0; i < N_ELEMENTS(bad); i++)
		assert_int_equal(store_mailbox_name_check(bad[i], &error), -1);
	char longname[300];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(store_mailbox_name_check(longname, &error), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_full),	  cmocka_unit_test(test_name_variants),
	    cmocka_unit_test(test_name_refused),  cmocka_unit_test(test_flag_letters),
	    cmocka_unit_test(test_host_escape),	  cmocka_unit_test(test_mutf7),
	    cmocka_unit_test(test_mailbox_names), cmocka_unit_test(test_mailbox_name_check),
	    cmocka_unit_test(test_addresses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
