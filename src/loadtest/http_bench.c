/*
 * http_bench.c - `sluice loadtest http`: a zero-latency benchmark of the event loop
 * itself, comparable with wrk/autocannon. `concurrency` transfers each GET the URL over
 * a keep-alive connection and are re-issued the moment they complete (closed loop per
 * connection, as wrk does), for `duration`. Latency (µs) goes to an sl_lt_hist; CPU time
 * per request comes from getrusage over the measured window.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "loadtest_int.h"

typedef struct bench {
    const sl_lt_http_opts *o;
    lt_loop *loop;
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

static void on_done(lt_xfer *x, void *arg)
{
    bench *b = arg;
    int64_t now = sl_mono_ns();
    if (now <= b->end_ns) {
        if (x->cc != CURLE_OK) {
            b->errors++;
        } else {
            b->requests++;
            b->bytes += x->bytes;
            if (x->status < 200 || x->status >= 300)
                b->non_2xx++;
            sl_lt_hist_record(b->h, (now - x->started_ns) / 1000);
        }
    }
    if (now < b->end_ns && !b->stopping)
        lt_xfer_restart(b->loop, x);
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
    struct curl_slist *hdrs = NULL;
    for (size_t i = 0; i < o->n_headers; i++)
        hdrs = curl_slist_append(hdrs, o->headers[i]);
    lt_loop_opts lo = {.connect_timeout_ms = 10000,
                       .tls_verify = true,
                       .user_agent = "sluice/" SL_VERSION " loadtest",
                       .max_connections = o->concurrency + 16};
    bench b = {.o = o};
    if (!(b.loop = lt_loop_new(&lo, err))) {
        curl_slist_free_all(hdrs);
        return err ? err->code : SL_EIO;
    }
    b.h = sl_lt_hist_new();
    double cpu0 = cpu_seconds();
    int64_t t0 = sl_mono_ns();
    b.end_ns = t0 + o->duration_ms * 1000000LL;
    for (int i = 0; i < o->concurrency; i++) {
        lt_xfer *x = lt_xfer_get(b.loop);
        x->discard = true;
        lt_xfer_start(b.loop, x, "GET", o->url, NULL, hdrs, (long)o->timeout_ms, on_done, &b);
    }
    int64_t last_progress = 0;
    while (lt_loop_active(b.loop) > 0) {
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
        lt_loop_run_once(b.loop, wait);
        if (o->progress && now - last_progress > 250000000LL && now < b.end_ns) {
            last_progress = now;
            fprintf(o->progress, "\r[%.1fs/%.1fs] %llu requests, %d in flight, p99 %.2fms\033[K",
                    (double)(now - t0) / 1e9, (double)o->duration_ms / 1e3,
                    (unsigned long long)b.requests, lt_loop_active(b.loop),
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
    out->max_in_flight = lt_loop_peak(b.loop);
    sl_lt_hist_free(b.h);
    lt_loop_free(b.loop);
    curl_slist_free_all(hdrs);
    return SL_OK;
}
