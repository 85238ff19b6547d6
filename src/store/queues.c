/* queues.c - queue limits (rate, burst, concurrency) and queue statistics. */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

void sl_queue_limit_row_cleanup(sl_queue_limit_row *r)
{
    if (!r)
        return;
    free(r->queue);
    free(r->window);
    memset(r, 0, sizeof(*r));
}

sl_code sl_store_queue_limit_get(sl_store *st, const char *queue, sl_queue_limit_row *out,
                                 sl_err *err)
{
    SL__STMT_OR_RETURN(st, s, STMT_QLIMIT_GET, err);
    sl__bind_text(s, 1, queue);
    int src = sl__store_step(st, s);
    if (src == SQLITE_ROW) {
        memset(out, 0, sizeof(*out));
        out->queue = sl__col_dup(s, 0);
        out->rate_n = sqlite3_column_int64(s, 1);
        out->rate_period_ms = sqlite3_column_int64(s, 2);
        out->burst = sqlite3_column_int64(s, 3);
        out->concurrency = sqlite3_column_int64(s, 4);
        out->window = sl__col_dup(s, 5);
        out->tokens = sqlite3_column_double(s, 6);
        out->refill_ms = sqlite3_column_int64(s, 7);
        out->updated_ms = sqlite3_column_int64(s, 8);
    }
    sl__store_stmt_done(s);
    if (src == SQLITE_DONE)
        return sl_err_set(err, SL_ENOTFOUND, "queue '%s' has no limits", queue);
    if (src != SQLITE_ROW)
        return sl__store_fail(st, src, "get queue limit", err);
    return SL_OK;
}

sl_code sl_store_queue_limit_put(sl_store *st, const sl_queue_limit_row *r, sl_err *err)
{
    SL__STMT_OR_RETURN(st, s, STMT_QLIMIT_PUT, err);
    sl__bind_text(s, 1, r->queue);
    sqlite3_bind_int64(s, 2, r->rate_n);
    sqlite3_bind_int64(s, 3, r->rate_period_ms);
    sqlite3_bind_int64(s, 4, r->burst);
    sqlite3_bind_int64(s, 5, r->concurrency);
    sl__bind_text(s, 6, r->window ? r->window : "[]");
    sqlite3_bind_double(s, 7, r->tokens);
    sqlite3_bind_int64(s, 8, r->refill_ms);
    sqlite3_bind_int64(s, 9, r->updated_ms);
    int src = sl__store_step(st, s);
    sl__store_stmt_done(s);
    return src == SQLITE_DONE ? SL_OK : sl__store_fail(st, src, "set queue limit", err);
}

sl_code sl_store_queue_limit_delete(sl_store *st, const char *queue, bool *found, sl_err *err)
{
    SL__STMT_OR_RETURN(st, s, STMT_QLIMIT_DELETE, err);
    sl__bind_text(s, 1, queue);
    int src = sl__store_step(st, s);
    *found = sqlite3_changes(st->db) == 1;
    sl__store_stmt_done(s);
    return src == SQLITE_DONE ? SL_OK : sl__store_fail(st, src, "delete queue limit", err);
}

sl_code sl_store_queue_limits_names(sl_store *st, sl_name_fn fn, void *arg, sl_err *err)
{
    SL__STMT_OR_RETURN(st, s, STMT_QLIMIT_NAMES, err);
    int src;
    while ((src = sl__store_step(st, s)) == SQLITE_ROW)
        fn((const char *)sqlite3_column_text(s, 0), arg);
    sl__store_stmt_done(s);
    return src == SQLITE_DONE ? SL_OK : sl__store_fail(st, src, "list queue limits", err);
}

sl_code sl_store_queue_inflight(sl_store *st, const char *queue, int64_t *out, sl_err *err)
{
    SL__STMT_OR_RETURN(st, s, STMT_QUEUE_INFLIGHT, err);
    sl__bind_text(s, 1, queue);
    int src = sl__store_step(st, s);
    *out = src == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sl__store_stmt_done(s);
    return src == SQLITE_ROW ? SL_OK : sl__store_fail(st, src, "count in-flight tasks", err);
}

sl_code sl_store_queue_stats(sl_store *st, int64_t now_ms, sl_queue_stats_fn fn, void *arg,
                             sl_err *err)
{
    sqlite3_stmt *s;
    sl_code rc = sl__store_prepare(
        st,
        "SELECT q, sum(depth), sum(backoff), sum(inflight), min(oldest) FROM ("
        " SELECT queue q, count(*) FILTER (WHERE lease_owner IS NULL AND visible_at<=?1) depth,"
        "  count(*) FILTER (WHERE lease_owner IS NULL AND visible_at>?1) backoff,"
        "  count(*) FILTER (WHERE lease_owner IS NOT NULL) inflight,"
        "  min(CASE WHEN lease_owner IS NULL AND visible_at<=?1 THEN visible_at END) oldest"
        "  FROM activity_tasks GROUP BY queue"
        " UNION ALL SELECT queue, count(*) FILTER (WHERE visible_at<=?1), 0, 0,"
        "  min(CASE WHEN visible_at<=?1 THEN visible_at END) FROM wf_tasks GROUP BY queue"
        " UNION ALL SELECT queue, 0, 0, 0, NULL FROM queue_limits) GROUP BY q ORDER BY q",
        &s, err);
    if (rc != SL_OK)
        return rc;
    sqlite3_bind_int64(s, 1, now_ms);
    int src;
    while ((src = sl__store_step(st, s)) == SQLITE_ROW) {
        sl_queue_stats q = {.queue = (const char *)sqlite3_column_text(s, 0),
                            .depth = sqlite3_column_int64(s, 1),
                            .backoff = sqlite3_column_int64(s, 2),
                            .in_flight = sqlite3_column_int64(s, 3),
                            .oldest_ms = sqlite3_column_int64(s, 4)};
        fn(&q, arg);
    }
    sqlite3_finalize(s);
    return src == SQLITE_DONE ? SL_OK : sl__store_fail(st, src, "queue statistics", err);
}
