/* test_workpool.c - jobs run on threads, report on the loop, in order per
 * key, and cancelled jobs never run their work. */
#include "lib/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <unistd.h>

#include "lib/workpool.h"

struct item {
	int key, seq;
	bool ran, done, cancelled;
	pthread_t thread;
	int *order;      /* per-key record of run order */
	int *order_len;
};

static pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t loop_thread;
static int inits;

static void *
init(void *arg)
{
	__atomic_add_fetch(&inits, 1, __ATOMIC_SEQ_CST);
	return arg;
}

static void
run(void *ctx, void *arg)
{
	struct item *it = arg;

	assert_true(ctx == (void *)0x1234);
	it->ran = true;
	it->thread = pthread_self();
	usleep(1000);
	pthread_mutex_lock(&order_lock);
	it->order[(*it->order_len)++] = it->seq;
	pthread_mutex_unlock(&order_lock);
}

static void
done(void *arg, bool cancelled)
{
	struct item *it = arg;

	assert_true(pthread_equal(pthread_self(), loop_thread));
	it->done = true;
	it->cancelled = cancelled;
}

static void
test_keyed_order_and_results(void **state)
{
	struct event_base *base = event_base_new();
	struct workpool *pool = workpool_new(base, 3, init, NULL, (void *)0x1234);
	enum { KEYS = 4, PER = 25 };
	struct item items[KEYS][PER];
	int order[KEYS][PER], len[KEYS] = {0};

	loop_thread = pthread_self();
	for (int i = 0; i < PER; i++)
		for (int k = 0; k < KEYS; k++) {
			struct item *it = &items[k][i];
			*it = (struct item){.key = k, .seq = i, .order = order[k], .order_len = &len[k]};
			workpool_submit_keyed(pool, (uint64_t)k, run, done, it);
		}
	while (workpool_pending(pool) > 0)
		event_base_loop(base, EVLOOP_ONCE);
	for (int k = 0; k < KEYS; k++) {
		assert_int_equal(len[k], PER);
		for (int i = 0; i < PER; i++) {
			assert_true(items[k][i].done && items[k][i].ran && !items[k][i].cancelled);
			/* One key, one thread, submission order. */
			assert_int_equal(order[k][i], i);
			assert_true(pthread_equal(items[k][i].thread, items[k][0].thread));
		}
	}
	assert_int_equal(inits, 3);
	workpool_free(&pool);
	assert_null(pool);
	event_base_free(base);
}

static void
test_cancel(void **state)
{
	struct event_base *base = event_base_new();
	struct workpool *pool = workpool_new(base, 1, init, NULL, (void *)0x1234);
	struct item a = {0}, b = {0};
	int order[4], len = 0;

	loop_thread = pthread_self();
	a.order = b.order = order;
	a.order_len = b.order_len = &len;
	/* a occupies the only thread; b waits and is cancelled: it never runs,
	 * but its done is still called, with cancelled set. */
	workpool_submit(pool, run, done, &a);
	struct workpool_job *jb = workpool_submit_keyed(pool, 0, run, done, &b);
	workpool_cancel(jb);
	while (workpool_pending(pool) > 0)
		event_base_loop(base, EVLOOP_ONCE);
	assert_true(a.done && a.ran);
	assert_true(b.done && b.cancelled);
	assert_false(b.ran);
	/* Freeing with jobs queued reports them cancelled. */
	struct item c = {.order = order, .order_len = &len};
	workpool_submit(pool, run, done, &c);
	workpool_free(&pool);
	assert_true(c.done);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keyed_order_and_results),
		cmocka_unit_test(test_cancel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
