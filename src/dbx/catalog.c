/*
 * catalog.c - Unity Catalog: catalogs, schemas, MANAGED volumes (create / get /
 * ensure) and tables (get / exists). "ensure" creates and treats "already exists"
 * (409, *_ALREADY_EXISTS) as success, so workflow steps can be retried safely.
 * Every name is checked locally first (sl_dbx_uc_name_check): names are user input.
 */
#include <stdlib.h>
#include <string.h>

#include "dbx_int.h"

#define UC "/api/2.1/unity-catalog"

/* Split "a.b[.c]" into exactly `n` checked parts and build the encoded path. */
static sl_code full_name_path(const char *kind, const char *full_name, int n,
                              const char *collection, const char *suffix, char **out, sl_err *err)
{
    *out = NULL;
    static const char *const part_names[] = {"catalog", "schema", "object"};
    if (!full_name || !*full_name)
        return sl_err_set(err, SL_EINVAL, "empty %s name", kind);
    char *copy = sl_xstrdup(full_name);
    char *parts[3] = {copy, NULL, NULL};
    int k = 1;
    for (char *q = copy; *q; q++) {
        if (*q != '.')
            continue;
        if (k == 3) {
            k = 4;
            break;
        }
        *q = '\0';
        parts[k++] = q + 1;
    }
    sl_code rc = SL_OK;
    if (k != n) {
        rc = sl_err_set(err, SL_EINVAL, "%s name '%.100s' must have %d dot-separated parts", kind,
                        full_name, n);
        goto out;
    }
    for (int i = 0; i < n; i++)
        if ((rc = sl_dbx_uc_name_check(i == n - 1 ? kind : part_names[i], parts[i], err)) != SL_OK)
            goto out;
    char *enc = sl__dbx_pct(full_name); /* '.' is unreserved, so the name stays readable */
    *out = sl_xasprintf(UC "/%s/%s%s", collection, enc, suffix ? suffix : "");
    free(enc);
out:
    free(copy);
    return rc;
}

static sl_code get_named(sl_dbx_client *c, const char *kind, const char *full_name, int parts,
                         const char *collection, const sl_dbx_call *call, json_t **out, sl_err *err)
{
    json_t *tmp = NULL;
    if (out)
        *out = NULL;
    char *path = NULL;
    sl_code rc = full_name_path(kind, full_name, parts, collection, NULL, &path, err);
    if (rc != SL_OK)
        return sl__dbx_ctx(rc, err, "get %s", kind);
    char what[200];
    snprintf(what, sizeof(what), "get %s %.160s", kind, full_name);
    rc = sl__dbx_json(c, "GET", path, NULL, what, call, out ? out : &tmp, err);
    json_decref(tmp);
    free(path);
    return rc;
}

static sl_code create(sl_dbx_client *c, const char *kind, const char *display,
                      const char *collection, json_t *body_take, const sl_dbx_call *call,
                      json_t **out, sl_err *err)
{
    json_t *tmp = NULL;
    char path[128];
    snprintf(path, sizeof(path), UC "/%s", collection);
    char what[200];
    snprintf(what, sizeof(what), "create %s %.160s", kind, display);
    sl_code rc = sl__dbx_json(c, "POST", path, body_take, what, call, out ? out : &tmp, err);
    json_decref(tmp);
    json_decref(body_take);
    return rc;
}

static bool already_exists(const sl_err *err)
{
    return err->code == SL_ECONFLICT &&
           (err->http_status == 409 || strstr(err->error_code, "ALREADY_EXISTS") != NULL);
}

static json_t *new_body(void)
{
    return sl_json_check(json_object());
}

static void put_str(json_t *o, const char *key, const char *v)
{
    if (v && *v)
        json_object_set_new(o, key, sl_json_check(json_string(v)));
}

/* ---- catalogs ---- */

sl_code sl_dbx_catalog_create(sl_dbx_client *c, const char *name, const char *comment,
                              const sl_dbx_call *call, json_t **out, sl_err *err)
{
    if (out)
        *out = NULL;
    sl_code rc = sl_dbx_uc_name_check("catalog", name, err);
    if (rc != SL_OK)
        return sl__dbx_ctx(rc, err, "create catalog");
    json_t *b = new_body();
    put_str(b, "name", name);
    put_str(b, "comment", comment);
    return create(c, "catalog", name, "catalogs", b, call, out, err);
}

sl_code sl_dbx_catalog_get(sl_dbx_client *c, const char *name, const sl_dbx_call *call,
                           json_t **out, sl_err *err)
{
    return get_named(c, "catalog", name, 1, "catalogs", call, out, err);
}

sl_code sl_dbx_catalog_ensure(sl_dbx_client *c, const char *name, const char *comment,
                              const sl_dbx_call *call, json_t **out, sl_err *err)
{
    sl_err local;
    if (!err) { /* the verdict below needs the details */
        sl_err_clear(&local);
        err = &local;
    }
    sl_code rc = sl_dbx_catalog_create(c, name, comment, call, out, err);
    if (rc == SL_ECONFLICT && already_exists(err)) {
        sl_err_clear(err);
        return out ? sl_dbx_catalog_get(c, name, call, out, err) : SL_OK;
    }
    return rc;
}

/* ---- schemas ---- */

sl_code sl_dbx_schema_create(sl_dbx_client *c, const char *catalog, const char *name,
                             const char *comment, const sl_dbx_call *call, json_t **out,
                             sl_err *err)
{
    if (out)
        *out = NULL;
    sl_code rc;
    if ((rc = sl_dbx_uc_name_check("catalog", catalog, err)) != SL_OK ||
        (rc = sl_dbx_uc_name_check("schema", name, err)) != SL_OK)
        return sl__dbx_ctx(rc, err, "create schema");
    json_t *b = new_body();
    put_str(b, "name", name);
    put_str(b, "catalog_name", catalog);
    put_str(b, "comment", comment);
    char display[520];
    snprintf(display, sizeof(display), "%s.%s", catalog, name);
    return create(c, "schema", display, "schemas", b, call, out, err);
}

sl_code sl_dbx_schema_get(sl_dbx_client *c, const char *full_name, const sl_dbx_call *call,
                          json_t **out, sl_err *err)
{
    return get_named(c, "schema", full_name, 2, "schemas", call, out, err);
}

sl_code sl_dbx_schema_ensure(sl_dbx_client *c, const char *catalog, const char *name,
                             const char *comment, const sl_dbx_call *call, json_t **out,
                             sl_err *err)
{
    sl_err local;
    if (!err) { /* the verdict below needs the details */
        sl_err_clear(&local);
        err = &local;
    }
    sl_code rc = sl_dbx_schema_create(c, catalog, name, comment, call, out, err);
    if (rc == SL_ECONFLICT && already_exists(err)) {
        sl_err_clear(err);
        if (!out)
            return SL_OK;
        char *full = sl_xasprintf("%s.%s", catalog, name);
        rc = sl_dbx_schema_get(c, full, call, out, err);
        free(full);
    }
    return rc;
}

/* ---- volumes ---- */

sl_code sl_dbx_volume_create(sl_dbx_client *c, const char *catalog, const char *schema,
                             const char *name, const char *comment, const sl_dbx_call *call,
                             json_t **out, sl_err *err)
{
    if (out)
        *out = NULL;
    sl_code rc;
    if ((rc = sl_dbx_uc_name_check("catalog", catalog, err)) != SL_OK ||
        (rc = sl_dbx_uc_name_check("schema", schema, err)) != SL_OK ||
        (rc = sl_dbx_uc_name_check("volume", name, err)) != SL_OK)
        return sl__dbx_ctx(rc, err, "create volume");
    json_t *b = new_body();
    put_str(b, "catalog_name", catalog);
    put_str(b, "schema_name", schema);
    put_str(b, "name", name);
    put_str(b, "volume_type", "MANAGED");
    put_str(b, "comment", comment);
    char display[800];
    snprintf(display, sizeof(display), "%s.%s.%s", catalog, schema, name);
    return create(c, "volume", display, "volumes", b, call, out, err);
}

sl_code sl_dbx_volume_get(sl_dbx_client *c, const char *full_name, const sl_dbx_call *call,
                          json_t **out, sl_err *err)
{
    return get_named(c, "volume", full_name, 3, "volumes", call, out, err);
}

sl_code sl_dbx_volume_ensure(sl_dbx_client *c, const char *catalog, const char *schema,
                             const char *name, const char *comment, const sl_dbx_call *call,
                             json_t **out, sl_err *err)
{
    sl_err local;
    if (!err) { /* the verdict below needs the details */
        sl_err_clear(&local);
        err = &local;
    }
    sl_code rc = sl_dbx_volume_create(c, catalog, schema, name, comment, call, out, err);
    if (rc == SL_ECONFLICT && already_exists(err)) {
        sl_err_clear(err);
        if (!out)
            return SL_OK;
        char *full = sl_xasprintf("%s.%s.%s", catalog, schema, name);
        rc = sl_dbx_volume_get(c, full, call, out, err);
        free(full);
    }
    return rc;
}

/* ---- tables ---- */

sl_code sl_dbx_table_get(sl_dbx_client *c, const char *full_name, const sl_dbx_call *call,
                         json_t **out, sl_err *err)
{
    return get_named(c, "table", full_name, 3, "tables", call, out, err);
}

sl_code sl_dbx_table_exists(sl_dbx_client *c, const char *full_name, const sl_dbx_call *call,
                            bool *exists, sl_err *err)
{
    *exists = false;
    char *path = NULL;
    sl_code rc = full_name_path("table", full_name, 3, "tables", "/exists", &path, err);
    if (rc != SL_OK)
        return sl__dbx_ctx(rc, err, "check table");
    char what[200];
    snprintf(what, sizeof(what), "check table %.160s", full_name);
    json_t *resp = NULL;
    rc = sl__dbx_json(c, "GET", path, NULL, what, call, &resp, err);
    free(path);
    if (rc != SL_OK)
        return rc;
    const json_t *v = json_object_get(resp, "table_exists");
    if (!json_is_boolean(v)) {
        json_decref(resp);
        return sl_err_set(err, SL_EREMOTE, "%s: response has no table_exists", what);
    }
    *exists = json_is_true(v);
    json_decref(resp);
    return SL_OK;
}
