/* workpool.c - threads for blocking work, results through a pipe. */
#include "lib/common.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/workpool.h"
#include "lib/xalloc.h"

/* Results of a batch go back in one write, which must stay atomic. */
_Static_assert(WORKPOOL_BATCH_MAX * sizeof(void *) <= PIPE_BUF, "batch over PIPE_BUF");

struct workpool_job {
	struct workpool_job *next;
	uint64_t key;
	workpool_run_fn *run;		  /* or: */
	workpool_run_batch_fn *run_batch; /* one of the two */
	workpool_done_fn *done;
	void *arg;
	atomic_bool cancelled;
};

/* Each thread has its own queue, so that jobs with the same key run in
 * order on the same thread (no two threads contend for one mailbox). */
struct lane {
	struct workpool *pool;
	pthread_t thread;
	pthread_cond_t cond;
	struct workpool_job *head, *tail;
};

struct workpool {
	struct event_base *base;
	unsigned nthreads;
	struct lane *lanes;
	unsigned next_lane; /* for jobs without a key */
	void *(*thread_init)(void *);
	void (*thread_fini)(void *);
	void *init_arg;
	bool started;
	pthread_mutex_t lock;
	bool stopping;
	size_t pending;
	int pipe_rd, pipe_wr;
	struct event *pipe_ev;
};

static void
job_done(struct workpool *pool, struct workpool_job *job)
{
	pool->pending--;
	job->done(job->arg, atomic_load(&job->cancelled));
	free(job);
}

/* Take the next job of the lane and, when it is batchable, the jobs of
 * its key queued behind it (under the pool's lock). Returns how many. */
static size_t
lane_take(struct lane *lane, struct workpool_job **batch)
{
	struct workpool_job *job = lane->head;
	size_t n = 0;

	lane->head = job->next;
	if (lane->head == NULL)
		lane->tail = NULL;
	job->next = NULL;
	batch[n++] = job;
	if (job->run_batch == NULL)
		return n;
	struct workpool_job *prev = NULL, *j = lane->head;
	while (j != NULL && n < WORKPOOL_BATCH_MAX) {
		if (j->key != job->key) {
			prev = j;
			j = j->next;
			continue;
		}
		if (j->run_batch != job->run_batch)
			break; /* taking jobs past it would reorder the key */
		struct workpool_job *next = j->next;
		if (prev != NULL)
			prev->next = next;
		else
			lane->head = next;
		if (lane->tail == j)
			lane->tail = prev;
		j->next = NULL;
		batch[n++] = j;
		j = next;
	}
	return n;
}

static void *
thread_main(void *arg)
{
	struct lane *lane = arg;
	struct workpool *pool = lane->pool;
	void *ctx = pool->thread_init != NULL ? pool->thread_init(pool->init_arg) : NULL;
	struct workpool_job *batch[WORKPOOL_BATCH_MAX];
	void *args[WORKPOOL_BATCH_MAX];

	for (;;) {
		pthread_mutex_lock(&pool->lock);
		while (lane->head == NULL && !pool->stopping)
			pthread_cond_wait(&lane->cond, &pool->lock);
		if (lane->head == NULL) {
			pthread_mutex_unlock(&pool->lock);
			break;
		}
		size_t n = lane_take(lane, batch);
		pthread_mutex_unlock(&pool->lock);

		if (batch[0]->run_batch != NULL) {
			size_t nargs = 0;
			for (size_t i = 0; i < n; i++)
				if (!atomic_load(&batch[i]->cancelled))
					args[nargs++] = batch[i]->arg;
			if (nargs > 0)
				batch[0]->run_batch(ctx, args, nargs);
		} else if (!atomic_load(&batch[0]->cancelled)) {
			batch[0]->run(ctx, batch[0]->arg);
		}
		ssize_t w;
		do
			w = write(pool->pipe_wr, batch, n * sizeof(batch[0]));
		while (w < 0 && errno == EINTR);
		if (w != (ssize_t)(n * sizeof(batch[0])))
			fatal("workpool: result pipe: %s", strerror(errno));
	}
	if (pool->thread_fini != NULL)
		pool->thread_fini(ctx);
	return NULL;
}

static void
results_ready(evutil_socket_t fd, short what, void *arg)
{
	struct workpool *pool = arg;
	struct workpool_job *job;

	while (read(pool->pipe_rd, &job, sizeof(job)) == sizeof(job))
		job_done(pool, job);
}

struct workpool *
workpool_new(struct event_base *base, unsigned threads, void *(*thread_init)(void *),
	     void (*thread_fini)(void *), void *init_arg)
{
	struct workpool *pool = xcalloc(1, sizeof(*pool));
	int fds[2];

	pool->base = base;
	pool->nthreads = threads ? threads : 1;
	pool->thread_init = thread_init;
	pool->thread_fini = thread_fini;
	pool->init_arg = init_arg;
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
		fatal("workpool: pipe: %s", strerror(errno));
	/* Threads block rather than lose a result; the loop never blocks. */
	if (fcntl(fds[1], F_SETFL, 0) < 0)
		fatal("workpool: fcntl: %s", strerror(errno));
	pool->pipe_rd = fds[0];
	pool->pipe_wr = fds[1];
	pool->pipe_ev = event_new(base, pool->pipe_rd, EV_READ | EV_PERSIST, results_ready, pool);
	event_add(pool->pipe_ev, NULL);
	pthread_mutex_init(&pool->lock, NULL);
	pool->lanes = xcalloc(pool->nthreads, sizeof(*pool->lanes));
	for (unsigned i = 0; i < pool->nthreads; i++) {
		pool->lanes[i].pool = pool;
		pthread_cond_init(&pool->lanes[i].cond, NULL);
	}
	return pool;
}

static void
start_threads(struct workpool *pool)
{
	sigset_t all, old;

	/* Signals are the event loop's business. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (unsigned i = 0; i < pool->nthreads; i++) {
		int err =
		    pthread_create(&pool->lanes[i].thread, NULL, thread_main, &pool->lanes[i]);
		if (err != 0)
			fatal("workpool: pthread_create: %s", strerror(err));
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pool->started = true;
}

struct workpool_job *
workpool_submit(struct workpool *pool, workpool_run_fn *run, workpool_done_fn *done, void *arg)
{
	return workpool_submit_keyed(pool, pool->next_lane++, run, done, arg);
}

static struct workpool_job *
submit(struct workpool *pool, uint64_t key, workpool_run_fn *run, workpool_run_batch_fn *run_batch,
       workpool_done_fn *done, void *arg)
{
	struct workpool_job *job = xcalloc(1, sizeof(*job));

	job->key = key;
	job->run = run;
	job->run_batch = run_batch;
	job->done = done;
	job->arg = arg;
	atomic_init(&job->cancelled, false);
	struct lane *lane = &pool->lanes[key % pool->nthreads];
	pthread_mutex_lock(&pool->lock);
	if (!pool->started)
		start_threads(pool);
	if (lane->tail != NULL)
		lane->tail->next = job;
	else
		lane->head = job;
	lane->tail = job;
	pool->pending++;
	pthread_cond_signal(&lane->cond);
	pthread_mutex_unlock(&pool->lock);
	return job;
}

struct workpool_job *
workpool_submit_keyed(struct workpool *pool, uint64_t key, workpool_run_fn *run,
		      workpool_done_fn *done, void *arg)
{
	return submit(pool, key, run, NULL, done, arg);
}

struct workpool_job *
workpool_submit_batched(struct workpool *pool, uint64_t key, workpool_run_batch_fn *run_batch,
			workpool_done_fn *done, void *arg)
{
	return submit(pool, key, NULL, run_batch, done, arg);
}

void
workpool_cancel(struct workpool_job *job)
{
	atomic_store(&job->cancelled, true);
}

size_t
workpool_pending(const struct workpool *pool)
{
	return pool->pending;
}

void
workpool_free(struct workpool **poolp)
{
	struct workpool *pool = *poolp;

	if (pool == NULL)
		return;
	/* Jobs not started yet are reported cancelled. */
	pthread_mutex_lock(&pool->lock);
	for (unsigned i = 0; i < pool->nthreads; i++) {
		for (struct workpool_job *job = pool->lanes[i].head; job != NULL; job = job->next)
			atomic_store(&job->cancelled, true);
		pthread_cond_broadcast(&pool->lanes[i].cond);
	}
	pool->stopping = true;
	pthread_mutex_unlock(&pool->lock);
	if (pool->started)
		for (unsigned i = 0; i < pool->nthreads; i++)
			pthread_join(pool->lanes[i].thread, NULL);
	/* Every job has gone through the pipe by now. */
	results_ready(pool->pipe_rd, EV_READ, pool);
	event_free(pool->pipe_ev);
	close(pool->pipe_rd);
	close(pool->pipe_wr);
	pthread_mutex_destroy(&pool->lock);
	for (unsigned i = 0; i < pool->nthreads; i++)
		pthread_cond_destroy(&pool->lanes[i].cond);
	free(pool->lanes);
	free(pool);
	*poolp = NULL;
}
