/* test_replay.c - workflow replay: commands against history, the visibility rule that keeps
 * replays deterministic, and non-determinism errors that name both sides. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine_int.h"
#include "events.h"

static sl_wf_status two_steps(sl_wf *wf, const json_t *in, json_t **out)
{
    (void)in;
    const json_t *a, *b;
    SL_AWAIT(wf, sl_activity(wf, "A", NULL, NULL), &a);
    SL_AWAIT(wf, sl_activityf(wf, "B", NULL, "{s:O}", "a", a), &b);
    *out = json_pack("{s:O}", "b", b);
    return SL_WF_DONE;
}

static sl_wf_status swapped(sl_wf *wf, const json_t *in, json_t **out)
{
    (void)in;
    const json_t *a;
    SL_AWAIT(wf, sl_activity(wf, "B", NULL, NULL), &a);
    *out = NULL;
    return SL_WF_DONE;
}

static sl_wf_status done_at_once(sl_wf *wf, const json_t *in, json_t **out)
{
    (void)wf;
    (void)in;
    *out = json_string("ok");
    return SL_WF_DONE;
}

/* Branches on whether A is ready when it decides: Y if not, X if so. */
static sl_wf_status peek(sl_wf *wf, const json_t *in, json_t **out)
{
    (void)in;
    sl_future *fa = sl_activity(wf, "A", NULL, NULL);
    const json_t *r;
    int64_t t1 = sl_wf_now(wf);
    if (sl_future_is_ready(wf, fa))
        SL_AWAIT(wf, sl_activity(wf, "X", NULL, NULL), &r);
    else
        SL_AWAIT(wf, sl_activity(wf, "Y", NULL, NULL), &r);
    *out = json_pack("{s:I,s:I}", "t1", (json_int_t)t1, "t2", (json_int_t)sl_wf_now(wf));
    return SL_WF_DONE;
}

static sl_registry *reg;
static sl_engine eng;

static int setup(void **state)
{
    (void)state;
    reg = sl_registry_new();
    sl_registry_add_workflow(reg, "two_steps", two_steps);
    sl_registry_add_workflow(reg, "swapped", swapped);
    sl_registry_add_workflow(reg, "done_at_once", done_at_once);
    sl_registry_add_workflow(reg, "peek", peek);
    memset(&eng, 0, sizeof(eng));
    eng.reg = reg;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sl_registry_free(reg);
    return 0;
}

static run_state *new_rs(const char *type)
{
    run_state *rs = calloc(1, sizeof(*rs));
    snprintf(rs->run_id, sizeof(rs->run_id), "run-1");
    rs->workflow_id = strdup("wf-1");
    rs->type = strdup(type);
    rs->queue = strdup("q");
    rs->input = json_null();
    rs->next_event_id = 1;
    rs->attempt = 1;
    return rs;
}

static void add(run_state *rs, const char *type, int64_t time_ms, const char *attrs)
{
    sl_event_row ev = {.event_id = rs->next_event_id,
                       .type = type,
                       .time_ms = time_ms,
                       .attrs = attrs,
                       .attrs_len = strlen(attrs)};
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl__rs_apply(rs, &ev, &err), SL_OK);
}

static void new_run_schedules_its_first_activity(void **state)
{
    (void)state;
    run_state *rs = new_rs("two_steps");
    add(rs, SL_EV_WF_STARTED, 1000, "{}");
    sl_wf wf;
    json_t *res;
    assert_int_equal(sl__wf_execute(&eng, rs, &wf, &res), WFT_BLOCKED);
    assert_int_equal(wf.n_new, 1);
    assert_string_equal(wf.new_cmds[0].name, "A");
    assert_int_equal(wf.new_cmds[0].seq, 0);
    sl__wf_cleanup(&wf);
    sl__rs_free(rs);
}

static void recorded_outcomes_are_replayed_not_reissued(void **state)
{
    (void)state;
    run_state *rs = new_rs("two_steps");
    add(rs, SL_EV_WF_STARTED, 1000, "{}");
    add(rs, SL_EV_ACTIVITY_SCHEDULED, 1001, "{\"seq\":0,\"activity_type\":\"A\"}");
    add(rs, SL_EV_ACTIVITY_COMPLETED, 1002, "{\"seq\":0,\"result\":7}");
    sl_wf wf;
    json_t *res;
    assert_int_equal(sl__wf_execute(&eng, rs, &wf, &res), WFT_BLOCKED);
    assert_int_equal(wf.n_new, 1);
    assert_string_equal(wf.new_cmds[0].name, "B");
    /* the input was built from A's recorded result */
    assert_int_equal(json_integer_value(json_object_get(wf.new_cmds[0].input, "a")), 7);
    sl__wf_cleanup(&wf);
    add(rs, SL_EV_ACTIVITY_SCHEDULED, 1003, "{\"seq\":1,\"activity_type\":\"B\"}");
    add(rs, SL_EV_ACTIVITY_COMPLETED, 1004, "{\"seq\":1,\"result\":\"b\"}");
    assert_int_equal(sl__wf_execute(&eng, rs, &wf, &res), WFT_COMPLETED);
    assert_int_equal(wf.n_new, 0);
    assert_string_equal(json_string_value(json_object_get(res, "b")), "b");
    json_decref(res);
    sl__wf_cleanup(&wf);
    sl__rs_free(rs);
}

static void outcomes_are_visible_only_after_the_commands_recorded_before_them(void **state)
{
    (void)state;
    /* The first task saw A pending and chose Y; A's completion was recorded after Y. */
    run_state *rs = new_rs("peek");
    add(rs, SL_EV_WF_STARTED, 1000, "{}");
    add(rs, SL_EV_ACTIVITY_SCHEDULED, 1000, "{\"seq\":0,\"activity_type\":\"A\"}");
    add(rs, SL_EV_ACTIVITY_SCHEDULED, 1000, "{\"seq\":1,\"activity_type\":\"Y\"}");
    add(rs, SL_EV_ACTIVITY_COMPLETED, 2000, "{\"seq\":0,\"result\":1}");
    add(rs, SL_EV_ACTIVITY_COMPLETED, 3000, "{\"seq\":1,\"result\":2}");
    sl_wf wf;
    json_t *res;
    /* Replaying over the full history must still take the Y branch. */
    assert_int_equal(sl__wf_execute(&eng, rs, &wf, &res), WFT_COMPLETED);
    assert_int_equal(wf.n_new, 0);
    assert_string_equal(wf.nondet, "");
    json_decref(res);
    sl__wf_cleanup(&wf);
    sl__rs_free(rs);
}

static void workflow_time_comes_from_history(void **state)
{
    (void)state;
    run_state *rs = new_rs("peek");
    add(rs, SL_EV_WF_STARTED, 1000, "{}");
    add(rs, SL_EV_ACTIVITY_SCHEDULED, 1000, "{\"seq\":0,\"activity_type\":\"A\"}");
    add(rs, SL_EV_ACTIVITY_COMPLETED, 2000, "{\"seq\":0,\"result\":1}");
    add(rs, SL_EV_ACTIVITY_SCHEDULED, 2000, "{\"seq\":1,\"activity_type\":\"X\"}");
    add(rs, SL_EV_ACTIVITY_COMPLETED, 9000, "{\"seq\":1,\"result\":1}");
    sl_wf wf;
    json_t *res;
    assert_int_equal(sl__wf_execute(&eng, rs, &wf, &res), WFT_COMPLETED);
    /* before the second command: the last event before it (A completed at 2000) */
    assert_int_equal(json_integer_value(json_object_get(res, "t1")), 2000);
    /* after both commands: the last event of the history */
    assert_int_equal(json_integer_value(json_object_get(res, "t2")), 9000);
    json_decref(res);
    sl__wf_cleanup(&wf);
    sl__rs_free(rs);
}

static void a_different_command_is_a_nondeterminism_error_naming_both(void **state)
{
    (void)state;
    run_state *rs = new_rs("swapped");
    add(rs, SL_EV_WF_STARTED, 1000, "{}");
    add(rs, SL_EV_ACTIVITY_SCHEDULED, 1001, "{\"seq\":0,\"activity_type\":\"A\"}");
    sl_wf wf;
    json_t *res;
    assert_int_equal(sl__wf_execute(&eng, rs, &wf, &res), WFT_TASK_FAILED);
    assert_non_null(strstr(wf.nondet, "at event 2"));
    assert_non_null(strstr(wf.nondet, "history has ActivityTaskScheduled(A)"));
    assert_non_null(strstr(wf.nondet, "asked for ActivityTaskScheduled(B)"));
    assert_non_null(strstr(wf.nondet, "'swapped'"));
    assert_int_equal(wf.cause, WFT_CAUSE_NON_DETERMINISTIC);
    sl__wf_cleanup(&wf);
    sl__rs_free(rs);
}

static void finishing_without_a_recorded_command_is_nondeterministic(void **state)
{
    (void)state;
    run_state *rs = new_rs("done_at_once");
    add(rs, SL_EV_WF_STARTED, 1000, "{}");
    add(rs, SL_EV_ACTIVITY_SCHEDULED, 1001, "{\"seq\":0,\"activity_type\":\"A\"}");
    sl_wf wf;
    json_t *res;
    assert_int_equal(sl__wf_execute(&eng, rs, &wf, &res), WFT_TASK_FAILED);
    assert_non_null(strstr(wf.nondet, "completed without asking for it"));
    assert_string_equal(sl__wft_cause_name(wf.cause), "non_deterministic");
    sl__wf_cleanup(&wf);
    sl__rs_free(rs);
}

static void unknown_types_fail_the_task_not_the_run(void **state)
{
    (void)state;
    run_state *rs = new_rs("gone");
    add(rs, SL_EV_WF_STARTED, 1000, "{}");
    sl_wf wf;
    json_t *res;
    assert_int_equal(sl__wf_execute(&eng, rs, &wf, &res), WFT_TASK_FAILED);
    assert_non_null(strstr(wf.nondet, "unknown workflow type 'gone'"));
    assert_int_equal(wf.cause, WFT_CAUSE_UNKNOWN_TYPE);
    assert_string_equal(sl__wft_cause_name(wf.cause), "unknown_workflow_type");
    sl__wf_cleanup(&wf);
    sl__rs_free(rs);
}

static void histories_with_gaps_are_rejected(void **state)
{
    (void)state;
    run_state *rs = new_rs("two_steps");
    add(rs, SL_EV_WF_STARTED, 1000, "{}");
    sl_event_row ev = {.event_id = 5, .type = "X", .time_ms = 1, .attrs = "{}", .attrs_len = 2};
    assert_int_equal(sl__rs_apply(rs, &ev, NULL), SL_EIO);
    sl__rs_free(rs);
}

static sl_code replay_text(const char *text, sl_replay_result *res, sl_err *err)
{
    json_error_t je;
    json_t *h = json_loads(text, 0, &je);
    assert_non_null(h);
    sl_err_clear(err);
    sl_code rc = sl_replay_history(reg, h, res, err);
    json_decref(h);
    return rc;
}

/* Found by fuzzing `workflow replay --history` (tests/fuzz/corpus/history/): a history file
 * whose events skip or repeat an id was refused as SL_EIO, the code for a damaged database,
 * not as the bad input it is; and a completion recorded without a result aborted the
 * process (sl_json_dumps(NULL)) instead of reporting the difference. */
static void exported_histories_that_do_not_decode_are_bad_input(void **state)
{
    (void)state;
    sl_replay_result res;
    sl_err err;
    assert_int_equal(replay_text("[{\"event_id\":0,\"type\":\"" SL_EV_WF_STARTED "\","
                                 "\"attributes\":{\"workflow_type\":\"done_at_once\"}}]",
                                 &res, &err),
                     SL_EINVAL);
    assert_int_equal(err.code, SL_EINVAL);
    assert_non_null(strstr(err.msg, "history: "));
    assert_non_null(strstr(err.msg, "event 0 where 1 was expected"));
    assert_int_equal(replay_text("[{\"event_id\":1,\"type\":\"" SL_EV_WF_STARTED "\","
                                 "\"attributes\":{\"workflow_type\":\"done_at_once\"}},"
                                 "{\"event_id\":3,\"type\":\"X\",\"attributes\":{}}]",
                                 &res, &err),
                     SL_EINVAL);
    assert_non_null(strstr(err.msg, "event 3 where 2 was expected"));
}

static void a_completion_without_result_is_a_difference_not_a_crash(void **state)
{
    (void)state;
    sl_replay_result res;
    sl_err err;
    assert_int_equal(replay_text("[{\"event_id\":1,\"type\":\"" SL_EV_WF_STARTED "\","
                                 "\"attributes\":{\"workflow_type\":\"done_at_once\"}},"
                                 "{\"event_id\":2,\"type\":\"" SL_EV_WF_COMPLETED "\","
                                 "\"attributes\":{}}]",
                                 &res, &err),
                     SL_OK);
    assert_false(res.deterministic);
    assert_int_equal(res.event_id, 2);
    assert_string_equal(res.recorded, SL_EV_WF_COMPLETED " with result null");
    assert_string_equal(res.requested, "result \"ok\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(new_run_schedules_its_first_activity),
        cmocka_unit_test(recorded_outcomes_are_replayed_not_reissued),
        cmocka_unit_test(outcomes_are_visible_only_after_the_commands_recorded_before_them),
        cmocka_unit_test(workflow_time_comes_from_history),
        cmocka_unit_test(a_different_command_is_a_nondeterminism_error_naming_both),
        cmocka_unit_test(finishing_without_a_recorded_command_is_nondeterministic),
        cmocka_unit_test(unknown_types_fail_the_task_not_the_run),
        cmocka_unit_test(histories_with_gaps_are_rejected),
        cmocka_unit_test(exported_histories_that_do_not_decode_are_bad_input),
        cmocka_unit_test(a_completion_without_result_is_a_difference_not_a_crash),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
