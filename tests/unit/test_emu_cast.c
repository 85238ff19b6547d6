/* test_emu_cast.c - Databricks (ANSI) casting of text and printing of values. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "emulator_int.h"

static void bigint_accepts_sign_digits_and_spaces(void **state)
{
    (void)state;
    int64_t v;
    assert_true(sl__emu_parse_bigint("42", &v));
    assert_int_equal(v, 42);
    assert_true(sl__emu_parse_bigint("  -17 ", &v));
    assert_int_equal(v, -17);
    assert_true(sl__emu_parse_bigint("+5", &v));
    assert_int_equal(v, 5);
    assert_true(sl__emu_parse_bigint("-9223372036854775808", &v));
    assert_true(v == INT64_MIN);
    assert_false(sl__emu_parse_bigint("9223372036854775808", &v));
    assert_false(sl__emu_parse_bigint("1.5", &v));
    assert_false(sl__emu_parse_bigint("", &v));
    assert_false(sl__emu_parse_bigint("12a", &v));
    assert_false(sl__emu_parse_bigint("-", &v));
}

static void double_accepts_decimal_and_exponent_forms(void **state)
{
    (void)state;
    double d;
    assert_true(sl__emu_parse_double("3.25", &d));
    assert_true(d == 3.25);
    assert_true(sl__emu_parse_double(" -1e3 ", &d));
    assert_true(d == -1000);
    assert_true(sl__emu_parse_double(".5", &d));
    assert_true(d == 0.5);
    assert_true(sl__emu_parse_double("2.", &d));
    assert_true(sl__emu_parse_double("NaN", &d));
    assert_true(isnan(d));
    assert_true(sl__emu_parse_double("-Infinity", &d));
    assert_true(isinf(d) && d < 0);
    assert_false(sl__emu_parse_double("0x10", &d));
    assert_false(sl__emu_parse_double("abc", &d));
    assert_false(sl__emu_parse_double("1e", &d));
    assert_false(sl__emu_parse_double("", &d));
}

static void boolean_accepts_the_databricks_words(void **state)
{
    (void)state;
    const char *yes[] = {"true", "TRUE", "t", "Yes", "y", "1", " true "};
    const char *no[] = {"false", "F", "no", "N", "0"};
    bool b;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        assert_true(sl__emu_parse_boolean(yes[i], &b));
        assert_true(b);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        assert_true(sl__emu_parse_boolean(no[i], &b));
        assert_false(b);
    }
    assert_false(sl__emu_parse_boolean("maybe", &b));
    assert_false(sl__emu_parse_boolean("2", &b));
}

static void dates_normalise_and_validate(void **state)
{
    (void)state;
    char d[11];
    assert_true(sl__emu_parse_date("2024-01-05", d));
    assert_string_equal(d, "2024-01-05");
    assert_true(sl__emu_parse_date("2024-1-5", d));
    assert_string_equal(d, "2024-01-05");
    assert_true(sl__emu_parse_date("2024-02-29", d));
    assert_false(sl__emu_parse_date("2023-02-29", d));
    assert_false(sl__emu_parse_date("2024-13-01", d));
    assert_false(sl__emu_parse_date("05/01/2024", d));
    assert_false(sl__emu_parse_date("bad", d));
}

static void timestamps_normalise_to_utc_millis(void **state)
{
    (void)state;
    char t[32];
    assert_true(sl__emu_parse_timestamp("2024-01-05 10:00", t));
    assert_string_equal(t, "2024-01-05T10:00:00.000Z");
    assert_true(sl__emu_parse_timestamp("2024-01-05T10:00:30.5Z", t));
    assert_string_equal(t, "2024-01-05T10:00:30.500Z");
    assert_true(sl__emu_parse_timestamp("2024-01-05T10:00:00+02:00", t));
    assert_string_equal(t, "2024-01-05T08:00:00.000Z");
    assert_true(sl__emu_parse_timestamp("2024-01-05", t));
    assert_string_equal(t, "2024-01-05T00:00:00.000Z");
    assert_false(sl__emu_parse_timestamp("2024-01-05 25:00", t));
    assert_false(sl__emu_parse_timestamp("2024-01-05T10", t));
}

static void doubles_print_like_databricks(void **state)
{
    (void)state;
    char b[64];
    sl__emu_format_double(1.0, b, sizeof(b));
    assert_string_equal(b, "1.0");
    sl__emu_format_double(0.1, b, sizeof(b));
    assert_string_equal(b, "0.1");
    sl__emu_format_double(2579.57, b, sizeof(b));
    assert_string_equal(b, "2579.57");
    sl__emu_format_double(-0.001, b, sizeof(b));
    assert_string_equal(b, "-0.001");
    sl__emu_format_double(1e20, b, sizeof(b));
    assert_string_equal(b, "1.0E20");
    sl__emu_format_double(1.5e-7, b, sizeof(b));
    assert_string_equal(b, "1.5E-7");
    sl__emu_format_double(12345678.0, b, sizeof(b));
    assert_string_equal(b, "1.2345678E7");
}

static void type_names_map_to_manifest_names(void **state)
{
    (void)state;
    emu_type t;
    assert_true(sl__emu_type_parse("bigint", &t));
    assert_int_equal(t, EMU_T_BIGINT);
    assert_string_equal(sl__emu_type_name(t), "LONG");
    assert_string_equal(sl__emu_type_text(t), "BIGINT");
    assert_string_equal(sl__emu_type_lower(t), "bigint");
    assert_true(sl__emu_type_parse("STRING", &t));
    assert_false(sl__emu_type_parse("BLOB", &t));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bigint_accepts_sign_digits_and_spaces),
        cmocka_unit_test(double_accepts_decimal_and_exponent_forms),
        cmocka_unit_test(boolean_accepts_the_databricks_words),
        cmocka_unit_test(dates_normalise_and_validate),
        cmocka_unit_test(timestamps_normalise_to_utc_millis),
        cmocka_unit_test(doubles_print_like_databricks),
        cmocka_unit_test(type_names_map_to_manifest_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
