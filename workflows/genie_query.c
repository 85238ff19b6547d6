/*
 * genie_query.c - Genie questions as a durable workflow: genie_query asks its questions in
 * order, one genie_ask activity each, on task queue "genie".
 *
 *   input  {"questions": ["...", ...], "conversation": "new" | "continue",
 *           "space_id": "..." (optional: GENIE_SPACE_ID, else the first visible space),
 *           "conversation_id": "..." (optional, with "continue": the first question is a
 *           follow-up there), "timeout": "10m" (per question), "max_rows": 1000}
 *   result {"space_id", "conversation_id" (of the last answer), "conversation",
 *           "answers": [{question, status, text, sql, description, columns, rows,
 *                        row_count, truncated, conversation_id, message_id}]}
 *
 * "continue" passes the conversation id of each answer to the next question, so they
 * form one Genie conversation; "new" starts one per question. The first answer fixes the
 * space for the rest. Rows kept in history are bounded by max_rows (row_count and
 * truncated tell what was cut), so histories stay small whatever Genie returns.
 *
 * genie_ask runs sl_dbx_genie_ask with the worker's shared Databricks client,
 * heartbeating on every poll (and while the transport waits out a 429) with details
 * {conversation_id, message_id, status}. A retry after a lost worker resumes polling that
 * message instead of asking again (unless that message turns out to have failed
 * transiently, which is why the activity is being retried: then it asks anew). Failures:
 *   Genie FAILED -> GenieFailed (not retried unless Genie called it transient: rate limits,
 *   retryable processing), Genie CANCELLED -> GenieCancelled, no answer in time ->
 *   GenieTimeout, 429s exhausted -> RateLimited (retried after the server's Retry-After),
 *   bad credentials -> AuthError, unknown space or conversation -> NotFound, a bad request
 *   or no Databricks configuration -> InvalidInput / ConfigError (none retried), other
 *   transport errors -> DatabricksError (retried when transient).
 */
#include <stdlib.h>
#include <string.h>

#include "sluice/workflows.h"

#define MAX_QUESTIONS        1000
#define MAX_ROWS_DEFAULT     1000
#define MAX_ROWS_LIMIT       5000            /* Genie's own cap per result */
#define CLOSE_MARGIN_MS      (2 * 60 * 1000) /* fetching rows and 429 waits after the answer */
#define HEARTBEAT_TIMEOUT_MS (60 * 1000)

/* ---- workflow ---------------------------------------------------------------------- */

static void genie_activity_opts(sl_activity_opts *o, int64_t timeout_ms)
{
    sl_activity_opts_init(o);
    o->task_queue = "genie";
    o->start_to_close_ms = timeout_ms + CLOSE_MARGIN_MS;
    o->heartbeat_ms = HEARTBEAT_TIMEOUT_MS;
    o->has_retry = true;
    sl_retry_policy_init(&o->retry);
    /* A 429 fails the attempt with the server's Retry-After, which replaces these delays, so
     * every wait is in the history; schedule-to-close bounds a workspace that stays over its
     * Genie quota, however many attempts that takes. */
    o->retry.initial_interval_ms = 5000;
    o->retry.backoff_coefficient = 2.0;
    o->retry.maximum_interval_ms = 2 * 60 * 1000;
    o->retry.maximum_attempts = 0;
    o->schedule_to_close_ms = 4 * timeout_ms < 60 * 60 * 1000 ? 60 * 60 * 1000 : 4 * timeout_ms;
    o->retry.jitter = 0.1;
    /* GenieFailed is absent: the activity marks it final unless Genie's error type is a
     * transient one (rate limits, retryable processing). */
    static const char *const final[] = {"GenieCancelled", "GenieTimeout", "AuthError",
                                        "NotFound",       "InvalidInput", "ConfigError"};
    for (size_t i = 0; i < sizeof(final) / sizeof(final[0]); i++)
        snprintf(o->retry.non_retryable[o->retry.n_non_retryable++],
                 sizeof(o->retry.non_retryable[0]), "%s", final[i]);
}

static sl_wf_status genie_query(sl_wf *wf, const json_t *in, json_t **out)
{
    const json_t *qs = json_object_get(in, "questions");
    size_t n = json_array_size(qs);
    if (!json_is_array(qs) || n == 0 || n > MAX_QUESTIONS)
        return sl_wf_fail(wf, "InvalidInput", "questions must be an array of 1..%d strings",
                          MAX_QUESTIONS);
    for (size_t i = 0; i < n; i++)
        if (!json_is_string(json_array_get(qs, i)) ||
            json_string_length(json_array_get(qs, i)) == 0)
            return sl_wf_fail(wf, "InvalidInput", "question %zu is not a non-empty string", i + 1);
    const char *mode = json_string_value(json_object_get(in, "conversation"));
    if (!mode)
        mode = "new";
    bool cont = strcmp(mode, "continue") == 0;
    if (!cont && strcmp(mode, "new") != 0)
        return sl_wf_fail(wf, "InvalidInput", "conversation must be \"new\" or \"continue\"");
    const json_t *sp = json_object_get(in, "space_id");
    const json_t *cv = json_object_get(in, "conversation_id");
    if ((sp && !json_is_string(sp) && !json_is_null(sp)) ||
        (cv && !json_is_string(cv) && !json_is_null(cv)))
        return sl_wf_fail(wf, "InvalidInput", "space_id and conversation_id must be strings");
    int64_t timeout_ms = SL_DBX_GENIE_TIMEOUT_MS;
    const json_t *t = json_object_get(in, "timeout");
    if (t && (sl_duration_from_json(t, &timeout_ms, NULL) != SL_OK || timeout_ms <= 0))
        return sl_wf_fail(wf, "InvalidInput", "timeout must be a positive duration");
    json_int_t max_rows = MAX_ROWS_DEFAULT;
    const json_t *mr = json_object_get(in, "max_rows");
    if (mr && (!json_is_integer(mr) || json_integer_value(mr) < 0 ||
               json_integer_value(mr) > MAX_ROWS_LIMIT))
        return sl_wf_fail(wf, "InvalidInput", "max_rows must be an integer 0..%d", MAX_ROWS_LIMIT);
    if (mr)
        max_rows = json_integer_value(mr);

    sl_activity_opts opts;
    genie_activity_opts(&opts, timeout_ms);
    const json_t *ao = json_object_get(in, "activity_options");
    sl_err err;
    sl_err_clear(&err);
    if (ao && !json_is_null(ao) && sl_activity_opts_from_json(ao, &opts, &err) != SL_OK)
        return sl_wf_fail(wf, "InvalidInput", "activity_options: %s", err.msg);
    const char *space = json_string_value(sp);
    const char *conv = cont ? json_string_value(cv) : NULL;
    json_t *answers = sl_json_check(json_array());
    sl_wf_keep(wf, answers);
    for (size_t i = 0; i < n; i++) {
        json_t *ain =
            sl_json_check(json_pack("{s:O,s:I,s:I}", "question", json_array_get(qs, i),
                                    "timeout_ms", (json_int_t)timeout_ms, "max_rows", max_rows));
        if (space && *space)
            json_object_set_new(ain, "space_id", json_string(space));
        if (conv && *conv)
            json_object_set_new(ain, "conversation_id", json_string(conv));
        const json_t *res, *failure;
        SL_AWAIT_TRY(wf, sl_activity(wf, "genie_ask", ain, &opts), &res, &failure);
        if (failure) {
            /* Keep the activity's type (GenieFailed, ...) and say which question it was. */
            json_t *f = json_deep_copy(failure);
            char *m = sl_xasprintf("question %zu of %zu: %s", i + 1, n,
                                   json_string_value(json_object_get(failure, "message"))
                                       ? json_string_value(json_object_get(failure, "message"))
                                       : "");
            json_object_set_new(f, "message", json_string(m));
            json_object_set_new(f, "answers", json_incref(answers)); /* what came before */
            free(m);
            sl_wf_status s = sl_wf_fail_with(wf, f);
            json_decref(f);
            return s;
        }
        json_array_append(answers, res ? (json_t *)res : json_null());
        const char *s = json_string_value(json_object_get(res, "space_id"));
        if (s && *s)
            space = s; /* the first answer fixes the space for the rest */
        if (cont)
            conv = json_string_value(json_object_get(res, "conversation_id"));
        else
            conv = NULL;
    }
    const json_t *last = json_array_get(answers, n - 1);
    *out = json_pack("{s:s?,s:O?,s:s,s:O}", "space_id", space, "conversation_id",
                     json_object_get(last, "conversation_id"), "conversation", mode, "answers",
                     answers);
    return SL_WF_DONE;
}

/* ---- activity ---------------------------------------------------------------------- */

typedef struct ask_ctx {
    sl_act *act;
    sl_dbx_genie_state st;
    json_t *details; /* heartbeat details: where the ask is, for a resume */
    bool stop;
} ask_ctx;

static void refresh_details(ask_ctx *x)
{
    json_decref(x->details);
    x->details =
        sl_json_check(json_pack("{s:s,s:s,s:s,s:s,s:i}", "space_id", x->st.space_id,
                                "conversation_id", x->st.conversation_id, "message_id",
                                x->st.message_id, "status", x->st.status, "polls", x->st.polls));
}

/* Every poll: heartbeat with the message's whereabouts. */
static void on_progress(void *arg, const sl_dbx_progress *p)
{
    (void)p;
    ask_ctx *x = arg;
    refresh_details(x);
    if (!sl_act_heartbeat(x->act, x->details))
        x->stop = true;
}

/* Checked every few ms, also while the transport sleeps out a Retry-After: heartbeats are
 * rate limited by the engine, so this stays cheap and keeps long waits alive. */
static bool on_cancel(void *arg)
{
    ask_ctx *x = arg;
    if (!x->stop && !sl_act_heartbeat(x->act, x->details))
        x->stop = true;
    return x->stop;
}

static const char *failure_type(const ask_ctx *x, const sl_err *err)
{
    if (x->st.genie_failed)
        return strcmp(err->error_code, "CANCELLED") == 0 ? "GenieCancelled" : "GenieFailed";
    switch (err->code) {
    case SL_ETIMEOUT:
        return "GenieTimeout";
    case SL_ELIMIT:
        return "RateLimited";
    case SL_EAUTH:
        return "AuthError";
    case SL_ENOTFOUND:
        return "NotFound";
    case SL_EINVAL:
        return "InvalidInput";
    default:
        return "DatabricksError";
    }
}

static json_t *genie_ask(sl_act *act, const json_t *in)
{
    const char *question = json_string_value(json_object_get(in, "question"));
    if (!question || !*question)
        return sl_act_fail_nonretryable(act, "InvalidInput", "genie_ask needs a question");
    sl_wf_env *env = sl_act_wf_env(act);
    if (!env)
        return sl_act_fail_nonretryable(act, "ConfigError",
                                        "this worker offers no Databricks environment");
    sl_dbx_client *c = NULL;
    sl_err err;
    sl_err_clear(&err);
    if (sl_wf_env_dbx(env, &c, &err) != SL_OK) {
        err.retryable = false;
        return sl_act_fail_err(act, "ConfigError", &err);
    }
    ask_ctx x = {.act = act};
    sl_dbx_call call = {0};
    if (sl_dbx_genie_poll_from_env(&call, &err) != SL_OK) {
        err.retryable = false;
        return sl_act_fail_err(act, "ConfigError", &err);
    }
    call.deadline_ms = sl_act_deadline_ms(act);
    call.progress = on_progress;
    call.progress_arg = &x;
    call.cancel = on_cancel;
    call.cancel_arg = &x;
    call.no_retry_on_429 = true; /* each Retry-After wait becomes a recorded attempt */

    sl_dbx_genie_ask_opts o;
    sl_dbx_genie_ask_opts_init(&o);
    o.space_id = json_string_value(json_object_get(in, "space_id"));
    o.conversation_id = json_string_value(json_object_get(in, "conversation_id"));
    json_int_t t = json_integer_value(json_object_get(in, "timeout_ms"));
    o.timeout_ms = t > 0 ? t : 0;
    /* A retry after a lost worker or lease: wait for the message already asked. */
    const json_t *last = sl_act_last_heartbeat(act);
    const char *prev_conv = json_string_value(json_object_get(last, "conversation_id"));
    const char *prev_msg = json_string_value(json_object_get(last, "message_id"));
    const char *prev_space = json_string_value(json_object_get(last, "space_id"));
    if (prev_conv && *prev_conv && prev_msg && *prev_msg) {
        o.conversation_id = prev_conv;
        o.message_id = prev_msg;
        if (prev_space && *prev_space)
            o.space_id = prev_space;
        sl_info("genie_ask %s attempt %d: resuming Genie message %s", sl_act_idempotency_key(act),
                sl_act_attempt(act), prev_msg);
    }
    refresh_details(&x);

    sl_dbx_genie_answer *ans = NULL;
    sl_code rc = sl_dbx_genie_ask(c, question, &o, &call, &x.st, &ans, &err);
    if (rc != SL_OK && o.message_id && x.st.genie_failed && err.retryable && !x.stop) {
        /* The resumed message is the one whose transient failure caused this retry (the
         * last heartbeat may predate its end): ask again. */
        sl_info("genie_ask %s: resumed message %s had failed (%s); asking again",
                sl_act_idempotency_key(act), o.message_id, err.error_code);
        o.message_id = NULL;
        o.space_id = json_string_value(json_object_get(in, "space_id"));
        o.conversation_id = json_string_value(json_object_get(in, "conversation_id"));
        sl_err_clear(&err);
        rc = sl_dbx_genie_ask(c, question, &o, &call, &x.st, &ans, &err);
    }
    json_t *res = NULL;
    if (rc == SL_OK) {
        const json_t *mr = json_object_get(in, "max_rows");
        json_int_t keep = json_is_integer(mr) ? json_integer_value(mr) : MAX_ROWS_DEFAULT;
        res = sl_dbx_genie_answer_to_json(ans, keep > 0 ? (size_t)keep : 0, 0);
        if (keep <= 0 && json_array_size(ans->rows) > 0) { /* max_rows 0: counts only */
            json_array_clear(json_object_get(res, "rows"));
            json_object_set_new(res, "truncated", json_true());
        }
        json_object_set_new(res, "question", json_string(question));
    } else if (x.stop || rc == SL_ECANCELED) {
        bool canceled = sl_act_is_canceled(act);
        res = sl_act_fail(act, canceled ? "CanceledError" : "Interrupted",
                          "Genie question stopped: %s", err.msg);
    } else {
        const char *type = failure_type(&x, &err);
        if (strcmp(type, "GenieTimeout") == 0 || strcmp(type, "AuthError") == 0 ||
            strcmp(type, "NotFound") == 0 || strcmp(type, "InvalidInput") == 0 ||
            strcmp(type, "GenieCancelled") == 0)
            err.retryable = false;
        res = sl_act_fail_err(act, type, &err);
    }
    sl_dbx_genie_answer_free(ans);
    json_decref(x.details);
    return res;
}

void sl_workflows_register_genie(sl_registry *r)
{
    sl_registry_add_workflow(r, "genie_query", genie_query);
    sl_registry_add_activity(r, "genie_ask", genie_ask);
}
