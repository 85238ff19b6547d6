/* worker.c - activity threads over an engine's local task queue, and graceful stop. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sluice/worker.h"

struct sl_worker {
    sl_engine *e;
    pthread_t *threads;
    int n_threads;
    int64_t grace_ms;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int live;
    bool stop;
};

void sl_worker_opts_init(sl_worker_opts *o)
{
    static const char *const def[] = {"default"};
    memset(o, 0, sizeof(*o));
    o->queues = def;
    o->n_queues = 1;
    o->concurrency = 8;
    o->shutdown_grace_ms = 10000;
}

static void *activity_thread(void *arg)
{
    sl_worker *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        bool stop = w->stop;
        pthread_mutex_unlock(&w->mu);
        sl_engine_task *t = sl_engine_next_task(w->e, stop ? 0 : 200);
        if (t) {
            sl_engine_run_task(w->e, t);
            continue;
        }
        if (stop)
            break;
    }
    pthread_mutex_lock(&w->mu);
    w->live--;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

sl_code sl_worker_start(sl_engine *e, const sl_worker_opts *o, sl_worker **out, sl_err *err)
{
    *out = NULL;
    int n = o->concurrency > 0 ? o->concurrency : 8;
    int capacity = o->capacity > 0 ? o->capacity : 4 * n;
    sl_code rc = sl_engine_serve(e, o->queues, o->n_queues, n, capacity, err);
    if (rc != SL_OK)
        return rc;
    sl_worker *w = sl_xcalloc(1, sizeof(*w));
    w->e = e;
    w->grace_ms = o->shutdown_grace_ms > 0 ? o->shutdown_grace_ms : 10000;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->threads = sl_xcalloc((size_t)n, sizeof(pthread_t));
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

bool sl_worker_stop(sl_worker *w)
{
    if (!w)
        return true;
    sl_engine_drain(w->e);
    pthread_mutex_lock(&w->mu);
    w->stop = true;
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
        if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) != 0) {
            all_done = w->live == 0;
            break;
        }
    }
    pthread_mutex_unlock(&w->mu);
    if (!all_done)
        return false; /* threads still reference w: leak it, the process is exiting */
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w->threads);
    free(w);
    return true;
}
