/*
 * workflow.h - writing workflow code: a deterministic C function re-run from the top on
 * every workflow task against the run's history.
 *
 *   static sl_wf_status my_flow(sl_wf *wf, const json_t *in, json_t **out)
 *   {
 *       const json_t *a, *b;
 *       SL_AWAIT(wf, sl_activity(wf, "step_a", json_incref((json_t *)in), NULL), &a);
 *       SL_AWAIT(wf, sl_activityf(wf, "step_b", NULL, "{s:O}", "a", a), &b);
 *       *out = json_pack("{s:O}", "b", b);
 *       return SL_WF_DONE;
 *   }
 *
 * Each awaitable call (activity, timer, ...) gets the next sequence number. If history
 * already holds its outcome the future is ready at once; otherwise the call becomes a new
 * command and SL_AWAIT returns SL_WF_BLOCKED from the function, which ends the workflow
 * task. Parallel fan-out: create several futures, then await each.
 *
 * Rules for determinism: take time, randomness and ids only from the context
 * (sl_wf_now, sl_wf_random, sl_wf_uuid); do no I/O; keep no state between calls. If
 * replay asks for a different command than history recorded at a sequence number the
 * workflow task fails with a non-determinism error naming both, and the run is kept.
 *
 * Ownership: JSON values a future yields are borrowed and live until the function
 * returns. Inputs passed as `_take` are stolen. *out (on SL_WF_DONE) is the caller's.
 * Threads: a workflow function runs on one engine thread; it must not block.
 */
#ifndef SLUICE_WORKFLOW_H
#define SLUICE_WORKFLOW_H

#include "sluice/retry.h"
#include "sluice/util.h"

typedef struct sl_wf sl_wf;
typedef struct sl_future sl_future;

typedef enum sl_wf_status {
    SL_WF_DONE,    /* the workflow completed; *out holds its result (may be NULL) */
    SL_WF_BLOCKED, /* waiting on a future; new commands were recorded */
    SL_WF_FAILED,  /* the workflow failed; the failure was set with sl_wf_fail or came
                      from an awaited future */
    SL_WF_CANCELED,        /* the workflow accepts a cancel request and ends canceled */
    SL_WF_CONTINUE_AS_NEW, /* close this run and start a new one (sl_wf_continue_as_new) */
} sl_wf_status;

typedef sl_wf_status (*sl_workflow_fn)(sl_wf *wf, const json_t *input, json_t **out);

/* Options for one activity call. Zero values mean "default". */
typedef struct sl_activity_opts {
    const char *task_queue;          /* default: the workflow's task queue */
    int64_t start_to_close_ms;       /* default: schedule_to_close, else 10 minutes */
    int64_t schedule_to_close_ms;    /* default: none */
    int64_t schedule_to_start_ms;    /* default: none */
    int64_t heartbeat_ms;            /* default: none */
    bool has_retry;                  /* use `retry` rather than the default policy */
    sl_retry_policy retry;
} sl_activity_opts;

void sl_activity_opts_init(sl_activity_opts *o);
/*
 * Read {"start_to_close_timeout","schedule_to_close_timeout","schedule_to_start_timeout",
 * "heartbeat_timeout","task_queue","retry_policy":{...}} over o (absent fields keep o's
 * values). SL_EINVAL names the bad field.
 */
SL_MUST_USE sl_code sl_activity_opts_from_json(const json_t *j, sl_activity_opts *o, sl_err *err);
SL_MUST_USE json_t *sl_activity_opts_to_json(const sl_activity_opts *o);

/* Schedule activity `type` with `input_take` (stolen; NULL = null input). */
sl_future *sl_activity(sl_wf *wf, const char *type, json_t *input_take,
                       const sl_activity_opts *opts);
/* Same, with the input built by json_pack(fmt, ...) - only when the call is new, so replay
 * of long histories does no work for inputs. */
sl_future *sl_activityf(sl_wf *wf, const char *type, const sl_activity_opts *opts,
                        const char *fmt, ...);

/* Durable timer that fires after ms (0 fires at once). */
sl_future *sl_wf_timer(sl_wf *wf, int64_t ms);
/* Cancel a pending timer (TimerCanceled); awaiting it then fails with CanceledError. */
void sl_wf_timer_cancel(sl_wf *wf, sl_future *timer);

/*
 * Wait for the next signal called `name` (signals are delivered in the order they were
 * sent; one sent before the code waits is kept). The future yields the signal's input.
 * With timeout_ms > 0 it fails with type "SignalTimeout" if none arrives in time
 * (sl_wf_await_try tells the two apart); timeout_ms <= 0 waits for ever.
 */
sl_future *sl_wf_signal(sl_wf *wf, const char *name, int64_t timeout_ms);

/*
 * Has someone asked to cancel this run (`sluice workflow cancel`)? Calling this means the
 * code handles cancellation itself: awaits keep working so it can clean up, and it
 * should then return SL_WF_CANCELED. Code that never asks is canceled at its next await
 * of a pending future (the await returns SL_WF_CANCELED, which SL_AWAIT passes on).
 */
bool sl_wf_cancel_requested(sl_wf *wf);
/* Declare up front that the code checks sl_wf_cancel_requested itself, so awaits never
 * end the run on their own (for workflows that must clean up whenever they are canceled). */
void sl_wf_handle_cancel(sl_wf *wf);

/* Child workflows. */
typedef enum sl_parent_close_policy {
    SL_PARENT_CLOSE_TERMINATE = 0,      /* default: the child is terminated with the parent */
    SL_PARENT_CLOSE_REQUEST_CANCEL = 1, /* the child gets a cancel request */
    SL_PARENT_CLOSE_ABANDON = 2,        /* the child runs on */
} sl_parent_close_policy;

typedef struct sl_child_opts {
    const char *workflow_id;            /* default "<parent id>-child-<seq>" */
    const char *task_queue;             /* default: the parent's */
    sl_parent_close_policy parent_close_policy;
} sl_child_opts;

/* Start child workflow `type`; the future yields its result (or fails with its failure). */
sl_future *sl_wf_child(sl_wf *wf, const char *type, json_t *input_take, const sl_child_opts *o);

/* A value computed once (fn runs only the first time) and replayed from history after. */
typedef json_t *(*sl_side_effect_fn)(void *arg);
const json_t *sl_wf_side_effect(sl_wf *wf, sl_side_effect_fn fn, void *arg);

/*
 * Versioning for code changes under running workflows: returns the version recorded for
 * change_id; a run that reached this point before the change existed gets
 * SL_WF_DEFAULT_VERSION; a new run records and returns max_supported. A recorded version
 * outside [min, max] is a non-determinism error.
 */
#define SL_WF_DEFAULT_VERSION (-1)
int sl_wf_version(sl_wf *wf, const char *change_id, int min_supported, int max_supported);

/* End this run and start a new one of the same workflow id with `input_take`; return the
 * result: `return sl_wf_continue_as_new(wf, input);` */
sl_wf_status sl_wf_continue_as_new(sl_wf *wf, json_t *input_take);

/*
 * Await a future. SL_WF_DONE with *out (borrowed, may be NULL) on success; SL_WF_BLOCKED
 * when not ready; SL_WF_FAILED when the future failed, and the failure becomes the
 * workflow's unless the workflow later sets another.
 */
sl_wf_status sl_wf_await(sl_wf *wf, sl_future *f, const json_t **out);
/* Like sl_wf_await but a failure is handed to the caller: SL_WF_DONE with *failure set
 * (borrowed JSON {type, message, ...}) and *out NULL. */
sl_wf_status sl_wf_await_try(sl_wf *wf, sl_future *f, const json_t **out,
                             const json_t **failure);
bool sl_future_is_ready(sl_wf *wf, const sl_future *f);

#define SL_AWAIT(wf, fut, outp)                                                                    \
    do {                                                                                           \
        sl_wf_status sl__st = sl_wf_await((wf), (fut), (outp));                                    \
        if (sl__st != SL_WF_DONE)                                                                  \
            return sl__st;                                                                         \
    } while (0)

#define SL_AWAIT_TRY(wf, fut, outp, failp)                                                         \
    do {                                                                                           \
        sl_wf_status sl__st = sl_wf_await_try((wf), (fut), (outp), (failp));                       \
        if (sl__st != SL_WF_DONE)                                                                  \
            return sl__st;                                                                         \
    } while (0)

/* Durable sleep: SL_AWAIT on a timer. */
#define SL_SLEEP(wf, ms) SL_AWAIT(wf, sl_wf_timer((wf), (ms)), NULL)

/* Fail the workflow with an error type and message; returns SL_WF_FAILED. */
sl_wf_status sl_wf_fail(sl_wf *wf, const char *type, const char *fmt, ...) SL_PRINTF(3, 4);
/* Fail with a failure object (borrowed) such as one sl_wf_await_try returned. */
sl_wf_status sl_wf_fail_with(sl_wf *wf, const json_t *failure);

/* Deterministic context. */
int64_t sl_wf_now(sl_wf *wf);           /* workflow time, Unix ms */
uint64_t sl_wf_random(sl_wf *wf);       /* same sequence on every replay */
void sl_wf_uuid(sl_wf *wf, char out[37]);
const char *sl_wf_id(const sl_wf *wf);
const char *sl_wf_run_id(const sl_wf *wf);
const char *sl_wf_type(const sl_wf *wf);
const char *sl_wf_task_queue(const sl_wf *wf);
int sl_wf_attempt(const sl_wf *wf);     /* workflow-level retry attempt, from 1 */
bool sl_wf_is_replaying(const sl_wf *wf);
int64_t sl_wf_history_length(const sl_wf *wf);
int64_t sl_wf_history_bytes(const sl_wf *wf);

/* Hand a JSON value to the workflow context, which releases it after the task; returns it
 * borrowed. */
const json_t *sl_wf_keep(sl_wf *wf, json_t *take);

#endif
