/*
 * bench.c - noop_chain, the workflow `sluice bench` runs (the peers' workload, and what the
 * README's performance figures measure): N sequential "noop" activities.
 */
#include <stdio.h>

#include "sluice/workflows.h"

/* Read the optional "activity_options" of the input into o (*has: they were given). */
static sl_wf_status read_opts(sl_wf *wf, const json_t *in, sl_activity_opts *o, bool *has)
{
    sl_activity_opts_init(o);
    *has = false;
    json_t *j = json_object_get(in, "activity_options");
    if (!j || json_is_null(j))
        return SL_WF_DONE;
    sl_err err;
    sl_err_clear(&err);
    if (sl_activity_opts_from_json(j, o, &err) != SL_OK)
        return sl_wf_fail(wf, "InvalidInput", "%s", err.msg);
    *has = true;
    return SL_WF_DONE;
}

static sl_wf_status noop_chain(sl_wf *wf, const json_t *in, json_t **out)
{
    json_t *steps_j = json_object_get(in, "steps");
    json_t *ms_j = json_object_get(in, "activity_ms");
    if ((steps_j && !json_is_integer(steps_j)) || (ms_j && !json_is_integer(ms_j)))
        return sl_wf_fail(wf, "InvalidInput", "steps and activity_ms must be integers");
    json_int_t steps = steps_j ? json_integer_value(steps_j) : 3;
    json_int_t ms = ms_j ? json_integer_value(ms_j) : 0;
    if (steps < 0 || steps > 1000000 || ms < 0)
        return sl_wf_fail(wf, "InvalidInput", "steps must be 0..1000000 and activity_ms >= 0");
    sl_activity_opts opts;
    bool has_opts;
    if (read_opts(wf, in, &opts, &has_opts) != SL_WF_DONE)
        return SL_WF_FAILED;
    const json_t *last = NULL;
    for (json_int_t k = 1; k <= steps; k++)
        SL_AWAIT(
            wf, sl_activityf(wf, "noop", has_opts ? &opts : NULL, "{s:I,s:I}", "step", k, "ms", ms),
            &last);
    *out = json_pack("{s:I,s:O?}", "steps", steps, "last", last);
    return SL_WF_DONE;
}

static json_t *noop(sl_act *act, const json_t *in)
{
    json_int_t step = json_integer_value(json_object_get(in, "step"));
    json_int_t ms = json_integer_value(json_object_get(in, "ms"));
    if (ms > 0 && !sl_act_sleep_ms(act, ms))
        return sl_act_fail(act, sl_act_is_canceled(act) ? "CanceledError" : "Interrupted",
                           "noop step %lld stopped", (long long)step);
    char v[32];
    snprintf(v, sizeof(v), "r-%lld", (long long)step);
    return json_pack("{s:I,s:s}", "step", step, "v", v);
}

void sl_workflows_register_bench(sl_registry *r)
{
    sl_registry_add_workflow(r, "noop_chain", noop_chain);
    sl_registry_add_activity(r, "noop", noop);
}
