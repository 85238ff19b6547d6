/* fuzz_history.c - the exported-history import of `sluice workflow replay --history FILE`:
 * the file read as the CLI reads it (sl_json_arg's jansson flags), then replayed against
 * the shipped workflows (sl_replay_history, src/engine/replay_check.c). Property: a history
 * either replays to a verdict with a message, or is refused with SL_EINVAL and a message. */
#include "fuzz.h"
#include "sluice/engine.h"
#include "sluice/workflows.h"

static sl_registry *reg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sl_log_set_level(SL_LOG_OFF);
    reg = sl_registry_new();
    sl_workflows_register(reg);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *h = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!h)
        return 0;
    sl_replay_result res;
    sl_err err;
    sl_err_clear(&err);
    sl_code rc = sl_replay_history(reg, h, &res, &err);
    json_decref(h);
    if (rc == SL_OK)
        FUZZ_CHECK(res.message[0] && (res.deterministic || res.event_id > 0),
                   "deterministic=%d event_id=%lld", res.deterministic, (long long)res.event_id);
    else
        FUZZ_CHECK(rc == SL_EINVAL && err.msg[0], "rc=%d", rc);
    return 0;
}
