/* datasets.c - dataset records and their sync state. */
#include <stdlib.h>
#include <string.h>

#include "sluice/appstore.h"
#include "store_int.h"

#define DS_COLS                                                                                    \
    "dataset_id, tenant, name, description, file_name, format, bytes, row_count_local, "          \
    "created_ms, databricks_enabled, sync_status, bronze_table, silver_table, last_sync_at, "     \
    "last_sync_attempt, last_sync_error, row_count_databricks, silver_row_count, workflow_id"

void sl_dataset_row_cleanup(sl_dataset_row *r)
{
    if (!r)
        return;
    free(r->dataset_id);
    free(r->tenant);
    free(r->name);
    free(r->description);
    free(r->file_name);
    free(r->format);
    free(r->sync_status);
    free(r->bronze_table);
    free(r->silver_table);
    free(r->last_sync_error);
    free(r->workflow_id);
    memset(r, 0, sizeof(*r));
}

static int64_t col_i64_or(sqlite3_stmt *s, int col, int64_t dflt)
{
    return sqlite3_column_type(s, col) == SQLITE_NULL ? dflt : sqlite3_column_int64(s, col);
}

static void read_ds(sqlite3_stmt *s, sl_dataset_row *r)
{
    memset(r, 0, sizeof(*r));
    r->dataset_id = sl__col_dup(s, 0);
    r->tenant = sl__col_dup(s, 1);
    r->name = sl__col_dup(s, 2);
    r->description = sl__col_dup(s, 3);
    r->file_name = sl__col_dup(s, 4);
    r->format = sl__col_dup(s, 5);
    r->bytes = sqlite3_column_int64(s, 6);
    r->row_count_local = sqlite3_column_int64(s, 7);
    r->created_ms = sqlite3_column_int64(s, 8);
    r->databricks_enabled = sqlite3_column_int(s, 9) != 0;
    r->sync_status = sl__col_dup(s, 10);
    r->bronze_table = sl__col_dup(s, 11);
    r->silver_table = sl__col_dup(s, 12);
    r->last_sync_at = col_i64_or(s, 13, 0);
    r->last_sync_attempt = col_i64_or(s, 14, 0);
    r->last_sync_error = sl__col_dup(s, 15);
    r->row_count_databricks = col_i64_or(s, 16, -1);
    r->silver_row_count = col_i64_or(s, 17, -1);
    r->workflow_id = sl__col_dup(s, 18);
}


static void bind_opt_count(sqlite3_stmt *s, int idx, int64_t v)
{
    if (v < 0)
        sqlite3_bind_null(s, idx);
    else
        sqlite3_bind_int64(s, idx, v);
}

sl_code sl_appstore_dataset_insert(sl_store *st, const sl_dataset_row *r, sl_err *err)
{
    sqlite3_stmt *s;
    sl_code rc = sl__store_prepare(st, "INSERT INTO datasets (" DS_COLS ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,"
                      "?11,?12,?13,?14,?15,?16,?17,?18,?19)",
                      &s, err);
    if (rc != SL_OK)
        return rc;
    sl__bind_text(s, 1, r->dataset_id);
    sl__bind_text(s, 2, r->tenant);
    sl__bind_text(s, 3, r->name);
    sl__bind_text(s, 4, r->description);
    sl__bind_text(s, 5, r->file_name);
    sl__bind_text(s, 6, r->format);
    sqlite3_bind_int64(s, 7, r->bytes);
    sqlite3_bind_int64(s, 8, r->row_count_local);
    sqlite3_bind_int64(s, 9, r->created_ms);
    sqlite3_bind_int(s, 10, r->databricks_enabled);
    sl__bind_text(s, 11, r->sync_status ? r->sync_status : "not_synced");
    sl__bind_text(s, 12, r->bronze_table);
    sl__bind_text(s, 13, r->silver_table);
    sl__bind_opt_i64(s, 14, r->last_sync_at);
    sl__bind_opt_i64(s, 15, r->last_sync_attempt);
    sl__bind_text(s, 16, r->last_sync_error);
    bind_opt_count(s, 17, r->row_count_databricks);
    bind_opt_count(s, 18, r->silver_row_count);
    sl__bind_text(s, 19, r->workflow_id);
    int src = sl__store_step(st, s);
    sqlite3_finalize(s);
    if ((src & 0xff) == SQLITE_CONSTRAINT)
        return sl_err_set(err, SL_ECONFLICT, "dataset '%s' already exists", r->dataset_id);
    return src == SQLITE_DONE ? SL_OK : sl__store_fail(st, src, "insert dataset", err);
}

sl_code sl_appstore_dataset_get(sl_store *st, const char *id, sl_dataset_row *out, sl_err *err)
{
    sqlite3_stmt *s;
    sl_code rc = sl__store_prepare(st, "SELECT " DS_COLS " FROM datasets WHERE dataset_id=?1", &s, err);
    if (rc != SL_OK)
        return rc;
    sl__bind_text(s, 1, id);
    int src = sl__store_step(st, s);
    if (src == SQLITE_ROW)
        read_ds(s, out);
    sqlite3_finalize(s);
    if (src == SQLITE_DONE)
        return sl_err_set(err, SL_ENOTFOUND, "no dataset '%s'", id);
    return src == SQLITE_ROW ? SL_OK : sl__store_fail(st, src, "get dataset", err);
}

sl_code sl_appstore_dataset_update(sl_store *st, const sl_dataset_row *r, sl_err *err)
{
    sqlite3_stmt *s;
    sl_code rc = sl__store_prepare(st, "UPDATE datasets SET databricks_enabled=?2, sync_status=?3, bronze_table=?4, "
                      "silver_table=?5, last_sync_at=?6, last_sync_attempt=?7, "
                      "last_sync_error=?8, row_count_databricks=?9, silver_row_count=?10, "
                      "workflow_id=?11 WHERE dataset_id=?1",
                      &s, err);
    if (rc != SL_OK)
        return rc;
    sl__bind_text(s, 1, r->dataset_id);
    sqlite3_bind_int(s, 2, r->databricks_enabled);
    sl__bind_text(s, 3, r->sync_status);
    sl__bind_text(s, 4, r->bronze_table);
    sl__bind_text(s, 5, r->silver_table);
    sl__bind_opt_i64(s, 6, r->last_sync_at);
    sl__bind_opt_i64(s, 7, r->last_sync_attempt);
    sl__bind_text(s, 8, r->last_sync_error);
    bind_opt_count(s, 9, r->row_count_databricks);
    bind_opt_count(s, 10, r->silver_row_count);
    sl__bind_text(s, 11, r->workflow_id);
    int src = sl__store_step(st, s);
    bool found = sqlite3_changes(st->db) == 1;
    sqlite3_finalize(s);
    if (src != SQLITE_DONE)
        return sl__store_fail(st, src, "update dataset", err);
    return found ? SL_OK : sl_err_set(err, SL_ENOTFOUND, "no dataset '%s'", r->dataset_id);
}

sl_code sl_appstore_dataset_list(sl_store *st, const char *tenant, sl_dataset_fn fn, void *arg,
                              sl_err *err)
{
    sqlite3_stmt *s;
    sl_code rc = sl__store_prepare(st, "SELECT " DS_COLS " FROM datasets WHERE ?1 IS NULL OR tenant=?1 "
                      "ORDER BY created_ms DESC, dataset_id",
                      &s, err);
    if (rc != SL_OK)
        return rc;
    sl__bind_text(s, 1, tenant);
    int src;
    sl_dataset_row r;
    while ((src = sl__store_step(st, s)) == SQLITE_ROW) {
        read_ds(s, &r);
        fn(&r, arg);
        sl_dataset_row_cleanup(&r);
    }
    sqlite3_finalize(s);
    return src == SQLITE_DONE ? SL_OK : sl__store_fail(st, src, "list datasets", err);
}
