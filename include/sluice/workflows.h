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
 *                (workflows/genie_query.c, docs/genie.md).
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

/* Register every shipped workflow and activity. */
void sl_workflows_register(sl_registry *r);

/* Per-file registration, called by sl_workflows_register. */
void sl_workflows_register_bench(sl_registry *r);
void sl_workflows_register_dataset_sync(sl_registry *r);
void sl_workflows_register_genie(sl_registry *r);

#endif
