/* retry.c - retry policies: defaults, JSON form, delay schedule and the decision. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sluice/retry.h"

void sl_retry_policy_init(sl_retry_policy *p)
{
    memset(p, 0, sizeof(*p));
    p->initial_interval_ms = 1000;
    p->backoff_coefficient = 2.0;
    p->maximum_interval_ms = 100 * 1000;
    p->maximum_attempts = 0;
    p->jitter = 0;
}

sl_code sl_retry_policy_from_json(const json_t *j, sl_retry_policy *p, sl_err *err)
{
    if (!json_is_object(j))
        return sl_err_set(err, SL_EINVAL, "retry policy must be a JSON object");
    bool max_given = false;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)j, key, v)
    {
        sl_code rc;
        if (strcmp(key, "initial_interval") == 0) {
            if ((rc = sl_duration_from_json(v, &p->initial_interval_ms, err)) != SL_OK)
                return sl_err_prefix(err, "retry policy initial_interval");
            if (p->initial_interval_ms <= 0)
                return sl_err_set(err, SL_EINVAL, "retry policy initial_interval must be > 0");
        } else if (strcmp(key, "backoff_coefficient") == 0) {
            if (!json_is_number(v) || json_number_value(v) < 1.0)
                return sl_err_set(err, SL_EINVAL,
                                  "retry policy backoff_coefficient must be a number >= 1");
            p->backoff_coefficient = json_number_value(v);
        } else if (strcmp(key, "maximum_interval") == 0) {
            if ((rc = sl_duration_from_json(v, &p->maximum_interval_ms, err)) != SL_OK)
                return sl_err_prefix(err, "retry policy maximum_interval");
            max_given = true;
        } else if (strcmp(key, "maximum_attempts") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                json_integer_value(v) > 1000000)
                return sl_err_set(err, SL_EINVAL,
                                  "retry policy maximum_attempts must be an integer >= 0");
            p->maximum_attempts = (int)json_integer_value(v);
        } else if (strcmp(key, "jitter") == 0) {
            if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1)
                return sl_err_set(err, SL_EINVAL, "retry policy jitter must be between 0 and 1");
            p->jitter = json_number_value(v);
        } else if (strcmp(key, "non_retryable_error_types") == 0) {
            if (!json_is_array(v))
                return sl_err_set(err, SL_EINVAL,
                                  "retry policy non_retryable_error_types must be an array");
            if (json_array_size(v) > SL_RETRY_MAX_NON_RETRYABLE)
                return sl_err_set(err, SL_EINVAL,
                                  "retry policy lists more than %d non-retryable error types",
                                  SL_RETRY_MAX_NON_RETRYABLE);
            p->n_non_retryable = 0;
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e)
            {
                if (!json_is_string(e) || json_string_length(e) == 0 ||
                    json_string_length(e) >= sizeof(p->non_retryable[0]))
                    return sl_err_set(err, SL_EINVAL,
                                      "retry policy non_retryable_error_types must hold "
                                      "non-empty strings shorter than %zu bytes",
                                      sizeof(p->non_retryable[0]));
                snprintf(p->non_retryable[p->n_non_retryable++], sizeof(p->non_retryable[0]),
                         "%s", json_string_value(e));
            }
        } else {
            return sl_err_set(err, SL_EINVAL, "retry policy has unknown field '%s'", key);
        }
    }
    if (!max_given && p->maximum_interval_ms < p->initial_interval_ms)
        p->maximum_interval_ms = 100 * p->initial_interval_ms;
    if (p->maximum_interval_ms < p->initial_interval_ms)
        return sl_err_set(err, SL_EINVAL,
                          "retry policy maximum_interval is shorter than initial_interval");
    return SL_OK;
}

json_t *sl_retry_policy_to_json(const sl_retry_policy *p)
{
    char a[32], b[32];
    json_t *types = sl_json_check(json_array());
    for (int i = 0; i < p->n_non_retryable; i++)
        json_array_append_new(types, json_string(p->non_retryable[i]));
    return sl_json_check(json_pack("{s:s,s:f,s:s,s:i,s:o,s:f}", "initial_interval",
                                   sl_duration_format(p->initial_interval_ms, a, sizeof(a)),
                                   "backoff_coefficient", p->backoff_coefficient,
                                   "maximum_interval",
                                   sl_duration_format(p->maximum_interval_ms, b, sizeof(b)),
                                   "maximum_attempts", p->maximum_attempts,
                                   "non_retryable_error_types", types, "jitter", p->jitter));
}

int64_t sl_retry_delay_ms(const sl_retry_policy *p, int attempt, double rand01)
{
    double d = (double)p->initial_interval_ms * pow(p->backoff_coefficient, attempt - 1);
    if (d > (double)p->maximum_interval_ms || !isfinite(d))
        d = (double)p->maximum_interval_ms;
    d += d * p->jitter * rand01;
    return (int64_t)d;
}

const char *sl_retry_state_name(sl_retry_state s)
{
    switch (s) {
    case SL_RETRY_IN_PROGRESS:
        return "in_progress";
    case SL_RETRY_NON_RETRYABLE:
        return "non_retryable";
    case SL_RETRY_MAX_ATTEMPTS:
        return "maximum_attempts_reached";
    case SL_RETRY_TIMEOUT:
        return "timeout";
    case SL_RETRY_CANCEL_REQUESTED:
        return "cancel_requested";
    }
    return "unknown";
}

sl_retry_decision sl_retry_decide(const sl_retry_policy *p, int attempt, const char *error_type,
                                  bool non_retryable, int64_t retry_after_ms, int64_t now_ms,
                                  int64_t deadline_ms, double rand01)
{
    sl_retry_decision d = {.state = SL_RETRY_IN_PROGRESS, .next_attempt_ms = 0};
    if (non_retryable) {
        d.state = SL_RETRY_NON_RETRYABLE;
        return d;
    }
    if (error_type)
        for (int i = 0; i < p->n_non_retryable; i++)
            if (strcmp(p->non_retryable[i], error_type) == 0) {
                d.state = SL_RETRY_NON_RETRYABLE;
                return d;
            }
    if (p->maximum_attempts > 0 && attempt >= p->maximum_attempts) {
        d.state = SL_RETRY_MAX_ATTEMPTS;
        return d;
    }
    int64_t delay = retry_after_ms >= 0 ? retry_after_ms : sl_retry_delay_ms(p, attempt, rand01);
    d.next_attempt_ms = now_ms + delay;
    if (deadline_ms > 0 && d.next_attempt_ms >= deadline_ms)
        d.state = SL_RETRY_TIMEOUT;
    return d;
}
