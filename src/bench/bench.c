/*
 * bench.c - the closed-loop benchmark (bench.h): a phase starts C workflows and starts the
 * next one from each close callback, until its N have closed. Start times live in one slot
 * per workflow in flight (the slot is part of the workflow id), latencies in a fixed-size
 * histogram (percentiles within 0.4%).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sluice/bench.h"
#include "sluice/engine.h"
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

void sl_bench_opts_init(sl_bench_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->workflows = 10000;
    o->steps = 3;
    o->concurrency = 256;
    o->threads = 2;
    o->warmup = 200;
    o->durability = SL_DURABILITY_NORMAL;
}

/* out->first_error: the first error, with the failed run's failure when it has one. */
static void describe_first_error(sl_engine *e, const struct bench *b, sl_bench_result *out)
{
    json_t *d = NULL;
    if (b->first_failed[0] && sl_engine_describe(e, b->first_failed, NULL, &d, NULL) == SL_OK) {
        json_t *fj = json_object_get(d, "failure");
        char *f = fj ? sl_json_dumps(fj) : sl_xstrdup("no failure recorded");
        snprintf(out->first_error, sizeof(out->first_error), "%s: %s", b->first_error, f);
        free(f);
        json_decref(d);
    } else {
        snprintf(out->first_error, sizeof(out->first_error), "%s", b->first_error);
    }
}

/* The database's size once its WAL is folded in. */
static int64_t folded_db_bytes(const char *db, int64_t fallback)
{
    sl_store_opts so;
    sl_store_opts_init(&so);
    so.path = db;
    sl_store *st;
    int64_t bytes = fallback;
    if (sl_store_open(&so, &st, NULL) == SL_OK) {
        sl_store_checkpoint(st);
        bytes = sl_store_size_bytes(st);
        sl_store_close(st);
    }
    return bytes;
}

static void remove_db(char *tdir, char *db)
{
    unlink(db);
    char *wal = sl_xasprintf("%s-wal", db), *shm = sl_xasprintf("%s-shm", db);
    unlink(wal);
    unlink(shm);
    free(wal);
    free(shm);
    rmdir(tdir);
    free(db);
    free(tdir);
}

sl_code sl_bench_run(const sl_bench_opts *o, sl_bench_result *out, sl_err *err)
{
    memset(out, 0, sizeof(*out));
    if (o->workflows < 1 || o->steps < 0 || o->concurrency < 1 || o->threads < 1 || o->warmup < 0 ||
        o->workflows + o->warmup > INT32_MAX || o->concurrency > 1000000)
        return sl_err_set(err, SL_EINVAL, "bench options out of range");
    const int n = (int)o->workflows, conc = (int)o->concurrency, warmup = (int)o->warmup;
    const char *tmp = getenv("TMPDIR");
    char *tdir = sl_xasprintf("%s/sluice-bench.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(tdir)) {
        int saved = errno;
        free(tdir);
        return sl_err_set(err, SL_EIO, "cannot create a temporary directory: %s", strerror(saved));
    }
    char *db = sl_xasprintf("%s/bench.db", tdir);
    sl_engine_opts eo;
    sl_engine_opts_init(&eo);
    eo.db_path = db;
    eo.durability = o->durability;
    eo.registry = o->registry;
    eo.threaded = true;
    sl_engine *e;
    sl_code rc = sl_engine_open(&eo, &e, err);
    if (rc != SL_OK) {
        remove_db(tdir, db);
        return rc;
    }
    struct bench b;
    memset(&b, 0, sizeof(b));
    b.e = e;
    b.input = json_pack("{s:I,s:i}", "steps", (json_int_t)o->steps, "activity_ms", 0);
    b.slot_start_ns = sl_xcalloc((size_t)conc, sizeof(int64_t));
    b.free_slots = sl_xcalloc((size_t)conc, sizeof(int));
    for (int k = 0; k < conc; k++)
        b.free_slots[b.n_free++] = conc - 1 - k;
    b.n_slots = conc;
    b.refs = sl_xcalloc((size_t)conc, sizeof(*b.refs));
    for (int k = 0; k < conc; k++)
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
    wo.concurrency = (int)o->threads;
    wo.capacity = conc * 2 + 64;
    sl_worker *w;
    if ((rc = sl_worker_start(e, &wo, &w, err)) != SL_OK) {
        sl_engine_on_close(e, NULL, NULL);
        sl_engine_close(e);
        goto out;
    }
    if (o->on_ready)
        o->on_ready(o->arg, db);
    run_phase(&b, 0, warmup, conc);
    int warm_errors = b.errors;
    b.errors = 0;
    b.measure = true;
    sl_engine_stats s0, s1;
    sl_engine_stats_get(e, &s0);
    int64_t t0 = sl_mono_ns();
    run_phase(&b, warmup, n, conc);
    int64_t t1 = sl_mono_ns();
    sl_engine_stats_get(e, &s1);
    sl_worker_stop(w);
    sl_engine_on_close(e, NULL, NULL);
    out->errors = b.errors + warm_errors;
    if (b.first_error[0])
        describe_first_error(e, &b, out);
    int64_t db_bytes = sl_engine_db_bytes(e);
    sl_engine_close(e);
    db_bytes = folded_db_bytes(db, db_bytes);
    out->wall_s = (double)(t1 - t0) / 1e9;
    out->workflows_per_s = (double)n / out->wall_s;
    out->transitions_per_s = (double)o->workflows * (double)(2 + 3 * o->steps) / out->wall_s;
    out->p50_ms = (double)sl_lt_hist_percentile(b.lat, 50) / 1e6;
    out->p99_ms = (double)sl_lt_hist_percentile(b.lat, 99) / 1e6;
    out->rss_mb = (double)sl_peak_rss_bytes() / (1024.0 * 1024.0);
    out->db_bytes_per_workflow = (double)db_bytes / (double)(n + warmup);
    out->commits = s1.commits - s0.commits;
out:
    json_decref(b.input);
    free(b.slot_start_ns);
    free(b.free_slots);
    free(b.refs);
    sl_lt_hist_free(b.lat);
    pthread_mutex_destroy(&b.mu);
    pthread_cond_destroy(&b.cv);
    remove_db(tdir, db);
    return rc;
}
