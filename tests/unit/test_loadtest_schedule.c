/* test_loadtest_schedule.c - the scenario table (the notebook's seven), the open-loop
 * schedule of each scenario (question i due at exactly i * duration / N, immediate ones
 * all at 0, time scale keeps the shape), the sample questions' iteration suffix, question
 * normalisation, questions files, context strings and --from/--to parsing. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sluice/loadtest.h"

static void scenario_table_is_the_notebooks(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int64_t q, d_ms;
        int w;
    } want[] = {{"single_test", 1, 0, 1},           {"light_load", 10, 60000, 3},
                {"moderate_load", 20, 30000, 5},    {"high_load", 35, 30000, 10},
                {"stress_test", 50, 20000, 15},     {"burst_test", 50, 0, 20},
                {"sustained_load", 100, 120000, 10}};
    size_t n;
    const sl_lt_scenario *sc = sl_lt_scenario_list(&n);
    assert_int_equal(n, 7);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(sc[i].name, want[i].name);
        assert_int_equal(sc[i].questions, want[i].q);
        assert_int_equal(sc[i].duration_ms, want[i].d_ms);
        assert_int_equal(sc[i].workers, want[i].w);
        assert_ptr_equal(sl_lt_scenario_find(want[i].name), &sc[i]);
    }
    assert_null(sl_lt_scenario_find("nope"));
    assert_null(sl_lt_scenario_find(NULL));
}

static void every_scenario_schedules_request_i_at_i_times_the_interval(void **state)
{
    (void)state;
    size_t n;
    const sl_lt_scenario *sc = sl_lt_scenario_list(&n);
    static const double scales[] = {1.0, 0.1, 0.01};
    for (size_t s = 0; s < n; s++) {
        for (size_t k = 0; k < 3; k++) {
            int64_t dur_us = (int64_t)((double)sc[s].duration_ms * 1000.0 * scales[k]);
            int64_t prev = -1;
            for (int64_t i = 0; i < sc[s].questions; i++) {
                int64_t off = sl_lt_schedule_offset_us(dur_us, sc[s].questions, i);
                if (sc[s].duration_ms == 0 || sc[s].questions == 1) {
                    assert_int_equal(off, 0); /* immediate: everything due at t0 */
                    continue;
                }
                /* exactly floor(i * D / N): the notebook's delays i * (D / N) */
                assert_int_equal(off, (i * dur_us) / sc[s].questions);
                assert_true(off > prev);
                prev = off;
            }
            if (sc[s].duration_ms && sc[s].questions > 1) { /* the last is one interval early */
                int64_t last =
                    sl_lt_schedule_offset_us(dur_us, sc[s].questions, sc[s].questions - 1);
                assert_true(last <= dur_us - dur_us / sc[s].questions);
                assert_true(last >= dur_us - dur_us / sc[s].questions - 1);
            }
        }
    }
    /* high_load: 35 over 30 s -> 857142.857 µs apart */
    assert_int_equal(sl_lt_schedule_offset_us(30000000, 35, 1), 857142);
    assert_int_equal(sl_lt_schedule_offset_us(30000000, 35, 7), 6000000);
    assert_int_equal(sl_lt_schedule_offset_us(30000000, 35, 34), 29142857);
    assert_int_equal(sl_lt_schedule_offset_us(0, 50, 49), 0);
    assert_int_equal(sl_lt_schedule_offset_us(1000, 1, 0), 0);
}

static void schedule_description_names_the_numbers_used(void **state)
{
    (void)state;
    sl_lt_opts o;
    sl_lt_opts_init(&o);
    o.scenario = "high_load";
    o.questions = 35;
    o.duration_ms = 30000;
    o.workers = 10;
    o.time_scale = 0.1;
    char *s = sl_lt_schedule_describe(&o);
    assert_non_null(strstr(s, "35 questions over 30s x 0.1 = 3s"));
    assert_non_null(strstr(s, "interval 85.7ms"));
    assert_non_null(strstr(s, "10 workers, open loop"));
    free(s);
    o.duration_ms = 0;
    o.questions = 50;
    s = sl_lt_schedule_describe(&o);
    assert_non_null(strstr(s, "50 questions at once"));
    free(s);
}

static void sample_questions_carry_the_iteration_suffix(void **state)
{
    (void)state;
    char *q = sl_lt_sample_question(0);
    assert_string_equal(q, "What is the total sales for last month? (iteration 1)");
    free(q);
    q = sl_lt_sample_question(9);
    assert_string_equal(q, "Show me the sales forecast for next quarter (iteration 1)");
    free(q);
    q = sl_lt_sample_question(10);
    assert_string_equal(q, "What is the total sales for last month? (iteration 2)");
    free(q);
    q = sl_lt_sample_question(34);
    assert_string_equal(q, "What is the average order value? (iteration 4)");
    free(q);
}

static void questions_normalise_to_stripped_lower_case(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"  Show Sales By Region \n", "show sales by region"},
        {"HOW MANY UNITS?", "how many units?"},
        {"\t\r\n", ""},
        {"", ""},
        {"Ünïcode Stays", "Ünïcode stays"}, /* ASCII only: the bytes of Ü are kept */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *n = sl_lt_question_normalize(cases[i][0]);
        assert_string_equal(n, cases[i][1]);
        free(n);
    }
    char *n = sl_lt_question_normalize(NULL);
    assert_string_equal(n, "");
    free(n);
}

static void questions_file_skips_blank_and_comment_lines(void **state)
{
    (void)state;
    char path[] = "/tmp/sluice-lt-q.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "# questions\n\nFirst question?\n   Second one  \n\t\n#skip\nThird\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char **v = NULL;
    size_t n = 0;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_lt_questions_load(path, &v, &n, &err), SL_OK);
    assert_int_equal(n, 3);
    assert_string_equal(v[0], "First question?");
    assert_string_equal(v[1], "Second one");
    assert_string_equal(v[2], "Third");
    assert_null(v[3]);
    sl_lt_strv_free(v);
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, "\n# none\n", 8), 8);
    close(fd);
    assert_int_equal(sl_lt_questions_load(path, &v, &n, &err), SL_EINVAL);
    /* a NUL byte would silently end the file early */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, "one\ntwo\0\nthree\n", 15), 15);
    close(fd);
    sl_err_clear(&err);
    assert_int_equal(sl_lt_questions_load(path, &v, &n, &err), SL_EINVAL);
    assert_non_null(strstr(err.msg, "line 2 has a NUL byte"));
    unlink(path);
    assert_int_not_equal(sl_lt_questions_load(path, &v, &n, &err), SL_OK);
}

static void context_keeps_the_last_window_messages_cut_to_500(void **state)
{
    (void)state;
    char *c = sl_lt_context_string(NULL, 0, 3);
    assert_string_equal(c, "");
    free(c);
    const char *h[] = {"one", "two", "three", "four"};
    c = sl_lt_context_string(h, 4, 3);
    assert_string_equal(c, "Previous: two\nPrevious: three\nPrevious: four");
    free(c);
    c = sl_lt_context_string(h, 2, 3);
    assert_string_equal(c, "Previous: one\nPrevious: two");
    free(c);
    c = sl_lt_context_string(h, 4, 0);
    assert_string_equal(c, "");
    free(c);
    char long_msg[700];
    memset(long_msg, 'x', sizeof(long_msg) - 1);
    long_msg[sizeof(long_msg) - 1] = '\0';
    memcpy(long_msg + 498, "\xc3\xa9", 2); /* an é ending exactly at byte 500 */
    const char *h2[] = {long_msg};
    c = sl_lt_context_string(h2, 1, 3);
    assert_int_equal(strlen(c), strlen("Previous: ") + 500 + 3);
    assert_string_equal(c + strlen(c) - 3, "...");
    free(c);
    memset(long_msg, 'x', sizeof(long_msg) - 1);
    memcpy(long_msg + 499, "\xc3\xa9", 2); /* an é the cut would split: dropped whole */
    c = sl_lt_context_string(h2, 1, 3);
    assert_int_equal(strlen(c), strlen("Previous: ") + 499 + 3);
    free(c);
}

static void from_and_to_accept_the_tools_forms(void **state)
{
    (void)state;
    int64_t now = 1769900000000LL, out = 0;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_lt_time_arg_parse("7d", now, &out, &err), SL_OK);
    assert_int_equal(out, now - 7 * 86400000LL);
    assert_int_equal(sl_lt_time_arg_parse("24h", now, &out, &err), SL_OK);
    assert_int_equal(out, now - 86400000LL);
    assert_int_equal(sl_lt_time_arg_parse("30m", now, &out, &err), SL_OK);
    assert_int_equal(out, now - 1800000LL);
    assert_int_equal(sl_lt_time_arg_parse("1W", now, &out, &err), SL_OK);
    assert_int_equal(out, now - 7 * 86400000LL);
    assert_int_equal(sl_lt_time_arg_parse("2026-01-15", now, &out, &err), SL_OK);
    assert_int_equal(out, 1768435200000LL);
    assert_int_equal(sl_lt_time_arg_parse("2026-01-15T10:30:00", now, &out, &err), SL_OK);
    assert_int_equal(out, 1768473000000LL);
    assert_int_equal(sl_lt_time_arg_parse("2026-01-15T10:30:00Z", now, &out, &err), SL_OK);
    assert_int_equal(out, 1768473000000LL);
    assert_int_equal(sl_lt_time_arg_parse("2026-01-15T11:30:00+01:00", now, &out, &err), SL_OK);
    assert_int_equal(out, 1768473000000LL);
    assert_int_equal(sl_lt_time_arg_parse("yesterday", now, &out, &err), SL_EINVAL);
    assert_non_null(strstr(err.msg, "7d"));
}

/* A relative time so large that now - v * unit would overflow (undefined behaviour) is
 * refused; 100 years back is the limit. */
static void relative_times_beyond_a_century_are_refused(void **state)
{
    (void)state;
    int64_t now = 1769900000000LL, out = 0;
    const char *bad[] = {"99999999999999999999d", "9223372036854775807m", "5300w", "36501d",
                         "2026-02-30"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sl_err err;
        sl_err_clear(&err);
        assert_int_equal(sl_lt_time_arg_parse(bad[i], now, &out, &err), SL_EINVAL);
    }
    assert_int_equal(sl_lt_time_arg_parse("36500d", now, &out, NULL), SL_OK);
    assert_int_equal(out, now - 36500 * 86400000LL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scenario_table_is_the_notebooks),
        cmocka_unit_test(relative_times_beyond_a_century_are_refused),
        cmocka_unit_test(every_scenario_schedules_request_i_at_i_times_the_interval),
        cmocka_unit_test(schedule_description_names_the_numbers_used),
        cmocka_unit_test(sample_questions_carry_the_iteration_suffix),
        cmocka_unit_test(questions_normalise_to_stripped_lower_case),
        cmocka_unit_test(questions_file_skips_blank_and_comment_lines),
        cmocka_unit_test(context_keeps_the_last_window_messages_cut_to_500),
        cmocka_unit_test(from_and_to_accept_the_tools_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
