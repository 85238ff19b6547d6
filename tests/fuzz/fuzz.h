/*
 * fuzz.h - what every fuzz target shares: the libFuzzer entry points (defined by each
 * fuzz_<name>.c, called by libFuzzer or by replay_main.c) and a scratch directory for the
 * parsers that read a path rather than a buffer.
 *
 * A target must not keep state between inputs that changes what the next input does, or a
 * crash found after many inputs would not reproduce from its one artifact.
 */
#ifndef SLUICE_TESTS_FUZZ_H
#define SLUICE_TESTS_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A directory of this process's own under $TMPDIR (or /tmp), made on first use. Fuzzing
 * runs (tests/fuzz/run.sh) point TMPDIR into the build tree and clear it afterwards. */
static inline const char *fuzz_scratch_dir(void)
{
    static char dir[512];
    if (!dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof(dir), "%s/sluice-fuzz.XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(dir)) {
            perror("fuzz: mkdtemp");
            abort();
        }
    }
    return dir;
}

/* Write data to <scratch>/<name>, replacing it; the path is borrowed (static). */
static inline const char *fuzz_write_file(const char *name, const uint8_t *data, size_t size)
{
    static char path[1024];
    snprintf(path, sizeof(path), "%s/%s", fuzz_scratch_dir(), name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror("fuzz: write scratch file");
        abort();
    }
    return path;
}

/* data as a NUL-terminated string (owned): the parsers under test take C strings, so an
 * embedded NUL ends the text there, as it would for a command-line argument. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = sl_xmalloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* A failed property: report and abort so libFuzzer keeps the input. */
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz: property failed: %s: ", #cond);                                 \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
