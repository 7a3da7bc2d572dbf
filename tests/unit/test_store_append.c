/* test_store_append.c - APPEND and MULTIAPPEND (store_append): UIDs in
 * order, flags, keywords and internal date, the cache text of a spool
 * (store_spool_set_cache, also through store_deliver and
 * store_deliver_batch), a missing mailbox, the quota, invalid arguments,
 * and all or none when the commit fails. */
#include "lib/common.h"

#include "store_msg_test.h"

static const char *const A = "dana@example.org";
static const char *const A_REL = "mail/example.org/dana";

static int
files_in(struct fixture *f, const char *dir, const char *sub)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s/%s", f->dir, A_REL, dir);
	return count_files(path, sub);
}

static void
test_append_one(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	struct snap v[2];
	uint32_t uidvalidity = 0, uid = 0;
	static const char text[] = "Subject: appended\n\nbody\n";

	struct store_user *u = user_of(f, A, true);
	struct store_spool *spool = spool_text(f->store, text);
	store_spool_set_cache(spool, "(envelope)");
	struct store_append_msg m = {.spool = spool};
	time_t now = time(NULL);
	assert_int_equal(store_append(u, "INBOX", &m, 1, 0, &uidvalidity, &uid, &error), 0);
	store_spool_free(&spool);
	assert_int_equal(uid, 1);
	assert_int_equal(files_in(f, "", "new"), 1);
	assert_int_equal(files_in(f, "", "cur"), 0);
	struct store_mailbox *box;
	struct store_status_info st;
	assert_int_equal(store_mailbox_open(u, "INBOX", true, &box, &error), 0);
	store_mailbox_status(box, &st);
	assert_int_equal(st.uidvalidity, uidvalidity);
	assert_int_equal(st.uidnext, 2);
	assert_int_equal(snaps_of(box, v, 2), 1);
	assert_int_equal(v[0].flags, 0);
	assert_string_equal(v[0].keywords, "");
	assert_true(v[0].date >= now - 1 && v[0].date <= now + 1);
	assert_int_equal(v[0].disk, strlen(text));
	assert_int_equal(v[0].crlf, strlen(text) + 3);
	assert_string_equal(v[0].cache, "(envelope)");
	char *content = content_of(box, 1, NULL);
	assert_string_equal(content, "Subject: appended\r\n\r\nbody\r\n");
	free(content);
	store_mailbox_close(&box);
	store_user_close(&u);
}

static void
test_append_many(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	struct snap v[8];
	uint32_t uids[3], uidvalidity;
	static const char *const texts[] = {"Subject: a\n\n1\n", "Subject: bb\n\n22\n",
					    "Subject: ccc\n\n333\n"};
	struct store_spool *spools[3];

	/* One message there already: the appended ones follow it. */
	struct store_spool *first = spool_text(f->store, "Subject: sent\n\n\n");
	struct store_rcpt r = {.address = A, .folder = "Sent"};
	struct store_result res;
	assert_int_equal(store_deliver(first, &r, 1, &res), 1);
	store_spool_free(&first);

	struct store_user *u = user_of(f, A, true);
	struct store_append_msg m[3];
	for (size_t i = 0; i < 3; i++)
		spools[i] = spool_text(f->store, texts[i]);
	m[0] = (struct store_append_msg){.spool = spools[0],
					 .flags = STORE_FLAG_SEEN,
					 .keywords = "zeta Alpha",
					 .internal_date = 1200000000};
	m[1] = (struct store_append_msg){.spool = spools[1], .internal_date = 1300000000};
	m[2] = (struct store_append_msg){.spool = spools[2],
					 .flags = STORE_FLAG_DRAFT | STORE_FLAG_ANSWERED};
	store_spool_set_cache(spools[2], "(old)");
	store_spool_set_cache(spools[2], "(three)");
	assert_int_equal(store_append(u, "Sent", m, 3, 0, &uidvalidity, uids, &error), 0);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(uids[i], 2 + i);
		store_spool_free(&spools[i]);
	}
	/* Flagged messages in cur/, the others in new/. */
	assert_int_equal(files_in(f, ".Sent", "cur"), 2);
	assert_int_equal(files_in(f, ".Sent", "new"), 2);
	struct store_mailbox *box;
	assert_int_equal(store_mailbox_open(u, "Sent", true, &box, &error), 0);
	assert_int_equal(snaps_of(box, v, 8), 4);
	assert_int_equal(v[1].flags, STORE_FLAG_SEEN);
	assert_string_equal(v[1].keywords, "Alpha zeta");
	assert_int_equal(v[1].date, 1200000000);
	assert_false(v[1].has_cache);
	assert_int_equal(v[2].flags, 0);
	assert_int_equal(v[2].date, 1300000000);
	assert_int_equal(v[3].flags, STORE_FLAG_DRAFT | STORE_FLAG_ANSWERED);
	assert_string_equal(v[3].cache, "(three)");
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(v[i + 1].uid, uids[i]);
		assert_int_equal(v[i + 1].disk, strlen(texts[i]));
		assert_true(v[i + 1].modseq > v[i].modseq);
	}
	/* The file's mtime is the internal date: a rebuild keeps it. */
	struct store_content c;
	struct stat st;
	assert_int_equal(store_message_open(box, uids[0], &c, &error), 0);
	assert_int_equal(fstat(c.fd, &st), 0);
	close(c.fd);
	assert_int_equal(st.st_mtime, 1200000000);
	store_mailbox_close(&box);
	store_user_close(&u);
	struct store_reindex_report rep;
	assert_int_equal(store_reindex(f->store, A, true, &rep, &error), 0);
	u = user_of(f, A, true);
	assert_int_equal(snaps_of_name(u, "Sent", v, 8), 4);
	assert_int_equal(v[1].date, 1200000000);
	assert_int_equal(v[2].date, 1300000000);
	store_user_close(&u);
}

static void
test_append_errors(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	uint32_t uids[2];
	struct store_spool *spools[2];
	struct store_append_msg m[2];
	uint64_t used;

	struct store_user *u = user_of(f, A, true);
	for (size_t i = 0; i < 2; i++) {
		spools[i] = spool_text(f->store, "Subject: x\n\nx\n");
		m[i] = (struct store_append_msg){.spool = spools[i]};
	}
	/* No such mailbox: ENOENT ([TRYCREATE]), no fallback to INBOX. */
	assert_int_equal(store_append(u, "Missing", m, 2, 0, NULL, uids, &error), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(files_in(f, "", "new"), 0);

	/* The quota counts every message of the append. */
	assert_int_equal(store_user_usage(u, &used, NULL, &error), 0);
	uint64_t size = store_spool_disk_size(spools[0]);
	assert_int_equal(store_append(u, "INBOX", m, 2, used + 2 * size - 1, NULL, uids, &error),
			 -1);
	assert_int_equal(errno, EDQUOT);
	assert_int_equal(files_in(f, "", "new"), 0);

	/* Invalid keywords, unknown flags, an unfinished spool. */
	m[1].keywords = "ok bad\\keyword";
	assert_int_equal(store_append(u, "INBOX", m, 2, 0, NULL, uids, &error), -1);
	assert_int_equal(errno, EINVAL);
	m[1].keywords = NULL;
	m[1].flags = 1u << 9;
	assert_int_equal(store_append(u, "INBOX", m, 2, 0, NULL, uids, &error), -1);
	assert_int_equal(errno, EINVAL);
	m[1].flags = 0;
	struct store_spool *open_spool;
	assert_int_equal(store_spool_open(f->store, &open_spool, &error), 0);
	m[1].spool = open_spool;
	assert_int_equal(store_append(u, "INBOX", m, 2, 0, NULL, uids, &error), -1);
	assert_int_equal(errno, EINVAL);
	store_spool_free(&open_spool);
	m[1].spool = spools[1];
	assert_int_equal(files_in(f, "", "new"), 0);

	/* The commit fails on the second row: neither message stays. */
	block_dir = f->dir;
	block_user = A_REL;
	block_box = "INBOX";
	store_test_hook = block_hook;
	assert_int_equal(store_append(u, "INBOX", m, 2, 0, NULL, uids, &error), -1);
	store_test_hook = NULL;
	assert_int_equal(files_in(f, "", "new"), 0);
	assert_int_equal(files_in(f, "", "cur"), 0);
	unblock();
	struct snap v[4];
	assert_int_equal(snaps_of_name(u, "INBOX", v, 4), 0);
	/* Exactly fitting the quota, nothing in the way: both. */
	assert_int_equal(store_append(u, "INBOX", m, 2, used + 2 * size, NULL, uids, &error), 0);
	assert_int_equal(uids[1], uids[0] + 1);
	assert_int_equal(snaps_of_name(u, "INBOX", v, 4), 2);
	for (size_t i = 0; i < 2; i++)
		store_spool_free(&spools[i]);
	store_user_close(&u);
}

/* The cache text of a spool reaches the rows of store_deliver and
 * store_deliver_batch too. */
static void
test_cache_on_delivery(void **state)
{
	struct fixture *f = *state;
	struct snap v[4];
	struct store_rcpt r = {.address = A};
	struct store_result res[2];

	struct store_spool *one = spool_text(f->store, "Subject: 1\n\n\n");
	store_spool_set_cache(one, "(one)");
	assert_int_equal(store_deliver(one, &r, 1, &res[0]), 1);
	store_spool_free(&one);

	struct store_spool *two = spool_text(f->store, "Subject: 2\n\n\n");
	struct store_spool *three = spool_text(f->store, "Subject: 3\n\n\n");
	store_spool_set_cache(two, "(two)");
	store_spool_set_cache(three, "(three)");
	store_spool_set_cache(three, NULL);
	struct store_delivery msgs[2] = {
	    {.spool = two, .rcpts = &r, .nrcpts = 1, .results = &res[0]},
	    {.spool = three, .rcpts = &r, .nrcpts = 1, .results = &res[1]},
	};
	assert_int_equal(store_deliver_batch(msgs, 2), 2);
	store_spool_free(&two);
	store_spool_free(&three);

	struct store_user *u = user_of(f, A, true);
	assert_int_equal(snaps_of_name(u, "INBOX", v, 4), 3);
	assert_string_equal(v[0].cache, "(one)");
	assert_string_equal(v[1].cache, "(two)");
	assert_false(v[2].has_cache);
	store_user_close(&u);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_append_one, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_append_many, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_append_errors, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_cache_on_delivery, fixture_setup,
					    fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
