/* fuzz_duration_cron.c - the schedule and timeout text parsers: durations ("1m30s",
 * sl_duration_parse), UTC timestamps (sl_time_parse) and cron expressions (sl_cron_parse,
 * then sl_cron_next in UTC and in a zone with daylight saving time). The input is one C
 * string given to all three. Properties: a parsed duration lies in range and survives
 * sl_duration_format; cron.h's invariant (3), sl_cron_parse(sl_cron_text(c)) fires
 * exactly when c does; every fire time is on a whole minute, after its start and inside
 * the horizon. */
#include "fuzz.h"
#include "sluice/cron.h"

#define MINUTE_MS INT64_C(60000)
#define DAY_MS    (INT64_C(86400) * 1000)

static sl_tz *zones[3];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sl_log_set_level(SL_LOG_OFF);
    static const char *const names[] = {"UTC", "Europe/Amsterdam", "Australia/Lord_Howe"};
    for (int i = 0; i < 3; i++) {
        sl_err err;
        if (sl_tz_load(names[i], &zones[i], &err) != SL_OK) {
            fprintf(stderr, "fuzz_duration_cron: %s\n", err.msg);
            abort();
        }
    }
    return 0;
}

static void check_duration(const char *s)
{
    int64_t ms = -1;
    sl_err err;
    if (sl_duration_parse(s, &ms, &err) != SL_OK) {
        FUZZ_CHECK(err.code == SL_EINVAL && err.msg[0], "no message");
        return;
    }
    FUZZ_CHECK(ms >= 0 && ms <= INT64_C(100) * 365 * DAY_MS, "'%s' -> %lld ms", s, (long long)ms);
    char buf[64];
    int64_t back = -1;
    sl_duration_format(ms, buf, sizeof(buf));
    FUZZ_CHECK(sl_duration_parse(buf, &back, &err) == SL_OK && back == ms,
               "'%s' -> %lld ms -> '%s' -> %lld ms", s, (long long)ms, buf, (long long)back);
}

static void check_time(const char *s)
{
    int64_t ms;
    sl_err err;
    if (sl_time_parse(s, &ms, &err) == SL_OK) {
        char buf[64];
        sl_time_format(ms, buf, sizeof(buf));
    }
}

static void check_next(const sl_cron *c, const sl_cron *again, const sl_tz *tz, int64_t after)
{
    int64_t t = sl_cron_next_tz(c, tz, after);
    int64_t u = sl_cron_next_tz(again, tz, after);
    FUZZ_CHECK(t == u, "'%s' and its text '%s' disagree after %lld: %lld vs %lld", sl_cron_text(c),
               sl_cron_text(again), (long long)after, (long long)t, (long long)u);
    if (t == -1)
        return;
    FUZZ_CHECK(t > after && t % MINUTE_MS == 0 && t - after <= (SL_CRON_HORIZON_DAYS + 2) * DAY_MS,
               "'%s' after %lld in %s: %lld", sl_cron_text(c), (long long)after, sl_tz_name(tz),
               (long long)t);
}

static void check_cron(const char *s, size_t size)
{
    sl_cron *c = NULL, *again = NULL;
    sl_err err;
    if (sl_cron_parse(s, &c, &err) != SL_OK) {
        FUZZ_CHECK(!c && err.code == SL_EINVAL && err.msg[0], "refusal without message");
        return;
    }
    const char *text = sl_cron_text(c);
    FUZZ_CHECK(sl_cron_parse(text, &again, &err) == SL_OK, "'%s' -> '%s' does not parse: %s", s,
               text, err.msg);
    FUZZ_CHECK(strcmp(sl_cron_text(again), text) == 0, "'%s' -> '%s' -> '%s'", s, text,
               sl_cron_text(again));
    static const int64_t starts[] = {
        0,                        /* 1970-01-01 */
        INT64_C(1711846740000),   /* 2024-03-31 00:59 UTC, the Amsterdam spring change */
        INT64_C(1730595599000),   /* 2024-11-03, Lord Howe in summer time */
        INT64_C(253402300740000), /* 9999-12-31 23:59 UTC, the end of the range */
        INT64_C(-62135596800000), /* 0001-01-01 */
    };
    const sl_tz *tz = zones[size % 3];
    for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
        check_next(c, again, NULL, starts[i]);
        check_next(c, again, tz, starts[i]);
    }
    sl_cron_free(c);
    sl_cron_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_strndup(data, size);
    check_duration(s);
    check_time(s);
    check_cron(s, size);
    free(s);
    return 0;
}
