/* test_loadtest_yaml.c - the conversations file: a file PyYAML wrote reads back and is
 * written again byte for byte; hand-written files (double quotes, other key order, extra
 * keys, empty messages) load as the tool would read them; tricky strings survive a round
 * trip; errors name the file and position; sampling is deterministic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sluice/loadtest.h"

static char fixtures[1024];
static char tmpdir[] = "/tmp/sluice-lt-yaml.XXXXXX";

static const char *fixture(const char *name)
{
    static char path[1200];
    snprintf(path, sizeof(path), "%s/%s", fixtures, name);
    return path;
}

static char *slurp(const char *path)
{
    char *text = NULL;
    size_t n = 0;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_file_read(path, &text, &n, &err), SL_OK);
    return text;
}

static int setup(void **state)
{
    (void)state;
    /* tests/unit/test_loadtest_yaml.c -> tests/fixtures/loadtest */
    snprintf(fixtures, sizeof(fixtures), "%s", __FILE__);
    char *slash = strrchr(fixtures, '/');
    assert_non_null(slash);
    *slash = '\0';
    slash = strrchr(fixtures, '/');
    assert_non_null(slash);
    strcpy(slash, "/fixtures/loadtest");
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void python_written_file_round_trips_byte_for_byte(void **state)
{
    (void)state;
    sl_lt_convset *cs = NULL;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_lt_convset_load(fixture("python_written.yaml"), &cs, &err), SL_OK);
    assert_string_equal(cs->space_id, "01aa00bb11cc22dd33ee44ff55667788");
    assert_string_equal(cs->exported_at, "2026-02-01T09:15:00.123456");
    assert_int_equal(cs->n_convs, 3);
    assert_int_equal(sl_lt_convset_messages(cs), 6);
    assert_string_equal(cs->convs[0].msgs[2].content,
                        "It's 2024: what about 'returns' & \"refunds\"?");
    assert_string_equal(cs->convs[1].id, "12345");
    assert_string_equal(cs->convs[1].msgs[0].content, "yes");
    assert_string_equal(cs->convs[2].title, "true");
    assert_string_equal(cs->convs[2].msgs[0].message_id, "0.5");
    assert_true(cs->has_from && cs->has_to);
    assert_int_equal(cs->from_ms, 1769800000000LL);
    assert_int_equal(cs->to_ms, 1769999999123LL);

    char out[256];
    snprintf(out, sizeof(out), "%s/again.yaml", tmpdir);
    assert_int_equal(sl_lt_convset_save(cs, out, &err), SL_OK);
    char *want = slurp(fixture("python_written.yaml")), *got = slurp(out);
    assert_string_equal(got, want);
    free(want);
    free(got);
    sl_lt_convset_free(cs);
}

static void handwritten_file_loads_like_the_tool_reads_it(void **state)
{
    (void)state;
    sl_lt_convset *cs = NULL;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_lt_convset_load(fixture("handwritten.yaml"), &cs, &err), SL_OK);
    assert_string_equal(cs->space_id, "01aa00bb11cc22dd33ee44ff55667788");
    /* conv-002 has no messages: dropped; the empty and missing contents are dropped */
    assert_int_equal(cs->n_convs, 2);
    assert_string_equal(cs->convs[0].id, "conv-001");
    assert_int_equal(cs->convs[0].created_ms, 1769900000000LL);
    assert_int_equal(cs->convs[0].n_msgs, 2);
    /* replayed in file order (the exporter sorts; a hand-written file is taken as is) */
    assert_string_equal(cs->convs[0].msgs[0].content, "Which stores missed their target?");
    assert_string_equal(cs->convs[0].msgs[1].message_id, "m-1");
    assert_string_equal(cs->convs[1].id, "conv-003");
    assert_null(cs->convs[1].title);
    assert_null(cs->convs[1].msgs[0].message_id);
    assert_false(cs->has_from || cs->has_to);

    /* written back: recomputed totals, "Untitled", the tool's key order */
    char out[256];
    snprintf(out, sizeof(out), "%s/hand.yaml", tmpdir);
    assert_int_equal(sl_lt_convset_save(cs, out, &err), SL_OK);
    char *got = slurp(out);
    assert_non_null(strstr(got, "total_conversations: 2\ntotal_messages: 3\nconversations:\n"
                                "- id: conv-001\n  title: Store performance\n"));
    assert_non_null(strstr(got, "title: Untitled\n"));
    assert_non_null(strstr(got, "message_id: null\n"));
    assert_null(strstr(got, "filter:"));
    free(got);
    sl_lt_convset_free(cs);
}

static void tricky_strings_survive_a_round_trip(void **state)
{
    (void)state;
    static const char *const texts[] = {"123",
                                        "yes",
                                        "No",
                                        "null",
                                        "~",
                                        "",
                                        "1.5",
                                        "0x1F",
                                        "2026-01-15",
                                        "2026-01-15T10:30:00",
                                        "key: value",
                                        "- dash",
                                        "# hash",
                                        "  padded  ",
                                        "line one\nline two",
                                        "tab\there",
                                        "quote ' and \" both",
                                        "ünïcödé ☃",
                                        "@at",
                                        "`tick`",
                                        "*star",
                                        "&amp",
                                        "!bang",
                                        "%pct",
                                        "ends with colon:",
                                        "[brackets]",
                                        "{braces}",
                                        "a, b",
                                        "=",
                                        "<<"};
    size_t n = sizeof(texts) / sizeof(texts[0]);
    sl_lt_convset *cs = sl_lt_convset_new();
    cs->space_id = strdup("s");
    cs->exported_at = strdup("2026-02-01T09:15:00");
    cs->convs = calloc(1, sizeof(*cs->convs));
    cs->n_convs = 1;
    sl_lt_conversation *c = &cs->convs[0];
    c->id = strdup("c1");
    c->title = strdup("");
    c->created_ms = 5;
    c->msgs = calloc(n, sizeof(*c->msgs));
    for (size_t i = 0; i < n; i++) {
        c->msgs[i].content = strdup(texts[i]);
        c->msgs[i].timestamp_ms = (int64_t)i;
        c->msgs[i].message_id = strdup(texts[i]);
    }
    c->n_msgs = n;
    char out[256];
    snprintf(out, sizeof(out), "%s/tricky.yaml", tmpdir);
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_lt_convset_save(cs, out, &err), SL_OK);
    sl_lt_convset *back = NULL;
    assert_int_equal(sl_lt_convset_load(out, &back, &err), SL_OK);
    assert_int_equal(back->n_convs, 1);
    assert_string_equal(back->convs[0].title, "Untitled");
    assert_string_equal(back->exported_at, "2026-02-01T09:15:00");
    /* the empty content is dropped on load, as the tool drops it */
    assert_int_equal(back->convs[0].n_msgs, n - 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!*texts[i])
            continue;
        assert_string_equal(back->convs[0].msgs[k].content, texts[i]);
        assert_string_equal(back->convs[0].msgs[k].message_id, texts[i]);
        assert_int_equal(back->convs[0].msgs[k].timestamp_ms, (int64_t)i);
        k++;
    }
    char *text = slurp(out);
    assert_non_null(strstr(text, "content: 'yes'\n"));
    assert_non_null(strstr(text, "content: '123'\n"));
    assert_non_null(strstr(text, "content: '2026-01-15'\n"));
    assert_non_null(strstr(text, "timestamp: 3\n")); /* integers stay plain */
    free(text);
    sl_lt_convset_free(back);
    sl_lt_convset_free(cs);
}

static void load_errors_name_the_file_and_position(void **state)
{
    (void)state;
    sl_lt_convset *cs = NULL;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_lt_convset_load("/nonexistent/conversations.yaml", &cs, &err),
                     SL_ENOTFOUND);
    assert_non_null(strstr(err.msg, "not found"));
    assert_non_null(strstr(err.msg, "loadtest export"));

    char bad[256];
    snprintf(bad, sizeof(bad), "%s/bad.yaml", tmpdir);
    FILE *f = fopen(bad, "w");
    fputs("space_id: x\nconversations:\n  - id: [unclosed\n", f);
    fclose(f);
    sl_err_clear(&err);
    assert_int_equal(sl_lt_convset_load(bad, &cs, &err), SL_EINVAL);
    assert_non_null(strstr(err.msg, "line "));

    f = fopen(bad, "w");
    fputs("- just\n- a list\n", f);
    fclose(f);
    sl_err_clear(&err);
    assert_int_equal(sl_lt_convset_load(bad, &cs, &err), SL_EINVAL);
    assert_non_null(strstr(err.msg, "conversations"));
    assert_null(cs);
}

/* A timestamp that is not a number the tool could use (1e400, .nan, a list, text) is an
 * error naming the conversation, not an undefined conversion or a silent 0. */
static void timestamps_that_are_not_integers_are_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "conversations:\n  - id: c1\n    messages:\n      - content: hi\n        timestamp: 1e400\n",
        "conversations:\n  - id: c1\n    messages:\n      - content: hi\n        timestamp: -1e400\n",
        "conversations:\n  - id: c1\n    messages:\n      - content: hi\n        timestamp: [1]\n",
        "conversations:\n  - id: c1\n    messages:\n      - content: hi\n        timestamp: soon\n",
        "conversations:\n  - id: c1\n    created_timestamp: .nan\n    messages:\n"
        "      - content: hi\n",
        "filter:\n  from_timestamp: 1e400\nconversations:\n  - id: c1\n    messages:\n"
        "      - content: hi\n",
    };
    char p[256];
    snprintf(p, sizeof(p), "%s/times.yaml", tmpdir);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        FILE *f = fopen(p, "w");
        fputs(bad[i], f);
        fclose(f);
        sl_lt_convset *cs = NULL;
        sl_err err;
        sl_err_clear(&err);
        assert_int_equal(sl_lt_convset_load(p, &cs, &err), SL_EINVAL);
        assert_null(cs);
        assert_non_null(strstr(err.msg, "is not a timestamp in milliseconds"));
    }
    FILE *f = fopen(p, "w");
    fputs("conversations:\n  - id: c1\n    messages:\n      - content: hi\n"
          "        timestamp: 1769900000200.0\n", f);
    fclose(f);
    sl_lt_convset *cs = NULL;
    assert_int_equal(sl_lt_convset_load(p, &cs, NULL), SL_OK);
    assert_int_equal(cs->convs[0].msgs[0].timestamp_ms, 1769900000200);
    sl_lt_convset_free(cs);
}

static sl_code load_text(const char *text, sl_lt_convset **cs, sl_err *err)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/numbers.yaml", tmpdir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    sl_err_clear(err);
    return sl_lt_convset_load(p, cs, err);
}

/* Found by fuzzing (tests/fuzz/corpus/convfile/float-out-of-range.yaml): a timestamp too big
 * for int64 (1.7e100, or an integer past 2^63) was converted to int64 anyway, which is
 * undefined behaviour; it is now refused with its position, and text is no longer read as 0. */
static void timestamps_out_of_range_are_refused(void **state)
{
    (void)state;
    static const char head[] = "conversations:\n- id: c\n  messages:\n  - content: hi\n"
                               "    timestamp: ";
    static const char *const bad[] = {"1.7e100", "-1.7e100", "99999999999999999999", ".nan",
                                      "nan", "inf", "soon", "12abc", "9223372036854775808.0"};
    char text[256];
    sl_lt_convset *cs = NULL;
    sl_err err;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), "%s%s\n", head, bad[i]);
        assert_int_equal(load_text(text, &cs, &err), SL_EINVAL);
        assert_null(cs);
        assert_non_null(strstr(err.msg, "line 5 column 16: timestamp"));
        assert_non_null(strstr(err.msg, bad[i]));
    }
    snprintf(text, sizeof(text), "filter:\n  from_timestamp: 1e300\n%s1\n", head);
    assert_int_equal(load_text(text, &cs, &err), SL_EINVAL);
    assert_non_null(strstr(err.msg, "line 2 column 19: from_timestamp '1e300'"));

    /* in range: integers, a fraction truncated, a float spelling, a quoted number */
    snprintf(text, sizeof(text),
             "conversations:\n- id: c\n  created_timestamp: '1769900000000'\n  messages:\n"
             "  - content: a\n    timestamp: 1769900000000.9\n"
             "  - content: b\n    timestamp: -9223372036854775808\n"
             "  - content: c\n    timestamp: 1.5e3\n");
    assert_int_equal(load_text(text, &cs, &err), SL_OK);
    assert_int_equal(cs->convs[0].created_ms, 1769900000000LL);
    assert_int_equal(cs->convs[0].msgs[0].timestamp_ms, 1769900000000LL);
    assert_int_equal(cs->convs[0].msgs[1].timestamp_ms, INT64_MIN);
    assert_int_equal(cs->convs[0].msgs[2].timestamp_ms, 1500);
    sl_lt_convset_free(cs);
}

static void sampling_is_deterministic_per_seed(void **state)
{
    (void)state;
    char ids[2][5][32];
    for (int round = 0; round < 2; round++) {
        sl_lt_convset *cs = sl_lt_convset_new();
        cs->convs = calloc(20, sizeof(*cs->convs));
        for (int i = 0; i < 20; i++) {
            char id[16];
            snprintf(id, sizeof(id), "c%02d", i);
            cs->convs[i].id = strdup(id);
        }
        cs->n_convs = 20;
        sl_lt_convset_sample(cs, 5, 42);
        assert_int_equal(cs->n_convs, 5);
        for (int i = 0; i < 5; i++)
            snprintf(ids[round][i], sizeof(ids[round][i]), "%s", cs->convs[i].id);
        for (int i = 0; i < 5; i++) /* distinct */
            for (int j = 0; j < i; j++)
                assert_string_not_equal(ids[round][i], ids[round][j]);
        sl_lt_convset_free(cs);
    }
    for (int i = 0; i < 5; i++)
        assert_string_equal(ids[0][i], ids[1][i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(python_written_file_round_trips_byte_for_byte),
        cmocka_unit_test(handwritten_file_loads_like_the_tool_reads_it),
        cmocka_unit_test(tricky_strings_survive_a_round_trip),
        cmocka_unit_test(load_errors_name_the_file_and_position),
        cmocka_unit_test(timestamps_that_are_not_integers_are_refused),
        cmocka_unit_test(timestamps_out_of_range_are_refused),
        cmocka_unit_test(sampling_is_deterministic_per_seed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
