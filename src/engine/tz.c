/*
 * tz.c - IANA time zones (the tz part of cron.h): reading a zone's TZif file (RFC 8536) from
 * $TZDIR or /usr/share/zoneinfo, its transition table and the POSIX TZ rule in its footer for
 * instants after the last transition, and answering offset questions from them. Offsets are
 * in seconds east of UTC.
 *
 * Invariants: (1) a zone name never leaves the zone directory (no empty, "." or ".." part);
 * (2) a file is checked whole before it is used: counts within the file, transitions
 * ascending, every type index in range, offsets within a day of UTC; (3) a loaded sl_tz never
 * changes.
 * Threads: sl_tz_load reads the file on the caller's thread; a loaded zone may be shared.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron_int.h"

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
                          SL__QUOTE_MAX, name);
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

bool sl__tz_is_utc(const sl_tz *tz)
{
    return !tz || tz->utc;
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
        day = sl_days_from_civil(y, 1, 1) + r->n - 1 + (sl__is_leap(y) && r->n >= 60);
    else if (r->kind == 'D')
        day = sl_days_from_civil(y, 1, 1) + r->n;
    else {
        int64_t first = sl_days_from_civil(y, r->m, 1);
        day = first + (r->d - sl__weekday(first) + 7) % 7 + (int64_t)(r->w - 1) * 7;
        while (day >= first + sl__days_in_month(y, r->m))
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
    sl_civil_from_days(sl__floor_div(t + tz->std_off, 86400), &y, &m, &d);
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

int64_t sl__tz_next_change(const sl_tz *tz, int64_t t)
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
    sl_civil_from_days(sl__floor_div(t + tz->std_off, 86400), &y, &m, &d);
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

int64_t sl__tz_local_to_utc(const sl_tz *tz, int64_t local)
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
