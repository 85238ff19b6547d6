/*
 * sql_expr.c - expressions: literals, columns (resolved against the FROM scope, aliases in
 * ORDER BY/GROUP BY/HAVING), :parameters (typed and validated once, bound by number),
 * CAST/TRY_CAST, CASE, arithmetic, comparisons, IN/BETWEEN/LIKE/ILIKE, NOT/AND/OR, and
 * SQL function calls (a sorted table, one row per function). Each level emits SQLite text
 * and returns the Databricks type; strings meeting other types are cast as ANSI Spark does
 * (sl_cast).
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

/* ------------------------------------------------------------------ functions */

#define FN_MAX_ARGS 8 /* more fail in p_args: "Too many arguments." */

/* A call's parsed arguments, as an emitter sees them. */
typedef struct fn_call {
    const sl_buf *a;      /* SQLite text of each argument */
    const int *ty;        /* and its type */
    int n;                /* within the row's arity bounds */
    const char *distinct; /* "DISTINCT " or "" (only aggregates take DISTINCT) */
} fn_call;

typedef struct sql_fn sql_fn;

/* SQL functions, one row each, sorted by name for bsearch. A row either parses its own
 * argument list (parse; count, for count(*) and count(DISTINCT x)) or has p_func parse up to
 * FN_MAX_ARGS arguments, check them against [min_args, max_args] and call emit, which
 * appends the SQLite text and returns the result type. */
struct sql_fn {
    const char *name; /* lower case */
    int min_args, max_args;
    bool agg;           /* aggregate: takes DISTINCT, makes the SELECT an aggregate */
    const char *sqlite; /* the SQLite function an emitter shared by several rows calls */
    int (*emit)(const sql_fn *f, const fn_call *c, sl_buf *o);
    int (*parse)(sql_parser *p, sl_buf *o); /* after "name(", through ")" */
};

static const char *arg(const fn_call *c, int k)
{
    return sl_buf_str(&c->a[k]);
}

/* count(*) | count([DISTINCT] expr) */
static int fn_count(sql_parser *p, sl_buf *o)
{
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

static int fn_sum(const sql_fn *f, const fn_call *c, sl_buf *o)
{
    (void)f;
    sl_buf_printf(o, "sum(%s", c->distinct);
    emit_coerced(o, arg(c, 0), c->ty[0], EMU_T_DOUBLE);
    sl_buf_puts(o, ")");
    return is_int_type(c->ty[0]) || c->ty[0] == EMU_T_BOOLEAN ? EMU_T_BIGINT : EMU_T_DOUBLE;
}

static int fn_avg(const sql_fn *f, const fn_call *c, sl_buf *o)
{
    (void)f;
    sl_buf_printf(o, "avg(%s", c->distinct);
    emit_coerced(o, arg(c, 0), c->ty[0], EMU_T_DOUBLE);
    sl_buf_puts(o, ")");
    return EMU_T_DOUBLE;
}

/* min, max: the argument's type. */
static int fn_extreme(const sql_fn *f, const fn_call *c, sl_buf *o)
{
    sl_buf_printf(o, "%s(%s%s)", f->sqlite, c->distinct, arg(c, 0));
    return c->ty[0];
}

static int fn_count_if(const sql_fn *f, const fn_call *c, sl_buf *o)
{
    (void)f;
    sl_buf_printf(o, "count(CASE WHEN %s THEN 1 END)", arg(c, 0));
    return EMU_T_BIGINT;
}

/* round, bround (HALF_EVEN is not modelled): integers stay integers. */
static int fn_round(const sql_fn *f, const fn_call *c, sl_buf *o)
{
    (void)f;
    int rt = c->ty[0] == EMU_T_STRING ? EMU_T_DOUBLE : c->ty[0];
    sl_buf x = {0};
    emit_coerced(&x, arg(c, 0), c->ty[0], EMU_T_DOUBLE);
    if (is_int_type(rt))
        sl_buf_printf(o, "CAST(round(%s, %s) AS INTEGER)", sl_buf_str(&x),
                      c->n > 1 ? arg(c, 1) : "0");
    else
        sl_buf_printf(o, "round(%s, %s)", sl_buf_str(&x), c->n > 1 ? arg(c, 1) : "0");
    sl_buf_free(&x);
    return rt;
}

static int fn_nullif(const sql_fn *f, const fn_call *c, sl_buf *o)
{
    (void)f;
    sl_buf_printf(o, "nullif(%s, ", arg(c, 0));
    emit_coerced(o, arg(c, 1), c->ty[1], c->ty[0]);
    sl_buf_puts(o, ")");
    return c->ty[0];
}

/* trim, ltrim, rtrim, lower (lcase), upper (ucase): one string in, a string out. */
static int fn_string(const sql_fn *f, const fn_call *c, sl_buf *o)
{
    sl_buf_printf(o, "%s(", f->sqlite);
    emit_string_of(o, arg(c, 0), c->ty[0]);
    sl_buf_puts(o, ")");
    return EMU_T_STRING;
}

static int fn_length(const sql_fn *f, const fn_call *c, sl_buf *o)
{
    (void)f;
    sl_buf_puts(o, "length(");
    emit_string_of(o, arg(c, 0), c->ty[0]);
    sl_buf_puts(o, ")");
    return EMU_T_INT;
}

static int fn_substr(const sql_fn *f, const fn_call *c, sl_buf *o)
{
    (void)f;
    sl_buf_puts(o, "substr(");
    emit_string_of(o, arg(c, 0), c->ty[0]);
    sl_buf_printf(o, ", %s%s%s)", arg(c, 1), c->n > 2 ? ", " : "", c->n > 2 ? arg(c, 2) : "");
    return EMU_T_STRING;
}

static int fn_concat(const sql_fn *f, const fn_call *c, sl_buf *o)
{
    (void)f;
    sl_buf_puts(o, "(");
    for (int k = 0; k < c->n; k++) {
        if (k)
            sl_buf_puts(o, " || ");
        emit_string_of(o, arg(c, k), c->ty[k]);
    }
    sl_buf_puts(o, ")");
    return EMU_T_STRING;
}

/* coalesce, ifnull, nvl: the type of the first argument that is not a bare NULL. */
static int fn_coalesce(const sql_fn *f, const fn_call *c, sl_buf *o)
{
    (void)f;
    int rt = EMU_T_NULL;
    for (int k = 0; k < c->n && rt == EMU_T_NULL; k++)
        rt = c->ty[k];
    sl_buf_puts(o, c->n == 1 ? "(" : "coalesce(");
    for (int k = 0; k < c->n; k++)
        sl_buf_printf(o, "%s%s", k ? ", " : "", arg(c, k));
    sl_buf_puts(o, ")");
    return rt;
}

static int fn_abs(const sql_fn *f, const fn_call *c, sl_buf *o)
{
    (void)f;
    sl_buf_puts(o, "abs(");
    emit_coerced(o, arg(c, 0), c->ty[0], EMU_T_DOUBLE);
    sl_buf_puts(o, ")");
    return c->ty[0] == EMU_T_STRING ? EMU_T_DOUBLE : c->ty[0];
}

/* year, month, day, dayofmonth: a field of the argument's DATE text (YYYY-MM-DD). */
static int fn_date_part(const sql_fn *f, const fn_call *c, sl_buf *o)
{
    int from = f->name[0] == 'y' ? 1 : f->name[0] == 'm' ? 6 : 9;
    int len = f->name[0] == 'y' ? 4 : 2;
    sl_buf_printf(o, "CAST(substr(sl_cast(%s, 'DATE', '%s'), %d, %d) AS INTEGER)", arg(c, 0),
                  sl__emu_type_text(c->ty[0] == EMU_T_NULL ? EMU_T_STRING : (emu_type)c->ty[0]),
                  from, len);
    return EMU_T_INT;
}

static int fn_date_trunc(const sql_fn *f, const fn_call *c, sl_buf *o)
{
    (void)f;
    sl_buf_printf(o, "sl_date_trunc(%s, %s)", arg(c, 0), arg(c, 1));
    return EMU_T_TIMESTAMP;
}

/* current_date, curdate */
static int fn_today(const sql_fn *f, const fn_call *c, sl_buf *o)
{
    (void)f;
    (void)c;
    sl_buf_puts(o, "sl_today()");
    return EMU_T_DATE;
}

/* current_timestamp, now */
static int fn_now(const sql_fn *f, const fn_call *c, sl_buf *o)
{
    (void)f;
    (void)c;
    sl_buf_puts(o, "sl_now()");
    return EMU_T_TIMESTAMP;
}

#define ANY FN_MAX_ARGS /* as many as p_args takes */
static const sql_fn fns[] = {
    {"abs", 1, 1, false, NULL, fn_abs, NULL},
    {"avg", 1, 1, true, NULL, fn_avg, NULL},
    {"bround", 1, 2, false, NULL, fn_round, NULL},
    {"char_length", 1, 1, false, NULL, fn_length, NULL},
    {"coalesce", 1, ANY, false, NULL, fn_coalesce, NULL},
    {"concat", 1, ANY, false, NULL, fn_concat, NULL},
    {"count", 0, 0, true, NULL, NULL, fn_count}, /* arity: fn_count's own parse */
    {"count_if", 1, 1, true, NULL, fn_count_if, NULL},
    {"curdate", 0, 0, false, NULL, fn_today, NULL},
    {"current_date", 0, 0, false, NULL, fn_today, NULL},
    {"current_timestamp", 0, 0, false, NULL, fn_now, NULL},
    {"date_trunc", 2, 2, false, NULL, fn_date_trunc, NULL},
    {"day", 1, 1, false, NULL, fn_date_part, NULL},
    {"dayofmonth", 1, 1, false, NULL, fn_date_part, NULL},
    {"ifnull", 1, ANY, false, NULL, fn_coalesce, NULL},
    {"lcase", 1, 1, false, "lower", fn_string, NULL},
    {"length", 1, 1, false, NULL, fn_length, NULL},
    {"lower", 1, 1, false, "lower", fn_string, NULL},
    {"ltrim", 1, 1, false, "ltrim", fn_string, NULL},
    {"max", 1, 1, true, "max", fn_extreme, NULL},
    {"mean", 1, 1, true, NULL, fn_avg, NULL},
    {"min", 1, 1, true, "min", fn_extreme, NULL},
    {"month", 1, 1, false, NULL, fn_date_part, NULL},
    {"now", 0, 0, false, NULL, fn_now, NULL},
    {"nullif", 2, 2, false, NULL, fn_nullif, NULL},
    {"nvl", 1, ANY, false, NULL, fn_coalesce, NULL},
    {"round", 1, 2, false, NULL, fn_round, NULL},
    {"rtrim", 1, 1, false, "rtrim", fn_string, NULL},
    {"substr", 2, 3, false, NULL, fn_substr, NULL},
    {"substring", 2, 3, false, NULL, fn_substr, NULL},
    {"sum", 1, 1, true, NULL, fn_sum, NULL},
    {"trim", 1, 1, false, "trim", fn_string, NULL},
    {"ucase", 1, 1, false, "upper", fn_string, NULL},
    {"upper", 1, 1, false, "upper", fn_string, NULL},
    {"year", 1, 1, false, NULL, fn_date_part, NULL},
};
#undef ANY

static int fn_cmp(const void *key, const void *row)
{
    return strcmp(key, ((const sql_fn *)row)->name);
}

/* name( args ) at the current token. The arguments are parsed before an unknown name is
 * refused, so an error inside them is the one reported. */
static int p_func(sql_parser *p, sl_buf *o)
{
    char name[64];
    snprintf(name, sizeof(name), "%s", cur(p)->text);
    sl__lower(name);
    p->i += 2; /* name ( */
    const sql_fn *f = bsearch(name, fns, sizeof(fns) / sizeof(fns[0]), sizeof(fns[0]), fn_cmp);
    if (f && f->agg)
        p->has_agg = true;
    if (f && f->parse)
        return f->parse(p, o);
    bool distinct = f && f->agg && accept_kw(p, "DISTINCT");
    sl_buf a[FN_MAX_ARGS] = {{0}};
    int ty[FN_MAX_ARGS];
    int n = p_args(p, a, ty, FN_MAX_ARGS);
    int rt = T_ERR;
    if (n < 0) {
        /* failure recorded */
    } else if (!f) {
        rt = sl__sql_fail(p, EMU_E_UNSUPPORTED, "UNRESOLVED_ROUTINE", "42883",
                          "Cannot resolve routine `%s` on search path [`system`.`builtin`, "
                          "`system`.`session`]: the Sluice emulator does not support this "
                          "function.",
                          name);
    } else if (n < f->min_args || n > f->max_args) {
        rt = wrong_args(p, name, n);
    } else {
        fn_call c = {a, ty, n, distinct ? "DISTINCT " : ""};
        rt = f->emit(f, &c, o);
    }
    for (int k = 0; k < FN_MAX_ARGS; k++)
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
