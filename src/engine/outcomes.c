/*
 * outcomes.c - recording outcomes on a run: an activity's result or failure (and the retry
 * decision), heartbeats, timed-out attempts found by the reaper, fired timers, and workflow
 * tasks found by polling. Each appends events to a run that is still open and then runs (or
 * schedules) its workflow task, recomputing the change when the run went stale.
 *
 * Threads: the engine thread (or a direct engine's caller), inside the transaction.
 */
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "ops_int.h"

sl_code sl__run_op(sl_engine *e, const run_op_args *a, sl_err *err)
{
    for (int tries = 0; tries < 3; tries++) {
        sl_code rc;
        run_state *rs = sl__cache_get(e, a->run_pk, err, &rc);
        if (!rs)
            return rc == SL_ENOTFOUND ? SL_OK : rc;
        if (rs->status != SL_RUN_RUNNING)
            return SL_OK; /* a closed run records nothing more */
        sl__cache_pin(rs);
        struct deferred *mark = sl__deferred_mark(e);
        change ch;
        sl__change_init(&ch, rs);
        int64_t now = sl_now_ms();
        for (int i = 0; i < a->n_evs; i++) {
            if (i == a->resolve_at &&
                (rc = sl__rs_resolve(rs, a->resolve_seq, a->resolve_state,
                                     json_incref(a->resolve_value), sl__change_next_id(&ch),
                                     err)) != SL_OK) {
                sl__change_free(&ch);
                sl__cache_unpin(rs);
                sl__cache_evict(e, a->run_pk);
                return rc;
            }
            sl__change_event(&ch, a->types[i], a->times[i] ? a->times[i] : now,
                             sl_xstrdup(a->attrs[i]));
        }
        if (a->wft)
            sl__wft_schedule(e, rs, &ch, now);
        rc = sl__change_commit(e, &ch, err);
        bool closed = ch.close;
        sl__change_free(&ch);
        sl__cache_unpin(rs);
        if (rc == SL_ESTALE) {
            sl__cache_evict(e, a->run_pk);
            sl__deferred_truncate(e, mark);
            continue;
        }
        if (rc != SL_OK || closed)
            sl__cache_evict(e, a->run_pk);
        return rc;
    }
    return sl_err_set(err, SL_EBUSY, "run %lld kept changing under us", (long long)a->run_pk);
}

static char *started_attrs(const sl_act_task_row *t, const char *identity)
{
    return sl__dumps_take(sl_json_check(
        json_pack("{s:I,s:i,s:i,s:s}", "scheduled_event_id", (json_int_t)t->sched_event_id, "seq",
                  t->seq, "attempt", t->attempt, "identity", identity ? identity : "")));
}

static void policy_of(const sl_act_task_row *t, sl_retry_policy *p, int64_t *s2s)
{
    sl_retry_policy_init(p);
    *s2s = 0;
    if (!t->opts)
        return;
    json_error_t je;
    json_t *o = json_loads(t->opts, 0, &je);
    json_t *rp = json_object_get(o, "retry_policy");
    if (rp && sl_retry_policy_from_json(rp, p, NULL) != SL_OK)
        sl_retry_policy_init(p);
    json_t *s2sj = json_object_get(o, "schedule_to_start_timeout");
    if (s2sj && sl_duration_from_json(s2sj, s2s, NULL) != SL_OK)
        *s2s = 0;
    json_decref(o);
}

/* Record a failed attempt (error or timeout) and decide on the next one. */
static sl_code attempt_failed(sl_engine *e, const sl_act_task_row *t, const char *owner,
                              const char *started_by, const char *event_type,
                              const char *timeout_type, json_t *failure, int64_t retry_after_ms,
                              bool final_anyway, sl_err *err)
{
    int64_t now = sl_now_ms();
    sl_retry_policy p;
    int64_t s2s;
    policy_of(t, &p, &s2s);
    const char *etype = json_string_value(json_object_get(failure, "type"));
    bool non_retryable = json_is_true(json_object_get(failure, "non_retryable"));
    sl_retry_decision d = sl_retry_decide(&p, t->attempt, etype, non_retryable, retry_after_ms, now,
                                          t->close_deadline, sl_rand_unit());
    if (final_anyway && d.state == SL_RETRY_IN_PROGRESS)
        d.state = SL_RETRY_TIMEOUT;
    if (t->cancel_requested)
        d.state = SL_RETRY_CANCEL_REQUESTED; /* cancel always wins over retry */
    bool found;
    sl_code rc;
    char *failure_text = sl_json_dumps(failure);
    if (d.state == SL_RETRY_IN_PROGRESS) {
        int64_t deadline = t->close_deadline;
        if (s2s > 0 && (!deadline || d.next_attempt_ms + s2s < deadline))
            deadline = d.next_attempt_ms + s2s;
        rc = sl_store_act_retry(e->st, t->task_id, owner, t->attempt, d.next_attempt_ms, deadline,
                                failure_text, &found, err);
        /* Poll again when the retry is due rather than at the idle backoff. */
        if (sl__engine_serves_activities(e, t->queue))
            sl__engine_wake_at(e, d.next_attempt_ms);
        sl__ready_note(e, t->queue);
    } else {
        rc = sl_store_act_take(e->st, t->task_id, owner, t->attempt, &found, err);
    }
    free(failure_text);
    if (rc != SL_OK || !found)
        return rc != SL_OK ? rc : SL_ELEASE;

    bool final = d.state != SL_RETRY_IN_PROGRESS;
    bool canceled = d.state == SL_RETRY_CANCEL_REQUESTED;
    json_t *attrs = sl_json_check(json_pack("{s:I,s:i,s:i,s:O,s:b,s:s}", "scheduled_event_id",
                                            (json_int_t)t->sched_event_id, "seq", t->seq, "attempt",
                                            t->attempt, "failure", failure, "will_retry", !final,
                                            "retry_state", sl_retry_state_name(d.state)));
    if (timeout_type)
        json_object_set_new(attrs, "timeout_type", json_string(timeout_type));
    if (!final) {
        char when[40];
        json_object_set_new(attrs, "next_attempt_time",
                            json_string(sl_time_format(d.next_attempt_ms, when, sizeof(when))));
    }
    char *a0 = started_by ? started_attrs(t, started_by) : NULL;
    char *a1 = sl__dumps_take(attrs);
    json_t *value = NULL;
    run_op_args a = {.run_pk = t->run_pk, .resolve_at = -1, .wft = final};
    if (a0) {
        a.types[a.n_evs] = SL_EV_ACTIVITY_STARTED;
        a.times[a.n_evs] = t->started_ms;
        a.attrs[a.n_evs++] = a0;
    }
    a.types[a.n_evs] = canceled ? SL_EV_ACTIVITY_CANCELED : event_type;
    a.times[a.n_evs] = now;
    a.attrs[a.n_evs++] = a1;
    if (final) {
        value = json_deep_copy(failure);
        json_object_set_new(value, "attempt", json_integer(t->attempt));
        json_object_set_new(value, "retry_state", json_string(sl_retry_state_name(d.state)));
        if (canceled)
            json_object_set_new(value, "type", json_string("CanceledError"));
        a.resolve_at = a.n_evs - 1;
        a.resolve_seq = t->seq;
        a.resolve_state = canceled ? RES_CANCELED : RES_FAILED;
        a.resolve_value = value;
    }
    rc = sl__run_op(e, &a, err);
    free(a0);
    free(a1);
    json_decref(value);
    return rc;
}

sl_code sl__op_act_result(sl_engine *e, const sl_act_task_row *t, const char *result,
                          json_t *failure, int64_t retry_after_ms, sl_err *err)
{
    if (failure) {
        sl_code rc = attempt_failed(e, t, t->lease_owner, t->lease_owner, SL_EV_ACTIVITY_FAILED,
                                    NULL, failure, retry_after_ms, false, err);
        if (rc == SL_ELEASE) {
            sl_debug("activity %s attempt %d: lease lost, outcome dropped", t->activity_type,
                     t->attempt);
            return SL_OK;
        }
        return rc;
    }
    bool found;
    sl_code rc = sl_store_act_take(e->st, t->task_id, t->lease_owner, t->attempt, &found, err);
    if (rc != SL_OK)
        return rc;
    if (!found) {
        sl_debug("activity %s attempt %d: lease lost, result dropped", t->activity_type,
                 t->attempt);
        return SL_OK;
    }
    json_error_t je;
    if (!result)
        result = "null";
    json_t *value = json_loads(result, JSON_DECODE_ANY, &je);
    if (!value)
        value = json_null();
    char *a0 = started_attrs(t, t->lease_owner);
    char *a1 = sl_xasprintf("{\"scheduled_event_id\":%lld,\"seq\":%d,\"attempt\":%d,\"result\":%s}",
                            (long long)t->sched_event_id, t->seq, t->attempt, result);
    run_op_args a = {.run_pk = t->run_pk,
                     .n_evs = 2,
                     .types = {SL_EV_ACTIVITY_STARTED, SL_EV_ACTIVITY_COMPLETED},
                     .times = {t->started_ms, 0},
                     .attrs = {a0, a1},
                     .resolve_at = 1,
                     .resolve_seq = t->seq,
                     .resolve_state = RES_OK,
                     .resolve_value = value,
                     .wft = true};
    rc = sl__run_op(e, &a, err);
    free(a0);
    free(a1);
    json_decref(value);
    return rc;
}

sl_code sl__op_heartbeat(sl_engine *e, const sl_act_task_row *t, const char *details,
                         int64_t lease_expiry, bool *found, bool *cancel, sl_err *err)
{
    sl_code rc = sl_store_act_heartbeat(e->st, t->task_id, t->lease_owner, t->attempt, details,
                                        lease_expiry, found, cancel, err);
    if (rc == SL_OK && !*found) {
        /* The task is gone: was its run canceled or terminated? Then say so. */
        int64_t v;
        int status;
        if (sl_store_run_version(e->st, t->run_pk, &v, &status, NULL) == SL_OK &&
            (status == SL_RUN_CANCELED || status == SL_RUN_TERMINATED))
            *cancel = true;
    }
    return rc;
}

sl_code sl__op_reap(sl_engine *e, const sl_act_task_row *t, int64_t now, sl_err *err)
{
    const char *timeout_type;
    bool leased = t->lease_owner && t->lease_expiry < now;
    bool final = false;
    if (leased) {
        if (t->close_deadline && t->lease_expiry >= t->close_deadline) {
            timeout_type = "schedule_to_close";
            final = true;
        } else if (t->heartbeat_ms > 0 && t->started_ms + t->start_to_close_ms > t->lease_expiry) {
            timeout_type = "heartbeat";
        } else {
            timeout_type = "start_to_close";
        }
    } else {
        final = true;
        timeout_type = t->close_deadline && t->close_deadline <= now ? "schedule_to_close"
                                                                     : "schedule_to_start";
    }
    char *msg = sl_xasprintf("activity %s attempt %d timed out (%s)", t->activity_type, t->attempt,
                             timeout_type);
    json_t *failure = sl_json_check(
        json_pack("{s:s,s:s,s:b}", "type", "TimeoutError", "message", msg, "non_retryable", false));
    free(msg);
    sl_code rc = attempt_failed(e, t, NULL, leased ? t->lease_owner : NULL,
                                SL_EV_ACTIVITY_TIMED_OUT, timeout_type, failure, -1, final, err);
    json_decref(failure);
    return rc == SL_ELEASE ? SL_OK : rc;
}

sl_code sl__op_timer_fired(sl_engine *e, int64_t run_pk, int32_t seq, sl_err *err)
{
    bool found;
    sl_code rc = sl_store_timer_delete(e->st, run_pk, seq, &found, err);
    if (rc != SL_OK || !found)
        return rc;
    char *attrs = sl_xasprintf("{\"seq\":%d}", seq);
    json_t *value = json_null();
    run_op_args a = {.run_pk = run_pk,
                     .n_evs = 1,
                     .types = {SL_EV_TIMER_FIRED},
                     .attrs = {attrs},
                     .resolve_at = 0,
                     .resolve_seq = seq,
                     .resolve_state = RES_OK,
                     .resolve_value = value,
                     .wft = true};
    rc = sl__run_op(e, &a, err);
    free(attrs);
    json_decref(value);
    return rc;
}

sl_code sl__op_workflow_task(sl_engine *e, int64_t run_pk, sl_err *err)
{
    for (int tries = 0; tries < 3; tries++) {
        sl_code rc;
        run_state *rs = sl__cache_get_fresh(e, run_pk, err, &rc);
        if (!rs) {
            if (rc == SL_ENOTFOUND) {
                sl_err_clear(err);
                return sl_store_wft_delete(e->st, run_pk, err);
            }
            return rc;
        }
        if (rs->status != SL_RUN_RUNNING) {
            rs->wft_row = false;
            return sl_store_wft_delete(e->st, run_pk, err);
        }
        rs->wft_row = true;
        sl__cache_pin(rs);
        struct deferred *mark = sl__deferred_mark(e);
        change ch;
        sl__change_init(&ch, rs);
        sl__wft_into_change(e, rs, &ch, sl_now_ms());
        rc = sl__change_commit(e, &ch, err);
        bool closed = ch.close;
        sl__change_free(&ch);
        sl__cache_unpin(rs);
        if (rc == SL_ESTALE) {
            sl__cache_evict(e, run_pk);
            sl__deferred_truncate(e, mark);
            continue;
        }
        if (rc != SL_OK || closed)
            sl__cache_evict(e, run_pk);
        return rc;
    }
    return sl_err_set(err, SL_EBUSY, "run %lld kept changing under us", (long long)run_pk);
}
