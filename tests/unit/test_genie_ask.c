/*
 * test_genie_ask.c - the Genie ask flow (src/dbx/genie_ask.c) against a scripted fake
 * workspace in this process: the message endpoint is polled (never the deprecated
 * query-result one) through SUBMITTED -> EXECUTING_QUERY -> COMPLETED with a progress call
 * per poll; the query result is polled while PENDING/RUNNING and every chunk is read;
 * follow-ups go to the given conversation; FAILED is an error with Genie's message and
 * type; CANCELLED ends the wait at once as an error; QUERY_RESULT_EXPIRED is re-executed
 * once; a failed result statement is an error; the timeout says where the message was;
 * the first visible space is picked when none is configured; a bad space is one error;
 * resuming polls an existing message without asking again; the JSON form bounds rows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "sluice/dbx.h"
#include "test_dbx_server.h"

#define MAX_MSGS 64

/* What the fake Genie does with a question (matched by its first word). */
typedef struct script {
    const char *word;
    const char *statuses[4]; /* one per poll; the last repeats */
    int n_statuses;
    bool query;        /* a query attachment a1 */
    bool stmt_fails;   /* its statement FAILED */
    bool expired_rows; /* query-result answers CLOSED until execute-query */
} script;

static const script SCRIPTS[] = {
    {"top", {"SUBMITTED", "EXECUTING_QUERY", "COMPLETED"}, 3, true, false, false},
    {"text", {"ASKING_AI", "COMPLETED"}, 2, false, false, false},
    {"fail", {"ASKING_AI", "FAILED"}, 2, false, false, false},
    {"cancel", {"CANCELLED", "COMPLETED"}, 2, false, false, false},
    {"expired", {"QUERY_RESULT_EXPIRED"}, 1, true, false, true},
    {"slow", {"ASKING_AI"}, 1, false, false, false},
    {"badsql", {"COMPLETED"}, 1, true, true, false},
};

typedef struct msg {
    char id[16], conv[16];
    const script *sc;
    int polls, result_polls, executes;
} msg;

typedef struct fake {
    pthread_mutex_t mu;
    msg msgs[MAX_MSGS];
    int n_msgs, n_convs;
    int deprecated_hits; /* GETs of .../messages/{id}/query-result: the seed tools' bug */
    int unexpected;
    int starts, follow_ups;
} fake;

static fake F;
static ts_server S;

static char *dump(json_t *j)
{
    char *s = sl_json_dumps(j);
    json_decref(j);
    return s;
}

static void reply(ts_resp *o, int status, json_t *j)
{
    o->status = status;
    o->body = dump(j);
}

static msg *find_msg(const char *id)
{
    for (int i = 0; i < F.n_msgs; i++)
        if (strcmp(F.msgs[i].id, id) == 0)
            return &F.msgs[i];
    return NULL;
}

static msg *new_msg(const char *conv, const char *content)
{
    msg *m = &F.msgs[F.n_msgs];
    snprintf(m->id, sizeof(m->id), "m%d", F.n_msgs + 1);
    snprintf(m->conv, sizeof(m->conv), "%s", conv);
    F.n_msgs++;
    m->sc = &SCRIPTS[1];
    for (size_t i = 0; i < sizeof(SCRIPTS) / sizeof(SCRIPTS[0]); i++)
        if (strncmp(content, SCRIPTS[i].word, strlen(SCRIPTS[i].word)) == 0)
            m->sc = &SCRIPTS[i];
    return m;
}

static json_t *message_json(msg *m, const char *status)
{
    json_t *atts = json_array();
    if (strcmp(status, "COMPLETED") == 0 || strcmp(status, "QUERY_RESULT_EXPIRED") == 0) {
        json_array_append_new(atts, json_pack("{s:s,s:{s:s}}", "attachment_id", "t1", "text",
                                              "content", "Here they are."));
        if (m->sc->query)
            json_array_append_new(
                atts, json_pack("{s:s,s:{s:s,s:s,s:s,s:s,s:{s:i,s:b}}}", "attachment_id", "a1",
                                "query", "query", "SELECT name, n FROM t", "description",
                                "Names by n.", "title", "Top", "statement_id", "st1",
                                "query_result_metadata", "row_count", 3, "is_truncated", 0));
        json_array_append_new(atts, json_pack("{s:s,s:{s:s}}", "attachment_id", "t2", "text",
                                              "content", "Anything else?"));
    }
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:o}", "message_id", m->id, "id", m->id,
                          "conversation_id", m->conv, "status", status, "attachments", atts);
    if (strcmp(status, "FAILED") == 0)
        json_object_set_new(j, "error",
                            json_pack("{s:s,s:s}", "error", "No tables to query.", "type",
                                      "NO_TABLES_TO_QUERY_EXCEPTION"));
    return j;
}

static json_t *statement(const char *state, bool with_rows)
{
    json_t *sr = json_pack("{s:s,s:{s:s}}", "statement_id", "st1", "status", "state", state);
    if (strcmp(state, "FAILED") == 0)
        json_object_set_new(json_object_get(sr, "status"), "error",
                            json_pack("{s:s,s:s}", "error_code", "BAD_REQUEST", "message",
                                      "[UNRESOLVED_COLUMN] nope"));
    if (with_rows) {
        json_object_set_new(sr, "manifest",
                            json_pack("{s:{s:i,s:[{s:s,s:s,s:i},{s:s,s:s,s:i}]},s:i,s:b}", "schema",
                                      "column_count", 2, "columns", "name", "name", "type_name",
                                      "STRING", "position", 0, "name", "n", "type_name", "LONG",
                                      "position", 1, "total_chunk_count", 2, "truncated", 0));
        json_object_set_new(sr, "result",
                            json_pack("{s:i,s:[[s,s],[s,n]],s:i,s:s}", "chunk_index", 0,
                                      "data_array", "alpha", "10", "\xe6\x97\xa5\xe6\x9c\xac",
                                      "next_chunk_index", 1, "next_chunk_internal_link",
                                      "/api/2.0/sql/statements/st1/result/chunks/1"));
    }
    return json_pack("{s:o}", "statement_response", sr);
}

static void genie(ts_req *r, ts_resp *o, char **seg, int n)
{
    /* seg: api 2.0 genie spaces [space [...]] */
    if (n == 4 && strcmp(r->method, "GET") == 0) {
        reply(o, 200,
              json_pack("{s:[{s:s,s:s},{s:s,s:s}]}", "spaces", "space_id", "s1", "title", "Sales",
                        "space_id", "s2", "title", "Other"));
        return;
    }
    if (n >= 5 && strcmp(seg[4], "s1") != 0) {
        reply(o, 404,
              json_pack("{s:s,s:s}", "error_code", "RESOURCE_DOES_NOT_EXIST", "message",
                        "Genie space does not exist."));
        return;
    }
    json_t *body = r->body_len ? json_loads(r->body, 0, NULL) : NULL;
    const char *content = json_string_value(json_object_get(body, "content"));
    if (n == 6 && strcmp(seg[5], "start-conversation") == 0) {
        char conv[16];
        snprintf(conv, sizeof(conv), "c%d", ++F.n_convs);
        msg *m = new_msg(conv, content ? content : "");
        F.starts++;
        reply(o, 200,
              json_pack("{s:s,s:s,s:{s:s},s:o}", "conversation_id", conv, "message_id", m->id,
                        "conversation", "id", conv, "message", message_json(m, "SUBMITTED")));
    } else if (n == 8 && strcmp(seg[7], "messages") == 0 && strcmp(r->method, "POST") == 0) {
        if (strcmp(seg[6], "c1") != 0 && strcmp(seg[6], "c2") != 0) {
            reply(o, 404,
                  json_pack("{s:s,s:s}", "error_code", "RESOURCE_DOES_NOT_EXIST", "message",
                            "no conversation"));
        } else {
            msg *m = new_msg(seg[6], content ? content : "");
            F.follow_ups++;
            reply(o, 200, message_json(m, "SUBMITTED"));
        }
    } else if (n == 9 && strcmp(r->method, "GET") == 0 && find_msg(seg[8])) {
        msg *m = find_msg(seg[8]);
        int i = m->polls < m->sc->n_statuses ? m->polls : m->sc->n_statuses - 1;
        m->polls++;
        reply(o, 200, message_json(m, m->sc->statuses[i]));
    } else if (n == 10 && strcmp(seg[9], "query-result") == 0) {
        F.deprecated_hits++;
        reply(o, 200, statement("SUCCEEDED", true));
    } else if (n == 12 && find_msg(seg[8]) && strcmp(seg[10], "a1") == 0) {
        msg *m = find_msg(seg[8]);
        if (strcmp(seg[11], "execute-query") == 0) {
            m->executes++;
            reply(o, 200, statement("SUCCEEDED", true));
        } else if (m->sc->expired_rows && m->executes == 0) {
            reply(o, 200, statement("CLOSED", false));
        } else if (m->sc->stmt_fails) {
            reply(o, 200, statement("FAILED", false));
        } else {
            const char *st = m->result_polls == 0   ? "PENDING"
                             : m->result_polls == 1 ? "RUNNING"
                                                    : "SUCCEEDED";
            m->result_polls++;
            reply(o, 200, statement(st, strcmp(st, "SUCCEEDED") == 0));
        }
    } else {
        F.unexpected++;
        reply(o, 404, json_pack("{s:s,s:s}", "error_code", "NOT_FOUND", "message", r->url));
    }
    json_decref(body);
}

static void handler(void *arg, int phase, ts_req *r, ts_resp *o)
{
    (void)arg;
    if (phase == 0)
        return;
    pthread_mutex_lock(&F.mu);
    char *copy = sl_xstrdup(r->url + 1), *save = NULL;
    char *seg[16];
    int n = 0;
    for (char *t = strtok_r(copy, "/", &save); t && n < 16; t = strtok_r(NULL, "/", &save))
        seg[n++] = t;
    if (n >= 4 && strcmp(seg[2], "genie") == 0) {
        genie(r, o, seg, n);
    } else if (strcmp(r->url, "/api/2.0/sql/statements/st1/result/chunks/1") == 0) {
        reply(o, 200, json_pack("{s:i,s:[[s,s]]}", "chunk_index", 1, "data_array", "beta", "7"));
    } else {
        F.unexpected++;
        reply(o, 404, json_pack("{s:s,s:s}", "error_code", "NOT_FOUND", "message", r->url));
    }
    free(copy);
    pthread_mutex_unlock(&F.mu);
}

static sl_dbx_client *client(const char *space)
{
    sl_dbx_settings s;
    sl_dbx_settings_init(&s);
    s.host = sl_xstrdup(S.url);
    s.token = sl_xstrdup("dapi-test-token-000");
    s.genie_space_id = space ? sl_xstrdup(space) : NULL;
    s.retry.initial_backoff_s = 0.01;
    sl_dbx_client *c = NULL;
    assert_int_equal(sl_dbx_client_new(&s, &c, NULL), SL_OK);
    sl_dbx_settings_cleanup(&s);
    return c;
}

typedef struct seen {
    int message_polls, result_polls;
    char last_state[40];
} seen;

static void on_progress(void *arg, const sl_dbx_progress *p)
{
    seen *s = arg;
    if (strcmp(p->op, "genie message") == 0)
        s->message_polls++;
    else if (strcmp(p->op, "genie query result") == 0)
        s->result_polls++;
    snprintf(s->last_state, sizeof(s->last_state), "%s", p->state ? p->state : "");
}

static sl_dbx_call fast_call(seen *s)
{
    sl_dbx_call call = {.poll_initial_ms = 5, .poll_max_ms = 20};
    if (s) {
        call.progress = on_progress;
        call.progress_arg = s;
    }
    return call;
}

static void answer_has_text_sql_and_every_row(void **state)
{
    (void)state;
    sl_dbx_client *c = client("s1");
    seen s = {0};
    sl_dbx_call call = fast_call(&s);
    sl_dbx_genie_state st;
    sl_dbx_genie_answer *a = NULL;
    sl_err err;
    sl_err_clear(&err);
    int before = F.starts;
    assert_int_equal(sl_dbx_genie_ask(c, "top products?", NULL, &call, &st, &a, &err), SL_OK);
    assert_int_equal(F.starts, before + 1);
    assert_string_equal(a->status, "COMPLETED");
    assert_string_equal(a->space_id, "s1");
    assert_string_equal(a->conversation_id, st.conversation_id);
    assert_string_equal(a->message_id, st.message_id);
    assert_string_equal(a->text, "Here they are.\nAnything else?");
    assert_string_equal(a->sql, "SELECT name, n FROM t");
    assert_string_equal(a->description, "Names by n.");
    assert_string_equal(a->statement_id, "st1");
    assert_false(a->reexecuted);
    assert_false(st.space_picked);
    /* three message polls, three result polls (PENDING, RUNNING, SUCCEEDED) */
    assert_int_equal(s.message_polls, 3);
    assert_int_equal(s.result_polls, 3);
    assert_int_equal(st.polls, 6);
    /* both chunks, NULL kept */
    assert_int_equal(json_array_size(a->rows), 3);
    char *rows = sl_json_dumps(a->rows);
    assert_string_equal(rows, "[[\"alpha\",\"10\"],[\"\xe6\x97\xa5\xe6\x9c\xac\",null],"
                              "[\"beta\",\"7\"]]");
    free(rows);
    assert_int_equal(json_array_size(a->columns), 2);
    assert_int_equal(F.deprecated_hits, 0);

    /* the JSON form: bounded rows, typed objects on request */
    json_t *j = sl_dbx_genie_answer_to_json(a, 2, 0);
    assert_int_equal(json_array_size(json_object_get(j, "rows")), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "row_count")), 3);
    assert_true(json_is_true(json_object_get(j, "truncated")));
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "columns"), 1), "type_name")),
                        "LONG");
    json_decref(j);
    j = sl_dbx_genie_answer_to_json(a, 0, SL_DBX_GENIE_JSON_ROW_OBJECTS);
    assert_false(json_is_true(json_object_get(j, "truncated")));
    json_t *r0 = json_array_get(json_object_get(j, "rows"), 0);
    assert_int_equal(json_integer_value(json_object_get(r0, "n")), 10);
    assert_string_equal(json_string_value(json_object_get(r0, "name")), "alpha");
    assert_true(json_is_null(json_object_get(json_array_get(json_object_get(j, "rows"), 1), "n")));
    json_decref(j);
    sl_dbx_genie_answer_free(a);

    /* a text-only answer: no SQL, no rows */
    assert_int_equal(sl_dbx_genie_ask(c, "text please", NULL, &call, &st, &a, &err), SL_OK);
    assert_null(a->sql);
    assert_int_equal(json_array_size(a->rows), 0);
    assert_int_equal(json_array_size(a->columns), 0);
    j = sl_dbx_genie_answer_to_json(a, 0, 0);
    assert_true(json_is_null(json_object_get(j, "sql")));
    json_decref(j);
    sl_dbx_genie_answer_free(a);
    sl_dbx_client_free(c);
}

static void follow_up_goes_to_the_conversation(void **state)
{
    (void)state;
    sl_dbx_client *c = client("s1");
    sl_dbx_call call = fast_call(NULL);
    sl_dbx_genie_ask_opts o;
    sl_dbx_genie_ask_opts_init(&o);
    o.conversation_id = "c1";
    sl_dbx_genie_state st;
    sl_dbx_genie_answer *a = NULL;
    sl_err err;
    sl_err_clear(&err);
    int starts = F.starts, follow = F.follow_ups;
    assert_int_equal(sl_dbx_genie_ask(c, "top again", &o, &call, &st, &a, &err), SL_OK);
    assert_int_equal(F.starts, starts);
    assert_int_equal(F.follow_ups, follow + 1);
    assert_string_equal(a->conversation_id, "c1");
    assert_int_equal(json_array_size(a->rows), 3);
    sl_dbx_genie_answer_free(a);

    /* an unknown conversation is one error */
    o.conversation_id = "c404";
    assert_int_equal(sl_dbx_genie_ask(c, "top", &o, &call, &st, &a, &err), SL_ENOTFOUND);
    assert_null(a);
    assert_false(st.genie_failed);
    assert_non_null(strstr(err.msg, "HTTP 404"));
    sl_dbx_client_free(c);
}

static void failed_and_cancelled_are_errors(void **state)
{
    (void)state;
    sl_dbx_client *c = client("s1");
    seen s = {0};
    sl_dbx_call call = fast_call(&s);
    sl_dbx_genie_state st;
    sl_dbx_genie_answer *a = NULL;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_dbx_genie_ask(c, "fail please", NULL, &call, &st, &a, &err), SL_EREMOTE);
    assert_null(a);
    assert_true(st.genie_failed);
    assert_string_equal(st.status, "FAILED");
    assert_string_equal(err.msg,
                        "Genie failed: No tables to query. (NO_TABLES_TO_QUERY_EXCEPTION)");
    assert_string_equal(err.error_code, "NO_TABLES_TO_QUERY_EXCEPTION");
    assert_false(err.retryable);

    /* CANCELLED is terminal: one poll, no waiting for the COMPLETED that would follow */
    memset(&s, 0, sizeof(s));
    assert_int_equal(sl_dbx_genie_ask(c, "cancel it", NULL, &call, &st, &a, &err), SL_EREMOTE);
    assert_null(a);
    assert_int_equal(s.message_polls, 1);
    assert_true(st.genie_failed);
    assert_string_equal(err.error_code, "CANCELLED");
    assert_non_null(strstr(err.msg, "Genie cancelled message"));

    /* the result statement failing is an error too, not an empty answer */
    assert_int_equal(sl_dbx_genie_ask(c, "badsql", NULL, &call, &st, &a, &err), SL_EINVAL);
    assert_null(a);
    assert_false(st.genie_failed);
    assert_non_null(strstr(err.msg, "UNRESOLVED_COLUMN"));
    assert_non_null(strstr(err.msg, "query result of Genie message"));
    sl_dbx_client_free(c);
}

static void expired_result_is_executed_once(void **state)
{
    (void)state;
    sl_dbx_client *c = client("s1");
    sl_dbx_call call = fast_call(NULL);
    sl_dbx_genie_state st;
    sl_dbx_genie_answer *a = NULL;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_dbx_genie_ask(c, "expired one", NULL, &call, &st, &a, &err), SL_OK);
    assert_string_equal(a->status, "COMPLETED");
    assert_true(a->reexecuted);
    assert_int_equal(json_array_size(a->rows), 3);
    assert_int_equal(find_msg(a->message_id)->executes, 1);
    sl_dbx_genie_answer_free(a);
    sl_dbx_client_free(c);
}

static void timeout_says_where_the_message_was(void **state)
{
    (void)state;
    sl_dbx_client *c = client("s1");
    sl_dbx_call call = fast_call(NULL);
    sl_dbx_genie_ask_opts o;
    sl_dbx_genie_ask_opts_init(&o);
    o.timeout_ms = 150;
    sl_dbx_genie_state st;
    sl_dbx_genie_answer *a = NULL;
    sl_err err;
    sl_err_clear(&err);
    int64_t t0 = sl_now_ms();
    assert_int_equal(sl_dbx_genie_ask(c, "slow one", &o, &call, &st, &a, &err), SL_ETIMEOUT);
    int64_t took = sl_now_ms() - t0;
    assert_true(took >= 140 && took < 2000);
    assert_null(a);
    assert_false(err.retryable);
    assert_true(sl_str_has_prefix(err.msg, "no answer from Genie within 150ms (message m"));
    assert_non_null(strstr(err.msg, "still ASKING_AI"));
    assert_non_null(strstr(err.msg, st.conversation_id));

    /* the caller's deadline, when sooner, is the one reported */
    o.timeout_ms = 0;
    call.deadline_ms = sl_now_ms() + 100;
    assert_int_equal(sl_dbx_genie_ask(c, "slow two", &o, &call, &st, &a, &err), SL_ETIMEOUT);
    assert_non_null(strstr(err.msg, "no answer from Genie within"));
    sl_dbx_client_free(c);
}

static void space_is_picked_or_rejected(void **state)
{
    (void)state;
    sl_dbx_client *c = client(NULL);
    sl_dbx_call call = fast_call(NULL);
    sl_dbx_genie_state st;
    sl_dbx_genie_answer *a = NULL;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_dbx_genie_ask(c, "text", NULL, &call, &st, &a, &err), SL_OK);
    assert_true(st.space_picked);
    assert_string_equal(st.space_id, "s1");
    assert_string_equal(st.space_title, "Sales");
    sl_dbx_genie_answer_free(a);

    sl_dbx_genie_ask_opts o;
    sl_dbx_genie_ask_opts_init(&o);
    o.space_id = "nope";
    assert_int_equal(sl_dbx_genie_ask(c, "text", &o, &call, &st, &a, &err), SL_ENOTFOUND);
    assert_null(a);
    assert_non_null(strstr(err.msg, "space nope"));
    assert_null(strchr(err.msg, '\n'));

    assert_int_equal(sl_dbx_genie_ask(c, "", NULL, &call, &st, &a, &err), SL_EINVAL);
    sl_dbx_client_free(c);
}

static void resume_polls_without_asking_again(void **state)
{
    (void)state;
    sl_dbx_client *c = client("s1");
    sl_dbx_call call = fast_call(NULL);
    sl_dbx_genie_state st;
    sl_dbx_genie_answer *a = NULL;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_dbx_genie_ask(c, "top three", NULL, &call, &st, &a, &err), SL_OK);
    char mid[72], cid[72];
    snprintf(mid, sizeof(mid), "%s", a->message_id);
    snprintf(cid, sizeof(cid), "%s", a->conversation_id);
    sl_dbx_genie_answer_free(a);
    int starts = F.starts, follow = F.follow_ups;
    sl_dbx_genie_ask_opts o;
    sl_dbx_genie_ask_opts_init(&o);
    o.conversation_id = cid;
    o.message_id = mid;
    assert_int_equal(sl_dbx_genie_ask(c, "top three", &o, &call, &st, &a, &err), SL_OK);
    assert_int_equal(F.starts, starts);
    assert_int_equal(F.follow_ups, follow);
    assert_string_equal(a->message_id, mid);
    assert_int_equal(json_array_size(a->rows), 3);
    sl_dbx_genie_answer_free(a);
    o.conversation_id = NULL;
    assert_int_equal(sl_dbx_genie_ask(c, "x", &o, &call, &st, &a, &err), SL_EINVAL);
    sl_dbx_client_free(c);
}

static void poll_intervals_come_from_the_environment(void **state)
{
    (void)state;
    sl_dbx_call call = {0};
    sl_err err;
    sl_err_clear(&err);
    unsetenv("GENIE_POLL_INTERVAL");
    unsetenv("GENIE_POLL_MAX_INTERVAL");
    assert_int_equal(sl_dbx_genie_poll_from_env(&call, &err), SL_OK);
    assert_int_equal(call.poll_initial_ms, 0);
    setenv("GENIE_POLL_INTERVAL", "50ms", 1);
    setenv("GENIE_POLL_MAX_INTERVAL", "2s", 1);
    assert_int_equal(sl_dbx_genie_poll_from_env(&call, &err), SL_OK);
    assert_int_equal(call.poll_initial_ms, 50);
    assert_int_equal(call.poll_max_ms, 2000);
    setenv("GENIE_POLL_INTERVAL", "soon", 1);
    assert_int_equal(sl_dbx_genie_poll_from_env(&call, &err), SL_EINVAL);
    assert_non_null(strstr(err.msg, "bad GENIE_POLL_INTERVAL 'soon'"));
    unsetenv("GENIE_POLL_INTERVAL");
    unsetenv("GENIE_POLL_MAX_INTERVAL");
}

static int setup(void **state)
{
    (void)state;
    pthread_mutex_init(&F.mu, NULL);
    ts_start(&S, handler, &F);
    sl_log_set_level(SL_LOG_ERROR);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ts_stop(&S);
    assert_int_equal(F.unexpected, 0);
    sl_dbx_thread_cleanup();
    return 0;
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(answer_has_text_sql_and_every_row),
        cmocka_unit_test(follow_up_goes_to_the_conversation),
        cmocka_unit_test(failed_and_cancelled_are_errors),
        cmocka_unit_test(expired_result_is_executed_once),
        cmocka_unit_test(timeout_says_where_the_message_was),
        cmocka_unit_test(space_is_picked_or_rejected),
        cmocka_unit_test(resume_polls_without_asking_again),
        cmocka_unit_test(poll_intervals_come_from_the_environment),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
