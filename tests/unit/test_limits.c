/* test_limits.c - connection counts shared between processes. */
#include "lib/common.h"

#include <setjmp.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/wait.h>
#include <unistd.h>

#include "server/limits.h"

static struct sockaddr_in
v4(const char *ip)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};

	inet_pton(AF_INET, ip, &sin.sin_addr);
	return sin;
}

static void
test_per_ip_and_total(void **state)
{
	struct limits *l = limits_create();
	int r1 = limits_row_claim(l), r2 = limits_row_claim(l);
	struct sockaddr_in a = v4("192.0.2.1"), b = v4("192.0.2.2");
	struct limit_ticket t[4];

	assert_true(r1 >= 0 && r2 >= 0 && r1 != r2);
	/* Two connections from a on two workers: the per-IP limit of 2 holds
	 * across rows. */
	assert_int_equal(limits_admit(l, r1, SVC_IMAP, (struct sockaddr *)&a, 3, 2, &t[0]),
			 LIMIT_OK);
	assert_int_equal(limits_admit(l, r2, SVC_IMAP, (struct sockaddr *)&a, 3, 2, &t[1]),
			 LIMIT_OK);
	assert_int_equal(limits_admit(l, r1, SVC_IMAP, (struct sockaddr *)&a, 3, 2, &t[2]),
			 LIMIT_PER_IP);
	/* Other services count separately. */
	assert_int_equal(limits_admit(l, r1, SVC_POP3, (struct sockaddr *)&a, 3, 2, &t[3]),
			 LIMIT_OK);
	limits_release(l, &t[3]);
	/* b is a different address, but the service total is 3. */
	assert_int_equal(limits_admit(l, r2, SVC_IMAP, (struct sockaddr *)&b, 3, 2, &t[2]),
			 LIMIT_OK);
	assert_int_equal(limits_admit(l, r2, SVC_IMAP, (struct sockaddr *)&b, 3, 2, &t[3]),
			 LIMIT_TOTAL);
	assert_int_equal(limits_current(l, SVC_IMAP), 3);
	/* Refusals left nothing behind; releases free the slots. */
	limits_release(l, &t[0]);
	assert_int_equal(limits_admit(l, r1, SVC_IMAP, (struct sockaddr *)&a, 3, 2, &t[0]),
			 LIMIT_OK);
	/* A dead worker's row is forgotten. */
	limits_row_release(l, r2);
	assert_int_equal(limits_current(l, SVC_IMAP), 1);
	assert_int_equal(limits_admit(l, r1, SVC_IMAP, (struct sockaddr *)&b, 3, 2, &t[1]),
			 LIMIT_OK);
	limits_destroy(&l);
	assert_null(l);
}

static void
test_unlimited_and_mapped(void **state)
{
	struct limits *l = limits_create();
	int r = limits_row_claim(l);
	struct sockaddr_in a = v4("198.51.100.7");
	struct sockaddr_in6 mapped = {.sin6_family = AF_INET6};
	struct limit_ticket t;

	inet_pton(AF_INET6, "::ffff:198.51.100.7", &mapped.sin6_addr);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(limits_admit(l, r, SVC_SMTP, (struct sockaddr *)&a, 0, 0, &t),
				 LIMIT_OK);
	assert_int_equal(limits_current(l, SVC_SMTP), 1000);
	/* An IPv4-mapped IPv6 peer is the same address. */
	assert_int_equal(limits_admit(l, r, SVC_SMTP, (struct sockaddr *)&mapped, 0, 1000, &t),
			 LIMIT_PER_IP);
	limits_destroy(&l);
}

static void
test_shared_across_fork(void **state)
{
	struct limits *l = limits_create();
	int r1 = limits_row_claim(l), r2 = limits_row_claim(l);
	struct sockaddr_in a = v4("203.0.113.9");
	struct limit_ticket t;

	pid_t pid = fork();
	if (pid == 0) {
		_exit(limits_admit(l, r2, SVC_SMTP, (struct sockaddr *)&a, 0, 1, &t) == LIMIT_OK
			  ? 0
			  : 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The child's connection counts here. */
	assert_int_equal(limits_admit(l, r1, SVC_SMTP, (struct sockaddr *)&a, 0, 1, &t),
			 LIMIT_PER_IP);
	limits_destroy(&l);
}

/* The less loaded row: only accepting rows in use, only when lower than
 * the asking row's own load, connections handed to a row counted. */
static void
test_less_loaded(void **state)
{
	struct limits *l = limits_create();
	int r1 = limits_row_claim(l);
	struct sockaddr_in a = v4("192.0.2.1");
	struct limit_ticket t[6];

	for (int i = 0; i < 4; i++)
		assert_int_equal(limits_admit(l, r1, SVC_IMAP, (struct sockaddr *)&a, 0, 0, &t[i]),
				 LIMIT_OK);
	limits_set_accepting(l, r1, true);
	/* alone: nobody to give to */
	assert_int_equal(limits_less_loaded(l, r1), -1);
	int r2 = limits_row_claim(l);
	/* r2 is not accepting yet */
	assert_int_equal(limits_less_loaded(l, r1), -1);
	limits_set_accepting(l, r2, true);
	assert_int_equal(limits_less_loaded(l, r1), r2);
	assert_int_equal(limits_less_loaded(l, r2), -1);
	/* every service counts: 4 against 2 */
	assert_int_equal(limits_admit(l, r2, SVC_POP3, (struct sockaddr *)&a, 0, 0, &t[4]),
			 LIMIT_OK);
	assert_int_equal(limits_admit(l, r2, SVC_SMTP, (struct sockaddr *)&a, 0, 0, &t[5]),
			 LIMIT_OK);
	assert_int_equal(limits_less_loaded(l, r1), r2);
	/* two handed to r2 and not yet taken: 4 against 4, equal is not less */
	limits_incoming(l, r2, 2);
	assert_int_equal(limits_less_loaded(l, r1), -1);
	assert_int_equal(limits_less_loaded(l, r2), -1);
	limits_incoming(l, r2, -1);
	assert_int_equal(limits_less_loaded(l, r1), r2);
	/* the lowest of several; a retiring row is passed over */
	int r3 = limits_row_claim(l);
	limits_set_accepting(l, r3, true);
	assert_int_equal(limits_less_loaded(l, r1), r3);
	assert_int_equal(limits_less_loaded(l, r2), r3);
	limits_set_accepting(l, r3, false);
	assert_int_equal(limits_less_loaded(l, r1), r2);
	/* a released row forgets its counts and its flag */
	limits_row_release(l, r2);
	assert_int_equal(limits_less_loaded(l, r1), -1);
	int again = limits_row_claim(l);
	assert_int_equal(again, r2);
	limits_set_accepting(l, again, true);
	assert_int_equal(limits_less_loaded(l, r1), again);
	limits_destroy(&l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_per_ip_and_total),
	    cmocka_unit_test(test_unlimited_and_mapped),
	    cmocka_unit_test(test_shared_across_fork),
	    cmocka_unit_test(test_less_loaded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
