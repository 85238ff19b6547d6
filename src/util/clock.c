/* clock.c - wall clock (overridable for tests), monotonic clock, sleeping. */
#include <errno.h>
#include <time.h>

#include "sluice/util.h"

static sl_clock_fn clock_fn;
static void *clock_arg;

void sl_clock_set(sl_clock_fn fn, void *arg)
{
    clock_arg = arg;
    __atomic_store_n(&clock_fn, fn, __ATOMIC_RELEASE);
}

int64_t sl_now_ms(void)
{
    sl_clock_fn fn = __atomic_load_n(&clock_fn, __ATOMIC_ACQUIRE);
    if (fn)
        return fn(clock_arg);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sl_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void sl_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}
