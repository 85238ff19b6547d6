/*
 * test_dbx_emulator.c - the Databricks client against the real emulator, both in this
 * process: every API area round-trips through the public client functions and is
 * checked against what the emulator stored or counted.
 *
 * Covers: warehouses (list, get, resolve); SQL statements (catalog/schema, named
 * parameters including NULL, asynchronous submit, polling to a terminal state, every
 * result chunk read with 3-row chunks, cancel, a deadline that cancels, a FAILED
 * statement's error_code and SQLSTATE); Files (streamed upload with progress, HEAD
 * metadata, download, mkdir, list, delete, overwrite=false conflict, runs of zeros and
 * a zero tail kept exactly); Unity Catalog (create/get/ensure of catalog, schema,
 * volume; table metadata after a CTAS); Genie (spaces, start, follow-up, wait,
 * attachment query result, conversations and messages listed across pages);
 * embeddings; MLflow (experiment get-or-create, run create/update/get, log-batch read
 * back); and a non-retryable error (bad warehouse id) that surfaces its error_code and
 * is sent exactly once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <unistd.h>

#include "test_dbx_emulator.h"

#define WH     "emu0000000000001"
#define SPACE  "5a1e5000000000000000000000000001"
#define VOLUME "/Volumes/main/default/itvol"

static sl_emulator *E;    /* 3-row result chunks, fast statements */
static sl_emulator *SLOW; /* statements take a minute: cancel and deadlines */
static sl_dbx_client *C;  /* PAT client of E */
static sl_dbx_client *CS; /* PAT client of SLOW */
static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    sl_emulator_opts o;
    te_opts(&o);
    o.chunk_rows = 3;
    E = te_start(&o);
    te_opts(&o);
    o.statement_latency_ms = 60000;
    SLOW = te_start(&o);
    C = te_client(E, NULL, NULL, 3);
    CS = te_client(SLOW, NULL, NULL, 3);
    snprintf(tmpdir, sizeof(tmpdir), "%s/sluice-dbx-emu.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sl_dbx_client_free(C);
    sl_dbx_client_free(CS);
    sl_emulator_stop(E);
    sl_emulator_stop(SLOW);
    sl_dbx_thread_cleanup();
    char *cmd = sl_xasprintf("rm -rf '%s'", tmpdir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    return 0;
}

#define OK(expr)                                                                                   \
    do {                                                                                           \
        sl_err e_;                                                                                 \
        sl_err_clear(&e_);                                                                         \
        sl_err *err = &e_;                                                                         \
        sl_code rc_ = (expr);                                                                      \
        if (rc_ != SL_OK)                                                                          \
            fail_msg("%s -> %s: %s", #expr, sl_code_name(rc_), e_.msg);                            \
    } while (0)

/* ---- warehouses ---- */

static void warehouses_list_get_resolve(void **state)
{
    (void)state;
    json_t *list = NULL, *one = NULL;
    OK(sl_dbx_warehouse_list(C, NULL, &list, err));
    assert_true(json_array_size(list) >= 1);
    const json_t *w = json_array_get(list, 0);
    assert_string_equal(json_string_value(json_object_get(w, "id")), WH);
    assert_string_equal(json_string_value(json_object_get(w, "state")), "RUNNING");
    OK(sl_dbx_warehouse_get(C, WH, NULL, &one, err));
    assert_string_equal(json_string_value(json_object_get(one, "id")), WH);
    assert_string_equal(json_string_value(json_object_get(one, "name")),
                        json_string_value(json_object_get(w, "name")));
    char *id = NULL;
    OK(sl_dbx_warehouse_resolve(C, NULL, NULL, &id, err));
    assert_string_equal(id, WH);
    free(id);
    OK(sl_dbx_warehouse_resolve(C, "explicit0000001", NULL, &id, err));
    assert_string_equal(id, "explicit0000001"); /* explicit wins, no request */
    free(id);
    json_decref(list);
    json_decref(one);
}

/* ---- SQL statements ---- */

typedef struct rows_seen {
    int n;
    long last_id;
    bool bad;
    char why[200];
} rows_seen;

static bool check_row(void *arg, const json_t *columns, const json_t *row)
{
    rows_seen *s = arg;
    s->n++;
    if (json_array_size(columns) != 4 || json_array_size(row) != 4) {
        snprintf(s->why, sizeof(s->why), "row %d has %zu cells", s->n, json_array_size(row));
        s->bad = true;
        return true;
    }
    long id = atol(json_string_value(json_array_get(row, 0)));
    const char *label = json_string_value(json_array_get(row, 1));
    const char *is_null = json_string_value(json_array_get(row, 2));
    if (id <= s->last_id || !label || strcmp(label, "it's") != 0 || !is_null ||
        strcmp(is_null, "true") != 0 || !json_is_null(json_array_get(row, 3))) {
        char *d = sl_json_dumps(row);
        snprintf(s->why, sizeof(s->why), "unexpected row %d: %s", s->n, d);
        free(d);
        s->bad = true;
    }
    s->last_id = id;
    return true;
}

static void on_poll(void *arg, const sl_dbx_progress *p)
{
    int *polls = arg;
    if (strcmp(p->op, "statement") == 0)
        *polls = p->polls;
}

static int64_t count_query(sl_dbx_client *c, const char *sql)
{
    sl_dbx_statement_req req;
    sl_dbx_statement_req_init(&req);
    req.statement = sql;
    sl_dbx_result *res = NULL;
    OK(sl_dbx_sql_query(c, &req, NULL, &res, err));
    assert_int_equal(json_array_size(res->rows), 1);
    int64_t n = atoll(json_string_value(json_array_get(json_array_get(res->rows, 0), 0)));
    sl_dbx_result_free(res);
    return n;
}

static void statement_params_poll_and_every_chunk(void **state)
{
    (void)state;
    int64_t want = count_query(C, "SELECT count(*) FROM samples.sales.product_sales WHERE "
                                  "units >= 5");
    assert_true(want > 6); /* several 3-row chunks */

    sl_dbx_sql_param ps[] = {
        {.name = "label", .value = "it's", .type = NULL},
        {.name = "min", .value = "5", .type = "INT"},
        {.name = "missing", .value = NULL, .type = "STRING"},
    };
    sl_dbx_statement_req req;
    sl_dbx_statement_req_init(&req);
    req.statement = "SELECT order_id, :label AS label, :missing IS NULL AS missing_is_null, "
                    ":missing AS missing FROM product_sales WHERE units >= :min ORDER BY order_id";
    req.catalog = "samples";
    req.schema = "sales";
    req.params = ps;
    req.n_params = 3;
    req.wait_timeout_s = 0; /* asynchronous: the client must poll */
    json_t *resp = NULL, *done = NULL;
    OK(sl_dbx_statement_execute(C, &req, NULL, &resp, err));
    const char *state0 =
        json_string_value(json_object_get(json_object_get(resp, "status"), "state"));
    assert_false(sl_dbx_statement_state_is_terminal(state0));
    const char *id = json_string_value(json_object_get(resp, "statement_id"));
    int polls = 0;
    sl_dbx_call call = {
        .poll_initial_ms = 10, .poll_max_ms = 40, .progress = on_poll, .progress_arg = &polls};
    OK(sl_dbx_statement_wait(C, id, &call, &done, err));
    assert_true(polls >= 1);
    const json_t *manifest = json_object_get(done, "manifest");
    int64_t total = json_integer_value(json_object_get(manifest, "total_row_count"));
    int64_t chunks = json_integer_value(json_object_get(manifest, "total_chunk_count"));
    assert_int_equal(total, want);
    assert_int_equal(chunks, (want + 2) / 3);

    json_t *before = te_stats(E);
    rows_seen seen = {0};
    OK(sl_dbx_statement_fetch(C, done, NULL, check_row, &seen, err));
    json_t *after = te_stats(E);
    if (seen.bad)
        fail_msg("%s", seen.why);
    assert_int_equal(seen.n, want);
    const char *chunk_route = "GET /api/2.0/sql/statements/{id}/result/chunks/{n}";
    assert_int_equal(te_route(after, chunk_route) - te_route(before, chunk_route), chunks - 1);

    /* the one-call form collects the same rows */
    sl_dbx_result *res = NULL;
    req.wait_timeout_s = 10;
    OK(sl_dbx_sql_query(C, &req, NULL, &res, err));
    assert_int_equal(json_array_size(res->rows), want);
    assert_int_equal(json_array_size(res->columns), 4);
    assert_string_equal(json_string_value(json_object_get(json_array_get(res->columns, 2), "name")),
                        "missing_is_null");
    assert_false(res->truncated);
    sl_dbx_result_free(res);

    json_decref(before);
    json_decref(after);
    json_decref(resp);
    json_decref(done);
}

static void statement_cancel_and_deadline(void **state)
{
    (void)state;
    sl_dbx_statement_req req;
    sl_dbx_statement_req_init(&req);
    req.statement = "SELECT 1";
    req.wait_timeout_s = 0;
    json_t *resp = NULL, *got = NULL, *done = NULL;
    OK(sl_dbx_statement_execute(CS, &req, NULL, &resp, err));
    const char *id = json_string_value(json_object_get(resp, "statement_id"));
    OK(sl_dbx_statement_get(CS, id, NULL, &got, err));
    assert_false(sl_dbx_statement_state_is_terminal(
        json_string_value(json_object_get(json_object_get(got, "status"), "state"))));
    OK(sl_dbx_statement_cancel(CS, id, NULL, err));
    sl_dbx_call call = {
        .poll_initial_ms = 10, .poll_max_ms = 40, .deadline_ms = sl_now_ms() + 10000};
    sl_err e;
    sl_err_clear(&e);
    assert_int_equal(sl_dbx_statement_wait(CS, id, &call, &done, &e), SL_ECANCELED);
    assert_null(done);
    assert_false(e.retryable);

    /* a deadline ends the one-call form, which then cancels the statement */
    json_t *before = te_stats(SLOW);
    sl_dbx_result *res = NULL;
    sl_dbx_call brief = {
        .poll_initial_ms = 20, .poll_max_ms = 50, .deadline_ms = sl_now_ms() + 400};
    req.wait_timeout_s = 10;
    sl_err_clear(&e);
    assert_int_equal(sl_dbx_sql_query(CS, &req, &brief, &res, &e), SL_ETIMEOUT);
    assert_true(e.retryable);
    assert_null(res);
    json_t *after = te_stats(SLOW);
    const char *cancel_route = "POST /api/2.0/sql/statements/{id}/cancel";
    assert_int_equal(te_route(after, cancel_route) - te_route(before, cancel_route), 1);
    json_t *list = json_object_get(after, "statements");
    const char *last = json_string_value(
        json_object_get(json_array_get(list, json_array_size(list) - 1), "statement_id"));
    json_decref(got);
    got = NULL;
    OK(sl_dbx_statement_get(CS, last, NULL, &got, err));
    assert_string_equal(json_string_value(json_object_get(json_object_get(got, "status"), "state")),
                        "CANCELED");
    json_decref(before);
    json_decref(after);
    json_decref(got);
    json_decref(resp);
}

static void failed_statement_names_its_sqlstate_once(void **state)
{
    (void)state;
    sl_dbx_statement_req req;
    sl_dbx_statement_req_init(&req);
    req.statement = "SELECT * FROM main.default.no_such_table";
    sl_dbx_result *res = NULL;
    sl_err e;
    sl_err_clear(&e);
    assert_int_equal(sl_dbx_sql_query(C, &req, NULL, &res, &e), SL_EINVAL);
    assert_null(res);
    assert_false(e.retryable);
    assert_string_equal(e.error_code, "BAD_REQUEST");
    assert_non_null(strstr(e.msg, " failed: BAD_REQUEST: [TABLE_OR_VIEW_NOT_FOUND] "));
    const char *tail = " (SQLSTATE 42P01)";
    size_t n = strlen(e.msg);
    assert_true(n > strlen(tail));
    assert_string_equal(e.msg + n - strlen(tail), tail);
    assert_ptr_equal(strstr(e.msg, "SQLSTATE"), strstr(e.msg, tail) + 2); /* said once */
}

/* ---- Files ---- */

static void on_transfer(void *arg, const sl_dbx_progress *p)
{
    int64_t *last = arg;
    if (strcmp(p->op, "upload") == 0)
        *last = p->bytes_done;
}

static char *write_pattern(const char *name, size_t n)
{
    char *path = sl_xasprintf("%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        fputc((int)((i * 7 + i / 251) & 0xff), f);
    assert_int_equal(fclose(f), 0);
    return path;
}

static bool same_file(const char *a, const char *b)
{
    char *cmd = sl_xasprintf("cmp -s '%s' '%s'", a, b);
    int rc = system(cmd);
    free(cmd);
    return rc == 0;
}

static const json_t *entry_named(const json_t *list, const char *name)
{
    size_t i;
    const json_t *e;
    json_array_foreach(list, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "name")), name) == 0)
            return e;
    }
    return NULL;
}

static void files_round_trip(void **state)
{
    (void)state;
    OK(sl_dbx_volume_ensure(C, "main", "default", "itvol", NULL, NULL, NULL, err));
    OK(sl_dbx_dir_create(C, VOLUME "/in/deep", NULL, err));
    OK(sl_dbx_dir_create(C, VOLUME "/in/deep", NULL, err)); /* mkdir -p is idempotent */
    const size_t size = 3 * 1024 * 1024 + 17;
    char *local = write_pattern("data.bin", size);
    const char *remote = VOLUME "/in/deep/data file.bin";
    int64_t progressed = 0;
    sl_dbx_call call = {.progress = on_transfer, .progress_arg = &progressed};
    OK(sl_dbx_file_upload(C, local, remote, false, &call, err));
    assert_int_equal(progressed, (int64_t)size);

    json_t *stats = te_stats(E);
    const json_t *up = json_object_get(json_object_get(stats, "uploads"), remote);
    assert_int_equal(json_integer_value(json_object_get(up, "bytes")), size);
    json_decref(stats);

    sl_dbx_file_info info;
    OK(sl_dbx_file_head(C, remote, NULL, &info, err));
    assert_int_equal(info.size, (int64_t)size);
    assert_string_equal(info.content_type, "application/octet-stream");
    assert_true(info.last_modified_ms > 0);

    char *back = sl_xasprintf("%s/back.bin", tmpdir);
    OK(sl_dbx_file_download(C, remote, back, NULL, err));
    assert_true(same_file(local, back));

    sl_err e;
    sl_err_clear(&e);
    assert_int_equal(sl_dbx_file_upload(C, local, remote, false, NULL, &e), SL_ECONFLICT);
    assert_string_equal(e.error_code, "ALREADY_EXISTS");
    assert_int_equal(e.http_status, 409);
    OK(sl_dbx_file_upload(C, local, remote, true, NULL, err));

    json_t *top = NULL, *deep = NULL;
    OK(sl_dbx_dir_list(C, VOLUME "/in", 0, NULL, &top, err));
    const json_t *d = entry_named(top, "deep");
    assert_non_null(d);
    assert_true(json_is_true(json_object_get(d, "is_directory")));
    OK(sl_dbx_dir_list(C, VOLUME "/in/deep", 0, NULL, &deep, err));
    assert_int_equal(json_array_size(deep), 1);
    const json_t *f = entry_named(deep, "data file.bin");
    assert_non_null(f);
    assert_int_equal(json_integer_value(json_object_get(f, "file_size")), size);
    assert_string_equal(json_string_value(json_object_get(f, "path")), remote);

    OK(sl_dbx_file_delete(C, remote, NULL, err));
    sl_err_clear(&e);
    assert_int_equal(sl_dbx_file_head(C, remote, NULL, &info, &e), SL_ENOTFOUND);
    char *gone = sl_xasprintf("%s/gone.bin", tmpdir);
    sl_err_clear(&e);
    assert_int_equal(sl_dbx_file_download(C, remote, gone, NULL, &e), SL_ENOTFOUND);
    assert_int_equal(access(gone, F_OK), -1); /* no partial file left behind */
    assert_non_null(strstr(e.msg, "download " VOLUME "/in/deep/data file.bin: HTTP 404"));

    /* runs of zeros (the emulator may store them as holes), also at the very end */
    char *holey = sl_xasprintf("%s/holey.bin", tmpdir);
    FILE *hf = fopen(holey, "wb");
    assert_non_null(hf);
    for (size_t i = 0; i < 1024 * 1024; i++) {
        bool zero = (i >= 100000 && i < 700000) || i >= 800000;
        fputc(zero ? 0 : (int)(1 + i % 251), hf);
    }
    assert_int_equal(fclose(hf), 0);
    OK(sl_dbx_file_upload(C, holey, VOLUME "/holey.bin", true, NULL, err));
    OK(sl_dbx_file_head(C, VOLUME "/holey.bin", NULL, &info, err));
    assert_int_equal(info.size, 1024 * 1024);
    OK(sl_dbx_file_download(C, VOLUME "/holey.bin", back, NULL, err));
    assert_true(same_file(holey, back));

    json_decref(top);
    json_decref(deep);
    free(local);
    free(back);
    free(gone);
    free(holey);
}

/* ---- Unity Catalog ---- */

static void unity_catalog_create_get_ensure(void **state)
{
    (void)state;
    json_t *o = NULL;
    OK(sl_dbx_catalog_create(C, "itcat", "integration", NULL, &o, err));
    assert_string_equal(json_string_value(json_object_get(o, "name")), "itcat");
    json_decref(o);
    sl_err e;
    sl_err_clear(&e);
    assert_int_equal(sl_dbx_catalog_create(C, "itcat", NULL, NULL, NULL, &e), SL_ECONFLICT);
    assert_string_equal(e.error_code, "CATALOG_ALREADY_EXISTS");
    OK(sl_dbx_catalog_ensure(C, "itcat", NULL, NULL, &o, err));
    assert_string_equal(json_string_value(json_object_get(o, "comment")), "integration");
    json_decref(o);
    OK(sl_dbx_catalog_get(C, "itcat", NULL, &o, err));
    json_decref(o);

    OK(sl_dbx_schema_ensure(C, "itcat", "s1", "first", NULL, &o, err));
    assert_string_equal(json_string_value(json_object_get(o, "full_name")), "itcat.s1");
    json_decref(o);
    OK(sl_dbx_schema_ensure(C, "itcat", "s1", NULL, NULL, NULL, err));
    OK(sl_dbx_schema_get(C, "itcat.s1", NULL, &o, err));
    assert_string_equal(json_string_value(json_object_get(o, "catalog_name")), "itcat");
    json_decref(o);

    OK(sl_dbx_volume_create(C, "itcat", "s1", "v1", NULL, NULL, &o, err));
    assert_string_equal(json_string_value(json_object_get(o, "volume_type")), "MANAGED");
    json_decref(o);
    OK(sl_dbx_volume_ensure(C, "itcat", "s1", "v1", NULL, NULL, NULL, err));
    OK(sl_dbx_volume_get(C, "itcat.s1.v1", NULL, &o, err));
    assert_string_equal(json_string_value(json_object_get(o, "full_name")), "itcat.s1.v1");
    json_decref(o);

    sl_err_clear(&e);
    assert_int_equal(sl_dbx_table_get(C, "itcat.s1.t", NULL, &o, &e), SL_ENOTFOUND);
    assert_string_equal(e.error_code, "TABLE_DOES_NOT_EXIST");
    sl_dbx_statement_req req;
    sl_dbx_statement_req_init(&req);
    req.statement = "CREATE TABLE itcat.s1.t AS SELECT CAST(order_id AS BIGINT) AS id, "
                    "product_name, CAST(total_value AS DOUBLE) AS v FROM "
                    "samples.sales.product_sales";
    sl_dbx_result *res = NULL;
    OK(sl_dbx_sql_query(C, &req, NULL, &res, err));
    sl_dbx_result_free(res);
    OK(sl_dbx_table_get(C, "itcat.s1.t", NULL, &o, err));
    assert_string_equal(json_string_value(json_object_get(o, "full_name")), "itcat.s1.t");
    const json_t *cols = json_object_get(o, "columns");
    assert_int_equal(json_array_size(cols), 3);
    const char *names[] = {"id", "product_name", "v"};
    const char *types[] = {"LONG", "STRING", "DOUBLE"};
    for (size_t i = 0; i < 3; i++) {
        const json_t *col = json_array_get(cols, i);
        assert_string_equal(json_string_value(json_object_get(col, "name")), names[i]);
        assert_string_equal(json_string_value(json_object_get(col, "type_name")), types[i]);
    }
    json_decref(o);
    bool exists = false;
    OK(sl_dbx_table_exists(C, "itcat.s1.t", NULL, &exists, err));
    assert_true(exists);
    OK(sl_dbx_table_exists(C, "itcat.s1.nope", NULL, &exists, err));
    assert_false(exists);
    assert_int_equal(count_query(C, "SELECT count(*) FROM itcat.s1.t"), 50);
}

/* ---- Genie ---- */

static const json_t *query_attachment(const json_t *msg)
{
    size_t i;
    const json_t *a;
    json_array_foreach(json_object_get(msg, "attachments"), i, a)
    {
        if (json_object_get(a, "query"))
            return a;
    }
    return NULL;
}

static bool count_row(void *arg, const json_t *columns, const json_t *row)
{
    (void)columns;
    (void)row;
    (*(int64_t *)arg)++;
    return true;
}

static void genie_conversation_round_trip(void **state)
{
    (void)state;
    json_t *spaces = NULL, *space = NULL;
    OK(sl_dbx_genie_space_list(C, 0, NULL, &spaces, err));
    assert_int_equal(json_array_size(spaces), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(spaces, 0), "space_id")),
                        SPACE);
    OK(sl_dbx_genie_space_get(C, SPACE, NULL, &space, err));
    assert_string_equal(json_string_value(json_object_get(space, "warehouse_id")), WH);
    char *sid = NULL;
    OK(sl_dbx_genie_space_resolve(C, NULL, NULL, &sid, err));
    assert_string_equal(sid, SPACE);
    free(sid);

    json_t *start = NULL, *msg = NULL, *qr = NULL, *follow = NULL, *msg2 = NULL;
    OK(sl_dbx_genie_conversation_start(
        C, SPACE, "Which products generate the highest total sales value?", NULL, &start, err));
    const char *conv = json_string_value(json_object_get(start, "conversation_id"));
    const char *mid = json_string_value(json_object_get(start, "message_id"));
    assert_non_null(conv);
    assert_non_null(mid);
    sl_dbx_call call = {
        .poll_initial_ms = 30, .poll_max_ms = 60, .deadline_ms = sl_now_ms() + 20000};
    OK(sl_dbx_genie_message_wait(C, SPACE, conv, mid, &call, &msg, err));
    assert_string_equal(json_string_value(json_object_get(msg, "status")), "COMPLETED");
    const json_t *att = query_attachment(msg);
    assert_non_null(att);
    const char *att_id = json_string_value(json_object_get(att, "attachment_id"));
    OK(sl_dbx_genie_attachment_query_result(C, SPACE, conv, mid, att_id, NULL, &qr, err));
    const json_t *sr = json_object_get(qr, "statement_response");
    assert_string_equal(json_string_value(json_object_get(json_object_get(sr, "status"), "state")),
                        "SUCCEEDED");
    int64_t rows = json_integer_value(json_object_get(
        json_object_get(json_object_get(att, "query"), "query_result_metadata"), "row_count"));
    assert_true(rows > 0);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(sr, "manifest"), "total_row_count")),
        rows);
    /* and every row of it through the statement API (chunks of 3) */
    int64_t n = 0;
    OK(sl_dbx_statement_fetch(C, sr, NULL, count_row, &n, err));
    assert_int_equal(n, rows);

    OK(sl_dbx_genie_message_create(C, SPACE, conv, "What are the sales by region?", NULL, &follow,
                                   err));
    const char *mid2 = json_string_value(json_object_get(follow, "message_id"));
    assert_string_equal(json_string_value(json_object_get(follow, "conversation_id")), conv);
    OK(sl_dbx_genie_message_wait(C, SPACE, conv, mid2, &call, &msg2, err));
    assert_string_equal(json_string_value(json_object_get(msg2, "status")), "COMPLETED");

    json_t *msgs = NULL, *convs = NULL;
    OK(sl_dbx_genie_message_list(C, SPACE, conv, 0, NULL, &msgs, err));
    assert_int_equal(json_array_size(msgs), 2);
    OK(sl_dbx_genie_conversation_list(C, SPACE, false, 0, NULL, &convs, err));
    bool found = false;
    size_t i;
    json_t *c;
    json_array_foreach(convs, i, c)
    {
        found =
            found || strcmp(json_string_value(json_object_get(c, "conversation_id")), conv) == 0;
    }
    assert_true(found);

    json_decref(spaces);
    json_decref(space);
    json_decref(start);
    json_decref(msg);
    json_decref(qr);
    json_decref(follow);
    json_decref(msg2);
    json_decref(msgs);
    json_decref(convs);
}

/* More than one page (the client asks for 100 a page) of conversations and messages. */
static void genie_lists_follow_pages(void **state)
{
    (void)state;
    enum { N = 104 };
    json_t *started = json_object();
    char *first_conv = NULL;
    for (int i = 0; i < N; i++) {
        char q[64];
        snprintf(q, sizeof(q), "hello number %d", i);
        json_t *s = NULL;
        OK(sl_dbx_genie_conversation_start(C, SPACE, q, NULL, &s, err));
        const char *conv = json_string_value(json_object_get(s, "conversation_id"));
        json_object_set_new(started, conv, json_true());
        if (!first_conv)
            first_conv = sl_xstrdup(conv);
        json_decref(s);
    }
    json_t *before = te_stats(E);
    json_t *convs = NULL;
    OK(sl_dbx_genie_conversation_list(C, SPACE, false, 0, NULL, &convs, err));
    json_t *after = te_stats(E);
    const char *route = "GET /api/2.0/genie/spaces/{space}/conversations";
    assert_true(te_route(after, route) - te_route(before, route) >= 2);
    json_t *seen = json_object();
    size_t i;
    json_t *c;
    json_array_foreach(convs, i, c)
    {
        const char *id = json_string_value(json_object_get(c, "conversation_id"));
        assert_null(json_object_get(seen, id)); /* no duplicates across pages */
        json_object_set_new(seen, id, json_true());
    }
    const char *k;
    json_t *v;
    json_object_foreach(started, k, v)
    {
        assert_non_null(json_object_get(seen, k));
    }
    json_t *five = NULL;
    OK(sl_dbx_genie_conversation_list(C, SPACE, false, 5, NULL, &five, err));
    assert_int_equal(json_array_size(five), 5);

    for (int m = 1; m < N; m++) {
        char q[64];
        snprintf(q, sizeof(q), "follow-up %d", m);
        json_t *msg = NULL;
        OK(sl_dbx_genie_message_create(C, SPACE, first_conv, q, NULL, &msg, err));
        json_decref(msg);
    }
    json_t *msgs = NULL;
    OK(sl_dbx_genie_message_list(C, SPACE, first_conv, 0, NULL, &msgs, err));
    assert_int_equal(json_array_size(msgs), N);
    json_t *mseen = json_object();
    json_array_foreach(msgs, i, c)
    {
        const char *id = json_string_value(json_object_get(c, "message_id"));
        assert_null(json_object_get(mseen, id));
        json_object_set_new(mseen, id, json_true());
    }

    free(first_conv);
    json_decref(started);
    json_decref(before);
    json_decref(after);
    json_decref(convs);
    json_decref(seen);
    json_decref(five);
    json_decref(msgs);
    json_decref(mseen);
}

/* ---- serving ---- */

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * (double)b[i];
    return s;
}

static void embeddings_round_trip(void **state)
{
    (void)state;
    const char *in[] = {"quarterly revenue by region", "apple pie recipe",
                        "quarterly revenue by region"};
    sl_dbx_vectors *v = NULL;
    OK(sl_dbx_serving_embed(C, "databricks-gte-large-en", in, 3, NULL, &v, err));
    assert_int_equal(v->n, 3);
    assert_int_equal(v->dim, 1024);
    const float *a = v->data, *b = v->data + v->dim, *a2 = v->data + 2 * v->dim;
    assert_true(fabs(dot(a, a, v->dim) - 1.0) < 1e-3);
    assert_true(fabs(dot(a, a2, v->dim) - 1.0) < 1e-3); /* same text, same vector */
    assert_true(dot(a, b, v->dim) < 0.9);               /* input order kept */
    sl_dbx_vectors_free(v);
    v = NULL;
    sl_err e;
    sl_err_clear(&e);
    assert_int_equal(sl_dbx_serving_embed(C, "no-such-endpoint", in, 1, NULL, &v, &e),
                     SL_ENOTFOUND);
    assert_string_equal(e.error_code, "RESOURCE_DOES_NOT_EXIST");
    assert_null(v);
}

/* ---- MLflow ---- */

static const char *kv_get(const json_t *list, const char *key)
{
    size_t i;
    const json_t *e;
    json_array_foreach(list, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "key")), key) == 0)
            return json_is_string(json_object_get(e, "value"))
                       ? json_string_value(json_object_get(e, "value"))
                       : "(number)";
    }
    return NULL;
}

static void mlflow_round_trip(void **state)
{
    (void)state;
    char *exp = NULL, *exp2 = NULL;
    OK(sl_dbx_mlflow_experiment_ensure(C, "/Users/it@example.com/sluice-it", NULL, &exp, err));
    OK(sl_dbx_mlflow_experiment_ensure(C, "/Users/it@example.com/sluice-it", NULL, &exp2, err));
    assert_string_equal(exp, exp2);
    json_t *tags = json_pack("[{s:s,s:s}]", "key", "origin", "value", "test");
    json_t *run = NULL, *got = NULL;
    OK(sl_dbx_mlflow_run_create(C, exp, "run-1", 0, tags, NULL, &run, err));
    const char *run_id = json_string_value(json_object_get(json_object_get(run, "info"), "run_id"));
    assert_non_null(run_id);
    json_t *metrics =
        json_pack("[{s:s,s:f,s:I,s:I},{s:s,s:f,s:I,s:I}]", "key", "loss", "value", 0.5, "timestamp",
                  (json_int_t)sl_now_ms(), "step", (json_int_t)1, "key", "loss", "value", 0.25,
                  "timestamp", (json_int_t)sl_now_ms() + 1, "step", (json_int_t)2);
    json_t *params = json_pack("[{s:s,s:s}]", "key", "lr", "value", "0.1");
    json_t *more = json_pack("[{s:s,s:s}]", "key", "stage", "value", "it");
    OK(sl_dbx_mlflow_run_log_batch(C, run_id, metrics, params, more, NULL, err));
    int64_t end = sl_now_ms();
    OK(sl_dbx_mlflow_run_update(C, run_id, "FINISHED", end, NULL, err));
    OK(sl_dbx_mlflow_run_get(C, run_id, NULL, &got, err));
    const json_t *info = json_object_get(json_object_get(got, "run"), "info");
    const json_t *data = json_object_get(json_object_get(got, "run"), "data");
    if (!info) { /* the wrapper may already unwrap {run: ...} */
        info = json_object_get(got, "info");
        data = json_object_get(got, "data");
    }
    assert_string_equal(json_string_value(json_object_get(info, "status")), "FINISHED");
    assert_int_equal(json_integer_value(json_object_get(info, "end_time")), end);
    assert_string_equal(json_string_value(json_object_get(info, "experiment_id")), exp);
    assert_string_equal(kv_get(json_object_get(data, "params"), "lr"), "0.1");
    assert_string_equal(kv_get(json_object_get(data, "tags"), "stage"), "it");
    assert_string_equal(kv_get(json_object_get(data, "tags"), "origin"), "test");
    const json_t *ms = json_object_get(data, "metrics");
    size_t i;
    const json_t *m;
    bool loss = false;
    json_array_foreach(ms, i, m)
    {
        if (strcmp(json_string_value(json_object_get(m, "key")), "loss") == 0) {
            loss = true;
            assert_true(fabs(json_number_value(json_object_get(m, "value")) - 0.25) < 1e-9);
        }
    }
    assert_true(loss);
    /* a param is write-once: a different value is refused, not silently kept */
    json_t *clash = json_pack("[{s:s,s:s}]", "key", "lr", "value", "0.2");
    sl_err e;
    sl_err_clear(&e);
    assert_int_equal(sl_dbx_mlflow_run_log_batch(C, run_id, NULL, clash, NULL, NULL, &e),
                     SL_EINVAL);
    assert_string_equal(e.error_code, "INVALID_PARAMETER_VALUE");
    free(exp);
    free(exp2);
    json_decref(tags);
    json_decref(run);
    json_decref(got);
    json_decref(metrics);
    json_decref(params);
    json_decref(more);
    json_decref(clash);
}

/* ---- a non-retryable error is sent once and surfaces its code ---- */

static void bad_warehouse_is_not_retried(void **state)
{
    (void)state;
    sl_dbx_stats s0, s1;
    json_t *before = te_stats(E);
    sl_dbx_stats_get(C, &s0);
    sl_dbx_statement_req req;
    sl_dbx_statement_req_init(&req);
    req.statement = "SELECT 1";
    req.warehouse_id = "0000000000bad000";
    sl_dbx_result *res = NULL;
    sl_err e;
    sl_err_clear(&e);
    assert_int_equal(sl_dbx_sql_query(C, &req, NULL, &res, &e), SL_EINVAL);
    sl_dbx_stats_get(C, &s1);
    json_t *after = te_stats(E);
    assert_null(res);
    assert_false(e.retryable);
    assert_int_equal(e.http_status, 400);
    assert_string_equal(e.error_code, "INVALID_PARAMETER_VALUE");
    assert_non_null(strstr(e.msg, "0000000000bad000"));
    assert_null(strstr(e.msg, "after")); /* "(after N attempts)" only when retried */
    assert_int_equal(s1.retries - s0.retries, 0);
    assert_int_equal(s1.requests - s0.requests, 1);
    const char *route = "POST /api/2.0/sql/statements";
    assert_int_equal(te_route(after, route) - te_route(before, route), 1);
    assert_int_equal(te_api_requests(after) - te_api_requests(before), 1);
    json_decref(before);
    json_decref(after);

    /* and a warehouse that does not exist, by GET */
    before = te_stats(E);
    sl_dbx_stats_get(C, &s0);
    json_t *w = NULL;
    sl_err_clear(&e);
    assert_int_equal(sl_dbx_warehouse_get(C, "0000000000bad000", NULL, &w, &e), SL_ENOTFOUND);
    sl_dbx_stats_get(C, &s1);
    after = te_stats(E);
    assert_string_equal(e.error_code, "RESOURCE_DOES_NOT_EXIST");
    assert_int_equal(e.http_status, 404);
    assert_int_equal(s1.retries - s0.retries, 0);
    assert_int_equal(s1.requests - s0.requests, 1);
    route = "GET /api/2.0/sql/warehouses/{id}";
    assert_int_equal(te_route(after, route) - te_route(before, route), 1);
    json_decref(before);
    json_decref(after);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(warehouses_list_get_resolve),
        cmocka_unit_test(statement_params_poll_and_every_chunk),
        cmocka_unit_test(statement_cancel_and_deadline),
        cmocka_unit_test(failed_statement_names_its_sqlstate_once),
        cmocka_unit_test(files_round_trip),
        cmocka_unit_test(unity_catalog_create_get_ensure),
        cmocka_unit_test(genie_conversation_round_trip),
        cmocka_unit_test(genie_lists_follow_pages),
        cmocka_unit_test(embeddings_round_trip),
        cmocka_unit_test(mlflow_round_trip),
        cmocka_unit_test(bad_warehouse_is_not_retried),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
