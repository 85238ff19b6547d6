/*
 * change.c - a change to one run: the events it appends, the task, timer and workflow-task
 * rows they imply, and closing the run; written at once by sl__change_commit, conditional
 * on the run's version (SL_ESTALE when another process appended first).
 *
 * Invariant: events are applied to the cached run as they are added, so the cache shows the
 * change while it is built. A stale change writes nothing; one that fails part-way is undone
 * with its savepoint or transaction. Either way its caller evicts the run from the cache.
 * Threads: the engine thread (or a direct engine's caller), inside the transaction.
 */
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "ops_int.h"

#define WFT_BACKOFF_MAX_MS (10 * 60 * 1000)

void sl__change_init(change *ch, run_state *rs)
{
    memset(ch, 0, sizeof(*ch));
    ch->rs = rs;
    ch->base = rs->next_event_id;
}

void sl__change_free(change *ch)
{
    for (int i = 0; i < ch->n_evs; i++)
        free(ch->evs[i].attrs);
    free(ch->evs);
    for (int i = 0; i < ch->n_fx; i++)
        sl_act_task_row_cleanup(&ch->fxs[i].row);
    free(ch->fxs);
    free(ch->close_result);
    free(ch->close_failure);
    memset(ch, 0, sizeof(*ch));
}

/* Append an event (attrs owned) and account for it in the cached run. */
int sl__change_event(change *ch, const char *type, int64_t time_ms, char *attrs_take)
{
    if (ch->n_evs == ch->cap_evs) {
        ch->cap_evs = ch->cap_evs ? ch->cap_evs * 2 : 4;
        ch->evs = sl_xrealloc(ch->evs, (size_t)ch->cap_evs * sizeof(*ch->evs));
    }
    pend_ev *ev = &ch->evs[ch->n_evs];
    ev->type = type;
    ev->time_ms = time_ms;
    ev->attrs = attrs_take;
    ev->len = strlen(attrs_take);
    int64_t bytes = sl__event_bytes(type, ev->len);
    ch->bytes += bytes;
    sl__rs_note_event(ch->rs, sl__change_next_id(ch), time_ms, (size_t)bytes,
                      strcmp(type, SL_EV_WFT_FAILED) == 0);
    return ch->n_evs++;
}

pend_fx *sl__change_fx(change *ch, enum fx_kind kind, int ev_index)
{
    if (ch->n_fx == ch->cap_fx) {
        ch->cap_fx = ch->cap_fx ? ch->cap_fx * 2 : 4;
        ch->fxs = sl_xrealloc(ch->fxs, (size_t)ch->cap_fx * sizeof(*ch->fxs));
    }
    pend_fx *fx = &ch->fxs[ch->n_fx++];
    memset(fx, 0, sizeof(*fx));
    fx->kind = kind;
    fx->ev_index = ev_index;
    return fx;
}

char *sl__dumps_take(json_t *j)
{
    char *s = sl_json_dumps(j);
    json_decref(j);
    return s;
}

void sl__change_close(change *ch, int status, char *result_take, char *failure_take)
{
    ch->close = true;
    ch->close_status = status;
    ch->close_result = result_take;
    ch->close_failure = failure_take;
}

sl_code sl__change_commit(sl_engine *e, change *ch, sl_err *err)
{
    run_state *rs = ch->rs;
    int64_t next = ch->base + ch->n_evs;
    int64_t now = sl_now_ms();
    sl_code rc;
    if (ch->new_run) {
        ch->new_run->next_event_id = next;
        ch->new_run->history_bytes = ch->bytes;
        if ((rc = sl_store_run_insert(e->st, ch->new_run, err)) != SL_OK)
            return rc;
        rs->run_pk = ch->new_run->run_pk;
    } else if (ch->n_evs > 0) {
        bool ok;
        if ((rc = sl_store_run_advance(e->st, rs->run_pk, ch->base, next, ch->bytes, &ok, err)) !=
            SL_OK)
            return rc;
        if (!ok)
            return SL_ESTALE;
    }
    for (int i = 0; i < ch->n_evs; i++) {
        sl_event_row ev = {.event_id = ch->base + i,
                           .type = ch->evs[i].type,
                           .time_ms = ch->evs[i].time_ms,
                           .attrs = ch->evs[i].attrs,
                           .attrs_len = ch->evs[i].len};
        if ((rc = sl_store_event_insert(e->st, rs->run_pk, &ev, err)) != SL_OK)
            return rc;
    }
    if (ch->close) {
        if ((rc = sl_store_run_close(e->st, rs->run_pk, ch->close_status, ch->close_result,
                                     ch->close_failure, now, err)) != SL_OK)
            return rc;
        if (!ch->new_run && (rc = sl_store_run_tasks_delete(e->st, rs->run_pk, err)) != SL_OK)
            return rc;
        rs->status = ch->close_status;
        rs->wft_row = false;
        sl__writer_note_closed(e, rs->workflow_id, rs->run_id, ch->close_status);
        sl__defer_close_followups(e, rs, ch->close_status, ch->close_result, ch->close_failure);
        return SL_OK;
    }
    for (int i = 0; i < ch->n_fx; i++) {
        pend_fx *fx = &ch->fxs[i];
        if (fx->kind == FX_ACT) {
            sl_act_task_row *row = &fx->row;
            row->run_pk = rs->run_pk;
            row->sched_event_id = ch->base + fx->ev_index;
            bool local = sl__engine_take_local(e, row->queue);
            if (local && sl__limits_apply_to(e, row->queue)) {
                int allowed;
                int64_t next_ms;
                if ((rc = sl__limits_allow(e, row->queue, 1, now, &allowed, &next_ms, err)) !=
                    SL_OK)
                    return rc;
                local = allowed > 0;
                if (!local && next_ms > 0)
                    sl__engine_wake_at(e, next_ms);
                if (local && (rc = sl__limits_record(e, row->queue, 1, now, err)) != SL_OK)
                    return rc;
            }
            if (local) {
                /* Leased to ourselves at birth: no poll needed, and a crash still redelivers
                 * it once the lease expires. */
                int64_t lease = row->heartbeat_ms > 0 ? row->heartbeat_ms : row->start_to_close_ms;
                row->lease_owner = sl_xstrdup(e->identity);
                row->started_ms = now;
                row->lease_expiry = now + lease;
                if (row->close_deadline && row->lease_expiry > row->close_deadline)
                    row->lease_expiry = row->close_deadline;
                row->deadline = row->close_deadline;
            }
            if ((rc = sl_store_act_insert(e->st, row, err)) != SL_OK)
                return rc;
            if (local)
                sl__dispatch_add(e, row, rs->run_id, rs->workflow_id);
            else
                sl__ready_note(e, row->queue);
        } else if (fx->kind == FX_TIMER) {
            if ((rc = sl_store_timer_insert(e->st, rs->run_pk, fx->seq, fx->fire_at, rs->queue,
                                            err)) != SL_OK)
                return rc;
            if (sl__engine_serves(e, rs->queue))
                sl__engine_wake_at(e, fx->fire_at);
        } else {
            bool found;
            if ((rc = sl_store_timer_delete(e->st, rs->run_pk, fx->seq, &found, err)) != SL_OK)
                return rc;
        }
    }
    if (ch->cancel_activities &&
        (rc = sl_store_act_request_cancel(e->st, rs->run_pk, err)) != SL_OK)
        return rc;
    if (ch->delete_wft && rs->wft_row) {
        if ((rc = sl_store_wft_delete(e->st, rs->run_pk, err)) != SL_OK)
            return rc;
        rs->wft_row = false;
    }
    if (ch->ensure_wft) {
        int64_t at = ch->wft_visible_at ? ch->wft_visible_at : now;
        if ((rc = sl_store_wft_ensure(e->st, rs->run_pk, rs->queue, at, err)) != SL_OK)
            return rc;
        rs->wft_row = true;
        if (ch->postpone_wft) {
            int failures = 0;
            if ((rc = sl_store_wft_postpone(e->st, rs->run_pk, now, WFT_BACKOFF_MAX_MS, &failures,
                                            err)) != SL_OK)
                return rc;
        }
    }
    return SL_OK;
}
