/*
 * workflows.h - the workflows and activities shipped with Sluice (workflows/), and the
 * function that registers them all.
 *
 *   noop_chain  {"steps":N,"activity_ms":M}: N sequential "noop" activities that each
 *               sleep M ms (heartbeating) and return {"step":k,"v":"r-k"}.
 *   flaky       {"fail_times":K,"error_type":"T","non_retryable":false}: one "flaky_step"
 *               activity that fails its first K attempts with error type T.
 * Both accept "activity_options" (see sl_activity_opts_from_json) applied to their
 * activities.
 */
#ifndef SLUICE_WORKFLOWS_H
#define SLUICE_WORKFLOWS_H

#include "sluice/engine.h"

/* Register every shipped workflow and activity. */
void sl_workflows_register(sl_registry *r);

/* Per-file registration, called by sl_workflows_register. */
void sl_workflows_register_examples(sl_registry *r);

#endif
