/* replay_check.c - run one replay case: replay DIR/history.json (a history exported with
 * `sluice workflow show ID -o json`) with the shipped workflow registry and compare the
 * verdict with DIR/expected.json:
 *
 *   {"deterministic": true}
 *   {"deterministic": false, "event_id": N, "recorded": "...", "requested": "..."}
 *
 * It also refuses a history that names a machine (local paths, loopback addresses) or holds
 * something shaped like a Databricks token, so cases stay portable and secret-free.
 * Usage: replay_check DIR. Exit 0 when the verdict is the expected one, 1 otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/engine.h"
#include "sluice/workflows.h"

static json_t *load(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        fprintf(stderr, "replay_check: %s: %s (line %d)\n", path, je.text, je.line);
    return j;
}

/* The first string in j that looks machine-specific or secret, or NULL. */
static const char *unportable(const json_t *j)
{
    static const char *const bad[] = {"/tmp/",     "/home/",     "/Users/", "/root/",
                                      "127.0.0.1", "localhost:", "dapi"};
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
            if (strstr(s, bad[i]))
                return s;
        return NULL;
    }
    const char *found = NULL;
    if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
            if (!found)
                found = unportable(v);
        }
    } else if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v)
        {
            if (!found)
                found = unportable(v);
        }
    }
    return found;
}

/* Compare one expected string field with what the replay reported. */
static bool same_field(const json_t *want, const char *key, const char *got)
{
    const char *w = json_string_value(json_object_get(want, key));
    if (!w) {
        fprintf(stderr, "replay_check: expected.json states no \"%s\"\n", key);
        return false;
    }
    if (strcmp(w, got) != 0) {
        fprintf(stderr, "replay_check: %s: expected \"%s\", got \"%s\"\n", key, w, got);
        return false;
    }
    return true;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: replay_check DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    json_t *history = load(dir, "history.json");
    json_t *want = load(dir, "expected.json");
    sl_registry *reg = sl_registry_new();
    sl_workflows_register(reg);
    bool ok = history && want && json_is_boolean(json_object_get(want, "deterministic"));
    if (history && want && !ok)
        fprintf(stderr, "replay_check: expected.json needs \"deterministic\": true|false\n");
    const char *leak = ok ? unportable(history) : NULL;
    if (leak) {
        fprintf(stderr, "replay_check: the history names a machine or a secret: \"%.120s\"\n",
                leak);
        ok = false;
    }
    sl_replay_result res;
    if (ok) {
        sl_err err;
        sl_err_clear(&err);
        if (sl_replay_history(reg, history, &res, &err) != SL_OK) {
            fprintf(stderr, "replay_check: %s: %s\n", dir, err.msg);
            ok = false;
        }
    }
    if (ok) {
        printf("%s\n", res.message);
        bool deterministic = json_is_true(json_object_get(want, "deterministic"));
        if (res.deterministic != deterministic) {
            fprintf(stderr, "replay_check: expected %s\n",
                    deterministic ? "a deterministic replay" : "a mismatch");
            ok = false;
        } else if (!deterministic) {
            json_int_t id = json_integer_value(json_object_get(want, "event_id"));
            if (id != res.event_id) {
                fprintf(stderr, "replay_check: event_id: expected %lld, got %lld\n", (long long)id,
                        (long long)res.event_id);
                ok = false;
            }
            ok = same_field(want, "recorded", res.recorded) && ok;
            ok = same_field(want, "requested", res.requested) && ok;
        }
    }
    sl_registry_free(reg);
    json_decref(history);
    json_decref(want);
    return ok ? 0 : 1;
}
