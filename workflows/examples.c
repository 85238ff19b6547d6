/*
 * examples.c - small workflows used by tests, the demo and the benchmark:
 * noop_chain (sequential no-op steps) and flaky (an activity that fails K times).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sluice/workflows.h"

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
    json_t *fail_step = json_object_get(in, "fail_step");
    const char *gate = json_string_value(json_object_get(in, "fail_while_exists"));
    const json_t *last = NULL;
    for (json_int_t k = 1; k <= steps; k++) {
        if (gate && json_integer_value(fail_step) == k)
            SL_AWAIT(wf, sl_activityf(wf, "noop", has_opts ? &opts : NULL, "{s:I,s:I,s:s}", "step",
                                      k, "ms", ms, "fail_while_exists", gate),
                     &last);
        else
            SL_AWAIT(wf, sl_activityf(wf, "noop", has_opts ? &opts : NULL, "{s:I,s:I}", "step", k,
                                      "ms", ms),
                     &last);
    }
    *out = json_pack("{s:I,s:O?}", "steps", steps, "last", last);
    return SL_WF_DONE;
}

/* Tests count executions: with SLUICE_EXAMPLES_LOG set, every activity execution appends
 * "<type> <idempotency key> <attempt>" to that file (one write, O_APPEND: atomic). */
static void log_line(sl_act *act, const char *what)
{
    const char *path = getenv("SLUICE_EXAMPLES_LOG");
    if (!path || !*path)
        return;
    char line[256];
    int n = snprintf(line, sizeof(line), "%s %s %d%s%s\n", sl_act_type(act),
                     sl_act_idempotency_key(act), sl_act_attempt(act), what ? " " : "",
                     what ? what : "");
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    if (write(fd, line, (size_t)n) != n)
        sl_warn("examples: cannot log execution to %s", path);
    close(fd);
}

void sl_examples_log(sl_act *act, const char *what)
{
    log_line(act, what);
}

static json_t *noop(sl_act *act, const json_t *in)
{
    log_line(act, NULL);
    json_int_t step = json_integer_value(json_object_get(in, "step"));
    json_int_t ms = json_integer_value(json_object_get(in, "ms"));
    if (ms > 0 && !sl_act_sleep_ms(act, ms)) {
        log_line(act, sl_act_is_canceled(act) ? "canceled" : "interrupted");
        return sl_act_fail(act, sl_act_is_canceled(act) ? "CanceledError" : "Interrupted",
                           "noop step %lld stopped", (long long)step);
    }
    /* "fail_while_exists": this step fails (not retryable) while that file exists, so tests
     * can fix the cause between a failure and `sluice workflow retry`. */
    const char *gate = json_string_value(json_object_get(in, "fail_while_exists"));
    if (gate && access(gate, F_OK) == 0)
        return sl_act_fail_nonretryable(act, "StepFailed", "step %lld failed: %s exists",
                                        (long long)step, gate);
    char v[32];
    snprintf(v, sizeof(v), "r-%lld", (long long)step);
    return json_pack("{s:I,s:s}", "step", step, "v", v);
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
    /* "fail_runs": the workflow itself fails in its first K runs (workflow retry policies). */
    json_t *fr = json_object_get(in, "fail_runs");
    if (json_is_integer(fr) && sl_wf_attempt(wf) <= json_integer_value(fr))
        return sl_wf_fail(wf, "RunFailed", "planned failure of run attempt %d", sl_wf_attempt(wf));
    const json_t *res;
    SL_AWAIT(wf,
             sl_activityf(wf, "flaky_step", has_opts ? &opts : NULL, "{s:I,s:s,s:b}", "fail_times",
                          k ? json_integer_value(k) : 0, "error_type",
                          json_string_value(json_object_get(in, "error_type"))
                              ? json_string_value(json_object_get(in, "error_type"))
                              : "FlakyError",
                          "non_retryable", json_is_true(json_object_get(in, "non_retryable"))),
             &res);
    *out = json_pack("{s:O?}", "step", res);
    return SL_WF_DONE;
}

static json_t *flaky_step(sl_act *act, const json_t *in)
{
    log_line(act, NULL);
    json_int_t fail_times = json_integer_value(json_object_get(in, "fail_times"));
    const char *type = json_string_value(json_object_get(in, "error_type"));
    bool nr = json_is_true(json_object_get(in, "non_retryable"));
    int attempt = sl_act_attempt(act);
    if (attempt <= fail_times) {
        if (nr)
            return sl_act_fail_nonretryable(act, type, "planned failure %d of %lld", attempt,
                                            (long long)fail_times);
        return sl_act_fail(act, type, "planned failure %d of %lld", attempt,
                           (long long)fail_times);
    }
    return json_pack("{s:i}", "attempt", attempt);
}

void sl_workflows_register_examples(sl_registry *r)
{
    sl_registry_add_workflow(r, "noop_chain", noop_chain);
    sl_registry_add_activity(r, "noop", noop);
    sl_registry_add_workflow(r, "flaky", flaky);
    sl_registry_add_activity(r, "flaky_step", flaky_step);
}
