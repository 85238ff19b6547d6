/*
 * genie_ask.c - the Genie "ask" flow on top of the low-level calls of genie.c: choose the
 * space, send the question (a new conversation or a follow-up), poll the *message* until
 * it is terminal, then collect the answer: the text attachments and, for the first query
 * attachment, its SQL, description and every row of its result.
 *
 *   resolve space -> send -> poll message (backoff) --COMPLETED--------------> result
 *                                |                 --QUERY_RESULT_EXPIRED--> execute-query
 *                                |                 --FAILED / CANCELLED----> error
 *   result: GET attachment query-result; PENDING/RUNNING -> poll it again (backoff);
 *           CLOSED -> execute-query (once); SUCCEEDED -> every chunk; FAILED -> error
 *
 * The bugs of the tools this replaces are avoided on purpose: the message endpoint (not
 * query-result) carries the status; CANCELLED and QUERY_RESULT_EXPIRED end the wait like
 * COMPLETED and FAILED do; and a failed or cancelled message is an error, never an answer.
 * One deadline (the ask timeout, bounded by the caller's) covers every request, retry
 * sleep and poll, so a timeout is reported as such whatever step it interrupts.
 */
#include <stdlib.h>
#include <string.h>

#include "dbx_int.h"

typedef struct ask {
    sl_dbx_client *c;
    sl_dbx_call call;       /* the caller's, with the ask deadline */
    sl_dbx_genie_state *st; /* never NULL here */
    int64_t budget_ms;      /* deadline - start, or -1 without a deadline */
    int64_t poll_initial_ms, poll_max_ms;
} ask;

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

static char *dup_or_null(const char *s)
{
    return s ? sl_xstrdup(s) : NULL;
}

static void progress(ask *a, const char *op, const char *id, const char *state)
{
    if (!a->call.progress)
        return;
    sl_dbx_progress p = {
        .op = op, .id = id, .state = state, .polls = a->st->polls, .bytes_total = -1};
    a->call.progress(a->call.progress_arg, &p);
}

/*
 * A step failed with rc. When the cause is our own deadline or the caller's cancel (not a
 * 504 or a server-side cancel), say so in one line that tells where the ask got to.
 */
static sl_code interrupted(ask *a, sl_code rc, const char *doing, sl_err *err)
{
    if (rc != SL_ETIMEOUT && rc != SL_ECANCELED)
        return rc;
    sl_code why = sl__dbx_check_call(&a->call, NULL);
    if (why == SL_OK)
        return rc; /* a remote timeout or cancel: keep the transport's error */
    const sl_dbx_genie_state *st = a->st;
    char where[200];
    if (st->message_id[0])
        snprintf(where, sizeof(where), "message %.40s still %s after %d poll%s; conversation %.40s",
                 st->message_id, st->status[0] ? st->status : "unknown", st->polls,
                 st->polls == 1 ? "" : "s", st->conversation_id);
    else
        snprintf(where, sizeof(where), "while %s", doing);
    if (why == SL_ETIMEOUT) {
        char d[32];
        if (a->budget_ms >= 0)
            sl_duration_format(a->budget_ms, d, sizeof(d));
        sl_err_set(err, SL_ETIMEOUT, "no answer from Genie within %s (%s)",
                   a->budget_ms >= 0 ? d : "the deadline", where);
    } else {
        sl_err_set(err, SL_ECANCELED, "canceled while waiting for Genie (%s)", where);
    }
    if (err)
        err->retryable = false; /* asking again would be a new question; resume instead */
    return why;
}

/* The space: explicit, else the configured GENIE_SPACE_ID, else the first visible one. */
static sl_code resolve_space(ask *a, const char *explicit_id, sl_err *err)
{
    sl_dbx_genie_state *st = a->st;
    if (explicit_id && *explicit_id) {
        COPY(st->space_id, explicit_id);
        return SL_OK;
    }
    if (a->c->s.genie_space_id && *a->c->s.genie_space_id) {
        COPY(st->space_id, a->c->s.genie_space_id);
        return SL_OK;
    }
    json_t *spaces = NULL;
    sl_code rc = sl_dbx_genie_space_list(a->c, 1, &a->call, &spaces, err);
    if (rc != SL_OK) {
        rc = interrupted(a, rc, "listing Genie spaces", err);
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
    sl__dbx_log(a->c, SL_LOG_INFO, "dbx: GENIE_SPACE_ID not set; using Genie space %s '%s'",
                st->space_id, st->space_title);
    json_decref(spaces);
    return SL_OK;
}

/* Send the question: start a conversation, or add a message to one. */
static sl_code send_question(ask *a, const char *question, const sl_dbx_genie_ask_opts *o,
                             sl_err *err)
{
    sl_dbx_genie_state *st = a->st;
    json_t *resp = NULL;
    sl_code rc;
    const char *cid, *mid, *status;
    if (o->conversation_id && *o->conversation_id) {
        rc = sl_dbx_genie_message_create(a->c, st->space_id, o->conversation_id, question, &a->call,
                                         &resp, err);
        if (rc != SL_OK)
            return interrupted(a, rc, "sending the question", err);
        cid = sl__dbx_jstr(resp, "conversation_id");
        mid = sl__dbx_jstr(resp, "message_id");
        if (!mid)
            mid = sl__dbx_jstr(resp, "id");
        status = sl__dbx_jstr(resp, "status");
        if (!cid)
            cid = o->conversation_id;
    } else {
        rc = sl_dbx_genie_conversation_start(a->c, st->space_id, question, &a->call, &resp, err);
        if (rc != SL_OK)
            return interrupted(a, rc, "sending the question", err);
        cid = sl__dbx_jstr(resp, "conversation_id");
        mid = sl__dbx_jstr(resp, "message_id");
        status = sl__dbx_jstr(json_object_get(resp, "message"), "status");
    }
    if (!mid || !*mid) {
        json_decref(resp);
        return sl_err_set(err, SL_EREMOTE, "send Genie question: the response has no message id");
    }
    COPY(st->conversation_id, cid);
    COPY(st->message_id, mid);
    COPY(st->status, status);
    json_decref(resp);
    return SL_OK;
}

/* Poll the message until its status is terminal; *out = the message (owned). */
static sl_code wait_message(ask *a, json_t **out, sl_err *err)
{
    sl_dbx_genie_state *st = a->st;
    int64_t interval = a->poll_initial_ms;
    *out = NULL;
    for (;;) {
        json_t *msg = NULL;
        sl_code rc = sl_dbx_genie_message_get(a->c, st->space_id, st->conversation_id,
                                              st->message_id, &a->call, &msg, err);
        if (rc != SL_OK)
            return interrupted(a, rc, "polling the message", err);
        st->polls++;
        const char *status = sl__dbx_jstr(msg, "status");
        COPY(st->status, status ? status : "unknown");
        progress(a, "genie message", st->message_id, st->status);
        if (sl_dbx_genie_status_is_terminal(status)) {
            *out = msg;
            return SL_OK;
        }
        json_decref(msg);
        if ((rc = sl__dbx_sleep(&a->call, interval, err)) != SL_OK)
            return interrupted(a, rc, "polling the message", err);
        interval = sl__dbx_poll_next(interval, a->poll_max_ms);
    }
}

/* FAILED and CANCELLED are errors carrying Genie's own words. */
static sl_code message_verdict(ask *a, const json_t *msg, sl_err *err)
{
    sl_dbx_genie_state *st = a->st;
    if (strcmp(st->status, "FAILED") == 0) {
        st->genie_failed = true;
        sl_err tmp;
        sl_err_clear(&tmp);
        sl_code rc = sl_dbx_genie_message_error(msg, &tmp); /* code, retryable, error_code */
        if (rc == SL_OK)
            rc = tmp.code = SL_EREMOTE;
        const json_t *e = json_object_get(msg, "error");
        const char *type = sl__dbx_jstr(e, "type");
        const char *text = sl__dbx_jstr(e, "error");
        if (!text && json_is_string(e))
            text = json_string_value(e);
        if (!text)
            text = sl__dbx_jstr(e, "message");
        if (type && *type)
            snprintf(tmp.msg, sizeof(tmp.msg), "Genie failed: %s (%s)",
                     text ? text : "no reason given", type);
        else
            snprintf(tmp.msg, sizeof(tmp.msg), "Genie failed: %s", text ? text : "no reason given");
        sl_dbx_redact_buf(tmp.msg, sizeof(tmp.msg), NULL);
        sl__dbx_redact_err(a->c, &tmp);
        if (err)
            *err = tmp;
        return rc;
    }
    if (strcmp(st->status, "CANCELLED") == 0) {
        st->genie_failed = true;
        sl_err_set(err, SL_EREMOTE, "Genie cancelled message %s (conversation %s)", st->message_id,
                   st->conversation_id);
        if (err) {
            err->retryable = false;
            snprintf(err->error_code, sizeof(err->error_code), "CANCELLED");
        }
        return SL_EREMOTE;
    }
    return SL_OK;
}

static void append_text(char **acc, const char *text)
{
    if (!text || !*text)
        return;
    if (!*acc) {
        *acc = sl_xstrdup(text);
        return;
    }
    char *joined = sl_xasprintf("%s\n%s", *acc, text);
    free(*acc);
    *acc = joined;
}

static bool collect_row(void *arg, const json_t *columns, const json_t *row)
{
    (void)columns;
    json_array_append((json_t *)arg, (json_t *)row);
    return true;
}

/* GET query-result or POST execute-query for the answer's query attachment. */
static sl_code result_call(ask *a, sl_dbx_genie_answer *ans, bool execute, json_t **out,
                           sl_err *err)
{
    sl_dbx_genie_state *st = a->st;
    sl_code rc = execute
                     ? sl_dbx_genie_attachment_execute_query(a->c, st->space_id,
                                                             st->conversation_id, st->message_id,
                                                             ans->attachment_id, &a->call, out, err)
                     : sl_dbx_genie_attachment_query_result(a->c, st->space_id, st->conversation_id,
                                                            st->message_id, ans->attachment_id,
                                                            &a->call, out, err);
    if (rc != SL_OK)
        return interrupted(a, rc, "fetching the query result", err);
    st->polls++;
    return SL_OK;
}

/*
 * Rows of the query attachment: poll its statement until SUCCEEDED (re-executing an
 * expired result once), then read every chunk.
 */
static sl_code fetch_result(ask *a, sl_dbx_genie_answer *ans, bool expired, sl_err *err)
{
    json_t *resp = NULL;
    int64_t interval = a->poll_initial_ms;
    sl_code rc = result_call(a, ans, expired, &resp, err);
    ans->reexecuted = expired;
    const json_t *sr = NULL;
    for (; rc == SL_OK;) {
        sr = json_object_get(resp, "statement_response");
        const char *state = sl__dbx_jstr(json_object_get(sr, "status"), "state");
        progress(a, "genie query result", ans->attachment_id, state);
        if (!sr || !state) {
            rc = sl_err_set(err, SL_EREMOTE,
                            "query result of Genie message %s: the response has no statement "
                            "state",
                            a->st->message_id);
            break;
        }
        const char *sid = sl__dbx_jstr(sr, "statement_id");
        if (sid && !sl_str_eq(sid, ans->statement_id)) {
            free(ans->statement_id);
            ans->statement_id = sl_xstrdup(sid);
        }
        if (strcmp(state, "SUCCEEDED") == 0)
            break;
        if (strcmp(state, "CLOSED") == 0 && !ans->reexecuted) {
            json_decref(resp);
            resp = NULL;
            ans->reexecuted = true;
            rc = result_call(a, ans, true, &resp, err);
            continue;
        }
        if (sl_dbx_statement_state_is_terminal(state)) {
            rc = sl_dbx_statement_error(sr, err);
            if (rc == SL_OK)
                rc = sl_err_set(err, SL_EREMOTE, "statement %s ended %s", sid ? sid : "?", state);
            sl_err_prefix(err, "query result of Genie message %s", a->st->message_id);
            break;
        }
        json_decref(resp); /* PENDING or RUNNING */
        resp = NULL;
        if ((rc = sl__dbx_sleep(&a->call, interval, err)) != SL_OK) {
            rc = interrupted(a, rc, "waiting for the query result", err);
            break;
        }
        interval = sl__dbx_poll_next(interval, a->poll_max_ms);
        rc = result_call(a, ans, false, &resp, err);
    }
    if (rc == SL_OK) {
        const json_t *manifest = json_object_get(sr, "manifest");
        json_t *cols = json_object_get(json_object_get(manifest, "schema"), "columns");
        if (json_is_array(cols)) {
            json_decref(ans->columns);
            ans->columns = json_incref(cols);
        }
        if (json_is_true(json_object_get(manifest, "truncated")))
            ans->truncated = true;
        rc = sl_dbx_statement_fetch(a->c, sr, &a->call, collect_row, ans->rows, err);
        if (rc != SL_OK)
            rc = interrupted(a, rc, "fetching the query result", err);
    }
    json_decref(resp);
    return rc;
}

/* Text, SQL and rows of a terminal (COMPLETED or QUERY_RESULT_EXPIRED) message. */
static sl_code collect(ask *a, const json_t *msg, sl_dbx_genie_answer *ans, sl_err *err)
{
    bool expired = strcmp(a->st->status, "QUERY_RESULT_EXPIRED") == 0;
    const json_t *query_att = NULL;
    size_t i;
    const json_t *att;
    json_array_foreach(json_object_get(msg, "attachments"), i, att)
    {
        const json_t *text = json_object_get(att, "text");
        if (text)
            append_text(&ans->text, sl__dbx_jstr(text, "content"));
        if (json_object_get(att, "query") && !query_att)
            query_att = att;
    }
    if (!query_att)
        return SL_OK;
    const json_t *q = json_object_get(query_att, "query");
    ans->sql = dup_or_null(sl__dbx_jstr(q, "query"));
    ans->description = dup_or_null(sl__dbx_jstr(q, "description"));
    ans->title = dup_or_null(sl__dbx_jstr(q, "title"));
    ans->statement_id = dup_or_null(sl__dbx_jstr(q, "statement_id"));
    const char *aid = sl__dbx_jstr(query_att, "attachment_id");
    ans->attachment_id = dup_or_null(aid ? aid : sl__dbx_jstr(q, "id"));
    const json_t *meta = json_object_get(q, "query_result_metadata");
    if (json_is_true(json_object_get(meta, "is_truncated")))
        ans->truncated = true;
    /* A query that was never run has no statement and no result to read. */
    if (!ans->attachment_id || (!ans->statement_id && !expired))
        return SL_OK;
    sl_code rc = fetch_result(a, ans, expired, err);
    if (rc == SL_OK && ans->reexecuted) {
        free(ans->status);
        ans->status = sl_xstrdup("COMPLETED");
    }
    return rc;
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

    ask a = {.c = c, .st = st};
    if (call)
        a.call = *call;
    int64_t now = sl_now_ms();
    int64_t timeout = o->timeout_ms == 0 ? SL_DBX_GENIE_TIMEOUT_MS : o->timeout_ms;
    if (timeout > 0 && (a.call.deadline_ms == 0 || now + timeout < a.call.deadline_ms))
        a.call.deadline_ms = now + timeout;
    a.budget_ms = -1;
    if (a.call.deadline_ms > 0)
        a.budget_ms = a.call.deadline_ms > now ? a.call.deadline_ms - now : 0;
    a.poll_initial_ms =
        a.call.poll_initial_ms > 0 ? a.call.poll_initial_ms : SL_DBX_GENIE_POLL_INITIAL_MS;
    a.poll_max_ms = a.call.poll_max_ms > 0 ? a.call.poll_max_ms : SL_DBX_GENIE_POLL_MAX_MS;
    if (a.poll_initial_ms > a.poll_max_ms)
        a.poll_initial_ms = a.poll_max_ms;

    json_t *msg = NULL;
    sl_dbx_genie_answer *ans = NULL;
    sl_code rc;
    if ((rc = resolve_space(&a, o->space_id, err)) != SL_OK)
        goto out;
    if (resume) {
        COPY(st->conversation_id, o->conversation_id);
        COPY(st->message_id, o->message_id);
    } else if ((rc = send_question(&a, question, o, err)) != SL_OK) {
        goto out;
    }
    if ((rc = wait_message(&a, &msg, err)) != SL_OK)
        goto out;
    if ((rc = message_verdict(&a, msg, err)) != SL_OK)
        goto out;
    ans = sl_xcalloc(1, sizeof(*ans));
    ans->space_id = sl_xstrdup(st->space_id);
    ans->conversation_id = sl_xstrdup(st->conversation_id);
    ans->message_id = sl_xstrdup(st->message_id);
    ans->status = sl_xstrdup(st->status);
    ans->columns = sl_json_check(json_array());
    ans->rows = sl_json_check(json_array());
    if ((rc = collect(&a, msg, ans, err)) != SL_OK)
        goto out;
    *out = ans;
    ans = NULL;
out:
    sl_dbx_genie_answer_free(ans);
    json_decref(msg);
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
