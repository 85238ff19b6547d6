/*
 * worker.c - the local dispatcher: a queue of the activity tasks the engine leased for this
 * process, the threads that run them, and graceful stop.
 *
 * The engine bounds what it hands over: at most `capacity` tasks unresolved, and on queues
 * with a rate or concurrency limit no more than there are threads (no prefetch), so the
 * queue never holds more than `capacity` tasks.
 * Threads: dispatch() runs on the engine thread and only queues; activity threads take tasks
 * under mu; sl_worker_* come from one controlling thread.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "worker_int.h"

void sl_worker_opts_init(sl_worker_opts *o)
{
    static const char *const def[] = {"default"};
    memset(o, 0, sizeof(*o));
    o->queues = def;
    o->n_queues = 1;
    o->concurrency = 8;
    o->shutdown_grace_ms = 10000;
}

/* Under mu. */
static void queue_push(sl_worker *w, sl_activity_task *t)
{
    SL_ASSERT(w->q_len < w->q_cap); /* the engine hands over at most `capacity` */
    if (w->q_len == w->q_cap) {
        size_t cap = w->q_cap * 2;
        sl_activity_task **q = sl_xcalloc(cap, sizeof(*q));
        for (size_t i = 0; i < w->q_len; i++)
            q[i] = w->queue[(w->q_head + i) % w->q_cap];
        free(w->queue);
        w->queue = q;
        w->q_head = 0;
        w->q_cap = cap;
    }
    w->queue[(w->q_head + w->q_len) % w->q_cap] = t;
    w->q_len++;
}

/* Under mu; NULL when empty. */
static sl_activity_task *queue_pop(sl_worker *w)
{
    if (w->q_len == 0)
        return NULL;
    sl_activity_task *t = w->queue[w->q_head];
    w->q_head = (w->q_head + 1) % w->q_cap;
    w->q_len--;
    return t;
}

/* The engine's dispatcher callback (engine thread, right after commit). */
static void dispatch(void *arg, sl_activity_task *const *tasks, size_t n)
{
    sl_worker *w = arg;
    pthread_mutex_lock(&w->mu);
    for (size_t i = 0; i < n; i++)
        queue_push(w, tasks[i]);
    if (n == 1)
        pthread_cond_signal(&w->cv);
    else
        pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void *activity_thread(void *arg)
{
    sl_worker *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        sl_activity_task *t = queue_pop(w);
        if (t) {
            pthread_mutex_unlock(&w->mu);
            sl__act_run(w, t);
            pthread_mutex_lock(&w->mu);
            continue;
        }
        if (w->stop)
            break;
        pthread_cond_wait(&w->cv, &w->mu);
    }
    w->live--;
    pthread_cond_broadcast(&w->done_cv);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void worker_free(sl_worker *w)
{
    SL_ASSERT(w->q_len == 0);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    pthread_cond_destroy(&w->done_cv);
    free(w->queue);
    free(w->threads);
    free(w);
}

sl_code sl_worker_start(sl_engine *e, const sl_worker_opts *o, sl_worker **out, sl_err *err)
{
    *out = NULL;
    int n = o->concurrency > 0 ? o->concurrency : 8;
    int capacity = o->capacity > 0 ? o->capacity : 4 * n;
    if (capacity < n)
        capacity = n;
    sl_worker *w = sl_xcalloc(1, sizeof(*w));
    w->e = e;
    w->reg = sl_engine_registry(e);
    w->grace_ms = o->shutdown_grace_ms > 0 ? o->shutdown_grace_ms : 10000;
    atomic_init(&w->draining, false);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    pthread_cond_init(&w->done_cv, NULL);
    w->q_cap = (size_t)capacity;
    w->queue = sl_xcalloc(w->q_cap, sizeof(*w->queue));
    w->threads = sl_xcalloc((size_t)n, sizeof(pthread_t));
    sl_dispatcher d = {.dispatch = dispatch, .arg = w, .threads = n, .capacity = capacity};
    sl_code rc = sl_engine_serve(e, o->queues, o->n_queues, &d, err);
    if (rc != SL_OK) {
        worker_free(w);
        return rc;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&w->mu);
        w->live++;
        pthread_mutex_unlock(&w->mu);
        if (pthread_create(&w->threads[i], &attr, activity_thread, w) != 0) {
            pthread_mutex_lock(&w->mu);
            w->live--;
            pthread_mutex_unlock(&w->mu);
            pthread_attr_destroy(&attr);
            sl_worker_stop(w);
            return sl_err_set(err, SL_EIO, "cannot start worker threads");
        }
        w->n_threads++;
    }
    pthread_attr_destroy(&attr);
    *out = w;
    return SL_OK;
}

bool sl_worker_is_idle(sl_worker *w)
{
    return sl_engine_is_idle(w->e);
}

bool sl_worker_is_drained(sl_worker *w)
{
    return sl_engine_is_drained(w->e);
}

/* Give back the tasks no thread has started. */
static void release_unstarted(sl_worker *w)
{
    pthread_mutex_lock(&w->mu);
    size_t n = w->q_len;
    sl_activity_task **list = sl_xcalloc(n ? n : 1, sizeof(*list));
    for (size_t i = 0; i < n; i++)
        list[i] = queue_pop(w);
    w->stop = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    sl_err err;
    sl_err_clear(&err);
    if (n && sl_engine_tasks_release(w->e, list, n, &err) != SL_OK)
        sl_warn("worker: releasing %zu unstarted tasks failed: %s", n, err.msg);
    free(list);
}

bool sl_worker_stop(sl_worker *w)
{
    if (!w)
        return true;
    atomic_store_explicit(&w->draining, true, memory_order_release);
    /* After this the engine leases nothing more and never calls dispatch() again. */
    sl_engine_drain(w->e);
    release_unstarted(w);
    pthread_mutex_lock(&w->mu);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += w->grace_ms / 1000;
    ts.tv_nsec += (w->grace_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    bool all_done = true;
    while (w->live > 0) {
        if (pthread_cond_timedwait(&w->done_cv, &w->mu, &ts) != 0) {
            all_done = w->live == 0;
            break;
        }
    }
    pthread_mutex_unlock(&w->mu);
    if (!all_done)
        return false; /* threads still reference w: leak it, the process is exiting */
    worker_free(w);
    return true;
}
