/*
 * worker_int.h - private to src/worker: the worker (its local queue of activity tasks and its
 * threads) and running one activity (act.c).
 *
 * The worker registers itself with the engine as the dispatcher of the queues it serves: the
 * engine thread hands it leased tasks right after each commit (worker.c's dispatch, which only
 * queues them), an activity thread takes one, runs it (act.c) and hands its outcome back
 * through the engine's sl_engine_task_* functions.
 *
 * Threads: the queue, `stop` and `live` are under mu; `draining` is read by activity threads
 * without it (sl_act_heartbeat is called often); the rest is fixed after sl_worker_start.
 */
#ifndef SLUICE_WORKER_INT_H
#define SLUICE_WORKER_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "sluice/worker.h"

struct sl_worker {
    sl_engine *e;
    const sl_registry *reg;
    int64_t grace_ms;
    pthread_t *threads;
    int n_threads;
    atomic_bool draining; /* sl_worker_stop began: activities are told to stop */

    pthread_mutex_t mu;
    pthread_cond_t cv;        /* a task was queued, or stop */
    pthread_cond_t done_cv;   /* an activity thread exited */
    sl_activity_task **queue; /* ring of tasks handed over and not started */
    size_t q_head, q_len, q_cap;
    bool stop; /* threads exit once the queue is empty */
    int live;  /* activity threads running */
};

/* Run t's activity on the calling thread and hand its outcome to the engine (which takes t).
 * Blocks for the activity's time. */
void sl__act_run(sl_worker *w, sl_activity_task *t);

static inline bool sl__worker_draining(sl_worker *w)
{
    return atomic_load_explicit(&w->draining, memory_order_acquire);
}

#endif
