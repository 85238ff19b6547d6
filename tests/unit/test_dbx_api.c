/*
 * test_dbx_api.c - the API wrappers against a scripted fake workspace in this
 * process: warehouse choice, statement execution (parameters with NULL, polling with
 * progress, chunks followed by internal link and by index, FAILED verdicts with
 * SQLSTATE, deadline cancels the statement), files (list paging, HEAD, mkdir, delete),
 * Unity Catalog ensure on 409, Genie (space paging and choice, start, wait, query
 * result), embeddings in input order, MLflow get-or-create and log-batch splitting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "sluice/dbx.h"
#include "test_dbx_server.h"

typedef struct fake {
    pthread_mutex_t mu;
    json_t *last_stmt; /* last execute body */
    int stmt_polls;
    int cancels;
    int genie_polls;
    int batches;
    int batch_params, batch_metrics, batch_tags;
    int max_batch_metrics, max_batch_params;
    bool experiment_exists;
    char last_query[256];
} fake;

static fake F;
static ts_server S;

static json_t *rows_json(int from, int n)
{
    json_t *rows = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(rows, json_pack("[s,s?]", "x", (from + i) % 2 ? NULL : "y"));
    return rows;
}

static char *dump(json_t *j)
{
    char *s = sl_json_dumps(j);
    json_decref(j);
    return s;
}

static json_t *succeeded(const char *id, json_t *result)
{
    return json_pack("{s:s,s:{s:s},s:{s:{s:i,s:[{s:s,s:s,s:i},{s:s,s:s,s:i}]},s:i,s:b},s:o}",
                     "statement_id", id, "status", "state", "SUCCEEDED", "manifest", "schema",
                     "column_count", 2, "columns", "name", "id", "type_name", "STRING", "position",
                     0, "name", "v", "type_name", "STRING", "position", 1, "total_chunk_count", 3,
                     "truncated", 0, "result", result);
}

static void statements(fake *f, ts_req *r, ts_resp *o)
{
    const char *u = r->url;
    if (strcmp(u, "/api/2.0/sql/statements") == 0) {
        json_decref(f->last_stmt);
        f->last_stmt = json_loads(r->body, 0, NULL);
        const char *sql = json_string_value(json_object_get(f->last_stmt, "statement"));
        o->status = 200;
        if (strcmp(sql, "SELECT chunks") == 0)
            o->body =
                sl_xstrdup("{\"statement_id\":\"st-chunks\",\"status\":{\"state\":\"PENDING\"}}");
        else if (strcmp(sql, "SELECT fail") == 0)
            o->body = sl_xstrdup(
                "{\"statement_id\":\"st-fail\",\"status\":{\"state\":\"FAILED\",\"sql_state\":"
                "\"42P01\",\"error\":{\"error_code\":\"BAD_REQUEST\",\"message\":\"[TABLE_OR_VIEW_"
                "NOT_FOUND] The table `x` cannot be found.\"}}}");
        else if (strcmp(sql, "SELECT transient") == 0)
            o->body = sl_xstrdup("{\"statement_id\":\"st-tr\",\"status\":{\"state\":\"FAILED\","
                                 "\"error\":{\"error_code\":\"TEMPORARILY_UNAVAILABLE\","
                                 "\"message\":\"warehouse restarting\"}}}");
        else if (strcmp(sql, "SELECT slow") == 0)
            o->body =
                sl_xstrdup("{\"statement_id\":\"st-slow\",\"status\":{\"state\":\"RUNNING\"}}");
        else
            o->body = dump(json_pack("{s:s,s:{s:s},s:{s:{s:i,s:[]}},s:{s:i}}", "statement_id",
                                     "st-ddl", "status", "state", "SUCCEEDED", "manifest", "schema",
                                     "column_count", 0, "columns", "result", "row_count", 0));
        return;
    }
    if (strcmp(u, "/api/2.0/sql/statements/st-chunks") == 0) {
        f->stmt_polls++;
        o->status = 200;
        if (f->stmt_polls < 3) {
            o->body =
                sl_xstrdup("{\"statement_id\":\"st-chunks\",\"status\":{\"state\":\"RUNNING\"}}");
            return;
        }
        o->body = dump(
            succeeded("st-chunks", json_pack("{s:i,s:o,s:s}", "chunk_index", 0, "data_array",
                                             rows_json(0, 2), "next_chunk_internal_link",
                                             "/api/2.0/sql/statements/st-chunks/result/chunks/1")));
        return;
    }
    if (strcmp(u, "/api/2.0/sql/statements/st-chunks/result/chunks/1") == 0) {
        o->status = 200;
        o->body = dump(json_pack("{s:i,s:o,s:i}", "chunk_index", 1, "data_array", rows_json(2, 3),
                                 "next_chunk_index", 2));
        return;
    }
    if (strcmp(u, "/api/2.0/sql/statements/st-chunks/result/chunks/2") == 0) {
        o->status = 200;
        o->body = dump(json_pack("{s:i,s:o}", "chunk_index", 2, "data_array", rows_json(5, 1)));
        return;
    }
    if (strcmp(u, "/api/2.0/sql/statements/st-slow") == 0) {
        f->stmt_polls++;
        ts_set(o, 200, "{\"statement_id\":\"st-slow\",\"status\":{\"state\":\"RUNNING\"}}");
        return;
    }
    if (strcmp(u, "/api/2.0/sql/statements/st-slow/cancel") == 0) {
        f->cancels++;
        ts_set(o, 200, NULL);
        return;
    }
    ts_set(o, 404, "{\"error_code\":\"NOT_FOUND\",\"message\":\"no statement\"}");
}

static void genie(fake *f, ts_req *r, ts_resp *o)
{
    const char *u = r->url;
    const char *tok = ts_arg(r, "page_token");
    if (strcmp(u, "/api/2.0/genie/spaces") == 0) {
        if (!tok)
            ts_set(o, 200,
                   "{\"spaces\":[{\"space_id\":\"s1\",\"title\":\"Sales\"}],"
                   "\"next_page_token\":\"n2\"}");
        else
            ts_set(o, 200, "{\"spaces\":[{\"space_id\":\"s2\",\"title\":\"Ops\"}]}");
    } else if (strcmp(u, "/api/2.0/genie/spaces/s1/start-conversation") == 0) {
        json_t *b = json_loads(r->body, 0, NULL);
        bool ok = b && json_string_value(json_object_get(b, "content"));
        json_decref(b);
        ts_set(o, ok ? 200 : 400,
               "{\"conversation_id\":\"c1\",\"message_id\":\"m1\",\"conversation\":{\"id\":"
               "\"c1\"},\"message\":{\"id\":\"m1\",\"status\":\"SUBMITTED\"}}");
    } else if (strcmp(u, "/api/2.0/genie/spaces/s1/conversations/c1/messages/m1") == 0) {
        f->genie_polls++;
        const char *st = f->genie_polls < 2   ? "ASKING_AI"
                         : f->genie_polls < 3 ? "EXECUTING_QUERY"
                                              : "COMPLETED";
        o->status = 200;
        o->body = sl_xasprintf(
            "{\"message_id\":\"m1\",\"status\":\"%s\",\"attachments\":[{\"attachment_id\":\"a1\","
            "\"query\":{\"query\":\"SELECT 1\"}}]}",
            st);
    } else if (strcmp(u, "/api/2.0/genie/spaces/s1/conversations/c1/messages/m2") == 0) {
        ts_set(o, 200,
               "{\"message_id\":\"m2\",\"status\":\"FAILED\",\"error\":{\"error\":\"too "
               "many\",\"type\":\"RATE_LIMIT_EXCEEDED_GENERIC_EXCEPTION\"}}");
    } else if (strcmp(u, "/api/2.0/genie/spaces/s1/conversations/c1/messages/m1/attachments/a1/"
                         "query-result") == 0) {
        ts_set(o, 200,
               "{\"statement_response\":{\"statement_id\":\"q1\",\"status\":{\"state\":"
               "\"SUCCEEDED\"},\"result\":{\"data_array\":[[\"1\"]]}}}");
    } else if (strcmp(u, "/api/2.0/genie/spaces/s1/conversations") == 0) {
        const char *all = ts_arg(r, "include_all");
        snprintf(f->last_query, sizeof(f->last_query), "include_all=%s", all ? all : "");
        ts_set(o, 200,
               "{\"conversations\":[{\"conversation_id\":\"c1\"},{\"conversation_id\":"
               "\"c2\"}]}");
    } else if (strcmp(u, "/api/2.0/genie/spaces/s1/conversations/c1") == 0 &&
               strcmp(r->method, "DELETE") == 0) {
        ts_set(o, 200, "{}");
    } else {
        ts_set(o, 404, "{\"error_code\":\"NOT_FOUND\",\"message\":\"no genie route\"}");
    }
}

static void mlflow(fake *f, ts_req *r, ts_resp *o)
{
    const char *u = r->url;
    if (strcmp(u, "/api/2.0/mlflow/experiments/get-by-name") == 0) {
        const char *name = ts_arg(r, "experiment_name");
        if (f->experiment_exists && name && strcmp(name, "/Shared/load test") == 0)
            ts_set(o, 200, "{\"experiment\":{\"experiment_id\":\"e1\"}}");
        else
            ts_set(o, 404, "{\"error_code\":\"RESOURCE_DOES_NOT_EXIST\",\"message\":\"none\"}");
    } else if (strcmp(u, "/api/2.0/mlflow/experiments/create") == 0) {
        f->experiment_exists = true;
        ts_set(o, 200, "{\"experiment_id\":\"e1\"}");
    } else if (strcmp(u, "/api/2.0/mlflow/runs/create") == 0) {
        ts_set(o, 200, "{\"run\":{\"info\":{\"run_id\":\"r1\",\"status\":\"RUNNING\"}}}");
    } else if (strcmp(u, "/api/2.0/mlflow/runs/log-batch") == 0) {
        json_t *b = json_loads(r->body, 0, NULL);
        int p = (int)json_array_size(json_object_get(b, "params"));
        int m = (int)json_array_size(json_object_get(b, "metrics"));
        int t = (int)json_array_size(json_object_get(b, "tags"));
        f->batches++;
        f->batch_params += p;
        f->batch_metrics += m;
        f->batch_tags += t;
        if (m > f->max_batch_metrics)
            f->max_batch_metrics = m;
        if (p > f->max_batch_params)
            f->max_batch_params = p;
        bool bad = p > 100 || t > 100 || m > 1000 || p + m + t > 1000;
        json_t *m0 = json_array_get(json_object_get(b, "metrics"), 0);
        if (m0 && !json_is_integer(json_object_get(m0, "timestamp")))
            bad = true;
        json_decref(b);
        ts_set(o, bad ? 400 : 200, bad ? "{\"error_code\":\"INVALID_PARAMETER_VALUE\"}" : "{}");
    } else if (strcmp(u, "/api/2.0/mlflow/runs/update") == 0) {
        ts_set(o, 200, "{\"run_info\":{\"run_id\":\"r1\",\"status\":\"FINISHED\"}}");
    } else if (strcmp(u, "/api/2.0/mlflow/runs/get") == 0) {
        ts_set(o, 200, "{\"run\":{\"info\":{\"run_id\":\"r1\",\"status\":\"FINISHED\"}}}");
    } else {
        ts_set(o, 404, "{\"error_code\":\"NOT_FOUND\",\"message\":\"no mlflow route\"}");
    }
}

static void handler(void *arg, int phase, ts_req *r, ts_resp *o)
{
    fake *f = arg;
    if (phase == 0)
        return;
    const char *u = r->url;
    pthread_mutex_lock(&f->mu);
    if (strcmp(u, "/api/2.0/sql/warehouses") == 0) {
        ts_set(o, 200,
               "{\"warehouses\":[{\"id\":\"w1\",\"name\":\"old\",\"state\":\"STOPPED\"},"
               "{\"id\":\"w2\",\"name\":\"main\",\"state\":\"RUNNING\"}]}");
    } else if (strncmp(u, "/api/2.0/sql/statements", 23) == 0) {
        statements(f, r, o);
    } else if (strcmp(u, "/api/2.0/fs/directories/Volumes/c/s/v/d d") == 0 &&
               strcmp(r->method, "GET") == 0) {
        const char *tok = ts_arg(r, "page_token");
        if (!tok)
            ts_set(o, 200,
                   "{\"contents\":[{\"path\":\"/Volumes/c/s/v/d d/a\",\"name\":\"a\","
                   "\"is_directory\":false,\"file_size\":3}],\"next_page_token\":\"p+2\"}");
        else if (strcmp(tok, "p+2") == 0)
            ts_set(o, 200, "{\"contents\":[{\"name\":\"b\",\"is_directory\":true}]}");
        else
            ts_set(o, 400, "{\"error_code\":\"INVALID_PARAMETER_VALUE\",\"message\":\"token\"}");
    } else if (strcmp(u, "/api/2.0/fs/directories/Volumes/c/s/v/new") == 0 &&
               strcmp(r->method, "PUT") == 0) {
        ts_set(o, 200, NULL);
    } else if (strcmp(u, "/api/2.0/fs/files/Volumes/c/s/v/f.csv") == 0) {
        if (strcmp(r->method, "HEAD") == 0) {
            o->status = 200;
            o->body = sl_xstrdup("0123456789");
            o->content_type = "text/csv";
            ts_header(o, "Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT");
        } else if (strcmp(r->method, "DELETE") == 0) {
            ts_set(o, 204, NULL);
        }
    } else if (strcmp(u, "/api/2.0/fs/files/Volumes/c/s/v/missing.csv") == 0) {
        ts_set(o, 404, "{\"error_code\":\"NOT_FOUND\",\"message\":\"The file does not exist\"}");
    } else if (strcmp(u, "/api/2.1/unity-catalog/catalogs") == 0) {
        json_t *b = json_loads(r->body, 0, NULL);
        const char *name = json_string_value(json_object_get(b, "name"));
        if (name && strcmp(name, "existing") == 0)
            ts_set(o, 409, "{\"error_code\":\"CATALOG_ALREADY_EXISTS\",\"message\":\"exists\"}");
        else
            o->status = 200, o->body = sl_xasprintf("{\"name\":\"%s\",\"created\":true}", name);
        json_decref(b);
    } else if (strcmp(u, "/api/2.1/unity-catalog/catalogs/existing") == 0) {
        ts_set(o, 200, "{\"name\":\"existing\",\"created\":false}");
    } else if (strcmp(u, "/api/2.1/unity-catalog/volumes") == 0) {
        json_t *b = json_loads(r->body, 0, NULL);
        bool ok = json_string_value(json_object_get(b, "volume_type")) &&
                  strcmp(json_string_value(json_object_get(b, "volume_type")), "MANAGED") == 0;
        json_decref(b);
        ts_set(o, ok ? 409 : 400, "{\"error_code\":\"RESOURCE_ALREADY_EXISTS\",\"message\":\"x\"}");
    } else if (strcmp(u, "/api/2.1/unity-catalog/tables/c.s.t/exists") == 0) {
        ts_set(o, 200, "{\"table_exists\":true}");
    } else if (strcmp(u, "/api/2.1/unity-catalog/tables/c.s.none/exists") == 0) {
        ts_set(o, 200, "{\"table_exists\":false}");
    } else if (strncmp(u, "/api/2.0/genie/", 15) == 0) {
        genie(f, r, o);
    } else if (strcmp(u, "/serving-endpoints/gte/invocations") == 0) {
        json_t *b = json_loads(r->body, 0, NULL);
        json_t *in = json_object_get(b, "input");
        size_t n = json_is_array(in) ? json_array_size(in) : 1;
        json_t *data = json_array();
        for (size_t i = n; i-- > 0;) /* reversed: the client must sort by index */
            json_array_append_new(data,
                                  json_pack("{s:s,s:i,s:[f,f,f]}", "object", "embedding", "index",
                                            (int)i, "embedding", (double)i, 0.5, -1.0));
        o->status = 200;
        o->body = dump(json_pack("{s:s,s:o}", "object", "list", "data", data));
        json_decref(b);
    } else if (strncmp(u, "/api/2.0/mlflow/", 16) == 0) {
        mlflow(f, r, o);
    } else {
        ts_set(o, 404, "{\"error_code\":\"NOT_FOUND\",\"message\":\"no route\"}");
    }
    pthread_mutex_unlock(&f->mu);
}

static sl_dbx_client *client(const char *warehouse)
{
    sl_dbx_settings s;
    sl_dbx_settings_init(&s);
    s.host = sl_xstrdup(S.url);
    s.token = sl_xstrdup("dapi-test-token-000");
    s.warehouse_id = warehouse ? sl_xstrdup(warehouse) : NULL;
    s.retry.initial_backoff_s = 0.01;
    sl_dbx_client *c = NULL;
    assert_int_equal(sl_dbx_client_new(&s, &c, NULL), SL_OK);
    sl_dbx_settings_cleanup(&s);
    return c;
}

static int setup(void **state)
{
    (void)state;
    pthread_mutex_init(&F.mu, NULL);
    ts_start(&S, handler, &F);
    sl_log_set_level(SL_LOG_ERROR);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ts_stop(&S);
    json_decref(F.last_stmt);
    sl_dbx_thread_cleanup();
    return 0;
}

static void warehouse_resolution_prefers_running(void **state)
{
    (void)state;
    sl_dbx_client *c = client(NULL);
    char *id = NULL;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_dbx_warehouse_resolve(c, NULL, NULL, &id, &err), SL_OK);
    assert_string_equal(id, "w2");
    free(id);
    assert_int_equal(sl_dbx_warehouse_resolve(c, "explicit", NULL, &id, &err), SL_OK);
    assert_string_equal(id, "explicit");
    free(id);
    json_t *list = NULL;
    assert_int_equal(sl_dbx_warehouse_list(c, NULL, &list, &err), SL_OK);
    assert_int_equal(json_array_size(list), 2);
    json_decref(list);
    sl_dbx_client_free(c);
    c = client("configured");
    assert_int_equal(sl_dbx_warehouse_resolve(c, NULL, NULL, &id, &err), SL_OK);
    assert_string_equal(id, "configured");
    free(id);
    sl_dbx_client_free(c);
}

typedef struct {
    int polls;
    char last_state[32];
} poll_seen;

static void on_poll(void *arg, const sl_dbx_progress *p)
{
    poll_seen *ps = arg;
    ps->polls = p->polls;
    snprintf(ps->last_state, sizeof(ps->last_state), "%s", p->state ? p->state : "");
}

static void statement_polls_and_follows_every_chunk(void **state)
{
    (void)state;
    sl_dbx_client *c = client(NULL);
    sl_dbx_statement_req req;
    sl_dbx_statement_req_init(&req);
    req.statement = "SELECT chunks";
    req.catalog = "main";
    sl_dbx_sql_param params[] = {{"d", "2024-01-01", "DATE"}, {"n", NULL, "INT"}, {"s", "x", NULL}};
    req.params = params;
    req.n_params = 3;
    req.row_limit = 100;
    poll_seen ps = {0};
    sl_dbx_call call = {.progress = on_poll, .progress_arg = &ps, .poll_initial_ms = 10};
    sl_dbx_result *res = NULL;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_dbx_sql_query(c, &req, &call, &res, &err), SL_OK);
    assert_string_equal(res->statement_id, "st-chunks");
    assert_int_equal(json_array_size(res->columns), 2);
    assert_int_equal(json_array_size(res->rows), 6); /* 2 + 3 + 1 over three chunks */
    assert_true(json_is_null(json_array_get(json_array_get(res->rows, 1), 1)));
    assert_int_equal(ps.polls, 3);
    assert_string_equal(ps.last_state, "SUCCEEDED");
    /* the request body */
    json_t *b = F.last_stmt;
    assert_string_equal(json_string_value(json_object_get(b, "warehouse_id")), "w2");
    assert_string_equal(json_string_value(json_object_get(b, "catalog")), "main");
    assert_null(json_object_get(b, "schema"));
    assert_string_equal(json_string_value(json_object_get(b, "wait_timeout")), "10s");
    assert_string_equal(json_string_value(json_object_get(b, "on_wait_timeout")), "CONTINUE");
    assert_int_equal(json_integer_value(json_object_get(b, "row_limit")), 100);
    json_t *p = json_object_get(b, "parameters");
    assert_int_equal(json_array_size(p), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(p, 0), "type")), "DATE");
    assert_null(json_object_get(json_array_get(p, 1), "value")); /* SQL NULL */
    assert_null(json_object_get(json_array_get(p, 2), "type"));
    sl_dbx_result_free(res);
    sl_dbx_client_free(c);
}

static int rows_seen;

static bool stop_after_two(void *arg, const json_t *columns, const json_t *row)
{
    (void)arg;
    assert_int_equal(json_array_size(columns), 2);
    assert_true(json_is_array(row));
    return ++rows_seen < 2;
}

static void statement_stream_stops_early(void **state)
{
    (void)state;
    pthread_mutex_lock(&F.mu);
    F.stmt_polls = 5; /* already done */
    pthread_mutex_unlock(&F.mu);
    sl_dbx_client *c = client("w9");
    sl_dbx_statement_req req;
    sl_dbx_statement_req_init(&req);
    req.statement = "SELECT chunks";
    sl_err err;
    sl_err_clear(&err);
    rows_seen = 0;
    assert_int_equal(sl_dbx_sql_stream(c, &req, NULL, stop_after_two, NULL, &err), SL_OK);
    assert_int_equal(rows_seen, 2);
    sl_dbx_client_free(c);
}

static void failed_statement_is_an_error_with_sqlstate(void **state)
{
    (void)state;
    sl_dbx_client *c = client("w9");
    sl_dbx_statement_req req;
    sl_dbx_statement_req_init(&req);
    req.statement = "SELECT fail";
    sl_dbx_result *res = NULL;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_dbx_sql_query(c, &req, NULL, &res, &err), SL_EINVAL);
    assert_null(res);
    assert_false(err.retryable);
    assert_string_equal(err.error_code, "BAD_REQUEST");
    assert_string_equal(err.msg, "statement st-fail failed: BAD_REQUEST: [TABLE_OR_VIEW_NOT_FOUND] "
                                 "The table `x` cannot be found. (SQLSTATE 42P01)");
    req.statement = "SELECT transient";
    assert_int_equal(sl_dbx_sql_query(c, &req, NULL, &res, &err), SL_EREMOTE);
    assert_true(err.retryable);
    assert_string_equal(err.error_code, "TEMPORARILY_UNAVAILABLE");
    /* local validation */
    req.wait_timeout_s = 3;
    assert_int_equal(sl_dbx_sql_query(c, &req, NULL, &res, &err), SL_EINVAL);
    req.wait_timeout_s = 0;
    req.on_wait_timeout = "LATER";
    assert_int_equal(sl_dbx_sql_query(c, &req, NULL, &res, &err), SL_EINVAL);
    /* a statement without a result set */
    sl_dbx_statement_req_init(&req);
    req.statement = "CREATE TABLE t (x INT)";
    assert_int_equal(sl_dbx_sql_query(c, &req, NULL, &res, &err), SL_OK);
    assert_int_equal(json_array_size(res->rows), 0);
    assert_int_equal(json_array_size(res->columns), 0);
    sl_dbx_result_free(res);
    sl_dbx_client_free(c);
}

static void deadline_cancels_a_running_statement(void **state)
{
    (void)state;
    sl_dbx_client *c = client("w9");
    sl_dbx_statement_req req;
    sl_dbx_statement_req_init(&req);
    req.statement = "SELECT slow";
    sl_dbx_call call = {.deadline_ms = sl_now_ms() + 300, .poll_initial_ms = 20, .poll_max_ms = 50};
    sl_dbx_result *res = NULL;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_dbx_sql_query(c, &req, &call, &res, &err), SL_ETIMEOUT);
    assert_true(err.retryable);
    assert_non_null(
        strstr(err.msg, "wait for statement st-slow: deadline reached (state RUNNING after"));
    assert_int_equal(F.cancels, 1);
    /* a deadline shorter than the server-side wait makes the submit asynchronous */
    assert_string_equal(json_string_value(json_object_get(F.last_stmt, "wait_timeout")), "0s");
    sl_dbx_client_free(c);
}

static void files_list_head_mkdir_delete(void **state)
{
    (void)state;
    sl_dbx_client *c = client(NULL);
    json_t *list = NULL;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_dbx_dir_list(c, "/Volumes/c/s/v/d d/", 0, NULL, &list, &err), SL_OK);
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "name")), "b");
    json_decref(list);
    assert_int_equal(sl_dbx_dir_list(c, "/Volumes/c/s/v/d d", 1, NULL, &list, &err), SL_OK);
    assert_int_equal(json_array_size(list), 1); /* max_items stops paging */
    json_decref(list);

    sl_dbx_file_info info;
    assert_int_equal(sl_dbx_file_head(c, "/Volumes/c/s/v/f.csv", NULL, &info, &err), SL_OK);
    assert_int_equal(info.size, 10);
    assert_string_equal(info.content_type, "text/csv");
    assert_int_equal(info.last_modified_ms, 1445412480000LL);
    assert_int_equal(sl_dbx_file_head(c, "/Volumes/c/s/v/missing.csv", NULL, &info, &err),
                     SL_ENOTFOUND);
    assert_int_equal(sl_dbx_file_delete(c, "/Volumes/c/s/v/f.csv", NULL, &err), SL_OK);
    assert_int_equal(sl_dbx_dir_create(c, "/Volumes/c/s/v/new", NULL, &err), SL_OK);
    assert_int_equal(sl_dbx_file_delete(c, "/Volumes/c/s/v/missing.csv", NULL, &err), SL_ENOTFOUND);
    assert_string_equal(err.msg, "delete /Volumes/c/s/v/missing.csv: HTTP 404 NOT_FOUND: The file "
                                 "does not exist");
    assert_int_equal(sl_dbx_file_delete(c, "Volumes/relative", NULL, &err), SL_EINVAL);
    /* err may be NULL: the code alone still tells the failure */
    assert_int_equal(sl_dbx_file_delete(c, "Volumes/relative", NULL, NULL), SL_EINVAL);
    assert_int_equal(sl_dbx_file_head(c, "/Volumes/c/s/v/missing.csv", NULL, &info, NULL),
                     SL_ENOTFOUND);
    assert_int_equal(sl_dbx_catalog_create(c, "bad.name", NULL, NULL, NULL, NULL), SL_EINVAL);
    sl_dbx_client_free(c);
}

static void unity_catalog_ensure_accepts_existing(void **state)
{
    (void)state;
    sl_dbx_client *c = client(NULL);
    json_t *info = NULL;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_dbx_catalog_ensure(c, "fresh", "c", NULL, &info, &err), SL_OK);
    assert_true(json_is_true(json_object_get(info, "created")));
    json_decref(info);
    assert_int_equal(sl_dbx_catalog_ensure(c, "existing", NULL, NULL, &info, &err), SL_OK);
    assert_true(json_is_false(json_object_get(info, "created")));
    json_decref(info);
    assert_int_equal(sl_dbx_catalog_create(c, "existing", NULL, NULL, NULL, &err), SL_ECONFLICT);
    assert_string_equal(err.error_code, "CATALOG_ALREADY_EXISTS");
    assert_int_equal(sl_dbx_volume_ensure(c, "c", "s", "v", NULL, NULL, NULL, &err), SL_OK);
    assert_int_equal(sl_dbx_catalog_ensure(c, "existing", NULL, NULL, NULL, NULL), SL_OK);
    assert_int_equal(sl_dbx_catalog_create(c, "bad.name", NULL, NULL, NULL, &err), SL_EINVAL);
    assert_int_equal(sl_dbx_schema_get(c, "only_one_part", NULL, NULL, &err), SL_EINVAL);
    bool exists = false;
    assert_int_equal(sl_dbx_table_exists(c, "c.s.t", NULL, &exists, &err), SL_OK);
    assert_true(exists);
    assert_int_equal(sl_dbx_table_exists(c, "c.s.none", NULL, &exists, &err), SL_OK);
    assert_false(exists);
    assert_int_equal(sl_dbx_table_exists(c, "c.s.t.x", NULL, &exists, &err), SL_EINVAL);
    sl_dbx_client_free(c);
}

static void genie_flow(void **state)
{
    (void)state;
    sl_dbx_client *c = client(NULL);
    sl_err err;
    sl_err_clear(&err);
    json_t *spaces = NULL;
    assert_int_equal(sl_dbx_genie_space_list(c, 0, NULL, &spaces, &err), SL_OK);
    assert_int_equal(json_array_size(spaces), 2);
    json_decref(spaces);
    char *space = NULL;
    assert_int_equal(sl_dbx_genie_space_resolve(c, NULL, NULL, &space, &err), SL_OK);
    assert_string_equal(space, "s1");

    json_t *start = NULL;
    assert_int_equal(
        sl_dbx_genie_conversation_start(c, space, "top customers?", NULL, &start, &err), SL_OK);
    const char *conv = json_string_value(json_object_get(start, "conversation_id"));
    const char *msg = json_string_value(json_object_get(start, "message_id"));
    poll_seen ps = {0};
    sl_dbx_call call = {.progress = on_poll, .progress_arg = &ps, .poll_initial_ms = 10};
    json_t *done = NULL;
    assert_int_equal(sl_dbx_genie_message_wait(c, space, conv, msg, &call, &done, &err), SL_OK);
    assert_string_equal(json_string_value(json_object_get(done, "status")), "COMPLETED");
    assert_int_equal(ps.polls, 3);
    json_t *qr = NULL;
    assert_int_equal(
        sl_dbx_genie_attachment_query_result(c, space, conv, msg, "a1", NULL, &qr, &err), SL_OK);
    assert_non_null(json_object_get(qr, "statement_response"));
    json_decref(qr);
    json_decref(done);

    /* FAILED with a rate-limit type is a retryable SL_ELIMIT */
    assert_int_equal(sl_dbx_genie_message_wait(c, space, conv, "m2", &call, &done, &err),
                     SL_ELIMIT);
    assert_true(err.retryable);
    assert_string_equal(err.error_code, "RATE_LIMIT_EXCEEDED_GENERIC_EXCEPTION");
    assert_null(done);

    json_t *convs = NULL;
    assert_int_equal(sl_dbx_genie_conversation_list(c, space, true, 0, NULL, &convs, &err), SL_OK);
    assert_int_equal(json_array_size(convs), 2);
    assert_string_equal(F.last_query, "include_all=true");
    json_decref(convs);
    assert_int_equal(sl_dbx_genie_conversation_delete(c, space, conv, NULL, &err), SL_OK);
    json_decref(start);
    assert_int_equal(sl_dbx_genie_conversation_start(c, space, "", NULL, &start, &err), SL_EINVAL);
    assert_null(start);
    free(space);
    assert_true(sl_dbx_genie_status_is_terminal("QUERY_RESULT_EXPIRED"));
    assert_false(sl_dbx_genie_status_is_terminal("EXECUTING_QUERY"));
    sl_dbx_client_free(c);
}

static void embeddings_come_back_in_input_order(void **state)
{
    (void)state;
    sl_dbx_client *c = client(NULL);
    const char *inputs[] = {"a", "b", "c"};
    sl_dbx_vectors *v = NULL;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_dbx_serving_embed(c, "gte", inputs, 3, NULL, &v, &err), SL_OK);
    assert_int_equal(v->n, 3);
    assert_int_equal(v->dim, 3);
    for (size_t i = 0; i < 3; i++)
        assert_true(v->data[i * 3] == (float)i);
    assert_true(v->data[1] == 0.5f && v->data[2] == -1.0f);
    sl_dbx_vectors_free(v);
    assert_int_equal(sl_dbx_serving_embed(c, "gte", inputs, 1, NULL, &v, &err), SL_OK);
    assert_int_equal(v->n, 1);
    sl_dbx_vectors_free(v);
    assert_int_equal(sl_dbx_serving_embed(c, "gte", inputs, 0, NULL, &v, &err), SL_EINVAL);
    sl_dbx_client_free(c);
}

static void mlflow_get_or_create_and_batch_limits(void **state)
{
    (void)state;
    sl_dbx_client *c = client(NULL);
    sl_err err;
    sl_err_clear(&err);
    char *exp = NULL;
    assert_int_equal(sl_dbx_mlflow_experiment_ensure(c, "/Shared/load test", NULL, &exp, &err),
                     SL_OK);
    assert_string_equal(exp, "e1");
    free(exp);
    assert_int_equal(sl_dbx_mlflow_experiment_ensure(c, "/Shared/load test", NULL, &exp, &err),
                     SL_OK); /* second time: found */
    json_t *run = NULL;
    assert_int_equal(sl_dbx_mlflow_run_create(c, exp, "load_test_x", 0, NULL, NULL, &run, &err),
                     SL_OK);
    const char *run_id = json_string_value(json_object_get(json_object_get(run, "info"), "run_id"));
    assert_string_equal(run_id, "r1");

    json_t *metrics = json_array(), *params = json_array(), *tags = json_array();
    for (int i = 0; i < 2500; i++)
        json_array_append_new(metrics, json_pack("{s:s,s:f}", "key", "duration", "value", i * 1.0));
    for (int i = 0; i < 250; i++) {
        char k[32];
        snprintf(k, sizeof(k), "p%d", i);
        json_array_append_new(params, json_pack("{s:s,s:s}", "key", k, "value", "v"));
    }
    json_array_append_new(tags, json_pack("{s:s,s:s}", "key", "status", "value", "success"));
    assert_int_equal(sl_dbx_mlflow_run_log_batch(c, run_id, metrics, params, tags, NULL, &err),
                     SL_OK);
    assert_int_equal(F.batch_metrics, 2500);
    assert_int_equal(F.batch_params, 250);
    assert_int_equal(F.batch_tags, 1);
    assert_true(F.max_batch_params <= 100);
    assert_true(F.max_batch_metrics <= 1000);
    assert_int_equal(F.batches, 3); /* 1000 entities each at most */

    /* too-long values are refused up front, nothing sent */
    int before = F.batches;
    char longv[300];
    memset(longv, 'x', 299);
    longv[299] = '\0';
    json_t *bad = json_pack("[{s:s,s:s}]", "key", "k", "value", longv);
    assert_int_equal(sl_dbx_mlflow_run_log_batch(c, run_id, NULL, bad, NULL, NULL, &err),
                     SL_EINVAL);
    assert_non_null(strstr(err.msg, "value is 299 bytes (max 250)"));
    assert_int_equal(F.batches, before);
    json_decref(bad);

    assert_int_equal(sl_dbx_mlflow_run_update(c, run_id, "FINISHED", sl_now_ms(), NULL, &err),
                     SL_OK);
    assert_int_equal(sl_dbx_mlflow_run_update(c, run_id, "DONE", 0, NULL, &err), SL_EINVAL);
    json_t *got = NULL;
    assert_int_equal(sl_dbx_mlflow_run_get(c, run_id, NULL, &got, &err), SL_OK);
    json_decref(got);
    json_decref(metrics);
    json_decref(params);
    json_decref(tags);
    json_decref(run);
    free(exp);
    sl_dbx_client_free(c);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(warehouse_resolution_prefers_running),
        cmocka_unit_test(statement_polls_and_follows_every_chunk),
        cmocka_unit_test(statement_stream_stops_early),
        cmocka_unit_test(failed_statement_is_an_error_with_sqlstate),
        cmocka_unit_test(deadline_cancels_a_running_statement),
        cmocka_unit_test(files_list_head_mkdir_delete),
        cmocka_unit_test(unity_catalog_ensure_accepts_existing),
        cmocka_unit_test(genie_flow),
        cmocka_unit_test(embeddings_come_back_in_input_order),
        cmocka_unit_test(mlflow_get_or_create_and_batch_limits),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
