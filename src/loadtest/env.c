/*
 * env.c - the environment defaults of `loadtest genie` (the Locust tool's GENIE_* variables
 * that are not about the cache, which cache.c reads), resolved and validated here so the
 * CLI only applies its flags on top.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loadtest_int.h"

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static sl_code env_seconds(const char *name, double *out, sl_err *err)
{
    const char *v = env(name);
    if (!v)
        return SL_OK;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x) || x < 0 || x > 86400 || strpbrk(v, "xX"))
        return sl_err_set(err, SL_EINVAL, "bad %s '%.40s': expected seconds, a number 0..86400",
                          name, v);
    *out = x;
    return SL_OK;
}

static sl_code env_count(const char *name, long long min, bool *set, long long *out, sl_err *err)
{
    const char *v = env(name);
    if (!v)
        return SL_OK;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < min)
        return sl_err_set(err, SL_EINVAL, "bad %s '%.40s': expected an integer >= %lld", name, v,
                          min);
    *out = x;
    *set = true;
    return SL_OK;
}

sl_code sl_lt_opts_from_env(sl_lt_opts *o, sl_lt_sample *sample, sl_err *err)
{
    sl_code rc;
    if ((rc = env_seconds("GENIE_MIN_WAIT", &o->min_wait_s, err)) != SL_OK ||
        (rc = env_seconds("GENIE_MAX_WAIT", &o->max_wait_s, err)) != SL_OK)
        return rc;
    bool set = false;
    long long v = 0;
    if ((rc = env_count("GENIE_SAMPLE_SIZE", 1, &set, &v, err)) != SL_OK)
        return rc;
    if (set)
        sample->size = v;
    set = false;
    if ((rc = env_count("GENIE_SAMPLE_SEED", 0, &set, &v, err)) != SL_OK)
        return rc;
    if (set) {
        sample->has_seed = true;
        sample->seed = (uint64_t)v;
    }
    return SL_OK;
}
