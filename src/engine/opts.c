/* opts.c - activity options: defaults and their JSON form. */
#include <string.h>

#include "sluice/workflow.h"

#define DEFAULT_START_TO_CLOSE_MS (10 * 60 * 1000)

void sl_activity_opts_init(sl_activity_opts *o)
{
    memset(o, 0, sizeof(*o));
    sl_retry_policy_init(&o->retry);
}

static sl_code dur_field(const json_t *j, const char *key, int64_t *out, sl_err *err)
{
    json_t *v = json_object_get(j, key);
    if (!v || json_is_null(v))
        return SL_OK;
    if (sl_duration_from_json(v, out, err) != SL_OK)
        return sl_err_prefix(err, "activity option %s", key);
    return SL_OK;
}

sl_code sl_activity_opts_from_json(const json_t *j, sl_activity_opts *o, sl_err *err)
{
    if (!json_is_object(j))
        return sl_err_set(err, SL_EINVAL, "activity options must be a JSON object");
    static const char *const known[] = {"start_to_close_timeout", "schedule_to_close_timeout",
                                        "schedule_to_start_timeout", "heartbeat_timeout",
                                        "retry_policy", "task_queue"};
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)j, key, v)
    {
        bool ok = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            ok = ok || strcmp(key, known[i]) == 0;
        if (!ok)
            return sl_err_set(err, SL_EINVAL, "activity options have unknown field '%s'", key);
    }
    sl_code rc;
    if ((rc = dur_field(j, "start_to_close_timeout", &o->start_to_close_ms, err)) != SL_OK ||
        (rc = dur_field(j, "schedule_to_close_timeout", &o->schedule_to_close_ms, err)) != SL_OK ||
        (rc = dur_field(j, "schedule_to_start_timeout", &o->schedule_to_start_ms, err)) != SL_OK ||
        (rc = dur_field(j, "heartbeat_timeout", &o->heartbeat_ms, err)) != SL_OK)
        return rc;
    json_t *rp = json_object_get(j, "retry_policy");
    if (rp && !json_is_null(rp)) {
        if ((rc = sl_retry_policy_from_json(rp, &o->retry, err)) != SL_OK)
            return rc;
        o->has_retry = true;
    }
    json_t *q = json_object_get(j, "task_queue");
    if (q && !json_is_null(q) && (!json_is_string(q) || json_string_length(q) == 0))
        return sl_err_set(err, SL_EINVAL, "activity option task_queue must be a non-empty string");
    if (q && json_is_string(q))
        o->task_queue = json_string_value(q); /* borrowed from j */
    return SL_OK;
}

json_t *sl_activity_opts_to_json(const sl_activity_opts *o)
{
    char buf[32];
    json_t *j = sl_json_check(json_object());
    int64_t s2c = o->start_to_close_ms ? o->start_to_close_ms
                  : o->schedule_to_close_ms ? o->schedule_to_close_ms
                                            : DEFAULT_START_TO_CLOSE_MS;
    json_object_set_new(j, "start_to_close_timeout",
                        json_string(sl_duration_format(s2c, buf, sizeof(buf))));
    if (o->schedule_to_close_ms)
        json_object_set_new(j, "schedule_to_close_timeout",
                            json_string(sl_duration_format(o->schedule_to_close_ms, buf,
                                                           sizeof(buf))));
    if (o->schedule_to_start_ms)
        json_object_set_new(j, "schedule_to_start_timeout",
                            json_string(sl_duration_format(o->schedule_to_start_ms, buf,
                                                           sizeof(buf))));
    if (o->heartbeat_ms)
        json_object_set_new(j, "heartbeat_timeout",
                            json_string(sl_duration_format(o->heartbeat_ms, buf, sizeof(buf))));
    if (o->task_queue)
        json_object_set_new(j, "task_queue", json_string(o->task_queue));
    sl_retry_policy def;
    sl_retry_policy_init(&def);
    json_object_set_new(j, "retry_policy", sl_retry_policy_to_json(o->has_retry ? &o->retry : &def));
    return j;
}
