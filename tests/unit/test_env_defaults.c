/*
 * test_env_defaults.c - environment defaults resolved in the library rather than in the
 * CLI: the engine's SLUICE_* options (sl_engine_opts_from_env), the load generator's
 * GENIE_* waits and sampling (sl_lt_opts_from_env) and the Genie batch's MAX_QUEUE_SIZE
 * and line handling (sl_genie_max_queue_size, sl_genie_batch_new). Valid values land in
 * the options, unset ones keep the defaults, and each malformed value is SL_EINVAL with one
 * line naming the variable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/engine.h"
#include "sluice/loadtest.h"
#include "sluice/workflows.h"

static void expect_one_line_naming(const sl_err *err, const char *var)
{
    assert_int_equal(err->code, SL_EINVAL);
    assert_non_null(strstr(err->msg, var));
    assert_null(strchr(err->msg, '\n'));
}

static void engine_opts_from_env_valid_and_invalid(void **state)
{
    (void)state;
    sl_engine_opts o;
    sl_err err;
    sl_err_clear(&err);
    sl_engine_opts_init(&o);
    unsetenv("SLUICE_MAINTENANCE_INTERVAL");
    unsetenv("SLUICE_HISTORY_LIMIT_EVENTS");
    assert_int_equal(sl_engine_opts_from_env(&o, &err), SL_OK);
    assert_int_equal(o.maintenance_ms, 1000);
    assert_int_equal(o.history_limit_events, 50000);

    setenv("SLUICE_MAINTENANCE_INTERVAL", "250ms", 1);
    setenv("SLUICE_HISTORY_LIMIT_EVENTS", "20", 1);
    setenv("SLUICE_HISTORY_WARN_BYTES", "0", 1);
    assert_int_equal(sl_engine_opts_from_env(&o, &err), SL_OK);
    assert_int_equal(o.maintenance_ms, 250);
    assert_int_equal(o.history_limit_events, 20);
    assert_int_equal(o.history_warn_bytes, 0);
    unsetenv("SLUICE_HISTORY_WARN_BYTES");

    static const char *const bad_interval[] = {"soon", "0s", "-5s", "5 parsecs"};
    for (size_t i = 0; i < sizeof(bad_interval) / sizeof(bad_interval[0]); i++) {
        setenv("SLUICE_MAINTENANCE_INTERVAL", bad_interval[i], 1);
        sl_err_clear(&err);
        assert_int_equal(sl_engine_opts_from_env(&o, &err), SL_EINVAL);
        expect_one_line_naming(&err, "SLUICE_MAINTENANCE_INTERVAL");
    }
    unsetenv("SLUICE_MAINTENANCE_INTERVAL");
    static const char *const bad_count[] = {"-1", "lots", "20x", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad_count) / sizeof(bad_count[0]); i++) {
        setenv("SLUICE_HISTORY_LIMIT_EVENTS", bad_count[i], 1);
        sl_err_clear(&err);
        assert_int_equal(sl_engine_opts_from_env(&o, &err), SL_EINVAL);
        expect_one_line_naming(&err, "SLUICE_HISTORY_LIMIT_EVENTS must be a non-negative integer");
    }
    unsetenv("SLUICE_HISTORY_LIMIT_EVENTS");
}

static void loadtest_opts_from_env_valid_and_invalid(void **state)
{
    (void)state;
    const char *vars[] = {"GENIE_MIN_WAIT", "GENIE_MAX_WAIT", "GENIE_SAMPLE_SIZE",
                          "GENIE_SAMPLE_SEED"};
    for (size_t i = 0; i < 4; i++)
        unsetenv(vars[i]);
    sl_lt_opts o;
    sl_lt_opts_init(&o);
    sl_lt_sample sample = {0};
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_lt_opts_from_env(&o, &sample, &err), SL_OK);
    assert_true(o.min_wait_s == 8 && o.max_wait_s == 30);
    assert_int_equal(sample.size, 0);
    assert_false(sample.has_seed);

    setenv("GENIE_MIN_WAIT", "0.5", 1);
    setenv("GENIE_MAX_WAIT", "2", 1);
    setenv("GENIE_SAMPLE_SIZE", "12", 1);
    setenv("GENIE_SAMPLE_SEED", "0", 1);
    assert_int_equal(sl_lt_opts_from_env(&o, &sample, &err), SL_OK);
    assert_true(o.min_wait_s == 0.5 && o.max_wait_s == 2);
    assert_int_equal(sample.size, 12);
    assert_true(sample.has_seed);
    assert_int_equal(sample.seed, 0);

    static const char *const bad[][2] = {
        {"GENIE_MIN_WAIT", "-1"},     {"GENIE_MIN_WAIT", "8s"},      {"GENIE_MAX_WAIT", "nan"},
        {"GENIE_MAX_WAIT", "1e9"},    {"GENIE_SAMPLE_SIZE", "0"},    {"GENIE_SAMPLE_SIZE", "ten"},
        {"GENIE_SAMPLE_SEED", "-3"},  {"GENIE_SAMPLE_SEED", "7 "},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        for (size_t k = 0; k < 4; k++)
            unsetenv(vars[k]);
        setenv(bad[i][0], bad[i][1], 1);
        sl_err_clear(&err);
        assert_int_equal(sl_lt_opts_from_env(&o, &sample, &err), SL_EINVAL);
        char want[96];
        snprintf(want, sizeof(want), "bad %s '%s'", bad[i][0], bad[i][1]);
        expect_one_line_naming(&err, want);
    }
    for (size_t i = 0; i < 4; i++)
        unsetenv(vars[i]);
}

static void max_queue_size_valid_and_invalid(void **state)
{
    (void)state;
    int64_t n = 0;
    sl_err err;
    sl_err_clear(&err);
    unsetenv("MAX_QUEUE_SIZE");
    assert_int_equal(sl_genie_max_queue_size(&n, &err), SL_OK);
    assert_int_equal(n, SL_GENIE_MAX_QUEUE_SIZE_DEFAULT);
    setenv("MAX_QUEUE_SIZE", "4", 1);
    assert_int_equal(sl_genie_max_queue_size(&n, &err), SL_OK);
    assert_int_equal(n, 4);
    static const char *const bad[] = {"lots", "0", "-2", "4x", "100000001"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("MAX_QUEUE_SIZE", bad[i], 1);
        sl_err_clear(&err);
        assert_int_equal(sl_genie_max_queue_size(&n, &err), SL_EINVAL);
        char want[64];
        snprintf(want, sizeof(want), "bad MAX_QUEUE_SIZE '%s': expected an integer >= 1", bad[i]);
        expect_one_line_naming(&err, want);
    }
    /* the batch constructor reads it unless the caller passed a limit */
    setenv("MAX_QUEUE_SIZE", "lots", 1);
    sl_genie_batch_opts o;
    sl_genie_batch_opts_init(&o);
    o.space_id = "s1";
    sl_genie_batch *b = NULL;
    assert_int_equal(sl_genie_batch_new("q\n", 2, "f.txt", &o, &b, &err), SL_EINVAL);
    assert_null(b);
    o.max_queue = 7;
    assert_int_equal(sl_genie_batch_new("q\n", 2, "f.txt", &o, &b, &err), SL_OK);
    assert_int_equal(b->max_queue, 7);
    sl_genie_batch_free(b);
    unsetenv("MAX_QUEUE_SIZE");
}

static void batch_lines_ids_and_errors(void **state)
{
    (void)state;
    sl_genie_batch_opts o;
    sl_genie_batch_opts_init(&o);
    o.space_id = "space-1";
    o.conversation = "continue";
    o.timeout = "30s";
    sl_err err;
    sl_err_clear(&err);
    const char *text = "  first question \r\n\n[\"a\", \"b\"]\n\t\nlast";
    sl_genie_batch *b = NULL;
    assert_int_equal(sl_genie_batch_new(text, strlen(text), "q.txt", &o, &b, &err), SL_OK);
    assert_int_equal(b->n_items, 3);
    assert_int_equal(b->items[0].line_no, 1);
    assert_int_equal(b->items[1].line_no, 3);
    assert_int_equal(b->items[2].line_no, 5);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(b->items[0].input, "questions"), 0)),
        "first question");
    assert_int_equal(json_array_size(json_object_get(b->items[1].input, "questions")), 2);
    assert_string_equal(json_string_value(json_object_get(b->items[2].input, "space_id")),
                        "space-1");
    assert_string_equal(json_string_value(json_object_get(b->items[2].input, "conversation")),
                        "continue");
    assert_string_equal(json_string_value(json_object_get(b->items[2].input, "timeout")), "30s");
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(strlen(b->items[i].workflow_id), 22);
        assert_memory_equal(b->items[i].workflow_id, "genie-", 6);
    }
    /* ids are stable: the same text and space give the same ids; another space other ids */
    sl_genie_batch *again = NULL;
    assert_int_equal(sl_genie_batch_new(text, strlen(text), "q.txt", &o, &again, &err), SL_OK);
    assert_string_equal(again->items[1].workflow_id, b->items[1].workflow_id);
    sl_genie_batch_free(again);
    o.space_id = "space-2";
    assert_int_equal(sl_genie_batch_new(text, strlen(text), "q.txt", &o, &again, &err), SL_OK);
    assert_string_not_equal(again->items[1].workflow_id, b->items[1].workflow_id);
    sl_genie_batch_free(again);
    sl_genie_batch_free(b);

    sl_err_clear(&err);
    assert_int_equal(sl_genie_batch_new(" \n\n", 3, "empty.txt", &o, &b, &err), SL_EINVAL);
    assert_string_equal(err.msg, "empty.txt has no questions (no non-empty line)");
    o.conversation = "sometimes";
    assert_int_equal(sl_genie_batch_new("q", 1, "q.txt", &o, &b, &err), SL_EINVAL);
    assert_non_null(strstr(err.msg, "--conversation must be new or continue"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(engine_opts_from_env_valid_and_invalid),
        cmocka_unit_test(loadtest_opts_from_env_valid_and_invalid),
        cmocka_unit_test(max_queue_size_valid_and_invalid),
        cmocka_unit_test(batch_lines_ids_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
