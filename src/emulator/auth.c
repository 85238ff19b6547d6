/* auth.c - bearer checks (the PAT or an unexpired OAuth token) and the OAuth M2M
 * client-credentials endpoint. Tokens and secrets never reach logs or error messages. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "emulator_int.h"

static bool const_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = (unsigned char)(la != lb);
    for (size_t i = 0; i < la; i++)
        d |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
    return d == 0;
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Decode base64 (padding optional); NULL when malformed. */
static char *b64_decode(const char *s)
{
    size_t n = strlen(s);
    char *out = sl_xmalloc(n + 1);
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '=')
            break;
        int v = b64val(s[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    return out;
}

/* Value of key in an x-www-form-urlencoded body (owned) or NULL. */
static char *form_value(const char *body, size_t n, const char *key)
{
    size_t kl = strlen(key);
    const char *p = body, *end = body + n;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        if (eq && (size_t)(eq - p) == kl && memcmp(p, key, kl) == 0)
            return sl__pct_decode(eq + 1, (size_t)(e - eq - 1), true, NULL);
        p = e + 1;
    }
    return NULL;
}

static emu_hr oauth_error(emu_req *r, int status, const char *error, const char *desc)
{
    return sl__emu_reply_json(r, status, json_pack("{s:s, s:s}", "error", error,
                                                   "error_description", desc));
}

emu_hr sl__emu_oauth_token(emu_req *r)
{
    sl_emulator *emu = sl__emu_req_emu(r);
    size_t n;
    const char *body = sl__emu_req_body(r, &n);
    char *grant = form_value(body, n, "grant_type");
    char *id = NULL, *secret = NULL;
    const char *authz = sl__emu_req_header(r, "Authorization");
    if (authz && strncasecmp(authz, "Basic ", 6) == 0) {
        char *dec = b64_decode(authz + 6);
        char *colon = dec ? strchr(dec, ':') : NULL;
        if (colon) {
            *colon = '\0';
            id = sl__pct_decode(dec, strlen(dec), true, NULL);
            secret = sl__pct_decode(colon + 1, strlen(colon + 1), true, NULL);
        }
        free(dec);
    } else {
        id = form_value(body, n, "client_id");
        secret = form_value(body, n, "client_secret");
    }
    emu_hr hr;
    if (!grant || strcmp(grant, "client_credentials") != 0) {
        hr = oauth_error(r, 400, "unsupported_grant_type",
                         "Only grant_type=client_credentials is supported.");
    } else if (!emu->client_id || !emu->client_secret || !id || !secret ||
               !const_eq(id, emu->client_id) || !const_eq(secret, emu->client_secret)) {
        hr = oauth_error(r, 401, "invalid_client", "Client authentication failed.");
    } else {
        char hex[33], tok[48];
        sl_hexid_new(hex);
        snprintf(tok, sizeof(tok), "emu-oauth-%s", hex);
        int64_t *exp = sl_xmalloc(sizeof(*exp));
        *exp = sl_now_ms() + emu->opts.token_ttl_ms;
        pthread_mutex_lock(&emu->token_mu);
        sl__map_put(emu->tokens, tok, exp);
        pthread_mutex_unlock(&emu->token_mu);
        char *scope = form_value(body, n, "scope");
        json_int_t ttl_s = (json_int_t)((emu->opts.token_ttl_ms + 999) / 1000);
        hr = sl__emu_reply_json(r, 200,
                                json_pack("{s:s, s:s, s:I, s:s}", "access_token", tok,
                                          "token_type", "Bearer", "expires_in", ttl_s, "scope",
                                          scope ? scope : "all-apis"));
        free(scope);
    }
    free(grant);
    free(id);
    sl_secret_free(secret);
    return hr;
}

emu_hr sl__emu_oauth_discovery(emu_req *r)
{
    sl_emulator *emu = sl__emu_req_emu(r);
    const char *host = sl__emu_req_header(r, "Host");
    char base[300];
    if (host && *host && strlen(host) < 250 && !strpbrk(host, " \"\\"))
        snprintf(base, sizeof(base), "http://%s", host);
    else
        snprintf(base, sizeof(base), "%s", emu->url);
    char *tok = sl_xasprintf("%s/oidc/v1/token", base);
    char *authz = sl_xasprintf("%s/oidc/v1/authorize", base);
    char *iss = sl_xasprintf("%s/oidc", base);
    json_t *o = json_pack("{s:s, s:s, s:s, s:[s], s:[s]}", "issuer", iss, "token_endpoint", tok,
                          "authorization_endpoint", authz, "grant_types_supported",
                          "client_credentials", "token_endpoint_auth_methods_supported",
                          "client_secret_basic");
    free(tok);
    free(authz);
    free(iss);
    return sl__emu_reply_json(r, 200, o);
}

bool sl__emu_auth_check(emu_req *r)
{
    sl_emulator *emu = sl__emu_req_emu(r);
    const char *h = sl__emu_req_header(r, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
        sl__emu_reply_error(r, 401, "UNAUTHENTICATED",
                            "Credential was not sent or was of an unsupported type for this API.");
        return false;
    }
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    if (*tok && const_eq(tok, emu->token))
        return true;
    bool ok = false;
    pthread_mutex_lock(&emu->token_mu);
    int64_t *exp = sl__map_get(emu->tokens, tok);
    if (exp) {
        if (*exp > sl_now_ms())
            ok = true;
        else
            free(sl__map_del(emu->tokens, tok));
    }
    pthread_mutex_unlock(&emu->token_mu);
    if (!ok) {
        sl__emu_reply_error(r, 403, "PERMISSION_DENIED", "Invalid access token.");
        /* Real workspaces also say why in a header. */
        sl__emu_reply_header(r, "X-Databricks-Reason-Phrase", "Invalid access token.");
    }
    return ok;
}

size_t sl__emu_tokens_expire_all(sl_emulator *emu)
{
    size_t it = 0, n = 0;
    const char *k;
    void *v;
    pthread_mutex_lock(&emu->token_mu);
    while (sl__map_next(emu->tokens, &it, &k, &v)) {
        *(int64_t *)v = 0; /* the next check rejects it (403) and forgets it */
        n++;
    }
    pthread_mutex_unlock(&emu->token_mu);
    return n;
}

void sl__emu_tokens_free(sl_emulator *emu)
{
    sl__map_free(emu->tokens, free);
    emu->tokens = NULL;
}
