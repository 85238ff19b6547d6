/* test_emu_faults.c - fault spec parsing and decisions, and the Genie rate limiter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "emulator_int.h"

static void global_spec_parses_every_key(void **state)
{
    (void)state;
    emu_faults f;
    char eb[256];
    assert_true(sl__emu_faults_parse("429=0.2,500=0.05,503=0.1,latency_ms=50,drop=0.01,"
                                     "retry_after=3",
                                     &f, eb, sizeof(eb)));
    assert_int_equal(f.n_rules, 1);
    assert_null(f.rules[0].glob);
    assert_true(f.rules[0].p_status[0] == 0.2);
    assert_int_equal(f.rules[0].latency_ms, 50);
    assert_int_equal(f.rules[0].retry_after_s, 3);
    emu_fault_decision d = sl__emu_faults_decide(&f, "/x", 0.1, 0);
    assert_int_equal(d.status, 429);
    assert_int_equal(d.retry_after_s, 3);
    assert_int_equal(d.latency_ms, 50);
    d = sl__emu_faults_decide(&f, "/x", 0.22, 0);
    assert_int_equal(d.status, 500);
    d = sl__emu_faults_decide(&f, "/x", 0.3, 0);
    assert_int_equal(d.status, 503);
    d = sl__emu_faults_decide(&f, "/x", 0.355, 0);
    assert_true(d.drop);
    d = sl__emu_faults_decide(&f, "/x", 0.9, 0);
    assert_int_equal(d.status, 0);
    assert_false(d.drop);
    sl__emu_faults_free(&f);
}

static void path_rules_take_precedence_over_the_global_rule(void **state)
{
    (void)state;
    emu_faults f;
    char eb[256];
    assert_true(sl__emu_faults_parse("500=1; /api/2.0/sql/statements*:429=1 ;/api/2.0/fs/*:503=1,"
                                     "latency_ms=10-20",
                                     &f, eb, sizeof(eb)));
    assert_int_equal(f.n_rules, 3);
    assert_int_equal(sl__emu_faults_decide(&f, "/api/2.0/sql/statements/abc", 0.5, 0).status,
                     429);
    emu_fault_decision d = sl__emu_faults_decide(&f, "/api/2.0/fs/files/Volumes/a/b/c/d", 0.5, 1);
    assert_int_equal(d.status, 503);
    assert_true(d.latency_ms >= 10 && d.latency_ms <= 20);
    assert_int_equal(sl__emu_faults_decide(&f, "/api/2.0/genie/spaces", 0.5, 0).status, 500);
    sl__emu_faults_free(&f);
}

static void bad_specs_are_rejected_with_a_message(void **state)
{
    (void)state;
    emu_faults f;
    char eb[256];
    assert_false(sl__emu_faults_parse("429=2", &f, eb, sizeof(eb)));
    assert_non_null(strstr(eb, "429"));
    assert_false(sl__emu_faults_parse("418=0.1", &f, eb, sizeof(eb)));
    assert_non_null(strstr(eb, "unknown key"));
    assert_false(sl__emu_faults_parse("429=0.6,500=0.6", &f, eb, sizeof(eb)));
    assert_false(sl__emu_faults_parse("/x 429=0.1", &f, eb, sizeof(eb)));
    assert_false(sl__emu_faults_parse("latency_ms=abc", &f, eb, sizeof(eb)));
    assert_false(sl__emu_faults_parse("429=NaN", &f, eb, sizeof(eb)));
    assert_false(sl__emu_faults_parse("500=nan", &f, eb, sizeof(eb)));
    assert_false(sl__emu_faults_parse("latency_ms=99999999999999999999", &f, eb, sizeof(eb)));
    assert_true(sl__emu_faults_parse("", &f, eb, sizeof(eb)));
    assert_int_equal(f.n_rules, 0);
    sl__emu_faults_free(&f);
}

static void seeded_rng_is_deterministic(void **state)
{
    (void)state;
    uint64_t a = 42, b = 42;
    for (int i = 0; i < 100; i++)
        assert_true(sl__emu_rng_next(&a) == sl__emu_rng_next(&b));
}

static void rate_limiter_allows_n_per_window_and_says_when(void **state)
{
    (void)state;
    int limit;
    int64_t window;
    char eb[128];
    assert_true(sl__emu_rate_parse("5/min", &limit, &window, eb, sizeof(eb)));
    assert_int_equal(limit, 5);
    assert_int_equal(window, 60000);
    assert_true(sl__emu_rate_parse("60/s", &limit, &window, eb, sizeof(eb)));
    assert_int_equal(window, 1000);
    assert_false(sl__emu_rate_parse("5/fortnight", &limit, &window, eb, sizeof(eb)));
    emu_rate r;
    sl__emu_rate_init(&r, 3, 60000);
    int64_t wait = 0;
    assert_true(sl__emu_rate_take(&r, 1000, &wait));
    assert_true(sl__emu_rate_take(&r, 2000, &wait));
    assert_true(sl__emu_rate_take(&r, 3000, &wait));
    assert_false(sl__emu_rate_take(&r, 4000, &wait));
    assert_int_equal(wait, 57000); /* the first slot frees at 61000 */
    assert_false(sl__emu_rate_take(&r, 60999, &wait));
    assert_int_equal(wait, 1);
    assert_true(sl__emu_rate_take(&r, 61000, &wait));
    assert_false(sl__emu_rate_take(&r, 61500, &wait));
    assert_int_equal(wait, 500);
    sl__emu_rate_cleanup(&r);
    sl__emu_rate_init(&r, 0, 60000); /* unlimited */
    for (int i = 0; i < 1000; i++)
        assert_true(sl__emu_rate_take(&r, 1, &wait));
    sl__emu_rate_cleanup(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(global_spec_parses_every_key),
        cmocka_unit_test(path_rules_take_precedence_over_the_global_rule),
        cmocka_unit_test(bad_specs_are_rejected_with_a_message),
        cmocka_unit_test(seeded_rng_is_deterministic),
        cmocka_unit_test(rate_limiter_allows_n_per_window_and_says_when),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
