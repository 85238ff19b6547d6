/* test_util.c - durations, UTC timestamps, error messages, JSON argument parsing, the string
 * buffer, mkdir -p, the FNV-1a hash and secret wiping. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    const char *bad[] = {"", "5x", "-1s", "s", "1m-3s", "ms", "1 s", "abc", "1e999",
                         /* strtod's extras are not durations */
                         "0x10", "0x10s", "1e3", "1e3s", "inf", "infs", "nan", "1..5s", "."};
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

static void times_the_calendar_does_not_have_are_refused(void **state)
{
    (void)state;
    int64_t ms;
    const char *bad[] = {"2026-02-30", "2026-02-29", "2025-02-29T00:00:00Z", "1900-02-29",
                         "2026-04-31", "2026-06-31T12:00", "2026-11-31", "2026-01-32",
                         "2026-01-01T12:00+99:00", "2026-01-01T12:00+24:00",
                         "2026-01-01T12:00-25:30", "2026-01-01T12:00+05:99",
                         "2026-01-01T12:00+18:01", "2026-01-01T12:00:00.Z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sl_err err;
        sl_err_clear(&err);
        assert_int_equal(sl_time_parse(bad[i], &ms, &err), SL_EINVAL);
        assert_non_null(strstr(err.msg, bad[i]));
    }
    const char *good[] = {"2000-02-29", "2024-02-29T23:59:59Z", "2026-01-31", "2026-12-31",
                          "2026-01-01T12:00+14:00", "2026-01-01T12:00-18:00",
                          "2026-01-01T12:00:00.5Z"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(sl_time_parse(good[i], &ms, NULL), SL_OK);
    assert_int_equal(sl_time_parse("2026-01-01T12:00-18:00", &ms, NULL), SL_OK);
    assert_int_equal(ms, 1767268800000 + 18 * 3600000);
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

/* Found by fuzzing `workflow replay --history` (tests/fuzz/corpus/history/
 * completed-without-result.json): printing an absent value aborted the process. */
static void json_dumps_prints_absent_as_null(void **state)
{
    (void)state;
    json_t *o = json_object();
    char *s = sl_json_dumps(json_object_get(o, "missing"));
    assert_string_equal(s, "null");
    free(s);
    s = sl_json_dumps(o);
    assert_string_equal(s, "{}");
    free(s);
    json_decref(o);
}

static void buffers_grow_format_and_hand_over(void **state)
{
    (void)state;
    sl_buf b = SL_BUF_INIT;
    assert_string_equal(sl_buf_str(&b), "");
    sl_buf_puts(&b, "SELECT ");
    for (int i = 0; i < 200; i++)
        sl_buf_printf(&b, "%sc%d", i ? ", " : "", i);
    sl_buf_putc(&b, ';');
    assert_int_equal(b.len, strlen(b.p));
    assert_true(sl_str_has_prefix(sl_buf_str(&b), "SELECT c0, c1, "));
    assert_int_equal(b.p[b.len - 1], ';');
    char big[1000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    size_t before = b.len;
    sl_buf_printf(&b, "[%s]", big); /* longer than the formatter's stack buffer */
    assert_int_equal(b.len, before + sizeof(big) + 1);
    sl_buf_reset(&b);
    assert_string_equal(sl_buf_str(&b), "");
    sl_buf_put(&b, "a\0b", 3); /* binary-safe length */
    assert_int_equal(b.len, 3);
    char *s = sl_buf_take(&b);
    assert_null(b.p);
    assert_int_equal(b.len, 0);
    assert_string_equal(s, "a");
    free(s);
    s = sl_buf_take(&b); /* an empty buffer hands over "" */
    assert_string_equal(s, "");
    free(s);
    sl_buf_free(&b);
    sl_buf_free(NULL);
}

static void mkdirs_makes_parents_and_refuses_a_file_in_the_way(void **state)
{
    (void)state;
    char root[] = "/tmp/sluice-test-mkdirs-XXXXXX";
    assert_non_null(mkdtemp(root));
    char path[256];
    snprintf(path, sizeof(path), "%s/a/b/c", root);
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_mkdirs(path, &err), SL_OK);
    assert_int_equal(sl_mkdirs(path, &err), SL_OK); /* idempotent */
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    char file[256];
    snprintf(file, sizeof(file), "%s/a/f", root);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/a/f/g", root);
    assert_int_equal(sl_mkdirs(path, &err), SL_EIO);
    assert_int_equal(errno, ENOTDIR);
    assert_non_null(strstr(err.msg, "a/f"));
    assert_int_equal(sl_mkdirs(file, &err), SL_EIO); /* the last component is a file */
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

static void fnv1a_values_never_change(void **state)
{
    (void)state;
    /* workflow random seeds and genie batch ids are derived from these: pinned */
    assert_true(sl_fnv1a(SL_FNV1A_INIT, "", 0) == 1469598103934665603ULL);
    uint64_t h = SL_FNV1A_INIT;
    for (const char *p = "3f2c1a9e-run"; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    assert_true(sl_fnv1a(SL_FNV1A_INIT, "3f2c1a9e-run", 12) == h);
    assert_true(sl_fnv1a(sl_fnv1a(SL_FNV1A_INIT, "ab", 2), "c", 1) ==
                sl_fnv1a(SL_FNV1A_INIT, "abc", 3));
}

static void secrets_are_wiped(void **state)
{
    (void)state;
    char tok[] = "dapi0123456789abcdef";
    sl_secret_wipe(tok, strlen(tok));
    for (size_t i = 0; i < sizeof(tok); i++)
        assert_int_equal(tok[i], 0);
    sl_secret_free(NULL);
    sl_secret_free(sl_xstrdup("dapi-secret")); /* ASan checks the free itself */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(durations_parse_every_documented_form),
        cmocka_unit_test(durations_reject_garbage_with_a_clear_message),
        cmocka_unit_test(durations_format_round_trips),
        cmocka_unit_test(duration_from_json_accepts_string_or_seconds),
        cmocka_unit_test(times_the_calendar_does_not_have_are_refused),
        cmocka_unit_test(times_format_and_parse_in_utc),
        cmocka_unit_test(errors_are_one_line_and_prefixable),
        cmocka_unit_test(json_args_report_position),
        cmocka_unit_test(json_dumps_prints_absent_as_null),
        cmocka_unit_test(buffers_grow_format_and_hand_over),
        cmocka_unit_test(mkdirs_makes_parents_and_refuses_a_file_in_the_way),
        cmocka_unit_test(fnv1a_values_never_change),
        cmocka_unit_test(secrets_are_wiped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
