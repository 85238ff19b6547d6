/* cast.c - Databricks types: names, ANSI casting of text, printing, and the SQLite
 * functions (sl_cast, sl_try_cast, sl_date_trunc, sl_now) the SQL translator emits. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "emulator_int.h"

static const struct {
    emu_type t;
    const char *text, *name, *lower, *json;
} types[] = {
    {EMU_T_NULL, "VOID", "NULL", "void", "void"},
    {EMU_T_STRING, "STRING", "STRING", "string", "string"},
    {EMU_T_INT, "INT", "INT", "int", "integer"},
    {EMU_T_BIGINT, "BIGINT", "LONG", "bigint", "long"},
    {EMU_T_DOUBLE, "DOUBLE", "DOUBLE", "double", "double"},
    {EMU_T_BOOLEAN, "BOOLEAN", "BOOLEAN", "boolean", "boolean"},
    {EMU_T_DATE, "DATE", "DATE", "date", "date"},
    {EMU_T_TIMESTAMP, "TIMESTAMP", "TIMESTAMP", "timestamp", "timestamp"},
};

const char *sl__emu_type_text(emu_type t)
{
    return types[t].text;
}

const char *sl__emu_type_name(emu_type t)
{
    return types[t].name;
}

const char *sl__emu_type_lower(emu_type t)
{
    return types[t].lower;
}

const char *sl__emu_type_json(emu_type t)
{
    return types[t].json;
}

bool sl__emu_type_is_numeric(emu_type t)
{
    return t == EMU_T_INT || t == EMU_T_BIGINT || t == EMU_T_DOUBLE;
}

bool sl__emu_type_parse(const char *s, emu_type *out)
{
    static const struct {
        const char *n;
        emu_type t;
    } names[] = {
        {"STRING", EMU_T_STRING},   {"VARCHAR", EMU_T_STRING},     {"CHAR", EMU_T_STRING},
        {"BIGINT", EMU_T_BIGINT},   {"LONG", EMU_T_BIGINT},        {"INT", EMU_T_INT},
        {"INTEGER", EMU_T_INT},     {"SMALLINT", EMU_T_INT},       {"SHORT", EMU_T_INT},
        {"TINYINT", EMU_T_INT},     {"BYTE", EMU_T_INT},           {"DOUBLE", EMU_T_DOUBLE},
        {"FLOAT", EMU_T_DOUBLE},    {"REAL", EMU_T_DOUBLE},        {"DECIMAL", EMU_T_DOUBLE},
        {"DEC", EMU_T_DOUBLE},      {"NUMERIC", EMU_T_DOUBLE},     {"BOOLEAN", EMU_T_BOOLEAN},
        {"BOOL", EMU_T_BOOLEAN},    {"DATE", EMU_T_DATE},          {"TIMESTAMP", EMU_T_TIMESTAMP},
        {"TIMESTAMP_NTZ", EMU_T_TIMESTAMP}, {"TIMESTAMP_LTZ", EMU_T_TIMESTAMP},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(s, names[i].n) == 0) {
            *out = names[i].t;
            return true;
        }
    }
    return false;
}

/* Trimmed view of s: [*b, *e). */
static void trim_view(const char *s, const char **b, const char **e)
{
    const char *p = s, *q = s + strlen(s);
    while (p < q && isspace((unsigned char)*p))
        p++;
    while (q > p && isspace((unsigned char)q[-1]))
        q--;
    *b = p;
    *e = q;
}

bool sl__emu_parse_bigint(const char *s, int64_t *out)
{
    const char *p, *e;
    trim_view(s, &p, &e);
    bool neg = false;
    if (p < e && (*p == '+' || *p == '-'))
        neg = *p++ == '-';
    if (p == e)
        return false;
    uint64_t v = 0;
    for (; p < e; p++) {
        if (!isdigit((unsigned char)*p))
            return false;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return false;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return false;
        *out = (int64_t)v;
    }
    return true;
}

bool sl__emu_parse_double(const char *s, double *out)
{
    const char *p, *e;
    trim_view(s, &p, &e);
    size_t n = (size_t)(e - p);
    if (n == 0 || n > 400)
        return false;
    char buf[401];
    memcpy(buf, p, n);
    buf[n] = '\0';
    const char *t = buf + (buf[0] == '+' || buf[0] == '-');
    if (strcasecmp(t, "nan") == 0) {
        *out = NAN;
        return true;
    }
    if (strcasecmp(t, "infinity") == 0 || strcasecmp(t, "inf") == 0) {
        *out = buf[0] == '-' ? -INFINITY : INFINITY;
        return true;
    }
    /* Digits, one dot, optional exponent; no hex, no words. */
    bool digit = false, dot = false;
    const char *q = t;
    for (; *q && (isdigit((unsigned char)*q) || (*q == '.' && !dot)); q++) {
        if (*q == '.')
            dot = true;
        else
            digit = true;
    }
    if (!digit)
        return false;
    if (*q == 'e' || *q == 'E') {
        q++;
        if (*q == '+' || *q == '-')
            q++;
        if (!isdigit((unsigned char)*q))
            return false;
        while (isdigit((unsigned char)*q))
            q++;
    }
    if (*q == 'd' || *q == 'D' || *q == 'f' || *q == 'F')
        q++;
    if (*q)
        return false;
    errno = 0;
    *out = strtod(buf, NULL);
    return true;
}

bool sl__emu_parse_boolean(const char *s, bool *out)
{
    static const char *yes[] = {"true", "t", "yes", "y", "1"};
    static const char *no[] = {"false", "f", "no", "n", "0"};
    const char *p, *e;
    trim_view(s, &p, &e);
    size_t n = (size_t)(e - p);
    for (int i = 0; i < 5; i++) {
        if (strlen(yes[i]) == n && strncasecmp(p, yes[i], n) == 0) {
            *out = true;
            return true;
        }
        if (strlen(no[i]) == n && strncasecmp(p, no[i], n) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* Read 1..max digits; returns digits read. */
static int read_num(const char **p, const char *e, int max, int *v)
{
    int n = 0;
    *v = 0;
    while (*p < e && n < max && isdigit((unsigned char)**p)) {
        *v = *v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    return n;
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int mdays(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : d[m - 1];
}

/* Parse "YYYY[-M[M][-D[D]]]"; leaves *p after the date. */
static bool parse_ymd(const char **p, const char *e, int *y, int *m, int *d)
{
    if (read_num(p, e, 4, y) != 4)
        return false;
    *m = *d = 1;
    if (*p < e && **p == '-') {
        (*p)++;
        if (read_num(p, e, 2, m) < 1)
            return false;
        if (*p < e && **p == '-') {
            (*p)++;
            if (read_num(p, e, 2, d) < 1)
                return false;
        }
    }
    return *m >= 1 && *m <= 12 && *d >= 1 && *d <= mdays(*y, *m);
}

bool sl__emu_parse_date(const char *s, char out[11])
{
    const char *p, *e;
    trim_view(s, &p, &e);
    int y, m, d;
    if (!parse_ymd(&p, e, &y, &m, &d))
        return false;
    if (p < e && *p != ' ' && *p != 'T')
        return false;
    if (p < e) {
        /* A time part must itself be a valid timestamp tail. */
        char tmp[32];
        if (!sl__emu_parse_timestamp(s, tmp))
            return false;
    }
    snprintf(out, 11, "%04d-%02d-%02d", y, m, d);
    return true;
}

/* The date of a day number (days since 1970-01-01), for years that fit an int. */
static void ymd_of_days(int64_t days, int *y, int *m, int *d)
{
    int64_t yy;
    sl_civil_from_days(days, &yy, m, d);
    *y = (int)yy;
}

static void format_ts_ms(int64_t ms, char out[32])
{
    int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
    int64_t rem = ms - days * 86400000;
    int y, m, d;
    ymd_of_days(days, &y, &m, &d);
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d, (int)(rem / 3600000),
             (int)(rem / 60000 % 60), (int)(rem / 1000 % 60), (int)(rem % 1000));
}

static bool parse_ts_ms(const char *s, int64_t *out_ms)
{
    const char *p, *e;
    trim_view(s, &p, &e);
    int y, mo, d, hh = 0, mi = 0, ss = 0, ms = 0;
    if (!parse_ymd(&p, e, &y, &mo, &d))
        return false;
    int64_t off_min = 0;
    if (p < e) {
        if (*p != ' ' && *p != 'T')
            return false;
        p++;
        if (read_num(&p, e, 2, &hh) < 1 || p >= e || *p != ':')
            return false;
        p++;
        if (read_num(&p, e, 2, &mi) < 1)
            return false;
        if (p < e && *p == ':') {
            p++;
            if (read_num(&p, e, 2, &ss) < 1)
                return false;
            if (p < e && *p == '.') {
                p++;
                int nd = 0, v = 0;
                while (p < e && isdigit((unsigned char)*p)) {
                    if (nd < 3)
                        v = v * 10 + (*p - '0');
                    nd++;
                    p++;
                }
                if (nd == 0)
                    return false;
                for (int k = nd; k < 3; k++)
                    v *= 10;
                ms = v;
            }
        }
        if (p < e && (*p == 'Z' || *p == 'z')) {
            p++;
        } else if (p < e && (*p == '+' || *p == '-')) {
            int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
            if (read_num(&p, e, 2, &oh) != 2)
                return false;
            if (p < e && *p == ':')
                p++;
            if (p < e && read_num(&p, e, 2, &om) != 2)
                return false;
            off_min = sign * (oh * 60 + om);
        }
        if (p != e || hh > 23 || mi > 59 || ss > 59)
            return false;
    }
    *out_ms = ((sl_days_from_civil(y, mo, d) * 24 + hh) * 60 + mi - off_min) * 60000 +
              (int64_t)ss * 1000 + ms;
    return true;
}

bool sl__emu_parse_timestamp(const char *s, char out[32])
{
    int64_t ms;
    if (!parse_ts_ms(s, &ms))
        return false;
    format_ts_ms(ms, out);
    return true;
}

void sl__emu_format_double(double v, char *buf, size_t n)
{
    if (isnan(v)) {
        snprintf(buf, n, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, n, "%sInfinity", v < 0 ? "-" : "");
        return;
    }
    if (v == 0) {
        snprintf(buf, n, "%s", signbit(v) ? "-0.0" : "0.0");
        return;
    }
    /* Shortest digits that round-trip. */
    char e[64];
    int prec;
    for (prec = 0; prec < 17; prec++) {
        snprintf(e, sizeof(e), "%.*e", prec, v);
        if (strtod(e, NULL) == v)
            break;
    }
    /* e = "-d.ddde+XX" */
    const char *p = e;
    bool neg = *p == '-';
    if (neg)
        p++;
    char digits[32];
    int nd = 0;
    for (; *p && *p != 'e'; p++)
        if (isdigit((unsigned char)*p))
            digits[nd++] = *p;
    digits[nd] = '\0';
    int exp10 = atoi(p + 1);
    char out[64];
    int o = 0;
    if (neg)
        out[o++] = '-';
    double a = fabs(v);
    if (a >= 1e-3 && a < 1e7) {
        if (exp10 >= 0) {
            for (int i = 0; i <= exp10; i++)
                out[o++] = i < nd ? digits[i] : '0';
            out[o++] = '.';
            if (nd > exp10 + 1)
                for (int i = exp10 + 1; i < nd; i++)
                    out[o++] = digits[i];
            else
                out[o++] = '0';
        } else {
            out[o++] = '0';
            out[o++] = '.';
            for (int i = 0; i < -exp10 - 1; i++)
                out[o++] = '0';
            for (int i = 0; i < nd; i++)
                out[o++] = digits[i];
        }
        out[o] = '\0';
    } else {
        out[o++] = digits[0];
        out[o++] = '.';
        if (nd > 1)
            for (int i = 1; i < nd; i++)
                out[o++] = digits[i];
        else
            out[o++] = '0';
        snprintf(out + o, sizeof(out) - (size_t)o, "E%d", exp10);
    }
    snprintf(buf, n, "%s", out);
}

/* ---- SQLite functions */

static emu_type arg_type(sqlite3_value *v, emu_type dflt)
{
    if (!v || sqlite3_value_type(v) != SQLITE_TEXT)
        return dflt;
    emu_type t;
    return sl__emu_type_parse((const char *)sqlite3_value_text(v), &t) ? t : dflt;
}

/* Text of a stored value as Databricks would print it for type `from`. */
static char *value_text(sqlite3_value *v, emu_type from)
{
    char buf[64];
    switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER:
        if (from == EMU_T_BOOLEAN)
            return sl_xstrdup(sqlite3_value_int64(v) ? "true" : "false");
        if (from == EMU_T_DOUBLE) {
            sl__emu_format_double((double)sqlite3_value_int64(v), buf, sizeof(buf));
            return sl_xstrdup(buf);
        }
        snprintf(buf, sizeof(buf), "%lld", (long long)sqlite3_value_int64(v));
        return sl_xstrdup(buf);
    case SQLITE_FLOAT:
        if (from == EMU_T_BIGINT || from == EMU_T_INT) {
            snprintf(buf, sizeof(buf), "%lld", (long long)sqlite3_value_double(v));
            return sl_xstrdup(buf);
        }
        sl__emu_format_double(sqlite3_value_double(v), buf, sizeof(buf));
        return sl_xstrdup(buf);
    default: {
        const char *t = (const char *)sqlite3_value_text(v);
        return sl_xstrdup(t ? t : "");
    }
    }
}

static void cast_fail(sqlite3_context *cx, const char *val, emu_type from, emu_type to)
{
    char *m = sl_xasprintf(EMU_CAST_ERR_PREFIX
                           "The value '%.200s' of the type \"%s\" cannot be cast to \"%s\" "
                           "because it is malformed. Correct the value as per the syntax, or "
                           "change its target type. Use `try_cast` to tolerate malformed input "
                           "and return NULL instead.",
                           val, sl__emu_type_text(from), sl__emu_type_text(to));
    sqlite3_result_error(cx, m, -1);
    free(m);
}

static void do_cast(sqlite3_context *cx, int argc, sqlite3_value **argv, bool try_mode)
{
    sqlite3_value *v = argv[0];
    if (sqlite3_value_type(v) == SQLITE_NULL) {
        sqlite3_result_null(cx);
        return;
    }
    emu_type to = arg_type(argv[1], EMU_T_STRING);
    emu_type from = argc > 2 ? arg_type(argv[2], EMU_T_STRING) : EMU_T_STRING;
    int vt = sqlite3_value_type(v);
    char *txt = value_text(v, from);
    bool ok = true;
    switch (to) {
    case EMU_T_STRING:
    case EMU_T_NULL:
        if (from == EMU_T_TIMESTAMP && vt == SQLITE_TEXT && strlen(txt) == 24) {
            /* 2024-01-05T10:00:00.000Z -> 2024-01-05 10:00:00 */
            txt[10] = ' ';
            txt[strcmp(txt + 19, ".000Z") == 0 ? 19 : 23] = '\0';
        }
        sqlite3_result_text(cx, txt, -1, SQLITE_TRANSIENT);
        break;
    case EMU_T_BIGINT:
    case EMU_T_INT: {
        int64_t i = 0;
        if (vt == SQLITE_INTEGER) {
            i = sqlite3_value_int64(v);
        } else if (vt == SQLITE_FLOAT) {
            double d = sqlite3_value_double(v);
            ok = !isnan(d) && d >= -9.2233720368547758e18 && d < 9.2233720368547758e18;
            i = ok ? (int64_t)d : 0;
        } else if (from == EMU_T_BOOLEAN) {
            bool b = false;
            ok = sl__emu_parse_boolean(txt, &b);
            i = b;
        } else {
            ok = sl__emu_parse_bigint(txt, &i);
        }
        if (ok && to == EMU_T_INT && (i < INT32_MIN || i > INT32_MAX))
            ok = false;
        if (ok)
            sqlite3_result_int64(cx, i);
        break;
    }
    case EMU_T_DOUBLE: {
        double d = 0;
        if (vt == SQLITE_INTEGER || vt == SQLITE_FLOAT)
            d = sqlite3_value_double(v);
        else
            ok = sl__emu_parse_double(txt, &d);
        if (ok)
            sqlite3_result_double(cx, d);
        break;
    }
    case EMU_T_BOOLEAN: {
        bool b = false;
        if (vt == SQLITE_INTEGER || vt == SQLITE_FLOAT)
            b = sqlite3_value_double(v) != 0;
        else
            ok = sl__emu_parse_boolean(txt, &b);
        if (ok)
            sqlite3_result_int(cx, b);
        break;
    }
    case EMU_T_DATE: {
        char d[11];
        ok = vt == SQLITE_TEXT && sl__emu_parse_date(txt, d);
        if (ok)
            sqlite3_result_text(cx, d, -1, SQLITE_TRANSIENT);
        break;
    }
    case EMU_T_TIMESTAMP: {
        char t[32];
        if (vt == SQLITE_INTEGER || vt == SQLITE_FLOAT) {
            format_ts_ms((int64_t)(sqlite3_value_double(v) * 1000), t);
        } else {
            ok = sl__emu_parse_timestamp(txt, t);
        }
        if (ok)
            sqlite3_result_text(cx, t, -1, SQLITE_TRANSIENT);
        break;
    }
    }
    if (!ok) {
        if (try_mode)
            sqlite3_result_null(cx);
        else
            cast_fail(cx, txt, from, to);
    }
    free(txt);
}

static void fn_cast(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    do_cast(cx, argc, argv, false);
}

static void fn_try_cast(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    do_cast(cx, argc, argv, true);
}

static void fn_date_trunc(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *unit = (const char *)sqlite3_value_text(argv[0]);
    const char *val = (const char *)sqlite3_value_text(argv[1]);
    int64_t ms;
    if (!unit || !val || !parse_ts_ms(val, &ms)) {
        sqlite3_result_null(cx);
        return;
    }
    int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
    int y, m, d;
    ymd_of_days(days, &y, &m, &d);
    if (strcasecmp(unit, "YEAR") == 0 || strcasecmp(unit, "YYYY") == 0)
        ms = sl_days_from_civil(y, 1, 1) * 86400000;
    else if (strcasecmp(unit, "QUARTER") == 0)
        ms = sl_days_from_civil(y, (m - 1) / 3 * 3 + 1, 1) * 86400000;
    else if (strcasecmp(unit, "MONTH") == 0 || strcasecmp(unit, "MM") == 0 ||
             strcasecmp(unit, "MON") == 0)
        ms = sl_days_from_civil(y, m, 1) * 86400000;
    else if (strcasecmp(unit, "DAY") == 0 || strcasecmp(unit, "DD") == 0)
        ms = days * 86400000;
    else if (strcasecmp(unit, "HOUR") == 0)
        ms -= ms % 3600000;
    else {
        sqlite3_result_error(cx, "date_trunc: unsupported unit", -1);
        return;
    }
    char out[32];
    format_ts_ms(ms, out);
    sqlite3_result_text(cx, out, -1, SQLITE_TRANSIENT);
}

static void fn_now(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    (void)argc;
    (void)argv;
    char out[32];
    format_ts_ms(sl_now_ms(), out);
    sqlite3_result_text(cx, out, -1, SQLITE_TRANSIENT);
}

static void fn_today(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    (void)argc;
    (void)argv;
    char out[32];
    format_ts_ms(sl_now_ms(), out);
    out[10] = '\0';
    sqlite3_result_text(cx, out, -1, SQLITE_TRANSIENT);
}

void sl__emu_cast_register(sqlite3 *db)
{
    int f = SQLITE_UTF8 | SQLITE_DETERMINISTIC;
    sqlite3_create_function(db, "sl_cast", 3, f, NULL, fn_cast, NULL, NULL);
    sqlite3_create_function(db, "sl_try_cast", 3, f, NULL, fn_try_cast, NULL, NULL);
    sqlite3_create_function(db, "sl_date_trunc", 2, f, NULL, fn_date_trunc, NULL, NULL);
    sqlite3_create_function(db, "sl_now", 0, SQLITE_UTF8, NULL, fn_now, NULL, NULL);
    sqlite3_create_function(db, "sl_today", 0, SQLITE_UTF8, NULL, fn_today, NULL, NULL);
}
