/*
 * actions.c - operator actions on the open run of a workflow id: signal, cancel, terminate,
 * and retry from the failed step (a new run carrying over the steps that succeeded).
 *
 * Threads: the engine thread (or a direct engine's caller), inside the transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "ops_int.h"

/* The open run of workflow_id, fresh from the database, pinned; or an error naming it. */
static run_state *open_run(sl_engine *e, const char *workflow_id, int *closed_status, sl_err *err,
                           sl_code *rc)
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
        sl__cache_pin(rs);
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
        struct deferred *mark = sl__deferred_mark(e);
        change ch;
        sl__change_init(&ch, rs);
        rc = build(e, rs, &ch, arg, err);
        if (rc == SL_OK)
            rc = sl__change_commit(e, &ch, err);
        bool closed = ch.close;
        sl__change_free(&ch);
        sl__cache_unpin(rs);
        if (rc == SL_ESTALE) {
            sl__cache_evict(e, rs->run_pk);
            sl__deferred_truncate(e, mark);
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
    sl__rs_add_signal(rs, a->name, json_incref(input), sl__change_next_id(ch));
    sl__change_event(ch, SL_EV_WF_SIGNALED, now,
                     sl__dumps_take(sl_json_check(
                         json_pack("{s:s,s:o}", "signal_name", a->name, "input", input))));
    sl__wft_schedule(e, rs, ch, now);
    return SL_OK;
}

sl_code sl__op_signal(sl_engine *e, const char *workflow_id, const char *name, const json_t *input,
                      sl_err *err)
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
    rs->cancel_event_id = sl__change_next_id(ch);
    rs->cancel_cmds_before = rs->n_cmds;
    sl__change_event(
        ch, SL_EV_WF_CANCEL_REQUESTED, now,
        sl__dumps_take(sl_json_check(json_pack("{s:s,s:s}", "reason", a->reason ? a->reason : "",
                                               "identity", a->identity))));
    ch->cancel_activities = true;
    sl__wft_schedule(e, rs, ch, now);
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
    sl__emit_close_pending(rs, ch, now);
    json_t *failure = sl_json_check(
        json_pack("{s:s,s:s}", "type", "Terminated", "message", a->reason ? a->reason : ""));
    sl__change_close(ch, SL_RUN_TERMINATED, NULL, sl_json_dumps(failure));
    json_decref(failure);
    sl__change_event(
        ch, SL_EV_WF_TERMINATED, now,
        sl__dumps_take(sl_json_check(json_pack("{s:s,s:s}", "reason", a->reason ? a->reason : "",
                                               "identity", a->identity))));
    return SL_OK;
}

sl_code sl__op_terminate(sl_engine *e, const char *workflow_id, const char *reason, bool *already,
                         sl_err *err)
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
    json_t *events; /* the old run's events, in order */
};

static bool collect_cb(const sl_event_row *ev, void *arg)
{
    struct carry_ctx *c = arg;
    json_error_t je;
    json_t *a = json_loadb(ev->attrs, ev->attrs_len, 0, &je);
    json_array_append_new(
        c->events, sl_json_check(json_pack("{s:I,s:s,s:o}", "event_id", (json_int_t)ev->event_id,
                                           "type", ev->type, "attributes", a ? a : json_object())));
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
        json_array_append_new(carry,
                              sl_json_check(json_pack("{s:s,s:o}", "type", t, "attributes", copy)));
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
    new_run *nr = sl__next_run_of(&tmp, NULL);
    nr->attempt = 1;
    json_t *ids;
    nr->carry = carry_prefix(c.events, r.run_id, &ids);
    nr->started_extra = sl_json_check(json_pack("{s:s,s:s,s:s,s:o}", "continued_from_run_id",
                                                r.run_id, "initiator", "retry", "reason",
                                                reason ? reason : "", "carried_over_events", ids));
    rc = sl__start_run(e, nr, err);
    if (rc == SL_OK) {
        snprintf(res->workflow_id, sizeof(res->workflow_id), "%s", workflow_id);
        memcpy(res->run_id, nr->run_id, sizeof(res->run_id));
    }
    sl__new_run_free(nr);
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
