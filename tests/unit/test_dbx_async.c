/*
 * test_dbx_async.c - the non-blocking driver (src/dbx/async.c) against a real HTTP server
 * in this process: hundreds of requests in flight from one thread, re-sent over the same
 * connections; a client driver sends the bearer token and maps failures like the blocking
 * transport (status, error_code, Retry-After, redaction, the `what` prefix, client
 * statistics); an OAuth token the server stops accepting is refreshed and the request
 * re-sent once; bodies are capped or discarded, bytes counted; an aborted request never
 * calls back; a run waits no longer than it is told; callbacks submit and free requests;
 * one pooled request carries any sequence of methods and bodies without leftovers;
 * raw drivers send only the given headers to http(s) URLs; a refused connection is a
 * retryable failure with no status; the pure retry rule of sl_dbx_retry_delay_ms; and the
 * request builders (statement execute/get, embeddings) with the embeddings parse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <unistd.h>

#include "sluice/dbx.h"
#include "test_dbx_server.h"

#define MAX_PORTS 4096

typedef struct world {
    pthread_mutex_t mu;
    int hits;
    int ports[MAX_PORTS]; /* client ports seen: one per connection */
    int n_ports;
    int token_seq;     /* OAuth tokens issued */
    int min_valid_tok; /* tokens numbered below this get 401 */
    int token_hits;
    char last_auth[128];
    char last_x[128];
    char last_method[16];
    char last_ctype[64];
    uint64_t last_len;
} world;

static world W;
static ts_server S;

static void note_port(ts_req *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return;
    int port = ntohs(((const struct sockaddr_in *)ci->client_addr)->sin_port);
    for (int i = 0; i < W.n_ports; i++)
        if (W.ports[i] == port)
            return;
    if (W.n_ports < MAX_PORTS)
        W.ports[W.n_ports++] = port;
}

static void handler(void *arg, int phase, ts_req *r, ts_resp *o)
{
    (void)arg;
    if (phase == 0)
        return;
    const char *u = r->url;
    int sleep_ms = 0;
    pthread_mutex_lock(&W.mu);
    W.hits++;
    note_port(r);
    const char *auth = ts_hdr(r, "Authorization");
    snprintf(W.last_auth, sizeof(W.last_auth), "%s", auth ? auth : "");
    const char *x = ts_hdr(r, "X-Test");
    snprintf(W.last_x, sizeof(W.last_x), "%s", x ? x : "");
    const char *ct = ts_hdr(r, "Content-Type");
    snprintf(W.last_ctype, sizeof(W.last_ctype), "%s", ct ? ct : "");
    snprintf(W.last_method, sizeof(W.last_method), "%s", r->method);
    W.last_len = r->body_bytes;
    if (strcmp(u, "/oidc/v1/token") == 0) {
        W.token_hits++;
        char *b = sl_xasprintf("{\"access_token\":\"tok-%d\",\"expires_in\":3600}", ++W.token_seq);
        ts_set(o, 200, b);
        free(b);
    } else if (strcmp(u, "/api/2.0/whoami") == 0) {
        int n = auth && strncmp(auth, "Bearer tok-", 11) == 0 ? atoi(auth + 11) : 0;
        if (n < W.min_valid_tok)
            ts_set(o, 401, "{\"error_code\":\"UNAUTHENTICATED\",\"message\":\"stale token\"}");
        else
            ts_set(o, 200, "{\"user\":\"me\"}");
    } else if (strcmp(u, "/api/2.0/slow") == 0) {
        sleep_ms = 60;
        ts_set(o, 200, "{\"ok\":true}");
    } else if (strcmp(u, "/api/2.0/very-slow") == 0) {
        sleep_ms = 400;
        ts_set(o, 200, "{\"ok\":true}");
    } else if (strcmp(u, "/api/2.0/big") == 0) {
        char *b = sl_xmalloc(5001);
        memset(b, 'x', 5000);
        b[5000] = '\0';
        ts_set(o, 200, b);
        free(b);
    } else if (strcmp(u, "/api/2.0/limited") == 0) {
        ts_set(o, 429,
               "{\"error_code\":\"REQUEST_LIMIT_EXCEEDED\",\"message\":\"slow down, "
               "dapi0123456789abcdef0123456789abcdef\"}");
        ts_header(o, "Retry-After", "7");
    } else {
        ts_set(o, 404, "{\"error_code\":\"RESOURCE_DOES_NOT_EXIST\",\"message\":\"no route\"}");
    }
    pthread_mutex_unlock(&W.mu);
    if (sleep_ms)
        sl_sleep_ms(sleep_ms);
}

static void reset_world(void)
{
    pthread_mutex_lock(&W.mu);
    pthread_mutex_t mu = W.mu;
    memset(&W, 0, sizeof(W));
    W.mu = mu;
    W.min_valid_tok = 1;
    pthread_mutex_unlock(&W.mu);
}

static sl_dbx_client *pat_client(void)
{
    sl_dbx_settings s;
    sl_dbx_settings_init(&s);
    s.host = sl_xstrdup(S.url);
    s.token = sl_xstrdup("dapi0123456789abcdef0123456789abcdef");
    sl_dbx_client *c = NULL;
    assert_int_equal(sl_dbx_client_new(&s, &c, NULL), SL_OK);
    sl_dbx_settings_cleanup(&s);
    return c;
}

static sl_dbx_async *raw_driver(int max_connections)
{
    sl_dbx_async_opts o;
    sl_dbx_async_opts_init(&o);
    o.max_connections = max_connections;
    sl_dbx_async *a = NULL;
    assert_int_equal(sl_dbx_async_new(NULL, &o, &a, NULL), SL_OK);
    return a;
}

/* Run until nothing is in flight (bounded). */
static void run_all(sl_dbx_async *a)
{
    int64_t end = sl_mono_ns() + 20 * 1000000000LL;
    while (sl_dbx_async_in_flight(a) > 0 && sl_mono_ns() < end)
        sl_dbx_async_run(a, 100 * 1000000LL);
    assert_int_equal(sl_dbx_async_in_flight(a), 0);
}

typedef struct counter {
    int done, ok, resend;
    uint64_t bytes;
    sl_code last_code;
    int last_status;
    sl_err last_err;
    char last_body[64];
} counter;

static void on_done(sl_dbx_async_req *r, void *arg)
{
    counter *k = arg;
    const sl_dbx_response *p = sl_dbx_async_req_response(r);
    k->done++;
    k->bytes += p->bytes;
    k->last_code = p->code;
    k->last_status = p->status;
    k->last_err = *p->err;
    snprintf(k->last_body, sizeof(k->last_body), "%s", p->body);
    if (p->code == SL_OK)
        k->ok++;
    if (k->resend > 0) {
        k->resend--;
        assert_int_equal(sl_dbx_async_req_resubmit(r, NULL), SL_OK);
    }
}

static void hundreds_in_flight_reuse_their_connections(void **state)
{
    (void)state;
    reset_world();
    enum { N = 200, ROUNDS = 4 };
    sl_dbx_async *a = raw_driver(N + 16);
    char *url = sl_xasprintf("%s/api/2.0/slow", S.url);
    sl_dbx_request rq;
    sl_dbx_request_init(&rq, "GET", url);
    counter k = {.resend = N * (ROUNDS - 1)};
    for (int i = 0; i < N; i++)
        assert_int_equal(sl_dbx_async_req_submit(sl_dbx_async_req_new(a), &rq, on_done, &k, NULL),
                         SL_OK);
    assert_int_equal(sl_dbx_async_in_flight(a), N);
    run_all(a);
    assert_int_equal(k.done, N * ROUNDS);
    assert_int_equal(k.ok, N * ROUNDS);
    assert_int_equal(sl_dbx_async_peak(a), N);
    assert_int_equal(k.bytes, (uint64_t)N * ROUNDS * strlen("{\"ok\":true}"));
    pthread_mutex_lock(&W.mu);
    int hits = W.hits, conns = W.n_ports;
    pthread_mutex_unlock(&W.mu);
    assert_int_equal(hits, N * ROUNDS);
    /* every round after the first goes over the connections the first one opened */
    assert_true(conns >= N / 2 && conns <= N + 8);
    sl_dbx_async_free(a);
    free(url);
}

static void client_driver_authenticates_and_maps_errors(void **state)
{
    (void)state;
    reset_world();
    sl_dbx_client *c = pat_client();
    sl_dbx_async *a = NULL;
    assert_int_equal(sl_dbx_async_new(c, NULL, &a, NULL), SL_OK);
    sl_dbx_async_req *r = sl_dbx_async_req_new(a);
    counter k = {0};

    sl_dbx_request rq;
    sl_dbx_request_init(&rq, "GET", "/api/2.0/big");
    assert_int_equal(sl_dbx_async_req_submit(r, &rq, on_done, &k, NULL), SL_OK);
    run_all(a);
    assert_int_equal(k.last_code, SL_OK);
    assert_int_equal(k.last_status, 200);
    assert_string_equal(W.last_auth, "Bearer dapi0123456789abcdef0123456789abcdef");
    assert_int_equal(sl_dbx_async_req_response(r)->body_len, 5000);

    /* 429: status, code, Retry-After, redacted, prefixed with `what` */
    sl_dbx_request_init(&rq, "POST", "/api/2.0/limited");
    rq.body = "{\"q\":1}";
    snprintf(rq.what, sizeof(rq.what), "ask the limit");
    assert_int_equal(sl_dbx_async_req_submit(r, &rq, on_done, &k, NULL), SL_OK);
    run_all(a);
    assert_int_equal(k.last_code, SL_ELIMIT);
    assert_int_equal(k.last_status, 429);
    assert_int_equal(k.last_err.http_status, 429);
    assert_int_equal(k.last_err.retry_after_ms, 7000);
    assert_true(k.last_err.retryable);
    assert_string_equal(k.last_err.error_code, "REQUEST_LIMIT_EXCEEDED");
    assert_true(sl_str_has_prefix(k.last_err.msg, "ask the limit: HTTP 429"));
    assert_null(strstr(k.last_err.msg, "dapi0123"));
    assert_string_equal(k.last_body, "");

    /* 404 without a `what`: "METHOD path" */
    sl_dbx_request_init(&rq, "GET", "/api/2.0/nothing");
    assert_int_equal(sl_dbx_async_req_submit(r, &rq, on_done, &k, NULL), SL_OK);
    run_all(a);
    assert_int_equal(k.last_code, SL_ENOTFOUND);
    assert_true(sl_str_has_prefix(k.last_err.msg, "GET /api/2.0/nothing: HTTP 404"));

    sl_dbx_stats st;
    sl_dbx_stats_get(c, &st);
    assert_int_equal(st.requests, 3);
    assert_int_equal(st.http_429, 1);
    assert_true(st.bytes_down >= 5000);
    sl_dbx_async_free(a);
    sl_dbx_client_free(c);
}

static void refused_oauth_token_is_refreshed_once(void **state)
{
    (void)state;
    reset_world();
    sl_dbx_settings s;
    sl_dbx_settings_init(&s);
    s.host = sl_xstrdup(S.url);
    s.auth = SL_DBX_AUTH_OAUTH_M2M;
    s.client_id = sl_xstrdup("sp-id");
    s.client_secret = sl_xstrdup("dose0123456789abcdef");
    sl_dbx_client *c = NULL;
    assert_int_equal(sl_dbx_client_new(&s, &c, NULL), SL_OK);
    sl_dbx_settings_cleanup(&s);
    sl_dbx_async *a = NULL;
    assert_int_equal(sl_dbx_async_new(c, NULL, &a, NULL), SL_OK);
    sl_dbx_async_req *r = sl_dbx_async_req_new(a);
    counter k = {0};
    sl_dbx_request rq;
    sl_dbx_request_init(&rq, "GET", "/api/2.0/whoami");
    assert_int_equal(sl_dbx_async_req_submit(r, &rq, on_done, &k, NULL), SL_OK);
    run_all(a);
    assert_int_equal(k.last_code, SL_OK);
    assert_string_equal(W.last_auth, "Bearer tok-1");
    assert_int_equal(W.token_hits, 1);

    /* the server stops accepting tok-1: one 401, a new token, the same request again */
    pthread_mutex_lock(&W.mu);
    W.min_valid_tok = 2;
    pthread_mutex_unlock(&W.mu);
    assert_int_equal(sl_dbx_async_req_resubmit(r, NULL), SL_OK);
    run_all(a);
    assert_int_equal(k.done, 2);
    assert_int_equal(k.last_code, SL_OK);
    assert_string_equal(W.last_auth, "Bearer tok-2");
    assert_int_equal(W.token_hits, 2);

    /* a server that rejects every token: the second 401 is the answer */
    pthread_mutex_lock(&W.mu);
    W.min_valid_tok = 1000;
    pthread_mutex_unlock(&W.mu);
    assert_int_equal(sl_dbx_async_req_resubmit(r, NULL), SL_OK);
    run_all(a);
    assert_int_equal(k.done, 3);
    assert_int_equal(k.last_code, SL_EAUTH);
    assert_int_equal(W.token_hits, 3);
    sl_dbx_async_free(a);
    sl_dbx_client_free(c);
}

static void bodies_are_capped_or_discarded(void **state)
{
    (void)state;
    reset_world();
    sl_dbx_async *a = raw_driver(0);
    char *url = sl_xasprintf("%s/api/2.0/big", S.url);
    sl_dbx_request rq;
    sl_dbx_request_init(&rq, "GET", url);
    rq.body_max = 1000;
    counter k = {0};
    sl_dbx_async_req *r = sl_dbx_async_req_new(a);
    assert_int_equal(sl_dbx_async_req_submit(r, &rq, on_done, &k, NULL), SL_OK);
    run_all(a);
    assert_int_equal(k.last_code, SL_ELIMIT);
    assert_non_null(strstr(k.last_err.msg, "response larger than 1000 bytes"));

    rq.body_max = 0;
    rq.discard = true;
    assert_int_equal(sl_dbx_async_req_submit(r, &rq, on_done, &k, NULL), SL_OK);
    run_all(a);
    assert_int_equal(k.last_code, SL_OK);
    const sl_dbx_response *p = sl_dbx_async_req_response(r);
    assert_int_equal(p->bytes, 5000);
    assert_int_equal(p->body_len, 0);
    assert_string_equal(p->body, "");
    sl_dbx_async_req_free(r);
    sl_dbx_async_free(a);
    free(url);
}

/* A CR/LF in a header or URL (header smuggling) is refused at submit, before any byte is
 * sent; the server sees no request. */
static void control_characters_in_headers_and_urls_are_refused(void **state)
{
    (void)state;
    reset_world();
    sl_dbx_async *a = raw_driver(0);
    char *url = sl_xasprintf("%s/api/2.0/slow", S.url);
    char *bad_url = sl_xasprintf("%s/api/2.0/slow\r\nX-Injected: 1", S.url);
    const char *bad_headers[] = {"A: b\r\nX-Injected: 1", "A: b\nc", "A: \x1b[31m"};
    counter k = {0};
    for (size_t i = 0; i < sizeof(bad_headers) / sizeof(bad_headers[0]); i++) {
        sl_dbx_request rq;
        sl_dbx_request_init(&rq, "GET", url);
        rq.headers = &bad_headers[i];
        rq.n_headers = 1;
        sl_dbx_async_req *r = sl_dbx_async_req_new(a);
        sl_err err;
        sl_err_clear(&err);
        assert_int_equal(sl_dbx_async_req_submit(r, &rq, on_done, &k, &err), SL_EINVAL);
        assert_non_null(strstr(err.msg, "control character"));
        sl_dbx_async_req_free(r);
    }
    sl_dbx_request rq;
    sl_dbx_request_init(&rq, "GET", bad_url);
    sl_dbx_async_req *r = sl_dbx_async_req_new(a);
    assert_int_equal(sl_dbx_async_req_submit(r, &rq, on_done, &k, NULL), SL_EINVAL);
    sl_dbx_async_req_free(r);
    assert_int_equal(sl_dbx_async_in_flight(a), 0);
    pthread_mutex_lock(&W.mu);
    int hits = W.hits;
    pthread_mutex_unlock(&W.mu);
    assert_int_equal(hits, 0);
    assert_int_equal(k.done, 0);
    sl_dbx_async_free(a);
    free(bad_url);
    free(url);
}

static void aborted_requests_never_call_back(void **state)
{
    (void)state;
    reset_world();
    sl_dbx_async *a = raw_driver(0);
    char *url = sl_xasprintf("%s/api/2.0/very-slow", S.url);
    sl_dbx_request rq;
    sl_dbx_request_init(&rq, "GET", url);
    counter k = {0};
    sl_dbx_async_req *r1 = sl_dbx_async_req_new(a), *r2 = sl_dbx_async_req_new(a);
    assert_int_equal(sl_dbx_async_req_submit(r1, &rq, on_done, &k, NULL), SL_OK);
    assert_int_equal(sl_dbx_async_req_submit(r2, &rq, on_done, &k, NULL), SL_OK);
    sl_dbx_async_run(a, 20 * 1000000LL);
    assert_true(sl_dbx_async_req_is_in_flight(r1));
    sl_dbx_async_req_abort(r1);
    sl_dbx_async_req_free(r2); /* freeing aborts too */
    assert_false(sl_dbx_async_req_is_in_flight(r1));
    assert_int_equal(sl_dbx_async_in_flight(a), 0);
    int64_t end = sl_mono_ns() + 600 * 1000000LL;
    while (sl_mono_ns() < end)
        sl_dbx_async_run(a, 50 * 1000000LL);
    assert_int_equal(k.done, 0);
    sl_dbx_async_free(a);
    free(url);
}

static void run_waits_no_longer_than_told(void **state)
{
    (void)state;
    reset_world();
    sl_dbx_async *a = raw_driver(0);
    int64_t t0 = sl_mono_ns();
    assert_int_equal(sl_dbx_async_run(a, 30 * 1000000LL), 0);
    int64_t took_ms = (sl_mono_ns() - t0) / 1000000;
    assert_true(took_ms >= 25 && took_ms < 1000);

    /* with a slow request in flight the wait still ends on time (the caller's timers) */
    char *url = sl_xasprintf("%s/api/2.0/very-slow", S.url);
    sl_dbx_request rq;
    sl_dbx_request_init(&rq, "GET", url);
    counter k = {0};
    assert_int_equal(sl_dbx_async_req_submit(sl_dbx_async_req_new(a), &rq, on_done, &k, NULL),
                     SL_OK);
    sl_dbx_async_run(a, 0); /* connect */
    t0 = sl_mono_ns();
    assert_int_equal(sl_dbx_async_run(a, 40 * 1000000LL), 1);
    took_ms = (sl_mono_ns() - t0) / 1000000;
    assert_true(took_ms < 300);
    run_all(a);
    assert_int_equal(k.ok, 1);
    sl_dbx_async_free(a);
    free(url);
}

typedef struct chain {
    sl_dbx_async *a;
    sl_dbx_request rq;
    int left, done;
    sl_dbx_async_req *spare;
} chain;

/* Each completion submits a fresh request, frees its own, and frees the spare once. */
static void chain_done(sl_dbx_async_req *r, void *arg)
{
    chain *ch = arg;
    ch->done++;
    assert_int_equal(sl_dbx_async_req_response(r)->code, SL_OK);
    if (ch->spare) {
        sl_dbx_async_req_free(ch->spare);
        ch->spare = NULL;
    }
    sl_dbx_async_req_free(r);
    if (ch->left-- > 0)
        assert_int_equal(
            sl_dbx_async_req_submit(sl_dbx_async_req_new(ch->a), &ch->rq, chain_done, ch, NULL),
            SL_OK);
}

static void callbacks_submit_and_free_requests(void **state)
{
    (void)state;
    reset_world();
    chain ch = {.a = raw_driver(0), .left = 20};
    char *url = sl_xasprintf("%s/api/2.0/big", S.url);
    sl_dbx_request_init(&ch.rq, "GET", url);
    ch.spare = sl_dbx_async_req_new(ch.a);
    assert_int_equal(
        sl_dbx_async_req_submit(sl_dbx_async_req_new(ch.a), &ch.rq, chain_done, &ch, NULL), SL_OK);
    run_all(ch.a);
    assert_int_equal(ch.done, 21);
    assert_null(ch.spare);
    sl_dbx_async_free(ch.a);
    free(url);
}

/* One pooled request, method after method: nothing of the previous one leaks over. */
static void a_reused_request_changes_method_cleanly(void **state)
{
    (void)state;
    reset_world();
    sl_dbx_client *c = pat_client();
    sl_dbx_async *a = NULL;
    assert_int_equal(sl_dbx_async_new(c, NULL, &a, NULL), SL_OK);
    sl_dbx_async_req *r = sl_dbx_async_req_new(a);
    static const struct {
        const char *method, *body;
        uint64_t len;
        const char *ctype;
    } seq[] = {
        {"POST", "{\"a\":1}", 7, "application/json"},
        {"HEAD", NULL, 0, ""},
        {"GET", NULL, 0, ""},
        {"POST", NULL, 0, ""},
        {"DELETE", NULL, 0, ""},
        {"PATCH", "{\"b\":22}", 8, "application/json"},
        {"GET", NULL, 0, ""},
        {"PUT", "{}", 2, "application/json"},
    };
    counter k = {0};
    for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
        sl_dbx_request rq;
        sl_dbx_request_init(&rq, seq[i].method, "/api/2.0/big");
        rq.body = seq[i].body;
        assert_int_equal(sl_dbx_async_req_submit(r, &rq, on_done, &k, NULL), SL_OK);
        run_all(a);
        assert_int_equal(k.last_code, SL_OK);
        pthread_mutex_lock(&W.mu);
        assert_string_equal(W.last_method, seq[i].method);
        assert_int_equal(W.last_len, seq[i].len);
        assert_string_equal(W.last_ctype, seq[i].ctype);
        pthread_mutex_unlock(&W.mu);
        uint64_t want = strcmp(seq[i].method, "HEAD") == 0 ? 0 : 5000;
        assert_int_equal(sl_dbx_async_req_response(r)->bytes, want);
    }
    sl_dbx_async_free(a);
    sl_dbx_client_free(c);
}

static void raw_driver_sends_only_given_headers(void **state)
{
    (void)state;
    reset_world();
    sl_dbx_async *a = raw_driver(0);
    char *url = sl_xasprintf("%s/api/2.0/big", S.url);
    const char *hdrs[] = {"X-Test: yes"};
    sl_dbx_request rq;
    sl_dbx_request_init(&rq, "GET", url);
    rq.headers = hdrs;
    rq.n_headers = 1;
    counter k = {0};
    sl_dbx_async_req *r = sl_dbx_async_req_new(a);
    assert_int_equal(sl_dbx_async_req_submit(r, &rq, on_done, &k, NULL), SL_OK);
    run_all(a);
    assert_int_equal(k.last_code, SL_OK);
    assert_string_equal(W.last_x, "yes");
    assert_string_equal(W.last_auth, "");

    sl_err err;
    sl_err_clear(&err);
    sl_dbx_request_init(&rq, "GET", "file:///etc/passwd");
    assert_int_equal(sl_dbx_async_req_submit(r, &rq, on_done, &k, &err), SL_EINVAL);
    assert_non_null(strstr(err.msg, "not http:// or https://"));
    assert_false(sl_dbx_async_req_is_in_flight(r));
    sl_dbx_async_free(a);
    free(url);
}

static void refused_connection_has_no_status(void **state)
{
    (void)state;
    ts_server tmp;
    ts_start(&tmp, handler, &W);
    char *url = sl_xasprintf("%s/api/2.0/big", tmp.url);
    ts_stop(&tmp);
    sl_dbx_async *a = raw_driver(0);
    sl_dbx_request rq;
    sl_dbx_request_init(&rq, "GET", url);
    counter k = {0};
    assert_int_equal(sl_dbx_async_req_submit(sl_dbx_async_req_new(a), &rq, on_done, &k, NULL),
                     SL_OK);
    run_all(a);
    assert_int_equal(k.done, 1);
    assert_int_equal(k.last_status, 0);
    assert_int_equal(k.last_code, SL_EREMOTE);
    assert_true(k.last_err.retryable);
    assert_non_null(strstr(k.last_err.msg, "(curl 7)"));
    sl_dbx_async_free(a);
    free(url);
}

static void retry_delay_rule(void **state)
{
    (void)state;
    sl_dbx_retry_policy p;
    sl_dbx_retry_policy_init(&p);
    sl_err e;
    sl_err_clear(&e);
    e.code = SL_ELIMIT;
    e.http_status = 429;
    e.retry_after_ms = 3000;
    assert_int_equal(sl_dbx_retry_delay_ms(&e, 0, 5, &p, 0.0, 1000, 0), 3000);
    assert_int_equal(sl_dbx_retry_delay_ms(&e, 5, 5, &p, 0.0, 1000, 0), -1);    /* used up */
    assert_int_equal(sl_dbx_retry_delay_ms(&e, 0, 5, &p, 0.0, 1000, 4000), -1); /* deadline */
    assert_int_equal(sl_dbx_retry_delay_ms(&e, 0, 5, &p, 0.0, 1000, 4001), 3000);
    e.retry_after_ms = -1;
    e.http_status = 503;
    assert_int_equal(sl_dbx_retry_delay_ms(&e, 2, 5, &p, 0.0, 0, 0), 4000); /* backoff */
    e.http_status = 500; /* the blocking transport's business, not the caller's */
    assert_int_equal(sl_dbx_retry_delay_ms(&e, 0, 5, &p, 0.0, 0, 0), -1);
}

static void requests_are_built_as_data(void **state)
{
    (void)state;
    sl_dbx_statement_req sr;
    sl_dbx_statement_req_init(&sr);
    sr.statement = "SELECT 1";
    sr.wait_timeout_s = 30;
    sl_dbx_request rq;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_dbx_statement_execute_request(&sr, &rq, &err), SL_EINVAL);
    sl_dbx_request_cleanup(&rq);
    sr.warehouse_id = "wh 1";
    assert_int_equal(sl_dbx_statement_execute_request(&sr, &rq, &err), SL_OK);
    assert_string_equal(rq.method, "POST");
    assert_string_equal(rq.path, "/api/2.0/sql/statements");
    assert_string_equal(rq.what, "execute statement on warehouse wh 1");
    json_t *b = json_loads(rq.body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(b, "warehouse_id")), "wh 1");
    assert_string_equal(json_string_value(json_object_get(b, "wait_timeout")), "30s");
    assert_string_equal(json_string_value(json_object_get(b, "disposition")), "INLINE");
    json_decref(b);
    sl_dbx_request_cleanup(&rq);

    assert_int_equal(sl_dbx_statement_get_request("01ef/x", &rq, &err), SL_OK);
    assert_string_equal(rq.path, "/api/2.0/sql/statements/01ef%2Fx");
    assert_null(rq.body);
    sl_dbx_request_cleanup(&rq);

    const char *in[2] = {"a", "b"};
    assert_int_equal(sl_dbx_serving_embed_request("gte large", in, 2, &rq, &err), SL_OK);
    assert_string_equal(rq.path, "/serving-endpoints/gte%20large/invocations");
    assert_string_equal(rq.body, "{\"input\":[\"a\",\"b\"]}");
    sl_dbx_request_cleanup(&rq);
    json_t *resp = json_loads("{\"data\":[{\"index\":1,\"embedding\":[3,4]},"
                              "{\"index\":0,\"embedding\":[1,2]}]}",
                              0, NULL);
    sl_dbx_vectors *v = NULL;
    assert_int_equal(sl_dbx_serving_embed_parse(resp, 2, "embed", &v, &err), SL_OK);
    assert_int_equal(v->dim, 2);
    assert_true(v->data[0] == 1.0f && v->data[3] == 4.0f);
    sl_dbx_vectors_free(v);
    assert_int_equal(sl_dbx_serving_embed_parse(resp, 3, "embed", &v, &err), SL_EREMOTE);
    assert_null(v);
    json_decref(resp);
}

static int setup(void **state)
{
    (void)state;
    pthread_mutex_init(&W.mu, NULL);
    ts_start(&S, handler, &W);
    sl_log_set_level(SL_LOG_ERROR);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ts_stop(&S);
    sl_dbx_thread_cleanup();
    return 0;
}

int main(void)
{
    assert_int_equal(sl_dbx_global_init(NULL), SL_OK);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hundreds_in_flight_reuse_their_connections),
        cmocka_unit_test(client_driver_authenticates_and_maps_errors),
        cmocka_unit_test(refused_oauth_token_is_refreshed_once),
        cmocka_unit_test(bodies_are_capped_or_discarded),
        cmocka_unit_test(control_characters_in_headers_and_urls_are_refused),
        cmocka_unit_test(aborted_requests_never_call_back),
        cmocka_unit_test(run_waits_no_longer_than_told),
        cmocka_unit_test(callbacks_submit_and_free_requests),
        cmocka_unit_test(a_reused_request_changes_method_cleanly),
        cmocka_unit_test(raw_driver_sends_only_given_headers),
        cmocka_unit_test(refused_connection_has_no_status),
        cmocka_unit_test(retry_delay_rule),
        cmocka_unit_test(requests_are_built_as_data),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    sl_dbx_global_cleanup();
    return rc;
}
