/*
 * test_dbx_genie_step.c - the Genie ask step function (src/dbx/genie_step.c) fed canned
 * replies, no server and no clock: the happy path (start, polls with growing waits,
 * query result polled then every chunk read), a follow-up whose reply is already
 * terminal, FAILED and CANCELLED as failures with Genie's words, an expired result
 * re-executed once, a failed result statement, 429 with Retry-After waited out and
 * re-sent until the retries are used up (or failed at once when the wait would pass the
 * deadline), the poll timeout with where the message was, a request timing out at the
 * deadline, malformed JSON, HTTP errors passed through, resume, and first-chunk-only
 * counting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/dbx.h"

static sl_err E; /* the failure of the last fail_reply */

static sl_dbx_genie_step *new_step(const char *conversation_id, int max_retries,
                                   int64_t deadline_ms)
{
    sl_dbx_genie_step_opts o;
    sl_dbx_genie_step_opts_init(&o);
    o.space_id = "s1";
    o.question = "top products?";
    o.conversation_id = conversation_id;
    o.poll_initial_ms = 100;
    o.poll_max_ms = 200;
    o.max_retries = max_retries;
    o.deadline_ms = deadline_ms;
    o.budget_ms = deadline_ms;
    sl_dbx_genie_step *g = NULL;
    assert_int_equal(sl_dbx_genie_step_new(&o, &g, NULL), SL_OK);
    return g;
}

/* Feed a 2xx body; returns the kind. */
static sl_dbx_genie_step_kind ok_reply(sl_dbx_genie_step *g, int64_t now, const char *body,
                                       sl_dbx_genie_next *nx)
{
    static sl_err none;
    sl_err_clear(&none);
    sl_dbx_response r = {.code = SL_OK,
                         .err = &none,
                         .status = 200,
                         .body = body,
                         .body_len = strlen(body),
                         .bytes = strlen(body)};
    return sl_dbx_genie_step_next(g, &r, now, nx);
}

static sl_dbx_genie_step_kind fail_reply(sl_dbx_genie_step *g, int64_t now, sl_code code,
                                         int http_status, int64_t retry_after_ms,
                                         sl_dbx_genie_next *nx)
{
    sl_err_clear(&E);
    sl_err_set(&E, code, "get Genie message m1: HTTP %d TEST", http_status);
    E.http_status = http_status;
    E.retry_after_ms = retry_after_ms;
    E.retryable = true;
    sl_dbx_response r = {.code = code, .err = &E, .status = http_status, .body = ""};
    return sl_dbx_genie_step_next(g, &r, now, nx);
}

static sl_dbx_genie_step_kind after_wait(sl_dbx_genie_step *g, int64_t now, sl_dbx_genie_next *nx)
{
    return sl_dbx_genie_step_next(g, NULL, now, nx);
}

#define START_REPLY                                                                                \
    "{\"conversation_id\":\"c1\",\"message_id\":\"m1\",\"message\":{\"id\":\"m1\","                \
    "\"status\":\"SUBMITTED\"}}"
#define MSG(status) "{\"message_id\":\"m1\",\"conversation_id\":\"c1\",\"status\":\"" status "\"}"
#define COMPLETED_QUERY                                                                            \
    "{\"message_id\":\"m1\",\"status\":\"COMPLETED\",\"attachments\":["                            \
    "{\"attachment_id\":\"t1\",\"text\":{\"content\":\"Here they are.\"}},"                        \
    "{\"attachment_id\":\"a1\",\"query\":{\"query\":\"SELECT 1\",\"description\":\"One.\","        \
    "\"statement_id\":\"st1\"}},"                                                                  \
    "{\"attachment_id\":\"t2\",\"text\":{\"content\":\"Anything else?\"}}]}"
#define RESULT(state)                                                                              \
    "{\"statement_response\":{\"statement_id\":\"st1\",\"status\":{\"state\":\"" state "\"}}}"
#define SUCCEEDED_WITH_CHUNKS                                                                      \
    "{\"statement_response\":{\"statement_id\":\"st1\",\"status\":{\"state\":\"SUCCEEDED\"},"      \
    "\"manifest\":{\"schema\":{\"columns\":[{\"name\":\"n\",\"type_name\":\"LONG\"}]},"            \
    "\"total_row_count\":3,\"total_chunk_count\":2},"                                              \
    "\"result\":{\"chunk_index\":0,\"data_array\":[[\"1\"],[\"2\"]],\"next_chunk_index\":1,"       \
    "\"next_chunk_internal_link\":\"/api/2.0/sql/statements/st1/result/chunks/1\"}}}"

static void happy_path_polls_then_reads_every_chunk(void **state)
{
    (void)state;
    sl_dbx_genie_step *g = new_step(NULL, 0, 0);
    sl_dbx_genie_next nx;
    assert_int_equal(sl_dbx_genie_step_next(g, NULL, 0, &nx), SL_DBX_GENIE_STEP_REQUEST);
    assert_string_equal(nx.req->method, "POST");
    assert_string_equal(nx.req->path, "/api/2.0/genie/spaces/s1/start-conversation");
    assert_string_equal(nx.req->body, "{\"content\":\"top products?\"}");
    assert_string_equal(nx.req->what, "start Genie conversation in space s1");
    assert_int_equal(nx.req->timeout_ms, 0);

    /* the reply's message is SUBMITTED: wait the first interval, then poll */
    assert_int_equal(ok_reply(g, 10, START_REPLY, &nx), SL_DBX_GENIE_STEP_WAIT);
    assert_int_equal(nx.wait_ms, 100);
    assert_false(nx.retry);
    assert_null(nx.progress.op);
    assert_string_equal(sl_dbx_genie_step_state(g)->conversation_id, "c1");
    assert_string_equal(sl_dbx_genie_step_state(g)->message_id, "m1");
    assert_int_equal(after_wait(g, 110, &nx), SL_DBX_GENIE_STEP_REQUEST);
    assert_string_equal(nx.req->method, "GET");
    assert_string_equal(nx.req->path, "/api/2.0/genie/spaces/s1/conversations/c1/messages/m1");
    assert_string_equal(nx.req->what, "get Genie message m1");

    /* not terminal: the wait grows x1.5, then caps at poll_max */
    assert_int_equal(ok_reply(g, 120, MSG("ASKING_AI"), &nx), SL_DBX_GENIE_STEP_WAIT);
    assert_int_equal(nx.wait_ms, 150);
    assert_string_equal(nx.progress.op, "genie message");
    assert_string_equal(nx.progress.state, "ASKING_AI");
    assert_int_equal(nx.progress.polls, 1);
    assert_int_equal(after_wait(g, 270, &nx), SL_DBX_GENIE_STEP_REQUEST);
    assert_int_equal(ok_reply(g, 280, MSG("EXECUTING_QUERY"), &nx), SL_DBX_GENIE_STEP_WAIT);
    assert_int_equal(nx.wait_ms, 200);
    assert_int_equal(after_wait(g, 480, &nx), SL_DBX_GENIE_STEP_REQUEST);

    /* COMPLETED with a query: its result, polled while PENDING */
    assert_int_equal(ok_reply(g, 490, COMPLETED_QUERY, &nx), SL_DBX_GENIE_STEP_REQUEST);
    assert_string_equal(nx.req->method, "GET");
    assert_string_equal(nx.req->path,
                        "/api/2.0/genie/spaces/s1/conversations/c1/messages/m1/attachments/a1/"
                        "query-result");
    assert_string_equal(nx.req->what, "get query result of Genie attachment a1");
    const sl_dbx_genie_answer *partial = sl_dbx_genie_step_answer(g);
    assert_non_null(partial);
    assert_string_equal(partial->sql, "SELECT 1");
    assert_int_equal(ok_reply(g, 500, RESULT("PENDING"), &nx), SL_DBX_GENIE_STEP_WAIT);
    assert_int_equal(nx.wait_ms, 100); /* a fresh interval for the result */
    assert_string_equal(nx.progress.op, "genie query result");
    assert_string_equal(nx.progress.id, "a1");
    assert_string_equal(nx.progress.state, "PENDING"); /* still valid after the call */
    assert_int_equal(after_wait(g, 600, &nx), SL_DBX_GENIE_STEP_REQUEST);
    assert_non_null(strstr(nx.req->path, "/query-result"));

    /* SUCCEEDED: the first chunk inline, then the linked one */
    assert_int_equal(ok_reply(g, 610, SUCCEEDED_WITH_CHUNKS, &nx), SL_DBX_GENIE_STEP_REQUEST);
    assert_string_equal(nx.req->path, "/api/2.0/sql/statements/st1/result/chunks/1");
    assert_string_equal(nx.req->what, "fetch result chunk of statement st1");
    const char *chunk1 = "{\"chunk_index\":1,\"data_array\":[[null]]}";
    assert_int_equal(ok_reply(g, 620, chunk1, &nx), SL_DBX_GENIE_STEP_DONE);
    assert_int_equal(after_wait(g, 630, &nx), SL_DBX_GENIE_STEP_DONE); /* stays done */

    const sl_dbx_genie_state *st = sl_dbx_genie_step_state(g);
    assert_int_equal(st->polls, 5); /* 3 message polls, 2 result polls */
    assert_string_equal(st->status, "COMPLETED");
    sl_dbx_genie_answer *a = sl_dbx_genie_step_take_answer(g);
    assert_non_null(a);
    assert_null(sl_dbx_genie_step_take_answer(g));
    assert_string_equal(a->text, "Here they are.\nAnything else?");
    assert_string_equal(a->description, "One.");
    assert_string_equal(a->statement_id, "st1");
    assert_string_equal(a->status, "COMPLETED");
    assert_false(a->reexecuted);
    assert_int_equal(json_array_size(a->columns), 1);
    char *rows = sl_json_dumps(a->rows);
    assert_string_equal(rows, "[[\"1\"],[\"2\"],[null]]");
    free(rows);
    assert_int_equal(a->row_count, 3);
    assert_int_equal(a->response_bytes, (int64_t)(strlen(COMPLETED_QUERY) +
                                                  strlen(SUCCEEDED_WITH_CHUNKS) + strlen(chunk1)));
    sl_dbx_genie_answer_free(a);
    sl_dbx_genie_step_free(g);
}

static void follow_up_already_answered_needs_no_poll(void **state)
{
    (void)state;
    sl_dbx_genie_step *g = new_step("c9", 0, 0);
    sl_dbx_genie_next nx;
    assert_int_equal(sl_dbx_genie_step_next(g, NULL, 0, &nx), SL_DBX_GENIE_STEP_REQUEST);
    assert_string_equal(nx.req->path, "/api/2.0/genie/spaces/s1/conversations/c9/messages");
    assert_string_equal(nx.req->what, "send Genie message to conversation c9");
    /* create-message answers with the GenieMessage itself (no conversation_id here) */
    const char *reply = "{\"id\":\"m7\",\"status\":\"COMPLETED\",\"attachments\":[{\"text\":"
                        "{\"content\":\"Forty-two.\"}}]}";
    assert_int_equal(ok_reply(g, 5, reply, &nx), SL_DBX_GENIE_STEP_DONE);
    sl_dbx_genie_answer *a = sl_dbx_genie_step_take_answer(g);
    assert_string_equal(a->conversation_id, "c9");
    assert_string_equal(a->message_id, "m7");
    assert_string_equal(a->text, "Forty-two.");
    assert_null(a->sql);
    assert_int_equal(a->row_count, -1);
    assert_int_equal(sl_dbx_genie_step_state(g)->polls, 0);
    sl_dbx_genie_answer_free(a);
    sl_dbx_genie_step_free(g);
}

/* Start, then one poll that answers `msg`. */
static sl_dbx_genie_step_kind to_first_poll(sl_dbx_genie_step *g, const char *msg,
                                            sl_dbx_genie_next *nx)
{
    assert_int_equal(sl_dbx_genie_step_next(g, NULL, 0, nx), SL_DBX_GENIE_STEP_REQUEST);
    assert_int_equal(ok_reply(g, 1, START_REPLY, nx), SL_DBX_GENIE_STEP_WAIT);
    assert_int_equal(after_wait(g, 101, nx), SL_DBX_GENIE_STEP_REQUEST);
    return ok_reply(g, 102, msg, nx);
}

static void failed_and_cancelled_are_failures(void **state)
{
    (void)state;
    sl_dbx_genie_next nx;
    sl_dbx_genie_step *g = new_step(NULL, 0, 0);
    const char *failed = "{\"message_id\":\"m1\",\"status\":\"FAILED\",\"error\":{\"error\":"
                         "\"No tables to query.\",\"type\":\"NO_TABLES_TO_QUERY_EXCEPTION\"}}";
    assert_int_equal(to_first_poll(g, failed, &nx), SL_DBX_GENIE_STEP_FAILED);
    const sl_err *e = sl_dbx_genie_step_error(g);
    assert_int_equal(e->code, SL_EREMOTE);
    assert_string_equal(e->msg, "Genie failed: No tables to query. (NO_TABLES_TO_QUERY_EXCEPTION)");
    assert_string_equal(e->error_code, "NO_TABLES_TO_QUERY_EXCEPTION");
    assert_false(e->retryable);
    assert_true(sl_dbx_genie_step_state(g)->genie_failed);
    assert_null(sl_dbx_genie_step_take_answer(g));
    assert_null(sl_dbx_genie_step_answer(g));
    /* Genie's own words stay reachable (the load generator reports them) */
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(sl_dbx_genie_step_message(g), "error"), "type")),
                        "NO_TABLES_TO_QUERY_EXCEPTION");
    sl_dbx_genie_step_free(g);

    g = new_step(NULL, 0, 0);
    const char *limited = "{\"message_id\":\"m1\",\"status\":\"FAILED\",\"error\":{\"error\":"
                          "\"busy\",\"type\":\"RATE_LIMIT_EXCEEDED_GENERIC_EXCEPTION\"}}";
    assert_int_equal(to_first_poll(g, limited, &nx), SL_DBX_GENIE_STEP_FAILED);
    assert_int_equal(sl_dbx_genie_step_error(g)->code, SL_ELIMIT);
    assert_true(sl_dbx_genie_step_error(g)->retryable);
    sl_dbx_genie_step_free(g);

    g = new_step(NULL, 0, 0);
    assert_int_equal(to_first_poll(g, MSG("CANCELLED"), &nx), SL_DBX_GENIE_STEP_FAILED);
    e = sl_dbx_genie_step_error(g);
    assert_int_equal(e->code, SL_EREMOTE);
    assert_string_equal(e->error_code, "CANCELLED");
    assert_string_equal(e->msg, "Genie cancelled message m1 (conversation c1)");
    assert_true(sl_dbx_genie_step_state(g)->genie_failed);
    sl_dbx_genie_step_free(g);
}

static void expired_result_is_executed_once(void **state)
{
    (void)state;
    sl_dbx_genie_next nx;
    sl_dbx_genie_step *g = new_step(NULL, 0, 0);
    const char *expired = "{\"message_id\":\"m1\",\"status\":\"QUERY_RESULT_EXPIRED\","
                          "\"attachments\":[{\"attachment_id\":\"a1\",\"query\":{\"query\":"
                          "\"SELECT 1\"}}]}";
    assert_int_equal(to_first_poll(g, expired, &nx), SL_DBX_GENIE_STEP_REQUEST);
    assert_string_equal(nx.req->method, "POST");
    assert_non_null(strstr(nx.req->path, "/attachments/a1/execute-query"));
    assert_string_equal(nx.req->what, "re-run query of Genie attachment a1");
    /* RUNNING: poll with GET query-result, never a second execute */
    assert_int_equal(ok_reply(g, 200, RESULT("RUNNING"), &nx), SL_DBX_GENIE_STEP_WAIT);
    assert_int_equal(after_wait(g, 300, &nx), SL_DBX_GENIE_STEP_REQUEST);
    assert_string_equal(nx.req->method, "GET");
    const char *ok = "{\"statement_response\":{\"statement_id\":\"st2\",\"status\":{\"state\":"
                     "\"SUCCEEDED\"},\"result\":{\"data_array\":[[\"x\"]]}}}";
    assert_int_equal(ok_reply(g, 310, ok, &nx), SL_DBX_GENIE_STEP_DONE);
    sl_dbx_genie_answer *a = sl_dbx_genie_step_take_answer(g);
    assert_true(a->reexecuted);
    assert_string_equal(a->status, "COMPLETED");
    assert_string_equal(a->statement_id, "st2");
    assert_int_equal(a->row_count, 1);
    sl_dbx_genie_answer_free(a);
    sl_dbx_genie_step_free(g);

    /* a CLOSED result is re-executed once; CLOSED again is the end */
    g = new_step(NULL, 0, 0);
    assert_int_equal(to_first_poll(g, COMPLETED_QUERY, &nx), SL_DBX_GENIE_STEP_REQUEST);
    assert_int_equal(ok_reply(g, 200, RESULT("CLOSED"), &nx), SL_DBX_GENIE_STEP_REQUEST);
    assert_non_null(strstr(nx.req->path, "/execute-query"));
    assert_int_equal(ok_reply(g, 210, RESULT("CLOSED"), &nx), SL_DBX_GENIE_STEP_FAILED);
    assert_int_equal(sl_dbx_genie_step_error(g)->code, SL_ESTALE);
    assert_true(sl_dbx_genie_step_state(g)->result_failed);
    sl_dbx_genie_step_free(g);
}

static void failed_result_statement_is_a_failure(void **state)
{
    (void)state;
    sl_dbx_genie_next nx;
    sl_dbx_genie_step *g = new_step(NULL, 0, 0);
    assert_int_equal(to_first_poll(g, COMPLETED_QUERY, &nx), SL_DBX_GENIE_STEP_REQUEST);
    const char *failed = "{\"statement_response\":{\"statement_id\":\"st1\",\"status\":{\"state\":"
                         "\"FAILED\",\"error\":{\"error_code\":\"BAD_REQUEST\",\"message\":"
                         "\"[UNRESOLVED_COLUMN] nope\"}}}}";
    assert_int_equal(ok_reply(g, 200, failed, &nx), SL_DBX_GENIE_STEP_FAILED);
    const sl_err *e = sl_dbx_genie_step_error(g);
    assert_int_equal(e->code, SL_EINVAL);
    assert_true(sl_str_has_prefix(e->msg, "query result of Genie message m1: statement st1 "
                                          "failed: BAD_REQUEST"));
    assert_true(sl_dbx_genie_step_state(g)->result_failed);
    assert_false(sl_dbx_genie_step_state(g)->genie_failed);
    /* what Genie said is still there for a report */
    assert_string_equal(sl_dbx_genie_step_answer(g)->sql, "SELECT 1");
    sl_dbx_genie_step_free(g);
}

static void status_429_waits_retry_after_then_resends(void **state)
{
    (void)state;
    sl_dbx_genie_next nx;
    sl_dbx_genie_step *g = new_step(NULL, 2, 0);
    assert_int_equal(sl_dbx_genie_step_next(g, NULL, 0, &nx), SL_DBX_GENIE_STEP_REQUEST);
    char *path = sl_xstrdup(nx.req->path), *body = sl_xstrdup(nx.req->body);
    assert_int_equal(fail_reply(g, 1, SL_ELIMIT, 429, 2000, &nx), SL_DBX_GENIE_STEP_WAIT);
    assert_int_equal(nx.wait_ms, 2000);
    assert_true(nx.retry);
    assert_int_equal(after_wait(g, 2001, &nx), SL_DBX_GENIE_STEP_REQUEST);
    assert_string_equal(nx.req->path, path); /* the same request again */
    assert_string_equal(nx.req->body, body);
    /* 503 counts against the same budget */
    assert_int_equal(fail_reply(g, 2002, SL_EREMOTE, 503, 500, &nx), SL_DBX_GENIE_STEP_WAIT);
    assert_int_equal(nx.wait_ms, 500);
    assert_int_equal(after_wait(g, 2502, &nx), SL_DBX_GENIE_STEP_REQUEST);
    assert_int_equal(fail_reply(g, 2503, SL_ELIMIT, 429, 1000, &nx), SL_DBX_GENIE_STEP_FAILED);
    const sl_err *e = sl_dbx_genie_step_error(g);
    assert_int_equal(e->code, SL_ELIMIT);
    assert_int_equal(e->http_status, 429);
    assert_int_equal(e->retry_after_ms, 1000);
    assert_non_null(strstr(e->msg, "(retries exhausted)"));
    sl_dbx_genie_step_free(g);
    free(path);
    free(body);

    /* a 429 on a later request gets a budget of its own; one whose wait would pass the
     * deadline fails at once */
    g = new_step(NULL, 1, 5000);
    assert_int_equal(to_first_poll(g, MSG("ASKING_AI"), &nx), SL_DBX_GENIE_STEP_WAIT);
    assert_int_equal(after_wait(g, 300, &nx), SL_DBX_GENIE_STEP_REQUEST);
    assert_int_equal(nx.req->timeout_ms, 4700); /* bounded by the deadline */
    assert_int_equal(fail_reply(g, 301, SL_ELIMIT, 429, 10000, &nx), SL_DBX_GENIE_STEP_FAILED);
    assert_int_equal(sl_dbx_genie_step_error(g)->code, SL_ELIMIT);
    assert_null(strstr(sl_dbx_genie_step_error(g)->msg, "retries exhausted"));
    sl_dbx_genie_step_free(g);

    /* without retries (a transport that retried already) the 429 is the answer */
    g = new_step(NULL, 0, 0);
    assert_int_equal(sl_dbx_genie_step_next(g, NULL, 0, &nx), SL_DBX_GENIE_STEP_REQUEST);
    assert_int_equal(fail_reply(g, 1, SL_ELIMIT, 429, 2000, &nx), SL_DBX_GENIE_STEP_FAILED);
    assert_int_equal(sl_dbx_genie_step_error(g)->retry_after_ms, 2000);
    sl_dbx_genie_step_free(g);
}

static void poll_timeout_says_where_the_message_was(void **state)
{
    (void)state;
    sl_dbx_genie_next nx;
    sl_dbx_genie_step *g = new_step(NULL, 0, 1000);
    assert_int_equal(sl_dbx_genie_step_next(g, NULL, 0, &nx), SL_DBX_GENIE_STEP_REQUEST);
    assert_int_equal(nx.req->timeout_ms, 1000);
    assert_int_equal(ok_reply(g, 10, START_REPLY, &nx), SL_DBX_GENIE_STEP_WAIT);
    int64_t now = 10;
    int polls = 0;
    for (;;) {
        now += nx.wait_ms;
        if (after_wait(g, now, &nx) != SL_DBX_GENIE_STEP_REQUEST)
            break;
        polls++;
        now += 5;
        assert_int_equal(ok_reply(g, now, MSG("ASKING_AI"), &nx), SL_DBX_GENIE_STEP_WAIT);
        assert_true(now + nx.wait_ms <= 1000); /* never waits past the deadline */
    }
    assert_int_equal(nx.kind, SL_DBX_GENIE_STEP_FAILED);
    assert_int_equal(now, 1000);
    const sl_err *e = sl_dbx_genie_step_error(g);
    assert_int_equal(e->code, SL_ETIMEOUT);
    assert_false(e->retryable);
    char want[200];
    snprintf(want, sizeof(want),
             "no answer from Genie within 1s (message m1 still ASKING_AI after %d polls; "
             "conversation c1)",
             polls);
    assert_string_equal(e->msg, want);
    sl_dbx_genie_step_free(g);

    /* a request that timed out at the deadline is the ask's timeout too */
    g = new_step(NULL, 0, 1000);
    assert_int_equal(to_first_poll(g, MSG("ASKING_AI"), &nx), SL_DBX_GENIE_STEP_WAIT);
    assert_int_equal(after_wait(g, 300, &nx), SL_DBX_GENIE_STEP_REQUEST);
    assert_int_equal(fail_reply(g, 1000, SL_ETIMEOUT, 0, -1, &nx), SL_DBX_GENIE_STEP_FAILED);
    assert_true(sl_str_has_prefix(sl_dbx_genie_step_error(g)->msg,
                                  "no answer from Genie within 1s (message m1 still ASKING_AI"));
    sl_dbx_genie_step_free(g);

    /* before the deadline a timed-out request is just that request's failure */
    g = new_step(NULL, 0, 1000);
    assert_int_equal(sl_dbx_genie_step_next(g, NULL, 0, &nx), SL_DBX_GENIE_STEP_REQUEST);
    assert_int_equal(fail_reply(g, 50, SL_ETIMEOUT, 0, -1, &nx), SL_DBX_GENIE_STEP_FAILED);
    assert_string_equal(sl_dbx_genie_step_error(g)->msg, "get Genie message m1: HTTP 0 TEST");
    sl_dbx_genie_step_free(g);
}

static void malformed_json_and_http_errors_fail(void **state)
{
    (void)state;
    sl_dbx_genie_next nx;
    sl_dbx_genie_step *g = new_step(NULL, 3, 0);
    assert_int_equal(to_first_poll(g, "{\"status\": COMPLETED", &nx), SL_DBX_GENIE_STEP_FAILED);
    const sl_err *e = sl_dbx_genie_step_error(g);
    assert_int_equal(e->code, SL_EREMOTE);
    assert_true(
        sl_str_has_prefix(e->msg, "get Genie message m1: invalid JSON in response (line 1"));
    sl_dbx_genie_step_free(g);

    /* a start reply without ids */
    g = new_step(NULL, 0, 0);
    assert_int_equal(sl_dbx_genie_step_next(g, NULL, 0, &nx), SL_DBX_GENIE_STEP_REQUEST);
    assert_int_equal(ok_reply(g, 1, "{}", &nx), SL_DBX_GENIE_STEP_FAILED);
    assert_string_equal(sl_dbx_genie_step_error(g)->msg,
                        "start Genie conversation in space s1: response lacks "
                        "conversation_id/message_id");
    sl_dbx_genie_step_free(g);

    /* a 404 is not retried: its error is the ask's */
    g = new_step(NULL, 3, 0);
    assert_int_equal(sl_dbx_genie_step_next(g, NULL, 0, &nx), SL_DBX_GENIE_STEP_REQUEST);
    assert_int_equal(fail_reply(g, 1, SL_ENOTFOUND, 404, -1, &nx), SL_DBX_GENIE_STEP_FAILED);
    assert_int_equal(sl_dbx_genie_step_error(g)->code, SL_ENOTFOUND);
    assert_int_equal(sl_dbx_genie_step_error(g)->http_status, 404);
    assert_false(sl_dbx_genie_step_state(g)->genie_failed);
    sl_dbx_genie_step_free(g);
}

static void resume_polls_first_and_counting_reads_one_chunk(void **state)
{
    (void)state;
    sl_dbx_genie_step_opts o;
    sl_dbx_genie_step_opts_init(&o);
    o.space_id = "s1";
    o.conversation_id = "c1";
    o.message_id = "m1";
    o.first_chunk_only = true;
    sl_dbx_genie_step *g = NULL;
    assert_int_equal(sl_dbx_genie_step_new(&o, &g, NULL), SL_OK);
    sl_dbx_genie_next nx;
    assert_int_equal(sl_dbx_genie_step_next(g, NULL, 0, &nx), SL_DBX_GENIE_STEP_REQUEST);
    assert_string_equal(nx.req->method, "GET");
    assert_string_equal(nx.req->path, "/api/2.0/genie/spaces/s1/conversations/c1/messages/m1");
    assert_int_equal(ok_reply(g, 1, COMPLETED_QUERY, &nx), SL_DBX_GENIE_STEP_REQUEST);
    assert_int_equal(ok_reply(g, 2, SUCCEEDED_WITH_CHUNKS, &nx), SL_DBX_GENIE_STEP_DONE);
    const sl_dbx_genie_answer *a = sl_dbx_genie_step_answer(g);
    assert_int_equal(json_array_size(a->rows), 2);
    assert_int_equal(a->row_count, 3); /* the manifest's total */
    sl_dbx_genie_step_free(g);

    /* bad options */
    sl_err err;
    sl_err_clear(&err);
    o.conversation_id = NULL;
    assert_int_equal(sl_dbx_genie_step_new(&o, &g, &err), SL_EINVAL);
    assert_non_null(strstr(err.msg, "needs its conversation"));
    o.message_id = NULL;
    assert_int_equal(sl_dbx_genie_step_new(&o, &g, &err), SL_EINVAL);
    assert_string_equal(err.msg, "ask Genie: empty question");
    assert_null(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(happy_path_polls_then_reads_every_chunk),
        cmocka_unit_test(follow_up_already_answered_needs_no_poll),
        cmocka_unit_test(failed_and_cancelled_are_failures),
        cmocka_unit_test(expired_result_is_executed_once),
        cmocka_unit_test(failed_result_statement_is_a_failure),
        cmocka_unit_test(status_429_waits_retry_after_then_resends),
        cmocka_unit_test(poll_timeout_says_where_the_message_was),
        cmocka_unit_test(malformed_json_and_http_errors_fail),
        cmocka_unit_test(resume_polls_first_and_counting_reads_one_chunk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
