/* test_datasets.c - the check a dataset file passes before ingest (sl_dataset_validate):
 * JSON Lines one whole object per line, CSV lines numbered for every line ending. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sluice/datasets.h"

static char tmpdir[] = "/tmp/test_datasets.XXXXXX";

static int setup(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static sl_code validate(const char *name, const char *text, int64_t *rows, sl_err *err)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    sl_dataset_format fmt;
    int64_t bytes;
    sl_err_clear(err);
    return sl_dataset_validate(path, &fmt, rows, &bytes, err);
}

/* Found by fuzzing (tests/fuzz/corpus/jsonl/trailing-value.jsonl): a line holding an object
 * and then more (`{"a":1} x`, two objects) passed the check, and the sync's read_files then
 * refused the file. */
static void jsonl_lines_hold_exactly_one_object(void **state)
{
    (void)state;
    int64_t rows;
    sl_err err;
    assert_int_equal(validate("a.jsonl", "{\"a\":1}\n{\"a\":2} x\n", &rows, &err), SL_EINVAL);
    assert_non_null(strstr(err.msg, "a.jsonl line 2: invalid JSON"));
    assert_int_equal(validate("b.jsonl", "{\"a\":1}{\"a\":2}\n", &rows, &err), SL_EINVAL);
    assert_non_null(strstr(err.msg, "b.jsonl line 1: invalid JSON"));
    /* whitespace around the object, CRLF and blank lines are fine */
    assert_int_equal(validate("c.jsonl", " {\"a\":1} \r\n\n\t{\"a\":[2]}", &rows, &err), SL_OK);
    assert_int_equal(rows, 2);
    assert_int_equal(validate("d.jsonl", "[1]\n", &rows, &err), SL_EINVAL);
    assert_non_null(strstr(err.msg, "line 1: expected one JSON object per line"));
}

static void csv_errors_count_cr_line_ends(void **state)
{
    (void)state;
    int64_t rows;
    sl_err err;
    assert_int_equal(validate("a.csv", "a,b\r1,2\r3,4\r", &rows, &err), SL_OK);
    assert_int_equal(rows, 2);
    assert_int_equal(validate("b.csv", "a,b\r1,2\r3\r", &rows, &err), SL_EINVAL);
    assert_non_null(strstr(err.msg, "b.csv: line 3: expected 2 fields, found 1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jsonl_lines_hold_exactly_one_object),
        cmocka_unit_test(csv_errors_count_cr_line_ends),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
