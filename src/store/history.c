/* history.c - append-only events and their ordered scan. */
#include <stdint.h>

#include "store_int.h"

sl_code sl_store_event_insert(sl_store *st, int64_t run_pk, const sl_event_row *ev, sl_err *err)
{
    SL__STMT_OR_RETURN(st, s, STMT_EVENT_INSERT, err);
    sqlite3_bind_int64(s, 1, run_pk);
    sqlite3_bind_int64(s, 2, ev->event_id);
    sqlite3_bind_text(s, 3, ev->type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, ev->time_ms);
    sqlite3_bind_text(s, 5, ev->attrs, (int)ev->attrs_len, SQLITE_STATIC);
    return sl__store_exec_stmt(st, s, "append event", err);
}

sl_code sl_store_events_scan(sl_store *st, int64_t run_pk, int64_t from_id, int64_t to_id,
                             sl_event_fn fn, void *arg, sl_err *err)
{
    SL__STMT_OR_RETURN(st, s, STMT_EVENTS_SCAN, err);
    sqlite3_bind_int64(s, 1, run_pk);
    sqlite3_bind_int64(s, 2, from_id);
    sqlite3_bind_int64(s, 3, to_id > 0 ? to_id : INT64_MAX);
    int rc;
    while ((rc = sl__store_step(st, s)) == SQLITE_ROW) {
        sl_event_row ev = {
            .event_id = sqlite3_column_int64(s, 0),
            .type = (const char *)sqlite3_column_text(s, 1),
            .time_ms = sqlite3_column_int64(s, 2),
            .attrs = (const char *)sqlite3_column_text(s, 3),
        };
        ev.attrs_len = (size_t)sqlite3_column_bytes(s, 3);
        if (!fn(&ev, arg)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sl_code code = rc == SQLITE_DONE ? SL_OK : sl__store_fail(st, rc, "read history", err);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return code;
}
