/*
 * fixtures.h - workflows and activities that exist only for tests, and the sluice-testfixture
 * binary that runs them: the sluice command line (sl_cli_main) with these registered after
 * the shipped workflows (SQLite's testfixture model). The product `sluice` never has them.
 *
 *   flaky        {"fail_times":K,"error_type":"T","non_retryable":false,"fail_runs":R,
 *                "activity_options":{...}}: one "flaky_step" activity that fails its first
 *                K attempts with error type T; the workflow itself fails in its first R runs
 *                (workflow retry policies).                                   (retries.c)
 *   gated_chain  {"steps":N,"fail_step":k,"fail_while_exists":PATH}: N "noop" steps; step k
 *                fails, not retryably, while PATH exists, so a test can fix the cause
 *                between a failure and `sluice workflow retry`.               (retries.c)
 *   sleepy       {"sleep":"2s"}: a durable timer, then one noop step.          (control.c)
 *   collector    {"count":N,"signal":"add","timeout":"5s"}: waits for N signals and returns
 *                their payloads in order (fails with SignalTimeout if a wait times out).
 *   fanout       {"children":N,"child":{...noop_chain input},"parent_close_policy":"..."}:
 *                starts N noop_chain children and returns their results.
 *   looper       {"iterations":I,"per_run":S}: S noop steps per run, then continue-as-new
 *                until I steps are done.
 *   versioned    {}: a version marker and a side effect choose its steps.
 *   pair         {}: activities step_a then step_b (with reorder_pair: step_b first, the
 *                "code change" `sluice workflow replay` must report).
 *
 * In this binary the shipped "noop" activity is observed: each execution is logged (below),
 * and an input with "fail_while_exists" (gated_chain's step) fails while that file exists.
 *
 * Switches come from the environment, read once by main before any command runs (never by
 * workflow or activity code): SLUICE_FIXTURE_LOG=FILE (the execution log),
 * SLUICE_FIXTURE_REORDER=1 (reorder_pair).
 */
#ifndef SLUICE_FIXTURES_H
#define SLUICE_FIXTURES_H

#include "sluice/engine.h"

typedef struct sl_fixtures_opts {
    /* With a path, every execution of a fixture activity (and of the shipped noop) appends
     * "<type> <idempotency key> <attempt> [what]" to it: one write with O_APPEND, so lines
     * of concurrent executions and processes never mix. */
    const char *exec_log;
    bool reorder_pair; /* pair awaits step_b before step_a */
} sl_fixtures_opts;

/* Register the fixtures into r (after the shipped workflows: the noop wrapper needs the
 * shipped noop). opts is a const sl_fixtures_opts * (the sl_cli_register_fn shape); it and
 * its strings must outlive the process's use of the registry. */
void sl_fixtures_register(sl_registry *r, void *opts);

/* Per-file registration, called by sl_fixtures_register. */
void sl_fixtures_register_retries(sl_registry *r);
void sl_fixtures_register_control(sl_registry *r, bool reorder_pair);

/* Append an execution line for act to the execution log, if there is one (what: NULL or a
 * word such as "canceled"). Thread-safe. */
void sl_fixtures_log(sl_act *act, const char *what);

#endif
