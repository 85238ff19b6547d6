/* queues.c - setting queue limits and reporting queue depth, in-flight work and waits. */
#include <stdio.h>
#include <string.h>

#include "engine_int.h"

struct limit_call {
    const char *queue;
    const sl_queue_limit *lim;
    json_t *out;
};

static sl_code limit_fn(sl_engine *e, void *arg, sl_err *err)
{
    struct limit_call *c = arg;
    if (!c->lim) {
        bool found;
        sl_code rc = sl_store_queue_limit_delete(e->st, c->queue, &found, err);
        if (rc == SL_OK && !found)
            rc = sl_err_set(err, SL_ENOTFOUND, "queue '%s' has no limits", c->queue);
        return rc;
    }
    sl_queue_limit_row r;
    memset(&r, 0, sizeof(r));
    r.queue = (char *)c->queue;
    r.rate_n = c->lim->rate_n;
    r.rate_period_ms = c->lim->rate_period_ms;
    r.burst = c->lim->burst;
    r.concurrency = c->lim->concurrency;
    r.window = "[]";
    r.updated_ms = sl_now_ms();
    return sl_store_queue_limit_put(e->st, &r, err);
}

sl_code sl_engine_queue_limit(sl_engine *e, const char *queue, const sl_queue_limit *lim,
                              sl_err *err)
{
    if (sl_engine_name_check("task queue name", queue, err) != SL_OK)
        return SL_EINVAL;
    if (lim) {
        if (lim->rate_n < 0 || lim->burst < 0 || lim->concurrency < 0 ||
            (lim->rate_n > 0 && lim->rate_period_ms <= 0))
            return sl_err_set(err, SL_EINVAL, "limits must be positive");
        if (!lim->rate_n && !lim->concurrency)
            return sl_err_set(err, SL_EINVAL, "give a rate, a concurrency limit, or both");
        if (lim->burst && !lim->rate_n)
            return sl_err_set(err, SL_EINVAL, "a burst needs a rate");
    }
    struct limit_call c = {.queue = queue, .lim = lim};
    return sl__engine_call(e, limit_fn, &c, 0, err);
}

struct list_ctx {
    sl_engine *e;
    json_t *arr;
    int64_t now;
};

static void stats_cb(const sl_queue_stats *q, void *arg)
{
    struct list_ctx *c = arg;
    json_t *j = sl_json_check(json_pack("{s:s,s:I,s:I,s:I}", "queue", q->queue, "depth",
                                        (json_int_t)q->depth, "backoff", (json_int_t)q->backoff,
                                        "in_flight", (json_int_t)q->in_flight));
    json_object_set_new(j, "oldest_wait_ms",
                        q->oldest_ms ? json_integer(c->now - q->oldest_ms) : json_null());
    sl_queue_limit_row r;
    if (sl_store_queue_limit_get(c->e->st, q->queue, &r, NULL) == SL_OK) {
        char per[32], rate[64];
        sl_duration_format(r.rate_period_ms, per, sizeof(per));
        snprintf(rate, sizeof(rate), "%lld/%s", (long long)r.rate_n, per);
        json_object_set_new(
            j, "limits",
            sl_json_check(json_pack("{s:s?,s:I,s:I,s:I,s:I}", "rate", r.rate_n ? rate : NULL,
                                    "rate_n", (json_int_t)r.rate_n, "period_ms",
                                    (json_int_t)r.rate_period_ms, "burst",
                                    (json_int_t)(r.burst ? r.burst : r.rate_n), "concurrency",
                                    (json_int_t)r.concurrency)));
        sl_queue_limit_row_cleanup(&r);
    } else {
        json_object_set_new(j, "limits", json_null());
    }
    json_array_append_new(c->arr, j);
}

static sl_code list_fn(sl_engine *e, void *arg, sl_err *err)
{
    struct limit_call *c = arg;
    struct list_ctx l = {.e = e, .arr = sl_json_check(json_array()), .now = sl_now_ms()};
    sl_code rc = sl_store_queue_stats(e->st, l.now, stats_cb, &l, err);
    c->out = l.arr;
    return rc;
}

sl_code sl_engine_queue_list(sl_engine *e, json_t **out, sl_err *err)
{
    struct limit_call c = {0};
    sl_code rc = sl__engine_call(e, list_fn, &c, 0, err);
    if (rc != SL_OK) {
        json_decref(c.out);
        c.out = NULL;
    }
    *out = c.out;
    return rc;
}
