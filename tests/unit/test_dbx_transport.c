/*
 * test_dbx_transport.c - the transport (src/dbx/http.c, auth.c) against a real HTTP
 * server in this process: 429 + Retry-After honoured, 503 retried, 404 not retried
 * with its error_code surfaced, connection refused retried, deadline and cancel
 * bounding the retry sleep, headers (User-Agent, bearer), no secret in errors, OAuth
 * tokens fetched once and refreshed exactly once with concurrent threads (on expiry and
 * after a 401), and a 2 GiB sparse-file upload streamed in bounded memory, plus a
 * streamed download that survives a retry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/dbx.h"
#include "test_dbx_server.h"

/* ---- server behaviour ---- */

typedef struct world {
    pthread_mutex_t mu;
    int hits;          /* requests to /api/2.0/t/... */
    int token_hits;    /* POST /oidc/v1/token */
    int fail_first;    /* the next N requests of a flaky route fail */
    int token_seq;     /* tokens issued */
    int min_valid_tok; /* tokens below this number are rejected with 401 */
    int bad_auth;      /* requests to /whoami with an unknown token */
    int token_expires_in;
    char last_ua[128];
    char last_auth[128];
    char last_accept[128];
    char last_ctype[128];
    /* uploads */
    uint64_t up_bytes;
    int64_t up_content_length;
    int up_first, up_last;
    char up_overwrite[16];
    int up_attempts;
    /* downloads */
    char *dl_data;
    size_t dl_len;
} world;

static world W;

static void handler(void *arg, int phase, ts_req *r, ts_resp *o)
{
    world *w = arg;
    const char *u = r->url;
    pthread_mutex_lock(&w->mu);
    if (phase == 0) {
        /* uploads: the first attempt is rejected before its body is sent */
        if (strncmp(u, "/api/2.0/fs/files/", 18) == 0 && strcmp(r->method, "PUT") == 0) {
            w->up_attempts++;
            if (w->fail_first > 0) {
                w->fail_first--;
                ts_set(o, 503, "{\"error_code\":\"TEMPORARILY_UNAVAILABLE\",\"message\":\"busy\"}");
            }
        }
        pthread_mutex_unlock(&w->mu);
        return;
    }
    const char *ua = ts_hdr(r, "User-Agent"), *auth = ts_hdr(r, "Authorization");
    const char *acc = ts_hdr(r, "Accept"), *ct = ts_hdr(r, "Content-Type");
    snprintf(w->last_ua, sizeof(w->last_ua), "%s", ua ? ua : "");
    snprintf(w->last_auth, sizeof(w->last_auth), "%s", auth ? auth : "");
    snprintf(w->last_accept, sizeof(w->last_accept), "%s", acc ? acc : "");
    snprintf(w->last_ctype, sizeof(w->last_ctype), "%s", ct ? ct : "");

    if (strcmp(u, "/oidc/v1/token") == 0) {
        w->token_hits++;
        char *user = NULL;
        char *pass = NULL;
        user = MHD_basic_auth_get_username_password(r->conn, &pass);
        bool ok = user && pass && strcmp(user, "cid") == 0 && strcmp(pass, "csecret-xyz") == 0 &&
                  strcmp(r->body, "grant_type=client_credentials&scope=all-apis") == 0 &&
                  strcmp(r->method, "POST") == 0;
        if (user)
            MHD_free(user);
        if (pass)
            MHD_free(pass);
        if (!ok) {
            ts_set(o, 401, "{\"error\":\"invalid_client\",\"error_description\":\"bad client\"}");
        } else {
            w->token_seq++;
            o->status = 200;
            o->body = sl_xasprintf(
                "{\"access_token\":\"tok-%d\",\"token_type\":\"Bearer\",\"expires_in\":%d}",
                w->token_seq, w->token_expires_in);
        }
    } else if (strcmp(u, "/api/2.0/t/whoami") == 0) {
        w->hits++;
        int n = 0;
        if (auth && sscanf(auth, "Bearer tok-%d", &n) == 1 && n >= w->min_valid_tok &&
            n <= w->token_seq) {
            o->status = 200;
            o->body = sl_xasprintf("{\"token\":%d}", n);
        } else {
            w->bad_auth++;
            ts_set(o, 401, "{\"error_code\":\"UNAUTHENTICATED\",\"message\":\"expired token\"}");
        }
    } else if (strcmp(u, "/api/2.0/t/echo") == 0) {
        w->hits++;
        o->status = 200;
        o->body = sl_xasprintf("{\"method\":\"%s\",\"body\":%s}", r->method,
                               r->body_len ? r->body : "null");
    } else if (strcmp(u, "/api/2.0/t/429") == 0) {
        w->hits++;
        if (w->fail_first > 0) {
            w->fail_first--;
            ts_set(o, 429, "{\"error_code\":\"REQUEST_LIMIT_EXCEEDED\",\"message\":\"slow\"}");
            ts_header(o, "Retry-After", "1");
        } else {
            ts_set(o, 200, "{\"ok\":true}");
        }
    } else if (strcmp(u, "/api/2.0/t/503") == 0) {
        w->hits++;
        if (w->fail_first > 0) {
            w->fail_first--;
            ts_set(o, 503, "{\"error_code\":\"TEMPORARILY_UNAVAILABLE\",\"message\":\"later\"}");
        } else {
            ts_set(o, 200, "{\"ok\":true}");
        }
    } else if (strcmp(u, "/api/2.0/t/503-slow") == 0) {
        w->hits++;
        ts_set(o, 503, "{\"error_code\":\"TEMPORARILY_UNAVAILABLE\",\"message\":\"later\"}");
        ts_header(o, "Retry-After", "10");
    } else if (strcmp(u, "/api/2.0/t/404") == 0) {
        w->hits++;
        ts_set(o, 404,
               "{\"error_code\":\"RESOURCE_DOES_NOT_EXIST\",\"message\":\"no such thing\"}");
    } else if (strcmp(u, "/api/2.0/t/leak") == 0) {
        w->hits++;
        o->status = 400;
        o->body = sl_xasprintf("{\"error_code\":\"BAD_REQUEST\",\"message\":\"you sent %s\"}",
                               auth ? auth : "");
    } else if (strncmp(u, "/api/2.0/fs/files/", 18) == 0 && strcmp(r->method, "PUT") == 0) {
        w->up_bytes = r->body_bytes;
        const char *cl = ts_hdr(r, "Content-Length");
        w->up_content_length = cl ? strtoll(cl, NULL, 10) : -1;
        w->up_first = r->first_byte;
        w->up_last = r->last_byte;
        const char *ow = ts_arg(r, "overwrite");
        snprintf(w->up_overwrite, sizeof(w->up_overwrite), "%s", ow ? ow : "");
        ts_set(o, 204, NULL);
    } else if (strncmp(u, "/api/2.0/fs/files/", 18) == 0 && strcmp(r->method, "GET") == 0) {
        w->hits++;
        if (w->fail_first > 0) {
            w->fail_first--;
            ts_set(o, 503, "{\"error_code\":\"TEMPORARILY_UNAVAILABLE\",\"message\":\"x\"}");
        } else {
            o->status = 200;
            o->body = sl_xmalloc(w->dl_len + 1);
            memcpy(o->body, w->dl_data, w->dl_len);
            o->body_len = w->dl_len;
            o->content_type = "application/octet-stream";
        }
    } else {
        ts_set(o, 404, "{\"error_code\":\"NOT_FOUND\",\"message\":\"no route\"}");
    }
    pthread_mutex_unlock(&W.mu);
}

static ts_server S;

static void reset_world(void)
{
    pthread_mutex_lock(&W.mu);
    free(W.dl_data);
    pthread_mutex_t mu = W.mu;
    memset(&W, 0, sizeof(W));
    W.mu = mu;
    W.token_expires_in = 3600;
    W.min_valid_tok = 1;
    pthread_mutex_unlock(&W.mu);
}

static int setup(void **state)
{
    (void)state;
    pthread_mutex_init(&W.mu, NULL);
    reset_world();
    ts_start(&S, handler, &W);
    sl_log_set_level(SL_LOG_ERROR);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ts_stop(&S);
    free(W.dl_data);
    sl_dbx_thread_cleanup();
    return 0;
}

static sl_dbx_client *pat_client(const char *url)
{
    sl_dbx_settings s;
    sl_dbx_settings_init(&s);
    s.host = sl_xstrdup(url);
    s.token = sl_xstrdup("dapi0123456789abcdef0123456789abcdef");
    s.retry.max_retries = 3;
    s.retry.initial_backoff_s = 0.01;
    s.retry.max_backoff_s = 0.05;
    sl_dbx_client *c = NULL;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_dbx_client_new(&s, &c, &err), SL_OK);
    sl_dbx_settings_cleanup(&s);
    return c;
}

static int64_t now_ms(void)
{
    return sl_mono_ns() / 1000000;
}

static void pat_request_sends_expected_headers(void **state)
{
    (void)state;
    reset_world();
    sl_dbx_client *c = pat_client(S.url);
    json_t *body = json_pack("{s:s}", "q", "hello");
    json_t *out = NULL;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_dbx_api_call(c, "POST", "/api/2.0/t/echo", body, NULL, &out, &err), SL_OK);
    assert_string_equal(json_string_value(json_object_get(out, "method")), "POST");
    assert_string_equal(json_string_value(json_object_get(json_object_get(out, "body"), "q")),
                        "hello");
    assert_string_equal(W.last_ua, "sluice/" SL_VERSION);
    assert_string_equal(W.last_auth, "Bearer dapi0123456789abcdef0123456789abcdef");
    assert_string_equal(W.last_accept, "application/json");
    assert_string_equal(W.last_ctype, "application/json");
    json_decref(out);
    /* a bodyless POST sends no JSON content type */
    assert_int_equal(sl_dbx_api_call(c, "POST", "/api/2.0/t/echo", NULL, NULL, &out, &err), SL_OK);
    assert_string_equal(W.last_ctype, "");
    json_decref(out);
    json_decref(body);
    /* paths must be API paths */
    assert_int_equal(sl_dbx_api_call(c, "GET", "http://evil/", NULL, NULL, &out, &err), SL_EINVAL);
    sl_dbx_stats st;
    sl_dbx_stats_get(c, &st);
    assert_int_equal(st.requests, 2);
    assert_int_equal(st.retries, 0);
    assert_true(st.bytes_up > 0 && st.bytes_down > 0);
    sl_dbx_client_free(c);
}

static void status_429_then_200_honours_retry_after(void **state)
{
    (void)state;
    reset_world();
    W.fail_first = 1;
    sl_dbx_client *c = pat_client(S.url); /* backoff alone would wait ~10 ms */
    json_t *out = NULL;
    sl_err err;
    sl_err_clear(&err);
    int64_t t0 = now_ms();
    assert_int_equal(sl_dbx_api_call(c, "GET", "/api/2.0/t/429", NULL, NULL, &out, &err), SL_OK);
    int64_t took = now_ms() - t0;
    assert_true(took >= 950); /* Retry-After: 1 */
    assert_true(took < 5000);
    assert_true(json_is_true(json_object_get(out, "ok")));
    json_decref(out);
    sl_dbx_stats st;
    sl_dbx_stats_get(c, &st);
    assert_int_equal(st.requests, 2);
    assert_int_equal(st.retries, 1);
    assert_int_equal(st.http_429, 1);
    assert_int_equal(W.hits, 2);
    sl_dbx_client_free(c);
}

static void status_503_is_retried_with_backoff(void **state)
{
    (void)state;
    reset_world();
    W.fail_first = 2;
    sl_dbx_client *c = pat_client(S.url);
    json_t *out = NULL;
    sl_err err;
    sl_err_clear(&err);
    int64_t t0 = now_ms();
    assert_int_equal(sl_dbx_api_call(c, "GET", "/api/2.0/t/503", NULL, NULL, &out, &err), SL_OK);
    assert_true(now_ms() - t0 < 2000);
    json_decref(out);
    sl_dbx_stats st;
    sl_dbx_stats_get(c, &st);
    assert_int_equal(st.retries, 2);
    assert_int_equal(st.http_5xx, 2);
    assert_int_equal(W.hits, 3);

    /* always failing: max_retries + 1 attempts, then a retryable error */
    reset_world();
    W.fail_first = 100;
    assert_int_equal(sl_dbx_api_call(c, "GET", "/api/2.0/t/503", NULL, NULL, &out, &err),
                     SL_EREMOTE);
    assert_null(out);
    assert_true(err.retryable);
    assert_int_equal(err.http_status, 503);
    assert_string_equal(err.error_code, "TEMPORARILY_UNAVAILABLE");
    assert_string_equal(err.msg, "GET /api/2.0/t/503: HTTP 503 TEMPORARILY_UNAVAILABLE: later "
                                 "(after 4 attempts)");
    assert_int_equal(W.hits, 4);
    sl_dbx_client_free(c);
}

static void status_404_is_not_retried_and_code_surfaces(void **state)
{
    (void)state;
    reset_world();
    sl_dbx_client *c = pat_client(S.url);
    json_t *out = NULL;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_dbx_api_call(c, "GET", "/api/2.0/t/404", NULL, NULL, &out, &err),
                     SL_ENOTFOUND);
    assert_false(err.retryable);
    assert_int_equal(err.http_status, 404);
    assert_string_equal(err.error_code, "RESOURCE_DOES_NOT_EXIST");
    assert_string_equal(err.msg,
                        "GET /api/2.0/t/404: HTTP 404 RESOURCE_DOES_NOT_EXIST: no such thing");
    assert_int_equal(W.hits, 1);
    sl_dbx_stats st;
    sl_dbx_stats_get(c, &st);
    assert_int_equal(st.retries, 0);
    sl_dbx_client_free(c);
}

static void connection_refused_is_retried(void **state)
{
    (void)state;
    /* a port that was just open and is now closed */
    ts_server tmp;
    ts_start(&tmp, handler, &W);
    char url[64];
    snprintf(url, sizeof(url), "%s", tmp.url);
    ts_stop(&tmp);
    sl_dbx_client *c = pat_client(url);
    json_t *out = NULL;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_dbx_api_call(c, "GET", "/api/2.0/t/echo", NULL, NULL, &out, &err),
                     SL_EREMOTE);
    assert_true(err.retryable);
    assert_int_equal(err.http_status, 0);
    assert_non_null(strstr(err.msg, "GET /api/2.0/t/echo: "));
    assert_non_null(strstr(err.msg, "(after 4 attempts)"));
    sl_dbx_stats st;
    sl_dbx_stats_get(c, &st);
    assert_int_equal(st.conn_errors, 4);
    assert_int_equal(st.retries, 3);
    assert_int_equal(st.requests, 4);
    sl_dbx_client_free(c);
}

static bool cancel_after(void *arg)
{
    int64_t *at = arg;
    return now_ms() >= *at;
}

static void deadline_and_cancel_bound_the_retry_sleep(void **state)
{
    (void)state;
    reset_world();
    sl_dbx_client *c = pat_client(S.url);
    json_t *out = NULL;
    sl_err err;
    sl_err_clear(&err);
    sl_dbx_call call = {.deadline_ms = sl_now_ms() + 300};
    int64_t t0 = now_ms();
    assert_int_equal(sl_dbx_api_call(c, "GET", "/api/2.0/t/503-slow", NULL, &call, &out, &err),
                     SL_ETIMEOUT);
    int64_t took = now_ms() - t0;
    assert_true(took >= 250 && took < 2000); /* not the 10 s Retry-After */
    assert_true(err.retryable);
    assert_non_null(strstr(err.msg, "deadline reached while retrying (last error: HTTP 503"));

    int64_t cancel_at = now_ms() + 200;
    sl_dbx_call call2 = {.cancel = cancel_after, .cancel_arg = &cancel_at};
    t0 = now_ms();
    assert_int_equal(sl_dbx_api_call(c, "GET", "/api/2.0/t/503-slow", NULL, &call2, &out, &err),
                     SL_ECANCELED);
    assert_true(now_ms() - t0 < 2000);
    assert_false(err.retryable);

    /* an already-passed deadline sends nothing */
    int hits = W.hits;
    sl_dbx_call past = {.deadline_ms = sl_now_ms() - 1};
    assert_int_equal(sl_dbx_api_call(c, "GET", "/api/2.0/t/echo", NULL, &past, &out, &err),
                     SL_ETIMEOUT);
    assert_int_equal(W.hits, hits);
    sl_dbx_client_free(c);
}

static void secrets_never_reach_errors(void **state)
{
    (void)state;
    reset_world();
    sl_dbx_client *c = pat_client(S.url);
    json_t *out = NULL;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_dbx_api_call(c, "GET", "/api/2.0/t/leak", NULL, NULL, &out, &err),
                     SL_EINVAL);
    assert_null(strstr(err.msg, "0123456789abcdef"));
    assert_non_null(strstr(err.msg, "[REDACTED]"));
    sl_dbx_client_free(c);
}

/* ---- OAuth ---- */

static int64_t clock_offset_ms;

static int64_t fake_clock(void *arg)
{
    (void)arg;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 +
           __atomic_load_n(&clock_offset_ms, __ATOMIC_RELAXED);
}

static sl_dbx_client *oauth_client(const char *secret)
{
    sl_dbx_settings s;
    sl_dbx_settings_init(&s);
    s.host = sl_xstrdup(S.url);
    s.auth = SL_DBX_AUTH_OAUTH_M2M;
    s.client_id = sl_xstrdup("cid");
    s.client_secret = sl_xstrdup(secret);
    s.retry.max_retries = 2;
    s.retry.initial_backoff_s = 0.01;
    sl_dbx_client *c = NULL;
    assert_int_equal(sl_dbx_client_new(&s, &c, NULL), SL_OK);
    sl_dbx_settings_cleanup(&s);
    return c;
}

typedef struct {
    sl_dbx_client *c;
    int n;
    int failures;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    for (int i = 0; i < a->n; i++) {
        json_t *out = NULL;
        sl_err err;
        sl_err_clear(&err);
        if (sl_dbx_api_call(a->c, "GET", "/api/2.0/t/whoami", NULL, NULL, &out, &err) != SL_OK)
            a->failures++;
        json_decref(out);
    }
    sl_dbx_thread_cleanup();
    return NULL;
}

static void run_threads(sl_dbx_client *c, int n_threads, int per_thread)
{
    pthread_t th[16];
    worker_arg args[16];
    for (int i = 0; i < n_threads; i++) {
        args[i] = (worker_arg){.c = c, .n = per_thread, .failures = 0};
        pthread_create(&th[i], NULL, worker, &args[i]);
    }
    for (int i = 0; i < n_threads; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
}

static void oauth_token_fetched_once_and_refreshed_once(void **state)
{
    (void)state;
    reset_world();
    clock_offset_ms = 0;
    sl_clock_set(fake_clock, NULL);
    sl_dbx_client *c = oauth_client("csecret-xyz");

    run_threads(c, 8, 25);
    assert_int_equal(W.token_hits, 1);
    assert_int_equal(W.hits, 200);
    assert_int_equal(W.bad_auth, 0);

    /* 55 minutes later the token (1 h) is due: exactly one thread refreshes it */
    __atomic_store_n(&clock_offset_ms, 55 * 60 * 1000, __ATOMIC_RELAXED);
    run_threads(c, 8, 25);
    assert_int_equal(W.token_hits, 2);

    /* still valid a little later: no more fetches */
    __atomic_store_n(&clock_offset_ms, 60 * 60 * 1000, __ATOMIC_RELAXED);
    run_threads(c, 4, 10);
    assert_int_equal(W.token_hits, 2);

    /* the server revokes the current token: the 401s force one refresh, one retry */
    pthread_mutex_lock(&W.mu);
    W.min_valid_tok = W.token_seq + 1;
    pthread_mutex_unlock(&W.mu);
    run_threads(c, 8, 25);
    assert_int_equal(W.token_hits, 3);
    assert_true(W.bad_auth >= 1 && W.bad_auth <= 8);

    sl_dbx_stats st;
    sl_dbx_stats_get(c, &st);
    assert_int_equal(st.token_refreshes, 3);
    assert_int_equal(st.retries, (uint64_t)W.bad_auth);
    assert_null(strstr(W.last_auth, "csecret"));
    sl_dbx_client_free(c);
    sl_clock_set(NULL, NULL);
}

static void oauth_bad_client_is_an_auth_error(void **state)
{
    (void)state;
    reset_world();
    sl_dbx_client *c = oauth_client("wrong-secret-value");
    json_t *out = NULL;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_dbx_api_call(c, "GET", "/api/2.0/t/whoami", NULL, NULL, &out, &err),
                     SL_EAUTH);
    assert_false(err.retryable);
    assert_string_equal(err.msg, "authentication failed (HTTP 401 invalid_client): bad client");
    assert_null(strstr(err.msg, "wrong-secret-value"));
    assert_int_equal(W.token_hits, 1); /* 401 is not retried */
    assert_int_equal(W.hits, 0);
    sl_dbx_client_free(c);
}

/* ---- transfers ---- */

static char tmpdir[256];

/* A "Vm...:" line of /proc/self/status in kB (VmHWM peak, VmRSS current), -1 if absent. */
static int64_t proc_status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    size_t klen = strlen(key);
    int64_t kb = -1;
    while (kb < 0 && fgets(line, sizeof(line), f)) {
        long long v;
        if (strncmp(line, key, klen) == 0 && line[klen] == ':' &&
            sscanf(line + klen + 1, "%lld", &v) == 1)
            kb = v;
    }
    fclose(f);
    return kb;
}

static int64_t vm_hwm_kb(void)
{
    return proc_status_kb("VmHWM");
}

static int64_t vm_rss_kb(void)
{
    return proc_status_kb("VmRSS");
}

static bool reset_peak_rss(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return false;
    bool ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}

typedef struct {
    int calls;
    int64_t last_done, total;
} progress_seen;

static void on_progress(void *arg, const sl_dbx_progress *p)
{
    progress_seen *ps = arg;
    ps->calls++;
    ps->last_done = p->bytes_done;
    ps->total = p->bytes_total;
}

static void upload_2gib_sparse_file_in_bounded_memory(void **state)
{
    (void)state;
    reset_world();
    W.fail_first = 1; /* first attempt rejected with 503 before the body */
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/sluice-dbxup-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    char *path = sl_xasprintf("%s/big.bin", tmpdir);
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    assert_true(fd >= 0);
    const int64_t size = 2LL * 1024 * 1024 * 1024;
    assert_int_equal(ftruncate(fd, size), 0);
    /* markers at both ends prove the bytes arrive in order */
    assert_int_equal(pwrite(fd, "\x5a", 1, 0), 1);
    assert_int_equal(pwrite(fd, "\xa5", 1, size - 1), 1);
    close(fd);

    sl_dbx_client *c = pat_client(S.url);
    sl_err err;
    sl_err_clear(&err);
    progress_seen ps = {0};
    sl_dbx_call call = {.progress = on_progress, .progress_arg = &ps};
    bool hwm_reset = reset_peak_rss();
    int64_t base_kb = hwm_reset ? vm_rss_kb() : vm_hwm_kb();
    assert_int_equal(sl_dbx_file_upload(c, path, "/Volumes/main/default/vol/dir/big file.bin", true,
                                        &call, &err),
                     SL_OK);
    int64_t peak_kb = vm_hwm_kb();
    int64_t growth_mib = (peak_kb - base_kb) / 1024;
    print_message("upload: peak RSS growth %lld MiB (baseline %lld MiB, reset %s)\n",
                  (long long)growth_mib, (long long)(base_kb / 1024), hwm_reset ? "yes" : "no");
    assert_true(growth_mib < 64);

    assert_int_equal(W.up_bytes, (uint64_t)size);
    assert_int_equal(W.up_content_length, size);
    assert_int_equal(W.up_first, 0x5a);
    assert_int_equal(W.up_last, 0xa5);
    assert_string_equal(W.up_overwrite, "true");
    assert_int_equal(W.up_attempts, 2);
    assert_true(ps.calls >= 1);
    assert_int_equal(ps.last_done, size);
    assert_int_equal(ps.total, size);

    sl_dbx_stats st;
    sl_dbx_stats_get(c, &st);
    assert_int_equal(st.retries, 1);
    assert_int_equal(st.http_5xx, 1);
    assert_true(st.bytes_up >= (uint64_t)size);

    /* overwrite=false is sent as such; a missing local file is a clear EIO */
    assert_int_equal(
        sl_dbx_file_upload(c, "/nonexistent/file", "/Volumes/a/b/c/d", false, NULL, &err), SL_EIO);
    assert_non_null(strstr(err.msg, "upload /Volumes/a/b/c/d: cannot open /nonexistent/file"));
    unlink(path);
    free(path);
    sl_dbx_client_free(c);
}

static void download_streams_to_file_and_survives_retry(void **state)
{
    (void)state;
    reset_world();
    pthread_mutex_lock(&W.mu);
    W.dl_len = 3 * 1024 * 1024 + 17;
    W.dl_data = sl_xmalloc(W.dl_len);
    for (size_t i = 0; i < W.dl_len; i++)
        W.dl_data[i] = (char)(i * 31 + 7);
    W.fail_first = 1;
    pthread_mutex_unlock(&W.mu);
    sl_dbx_client *c = pat_client(S.url);
    char *local = sl_xasprintf("%s/down.bin", tmpdir);
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_dbx_file_download(c, "/Volumes/main/default/vol/x.bin", local, NULL, &err),
                     SL_OK);
    assert_string_equal(W.last_accept, "application/octet-stream");
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(sl_file_read(local, &data, &len, &err), SL_OK);
    assert_int_equal(len, W.dl_len);
    assert_memory_equal(data, W.dl_data, len);
    free(data);
    sl_dbx_stats st;
    sl_dbx_stats_get(c, &st);
    assert_int_equal(st.retries, 1);

    /* a failed download leaves no partial file behind */
    unlink(local);
    assert_int_equal(sl_dbx_file_download(c, "/Volumes/main/default/vol/x.bin",
                                          "/nonexistent-dir/y.bin", NULL, &err),
                     SL_EIO);
    assert_int_equal(access(local, F_OK), -1);
    free(local);
    char *cmd = sl_xasprintf("rm -rf '%s'", tmpdir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    sl_dbx_client_free(c);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pat_request_sends_expected_headers),
        cmocka_unit_test(status_429_then_200_honours_retry_after),
        cmocka_unit_test(status_503_is_retried_with_backoff),
        cmocka_unit_test(status_404_is_not_retried_and_code_surfaces),
        cmocka_unit_test(connection_refused_is_retried),
        cmocka_unit_test(deadline_and_cancel_bound_the_retry_sleep),
        cmocka_unit_test(secrets_never_reach_errors),
        cmocka_unit_test(oauth_token_fetched_once_and_refreshed_once),
        cmocka_unit_test(oauth_bad_client_is_an_auth_error),
        cmocka_unit_test(upload_2gib_sparse_file_in_bounded_memory),
        cmocka_unit_test(download_streams_to_file_and_survives_retry),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
