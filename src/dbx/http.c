/*
 * http.c - the transport: one curl easy handle per thread (kept in thread-local
 * storage and reused, so connections stay open across calls), auth headers, timeouts,
 * streaming of uploads/downloads, the retry loop and error mapping.
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

#include <curl/curl.h>

#include "dbx_int.h"

#define ERROR_BODY_MAX    (64 * 1024) /* enough of an error body to find its message */
#define PROGRESS_EVERY_NS (500 * 1000000LL)

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

static CURL *new_handle(void)
{
    CURL *h = curl_easy_init();
    if (!h) {
        sl_error("dbx: curl_easy_init failed (out of memory)");
        abort();
    }
    return h;
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
        return new_handle();
    }
    *temp = false;
    if (t->h)
        curl_easy_reset(t->h); /* keeps the connection, DNS and TLS session caches */
    else
        t->h = new_handle();
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

/* ---- one transfer ---- */

typedef struct xfer {
    sl_dbx_client *c;
    const sl__dbx_req *req;
    CURL *h;
    char *buf; /* buffered body */
    size_t len, cap, max;
    bool too_big;
    int64_t down_off; /* bytes written to download_fd */
    int io_errno;     /* local read/write error */
    bool io_read;     /* the local error was a read */
    int64_t up_off;   /* next upload offset */
    int abort_reason; /* 1 cancel, 2 deadline */
    int64_t last_progress_ns;
    int64_t content_length;
    char retry_after[128];
    char content_type[128];
    char last_modified[64];
} xfer;

static long response_code(CURL *h)
{
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *arg)
{
    xfer *x = arg;
    size_t n = size * nmemb;
    long status = response_code(x->h);
    if (x->req->download_fd >= 0 && status >= 200 && status < 300) {
        size_t done = 0;
        while (done < n) {
            ssize_t w = pwrite(x->req->download_fd, data + done, n - done, (off_t)x->down_off);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                x->io_errno = errno;
                x->io_read = false;
                return 0; /* aborts with CURLE_WRITE_ERROR */
            }
            done += (size_t)w;
            x->down_off += w;
        }
        return n;
    }
    size_t max = (status >= 200 && status < 300) ? x->max : ERROR_BODY_MAX;
    if (x->len + n > max) {
        if (status >= 200 && status < 300) {
            x->too_big = true;
            return 0;
        }
        n = max > x->len ? max - x->len : 0; /* keep the start of an error body */
        if (n == 0)
            return size * nmemb;
    }
    if (x->len + n + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 4096;
        while (x->len + n + 1 > cap)
            cap *= 2;
        x->buf = sl_xrealloc(x->buf, cap);
        x->cap = cap;
    }
    memcpy(x->buf + x->len, data, n);
    x->len += n;
    x->buf[x->len] = '\0';
    return size * nmemb;
}

static void header_value(char *dst, size_t cap, const char *v, size_t n)
{
    while (n > 0 && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    xfer *x = arg;
    size_t n = size * nmemb;
    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) { /* a new response (after 100, ...) */
        x->retry_after[0] = x->content_type[0] = x->last_modified[0] = '\0';
        x->content_length = -1;
        return n;
    }
    static const struct {
        const char *name;
        size_t off, cap;
    } hs[] = {
        {"retry-after:", offsetof(xfer, retry_after), sizeof(((xfer *)0)->retry_after)},
        {"content-type:", offsetof(xfer, content_type), sizeof(((xfer *)0)->content_type)},
        {"last-modified:", offsetof(xfer, last_modified), sizeof(((xfer *)0)->last_modified)},
    };
    for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
        size_t l = strlen(hs[i].name);
        if (n > l && strncasecmp(data, hs[i].name, l) == 0) {
            header_value((char *)x + hs[i].off, hs[i].cap, data + l, n - l);
            return n;
        }
    }
    if (n > 15 && strncasecmp(data, "content-length:", 15) == 0) {
        char v[32];
        header_value(v, sizeof(v), data + 15, n - 15);
        char *end;
        long long cl = strtoll(v, &end, 10);
        x->content_length = (end != v && cl >= 0) ? cl : -1;
    }
    return n;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *arg)
{
    xfer *x = arg;
    size_t want = size * nmemb;
    int64_t left = x->req->upload_size - x->up_off;
    if (left <= 0)
        return 0;
    if ((int64_t)want > left)
        want = (size_t)left;
    for (;;) {
        ssize_t r = pread(x->req->upload_fd, buf, want, (off_t)x->up_off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            x->io_errno = errno;
            x->io_read = true;
            return CURL_READFUNC_ABORT;
        }
        if (r == 0) { /* file shrank under us */
            x->io_errno = EIO;
            x->io_read = true;
            return CURL_READFUNC_ABORT;
        }
        x->up_off += r;
        return (size_t)r;
    }
}

static int on_seek(void *arg, curl_off_t offset, int origin)
{
    xfer *x = arg;
    if (origin != SEEK_SET || offset < 0 || offset > x->req->upload_size)
        return CURL_SEEKFUNC_CANTSEEK;
    x->up_off = offset;
    return CURL_SEEKFUNC_OK;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    xfer *x = arg;
    const sl_dbx_call *call = x->req->call;
    if (!call)
        return 0;
    if (call->cancel && call->cancel(call->cancel_arg)) {
        x->abort_reason = 1;
        return 1;
    }
    if (call->deadline_ms > 0 && sl_now_ms() >= call->deadline_ms) {
        x->abort_reason = 2;
        return 1;
    }
    if (call->progress && x->req->progress_op) {
        int64_t now = sl_mono_ns();
        if (now - x->last_progress_ns >= PROGRESS_EVERY_NS) {
            x->last_progress_ns = now;
            bool up = x->req->upload_fd >= 0;
            sl_dbx_progress p = {
                .op = x->req->progress_op,
                .id = x->req->progress_id,
                .state = NULL,
                .polls = 0,
                .bytes_done = up ? (int64_t)ulnow : (int64_t)dlnow,
                .bytes_total = up ? (int64_t)ultotal : (dltotal > 0 ? (int64_t)dltotal : -1),
            };
            call->progress(call->progress_arg, &p);
        }
    }
    return 0;
}

static bool is_conn_error(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

static int64_t min_pos(int64_t a, int64_t b)
{
    if (a <= 0)
        return b;
    if (b <= 0)
        return a;
    return a < b ? a : b;
}

/* Perform one attempt. Returns the curl code; x and err describe the outcome. */
static CURLcode perform(sl_dbx_client *c, const sl__dbx_req *req, const char *bearer, xfer *x,
                        char *errbuf, sl_err *err)
{
    bool temp;
    CURL *h = handle_acquire(&temp);
    x->h = h;
    struct curl_slist *hdrs = NULL;
    char *url = sl_xasprintf("%s%s", c->s.host, req->path);
    char *auth = NULL, *body_text = NULL;
    const sl_dbx_call *call = req->call;
    bool streaming = req->upload_fd >= 0 || req->download_fd >= 0;

    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L); /* never carry a token elsewhere */
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->s.tls_verify ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->s.tls_verify ? 2L : 0L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);

    /* Timeouts: connect, then either a whole-request limit or (transfers) a stall limit;
     * both bounded by the caller's deadline. */
    int64_t to_deadline = 0;
    if (call && call->deadline_ms > 0) {
        to_deadline = call->deadline_ms - sl_now_ms();
        if (to_deadline < 1)
            to_deadline = 1;
    }
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)min_pos(c->s.connect_timeout_ms, to_deadline));
    if (streaming) {
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(to_deadline > 0 ? to_deadline : 0));
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        long stall_s = (long)((c->s.request_timeout_ms + 999) / 1000);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, stall_s > 0 ? stall_s : 1L);
    } else {
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                         (long)min_pos(c->s.request_timeout_ms, to_deadline));
    }

    if (req->basic_user) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, req->basic_user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, req->basic_pass ? req->basic_pass : "");
    } else if (bearer) {
        auth = sl_xasprintf("Authorization: Bearer %s", bearer);
        hdrs = curl_slist_append(hdrs, auth);
    }
    char accept[160];
    snprintf(accept, sizeof(accept), "Accept: %s", req->accept ? req->accept : "application/json");
    hdrs = curl_slist_append(hdrs, accept);

    const char *m = req->method;
    if (req->upload_fd >= 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 256L * 1024); /* fewer syscalls */
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->upload_size);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, x);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, x);
        hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream");
        if (strcmp(m, "PUT") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
    } else if (req->json || req->form) {
        if (req->json) {
            body_text = sl_json_dumps(req->json);
            hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        } else {
            body_text = sl_xstrdup(req->form);
            hdrs = curl_slist_append(hdrs, "Content-Type: application/x-www-form-urlencoded");
        }
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body_text));
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body_text);
        if (strcmp(m, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
    } else if (strcmp(m, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(m, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(m, "DELETE") == 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
    } else {
        /* POST/PUT/PATCH without a body: Content-Length: 0 and no Content-Type */
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        hdrs = curl_slist_append(hdrs, "Content-Type:");
        if (strcmp(m, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

    errbuf[0] = '\0';
    CURLcode cc = curl_easy_perform(h);

    curl_off_t up = 0, down = 0;
    curl_easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, &up);
    curl_easy_getinfo(h, CURLINFO_SIZE_DOWNLOAD_T, &down);
    SL__DBX_STAT_ADD(c, n_requests, 1);
    SL__DBX_STAT_ADD(c, n_bytes_up, up > 0 ? up : 0);
    SL__DBX_STAT_ADD(c, n_bytes_down, down > 0 ? down : 0);
    long status = response_code(h);
    if (status == 429)
        SL__DBX_STAT_ADD(c, n_429, 1);
    else if (status >= 500 && status <= 599)
        SL__DBX_STAT_ADD(c, n_5xx, 1);

    if (cc == CURLE_OK) {
        if (status < 200 || status > 299)
            sl_dbx_error_from_http((int)status, x->buf, x->len, x->retry_after, sl_now_ms(), err);
    } else if (cc == CURLE_ABORTED_BY_CALLBACK && x->abort_reason == 1) {
        sl_err_set(err, SL_ECANCELED, "canceled");
        err->retryable = false;
    } else if ((cc == CURLE_ABORTED_BY_CALLBACK && x->abort_reason == 2) ||
               (cc == CURLE_OPERATION_TIMEDOUT && call && call->deadline_ms > 0 &&
                sl_now_ms() >= call->deadline_ms)) {
        sl_err_set(err, SL_ETIMEOUT, "deadline reached");
        err->retryable = true;
    } else if ((cc == CURLE_ABORTED_BY_CALLBACK || cc == CURLE_READ_ERROR) && x->io_errno &&
               x->io_read) {
        sl_err_set(err, SL_EIO, "reading local file: %s", strerror(x->io_errno));
        err->retryable = false;
    } else if (cc == CURLE_WRITE_ERROR && x->too_big) {
        sl_err_set(err, SL_ELIMIT, "response larger than %u bytes", SL_DBX_MAX_RESPONSE);
        err->retryable = false;
    } else if (cc == CURLE_WRITE_ERROR && x->io_errno) {
        sl_err_set(err, SL_EIO, "writing local file: %s", strerror(x->io_errno));
        err->retryable = false;
    } else {
        bool conn = is_conn_error(cc);
        if (conn)
            SL__DBX_STAT_ADD(c, n_conn_errors, 1);
        sl_err_set(err,
                   conn ? (cc == CURLE_OPERATION_TIMEDOUT ? SL_ETIMEOUT : SL_EREMOTE) : SL_EREMOTE,
                   "%s (curl %d)", errbuf[0] ? errbuf : curl_easy_strerror(cc), (int)cc);
        err->retryable = conn;
    }

    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(hdrs);
    handle_release(h, temp);
    x->h = NULL;
    sl_secret_free(auth);
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
    char errbuf[CURL_ERROR_SIZE];

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
        xfer x = {.c = c, .req = req, .max = SL_DBX_MAX_RESPONSE, .content_length = -1};
        if (!truncate_download(req->download_fd)) {
            rc = sl_err_set(err, SL_EIO, "truncating local file: %s", strerror(errno));
            break;
        }
        sl_err_clear(err);
        int64_t t0 = sl_mono_ns();
        CURLcode cc = perform(c, req, bearer, &x, errbuf, err);
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

sl_code sl__dbx_json(sl_dbx_client *c, const char *method, const char *path, const json_t *body,
                     const char *what, const sl_dbx_call *call, json_t **out, sl_err *err)
{
    if (out)
        *out = NULL;
    sl__dbx_req req;
    sl__dbx_req_init(&req, method, path, what);
    req.json = body;
    req.call = call;
    sl__dbx_resp resp;
    sl_code rc = sl__dbx_request(c, &req, &resp, err);
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
                if (what)
                    sl__dbx_ctx(rc, err, "%s", what);
            }
        }
    }
    sl__dbx_resp_cleanup(&resp);
    return rc;
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
