/*
 * loop.c - the generator's event loop: a binary-heap timer queue (the schedule, poll
 * waits, think times) in front of one sl_dbx_async, which does the HTTP (one curl multi
 * inside src/dbx, connections kept alive between requests).
 *
 * One iteration (lt_loop_run_once):
 *   run due timers -> sl_dbx_async_run(min(next timer, cap)) (socket activity, request
 *   callbacks) -> run due timers again.
 * Requests started by timers are picked up by the next sl_dbx_async_run at once (curl
 * asks for an immediate timeout when a transfer is added).
 */
#include <stdlib.h>
#include <sys/resource.h>

#include "loadtest_int.h"

typedef struct timer {
    int64_t due_ns;
    uint64_t seq;
    lt_timer_fn fn;
    void *arg;
} timer;

struct lt_loop {
    sl_dbx_async *a;
    timer *heap;
    size_t n_heap, cap_heap;
    uint64_t seq;
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

/* ---- loop ---- */

void lt_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

sl_code lt_loop_new(sl_dbx_client *c, const sl_dbx_async_opts *o, lt_loop **out, sl_err *err)
{
    *out = NULL;
    sl_dbx_async *a = NULL;
    sl_code rc = sl_dbx_async_new(c, o, &a, err);
    if (rc != SL_OK)
        return rc;
    lt_loop *l = sl_xcalloc(1, sizeof(*l));
    l->a = a;
    *out = l;
    return SL_OK;
}

void lt_loop_free(lt_loop *l)
{
    if (!l)
        return;
    sl_dbx_async_free(l->a);
    free(l->heap);
    free(l);
}

sl_dbx_async *lt_loop_async(lt_loop *l)
{
    return l->a;
}

int lt_loop_run_once(lt_loop *l, int64_t max_wait_ns)
{
    run_timers(l);
    int64_t now = sl_mono_ns();
    int64_t wait = max_wait_ns > 0 ? max_wait_ns : 0;
    int64_t t = lt_timer_next(l);
    if (t != INT64_MAX && t - now < wait)
        wait = t > now ? t - now : 0;
    sl_dbx_async_run(l->a, wait);
    run_timers(l);
    return sl_dbx_async_in_flight(l->a);
}

int lt_loop_active(const lt_loop *l)
{
    return sl_dbx_async_in_flight(l->a);
}

int lt_loop_peak(const lt_loop *l)
{
    return sl_dbx_async_peak(l->a);
}
