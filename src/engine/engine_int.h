/*
 * engine_int.h - private to src/engine: the engine thread, the replay cache, the
 * workflow and activity contexts.
 *
 * One engine thread per process owns the write connection. Everything that changes
 * durable state is an "item" handed to it; it drains all ready items into one
 * transaction (group commit), runs workflow code inline for runs that need a
 * workflow task, and only after COMMIT tells submitters and hands new activity tasks
 * to the local worker threads (durable before visible).
 *
 * The replay cache (run_state) is touched only by the engine thread. A cached run may
 * be stale when another process wrote to it; every append is conditional on the
 * run's version, and a stale run is reloaded and the change recomputed.
 */
#ifndef SLUICE_ENGINE_INT_H
#define SLUICE_ENGINE_INT_H

#include <pthread.h>
#include <semaphore.h>

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
    int pins;                /* in use by an op: never evicted */
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

/* ---- activity tasks handed to worker threads ------------------------------------- */

typedef struct act_task {
    sl_act_task_row row;   /* owned */
    char run_id[37];
    char *workflow_id;
    struct act_task *next;
} act_task;

void sl__act_task_free(act_task *t);

/* ---- items for the engine thread ------------------------------------------------- */

enum item_kind { IT_CALL, IT_ACT_RESULT, IT_HEARTBEAT };

typedef struct item item;
typedef sl_code (*item_call_fn)(sl_engine *e, item *it, sl_err *err);

struct item {
    enum item_kind kind;
    item *next;
    /* synchronous submitters wait on `done`; async items are freed by the engine */
    bool sync;
    sem_t done;
    sl_code rc;
    sl_err err;
    /* IT_CALL */
    bool no_savepoint;      /* fn writes nothing before it can fail: skip the savepoint */
    item_call_fn fn;
    void *arg;
    void (*async_done)(sl_engine *e, item *it); /* async completion, on the engine thread */
    /* IT_ACT_RESULT / IT_HEARTBEAT */
    act_task *task;
    char *result;           /* JSON text on success */
    json_t *failure;        /* {type,message,non_retryable} on failure */
    int64_t retry_after_ms; /* -1: none */
    bool released;          /* give the task back (shutdown) */
    char *hb_details;       /* JSON text */
    int64_t hb_lease_expiry;
    bool hb_found, hb_cancel;
};

/* Submit and wait (sync) or not (async: freed by the engine after async_done). */
sl_code sl__engine_submit_wait(sl_engine *e, item *it, sl_err *err);
void sl__engine_submit_async(sl_engine *e, item *it);

/* ---- the engine --------------------------------------------------------------------- */

#define SL_CACHE_BUCKETS 8192

struct sl_engine {
    sl_store *st;              /* write connection: engine thread (or caller when !threaded) */
    sl_store *rd;              /* read connection for client reads, under rd_mu */
    pthread_mutex_t rd_mu;
    const sl_registry *reg;
    char identity[128];
    sl_durability durability;
    bool threaded;
    void *env;

    /* submission queue */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    item *q_head, *q_tail;
    bool stop;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t direct_mu; /* serialises direct (non-threaded) transactions */

    /* served queues (worker mode) */
    char **queues;
    size_t n_queues;
    int local_capacity;        /* max activity tasks leased locally and not finished */
    int local_threads;         /* threads running them: the bound on limited queues */
    int64_t maintenance_ms;
    int64_t next_maintenance_ms;
    int64_t poll_delay_ms;     /* idle backoff for database polls */
    int64_t next_poll_ms;
    int64_t wake_hint_ms;      /* known future work (retry, timer, rate slot): poll then */
    bool serving;
    bool draining;             /* shutting down: lease nothing new */

    /* local activity queue, for worker threads */
    pthread_mutex_t aq_mu;
    pthread_cond_t aq_cv;
    act_task *aq_head, *aq_tail;
    int aq_len;
    int in_flight;             /* leased locally and not yet resolved */
    bool aq_closed;
    bool idle;                 /* last check found nothing pending */

    /* replay cache (engine thread only) */
    run_state *buckets[SL_CACHE_BUCKETS];
    run_state *lru_head, *lru_tail;
    int cache_len, cache_max;

    /* work that follows a change (start a run, notify a parent, close children), drained
     * in the same transaction after each item (engine thread only) */
    struct deferred *deferred_head, *deferred_tail;

    /* queues with rate/concurrency limits (refreshed at every batch) */
    char **limited;
    int n_limited;

    /* history size limits */
    int64_t hist_warn_events, hist_warn_bytes, hist_limit_events, hist_limit_bytes;
    /* The last activity options serialised, and their text (workflows mostly schedule their
     * steps with the same options). Touched only by whoever runs workflow tasks. */
    sl_activity_opts opts_memo;
    char *opts_memo_queue;
    char *opts_memo_text;

    /* per-transaction scratch (engine thread only) */
    act_task *dispatch_head, *dispatch_tail; /* leased in this txn, handed out at commit */
    int dispatch_len;
    struct closed_run *closed_head;          /* runs closed in this txn, for callbacks */

    sl_close_cb on_close;
    void *on_close_arg;

    /* statistics */
    int64_t n_commits, n_items, n_wft;
};

struct closed_run {
    char *workflow_id;
    char run_id[37];
    int status;
    struct closed_run *next;
};

/* Inside the engine thread (or a direct transaction). */
run_state *sl__cache_get(sl_engine *e, int64_t run_pk, sl_err *err, sl_code *rc);
run_state *sl__cache_get_fresh(sl_engine *e, int64_t run_pk, sl_err *err, sl_code *rc);
bool sl__engine_take_local(sl_engine *e, const char *queue);
/* Poll no later than t (a retry, timer or rate-limit slot falls due then). */
void sl__engine_wake_at(sl_engine *e, int64_t t);
void sl__cache_evict(sl_engine *e, int64_t run_pk);
void sl__cache_clear(sl_engine *e);
void sl__cache_put(sl_engine *e, run_state *rs);
bool sl__engine_serves(const sl_engine *e, const char *queue);

/* Operations run inside a transaction (engine.c / history ops). */
sl_code sl__op_start(sl_engine *e, const char *type, const json_t *input,
                     const sl_start_opts *o, sl_start_result *res, sl_err *err);
sl_code sl__op_start_at(sl_engine *e, const char *type, const json_t *input,
                        const sl_start_opts *o, int64_t visible_at, sl_start_result *res,
                        sl_err *err);
sl_code sl__op_act_result(sl_engine *e, item *it, sl_err *err);
/* Start the fires of every due schedule (inside the transaction); *found counts actions. */
sl_code sl__schedules_process(sl_engine *e, int64_t now, int *found, sl_err *err);
sl_code sl__op_heartbeat(sl_engine *e, item *it, sl_err *err);
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
/* Queue limits (limits.c), inside the transaction. */
sl_code sl__limits_refresh(sl_engine *e, sl_err *err);
bool sl__limits_apply_to(const sl_engine *e, const char *queue);
/* How many of `want` starts the queue allows now; *next_ms: when more may be (0: unknown). */
sl_code sl__limits_allow(sl_engine *e, const char *queue, int want, int64_t now, int *allowed,
                         int64_t *next_ms, sl_err *err);
sl_code sl__limits_record(sl_engine *e, const char *queue, int started, int64_t now,
                          sl_err *err);

/* Drain deferred work (inside the transaction). */
sl_code sl__engine_run_deferred(sl_engine *e, sl_err *err);
void sl__engine_clear_deferred(sl_engine *e);

#endif
