/*
 * cmd_bench.c - `sluice bench`: N noop_chain workflows end to end through the real store,
 * engine and worker code on a fresh temporary database, closed loop with C in flight
 * (the peers' workload in ../shared/bench-peers), after a warm-up that is not counted.
 * Its own memory is bounded too, so the RSS it reports is the engine's: start times live in
 * one slot per workflow in flight (the slot is part of the workflow id), latencies in a
 * fixed-size histogram (percentiles within 0.4%).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sluice/loadtest.h"
#include "sluice/store.h"
#include "sluice/worker.h"

struct bench;

/* What a start callback needs: the bench and the slot the workflow holds. */
struct slot_ref {
    struct bench *b;
    int slot;
};

struct bench {
    sl_engine *e;
    struct slot_ref *refs; /* one per slot */
    json_t *input;
    int total; /* workflows in this phase */
    int base;  /* index of the phase's first workflow */
    int started, done, errors;
    int64_t *slot_start_ns; /* start time per slot, one slot per workflow in flight */
    int *free_slots;        /* stack of free slots */
    int n_free, n_slots;
    sl_lt_hist *lat;       /* start-to-close latency (ns) of the measured phase */
    char first_error[160]; /* what went wrong first, for the error line */
    char first_failed[64]; /* the workflow that failed first, if one did */
    bool measure;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static void start_next(struct bench *b);

static void on_start(void *arg, sl_code rc, const sl_start_result *res)
{
    (void)res;
    const struct slot_ref *ref = arg;
    struct bench *b = ref->b;
    if (rc != SL_OK) {
        /* counted as done, and its slot is free again */
        pthread_mutex_lock(&b->mu);
        b->slot_start_ns[ref->slot] = 0;
        b->free_slots[b->n_free++] = ref->slot;
        if (!b->first_error[0])
            snprintf(b->first_error, sizeof(b->first_error), "a start failed (%s)",
                     sl_code_name(rc));
        b->errors++;
        b->done++;
        pthread_cond_signal(&b->cv);
        pthread_mutex_unlock(&b->mu);
        start_next(b);
    }
}

static void start_next(struct bench *b)
{
    pthread_mutex_lock(&b->mu);
    if (b->started >= b->total) {
        pthread_mutex_unlock(&b->mu);
        return;
    }
    if (b->n_free == 0) {
        /* C already in flight: a completion from the previous phase can call in here after
         * this phase started its C. The next completion starts this one instead. */
        pthread_mutex_unlock(&b->mu);
        return;
    }
    int i = b->base + b->started++;
    int slot = b->free_slots[--b->n_free];
    b->slot_start_ns[slot] = sl_mono_ns();
    pthread_mutex_unlock(&b->mu);
    char id[48];
    snprintf(id, sizeof(id), "bench-%d.%d", i, slot);
    sl_start_opts o = {.workflow_id = id, .task_queue = "bench"};
    sl_engine_start_async(b->e, "noop_chain", json_incref(b->input), &o, on_start, &b->refs[slot]);
}

static void on_close(void *arg, const char *workflow_id, const char *run_id, int status)
{
    (void)run_id;
    struct bench *b = arg;
    const char *dot = strchr(workflow_id, '.');
    int slot = dot ? atoi(dot + 1) : 0;
    int64_t now = sl_mono_ns();
    pthread_mutex_lock(&b->mu);
    if (slot < 0 || slot >= b->n_slots || b->slot_start_ns[slot] == 0) {
        pthread_mutex_unlock(&b->mu); /* not one of ours in flight */
        return;
    }
    if (b->measure)
        sl_lt_hist_record(b->lat, now - b->slot_start_ns[slot]);
    b->slot_start_ns[slot] = 0;
    b->free_slots[b->n_free++] = slot;
    if (status != SL_RUN_COMPLETED) {
        if (!b->first_error[0]) {
            snprintf(b->first_error, sizeof(b->first_error), "workflow %s ended %s", workflow_id,
                     sl_run_status_name(status));
            snprintf(b->first_failed, sizeof(b->first_failed), "%s", workflow_id);
        }
        b->errors++;
    }
    b->done++;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    start_next(b);
}

static void run_phase(struct bench *b, int base, int total, int conc)
{
    pthread_mutex_lock(&b->mu);
    b->base = base;
    b->total = total;
    b->started = b->done = 0;
    pthread_mutex_unlock(&b->mu);
    for (int k = 0; k < conc && k < total; k++)
        start_next(b);
    pthread_mutex_lock(&b->mu);
    while (b->done < b->total)
        pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
}

static const struct sl_opt bench_opts[] = {
    SL_CLI_INT('n', "workflows", 'n', "N", 1, 10000000, "workflows measured (default 10000)"),
    SL_CLI_INT('s', "steps", 's', "S", 0, 100000, "activity steps per workflow (default 3)"),
    SL_CLI_INT('c', "concurrency", 'c', "C", 1, 100000, "workflows in flight (default 256)"),
    SL_CLI_STR('d', "durability", 'd', "normal|full", "commit durability (default normal)"),
    SL_CLI_INT('T', "threads", 'T', "T", 1, 1024, "activity threads (default 2)"),
    SL_CLI_INT('w', "warmup", 'w', "W", 0, 1000000,
               "warm-up workflows, not measured (default 200)"),
    SL_CLI_OUT((1u << SL_OUT_TABLE) | (1u << SL_OUT_JSON), "table (default) or json"),
    SL_CLI_END,
};

static int bench_exec(sl_cli *cli, const sl_cli_args *args)
{
    long long n = sl_cli_arg_int(args, 'n', 10000), steps = sl_cli_arg_int(args, 's', 3);
    long long conc = sl_cli_arg_int(args, 'c', 256), threads = sl_cli_arg_int(args, 'T', 2);
    long long warmup = sl_cli_arg_int(args, 'w', 200);
    sl_durability dur = SL_DURABILITY_NORMAL;
    const char *dur_s = sl_cli_arg_str(args, 'd', NULL);
    if (dur_s && !sl_durability_parse(dur_s, &dur))
        return sl_cli_usage(cli, "--durability must be normal or full");
    sl_out_fmt fmt = (sl_out_fmt)sl_cli_arg_fmt(args, 'o', SL_OUT_TABLE);
    if (args->argc > 0)
        return sl_cli_usage(cli, "unexpected argument '%s'", args->argv[0]);

    char dir[] = "/tmp/sluice-bench.XXXXXX";
    const char *tmp = getenv("TMPDIR");
    char *tdir = tmp && *tmp ? sl_xasprintf("%s/sluice-bench.XXXXXX", tmp) : sl_xstrdup(dir);
    if (!mkdtemp(tdir)) {
        free(tdir);
        return sl_cli_fail(cli, "cannot create a temporary directory: %s", strerror(errno));
    }
    char *db = sl_xasprintf("%s/bench.db", tdir);
    sl_engine_opts eo;
    sl_engine_opts_init(&eo);
    eo.db_path = db;
    eo.durability = dur;
    eo.registry = sl_cli_registry();
    eo.threaded = true;
    sl_engine *e;
    sl_err err;
    sl_err_clear(&err);
    int rc = SL_EXIT_OK;
    if (sl_engine_open(&eo, &e, &err) != SL_OK) {
        rc = sl_cli_fail_err(cli, &err);
        goto out;
    }
    struct bench b;
    memset(&b, 0, sizeof(b));
    b.e = e;
    b.input = json_pack("{s:I,s:i}", "steps", (json_int_t)steps, "activity_ms", 0);
    int total = (int)(n + warmup);
    b.slot_start_ns = sl_xcalloc((size_t)conc, sizeof(int64_t));
    b.free_slots = sl_xcalloc((size_t)conc, sizeof(int));
    for (int k = 0; k < (int)conc; k++)
        b.free_slots[b.n_free++] = (int)conc - 1 - k;
    b.n_slots = (int)conc;
    b.refs = sl_xcalloc((size_t)conc, sizeof(*b.refs));
    for (int k = 0; k < (int)conc; k++)
        b.refs[k] = (struct slot_ref){.b = &b, .slot = k};
    b.lat = sl_lt_hist_new();
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.cv, NULL);
    sl_engine_on_close(e, on_close, &b);
    const char *queues[] = {"bench"};
    sl_worker_opts wo;
    sl_worker_opts_init(&wo);
    wo.queues = queues;
    wo.n_queues = 1;
    wo.concurrency = (int)threads;
    wo.capacity = (int)(conc * 2 + 64);
    sl_worker *w;
    if (sl_worker_start(e, &wo, &w, &err) != SL_OK) {
        rc = sl_cli_fail_err(cli, &err);
        sl_engine_close(e);
        goto out;
    }
    if (fmt == SL_OUT_TABLE)
        fprintf(stderr,
                "bench: %lld warm-up + %lld workflows of %lld steps, %lld in flight, "
                "durability %s, db %s\n",
                warmup, n, steps, conc, sl_durability_name(dur), db);
    run_phase(&b, 0, (int)warmup, (int)conc);
    int warm_errors = b.errors;
    b.errors = 0;
    b.measure = true;
    sl_engine_stats s0, s1;
    sl_engine_stats_get(e, &s0);
    int64_t t0 = sl_mono_ns();
    run_phase(&b, (int)warmup, (int)n, (int)conc);
    int64_t t1 = sl_mono_ns();
    sl_engine_stats_get(e, &s1);
    sl_worker_stop(w);
    sl_engine_on_close(e, NULL, NULL);
    if (b.first_error[0]) {
        /* say what went wrong: the failed run's failure, when it has one */
        json_t *d = NULL;
        if (b.first_failed[0] && sl_engine_describe(e, b.first_failed, NULL, &d, NULL) == SL_OK) {
            json_t *fj = json_object_get(d, "failure");
            char *f = fj ? sl_json_dumps(fj) : sl_xstrdup("no failure recorded");
            fprintf(stderr, "sluice: bench: %d errors; first: %s: %s\n", b.errors + warm_errors,
                    b.first_error, f);
            free(f);
            json_decref(d);
        } else {
            fprintf(stderr, "sluice: bench: %d errors; first: %s\n", b.errors + warm_errors,
                    b.first_error);
        }
    }
    int64_t db_bytes = sl_engine_db_bytes(e);
    sl_engine_close(e);
    {
        /* size after the WAL is folded into the database */
        sl_store_opts so;
        sl_store_opts_init(&so);
        so.path = db;
        sl_store *st;
        if (sl_store_open(&so, &st, NULL) == SL_OK) {
            sl_store_checkpoint(st);
            db_bytes = sl_store_size_bytes(st);
            sl_store_close(st);
        }
    }
    double wall = (double)(t1 - t0) / 1e9;
    double p50 = (double)sl_lt_hist_percentile(b.lat, 50) / 1e6;
    double p99 = (double)sl_lt_hist_percentile(b.lat, 99) / 1e6;
    int64_t events = n * (2 + 3 * steps);
    double rss_mb = (double)sl_peak_rss_bytes() / (1024.0 * 1024.0);
    double per_wf = (double)db_bytes / (double)total;
    if (fmt == SL_OUT_JSON) {
        json_t *j =
            json_pack("{s:I,s:I,s:I,s:s,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:i,s:I,s:I,s:I}", "workflows",
                      (json_int_t)n, "steps", (json_int_t)steps, "concurrency", (json_int_t)conc,
                      "durability", sl_durability_name(dur), "wall_s", wall, "workflows_per_s",
                      (double)n / wall, "transitions_per_s", (double)events / wall, "p50_ms", p50,
                      "p99_ms", p99, "rss_mb", rss_mb, "db_bytes_per_workflow", per_wf, "errors",
                      b.errors + warm_errors, "warmup", (json_int_t)warmup, "commits",
                      (json_int_t)(s1.commits - s0.commits), "threads", (json_int_t)threads);
        sl_cli_print_json(j);
        json_decref(j);
    } else {
        printf("workflows            %lld (+%lld warm-up), %lld steps each, %lld in flight\n", n,
               warmup, steps, conc);
        printf("durability           %s\n", sl_durability_name(dur));
        printf("wall                 %.2f s\n", wall);
        printf("workflows/s          %.0f\n", (double)n / wall);
        printf("state transitions/s  %.0f (history events written)\n", (double)events / wall);
        printf("commits              %lld (%.1f workflows per commit)\n",
               (long long)(s1.commits - s0.commits),
               (double)n / (double)(s1.commits - s0.commits > 0 ? s1.commits - s0.commits : 1));
        printf("latency p50 / p99    %.2f / %.2f ms (start to close)\n", p50, p99);
        printf("peak RSS             %.1f MiB\n", rss_mb);
        printf("db bytes/workflow    %.0f\n", per_wf);
        printf("errors               %d\n", b.errors + warm_errors);
    }
    if (b.errors + warm_errors > 0)
        rc = SL_EXIT_FAIL;
    json_decref(b.input);
    free(b.slot_start_ns);
    free(b.free_slots);
    free(b.refs);
    sl_lt_hist_free(b.lat);
    pthread_mutex_destroy(&b.mu);
    pthread_cond_destroy(&b.cv);
out:
    unlink(db);
    char *wal = sl_xasprintf("%s-wal", db), *shm = sl_xasprintf("%s-shm", db);
    unlink(wal);
    unlink(shm);
    free(wal);
    free(shm);
    rmdir(tdir);
    free(db);
    free(tdir);
    return rc;
}

static const struct sl_cmd cmds[] = {
    {.name = "",
     .exec = bench_exec,
     .opts = bench_opts,
     .usage = "bench [--workflows N] [--steps S] [--concurrency C] [--durability normal|full] "
              "[--threads T] [--warmup W] [-o table|json]",
     .help =
         "Run N noop_chain workflows of S zero-millisecond steps end to end (closed loop, C in\n"
         "flight, after W warm-up workflows) on a fresh temporary database and report\n"
         "workflows/s, state transitions/s, p50/p99 start-to-close latency, peak RSS and\n"
         "database bytes per workflow."},
};
const struct sl_cmd_group sl_cli_bench = {"bench", "measure the engine on its own workload", cmds,
                                          1};
