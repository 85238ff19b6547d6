/*
 * sql_expr.c - expressions: literals, columns (resolved against the FROM scope, aliases in
 * ORDER BY/GROUP BY/HAVING), :parameters (typed and validated once, bound by number),
 * CAST/TRY_CAST, CASE, arithmetic, comparisons, IN/BETWEEN/LIKE/ILIKE, NOT/AND/OR, and
 * SQL function calls. Each level emits SQLite text and returns the Databricks type;
 * strings meeting other types are cast as ANSI Spark does (sl_cast).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sql_int.h"

/* ------------------------------------------------------------------ parameters */

const sql_param *sl__sql_param_find(sql_parser *p, const char *name)
{
    for (int k = 0; k < p->n_binds; k++)
        if (strcmp(p->binds[k].name, name) == 0)
            return &p->binds[k];
    return NULL;
}

/* Register (or reuse) a parameter binding; validates the value against its type. */
bool sl__sql_param_bind(sql_parser *p, const char *name, int *idx)
{
    const sql_param *b = sl__sql_param_find(p, name);
    if (b) {
        *idx = b->idx;
        return true;
    }
    const json_t *pr = NULL;
    size_t k;
    json_t *it;
    json_array_foreach(p->ctx->params, k, it)
    {
        const char *n = json_string_value(json_object_get(it, "name"));
        if (n && strcmp(n, name) == 0)
            pr = it;
    }
    if (!pr) {
        sl__sql_fail(
            p, EMU_E_INVALID, "UNBOUND_SQL_PARAMETER", "42P02",
            "Found the unbound parameter: %s. Please, fix `args` and provide a mapping of the "
            "parameter to either a SQL literal or collection constructor functions.",
            name);
        return false;
    }
    const char *tname = json_string_value(json_object_get(pr, "type"));
    emu_type t = EMU_T_STRING;
    if (tname && *tname) {
        char base[32];
        snprintf(base, sizeof(base), "%s", tname);
        base[strcspn(base, "(")] = '\0';
        if (!sl__emu_type_parse(base, &t)) {
            sl__sql_fail(p, EMU_E_INVALID, "INVALID_PARAMETER_VALUE", "22023",
                         "Parameter '%s' has an unsupported type '%s'.", name, tname);
            return false;
        }
    }
    const json_t *jv = json_object_get(pr, "value");
    char *val = NULL;
    if (json_is_string(jv)) {
        const char *v = json_string_value(jv);
        char buf[64];
        bool ok = true;
        int64_t iv;
        double dv;
        bool bv;
        switch (t) {
        case EMU_T_INT:
        case EMU_T_BIGINT:
            ok = sl__emu_parse_bigint(v, &iv);
            snprintf(buf, sizeof(buf), "%lld", (long long)iv);
            break;
        case EMU_T_DOUBLE:
            ok = sl__emu_parse_double(v, &dv);
            snprintf(buf, sizeof(buf), "%.17g", dv);
            break;
        case EMU_T_BOOLEAN:
            ok = sl__emu_parse_boolean(v, &bv);
            snprintf(buf, sizeof(buf), "%d", bv);
            break;
        case EMU_T_DATE:
            ok = sl__emu_parse_date(v, buf);
            break;
        case EMU_T_TIMESTAMP:
            ok = sl__emu_parse_timestamp(v, buf);
            break;
        default:
            snprintf(buf, sizeof(buf), "%s", "");
        }
        if (!ok) {
            sl__sql_fail(
                p, EMU_E_RUNTIME, "CAST_INVALID_INPUT", "22018",
                "The value '%.100s' of the type \"STRING\" cannot be cast to \"%s\" because it "
                "is malformed (parameter '%s').",
                v, sl__emu_type_text(t), name);
            return false;
        }
        val = sl_xstrdup(t == EMU_T_STRING || t == EMU_T_NULL ? v : buf);
    } else if (jv && !json_is_null(jv)) {
        sl__sql_fail(p, EMU_E_INVALID, "INVALID_PARAMETER_VALUE", "22023",
                     "Parameter '%s': value must be a string.", name);
        return false;
    }
    p->binds = sl_xrealloc(p->binds, (size_t)(p->n_binds + 1) * sizeof(*p->binds));
    p->binds[p->n_binds] = (sql_param){sl_xstrdup(name), p->n_binds + 1, t, val};
    *idx = p->n_binds + 1;
    p->n_binds++;
    return true;
}

void sl__sql_params_apply(sql_parser *p, sqlite3_stmt *st)
{
    for (int k = 0; k < p->n_binds; k++) {
        const sql_param *b = &p->binds[k];
        if (!b->value) {
            sqlite3_bind_null(st, b->idx);
        } else if (b->type == EMU_T_INT || b->type == EMU_T_BIGINT || b->type == EMU_T_BOOLEAN) {
            sqlite3_bind_int64(st, b->idx, strtoll(b->value, NULL, 10));
        } else if (b->type == EMU_T_DOUBLE) {
            sqlite3_bind_double(st, b->idx, strtod(b->value, NULL));
        } else {
            sqlite3_bind_text(st, b->idx, b->value, -1, SQLITE_TRANSIENT);
        }
    }
}

/* ------------------------------------------------------------------ expressions */

static bool is_int_type(int t)
{
    return t == EMU_T_INT || t == EMU_T_BIGINT;
}

/* Emit x coerced from type `from` to `to` (string sides of comparisons, like ANSI Spark). */
static void emit_coerced(sl_buf *o, const char *x, int from, int to)
{
    if (from == EMU_T_STRING && to != EMU_T_STRING && to != EMU_T_NULL) {
        sl_buf_printf(o, "sl_cast(%s, '%s', 'STRING')", x,
                      sl__emu_type_text(sl__emu_type_is_numeric(to) ? EMU_T_DOUBLE : to));
        return;
    }
    sl_buf_puts(o, x);
}

static void emit_string_of(sl_buf *o, const char *x, int t)
{
    if (t == EMU_T_STRING || t == EMU_T_NULL || t == EMU_T_DATE)
        sl_buf_puts(o, x);
    else
        sl_buf_printf(o, "sl_cast(%s, 'STRING', '%s')", x, sl__emu_type_text(t));
}

static int parse_type_name(sql_parser *p, emu_type *out)
{
    sql_tok *t = cur(p);
    if (t->k != TK_IDENT || !sl__emu_type_parse(t->text, out)) {
        if (t->k == TK_IDENT) {
            char what[96];
            snprintf(what, sizeof(what), "type %s", t->text);
            return sl__sql_fail_unsupported(p, what);
        }
        return sl__sql_fail_syntax(p);
    }
    p->i++;
    if (accept_op(p, "(")) { /* DECIMAL(10,2), VARCHAR(20): precision is not modelled */
        while (!is_op(cur(p), ")") && cur(p)->k != TK_EOF)
            p->i++;
        if (!expect_op(p, ")"))
            return T_ERR;
    }
    return (int)*out;
}

static int p_cast(sql_parser *p, sl_buf *o, bool try_mode)
{
    p->i += 2; /* CAST ( */
    sl_buf x = {0};
    int t = sl__sql_expr(p, &x);
    emu_type to = EMU_T_STRING;
    if (t == T_ERR || !expect_kw(p, "AS") || parse_type_name(p, &to) == T_ERR ||
        !expect_op(p, ")")) {
        sl_buf_free(&x);
        return T_ERR;
    }
    if ((int)to == t || (to == EMU_T_STRING && t == EMU_T_NULL))
        sl_buf_puts(o, sl_buf_str(&x));
    else
        sl_buf_printf(o, "%s(%s, '%s', '%s')", try_mode ? "sl_try_cast" : "sl_cast", sl_buf_str(&x),
                      sl__emu_type_text(to),
                      sl__emu_type_text(t == EMU_T_NULL ? EMU_T_STRING : (emu_type)t));
    sl_buf_free(&x);
    return (int)to;
}

/* Parse comma-separated arguments up to ')', each into its own buffer. */
static int p_args(sql_parser *p, sl_buf *args, int *types, int max)
{
    int n = 0;
    if (accept_op(p, ")"))
        return 0;
    for (;;) {
        if (n >= max) {
            sl__sql_fail(p, EMU_E_INVALID, "WRONG_NUM_ARGS", "42605", "Too many arguments.");
            return -1;
        }
        types[n] = sl__sql_expr(p, &args[n]);
        if (types[n] == T_ERR)
            return -1;
        n++;
        if (accept_op(p, ")"))
            return n;
        if (!expect_op(p, ","))
            return -1;
    }
}

static int wrong_args(sql_parser *p, const char *fn, int got)
{
    return sl__sql_fail(
        p, EMU_E_INVALID, "WRONG_NUM_ARGS.WITHOUT_SUGGESTION", "42605",
        "The `%s` requires a different number of parameters but the actual number is %d.", fn, got);
}

static int p_func(sql_parser *p, sl_buf *o)
{
    char fn[64];
    snprintf(fn, sizeof(fn), "%s", cur(p)->text);
    sl__lower(fn);
    p->i += 2; /* name ( */
    if (strcmp(fn, "count") == 0) {
        p->has_agg = true;
        if (accept_op(p, "*")) {
            if (!expect_op(p, ")"))
                return T_ERR;
            sl_buf_puts(o, "count(*)");
            return EMU_T_BIGINT;
        }
        bool distinct = accept_kw(p, "DISTINCT");
        sl_buf x = {0};
        int t = sl__sql_expr(p, &x);
        if (t != T_ERR && expect_op(p, ")"))
            sl_buf_printf(o, "count(%s%s)", distinct ? "DISTINCT " : "", sl_buf_str(&x));
        else
            t = T_ERR;
        sl_buf_free(&x);
        return t == T_ERR ? T_ERR : EMU_T_BIGINT;
    }
    bool distinct = false;
    bool agg = strcmp(fn, "sum") == 0 || strcmp(fn, "avg") == 0 || strcmp(fn, "mean") == 0 ||
               strcmp(fn, "min") == 0 || strcmp(fn, "max") == 0 || strcmp(fn, "count_if") == 0;
    if (agg) {
        p->has_agg = true;
        distinct = accept_kw(p, "DISTINCT");
    }
    sl_buf a[8] = {{0}};
    int ty[8];
    int n = p_args(p, a, ty, 8);
    int rt = T_ERR;
    const char *d = distinct ? "DISTINCT " : "";
    if (n < 0)
        goto out;
#define ARGS(lo, hi)                                                                               \
    if (n < (lo) || n > (hi)) {                                                                    \
        rt = wrong_args(p, fn, n);                                                                 \
        goto out;                                                                                  \
    }
    if (strcmp(fn, "sum") == 0) {
        ARGS(1, 1);
        rt = is_int_type(ty[0]) || ty[0] == EMU_T_BOOLEAN ? EMU_T_BIGINT : EMU_T_DOUBLE;
        sl_buf_printf(o, "sum(%s", d);
        emit_coerced(o, sl_buf_str(&a[0]), ty[0], EMU_T_DOUBLE);
        sl_buf_puts(o, ")");
    } else if (strcmp(fn, "avg") == 0 || strcmp(fn, "mean") == 0) {
        ARGS(1, 1);
        rt = EMU_T_DOUBLE;
        sl_buf_printf(o, "avg(%s", d);
        emit_coerced(o, sl_buf_str(&a[0]), ty[0], EMU_T_DOUBLE);
        sl_buf_puts(o, ")");
    } else if (strcmp(fn, "min") == 0 || strcmp(fn, "max") == 0) {
        ARGS(1, 1);
        rt = ty[0];
        sl_buf_printf(o, "%s(%s%s)", fn, d, sl_buf_str(&a[0]));
    } else if (strcmp(fn, "count_if") == 0) {
        ARGS(1, 1);
        rt = EMU_T_BIGINT;
        sl_buf_printf(o, "count(CASE WHEN %s THEN 1 END)", sl_buf_str(&a[0]));
    } else if (strcmp(fn, "round") == 0 || strcmp(fn, "bround") == 0) {
        ARGS(1, 2);
        rt = ty[0] == EMU_T_STRING ? EMU_T_DOUBLE : ty[0];
        sl_buf x = {0};
        emit_coerced(&x, sl_buf_str(&a[0]), ty[0], EMU_T_DOUBLE);
        if (is_int_type(rt))
            sl_buf_printf(o, "CAST(round(%s, %s) AS INTEGER)", sl_buf_str(&x),
                          n > 1 ? sl_buf_str(&a[1]) : "0");
        else
            sl_buf_printf(o, "round(%s, %s)", sl_buf_str(&x), n > 1 ? sl_buf_str(&a[1]) : "0");
        sl_buf_free(&x);
    } else if (strcmp(fn, "nullif") == 0) {
        ARGS(2, 2);
        rt = ty[0];
        sl_buf_printf(o, "nullif(%s, ", sl_buf_str(&a[0]));
        emit_coerced(o, sl_buf_str(&a[1]), ty[1], ty[0]);
        sl_buf_puts(o, ")");
    } else if (strcmp(fn, "trim") == 0 || strcmp(fn, "ltrim") == 0 || strcmp(fn, "rtrim") == 0 ||
               strcmp(fn, "lower") == 0 || strcmp(fn, "upper") == 0 || strcmp(fn, "lcase") == 0 ||
               strcmp(fn, "ucase") == 0) {
        ARGS(1, 1);
        rt = EMU_T_STRING;
        const char *f = strcmp(fn, "lcase") == 0   ? "lower"
                        : strcmp(fn, "ucase") == 0 ? "upper"
                                                   : fn;
        sl_buf_printf(o, "%s(", f);
        emit_string_of(o, sl_buf_str(&a[0]), ty[0]);
        sl_buf_puts(o, ")");
    } else if (strcmp(fn, "length") == 0 || strcmp(fn, "char_length") == 0) {
        ARGS(1, 1);
        rt = EMU_T_INT;
        sl_buf_puts(o, "length(");
        emit_string_of(o, sl_buf_str(&a[0]), ty[0]);
        sl_buf_puts(o, ")");
    } else if (strcmp(fn, "substr") == 0 || strcmp(fn, "substring") == 0) {
        ARGS(2, 3);
        rt = EMU_T_STRING;
        sl_buf_puts(o, "substr(");
        emit_string_of(o, sl_buf_str(&a[0]), ty[0]);
        sl_buf_printf(o, ", %s%s%s)", sl_buf_str(&a[1]), n > 2 ? ", " : "",
                      n > 2 ? sl_buf_str(&a[2]) : "");
    } else if (strcmp(fn, "concat") == 0) {
        if (n < 1) {
            rt = wrong_args(p, fn, n);
            goto out;
        }
        rt = EMU_T_STRING;
        sl_buf_puts(o, "(");
        for (int k = 0; k < n; k++) {
            if (k)
                sl_buf_puts(o, " || ");
            emit_string_of(o, sl_buf_str(&a[k]), ty[k]);
        }
        sl_buf_puts(o, ")");
    } else if (strcmp(fn, "coalesce") == 0 || strcmp(fn, "ifnull") == 0 || strcmp(fn, "nvl") == 0) {
        if (n < 1) {
            rt = wrong_args(p, fn, n);
            goto out;
        }
        rt = EMU_T_NULL;
        for (int k = 0; k < n && rt == EMU_T_NULL; k++)
            rt = ty[k];
        sl_buf_puts(o, n == 1 ? "(" : "coalesce(");
        for (int k = 0; k < n; k++)
            sl_buf_printf(o, "%s%s", k ? ", " : "", sl_buf_str(&a[k]));
        sl_buf_puts(o, ")");
    } else if (strcmp(fn, "abs") == 0) {
        ARGS(1, 1);
        rt = ty[0] == EMU_T_STRING ? EMU_T_DOUBLE : ty[0];
        sl_buf_puts(o, "abs(");
        emit_coerced(o, sl_buf_str(&a[0]), ty[0], EMU_T_DOUBLE);
        sl_buf_puts(o, ")");
    } else if (strcmp(fn, "year") == 0 || strcmp(fn, "month") == 0 || strcmp(fn, "day") == 0 ||
               strcmp(fn, "dayofmonth") == 0) {
        ARGS(1, 1);
        rt = EMU_T_INT;
        int from = fn[0] == 'y' ? 1 : fn[0] == 'm' ? 6 : 9, len = fn[0] == 'y' ? 4 : 2;
        sl_buf_printf(
            o, "CAST(substr(sl_cast(%s, 'DATE', '%s'), %d, %d) AS INTEGER)", sl_buf_str(&a[0]),
            sl__emu_type_text(ty[0] == EMU_T_NULL ? EMU_T_STRING : (emu_type)ty[0]), from, len);
    } else if (strcmp(fn, "date_trunc") == 0) {
        ARGS(2, 2);
        rt = EMU_T_TIMESTAMP;
        sl_buf_printf(o, "sl_date_trunc(%s, %s)", sl_buf_str(&a[0]), sl_buf_str(&a[1]));
    } else if (strcmp(fn, "current_date") == 0 || strcmp(fn, "curdate") == 0) {
        ARGS(0, 0);
        rt = EMU_T_DATE;
        sl_buf_puts(o, "sl_today()");
    } else if (strcmp(fn, "current_timestamp") == 0 || strcmp(fn, "now") == 0) {
        ARGS(0, 0);
        rt = EMU_T_TIMESTAMP;
        sl_buf_puts(o, "sl_now()");
    } else {
        rt =
            sl__sql_fail(p, EMU_E_UNSUPPORTED, "UNRESOLVED_ROUTINE", "42883",
                         "Cannot resolve routine `%s` on search path [`system`.`builtin`, "
                         "`system`.`session`]: the Sluice emulator does not support this function.",
                         fn);
    }
#undef ARGS
out:
    for (int k = 0; k < 8; k++)
        sl_buf_free(&a[k]);
    return rt;
}

static int p_case(sql_parser *p, sl_buf *o)
{
    p->i++; /* CASE */
    int rt = EMU_T_NULL;
    sl_buf_puts(o, "(CASE");
    if (!is_kw(cur(p), "WHEN")) {
        sl_buf_putc(o, ' ');
        if (sl__sql_expr(p, o) == T_ERR)
            return T_ERR;
    }
    while (accept_kw(p, "WHEN")) {
        sl_buf_puts(o, " WHEN ");
        if (sl__sql_expr(p, o) == T_ERR || !expect_kw(p, "THEN"))
            return T_ERR;
        sl_buf_puts(o, " THEN ");
        int t = sl__sql_expr(p, o);
        if (t == T_ERR)
            return T_ERR;
        if (rt == EMU_T_NULL)
            rt = t;
    }
    if (accept_kw(p, "ELSE")) {
        sl_buf_puts(o, " ELSE ");
        int t = sl__sql_expr(p, o);
        if (t == T_ERR)
            return T_ERR;
        if (rt == EMU_T_NULL)
            rt = t;
    }
    if (!expect_kw(p, "END"))
        return T_ERR;
    sl_buf_puts(o, " END)");
    return rt;
}

static int resolve_column(sql_parser *p, sl_buf *o, char **parts, int n)
{
    const char *name = parts[n - 1];
    int src = -1;
    if (n > 1) {
        const char *q = parts[n - 2];
        src = sl__sql_src_find(p, q);
        if (src < 0 || n > 4)
            return sl__sql_fail(
                p, EMU_E_INVALID, "UNRESOLVED_COLUMN.WITHOUT_SUGGESTION", "42703",
                "A column, variable, or function parameter with name `%s`.`%s` cannot "
                "be resolved.",
                q, name);
    }
    int hit = -1, n_hits = 0;
    for (int k = 0; k < p->n_cols; k++) {
        if ((src < 0 || p->col_src[k] == src) && strcasecmp(p->cols[k].name, name) == 0) {
            if (hit < 0)
                hit = k;
            n_hits++;
        }
    }
    if (n_hits > 1) {
        sl_buf all = {0};
        for (int k = 0; k < p->n_cols; k++)
            if (strcasecmp(p->cols[k].name, name) == 0) {
                const sql_src *fs = &p->srcs[p->col_src[k]];
                sl_buf_printf(&all, "%s`%s`.`%s`", sl_buf_str(&all)[0] ? ", " : "",
                              fs->alias ? fs->alias : fs->name, p->cols[k].name);
            }
        sl__sql_fail(p, EMU_E_INVALID, "AMBIGUOUS_REFERENCE", "42704",
                     "Reference `%s` is ambiguous, could be: [%s].", name, sl_buf_str(&all));
        sl_buf_free(&all);
        return T_ERR;
    }
    if (hit >= 0) {
        sl__sql_col_put(p, o, hit);
        return (int)p->cols[hit].type;
    }
    if (p->allow_alias && n == 1) {
        for (int k = 0; k < p->n_outs; k++) {
            if (strcasecmp(p->outs[k].name, name) == 0) {
                sl__sql_put_ident(o, p->outs[k].name);
                return (int)p->outs[k].type;
            }
        }
    }
    sl_buf sug = {0};
    for (int k = 0; k < p->n_cols && k < 5; k++)
        sl_buf_printf(&sug, "%s`%s`", k ? ", " : "", p->cols[k].name);
    sl__sql_fail(
        p, EMU_E_INVALID, "UNRESOLVED_COLUMN.WITH_SUGGESTION", "42703",
        "A column, variable, or function parameter with name `%s` cannot be resolved. Did you "
        "mean one of the following? [%s].",
        name, sl_buf_str(&sug));
    sl_buf_free(&sug);
    return T_ERR;
}

static int p_primary(sql_parser *p, sl_buf *o)
{
    sql_tok *t = cur(p);
    switch (t->k) {
    case TK_NUMBER: {
        p->i++;
        bool integral = strpbrk(t->text, ".eE") == NULL;
        sl_buf_puts(o, t->text);
        if (!integral)
            return EMU_T_DOUBLE;
        int64_t v;
        if (!sl__emu_parse_bigint(t->text, &v))
            return EMU_T_DOUBLE;
        return v > INT32_MAX ? EMU_T_BIGINT : EMU_T_INT;
    }
    case TK_STRING:
        p->i++;
        sl__sql_put_literal(o, t->text);
        return EMU_T_STRING;
    case TK_PARAM: {
        int idx;
        if (!sl__sql_param_bind(p, t->text, &idx))
            return T_ERR;
        p->i++;
        sl_buf_printf(o, "?%d", idx);
        return (int)sl__sql_param_find(p, t->text)->type;
    }
    case TK_OP:
        if (is_op(t, "(")) {
            p->i++;
            if (is_kw(cur(p), "SELECT"))
                return sl__sql_fail_unsupported(p, "a subquery");
            sl_buf_putc(o, '(');
            int ty = sl__sql_expr(p, o);
            if (ty == T_ERR || !expect_op(p, ")"))
                return T_ERR;
            sl_buf_putc(o, ')');
            return ty;
        }
        return sl__sql_fail_syntax(p);
    case TK_IDENT:
        if (is_kw(t, "NULL")) {
            p->i++;
            sl_buf_puts(o, "NULL");
            return EMU_T_NULL;
        }
        if (is_kw(t, "TRUE") || is_kw(t, "FALSE")) {
            p->i++;
            sl_buf_puts(o, is_kw(t, "TRUE") ? "1" : "0");
            return EMU_T_BOOLEAN;
        }
        if (is_kw(t, "CASE"))
            return p_case(p, o);
        if ((is_kw(t, "CURRENT_DATE") || is_kw(t, "CURRENT_TIMESTAMP")) &&
            !is_op(peek_at(p, 1), "(")) {
            p->i++;
            sl_buf_puts(o, is_kw(t, "CURRENT_DATE") ? "sl_today()" : "sl_now()");
            return is_kw(t, "CURRENT_DATE") ? EMU_T_DATE : EMU_T_TIMESTAMP;
        }
        if ((is_kw(t, "DATE") || is_kw(t, "TIMESTAMP")) && peek_at(p, 1)->k == TK_STRING) {
            bool date = is_kw(t, "DATE");
            char buf[32];
            const char *v = peek_at(p, 1)->text;
            if (date ? !sl__emu_parse_date(v, buf) : !sl__emu_parse_timestamp(v, buf))
                return sl__sql_fail(p, EMU_E_PARSE, "INVALID_TYPED_LITERAL", "42604",
                                    "The value of the typed literal \"%s\" is invalid: '%s'.",
                                    date ? "DATE" : "TIMESTAMP", v);
            p->i += 2;
            sl__sql_put_literal(o, buf);
            return date ? EMU_T_DATE : EMU_T_TIMESTAMP;
        }
        if (is_op(peek_at(p, 1), "(")) {
            if (is_kw(t, "CAST") || is_kw(t, "TRY_CAST"))
                return p_cast(p, o, is_kw(t, "TRY_CAST"));
            return p_func(p, o);
        }
        /* fall through: a column */
        /* FALLTHROUGH */
    case TK_QIDENT: {
        char *parts[4] = {0};
        int n = 0;
        for (;;) {
            parts[n++] = cur(p)->text;
            p->i++;
            if (n < 4 && is_op(cur(p), ".") && is_name_tok(peek_at(p, 1))) {
                p->i++;
                continue;
            }
            break;
        }
        return resolve_column(p, o, parts, n);
    }
    default:
        return sl__sql_fail_syntax(p);
    }
}

static int p_unary(sql_parser *p, sl_buf *o)
{
    if (is_op(cur(p), "-") || is_op(cur(p), "+")) {
        bool neg = is_op(cur(p), "-");
        p->i++;
        sl_buf x = {0};
        int t = p_unary(p, &x);
        if (t != T_ERR) {
            sl_buf_puts(o, neg ? "(-" : "(+");
            emit_coerced(o, sl_buf_str(&x), t, EMU_T_DOUBLE);
            sl_buf_putc(o, ')');
        }
        sl_buf_free(&x);
        return t == EMU_T_STRING ? EMU_T_DOUBLE : t;
    }
    return p_primary(p, o);
}

static int arith_type(int a, int b)
{
    if (a == EMU_T_NULL)
        return b == EMU_T_STRING ? EMU_T_DOUBLE : b;
    if (b == EMU_T_NULL)
        return a == EMU_T_STRING ? EMU_T_DOUBLE : a;
    if (a == EMU_T_DOUBLE || b == EMU_T_DOUBLE || a == EMU_T_STRING || b == EMU_T_STRING)
        return EMU_T_DOUBLE;
    if (a == EMU_T_INT && b == EMU_T_INT)
        return EMU_T_INT;
    return EMU_T_BIGINT;
}

/* Binary arithmetic level: ops are the tokens accepted, next the lower level. */
static int p_binary(sql_parser *p, sl_buf *o, const char *const *ops,
                    int (*next)(sql_parser *, sl_buf *))
{
    sl_buf l = {0};
    int lt = next(p, &l);
    for (;;) {
        const char *op = NULL;
        for (int k = 0; ops[k] && lt != T_ERR; k++)
            if (is_op(cur(p), ops[k]))
                op = ops[k];
        if (!op)
            break;
        p->i++;
        sl_buf r = {0};
        int rt = next(p, &r);
        if (rt == T_ERR) {
            lt = T_ERR;
            sl_buf_free(&r);
            break;
        }
        sl_buf n = {0};
        if (strcmp(op, "||") == 0) {
            sl_buf_putc(&n, '(');
            emit_string_of(&n, sl_buf_str(&l), lt);
            sl_buf_puts(&n, " || ");
            emit_string_of(&n, sl_buf_str(&r), rt);
            sl_buf_putc(&n, ')');
            lt = EMU_T_STRING;
        } else {
            int ty = strcmp(op, "/") == 0 ? EMU_T_DOUBLE : arith_type(lt, rt);
            sl_buf_putc(&n, '(');
            if (strcmp(op, "/") == 0)
                sl_buf_puts(&n, "CAST(");
            emit_coerced(&n, sl_buf_str(&l), lt, EMU_T_DOUBLE);
            sl_buf_printf(&n, "%s %s ", strcmp(op, "/") == 0 ? " AS REAL)" : "", op);
            emit_coerced(&n, sl_buf_str(&r), rt, EMU_T_DOUBLE);
            sl_buf_putc(&n, ')');
            lt = ty;
        }
        sl_buf_free(&l);
        sl_buf_free(&r);
        l = n;
    }
    if (lt != T_ERR)
        sl_buf_puts(o, sl_buf_str(&l));
    sl_buf_free(&l);
    return lt;
}

static int p_mul(sql_parser *p, sl_buf *o)
{
    static const char *const ops[] = {"*", "/", "%", NULL};
    return p_binary(p, o, ops, p_unary);
}

static int p_add(sql_parser *p, sl_buf *o)
{
    static const char *const ops[] = {"+", "-", "||", NULL};
    return p_binary(p, o, ops, p_mul);
}

/* Comparison target type for two operands. */
static int cmp_target(int a, int b)
{
    if (a == EMU_T_STRING && b != EMU_T_STRING)
        return b;
    return a;
}

static void emit_cmp_side(sl_buf *o, const char *x, int t, int other)
{
    if (t == EMU_T_STRING && other != EMU_T_STRING && other != EMU_T_NULL)
        emit_coerced(o, x, t, cmp_target(t, other));
    else
        sl_buf_puts(o, x);
}

static int p_pred(sql_parser *p, sl_buf *o)
{
    sl_buf l = {0};
    int lt = p_add(p, &l);
    int rt_out = lt;
    if (lt == T_ERR)
        goto out;
    static const char *cmps[] = {"=", "==", "<>", "!=", "<", "<=", ">", ">=", "<=>", NULL};
    for (int k = 0; cmps[k]; k++) {
        if (!is_op(cur(p), cmps[k]))
            continue;
        p->i++;
        sl_buf r = {0};
        int rt = p_add(p, &r);
        if (rt == T_ERR) {
            sl_buf_free(&r);
            rt_out = T_ERR;
            goto out;
        }
        const char *op = cmps[k];
        if (strcmp(op, "==") == 0)
            op = "=";
        else if (strcmp(op, "!=") == 0)
            op = "<>";
        else if (strcmp(op, "<=>") == 0)
            op = "IS";
        sl_buf_putc(o, '(');
        emit_cmp_side(o, sl_buf_str(&l), lt, rt);
        sl_buf_printf(o, " %s ", op);
        emit_cmp_side(o, sl_buf_str(&r), rt, lt);
        sl_buf_putc(o, ')');
        sl_buf_free(&r);
        rt_out = EMU_T_BOOLEAN;
        goto out;
    }
    if (accept_kw(p, "IS")) {
        bool neg = accept_kw(p, "NOT");
        if (accept_kw(p, "NULL")) {
            sl_buf_printf(o, "(%s IS %sNULL)", sl_buf_str(&l), neg ? "NOT " : "");
        } else if (accept_kw(p, "TRUE") || accept_kw(p, "FALSE")) {
            bool tv = is_kw(&p->lx.t[p->i - 1], "TRUE");
            sl_buf_printf(o, "(%s IS %s%d)", sl_buf_str(&l), neg ? "NOT " : "", tv);
        } else {
            rt_out = sl__sql_fail_syntax(p);
            goto out;
        }
        rt_out = EMU_T_BOOLEAN;
        goto out;
    }
    bool neg = false;
    if (is_kw(cur(p), "NOT") && (is_kw(peek_at(p, 1), "IN") || is_kw(peek_at(p, 1), "BETWEEN") ||
                                 is_kw(peek_at(p, 1), "LIKE") || is_kw(peek_at(p, 1), "ILIKE"))) {
        p->i++;
        neg = true;
    }
    if (accept_kw(p, "IN")) {
        if (!expect_op(p, "(")) {
            rt_out = T_ERR;
            goto out;
        }
        if (is_kw(cur(p), "SELECT")) {
            rt_out = sl__sql_fail_unsupported(p, "IN (subquery)");
            goto out;
        }
        sl_buf_printf(o, "(%s %sIN (", sl_buf_str(&l), neg ? "NOT " : "");
        for (int k = 0;; k++) {
            sl_buf x = {0};
            int xt = sl__sql_expr(p, &x);
            if (xt == T_ERR) {
                sl_buf_free(&x);
                rt_out = T_ERR;
                goto out;
            }
            if (k)
                sl_buf_puts(o, ", ");
            emit_cmp_side(o, sl_buf_str(&x), xt, lt);
            sl_buf_free(&x);
            if (accept_op(p, ")"))
                break;
            if (!expect_op(p, ",")) {
                rt_out = T_ERR;
                goto out;
            }
        }
        sl_buf_puts(o, "))");
        rt_out = EMU_T_BOOLEAN;
    } else if (accept_kw(p, "BETWEEN")) {
        sl_buf a = {0}, b = {0};
        int at = p_add(p, &a);
        int bt = at == T_ERR || !expect_kw(p, "AND") ? T_ERR : p_add(p, &b);
        if (bt != T_ERR) {
            sl_buf_printf(o, "(%s %sBETWEEN ", sl_buf_str(&l), neg ? "NOT " : "");
            emit_cmp_side(o, sl_buf_str(&a), at, lt);
            sl_buf_puts(o, " AND ");
            emit_cmp_side(o, sl_buf_str(&b), bt, lt);
            sl_buf_putc(o, ')');
        }
        sl_buf_free(&a);
        sl_buf_free(&b);
        rt_out = bt == T_ERR ? T_ERR : EMU_T_BOOLEAN;
    } else if (is_kw(cur(p), "LIKE") || is_kw(cur(p), "ILIKE")) {
        bool ci = is_kw(cur(p), "ILIKE");
        p->i++;
        sl_buf r = {0};
        int rt = p_add(p, &r);
        if (rt != T_ERR) {
            if (ci)
                sl_buf_printf(o, "(lower(%s) %sLIKE lower(%s))", sl_buf_str(&l), neg ? "NOT " : "",
                              sl_buf_str(&r));
            else
                sl_buf_printf(o, "(%s %sLIKE %s)", sl_buf_str(&l), neg ? "NOT " : "",
                              sl_buf_str(&r));
        }
        sl_buf_free(&r);
        rt_out = rt == T_ERR ? T_ERR : EMU_T_BOOLEAN;
    } else {
        sl_buf_puts(o, sl_buf_str(&l));
    }
out:
    sl_buf_free(&l);
    return rt_out;
}

static int p_not(sql_parser *p, sl_buf *o)
{
    if (accept_kw(p, "NOT")) {
        sl_buf_puts(o, "(NOT ");
        if (p_not(p, o) == T_ERR)
            return T_ERR;
        sl_buf_putc(o, ')');
        return EMU_T_BOOLEAN;
    }
    return p_pred(p, o);
}

static int p_logic(sql_parser *p, sl_buf *o, const char *kw, int (*next)(sql_parser *, sl_buf *))
{
    sl_buf l = {0};
    int t = next(p, &l);
    bool any = false;
    while (t != T_ERR && accept_kw(p, kw)) {
        if (!any)
            sl_buf_putc(o, '(');
        any = true;
        sl_buf_printf(o, "%s %s ", sl_buf_str(&l), kw);
        sl_buf_free(&l);
        t = next(p, &l);
    }
    if (t != T_ERR) {
        sl_buf_puts(o, sl_buf_str(&l));
        if (any) {
            sl_buf_putc(o, ')');
            t = EMU_T_BOOLEAN;
        }
    }
    sl_buf_free(&l);
    return t;
}

static int p_and(sql_parser *p, sl_buf *o)
{
    return p_logic(p, o, "AND", p_not);
}

int sl__sql_expr(sql_parser *p, sl_buf *o)
{
    if (p->failed)
        return T_ERR;
    return p_logic(p, o, "OR", p_and);
}

/* A value of type `from` stored into a column of type `to`, cast as Spark's store assignment
 * does (a value that does not convert fails the statement). */
void sl__sql_emit_store(sl_buf *o, const char *x, int from, emu_type to)
{
    if (from == (int)to || from == EMU_T_NULL || (is_int_type(from) && is_int_type((int)to)))
        sl_buf_puts(o, x);
    else if (to == EMU_T_STRING)
        emit_string_of(o, x, from);
    else
        sl_buf_printf(o, "sl_cast(%s, '%s', '%s')", x, sl__emu_type_text(to),
                      sl__emu_type_text((emu_type)from));
}
