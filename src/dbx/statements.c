/*
 * statements.c - SQL Statement Execution: execute, poll until terminal, stream result
 * chunks, cancel; and the one-call forms sl_dbx_sql_query / sl_dbx_sql_stream.
 *
 *   execute --> PENDING --> RUNNING --> SUCCEEDED --fetch chunks--> rows
 *                  |           |-----> FAILED    (sl_err from status.error)
 *                  '-----------+-----> CANCELED  (sl_dbx_statement_cancel / on_wait_timeout)
 *                                      CLOSED    (result expired)
 *
 * Execution failures arrive as HTTP 200 with state FAILED, so the state, not the HTTP
 * status, decides the verdict (sl_dbx_statement_error).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dbx_int.h"

#define STATEMENTS      "/api/2.0/sql/statements"
#define POLL_INITIAL_MS 250
#define POLL_MAX_MS     5000

void sl_dbx_statement_req_init(sl_dbx_statement_req *r)
{
    memset(r, 0, sizeof(*r));
    r->wait_timeout_s = 10;
}

bool sl_dbx_statement_state_is_terminal(const char *state)
{
    static const char *const t[] = {"SUCCEEDED", "FAILED", "CANCELED", "CLOSED"};
    if (!state)
        return false;
    for (size_t i = 0; i < 4; i++)
        if (strcmp(state, t[i]) == 0)
            return true;
    return false;
}

static const char *state_of(const json_t *resp)
{
    return sl__dbx_jstr(json_object_get(resp, "status"), "state");
}

sl_code sl_dbx_statement_error(const json_t *resp, sl_err *err)
{
    sl_err local; /* the code depends on the classification, made on an sl_err */
    if (!err)
        err = &local;
    const char *id = sl__dbx_jstr(resp, "statement_id");
    const char *state = state_of(resp);
    if (!id)
        id = "?";
    if (!state)
        return sl_err_set(err, SL_EREMOTE, "statement %s: response has no status.state", id);
    if (strcmp(state, "FAILED") == 0) {
        const json_t *st = json_object_get(resp, "status");
        const json_t *e = json_object_get(st, "error");
        const char *code = sl__dbx_jstr(e, "error_code");
        const char *msg = sl__dbx_jstr(e, "message");
        const char *sqlstate = sl__dbx_jstr(st, "sql_state");
        char codebuf[32];
        if (!code && json_is_integer(json_object_get(e, "error_code"))) {
            snprintf(codebuf, sizeof(codebuf), "%lld",
                     (long long)json_integer_value(json_object_get(e, "error_code")));
            code = codebuf;
        }
        /* Databricks messages end with "SQLSTATE: 42P01" themselves; say it once, in
         * our "(SQLSTATE 42P01)" form. */
        const char *text = msg ? msg : "(no message)";
        int text_len = (int)strlen(text);
        if (msg && sqlstate) {
            char tail[48];
            snprintf(tail, sizeof(tail), "SQLSTATE: %s", sqlstate);
            int tl = (int)strlen(tail);
            if (text_len >= tl && strcmp(text + text_len - tl, tail) == 0) {
                text_len -= tl;
                while (text_len > 0 && (text[text_len - 1] == ' ' || text[text_len - 1] == '\n'))
                    text_len--;
            }
        }
        sl_err_set(err, SL_EREMOTE, "statement %s failed: %s%s%.*s%s%s%s", id, code ? code : "",
                   code ? ": " : "", text_len, text, sqlstate ? " (SQLSTATE " : "",
                   sqlstate ? sqlstate : "", sqlstate ? ")" : "");
        /* the message is server text: scrub it like any other */
        sl_dbx_redact_buf(err->msg, sizeof(err->msg), NULL);
        sl_dbx_error_code_classify(code, err);
        snprintf(err->error_code, sizeof(err->error_code), "%s", code ? code : "");
        err->http_status = 0;
        if (err->code == SL_OK)
            err->code = SL_EREMOTE;
        return err->code;
    }
    if (strcmp(state, "CANCELED") == 0) {
        sl_err_set(err, SL_ECANCELED, "statement %s was canceled", id);
        if (err)
            err->retryable = false;
        return SL_ECANCELED;
    }
    if (strcmp(state, "CLOSED") == 0) {
        sl_err_set(err, SL_ESTALE, "statement %s is closed: its result is no longer available", id);
        if (err)
            err->retryable = false;
        return SL_ESTALE;
    }
    return SL_OK;
}

static bool valid_on_wait(const char *s)
{
    return !s || strcmp(s, "CONTINUE") == 0 || strcmp(s, "CANCEL") == 0;
}

static sl_code execute_check(const sl_dbx_statement_req *req, sl_err *err)
{
    if (!req || !req->statement || !*req->statement)
        return sl_err_set(err, SL_EINVAL, "execute statement: empty statement");
    if (req->wait_timeout_s != 0 && (req->wait_timeout_s < 5 || req->wait_timeout_s > 50))
        return sl_err_set(err, SL_EINVAL,
                          "execute statement: wait_timeout must be 0 or 5..50 s, not %d",
                          req->wait_timeout_s);
    if (!valid_on_wait(req->on_wait_timeout))
        return sl_err_set(err, SL_EINVAL,
                          "execute statement: on_wait_timeout must be CONTINUE or CANCEL");
    if (req->row_limit < 0)
        return sl_err_set(err, SL_EINVAL, "execute statement: negative row_limit");
    for (size_t i = 0; i < req->n_params; i++)
        if (!req->params[i].name || !*req->params[i].name)
            return sl_err_set(err, SL_EINVAL, "execute statement: parameter %zu has no name",
                              i + 1);
    return SL_OK;
}

/* The ExecuteStatementRequest body (owned). */
static json_t *execute_body(const sl_dbx_statement_req *req, const char *wh)
{
    json_t *body = sl_json_check(json_object());
    json_object_set_new(body, "warehouse_id", json_string(wh));
    json_object_set_new(body, "statement", sl_json_check(json_string(req->statement)));
    if (req->catalog && *req->catalog)
        json_object_set_new(body, "catalog", json_string(req->catalog));
    if (req->schema && *req->schema)
        json_object_set_new(body, "schema", json_string(req->schema));
    char wt[16];
    snprintf(wt, sizeof(wt), "%ds", req->wait_timeout_s);
    json_object_set_new(body, "wait_timeout", json_string(wt));
    json_object_set_new(body, "on_wait_timeout",
                        json_string(req->on_wait_timeout ? req->on_wait_timeout : "CONTINUE"));
    json_object_set_new(body, "disposition", json_string("INLINE"));
    json_object_set_new(body, "format", json_string("JSON_ARRAY"));
    if (req->row_limit > 0)
        json_object_set_new(body, "row_limit", json_integer(req->row_limit));
    if (req->n_params > 0) {
        json_t *ps = sl_json_check(json_array());
        for (size_t i = 0; i < req->n_params; i++) {
            const sl_dbx_sql_param *p = &req->params[i];
            json_t *o = sl_json_check(json_object());
            json_object_set_new(o, "name", sl_json_check(json_string(p->name)));
            /* an absent value is SQL NULL */
            if (p->value)
                json_object_set_new(o, "value", sl_json_check(json_string(p->value)));
            if (p->type && *p->type)
                json_object_set_new(o, "type", sl_json_check(json_string(p->type)));
            json_array_append_new(ps, o);
        }
        json_object_set_new(body, "parameters", ps);
    }
    return body;
}

sl_code sl_dbx_statement_execute(sl_dbx_client *c, const sl_dbx_statement_req *req,
                                 const sl_dbx_call *call, json_t **out, sl_err *err)
{
    *out = NULL;
    sl_code rc = execute_check(req, err);
    if (rc != SL_OK)
        return rc;
    char *wh = NULL;
    if ((rc = sl_dbx_warehouse_resolve(c, req->warehouse_id, call, &wh, err)) != SL_OK)
        return rc;
    json_t *body = execute_body(req, wh);
    char what[160];
    snprintf(what, sizeof(what), "execute statement on warehouse %.64s", wh);
    rc = sl__dbx_json(c, "POST", STATEMENTS, body, what, call, out, err);
    if (rc == SL_OK && !sl__dbx_jstr(*out, "statement_id")) {
        json_decref(*out);
        *out = NULL;
        rc = sl_err_set(err, SL_EREMOTE, "%s: response has no statement_id", what);
    }
    json_decref(body);
    free(wh);
    return rc;
}

sl_code sl_dbx_statement_execute_request(const sl_dbx_statement_req *req, sl_dbx_request *out,
                                         sl_err *err)
{
    sl_dbx_request_init(out, "POST", STATEMENTS);
    sl_code rc = execute_check(req, err);
    if (rc != SL_OK)
        return rc;
    if (!req->warehouse_id || !*req->warehouse_id)
        return sl_err_set(err, SL_EINVAL, "execute statement: no warehouse id");
    json_t *body = execute_body(req, req->warehouse_id);
    out->body = out->own_body = sl_json_dumps(body);
    json_decref(body);
    snprintf(out->what, sizeof(out->what), "execute statement on warehouse %.64s",
             req->warehouse_id);
    return SL_OK;
}

static char *statement_path(const char *id, const char *suffix)
{
    char *enc = sl__dbx_pct(id);
    char *p = sl_xasprintf("/api/2.0/sql/statements/%s%s", enc, suffix);
    free(enc);
    return p;
}

sl_code sl_dbx_statement_get(sl_dbx_client *c, const char *statement_id, const sl_dbx_call *call,
                             json_t **out, sl_err *err)
{
    *out = NULL;
    if (!statement_id || !*statement_id)
        return sl_err_set(err, SL_EINVAL, "get statement: empty statement id");
    char *path = statement_path(statement_id, "");
    char what[160];
    snprintf(what, sizeof(what), "get statement %.100s", statement_id);
    sl_code rc = sl__dbx_json(c, "GET", path, NULL, what, call, out, err);
    free(path);
    return rc;
}

sl_code sl_dbx_statement_get_request(const char *statement_id, sl_dbx_request *out, sl_err *err)
{
    sl_dbx_request_init(out, "GET", NULL);
    if (!statement_id || !*statement_id)
        return sl_err_set(err, SL_EINVAL, "get statement: empty statement id");
    out->path = out->own_path = statement_path(statement_id, "");
    snprintf(out->what, sizeof(out->what), "get statement %.100s", statement_id);
    return SL_OK;
}

sl_code sl_dbx_statement_cancel(sl_dbx_client *c, const char *statement_id, const sl_dbx_call *call,
                                sl_err *err)
{
    if (!statement_id || !*statement_id)
        return sl_err_set(err, SL_EINVAL, "cancel statement: empty statement id");
    char *path = statement_path(statement_id, "/cancel");
    char what[160];
    snprintf(what, sizeof(what), "cancel statement %.100s", statement_id);
    sl__dbx_req req;
    sl__dbx_req_init(&req, "POST", path, what);
    req.call = call;
    sl__dbx_resp resp;
    sl_code rc = sl__dbx_request(c, &req, &resp, err);
    sl__dbx_resp_cleanup(&resp);
    free(path);
    return rc;
}

/* The wait ended by the caller's deadline or cancel: say where the statement was. */
static sl_code give_up(sl_err *err, sl_code rc, const char *id, const char *state, int polls)
{
    sl_err_set(err, rc, "wait for statement %.100s: %s (state %s after %d poll%s)", id,
               rc == SL_ETIMEOUT ? "deadline reached" : "canceled", state, polls,
               polls == 1 ? "" : "s");
    if (err)
        err->retryable = rc == SL_ETIMEOUT;
    return rc;
}

sl_code sl_dbx_statement_wait(sl_dbx_client *c, const char *statement_id, const sl_dbx_call *call,
                              json_t **out, sl_err *err)
{
    *out = NULL;
    int64_t interval = call && call->poll_initial_ms > 0 ? call->poll_initial_ms : POLL_INITIAL_MS;
    int64_t max = call && call->poll_max_ms > 0 ? call->poll_max_ms : POLL_MAX_MS;
    if (interval > max)
        interval = max;
    char last[32] = "unknown";
    for (int polls = 1;; polls++) {
        json_t *resp = NULL;
        sl_code rc = sl_dbx_statement_get(c, statement_id, call, &resp, err);
        if (rc == SL_ETIMEOUT || rc == SL_ECANCELED) {
            if (sl__dbx_check_call(call, NULL) != SL_OK) /* the caller's limit, not a 504 */
                return give_up(err, rc, statement_id, last, polls - 1);
        }
        if (rc != SL_OK)
            return rc;
        const char *state = state_of(resp);
        snprintf(last, sizeof(last), "%s", state ? state : "unknown");
        if (call && call->progress) {
            sl_dbx_progress p = {.op = "statement",
                                 .id = statement_id,
                                 .state = state,
                                 .polls = polls,
                                 .bytes_done = 0,
                                 .bytes_total = -1};
            call->progress(call->progress_arg, &p);
        }
        if (!state || sl_dbx_statement_state_is_terminal(state)) {
            rc = sl_dbx_statement_error(resp, err);
            if (rc == SL_OK && (!state || strcmp(state, "SUCCEEDED") != 0))
                rc = sl_err_set(err, SL_EREMOTE, "statement %s: unexpected state", statement_id);
            if (rc != SL_OK) {
                json_decref(resp);
                return rc;
            }
            *out = resp;
            return SL_OK;
        }
        json_decref(resp);
        rc = sl__dbx_sleep(call, interval, err);
        if (rc != SL_OK)
            return give_up(err, rc, statement_id, last, polls);
        interval = sl__dbx_poll_next(interval, max);
    }
}

/* Feed the rows of one ResultData object to fn; *stop when fn asked to stop. */
sl_code sl__dbx_chunk_feed(const json_t *chunk, const json_t *columns, sl_dbx_row_fn fn, void *arg,
                           bool *stop, sl_err *err)
{
    if (json_object_get(chunk, "external_links"))
        return sl_err_set(err, SL_EINVAL, "EXTERNAL_LINKS results are not supported");
    const json_t *rows = json_object_get(chunk, "data_array");
    size_t i;
    const json_t *row;
    json_array_foreach(rows, i, row)
    {
        if (!fn(arg, columns, row)) {
            *stop = true;
            return SL_OK;
        }
    }
    return SL_OK;
}

/* Path of the chunk after `chunk`, or NULL at the end. Internal links must stay on
 * the API (they are sent with our token). */
sl_code sl__dbx_chunk_next_path(const char *id, const json_t *chunk, char **out, sl_err *err)
{
    *out = NULL;
    const char *link = sl__dbx_jstr(chunk, "next_chunk_internal_link");
    if (link && *link) {
        if (strncmp(link, "/api/", 5) != 0)
            return sl_err_set(err, SL_EREMOTE,
                              "statement %s: next_chunk_internal_link is not an API path", id);
        *out = sl_xstrdup(link);
        return SL_OK;
    }
    const json_t *next = json_object_get(chunk, "next_chunk_index");
    if (json_is_integer(next)) {
        char suffix[64];
        snprintf(suffix, sizeof(suffix), "/result/chunks/%lld",
                 (long long)json_integer_value(next));
        *out = statement_path(id, suffix);
    }
    return SL_OK;
}

sl_code sl_dbx_statement_fetch(sl_dbx_client *c, const json_t *resp, const sl_dbx_call *call,
                               sl_dbx_row_fn fn, void *arg, sl_err *err)
{
    const char *id = sl__dbx_jstr(resp, "statement_id");
    const char *state = state_of(resp);
    if (!id || !state || strcmp(state, "SUCCEEDED") != 0)
        return sl_err_set(err, SL_EINVAL, "fetch statement %s: state is %s, not SUCCEEDED",
                          id ? id : "?", state ? state : "unknown");
    const json_t *manifest = json_object_get(resp, "manifest");
    const json_t *columns = json_object_get(json_object_get(manifest, "schema"), "columns");
    json_t *empty = NULL;
    if (!json_is_array(columns))
        columns = empty = sl_json_check(json_array());
    const json_t *first = json_object_get(resp, "result");
    json_t *chunk = NULL;
    char *path = NULL;
    bool stop = false;
    sl_code rc = SL_OK;
    json_int_t total_chunks = json_integer_value(json_object_get(manifest, "total_chunk_count"));

    if (first) {
        if ((rc = sl__dbx_chunk_feed(first, columns, fn, arg, &stop, err)) != SL_OK)
            goto out;
        if (!stop && (rc = sl__dbx_chunk_next_path(id, first, &path, err)) != SL_OK)
            goto out;
    } else if (total_chunks > 0) {
        path = statement_path(id, "/result/chunks/0");
    }
    for (int n = 0; path && !stop; n++) {
        char what[160];
        snprintf(what, sizeof(what), "fetch result chunk of statement %.100s", id);
        if ((rc = sl__dbx_json(c, "GET", path, NULL, what, call, &chunk, err)) != SL_OK)
            goto out;
        free(path);
        path = NULL;
        if ((rc = sl__dbx_chunk_feed(chunk, columns, fn, arg, &stop, err)) != SL_OK)
            goto out;
        if (!stop && (rc = sl__dbx_chunk_next_path(id, chunk, &path, err)) != SL_OK)
            goto out;
        json_decref(chunk);
        chunk = NULL;
        if (n > 1000000) {
            rc = sl_err_set(err, SL_EREMOTE, "statement %s: too many result chunks", id);
            goto out;
        }
    }
out:
    json_decref(chunk);
    json_decref(empty);
    free(path);
    return rc;
}

void sl_dbx_result_free(sl_dbx_result *r)
{
    if (!r)
        return;
    free(r->statement_id);
    json_decref(r->columns);
    json_decref(r->rows);
    free(r);
}

static bool collect_row(void *arg, const json_t *columns, const json_t *row)
{
    (void)columns;
    json_array_append((json_t *)arg, (json_t *)row);
    return true;
}

/* execute + wait; on a deadline or cancel the statement is cancelled (best effort). */
static sl_code run_to_success(sl_dbx_client *c, const sl_dbx_statement_req *req,
                              const sl_dbx_call *call, json_t **out, sl_err *err)
{
    json_t *resp = NULL;
    /* With a deadline closer than the server-side wait, submit asynchronously: a POST cut
     * off by our own timeout would lose the statement id (and the chance to cancel). */
    sl_dbx_statement_req r = *req;
    bool cont = !r.on_wait_timeout || strcmp(r.on_wait_timeout, "CONTINUE") == 0;
    if (cont && call && call->deadline_ms > 0 &&
        call->deadline_ms - sl_now_ms() < (int64_t)r.wait_timeout_s * 1000 + 5000)
        r.wait_timeout_s = 0;
    sl_code rc = sl_dbx_statement_execute(c, &r, call, &resp, err);
    if (rc != SL_OK)
        return rc;
    const char *state = state_of(resp);
    if (state && strcmp(state, "SUCCEEDED") == 0) {
        *out = resp;
        return SL_OK;
    }
    if (state && sl_dbx_statement_state_is_terminal(state)) {
        rc = sl_dbx_statement_error(resp, err);
        json_decref(resp);
        return rc != SL_OK ? rc : sl_err_set(err, SL_EREMOTE, "unexpected statement state");
    }
    char *id = sl_xstrdup(sl__dbx_jstr(resp, "statement_id"));
    json_decref(resp);
    rc = sl_dbx_statement_wait(c, id, call, out, err);
    if (rc == SL_ETIMEOUT || rc == SL_ECANCELED) {
        sl_err ignore;
        sl_err_clear(&ignore);
        /* without the caller's deadline: the cancel itself must get through */
        sl_dbx_call brief = {.deadline_ms = sl_now_ms() + 10000};
        if (sl_dbx_statement_cancel(c, id, &brief, &ignore) == SL_OK)
            sl__dbx_log(c, SL_LOG_INFO, "dbx: canceled statement %s", id);
    }
    free(id);
    return rc;
}

sl_code sl_dbx_sql_query(sl_dbx_client *c, const sl_dbx_statement_req *req, const sl_dbx_call *call,
                         sl_dbx_result **out, sl_err *err)
{
    *out = NULL;
    json_t *resp = NULL;
    sl_code rc = run_to_success(c, req, call, &resp, err);
    if (rc != SL_OK)
        return rc;
    sl_dbx_result *r = sl_xcalloc(1, sizeof(*r));
    r->statement_id = sl_xstrdup(sl__dbx_jstr(resp, "statement_id"));
    const json_t *manifest = json_object_get(resp, "manifest");
    json_t *cols = json_object_get(json_object_get(manifest, "schema"), "columns");
    r->columns = json_is_array(cols) ? json_incref(cols) : sl_json_check(json_array());
    r->truncated = json_is_true(json_object_get(manifest, "truncated"));
    r->rows = sl_json_check(json_array());
    rc = sl_dbx_statement_fetch(c, resp, call, collect_row, r->rows, err);
    json_decref(resp);
    if (rc != SL_OK) {
        sl_dbx_result_free(r);
        return rc;
    }
    *out = r;
    return SL_OK;
}

sl_code sl_dbx_sql_stream(sl_dbx_client *c, const sl_dbx_statement_req *req,
                          const sl_dbx_call *call, sl_dbx_row_fn fn, void *arg, sl_err *err)
{
    json_t *resp = NULL;
    sl_code rc = run_to_success(c, req, call, &resp, err);
    if (rc != SL_OK)
        return rc;
    rc = sl_dbx_statement_fetch(c, resp, call, fn, arg, err);
    json_decref(resp);
    return rc;
}

/* ---- parameters written as text ---- */

/* SQL type names accepted as the :TYPE suffix of --param. */
static bool is_sql_type(const char *t)
{
    static const char *const types[] = {
        "STRING",    "INT",           "INTEGER",       "BIGINT", "LONG",    "SMALLINT", "SHORT",
        "TINYINT",   "BYTE",          "FLOAT",         "DOUBLE", "REAL",    "BOOLEAN",  "DATE",
        "TIMESTAMP", "TIMESTAMP_NTZ", "TIMESTAMP_LTZ", "BINARY", "DECIMAL", "VOID",     "INTERVAL",
    };
    size_t n = strcspn(t, "(");
    if (n == 0)
        return false;
    if (t[n] == '(' && t[strlen(t) - 1] != ')')
        return false;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strlen(types[i]) == n && strncasecmp(t, types[i], n) == 0)
            return true;
    return false;
}

bool sl_dbx_sql_param_parse(char *arg, sl_dbx_sql_param *p)
{
    memset(p, 0, sizeof(*p));
    char *eq = strchr(arg, '=');
    char *colon = strrchr(eq ? eq + 1 : arg, ':');
    if (colon && is_sql_type(colon + 1)) {
        *colon = '\0';
        p->type = colon + 1;
    }
    if (eq) {
        *eq = '\0';
        p->value = eq + 1;
    }
    p->name = arg;
    if (p->name[0] == ':') /* tolerate ":name=..." */
        p->name++;
    if (!*p->name)
        return false;
    for (const char *q = p->name; *q; q++)
        if (!(*q == '_' || (*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'z') ||
              (*q >= 'A' && *q <= 'Z')))
            return false;
    return true;
}
