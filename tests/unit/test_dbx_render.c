/*
 * test_dbx_render.c - tabular output (src/dbx/render.c): display width of UTF-8 text
 * (wide CJK and emoji, combining marks, invalid bytes), aligned tables with NULL,
 * RFC 4180 CSV quoting, and JSON objects with typed values; with the default options,
 * numeric columns right-aligned (NULLs and all-NULL columns included), long cells and
 * headers cut with an ellipsis by display width, and an empty result as header + rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/dbx.h"

/* Render into a string via a memory stream. */
typedef void (*render_fn)(FILE *out, void *arg);

static char *capture(render_fn fn, void *arg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    fn(f, arg);
    fclose(f);
    return buf;
}

static void text_width_counts_columns(void **state)
{
    (void)state;
    assert_int_equal(sl_dbx_text_width(""), 0);
    assert_int_equal(sl_dbx_text_width(NULL), 0);
    assert_int_equal(sl_dbx_text_width("abc"), 3);
    assert_int_equal(sl_dbx_text_width("caf\xc3\xa9"), 4);              /* é precomposed */
    assert_int_equal(sl_dbx_text_width("cafe\xcc\x81"), 4);             /* e + combining acute */
    assert_int_equal(sl_dbx_text_width("\xe6\x97\xa5\xe6\x9c\xac"), 4); /* 日本 */
    assert_int_equal(sl_dbx_text_width("\xed\x95\x9c"), 2);             /* 한 */
    assert_int_equal(sl_dbx_text_width("\xf0\x9f\x98\x80"), 2);         /* 😀 */
    assert_int_equal(sl_dbx_text_width("\xef\xbc\xa1"), 2);             /* fullwidth A */
    assert_int_equal(sl_dbx_text_width("a\xe2\x80\x8b"
                                       "b"),
                     2);                                /* zero-width space */
    assert_int_equal(sl_dbx_text_width("\xff\xfe"), 2); /* invalid bytes */
    assert_int_equal(sl_dbx_text_width("\xc0\xaf"), 2); /* overlong '/' */
    assert_int_equal(sl_dbx_text_width("\xe6\x97"), 2); /* truncated */
    assert_int_equal(sl_dbx_text_width("a\tb"), 2);     /* control: 0 */
}

typedef struct {
    size_t n;
    const char *const *names;
    const char *const *types;
    json_t *rows;
} table_arg;

static void do_table(FILE *f, void *arg)
{
    table_arg *a = arg;
    sl_dbx_render_table(f, a->n, a->names, a->rows, NULL);
}

static void do_csv(FILE *f, void *arg)
{
    table_arg *a = arg;
    sl_dbx_render_csv(f, a->n, a->names, a->rows);
}

static void do_json(FILE *f, void *arg)
{
    table_arg *a = arg;
    sl_dbx_render_json(f, a->n, a->names, a->types, a->rows);
}

static void table_aligns_by_display_width(void **state)
{
    (void)state;
    const char *names[] = {"id", "name", "n"};
    json_t *rows = json_pack("[[s,s,s],[s,s,n],[s,s,i]]", "1", "\xe6\x97\xa5\xe6\x9c\xac", "x",
                             "22", "caf\xc3\xa9", "333", "line\nbreak", 7);
    table_arg a = {3, names, NULL, rows};
    char *out = capture(do_table, &a);
    const char *want = "id   name        n\n"
                       "---  ----------  ----\n"
                       "1    \xe6\x97\xa5\xe6\x9c\xac        x\n"
                       "22   caf\xc3\xa9        NULL\n"
                       "333  line break  7\n";
    assert_string_equal(out, want);
    free(out);
    json_decref(rows);

    /* missing cells render as NULL; a custom null text */
    const char *one[] = {"only"};
    rows = json_pack("[[],[s]]", "v");
    sl_dbx_render_opts o;
    sl_dbx_render_opts_init(&o);
    o.null_text = "-";
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    sl_dbx_render_table(f, 1, one, rows, &o);
    fclose(f);
    assert_string_equal(buf, "only\n----\n-\nv\n");
    free(buf);
    json_decref(rows);

    /* no columns: nothing at all */
    table_arg none = {0, NULL, NULL, NULL};
    out = capture(do_table, &none);
    assert_string_equal(out, "");
    free(out);
}

static void csv_quotes_per_rfc4180(void **state)
{
    (void)state;
    const char *names[] = {"a", "b,c"};
    json_t *rows =
        json_pack("[[s,s],[n,s],[s,b]]", "plain", "has \"quote\"", "multi\nline", "", true);
    table_arg a = {2, names, NULL, rows};
    char *out = capture(do_csv, &a);
    assert_string_equal(out, "a,\"b,c\"\r\n"
                             "plain,\"has \"\"quote\"\"\"\r\n"
                             ",\"multi\nline\"\r\n"
                             ",true\r\n");
    free(out);
    json_decref(rows);
}

static void json_objects_with_typed_values(void **state)
{
    (void)state;
    const char *names[] = {"i", "d", "b", "dec", "s", "nan"};
    const char *types[] = {"LONG", "DOUBLE", "BOOLEAN", "DECIMAL", "STRING", "DOUBLE"};
    json_t *rows = json_pack("[[s,s,s,s,s,s],[n,s,s,s,n,s]]", "42", "1.5", "true", "10.00", "x",
                             "NaN", "notanumber", "TRUE", "1", "");
    table_arg a = {6, names, types, rows};
    char *out = capture(do_json, &a);
    json_t *got = json_loads(out, 0, NULL);
    assert_non_null(got);
    json_t *r0 = json_array_get(got, 0), *r1 = json_array_get(got, 1);
    assert_int_equal(json_integer_value(json_object_get(r0, "i")), 42);
    assert_true(json_real_value(json_object_get(r0, "d")) == 1.5);
    assert_true(json_is_true(json_object_get(r0, "b")));
    assert_string_equal(json_string_value(json_object_get(r0, "dec")), "10.00");
    assert_string_equal(json_string_value(json_object_get(r0, "nan")), "NaN");
    assert_true(json_is_null(json_object_get(r1, "i")));
    assert_string_equal(json_string_value(json_object_get(r1, "d")), "notanumber");
    assert_true(json_is_true(json_object_get(r1, "b")));
    assert_true(json_is_null(json_object_get(r1, "s")));
    /* keys keep column order */
    assert_non_null(strstr(out, "\"i\": 42,\n    \"d\": 1.5"));
    json_decref(got);
    free(out);
    json_decref(rows);
    /* an empty result is an empty array */
    json_t *empty = json_array();
    table_arg e = {6, names, types, empty};
    out = capture(do_json, &e);
    assert_string_equal(out, "[]\n");
    free(out);
    json_decref(empty);
}

static void numbers_are_recognised(void **state)
{
    (void)state;
    const char *yes[] = {"0",       "-12", "+3.5",     ".5",        "5.",  "1e10",
                         "1.0E-20", "NaN", "Infinity", "-Infinity", "007", "2579.57"};
    const char *no[] = {"",    "-",   ".",   "1.2.3", " 1",  "1 ",   "0x10", "1e",
                        "abc", "nan", "inf", "1,000", "--1", "-NaN", "1e+",  "\xe6\x97\xa5"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        assert_true(sl_dbx_text_is_number(yes[i]));
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        assert_false(sl_dbx_text_is_number(no[i]));
    assert_false(sl_dbx_text_is_number(NULL));
}

static void expect_cut(const char *in, size_t max, const char *want)
{
    char *got = sl_dbx_text_truncate(in, max);
    assert_string_equal(got, want);
    if (max > 0)
        assert_true(sl_dbx_text_width(got) <= max);
    free(got);
}

static void truncation_respects_display_width(void **state)
{
    (void)state;
    assert_null(sl_dbx_text_truncate(NULL, 5));
    expect_cut("abc", 0, "abc");
    expect_cut("abc", 3, "abc");
    expect_cut("abcd", 3, "ab\xe2\x80\xa6");
    expect_cut("\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 3, "\xf0\x9f\x98\x80\xe2\x80\xa6"); /* 😀… */
    expect_cut("\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 2, "\xe2\x80\xa6"); /* no half emoji */
    expect_cut("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 4, "\xe6\x97\xa5\xe2\x80\xa6"); /* 日… */
    expect_cut("cafe\xcc\x81", 4, "cafe\xcc\x81");           /* combining: width 4 */
    expect_cut("xe\xcc\x81yz", 3, "xe\xcc\x81\xe2\x80\xa6"); /* the mark stays on e */
    expect_cut("\xff\xfe\xfd", 2, "\xff\xe2\x80\xa6");       /* invalid bytes: 1 each */
}

static void do_table_opts(FILE *f, void *arg)
{
    table_arg *a = arg;
    sl_dbx_render_opts o;
    sl_dbx_render_opts_init(&o);
    if (a->types) /* abused here to carry a max width */
        o.max_width = (size_t)atoi(a->types[0]);
    sl_dbx_render_table(f, a->n, a->names, a->rows, &o);
}

static void numeric_columns_align_right(void **state)
{
    (void)state;
    const char *names[] = {"name", "qty", "price", "note"};
    json_t *rows = json_pack("[[s,s,s,s],[s,n,s,s],[s,s,s,n]]", "apple", "3", "1.50", "n/a",
                             "\xe6\x97\xa5\xe6\x9c\xac", "12.25", "7", "kiwi", "120", "-0.5");
    table_arg a = {4, names, NULL, rows};
    char *out = capture(do_table_opts, &a);
    const char *want = "name    qty  price  note\n"
                       "-----  ----  -----  ----\n"
                       "apple     3   1.50  n/a\n"
                       "\xe6\x97\xa5\xe6\x9c\xac   NULL  12.25  7\n"
                       "kiwi    120   -0.5  NULL\n";
    assert_string_equal(out, want);
    free(out);
    json_decref(rows);

    /* JSON numbers count; an all-NULL column stays left-aligned */
    const char *two[] = {"n", "empty"};
    rows = json_pack("[[i,n],[f,n]]", 5, 2.5);
    table_arg b = {2, two, NULL, rows};
    out = capture(do_table_opts, &b);
    assert_string_equal(out, "  n  empty\n"
                             "---  -----\n"
                             "  5  NULL\n"
                             "2.5  NULL\n");
    free(out);
    json_decref(rows);
}

static void long_cells_are_cut_with_an_ellipsis(void **state)
{
    (void)state;
    const char *names[] = {"description", "n"};
    const char *width[] = {"6"};
    json_t *rows = json_pack("[[s,i],[s,i],[s,n]]", "short", 1, "a much longer text", 22,
                             "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x83\x86\xe3\x82\xad", NULL);
    table_arg a = {2, names, width, rows};
    char *out = capture(do_table_opts, &a);
    const char *want = "descr\xe2\x80\xa6     n\n"
                       "------  ----\n"
                       "short      1\n"
                       "a muc\xe2\x80\xa6    22\n"
                       "\xe6\x97\xa5\xe6\x9c\xac\xe2\x80\xa6   NULL\n";
    assert_string_equal(out, want);
    free(out);

    /* the default cap is 40 columns; 0 means never cut */
    char long_text[64];
    memset(long_text, 'x', 50);
    long_text[50] = '\0';
    json_decref(rows);
    rows = json_pack("[[s]]", long_text);
    const char *one[] = {"t"};
    table_arg b = {1, one, NULL, rows};
    out = capture(do_table_opts, &b);
    char want40[160];
    snprintf(want40, sizeof(want40), "t\n%.40s\n%.39s\xe2\x80\xa6\n",
             "----------------------------------------------------------", long_text);
    assert_string_equal(out, want40);
    free(out);
    const char *zero[] = {"0"};
    table_arg c = {1, one, zero, rows};
    out = capture(do_table_opts, &c);
    assert_non_null(strstr(out, long_text));
    free(out);
    json_decref(rows);
}

static void empty_result_prints_header_and_rule(void **state)
{
    (void)state;
    const char *names[] = {"a", "bb"};
    json_t *rows = json_array();
    table_arg a = {2, names, NULL, rows};
    char *out = capture(do_table_opts, &a);
    assert_string_equal(out, "a  bb\n-  --\n");
    free(out);
    out = capture(do_csv, &a);
    assert_string_equal(out, "a,bb\r\n");
    free(out);
    json_t *objs = sl_dbx_rows_to_objects(2, names, NULL, rows);
    assert_int_equal(json_array_size(objs), 0);
    json_decref(objs);
    json_decref(rows);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(text_width_counts_columns),
        cmocka_unit_test(table_aligns_by_display_width),
        cmocka_unit_test(csv_quotes_per_rfc4180),
        cmocka_unit_test(json_objects_with_typed_values),
        cmocka_unit_test(numbers_are_recognised),
        cmocka_unit_test(truncation_respects_display_width),
        cmocka_unit_test(numeric_columns_align_right),
        cmocka_unit_test(long_cells_are_cut_with_an_ellipsis),
        cmocka_unit_test(empty_result_prints_header_and_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
