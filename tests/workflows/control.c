/*
 * control.c - fixtures for workflow control: timers, signals, child workflows,
 * continue-as-new, versioning and side effects, and a replay check after a code change.
 */
#include <string.h>

#include "fixtures.h"

static sl_wf_status sleepy(sl_wf *wf, const json_t *in, json_t **out)
{
    int64_t ms = 1000;
    json_t *d = json_object_get(in, "sleep");
    if (d && sl_duration_from_json(d, &ms, NULL) != SL_OK)
        return sl_wf_fail(wf, "InvalidInput", "sleep must be a duration");
    int64_t before = sl_wf_now(wf);
    SL_SLEEP(wf, ms);
    const json_t *r;
    SL_AWAIT(wf, sl_activityf(wf, "noop", NULL, "{s:i,s:i}", "step", 1, "ms", 0), &r);
    *out = json_pack("{s:I,s:O?}", "slept_ms", (json_int_t)(sl_wf_now(wf) - before), "step", r);
    return SL_WF_DONE;
}

static sl_wf_status collector(sl_wf *wf, const json_t *in, json_t **out)
{
    json_int_t n = json_integer_value(json_object_get(in, "count"));
    const char *name = json_string_value(json_object_get(in, "signal"));
    int64_t timeout = 0;
    json_t *t = json_object_get(in, "timeout");
    if (t && sl_duration_from_json(t, &timeout, NULL) != SL_OK)
        return sl_wf_fail(wf, "InvalidInput", "timeout must be a duration");
    if (!name)
        name = "add";
    json_t *got = json_array();
    sl_wf_keep(wf, got);
    for (json_int_t i = 0; i < (n > 0 ? n : 1); i++) {
        const json_t *v;
        SL_AWAIT(wf, sl_wf_signal(wf, name, timeout), &v);
        json_array_append(got, v ? (json_t *)v : json_null());
    }
    *out = json_pack("{s:O}", "signals", got);
    return SL_WF_DONE;
}

static sl_wf_status fanout(sl_wf *wf, const json_t *in, json_t **out)
{
    json_int_t n = json_integer_value(json_object_get(in, "children"));
    const json_t *child_in = json_object_get(in, "child");
    const char *pol = json_string_value(json_object_get(in, "parent_close_policy"));
    sl_child_opts o = {.parent_close_policy = SL_PARENT_CLOSE_TERMINATE};
    if (pol && strcmp(pol, "abandon") == 0)
        o.parent_close_policy = SL_PARENT_CLOSE_ABANDON;
    else if (pol && strcmp(pol, "request_cancel") == 0)
        o.parent_close_policy = SL_PARENT_CLOSE_REQUEST_CANCEL;
    if (n < 0 || n > 1000)
        return sl_wf_fail(wf, "InvalidInput", "children must be 0..1000");
    sl_future *f[1000];
    for (json_int_t i = 0; i < n; i++)
        f[i] = sl_wf_child(wf, "noop_chain", child_in ? json_deep_copy(child_in) : NULL, &o);
    json_t *results = json_array();
    sl_wf_keep(wf, results);
    for (json_int_t i = 0; i < n; i++) {
        const json_t *r;
        SL_AWAIT(wf, f[i], &r);
        json_array_append(results, r ? (json_t *)r : json_null());
    }
    *out = json_pack("{s:O}", "children", results);
    return SL_WF_DONE;
}

static sl_wf_status looper(sl_wf *wf, const json_t *in, json_t **out)
{
    json_int_t iterations = json_integer_value(json_object_get(in, "iterations"));
    json_int_t per_run = json_integer_value(json_object_get(in, "per_run"));
    json_int_t done = json_integer_value(json_object_get(in, "done"));
    if (per_run <= 0)
        per_run = 10;
    json_int_t k = 0;
    for (; k < per_run && done + k < iterations; k++)
        SL_AWAIT(wf, sl_activityf(wf, "noop", NULL, "{s:I,s:i}", "step", done + k + 1, "ms", 0),
                 NULL);
    done += k;
    if (done < iterations)
        return sl_wf_continue_as_new(wf, json_pack("{s:I,s:I,s:I}", "iterations", iterations,
                                                   "per_run", per_run, "done", done));
    *out = json_pack("{s:I,s:I}", "done", done, "history_length", sl_wf_history_length(wf));
    return SL_WF_DONE;
}

static json_t *pick_number(void *arg)
{
    (void)arg;
    return json_integer((json_int_t)(sl_rand_u64() % 1000000));
}

static sl_wf_status versioned(sl_wf *wf, const json_t *in, json_t **out)
{
    (void)in;
    int v = sl_wf_version(wf, "extra-step", SL_WF_DEFAULT_VERSION, 1);
    const json_t *pick = sl_wf_side_effect(wf, pick_number, NULL);
    SL_AWAIT(wf, sl_activityf(wf, "noop", NULL, "{s:i,s:i}", "step", 1, "ms", 0), NULL);
    if (v >= 1)
        SL_AWAIT(wf, sl_activityf(wf, "noop", NULL, "{s:i,s:i}", "step", 2, "ms", 0), NULL);
    *out = json_pack("{s:i,s:O?}", "version", v, "pick", pick);
    return SL_WF_DONE;
}

/* The same two steps in the order given: pair, and pair after a "code change". */
static sl_wf_status pair_steps(sl_wf *wf, const char *first, const char *second, json_t **out)
{
    const json_t *a, *b;
    SL_AWAIT(wf, sl_activity(wf, first, NULL, NULL), &a);
    SL_AWAIT(wf, sl_activity(wf, second, NULL, NULL), &b);
    *out = json_pack("{s:O?,s:O?}", "first", a, "second", b);
    return SL_WF_DONE;
}

static sl_wf_status pair(sl_wf *wf, const json_t *in, json_t **out)
{
    (void)in;
    return pair_steps(wf, "step_a", "step_b", out);
}

static sl_wf_status pair_reordered(sl_wf *wf, const json_t *in, json_t **out)
{
    (void)in;
    return pair_steps(wf, "step_b", "step_a", out);
}

static json_t *step_a(sl_act *act, const json_t *in)
{
    (void)in;
    sl_fixtures_log(act, NULL);
    return json_string("a");
}

static json_t *step_b(sl_act *act, const json_t *in)
{
    (void)in;
    sl_fixtures_log(act, NULL);
    return json_string("b");
}

void sl_fixtures_register_control(sl_registry *r, bool reorder_pair)
{
    sl_registry_add_workflow(r, "sleepy", sleepy);
    sl_registry_add_workflow(r, "collector", collector);
    sl_registry_add_workflow(r, "fanout", fanout);
    sl_registry_add_workflow(r, "looper", looper);
    sl_registry_add_workflow(r, "versioned", versioned);
    sl_registry_add_workflow(r, "pair", reorder_pair ? pair_reordered : pair);
    sl_registry_add_activity(r, "step_a", step_a);
    sl_registry_add_activity(r, "step_b", step_b);
}
