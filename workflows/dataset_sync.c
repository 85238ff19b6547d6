/*
 * dataset_sync.c - the durable sync of a local dataset to Unity Catalog (see datasets.h):
 * workflow dataset_sync and its activities sync_to_bronze, transform_to_silver,
 * update_dataset_metadata and mark_sync_failed.
 *
 * Every activity is idempotent: uploads overwrite, tables are CREATE OR REPLACE, metadata
 * updates are absolute. Long calls (uploads, statement polling) heartbeat on every
 * progress callback, so a worker that dies is noticed within the heartbeat timeout.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/appstore.h"
#include "sluice/datasets.h"
#include "sluice/workflows.h"

/* ---- the workflow ------------------------------------------------------------------------ */

static void activity_opts(const json_t *in, int64_t start_to_close_ms, sl_activity_opts *o)
{
    sl_activity_opts_init(o);
    o->start_to_close_ms = start_to_close_ms;
    o->heartbeat_ms = 60000;
    json_t *hb = json_object_get(in, "heartbeat_timeout");
    if (hb && sl_duration_from_json(hb, &o->heartbeat_ms, NULL) != SL_OK)
        o->heartbeat_ms = 60000;
    json_t *rp = json_object_get(in, "retry");
    if (rp) {
        sl_retry_policy_init(&o->retry);
        o->has_retry = sl_retry_policy_from_json(rp, &o->retry, NULL) == SL_OK;
    }
}

static sl_wf_status dataset_sync(sl_wf *wf, const json_t *in, json_t **out)
{
    const char *id = json_string_value(json_object_get(in, "dataset_id"));
    if (!id)
        return sl_wf_fail(wf, "InvalidInput", "dataset_sync needs a dataset_id");
    /* A canceled sync must still mark the dataset: handle cancellation ourselves. */
    sl_wf_handle_cancel(wf);
    sl_activity_opts o_bronze, o_silver, o_meta;
    activity_opts(in, 60 * 60 * 1000, &o_bronze);
    activity_opts(in, 30 * 60 * 1000, &o_silver);
    activity_opts(in, 60 * 1000, &o_meta);
    o_meta.heartbeat_ms = 0;
    const json_t *bronze = NULL, *silver = NULL, *fail = NULL;

    SL_AWAIT_TRY(wf, sl_activity(wf, "sync_to_bronze", json_incref((json_t *)in), &o_bronze),
                 &bronze, &fail);
    if (fail || sl_wf_cancel_requested(wf))
        goto failed;
    SL_AWAIT_TRY(wf,
                 sl_activityf(wf, "transform_to_silver", &o_silver, "{s:s,s:O}", "dataset_id",
                              id, "bronze", bronze),
                 &silver, &fail);
    if (fail || sl_wf_cancel_requested(wf))
        goto failed;
    SL_AWAIT_TRY(wf,
                 sl_activityf(wf, "update_dataset_metadata", &o_meta, "{s:s,s:O,s:O}",
                              "dataset_id", id, "bronze", bronze, "silver", silver),
                 NULL, &fail);
    if (fail)
        goto failed;
    *out = json_pack("{s:s,s:O?,s:O?,s:O?,s:O?}", "status", "synced", "bronze_table",
                     json_object_get(bronze, "bronze_table"), "silver_table",
                     json_object_get(silver, "silver_table"), "row_count",
                     json_object_get(bronze, "row_count"), "silver_row_count",
                     json_object_get(silver, "row_count"));
    return SL_WF_DONE;

failed:;
    bool canceled = !fail;
    const json_t *why = fail ? fail
                             : sl_wf_keep(wf, json_pack("{s:s,s:s}", "type", "CanceledError",
                                                        "message", "sync canceled"));
    SL_AWAIT(wf,
             sl_activityf(wf, "mark_sync_failed", &o_meta, "{s:s,s:O}", "dataset_id", id,
                          "failure", why),
             NULL);
    if (canceled)
        return SL_WF_CANCELED;
    return sl_wf_fail_with(wf, fail);
}

/* ---- activity helpers ---------------------------------------------------------------------- */

/* Heartbeats from the Databricks client's progress callbacks, and cancellation back to it. */
struct hb {
    sl_act *act;
    bool stop;
};

static void on_progress(void *arg, const sl_dbx_progress *p)
{
    struct hb *h = arg;
    json_t *d = json_pack("{s:s,s:s?,s:s?,s:I,s:I}", "op", p->op, "id", p->id, "state",
                          p->state, "bytes_done", (json_int_t)p->bytes_done, "polls",
                          (json_int_t)p->polls);
    if (!sl_act_heartbeat(h->act, d))
        h->stop = true;
    json_decref(d);
}

static bool on_cancel(void *arg)
{
    struct hb *h = arg;
    return h->stop;
}

static sl_dbx_call make_call(sl_act *act, struct hb *h)
{
    h->act = act;
    h->stop = false;
    sl_dbx_call call = {.deadline_ms = sl_act_deadline_ms(act),
                        .cancel = on_cancel,
                        .cancel_arg = h,
                        .progress = on_progress,
                        .progress_arg = h};
    /* Poll often enough to heartbeat well within the heartbeat timeout. */
    int64_t hb = sl_act_heartbeat_timeout_ms(act);
    if (hb > 0) {
        call.poll_max_ms = hb / 3 < 100 ? 100 : hb / 3 > 5000 ? 5000 : hb / 3;
        if (call.poll_max_ms < 250)
            call.poll_initial_ms = call.poll_max_ms;
    }
    return call;
}

/* The failure type users see: the Databricks error code when there is one. */
static json_t *fail_dbx(sl_act *act, const char *what, sl_err *err)
{
    sl_err_prefix(err, "%s", what);
    const char *type = err->error_code[0] ? err->error_code
                       : err->code == SL_ETIMEOUT ? "Timeout"
                       : err->code == SL_ECANCELED ? "CanceledError"
                                                   : "DatabricksError";
    /* For the sync, a server-side failure is worth another attempt later even when the
     * client did not retry it at once (an HTTP 500 from a warehouse hiccup); a request the
     * workspace rejected (4xx) will be rejected again. */
    if (err->http_status >= 500 || err->http_status == 429)
        err->retryable = true;
    if (err->code == SL_ECANCELED && sl_act_is_canceled(act))
        err->retryable = false;
    return sl_act_fail_err(act, type, err);
}

struct get_arg {
    const char *id;
    sl_dataset_row *out;
};

static sl_code get_dataset_fn(sl_store *st, void *arg, sl_err *err)
{
    struct get_arg *g = arg;
    return sl_appstore_dataset_get(st, g->id, g->out, err);
}

static sl_code load_dataset(sl_engine *e, const char *id, sl_dataset_row *out, sl_err *err)
{
    memset(out, 0, sizeof(*out));
    struct get_arg g = {.id = id, .out = out};
    return sl_engine_read(e, get_dataset_fn, &g, err);
}

struct status_update {
    const char *id;
    const char *status;
    const char *error;
    const json_t *bronze, *silver;
};

static sl_code update_fn(sl_store *st, void *arg, sl_err *err)
{
    struct status_update *u = arg;
    sl_dataset_row r;
    sl_code rc = sl_appstore_dataset_get(st, u->id, &r, err);
    if (rc != SL_OK)
        return rc;
    int64_t now = sl_now_ms();
    free(r.sync_status);
    r.sync_status = sl_xstrdup(u->status);
    r.databricks_enabled = true;
    if (strcmp(u->status, "syncing") == 0)
        r.last_sync_attempt = now;
    if (strcmp(u->status, "failed") == 0) {
        free(r.last_sync_error);
        r.last_sync_error = sl_xstrdup(u->error ? u->error : "sync failed");
    }
    if (strcmp(u->status, "synced") == 0) {
        free(r.bronze_table);
        free(r.silver_table);
        free(r.last_sync_error);
        r.last_sync_error = NULL;
        const char *b = json_string_value(json_object_get(u->bronze, "bronze_table"));
        const char *s = json_string_value(json_object_get(u->silver, "silver_table"));
        r.bronze_table = b ? sl_xstrdup(b) : NULL;
        r.silver_table = s ? sl_xstrdup(s) : NULL;
        r.row_count_databricks = json_integer_value(json_object_get(u->bronze, "row_count"));
        r.silver_row_count = json_integer_value(json_object_get(u->silver, "row_count"));
        r.last_sync_at = now;
    }
    rc = sl_appstore_dataset_update(st, &r, err);
    sl_dataset_row_cleanup(&r);
    return rc;
}

static sl_code set_status(sl_engine *e, struct status_update *u, sl_err *err)
{
    return sl_engine_exec(e, update_fn, u, err);
}

/* Environment checks every activity does first. */
static json_t *need_env(sl_act *act, sl_engine **e, sl_dbx_client **dbx)
{
    sl_wf_env *env = sl_act_wf_env(act);
    if (!env || !sl_wf_env_engine(env))
        return sl_act_fail_nonretryable(act, "WorkerMisconfigured",
                                        "this worker has no engine environment");
    *e = sl_wf_env_engine(env);
    if (dbx) {
        sl_err err;
        sl_err_clear(&err);
        if (sl_wf_env_dbx(env, dbx, &err) != SL_OK)
            return sl_act_fail_err(act, "DatabricksNotConfigured", &err);
    }
    return NULL;
}

static json_t *http_stats(sl_dbx_client *dbx, const sl_dbx_stats *before)
{
    sl_dbx_stats now;
    sl_dbx_stats_get(dbx, &now);
    return json_pack("{s:I,s:I}", "requests", (json_int_t)(now.requests - before->requests),
                     "retries", (json_int_t)(now.retries - before->retries));
}

/* Run one statement and return the first cell of the first row as an integer (COUNT). */
/* The server holds an execute call up to wait_timeout without a progress callback: keep it
 * well inside the heartbeat timeout (0 = submit and poll). */
static int wait_timeout_for(const sl_dbx_call *call)
{
    int64_t hb = call->poll_max_ms ? call->poll_max_ms * 3 : 60000;
    return hb >= 30000 ? 10 : hb >= 15000 ? 5 : 0;
}

static sl_code sql_count(sl_dbx_client *dbx, const char *warehouse, const char *sql,
                         const sl_dbx_call *call, int64_t *out, sl_err *err)
{
    sl_dbx_statement_req req;
    sl_dbx_statement_req_init(&req);
    req.statement = sql;
    req.warehouse_id = warehouse;
    req.wait_timeout_s = wait_timeout_for(call);
    sl_dbx_result *res = NULL;
    sl_code rc = sl_dbx_sql_query(dbx, &req, call, &res, err);
    if (rc != SL_OK)
        return rc;
    const char *v = json_string_value(json_array_get(json_array_get(res->rows, 0), 0));
    *out = v ? atoll(v) : 0;
    sl_dbx_result_free(res);
    return SL_OK;
}

static sl_code sql_exec(sl_dbx_client *dbx, const char *warehouse, const char *sql,
                        const sl_dbx_call *call, sl_dbx_result **out, sl_err *err)
{
    sl_dbx_statement_req req;
    sl_dbx_statement_req_init(&req);
    req.statement = sql;
    req.warehouse_id = warehouse;
    req.wait_timeout_s = wait_timeout_for(call);
    sl_dbx_result *res = NULL;
    sl_code rc = sl_dbx_sql_query(dbx, &req, call, &res, err);
    if (out)
        *out = res;
    else
        sl_dbx_result_free(res);
    return rc;
}

/* '...' with single quotes doubled. */
static char *sql_string(const char *s)
{
    size_t n = strlen(s), o = 0;
    char *q = sl_xmalloc(2 * n + 3);
    q[o++] = '\'';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\'' || s[i] == '\\')
            q[o++] = s[i];
        q[o++] = s[i];
    }
    q[o++] = '\'';
    q[o] = '\0';
    return q;
}

/* ---- sync_to_bronze --------------------------------------------------------------------- */

static json_t *sync_to_bronze(sl_act *act, const json_t *in)
{
    sl_engine *e = NULL;
    sl_dbx_client *dbx = NULL;
    json_t *f = need_env(act, &e, &dbx);
    if (f)
        return f;
    const char *id = json_string_value(json_object_get(in, "dataset_id"));
    sl_err err;
    sl_err_clear(&err);
    sl_dataset_row ds;
    if (!id || load_dataset(e, id, &ds, &err) != SL_OK)
        return sl_act_fail_nonretryable(act, "DatasetNotFound", "dataset %s: %s",
                                        id ? id : "?", err.msg);
    struct status_update u = {.id = id, .status = "syncing"};
    json_t *result = NULL;
    char *catalog = sl_dataset_catalog_name(ds.tenant), *table = sl_dataset_table_name(ds.name);
    char *remote = sl_xasprintf("/Volumes/%s/bronze/raw/%s.%s", catalog, ds.dataset_id,
                                ds.format);
    char *qc = sl_sql_quote_ident(catalog), *qt = sl_sql_quote_ident(table);
    char *path_lit = sql_string(remote);
    char *ctas = NULL, *count_sql = NULL, *warehouse = NULL;
    sl_dbx_stats before;
    sl_dbx_stats_get(dbx, &before);
    struct hb h;
    sl_dbx_call call = make_call(act, &h);
    if (set_status(e, &u, &err) != SL_OK) {
        result = sl_act_fail_err(act, "EngineError", &err);
        goto out;
    }
    if (sl_dbx_warehouse_resolve(dbx, NULL, &call, &warehouse, &err) != SL_OK ||
        sl_dbx_catalog_ensure(dbx, catalog, "Sluice dataset sync", &call, NULL, &err) != SL_OK ||
        sl_dbx_schema_ensure(dbx, catalog, "bronze", NULL, &call, NULL, &err) != SL_OK ||
        sl_dbx_schema_ensure(dbx, catalog, "silver", NULL, &call, NULL, &err) != SL_OK ||
        sl_dbx_volume_ensure(dbx, catalog, "bronze", "raw", NULL, &call, NULL, &err) != SL_OK) {
        result = fail_dbx(act, "prepare catalog", &err);
        goto out;
    }
    if (sl_dbx_file_upload(dbx, ds.file_name, remote, true, &call, &err) != SL_OK) {
        result = fail_dbx(act, "upload", &err);
        goto out;
    }
    ctas = sl_xasprintf("CREATE OR REPLACE TABLE %s.`bronze`.%s AS SELECT * FROM read_files(%s, "
                        "format => '%s', header => true, inferColumnTypes => false)",
                        qc, qt, path_lit, strcmp(ds.format, "jsonl") == 0 ? "json" : "csv");
    count_sql = sl_xasprintf("SELECT COUNT(*) FROM %s.`bronze`.%s", qc, qt);
    int64_t rows = 0;
    if (sql_exec(dbx, warehouse, ctas, &call, NULL, &err) != SL_OK ||
        sql_count(dbx, warehouse, count_sql, &call, &rows, &err) != SL_OK) {
        result = fail_dbx(act, "create bronze table", &err);
        goto out;
    }
    char *full = sl_xasprintf("%s.bronze.%s", catalog, table);
    result = json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:o}", "bronze_table", full, "catalog", catalog,
                       "table", table, "row_count", (json_int_t)rows, "file", remote,
                       "warehouse_id", warehouse, "http", http_stats(dbx, &before));
    free(full);
out:
    free(catalog);
    free(table);
    free(remote);
    free(qc);
    free(qt);
    free(path_lit);
    free(ctas);
    free(count_sql);
    free(warehouse);
    sl_dataset_row_cleanup(&ds);
    return result;
}

/* ---- transform_to_silver ----------------------------------------------------------------- */

static const char *const silver_types[] = {"BIGINT", "DOUBLE", "BOOLEAN", "DATE", "TIMESTAMP"};
#define N_TYPES 5

static json_t *transform_to_silver(sl_act *act, const json_t *in)
{
    sl_engine *e = NULL;
    sl_dbx_client *dbx = NULL;
    json_t *f = need_env(act, &e, &dbx);
    if (f)
        return f;
    const json_t *bronze = json_object_get(in, "bronze");
    const char *id = json_string_value(json_object_get(in, "dataset_id"));
    const char *catalog = json_string_value(json_object_get(bronze, "catalog"));
    const char *table = json_string_value(json_object_get(bronze, "table"));
    const char *warehouse = json_string_value(json_object_get(bronze, "warehouse_id"));
    if (!id || !catalog || !table)
        return sl_act_fail_nonretryable(act, "InvalidInput", "transform_to_silver needs the "
                                                             "bronze result");
    sl_err err;
    sl_err_clear(&err);
    struct status_update u = {.id = id, .status = "syncing"};
    if (set_status(e, &u, &err) != SL_OK)
        return sl_act_fail_err(act, "EngineError", &err);
    sl_dbx_stats before;
    sl_dbx_stats_get(dbx, &before);
    struct hb h;
    sl_dbx_call call = make_call(act, &h);
    char *qc = sl_sql_quote_ident(catalog), *qt = sl_sql_quote_ident(table);
    char *silver_name = sl_xasprintf("%s_clean", table);
    char *qs = sl_sql_quote_ident(silver_name);
    char *sql = NULL, *infer = NULL;
    char **src = NULL, **dst = NULL;
    size_t n = 0;
    json_t *result = NULL, *columns = NULL;
    sl_dbx_result *desc = NULL, *counts = NULL;

    sql = sl_xasprintf("DESCRIBE TABLE %s.`bronze`.%s", qc, qt);
    if (sql_exec(dbx, warehouse, sql, &call, &desc, &err) != SL_OK) {
        result = fail_dbx(act, "describe bronze table", &err);
        goto out;
    }
    src = sl_xcalloc(json_array_size(desc->rows) + 1, sizeof(char *));
    size_t i;
    json_t *row;
    json_array_foreach(desc->rows, i, row)
    {
        const char *name = json_string_value(json_array_get(row, 0));
        if (!name || !*name || name[0] == '#')
            break; /* partition/metadata sections follow the columns */
        src[n++] = sl_xstrdup(name);
    }
    if (n == 0) {
        result = sl_act_fail_nonretryable(act, "EmptyTable", "bronze table %s has no columns",
                                          table);
        goto out;
    }
    dst = sl_dataset_column_names((const char *const *)src, n);

    /* One pass over bronze: per column, how many non-empty values fail each type. */
    sl_buf ib = SL_BUF_INIT;
    sl_buf_printf(&ib, "SELECT ");
    for (size_t c = 0; c < n; c++) {
        char *q = sl_sql_quote_ident(src[c]);
        sl_buf_printf(&ib, "%scount_if(%s IS NOT NULL AND %s <> '')", c ? ", " : "", q, q);
        for (int t = 0; t < N_TYPES; t++) {
            /* a DATE column holds dates only: values with a time part make it a TIMESTAMP */
            if (strcmp(silver_types[t], "DATE") == 0)
                sl_buf_printf(&ib,
                        ", count_if(%s IS NOT NULL AND %s <> '' AND (try_cast(%s AS DATE) IS NULL "
                        "OR length(trim(%s)) > 10))",
                        q, q, q, q);
            else
                sl_buf_printf(&ib,
                        ", count_if(%s IS NOT NULL AND %s <> '' AND try_cast(%s AS %s) IS NULL)", q,
                        q, q, silver_types[t]);
        }
        free(q);
    }
    sl_buf_printf(&ib, " FROM %s.`bronze`.%s", qc, qt);
    infer = sl_buf_take(&ib);
    if (sql_exec(dbx, warehouse, infer, &call, &counts, &err) != SL_OK) {
        result = fail_dbx(act, "infer column types", &err);
        goto out;
    }
    json_t *cells = json_array_get(counts->rows, 0);
    columns = sl_json_check(json_array());
    free(sql);
    sl_buf sb = SL_BUF_INIT;
    sl_buf_printf(&sb, "CREATE OR REPLACE TABLE %s.`silver`.%s AS SELECT DISTINCT ", qc, qs);
    for (size_t c = 0; c < n; c++) {
        const char *nonempty = json_string_value(json_array_get(cells, c * (N_TYPES + 1)));
        const char *type = "STRING";
        if (nonempty && atoll(nonempty) > 0)
            for (int t = 0; t < N_TYPES; t++) {
                const char *bad =
                    json_string_value(json_array_get(cells, c * (N_TYPES + 1) + 1 + (size_t)t));
                if (bad && atoll(bad) == 0) {
                    type = silver_types[t];
                    break;
                }
            }
        char *qsrc = sl_sql_quote_ident(src[c]), *qdst = sl_sql_quote_ident(dst[c]);
        if (strcmp(type, "STRING") == 0)
            sl_buf_printf(&sb, "%sNULLIF(%s, '') AS %s", c ? ", " : "", qsrc, qdst);
        else
            sl_buf_printf(&sb, "%sCAST(NULLIF(%s, '') AS %s) AS %s", c ? ", " : "", qsrc, type, qdst);
        json_array_append_new(columns, json_pack("{s:s,s:s,s:s}", "name", dst[c], "source", src[c],
                                                 "type", type));
        free(qsrc);
        free(qdst);
    }
    sl_buf_printf(&sb, " FROM %s.`bronze`.%s", qc, qt);
    sql = sl_buf_take(&sb);
    int64_t rows = 0;
    char *count_sql = sl_xasprintf("SELECT COUNT(*) FROM %s.`silver`.%s", qc, qs);
    sl_code rc = sql_exec(dbx, warehouse, sql, &call, NULL, &err);
    if (rc == SL_OK)
        rc = sql_count(dbx, warehouse, count_sql, &call, &rows, &err);
    free(count_sql);
    if (rc != SL_OK) {
        result = fail_dbx(act, "create silver table", &err);
        goto out;
    }
    char *full = sl_xasprintf("%s.silver.%s", catalog, silver_name);
    result = json_pack("{s:s,s:I,s:O,s:o}", "silver_table", full, "row_count", (json_int_t)rows,
                       "columns", columns, "http", http_stats(dbx, &before));
    free(full);
out:
    for (size_t c = 0; c < n; c++) {
        free(src[c]);
        if (dst)
            free(dst[c]);
    }
    free(src);
    free(dst);
    json_decref(columns);
    sl_dbx_result_free(desc);
    sl_dbx_result_free(counts);
    free(qc);
    free(qt);
    free(qs);
    free(silver_name);
    free(sql);
    free(infer);
    return result;
}

/* ---- metadata ----------------------------------------------------------------------------- */

static json_t *update_dataset_metadata(sl_act *act, const json_t *in)
{
    sl_engine *e = NULL;
    json_t *f = need_env(act, &e, NULL);
    if (f)
        return f;
    struct status_update u = {.id = json_string_value(json_object_get(in, "dataset_id")),
                              .status = "synced",
                              .bronze = json_object_get(in, "bronze"),
                              .silver = json_object_get(in, "silver")};
    sl_err err;
    sl_err_clear(&err);
    if (!u.id)
        return sl_act_fail_nonretryable(act, "InvalidInput", "no dataset_id");
    if (set_status(e, &u, &err) != SL_OK)
        return err.code == SL_ENOTFOUND ? sl_act_fail_nonretryable(act, "DatasetNotFound", "%s",
                                                                   err.msg)
                                        : sl_act_fail_err(act, "EngineError", &err);
    return json_pack("{s:s}", "status", "synced");
}

static json_t *mark_sync_failed(sl_act *act, const json_t *in)
{
    sl_engine *e = NULL;
    json_t *f = need_env(act, &e, NULL);
    if (f)
        return f;
    const json_t *failure = json_object_get(in, "failure");
    /* The activity's own error is the most useful line: prefer the cause's message. */
    const json_t *cause = json_object_get(failure, "cause");
    const char *msg = json_string_value(json_object_get(failure, "message"));
    const char *cmsg = json_string_value(json_object_get(cause, "message"));
    const char *atype = json_string_value(json_object_get(failure, "activity_type"));
    char *line = cmsg && atype ? sl_xasprintf("%s: %s", atype, cmsg)
                               : sl_xstrdup(msg ? msg : "sync failed");
    struct status_update u = {.id = json_string_value(json_object_get(in, "dataset_id")),
                              .status = "failed",
                              .error = line};
    sl_err err;
    sl_err_clear(&err);
    json_t *r = NULL;
    if (!u.id)
        r = sl_act_fail_nonretryable(act, "InvalidInput", "no dataset_id");
    else if (set_status(e, &u, &err) != SL_OK)
        r = err.code == SL_ENOTFOUND ? sl_act_fail_nonretryable(act, "DatasetNotFound", "%s",
                                                                err.msg)
                                     : sl_act_fail_err(act, "EngineError", &err);
    else
        r = json_pack("{s:s,s:s}", "status", "failed", "last_sync_error", line);
    free(line);
    return r;
}

void sl_workflows_register_dataset_sync(sl_registry *r)
{
    sl_registry_add_workflow(r, "dataset_sync", dataset_sync);
    sl_registry_add_activity(r, "sync_to_bronze", sync_to_bronze);
    sl_registry_add_activity(r, "transform_to_silver", transform_to_silver);
    sl_registry_add_activity(r, "update_dataset_metadata", update_dataset_metadata);
    sl_registry_add_activity(r, "mark_sync_failed", mark_sync_failed);
}
