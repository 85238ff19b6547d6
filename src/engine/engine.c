/*
 * engine.c - the engine thread: group commit of submitted items, polling the database
 * for work of the served queues, maintenance, the replay cache, and the local queue of
 * activity tasks for worker threads.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine_int.h"

#define MAX_BATCH_ITEMS   4096
#define POLL_MIN_MS       1
#define POLL_MAX_MS       50
#define POLL_BATCH        64

void sl_engine_opts_init(sl_engine_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->db_path = "sluice.db";
    o->durability = SL_DURABILITY_NORMAL;
    o->cache_runs = 4096;
    o->maintenance_ms = 1000;
    o->history_warn_events = 10000;
    o->history_warn_bytes = 10 * 1024 * 1024;
    o->history_limit_events = 50000;
    o->history_limit_bytes = 50 * 1024 * 1024;
}

static void *engine_main(void *arg);

sl_code sl_engine_open(const sl_engine_opts *o, sl_engine **out, sl_err *err)
{
    *out = NULL;
    sl_engine *e = sl_xcalloc(1, sizeof(*e));
    sl_store_opts so;
    sl_store_opts_init(&so);
    so.path = o->db_path;
    so.durability = o->durability;
    so.read_only = o->read_only;
    so.background_checkpoint = o->threaded && !o->read_only;
    sl_code rc = sl_store_open(&so, &e->st, err);
    if (rc != SL_OK) {
        free(e);
        return rc;
    }
    e->reg = o->registry;
    e->durability = o->durability;
    e->threaded = o->threaded && !o->read_only;
    e->cache_max = o->cache_runs > 0 ? o->cache_runs : 4096;
    e->maintenance_ms = o->maintenance_ms > 0 ? o->maintenance_ms : 1000;
    if (o->identity && *o->identity) {
        snprintf(e->identity, sizeof(e->identity), "%s", o->identity);
    } else {
        char host[64] = "localhost";
        gethostname(host, sizeof(host) - 1);
        char rnd[33];
        sl_hexid_new(rnd);
        snprintf(e->identity, sizeof(e->identity), "%s:%d:%.6s", host, (int)getpid(), rnd);
    }
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    pthread_mutex_init(&e->rd_mu, NULL);
    pthread_mutex_init(&e->direct_mu, NULL);
    pthread_mutex_init(&e->aq_mu, NULL);
    pthread_cond_init(&e->aq_cv, NULL);
    e->poll_delay_ms = POLL_MIN_MS;
    e->wake_hint_ms = INT64_MAX;
    e->hist_warn_events = o->history_warn_events;
    e->hist_warn_bytes = o->history_warn_bytes;
    e->hist_limit_events = o->history_limit_events;
    e->hist_limit_bytes = o->history_limit_bytes;
    if (e->threaded) {
        if (pthread_create(&e->thread, NULL, engine_main, e) != 0) {
            sl_engine_close(e);
            return sl_err_set(err, SL_EIO, "cannot start the engine thread");
        }
        e->thread_started = true;
    }
    *out = e;
    return SL_OK;
}

const char *sl_engine_identity(const sl_engine *e)
{
    return e->identity;
}

void sl_engine_set_env(sl_engine *e, void *env)
{
    e->env = env;
}

void sl_engine_on_close(sl_engine *e, sl_close_cb cb, void *arg)
{
    e->on_close = cb;
    e->on_close_arg = arg;
}

void sl_engine_close(sl_engine *e)
{
    if (!e)
        return;
    if (e->thread_started) {
        pthread_mutex_lock(&e->mu);
        e->stop = true;
        pthread_cond_signal(&e->cv);
        pthread_mutex_unlock(&e->mu);
        pthread_join(e->thread, NULL);
    }
    pthread_mutex_lock(&e->aq_mu);
    e->aq_closed = true;
    pthread_cond_broadcast(&e->aq_cv);
    while (e->aq_head) {
        act_task *t = e->aq_head;
        e->aq_head = t->next;
        sl__act_task_free(t);
    }
    pthread_mutex_unlock(&e->aq_mu);
    sl__cache_clear(e);
    sl_store_close(e->st);
    sl_store_close(e->rd);
    for (size_t i = 0; i < e->n_queues; i++)
        free(e->queues[i]);
    free(e->queues);
    for (int i = 0; i < e->n_limited; i++)
        free(e->limited[i]);
    free(e->limited);
    free(e->opts_memo_queue);
    free(e->opts_memo_text);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->rd_mu);
    pthread_mutex_destroy(&e->direct_mu);
    pthread_mutex_destroy(&e->aq_mu);
    pthread_cond_destroy(&e->aq_cv);
    free(e);
}

void sl_engine_stats_get(sl_engine *e, sl_engine_stats *out)
{
    pthread_mutex_lock(&e->mu);
    out->commits = e->n_commits;
    out->items = e->n_items;
    out->workflow_tasks = e->n_wft;
    pthread_mutex_unlock(&e->mu);
}

/* ---- replay cache (engine thread only) --------------------------------------------- */

static unsigned bucket_of(int64_t run_pk)
{
    return (unsigned)((uint64_t)run_pk * 0x9E3779B97F4A7C15ULL >> 51) % SL_CACHE_BUCKETS;
}

static void lru_unlink(sl_engine *e, run_state *rs)
{
    if (rs->lru_prev)
        rs->lru_prev->lru_next = rs->lru_next;
    else
        e->lru_head = rs->lru_next;
    if (rs->lru_next)
        rs->lru_next->lru_prev = rs->lru_prev;
    else
        e->lru_tail = rs->lru_prev;
    rs->lru_prev = rs->lru_next = NULL;
}

static void lru_push_front(sl_engine *e, run_state *rs)
{
    rs->lru_prev = NULL;
    rs->lru_next = e->lru_head;
    if (e->lru_head)
        e->lru_head->lru_prev = rs;
    e->lru_head = rs;
    if (!e->lru_tail)
        e->lru_tail = rs;
}

static run_state *cache_find(sl_engine *e, int64_t run_pk)
{
    for (run_state *rs = e->buckets[bucket_of(run_pk)]; rs; rs = rs->hnext)
        if (rs->run_pk == run_pk)
            return rs;
    return NULL;
}

static void cache_remove(sl_engine *e, run_state *rs)
{
    run_state **pp = &e->buckets[bucket_of(rs->run_pk)];
    while (*pp && *pp != rs)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = rs->hnext;
    lru_unlink(e, rs);
    e->cache_len--;
    sl__rs_free(rs);
}

void sl__cache_evict(sl_engine *e, int64_t run_pk)
{
    run_state *rs = cache_find(e, run_pk);
    if (rs)
        cache_remove(e, rs);
}

void sl__cache_clear(sl_engine *e)
{
    while (e->lru_head)
        cache_remove(e, e->lru_head);
}

void sl__cache_put(sl_engine *e, run_state *rs)
{
    unsigned b = bucket_of(rs->run_pk);
    rs->hnext = e->buckets[b];
    e->buckets[b] = rs;
    lru_push_front(e, rs);
    e->cache_len++;
    run_state *victim = e->lru_tail;
    while (e->cache_len > e->cache_max && victim) {
        run_state *prev = victim->lru_prev;
        if (victim != rs && victim->pins == 0)
            cache_remove(e, victim);
        victim = prev;
    }
}

static bool apply_cb(const sl_event_row *ev, void *arg)
{
    void **a = arg;
    run_state *rs = a[0];
    sl_err *err = a[1];
    sl_code *rc = a[2];
    *rc = sl__rs_apply(rs, ev, err);
    return *rc == SL_OK;
}

/* Apply events from rs->next_event_id on. */
static sl_code rs_catch_up(sl_engine *e, run_state *rs, sl_err *err)
{
    sl_code rc = SL_OK;
    void *a[3] = {rs, err, &rc};
    sl_code src = sl_store_events_scan(e->st, rs->run_pk, rs->next_event_id, 0, apply_cb, a, err);
    return src != SL_OK ? src : rc;
}

static run_state *rs_load(sl_engine *e, int64_t run_pk, sl_err *err, sl_code *rc)
{
    sl_run_row row;
    if ((*rc = sl_store_run_get(e->st, run_pk, &row, err)) != SL_OK)
        return NULL;
    run_state *rs = sl_xcalloc(1, sizeof(*rs));
    sl__rs_from_row(rs, &row);
    rs->next_event_id = 1;
    rs->wft_row = true; /* unknown: another process may have scheduled one */
    sl_run_row_cleanup(&row);
    if ((*rc = rs_catch_up(e, rs, err)) != SL_OK) {
        sl__rs_free(rs);
        return NULL;
    }
    /* The run row is authoritative for the status (terminate writes it with its event). */
    int64_t version;
    int status;
    if ((*rc = sl_store_run_version(e->st, run_pk, &version, &status, err)) != SL_OK) {
        sl__rs_free(rs);
        return NULL;
    }
    rs->status = status;
    return rs;
}

run_state *sl__cache_get(sl_engine *e, int64_t run_pk, sl_err *err, sl_code *rc)
{
    *rc = SL_OK;
    run_state *rs = cache_find(e, run_pk);
    if (rs) {
        lru_unlink(e, rs);
        lru_push_front(e, rs);
        return rs;
    }
    rs = rs_load(e, run_pk, err, rc);
    if (rs)
        sl__cache_put(e, rs);
    return rs;
}

/* A cached run brought up to date with the database (a version read), or loaded. */
run_state *sl__cache_get_fresh(sl_engine *e, int64_t run_pk, sl_err *err, sl_code *rc)
{
    run_state *rs = cache_find(e, run_pk);
    if (rs) {
        int64_t version;
        int status;
        if ((*rc = sl_store_run_version(e->st, run_pk, &version, &status, err)) != SL_OK)
            return NULL;
        if (version == rs->next_event_id && status == rs->status) {
            lru_unlink(e, rs);
            lru_push_front(e, rs);
            return rs;
        }
        cache_remove(e, rs);
    }
    return sl__cache_get(e, run_pk, err, rc);
}

/* ---- submission ----------------------------------------------------------------------- */

static void item_free(item *it)
{
    if (it->task)
        sl__act_task_free(it->task);
    free(it->result);
    json_decref(it->failure);
    free(it->hb_details);
    if (it->sync)
        sem_destroy(&it->done);
    free(it);
}

static void enqueue(sl_engine *e, item *it)
{
    pthread_mutex_lock(&e->mu);
    it->next = NULL;
    if (e->q_tail)
        e->q_tail->next = it;
    else
        e->q_head = it;
    e->q_tail = it;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

static sl_code process_item(sl_engine *e, item *it, sl_err *err)
{
    switch (it->kind) {
    case IT_CALL:
        return it->fn(e, it, err);
    case IT_ACT_RESULT:
        return sl__op_act_result(e, it, err);
    case IT_HEARTBEAT:
        return sl__op_heartbeat(e, it, err);
    }
    return SL_EINVAL;
}

static void txn_scratch_reset(sl_engine *e, bool keep)
{
    /* keep=false: the transaction rolled back, drop what it would have published */
    if (!keep) {
        while (e->dispatch_head) {
            act_task *t = e->dispatch_head;
            e->dispatch_head = t->next;
            sl__act_task_free(t);
        }
        e->dispatch_tail = NULL;
        e->dispatch_len = 0;
        while (e->closed_head) {
            struct closed_run *c = e->closed_head;
            e->closed_head = c->next;
            free(c->workflow_id);
            free(c);
        }
    }
}

/* Forget dispatches and closes recorded after the marks (their changes were undone). */
static void drop_after(sl_engine *e, act_task *dispatch_mark, int dispatch_len,
                       struct closed_run *closed_mark)
{
    act_task *t = dispatch_mark ? dispatch_mark->next : e->dispatch_head;
    if (dispatch_mark)
        dispatch_mark->next = NULL;
    else
        e->dispatch_head = NULL;
    e->dispatch_tail = dispatch_mark;
    e->dispatch_len = dispatch_len;
    while (t) {
        act_task *next = t->next;
        sl__act_task_free(t);
        t = next;
    }
    while (e->closed_head && e->closed_head != closed_mark) {
        struct closed_run *c = e->closed_head;
        e->closed_head = c->next;
        free(c->workflow_id);
        free(c);
    }
}

/* After COMMIT: hand leased tasks to worker threads, run close callbacks. */
static void publish(sl_engine *e)
{
    if (e->dispatch_head) {
        pthread_mutex_lock(&e->aq_mu);
        if (e->aq_tail)
            e->aq_tail->next = e->dispatch_head;
        else
            e->aq_head = e->dispatch_head;
        e->aq_tail = e->dispatch_tail;
        e->aq_len += e->dispatch_len;
        e->in_flight += e->dispatch_len;
        pthread_cond_broadcast(&e->aq_cv);
        pthread_mutex_unlock(&e->aq_mu);
        e->dispatch_head = e->dispatch_tail = NULL;
        e->dispatch_len = 0;
    }
    while (e->closed_head) {
        struct closed_run *c = e->closed_head;
        e->closed_head = c->next;
        if (e->on_close)
            e->on_close(e->on_close_arg, c->workflow_id, c->run_id, c->status);
        free(c->workflow_id);
        free(c);
    }
}

static void finish_item(sl_engine *e, item *it)
{
    if (it->kind == IT_ACT_RESULT) {
        pthread_mutex_lock(&e->aq_mu);
        e->in_flight--;
        pthread_cond_broadcast(&e->aq_cv);
        pthread_mutex_unlock(&e->aq_mu);
    }
    if (it->sync) {
        sem_post(&it->done);
        return;
    }
    if (it->async_done)
        it->async_done(e, it);
    item_free(it);
}

/* ---- polling and maintenance (engine thread, inside a transaction) ---------------------- */

struct poll_ctx {
    sl_engine *e;
    int found;
    sl_err *err;
    sl_code rc;
};

static void wft_due_cb(int64_t run_pk, void *arg)
{
    struct poll_ctx *p = arg;
    if (p->rc != SL_OK)
        return;
    p->found++;
    p->rc = sl__op_workflow_task(p->e, run_pk, p->err);
}

static void leased_cb(const sl_act_task_row *row, void *arg)
{
    struct poll_ctx *p = arg;
    sl_engine *e = p->e;
    sl_code rc;
    run_state *rs = sl__cache_get(e, row->run_pk, p->err, &rc);
    act_task *t = sl_xcalloc(1, sizeof(*t));
    t->row = *row;
    /* deep-copy the borrowed strings */
    t->row.queue = row->queue ? sl_xstrdup(row->queue) : NULL;
    t->row.activity_type = row->activity_type ? sl_xstrdup(row->activity_type) : NULL;
    t->row.input = row->input ? sl_xstrdup(row->input) : NULL;
    t->row.opts = row->opts ? sl_xstrdup(row->opts) : NULL;
    t->row.lease_owner = row->lease_owner ? sl_xstrdup(row->lease_owner) : NULL;
    t->row.heartbeat_details = row->heartbeat_details ? sl_xstrdup(row->heartbeat_details) : NULL;
    t->row.last_failure = row->last_failure ? sl_xstrdup(row->last_failure) : NULL;
    if (rs) {
        memcpy(t->run_id, rs->run_id, sizeof(t->run_id));
        t->workflow_id = sl_xstrdup(rs->workflow_id);
    } else {
        t->workflow_id = sl_xstrdup("");
    }
    t->next = NULL;
    if (e->dispatch_tail)
        e->dispatch_tail->next = t;
    else
        e->dispatch_head = t;
    e->dispatch_tail = t;
    e->dispatch_len++;
    p->found++;
}

/* How many more activity tasks of `queue` to lease now. Queues with a
 * rate or concurrency limit get no prefetch: the limit counts a lease as a start, so a task
 * leased while every thread is busy would start later than counted and let the service see
 * more requests in a window than the limit allowed. */
static int local_room(sl_engine *e, const char *queue)
{
    bool limited = sl__limits_apply_to(e, queue);
    pthread_mutex_lock(&e->aq_mu);
    int cap = limited ? e->local_threads : e->local_capacity;
    int room = cap - e->in_flight - e->dispatch_len;
    pthread_mutex_unlock(&e->aq_mu);
    return room;
}

/* Is there due work for our queues? A cheap read before taking the write lock. */
static bool poll_has_work(sl_engine *e, int64_t now)
{
    int64_t next_timer, next_sched;
    if (sl_store_timer_next(e->st, &next_timer, NULL) == SL_OK && next_timer <= now)
        return true;
    if (sl_store_schedule_next(e->st, &next_sched, NULL) == SL_OK && next_sched <= now)
        return true;
    for (size_t i = 0; i < e->n_queues; i++) {
        int64_t next;
        if (sl_store_wft_next_visible(e->st, e->queues[i], &next, NULL) == SL_OK && next <= now)
            return true;
        if (!e->draining && local_room(e, e->queues[i]) > 0 &&
            sl_store_act_next_visible(e->st, e->queues[i], &next, NULL) == SL_OK && next <= now)
            return true;
    }
    return false;
}

static sl_code fire_timers(sl_engine *e, int64_t now, int *found, sl_err *err);

static sl_code poll_queues(sl_engine *e, int64_t now, int *found, sl_err *err)
{
    struct poll_ctx p = {.e = e, .err = err, .rc = SL_OK};
    sl_code trc = fire_timers(e, now, &p.found, err);
    if (trc != SL_OK)
        return trc;
    if ((trc = sl__schedules_process(e, now, &p.found, err)) != SL_OK)
        return trc;
    for (size_t i = 0; i < e->n_queues && p.rc == SL_OK; i++) {
        sl_code rc = sl_store_wft_due(e->st, e->queues[i], now, POLL_BATCH, wft_due_cb, &p, err);
        if (rc != SL_OK)
            return rc;
        if (p.rc != SL_OK)
            return p.rc;
        int room = e->draining ? 0 : local_room(e, e->queues[i]);
        if (room > POLL_BATCH)
            room = POLL_BATCH;
        int allowed = room;
        int64_t next_ms = 0;
        if (room > 0 &&
            (rc = sl__limits_allow(e, e->queues[i], room, now, &allowed, &next_ms, err)) != SL_OK)
            return rc;
        if (allowed < room && next_ms > 0)
            sl__engine_wake_at(e, next_ms);
        if (allowed > 0) {
            int before = p.found;
            rc = sl_store_act_lease(e->st, e->queues[i], now, e->identity, allowed, leased_cb, &p,
                                    err);
            if (rc == SL_OK)
                rc = sl__limits_record(e, e->queues[i], p.found - before, now, err);
            if (rc != SL_OK)
                return rc;
        }
    }
    *found = p.found;
    return p.rc;
}

struct maint_ctx {
    sl_engine *e;
    int64_t now;
    sl_err *err;
    sl_code rc;
};

static void expired_cb(const sl_act_task_row *row, void *arg)
{
    struct maint_ctx *m = arg;
    if (m->rc == SL_OK)
        m->rc = sl__op_reap(m->e, row, m->now, m->err);
}

static void timer_cb(int64_t run_pk, int32_t seq, int64_t fire_at, void *arg)
{
    (void)fire_at;
    struct maint_ctx *m = arg;
    if (m->rc == SL_OK)
        m->rc = sl__op_timer_fired(m->e, run_pk, seq, m->err);
}

static sl_code fire_timers(sl_engine *e, int64_t now, int *found, sl_err *err)
{
    int64_t next;
    sl_code rc = sl_store_timer_next(e->st, &next, err);
    if (rc != SL_OK || next > now)
        return rc;
    struct maint_ctx m = {.e = e, .now = now, .err = err, .rc = SL_OK};
    rc = sl_store_timers_due(e->st, now, 256, timer_cb, &m, err);
    (*found)++;
    return rc != SL_OK ? rc : m.rc;
}

static sl_code maintain(sl_engine *e, int64_t now, sl_err *err)
{
    struct maint_ctx m = {.e = e, .now = now, .err = err, .rc = SL_OK};
    sl_code rc = sl_store_act_expired(e->st, now, 256, expired_cb, &m, err);
    return rc != SL_OK ? rc : m.rc;
}

/* ---- the engine thread ---------------------------------------------------------------- */

/* One transaction over `list` plus due polls; false if it had to roll back. */
static bool run_batch(sl_engine *e, item *list, bool do_poll, bool do_maint, int *found)
{
    sl_err err;
    sl_err_clear(&err);
    *found = 0;
    sl_code rc = sl_store_begin(e->st, &err);
    if (rc != SL_OK) {
        for (item *it = list; it; it = it->next) {
            it->rc = rc;
            it->err = err;
        }
        return false;
    }
    if ((rc = sl__limits_refresh(e, &err)) != SL_OK)
        goto rollback;
    int n = 0;
    for (item *it = list; it; it = it->next, n++) {
        sl_err_clear(&it->err);
        /* Client calls may fail half-way (a start after its hook wrote): a savepoint undoes
         * the half, and the in-memory state it touched is dropped. */
        bool sp = it->kind == IT_CALL && !it->no_savepoint;
        act_task *dispatch_mark = e->dispatch_tail;
        int dispatch_len = e->dispatch_len;
        struct closed_run *closed_mark = e->closed_head;
        if (sp && (rc = sl_store_savepoint(e->st, &err)) != SL_OK)
            goto rollback;
        it->rc = process_item(e, it, &it->err);
        if (it->rc == SL_EIO || it->rc == SL_EBUSY) {
            err = it->err;
            rc = it->rc;
            goto rollback;
        }
        if (sp && it->rc != SL_OK) {
            sl_store_savepoint_rollback(e->st);
            sl__cache_clear(e);
            sl__engine_clear_deferred(e);
            drop_after(e, dispatch_mark, dispatch_len, closed_mark);
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
    if (do_poll && (rc = poll_queues(e, now, found, &err)) != SL_OK)
        goto rollback;
    if (do_maint && (rc = maintain(e, now, &err)) != SL_OK)
        goto rollback;
    if ((rc = sl__engine_run_deferred(e, &err)) != SL_OK &&
        (rc == SL_EIO || rc == SL_EBUSY))
        goto rollback;
    if ((rc = sl_store_commit(e->st, &err)) != SL_OK)
        goto rollback;
    pthread_mutex_lock(&e->mu);
    e->n_commits++;
    e->n_items += n;
    pthread_mutex_unlock(&e->mu);
    publish(e);
    return true;
rollback:
    sl_store_rollback(e->st);
    sl__cache_clear(e);
    sl__engine_clear_deferred(e);
    txn_scratch_reset(e, false);
    sl_warn("engine: transaction rolled back: %s", err.msg);
    return false;
}

static void process_list(sl_engine *e, item *list, bool do_poll, bool do_maint, int *found)
{
    if (run_batch(e, list, do_poll, do_maint, found)) {
        for (item *it = list, *next; it; it = next) {
            next = it->next;
            finish_item(e, it);
        }
        return;
    }
    /* Something failed: retry each item alone so one bad item cannot fail the others. */
    for (item *it = list, *next; it; it = next) {
        next = it->next;
        it->next = NULL;
        int f;
        if (!run_batch(e, it, false, false, &f) && it->rc == SL_OK)
            it->rc = SL_EIO;
        finish_item(e, it);
    }
}

static struct timespec abs_after_ms(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    return ts;
}

static void *engine_main(void *arg)
{
    sl_engine *e = arg;
    for (;;) {
        pthread_mutex_lock(&e->mu);
        for (;;) {
            if (e->q_head || e->stop)
                break;
            if (!e->serving) {
                pthread_cond_wait(&e->cv, &e->mu);
                continue;
            }
            int64_t now = sl_now_ms();
            int64_t wake = e->next_poll_ms < e->next_maintenance_ms ? e->next_poll_ms
                                                                    : e->next_maintenance_ms;
            if (now >= wake)
                break;
            struct timespec ts = abs_after_ms(wake - now);
            pthread_cond_timedwait(&e->cv, &e->mu, &ts);
        }
        /* Take at most MAX_BATCH_ITEMS so one transaction stays short. */
        item *list = e->q_head, *last = NULL;
        int n = 0;
        for (item *it = e->q_head; it && n < MAX_BATCH_ITEMS; it = it->next, n++)
            last = it;
        if (last) {
            e->q_head = last->next;
            if (!e->q_head)
                e->q_tail = NULL;
            last->next = NULL;
        }
        bool stop = e->stop && !e->q_head && !list;
        bool serving = e->serving;
        pthread_mutex_unlock(&e->mu);
        if (stop)
            break;

        int64_t now = sl_now_ms();
        bool do_poll = serving && now >= e->next_poll_ms;
        bool do_maint = serving && now >= e->next_maintenance_ms;
        if (do_poll && !list && !do_maint && !poll_has_work(e, now)) {
            e->poll_delay_ms = e->poll_delay_ms * 2 > POLL_MAX_MS ? POLL_MAX_MS
                                                                  : e->poll_delay_ms * 2;
            e->next_poll_ms = now + e->poll_delay_ms;
            if (e->wake_hint_ms < e->next_poll_ms)
                e->next_poll_ms = e->wake_hint_ms;
            e->wake_hint_ms = INT64_MAX;
            continue;
        }
        int found = 0;
        process_list(e, list, do_poll, do_maint, &found);
        if (do_poll) {
            e->poll_delay_ms = found ? POLL_MIN_MS
                                     : (e->poll_delay_ms * 2 > POLL_MAX_MS ? POLL_MAX_MS
                                                                           : e->poll_delay_ms * 2);
            e->next_poll_ms = sl_now_ms() + e->poll_delay_ms;
        }
        if (e->wake_hint_ms < e->next_poll_ms)
            e->next_poll_ms = e->wake_hint_ms;
        e->wake_hint_ms = INT64_MAX;
        if (do_maint)
            e->next_maintenance_ms = sl_now_ms() + e->maintenance_ms;
    }
    return NULL;
}

sl_code sl__engine_submit_wait(sl_engine *e, item *it, sl_err *err)
{
    it->sync = true;
    sem_init(&it->done, 0, 0);
    if (e->threaded) {
        enqueue(e, it);
        while (sem_wait(&it->done) != 0 && errno == EINTR)
            ;
    } else {
        pthread_mutex_lock(&e->direct_mu);
        int found;
        it->next = NULL;
        if (!run_batch(e, it, false, false, &found) && it->rc == SL_OK)
            it->rc = SL_EIO;
        publish(e);
        pthread_mutex_unlock(&e->direct_mu);
    }
    sl_code rc = it->rc;
    if (rc != SL_OK && err)
        *err = it->err;
    return rc;
}

void sl__engine_submit_async(sl_engine *e, item *it)
{
    it->sync = false;
    if (e->threaded) {
        enqueue(e, it);
        return;
    }
    pthread_mutex_lock(&e->direct_mu);
    int found;
    it->next = NULL;
    if (!run_batch(e, it, false, false, &found) && it->rc == SL_OK)
        it->rc = SL_EIO;
    pthread_mutex_unlock(&e->direct_mu);
    finish_item(e, it);
}

/* ---- serving queues and the local activity queue --------------------------------------- */

void sl__engine_wake_at(sl_engine *e, int64_t t)
{
    if (t < e->wake_hint_ms)
        e->wake_hint_ms = t;
}

bool sl__engine_serves(const sl_engine *e, const char *queue)
{
    if (!e->serving)
        return false;
    for (size_t i = 0; i < e->n_queues; i++)
        if (strcmp(e->queues[i], queue) == 0)
            return true;
    return false;
}

/* Called by ops when inserting an activity task: lease it to ourselves if we can run it. */
bool sl__engine_take_local(sl_engine *e, const char *queue)
{
    if (!e->threaded || e->draining || !sl__engine_serves(e, queue))
        return false;
    return local_room(e, queue) > 0;
}

sl_code sl_engine_serve(sl_engine *e, const char *const *queues, size_t n_queues, int threads,
                        int capacity, sl_err *err)
{
    if (!e->threaded)
        return sl_err_set(err, SL_EINVAL, "serving queues needs a threaded engine");
    pthread_mutex_lock(&e->mu);
    for (size_t i = 0; i < e->n_queues; i++)
        free(e->queues[i]);
    free(e->queues);
    e->queues = sl_xcalloc(n_queues, sizeof(char *));
    for (size_t i = 0; i < n_queues; i++)
        e->queues[i] = sl_xstrdup(queues[i]);
    e->n_queues = n_queues;
    pthread_mutex_lock(&e->aq_mu);
    e->local_threads = threads > 0 ? threads : 1;
    e->local_capacity = capacity > e->local_threads ? capacity : e->local_threads;
    pthread_mutex_unlock(&e->aq_mu);
    e->serving = true;
    e->draining = false;
    e->next_poll_ms = 0;
    e->next_maintenance_ms = 0;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    return SL_OK;
}

static sl_code release_call(sl_engine *e, item *it, sl_err *err)
{
    act_task *t = it->arg;
    for (; t; t = t->next) {
        sl_code rc = sl_store_act_release(e->st, t->row.task_id, t->row.lease_owner,
                                          t->row.attempt, sl_now_ms(), err);
        if (rc != SL_OK)
            return rc;
    }
    return SL_OK;
}

void sl_engine_drain(sl_engine *e)
{
    pthread_mutex_lock(&e->mu);
    e->draining = true;
    pthread_mutex_unlock(&e->mu);
    /* Give back what no worker thread has started. */
    pthread_mutex_lock(&e->aq_mu);
    act_task *list = e->aq_head;
    int n = e->aq_len;
    e->aq_head = e->aq_tail = NULL;
    e->aq_len = 0;
    e->aq_closed = true;
    pthread_cond_broadcast(&e->aq_cv);
    pthread_mutex_unlock(&e->aq_mu);
    if (list) {
        item it;
        memset(&it, 0, sizeof(it));
        it.kind = IT_CALL;
        it.fn = release_call;
        it.arg = list;
        sl_err err;
        sl_err_clear(&err);
        if (sl__engine_submit_wait(e, &it, &err) != SL_OK)
            sl_warn("engine: releasing %d unstarted tasks failed: %s", n, err.msg);
        sem_destroy(&it.done);
        while (list) {
            act_task *t = list;
            list = t->next;
            sl__act_task_free(t);
        }
        pthread_mutex_lock(&e->aq_mu);
        e->in_flight -= n;
        pthread_cond_broadcast(&e->aq_cv);
        pthread_mutex_unlock(&e->aq_mu);
    }
}

sl_engine_task *sl_engine_next_task(sl_engine *e, int64_t timeout_ms)
{
    pthread_mutex_lock(&e->aq_mu);
    struct timespec ts = abs_after_ms(timeout_ms);
    while (!e->aq_head && !e->aq_closed) {
        if (pthread_cond_timedwait(&e->aq_cv, &e->aq_mu, &ts) == ETIMEDOUT)
            break;
    }
    act_task *t = e->aq_head;
    if (t) {
        e->aq_head = t->next;
        if (!e->aq_head)
            e->aq_tail = NULL;
        e->aq_len--;
        t->next = NULL;
    }
    pthread_mutex_unlock(&e->aq_mu);
    return t;
}

bool sl_engine_is_idle(sl_engine *e)
{
    pthread_mutex_lock(&e->aq_mu);
    bool busy = e->aq_head || e->in_flight > 0;
    pthread_mutex_unlock(&e->aq_mu);
    if (busy)
        return false;
    pthread_mutex_lock(&e->mu);
    busy = e->q_head != NULL;
    pthread_mutex_unlock(&e->mu);
    if (busy)
        return false;
    pthread_mutex_lock(&e->rd_mu);
    if (!e->rd) {
        sl_store_opts so;
        sl_store_opts_init(&so);
        so.path = sl_store_path(e->st);
        if (sl_store_open(&so, &e->rd, NULL) != SL_OK) {
            pthread_mutex_unlock(&e->rd_mu);
            return false;
        }
    }
    int64_t total = 0;
    for (size_t i = 0; i < e->n_queues; i++) {
        int64_t n = 0;
        if (sl_store_queue_pending(e->rd, e->queues[i], &n, NULL) != SL_OK) {
            total = 1;
            break;
        }
        total += n;
    }
    pthread_mutex_unlock(&e->rd_mu);
    return total == 0;
}
