/*
 * engine_int.h - private to src/engine: the engine's parts and how they share it.
 *
 * One engine thread per process owns the write connection. Everything that changes durable
 * state is a call handed to it (sl__engine_call); it drains all ready calls into one
 * transaction (group commit), runs workflow code inline for runs that need a workflow task,
 * and only after COMMIT wakes the callers and hands new activity tasks to the registered
 * dispatcher (durable before visible). The parts, each with its own file and sub-struct:
 *
 *   engine.c    open/close and the engine thread's loop; the engine lock e->mu
 *   writer.c    e->writer:   the submission queue, one batch = one transaction, deferred work,
 *                            the runs closed in the transaction, publishing after commit
 *   cache.c     e->cache:    the replay cache of decoded runs
 *   poller.c    e->poller:   served queues, polling the database with backoff, maintenance
 *                            (timers, lease reaping, schedules), draining, idleness
 *   dispatch.c  e->dispatch: activity tasks leased for the dispatcher, the in-flight bound,
 *                            and the outcomes it hands back (complete, fail, heartbeat, ...)
 *   limits.c    e->limits:   which queues have rate/concurrency limits, and enforcing them
 *   client.c    e->reader:   the read connection; client calls (start, describe, signal, ...)
 *   runs.c, wft.c, change.c, outcomes.c, actions.c, deferred.c: the state changes themselves
 *               (ops_int.h), run inside the transaction
 *
 * Threads. e->mu guards what a sub-struct marks "under e->mu" (the submission queue, serving
 * and draining, statistics). What is marked "engine thread" is touched only by the engine
 * thread, or, in an engine opened without one, by the caller holding writer.direct_mu. Lock
 * order: e->mu, then dispatch.mu; reader.mu is never held with either.
 *
 * A cached run may be stale when another process wrote to it; every append is conditional on
 * the run's version, and a stale run is reloaded and the change recomputed.
 */
#ifndef SLUICE_ENGINE_INT_H
#define SLUICE_ENGINE_INT_H

#include <pthread.h>

#include "sluice/activity.h"
#include "sluice/engine.h"
#include "sluice/store.h"
#include "sluice/workflow.h"

/* ---- decoded history ------------------------------------------------------------ */

/* Commands take a sequence number; pseudo-commands (P_*) do not. */
enum cmd_kind {
    CMD_ACTIVITY = 1,
    CMD_TIMER = 2,
    CMD_SIDE_EFFECT = 3,
    CMD_CHILD = 4,
    P_CANCEL_TIMER = 10,
    P_VERSION = 11,
};
enum res_state { RES_PENDING = 0, RES_OK, RES_FAILED, RES_CANCELED };

typedef struct rs_cmd {
    uint8_t kind;            /* enum cmd_kind */
    uint8_t res;             /* enum res_state */
    int32_t res_cmds_before; /* command events recorded before the resolving event */
    const char *name;        /* activity type (interned in run_state.names), or NULL */
    int64_t event_id;        /* the command's event */
    int64_t time_before;     /* time of the last event before the command's event */
    int64_t res_event_id;    /* the resolving event, 0 while pending */
    json_t *value;           /* result or failure (owned) */
} rs_cmd;

typedef struct rs_signal {
    char *name;
    json_t *payload;         /* owned */
    int64_t event_id;
    int32_t cmds_before;
} rs_signal;

typedef struct rs_version {
    char *change_id;
    int version;
} rs_version;

enum parent_close_policy { PCP_TERMINATE = 0, PCP_REQUEST_CANCEL = 1, PCP_ABANDON = 2 };

typedef struct run_state {
    int64_t run_pk;
    char run_id[37];
    char *workflow_id;
    char *type;
    char *queue;
    json_t *input;
    int attempt;
    char *first_run_id;
    char *parent_run_id;     /* child workflows */
    int32_t parent_seq;
    int parent_close_policy; /* enum parent_close_policy, applied to this run's children */
    bool has_retry;          /* workflow-level retry policy */
    sl_retry_policy retry;
    rs_signal *signals;
    int n_signals;
    int64_t cancel_event_id; /* WorkflowExecutionCancelRequested, 0: none */
    int32_t cancel_cmds_before;
    rs_version *versions;
    int n_versions;
    int pins; /* in use by an op: never evicted (sl__cache_pin/unpin) */
    bool size_warned;
    int status;              /* sl_run_status */
    int64_t start_ms;
    int64_t next_event_id;   /* version */
    int64_t history_bytes;
    int64_t last_event_ms;
    bool last_is_wft_failed; /* the last event is a WorkflowTaskFailed */
    bool wft_row;            /* a wf_tasks row may exist for this run */
    rs_cmd *cmds;            /* by seq */
    int32_t n_cmds, cap_cmds;
    char **names;            /* distinct activity types, owned */
    int n_names;
    /* cache links */
    struct run_state *hnext;
    struct run_state *lru_prev, *lru_next;
} run_state;

/* Apply one stored event to a run state (decode, then account for it). SL_EIO on a
 * malformed or out-of-order event. sl__rs_decode only updates commands, outcomes,
 * signals and status. */
sl_code sl__rs_apply(run_state *rs, const sl_event_row *ev, sl_err *err);
sl_code sl__rs_decode(run_state *rs, const sl_event_row *ev, sl_err *err);
/* Fill a run state's identity fields from a run row (moves strings out of row). */
void sl__rs_from_row(run_state *rs, sl_run_row *row);
void sl__rs_free(run_state *rs);
/* Building blocks shared by decoding and by the engine when it writes new events. */
sl_code sl__rs_push_cmd(run_state *rs, int kind, int32_t seq, const char *name,
                        int64_t event_id, sl_err *err);
sl_code sl__rs_resolve(run_state *rs, int32_t seq, int state, json_t *value_take,
                       int64_t event_id, sl_err *err);
void sl__rs_note_event(run_state *rs, int64_t event_id, int64_t time_ms, size_t bytes,
                       bool is_wft_failed);
void sl__rs_add_signal(run_state *rs, const char *name, json_t *payload_take, int64_t event_id);
void sl__rs_set_version(run_state *rs, const char *change_id, int version);

/* ---- workflow context and commands ----------------------------------------------- */

/* Why a workflow task failed: the `cause` of its WorkflowTaskFailed event (sl__wft_cause_name). */
enum wft_cause {
    WFT_CAUSE_NONE = 0,
    WFT_CAUSE_NON_DETERMINISTIC, /* the code asked for other commands than history holds */
    WFT_CAUSE_UNKNOWN_TYPE,      /* no code is registered for the run's workflow type */
    WFT_CAUSE_HISTORY_SIZE_LIMIT,
};
const char *sl__wft_cause_name(enum wft_cause c);

typedef struct wf_cmd {
    uint8_t kind;       /* enum cmd_kind */
    int32_t seq;        /* the command's seq, or the target of P_CANCEL_TIMER */
    char *name;         /* activity / child workflow type, version change id */
    json_t *input;      /* owned: activity or child input, side-effect value */
    sl_activity_opts opts;
    int64_t timer_ms;
    char *child_id;     /* CMD_CHILD */
    char *child_queue;
    int child_policy;
    int version;        /* P_VERSION */
} wf_cmd;

typedef struct sig_slot {
    const char *name;   /* borrowed from the code (string literal) */
    int32_t timer_seq;  /* -1: no timeout */
    bool done;
    bool timed_out;
    int sig_index;      /* index into rs->signals once received */
} sig_slot;

struct sl_wf {
    sl_engine *e;
    run_state *rs;
    int32_t cmd_count;  /* commands issued so far in this run-through */
    wf_cmd *new_cmds;
    int32_t n_new, cap_new;
    json_t *failure;    /* owned, when the workflow failed */
    json_t **kept;
    size_t n_kept, cap_kept;
    const char *last_type;      /* replay fast path: the code's last type pointer ... */
    const char *last_name;      /* ... and the interned name it matched */
    sig_slot *slots;
    int n_slots, cap_slots;
    struct {
        const char *name;
        int consumed;
    } sig_consumed[16];
    int n_sig_consumed;
    bool cancel_handled;        /* the code asked sl_wf_cancel_requested */
    json_t *continue_input;     /* SL_WF_CONTINUE_AS_NEW: owned */
    enum wft_cause cause;       /* why the task fails (WFT_TASK_FAILED), set with nondet */
    char nondet[512];   /* first non-determinism found, or "" */
    int64_t nd_event_id;    /* ... the event it concerns */
    char nd_recorded[160];  /* ... what history has there */
    char nd_requested[160]; /* ... what the code asked for */
    uint64_t rng;
    uint32_t uuid_counter;
};

typedef enum wft_outcome {
    WFT_BLOCKED,
    WFT_COMPLETED,
    WFT_FAILED,
    WFT_CANCELED,
    WFT_CONTINUE_AS_NEW,
    WFT_TASK_FAILED, /* non-determinism, unknown type: the run stays open */
} wft_outcome;

/* Run the workflow function for rs once; fills wf (caller calls sl__wf_cleanup). */
wft_outcome sl__wf_execute(sl_engine *e, run_state *rs, sl_wf *wf, json_t **result);
void sl__wf_cleanup(sl_wf *wf);

/* ---- calls: state changes run by the engine thread (writer.c) ------------------------ */

typedef sl_code (*sl__call_fn)(sl_engine *e, void *arg, sl_err *err);
/* Runs on the engine thread after the call's transaction committed or failed; rc is fn's. */
typedef void (*sl__call_done_fn)(sl_engine *e, void *arg, sl_code rc);

/* fn writes nothing before it can fail: no savepoint is needed to undo half of it. */
#define SL__CALL_NO_SAVEPOINT 0x1u

/*
 * Run fn(e, arg) inside an engine transaction and wait until it committed: fn's code, or
 * SL_EIO/SL_EBUSY when the transaction could not commit. A failing fn is undone (to a
 * savepoint, unless SL__CALL_NO_SAVEPOINT) and does not fail the other calls of its group.
 * Blocks; never on the engine thread. The item and its semaphore are the writer's business.
 */
sl_code sl__engine_call(sl_engine *e, sl__call_fn fn, void *arg, unsigned flags, sl_err *err);
/* The same without waiting: done(e, arg, rc) runs on the engine thread after the commit (or
 * at once on the caller's thread in an engine opened without a thread). */
void sl__engine_call_async(sl_engine *e, sl__call_fn fn, void *arg, unsigned flags,
                           sl__call_done_fn done);

/* ---- activity tasks and the dispatcher (dispatch.c) ------------------------------------ */

enum task_state { TASK_LEASED = 1, TASK_DISPATCHED, TASK_RESOLVING };

struct sl_activity_task {
    sl_act_task_row row;   /* owned */
    char run_id[37];
    char *workflow_id;
    uint8_t state; /* enum task_state */
    bool remote;   /* leased by sl_engine_lease_tasks: not counted against the dispatcher */
};

typedef struct sl__dispatch {
    pthread_mutex_t mu; /* guards `to` and in_flight */
    sl_dispatcher to;   /* dispatch NULL: no dispatcher (none yet, or drained) */
    int in_flight;      /* handed to the dispatcher and not yet resolved */
    /* engine thread: tasks leased in the open transaction, handed out after its commit */
    sl_activity_task **leased;
    int n_leased, cap_leased;
} sl__dispatch;

void sl__dispatch_init(sl_engine *e);
void sl__dispatch_cleanup(sl_engine *e);
/* Register d (NULL: none); threads and capacity are normalised (threads >= 1, capacity >=
 * threads). */
void sl__dispatch_set(sl_engine *e, const sl_dispatcher *d);
/* How many more activity tasks of `queue` to lease now (<= 0: none). Engine thread. */
int sl__dispatch_room(sl_engine *e, const char *queue);
/* Copy a leased row (strings too) into a new task of the open transaction. Engine thread. */
void sl__dispatch_add(sl_engine *e, const sl_act_task_row *row, const char *run_id,
                      const char *workflow_id);
/* Tasks added after `mark` (a count from sl__dispatch_mark) are dropped when their change is
 * undone; sl__dispatch_publish hands the rest over after commit. Engine thread. */
int sl__dispatch_mark(const sl_engine *e);
void sl__dispatch_drop_after(sl_engine *e, int mark);
void sl__dispatch_publish(sl_engine *e);
/* Number of tasks with the dispatcher (any thread). */
int sl__dispatch_in_flight(sl_engine *e);
void sl__activity_task_free(sl_activity_task *t);
/* A new task (state LEASED) with a copy of row and its strings. */
sl_activity_task *sl__activity_task_new(const sl_act_task_row *row, const char *run_id,
                                        const char *workflow_id);

/* ---- the writer (writer.c) ------------------------------------------------------------ */

struct item;
struct deferred;
struct closed_run;

typedef struct sl__writer {
    /* under e->mu */
    struct item *q_head, *q_tail; /* submitted calls, oldest first */
    bool in_batch;                /* the engine thread took calls and has not published yet */
    pthread_cond_t batch_cv;      /* in_batch went false */
    int64_t n_commits, n_items, n_wft;
    /* engine thread: the open transaction */
    int64_t txn_wft; /* workflow tasks run, added to n_wft at the batch's end */
    struct deferred *deferred_head, *deferred_tail; /* drained after each call (deferred.c) */
    struct closed_run *closed_head;                 /* runs closed, for the close callback */
    /* engines without a thread */
    pthread_mutex_t direct_mu; /* serialises direct transactions (and their reads) */
} sl__writer;

void sl__writer_init(sl_engine *e);
void sl__writer_cleanup(sl_engine *e);
/* Engine thread: take up to `max` submitted calls (under e->mu, which the caller holds) and
 * mark the batch begun. */
struct item *sl__writer_take(sl_engine *e, int max);
/* Engine thread: one transaction over the calls, plus due polling and maintenance; then wake
 * the callers. *found counts the work polling found. */
void sl__writer_run(sl_engine *e, struct item *list, bool do_poll, bool do_maint, int *found);
/* Engine thread: the batch is published (takes e->mu). */
void sl__writer_batch_end(sl_engine *e);
/* Wait until a batch that began before the call is published (any thread but the engine's). */
void sl__writer_wait_batch(sl_engine *e);
bool sl__writer_has_pending(sl_engine *e);
/* Inside the transaction: remember that a run closed (callbacks after commit). */
void sl__writer_note_closed(sl_engine *e, const char *workflow_id, const char *run_id, int status);

/* ---- the replay cache (cache.c) --------------------------------------------------------- */

#define SL_CACHE_BUCKETS 8192

/* Engine thread only. */
typedef struct sl__cache {
    run_state *buckets[SL_CACHE_BUCKETS];
    run_state *lru_head, *lru_tail;
    int len, max;
} sl__cache;

/* The cached run, loaded (and cached) on a miss. NULL with *rc set on failure. */
run_state *sl__cache_get(sl_engine *e, int64_t run_pk, sl_err *err, sl_code *rc);
/* As sl__cache_get, but a cached run is first checked against the database's version. */
run_state *sl__cache_get_fresh(sl_engine *e, int64_t run_pk, sl_err *err, sl_code *rc);
/* Add a run that is not cached; evicts the least recently used unpinned runs past max. */
void sl__cache_put(sl_engine *e, run_state *rs);
/* Drop a run (it must not be pinned); nothing if it is not cached. */
void sl__cache_evict(sl_engine *e, int64_t run_pk);
/* Drop every run (after a rollback); none may be pinned. */
void sl__cache_clear(sl_engine *e);
/* A pinned run is never evicted; ops pin the run they build a change on. */
void sl__cache_pin(run_state *rs);
void sl__cache_unpin(run_state *rs);

/* ---- polling and maintenance (poller.c) ------------------------------------------------ */

typedef struct sl__poller {
    /* under e->mu */
    bool serving;  /* sl_engine_serve was called */
    bool draining; /* sl_engine_drain was called: lease no activity task */
    /* set before `serving`, then fixed */
    char **queues;
    size_t n_queues;
    bool all_workflows; /* workflow tasks of every queue run here (a server) */
    /* engine thread */
    bool active;   /* serving, as of the current batch */
    bool lease_ok; /* serving and not draining, as of the current batch */
    int64_t maintenance_ms;
    int64_t next_maintenance_ms;
    int64_t poll_delay_ms;     /* idle backoff for database polls */
    int64_t next_poll_ms;
    int64_t wake_hint_ms;      /* known future work (retry, timer, rate slot): poll then */
} sl__poller;

void sl__poller_init(sl_engine *e, int64_t maintenance_ms);
/* Engine thread, under e->mu, at the start of a batch: copy serving/draining. */
void sl__poller_snapshot(sl_engine *e);
/* When the engine thread should look again (under e->mu); INT64_MAX: on submissions only. */
int64_t sl__poller_next_wake_ms(const sl_engine *e);
/* Engine thread: whether to poll and maintain now, and false if an idle poll found that the
 * database has nothing due (the poll is then skipped and backs off). */
bool sl__poller_plan(sl_engine *e, bool have_calls, int64_t now, bool *do_poll, bool *do_maint);
/* Engine thread, inside the transaction: find and start due work. */
sl_code sl__poller_poll(sl_engine *e, int64_t now, int *found, sl_err *err);
sl_code sl__poller_maintain(sl_engine *e, int64_t now, sl_err *err);
/* Engine thread, after the batch: next poll and maintenance times. */
void sl__poller_after(sl_engine *e, bool did_poll, bool did_maint, int found);
void sl__poller_cleanup(sl_engine *e);
/* Poll no later than t (a retry, timer or rate-limit slot falls due then). */
void sl__engine_wake_at(sl_engine *e, int64_t t);
/* Whether this engine runs the workflow tasks of `queue` (engine thread). */
bool sl__engine_serves(const sl_engine *e, const char *queue);
/* Whether this engine leases the activity tasks of `queue` for its dispatcher (engine thread). */
bool sl__engine_serves_activities(const sl_engine *e, const char *queue);
/* Whether an activity task of `queue` being inserted now should be leased to ourselves. */
bool sl__engine_take_local(sl_engine *e, const char *queue);

/* ---- queue limits (limits.c), inside the transaction ----------------------------------- */

/* Engine thread. */
typedef struct sl__limits {
    char **limited; /* queues with rate/concurrency limits, refreshed per batch */
    int n_limited;
} sl__limits;

sl_code sl__limits_refresh(sl_engine *e, sl_err *err);
bool sl__limits_apply_to(const sl_engine *e, const char *queue);
/* How many of `want` starts the queue allows now; *next_ms: when more may be (0: unknown). */
sl_code sl__limits_allow(sl_engine *e, const char *queue, int want, int64_t now, int *allowed,
                         int64_t *next_ms, sl_err *err);
sl_code sl__limits_record(sl_engine *e, const char *queue, int started, int64_t now, sl_err *err);
void sl__limits_cleanup(sl_engine *e);

/* ---- reads (client.c) ------------------------------------------------------------------ */

typedef struct sl__reader {
    pthread_mutex_t mu; /* held by whoever reads through rd */
    sl_store *rd;       /* threaded engines: a second connection, opened on first use */
} sl__reader;

/* The connection for a read, locked for the caller until sl__reader_done; on failure nothing
 * stays locked. */
sl_code sl__reader_get(sl_engine *e, sl_store **out, sl_err *err);
void sl__reader_done(sl_engine *e);

/* ---- activity tasks for remote workers (remote.c) -------------------------------------- */

#define SL__READY_MAX 16
typedef struct sl__remote {
    /* engine thread: queues whose activity tasks became (or will become) visible in the
     * open transaction; overflow: more than SL__READY_MAX, tell every queue */
    char *ready[SL__READY_MAX];
    int n_ready;
    bool overflow;
    /* the ready callback: set by any thread, called on the engine thread, under mu */
    pthread_mutex_t mu;
    sl_ready_cb cb;
    void *cb_arg;
} sl__remote;

void sl__remote_init(sl_engine *e);
void sl__remote_cleanup(sl_engine *e);
/* Engine thread, inside the transaction: an activity task of `queue` that no dispatcher of
 * ours took was made visible (now or later). */
void sl__ready_note(sl_engine *e, const char *queue);
/* Engine thread: after COMMIT, tell the ready callback; after ROLLBACK, forget. */
void sl__ready_publish(sl_engine *e);
void sl__ready_drop(sl_engine *e);

/* ---- the engine ----------------------------------------------------------------------- */

struct sl_engine {
    /* fixed after open */
    sl_store *st; /* write connection: engine thread (or caller when !threaded) */
    const sl_registry *reg;
    char identity[128];
    sl_durability durability;
    bool threaded;
    void *env;
    int64_t hist_warn_events, hist_warn_bytes, hist_limit_events, hist_limit_bytes;
    /* close callback: set by any thread, called on the engine thread, both under close_mu,
     * so once sl_engine_on_close returns the old callback is not running and never will */
    pthread_mutex_t close_mu;
    sl_close_cb on_close;
    void *on_close_arg;
    sl__remote remote;

    /* the engine thread (engine.c) */
    pthread_mutex_t mu; /* the engine lock, see the top */
    pthread_cond_t cv;  /* a call was submitted, serving began, or stop */
    bool stop;          /* under mu */
    pthread_t thread;
    bool thread_started;

    sl__writer writer;
    sl__dispatch dispatch;
    sl__poller poller;
    sl__limits limits;
    sl__cache cache;
    sl__reader reader;

    /* The last activity options serialised, and their text (workflows mostly schedule their
     * steps with the same options). Engine thread (wft.c). */
    sl_activity_opts opts_memo;
    char *opts_memo_queue;
    char *opts_memo_text;
};

/* ---- state changes (ops_int.h has the rest) -------------------------------------------- */

sl_code sl__op_start(sl_engine *e, const char *type, const json_t *input,
                     const sl_start_opts *o, sl_start_result *res, sl_err *err);
sl_code sl__op_start_at(sl_engine *e, const char *type, const json_t *input,
                        const sl_start_opts *o, int64_t visible_at, sl_start_result *res,
                        sl_err *err);
/* An activity's outcome: result (JSON text) on success, else failure {type, message,
 * non_retryable} with retry_after_ms (-1: none). A lost lease drops it (SL_OK). */
sl_code sl__op_act_result(sl_engine *e, const sl_act_task_row *t, const char *result,
                          json_t *failure, int64_t retry_after_ms, sl_err *err);
/* Renew t's lease to lease_expiry; *found: the lease still held; *cancel: stop the activity. */
sl_code sl__op_heartbeat(sl_engine *e, const sl_act_task_row *t, const char *details,
                         int64_t lease_expiry, bool *found, bool *cancel, sl_err *err);
/* Start the fires of every due schedule (inside the transaction); *found counts actions. */
sl_code sl__schedules_process(sl_engine *e, int64_t now, int *found, sl_err *err);
sl_code sl__op_workflow_task(sl_engine *e, int64_t run_pk, sl_err *err);
sl_code sl__op_reap(sl_engine *e, const sl_act_task_row *row, int64_t now, sl_err *err);
sl_code sl__op_timer_fired(sl_engine *e, int64_t run_pk, int32_t seq, sl_err *err);

sl_code sl__op_signal(sl_engine *e, const char *workflow_id, const char *name,
                      const json_t *input, sl_err *err);
sl_code sl__op_cancel(sl_engine *e, const char *workflow_id, const char *reason, bool *already,
                      sl_err *err);
sl_code sl__op_terminate(sl_engine *e, const char *workflow_id, const char *reason,
                         bool *already, sl_err *err);
sl_code sl__op_retry(sl_engine *e, const char *workflow_id, const char *reason,
                     sl_start_result *res, sl_err *err);

/* Deferred work (deferred.c), inside the transaction: drain it after each call; drop it when
 * the transaction (or a call's savepoint) is undone. */
sl_code sl__engine_run_deferred(sl_engine *e, sl_err *err);
void sl__engine_clear_deferred(sl_engine *e);

#endif
