/*
 * genie.c - the low-level Genie Conversation API: spaces, conversations, messages,
 * attachment query results, and a bounded poll of a message until it is terminal.
 * The "ask" flow (start or follow up, wait, fetch the result, render it) is built on
 * these by the Genie workflows.
 *
 * Message status: SUBMITTED -> FETCHING_METADATA -> FILTERING_CONTEXT -> ASKING_AI ->
 * PENDING_WAREHOUSE -> EXECUTING_QUERY -> COMPLETED | FAILED | CANCELLED |
 * QUERY_RESULT_EXPIRED. Unlike the SDK waiters (which keep polling on CANCELLED and
 * QUERY_RESULT_EXPIRED until their 20 min timeout), all four end the wait here.
 */
#include <stdlib.h>
#include <string.h>

#include "dbx_int.h"

#define SPACES          "/api/2.0/genie/spaces"
#define POLL_INITIAL_MS 1000
#define POLL_MAX_MS     5000

static sl_code need(const char *what, const char *name, const char *v, sl_err *err)
{
    if (!v || !*v)
        return sl_err_set(err, SL_EINVAL, "%s: empty %s", what, name);
    return SL_OK;
}

char *sl__dbx_genie_path(const char *space, const char *conv, const char *msg, const char *att,
                         const char *suffix)
{
    const char *ids[4] = {space, conv, msg, att};
    const char *names[4] = {"", "/conversations/", "/messages/", "/attachments/"};
    size_t cap = 256 + strlen(suffix ? suffix : "");
    for (int i = 0; i < 4; i++)
        if (ids[i])
            cap += 3 * strlen(ids[i]) + 20;
    char *p = sl_xmalloc(cap);
    snprintf(p, cap, "%s/", SPACES);
    for (int i = 0; i < 4 && ids[i]; i++) {
        char *enc = sl__dbx_pct(ids[i]);
        strcat(p, names[i]);
        strcat(p, enc);
        free(enc);
    }
    if (suffix)
        strcat(p, suffix);
    return p;
}

sl_code sl_dbx_genie_space_list(sl_dbx_client *c, size_t max_items, const sl_dbx_call *call,
                                json_t **out, sl_err *err)
{
    return sl__dbx_list_all(c, SPACES "?page_size=100", "spaces", max_items, "list Genie spaces",
                            call, out, err);
}

sl_code sl_dbx_genie_space_get(sl_dbx_client *c, const char *space_id, const sl_dbx_call *call,
                               json_t **out, sl_err *err)
{
    *out = NULL;
    if (need("get Genie space", "space id", space_id, err) != SL_OK)
        return SL_EINVAL;
    char *path = sl__dbx_genie_path(space_id, NULL, NULL, NULL, NULL);
    char what[160];
    snprintf(what, sizeof(what), "get Genie space %.100s", space_id);
    sl_code rc = sl__dbx_json(c, "GET", path, NULL, what, call, out, err);
    free(path);
    return rc;
}

sl_code sl_dbx_genie_space_resolve(sl_dbx_client *c, const char *explicit_id,
                                   const sl_dbx_call *call, char **out_id, sl_err *err)
{
    *out_id = NULL;
    if (explicit_id && *explicit_id) {
        *out_id = sl_xstrdup(explicit_id);
        return SL_OK;
    }
    if (c->s.genie_space_id && *c->s.genie_space_id) {
        *out_id = sl_xstrdup(c->s.genie_space_id);
        return SL_OK;
    }
    json_t *spaces = NULL;
    sl_code rc = sl_dbx_genie_space_list(c, 1, call, &spaces, err);
    if (rc != SL_OK)
        return sl__dbx_ctx(rc, err, "choose a Genie space");
    const json_t *first = json_array_get(spaces, 0);
    const char *id = sl__dbx_jstr(first, "space_id");
    if (!id) {
        json_decref(spaces);
        return sl_err_set(err, SL_ENOTFOUND,
                          "choose a Genie space: no Genie space is visible (set GENIE_SPACE_ID)");
    }
    const char *title = sl__dbx_jstr(first, "title");
    sl__dbx_log(c, SL_LOG_INFO, "dbx: GENIE_SPACE_ID not set; using space %s '%s'", id,
                title ? title : "");
    *out_id = sl_xstrdup(id);
    json_decref(spaces);
    return SL_OK;
}

static json_t *content_body(const char *content)
{
    json_t *b = sl_json_check(json_object());
    json_object_set_new(b, "content", sl_json_check(json_string(content)));
    return b;
}

sl_code sl_dbx_genie_conversation_start(sl_dbx_client *c, const char *space_id, const char *content,
                                        const sl_dbx_call *call, json_t **out, sl_err *err)
{
    *out = NULL;
    const char *what = "start Genie conversation";
    if (need(what, "space id", space_id, err) || need(what, "question", content, err))
        return SL_EINVAL;
    char *path = sl__dbx_genie_path(space_id, NULL, NULL, NULL, "/start-conversation");
    json_t *b = content_body(content);
    char w[160];
    snprintf(w, sizeof(w), "start Genie conversation in space %.100s", space_id);
    sl_code rc = sl__dbx_json(c, "POST", path, b, w, call, out, err);
    if (rc == SL_OK &&
        (!sl__dbx_jstr(*out, "conversation_id") || !sl__dbx_jstr(*out, "message_id"))) {
        json_decref(*out);
        *out = NULL;
        rc = sl_err_set(err, SL_EREMOTE, "%s: response lacks conversation_id/message_id", w);
    }
    json_decref(b);
    free(path);
    return rc;
}

sl_code sl_dbx_genie_message_create(sl_dbx_client *c, const char *space_id,
                                    const char *conversation_id, const char *content,
                                    const sl_dbx_call *call, json_t **out, sl_err *err)
{
    *out = NULL;
    const char *what = "send Genie message";
    if (need(what, "space id", space_id, err) ||
        need(what, "conversation id", conversation_id, err) || need(what, "question", content, err))
        return SL_EINVAL;
    char *path = sl__dbx_genie_path(space_id, conversation_id, NULL, NULL, "/messages");
    json_t *b = content_body(content);
    char w[200];
    snprintf(w, sizeof(w), "send Genie message to conversation %.100s", conversation_id);
    sl_code rc = sl__dbx_json(c, "POST", path, b, w, call, out, err);
    json_decref(b);
    free(path);
    return rc;
}

sl_code sl_dbx_genie_message_get(sl_dbx_client *c, const char *space_id,
                                 const char *conversation_id, const char *message_id,
                                 const sl_dbx_call *call, json_t **out, sl_err *err)
{
    *out = NULL;
    const char *what = "get Genie message";
    if (need(what, "space id", space_id, err) ||
        need(what, "conversation id", conversation_id, err) ||
        need(what, "message id", message_id, err))
        return SL_EINVAL;
    char *path = sl__dbx_genie_path(space_id, conversation_id, message_id, NULL, NULL);
    char w[160];
    snprintf(w, sizeof(w), "get Genie message %.100s", message_id);
    sl_code rc = sl__dbx_json(c, "GET", path, NULL, w, call, out, err);
    free(path);
    return rc;
}

bool sl_dbx_genie_status_is_terminal(const char *status)
{
    static const char *const t[] = {"COMPLETED", "FAILED", "CANCELLED", "QUERY_RESULT_EXPIRED"};
    if (!status)
        return false;
    for (size_t i = 0; i < 4; i++)
        if (strcmp(status, t[i]) == 0)
            return true;
    return false;
}

static bool retryable_genie_error(const char *type)
{
    static const char *const t[] = {
        "RATE_LIMIT_EXCEEDED_GENERIC_EXCEPTION",
        "RATE_LIMIT_EXCEEDED_SPECIFIED_WAIT_EXCEPTION",
        "RETRYABLE_PROCESSING_EXCEPTION",
        "CHAT_COMPLETION_NETWORK_EXCEPTION",
        "CHAT_COMPLETION_CLIENT_TIMEOUT_EXCEPTION",
        "REPLY_PROCESS_TIMEOUT_EXCEPTION",
        "DESCRIBE_QUERY_TIMEOUT",
    };
    if (!type)
        return false;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (strcmp(type, t[i]) == 0)
            return true;
    return false;
}

sl_code sl_dbx_genie_message_error(const json_t *message, sl_err *err)
{
    const char *status = sl__dbx_jstr(message, "status");
    const char *id = sl__dbx_jstr(message, "message_id");
    if (!id)
        id = sl__dbx_jstr(message, "id");
    if (!id)
        id = "?";
    if (status && strcmp(status, "FAILED") == 0) {
        const json_t *e = json_object_get(message, "error");
        const char *type = sl__dbx_jstr(e, "type");
        const char *text = sl__dbx_jstr(e, "error");
        if (!text && json_is_string(e))
            text = json_string_value(e);
        sl_code code = type && strncmp(type, "RATE_LIMIT", 10) == 0 ? SL_ELIMIT : SL_EREMOTE;
        sl_err_set(err, code, "genie message %s failed: %s%s%s", id, type ? type : "",
                   type ? ": " : "", text ? text : "(no message)");
        if (err) {
            sl_dbx_redact_buf(err->msg, sizeof(err->msg), NULL); /* server text */
            err->retryable = retryable_genie_error(type);
            snprintf(err->error_code, sizeof(err->error_code), "%s", type ? type : "");
        }
        return code;
    }
    if (status && strcmp(status, "CANCELLED") == 0) {
        sl_err_set(err, SL_ECANCELED, "genie message %s was cancelled", id);
        if (err)
            err->retryable = false;
        return SL_ECANCELED;
    }
    return SL_OK;
}

/* The wait ended by the caller's deadline or cancel: say where the message was. */
static sl_code give_up(sl_err *err, sl_code rc, const char *id, const char *status, int polls)
{
    sl_err_set(err, rc, "wait for Genie message %.100s: %s (status %s after %d poll%s)", id,
               rc == SL_ETIMEOUT ? "deadline reached" : "canceled", status, polls,
               polls == 1 ? "" : "s");
    if (err)
        err->retryable = rc == SL_ETIMEOUT;
    return rc;
}

sl_code sl_dbx_genie_message_wait(sl_dbx_client *c, const char *space_id,
                                  const char *conversation_id, const char *message_id,
                                  const sl_dbx_call *call, json_t **out, sl_err *err)
{
    *out = NULL;
    int64_t interval = call && call->poll_initial_ms > 0 ? call->poll_initial_ms : POLL_INITIAL_MS;
    int64_t max = call && call->poll_max_ms > 0 ? call->poll_max_ms : POLL_MAX_MS;
    if (interval > max)
        interval = max;
    char last[40] = "unknown";
    for (int polls = 1;; polls++) {
        json_t *msg = NULL;
        sl_code rc =
            sl_dbx_genie_message_get(c, space_id, conversation_id, message_id, call, &msg, err);
        if ((rc == SL_ETIMEOUT || rc == SL_ECANCELED) && sl__dbx_check_call(call, NULL) != SL_OK)
            return give_up(err, rc, message_id, last, polls - 1);
        if (rc != SL_OK)
            return rc;
        const char *status = sl__dbx_jstr(msg, "status");
        snprintf(last, sizeof(last), "%s", status ? status : "unknown");
        if (call && call->progress) {
            sl_dbx_progress p = {.op = "genie message",
                                 .id = message_id,
                                 .state = status,
                                 .polls = polls,
                                 .bytes_total = -1};
            call->progress(call->progress_arg, &p);
        }
        if (sl_dbx_genie_status_is_terminal(status)) {
            rc = sl_dbx_genie_message_error(msg, err);
            if (rc != SL_OK) {
                json_decref(msg);
                return rc;
            }
            *out = msg;
            return SL_OK;
        }
        json_decref(msg);
        rc = sl__dbx_sleep(call, interval, err);
        if (rc != SL_OK)
            return give_up(err, rc, message_id, last, polls);
        interval = sl__dbx_poll_next(interval, max);
    }
}

static sl_code attachment_call(sl_dbx_client *c, const char *method, const char *verb,
                               const char *suffix, const char *space_id,
                               const char *conversation_id, const char *message_id,
                               const char *attachment_id, const sl_dbx_call *call, json_t **out,
                               sl_err *err)
{
    *out = NULL;
    if (need(verb, "space id", space_id, err) ||
        need(verb, "conversation id", conversation_id, err) ||
        need(verb, "message id", message_id, err) ||
        need(verb, "attachment id", attachment_id, err))
        return SL_EINVAL;
    char *path = sl__dbx_genie_path(space_id, conversation_id, message_id, attachment_id, suffix);
    char w[200];
    snprintf(w, sizeof(w), "%s of Genie attachment %.100s", verb, attachment_id);
    sl_code rc = sl__dbx_json(c, method, path, NULL, w, call, out, err);
    free(path);
    return rc;
}

sl_code sl_dbx_genie_attachment_query_result(sl_dbx_client *c, const char *space_id,
                                             const char *conversation_id, const char *message_id,
                                             const char *attachment_id, const sl_dbx_call *call,
                                             json_t **out, sl_err *err)
{
    return attachment_call(c, "GET", "get query result", "/query-result", space_id, conversation_id,
                           message_id, attachment_id, call, out, err);
}

sl_code sl_dbx_genie_attachment_execute_query(sl_dbx_client *c, const char *space_id,
                                              const char *conversation_id, const char *message_id,
                                              const char *attachment_id, const sl_dbx_call *call,
                                              json_t **out, sl_err *err)
{
    return attachment_call(c, "POST", "re-run query", "/execute-query", space_id, conversation_id,
                           message_id, attachment_id, call, out, err);
}

sl_code sl_dbx_genie_conversation_list(sl_dbx_client *c, const char *space_id, bool include_all,
                                       size_t max_items, const sl_dbx_call *call, json_t **out,
                                       sl_err *err)
{
    *out = NULL;
    if (need("list Genie conversations", "space id", space_id, err) != SL_OK)
        return SL_EINVAL;
    char *path = sl__dbx_genie_path(space_id, NULL, NULL, NULL,
                                    include_all ? "/conversations?page_size=100&include_all=true"
                                                : "/conversations?page_size=100");
    char w[160];
    snprintf(w, sizeof(w), "list Genie conversations of space %.100s", space_id);
    sl_code rc = sl__dbx_list_all(c, path, "conversations", max_items, w, call, out, err);
    free(path);
    return rc;
}

sl_code sl_dbx_genie_conversation_page(sl_dbx_client *c, const char *space_id, bool include_all,
                                       const char *page_token, const sl_dbx_call *call,
                                       json_t **out, sl_err *err)
{
    *out = NULL;
    if (need("list Genie conversations", "space id", space_id, err) != SL_OK)
        return SL_EINVAL;
    char *tok = page_token && *page_token ? sl__dbx_pct(page_token) : NULL;
    char *suffix =
        sl_xasprintf("/conversations?page_size=100%s%s%s", include_all ? "&include_all=true" : "",
                     tok ? "&page_token=" : "", tok ? tok : "");
    free(tok);
    char *path = sl__dbx_genie_path(space_id, NULL, NULL, NULL, suffix);
    free(suffix);
    char w[160];
    snprintf(w, sizeof(w), "list Genie conversations of space %.100s", space_id);
    sl_code rc = sl__dbx_json(c, "GET", path, NULL, w, call, out, err);
    free(path);
    return rc;
}

sl_code sl_dbx_genie_message_list(sl_dbx_client *c, const char *space_id,
                                  const char *conversation_id, size_t max_items,
                                  const sl_dbx_call *call, json_t **out, sl_err *err)
{
    *out = NULL;
    const char *what = "list Genie messages";
    if (need(what, "space id", space_id, err) ||
        need(what, "conversation id", conversation_id, err))
        return SL_EINVAL;
    char *path =
        sl__dbx_genie_path(space_id, conversation_id, NULL, NULL, "/messages?page_size=100");
    char w[160];
    snprintf(w, sizeof(w), "list Genie messages of conversation %.100s", conversation_id);
    sl_code rc = sl__dbx_list_all(c, path, "messages", max_items, w, call, out, err);
    free(path);
    return rc;
}

sl_code sl_dbx_genie_conversation_delete(sl_dbx_client *c, const char *space_id,
                                         const char *conversation_id, const sl_dbx_call *call,
                                         sl_err *err)
{
    const char *what = "delete Genie conversation";
    if (need(what, "space id", space_id, err) ||
        need(what, "conversation id", conversation_id, err))
        return SL_EINVAL;
    char *path = sl__dbx_genie_path(space_id, conversation_id, NULL, NULL, NULL);
    char w[160];
    snprintf(w, sizeof(w), "delete Genie conversation %.100s", conversation_id);
    sl__dbx_req req;
    sl__dbx_req_init(&req, "DELETE", path, w);
    req.call = call;
    sl__dbx_resp resp;
    sl_code rc = sl__dbx_request(c, &req, &resp, err);
    sl__dbx_resp_cleanup(&resp);
    free(path);
    return rc;
}
