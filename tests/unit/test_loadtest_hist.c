/* test_loadtest_hist.c - the latency histogram: percentiles within 1% of the exact
 * nearest-rank percentiles of the sorted samples (uniform, log-normal, bimodal, constant,
 * tiny and huge values), exact min/max/mean, merge, and the empty case. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/loadtest.h"

static uint64_t rng_state = 0x1234567;

static double unit(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* exact nearest-rank percentile of sorted v */
static int64_t exact(const int64_t *v, size_t n, double p)
{
    if (p <= 0)
        return v[0];
    size_t rank = (size_t)ceil(p / 100.0 * (double)n);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

static void check(int64_t *v, size_t n, const char *what)
{
    sl_lt_hist *h = sl_lt_hist_new();
    long double sum = 0;
    for (size_t i = 0; i < n; i++) {
        sl_lt_hist_record(h, v[i]);
        sum += v[i];
    }
    qsort(v, n, sizeof(*v), cmp64);
    assert_int_equal(sl_lt_hist_count(h), n);
    assert_int_equal(sl_lt_hist_min(h), v[0]);
    assert_int_equal(sl_lt_hist_max(h), v[n - 1]);
    assert_true(fabs(sl_lt_hist_mean(h) - (double)(sum / n)) <=
                1e-6 * fabs((double)(sum / n)) + 1e-9);
    static const double ps[] = {0, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100};
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
        int64_t want = exact(v, n, ps[i]);
        int64_t got = sl_lt_hist_percentile(h, ps[i]);
        double tol = 0.01 * (double)want; /* the contract: <= 1% relative error */
        if (fabs((double)(got - want)) > tol) {
            print_error("%s: p%g = %lld, exact %lld\n", what, ps[i], (long long)got,
                        (long long)want);
            fail();
        }
    }
    sl_lt_hist_free(h);
}

static void percentiles_match_exact_sorted_values_within_one_percent(void **state)
{
    (void)state;
    size_t n = 200000;
    int64_t *v = malloc(n * sizeof(*v));
    for (size_t i = 0; i < n; i++) /* uniform 0 .. 10 s in µs */
        v[i] = (int64_t)(unit() * 10e6);
    check(v, n, "uniform");
    for (size_t i = 0; i < n; i++) { /* log-normal around 200 ms, long tail */
        double g = sqrt(-2 * log(unit() + 1e-300)) * cos(2 * M_PI * unit());
        v[i] = (int64_t)(200000.0 * exp(1.2 * g));
    }
    check(v, n, "lognormal");
    for (size_t i = 0; i < n; i++) /* bimodal: hits ~2 ms, Genie ~8 s */
        v[i] = unit() < 0.7 ? (int64_t)(1500 + unit() * 1000) : (int64_t)(6e6 + unit() * 4e6);
    check(v, n, "bimodal");
    for (size_t i = 0; i < 1000; i++)
        v[i] = 42;
    check(v, 1000, "constant");
    for (size_t i = 0; i < 1000; i++) /* small values are exact */
        v[i] = (int64_t)(unit() * 128);
    check(v, 1000, "small");
    for (size_t i = 0; i < 1000; i++) /* huge values */
        v[i] = (int64_t)(unit() * 9e18);
    check(v, 1000, "huge");
    v[0] = 7;
    check(v, 1, "single");
    free(v);
}

static void small_values_are_exact_and_negatives_count_as_zero(void **state)
{
    (void)state;
    sl_lt_hist *h = sl_lt_hist_new();
    for (int64_t x = 0; x < 128; x++)
        sl_lt_hist_record(h, x);
    for (int p = 1; p <= 100; p++) {
        int64_t want = (int64_t)ceil(p / 100.0 * 128) - 1;
        assert_int_equal(sl_lt_hist_percentile(h, p), want);
    }
    sl_lt_hist_reset(h);
    sl_lt_hist_record(h, -5);
    assert_int_equal(sl_lt_hist_min(h), 0);
    assert_int_equal(sl_lt_hist_percentile(h, 50), 0);
    sl_lt_hist_free(h);
}

static void merge_equals_recording_everything_in_one(void **state)
{
    (void)state;
    sl_lt_hist *a = sl_lt_hist_new(), *b = sl_lt_hist_new(), *all = sl_lt_hist_new();
    for (int i = 0; i < 10000; i++) {
        int64_t x = (int64_t)(unit() * 5e6);
        sl_lt_hist_record(i % 3 ? a : b, x);
        sl_lt_hist_record(all, x);
    }
    sl_lt_hist_merge(a, b);
    assert_int_equal(sl_lt_hist_count(a), sl_lt_hist_count(all));
    assert_int_equal(sl_lt_hist_min(a), sl_lt_hist_min(all));
    assert_int_equal(sl_lt_hist_max(a), sl_lt_hist_max(all));
    for (int p = 0; p <= 100; p += 5)
        assert_int_equal(sl_lt_hist_percentile(a, p), sl_lt_hist_percentile(all, p));
    sl_lt_hist_free(a);
    sl_lt_hist_free(b);
    sl_lt_hist_free(all);
}

static void empty_histogram_reports_zeros(void **state)
{
    (void)state;
    sl_lt_hist *h = sl_lt_hist_new();
    assert_int_equal(sl_lt_hist_count(h), 0);
    assert_int_equal(sl_lt_hist_percentile(h, 99), 0);
    assert_int_equal(sl_lt_hist_min(h), 0);
    assert_int_equal(sl_lt_hist_max(h), 0);
    assert_true(sl_lt_hist_mean(h) == 0.0);
    sl_lt_hist_free(h);
    sl_lt_hist_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(percentiles_match_exact_sorted_values_within_one_percent),
        cmocka_unit_test(small_values_are_exact_and_negatives_count_as_zero),
        cmocka_unit_test(merge_equals_recording_everything_in_one),
        cmocka_unit_test(empty_histogram_reports_zeros),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
