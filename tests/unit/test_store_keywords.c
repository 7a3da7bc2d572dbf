/* test_store_keywords.c - the keywords a mailbox has used: listed and
 * counted, capped at STORE_MAILBOX_KEYWORDS_MAX (flag changes and APPEND
 * refused with E2BIG and nothing changed; copies and deliveries keep the
 * message and leave the keyword off), case-insensitive (spelt as first
 * used), gone with their mailbox, taken along by a rename of INBOX, and
 * built from the messages when an index of schema 3 is opened. */
#include "lib/common.h"

#include "store_msg_test.h"

static const char *const A = "kim@example.org";
static const char *const A_REL = "mail/example.org/kim";

static struct store_mailbox *
open_box(struct store_user *u, const char *name)
{
	struct store_mailbox *box;
	const char *error = NULL;

	if (store_mailbox_open(u, name, false, &box, &error) < 0)
		fail_msg("open %s: %s", name, error);
	return box;
}

static void
deliver_with(struct fixture *f, const char *mailbox, const char *keywords)
{
	struct store_spool *spool = spool_text(f->store, "Subject: k\n\nbody\n");
	struct store_rcpt r = {.address = A, .folder = mailbox, .keywords = keywords};
	struct store_result res;

	assert_int_equal(store_deliver(spool, &r, 1, &res), 1);
	store_spool_free(&spool);
}

static uint32_t
used(struct store_mailbox *box, char **list_r)
{
	const char *error = NULL;
	uint32_t n = 0, m = 0;

	assert_int_equal(store_mailbox_keywords(box, list_r, &n, &error), 0);
	assert_int_equal(store_mailbox_keywords(box, NULL, &m, &error), 0);
	assert_int_equal(n, m);
	return n;
}

/* Fill the mailbox with keywords K0 .. K(n-1), 50 at a time on message 1. */
static void
fill(struct store_mailbox *box, unsigned n)
{
	const char *error = NULL;
	uint32_t one = 1;
	char text[50 * 8];

	for (unsigned i = 0; i < n; i += 50) {
		size_t len = 0;
		for (unsigned k = i; k < i + 50 && k < n; k++)
			len += (size_t)snprintf(text + len, sizeof(text) - len, "%sK%u",
						len > 0 ? " " : "", k);
		assert_int_equal(store_flags_update(box, &one, 1, STORE_FLAGS_SET, 0, text, 0, NULL,
						    NULL, &error),
				 1);
	}
}

static const char *
keywords_of(struct store_mailbox *box, uint32_t uid, struct snap *v, size_t max)
{
	size_t n = snaps_of(box, v, max);
	for (size_t i = 0; i < n; i++)
		if (v[i].uid == uid)
			return v[i].keywords;
	fail_msg("no message %u", uid);
	return NULL;
}

static void
test_cap(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	struct snap v[8];
	char *list;

	deliver_with(f, NULL, NULL);
	deliver_with(f, NULL, "$Label1 Todo");
	struct store_user *u = user_of(f, A, false);
	struct store_mailbox *box = open_box(u, "INBOX");
	assert_int_equal(used(box, &list), 2);
	assert_string_equal(list, "$Label1 Todo");
	free(list);

	/* Replaced keywords stay used: 2 + 998 = the cap. */
	fill(box, STORE_MAILBOX_KEYWORDS_MAX - 2);
	assert_int_equal(used(box, &list), STORE_MAILBOX_KEYWORDS_MAX);
	assert_non_null(strstr(list, " K0 "));
	assert_non_null(strstr(list, " K997 "));
	free(list);

	/* A new keyword is refused, all or nothing; used ones, in any case,
	 * still go; removing never needs room. */
	uint32_t both[] = {1, 2};
	assert_int_equal(store_flags_update(box, both, 2, STORE_FLAGS_ADD, STORE_FLAG_SEEN,
					    "todo Brandnew", 0, NULL, NULL, &error),
			 -1);
	assert_int_equal(errno, E2BIG);
	assert_string_equal(keywords_of(box, 2, v, N_ELEMENTS(v)), "$Label1 Todo");
	assert_int_equal(v[0].flags, 0);
	assert_int_equal(
	    store_flags_update(box, both, 2, STORE_FLAGS_ADD, 0, "k5 TODO", 0, NULL, NULL, &error),
	    2);
	/* spelt as the mailbox first used them */
	assert_string_equal(keywords_of(box, 2, v, N_ELEMENTS(v)), "$Label1 K5 Todo");
	assert_int_equal(store_flags_update(box, both, 2, STORE_FLAGS_REMOVE, 0, "Brandnew K5", 0,
					    NULL, NULL, &error),
			 2);
	assert_int_equal(used(box, NULL), STORE_MAILBOX_KEYWORDS_MAX);

	/* More than STORE_KEYWORDS_MAX on one message: E2BIG too. */
	char many[STORE_KEYWORDS_MAX * 8 + 8];
	size_t len = 0;
	for (unsigned k = 0; k <= STORE_KEYWORDS_MAX; k++)
		len +=
		    (size_t)snprintf(many + len, sizeof(many) - len, "%sK%u", k > 0 ? " " : "", k);
	assert_int_equal(
	    store_flags_update(box, both, 2, STORE_FLAGS_SET, 0, many, 0, NULL, NULL, &error), -1);
	assert_int_equal(errno, E2BIG);

	/* APPEND of a message with a new keyword is refused, of one with
	 * used keywords taken. */
	struct store_append_msg am = {.spool = spool_text(f->store, "Subject: a\n\nx\n"),
				      .keywords = "Brandnew"};
	uint32_t uid;
	assert_int_equal(store_append(u, "INBOX", &am, 1, 0, NULL, &uid, &error), -1);
	assert_int_equal(errno, E2BIG);
	am.keywords = "K17 todo";
	assert_int_equal(store_append(u, "INBOX", &am, 1, 0, NULL, &uid, &error), 0);
	store_spool_free(&am.spool);
	assert_int_equal(store_mailbox_sync(box, &error), 0);
	assert_string_equal(keywords_of(box, uid, v, N_ELEMENTS(v)), "K17 Todo");

	/* A delivery is never refused for a keyword: the new one is left off. */
	deliver_with(f, NULL, "Brandnew $Label1");
	assert_int_equal(store_mailbox_sync(box, &error), 0);
	assert_string_equal(keywords_of(box, uid + 1, v, N_ELEMENTS(v)), "$Label1");

	/* A copy into the full mailbox keeps the used keywords only. */
	assert_int_equal(store_mailbox_create(u, "Other", STORE_SPECIAL_NONE, &error), 0);
	deliver_with(f, "Other", "Fresh K3 Todo");
	struct store_mailbox *other = open_box(u, "Other");
	struct store_copy_result res;
	uint32_t first = 1;
	assert_int_equal(store_copy(other, &first, 1, "INBOX", false, 0, &res, &error), 0);
	assert_int_equal(res.count, 1);
	assert_int_equal(store_mailbox_sync(box, &error), 0);
	assert_string_equal(keywords_of(box, res.dst_uids[0], v, N_ELEMENTS(v)), "K3 Todo");
	store_copy_result_free(&res);
	assert_int_equal(used(box, NULL), STORE_MAILBOX_KEYWORDS_MAX);
	/* ... and the source mailbox still has room: its count is its own. */
	assert_int_equal(used(other, NULL), 3);
	store_mailbox_close(&other);

	/* The count is in the status after a sync; the mailbox's keywords go
	 * with it, a mailbox made again under its name starts with none. */
	struct store_status_info st;
	store_mailbox_status(box, &st);
	assert_int_equal(st.keywords, STORE_MAILBOX_KEYWORDS_MAX);
	store_mailbox_close(&box);
	assert_int_equal(store_mailbox_delete(u, "Other", &error), 0);
	assert_int_equal(store_mailbox_create(u, "Other", STORE_SPECIAL_NONE, &error), 0);
	other = open_box(u, "Other");
	assert_int_equal(used(other, NULL), 0);
	store_mailbox_close(&other);
	store_user_close(&u);
}

/* RENAME INBOX moves its messages, and their keywords with them. */
static void
test_rename_inbox(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	char *list;

	deliver_with(f, NULL, "Todo $Work");
	struct store_user *u = user_of(f, A, false);
	assert_int_equal(store_mailbox_rename(u, "INBOX", "Old", &error), 0);
	struct store_mailbox *old = open_box(u, "Old");
	assert_int_equal(used(old, &list), 2);
	assert_string_equal(list, "$Work Todo");
	free(list);
	store_mailbox_close(&old);
	struct store_mailbox *inbox = open_box(u, "INBOX");
	assert_int_equal(used(inbox, NULL), 0);
	store_mailbox_close(&inbox);
	store_user_close(&u);
}

/* An index of schema 3 (no keywords table) gets one from its messages
 * (its message count triggers are dropped too: schema 5 makes them anew). */
static void
test_migration(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	char *list;

	deliver_with(f, NULL, "Todo $Work");
	deliver_with(f, NULL, "$work Later");
	deliver_with(f, NULL, NULL);
	struct store_user *u = user_of(f, A, false);
	assert_int_equal(store_mailbox_create(u, "Other", STORE_SPECIAL_NONE, &error), 0);
	store_user_close(&u);
	deliver_with(f, "Other", "Elsewhere");
	index_exec(f->dir, A_REL,
		   "DROP TRIGGER count_add; DROP TRIGGER count_del; DROP TRIGGER count_move;"
		   " DROP TRIGGER bytes_upd; DROP INDEX messages_unseen;"
		   " ALTER TABLE mailboxes DROP COLUMN bytes;"
		   " DROP TRIGGER keyword_add; DROP TRIGGER keyword_del;"
		   " DROP TRIGGER keyword_box_del; DROP TABLE keywords;"
		   " ALTER TABLE mailboxes DROP COLUMN keyword_count;"
		   " PRAGMA user_version = 3;");
	store_cache_trim(f->store, -1);

	u = user_of(f, A, false);
	struct store_mailbox *box = open_box(u, "INBOX");
	assert_int_equal(used(box, &list), 3);
	assert_string_equal(list, "$Work Later Todo");
	free(list);
	struct store_status_info st;
	store_mailbox_status(box, &st);
	assert_int_equal(st.keywords, 3);
	store_mailbox_close(&box);
	box = open_box(u, "Other");
	assert_int_equal(used(box, &list), 1);
	assert_string_equal(list, "Elsewhere");
	free(list);
	store_mailbox_close(&box);
	store_user_close(&u);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_cap, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_rename_inbox, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_migration, fixture_setup, fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
