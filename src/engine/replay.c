/*
 * replay.c - decoded history (run_state) and the workflow context the code runs in.
 *
 * Visibility rule: an outcome recorded at event E is visible to the code only once the
 * code has issued as many commands as history recorded before E. Re-running the code
 * over a complete history therefore sees each outcome at the same point as the
 * workflow task that first observed it, which keeps replay deterministic without
 * recording workflow-task boundaries.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "events.h"

/* ---- run_state ------------------------------------------------------------------- */

void sl__rs_free(run_state *rs)
{
    if (!rs)
        return;
    for (int32_t i = 0; i < rs->n_cmds; i++)
        json_decref(rs->cmds[i].value);
    free(rs->cmds);
    for (int i = 0; i < rs->n_names; i++)
        free(rs->names[i]);
    free(rs->names);
    for (int i = 0; i < rs->n_signals; i++) {
        free(rs->signals[i].name);
        json_decref(rs->signals[i].payload);
    }
    free(rs->signals);
    for (int i = 0; i < rs->n_versions; i++)
        free(rs->versions[i].change_id);
    free(rs->versions);
    free(rs->first_run_id);
    free(rs->parent_run_id);
    free(rs->workflow_id);
    free(rs->type);
    free(rs->queue);
    json_decref(rs->input);
    free(rs);
}

sl_code sl__rs_push_cmd(run_state *rs, int kind, int32_t seq, const char *name, int64_t event_id,
                        sl_err *err)
{
    if (seq != rs->n_cmds)
        return sl_err_set(err, SL_EIO, "history of run %s: command seq %d at event %lld, expected %d",
                          rs->run_id, seq, (long long)event_id, rs->n_cmds);
    if (rs->n_cmds == rs->cap_cmds) {
        rs->cap_cmds = rs->cap_cmds ? rs->cap_cmds * 2 : 8;
        rs->cmds = sl_xrealloc(rs->cmds, (size_t)rs->cap_cmds * sizeof(*rs->cmds));
    }
    rs_cmd *c = &rs->cmds[rs->n_cmds++];
    memset(c, 0, sizeof(*c));
    c->kind = (uint8_t)kind;
    c->name = NULL;
    if (name) {
        for (int i = 0; i < rs->n_names && !c->name; i++)
            if (strcmp(rs->names[i], name) == 0)
                c->name = rs->names[i];
        if (!c->name) {
            rs->names = sl_xrealloc(rs->names, (size_t)(rs->n_names + 1) * sizeof(char *));
            c->name = rs->names[rs->n_names++] = sl_xstrdup(name);
        }
    }
    c->event_id = event_id;
    c->time_before = rs->last_event_ms;
    return SL_OK;
}

sl_code sl__rs_resolve(run_state *rs, int32_t seq, int state, json_t *value_take,
                       int64_t event_id, sl_err *err)
{
    if (seq < 0 || seq >= rs->n_cmds || rs->cmds[seq].res != RES_PENDING) {
        json_decref(value_take);
        return sl_err_set(err, SL_EIO, "history of run %s: outcome for unknown or resolved seq %d "
                          "at event %lld", rs->run_id, seq, (long long)event_id);
    }
    rs_cmd *c = &rs->cmds[seq];
    c->res = (uint8_t)state;
    c->value = value_take;
    c->res_event_id = event_id;
    c->res_cmds_before = rs->n_cmds;
    return SL_OK;
}

void sl__rs_note_event(run_state *rs, int64_t event_id, int64_t time_ms, size_t bytes,
                       bool is_wft_failed)
{
    rs->next_event_id = event_id + 1;
    rs->last_event_ms = time_ms;
    rs->history_bytes += (int64_t)bytes;
    rs->last_is_wft_failed = is_wft_failed;
}

static int32_t attr_seq(const json_t *a)
{
    json_t *s = json_object_get(a, "seq");
    return json_is_integer(s) ? (int32_t)json_integer_value(s) : -1;
}

void sl__rs_add_signal(run_state *rs, const char *name, json_t *payload_take, int64_t event_id)
{
    rs->signals = sl_xrealloc(rs->signals, (size_t)(rs->n_signals + 1) * sizeof(*rs->signals));
    rs_signal *g = &rs->signals[rs->n_signals++];
    g->name = sl_xstrdup(name ? name : "");
    g->payload = payload_take ? payload_take : json_null();
    g->event_id = event_id;
    g->cmds_before = rs->n_cmds;
}

void sl__rs_set_version(run_state *rs, const char *change_id, int version)
{
    for (int i = 0; i < rs->n_versions; i++)
        if (strcmp(rs->versions[i].change_id, change_id) == 0) {
            rs->versions[i].version = version;
            return;
        }
    rs->versions = sl_xrealloc(rs->versions, (size_t)(rs->n_versions + 1) * sizeof(*rs->versions));
    rs->versions[rs->n_versions].change_id = sl_xstrdup(change_id);
    rs->versions[rs->n_versions++].version = version;
}

/* v with a new reference, else fallback (which must be a singleton such as json_null() or
 * NULL: it is not freed when v exists). */
static json_t *incref_or(json_t *v, json_t *fallback)
{
    return v ? json_incref(v) : fallback;
}

/* The event's failure (new reference), or a new empty object when it has none. */
static json_t *failure_of(const json_t *a)
{
    json_t *f = json_object_get(a, "failure");
    return f ? json_incref(f) : sl_json_check(json_object());
}

static bool type_is(const char *t, const char *want)
{
    return strcmp(t, want) == 0;
}

static const char *status_events[] = {
    [SL_RUN_COMPLETED] = SL_EV_WF_COMPLETED,       [SL_RUN_FAILED] = SL_EV_WF_FAILED,
    [SL_RUN_CANCELED] = SL_EV_WF_CANCELED,         [SL_RUN_TERMINATED] = SL_EV_WF_TERMINATED,
    [SL_RUN_CONTINUED_AS_NEW] = SL_EV_WF_CONTINUED_AS_NEW,
};

sl_code sl__rs_apply(run_state *rs, const sl_event_row *ev, sl_err *err)
{
    if (ev->event_id != rs->next_event_id)
        return sl_err_set(err, SL_EIO, "history of run %s: event %lld where %lld was expected",
                          rs->run_id, (long long)ev->event_id, (long long)rs->next_event_id);
    sl_code rc = sl__rs_decode(rs, ev, err);
    if (rc != SL_OK)
        return rc;
    sl__rs_note_event(rs, ev->event_id, ev->time_ms,
                      (size_t)sl__event_bytes(ev->type, ev->attrs_len),
                      type_is(ev->type, SL_EV_WFT_FAILED));
    return SL_OK;
}

sl_code sl__rs_decode(run_state *rs, const sl_event_row *ev, sl_err *err)
{
    const char *t = ev->type;
    json_error_t je;
    json_t *a = json_loadb(ev->attrs, ev->attrs_len, 0, &je);
    if (!a)
        return sl_err_set(err, SL_EIO, "history of run %s: event %lld has invalid attributes",
                          rs->run_id, (long long)ev->event_id);
    sl_code rc = SL_OK;
    int32_t seq = attr_seq(a);
    int64_t id = ev->event_id;
    if (type_is(t, SL_EV_ACTIVITY_SCHEDULED)) {
        rc = sl__rs_push_cmd(rs, CMD_ACTIVITY, seq,
                             json_string_value(json_object_get(a, "activity_type")), id, err);
    } else if (type_is(t, SL_EV_ACTIVITY_COMPLETED)) {
        rc = sl__rs_resolve(rs, seq, RES_OK, incref_or(json_object_get(a, "result"), json_null()),
                            id, err);
    } else if (type_is(t, SL_EV_ACTIVITY_FAILED) || type_is(t, SL_EV_ACTIVITY_TIMED_OUT)) {
        if (!json_is_true(json_object_get(a, "will_retry")))
            rc = sl__rs_resolve(rs, seq, RES_FAILED,
                                failure_of(a), id, err);
    } else if (type_is(t, SL_EV_ACTIVITY_CANCELED)) {
        rc = sl__rs_resolve(rs, seq, RES_CANCELED,
                            failure_of(a), id, err);
    } else if (type_is(t, SL_EV_TIMER_STARTED)) {
        rc = sl__rs_push_cmd(rs, CMD_TIMER, seq, NULL, id, err);
    } else if (type_is(t, SL_EV_TIMER_FIRED)) {
        rc = sl__rs_resolve(rs, seq, RES_OK, json_null(), id, err);
    } else if (type_is(t, SL_EV_TIMER_CANCELED)) {
        rc = sl__rs_resolve(rs, seq, RES_CANCELED, json_null(), id, err);
    } else if (type_is(t, SL_EV_MARKER)) {
        const char *mname = json_string_value(json_object_get(a, "marker_name"));
        if (mname && strcmp(mname, "version") == 0) {
            sl__rs_set_version(rs, json_string_value(json_object_get(a, "change_id")),
                               (int)json_integer_value(json_object_get(a, "version")));
        } else if ((rc = sl__rs_push_cmd(rs, CMD_SIDE_EFFECT, seq, mname, id, err)) == SL_OK) {
            rc = sl__rs_resolve(rs, seq, RES_OK,
                                incref_or(json_object_get(a, "value"), json_null()), id, err);
        }
    } else if (type_is(t, SL_EV_CHILD_INITIATED)) {
        rc = sl__rs_push_cmd(rs, CMD_CHILD, seq,
                             json_string_value(json_object_get(a, "workflow_type")), id, err);
    } else if (type_is(t, SL_EV_CHILD_COMPLETED)) {
        rc = sl__rs_resolve(rs, seq, RES_OK, incref_or(json_object_get(a, "result"), json_null()),
                            id, err);
    } else if (type_is(t, SL_EV_CHILD_FAILED) || type_is(t, SL_EV_CHILD_START_FAILED) ||
               type_is(t, SL_EV_CHILD_TERMINATED)) {
        rc = sl__rs_resolve(rs, seq, RES_FAILED,
                            failure_of(a), id, err);
    } else if (type_is(t, SL_EV_CHILD_CANCELED)) {
        rc = sl__rs_resolve(rs, seq, RES_CANCELED,
                            failure_of(a), id, err);
    } else if (type_is(t, SL_EV_WF_SIGNALED)) {
        sl__rs_add_signal(rs, json_string_value(json_object_get(a, "signal_name")),
                          incref_or(json_object_get(a, "input"), NULL), id);
    } else if (type_is(t, SL_EV_WF_CANCEL_REQUESTED)) {
        if (!rs->cancel_event_id) {
            rs->cancel_event_id = id;
            rs->cancel_cmds_before = rs->n_cmds;
        }
    } else {
        for (int st = 1; st < (int)(sizeof(status_events) / sizeof(status_events[0])); st++)
            if (status_events[st] && type_is(t, status_events[st]))
                rs->status = st;
    }
    json_decref(a);
    return rc;
}

/* ---- the workflow context ---------------------------------------------------------- */

static void nondet(sl_wf *wf, const char *fmt, ...) SL_PRINTF(2, 3);
const char *sl__wft_cause_name(enum wft_cause c)
{
    switch (c) {
    case WFT_CAUSE_UNKNOWN_TYPE:
        return "unknown_workflow_type";
    case WFT_CAUSE_HISTORY_SIZE_LIMIT:
        return "history_size_limit";
    case WFT_CAUSE_NON_DETERMINISTIC:
    case WFT_CAUSE_NONE:
        break;
    }
    return "non_deterministic";
}

static void nondet(sl_wf *wf, const char *fmt, ...)
{
    if (wf->nondet[0])
        return;
    wf->cause = WFT_CAUSE_NON_DETERMINISTIC;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(wf->nondet, sizeof(wf->nondet), fmt, ap);
    va_end(ap);
}

/* A future is a number in disguise: nothing to allocate or free. Commands are their
 * sequence number; signal waits are a slot index with FUT_SIGNAL set. */
#define FUT_SIGNAL ((uintptr_t)1 << 30)

static sl_future *new_future(sl_wf *wf, int32_t seq)
{
    (void)wf;
    return (sl_future *)(uintptr_t)((uint32_t)seq + 1);
}

static bool future_is_signal(const sl_future *f)
{
    return ((uintptr_t)f & FUT_SIGNAL) != 0;
}

static int32_t future_seq(const sl_future *f)
{
    return (int32_t)(((uintptr_t)f & (FUT_SIGNAL - 1)) - 1);
}

static const char *cmd_kind_event(int kind)
{
    switch (kind) {
    case CMD_ACTIVITY:
        return SL_EV_ACTIVITY_SCHEDULED;
    case CMD_TIMER:
        return SL_EV_TIMER_STARTED;
    case CMD_SIDE_EFFECT:
        return SL_EV_MARKER;
    case CMD_CHILD:
        return SL_EV_CHILD_INITIATED;
    }
    return "?";
}

/* Check a replayed command against history; true when it matches. */
static bool replay_matches(sl_wf *wf, int32_t seq, int kind, const char *name)
{
    const rs_cmd *c = &wf->rs->cmds[seq];
    if (c->kind == kind && (kind == CMD_TIMER || kind == CMD_SIDE_EFFECT))
        return true;
    if (c->kind == kind && name == wf->last_type && c->name == wf->last_name)
        return true;
    if (c->kind == kind && sl_str_eq(c->name, name)) {
        wf->last_type = name;
        wf->last_name = c->name;
        return true;
    }
    char want[160], got[160];
    snprintf(want, sizeof(want), "%s(%s)", cmd_kind_event(c->kind), c->name ? c->name : "");
    snprintf(got, sizeof(got), "%s(%s)", cmd_kind_event(kind), name ? name : "");
    if (!wf->nondet[0]) {
        wf->nd_event_id = c->event_id;
        snprintf(wf->nd_recorded, sizeof(wf->nd_recorded), "%s", want);
        snprintf(wf->nd_requested, sizeof(wf->nd_requested), "%s", got);
    }
    nondet(wf,
           "non-deterministic workflow '%s': at event %lld (seq %d) history has %s but the code "
           "asked for %s",
           wf->rs->type, (long long)c->event_id, seq, want, got);
    return false;
}

static wf_cmd *push_new(sl_wf *wf, int kind, int32_t seq)
{
    if (wf->n_new == wf->cap_new) {
        wf->cap_new = wf->cap_new ? wf->cap_new * 2 : 4;
        wf->new_cmds = sl_xrealloc(wf->new_cmds, (size_t)wf->cap_new * sizeof(*wf->new_cmds));
    }
    wf_cmd *c = &wf->new_cmds[wf->n_new++];
    memset(c, 0, sizeof(*c));
    c->kind = (uint8_t)kind;
    c->seq = seq;
    return c;
}

static sl_future *activity_cmd(sl_wf *wf, const char *type, json_t *input_take,
                               const sl_activity_opts *opts, bool *is_new)
{
    int32_t seq = wf->cmd_count++;
    *is_new = false;
    if (seq < wf->rs->n_cmds) {
        replay_matches(wf, seq, CMD_ACTIVITY, type);
        json_decref(input_take);
        return new_future(wf, seq);
    }
    wf_cmd *c = push_new(wf, CMD_ACTIVITY, seq);
    c->name = sl_xstrdup(type);
    c->input = input_take ? input_take : json_null();
    if (opts) {
        c->opts = *opts;
    } else {
        sl_activity_opts_init(&c->opts);
    }
    *is_new = true;
    return new_future(wf, seq);
}

sl_future *sl_activity(sl_wf *wf, const char *type, json_t *input_take,
                       const sl_activity_opts *opts)
{
    bool is_new;
    return activity_cmd(wf, type, input_take, opts, &is_new);
}

sl_future *sl_activityf(sl_wf *wf, const char *type, const sl_activity_opts *opts,
                        const char *fmt, ...)
{
    bool is_new;
    sl_future *f = activity_cmd(wf, type, NULL, opts, &is_new);
    if (is_new) {
        va_list ap;
        va_start(ap, fmt);
        json_error_t je;
        json_t *in = json_vpack_ex(&je, 0, fmt, ap);
        va_end(ap);
        if (!in) {
            sl_wf_fail(wf, "WorkflowError", "activity %s input: %s", type, je.text);
            in = json_null();
        }
        json_decref(wf->new_cmds[wf->n_new - 1].input);
        wf->new_cmds[wf->n_new - 1].input = in;
    }
    return f;
}

sl_future *sl_wf_timer(sl_wf *wf, int64_t ms)
{
    int32_t seq = wf->cmd_count++;
    if (seq < wf->rs->n_cmds) {
        replay_matches(wf, seq, CMD_TIMER, NULL);
        return new_future(wf, seq);
    }
    wf_cmd *c = push_new(wf, CMD_TIMER, seq);
    c->timer_ms = ms < 0 ? 0 : ms;
    return new_future(wf, seq);
}

void sl_wf_timer_cancel(sl_wf *wf, sl_future *timer)
{
    if (!timer || future_is_signal(timer))
        return;
    int32_t seq = future_seq(timer);
    /* Already resolved in history (fired or canceled): nothing to do. A timer created in
     * this very task, or one still pending, gets a TimerCanceled. */
    if (seq < wf->rs->n_cmds && wf->rs->cmds[seq].res != RES_PENDING)
        return;
    for (int32_t i = 0; i < wf->n_new; i++)
        if (wf->new_cmds[i].kind == P_CANCEL_TIMER && wf->new_cmds[i].seq == seq)
            return;
    bool is_timer = seq < wf->rs->n_cmds ? wf->rs->cmds[seq].kind == CMD_TIMER : false;
    for (int32_t i = 0; i < wf->n_new && !is_timer; i++)
        is_timer = wf->new_cmds[i].kind == CMD_TIMER && wf->new_cmds[i].seq == seq;
    if (!is_timer)
        return;
    wf_cmd *c = push_new(wf, P_CANCEL_TIMER, seq);
    (void)c;
}

/* The recorded outcome of seq if visible now, else NULL. */
static const rs_cmd *visible_outcome(const sl_wf *wf, int32_t seq)
{
    if (seq < 0 || seq >= wf->rs->n_cmds)
        return NULL;
    const rs_cmd *c = &wf->rs->cmds[seq];
    if (c->res == RES_PENDING || c->res_cmds_before > wf->cmd_count)
        return NULL;
    return c;
}

/* ---- signals ---------------------------------------------------------------------- */

static int *consumed_of(sl_wf *wf, const char *name)
{
    for (int i = 0; i < wf->n_sig_consumed; i++)
        if (strcmp(wf->sig_consumed[i].name, name) == 0)
            return &wf->sig_consumed[i].consumed;
    if (wf->n_sig_consumed == (int)(sizeof(wf->sig_consumed) / sizeof(wf->sig_consumed[0])))
        return NULL;
    wf->sig_consumed[wf->n_sig_consumed].name = name;
    wf->sig_consumed[wf->n_sig_consumed].consumed = 0;
    return &wf->sig_consumed[wf->n_sig_consumed++].consumed;
}

/* Index in rs->signals of the k-th signal named `name` visible now, or -1. */
static int visible_signal(const sl_wf *wf, const char *name, int k)
{
    const run_state *rs = wf->rs;
    for (int i = 0; i < rs->n_signals; i++) {
        const rs_signal *g = &rs->signals[i];
        if (g->cmds_before > wf->cmd_count)
            break; /* later signals are not visible either */
        if (strcmp(g->name, name) == 0 && k-- == 0)
            return i;
    }
    return -1;
}

sl_future *sl_wf_signal(sl_wf *wf, const char *name, int64_t timeout_ms)
{
    int32_t timer_seq = -1;
    if (timeout_ms > 0)
        timer_seq = future_seq(sl_wf_timer(wf, timeout_ms));
    if (wf->n_slots == wf->cap_slots) {
        wf->cap_slots = wf->cap_slots ? wf->cap_slots * 2 : 4;
        wf->slots = sl_xrealloc(wf->slots, (size_t)wf->cap_slots * sizeof(*wf->slots));
    }
    sig_slot *slot = &wf->slots[wf->n_slots];
    memset(slot, 0, sizeof(*slot));
    slot->name = name;
    slot->timer_seq = timer_seq;
    slot->sig_index = -1;
    return (sl_future *)(FUT_SIGNAL | (uintptr_t)(++wf->n_slots));
}

/* Try to complete a signal wait; true when it is done (received or timed out). */
static bool signal_ready(sl_wf *wf, sig_slot *slot)
{
    if (slot->done)
        return true;
    int *consumed = consumed_of(wf, slot->name);
    if (!consumed)
        return false;
    int idx = visible_signal(wf, slot->name, *consumed);
    const rs_cmd *t = slot->timer_seq >= 0 ? visible_outcome(wf, slot->timer_seq) : NULL;
    if (t && t->res != RES_OK)
        t = NULL; /* a canceled timer is no timeout */
    if (idx >= 0 && (!t || wf->rs->signals[idx].event_id < t->res_event_id)) {
        (*consumed)++;
        slot->done = true;
        slot->sig_index = idx;
        if (slot->timer_seq >= 0)
            sl_wf_timer_cancel(wf, new_future(wf, slot->timer_seq));
        return true;
    }
    if (t) {
        slot->done = true;
        slot->timed_out = true;
        return true;
    }
    return false;
}

/* ---- awaiting ------------------------------------------------------------------------ */

static bool cancel_visible(const sl_wf *wf)
{
    return wf->rs->cancel_event_id && wf->rs->cancel_cmds_before <= wf->cmd_count;
}

bool sl_wf_cancel_requested(sl_wf *wf)
{
    if (!cancel_visible(wf))
        return false;
    wf->cancel_handled = true;
    return true;
}

void sl_wf_handle_cancel(sl_wf *wf)
{
    wf->cancel_handled = true;
}

bool sl_future_is_ready(sl_wf *wf, const sl_future *f)
{
    if (!f)
        return false;
    if (future_is_signal(f)) {
        int32_t i = future_seq(f);
        return i >= 0 && i < wf->n_slots && signal_ready(wf, &wf->slots[i]);
    }
    return visible_outcome(wf, future_seq(f)) != NULL;
}

static json_t *command_failure(const rs_cmd *c)
{
    const json_t *cause = c->value;
    const char *type = json_string_value(json_object_get(cause, "type"));
    const char *msg = json_string_value(json_object_get(cause, "message"));
    if (c->kind == CMD_TIMER)
        return sl_json_check(
            json_pack("{s:s,s:s}", "type", "CanceledError", "message", "timer canceled"));
    const char *what = c->kind == CMD_CHILD ? "child workflow" : "activity";
    json_t *f = sl_json_check(json_pack("{s:s,s:s,s:s,s:O?}", "type",
                                        type ? type
                                        : c->res == RES_CANCELED ? "CanceledError"
                                                                 : "ActivityError",
                                        "message", "", c->kind == CMD_CHILD ? "workflow_type"
                                                                            : "activity_type",
                                        c->name ? c->name : "", "cause", cause));
    json_t *attempt = json_object_get(cause, "attempt");
    const char *state = json_string_value(json_object_get(cause, "retry_state"));
    char *m;
    if (attempt && json_integer_value(attempt) > 1)
        m = sl_xasprintf("%s %s failed after %lld attempts (%s): %s", what, c->name ? c->name : "?",
                         json_integer_value(attempt), state ? state : "", msg ? msg : "");
    else
        m = sl_xasprintf("%s %s failed: %s", what, c->name ? c->name : "?", msg ? msg : "");
    json_object_set_new(f, "message", json_string(m));
    free(m);
    return f;
}

sl_wf_status sl_wf_await_try(sl_wf *wf, sl_future *f, const json_t **out, const json_t **failure)
{
    if (out)
        *out = NULL;
    if (failure)
        *failure = NULL;
    if (!f)
        return SL_WF_BLOCKED;
    if (future_is_signal(f)) {
        int32_t i = future_seq(f);
        if (i < 0 || i >= wf->n_slots)
            return SL_WF_BLOCKED;
        sig_slot *slot = &wf->slots[i];
        if (!signal_ready(wf, slot))
            return !wf->cancel_handled && cancel_visible(wf) ? SL_WF_CANCELED : SL_WF_BLOCKED;
        if (slot->timed_out) {
            if (failure)
                *failure = sl_wf_keep(wf, sl_json_check(json_pack(
                                              "{s:s,s:s}", "type", "SignalTimeout", "message",
                                              "")));
            json_t *fj = (json_t *)(failure ? *failure : NULL);
            if (fj) {
                char *m = sl_xasprintf("no signal '%s' arrived in time", slot->name);
                json_object_set_new(fj, "message", json_string(m));
                free(m);
            }
            return SL_WF_DONE;
        }
        const json_t *p = wf->rs->signals[slot->sig_index].payload;
        if (out)
            *out = json_is_null(p) ? NULL : p;
        return SL_WF_DONE;
    }
    const rs_cmd *c = visible_outcome(wf, future_seq(f));
    if (!c)
        return !wf->cancel_handled && cancel_visible(wf) ? SL_WF_CANCELED : SL_WF_BLOCKED;
    if (c->res == RES_OK) {
        if (out)
            *out = json_is_null(c->value) ? NULL : c->value;
        return SL_WF_DONE;
    }
    if (failure)
        *failure = sl_wf_keep(wf, command_failure(c));
    return SL_WF_DONE;
}

sl_wf_status sl_wf_await(sl_wf *wf, sl_future *f, const json_t **out)
{
    const json_t *failure = NULL;
    sl_wf_status s = sl_wf_await_try(wf, f, out, &failure);
    if (s == SL_WF_DONE && failure)
        return sl_wf_fail_with(wf, failure);
    return s;
}

/* ---- children, side effects, versions, continue-as-new -------------------------------- */

sl_future *sl_wf_child(sl_wf *wf, const char *type, json_t *input_take, const sl_child_opts *o)
{
    int32_t seq = wf->cmd_count++;
    if (seq < wf->rs->n_cmds) {
        replay_matches(wf, seq, CMD_CHILD, type);
        json_decref(input_take);
        return new_future(wf, seq);
    }
    wf_cmd *c = push_new(wf, CMD_CHILD, seq);
    c->name = sl_xstrdup(type);
    c->input = input_take ? input_take : json_null();
    c->child_id = o && o->workflow_id ? sl_xstrdup(o->workflow_id)
                                      : sl_xasprintf("%s-child-%d", wf->rs->workflow_id, seq);
    c->child_queue = o && o->task_queue ? sl_xstrdup(o->task_queue) : NULL;
    c->child_policy = o ? (int)o->parent_close_policy : PCP_TERMINATE;
    return new_future(wf, seq);
}

const json_t *sl_wf_side_effect(sl_wf *wf, sl_side_effect_fn fn, void *arg)
{
    int32_t seq = wf->cmd_count++;
    if (seq < wf->rs->n_cmds) {
        if (!replay_matches(wf, seq, CMD_SIDE_EFFECT, NULL))
            return NULL;
        const json_t *v = wf->rs->cmds[seq].value;
        return json_is_null(v) ? NULL : v;
    }
    wf_cmd *c = push_new(wf, CMD_SIDE_EFFECT, seq);
    json_t *v = fn ? fn(arg) : NULL;
    c->input = v ? v : json_null();
    return v;
}

int sl_wf_version(sl_wf *wf, const char *change_id, int min_supported, int max_supported)
{
    int v = SL_WF_DEFAULT_VERSION;
    bool found = false;
    for (int i = 0; i < wf->rs->n_versions && !found; i++)
        if (strcmp(wf->rs->versions[i].change_id, change_id) == 0) {
            v = wf->rs->versions[i].version;
            found = true;
        }
    for (int32_t i = 0; i < wf->n_new && !found; i++)
        if (wf->new_cmds[i].kind == P_VERSION && strcmp(wf->new_cmds[i].name, change_id) == 0) {
            v = wf->new_cmds[i].version;
            found = true;
        }
    if (!found && !sl_wf_is_replaying(wf)) {
        wf_cmd *c = push_new(wf, P_VERSION, -1);
        c->name = sl_xstrdup(change_id);
        c->version = max_supported;
        return max_supported;
    }
    if ((v < min_supported || v > max_supported) && !wf->nondet[0]) {
        snprintf(wf->nd_recorded, sizeof(wf->nd_recorded), "version %d of change '%s'", v,
                 change_id);
        snprintf(wf->nd_requested, sizeof(wf->nd_requested), "versions %d..%d", min_supported,
                 max_supported);
    }
    if (v < min_supported || v > max_supported)
        nondet(wf,
               "non-deterministic workflow '%s': change '%s' is at version %d in history but the "
               "code supports %d..%d",
               wf->rs->type, change_id, v, min_supported, max_supported);
    return v;
}

sl_wf_status sl_wf_continue_as_new(sl_wf *wf, json_t *input_take)
{
    json_decref(wf->continue_input);
    wf->continue_input = input_take ? input_take : json_null();
    return SL_WF_CONTINUE_AS_NEW;
}

sl_wf_status sl_wf_fail(sl_wf *wf, const char *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = sl_xvasprintf(fmt, ap);
    va_end(ap);
    json_decref(wf->failure);
    wf->failure = sl_json_check(json_pack("{s:s,s:s}", "type", type, "message", msg));
    free(msg);
    return SL_WF_FAILED;
}

sl_wf_status sl_wf_fail_with(sl_wf *wf, const json_t *failure)
{
    json_decref(wf->failure);
    wf->failure = json_deep_copy(failure);
    if (!wf->failure)
        wf->failure = sl_json_check(json_pack("{s:s,s:s}", "type", "WorkflowError", "message",
                                              "workflow failed"));
    return SL_WF_FAILED;
}

int64_t sl_wf_now(sl_wf *wf)
{
    int32_t k = wf->cmd_count;
    return k < wf->rs->n_cmds ? wf->rs->cmds[k].time_before : wf->rs->last_event_ms;
}

uint64_t sl_wf_random(sl_wf *wf)
{
    /* splitmix64: the sequence restarts at every replay from the run id seed. */
    uint64_t z = (wf->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void sl_wf_uuid(sl_wf *wf, char out[37])
{
    uint64_t hi = sl_wf_random(wf), lo = sl_wf_random(wf);
    hi = (hi & ~0xF000ULL) | 0x4000ULL;                     /* version 4 */
    lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL; /* variant */
    snprintf(out, 37, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(hi >> 32),
             (unsigned)((hi >> 16) & 0xFFFF), (unsigned)(hi & 0xFFFF), (unsigned)(lo >> 48),
             (unsigned long long)(lo & 0xFFFFFFFFFFFFULL));
    wf->uuid_counter++;
}

const char *sl_wf_id(const sl_wf *wf)
{
    return wf->rs->workflow_id;
}

const char *sl_wf_run_id(const sl_wf *wf)
{
    return wf->rs->run_id;
}

const char *sl_wf_type(const sl_wf *wf)
{
    return wf->rs->type;
}

const char *sl_wf_task_queue(const sl_wf *wf)
{
    return wf->rs->queue;
}

int sl_wf_attempt(const sl_wf *wf)
{
    return wf->rs->attempt;
}

bool sl_wf_is_replaying(const sl_wf *wf)
{
    return wf->cmd_count < wf->rs->n_cmds;
}

int64_t sl_wf_history_length(const sl_wf *wf)
{
    return wf->rs->next_event_id - 1;
}

int64_t sl_wf_history_bytes(const sl_wf *wf)
{
    return wf->rs->history_bytes;
}

const json_t *sl_wf_keep(sl_wf *wf, json_t *take)
{
    if (!take)
        return NULL;
    if (wf->n_kept == wf->cap_kept) {
        wf->cap_kept = wf->cap_kept ? wf->cap_kept * 2 : 8;
        wf->kept = sl_xrealloc(wf->kept, wf->cap_kept * sizeof(*wf->kept));
    }
    wf->kept[wf->n_kept++] = take;
    return take;
}

void sl__wf_cleanup(sl_wf *wf)
{
    for (int32_t i = 0; i < wf->n_new; i++) {
        free(wf->new_cmds[i].name);
        json_decref(wf->new_cmds[i].input);
        free(wf->new_cmds[i].child_id);
        free(wf->new_cmds[i].child_queue);
    }
    free(wf->slots);
    json_decref(wf->continue_input);
    free(wf->new_cmds);
    for (size_t i = 0; i < wf->n_kept; i++)
        json_decref(wf->kept[i]);
    free(wf->kept);
    json_decref(wf->failure);
    memset(wf, 0, sizeof(*wf));
}

static uint64_t seed_of(const char *s)
{
    return sl_fnv1a(SL_FNV1A_INIT, s, strlen(s));
}

wft_outcome sl__wf_execute(sl_engine *e, run_state *rs, sl_wf *wf, json_t **result)
{
    memset(wf, 0, sizeof(*wf));
    wf->e = e;
    wf->rs = rs;
    wf->rng = seed_of(rs->run_id);
    *result = NULL;
    sl_workflow_fn fn = sl_registry_workflow(e->reg, rs->type);
    if (!fn) {
        wf->cause = WFT_CAUSE_UNKNOWN_TYPE;
        snprintf(wf->nondet, sizeof(wf->nondet),
                 "unknown workflow type '%s': no worker code registered for it (known: %s)",
                 rs->type, sl_registry_workflow_names(e->reg));
        return WFT_TASK_FAILED;
    }
    json_t *out = NULL;
    sl_wf_status st = fn(wf, rs->input, &out);
    if (!wf->nondet[0] && st != SL_WF_BLOCKED && wf->cmd_count < rs->n_cmds) {
        const rs_cmd *c = &rs->cmds[wf->cmd_count];
        wf->nd_event_id = c->event_id;
        snprintf(wf->nd_recorded, sizeof(wf->nd_recorded), "%s(%s)", cmd_kind_event(c->kind),
                 c->name ? c->name : "");
        snprintf(wf->nd_requested, sizeof(wf->nd_requested), "no command (the workflow %s)",
                 st == SL_WF_DONE ? "completed" : "ended");
        nondet(wf,
               "non-deterministic workflow '%s': at event %lld (seq %d) history has %s(%s) but "
               "the code %s without asking for it",
               rs->type, (long long)c->event_id, wf->cmd_count, cmd_kind_event(c->kind),
               c->name ? c->name : "", st == SL_WF_DONE ? "completed" : "ended");
    }
    if (wf->nondet[0]) {
        json_decref(out);
        return WFT_TASK_FAILED;
    }
    switch (st) {
    case SL_WF_DONE:
        *result = out ? out : json_null();
        return WFT_COMPLETED;
    case SL_WF_CANCELED:
        json_decref(out);
        return WFT_CANCELED;
    case SL_WF_CONTINUE_AS_NEW:
        json_decref(out);
        if (!wf->continue_input)
            wf->continue_input = json_incref(rs->input);
        return WFT_CONTINUE_AS_NEW;
    case SL_WF_FAILED:
        json_decref(out);
        if (!wf->failure)
            sl_wf_fail(wf, "WorkflowError", "workflow returned failure without a reason");
        return WFT_FAILED;
    case SL_WF_BLOCKED:
    default:
        json_decref(out);
        return WFT_BLOCKED;
    }
}
