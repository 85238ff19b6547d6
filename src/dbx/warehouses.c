/*
 * warehouses.c - SQL warehouses: list, get, and the choice of a warehouse when none
 * is configured (first RUNNING, else first), remembered per client.
 */
#include <stdlib.h>
#include <string.h>

#include "dbx_int.h"

sl_code sl_dbx_warehouse_list(sl_dbx_client *c, const sl_dbx_call *call, json_t **out, sl_err *err)
{
    *out = NULL;
    json_t *resp = NULL;
    sl_code rc = sl__dbx_json(c, "GET", "/api/2.0/sql/warehouses", NULL, "list warehouses", call,
                              &resp, err);
    if (rc != SL_OK)
        return rc;
    json_t *list = json_object_get(resp, "warehouses");
    *out = json_is_array(list) ? json_incref(list) : sl_json_check(json_array());
    json_decref(resp);
    return SL_OK;
}

sl_code sl_dbx_warehouse_get(sl_dbx_client *c, const char *id, const sl_dbx_call *call,
                             json_t **out, sl_err *err)
{
    *out = NULL;
    if (!id || !*id)
        return sl_err_set(err, SL_EINVAL, "get warehouse: empty warehouse id");
    char *enc = sl__dbx_pct(id);
    char *path = sl_xasprintf("/api/2.0/sql/warehouses/%s", enc);
    char what[160];
    snprintf(what, sizeof(what), "get warehouse %.100s", id);
    sl_code rc = sl__dbx_json(c, "GET", path, NULL, what, call, out, err);
    free(path);
    free(enc);
    return rc;
}

sl_code sl_dbx_warehouse_resolve(sl_dbx_client *c, const char *explicit_id, const sl_dbx_call *call,
                                 char **out_id, sl_err *err)
{
    *out_id = NULL;
    if (explicit_id && *explicit_id) {
        *out_id = sl_xstrdup(explicit_id);
        return SL_OK;
    }
    if (c->s.warehouse_id && *c->s.warehouse_id) {
        *out_id = sl_xstrdup(c->s.warehouse_id);
        return SL_OK;
    }
    pthread_mutex_lock(&c->wh_mu);
    if (c->resolved_warehouse)
        *out_id = sl_xstrdup(c->resolved_warehouse);
    pthread_mutex_unlock(&c->wh_mu);
    if (*out_id)
        return SL_OK;

    json_t *list = NULL;
    sl_code rc = sl_dbx_warehouse_list(c, call, &list, err);
    if (rc != SL_OK)
        return sl__dbx_ctx(rc, err, "choose a warehouse");
    const json_t *pick = NULL, *w;
    size_t i;
    json_array_foreach(list, i, w)
    {
        const char *state = sl__dbx_jstr(w, "state");
        if (!sl__dbx_jstr(w, "id"))
            continue;
        if (state && strcmp(state, "RUNNING") == 0) {
            pick = w;
            break;
        }
        if (!pick)
            pick = w;
    }
    if (!pick) {
        json_decref(list);
        return sl_err_set(err, SL_ENOTFOUND,
                          "choose a warehouse: the workspace has no SQL warehouse (set "
                          "DATABRICKS_WAREHOUSE_ID or pass --warehouse)");
    }
    const char *id = sl__dbx_jstr(pick, "id");
    const char *name = sl__dbx_jstr(pick, "name");
    const char *state = sl__dbx_jstr(pick, "state");
    sl__dbx_log(c, SL_LOG_INFO, "dbx: no warehouse configured; using %s '%s' (%s)", id,
                name ? name : "", state ? state : "state unknown");
    *out_id = sl_xstrdup(id);
    pthread_mutex_lock(&c->wh_mu);
    if (!c->resolved_warehouse)
        c->resolved_warehouse = sl_xstrdup(id);
    pthread_mutex_unlock(&c->wh_mu);
    json_decref(list);
    return SL_OK;
}
