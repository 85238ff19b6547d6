/*
 * cron.h - 5-field cron expressions for schedules ("m h dom mon dow"): parse once, then
 * ask for the next fire time, in UTC or in an IANA time zone (sl_tz, read from the system's
 * tzdata). Never reads the clock or the process's TZ (calendar arithmetic: sl_days_from_civil).
 *
 * Syntax (Vixie cron / POSIX):
 *   field          range   names
 *   minute         0-59
 *   hour           0-23
 *   day-of-month   1-31
 *   month          1-12    JAN-DEC
 *   day-of-week    0-7     SUN-SAT   (0 and 7 are both Sunday)
 * Fields are separated by whitespace. Each is a comma list of items; an item is `*`, a
 * value `a` or a range `a-b`, optionally followed by a step `/n`. A value with a step
 * runs to the field's maximum (`10/20` in minute = 10,30,50; Saturday is the maximum
 * for day-of-week). Names are three letters, any case, and may appear in ranges.
 * A step runs from 1 to the field's span minus one (minute 1-59): a larger step would
 * select a single value, which is almost always a mistake (a minute step of 90 is not
 * "every 90 minutes"). In day-of-week a range ending on Sunday wraps to 7 ("FRI-SUN"
 * = 5-7).
 * Macros: @yearly = @annually = "0 0 1 1 *", @monthly = "0 0 1 * *",
 * @weekly = "0 0 * * 0", @daily = @midnight = "0 0 * * *", @hourly = "0 * * * *".
 *
 * Day rule (Vixie): when day-of-month and day-of-week are both restricted, a day fires
 * if EITHER matches ("0 0 13 * FRI" = every 13th and every Friday); when one of them is
 * unrestricted, only the other applies. A field is unrestricted when it is exactly `*`
 * (a step of 1 allowed); unlike Vixie, `*` with a larger step counts as a restriction.
 *
 * Invariants: (1) a parsed sl_cron never changes; (2) every field selects at least one
 * value, so only day-of-month/month combinations can make a schedule never fire;
 * (3) sl_cron_parse(sl_cron_text(c)) selects exactly the same fire times as c.
 *
 * Threads: an sl_cron is immutable after sl_cron_parse; share it freely.
 */
#ifndef SLUICE_CRON_H
#define SLUICE_CRON_H

#include "sluice/util.h"

/* sl_cron_next looks this far past after_ms: five years, counting two leap days. */
#define SL_CRON_HORIZON_DAYS 1827
/* Longest expression sl_cron_parse accepts, in bytes. */
#define SL_CRON_TEXT_MAX 1024

typedef struct sl_cron sl_cron;

/*
 * Parse a cron expression: five whitespace-separated fields, or one of the macros
 * above (surrounding whitespace is ignored).
 * On SL_OK *out holds the schedule; release it with sl_cron_free().
 * SL_EINVAL: expr is malformed (not retryable); *out is NULL and err->msg is one line
 * naming the field and the reason, e.g. "cron field 'hour' value 24 out of range 0-23".
 * Never blocks.
 */
SL_MUST_USE sl_code sl_cron_parse(const char *expr, sl_cron **out, sl_err *err);

/* Release c (NULL is fine). */
void sl_cron_free(sl_cron *c);

/*
 * First fire time strictly after after_ms (Unix ms, UTC), always on a whole minute,
 * and at most SL_CRON_HORIZON_DAYS later; -1 if there is none in that window (e.g.
 * "0 0 30 2 *") or after_ms lies outside 0001-01-01..9999-12-31. -1 is never a fire
 * time itself, since it is not on a whole minute. Pure and thread-safe; it skips by
 * field (month, then day, hour, minute), so a call costs microseconds even when the
 * answer is years away.
 */
int64_t sl_cron_next(const sl_cron *c, int64_t after_ms);

/*
 * The normalised expression (borrowed; lives as long as c): fields joined by single
 * spaces, names upper-cased ("0 9 * JAN,JUL MON-FRI"), a macro lower-cased ("@daily").
 */
const char *sl_cron_text(const sl_cron *c);

/* ---- time zones (src/engine/tz.c) --------------------------------------------------- */

/*
 * Time zones. sl_tz_load reads an IANA zone ("Europe/Amsterdam", "America/New_York") from
 * $TZDIR or /usr/share/zoneinfo (TZif, RFC 8536, including the footer rule for years past the
 * table); "UTC", "Etc/UTC" and "Z" need no file. SL_EINVAL with one line for a malformed or
 * unknown name or a corrupt file. An sl_tz is immutable: share it across threads.
 */
typedef struct sl_tz sl_tz;

SL_MUST_USE sl_code sl_tz_load(const char *name, sl_tz **out, sl_err *err);
void sl_tz_free(sl_tz *tz);
/* The name it was loaded by ("UTC" for all UTC spellings and for NULL). */
const char *sl_tz_name(const sl_tz *tz);
/* Offset from UTC in seconds (east positive) at the instant unix_s. tz NULL: UTC. */
int32_t sl_tz_offset(const sl_tz *tz, int64_t unix_s);

/* ---- cron in a time zone ------------------------------------------------------------- */

/*
 * sl_cron_next with the fields read as wall-clock time in tz (NULL: UTC). Returns Unix ms.
 * Daylight-saving changes, as Vixie cron treats them:
 *  - hour field `*` (all hours): the schedule follows real time; a reading in a repeated
 *    hour fires at both occurrences, readings inside a skipped hour do not happen;
 *  - specific hours ("0 2 * * *"): each wall-clock time fires once. A time that happens
 *    twice fires at its first occurrence; a time inside a gap fires as if the clock had not
 *    moved yet (02:30 in a 02:00 -> 03:00 gap fires at 03:30), so a nightly job still runs.
 */
int64_t sl_cron_next_tz(const sl_cron *c, const sl_tz *tz, int64_t after_ms);

#endif
