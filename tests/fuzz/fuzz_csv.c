/* fuzz_csv.c - the CSV reader (src/util/csv.c) and the dataset check built on it
 * (sl_dataset_validate on a .csv file, workflows/datasets.c). The first byte picks the
 * separator (',' ';' '\t' '|', as read_files' sep option may), the rest is the file.
 * Properties: every record has the first record's width, fields are NUL-terminated inside
 * the record, record lines never go backwards, and validate counts the rows the reader
 * returns after the header. */
#include "fuzz.h"
#include "sluice/datasets.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sl_log_set_level(SL_LOG_OFF);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char seps[] = {',', ';', '\t', '|'};
    char sep = ',';
    if (size > 0 && (data[0] & 0x80)) { /* high bit set: a separator other than ',' */
        sep = seps[data[0] % sizeof(seps)];
        data++;
        size--;
    }
    const char *path = fuzz_write_file("in.csv", data, size);
    sl_csv *c = sl_csv_open(path, sep);
    FUZZ_CHECK(c != NULL, "sl_csv_open(%s) failed", path);
    char **fields;
    size_t n, width = 0;
    char eb[200];
    long last_line = 0;
    int64_t records = 0;
    int r;
    while ((r = sl_csv_next(c, &fields, &n, eb, sizeof(eb))) == 1) {
        FUZZ_CHECK(n > 0, "a record without fields");
        if (!width)
            width = n;
        FUZZ_CHECK(n == width, "record of %zu fields after one of %zu", n, width);
        for (size_t i = 0; i < n; i++)
            FUZZ_CHECK(fields[i] && strlen(fields[i]) <= size, "field %zu", i);
        FUZZ_CHECK(sl_csv_line(c) > last_line, "record line %ld after %ld", sl_csv_line(c),
                   last_line);
        last_line = sl_csv_line(c);
        records++;
    }
    FUZZ_CHECK(r == 0 || (r == -1 && strstr(eb, "line ") == eb), "r=%d eb=%s", r, eb);
    sl_csv_close(c);

    if (sep == ',') {
        sl_dataset_format fmt;
        int64_t rows = -1, bytes = -1;
        sl_err err;
        sl_err_clear(&err);
        sl_code rc = sl_dataset_validate(path, &fmt, &rows, &bytes, &err);
        if (size == 0) {
            FUZZ_CHECK(rc == SL_EINVAL, "an empty file was accepted");
        } else if (r == 0 && records > 0) {
            FUZZ_CHECK(rc == SL_OK && fmt == SL_DATASET_CSV && rows == records - 1 &&
                           bytes == (int64_t)size,
                       "validate: rc=%d rows=%lld of %lld records: %s", rc, (long long)rows,
                       (long long)records, err.msg);
        } else {
            FUZZ_CHECK(rc == SL_EINVAL && err.msg[0],
                       "validate accepted a file the reader "
                       "refuses (r=%d, %lld records)",
                       r, (long long)records);
        }
    }
    return 0;
}
