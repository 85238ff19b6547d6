/*
 * wft.c - workflow tasks: run the workflow code on a cached run and turn what it decided
 * (activities, timers, side effects, children, versions, the run's end) into the events and
 * rows of a change; history size limits; the activity options memo (e->opts_memo_*).
 *
 * Threads: the engine thread (or a direct engine's caller), inside the transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "ops_int.h"

#define DEFAULT_START_TO_CLOSE_MS (10 * 60 * 1000)

/*
 * ActivityTaskScheduled's attributes, {"seq":..,"activity_type":..,"task_queue":..,"input":..,
 * "options":..}, assembled from the input and options already serialised for the task row:
 * serialising them is the costliest part of scheduling a step, so it is done once. The
 * result is what json_dumps(JSON_COMPACT) of that object gives.
 */
static char *activity_attrs(int32_t seq, const char *name, const char *queue,
                            const char *input_text, const char *opts_text)
{
    char *n = sl__dumps_take(sl_json_check(json_string(name)));
    char *q = sl__dumps_take(sl_json_check(json_string(queue)));
    char *s = sl_xasprintf("{\"seq\":%d,\"activity_type\":%s,\"task_queue\":%s,\"input\":%s,"
                           "\"options\":%s}",
                           (int)seq, n, q, input_text, opts_text);
    free(n);
    free(q);
    return s;
}

static bool same_opts(const sl_activity_opts *a, const char *a_queue, const sl_activity_opts *b)
{
    const sl_retry_policy *p = &a->retry, *q = &b->retry;
    if ((a_queue == NULL) != (b->task_queue == NULL) ||
        (a_queue && strcmp(a_queue, b->task_queue) != 0) ||
        a->start_to_close_ms != b->start_to_close_ms ||
        a->schedule_to_close_ms != b->schedule_to_close_ms ||
        a->schedule_to_start_ms != b->schedule_to_start_ms || a->heartbeat_ms != b->heartbeat_ms ||
        a->has_retry != b->has_retry)
        return false;
    if (!a->has_retry)
        return true;
    if (p->initial_interval_ms != q->initial_interval_ms ||
        p->backoff_coefficient != q->backoff_coefficient ||
        p->maximum_interval_ms != q->maximum_interval_ms ||
        p->maximum_attempts != q->maximum_attempts || p->jitter != q->jitter ||
        p->n_non_retryable != q->n_non_retryable)
        return false;
    for (int i = 0; i < p->n_non_retryable; i++)
        if (strcmp(p->non_retryable[i], q->non_retryable[i]) != 0)
            return false;
    return true;
}

/* The options as JSON text (owned), from the engine's memo when they are the last ones. */
static char *opts_text(sl_engine *e, const sl_activity_opts *o)
{
    if (!e->opts_memo_text || !same_opts(&e->opts_memo, e->opts_memo_queue, o)) {
        free(e->opts_memo_text);
        free(e->opts_memo_queue);
        e->opts_memo = *o;
        e->opts_memo_queue = o->task_queue ? sl_xstrdup(o->task_queue) : NULL;
        e->opts_memo.task_queue = NULL;
        e->opts_memo_text = sl__dumps_take(sl_activity_opts_to_json(o));
    }
    return sl_xstrdup(e->opts_memo_text);
}

static void emit_activity(sl_engine *e, run_state *rs, change *ch, const wf_cmd *c, int64_t now)
{
    const sl_activity_opts *o = &c->opts;
    const char *queue = o->task_queue ? o->task_queue : rs->queue;
    int64_t s2c = o->start_to_close_ms      ? o->start_to_close_ms
                  : o->schedule_to_close_ms ? o->schedule_to_close_ms
                                            : DEFAULT_START_TO_CLOSE_MS;
    char *otext = opts_text(e, o);
    char *input_text = sl_json_dumps(c->input);
    char *attrs = activity_attrs(c->seq, c->name, queue, input_text, otext);
    SL_ASSERT_OK(sl__rs_push_cmd(rs, CMD_ACTIVITY, c->seq, c->name, sl__change_next_id(ch), NULL));
    int idx = sl__change_event(ch, SL_EV_ACTIVITY_SCHEDULED, now, attrs);
    pend_fx *fx = sl__change_fx(ch, FX_ACT, idx);
    sl_act_task_row *row = &fx->row;
    row->seq = c->seq;
    row->queue = sl_xstrdup(queue);
    row->activity_type = sl_xstrdup(c->name);
    row->input = input_text;
    row->opts = otext;
    row->start_to_close_ms = s2c;
    row->heartbeat_ms = o->heartbeat_ms;
    row->attempt = 1;
    row->scheduled_ms = now;
    row->visible_at = now;
    row->close_deadline = o->schedule_to_close_ms ? now + o->schedule_to_close_ms : 0;
    row->deadline = o->schedule_to_start_ms ? now + o->schedule_to_start_ms : row->close_deadline;
    if (row->close_deadline && row->deadline > row->close_deadline)
        row->deadline = row->close_deadline;
}

static void emit_timer(run_state *rs, change *ch, const wf_cmd *c, int64_t now)
{
    char when[40], dur[32];
    int64_t fire_at = now + c->timer_ms;
    char *attrs = sl__dumps_take(
        sl_json_check(json_pack("{s:i,s:s,s:s}", "seq", c->seq, "duration",
                                sl_duration_format(c->timer_ms, dur, sizeof(dur)), "fire_at",
                                sl_time_format(fire_at, when, sizeof(when)))));
    SL_ASSERT_OK(sl__rs_push_cmd(rs, CMD_TIMER, c->seq, NULL, sl__change_next_id(ch), NULL));
    int idx = sl__change_event(ch, SL_EV_TIMER_STARTED, now, attrs);
    pend_fx *fx = sl__change_fx(ch, FX_TIMER, idx);
    fx->seq = c->seq;
    fx->fire_at = fire_at;
}

static void emit_timer_cancel(run_state *rs, change *ch, int32_t seq, int64_t now)
{
    if (seq < 0 || seq >= rs->n_cmds || rs->cmds[seq].res != RES_PENDING)
        return;
    SL_ASSERT_OK(sl__rs_resolve(rs, seq, RES_CANCELED, json_null(), sl__change_next_id(ch), NULL));
    sl__change_event(ch, SL_EV_TIMER_CANCELED, now, sl_xasprintf("{\"seq\":%d}", seq));
    sl__change_fx(ch, FX_TIMER_DELETE, -1)->seq = seq;
}

static void emit_side_effect(run_state *rs, change *ch, const wf_cmd *c, int64_t now)
{
    char *attrs = sl__dumps_take(sl_json_check(json_pack(
        "{s:s,s:i,s:O}", "marker_name", "side_effect", "seq", c->seq, "value", c->input)));
    SL_ASSERT_OK(
        sl__rs_push_cmd(rs, CMD_SIDE_EFFECT, c->seq, "side_effect", sl__change_next_id(ch), NULL));
    SL_ASSERT_OK(
        sl__rs_resolve(rs, c->seq, RES_OK, json_incref(c->input), sl__change_next_id(ch), NULL));
    sl__change_event(ch, SL_EV_MARKER, now, attrs);
}

static void emit_version(run_state *rs, change *ch, const wf_cmd *c, int64_t now)
{
    sl__rs_set_version(rs, c->name, c->version);
    sl__change_event(
        ch, SL_EV_MARKER, now,
        sl__dumps_take(sl_json_check(json_pack("{s:s,s:s,s:i}", "marker_name", "version",
                                               "change_id", c->name, "version", c->version))));
}

const char *sl__policy_name(int p)
{
    return p == PCP_REQUEST_CANCEL ? "request_cancel" : p == PCP_ABANDON ? "abandon" : "terminate";
}

int sl__policy_parse(const char *s)
{
    if (s && strcmp(s, "request_cancel") == 0)
        return PCP_REQUEST_CANCEL;
    if (s && strcmp(s, "abandon") == 0)
        return PCP_ABANDON;
    return PCP_TERMINATE;
}

static void emit_child(sl_engine *e, run_state *rs, change *ch, const wf_cmd *c, int64_t now)
{
    const char *queue = c->child_queue ? c->child_queue : rs->queue;
    new_run *nr = sl_xcalloc(1, sizeof(*nr));
    sl_uuid_new(nr->run_id);
    json_t *attrs = sl_json_check(
        json_pack("{s:i,s:s,s:s,s:s,s:s,s:O,s:s}", "seq", c->seq, "workflow_type", c->name,
                  "workflow_id", c->child_id, "run_id", nr->run_id, "task_queue", queue, "input",
                  c->input, "parent_close_policy", sl__policy_name(c->child_policy)));
    SL_ASSERT_OK(sl__rs_push_cmd(rs, CMD_CHILD, c->seq, c->name, sl__change_next_id(ch), NULL));
    sl__change_event(ch, SL_EV_CHILD_INITIATED, now, sl__dumps_take(attrs));

    sl_run_row open;
    sl_err err;
    sl_err_clear(&err);
    bool exists = sl_store_run_find_open(e->st, c->child_id, &open, &err) == SL_OK;
    if (exists)
        sl_run_row_cleanup(&open);
    if (!exists)
        exists = sl__deferred_starts(e, c->child_id);
    if (exists || !sl_registry_workflow(e->reg, c->name)) {
        json_t *failure = sl_json_check(json_pack(
            "{s:s,s:s}", "type", exists ? "WorkflowExecutionAlreadyStarted" : "UnknownWorkflowType",
            "message",
            exists ? "a run with this workflow id is already open" : "unknown workflow type"));
        SL_ASSERT_OK(sl__rs_resolve(rs, c->seq, RES_FAILED, json_incref(failure),
                                    sl__change_next_id(ch), NULL));
        sl__change_event(
            ch, SL_EV_CHILD_START_FAILED, now,
            sl__dumps_take(sl_json_check(json_pack("{s:i,s:s,s:o}", "seq", c->seq, "workflow_id",
                                                   c->child_id, "failure", failure))));
        sl__new_run_free(nr);
        return;
    }
    nr->workflow_id = sl_xstrdup(c->child_id);
    nr->type = sl_xstrdup(c->name);
    nr->queue = sl_xstrdup(queue);
    nr->input = json_incref(c->input);
    nr->attempt = 1;
    nr->parent_run_id = sl_xstrdup(rs->run_id);
    nr->parent_seq = c->seq;
    nr->parent_close_policy = c->child_policy;
    nr->started_extra =
        sl_json_check(json_pack("{s:s,s:s,s:i}", "parent_workflow_id", rs->workflow_id,
                                "parent_run_id", rs->run_id, "parent_seq", c->seq));
    sl__defer_start(e, nr);
}

void sl__wft_schedule(sl_engine *e, run_state *rs, change *ch, int64_t now)
{
    if (sl__engine_serves(e, rs->queue))
        sl__wft_into_change(e, rs, ch, now);
    else
        ch->ensure_wft = true;
}

/* Events for what a closing run leaves behind: activities asked to cancel, timers canceled. */
void sl__emit_close_pending(run_state *rs, change *ch, int64_t now)
{
    for (int32_t i = 0; i < rs->n_cmds; i++) {
        rs_cmd *c = &rs->cmds[i];
        if (c->res != RES_PENDING)
            continue;
        if (c->kind == CMD_ACTIVITY)
            sl__change_event(ch, SL_EV_ACTIVITY_CANCEL_REQ, now,
                             sl_xasprintf("{\"seq\":%d,\"scheduled_event_id\":%lld}", i,
                                          (long long)c->event_id));
        else if (c->kind == CMD_TIMER)
            emit_timer_cancel(rs, ch, i, now);
    }
}

/* A new run of the same workflow id (retry, continue-as-new, retry from a failed step). */
new_run *sl__next_run_of(const run_state *rs, json_t *input_take)
{
    new_run *nr = sl_xcalloc(1, sizeof(*nr));
    sl_uuid_new(nr->run_id);
    nr->workflow_id = sl_xstrdup(rs->workflow_id);
    nr->type = sl_xstrdup(rs->type);
    nr->queue = sl_xstrdup(rs->queue);
    nr->input = input_take ? input_take : json_incref(rs->input);
    nr->attempt = 1;
    nr->first_run_id = sl_xstrdup(rs->first_run_id ? rs->first_run_id : rs->run_id);
    nr->prev_run_id = sl_xstrdup(rs->run_id);
    if (rs->parent_run_id) {
        nr->parent_run_id = sl_xstrdup(rs->parent_run_id);
        nr->parent_seq = rs->parent_seq;
    }
    nr->parent_close_policy = rs->parent_close_policy;
    if (rs->has_retry)
        nr->retry = sl_retry_policy_to_json(&rs->retry);
    return nr;
}

/* Run the workflow code on rs and add what it decided to ch. */
void sl__wft_into_change(sl_engine *e, run_state *rs, change *ch, int64_t now)
{
    sl_wf wf;
    json_t *result = NULL;
    wft_outcome out = sl__wf_execute(e, rs, &wf, &result);
    e->writer.txn_wft++;
    if (out == WFT_TASK_FAILED) {
        if (!rs->last_is_wft_failed) {
            const char *cause = sl__wft_cause_name(wf.cause);
            sl_warn("workflow %s run %s: workflow task failed: %s", rs->workflow_id, rs->run_id,
                    wf.nondet);
            sl__change_event(ch, SL_EV_WFT_FAILED, now,
                             sl__dumps_take(sl_json_check(
                                 json_pack("{s:s,s:s}", "cause", cause, "message", wf.nondet))));
        }
        ch->ensure_wft = true;
        ch->postpone_wft = true;
        sl__wf_cleanup(&wf);
        return;
    }

    /* Hard limit on history size: fail the run clearly rather than grow without bound. */
    int64_t events_after = rs->next_event_id - 1 + wf.n_new + 2;
    if ((e->hist_limit_events && events_after > e->hist_limit_events) ||
        (e->hist_limit_bytes && rs->history_bytes > e->hist_limit_bytes)) {
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "history of %lld events / %lld bytes exceeds the limit (%lld events / %lld "
                 "bytes); use continue-as-new to keep histories bounded",
                 (long long)(rs->next_event_id - 1), (long long)rs->history_bytes,
                 (long long)e->hist_limit_events, (long long)e->hist_limit_bytes);
        sl_warn("workflow %s run %s: %s", rs->workflow_id, rs->run_id, msg);
        sl__change_event(ch, SL_EV_WFT_FAILED, now,
                         sl__dumps_take(sl_json_check(json_pack(
                             "{s:s,s:s}", "cause", sl__wft_cause_name(WFT_CAUSE_HISTORY_SIZE_LIMIT),
                             "message", msg))));
        json_t *failure = sl_json_check(
            json_pack("{s:s,s:s}", "type", "HistorySizeLimitExceeded", "message", msg));
        sl__emit_close_pending(rs, ch, now);
        sl__change_close(ch, SL_RUN_FAILED, NULL, sl_json_dumps(failure));
        sl__change_event(ch, SL_EV_WF_FAILED, now,
                         sl__dumps_take(sl_json_check(json_pack("{s:o}", "failure", failure))));
        json_decref(result);
        sl__wf_cleanup(&wf);
        return;
    }
    if (!rs->size_warned && ((e->hist_warn_events && events_after > e->hist_warn_events) ||
                             (e->hist_warn_bytes && rs->history_bytes > e->hist_warn_bytes))) {
        rs->size_warned = true;
        sl_warn("workflow %s run %s: history has %lld events / %lld bytes, past the warning "
                "level (%lld events / %lld bytes); consider continue-as-new",
                rs->workflow_id, rs->run_id, (long long)(rs->next_event_id - 1),
                (long long)rs->history_bytes, (long long)e->hist_warn_events,
                (long long)e->hist_warn_bytes);
    }

    for (int32_t i = 0; i < wf.n_new; i++) {
        const wf_cmd *c = &wf.new_cmds[i];
        switch (c->kind) {
        case CMD_ACTIVITY:
            emit_activity(e, rs, ch, c, now);
            break;
        case CMD_TIMER:
            emit_timer(rs, ch, c, now);
            break;
        case CMD_SIDE_EFFECT:
            emit_side_effect(rs, ch, c, now);
            break;
        case CMD_CHILD:
            emit_child(e, rs, ch, c, now);
            break;
        case P_CANCEL_TIMER:
            emit_timer_cancel(rs, ch, c->seq, now);
            break;
        case P_VERSION:
            emit_version(rs, ch, c, now);
            break;
        }
    }
    switch (out) {
    case WFT_COMPLETED:
        sl__emit_close_pending(rs, ch, now);
        sl__change_close(ch, SL_RUN_COMPLETED, sl_json_dumps(result), NULL);
        sl__change_event(ch, SL_EV_WF_COMPLETED, now,
                         sl__dumps_take(sl_json_check(json_pack("{s:O}", "result", result))));
        break;
    case WFT_FAILED: {
        sl__emit_close_pending(rs, ch, now);
        json_t *attrs = sl_json_check(json_pack("{s:O}", "failure", wf.failure));
        if (rs->has_retry && !rs->cancel_event_id) {
            const char *type = json_string_value(json_object_get(wf.failure, "type"));
            sl_retry_decision d =
                sl_retry_decide(&rs->retry, rs->attempt, type, false, -1, now, 0, sl_rand_unit());
            json_object_set_new(attrs, "retry_state", json_string(sl_retry_state_name(d.state)));
            if (d.state == SL_RETRY_IN_PROGRESS) {
                new_run *nr = sl__next_run_of(rs, NULL);
                nr->attempt = rs->attempt + 1;
                nr->visible_at = d.next_attempt_ms;
                nr->started_extra = sl_json_check(json_pack(
                    "{s:s,s:s}", "continued_from_run_id", rs->run_id, "initiator", "retry_policy"));
                char when[40];
                json_object_set_new(attrs, "new_run_id", json_string(nr->run_id));
                json_object_set_new(
                    attrs, "next_attempt_time",
                    json_string(sl_time_format(d.next_attempt_ms, when, sizeof(when))));
                sl__defer_start(e, nr);
            }
        }
        sl__change_close(ch, SL_RUN_FAILED, NULL, sl_json_dumps(wf.failure));
        sl__change_event(ch, SL_EV_WF_FAILED, now, sl__dumps_take(attrs));
        break;
    }
    case WFT_CANCELED:
        sl__emit_close_pending(rs, ch, now);
        sl__change_close(ch, SL_RUN_CANCELED, NULL, NULL);
        sl__change_event(ch, SL_EV_WF_CANCELED, now, sl_xstrdup("{}"));
        break;
    case WFT_CONTINUE_AS_NEW: {
        sl__emit_close_pending(rs, ch, now);
        new_run *nr = sl__next_run_of(rs, json_incref(wf.continue_input));
        nr->started_extra = sl_json_check(json_pack("{s:s,s:s}", "continued_from_run_id",
                                                    rs->run_id, "initiator", "continue_as_new"));
        sl__change_event(ch, SL_EV_WF_CONTINUED_AS_NEW, now,
                         sl__dumps_take(sl_json_check(json_pack(
                             "{s:s,s:O}", "new_run_id", nr->run_id, "input", wf.continue_input))));
        sl__change_close(ch, SL_RUN_CONTINUED_AS_NEW, NULL, NULL);
        sl__defer_start(e, nr);
        break;
    }
    default:
        break;
    }
    ch->delete_wft = true;
    json_decref(result);
    sl__wf_cleanup(&wf);
}
