/*
 * dispatch.c - activity tasks between the engine and the dispatcher that runs them
 * (e->dispatch): the tasks leased in the open transaction, handing them over after commit,
 * the bound on how many the dispatcher holds, and the public functions through which it
 * hands back outcomes (complete, fail, heartbeat, release, abandon).
 *
 *   LEASED --sl__dispatch_publish--> DISPATCHED --complete/fail/release/abandon--> RESOLVING
 *     (dropped with its change if undone)     (the dispatcher's)      (freed once recorded)
 *
 * Invariants: (1) in_flight counts the tasks published and not yet resolved, so
 * in_flight + n_leased never exceeds the dispatcher's capacity (the bound on limited queues,
 * its threads, is smaller); (2) a task is handed over once and resolved once; (3) outcomes
 * are conditional on the task's (id, lease owner, attempt), so one whose lease was lost is
 * dropped by the store.
 * Threads: `leased` is the engine thread's; `to` and in_flight are under dispatch.mu; the
 * public functions are called from the dispatcher's threads, never from the engine thread
 * (the synchronous ones wait for it).
 */
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

void sl__dispatch_init(sl_engine *e)
{
    pthread_mutex_init(&e->dispatch.mu, NULL);
}

void sl__activity_task_free(sl_activity_task *t)
{
    if (!t)
        return;
    sl_act_task_row_cleanup(&t->row);
    free(t->workflow_id);
    free(t);
}

void sl__dispatch_cleanup(sl_engine *e)
{
    sl__dispatch_drop_after(e, 0);
    free(e->dispatch.leased);
    e->dispatch.leased = NULL;
    e->dispatch.cap_leased = 0;
    pthread_mutex_destroy(&e->dispatch.mu);
}

void sl__dispatch_set(sl_engine *e, const sl_dispatcher *d)
{
    sl__dispatch *dp = &e->dispatch;
    pthread_mutex_lock(&dp->mu);
    memset(&dp->to, 0, sizeof(dp->to));
    if (d && d->dispatch) {
        dp->to = *d;
        if (dp->to.threads < 1)
            dp->to.threads = 1;
        if (dp->to.capacity < dp->to.threads)
            dp->to.capacity = dp->to.threads;
    }
    pthread_mutex_unlock(&dp->mu);
}

int sl__dispatch_in_flight(sl_engine *e)
{
    pthread_mutex_lock(&e->dispatch.mu);
    int n = e->dispatch.in_flight;
    pthread_mutex_unlock(&e->dispatch.mu);
    return n;
}

/* How many more activity tasks of `queue` to lease now. Queues with a rate or concurrency
 * limit get no prefetch: the limit counts a lease as a start, so a task leased while every
 * thread is busy would start later than counted and let the service see more requests in a
 * window than the limit allowed. */
int sl__dispatch_room(sl_engine *e, const char *queue)
{
    sl__dispatch *dp = &e->dispatch;
    bool limited = sl__limits_apply_to(e, queue);
    pthread_mutex_lock(&dp->mu);
    int cap = !dp->to.dispatch ? 0 : limited ? dp->to.threads : dp->to.capacity;
    int room = cap - dp->in_flight - dp->n_leased;
    pthread_mutex_unlock(&dp->mu);
    return room;
}

static char *dup_or_null(const char *s)
{
    return s ? sl_xstrdup(s) : NULL;
}

sl_activity_task *sl__activity_task_new(const sl_act_task_row *row, const char *run_id,
                                        const char *workflow_id)
{
    sl_activity_task *t = sl_xcalloc(1, sizeof(*t));
    t->row = *row;
    t->row.queue = dup_or_null(row->queue);
    t->row.activity_type = dup_or_null(row->activity_type);
    t->row.input = dup_or_null(row->input);
    t->row.opts = dup_or_null(row->opts);
    t->row.lease_owner = dup_or_null(row->lease_owner);
    t->row.heartbeat_details = dup_or_null(row->heartbeat_details);
    t->row.last_failure = dup_or_null(row->last_failure);
    if (run_id)
        memcpy(t->run_id, run_id, sizeof(t->run_id));
    t->workflow_id = sl_xstrdup(workflow_id ? workflow_id : "");
    t->state = TASK_LEASED;
    return t;
}

void sl__dispatch_add(sl_engine *e, const sl_act_task_row *row, const char *run_id,
                      const char *workflow_id)
{
    sl__dispatch *dp = &e->dispatch;
    sl_activity_task *t = sl__activity_task_new(row, run_id, workflow_id);
    if (dp->n_leased == dp->cap_leased) {
        dp->cap_leased = dp->cap_leased ? dp->cap_leased * 2 : 64;
        dp->leased = sl_xrealloc(dp->leased, (size_t)dp->cap_leased * sizeof(*dp->leased));
    }
    dp->leased[dp->n_leased++] = t;
}

int sl__dispatch_mark(const sl_engine *e)
{
    return e->dispatch.n_leased;
}

void sl__dispatch_drop_after(sl_engine *e, int mark)
{
    sl__dispatch *dp = &e->dispatch;
    SL_ASSERT(mark >= 0 && mark <= dp->n_leased);
    for (int i = mark; i < dp->n_leased; i++) {
        SL_ASSERT(dp->leased[i]->state == TASK_LEASED);
        sl__activity_task_free(dp->leased[i]);
    }
    dp->n_leased = mark;
}

void sl__dispatch_publish(sl_engine *e)
{
    sl__dispatch *dp = &e->dispatch;
    int n = dp->n_leased;
    if (n == 0)
        return;
    pthread_mutex_lock(&dp->mu);
    sl_dispatcher to = dp->to;
    if (to.dispatch)
        dp->in_flight += n;
    SL_ASSERT(!to.dispatch || dp->in_flight <= to.capacity); /* invariant (1) */
    pthread_mutex_unlock(&dp->mu);
    /* Nothing is leased without a dispatcher, and drain waits for the last publish. */
    SL_ASSERT(to.dispatch != NULL);
    dp->n_leased = 0;
    if (!to.dispatch) {
        for (int i = 0; i < n; i++)
            sl__activity_task_free(dp->leased[i]); /* their leases expire; the reaper retries */
        return;
    }
    for (int i = 0; i < n; i++) {
        SL_ASSERT(dp->leased[i]->state == TASK_LEASED);
        dp->leased[i]->state = TASK_DISPATCHED;
    }
    to.dispatch(to.arg, dp->leased, (size_t)n);
}

/* The dispatcher gave up n tasks (after their outcome committed, or at once). */
static void resolved(sl_engine *e, int n)
{
    pthread_mutex_lock(&e->dispatch.mu);
    e->dispatch.in_flight -= n;
    SL_ASSERT(e->dispatch.in_flight >= 0);
    pthread_mutex_unlock(&e->dispatch.mu);
}

/* The dispatcher hands t back: it must be one it holds. */
static void take_back(sl_activity_task *t)
{
    SL_ASSERT(t->state == TASK_DISPATCHED);
    t->state = TASK_RESOLVING;
}

/* ---- accessors ------------------------------------------------------------------------- */

int64_t sl_activity_task_id(const sl_activity_task *t)
{
    return t->row.task_id;
}

const char *sl_activity_task_queue(const sl_activity_task *t)
{
    return t->row.queue;
}

const char *sl_activity_task_type(const sl_activity_task *t)
{
    return t->row.activity_type;
}

const char *sl_activity_task_input(const sl_activity_task *t)
{
    return t->row.input;
}

const char *sl_activity_task_workflow_id(const sl_activity_task *t)
{
    return t->workflow_id;
}

const char *sl_activity_task_run_id(const sl_activity_task *t)
{
    return t->run_id;
}

int32_t sl_activity_task_seq(const sl_activity_task *t)
{
    return t->row.seq;
}

int sl_activity_task_attempt(const sl_activity_task *t)
{
    return t->row.attempt;
}

int64_t sl_activity_task_deadline_ms(const sl_activity_task *t)
{
    const sl_act_task_row *r = &t->row;
    int64_t deadline = r->started_ms + r->start_to_close_ms;
    if (r->close_deadline && r->close_deadline < deadline)
        deadline = r->close_deadline;
    return deadline;
}

int64_t sl_activity_task_heartbeat_timeout_ms(const sl_activity_task *t)
{
    return t->row.heartbeat_ms;
}

int64_t sl_activity_task_lease_expiry_ms(const sl_activity_task *t)
{
    return t->row.lease_expiry;
}

int64_t sl_activity_task_lease_ms(const sl_activity_task *t)
{
    return t->row.heartbeat_ms > 0 ? t->row.heartbeat_ms : t->row.start_to_close_ms;
}

const char *sl_activity_task_last_heartbeat(const sl_activity_task *t)
{
    return t->row.heartbeat_details;
}

const char *sl_activity_task_owner(const sl_activity_task *t)
{
    return t->row.lease_owner ? t->row.lease_owner : "";
}

int64_t sl_activity_task_scheduled_ms(const sl_activity_task *t)
{
    return t->row.scheduled_ms;
}

int64_t sl_activity_task_started_ms(const sl_activity_task *t)
{
    return t->row.started_ms;
}

int64_t sl_activity_task_start_to_close_ms(const sl_activity_task *t)
{
    return t->row.start_to_close_ms;
}

const char *sl_activity_task_last_failure(const sl_activity_task *t)
{
    return t->row.last_failure;
}

/* ---- outcomes --------------------------------------------------------------------------- */

typedef struct outcome {
    sl_activity_task *t;
    char *result;           /* JSON text on success */
    json_t *failure;        /* {type, message, non_retryable} on failure */
    int64_t retry_after_ms; /* -1: none */
} outcome;

static sl_code outcome_fn(sl_engine *e, void *arg, sl_err *err)
{
    outcome *o = arg;
    return sl__op_act_result(e, &o->t->row, o->result, o->failure, o->retry_after_ms, err);
}

static void outcome_done(sl_engine *e, void *arg, sl_code rc)
{
    (void)rc; /* a failed outcome is lost with its transaction: the lease expires, the
               * reaper times the attempt out and the retry policy decides */
    outcome *o = arg;
    bool counted = !o->t->remote;
    sl__activity_task_free(o->t);
    free(o->result);
    json_decref(o->failure);
    free(o);
    if (counted)
        resolved(e, 1);
}

static void submit_outcome(sl_engine *e, outcome *o)
{
    sl__engine_call_async(e, outcome_fn, o, SL__CALL_NO_SAVEPOINT, outcome_done);
}

void sl_engine_task_complete(sl_engine *e, sl_activity_task *t, const char *result_json)
{
    take_back(t);
    outcome *o = sl_xcalloc(1, sizeof(*o));
    o->t = t;
    o->result = dup_or_null(result_json);
    o->retry_after_ms = -1;
    submit_outcome(e, o);
}

void sl_engine_task_fail(sl_engine *e, sl_activity_task *t, const char *type, const char *message,
                         bool non_retryable, int64_t retry_after_ms)
{
    take_back(t);
    outcome *o = sl_xcalloc(1, sizeof(*o));
    o->t = t;
    o->failure =
        sl_json_check(json_pack("{s:s,s:s,s:b}", "type", type && *type ? type : "ActivityError",
                                "message", message ? message : "", "non_retryable", non_retryable));
    o->retry_after_ms = retry_after_ms;
    submit_outcome(e, o);
}

struct heartbeat_call {
    const sl_act_task_row *row;
    const char *details;
    int64_t lease_expiry;
    bool found, cancel;
};

static sl_code heartbeat_fn(sl_engine *e, void *arg, sl_err *err)
{
    struct heartbeat_call *c = arg;
    return sl__op_heartbeat(e, c->row, c->details, c->lease_expiry, &c->found, &c->cancel, err);
}

sl_code sl_engine_task_heartbeat(sl_engine *e, sl_activity_task *t, const char *details_json,
                                 bool *cancel_requested, sl_err *err)
{
    SL_ASSERT(t->state == TASK_DISPATCHED);
    *cancel_requested = false;
    const sl_act_task_row *r = &t->row;
    int64_t now = sl_now_ms();
    int64_t end = r->started_ms + r->start_to_close_ms;
    int64_t lease = r->heartbeat_ms > 0 ? now + r->heartbeat_ms : end;
    if (lease > end)
        lease = end;
    if (r->close_deadline && lease > r->close_deadline)
        lease = r->close_deadline;
    struct heartbeat_call c = {.row = r, .details = details_json, .lease_expiry = lease};
    sl_code rc = sl__engine_call(e, heartbeat_fn, &c, SL__CALL_NO_SAVEPOINT, err);
    if (rc != SL_OK)
        return rc;
    if (c.cancel) {
        *cancel_requested = true;
        return SL_OK;
    }
    if (!c.found)
        return sl_err_set(err, SL_ELEASE, "activity %s attempt %d: the lease is gone",
                          r->activity_type, r->attempt);
    t->row.lease_expiry = lease;
    return SL_OK;
}

struct release_call {
    sl_activity_task *const *tasks;
    size_t n;
};

static sl_code release_fn(sl_engine *e, void *arg, sl_err *err)
{
    struct release_call *c = arg;
    for (size_t i = 0; i < c->n; i++) {
        const sl_act_task_row *r = &c->tasks[i]->row;
        sl_code rc =
            sl_store_act_release(e->st, r->task_id, r->lease_owner, r->attempt, sl_now_ms(), err);
        if (rc != SL_OK)
            return rc;
        sl__ready_note(e, r->queue);
    }
    return SL_OK;
}

sl_code sl_engine_tasks_release(sl_engine *e, sl_activity_task *const *tasks, size_t n, sl_err *err)
{
    if (n == 0)
        return SL_OK;
    for (size_t i = 0; i < n; i++)
        take_back(tasks[i]);
    struct release_call c = {.tasks = tasks, .n = n};
    sl_code rc = sl__engine_call(e, release_fn, &c, 0, err);
    int counted = 0;
    for (size_t i = 0; i < n; i++) {
        counted += !tasks[i]->remote;
        sl__activity_task_free(tasks[i]);
    }
    resolved(e, counted);
    return rc;
}

void sl_engine_task_abandon(sl_engine *e, sl_activity_task *t)
{
    take_back(t);
    bool counted = !t->remote;
    sl__activity_task_free(t);
    if (counted)
        resolved(e, 1);
}
