/*
 * render.c - tabular output for SQL results and listings: aligned text tables whose
 * padding follows terminal display width (so CJK text and emoji line up), RFC 4180 CSV,
 * and JSON arrays of objects. Width comes from a small built-in table rather than
 * wcwidth(), which depends on the process locale. Table cells can be capped at a display
 * width (cut with '…'), and columns of numbers right-aligned.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dbx_int.h"

typedef struct {
    uint32_t lo, hi;
} range;

/* Zero-width: combining marks, zero-width spaces/joiners, variation selectors. */
static const range zero_width[] = {
    {0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD}, {0x05BF, 0x05BF},   {0x05C1, 0x05C2},
    {0x05C4, 0x05C5}, {0x05C7, 0x05C7}, {0x0610, 0x061A}, {0x064B, 0x065F},   {0x0670, 0x0670},
    {0x06D6, 0x06DC}, {0x06DF, 0x06E4}, {0x06E7, 0x06E8}, {0x06EA, 0x06ED},   {0x0711, 0x0711},
    {0x0730, 0x074A}, {0x0900, 0x0902}, {0x093A, 0x093A}, {0x093C, 0x093C},   {0x0941, 0x0948},
    {0x094D, 0x094D}, {0x0951, 0x0957}, {0x0962, 0x0963}, {0x0E31, 0x0E31},   {0x0E34, 0x0E3A},
    {0x0E47, 0x0E4E}, {0x1160, 0x11FF}, {0x1AB0, 0x1AFF}, {0x1DC0, 0x1DFF},   {0x200B, 0x200F},
    {0x202A, 0x202E}, {0x2060, 0x2064}, {0x20D0, 0x20FF}, {0x302A, 0x302D},   {0x3099, 0x309A},
    {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F}, {0xFEFF, 0xFEFF}, {0x1F3FB, 0x1F3FF}, {0xE0000, 0xE0FFF},
};

/* Wide: East Asian Wide/Fullwidth and emoji presentation characters. */
static const range wide[] = {
    {0x1100, 0x115F},   {0x231A, 0x231B},   {0x2329, 0x232A},   {0x23E9, 0x23EC},
    {0x23F0, 0x23F0},   {0x23F3, 0x23F3},   {0x25FD, 0x25FE},   {0x2614, 0x2615},
    {0x2648, 0x2653},   {0x267F, 0x267F},   {0x2693, 0x2693},   {0x26A1, 0x26A1},
    {0x26AA, 0x26AB},   {0x26BD, 0x26BE},   {0x26C4, 0x26C5},   {0x26CE, 0x26CE},
    {0x26D4, 0x26D4},   {0x26EA, 0x26EA},   {0x26F2, 0x26F3},   {0x26F5, 0x26F5},
    {0x26FA, 0x26FA},   {0x26FD, 0x26FD},   {0x2705, 0x2705},   {0x270A, 0x270B},
    {0x2728, 0x2728},   {0x274C, 0x274C},   {0x274E, 0x274E},   {0x2753, 0x2755},
    {0x2757, 0x2757},   {0x2795, 0x2797},   {0x27B0, 0x27B0},   {0x27BF, 0x27BF},
    {0x2B1B, 0x2B1C},   {0x2B50, 0x2B50},   {0x2B55, 0x2B55},   {0x2E80, 0x303E},
    {0x3041, 0x3247},   {0x3250, 0x4DBF},   {0x4E00, 0xA4CF},   {0xA960, 0xA97F},
    {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},   {0xFE10, 0xFE19},   {0xFE30, 0xFE6F},
    {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},   {0x16FE0, 0x16FE4}, {0x17000, 0x18CFF},
    {0x1B000, 0x1B2FF}, {0x1F004, 0x1F004}, {0x1F0CF, 0x1F0CF}, {0x1F18E, 0x1F18E},
    {0x1F191, 0x1F19A}, {0x1F200, 0x1F251}, {0x1F300, 0x1F320}, {0x1F32D, 0x1F335},
    {0x1F337, 0x1F37C}, {0x1F37E, 0x1F393}, {0x1F3A0, 0x1F3CA}, {0x1F3CF, 0x1F3D3},
    {0x1F3E0, 0x1F3F0}, {0x1F3F4, 0x1F3F4}, {0x1F3F8, 0x1F43E}, {0x1F440, 0x1F440},
    {0x1F442, 0x1F4FC}, {0x1F4FF, 0x1F53D}, {0x1F54B, 0x1F54E}, {0x1F550, 0x1F567},
    {0x1F57A, 0x1F57A}, {0x1F595, 0x1F596}, {0x1F5A4, 0x1F5A4}, {0x1F5FB, 0x1F64F},
    {0x1F680, 0x1F6C5}, {0x1F6CC, 0x1F6CC}, {0x1F6D0, 0x1F6D2}, {0x1F6D5, 0x1F6D7},
    {0x1F6EB, 0x1F6EC}, {0x1F6F4, 0x1F6FC}, {0x1F7E0, 0x1F7EB}, {0x1F90C, 0x1F93A},
    {0x1F93C, 0x1F945}, {0x1F947, 0x1F9FF}, {0x1FA70, 0x1FAFF}, {0x20000, 0x2FFFD},
    {0x30000, 0x3FFFD},
};

static bool in_ranges(uint32_t cp, const range *r, size_t n)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < r[mid].lo)
            hi = mid;
        else if (cp > r[mid].hi)
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

/* Decode one UTF-8 sequence at s; returns its length (0 at NUL), or -1 when invalid. */
static int utf8_decode(const unsigned char *s, uint32_t *cp)
{
    if (s[0] == 0)
        return 0;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    int n;
    uint32_t v, min;
    if ((s[0] & 0xE0) == 0xC0) {
        n = 2, v = s[0] & 0x1F, min = 0x80;
    } else if ((s[0] & 0xF0) == 0xE0) {
        n = 3, v = s[0] & 0x0F, min = 0x800;
    } else if ((s[0] & 0xF8) == 0xF0) {
        n = 4, v = s[0] & 0x07, min = 0x10000;
    } else {
        return -1;
    }
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return -1;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return -1;
    *cp = v;
    return n;
}

static int cp_width(uint32_t cp)
{
    if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0))
        return 0;
    if (cp < 0x300)
        return 1;
    if (in_ranges(cp, zero_width, sizeof(zero_width) / sizeof(zero_width[0])))
        return 0;
    if (in_ranges(cp, wide, sizeof(wide) / sizeof(wide[0])))
        return 2;
    return 1;
}

size_t sl_dbx_text_width(const char *s)
{
    if (!s)
        return 0;
    const unsigned char *p = (const unsigned char *)s;
    size_t w = 0;
    while (*p) {
        uint32_t cp;
        int n = utf8_decode(p, &cp);
        if (n <= 0) { /* invalid byte: shown as one replacement column */
            w += 1;
            p += 1;
            continue;
        }
        w += (size_t)cp_width(cp);
        p += n;
    }
    return w;
}

bool sl_dbx_text_is_number(const char *s)
{
    if (!s || !*s)
        return false;
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (strcmp(p, "Infinity") == 0 || (p == s && strcmp(p, "NaN") == 0))
        return true;
    size_t int_digits = 0, frac_digits = 0;
    while (*p >= '0' && *p <= '9')
        p++, int_digits++;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9')
            p++, frac_digits++;
    }
    if (int_digits + frac_digits == 0)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == '\0';
}

char *sl_dbx_text_truncate(const char *s, size_t max_width)
{
    if (!s)
        return NULL;
    if (max_width == 0 || sl_dbx_text_width(s) <= max_width)
        return sl_xstrdup(s);
    size_t budget = max_width - 1, w = 0; /* one column is left for the ellipsis */
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp;
        int n = utf8_decode(p, &cp);
        size_t cw = n <= 0 ? 1 : (size_t)cp_width(cp);
        if (n <= 0)
            n = 1;
        if (w + cw > budget)
            break;
        w += cw;
        p += n;
    }
    size_t len = (size_t)((const char *)p - s);
    char *out = sl_xmalloc(len + 4);
    memcpy(out, s, len);
    memcpy(out + len, "\xe2\x80\xa6", 4); /* U+2026 and the NUL */
    return out;
}

void sl_dbx_render_opts_init(sl_dbx_render_opts *o)
{
    o->null_text = "NULL";
    o->max_width = SL_DBX_RENDER_MAX_WIDTH;
    o->align_numbers = true;
}

/* Text of a cell (owned), or NULL for SQL NULL. */
static char *cell_text(const json_t *v)
{
    if (!v || json_is_null(v))
        return NULL;
    if (json_is_string(v))
        return sl_xstrdup(json_string_value(v));
    if (json_is_integer(v))
        return sl_xasprintf("%lld", (long long)json_integer_value(v));
    if (json_is_real(v))
        return sl_xasprintf("%.17g", json_real_value(v));
    if (json_is_true(v))
        return sl_xstrdup("true");
    if (json_is_false(v))
        return sl_xstrdup("false");
    return sl_json_dumps(v);
}

/* Does a non-NULL cell count as a number for alignment? */
static bool cell_is_number(const json_t *v)
{
    if (json_is_integer(v) || json_is_real(v))
        return true;
    return json_is_string(v) && sl_dbx_text_is_number(json_string_value(v));
}

/* Control characters would break the grid: show them as spaces; then apply the width cap. */
static char *table_text(const char *s, size_t max_width)
{
    char *t = sl_xstrdup(s);
    for (char *p = t; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7F)
            *p = ' ';
    if (max_width == 0)
        return t;
    char *cut = sl_dbx_text_truncate(t, max_width);
    free(t);
    return cut;
}

static void pad(FILE *out, size_t n)
{
    while (n-- > 0)
        fputc(' ', out);
}

/* One cell padded to `width`: right-aligned or left-aligned, no padding after the last. */
static void put_cell(FILE *out, const char *text, size_t text_w, size_t width, bool right,
                     bool last)
{
    size_t gap = width > text_w ? width - text_w : 0;
    if (right)
        pad(out, gap);
    fputs(text, out);
    if (!last)
        pad(out, (right ? 0 : gap) + 2);
}

void sl_dbx_render_table(FILE *out, size_t n_cols, const char *const *names, const json_t *rows,
                         const sl_dbx_render_opts *opts)
{
    if (n_cols == 0)
        return;
    const char *null_text = opts && opts->null_text ? opts->null_text : "NULL";
    size_t max_width = opts ? opts->max_width : 0;
    bool align = opts && opts->align_numbers;
    size_t n_rows = json_array_size(rows);
    size_t *width = sl_xcalloc(n_cols, sizeof(size_t));
    bool *numeric = sl_xcalloc(n_cols, sizeof(bool));
    bool *seen_value = sl_xcalloc(n_cols, sizeof(bool));
    char **head = sl_xcalloc(n_cols, sizeof(char *));
    size_t *hw = sl_xcalloc(n_cols, sizeof(size_t));
    char **cells = sl_xcalloc(n_rows * n_cols + 1, sizeof(char *));
    size_t *cw = sl_xcalloc(n_rows * n_cols + 1, sizeof(size_t));
    for (size_t c = 0; c < n_cols; c++) {
        head[c] = table_text(names[c] ? names[c] : "", max_width);
        hw[c] = width[c] = sl_dbx_text_width(head[c]);
        numeric[c] = align;
    }
    for (size_t r = 0; r < n_rows; r++) {
        const json_t *row = json_array_get(rows, r);
        for (size_t c = 0; c < n_cols; c++) {
            const json_t *v = json_array_get(row, c);
            char *raw = cell_text(v);
            if (raw && numeric[c]) {
                seen_value[c] = true;
                if (!cell_is_number(v))
                    numeric[c] = false;
            }
            char *t = table_text(raw ? raw : null_text, max_width);
            free(raw);
            cells[r * n_cols + c] = t;
            cw[r * n_cols + c] = sl_dbx_text_width(t);
            if (cw[r * n_cols + c] > width[c])
                width[c] = cw[r * n_cols + c];
        }
    }
    for (size_t c = 0; c < n_cols; c++)
        numeric[c] = numeric[c] && seen_value[c]; /* an all-NULL column is not numeric */
    for (size_t c = 0; c < n_cols; c++)
        put_cell(out, head[c], hw[c], width[c], numeric[c], c + 1 == n_cols);
    fputc('\n', out);
    for (size_t c = 0; c < n_cols; c++) {
        for (size_t i = 0; i < width[c]; i++)
            fputc('-', out);
        if (c + 1 < n_cols)
            pad(out, 2);
    }
    fputc('\n', out);
    for (size_t r = 0; r < n_rows; r++) {
        for (size_t c = 0; c < n_cols; c++)
            put_cell(out, cells[r * n_cols + c], cw[r * n_cols + c], width[c], numeric[c],
                     c + 1 == n_cols);
        fputc('\n', out);
    }
    for (size_t i = 0; i < n_rows * n_cols; i++)
        free(cells[i]);
    for (size_t c = 0; c < n_cols; c++)
        free(head[c]);
    free(head);
    free(hw);
    free(cells);
    free(cw);
    free(width);
    free(numeric);
    free(seen_value);
}

static void csv_field(FILE *out, const char *s)
{
    if (!s)
        return;
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            fputc('"', out);
        fputc(*p, out);
    }
    fputc('"', out);
}

void sl_dbx_render_csv(FILE *out, size_t n_cols, const char *const *names, const json_t *rows)
{
    if (n_cols == 0)
        return;
    for (size_t c = 0; c < n_cols; c++) {
        if (c)
            fputc(',', out);
        csv_field(out, names[c] ? names[c] : "");
    }
    fputs("\r\n", out);
    size_t r;
    const json_t *row;
    json_array_foreach(rows, r, row)
    {
        for (size_t c = 0; c < n_cols; c++) {
            if (c)
                fputc(',', out);
            char *t = cell_text(json_array_get(row, c));
            csv_field(out, t);
            free(t);
        }
        fputs("\r\n", out);
    }
}

static json_t *typed_value(const json_t *cell, const char *type)
{
    if (!json_is_string(cell) || !type)
        return json_incref((json_t *)cell);
    const char *s = json_string_value(cell);
    char *end;
    if (strcasecmp(type, "INT") == 0 || strcasecmp(type, "LONG") == 0 ||
        strcasecmp(type, "SHORT") == 0 || strcasecmp(type, "BYTE") == 0 ||
        strcasecmp(type, "BIGINT") == 0 || strcasecmp(type, "SMALLINT") == 0 ||
        strcasecmp(type, "TINYINT") == 0 || strcasecmp(type, "INTEGER") == 0) {
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (*s && !*end && !errno)
            return sl_json_check(json_integer(v));
    } else if (strcasecmp(type, "FLOAT") == 0 || strcasecmp(type, "DOUBLE") == 0) {
        errno = 0;
        double v = strtod(s, &end);
        /* NaN/Infinity have no JSON form: they stay strings */
        if (*s && !*end && !errno && isfinite(v))
            return sl_json_check(json_real(v));
    } else if (strcasecmp(type, "BOOLEAN") == 0) {
        if (strcasecmp(s, "true") == 0)
            return json_true();
        if (strcasecmp(s, "false") == 0)
            return json_false();
    }
    return json_incref((json_t *)cell);
}

json_t *sl_dbx_rows_to_objects(size_t n_cols, const char *const *names, const char *const *types,
                               const json_t *rows)
{
    json_t *arr = sl_json_check(json_array());
    size_t r;
    const json_t *row;
    json_array_foreach(rows, r, row)
    {
        json_t *o = sl_json_check(json_object());
        for (size_t c = 0; c < n_cols; c++) {
            const json_t *cell = json_array_get(row, c);
            json_t *v = cell ? typed_value(cell, types ? types[c] : NULL) : json_null();
            json_object_set_new(o, names[c] ? names[c] : "", v);
        }
        json_array_append_new(arr, o);
    }
    return arr;
}

void sl_dbx_render_json(FILE *out, size_t n_cols, const char *const *names,
                        const char *const *types, const json_t *rows)
{
    json_t *arr = sl_dbx_rows_to_objects(n_cols, names, types, rows);
    json_dumpf(arr, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', out);
    json_decref(arr);
}
