/* test_penalty.c - failed logins per address: the window, the refusal, the
 * IPv6 /64, slots taken over under a flood, and sharing across fork. */
#include "lib/common.h"

#include <setjmp.h>

#include <cmocka.h>

#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/penalty.h"

#define WINDOW 900
#define MAXF 5

static void
test_refused_after_max(void **state)
{
	struct auth_penalty *p = auth_penalty_create();
	time_t t = 1000000;

	for (unsigned i = 1; i < MAXF; i++) {
		assert_int_equal(auth_penalty_fail(p, "192.0.2.7", WINDOW, t + i), i);
		assert_false(auth_penalty_refused(p, "192.0.2.7", MAXF, WINDOW, t + i));
	}
	assert_int_equal(auth_penalty_fail(p, "192.0.2.7", WINDOW, t + MAXF), MAXF);
	assert_true(auth_penalty_refused(p, "192.0.2.7", MAXF, WINDOW, t + MAXF));
	/* another address, the same address as IPv4-mapped, max 0 */
	assert_false(auth_penalty_refused(p, "192.0.2.8", MAXF, WINDOW, t + MAXF));
	assert_true(auth_penalty_refused(p, "::ffff:192.0.2.7", MAXF, WINDOW, t + MAXF));
	assert_false(auth_penalty_refused(p, "192.0.2.7", 0, WINDOW, t + MAXF));
	/* refused until the window from the first failure has passed */
	assert_true(auth_penalty_refused(p, "192.0.2.7", MAXF, WINDOW, t + WINDOW));
	assert_false(auth_penalty_refused(p, "192.0.2.7", MAXF, WINDOW, t + 1 + WINDOW));
	/* then counting starts again */
	assert_int_equal(auth_penalty_fail(p, "192.0.2.7", WINDOW, t + 1 + WINDOW), 1);
	assert_false(auth_penalty_refused(p, "192.0.2.7", MAXF, WINDOW, t + 1 + WINDOW));
	/* a clock stepping back does not keep a client refused */
	for (unsigned i = 0; i < MAXF; i++)
		auth_penalty_fail(p, "192.0.2.9", WINDOW, t);
	assert_false(auth_penalty_refused(p, "192.0.2.9", MAXF, WINDOW, t - 10));
	auth_penalty_destroy(&p);
	assert_null(p);
}

static void
test_ipv6_prefix_and_garbage(void **state)
{
	struct auth_penalty *p = auth_penalty_create();
	time_t t = 5000;

	/* one /64 counts as one client */
	for (unsigned i = 0; i < MAXF; i++) {
		char ip[64];
		snprintf(ip, sizeof(ip), "2001:db8:1:2::%x", i + 1);
		auth_penalty_fail(p, ip, WINDOW, t);
	}
	assert_true(auth_penalty_refused(p, "2001:db8:1:2:ffff::1", MAXF, WINDOW, t));
	assert_false(auth_penalty_refused(p, "2001:db8:1:3::1", MAXF, WINDOW, t));
	/* what is not an address is neither counted nor refused */
	assert_int_equal(auth_penalty_fail(p, "", WINDOW, t), 0);
	assert_int_equal(auth_penalty_fail(p, "not an ip", WINDOW, t), 0);
	assert_int_equal(auth_penalty_fail(p, "1.2.3.4.5", WINDOW, t), 0);
	assert_false(auth_penalty_refused(p, "not an ip", 1, WINDOW, t));
	/* no table: nothing counted */
	assert_int_equal(auth_penalty_fail(NULL, "192.0.2.1", WINDOW, t), 0);
	assert_false(auth_penalty_refused(NULL, "192.0.2.1", 1, WINDOW, t));
	auth_penalty_destroy(&p);
}

static void
test_flood_forgets_never_refuses(void **state)
{
	struct auth_penalty *p = auth_penalty_create();
	time_t t = 100;
	char ip[32];

	for (unsigned i = 0; i < MAXF; i++)
		auth_penalty_fail(p, "198.51.100.1", WINDOW, t);
	/* 4 failures each from 100,000 other addresses: many times the table */
	for (unsigned a = 0; a < 100000; a++) {
		snprintf(ip, sizeof(ip), "10.%u.%u.%u", a >> 16, (a >> 8) & 255, a & 255);
		for (unsigned i = 0; i < MAXF - 1; i++)
			auth_penalty_fail(p, ip, WINDOW, t + 1);
	}
	/* none of them is refused: slots are taken over, never shared */
	unsigned refused = 0;
	for (unsigned a = 0; a < 100000; a++) {
		snprintf(ip, sizeof(ip), "10.%u.%u.%u", a >> 16, (a >> 8) & 255, a & 255);
		refused += auth_penalty_refused(p, ip, MAXF, WINDOW, t + 1);
	}
	assert_int_equal(refused, 0);
	/* the flooded table has lost the first address (its window was the
	 * oldest): forgetting is the price, not a wrong refusal */
	assert_false(auth_penalty_refused(p, "198.51.100.1", MAXF, WINDOW, t + 1));
	auth_penalty_destroy(&p);
}

static void
test_shared_across_fork(void **state)
{
	struct auth_penalty *p = auth_penalty_create();
	time_t t = 42;

	for (int child = 0; child < 4; child++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			for (int i = 0; i < 100; i++)
				auth_penalty_fail(p, "203.0.113.5", WINDOW, t);
			_exit(0);
		}
	}
	for (int child = 0; child < 4; child++) {
		int status;
		assert_true(wait(&status) > 0);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	/* every failure of every process counted, none lost to a race */
	assert_int_equal(auth_penalty_fail(p, "203.0.113.5", WINDOW, t), 401);
	assert_true(auth_penalty_refused(p, "203.0.113.5", 401, WINDOW, t));
	assert_false(auth_penalty_refused(p, "203.0.113.5", 402, WINDOW, t));
	auth_penalty_destroy(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refused_after_max),
	    cmocka_unit_test(test_ipv6_prefix_and_garbage),
	    cmocka_unit_test(test_flood_forgets_never_refuses),
	    cmocka_unit_test(test_shared_across_fork),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
