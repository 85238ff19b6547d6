/*
 * sql.c - the Databricks SQL subset the emulator runs (docs/emulator.md lists it), parsed
 * by a small recursive-descent parser that emits SQLite SQL while inferring Databricks
 * types, then run on the state database.
 *
 * Safety: the emitted SQL never copies source text. Identifiers are re-quoted, string
 * literals re-escaped, numbers re-validated, parameters bound with sqlite3_bind_*, and
 * a ';' followed by anything is refused before any parsing, so "x; DROP TABLE y" cannot
 * run. Unknown functions and statements fail with a message naming what is unsupported.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "emulator_int.h"

/* ------------------------------------------------------------------ lexer */

typedef enum { TK_EOF, TK_IDENT, TK_QIDENT, TK_STRING, TK_NUMBER, TK_PARAM, TK_OP } tk_kind;

typedef struct tok {
    tk_kind k;
    size_t off, len; /* source span */
    char *text;      /* ident/qident/string/number/param text (decoded), op text */
} tok;

typedef struct lexed {
    tok *t;
    size_t n;
} lexed;

static void lex_free(lexed *lx)
{
    for (size_t i = 0; i < lx->n; i++)
        free(lx->t[i].text);
    free(lx->t);
    lx->t = NULL;
    lx->n = 0;
}

static void lex_push(lexed *lx, tk_kind k, size_t off, size_t len, char *text)
{
    lx->t = sl_xrealloc(lx->t, (lx->n + 1) * sizeof(*lx->t));
    lx->t[lx->n++] = (tok){k, off, len, text};
}

static void syntax_err(emu_err *e, const char *near)
{
    sl__emu_err_set(e, EMU_E_PARSE, "BAD_REQUEST", "PARSE_SYNTAX_ERROR", "42601",
                    "Syntax error at or near '%.60s'.", near);
}

static bool lex(const char *s, lexed *lx, emu_err *e)
{
    size_t i = 0, n = strlen(s);
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (isspace(c)) {
            i++;
        } else if (c == '-' && s[i + 1] == '-') {
            while (i < n && s[i] != '\n')
                i++;
        } else if (c == '/' && s[i + 1] == '*') {
            const char *end = strstr(s + i + 2, "*/");
            if (!end) {
                sl__emu_err_set(e, EMU_E_PARSE, "BAD_REQUEST", "UNCLOSED_BRACKETED_COMMENT",
                                "42601", "Found an unclosed bracketed comment.");
                return false;
            }
            i = (size_t)(end - s) + 2;
        } else if (isalpha(c) || c == '_') {
            size_t b = i;
            while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '_'))
                i++;
            lex_push(lx, TK_IDENT, b, i - b, sl_xstrndup(s + b, i - b));
        } else if (c == '`') {
            size_t b = i++;
            sl_buf sb = {0};
            for (;;) {
                if (i >= n) {
                    sl_buf_free(&sb);
                    syntax_err(e, s + b);
                    return false;
                }
                if (s[i] == '`') {
                    if (s[i + 1] == '`') {
                        sl_buf_putc(&sb, '`');
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                sl_buf_putc(&sb, s[i++]);
            }
            lex_push(lx, TK_QIDENT, b, i - b, sl_buf_take(&sb));
        } else if (c == '\'' || c == '"') {
            char q = (char)c;
            size_t b = i++;
            sl_buf sb = {0};
            for (;;) {
                if (i >= n) {
                    sl_buf_free(&sb);
                    sl__emu_err_set(e, EMU_E_PARSE, "BAD_REQUEST", "PARSE_SYNTAX_ERROR", "42601",
                                    "Unterminated string literal.");
                    return false;
                }
                if (s[i] == q) {
                    if (s[i + 1] == q) {
                        sl_buf_putc(&sb, q);
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                if (s[i] == '\\' && i + 1 < n) {
                    char x = s[i + 1];
                    sl_buf_putc(&sb, x == 'n' ? '\n' : x == 't' ? '\t' : x == 'r' ? '\r'
                                                                                : x == '0' ? '\0'
                                                                                           : x);
                    i += 2;
                    continue;
                }
                sl_buf_putc(&sb, s[i++]);
            }
            char *txt = sl_buf_take(&sb);
            /* Adjacent literals concatenate ('a' 'b'). */
            if (lx->n && lx->t[lx->n - 1].k == TK_STRING &&
                lx->t[lx->n - 1].off + lx->t[lx->n - 1].len <= b) {
                tok *prev = &lx->t[lx->n - 1];
                bool only_space = true;
                for (size_t k = prev->off + prev->len; k < b; k++)
                    if (!isspace((unsigned char)s[k]))
                        only_space = false;
                if (only_space) {
                    char *cat = sl_xasprintf("%s%s", prev->text, txt);
                    free(prev->text);
                    free(txt);
                    prev->text = cat;
                    prev->len = i - prev->off;
                    continue;
                }
            }
            lex_push(lx, TK_STRING, b, i - b, txt);
        } else if (isdigit(c) || (c == '.' && isdigit((unsigned char)s[i + 1]))) {
            size_t b = i;
            while (i < n && isdigit((unsigned char)s[i]))
                i++;
            if (i < n && s[i] == '.') {
                i++;
                while (i < n && isdigit((unsigned char)s[i]))
                    i++;
            }
            if (i < n && (s[i] == 'e' || s[i] == 'E') &&
                (isdigit((unsigned char)s[i + 1]) ||
                 ((s[i + 1] == '+' || s[i + 1] == '-') && isdigit((unsigned char)s[i + 2])))) {
                i += 2;
                while (i < n && isdigit((unsigned char)s[i]))
                    i++;
            }
            if (i < n && (isalpha((unsigned char)s[i]) || s[i] == '_')) {
                syntax_err(e, s + b);
                return false;
            }
            lex_push(lx, TK_NUMBER, b, i - b, sl_xstrndup(s + b, i - b));
        } else if (c == ':' && (isalpha((unsigned char)s[i + 1]) || s[i + 1] == '_')) {
            size_t b = i++;
            while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '_'))
                i++;
            lex_push(lx, TK_PARAM, b, i - b, sl_xstrndup(s + b + 1, i - b - 1));
        } else {
            static const char *ops2[] = {"<=>", "<>", "!=", "<=", ">=", "==", "||", "=>", "::"};
            size_t len = 0;
            for (size_t k = 0; k < sizeof(ops2) / sizeof(ops2[0]) && !len; k++)
                if (strncmp(s + i, ops2[k], strlen(ops2[k])) == 0)
                    len = strlen(ops2[k]);
            if (!len && strchr("(),.;*+-/%=<>", c))
                len = 1;
            if (!len) {
                syntax_err(e, s + i);
                return false;
            }
            lex_push(lx, TK_OP, i, len, sl_xstrndup(s + i, len));
            i += len;
        }
    }
    lex_push(lx, TK_EOF, n, 0, sl_xstrdup(""));
    /* One statement per request: a ';' may only be followed by more ';' and the end. */
    for (size_t k = 0; k < lx->n; k++) {
        if (lx->t[k].k != TK_OP || strcmp(lx->t[k].text, ";") != 0)
            continue;
        size_t j = k;
        while (lx->t[j].k == TK_OP && strcmp(lx->t[j].text, ";") == 0)
            j++;
        if (lx->t[j].k != TK_EOF) {
            sl__emu_err_set(e, EMU_E_PARSE, "BAD_REQUEST", "PARSE_SYNTAX_ERROR", "42601",
                            "Syntax error at or near '%.40s': only one statement per request is "
                            "allowed; nothing was executed.",
                            lx->t[j].text);
            return false;
        }
        /* Drop the trailing semicolons. */
        for (size_t m = k; m < j; m++)
            free(lx->t[m].text);
        lx->t[k] = lx->t[j];
        lx->n = k + 1;
        break;
    }
    return true;
}

/* ------------------------------------------------------------------ parser state */

typedef struct scope_col {
    char *name;
    emu_type type;
} scope_col;

/* A table in the FROM clause: the name and alias qualified references may use. */
typedef struct from_src {
    char *name;
    char *alias;
} from_src;

typedef struct pbind {
    char *name;
    int idx;
    emu_type type;
    char *value; /* canonical text, NULL = SQL NULL */
} pbind;

typedef struct P {
    const emu_sql_ctx *ctx;
    sqlite3 *db;
    const char *src;
    lexed lx;
    size_t i;
    emu_err *e;
    bool failed;
    /* FROM scope */
    bool has_from;
    char *from_sql;      /* quoted SQLite source */
    from_src *srcs; /* every source; with more than one, columns are emitted as "sN"."col" */
    int n_src;
    scope_col *cols;
    int *col_src; /* the source of each of cols */
    int n_cols;
    /* select output, usable by ORDER BY / GROUP BY / HAVING */
    scope_col *outs;
    int n_outs;
    bool allow_alias;
    bool has_agg;
    /* parameters */
    pbind *binds;
    int n_binds;
    /* temp tables to drop */
    char **temps;
    int n_temps;
} P;

#define T_ERR (-1)

static tok *cur(P *p)
{
    return &p->lx.t[p->i];
}

static tok *peek_at(P *p, size_t k)
{
    size_t j = p->i + k;
    return &p->lx.t[j < p->lx.n ? j : p->lx.n - 1];
}

static int fail(P *p, emu_ekind kind, const char *cls, const char *state, const char *fmt, ...)
    SL_PRINTF(5, 6);

static int fail(P *p, emu_ekind kind, const char *cls, const char *state, const char *fmt, ...)
{
    if (p->failed)
        return T_ERR;
    p->failed = true;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sl__emu_err_set(p->e, kind, kind == EMU_E_INTERNAL ? "INTERNAL_ERROR" : "BAD_REQUEST", cls,
                    state, "%s", msg);
    return T_ERR;
}

static int fail_syntax(P *p)
{
    tok *t = cur(p);
    if (t->k == TK_EOF)
        return fail(p, EMU_E_PARSE, "PARSE_SYNTAX_ERROR", "42601",
                    "Syntax error at or near end of input.");
    return fail(p, EMU_E_PARSE, "PARSE_SYNTAX_ERROR", "42601", "Syntax error at or near '%.60s'.",
                t->text);
}

static int fail_unsupported(P *p, const char *what)
{
    return fail(p, EMU_E_UNSUPPORTED, "UNSUPPORTED_FEATURE", "0A000",
                "The feature is not supported: %s is not supported by the Sluice emulator.",
                what);
}

static bool is_kw(tok *t, const char *kw)
{
    return t->k == TK_IDENT && strcasecmp(t->text, kw) == 0;
}

static bool accept_kw(P *p, const char *kw)
{
    if (is_kw(cur(p), kw)) {
        p->i++;
        return true;
    }
    return false;
}

static bool expect_kw(P *p, const char *kw)
{
    if (accept_kw(p, kw))
        return true;
    fail_syntax(p);
    return false;
}

static bool is_op(tok *t, const char *op)
{
    return t->k == TK_OP && strcmp(t->text, op) == 0;
}

static bool accept_op(P *p, const char *op)
{
    if (is_op(cur(p), op)) {
        p->i++;
        return true;
    }
    return false;
}

static bool expect_op(P *p, const char *op)
{
    if (accept_op(p, op))
        return true;
    fail_syntax(p);
    return false;
}

static bool is_name_tok(tok *t)
{
    return t->k == TK_IDENT || t->k == TK_QIDENT;
}

/* ------------------------------------------------------------------ names */

typedef struct qname {
    char *c, *s, *t; /* lower-cased, owned */
} qname;

static void qname_free(qname *q)
{
    free(q->c);
    free(q->s);
    free(q->t);
    memset(q, 0, sizeof(*q));
}

static bool valid_object_name(P *p, const char *n)
{
    if (!*n || strlen(n) > 255) {
        fail(p, EMU_E_INVALID, "INVALID_IDENTIFIER", "42602", "The identifier '%s' is invalid.",
             n);
        return false;
    }
    for (const char *c = n; *c; c++) {
        if (*c == '.' || *c == ' ' || *c == '/' || (unsigned char)*c < 0x20 || *c == 0x7f) {
            fail(p, EMU_E_INVALID, "INVALID_SCHEMA_OR_RELATION_NAME", "42602",
                 "`%s` is not a valid name for tables/schemas. Valid names only contain "
                 "alphabet characters, numbers and _.",
                 n);
            return false;
        }
    }
    return true;
}

static const pbind *find_bind(P *p, const char *name);
static bool bind_param(P *p, const char *name, int *idx);

/* Parts of a name written as IDENTIFIER('a.b') / IDENTIFIER(:p). */
static int identifier_clause(P *p, char **parts, int max)
{
    p->i += 2; /* IDENTIFIER ( */
    tok *t = cur(p);
    const char *txt = NULL;
    if (t->k == TK_STRING) {
        txt = t->text;
    } else if (t->k == TK_PARAM) {
        int idx;
        if (!bind_param(p, t->text, &idx))
            return -1;
        txt = find_bind(p, t->text)->value;
        if (!txt) {
            fail(p, EMU_E_INVALID, "INVALID_SQL_ARG", "42K08",
                 "The argument of IDENTIFIER must not be NULL.");
            return -1;
        }
    } else {
        fail_syntax(p);
        return -1;
    }
    p->i++;
    if (!expect_op(p, ")"))
        return -1;
    lexed sub = {0};
    emu_err tmp = {0};
    int n = 0;
    if (!lex(txt, &sub, &tmp)) {
        fail(p, EMU_E_PARSE, "PARSE_SYNTAX_ERROR", "42601", "Invalid IDENTIFIER '%s'.", txt);
        return -1;
    }
    for (size_t k = 0; k < sub.n && sub.t[k].k != TK_EOF; k++) {
        if (k % 2 == 1) {
            if (!is_op(&sub.t[k], "."))
                n = -1;
            continue;
        }
        if (!is_name_tok(&sub.t[k]) || n >= max || n < 0) {
            n = -1;
            break;
        }
        parts[n++] = sl_xstrdup(sub.t[k].text);
    }
    lex_free(&sub);
    if (n <= 0) {
        for (int k = 0; k < max; k++) {
            free(parts[k]);
            parts[k] = NULL;
        }
        fail(p, EMU_E_PARSE, "PARSE_SYNTAX_ERROR", "42601", "Invalid IDENTIFIER '%s'.", txt);
        return -1;
    }
    return n;
}

/* Parse a 1..max-part dotted name into parts (owned, original case). */
static int parse_parts(P *p, char **parts, int max)
{
    if (is_kw(cur(p), "IDENTIFIER") && is_op(peek_at(p, 1), "("))
        return identifier_clause(p, parts, max);
    int n = 0;
    for (;;) {
        if (!is_name_tok(cur(p)) || n >= max) {
            for (int k = 0; k < n; k++)
                free(parts[k]);
            fail_syntax(p);
            return -1;
        }
        parts[n++] = sl_xstrdup(cur(p)->text);
        p->i++;
        if (!is_op(cur(p), ".") || !is_name_tok(peek_at(p, 1)))
            break;
        p->i++;
    }
    return n;
}

static const char *default_catalog(P *p)
{
    return p->ctx->catalog && *p->ctx->catalog ? p->ctx->catalog : "main";
}

static const char *default_schema(P *p)
{
    return p->ctx->schema && *p->ctx->schema ? p->ctx->schema : "default";
}

/* Object name with `want` parts (3 for tables/volumes, 2 for schemas, 1 for catalogs),
 * missing leading parts taken from the request's catalog/schema. */
static bool parse_qname(P *p, int want, qname *q)
{
    char *parts[3] = {0};
    int n = parse_parts(p, parts, want);
    if (n < 0)
        return false;
    char *full[3] = {0};
    int miss = want - n;
    for (int k = 0; k < want; k++) {
        if (k >= miss)
            full[k] = parts[k - miss];
        else if (want - k == 3)
            full[k] = sl_xstrdup(default_catalog(p));
        else
            full[k] = sl_xstrdup(want == 3 ? default_schema(p) : default_catalog(p));
        sl__lower(full[k]);
    }
    if (want == 3) {
        q->c = full[0], q->s = full[1], q->t = full[2];
    } else if (want == 2) {
        q->c = full[0], q->s = full[1];
    } else {
        q->c = full[0];
    }
    for (int k = 0; k < want; k++)
        if (full[k] && !valid_object_name(p, full[k])) {
            qname_free(q);
            return false;
        }
    return true;
}

/* ------------------------------------------------------------------ parameters */

static const pbind *find_bind(P *p, const char *name)
{
    for (int k = 0; k < p->n_binds; k++)
        if (strcmp(p->binds[k].name, name) == 0)
            return &p->binds[k];
    return NULL;
}

/* Register (or reuse) a parameter binding; validates the value against its type. */
static bool bind_param(P *p, const char *name, int *idx)
{
    const pbind *b = find_bind(p, name);
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
        fail(p, EMU_E_INVALID, "UNBOUND_SQL_PARAMETER", "42P02",
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
            fail(p, EMU_E_INVALID, "INVALID_PARAMETER_VALUE", "22023",
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
            fail(p, EMU_E_RUNTIME, "CAST_INVALID_INPUT", "22018",
                 "The value '%.100s' of the type \"STRING\" cannot be cast to \"%s\" because it "
                 "is malformed (parameter '%s').",
                 v, sl__emu_type_text(t), name);
            return false;
        }
        val = sl_xstrdup(t == EMU_T_STRING || t == EMU_T_NULL ? v : buf);
    } else if (jv && !json_is_null(jv)) {
        fail(p, EMU_E_INVALID, "INVALID_PARAMETER_VALUE", "22023",
             "Parameter '%s': value must be a string.", name);
        return false;
    }
    p->binds = sl_xrealloc(p->binds, (size_t)(p->n_binds + 1) * sizeof(*p->binds));
    p->binds[p->n_binds] = (pbind){sl_xstrdup(name), p->n_binds + 1, t, val};
    *idx = p->n_binds + 1;
    p->n_binds++;
    return true;
}

static void bind_all(P *p, sqlite3_stmt *st)
{
    for (int k = 0; k < p->n_binds; k++) {
        const pbind *b = &p->binds[k];
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

static int p_expr(P *p, sl_buf *o);

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

static int parse_type_name(P *p, emu_type *out)
{
    tok *t = cur(p);
    if (t->k != TK_IDENT || !sl__emu_type_parse(t->text, out)) {
        if (t->k == TK_IDENT) {
            char what[96];
            snprintf(what, sizeof(what), "type %s", t->text);
            return fail_unsupported(p, what);
        }
        return fail_syntax(p);
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

static int p_cast(P *p, sl_buf *o, bool try_mode)
{
    p->i += 2; /* CAST ( */
    sl_buf x = {0};
    int t = p_expr(p, &x);
    emu_type to = EMU_T_STRING;
    if (t == T_ERR || !expect_kw(p, "AS") || parse_type_name(p, &to) == T_ERR ||
        !expect_op(p, ")")) {
        sl_buf_free(&x);
        return T_ERR;
    }
    if ((int)to == t || (to == EMU_T_STRING && t == EMU_T_NULL))
        sl_buf_puts(o, sl_buf_str(&x));
    else
        sl_buf_printf(o, "%s(%s, '%s', '%s')", try_mode ? "sl_try_cast" : "sl_cast",
                      sl_buf_str(&x), sl__emu_type_text(to),
                      sl__emu_type_text(t == EMU_T_NULL ? EMU_T_STRING : (emu_type)t));
    sl_buf_free(&x);
    return (int)to;
}

/* Parse comma-separated arguments up to ')', each into its own buffer. */
static int p_args(P *p, sl_buf *args, int *types, int max)
{
    int n = 0;
    if (accept_op(p, ")"))
        return 0;
    for (;;) {
        if (n >= max) {
            fail(p, EMU_E_INVALID, "WRONG_NUM_ARGS", "42605", "Too many arguments.");
            return -1;
        }
        types[n] = p_expr(p, &args[n]);
        if (types[n] == T_ERR)
            return -1;
        n++;
        if (accept_op(p, ")"))
            return n;
        if (!expect_op(p, ","))
            return -1;
    }
}

static int wrong_args(P *p, const char *fn, int got)
{
    return fail(p, EMU_E_INVALID, "WRONG_NUM_ARGS.WITHOUT_SUGGESTION", "42605",
                "The `%s` requires a different number of parameters but the actual number is %d.",
                fn, got);
}

static int p_func(P *p, sl_buf *o)
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
        int t = p_expr(p, &x);
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
               strcmp(fn, "lower") == 0 || strcmp(fn, "upper") == 0 ||
               strcmp(fn, "lcase") == 0 || strcmp(fn, "ucase") == 0) {
        ARGS(1, 1);
        rt = EMU_T_STRING;
        const char *f = strcmp(fn, "lcase") == 0 ? "lower" : strcmp(fn, "ucase") == 0 ? "upper" : fn;
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
    } else if (strcmp(fn, "coalesce") == 0 || strcmp(fn, "ifnull") == 0 ||
               strcmp(fn, "nvl") == 0) {
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
        sl_buf_printf(o, "CAST(substr(sl_cast(%s, 'DATE', '%s'), %d, %d) AS INTEGER)",
                      sl_buf_str(&a[0]),
                      sl__emu_type_text(ty[0] == EMU_T_NULL ? EMU_T_STRING : (emu_type)ty[0]),
                      from, len);
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
        rt = fail(p, EMU_E_UNSUPPORTED, "UNRESOLVED_ROUTINE", "42883",
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

static int p_case(P *p, sl_buf *o)
{
    p->i++; /* CASE */
    int rt = EMU_T_NULL;
    sl_buf_puts(o, "(CASE");
    if (!is_kw(cur(p), "WHEN")) {
        sl_buf_putc(o, ' ');
        if (p_expr(p, o) == T_ERR)
            return T_ERR;
    }
    while (accept_kw(p, "WHEN")) {
        sl_buf_puts(o, " WHEN ");
        if (p_expr(p, o) == T_ERR || !expect_kw(p, "THEN"))
            return T_ERR;
        sl_buf_puts(o, " THEN ");
        int t = p_expr(p, o);
        if (t == T_ERR)
            return T_ERR;
        if (rt == EMU_T_NULL)
            rt = t;
    }
    if (accept_kw(p, "ELSE")) {
        sl_buf_puts(o, " ELSE ");
        int t = p_expr(p, o);
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

/* The source a qualifier names (its alias, or its table name), or -1. */
static int find_src(P *p, const char *q)
{
    for (int k = 0; k < p->n_src; k++)
        if ((p->srcs[k].alias && strcasecmp(q, p->srcs[k].alias) == 0) ||
            (p->srcs[k].name && strcasecmp(q, p->srcs[k].name) == 0))
            return k;
    return -1;
}

/* Scope column k as SQLite text: qualified by its source once the FROM clause has a JOIN. */
static void put_col(P *p, sl_buf *o, int k)
{
    if (p->n_src > 1)
        sl_buf_printf(o, "\"s%d\".", p->col_src[k]);
    sl__sql_put_ident(o, p->cols[k].name);
}

static int resolve_column(P *p, sl_buf *o, char **parts, int n)
{
    const char *name = parts[n - 1];
    int src = -1;
    if (n > 1) {
        const char *q = parts[n - 2];
        src = find_src(p, q);
        if (src < 0 || n > 4)
            return fail(p, EMU_E_INVALID, "UNRESOLVED_COLUMN.WITHOUT_SUGGESTION", "42703",
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
                const from_src *fs = &p->srcs[p->col_src[k]];
                sl_buf_printf(&all, "%s`%s`.`%s`", sl_buf_str(&all)[0] ? ", " : "",
                              fs->alias ? fs->alias : fs->name, p->cols[k].name);
            }
        fail(p, EMU_E_INVALID, "AMBIGUOUS_REFERENCE", "42704",
             "Reference `%s` is ambiguous, could be: [%s].", name, sl_buf_str(&all));
        sl_buf_free(&all);
        return T_ERR;
    }
    if (hit >= 0) {
        put_col(p, o, hit);
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
    fail(p, EMU_E_INVALID, "UNRESOLVED_COLUMN.WITH_SUGGESTION", "42703",
         "A column, variable, or function parameter with name `%s` cannot be resolved. Did you "
         "mean one of the following? [%s].",
         name, sl_buf_str(&sug));
    sl_buf_free(&sug);
    return T_ERR;
}

static int p_primary(P *p, sl_buf *o)
{
    tok *t = cur(p);
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
        if (!bind_param(p, t->text, &idx))
            return T_ERR;
        p->i++;
        sl_buf_printf(o, "?%d", idx);
        return (int)find_bind(p, t->text)->type;
    }
    case TK_OP:
        if (is_op(t, "(")) {
            p->i++;
            if (is_kw(cur(p), "SELECT"))
                return fail_unsupported(p, "a subquery");
            sl_buf_putc(o, '(');
            int ty = p_expr(p, o);
            if (ty == T_ERR || !expect_op(p, ")"))
                return T_ERR;
            sl_buf_putc(o, ')');
            return ty;
        }
        return fail_syntax(p);
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
                return fail(p, EMU_E_PARSE, "INVALID_TYPED_LITERAL", "42604",
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
        return fail_syntax(p);
    }
}

static int p_unary(P *p, sl_buf *o)
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
static int p_binary(P *p, sl_buf *o, const char *const *ops, int (*next)(P *, sl_buf *))
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

static int p_mul(P *p, sl_buf *o)
{
    static const char *const ops[] = {"*", "/", "%", NULL};
    return p_binary(p, o, ops, p_unary);
}

static int p_add(P *p, sl_buf *o)
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

static int p_pred(P *p, sl_buf *o)
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
            rt_out = fail_syntax(p);
            goto out;
        }
        rt_out = EMU_T_BOOLEAN;
        goto out;
    }
    bool neg = false;
    if (is_kw(cur(p), "NOT") &&
        (is_kw(peek_at(p, 1), "IN") || is_kw(peek_at(p, 1), "BETWEEN") ||
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
            rt_out = fail_unsupported(p, "IN (subquery)");
            goto out;
        }
        sl_buf_printf(o, "(%s %sIN (", sl_buf_str(&l), neg ? "NOT " : "");
        for (int k = 0;; k++) {
            sl_buf x = {0};
            int xt = p_expr(p, &x);
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
                sl_buf_printf(o, "(lower(%s) %sLIKE lower(%s))", sl_buf_str(&l),
                              neg ? "NOT " : "", sl_buf_str(&r));
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

static int p_not(P *p, sl_buf *o)
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

static int p_logic(P *p, sl_buf *o, const char *kw, int (*next)(P *, sl_buf *))
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

static int p_and(P *p, sl_buf *o)
{
    return p_logic(p, o, "AND", p_not);
}

static int p_expr(P *p, sl_buf *o)
{
    if (p->failed)
        return T_ERR;
    return p_logic(p, o, "OR", p_and);
}

/* ------------------------------------------------------------------ read_files */

static void scope_add(P *p, const char *name, emu_type t)
{
    p->cols = sl_xrealloc(p->cols, (size_t)(p->n_cols + 1) * sizeof(*p->cols));
    p->cols[p->n_cols].name = sl_xstrdup(name);
    p->cols[p->n_cols].type = t;
    p->col_src = sl_xrealloc(p->col_src, (size_t)(p->n_cols + 1) * sizeof(*p->col_src));
    p->col_src[p->n_cols] = p->n_src > 0 ? p->n_src - 1 : 0;
    p->n_cols++;
}

typedef struct rf_opts {
    char format[16];
    bool header, infer;
    char sep;
} rf_opts;

static bool canceled(P *p)
{
    return p->ctx->canceled && atomic_load(p->ctx->canceled);
}

/* Infer a column type from its non-empty values: BIGINT < DOUBLE, else BOOLEAN, DATE,
 * TIMESTAMP, else STRING. mask bit k set = still possible. */
enum { INF_BIGINT = 1, INF_DOUBLE = 2, INF_BOOL = 4, INF_DATE = 8, INF_TS = 16, INF_ALL = 31 };

static unsigned infer_mask(const char *v)
{
    unsigned m = 0;
    int64_t i;
    double d;
    bool b;
    char buf[32];
    if (sl__emu_parse_bigint(v, &i))
        m |= INF_BIGINT | INF_DOUBLE;
    else if (sl__emu_parse_double(v, &d))
        m |= INF_DOUBLE;
    if ((strcasecmp(v, "true") == 0 || strcasecmp(v, "false") == 0) && sl__emu_parse_boolean(v, &b))
        m |= INF_BOOL;
    if (strlen(v) == 10 && sl__emu_parse_date(v, buf))
        m |= INF_DATE;
    if (strlen(v) > 10 && sl__emu_parse_timestamp(v, buf))
        m |= INF_TS;
    return m;
}

static emu_type mask_type(unsigned m, bool seen)
{
    if (!seen)
        return EMU_T_STRING;
    if (m & INF_BIGINT)
        return EMU_T_BIGINT;
    if (m & INF_DOUBLE)
        return EMU_T_DOUBLE;
    if (m & INF_BOOL)
        return EMU_T_BOOLEAN;
    if (m & INF_DATE)
        return EMU_T_DATE;
    if (m & INF_TS)
        return EMU_T_TIMESTAMP;
    return EMU_T_STRING;
}

/* Bind one loaded value converted to its column type. */
static void bind_loaded(sqlite3_stmt *st, int idx, const char *v, emu_type t, bool infer)
{
    char buf[32];
    if (!v) {
        sqlite3_bind_null(st, idx);
        return;
    }
    if (infer && t != EMU_T_STRING && !*v) {
        sqlite3_bind_null(st, idx);
        return;
    }
    int64_t i;
    double d;
    bool b;
    switch (t) {
    case EMU_T_BIGINT:
        if (sl__emu_parse_bigint(v, &i)) {
            sqlite3_bind_int64(st, idx, i);
            return;
        }
        break;
    case EMU_T_DOUBLE:
        if (sl__emu_parse_double(v, &d)) {
            sqlite3_bind_double(st, idx, d);
            return;
        }
        break;
    case EMU_T_BOOLEAN:
        if (sl__emu_parse_boolean(v, &b)) {
            sqlite3_bind_int(st, idx, b);
            return;
        }
        break;
    case EMU_T_DATE:
        if (sl__emu_parse_date(v, buf)) {
            sqlite3_bind_text(st, idx, buf, -1, SQLITE_TRANSIENT);
            return;
        }
        break;
    case EMU_T_TIMESTAMP:
        if (sl__emu_parse_timestamp(v, buf)) {
            sqlite3_bind_text(st, idx, buf, -1, SQLITE_TRANSIENT);
            return;
        }
        break;
    default:
        break;
    }
    sqlite3_bind_text(st, idx, v, -1, SQLITE_TRANSIENT);
}

static bool create_temp(P *p, const char *tname)
{
    sl_buf sql = {0};
    sl_buf_puts(&sql, "CREATE TEMP TABLE ");
    sl__sql_put_ident(&sql, tname);
    sl_buf_puts(&sql, "(");
    for (int k = 0; k < p->n_cols; k++) {
        for (int j = 0; j < k; j++)
            if (strcasecmp(p->cols[j].name, p->cols[k].name) == 0) {
                sl_buf_free(&sql);
                fail(p, EMU_E_INVALID, "COLUMN_ALREADY_EXISTS", "42711",
                     "The column `%s` already exists. Choose another name or rename the "
                     "existing column.",
                     p->cols[k].name);
                return false;
            }
        if (k)
            sl_buf_puts(&sql, ", ");
        sl__sql_put_ident(&sql, p->cols[k].name);
    }
    sl_buf_puts(&sql, ")");
    emu_err tmp = {0};
    bool ok = sl__emu_db_exec(p->db, sl_buf_str(&sql), &tmp);
    sl_buf_free(&sql);
    if (!ok) {
        fail(p, EMU_E_INTERNAL, "INTERNAL_ERROR", "XX000", "%s", tmp.msg);
        return false;
    }
    p->temps = sl_xrealloc(p->temps, (size_t)(p->n_temps + 1) * sizeof(*p->temps));
    p->temps[p->n_temps++] = sl_xstrdup(tname);
    return true;
}

static sqlite3_stmt *insert_stmt(P *p, const char *tname, int ncols)
{
    sl_buf sql = {0};
    sl_buf_puts(&sql, "INSERT INTO temp.");
    sl__sql_put_ident(&sql, tname);
    sl_buf_puts(&sql, " VALUES(");
    for (int k = 0; k < ncols; k++)
        sl_buf_puts(&sql, k ? ",?" : "?");
    sl_buf_puts(&sql, ")");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(p->db, sl_buf_str(&sql), -1, &st, NULL) != SQLITE_OK)
        fail(p, EMU_E_INTERNAL, "INTERNAL_ERROR", "XX000", "load: %s", sqlite3_errmsg(p->db));
    sl_buf_free(&sql);
    return st;
}

static bool step_insert(P *p, sqlite3_stmt *st)
{
    if (sqlite3_step(st) != SQLITE_DONE) {
        fail(p, EMU_E_INTERNAL, "INTERNAL_ERROR", "XX000", "load: %s", sqlite3_errmsg(p->db));
        return false;
    }
    sqlite3_reset(st);
    return true;
}

static int csv_fail(P *p, const char *file, const char *msg)
{
    const char *base = strrchr(file, '/');
    return fail(p, EMU_E_RUNTIME, "MALFORMED_RECORD_IN_PARSING", "22023",
                "Malformed records are detected in record parsing: %s: %s.",
                base ? base + 1 : file, msg);
}

/* Load CSV files into temp table tname (columns from the first file's header). */
static bool load_csv(P *p, char **files, int nf, const rf_opts *o, const char *tname)
{
    char eb[256];
    char **f;
    size_t nfld;
    unsigned *mask = NULL;
    bool *seen = NULL;
    int ncols = -1;
    /* Pass 1: header (+ types). */
    for (int fi = 0; fi < nf && !p->failed; fi++) {
        sl_csv *c = sl_csv_open(files[fi], o->sep);
        if (!c) {
            fail(p, EMU_E_RUNTIME, "PATH_NOT_FOUND", "42K03", "Path does not exist: %s.",
                 files[fi]);
            break;
        }
        int rc;
        bool first = true;
        while ((rc = sl_csv_next(c, &f, &nfld, eb, sizeof(eb))) == 1) {
            if (first && ncols < 0) {
                ncols = (int)nfld;
                mask = sl_xcalloc(nfld, sizeof(*mask));
                seen = sl_xcalloc(nfld, sizeof(*seen));
                for (size_t k = 0; k < nfld; k++) {
                    mask[k] = INF_ALL;
                    char nm[32];
                    snprintf(nm, sizeof(nm), "_c%zu", k);
                    scope_add(p, o->header && *f[k] ? f[k] : nm, EMU_T_STRING);
                }
            } else if ((int)nfld != ncols) {
                snprintf(eb, sizeof(eb), "line %ld: expected %d fields, found %zu",
                         sl_csv_line(c), ncols, nfld);
                rc = -1;
                break;
            }
            bool is_header = first && o->header;
            first = false;
            if (is_header || !o->infer)
                continue;
            for (size_t k = 0; k < nfld; k++)
                if (*f[k]) {
                    mask[k] &= infer_mask(f[k]);
                    seen[k] = true;
                }
        }
        sl_csv_close(c);
        if (rc < 0)
            csv_fail(p, files[fi], eb);
    }
    if (!p->failed && ncols < 0) {
        fail(p, EMU_E_RUNTIME, "UNABLE_TO_INFER_SCHEMA", "42KD9",
             "Unable to infer schema for CSV. It must be specified manually (the input is "
             "empty).");
    }
    for (int k = 0; k < ncols && !p->failed; k++)
        p->cols[k].type = o->infer ? mask_type(mask[k], seen[k]) : EMU_T_STRING;
    free(mask);
    free(seen);
    if (p->failed || !create_temp(p, tname))
        return false;
    sqlite3_stmt *st = insert_stmt(p, tname, ncols);
    for (int fi = 0; fi < nf && st && !p->failed; fi++) {
        sl_csv *c = sl_csv_open(files[fi], o->sep);
        if (!c)
            break;
        int rc;
        bool first = true;
        long n = 0;
        while ((rc = sl_csv_next(c, &f, &nfld, eb, sizeof(eb))) == 1) {
            if (first && o->header) {
                first = false;
                continue;
            }
            first = false;
            for (int k = 0; k < ncols; k++)
                bind_loaded(st, k + 1, (size_t)k < nfld ? f[k] : NULL, p->cols[k].type,
                            o->infer);
            if (!step_insert(p, st))
                break;
            if ((++n & 4095) == 0 && canceled(p)) {
                fail(p, EMU_E_CANCELED, "OPERATION_CANCELED", "HY008", "The statement was canceled.");
                break;
            }
        }
        if (rc < 0 && !p->failed)
            csv_fail(p, files[fi], eb);
        sl_csv_close(c);
    }
    sqlite3_finalize(st);
    return !p->failed;
}

static char *json_cell(const json_t *v, emu_type t)
{
    if (!v || json_is_null(v))
        return NULL;
    if (json_is_string(v))
        return sl_xstrdup(json_string_value(v));
    if (json_is_true(v) || json_is_false(v))
        return sl_xstrdup(t == EMU_T_BOOLEAN ? (json_is_true(v) ? "1" : "0")
                                             : (json_is_true(v) ? "true" : "false"));
    if (json_is_real(v)) {
        char buf[64];
        sl__emu_format_double(json_real_value(v), buf, sizeof(buf));
        return sl_xstrdup(buf);
    }
    return sl_json_dumps(v);
}

static emu_type json_kind(const json_t *v)
{
    if (json_is_integer(v))
        return EMU_T_BIGINT;
    if (json_is_real(v))
        return EMU_T_DOUBLE;
    if (json_is_boolean(v))
        return EMU_T_BOOLEAN;
    return EMU_T_STRING;
}

/* Load JSON Lines: columns = union of keys in first-seen order. */
static bool load_json(P *p, char **files, int nf, const rf_opts *o, const char *tname)
{
    sl__map *idx = sl__map_new();
    int *state = NULL; /* per column: -1 = no value yet, else emu_type so far */
    for (int pass = 0; pass < 2 && !p->failed; pass++) {
        sqlite3_stmt *st = NULL;
        if (pass == 1) {
            for (int k = 0; k < p->n_cols; k++)
                p->cols[k].type = o->infer && state[k] >= 0 ? (emu_type)state[k] : EMU_T_STRING;
            if (p->n_cols == 0) {
                fail(p, EMU_E_RUNTIME, "UNABLE_TO_INFER_SCHEMA", "42KD9",
                     "Unable to infer schema for JSON (the input is empty).");
                break;
            }
            if (!create_temp(p, tname) || !(st = insert_stmt(p, tname, p->n_cols)))
                break;
        }
        for (int fi = 0; fi < nf && !p->failed; fi++) {
            FILE *fp = fopen(files[fi], "rb");
            if (!fp) {
                fail(p, EMU_E_RUNTIME, "PATH_NOT_FOUND", "42K03", "Path does not exist: %s.",
                     files[fi]);
                break;
            }
            char *line = NULL;
            size_t cap = 0;
            long lineno = 0;
            ssize_t len;
            while ((len = getline(&line, &cap, fp)) >= 0 && !p->failed) {
                lineno++;
                bool blank = true;
                for (ssize_t k = 0; k < len; k++)
                    if (!isspace((unsigned char)line[k]))
                        blank = false;
                if (blank)
                    continue;
                json_error_t je;
                json_t *obj = json_loadb(line, (size_t)len, 0, &je);
                if (!json_is_object(obj)) {
                    char m[128];
                    snprintf(m, sizeof(m), "line %ld: not a JSON object", lineno);
                    csv_fail(p, files[fi], m);
                    json_decref(obj);
                    break;
                }
                const char *key;
                json_t *v;
                if (pass == 0) {
                    json_object_foreach(obj, key, v)
                    {
                        intptr_t k = (intptr_t)sl__map_get(idx, key);
                        if (!k) {
                            scope_add(p, key, EMU_T_STRING);
                            k = p->n_cols;
                            sl__map_put(idx, key, (void *)k);
                            state = sl_xrealloc(state, (size_t)p->n_cols * sizeof(*state));
                            state[k - 1] = -1;
                        }
                        if (json_is_null(v))
                            continue;
                        int jt = (int)json_kind(v);
                        int *s = &state[k - 1];
                        if (*s < 0)
                            *s = jt;
                        else if (*s != jt)
                            *s = (sl__emu_type_is_numeric((emu_type)*s) &&
                                  sl__emu_type_is_numeric((emu_type)jt))
                                     ? EMU_T_DOUBLE
                                     : EMU_T_STRING;
                    }
                } else {
                    for (int k = 0; k < p->n_cols; k++) {
                        char *cell = json_cell(json_object_get(obj, p->cols[k].name),
                                               p->cols[k].type);
                        bind_loaded(st, k + 1, cell, p->cols[k].type, true);
                        free(cell);
                    }
                    step_insert(p, st);
                }
                json_decref(obj);
            }
            free(line);
            fclose(fp);
        }
        sqlite3_finalize(st);
    }
    free(state);
    sl__map_free(idx, NULL);
    return !p->failed;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Resolve a /Volumes path to data files (a file, or the visible files of a directory). */
static char **rf_files(P *p, const char *path, int *n)
{
    *n = 0;
    char *c = NULL, *s = NULL, *v = NULL, *rel = NULL;
    emu_err pe = {0};
    if (!sl__emu_path_parse(path, strlen(path), &c, &s, &v, &rel, &pe)) {
        fail(p, EMU_E_RUNTIME, "PATH_NOT_FOUND", "42K03", "Path does not exist: %s (%s).", path,
             pe.msg);
        return NULL;
    }
    char *full = sl_xasprintf("%s/%s/%s/%s%s%s", sl__emu_store_volumes_root(p->ctx->store), c, s,
                              v, *rel ? "/" : "", rel);
    bool vol_ok = sl__emu_uc_volume_exists(p->db, c, s, v);
    free(c);
    free(s);
    free(v);
    free(rel);
    struct stat stt;
    char **files = NULL;
    if (!vol_ok || stat(full, &stt) != 0) {
        fail(p, EMU_E_RUNTIME, "PATH_NOT_FOUND", "42K03", "Path does not exist: %s.", path);
    } else if (S_ISDIR(stt.st_mode)) {
        DIR *d = opendir(full);
        struct dirent *de;
        while (d && (de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.' || de->d_name[0] == '_')
                continue;
            char *fp = sl_xasprintf("%s/%s", full, de->d_name);
            if (stat(fp, &stt) == 0 && S_ISREG(stt.st_mode)) {
                files = sl_xrealloc(files, (size_t)(*n + 1) * sizeof(*files));
                files[(*n)++] = fp;
            } else {
                free(fp);
            }
        }
        if (d)
            closedir(d);
        if (*n)
            qsort(files, (size_t)*n, sizeof(*files), cmp_str);
        else
            fail(p, EMU_E_RUNTIME, "UNABLE_TO_INFER_SCHEMA", "42KD9",
                 "Unable to infer schema: no files found in %s.", path);
    } else {
        files = sl_xmalloc(sizeof(*files));
        files[(*n)++] = sl_xstrdup(full);
    }
    free(full);
    return files;
}

static bool opt_bool(P *p, bool *out)
{
    tok *t = cur(p);
    if (is_kw(t, "TRUE") || is_kw(t, "FALSE")) {
        *out = is_kw(t, "TRUE");
    } else if (t->k == TK_STRING && (strcasecmp(t->text, "true") == 0 ||
                                     strcasecmp(t->text, "false") == 0)) {
        *out = strcasecmp(t->text, "true") == 0;
    } else {
        fail_syntax(p);
        return false;
    }
    p->i++;
    return true;
}

/* FROM read_files('/Volumes/...', format => 'csv', header => true, ...) */
static bool p_read_files(P *p)
{
    p->i += 2; /* read_files ( */
    if (cur(p)->k != TK_STRING) {
        fail_syntax(p);
        return false;
    }
    char *path = sl_xstrdup(cur(p)->text);
    p->i++;
    rf_opts o = {.format = "", .header = false, .infer = true, .sep = ','};
    while (!p->failed && accept_op(p, ",")) {
        if (!is_name_tok(cur(p)) || !is_op(peek_at(p, 1), "=>")) {
            fail_syntax(p);
            break;
        }
        char key[64];
        snprintf(key, sizeof(key), "%s", cur(p)->text);
        p->i += 2;
        if (strcasecmp(key, "format") == 0 && cur(p)->k == TK_STRING) {
            snprintf(o.format, sizeof(o.format), "%s", cur(p)->text);
            sl__lower(o.format);
            p->i++;
        } else if (strcasecmp(key, "header") == 0) {
            opt_bool(p, &o.header);
        } else if (strcasecmp(key, "inferColumnTypes") == 0 ||
                   strcasecmp(key, "inferSchema") == 0) {
            opt_bool(p, &o.infer);
        } else if ((strcasecmp(key, "sep") == 0 || strcasecmp(key, "delimiter") == 0) &&
                   cur(p)->k == TK_STRING && strlen(cur(p)->text) == 1) {
            o.sep = cur(p)->text[0];
            p->i++;
        } else if (cur(p)->k == TK_STRING || cur(p)->k == TK_NUMBER || is_kw(cur(p), "TRUE") ||
                   is_kw(cur(p), "FALSE")) {
            sl_debug("emulator: read_files option '%s' ignored", key);
            p->i++;
        } else {
            fail_syntax(p);
        }
    }
    if (!p->failed)
        expect_op(p, ")");
    if (!p->failed && !*o.format) {
        const char *dot = strrchr(path, '.');
        snprintf(o.format, sizeof(o.format), "%s",
                 dot && (strcasecmp(dot, ".json") == 0 || strcasecmp(dot, ".jsonl") == 0)
                     ? "json"
                     : "csv");
    }
    if (!p->failed && strcmp(o.format, "csv") != 0 && strcmp(o.format, "json") != 0) {
        char what[64];
        snprintf(what, sizeof(what), "read_files format '%s'", o.format);
        fail_unsupported(p, what);
    }
    int nf = 0;
    char **files = p->failed ? NULL : rf_files(p, path, &nf);
    char tname[32];
    snprintf(tname, sizeof(tname), "rf_%d", p->n_temps + 1);
    if (!p->failed) {
        if (strcmp(o.format, "csv") == 0)
            load_csv(p, files, nf, &o, tname);
        else
            load_json(p, files, nf, &o, tname);
    }
    for (int k = 0; k < nf; k++)
        free(files[k]);
    free(files);
    free(path);
    if (p->failed)
        return false;
    sl_buf s = {0};
    sl_buf_puts(&s, "temp.");
    sl__sql_put_ident(&s, tname);
    p->from_sql = sl_buf_take(&s);
    p->srcs[0].name = sl_xstrdup("read_files");
    return true;
}

/* ------------------------------------------------------------------ SELECT */

/* A catalog table as a FROM source: its columns join the scope (as source p->n_src - 1);
 * *sql gets its quoted SQLite name and *name the table name. */
static bool p_table_source(P *p, char **sql, char **name)
{
    qname q = {0};
    if (!parse_qname(p, 3, &q))
        return false;
    emu_table_info ti;
    emu_err te = {0};
    if (!sl__emu_uc_table_get(p->db, q.c, q.s, q.t, &ti, &te)) {
        fail(p, te.kind == EMU_E_NOT_FOUND ? EMU_E_INVALID : te.kind,
             te.kind == EMU_E_NOT_FOUND ? "TABLE_OR_VIEW_NOT_FOUND" : te.cls,
             te.kind == EMU_E_NOT_FOUND ? "42P01" : te.sqlstate,
             "The table or view `%s`.`%s`.`%s` cannot be found. Verify the spelling and "
             "correctness of the schema and catalog.",
             q.c, q.s, q.t);
        qname_free(&q);
        return false;
    }
    for (int k = 0; k < ti.n_cols; k++)
        scope_add(p, ti.cols[k].name, ti.cols[k].type);
    sl__emu_table_info_free(&ti);
    char *phys = sl__emu_phys_name(q.c, q.s, q.t);
    sl_buf sb = {0};
    sl__sql_put_ident(&sb, phys);
    free(phys);
    *sql = sl_buf_take(&sb);
    *name = sl_xstrdup(q.t);
    qname_free(&q);
    return true;
}

static bool is_join_kw(tok *t)
{
    return is_kw(t, "JOIN") || is_kw(t, "INNER") || is_kw(t, "LEFT") || is_kw(t, "RIGHT") ||
           is_kw(t, "FULL") || is_kw(t, "CROSS") || is_kw(t, "NATURAL") || is_kw(t, "SEMI") ||
           is_kw(t, "ANTI");
}

/* [AS] alias after a source, unless the next word starts a clause or a join. */
static bool p_source_alias(P *p, char **alias)
{
    *alias = NULL;
    bool as = accept_kw(p, "AS");
    static const char *stops[] = {"WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "UNION",
                                  "OFFSET", "ON", "USING", "SET", NULL};
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
        return fail_syntax(p), false;
    return true;
}

static void src_push(P *p, const char *name, const char *alias)
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
static bool p_from(P *p)
{
    p->has_from = true;
    p->n_src = 0;
    src_push(p, NULL, NULL);
    if (is_kw(cur(p), "read_files") && is_op(peek_at(p, 1), "(")) {
        if (!p_read_files(p))
            return false;
    } else if (is_op(cur(p), "(")) {
        fail_unsupported(p, "a subquery in FROM");
        return false;
    } else if (!p_table_source(p, &p->from_sql, &p->srcs[0].name)) {
        return false;
    }
    if (!p_source_alias(p, &p->srcs[0].alias))
        return false;
    for (;;) {
        const char *kind;
        bool on = true;
        tok *t = cur(p);
        if (accept_op(p, ",")) {
            kind = "CROSS JOIN";
            on = false;
        } else if (accept_kw(p, "JOIN") || (accept_kw(p, "INNER") && expect_kw(p, "JOIN"))) {
            kind = "JOIN";
        } else if (is_kw(t, "LEFT") || is_kw(t, "RIGHT") || is_kw(t, "FULL")) {
            kind = is_kw(t, "LEFT") ? "LEFT JOIN" : is_kw(t, "RIGHT") ? "RIGHT JOIN"
                                                                      : "FULL JOIN";
            p->i++;
            if (is_kw(cur(p), "SEMI") || is_kw(cur(p), "ANTI"))
                return fail_unsupported(p, "SEMI and ANTI joins"), false;
            (void)accept_kw(p, "OUTER");
            if (!expect_kw(p, "JOIN"))
                return false;
        } else if (accept_kw(p, "CROSS")) {
            if (!expect_kw(p, "JOIN"))
                return false;
            kind = "CROSS JOIN";
            on = false;
        } else if (is_kw(t, "NATURAL") || is_kw(t, "SEMI") || is_kw(t, "ANTI")) {
            return fail_unsupported(p, "NATURAL, SEMI and ANTI joins"), false;
        } else {
            break;
        }
        if (p->failed)
            return false;
        if (is_op(cur(p), "(") || (is_kw(cur(p), "read_files") && is_op(peek_at(p, 1), "(")))
            return fail_unsupported(p, "a subquery or read_files as a joined source"), false;
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
        from_src *fs = &p->srcs[p->n_src - 1];
        fs->name = name;
        fs->alias = alias;
        const char *me = alias ? alias : name;
        for (int k = 0; k < p->n_src - 1; k++) {
            const char *other = p->srcs[k].alias ? p->srcs[k].alias : p->srcs[k].name;
            if (other && strcasecmp(other, me) == 0) {
                free(sql);
                fail(p, EMU_E_INVALID, "AMBIGUOUS_REFERENCE", "42704",
                     "The name `%s` is used for two sources in FROM; give one an alias.", me);
                return false;
            }
        }
        sl_buf j = {0};
        sl_buf_printf(&j, "%s %s %s AS \"s%d\"", p->from_sql, kind, sql, p->n_src - 1);
        free(sql);
        if (on) {
            if (is_kw(cur(p), "USING")) {
                sl_buf_free(&j);
                return fail_unsupported(p, "JOIN ... USING (write the ON condition)"), false;
            }
            if (!expect_kw(p, "ON")) {
                sl_buf_free(&j);
                return false;
            }
            sl_buf_puts(&j, " ON ");
            int ct = p_expr(p, &j);
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

static bool is_clause_kw(tok *t)
{
    static const char *kws[] = {"FROM", "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "UNION",
                                "AS",   "OFFSET", "EXCEPT", "INTERSECT", NULL};
    for (int k = 0; kws[k]; k++)
        if (is_kw(t, kws[k]))
            return true;
    return false;
}

static void out_add(P *p, const char *name, int type)
{
    p->outs = sl_xrealloc(p->outs, (size_t)(p->n_outs + 1) * sizeof(*p->outs));
    p->outs[p->n_outs].name = sl_xstrdup(name);
    p->outs[p->n_outs].type = type == EMU_T_NULL ? EMU_T_STRING : (emu_type)type;
    p->n_outs++;
}

/* Default output name for an unaliased expression: its source text. */
static char *expr_name(P *p, size_t from, size_t to)
{
    tok *a = &p->lx.t[from], *b = &p->lx.t[to - 1];
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
        tok *t = &p->lx.t[k];
        if (t->k == TK_IDENT && is_op(&p->lx.t[k + 1], "("))
            for (size_t c = 0; c < t->len; c++)
                s[t->off - a->off + c] = (char)tolower((unsigned char)s[t->off - a->off + c]);
    }
    return s;
}

static bool p_select_items(P *p, sl_buf *o)
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
            star_src = find_src(p, q);
            if (star_src < 0) {
                fail(p, EMU_E_INVALID, "CANNOT_RESOLVE_STAR_EXPAND", "42704",
                     "Cannot resolve `%s`.* given input columns.", q);
                return false;
            }
            p->i += 2;
            star = true;
        }
        if (star) {
            p->i++;
            if (!p->has_from) {
                fail(p, EMU_E_INVALID, "INVALID_USAGE_OF_STAR_OR_REGEX", "42000",
                     "Invalid usage of '*' without FROM.");
                return false;
            }
            int n_star = 0;
            for (int k = 0; k < p->n_cols; k++) {
                if (star_src >= 0 && p->col_src[k] != star_src)
                    continue;
                sl_buf_printf(o, "%s", n_star++ ? ", " : "");
                put_col(p, o, k);
                if (p->n_src > 1) {
                    sl_buf_puts(o, " AS ");
                    sl__sql_put_ident(o, p->cols[k].name);
                }
                out_add(p, p->cols[k].name, (int)p->cols[k].type);
            }
        } else {
            size_t start = p->i;
            sl_buf x = {0};
            int t = p_expr(p, &x);
            if (t == T_ERR) {
                sl_buf_free(&x);
                return false;
            }
            size_t end = p->i;
            char *name = NULL;
            if (accept_kw(p, "AS") || (is_name_tok(cur(p)) && !is_clause_kw(cur(p)))) {
                if (!is_name_tok(cur(p))) {
                    sl_buf_free(&x);
                    fail_syntax(p);
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
static bool p_select(P *p, sl_buf *o)
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
        tok *t = &p->lx.t[k];
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
            return fail_syntax(p), false;
        sl_buf_printf(o, " FROM %s", p->from_sql);
        p->i = after_from;
    }
    if (accept_kw(p, "WHERE")) {
        sl_buf_puts(o, " WHERE ");
        if (p_expr(p, o) == T_ERR)
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
            } else if (p_expr(p, o) == T_ERR) {
                return false;
            }
        } while (accept_op(p, ",") && (sl_buf_puts(o, ", "), true));
    }
    if (accept_kw(p, "HAVING")) {
        sl_buf_puts(o, " HAVING ");
        if (p_expr(p, o) == T_ERR)
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
            } else if (p_expr(p, o) == T_ERR) {
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
            if (!bind_param(p, cur(p)->text, &idx))
                return false;
            sl_buf_printf(o, " LIMIT ?%d", idx);
            p->i++;
        } else {
            return fail_syntax(p), false;
        }
        if (accept_kw(p, "OFFSET")) {
            if (cur(p)->k != TK_NUMBER)
                return fail_syntax(p), false;
            sl_buf_printf(o, " OFFSET %s", cur(p)->text);
            p->i++;
        }
    }
    if (is_kw(cur(p), "UNION") || is_kw(cur(p), "EXCEPT") || is_kw(cur(p), "INTERSECT"))
        return fail_unsupported(p, "set operations (UNION/EXCEPT/INTERSECT)"), false;
    return true;
}

/* ------------------------------------------------------------------ execution */

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

static void result_cols(emu_result *r, const scope_col *cols, int n)
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
    const P *p = arg;
    return p->ctx->canceled && atomic_load(p->ctx->canceled);
}

static bool sqlite_fail(P *p, const char *what)
{
    const char *m = sqlite3_errmsg(p->db);
    int code = sqlite3_errcode(p->db);
    if (code == SQLITE_INTERRUPT || canceled(p)) {
        fail(p, EMU_E_CANCELED, "OPERATION_CANCELED", "HY008", "The statement was canceled.");
    } else if (strncmp(m, EMU_CAST_ERR_PREFIX, strlen(EMU_CAST_ERR_PREFIX)) == 0) {
        fail(p, EMU_E_RUNTIME, "CAST_INVALID_INPUT", "22018", "%s",
             m + strlen(EMU_CAST_ERR_PREFIX));
    } else if (strstr(m, "misuse of aggregate") || strstr(m, "aggregate functions are not")) {
        fail(p, EMU_E_INVALID, "MISSING_GROUP_BY", "42803",
             "The query does not include a GROUP BY clause, or uses an aggregate where it is not "
             "allowed (%s).",
             m);
    } else {
        fail(p, EMU_E_INTERNAL, "INTERNAL_ERROR", "XX000", "%s: %s", what, m);
    }
    return false;
}

static sqlite3_stmt *prepare(P *p, const char *sql)
{
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    if (sqlite3_prepare_v2(p->db, sql, -1, &st, &tail) != SQLITE_OK) {
        sqlite_fail(p, "prepare");
        return NULL;
    }
    if (tail && *tail) {
        sqlite3_finalize(st);
        fail(p, EMU_E_INTERNAL, "INTERNAL_ERROR", "XX000", "translator produced two statements");
        return NULL;
    }
    bind_all(p, st);
    return st;
}

static bool run_query(P *p, const char *sql, emu_result *out)
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
            fail(p, EMU_E_RUNTIME, "INLINE_RESULT_TOO_LARGE", "54000",
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

static bool txn(P *p, const char *sql)
{
    emu_err tmp = {0};
    if (!sl__emu_db_exec(p->db, sql, &tmp)) {
        fail(p, EMU_E_INTERNAL, "INTERNAL_ERROR", "XX000", "%s", tmp.msg);
        return false;
    }
    return true;
}

static bool uc_fail(P *p, const emu_err *e)
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
    static const scope_col cols[] = {{"num_affected_rows", EMU_T_BIGINT},
                                     {"num_inserted_rows", EMU_T_BIGINT}};
    result_cols(out, cols, 2);
    char *row[2];
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", (long long)n);
    row[0] = sl_xstrdup(buf);
    row[1] = sl_xstrdup(buf);
    result_row(out, row);
}

/* CREATE [OR REPLACE] TABLE [IF NOT EXISTS] name [USING DELTA] [COMMENT '..'] AS SELECT ... */
static bool x_ctas(P *p, bool or_replace, emu_result *out)
{
    bool if_not_exists = false;
    if (accept_kw(p, "IF")) {
        if (!expect_kw(p, "NOT") || !expect_kw(p, "EXISTS"))
            return false;
        if_not_exists = true;
    }
    qname q = {0};
    if (!parse_qname(p, 3, &q))
        return false;
    bool ok = false;
    if (is_op(cur(p), "(")) {
        fail_unsupported(p, "CREATE TABLE with a column list (use CREATE TABLE ... AS SELECT)");
        goto out;
    }
    if (accept_kw(p, "USING") && !is_name_tok(&p->lx.t[p->i++])) {
        fail_syntax(p);
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
            fail(p, EMU_E_EXISTS, "TABLE_OR_VIEW_ALREADY_EXISTS", "42P07",
                 "Cannot create table or view `%s`.`%s`.`%s` because it already exists. Choose "
                 "a different name, drop the existing object, or add the IF NOT EXISTS clause.",
                 q.c, q.s, q.t);
            goto rollback;
        }
    }
    sl_buf sel = {0};
    if (!p_select(p, &sel) || cur(p)->k != TK_EOF) {
        if (!p->failed)
            fail_syntax(p);
        sl_buf_free(&sel);
        goto rollback;
    }
    for (int k = 0; k < p->n_outs; k++)
        for (int j = 0; j < k; j++)
            if (strcasecmp(p->outs[j].name, p->outs[k].name) == 0) {
                fail(p, EMU_E_INVALID, "COLUMN_ALREADY_EXISTS", "42711",
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
    static const char *aff[] = {"", "TEXT", "INTEGER", "INTEGER", "REAL", "INTEGER", "TEXT", "TEXT"};
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
    qname_free(&q);
    return ok;
}

static bool accept_if_not_exists(P *p, bool *flag)
{
    *flag = false;
    if (!accept_kw(p, "IF"))
        return true;
    if (!expect_kw(p, "NOT") || !expect_kw(p, "EXISTS"))
        return false;
    *flag = true;
    return true;
}

static bool accept_if_exists(P *p, bool *flag)
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
static char *p_create_tail(P *p)
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

static bool end_of_stmt(P *p)
{
    if (cur(p)->k == TK_EOF)
        return true;
    fail_syntax(p);
    return false;
}

static bool x_create(P *p, emu_result *out)
{
    bool or_replace = false;
    if (accept_kw(p, "OR")) {
        if (!expect_kw(p, "REPLACE"))
            return false;
        or_replace = true;
    }
    if (accept_kw(p, "TABLE"))
        return x_ctas(p, or_replace, out);
    int want = accept_kw(p, "CATALOG")                                 ? 1
               : (accept_kw(p, "SCHEMA") || accept_kw(p, "DATABASE")) ? 2
               : (accept_kw(p, "VOLUME") ||
                  (accept_kw(p, "EXTERNAL") && is_kw(cur(p), "VOLUME") && (p->i++, true)))
                   ? 3
                   : 0;
    if (!want) {
        char what[96];
        snprintf(what, sizeof(what), "CREATE %s", cur(p)->text);
        return fail_unsupported(p, what), false;
    }
    bool ine;
    qname q = {0};
    if (!accept_if_not_exists(p, &ine) || !parse_qname(p, want, &q))
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
    qname_free(&q);
    if (ok)
        result_cols(out, NULL, 0);
    return ok;
}

static bool x_drop(P *p, emu_result *out)
{
    int want = accept_kw(p, "TABLE")                                   ? 3
               : accept_kw(p, "VOLUME")                                ? 4
               : (accept_kw(p, "SCHEMA") || accept_kw(p, "DATABASE")) ? 2
               : accept_kw(p, "CATALOG")                               ? 1
                                                                       : 0;
    if (!want) {
        char what[96];
        snprintf(what, sizeof(what), "DROP %s", cur(p)->text);
        return fail_unsupported(p, what), false;
    }
    bool ie;
    qname q = {0};
    if (!accept_if_exists(p, &ie) || !parse_qname(p, want == 4 ? 3 : want, &q))
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
    qname_free(&q);
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
static bool list_rows(P *p, const char *sql, const char **args, int nargs, const char *like,
                      int like_col, emu_result *out, bool add_false)
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

static bool x_show(P *p, emu_result *out)
{
    int what = accept_kw(p, "TABLES")                                    ? 3
               : (accept_kw(p, "SCHEMAS") || accept_kw(p, "DATABASES")) ? 2
               : accept_kw(p, "CATALOGS")                                ? 1
                                                                         : 0;
    if (!what) {
        char w[96];
        snprintf(w, sizeof(w), "SHOW %s", cur(p)->text);
        return fail_unsupported(p, w), false;
    }
    qname q = {0};
    bool ok = true;
    if (what > 1 && (accept_kw(p, "IN") || accept_kw(p, "FROM"))) {
        ok = parse_qname(p, what == 3 ? 2 : 1, &q);
    } else if (what == 3) {
        q.c = sl_xstrdup(default_catalog(p));
        q.s = sl_xstrdup(default_schema(p));
    } else if (what == 2) {
        q.c = sl_xstrdup(default_catalog(p));
    }
    char *like = NULL;
    if (ok && (accept_kw(p, "LIKE") || cur(p)->k == TK_STRING)) {
        if (cur(p)->k != TK_STRING) {
            fail_syntax(p);
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
        static const scope_col cols[] = {
            {"database", EMU_T_STRING}, {"tableName", EMU_T_STRING}, {"isTemporary", EMU_T_BOOLEAN}};
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
        static const scope_col cols[] = {{"databaseName", EMU_T_STRING}};
        const char *args[] = {q.c};
        if (ok) {
            result_cols(out, cols, 1);
            ok = list_rows(p, "SELECT name FROM uc_schema WHERE catalog=? ORDER BY name", args, 1,
                           like, 0, out, false);
        }
    } else if (ok) {
        static const scope_col cols[] = {{"catalog", EMU_T_STRING}};
        result_cols(out, cols, 1);
        ok = list_rows(p, "SELECT name FROM uc_catalog ORDER BY name", NULL, 0, like, 0, out,
                       false);
    }
    free(like);
    qname_free(&q);
    return ok;
}

static bool x_describe(P *p, emu_result *out)
{
    (void)accept_kw(p, "TABLE");
    (void)(accept_kw(p, "EXTENDED") || accept_kw(p, "FORMATTED"));
    qname q = {0};
    if (!parse_qname(p, 3, &q))
        return false;
    bool ok = end_of_stmt(p);
    emu_table_info ti;
    emu_err ue = {0};
    if (ok && !sl__emu_uc_table_get(p->db, q.c, q.s, q.t, &ti, &ue)) {
        ue.kind = EMU_E_INVALID;
        ok = uc_fail(p, &ue);
    }
    if (ok) {
        static const scope_col cols[] = {
            {"col_name", EMU_T_STRING}, {"data_type", EMU_T_STRING}, {"comment", EMU_T_STRING}};
        result_cols(out, cols, 3);
        for (int k = 0; k < ti.n_cols; k++) {
            char *row[3] = {sl_xstrdup(ti.cols[k].name),
                            sl_xstrdup(sl__emu_type_lower(ti.cols[k].type)), NULL};
            result_row(out, row);
        }
        sl__emu_table_info_free(&ti);
    }
    qname_free(&q);
    return ok;
}

static void p_cleanup(P *p)
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
    lex_free(&p->lx);
}

/* A value of type `from` stored into a column of type `to`, cast as Spark's store assignment
 * does (a value that does not convert fails the statement). */
static void emit_store(sl_buf *o, const char *x, int from, emu_type to)
{
    if (from == (int)to || from == EMU_T_NULL || (is_int_type(from) && is_int_type((int)to)))
        sl_buf_puts(o, x);
    else if (to == EMU_T_STRING)
        emit_string_of(o, x, from);
    else
        sl_buf_printf(o, "sl_cast(%s, '%s', '%s')", x, sl__emu_type_text(to),
                      sl__emu_type_text((emu_type)from));
}

/*
 * INSERT INTO [TABLE] name [(col, ...)] VALUES (expr, ...)[, (...)] | SELECT ...
 * Columns left out of the list are NULL. Result: num_affected_rows, num_inserted_rows.
 */
static bool x_insert(P *p, emu_result *out)
{
    if (!expect_kw(p, "INTO"))
        return false;
    (void)accept_kw(p, "TABLE");
    qname q = {0};
    if (!parse_qname(p, 3, &q))
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
            tok *t = cur(p);
            if (!is_name_tok(t)) {
                fail_syntax(p);
                goto rollback;
            }
            int k = 0;
            while (k < ti.n_cols && strcasecmp(ti.cols[k].name, t->text) != 0)
                k++;
            if (k == ti.n_cols) {
                fail(p, EMU_E_INVALID, "UNRESOLVED_COLUMN.WITH_SUGGESTION", "42703",
                     "A column, variable, or function parameter with name `%s` cannot be "
                     "resolved. Table `%s`.`%s`.`%s` has no such column.",
                     t->text, q.c, q.s, q.t);
                goto rollback;
            }
            for (int j = 0; j < n_target; j++)
                if (target[j] == k) {
                    fail(p, EMU_E_INVALID, "COLUMN_ALREADY_EXISTS", "42711",
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
                int t = p_expr(p, &x);
                if (t == T_ERR) {
                    sl_buf_free(&x);
                    goto rollback;
                }
                if (n < n_target) {
                    if (n)
                        sl_buf_puts(&sql, ", ");
                    emit_store(&sql, sl_buf_str(&x), t, ti.cols[target[n]].type);
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
        if (!p_select(p, &sel)) {
            sl_buf_free(&sel);
            goto rollback;
        }
        sl_buf_puts(&sql, sl_buf_str(&sel));
        sl_buf_free(&sel);
        if (p->n_outs != n_target)
            n_data = p->n_outs;
    } else {
        fail_syntax(p);
        goto rollback;
    }
    if (n_data >= 0) {
        fail(p, EMU_E_INVALID, "INSERT_COLUMN_ARITY_MISMATCH", "21S01",
             "Cannot write to `%s`.`%s`.`%s`: the target has %d columns but the data has %d.",
             q.c, q.s, q.t, n_target, n_data);
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
    qname_free(&q);
    return ok;
}

static void affected_only_result(emu_result *out, int64_t n)
{
    static const scope_col cols[] = {{"num_affected_rows", EMU_T_BIGINT}};
    result_cols(out, cols, 1);
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", (long long)n);
    char *row[1] = {sl_xstrdup(buf)};
    result_row(out, row);
}

/* The table an UPDATE or DELETE changes, [AS] alias included: its columns become the scope.
 * *phys gets its quoted SQLite name. */
static bool p_dml_target(P *p, char **phys)
{
    p->has_from = true;
    p->n_src = 0;
    src_push(p, NULL, NULL);
    return p_table_source(p, phys, &p->srcs[0].name) && p_source_alias(p, &p->srcs[0].alias);
}

/* Run one data-changing statement in its own transaction; *n = rows changed. */
static bool run_dml(P *p, const char *sql, int64_t *n)
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
static bool where_and_run(P *p, sl_buf *sql, emu_result *out)
{
    if (accept_kw(p, "WHERE")) {
        sl_buf_puts(sql, " WHERE ");
        if (p_expr(p, sql) == T_ERR)
            return false;
    }
    int64_t n;
    if (!end_of_stmt(p) || !run_dml(p, sl_buf_str(sql), &n))
        return false;
    affected_only_result(out, n);
    return true;
}

/* DELETE FROM name [[AS] alias] [WHERE cond]. Result: num_affected_rows. */
static bool x_delete(P *p, emu_result *out)
{
    char *phys = NULL;
    if (!expect_kw(p, "FROM") || !p_dml_target(p, &phys)) {
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
static bool x_update(P *p, emu_result *out)
{
    char *phys = NULL;
    sl_buf sql = {0};
    bool ok = false;
    if (!p_dml_target(p, &phys) || !expect_kw(p, "SET"))
        goto out;
    sl_buf_printf(&sql, "UPDATE %s SET ", phys);
    int n_set = 0;
    do {
        /* col or alias.col */
        if (is_name_tok(cur(p)) && is_op(peek_at(p, 1), ".") && is_name_tok(peek_at(p, 2))) {
            if (find_src(p, cur(p)->text) != 0) {
                fail(p, EMU_E_INVALID, "UNRESOLVED_COLUMN.WITHOUT_SUGGESTION", "42703",
                     "A column with name `%s`.`%s` cannot be resolved.", cur(p)->text,
                     peek_at(p, 2)->text);
                goto out;
            }
            p->i += 2;
        }
        tok *t = cur(p);
        if (!is_name_tok(t)) {
            fail_syntax(p);
            goto out;
        }
        int k = 0;
        while (k < p->n_cols && strcasecmp(p->cols[k].name, t->text) != 0)
            k++;
        if (k == p->n_cols) {
            fail(p, EMU_E_INVALID, "UNRESOLVED_COLUMN.WITH_SUGGESTION", "42703",
                 "A column, variable, or function parameter with name `%s` cannot be "
                 "resolved.",
                 t->text);
            goto out;
        }
        p->i++;
        if (!expect_op(p, "="))
            goto out;
        sl_buf x = {0};
        int xt = p_expr(p, &x);
        if (xt == T_ERR) {
            sl_buf_free(&x);
            goto out;
        }
        if (n_set++)
            sl_buf_puts(&sql, ", ");
        sl__sql_put_ident(&sql, p->cols[k].name);
        sl_buf_puts(&sql, " = ");
        emit_store(&sql, sl_buf_str(&x), xt, p->cols[k].type);
        sl_buf_free(&x);
    } while (accept_op(p, ","));
    ok = where_and_run(p, &sql, out);
out:
    free(phys);
    sl_buf_free(&sql);
    return ok;
}

static bool dispatch(P *p, emu_result *out)
{
    tok *t = cur(p);
    if (is_kw(t, "SELECT")) {
        sl_buf sql = {0};
        bool ok = p_select(p, &sql) && end_of_stmt(p) && run_query(p, sl_buf_str(&sql), out);
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
        return fail(p, EMU_E_PARSE, "PARSE_EMPTY_STATEMENT", "42617",
                    "Syntax error, unexpected empty statement."),
               false;
    if (t->k == TK_IDENT) {
        char what[96];
        snprintf(what, sizeof(what), "the %s statement", t->text);
        for (char *c = what + 4; *c && *c != ' '; c++)
            *c = (char)toupper((unsigned char)*c);
        return fail_unsupported(p, what), false;
    }
    return fail_syntax(p), false;
}

bool sl__emu_sql_run(const emu_sql_ctx *ctx, const char *sql, emu_result *out, emu_err *e)
{
    memset(out, 0, sizeof(*out));
    memset(e, 0, sizeof(*e));
    P p = {.ctx = ctx, .src = sql, .e = e};
    if (!lex(sql, &p.lx, e)) {
        lex_free(&p.lx);
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
    P p = {.ctx = ctx, .src = sql, .e = e};
    char *res = NULL;
    if (lex(sql, &p.lx, e)) {
        p.db = sl__emu_db_acquire(ctx->store);
        sl_buf o = {0};
        if (p_select(&p, &o) && end_of_stmt(&p))
            res = sl_buf_take(&o);
        sl_buf_free(&o);
        p_cleanup(&p);
        sl__emu_db_release(ctx->store, p.db);
    } else {
        lex_free(&p.lx);
    }
    return res;
}
