/*
 * loop.c - the generator's event loop: one curl multi handle driven through
 * curl_multi_socket_action by epoll, a binary-heap timer queue, and a pool of transfers
 * whose easy handles are reused (connections live in the multi's cache, so keep-alive
 * holds across transfers).
 *
 * One iteration (lt_loop_run_once):
 *   run due timers -> epoll_wait(min(next timer, curl's timeout, cap)) -> socket_action
 *   per ready fd (or CURL_SOCKET_TIMEOUT) -> for each finished transfer: remove it from
 *   the multi, call its `done` -> run due timers again.
 * curl's socket and timer callbacks only record what curl asked for; user callbacks run
 * outside curl, so they may add transfers and timers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include "loadtest_int.h"

typedef struct timer {
    int64_t due_ns;
    uint64_t seq;
    lt_timer_fn fn;
    void *arg;
} timer;

struct lt_loop {
    CURLM *multi;
    int epfd;
    int64_t curl_due_ns; /* -1: curl wants no timeout call */
    timer *heap;
    size_t n_heap, cap_heap;
    uint64_t seq;
    lt_xfer *free_list;
    lt_xfer **all; /* every transfer ever made, for cleanup */
    size_t n_all, cap_all;
    int active, peak;
    lt_loop_opts o;
};

/* ---- timers ---- */

static bool before(const timer *a, const timer *b)
{
    return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

void lt_timer_add(lt_loop *l, int64_t due_ns, lt_timer_fn fn, void *arg)
{
    if (l->n_heap == l->cap_heap) {
        l->cap_heap = l->cap_heap ? l->cap_heap * 2 : 256;
        l->heap = sl_xrealloc(l->heap, l->cap_heap * sizeof(*l->heap));
    }
    size_t i = l->n_heap++;
    timer t = {due_ns, l->seq++, fn, arg};
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&t, &l->heap[p]))
            break;
        l->heap[i] = l->heap[p];
        i = p;
    }
    l->heap[i] = t;
}

static timer heap_pop(lt_loop *l)
{
    timer top = l->heap[0];
    timer last = l->heap[--l->n_heap];
    size_t i = 0, n = l->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && before(&l->heap[c + 1], &l->heap[c]))
            c++;
        if (!before(&l->heap[c], &last))
            break;
        l->heap[i] = l->heap[c];
        i = c;
    }
    if (n)
        l->heap[i] = last;
    return top;
}

int64_t lt_timer_next(const lt_loop *l)
{
    return l->n_heap ? l->heap[0].due_ns : INT64_MAX;
}

static void run_timers(lt_loop *l)
{
    int64_t now = sl_mono_ns();
    /* timers added by callbacks with due <= now run in this pass too */
    while (l->n_heap && l->heap[0].due_ns <= now) {
        timer t = heap_pop(l);
        t.fn(t.arg);
        now = sl_mono_ns();
    }
}

/* ---- curl callbacks ---- */

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)e;
    (void)socketp;
    lt_loop *l = userp;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, s, NULL);
        return 0;
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.data.fd = s;
    if (what & CURL_POLL_IN)
        ev.events |= EPOLLIN;
    if (what & CURL_POLL_OUT)
        ev.events |= EPOLLOUT;
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, s, &ev) != 0) {
        if (errno == ENOENT)
            epoll_ctl(l->epfd, EPOLL_CTL_ADD, s, &ev);
    }
    return 0;
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    lt_loop *l = userp;
    l->curl_due_ns = timeout_ms < 0 ? -1 : sl_mono_ns() + (int64_t)timeout_ms * 1000000;
    return 0;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
    lt_xfer *x = userp;
    size_t n = size * nmemb;
    x->bytes += n;
    if (x->discard)
        return n;
    if (x->resp.len + n > LT_RESP_MAX) {
        x->too_big = true;
        return 0; /* aborts the transfer (CURLE_WRITE_ERROR) */
    }
    sl_buf_put(&x->resp, data, n);
    return n;
}

static size_t header_cb(char *data, size_t size, size_t nmemb, void *userp)
{
    lt_xfer *x = userp;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";
    if (n > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0) {
        const char *v = data + sizeof(name) - 1;
        size_t vl = n - (sizeof(name) - 1);
        while (vl && (*v == ' ' || *v == '\t')) {
            v++;
            vl--;
        }
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
            vl--;
        if (vl >= sizeof(x->retry_after))
            vl = sizeof(x->retry_after) - 1;
        memcpy(x->retry_after, v, vl);
        x->retry_after[vl] = '\0';
    }
    return n;
}

/* ---- loop ---- */

void lt_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

lt_loop *lt_loop_new(const lt_loop_opts *o, sl_err *err)
{
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
        sl_err_set(err, SL_EIO, "epoll_create1: %s", strerror(errno));
        return NULL;
    }
    CURLM *m = curl_multi_init();
    if (!m) {
        close(epfd);
        sl_err_set(err, SL_EIO, "curl_multi_init failed");
        return NULL;
    }
    lt_loop *l = sl_xcalloc(1, sizeof(*l));
    l->multi = m;
    l->epfd = epfd;
    l->curl_due_ns = -1;
    l->o = *o;
    curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(m, CURLMOPT_SOCKETDATA, l);
    curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(m, CURLMOPT_TIMERDATA, l);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS,
                      (long)(o->max_connections > 0 ? o->max_connections : 64));
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
    curl_multi_setopt(m, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
    return l;
}

void lt_loop_free(lt_loop *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n_all; i++) {
        lt_xfer *x = l->all[i];
        if (x->active)
            curl_multi_remove_handle(l->multi, x->easy);
        curl_easy_cleanup(x->easy);
        sl_buf_free(&x->resp);
        free(x->req_body);
        free(x);
    }
    free(l->all);
    free(l->heap);
    curl_multi_cleanup(l->multi);
    close(l->epfd);
    free(l);
}

lt_xfer *lt_xfer_get(lt_loop *l)
{
    lt_xfer *x = l->free_list;
    if (x) {
        l->free_list = x->next_free;
        x->next_free = NULL;
        return x;
    }
    x = sl_xcalloc(1, sizeof(*x));
    x->easy = curl_easy_init();
    if (!x->easy) {
        sl_error("loadtest: curl_easy_init failed (out of memory)");
        abort();
    }
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->curl_err);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     l->o.connect_timeout_ms > 0 ? l->o.connect_timeout_ms : 10000L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, l->o.tls_verify ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, l->o.tls_verify ? 2L : 0L);
    if (l->o.user_agent)
        curl_easy_setopt(e, CURLOPT_USERAGENT, l->o.user_agent);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, NULL);
    if (l->n_all == l->cap_all) {
        l->cap_all = l->cap_all ? l->cap_all * 2 : 64;
        l->all = sl_xrealloc(l->all, l->cap_all * sizeof(*l->all));
    }
    l->all[l->n_all++] = x;
    return x;
}

void lt_xfer_put(lt_loop *l, lt_xfer *x)
{
    if (x->active)
        lt_xfer_abort(l, x);
    sl_buf_reset(&x->resp);
    if (x->resp.cap > 64 * 1024) /* do not keep a large buffer around per pooled transfer */
        sl_buf_free(&x->resp);
    free(x->req_body);
    x->req_body = NULL;
    x->done = NULL;
    x->arg = NULL;
    x->next_free = l->free_list;
    l->free_list = x;
}

static void add(lt_loop *l, lt_xfer *x)
{
    x->status = 0;
    x->cc = CURLE_OK;
    x->curl_err[0] = '\0';
    x->retry_after[0] = '\0';
    x->too_big = false;
    x->bytes = 0;
    sl_buf_reset(&x->resp);
    x->started_ns = sl_mono_ns();
    x->active = true;
    CURLMcode mc = curl_multi_add_handle(l->multi, x->easy);
    if (mc != CURLM_OK) {
        sl_error("loadtest: curl_multi_add_handle: %s", curl_multi_strerror(mc));
        abort();
    }
    if (++l->active > l->peak)
        l->peak = l->active;
}

void lt_xfer_start(lt_loop *l, lt_xfer *x, const char *method, const char *url, const char *body,
                   const struct curl_slist *headers, long timeout_ms, lt_xfer_fn done, void *arg)
{
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    free(x->req_body);
    x->req_body = NULL;
    if (strcmp(method, "POST") == 0) {
        x->req_body = sl_xstrdup(body ? body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->req_body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(x->req_body));
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
    } else if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 0L);
    x->done = done;
    x->arg = arg;
    add(l, x);
}

void lt_xfer_restart(lt_loop *l, lt_xfer *x)
{
    add(l, x);
}

void lt_xfer_abort(lt_loop *l, lt_xfer *x)
{
    if (!x->active)
        return;
    curl_multi_remove_handle(l->multi, x->easy);
    x->active = false;
    l->active--;
}

static void drain_done(lt_loop *l)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(l->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *e = msg->easy_handle;
        CURLcode cc = msg->data.result;
        lt_xfer *x = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
        long status = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        curl_multi_remove_handle(l->multi, e);
        l->active--;
        x->active = false;
        x->cc = cc;
        x->status = status;
        if (x->done)
            x->done(x, x->arg);
    }
}

int lt_loop_run_once(lt_loop *l, int64_t max_wait_ns)
{
    run_timers(l);
    int64_t now = sl_mono_ns();
    int64_t until = now + (max_wait_ns > 0 ? max_wait_ns : 0);
    int64_t t = lt_timer_next(l);
    if (t < until)
        until = t;
    if (l->curl_due_ns >= 0 && l->curl_due_ns < until)
        until = l->curl_due_ns;
    int64_t wait_ns = until - now;
    int wait_ms = wait_ns <= 0 ? 0 : (int)((wait_ns + 999999) / 1000000);
    struct epoll_event evs[512];
    int n = epoll_wait(l->epfd, evs, 512, wait_ms);
    int running = 0;
    for (int i = 0; i < n; i++) {
        int flags = 0;
        if (evs[i].events & (EPOLLIN | EPOLLHUP))
            flags |= CURL_CSELECT_IN;
        if (evs[i].events & EPOLLOUT)
            flags |= CURL_CSELECT_OUT;
        if (evs[i].events & EPOLLERR)
            flags |= CURL_CSELECT_ERR;
        curl_multi_socket_action(l->multi, evs[i].data.fd, flags, &running);
    }
    if (l->curl_due_ns >= 0 && sl_mono_ns() >= l->curl_due_ns) {
        l->curl_due_ns = -1;
        curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    drain_done(l);
    run_timers(l);
    /* new transfers added by callbacks set curl_due_ns to now: kick them at once */
    if (l->curl_due_ns >= 0 && sl_mono_ns() >= l->curl_due_ns) {
        l->curl_due_ns = -1;
        curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        drain_done(l);
    }
    return l->active;
}

int lt_loop_active(const lt_loop *l)
{
    return l->active;
}

int lt_loop_peak(const lt_loop *l)
{
    return l->peak;
}
