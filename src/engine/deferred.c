/*
 * deferred.c - work that follows a change on *other* runs: starting the next run of a retry
 * chain or continue-as-new and the children a workflow task started, telling a parent that its
 * child closed, applying the parent-close policy to a closed run's children. Queued behind
 * the change (writer.deferred_head) and drained in the same transaction after each call, so
 * it commits or rolls back with it.
 *
 * Threads: the engine thread (or a direct engine's caller), inside the transaction.
 */
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "ops_int.h"

void sl__new_run_free(new_run *nr)
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
    sl__new_run_free(d->nr);
    free(d->run_id);
    free(d->workflow_id);
    free(d->parent_run_id);
    free(d->result);
    free(d->failure);
    free(d);
}

void sl__defer(sl_engine *e, struct deferred *d)
{
    d->next = NULL;
    if (e->writer.deferred_tail)
        e->writer.deferred_tail->next = d;
    else
        e->writer.deferred_head = d;
    e->writer.deferred_tail = d;
}

void sl__defer_start(sl_engine *e, new_run *nr)
{
    struct deferred *d = sl_xcalloc(1, sizeof(*d));
    d->kind = D_START_RUN;
    d->nr = nr;
    sl__defer(e, d);
}

void sl__defer_close_followups(sl_engine *e, const run_state *rs, int status, const char *result,
                               const char *failure)
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
        sl__defer(e, d);
    }
    bool has_child = false;
    for (int32_t i = 0; i < rs->n_cmds && !has_child; i++)
        has_child = rs->cmds[i].kind == CMD_CHILD;
    if (has_child) {
        struct deferred *d = sl_xcalloc(1, sizeof(*d));
        d->kind = D_CLOSE_CHILDREN;
        d->run_id = sl_xstrdup(rs->run_id);
        sl__defer(e, d);
    }
}

struct deferred *sl__deferred_mark(sl_engine *e)
{
    return e->writer.deferred_tail;
}

void sl__deferred_truncate(sl_engine *e, struct deferred *mark)
{
    struct deferred *d = mark ? mark->next : e->writer.deferred_head;
    if (mark)
        mark->next = NULL;
    else
        e->writer.deferred_head = NULL;
    e->writer.deferred_tail = mark;
    while (d) {
        struct deferred *n = d->next;
        deferred_free(d);
        d = n;
    }
}

bool sl__deferred_starts(const sl_engine *e, const char *workflow_id)
{
    for (const struct deferred *d = e->writer.deferred_head; d; d = d->next)
        if (d->kind == D_START_RUN && strcmp(d->nr->workflow_id, workflow_id) == 0)
            return true;
    return false;
}

void sl__engine_clear_deferred(sl_engine *e)
{
    while (e->writer.deferred_head) {
        struct deferred *d = e->writer.deferred_head;
        e->writer.deferred_head = d->next;
        deferred_free(d);
    }
    e->writer.deferred_tail = NULL;
}

/* ---- draining it ----------------------------------------------------------------------- */

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
        failure = sl_json_check(
            json_pack("{s:s,s:s}", "type",
                      d->status == SL_RUN_CANCELED ? "CanceledError" : "ChildWorkflowFailure",
                      "message", sl_run_status_name(d->status)));
    json_t *attrs = sl_json_check(json_pack("{s:i,s:s,s:s}", "seq", d->parent_seq, "workflow_id",
                                            d->workflow_id, "run_id", d->run_id));
    if (d->status == SL_RUN_COMPLETED)
        json_object_set(attrs, "result", result ? result : json_null());
    else
        json_object_set(attrs, "failure", failure);
    char *text = sl__dumps_take(attrs);
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
    rc = sl__run_op(e, &a, err);
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
    c->policies[c->n] =
        sl__policy_parse(json_string_value(json_object_get(o, "parent_close_policy")));
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
    while (e->writer.deferred_head && rc == SL_OK) {
        struct deferred *d = e->writer.deferred_head;
        e->writer.deferred_head = d->next;
        if (!e->writer.deferred_head)
            e->writer.deferred_tail = NULL;
        switch (d->kind) {
        case D_START_RUN:
            rc = sl__start_run(e, d->nr, err);
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
