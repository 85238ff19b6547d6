/*
 * auth.c - OAuth machine-to-machine tokens: client credentials at {host}/oidc/v1/token
 * (HTTP Basic client_id:client_secret, grant_type=client_credentials, scope=all-apis),
 * cached per client and shared by its threads.
 *
 * Refresh rule: a token obtained at t with lifetime L is replaced from
 *   t + L - margin,  margin = min(max(10% of L, 60 s), 50% of L)
 * i.e. at 90% of its life or 60 s before expiry, whichever is sooner (the 50% bound
 * keeps very short test tokens usable). The mutex is held across the fetch, so when a
 * token falls due while many threads run, exactly one of them fetches and the others
 * wait for its result. After a 401/403 the caller passes the generation it used; only
 * if nobody has replaced that token yet is it refreshed (again: exactly once).
 */
#include <stdlib.h>
#include <string.h>

#include "dbx_int.h"

#define DEFAULT_LIFETIME_S 3600

static int64_t refresh_margin_ms(int64_t life_ms)
{
    int64_t m = life_ms / 10;
    if (m < 60000)
        m = 60000;
    if (m > life_ms / 2)
        m = life_ms / 2;
    return m;
}

static sl_code fetch_token(sl_dbx_client *c, const sl_dbx_call *call, char **out_tok,
                           int64_t *out_life_ms, sl_err *err)
{
    sl__dbx_req req;
    sl__dbx_req_init(&req, "POST", "/oidc/v1/token", "OAuth token request");
    req.form = "grant_type=client_credentials&scope=all-apis";
    req.basic_user = c->s.client_id;
    req.basic_pass = c->s.client_secret;
    req.call = call;
    sl__dbx_resp resp;
    sl_code rc = sl__dbx_request(c, &req, &resp, err);
    if (rc != SL_OK) {
        /* a rejected client is an authentication failure whatever the status */
        if (err &&
            (err->http_status == 400 || err->http_status == 401 || err->http_status == 403) &&
            err->code != SL_EAUTH) {
            char prev[sizeof(err->msg)];
            snprintf(prev, sizeof(prev), "%s", err->msg);
            sl_err_set(err, SL_EAUTH, "authentication failed: %s", prev);
            err->retryable = false;
        }
        sl__dbx_resp_cleanup(&resp);
        return rc == SL_EAUTH || (err && err->code == SL_EAUTH) ? SL_EAUTH : rc;
    }
    json_error_t jerr;
    json_t *j = json_loadb(resp.body, resp.body_len, 0, &jerr);
    /* the body holds the token: wipe it before freeing */
    memset(resp.body, 0, resp.body_len);
    sl__dbx_resp_cleanup(&resp);
    const char *tok = sl__dbx_jstr(j, "access_token");
    if (!tok || !*tok) {
        json_decref(j);
        rc = sl_err_set(err, SL_EAUTH,
                        "authentication failed: OAuth token response has no "
                        "access_token");
        if (err)
            err->retryable = false;
        return rc;
    }
    json_t *exp = json_object_get(j, "expires_in");
    int64_t life_s = json_is_integer(exp)  ? json_integer_value(exp)
                     : json_is_real(exp)   ? (int64_t)json_real_value(exp)
                     : json_is_string(exp) ? strtoll(json_string_value(exp), NULL, 10)
                                           : DEFAULT_LIFETIME_S;
    if (life_s <= 0)
        life_s = DEFAULT_LIFETIME_S;
    *out_tok = sl_xstrdup(tok);
    *out_life_ms = life_s * 1000;
    json_object_set_new(j, "access_token", json_string("")); /* drop before decref */
    json_decref(j);
    return SL_OK;
}

sl_code sl__dbx_oauth_token(sl_dbx_client *c, const sl_dbx_call *call, uint64_t stale_gen,
                            char **out, uint64_t *out_gen, sl_err *err)
{
    *out = NULL;
    sl_code rc = SL_OK;
    pthread_mutex_lock(&c->tok_mu);
    int64_t now = sl_now_ms();
    bool due = !c->tok || now >= c->tok_refresh_at_ms || (stale_gen && stale_gen == c->tok_gen);
    if (due) {
        char *tok = NULL;
        int64_t life_ms = 0;
        rc = fetch_token(c, call, &tok, &life_ms, err);
        if (rc == SL_OK) {
            sl_secret_free(c->tok);
            c->tok = tok;
            c->tok_gen++;
            c->tok_refresh_at_ms = sl_now_ms() + life_ms - refresh_margin_ms(life_ms);
            SL__DBX_STAT_ADD(c, n_token_refreshes, 1);
            sl__dbx_log(c, SL_LOG_DEBUG, "dbx: new OAuth token (generation %llu, valid %lld s)",
                        (unsigned long long)c->tok_gen, (long long)(life_ms / 1000));
        }
    }
    if (rc == SL_OK) {
        *out = sl_xstrdup(c->tok);
        *out_gen = c->tok_gen;
    }
    pthread_mutex_unlock(&c->tok_mu);
    return rc;
}
