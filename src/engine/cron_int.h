/*
 * cron_int.h - private to cron.c and tz.c: the calendar helpers both use (the day arithmetic
 * itself is sl_days_from_civil, util.h) and what cron.c needs from a zone to read a cron
 * expression in local time.
 */
#ifndef SLUICE_ENGINE_CRON_INT_H
#define SLUICE_ENGINE_CRON_INT_H

#include "sluice/cron.h"

/* Items quoted in error messages are cut to this many bytes, keeping messages short. */
#define SL__QUOTE_MAX 32

static inline int64_t sl__floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static inline bool sl__is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static inline int sl__days_in_month(int64_t y, int m)
{
    static const int dim[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && sl__is_leap(y) ? 29 : dim[m];
}

/* 0 = Sunday; 1970-01-01 was a Thursday. */
static inline int sl__weekday(int64_t days)
{
    return (int)((days % 7 + 11) % 7);
}

/* tz NULL or a UTC zone: cron reads its fields in UTC. */
bool sl__tz_is_utc(const sl_tz *tz);
/* The first instant after t (Unix s) at which tz's offset may change; INT64_MAX if never. */
int64_t sl__tz_next_change(const sl_tz *tz, int64_t t);
/*
 * The instant (Unix s) a local wall-clock reading (Unix s as if UTC) happens. A reading that
 * happens twice (clocks going back) is its first occurrence; one that never happens (clocks
 * going forward) is read with the offset from before the change, so 02:30 in a
 * 02:00 -> 03:00 gap is 03:30.
 */
int64_t sl__tz_local_to_utc(const sl_tz *tz, int64_t local);

#endif
