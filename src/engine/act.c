/*
 * act.c - running an activity on a worker thread: its context (attempt, deadline,
 * heartbeats, cancellation) and handing the outcome to the engine thread.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

#define HEARTBEAT_IDLE_INTERVAL_MS 5000 /* without a heartbeat timeout: cancellation checks */

struct sl_act {
    sl_engine *e;
    act_task *t;
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

void sl__act_task_free(act_task *t)
{
    if (!t)
        return;
    sl_act_task_row_cleanup(&t->row);
    free(t->workflow_id);
    free(t);
}

int sl_act_attempt(const sl_act *act)
{
    return act->t->row.attempt;
}

const char *sl_act_type(const sl_act *act)
{
    return act->t->row.activity_type;
}

const char *sl_act_workflow_id(const sl_act *act)
{
    return act->t->workflow_id;
}

const char *sl_act_run_id(const sl_act *act)
{
    return act->t->run_id;
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
    return act->t->row.heartbeat_ms;
}

const json_t *sl_act_last_heartbeat(const sl_act *act)
{
    return act->last_details;
}

void *sl_act_env(const sl_act *act)
{
    return act->e->env;
}

bool sl_act_is_canceled(const sl_act *act)
{
    return act->canceled;
}

/* A synchronous heartbeat through the engine thread. */
static void heartbeat_now(sl_act *act, const json_t *details)
{
    sl_engine *e = act->e;
    const sl_act_task_row *r = &act->t->row;
    int64_t now = sl_now_ms();
    item *it = sl_xcalloc(1, sizeof(*it));
    it->kind = IT_HEARTBEAT;
    it->task = act->t; /* borrowed: detached before freeing */
    it->hb_details = details ? sl_json_dumps(details) : NULL;
    int64_t lease = r->heartbeat_ms > 0 ? now + r->heartbeat_ms
                                        : r->started_ms + r->start_to_close_ms;
    if (lease > r->started_ms + r->start_to_close_ms)
        lease = r->started_ms + r->start_to_close_ms;
    if (r->close_deadline && lease > r->close_deadline)
        lease = r->close_deadline;
    it->hb_lease_expiry = lease;
    sl_err err;
    sl_err_clear(&err);
    sl_code rc = sl__engine_submit_wait(e, it, &err);
    it->task = NULL;
    if (rc == SL_OK) {
        if (it->hb_cancel) {
            act->stop = act->canceled = true;
            sl_info("activity %s attempt %d: cancellation requested; stopping", r->activity_type,
                    r->attempt);
        } else if (!it->hb_found) {
            act->stop = true;
            sl_info("activity %s attempt %d: lease lost; stopping", r->activity_type, r->attempt);
        } else {
            act->t->row.lease_expiry = lease;
        }
    } else {
        sl_warn("activity %s: heartbeat failed: %s", r->activity_type, err.msg);
    }
    act->last_hb_ms = now;
    free(it->hb_details);
    sem_destroy(&it->done);
    free(it);
}

bool sl_act_heartbeat(sl_act *act, const json_t *details)
{
    if (act->e->draining)
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

void sl_engine_run_task(sl_engine *e, sl_engine_task *t)
{
    sl_act act;
    memset(&act, 0, sizeof(act));
    act.e = e;
    act.t = t;
    act.retry_after_ms = -1;
    const sl_act_task_row *r = &t->row;
    snprintf(act.key, sizeof(act.key), "%s/%d", t->run_id, r->seq);
    act.deadline_ms = r->started_ms + r->start_to_close_ms;
    if (r->close_deadline && r->close_deadline < act.deadline_ms)
        act.deadline_ms = r->close_deadline;
    act.hb_interval_ms = r->heartbeat_ms > 0 ? r->heartbeat_ms / 2 : HEARTBEAT_IDLE_INTERVAL_MS;
    if (act.hb_interval_ms < 10)
        act.hb_interval_ms = 10;
    act.last_hb_ms = sl_now_ms();
    if (r->heartbeat_details) {
        json_error_t je;
        act.last_details = json_loads(r->heartbeat_details, JSON_DECODE_ANY, &je);
    }

    item *it = sl_xcalloc(1, sizeof(*it));
    it->kind = IT_ACT_RESULT;
    it->retry_after_ms = -1;
    int64_t now = sl_now_ms();
    if (e->draining) {
        it->released = true;
    } else if (now >= r->lease_expiry) {
        /* Waited too long in the local queue: the lease is gone; the reaper retries it. */
        sl_info("activity %s attempt %d: lease expired before start; skipped", r->activity_type,
                r->attempt);
        it->released = false;
        it->failure = NULL;
        it->result = NULL;
        it->task = t;
        /* Nothing to record: the attempt will be timed out by the reaper. */
        pthread_mutex_lock(&e->aq_mu);
        e->in_flight--;
        pthread_cond_broadcast(&e->aq_cv);
        pthread_mutex_unlock(&e->aq_mu);
        sl__act_task_free(t);
        free(it);
        json_decref(act.last_details);
        return;
    } else {
        /* If the task waited in the local queue for a large part of its lease, renew it. */
        int64_t lease_len = r->heartbeat_ms > 0 ? r->heartbeat_ms : r->start_to_close_ms;
        if (r->lease_expiry - now < lease_len / 2)
            heartbeat_now(&act, NULL);
        sl_activity_fn fn = sl_registry_activity(e->reg, r->activity_type);
        json_t *input = NULL;
        if (r->input) {
            json_error_t je;
            input = json_loads(r->input, JSON_DECODE_ANY, &je);
        }
        json_t *res = NULL;
        if (act.stop) {
            it->released = !act.canceled;
            if (act.canceled)
                fail_fmt(&act, "CanceledError", true, -1, "activity canceled");
        } else if (!fn) {
            fail_fmt(&act, "ActivityNotRegistered", false, -1,
                     "no activity '%s' is registered in this worker", r->activity_type);
        } else {
            res = fn(&act, input ? input : json_null());
            if (!res && !act.failed)
                fail_fmt(&act, "ActivityError", false, -1,
                         "activity returned no result and no failure");
            if (!res && e->draining && !act.canceled && act.stop)
                it->released = true; /* interrupted by shutdown: give it back */
        }
        json_decref(input);
        if (res && !act.failed) {
            it->result = sl_json_dumps(res);
        } else if (!it->released) {
            it->failure = sl_json_check(json_pack("{s:s,s:s,s:b}", "type", act.fail_type,
                                                  "message", act.fail_msg ? act.fail_msg : "",
                                                  "non_retryable", act.non_retryable));
            it->retry_after_ms = act.retry_after_ms;
        }
        json_decref(res);
    }
    it->task = t;
    sl__engine_submit_async(e, it);
    free(act.fail_msg);
    json_decref(act.last_details);
}
