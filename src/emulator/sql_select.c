/*
 * sql_select.c - SELECT: the FROM clause (a catalog table or read_files(...), then INNER,
 * LEFT/RIGHT/FULL [OUTER], CROSS and comma joins of catalog tables, with aliases), the
 * scope of columns it builds (qualified "sN"."col" once there is a join), the select list
 * (*, t.*, expressions named as Databricks names them), WHERE, GROUP BY, HAVING, ORDER BY
 * and LIMIT/OFFSET. Subqueries and set operations are refused as unsupported.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sql_int.h"

/* ------------------------------------------------------------------ scope */

/* The source a qualifier names (its alias, or its table name), or -1. */
int sl__sql_src_find(sql_parser *p, const char *q)
{
    for (int k = 0; k < p->n_src; k++)
        if ((p->srcs[k].alias && strcasecmp(q, p->srcs[k].alias) == 0) ||
            (p->srcs[k].name && strcasecmp(q, p->srcs[k].name) == 0))
            return k;
    return -1;
}

/* Scope column k as SQLite text: qualified by its source once the FROM clause has a JOIN. */
void sl__sql_col_put(sql_parser *p, sl_buf *o, int k)
{
    if (p->n_src > 1)
        sl_buf_printf(o, "\"s%d\".", p->col_src[k]);
    sl__sql_put_ident(o, p->cols[k].name);
}

void sl__sql_scope_add(sql_parser *p, const char *name, emu_type t)
{
    p->cols = sl_xrealloc(p->cols, (size_t)(p->n_cols + 1) * sizeof(*p->cols));
    p->cols[p->n_cols].name = sl_xstrdup(name);
    p->cols[p->n_cols].type = t;
    p->col_src = sl_xrealloc(p->col_src, (size_t)(p->n_cols + 1) * sizeof(*p->col_src));
    p->col_src[p->n_cols] = p->n_src > 0 ? p->n_src - 1 : 0;
    p->n_cols++;
}

/* ------------------------------------------------------------------ FROM */

/* A catalog table as a FROM source: its columns join the scope (as source p->n_src - 1);
 * *sql gets its quoted SQLite name and *name the table name. */
static bool p_table_source(sql_parser *p, char **sql, char **name)
{
    sql_qname q = {0};
    if (!sl__sql_qname_parse(p, 3, &q))
        return false;
    emu_table_info ti;
    emu_err te = {0};
    if (!sl__emu_uc_table_get(p->db, q.c, q.s, q.t, &ti, &te)) {
        sl__sql_fail(p, te.kind == EMU_E_NOT_FOUND ? EMU_E_INVALID : te.kind,
                     te.kind == EMU_E_NOT_FOUND ? "TABLE_OR_VIEW_NOT_FOUND" : te.cls,
                     te.kind == EMU_E_NOT_FOUND ? "42P01" : te.sqlstate,
                     "The table or view `%s`.`%s`.`%s` cannot be found. Verify the spelling and "
                     "correctness of the schema and catalog.",
                     q.c, q.s, q.t);
        sl__sql_qname_free(&q);
        return false;
    }
    for (int k = 0; k < ti.n_cols; k++)
        sl__sql_scope_add(p, ti.cols[k].name, ti.cols[k].type);
    sl__emu_table_info_free(&ti);
    char *phys = sl__emu_phys_name(q.c, q.s, q.t);
    sl_buf sb = {0};
    sl__sql_put_ident(&sb, phys);
    free(phys);
    *sql = sl_buf_take(&sb);
    *name = sl_xstrdup(q.t);
    sl__sql_qname_free(&q);
    return true;
}

static bool is_join_kw(sql_tok *t)
{
    return is_kw(t, "JOIN") || is_kw(t, "INNER") || is_kw(t, "LEFT") || is_kw(t, "RIGHT") ||
           is_kw(t, "FULL") || is_kw(t, "CROSS") || is_kw(t, "NATURAL") || is_kw(t, "SEMI") ||
           is_kw(t, "ANTI");
}

/* [AS] alias after a source, unless the next word starts a clause or a join. */
static bool p_source_alias(sql_parser *p, char **alias)
{
    *alias = NULL;
    bool as = accept_kw(p, "AS");
    static const char *stops[] = {"WHERE",  "GROUP", "HAVING", "ORDER", "LIMIT", "UNION",
                                  "OFFSET", "ON",    "USING",  "SET",   NULL};
    if (is_name_tok(cur(p))) {
        bool stop = !as && is_join_kw(cur(p));
        for (int k = 0; !as && stops[k]; k++)
            if (is_kw(cur(p), stops[k]))
                stop = true;
        if (!stop) {
            *alias = sl_xstrdup(cur(p)->text);
            p->i++;
            return true;
        }
    }
    if (as)
        return sl__sql_fail_syntax(p), false;
    return true;
}

static void src_push(sql_parser *p, const char *name, const char *alias)
{
    p->srcs = sl_xrealloc(p->srcs, (size_t)(p->n_src + 1) * sizeof(*p->srcs));
    p->srcs[p->n_src].name = name ? sl_xstrdup(name) : NULL;
    p->srcs[p->n_src].alias = alias ? sl_xstrdup(alias) : NULL;
    p->n_src++;
}

/*
 * FROM source [[AS] alias] { [INNER] | LEFT|RIGHT|FULL [OUTER] | CROSS JOIN source [[AS] alias]
 * [ON condition] | , source [[AS] alias] }. The first source may be read_files(...); joined
 * ones are catalog tables. Once there is a join, every column is emitted qualified.
 */
static bool p_from(sql_parser *p)
{
    p->has_from = true;
    p->n_src = 0;
    src_push(p, NULL, NULL);
    if (is_kw(cur(p), "read_files") && is_op(peek_at(p, 1), "(")) {
        if (!sl__sql_read_files(p))
            return false;
    } else if (is_op(cur(p), "(")) {
        sl__sql_fail_unsupported(p, "a subquery in FROM");
        return false;
    } else if (!p_table_source(p, &p->from_sql, &p->srcs[0].name)) {
        return false;
    }
    if (!p_source_alias(p, &p->srcs[0].alias))
        return false;
    for (;;) {
        const char *kind;
        bool on = true;
        sql_tok *t = cur(p);
        if (accept_op(p, ",")) {
            kind = "CROSS JOIN";
            on = false;
        } else if (accept_kw(p, "JOIN") || (accept_kw(p, "INNER") && expect_kw(p, "JOIN"))) {
            kind = "JOIN";
        } else if (is_kw(t, "LEFT") || is_kw(t, "RIGHT") || is_kw(t, "FULL")) {
            kind = is_kw(t, "LEFT") ? "LEFT JOIN" : is_kw(t, "RIGHT") ? "RIGHT JOIN" : "FULL JOIN";
            p->i++;
            if (is_kw(cur(p), "SEMI") || is_kw(cur(p), "ANTI"))
                return sl__sql_fail_unsupported(p, "SEMI and ANTI joins"), false;
            (void)accept_kw(p, "OUTER");
            if (!expect_kw(p, "JOIN"))
                return false;
        } else if (accept_kw(p, "CROSS")) {
            if (!expect_kw(p, "JOIN"))
                return false;
            kind = "CROSS JOIN";
            on = false;
        } else if (is_kw(t, "NATURAL") || is_kw(t, "SEMI") || is_kw(t, "ANTI")) {
            return sl__sql_fail_unsupported(p, "NATURAL, SEMI and ANTI joins"), false;
        } else {
            break;
        }
        if (p->failed)
            return false;
        if (is_op(cur(p), "(") || (is_kw(cur(p), "read_files") && is_op(peek_at(p, 1), "(")))
            return sl__sql_fail_unsupported(p, "a subquery or read_files as a joined source"),
                   false;
        if (p->n_src == 1) { /* the first join: name the first source */
            char *first = sl_xasprintf("%s AS \"s0\"", p->from_sql);
            free(p->from_sql);
            p->from_sql = first;
        }
        src_push(p, NULL, NULL);
        char *sql = NULL, *name = NULL, *alias = NULL;
        if (!p_table_source(p, &sql, &name) || !p_source_alias(p, &alias)) {
            free(sql);
            free(name);
            return false;
        }
        sql_src *fs = &p->srcs[p->n_src - 1];
        fs->name = name;
        fs->alias = alias;
        const char *me = alias ? alias : name;
        for (int k = 0; k < p->n_src - 1; k++) {
            const char *other = p->srcs[k].alias ? p->srcs[k].alias : p->srcs[k].name;
            if (other && strcasecmp(other, me) == 0) {
                free(sql);
                sl__sql_fail(p, EMU_E_INVALID, "AMBIGUOUS_REFERENCE", "42704",
                             "The name `%s` is used for two sources in FROM; give one an alias.",
                             me);
                return false;
            }
        }
        sl_buf j = {0};
        sl_buf_printf(&j, "%s %s %s AS \"s%d\"", p->from_sql, kind, sql, p->n_src - 1);
        free(sql);
        if (on) {
            if (is_kw(cur(p), "USING")) {
                sl_buf_free(&j);
                return sl__sql_fail_unsupported(p, "JOIN ... USING (write the ON condition)"),
                       false;
            }
            if (!expect_kw(p, "ON")) {
                sl_buf_free(&j);
                return false;
            }
            sl_buf_puts(&j, " ON ");
            int ct = sl__sql_expr(p, &j);
            if (ct == T_ERR) {
                sl_buf_free(&j);
                return false;
            }
        }
        free(p->from_sql);
        p->from_sql = sl_buf_take(&j);
    }
    return true;
}

/* ------------------------------------------------------------------ select list */

static bool is_clause_kw(sql_tok *t)
{
    static const char *kws[] = {"FROM",  "WHERE", "GROUP",  "HAVING", "ORDER",     "LIMIT",
                                "UNION", "AS",    "OFFSET", "EXCEPT", "INTERSECT", NULL};
    for (int k = 0; kws[k]; k++)
        if (is_kw(t, kws[k]))
            return true;
    return false;
}

static void out_add(sql_parser *p, const char *name, int type)
{
    p->outs = sl_xrealloc(p->outs, (size_t)(p->n_outs + 1) * sizeof(*p->outs));
    p->outs[p->n_outs].name = sl_xstrdup(name);
    p->outs[p->n_outs].type = type == EMU_T_NULL ? EMU_T_STRING : (emu_type)type;
    p->n_outs++;
}

/* Default output name for an unaliased expression: its source text. */
static char *expr_name(sql_parser *p, size_t from, size_t to)
{
    sql_tok *a = &p->lx.t[from], *b = &p->lx.t[to - 1];
    if (to - from == 1 && is_name_tok(a))
        return sl_xstrdup(a->text);
    /* A qualified column (t.col, c.s.t.col) is named by the column, as Spark names it. */
    bool qualified = (to - from) % 2 == 1;
    for (size_t k = from; qualified && k < to; k++)
        qualified = (k - from) % 2 == 0 ? is_name_tok(&p->lx.t[k]) : is_op(&p->lx.t[k], ".");
    if (qualified)
        return sl_xstrdup(b->text);
    if (to - from == 4 && is_kw(a, "COUNT") && is_op(&p->lx.t[from + 2], "*"))
        return sl_xstrdup("count(1)");
    char *s = sl_xstrndup(p->src + a->off, b->off + b->len - a->off);
    /* Function names print lower-case, as Databricks names such columns: sum(units). */
    for (size_t k = from; k + 1 < to; k++) {
        sql_tok *t = &p->lx.t[k];
        if (t->k == TK_IDENT && is_op(&p->lx.t[k + 1], "("))
            for (size_t c = 0; c < t->len; c++)
                s[t->off - a->off + c] = (char)tolower((unsigned char)s[t->off - a->off + c]);
    }
    return s;
}

static bool p_select_items(sql_parser *p, sl_buf *o)
{
    for (int item = 0;; item++) {
        if (item)
            sl_buf_puts(o, ", ");
        /* * or t.* */
        bool star = is_op(cur(p), "*");
        int star_src = -1;
        if (!star && is_name_tok(cur(p)) && is_op(peek_at(p, 1), ".") &&
            is_op(peek_at(p, 2), "*")) {
            const char *q = cur(p)->text;
            star_src = sl__sql_src_find(p, q);
            if (star_src < 0) {
                sl__sql_fail(p, EMU_E_INVALID, "CANNOT_RESOLVE_STAR_EXPAND", "42704",
                             "Cannot resolve `%s`.* given input columns.", q);
                return false;
            }
            p->i += 2;
            star = true;
        }
        if (star) {
            p->i++;
            if (!p->has_from) {
                sl__sql_fail(p, EMU_E_INVALID, "INVALID_USAGE_OF_STAR_OR_REGEX", "42000",
                             "Invalid usage of '*' without FROM.");
                return false;
            }
            int n_star = 0;
            for (int k = 0; k < p->n_cols; k++) {
                if (star_src >= 0 && p->col_src[k] != star_src)
                    continue;
                sl_buf_printf(o, "%s", n_star++ ? ", " : "");
                sl__sql_col_put(p, o, k);
                if (p->n_src > 1) {
                    sl_buf_puts(o, " AS ");
                    sl__sql_put_ident(o, p->cols[k].name);
                }
                out_add(p, p->cols[k].name, (int)p->cols[k].type);
            }
        } else {
            size_t start = p->i;
            sl_buf x = {0};
            int t = sl__sql_expr(p, &x);
            if (t == T_ERR) {
                sl_buf_free(&x);
                return false;
            }
            size_t end = p->i;
            char *name = NULL;
            if (accept_kw(p, "AS") || (is_name_tok(cur(p)) && !is_clause_kw(cur(p)))) {
                if (!is_name_tok(cur(p))) {
                    sl_buf_free(&x);
                    sl__sql_fail_syntax(p);
                    return false;
                }
                name = sl_xstrdup(cur(p)->text);
                p->i++;
            } else {
                name = expr_name(p, start, end);
            }
            sl_buf_printf(o, "%s AS ", sl_buf_str(&x));
            sl__sql_put_ident(o, name);
            out_add(p, name, t);
            free(name);
            sl_buf_free(&x);
        }
        if (!accept_op(p, ","))
            return true;
    }
}

/* Parse a whole SELECT into SQLite text; output columns end up in p->outs. */
bool sl__sql_select(sql_parser *p, sl_buf *o)
{
    if (!expect_kw(p, "SELECT"))
        return false;
    bool distinct = accept_kw(p, "DISTINCT");
    if (!distinct)
        (void)accept_kw(p, "ALL");
    size_t items = p->i;
    /* Find FROM at depth 0 so the table's columns are known before the select list. */
    int depth = 0;
    size_t from = 0;
    for (size_t k = p->i; k < p->lx.n && p->lx.t[k].k != TK_EOF; k++) {
        sql_tok *t = &p->lx.t[k];
        if (is_op(t, "("))
            depth++;
        else if (is_op(t, ")"))
            depth--;
        else if (depth == 0 && is_kw(t, "FROM")) {
            from = k;
            break;
        }
    }
    size_t after_from = 0;
    if (from) {
        p->i = from + 1;
        if (!p_from(p))
            return false;
        after_from = p->i;
        p->i = items;
    }
    sl_buf_printf(o, "SELECT %s", distinct ? "DISTINCT " : "");
    if (!p_select_items(p, o))
        return false;
    if (from) {
        if (p->i != from)
            return sl__sql_fail_syntax(p), false;
        sl_buf_printf(o, " FROM %s", p->from_sql);
        p->i = after_from;
    }
    if (accept_kw(p, "WHERE")) {
        sl_buf_puts(o, " WHERE ");
        if (sl__sql_expr(p, o) == T_ERR)
            return false;
    }
    p->allow_alias = true;
    if (accept_kw(p, "GROUP")) {
        if (!expect_kw(p, "BY"))
            return false;
        sl_buf_puts(o, " GROUP BY ");
        do {
            if (cur(p)->k == TK_NUMBER) {
                sl_buf_puts(o, cur(p)->text);
                p->i++;
            } else if (sl__sql_expr(p, o) == T_ERR) {
                return false;
            }
        } while (accept_op(p, ",") && (sl_buf_puts(o, ", "), true));
    }
    if (accept_kw(p, "HAVING")) {
        sl_buf_puts(o, " HAVING ");
        if (sl__sql_expr(p, o) == T_ERR)
            return false;
    }
    if (accept_kw(p, "ORDER")) {
        if (!expect_kw(p, "BY"))
            return false;
        sl_buf_puts(o, " ORDER BY ");
        do {
            if (cur(p)->k == TK_NUMBER) {
                sl_buf_puts(o, cur(p)->text);
                p->i++;
            } else if (sl__sql_expr(p, o) == T_ERR) {
                return false;
            }
            bool desc = false;
            if (accept_kw(p, "DESC"))
                desc = true;
            else
                (void)accept_kw(p, "ASC");
            sl_buf_puts(o, desc ? " DESC" : " ASC");
            if (accept_kw(p, "NULLS")) {
                if (accept_kw(p, "FIRST"))
                    sl_buf_puts(o, " NULLS FIRST");
                else if (expect_kw(p, "LAST"))
                    sl_buf_puts(o, " NULLS LAST");
                else
                    return false;
            } else {
                /* Databricks: NULLS FIRST for ASC, NULLS LAST for DESC (as SQLite). */
            }
        } while (accept_op(p, ",") && (sl_buf_puts(o, ", "), true));
    }
    p->allow_alias = false;
    if (accept_kw(p, "LIMIT")) {
        if (accept_kw(p, "ALL")) {
            /* no limit */
        } else if (cur(p)->k == TK_NUMBER && !strpbrk(cur(p)->text, ".eE")) {
            sl_buf_printf(o, " LIMIT %s", cur(p)->text);
            p->i++;
        } else if (cur(p)->k == TK_PARAM) {
            int idx;
            if (!sl__sql_param_bind(p, cur(p)->text, &idx))
                return false;
            sl_buf_printf(o, " LIMIT ?%d", idx);
            p->i++;
        } else {
            return sl__sql_fail_syntax(p), false;
        }
        if (accept_kw(p, "OFFSET")) {
            if (cur(p)->k != TK_NUMBER)
                return sl__sql_fail_syntax(p), false;
            sl_buf_printf(o, " OFFSET %s", cur(p)->text);
            p->i++;
        }
    }
    if (is_kw(cur(p), "UNION") || is_kw(cur(p), "EXCEPT") || is_kw(cur(p), "INTERSECT"))
        return sl__sql_fail_unsupported(p, "set operations (UNION/EXCEPT/INTERSECT)"), false;
    return true;
}

/* The table an UPDATE or DELETE changes, [AS] alias included: its columns become the scope.
 * *phys gets its quoted SQLite name. */
bool sl__sql_dml_target(sql_parser *p, char **phys)
{
    p->has_from = true;
    p->n_src = 0;
    src_push(p, NULL, NULL);
    return p_table_source(p, phys, &p->srcs[0].name) && p_source_alias(p, &p->srcs[0].alias);
}
