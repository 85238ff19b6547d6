/* fuzz_convfile.c - the conversations file reader of `sluice loadtest` (conversations.yaml,
 * src/loadtest/convfile.c). Property: a file that loads saves, and the saved file loads
 * back to the same conversations, messages, contents and timestamps. */
#include "fuzz.h"
#include "sluice/loadtest.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sl_log_set_level(SL_LOG_OFF);
    return 0;
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *path = sl_xstrdup(fuzz_write_file("conversations.yaml", data, size));
    sl_lt_convset *cs = NULL, *back = NULL;
    sl_err err;
    sl_err_clear(&err);
    sl_code rc = sl_lt_convset_load(path, &cs, &err);
    if (rc != SL_OK) {
        FUZZ_CHECK(rc == SL_EINVAL && !cs && err.msg[0], "rc=%d", rc);
        goto out;
    }
    char *saved = sl_xasprintf("%s.saved", path);
    rc = sl_lt_convset_save(cs, saved, &err);
    FUZZ_CHECK(rc == SL_OK, "save: %s", err.msg);
    rc = sl_lt_convset_load(saved, &back, &err);
    FUZZ_CHECK(rc == SL_OK, "the saved file does not load: %s", err.msg);
    free(saved);
    FUZZ_CHECK(back->n_convs == cs->n_convs, "%zu conversations, %zu after a round trip",
               cs->n_convs, back->n_convs);
    FUZZ_CHECK(same_str(cs->space_id, back->space_id), "space_id");
    FUZZ_CHECK(cs->has_from == back->has_from && cs->has_to == back->has_to &&
                   (!cs->has_from || cs->from_ms == back->from_ms) &&
                   (!cs->has_to || cs->to_ms == back->to_ms),
               "filter");
    for (size_t i = 0; i < cs->n_convs; i++) {
        const sl_lt_conversation *a = &cs->convs[i], *b = &back->convs[i];
        FUZZ_CHECK(a->n_msgs == b->n_msgs && a->created_ms == b->created_ms, "conversation %zu", i);
        for (size_t k = 0; k < a->n_msgs; k++)
            FUZZ_CHECK(strcmp(a->msgs[k].content, b->msgs[k].content) == 0 &&
                           a->msgs[k].timestamp_ms == b->msgs[k].timestamp_ms &&
                           same_str(a->msgs[k].message_id, b->msgs[k].message_id),
                       "conversation %zu message %zu", i, k);
    }
out:
    sl_lt_convset_free(cs);
    sl_lt_convset_free(back);
    free(path);
    return 0;
}
