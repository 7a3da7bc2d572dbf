/* test_verify.c - login checks off the event loop, the success cache, the
 * failure delay, cancellation. */
#include "lib/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "auth/password.h"
#include "auth/penalty.h"
#include "auth/verify.h"
#include "lib/buf.h"
#include "store/accounts.h"

struct fixture {
	char dir[64];
	struct accounts *db;
	struct event_base *base;
};

struct outcome {
	bool called;
	enum auth_result result;
	char address[128];
	char reason[128];
	struct timespec at;
};

static const struct password_cost cheap = {.m_kib = 64, .t = 1, .p = 1};

static void
add_user(struct accounts *db, const char *address, const char *password)
{
	struct buf h;
	const char *error;

	buf_init(&h, BUF_UNLIMITED);
	assert_int_equal(password_hash_cost(password, &cheap, &h, &error), 0);
	assert_int_equal(accounts_user_add(db, address, buf_cstr(&h), 0, true, &error), 0);
	buf_release(&h);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *error;

	snprintf(f->dir, sizeof(f->dir), "/tmp/postern-verify-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(accounts_open(f->dir, &f->db, &error), 0);
	assert_int_equal(accounts_domain_add(f->db, "example.test", &error), 0);
	add_user(f->db, "alice@example.test", "correct horse");
	f->base = event_base_new();
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	accounts_close(&f->db);
	event_base_free(f->base);
	snprintf(cmd, sizeof(cmd), "%s/postern.db", f->dir);
	unlink(cmd);
	snprintf(cmd, sizeof(cmd), "%s/postern.db-wal", f->dir);
	unlink(cmd);
	snprintf(cmd, sizeof(cmd), "%s/postern.db-shm", f->dir);
	unlink(cmd);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
record(enum auth_result result, const char *address, const char *reason, void *ctx)
{
	struct outcome *o = ctx;

	o->called = true;
	o->result = result;
	snprintf(o->address, sizeof(o->address), "%s", address ? address : "");
	snprintf(o->reason, sizeof(o->reason), "%s", reason ? reason : "");
	clock_gettime(CLOCK_MONOTONIC, &o->at);
}

static double
run_until(struct fixture *f, struct outcome *o)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!o->called)
		event_base_loop(f->base, EVLOOP_ONCE);
	return (double)(o->at.tv_sec - t0.tv_sec) + (o->at.tv_nsec - t0.tv_nsec) / 1e9;
}

static void
test_ok_then_cached(void **state)
{
	struct fixture *f = *state;
	struct auth_verifier *v = auth_verifier_new(f->base, 2, 3600, 300);
	struct outcome o = {0};

	/* Case-insensitive domain: canonicalised. */
	assert_non_null(auth_verify(v, f->db, NULL, "alice@EXAMPLE.test", "correct horse", record, &o));
	assert_false(o.called); /* never from inside the call */
	run_until(f, &o);
	assert_int_equal(o.result, AUTH_OK);
	assert_string_equal(o.address, "alice@example.test");
	assert_int_equal(auth_verifier_hashes(v), 1);

	/* The second login is answered from the cache: no hash computed. */
	memset(&o, 0, sizeof(o));
	auth_verify(v, f->db, NULL, "alice@example.test", "correct horse", record, &o);
	run_until(f, &o);
	assert_int_equal(o.result, AUTH_OK);
	assert_int_equal(auth_verifier_hashes(v), 1);

	/* A wrong password is not answered from the cache. */
	memset(&o, 0, sizeof(o));
	auth_verify(v, f->db, NULL, "alice@example.test", "wrong", record, &o);
	double t = run_until(f, &o);
	assert_int_equal(o.result, AUTH_FAILED);
	assert_string_equal(o.reason, "wrong password");
	assert_true(t >= 0.29);
	assert_int_equal(auth_verifier_hashes(v), 2);

	/* A password change invalidates the cached success. */
	struct buf h;
	const char *error;
	buf_init(&h, BUF_UNLIMITED);
	assert_int_equal(password_hash_cost("new one", &cheap, &h, &error), 0);
	assert_int_equal(accounts_user_set_password(f->db, "alice@example.test", buf_cstr(&h),
						    &error), 0);
	buf_release(&h);
	memset(&o, 0, sizeof(o));
	auth_verify(v, f->db, NULL, "alice@example.test", "correct horse", record, &o);
	run_until(f, &o);
	assert_int_equal(o.result, AUTH_FAILED);
	memset(&o, 0, sizeof(o));
	auth_verify(v, f->db, NULL, "alice@example.test", "new one", record, &o);
	run_until(f, &o);
	assert_int_equal(o.result, AUTH_OK);
	auth_verifier_free(&v);
	assert_null(v);
}

static void
test_unknown_disabled_invalid(void **state)
{
	struct fixture *f = *state;
	struct auth_verifier *v = auth_verifier_new(f->base, 1, 3600, 0);
	struct outcome o = {0};
	const char *error;

	auth_verify(v, f->db, NULL, "bob@example.test", "correct horse", record, &o);
	run_until(f, &o);
	assert_int_equal(o.result, AUTH_FAILED);
	assert_string_equal(o.reason, "unknown user");
	/* The unknown user cost a hash, like a known one. */
	assert_int_equal(auth_verifier_hashes(v), 1);

	assert_int_equal(accounts_user_set_enabled(f->db, "alice@example.test", false, &error), 0);
	memset(&o, 0, sizeof(o));
	auth_verify(v, f->db, NULL, "alice@example.test", "correct horse", record, &o);
	run_until(f, &o);
	assert_int_equal(o.result, AUTH_FAILED);
	assert_string_equal(o.reason, "account disabled");

	memset(&o, 0, sizeof(o));
	auth_verify(v, f->db, NULL, "not an address", "x", record, &o);
	run_until(f, &o);
	assert_int_equal(o.result, AUTH_FAILED);
	assert_string_equal(o.reason, "invalid user name");
	auth_verifier_free(&v);
}

static void
test_cancel(void **state)
{
	struct fixture *f = *state;
	struct auth_verifier *v = auth_verifier_new(f->base, 1, 0, 0);
	struct outcome a = {0}, b = {0};

	struct auth_request *ra = auth_verify(v, f->db, NULL, "alice@example.test", "correct horse",
					      record, &a);
	auth_verify(v, f->db, NULL, "alice@example.test", "correct horse", record, &b);
	auth_request_cancel(&ra);
	assert_null(ra);
	run_until(f, &b);
	assert_int_equal(b.result, AUTH_OK);
	/* Give the cancelled one time to come back: it must stay silent. */
	struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
	event_base_loopexit(f->base, &tv);
	event_base_dispatch(f->base);
	assert_false(a.called);
	/* Cancel one still waiting for its deferred answer, and free the
	 * verifier with a request in flight. */
	struct outcome c = {0}, d = {0};
	struct auth_request *rc = auth_verify(v, f->db, NULL, "x@", "y", record, &c);
	auth_request_cancel(&rc);
	auth_verify(v, f->db, NULL, "alice@example.test", "correct horse", record, &d);
	auth_verifier_free(&v);
	assert_false(c.called);
}

static enum auth_result
login(struct fixture *f, struct auth_verifier *v, const char *peer, const char *password)
{
	struct outcome o = {0};

	auth_verify(v, f->db, peer, "alice@example.test", password, record, &o);
	run_until(f, &o);
	return o.result;
}

static enum auth_result
checked(struct fixture *f, struct auth_verifier *v, const char *peer, const char *address)
{
	struct outcome o = {0};

	auth_verify_checked(v, peer, address, "digest mismatch", record, &o);
	assert_false(o.called);
	run_until(f, &o);
	if (o.result == AUTH_OK)
		assert_string_equal(o.address, address);
	else if (o.result == AUTH_FAILED)
		assert_string_equal(o.reason, "digest mismatch");
	return o.result;
}

static void
test_refused_after_failures(void **state)
{
	struct fixture *f = *state;
	struct auth_verifier *v = auth_verifier_new(f->base, 1, 0, 0);
	struct auth_penalty *p = auth_penalty_create();

	auth_verifier_set_penalty(v, p, 3, 600);
	/* a success does not reset the count */
	assert_int_equal(login(f, v, "192.0.2.1", "wrong"), AUTH_FAILED);
	assert_int_equal(login(f, v, "192.0.2.1", "correct horse"), AUTH_OK);
	assert_int_equal(login(f, v, "192.0.2.1", "wrong"), AUTH_FAILED);
	/* the third failure through the caller's own check (APOP) */
	assert_int_equal(checked(f, v, "192.0.2.1", NULL), AUTH_FAILED);
	/* now refused, the right password too, without a hash */
	unsigned long hashes = auth_verifier_hashes(v);
	assert_int_equal(login(f, v, "192.0.2.1", "correct horse"), AUTH_REFUSED);
	assert_int_equal(checked(f, v, "192.0.2.1", "alice@example.test"), AUTH_REFUSED);
	assert_int_equal(auth_verifier_hashes(v), hashes);
	/* other clients, and logins without a peer, are not */
	assert_int_equal(login(f, v, "192.0.2.2", "correct horse"), AUTH_OK);
	assert_int_equal(checked(f, v, "192.0.2.2", "alice@example.test"), AUTH_OK);
	assert_int_equal(login(f, v, NULL, "correct horse"), AUTH_OK);
	assert_int_equal(login(f, v, NULL, "wrong"), AUTH_FAILED);
	assert_int_equal(auth_penalty_fail(p, "192.0.2.2", 600, time(NULL)), 1);
	/* unknown users count like wrong passwords */
	struct outcome o = {0};
	for (int i = 0; i < 3; i++) {
		memset(&o, 0, sizeof(o));
		auth_verify(v, f->db, "192.0.2.3", "nobody@example.test", "x", record, &o);
		run_until(f, &o);
		assert_int_equal(o.result, AUTH_FAILED);
	}
	assert_int_equal(login(f, v, "192.0.2.3", "correct horse"), AUTH_REFUSED);
	auth_verifier_free(&v);
	auth_penalty_destroy(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ok_then_cached, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_disabled_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_after_failures, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
