/*
 * sql_exec.c - running one statement: sl__emu_sql_run lexes it, dispatches on its first
 * keyword and runs it on a pooled state-database connection: SELECT (rows formatted as
 * Databricks prints them, under the row and INLINE byte limits), CREATE TABLE ... AS
 * SELECT, CREATE/DROP CATALOG|SCHEMA|VOLUME|TABLE, SHOW, DESCRIBE, INSERT, UPDATE and
 * DELETE (each data change in its own transaction, rolled back whole on failure). SQLite
 * errors map to Databricks error classes; a progress handler honours cancellation.
 */
#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sql_int.h"

/* ------------------------------------------------------------------ results */

void sl__emu_result_free(emu_result *r)
{
    if (!r)
        return;
    for (size_t k = 0; k < r->n_rows * (size_t)r->n_cols; k++)
        free(r->cells[k]);
    free(r->cells);
    for (int k = 0; k < r->n_cols; k++)
        free(r->cols[k].name);
    free(r->cols);
    memset(r, 0, sizeof(*r));
}

static void result_cols(emu_result *r, const sql_col *cols, int n)
{
    r->n_cols = n;
    r->cols = sl_xcalloc((size_t)(n ? n : 1), sizeof(*r->cols));
    for (int k = 0; k < n; k++) {
        r->cols[k].name = sl_xstrdup(cols[k].name);
        r->cols[k].type = cols[k].type;
    }
}

static void result_row(emu_result *r, char **cells)
{
    if (r->n_rows == r->cap_rows) {
        r->cap_rows = r->cap_rows ? r->cap_rows * 2 : 64;
        r->cells = sl_xrealloc(r->cells, r->cap_rows * (size_t)r->n_cols * sizeof(*r->cells));
    }
    memcpy(r->cells + r->n_rows * (size_t)r->n_cols, cells, (size_t)r->n_cols * sizeof(*cells));
    r->n_rows++;
}

static char *format_cell(sqlite3_stmt *st, int k, emu_type t)
{
    char buf[64];
    switch (sqlite3_column_type(st, k)) {
    case SQLITE_NULL:
        return NULL;
    case SQLITE_INTEGER: {
        long long v = sqlite3_column_int64(st, k);
        if (t == EMU_T_BOOLEAN)
            return sl_xstrdup(v ? "true" : "false");
        if (t == EMU_T_DOUBLE) {
            sl__emu_format_double((double)v, buf, sizeof(buf));
            return sl_xstrdup(buf);
        }
        snprintf(buf, sizeof(buf), "%lld", v);
        return sl_xstrdup(buf);
    }
    case SQLITE_FLOAT: {
        double v = sqlite3_column_double(st, k);
        if (t == EMU_T_BIGINT || t == EMU_T_INT) {
            snprintf(buf, sizeof(buf), "%lld", (long long)v);
            return sl_xstrdup(buf);
        }
        if (t == EMU_T_BOOLEAN)
            return sl_xstrdup(v != 0 ? "true" : "false");
        sl__emu_format_double(v, buf, sizeof(buf));
        return sl_xstrdup(buf);
    }
    default:
        return sl_xstrdup((const char *)sqlite3_column_text(st, k));
    }
}

static int progress_cb(void *arg)
{
    const sql_parser *p = arg;
    return p->ctx->canceled && atomic_load(p->ctx->canceled);
}

static bool sqlite_fail(sql_parser *p, const char *what)
{
    const char *m = sqlite3_errmsg(p->db);
    int code = sqlite3_errcode(p->db);
    if (code == SQLITE_INTERRUPT || is_canceled(p)) {
        sl__sql_fail(p, EMU_E_CANCELED, "OPERATION_CANCELED", "HY008",
                     "The statement was canceled.");
    } else if (sl_str_has_prefix(m, EMU_CAST_ERR_PREFIX)) {
        sl__sql_fail(p, EMU_E_RUNTIME, "CAST_INVALID_INPUT", "22018", "%s",
                     m + strlen(EMU_CAST_ERR_PREFIX));
    } else if (strstr(m, "misuse of aggregate") || strstr(m, "aggregate functions are not")) {
        sl__sql_fail(
            p, EMU_E_INVALID, "MISSING_GROUP_BY", "42803",
            "The query does not include a GROUP BY clause, or uses an aggregate where it is not "
            "allowed (%s).",
            m);
    } else {
        sl__sql_fail(p, EMU_E_INTERNAL, "INTERNAL_ERROR", "XX000", "%s: %s", what, m);
    }
    return false;
}

static sqlite3_stmt *prepare(sql_parser *p, const char *sql)
{
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    if (sqlite3_prepare_v2(p->db, sql, -1, &st, &tail) != SQLITE_OK) {
        sqlite_fail(p, "prepare");
        return NULL;
    }
    if (tail && *tail) {
        sqlite3_finalize(st);
        sl__sql_fail(p, EMU_E_INTERNAL, "INTERNAL_ERROR", "XX000",
                     "translator produced two statements");
        return NULL;
    }
    sl__sql_params_apply(p, st);
    return st;
}

static bool run_query(sql_parser *p, const char *sql, emu_result *out)
{
    sqlite3_stmt *st = prepare(p, sql);
    if (!st)
        return false;
    result_cols(out, p->outs, p->n_outs);
    char **row = sl_xcalloc((size_t)(p->n_outs ? p->n_outs : 1), sizeof(*row));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (p->ctx->row_limit > 0 && (int64_t)out->n_rows >= p->ctx->row_limit) {
            out->truncated = true;
            break;
        }
        for (int k = 0; k < p->n_outs; k++) {
            row[k] = format_cell(st, k, p->outs[k].type);
            out->bytes += row[k] ? strlen(row[k]) + 3 : 5;
        }
        result_row(out, row);
        if (p->ctx->max_result_bytes && out->bytes > p->ctx->max_result_bytes) {
            sqlite3_finalize(st);
            free(row);
            sl__sql_fail(
                p, EMU_E_RUNTIME, "INLINE_RESULT_TOO_LARGE", "54000",
                "The result exceeds the INLINE disposition limit of %zu bytes; add a LIMIT or "
                "use EXTERNAL_LINKS (not supported by the emulator).",
                p->ctx->max_result_bytes);
            return false;
        }
    }
    free(row);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        sqlite3_finalize(st);
        return sqlite_fail(p, "query");
    }
    sqlite3_finalize(st);
    return true;
}

static bool txn(sql_parser *p, const char *sql)
{
    emu_err tmp = {0};
    if (!sl__emu_db_exec(p->db, sql, &tmp)) {
        sl__sql_fail(p, EMU_E_INTERNAL, "INTERNAL_ERROR", "XX000", "%s", tmp.msg);
        return false;
    }
    return true;
}

static bool uc_fail(sql_parser *p, const emu_err *e)
{
    if (!p->failed) {
        *p->e = *e;
        if (p->e->kind == EMU_E_NOT_FOUND || p->e->kind == EMU_E_EXISTS ||
            p->e->kind == EMU_E_NOT_EMPTY)
            snprintf(p->e->error_code, sizeof(p->e->error_code), "BAD_REQUEST");
        p->failed = true;
    }
    return false;
}

static void affected_result(emu_result *out, int64_t n)
{
    static const sql_col cols[] = {{"num_affected_rows", EMU_T_BIGINT},
                                   {"num_inserted_rows", EMU_T_BIGINT}};
    result_cols(out, cols, 2);
    char *row[2];
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", (long long)n);
    row[0] = sl_xstrdup(buf);
    row[1] = sl_xstrdup(buf);
    result_row(out, row);
}

/* ------------------------------------------------------------------ DDL, SHOW, DESCRIBE */

/* CREATE [OR REPLACE] TABLE [IF NOT EXISTS] name [USING DELTA] [COMMENT '..'] AS SELECT ... */
static bool x_ctas(sql_parser *p, bool or_replace, emu_result *out)
{
    bool if_not_exists = false;
    if (accept_kw(p, "IF")) {
        if (!expect_kw(p, "NOT") || !expect_kw(p, "EXISTS"))
            return false;
        if_not_exists = true;
    }
    sql_qname q = {0};
    if (!sl__sql_qname_parse(p, 3, &q))
        return false;
    bool ok = false;
    if (is_op(cur(p), "(")) {
        sl__sql_fail_unsupported(
            p, "CREATE TABLE with a column list (use CREATE TABLE ... AS SELECT)");
        goto out;
    }
    if (accept_kw(p, "USING") && !is_name_tok(&p->lx.t[p->i++])) {
        sl__sql_fail_syntax(p);
        goto out;
    }
    if (accept_kw(p, "COMMENT") && cur(p)->k == TK_STRING)
        p->i++;
    if (!expect_kw(p, "AS") || !txn(p, "BEGIN IMMEDIATE"))
        goto out;
    emu_err ue = {0};
    if (!sl__emu_uc_schema_exists(p->db, q.c, q.s, &ue)) {
        uc_fail(p, &ue);
        goto rollback;
    }
    emu_table_info ti;
    if (sl__emu_uc_table_get(p->db, q.c, q.s, q.t, &ti, &ue)) {
        sl__emu_table_info_free(&ti);
        if (if_not_exists && !or_replace) {
            ok = txn(p, "COMMIT");
            goto out;
        }
        if (!or_replace) {
            sl__sql_fail(
                p, EMU_E_EXISTS, "TABLE_OR_VIEW_ALREADY_EXISTS", "42P07",
                "Cannot create table or view `%s`.`%s`.`%s` because it already exists. Choose "
                "a different name, drop the existing object, or add the IF NOT EXISTS clause.",
                q.c, q.s, q.t);
            goto rollback;
        }
    }
    sl_buf sel = {0};
    if (!sl__sql_select(p, &sel) || cur(p)->k != TK_EOF) {
        if (!p->failed)
            sl__sql_fail_syntax(p);
        sl_buf_free(&sel);
        goto rollback;
    }
    for (int k = 0; k < p->n_outs; k++)
        for (int j = 0; j < k; j++)
            if (strcasecmp(p->outs[j].name, p->outs[k].name) == 0) {
                sl__sql_fail(p, EMU_E_INVALID, "COLUMN_ALREADY_EXISTS", "42711",
                             "The column `%s` already exists. Choose another name or rename the "
                             "existing column.",
                             p->outs[k].name);
                sl_buf_free(&sel);
                goto rollback;
            }
    /* OR REPLACE: the old table (if any) goes inside this transaction. */
    char *phys = sl__emu_phys_name(q.c, q.s, q.t);
    sl_buf ddl = {0};
    sl_buf_puts(&ddl, "DROP TABLE IF EXISTS ");
    sl__sql_put_ident(&ddl, phys);
    bool step_ok = txn(p, sl_buf_str(&ddl));
    sl_buf_free(&ddl);
    sl_buf_puts(&ddl, "DELETE FROM uc_table WHERE catalog=");
    sl__sql_put_literal(&ddl, q.c);
    sl_buf_puts(&ddl, " AND schema=");
    sl__sql_put_literal(&ddl, q.s);
    sl_buf_puts(&ddl, " AND name=");
    sl__sql_put_literal(&ddl, q.t);
    sl_buf_puts(&ddl, "; DELETE FROM uc_column WHERE catalog=");
    sl__sql_put_literal(&ddl, q.c);
    sl_buf_puts(&ddl, " AND schema=");
    sl__sql_put_literal(&ddl, q.s);
    sl_buf_puts(&ddl, " AND tbl=");
    sl__sql_put_literal(&ddl, q.t);
    step_ok = step_ok && txn(p, sl_buf_str(&ddl));
    sl_buf_free(&ddl);
    sl_buf_puts(&ddl, "CREATE TABLE ");
    sl__sql_put_ident(&ddl, phys);
    sl_buf_puts(&ddl, "(");
    static const char *aff[] = {"",     "TEXT",    "INTEGER", "INTEGER",
                                "REAL", "INTEGER", "TEXT",    "TEXT"};
    for (int k = 0; k < p->n_outs; k++) {
        if (k)
            sl_buf_puts(&ddl, ", ");
        sl__sql_put_ident(&ddl, p->outs[k].name);
        sl_buf_printf(&ddl, " %s", aff[p->outs[k].type]);
    }
    sl_buf_puts(&ddl, ")");
    step_ok = step_ok && txn(p, sl_buf_str(&ddl));
    sl_buf_free(&ddl);
    if (step_ok) {
        sl_buf_puts(&ddl, "INSERT INTO ");
        sl__sql_put_ident(&ddl, phys);
        sl_buf_printf(&ddl, " %s", sl_buf_str(&sel));
        sqlite3_stmt *st = prepare(p, sl_buf_str(&ddl));
        sl_buf_free(&ddl);
        int rc = st ? sqlite3_step(st) : SQLITE_ERROR;
        if (st && rc != SQLITE_DONE)
            sqlite_fail(p, "insert");
        sqlite3_finalize(st);
        int64_t n = sqlite3_changes64(p->db);
        emu_column *cols = sl_xcalloc((size_t)(p->n_outs ? p->n_outs : 1), sizeof(*cols));
        for (int k = 0; k < p->n_outs; k++)
            cols[k] = (emu_column){p->outs[k].name, p->outs[k].type};
        if (!p->failed &&
            !sl__emu_uc_table_register(p->db, q.c, q.s, q.t, cols, p->n_outs, "DELTA", &ue))
            uc_fail(p, &ue);
        free(cols);
        if (!p->failed && txn(p, "COMMIT")) {
            affected_result(out, n);
            ok = true;
        }
    }
    free(phys);
    sl_buf_free(&sel);
    if (ok)
        goto out;
rollback:
    sqlite3_exec(p->db, "ROLLBACK", NULL, NULL, NULL);
out:
    sl__sql_qname_free(&q);
    return ok;
}

static bool accept_if_not_exists(sql_parser *p, bool *flag)
{
    *flag = false;
    if (!accept_kw(p, "IF"))
        return true;
    if (!expect_kw(p, "NOT") || !expect_kw(p, "EXISTS"))
        return false;
    *flag = true;
    return true;
}

static bool accept_if_exists(sql_parser *p, bool *flag)
{
    *flag = false;
    if (!accept_kw(p, "IF"))
        return true;
    if (!expect_kw(p, "EXISTS"))
        return false;
    *flag = true;
    return true;
}

/* Optional trailing clauses of CREATE CATALOG/SCHEMA/VOLUME. */
static char *p_create_tail(sql_parser *p)
{
    char *comment = NULL;
    for (;;) {
        if (accept_kw(p, "COMMENT") && cur(p)->k == TK_STRING) {
            free(comment);
            comment = sl_xstrdup(cur(p)->text);
            p->i++;
        } else if ((accept_kw(p, "MANAGED") && accept_kw(p, "LOCATION")) ||
                   accept_kw(p, "LOCATION")) {
            if (cur(p)->k == TK_STRING)
                p->i++;
        } else {
            break;
        }
    }
    return comment;
}

static bool end_of_stmt(sql_parser *p)
{
    if (cur(p)->k == TK_EOF)
        return true;
    sl__sql_fail_syntax(p);
    return false;
}

static bool x_create(sql_parser *p, emu_result *out)
{
    bool or_replace = false;
    if (accept_kw(p, "OR")) {
        if (!expect_kw(p, "REPLACE"))
            return false;
        or_replace = true;
    }
    if (accept_kw(p, "TABLE"))
        return x_ctas(p, or_replace, out);
    int want = accept_kw(p, "CATALOG")                                ? 1
               : (accept_kw(p, "SCHEMA") || accept_kw(p, "DATABASE")) ? 2
               : (accept_kw(p, "VOLUME") ||
                  (accept_kw(p, "EXTERNAL") && is_kw(cur(p), "VOLUME") && (p->i++, true)))
                   ? 3
                   : 0;
    if (!want) {
        char what[96];
        snprintf(what, sizeof(what), "CREATE %s", cur(p)->text);
        return sl__sql_fail_unsupported(p, what), false;
    }
    bool ine;
    sql_qname q = {0};
    if (!accept_if_not_exists(p, &ine) || !sl__sql_qname_parse(p, want, &q))
        return false;
    char *comment = p_create_tail(p);
    bool ok = end_of_stmt(p);
    emu_err ue = {0};
    if (ok) {
        if (want == 1)
            ok = sl__emu_uc_catalog_create(p->db, q.c, comment, ine, &ue);
        else if (want == 2)
            ok = sl__emu_uc_schema_create(p->db, q.c, q.s, comment, ine, &ue);
        else
            ok = sl__emu_uc_volume_create(p->ctx->store, p->db, q.c, q.s, q.t, "MANAGED", comment,
                                          ine, &ue);
        if (!ok)
            uc_fail(p, &ue);
    }
    free(comment);
    sl__sql_qname_free(&q);
    if (ok)
        result_cols(out, NULL, 0);
    return ok;
}

static bool x_drop(sql_parser *p, emu_result *out)
{
    int want = accept_kw(p, "TABLE")                                  ? 3
               : accept_kw(p, "VOLUME")                               ? 4
               : (accept_kw(p, "SCHEMA") || accept_kw(p, "DATABASE")) ? 2
               : accept_kw(p, "CATALOG")                              ? 1
                                                                      : 0;
    if (!want) {
        char what[96];
        snprintf(what, sizeof(what), "DROP %s", cur(p)->text);
        return sl__sql_fail_unsupported(p, what), false;
    }
    bool ie;
    sql_qname q = {0};
    if (!accept_if_exists(p, &ie) || !sl__sql_qname_parse(p, want == 4 ? 3 : want, &q))
        return false;
    bool cascade = accept_kw(p, "CASCADE");
    if (!cascade)
        (void)(accept_kw(p, "RESTRICT") || accept_kw(p, "PURGE"));
    bool ok = end_of_stmt(p);
    emu_err ue = {0};
    if (ok) {
        emu_store *st = p->ctx->store;
        if (want == 3)
            ok = sl__emu_uc_table_drop(p->db, q.c, q.s, q.t, ie, &ue);
        else if (want == 4)
            ok = sl__emu_uc_volume_delete(st, p->db, q.c, q.s, q.t, ie, &ue);
        else if (want == 2)
            ok = sl__emu_uc_schema_delete(st, p->db, q.c, q.s, cascade, ie, &ue);
        else
            ok = sl__emu_uc_catalog_delete(st, p->db, q.c, cascade, ie, &ue);
        if (!ok)
            uc_fail(p, &ue);
    }
    sl__sql_qname_free(&q);
    if (ok)
        result_cols(out, NULL, 0);
    return ok;
}

static bool like_match(const char *pattern, const char *name)
{
    if (!pattern)
        return true;
    char *pc = sl_xstrdup(pattern), *save = NULL;
    bool m = false;
    for (char *alt = strtok_r(pc, "|", &save); alt && !m; alt = strtok_r(NULL, "|", &save)) {
        while (*alt == ' ')
            alt++;
        size_t l = strlen(alt);
        while (l && alt[l - 1] == ' ')
            alt[--l] = '\0';
        char *ln = sl_xstrdup(name);
        sl__lower(alt);
        sl__lower(ln);
        m = fnmatch(alt, ln, 0) == 0;
        free(ln);
    }
    free(pc);
    return m;
}

/* Run a listing query with text params; each row's columns are strings. */
static bool list_rows(sql_parser *p, const char *sql, const char **args, int nargs,
                      const char *like, int like_col, emu_result *out, bool add_false)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(p->db, sql, -1, &st, NULL) != SQLITE_OK)
        return sqlite_fail(p, "list");
    for (int k = 0; k < nargs; k++)
        sqlite3_bind_text(st, k + 1, args[k], -1, SQLITE_TRANSIENT);
    int nc = sqlite3_column_count(st);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (!like_match(like, (const char *)sqlite3_column_text(st, like_col)))
            continue;
        char *row[4];
        for (int k = 0; k < nc; k++)
            row[k] = sl_xstrdup((const char *)sqlite3_column_text(st, k));
        if (add_false)
            row[nc] = sl_xstrdup("false");
        result_row(out, row);
    }
    sqlite3_finalize(st);
    return true;
}

static bool x_show(sql_parser *p, emu_result *out)
{
    int what = accept_kw(p, "TABLES")                                   ? 3
               : (accept_kw(p, "SCHEMAS") || accept_kw(p, "DATABASES")) ? 2
               : accept_kw(p, "CATALOGS")                               ? 1
                                                                        : 0;
    if (!what) {
        char w[96];
        snprintf(w, sizeof(w), "SHOW %s", cur(p)->text);
        return sl__sql_fail_unsupported(p, w), false;
    }
    sql_qname q = {0};
    bool ok = true;
    if (what > 1 && (accept_kw(p, "IN") || accept_kw(p, "FROM"))) {
        ok = sl__sql_qname_parse(p, what == 3 ? 2 : 1, &q);
    } else if (what == 3) {
        q.c = sl_xstrdup(sl__sql_default_catalog(p));
        q.s = sl_xstrdup(sl__sql_default_schema(p));
    } else if (what == 2) {
        q.c = sl_xstrdup(sl__sql_default_catalog(p));
    }
    char *like = NULL;
    if (ok && (accept_kw(p, "LIKE") || cur(p)->k == TK_STRING)) {
        if (cur(p)->k != TK_STRING) {
            sl__sql_fail_syntax(p);
            ok = false;
        } else {
            like = sl_xstrdup(cur(p)->text);
            p->i++;
        }
    }
    ok = ok && end_of_stmt(p);
    emu_err ue = {0};
    if (ok && what == 3) {
        ok = sl__emu_uc_schema_exists(p->db, q.c, q.s, &ue) || uc_fail(p, &ue);
        static const sql_col cols[] = {{"database", EMU_T_STRING},
                                       {"tableName", EMU_T_STRING},
                                       {"isTemporary", EMU_T_BOOLEAN}};
        const char *args[] = {q.c, q.s};
        if (ok) {
            result_cols(out, cols, 3);
            ok = list_rows(p,
                           "SELECT schema, name FROM uc_table WHERE catalog=? AND schema=? ORDER "
                           "BY name",
                           args, 2, like, 1, out, true);
        }
    } else if (ok && what == 2) {
        json_t *cj = sl__emu_uc_catalog_get(p->db, q.c, &ue);
        ok = cj != NULL || uc_fail(p, &ue);
        json_decref(cj);
        static const sql_col cols[] = {{"databaseName", EMU_T_STRING}};
        const char *args[] = {q.c};
        if (ok) {
            result_cols(out, cols, 1);
            ok = list_rows(p, "SELECT name FROM uc_schema WHERE catalog=? ORDER BY name", args, 1,
                           like, 0, out, false);
        }
    } else if (ok) {
        static const sql_col cols[] = {{"catalog", EMU_T_STRING}};
        result_cols(out, cols, 1);
        ok =
            list_rows(p, "SELECT name FROM uc_catalog ORDER BY name", NULL, 0, like, 0, out, false);
    }
    free(like);
    sl__sql_qname_free(&q);
    return ok;
}

static bool x_describe(sql_parser *p, emu_result *out)
{
    (void)accept_kw(p, "TABLE");
    (void)(accept_kw(p, "EXTENDED") || accept_kw(p, "FORMATTED"));
    sql_qname q = {0};
    if (!sl__sql_qname_parse(p, 3, &q))
        return false;
    bool ok = end_of_stmt(p);
    emu_table_info ti;
    emu_err ue = {0};
    if (ok && !sl__emu_uc_table_get(p->db, q.c, q.s, q.t, &ti, &ue)) {
        ue.kind = EMU_E_INVALID;
        ok = uc_fail(p, &ue);
    }
    if (ok) {
        static const sql_col cols[] = {
            {"col_name", EMU_T_STRING}, {"data_type", EMU_T_STRING}, {"comment", EMU_T_STRING}};
        result_cols(out, cols, 3);
        for (int k = 0; k < ti.n_cols; k++) {
            char *row[3] = {sl_xstrdup(ti.cols[k].name),
                            sl_xstrdup(sl__emu_type_lower(ti.cols[k].type)), NULL};
            result_row(out, row);
        }
        sl__emu_table_info_free(&ti);
    }
    sl__sql_qname_free(&q);
    return ok;
}

/* ------------------------------------------------------------------ DML */

/*
 * INSERT INTO [TABLE] name [(col, ...)] VALUES (expr, ...)[, (...)] | SELECT ...
 * Columns left out of the list are NULL. Result: num_affected_rows, num_inserted_rows.
 */
static bool x_insert(sql_parser *p, emu_result *out)
{
    if (!expect_kw(p, "INTO"))
        return false;
    (void)accept_kw(p, "TABLE");
    sql_qname q = {0};
    if (!sl__sql_qname_parse(p, 3, &q))
        return false;
    bool ok = false;
    emu_err ue = {0};
    emu_table_info ti = {0};
    int *target = NULL, n_target = 0;
    sl_buf sql = {0};
    if (!txn(p, "BEGIN IMMEDIATE"))
        goto out;
    if (!sl__emu_uc_table_get(p->db, q.c, q.s, q.t, &ti, &ue)) {
        uc_fail(p, &ue);
        goto rollback;
    }
    target = sl_xcalloc((size_t)ti.n_cols + 1, sizeof(*target));
    if (accept_op(p, "(")) {
        do {
            sql_tok *t = cur(p);
            if (!is_name_tok(t)) {
                sl__sql_fail_syntax(p);
                goto rollback;
            }
            int k = 0;
            while (k < ti.n_cols && strcasecmp(ti.cols[k].name, t->text) != 0)
                k++;
            if (k == ti.n_cols) {
                sl__sql_fail(p, EMU_E_INVALID, "UNRESOLVED_COLUMN.WITH_SUGGESTION", "42703",
                             "A column, variable, or function parameter with name `%s` cannot be "
                             "resolved. Table `%s`.`%s`.`%s` has no such column.",
                             t->text, q.c, q.s, q.t);
                goto rollback;
            }
            for (int j = 0; j < n_target; j++)
                if (target[j] == k) {
                    sl__sql_fail(p, EMU_E_INVALID, "COLUMN_ALREADY_EXISTS", "42711",
                                 "The column `%s` is listed twice.", ti.cols[k].name);
                    goto rollback;
                }
            if (n_target < ti.n_cols)
                target[n_target++] = k;
            p->i++;
        } while (accept_op(p, ","));
        if (!expect_op(p, ")"))
            goto rollback;
    } else {
        for (int k = 0; k < ti.n_cols; k++)
            target[n_target++] = k;
    }
    char *phys = sl__emu_phys_name(q.c, q.s, q.t);
    sl_buf_puts(&sql, "INSERT INTO ");
    sl__sql_put_ident(&sql, phys);
    free(phys);
    sl_buf_puts(&sql, " (");
    for (int j = 0; j < n_target; j++) {
        if (j)
            sl_buf_puts(&sql, ", ");
        sl__sql_put_ident(&sql, ti.cols[target[j]].name);
    }
    sl_buf_puts(&sql, ") ");
    int n_data = -1;
    if (accept_kw(p, "VALUES")) {
        sl_buf_puts(&sql, "VALUES ");
        int row = 0;
        do {
            if (!expect_op(p, "("))
                goto rollback;
            sl_buf_puts(&sql, row++ ? ", (" : "(");
            int n = 0;
            do {
                sl_buf x = {0};
                int t = sl__sql_expr(p, &x);
                if (t == T_ERR) {
                    sl_buf_free(&x);
                    goto rollback;
                }
                if (n < n_target) {
                    if (n)
                        sl_buf_puts(&sql, ", ");
                    sl__sql_emit_store(&sql, sl_buf_str(&x), t, ti.cols[target[n]].type);
                }
                sl_buf_free(&x);
                n++;
            } while (accept_op(p, ","));
            if (!expect_op(p, ")"))
                goto rollback;
            sl_buf_puts(&sql, ")");
            if (n != n_target) {
                n_data = n;
                break;
            }
        } while (accept_op(p, ","));
    } else if (is_kw(cur(p), "SELECT")) {
        sl_buf sel = {0};
        if (!sl__sql_select(p, &sel)) {
            sl_buf_free(&sel);
            goto rollback;
        }
        sl_buf_puts(&sql, sl_buf_str(&sel));
        sl_buf_free(&sel);
        if (p->n_outs != n_target)
            n_data = p->n_outs;
    } else {
        sl__sql_fail_syntax(p);
        goto rollback;
    }
    if (n_data >= 0) {
        sl__sql_fail(
            p, EMU_E_INVALID, "INSERT_COLUMN_ARITY_MISMATCH", "21S01",
            "Cannot write to `%s`.`%s`.`%s`: the target has %d columns but the data has %d.", q.c,
            q.s, q.t, n_target, n_data);
        goto rollback;
    }
    if (!end_of_stmt(p))
        goto rollback;
    sqlite3_stmt *st = prepare(p, sl_buf_str(&sql));
    if (!st)
        goto rollback;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        sqlite_fail(p, "insert");
    sqlite3_finalize(st);
    int64_t n = sqlite3_changes64(p->db);
    if (!p->failed && txn(p, "COMMIT")) {
        affected_result(out, n);
        ok = true;
        goto out;
    }
rollback:
    sqlite3_exec(p->db, "ROLLBACK", NULL, NULL, NULL);
out:
    free(target);
    sl_buf_free(&sql);
    if (ti.name)
        sl__emu_table_info_free(&ti);
    sl__sql_qname_free(&q);
    return ok;
}

static void affected_only_result(emu_result *out, int64_t n)
{
    static const sql_col cols[] = {{"num_affected_rows", EMU_T_BIGINT}};
    result_cols(out, cols, 1);
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", (long long)n);
    char *row[1] = {sl_xstrdup(buf)};
    result_row(out, row);
}

/* Run one data-changing statement in its own transaction; *n = rows changed. */
static bool run_dml(sql_parser *p, const char *sql, int64_t *n)
{
    if (!txn(p, "BEGIN IMMEDIATE"))
        return false;
    sqlite3_stmt *st = prepare(p, sql);
    if (st) {
        if (sqlite3_step(st) != SQLITE_DONE)
            sqlite_fail(p, "update");
        sqlite3_finalize(st);
    }
    *n = sqlite3_changes64(p->db);
    if (!p->failed && txn(p, "COMMIT"))
        return true;
    sqlite3_exec(p->db, "ROLLBACK", NULL, NULL, NULL);
    return false;
}

/* The optional WHERE of an UPDATE or DELETE, the end of the statement, and the run. */
static bool where_and_run(sql_parser *p, sl_buf *sql, emu_result *out)
{
    if (accept_kw(p, "WHERE")) {
        sl_buf_puts(sql, " WHERE ");
        if (sl__sql_expr(p, sql) == T_ERR)
            return false;
    }
    int64_t n;
    if (!end_of_stmt(p) || !run_dml(p, sl_buf_str(sql), &n))
        return false;
    affected_only_result(out, n);
    return true;
}

/* DELETE FROM name [[AS] alias] [WHERE cond]. Result: num_affected_rows. */
static bool x_delete(sql_parser *p, emu_result *out)
{
    char *phys = NULL;
    if (!expect_kw(p, "FROM") || !sl__sql_dml_target(p, &phys)) {
        free(phys);
        return false;
    }
    sl_buf sql = {0};
    sl_buf_printf(&sql, "DELETE FROM %s", phys);
    free(phys);
    bool ok = where_and_run(p, &sql, out);
    sl_buf_free(&sql);
    return ok;
}

/* UPDATE name [[AS] alias] SET col = expr[, ...] [WHERE cond]: values are cast to the column
 * types as INSERT does. Result: num_affected_rows. */
static bool x_update(sql_parser *p, emu_result *out)
{
    char *phys = NULL;
    sl_buf sql = {0};
    bool ok = false;
    if (!sl__sql_dml_target(p, &phys) || !expect_kw(p, "SET"))
        goto out;
    sl_buf_printf(&sql, "UPDATE %s SET ", phys);
    int n_set = 0;
    do {
        /* col or alias.col */
        if (is_name_tok(cur(p)) && is_op(peek_at(p, 1), ".") && is_name_tok(peek_at(p, 2))) {
            if (sl__sql_src_find(p, cur(p)->text) != 0) {
                sl__sql_fail(p, EMU_E_INVALID, "UNRESOLVED_COLUMN.WITHOUT_SUGGESTION", "42703",
                             "A column with name `%s`.`%s` cannot be resolved.", cur(p)->text,
                             peek_at(p, 2)->text);
                goto out;
            }
            p->i += 2;
        }
        sql_tok *t = cur(p);
        if (!is_name_tok(t)) {
            sl__sql_fail_syntax(p);
            goto out;
        }
        int k = 0;
        while (k < p->n_cols && strcasecmp(p->cols[k].name, t->text) != 0)
            k++;
        if (k == p->n_cols) {
            sl__sql_fail(p, EMU_E_INVALID, "UNRESOLVED_COLUMN.WITH_SUGGESTION", "42703",
                         "A column, variable, or function parameter with name `%s` cannot be "
                         "resolved.",
                         t->text);
            goto out;
        }
        p->i++;
        if (!expect_op(p, "="))
            goto out;
        sl_buf x = {0};
        int xt = sl__sql_expr(p, &x);
        if (xt == T_ERR) {
            sl_buf_free(&x);
            goto out;
        }
        if (n_set++)
            sl_buf_puts(&sql, ", ");
        sl__sql_put_ident(&sql, p->cols[k].name);
        sl_buf_puts(&sql, " = ");
        sl__sql_emit_store(&sql, sl_buf_str(&x), xt, p->cols[k].type);
        sl_buf_free(&x);
    } while (accept_op(p, ","));
    ok = where_and_run(p, &sql, out);
out:
    free(phys);
    sl_buf_free(&sql);
    return ok;
}

/* ------------------------------------------------------------------ entry points */

static void p_cleanup(sql_parser *p)
{
    for (int k = 0; k < p->n_temps; k++) {
        sl_buf s = {0};
        sl_buf_puts(&s, "DROP TABLE IF EXISTS temp.");
        sl__sql_put_ident(&s, p->temps[k]);
        sqlite3_exec(p->db, sl_buf_str(&s), NULL, NULL, NULL);
        sl_buf_free(&s);
        free(p->temps[k]);
    }
    free(p->temps);
    for (int k = 0; k < p->n_cols; k++)
        free(p->cols[k].name);
    free(p->cols);
    free(p->col_src);
    for (int k = 0; k < p->n_outs; k++)
        free(p->outs[k].name);
    free(p->outs);
    for (int k = 0; k < p->n_binds; k++) {
        free(p->binds[k].name);
        free(p->binds[k].value);
    }
    free(p->binds);
    free(p->from_sql);
    for (int k = 0; k < p->n_src; k++) {
        free(p->srcs[k].name);
        free(p->srcs[k].alias);
    }
    free(p->srcs);
    sl__sql_lex_free(&p->lx);
}

static bool dispatch(sql_parser *p, emu_result *out)
{
    sql_tok *t = cur(p);
    if (is_kw(t, "SELECT")) {
        sl_buf sql = {0};
        bool ok = sl__sql_select(p, &sql) && end_of_stmt(p) && run_query(p, sl_buf_str(&sql), out);
        sl_buf_free(&sql);
        return ok;
    }
    if (accept_kw(p, "CREATE"))
        return x_create(p, out);
    if (accept_kw(p, "DROP"))
        return x_drop(p, out);
    if (accept_kw(p, "INSERT"))
        return x_insert(p, out);
    if (accept_kw(p, "DELETE"))
        return x_delete(p, out);
    if (accept_kw(p, "UPDATE"))
        return x_update(p, out);
    if (accept_kw(p, "SHOW"))
        return x_show(p, out);
    if (accept_kw(p, "DESCRIBE") || accept_kw(p, "DESC"))
        return x_describe(p, out);
    if (t->k == TK_EOF)
        return sl__sql_fail(p, EMU_E_PARSE, "PARSE_EMPTY_STATEMENT", "42617",
                            "Syntax error, unexpected empty statement."),
               false;
    if (t->k == TK_IDENT) {
        char what[96];
        snprintf(what, sizeof(what), "the %s statement", t->text);
        for (char *c = what + 4; *c && *c != ' '; c++)
            *c = (char)toupper((unsigned char)*c);
        return sl__sql_fail_unsupported(p, what), false;
    }
    return sl__sql_fail_syntax(p), false;
}

bool sl__emu_sql_run(const emu_sql_ctx *ctx, const char *sql, emu_result *out, emu_err *e)
{
    memset(out, 0, sizeof(*out));
    memset(e, 0, sizeof(*e));
    sql_parser p = {.ctx = ctx, .src = sql, .e = e};
    if (!sl__sql_lex(sql, &p.lx, e)) {
        sl__sql_lex_free(&p.lx);
        return false;
    }
    p.db = sl__emu_db_acquire(ctx->store);
    sqlite3_progress_handler(p.db, 2000, progress_cb, &p);
    bool ok = dispatch(&p, out) && !p.failed;
    sqlite3_progress_handler(p.db, 0, NULL, NULL);
    p_cleanup(&p);
    sl__emu_db_release(ctx->store, p.db);
    if (!ok) {
        if (e->kind == EMU_E_NONE)
            sl__emu_err_set(e, EMU_E_INTERNAL, "INTERNAL_ERROR", "INTERNAL_ERROR", "XX000",
                            "statement failed");
        sl__emu_result_free(out);
    }
    return ok;
}

char *sl__emu_sql_translate(const emu_sql_ctx *ctx, const char *sql, emu_err *e)
{
    memset(e, 0, sizeof(*e));
    sql_parser p = {.ctx = ctx, .src = sql, .e = e};
    char *res = NULL;
    if (sl__sql_lex(sql, &p.lx, e)) {
        p.db = sl__emu_db_acquire(ctx->store);
        sl_buf o = {0};
        if (sl__sql_select(&p, &o) && end_of_stmt(&p))
            res = sl_buf_take(&o);
        sl_buf_free(&o);
        p_cleanup(&p);
        sl__emu_db_release(ctx->store, p.db);
    } else {
        sl__sql_lex_free(&p.lx);
    }
    return res;
}
