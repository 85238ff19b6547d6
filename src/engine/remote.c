/*
 * remote.c - activity tasks for workers in other processes (e->remote): leasing on a worker's
 * request, rebuilding a task from its lease, and telling waiting polls that tasks became
 * visible.
 *
 *   poll --sl_engine_lease_tasks--> DISPATCHED (remote) --complete/fail/heartbeat/release-->
 *   token from a worker --sl_engine_task_find--> DISPATCHED (remote)        (dispatch.c)
 *
 * Invariants: (1) a remote task never counts against the local dispatcher's in_flight;
 * (2) every commit that made an activity task visible without handing it to our dispatcher
 * (a new task on a queue nobody here leases, a retry, a release) ends with one ready call per
 * queue, so a poll that found nothing and then waits cannot miss it; a spurious call is
 * harmless (the poll leases nothing and waits again).
 * Threads: the ready notes are the engine thread's; cb/cb_arg are under remote.mu.
 */
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

void sl__remote_init(sl_engine *e)
{
    pthread_mutex_init(&e->remote.mu, NULL);
}

void sl__remote_cleanup(sl_engine *e)
{
    sl__ready_drop(e);
    pthread_mutex_destroy(&e->remote.mu);
}

void sl__ready_note(sl_engine *e, const char *queue)
{
    sl__remote *r = &e->remote;
    if (r->overflow || !queue)
        return;
    for (int i = 0; i < r->n_ready; i++)
        if (strcmp(r->ready[i], queue) == 0)
            return;
    if (r->n_ready == SL__READY_MAX) {
        r->overflow = true;
        return;
    }
    r->ready[r->n_ready++] = sl_xstrdup(queue);
}

void sl__ready_drop(sl_engine *e)
{
    sl__remote *r = &e->remote;
    for (int i = 0; i < r->n_ready; i++)
        free(r->ready[i]);
    r->n_ready = 0;
    r->overflow = false;
}

void sl__ready_publish(sl_engine *e)
{
    sl__remote *r = &e->remote;
    if (r->n_ready == 0 && !r->overflow)
        return;
    pthread_mutex_lock(&r->mu);
    if (r->cb) {
        if (r->overflow)
            r->cb(r->cb_arg, NULL);
        else
            for (int i = 0; i < r->n_ready; i++)
                r->cb(r->cb_arg, r->ready[i]);
    }
    pthread_mutex_unlock(&r->mu);
    sl__ready_drop(e);
}

void sl_engine_on_ready(sl_engine *e, sl_ready_cb cb, void *arg)
{
    pthread_mutex_lock(&e->remote.mu);
    e->remote.cb = cb;
    e->remote.cb_arg = arg;
    pthread_mutex_unlock(&e->remote.mu);
}

/* ---- leasing on request ----------------------------------------------------------------- */

struct lease_call {
    const char *const *queues;
    size_t n_queues;
    const char *owner;
    int max;
    sl_activity_task **out;
    size_t n_out;
    int64_t next_ms;
};

static void lease_drop(struct lease_call *c)
{
    for (size_t i = 0; i < c->n_out; i++)
        sl__activity_task_free(c->out[i]);
    c->n_out = 0;
}

struct lease_ctx {
    sl_engine *e;
    struct lease_call *c;
    sl_err *err;
    sl_code rc;
};

static void leased_cb(const sl_act_task_row *row, void *arg)
{
    struct lease_ctx *x = arg;
    sl_code rc;
    run_state *rs = sl__cache_get(x->e, row->run_pk, x->err, &rc);
    if (!rs && rc != SL_OK && rc != SL_ENOTFOUND && x->rc == SL_OK)
        x->rc = rc;
    sl_activity_task *t = sl__activity_task_new(row, rs ? rs->run_id : NULL,
                                                rs ? rs->workflow_id : "");
    t->state = TASK_DISPATCHED;
    t->remote = true;
    x->c->out[x->c->n_out++] = t;
}

static sl_code lease_fn(sl_engine *e, void *arg, sl_err *err)
{
    struct lease_call *c = arg;
    /* A batch that rolled back is run again alone: start over. */
    lease_drop(c);
    c->next_ms = INT64_MAX;
    int64_t now = sl_now_ms();
    struct lease_ctx x = {.e = e, .c = c, .err = err, .rc = SL_OK};
    for (size_t i = 0; i < c->n_queues && (int)c->n_out < c->max; i++) {
        const char *queue = c->queues[i];
        int room = c->max - (int)c->n_out;
        int allowed = room;
        int64_t slot_ms = 0;
        sl_code rc;
        if ((rc = sl__limits_allow(e, queue, room, now, &allowed, &slot_ms, err)) != SL_OK)
            return rc;
        if (allowed < room && slot_ms > 0 && slot_ms < c->next_ms)
            c->next_ms = slot_ms;
        size_t before = c->n_out;
        if (allowed > 0) {
            rc = sl_store_act_lease(e->st, queue, now, c->owner, allowed, leased_cb, &x, err);
            if (rc == SL_OK)
                rc = x.rc;
            if (rc == SL_OK)
                rc = sl__limits_record(e, queue, (int)(c->n_out - before), now, err);
            if (rc != SL_OK)
                return rc;
        }
        if (c->n_out == before) {
            int64_t next;
            if ((rc = sl_store_act_next_visible(e->st, queue, &next, err)) != SL_OK)
                return rc;
            /* visible now but over the limit: the slot time above says when */
            if (next > now && next < c->next_ms)
                c->next_ms = next;
        }
    }
    return SL_OK;
}

sl_code sl_engine_lease_tasks(sl_engine *e, const char *const *queues, size_t n_queues,
                              const char *owner, int max, sl_activity_task **out, size_t *n_out,
                              int64_t *next_ms, sl_err *err)
{
    *n_out = 0;
    *next_ms = INT64_MAX;
    if (!e->threaded)
        return sl_err_set(err, SL_EINVAL, "leasing tasks needs a threaded engine");
    if (n_queues == 0)
        return sl_err_set(err, SL_EINVAL, "no task queue to poll");
    for (size_t i = 0; i < n_queues; i++)
        if (sl_engine_name_check("task queue name", queues[i], err) != SL_OK)
            return SL_EINVAL;
    if (sl_engine_name_check("worker identity", owner, err) != SL_OK)
        return SL_EINVAL;
    if (max < 1)
        max = 1;
    struct lease_call c = {.queues = queues, .n_queues = n_queues, .owner = owner, .max = max,
                           .out = out};
    sl_code rc = sl__engine_call(e, lease_fn, &c, SL__CALL_NO_SAVEPOINT, err);
    if (rc != SL_OK) {
        lease_drop(&c);
        return rc;
    }
    *n_out = c.n_out;
    *next_ms = c.next_ms;
    return SL_OK;
}

/* ---- a task from its lease -------------------------------------------------------------- */

sl_code sl_engine_task_find(sl_engine *e, int64_t task_id, int attempt, const char *owner,
                            sl_activity_task **out, sl_err *err)
{
    *out = NULL;
    sl_store *rd;
    sl_code rc = sl__reader_get(e, &rd, err);
    if (rc != SL_OK)
        return rc;
    sl_act_task_row row;
    bool found;
    rc = sl_store_act_get(rd, task_id, &row, &found, err);
    if (rc == SL_OK && (!found || row.attempt != attempt || !row.lease_owner ||
                        !owner || strcmp(row.lease_owner, owner) != 0))
        rc = sl_err_set(err, SL_ENOTFOUND, "the activity task's lease is gone");
    sl_run_row run;
    memset(&run, 0, sizeof(run));
    if (rc == SL_OK && (rc = sl_store_run_get(rd, row.run_pk, &run, err)) == SL_ENOTFOUND)
        sl_err_set(err, SL_ENOTFOUND, "the activity task's lease is gone");
    sl__reader_done(e);
    if (rc == SL_OK) {
        sl_activity_task *t = sl__activity_task_new(&row, run.run_id, run.workflow_id);
        t->state = TASK_DISPATCHED;
        t->remote = true;
        *out = t;
    }
    sl_run_row_cleanup(&run);
    sl_act_task_row_cleanup(&row);
    return rc;
}
