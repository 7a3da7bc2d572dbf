/* workpool.h - run blocking work on a few threads, report back on the
 * event loop.
 *
 * A worker process is one event loop; work that waits on the disk (fsync)
 * or burns CPU (password hashes) goes to a pool so that the loop keeps
 * serving other sessions and so that many sessions' fsyncs overlap (the
 * filesystem journals them together). Each thread may own a context made by
 * thread_init in that thread (a store handle, a database connection), given
 * to every job it runs.
 *
 * A job runs run(thread_ctx, arg) on a thread (or, batched, run_batch
 * together with other jobs of its key), then done(arg, cancelled) on the
 * event loop, always, exactly once: cancelled is true when the submitter
 * called workpool_cancel first, and done must then only free what arg
 * owns. Threads are created on first use (after fork).
 */
#ifndef POSTERN_WORKPOOL_H
#define POSTERN_WORKPOOL_H

#include "lib/common.h"

#include <event2/event.h>

struct workpool;
struct workpool_job;

typedef void workpool_run_fn(void *thread_ctx, void *arg);
typedef void workpool_done_fn(void *arg, bool cancelled);
/* Runs several batched jobs at once (args in submission order, n >= 1). */
typedef void workpool_run_batch_fn(void *thread_ctx, void **args, size_t n);

/* Most jobs one run_batch call is given. */
#define WORKPOOL_BATCH_MAX 64

struct workpool *workpool_new(struct event_base *base, unsigned threads,
			      void *(*thread_init)(void *init_arg),
			      void (*thread_fini)(void *thread_ctx), void *init_arg);
/* Waits for running jobs, runs the done callbacks of every job (cancelled
 * for those that never ran), joins the threads. */
void workpool_free(struct workpool **pool);

/* Queue a job on the next thread in turn. Returns its handle, valid until
 * done is called. */
struct workpool_job *workpool_submit(struct workpool *pool, workpool_run_fn *run,
				     workpool_done_fn *done, void *arg);
/* Queue a job on the thread chosen by key: jobs with the same key run one
 * after the other, in order (e.g. deliveries into one mailbox). */
struct workpool_job *workpool_submit_keyed(struct workpool *pool, uint64_t key,
					   workpool_run_fn *run, workpool_done_fn *done, void *arg);
/* Queue a batchable job on the thread chosen by key (group commit). When
 * the thread takes it, it also takes every job queued behind it in its
 * lane with the same key and the same run_batch, up to WORKPOOL_BATCH_MAX
 * (jobs of other keys are passed over and keep their place; a job of the
 * same key submitted otherwise ends the batch, so that per-key order
 * holds), and calls run_batch once for all of them that are not
 * cancelled. Jobs of one key still run in submission order, and done is
 * still called once per job, on the loop. */
struct workpool_job *workpool_submit_batched(struct workpool *pool, uint64_t key,
					     workpool_run_batch_fn *run_batch,
					     workpool_done_fn *done, void *arg);
/* The submitter goes away: done will be called with cancelled = true (a
 * job already running still finishes its run). */
void workpool_cancel(struct workpool_job *job);

/* Jobs queued or running. */
size_t workpool_pending(const struct workpool *pool);

#endif
