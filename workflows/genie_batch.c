/*
 * genie_batch.c - `sluice genie batch` in the library: a file of questions becomes one
 * genie_query workflow per non-empty line, admitted against MAX_QUEUE_SIZE and started in
 * one engine transaction (sl_engine_transact), so two batches started at the same moment
 * cannot both pass the limit: the second sees the first one's runs, or waits for its commit.
 *
 * Ids are genie-<FNV-1a of space, line number and line>: stable across runs and machines,
 * so a re-run finds the same workflows and starts only lines whose workflow is not running
 * or completed (a failed, canceled or terminated one is started again).
 */
#include <stdlib.h>
#include <string.h>

#include "sluice/workflows.h"

void sl_genie_batch_opts_init(sl_genie_batch_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->conversation = "new";
}

sl_code sl_genie_max_queue_size(int64_t *out, sl_err *err)
{
    *out = SL_GENIE_MAX_QUEUE_SIZE_DEFAULT;
    const char *mq = getenv("MAX_QUEUE_SIZE");
    if (!mq || !*mq)
        return SL_OK;
    char *end;
    long long n = strtoll(mq, &end, 10);
    if (*end || n < 1 || n > 100000000)
        return sl_err_set(err, SL_EINVAL, "bad MAX_QUEUE_SIZE '%.40s': expected an integer >= 1",
                          mq);
    *out = n;
    return SL_OK;
}

/* The questions of one line (owned), or NULL with *why set: a line is UTF-8 text, and one
 * that parses as JSON but is not a non-empty array of non-empty strings is a mistake (a line
 * that merely starts with '[' and is not JSON is a question). */
static json_t *line_questions(const char *line, const char **why)
{
    json_t *text = json_string(line);
    if (!text) {
        *why = "is not UTF-8 text";
        return NULL;
    }
    if (line[0] == '[') {
        json_t *j = json_loads(line, JSON_DECODE_ANY, NULL);
        if (j) {
            bool ok = json_is_array(j) && json_array_size(j) > 0;
            size_t i;
            json_t *q;
            json_array_foreach(j, i, q)
            {
                ok = ok && json_is_string(q) && json_string_length(q) > 0;
            }
            json_decref(ok ? text : j);
            if (ok)
                return j;
            json_decref(text);
            *why = "is JSON but not an array of non-empty strings";
            return NULL;
        }
    }
    return sl_json_check(json_pack("[o]", text));
}

/* --space, else GENIE_SPACE_ID (environment, ./.env or the profile), else "" (each activity
 * picks the first visible space). Owned. */
static char *batch_space(const char *flag)
{
    if (flag)
        return sl_xstrdup(flag);
    sl_dbx_settings s;
    sl_err err;
    sl_err_clear(&err);
    char *id = NULL;
    if (sl_dbx_config_resolve_default(NULL, &s, &err) == SL_OK) {
        if (s.genie_space_id && *s.genie_space_id)
            id = sl_xstrdup(s.genie_space_id);
        sl_dbx_settings_cleanup(&s);
    } else {
        const char *e = getenv("GENIE_SPACE_ID");
        if (e && *e)
            id = sl_xstrdup(e);
    }
    return id ? id : sl_xstrdup("");
}

static sl_genie_batch_item *push_item(sl_genie_batch *b, size_t *cap)
{
    if (b->n_items == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        b->items = sl_xrealloc(b->items, *cap * sizeof(*b->items));
    }
    sl_genie_batch_item *it = &b->items[b->n_items++];
    memset(it, 0, sizeof(*it));
    return it;
}

sl_code sl_genie_batch_new(const char *text, size_t len, const char *name,
                           const sl_genie_batch_opts *o, sl_genie_batch **out, sl_err *err)
{
    *out = NULL;
    if (o->conversation && strcmp(o->conversation, "new") != 0 &&
        strcmp(o->conversation, "continue") != 0)
        return sl_err_set(err, SL_EINVAL, "--conversation must be new or continue, not '%s'",
                          o->conversation);
    sl_genie_batch *b = sl_xcalloc(1, sizeof(*b));
    sl_code rc = SL_OK;
    if (o->max_queue > 0)
        b->max_queue = o->max_queue;
    else if ((rc = sl_genie_max_queue_size(&b->max_queue, err)) != SL_OK)
        goto out;
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        size_t nul_line = 1;
        for (const char *q = text; q < nul; q++)
            nul_line += *q == '\n';
        rc = sl_err_set(err, SL_EINVAL, "%s line %zu has a NUL byte (not a text file?)", name,
                        nul_line);
        goto out;
    }
    char *copy = sl_xmalloc(len + 1);
    memcpy(copy, text, len);
    copy[len] = '\0';
    char *space = batch_space(o->space_id);
    const char *mode = o->conversation ? o->conversation : "new";
    size_t cap = 0, line_no = 0;
    /* strtok_r would skip empty lines and so lose the line numbering: split by hand. */
    for (char *line = copy; line && (size_t)(line - copy) <= len;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        line_no++;
        char *s = line, *e = line + strlen(line);
        while (*s == ' ' || *s == '\t')
            s++;
        while (e > s && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
            *--e = '\0';
        line = nl ? nl + 1 : NULL;
        if (!*s)
            continue;
        if (b->n_items == SL_GENIE_BATCH_MAX_LINES) {
            rc = sl_err_set(err, SL_EINVAL, "%s has more than %d questions", name,
                            SL_GENIE_BATCH_MAX_LINES);
            break;
        }
        sl_genie_batch_item *it = push_item(b, &cap);
        it->line_no = line_no;
        char num[32];
        snprintf(num, sizeof(num), "%zu", line_no);
        uint64_t h = SL_FNV1A_INIT;
        h = sl_fnv1a(h, space, strlen(space) + 1);
        h = sl_fnv1a(h, num, strlen(num) + 1);
        h = sl_fnv1a(h, s, strlen(s));
        snprintf(it->workflow_id, sizeof(it->workflow_id), "genie-%016llx",
                 (unsigned long long)h);
        const char *why = NULL;
        json_t *qs = line_questions(s, &why);
        if (!qs) {
            rc = sl_err_set(err, SL_EINVAL, "%s line %zu %s", name, line_no, why);
            break;
        }
        it->input =
            sl_json_check(json_pack("{s:o,s:s}", "questions", qs, "conversation", mode));
        if (*space)
            json_object_set_new(it->input, "space_id", json_string(space));
        if (o->timeout)
            json_object_set_new(it->input, "timeout", json_string(o->timeout));
    }
    if (rc == SL_OK && b->n_items == 0)
        rc = sl_err_set(err, SL_EINVAL, "%s has no questions (no non-empty line)", name);
    free(space);
    free(copy);
out:
    if (rc != SL_OK) {
        sl_genie_batch_free(b);
        return rc;
    }
    *out = b;
    return SL_OK;
}

void sl_genie_batch_free(sl_genie_batch *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n_items; i++)
        json_decref(b->items[i].input);
    free(b->items);
    free(b);
}

/* The admission and the starts, inside one transaction. */
static sl_code batch_tx(sl_engine_tx *tx, void *arg, sl_err *err)
{
    sl_genie_batch *b = arg;
    sl_code rc;
    size_t to_start = 0;
    b->n_started = 0;
    for (size_t i = 0; i < b->n_items; i++) {
        sl_genie_batch_item *it = &b->items[i];
        int status;
        it->state = NULL;
        it->run_id[0] = '\0';
        rc = sl_engine_tx_run_latest(tx, it->workflow_id, &status, it->run_id, err);
        if (rc == SL_ENOTFOUND) {
            sl_err_clear(err);
        } else if (rc != SL_OK) {
            return rc;
        } else if (status == SL_RUN_RUNNING || status == SL_RUN_COMPLETED) {
            it->state = status == SL_RUN_RUNNING ? "running" : "completed";
            continue;
        }
        to_start++;
    }
    sl_run_filter rf;
    sl_run_filter_init(&rf);
    rf.status = SL_RUN_RUNNING;
    rf.type = "genie_query";
    rf.latest_only = true;
    int64_t running = 0;
    if ((rc = sl_engine_tx_count(tx, &rf, &running, err)) != SL_OK)
        return rc;
    if (running + (int64_t)to_start > b->max_queue)
        return sl_err_set(err, SL_ELIMIT,
                          "refusing to queue %zu workflow%s: %lld genie_query workflow%s already "
                          "running and MAX_QUEUE_SIZE is %lld (nothing was started)",
                          to_start, to_start == 1 ? "" : "s", (long long)running,
                          running == 1 ? " is" : "s are", (long long)b->max_queue);
    for (size_t i = 0; i < b->n_items; i++) {
        sl_genie_batch_item *it = &b->items[i];
        if (it->state)
            continue;
        sl_start_opts so = {.workflow_id = it->workflow_id, .task_queue = SL_GENIE_BATCH_QUEUE};
        sl_start_result res;
        if ((rc = sl_engine_tx_start(tx, "genie_query", it->input, &so, &res, err)) != SL_OK) {
            sl_err_prefix(err, "line %zu (nothing was started)", it->line_no);
            return rc;
        }
        it->state = res.existing ? "running" : "started";
        memcpy(it->run_id, res.run_id, sizeof(it->run_id));
        b->n_started += !res.existing;
    }
    return SL_OK;
}

sl_code sl_genie_batch_start(sl_engine *e, sl_genie_batch *b, sl_err *err)
{
    sl_code rc = sl_engine_transact(e, batch_tx, b, err);
    if (rc != SL_OK)
        b->n_started = 0;
    return rc;
}

json_t *sl_genie_batch_to_json(const sl_genie_batch *b)
{
    json_t *arr = sl_json_check(json_array());
    for (size_t i = 0; i < b->n_items; i++) {
        const sl_genie_batch_item *it = &b->items[i];
        json_array_append_new(
            arr, sl_json_check(json_pack("{s:s,s:s,s:s,s:I,s:O}", "workflow_id", it->workflow_id,
                                         "run_id", it->run_id, "state",
                                         it->state ? it->state : "", "line",
                                         (json_int_t)it->line_no, "questions",
                                         json_object_get(it->input, "questions"))));
    }
    return arr;
}
