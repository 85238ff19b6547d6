/*
 * mlflow.c - MLflow tracking: experiments by name (get or create), runs (create,
 * update, get) and log-batch split to the API limits (1000 metrics, 100 params,
 * 100 tags, 1000 entities, 1 MB per request). Over-long keys/values are rejected up
 * front rather than truncated, so a batch never half-applies because of them.
 */
#include <stdlib.h>
#include <string.h>

#include "dbx_int.h"

#define BATCH_BYTES (900 * 1024) /* stay under the 1 MB request limit */

sl_code sl_dbx_mlflow_experiment_ensure(sl_dbx_client *c, const char *name, const sl_dbx_call *call,
                                        char **out_id, sl_err *err)
{
    *out_id = NULL;
    if (!name || !*name)
        return sl_err_set(err, SL_EINVAL, "MLflow experiment: empty name");
    char *enc = sl__dbx_pct(name);
    char *path = sl_xasprintf("/api/2.0/mlflow/experiments/get-by-name?experiment_name=%s", enc);
    free(enc);
    char what[200];
    snprintf(what, sizeof(what), "get MLflow experiment %.160s", name);
    json_t *resp = NULL;
    sl_code rc = SL_OK;
    /* get, else create, else (lost a race to another creator) get again */
    for (int round = 0; round < 2; round++) {
        rc = sl__dbx_json(c, "GET", path, NULL, what, call, &resp, err);
        if (rc == SL_OK) {
            const char *id = sl__dbx_jstr(json_object_get(resp, "experiment"), "experiment_id");
            if (id)
                *out_id = sl_xstrdup(id);
            else
                rc = sl_err_set(err, SL_EREMOTE, "%s: response has no experiment_id", what);
            break;
        }
        if (rc != SL_ENOTFOUND || round > 0)
            break;
        json_t *body = sl_json_check(json_object());
        json_object_set_new(body, "name", sl_json_check(json_string(name)));
        char cwhat[200];
        snprintf(cwhat, sizeof(cwhat), "create MLflow experiment %.160s", name);
        sl_err_clear(err);
        rc = sl__dbx_json(c, "POST", "/api/2.0/mlflow/experiments/create", body, cwhat, call, &resp,
                          err);
        json_decref(body);
        if (rc == SL_OK) {
            const char *id = sl__dbx_jstr(resp, "experiment_id");
            if (id)
                *out_id = sl_xstrdup(id);
            else
                rc = sl_err_set(err, SL_EREMOTE, "%s: response has no experiment_id", cwhat);
            break;
        }
        if (rc != SL_ECONFLICT)
            break;
        sl_err_clear(err);
    }
    json_decref(resp);
    free(path);
    return rc;
}

sl_code sl_dbx_mlflow_run_create(sl_dbx_client *c, const char *experiment_id, const char *run_name,
                                 int64_t start_time_ms, const json_t *tags, const sl_dbx_call *call,
                                 json_t **out, sl_err *err)
{
    *out = NULL;
    if (!experiment_id || !*experiment_id)
        return sl_err_set(err, SL_EINVAL, "create MLflow run: empty experiment id");
    json_t *body = sl_json_check(json_object());
    json_object_set_new(body, "experiment_id", sl_json_check(json_string(experiment_id)));
    if (run_name && *run_name)
        json_object_set_new(body, "run_name", sl_json_check(json_string(run_name)));
    json_object_set_new(body, "start_time",
                        json_integer(start_time_ms > 0 ? start_time_ms : sl_now_ms()));
    if (tags && json_array_size(tags) > 0)
        json_object_set(body, "tags", (json_t *)tags);
    char what[160];
    snprintf(what, sizeof(what), "create MLflow run in experiment %.100s", experiment_id);
    json_t *resp = NULL;
    sl_code rc =
        sl__dbx_json(c, "POST", "/api/2.0/mlflow/runs/create", body, what, call, &resp, err);
    json_decref(body);
    if (rc != SL_OK)
        return rc;
    json_t *run = json_object_get(resp, "run");
    if (!sl__dbx_jstr(json_object_get(run, "info"), "run_id")) {
        json_decref(resp);
        return sl_err_set(err, SL_EREMOTE, "%s: response has no run.info.run_id", what);
    }
    *out = json_incref(run);
    json_decref(resp);
    return SL_OK;
}

sl_code sl_dbx_mlflow_run_update(sl_dbx_client *c, const char *run_id, const char *status,
                                 int64_t end_time_ms, const sl_dbx_call *call, sl_err *err)
{
    if (!run_id || !*run_id)
        return sl_err_set(err, SL_EINVAL, "update MLflow run: empty run id");
    static const char *const ok[] = {"RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"};
    if (status) {
        bool valid = false;
        for (size_t i = 0; i < 5; i++)
            valid = valid || strcmp(status, ok[i]) == 0;
        if (!valid)
            return sl_err_set(err, SL_EINVAL, "update MLflow run %s: unknown status '%s'", run_id,
                              status);
    }
    json_t *body = sl_json_check(json_object());
    json_object_set_new(body, "run_id", sl_json_check(json_string(run_id)));
    if (status)
        json_object_set_new(body, "status", json_string(status));
    if (end_time_ms > 0)
        json_object_set_new(body, "end_time", json_integer(end_time_ms));
    char what[160];
    snprintf(what, sizeof(what), "update MLflow run %.100s", run_id);
    json_t *resp = NULL;
    sl_code rc =
        sl__dbx_json(c, "POST", "/api/2.0/mlflow/runs/update", body, what, call, &resp, err);
    json_decref(resp);
    json_decref(body);
    return rc;
}

sl_code sl_dbx_mlflow_run_get(sl_dbx_client *c, const char *run_id, const sl_dbx_call *call,
                              json_t **out, sl_err *err)
{
    *out = NULL;
    if (!run_id || !*run_id)
        return sl_err_set(err, SL_EINVAL, "get MLflow run: empty run id");
    char *enc = sl__dbx_pct(run_id);
    char *path = sl_xasprintf("/api/2.0/mlflow/runs/get?run_id=%s", enc);
    free(enc);
    char what[160];
    snprintf(what, sizeof(what), "get MLflow run %.100s", run_id);
    json_t *resp = NULL;
    sl_code rc = sl__dbx_json(c, "GET", path, NULL, what, call, &resp, err);
    free(path);
    if (rc != SL_OK)
        return rc;
    json_t *run = json_object_get(resp, "run");
    if (!json_is_object(run)) {
        json_decref(resp);
        return sl_err_set(err, SL_EREMOTE, "%s: response has no run", what);
    }
    *out = json_incref(run);
    json_decref(resp);
    return SL_OK;
}

/* Check keys/values of one list; `kind` is "metric", "param" or "tag". */
static sl_code check_entries(const json_t *list, const char *kind, bool check_value, sl_err *err)
{
    if (!list)
        return SL_OK;
    if (!json_is_array(list))
        return sl_err_set(err, SL_EINVAL, "%ss must be a JSON array", kind);
    size_t i;
    const json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *key = sl__dbx_jstr(e, "key");
        if (!key || !*key)
            return sl_err_set(err, SL_EINVAL, "%s %zu has no key", kind, i + 1);
        if (strlen(key) > SL_DBX_MLFLOW_MAX_KEY)
            return sl_err_set(err, SL_EINVAL, "%s key '%.40s...' is %zu bytes (max %d)", kind, key,
                              strlen(key), SL_DBX_MLFLOW_MAX_KEY);
        const json_t *v = json_object_get(e, "value");
        if (check_value) {
            if (!json_is_string(v))
                return sl_err_set(err, SL_EINVAL, "%s '%s' needs a string value", kind, key);
            if (strlen(json_string_value(v)) > SL_DBX_MLFLOW_MAX_VALUE)
                return sl_err_set(err, SL_EINVAL, "%s '%s' value is %zu bytes (max %d)", kind, key,
                                  strlen(json_string_value(v)), SL_DBX_MLFLOW_MAX_VALUE);
        } else if (!json_is_number(v)) {
            return sl_err_set(err, SL_EINVAL, "metric '%s' needs a numeric value", key);
        }
    }
    return SL_OK;
}

static size_t entry_bytes(const json_t *e)
{
    char *s = sl_json_dumps(e);
    size_t n = strlen(s) + 1;
    free(s);
    return n;
}

sl_code sl_dbx_mlflow_run_log_batch(sl_dbx_client *c, const char *run_id, const json_t *metrics,
                                    const json_t *params, const json_t *tags,
                                    const sl_dbx_call *call, sl_err *err)
{
    if (!run_id || !*run_id)
        return sl_err_set(err, SL_EINVAL, "log to MLflow run: empty run id");
    sl_code rc;
    if ((rc = check_entries(params, "param", true, err)) != SL_OK ||
        (rc = check_entries(tags, "tag", true, err)) != SL_OK ||
        (rc = check_entries(metrics, "metric", false, err)) != SL_OK)
        return sl__dbx_ctx(rc, err, "log to MLflow run %s", run_id);

    const json_t *lists[3] = {params, tags, metrics};
    const char *keys[3] = {"params", "tags", "metrics"};
    const size_t caps[3] = {SL_DBX_MLFLOW_MAX_PARAMS, SL_DBX_MLFLOW_MAX_TAGS,
                            SL_DBX_MLFLOW_MAX_METRICS};
    size_t pos[3] = {0, 0, 0};
    int64_t now = sl_now_ms();
    char what[160];
    snprintf(what, sizeof(what), "log batch to MLflow run %.100s", run_id);
    int batches = 0;
    for (;;) {
        json_t *body = sl_json_check(json_object());
        json_object_set_new(body, "run_id", sl_json_check(json_string(run_id)));
        size_t entities = 0, bytes = 64;
        for (int k = 0; k < 3; k++) {
            size_t n_in = 0;
            json_t *arr = NULL;
            /* params first: they are write-once, so get them in before anything else */
            while (pos[k] < json_array_size(lists[k]) && n_in < caps[k] &&
                   entities < SL_DBX_MLFLOW_MAX_ENTITIES) {
                json_t *e = json_array_get(lists[k], pos[k]);
                json_t *copy = sl_json_check(json_deep_copy(e));
                if (k == 2 && !json_object_get(copy, "timestamp"))
                    json_object_set_new(copy, "timestamp", json_integer(now));
                size_t eb = entry_bytes(copy);
                if (entities > 0 && bytes + eb > BATCH_BYTES) {
                    json_decref(copy);
                    break;
                }
                if (!arr)
                    arr = sl_json_check(json_array());
                json_array_append_new(arr, copy);
                bytes += eb;
                n_in++;
                entities++;
                pos[k]++;
            }
            if (arr)
                json_object_set_new(body, keys[k], arr);
            if (bytes > BATCH_BYTES - 1024)
                break;
        }
        if (entities == 0) {
            json_decref(body);
            break;
        }
        json_t *resp = NULL;
        rc =
            sl__dbx_json(c, "POST", "/api/2.0/mlflow/runs/log-batch", body, what, call, &resp, err);
        json_decref(resp);
        json_decref(body);
        batches++;
        if (rc != SL_OK)
            return rc;
        bool done = true;
        for (int k = 0; k < 3; k++)
            done = done && pos[k] >= json_array_size(lists[k]);
        if (done)
            break;
    }
    return SL_OK;
}
