/*
 * writer.c - group commit (e->writer): the queue of submitted calls, one batch of them in one
 * transaction, and what happens after COMMIT (callers woken, activity tasks handed to the
 * dispatcher, close callbacks run).
 *
 * A call is an `item` that only this file sees: sl__engine_call puts one on the caller's
 * stack with a semaphore to wait on, sl__engine_call_async allocates one that the writer
 * frees after its `done` callback.
 *
 *   NEW --enqueue--> QUEUED --sl__writer_take--> BATCH --finish_item--> DONE
 *                                                  (sync: the caller owns it again;
 *                                                   async: done(), then freed)
 *
 * Invariants: (1) a caller is woken only after its call's transaction committed (or failed),
 * and tasks leased in a transaction reach the dispatcher only after it committed (durable
 * before visible); (2) a call that fails does not fail its group: it is undone to its
 * savepoint, or the group is retried one call at a time; (3) what a rolled-back change left
 * in memory (cached runs, deferred work, leased tasks, closed runs) is dropped with it.
 * Threads: the queue and statistics are under e->mu; everything else here runs on the engine
 * thread, or, in an engine opened without one, on the caller's under writer.direct_mu.
 */
#include <errno.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

enum item_state { ITEM_NEW = 1, ITEM_QUEUED, ITEM_BATCH, ITEM_DONE };

struct item {
    struct item *next;
    sl__call_fn fn;
    void *arg;
    unsigned flags;        /* SL__CALL_* */
    sl__call_done_fn done; /* async calls */
    bool sync;             /* the caller waits on `sem` and owns the item */
    uint8_t state;         /* enum item_state */
    sem_t sem;             /* sync calls of threaded engines */
    sl_code rc;
    sl_err err;
};

struct closed_run {
    char *workflow_id;
    char run_id[37];
    int status;
    struct closed_run *next;
};

void sl__writer_init(sl_engine *e)
{
    pthread_cond_init(&e->writer.batch_cv, NULL);
    pthread_mutex_init(&e->writer.direct_mu, NULL);
}

static void closed_drop(sl_engine *e, struct closed_run *mark)
{
    while (e->writer.closed_head && e->writer.closed_head != mark) {
        struct closed_run *c = e->writer.closed_head;
        e->writer.closed_head = c->next;
        free(c->workflow_id);
        free(c);
    }
}

void sl__writer_cleanup(sl_engine *e)
{
    SL_ASSERT(e->writer.q_head == NULL);
    sl__engine_clear_deferred(e);
    closed_drop(e, NULL);
    pthread_cond_destroy(&e->writer.batch_cv);
    pthread_mutex_destroy(&e->writer.direct_mu);
}

void sl__writer_note_closed(sl_engine *e, const char *workflow_id, const char *run_id, int status)
{
    struct closed_run *c = sl_xcalloc(1, sizeof(*c));
    c->workflow_id = sl_xstrdup(workflow_id);
    memcpy(c->run_id, run_id, sizeof(c->run_id));
    c->status = status;
    c->next = e->writer.closed_head;
    e->writer.closed_head = c;
}

/* ---- submission ----------------------------------------------------------------------- */

static void enqueue(sl_engine *e, struct item *it)
{
    SL_ASSERT(it->state == ITEM_NEW);
    it->state = ITEM_QUEUED;
    it->next = NULL;
    pthread_mutex_lock(&e->mu);
    if (e->writer.q_tail)
        e->writer.q_tail->next = it;
    else
        e->writer.q_head = it;
    e->writer.q_tail = it;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

struct item *sl__writer_take(sl_engine *e, int max)
{
    sl__writer *w = &e->writer;
    struct item *list = w->q_head, *last = NULL;
    int n = 0;
    for (struct item *it = w->q_head; it && n < max; it = it->next, n++) {
        SL_ASSERT(it->state == ITEM_QUEUED);
        it->state = ITEM_BATCH;
        last = it;
    }
    if (last) {
        w->q_head = last->next;
        if (!w->q_head)
            w->q_tail = NULL;
        last->next = NULL;
    } else {
        list = NULL;
    }
    w->in_batch = true;
    return list;
}

void sl__writer_batch_end(sl_engine *e)
{
    pthread_mutex_lock(&e->mu);
    e->writer.in_batch = false;
    pthread_cond_broadcast(&e->writer.batch_cv);
    pthread_mutex_unlock(&e->mu);
}

void sl__writer_wait_batch(sl_engine *e)
{
    pthread_mutex_lock(&e->mu);
    while (e->writer.in_batch)
        pthread_cond_wait(&e->writer.batch_cv, &e->mu);
    pthread_mutex_unlock(&e->mu);
}

bool sl__writer_has_pending(sl_engine *e)
{
    pthread_mutex_lock(&e->mu);
    bool pending = e->writer.q_head != NULL;
    pthread_mutex_unlock(&e->mu);
    return pending;
}

/* ---- one transaction ------------------------------------------------------------------ */

/* After COMMIT: hand leased tasks to the dispatcher, run close callbacks. */
static void publish(sl_engine *e)
{
    sl__dispatch_publish(e);
    sl__ready_publish(e);
    if (!e->writer.closed_head)
        return;
    pthread_mutex_lock(&e->close_mu);
    while (e->writer.closed_head) {
        struct closed_run *c = e->writer.closed_head;
        e->writer.closed_head = c->next;
        if (e->on_close)
            e->on_close(e->on_close_arg, c->workflow_id, c->run_id, c->status);
        free(c->workflow_id);
        free(c);
    }
    pthread_mutex_unlock(&e->close_mu);
}

static void count_batch(sl_engine *e, bool committed, int n_items)
{
    pthread_mutex_lock(&e->mu);
    if (committed) {
        e->writer.n_commits++;
        e->writer.n_items += n_items;
    }
    e->writer.n_wft += e->writer.txn_wft;
    pthread_mutex_unlock(&e->mu);
    e->writer.txn_wft = 0;
}

void sl_engine_stats_get(sl_engine *e, sl_engine_stats *out)
{
    pthread_mutex_lock(&e->mu);
    out->commits = e->writer.n_commits;
    out->items = e->writer.n_items;
    out->workflow_tasks = e->writer.n_wft;
    pthread_mutex_unlock(&e->mu);
}

/* One transaction over `list` plus due polls; false if it had to roll back. */
static bool run_batch(sl_engine *e, struct item *list, bool do_poll, bool do_maint, int *found)
{
    sl_err err;
    sl_err_clear(&err);
    *found = 0;
    sl_code rc = sl_store_begin(e->st, &err);
    if (rc != SL_OK) {
        for (struct item *it = list; it; it = it->next) {
            it->rc = rc;
            it->err = err;
        }
        return false;
    }
    if ((rc = sl__limits_refresh(e, &err)) != SL_OK)
        goto rollback;
    int n = 0;
    for (struct item *it = list; it; it = it->next, n++) {
        SL_ASSERT(it->state == ITEM_BATCH);
        sl_err_clear(&it->err);
        /* A call may fail half-way (a start after its hook wrote): a savepoint undoes the
         * half, and the in-memory state it touched is dropped. */
        bool sp = !(it->flags & SL__CALL_NO_SAVEPOINT);
        int dispatch_mark = sl__dispatch_mark(e);
        struct closed_run *closed_mark = e->writer.closed_head;
        if (sp && (rc = sl_store_savepoint(e->st, &err)) != SL_OK)
            goto rollback;
        it->rc = it->fn(e, it->arg, &it->err);
        if (it->rc == SL_EIO || it->rc == SL_EBUSY) {
            err = it->err;
            rc = it->rc;
            goto rollback;
        }
        if (sp && it->rc != SL_OK) {
            sl_store_savepoint_rollback(e->st);
            sl__cache_clear(e);
            sl__engine_clear_deferred(e);
            sl__dispatch_drop_after(e, dispatch_mark);
            closed_drop(e, closed_mark);
            continue;
        }
        if (sp)
            sl_store_savepoint_release(e->st);
        sl_code drc = sl__engine_run_deferred(e, &err);
        if (drc == SL_EIO || drc == SL_EBUSY) {
            rc = drc;
            goto rollback;
        }
        if (drc != SL_OK)
            sl_warn("engine: follow-up work failed: %s", err.msg);
    }
    int64_t now = sl_now_ms();
    if (do_poll && (rc = sl__poller_poll(e, now, found, &err)) != SL_OK)
        goto rollback;
    if (do_maint && (rc = sl__poller_maintain(e, now, &err)) != SL_OK)
        goto rollback;
    if ((rc = sl__engine_run_deferred(e, &err)) != SL_OK && (rc == SL_EIO || rc == SL_EBUSY))
        goto rollback;
    if ((rc = sl_store_commit(e->st, &err)) != SL_OK)
        goto rollback;
    count_batch(e, true, n);
    publish(e);
    return true;
rollback:
    sl_store_rollback(e->st);
    sl__cache_clear(e);
    sl__engine_clear_deferred(e);
    sl__dispatch_drop_after(e, 0);
    sl__ready_drop(e);
    closed_drop(e, NULL);
    count_batch(e, false, 0);
    sl_warn("engine: transaction rolled back: %s", err.msg);
    return false;
}

static void finish_item(sl_engine *e, struct item *it)
{
    SL_ASSERT(it->state == ITEM_BATCH);
    it->state = ITEM_DONE;
    if (it->sync) {
        if (e->threaded)
            sem_post(&it->sem); /* the caller owns it from here */
        return;
    }
    if (it->done)
        it->done(e, it->arg, it->rc);
    free(it);
}

void sl__writer_run(sl_engine *e, struct item *list, bool do_poll, bool do_maint, int *found)
{
    if (run_batch(e, list, do_poll, do_maint, found)) {
        for (struct item *it = list, *next; it; it = next) {
            next = it->next;
            finish_item(e, it);
        }
        return;
    }
    /* Something failed: retry each call alone so one bad call cannot fail the others. */
    for (struct item *it = list, *next; it; it = next) {
        next = it->next;
        it->next = NULL;
        int f;
        if (!run_batch(e, it, false, false, &f) && it->rc == SL_OK)
            it->rc = SL_EIO;
        finish_item(e, it);
    }
}

/* An engine without a thread: the caller runs its own transaction. */
static void run_direct(sl_engine *e, struct item *it)
{
    SL_ASSERT(it->state == ITEM_NEW);
    it->state = ITEM_BATCH;
    it->next = NULL;
    pthread_mutex_lock(&e->writer.direct_mu);
    int found;
    if (!run_batch(e, it, false, false, &found) && it->rc == SL_OK)
        it->rc = SL_EIO;
    pthread_mutex_unlock(&e->writer.direct_mu);
    finish_item(e, it);
}

/* ---- calls ---------------------------------------------------------------------------- */

sl_code sl__engine_call(sl_engine *e, sl__call_fn fn, void *arg, unsigned flags, sl_err *err)
{
    struct item it;
    memset(&it, 0, sizeof(it));
    it.fn = fn;
    it.arg = arg;
    it.flags = flags;
    it.sync = true;
    it.state = ITEM_NEW;
    if (e->threaded) {
        SL_ASSERT(!e->thread_started || !pthread_equal(pthread_self(), e->thread));
        sem_init(&it.sem, 0, 0);
        enqueue(e, &it);
        while (sem_wait(&it.sem) != 0 && errno == EINTR)
            ;
        sem_destroy(&it.sem);
    } else {
        run_direct(e, &it);
    }
    SL_ASSERT(it.state == ITEM_DONE);
    if (it.rc != SL_OK && err)
        *err = it.err;
    return it.rc;
}

void sl__engine_call_async(sl_engine *e, sl__call_fn fn, void *arg, unsigned flags,
                           sl__call_done_fn done)
{
    struct item *it = sl_xcalloc(1, sizeof(*it));
    it->fn = fn;
    it->arg = arg;
    it->flags = flags;
    it->done = done;
    it->state = ITEM_NEW;
    if (e->threaded)
        enqueue(e, it);
    else
        run_direct(e, it);
}
