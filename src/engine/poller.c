/*
 * poller.c - finding work in the database for the queues this engine serves (e->poller):
 * workflow tasks and activity tasks other processes created, due timers and schedules,
 * polled with backoff while idle (1 ms doubling to 50 ms, sooner when a known retry, timer or
 * rate-limit slot falls due); maintenance every maintenance_ms (expired leases are timed out);
 * serving, draining, idleness (nothing pending at all) and drainedness (nothing runnable now).
 *
 * Invariants: (1) nothing is leased without a dispatcher with room, nor after
 * sl_engine_drain (lease_ok is false from the first batch that began after it); (2) a cheap
 * read decides whether an idle poll is worth the write lock, so idle workers do not contend
 * with busy ones.
 * Threads: serving/draining are under e->mu and copied once per batch (sl__poller_snapshot);
 * the timing fields and the copies are the engine thread's; `queues` is fixed once serving.
 */
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

#define POLL_MIN_MS 1
#define POLL_MAX_MS 50
#define POLL_BATCH  64

void sl__poller_init(sl_engine *e, int64_t maintenance_ms)
{
    e->poller.maintenance_ms = maintenance_ms;
    e->poller.poll_delay_ms = POLL_MIN_MS;
    e->poller.wake_hint_ms = INT64_MAX;
}

void sl__poller_cleanup(sl_engine *e)
{
    for (size_t i = 0; i < e->poller.n_queues; i++)
        free(e->poller.queues[i]);
    free(e->poller.queues);
    e->poller.queues = NULL;
    e->poller.n_queues = 0;
}

void sl__poller_snapshot(sl_engine *e)
{
    sl__poller *p = &e->poller;
    p->active = p->serving;
    p->lease_ok = p->serving && !p->draining;
}

int64_t sl__poller_next_wake_ms(const sl_engine *e)
{
    const sl__poller *p = &e->poller;
    if (!p->serving)
        return INT64_MAX;
    return p->next_poll_ms < p->next_maintenance_ms ? p->next_poll_ms : p->next_maintenance_ms;
}

void sl__engine_wake_at(sl_engine *e, int64_t t)
{
    if (t < e->poller.wake_hint_ms)
        e->poller.wake_hint_ms = t;
}

bool sl__engine_serves(const sl_engine *e, const char *queue)
{
    const sl__poller *p = &e->poller;
    if (p->active && p->all_workflows)
        return true;
    return sl__engine_serves_activities(e, queue);
}

bool sl__engine_serves_activities(const sl_engine *e, const char *queue)
{
    const sl__poller *p = &e->poller;
    if (!p->active)
        return false;
    for (size_t i = 0; i < p->n_queues; i++)
        if (strcmp(p->queues[i], queue) == 0)
            return true;
    return false;
}

bool sl__engine_take_local(sl_engine *e, const char *queue)
{
    if (!e->threaded || !e->poller.lease_ok || !sl__engine_serves_activities(e, queue))
        return false;
    return sl__dispatch_room(e, queue) > 0;
}

/* ---- polling (inside the transaction) ------------------------------------------------- */

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
    sl_code rc;
    run_state *rs = sl__cache_get(p->e, row->run_pk, p->err, &rc);
    sl__dispatch_add(p->e, row, rs ? rs->run_id : NULL, rs ? rs->workflow_id : "");
    p->found++;
}

/* Is there due work for our queues? A cheap read before taking the write lock. */
static bool poll_has_work(sl_engine *e, int64_t now)
{
    const sl__poller *p = &e->poller;
    int64_t next_timer, next_sched;
    if (sl_store_timer_next(e->st, &next_timer, NULL) == SL_OK && next_timer <= now)
        return true;
    if (sl_store_schedule_next(e->st, &next_sched, NULL) == SL_OK && next_sched <= now)
        return true;
    int64_t next_wft;
    if (p->all_workflows && sl_store_wft_next_visible(e->st, NULL, &next_wft, NULL) == SL_OK &&
        next_wft <= now)
        return true;
    for (size_t i = 0; i < p->n_queues; i++) {
        int64_t next;
        if (!p->all_workflows &&
            sl_store_wft_next_visible(e->st, p->queues[i], &next, NULL) == SL_OK && next <= now)
            return true;
        if (p->lease_ok && sl__dispatch_room(e, p->queues[i]) > 0 &&
            sl_store_act_next_visible(e->st, p->queues[i], &next, NULL) == SL_OK && next <= now)
            return true;
    }
    return false;
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

sl_code sl__poller_poll(sl_engine *e, int64_t now, int *found, sl_err *err)
{
    const sl__poller *pl = &e->poller;
    struct poll_ctx p = {.e = e, .err = err, .rc = SL_OK};
    sl_code trc = fire_timers(e, now, &p.found, err);
    if (trc != SL_OK)
        return trc;
    if ((trc = sl__schedules_process(e, now, &p.found, err)) != SL_OK)
        return trc;
    if (pl->all_workflows) {
        sl_code rc = sl_store_wft_due(e->st, NULL, now, POLL_BATCH, wft_due_cb, &p, err);
        if (rc != SL_OK)
            return rc;
        if (p.rc != SL_OK)
            return p.rc;
    }
    for (size_t i = 0; i < pl->n_queues && p.rc == SL_OK; i++) {
        const char *queue = pl->queues[i];
        sl_code rc = pl->all_workflows
                         ? SL_OK
                         : sl_store_wft_due(e->st, queue, now, POLL_BATCH, wft_due_cb, &p, err);
        if (rc != SL_OK)
            return rc;
        if (p.rc != SL_OK)
            return p.rc;
        int room = pl->lease_ok ? sl__dispatch_room(e, queue) : 0;
        if (room > POLL_BATCH)
            room = POLL_BATCH;
        int allowed = room;
        int64_t next_ms = 0;
        if (room > 0 &&
            (rc = sl__limits_allow(e, queue, room, now, &allowed, &next_ms, err)) != SL_OK)
            return rc;
        if (allowed < room && next_ms > 0)
            sl__engine_wake_at(e, next_ms);
        if (allowed > 0) {
            int before = p.found;
            rc = sl_store_act_lease(e->st, queue, now, e->identity, allowed, leased_cb, &p, err);
            if (rc == SL_OK)
                rc = sl__limits_record(e, queue, p.found - before, now, err);
            if (rc != SL_OK)
                return rc;
        }
    }
    *found = p.found;
    return p.rc;
}

sl_code sl__poller_maintain(sl_engine *e, int64_t now, sl_err *err)
{
    struct maint_ctx m = {.e = e, .now = now, .err = err, .rc = SL_OK};
    sl_code rc = sl_store_act_expired(e->st, now, 256, expired_cb, &m, err);
    return rc != SL_OK ? rc : m.rc;
}

/* ---- timing (engine thread, between transactions) ------------------------------------- */

static int64_t backoff(int64_t delay_ms)
{
    return delay_ms * 2 > POLL_MAX_MS ? POLL_MAX_MS : delay_ms * 2;
}

bool sl__poller_plan(sl_engine *e, bool have_calls, int64_t now, bool *do_poll, bool *do_maint)
{
    sl__poller *p = &e->poller;
    *do_poll = p->active && now >= p->next_poll_ms;
    *do_maint = p->active && now >= p->next_maintenance_ms;
    if (*do_poll && !have_calls && !*do_maint && !poll_has_work(e, now)) {
        p->poll_delay_ms = backoff(p->poll_delay_ms);
        p->next_poll_ms = now + p->poll_delay_ms;
        if (p->wake_hint_ms < p->next_poll_ms)
            p->next_poll_ms = p->wake_hint_ms;
        p->wake_hint_ms = INT64_MAX;
        return false;
    }
    return true;
}

void sl__poller_after(sl_engine *e, bool did_poll, bool did_maint, int found)
{
    sl__poller *p = &e->poller;
    if (did_poll) {
        p->poll_delay_ms = found ? POLL_MIN_MS : backoff(p->poll_delay_ms);
        p->next_poll_ms = sl_now_ms() + p->poll_delay_ms;
    }
    if (p->wake_hint_ms < p->next_poll_ms)
        p->next_poll_ms = p->wake_hint_ms;
    p->wake_hint_ms = INT64_MAX;
    if (did_maint)
        p->next_maintenance_ms = sl_now_ms() + p->maintenance_ms;
}

/* ---- serving --------------------------------------------------------------------------- */

sl_code sl_engine_serve(sl_engine *e, const char *const *queues, size_t n_queues,
                        const sl_dispatcher *d, sl_err *err)
{
    if (!e->threaded)
        return sl_err_set(err, SL_EINVAL, "serving queues needs a threaded engine");
    for (size_t i = 0; i < n_queues; i++)
        if (sl_engine_name_check("task queue name", queues[i], err) != SL_OK)
            return SL_EINVAL;
    sl__poller *p = &e->poller;
    pthread_mutex_lock(&e->mu);
    if (p->serving) {
        pthread_mutex_unlock(&e->mu);
        return sl_err_set(err, SL_EINVAL, "the engine already serves its queues");
    }
    p->queues = sl_xcalloc(n_queues ? n_queues : 1, sizeof(char *));
    for (size_t i = 0; i < n_queues; i++)
        p->queues[i] = sl_xstrdup(queues[i]);
    p->n_queues = n_queues;
    sl__dispatch_set(e, d);
    p->serving = true;
    p->draining = false;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    return SL_OK;
}

void sl_engine_drain(sl_engine *e)
{
    pthread_mutex_lock(&e->mu);
    e->poller.draining = true;
    pthread_mutex_unlock(&e->mu);
    /* A batch that began before still leases: let it hand its tasks over first. */
    sl__writer_wait_batch(e);
    sl__dispatch_set(e, NULL);
}

/* Sum over the served queues of count(rd, queue) (1 when a read fails: not idle, not
 * drained, as a check that could not look must not let a worker exit). */
static int64_t served_count(sl_engine *e, bool runnable_only)
{
    sl_store *rd;
    if (sl__reader_get(e, &rd, NULL) != SL_OK)
        return 1;
    int64_t now = sl_now_ms();
    int64_t total = 0;
    for (size_t i = 0; i < e->poller.n_queues; i++) {
        int64_t n = 0;
        sl_code rc = runnable_only ? sl_store_queue_runnable(rd, e->poller.queues[i], now, &n, NULL)
                                   : sl_store_queue_pending(rd, e->poller.queues[i], &n, NULL);
        if (rc != SL_OK) {
            total = 1;
            break;
        }
        total += n;
    }
    sl__reader_done(e);
    return total;
}

bool sl_engine_is_idle(sl_engine *e)
{
    if (sl__dispatch_in_flight(e) > 0 || sl__writer_has_pending(e))
        return false;
    return served_count(e, false) == 0;
}

bool sl_engine_is_drained(sl_engine *e)
{
    if (sl__dispatch_in_flight(e) > 0 || sl__writer_has_pending(e))
        return false;
    return served_count(e, true) == 0;
}
