/* catalog.c - Unity Catalog REST (catalogs, schemas, volumes, tables) over the metadata in
 * store.c, the same state SQL DDL uses. Names are stored lower-case. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emulator_int.h"

#define METASTORE_ID "5eed0000-0000-4000-8000-00000000e3a1"
#define OWNER        "emulator@sluice.local"

static void add_common(json_t *o, const json_t *row)
{
    json_int_t c = json_integer_value(json_object_get(row, "created_at"));
    json_int_t u = json_integer_value(json_object_get(row, "updated_at"));
    json_object_set_new(o, "owner", json_string(OWNER));
    json_object_set_new(o, "metastore_id", json_string(METASTORE_ID));
    json_object_set_new(o, "created_at", json_integer(c));
    json_object_set_new(o, "created_by", json_string(OWNER));
    json_object_set_new(o, "updated_at", json_integer(u));
    json_object_set_new(o, "updated_by", json_string(OWNER));
    json_object_set_new(o, "browse_only", json_false());
    const char *comment = json_string_value(json_object_get(row, "comment"));
    if (comment)
        json_object_set_new(o, "comment", json_string(comment));
}

static json_t *catalog_info(sl_emulator *emu, const json_t *row)
{
    (void)emu;
    const char *name = json_string_value(json_object_get(row, "name"));
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:{}}", "name", name, "full_name", name,
                          "id", json_string_value(json_object_get(row, "id")), "catalog_type",
                          "MANAGED_CATALOG", "isolation_mode", "OPEN", "securable_type",
                          "CATALOG", "properties");
    add_common(o, row);
    return o;
}

static json_t *schema_info(sl_emulator *emu, const json_t *row)
{
    (void)emu;
    const char *c = json_string_value(json_object_get(row, "catalog"));
    const char *n = json_string_value(json_object_get(row, "name"));
    char *full = sl_xasprintf("%s.%s", c, n);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:{}}", "name", n, "catalog_name", c,
                          "full_name", full, "schema_id",
                          json_string_value(json_object_get(row, "id")), "catalog_type",
                          "MANAGED_CATALOG", "securable_type", "SCHEMA", "properties");
    free(full);
    add_common(o, row);
    return o;
}

static json_t *volume_info(sl_emulator *emu, const json_t *row)
{
    const char *c = json_string_value(json_object_get(row, "catalog"));
    const char *s = json_string_value(json_object_get(row, "schema"));
    const char *n = json_string_value(json_object_get(row, "name"));
    char *full = sl_xasprintf("%s.%s.%s", c, s, n);
    char *loc = sl_xasprintf("file://%s/%s/%s/%s", sl__emu_store_volumes_root(emu->store), c, s,
                             n);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "name", n, "catalog_name", c,
                          "schema_name", s, "full_name", full, "volume_id",
                          json_string_value(json_object_get(row, "id")), "volume_type",
                          json_string_value(json_object_get(row, "volume_type")),
                          "storage_location", loc);
    free(full);
    free(loc);
    add_common(o, row);
    return o;
}

/* The reply to a create or get: the object as the API shows it, or the lookup's error. */
static emu_hr reply_info(emu_req *r, json_t *row, const emu_err *e,
                         json_t *(*info)(sl_emulator *, const json_t *))
{
    if (!row)
        return sl__emu_reply_emu_err(r, e);
    json_t *o = info(sl__emu_req_emu(r), row);
    json_decref(row);
    return sl__emu_reply_json(r, 200, o);
}

/* Split "a.b[.c]" into exactly `want` lower-cased parts (owned). */
static bool split_full(emu_req *r, const char *full, int want, char **parts)
{
    char *copy = sl_xstrdup(full ? full : "");
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(copy, ".", &save); t; t = strtok_r(NULL, ".", &save)) {
        if (n < want)
            parts[n] = sl_xstrdup(t);
        n++;
    }
    free(copy);
    if (n != want) {
        for (int k = 0; k < want && k < n; k++)
            free(parts[k]);
        sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                            "'%s' is not a valid %d-part name.", full ? full : "", want);
        return false;
    }
    for (int k = 0; k < want; k++)
        sl__lower(parts[k]);
    return true;
}

static void free_parts(char **p, int n)
{
    for (int k = 0; k < n; k++)
        free(p[k]);
}

static bool valid_name(emu_req *r, const char *field, const char *n)
{
    if (!n || !*n) {
        sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE", "Field '%s' is required.", field);
        return false;
    }
    if (strlen(n) > 255 || strpbrk(n, ". /") || strchr(n, 0x7f)) {
        sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                            "Invalid name '%s': names cannot contain '.', ' ', '/', control "
                            "characters, or be longer than 255 characters.",
                            n);
        return false;
    }
    for (const char *c = n; *c; c++)
        if ((unsigned char)*c < 0x20) {
            sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                                "Invalid name: control characters are not allowed.");
            return false;
        }
    return true;
}

static const char *jstr(json_t *body, const char *k)
{
    return json_string_value(json_object_get(body, k));
}

static bool query_true(emu_req *r, const char *name)
{
    const char *v = sl__emu_req_query(r, name);
    return v && strcmp(v, "true") == 0;
}

/* Run fn on a pooled connection and reply with its JSON or error. */
#define WITH_DB(emu, db) for (sqlite3 *db = sl__emu_db_acquire((emu)->store); db; \
                              sl__emu_db_release((emu)->store, db), db = NULL)

emu_hr sl__emu_uc_catalog_post(emu_req *r)
{
    sl_emulator *emu = sl__emu_req_emu(r);
    json_t *body = sl__emu_req_json(r);
    if (!body)
        return EMU_HR_DONE;
    const char *name = jstr(body, "name");
    if (!valid_name(r, "name", name))
        return EMU_HR_DONE;
    char *n = sl_xstrdup(name);
    sl__lower(n);
    emu_err e = {0};
    json_t *row = NULL;
    WITH_DB(emu, db)
    {
        if (sl__emu_uc_catalog_create(db, n, jstr(body, "comment"), false, &e))
            row = sl__emu_uc_catalog_get(db, n, &e);
    }
    free(n);
    return reply_info(r, row, &e, catalog_info);
}

emu_hr sl__emu_uc_catalog_get_h(emu_req *r)
{
    sl_emulator *emu = sl__emu_req_emu(r);
    char *n = sl_xstrdup(sl__emu_req_param(r, 0));
    sl__lower(n);
    emu_err e = {0};
    json_t *row = NULL;
    WITH_DB(emu, db) row = sl__emu_uc_catalog_get(db, n, &e);
    free(n);
    return reply_info(r, row, &e, catalog_info);
}

emu_hr sl__emu_uc_catalog_delete_h(emu_req *r)
{
    sl_emulator *emu = sl__emu_req_emu(r);
    char *n = sl_xstrdup(sl__emu_req_param(r, 0));
    sl__lower(n);
    emu_err e = {0};
    bool ok = false;
    WITH_DB(emu, db) ok = sl__emu_uc_catalog_delete(emu->store, db, n, query_true(r, "force"),
                                                    false, &e);
    free(n);
    return ok ? sl__emu_reply_json(r, 200, json_object()) : sl__emu_reply_emu_err(r, &e);
}

emu_hr sl__emu_uc_schema_post(emu_req *r)
{
    sl_emulator *emu = sl__emu_req_emu(r);
    json_t *body = sl__emu_req_json(r);
    if (!body)
        return EMU_HR_DONE;
    const char *name = jstr(body, "name"), *cat = jstr(body, "catalog_name");
    if (!valid_name(r, "name", name) || !valid_name(r, "catalog_name", cat))
        return EMU_HR_DONE;
    char *n = sl_xstrdup(name), *c = sl_xstrdup(cat);
    sl__lower(n);
    sl__lower(c);
    emu_err e = {0};
    json_t *row = NULL;
    WITH_DB(emu, db)
    {
        if (sl__emu_uc_schema_create(db, c, n, jstr(body, "comment"), false, &e))
            row = sl__emu_uc_schema_get(db, c, n, &e);
    }
    free(n);
    free(c);
    return reply_info(r, row, &e, schema_info);
}

emu_hr sl__emu_uc_schema_get_h(emu_req *r)
{
    sl_emulator *emu = sl__emu_req_emu(r);
    char *p[2];
    if (!split_full(r, sl__emu_req_param(r, 0), 2, p))
        return EMU_HR_DONE;
    emu_err e = {0};
    json_t *row = NULL;
    WITH_DB(emu, db) row = sl__emu_uc_schema_get(db, p[0], p[1], &e);
    free_parts(p, 2);
    return reply_info(r, row, &e, schema_info);
}

emu_hr sl__emu_uc_schema_delete_h(emu_req *r)
{
    sl_emulator *emu = sl__emu_req_emu(r);
    char *p[2];
    if (!split_full(r, sl__emu_req_param(r, 0), 2, p))
        return EMU_HR_DONE;
    emu_err e = {0};
    bool ok = false;
    WITH_DB(emu, db) ok = sl__emu_uc_schema_delete(emu->store, db, p[0], p[1],
                                                   query_true(r, "force"), false, &e);
    free_parts(p, 2);
    return ok ? sl__emu_reply_json(r, 200, json_object()) : sl__emu_reply_emu_err(r, &e);
}

emu_hr sl__emu_uc_volume_post(emu_req *r)
{
    sl_emulator *emu = sl__emu_req_emu(r);
    json_t *body = sl__emu_req_json(r);
    if (!body)
        return EMU_HR_DONE;
    const char *name = jstr(body, "name"), *cat = jstr(body, "catalog_name");
    const char *sch = jstr(body, "schema_name"), *type = jstr(body, "volume_type");
    if (!valid_name(r, "catalog_name", cat) || !valid_name(r, "schema_name", sch) ||
        !valid_name(r, "name", name))
        return EMU_HR_DONE;
    if (!type || (strcmp(type, "MANAGED") != 0 && strcmp(type, "EXTERNAL") != 0))
        return sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                                   "volume_type is required and must be MANAGED or EXTERNAL.");
    if (strcmp(type, "EXTERNAL") == 0 && !jstr(body, "storage_location"))
        return sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                                   "storage_location is required for EXTERNAL volumes.");
    char *v[3] = {sl_xstrdup(cat), sl_xstrdup(sch), sl_xstrdup(name)};
    for (int k = 0; k < 3; k++)
        sl__lower(v[k]);
    emu_err e = {0};
    json_t *row = NULL;
    WITH_DB(emu, db)
    {
        if (sl__emu_uc_volume_create(emu->store, db, v[0], v[1], v[2], type,
                                     jstr(body, "comment"), false, &e))
            row = sl__emu_uc_volume_get(db, v[0], v[1], v[2], &e);
    }
    free_parts(v, 3);
    return reply_info(r, row, &e, volume_info);
}

emu_hr sl__emu_uc_volume_get_h(emu_req *r)
{
    sl_emulator *emu = sl__emu_req_emu(r);
    char *p[3];
    if (!split_full(r, sl__emu_req_param(r, 0), 3, p))
        return EMU_HR_DONE;
    emu_err e = {0};
    json_t *row = NULL;
    WITH_DB(emu, db) row = sl__emu_uc_volume_get(db, p[0], p[1], p[2], &e);
    free_parts(p, 3);
    return reply_info(r, row, &e, volume_info);
}

emu_hr sl__emu_uc_volume_delete_h(emu_req *r)
{
    sl_emulator *emu = sl__emu_req_emu(r);
    char *p[3];
    if (!split_full(r, sl__emu_req_param(r, 0), 3, p))
        return EMU_HR_DONE;
    emu_err e = {0};
    bool ok = false;
    WITH_DB(emu, db) ok = sl__emu_uc_volume_delete(emu->store, db, p[0], p[1], p[2], false, &e);
    free_parts(p, 3);
    return ok ? sl__emu_reply_json(r, 200, json_object()) : sl__emu_reply_emu_err(r, &e);
}

static json_t *table_info_json(const emu_table_info *t)
{
    char *full = sl_xasprintf("%s.%s.%s", t->catalog, t->schema, t->name);
    char *loc = sl_xasprintf("sqlite:emulator.db#%s", full);
    json_t *cols = json_array();
    for (int k = 0; k < t->n_cols; k++) {
        json_t *tj = json_pack("{s:s, s:s, s:b, s:{}}", "name", t->cols[k].name, "type",
                               sl__emu_type_json(t->cols[k].type), "nullable", 1, "metadata");
        char *tjs = sl_json_dumps(tj);
        json_decref(tj);
        json_array_append_new(cols, json_pack("{s:s, s:i, s:s, s:s, s:s, s:b}", "name",
                                              t->cols[k].name, "position", k, "type_name",
                                              sl__emu_type_name(t->cols[k].type), "type_text",
                                              sl__emu_type_lower(t->cols[k].type), "type_json",
                                              tjs, "nullable", 1));
        free(tjs);
    }
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:I, s:s, "
                          "s:I, s:s, s:b, s:{}}",
                          "name", t->name, "catalog_name", t->catalog, "schema_name", t->schema,
                          "full_name", full, "table_id", t->id ? t->id : "", "table_type",
                          t->table_type ? t->table_type : "MANAGED", "data_source_format",
                          t->format ? t->format : "DELTA", "columns", cols, "storage_location",
                          loc, "owner", OWNER, "metastore_id", METASTORE_ID, "created_at",
                          (json_int_t)t->created_at_ms, "created_by", OWNER, "updated_at",
                          (json_int_t)t->updated_at_ms, "updated_by", OWNER, "browse_only", 0,
                          "properties");
    if (t->comment)
        json_object_set_new(o, "comment", json_string(t->comment));
    free(full);
    free(loc);
    return o;
}

emu_hr sl__emu_uc_table_get_h(emu_req *r)
{
    sl_emulator *emu = sl__emu_req_emu(r);
    char *p[3];
    if (!split_full(r, sl__emu_req_param(r, 0), 3, p))
        return EMU_HR_DONE;
    emu_err e = {0};
    emu_table_info t;
    bool ok = false;
    WITH_DB(emu, db) ok = sl__emu_uc_table_get(db, p[0], p[1], p[2], &t, &e);
    free_parts(p, 3);
    if (!ok)
        return sl__emu_reply_emu_err(r, &e);
    json_t *o = table_info_json(&t);
    sl__emu_table_info_free(&t);
    return sl__emu_reply_json(r, 200, o);
}

emu_hr sl__emu_uc_table_exists_h(emu_req *r)
{
    sl_emulator *emu = sl__emu_req_emu(r);
    char *p[3];
    if (!split_full(r, sl__emu_req_param(r, 0), 3, p))
        return EMU_HR_DONE;
    emu_err e = {0};
    emu_table_info t;
    bool ok = false;
    WITH_DB(emu, db) ok = sl__emu_uc_table_get(db, p[0], p[1], p[2], &t, &e);
    free_parts(p, 3);
    if (ok)
        sl__emu_table_info_free(&t);
    else if (e.kind != EMU_E_NOT_FOUND)
        return sl__emu_reply_emu_err(r, &e);
    return sl__emu_reply_json(r, 200, json_pack("{s:b}", "table_exists", ok));
}

emu_hr sl__emu_uc_table_delete_h(emu_req *r)
{
    sl_emulator *emu = sl__emu_req_emu(r);
    char *p[3];
    if (!split_full(r, sl__emu_req_param(r, 0), 3, p))
        return EMU_HR_DONE;
    emu_err e = {0};
    bool ok = false;
    WITH_DB(emu, db) ok = sl__emu_uc_table_drop(db, p[0], p[1], p[2], false, &e);
    free_parts(p, 3);
    return ok ? sl__emu_reply_json(r, 200, json_object()) : sl__emu_reply_emu_err(r, &e);
}
