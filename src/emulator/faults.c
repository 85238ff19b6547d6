/* faults.c - the fault spec ("429=0.2,latency_ms=50;PATH_GLOB:500=0.1"), per-request
 * decisions from a seeded RNG, and the sliding-window limiter behind Genie's 5/min. */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "emulator_int.h"

static const int fault_statuses[5] = {429, 500, 502, 503, 504};

uint64_t sl__emu_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static bool parse_prob(const char *v, double *out)
{
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || !(d >= 0 && d <= 1)) /* NaN fails both comparisons */
        return false;
    *out = d;
    return true;
}

static bool parse_nonneg(const char *v, int64_t *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end || n < 0)
        return false;
    *out = n;
    return true;
}

static bool parse_kv(emu_fault_rule *r, char *kv, char *errbuf, size_t errlen)
{
    char *eq = strchr(kv, '=');
    if (!eq) {
        snprintf(errbuf, errlen, "fault spec: '%s' is not key=value", kv);
        return false;
    }
    *eq = '\0';
    char *k = trim(kv), *v = trim(eq + 1);
    for (int i = 0; i < 5; i++) {
        char code[8];
        snprintf(code, sizeof(code), "%d", fault_statuses[i]);
        if (strcmp(k, code) == 0) {
            if (!parse_prob(v, &r->p_status[i]))
                goto bad_value;
            return true;
        }
    }
    if (strcmp(k, "drop") == 0) {
        if (!parse_prob(v, &r->p_drop))
            goto bad_value;
        return true;
    }
    if (strcmp(k, "latency_ms") == 0) {
        char *dash = strchr(v, '-');
        int64_t hi = 0;
        if (dash) {
            *dash = '\0';
            if (!parse_nonneg(trim(dash + 1), &hi))
                goto bad_value;
        }
        if (!parse_nonneg(trim(v), &r->latency_ms))
            goto bad_value;
        if (dash) {
            if (hi < r->latency_ms)
                goto bad_value;
            r->latency_jitter_ms = hi - r->latency_ms;
        }
        return true;
    }
    if (strcmp(k, "retry_after") == 0) {
        int64_t n;
        if (!parse_nonneg(v, &n) || n > 3600)
            goto bad_value;
        r->retry_after_s = (int)n;
        return true;
    }
    snprintf(errbuf, errlen,
             "fault spec: unknown key '%s' (use 429, 500, 502, 503, 504, drop, latency_ms, "
             "retry_after)",
             k);
    return false;
bad_value:
    snprintf(errbuf, errlen, "fault spec: bad value '%s' for '%s'", v, k);
    return false;
}

bool sl__emu_faults_parse(const char *spec, emu_faults *out, char *errbuf, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!spec)
        return true;
    char *copy = sl_xstrdup(spec), *save = NULL;
    bool ok = true;
    for (char *cl = strtok_r(copy, ";", &save); cl && ok; cl = strtok_r(NULL, ";", &save)) {
        cl = trim(cl);
        if (!*cl)
            continue;
        emu_fault_rule r = {.retry_after_s = 1};
        if (cl[0] == '/' || cl[0] == '*') {
            char *colon = strchr(cl, ':');
            if (!colon) {
                snprintf(errbuf, errlen, "fault spec: path clause '%s' needs ':'", cl);
                ok = false;
                break;
            }
            *colon = '\0';
            r.glob = sl_xstrdup(trim(cl));
            cl = colon + 1;
        }
        char *save2 = NULL;
        for (char *kv = strtok_r(cl, ",", &save2); kv && ok; kv = strtok_r(NULL, ",", &save2))
            if (*trim(kv))
                ok = parse_kv(&r, kv, errbuf, errlen);
        double total = r.p_drop;
        for (int i = 0; i < 5; i++)
            total += r.p_status[i];
        if (ok && total > 1.0 + 1e-9) {
            snprintf(errbuf, errlen, "fault spec: probabilities add up to %.3f (> 1)", total);
            ok = false;
        }
        out->rules = sl_xrealloc(out->rules, (out->n_rules + 1) * sizeof(*out->rules));
        out->rules[out->n_rules++] = r;
    }
    free(copy);
    if (!ok)
        sl__emu_faults_free(out);
    return ok;
}

void sl__emu_faults_free(emu_faults *f)
{
    for (size_t i = 0; i < f->n_rules; i++)
        free(f->rules[i].glob);
    free(f->rules);
    f->rules = NULL;
    f->n_rules = 0;
}

emu_fault_decision sl__emu_faults_decide(const emu_faults *f, const char *path, double u,
                                         double j)
{
    emu_fault_decision d = {0};
    const emu_fault_rule *r = NULL;
    for (size_t i = 0; i < f->n_rules && !r; i++)
        if (f->rules[i].glob && fnmatch(f->rules[i].glob, path, 0) == 0)
            r = &f->rules[i];
    for (size_t i = 0; i < f->n_rules && !r; i++)
        if (!f->rules[i].glob)
            r = &f->rules[i];
    if (!r)
        return d;
    d.latency_ms = r->latency_ms + (int64_t)(j * (double)r->latency_jitter_ms);
    d.retry_after_s = r->retry_after_s;
    double acc = 0;
    for (int i = 0; i < 5; i++) {
        acc += r->p_status[i];
        if (u < acc) {
            d.status = fault_statuses[i];
            return d;
        }
    }
    acc += r->p_drop;
    if (u < acc)
        d.drop = true;
    return d;
}

/* ---- rate limiter */

bool sl__emu_rate_parse(const char *spec, int *limit, int64_t *window_ms, char *errbuf,
                        size_t errlen)
{
    if (!spec || !*spec || strcmp(spec, "0") == 0 || strcasecmp(spec, "off") == 0) {
        *limit = 0;
        *window_ms = 60000;
        return true;
    }
    char *end;
    long n = strtol(spec, &end, 10);
    if (end == spec || n < 0 || n > 1000000)
        goto bad;
    *limit = (int)n;
    *window_ms = 60000;
    if (*end == '\0')
        return true;
    if (*end != '/')
        goto bad;
    end++;
    if (strcmp(end, "s") == 0 || strcmp(end, "sec") == 0 || strcmp(end, "second") == 0)
        *window_ms = 1000;
    else if (strcmp(end, "min") == 0 || strcmp(end, "m") == 0 || strcmp(end, "minute") == 0)
        *window_ms = 60000;
    else if (strcmp(end, "h") == 0 || strcmp(end, "hour") == 0)
        *window_ms = 3600000;
    else if (!(isdigit((unsigned char)*end) && sl_duration_parse(end, window_ms, NULL) == SL_OK &&
               *window_ms > 0))
        goto bad;
    return true;
bad:
    snprintf(errbuf, errlen,
             "bad rate '%s' (use N/min, N/s, N/h or N/DURATION such as 5/2s; 0 = unlimited)",
             spec);
    return false;
}

void sl__emu_rate_init(emu_rate *r, int limit, int64_t window_ms)
{
    memset(r, 0, sizeof(*r));
    r->limit = limit;
    r->window_ms = window_ms;
    r->cap = limit > 0 ? limit : 1;
    r->ts = sl_xcalloc((size_t)r->cap, sizeof(*r->ts));
}

void sl__emu_rate_cleanup(emu_rate *r)
{
    free(r->ts);
    r->ts = NULL;
}

bool sl__emu_rate_take(emu_rate *r, int64_t now_ms, int64_t *retry_after_ms)
{
    if (r->limit <= 0)
        return true;
    /* Drop events that left the window. */
    while (r->count > 0 && r->ts[r->head] + r->window_ms <= now_ms) {
        r->head = (r->head + 1) % r->cap;
        r->count--;
    }
    if (r->count >= r->limit) {
        if (retry_after_ms)
            *retry_after_ms = r->ts[r->head] + r->window_ms - now_ms;
        return false;
    }
    r->ts[(r->head + r->count) % r->cap] = now_ms;
    r->count++;
    return true;
}
