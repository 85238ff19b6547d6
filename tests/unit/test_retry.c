/* test_retry.c - retry policies: defaults, JSON form, delay schedule, decisions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/retry.h"

static void defaults_are_temporals(void **state)
{
    (void)state;
    sl_retry_policy p;
    sl_retry_policy_init(&p);
    assert_int_equal(p.initial_interval_ms, 1000);
    assert_true(p.backoff_coefficient == 2.0);
    assert_int_equal(p.maximum_interval_ms, 100000);
    assert_int_equal(p.maximum_attempts, 0);
}

static void delay_grows_by_the_coefficient_and_is_capped(void **state)
{
    (void)state;
    sl_retry_policy p;
    sl_retry_policy_init(&p);
    p.initial_interval_ms = 100;
    p.maximum_interval_ms = 1000;
    int64_t want[] = {100, 200, 400, 800, 1000, 1000, 1000};
    for (int a = 1; a <= 7; a++)
        assert_int_equal(sl_retry_delay_ms(&p, a, 0.0), want[a - 1]);
    /* Huge attempt numbers stay at the cap. */
    assert_int_equal(sl_retry_delay_ms(&p, 5000, 0.0), 1000);
}

static void jitter_stays_within_its_fraction(void **state)
{
    (void)state;
    sl_retry_policy p;
    sl_retry_policy_init(&p);
    p.initial_interval_ms = 1000;
    p.jitter = 0.2;
    assert_int_equal(sl_retry_delay_ms(&p, 1, 0.0), 1000);
    assert_int_equal(sl_retry_delay_ms(&p, 1, 0.999999), 1199);
    for (int i = 0; i < 1000; i++) {
        int64_t d = sl_retry_delay_ms(&p, 1, sl_rand_unit());
        assert_true(d >= 1000 && d < 1200);
    }
}

static void decisions_follow_attempts_types_and_deadlines(void **state)
{
    (void)state;
    sl_retry_policy p;
    sl_retry_policy_init(&p);
    p.initial_interval_ms = 100;
    p.maximum_attempts = 3;
    snprintf(p.non_retryable[p.n_non_retryable++], sizeof(p.non_retryable[0]), "Fatal");
    sl_retry_decision d = sl_retry_decide(&p, 1, "Boom", false, -1, 10000, 0, 0);
    assert_int_equal(d.state, SL_RETRY_IN_PROGRESS);
    assert_int_equal(d.next_attempt_ms, 10100);
    d = sl_retry_decide(&p, 2, "Boom", false, -1, 10000, 0, 0);
    assert_int_equal(d.next_attempt_ms, 10200);
    d = sl_retry_decide(&p, 3, "Boom", false, -1, 10000, 0, 0);
    assert_int_equal(d.state, SL_RETRY_MAX_ATTEMPTS);
    d = sl_retry_decide(&p, 1, "Fatal", false, -1, 10000, 0, 0);
    assert_int_equal(d.state, SL_RETRY_NON_RETRYABLE);
    d = sl_retry_decide(&p, 1, "Boom", true, -1, 10000, 0, 0);
    assert_int_equal(d.state, SL_RETRY_NON_RETRYABLE);
    /* A retry-after from the error replaces the backoff... */
    d = sl_retry_decide(&p, 1, "RateLimited", false, 7000, 10000, 0, 0);
    assert_int_equal(d.next_attempt_ms, 17000);
    /* ...and a next attempt past schedule-to-close ends the retries. */
    d = sl_retry_decide(&p, 1, "Boom", false, -1, 10000, 10050, 0);
    assert_int_equal(d.state, SL_RETRY_TIMEOUT);
    sl_retry_policy unlimited;
    sl_retry_policy_init(&unlimited);
    d = sl_retry_decide(&unlimited, 500, "Boom", false, -1, 0, 0, 0);
    assert_int_equal(d.state, SL_RETRY_IN_PROGRESS);
}

static void json_form_round_trips_and_rejects_bad_fields(void **state)
{
    (void)state;
    json_error_t je;
    json_t *j = json_loads("{\"initial_interval\":\"250ms\",\"backoff_coefficient\":1.5,"
                           "\"maximum_interval\":\"1m\",\"maximum_attempts\":4,"
                           "\"non_retryable_error_types\":[\"A\",\"B\"],\"jitter\":0.1}",
                           0, &je);
    sl_retry_policy p;
    sl_retry_policy_init(&p);
    assert_int_equal(sl_retry_policy_from_json(j, &p, NULL), SL_OK);
    assert_int_equal(p.initial_interval_ms, 250);
    assert_int_equal(p.maximum_interval_ms, 60000);
    assert_int_equal(p.maximum_attempts, 4);
    assert_int_equal(p.n_non_retryable, 2);
    assert_string_equal(p.non_retryable[1], "B");
    json_t *back = sl_retry_policy_to_json(&p);
    sl_retry_policy q;
    sl_retry_policy_init(&q);
    assert_int_equal(sl_retry_policy_from_json(back, &q, NULL), SL_OK);
    assert_memory_equal(&p, &q, sizeof(p));
    json_decref(back);
    json_decref(j);

    const char *bad[] = {"{\"initial_interval\":\"0s\"}", "{\"backoff_coefficient\":0.5}",
                         "{\"maximum_attempts\":-1}", "{\"nope\":1}",
                         "{\"initial_interval\":\"10s\",\"maximum_interval\":\"1s\"}",
                         "{\"non_retryable_error_types\":[1]}", "[]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *b = json_loads(bad[i], JSON_DECODE_ANY, &je);
        sl_retry_policy_init(&p);
        sl_err err;
        sl_err_clear(&err);
        assert_int_equal(sl_retry_policy_from_json(b, &p, &err), SL_EINVAL);
        assert_true(err.msg[0] != '\0');
        json_decref(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_are_temporals),
        cmocka_unit_test(delay_grows_by_the_coefficient_and_is_capped),
        cmocka_unit_test(jitter_stays_within_its_fraction),
        cmocka_unit_test(decisions_follow_attempts_types_and_deadlines),
        cmocka_unit_test(json_form_round_trips_and_rejects_bad_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
