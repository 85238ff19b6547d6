/* tasks.c - workflow tasks, activity tasks (leases, retries, expiry) and timers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define STMT_OR_FAIL(var, id) SL__STMT_OR_RETURN(st, var, id, err)

/* ---- workflow tasks ------------------------------------------------------------ */

sl_code sl_store_wft_ensure(sl_store *st, int64_t run_pk, const char *queue, int64_t visible_at,
                            sl_err *err)
{
    STMT_OR_FAIL(s, STMT_WFT_ENSURE);
    sqlite3_bind_int64(s, 1, run_pk);
    sl__bind_text(s, 2, queue);
    sqlite3_bind_int64(s, 3, visible_at);
    return sl__store_exec_stmt(st, s, "schedule workflow task", err);
}

sl_code sl_store_wft_delete(sl_store *st, int64_t run_pk, sl_err *err)
{
    STMT_OR_FAIL(s, STMT_WFT_DELETE);
    sqlite3_bind_int64(s, 1, run_pk);
    return sl__store_exec_stmt(st, s, "delete workflow task", err);
}

sl_code sl_store_wft_postpone(sl_store *st, int64_t run_pk, int64_t now_ms, int64_t max_backoff_ms,
                              int *failures, sl_err *err)
{
    STMT_OR_FAIL(s, STMT_WFT_POSTPONE);
    sqlite3_bind_int64(s, 1, run_pk);
    sqlite3_bind_int64(s, 2, now_ms);
    sqlite3_bind_int64(s, 3, max_backoff_ms);
    int rc = sl__store_step(st, s);
    *failures = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    if (rc == SQLITE_ROW)
        rc = sl__store_step(st, s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE)
        return sl__store_fail(st, rc, "postpone workflow task", err);
    return SL_OK;
}

sl_code sl_store_wft_due(sl_store *st, const char *queue, int64_t now_ms, int limit, sl_pk_fn fn,
                         void *arg, sl_err *err)
{
    STMT_OR_FAIL(s, queue ? STMT_WFT_DUE : STMT_WFT_DUE_ANY);
    if (queue)
        sl__bind_text(s, 1, queue);
    sqlite3_bind_int64(s, 2, now_ms);
    sqlite3_bind_int(s, 3, limit);
    /* Collect first: the callback may write to wf_tasks. */
    int64_t pks[256];
    int n = 0, rc = SQLITE_DONE;
    while (n < (int)(sizeof(pks) / sizeof(pks[0])) && (rc = sl__store_step(st, s)) == SQLITE_ROW)
        pks[n++] = sqlite3_column_int64(s, 0);
    if (n < (int)(sizeof(pks) / sizeof(pks[0])) && rc != SQLITE_DONE) {
        sqlite3_reset(s);
        return sl__store_fail(st, rc, "poll workflow tasks", err);
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    for (int i = 0; i < n; i++)
        fn(pks[i], arg);
    return SL_OK;
}

static sl_code min_visible(sl_store *st, enum stmt_id id, const char *queue, int64_t *out,
                           sl_err *err)
{
    STMT_OR_FAIL(s, id);
    if (queue)
        sl__bind_text(s, 1, queue);
    int rc = sl__store_step(st, s);
    *out = INT64_MAX;
    if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        *out = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sl__store_fail(st, rc, "next visible task", err);
    return SL_OK;
}

sl_code sl_store_wft_next_visible(sl_store *st, const char *queue, int64_t *out, sl_err *err)
{
    return min_visible(st, queue ? STMT_WFT_NEXT : STMT_WFT_NEXT_ANY, queue, out, err);
}

sl_code sl_store_act_next_visible(sl_store *st, const char *queue, int64_t *out, sl_err *err)
{
    return min_visible(st, STMT_ACT_NEXT, queue, out, err);
}

sl_code sl_store_queue_pending(sl_store *st, const char *queue, int64_t *out, sl_err *err)
{
    STMT_OR_FAIL(s, STMT_QUEUE_PENDING);
    sl__bind_text(s, 1, queue);
    int rc = sl__store_step(st, s);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_ROW)
        return sl__store_fail(st, rc, "count pending tasks", err);
    return SL_OK;
}

sl_code sl_store_queue_runnable(sl_store *st, const char *queue, int64_t now_ms, int64_t *out,
                                sl_err *err)
{
    STMT_OR_FAIL(s, STMT_QUEUE_RUNNABLE);
    sl__bind_text(s, 1, queue);
    sqlite3_bind_int64(s, 2, now_ms);
    int rc = sl__store_step(st, s);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_ROW)
        return sl__store_fail(st, rc, "count runnable tasks", err);
    return SL_OK;
}

/* ---- activity tasks ------------------------------------------------------------ */

void sl_act_task_row_cleanup(sl_act_task_row *t)
{
    if (!t)
        return;
    free(t->queue);
    free(t->activity_type);
    free(t->input);
    free(t->opts);
    free(t->lease_owner);
    free(t->heartbeat_details);
    free(t->last_failure);
    memset(t, 0, sizeof(*t));
}

static void read_act(sqlite3_stmt *s, sl_act_task_row *t)
{
    memset(t, 0, sizeof(*t));
    t->task_id = sqlite3_column_int64(s, 0);
    t->run_pk = sqlite3_column_int64(s, 1);
    t->seq = sqlite3_column_int(s, 2);
    t->sched_event_id = sqlite3_column_int64(s, 3);
    t->queue = sl__col_dup(s, 4);
    t->activity_type = sl__col_dup(s, 5);
    t->input = sl__col_dup(s, 6);
    t->opts = sl__col_dup(s, 7);
    t->start_to_close_ms = sqlite3_column_int64(s, 8);
    t->heartbeat_ms = sqlite3_column_int64(s, 9);
    t->attempt = sqlite3_column_int(s, 10);
    t->scheduled_ms = sqlite3_column_int64(s, 11);
    t->visible_at = sqlite3_column_int64(s, 12);
    t->lease_owner = sl__col_dup(s, 13);
    t->lease_expiry = sqlite3_column_int64(s, 14);
    t->started_ms = sqlite3_column_int64(s, 15);
    t->deadline = sqlite3_column_int64(s, 16);
    t->close_deadline = sqlite3_column_int64(s, 17);
    t->heartbeat_details = sl__col_dup(s, 18);
    t->last_failure = sl__col_dup(s, 19);
    t->cancel_requested = sqlite3_column_int(s, 20) != 0;
}

sl_code sl_store_act_insert(sl_store *st, sl_act_task_row *t, sl_err *err)
{
    STMT_OR_FAIL(s, STMT_ACT_INSERT);
    sqlite3_bind_int64(s, 1, t->run_pk);
    sqlite3_bind_int(s, 2, t->seq);
    sqlite3_bind_int64(s, 3, t->sched_event_id);
    sl__bind_text(s, 4, t->queue);
    sl__bind_text(s, 5, t->activity_type);
    sl__bind_text(s, 6, t->input);
    sl__bind_text(s, 7, t->opts);
    sqlite3_bind_int(s, 8, t->attempt > 0 ? t->attempt : 1);
    sqlite3_bind_int64(s, 9, t->scheduled_ms);
    sqlite3_bind_int64(s, 10, t->visible_at);
    sl__bind_text(s, 11, t->lease_owner);
    sl__bind_opt_i64(s, 12, t->lease_owner ? t->lease_expiry : 0);
    sl__bind_opt_i64(s, 13, t->lease_owner ? t->started_ms : 0);
    sl__bind_opt_i64(s, 14, t->deadline);
    sl__bind_opt_i64(s, 15, t->close_deadline);
    sl__bind_text(s, 16, t->heartbeat_details);
    sl__bind_text(s, 17, t->last_failure);
    sqlite3_bind_int(s, 18, t->cancel_requested);
    sqlite3_bind_int64(s, 19, t->start_to_close_ms);
    sqlite3_bind_int64(s, 20, t->heartbeat_ms);
    sl_code rc = sl__store_exec_stmt(st, s, "insert activity task", err);
    if (rc == SL_OK)
        t->task_id = sqlite3_last_insert_rowid(st->db);
    return rc;
}

/* Step a row-returning statement, collecting rows first (callbacks may write). */
static sl_code each_act(sl_store *st, sqlite3_stmt *s, sl_act_fn fn, void *arg, const char *what,
                        sl_err *err)
{
    size_t n = 0, cap = 0;
    sl_act_task_row *rows = NULL;
    int rc;
    while ((rc = sl__store_step(st, s)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            rows = sl_xrealloc(rows, cap * sizeof(*rows));
        }
        read_act(s, &rows[n++]);
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    sl_code code = rc == SQLITE_DONE ? SL_OK : sl__store_fail(st, rc, what, err);
    for (size_t i = 0; i < n; i++) {
        if (code == SL_OK)
            fn(&rows[i], arg);
        sl_act_task_row_cleanup(&rows[i]);
    }
    free(rows);
    return code;
}

sl_code sl_store_act_lease(sl_store *st, const char *queue, int64_t now_ms, const char *owner,
                           int limit, sl_act_fn fn, void *arg, sl_err *err)
{
    STMT_OR_FAIL(s, STMT_ACT_LEASE);
    sl__bind_text(s, 1, owner);
    sqlite3_bind_int64(s, 3, now_ms);
    sl__bind_text(s, 4, queue);
    sqlite3_bind_int(s, 5, limit);
    return each_act(st, s, fn, arg, "lease activity tasks", err);
}

sl_code sl_store_act_take(sl_store *st, int64_t task_id, const char *owner, int attempt,
                          bool *found, sl_err *err)
{
    STMT_OR_FAIL(s, owner ? STMT_ACT_TAKE : STMT_ACT_TAKE_ANY);
    sqlite3_bind_int64(s, 1, task_id);
    if (owner)
        sl__bind_text(s, 2, owner);
    sqlite3_bind_int(s, 3, attempt);
    sl_code rc = sl__store_exec_stmt(st, s, "complete activity task", err);
    *found = rc == SL_OK && sqlite3_changes(st->db) == 1;
    return rc;
}

sl_code sl_store_act_retry(sl_store *st, int64_t task_id, const char *owner, int attempt,
                           int64_t visible_at, int64_t deadline, const char *last_failure,
                           bool *found, sl_err *err)
{
    STMT_OR_FAIL(s, owner ? STMT_ACT_RETRY : STMT_ACT_RETRY_ANY);
    sqlite3_bind_int64(s, 1, task_id);
    if (owner)
        sl__bind_text(s, 2, owner);
    sqlite3_bind_int(s, 3, attempt);
    sqlite3_bind_int64(s, 4, visible_at);
    sl__bind_opt_i64(s, 5, deadline);
    sl__bind_text(s, 6, last_failure);
    sl_code rc = sl__store_exec_stmt(st, s, "retry activity task", err);
    *found = rc == SL_OK && sqlite3_changes(st->db) == 1;
    return rc;
}

sl_code sl_store_act_heartbeat(sl_store *st, int64_t task_id, const char *owner, int attempt,
                               const char *details, int64_t lease_expiry_ms, bool *found,
                               bool *cancel_requested, sl_err *err)
{
    STMT_OR_FAIL(s, STMT_ACT_HEARTBEAT);
    sqlite3_bind_int64(s, 1, task_id);
    sl__bind_text(s, 2, owner);
    sqlite3_bind_int(s, 3, attempt);
    sqlite3_bind_int64(s, 4, lease_expiry_ms);
    sl__bind_text(s, 5, details);
    int rc = sl__store_step(st, s);
    *found = rc == SQLITE_ROW;
    *cancel_requested = rc == SQLITE_ROW && sqlite3_column_int(s, 0) != 0;
    if (rc == SQLITE_ROW)
        rc = sl__store_step(st, s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE)
        return sl__store_fail(st, rc, "heartbeat", err);
    return SL_OK;
}

sl_code sl_store_act_release(sl_store *st, int64_t task_id, const char *owner, int attempt,
                             int64_t visible_at, sl_err *err)
{
    STMT_OR_FAIL(s, STMT_ACT_RELEASE);
    sqlite3_bind_int64(s, 1, task_id);
    sl__bind_text(s, 2, owner);
    sqlite3_bind_int(s, 3, attempt);
    sqlite3_bind_int64(s, 4, visible_at);
    return sl__store_exec_stmt(st, s, "release activity task", err);
}

sl_code sl_store_act_expired(sl_store *st, int64_t now_ms, int limit, sl_act_fn fn, void *arg,
                             sl_err *err)
{
    STMT_OR_FAIL(s, STMT_ACT_EXPIRED);
    sqlite3_bind_int64(s, 1, now_ms);
    sqlite3_bind_int(s, 2, limit);
    return each_act(st, s, fn, arg, "find expired activity tasks", err);
}

sl_code sl_store_act_of_run(sl_store *st, int64_t run_pk, sl_act_fn fn, void *arg, sl_err *err)
{
    STMT_OR_FAIL(s, STMT_ACT_OF_RUN);
    sqlite3_bind_int64(s, 1, run_pk);
    return each_act(st, s, fn, arg, "list activity tasks", err);
}

sl_code sl_store_act_get(sl_store *st, int64_t task_id, sl_act_task_row *out, bool *found,
                         sl_err *err)
{
    memset(out, 0, sizeof(*out));
    *found = false;
    STMT_OR_FAIL(s, STMT_ACT_GET);
    sqlite3_bind_int64(s, 1, task_id);
    int rc = sl__store_step(st, s);
    if (rc == SQLITE_ROW) {
        read_act(s, out);
        *found = true;
        rc = SQLITE_DONE;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE)
        return sl__store_fail(st, rc, "read activity task", err);
    return SL_OK;
}

sl_code sl_store_act_request_cancel(sl_store *st, int64_t run_pk, sl_err *err)
{
    STMT_OR_FAIL(s, STMT_ACT_CANCEL);
    sqlite3_bind_int64(s, 1, run_pk);
    return sl__store_exec_stmt(st, s, "request activity cancel", err);
}

sl_code sl_store_run_tasks_delete(sl_store *st, int64_t run_pk, sl_err *err)
{
    sl_code rc;
    {
        STMT_OR_FAIL(s, STMT_ACT_DELETE_RUN);
        sqlite3_bind_int64(s, 1, run_pk);
        if ((rc = sl__store_exec_stmt(st, s, "delete activity tasks", err)) != SL_OK)
            return rc;
    }
    {
        STMT_OR_FAIL(s, STMT_TIMER_DELETE_RUN);
        sqlite3_bind_int64(s, 1, run_pk);
        if ((rc = sl__store_exec_stmt(st, s, "delete timers", err)) != SL_OK)
            return rc;
    }
    return sl_store_wft_delete(st, run_pk, err);
}

/* ---- timers -------------------------------------------------------------------- */

sl_code sl_store_timer_insert(sl_store *st, int64_t run_pk, int32_t seq, int64_t fire_at,
                              const char *queue, sl_err *err)
{
    STMT_OR_FAIL(s, STMT_TIMER_INSERT);
    sqlite3_bind_int64(s, 1, run_pk);
    sqlite3_bind_int(s, 2, seq);
    sqlite3_bind_int64(s, 3, fire_at);
    sl__bind_text(s, 4, queue);
    return sl__store_exec_stmt(st, s, "insert timer", err);
}

sl_code sl_store_timer_delete(sl_store *st, int64_t run_pk, int32_t seq, bool *found, sl_err *err)
{
    STMT_OR_FAIL(s, STMT_TIMER_DELETE);
    sqlite3_bind_int64(s, 1, run_pk);
    sqlite3_bind_int(s, 2, seq);
    sl_code rc = sl__store_exec_stmt(st, s, "delete timer", err);
    *found = rc == SL_OK && sqlite3_changes(st->db) == 1;
    return rc;
}

sl_code sl_store_timer_next(sl_store *st, int64_t *out, sl_err *err)
{
    STMT_OR_FAIL(s, STMT_TIMER_NEXT);
    int rc = sl__store_step(st, s);
    *out = INT64_MAX;
    if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        *out = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sl__store_fail(st, rc, "next timer", err);
    return SL_OK;
}

sl_code sl_store_timers_due(sl_store *st, int64_t now_ms, int limit, sl_timer_fn fn, void *arg,
                            sl_err *err)
{
    STMT_OR_FAIL(s, STMT_TIMERS_DUE);
    sqlite3_bind_int64(s, 1, now_ms);
    sqlite3_bind_int(s, 2, limit);
    struct {
        int64_t run_pk, fire_at;
        int32_t seq;
    } due[256];
    int n = 0, rc = SQLITE_DONE;
    while (n < 256 && (rc = sl__store_step(st, s)) == SQLITE_ROW) {
        due[n].run_pk = sqlite3_column_int64(s, 0);
        due[n].seq = sqlite3_column_int(s, 1);
        due[n].fire_at = sqlite3_column_int64(s, 2);
        n++;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return sl__store_fail(st, rc, "find due timers", err);
    for (int i = 0; i < n; i++)
        fn(due[i].run_pk, due[i].seq, due[i].fire_at, arg);
    return SL_OK;
}
