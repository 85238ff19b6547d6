/* test_csv.c - the RFC 4180 reader: quoting, embedded separators/quotes/newlines, CRLF,
 * blank lines, and errors with line numbers (ragged rows, bad quotes, NUL bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sluice/util.h"

static char path[64];

static sl_csv *open_bytes(const char *text, size_t len)
{
    snprintf(path, sizeof(path), "/tmp/test_csv.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    sl_csv *c = sl_csv_open(path, ',');
    assert_non_null(c);
    return c;
}

static sl_csv *open_text(const char *text)
{
    snprintf(path, sizeof(path), "/tmp/test_csv.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    sl_csv *c = sl_csv_open(path, ',');
    assert_non_null(c);
    return c;
}

static void done(sl_csv *c)
{
    sl_csv_close(c);
    unlink(path);
}

static void quoted_fields_keep_commas_quotes_and_newlines(void **state)
{
    (void)state;
    sl_csv *c = open_text("a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n,,\n");
    char **f;
    size_t n;
    char eb[128];
    assert_int_equal(sl_csv_next(c, &f, &n, eb, sizeof(eb)), 1);
    assert_int_equal(n, 3);
    assert_string_equal(f[2], "c");
    assert_int_equal(sl_csv_next(c, &f, &n, eb, sizeof(eb)), 1);
    assert_string_equal(f[0], "x, y");
    assert_string_equal(f[1], "say \"hi\"");
    assert_string_equal(f[2], "two\nlines");
    assert_int_equal(sl_csv_next(c, &f, &n, eb, sizeof(eb)), 1);
    assert_int_equal(n, 3);
    assert_string_equal(f[0], "");
    assert_int_equal(sl_csv_line(c), 4);
    assert_int_equal(sl_csv_next(c, &f, &n, eb, sizeof(eb)), 0);
    done(c);
}

/* Found by fuzzing (tests/fuzz/corpus/csv/cr-line-ends.csv): records ended by a lone CR all
 * reported line 1. */
static void cr_line_ends_count_as_lines(void **state)
{
    (void)state;
    sl_csv *c = open_text("a,b\r1,2\r\r3\r\n4,5\r6\r");
    char **f;
    size_t n;
    char eb[128];
    assert_int_equal(sl_csv_next(c, &f, &n, eb, sizeof(eb)), 1);
    assert_int_equal(sl_csv_line(c), 1);
    assert_int_equal(sl_csv_next(c, &f, &n, eb, sizeof(eb)), 1);
    assert_string_equal(f[1], "2");
    assert_int_equal(sl_csv_line(c), 2);
    assert_int_equal(sl_csv_next(c, &f, &n, eb, sizeof(eb)), -1);
    assert_string_equal(eb, "line 4: expected 2 fields, found 1");
    done(c);
    c = open_text("a\r\"x\ry\"\rb\r");
    assert_int_equal(sl_csv_next(c, &f, &n, eb, sizeof(eb)), 1);
    assert_int_equal(sl_csv_next(c, &f, &n, eb, sizeof(eb)), 1);
    assert_string_equal(f[0], "x\ry");
    assert_int_equal(sl_csv_next(c, &f, &n, eb, sizeof(eb)), 1);
    assert_string_equal(f[0], "b");
    assert_int_equal(sl_csv_line(c), 4);
    done(c);
}

static void blank_lines_are_skipped_and_last_line_needs_no_newline(void **state)
{
    (void)state;
    sl_csv *c = open_text("h1,h2\n\n1,2\n\n3,4");
    char **f;
    size_t n;
    char eb[128];
    int rows = 0;
    while (sl_csv_next(c, &f, &n, eb, sizeof(eb)) == 1)
        rows++;
    assert_int_equal(rows, 3);
    assert_string_equal(f[1], "4");
    done(c);
}

static void ragged_row_fails_with_its_line_number(void **state)
{
    (void)state;
    sl_csv *c = open_text("a,b\n1,2\n\"multi\nline\",2\n1,2,3\n");
    char **f;
    size_t n;
    char eb[128];
    for (int i = 0; i < 3; i++)
        assert_int_equal(sl_csv_next(c, &f, &n, eb, sizeof(eb)), 1);
    assert_int_equal(sl_csv_next(c, &f, &n, eb, sizeof(eb)), -1);
    assert_non_null(strstr(eb, "line 5"));
    assert_non_null(strstr(eb, "expected 2 fields, found 3"));
    done(c);
}

static void bad_quoting_is_an_error(void **state)
{
    (void)state;
    char **f;
    size_t n;
    char eb[128];
    sl_csv *c = open_text("a,b\n\"open,2\n");
    assert_int_equal(sl_csv_next(c, &f, &n, eb, sizeof(eb)), 1);
    assert_int_equal(sl_csv_next(c, &f, &n, eb, sizeof(eb)), -1);
    assert_non_null(strstr(eb, "unterminated"));
    done(c);
    c = open_text("\"a\"x,b\n");
    assert_int_equal(sl_csv_next(c, &f, &n, eb, sizeof(eb)), -1);
    assert_non_null(strstr(eb, "line 1"));
    done(c);
}

static void nul_byte_fails_with_its_line_number(void **state)
{
    (void)state;
    char **f;
    size_t n;
    char eb[128];
    static const char unquoted[] = "a,b\n1,2\n3,x\0y\n";
    sl_csv *c = open_bytes(unquoted, sizeof(unquoted) - 1);
    for (int i = 0; i < 2; i++)
        assert_int_equal(sl_csv_next(c, &f, &n, eb, sizeof(eb)), 1);
    assert_int_equal(sl_csv_next(c, &f, &n, eb, sizeof(eb)), -1);
    assert_non_null(strstr(eb, "line 3: NUL byte"));
    done(c);
    static const char quoted[] = "a,b\n\"x\ny\0\",2\n";
    c = open_bytes(quoted, sizeof(quoted) - 1);
    assert_int_equal(sl_csv_next(c, &f, &n, eb, sizeof(eb)), 1);
    assert_int_equal(sl_csv_next(c, &f, &n, eb, sizeof(eb)), -1);
    assert_non_null(strstr(eb, "line 3: NUL byte"));
    done(c);
}

static void large_file_streams(void **state)
{
    (void)state;
    snprintf(path, sizeof(path), "/tmp/test_csv.XXXXXX");
    int fd = mkstemp(path);
    FILE *fp = fdopen(fd, "w");
    fprintf(fp, "id,name,value\n");
    for (int i = 0; i < 100000; i++)
        fprintf(fp, "%d,\"name %d\",%d.5\n", i, i, i);
    fclose(fp);
    sl_csv *c = sl_csv_open(path, ',');
    char **f;
    size_t n;
    char eb[128];
    long rows = 0;
    while (sl_csv_next(c, &f, &n, eb, sizeof(eb)) == 1)
        rows++;
    assert_int_equal(rows, 100001);
    done(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quoted_fields_keep_commas_quotes_and_newlines),
        cmocka_unit_test(cr_line_ends_count_as_lines),
        cmocka_unit_test(blank_lines_are_skipped_and_last_line_needs_no_newline),
        cmocka_unit_test(ragged_row_fails_with_its_line_number),
        cmocka_unit_test(bad_quoting_is_an_error),
        cmocka_unit_test(nul_byte_fails_with_its_line_number),
        cmocka_unit_test(large_file_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
