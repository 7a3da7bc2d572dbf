/* test_workpool.c - jobs run on threads, report on the loop, in order per
 * key, and cancelled jobs never run their work. */
#include "lib/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
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

/* --- batched jobs --- */

struct bitem {
	int key, seq;
	bool done, cancelled;
};

/* Each run: "k:seq,seq;" appended, so the test sees the batches. */
static char runs[512];
static size_t runs_len;
static atomic_bool released;

static void
blocker(void *ctx, void *arg)
{
	while (!atomic_load(&released))
		usleep(1000);
}

static void
run_batch(void *ctx, void **args, size_t n)
{
	assert_true(ctx == (void *)0x1234);
	assert_true(n >= 1 && n <= WORKPOOL_BATCH_MAX);
	for (size_t i = 0; i < n; i++) {
		struct bitem *it = args[i];
		int w = snprintf(runs + runs_len, sizeof(runs) - runs_len, "%s%d",
				 i == 0 ? "" : ",", i == 0 ? it->key * 100 + it->seq : it->seq);
		assert_true(w > 0 && (size_t)w < sizeof(runs) - runs_len);
		runs_len += (size_t)w;
	}
	runs[runs_len++] = ';';
	runs[runs_len] = '\0';
}

static void
run_single(void *ctx, void *arg)
{
	struct bitem *it = arg;
	int w = snprintf(runs + runs_len, sizeof(runs) - runs_len, "single%d;", it->seq);
	assert_true(w > 0 && (size_t)w < sizeof(runs) - runs_len);
	runs_len += (size_t)w;
}

static void
bdone(void *arg, bool cancelled)
{
	struct bitem *it = arg;

	assert_true(pthread_equal(pthread_self(), loop_thread));
	assert_false(it->done);
	it->done = true;
	it->cancelled = cancelled;
}

static void
test_batched(void **state)
{
	struct event_base *base = event_base_new();
	/* One thread: every key shares the lane. */
	struct workpool *pool = workpool_new(base, 1, init, NULL, (void *)0x1234);
	struct bitem it[12];
	struct workpool_job *jobs[12];
	struct item block = {0};

	loop_thread = pthread_self();
	runs_len = 0;
	runs[0] = '\0';
	atomic_store(&released, false);
	workpool_submit(pool, blocker, done, &block);
	/* Queued behind the blocker: key 1 and key 2 interleaved, then a
	 * plain job of key 1, then more of key 1. */
	static const int keys[] = {1, 2, 1, 2, 1, 1, -1, 1, 1, 2, 3, 1};
	for (int i = 0; i < 12; i++) {
		it[i] = (struct bitem){.key = keys[i] < 0 ? 1 : keys[i], .seq = i};
		if (keys[i] < 0)
			jobs[i] = workpool_submit_keyed(pool, 1, run_single, bdone, &it[i]);
		else
			jobs[i] = workpool_submit_batched(pool, (uint64_t)keys[i], run_batch,
							  bdone, &it[i]);
	}
	/* A cancelled job is left out of its batch but still reported. */
	workpool_cancel(jobs[4]);
	atomic_store(&released, true);
	while (workpool_pending(pool) > 0)
		event_base_loop(base, EVLOOP_ONCE);
	/* Key 1 up to the plain job (2 and 5, not the cancelled 4); key 2
	 * all at once, passing over the plain job of key 1; the plain job;
	 * key 1 after it; key 3. */
	assert_string_equal(runs, "100,2,5;201,3,9;single6;107,8,11;310;");
	for (int i = 0; i < 12; i++) {
		assert_true(it[i].done);
		assert_int_equal(it[i].cancelled, i == 4);
	}
	assert_true(block.done);
	workpool_free(&pool);
	event_base_free(base);
}

static void
test_batched_cap(void **state)
{
	struct event_base *base = event_base_new();
	struct workpool *pool = workpool_new(base, 2, init, NULL, (void *)0x1234);
	enum { N = WORKPOOL_BATCH_MAX + 10 };
	static struct bitem it[N];
	struct item block = {0};

	loop_thread = pthread_self();
	runs_len = 0;
	runs[0] = '\0';
	atomic_store(&released, false);
	workpool_submit_keyed(pool, 0, blocker, done, &block);
	for (int i = 0; i < N; i++) {
		it[i] = (struct bitem){.key = 0, .seq = i};
		workpool_submit_batched(pool, 0, run_batch, bdone, &it[i]);
	}
	atomic_store(&released, true);
	while (workpool_pending(pool) > 0)
		event_base_loop(base, EVLOOP_ONCE);
	/* Two batches: the cap, then the rest, in order. */
	size_t semis = 0;
	for (size_t i = 0; i < runs_len; i++)
		semis += runs[i] == ';';
	assert_int_equal(semis, 2);
	char *second = strchr(runs, ';') + 1;
	assert_int_equal(atoi(second), WORKPOOL_BATCH_MAX);
	for (int i = 0; i < N; i++)
		assert_true(it[i].done && !it[i].cancelled);
	workpool_free(&pool);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keyed_order_and_results),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_batched),
		cmocka_unit_test(test_batched_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
