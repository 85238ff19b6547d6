/*
 * http.c - the blocking transport: one curl easy handle per thread (kept in thread-local
 * storage and reused, so connections stay open across calls), auth, deadlines, the retry
 * loop; each attempt is one transfer of xfer.c (the same setup and outcome mapping the
 * multi driver of async.c uses) run with curl_easy_perform.
 *
 * One call of sl__dbx_request:
 *
 *   check cancel/deadline -> (OAuth: token from cache) -> perform -> 2xx? -> SL_OK
 *        ^                                                  | no
 *        |                                      map error (retry.c)
 *        |-- 401/403 with an OAuth token: refresh once ----/ |
 *        '-- retryable and retries left: sleep (bounded) ---'  else return the error
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dbx_int.h"

/* ---- thread-local curl handle ---- */

typedef struct tls_conn {
    CURL *h;
    bool busy; /* a request on this thread is using h (re-entrant calls get a temp one) */
} tls_conn;

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void tls_destroy(void *p)
{
    tls_conn *t = p;
    if (t) {
        if (t->h)
            curl_easy_cleanup(t->h);
        free(t);
    }
}

static void tls_init(void)
{
    if (pthread_key_create(&tls_key, tls_destroy) != 0) {
        sl_error("dbx: pthread_key_create failed");
        abort();
    }
}

static CURL *handle_acquire(bool *temp)
{
    pthread_once(&tls_once, tls_init);
    tls_conn *t = pthread_getspecific(tls_key);
    if (!t) {
        t = sl_xcalloc(1, sizeof(*t));
        pthread_setspecific(tls_key, t);
    }
    if (t->busy) {
        *temp = true;
        return sl__dbx_easy_new();
    }
    *temp = false;
    if (t->h)
        curl_easy_reset(t->h); /* keeps the connection, DNS and TLS session caches */
    else
        t->h = sl__dbx_easy_new();
    t->busy = true;
    return t->h;
}

static void handle_release(CURL *h, bool temp)
{
    if (temp) {
        curl_easy_cleanup(h);
        return;
    }
    tls_conn *t = pthread_getspecific(tls_key);
    if (t)
        t->busy = false;
}

sl_code sl_dbx_global_init(sl_err *err)
{
    CURLcode cc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (cc != CURLE_OK)
        return sl_err_set(err, SL_EIO, "HTTP library initialisation failed: %s",
                          curl_easy_strerror(cc));
    return SL_OK;
}

void sl_dbx_global_cleanup(void)
{
    curl_global_cleanup();
}

void sl_dbx_thread_cleanup(void)
{
    pthread_once(&tls_once, tls_init);
    tls_conn *t = pthread_getspecific(tls_key);
    if (t && !t->busy) {
        pthread_setspecific(tls_key, NULL);
        tls_destroy(t);
    }
}

/* ---- client ---- */

sl_code sl_dbx_client_new(const sl_dbx_settings *s, sl_dbx_client **out, sl_err *err)
{
    *out = NULL;
    if (!s || !s->host || !*s->host)
        return sl_err_set(err, SL_EINVAL, "client settings have no host");
    if (s->auth == SL_DBX_AUTH_PAT && (!s->token || !*s->token))
        return sl_err_set(err, SL_EINVAL, "client settings have no token");
    if (s->auth == SL_DBX_AUTH_OAUTH_M2M &&
        (!s->client_id || !*s->client_id || !s->client_secret || !*s->client_secret))
        return sl_err_set(err, SL_EINVAL, "client settings have no OAuth client id and secret");
    sl_dbx_client *c = sl_xcalloc(1, sizeof(*c));
    sl_dbx_settings *d = &c->s;
    *d = *s;
    d->host = sl_xstrdup(s->host);
    while (strlen(d->host) > 1 && d->host[strlen(d->host) - 1] == '/')
        d->host[strlen(d->host) - 1] = '\0';
#define DUP(f) d->f = s->f ? sl_xstrdup(s->f) : NULL
    DUP(token);
    DUP(client_id);
    DUP(client_secret);
    DUP(warehouse_id);
    DUP(genie_space_id);
    DUP(profile);
    DUP(config_file);
#undef DUP
    if (d->retry.max_retries < 0)
        d->retry.max_retries = 0;
    if (d->connect_timeout_ms <= 0)
        d->connect_timeout_ms = 10000;
    if (d->request_timeout_ms <= 0)
        d->request_timeout_ms = 60000;
    c->user_agent = sl_xasprintf("sluice/%s", SL_VERSION);
    size_t k = 0;
    if (d->token)
        c->secrets[k++] = d->token;
    if (d->client_secret)
        c->secrets[k++] = d->client_secret;
    c->secrets[k] = NULL;
    pthread_mutex_init(&c->tok_mu, NULL);
    pthread_mutex_init(&c->wh_mu, NULL);
    *out = c;
    return SL_OK;
}

void sl_dbx_client_free(sl_dbx_client *c)
{
    if (!c)
        return;
    sl_dbx_settings_cleanup(&c->s);
    free(c->user_agent);
    sl_secret_free(c->tok);
    free(c->resolved_warehouse);
    pthread_mutex_destroy(&c->tok_mu);
    pthread_mutex_destroy(&c->wh_mu);
    free(c);
}

const sl_dbx_settings *sl_dbx_client_settings(const sl_dbx_client *c)
{
    return &c->s;
}

void sl_dbx_stats_get(const sl_dbx_client *c, sl_dbx_stats *out)
{
#define LD(f) __atomic_load_n(&c->f, __ATOMIC_RELAXED)
    out->requests = LD(n_requests);
    out->retries = LD(n_retries);
    out->http_429 = LD(n_429);
    out->http_5xx = LD(n_5xx);
    out->conn_errors = LD(n_conn_errors);
    out->token_refreshes = LD(n_token_refreshes);
    out->bytes_up = LD(n_bytes_up);
    out->bytes_down = LD(n_bytes_down);
#undef LD
}

/* ---- small helpers shared by the API files ---- */

void sl__dbx_req_init(sl__dbx_req *r, const char *method, const char *path, const char *what)
{
    memset(r, 0, sizeof(*r));
    r->method = method;
    r->path = path;
    r->what = what;
    r->upload_fd = -1;
    r->download_fd = -1;
}

void sl__dbx_resp_cleanup(sl__dbx_resp *r)
{
    if (!r)
        return;
    free(r->body);
    memset(r, 0, sizeof(*r));
    r->content_length = -1;
}

sl_code sl__dbx_ctx(sl_code rc, sl_err *err, const char *fmt, ...)
{
    if (!err || err->code == SL_EAUTH || !fmt || !*fmt)
        return rc;
    char ctx[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof(ctx), fmt, ap);
    va_end(ap);
    sl_err_prefix(err, "%s", ctx);
    return rc;
}

const char *sl__dbx_jstr(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

sl_code sl__dbx_check_call(const sl_dbx_call *call, sl_err *err)
{
    if (!call)
        return SL_OK;
    if (call->cancel && call->cancel(call->cancel_arg)) {
        sl_err_set(err, SL_ECANCELED, "canceled");
        if (err)
            err->retryable = false;
        return SL_ECANCELED;
    }
    if (call->deadline_ms > 0 && sl_now_ms() >= call->deadline_ms) {
        sl_err_set(err, SL_ETIMEOUT, "deadline reached");
        if (err)
            err->retryable = true;
        return SL_ETIMEOUT;
    }
    return SL_OK;
}

sl_code sl__dbx_sleep(const sl_dbx_call *call, int64_t ms, sl_err *err)
{
    int64_t end_ns = sl_mono_ns() + ms * 1000000;
    for (;;) {
        sl_code rc = sl__dbx_check_call(call, err);
        if (rc != SL_OK)
            return rc;
        int64_t left_ms = (end_ns - sl_mono_ns()) / 1000000;
        if (left_ms <= 0)
            return SL_OK;
        int64_t step = left_ms < 50 ? left_ms : 50;
        if (call && call->deadline_ms > 0) {
            int64_t to_deadline = call->deadline_ms - sl_now_ms();
            if (to_deadline < step)
                step = to_deadline > 0 ? to_deadline : 0;
        }
        sl_sleep_ms(step > 0 ? step : 1);
    }
}

int64_t sl__dbx_poll_next(int64_t cur_ms, int64_t max_ms)
{
    int64_t next = cur_ms + cur_ms / 2;
    if (next < cur_ms + 1)
        next = cur_ms + 1;
    return next > max_ms ? max_ms : next;
}

/* ---- one attempt ---- */

static int64_t min_pos(int64_t a, int64_t b)
{
    if (a <= 0)
        return b;
    if (b <= 0)
        return a;
    return a < b ? a : b;
}

/* Perform one attempt on the thread's handle. Returns the curl code; x (whose body
 * buffer the caller owns) and err describe the outcome. */
static CURLcode perform(sl_dbx_client *c, const sl__dbx_req *req, const char *bearer,
                        sl__dbx_xfer *x, sl_err *err)
{
    bool temp;
    CURL *h = handle_acquire(&temp);
    const sl_dbx_call *call = req->call;
    bool streaming = req->upload_fd >= 0 || req->download_fd >= 0;
    char *url = sl_xasprintf("%s%s", c->s.host, req->path);
    char *body_text = req->json ? sl_json_dumps(req->json) : NULL;

    /* Timeouts: connect, then either a whole-request limit or (transfers) a stall limit;
     * both bounded by the caller's deadline. */
    int64_t to_deadline = 0;
    if (call && call->deadline_ms > 0) {
        to_deadline = call->deadline_ms - sl_now_ms();
        if (to_deadline < 1)
            to_deadline = 1;
    }
    long stall_s = (long)((c->s.request_timeout_ms + 999) / 1000);
    sl__dbx_xfer_spec spec = {
        .url = url,
        .method = req->method,
        .body = body_text        ? body_text
                : req->json_text ? req->json_text
                                 : req->form,
        .content_type =
            req->form && !body_text && !req->json_text ? "application/x-www-form-urlencoded" : NULL,
        .upload_fd = req->upload_fd,
        .upload_size = req->upload_size,
        .bearer = bearer,
        .basic_user = req->basic_user,
        .basic_pass = req->basic_pass,
        .accept = req->accept ? req->accept : "application/json",
        .user_agent = c->user_agent,
        .tls_verify = c->s.tls_verify,
        .connect_timeout_ms = min_pos(c->s.connect_timeout_ms, to_deadline),
        .timeout_ms = streaming ? to_deadline : min_pos(c->s.request_timeout_ms, to_deadline),
        .stall_s = streaming ? (stall_s > 0 ? stall_s : 1L) : 0,
        .progress = true,
    };
    x->h = h;
    x->c = c;
    x->call = call;
    x->download_fd = req->download_fd;
    x->upload_fd = -1;
    x->max = SL_DBX_MAX_RESPONSE;
    x->progress_op = req->progress_op;
    x->progress_id = req->progress_id;
    x->meta = true;
    sl__dbx_xfer_reset(x);
    sl__dbx_xfer_setup_handle(x, &spec);
    sl__dbx_xfer_setup_request(x, &spec, sl__dbx_xfer_headers(&spec), true);
    CURLcode cc = curl_easy_perform(h);
    sl__dbx_xfer_finish(x, cc, err);
    sl__dbx_xfer_detach(x);
    handle_release(h, temp);
    x->h = NULL;
    free(body_text);
    free(url);
    return cc;
}

static bool truncate_download(int fd)
{
    if (fd < 0)
        return true;
    return ftruncate(fd, 0) == 0;
}

sl_code sl__dbx_request(sl_dbx_client *c, const sl__dbx_req *req, sl__dbx_resp *resp, sl_err *err)
{
    sl_err local;
    if (!err)
        err = &local;
    sl_err_clear(err);
    memset(resp, 0, sizeof(*resp));
    resp->content_length = -1;
    const sl_dbx_call *call = req->call;
    bool oauth = c->s.auth == SL_DBX_AUTH_OAUTH_M2M && !req->no_auth && !req->basic_user;
    bool auth_retried = false;
    int attempt = 0; /* retries done */
    sl_code rc = SL_OK;
    char *tok = NULL;
    uint64_t tok_gen = 0, stale_gen = 0;

    for (;;) {
        if ((rc = sl__dbx_check_call(call, err)) != SL_OK)
            break;
        const char *bearer = NULL;
        if (oauth) {
            sl_secret_free(tok);
            tok = NULL;
            if ((rc = sl__dbx_oauth_token(c, call, stale_gen, &tok, &tok_gen, err)) != SL_OK)
                break;
            bearer = tok;
        } else if (!req->no_auth && !req->basic_user) {
            bearer = c->s.token;
        }
        sl__dbx_xfer x = {.download_fd = -1, .upload_fd = -1};
        if (!truncate_download(req->download_fd)) {
            rc = sl_err_set(err, SL_EIO, "truncating local file: %s", strerror(errno));
            break;
        }
        sl_err_clear(err);
        int64_t t0 = sl_mono_ns();
        CURLcode cc = perform(c, req, bearer, &x, err);
        long status = cc == CURLE_OK ? (long)err->http_status : 0;
        if (cc == CURLE_OK && err->code == SL_OK) {
            /* success: hand the buffered body to the caller */
            resp->body = x.buf ? x.buf : sl_xstrdup("");
            resp->body_len = x.len;
            resp->content_length = x.content_length;
            snprintf(resp->content_type, sizeof(resp->content_type), "%s", x.content_type);
            snprintf(resp->last_modified, sizeof(resp->last_modified), "%s", x.last_modified);
            resp->status = 200;
            sl__dbx_log(c, SL_LOG_DEBUG, "dbx: %s %s -> 2xx (%lld ms)", req->method, req->path,
                        (long long)((sl_mono_ns() - t0) / 1000000));
            rc = SL_OK;
            break;
        }
        free(x.buf);
        rc = err->code;
        sl__dbx_log(c, SL_LOG_DEBUG, "dbx: %s %s -> %s (%lld ms)", req->method, req->path, err->msg,
                    (long long)((sl_mono_ns() - t0) / 1000000));

        /* An OAuth token the server no longer accepts: refresh once, retry at once. */
        if (oauth && cc == CURLE_OK && (status == 401 || status == 403) && !auth_retried) {
            auth_retried = true;
            stale_gen = tok_gen;
            SL__DBX_STAT_ADD(c, n_retries, 1);
            continue;
        }
        stale_gen = 0;
        bool deadline_hit = call && call->deadline_ms > 0 && sl_now_ms() >= call->deadline_ms;
        if (deadline_hit && err->retryable && rc != SL_ETIMEOUT) {
            char prev[sizeof(err->msg)];
            snprintf(prev, sizeof(prev), "%s", err->msg);
            sl_err_set(err, SL_ETIMEOUT, "deadline reached (last error: %s)", prev);
            rc = SL_ETIMEOUT;
        }
        if (status == 429 && call && call->no_retry_on_429)
            break; /* the caller records and waits out the Retry-After itself */
        if (!err->retryable || attempt >= c->s.retry.max_retries || deadline_hit) {
            if (attempt > 0 && !deadline_hit && rc != SL_ECANCELED) {
                char tail[48];
                snprintf(tail, sizeof(tail), " (after %d attempts)", attempt + 1);
                size_t ml = strlen(err->msg), tl = strlen(tail);
                if (ml + tl < sizeof(err->msg))
                    memcpy(err->msg + ml, tail, tl + 1);
            }
            break;
        }
        int64_t delay = err->retry_after_ms >= 0
                            ? err->retry_after_ms
                            : sl_dbx_backoff_ms(&c->s.retry, attempt, sl_rand_unit());
        sl__dbx_log(c, SL_LOG_DEBUG, "dbx: %s %s: retry %d of %d in %lld ms", req->method,
                    req->path, attempt + 1, c->s.retry.max_retries, (long long)delay);
        sl_err last = *err;
        sl_code src = sl__dbx_sleep(call, delay, err);
        if (src == SL_ETIMEOUT) {
            char prev[sizeof(last.msg)];
            snprintf(prev, sizeof(prev), "%s", last.msg);
            *err = last;
            sl_err_set(err, SL_ETIMEOUT, "deadline reached while retrying (last error: %s)", prev);
            err->retryable = true;
            rc = SL_ETIMEOUT;
            break;
        }
        if (src != SL_OK) {
            rc = src;
            break;
        }
        attempt++;
        SL__DBX_STAT_ADD(c, n_retries, 1);
    }
    sl_secret_free(tok);
    if (rc != SL_OK) {
        sl__dbx_redact_err(c, err);
        if (req->what)
            sl__dbx_ctx(rc, err, "%s", req->what);
    }
    return rc;
}

static sl_code json_round_trip(sl_dbx_client *c, const sl__dbx_req *req, json_t **out, sl_err *err)
{
    sl__dbx_resp resp;
    sl_code rc = sl__dbx_request(c, req, &resp, err);
    if (rc == SL_OK && out) {
        const char *p = resp.body;
        while (p && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
            p++;
        if (!p || !*p) {
            *out = sl_json_check(json_object());
        } else {
            json_error_t jerr;
            *out = json_loadb(resp.body, resp.body_len, 0, &jerr);
            if (!*out) {
                rc = sl_err_set(err, SL_EREMOTE, "invalid JSON in response (line %d: %s)",
                                jerr.line, jerr.text);
                if (req->what)
                    sl__dbx_ctx(rc, err, "%s", req->what);
            }
        }
    }
    sl__dbx_resp_cleanup(&resp);
    return rc;
}

sl_code sl__dbx_json(sl_dbx_client *c, const char *method, const char *path, const json_t *body,
                     const char *what, const sl_dbx_call *call, json_t **out, sl_err *err)
{
    if (out)
        *out = NULL;
    sl__dbx_req req;
    sl__dbx_req_init(&req, method, path, what);
    req.json = body;
    req.call = call;
    return json_round_trip(c, &req, out, err);
}

sl_code sl__dbx_json_request(sl_dbx_client *c, const sl_dbx_request *rq, const sl_dbx_call *call,
                             json_t **out, sl_err *err)
{
    if (out)
        *out = NULL;
    sl__dbx_req req;
    sl__dbx_req_init(&req, rq->method, rq->path, rq->what[0] ? rq->what : NULL);
    req.json_text = rq->body;
    req.call = call;
    return json_round_trip(c, &req, out, err);
}

sl_code sl_dbx_api_call(sl_dbx_client *c, const char *method, const char *path, const json_t *body,
                        const sl_dbx_call *call, json_t **out, sl_err *err)
{
    *out = NULL;
    if (!path || (strncmp(path, "/api/", 5) != 0 && strncmp(path, "/serving-endpoints/", 19) != 0))
        return sl_err_set(err, SL_EINVAL,
                          "API path '%s' must start with /api/ or /serving-endpoints/",
                          path ? path : "");
    char what[200];
    snprintf(what, sizeof(what), "%s %s", method, path);
    return sl__dbx_json(c, method, path, body, what, call, out, err);
}

sl_code sl__dbx_list_all(sl_dbx_client *c, const char *base_path, const char *key, size_t max_items,
                         const char *what, const sl_dbx_call *call, json_t **out, sl_err *err)
{
    *out = NULL;
    json_t *all = sl_json_check(json_array());
    char *token = NULL;
    sl_code rc = SL_OK;
    const char *sep = strchr(base_path, '?') ? "&" : "?";
    for (int page = 0;; page++) {
        char *path;
        if (token) {
            char *enc = sl__dbx_pct(token);
            path = sl_xasprintf("%s%spage_token=%s", base_path, sep, enc);
            free(enc);
        } else {
            path = sl_xstrdup(base_path);
        }
        json_t *resp = NULL;
        rc = sl__dbx_json(c, "GET", path, NULL, what, call, &resp, err);
        free(path);
        if (rc != SL_OK)
            break;
        json_t *items = json_object_get(resp, key);
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            if (max_items && json_array_size(all) >= max_items)
                break;
            json_array_append(all, it);
        }
        const char *next = sl__dbx_jstr(resp, "next_page_token");
        free(token);
        token = (next && *next) ? sl_xstrdup(next) : NULL;
        json_decref(resp);
        if (!token || (max_items && json_array_size(all) >= max_items))
            break;
        if (page > 100000) {
            rc = sl_err_set(err, SL_EREMOTE, "%s: server kept returning pages", what);
            break;
        }
    }
    free(token);
    if (rc != SL_OK) {
        json_decref(all);
        return rc;
    }
    *out = all;
    return SL_OK;
}
