/*
 * runs.c - new runs: filling a cached run from its row, inserting a run with its Started
 * event (and the events a retry carries over), and the client's start.
 *
 * Threads: the engine thread (or a direct engine's caller), inside the transaction.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "ops_int.h"

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
        sl__policy_parse(json_string_value(json_object_get(o, "parent_close_policy")));
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

sl_code sl_engine_name_check(const char *what, const char *name, sl_err *err)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0)
        return sl_err_set(err, SL_EINVAL, "empty %s", what);
    if (n > SL_WORKFLOW_ID_MAX)
        return sl_err_set(err, SL_EINVAL, "%s longer than %d bytes", what, SL_WORKFLOW_ID_MAX);
    for (const char *s = name; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return sl_err_set(err, SL_EINVAL, "%s has a control character (byte %zu)", what,
                              (size_t)(s - name) + 1);
    if (isspace((unsigned char)name[0]) || isspace((unsigned char)name[n - 1]))
        return sl_err_set(err, SL_EINVAL, "%s starts or ends with a space", what);
    return SL_OK;
}

/* Insert a new run (its id must have no open run) with its Started event, carried-over
 * events, and either its first workflow task inline or a task row. */
sl_code sl__start_run(sl_engine *e, new_run *nr, sl_err *err)
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
                            json_string(sl__policy_name(nr->parent_close_policy)));
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
    sl__change_init(&ch, rs);
    ch.new_run = &row;
    json_t *attrs = sl_json_check(json_pack("{s:s,s:s,s:s,s:O,s:i}", "workflow_type", rs->type,
                                            "workflow_id", rs->workflow_id, "task_queue", rs->queue,
                                            "input", rs->input, "attempt", rs->attempt));
    if (nr->retry)
        json_object_set(attrs, "retry_policy", nr->retry);
    if (nr->first_run_id)
        json_object_set_new(attrs, "first_run_id", json_string(nr->first_run_id));
    if (nr->started_extra)
        json_object_update(attrs, nr->started_extra);
    sl__change_event(&ch, SL_EV_WF_STARTED, now, sl__dumps_take(attrs));

    /* Carry over recorded outcomes (retry from the failed step). */
    sl_code rc = SL_OK;
    size_t i;
    json_t *ev;
    json_array_foreach(nr->carry, i, ev)
    {
        const char *type = event_type_const(json_string_value(json_object_get(ev, "type")));
        char *text = sl_json_dumps(json_object_get(ev, "attributes"));
        sl_event_row row_ev = {.event_id = sl__change_next_id(&ch),
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
        sl__change_event(&ch, type, now, text);
    }
    if (rc == SL_OK) {
        if (nr->visible_at > now) {
            ch.ensure_wft = true;
            ch.wft_visible_at = nr->visible_at;
        } else {
            sl__wft_schedule(e, rs, &ch, now);
        }
        rc = sl__change_commit(e, &ch, err);
    }
    sl__change_free(&ch);
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

sl_code sl__op_start_at(sl_engine *e, const char *type, const json_t *input, const sl_start_opts *o,
                        int64_t visible_at, sl_start_result *res, sl_err *err)
{
    memset(res, 0, sizeof(*res));
    if (!type || !sl_registry_workflow(e->reg, type))
        return sl_err_set(err, SL_EINVAL, "unknown workflow type '%s' (known: %s)",
                          type ? type : "", sl_registry_workflow_names(e->reg));
    const char *queue = o && o->task_queue ? o->task_queue : "default";
    sl_code vrc = sl_engine_name_check("task queue name", queue, err);
    if (vrc != SL_OK)
        return vrc;
    char gen_id[SL_WORKFLOW_ID_MAX + 1];
    const char *wid = o ? o->workflow_id : NULL;
    if (wid) {
        if ((vrc = sl_engine_name_check("workflow id", wid, err)) != SL_OK)
            return vrc;
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
    sl_code rc = sl__start_run(e, nr, err);
    if (rc == SL_OK) {
        snprintf(res->workflow_id, sizeof(res->workflow_id), "%s", wid);
        memcpy(res->run_id, nr->run_id, sizeof(res->run_id));
    }
    sl__new_run_free(nr);
    return rc;
}
