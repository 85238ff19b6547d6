/*
 * test_dbx_emulator.h - helpers for the client-against-emulator tests: start the real
 * emulator in this process (sl_emulator_start on 127.0.0.1 port 0, a fresh data dir),
 * build a PAT or OAuth client for it, and talk to its /_emulator/ control endpoints
 * (stats, faults) with plain libcurl so those requests never touch the client's stats.
 */
#ifndef SLUICE_TEST_DBX_EMULATOR_H
#define SLUICE_TEST_DBX_EMULATOR_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/dbx.h"
#include "sluice/emulator.h"

#define TE_TOKEN "dapi-it-0123456789abcdef"

/* Start an emulator; aborts the test binary when it cannot (nothing else can run). */
static inline sl_emulator *te_start(const sl_emulator_opts *o)
{
    sl_emulator *emu = NULL;
    sl_err err;
    sl_err_clear(&err);
    if (sl_emulator_start(o, &emu, &err) != SL_OK) {
        fprintf(stderr, "emulator start failed: %s\n", err.msg);
        abort();
    }
    return emu;
}

/* Default options for these tests: our PAT, no Genie rate limit, quick Genie answers. */
static inline void te_opts(sl_emulator_opts *o)
{
    sl_emulator_opts_init(o);
    o->token = TE_TOKEN;
    o->genie_rate = "0";
    o->genie_latency_ms = 150;
    o->statement_latency_ms = 60;
}

/* A client for `emu`: PAT, or OAuth M2M when client_id is given. Short backoffs so
 * retried faults cost milliseconds. */
static inline sl_dbx_client *te_client(sl_emulator *emu, const char *client_id,
                                       const char *client_secret, int max_retries)
{
    sl_dbx_settings s;
    sl_dbx_settings_init(&s);
    s.host = (char *)sl_emulator_url(emu);
    if (client_id) {
        s.auth = SL_DBX_AUTH_OAUTH_M2M;
        s.client_id = (char *)client_id;
        s.client_secret = (char *)client_secret;
    } else {
        s.auth = SL_DBX_AUTH_PAT;
        s.token = TE_TOKEN;
    }
    s.retry.max_retries = max_retries;
    s.retry.initial_backoff_s = 0.002;
    s.retry.max_backoff_s = 0.02;
    s.retry.backoff_multiplier = 2.0;
    sl_dbx_client *c = NULL;
    sl_err err;
    sl_err_clear(&err);
    if (sl_dbx_client_new(&s, &c, &err) != SL_OK) { /* s borrows: no cleanup */
        fprintf(stderr, "client: %s\n", err.msg);
        abort();
    }
    return c;
}

typedef struct te_buf {
    char *p;
    size_t n;
} te_buf;

static inline size_t te_collect(char *d, size_t sz, size_t nm, void *arg)
{
    te_buf *b = arg;
    size_t n = sz * nm;
    b->p = sl_xrealloc(b->p, b->n + n + 1);
    memcpy(b->p + b->n, d, n);
    b->n += n;
    b->p[b->n] = '\0';
    return n;
}

/* A control request (no auth); returns the parsed JSON body (owned) or NULL, and the
 * status in *status when given. */
static inline json_t *te_ctl(sl_emulator *emu, const char *method, const char *path,
                             const char *body, long *status)
{
    CURL *h = curl_easy_init();
    char *url = sl_xasprintf("%s%s", sl_emulator_url(emu), path);
    te_buf b = {0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, te_collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    long st = 0;
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
    curl_easy_cleanup(h);
    free(url);
    if (status)
        *status = st;
    json_t *j = b.p ? json_loads(b.p, 0, NULL) : NULL;
    free(b.p);
    return j;
}

static inline json_t *te_stats(sl_emulator *emu)
{
    return te_ctl(emu, "GET", "/_emulator/stats", NULL, NULL);
}

/* stats.requests["METHOD /pattern"], 0 when absent. */
static inline long long te_route(const json_t *stats, const char *key)
{
    return (long long)json_integer_value(json_object_get(json_object_get(stats, "requests"), key));
}

/* Requests the emulator counted outside its /_emulator/ control endpoints. */
static inline long long te_api_requests(const json_t *stats)
{
    long long n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(stats, "requests"), k, v)
    {
        if (!strstr(k, " /_emulator/"))
            n += (long long)json_integer_value(v);
    }
    return n;
}

static inline long long te_count(const json_t *stats, const char *group, const char *key)
{
    return (long long)json_integer_value(json_object_get(json_object_get(stats, group), key));
}

#endif
