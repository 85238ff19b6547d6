/* fuzz_jsonl.c - the JSON Lines check of dataset ingest (sl_dataset_validate on a .jsonl
 * file, workflows/datasets.c): one JSON object per line, blank lines skipped. Property: a
 * file is accepted exactly when jansson reads every non-blank line as one whole object (as
 * the sync's read_files reads it, src/emulator/sql_read_files.c), and the row count is the
 * number of such lines. */
#include <ctype.h>

#include "fuzz.h"
#include "sluice/datasets.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sl_log_set_level(SL_LOG_OFF);
    return 0;
}

/* The expected verdict, computed independently: -1 refused, else the row count. */
static int64_t expect_rows(const uint8_t *data, size_t size)
{
    int64_t rows = 0;
    size_t i = 0;
    while (i < size) {
        size_t e = i;
        while (e < size && data[e] != '\n')
            e++;
        size_t len = e < size ? e - i + 1 : e - i; /* getline keeps the newline */
        bool blank = true;
        for (size_t k = i; k < i + len; k++)
            blank = blank && isspace(data[k]);
        if (!blank) {
            json_error_t je;
            json_t *j = json_loadb((const char *)data + i, len, 0, &je);
            bool obj = json_is_object(j);
            json_decref(j);
            if (!obj)
                return -1;
            rows++;
        }
        i = e + 1;
    }
    return rows > 0 ? rows : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_file("in.jsonl", data, size);
    sl_dataset_format fmt;
    int64_t rows = -1, bytes = -1;
    sl_err err;
    sl_err_clear(&err);
    sl_code rc = sl_dataset_validate(path, &fmt, &rows, &bytes, &err);
    int64_t want = expect_rows(data, size);
    if (want < 0) {
        FUZZ_CHECK(rc == SL_EINVAL && err.msg[0], "accepted a bad file (rows=%lld)",
                   (long long)rows);
    } else {
        FUZZ_CHECK(rc == SL_OK && fmt == SL_DATASET_JSONL && rows == want && bytes == (int64_t)size,
                   "rc=%d rows=%lld want %lld: %s", rc, (long long)rows, (long long)want, err.msg);
    }
    return 0;
}
