/*
 * retries.c - fixtures for retries: flaky (an activity that fails K times, a workflow that
 * fails R runs) and gated_chain (a step that fails until the test removes a file).
 */
#include "fixtures.h"

/* Read the optional "activity_options" of a workflow input into o. */
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

static sl_wf_status flaky(sl_wf *wf, const json_t *in, json_t **out)
{
    sl_activity_opts opts;
    bool has_opts;
    if (read_opts(wf, in, &opts, &has_opts) != SL_WF_DONE)
        return SL_WF_FAILED;
    json_t *k = json_object_get(in, "fail_times");
    if (k && !json_is_integer(k))
        return sl_wf_fail(wf, "InvalidInput", "fail_times must be an integer");
    json_t *fr = json_object_get(in, "fail_runs");
    if (json_is_integer(fr) && sl_wf_attempt(wf) <= json_integer_value(fr))
        return sl_wf_fail(wf, "RunFailed", "planned failure of run attempt %d", sl_wf_attempt(wf));
    const char *type = json_string_value(json_object_get(in, "error_type"));
    const json_t *res;
    SL_AWAIT(wf,
             sl_activityf(wf, "flaky_step", has_opts ? &opts : NULL, "{s:I,s:s,s:b}", "fail_times",
                          k ? json_integer_value(k) : 0, "error_type", type ? type : "FlakyError",
                          "non_retryable", json_is_true(json_object_get(in, "non_retryable"))),
             &res);
    *out = json_pack("{s:O?}", "step", res);
    return SL_WF_DONE;
}

static json_t *flaky_step(sl_act *act, const json_t *in)
{
    sl_fixtures_log(act, NULL);
    json_int_t fail_times = json_integer_value(json_object_get(in, "fail_times"));
    const char *type = json_string_value(json_object_get(in, "error_type"));
    bool nr = json_is_true(json_object_get(in, "non_retryable"));
    int attempt = sl_act_attempt(act);
    if (attempt <= fail_times) {
        if (nr)
            return sl_act_fail_nonretryable(act, type, "planned failure %d of %lld", attempt,
                                            (long long)fail_times);
        return sl_act_fail(act, type, "planned failure %d of %lld", attempt, (long long)fail_times);
    }
    return json_pack("{s:i}", "attempt", attempt);
}

/* Step fail_step passes the gate to its noop, which fails while the file exists
 * (registry.c). */
static sl_wf_status gated_chain(sl_wf *wf, const json_t *in, json_t **out)
{
    json_t *steps_j = json_object_get(in, "steps");
    if (steps_j && !json_is_integer(steps_j))
        return sl_wf_fail(wf, "InvalidInput", "steps must be an integer");
    json_int_t steps = steps_j ? json_integer_value(steps_j) : 3;
    json_int_t fail_step = json_integer_value(json_object_get(in, "fail_step"));
    const char *gate = json_string_value(json_object_get(in, "fail_while_exists"));
    const json_t *last = NULL;
    for (json_int_t k = 1; k <= steps; k++) {
        if (gate && k == fail_step)
            SL_AWAIT(
                wf,
                sl_activityf(wf, "noop", NULL, "{s:I,s:s}", "step", k, "fail_while_exists", gate),
                &last);
        else
            SL_AWAIT(wf, sl_activityf(wf, "noop", NULL, "{s:I}", "step", k), &last);
    }
    *out = json_pack("{s:I,s:O?}", "steps", steps, "last", last);
    return SL_WF_DONE;
}

void sl_fixtures_register_retries(sl_registry *r)
{
    sl_registry_add_workflow(r, "flaky", flaky);
    sl_registry_add_activity(r, "flaky_step", flaky_step);
    sl_registry_add_workflow(r, "gated_chain", gated_chain);
}
