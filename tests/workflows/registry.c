/*
 * registry.c - the fixtures' names, their execution log, and the observed shipped noop.
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "fixtures.h"

/* Set once by sl_fixtures_register, before any worker thread starts; read-only after. */
static const char *exec_log;
static sl_activity_fn shipped_noop;

void sl_fixtures_log(sl_act *act, const char *what)
{
    if (!exec_log)
        return;
    char line[256];
    int n = snprintf(line, sizeof(line), "%s %s %d%s%s\n", sl_act_type(act),
                     sl_act_idempotency_key(act), sl_act_attempt(act), what ? " " : "",
                     what ? what : "");
    if (n < 0 || (size_t)n >= sizeof(line))
        return;
    int fd = open(exec_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    if (write(fd, line, (size_t)n) != n)
        sl_warn("fixtures: cannot log execution to %s", exec_log);
    close(fd);
}

/* The shipped noop, logged; it fails only when its sleep is cut short, which the log
 * says (an activity that saw its cancel request logs "canceled"). After the sleep, an
 * input "fail_while_exists":PATH (gated_chain) fails it, not retryably, while PATH exists. */
static json_t *noop_observed(sl_act *act, const json_t *in)
{
    sl_fixtures_log(act, NULL);
    json_t *res = shipped_noop(act, in);
    if (!res) {
        sl_fixtures_log(act, sl_act_is_canceled(act) ? "canceled" : "interrupted");
        return NULL;
    }
    const char *gate = json_string_value(json_object_get(in, "fail_while_exists"));
    if (gate && access(gate, F_OK) == 0) {
        json_decref(res);
        return sl_act_fail_nonretryable(act, "StepFailed", "step %lld failed: %s exists",
                                        (long long)json_integer_value(json_object_get(in, "step")),
                                        gate);
    }
    return res;
}

void sl_fixtures_register(sl_registry *r, void *opts)
{
    const sl_fixtures_opts *o = opts;
    exec_log = o ? o->exec_log : NULL;
    shipped_noop = sl_registry_activity(r, "noop");
    SL_ASSERT(shipped_noop);
    sl_registry_add_activity(r, "noop", noop_observed);
    sl_fixtures_register_retries(r);
    sl_fixtures_register_control(r, o && o->reorder_pair);
}
