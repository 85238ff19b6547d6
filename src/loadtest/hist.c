/*
 * hist.c - the latency histogram: HDR-style log-linear buckets.
 *
 * Values 0..127 get one bucket each. A value v >= 128 with top bit k (2^k <= v < 2^(k+1))
 * lands in one of 128 equal buckets splitting [2^k, 2^(k+1)): index
 *   128 + (k - 7) * 128 + ((v >> (k - 7)) - 128)
 * so a bucket spans 2^(k-7) values starting at >= 128 * 2^(k-7): its width is at most
 * 1/128 of any value in it, and its midpoint is within 1/256 (0.4%) of each of them.
 * Fixed size (7296 counters for the whole int64 range); recording is O(1).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loadtest_int.h"

#define SUB_BITS 7
#define SUB      (1 << SUB_BITS)               /* 128 */
#define N_BUCKET (SUB + (63 - SUB_BITS) * SUB) /* 128 + 56 * 128 */

struct sl_lt_hist {
    uint64_t n;
    int64_t min, max;
    long double sum;
    uint64_t counts[N_BUCKET];
};

static int top_bit(uint64_t v)
{
    return 63 - __builtin_clzll(v);
}

static size_t bucket_of(int64_t v)
{
    if (v < SUB)
        return (size_t)v;
    int k = top_bit((uint64_t)v);
    int shift = k - SUB_BITS;
    return (size_t)SUB + (size_t)shift * SUB + (size_t)(((uint64_t)v >> shift) - SUB);
}

/* Lowest and highest value of bucket b. */
static void bucket_range(size_t b, int64_t *lo, int64_t *hi)
{
    if (b < SUB) {
        *lo = *hi = (int64_t)b;
        return;
    }
    size_t j = b - SUB;
    int shift = (int)(j / SUB);
    uint64_t m = (uint64_t)(j % SUB) + SUB;
    uint64_t l = m << shift;
    uint64_t h = l + (((uint64_t)1 << shift) - 1);
    *lo = (int64_t)l;
    *hi = h > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)h;
}

sl_lt_hist *sl_lt_hist_new(void)
{
    return sl_xcalloc(1, sizeof(sl_lt_hist));
}

void sl_lt_hist_free(sl_lt_hist *h)
{
    free(h);
}

void sl_lt_hist_reset(sl_lt_hist *h)
{
    memset(h, 0, sizeof(*h));
}

void sl_lt_hist_record(sl_lt_hist *h, int64_t v)
{
    if (v < 0)
        v = 0;
    h->counts[bucket_of(v)]++;
    if (h->n == 0 || v < h->min)
        h->min = v;
    if (h->n == 0 || v > h->max)
        h->max = v;
    h->n++;
    h->sum += v;
}

void sl_lt_hist_merge(sl_lt_hist *into, const sl_lt_hist *from)
{
    if (from->n == 0)
        return;
    for (size_t b = 0; b < N_BUCKET; b++)
        into->counts[b] += from->counts[b];
    if (into->n == 0 || from->min < into->min)
        into->min = from->min;
    if (into->n == 0 || from->max > into->max)
        into->max = from->max;
    into->n += from->n;
    into->sum += from->sum;
}

uint64_t sl_lt_hist_count(const sl_lt_hist *h)
{
    return h->n;
}

int64_t sl_lt_hist_min(const sl_lt_hist *h)
{
    return h->n ? h->min : 0;
}

int64_t sl_lt_hist_max(const sl_lt_hist *h)
{
    return h->n ? h->max : 0;
}

double sl_lt_hist_mean(const sl_lt_hist *h)
{
    return h->n ? (double)(h->sum / (long double)h->n) : 0.0;
}

int64_t sl_lt_hist_percentile(const sl_lt_hist *h, double pct)
{
    if (h->n == 0)
        return 0;
    if (!(pct > 0))
        return h->min;
    if (pct >= 100)
        return h->max;
    uint64_t rank = (uint64_t)ceill((long double)pct / 100.0L * (long double)h->n);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (size_t b = 0; b < N_BUCKET; b++) {
        seen += h->counts[b];
        if (seen >= rank) {
            int64_t lo, hi;
            bucket_range(b, &lo, &hi);
            int64_t mid = lo + (hi - lo) / 2;
            if (mid < h->min)
                mid = h->min;
            if (mid > h->max)
                mid = h->max;
            return mid;
        }
    }
    return h->max;
}
