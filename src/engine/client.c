/*
 * client.c - client calls: starting workflows, operator actions and store work for other
 * subsystems, each run as an engine call (sl__engine_call); and reads of runs and histories
 * as JSON through e->reader, the read connection this file owns.
 * Threads: any thread; reads serialise on reader.mu (writer.direct_mu without an engine
 * thread), writes go through the engine thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

/* ---- start ------------------------------------------------------------------------------ */

struct start_call {
    char *type;
    json_t *input;
    char *workflow_id;
    char *task_queue;
    sl_retry_policy retry;
    bool has_retry;
    sl_start_result res;
    sl_start_cb cb;
    void *cb_arg;
};

static sl_code start_fn(sl_engine *e, void *arg, sl_err *err)
{
    struct start_call *c = arg;
    sl_start_opts o = {.workflow_id = c->workflow_id,
                       .task_queue = c->task_queue,
                       .retry = c->has_retry ? &c->retry : NULL};
    return sl__op_start(e, c->type, c->input, &o, &c->res, err);
}

static struct start_call *start_call_new(const char *type, json_t *input_take,
                                         const sl_start_opts *o)
{
    struct start_call *c = sl_xcalloc(1, sizeof(*c));
    c->type = sl_xstrdup(type ? type : "");
    c->input = input_take;
    if (o && o->workflow_id)
        c->workflow_id = sl_xstrdup(o->workflow_id);
    if (o && o->task_queue)
        c->task_queue = sl_xstrdup(o->task_queue);
    if (o && o->retry) {
        c->retry = *o->retry;
        c->has_retry = true;
    }
    return c;
}

static void start_call_free(struct start_call *c)
{
    free(c->type);
    json_decref(c->input);
    free(c->workflow_id);
    free(c->task_queue);
    free(c);
}

sl_code sl_engine_start(sl_engine *e, const char *type, const json_t *input,
                        const sl_start_opts *o, sl_start_result *res, sl_err *err)
{
    struct start_call *c = start_call_new(type, input ? json_incref((json_t *)input) : NULL, o);
    /* a start fails (bad type or id) before it writes */
    sl_code rc = sl__engine_call(e, start_fn, c, SL__CALL_NO_SAVEPOINT, err);
    if (rc == SL_OK)
        *res = c->res;
    start_call_free(c);
    return rc;
}

static void start_async_done(sl_engine *e, void *arg, sl_code rc)
{
    (void)e;
    struct start_call *c = arg;
    if (c->cb)
        c->cb(c->cb_arg, rc, &c->res);
    start_call_free(c);
}

void sl_engine_start_async(sl_engine *e, const char *type, json_t *input_take,
                           const sl_start_opts *o, sl_start_cb cb, void *arg)
{
    struct start_call *c = start_call_new(type, input_take, o);
    c->cb = cb;
    c->cb_arg = arg;
    sl__engine_call_async(e, start_fn, c, SL__CALL_NO_SAVEPOINT, start_async_done);
}

/* ---- reads ------------------------------------------------------------------------------ */

/* A connection for reads: the engine thread owns e->st, so threaded engines read through a
 * second connection. */
sl_code sl__reader_get(sl_engine *e, sl_store **out, sl_err *err)
{
    if (!e->threaded) {
        pthread_mutex_lock(&e->writer.direct_mu);
        *out = e->st;
        return SL_OK;
    }
    pthread_mutex_lock(&e->reader.mu);
    if (!e->reader.rd) {
        sl_store_opts so;
        sl_store_opts_init(&so);
        so.path = sl_store_path(e->st);
        sl_code rc = sl_store_open(&so, &e->reader.rd, err);
        if (rc != SL_OK) {
            pthread_mutex_unlock(&e->reader.mu);
            *out = NULL;
            return rc;
        }
    }
    *out = e->reader.rd;
    return SL_OK;
}

void sl__reader_done(sl_engine *e)
{
    pthread_mutex_unlock(e->threaded ? &e->reader.mu : &e->writer.direct_mu);
}

static json_t *json_text(const char *text)
{
    if (!text)
        return json_null();
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    return j ? j : json_string(text);
}

static json_t *time_json(int64_t ms)
{
    char buf[40];
    return ms ? json_string(sl_time_format(ms, buf, sizeof(buf))) : json_null();
}

static json_t *run_summary(const sl_run_row *r)
{
    return sl_json_check(json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:I,s:i}", "workflow_id", r->workflow_id, "run_id",
        r->run_id, "type", r->type, "task_queue", r->task_queue, "status",
        sl_run_status_name(r->status), "start_time", time_json(r->start_ms), "close_time",
        time_json(r->close_ms), "history_length", (json_int_t)(r->next_event_id - 1), "attempt",
        r->attempt));
}

static void pending_cb(const sl_act_task_row *t, void *arg)
{
    json_t *arr = arg;
    int64_t now = sl_now_ms();
    const char *state = t->lease_owner ? "started" : t->visible_at > now ? "backoff" : "scheduled";
    json_t *p = sl_json_check(json_pack("{s:s,s:i,s:i,s:s,s:o}", "activity_type",
                                        t->activity_type, "seq", t->seq, "attempt", t->attempt,
                                        "state", state, "scheduled_time",
                                        time_json(t->scheduled_ms)));
    if (t->last_failure)
        json_object_set_new(p, "last_failure", json_text(t->last_failure));
    if (!t->lease_owner)
        json_object_set_new(p, "next_attempt_time", time_json(t->visible_at));
    else
        json_object_set_new(p, "worker", json_string(t->lease_owner));
    if (t->heartbeat_details)
        json_object_set_new(p, "heartbeat_details", json_text(t->heartbeat_details));
    json_array_append_new(arr, p);
}

static void chain_cb(const sl_run_row *r, void *arg)
{
    json_array_append_new((json_t *)arg,
                          sl_json_check(json_pack("{s:s,s:s,s:i,s:o,s:o}", "run_id", r->run_id,
                                                  "status", sl_run_status_name(r->status),
                                                  "attempt", r->attempt, "start_time",
                                                  time_json(r->start_ms), "close_time",
                                                  time_json(r->close_ms))));
}

static sl_code find_run(sl_store *st, const char *workflow_id, const char *run_id, sl_run_row *r,
                        sl_err *err)
{
    sl_code rc = sl_store_run_find(st, workflow_id, run_id, r, err);
    if (rc == SL_ENOTFOUND) {
        if (run_id)
            return sl_err_set(err, SL_ENOTFOUND, "no run %s of workflow '%s'", run_id,
                              workflow_id ? workflow_id : "");
        return sl_err_set(err, SL_ENOTFOUND, "no workflow with id '%s'", workflow_id);
    }
    return rc;
}

sl_code sl_engine_describe(sl_engine *e, const char *workflow_id, const char *run_id,
                           json_t **out, sl_err *err)
{
    *out = NULL;
    sl_store *st;
    sl_code rrc = sl__reader_get(e, &st, err);
    if (rrc != SL_OK)
        return rrc;
    sl_run_row r;
    sl_code rc = find_run(st, workflow_id, run_id, &r, err);
    if (rc != SL_OK) {
        sl__reader_done(e);
        return rc;
    }
    json_t *d = run_summary(&r);
    json_object_set_new(d, "input", json_text(r.input));
    json_object_set_new(d, "result", json_text(r.result));
    json_object_set_new(d, "failure", json_text(r.failure));
    json_object_set_new(d, "history_bytes", json_integer(r.history_bytes));
    if (r.opts) {
        json_t *o = json_text(r.opts);
        json_t *rp = json_object_get(o, "retry_policy");
        if (rp)
            json_object_set(d, "retry_policy", rp);
        json_decref(o);
    }
    json_t *pending = sl_json_check(json_array());
    if (r.status == SL_RUN_RUNNING)
        rc = sl_store_act_of_run(st, r.run_pk, pending_cb, pending, err);
    json_object_set_new(d, "pending_activities", pending);
    json_t *runs = sl_json_check(json_array());
    if (rc == SL_OK)
        rc = sl_store_runs_of(st, r.workflow_id, chain_cb, runs, err);
    json_object_set_new(d, "runs", runs);
    sl__reader_done(e);
    sl_run_row_cleanup(&r);
    if (rc != SL_OK) {
        json_decref(d);
        return rc;
    }
    *out = d;
    return SL_OK;
}

static bool history_cb(const sl_event_row *ev, void *arg)
{
    char buf[40];
    json_t *attrs = json_text(ev->attrs);
    json_array_append_new((json_t *)arg,
                          sl_json_check(json_pack("{s:I,s:s,s:s,s:o}", "event_id",
                                                  (json_int_t)ev->event_id, "type", ev->type,
                                                  "time",
                                                  sl_time_format(ev->time_ms, buf, sizeof(buf)),
                                                  "attributes", attrs)));
    return true;
}

sl_code sl_engine_history(sl_engine *e, const char *workflow_id, const char *run_id,
                          int64_t after_event_id, json_t **out, char *run_id_out, bool *closed,
                          sl_err *err)
{
    *out = NULL;
    sl_store *st;
    sl_code rrc = sl__reader_get(e, &st, err);
    if (rrc != SL_OK)
        return rrc;
    sl_run_row r;
    sl_code rc = find_run(st, workflow_id, run_id, &r, err);
    if (rc == SL_OK) {
        json_t *arr = sl_json_check(json_array());
        rc = sl_store_events_scan(st, r.run_pk, after_event_id + 1, 0, history_cb, arr, err);
        if (rc == SL_OK) {
            *out = arr;
            if (run_id_out)
                memcpy(run_id_out, r.run_id, 37);
            if (closed)
                *closed = r.status != SL_RUN_RUNNING;
        } else {
            json_decref(arr);
        }
        sl_run_row_cleanup(&r);
    }
    sl__reader_done(e);
    return rc;
}

static void list_cb(const sl_run_row *r, void *arg)
{
    json_array_append_new((json_t *)arg, run_summary(r));
}

sl_code sl_engine_list(sl_engine *e, const sl_run_filter *f, json_t **out, sl_err *err)
{
    *out = NULL;
    sl_store *st;
    sl_code rrc = sl__reader_get(e, &st, err);
    if (rrc != SL_OK)
        return rrc;
    json_t *arr = sl_json_check(json_array());
    sl_code rc = sl_store_runs_list(st, f, list_cb, arr, err);
    sl__reader_done(e);
    if (rc != SL_OK) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return SL_OK;
}

sl_code sl_engine_count(sl_engine *e, const sl_run_filter *f, int64_t *out, sl_err *err)
{
    sl_store *st;
    sl_code rrc = sl__reader_get(e, &st, err);
    if (rrc != SL_OK)
        return rrc;
    sl_code rc = sl_store_runs_count(st, f, out, err);
    sl__reader_done(e);
    return rc;
}

struct timers_call {
    int n, limit;
    struct {
        int64_t run_pk, fire_at_ms;
        int32_t seq;
    } t[SL_ENGINE_TIMERS_MAX];
};

static void timer_cb(int64_t run_pk, int32_t seq, int64_t fire_at_ms, void *arg)
{
    struct timers_call *c = arg;
    if (c->n < c->limit) {
        c->t[c->n].run_pk = run_pk;
        c->t[c->n].seq = seq;
        c->t[c->n].fire_at_ms = fire_at_ms;
        c->n++;
    }
}

sl_code sl_engine_timers_list(sl_engine *e, int limit, json_t **out, sl_err *err)
{
    *out = NULL;
    if (limit < 1 || limit > SL_ENGINE_TIMERS_MAX)
        return sl_err_set(err, SL_EINVAL, "timer limit must be 1..%d", SL_ENGINE_TIMERS_MAX);
    sl_store *st;
    sl_code rc = sl__reader_get(e, &st, err);
    if (rc != SL_OK)
        return rc;
    struct timers_call *c = sl_xcalloc(1, sizeof(*c));
    c->limit = limit;
    json_t *arr = sl_json_check(json_array());
    /* every timer is "due" by the end of time: the soonest `limit`, then their runs */
    rc = sl_store_timers_due(st, INT64_MAX, c->limit, timer_cb, c, err);
    for (int i = 0; rc == SL_OK && i < c->n; i++) {
        sl_run_row r;
        if ((rc = sl_store_run_get(st, c->t[i].run_pk, &r, err)) != SL_OK)
            break;
        char at[40];
        json_array_append_new(
            arr,
            sl_json_check(json_pack("{s:s,s:s,s:s,s:i,s:s}", "workflow_id", r.workflow_id, "run_id",
                                    r.run_id, "type", r.type, "seq", (int)c->t[i].seq, "fire_at",
                                    sl_time_format(c->t[i].fire_at_ms, at, sizeof(at)))));
        sl_run_row_cleanup(&r);
    }
    sl__reader_done(e);
    free(c);
    if (rc != SL_OK) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return SL_OK;
}

sl_code sl_engine_integrity_check(sl_engine *e, sl_err *err)
{
    sl_store *st;
    sl_code rrc = sl__reader_get(e, &st, err);
    if (rrc != SL_OK)
        return rrc;
    sl_code rc = sl_store_integrity_check(st, err);
    sl__reader_done(e);
    return rc;
}

sl_code sl_engine_tx_run_is_open(sl_store *st, const char *workflow_id, bool *open,
                                 sl_err *err)
{
    sl_run_row r;
    sl_code rc = sl_store_run_find_open(st, workflow_id, &r, err);
    *open = rc == SL_OK;
    if (rc == SL_OK)
        sl_run_row_cleanup(&r);
    if (rc == SL_ENOTFOUND) {
        sl_err_clear(err);
        rc = SL_OK;
    }
    return rc;
}

int64_t sl_engine_db_bytes(sl_engine *e)
{
    return sl_store_size_bytes(e->st);
}

/* ---- operator actions ----------------------------------------------------------------- */

struct action_call {
    const char *workflow_id;
    const char *name;
    const json_t *input;
    const char *reason;
    bool already;
    sl_start_result res;
};

static sl_code signal_fn(sl_engine *e, void *arg, sl_err *err)
{
    struct action_call *c = arg;
    return sl__op_signal(e, c->workflow_id, c->name, c->input, err);
}

static sl_code cancel_fn(sl_engine *e, void *arg, sl_err *err)
{
    struct action_call *c = arg;
    return sl__op_cancel(e, c->workflow_id, c->reason, &c->already, err);
}

static sl_code terminate_fn(sl_engine *e, void *arg, sl_err *err)
{
    struct action_call *c = arg;
    return sl__op_terminate(e, c->workflow_id, c->reason, &c->already, err);
}

static sl_code retry_fn(sl_engine *e, void *arg, sl_err *err)
{
    struct action_call *c = arg;
    return sl__op_retry(e, c->workflow_id, c->reason, &c->res, err);
}

static sl_code run_action(sl_engine *e, sl__call_fn fn, struct action_call *c, sl_err *err)
{
    return sl__engine_call(e, fn, c, 0, err);
}

sl_code sl_engine_signal(sl_engine *e, const char *workflow_id, const char *name,
                         const json_t *input, sl_err *err)
{
    if (sl_engine_name_check("signal name", name, err) != SL_OK)
        return SL_EINVAL;
    struct action_call c = {.workflow_id = workflow_id, .name = name, .input = input};
    return run_action(e, signal_fn, &c, err);
}

sl_code sl_engine_cancel(sl_engine *e, const char *workflow_id, const char *reason,
                         bool *already, sl_err *err)
{
    struct action_call c = {.workflow_id = workflow_id, .reason = reason};
    sl_code rc = run_action(e, cancel_fn, &c, err);
    *already = c.already;
    return rc;
}

sl_code sl_engine_terminate(sl_engine *e, const char *workflow_id, const char *reason,
                            bool *already, sl_err *err)
{
    struct action_call c = {.workflow_id = workflow_id, .reason = reason};
    sl_code rc = run_action(e, terminate_fn, &c, err);
    *already = c.already;
    return rc;
}

sl_code sl_engine_retry(sl_engine *e, const char *workflow_id, const char *reason,
                        sl_start_result *res, sl_err *err)
{
    struct action_call c = {.workflow_id = workflow_id, .reason = reason};
    sl_code rc = run_action(e, retry_fn, &c, err);
    if (rc == SL_OK)
        *res = c.res;
    return rc;
}

/* ---- store work for other subsystems ---------------------------------------------------- */

struct exec_call {
    sl_engine_store_fn fn;
    void *arg;
    struct start_call *start;
};

static sl_code exec_fn(sl_engine *e, void *arg, sl_err *err)
{
    struct exec_call *c = arg;
    sl_code rc = c->fn ? c->fn(e->st, c->arg, err) : SL_OK;
    if (rc != SL_OK || !c->start)
        return rc;
    return start_fn(e, c->start, err);
}

sl_code sl_engine_exec(sl_engine *e, sl_engine_store_fn fn, void *arg, sl_err *err)
{
    struct exec_call c = {.fn = fn, .arg = arg};
    return sl__engine_call(e, exec_fn, &c, 0, err);
}

sl_code sl_engine_read(sl_engine *e, sl_engine_store_fn fn, void *arg, sl_err *err)
{
    sl_store *st;
    sl_code rrc = sl__reader_get(e, &st, err);
    if (rrc != SL_OK)
        return rrc;
    sl_code rc = fn(st, arg, err);
    sl__reader_done(e);
    return rc;
}

sl_code sl_engine_start_with(sl_engine *e, const char *type, const json_t *input,
                             const sl_start_opts *o, sl_engine_store_fn before, void *arg,
                             sl_start_result *res, sl_err *err)
{
    struct start_call *sc = start_call_new(type, input ? json_incref((json_t *)input) : NULL, o);
    struct exec_call c = {.fn = before, .arg = arg, .start = sc};
    sl_code rc = sl__engine_call(e, exec_fn, &c, 0, err);
    if (rc == SL_OK)
        *res = sc->res;
    start_call_free(sc);
    return rc;
}

/* ---- transactions that start workflows ------------------------------------------------- */

struct sl_engine_tx {
    sl_engine *e;
};

struct transact_call {
    sl_engine_tx_fn fn;
    void *arg;
};

static sl_code transact_fn(sl_engine *e, void *arg, sl_err *err)
{
    struct transact_call *c = arg;
    sl_engine_tx tx = {.e = e};
    return c->fn(&tx, c->arg, err);
}

sl_code sl_engine_transact(sl_engine *e, sl_engine_tx_fn fn, void *arg, sl_err *err)
{
    struct transact_call c = {.fn = fn, .arg = arg};
    /* a savepoint: a failure after some starts undoes them all */
    return sl__engine_call(e, transact_fn, &c, 0, err);
}

sl_code sl_engine_tx_start(sl_engine_tx *tx, const char *type, const json_t *input,
                           const sl_start_opts *o, sl_start_result *res, sl_err *err)
{
    return sl__op_start(tx->e, type, input, o, res, err);
}

sl_code sl_engine_tx_count(sl_engine_tx *tx, const sl_run_filter *f, int64_t *out, sl_err *err)
{
    return sl_store_runs_count(tx->e->st, f, out, err);
}

sl_code sl_engine_tx_run_latest(sl_engine_tx *tx, const char *workflow_id, int *status,
                                char *run_id, sl_err *err)
{
    sl_run_row r;
    sl_code rc = sl_store_run_find(tx->e->st, workflow_id, NULL, &r, err);
    if (rc != SL_OK)
        return rc;
    *status = r.status;
    if (run_id)
        memcpy(run_id, r.run_id, sizeof(r.run_id));
    sl_run_row_cleanup(&r);
    return SL_OK;
}
