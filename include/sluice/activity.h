/*
 * activity.h - writing activities: ordinary C functions that do the real work (I/O,
 * Databricks calls) on a worker thread, retried under their retry policy.
 *
 *   static json_t *upload(sl_act *act, const json_t *in)
 *   {
 *       if (!sl_act_heartbeat(act, NULL))
 *           return sl_act_fail(act, "Canceled", "stopping");
 *       ...
 *       return json_pack("{s:s}", "table", name);   // success: the owned result
 *   }
 *
 * An activity returns its result (owned; NULL result JSON is written as json_null())
 * or NULL after one of the sl_act_fail* calls. A failure carries a type string, a
 * message, whether it is retryable, and optionally a retry-after that replaces the
 * backoff (e.g. from an HTTP 429). Activities must be idempotent: a retry, or a rerun
 * after a worker died, runs the same code again; sl_act_idempotency_key is stable across
 * attempts.
 *
 * Threads: an sl_act belongs to the worker thread running the activity.
 */
#ifndef SLUICE_ACTIVITY_H
#define SLUICE_ACTIVITY_H

#include "sluice/util.h"

typedef struct sl_act sl_act;

typedef json_t *(*sl_activity_fn)(sl_act *act, const json_t *input);

int sl_act_attempt(const sl_act *act);                /* from 1 */
const char *sl_act_type(const sl_act *act);
const char *sl_act_workflow_id(const sl_act *act);
const char *sl_act_run_id(const sl_act *act);
const char *sl_act_idempotency_key(const sl_act *act); /* "<run_id>/<seq>" */
int64_t sl_act_deadline_ms(const sl_act *act);         /* Unix ms; 0: none */
int64_t sl_act_heartbeat_timeout_ms(const sl_act *act); /* 0: none */
/* Details recorded by the last heartbeat of an earlier attempt (borrowed), or NULL. */
const json_t *sl_act_last_heartbeat(const sl_act *act);

/*
 * Record liveness (and optional details, borrowed). Cheap to call often: it only
 * reaches the database at the heartbeat interval. Returns false when the activity
 * should stop: cancellation was requested, its lease was lost, or the worker is
 * shutting down.
 */
bool sl_act_heartbeat(sl_act *act, const json_t *details);
/* Sleep ms, heartbeating meanwhile; false if interrupted as above. */
bool sl_act_sleep_ms(sl_act *act, int64_t ms);
bool sl_act_is_canceled(const sl_act *act);

/* Failures; all return NULL so `return sl_act_fail(...)` reads naturally. */
json_t *sl_act_fail(sl_act *act, const char *type, const char *fmt, ...) SL_PRINTF(3, 4);
json_t *sl_act_fail_nonretryable(sl_act *act, const char *type, const char *fmt, ...)
    SL_PRINTF(3, 4);
/* From an sl_err: takes its retryable flag, retry_after_ms and message. */
json_t *sl_act_fail_err(sl_act *act, const char *type, const sl_err *err);

/* Shared resources the worker offers activities (see engine.h sl_engine_set_env). */
void *sl_act_env(const sl_act *act);

#endif
