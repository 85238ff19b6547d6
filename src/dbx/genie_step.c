/*
 * genie_step.c - the Genie ask as a step function with no I/O (see "The ask as a step
 * function" in dbx.h): each call takes the outcome of the request it last asked for and
 * returns the next request, a wait, or the end. sl_dbx_genie_ask (genie_ask.c) runs it
 * on the blocking transport, the load generator on sl_dbx_async.
 *
 *   INIT --> SEND --reply--> (message terminal? ------------------------------.)
 *             |                 no: WAIT_POLL --> MSG --not terminal--> WAIT_POLL
 *   (resume) -'------------------------------------> MSG --terminal------------+
 *                                                                              v
 *     FAILED/CANCELLED -> FAILED            COMPLETED/QUERY_RESULT_EXPIRED -> collect
 *     collect: no query that ran -> DONE; else RESULT (GET query-result | POST
 *     execute-query) --PENDING/RUNNING--> WAIT_POLL --> RESULT; --CLOSED (once)-->
 *     RESULT (execute-query); --SUCCEEDED--> [CHUNK ...] -> DONE; other end -> FAILED
 *   any request --429/503, retries left--> WAIT_RETRY --> the same request again
 *
 * Invariants: (1) at most one request is outstanding, and the phase names what its
 * reply is; (2) every wait ends by the deadline, and a call at or past the deadline
 * fails the ask (SL_ETIMEOUT) instead of sending; (3) FAILED and CANCELLED are failures,
 * never answers.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "dbx_int.h"

#define COPY(dst, src) snprintf((dst), sizeof(dst), "%s", (src) ? (src) : "")

typedef enum {
    P_INIT,
    P_SEND,
    P_MSG,
    P_RESULT,
    P_CHUNK,
    P_WAIT_POLL,
    P_WAIT_RETRY,
    P_DONE,
    P_FAILED
} phase;

struct sl_dbx_genie_step {
    sl_dbx_genie_step_opts o; /* strings below are owned copies */
    char *space_id, *question, *conversation_id, *message_id;
    sl_dbx_genie_state st;
    phase ph;
    phase after_wait;   /* WAIT_POLL: what to poll next (P_MSG or P_RESULT) */
    phase waiting_for;  /* WAIT_RETRY: the phase of the request to send again */
    const char *doing;  /* for the timeout message: "polling the message", ... */
    sl_dbx_request req; /* the outstanding (or last) request; owns path and body */
    int attempts;       /* re-sends of req */
    int64_t interval_ms;
    int64_t now_ms;     /* of the current call */
    json_t *message;    /* last GenieMessage seen */
    json_t *columns;    /* borrowed from ans->columns while reading chunks */
    int64_t total_rows; /* manifest.total_row_count, or -1 */
    bool have_result;   /* a SUCCEEDED query result was read */
    int64_t msg_bytes, result_bytes, chunk_bytes;
    char result_state[32]; /* of the last query-result reply (for progress) */
    int n_chunks;
    sl_dbx_genie_answer *ans;
    bool ans_taken;
    sl_err err;
};

void sl_dbx_genie_step_opts_init(sl_dbx_genie_step_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->budget_ms = -1;
    sl_dbx_retry_policy_init(&o->retry);
}

static char *dup_or_null(const char *s)
{
    return s && *s ? sl_xstrdup(s) : NULL;
}

sl_code sl_dbx_genie_step_new(const sl_dbx_genie_step_opts *o, sl_dbx_genie_step **out, sl_err *err)
{
    *out = NULL;
    bool resume = o->message_id && *o->message_id;
    if (!o->space_id || !*o->space_id)
        return sl_err_set(err, SL_EINVAL, "ask Genie: no space");
    if (!resume && (!o->question || !*o->question))
        return sl_err_set(err, SL_EINVAL, "ask Genie: empty question");
    if (resume && !(o->conversation_id && *o->conversation_id))
        return sl_err_set(err, SL_EINVAL, "ask Genie: resuming message %s needs its conversation",
                          o->message_id);
    sl_dbx_genie_step *g = sl_xcalloc(1, sizeof(*g));
    g->o = *o;
    g->space_id = sl_xstrdup(o->space_id);
    g->question = dup_or_null(o->question);
    g->conversation_id = dup_or_null(o->conversation_id);
    g->message_id = dup_or_null(o->message_id);
    g->o.space_id = g->space_id;
    g->o.question = g->question;
    g->o.conversation_id = g->conversation_id;
    g->o.message_id = g->message_id;
    if (g->o.poll_initial_ms <= 0)
        g->o.poll_initial_ms = SL_DBX_GENIE_POLL_INITIAL_MS;
    if (g->o.poll_max_ms <= 0)
        g->o.poll_max_ms = SL_DBX_GENIE_POLL_MAX_MS;
    if (g->o.poll_initial_ms > g->o.poll_max_ms)
        g->o.poll_initial_ms = g->o.poll_max_ms;
    COPY(g->st.space_id, g->space_id);
    g->ph = P_INIT;
    g->total_rows = -1;
    sl_err_clear(&g->err);
    *out = g;
    return SL_OK;
}

void sl_dbx_genie_step_free(sl_dbx_genie_step *g)
{
    if (!g)
        return;
    free(g->space_id);
    free(g->question);
    free(g->conversation_id);
    free(g->message_id);
    sl_dbx_request_cleanup(&g->req);
    json_decref(g->message);
    if (!g->ans_taken)
        sl_dbx_genie_answer_free(g->ans);
    free(g);
}

const sl_dbx_genie_state *sl_dbx_genie_step_state(const sl_dbx_genie_step *g)
{
    return &g->st;
}

const sl_err *sl_dbx_genie_step_error(const sl_dbx_genie_step *g)
{
    return &g->err;
}

const sl_dbx_genie_answer *sl_dbx_genie_step_answer(const sl_dbx_genie_step *g)
{
    return g->ans_taken ? NULL : g->ans;
}

sl_dbx_genie_answer *sl_dbx_genie_step_take_answer(sl_dbx_genie_step *g)
{
    if (g->ph != P_DONE || g->ans_taken)
        return NULL;
    g->ans_taken = true;
    return g->ans;
}

const json_t *sl_dbx_genie_step_message(const sl_dbx_genie_step *g)
{
    return g->message;
}

/* ---- endings ---- */

static sl_dbx_genie_step_kind fail(sl_dbx_genie_step *g, sl_dbx_genie_next *out)
{
    g->ph = P_FAILED;
    out->kind = SL_DBX_GENIE_STEP_FAILED;
    return out->kind;
}

static sl_dbx_genie_step_kind fail_with(sl_dbx_genie_step *g, sl_dbx_genie_next *out, sl_code code,
                                        const char *fmt, ...) SL_PRINTF(4, 5);
static sl_dbx_genie_step_kind fail_with(sl_dbx_genie_step *g, sl_dbx_genie_next *out, sl_code code,
                                        const char *fmt, ...)
{
    char msg[sizeof(g->err.msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sl_err_clear(&g->err);
    sl_err_set(&g->err, code, "%s", msg);
    return fail(g, out);
}

void sl__dbx_genie_where(const sl_dbx_genie_state *st, const char *doing, char *buf, size_t n)
{
    if (st->message_id[0])
        snprintf(buf, n, "message %.40s still %s after %d poll%s; conversation %.40s",
                 st->message_id, st->status[0] ? st->status : "unknown", st->polls,
                 st->polls == 1 ? "" : "s", st->conversation_id);
    else
        snprintf(buf, n, "while %s", doing ? doing : "asking");
}

static sl_dbx_genie_step_kind fail_timeout(sl_dbx_genie_step *g, sl_dbx_genie_next *out)
{
    char where[200], d[32];
    sl__dbx_genie_where(&g->st, g->doing, where, sizeof(where));
    if (g->o.budget_ms >= 0)
        sl_duration_format(g->o.budget_ms, d, sizeof(d));
    sl_dbx_genie_step_kind k = fail_with(g, out, SL_ETIMEOUT, "no answer from Genie within %s (%s)",
                                         g->o.budget_ms >= 0 ? d : "the deadline", where);
    g->err.retryable = false; /* asking again would be a new question; resume instead */
    return k;
}

static bool past_deadline(const sl_dbx_genie_step *g)
{
    return g->o.deadline_ms > 0 && g->now_ms >= g->o.deadline_ms;
}

static void finish_answer(sl_dbx_genie_step *g)
{
    sl_dbx_genie_answer *a = g->ans;
    if (a->reexecuted) {
        free(a->status);
        a->status = sl_xstrdup("COMPLETED");
    }
    if (g->have_result)
        a->row_count = g->total_rows >= 0 ? g->total_rows : (int64_t)json_array_size(a->rows);
    a->response_bytes = g->msg_bytes + g->result_bytes + g->chunk_bytes;
}

static sl_dbx_genie_step_kind done(sl_dbx_genie_step *g, sl_dbx_genie_next *out)
{
    finish_answer(g);
    g->ph = P_DONE;
    out->kind = SL_DBX_GENIE_STEP_DONE;
    return out->kind;
}

/* ---- requests and waits ---- */

/* Send g->req (already built) and expect its reply in phase `ph`. */
static sl_dbx_genie_step_kind issue(sl_dbx_genie_step *g, sl_dbx_genie_next *out, phase ph)
{
    if (past_deadline(g))
        return fail_timeout(g, out);
    g->req.timeout_ms = g->o.deadline_ms > 0 ? g->o.deadline_ms - g->now_ms : 0;
    g->ph = ph;
    out->kind = SL_DBX_GENIE_STEP_REQUEST;
    out->req = &g->req;
    return out->kind;
}

/* A new request: method, owned path, owned body (may be NULL), what. */
static void build(sl_dbx_genie_step *g, const char *method, char *path, char *body,
                  const char *doing, const char *what_fmt, const char *what_arg)
{
    sl_dbx_request_cleanup(&g->req);
    sl_dbx_request_init(&g->req, method, path);
    g->req.own_path = path;
    g->req.body = g->req.own_body = body;
    snprintf(g->req.what, sizeof(g->req.what), what_fmt, what_arg);
    g->attempts = 0;
    g->doing = doing;
}

static sl_dbx_genie_step_kind send_question(sl_dbx_genie_step *g, sl_dbx_genie_next *out)
{
    json_t *b = sl_json_check(json_object());
    json_object_set_new(b, "content", sl_json_check(json_string(g->question)));
    char *body = sl_json_dumps(b);
    json_decref(b);
    if (g->conversation_id)
        build(g, "POST",
              sl__dbx_genie_path(g->space_id, g->conversation_id, NULL, NULL, "/messages"), body,
              "sending the question", "send Genie message to conversation %.100s",
              g->conversation_id);
    else
        build(g, "POST", sl__dbx_genie_path(g->space_id, NULL, NULL, NULL, "/start-conversation"),
              body, "sending the question", "start Genie conversation in space %.100s",
              g->space_id);
    return issue(g, out, P_SEND);
}

static sl_dbx_genie_step_kind poll_message(sl_dbx_genie_step *g, sl_dbx_genie_next *out)
{
    build(g, "GET",
          sl__dbx_genie_path(g->space_id, g->st.conversation_id, g->st.message_id, NULL, NULL),
          NULL, "polling the message", "get Genie message %.100s", g->st.message_id);
    return issue(g, out, P_MSG);
}

static sl_dbx_genie_step_kind fetch_result(sl_dbx_genie_step *g, sl_dbx_genie_next *out,
                                           bool execute)
{
    const char *aid = g->ans->attachment_id;
    char *path = sl__dbx_genie_path(g->space_id, g->st.conversation_id, g->st.message_id, aid,
                                    execute ? "/execute-query" : "/query-result");
    if (execute)
        build(g, "POST", path, NULL, "fetching the query result",
              "re-run query of Genie attachment %.100s", aid);
    else
        build(g, "GET", path, NULL, "fetching the query result",
              "get query result of Genie attachment %.100s", aid);
    return issue(g, out, P_RESULT);
}

/* Wait one poll interval (never past the deadline), then poll `next`. */
static sl_dbx_genie_step_kind poll_wait(sl_dbx_genie_step *g, sl_dbx_genie_next *out, phase next,
                                        const char *doing)
{
    int64_t wait = g->interval_ms;
    if (g->o.deadline_ms > 0 && g->now_ms + wait > g->o.deadline_ms)
        wait = g->o.deadline_ms > g->now_ms ? g->o.deadline_ms - g->now_ms : 0;
    g->interval_ms = sl__dbx_poll_next(g->interval_ms, g->o.poll_max_ms);
    g->after_wait = next;
    g->doing = doing;
    g->ph = P_WAIT_POLL;
    out->kind = SL_DBX_GENIE_STEP_WAIT;
    out->wait_ms = wait;
    return out->kind;
}

static void progress(sl_dbx_genie_next *out, const char *op, const char *id, const char *state,
                     int polls)
{
    out->progress.op = op;
    out->progress.id = id;
    out->progress.state = state;
    out->progress.polls = polls;
    out->progress.bytes_total = -1;
}

/* ---- replies ---- */

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

/* FAILED and CANCELLED are failures carrying Genie's own words. */
static sl_dbx_genie_step_kind verdict(sl_dbx_genie_step *g, const json_t *msg,
                                      sl_dbx_genie_next *out)
{
    sl_dbx_genie_state *st = &g->st;
    st->genie_failed = true;
    sl_err *e = &g->err;
    sl_err_clear(e);
    if (strcmp(st->status, "FAILED") == 0) {
        sl_code rc = sl_dbx_genie_message_error(msg, e); /* code, retryable, error_code */
        if (rc == SL_OK)
            e->code = SL_EREMOTE;
        const json_t *je = json_object_get(msg, "error");
        const char *type = sl__dbx_jstr(je, "type");
        const char *text = sl__dbx_jstr(je, "error");
        if (!text && json_is_string(je))
            text = json_string_value(je);
        if (!text)
            text = sl__dbx_jstr(je, "message");
        if (type && *type)
            snprintf(e->msg, sizeof(e->msg), "Genie failed: %s (%s)",
                     text ? text : "no reason given", type);
        else
            snprintf(e->msg, sizeof(e->msg), "Genie failed: %s", text ? text : "no reason given");
        sl_dbx_redact_buf(e->msg, sizeof(e->msg), NULL);
        return fail(g, out);
    }
    fail_with(g, out, SL_EREMOTE, "Genie cancelled message %s (conversation %s)", st->message_id,
              st->conversation_id);
    e->retryable = false;
    snprintf(e->error_code, sizeof(e->error_code), "CANCELLED");
    return out->kind;
}

/* Text, SQL and (when a query ran) the result of a COMPLETED or expired message. */
static sl_dbx_genie_step_kind collect(sl_dbx_genie_step *g, const json_t *msg,
                                      sl_dbx_genie_next *out)
{
    sl_dbx_genie_state *st = &g->st;
    bool expired = strcmp(st->status, "QUERY_RESULT_EXPIRED") == 0;
    sl_dbx_genie_answer *a = sl_xcalloc(1, sizeof(*a));
    g->ans = a;
    a->space_id = sl_xstrdup(st->space_id);
    a->conversation_id = sl_xstrdup(st->conversation_id);
    a->message_id = sl_xstrdup(st->message_id);
    a->status = sl_xstrdup(st->status);
    a->columns = sl_json_check(json_array());
    a->rows = sl_json_check(json_array());
    a->row_count = -1;
    const json_t *query_att = NULL;
    size_t i;
    const json_t *att;
    json_array_foreach(json_object_get(msg, "attachments"), i, att)
    {
        const json_t *text = json_object_get(att, "text");
        if (text)
            append_text(&a->text, sl__dbx_jstr(text, "content"));
        if (json_object_get(att, "query") && !query_att)
            query_att = att;
    }
    if (!query_att)
        return done(g, out);
    const json_t *q = json_object_get(query_att, "query");
    a->sql = dup_or_null(sl__dbx_jstr(q, "query"));
    a->description = dup_or_null(sl__dbx_jstr(q, "description"));
    a->title = dup_or_null(sl__dbx_jstr(q, "title"));
    a->statement_id = dup_or_null(sl__dbx_jstr(q, "statement_id"));
    const char *aid = sl__dbx_jstr(query_att, "attachment_id");
    a->attachment_id = dup_or_null(aid ? aid : sl__dbx_jstr(q, "id"));
    const json_t *meta = json_object_get(q, "query_result_metadata");
    if (json_is_true(json_object_get(meta, "is_truncated")))
        a->truncated = true;
    /* A query that was never run has no statement and no result to read. */
    if (!a->attachment_id || (!a->statement_id && !expired))
        return done(g, out);
    g->interval_ms = g->o.poll_initial_ms;
    a->reexecuted = expired;
    return fetch_result(g, out, expired);
}

/* The message status in `msg` decides: terminal -> verdict or collect, else poll again. */
static sl_dbx_genie_step_kind on_message(sl_dbx_genie_step *g, json_t *msg, size_t len,
                                         sl_dbx_genie_next *out)
{
    const char *status = g->st.status;
    g->msg_bytes = (int64_t)len;
    if (strcmp(status, "FAILED") == 0 || strcmp(status, "CANCELLED") == 0) {
        json_decref(g->message); /* kept for Genie's own words (the only one kept) */
        g->message = json_incref(msg);
        return verdict(g, msg, out);
    }
    if (strcmp(status, "COMPLETED") == 0 || strcmp(status, "QUERY_RESULT_EXPIRED") == 0)
        return collect(g, msg, out);
    return poll_wait(g, out, P_MSG, "polling the message");
}

static sl_dbx_genie_step_kind on_send(sl_dbx_genie_step *g, json_t *j, size_t len,
                                      sl_dbx_genie_next *out)
{
    sl_dbx_genie_state *st = &g->st;
    const char *cid, *mid, *status;
    json_t *msg;
    if (g->conversation_id) { /* the reply is the GenieMessage itself */
        msg = j;
        cid = sl__dbx_jstr(j, "conversation_id");
        mid = sl__dbx_jstr(j, "message_id");
        if (!mid)
            mid = sl__dbx_jstr(j, "id");
        if (!cid)
            cid = g->conversation_id;
    } else {
        msg = json_object_get(j, "message");
        cid = sl__dbx_jstr(j, "conversation_id");
        mid = sl__dbx_jstr(j, "message_id");
        if (!cid || !mid)
            return fail_with(g, out, SL_EREMOTE, "%s: response lacks conversation_id/message_id",
                             g->req.what);
    }
    status = sl__dbx_jstr(msg, "status");
    if (!mid || !*mid)
        return fail_with(g, out, SL_EREMOTE, "send Genie question: the response has no message id");
    COPY(st->conversation_id, cid);
    COPY(st->message_id, mid);
    COPY(st->status, status);
    g->interval_ms = g->o.poll_initial_ms;
    if (json_is_object(msg) && sl_dbx_genie_status_is_terminal(status))
        return on_message(g, msg, len, out);
    return poll_wait(g, out, P_MSG, "polling the message");
}

static sl_dbx_genie_step_kind on_poll(sl_dbx_genie_step *g, json_t *msg, size_t len,
                                      sl_dbx_genie_next *out)
{
    sl_dbx_genie_state *st = &g->st;
    st->polls++;
    const char *status = sl__dbx_jstr(msg, "status");
    COPY(st->status, status ? status : "unknown");
    progress(out, "genie message", st->message_id, st->status, st->polls);
    return on_message(g, msg, len, out);
}

/* The next chunk to read after `chunk`, or done. */
static sl_dbx_genie_step_kind next_chunk(sl_dbx_genie_step *g, const json_t *chunk,
                                         sl_dbx_genie_next *out)
{
    sl_dbx_genie_answer *a = g->ans;
    bool stop = false;
    sl_code rc = sl__dbx_chunk_feed(chunk, g->columns, collect_row, a->rows, &stop, &g->err);
    char *path = NULL;
    if (rc == SL_OK)
        rc = sl__dbx_chunk_next_path(a->statement_id, chunk, &path, &g->err);
    if (rc != SL_OK)
        return fail(g, out);
    if (!path)
        return done(g, out);
    if (++g->n_chunks > 1000000) {
        free(path);
        return fail_with(g, out, SL_EREMOTE, "statement %s: too many result chunks",
                         a->statement_id);
    }
    build(g, "GET", path, NULL, "fetching the query result",
          "fetch result chunk of statement %.100s", a->statement_id);
    return issue(g, out, P_CHUNK);
}

static sl_dbx_genie_step_kind rows(sl_dbx_genie_step *g, const json_t *sr, sl_dbx_genie_next *out)
{
    sl_dbx_genie_answer *a = g->ans;
    const json_t *manifest = json_object_get(sr, "manifest");
    json_t *cols = json_object_get(json_object_get(manifest, "schema"), "columns");
    if (json_is_array(cols)) {
        json_decref(a->columns);
        a->columns = json_incref(cols);
    }
    g->columns = a->columns;
    g->have_result = true;
    if (json_is_true(json_object_get(manifest, "truncated")))
        a->truncated = true;
    const json_t *tr = json_object_get(manifest, "total_row_count");
    g->total_rows = json_is_integer(tr) ? json_integer_value(tr) : -1;
    const json_t *first = json_object_get(sr, "result");
    if (g->o.first_chunk_only) {
        json_t *data = json_object_get(first, "data_array");
        if (json_is_array(data)) {
            json_decref(a->rows);
            a->rows = json_incref(data);
        }
        return done(g, out);
    }
    if (first)
        return next_chunk(g, first, out);
    json_int_t total_chunks = json_integer_value(json_object_get(manifest, "total_chunk_count"));
    if (total_chunks <= 0)
        return done(g, out);
    json_t *from0 = sl_json_check(json_pack("{s:i}", "next_chunk_index", 0));
    sl_dbx_genie_step_kind k = next_chunk(g, from0, out);
    json_decref(from0);
    return k;
}

static sl_dbx_genie_step_kind on_result(sl_dbx_genie_step *g, json_t *j, size_t len,
                                        sl_dbx_genie_next *out)
{
    sl_dbx_genie_answer *a = g->ans;
    g->st.polls++;
    g->result_bytes = (int64_t)len;
    const json_t *sr = json_object_get(j, "statement_response");
    const char *state = sl__dbx_jstr(json_object_get(sr, "status"), "state");
    COPY(g->result_state, state); /* the reply is freed before the caller sees progress */
    progress(out, "genie query result", a->attachment_id, state ? g->result_state : NULL,
             g->st.polls);
    if (!sr || !state)
        return fail_with(g, out, SL_EREMOTE,
                         "query result of Genie message %s: the response has no statement state",
                         g->st.message_id);
    const char *sid = sl__dbx_jstr(sr, "statement_id");
    if (sid && !sl_str_eq(sid, a->statement_id)) {
        free(a->statement_id);
        a->statement_id = sl_xstrdup(sid);
    }
    if (strcmp(state, "SUCCEEDED") == 0)
        return rows(g, sr, out);
    if (strcmp(state, "CLOSED") == 0 && !a->reexecuted) {
        a->reexecuted = true;
        return fetch_result(g, out, true);
    }
    if (sl_dbx_statement_state_is_terminal(state)) {
        g->st.result_failed = true;
        sl_err_clear(&g->err);
        sl_code rc = sl_dbx_statement_error(sr, &g->err);
        if (rc == SL_OK)
            sl_err_set(&g->err, SL_EREMOTE, "statement %s ended %s", sid ? sid : "?", state);
        sl_err_prefix(&g->err, "query result of Genie message %s", g->st.message_id);
        return fail(g, out);
    }
    /* PENDING or RUNNING: poll the result (not execute) again */
    g->doing = "waiting for the query result";
    return poll_wait(g, out, P_RESULT, "waiting for the query result");
}

static sl_dbx_genie_step_kind on_chunk(sl_dbx_genie_step *g, json_t *j, size_t len,
                                       sl_dbx_genie_next *out)
{
    g->chunk_bytes += (int64_t)len;
    return next_chunk(g, j, out);
}

/* A request failed: wait out a 429/503 and send it again, or fail with its error. */
static sl_dbx_genie_step_kind on_failure(sl_dbx_genie_step *g, const sl_dbx_response *last,
                                         sl_dbx_genie_next *out)
{
    const sl_err *e = last->err;
    if (e->code == SL_ETIMEOUT && past_deadline(g))
        return fail_timeout(g, out);
    int64_t delay = sl_dbx_retry_delay_ms(e, g->attempts, g->o.max_retries, &g->o.retry,
                                          sl_rand_unit(), g->now_ms, g->o.deadline_ms);
    if (delay >= 0) {
        g->attempts++;
        g->waiting_for = g->ph;
        g->ph = P_WAIT_RETRY;
        out->kind = SL_DBX_GENIE_STEP_WAIT;
        out->wait_ms = delay;
        out->retry = true;
        return out->kind;
    }
    g->err = *e;
    bool refused = e->http_status == 429 || e->http_status == 503;
    if (refused && g->attempts > 0) {
        size_t ml = strlen(g->err.msg);
        snprintf(g->err.msg + ml, sizeof(g->err.msg) - ml, " (retries exhausted)");
    }
    return fail(g, out);
}

static sl_dbx_genie_step_kind on_reply(sl_dbx_genie_step *g, const sl_dbx_response *last,
                                       sl_dbx_genie_next *out)
{
    SL_ASSERT(last != NULL);
    if (!last)
        return fail_with(g, out, SL_EINVAL, "ask Genie: no reply given for %s", g->req.what);
    if (last->code != SL_OK)
        return on_failure(g, last, out);
    const char *p = last->body ? last->body : "";
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    json_t *j;
    if (!*p) {
        j = sl_json_check(json_object());
    } else {
        json_error_t jerr;
        j = json_loadb(last->body, last->body_len, 0, &jerr);
        if (!j)
            return fail_with(g, out, SL_EREMOTE, "%s: invalid JSON in response (line %d: %s)",
                             g->req.what, jerr.line, jerr.text);
    }
    sl_dbx_genie_step_kind k;
    switch (g->ph) {
    case P_SEND:
        k = on_send(g, j, last->body_len, out);
        break;
    case P_MSG:
        k = on_poll(g, j, last->body_len, out);
        break;
    case P_RESULT:
        k = on_result(g, j, last->body_len, out);
        break;
    default:
        k = on_chunk(g, j, last->body_len, out);
        break;
    }
    json_decref(j);
    return k;
}

sl_dbx_genie_step_kind sl_dbx_genie_step_next(sl_dbx_genie_step *g, const sl_dbx_response *last,
                                              int64_t now_ms, sl_dbx_genie_next *out)
{
    memset(out, 0, sizeof(*out));
    g->now_ms = now_ms;
    switch (g->ph) {
    case P_INIT:
        if (g->message_id) { /* resume: poll the message already asked */
            COPY(g->st.conversation_id, g->conversation_id);
            COPY(g->st.message_id, g->message_id);
            return poll_message(g, out);
        }
        return send_question(g, out);
    case P_WAIT_POLL:
        if (past_deadline(g))
            return fail_timeout(g, out);
        if (g->after_wait == P_MSG)
            return poll_message(g, out);
        return fetch_result(g, out, false);
    case P_WAIT_RETRY:
        return issue(g, out, g->waiting_for);
    case P_SEND:
    case P_MSG:
    case P_RESULT:
    case P_CHUNK:
        return on_reply(g, last, out);
    case P_DONE:
        out->kind = SL_DBX_GENIE_STEP_DONE;
        return out->kind;
    case P_FAILED:
        break;
    }
    out->kind = SL_DBX_GENIE_STEP_FAILED;
    return out->kind;
}
