/*
 * redact.c - scrub credentials from text before it leaves src/dbx (error messages,
 * log lines, anything a caller might store in history). Patterns are matched by hand
 * on purpose: no regex engine, predictable cost, and every rule is unit-tested.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dbx_int.h"

#define MASK "[REDACTED]"

static bool is_tok_char(char ch)
{
    unsigned char c = (unsigned char)ch;
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '+' || c == '/' ||
           c == '=';
}

static bool is_ident(char ch)
{
    unsigned char c = (unsigned char)ch;
    return isalnum(c) || c == '_' || c == '-';
}

/* Length of a credential value starting at p: up to whitespace, quote or separator. */
static size_t value_len(const char *p)
{
    size_t n = 0;
    while (p[n] && !isspace((unsigned char)p[n]) && p[n] != '"' && p[n] != '\'' && p[n] != '&' &&
           p[n] != ',' && p[n] != ';' && p[n] != '}' && p[n] != ']' && p[n] != ')')
        n++;
    return n;
}

/*
 * Try each rule at position i (which starts a word). On a match, append the kept part
 * plus MASK to b and return how many input bytes were consumed; else 0.
 */
static size_t match_at(const char *t, size_t i, sl_buf *b)
{
    const char *p = t + i;
    /* Authorization: <anything to end of line> */
    if (strncasecmp(p, "authorization", 13) == 0) {
        size_t k = 13;
        if (p[k] == '"' || p[k] == '\'')
            k++;
        while (p[k] == ' ')
            k++;
        if (p[k] == ':' || p[k] == '=') {
            k++;
            while (p[k] == ' ' || p[k] == '"' || p[k] == '\'')
                k++;
            size_t v = 0;
            while (p[k + v] && p[k + v] != '\n' && p[k + v] != '\r' && p[k + v] != '"' &&
                   p[k + v] != '\'')
                v++;
            if (v > 0) {
                sl_buf_put(b, p, k);
                sl_buf_put(b, MASK, strlen(MASK));
                return k + v;
            }
        }
    }
    /* Bearer <x> / Basic <x> */
    static const char *const schemes[] = {"bearer", "basic"};
    for (size_t s = 0; s < 2; s++) {
        size_t sl = strlen(schemes[s]);
        if (strncasecmp(p, schemes[s], sl) == 0 && (p[sl] == ' ' || p[sl] == '\t')) {
            size_t k = sl;
            while (p[k] == ' ' || p[k] == '\t')
                k++;
            size_t v = 0;
            while (is_tok_char(p[k + v]))
                v++;
            if (v >= 4 && strncmp(p + k, MASK, strlen(MASK)) != 0) {
                sl_buf_put(b, p, k);
                sl_buf_put(b, MASK, strlen(MASK));
                return k + v;
            }
        }
    }
    /* dapi<hex> (PAT), dose<hex> (OAuth secret) */
    if (strncmp(p, "dapi", 4) == 0 || strncmp(p, "dose", 4) == 0) {
        size_t v = 4;
        while (isxdigit((unsigned char)p[v]) || p[v] == '-')
            v++;
        if (v >= 12) {
            sl_buf_put(b, MASK, strlen(MASK));
            return v;
        }
    }
    /* JWT: eyJ<b64url>.<b64url>[.<b64url>] */
    if (strncmp(p, "eyJ", 3) == 0) {
        size_t v = 0;
        int dots = 0;
        while (isalnum((unsigned char)p[v]) || p[v] == '-' || p[v] == '_' || p[v] == '.') {
            if (p[v] == '.')
                dots++;
            v++;
        }
        if (dots >= 1 && v >= 16) {
            sl_buf_put(b, MASK, strlen(MASK));
            return v;
        }
    }
    /* key = value / "key": "value" for secret-bearing keys; but a key name ending a
     * path and followed by ':' ("POST /oidc/v1/token: retry 1 ...") is not a key */
    static const char *const keys[] = {"access_token", "client_secret", "refresh_token", "id_token",
                                       "token",        "password",      "secret",        "pat"};
    bool after_slash = i > 0 && t[i - 1] == '/';
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        size_t kl = strlen(keys[k]);
        if (strncasecmp(p, keys[k], kl) != 0 || is_ident(p[kl]))
            continue;
        size_t q = kl;
        if (p[q] == '"' || p[q] == '\'')
            q++;
        while (p[q] == ' ')
            q++;
        if ((p[q] != ':' || after_slash) && p[q] != '=')
            continue;
        q++;
        while (p[q] == ' ')
            q++;
        if (p[q] == '"' || p[q] == '\'')
            q++;
        size_t v = value_len(p + q);
        if (v == 0 || strncmp(p + q, MASK, strlen(MASK)) == 0)
            continue;
        sl_buf_put(b, p, q);
        sl_buf_put(b, MASK, strlen(MASK));
        return q + v;
    }
    return 0;
}

/* Replace every occurrence of known secret literals. */
static char *replace_literals(char *s, const char *const *secrets)
{
    if (!secrets)
        return s;
    for (size_t k = 0; secrets[k]; k++) {
        const char *lit = secrets[k];
        size_t ll = strlen(lit);
        if (ll < 4 || !strstr(s, lit))
            continue;
        sl_buf b = SL_BUF_INIT;
        const char *p = s, *hit;
        while ((hit = strstr(p, lit)) != NULL) {
            sl_buf_put(&b, p, (size_t)(hit - p));
            sl_buf_put(&b, MASK, strlen(MASK));
            p = hit + ll;
        }
        sl_buf_put(&b, p, strlen(p));
        sl_secret_free(s);
        s = sl_buf_take(&b);
    }
    return s;
}

char *sl_dbx_redact(const char *text, const char *const *secrets)
{
    if (!text)
        return sl_xstrdup("");
    char *s = replace_literals(sl_xstrdup(text), secrets);
    sl_buf b = SL_BUF_INIT;
    size_t n = strlen(s), i = 0;
    while (i < n) {
        bool word_start = i == 0 || !is_ident(s[i - 1]);
        size_t used = word_start ? match_at(s, i, &b) : 0;
        if (used) {
            i += used;
            continue;
        }
        sl_buf_putc(&b, s[i]);
        i++;
    }
    sl_secret_free(s);
    return sl_buf_take(&b);
}

void sl_dbx_redact_buf(char *buf, size_t buf_len, const char *const *secrets)
{
    if (!buf || buf_len == 0)
        return;
    char *r = sl_dbx_redact(buf, secrets);
    size_t n = strlen(r);
    if (n >= buf_len)
        n = buf_len - 1;
    memcpy(buf, r, n);
    buf[n] = '\0';
    free(r);
}

void sl__dbx_redact_err(const sl_dbx_client *c, sl_err *err)
{
    if (!err)
        return;
    sl_dbx_redact_buf(err->msg, sizeof(err->msg), c ? c->secrets : NULL);
}

void sl__dbx_log(const sl_dbx_client *c, sl_log_level lvl, const char *fmt, ...)
{
    if (lvl < sl_log_get_level())
        return;
    va_list ap;
    va_start(ap, fmt);
    char *line = sl_xvasprintf(fmt, ap);
    va_end(ap);
    char *safe = sl_dbx_redact(line, c ? c->secrets : NULL);
    sl_log(lvl, "%s", safe);
    free(safe);
    free(line);
}
