/*
 * report.c - what a run reports: the summary (JSON, summary.json), the notebook's
 * console block, latency tables from the scheduled and from the actual send time per
 * request type, the cache line of the Locust tool (test_complete ...), and
 * detailed_metrics.csv with one row per request (the tool's columns first, then ours).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loadtest_int.h"

#define T SL_LT_RTYPE_COUNT /* index of the totals */

static double ms(int64_t us)
{
    return (double)us / 1000.0;
}

static json_t *lat_json(const sl_lt_hist *h)
{
    return json_pack("{s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "count",
                     (json_int_t)sl_lt_hist_count(h), "min", ms(sl_lt_hist_min(h)), "p50",
                     ms(sl_lt_hist_percentile(h, 50)), "p90", ms(sl_lt_hist_percentile(h, 90)),
                     "p95", ms(sl_lt_hist_percentile(h, 95)), "p99",
                     ms(sl_lt_hist_percentile(h, 99)), "max", ms(sl_lt_hist_max(h)), "mean",
                     sl_lt_hist_mean(h) / 1000.0);
}

static json_t *fail_json(const uint64_t *f)
{
    json_t *o = json_object();
    for (int c = 1; c < SL_LT_CAUSE_COUNT; c++)
        json_object_set_new(o, sl_lt_cause_name((sl_lt_cause)c), json_integer((json_int_t)f[c]));
    return o;
}

static const char *test_name(const sl_lt_result *r, char *buf, size_t n)
{
    if (r->opts.name && *r->opts.name)
        return r->opts.name;
    snprintf(buf, n, "load_test_%s", r->opts.scenario ? r->opts.scenario : "custom");
    return buf;
}

static double pct(uint64_t a, uint64_t b)
{
    return b ? 100.0 * (double)a / (double)b : 0.0;
}

void lt_result_finish(sl_lt_result *r)
{
    const sl_lt_opts *o = &r->opts;
    double secs = (double)r->duration_us / 1e6;
    char nb[128], ts[40];
    json_t *s = json_object();
    json_object_set_new(s, "test_name", json_string(test_name(r, nb, sizeof(nb))));
    json_object_set_new(s, "mode",
                        json_string(o->mode == SL_LT_MODE_SCENARIO ? "scenario" : "replay"));
    json_object_set_new(s, "scenario", json_string(o->scenario ? o->scenario : "custom"));
    json_object_set_new(s, "space_id", json_string(o->space_id ? o->space_id : ""));
    json_object_set_new(s, "started_at", json_string(sl_time_format(r->start_ms, ts, sizeof(ts))));
    json_object_set_new(s, "schedule", json_string(r->schedule ? r->schedule : ""));
    json_t *p = json_object();
    if (o->mode == SL_LT_MODE_SCENARIO) {
        json_object_set_new(p, "questions", json_integer(o->questions));
        json_object_set_new(p, "duration_ms", json_integer(o->duration_ms));
        json_object_set_new(p, "workers", json_integer(o->workers));
    } else {
        json_object_set_new(p, "users", json_integer(o->users));
        json_object_set_new(p, "spawn_rate", json_real(o->spawn_rate));
        json_object_set_new(p, "run_time_ms", json_integer(o->run_time_ms));
        json_object_set_new(p, "min_wait_s", json_real(o->min_wait_s));
        json_object_set_new(p, "max_wait_s", json_real(o->max_wait_s));
        json_object_set_new(p, "conversations",
                            json_integer(o->convs ? (json_int_t)o->convs->n_convs : 0));
    }
    json_object_set_new(p, "time_scale", json_real(o->time_scale));
    json_object_set_new(p, "cache", json_string(sl_lt_cache_mode_name(o->cache.mode)));
    if (o->cache.mode != SL_LT_CACHE_NONE)
        json_object_set_new(p, "similarity", json_string(sl_lt_sim_name(o->cache.similarity)));
    json_object_set_new(p, "question_timeout_ms", json_integer(o->question_timeout_ms));
    json_object_set_new(p, "poll_initial_ms", json_integer(o->poll_initial_ms));
    json_object_set_new(p, "poll_max_ms", json_integer(o->poll_max_ms));
    json_object_set_new(s, "params", p);

    uint64_t n = r->count[T], ok = r->ok[T];
    json_object_set_new(s, "total_questions", json_integer((json_int_t)n));
    json_object_set_new(s, "successful", json_integer((json_int_t)ok));
    json_object_set_new(s, "failed", json_integer((json_int_t)(n - ok)));
    json_object_set_new(s, "success_rate", json_real(n ? (double)ok / (double)n : 0.0));
    json_object_set_new(s, "total_duration_s", json_real(secs));
    json_object_set_new(s, "avg_question_duration_s",
                        json_real(sl_lt_hist_mean(r->h_actual[T]) / 1e6));
    json_object_set_new(s, "avg_question_duration_scheduled_s",
                        json_real(sl_lt_hist_mean(r->h_sched[T]) / 1e6));
    json_object_set_new(s, "throughput_qps", json_real(secs > 0 ? (double)n / secs : 0.0));
    json_object_set_new(s, "aborted", json_integer((json_int_t)r->aborted));
    json_object_set_new(s, "not_started", json_integer((json_int_t)r->not_started));
    json_object_set_new(s, "peak_in_flight_questions", json_integer(r->peak_questions));
    json_object_set_new(s, "peak_in_flight_transfers", json_integer(r->peak_in_flight));
    json_object_set_new(s, "failures", fail_json(r->fail[T]));
    json_object_set_new(s, "latency_ms",
                        json_pack("{s:o, s:o}", "scheduled", lat_json(r->h_sched[T]), "actual",
                                  lat_json(r->h_actual[T])));
    json_t *bt = json_object();
    for (int t = 0; t < T; t++) {
        if (!r->count[t])
            continue;
        json_object_set_new(
            bt, sl_lt_rtype_name((sl_lt_rtype)t),
            json_pack("{s:I, s:I, s:I, s:o, s:f, s:{s:o, s:o}}", "count", (json_int_t)r->count[t],
                      "successful", (json_int_t)r->ok[t], "failed",
                      (json_int_t)(r->count[t] - r->ok[t]), "failures", fail_json(r->fail[t]),
                      "throughput_qps", secs > 0 ? (double)r->count[t] / secs : 0.0, "latency_ms",
                      "scheduled", lat_json(r->h_sched[t]), "actual", lat_json(r->h_actual[t])));
    }
    json_object_set_new(s, "by_type", bt);
    if (o->cache.mode != SL_LT_CACHE_NONE) {
        uint64_t l = r->count[SL_LT_GENIE_LRU_HIT], sm = r->count[SL_LT_GENIE_SEMANTIC_HIT],
                 mi = r->count[SL_LT_GENIE_LIVE], tot = l + sm + mi;
        json_object_set_new(s, "cache",
                            json_pack("{s:s, s:I, s:I, s:f, s:I, s:f, s:I, s:f, s:s?}", "mode",
                                      sl_lt_cache_mode_name(o->cache.mode), "total_requests",
                                      (json_int_t)tot, "lru_hits", (json_int_t)l,
                                      "lru_hit_rate_pct", pct(l, tot), "semantic_hits",
                                      (json_int_t)sm, "semantic_hit_rate_pct", pct(sm, tot),
                                      "misses", (json_int_t)mi, "miss_rate_pct", pct(mi, tot),
                                      "warehouse_id", r->warehouse_id));
    }
    json_decref(r->summary);
    r->summary = s;
}

const char *sl_lt_result_schedule(const sl_lt_result *r)
{
    return r->schedule ? r->schedule : "";
}

const json_t *sl_lt_result_summary(const sl_lt_result *r)
{
    return r->summary;
}

static void lat_row(FILE *f, const char *name, const sl_lt_hist *h)
{
    fprintf(f, "%-20s %7llu %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f\n", name,
            (unsigned long long)sl_lt_hist_count(h), ms(sl_lt_hist_min(h)),
            ms(sl_lt_hist_percentile(h, 50)), ms(sl_lt_hist_percentile(h, 90)),
            ms(sl_lt_hist_percentile(h, 95)), ms(sl_lt_hist_percentile(h, 99)),
            ms(sl_lt_hist_max(h)));
}

static void lat_table(FILE *f, const sl_lt_result *r, const char *title, sl_lt_hist *const *h)
{
    fprintf(f, "\n%s\n%-20s %7s %9s %9s %9s %9s %9s %9s\n", title, "type", "count", "min", "p50",
            "p90", "p95", "p99", "max");
    for (int t = 0; t < T; t++)
        if (r->count[t])
            lat_row(f, sl_lt_rtype_name((sl_lt_rtype)t), h[t]);
    lat_row(f, "TOTAL", h[T]);
}

void sl_lt_result_print(const sl_lt_result *r, FILE *f)
{
    char nb[128];
    static const char rule[] = "============================================================";
    uint64_t n = r->count[T], ok = r->ok[T];
    double secs = (double)r->duration_us / 1e6;
    fprintf(f, "%s\nLoad Test Summary: %s\n%s\n", rule, test_name(r, nb, sizeof(nb)), rule);
    fprintf(f, "Total Questions: %llu\n", (unsigned long long)n);
    fprintf(f, "Successful: %llu\n", (unsigned long long)ok);
    fprintf(f, "Failed: %llu\n", (unsigned long long)(n - ok));
    fprintf(f, "Success Rate: %.2f%%\n", pct(ok, n));
    fprintf(f, "Total Duration: %.2fs\n", secs);
    fprintf(f, "Avg Question Duration: %.2fs\n", sl_lt_hist_mean(r->h_actual[T]) / 1e6);
    fprintf(f, "Throughput: %.2f QPS\n", secs > 0 ? (double)n / secs : 0.0);
    fprintf(f, "%s\n", rule);
    fprintf(f, "Peak in flight: %d questions, %d HTTP transfers\n", r->peak_questions,
            r->peak_in_flight);
    if (r->aborted)
        fprintf(f, "Aborted (in flight at the stop, not counted): %zu\n", r->aborted);
    if (r->not_started)
        fprintf(f, "Not started (due after the stop): %zu\n", r->not_started);
    lat_table(f, r, "Latency from the scheduled send time (ms; includes waiting for a worker):",
              r->h_sched);
    lat_table(f, r, "Latency from the actual send time (ms):", r->h_actual);
    fprintf(f, "\n%-20s %7s %7s %7s %13s %8s %13s %11s %8s\n", "type", "count", "ok", "failed",
            "rate_limited", "timeout", "genie_failed", "http_error", "req/s");
    for (int t = 0; t <= T; t++) {
        if (t < T && !r->count[t])
            continue;
        const uint64_t *fl = r->fail[t];
        fprintf(f, "%-20s %7llu %7llu %7llu %13llu %8llu %13llu %11llu %8.2f\n",
                sl_lt_rtype_name((sl_lt_rtype)t), (unsigned long long)r->count[t],
                (unsigned long long)r->ok[t], (unsigned long long)(r->count[t] - r->ok[t]),
                (unsigned long long)fl[SL_LT_RATE_LIMITED], (unsigned long long)fl[SL_LT_TIMEOUT],
                (unsigned long long)fl[SL_LT_GENIE_FAILED],
                (unsigned long long)fl[SL_LT_HTTP_ERROR],
                secs > 0 ? (double)r->count[t] / secs : 0.0);
    }
    if (r->opts.cache.mode != SL_LT_CACHE_NONE) {
        uint64_t l = r->count[SL_LT_GENIE_LRU_HIT], sm = r->count[SL_LT_GENIE_SEMANTIC_HIT],
                 mi = r->count[SL_LT_GENIE_LIVE], tot = l + sm + mi;
        fprintf(f,
                "\ntest_complete total_requests=%llu lru_hits=%llu lru_hit_rate=%.1f%% "
                "semantic_hits=%llu semantic_hit_rate=%.1f%% misses=%llu miss_rate=%.1f%%\n",
                (unsigned long long)tot, (unsigned long long)l, pct(l, tot), (unsigned long long)sm,
                pct(sm, tot), (unsigned long long)mi, pct(mi, tot));
    }
}

/* ---- files ---- */

static void csv_field(FILE *f, const char *s)
{
    if (!s)
        s = "";
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_sep(FILE *f, const char *s)
{
    csv_field(f, s);
    fputc(',', f);
}


static const char *base_name(const char *dir, char *buf, size_t n)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    size_t start = len;
    while (start > 0 && dir[start - 1] != '/')
        start--;
    snprintf(buf, n, "%.*s", (int)(len - start), dir + start);
    return buf;
}

static sl_code write_csv(const sl_lt_result *r, const char *path, const char *run_id, sl_err *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return sl_err_set(err, SL_EIO, "cannot write %s: %s", path, strerror(errno));
    fputs("run_id,space_id,request_started_at,request_completed_at,duration_ms,concurrent_users,"
          "user,prompt,source_conversation_id,source_message_id,genie_conversation_id,"
          "genie_message_id,message_index,sql,response_size,success,error,sql_statement_id,"
          "request_index,request_type,failure_cause,http_status,retries,row_count,scheduled_at,"
          "scheduled_offset_ms,send_offset_ms,done_offset_ms,latency_scheduled_ms,"
          "latency_actual_ms\r\n",
          f);
    const sl_lt_opts *o = &r->opts;
    int conc = o->mode == SL_LT_MODE_SCENARIO ? o->workers : o->users;
    for (size_t i = 0; i < r->n_recs; i++) {
        const lt_record *x = &r->recs[i];
        char a[40], b[40], c[40], num[64], user[32];
        int64_t base = r->start_ms;
        csv_sep(f, run_id);
        csv_sep(f, o->space_id);
        csv_sep(f, sl_time_format(base + x->send_us / 1000, a, sizeof(a)));
        csv_sep(f, sl_time_format(base + x->done_us / 1000, b, sizeof(b)));
        snprintf(num, sizeof(num), "%.3f", ms(x->done_us - x->send_us));
        csv_sep(f, num);
        snprintf(num, sizeof(num), "%d", conc);
        csv_sep(f, num);
        if (x->user)
            snprintf(user, sizeof(user), "user_%d", x->user);
        else
            user[0] = '\0';
        csv_sep(f, user);
        csv_sep(f, x->prompt);
        csv_sep(f, x->src_conv_id);
        csv_sep(f, x->src_msg_id);
        csv_sep(f, x->genie_conv_id);
        csv_sep(f, x->genie_msg_id);
        snprintf(num, sizeof(num), "%d", x->msg_index);
        csv_sep(f, num);
        csv_sep(f, x->sql);
        snprintf(num, sizeof(num), "%lld", (long long)x->response_size);
        csv_sep(f, num);
        csv_sep(f, x->ok ? "True" : "False");
        csv_sep(f, x->error);
        csv_sep(f, x->stmt_id);
        snprintf(num, sizeof(num), "%zu", x->index);
        csv_sep(f, num);
        csv_sep(f, sl_lt_rtype_name(x->type));
        csv_sep(f, sl_lt_cause_name(x->cause));
        snprintf(num, sizeof(num), "%d", x->http_status);
        csv_sep(f, num);
        snprintf(num, sizeof(num), "%d", x->retries);
        csv_sep(f, num);
        if (x->rows >= 0)
            snprintf(num, sizeof(num), "%lld", (long long)x->rows);
        else
            num[0] = '\0';
        csv_sep(f, num);
        csv_sep(f, sl_time_format(base + x->sched_us / 1000, c, sizeof(c)));
        fprintf(f, "%.3f,%.3f,%.3f,%.3f,%.3f\r\n", ms(x->sched_us), ms(x->send_us), ms(x->done_us),
                ms(x->done_us - x->sched_us), ms(x->done_us - x->send_us));
    }
    if (fclose(f) != 0)
        return sl_err_set(err, SL_EIO, "cannot write %s: %s", path, strerror(errno));
    return SL_OK;
}

sl_code sl_lt_result_write(const sl_lt_result *r, const char *dir, sl_err *err)
{
    sl_code rc = sl_mkdirs(dir, err);
    if (rc != SL_OK)
        return rc;
    char run_id[256];
    base_name(dir, run_id, sizeof(run_id));
    char *csv = sl_xasprintf("%s/detailed_metrics.csv", dir);
    rc = write_csv(r, csv, run_id, err);
    free(csv);
    if (rc != SL_OK)
        return rc;
    json_t *s = json_deep_copy(r->summary);
    json_object_set_new(s, "run_id", json_string(run_id));
    char *path = sl_xasprintf("%s/summary.json", dir);
    if (json_dump_file(s, path, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
        rc = sl_err_set(err, SL_EIO, "cannot write %s", path);
    free(path);
    json_decref(s);
    return rc;
}
