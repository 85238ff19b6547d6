/*
 * genie_ask.c - sl_dbx_genie_ask: the Genie "ask" flow run on the blocking transport. The
 * flow itself is the step function of genie_step.c (the one the load generator runs on
 * sl_dbx_async); this file picks the space, then sends each request the step asks for
 * with sl__dbx_request (which retries per invariant (3) of dbx.h and honours the call's
 * deadline and cancel), sleeps each wait it asks for, and reports every poll to
 * call->progress:
 *
 *   resolve space -> loop { step_next: REQUEST -> sl__dbx_request | WAIT -> sleep
 *                           | DONE -> the answer | FAILED -> its error }
 *
 * The bugs of the tools this replaces are avoided on purpose (in the step): the message
 * endpoint (not query-result) carries the status; CANCELLED and QUERY_RESULT_EXPIRED end
 * the wait like COMPLETED and FAILED do; and a failed or cancelled message is an error,
 * never an answer. One deadline (the ask timeout, bounded by the caller's) covers every
 * request, retry sleep and poll, so a timeout is reported as such whatever step it
 * interrupts.
 */
#include <stdlib.h>
#include <string.h>

#include "dbx_int.h"

#define COPY(dst, src) snprintf((dst), sizeof(dst), "%s", (src) ? (src) : "")

void sl_dbx_genie_ask_opts_init(sl_dbx_genie_ask_opts *o)
{
    memset(o, 0, sizeof(*o));
}

void sl_dbx_genie_answer_free(sl_dbx_genie_answer *a)
{
    if (!a)
        return;
    free(a->space_id);
    free(a->conversation_id);
    free(a->message_id);
    free(a->status);
    free(a->text);
    free(a->sql);
    free(a->description);
    free(a->title);
    free(a->attachment_id);
    free(a->statement_id);
    json_decref(a->columns);
    json_decref(a->rows);
    free(a);
}

/* The caller cancelled, or (before the step began) its deadline passed: say so in one
 * line that tells where the ask got to. */
static sl_code interrupted(const sl_dbx_call *call, const sl_dbx_genie_state *st, int64_t budget_ms,
                           sl_code rc, const char *doing, sl_err *err)
{
    if (rc != SL_ETIMEOUT && rc != SL_ECANCELED)
        return rc;
    sl_code why = sl__dbx_check_call(call, NULL);
    if (why == SL_OK)
        return rc; /* a remote timeout or cancel: keep the transport's error */
    char where[200];
    sl__dbx_genie_where(st, doing, where, sizeof(where));
    if (why == SL_ETIMEOUT) {
        char d[32];
        if (budget_ms >= 0)
            sl_duration_format(budget_ms, d, sizeof(d));
        sl_err_set(err, SL_ETIMEOUT, "no answer from Genie within %s (%s)",
                   budget_ms >= 0 ? d : "the deadline", where);
    } else {
        sl_err_set(err, SL_ECANCELED, "canceled while waiting for Genie (%s)", where);
    }
    if (err)
        err->retryable = false; /* asking again would be a new question; resume instead */
    return why;
}

/* The space: explicit, else the configured GENIE_SPACE_ID, else the first visible one. */
static sl_code resolve_space(sl_dbx_client *c, const sl_dbx_call *call, int64_t budget_ms,
                             const char *explicit_id, sl_dbx_genie_state *st, sl_err *err)
{
    if (explicit_id && *explicit_id) {
        COPY(st->space_id, explicit_id);
        return SL_OK;
    }
    if (c->s.genie_space_id && *c->s.genie_space_id) {
        COPY(st->space_id, c->s.genie_space_id);
        return SL_OK;
    }
    json_t *spaces = NULL;
    sl_code rc = sl_dbx_genie_space_list(c, 1, call, &spaces, err);
    if (rc != SL_OK) {
        rc = interrupted(call, st, budget_ms, rc, "listing Genie spaces", err);
        return sl__dbx_ctx(rc, err, "choose a Genie space");
    }
    const json_t *first = json_array_get(spaces, 0);
    const char *id = sl__dbx_jstr(first, "space_id");
    if (!id) {
        json_decref(spaces);
        return sl_err_set(err, SL_ENOTFOUND,
                          "no Genie space is visible to this user (set GENIE_SPACE_ID or pass "
                          "a space id)");
    }
    COPY(st->space_id, id);
    COPY(st->space_title, sl__dbx_jstr(first, "title"));
    st->space_picked = true;
    sl__dbx_log(c, SL_LOG_INFO, "dbx: GENIE_SPACE_ID not set; using Genie space %s '%s'",
                st->space_id, st->space_title);
    json_decref(spaces);
    return SL_OK;
}

sl_code sl_dbx_genie_ask(sl_dbx_client *c, const char *question, const sl_dbx_genie_ask_opts *o,
                         const sl_dbx_call *call, sl_dbx_genie_state *st, sl_dbx_genie_answer **out,
                         sl_err *err)
{
    *out = NULL;
    sl_dbx_genie_state local;
    if (!st)
        st = &local;
    memset(st, 0, sizeof(*st));
    sl_dbx_genie_ask_opts defaults;
    if (!o) {
        sl_dbx_genie_ask_opts_init(&defaults);
        o = &defaults;
    }
    bool resume = o->message_id && *o->message_id;
    if (!resume && (!question || !*question))
        return sl_err_set(err, SL_EINVAL, "ask Genie: empty question");
    if (resume && !(o->conversation_id && *o->conversation_id))
        return sl_err_set(err, SL_EINVAL, "ask Genie: resuming message %s needs its conversation",
                          o->message_id);

    sl_dbx_call ac = {0}; /* the caller's, with the ask deadline */
    if (call)
        ac = *call;
    int64_t now = sl_now_ms();
    int64_t timeout = o->timeout_ms == 0 ? SL_DBX_GENIE_TIMEOUT_MS : o->timeout_ms;
    if (timeout > 0 && (ac.deadline_ms == 0 || now + timeout < ac.deadline_ms))
        ac.deadline_ms = now + timeout;
    int64_t budget_ms = -1;
    if (ac.deadline_ms > 0)
        budget_ms = ac.deadline_ms > now ? ac.deadline_ms - now : 0;

    sl_dbx_genie_step *g = NULL;
    sl_dbx_genie_answer *ans = NULL;
    sl__dbx_resp resp = {0};
    sl_err rerr;
    sl_code rc;
    if ((rc = resolve_space(c, &ac, budget_ms, o->space_id, st, err)) != SL_OK)
        goto out;
    sl_dbx_genie_step_opts so;
    sl_dbx_genie_step_opts_init(&so);
    so.space_id = st->space_id;
    so.question = question;
    so.conversation_id = o->conversation_id;
    so.message_id = resume ? o->message_id : NULL;
    so.deadline_ms = ac.deadline_ms; /* sl_now_ms clock, as the transport's */
    so.budget_ms = budget_ms;
    so.poll_initial_ms = ac.poll_initial_ms;
    so.poll_max_ms = ac.poll_max_ms;
    so.max_retries = 0; /* sl__dbx_request has retried already (invariant 3) */
    if ((rc = sl_dbx_genie_step_new(&so, &g, err)) != SL_OK)
        goto out;

    sl_dbx_response last = {0};
    const sl_dbx_response *lastp = NULL;
    for (;;) {
        sl_dbx_genie_next nx;
        sl_dbx_genie_step_kind k = sl_dbx_genie_step_next(g, lastp, sl_now_ms(), &nx);
        lastp = NULL;
        sl_dbx_genie_state picked = *st; /* the step knows nothing of how the space was chosen */
        *st = *sl_dbx_genie_step_state(g);
        COPY(st->space_title, picked.space_title);
        st->space_picked = picked.space_picked;
        if (nx.progress.op && ac.progress)
            ac.progress(ac.progress_arg, &nx.progress);
        if (k == SL_DBX_GENIE_STEP_DONE) {
            ans = sl_dbx_genie_step_take_answer(g);
            rc = SL_OK;
            break;
        }
        if (k == SL_DBX_GENIE_STEP_FAILED) {
            const sl_err *e = sl_dbx_genie_step_error(g);
            if (err)
                *err = *e;
            sl__dbx_redact_err(c, err);
            rc = e->code;
            break;
        }
        if (k == SL_DBX_GENIE_STEP_WAIT) {
            sl_code src = sl__dbx_sleep(&ac, nx.wait_ms, err);
            if (src == SL_ECANCELED) {
                rc = interrupted(&ac, st, budget_ms, src, "waiting", err);
                break;
            }
            continue; /* at the deadline the step reports the timeout itself */
        }
        /* REQUEST */
        sl__dbx_resp_cleanup(&resp);
        sl__dbx_req req;
        sl__dbx_req_init(&req, nx.req->method, nx.req->path, nx.req->what);
        req.json_text = nx.req->body;
        req.call = &ac;
        sl_err_clear(&rerr);
        rc = sl__dbx_request(c, &req, &resp, &rerr);
        if (rc == SL_ECANCELED && sl__dbx_check_call(&ac, NULL) == SL_ECANCELED) {
            rc = interrupted(&ac, st, budget_ms, rc, "asking", err);
            break;
        }
        last = (sl_dbx_response){.code = rc,
                                 .err = &rerr,
                                 .status = rc == SL_OK ? (int)resp.status : rerr.http_status,
                                 .body = resp.body ? resp.body : "",
                                 .body_len = resp.body_len,
                                 .bytes = resp.body_len};
        lastp = &last;
    }
    if (rc == SL_OK) {
        *out = ans;
        ans = NULL;
    }
out:
    sl__dbx_resp_cleanup(&resp);
    sl_dbx_genie_answer_free(ans);
    sl_dbx_genie_step_free(g);
    return rc;
}

json_t *sl_dbx_genie_answer_to_json(const sl_dbx_genie_answer *a, size_t max_rows, unsigned flags)
{
    size_t n_cols = json_array_size(a->columns);
    size_t n_rows = json_array_size(a->rows);
    size_t keep = max_rows > 0 && n_rows > max_rows ? max_rows : n_rows;
    json_t *cols = sl_json_check(json_array());
    const char **names = sl_xcalloc(n_cols + 1, sizeof(char *));
    const char **types = sl_xcalloc(n_cols + 1, sizeof(char *));
    for (size_t i = 0; i < n_cols; i++) {
        const json_t *col = json_array_get(a->columns, i);
        names[i] = sl__dbx_jstr(col, "name");
        types[i] = sl__dbx_jstr(col, "type_name");
        if (!names[i])
            names[i] = "";
        json_array_append_new(
            cols, sl_json_check(json_pack("{s:s,s:s?}", "name", names[i], "type_name", types[i])));
    }
    json_t *rows = sl_json_check(json_array());
    for (size_t r = 0; r < keep; r++)
        json_array_append(rows, json_array_get(a->rows, r));
    if (flags & SL_DBX_GENIE_JSON_ROW_OBJECTS) {
        json_t *objs = sl_dbx_rows_to_objects(n_cols, names, types, rows);
        json_decref(rows);
        rows = objs;
    }
    free(names);
    free(types);
    return sl_json_check(json_pack("{s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:o,s:o,s:I,s:b,s:b}",
                                   "space_id", a->space_id, "conversation_id", a->conversation_id,
                                   "message_id", a->message_id, "status", a->status, "text",
                                   a->text, "sql", a->sql, "description", a->description, "columns",
                                   cols, "rows", rows, "row_count", (json_int_t)n_rows, "truncated",
                                   a->truncated || keep < n_rows, "reexecuted", a->reexecuted));
}

sl_code sl_dbx_genie_poll_from_env(sl_dbx_call *call, sl_err *err)
{
    static const char *const names[2] = {"GENIE_POLL_INTERVAL", "GENIE_POLL_MAX_INTERVAL"};
    int64_t *fields[2] = {&call->poll_initial_ms, &call->poll_max_ms};
    for (int i = 0; i < 2; i++) {
        const char *v = getenv(names[i]);
        if (!v || !*v)
            continue;
        int64_t ms;
        sl_err e;
        sl_err_clear(&e);
        if (sl_duration_parse(v, &ms, &e) != SL_OK || ms <= 0)
            return sl_err_set(err, SL_EINVAL,
                              "bad %s '%.40s': expected a duration such as 50ms "
                              "or 2s",
                              names[i], v);
        *fields[i] = ms;
    }
    return SL_OK;
}
