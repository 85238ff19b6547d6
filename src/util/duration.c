/* duration.c - the one duration format ("1m30s") and UTC timestamps. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sluice/util.h"

#define MAX_DURATION_MS (INT64_C(100) * 365 * 24 * 3600 * 1000)

/* A plain decimal number at *p ("12", "1.5", ".5"): no sign, exponent, hex, inf or nan,
 * which strtod would take. Advances *p past it; false if there is none. */
static bool decimal(const char **p, double *out)
{
    const char *s = *p;
    double v = 0, scale = 1;
    bool any = false, dot = false;
    for (; isdigit((unsigned char)*s) || (*s == '.' && !dot); s++) {
        if (*s == '.') {
            dot = true;
            continue;
        }
        any = true;
        if (dot)
            v += (*s - '0') * (scale /= 10);
        else
            v = v * 10 + (*s - '0');
    }
    if (!any)
        return false;
    *p = s;
    *out = v;
    return true;
}

sl_code sl_duration_parse(const char *s, int64_t *out_ms, sl_err *err)
{
    if (!s || !*s)
        return sl_err_set(err, SL_EINVAL, "empty duration (use e.g. 250ms, 2s, 1m30s, 1h)");
    const char *p = s;
    double v;
    /* A bare number means seconds. */
    if (decimal(&p, &v) && *p == '\0') {
        if (v * 1000 > (double)MAX_DURATION_MS)
            return sl_err_set(err, SL_EINVAL, "duration '%s' out of range", s);
        *out_ms = (int64_t)llround(v * 1000);
        return SL_OK;
    }
    p = s;
    double total = 0;
    int parts = 0;
    while (*p) {
        if (!decimal(&p, &v))
            goto bad;
        double unit;
        if (strncmp(p, "ms", 2) == 0) {
            unit = 1;
            p += 2;
        } else if (*p == 'h') {
            unit = 3600000;
            p++;
        } else if (*p == 'm') {
            unit = 60000;
            p++;
        } else if (*p == 's') {
            unit = 1000;
            p++;
        } else if (*p == 'd') {
            unit = 86400000;
            p++;
        } else {
            goto bad;
        }
        total += v * unit;
        parts++;
    }
    if (parts == 0 || total > (double)MAX_DURATION_MS)
        goto bad;
    *out_ms = (int64_t)llround(total);
    return SL_OK;
bad:
    return sl_err_set(err, SL_EINVAL,
                      "invalid duration '%s' (use e.g. 250ms, 2s, 1m30s, 10m, 1h; a bare number "
                      "means seconds)",
                      s);
}

sl_code sl_duration_from_json(const json_t *j, int64_t *out_ms, sl_err *err)
{
    if (json_is_string(j))
        return sl_duration_parse(json_string_value(j), out_ms, err);
    if (json_is_number(j)) {
        double v = json_number_value(j);
        if (!(v >= 0) || v * 1000 > (double)MAX_DURATION_MS)
            return sl_err_set(err, SL_EINVAL, "duration %g out of range", v);
        *out_ms = (int64_t)llround(v * 1000);
        return SL_OK;
    }
    return sl_err_set(err, SL_EINVAL, "duration must be a string like \"2s\" or a number of seconds");
}

const char *sl_duration_format(int64_t ms, char *buf, size_t buf_len)
{
    if (ms <= 0) {
        snprintf(buf, buf_len, "0s");
        return buf;
    }
    size_t n = 0;
    int64_t h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, r = ms % 1000;
    buf[0] = '\0';
    if (h)
        n += (size_t)snprintf(buf + n, buf_len - n, "%lldh", (long long)h);
    if (m && n < buf_len)
        n += (size_t)snprintf(buf + n, buf_len - n, "%lldm", (long long)m);
    if (s && n < buf_len)
        n += (size_t)snprintf(buf + n, buf_len - n, "%llds", (long long)s);
    if (r && n < buf_len)
        snprintf(buf + n, buf_len - n, "%lldms", (long long)r);
    return buf;
}

const char *sl_time_format(int64_t unix_ms, char *buf, size_t buf_len)
{
    time_t secs = (time_t)(unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000);
    int millis = (int)(unix_ms - (int64_t)secs * 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(buf, buf_len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
    return buf;
}

int64_t sl_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                   /* [0, 399] */
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

void sl_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* [0, 11] */
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool digits(const char *p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)p[i]))
            return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return true;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

sl_code sl_time_parse(const char *s, int64_t *out_ms, sl_err *err)
{
    int Y, M, D, h = 0, m = 0, sec = 0, ms = 0;
    const char *p = s;
    if (!s || strlen(s) < 10 || !digits(p, 4, &Y) || p[4] != '-' || !digits(p + 5, 2, &M) ||
        p[7] != '-' || !digits(p + 8, 2, &D))
        goto bad;
    p += 10;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (!digits(p, 2, &h) || p[2] != ':' || !digits(p + 3, 2, &m))
            goto bad;
        p += 5;
        if (*p == ':') {
            if (!digits(p + 1, 2, &sec))
                goto bad;
            p += 3;
            if (*p == '.' || *p == ',') {
                p++;
                if (!isdigit((unsigned char)*p))
                    goto bad;
                int scale = 100;
                while (isdigit((unsigned char)*p)) {
                    ms += (*p - '0') * scale;
                    scale /= 10;
                    p++;
                }
            }
        }
    }
    int64_t offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om = 0;
        int sign = *p == '-' ? -1 : 1;
        if (!digits(p + 1, 2, &oh))
            goto bad;
        p += 3;
        if (*p == ':')
            p++;
        if (isdigit((unsigned char)*p)) {
            if (!digits(p, 2, &om))
                goto bad;
            p += 2;
        }
        /* Real offsets lie within +-14:00; +-18:00 is the widest any standard allows. */
        if (om > 59 || oh * 60 + om > SL_TIME_OFFSET_MAX_MIN)
            goto bad;
        offset_min = sign * (oh * 60 + om);
    }
    if (*p || M < 1 || M > 12 || D < 1 || D > days_in_month(Y, M) || h > 23 || m > 59 ||
        sec > 60)
        goto bad;
    int64_t days = sl_days_from_civil(Y, M, D);
    *out_ms = ((days * 86400 + h * 3600 + m * 60 + sec) - offset_min * 60) * 1000 + ms;
    return SL_OK;
bad:
    return sl_err_set(err, SL_EINVAL, "invalid time '%s' (use ISO-8601, e.g. 2026-11-25T13:00:00Z)",
                      s ? s : "");
}
