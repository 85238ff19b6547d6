/*
 * limits.c - task-queue rate and concurrency limits, shared by every worker through the
 * database: a start is allowed when the queue has fewer than `concurrency` leased tasks,
 * fewer than rate_n starts in the last period (a sliding window, exact for rates up to
 * 1000 per period), and a token in its bucket (capacity `burst`). Runs inside the engine's
 * transaction, so workers in several processes see one consistent state.
 *
 * Owns e->limits, the names of the queues that have limits, refreshed at the start of every
 * transaction so that leasing (poller.c, change.c) can skip the lookup for other queues.
 * Threads: the engine thread (or a direct engine's caller), inside the transaction.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

#define WINDOW_MAX 1000

/* A start leaves the window a little after its period: the request it stands for reaches the
 * remote service some time after the lease (thread hand-off, connection, a loaded machine),
 * and the service counts arrivals. The guard, a tenth of the period within 100 ms - 2 s,
 * absorbs that delay's jitter, so the rate the service measures stays within the limit. */
static int64_t window_margin(int64_t period_ms)
{
    int64_t m = period_ms / 10;
    return m < 100 ? 100 : m > 2000 ? 2000 : m;
}

static void add_name(const char *name, void *arg)
{
    sl_engine *e = arg;
    e->limits.limited =
        sl_xrealloc(e->limits.limited, (size_t)(e->limits.n_limited + 1) * sizeof(char *));
    e->limits.limited[e->limits.n_limited++] = sl_xstrdup(name);
}

sl_code sl__limits_refresh(sl_engine *e, sl_err *err)
{
    for (int i = 0; i < e->limits.n_limited; i++)
        free(e->limits.limited[i]);
    e->limits.n_limited = 0;
    return sl_store_queue_limits_names(e->st, add_name, e, err);
}

bool sl__limits_apply_to(const sl_engine *e, const char *queue)
{
    for (int i = 0; i < e->limits.n_limited; i++)
        if (strcmp(e->limits.limited[i], queue) == 0)
            return true;
    return false;
}

/* Bring the window and bucket up to `now`; returns the window as a JSON array (owned). */
static json_t *refresh(sl_queue_limit_row *r, int64_t now)
{
    json_error_t je;
    json_t *w = r->window ? json_loads(r->window, 0, &je) : NULL;
    if (!json_is_array(w)) {
        json_decref(w);
        w = json_array();
    }
    if (r->rate_n > 0 && r->rate_period_ms > 0) {
        int64_t span = r->rate_period_ms + window_margin(r->rate_period_ms);
        while (json_array_size(w) > 0 && json_integer_value(json_array_get(w, 0)) + span <= now)
            json_array_remove(w, 0);
        double cap = (double)(r->burst > 0 ? r->burst : r->rate_n);
        if (r->refill_ms <= 0) {
            r->tokens = cap;
        } else if (now > r->refill_ms) {
            r->tokens += (double)(now - r->refill_ms) * (double)r->rate_n /
                         (double)r->rate_period_ms;
        }
        if (r->tokens > cap)
            r->tokens = cap;
        r->refill_ms = now;
    }
    return w;
}

sl_code sl__limits_allow(sl_engine *e, const char *queue, int want, int64_t now, int *allowed,
                         int64_t *next_ms, sl_err *err)
{
    *allowed = want;
    *next_ms = 0;
    if (!sl__limits_apply_to(e, queue) || want <= 0)
        return SL_OK;
    sl_queue_limit_row r;
    sl_code rc = sl_store_queue_limit_get(e->st, queue, &r, err);
    if (rc == SL_ENOTFOUND) {
        sl_err_clear(err);
        return SL_OK;
    }
    if (rc != SL_OK)
        return rc;
    int64_t n = want;
    if (r.concurrency > 0) {
        int64_t inflight;
        if ((rc = sl_store_queue_inflight(e->st, queue, &inflight, err)) != SL_OK) {
            sl_queue_limit_row_cleanup(&r);
            return rc;
        }
        if (r.concurrency - inflight < n)
            n = r.concurrency - inflight;
    }
    if (r.rate_n > 0 && r.rate_period_ms > 0) {
        json_t *w = refresh(&r, now);
        int64_t used = (int64_t)json_array_size(w);
        if (r.rate_n <= WINDOW_MAX && r.rate_n - used < n) {
            n = r.rate_n - used;
            if (used > 0)
                *next_ms = json_integer_value(json_array_get(w, 0)) + r.rate_period_ms +
                           window_margin(r.rate_period_ms);
        }
        if ((int64_t)floor(r.tokens) < n) {
            n = (int64_t)floor(r.tokens);
            int64_t t = now + (int64_t)ceil((1.0 - (r.tokens - floor(r.tokens))) *
                                            (double)r.rate_period_ms / (double)r.rate_n);
            if (!*next_ms || t > *next_ms)
                *next_ms = t;
        }
        json_decref(w);
    }
    *allowed = n < 0 ? 0 : (int)n;
    sl_queue_limit_row_cleanup(&r);
    return SL_OK;
}

sl_code sl__limits_record(sl_engine *e, const char *queue, int started, int64_t now, sl_err *err)
{
    if (started <= 0 || !sl__limits_apply_to(e, queue))
        return SL_OK;
    sl_queue_limit_row r;
    sl_code rc = sl_store_queue_limit_get(e->st, queue, &r, err);
    if (rc == SL_ENOTFOUND) {
        sl_err_clear(err);
        return SL_OK;
    }
    if (rc != SL_OK)
        return rc;
    if (r.rate_n > 0 && r.rate_period_ms > 0) {
        json_t *w = refresh(&r, now);
        for (int i = 0; i < started; i++)
            json_array_append_new(w, json_integer(now));
        while (json_array_size(w) > WINDOW_MAX)
            json_array_remove(w, 0);
        r.tokens -= started;
        if (r.tokens < 0)
            r.tokens = 0;
        free(r.window);
        r.window = sl_json_dumps(w);
        json_decref(w);
    }
    r.updated_ms = now;
    rc = sl_store_queue_limit_put(e->st, &r, err);
    sl_queue_limit_row_cleanup(&r);
    return rc;
}

void sl__limits_cleanup(sl_engine *e)
{
    for (int i = 0; i < e->limits.n_limited; i++)
        free(e->limits.limited[i]);
    free(e->limits.limited);
    e->limits.limited = NULL;
    e->limits.n_limited = 0;
}
