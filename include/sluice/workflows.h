/*
 * workflows.h - the workflows and activities shipped with Sluice (workflows/), and the
 * function that registers them all.
 *
 *   noop_chain  {"steps":N,"activity_ms":M}: N sequential "noop" activities that each
 *               sleep M ms (heartbeating) and return {"step":k,"v":"r-k"}.
 *   flaky       {"fail_times":K,"error_type":"T","non_retryable":false}: one "flaky_step"
 *               activity that fails its first K attempts with error type T.
 * Both accept "activity_options" (see sl_activity_opts_from_json) applied to their
 * activities. noop_chain also takes "fail_step":k with "fail_while_exists":PATH (step k
 * fails, not retryably, while PATH exists); flaky takes "fail_runs":K (the workflow
 * itself fails in its first K runs).
 *
 * Workflow control examples (workflows/control.c):
 *   sleepy      {"sleep":"2s"}: a durable timer, then one noop step.
 *   collector   {"count":N,"signal":"add","timeout":"5s"}: waits for N signals and returns
 *               their payloads in order (fails with SignalTimeout if a wait times out).
 *   fanout      {"children":N,"child":{...noop_chain input},"parent_close_policy":"..."}:
 *               starts N noop_chain children and returns their results.
 *   looper      {"iterations":I,"per_run":S}: S noop steps per run, then continue-as-new
 *               until I steps are done.
 *   versioned   {}: a version marker and a side effect choose its steps.
 *   pair        {}: activities step_a then step_b (SLUICE_EXAMPLES_REORDER=1 swaps them,
 *               to show what `sluice workflow replay` reports after a code change).
 *
 * Genie (workflows/genie_query.c, docs/genie.md):
 *   genie_query {"questions":[...],"conversation":"new"|"continue","space_id":...}: one
 *               genie_ask activity per question, in order, on task queue "genie"; the
 *               result holds every answer (rows bounded by "max_rows", default 1000).
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
void sl_workflows_register_examples(sl_registry *r);
void sl_workflows_register_control(sl_registry *r);
void sl_workflows_register_dataset_sync(sl_registry *r);
void sl_workflows_register_genie(sl_registry *r);

/* Test hook of the example activities: with SLUICE_EXAMPLES_LOG set, append
 * "<type> <idempotency key> <attempt> [what]" to that file. */
void sl_examples_log(sl_act *act, const char *what);

#endif
