/*
 * server.c - the rpc server: one completion queue served by one thread, handler threads fed
 * from a FIFO of calls whose request has been read.
 *
 * Every grpc batch carries a tag naming its call and its kind. A call struct holds one
 * reference per outstanding batch plus one for its handler; whoever drops the last frees
 * it, so the completion-queue thread and a handler never race on freeing. All call state
 * lives under the server's one mutex (critical sections are a few stores each).
 */
#include "rpc_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/grpc_security.h>
#include <grpc/slice.h>

enum tag_kind { TAG_NEW_CALL, TAG_RECV_MSG, TAG_CLOSE, TAG_SEND, TAG_SHUTDOWN };

struct tag {
    enum tag_kind kind;
    sl_rpc_call *call;
};

struct method {
    char *name;
    sl_rpc_handler_fn fn;
    void *arg;
};

struct sl_rpc_call {
    sl_rpc_server *srv;
    grpc_call *call;
    grpc_call_details details;
    grpc_metadata_array md;
    char *method;
    const struct method *m;
    grpc_byte_buffer *recv_buf;
    uint8_t *req;
    size_t req_len;
    int cancelled; /* RECV_CLOSE_ON_SERVER's flag */
    bool closed;   /* RECV_CLOSE_ON_SERVER completed */
    bool sent_initial_md;
    bool finished;  /* a status batch was started */
    bool send_busy; /* a send batch is in flight */
    bool send_ok;   /* the last send batch's outcome */
    int refs;       /* outstanding batches + the handler; under srv->mu */
    grpc_byte_buffer *send_buf;
    grpc_slice status_details;
    bool has_status_details;
    struct tag t_new, t_recv, t_close, t_send;
    sl_rpc_call *next; /* the handler FIFO */
    /* sl_rpc_call_wait: the handler sleeps on its own condition, signalled when the call
     * closes, the server stops or sl_rpc_call_wake is called (no herd of waiting polls) */
    pthread_cond_t wait_cv;
    bool waiting, woken;
    sl_rpc_call *wait_prev, *wait_next; /* the server's list of waiting calls */
};

struct sl_rpc_server {
    grpc_server *server;
    grpc_completion_queue *cq;
    int port;
    int n_threads;   /* started so far; grows up to max_threads while every one is busy */
    int max_threads;
    int idle;        /* handler threads waiting for a call */
    sl_rpc_call *waiters; /* calls in sl_rpc_call_wait */
    int64_t max_msg;
    struct method *methods;
    size_t n_methods;
    pthread_t cq_thread;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* call state changed, the FIFO grew, stop began, shutdown done */
    sl_rpc_call *q_head, *q_tail;
    bool started;
    bool stopping;      /* handlers are told to answer now */
    bool q_closed;      /* handler threads exit when the FIFO is empty */
    bool shutdown_done; /* grpc's shutdown tag arrived: no call is left */
    bool stopped;
    struct tag t_shutdown;
};

static void *handler_main(void *arg);

/* Requests kept outstanding with grpc_server_request_call, so bursts are accepted at once. */
#define N_PENDING_REQUESTS 32

void sl_rpc_server_opts_init(sl_rpc_server_opts *o)
{
    memset(o, 0, sizeof *o);
    o->threads = 4;
    o->max_threads = 0;
    o->max_message_bytes = SL_RPC_DEFAULT_MAX_MESSAGE;
}

static struct timespec abs_time(int64_t timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(timeout_ms / 1000);
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- call lifetime ------------------------------------------------------------------- */

static void call_free(sl_rpc_call *c)
{
    pthread_cond_destroy(&c->wait_cv);
    if (c->call)
        grpc_call_unref(c->call);
    grpc_call_details_destroy(&c->details);
    grpc_metadata_array_destroy(&c->md);
    if (c->recv_buf)
        grpc_byte_buffer_destroy(c->recv_buf);
    if (c->send_buf)
        grpc_byte_buffer_destroy(c->send_buf);
    if (c->has_status_details)
        grpc_slice_unref(c->status_details);
    free(c->req);
    free(c->method);
    free(c);
}

/* Drop one reference; srv->mu held. Returns the call if it must be freed (outside the lock). */
static sl_rpc_call *unref_locked(sl_rpc_call *c)
{
    return --c->refs == 0 ? c : NULL;
}

static void unref(sl_rpc_call *c)
{
    sl_rpc_server *s = c->srv;
    pthread_mutex_lock(&s->mu);
    sl_rpc_call *dead = unref_locked(c);
    pthread_mutex_unlock(&s->mu);
    if (dead)
        call_free(dead);
}

static sl_rpc_call *call_new(sl_rpc_server *s)
{
    sl_rpc_call *c = sl_xcalloc(1, sizeof *c);
    c->srv = s;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->wait_cv, &ca);
    pthread_condattr_destroy(&ca);
    grpc_call_details_init(&c->details);
    grpc_metadata_array_init(&c->md);
    c->t_new = (struct tag){TAG_NEW_CALL, c};
    c->t_recv = (struct tag){TAG_RECV_MSG, c};
    c->t_close = (struct tag){TAG_CLOSE, c};
    c->t_send = (struct tag){TAG_SEND, c};
    return c;
}

static void request_one(sl_rpc_server *s)
{
    sl_rpc_call *c = call_new(s);
    c->refs = 1; /* the request tag */
    grpc_call_error e =
        grpc_server_request_call(s->server, &c->call, &c->details, &c->md, s->cq, s->cq, &c->t_new);
    if (e != GRPC_CALL_OK) {
        sl_warn("rpc: request_call failed (%d)", (int)e);
        call_free(c);
    }
}

/*
 * Start a send batch: initial metadata if not yet sent, an optional message, an optional
 * status. srv->mu held; the batch holds a reference. A failed start leaves send_ok false.
 */
static bool send_locked(sl_rpc_call *c, grpc_byte_buffer *msg, bool with_status, sl_rpc_code code,
                        const char *details)
{
    grpc_op ops[3];
    size_t n = 0;
    memset(ops, 0, sizeof ops);
    if (!c->sent_initial_md) {
        ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
        n++;
        c->sent_initial_md = true;
    }
    if (msg) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n].data.send_message.send_message = msg;
        n++;
    }
    if (with_status) {
        ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
        ops[n].data.send_status_from_server.status = (grpc_status_code)code;
        if (details && details[0]) {
            c->status_details = grpc_slice_from_copied_string(details);
            c->has_status_details = true;
            ops[n].data.send_status_from_server.status_details = &c->status_details;
        }
        n++;
        c->finished = true;
    }
    c->send_buf = msg;
    c->send_busy = true;
    c->send_ok = false;
    c->refs++;
    grpc_call_error e = grpc_call_start_batch(c->call, ops, n, &c->t_send, NULL);
    if (e != GRPC_CALL_OK) {
        sl_warn("rpc: %s: start_batch failed (%d)", c->method ? c->method : "?", (int)e);
        c->send_busy = false;
        c->refs--;
        return false;
    }
    return true;
}

/* ---- the completion-queue thread ----------------------------------------------------- */

static void on_new_call(sl_rpc_server *s, sl_rpc_call *c, bool ok)
{
    pthread_mutex_lock(&s->mu);
    bool stopping = s->stopping;
    pthread_mutex_unlock(&s->mu);
    if (!ok) { /* the server is shutting down */
        unref(c);
        return;
    }
    if (!stopping)
        request_one(s);

    size_t n = GRPC_SLICE_LENGTH(c->details.method);
    c->method = sl_xmalloc(n + 1);
    memcpy(c->method, GRPC_SLICE_START_PTR(c->details.method), n);
    c->method[n] = '\0';
    for (size_t i = 0; i < s->n_methods; i++)
        if (strcmp(s->methods[i].name, c->method) == 0)
            c->m = &s->methods[i];

    pthread_mutex_lock(&s->mu);
    /* c->refs is 1: the request tag's, held by this function until its end. */
    grpc_op close_op;
    memset(&close_op, 0, sizeof close_op);
    close_op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    close_op.data.recv_close_on_server.cancelled = &c->cancelled;
    c->refs++;
    if (grpc_call_start_batch(c->call, &close_op, 1, &c->t_close, NULL) != GRPC_CALL_OK) {
        sl_warn("rpc: %s: cannot arm close", c->method);
        c->refs--;
        c->closed = true;
    }
    if (!c->m) {
        char msg[SL_RPC_DETAILS_MAX];
        snprintf(msg, sizeof msg, "unknown method %.200s", c->method);
        send_locked(c, NULL, true, SL_RPC_UNIMPLEMENTED, msg);
    } else {
        grpc_op op;
        memset(&op, 0, sizeof op);
        op.op = GRPC_OP_RECV_MESSAGE;
        op.data.recv_message.recv_message = &c->recv_buf;
        c->refs++;
        if (grpc_call_start_batch(c->call, &op, 1, &c->t_recv, NULL) != GRPC_CALL_OK) {
            c->refs--;
            send_locked(c, NULL, true, SL_RPC_INTERNAL, "cannot read the request");
        }
    }
    sl_rpc_call *dead = unref_locked(c);
    pthread_mutex_unlock(&s->mu);
    if (dead)
        call_free(dead);
}

static void on_recv(sl_rpc_server *s, sl_rpc_call *c, bool ok)
{
    sl_rpc_call *dead;
    if (ok && c->recv_buf) {
        c->req = sl__rpc_buffer_bytes(c->recv_buf, &c->req_len);
        grpc_byte_buffer_destroy(c->recv_buf);
        c->recv_buf = NULL;
        pthread_mutex_lock(&s->mu);
        /* the recv batch's reference becomes the handler's */
        if (s->q_tail)
            s->q_tail->next = c;
        else
            s->q_head = c;
        s->q_tail = c;
        if (s->idle == 0 && s->n_threads < s->max_threads && !s->q_closed) {
            pthread_t *t = realloc(s->threads, (size_t)(s->n_threads + 1) * sizeof *t);
            if (!t)
                abort();
            s->threads = t;
            if (pthread_create(&s->threads[s->n_threads], NULL, handler_main, s) == 0)
                s->n_threads++;
        }
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    pthread_mutex_lock(&s->mu);
    /* No message: the client half-closed without one (or the call already failed, e.g. a
     * message over the size limit, which grpc answers itself). */
    if (ok && !c->finished)
        send_locked(c, NULL, true, SL_RPC_INVALID_ARGUMENT, "no request message");
    dead = unref_locked(c);
    pthread_mutex_unlock(&s->mu);
    if (dead)
        call_free(dead);
}

static void *cq_main(void *arg)
{
    sl_rpc_server *s = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        struct tag *t = ev.tag;
        sl_rpc_call *c = t->call;
        sl_rpc_call *dead = NULL;
        switch (t->kind) {
        case TAG_NEW_CALL:
            on_new_call(s, c, ev.success != 0);
            break;
        case TAG_RECV_MSG:
            on_recv(s, c, ev.success != 0);
            break;
        case TAG_CLOSE:
            pthread_mutex_lock(&s->mu);
            c->closed = true;
            pthread_cond_broadcast(&s->cv);
            if (c->waiting)
                pthread_cond_signal(&c->wait_cv);
            dead = unref_locked(c);
            pthread_mutex_unlock(&s->mu);
            break;
        case TAG_SEND:
            pthread_mutex_lock(&s->mu);
            c->send_busy = false;
            c->send_ok = ev.success != 0;
            if (c->send_buf) {
                grpc_byte_buffer_destroy(c->send_buf);
                c->send_buf = NULL;
            }
            pthread_cond_broadcast(&s->cv);
            dead = unref_locked(c);
            pthread_mutex_unlock(&s->mu);
            break;
        case TAG_SHUTDOWN:
            pthread_mutex_lock(&s->mu);
            s->shutdown_done = true;
            pthread_cond_broadcast(&s->cv);
            pthread_mutex_unlock(&s->mu);
            break;
        }
        if (dead)
            call_free(dead);
    }
    return NULL;
}

/* ---- handler threads ----------------------------------------------------------------- */

static void *handler_main(void *arg)
{
    sl_rpc_server *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        s->idle++;
        while (!s->q_head && !s->q_closed)
            pthread_cond_wait(&s->cv, &s->mu);
        s->idle--;
        sl_rpc_call *c = s->q_head;
        if (!c) {
            pthread_mutex_unlock(&s->mu);
            return NULL;
        }
        s->q_head = c->next;
        if (!s->q_head)
            s->q_tail = NULL;
        c->next = NULL;
        pthread_mutex_unlock(&s->mu);

        c->m->fn(c, c->m->arg);

        pthread_mutex_lock(&s->mu);
        if (!c->finished)
            send_locked(c, NULL, true, SL_RPC_INTERNAL, "the handler sent no status");
        sl_rpc_call *dead = unref_locked(c);
        pthread_mutex_unlock(&s->mu);
        if (dead)
            call_free(dead);
    }
}

/* ---- server lifecycle ---------------------------------------------------------------- */

sl_code sl_rpc_server_new(const sl_rpc_server_opts *o, sl_rpc_server **out, sl_err *err)
{
    *out = NULL;
    if (!o->listen || !o->listen[0])
        return sl_err_set(err, SL_EINVAL, "no listen address");
    if (o->tls_cert_pem || o->tls_key_pem)
        return sl_err_set(err, SL_EINVAL, "TLS is not supported yet");
    sl_rpc_server *s = sl_xcalloc(1, sizeof *s);
    s->n_threads = o->threads > 0 ? o->threads : 4;
    s->max_threads = o->max_threads > s->n_threads ? o->max_threads : s->n_threads;
    s->max_msg = o->max_message_bytes > 0 ? o->max_message_bytes : SL_RPC_DEFAULT_MAX_MESSAGE;
    if (s->max_msg > INT32_MAX)
        s->max_msg = INT32_MAX;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->mu, NULL);
    s->t_shutdown = (struct tag){TAG_SHUTDOWN, NULL};

    grpc_init(); /* paired with grpc_shutdown in sl_rpc_server_free */
    grpc_arg args[2];
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = (int)s->max_msg;
    /* grpc binds with SO_REUSEPORT by default: a second server on a port in use would share
     * it (calls landing on either process) instead of failing. */
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = (char *)GRPC_ARG_ALLOW_REUSEPORT;
    args[1].value.integer = 0;
    grpc_channel_args ch_args = {2, args};
    s->server = grpc_server_create(&ch_args, NULL);
    s->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(s->server, s->cq, NULL);
    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    s->port = grpc_server_add_http2_port(s->server, o->listen, creds);
    grpc_server_credentials_release(creds);
    if (s->port == 0) {
        sl_code rc = sl_err_set(err, SL_EIO, "cannot listen on %s", o->listen);
        sl_rpc_server_free(s);
        return rc;
    }
    *out = s;
    return SL_OK;
}

int sl_rpc_server_port(const sl_rpc_server *s)
{
    return s->port;
}

sl_code sl_rpc_server_handle(sl_rpc_server *s, const char *method, sl_rpc_handler_fn fn, void *arg,
                             sl_err *err)
{
    if (s->started)
        return sl_err_set(err, SL_EINVAL, "handlers must be registered before the server starts");
    for (size_t i = 0; i < s->n_methods; i++)
        if (strcmp(s->methods[i].name, method) == 0)
            return sl_err_set(err, SL_EINVAL, "method %s registered twice", method);
    struct method *m = realloc(s->methods, (s->n_methods + 1) * sizeof *m);
    if (!m)
        abort();
    s->methods = m;
    s->methods[s->n_methods++] = (struct method){sl_xstrdup(method), fn, arg};
    return SL_OK;
}

sl_code sl_rpc_server_start(sl_rpc_server *s, sl_err *err)
{
    if (s->started)
        return sl_err_set(err, SL_EINVAL, "server already started");
    s->started = true;
    grpc_server_start(s->server);
    for (int i = 0; i < N_PENDING_REQUESTS; i++)
        request_one(s);
    s->threads = sl_xcalloc((size_t)s->n_threads, sizeof *s->threads);
    if (pthread_create(&s->cq_thread, NULL, cq_main, s) != 0)
        abort();
    for (int i = 0; i < s->n_threads; i++)
        if (pthread_create(&s->threads[i], NULL, handler_main, s) != 0)
            abort();
    return SL_OK;
}

void sl_rpc_server_stop(sl_rpc_server *s, int64_t grace_ms)
{
    if (!s->started || s->stopped)
        return;
    s->stopped = true;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cv);
    for (sl_rpc_call *w = s->waiters; w; w = w->wait_next)
        pthread_cond_signal(&w->wait_cv);
    pthread_mutex_unlock(&s->mu);

    /* grpc's order: shutdown_and_notify, cancel what is left, wait for the tag, then the
     * queue. The tag arrives when no call is left, so handlers get grace_ms to answer. */
    grpc_server_shutdown_and_notify(s->server, s->cq, &s->t_shutdown);
    struct timespec until = abs_time(grace_ms > 0 ? grace_ms : 0);
    pthread_mutex_lock(&s->mu);
    while (!s->shutdown_done)
        if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT)
            break;
    bool done = s->shutdown_done;
    pthread_mutex_unlock(&s->mu);
    if (!done)
        grpc_server_cancel_all_calls(s->server);
    pthread_mutex_lock(&s->mu);
    while (!s->shutdown_done)
        pthread_cond_wait(&s->cv, &s->mu);
    s->q_closed = true; /* from here no thread is added */
    pthread_cond_broadcast(&s->cv);
    int n_threads = s->n_threads;
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < n_threads; i++)
        pthread_join(s->threads[i], NULL);

    grpc_completion_queue_shutdown(s->cq);
    pthread_join(s->cq_thread, NULL); /* it drains the queue until GRPC_QUEUE_SHUTDOWN */
}

void sl_rpc_server_free(sl_rpc_server *s)
{
    if (!s)
        return;
    if (s->started) {
        sl_rpc_server_stop(s, 0);
    } else {
        /* never started: no call, no thread; shut the server and queue down directly */
        grpc_server_shutdown_and_notify(s->server, s->cq, &s->t_shutdown);
        grpc_server_cancel_all_calls(s->server);
        grpc_completion_queue_shutdown(s->cq);
        for (;;) {
            grpc_event ev =
                grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
            if (ev.type == GRPC_QUEUE_SHUTDOWN)
                break;
        }
    }
    grpc_server_destroy(s->server);
    grpc_completion_queue_destroy(s->cq);
    grpc_shutdown();
    for (size_t i = 0; i < s->n_methods; i++)
        free(s->methods[i].name);
    free(s->methods);
    free(s->threads);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

/* ---- inside a handler ---------------------------------------------------------------- */

const char *sl_rpc_call_method(const sl_rpc_call *c)
{
    return c->method;
}

const uint8_t *sl_rpc_call_request(const sl_rpc_call *c, size_t *len)
{
    *len = c->req_len;
    return c->req;
}

bool sl_rpc_call_metadata(const sl_rpc_call *c, const char *key, char *buf, size_t buf_len)
{
    if (buf_len)
        buf[0] = '\0';
    for (size_t i = 0; i < c->md.count; i++) {
        if (grpc_slice_str_cmp(c->md.metadata[i].key, key) != 0)
            continue;
        grpc_slice v = c->md.metadata[i].value;
        if (GRPC_SLICE_LENGTH(v) + 1 > buf_len)
            return false;
        memcpy(buf, GRPC_SLICE_START_PTR(v), GRPC_SLICE_LENGTH(v));
        buf[GRPC_SLICE_LENGTH(v)] = '\0';
        return true;
    }
    return false;
}

int64_t sl_rpc_call_remaining_ms(const sl_rpc_call *c)
{
    gpr_timespec d = c->details.deadline;
    if (gpr_time_cmp(d, gpr_inf_future(d.clock_type)) == 0)
        return INT64_MAX;
    gpr_timespec left = gpr_time_sub(d, gpr_now(d.clock_type));
    int64_t ms = (int64_t)left.tv_sec * 1000 + left.tv_nsec / 1000000;
    return ms > 0 ? ms : 0;
}

sl_rpc_wait sl_rpc_call_wait(sl_rpc_call *c, int64_t timeout_ms)
{
    sl_rpc_server *s = c->srv;
    int64_t end = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    struct timespec until = abs_time(timeout_ms > 0 ? timeout_ms : 0);
    sl_rpc_wait w = SL_RPC_WAIT_TIMEOUT;
    pthread_mutex_lock(&s->mu);
    c->waiting = true;
    c->wait_prev = NULL;
    c->wait_next = s->waiters;
    if (s->waiters)
        s->waiters->wait_prev = c;
    s->waiters = c;
    for (;;) {
        if (c->closed) { /* closed before a status of ours: the client is gone */
            w = SL_RPC_WAIT_CANCELLED;
            break;
        }
        if (s->stopping) {
            w = SL_RPC_WAIT_STOPPING;
            break;
        }
        if (c->woken) {
            c->woken = false;
            w = SL_RPC_WAIT_WOKEN;
            break;
        }
        if (mono_ms() >= end)
            break;
        pthread_cond_timedwait(&c->wait_cv, &s->mu, &until);
    }
    if (c->wait_prev)
        c->wait_prev->wait_next = c->wait_next;
    else
        s->waiters = c->wait_next;
    if (c->wait_next)
        c->wait_next->wait_prev = c->wait_prev;
    c->wait_prev = c->wait_next = NULL;
    c->waiting = false;
    pthread_mutex_unlock(&s->mu);
    return w;
}

void sl_rpc_call_wake(sl_rpc_call *c)
{
    sl_rpc_server *s = c->srv;
    pthread_mutex_lock(&s->mu);
    c->woken = true;
    if (c->waiting)
        pthread_cond_signal(&c->wait_cv);
    pthread_mutex_unlock(&s->mu);
}

bool sl_rpc_call_is_cancelled(const sl_rpc_call *c)
{
    pthread_mutex_lock(&c->srv->mu);
    bool v = c->closed && !c->finished;
    pthread_mutex_unlock(&c->srv->mu);
    return v;
}

bool sl_rpc_call_is_stopping(const sl_rpc_call *c)
{
    pthread_mutex_lock(&c->srv->mu);
    bool v = c->srv->stopping;
    pthread_mutex_unlock(&c->srv->mu);
    return v;
}

sl_code sl_rpc_call_reply(sl_rpc_call *c, const void *msg, size_t len)
{
    sl_rpc_server *s = c->srv;
    pthread_mutex_lock(&s->mu);
    if (c->finished) {
        pthread_mutex_unlock(&s->mu);
        return SL_EINVAL;
    }
    while (c->send_busy)
        pthread_cond_wait(&s->cv, &s->mu);
    grpc_byte_buffer *bb = sl__rpc_buffer_new(msg, len);
    if (!send_locked(c, bb, true, SL_RPC_OK, NULL)) {
        grpc_byte_buffer_destroy(bb);
        c->send_buf = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    return SL_OK;
}

sl_code sl_rpc_call_write(sl_rpc_call *c, const void *msg, size_t len)
{
    sl_rpc_server *s = c->srv;
    sl_code rc = SL_OK;
    pthread_mutex_lock(&s->mu);
    if (c->finished || c->closed) {
        pthread_mutex_unlock(&s->mu);
        return SL_EIO;
    }
    while (c->send_busy)
        pthread_cond_wait(&s->cv, &s->mu);
    grpc_byte_buffer *bb = sl__rpc_buffer_new(msg, len);
    if (!send_locked(c, bb, false, SL_RPC_OK, NULL)) {
        grpc_byte_buffer_destroy(bb);
        c->send_buf = NULL;
        rc = SL_EIO;
    } else {
        while (c->send_busy)
            pthread_cond_wait(&s->cv, &s->mu);
        if (!c->send_ok)
            rc = SL_EIO;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void sl_rpc_call_finish(sl_rpc_call *c, sl_rpc_code code, const char *fmt, ...)
{
    sl_rpc_server *s = c->srv;
    char details[SL_RPC_DETAILS_MAX] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(details, sizeof details, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_lock(&s->mu);
    if (!c->finished) {
        while (c->send_busy)
            pthread_cond_wait(&s->cv, &s->mu);
        send_locked(c, NULL, true, code, details);
    }
    pthread_mutex_unlock(&s->mu);
}

ProtobufCMessage *sl_rpc_call_unpack(sl_rpc_call *c, const ProtobufCMessageDescriptor *d)
{
    sl_rpc_status st;
    ProtobufCMessage *m = sl_rpc_unpack(d, c->req, c->req_len, &st);
    if (!m)
        sl_rpc_call_finish(c, st.code, "%s", st.details);
    return m;
}

sl_code sl_rpc_call_reply_msg(sl_rpc_call *c, const ProtobufCMessage *m)
{
    size_t len;
    uint8_t *buf = sl_rpc_pack(m, &len);
    sl_code rc = sl_rpc_call_reply(c, buf, len);
    free(buf);
    return rc;
}

sl_code sl_rpc_call_write_msg(sl_rpc_call *c, const ProtobufCMessage *m)
{
    size_t len;
    uint8_t *buf = sl_rpc_pack(m, &len);
    sl_code rc = sl_rpc_call_write(c, buf, len);
    free(buf);
    return rc;
}
