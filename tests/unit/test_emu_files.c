/* test_emu_files.c - Files API path validation and the embedding function. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "emulator_int.h"

static bool parse(const char *p, size_t n, char **c, char **s, char **v, char **rel)
{
    emu_err e = {0};
    bool ok = sl__emu_path_parse(p, n, c, s, v, rel, &e);
    if (!ok)
        assert_int_equal(e.kind, EMU_E_INVALID);
    return ok;
}

static void valid_volume_paths_split_into_parts(void **state)
{
    (void)state;
    char *c, *s, *v, *rel;
    const char *p = "/Volumes/Main/Bronze/Raw/dir/a b.csv";
    assert_true(parse(p, strlen(p), &c, &s, &v, &rel));
    assert_string_equal(c, "main");
    assert_string_equal(s, "bronze");
    assert_string_equal(v, "raw");
    assert_string_equal(rel, "dir/a b.csv");
    free(c), free(s), free(v), free(rel);
    p = "/Volumes/c/s/v/";
    assert_true(parse(p, strlen(p), &c, &s, &v, &rel));
    assert_string_equal(rel, "");
    free(c), free(s), free(v), free(rel);
}

static void bad_paths_are_refused(void **state)
{
    (void)state;
    const char *bad[] = {"Volumes/c/s/v/x",  "/volumes/c/s/v/x", "/Volumes/c/s",
                         "/Volumes/c/s/v/../x", "/Volumes/c/s/v/./x", "/Volumes/c//v/x",
                         "/Volumes/c/s/v/a\001b", "/etc/passwd", "/Volumes/../../etc/v/x"};
    char *c, *s, *v, *rel;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(parse(bad[i], strlen(bad[i]), &c, &s, &v, &rel));
    const char nul[] = "/Volumes/c/s/v/a\0b";
    assert_false(parse(nul, sizeof(nul) - 1, &c, &s, &v, &rel));
}

static double cosine(const float *a, const float *b)
{
    double d = 0;
    for (int i = 0; i < EMU_EMBED_DIM; i++)
        d += (double)a[i] * b[i];
    return d;
}

static void embeddings_are_unit_and_similar_for_similar_text(void **state)
{
    (void)state;
    static float a[EMU_EMBED_DIM], b[EMU_EMBED_DIM], c[EMU_EMBED_DIM], a2[EMU_EMBED_DIM];
    sl__emu_embed("Which products generate the highest total sales value?", a);
    sl__emu_embed("which product generates the highest sales value", b);
    sl__emu_embed("How is the weather in Paris tomorrow?", c);
    sl__emu_embed("Which products generate the highest total sales value?", a2);
    assert_true(fabs(cosine(a, a) - 1.0) < 1e-5);
    assert_true(fabs(cosine(c, c) - 1.0) < 1e-5);
    assert_true(memcmp(a, a2, sizeof(a)) == 0);
    assert_true(cosine(a, b) > cosine(a, c) + 0.3);
    sl__emu_embed("", c);
    assert_true(fabs(cosine(c, c) - 1.0) < 1e-5);
    assert_int_equal(sl__emu_embed_tokens("Hello, big world!"), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_volume_paths_split_into_parts),
        cmocka_unit_test(bad_paths_are_refused),
        cmocka_unit_test(embeddings_are_unit_and_similar_for_similar_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
