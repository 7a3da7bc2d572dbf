/* test_store_cli.c - 'postern reindex' driven through its command
 * function, as src/postern.c calls it. */
#include "lib/common.h"

#include "store_test.h"

#include "cli/cli.h"

int cmd_reindex(struct cli *cli, int argc, char **argv);

static int
run(struct fixture *f, const char *a1, const char *a2)
{
	struct cli cli = {.data_dir = f->dir, .command = "reindex"};
	char *argv[4] = {"reindex", (char *)a1, (char *)a2, NULL};
	int argc = a2 != NULL ? 3 : a1 != NULL ? 2 : 1;

	return cmd_reindex(&cli, argc, argv);
}

static void
test_reindex_command(void **state)
{
	struct fixture *f = *state;
	char path[512];
	const char *error = NULL;

	deliver_one(f->store, "kim@example.org", "Subject: 1\n\n\n");
	deliver_one(f->store, "kim@example.org", "Subject: 2\n\n\n");
	snprintf(path, sizeof(path), "%s/mail/example.org/kim/new/1600000000.P1Q1.x", f->dir);
	write_file(path, "Subject: dropped\n\n\n");
	/* The domain is made canonical (upper case, IDN). */
	assert_int_equal(run(f, "kim@EXAMPLE.org", NULL), 0);
	struct store_user *u;
	struct store_mailbox *box;
	uint32_t uids[8];
	assert_int_equal(store_user_open(f->store, "kim@example.org", false, &u, &error), 0);
	assert_int_equal(store_mailbox_open(u, "INBOX", true, &box, &error), 0);
	assert_int_equal(list_uids(box, uids, 8), 3);
	assert_int_equal(uids[2], 3);
	store_mailbox_close(&box);
	store_user_close(&u);
	assert_int_equal(run(f, "--scratch", "kim@example.org"), 0);

	assert_int_equal(run(f, NULL, NULL), EXIT_USAGE);
	assert_int_equal(run(f, "--bogus", "kim@example.org"), EXIT_USAGE);
	assert_int_equal(run(f, "--help", NULL), 0);
	assert_int_equal(run(f, "nobody@example.org", NULL), 1);
	assert_int_equal(run(f, "../x@example.org", NULL), 1);
	assert_int_equal(run(f, "noat", NULL), 1);
	assert_int_equal(run(f,
			     "kim@b\xc3\xbc"
			     "cher.example",
			     NULL),
			 1); /* no such user */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_reindex_command, fixture_setup, fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
