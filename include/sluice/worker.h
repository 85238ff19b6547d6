/*
 * worker.h - a worker: threads that run the activity tasks an engine leases for the task
 * queues it serves, plus graceful shutdown. It is the engine's local dispatcher
 * (sl_dispatcher, engine.h): the engine thread hands it tasks right after the commit that
 * leased them, it queues them, and an activity thread runs each and hands the outcome back.
 *
 *   sl_worker_start --> RUNNING      leasing, queueing, running activities
 *                          |
 *                    sl_worker_stop
 *                          v
 *                       DRAINING     the engine leases nothing more; queued tasks are
 *                          |         released; running activities finish, and those that
 *                          |         heartbeat are told to stop and are released
 *          +---------------+------------------+
 *    all threads done                   grace elapsed
 *          v                                  v
 *       STOPPED (w freed; returns true)    LEFT (returns false: threads still use w,
 *                                                the process should exit)
 *
 * A task in the worker is QUEUED (handed over, not started; at most `capacity`, and on a
 * queue with a rate or concurrency limit at most `concurrency`) or RUNNING on a thread;
 * either way the engine counts it until its outcome is recorded. Workflow tasks run on the
 * engine thread; this module only supplies activity threads.
 * Threads: sl_worker_* are called from one controlling thread; stop the worker before
 * closing its engine.
 */
#ifndef SLUICE_WORKER_H
#define SLUICE_WORKER_H

#include "sluice/engine.h"

typedef struct sl_worker sl_worker;

typedef struct sl_worker_opts {
    const char *const *queues; /* default {"default"} */
    size_t n_queues;
    int concurrency;           /* activity threads, default 8 */
    int capacity;              /* activity tasks leased at once, default 4 x concurrency */
    int64_t shutdown_grace_ms; /* wait for running activities on stop, default 10 s */
} sl_worker_opts;

void sl_worker_opts_init(sl_worker_opts *o);

/* Serve the queues and start the threads. The engine must be threaded. */
SL_MUST_USE sl_code sl_worker_start(sl_engine *e, const sl_worker_opts *o, sl_worker **out,
                                    sl_err *err);
/* True when nothing is pending for the served queues, here or in the database, including
 * timers of sleeping runs (--exit-when-idle: drain everything). */
bool sl_worker_is_idle(sl_worker *w);
/* True when nothing is runnable now: no task here, none visible or due in the database; runs
 * sleeping on timers, and retries due later, are left (--exit-when-drained). */
bool sl_worker_is_drained(sl_worker *w);
/* Drain and stop. Returns false if activities were still running when the grace period
 * ended (their threads are left behind; the caller should exit the process). */
bool sl_worker_stop(sl_worker *w);

#endif
