/*
 * retry.h - retry policies with Temporal's semantics, shared by activities and
 * workflow-level retries, and the pure decision function the engine applies to every
 * failed attempt.
 *
 * Delay before attempt n+1 = min(initial * coefficient^(n-1), maximum) plus a uniform
 * jitter in [0, jitter * delay]; a retry-after carried by the error replaces the computed
 * delay. maximum_attempts 0 means unlimited. An error whose type is listed in
 * non_retryable_error_types, or that says it is not retryable, ends the retries.
 *
 * JSON form (durations as "250ms", "2s", "1m30s" or a number of seconds):
 *   {"initial_interval":"1s","backoff_coefficient":2.0,"maximum_interval":"100s",
 *    "maximum_attempts":0,"non_retryable_error_types":["X"],"jitter":0.0}
 *
 * Threads: plain data and pure functions.
 */
#ifndef SLUICE_RETRY_H
#define SLUICE_RETRY_H

#include "sluice/util.h"

#define SL_RETRY_MAX_NON_RETRYABLE 16

typedef struct sl_retry_policy {
    int64_t initial_interval_ms;  /* default 1000 */
    double backoff_coefficient;   /* default 2.0, >= 1 */
    int64_t maximum_interval_ms;  /* default 100 x initial */
    int maximum_attempts;         /* default 0 = unlimited */
    double jitter;                /* fraction of the delay added at random, default 0 */
    int n_non_retryable;
    char non_retryable[SL_RETRY_MAX_NON_RETRYABLE][64];
} sl_retry_policy;

/* Temporal's defaults. */
void sl_retry_policy_init(sl_retry_policy *p);
/* Fill p from a JSON object (fields absent keep p's current values). SL_EINVAL names the field. */
SL_MUST_USE sl_code sl_retry_policy_from_json(const json_t *j, sl_retry_policy *p, sl_err *err);
/* JSON object (owned) with every field. */
SL_MUST_USE json_t *sl_retry_policy_to_json(const sl_retry_policy *p);

/* Delay after failed attempt `attempt` (1-based); rand01 in [0,1) drives the jitter. */
int64_t sl_retry_delay_ms(const sl_retry_policy *p, int attempt, double rand01);

typedef enum sl_retry_state {
    SL_RETRY_IN_PROGRESS,          /* another attempt is scheduled */
    SL_RETRY_NON_RETRYABLE,        /* the error is not retryable */
    SL_RETRY_MAX_ATTEMPTS,         /* maximum_attempts reached */
    SL_RETRY_TIMEOUT,              /* the next attempt would start after the deadline */
    SL_RETRY_CANCEL_REQUESTED,     /* the workflow asked to cancel */
} sl_retry_state;

const char *sl_retry_state_name(sl_retry_state s); /* "in_progress", "non_retryable", ... */

typedef struct sl_retry_decision {
    sl_retry_state state;
    int64_t next_attempt_ms; /* when state is SL_RETRY_IN_PROGRESS */
} sl_retry_decision;

/*
 * Decide what follows failed attempt `attempt` at time now_ms. error_type may be NULL.
 * retry_after_ms < 0: none given. deadline_ms 0: none (schedule_to_close otherwise).
 */
sl_retry_decision sl_retry_decide(const sl_retry_policy *p, int attempt, const char *error_type,
                                  bool non_retryable, int64_t retry_after_ms, int64_t now_ms,
                                  int64_t deadline_ms, double rand01);

#endif
