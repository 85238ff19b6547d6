/* cron.c - cron expressions: parsing into bit sets, the next fire time in UTC, and time
 * zones (TZif files) to read them in local time. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sluice/cron.h"

#define MINUTE_MS ((int64_t)60 * 1000)
#define DAY_MIN   ((int64_t)24 * 60)

/* sl_cron_next accepts after_ms within 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z. */
#define AFTER_MIN_MS ((int64_t)-62135596800000)
#define AFTER_MAX_MS ((int64_t)253402300799999)

/* Items quoted in error messages are cut to this many bytes, keeping messages short. */
#define QUOTE_MAX 32

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

/* ---- calendar helpers (the day arithmetic itself is sl_days_from_civil, util.h) ---------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int dim[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m];
}

/* 0 = Sunday; 1970-01-01 was a Thursday. */
static int weekday(int64_t days)
{
    return (int)((days % 7 + 11) % 7);
}

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
    return (int)(n < QUOTE_MAX ? n : QUOTE_MAX);
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
    int dim = days_in_month(y, m);
    uint64_t valid = ((UINT64_C(1) << (dim + 1)) - 1) & ~UINT64_C(1);
    if (c->dow_any)
        return c->doms & valid; /* includes both `*`: doms is then full */
    uint64_t by_dow = 0;
    int w = weekday(sl_days_from_civil(y, m, 1));
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
    int64_t first = floor_div(after_ms, MINUTE_MS) + 1; /* minutes since the epoch */
    int64_t last = floor_div(after_ms + SL_CRON_HORIZON_DAYS * DAY_MIN * MINUTE_MS, MINUTE_MS);
    int64_t last_day = floor_div(last, DAY_MIN);
    int64_t day = floor_div(first, DAY_MIN);
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

/* ---- time zones ---------------------------------------------------------------------------
 * A zone is read from its TZif file (RFC 8536) under $TZDIR or /usr/share/zoneinfo: the
 * transition table, and the POSIX TZ rule in the footer for instants after the last
 * transition. Offsets are in seconds east of UTC.
 */

#define TZ_NAME_MAX 128
#define TZ_FILE_MAX (1 << 20)

typedef struct tz_rule {
    char kind;    /* 'J': day 1-365 without Feb 29; 'D': day 0-365; 'M': month.week.weekday */
    int n;        /* kind J and D */
    int m, w, d;  /* kind M: month 1-12, week 1-5 (5 = last), weekday 0-6 */
    int32_t time; /* seconds after local midnight the change happens */
} tz_rule;

struct sl_tz {
    bool utc;
    size_t ntrans, ntypes;
    int64_t *trans; /* transition instants (Unix s), ascending */
    uint8_t *idx;   /* type in force from each transition */
    int32_t *utoff; /* offset of each type */
    bool rule;      /* the footer gives a rule for after the last transition */
    bool rule_dst;  /* ... with daylight saving time */
    int32_t std_off, dst_off;
    tz_rule start, end;
    char name[];
};

static const char *tz_dir(void)
{
    const char *d = getenv("TZDIR");
    return d && *d ? d : "/usr/share/zoneinfo";
}

/* "Area/Location" style: letters, digits, '_', '-', '+', '.' and '/' between parts; no
 * empty, "." or ".." part, so a name cannot leave the zone directory. */
static bool tz_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= TZ_NAME_MAX || s[0] == '/' || s[n - 1] == '/')
        return false;
    const char *part = s;
    for (const char *p = s;; p++) {
        if (*p == '/' || *p == '\0') {
            size_t len = (size_t)(p - part);
            if (len == 0 || (len == 1 && part[0] == '.') ||
                (len == 2 && part[0] == '.' && part[1] == '.'))
                return false;
            if (*p == '\0')
                return true;
            part = p + 1;
        } else if (!isalnum((unsigned char)*p) && !strchr("_-+.", *p)) {
            return false;
        }
    }
}

static int64_t be_int(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | p[i];
    if (bytes == 4)
        return (int32_t)(uint32_t)v;
    return (int64_t)v;
}

/* POSIX TZ pieces. Each parser advances *p and returns false on malformed text. */
static bool tzs_name(const char **p)
{
    const char *s = *p;
    if (*s == '<') {
        const char *e = strchr(s, '>');
        if (!e || e - s < 2)
            return false;
        *p = e + 1;
        return true;
    }
    while (isalpha((unsigned char)*s))
        s++;
    if (s - *p < 3)
        return false;
    *p = s;
    return true;
}

/* [+-]hh[:mm[:ss]] with hh up to max_h, as seconds. */
static bool tzs_hms(const char **p, int max_h, int32_t *out)
{
    const char *s = *p;
    int sign = 1;
    if (*s == '+' || *s == '-')
        sign = *s++ == '-' ? -1 : 1;
    if (!isdigit((unsigned char)*s))
        return false;
    long part[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        if (!isdigit((unsigned char)*s))
            return false;
        char *end;
        part[i] = strtol(s, &end, 10);
        if (end - s > 3)
            return false;
        s = end;
        if (*s != ':')
            break;
        s++;
    }
    if (part[0] > max_h || part[1] > 59 || part[2] > 59)
        return false;
    *out = (int32_t)(sign * (part[0] * 3600 + part[1] * 60 + part[2]));
    *p = s;
    return true;
}

static bool tzs_rule(const char **p, tz_rule *r)
{
    const char *s = *p;
    char *end;
    memset(r, 0, sizeof(*r));
    if (*s == 'M') {
        r->kind = 'M';
        r->m = (int)strtol(s + 1, &end, 10);
        if (end == s + 1 || *end != '.')
            return false;
        s = end + 1;
        r->w = (int)strtol(s, &end, 10);
        if (end == s || *end != '.')
            return false;
        s = end + 1;
        r->d = (int)strtol(s, &end, 10);
        if (end == s || r->m < 1 || r->m > 12 || r->w < 1 || r->w > 5 || r->d < 0 || r->d > 6)
            return false;
    } else {
        r->kind = *s == 'J' ? 'J' : 'D';
        if (*s == 'J')
            s++;
        if (!isdigit((unsigned char)*s))
            return false;
        r->n = (int)strtol(s, &end, 10);
        if (r->kind == 'J' ? (r->n < 1 || r->n > 365) : (r->n < 0 || r->n > 365))
            return false;
    }
    s = end;
    r->time = 2 * 3600;
    if (*s == '/') {
        s++;
        if (!tzs_hms(&s, 167, &r->time))
            return false;
    }
    *p = s;
    return true;
}

/* The footer, e.g. "CET-1CEST,M3.5.0,M10.5.0/3". An empty footer gives no rule. */
static bool tz_parse_footer(sl_tz *tz, const char *s)
{
    if (*s == '\0')
        return true;
    int32_t v;
    if (!tzs_name(&s) || !tzs_hms(&s, 24, &v))
        return false;
    tz->std_off = -v; /* POSIX offsets count west of Greenwich */
    tz->rule = true;
    if (*s == '\0')
        return true;
    if (!tzs_name(&s))
        return false;
    tz->dst_off = tz->std_off + 3600;
    if (*s && *s != ',') {
        if (!tzs_hms(&s, 24, &v))
            return false;
        tz->dst_off = -v;
    }
    if (*s++ != ',' || !tzs_rule(&s, &tz->start) || *s++ != ',' || !tzs_rule(&s, &tz->end) ||
        *s != '\0')
        return false;
    tz->rule_dst = true;
    return true;
}

/* Parse a TZif file's bytes into tz. */
static bool tz_parse(sl_tz *tz, const unsigned char *b, size_t n)
{
    if (n < 44 || memcmp(b, "TZif", 4) != 0)
        return false;
    int tsize = 4;
    const unsigned char *h = b;
    for (;;) {
        int64_t cnt[6];
        for (int i = 0; i < 6; i++)
            cnt[i] = be_int(h + 20 + 4 * i, 4);
        int64_t isut = cnt[0], isstd = cnt[1], leap = cnt[2], timecnt = cnt[3], typecnt = cnt[4],
                charcnt = cnt[5];
        if (isut < 0 || isstd < 0 || leap < 0 || timecnt < 0 || typecnt < 1 || typecnt > 255 ||
            charcnt < 0)
            return false;
        int64_t body =
            timecnt * (tsize + 1) + typecnt * 6 + charcnt + leap * (tsize + 4) + isstd + isut;
        const unsigned char *d = h + 44;
        if (body > (int64_t)(b + n - d))
            return false;
        if (tsize == 4 && b[4] >= '2') { /* skip the 32-bit block: the 64-bit one follows */
            h = d + body;
            tsize = 8;
            if ((size_t)(h - b) + 44 > n || memcmp(h, "TZif", 4) != 0)
                return false;
            continue;
        }
        tz->ntrans = (size_t)timecnt;
        tz->ntypes = (size_t)typecnt;
        tz->trans = sl_xcalloc(tz->ntrans + 1, sizeof(*tz->trans));
        tz->idx = sl_xcalloc(tz->ntrans + 1, 1);
        tz->utoff = sl_xcalloc(tz->ntypes, sizeof(*tz->utoff));
        for (size_t i = 0; i < tz->ntrans; i++) {
            tz->trans[i] = be_int(d + i * (size_t)tsize, tsize);
            tz->idx[i] = d[(size_t)timecnt * (size_t)tsize + i];
            if (tz->idx[i] >= typecnt || (i > 0 && tz->trans[i] <= tz->trans[i - 1]))
                return false;
        }
        const unsigned char *ti = d + timecnt * (tsize + 1);
        for (size_t i = 0; i < tz->ntypes; i++) {
            tz->utoff[i] = (int32_t)be_int(ti + 6 * i, 4);
            if (tz->utoff[i] < -26 * 3600 || tz->utoff[i] > 26 * 3600)
                return false; /* no zone is more than a day off UTC */
        }
        if (tsize == 4)
            return true;
        const unsigned char *f = d + body, *end = b + n;
        if (f >= end || *f != '\n')
            return true; /* no footer */
        const unsigned char *nl = memchr(f + 1, '\n', (size_t)(end - f - 1));
        if (!nl || nl - f > 128)
            return false;
        char footer[130];
        memcpy(footer, f + 1, (size_t)(nl - f - 1));
        footer[nl - f - 1] = '\0';
        return tz_parse_footer(tz, footer);
    }
}

sl_code sl_tz_load(const char *name, sl_tz **out, sl_err *err)
{
    *out = NULL;
    if (!name)
        name = "UTC";
    if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0 || strcmp(name, "Z") == 0) {
        sl_tz *tz = sl_xcalloc(1, sizeof(*tz) + 4);
        tz->utc = true;
        memcpy(tz->name, "UTC", 4);
        *out = tz;
        return SL_OK;
    }
    if (!tz_name_valid(name))
        return sl_err_set(err, SL_EINVAL,
                          "invalid time zone name '%.*s' (want e.g. "
                          "Europe/Amsterdam)",
                          QUOTE_MAX, name);
    char path[TZ_NAME_MAX + 512];
    snprintf(path, sizeof(path), "%s/%s", tz_dir(), name);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return sl_err_set(err, SL_EINVAL, "unknown time zone '%s' (no such zone in %s)", name,
                          tz_dir());
    unsigned char *buf = sl_xmalloc(TZ_FILE_MAX);
    size_t n = fread(buf, 1, TZ_FILE_MAX, fp);
    fclose(fp);
    size_t name_len = strlen(name) + 1;
    sl_tz *tz = sl_xcalloc(1, sizeof(*tz) + name_len);
    memcpy(tz->name, name, name_len);
    bool ok = n < TZ_FILE_MAX && tz_parse(tz, buf, n);
    free(buf);
    if (!ok) {
        sl_tz_free(tz);
        return sl_err_set(err, SL_EINVAL, "time zone file %s is not a valid TZif file", path);
    }
    *out = tz;
    return SL_OK;
}

void sl_tz_free(sl_tz *tz)
{
    if (!tz)
        return;
    free(tz->trans);
    free(tz->idx);
    free(tz->utoff);
    free(tz);
}

const char *sl_tz_name(const sl_tz *tz)
{
    return tz ? tz->name : "UTC";
}

/* Unix seconds of local midnight of the rule's day in year y, plus its time, as if UTC. */
static int64_t rule_local(const tz_rule *r, int64_t y)
{
    int64_t day;
    if (r->kind == 'J')
        day = sl_days_from_civil(y, 1, 1) + r->n - 1 + (is_leap(y) && r->n >= 60);
    else if (r->kind == 'D')
        day = sl_days_from_civil(y, 1, 1) + r->n;
    else {
        int64_t first = sl_days_from_civil(y, r->m, 1);
        day = first + (r->d - weekday(first) + 7) % 7 + (int64_t)(r->w - 1) * 7;
        while (day >= first + days_in_month(y, r->m))
            day -= 7;
    }
    return day * 86400 + r->time;
}

static int32_t rule_offset(const sl_tz *tz, int64_t t)
{
    if (!tz->rule_dst)
        return tz->std_off;
    int64_t y;
    int m, d;
    sl_civil_from_days(floor_div(t + tz->std_off, 86400), &y, &m, &d);
    int64_t start = rule_local(&tz->start, y) - tz->std_off; /* given in standard time */
    int64_t end = rule_local(&tz->end, y) - tz->dst_off;     /* given in daylight time */
    bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
    return dst ? tz->dst_off : tz->std_off;
}

int32_t sl_tz_offset(const sl_tz *tz, int64_t t)
{
    if (!tz || tz->utc)
        return 0;
    if (tz->ntrans == 0 || t < tz->trans[0])
        return tz->ntrans == 0 && tz->rule ? rule_offset(tz, t) : tz->utoff[0];
    size_t lo = 0, hi = tz->ntrans; /* last transition <= t is in [lo, hi) */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    if (lo == tz->ntrans - 1 && tz->rule)
        return rule_offset(tz, t);
    return tz->utoff[tz->idx[lo]];
}

/* The first instant after t (Unix s) at which the offset may change; INT64_MAX if never. */
static int64_t tz_next_change(const sl_tz *tz, int64_t t)
{
    size_t lo = 0, hi = tz->ntrans; /* first transition > t is at lo */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < tz->ntrans)
        return tz->trans[lo];
    if (!tz->rule_dst)
        return INT64_MAX;
    int64_t y;
    int m, d;
    sl_civil_from_days(floor_div(t + tz->std_off, 86400), &y, &m, &d);
    int64_t best = INT64_MAX;
    for (int64_t yy = y - 1; yy <= y + 1; yy++) {
        int64_t start = rule_local(&tz->start, yy) - tz->std_off;
        int64_t end = rule_local(&tz->end, yy) - tz->dst_off;
        if (start > t && start < best)
            best = start;
        if (end > t && end < best)
            best = end;
    }
    return best;
}

/*
 * The instant a local wall-clock reading happens. A reading that happens twice (clocks
 * going back) is its first occurrence; one that never happens (clocks going forward) is
 * read with the offset from before the change, so 02:30 in a 02:00 -> 03:00 gap is 03:30.
 */
static int64_t tz_local_to_utc(const sl_tz *tz, int64_t local)
{
    int32_t before = sl_tz_offset(tz, local - 86400 - 14 * 3600);
    int32_t after = sl_tz_offset(tz, local + 86400 + 14 * 3600);
    int64_t a = local - before, b = local - after;
    bool a_ok = sl_tz_offset(tz, a) == before, b_ok = sl_tz_offset(tz, b) == after;
    if (a_ok && b_ok)
        return a < b ? a : b;
    if (b_ok)
        return b;
    return local - before; /* a_ok, or the gap */
}

/* Every hour selected: follow real time, offset interval by offset interval. A reading in
 * a repeated hour fires at both occurrences; readings inside a gap do not happen. */
static int64_t next_real_time(const sl_cron *c, const sl_tz *tz, int64_t after_ms)
{
    int64_t from = after_ms, at = floor_div(after_ms, 1000);
    for (int turn = 0; turn < 64; turn++) {
        int64_t off_ms = (int64_t)sl_tz_offset(tz, at) * 1000;
        int64_t change = tz_next_change(tz, at);
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
    if (!tz || tz->utc)
        return sl_cron_next(c, after_ms);
    if (after_ms < AFTER_MIN_MS || after_ms > AFTER_MAX_MS)
        return -1;
    if (c->hours == (UINT64_C(1) << 24) - 1)
        return next_real_time(c, tz, after_ms);
    /* Specific hours: follow the wall clock. Readings whose first occurrence is already past
     * are skipped; in a repeated hour that can be one per minute, so allow a day of turns. */
    int64_t cursor = after_ms + (int64_t)sl_tz_offset(tz, floor_div(after_ms, 1000)) * 1000;
    for (int turn = 0; turn <= (int)DAY_MIN; turn++) {
        int64_t local = sl_cron_next(c, cursor);
        if (local < 0)
            return -1;
        int64_t t = tz_local_to_utc(tz, local / 1000) * 1000;
        if (t > after_ms)
            return t;
        cursor = local;
    }
    return -1;
}
