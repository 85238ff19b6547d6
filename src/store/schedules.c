/* schedules.c - schedule rows: create, read, update, due scan. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define SCHED_COLS                                                                                 \
    "schedule_id, spec, workflow_type, input, task_queue, overlap, catchup_ms, jitter_ms, "        \
    "timezone, paused, note, next_fire_ms, buffered_ms, created_ms, updated_ms, actions"

void sl_schedule_row_cleanup(sl_schedule_row *r)
{
    if (!r)
        return;
    free(r->schedule_id);
    free(r->spec);
    free(r->workflow_type);
    free(r->input);
    free(r->task_queue);
    free(r->overlap);
    free(r->timezone);
    free(r->note);
    free(r->actions);
    memset(r, 0, sizeof(*r));
}

static void read_sched(sqlite3_stmt *s, sl_schedule_row *r)
{
    memset(r, 0, sizeof(*r));
    r->schedule_id = sl__col_dup(s, 0);
    r->spec = sl__col_dup(s, 1);
    r->workflow_type = sl__col_dup(s, 2);
    r->input = sl__col_dup(s, 3);
    r->task_queue = sl__col_dup(s, 4);
    r->overlap = sl__col_dup(s, 5);
    r->catchup_ms = sqlite3_column_int64(s, 6);
    r->jitter_ms = sqlite3_column_int64(s, 7);
    r->timezone = sl__col_dup(s, 8);
    r->paused = sqlite3_column_int(s, 9) != 0;
    r->note = sl__col_dup(s, 10);
    r->next_fire_ms = sqlite3_column_int64(s, 11);
    r->buffered_ms = sqlite3_column_int64(s, 12);
    r->created_ms = sqlite3_column_int64(s, 13);
    r->updated_ms = sqlite3_column_int64(s, 14);
    r->actions = sl__col_dup(s, 15);
}


sl_code sl_store_schedule_insert(sl_store *st, const sl_schedule_row *r, sl_err *err)
{
    sqlite3_stmt *s;
    sl_code rc = sl__store_prepare(st, "INSERT INTO schedules (" SCHED_COLS ") VALUES "
                      "(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)",
                      &s, err);
    if (rc != SL_OK)
        return rc;
    sl__bind_text(s, 1, r->schedule_id);
    sl__bind_text(s, 2, r->spec);
    sl__bind_text(s, 3, r->workflow_type);
    sl__bind_text(s, 4, r->input);
    sl__bind_text(s, 5, r->task_queue);
    sl__bind_text(s, 6, r->overlap);
    sqlite3_bind_int64(s, 7, r->catchup_ms);
    sqlite3_bind_int64(s, 8, r->jitter_ms);
    sl__bind_text(s, 9, r->timezone ? r->timezone : "UTC");
    sqlite3_bind_int(s, 10, r->paused);
    sl__bind_text(s, 11, r->note);
    sl__bind_opt_i64(s, 12, r->next_fire_ms);
    sl__bind_opt_i64(s, 13, r->buffered_ms);
    sqlite3_bind_int64(s, 14, r->created_ms);
    sqlite3_bind_int64(s, 15, r->updated_ms);
    sl__bind_text(s, 16, r->actions ? r->actions : "[]");
    int src = sl__store_step(st, s);
    sqlite3_finalize(s);
    if ((src & 0xff) == SQLITE_CONSTRAINT)
        return sl_err_set(err, SL_ECONFLICT, "schedule '%s' already exists", r->schedule_id);
    if (src != SQLITE_DONE)
        return sl__store_fail(st, src, "insert schedule", err);
    return SL_OK;
}

sl_code sl_store_schedule_get(sl_store *st, const char *id, sl_schedule_row *out, sl_err *err)
{
    sqlite3_stmt *s;
    sl_code rc = sl__store_prepare(st, "SELECT " SCHED_COLS " FROM schedules WHERE schedule_id=?1", &s, err);
    if (rc != SL_OK)
        return rc;
    sl__bind_text(s, 1, id);
    int src = sl__store_step(st, s);
    if (src == SQLITE_ROW)
        read_sched(s, out);
    sqlite3_finalize(s);
    if (src == SQLITE_DONE)
        return sl_err_set(err, SL_ENOTFOUND, "no schedule '%s'", id);
    if (src != SQLITE_ROW)
        return sl__store_fail(st, src, "get schedule", err);
    return SL_OK;
}

sl_code sl_store_schedule_update(sl_store *st, const sl_schedule_row *r, sl_err *err)
{
    sqlite3_stmt *s;
    sl_code rc = sl__store_prepare(st, "UPDATE schedules SET paused=?2, note=?3, next_fire_ms=?4, buffered_ms=?5, "
                      "actions=?6, updated_ms=?7 WHERE schedule_id=?1",
                      &s, err);
    if (rc != SL_OK)
        return rc;
    sl__bind_text(s, 1, r->schedule_id);
    sqlite3_bind_int(s, 2, r->paused);
    sl__bind_text(s, 3, r->note);
    sl__bind_opt_i64(s, 4, r->next_fire_ms);
    sl__bind_opt_i64(s, 5, r->buffered_ms);
    sl__bind_text(s, 6, r->actions ? r->actions : "[]");
    sqlite3_bind_int64(s, 7, r->updated_ms);
    int src = sl__store_step(st, s);
    sqlite3_finalize(s);
    if (src != SQLITE_DONE)
        return sl__store_fail(st, src, "update schedule", err);
    return SL_OK;
}

sl_code sl_store_schedule_delete(sl_store *st, const char *id, bool *found, sl_err *err)
{
    sqlite3_stmt *s;
    sl_code rc = sl__store_prepare(st, "DELETE FROM schedules WHERE schedule_id=?1", &s, err);
    if (rc != SL_OK)
        return rc;
    sl__bind_text(s, 1, id);
    int src = sl__store_step(st, s);
    *found = sqlite3_changes(st->db) == 1;
    sqlite3_finalize(s);
    if (src != SQLITE_DONE)
        return sl__store_fail(st, src, "delete schedule", err);
    return SL_OK;
}

static sl_code each_sched(sl_store *st, sqlite3_stmt *s, sl_schedule_fn fn, void *arg, sl_err *err)
{
    size_t n = 0, cap = 0;
    sl_schedule_row *rows = NULL;
    int src;
    while ((src = sl__store_step(st, s)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            rows = sl_xrealloc(rows, cap * sizeof(*rows));
        }
        read_sched(s, &rows[n++]);
    }
    sqlite3_finalize(s);
    sl_code rc = src == SQLITE_DONE ? SL_OK : sl__store_fail(st, src, "list schedules", err);
    for (size_t i = 0; i < n; i++) {
        if (rc == SL_OK)
            fn(&rows[i], arg);
        sl_schedule_row_cleanup(&rows[i]);
    }
    free(rows);
    return rc;
}

sl_code sl_store_schedule_list(sl_store *st, sl_schedule_fn fn, void *arg, sl_err *err)
{
    sqlite3_stmt *s;
    sl_code rc =
        sl__store_prepare(st, "SELECT " SCHED_COLS " FROM schedules ORDER BY schedule_id", &s, err);
    return rc != SL_OK ? rc : each_sched(st, s, fn, arg, err);
}

sl_code sl_store_schedules_due(sl_store *st, int64_t now_ms, sl_schedule_fn fn, void *arg,
                               sl_err *err)
{
    sqlite3_stmt *s;
    sl_code rc = sl__store_prepare(st, "SELECT " SCHED_COLS " FROM schedules WHERE paused=0 AND "
                      "(next_fire_ms<=?1 OR buffered_ms IS NOT NULL) ORDER BY next_fire_ms",
                      &s, err);
    if (rc != SL_OK)
        return rc;
    sqlite3_bind_int64(s, 1, now_ms);
    return each_sched(st, s, fn, arg, err);
}

sl_code sl_store_schedule_next(sl_store *st, int64_t *out, sl_err *err)
{
    sqlite3_stmt *s;
    sl_code rc = sl__store_prepare(st, "SELECT min(CASE WHEN buffered_ms IS NOT NULL THEN 0 ELSE next_fire_ms END) "
                      "FROM schedules WHERE paused=0",
                      &s, err);
    if (rc != SL_OK)
        return rc;
    int src = sl__store_step(st, s);
    *out = INT64_MAX;
    if (src == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        *out = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        return sl__store_fail(st, src, "next schedule", err);
    return SL_OK;
}
