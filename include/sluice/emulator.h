/*
 * emulator.h - a local Databricks workspace: the REST endpoints Sluice uses (OAuth, SQL
 * warehouses, SQL statements, Files, Unity Catalog, Genie, Model Serving embeddings,
 * MLflow tracking), with the real JSON shapes and error bodies, a SQLite table store so
 * that SQL results are real, and injectable faults (429 + Retry-After, 5xx, latency,
 * dropped connections) so every client retry path can be tested without credentials.
 *
 * It alone owns its data directory: a state database (catalogs, tables, MLflow) and the
 * volume files. It is not the engine database and shares nothing with it.
 *
 * Statement life cycle (statements.c), driven by a background executor:
 *
 *   PENDING --(latency/2)--> RUNNING --sql ok--> SUCCEEDED
 *      |                        +-----sql err--> FAILED
 *      +------cancel / on_wait_timeout=CANCEL--> CANCELED
 *
 * Genie messages go SUBMITTED -> EXECUTING_QUERY -> COMPLETED (or FAILED) over
 * genie_latency_ms; their SQL runs on the same table store.
 *
 * Threads: sl_emulator_start/stop are called from one thread; the server runs its own
 * threads (an epoll thread pool, statement executors, a timer). sl_emulator_url is
 * safe from any thread while the emulator runs.
 */
#ifndef SLUICE_EMULATOR_H
#define SLUICE_EMULATOR_H

#include <stdint.h>

#include "sluice/util.h"

typedef struct sl_emulator sl_emulator;

typedef struct sl_emulator_opts {
    const char *listen_host;       /* "127.0.0.1" */
    int port;                      /* 0 = ephemeral */
    const char *data_dir;          /* NULL = a fresh temp dir, removed at stop */
    const char *token;             /* PAT accepted as Bearer; default "dapi-emulator" */
    const char *client_id;         /* OAuth M2M client id, NULL = OAuth disabled */
    const char *client_secret;     /* OAuth M2M client secret */
    int64_t token_ttl_ms;          /* OAuth access token lifetime, default 1h */
    const char *faults;            /* fault spec (docs/emulator.md), NULL = none */
    uint64_t seed;                 /* fault RNG seed; 0 = random */
    int64_t statement_latency_ms;  /* PENDING->terminal time, default 100 */
    int64_t genie_latency_ms;      /* SUBMITTED->COMPLETED time, default 1000 */
    const char *genie_rate;        /* "5/min" (default), "60/s", "0" = unlimited */
    const char *genie_config_path; /* JSON spaces file, NULL = the demo space */
    int chunk_rows;                /* rows per result chunk, default 1000 */
    int threads;                   /* HTTP thread pool size, default 4 */
} sl_emulator_opts;

/* Fill *opts with the defaults above. */
void sl_emulator_opts_init(sl_emulator_opts *opts);

/*
 * Open the data directory, seed the default catalogs, load the Genie config and start
 * serving. On SL_OK *out is running; stop it with sl_emulator_stop().
 * SL_EINVAL: a bad option (fault spec, rate, Genie config); SL_EIO: the data dir, the
 * state database or the listening socket could not be set up. Does not block beyond
 * start-up; opts strings are copied.
 */
SL_MUST_USE sl_code sl_emulator_start(const sl_emulator_opts *opts, sl_emulator **out,
                                      sl_err *err);

/* "http://127.0.0.1:PORT" (borrowed, valid until stop). */
const char *sl_emulator_url(const sl_emulator *emu);

/* The bound TCP port. */
int sl_emulator_port(const sl_emulator *emu);

/* Stop serving, finish or cancel running statements, free everything. NULL is a no-op.
 * Blocks until the server threads have exited. */
void sl_emulator_stop(sl_emulator *emu);

#endif
