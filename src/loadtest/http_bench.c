/*
 * http_bench.c - `sluice loadtest http`: a zero-latency benchmark of the event loop
 * itself (a raw sl_dbx_async: the driver the Genie generator uses, without Databricks
 * auth), comparable with wrk/autocannon. `concurrency` requests each GET the URL over a
 * keep-alive connection and are re-sent the moment they complete (closed loop per
 * connection, as wrk does), for `duration`. Latency (µs) goes to an sl_lt_hist; CPU time
 * per request comes from getrusage over the measured window.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "loadtest_int.h"

typedef struct bench {
    const sl_lt_http_opts *o;
    sl_dbx_async *a;
    sl_lt_hist *h;
    int64_t end_ns;
    bool stopping;
    uint64_t requests, errors, non_2xx, bytes;
} bench;

void sl_lt_http_opts_init(sl_lt_http_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->concurrency = 100;
    o->duration_ms = 10000;
    o->timeout_ms = 10000;
}

static void on_done(sl_dbx_async_req *x, void *arg)
{
    bench *b = arg;
    const sl_dbx_response *p = sl_dbx_async_req_response(x);
    int64_t now = sl_mono_ns();
    if (now <= b->end_ns) {
        if (p->code != SL_OK && p->err->http_status == 0) {
            b->errors++; /* the transfer failed: connection, timeout, cut short */
        } else {
            b->requests++;
            b->bytes += p->bytes;
            if (p->status < 200 || p->status >= 300)
                b->non_2xx++;
            sl_lt_hist_record(b->h, (now - p->submitted_ns) / 1000);
        }
    }
    if (now < b->end_ns && !b->stopping && sl_dbx_async_req_resubmit(x, NULL) != SL_OK)
        b->errors++;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

sl_code sl_lt_http_run(const sl_lt_http_opts *o, sl_lt_http_result *out, sl_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!o->url || !*o->url)
        return sl_err_set(err, SL_EINVAL, "no URL");
    if (o->concurrency < 1)
        return sl_err_set(err, SL_EINVAL, "concurrency must be >= 1");
    if (o->duration_ms <= 0)
        return sl_err_set(err, SL_EINVAL, "duration must be > 0");
    lt_raise_nofile();
    sl_dbx_async_opts ao;
    sl_dbx_async_opts_init(&ao);
    ao.connect_timeout_ms = 10000;
    ao.user_agent = "sluice/" SL_VERSION " loadtest";
    ao.max_connections = o->concurrency + 16;
    bench b = {.o = o};
    sl_code rc = sl_dbx_async_new(NULL, &ao, &b.a, err);
    if (rc != SL_OK)
        return rc;
    sl_dbx_request rq;
    sl_dbx_request_init(&rq, "GET", o->url);
    rq.headers = o->headers;
    rq.n_headers = o->n_headers;
    rq.timeout_ms = o->timeout_ms;
    rq.discard = true;
    b.h = sl_lt_hist_new();
    double cpu0 = cpu_seconds();
    int64_t t0 = sl_mono_ns();
    b.end_ns = t0 + o->duration_ms * 1000000LL;
    for (int i = 0; i < o->concurrency && rc == SL_OK; i++)
        rc = sl_dbx_async_req_submit(sl_dbx_async_req_new(b.a), &rq, on_done, &b, err);
    if (rc != SL_OK) { /* a URL that is not http(s) */
        sl_lt_hist_free(b.h);
        sl_dbx_async_free(b.a);
        return rc;
    }
    int64_t last_progress = 0;
    while (sl_dbx_async_in_flight(b.a) > 0) {
        int64_t now = sl_mono_ns();
        if (o->stop && *o->stop && !b.stopping) {
            b.stopping = true;
            b.end_ns = now;
        }
        if (now > b.end_ns + 2000000000LL)
            break; /* stragglers after the window are not counted anyway */
        int64_t wait = b.end_ns > now ? b.end_ns - now : 50000000LL;
        if (wait > 100000000LL)
            wait = 100000000LL;
        sl_dbx_async_run(b.a, wait);
        if (o->progress && now - last_progress > 250000000LL && now < b.end_ns) {
            last_progress = now;
            fprintf(o->progress, "\r[%.1fs/%.1fs] %llu requests, %d in flight, p99 %.2fms\033[K",
                    (double)(now - t0) / 1e9, (double)o->duration_ms / 1e3,
                    (unsigned long long)b.requests, sl_dbx_async_in_flight(b.a),
                    (double)sl_lt_hist_percentile(b.h, 99) / 1e3);
            fflush(o->progress);
        }
    }
    if (o->progress) {
        fputc('\n', o->progress);
        fflush(o->progress);
    }
    int64_t t1 = sl_mono_ns();
    double cpu = cpu_seconds() - cpu0;
    double window = (double)((b.end_ns < t1 ? b.end_ns : t1) - t0) / 1e9;
    out->requests = b.requests;
    out->errors = b.errors;
    out->non_2xx = b.non_2xx;
    out->bytes = b.bytes;
    out->seconds = window;
    out->requests_per_s = window > 0 ? (double)b.requests / window : 0;
    out->min_us = sl_lt_hist_min(b.h);
    out->p50_us = sl_lt_hist_percentile(b.h, 50);
    out->p90_us = sl_lt_hist_percentile(b.h, 90);
    out->p99_us = sl_lt_hist_percentile(b.h, 99);
    out->p999_us = sl_lt_hist_percentile(b.h, 99.9);
    out->max_us = sl_lt_hist_max(b.h);
    out->mean_us = sl_lt_hist_mean(b.h);
    out->cpu_s = cpu;
    out->cpu_us_per_request = b.requests ? cpu * 1e6 / (double)b.requests : 0;
    out->max_in_flight = sl_dbx_async_peak(b.a);
    sl_lt_hist_free(b.h);
    sl_dbx_async_free(b.a);
    return SL_OK;
}
