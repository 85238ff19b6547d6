/*
 * sql_lex.c - the tokens of a Databricks SQL statement: the lexer (identifiers, `quoted`
 * names, '' and "" strings with escapes and adjacent-literal concatenation, numbers,
 * :params, operators, comments; one statement per request), the parser's error reporting
 * (the first failure wins), and dotted object names with their default catalog and schema,
 * including IDENTIFIER('a.b') and IDENTIFIER(:param).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sql_int.h"

/* ------------------------------------------------------------------ lexer */

void sl__sql_lex_free(sql_lexed *lx)
{
    for (size_t i = 0; i < lx->n; i++)
        free(lx->t[i].text);
    free(lx->t);
    lx->t = NULL;
    lx->n = 0;
}

static void lex_push(sql_lexed *lx, sql_tk_kind k, size_t off, size_t len, char *text)
{
    lx->t = sl_xrealloc(lx->t, (lx->n + 1) * sizeof(*lx->t));
    lx->t[lx->n++] = (sql_tok){k, off, len, text};
}

static void syntax_err(emu_err *e, const char *near)
{
    sl__emu_err_set(e, EMU_E_PARSE, "BAD_REQUEST", "PARSE_SYNTAX_ERROR", "42601",
                    "Syntax error at or near '%.60s'.", near);
}

bool sl__sql_lex(const char *s, sql_lexed *lx, emu_err *e)
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
                    sl_buf_putc(&sb, x == 'n'   ? '\n'
                                     : x == 't' ? '\t'
                                     : x == 'r' ? '\r'
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
                sql_tok *prev = &lx->t[lx->n - 1];
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
                if (sl_str_has_prefix(s + i, ops2[k]))
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

/* ------------------------------------------------------------------ errors */

int sl__sql_fail(sql_parser *p, emu_ekind kind, const char *cls, const char *state, const char *fmt,
                 ...)
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

int sl__sql_fail_syntax(sql_parser *p)
{
    sql_tok *t = cur(p);
    if (t->k == TK_EOF)
        return sl__sql_fail(p, EMU_E_PARSE, "PARSE_SYNTAX_ERROR", "42601",
                            "Syntax error at or near end of input.");
    return sl__sql_fail(p, EMU_E_PARSE, "PARSE_SYNTAX_ERROR", "42601",
                        "Syntax error at or near '%.60s'.", t->text);
}

int sl__sql_fail_unsupported(sql_parser *p, const char *what)
{
    return sl__sql_fail(p, EMU_E_UNSUPPORTED, "UNSUPPORTED_FEATURE", "0A000",
                        "The feature is not supported: %s is not supported by the Sluice emulator.",
                        what);
}

/* ------------------------------------------------------------------ object names */

void sl__sql_qname_free(sql_qname *q)
{
    free(q->c);
    free(q->s);
    free(q->t);
    memset(q, 0, sizeof(*q));
}

static bool valid_object_name(sql_parser *p, const char *n)
{
    if (!*n || strlen(n) > 255) {
        sl__sql_fail(p, EMU_E_INVALID, "INVALID_IDENTIFIER", "42602",
                     "The identifier '%s' is invalid.", n);
        return false;
    }
    for (const char *c = n; *c; c++) {
        if (*c == '.' || *c == ' ' || *c == '/' || (unsigned char)*c < 0x20 || *c == 0x7f) {
            sl__sql_fail(p, EMU_E_INVALID, "INVALID_SCHEMA_OR_RELATION_NAME", "42602",
                         "`%s` is not a valid name for tables/schemas. Valid names only contain "
                         "alphabet characters, numbers and _.",
                         n);
            return false;
        }
    }
    return true;
}

/* Parts of a name written as IDENTIFIER('a.b') / IDENTIFIER(:p). */
static int identifier_clause(sql_parser *p, char **parts, int max)
{
    p->i += 2; /* IDENTIFIER ( */
    sql_tok *t = cur(p);
    const char *txt = NULL;
    if (t->k == TK_STRING) {
        txt = t->text;
    } else if (t->k == TK_PARAM) {
        int idx;
        if (!sl__sql_param_bind(p, t->text, &idx))
            return -1;
        txt = sl__sql_param_find(p, t->text)->value;
        if (!txt) {
            sl__sql_fail(p, EMU_E_INVALID, "INVALID_SQL_ARG", "42K08",
                         "The argument of IDENTIFIER must not be NULL.");
            return -1;
        }
    } else {
        sl__sql_fail_syntax(p);
        return -1;
    }
    p->i++;
    if (!expect_op(p, ")"))
        return -1;
    sql_lexed sub = {0};
    emu_err tmp = {0};
    int n = 0;
    if (!sl__sql_lex(txt, &sub, &tmp)) {
        sl__sql_fail(p, EMU_E_PARSE, "PARSE_SYNTAX_ERROR", "42601", "Invalid IDENTIFIER '%s'.",
                     txt);
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
    sl__sql_lex_free(&sub);
    if (n <= 0) {
        for (int k = 0; k < max; k++) {
            free(parts[k]);
            parts[k] = NULL;
        }
        sl__sql_fail(p, EMU_E_PARSE, "PARSE_SYNTAX_ERROR", "42601", "Invalid IDENTIFIER '%s'.",
                     txt);
        return -1;
    }
    return n;
}

/* Parse a 1..max-part dotted name into parts (owned, original case). */
static int parse_parts(sql_parser *p, char **parts, int max)
{
    if (is_kw(cur(p), "IDENTIFIER") && is_op(peek_at(p, 1), "("))
        return identifier_clause(p, parts, max);
    int n = 0;
    for (;;) {
        if (!is_name_tok(cur(p)) || n >= max) {
            for (int k = 0; k < n; k++)
                free(parts[k]);
            sl__sql_fail_syntax(p);
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

const char *sl__sql_default_catalog(sql_parser *p)
{
    return p->ctx->catalog && *p->ctx->catalog ? p->ctx->catalog : "main";
}

const char *sl__sql_default_schema(sql_parser *p)
{
    return p->ctx->schema && *p->ctx->schema ? p->ctx->schema : "default";
}

/* Object name with `want` parts (3 for tables/volumes, 2 for schemas, 1 for catalogs),
 * missing leading parts taken from the request's catalog/schema. */
bool sl__sql_qname_parse(sql_parser *p, int want, sql_qname *q)
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
            full[k] = sl_xstrdup(sl__sql_default_catalog(p));
        else
            full[k] =
                sl_xstrdup(want == 3 ? sl__sql_default_schema(p) : sl__sql_default_catalog(p));
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
            sl__sql_qname_free(q);
            return false;
        }
    return true;
}
