/*
 * cache.c - the replay cache (e->cache): decoded runs by run_pk, least recently used first
 * out, so a workflow task replays from memory and applies only the events it has not seen.
 *
 * Invariants: (1) a run is cached at most once; (2) a pinned run (an op is building a change
 * on it) is never evicted or removed; (3) correctness never depends on the cache: a miss
 * loads the run from the store, and a run another process changed is caught by the version
 * check on every append (or by sl__cache_get_fresh) and reloaded.
 * Threads: the engine thread only (or a direct engine's caller under writer.direct_mu).
 */
#include <stdlib.h>

#include "engine_int.h"

static unsigned bucket_of(int64_t run_pk)
{
    return (unsigned)((uint64_t)run_pk * 0x9E3779B97F4A7C15ULL >> 51) % SL_CACHE_BUCKETS;
}

static void lru_unlink(sl__cache *c, run_state *rs)
{
    if (rs->lru_prev)
        rs->lru_prev->lru_next = rs->lru_next;
    else
        c->lru_head = rs->lru_next;
    if (rs->lru_next)
        rs->lru_next->lru_prev = rs->lru_prev;
    else
        c->lru_tail = rs->lru_prev;
    rs->lru_prev = rs->lru_next = NULL;
}

static void lru_push_front(sl__cache *c, run_state *rs)
{
    rs->lru_prev = NULL;
    rs->lru_next = c->lru_head;
    if (c->lru_head)
        c->lru_head->lru_prev = rs;
    c->lru_head = rs;
    if (!c->lru_tail)
        c->lru_tail = rs;
}

static void touch(sl__cache *c, run_state *rs)
{
    lru_unlink(c, rs);
    lru_push_front(c, rs);
}

static run_state *cache_find(const sl__cache *c, int64_t run_pk)
{
    for (run_state *rs = c->buckets[bucket_of(run_pk)]; rs; rs = rs->hnext)
        if (rs->run_pk == run_pk)
            return rs;
    return NULL;
}

static void cache_remove(sl__cache *c, run_state *rs)
{
    SL_ASSERT(rs->pins == 0);
    run_state **pp = &c->buckets[bucket_of(rs->run_pk)];
    while (*pp && *pp != rs)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = rs->hnext;
    lru_unlink(c, rs);
    c->len--;
    sl__rs_free(rs);
}

void sl__cache_pin(run_state *rs)
{
    rs->pins++;
}

void sl__cache_unpin(run_state *rs)
{
    SL_ASSERT(rs->pins > 0);
    rs->pins--;
}

void sl__cache_evict(sl_engine *e, int64_t run_pk)
{
    run_state *rs = cache_find(&e->cache, run_pk);
    if (rs)
        cache_remove(&e->cache, rs);
}

void sl__cache_clear(sl_engine *e)
{
    while (e->cache.lru_head)
        cache_remove(&e->cache, e->cache.lru_head);
    SL_ASSERT(e->cache.len == 0);
}

void sl__cache_put(sl_engine *e, run_state *rs)
{
    sl__cache *c = &e->cache;
    SL_ASSERT(cache_find(c, rs->run_pk) == NULL);
    unsigned b = bucket_of(rs->run_pk);
    rs->hnext = c->buckets[b];
    c->buckets[b] = rs;
    lru_push_front(c, rs);
    c->len++;
    run_state *victim = c->lru_tail;
    while (c->len > c->max && victim) {
        run_state *prev = victim->lru_prev;
        if (victim != rs && victim->pins == 0)
            cache_remove(c, victim);
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
    run_state *rs = cache_find(&e->cache, run_pk);
    if (rs) {
        touch(&e->cache, rs);
        return rs;
    }
    rs = rs_load(e, run_pk, err, rc);
    if (rs)
        sl__cache_put(e, rs);
    return rs;
}

run_state *sl__cache_get_fresh(sl_engine *e, int64_t run_pk, sl_err *err, sl_code *rc)
{
    run_state *rs = cache_find(&e->cache, run_pk);
    if (rs) {
        int64_t version;
        int status;
        if ((*rc = sl_store_run_version(e->st, run_pk, &version, &status, err)) != SL_OK)
            return NULL;
        if (version == rs->next_event_id && status == rs->status) {
            touch(&e->cache, rs);
            return rs;
        }
        cache_remove(&e->cache, rs);
    }
    return sl__cache_get(e, run_pk, err, rc);
}
