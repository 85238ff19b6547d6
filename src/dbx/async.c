/*
 * async.c - the non-blocking driver (sl_dbx_async): one curl multi handle driven through
 * curl_multi_socket_action by epoll, and a pool of requests whose easy handles are reused
 * (connections live in the multi's cache, so keep-alive holds across requests). Each
 * request is one transfer of xfer.c, set up and mapped exactly as the blocking
 * transport's attempts are; what differs is only who runs it (the multi, not
 * curl_easy_perform) and that nothing here retries or sleeps.
 *
 * One sl_dbx_async_run:
 *   epoll_wait(min(max_wait, curl's timeout)) -> socket_action per ready fd (or
 *   CURL_SOCKET_TIMEOUT) -> for each finished transfer: remove it from the multi, map
 *   the outcome, run its callback -> kick requests those callbacks submitted.
 * curl's socket and timer callbacks only record what curl asked for; user callbacks run
 * outside curl, so they may submit, abort and free requests.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "dbx_int.h"

typedef enum { RQ_IDLE, RQ_IN_FLIGHT, RQ_DONE, RQ_FREE } rq_state;

struct sl_dbx_async {
    sl_dbx_client *c; /* NULL: raw */
    CURLM *multi;
    int epfd;
    int64_t curl_due_ns;    /* -1: curl wants no timeout call */
    sl_dbx_async_req **all; /* every request ever made, for cleanup */
    size_t n_all, cap_all;
    sl_dbx_async_req *free_list;
    int in_flight, peak;
    char *user_agent;
    int64_t connect_timeout_ms;
    bool tls_verify;
    /* client drivers: header lists shared by requests, one per Content-Type kind, for the
     * token of generation hdr_gen; lists of older tokens stay until the driver is freed
     * (requests in flight may still point at them) */
    struct curl_slist *hdrs[4];
    uint64_t hdr_gen;
    struct curl_slist **retired;
    size_t n_retired;
};

struct sl_dbx_async_req {
    sl_dbx_async *a;
    sl__dbx_xfer x; /* x.h is this request's easy handle */
    rq_state state;
    sl_dbx_async_fn done;
    void *arg;
    /* the request, copied at submit */
    char method[8];
    char *url;
    char *body;
    char **headers;
    size_t n_headers;
    char what[160];
    int64_t timeout_ms;
    /* auth */
    bool oauth;
    bool auth_retried;
    uint64_t tok_gen;
    /* outcome */
    sl_err err;
    sl_dbx_response resp;
    sl_dbx_async_req *next_free;
};

/* ---- curl callbacks ---- */

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)e;
    (void)socketp;
    sl_dbx_async *a = userp;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(a->epfd, EPOLL_CTL_DEL, s, NULL);
        return 0;
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.data.fd = s;
    if (what & CURL_POLL_IN)
        ev.events |= EPOLLIN;
    if (what & CURL_POLL_OUT)
        ev.events |= EPOLLOUT;
    if (epoll_ctl(a->epfd, EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT)
        epoll_ctl(a->epfd, EPOLL_CTL_ADD, s, &ev);
    return 0;
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    sl_dbx_async *a = userp;
    a->curl_due_ns = timeout_ms < 0 ? -1 : sl_mono_ns() + (int64_t)timeout_ms * 1000000;
    return 0;
}

/* ---- driver ---- */

void sl_dbx_async_opts_init(sl_dbx_async_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->tls_verify = true;
}

sl_code sl_dbx_async_new(sl_dbx_client *c, const sl_dbx_async_opts *o, sl_dbx_async **out,
                         sl_err *err)
{
    *out = NULL;
    sl_dbx_async_opts defaults;
    if (!o) {
        sl_dbx_async_opts_init(&defaults);
        o = &defaults;
    }
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        return sl_err_set(err, SL_EIO, "epoll_create1: %s", strerror(errno));
    CURLM *m = curl_multi_init();
    if (!m) {
        close(epfd);
        return sl_err_set(err, SL_EIO, "curl_multi_init failed");
    }
    sl_dbx_async *a = sl_xcalloc(1, sizeof(*a));
    a->c = c;
    a->multi = m;
    a->epfd = epfd;
    a->curl_due_ns = -1;
    if (c) {
        a->user_agent = sl_xstrdup(c->user_agent);
        a->connect_timeout_ms = c->s.connect_timeout_ms;
        a->tls_verify = c->s.tls_verify;
    } else {
        a->user_agent = sl_xstrdup(o->user_agent ? o->user_agent : "sluice/" SL_VERSION);
        a->connect_timeout_ms = o->connect_timeout_ms;
        a->tls_verify = o->tls_verify;
    }
    if (c && c->s.auth == SL_DBX_AUTH_OAUTH_M2M) {
        /* rejected credentials are the driver's failure, not every request's */
        char *tok = NULL;
        uint64_t gen = 0;
        sl_code rc = sl__dbx_oauth_token(c, NULL, 0, &tok, &gen, err);
        sl_secret_free(tok);
        if (rc != SL_OK) {
            sl__dbx_redact_err(c, err);
            curl_multi_cleanup(m);
            close(epfd);
            free(a->user_agent);
            free(a);
            return rc;
        }
    }
    curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(m, CURLMOPT_SOCKETDATA, a);
    curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(m, CURLMOPT_TIMERDATA, a);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS,
                      (long)(o->max_connections > 0 ? o->max_connections : 64));
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
    curl_multi_setopt(m, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
    *out = a;
    return SL_OK;
}

static void forget_request(sl_dbx_async_req *r)
{
    free(r->url);
    free(r->body);
    for (size_t i = 0; i < r->n_headers; i++)
        free(r->headers[i]);
    free(r->headers);
    r->url = r->body = NULL;
    r->headers = NULL;
    r->n_headers = 0;
}

void sl_dbx_async_free(sl_dbx_async *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n_all; i++) {
        sl_dbx_async_req *r = a->all[i];
        if (r->state == RQ_IN_FLIGHT)
            curl_multi_remove_handle(a->multi, r->x.h);
        sl__dbx_xfer_detach(&r->x);
        curl_easy_cleanup(r->x.h);
        forget_request(r);
        free(r->x.buf);
        free(r);
    }
    free(a->all);
    for (size_t i = 0; i < 4; i++)
        curl_slist_free_all(a->hdrs[i]);
    for (size_t i = 0; i < a->n_retired; i++)
        curl_slist_free_all(a->retired[i]);
    free(a->retired);
    curl_multi_cleanup(a->multi);
    close(a->epfd);
    free(a->user_agent);
    free(a);
}

int sl_dbx_async_in_flight(const sl_dbx_async *a)
{
    return a->in_flight;
}

int sl_dbx_async_peak(const sl_dbx_async *a)
{
    return a->peak;
}

/* ---- requests ---- */

sl_dbx_async_req *sl_dbx_async_req_new(sl_dbx_async *a)
{
    sl_dbx_async_req *r = a->free_list;
    if (r) {
        a->free_list = r->next_free;
        r->next_free = NULL;
        r->state = RQ_IDLE;
        return r;
    }
    r = sl_xcalloc(1, sizeof(*r));
    r->a = a;
    r->x.h = sl__dbx_easy_new();
    r->x.c = a->c;
    r->x.download_fd = -1;
    r->x.upload_fd = -1;
    sl__dbx_xfer_spec spec = {.user_agent = a->user_agent,
                              .tls_verify = a->tls_verify,
                              .connect_timeout_ms = a->connect_timeout_ms};
    sl__dbx_xfer_setup_handle(&r->x, &spec); /* for every request this handle will carry */
    curl_easy_setopt(r->x.h, CURLOPT_PRIVATE, r);
    r->state = RQ_IDLE;
    sl_err_clear(&r->err);
    r->resp.err = &r->err;
    r->resp.body = "";
    if (a->n_all == a->cap_all) {
        a->cap_all = a->cap_all ? a->cap_all * 2 : 64;
        a->all = sl_xrealloc(a->all, a->cap_all * sizeof(*a->all));
    }
    a->all[a->n_all++] = r;
    return r;
}

void sl_dbx_async_req_abort(sl_dbx_async_req *r)
{
    if (!r || r->state != RQ_IN_FLIGHT)
        return;
    curl_multi_remove_handle(r->a->multi, r->x.h);
    r->a->in_flight--;
    r->state = RQ_IDLE;
}

void sl_dbx_async_req_free(sl_dbx_async_req *r)
{
    if (!r || r->state == RQ_FREE)
        return;
    sl_dbx_async_req_abort(r);
    sl_dbx_async *a = r->a;
    forget_request(r);
    if (r->x.cap > 64 * 1024) { /* do not keep a large buffer around per pooled request */
        free(r->x.buf);
        r->x.buf = NULL;
        r->x.cap = 0;
    }
    r->x.len = 0;
    r->done = NULL;
    r->arg = NULL;
    r->state = RQ_FREE;
    r->next_free = a->free_list;
    a->free_list = r;
}

bool sl_dbx_async_req_is_in_flight(const sl_dbx_async_req *r)
{
    return r->state == RQ_IN_FLIGHT;
}

const sl_dbx_response *sl_dbx_async_req_response(const sl_dbx_async_req *r)
{
    return &r->resp;
}

static void add(sl_dbx_async_req *r)
{
    sl_dbx_async *a = r->a;
    sl__dbx_xfer_reset(&r->x);
    r->resp.submitted_ns = sl_mono_ns();
    r->state = RQ_IN_FLIGHT;
    CURLMcode mc = curl_multi_add_handle(a->multi, r->x.h);
    if (mc != CURLM_OK) {
        sl_error("dbx: curl_multi_add_handle: %s", curl_multi_strerror(mc));
        abort();
    }
    if (++a->in_flight > a->peak)
        a->peak = a->in_flight;
}

/* The header list for `spec` (borrowed from the driver's cache, or owned by the request
 * when it has extra lines). */
static struct curl_slist *headers_for(sl_dbx_async_req *r, const sl__dbx_xfer_spec *spec,
                                      uint64_t gen, bool *own)
{
    sl_dbx_async *a = r->a;
    *own = !a->c || spec->n_extra > 0;
    if (*own)
        return sl__dbx_xfer_headers(spec);
    if (gen != a->hdr_gen) { /* a new token: new lists; the old ones may be in use */
        for (size_t i = 0; i < 4; i++) {
            if (!a->hdrs[i])
                continue;
            a->retired = sl_xrealloc(a->retired, (a->n_retired + 1) * sizeof(*a->retired));
            a->retired[a->n_retired++] = a->hdrs[i];
            a->hdrs[i] = NULL;
        }
        a->hdr_gen = gen;
    }
    int k = sl__dbx_xfer_header_kind(spec);
    if (!a->hdrs[k])
        a->hdrs[k] = sl__dbx_xfer_headers(spec);
    return a->hdrs[k];
}

/* Set the handle up for the copied request (with a fresh token when stale_gen says the
 * last one was refused) and add it to the multi. */
static sl_code start(sl_dbx_async_req *r, uint64_t stale_gen, sl_err *err)
{
    sl_dbx_async *a = r->a;
    sl_dbx_client *c = a->c;
    char *tok = NULL;
    const char *bearer = NULL;
    uint64_t gen = 0;
    if (c && r->oauth) {
        sl_code rc = sl__dbx_oauth_token(c, NULL, stale_gen, &tok, &r->tok_gen, err);
        if (rc != SL_OK) {
            sl__dbx_redact_err(c, err);
            return rc;
        }
        bearer = tok;
        gen = r->tok_gen;
    } else if (c) {
        bearer = c->s.token;
    }
    int64_t timeout = r->timeout_ms > 0 ? r->timeout_ms : c ? c->s.request_timeout_ms : 0;
    sl__dbx_xfer_spec spec = {
        .url = r->url,
        .method = r->method,
        .body = r->body,
        .upload_fd = -1,
        .bearer = bearer,
        .accept = c ? "application/json" : NULL,
        .extra = (const char *const *)r->headers,
        .n_extra = r->n_headers,
        .timeout_ms = timeout,
    };
    bool own;
    struct curl_slist *hdrs = headers_for(r, &spec, gen, &own);
    sl__dbx_xfer_setup_request(&r->x, &spec, hdrs, own);
    sl_secret_free(tok);
    add(r);
    return SL_OK;
}

static bool is_http_url(const char *u)
{
    return strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0;
}

sl_code sl_dbx_async_req_submit(sl_dbx_async_req *r, const sl_dbx_request *rq, sl_dbx_async_fn done,
                                void *arg, sl_err *err)
{
    SL_ASSERT(r->state != RQ_IN_FLIGHT && r->state != RQ_FREE);
    sl_dbx_async *a = r->a;
    const char *path = rq->path ? rq->path : "";
    if (!a->c && !is_http_url(path))
        return sl_err_set(err, SL_EINVAL, "URL '%.100s' is not http:// or https://", path);
    /* A CR or LF in a URL or header would let its text smuggle extra headers (or a second
     * request) onto the wire; no control character belongs there. */
    for (const char *p = path; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return sl_err_set(err, SL_EINVAL, "URL has a control character");
    for (size_t i = 0; i < rq->n_headers; i++)
        for (const char *p = rq->headers[i]; *p; p++)
            if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
                return sl_err_set(err, SL_EINVAL, "header %zu has a control character", i + 1);
    forget_request(r);
    snprintf(r->method, sizeof(r->method), "%s", rq->method ? rq->method : "GET");
    if (a->c) {
        size_t hl = strlen(a->c->s.host), pl = strlen(path);
        r->url = sl_xmalloc(hl + pl + 1);
        memcpy(r->url, a->c->s.host, hl);
        memcpy(r->url + hl, path, pl + 1);
    } else {
        r->url = sl_xstrdup(path);
    }
    r->body = rq->body ? sl_xstrdup(rq->body) : NULL;
    if (rq->n_headers) {
        r->headers = sl_xcalloc(rq->n_headers, sizeof(char *));
        for (size_t i = 0; i < rq->n_headers; i++)
            r->headers[i] = sl_xstrdup(rq->headers[i]);
        r->n_headers = rq->n_headers;
    }
    if (rq->what[0])
        snprintf(r->what, sizeof(r->what), "%s", rq->what);
    else
        snprintf(r->what, sizeof(r->what), "%s %.140s", r->method, path);
    r->timeout_ms = rq->timeout_ms;
    r->x.max = rq->body_max ? rq->body_max : SL_DBX_ASYNC_BODY_MAX;
    r->x.discard = rq->discard;
    r->oauth = a->c && a->c->s.auth == SL_DBX_AUTH_OAUTH_M2M;
    r->auth_retried = false;
    r->done = done;
    r->arg = arg;
    return start(r, 0, err);
}

sl_code sl_dbx_async_req_resubmit(sl_dbx_async_req *r, sl_err *err)
{
    SL_ASSERT(r->state != RQ_IN_FLIGHT && r->state != RQ_FREE && r->url);
    sl_dbx_client *c = r->a->c;
    r->auth_retried = false;
    if (c && r->oauth) {
        pthread_mutex_lock(&c->tok_mu);
        bool fresh = c->tok && c->tok_gen == r->tok_gen && sl_now_ms() < c->tok_refresh_at_ms;
        pthread_mutex_unlock(&c->tok_mu);
        if (!fresh)
            return start(r, 0, err);
    }
    add(r);
    return SL_OK;
}

/* ---- running ---- */

/* Map the outcome of a finished transfer; true when it was re-sent instead (the one
 * retry after an OAuth token was refused). */
static bool complete(sl_dbx_async_req *r, CURLcode cc)
{
    sl_dbx_client *c = r->a->c;
    sl_err *err = &r->err;
    sl_code rc = sl__dbx_xfer_finish(&r->x, cc, err);
    long status = r->x.status;
    if (c && r->oauth && (status == 401 || status == 403) && !r->auth_retried) {
        r->auth_retried = true;
        SL__DBX_STAT_ADD(c, n_retries, 1);
        sl_err tok_err;
        sl_err_clear(&tok_err);
        if (start(r, r->tok_gen, &tok_err) == SL_OK)
            return true;
        *err = tok_err;
        rc = tok_err.code;
    }
    if (rc != SL_OK) {
        if (c)
            sl__dbx_redact_err(c, err);
        else
            sl_dbx_redact_buf(err->msg, sizeof(err->msg), NULL);
        sl__dbx_ctx(rc, err, "%s", r->what);
    }
    sl_dbx_response *o = &r->resp;
    o->code = rc;
    o->status = (int)status;
    o->body = r->x.buf && rc == SL_OK ? r->x.buf : "";
    o->body_len = rc == SL_OK ? r->x.len : 0;
    o->bytes = r->x.bytes_down;
    return false;
}

static void drain(sl_dbx_async *a)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(a->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *e = msg->easy_handle;
        CURLcode cc = msg->data.result;
        sl_dbx_async_req *r = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
        curl_multi_remove_handle(a->multi, e);
        a->in_flight--;
        r->state = RQ_DONE;
        if (complete(r, cc))
            continue;
        if (r->done)
            r->done(r, r->arg);
        if (r->state == RQ_DONE)
            r->state = RQ_IDLE;
    }
}

static void kick(sl_dbx_async *a)
{
    int running = 0;
    a->curl_due_ns = -1;
    curl_multi_socket_action(a->multi, CURL_SOCKET_TIMEOUT, 0, &running);
}

int sl_dbx_async_run(sl_dbx_async *a, int64_t max_wait_ns)
{
    int64_t now = sl_mono_ns();
    int64_t until = now + (max_wait_ns > 0 ? max_wait_ns : 0);
    if (a->curl_due_ns >= 0 && a->curl_due_ns < until)
        until = a->curl_due_ns;
    int64_t wait_ns = until - now;
    int wait_ms = wait_ns <= 0 ? 0 : (int)((wait_ns + 999999) / 1000000);
    struct epoll_event evs[512];
    int n = epoll_wait(a->epfd, evs, 512, wait_ms);
    int running = 0;
    for (int i = 0; i < n; i++) {
        int flags = 0;
        if (evs[i].events & (EPOLLIN | EPOLLHUP))
            flags |= CURL_CSELECT_IN;
        if (evs[i].events & EPOLLOUT)
            flags |= CURL_CSELECT_OUT;
        if (evs[i].events & EPOLLERR)
            flags |= CURL_CSELECT_ERR;
        curl_multi_socket_action(a->multi, evs[i].data.fd, flags, &running);
    }
    if (a->curl_due_ns >= 0 && sl_mono_ns() >= a->curl_due_ns)
        kick(a);
    drain(a);
    /* requests submitted by the callbacks set curl's timeout to now: start them at once */
    if (a->curl_due_ns >= 0 && sl_mono_ns() >= a->curl_due_ns) {
        kick(a);
        drain(a);
    }
    return a->in_flight;
}

/* ---- requests as data ---- */

void sl_dbx_request_init(sl_dbx_request *r, const char *method, const char *path)
{
    memset(r, 0, sizeof(*r));
    r->method = method;
    r->path = path;
}

void sl_dbx_request_cleanup(sl_dbx_request *r)
{
    if (!r)
        return;
    free(r->own_path);
    free(r->own_body);
    r->own_path = r->own_body = NULL;
    r->path = r->body = NULL;
}

int64_t sl_dbx_retry_delay_ms(const sl_err *err, int attempt, int max_retries,
                              const sl_dbx_retry_policy *p, double unit_random, int64_t now_ms,
                              int64_t deadline_ms)
{
    if (!err || (err->http_status != 429 && err->http_status != 503) || attempt >= max_retries)
        return -1;
    int64_t delay =
        err->retry_after_ms >= 0 ? err->retry_after_ms : sl_dbx_backoff_ms(p, attempt, unit_random);
    if (deadline_ms > 0 && now_ms + delay >= deadline_ms)
        return -1;
    return delay;
}
