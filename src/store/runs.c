/* runs.c - workflow run rows: insert, find, version advance, close, list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

void sl_run_row_cleanup(sl_run_row *r)
{
    if (!r)
        return;
    free(r->workflow_id);
    free(r->type);
    free(r->task_queue);
    free(r->input);
    free(r->result);
    free(r->failure);
    free(r->first_run_id);
    free(r->prev_run_id);
    free(r->parent_run_id);
    free(r->opts);
    memset(r, 0, sizeof(*r));
}

static void read_run(sqlite3_stmt *s, sl_run_row *r)
{
    memset(r, 0, sizeof(*r));
    r->run_pk = sqlite3_column_int64(s, 0);
    const unsigned char *rid = sqlite3_column_text(s, 1);
    snprintf(r->run_id, sizeof(r->run_id), "%s", rid ? (const char *)rid : "");
    r->workflow_id = sl__col_dup(s, 2);
    r->type = sl__col_dup(s, 3);
    r->task_queue = sl__col_dup(s, 4);
    r->status = sqlite3_column_int(s, 5);
    r->input = sl__col_dup(s, 6);
    r->result = sl__col_dup(s, 7);
    r->failure = sl__col_dup(s, 8);
    r->start_ms = sqlite3_column_int64(s, 9);
    r->close_ms = sqlite3_column_int64(s, 10);
    r->next_event_id = sqlite3_column_int64(s, 11);
    r->history_bytes = sqlite3_column_int64(s, 12);
    r->attempt = sqlite3_column_int(s, 13);
    r->first_run_id = sl__col_dup(s, 14);
    r->prev_run_id = sl__col_dup(s, 15);
    r->parent_run_id = sl__col_dup(s, 16);
    r->opts = sl__col_dup(s, 17);
}

sl_code sl_store_run_insert(sl_store *st, sl_run_row *r, sl_err *err)
{
    SL__STMT_OR_RETURN(st, s, STMT_RUN_INSERT, err);
    sl__bind_text(s, 1, r->run_id);
    sl__bind_text(s, 2, r->workflow_id);
    sl__bind_text(s, 3, r->type);
    sl__bind_text(s, 4, r->task_queue);
    sqlite3_bind_int(s, 5, r->status);
    sl__bind_text(s, 6, r->input);
    sl__bind_text(s, 7, r->result);
    sl__bind_text(s, 8, r->failure);
    sqlite3_bind_int64(s, 9, r->start_ms);
    sl__bind_opt_i64(s, 10, r->close_ms);
    sqlite3_bind_int64(s, 11, r->next_event_id);
    sqlite3_bind_int64(s, 12, r->history_bytes);
    sqlite3_bind_int(s, 13, r->attempt > 0 ? r->attempt : 1);
    sl__bind_text(s, 14, r->first_run_id);
    sl__bind_text(s, 15, r->prev_run_id);
    sl__bind_text(s, 16, r->parent_run_id);
    sl__bind_text(s, 17, r->opts);
    sl_code rc = sl__store_exec_stmt(st, s, "insert run", err);
    if (rc == SL_OK)
        r->run_pk = sqlite3_last_insert_rowid(st->db);
    return rc;
}

/* Run a query returning at most one run row. */
static sl_code one_run(sl_store *st, sqlite3_stmt *s, sl_run_row *out, const char *what,
                       sl_err *err)
{
    int rc = sl__store_step(st, s);
    sl_code code;
    if (rc == SQLITE_ROW) {
        read_run(s, out);
        code = SL_OK;
    } else if (rc == SQLITE_DONE) {
        code = SL_ENOTFOUND;
        if (err)
            err->code = SL_ENOTFOUND;
    } else {
        code = sl__store_fail(st, rc, what, err);
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return code;
}

sl_code sl_store_run_find_open(sl_store *st, const char *workflow_id, sl_run_row *out,
                               sl_err *err)
{
    SL__STMT_OR_RETURN(st, s, STMT_RUN_FIND_OPEN, err);
    sl__bind_text(s, 1, workflow_id);
    return one_run(st, s, out, "find open run", err);
}

sl_code sl_store_run_find(sl_store *st, const char *workflow_id, const char *run_id,
                          sl_run_row *out, sl_err *err)
{
    sqlite3_stmt *s;
    sl_code rc;
    if (run_id) {
        if ((rc = sl__store_stmt(st, STMT_RUN_FIND_ID, &s, err)) != SL_OK)
            return rc;
        sl__bind_text(s, 1, run_id);
        sl__bind_text(s, 2, workflow_id);
    } else {
        if ((rc = sl__store_stmt(st, STMT_RUN_FIND_LATEST, &s, err)) != SL_OK)
            return rc;
        sl__bind_text(s, 1, workflow_id);
    }
    return one_run(st, s, out, "find run", err);
}

sl_code sl_store_run_get(sl_store *st, int64_t run_pk, sl_run_row *out, sl_err *err)
{
    SL__STMT_OR_RETURN(st, s, STMT_RUN_GET, err);
    sqlite3_bind_int64(s, 1, run_pk);
    return one_run(st, s, out, "get run", err);
}

sl_code sl_store_run_version(sl_store *st, int64_t run_pk, int64_t *next_event_id, int *status,
                             sl_err *err)
{
    SL__STMT_OR_RETURN(st, s, STMT_RUN_VERSION, err);
    sqlite3_bind_int64(s, 1, run_pk);
    int rc = sl__store_step(st, s);
    sl_code code = SL_OK;
    if (rc == SQLITE_ROW) {
        *next_event_id = sqlite3_column_int64(s, 0);
        *status = sqlite3_column_int(s, 1);
    } else if (rc == SQLITE_DONE) {
        code = sl_err_set(err, SL_ENOTFOUND, "run %lld not found", (long long)run_pk);
    } else {
        code = sl__store_fail(st, rc, "run version", err);
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return code;
}

sl_code sl_store_run_advance(sl_store *st, int64_t run_pk, int64_t expect, int64_t next,
                             int64_t add_bytes, bool *ok, sl_err *err)
{
    SL__STMT_OR_RETURN(st, s, STMT_RUN_ADVANCE, err);
    sqlite3_bind_int64(s, 1, run_pk);
    sqlite3_bind_int64(s, 2, expect);
    sqlite3_bind_int64(s, 3, next);
    sqlite3_bind_int64(s, 4, add_bytes);
    sl_code rc = sl__store_exec_stmt(st, s, "advance run", err);
    *ok = rc == SL_OK && sqlite3_changes(st->db) == 1;
    return rc;
}

sl_code sl_store_run_close(sl_store *st, int64_t run_pk, int status, const char *result,
                           const char *failure, int64_t close_ms, sl_err *err)
{
    SL__STMT_OR_RETURN(st, s, STMT_RUN_CLOSE, err);
    sqlite3_bind_int64(s, 1, run_pk);
    sqlite3_bind_int(s, 2, status);
    sl__bind_text(s, 3, result);
    sl__bind_text(s, 4, failure);
    sqlite3_bind_int64(s, 5, close_ms);
    return sl__store_exec_stmt(st, s, "close run", err);
}

static sl_code each_run(sl_store *st, sqlite3_stmt *s, sl_run_fn fn, void *arg, const char *what,
                        sl_err *err)
{
    int rc;
    sl_run_row r;
    while ((rc = sl__store_step(st, s)) == SQLITE_ROW) {
        read_run(s, &r);
        fn(&r, arg);
        sl_run_row_cleanup(&r);
    }
    sl_code code = rc == SQLITE_DONE ? SL_OK : sl__store_fail(st, rc, what, err);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return code;
}

sl_code sl_store_runs_of(sl_store *st, const char *workflow_id, sl_run_fn fn, void *arg,
                         sl_err *err)
{
    SL__STMT_OR_RETURN(st, s, STMT_RUNS_OF, err);
    sl__bind_text(s, 1, workflow_id);
    return each_run(st, s, fn, arg, "list runs", err);
}

sl_code sl_store_runs_children(sl_store *st, const char *parent_run_id, sl_run_fn fn, void *arg,
                               sl_err *err)
{
    SL__STMT_OR_RETURN(st, s, STMT_RUNS_CHILDREN, err);
    sl__bind_text(s, 1, parent_run_id);
    return each_run(st, s, fn, arg, "list child runs", err);
}

sl_code sl_store_runs_open_prefix(sl_store *st, const char *prefix, sl_run_fn fn, void *arg,
                                  sl_err *err)
{
    /* A range over the workflow_id index: [prefix, prefix + U+10FFFF). */
    char *hi = sl_xasprintf("%s\xf4\x8f\xbf\xbf", prefix);
    sqlite3_stmt *s;
    int src = sqlite3_prepare_v2(st->db,
                                 "SELECT run_pk, run_id, workflow_id, type, task_queue, status, "
                                 "input, result, failure, start_ms, close_ms, next_event_id, "
                                 "history_bytes, attempt, first_run_id, prev_run_id, "
                                 "parent_run_id, opts FROM runs WHERE workflow_id>=?1 AND "
                                 "workflow_id<?2 AND status=0",
                                 -1, &s, NULL);
    if (src != SQLITE_OK) {
        free(hi);
        return sl__store_fail(st, src, "find open run", err);
    }
    sl__bind_text(s, 1, prefix);
    sl__bind_text(s, 2, hi);
    sl_code rc = each_run(st, s, fn, arg, "find open runs", err);
    sqlite3_finalize(s);
    free(hi);
    return rc;
}

void sl_run_filter_init(sl_run_filter *f)
{
    memset(f, 0, sizeof(*f));
    f->status = -1;
}

/* WHERE clause for a filter; parameters are bound by bind_filter in the same order. */
static char *filter_sql(const sl_run_filter *f, const char *select)
{
    char where[512] = "1=1";
    if (f->status >= 0)
        strcat(where, " AND status=:status");
    if (f->type)
        strcat(where, " AND type=:type");
    if (f->id_prefix)
        strcat(where, " AND substr(workflow_id,1,length(:prefix))=:prefix");
    if (f->started_after_ms)
        strcat(where, " AND start_ms>=:after");
    if (f->started_before_ms)
        strcat(where, " AND start_ms<:before");
    if (f->latest_only)
        strcat(where, " AND run_pk=(SELECT max(run_pk) FROM runs r2 WHERE "
                      "r2.workflow_id=runs.workflow_id)");
    return sl_xasprintf("%s FROM runs WHERE %s", select, where);
}

static void bind_filter(sqlite3_stmt *s, const sl_run_filter *f)
{
    int i;
    if ((i = sqlite3_bind_parameter_index(s, ":status")))
        sqlite3_bind_int(s, i, f->status);
    if ((i = sqlite3_bind_parameter_index(s, ":type")))
        sqlite3_bind_text(s, i, f->type, -1, SQLITE_STATIC);
    if ((i = sqlite3_bind_parameter_index(s, ":prefix")))
        sqlite3_bind_text(s, i, f->id_prefix, -1, SQLITE_STATIC);
    if ((i = sqlite3_bind_parameter_index(s, ":after")))
        sqlite3_bind_int64(s, i, f->started_after_ms);
    if ((i = sqlite3_bind_parameter_index(s, ":before")))
        sqlite3_bind_int64(s, i, f->started_before_ms);
}

sl_code sl_store_runs_list(sl_store *st, const sl_run_filter *f, sl_run_fn fn, void *arg,
                           sl_err *err)
{
    char *base = filter_sql(f, "SELECT run_pk, run_id, workflow_id, type, task_queue, status, "
                               "input, result, failure, start_ms, close_ms, next_event_id, "
                               "history_bytes, attempt, first_run_id, prev_run_id, "
                               "parent_run_id, opts");
    char *sql = f->limit > 0 ? sl_xasprintf("%s ORDER BY run_pk DESC LIMIT %d", base, f->limit)
                             : sl_xasprintf("%s ORDER BY run_pk DESC", base);
    free(base);
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    free(sql);
    if (rc != SQLITE_OK)
        return sl__store_fail(st, rc, "list runs", err);
    bind_filter(s, f);
    sl_code code = each_run(st, s, fn, arg, "list runs", err);
    sqlite3_finalize(s);
    return code;
}

sl_code sl_store_runs_count(sl_store *st, const sl_run_filter *f, int64_t *out, sl_err *err)
{
    char *sql = filter_sql(f, "SELECT count(*)");
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    free(sql);
    if (rc != SQLITE_OK)
        return sl__store_fail(st, rc, "count runs", err);
    bind_filter(s, f);
    rc = sl__store_step(st, s);
    sl_code code = SL_OK;
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    else
        code = sl__store_fail(st, rc, "count runs", err);
    sqlite3_finalize(s);
    return code;
}
