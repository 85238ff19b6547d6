/* mlflow.c - MLflow tracking (experiments, runs, metrics, params, tags) kept in the
 * emulator's SQLite. Params are write-once, tags last-write-wins, metrics append. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "emulator_int.h"

#define KEY_MAX        250
#define PARAM_VAL_MAX  250
#define TAG_VAL_MAX    5000
#define BATCH_MAX      1000
#define BATCH_METRICS  1000
#define BATCH_PARAMS   100
#define BATCH_TAGS     100
#define BATCH_BYTES    (1024 * 1024)

bool sl__emu_ml_schema(sqlite3 *db, emu_err *e)
{
    return sl__emu_db_exec(
        db,
        "CREATE TABLE IF NOT EXISTS ml_experiment(experiment_id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " name TEXT UNIQUE NOT NULL, artifact_location TEXT, lifecycle_stage TEXT NOT NULL"
        " DEFAULT 'active', creation_time INTEGER, last_update_time INTEGER);"
        "CREATE TABLE IF NOT EXISTS ml_experiment_tag(experiment_id INTEGER, key TEXT, value TEXT,"
        " PRIMARY KEY(experiment_id, key));"
        "CREATE TABLE IF NOT EXISTS ml_run(run_id TEXT PRIMARY KEY, experiment_id INTEGER NOT"
        " NULL, run_name TEXT, user_id TEXT, status TEXT, start_time INTEGER, end_time INTEGER,"
        " artifact_uri TEXT, lifecycle_stage TEXT NOT NULL DEFAULT 'active');"
        "CREATE TABLE IF NOT EXISTS ml_metric(seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT,"
        " key TEXT, value REAL, timestamp INTEGER, step INTEGER);"
        "CREATE INDEX IF NOT EXISTS ml_metric_run ON ml_metric(run_id, key);"
        "CREATE TABLE IF NOT EXISTS ml_param(run_id TEXT, key TEXT, value TEXT,"
        " PRIMARY KEY(run_id, key));"
        "CREATE TABLE IF NOT EXISTS ml_tag(run_id TEXT, key TEXT, value TEXT,"
        " PRIMARY KEY(run_id, key));",
        e);
}

/* ---- small SQL helpers over a pooled connection */

typedef struct ml {
    emu_req *r;
    sl_emulator *emu;
    sqlite3 *db;
    bool failed;
} ml;

static ml ml_open(emu_req *r)
{
    ml m = {.r = r, .emu = sl__emu_req_emu(r)};
    m.db = sl__emu_db_acquire(m.emu->store);
    return m;
}

static void ml_close(ml *m)
{
    sl__emu_db_release(m->emu->store, m->db);
}

static sqlite3_stmt *q(ml *m, const char *sql)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(m->db, sql, -1, &s, NULL) != SQLITE_OK) {
        sl__emu_reply_error(m->r, 500, "INTERNAL_ERROR", "state database: %s",
                            sqlite3_errmsg(m->db));
        m->failed = true;
    }
    return s;
}

static bool step_done(ml *m, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        sl__emu_reply_error(m->r, 500, "INTERNAL_ERROR", "state database: %s",
                            sqlite3_errmsg(m->db));
        m->failed = true;
        return false;
    }
    return true;
}

static const char *col_text(sqlite3_stmt *s, int i)
{
    const char *t = (const char *)sqlite3_column_text(s, i);
    return t ? t : "";
}

static json_t *experiment_json(ml *m, sqlite3_stmt *s)
{
    char id[32];
    snprintf(id, sizeof(id), "%lld", (long long)sqlite3_column_int64(s, 0));
    json_t *tags = json_array();
    sqlite3_stmt *t = q(m, "SELECT key, value FROM ml_experiment_tag WHERE experiment_id=?");
    if (t) {
        sqlite3_bind_int64(t, 1, sqlite3_column_int64(s, 0));
        while (sqlite3_step(t) == SQLITE_ROW)
            json_array_append_new(tags, json_pack("{s:s, s:s}", "key", col_text(t, 0), "value",
                                                  col_text(t, 1)));
        sqlite3_finalize(t);
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:o}", "experiment_id", id, "name",
                     col_text(s, 1), "artifact_location", col_text(s, 2), "lifecycle_stage",
                     col_text(s, 3), "creation_time", (json_int_t)sqlite3_column_int64(s, 4),
                     "last_update_time", (json_int_t)sqlite3_column_int64(s, 5), "tags", tags);
}

static emu_hr get_experiment(emu_req *r, const char *where, const char *arg, const char *what)
{
    ml m = ml_open(r);
    char *sql = sl_xasprintf("SELECT experiment_id, name, artifact_location, lifecycle_stage,"
                             " creation_time, last_update_time FROM ml_experiment WHERE %s",
                             where);
    sqlite3_stmt *s = q(&m, sql);
    free(sql);
    emu_hr hr = EMU_HR_DONE;
    if (s) {
        sqlite3_bind_text(s, 1, arg, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(s) == SQLITE_ROW)
            hr = sl__emu_reply_json(r, 200, json_pack("{s:o}", "experiment",
                                                      experiment_json(&m, s)));
        else
            hr = sl__emu_reply_error(r, 404, "RESOURCE_DOES_NOT_EXIST",
                                     "Could not find experiment with %s '%s'.", what, arg);
        sqlite3_finalize(s);
    }
    ml_close(&m);
    return hr;
}

emu_hr sl__emu_ml_exp_get_by_name(emu_req *r)
{
    const char *n = sl__emu_req_query(r, "experiment_name");
    if (!n || !*n)
        return sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                                   "Missing value for required parameter 'experiment_name'.");
    return get_experiment(r, "name=?", n, "name");
}

emu_hr sl__emu_ml_exp_get(emu_req *r)
{
    const char *id = sl__emu_req_query(r, "experiment_id");
    if (!id || !*id)
        return sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                                   "Missing value for required parameter 'experiment_id'.");
    return get_experiment(r, "experiment_id=CAST(? AS INTEGER)", id, "id");
}

static bool check_kv(emu_req *r, json_t *kv, const char *what, size_t val_max)
{
    const char *k = json_string_value(json_object_get(kv, "key"));
    json_t *v = json_object_get(kv, "value");
    if (!k || !*k || strlen(k) > KEY_MAX) {
        sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                            "%s key must be a non-empty string of at most %d characters.", what,
                            KEY_MAX);
        return false;
    }
    if (val_max && (!json_is_string(v) || strlen(json_string_value(v)) > val_max)) {
        sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                            "%s '%s' value must be a string of at most %zu characters.", what, k,
                            val_max);
        return false;
    }
    return true;
}

emu_hr sl__emu_ml_exp_create(emu_req *r)
{
    json_t *b = sl__emu_req_json(r);
    if (!b)
        return EMU_HR_DONE;
    const char *name = json_string_value(json_object_get(b, "name"));
    if (!name || !*name)
        return sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                                   "Missing value for required parameter 'name'.");
    if (name[0] != '/')
        return sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                                   "Got an invalid experiment name '%s'. An experiment name must "
                                   "be an absolute path within the Databricks workspace, e.g. "
                                   "'/Users/<some-username>/my-experiment'.",
                                   name);
    json_t *tags = json_object_get(b, "tags");
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t) if (!check_kv(r, t, "Tag", TAG_VAL_MAX)) return EMU_HR_DONE;
    ml m = ml_open(r);
    emu_hr hr = EMU_HR_DONE;
    sqlite3_stmt *s = q(&m, "SELECT count(*) FROM ml_experiment WHERE name=?");
    if (s) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
        sqlite3_step(s);
        bool exists = sqlite3_column_int(s, 0) > 0;
        sqlite3_finalize(s);
        if (exists) {
            hr = sl__emu_reply_error(r, 400, "RESOURCE_ALREADY_EXISTS",
                                     "Experiment '%s' already exists.", name);
            goto out;
        }
    }
    s = q(&m, "INSERT INTO ml_experiment(name, artifact_location, creation_time,"
              " last_update_time) VALUES(?, ?, ?3, ?3)");
    if (!s)
        goto out;
    const char *al = json_string_value(json_object_get(b, "artifact_location"));
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    if (al)
        sqlite3_bind_text(s, 2, al, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, sl_now_ms());
    if (!step_done(&m, s))
        goto out;
    sqlite3_int64 id = sqlite3_last_insert_rowid(m.db);
    if (!al) {
        char *loc = sl_xasprintf("dbfs:/databricks/mlflow-tracking/%lld", (long long)id);
        s = q(&m, "UPDATE ml_experiment SET artifact_location=? WHERE experiment_id=?");
        if (s) {
            sqlite3_bind_text(s, 1, loc, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(s, 2, id);
            step_done(&m, s);
        }
        free(loc);
    }
    json_array_foreach(tags, i, t)
    {
        s = q(&m, "INSERT OR REPLACE INTO ml_experiment_tag VALUES(?, ?, ?)");
        if (!s)
            goto out;
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_text(s, 2, json_string_value(json_object_get(t, "key")), -1,
                          SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 3, json_string_value(json_object_get(t, "value")), -1,
                          SQLITE_TRANSIENT);
        if (!step_done(&m, s))
            goto out;
    }
    char ids[32];
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    hr = sl__emu_reply_json(r, 200, json_pack("{s:s}", "experiment_id", ids));
out:
    ml_close(&m);
    return hr;
}

/* ---- runs */

static const char *run_id_of(json_t *b)
{
    const char *id = json_string_value(json_object_get(b, "run_id"));
    return id ? id : json_string_value(json_object_get(b, "run_uuid"));
}

static json_t *run_info(ml *m, const char *run_id)
{
    sqlite3_stmt *s = q(m, "SELECT run_id, experiment_id, run_name, user_id, status, start_time,"
                           " end_time, artifact_uri, lifecycle_stage FROM ml_run WHERE run_id=?");
    if (!s)
        return NULL;
    sqlite3_bind_text(s, 1, run_id, -1, SQLITE_TRANSIENT);
    json_t *o = NULL;
    if (sqlite3_step(s) == SQLITE_ROW) {
        char exp[32];
        snprintf(exp, sizeof(exp), "%lld", (long long)sqlite3_column_int64(s, 1));
        o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s}", "run_id", col_text(s, 0),
                      "run_uuid", col_text(s, 0), "experiment_id", exp, "run_name",
                      col_text(s, 2), "user_id", col_text(s, 3), "status", col_text(s, 4),
                      "start_time", (json_int_t)sqlite3_column_int64(s, 5), "artifact_uri",
                      col_text(s, 7), "lifecycle_stage", col_text(s, 8));
        if (sqlite3_column_type(s, 6) != SQLITE_NULL)
            json_object_set_new(o, "end_time", json_integer(sqlite3_column_int64(s, 6)));
    }
    sqlite3_finalize(s);
    return o;
}

static json_t *kv_list(ml *m, const char *sql, const char *run_id)
{
    json_t *a = json_array();
    sqlite3_stmt *s = q(m, sql);
    if (!s)
        return a;
    sqlite3_bind_text(s, 1, run_id, -1, SQLITE_TRANSIENT);
    while (sqlite3_step(s) == SQLITE_ROW) {
        if (sqlite3_column_count(s) == 2) {
            json_array_append_new(a, json_pack("{s:s, s:s}", "key", col_text(s, 0), "value",
                                               col_text(s, 1)));
        } else {
            json_array_append_new(a, json_pack("{s:s, s:f, s:I, s:I}", "key", col_text(s, 0),
                                               "value", sqlite3_column_double(s, 1), "timestamp",
                                               (json_int_t)sqlite3_column_int64(s, 2), "step",
                                               (json_int_t)sqlite3_column_int64(s, 3)));
        }
    }
    sqlite3_finalize(s);
    return a;
}

static json_t *run_json(ml *m, const char *run_id)
{
    json_t *info = run_info(m, run_id);
    if (!info)
        return NULL;
    /* Latest value per metric key: highest step, then timestamp, then insertion. */
    json_t *metrics = kv_list(m,
                              "SELECT key, value, timestamp, step FROM ml_metric x WHERE run_id=?1"
                              " AND seq = (SELECT seq FROM ml_metric y WHERE y.run_id=x.run_id AND"
                              " y.key=x.key ORDER BY step DESC, timestamp DESC, seq DESC LIMIT 1)"
                              " ORDER BY key",
                              run_id);
    json_t *params = kv_list(m, "SELECT key, value FROM ml_param WHERE run_id=? ORDER BY key",
                             run_id);
    json_t *tags = kv_list(m, "SELECT key, value FROM ml_tag WHERE run_id=? ORDER BY key", run_id);
    return json_pack("{s:o, s:{s:o, s:o, s:o}, s:{}}", "info", info, "data", "metrics", metrics,
                     "params", params, "tags", tags, "inputs");
}

static bool run_exists(ml *m, const char *run_id)
{
    if (!run_id) {
        sl__emu_reply_error(m->r, 400, "INVALID_PARAMETER_VALUE",
                            "Missing value for required parameter 'run_id'.");
        return false;
    }
    sqlite3_stmt *s = q(m, "SELECT count(*) FROM ml_run WHERE run_id=?");
    if (!s)
        return false;
    sqlite3_bind_text(s, 1, run_id, -1, SQLITE_TRANSIENT);
    sqlite3_step(s);
    bool ok = sqlite3_column_int(s, 0) > 0;
    sqlite3_finalize(s);
    if (!ok)
        sl__emu_reply_error(m->r, 404, "RESOURCE_DOES_NOT_EXIST", "Run '%s' not found.", run_id);
    return ok;
}

static bool put_tag(ml *m, const char *run_id, const char *k, const char *v)
{
    sqlite3_stmt *s = q(m, "INSERT OR REPLACE INTO ml_tag VALUES(?, ?, ?)");
    if (!s)
        return false;
    sqlite3_bind_text(s, 1, run_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, k, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, v, -1, SQLITE_TRANSIENT);
    return step_done(m, s);
}

/* Write-once param; replies 400 on a conflicting value. */
static bool put_param(ml *m, const char *run_id, const char *k, const char *v)
{
    sqlite3_stmt *s = q(m, "SELECT value FROM ml_param WHERE run_id=? AND key=?");
    if (!s)
        return false;
    sqlite3_bind_text(s, 1, run_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, k, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(s) == SQLITE_ROW) {
        bool same = strcmp(col_text(s, 0), v) == 0;
        if (!same)
            sl__emu_reply_error(m->r, 400, "INVALID_PARAMETER_VALUE",
                                "Changing param values is not allowed. Param with key='%s' was "
                                "already logged with value='%s' for run ID='%s'. Attempted logging "
                                "new value '%s'.",
                                k, col_text(s, 0), run_id, v);
        sqlite3_finalize(s);
        m->failed = !same;
        return same;
    }
    sqlite3_finalize(s);
    s = q(m, "INSERT INTO ml_param VALUES(?, ?, ?)");
    if (!s)
        return false;
    sqlite3_bind_text(s, 1, run_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, k, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, v, -1, SQLITE_TRANSIENT);
    return step_done(m, s);
}

static bool put_metric(ml *m, const char *run_id, json_t *mt)
{
    const char *k = json_string_value(json_object_get(mt, "key"));
    json_t *v = json_object_get(mt, "value"), *ts = json_object_get(mt, "timestamp");
    if (!k || !*k || strlen(k) > KEY_MAX || !json_is_number(v) ||
        (ts && !json_is_integer(ts))) {
        sl__emu_reply_error(m->r, 400, "INVALID_PARAMETER_VALUE",
                            "A metric needs a key (<= %d characters), a numeric value and an "
                            "integer timestamp.",
                            KEY_MAX);
        m->failed = true;
        return false;
    }
    sqlite3_stmt *s = q(m, "INSERT INTO ml_metric(run_id, key, value, timestamp, step)"
                           " VALUES(?, ?, ?, ?, ?)");
    if (!s)
        return false;
    sqlite3_bind_text(s, 1, run_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, k, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(s, 3, json_number_value(v));
    sqlite3_bind_int64(s, 4, ts ? json_integer_value(ts) : sl_now_ms());
    sqlite3_bind_int64(s, 5, json_integer_value(json_object_get(mt, "step")));
    return step_done(m, s);
}

emu_hr sl__emu_ml_run_create(emu_req *r)
{
    json_t *b = sl__emu_req_json(r);
    if (!b)
        return EMU_HR_DONE;
    const char *exp = json_string_value(json_object_get(b, "experiment_id"));
    if (!exp || !*exp)
        return sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                                   "Missing value for required parameter 'experiment_id'.");
    json_t *tags = json_object_get(b, "tags");
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t) if (!check_kv(r, t, "Tag", TAG_VAL_MAX)) return EMU_HR_DONE;
    ml m = ml_open(r);
    emu_hr hr = EMU_HR_DONE;
    sqlite3_stmt *s = q(&m, "SELECT count(*) FROM ml_experiment WHERE experiment_id=CAST(? AS "
                            "INTEGER) AND lifecycle_stage='active'");
    if (!s)
        goto out;
    sqlite3_bind_text(s, 1, exp, -1, SQLITE_TRANSIENT);
    sqlite3_step(s);
    bool ok = sqlite3_column_int(s, 0) > 0;
    sqlite3_finalize(s);
    if (!ok) {
        hr = sl__emu_reply_error(r, 404, "RESOURCE_DOES_NOT_EXIST",
                                 "No Experiment with id=%s exists.", exp);
        goto out;
    }
    char run_id[33];
    sl_hexid_new(run_id);
    const char *name = json_string_value(json_object_get(b, "run_name"));
    json_array_foreach(tags, i, t) if (!name && strcmp(json_string_value(json_object_get(t, "key")),
                                                       "mlflow.runName") == 0) name =
        json_string_value(json_object_get(t, "value"));
    char gen[32];
    if (!name) {
        snprintf(gen, sizeof(gen), "emu-run-%.8s", run_id);
        name = gen;
    }
    json_t *st = json_object_get(b, "start_time");
    const char *user = json_string_value(json_object_get(b, "user_id"));
    char *uri = sl_xasprintf("dbfs:/databricks/mlflow-tracking/%s/%s/artifacts", exp, run_id);
    s = q(&m, "INSERT INTO ml_run(run_id, experiment_id, run_name, user_id, status, start_time,"
              " artifact_uri) VALUES(?, CAST(? AS INTEGER), ?, ?, 'RUNNING', ?, ?)");
    if (s) {
        sqlite3_bind_text(s, 1, run_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 2, exp, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 3, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 4, user ? user : "emulator@sluice.local", -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 5, json_is_integer(st) ? json_integer_value(st) : sl_now_ms());
        sqlite3_bind_text(s, 6, uri, -1, SQLITE_TRANSIENT);
        ok = step_done(&m, s);
    }
    free(uri);
    ok = ok && put_tag(&m, run_id, "mlflow.runName", name);
    json_array_foreach(tags, i, t) ok = ok && put_tag(&m, run_id,
                                                      json_string_value(json_object_get(t, "key")),
                                                      json_string_value(json_object_get(t, "value")));
    if (ok)
        hr = sl__emu_reply_json(r, 200, json_pack("{s:o}", "run", run_json(&m, run_id)));
out:
    ml_close(&m);
    return hr;
}

emu_hr sl__emu_ml_run_update(emu_req *r)
{
    json_t *b = sl__emu_req_json(r);
    if (!b)
        return EMU_HR_DONE;
    const char *run_id = run_id_of(b);
    const char *status = json_string_value(json_object_get(b, "status"));
    static const char *valid[] = {"RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED", NULL};
    bool ok_status = !status;
    for (int k = 0; valid[k] && status; k++)
        ok_status |= strcmp(status, valid[k]) == 0;
    if (!ok_status)
        return sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE", "Invalid run status '%s'.",
                                   status);
    ml m = ml_open(r);
    emu_hr hr = EMU_HR_DONE;
    if (run_exists(&m, run_id)) {
        sqlite3_stmt *s = q(&m, "UPDATE ml_run SET status=coalesce(?, status),"
                                " end_time=coalesce(?, end_time), run_name=coalesce(?, run_name)"
                                " WHERE run_id=?");
        json_t *et = json_object_get(b, "end_time");
        const char *name = json_string_value(json_object_get(b, "run_name"));
        if (s) {
            sqlite3_bind_text(s, 1, status, -1, SQLITE_TRANSIENT);
            if (json_is_integer(et))
                sqlite3_bind_int64(s, 2, json_integer_value(et));
            sqlite3_bind_text(s, 3, name, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(s, 4, run_id, -1, SQLITE_TRANSIENT);
            if (step_done(&m, s) && (!name || put_tag(&m, run_id, "mlflow.runName", name)))
                hr = sl__emu_reply_json(r, 200,
                                        json_pack("{s:o}", "run_info", run_info(&m, run_id)));
        }
    }
    ml_close(&m);
    return hr;
}

emu_hr sl__emu_ml_run_get(emu_req *r)
{
    const char *run_id = sl__emu_req_query(r, "run_id");
    if (!run_id)
        run_id = sl__emu_req_query(r, "run_uuid");
    ml m = ml_open(r);
    emu_hr hr = EMU_HR_DONE;
    if (run_exists(&m, run_id))
        hr = sl__emu_reply_json(r, 200, json_pack("{s:o}", "run", run_json(&m, run_id)));
    ml_close(&m);
    return hr;
}

/* Filter "tags.k = 'v' AND params.p != 'x' AND attributes.status = 'FINISHED'" into SQL. */
static bool filter_sql(const char *f, sl_buf *out, char *eb, size_t n)
{
    if (!f || !*f)
        return true;
    char *copy = sl_xstrdup(f), *p = copy;
    bool ok = true;
    while (ok && *p) {
        while (*p == ' ')
            p++;
        char kind[16] = "", key[256] = "", op[3] = "", val[512] = "";
        int used = 0;
        if (sscanf(p, "%15[a-z].%255[A-Za-z0-9_.`-] %2[=!<>] '%511[^']'%n", kind, key, op, val,
                   &used) < 4 ||
            used == 0) {
            snprintf(eb, n, "Unsupported filter '%s': use tags.K = 'v', params.K = 'v' or "
                            "attributes.status|run_name = 'v' joined by AND.",
                     f);
            ok = false;
            break;
        }
        p += used;
        char *k = key;
        if (*k == '`') {
            k++;
            k[strcspn(k, "`")] = '\0';
        }
        const char *sop = strcmp(op, "=") == 0 ? "=" : strcmp(op, "!=") == 0 ? "<>" : NULL;
        if (!sop) {
            snprintf(eb, n, "Unsupported comparator '%s' in filter.", op);
            ok = false;
            break;
        }
        sl_buf_puts(out, " AND ");
        if (strcmp(kind, "tags") == 0 || strcmp(kind, "tag") == 0 || strcmp(kind, "params") == 0 ||
            strcmp(kind, "param") == 0) {
            bool tag = kind[0] == 't';
            sl_buf_printf(out, "(SELECT value FROM %s x WHERE x.run_id=ml_run.run_id AND x.key=",
                          tag ? "ml_tag" : "ml_param");
            sl__sql_put_literal(out, k);
            sl_buf_printf(out, ") %s ", sop);
            sl__sql_put_literal(out, val);
        } else if ((strcmp(kind, "attributes") == 0 || strcmp(kind, "attribute") == 0) &&
                   (strcmp(k, "status") == 0 || strcmp(k, "run_name") == 0)) {
            sl_buf_printf(out, "%s %s ", k, sop);
            sl__sql_put_literal(out, val);
        } else {
            snprintf(eb, n, "Unsupported filter key '%s.%s'.", kind, k);
            ok = false;
            break;
        }
        while (*p == ' ')
            p++;
        if (strncasecmp(p, "AND ", 4) == 0)
            p += 4;
        else if (*p) {
            snprintf(eb, n, "Unsupported filter syntax near '%s'.", p);
            ok = false;
        }
    }
    free(copy);
    return ok;
}

emu_hr sl__emu_ml_run_search(emu_req *r)
{
    json_t *b = sl__emu_req_json(r);
    if (!b)
        return EMU_HR_DONE;
    json_t *ids = json_object_get(b, "experiment_ids");
    if (!json_is_array(ids) || json_array_size(ids) == 0)
        return sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                                   "experiment_ids must be a non-empty array.");
    json_int_t max = json_integer_value(json_object_get(b, "max_results"));
    if (max <= 0 || max > 50000)
        max = 1000;
    const char *tok = json_string_value(json_object_get(b, "page_token"));
    long off = tok ? strtol(tok, NULL, 10) : 0;
    sl_buf sql = {0};
    sl_buf_puts(&sql, "SELECT run_id FROM ml_run WHERE lifecycle_stage='active' AND "
                      "experiment_id IN (");
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        const char *s = json_string_value(v);
        sl_buf_printf(&sql, "%s%lld", i ? "," : "", s ? strtoll(s, NULL, 10) : -1LL);
    }
    sl_buf_puts(&sql, ")");
    char eb[300];
    if (!filter_sql(json_string_value(json_object_get(b, "filter")), &sql, eb, sizeof(eb))) {
        sl_buf_free(&sql);
        return sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE", "%s", eb);
    }
    sl_buf_printf(&sql, " ORDER BY start_time DESC, run_id LIMIT %lld OFFSET %ld",
                  (long long)max + 1, off < 0 ? 0 : off);
    ml m = ml_open(r);
    emu_hr hr = EMU_HR_DONE;
    sqlite3_stmt *s = q(&m, sl_buf_str(&sql));
    sl_buf_free(&sql);
    if (s) {
        json_t *runs = json_array();
        json_int_t n = 0;
        bool more = false;
        while (sqlite3_step(s) == SQLITE_ROW) {
            if (n == max) {
                more = true;
                break;
            }
            json_array_append_new(runs, run_json(&m, col_text(s, 0)));
            n++;
        }
        sqlite3_finalize(s);
        json_t *o = json_pack("{s:o}", "runs", runs);
        if (more) {
            char t[32];
            snprintf(t, sizeof(t), "%lld", (long long)(off + n));
            json_object_set_new(o, "next_page_token", json_string(t));
        }
        hr = sl__emu_reply_json(r, 200, o);
    }
    ml_close(&m);
    return hr;
}

static emu_hr done_or_ok(ml *m, bool ok)
{
    emu_hr hr = ok && !m->failed ? sl__emu_reply_json(m->r, 200, json_object()) : EMU_HR_DONE;
    ml_close(m);
    return hr;
}

emu_hr sl__emu_ml_log_metric(emu_req *r)
{
    json_t *b = sl__emu_req_json(r);
    if (!b)
        return EMU_HR_DONE;
    ml m = ml_open(r);
    bool ok = run_exists(&m, run_id_of(b)) && put_metric(&m, run_id_of(b), b);
    return done_or_ok(&m, ok);
}

emu_hr sl__emu_ml_log_param(emu_req *r)
{
    json_t *b = sl__emu_req_json(r);
    if (!b || !check_kv(r, b, "Param", PARAM_VAL_MAX))
        return EMU_HR_DONE;
    ml m = ml_open(r);
    bool ok = run_exists(&m, run_id_of(b)) &&
              put_param(&m, run_id_of(b), json_string_value(json_object_get(b, "key")),
                        json_string_value(json_object_get(b, "value")));
    return done_or_ok(&m, ok);
}

emu_hr sl__emu_ml_set_tag(emu_req *r)
{
    json_t *b = sl__emu_req_json(r);
    if (!b || !check_kv(r, b, "Tag", TAG_VAL_MAX))
        return EMU_HR_DONE;
    ml m = ml_open(r);
    bool ok = run_exists(&m, run_id_of(b)) &&
              put_tag(&m, run_id_of(b), json_string_value(json_object_get(b, "key")),
                      json_string_value(json_object_get(b, "value")));
    return done_or_ok(&m, ok);
}

emu_hr sl__emu_ml_log_batch(emu_req *r)
{
    size_t blen;
    sl__emu_req_body(r, &blen);
    if (blen > BATCH_BYTES)
        return sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                                   "log-batch request exceeds %d bytes.", BATCH_BYTES);
    json_t *b = sl__emu_req_json(r);
    if (!b)
        return EMU_HR_DONE;
    json_t *metrics = json_object_get(b, "metrics"), *params = json_object_get(b, "params");
    json_t *tags = json_object_get(b, "tags");
    size_t nm = json_array_size(metrics), np = json_array_size(params), nt = json_array_size(tags);
    if (nm > BATCH_METRICS || np > BATCH_PARAMS || nt > BATCH_TAGS || nm + np + nt > BATCH_MAX)
        return sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                                   "A batch logging request can contain at most %d metrics, %d "
                                   "params and %d tags, %d entities in total (got %zu, %zu, %zu).",
                                   BATCH_METRICS, BATCH_PARAMS, BATCH_TAGS, BATCH_MAX, nm, np, nt);
    size_t i;
    json_t *v;
    json_array_foreach(params, i, v) if (!check_kv(r, v, "Param", PARAM_VAL_MAX)) return EMU_HR_DONE;
    json_array_foreach(tags, i, v) if (!check_kv(r, v, "Tag", TAG_VAL_MAX)) return EMU_HR_DONE;
    ml m = ml_open(r);
    const char *run_id = run_id_of(b);
    bool ok = run_exists(&m, run_id);
    emu_err e = {0};
    ok = ok && sl__emu_db_exec(m.db, "BEGIN IMMEDIATE", &e);
    json_array_foreach(params, i, v) ok = ok && put_param(&m, run_id,
                                                          json_string_value(json_object_get(v, "key")),
                                                          json_string_value(json_object_get(v, "value")));
    json_array_foreach(tags, i, v) ok = ok && put_tag(&m, run_id,
                                                      json_string_value(json_object_get(v, "key")),
                                                      json_string_value(json_object_get(v, "value")));
    json_array_foreach(metrics, i, v) ok = ok && put_metric(&m, run_id, v);
    if (ok)
        ok = sl__emu_db_exec(m.db, "COMMIT", &e);
    else
        sqlite3_exec(m.db, "ROLLBACK", NULL, NULL, NULL);
    if (!ok && !m.failed && e.msg[0]) {
        sl__emu_reply_error(r, 500, "INTERNAL_ERROR", "%s", e.msg);
        m.failed = true;
    }
    return done_or_ok(&m, ok);
}
