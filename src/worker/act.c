/*
 * act.c - running an activity on a worker thread: its context sl_act (attempt, deadline,
 * idempotency key, heartbeats and cancellation, the failure helpers) and handing the outcome
 * back to the engine (sl_engine_task_complete / _fail / _release / _abandon).
 *
 * Invariant: every task sl__act_run is given is resolved exactly once, by one of those calls.
 * Threads: an sl_act belongs to the activity thread running it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker_int.h"

#define HEARTBEAT_IDLE_INTERVAL_MS 5000 /* without a heartbeat timeout: cancellation checks */

struct sl_act {
    sl_worker *w;
    sl_activity_task *t;
    char key[80];
    int64_t deadline_ms;
    int64_t hb_interval_ms;
    int64_t last_hb_ms;
    json_t *last_details; /* from an earlier attempt */
    bool stop;            /* canceled, lease lost or shutting down */
    bool canceled;
    /* failure */
    bool failed;
    bool non_retryable;
    int64_t retry_after_ms;
    char fail_type[64];
    char *fail_msg;
};

int sl_act_attempt(const sl_act *act)
{
    return sl_activity_task_attempt(act->t);
}

const char *sl_act_type(const sl_act *act)
{
    return sl_activity_task_type(act->t);
}

const char *sl_act_workflow_id(const sl_act *act)
{
    return sl_activity_task_workflow_id(act->t);
}

const char *sl_act_run_id(const sl_act *act)
{
    return sl_activity_task_run_id(act->t);
}

const char *sl_act_idempotency_key(const sl_act *act)
{
    return act->key;
}

int64_t sl_act_deadline_ms(const sl_act *act)
{
    return act->deadline_ms;
}

int64_t sl_act_heartbeat_timeout_ms(const sl_act *act)
{
    return sl_activity_task_heartbeat_timeout_ms(act->t);
}

const json_t *sl_act_last_heartbeat(const sl_act *act)
{
    return act->last_details;
}

void *sl_act_env(const sl_act *act)
{
    return sl_engine_env(act->w->e);
}

bool sl_act_is_canceled(const sl_act *act)
{
    return act->canceled;
}

/* A synchronous heartbeat through the engine thread. */
static void heartbeat_now(sl_act *act, const json_t *details)
{
    const char *type = sl_activity_task_type(act->t);
    int attempt = sl_activity_task_attempt(act->t);
    int64_t now = sl_now_ms();
    char *text = details ? sl_json_dumps(details) : NULL;
    bool cancel = false;
    sl_err err;
    sl_err_clear(&err);
    sl_code rc = sl_engine_task_heartbeat(act->w->e, act->t, text, &cancel, &err);
    if (rc == SL_OK && cancel) {
        act->stop = act->canceled = true;
        sl_info("activity %s attempt %d: cancellation requested; stopping", type, attempt);
    } else if (rc == SL_ELEASE) {
        act->stop = true;
        sl_info("activity %s attempt %d: lease lost; stopping", type, attempt);
    } else if (rc != SL_OK) {
        sl_warn("activity %s: heartbeat failed: %s", type, err.msg);
    }
    act->last_hb_ms = now;
    free(text);
}

bool sl_act_heartbeat(sl_act *act, const json_t *details)
{
    if (sl__worker_draining(act->w))
        act->stop = true;
    if (act->stop)
        return false;
    if (sl_now_ms() - act->last_hb_ms >= act->hb_interval_ms)
        heartbeat_now(act, details);
    return !act->stop;
}

bool sl_act_sleep_ms(sl_act *act, int64_t ms)
{
    int64_t end = sl_mono_ns() / 1000000 + ms;
    for (;;) {
        if (!sl_act_heartbeat(act, NULL))
            return false;
        int64_t left = end - sl_mono_ns() / 1000000;
        if (left <= 0)
            return true;
        int64_t step = act->hb_interval_ms < 200 ? act->hb_interval_ms : 200;
        sl_sleep_ms(left < step ? left : step);
    }
}

static json_t *fail_v(sl_act *act, const char *type, bool non_retryable, int64_t retry_after_ms,
                      const char *fmt, va_list ap)
{
    act->failed = true;
    act->non_retryable = non_retryable;
    act->retry_after_ms = retry_after_ms;
    snprintf(act->fail_type, sizeof(act->fail_type), "%s", type && *type ? type : "ActivityError");
    free(act->fail_msg);
    act->fail_msg = sl_xvasprintf(fmt, ap);
    return NULL;
}

json_t *sl_act_fail(sl_act *act, const char *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_v(act, type, false, -1, fmt, ap);
    va_end(ap);
    return NULL;
}

json_t *sl_act_fail_nonretryable(sl_act *act, const char *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_v(act, type, true, -1, fmt, ap);
    va_end(ap);
    return NULL;
}

static json_t *fail_fmt(sl_act *act, const char *type, bool nr, int64_t ra, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_v(act, type, nr, ra, fmt, ap);
    va_end(ap);
    return NULL;
}

json_t *sl_act_fail_err(sl_act *act, const char *type, const sl_err *err)
{
    return fail_fmt(act, type, !err->retryable, err->retry_after_ms, "%s",
                    err->msg[0] ? err->msg : sl_code_text(err->code));
}

/* Give t back unstarted or interrupted (shutdown). */
static void release_one(sl_worker *w, sl_activity_task *t)
{
    sl_err err;
    sl_err_clear(&err);
    if (sl_engine_tasks_release(w->e, &t, 1, &err) != SL_OK)
        sl_warn("worker: releasing a task failed: %s", err.msg);
}

/* Run the activity; false when it was not (released, or its lease expired). */
static bool run(sl_act *act, json_t **res, bool *released)
{
    sl_worker *w = act->w;
    sl_activity_task *t = act->t;
    const char *type = sl_activity_task_type(t);
    *res = NULL;
    *released = false;
    int64_t now = sl_now_ms();
    int64_t lease_expiry = sl_activity_task_lease_expiry_ms(t);
    if (sl__worker_draining(w)) {
        *released = true;
        return true;
    }
    if (now >= lease_expiry) {
        /* Waited too long in the local queue: the lease is gone; the reaper retries it. */
        sl_info("activity %s attempt %d: lease expired before start; skipped", type,
                sl_activity_task_attempt(t));
        return false;
    }
    /* If the task waited in the local queue for a large part of its lease, renew it. */
    if (lease_expiry - now < sl_activity_task_lease_ms(t) / 2)
        heartbeat_now(act, NULL);
    sl_activity_fn fn = sl_registry_activity(w->reg, type);
    json_t *input = NULL;
    const char *input_text = sl_activity_task_input(t);
    if (input_text) {
        json_error_t je;
        input = json_loads(input_text, JSON_DECODE_ANY, &je);
    }
    if (act->stop) {
        *released = !act->canceled;
        if (act->canceled)
            fail_fmt(act, "CanceledError", true, -1, "activity canceled");
    } else if (!fn) {
        fail_fmt(act, "ActivityNotRegistered", false, -1,
                 "no activity '%s' is registered in this worker", type);
    } else {
        *res = fn(act, input ? input : json_null());
        if (!*res && !act->failed)
            fail_fmt(act, "ActivityError", false, -1, "activity returned no result and no failure");
        if (!*res && sl__worker_draining(w) && !act->canceled && act->stop)
            *released = true; /* interrupted by shutdown: give it back */
    }
    json_decref(input);
    return true;
}

void sl__act_run(sl_worker *w, sl_activity_task *t)
{
    sl_act act;
    memset(&act, 0, sizeof(act));
    act.w = w;
    act.t = t;
    act.retry_after_ms = -1;
    snprintf(act.key, sizeof(act.key), "%s/%d", sl_activity_task_run_id(t),
             (int)sl_activity_task_seq(t));
    act.deadline_ms = sl_activity_task_deadline_ms(t);
    int64_t hb_ms = sl_activity_task_heartbeat_timeout_ms(t);
    act.hb_interval_ms = hb_ms > 0 ? hb_ms / 2 : HEARTBEAT_IDLE_INTERVAL_MS;
    if (act.hb_interval_ms < 10)
        act.hb_interval_ms = 10;
    act.last_hb_ms = sl_now_ms();
    const char *last = sl_activity_task_last_heartbeat(t);
    if (last) {
        json_error_t je;
        act.last_details = json_loads(last, JSON_DECODE_ANY, &je);
    }

    json_t *res;
    bool released;
    if (!run(&act, &res, &released)) {
        sl_engine_task_abandon(w->e, t); /* nothing to record: the reaper times it out */
    } else if (released) {
        release_one(w, t);
    } else if (res && !act.failed) {
        char *text = sl_json_dumps(res);
        sl_engine_task_complete(w->e, t, text);
        free(text);
    } else {
        sl_engine_task_fail(w->e, t, act.fail_type, act.fail_msg ? act.fail_msg : "",
                            act.non_retryable, act.retry_after_ms);
    }
    json_decref(res);
    free(act.fail_msg);
    json_decref(act.last_details);
}
