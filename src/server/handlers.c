/*
 * handlers.c - the served methods of sluice.v1.Sluice: each unpacks its request, makes the
 * engine call the matching CLI command makes, and answers with the response message or one
 * status whose details are the engine's message (the CLI's error text).
 */
#include <stdlib.h>
#include <string.h>

#include "server_int.h"
#include "sluice/v1/sluice.pb-c.h"

/* ---- helpers -------------------------------------------------------------------------- */

/* Strings a response borrows until it is packed (JSON dumps), freed together. */
typedef struct strs {
    char **v;
    size_t n, cap;
} strs;

static char *strs_keep(strs *a, char *s)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 16;
        a->v = realloc(a->v, a->cap * sizeof(*a->v));
        if (!a->v)
            abort();
    }
    a->v[a->n++] = s;
    return s;
}

static void strs_free(strs *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
}

/* proto3 strings are "" when unset: NULL for the engine's "default". */
static const char *nz(const char *s)
{
    return s && *s ? s : NULL;
}

/* A borrowed JSON string member as a message field ("" when absent). */
static char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return (char *)(s ? s : "");
}

/* A JSON member as JSON text ("" when absent or null). */
static char *jtext(strs *a, const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return (char *)"";
    return strs_keep(a, sl_json_dumps(v));
}

/* A UTC time member ("2026-11-25T13:00:58.123Z") as Unix ms; 0 when absent or null. */
static int64_t jtime(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    int64_t ms = 0;
    sl_err err;
    if (!s || sl_time_parse(s, &ms, &err) != SL_OK)
        return 0;
    return ms;
}

static Sluice__V1__WorkflowStatus status_of(const char *name)
{
    int st;
    if (!name || !sl_run_status_parse(name, &st))
        return SLUICE__V1__WORKFLOW_STATUS__WORKFLOW_STATUS_UNSPECIFIED;
    return (Sluice__V1__WorkflowStatus)(st + 1);
}

static void finish_err(sl_rpc_call *call, const sl_err *err)
{
    sl_rpc_call_finish(call, sl_server_code_of(err->code), "%s",
                       err->msg[0] ? err->msg : sl_code_text(err->code));
}

static void reply(sl_rpc_call *call, const ProtobufCMessage *m)
{
    if (sl_rpc_call_reply_msg(call, m) != SL_OK)
        sl_rpc_call_finish(call, SL_RPC_INTERNAL, "could not send the response");
}

static sl_engine *engine_of(void *arg)
{
    return ((sl_server *)arg)->e;
}

/* The engine's run filter from the message's; false after answering INVALID_ARGUMENT. */
static bool filter_of(sl_rpc_call *call, const Sluice__V1__WorkflowFilter *pf, sl_run_filter *f)
{
    sl_run_filter_init(f);
    if (!pf)
        return true;
    if (pf->status != SLUICE__V1__WORKFLOW_STATUS__WORKFLOW_STATUS_UNSPECIFIED) {
        if ((int)pf->status < 1 || (int)pf->status > SL_RUN_CONTINUED_AS_NEW + 1) {
            sl_rpc_call_finish(call, SL_RPC_INVALID_ARGUMENT, "unknown status %d", (int)pf->status);
            return false;
        }
        f->status = (int)pf->status - 1;
    }
    if (pf->since_ms < 0 || pf->until_ms < 0) {
        sl_rpc_call_finish(call, SL_RPC_INVALID_ARGUMENT, "since_ms and until_ms must be >= 0");
        return false;
    }
    f->type = nz(pf->type);
    f->id_prefix = nz(pf->id_prefix);
    f->started_after_ms = pf->since_ms;
    f->started_before_ms = pf->until_ms;
    return true;
}

/* A run summary (sl_engine_list's, or sl_engine_describe's head) as a WorkflowRun. */
static void run_fill(Sluice__V1__WorkflowRun *r, const json_t *j, strs *a)
{
    r->workflow_id = jstr(j, "workflow_id");
    r->run_id = jstr(j, "run_id");
    r->type = jstr(j, "type");
    r->task_queue = jstr(j, "task_queue");
    r->status = status_of(json_string_value(json_object_get(j, "status")));
    r->input_json = jtext(a, j, "input");
    r->result_json = jtext(a, j, "result");
    r->failure_json = jtext(a, j, "failure");
    r->start_ms = jtime(j, "start_time");
    r->close_ms = jtime(j, "close_time");
    r->attempt = (int32_t)json_integer_value(json_object_get(j, "attempt"));
    r->history_length = json_integer_value(json_object_get(j, "history_length"));
}

/* ---- StartWorkflow -------------------------------------------------------------------- */

/* The message's retry policy, checked as `--retry-policy` JSON is. */
static sl_code retry_of(const Sluice__V1__RetryPolicy *m, sl_retry_policy *p, sl_err *err)
{
    sl_retry_policy_init(p);
    json_t *j = sl_json_check(json_object());
    char buf[32];
    if (m->initial_interval_ms)
        json_object_set_new(
            j, "initial_interval",
            json_string(sl_duration_format(m->initial_interval_ms, buf, sizeof(buf))));
    if (m->maximum_interval_ms)
        json_object_set_new(
            j, "maximum_interval",
            json_string(sl_duration_format(m->maximum_interval_ms, buf, sizeof(buf))));
    if (m->backoff_coefficient != 0)
        json_object_set_new(j, "backoff_coefficient", json_real(m->backoff_coefficient));
    if (m->maximum_attempts)
        json_object_set_new(j, "maximum_attempts", json_integer(m->maximum_attempts));
    if (m->jitter != 0)
        json_object_set_new(j, "jitter", json_real(m->jitter));
    if (m->n_non_retryable_error_types) {
        json_t *t = sl_json_check(json_array());
        for (size_t i = 0; i < m->n_non_retryable_error_types; i++)
            json_array_append_new(t, json_string(m->non_retryable_error_types[i]));
        json_object_set_new(j, "non_retryable_error_types", t);
    }
    sl_code rc = sl_retry_policy_from_json(j, p, err);
    json_decref(j);
    return rc;
}

static void start_workflow(sl_rpc_call *call, void *arg)
{
    Sluice__V1__StartWorkflowRequest *req = (Sluice__V1__StartWorkflowRequest *)sl_rpc_call_unpack(
        call, &sluice__v1__start_workflow_request__descriptor);
    if (!req)
        return;
    sl_err err;
    sl_err_clear(&err);
    json_t *input = NULL;
    sl_retry_policy rp;
    if (!nz(req->type)) {
        sl_rpc_call_finish(call, SL_RPC_INVALID_ARGUMENT, "missing type");
    } else if (req->id_reuse_policy >
               SLUICE__V1__ID_REUSE_POLICY__ID_REUSE_POLICY_ALLOW_DUPLICATE) {
        sl_rpc_call_finish(call, SL_RPC_UNIMPLEMENTED,
                           "id_reuse_policy %d is not implemented by this server yet",
                           (int)req->id_reuse_policy);
    } else if (nz(req->input_json) && sl_json_loads(req->input_json, &input, &err) != SL_OK) {
        sl_rpc_call_finish(call, SL_RPC_INVALID_ARGUMENT, "input_json: %s", err.msg);
    } else if (req->retry_policy && retry_of(req->retry_policy, &rp, &err) != SL_OK) {
        sl_rpc_call_finish(call, SL_RPC_INVALID_ARGUMENT, "retry_policy: %s", err.msg);
    } else {
        sl_start_opts so = {.workflow_id = nz(req->workflow_id),
                            .task_queue = nz(req->task_queue),
                            .retry = req->retry_policy ? &rp : NULL};
        sl_start_result res;
        if (sl_engine_start(engine_of(arg), req->type, input, &so, &res, &err) != SL_OK) {
            finish_err(call, &err);
        } else {
            Sluice__V1__StartWorkflowResponse resp = SLUICE__V1__START_WORKFLOW_RESPONSE__INIT;
            resp.workflow_id = res.workflow_id;
            resp.run_id = res.run_id;
            resp.existing = res.existing;
            reply(call, &resp.base);
        }
    }
    json_decref(input);
    protobuf_c_message_free_unpacked(&req->base, NULL);
}

/* ---- DescribeWorkflow ----------------------------------------------------------------- */

/* The execution a request names; false after answering INVALID_ARGUMENT. */
static bool execution_of(sl_rpc_call *call, const Sluice__V1__WorkflowExecution *x,
                         const char **wid, const char **run)
{
    if (!x || !nz(x->workflow_id)) {
        sl_rpc_call_finish(call, SL_RPC_INVALID_ARGUMENT, "missing workflow id");
        return false;
    }
    *wid = x->workflow_id;
    *run = nz(x->run_id);
    return true;
}

static void describe_reply(sl_rpc_call *call, const json_t *d)
{
    strs a = {0};
    Sluice__V1__DescribeWorkflowResponse resp = SLUICE__V1__DESCRIBE_WORKFLOW_RESPONSE__INIT;
    Sluice__V1__WorkflowRun run = SLUICE__V1__WORKFLOW_RUN__INIT;
    run_fill(&run, d, &a);
    resp.run = &run;

    const json_t *pend = json_object_get(d, "pending_activities");
    size_t np = json_array_size(pend);
    Sluice__V1__PendingActivity *pa = np ? sl_xcalloc(np, sizeof(*pa)) : NULL;
    Sluice__V1__PendingActivity **pp = np ? sl_xcalloc(np, sizeof(*pp)) : NULL;
    for (size_t i = 0; i < np; i++) {
        const json_t *p = json_array_get(pend, i);
        sluice__v1__pending_activity__init(&pa[i]);
        pa[i].seq = (int32_t)json_integer_value(json_object_get(p, "seq"));
        pa[i].activity_type = jstr(p, "activity_type");
        pa[i].attempt = (int32_t)json_integer_value(json_object_get(p, "attempt"));
        pa[i].state = jstr(p, "state");
        pa[i].scheduled_ms = jtime(p, "scheduled_time");
        pa[i].last_failure_json = jtext(&a, p, "last_failure");
        pa[i].heartbeat_details_json = jtext(&a, p, "heartbeat_details");
        pp[i] = &pa[i];
    }
    resp.n_pending_activities = np;
    resp.pending_activities = pp;

    /* The engine lists the id's runs newest first; the message holds them first to latest. */
    const json_t *runs = json_object_get(d, "runs");
    size_t nr = json_array_size(runs);
    Sluice__V1__WorkflowRun *ra = nr ? sl_xcalloc(nr, sizeof(*ra)) : NULL;
    Sluice__V1__WorkflowRun **rp = nr ? sl_xcalloc(nr, sizeof(*rp)) : NULL;
    for (size_t i = 0; i < nr; i++) {
        const json_t *r = json_array_get(runs, nr - 1 - i);
        sluice__v1__workflow_run__init(&ra[i]);
        run_fill(&ra[i], r, &a);
        ra[i].workflow_id = run.workflow_id;
        ra[i].type = run.type;
        ra[i].task_queue = run.task_queue;
        rp[i] = &ra[i];
    }
    resp.n_chain = nr;
    resp.chain = rp;
    resp.describe_json = strs_keep(&a, sl_json_dumps(d));
    reply(call, &resp.base);
    free(pa);
    free(pp);
    free(ra);
    free(rp);
    strs_free(&a);
}

static void describe_workflow(sl_rpc_call *call, void *arg)
{
    Sluice__V1__DescribeWorkflowRequest *req =
        (Sluice__V1__DescribeWorkflowRequest *)sl_rpc_call_unpack(
            call, &sluice__v1__describe_workflow_request__descriptor);
    if (!req)
        return;
    const char *wid, *run;
    if (execution_of(call, req->execution, &wid, &run)) {
        sl_err err;
        sl_err_clear(&err);
        json_t *d = NULL;
        if (sl_engine_describe(engine_of(arg), wid, run, &d, &err) != SL_OK)
            finish_err(call, &err);
        else
            describe_reply(call, d);
        json_decref(d);
    }
    protobuf_c_message_free_unpacked(&req->base, NULL);
}

/* ---- ListWorkflows / CountWorkflows --------------------------------------------------- */

static void list_workflows(sl_rpc_call *call, void *arg)
{
    Sluice__V1__ListWorkflowsRequest *req = (Sluice__V1__ListWorkflowsRequest *)sl_rpc_call_unpack(
        call, &sluice__v1__list_workflows_request__descriptor);
    if (!req)
        return;
    sl_engine *e = engine_of(arg);
    sl_run_filter f;
    if (req->limit < 0) {
        sl_rpc_call_finish(call, SL_RPC_INVALID_ARGUMENT, "limit must be >= 0");
    } else if (filter_of(call, req->filter, &f)) {
        f.limit = req->limit > 0 ? req->limit : 100;
        sl_err err;
        sl_err_clear(&err);
        json_t *arr = NULL;
        sl_code rc = sl_engine_list(e, &f, &arr, &err);
        size_t n = rc == SL_OK ? json_array_size(arr) : 0;
        strs a = {0};
        Sluice__V1__WorkflowRun *ra = n ? sl_xcalloc(n, sizeof(*ra)) : NULL;
        Sluice__V1__WorkflowRun **rp = n ? sl_xcalloc(n, sizeof(*rp)) : NULL;
        char **hist = req->include_history && n ? sl_xcalloc(n, sizeof(*hist)) : NULL;
        for (size_t i = 0; i < n && rc == SL_OK; i++) {
            const json_t *r = json_array_get(arr, i);
            sluice__v1__workflow_run__init(&ra[i]);
            run_fill(&ra[i], r, &a);
            rp[i] = &ra[i];
            if (hist) {
                json_t *events = NULL;
                rc = sl_engine_history(e, ra[i].workflow_id, ra[i].run_id, 0, &events, NULL, NULL,
                                       &err);
                hist[i] = rc == SL_OK ? strs_keep(&a, sl_json_dumps(events)) : (char *)"";
                json_decref(events);
            }
        }
        if (rc != SL_OK) {
            finish_err(call, &err);
        } else {
            Sluice__V1__ListWorkflowsResponse resp = SLUICE__V1__LIST_WORKFLOWS_RESPONSE__INIT;
            resp.n_runs = n;
            resp.runs = rp;
            resp.n_history_json = hist ? n : 0;
            resp.history_json = hist;
            reply(call, &resp.base);
        }
        free(ra);
        free(rp);
        free(hist);
        strs_free(&a);
        json_decref(arr);
    }
    protobuf_c_message_free_unpacked(&req->base, NULL);
}

static void count_workflows(sl_rpc_call *call, void *arg)
{
    Sluice__V1__CountWorkflowsRequest *req =
        (Sluice__V1__CountWorkflowsRequest *)sl_rpc_call_unpack(
            call, &sluice__v1__count_workflows_request__descriptor);
    if (!req)
        return;
    sl_run_filter f;
    if (filter_of(call, req->filter, &f)) {
        sl_err err;
        sl_err_clear(&err);
        int64_t n = 0;
        if (sl_engine_count(engine_of(arg), &f, &n, &err) != SL_OK) {
            finish_err(call, &err);
        } else {
            Sluice__V1__CountWorkflowsResponse resp = SLUICE__V1__COUNT_WORKFLOWS_RESPONSE__INIT;
            resp.count = n;
            reply(call, &resp.base);
        }
    }
    protobuf_c_message_free_unpacked(&req->base, NULL);
}

/* ---- GetHistory (server streaming) ---------------------------------------------------- */

#define FOLLOW_POLL_MS 200

/* Send each event; false when the client is gone. */
static bool write_events(sl_rpc_call *call, const json_t *events)
{
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        Sluice__V1__HistoryEvent m = SLUICE__V1__HISTORY_EVENT__INIT;
        m.event_id = json_integer_value(json_object_get(ev, "event_id"));
        m.type = jstr(ev, "type");
        m.time_ms = jtime(ev, "time");
        strs a = {0};
        m.attributes_json = jtext(&a, ev, "attributes");
        sl_code rc = sl_rpc_call_write_msg(call, &m.base);
        strs_free(&a);
        if (rc != SL_OK)
            return false;
    }
    return true;
}

static void get_history(sl_rpc_call *call, void *arg)
{
    Sluice__V1__GetHistoryRequest *req = (Sluice__V1__GetHistoryRequest *)sl_rpc_call_unpack(
        call, &sluice__v1__get_history_request__descriptor);
    if (!req)
        return;
    const char *wid, *run;
    if (!execution_of(call, req->execution, &wid, &run))
        goto out;
    if (req->after_event_id < 0) {
        sl_rpc_call_finish(call, SL_RPC_INVALID_ARGUMENT, "after_event_id must be >= 0");
        goto out;
    }
    int64_t last = req->after_event_id;
    char run_id[37];
    for (;;) {
        sl_err err;
        sl_err_clear(&err);
        json_t *events = NULL;
        bool closed = false;
        if (sl_engine_history(engine_of(arg), wid, run, last, &events, run_id, &closed, &err) !=
            SL_OK) {
            finish_err(call, &err);
            break;
        }
        if (!run)
            run = run_id; /* a followed stream stays on the run it started with */
        bool sent = write_events(call, events);
        size_t n = json_array_size(events);
        if (n > 0)
            last = json_integer_value(json_object_get(json_array_get(events, n - 1), "event_id"));
        json_decref(events);
        if (!sent) {
            sl_rpc_call_finish(call, SL_RPC_CANCELLED, "the client went away");
            break;
        }
        if (!req->follow || (closed && n == 0)) {
            sl_rpc_call_finish(call, SL_RPC_OK, NULL);
            break;
        }
        if (closed)
            continue; /* send what arrived, then end */
        sl_rpc_wait w = sl_rpc_call_wait(call, FOLLOW_POLL_MS);
        if (w == SL_RPC_WAIT_CANCELLED) {
            sl_rpc_call_finish(call, SL_RPC_CANCELLED, "the client went away");
            break;
        }
        if (w == SL_RPC_WAIT_STOPPING) {
            sl_rpc_call_finish(call, SL_RPC_UNAVAILABLE,
                               "the server is stopping (resume with after_event_id %lld)",
                               (long long)last);
            break;
        }
    }
out:
    protobuf_c_message_free_unpacked(&req->base, NULL);
}

/* ---- SignalWorkflow / CancelWorkflow / TerminateWorkflow ------------------------------ */

static void signal_workflow(sl_rpc_call *call, void *arg)
{
    Sluice__V1__SignalWorkflowRequest *req =
        (Sluice__V1__SignalWorkflowRequest *)sl_rpc_call_unpack(
            call, &sluice__v1__signal_workflow_request__descriptor);
    if (!req)
        return;
    sl_err err;
    sl_err_clear(&err);
    json_t *input = NULL;
    if (!nz(req->workflow_id)) {
        sl_rpc_call_finish(call, SL_RPC_INVALID_ARGUMENT, "missing workflow id");
    } else if (!nz(req->name)) {
        sl_rpc_call_finish(call, SL_RPC_INVALID_ARGUMENT, "missing name");
    } else if (nz(req->input_json) && sl_json_loads(req->input_json, &input, &err) != SL_OK) {
        sl_rpc_call_finish(call, SL_RPC_INVALID_ARGUMENT, "input_json: %s", err.msg);
    } else if (sl_engine_signal(engine_of(arg), req->workflow_id, req->name, input, &err) !=
               SL_OK) {
        finish_err(call, &err);
    } else {
        Sluice__V1__SignalWorkflowResponse resp = SLUICE__V1__SIGNAL_WORKFLOW_RESPONSE__INIT;
        reply(call, &resp.base);
    }
    json_decref(input);
    protobuf_c_message_free_unpacked(&req->base, NULL);
}

/*
 * Cancel or terminate one id, or the latest run of every id matching query (as the CLI's
 * --query, which asked for confirmation itself). *affected: the runs acted on; a batch goes
 * on past a failure and answers with the first one, counting what was done.
 */
static bool act(sl_rpc_call *call, sl_engine *e, bool terminate, const char *wid,
                const Sluice__V1__WorkflowFilter *query, const char *reason, int64_t *affected)
{
    *affected = 0;
    if (!reason && terminate)
        reason = "terminated by operator";
    if (wid && query) {
        sl_rpc_call_finish(call, SL_RPC_INVALID_ARGUMENT, "give a workflow id or query, not both");
        return false;
    }
    if (!wid && !query) {
        sl_rpc_call_finish(call, SL_RPC_INVALID_ARGUMENT, "missing workflow id (or query)");
        return false;
    }
    sl_err err;
    sl_err_clear(&err);
    bool already;
    if (wid) {
        sl_code rc = terminate ? sl_engine_terminate(e, wid, reason, &already, &err)
                               : sl_engine_cancel(e, wid, reason, &already, &err);
        if (rc != SL_OK) {
            finish_err(call, &err);
            return false;
        }
        *affected = 1;
        return true;
    }
    sl_run_filter f;
    if (!filter_of(call, query, &f))
        return false;
    f.latest_only = true;
    json_t *runs = NULL;
    if (sl_engine_list(e, &f, &runs, &err) != SL_OK) {
        finish_err(call, &err);
        return false;
    }
    sl_err first;
    sl_err_clear(&first);
    char first_id[SL_WORKFLOW_ID_MAX + 1] = "";
    int failed = 0;
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r)
    {
        const char *id = json_string_value(json_object_get(r, "workflow_id"));
        sl_err_clear(&err);
        sl_code rc = terminate ? sl_engine_terminate(e, id, reason, &already, &err)
                               : sl_engine_cancel(e, id, reason, &already, &err);
        if (rc == SL_OK) {
            (*affected)++;
        } else if (failed++ == 0) {
            first = err;
            snprintf(first_id, sizeof(first_id), "%s", id);
        }
    }
    json_decref(runs);
    if (failed) {
        sl_rpc_call_finish(call, sl_server_code_of(first.code), "%s: %s (%lld done, %d failed)",
                           first_id, first.msg, (long long)*affected, failed);
        return false;
    }
    return true;
}

static void cancel_workflow(sl_rpc_call *call, void *arg)
{
    Sluice__V1__CancelWorkflowRequest *req =
        (Sluice__V1__CancelWorkflowRequest *)sl_rpc_call_unpack(
            call, &sluice__v1__cancel_workflow_request__descriptor);
    if (!req)
        return;
    int64_t n;
    if (act(call, engine_of(arg), false, nz(req->workflow_id), req->query, nz(req->reason), &n)) {
        Sluice__V1__CancelWorkflowResponse resp = SLUICE__V1__CANCEL_WORKFLOW_RESPONSE__INIT;
        resp.affected = n;
        reply(call, &resp.base);
    }
    protobuf_c_message_free_unpacked(&req->base, NULL);
}

static void terminate_workflow(sl_rpc_call *call, void *arg)
{
    Sluice__V1__TerminateWorkflowRequest *req =
        (Sluice__V1__TerminateWorkflowRequest *)sl_rpc_call_unpack(
            call, &sluice__v1__terminate_workflow_request__descriptor);
    if (!req)
        return;
    int64_t n;
    if (act(call, engine_of(arg), true, nz(req->workflow_id), req->query, nz(req->reason), &n)) {
        Sluice__V1__TerminateWorkflowResponse resp = SLUICE__V1__TERMINATE_WORKFLOW_RESPONSE__INIT;
        resp.affected = n;
        reply(call, &resp.base);
    }
    protobuf_c_message_free_unpacked(&req->base, NULL);
}

const sl_server_method sl__server_methods[] = {
    {"StartWorkflow", start_workflow},
    {"DescribeWorkflow", describe_workflow},
    {"ListWorkflows", list_workflows},
    {"CountWorkflows", count_workflows},
    {"GetHistory", get_history},
    {"SignalWorkflow", signal_workflow},
    {"CancelWorkflow", cancel_workflow},
    {"TerminateWorkflow", terminate_workflow},
    {NULL, NULL},
};
