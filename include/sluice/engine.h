/*
 * engine.h - the workflow engine: the registry of workflow and activity code, starting
 * and inspecting workflows, and the runtime a worker drives.
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
} sl_engine_opts;

void sl_engine_opts_init(sl_engine_opts *o);

/* Open the database (creating/migrating it). Errors as sl_store_open. */
SL_MUST_USE sl_code sl_engine_open(const sl_engine_opts *o, sl_engine **out, sl_err *err);
/* Stops the engine thread (after committing what was submitted) and closes. */
void sl_engine_close(sl_engine *e);
const char *sl_engine_identity(const sl_engine *e);
/* Shared resources for activities (sl_act_env); set before serving. */
void sl_engine_set_env(sl_engine *e, void *env);

/* ---- client operations ------------------------------------------------------------ */

#define SL_WORKFLOW_ID_MAX 255

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

/* Called on the engine thread after a run closed (committed). */
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
/* PRAGMA integrity_check on the engine database. */
SL_MUST_USE sl_code sl_engine_integrity_check(sl_engine *e, sl_err *err);
int64_t sl_engine_db_bytes(sl_engine *e);

/* ---- runtime for workers (threaded engines) ----------------------------------------- */

/*
 * Serve task queues: the engine thread runs workflow tasks of these queues inline and
 * leases their activity tasks for `threads` local worker threads, at most `capacity` at a
 * time. On a queue with a rate or concurrency limit it leases only for idle threads (no
 * prefetch), so every start the limit counts is a task that begins at once.
 */
SL_MUST_USE sl_code sl_engine_serve(sl_engine *e, const char *const *queues, size_t n_queues,
                                    int threads, int capacity, sl_err *err);
/* Stop leasing new work; local tasks not yet started are released. */
void sl_engine_drain(sl_engine *e);

typedef struct act_task sl_engine_task;
/* Next leased activity task, waiting up to timeout_ms; NULL on timeout or after drain. */
sl_engine_task *sl_engine_next_task(sl_engine *e, int64_t timeout_ms);
/* Run the activity, submit its outcome, free the task. Blocks for the activity's time. */
void sl_engine_run_task(sl_engine *e, sl_engine_task *t);
/* True when nothing is pending for the served queues, here or in the database. */
bool sl_engine_is_idle(sl_engine *e);

typedef struct sl_engine_stats {
    int64_t commits, items, workflow_tasks;
} sl_engine_stats;
void sl_engine_stats_get(sl_engine *e, sl_engine_stats *out);

#endif
