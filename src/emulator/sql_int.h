/*
 * sql_int.h - private interface between the files of the emulator's Databricks SQL
 * translator, split by phase as SQLite splits its compiler (included only by sql_*.c;
 * the rest of the emulator sees sl__emu_sql_run and friends in emulator_int.h):
 *
 *   sql_lex.c         tokens: the lexer, error reporting, dotted object names
 *   sql_expr.c        expressions, the SQL function table, parameter markers
 *   sql_select.c      SELECT: the FROM scope (tables, joins, aliases), select list, clauses
 *   sql_read_files.c  the read_files(...) table function: files into a temp table
 *   sql_exec.c        statements: dispatch, results, CTAS, CREATE/DROP, SHOW, DESCRIBE,
 *                     INSERT, UPDATE, DELETE, and the entry points
 *
 * A statement is lexed whole, then parsed by recursive descent that emits SQLite SQL into
 * sl_bufs while inferring Databricks types (an expression parser returns its emu_type, or
 * T_ERR). One sql_parser serves one statement on one thread.
 *
 * Invariants: (1) the emitted SQL never copies source text: identifiers are re-quoted,
 * string literals re-escaped, numbers re-validated, parameters bound with sqlite3_bind_*,
 * and a ';' followed by anything is refused before any parsing, so "x; DROP TABLE y"
 * cannot run; (2) the first failure wins: sl__sql_fail records it in p->e and sets
 * p->failed, later calls change nothing, so callers only propagate T_ERR/false;
 * (3) unknown functions and statements fail with a message naming what is unsupported.
 */
#ifndef SLUICE_EMULATOR_SQL_INT_H
#define SLUICE_EMULATOR_SQL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "emulator_int.h"

/* ------------------------------------------------------------------ parser state */

typedef enum { TK_EOF, TK_IDENT, TK_QIDENT, TK_STRING, TK_NUMBER, TK_PARAM, TK_OP } sql_tk_kind;

typedef struct sql_tok {
    sql_tk_kind k;
    size_t off, len; /* source span */
    char *text;      /* ident/qident/string/number/param text (decoded), op text */
} sql_tok;

typedef struct sql_lexed {
    sql_tok *t;
    size_t n;
} sql_lexed;

typedef struct sql_col {
    char *name;
    emu_type type;
} sql_col;

/* A table in the FROM clause: the name and alias qualified references may use. */
typedef struct sql_src {
    char *name;
    char *alias;
} sql_src;

typedef struct sql_param {
    char *name;
    int idx;
    emu_type type;
    char *value; /* canonical text, NULL = SQL NULL */
} sql_param;

/* One statement being translated. Everything it points to is owned and released when the
 * statement ends (sql_exec.c), temp tables included. */
typedef struct sql_parser {
    const emu_sql_ctx *ctx;
    sqlite3 *db;
    const char *src;
    sql_lexed lx;
    size_t i;
    emu_err *e;
    bool failed;
    /* FROM scope */
    bool has_from;
    char *from_sql; /* quoted SQLite source */
    sql_src *srcs;  /* every source; with more than one, columns are emitted as "sN"."col" */
    int n_src;
    sql_col *cols;
    int *col_src; /* the source of each of cols */
    int n_cols;
    /* select output, usable by ORDER BY / GROUP BY / HAVING */
    sql_col *outs;
    int n_outs;
    bool allow_alias;
    bool has_agg;
    /* parameters */
    sql_param *binds;
    int n_binds;
    /* temp tables to drop */
    char **temps;
    int n_temps;
} sql_parser;

#define T_ERR (-1)

/* ------------------------------------------------------------------ sql_lex.c */

/* Tokenize s into lx (owned; free with sl__sql_lex_free, also after a failure). Refuses a
 * second statement. false with e set (PARSE_SYNTAX_ERROR, UNCLOSED_BRACKETED_COMMENT). */
bool sl__sql_lex(const char *s, sql_lexed *lx, emu_err *e);
void sl__sql_lex_free(sql_lexed *lx);

/* Record the statement's failure (the first one only); returns T_ERR. */
int sl__sql_fail(sql_parser *p, emu_ekind kind, const char *cls, const char *state, const char *fmt,
                 ...) SL_PRINTF(5, 6);
/* PARSE_SYNTAX_ERROR at the current token. Returns T_ERR. */
int sl__sql_fail_syntax(sql_parser *p);
/* UNSUPPORTED_FEATURE naming `what`. Returns T_ERR. */
int sl__sql_fail_unsupported(sql_parser *p, const char *what);

typedef struct sql_qname {
    char *c, *s, *t; /* lower-cased, owned */
} sql_qname;

void sl__sql_qname_free(sql_qname *q);
/* The request's catalog and schema, or "main" and "default". */
const char *sl__sql_default_catalog(sql_parser *p);
const char *sl__sql_default_schema(sql_parser *p);
/* An object name of `want` parts (3 tables/volumes, 2 schemas, 1 catalogs), written
 * dotted or as IDENTIFIER('a.b' | :param); missing leading parts come from the defaults.
 * Lower-cased into q (owned). false on a failure (recorded). */
bool sl__sql_qname_parse(sql_parser *p, int want, sql_qname *q);

/* ------------------------------------------------------------------ token cursor */

/* cur/peek_at read tokens (past the end: the TK_EOF token), accept_* consume one on a
 * match, expect_* also record a syntax error when it does not match. */
static inline sql_tok *cur(sql_parser *p)
{
    return &p->lx.t[p->i];
}

static inline sql_tok *peek_at(sql_parser *p, size_t k)
{
    size_t j = p->i + k;
    return &p->lx.t[j < p->lx.n ? j : p->lx.n - 1];
}

static inline bool is_kw(sql_tok *t, const char *kw)
{
    return t->k == TK_IDENT && strcasecmp(t->text, kw) == 0;
}

static inline bool accept_kw(sql_parser *p, const char *kw)
{
    if (is_kw(cur(p), kw)) {
        p->i++;
        return true;
    }
    return false;
}

static inline bool expect_kw(sql_parser *p, const char *kw)
{
    if (accept_kw(p, kw))
        return true;
    sl__sql_fail_syntax(p);
    return false;
}

static inline bool is_op(sql_tok *t, const char *op)
{
    return t->k == TK_OP && strcmp(t->text, op) == 0;
}

static inline bool accept_op(sql_parser *p, const char *op)
{
    if (is_op(cur(p), op)) {
        p->i++;
        return true;
    }
    return false;
}

static inline bool expect_op(sql_parser *p, const char *op)
{
    if (accept_op(p, op))
        return true;
    sl__sql_fail_syntax(p);
    return false;
}

static inline bool is_name_tok(sql_tok *t)
{
    return t->k == TK_IDENT || t->k == TK_QIDENT;
}

static inline bool is_canceled(sql_parser *p)
{
    return p->ctx->canceled && atomic_load(p->ctx->canceled);
}

/* ------------------------------------------------------------------ sql_expr.c */

/* One expression (the OR level) into o; returns its emu_type or T_ERR. */
int sl__sql_expr(sql_parser *p, sl_buf *o);
/* A value of type `from` stored into a column of type `to`, cast as Spark's store
 * assignment does (a value that does not convert fails the statement when run). */
void sl__sql_emit_store(sl_buf *o, const char *x, int from, emu_type to);
/* The binding of parameter `name`, or NULL if the statement has not used it yet. */
const sql_param *sl__sql_param_find(sql_parser *p, const char *name);
/* Bind :name (once per name), validating its value against its type; *idx gets the
 * SQLite parameter number. false on a failure (UNBOUND_SQL_PARAMETER, ...). */
bool sl__sql_param_bind(sql_parser *p, const char *name, int *idx);
/* Bind every registered parameter to a prepared statement. */
void sl__sql_params_apply(sql_parser *p, sqlite3_stmt *st);

/* ------------------------------------------------------------------ sql_select.c */

/* A whole SELECT into o as SQLite text; output columns end up in p->outs. */
bool sl__sql_select(sql_parser *p, sl_buf *o);
/* The table an UPDATE or DELETE changes, [AS] alias included: its columns become the
 * scope. *phys gets its quoted SQLite name (owned). */
bool sl__sql_dml_target(sql_parser *p, char **phys);
/* Add a column of the newest FROM source to the scope. */
void sl__sql_scope_add(sql_parser *p, const char *name, emu_type t);
/* The source a qualifier names (its alias, or its table name), or -1. */
int sl__sql_src_find(sql_parser *p, const char *q);
/* Scope column k as SQLite text: qualified by its source once the FROM clause has a JOIN. */
void sl__sql_col_put(sql_parser *p, sl_buf *o, int k);

/* ------------------------------------------------------------------ sql_read_files.c */

/* FROM read_files('/Volumes/...', format => 'csv', header => true, ...) at the current
 * token: loads the files into a temp table (dropped with the parser) that becomes the
 * first FROM source, its columns the scope. false on a failure (recorded). */
bool sl__sql_read_files(sql_parser *p);

#endif
