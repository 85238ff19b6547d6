/* control.c - /_emulator/... endpoints for tests (no auth, 127.0.0.1 only) and the stats
 * counters behind them. Counters are small JSON values under stats_mu; the lists of
 * statements and Genie questions are capped so a long run stays bounded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emulator_int.h"

#define MAX_LIST 20000

void sl__emu_stats_init(sl_emulator *emu)
{
    emu->st_requests = sl_json_check(json_object());
    emu->st_statuses = sl_json_check(json_object());
    emu->st_faults = sl_json_check(json_object());
    emu->st_uploads = sl_json_check(json_object());
    emu->st_genie = sl_json_check(json_array());
    emu->st_statements = sl_json_check(json_array());
    emu->st_429s = emu->st_total = 0;
}

void sl__emu_stats_free(sl_emulator *emu)
{
    json_decref(emu->st_requests);
    json_decref(emu->st_statuses);
    json_decref(emu->st_faults);
    json_decref(emu->st_uploads);
    json_decref(emu->st_genie);
    json_decref(emu->st_statements);
    emu->st_requests = emu->st_statuses = emu->st_faults = NULL;
    emu->st_uploads = emu->st_genie = emu->st_statements = NULL;
}

static void bump(json_t *obj, const char *key, json_int_t by)
{
    json_t *v = json_object_get(obj, key);
    if (v)
        json_integer_set(v, json_integer_value(v) + by);
    else
        json_object_set_new(obj, key, json_integer(by));
}

void sl__emu_stats_request(sl_emulator *emu, const char *route_key)
{
    pthread_mutex_lock(&emu->stats_mu);
    bump(emu->st_requests, route_key, 1);
    emu->st_total++;
    pthread_mutex_unlock(&emu->stats_mu);
}

void sl__emu_stats_status(sl_emulator *emu, int status)
{
    char k[8];
    snprintf(k, sizeof(k), "%d", status);
    pthread_mutex_lock(&emu->stats_mu);
    bump(emu->st_statuses, k, 1);
    if (status == 429)
        emu->st_429s++;
    pthread_mutex_unlock(&emu->stats_mu);
}

void sl__emu_stats_fault(sl_emulator *emu, const char *kind)
{
    pthread_mutex_lock(&emu->stats_mu);
    bump(emu->st_faults, kind, 1);
    pthread_mutex_unlock(&emu->stats_mu);
}

void sl__emu_stats_upload(sl_emulator *emu, const char *path, int64_t bytes)
{
    pthread_mutex_lock(&emu->stats_mu);
    json_t *u = json_object_get(emu->st_uploads, path);
    if (!u) {
        u = json_pack("{s:I, s:I}", "count", (json_int_t)0, "bytes", (json_int_t)0);
        json_object_set_new(emu->st_uploads, path, u);
    }
    bump(u, "count", 1);
    bump(u, "bytes", bytes);
    pthread_mutex_unlock(&emu->stats_mu);
}

void sl__emu_stats_genie(sl_emulator *emu, const char *space_id, const char *conv_id,
                         const char *msg_id, const char *content, int64_t ts_ms)
{
    json_t *q = json_pack("{s:I, s:s, s:s, s:s, s:s}", "ts_ms", (json_int_t)ts_ms, "space_id",
                          space_id, "conversation_id", conv_id, "message_id", msg_id, "content",
                          content);
    pthread_mutex_lock(&emu->stats_mu);
    if (json_array_size(emu->st_genie) >= MAX_LIST)
        json_array_remove(emu->st_genie, 0);
    json_array_append_new(emu->st_genie, q);
    pthread_mutex_unlock(&emu->stats_mu);
}

void sl__emu_stats_statement(sl_emulator *emu, const char *id, const char *sql)
{
    json_t *s = json_pack("{s:s, s:s%, s:I}", "statement_id", id, "statement", sql,
                          strlen(sql) > 4096 ? (size_t)4096 : strlen(sql), "ts_ms",
                          (json_int_t)sl_now_ms());
    pthread_mutex_lock(&emu->stats_mu);
    if (json_array_size(emu->st_statements) >= MAX_LIST)
        json_array_remove(emu->st_statements, 0);
    json_array_append_new(emu->st_statements, s);
    pthread_mutex_unlock(&emu->stats_mu);
}

emu_hr sl__emu_ctl_stats(emu_req *r)
{
    sl_emulator *emu = sl__emu_req_emu(r);
    pthread_mutex_lock(&emu->stats_mu);
    json_t *faults = json_deep_copy(emu->st_faults);
    json_int_t injected = 0;
    const char *k;
    json_t *v;
    json_object_foreach(faults, k, v)
    {
        if (strcmp(k, "latency") != 0)
            injected += json_integer_value(v);
    }
    json_t *o = json_pack("{s:I, s:o, s:o, s:o, s:I, s:o, s:o, s:o, s:I}", "requests_total",
                          (json_int_t)emu->st_total, "requests",
                          json_deep_copy(emu->st_requests), "responses",
                          json_deep_copy(emu->st_statuses), "faults", faults, "faults_injected",
                          injected, "uploads", json_deep_copy(emu->st_uploads), "genie_questions",
                          json_deep_copy(emu->st_genie), "statements",
                          json_deep_copy(emu->st_statements), "throttled_429",
                          (json_int_t)emu->st_429s);
    pthread_mutex_unlock(&emu->stats_mu);
    pthread_mutex_lock(&emu->fault_mu);
    int64_t stall = emu->stall_until_ms;
    pthread_mutex_unlock(&emu->fault_mu);
    json_object_set_new(o, "stall_until_ms", json_integer(stall));
    return sl__emu_reply_json(r, 200, o);
}

emu_hr sl__emu_ctl_reset_stats(emu_req *r)
{
    sl_emulator *emu = sl__emu_req_emu(r);
    pthread_mutex_lock(&emu->stats_mu);
    sl__emu_stats_free(emu);
    sl__emu_stats_init(emu);
    pthread_mutex_unlock(&emu->stats_mu);
    return sl__emu_reply_json(r, 200, json_object());
}

emu_hr sl__emu_ctl_faults(emu_req *r)
{
    sl_emulator *emu = sl__emu_req_emu(r);
    size_t n;
    const char *body = sl__emu_req_body(r, &n);
    char *spec = sl_xstrndup(body, n);
    /* Accept a JSON string too: "429=0.5". */
    json_t *j = json_loads(spec, JSON_DECODE_ANY, NULL);
    if (json_is_string(j)) {
        free(spec);
        spec = sl_xstrdup(json_string_value(j));
    }
    json_decref(j);
    const char *seed = sl__emu_req_query(r, "seed");
    emu_faults f;
    char eb[256];
    if (!sl__emu_faults_parse(spec, &f, eb, sizeof(eb))) {
        free(spec);
        return sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE", "%s", eb);
    }
    pthread_mutex_lock(&emu->fault_mu);
    sl__emu_faults_free(&emu->faults);
    emu->faults = f;
    if (seed)
        emu->rng = strtoull(seed, NULL, 10);
    pthread_mutex_unlock(&emu->fault_mu);
    json_t *o = json_pack("{s:s, s:I}", "faults", spec, "rules", (json_int_t)f.n_rules);
    free(spec);
    return sl__emu_reply_json(r, 200, o);
}

emu_hr sl__emu_ctl_stall(emu_req *r)
{
    sl_emulator *emu = sl__emu_req_emu(r);
    const char *ms = sl__emu_req_query(r, "ms");
    char *end = NULL;
    long long n = ms ? strtoll(ms, &end, 10) : -1;
    if (!ms || *end || n < 0 || n > 600000)
        return sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                                   "stall needs ?ms=N with 0 <= N <= 600000");
    int64_t until = sl_now_ms() + n;
    pthread_mutex_lock(&emu->fault_mu);
    emu->stall_until_ms = until;
    pthread_mutex_unlock(&emu->fault_mu);
    return sl__emu_reply_json(r, 200, json_pack("{s:I}", "stall_until_ms", (json_int_t)until));
}

emu_hr sl__emu_ctl_genie_rate(emu_req *r)
{
    sl_emulator *emu = sl__emu_req_emu(r);
    const char *q = sl__emu_req_query(r, "rate");
    size_t n;
    const char *body = sl__emu_req_body(r, &n);
    char *spec = q ? sl_xstrdup(q) : sl_xstrndup(body, n);
    json_t *j = json_loads(spec, JSON_DECODE_ANY, NULL);
    if (json_is_string(j)) {
        free(spec);
        spec = sl_xstrdup(json_string_value(j));
    } else if (json_is_object(j) && json_is_string(json_object_get(j, "rate"))) {
        free(spec);
        spec = sl_xstrdup(json_string_value(json_object_get(j, "rate")));
    }
    json_decref(j);
    char eb[256];
    emu_hr hr;
    if (!sl__emu_genie_set_rate(emu, spec, eb, sizeof(eb)))
        hr = sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE", "%s", eb);
    else
        hr = sl__emu_reply_json(r, 200, json_pack("{s:s}", "genie_rate", spec));
    free(spec);
    return hr;
}

emu_hr sl__emu_ctl_expire_tokens(emu_req *r)
{
    size_t n = sl__emu_tokens_expire_all(sl__emu_req_emu(r));
    return sl__emu_reply_json(r, 200, json_pack("{s:I}", "expired", (json_int_t)n));
}
