/*
 * workflows.h - the workflows and activities shipped with Sluice (workflows/), and the
 * function that registers them all.
 *
 *   noop_chain   {"steps":N,"activity_ms":M,"activity_options":{...}}: N sequential "noop"
 *                activities that each sleep M ms (heartbeating) and return
 *                {"step":k,"v":"r-k"}; activity_options (see sl_activity_opts_from_json)
 *                apply to every step. What `sluice bench` runs (workflows/bench.c).
 *   dataset_sync a dataset's bronze and silver sync (workflows/dataset_sync.c,
 *                sluice/datasets.h).
 *   genie_query  {"questions":[...],"conversation":"new"|"continue","space_id":...}: one
 *                genie_ask activity per question, in order, on task queue "genie"; the
 *                result holds every answer (rows bounded by "max_rows", default 1000)
 *                (workflows/genie_query.c, docs/genie.md); sl_genie_batch_* queue one
 *                per line of a file, admitted against MAX_QUEUE_SIZE (genie_batch.c).
 *
 * Workflows that exist only for tests (timers, signals, children, retries, replay) are
 * not here: they live in tests/workflows/ and run in the sluice-testfixture binary.
 */
#ifndef SLUICE_WORKFLOWS_H
#define SLUICE_WORKFLOWS_H

#include "sluice/dbx.h"
#include "sluice/engine.h"

/*
 * The environment shipped activities run in (sl_act_env returns it): where the engine
 * database and the local data live, and a Databricks client created on first use from
 * the usual configuration (DATABRICKS_* environment, ~/.databrickscfg, .env), or one set
 * explicitly (sluice dev points it at the local emulator). Thread-safe.
 */
typedef struct sl_wf_env sl_wf_env;

typedef struct sl_wf_env_opts {
    const char *db_path;  /* engine database */
    const char *data_dir; /* default $SLUICE_DATA_DIR, else ./sluice-data */
    const sl_dbx_config *dbx; /* explicit Databricks options, or NULL */
} sl_wf_env_opts;

SL_MUST_USE sl_code sl_wf_env_new(const sl_wf_env_opts *o, sl_wf_env **out, sl_err *err);
void sl_wf_env_free(sl_wf_env *env);
const char *sl_wf_env_db_path(const sl_wf_env *env);
const char *sl_wf_env_data_dir(const sl_wf_env *env);
/* The engine the worker runs (for activities that record state in the engine database). */
void sl_wf_env_set_engine(sl_wf_env *env, sl_engine *e);
sl_engine *sl_wf_env_engine(const sl_wf_env *env);
/* Use this client (taken) instead of resolving the configuration. */
void sl_wf_env_set_dbx(sl_wf_env *env, sl_dbx_client *take);
/* The shared Databricks client; SL_EINVAL (not retryable) with the configuration problem
 * when Databricks is not configured. The client stays owned by env. */
SL_MUST_USE sl_code sl_wf_env_dbx(sl_wf_env *env, sl_dbx_client **out, sl_err *err);
/* The env of an activity run by a worker that set one, else NULL. */
sl_wf_env *sl_act_wf_env(sl_act *act);

/* ---- Genie batches (workflows/genie_batch.c): what `sluice genie batch` runs ---------- */

#define SL_GENIE_BATCH_QUEUE            "genie"
#define SL_GENIE_BATCH_MAX_LINES        100000
#define SL_GENIE_MAX_QUEUE_SIZE_DEFAULT 1000

typedef struct sl_genie_batch_opts {
    const char *space_id;     /* NULL: GENIE_SPACE_ID (environment, ./.env, profile), else ""
                               * (each workflow picks the first visible space) */
    const char *conversation; /* "new" (default) or "continue" */
    const char *timeout;      /* per-question duration text, or NULL (the workflow's default) */
    int64_t max_queue;        /* 0: MAX_QUEUE_SIZE from the environment, else 1000 */
} sl_genie_batch_opts;

void sl_genie_batch_opts_init(sl_genie_batch_opts *o);

typedef struct sl_genie_batch_item {
    char workflow_id[40]; /* genie-<16 hex digits> */
    size_t line_no;       /* 1-based line of the file */
    json_t *input;        /* the genie_query input; owned by the batch */
    const char *state;    /* after a start: "started", "running" or "completed" */
    char run_id[37];      /* after a start: the run started or found */
} sl_genie_batch_item;

typedef struct sl_genie_batch {
    sl_genie_batch_item *items;
    size_t n_items;
    size_t n_started; /* after a start: how many runs it started */
    int64_t max_queue;
} sl_genie_batch;

/*
 * MAX_QUEUE_SIZE from the environment: the most genie_query workflows running at once that a
 * batch may bring about (default 1000). SL_EINVAL names the variable for a value that is not
 * an integer in 1..100000000.
 */
SL_MUST_USE sl_code sl_genie_max_queue_size(int64_t *out, sl_err *err);

/*
 * A batch from text (the file's contents; `name` is how errors call it): one genie_query
 * input per non-empty line - a question, or a JSON array of questions asked in order - with
 * its stable id. No I/O except reading the Databricks configuration for the space.
 * On SL_OK *out is the caller's (sl_genie_batch_free). SL_EINVAL: no question, more than
 * SL_GENIE_BATCH_MAX_LINES, a bad MAX_QUEUE_SIZE or option (the message says which).
 */
SL_MUST_USE sl_code sl_genie_batch_new(const char *text, size_t len, const char *name,
                                       const sl_genie_batch_opts *o, sl_genie_batch **out,
                                       sl_err *err);
void sl_genie_batch_free(sl_genie_batch *b);

/*
 * Start the batch's workflows on task queue "genie": in one engine transaction, skip lines
 * whose workflow is running or completed, refuse the whole batch if the running genie_query
 * workflows plus the new ones would exceed b->max_queue, else start them all. So concurrent
 * batches are admitted one at a time. Fills each item's state and run_id and b->n_started.
 * SL_ELIMIT: refused by the limit (the message counts, and says nothing was started);
 * SL_EBUSY: the database stayed locked (retryable); others from the engine. On any failure
 * nothing was started. Blocks for the transaction.
 */
SL_MUST_USE sl_code sl_genie_batch_start(sl_engine *e, sl_genie_batch *b, sl_err *err);

/* [{workflow_id, run_id, state, line, questions}] for the items of a started batch. Owned. */
SL_MUST_USE json_t *sl_genie_batch_to_json(const sl_genie_batch *b);

/* Register every shipped workflow and activity. */
void sl_workflows_register(sl_registry *r);

/* Per-file registration, called by sl_workflows_register. */
void sl_workflows_register_bench(sl_registry *r);
void sl_workflows_register_dataset_sync(sl_registry *r);
void sl_workflows_register_genie(sl_registry *r);

#endif
