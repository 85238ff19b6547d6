/*
 * mlflow.c - log a finished run to MLflow the way the notebook does: a parent run named
 * after the test (params, summary metrics with success_rate as a fraction) and one nested
 * child run per question (tag mlflow.parentRunId), up to max_children. Child runs were
 * chosen over a Files API artifact: they need no volume, show per-question rows in the
 * MLflow UI like the notebook's, and the full table is in detailed_metrics.csv (--out).
 * Param and tag values are cut to 250 bytes (the Databricks limit) at a UTF-8 boundary.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loadtest_int.h"

static char *cut(const char *s, size_t max)
{
    size_t n = strlen(s ? s : "");
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    return sl_xstrndup(s ? s : "", n);
}

static void kv(json_t *arr, const char *key, const char *value)
{
    char *v = cut(value, SL_DBX_MLFLOW_MAX_VALUE);
    json_array_append_new(arr, json_pack("{s:s, s:s}", "key", key, "value", v));
    free(v);
}

static void kvf(json_t *arr, const char *key, const char *fmt, ...) SL_PRINTF(3, 4);
static void kvf(json_t *arr, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *v = sl_xvasprintf(fmt, ap);
    va_end(ap);
    kv(arr, key, v);
    free(v);
}

static void metric(json_t *arr, const char *key, double value, int64_t ts)
{
    json_array_append_new(arr, json_pack("{s:s, s:f, s:I, s:I}", "key", key, "value", value,
                                         "timestamp", (json_int_t)ts, "step", (json_int_t)0));
}

static double jnum(const json_t *o, const char *path1, const char *path2)
{
    const json_t *v = json_object_get(o, path1);
    if (path2)
        v = json_object_get(v, path2);
    return json_number_value(v);
}

static const char *run_id_of(const json_t *run)
{
    return json_string_value(json_object_get(json_object_get(run, "info"), "run_id"));
}

static sl_code log_child(sl_dbx_client *ml, const char *exp_id, const char *parent,
                         const sl_lt_result *r, const lt_record *x, sl_err *err)
{
    char name[64], ts[40];
    snprintf(name, sizeof(name), "question_%zu", x->index);
    int64_t start = r->start_ms + x->send_us / 1000;
    json_t *tags = json_array();
    kv(tags, "mlflow.parentRunId", parent);
    kv(tags, "status", x->ok ? "success" : "failed");
    kv(tags, "request_type", sl_lt_rtype_name(x->type));
    json_t *run = NULL;
    sl_code rc = sl_dbx_mlflow_run_create(ml, exp_id, name, start, tags, NULL, &run, err);
    json_decref(tags);
    if (rc != SL_OK)
        return rc;
    const char *id = run_id_of(run);
    json_t *params = json_array(), *metrics = json_array();
    kv(params, "question", x->prompt);
    kv(params, "timestamp", sl_time_format(start, ts, sizeof(ts)));
    if (x->ok) {
        if (x->genie_conv_id[0])
            kv(params, "conversation_id", x->genie_conv_id);
        if (x->genie_msg_id[0])
            kv(params, "message_id", x->genie_msg_id);
    } else {
        kv(params, "error", x->error ? x->error : sl_lt_cause_name(x->cause));
        kv(params, "failure_cause", sl_lt_cause_name(x->cause));
    }
    int64_t end = r->start_ms + x->done_us / 1000;
    metric(metrics, "duration_seconds", (double)(x->done_us - x->send_us) / 1e6, end);
    metric(metrics, "duration_from_scheduled_seconds", (double)(x->done_us - x->sched_us) / 1e6,
           end);
    metric(metrics, "success", x->ok ? 1 : 0, end);
    if (x->rows >= 0)
        metric(metrics, "row_count", (double)x->rows, end);
    rc = id ? sl_dbx_mlflow_run_log_batch(ml, id, metrics, params, NULL, NULL, err)
            : sl_err_set(err, SL_EREMOTE, "MLflow run without run_id");
    if (rc == SL_OK)
        rc = sl_dbx_mlflow_run_update(ml, id, "FINISHED", end, NULL, err);
    json_decref(params);
    json_decref(metrics);
    json_decref(run);
    return rc;
}

sl_code sl_lt_mlflow_log(sl_dbx_client *ml, const sl_lt_mlflow_opts *o, const sl_lt_result *r,
                         char **run_id, sl_err *err)
{
    if (run_id)
        *run_id = NULL;
    const json_t *s = r->summary;
    const sl_lt_opts *op = &r->opts;
    char *exp_id = NULL;
    sl_code rc = sl_dbx_mlflow_experiment_ensure(ml, o->experiment, NULL, &exp_id, err);
    if (rc != SL_OK)
        return rc;
    const char *name = json_string_value(json_object_get(s, "test_name"));
    json_t *tags = json_array();
    kv(tags, "sluice.mode", op->mode == SL_LT_MODE_SCENARIO ? "scenario" : "replay");
    kv(tags, "sluice.schedule", r->schedule);
    json_t *run = NULL;
    rc = sl_dbx_mlflow_run_create(ml, exp_id, name, r->start_ms, tags, NULL, &run, err);
    json_decref(tags);
    if (rc != SL_OK) {
        free(exp_id);
        return rc;
    }
    char *parent = sl_xstrdup(run_id_of(run) ? run_id_of(run) : "");
    json_decref(run);
    int64_t end = r->start_ms + r->duration_us / 1000;
    char ts[40], dur[32];

    json_t *params = json_array(), *metrics = json_array(), *rtags = json_array();
    kv(params, "test_name", name);
    kv(params, "scenario", op->scenario ? op->scenario : "custom");
    kv(params, "mode", op->mode == SL_LT_MODE_SCENARIO ? "scenario" : "replay");
    kv(params, "cache", sl_lt_cache_mode_name(op->cache.mode));
    kv(params, "space_id", op->space_id);
    kv(params, "start_time", sl_time_format(r->start_ms, ts, sizeof(ts)));
    kvf(params, "time_scale", "%g", op->time_scale);
    kvf(params, "num_questions", "%llu", (unsigned long long)r->count[SL_LT_RTYPE_COUNT]);
    if (op->mode == SL_LT_MODE_SCENARIO) {
        kvf(params, "questions", "%lld", (long long)op->questions);
        kvf(params, "workers", "%d", op->workers);
        kvf(params, "max_workers", "%d", op->workers);
        kv(params, "duration", sl_duration_format(op->duration_ms, dur, sizeof(dur)));
        if (op->duration_ms > 0)
            kvf(params, "target_duration", "%g", (double)op->duration_ms / 1000.0);
        else
            kv(params, "target_duration", "None");
        kv(params, "question_source", op->n_pool && !r->own_pool ? "file" : "sample");
    } else {
        kvf(params, "users", "%d", op->users);
        kvf(params, "workers", "%d", op->users);
        kvf(params, "spawn_rate", "%g", op->spawn_rate);
        kv(params, "duration", sl_duration_format(op->run_time_ms, dur, sizeof(dur)));
        kvf(params, "min_wait", "%g", op->min_wait_s);
        kvf(params, "max_wait", "%g", op->max_wait_s);
        kvf(params, "questions", "%zu", op->convs ? sl_lt_convset_messages(op->convs) : 0);
        kvf(params, "conversations", "%zu", op->convs ? op->convs->n_convs : 0);
    }
    metric(metrics, "total_duration_seconds", jnum(s, "total_duration_s", NULL), end);
    metric(metrics, "successful_questions", jnum(s, "successful", NULL), end);
    metric(metrics, "failed_questions", jnum(s, "failed", NULL), end);
    metric(metrics, "success_rate", jnum(s, "success_rate", NULL), end);
    metric(metrics, "avg_question_duration", jnum(s, "avg_question_duration_s", NULL), end);
    metric(metrics, "throughput_qps", jnum(s, "throughput_qps", NULL), end);
    static const char *const ps[] = {"p50", "p90", "p95", "p99", "max"};
    const json_t *lat = json_object_get(s, "latency_ms");
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
        char k[64];
        snprintf(k, sizeof(k), "latency_%s_seconds", ps[i]);
        metric(metrics, k, jnum(json_object_get(lat, "scheduled"), ps[i], NULL) / 1000.0, end);
        snprintf(k, sizeof(k), "latency_actual_%s_seconds", ps[i]);
        metric(metrics, k, jnum(json_object_get(lat, "actual"), ps[i], NULL) / 1000.0, end);
    }
    const json_t *fl = json_object_get(s, "failures");
    for (int c = 1; c < SL_LT_CAUSE_COUNT; c++) {
        char k[64];
        snprintf(k, sizeof(k), "failures_%s", sl_lt_cause_name((sl_lt_cause)c));
        metric(metrics, k, jnum(fl, sl_lt_cause_name((sl_lt_cause)c), NULL), end);
    }
    const json_t *cache = json_object_get(s, "cache");
    if (cache) {
        metric(metrics, "lru_hits", jnum(cache, "lru_hits", NULL), end);
        metric(metrics, "semantic_hits", jnum(cache, "semantic_hits", NULL), end);
        metric(metrics, "misses", jnum(cache, "misses", NULL), end);
        metric(metrics, "lru_hit_rate", jnum(cache, "lru_hit_rate_pct", NULL) / 100.0, end);
        metric(metrics, "semantic_hit_rate", jnum(cache, "semantic_hit_rate_pct", NULL) / 100.0,
               end);
    }
    size_t n_children = r->n_recs;
    if (o->max_children >= 0 && n_children > (size_t)o->max_children)
        n_children = (size_t)o->max_children;
    kvf(rtags, "sluice.child_runs", "%zu of %zu", n_children, r->n_recs);
    rc = sl_dbx_mlflow_run_log_batch(ml, parent, metrics, params, rtags, NULL, err);
    json_decref(params);
    json_decref(metrics);
    json_decref(rtags);
    for (size_t i = 0; rc == SL_OK && i < n_children; i++)
        rc = log_child(ml, exp_id, parent, r, &r->recs[i], err);
    if (rc == SL_OK)
        rc = sl_dbx_mlflow_run_update(ml, parent, "FINISHED", end, NULL, err);
    else if (sl_dbx_mlflow_run_update(ml, parent, "FAILED", end, NULL, NULL) != SL_OK)
        sl_debug("loadtest: could not mark MLflow run %s FAILED", parent);
    free(exp_id);
    if (rc == SL_OK && run_id)
        *run_id = parent;
    else
        free(parent);
    return rc;
}

sl_code sl_lt_mlflow_client(sl_dbx_client *workspace, const sl_dbx_config *conn,
                            sl_dbx_client **out, bool *owned, sl_err *err)
{
    const char *uri = getenv("MLFLOW_TRACKING_URI");
    *out = NULL;
    *owned = false;
    if (!uri || !*uri || strcmp(uri, "databricks") == 0) {
        *out = workspace;
        return SL_OK;
    }
    sl_dbx_settings s;
    sl_code rc;
    if (strncmp(uri, "databricks://", 13) == 0) {
        sl_dbx_config cfg = *conn;
        cfg.profile = uri + 13;
        if ((rc = sl_dbx_config_resolve_default(&cfg, &s, err)) != SL_OK)
            return rc;
    } else if (strncmp(uri, "http://", 7) == 0 || strncmp(uri, "https://", 8) == 0) {
        sl_dbx_settings_init(&s);
        if ((rc = sl_dbx_host_normalize(uri, &s.host, err)) != SL_OK) {
            sl_dbx_settings_cleanup(&s);
            return rc;
        }
        const char *tok = getenv("MLFLOW_TRACKING_TOKEN");
        const sl_dbx_settings *ws = sl_dbx_client_settings(workspace);
        s.auth = SL_DBX_AUTH_PAT;
        s.token = sl_xstrdup(tok && *tok ? tok : ws->token ? ws->token : "unused");
        s.retry = ws->retry;
    } else {
        return sl_err_set(err, SL_EINVAL,
                          "MLFLOW_TRACKING_URI '%.200s' is not supported (use databricks, "
                          "databricks://PROFILE or an http(s) URL)",
                          uri);
    }
    rc = sl_dbx_client_new(&s, out, err);
    sl_dbx_settings_cleanup(&s);
    if (rc == SL_OK)
        *owned = true;
    return rc;
}
