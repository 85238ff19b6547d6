/*
 * ops.c - state changes, run inside the engine's write transaction: start a run, record
 * an activity's outcome, run a workflow task, time out an attempt, fire a timer, signal,
 * cancel, terminate, retry a failed run from its failed step.
 *
 * A change to a run is built against its cached state (events are applied to the
 * cache as they are added, so workflow code sees them) and written only at the end,
 * conditional on the run's version. If another process appended events first the
 * change reports SL_ESTALE; the caller drops the cached run, reloads it and builds the
 * change again. Side effects that need event ids (activity task rows) are deferred to
 * the commit, when the ids are final. Work that follows a change on *other* runs
 * (starting the next run of a retry chain, telling a parent its child closed, closing
 * children) is queued as `deferred` and drained in the same transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "events.h"

#define DEFAULT_START_TO_CLOSE_MS (10 * 60 * 1000)
#define WFT_BACKOFF_MAX_MS        (10 * 60 * 1000)

/* ---- deferred work -------------------------------------------------------------------- */

enum deferred_kind { D_START_RUN, D_NOTIFY_PARENT, D_CLOSE_CHILDREN };

/* Everything needed to start a run that is not the caller's own first run. */
typedef struct new_run {
    char *workflow_id;
    char *type;
    char *queue;
    json_t *input;
    int attempt;
    char *first_run_id;
    char *prev_run_id;
    char *parent_run_id;
    int32_t parent_seq;
    int parent_close_policy;
    json_t *retry;          /* retry policy JSON or NULL */
    int64_t visible_at;     /* 0: now */
    json_t *started_extra;  /* merged into the Started event's attributes */
    json_t *carry;          /* events copied from an earlier run: [{type, attrs, from_event_id}] */
    char run_id[37];        /* chosen up front (continue-as-new and children name it) */
} new_run;

struct deferred {
    enum deferred_kind kind;
    struct deferred *next;
    new_run *nr;            /* D_START_RUN */
    char *run_id;           /* D_NOTIFY_PARENT: the child; D_CLOSE_CHILDREN: the parent */
    char *workflow_id;
    char *parent_run_id;
    int32_t parent_seq;
    int status;
    char *result;           /* JSON text */
    char *failure;          /* JSON text */
};

static void new_run_free(new_run *nr)
{
    if (!nr)
        return;
    free(nr->workflow_id);
    free(nr->type);
    free(nr->queue);
    json_decref(nr->input);
    free(nr->first_run_id);
    free(nr->prev_run_id);
    free(nr->parent_run_id);
    json_decref(nr->retry);
    json_decref(nr->started_extra);
    json_decref(nr->carry);
    free(nr);
}

static void deferred_free(struct deferred *d)
{
    new_run_free(d->nr);
    free(d->run_id);
    free(d->workflow_id);
    free(d->parent_run_id);
    free(d->result);
    free(d->failure);
    free(d);
}

static void defer(sl_engine *e, struct deferred *d)
{
    d->next = NULL;
    if (e->deferred_tail)
        e->deferred_tail->next = d;
    else
        e->deferred_head = d;
    e->deferred_tail = d;
}

/* Deferred work added after `mark` (NULL: all) is dropped when a change is recomputed. */
static struct deferred *deferred_mark(sl_engine *e)
{
    return e->deferred_tail;
}

static void deferred_truncate(sl_engine *e, struct deferred *mark)
{
    struct deferred *d = mark ? mark->next : e->deferred_head;
    if (mark)
        mark->next = NULL;
    else
        e->deferred_head = NULL;
    e->deferred_tail = mark;
    while (d) {
        struct deferred *n = d->next;
        deferred_free(d);
        d = n;
    }
}

void sl__engine_clear_deferred(sl_engine *e)
{
    while (e->deferred_head) {
        struct deferred *d = e->deferred_head;
        e->deferred_head = d->next;
        deferred_free(d);
    }
    e->deferred_tail = NULL;
}

/* ---- the change ---------------------------------------------------------------------- */

typedef struct pend_ev {
    const char *type;
    int64_t time_ms;
    char *attrs; /* owned */
    size_t len;
} pend_ev;

enum fx_kind { FX_ACT, FX_TIMER, FX_TIMER_DELETE };

typedef struct pend_fx {
    enum fx_kind kind;
    int ev_index;        /* index in change.evs of the command event */
    sl_act_task_row row; /* FX_ACT (owned strings) */
    int32_t seq;         /* FX_TIMER, FX_TIMER_DELETE */
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
    int64_t wft_visible_at; /* 0: now */
    bool postpone_wft;
    bool cancel_activities; /* mark the run's activity tasks cancel-requested */
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

/* After a run closed: tell its parent, and apply its children's parent-close policy. */
static void defer_close_followups(sl_engine *e, const run_state *rs, int status,
                                  const char *result, const char *failure)
{
    if (rs->parent_run_id && status != SL_RUN_CONTINUED_AS_NEW) {
        struct deferred *d = sl_xcalloc(1, sizeof(*d));
        d->kind = D_NOTIFY_PARENT;
        d->run_id = sl_xstrdup(rs->run_id);
        d->workflow_id = sl_xstrdup(rs->workflow_id);
        d->parent_run_id = sl_xstrdup(rs->parent_run_id);
        d->parent_seq = rs->parent_seq;
        d->status = status;
        d->result = result ? sl_xstrdup(result) : NULL;
        d->failure = failure ? sl_xstrdup(failure) : NULL;
        defer(e, d);
    }
    bool has_child = false;
    for (int32_t i = 0; i < rs->n_cmds && !has_child; i++)
        has_child = rs->cmds[i].kind == CMD_CHILD;
    if (has_child) {
        struct deferred *d = sl_xcalloc(1, sizeof(*d));
        d->kind = D_CLOSE_CHILDREN;
        d->run_id = sl_xstrdup(rs->run_id);
        defer(e, d);
    }
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
        defer_close_followups(e, rs, ch->close_status, ch->close_result, ch->close_failure);
        return SL_OK;
    }
    for (int i = 0; i < ch->n_fx; i++) {
        pend_fx *fx = &ch->fxs[i];
        if (fx->kind == FX_ACT) {
            sl_act_task_row *row = &fx->row;
            row->run_pk = rs->run_pk;
            row->sched_event_id = ch->base + fx->ev_index;
            bool local = sl__engine_take_local(e, row->queue);
            if (local && sl__limits_apply_to(e, row->queue)) {
                int allowed;
                int64_t next_ms;
                if ((rc = sl__limits_allow(e, row->queue, 1, now, &allowed, &next_ms, err)) !=
                    SL_OK)
                    return rc;
                local = allowed > 0;
                if (!local && next_ms > 0)
                    sl__engine_wake_at(e, next_ms);
                if (local && (rc = sl__limits_record(e, row->queue, 1, now, err)) != SL_OK)
                    return rc;
            }
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
        } else if (fx->kind == FX_TIMER) {
            if ((rc = sl_store_timer_insert(e->st, rs->run_pk, fx->seq, fx->fire_at, rs->queue,
                                            err)) != SL_OK)
                return rc;
            if (sl__engine_serves(e, rs->queue))
                sl__engine_wake_at(e, fx->fire_at);
        } else {
            bool found;
            if ((rc = sl_store_timer_delete(e->st, rs->run_pk, fx->seq, &found, err)) != SL_OK)
                return rc;
        }
    }
    if (ch->cancel_activities &&
        (rc = sl_store_act_request_cancel(e->st, rs->run_pk, err)) != SL_OK)
        return rc;
    if (ch->delete_wft && rs->wft_row) {
        if ((rc = sl_store_wft_delete(e->st, rs->run_pk, err)) != SL_OK)
            return rc;
        rs->wft_row = false;
    }
    if (ch->ensure_wft) {
        int64_t at = ch->wft_visible_at ? ch->wft_visible_at : now;
        if ((rc = sl_store_wft_ensure(e->st, rs->run_pk, rs->queue, at, err)) != SL_OK)
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

/*
 * ActivityTaskScheduled's attributes, {"seq":..,"activity_type":..,"task_queue":..,"input":..,
 * "options":..}, assembled from the input and options already serialised for the task row:
 * serialising them is the costliest part of scheduling a step, so it is done once. The
 * result is what json_dumps(JSON_COMPACT) of that object gives.
 */
static char *activity_attrs(int32_t seq, const char *name, const char *queue,
                            const char *input_text, const char *opts_text)
{
    char *n = dumps_take(sl_json_check(json_string(name)));
    char *q = dumps_take(sl_json_check(json_string(queue)));
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
        e->opts_memo_text = dumps_take(sl_activity_opts_to_json(o));
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
    SL_ASSERT_OK(sl__rs_push_cmd(rs, CMD_ACTIVITY, c->seq, c->name, next_id(ch), NULL));
    int idx = change_event(ch, SL_EV_ACTIVITY_SCHEDULED, now, attrs);
    pend_fx *fx = change_fx(ch, FX_ACT, idx);
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
    char *attrs = dumps_take(sl_json_check(
        json_pack("{s:i,s:s,s:s}", "seq", c->seq, "duration",
                  sl_duration_format(c->timer_ms, dur, sizeof(dur)), "fire_at",
                  sl_time_format(fire_at, when, sizeof(when)))));
    SL_ASSERT_OK(sl__rs_push_cmd(rs, CMD_TIMER, c->seq, NULL, next_id(ch), NULL));
    int idx = change_event(ch, SL_EV_TIMER_STARTED, now, attrs);
    pend_fx *fx = change_fx(ch, FX_TIMER, idx);
    fx->seq = c->seq;
    fx->fire_at = fire_at;
}

static void emit_timer_cancel(run_state *rs, change *ch, int32_t seq, int64_t now)
{
    if (seq < 0 || seq >= rs->n_cmds || rs->cmds[seq].res != RES_PENDING)
        return;
    SL_ASSERT_OK(sl__rs_resolve(rs, seq, RES_CANCELED, json_null(), next_id(ch), NULL));
    change_event(ch, SL_EV_TIMER_CANCELED, now, sl_xasprintf("{\"seq\":%d}", seq));
    change_fx(ch, FX_TIMER_DELETE, -1)->seq = seq;
}

static void emit_side_effect(run_state *rs, change *ch, const wf_cmd *c, int64_t now)
{
    char *attrs = dumps_take(sl_json_check(json_pack(
        "{s:s,s:i,s:O}", "marker_name", "side_effect", "seq", c->seq, "value", c->input)));
    SL_ASSERT_OK(sl__rs_push_cmd(rs, CMD_SIDE_EFFECT, c->seq, "side_effect", next_id(ch), NULL));
    SL_ASSERT_OK(sl__rs_resolve(rs, c->seq, RES_OK, json_incref(c->input), next_id(ch), NULL));
    change_event(ch, SL_EV_MARKER, now, attrs);
}

static void emit_version(run_state *rs, change *ch, const wf_cmd *c, int64_t now)
{
    sl__rs_set_version(rs, c->name, c->version);
    change_event(ch, SL_EV_MARKER, now,
                 dumps_take(sl_json_check(json_pack("{s:s,s:s,s:i}", "marker_name", "version",
                                                    "change_id", c->name, "version",
                                                    c->version))));
}

static const char *policy_name(int p)
{
    return p == PCP_REQUEST_CANCEL ? "request_cancel" : p == PCP_ABANDON ? "abandon" : "terminate";
}

static int policy_parse(const char *s)
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
    json_t *attrs = sl_json_check(json_pack(
        "{s:i,s:s,s:s,s:s,s:s,s:O,s:s}", "seq", c->seq, "workflow_type", c->name, "workflow_id",
        c->child_id, "run_id", nr->run_id, "task_queue", queue, "input", c->input,
        "parent_close_policy", policy_name(c->child_policy)));
    SL_ASSERT_OK(sl__rs_push_cmd(rs, CMD_CHILD, c->seq, c->name, next_id(ch), NULL));
    change_event(ch, SL_EV_CHILD_INITIATED, now, dumps_take(attrs));

    sl_run_row open;
    sl_err err;
    sl_err_clear(&err);
    bool exists = sl_store_run_find_open(e->st, c->child_id, &open, &err) == SL_OK;
    if (exists)
        sl_run_row_cleanup(&open);
    for (struct deferred *d = e->deferred_head; d && !exists; d = d->next)
        exists = d->kind == D_START_RUN && strcmp(d->nr->workflow_id, c->child_id) == 0;
    if (exists || !sl_registry_workflow(e->reg, c->name)) {
        json_t *failure = sl_json_check(json_pack(
            "{s:s,s:s}", "type",
            exists ? "WorkflowExecutionAlreadyStarted" : "UnknownWorkflowType", "message",
            exists ? "a run with this workflow id is already open" : "unknown workflow type"));
        SL_ASSERT_OK(
            sl__rs_resolve(rs, c->seq, RES_FAILED, json_incref(failure), next_id(ch), NULL));
        change_event(ch, SL_EV_CHILD_START_FAILED, now,
                     dumps_take(sl_json_check(json_pack("{s:i,s:s,s:o}", "seq", c->seq,
                                                        "workflow_id", c->child_id, "failure",
                                                        failure))));
        new_run_free(nr);
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
    nr->started_extra = sl_json_check(json_pack("{s:s,s:s,s:i}", "parent_workflow_id",
                                                rs->workflow_id, "parent_run_id", rs->run_id,
                                                "parent_seq", c->seq));
    struct deferred *d = sl_xcalloc(1, sizeof(*d));
    d->kind = D_START_RUN;
    d->nr = nr;
    defer(e, d);
}

/* Run the workflow code now if this process serves the run's queue, else leave a task. */
static void wft_into_change(sl_engine *e, run_state *rs, change *ch, int64_t now);

static void schedule_wft(sl_engine *e, run_state *rs, change *ch, int64_t now)
{
    if (sl__engine_serves(e, rs->queue))
        wft_into_change(e, rs, ch, now);
    else
        ch->ensure_wft = true;
}

/* Events for what a closing run leaves behind: activities asked to cancel, timers canceled. */
static void emit_close_pending(run_state *rs, change *ch, int64_t now)
{
    for (int32_t i = 0; i < rs->n_cmds; i++) {
        rs_cmd *c = &rs->cmds[i];
        if (c->res != RES_PENDING)
            continue;
        if (c->kind == CMD_ACTIVITY)
            change_event(ch, SL_EV_ACTIVITY_CANCEL_REQ, now,
                         sl_xasprintf("{\"seq\":%d,\"scheduled_event_id\":%lld}", i,
                                      (long long)c->event_id));
        else if (c->kind == CMD_TIMER)
            emit_timer_cancel(rs, ch, i, now);
    }
}

/* A new run of the same workflow id (retry, continue-as-new, retry from a failed step). */
static new_run *next_run_of(const run_state *rs, json_t *input_take)
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

static void defer_start(sl_engine *e, new_run *nr)
{
    struct deferred *d = sl_xcalloc(1, sizeof(*d));
    d->kind = D_START_RUN;
    d->nr = nr;
    defer(e, d);
}

static void close_run(change *ch, int status, char *result_take, char *failure_take)
{
    ch->close = true;
    ch->close_status = status;
    ch->close_result = result_take;
    ch->close_failure = failure_take;
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
        change_event(ch, SL_EV_WFT_FAILED, now,
                     dumps_take(sl_json_check(json_pack("{s:s,s:s}", "cause",
                                                        "history_size_limit", "message", msg))));
        json_t *failure = sl_json_check(
            json_pack("{s:s,s:s}", "type", "HistorySizeLimitExceeded", "message", msg));
        emit_close_pending(rs, ch, now);
        close_run(ch, SL_RUN_FAILED, NULL, sl_json_dumps(failure));
        change_event(ch, SL_EV_WF_FAILED, now,
                     dumps_take(sl_json_check(json_pack("{s:o}", "failure", failure))));
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
        emit_close_pending(rs, ch, now);
        close_run(ch, SL_RUN_COMPLETED, sl_json_dumps(result), NULL);
        change_event(ch, SL_EV_WF_COMPLETED, now,
                     dumps_take(sl_json_check(json_pack("{s:O}", "result", result))));
        break;
    case WFT_FAILED: {
        emit_close_pending(rs, ch, now);
        json_t *attrs = sl_json_check(json_pack("{s:O}", "failure", wf.failure));
        if (rs->has_retry && !rs->cancel_event_id) {
            const char *type = json_string_value(json_object_get(wf.failure, "type"));
            sl_retry_decision d = sl_retry_decide(&rs->retry, rs->attempt, type, false, -1, now,
                                                  0, sl_rand_unit());
            json_object_set_new(attrs, "retry_state", json_string(sl_retry_state_name(d.state)));
            if (d.state == SL_RETRY_IN_PROGRESS) {
                new_run *nr = next_run_of(rs, NULL);
                nr->attempt = rs->attempt + 1;
                nr->visible_at = d.next_attempt_ms;
                nr->started_extra = sl_json_check(json_pack(
                    "{s:s,s:s}", "continued_from_run_id", rs->run_id, "initiator", "retry_policy"));
                char when[40];
                json_object_set_new(attrs, "new_run_id", json_string(nr->run_id));
                json_object_set_new(attrs, "next_attempt_time",
                                    json_string(sl_time_format(d.next_attempt_ms, when,
                                                               sizeof(when))));
                defer_start(e, nr);
            }
        }
        close_run(ch, SL_RUN_FAILED, NULL, sl_json_dumps(wf.failure));
        change_event(ch, SL_EV_WF_FAILED, now, dumps_take(attrs));
        break;
    }
    case WFT_CANCELED:
        emit_close_pending(rs, ch, now);
        close_run(ch, SL_RUN_CANCELED, NULL, NULL);
        change_event(ch, SL_EV_WF_CANCELED, now, sl_xstrdup("{}"));
        break;
    case WFT_CONTINUE_AS_NEW: {
        emit_close_pending(rs, ch, now);
        new_run *nr = next_run_of(rs, json_incref(wf.continue_input));
        nr->started_extra = sl_json_check(json_pack("{s:s,s:s}", "continued_from_run_id",
                                                    rs->run_id, "initiator", "continue_as_new"));
        change_event(ch, SL_EV_WF_CONTINUED_AS_NEW, now,
                     dumps_take(sl_json_check(json_pack("{s:s,s:O}", "new_run_id", nr->run_id,
                                                        "input", wf.continue_input))));
        close_run(ch, SL_RUN_CONTINUED_AS_NEW, NULL, NULL);
        defer_start(e, nr);
        break;
    }
    default:
        break;
    }
    ch->delete_wft = true;
    json_decref(result);
    sl__wf_cleanup(&wf);
}

/* ---- runs ------------------------------------------------------------------------------- */

void sl__rs_from_row(run_state *rs, sl_run_row *row)
{
    rs->run_pk = row->run_pk;
    memcpy(rs->run_id, row->run_id, sizeof(rs->run_id));
    rs->workflow_id = row->workflow_id;
    rs->type = row->type;
    rs->queue = row->task_queue;
    rs->first_run_id = row->first_run_id;
    rs->parent_run_id = row->parent_run_id;
    row->workflow_id = row->type = row->task_queue = row->first_run_id = row->parent_run_id = NULL;
    json_error_t je;
    rs->input = row->input ? json_loads(row->input, JSON_DECODE_ANY, &je) : NULL;
    if (!rs->input)
        rs->input = json_null();
    rs->attempt = row->attempt;
    rs->start_ms = row->start_ms;
    json_t *o = row->opts ? json_loads(row->opts, 0, &je) : NULL;
    json_t *rp = json_object_get(o, "retry_policy");
    if (rp) {
        sl_retry_policy_init(&rs->retry);
        rs->has_retry = sl_retry_policy_from_json(rp, &rs->retry, NULL) == SL_OK;
    }
    rs->parent_seq = (int32_t)json_integer_value(json_object_get(o, "parent_seq"));
    rs->parent_close_policy =
        policy_parse(json_string_value(json_object_get(o, "parent_close_policy")));
    json_decref(o);
}

/* The constant for an event type name that may be carried into a new run, or NULL. */
static const char *event_type_const(const char *t)
{
    static const char *const carried[] = {SL_EV_ACTIVITY_SCHEDULED, SL_EV_ACTIVITY_COMPLETED,
                                          SL_EV_TIMER_STARTED, SL_EV_TIMER_FIRED, SL_EV_MARKER};
    for (size_t i = 0; t && i < sizeof(carried) / sizeof(carried[0]); i++)
        if (strcmp(t, carried[i]) == 0)
            return carried[i];
    return NULL;
}

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

/* Insert a new run (its id must have no open run) with its Started event, carried-over
 * events, and either its first workflow task inline or a task row. */
static sl_code start_run(sl_engine *e, new_run *nr, sl_err *err)
{
    int64_t now = sl_now_ms();
    run_state *rs = sl_xcalloc(1, sizeof(*rs));
    memcpy(rs->run_id, nr->run_id, sizeof(rs->run_id));
    rs->workflow_id = sl_xstrdup(nr->workflow_id);
    rs->type = sl_xstrdup(nr->type);
    rs->queue = sl_xstrdup(nr->queue);
    rs->input = nr->input ? json_incref(nr->input) : json_null();
    rs->attempt = nr->attempt > 0 ? nr->attempt : 1;
    rs->status = SL_RUN_RUNNING;
    rs->start_ms = now;
    rs->next_event_id = 1;
    rs->first_run_id = sl_xstrdup(nr->first_run_id ? nr->first_run_id : nr->run_id);
    if (nr->parent_run_id) {
        rs->parent_run_id = sl_xstrdup(nr->parent_run_id);
        rs->parent_seq = nr->parent_seq;
    }
    rs->parent_close_policy = nr->parent_close_policy;
    if (nr->retry) {
        sl_retry_policy_init(&rs->retry);
        rs->has_retry = sl_retry_policy_from_json(nr->retry, &rs->retry, NULL) == SL_OK;
    }

    json_t *opts = sl_json_check(json_object());
    if (nr->retry)
        json_object_set(opts, "retry_policy", nr->retry);
    if (nr->parent_run_id) {
        json_object_set_new(opts, "parent_seq", json_integer(nr->parent_seq));
        json_object_set_new(opts, "parent_close_policy",
                            json_string(policy_name(nr->parent_close_policy)));
    }
    sl_run_row row;
    memset(&row, 0, sizeof(row));
    memcpy(row.run_id, rs->run_id, sizeof(row.run_id));
    row.workflow_id = rs->workflow_id;
    row.type = rs->type;
    row.task_queue = rs->queue;
    row.status = SL_RUN_RUNNING;
    row.input = sl_json_dumps(rs->input);
    row.start_ms = now;
    row.attempt = rs->attempt;
    row.first_run_id = rs->first_run_id;
    row.prev_run_id = nr->prev_run_id;
    row.parent_run_id = nr->parent_run_id;
    row.opts = json_object_size(opts) ? sl_json_dumps(opts) : NULL;
    json_decref(opts);

    change ch;
    change_init(&ch, rs);
    ch.new_run = &row;
    json_t *attrs = sl_json_check(json_pack("{s:s,s:s,s:s,s:O,s:i}", "workflow_type", rs->type,
                                            "workflow_id", rs->workflow_id, "task_queue",
                                            rs->queue, "input", rs->input, "attempt",
                                            rs->attempt));
    if (nr->retry)
        json_object_set(attrs, "retry_policy", nr->retry);
    if (nr->first_run_id)
        json_object_set_new(attrs, "first_run_id", json_string(nr->first_run_id));
    if (nr->started_extra)
        json_object_update(attrs, nr->started_extra);
    change_event(&ch, SL_EV_WF_STARTED, now, dumps_take(attrs));

    /* Carry over recorded outcomes (retry from the failed step). */
    sl_code rc = SL_OK;
    size_t i;
    json_t *ev;
    json_array_foreach(nr->carry, i, ev)
    {
        const char *type = event_type_const(json_string_value(json_object_get(ev, "type")));
        char *text = sl_json_dumps(json_object_get(ev, "attributes"));
        sl_event_row row_ev = {.event_id = next_id(&ch),
                               .type = type,
                               .time_ms = now,
                               .attrs = text,
                               .attrs_len = strlen(text)};
        if (!type) {
            free(text);
            rc = sl_err_set(err, SL_EINVAL, "cannot carry over an event of this type");
            break;
        }
        if ((rc = sl__rs_decode(rs, &row_ev, err)) != SL_OK) {
            free(text);
            break;
        }
        change_event(&ch, type, now, text);
    }
    if (rc == SL_OK) {
        if (nr->visible_at > now) {
            ch.ensure_wft = true;
            ch.wft_visible_at = nr->visible_at;
        } else {
            schedule_wft(e, rs, &ch, now);
        }
        rc = change_commit(e, &ch, err);
    }
    change_free(&ch);
    free(row.input);
    free(row.opts);
    if (rc != SL_OK) {
        sl__rs_free(rs);
        return rc;
    }
    if (rs->status == SL_RUN_RUNNING)
        sl__cache_put(e, rs);
    else
        sl__rs_free(rs);
    return SL_OK;
}

sl_code sl__op_start(sl_engine *e, const char *type, const json_t *input, const sl_start_opts *o,
                     sl_start_result *res, sl_err *err)
{
    return sl__op_start_at(e, type, input, o, 0, res, err);
}

sl_code sl__op_start_at(sl_engine *e, const char *type, const json_t *input,
                        const sl_start_opts *o, int64_t visible_at, sl_start_result *res,
                        sl_err *err)
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
    new_run *nr = sl_xcalloc(1, sizeof(*nr));
    sl_uuid_new(nr->run_id);
    nr->workflow_id = sl_xstrdup(wid);
    nr->type = sl_xstrdup(type);
    nr->queue = sl_xstrdup(queue);
    nr->input = input ? json_deep_copy(input) : json_null();
    nr->attempt = 1;
    nr->visible_at = visible_at;
    if (o && o->retry)
        nr->retry = sl_retry_policy_to_json(o->retry);
    sl_code rc = start_run(e, nr, err);
    if (rc == SL_OK) {
        snprintf(res->workflow_id, sizeof(res->workflow_id), "%s", wid);
        memcpy(res->run_id, nr->run_id, sizeof(res->run_id));
    }
    new_run_free(nr);
    return rc;
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
    bool wft;              /* run (or schedule) a workflow task after the events */
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
        rs->pins++;
        struct deferred *mark = deferred_mark(e);
        change ch;
        change_init(&ch, rs);
        int64_t now = sl_now_ms();
        for (int i = 0; i < a->n_evs; i++) {
            if (i == a->resolve_at &&
                (rc = sl__rs_resolve(rs, a->resolve_seq, a->resolve_state,
                                     json_incref(a->resolve_value), next_id(&ch), err)) != SL_OK) {
                change_free(&ch);
                rs->pins--;
                sl__cache_evict(e, a->run_pk);
                return rc;
            }
            change_event(&ch, a->types[i], a->times[i] ? a->times[i] : now,
                         sl_xstrdup(a->attrs[i]));
        }
        if (a->wft)
            schedule_wft(e, rs, &ch, now);
        rc = change_commit(e, &ch, err);
        bool closed = ch.close;
        change_free(&ch);
        rs->pins--;
        if (rc == SL_ESTALE) {
            sl__cache_evict(e, a->run_pk);
            deferred_truncate(e, mark);
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
    sl_retry_decision d = sl_retry_decide(&p, t->attempt, etype, non_retryable, retry_after_ms,
                                          now, t->close_deadline, sl_rand_unit());
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
        if (sl__engine_serves(e, t->queue))
            sl__engine_wake_at(e, d.next_attempt_ms);
    } else {
        rc = sl_store_act_take(e->st, t->task_id, owner, t->attempt, &found, err);
    }
    free(failure_text);
    if (rc != SL_OK || !found)
        return rc != SL_OK ? rc : SL_ELEASE;

    bool final = d.state != SL_RETRY_IN_PROGRESS;
    bool canceled = d.state == SL_RETRY_CANCEL_REQUESTED;
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
    sl_code rc = sl_store_act_heartbeat(e->st, t->task_id, t->lease_owner, t->attempt,
                                        it->hb_details, it->hb_lease_expiry, &it->hb_found,
                                        &it->hb_cancel, err);
    if (rc == SL_OK && !it->hb_found) {
        /* The task is gone: was its run canceled or terminated? Then say so. */
        int64_t v;
        int status;
        if (sl_store_run_version(e->st, t->run_pk, &v, &status, NULL) == SL_OK &&
            (status == SL_RUN_CANCELED || status == SL_RUN_TERMINATED))
            it->hb_cancel = true;
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
        rs->pins++;
        struct deferred *mark = deferred_mark(e);
        change ch;
        change_init(&ch, rs);
        wft_into_change(e, rs, &ch, sl_now_ms());
        rc = change_commit(e, &ch, err);
        bool closed = ch.close;
        change_free(&ch);
        rs->pins--;
        if (rc == SL_ESTALE) {
            sl__cache_evict(e, run_pk);
            deferred_truncate(e, mark);
            continue;
        }
        if (rc != SL_OK || closed)
            sl__cache_evict(e, run_pk);
        return rc;
    }
    return sl_err_set(err, SL_EBUSY, "run %lld kept changing under us", (long long)run_pk);
}

/* ---- operator actions: signal, cancel, terminate, retry ----------------------------------- */

/* The open run of workflow_id, fresh from the database, pinned; or an error naming it. */
static run_state *open_run(sl_engine *e, const char *workflow_id, int *closed_status,
                           sl_err *err, sl_code *rc)
{
    sl_run_row r;
    *closed_status = -1;
    *rc = sl_store_run_find(e->st, workflow_id, NULL, &r, err);
    if (*rc == SL_ENOTFOUND) {
        *rc = sl_err_set(err, SL_ENOTFOUND, "no workflow with id '%s'", workflow_id);
        return NULL;
    }
    if (*rc != SL_OK)
        return NULL;
    if (r.status != SL_RUN_RUNNING) {
        *closed_status = r.status;
        *rc = sl_err_set(err, SL_ECLOSED, "workflow '%s' is not running (it is %s)", workflow_id,
                         sl_run_status_name(r.status));
        sl_run_row_cleanup(&r);
        return NULL;
    }
    int64_t pk = r.run_pk;
    sl_run_row_cleanup(&r);
    run_state *rs = sl__cache_get_fresh(e, pk, err, rc);
    if (rs)
        rs->pins++;
    return rs;
}

/* Commit a change built by `build` on the open run of workflow_id, retrying if stale. */
typedef sl_code (*build_fn)(sl_engine *e, run_state *rs, change *ch, void *arg, sl_err *err);

static sl_code on_open_run(sl_engine *e, const char *workflow_id, build_fn build, void *arg,
                           int *closed_status, sl_err *err)
{
    for (int tries = 0; tries < 3; tries++) {
        sl_code rc;
        run_state *rs = open_run(e, workflow_id, closed_status, err, &rc);
        if (!rs)
            return rc;
        struct deferred *mark = deferred_mark(e);
        change ch;
        change_init(&ch, rs);
        rc = build(e, rs, &ch, arg, err);
        if (rc == SL_OK)
            rc = change_commit(e, &ch, err);
        bool closed = ch.close;
        change_free(&ch);
        rs->pins--;
        if (rc == SL_ESTALE) {
            sl__cache_evict(e, rs->run_pk);
            deferred_truncate(e, mark);
            continue;
        }
        if (rc != SL_OK || closed)
            sl__cache_evict(e, rs->run_pk);
        return rc;
    }
    return sl_err_set(err, SL_EBUSY, "workflow '%s' kept changing under us", workflow_id);
}

struct signal_arg {
    const char *name;
    const json_t *input;
};

static sl_code build_signal(sl_engine *e, run_state *rs, change *ch, void *arg, sl_err *err)
{
    (void)err;
    struct signal_arg *a = arg;
    int64_t now = sl_now_ms();
    json_t *input = a->input ? json_deep_copy(a->input) : json_null();
    sl__rs_add_signal(rs, a->name, json_incref(input), next_id(ch));
    change_event(ch, SL_EV_WF_SIGNALED, now,
                 dumps_take(sl_json_check(json_pack("{s:s,s:o}", "signal_name", a->name, "input",
                                                    input))));
    schedule_wft(e, rs, ch, now);
    return SL_OK;
}

sl_code sl__op_signal(sl_engine *e, const char *workflow_id, const char *name,
                      const json_t *input, sl_err *err)
{
    if (!name || !*name || strlen(name) > 255)
        return sl_err_set(err, SL_EINVAL, "signal name must be 1-255 characters");
    struct signal_arg a = {.name = name, .input = input};
    int closed;
    return on_open_run(e, workflow_id, build_signal, &a, &closed, err);
}

struct reason_arg {
    const char *reason;
    const char *identity;
    bool already;
};

static sl_code build_cancel(sl_engine *e, run_state *rs, change *ch, void *arg, sl_err *err)
{
    (void)err;
    struct reason_arg *a = arg;
    if (rs->cancel_event_id) {
        a->already = true;
        return SL_OK;
    }
    int64_t now = sl_now_ms();
    rs->cancel_event_id = next_id(ch);
    rs->cancel_cmds_before = rs->n_cmds;
    change_event(ch, SL_EV_WF_CANCEL_REQUESTED, now,
                 dumps_take(sl_json_check(json_pack("{s:s,s:s}", "reason",
                                                    a->reason ? a->reason : "", "identity",
                                                    a->identity))));
    ch->cancel_activities = true;
    schedule_wft(e, rs, ch, now);
    return SL_OK;
}

sl_code sl__op_cancel(sl_engine *e, const char *workflow_id, const char *reason, bool *already,
                      sl_err *err)
{
    struct reason_arg a = {.reason = reason, .identity = e->identity};
    int closed;
    sl_code rc = on_open_run(e, workflow_id, build_cancel, &a, &closed, err);
    *already = a.already || closed == SL_RUN_CANCELED;
    if (closed == SL_RUN_CANCELED) {
        sl_err_clear(err);
        return SL_OK;
    }
    return rc;
}

static sl_code build_terminate(sl_engine *e, run_state *rs, change *ch, void *arg, sl_err *err)
{
    (void)e;
    (void)err;
    struct reason_arg *a = arg;
    int64_t now = sl_now_ms();
    emit_close_pending(rs, ch, now);
    json_t *failure = sl_json_check(json_pack("{s:s,s:s}", "type", "Terminated", "message",
                                              a->reason ? a->reason : ""));
    close_run(ch, SL_RUN_TERMINATED, NULL, sl_json_dumps(failure));
    json_decref(failure);
    change_event(ch, SL_EV_WF_TERMINATED, now,
                 dumps_take(sl_json_check(json_pack("{s:s,s:s}", "reason",
                                                    a->reason ? a->reason : "", "identity",
                                                    a->identity))));
    return SL_OK;
}

sl_code sl__op_terminate(sl_engine *e, const char *workflow_id, const char *reason,
                         bool *already, sl_err *err)
{
    struct reason_arg a = {.reason = reason, .identity = e->identity};
    int closed;
    sl_code rc = on_open_run(e, workflow_id, build_terminate, &a, &closed, err);
    *already = closed == SL_RUN_TERMINATED;
    if (*already) {
        sl_err_clear(err);
        return SL_OK;
    }
    return rc;
}

struct carry_ctx {
    json_t *events;      /* the old run's events, in order */
};

static bool collect_cb(const sl_event_row *ev, void *arg)
{
    struct carry_ctx *c = arg;
    json_error_t je;
    json_t *a = json_loadb(ev->attrs, ev->attrs_len, 0, &je);
    json_array_append_new(c->events,
                          sl_json_check(json_pack("{s:I,s:s,s:o}", "event_id",
                                                  (json_int_t)ev->event_id, "type", ev->type,
                                                  "attributes", a ? a : json_object())));
    return true;
}

/*
 * Which events of a closed run to carry into a retry: the Scheduled+Completed pairs (and
 * fired timers, side-effect markers, version markers) of the longest prefix of commands that
 * all succeeded. A parallel command that failed ends the prefix even if later ones succeeded,
 * because replay needs the recorded commands to be a prefix of what the code issues.
 */
static json_t *carry_prefix(const json_t *events, const char *old_run_id, json_t **carried_ids)
{
    json_t *carry = sl_json_check(json_array());
    *carried_ids = sl_json_check(json_array());
    /* seq -> outcome ok? first pass */
    int32_t max_seq = -1;
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        json_t *s = json_object_get(json_object_get(ev, "attributes"), "seq");
        if (json_is_integer(s) && json_integer_value(s) > max_seq)
            max_seq = (int32_t)json_integer_value(s);
    }
    int32_t n = max_seq + 1;
    bool *ok = sl_xcalloc((size_t)(n > 0 ? n : 1), sizeof(bool));
    json_array_foreach(events, i, ev)
    {
        const char *t = json_string_value(json_object_get(ev, "type"));
        json_t *a = json_object_get(ev, "attributes");
        json_t *s = json_object_get(a, "seq");
        if (!json_is_integer(s))
            continue;
        int32_t seq = (int32_t)json_integer_value(s);
        if (seq < 0 || seq >= n)
            continue;
        if (strcmp(t, SL_EV_ACTIVITY_COMPLETED) == 0 || strcmp(t, SL_EV_TIMER_FIRED) == 0 ||
            strcmp(t, SL_EV_MARKER) == 0)
            ok[seq] = true;
    }
    int32_t prefix = 0;
    while (prefix < n && ok[prefix])
        prefix++;
    json_array_foreach(events, i, ev)
    {
        const char *t = json_string_value(json_object_get(ev, "type"));
        json_t *a = json_object_get(ev, "attributes");
        json_t *s = json_object_get(a, "seq");
        bool keep = false;
        if (strcmp(t, SL_EV_MARKER) == 0 &&
            sl_str_eq(json_string_value(json_object_get(a, "marker_name")), "version"))
            keep = true;
        else if (json_is_integer(s) && json_integer_value(s) < prefix &&
                 (strcmp(t, SL_EV_ACTIVITY_SCHEDULED) == 0 ||
                  strcmp(t, SL_EV_ACTIVITY_COMPLETED) == 0 || strcmp(t, SL_EV_TIMER_STARTED) == 0 ||
                  strcmp(t, SL_EV_TIMER_FIRED) == 0 || strcmp(t, SL_EV_MARKER) == 0))
            keep = true;
        if (!keep)
            continue;
        json_t *copy = json_deep_copy(a);
        json_object_set_new(copy, "carried_over_from",
                            json_pack("{s:s,s:O}", "run_id", old_run_id, "event_id",
                                      json_object_get(ev, "event_id")));
        json_array_append_new(carry, sl_json_check(json_pack("{s:s,s:o}", "type", t,
                                                             "attributes", copy)));
        json_array_append(*carried_ids, json_object_get(ev, "event_id"));
    }
    free(ok);
    return carry;
}

sl_code sl__op_retry(sl_engine *e, const char *workflow_id, const char *reason,
                     sl_start_result *res, sl_err *err)
{
    memset(res, 0, sizeof(*res));
    sl_run_row r;
    sl_code rc = sl_store_run_find(e->st, workflow_id, NULL, &r, err);
    if (rc == SL_ENOTFOUND)
        return sl_err_set(err, SL_ENOTFOUND, "no workflow with id '%s'", workflow_id);
    if (rc != SL_OK)
        return rc;
    if (r.status == SL_RUN_RUNNING || r.status == SL_RUN_COMPLETED ||
        r.status == SL_RUN_CONTINUED_AS_NEW) {
        rc = sl_err_set(err, SL_ECONFLICT,
                        "workflow '%s' is %s; only failed, canceled, terminated or timed-out runs "
                        "can be retried",
                        workflow_id, sl_run_status_name(r.status));
        sl_run_row_cleanup(&r);
        return rc;
    }
    struct carry_ctx c = {.events = sl_json_check(json_array())};
    rc = sl_store_events_scan(e->st, r.run_pk, 1, 0, collect_cb, &c, err);
    if (rc != SL_OK) {
        json_decref(c.events);
        sl_run_row_cleanup(&r);
        return rc;
    }
    run_state tmp;
    memset(&tmp, 0, sizeof(tmp));
    sl__rs_from_row(&tmp, &r);
    new_run *nr = next_run_of(&tmp, NULL);
    nr->attempt = 1;
    json_t *ids;
    nr->carry = carry_prefix(c.events, r.run_id, &ids);
    nr->started_extra = sl_json_check(json_pack(
        "{s:s,s:s,s:s,s:o}", "continued_from_run_id", r.run_id, "initiator", "retry",
        "reason", reason ? reason : "", "carried_over_events", ids));
    rc = start_run(e, nr, err);
    if (rc == SL_OK) {
        snprintf(res->workflow_id, sizeof(res->workflow_id), "%s", workflow_id);
        memcpy(res->run_id, nr->run_id, sizeof(res->run_id));
    }
    new_run_free(nr);
    /* tmp owns what sl__rs_from_row moved out of r */
    json_decref(tmp.input);
    free(tmp.workflow_id);
    free(tmp.type);
    free(tmp.queue);
    free(tmp.first_run_id);
    free(tmp.parent_run_id);
    json_decref(c.events);
    sl_run_row_cleanup(&r);
    return rc;
}

/* ---- deferred work ---------------------------------------------------------------------- */

static const char *child_event_for(int status)
{
    switch (status) {
    case SL_RUN_COMPLETED:
        return SL_EV_CHILD_COMPLETED;
    case SL_RUN_CANCELED:
        return SL_EV_CHILD_CANCELED;
    case SL_RUN_TERMINATED:
        return SL_EV_CHILD_TERMINATED;
    default:
        return SL_EV_CHILD_FAILED;
    }
}

static sl_code notify_parent(sl_engine *e, struct deferred *d, sl_err *err)
{
    sl_run_row p;
    sl_code rc = sl_store_run_find(e->st, NULL, d->parent_run_id, &p, err);
    if (rc == SL_ENOTFOUND) {
        sl_err_clear(err);
        return SL_OK; /* parent gone: abandoned */
    }
    if (rc != SL_OK)
        return rc;
    int64_t pk = p.run_pk;
    sl_run_row_cleanup(&p);
    json_error_t je;
    json_t *result = d->result ? json_loads(d->result, JSON_DECODE_ANY, &je) : NULL;
    json_t *failure = d->failure ? json_loads(d->failure, 0, &je) : NULL;
    if (d->status != SL_RUN_COMPLETED && !failure)
        failure = sl_json_check(json_pack("{s:s,s:s}", "type",
                                          d->status == SL_RUN_CANCELED ? "CanceledError"
                                                                       : "ChildWorkflowFailure",
                                          "message", sl_run_status_name(d->status)));
    json_t *attrs = sl_json_check(json_pack("{s:i,s:s,s:s}", "seq", d->parent_seq, "workflow_id",
                                            d->workflow_id, "run_id", d->run_id));
    if (d->status == SL_RUN_COMPLETED)
        json_object_set(attrs, "result", result ? result : json_null());
    else
        json_object_set(attrs, "failure", failure);
    char *text = dumps_take(attrs);
    json_t *value = d->status == SL_RUN_COMPLETED ? (result ? json_incref(result) : json_null())
                                                  : json_incref(failure);
    run_op_args a = {.run_pk = pk,
                     .n_evs = 1,
                     .types = {child_event_for(d->status)},
                     .attrs = {text},
                     .resolve_at = 0,
                     .resolve_seq = d->parent_seq,
                     .resolve_state = d->status == SL_RUN_COMPLETED  ? RES_OK
                                      : d->status == SL_RUN_CANCELED ? RES_CANCELED
                                                                     : RES_FAILED,
                     .resolve_value = value,
                     .wft = true};
    rc = run_op(e, &a, err);
    free(text);
    json_decref(value);
    json_decref(result);
    json_decref(failure);
    return rc;
}

struct children_ctx {
    char **ids;
    int *policies;
    int n;
};

static void child_cb(const sl_run_row *r, void *arg)
{
    struct children_ctx *c = arg;
    if (r->status != SL_RUN_RUNNING)
        return;
    c->ids = sl_xrealloc(c->ids, (size_t)(c->n + 1) * sizeof(char *));
    c->policies = sl_xrealloc(c->policies, (size_t)(c->n + 1) * sizeof(int));
    json_error_t je;
    json_t *o = r->opts ? json_loads(r->opts, 0, &je) : NULL;
    c->policies[c->n] = policy_parse(json_string_value(json_object_get(o, "parent_close_policy")));
    json_decref(o);
    c->ids[c->n++] = sl_xstrdup(r->workflow_id);
}

static sl_code close_children(sl_engine *e, struct deferred *d, sl_err *err)
{
    struct children_ctx c = {0};
    sl_code rc = sl_store_runs_children(e->st, d->run_id, child_cb, &c, err);
    for (int i = 0; i < c.n; i++) {
        bool already;
        if (rc == SL_OK && c.policies[i] == PCP_TERMINATE)
            rc = sl__op_terminate(e, c.ids[i], "parent workflow closed", &already, err);
        else if (rc == SL_OK && c.policies[i] == PCP_REQUEST_CANCEL)
            rc = sl__op_cancel(e, c.ids[i], "parent workflow closed", &already, err);
        if (rc == SL_ECLOSED) {
            sl_err_clear(err);
            rc = SL_OK;
        }
        free(c.ids[i]);
    }
    free(c.ids);
    free(c.policies);
    return rc;
}

sl_code sl__engine_run_deferred(sl_engine *e, sl_err *err)
{
    sl_code rc = SL_OK;
    while (e->deferred_head && rc == SL_OK) {
        struct deferred *d = e->deferred_head;
        e->deferred_head = d->next;
        if (!e->deferred_head)
            e->deferred_tail = NULL;
        switch (d->kind) {
        case D_START_RUN:
            rc = start_run(e, d->nr, err);
            break;
        case D_NOTIFY_PARENT:
            rc = notify_parent(e, d, err);
            break;
        case D_CLOSE_CHILDREN:
            rc = close_children(e, d, err);
            break;
        }
        deferred_free(d);
    }
    return rc;
}
