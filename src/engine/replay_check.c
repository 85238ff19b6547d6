/*
 * replay_check.c - `sluice workflow replay`: re-run today's workflow code against an
 * exported history and report the first place it decides differently.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "events.h"

static const char *const close_events[] = {SL_EV_WF_COMPLETED, SL_EV_WF_FAILED,
                                           SL_EV_WF_CANCELED, SL_EV_WF_CONTINUED_AS_NEW};

static bool is_close(const char *t)
{
    for (size_t i = 0; i < sizeof(close_events) / sizeof(close_events[0]); i++)
        if (strcmp(t, close_events[i]) == 0)
            return true;
    return false;
}

static void mismatch(sl_replay_result *out, int64_t event_id, const char *recorded,
                     const char *requested)
{
    out->deterministic = false;
    out->event_id = event_id;
    snprintf(out->recorded, sizeof(out->recorded), "%s", recorded);
    snprintf(out->requested, sizeof(out->requested), "%s", requested);
    snprintf(out->message, sizeof(out->message),
             "non-deterministic: workflow '%s' at event %lld: history recorded %s but the code "
             "asked for %s",
             out->workflow_type, (long long)event_id, recorded, requested);
}

static const char *outcome_event(wft_outcome o)
{
    switch (o) {
    case WFT_COMPLETED:
        return SL_EV_WF_COMPLETED;
    case WFT_FAILED:
        return SL_EV_WF_FAILED;
    case WFT_CANCELED:
        return SL_EV_WF_CANCELED;
    case WFT_CONTINUE_AS_NEW:
        return SL_EV_WF_CONTINUED_AS_NEW;
    default:
        return "no close (the workflow is still waiting)";
    }
}

sl_code sl_replay_history(const sl_registry *reg, const json_t *history, sl_replay_result *out,
                          sl_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_array(history) || json_array_size(history) == 0)
        return sl_err_set(err, SL_EINVAL,
                          "a history must be the non-empty JSON array `sluice workflow show ID "
                          "-o json` prints");
    json_t *first = json_array_get(history, 0);
    if (!sl_str_eq(json_string_value(json_object_get(first, "type")), SL_EV_WF_STARTED))
        return sl_err_set(err, SL_EINVAL, "the history does not start with %s", SL_EV_WF_STARTED);
    json_t *a0 = json_object_get(first, "attributes");
    const char *type = json_string_value(json_object_get(a0, "workflow_type"));
    if (!type)
        return sl_err_set(err, SL_EINVAL, "the first event has no workflow_type");
    snprintf(out->workflow_type, sizeof(out->workflow_type), "%s", type);

    run_state *rs = sl_xcalloc(1, sizeof(*rs));
    snprintf(rs->run_id, sizeof(rs->run_id), "replay");
    rs->workflow_id = sl_xstrdup(json_string_value(json_object_get(a0, "workflow_id"))
                                     ? json_string_value(json_object_get(a0, "workflow_id"))
                                     : "replay");
    rs->type = sl_xstrdup(type);
    rs->queue = sl_xstrdup("replay");
    json_t *in = json_object_get(a0, "input");
    rs->input = in ? json_incref(in) : json_null();
    rs->attempt = 1;
    rs->next_event_id = 1;
    sl_code rc = SL_OK;
    const char *close_type = NULL;
    int64_t close_id = 0;
    json_t *close_attrs = NULL;
    size_t i;
    json_t *ev;
    json_array_foreach(history, i, ev)
    {
        const char *t = json_string_value(json_object_get(ev, "type"));
        json_t *id = json_object_get(ev, "event_id");
        const char *time = json_string_value(json_object_get(ev, "time"));
        json_t *attrs = json_object_get(ev, "attributes");
        int64_t ms = 0;
        if (!t || !json_is_integer(id) || !json_is_object(attrs) ||
            (time && sl_time_parse(time, &ms, NULL) != SL_OK)) {
            rc = sl_err_set(err, SL_EINVAL,
                            "event %zu is not {event_id, type, time, attributes}", i + 1);
            break;
        }
        if (is_close(t)) {
            close_type = t;
            close_id = json_integer_value(id);
            close_attrs = attrs;
        }
        char *text = sl_json_dumps(attrs);
        sl_event_row row = {.event_id = json_integer_value(id),
                            .type = t,
                            .time_ms = ms,
                            .attrs = text,
                            .attrs_len = strlen(text)};
        rc = sl__rs_apply(rs, &row, err);
        free(text);
        if (rc != SL_OK) {
            /* What the decoder calls a damaged stored history (SL_EIO) is, in a file, a
             * file that is not such a history: bad input. */
            sl_err_prefix(err, "history");
            if (err)
                err->code = SL_EINVAL, err->retryable = false;
            rc = SL_EINVAL;
            break;
        }
    }
    if (rc != SL_OK) {
        sl__rs_free(rs);
        return rc;
    }
    /* A replay sees the run as it was before it closed: re-open it. */
    rs->status = SL_RUN_RUNNING;
    sl_engine fake;
    memset(&fake, 0, sizeof(fake));
    fake.reg = reg;
    sl_wf wf;
    json_t *result = NULL;
    wft_outcome o = sl__wf_execute(&fake, rs, &wf, &result);
    out->deterministic = true;
    if (o == WFT_TASK_FAILED) {
        if (wf.cause == WFT_CAUSE_UNKNOWN_TYPE) {
            rc = sl_err_set(err, SL_EINVAL, "%s", wf.nondet);
        } else {
            mismatch(out, wf.nd_event_id, wf.nd_recorded, wf.nd_requested);
            snprintf(out->message, sizeof(out->message), "%s", wf.nondet);
        }
    } else if (close_type) {
        char got[160];
        if (wf.n_new > 0) {
            const wf_cmd *c = &wf.new_cmds[0];
            snprintf(got, sizeof(got), "a new command (%s %s)",
                     c->kind == CMD_ACTIVITY ? "activity" : c->kind == CMD_TIMER ? "timer" : "",
                     c->name ? c->name : "");
            mismatch(out, close_id, close_type, got);
        } else if (strcmp(outcome_event(o), close_type) != 0) {
            mismatch(out, close_id, close_type, outcome_event(o));
        } else if (o == WFT_COMPLETED &&
                   !json_equal(result, json_object_get(close_attrs, "result"))) {
            char *want = sl_json_dumps(json_object_get(close_attrs, "result"));
            char *gotr = sl_json_dumps(result);
            char rec[256], req[256];
            snprintf(rec, sizeof(rec), "%s with result %.180s", close_type, want);
            snprintf(req, sizeof(req), "result %.200s", gotr);
            mismatch(out, close_id, rec, req);
            free(want);
            free(gotr);
        }
    }
    if (out->deterministic)
        snprintf(out->message, sizeof(out->message),
                 "deterministic: workflow '%s' replays %zu events with the same decisions", type,
                 json_array_size(history));
    json_decref(result);
    sl__wf_cleanup(&wf);
    sl__rs_free(rs);
    return rc;
}
