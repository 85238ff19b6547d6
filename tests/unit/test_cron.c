/*
 * test_cron.c - cron expressions: macros, normalised text, ranges, steps, lists and names,
 * Sunday as 0 or 7, the day-of-month/day-of-week rule, rollovers and leap days, schedules
 * that never fire, every parse error with its message, and sl_cron_next cross-checked
 * against a brute-force minute scan over thousands of random expressions. Time zones:
 * offsets checked against the C library's localtime over decades in zones with unusual
 * rules, cron in local time across daylight-saving changes (both modes), and load errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sluice/cron.h"

#define MIN_MS ((int64_t)60000)
#define DAY_MS ((int64_t)86400000)

static int64_t at(const char *iso)
{
    int64_t ms = 0;
    sl_err err;
    sl_err_clear(&err);
    if (sl_time_parse(iso, &ms, &err) != SL_OK)
        fail_msg("bad test time '%s': %s", iso, err.msg);
    return ms;
}

static sl_cron *parse_ok(const char *expr)
{
    sl_cron *c = NULL;
    sl_err err;
    sl_err_clear(&err);
    if (sl_cron_parse(expr, &c, &err) != SL_OK)
        fail_msg("'%s' did not parse: %s", expr, err.msg);
    assert_non_null(c);
    return c;
}

/* Format a next time for readable failures; -1 stays "-1". */
static const char *fmt(int64_t ms, char *buf, size_t len)
{
    if (ms == -1)
        return "-1";
    return sl_time_format(ms, buf, len);
}

/* sl_cron_next(expr, after) is `want` (an ISO time, or NULL for -1). */
static void expect_next(const char *expr, const char *after, const char *want)
{
    sl_cron *c = parse_ok(expr);
    char got_buf[32], want_buf[32];
    int64_t got = sl_cron_next(c, at(after));
    int64_t w = want ? at(want) : -1;
    if (got != w)
        fail_msg("'%s' after %s: got %s, want %s", expr, after, fmt(got, got_buf, sizeof(got_buf)),
                 fmt(w, want_buf, sizeof(want_buf)));
    sl_cron_free(c);
}

/* Walking from `from`, expr fires at exactly the times in want[0..n). */
static void expect_walk(const char *expr, const char *from, const char *const *want, size_t n)
{
    sl_cron *c = parse_ok(expr);
    int64_t t = at(from);
    for (size_t i = 0; i < n; i++) {
        char got_buf[32];
        int64_t next = sl_cron_next(c, t);
        if (next != at(want[i]))
            fail_msg("'%s' fire %zu: got %s, want %s", expr, i, fmt(next, got_buf, sizeof(got_buf)),
                     want[i]);
        t = next;
    }
    sl_cron_free(c);
}

#define WALK(expr, from, ...)                                                                      \
    do {                                                                                           \
        static const char *const want_[] = {__VA_ARGS__};                                          \
        expect_walk(expr, from, want_, sizeof(want_) / sizeof(want_[0]));                          \
    } while (0)

/* Number of fire times in [from, to). */
static int count_fires(const char *expr, int64_t from, int64_t to)
{
    sl_cron *c = parse_ok(expr);
    int n = 0;
    for (int64_t t = sl_cron_next(c, from - 1); t != -1 && t < to; t = sl_cron_next(c, t))
        n++;
    sl_cron_free(c);
    return n;
}

/* ---- behaviour ----------------------------------------------------------------------------- */

static void macros_expand_to_their_five_field_forms(void **state)
{
    (void)state;
    static const char *const pairs[][2] = {
        {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"},  {"@monthly", "0 0 1 * *"},
        {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},     {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"}, {"  @Daily\t", "0 0 * * *"},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        sl_cron *m = parse_ok(pairs[i][0]);
        sl_cron *f = parse_ok(pairs[i][1]);
        int64_t t = at("2026-11-25T13:00:58.123Z");
        for (int k = 0; k < 20; k++) {
            int64_t tm = sl_cron_next(m, t);
            assert_int_equal(tm, sl_cron_next(f, t));
            t = tm;
        }
        sl_cron_free(m);
        sl_cron_free(f);
    }
    expect_next("@weekly", "2026-11-25T13:00:00Z", "2026-11-29T00:00:00Z"); /* a Sunday */
    expect_next("@yearly", "2026-11-25T13:00:00Z", "2027-01-01T00:00:00Z");
}

static void text_is_normalised_and_reparses_to_the_same_schedule(void **state)
{
    (void)state;
    static const char *const pairs[][2] = {
        {"  0   9 * jan,Jul mon-fri  ", "0 9 * JAN,JUL MON-FRI"},
        {"*/15\t*\n* * *", "*/15 * * * *"},
        {"@MIDNIGHT", "@midnight"},
        {"5 4 * * sun", "5 4 * * SUN"},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        sl_cron *c = parse_ok(pairs[i][0]);
        assert_string_equal(sl_cron_text(c), pairs[i][1]);
        sl_cron *again = parse_ok(sl_cron_text(c));
        assert_string_equal(sl_cron_text(again), pairs[i][1]);
        int64_t t = at("2026-01-01T00:00:00Z");
        for (int k = 0; k < 50; k++) {
            int64_t next = sl_cron_next(c, t);
            assert_int_equal(next, sl_cron_next(again, t));
            t = next;
        }
        sl_cron_free(again);
        sl_cron_free(c);
    }
}

static void every_15_minutes_fires_four_times_an_hour(void **state)
{
    (void)state;
    WALK("*/15 * * * *", "2026-03-10T09:59:59.999Z", "2026-03-10T10:00:00Z", "2026-03-10T10:15:00Z",
         "2026-03-10T10:30:00Z", "2026-03-10T10:45:00Z", "2026-03-10T11:00:00Z");
    assert_int_equal(
        count_fires("*/15 * * * *", at("2026-03-10T10:00:00Z"), at("2026-03-10T11:00:00Z")), 4);
    assert_int_equal(
        count_fires("*/15 * * * *", at("2026-03-10T00:00:00Z"), at("2026-03-11T00:00:00Z")), 96);
}

static void ranges_steps_and_lists_select_the_listed_values(void **state)
{
    (void)state;
    /* A list mixing a value, a range and a value with a step (50 to 59 by 5). */
    WALK("1,3-4,50/5 * * * *", "2026-03-10T10:00:00Z", "2026-03-10T10:01:00Z",
         "2026-03-10T10:03:00Z", "2026-03-10T10:04:00Z", "2026-03-10T10:50:00Z",
         "2026-03-10T10:55:00Z", "2026-03-10T11:01:00Z");
    /* A range with a step starts at the range's start. */
    WALK("5-20/7 * * * *", "2026-03-10T10:00:00Z", "2026-03-10T10:05:00Z", "2026-03-10T10:12:00Z",
         "2026-03-10T10:19:00Z", "2026-03-10T11:05:00Z");
    WALK("10/20 * * * *", "2026-03-10T10:00:00Z", "2026-03-10T10:10:00Z", "2026-03-10T10:30:00Z",
         "2026-03-10T10:50:00Z", "2026-03-10T11:10:00Z");
    WALK("30 */6 * * *", "2026-03-10T00:00:00Z", "2026-03-10T00:30:00Z", "2026-03-10T06:30:00Z",
         "2026-03-10T12:30:00Z", "2026-03-10T18:30:00Z", "2026-03-11T00:30:00Z");
    WALK("0 0 */10 * *", "2026-01-01T00:00:00Z", "2026-01-11T00:00:00Z", "2026-01-21T00:00:00Z",
         "2026-01-31T00:00:00Z", "2026-02-01T00:00:00Z", "2026-02-11T00:00:00Z");
    WALK("0 12 1 */4 *", "2026-01-01T12:00:00Z", "2026-05-01T12:00:00Z", "2026-09-01T12:00:00Z",
         "2027-01-01T12:00:00Z");
    /* `*` with step 1 and full ranges are plain `*`. */
    assert_int_equal(
        count_fires("*/1 0-23 1-31 1-12 *", at("2026-03-10T00:00:00Z"), at("2026-03-11T00:00:00Z")),
        1440);
}

static void names_are_case_insensitive_and_work_in_ranges(void **state)
{
    (void)state;
    /* 2026-01-30 is a Friday; the next weekday in January or July is Wed 2026-07-01. */
    WALK("0 9 * jan,Jul mon-FRI", "2026-01-30T08:00:00Z", "2026-01-30T09:00:00Z",
         "2026-07-01T09:00:00Z", "2026-07-02T09:00:00Z", "2026-07-03T09:00:00Z",
         "2026-07-06T09:00:00Z");
    WALK("0 0 1 feb-Apr *", "2026-01-15T00:00:00Z", "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z",
         "2026-04-01T00:00:00Z", "2027-02-01T00:00:00Z");
    /* Names and numbers mix, and a name can carry a step (Monday to Saturday by 2). */
    WALK("0 0 * * MON/2", "2026-03-08T12:00:00Z", "2026-03-09T00:00:00Z", "2026-03-11T00:00:00Z",
         "2026-03-13T00:00:00Z", "2026-03-16T00:00:00Z");
    WALK("0 0 * 2-mar * ", "2026-01-31T00:00:00Z", "2026-02-01T00:00:00Z");
}

static void zero_seven_and_sun_all_mean_sunday(void **state)
{
    (void)state;
    /* 2026-03-08 and 2026-03-15 are Sundays. */
    static const char *const sundays[] = {"0 0 * * 0",   "0 0 * * 7",   "0 0 * * sun",
                                          "0 0 * * SUN", "0 0 * * 7-7", "0 0 * * 0,7"};
    for (size_t i = 0; i < sizeof(sundays) / sizeof(sundays[0]); i++)
        WALK(sundays[i], "2026-03-04T00:00:00Z", "2026-03-08T00:00:00Z", "2026-03-15T00:00:00Z");
    /* A range ending on Sunday runs through the weekend. */
    WALK("0 0 * * FRI-SUN", "2026-03-04T00:00:00Z", "2026-03-06T00:00:00Z", "2026-03-07T00:00:00Z",
         "2026-03-08T00:00:00Z", "2026-03-13T00:00:00Z");
    WALK("0 0 * * 5-7", "2026-03-04T00:00:00Z", "2026-03-06T00:00:00Z", "2026-03-07T00:00:00Z",
         "2026-03-08T00:00:00Z", "2026-03-13T00:00:00Z");
    /* `*` with a step covers Sunday to Saturday once: 0,2,4,6. */
    WALK("0 0 * * */2", "2026-03-08T00:00:00Z", "2026-03-10T00:00:00Z", "2026-03-12T00:00:00Z",
         "2026-03-14T00:00:00Z", "2026-03-15T00:00:00Z");
    assert_int_equal(
        count_fires("0 0 * * 0-7", at("2026-03-01T00:00:00Z"), at("2026-04-01T00:00:00Z")), 31);
}

static void day_of_month_or_day_of_week_when_both_are_restricted(void **state)
{
    (void)state;
    /* 2026 has 52 Fridays and 12 thirteenths, three of them Fridays. */
    int64_t y2026 = at("2026-01-01T00:00:00Z"), y2027 = at("2027-01-01T00:00:00Z");
    assert_int_equal(count_fires("0 0 13 * FRI", y2026, y2027), 52 + 12 - 3);
    WALK("0 0 13 * FRI", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z",
         "2026-01-13T00:00:00Z", "2026-01-16T00:00:00Z");
    /* `*` with a step is a restriction too: odd days OR Mondays. */
    assert_int_equal(
        count_fires("0 0 */2 * MON", at("2026-03-01T00:00:00Z"), at("2026-04-01T00:00:00Z")),
        16 + 3); /* 16 odd days plus the even Mondays: 2nd, 16th, 30th */
}

static void only_the_restricted_day_field_applies_when_the_other_is_star(void **state)
{
    (void)state;
    int64_t y2026 = at("2026-01-01T00:00:00Z"), y2027 = at("2027-01-01T00:00:00Z");
    assert_int_equal(count_fires("0 0 13 * *", y2026, y2027), 12);
    assert_int_equal(count_fires("0 0 * * FRI", y2026, y2027), 52);
    assert_int_equal(count_fires("0 0 * * *", y2026, y2027), 365);
    assert_int_equal(count_fires("0 0 */1 * FRI", y2026, y2027), 52);
}

static void next_is_strictly_after_and_on_a_whole_minute(void **state)
{
    (void)state;
    expect_next("30 10 * * *", "2026-03-10T10:30:00Z", "2026-03-11T10:30:00Z");
    expect_next("30 10 * * *", "2026-03-10T10:29:59.999Z", "2026-03-10T10:30:00Z");
    expect_next("30 10 * * *", "2026-03-10T10:30:00.001Z", "2026-03-11T10:30:00Z");
    expect_next("* * * * *", "2026-03-10T10:30:17.500Z", "2026-03-10T10:31:00Z");
    expect_next("* * * * *", "2026-03-10T10:30:00Z", "2026-03-10T10:31:00Z");
    /* Before 1970 works too (negative Unix times). */
    expect_next("0 0 1 1 *", "1969-06-01T00:00:00Z", "1970-01-01T00:00:00Z");
    expect_next("* * * * *", "1969-12-31T23:59:59.999Z", "1970-01-01T00:00:00Z");
    expect_next("15 * * * *", "1960-02-29T23:20:00Z", "1960-03-01T00:15:00Z");
}

static void month_and_year_roll_over(void **state)
{
    (void)state;
    expect_next("0 0 1 1 *", "2025-12-31T23:59:00Z", "2026-01-01T00:00:00Z");
    expect_next("59 23 31 12 *", "2025-12-31T23:59:00Z", "2026-12-31T23:59:00Z");
    expect_next("* * * * *", "2025-12-31T23:59:00Z", "2026-01-01T00:00:00Z");
    expect_next("0 0 31 * *", "2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z");
    expect_next("0 0 * 3 *", "2026-03-31T00:00:00Z", "2027-03-01T00:00:00Z");
    expect_next("0 0 1 * *", "2026-02-28T23:59:59Z", "2026-03-01T00:00:00Z");
    expect_next("0 0 30 * *", "2026-01-30T00:00:00Z", "2026-03-30T00:00:00Z");
    expect_next("0 10-12 * * *", "2026-04-30T12:00:00Z", "2026-05-01T10:00:00Z");
}

static void leap_day_fires_only_in_leap_years(void **state)
{
    (void)state;
    expect_next("0 0 29 2 *", "2025-03-01T00:00:00Z", "2028-02-29T00:00:00Z");
    expect_next("0 0 29 2 *", "2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z");
    expect_next("0 0 29 2 *", "2028-02-28T23:59:00Z", "2028-02-29T00:00:00Z");
    /* 2000 is a leap year; 2100 is not, so from 2096 the next (2104) is beyond the horizon. */
    expect_next("0 0 29 2 *", "1996-03-01T00:00:00Z", "2000-02-29T00:00:00Z");
    expect_next("0 0 29 2 *", "2099-03-01T00:00:00Z", "2104-02-29T00:00:00Z");
    expect_next("0 0 29 2 *", "2096-03-01T00:00:00Z", NULL);
    expect_next("0 0 28 2 *", "2100-02-01T00:00:00Z", "2100-02-28T00:00:00Z");
}

static void search_ends_exactly_at_the_horizon(void **state)
{
    (void)state;
    /* No leap day between 2096 and 2104, so 2104-02-29 is the next one after 2099-02-27. */
    sl_cron *c = parse_ok("0 0 29 2 *");
    int64_t fire = at("2104-02-29T00:00:00Z");
    int64_t edge = fire - SL_CRON_HORIZON_DAYS * DAY_MS;
    assert_int_equal(edge, at("2099-02-27T00:00:00Z"));
    assert_int_equal(sl_cron_next(c, edge), fire);
    assert_int_equal(sl_cron_next(c, edge - 1), -1);
    sl_cron_free(c);
}

static void impossible_dates_never_fire(void **state)
{
    (void)state;
    expect_next("0 0 31 4 *", "2026-01-01T00:00:00Z", NULL);
    expect_next("0 0 30 2 *", "2026-01-01T00:00:00Z", NULL);
    expect_next("0 0 30,31 2 *", "2026-01-01T00:00:00Z", NULL);
    expect_next("0 0 31 2,4,6,9,11 *", "2026-01-01T00:00:00Z", NULL);
    /* With a day-of-week as well, the weekday alone makes it fire. */
    expect_next("0 0 31 4 MON", "2026-01-01T00:00:00Z", "2026-04-06T00:00:00Z");
}

static void times_outside_years_1_to_9999_give_minus_one(void **state)
{
    (void)state;
    sl_cron *c = parse_ok("* * * * *");
    assert_int_equal(sl_cron_next(c, INT64_MAX), -1);
    assert_int_equal(sl_cron_next(c, INT64_MIN), -1);
    assert_int_equal(sl_cron_next(c, at("9999-12-31T23:58:00Z")), at("9999-12-31T23:59:00Z"));
    /* The answer may lie past 9999 when the question does not. */
    assert_int_equal(sl_cron_next(c, at("9999-12-31T23:59:59.999Z")),
                     at("9999-12-31T23:59:00Z") + MIN_MS);
    assert_int_equal(sl_cron_next(c, at("0001-01-01T00:00:00Z")), at("0001-01-01T00:01:00Z"));
    assert_int_equal(sl_cron_next(c, at("0001-01-01T00:00:00Z") - 1), -1);
    sl_cron_free(c);
}

/* ---- errors -------------------------------------------------------------------------------- */

static void parse_errors_name_the_field_and_the_reason(void **state)
{
    (void)state;
    char too_long[SL_CRON_TEXT_MAX + 2];
    memset(too_long, ' ', sizeof(too_long) - 1);
    memcpy(too_long, "* * * * *", 9);
    too_long[sizeof(too_long) - 1] = '\0';
    const struct {
        const char *expr;
        const char *msg;
    } cases[] = {
        {NULL, "cron expression is empty"},
        {"", "cron expression is empty"},
        {" \t ", "cron expression is empty"},
        {"* * * *",
         "cron expression has 4 fields, expected 5 (minute hour day-of-month month day-of-week)"},
        {"0 * * * * *",
         "cron expression has 6 fields, expected 5 (minute hour day-of-month month day-of-week)"},
        {"daily", "cron expression has 1 field, expected 5 (minute hour day-of-month month "
                  "day-of-week)"},
        {"60 * * * *", "cron field 'minute' value 60 out of range 0-59"},
        {"0 24 * * *", "cron field 'hour' value 24 out of range 0-23"},
        {"0 0 0 * *", "cron field 'day-of-month' value 0 out of range 1-31"},
        {"0 0 32 * *", "cron field 'day-of-month' value 32 out of range 1-31"},
        {"0 0 * 0 *", "cron field 'month' value 0 out of range 1-12"},
        {"0 0 * 13 *", "cron field 'month' value 13 out of range 1-12"},
        {"0 0 * * 8", "cron field 'day-of-week' value 8 out of range 0-7"},
        {"99999999999 * * * *", "cron field 'minute' value 99999999999 out of range 0-59"},
        {"0 1-24 * * *", "cron field 'hour' value 24 out of range 0-23"},
        {"5-1 * * * *", "cron field 'minute' range 5-1 is reversed (start after end)"},
        {"0 0 * * FRI-MON", "cron field 'day-of-week' range FRI-MON is reversed (start after end)"},
        {"0 0 * DEC-JAN *", "cron field 'month' range DEC-JAN is reversed (start after end)"},
        {"*/0 * * * *", "cron field 'minute' step 0 out of range 1-59"},
        {"0-30/0 * * * *", "cron field 'minute' step 0 out of range 1-59"},
        {"*/60 * * * *", "cron field 'minute' step 60 out of range 1-59"},
        {"0 */24 * * *", "cron field 'hour' step 24 out of range 1-23"},
        {"0 0 * * */7", "cron field 'day-of-week' step 7 out of range 1-6"},
        {"1,,2 * * * *", "cron field 'minute' has an empty list item"},
        {",1 * * * *", "cron field 'minute' has an empty list item"},
        {"0 1, * * *", "cron field 'hour' has an empty list item"},
        {"0 0 * FOO *", "cron field 'month' has unknown name 'FOO' (expected JAN-DEC)"},
        {"0 0 * * MONDAY", "cron field 'day-of-week' has unknown name 'MONDAY' (expected SUN-SAT)"},
        {"0 0 * * JAN", "cron field 'day-of-week' has unknown name 'JAN' (expected SUN-SAT)"},
        {"0 MON * * *", "cron field 'hour' value 'MON' is not a number"},
        {"0 0 L * *", "cron field 'day-of-month' value 'L' is not a number"},
        {"5x * * * *", "cron field 'minute' has unexpected 'x' in '5x'"},
        {"1-2-3 * * * *", "cron field 'minute' has unexpected '-3' in '1-2-3'"},
        {"*/5/2 * * * *", "cron field 'minute' has unexpected '/2' in '*/5/2'"},
        {"*-5 * * * *", "cron field 'minute' has unexpected '-5' in '*-5'"},
        {"0 0 * * MON1", "cron field 'day-of-week' has unexpected '1' in 'MON1'"},
        {"5- * * * *", "cron field 'minute' expected a number in '5-'"},
        {"-5 * * * *", "cron field 'minute' expected a number in '-5'"},
        {"? * * * *", "cron field 'minute' expected a number in '?'"},
        {"*/ * * * *", "cron field 'minute' step is missing in '*/'"},
        {"@reboot", "unknown cron macro '@reboot' (expected @yearly, @annually, @monthly, "
                    "@weekly, @daily, @midnight or @hourly)"},
        {"@daily 0", "cron macro '@daily' takes no fields, found '0'"},
        {"0 0 * * 1\x01", "cron expression has a control or non-ASCII byte at offset 9"},
        {"0 0 * * 1\xc3\xa9", "cron expression has a control or non-ASCII byte at offset 9"},
        {too_long, "cron expression is longer than 1024 bytes"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        static char sentinel;
        sl_cron *c = (sl_cron *)&sentinel; /* must come back NULL */
        sl_err err;
        sl_err_clear(&err);
        sl_code rc = sl_cron_parse(cases[i].expr, &c, &err);
        if (rc != SL_EINVAL || strcmp(err.msg, cases[i].msg) != 0)
            fail_msg("'%s': got %s \"%s\", want EINVAL \"%s\"",
                     cases[i].expr ? cases[i].expr : "(null)", sl_code_name(rc), err.msg,
                     cases[i].msg);
        assert_null(c);
        assert_int_equal(err.code, SL_EINVAL);
    }
    /* A NULL err is allowed. */
    sl_cron *c = NULL;
    assert_int_equal(sl_cron_parse("61 * * * *", &c, NULL), SL_EINVAL);
    assert_null(c);
    sl_cron_free(NULL);
}

/* ---- cross-check against a brute-force minute scan -------------------------------------- */

/* splitmix64: a fixed seed makes every run test the same expressions. */
static uint64_t rng_state = 0x5eed0c0ffee15badULL;

static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static int rnd(int lo, int hi)
{
    return lo + (int)(rng() % (uint64_t)(hi - lo + 1));
}

/* The test's own model of an expression, built alongside its text. */
typedef struct model {
    bool minute[60], hour[24], dom[32], month[13], dow[8];
    bool dom_star, dow_star;
} model;

typedef struct gen_field {
    int min, max, star_max, step_max;
    const char *const *names;
} gen_field;

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

/* Append value v, as a name in random case when the field has one. */
static void put_value(char *buf, size_t len, const gen_field *f, int v)
{
    size_t n = strlen(buf);
    int ni = v - f->min;
    if (f->names && ni < (f->names == dow_names ? 7 : 12) && rnd(0, 2) == 0) {
        const char *name = f->names[ni];
        char up[4];
        for (int i = 0; i < 3; i++)
            up[i] = (char)(rnd(0, 1) ? name[i] - 'a' + 'A' : name[i]);
        up[3] = '\0';
        snprintf(buf + n, len - n, "%s", up);
    } else {
        snprintf(buf + n, len - n, "%d", v);
    }
}

/* Append one random field to buf and mark its values in set[]; returns whether it is `*`. */
static bool gen_one_field(char *buf, size_t len, const gen_field *f, bool *set, int star_pct)
{
    if (rnd(0, 99) < star_pct) {
        if (rnd(0, 3) == 0) {
            int step = rnd(1, f->step_max);
            size_t n = strlen(buf);
            snprintf(buf + n, len - n, "*/%d", step);
            for (int v = f->min; v <= f->star_max; v += step)
                set[v] = true;
            return step == 1;
        }
        strcat(buf, "*");
        for (int v = f->min; v <= f->star_max; v++)
            set[v] = true;
        return true;
    }
    int items = rnd(1, 3);
    for (int i = 0; i < items; i++) {
        if (i > 0)
            strcat(buf, ",");
        int a = rnd(f->min, f->max), b = rnd(f->min, f->max);
        int lo = a < b ? a : b, hi = a < b ? b : a;
        size_t n;
        switch (rnd(0, 4)) {
        case 0: /* single value, the most common kind */
        case 1:
            put_value(buf, len, f, a);
            set[a] = true;
            break;
        case 2: /* range */
            put_value(buf, len, f, lo);
            strcat(buf, "-");
            if (f->names == dow_names && hi == 7 && lo > 0 && rnd(0, 1)) {
                strcat(buf, rnd(0, 1) ? "SUN" : "0"); /* wraps to 7 */
            } else {
                put_value(buf, len, f, hi);
            }
            for (int v = lo; v <= hi; v++)
                set[v] = true;
            break;
        case 3: { /* range with step */
            int step = rnd(1, f->step_max);
            put_value(buf, len, f, lo);
            strcat(buf, "-");
            put_value(buf, len, f, hi);
            n = strlen(buf);
            snprintf(buf + n, len - n, "/%d", step);
            for (int v = lo; v <= hi; v += step)
                set[v] = true;
            break;
        }
        default: { /* value with step: to the field's maximum */
            int step = rnd(1, f->step_max);
            put_value(buf, len, f, a);
            n = strlen(buf);
            snprintf(buf + n, len - n, "/%d", step);
            int end = a > f->star_max ? a : f->star_max;
            for (int v = a; v <= end; v += step)
                set[v] = true;
            break;
        }
        }
    }
    return false;
}

static void gen_expr(char *buf, size_t len, model *m)
{
    static const gen_field gf[5] = {
        {0, 59, 59, 59, NULL},        {0, 23, 23, 23, NULL},   {1, 31, 31, 30, NULL},
        {1, 12, 12, 11, month_names}, {0, 7, 6, 6, dow_names},
    };
    memset(m, 0, sizeof(*m));
    buf[0] = '\0';
    gen_one_field(buf, len, &gf[0], m->minute, 15);
    strcat(buf, " ");
    gen_one_field(buf, len, &gf[1], m->hour, 25);
    strcat(buf, " ");
    if (rnd(0, 19) == 0) {
        /* Late days in short months: rare, leap-only or never. */
        int d = rnd(29, 31);
        bool feb = rnd(0, 1);
        size_t n = strlen(buf);
        snprintf(buf + n, len - n, "%d %s", d, feb ? "2" : "4,6");
        m->dom[d] = true;
        m->month[2] = feb;
        m->month[4] = m->month[6] = !feb;
        m->dom_star = false;
    } else {
        m->dom_star = gen_one_field(buf, len, &gf[2], m->dom, 50);
        strcat(buf, " ");
        gen_one_field(buf, len, &gf[3], m->month, 50);
    }
    strcat(buf, " ");
    m->dow_star = gen_one_field(buf, len, &gf[4], m->dow, 60);
    m->dow[0] = m->dow[0] || m->dow[7];
}

static int64_t fdiv(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Vixie's test, written out: AND when either day field is `*`, otherwise OR. */
static bool model_day_matches(const model *m, const struct tm *tm)
{
    bool dom = m->dom[tm->tm_mday], dow = m->dow[tm->tm_wday];
    if (!m->month[tm->tm_mon + 1])
        return false;
    return (m->dom_star || m->dow_star) ? (dom && dow) : (dom || dow);
}

/* The first matching minute after after_ms within the horizon, minute by minute (whole days
 * that do not match are skipped, which cannot skip a match), using the C library's gmtime. */
static int64_t brute_next(const model *m, int64_t after_ms)
{
    int64_t first = fdiv(after_ms, MIN_MS) + 1;
    int64_t last = fdiv(after_ms + SL_CRON_HORIZON_DAYS * DAY_MS, MIN_MS);
    for (int64_t t = first; t <= last;) {
        time_t secs = (time_t)(t * 60);
        struct tm tm;
        gmtime_r(&secs, &tm);
        if (!model_day_matches(m, &tm)) {
            t = (fdiv(t, 1440) + 1) * 1440;
            continue;
        }
        if (m->hour[tm.tm_hour] && m->minute[tm.tm_min])
            return t * MIN_MS;
        t++;
    }
    return -1;
}

static void next_matches_a_brute_force_minute_scan(void **state)
{
    (void)state;
    int64_t lo = at("1960-01-01T00:00:00Z"), hi = at("2300-01-01T00:00:00Z");
    int n_never = 0, n_fires = 0;
    for (int i = 0; i < 3000; i++) {
        char expr[256];
        model m;
        gen_expr(expr, sizeof(expr), &m);
        sl_cron *c = parse_ok(expr);
        int64_t t = lo + (int64_t)(rng() % (uint64_t)(hi - lo));
        if (rnd(0, 3) == 0)
            t = fdiv(t, MIN_MS) * MIN_MS; /* exactly on a minute */
        for (int k = 0; k < 4; k++) {
            int64_t want = brute_next(&m, t);
            int64_t got = sl_cron_next(c, t);
            if (got != want) {
                char a[32], g[32], w[32];
                fail_msg("'%s' (text '%s') after %s: got %s, want %s", expr, sl_cron_text(c),
                         fmt(t, a, sizeof(a)), fmt(got, g, sizeof(g)), fmt(want, w, sizeof(w)));
            }
            if (got == -1) {
                n_never++;
                break;
            }
            n_fires++;
            t = rnd(0, 1) ? got : got + rnd(1, 59999); /* from the fire time or just past it */
        }
        sl_cron_free(c);
    }
    fprintf(stderr, "never %d fires %d\n", n_never, n_fires);
    /* The generator must exercise both outcomes. */
    assert_true(n_never > 20);
    assert_true(n_fires > 5000);
}

/* ---- time zones ---------------------------------------------------------------------- */

static const char *const zones[] = {
    "Europe/Amsterdam",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Europe/Dublin",
    "America/Sao_Paulo",
    "Pacific/Apia",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "Africa/Casablanca",
    NULL,
};

static sl_tz *tz_ok(const char *name)
{
    sl_tz *tz = NULL;
    sl_err err;
    sl_err_clear(&err);
    if (sl_tz_load(name, &tz, &err) != SL_OK)
        fail_msg("time zone %s did not load: %s", name, err.msg);
    return tz;
}

static long libc_offset(int64_t t)
{
    time_t secs = (time_t)t;
    struct tm tm;
    localtime_r(&secs, &tm);
    return tm.tm_gmtoff;
}

static void use_libc_zone(const char *name)
{
    setenv("TZ", name, 1);
    tzset();
}

/* Every 3 hours (plus a stray second) from 1970 to 2060, and every 3 days back to 1900: the table,
 * the footer rule past 2037, and the zones' odd histories all agree with glibc. */
static void offsets_match_the_c_library(void **state)
{
    (void)state;
    for (int z = 0; zones[z]; z++) {
        sl_tz *tz = tz_ok(zones[z]);
        use_libc_zone(zones[z]);
        int64_t checked = 0;
        for (int64_t t = at("1900-01-01T00:00:00Z") / 1000; t < at("2060-01-01T00:00:00Z") / 1000;
             t += t < 0 ? 3 * 86400 + 7 : 3 * 3600 + 1) {
            long want = libc_offset(t);
            int32_t got = sl_tz_offset(tz, t);
            if (got != want) {
                char a[32];
                fail_msg("%s at %s: offset %d, C library says %ld", zones[z],
                         fmt(t * 1000, a, sizeof(a)), got, want);
            }
            checked++;
        }
        assert_true(checked > 250000);
        sl_tz_free(tz);
    }
    unsetenv("TZ");
    tzset();
}

/* The first minute after t whose local reading (localtime) c selects, scanning minutes. */
static int64_t brute_next_local(const sl_cron *c, int64_t t)
{
    for (int64_t u = fdiv(t, MIN_MS) + 1; u < fdiv(t, MIN_MS) + 40 * 1440; u++) {
        time_t secs = (time_t)(u * 60);
        struct tm tm;
        localtime_r(&secs, &tm);
        /* the local reading, taken as UTC, must be what sl_cron_next selects */
        int64_t local = u * MIN_MS + (int64_t)tm.tm_gmtoff * 1000;
        int64_t hit = sl_cron_next(c, local - 1);
        if (hit == local)
            return u * MIN_MS;
        /* nothing left this local day (sl_cron_next is checked against a brute-force scan
         * above): skip to three hours before the local day ends, which no change of offset
         * can overshoot */
        int64_t day_end = (fdiv(local, DAY_MS) + 1) * DAY_MS;
        if ((hit < 0 || hit >= day_end) && (day_end - local) / MIN_MS > 181)
            u += (day_end - local) / MIN_MS - 181;
    }
    return -1;
}

/* All hours selected: fires are exactly the minutes whose local reading matches, found by a
 * minute scan with localtime, from every other day of the months in which zones change
 * their clocks (March, April, September to November, 2024-2026). */
static void every_hour_schedules_follow_real_time(void **state)
{
    (void)state;
    static const char *const exprs[] = {"*/30 * * * *", "15 * * * *", "0,59 * * * *",
                                        "*/7 * * * SUN", NULL};
    static const int months[] = {3, 4, 9, 10, 11};
    for (int z = 0; zones[z]; z++) {
        sl_tz *tz = tz_ok(zones[z]);
        use_libc_zone(zones[z]);
        for (int e = 0; exprs[e]; e++) {
            sl_cron *c = parse_ok(exprs[e]);
            int fires = 0;
            for (int y = 2024; y <= 2026; y++)
                for (int m = 0; m < 5; m++)
                    for (int d = 1; d <= 29; d += 2) {
                        char start[32];
                        snprintf(start, sizeof(start), "%04d-%02d-%02dT%02d:%02d:00Z", y, months[m],
                                 d, (d * 5) % 24, (d * 13) % 60);
                        int64_t t = at(start);
                        for (int k = 0; k < 4; k++) {
                            int64_t got = sl_cron_next_tz(c, tz, t);
                            int64_t want = brute_next_local(c, t);
                            if (got != want) {
                                char a[32], g[32], w[32];
                                fail_msg("%s '%s' after %s: got %s, want %s", zones[z], exprs[e],
                                         fmt(t, a, sizeof(a)), fmt(got, g, sizeof(g)),
                                         fmt(want, w, sizeof(w)));
                            }
                            t = got + (k == 1 ? 17 * MIN_MS : 0);
                            fires++;
                        }
                    }
            assert_true(fires > 800);
            sl_cron_free(c);
        }
        sl_tz_free(tz);
    }
    unsetenv("TZ");
    tzset();
}

static void expect_next_tz(const char *zone, const char *expr, const char *after, const char *want)
{
    sl_tz *tz = tz_ok(zone);
    sl_cron *c = parse_ok(expr);
    int64_t got = sl_cron_next_tz(c, tz, at(after));
    if (got != at(want)) {
        char g[32];
        fail_msg("%s '%s' after %s: got %s, want %s", zone, expr, after, fmt(got, g, sizeof(g)),
                 want);
    }
    sl_cron_free(c);
    sl_tz_free(tz);
}

/* Specific hours: each wall-clock time once; a time in a spring-forward gap runs late
 * rather than not at all; a time repeated at fall-back runs at its first occurrence. */
static void specific_hours_fire_once_per_wall_clock_time(void **state)
{
    (void)state;
    static const struct {
        const char *zone, *expr, *after, *want;
    } cases[] = {
        /* Amsterdam 2026: clocks go 02:00 -> 03:00 on 29 March (01:00Z), 03:00 -> 02:00 on
         * 25 October (01:00Z). */
        {"Europe/Amsterdam", "0 2 * * *", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"},
        {"Europe/Amsterdam", "0 2 * * *", "2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z"},
        {"Europe/Amsterdam", "30 2 * * *", "2026-03-28T12:00:00Z", "2026-03-29T01:30:00Z"},
        {"Europe/Amsterdam", "30 2 * * *", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z"},
        {"Europe/Amsterdam", "30 2 * * *", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"},
        {"Europe/Amsterdam", "*/20 2 * * *", "2026-10-25T00:50:00Z", "2026-10-26T01:00:00Z"},
        {"Europe/Amsterdam", "0 9 * * *", "2026-11-25T00:00:00Z", "2026-11-25T08:00:00Z"},
        {"Europe/Amsterdam", "0 9 * * *", "2026-07-01T00:00:00Z", "2026-07-01T07:00:00Z"},
        /* past the last transition in the file: the footer rule */
        {"Europe/Amsterdam", "0 12 * * *", "2050-07-01T00:00:00Z", "2050-07-01T10:00:00Z"},
        {"Europe/Amsterdam", "0 12 * * *", "2050-12-01T00:00:00Z", "2050-12-01T11:00:00Z"},
        /* New York, weekdays at nine: EST in November, EDT in July */
        {"America/New_York", "0 9 * * MON-FRI", "2026-11-25T00:00:00Z", "2026-11-25T14:00:00Z"},
        {"America/New_York", "0 9 * * MON-FRI", "2026-07-04T00:00:00Z", "2026-07-06T13:00:00Z"},
        /* Sydney, southern hemisphere: 03:00 -> 02:00 on 5 April 2026 (16:00Z the day before) */
        {"Australia/Sydney", "0 2 * * *", "2026-04-04T00:00:00Z", "2026-04-04T15:00:00Z"},
        {"Australia/Sydney", "0 2 * * *", "2026-04-04T15:00:00Z", "2026-04-05T16:00:00Z"},
        /* no daylight saving, half-hour offset */
        {"Asia/Kolkata", "0 0 1 1 *", "2026-06-01T00:00:00Z", "2026-12-31T18:30:00Z"},
        /* UTC spellings need no zone file */
        {"Etc/UTC", "0 2 * * *", "2026-03-28T12:00:00Z", "2026-03-29T02:00:00Z"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_next_tz(cases[i].zone, cases[i].expr, cases[i].after, cases[i].want);
}

static void bad_zones_are_refused_with_one_line(void **state)
{
    (void)state;
    sl_tz *tz = NULL;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_tz_load("Mars/Olympus_Mons", &tz, &err), SL_EINVAL);
    assert_null(tz);
    assert_non_null(strstr(err.msg, "unknown time zone 'Mars/Olympus_Mons'"));
    static const char *const bad[] = {
        "", "../../etc/passwd", "/etc/localtime", "Europe/", "Europe//Paris",
        "Europe/Paris now", "./UTC",          NULL};
    for (int i = 0; bad[i]; i++) {
        sl_err_clear(&err);
        assert_int_equal(sl_tz_load(bad[i], &tz, &err), SL_EINVAL);
        assert_non_null(strstr(err.msg, "invalid time zone name"));
        assert_null(strchr(err.msg, '\n'));
    }
    /* a corrupt zone file, and UTC without any zone directory */
    char dir[] = "/tmp/sluice-test-tz.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char file[64];
    snprintf(file, sizeof(file), "%s/Bad", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("TZif2 but then nothing that makes sense", f);
    fclose(f);
    setenv("TZDIR", dir, 1);
    sl_err_clear(&err);
    assert_int_equal(sl_tz_load("Bad", &tz, &err), SL_EINVAL);
    assert_non_null(strstr(err.msg, "not a valid TZif file"));
    assert_int_equal(sl_tz_load("UTC", &tz, &err), SL_OK);
    assert_string_equal(sl_tz_name(tz), "UTC");
    assert_int_equal(sl_tz_offset(tz, 1700000000), 0);
    sl_tz_free(tz);
    unsetenv("TZDIR");
    unlink(file);
    rmdir(dir);
}

/* Damaged zone files (bytes flipped, counts changed, footers mangled, truncated) are either
 * read or refused with SL_EINVAL; reading them never goes out of bounds (run under ASan). */
static void damaged_zone_files_never_crash(void **state)
{
    (void)state;
    FILE *f = fopen("/usr/share/zoneinfo/Europe/Amsterdam", "rb");
    assert_non_null(f);
    static unsigned char orig[8192];
    size_t n = fread(orig, 1, sizeof(orig), f);
    fclose(f);
    assert_true(n > 44 && n < sizeof(orig));
    char dir[] = "/tmp/sluice-test-tzf.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char file[64];
    snprintf(file, sizeof(file), "%s/Damaged", dir);
    setenv("TZDIR", dir, 1);
    sl_cron *c = parse_ok("30 2 * * *");
    int loaded = 0, refused = 0;
    for (int round = 0; round < 3000; round++) {
        unsigned char buf[8192];
        memcpy(buf, orig, n);
        size_t len = n;
        int kind = rnd(0, 4);
        if (kind == 0) { /* a count in one of the two headers */
            size_t at = (rnd(0, 1) ? 0 : 44 + 0) + 20 + (size_t)rnd(0, 23);
            buf[at] = (unsigned char)rng();
        } else if (kind == 1) { /* random bytes anywhere */
            for (int k = rnd(1, 8); k > 0; k--)
                buf[rng() % len] = (unsigned char)rng();
        } else if (kind == 2) { /* truncated */
            len = (size_t)rnd(0, (int)len - 1);
        } else if (kind == 3) { /* the footer */
            for (size_t k = len - 2; k > len - 30; k--)
                if (rnd(0, 3) == 0)
                    buf[k] = (unsigned char)"M.,/<>-+0123456789ABCDJ"[rng() % 23];
        } else { /* the transition table */
            size_t at = 44 + (size_t)rnd(0, 400);
            if (at < len)
                buf[at] ^= (unsigned char)(1u << rnd(0, 7));
        }
        FILE *w = fopen(file, "wb");
        assert_non_null(w);
        fwrite(buf, 1, len, w);
        fclose(w);
        sl_tz *tz = NULL;
        sl_err err;
        sl_err_clear(&err);
        sl_code rc = sl_tz_load("Damaged", &tz, &err);
        if (rc == SL_OK) {
            loaded++;
            for (int64_t t = -4000000000LL; t < 4000000000LL; t += 123456789)
                (void)sl_tz_offset(tz, t);
            int64_t a = at("2026-03-01T00:00:00Z");
            for (int k = 0; k < 5 && a > 0; k++)
                a = sl_cron_next_tz(c, tz, a);
            sl_tz_free(tz);
        } else {
            assert_int_equal(rc, SL_EINVAL);
            assert_null(tz);
            assert_null(strchr(err.msg, '\n'));
            refused++;
        }
    }
    fprintf(stderr, "damaged zone files: %d read, %d refused\n", loaded, refused);
    assert_true(loaded > 100 && refused > 100);
    sl_cron_free(c);
    unsetenv("TZDIR");
    unlink(file);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(macros_expand_to_their_five_field_forms),
        cmocka_unit_test(text_is_normalised_and_reparses_to_the_same_schedule),
        cmocka_unit_test(every_15_minutes_fires_four_times_an_hour),
        cmocka_unit_test(ranges_steps_and_lists_select_the_listed_values),
        cmocka_unit_test(names_are_case_insensitive_and_work_in_ranges),
        cmocka_unit_test(zero_seven_and_sun_all_mean_sunday),
        cmocka_unit_test(day_of_month_or_day_of_week_when_both_are_restricted),
        cmocka_unit_test(only_the_restricted_day_field_applies_when_the_other_is_star),
        cmocka_unit_test(next_is_strictly_after_and_on_a_whole_minute),
        cmocka_unit_test(month_and_year_roll_over),
        cmocka_unit_test(leap_day_fires_only_in_leap_years),
        cmocka_unit_test(search_ends_exactly_at_the_horizon),
        cmocka_unit_test(impossible_dates_never_fire),
        cmocka_unit_test(times_outside_years_1_to_9999_give_minus_one),
        cmocka_unit_test(parse_errors_name_the_field_and_the_reason),
        cmocka_unit_test(next_matches_a_brute_force_minute_scan),
        cmocka_unit_test(offsets_match_the_c_library),
        cmocka_unit_test(every_hour_schedules_follow_real_time),
        cmocka_unit_test(specific_hours_fire_once_per_wall_clock_time),
        cmocka_unit_test(bad_zones_are_refused_with_one_line),
        cmocka_unit_test(damaged_zone_files_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
