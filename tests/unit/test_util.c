/* test_util.c - durations, UTC timestamps, error messages, JSON argument parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/util.h"

static int64_t dur(const char *s)
{
    int64_t ms = -1;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_duration_parse(s, &ms, &err), SL_OK);
    return ms;
}

static void durations_parse_every_documented_form(void **state)
{
    (void)state;
    assert_int_equal(dur("250ms"), 250);
    assert_int_equal(dur("2s"), 2000);
    assert_int_equal(dur("1m30s"), 90000);
    assert_int_equal(dur("10m"), 600000);
    assert_int_equal(dur("1h"), 3600000);
    assert_int_equal(dur("1h2m3s4ms"), 3723004);
    assert_int_equal(dur("5"), 5000);
    assert_int_equal(dur("1.5"), 1500);
    assert_int_equal(dur("0"), 0);
    assert_int_equal(dur("1.5s"), 1500);
}

static void durations_reject_garbage_with_a_clear_message(void **state)
{
    (void)state;
    const char *bad[] = {"", "5x", "-1s", "s", "1m-3s", "ms", "1 s", "abc", "1e999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ms;
        sl_err err;
        sl_err_clear(&err);
        assert_int_equal(sl_duration_parse(bad[i], &ms, &err), SL_EINVAL);
        assert_non_null(strstr(err.msg, "duration"));
    }
}

static void durations_format_round_trips(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(sl_duration_format(90000, buf, sizeof(buf)), "1m30s");
    assert_string_equal(sl_duration_format(250, buf, sizeof(buf)), "250ms");
    assert_string_equal(sl_duration_format(0, buf, sizeof(buf)), "0s");
    assert_string_equal(sl_duration_format(3723004, buf, sizeof(buf)), "1h2m3s4ms");
    for (int64_t ms = 1; ms < 10000000; ms = ms * 7 + 3)
        assert_int_equal(dur(sl_duration_format(ms, buf, sizeof(buf))), ms);
}

static void duration_from_json_accepts_string_or_seconds(void **state)
{
    (void)state;
    int64_t ms;
    json_t *s = json_string("2s"), *n = json_real(0.25), *b = json_true();
    assert_int_equal(sl_duration_from_json(s, &ms, NULL), SL_OK);
    assert_int_equal(ms, 2000);
    assert_int_equal(sl_duration_from_json(n, &ms, NULL), SL_OK);
    assert_int_equal(ms, 250);
    assert_int_equal(sl_duration_from_json(b, &ms, NULL), SL_EINVAL);
    json_decref(s);
    json_decref(n);
    json_decref(b);
}

static void times_format_and_parse_in_utc(void **state)
{
    (void)state;
    char buf[40];
    assert_string_equal(sl_time_format(0, buf, sizeof(buf)), "1970-01-01T00:00:00.000Z");
    assert_string_equal(sl_time_format(1764075658123, buf, sizeof(buf)),
                        "2025-11-25T13:00:58.123Z");
    int64_t ms;
    assert_int_equal(sl_time_parse("2025-11-25T13:00:58.123Z", &ms, NULL), SL_OK);
    assert_int_equal(ms, 1764075658123);
    assert_int_equal(sl_time_parse("2025-11-25T14:00:58.123+01:00", &ms, NULL), SL_OK);
    assert_int_equal(ms, 1764075658123);
    assert_int_equal(sl_time_parse("2025-11-25", &ms, NULL), SL_OK);
    assert_int_equal(ms, 1764028800000);
    assert_int_equal(sl_time_parse("2024-02-29T00:00", &ms, NULL), SL_OK);
    assert_int_equal(sl_time_parse("2025-13-01", &ms, NULL), SL_EINVAL);
    assert_int_equal(sl_time_parse("yesterday", &ms, NULL), SL_EINVAL);
}

static void errors_are_one_line_and_prefixable(void **state)
{
    (void)state;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_err_set(&err, SL_EIO, "disk\nfull\n"), SL_EIO);
    assert_string_equal(err.msg, "disk full");
    sl_err_prefix(&err, "write %s", "x.db");
    assert_string_equal(err.msg, "write x.db: disk full");
    assert_string_equal(sl_code_name(SL_ENONDET), "ENONDET");
    assert_int_equal(err.retry_after_ms, -1);
}

static void json_args_report_position(void **state)
{
    (void)state;
    json_t *j;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_json_arg("{\"a\":", &j, &err), SL_EINVAL);
    assert_non_null(strstr(err.msg, "line 1"));
    assert_int_equal(sl_json_arg("{\"a\":1}", &j, &err), SL_OK);
    assert_int_equal(json_integer_value(json_object_get(j, "a")), 1);
    json_decref(j);
    assert_int_equal(sl_json_arg("@/nonexistent/file.json", &j, &err), SL_EINVAL);
    assert_non_null(strstr(err.msg, "cannot read"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(durations_parse_every_documented_form),
        cmocka_unit_test(durations_reject_garbage_with_a_clear_message),
        cmocka_unit_test(durations_format_round_trips),
        cmocka_unit_test(duration_from_json_accepts_string_or_seconds),
        cmocka_unit_test(times_format_and_parse_in_utc),
        cmocka_unit_test(errors_are_one_line_and_prefixable),
        cmocka_unit_test(json_args_report_position),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
