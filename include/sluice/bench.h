/*
 * bench.h - `sluice bench` as a library call: N noop_chain workflows end to end through the
 * real store, engine and worker code on a fresh temporary database, closed loop with C in
 * flight (the peers' workload in ../shared/bench-peers), after a warm-up that is not counted.
 * The harness keeps its own memory bounded (one slot per workflow in flight, a fixed-size
 * latency histogram), so the peak RSS it reports is the engine's.
 */
#ifndef SLUICE_BENCH_H
#define SLUICE_BENCH_H

#include "sluice/model.h"

struct sl_registry;

typedef struct sl_bench_opts {
    const struct sl_registry *registry; /* must hold noop_chain (sl_workflows_register_bench) */
    int64_t workflows;                  /* measured (default 10000) */
    int64_t steps;                      /* activity steps per workflow (default 3) */
    int64_t concurrency;                /* workflows in flight (default 256) */
    int64_t threads;                    /* activity threads (default 2) */
    int64_t warmup;                     /* warm-up workflows, not measured (default 200) */
    sl_durability durability;           /* default normal */
    /* Called once the database is open, before the first start (may be NULL). */
    void (*on_ready)(void *arg, const char *db_path);
    void *arg;
} sl_bench_opts;

void sl_bench_opts_init(sl_bench_opts *o);

typedef struct sl_bench_result {
    double wall_s;                             /* of the measured phase */
    double workflows_per_s, transitions_per_s; /* transitions: history events written */
    double p50_ms, p99_ms;                     /* start to close */
    double rss_mb;                             /* peak RSS of the process */
    double db_bytes_per_workflow;              /* after the WAL is folded in */
    int64_t commits;                           /* group commits in the measured phase */
    int errors;                                /* failed starts and runs not completed */
    char first_error[512]; /* what went wrong first, with the run's failure; "" if nothing */
} sl_bench_result;

/*
 * Run the benchmark (blocks for its duration). The temporary database lives under $TMPDIR
 * (else /tmp) and is removed at the end. Workflows that fail are counted in out->errors and
 * the call still returns SL_OK; an error return means the run could not be set up.
 */
SL_MUST_USE sl_code sl_bench_run(const sl_bench_opts *o, sl_bench_result *out, sl_err *err);

#endif
