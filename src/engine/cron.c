/*
 * cron.c - cron expressions (cron.h): parsing into bit sets, and the next fire time in UTC or
 * read as wall-clock time in a zone (zones themselves are tz.c's). Never reads the clock or
 * the process's TZ.
 * Threads: a parsed sl_cron is immutable; every function here may run on any thread.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cron_int.h"

#define MINUTE_MS ((int64_t)60 * 1000)
#define DAY_MIN   ((int64_t)24 * 60)

/* sl_cron_next accepts after_ms within 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z. */
#define AFTER_MIN_MS ((int64_t)-62135596800000)
#define AFTER_MAX_MS ((int64_t)253402300799999)

struct sl_cron {
    uint64_t minutes; /* bit m: fires at minute m (0-59) */
    uint64_t hours;   /* bit h: hour h (0-23) */
    uint64_t doms;    /* bit d: day-of-month d (1-31) */
    uint64_t months;  /* bit m: month m (1-12) */
    uint64_t dows;    /* bit w: weekday w, 0 = Sunday .. 6 (7 is folded into 0) */
    bool dom_any;     /* day-of-month was `*`: only day-of-week restricts days */
    bool dow_any;     /* day-of-week was `*`: only day-of-month restricts days */
    char text[];      /* normalised expression, see sl_cron_text */
};

enum { F_MINUTE, F_HOUR, F_DOM, F_MONTH, F_DOW, F_COUNT };

typedef struct field_spec {
    const char *name; /* as in error messages */
    int min, max;     /* accepted values */
    int star_max;     /* where `*` and `a/n` end: max, except Saturday (6) for day-of-week */
    int step_max;     /* largest step that can select two values */
    const char *const *names; /* 3-letter names for min.. in order, or NULL */
} field_spec;

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL",
                                          "AUG", "SEP", "OCT", "NOV", "DEC", NULL};
static const char *const dow_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL};

static const field_spec fields[F_COUNT] = {
    [F_MINUTE] = {"minute", 0, 59, 59, 59, NULL},
    [F_HOUR] = {"hour", 0, 23, 23, 23, NULL},
    [F_DOM] = {"day-of-month", 1, 31, 31, 30, NULL},
    [F_MONTH] = {"month", 1, 12, 12, 11, month_names},
    [F_DOW] = {"day-of-week", 0, 7, 6, 6, dow_names},
};

static const struct {
    const char *name;
    const char *expansion;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* ---- parsing ----------------------------------------------------------------------------- */

/* Lowest set bit of `set` at or above `from`, or -1. */
static int next_bit(uint64_t set, int from)
{
    if (from >= 64)
        return -1;
    uint64_t m = set & (~UINT64_C(0) << from);
    return m ? __builtin_ctzll(m) : -1;
}

static int quote_len(size_t n)
{
    return (int)(n < SL__QUOTE_MAX ? n : SL__QUOTE_MAX);
}

/*
 * Read one value (digits, or a name where the field has names) at *p within [*p, end).
 * `item`/`item_len` is the whole list item, for messages.
 */
static sl_code read_value(const field_spec *f, const char **p, const char *end, const char *item,
                          size_t item_len, int *out, sl_err *err)
{
    const char *s = *p;
    const char *e = s;
    if (e < end && isdigit((unsigned char)*e)) {
        while (e < end && isdigit((unsigned char)*e))
            e++;
        /* Seven digits cannot be in range; stop before int overflow. */
        long v = e - s > 6 ? 9999999 : strtol(s, NULL, 10);
        if (v < f->min || v > f->max)
            return sl_err_set(err, SL_EINVAL, "cron field '%s' value %.*s out of range %d-%d",
                              f->name, quote_len((size_t)(e - s)), s, f->min, f->max);
        *out = (int)v;
        *p = e;
        return SL_OK;
    }
    if (e < end && isalpha((unsigned char)*e)) {
        while (e < end && isalpha((unsigned char)*e))
            e++;
        int n = (int)(e - s);
        if (!f->names)
            return sl_err_set(err, SL_EINVAL, "cron field '%s' value '%.*s' is not a number",
                              f->name, quote_len((size_t)n), s);
        for (int i = 0; f->names[i]; i++) {
            if (n == 3 && strncasecmp(s, f->names[i], 3) == 0) {
                *out = f->min + i;
                *p = e;
                return SL_OK;
            }
        }
        return sl_err_set(
            err, SL_EINVAL, "cron field '%s' has unknown name '%.*s' (expected %s-%s)", f->name,
            quote_len((size_t)n), s, f->names[0], f == &fields[F_MONTH] ? "DEC" : "SAT");
    }
    return sl_err_set(err, SL_EINVAL, "cron field '%s' expected a number in '%.*s'", f->name,
                      quote_len(item_len), item);
}

/* Parse one list item [s, end) of field f into *set; *is_star says it was `*` or `*` step 1. */
static sl_code parse_item(const field_spec *f, const char *s, const char *end, uint64_t *set,
                          bool *is_star, sl_err *err)
{
    size_t len = (size_t)(end - s);
    const char *p = s;
    int lo, hi, step = 1;
    bool star = false, range = false;
    sl_code rc;
    if (p == end)
        return sl_err_set(err, SL_EINVAL, "cron field '%s' has an empty list item", f->name);
    if (*p == '*') {
        star = true;
        lo = f->min;
        hi = f->star_max;
        p++;
    } else {
        if ((rc = read_value(f, &p, end, s, len, &lo, err)) != SL_OK)
            return rc;
        hi = lo;
        if (p < end && *p == '-') {
            p++;
            if ((rc = read_value(f, &p, end, s, len, &hi, err)) != SL_OK)
                return rc;
            /* "FRI-SUN": a day-of-week range ending on Sunday means Sunday as 7. */
            if (f == &fields[F_DOW] && hi == 0 && lo > 0)
                hi = 7;
            if (lo > hi)
                return sl_err_set(err, SL_EINVAL,
                                  "cron field '%s' range %.*s is reversed (start after end)",
                                  f->name, quote_len(len), s);
            range = true;
        }
    }
    if (p < end && *p == '/') {
        const char *st = ++p;
        while (p < end && isdigit((unsigned char)*p))
            p++;
        if (p == st)
            return sl_err_set(err, SL_EINVAL, "cron field '%s' step is missing in '%.*s'", f->name,
                              quote_len(len), s);
        long v = p - st > 6 ? 9999999 : strtol(st, NULL, 10);
        if (v < 1 || v > f->step_max)
            return sl_err_set(err, SL_EINVAL, "cron field '%s' step %.*s out of range 1-%d",
                              f->name, quote_len((size_t)(p - st)), st, f->step_max);
        step = (int)v;
        if (!star && !range) /* "a/n": from a to the field's maximum ("7/2" is Sunday) */
            hi = lo > f->star_max ? lo : f->star_max;
    }
    if (p < end)
        return sl_err_set(err, SL_EINVAL, "cron field '%s' has unexpected '%.*s' in '%.*s'",
                          f->name, quote_len((size_t)(end - p)), p, quote_len(len), s);
    for (int v = lo; v <= hi; v += step)
        *set |= UINT64_C(1) << v;
    *is_star = star && step == 1;
    return SL_OK;
}

/* Parse field f's text [s, end) (a comma list) into *set. */
static sl_code parse_field(const field_spec *f, const char *s, const char *end, uint64_t *set,
                           bool *is_star, sl_err *err)
{
    int n_items = 0;
    bool star = false;
    *set = 0;
    for (;;) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *item_end = comma ? comma : end;
        sl_code rc = parse_item(f, s, item_end, set, &star, err);
        if (rc != SL_OK)
            return rc;
        n_items++;
        if (!comma)
            break;
        s = comma + 1;
    }
    *is_star = n_items == 1 && star;
    return SL_OK;
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

sl_code sl_cron_parse(const char *expr, sl_cron **out, sl_err *err)
{
    *out = NULL;
    if (!expr)
        return sl_err_set(err, SL_EINVAL, "cron expression is empty");
    size_t len = strnlen(expr, SL_CRON_TEXT_MAX + 1);
    if (len > SL_CRON_TEXT_MAX)
        return sl_err_set(err, SL_EINVAL, "cron expression is longer than %d bytes",
                          SL_CRON_TEXT_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)expr[i];
        if (!is_space((char)ch) && (ch < 0x20 || ch > 0x7e))
            return sl_err_set(err, SL_EINVAL,
                              "cron expression has a control or non-ASCII byte at offset %zu", i);
    }

    /* Split into whitespace-separated words (at most F_COUNT + 1 are kept). */
    const char *word[F_COUNT + 1], *word_end[F_COUNT + 1];
    int n = 0;
    for (const char *p = expr; *p;) {
        while (*p && is_space(*p))
            p++;
        if (!*p)
            break;
        const char *w = p;
        while (*p && !is_space(*p))
            p++;
        if (n <= F_COUNT) {
            word[n] = w;
            word_end[n] = p;
        }
        n++;
    }
    if (n == 0)
        return sl_err_set(err, SL_EINVAL, "cron expression is empty");

    const char *fs[F_COUNT], *fe[F_COUNT];
    const char *macro = NULL;
    if (word[0][0] == '@') {
        size_t wl = (size_t)(word_end[0] - word[0]);
        for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++) {
            if (strlen(macros[i].name) == wl && strncasecmp(word[0], macros[i].name, wl) == 0)
                macro = macros[i].name;
        }
        if (!macro)
            return sl_err_set(err, SL_EINVAL,
                              "unknown cron macro '%.*s' (expected @yearly, @annually, @monthly, "
                              "@weekly, @daily, @midnight or @hourly)",
                              quote_len(wl), word[0]);
        if (n > 1)
            return sl_err_set(err, SL_EINVAL, "cron macro '%s' takes no fields, found '%.*s'",
                              macro, quote_len((size_t)(word_end[1] - word[1])), word[1]);
        const char *x = NULL;
        for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++) {
            if (macros[i].name == macro)
                x = macros[i].expansion;
        }
        /* Expansions are "a b c d e" with one-byte fields. */
        for (int i = 0; i < F_COUNT; i++) {
            fs[i] = x + 2 * i;
            fe[i] = fs[i] + 1;
        }
    } else {
        if (n != F_COUNT)
            return sl_err_set(err, SL_EINVAL,
                              "cron expression has %d field%s, expected 5 (minute hour "
                              "day-of-month month day-of-week)",
                              n, n == 1 ? "" : "s");
        for (int i = 0; i < F_COUNT; i++) {
            fs[i] = word[i];
            fe[i] = word_end[i];
        }
    }

    uint64_t set[F_COUNT];
    bool star[F_COUNT];
    for (int i = 0; i < F_COUNT; i++) {
        sl_code rc = parse_field(&fields[i], fs[i], fe[i], &set[i], &star[i], err);
        if (rc != SL_OK)
            return rc;
    }

    /* Normalised text: macro name, or the fields upper-cased and joined by one space. */
    sl_cron *c = sl_xcalloc(1, sizeof(*c) + len + 1);
    char *t = c->text;
    if (macro) {
        strcpy(t, macro);
    } else {
        for (int i = 0; i < F_COUNT; i++) {
            if (i > 0)
                *t++ = ' ';
            for (const char *p = fs[i]; p < fe[i]; p++)
                *t++ = (char)toupper((unsigned char)*p);
        }
        *t = '\0';
    }
    c->minutes = set[F_MINUTE];
    c->hours = set[F_HOUR];
    c->doms = set[F_DOM];
    c->months = set[F_MONTH];
    c->dows = (set[F_DOW] | (set[F_DOW] >> 7)) & 0x7f; /* 7 is Sunday */
    c->dom_any = star[F_DOM];
    c->dow_any = star[F_DOW];
    *out = c;
    return SL_OK;
}

void sl_cron_free(sl_cron *c)
{
    free(c);
}

const char *sl_cron_text(const sl_cron *c)
{
    return c->text;
}

/* ---- next fire time ---------------------------------------------------------------------- */

/* Days of month y-m that fire (bit d = day d), under the day-of-month/day-of-week rule. */
static uint64_t month_day_mask(const sl_cron *c, int64_t y, int m)
{
    int dim = sl__days_in_month(y, m);
    uint64_t valid = ((UINT64_C(1) << (dim + 1)) - 1) & ~UINT64_C(1);
    if (c->dow_any)
        return c->doms & valid; /* includes both `*`: doms is then full */
    uint64_t by_dow = 0;
    int w = sl__weekday(sl_days_from_civil(y, m, 1));
    for (int d = 1; d <= dim; d++, w = w == 6 ? 0 : w + 1) {
        if (c->dows >> w & 1)
            by_dow |= UINT64_C(1) << d;
    }
    if (c->dom_any)
        return by_dow;
    return (c->doms | by_dow) & valid;
}

int64_t sl_cron_next(const sl_cron *c, int64_t after_ms)
{
    if (after_ms < AFTER_MIN_MS || after_ms > AFTER_MAX_MS)
        return -1;
    int64_t first = sl__floor_div(after_ms, MINUTE_MS) + 1; /* minutes since the epoch */
    int64_t last = sl__floor_div(after_ms + SL_CRON_HORIZON_DAYS * DAY_MIN * MINUTE_MS, MINUTE_MS);
    int64_t last_day = sl__floor_div(last, DAY_MIN);
    int64_t day = sl__floor_div(first, DAY_MIN);
    int hour = (int)((first - day * DAY_MIN) / 60);
    int minute = (int)((first - day * DAY_MIN) % 60);
    int64_t y;
    int mon, dom;
    sl_civil_from_days(day, &y, &mon, &dom);

    /*
     * Find the earliest (month, day, hour, minute) at or after the cursor, coarsest field
     * first. Moving a field forward resets the finer ones to their minimum, so every turn of
     * the loop moves the cursor forward by at least one hour, and the horizon check on each
     * month bounds the loop to about 12 turns a month.
     */
    for (;;) {
        if (!(c->months >> mon & 1)) {
            int nm = next_bit(c->months, mon + 1);
            if (nm < 0) {
                y++;
                nm = next_bit(c->months, 1);
            }
            mon = nm;
            dom = 1;
            hour = minute = 0;
        }
        if (sl_days_from_civil(y, mon, 1) > last_day)
            return -1;
        int nd = next_bit(month_day_mask(c, y, mon), dom);
        if (nd < 0) {
            if (++mon > 12) {
                y++;
                mon = 1;
            }
            dom = 1;
            hour = minute = 0;
            continue;
        }
        if (nd != dom) {
            dom = nd;
            hour = minute = 0;
        }
        int nh = next_bit(c->hours, hour);
        if (nh < 0) {
            dom++;
            hour = minute = 0;
            continue;
        }
        if (nh != hour) {
            hour = nh;
            minute = 0;
        }
        int nmi = next_bit(c->minutes, minute);
        if (nmi < 0) {
            hour++;
            minute = 0;
            continue;
        }
        int64_t t = sl_days_from_civil(y, mon, dom) * DAY_MIN + hour * 60 + nmi;
        return t > last ? -1 : t * MINUTE_MS;
    }
}

/* ---- in a time zone ------------------------------------------------------------------------ */

/* Every hour selected: follow real time, offset interval by offset interval. A reading in
 * a repeated hour fires at both occurrences; readings inside a gap do not happen. */
static int64_t next_real_time(const sl_cron *c, const sl_tz *tz, int64_t after_ms)
{
    int64_t from = after_ms, at = sl__floor_div(after_ms, 1000);
    for (int turn = 0; turn < 64; turn++) {
        int64_t off_ms = (int64_t)sl_tz_offset(tz, at) * 1000;
        int64_t change = sl__tz_next_change(tz, at);
        int64_t local = sl_cron_next(c, from + off_ms);
        if (local < 0)
            return -1;
        int64_t t = local - off_ms;
        if (change == INT64_MAX || t < change * 1000)
            return t;
        from = change * 1000 - 1;
        at = change;
    }
    return -1;
}

int64_t sl_cron_next_tz(const sl_cron *c, const sl_tz *tz, int64_t after_ms)
{
    if (sl__tz_is_utc(tz))
        return sl_cron_next(c, after_ms);
    if (after_ms < AFTER_MIN_MS || after_ms > AFTER_MAX_MS)
        return -1;
    if (c->hours == (UINT64_C(1) << 24) - 1)
        return next_real_time(c, tz, after_ms);
    /* Specific hours: follow the wall clock. Readings whose first occurrence is already past
     * are skipped; in a repeated hour that can be one per minute, so allow a day of turns. */
    int64_t cursor = after_ms + (int64_t)sl_tz_offset(tz, sl__floor_div(after_ms, 1000)) * 1000;
    for (int turn = 0; turn <= (int)DAY_MIN; turn++) {
        int64_t local = sl_cron_next(c, cursor);
        if (local < 0)
            return -1;
        int64_t t = sl__tz_local_to_utc(tz, local / 1000) * 1000;
        if (t > after_ms)
            return t;
        cursor = local;
    }
    return -1;
}
