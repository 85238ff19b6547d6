/*
 * engine.h - the workflow engine: the registry of workflow and activity code, starting
 * and inspecting workflows, and serving task queues: the engine runs workflow tasks itself
 * and leases activity tasks to a dispatcher (the local worker, worker.h; a server for remote
 * workers), which hands back their outcomes through sl_engine_task_*.
 *
 * An sl_engine wraps one engine database. Opened `threaded`, it runs an engine thread
 * that owns the write connection and commits every state change in groups (one
 * transaction holds all changes that were ready); callers are told "done" only after
 * their change committed. Opened without a thread (the CLI), each call runs its own
 * transaction on the caller's thread.
 *
 * Workflow lifecycle (run status):
 *
 *   running --WorkflowExecutionCompleted------> completed
 *      |----WorkflowExecutionFailed----------> failed      (workflow code failed, or an
 *      |                                                    awaited activity failed)
 *      |----WorkflowExecutionCanceled--------> canceled    (sl_engine_cancel, then the
 *      |                                                    code accepted or returned)
 *      |----WorkflowExecutionTerminated------> terminated  (sl_engine_terminate)
 *      +----WorkflowExecutionContinuedAsNew--> continued_as_new (a new run follows)
 * (timed_out is reserved for workflow execution timeouts, which are not implemented.)
 * A failed, canceled or terminated run can be retried (sl_engine_retry): a new
 * run that keeps the results of the steps that succeeded.
 *
 * Threads: all sl_engine_* functions are thread-safe unless noted.
 */
#ifndef SLUICE_ENGINE_H
#define SLUICE_ENGINE_H

#include "sluice/activity.h"
#include "sluice/model.h"
#include "sluice/retry.h"
#include "sluice/workflow.h"

typedef struct sl_store sl_store; /* store.h; the engine's connection, passed to store work */

/* ---- registry ------------------------------------------------------------------- */

typedef struct sl_registry sl_registry;

SL_MUST_USE sl_registry *sl_registry_new(void);
void sl_registry_free(sl_registry *r);
void sl_registry_add_workflow(sl_registry *r, const char *type, sl_workflow_fn fn);
void sl_registry_add_activity(sl_registry *r, const char *type, sl_activity_fn fn);
sl_workflow_fn sl_registry_workflow(const sl_registry *r, const char *type);
sl_activity_fn sl_registry_activity(const sl_registry *r, const char *type);
/* Names of registered workflow types, comma separated (borrowed until the next add). */
const char *sl_registry_workflow_names(const sl_registry *r);

/* ---- engine --------------------------------------------------------------------- */

typedef struct sl_engine sl_engine;

typedef struct sl_engine_opts {
    const char *db_path;
    sl_durability durability;
    const sl_registry *registry; /* borrowed; must outlive the engine */
    bool threaded;               /* run the engine thread (workers, bench) */
    bool read_only;              /* inspect an existing database; never create or migrate */
    int cache_runs;              /* replay cache size, default 4096 runs */
    int64_t maintenance_ms;      /* timers and lease reaping interval, default 1000 */
    const char *identity;        /* worker identity, default "<host>:<pid>" */
    /* History size: a warning is logged past warn (default 10,000 events / 10 MiB); past
     * limit (default 50,000 events / 50 MiB) the next workflow task fails the run with
     * HistorySizeLimitExceeded. 0 disables. */
    int64_t history_warn_events, history_warn_bytes;
    int64_t history_limit_events, history_limit_bytes;
    /* Once serving, run the workflow tasks of every task queue, not only the served ones
     * (a server: its activities run on remote workers, sl_engine_lease_tasks). */
    bool all_workflow_queues;
} sl_engine_opts;

void sl_engine_opts_init(sl_engine_opts *o);
/*
 * Override defaults from the environment: SLUICE_MAINTENANCE_INTERVAL (a duration > 0) and
 * SLUICE_HISTORY_{WARN,LIMIT}_{EVENTS,BYTES} (integers >= 0; 0 disables). Unset or empty
 * variables leave the field alone. SL_EINVAL naming the variable for a malformed value.
 */
SL_MUST_USE sl_code sl_engine_opts_from_env(sl_engine_opts *o, sl_err *err);

/* Open the database (creating/migrating it). Errors as sl_store_open. */
SL_MUST_USE sl_code sl_engine_open(const sl_engine_opts *o, sl_engine **out, sl_err *err);
/* Stops the engine thread (after committing what was submitted) and closes. */
void sl_engine_close(sl_engine *e);
const char *sl_engine_identity(const sl_engine *e);
/* Shared resources for activities (sl_act_env); set before serving. */
void sl_engine_set_env(sl_engine *e, void *env);

/* ---- client operations ------------------------------------------------------------ */

#define SL_WORKFLOW_ID_MAX 255

/*
 * Check a name a user gives Sluice to keep: a workflow id, task queue, schedule or dataset
 * name. It must be 1-SL_WORKFLOW_ID_MAX bytes with no control characters (which would
 * break every one-line error, log and table that shows it) and no leading or trailing
 * space (so a blank name, or " keep" next to "keep", cannot be made). `what` names the
 * thing in the message ("workflow id"); the name itself is not echoed. SL_EINVAL if bad.
 */
SL_MUST_USE sl_code sl_engine_name_check(const char *what, const char *name, sl_err *err);

typedef struct sl_start_opts {
    const char *workflow_id;  /* default: "<type>-<uuid>" */
    const char *task_queue;   /* default "default" */
    const sl_retry_policy *retry; /* workflow-level retry policy, or NULL */
} sl_start_opts;

typedef struct sl_start_result {
    char workflow_id[SL_WORKFLOW_ID_MAX + 1];
    char run_id[37];
    bool existing; /* an open run already had this id; nothing was started */
} sl_start_result;

/*
 * Start a workflow run, or return the open run of the same workflow id (idempotent
 * start). SL_EINVAL: unknown type (the message lists known ones), bad id. Blocks until
 * the start committed.
 */
SL_MUST_USE sl_code sl_engine_start(sl_engine *e, const char *type, const json_t *input,
                                    const sl_start_opts *o, sl_start_result *res, sl_err *err);

/* Asynchronous start (threaded engines): cb runs on the engine thread after commit. */
typedef void (*sl_start_cb)(void *arg, sl_code rc, const sl_start_result *res);
void sl_engine_start_async(sl_engine *e, const char *type, json_t *input_take,
                           const sl_start_opts *o, sl_start_cb cb, void *arg);

/*
 * Operator actions on the open (latest) run of a workflow id. SL_ENOTFOUND: no such id;
 * SL_ECLOSED: the run is not running (the message says what it is). Cancel and terminate
 * are idempotent: *already tells that the request was made before (or the run already
 * ended that way), which is not an error.
 */
SL_MUST_USE sl_code sl_engine_signal(sl_engine *e, const char *workflow_id, const char *name,
                                     const json_t *input, sl_err *err);
SL_MUST_USE sl_code sl_engine_cancel(sl_engine *e, const char *workflow_id, const char *reason,
                                     bool *already, sl_err *err);
SL_MUST_USE sl_code sl_engine_terminate(sl_engine *e, const char *workflow_id,
                                        const char *reason, bool *already, sl_err *err);
/*
 * Start a new run of a failed, canceled, terminated or timed-out workflow that reuses the
 * recorded results of the steps that succeeded and executes from the first that did not.
 * SL_ECONFLICT: the latest run is running or completed.
 */
SL_MUST_USE sl_code sl_engine_retry(sl_engine *e, const char *workflow_id, const char *reason,
                                    sl_start_result *res, sl_err *err);

/* ---- store work for other subsystems ----------------------------------------------------- */

/* Store work run by the engine: `fn` gets the engine's connection. */
typedef sl_code (*sl_engine_store_fn)(sl_store *st, void *arg, sl_err *err);

/* Run fn inside an engine write transaction (committed with the engine's other changes;
 * rolled back if fn fails). Blocks until committed. */
SL_MUST_USE sl_code sl_engine_exec(sl_engine *e, sl_engine_store_fn fn, void *arg, sl_err *err);
/* Run fn on a read connection (no transaction; never blocks writers). */
SL_MUST_USE sl_code sl_engine_read(sl_engine *e, sl_engine_store_fn fn, void *arg, sl_err *err);
/* Start a workflow and run `before` in the same transaction, first (e.g. record the business
 * object the workflow is about): both commit or neither does. */
SL_MUST_USE sl_code sl_engine_start_with(sl_engine *e, const char *type, const json_t *input,
                                         const sl_start_opts *o, sl_engine_store_fn before,
                                         void *arg, sl_start_result *res, sl_err *err);

/* Inside store work (the callbacks above): whether workflow_id has an open run, as seen by
 * that transaction. */
SL_MUST_USE sl_code sl_engine_tx_run_is_open(sl_store *st, const char *workflow_id, bool *open,
                                             sl_err *err);

/*
 * Work that reads runs and starts workflows in ONE engine write transaction (BEGIN IMMEDIATE,
 * so no other writer on the file - in this or another process - runs between its reads and
 * its starts): admission checks such as "this batch still fits the queue limit". `fn` may
 * call the sl_engine_tx_* functions below on the tx it gets (valid only during the call).
 * If fn fails, everything it started is rolled back and its code is returned; otherwise all
 * of it commits together. Blocks until committed (or the write lock's busy timeout).
 */
typedef struct sl_engine_tx sl_engine_tx;
typedef sl_code (*sl_engine_tx_fn)(sl_engine_tx *tx, void *arg, sl_err *err);
SL_MUST_USE sl_code sl_engine_transact(sl_engine *e, sl_engine_tx_fn fn, void *arg, sl_err *err);
/* As sl_engine_start, inside the transaction (an open run of the id: res->existing). */
SL_MUST_USE sl_code sl_engine_tx_start(sl_engine_tx *tx, const char *type, const json_t *input,
                                       const sl_start_opts *o, sl_start_result *res, sl_err *err);
/* As sl_engine_count, as seen by the transaction (its own starts included). */
SL_MUST_USE sl_code sl_engine_tx_count(sl_engine_tx *tx, const sl_run_filter *f, int64_t *out,
                                       sl_err *err);
/* Status (sl_run_status) and run id (>= 37 bytes, may be NULL) of the latest run of
 * workflow_id. SL_ENOTFOUND: no run has that id. */
SL_MUST_USE sl_code sl_engine_tx_run_latest(sl_engine_tx *tx, const char *workflow_id,
                                            int *status, char *run_id, sl_err *err);

/* ---- task queues ------------------------------------------------------------------------ */

/*
 * Limits on a task queue's activity tasks, enforced by every worker on the database
 * (not per process): at most rate_n starts in any window of rate_period_ms, at most
 * `burst` at once after a quiet spell (token bucket; 0 = rate_n), at most `concurrency`
 * running at the same time. Zero fields are "no limit". Retried attempts count as starts.
 */
typedef struct sl_queue_limit {
    int64_t rate_n;
    int64_t rate_period_ms;
    int64_t burst;
    int64_t concurrency;
} sl_queue_limit;

/* Set (lim) or remove (NULL) a queue's limits. SL_EINVAL for a bad limit, SL_ENOTFOUND when
 * removing limits a queue does not have. */
SL_MUST_USE sl_code sl_engine_queue_limit(sl_engine *e, const char *queue,
                                          const sl_queue_limit *lim, sl_err *err);
/* Every queue with tasks or limits: [{queue, depth, backoff, in_flight, oldest_wait_ms,
 * limits:{rate, rate_n, period, burst, concurrency}|null}]. */
SL_MUST_USE sl_code sl_engine_queue_list(sl_engine *e, json_t **out, sl_err *err);

/* ---- replay check ----------------------------------------------------------------------- */

typedef struct sl_replay_result {
    bool deterministic;
    char workflow_type[128];
    int64_t event_id;      /* first mismatching event (0 when deterministic) */
    char recorded[256];    /* what history recorded there */
    char requested[256];   /* what the code asked for */
    char message[768];     /* one line for humans */
} sl_replay_result;

/*
 * Re-run the registered workflow code against a history exported with
 * `sluice workflow show ID -o json` and report whether it makes the same decisions.
 * SL_EINVAL: the file is not such a history (the message says why).
 */
SL_MUST_USE sl_code sl_replay_history(const sl_registry *reg, const json_t *history,
                                      sl_replay_result *out, sl_err *err);

/* Called on the engine thread after a run closed (committed). Any thread may set or clear
 * it (NULL); once sl_engine_on_close returns, the previous callback is not running and will
 * not be called again. The callback must not call sl_engine_on_close. */
typedef void (*sl_close_cb)(void *arg, const char *workflow_id, const char *run_id, int status);
void sl_engine_on_close(sl_engine *e, sl_close_cb cb, void *arg);

/*
 * Describe a run (latest run of workflow_id when run_id is NULL) as a JSON object:
 * workflow_id, run_id, type, task_queue, status, input, result, failure, start_time,
 * close_time, history_length, history_bytes, attempt, pending_activities[], runs[].
 * SL_ENOTFOUND names the id.
 */
SL_MUST_USE sl_code sl_engine_describe(sl_engine *e, const char *workflow_id,
                                       const char *run_id, json_t **out, sl_err *err);
/*
 * History of a run as a JSON array of {event_id, type, time, attributes}, events with
 * event_id > after_event_id. *run_id_out (optional, >= 37 bytes) gets the run id and
 * *closed whether the run is closed.
 */
SL_MUST_USE sl_code sl_engine_history(sl_engine *e, const char *workflow_id, const char *run_id,
                                      int64_t after_event_id, json_t **out, char *run_id_out,
                                      bool *closed, sl_err *err);
/* Runs matching f as a JSON array of summaries, newest first. */
SL_MUST_USE sl_code sl_engine_list(sl_engine *e, const sl_run_filter *f, json_t **out,
                                   sl_err *err);
SL_MUST_USE sl_code sl_engine_count(sl_engine *e, const sl_run_filter *f, int64_t *out,
                                    sl_err *err);
/* Durable timers waiting to fire, soonest first, at most `limit` (1..SL_ENGINE_TIMERS_MAX):
 * a JSON array of {workflow_id, run_id, type, seq, fire_at (UTC text)}. SL_EINVAL for a bad
 * limit. Reads on the read connection. */
#define SL_ENGINE_TIMERS_MAX 256
SL_MUST_USE sl_code sl_engine_timers_list(sl_engine *e, int limit, json_t **out, sl_err *err);
/* PRAGMA integrity_check on the engine database. */
SL_MUST_USE sl_code sl_engine_integrity_check(sl_engine *e, sl_err *err);
int64_t sl_engine_db_bytes(sl_engine *e);

/* ---- serving task queues (threaded engines) ----------------------------------------- */

/*
 * An activity task leased by the engine and handed to a dispatcher: the local worker's
 * threads, or a server passing tasks to remote workers. Opaque; the accessors below read it.
 *
 *   LEASED (inside the engine's transaction)
 *      |  commit
 *      v
 *   DISPATCHED (owned by the dispatcher) --sl_engine_task_heartbeat--> DISPATCHED
 *      |--sl_engine_task_complete------> resolved: ActivityTaskStarted + Completed recorded
 *      |--sl_engine_task_fail----------> resolved: the attempt failed; the retry policy decides
 *      |--sl_engine_tasks_release------> visible again, same attempt, nothing recorded
 *      +--sl_engine_task_abandon-------> left to the reaper (its lease has expired)
 * Exactly one of the resolving calls consumes a task; it is freed then and must not be used
 * again. A task a dispatcher never resolves stays leased until the lease expires, and the
 * reaper records the attempt as timed out (what happens to the tasks of a process that died).
 */
typedef struct sl_activity_task sl_activity_task;

/* Accessors; strings are borrowed and live as long as the task. Never block. */
int64_t sl_activity_task_id(const sl_activity_task *t);
const char *sl_activity_task_queue(const sl_activity_task *t);
const char *sl_activity_task_type(const sl_activity_task *t);
const char *sl_activity_task_input(const sl_activity_task *t);       /* JSON text; NULL: null */
const char *sl_activity_task_workflow_id(const sl_activity_task *t); /* "" if the run is gone */
const char *sl_activity_task_run_id(const sl_activity_task *t);
int32_t sl_activity_task_seq(const sl_activity_task *t); /* the activity's seq in its run */
int sl_activity_task_attempt(const sl_activity_task *t); /* from 1 */
/* Unix ms by which the attempt must finish: start-to-close from its start, capped by
 * schedule-to-close. */
int64_t sl_activity_task_deadline_ms(const sl_activity_task *t);
int64_t sl_activity_task_heartbeat_timeout_ms(const sl_activity_task *t); /* 0: none */
/* When the lease ends (Unix ms; heartbeats move it), and how long a lease or a renewal lasts
 * (the heartbeat timeout, else start-to-close). */
int64_t sl_activity_task_lease_expiry_ms(const sl_activity_task *t);
int64_t sl_activity_task_lease_ms(const sl_activity_task *t);
/* Details of the last heartbeat of an earlier attempt (JSON text), or NULL. */
const char *sl_activity_task_last_heartbeat(const sl_activity_task *t);

/*
 * Takes the n leased tasks (the array itself is borrowed). Called on the engine thread right
 * after the commit that leased them, so it must not block and must not call the engine's
 * synchronous functions (they wait for the engine thread); queue the tasks and return.
 */
typedef void (*sl_dispatch_fn)(void *arg, sl_activity_task *const *tasks_take, size_t n);

typedef struct sl_dispatcher {
    sl_dispatch_fn dispatch;
    void *arg;
    int threads;  /* tasks it can start at once (>= 1): the bound on limited queues */
    int capacity; /* tasks it holds at most, leased and unresolved (raised to threads) */
} sl_dispatcher;

/*
 * Serve task queues: the engine thread runs workflow tasks of these queues inline and leases
 * their activity tasks for `d`, never more than d->capacity unresolved at a time. An activity
 * scheduled by a workflow task on a served queue is leased inside that transaction and
 * handed to d right after its commit, with no poll. On a queue with a rate or concurrency
 * limit it leases only up to d->threads (no prefetch), so every start the limit counts is a
 * task that begins at once. d NULL: workflow tasks only, no activity is leased. Once per
 * engine. SL_EINVAL: the engine is not threaded, or already serves. Never blocks.
 */
SL_MUST_USE sl_code sl_engine_serve(sl_engine *e, const char *const *queues, size_t n_queues,
                                    const sl_dispatcher *d, sl_err *err);
/*
 * Stop leasing activity tasks. Returns once the engine thread has handed the dispatcher every
 * task it leased before; the dispatcher is not called again, so it may be freed once it has
 * resolved the tasks it holds (typically releasing those not started). Workflow tasks keep
 * running. Blocks for at most the engine's current transaction.
 */
void sl_engine_drain(sl_engine *e);

/*
 * Resolve a dispatched task: it succeeded with result_json (JSON text, borrowed; NULL: null),
 * or failed with an error type (NULL/"": "ActivityError"), a message, whether retrying can
 * help, and a delay that replaces the policy's backoff (retry_after_ms >= 0; -1: none). Both
 * take t and return at once; the outcome commits with the engine's next group (durable
 * before the workflow sees it). A lease lost meanwhile drops the outcome, as it must: the
 * attempt was already timed out and retried.
 */
void sl_engine_task_complete(sl_engine *e, sl_activity_task *t, const char *result_json);
void sl_engine_task_fail(sl_engine *e, sl_activity_task *t, const char *type, const char *message,
                         bool non_retryable, int64_t retry_after_ms);
/*
 * The activity is alive: record details (JSON text, borrowed, or NULL) and renew the lease
 * (sl_activity_task_lease_ms from now, capped by start-to-close and schedule-to-close).
 * SL_OK: recorded; *cancel_requested tells the activity to stop because its run was canceled
 * or terminated (resolve it with a non-retryable failure). SL_ELEASE: the lease is gone (timed
 * out, or the run closed); stop, an outcome would be dropped. SL_EBUSY/SL_EIO: not recorded
 * (retryable; the lease runs on). Borrows t. Blocks until committed; not on the engine thread.
 */
SL_MUST_USE sl_code sl_engine_task_heartbeat(sl_engine *e, sl_activity_task *t,
                                             const char *details_json, bool *cancel_requested,
                                             sl_err *err);
/*
 * Give n unstarted (or interrupted) tasks back, e.g. on shutdown: each becomes visible at once
 * with the same attempt and nothing is recorded. Takes the tasks (the array is borrowed), also
 * on failure, when their leases simply expire. Blocks until committed; not on the engine
 * thread. SL_EBUSY/SL_EIO: not released.
 */
SL_MUST_USE sl_code sl_engine_tasks_release(sl_engine *e, sl_activity_task *const *tasks, size_t n,
                                            sl_err *err);
/* The task's lease expired before it started: record nothing (the reaper times the attempt
 * out and retries it) and free it. Takes t; never blocks. */
void sl_engine_task_abandon(sl_engine *e, sl_activity_task *t);

/* ---- activity tasks for remote workers (threaded engines) --------------------------------
 *
 * A server hands activity tasks to workers in other processes: a worker's poll leases tasks
 * of its queues on request (queue rate and concurrency limits apply, as for every lease), the
 * task travels as a token naming (task id, attempt, lease owner), and the worker's outcome
 * comes back through the same resolving calls as a local dispatcher's (complete, fail,
 * heartbeat, release, abandon). Such tasks do not count against the local dispatcher's
 * capacity. A token outlives the process that leased it: sl_engine_task_find rebuilds the
 * task from the database, so a worker can report to a restarted server.
 */

/*
 * Lease up to max visible activity tasks of the queues, in the order given, to `owner` (the
 * worker's identity, recorded as the lease owner). *n_out tasks are stored in out (owned:
 * resolve each). With none, *next_ms tells when one may be: the earliest visible_at or
 * rate-limit slot of those queues (INT64_MAX: nothing is waiting). Blocks until committed;
 * not on the engine thread. SL_EINVAL: a bad queue or owner name.
 */
SL_MUST_USE sl_code sl_engine_lease_tasks(sl_engine *e, const char *const *queues, size_t n_queues,
                                          const char *owner, int max, sl_activity_task **out,
                                          size_t *n_out, int64_t *next_ms, sl_err *err);
/*
 * The task whose lease (task_id, attempt, owner) is current, read from the database, as a
 * dispatched task (owned: resolve it). SL_ENOTFOUND: that lease is gone (completed, timed
 * out and retried, or the run closed). Blocks for one read.
 */
SL_MUST_USE sl_code sl_engine_task_find(sl_engine *e, int64_t task_id, int attempt,
                                        const char *owner, sl_activity_task **out, sl_err *err);
/* The lease owner of a task (borrowed). */
const char *sl_activity_task_owner(const sl_activity_task *t);
int64_t sl_activity_task_scheduled_ms(const sl_activity_task *t);
int64_t sl_activity_task_started_ms(const sl_activity_task *t);
int64_t sl_activity_task_start_to_close_ms(const sl_activity_task *t);
/* The last failure of an earlier attempt (JSON text), or NULL. */
const char *sl_activity_task_last_failure(const sl_activity_task *t);

/*
 * Called on the engine thread after a commit that made activity tasks of `queue` visible, now
 * or at a later time, that no dispatcher of this engine took (queue NULL: maybe any queue):
 * wake the polls waiting for them. It must not block or call the engine. Once set, calls
 * happen under a lock sl_engine_on_ready also takes, so after sl_engine_on_ready(e, NULL,
 * NULL) returns the old callback is not running and never will.
 */
typedef void (*sl_ready_cb)(void *arg, const char *queue);
void sl_engine_on_ready(sl_engine *e, sl_ready_cb cb, void *arg);

/* True when nothing is pending for the served queues: no submission waiting, no task with the
 * dispatcher, no workflow task, activity task or timer of theirs in the database (a run
 * sleeping on a timer keeps it false until the timer fired and the run moved on). */
bool sl_engine_is_idle(sl_engine *e);
/* True when nothing is runnable now on the served queues: no submission waiting, no task with
 * the dispatcher, nothing sl_store_queue_runnable counts at sl_now_ms. Timers and retries due
 * later, and tasks other workers hold, do not count. Blocks for one read. */
bool sl_engine_is_drained(sl_engine *e);
/* What the engine was opened with, for dispatchers that run activities. */
const sl_registry *sl_engine_registry(const sl_engine *e);
void *sl_engine_env(const sl_engine *e);

typedef struct sl_engine_stats {
    int64_t commits, items, workflow_tasks;
} sl_engine_stats;
void sl_engine_stats_get(sl_engine *e, sl_engine_stats *out);

#endif
