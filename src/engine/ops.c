/*
 * ops.c - state changes, run inside the engine's write transaction: start a run, record
 * an activity's outcome, run a workflow task, time out an attempt, fire a timer.
 *
 * A change to a run is built against its cached state (events are applied to the
 * cache as they are added, so workflow code sees them) and written only at the end,
 * conditional on the run's version. If another process appended events first the
 * change reports SL_ESTALE; the caller drops the cached run, reloads it and builds the
 * change again. Side effects that need event ids (activity task rows) are deferred to
 * the commit, when the ids are final.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "engine/events.h"

#define DEFAULT_START_TO_CLOSE_MS (10 * 60 * 1000)
#define WFT_BACKOFF_MAX_MS        (10 * 60 * 1000)

/* ---- the change ---------------------------------------------------------------------- */

typedef struct pend_ev {
    const char *type;
    int64_t time_ms;
    char *attrs; /* owned */
    size_t len;
} pend_ev;

enum fx_kind { FX_ACT, FX_TIMER };

typedef struct pend_fx {
    enum fx_kind kind;
    int ev_index;        /* index in change.evs of the command event */
    sl_act_task_row row; /* FX_ACT (owned strings) */
    int32_t seq;         /* FX_TIMER */
    int64_t fire_at;
} pend_fx;

typedef struct change {
    run_state *rs;
    sl_run_row *new_run; /* insert this run rather than advancing an existing one */
    int64_t base;        /* rs->next_event_id when the change began */
    pend_ev *evs;
    int n_evs, cap_evs;
    pend_fx *fxs;
    int n_fx, cap_fx;
    int64_t bytes;
    bool delete_wft;
    bool ensure_wft;
    bool postpone_wft;
    bool close;
    int close_status;
    char *close_result;
    char *close_failure;
} change;

static void change_init(change *ch, run_state *rs)
{
    memset(ch, 0, sizeof(*ch));
    ch->rs = rs;
    ch->base = rs->next_event_id;
}

static void change_free(change *ch)
{
    for (int i = 0; i < ch->n_evs; i++)
        free(ch->evs[i].attrs);
    free(ch->evs);
    for (int i = 0; i < ch->n_fx; i++)
        sl_act_task_row_cleanup(&ch->fxs[i].row);
    free(ch->fxs);
    free(ch->close_result);
    free(ch->close_failure);
    memset(ch, 0, sizeof(*ch));
}

/* The id the next added event gets. */
static int64_t next_id(const change *ch)
{
    return ch->base + ch->n_evs;
}

/* Append an event (attrs owned) and account for it in the cached run. */
static int change_event(change *ch, const char *type, int64_t time_ms, char *attrs_take)
{
    if (ch->n_evs == ch->cap_evs) {
        ch->cap_evs = ch->cap_evs ? ch->cap_evs * 2 : 4;
        ch->evs = sl_xrealloc(ch->evs, (size_t)ch->cap_evs * sizeof(*ch->evs));
    }
    pend_ev *ev = &ch->evs[ch->n_evs];
    ev->type = type;
    ev->time_ms = time_ms;
    ev->attrs = attrs_take;
    ev->len = strlen(attrs_take);
    int64_t bytes = sl__event_bytes(type, ev->len);
    ch->bytes += bytes;
    sl__rs_note_event(ch->rs, next_id(ch), time_ms, (size_t)bytes,
                      strcmp(type, SL_EV_WFT_FAILED) == 0);
    return ch->n_evs++;
}

static pend_fx *change_fx(change *ch, enum fx_kind kind, int ev_index)
{
    if (ch->n_fx == ch->cap_fx) {
        ch->cap_fx = ch->cap_fx ? ch->cap_fx * 2 : 4;
        ch->fxs = sl_xrealloc(ch->fxs, (size_t)ch->cap_fx * sizeof(*ch->fxs));
    }
    pend_fx *fx = &ch->fxs[ch->n_fx++];
    memset(fx, 0, sizeof(*fx));
    fx->kind = kind;
    fx->ev_index = ev_index;
    return fx;
}

static char *dumps_take(json_t *j)
{
    char *s = sl_json_dumps(j);
    json_decref(j);
    return s;
}

static void dispatch_local(sl_engine *e, const run_state *rs, const sl_act_task_row *row)
{
    act_task *t = sl_xcalloc(1, sizeof(*t));
    t->row = *row;
    t->row.queue = sl_xstrdup(row->queue);
    t->row.activity_type = sl_xstrdup(row->activity_type);
    t->row.input = row->input ? sl_xstrdup(row->input) : NULL;
    t->row.opts = row->opts ? sl_xstrdup(row->opts) : NULL;
    t->row.lease_owner = sl_xstrdup(row->lease_owner);
    t->row.heartbeat_details = NULL;
    t->row.last_failure = NULL;
    memcpy(t->run_id, rs->run_id, sizeof(t->run_id));
    t->workflow_id = sl_xstrdup(rs->workflow_id);
    if (e->dispatch_tail)
        e->dispatch_tail->next = t;
    else
        e->dispatch_head = t;
    e->dispatch_tail = t;
    e->dispatch_len++;
}

static sl_code change_commit(sl_engine *e, change *ch, sl_err *err)
{
    run_state *rs = ch->rs;
    int64_t next = ch->base + ch->n_evs;
    int64_t now = sl_now_ms();
    sl_code rc;
    if (ch->new_run) {
        ch->new_run->next_event_id = next;
        ch->new_run->history_bytes = ch->bytes;
        if ((rc = sl_store_run_insert(e->st, ch->new_run, err)) != SL_OK)
            return rc;
        rs->run_pk = ch->new_run->run_pk;
    } else if (ch->n_evs > 0) {
        bool ok;
        if ((rc = sl_store_run_advance(e->st, rs->run_pk, ch->base, next, ch->bytes, &ok, err)) !=
            SL_OK)
            return rc;
        if (!ok)
            return SL_ESTALE;
    }
    for (int i = 0; i < ch->n_evs; i++) {
        sl_event_row ev = {.event_id = ch->base + i,
                           .type = ch->evs[i].type,
                           .time_ms = ch->evs[i].time_ms,
                           .attrs = ch->evs[i].attrs,
                           .attrs_len = ch->evs[i].len};
        if ((rc = sl_store_event_insert(e->st, rs->run_pk, &ev, err)) != SL_OK)
            return rc;
    }
    if (ch->close) {
        if ((rc = sl_store_run_close(e->st, rs->run_pk, ch->close_status, ch->close_result,
                                     ch->close_failure, now, err)) != SL_OK)
            return rc;
        if (!ch->new_run && (rc = sl_store_run_tasks_delete(e->st, rs->run_pk, err)) != SL_OK)
            return rc;
        rs->status = ch->close_status;
        rs->wft_row = false;
        struct closed_run *c = sl_xcalloc(1, sizeof(*c));
        c->workflow_id = sl_xstrdup(rs->workflow_id);
        memcpy(c->run_id, rs->run_id, sizeof(c->run_id));
        c->status = ch->close_status;
        c->next = e->closed_head;
        e->closed_head = c;
        return SL_OK;
    }
    for (int i = 0; i < ch->n_fx; i++) {
        pend_fx *fx = &ch->fxs[i];
        if (fx->kind == FX_ACT) {
            sl_act_task_row *row = &fx->row;
            row->run_pk = rs->run_pk;
            row->sched_event_id = ch->base + fx->ev_index;
            bool local = sl__engine_take_local(e, row->queue);
            if (local) {
                /* Leased to ourselves at birth: no poll needed, and a crash still redelivers
                 * it once the lease expires. */
                int64_t lease = row->heartbeat_ms > 0 ? row->heartbeat_ms : row->start_to_close_ms;
                row->lease_owner = sl_xstrdup(e->identity);
                row->started_ms = now;
                row->lease_expiry = now + lease;
                if (row->close_deadline && row->lease_expiry > row->close_deadline)
                    row->lease_expiry = row->close_deadline;
                row->deadline = row->close_deadline;
            }
            if ((rc = sl_store_act_insert(e->st, row, err)) != SL_OK)
                return rc;
            if (local)
                dispatch_local(e, rs, row);
        } else {
            if ((rc = sl_store_timer_insert(e->st, rs->run_pk, fx->seq, fx->fire_at, rs->queue,
                                            err)) != SL_OK)
                return rc;
        }
    }
    if (ch->delete_wft && rs->wft_row) {
        if ((rc = sl_store_wft_delete(e->st, rs->run_pk, err)) != SL_OK)
            return rc;
        rs->wft_row = false;
    }
    if (ch->ensure_wft) {
        if ((rc = sl_store_wft_ensure(e->st, rs->run_pk, rs->queue, now, err)) != SL_OK)
            return rc;
        rs->wft_row = true;
        if (ch->postpone_wft) {
            int failures = 0;
            if ((rc = sl_store_wft_postpone(e->st, rs->run_pk, now, WFT_BACKOFF_MAX_MS, &failures,
                                            err)) != SL_OK)
                return rc;
        }
    }
    return SL_OK;
}

/* ---- commands from workflow code --------------------------------------------------------- */

static void emit_activity(sl_engine *e, run_state *rs, change *ch, const wf_cmd *c, int64_t now)
{
    (void)e;
    const sl_activity_opts *o = &c->opts;
    const char *queue = o->task_queue ? o->task_queue : rs->queue;
    int64_t s2c = o->start_to_close_ms      ? o->start_to_close_ms
                  : o->schedule_to_close_ms ? o->schedule_to_close_ms
                                            : DEFAULT_START_TO_CLOSE_MS;
    json_t *opts = sl_activity_opts_to_json(o);
    char *opts_text = sl_json_dumps(opts);
    char *input_text = sl_json_dumps(c->input);
    char *attrs = dumps_take(sl_json_check(
        json_pack("{s:i,s:s,s:s,s:O,s:o}", "seq", c->seq, "activity_type", c->name, "task_queue",
                  queue, "input", c->input, "options", opts)));
    int64_t id = next_id(ch);
    (void)sl__rs_push_cmd(rs, CMD_ACTIVITY, c->seq, c->name, id, NULL);
    int idx = change_event(ch, SL_EV_ACTIVITY_SCHEDULED, now, attrs);
    pend_fx *fx = change_fx(ch, FX_ACT, idx);
    sl_act_task_row *row = &fx->row;
    row->seq = c->seq;
    row->queue = sl_xstrdup(queue);
    row->activity_type = sl_xstrdup(c->name);
    row->input = input_text;
    row->opts = opts_text;
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
    char *attrs = dumps_take(sl_json_check(
        json_pack("{s:i,s:s,s:s}", "seq", c->seq, "duration",
                  sl_duration_format(c->timer_ms, dur, sizeof(dur)), "fire_at",
                  sl_time_format(fire_at, when, sizeof(when)))));
    int64_t id = next_id(ch);
    (void)sl__rs_push_cmd(rs, CMD_TIMER, c->seq, NULL, id, NULL);
    int idx = change_event(ch, SL_EV_TIMER_STARTED, now, attrs);
    pend_fx *fx = change_fx(ch, FX_TIMER, idx);
    fx->seq = c->seq;
    fx->fire_at = fire_at;
}

/* Run the workflow code on rs and add what it decided to ch. */
static void wft_into_change(sl_engine *e, run_state *rs, change *ch, int64_t now)
{
    sl_wf wf;
    json_t *result = NULL;
    wft_outcome out = sl__wf_execute(e, rs, &wf, &result);
    e->n_wft++;
    if (out == WFT_TASK_FAILED) {
        if (!rs->last_is_wft_failed) {
            const char *cause =
                strncmp(wf.nondet, "unknown workflow type", 21) == 0 ? "unknown_workflow_type"
                                                                      : "non_deterministic";
            sl_warn("workflow %s run %s: workflow task failed: %s", rs->workflow_id, rs->run_id,
                    wf.nondet);
            change_event(ch, SL_EV_WFT_FAILED, now,
                         dumps_take(sl_json_check(json_pack("{s:s,s:s}", "cause", cause,
                                                            "message", wf.nondet))));
        }
        ch->ensure_wft = true;
        ch->postpone_wft = true;
        sl__wf_cleanup(&wf);
        return;
    }
    for (int32_t i = 0; i < wf.n_new; i++) {
        if (wf.new_cmds[i].kind == CMD_ACTIVITY)
            emit_activity(e, rs, ch, &wf.new_cmds[i], now);
        else
            emit_timer(rs, ch, &wf.new_cmds[i], now);
    }
    if (out == WFT_COMPLETED) {
        ch->close_result = sl_json_dumps(result);
        change_event(ch, SL_EV_WF_COMPLETED, now,
                     dumps_take(sl_json_check(json_pack("{s:O}", "result", result))));
        ch->close = true;
        ch->close_status = SL_RUN_COMPLETED;
    } else if (out == WFT_FAILED) {
        ch->close_failure = sl_json_dumps(wf.failure);
        change_event(ch, SL_EV_WF_FAILED, now,
                     dumps_take(sl_json_check(json_pack("{s:O}", "failure", wf.failure))));
        ch->close = true;
        ch->close_status = SL_RUN_FAILED;
    }
    ch->delete_wft = true;
    json_decref(result);
    sl__wf_cleanup(&wf);
}

/* ---- start ----------------------------------------------------------------------------- */

static bool valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SL_WORKFLOW_ID_MAX)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

sl_code sl__op_start(sl_engine *e, const char *type, const json_t *input, const sl_start_opts *o,
                     sl_start_result *res, sl_err *err)
{
    memset(res, 0, sizeof(*res));
    if (!type || !sl_registry_workflow(e->reg, type))
        return sl_err_set(err, SL_EINVAL, "unknown workflow type '%s' (known: %s)",
                          type ? type : "", sl_registry_workflow_names(e->reg));
    const char *queue = o && o->task_queue ? o->task_queue : "default";
    if (!valid_id(queue))
        return sl_err_set(err, SL_EINVAL, "invalid task queue name");
    char gen_id[SL_WORKFLOW_ID_MAX + 1];
    const char *wid = o ? o->workflow_id : NULL;
    if (wid) {
        if (!valid_id(wid))
            return sl_err_set(err, SL_EINVAL,
                              "invalid workflow id (1-%d printable characters)",
                              SL_WORKFLOW_ID_MAX);
        sl_run_row open;
        sl_code rc = sl_store_run_find_open(e->st, wid, &open, err);
        if (rc == SL_OK) {
            snprintf(res->workflow_id, sizeof(res->workflow_id), "%s", wid);
            memcpy(res->run_id, open.run_id, sizeof(res->run_id));
            res->existing = true;
            sl_run_row_cleanup(&open);
            return SL_OK;
        }
        if (rc != SL_ENOTFOUND)
            return rc;
        sl_err_clear(err);
    } else {
        char u[37];
        sl_uuid_new(u);
        snprintf(gen_id, sizeof(gen_id), "%.200s-%s", type, u);
        wid = gen_id;
    }
    int64_t now = sl_now_ms();
    run_state *rs = sl_xcalloc(1, sizeof(*rs));
    sl_uuid_new(rs->run_id);
    rs->workflow_id = sl_xstrdup(wid);
    rs->type = sl_xstrdup(type);
    rs->queue = sl_xstrdup(queue);
    rs->input = input ? json_deep_copy(input) : json_null();
    rs->attempt = 1;
    rs->status = SL_RUN_RUNNING;
    rs->start_ms = now;
    rs->next_event_id = 1;

    json_t *retry = o && o->retry ? sl_retry_policy_to_json(o->retry) : NULL;
    sl_run_row row;
    memset(&row, 0, sizeof(row));
    memcpy(row.run_id, rs->run_id, sizeof(row.run_id));
    row.workflow_id = rs->workflow_id;
    row.type = rs->type;
    row.task_queue = rs->queue;
    row.status = SL_RUN_RUNNING;
    row.input = sl_json_dumps(rs->input);
    row.start_ms = now;
    row.attempt = 1;
    row.first_run_id = rs->run_id;
    row.opts = retry ? dumps_take(json_pack("{s:O}", "retry_policy", retry)) : NULL;

    change ch;
    change_init(&ch, rs);
    ch.new_run = &row;
    json_t *attrs = sl_json_check(json_pack("{s:s,s:s,s:s,s:O,s:i}", "workflow_type", type,
                                            "workflow_id", wid, "task_queue", queue, "input",
                                            rs->input, "attempt", 1));
    if (retry)
        json_object_set(attrs, "retry_policy", retry);
    change_event(&ch, SL_EV_WF_STARTED, now, dumps_take(attrs));
    if (sl__engine_serves(e, queue))
        wft_into_change(e, rs, &ch, now);
    else
        ch.ensure_wft = true;
    sl_code rc = change_commit(e, &ch, err);
    change_free(&ch);
    free(row.input);
    free(row.opts);
    json_decref(retry);
    if (rc != SL_OK) {
        sl__rs_free(rs);
        return rc;
    }
    snprintf(res->workflow_id, sizeof(res->workflow_id), "%s", wid);
    memcpy(res->run_id, rs->run_id, sizeof(res->run_id));
    if (rs->status == SL_RUN_RUNNING)
        sl__cache_put(e, rs);
    else
        sl__rs_free(rs);
    return SL_OK;
}

/* ---- recording outcomes on a run ---------------------------------------------------------- */

typedef struct run_op_args {
    int64_t run_pk;
    int n_evs;
    const char *types[3];
    int64_t times[3];
    const char *attrs[3];
    int resolve_at;        /* index of the resolving event, -1: none */
    int32_t resolve_seq;
    int resolve_state;
    json_t *resolve_value; /* borrowed */
    bool wft;              /* run a workflow task after the events */
} run_op_args;

static sl_code run_op(sl_engine *e, const run_op_args *a, sl_err *err)
{
    for (int tries = 0; tries < 3; tries++) {
        sl_code rc;
        run_state *rs = sl__cache_get(e, a->run_pk, err, &rc);
        if (!rs)
            return rc == SL_ENOTFOUND ? SL_OK : rc;
        if (rs->status != SL_RUN_RUNNING)
            return SL_OK; /* a closed run records nothing more */
        change ch;
        change_init(&ch, rs);
        int64_t now = sl_now_ms();
        for (int i = 0; i < a->n_evs; i++) {
            if (i == a->resolve_at &&
                (rc = sl__rs_resolve(rs, a->resolve_seq, a->resolve_state,
                                     json_incref(a->resolve_value), next_id(&ch), err)) != SL_OK) {
                change_free(&ch);
                sl__cache_evict(e, a->run_pk);
                return rc;
            }
            change_event(&ch, a->types[i], a->times[i] ? a->times[i] : now,
                         sl_xstrdup(a->attrs[i]));
        }
        if (a->wft)
            wft_into_change(e, rs, &ch, now);
        rc = change_commit(e, &ch, err);
        bool closed = ch.close;
        change_free(&ch);
        if (rc == SL_ESTALE) {
            sl__cache_evict(e, a->run_pk);
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
    return dumps_take(sl_json_check(json_pack("{s:I,s:i,s:i,s:s}", "scheduled_event_id",
                                              (json_int_t)t->sched_event_id, "seq", t->seq,
                                              "attempt", t->attempt, "identity",
                                              identity ? identity : "")));
}

static void policy_of(const sl_act_task_row *t, sl_retry_policy *p)
{
    sl_retry_policy_init(p);
    if (!t->opts)
        return;
    json_error_t je;
    json_t *o = json_loads(t->opts, 0, &je);
    json_t *rp = json_object_get(o, "retry_policy");
    if (rp && sl_retry_policy_from_json(rp, p, NULL) != SL_OK)
        sl_retry_policy_init(p);
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
    policy_of(t, &p);
    const char *etype = json_string_value(json_object_get(failure, "type"));
    bool non_retryable = json_is_true(json_object_get(failure, "non_retryable"));
    sl_retry_decision d = sl_retry_decide(&p, t->attempt, etype, non_retryable, retry_after_ms,
                                          now, t->close_deadline, sl_rand_unit());
    if (final_anyway && d.state == SL_RETRY_IN_PROGRESS)
        d.state = SL_RETRY_TIMEOUT;
    if (t->cancel_requested && d.state == SL_RETRY_IN_PROGRESS)
        d.state = SL_RETRY_CANCEL_REQUESTED;
    bool found;
    sl_code rc;
    char *failure_text = sl_json_dumps(failure);
    if (d.state == SL_RETRY_IN_PROGRESS) {
        int64_t deadline = t->close_deadline;
        json_error_t je;
        json_t *o = t->opts ? json_loads(t->opts, 0, &je) : NULL;
        int64_t s2s = 0;
        json_t *s2sj = json_object_get(o, "schedule_to_start_timeout");
        if (s2sj && sl_duration_from_json(s2sj, &s2s, NULL) == SL_OK && s2s > 0 &&
            (!deadline || d.next_attempt_ms + s2s < deadline))
            deadline = d.next_attempt_ms + s2s;
        json_decref(o);
        rc = sl_store_act_retry(e->st, t->task_id, owner, t->attempt, d.next_attempt_ms, deadline,
                                failure_text, &found, err);
        /* Poll again when the retry is due rather than at the idle backoff. */
        if (sl__engine_serves(e, t->queue) && d.next_attempt_ms < e->next_poll_ms)
            e->next_poll_ms = d.next_attempt_ms;
    } else {
        rc = sl_store_act_take(e->st, t->task_id, owner, t->attempt, &found, err);
    }
    free(failure_text);
    if (rc != SL_OK || !found)
        return rc != SL_OK ? rc : SL_ELEASE;

    bool final = d.state != SL_RETRY_IN_PROGRESS;
    json_t *attrs = sl_json_check(json_pack(
        "{s:I,s:i,s:i,s:O,s:b,s:s}", "scheduled_event_id", (json_int_t)t->sched_event_id, "seq",
        t->seq, "attempt", t->attempt, "failure", failure, "will_retry", !final, "retry_state",
        sl_retry_state_name(d.state)));
    if (timeout_type)
        json_object_set_new(attrs, "timeout_type", json_string(timeout_type));
    if (!final) {
        char when[40];
        json_object_set_new(attrs, "next_attempt_time",
                            json_string(sl_time_format(d.next_attempt_ms, when, sizeof(when))));
    }
    char *a0 = started_by ? started_attrs(t, started_by) : NULL;
    char *a1 = dumps_take(attrs);
    json_t *value = NULL;
    run_op_args a = {.run_pk = t->run_pk, .resolve_at = -1, .wft = final};
    if (a0) {
        a.types[a.n_evs] = SL_EV_ACTIVITY_STARTED;
        a.times[a.n_evs] = t->started_ms;
        a.attrs[a.n_evs++] = a0;
    }
    a.types[a.n_evs] = event_type;
    a.times[a.n_evs] = now;
    a.attrs[a.n_evs++] = a1;
    if (final) {
        value = json_deep_copy(failure);
        json_object_set_new(value, "attempt", json_integer(t->attempt));
        json_object_set_new(value, "retry_state", json_string(sl_retry_state_name(d.state)));
        a.resolve_at = a.n_evs - 1;
        a.resolve_seq = t->seq;
        a.resolve_state = RES_FAILED;
        a.resolve_value = value;
    }
    rc = run_op(e, &a, err);
    free(a0);
    free(a1);
    json_decref(value);
    return rc;
}

sl_code sl__op_act_result(sl_engine *e, item *it, sl_err *err)
{
    const sl_act_task_row *t = &it->task->row;
    if (it->released)
        return sl_store_act_release(e->st, t->task_id, t->lease_owner, t->attempt, sl_now_ms(),
                                    err);
    if (it->failure) {
        sl_code rc = attempt_failed(e, t, t->lease_owner, t->lease_owner, SL_EV_ACTIVITY_FAILED,
                                    NULL, it->failure, it->retry_after_ms, false, err);
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
    const char *result = it->result ? it->result : "null";
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
    rc = run_op(e, &a, err);
    free(a0);
    free(a1);
    json_decref(value);
    return rc;
}

sl_code sl__op_heartbeat(sl_engine *e, item *it, sl_err *err)
{
    const sl_act_task_row *t = &it->task->row;
    return sl_store_act_heartbeat(e->st, t->task_id, t->lease_owner, t->attempt, it->hb_details,
                                  it->hb_lease_expiry, &it->hb_found, &it->hb_cancel, err);
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
    char *msg = sl_xasprintf("activity %s attempt %d timed out (%s)", t->activity_type,
                             t->attempt, timeout_type);
    json_t *failure = sl_json_check(json_pack("{s:s,s:s,s:b}", "type", "TimeoutError", "message",
                                              msg, "non_retryable", false));
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
    rc = run_op(e, &a, err);
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
        change ch;
        change_init(&ch, rs);
        wft_into_change(e, rs, &ch, sl_now_ms());
        rc = change_commit(e, &ch, err);
        bool closed = ch.close;
        change_free(&ch);
        if (rc == SL_ESTALE) {
            sl__cache_evict(e, run_pk);
            continue;
        }
        if (rc != SL_OK || closed)
            sl__cache_evict(e, run_pk);
        return rc;
    }
    return sl_err_set(err, SL_EBUSY, "run %lld kept changing under us", (long long)run_pk);
}
