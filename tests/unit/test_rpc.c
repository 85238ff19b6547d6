/*
 * test_rpc.c - the rpc layer (src/rpc) over loopback: an in-process server on 127.0.0.1:0
 * with handlers built on the generated sluice.v1 messages, and the client against it.
 * Covers a unary round trip with metadata, handler statuses, deadlines, unknown methods,
 * the message size limit, undecodable requests, server streaming, concurrency, and a stop
 * that answers a call still in its handler.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "sluice/rpc.h"
#include "sluice/v1/sluice.pb-c.h"

#define M_START   "/sluice.v1.Sluice/StartWorkflow"
#define M_HISTORY "/sluice.v1.Sluice/GetHistory"

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What the handlers saw, for the tests to wait on (polled with a deadline). */
static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;
static int slow_entered;
static int slow_cancelled;
static int slow_stopping;

static void seen_add(int *v)
{
    pthread_mutex_lock(&seen_mu);
    (*v)++;
    pthread_mutex_unlock(&seen_mu);
}

static int seen_get(const int *v)
{
    pthread_mutex_lock(&seen_mu);
    int n = *v;
    pthread_mutex_unlock(&seen_mu);
    return n;
}

static bool wait_for(const int *v, int want, int64_t timeout_ms)
{
    int64_t end = mono_ms() + timeout_ms;
    while (seen_get(v) < want) {
        if (mono_ms() > end)
            return false;
        struct timespec ts = {0, 2 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return true;
}

/*
 * StartWorkflow, echo-like: the response names the request's id and type. Type "missing"
 * is NOT_FOUND; type "slow" waits (a long poll) until the client goes or the server stops,
 * and at a stop answers with an empty response, as a poll answered empty.
 */
static void start_handler(sl_rpc_call *call, void *arg)
{
    (void)arg;
    Sluice__V1__StartWorkflowRequest *req = (Sluice__V1__StartWorkflowRequest *)sl_rpc_call_unpack(
        call, &sluice__v1__start_workflow_request__descriptor);
    if (!req)
        return; /* answered INVALID_ARGUMENT */
    Sluice__V1__StartWorkflowResponse resp = SLUICE__V1__START_WORKFLOW_RESPONSE__INIT;
    char run[128];
    if (strcmp(req->type, "missing") == 0) {
        sl_rpc_call_finish(call, SL_RPC_NOT_FOUND, "workflow type '%s' is not registered",
                           req->type);
        goto out;
    }
    if (strcmp(req->type, "slow") == 0) {
        seen_add(&slow_entered);
        sl_rpc_wait w = sl_rpc_call_wait(call, 20000);
        if (w == SL_RPC_WAIT_CANCELLED) {
            seen_add(&slow_cancelled);
            sl_rpc_call_finish(call, SL_RPC_CANCELLED, NULL);
            goto out;
        }
        if (w == SL_RPC_WAIT_STOPPING)
            seen_add(&slow_stopping);
        if (sl_rpc_call_reply_msg(call, &resp.base) != SL_OK)
            abort(); /* no cmocka asserts off the test thread */
        goto out;
    }
    if (strcmp(req->type, "deadline") == 0) /* the run id reports the time left */
        snprintf(run, sizeof run, "%lld", (long long)sl_rpc_call_remaining_ms(call));
    else if (!sl_rpc_call_metadata(call, "x-run", run, sizeof run))
        snprintf(run, sizeof run, "run-%s", req->type);
    resp.workflow_id = req->workflow_id;
    resp.run_id = run;
    resp.existing =
        req->retry_policy && req->retry_policy->maximum_attempts == 3 &&
        req->id_reuse_policy == SLUICE__V1__ID_REUSE_POLICY__ID_REUSE_POLICY_REJECT_DUPLICATE;
    if (sl_rpc_call_reply_msg(call, &resp.base) != SL_OK)
        abort();
out:
    protobuf_c_message_free_unpacked(&req->base, NULL);
}

/* GetHistory: after_event_id events, ids 1..N, then OK. */
static void history_handler(sl_rpc_call *call, void *arg)
{
    (void)arg;
    Sluice__V1__GetHistoryRequest *req = (Sluice__V1__GetHistoryRequest *)sl_rpc_call_unpack(
        call, &sluice__v1__get_history_request__descriptor);
    if (!req)
        return;
    for (int64_t i = 1; i <= req->after_event_id; i++) {
        char attrs[64];
        snprintf(attrs, sizeof attrs, "{\"i\":%lld}", (long long)i);
        Sluice__V1__HistoryEvent ev = SLUICE__V1__HISTORY_EVENT__INIT;
        ev.event_id = i;
        ev.type = (char *)"ActivityTaskCompleted";
        ev.attributes_json = attrs;
        if (sl_rpc_call_write_msg(call, &ev.base) != SL_OK)
            break;
    }
    sl_rpc_call_finish(call, SL_RPC_OK, NULL);
    protobuf_c_message_free_unpacked(&req->base, NULL);
}

struct fixture {
    sl_rpc_server *srv;
    sl_rpc_client *cli;
};

static struct fixture *fixture_new(int64_t max_msg)
{
    struct fixture *f = calloc(1, sizeof *f);
    sl_err err;
    sl_rpc_server_opts so;
    sl_rpc_server_opts_init(&so);
    so.listen = "127.0.0.1:0";
    so.max_message_bytes = max_msg;
    assert_int_equal(sl_rpc_server_new(&so, &f->srv, &err), SL_OK);
    assert_true(sl_rpc_server_port(f->srv) > 0);
    assert_int_equal(sl_rpc_server_handle(f->srv, M_START, start_handler, NULL, &err), SL_OK);
    assert_int_equal(sl_rpc_server_handle(f->srv, M_HISTORY, history_handler, NULL, &err), SL_OK);
    assert_int_equal(sl_rpc_server_handle(f->srv, M_START, start_handler, NULL, &err), SL_EINVAL);
    assert_int_equal(sl_rpc_server_start(f->srv, &err), SL_OK);
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", sl_rpc_server_port(f->srv));
    sl_rpc_client_opts co;
    sl_rpc_client_opts_init(&co);
    co.target = target;
    assert_int_equal(sl_rpc_client_new(&co, &f->cli, &err), SL_OK);
    return f;
}

static void fixture_free(struct fixture *f)
{
    sl_rpc_client_free(f->cli);
    sl_rpc_server_free(f->srv);
    free(f);
}

static int setup(void **state)
{
    *state = fixture_new(64 * 1024);
    return 0;
}

static int teardown(void **state)
{
    fixture_free(*state);
    return 0;
}

/* Call StartWorkflow with type/id; returns the sl_code, the reply in *out. */
static sl_code call_start(sl_rpc_client *cli, const char *type, const char *id, int64_t timeout_ms,
                          const sl_rpc_md *md, size_t n_md, sl_rpc_reply *out, sl_err *err)
{
    Sluice__V1__StartWorkflowRequest req = SLUICE__V1__START_WORKFLOW_REQUEST__INIT;
    req.type = (char *)type;
    req.workflow_id = (char *)id;
    size_t len;
    uint8_t *buf = sl_rpc_pack(&req.base, &len);
    sl_rpc_call_opts o = {.timeout_ms = timeout_ms, .md = md, .n_md = n_md};
    sl_code rc = sl_rpc_client_call(cli, M_START, buf, len, &o, out, err);
    free(buf);
    return rc;
}

static Sluice__V1__StartWorkflowResponse *start_resp(const sl_rpc_reply *r)
{
    sl_rpc_status st;
    return (Sluice__V1__StartWorkflowResponse *)sl_rpc_unpack(
        &sluice__v1__start_workflow_response__descriptor, r->body, r->body_len, &st);
}

static void unary_call_round_trips_fields_and_metadata(void **state)
{
    struct fixture *f = *state;
    Sluice__V1__StartWorkflowRequest req = SLUICE__V1__START_WORKFLOW_REQUEST__INIT;
    Sluice__V1__RetryPolicy rp = SLUICE__V1__RETRY_POLICY__INIT;
    rp.maximum_attempts = 3;
    req.type = (char *)"noop_chain";
    req.workflow_id = (char *)"order-42";
    req.input_json = (char *)"{\"n\":3}";
    req.task_queue = (char *)"default";
    req.retry_policy = &rp;
    req.id_reuse_policy = SLUICE__V1__ID_REUSE_POLICY__ID_REUSE_POLICY_REJECT_DUPLICATE;
    size_t len;
    uint8_t *buf = sl_rpc_pack(&req.base, &len);
    sl_rpc_md md[] = {{"x-run", "r-7"}};
    sl_rpc_call_opts o = {.timeout_ms = 5000, .md = md, .n_md = 1};
    sl_rpc_reply r;
    sl_err err;
    assert_int_equal(sl_rpc_client_call(f->cli, M_START, buf, len, &o, &r, &err), SL_OK);
    free(buf);
    assert_int_equal(r.status.code, SL_RPC_OK);
    Sluice__V1__StartWorkflowResponse *resp = start_resp(&r);
    assert_non_null(resp);
    assert_string_equal(resp->workflow_id, "order-42");
    assert_string_equal(resp->run_id, "r-7");
    assert_true(resp->existing);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    sl_rpc_reply_cleanup(&r);

    /* without the metadata the handler names the run itself */
    assert_int_equal(call_start(f->cli, "noop_chain", "order-43", 5000, NULL, 0, &r, &err), SL_OK);
    resp = start_resp(&r);
    assert_non_null(resp);
    assert_string_equal(resp->run_id, "run-noop_chain");
    assert_false(resp->existing);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    sl_rpc_reply_cleanup(&r);

    /* the handler sees the client's deadline */
    assert_int_equal(call_start(f->cli, "deadline", "d", 5000, NULL, 0, &r, &err), SL_OK);
    resp = start_resp(&r);
    assert_non_null(resp);
    long long left = atoll(resp->run_id);
    /* grpc-timeout is sent rounded up to its unit, so a few ms over 5000 are fine */
    assert_true(left > 3000 && left <= 5100);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    sl_rpc_reply_cleanup(&r);
}

static void handler_status_and_details_reach_the_client(void **state)
{
    struct fixture *f = *state;
    sl_rpc_reply r;
    sl_err err;
    assert_int_equal(call_start(f->cli, "missing", "x", 5000, NULL, 0, &r, &err), SL_ENOTFOUND);
    assert_int_equal(r.status.code, SL_RPC_NOT_FOUND);
    assert_string_equal(r.status.details, "workflow type 'missing' is not registered");
    assert_string_equal(err.msg, "workflow type 'missing' is not registered");
    assert_string_equal(err.error_code, "NOT_FOUND");
    assert_null(r.body);
    sl_rpc_reply_cleanup(&r);
}

static void deadline_exceeded_reaches_both_sides(void **state)
{
    struct fixture *f = *state;
    int cancelled0 = seen_get(&slow_cancelled);
    sl_rpc_reply r;
    sl_err err;
    int64_t t0 = mono_ms();
    assert_int_equal(call_start(f->cli, "slow", "x", 200, NULL, 0, &r, &err), SL_ETIMEOUT);
    int64_t took = mono_ms() - t0;
    assert_int_equal(r.status.code, SL_RPC_DEADLINE_EXCEEDED);
    assert_true(took >= 150 && took < 5000);
    sl_rpc_reply_cleanup(&r);
    /* the handler's long poll saw the client go and let its thread go */
    assert_true(wait_for(&slow_cancelled, cancelled0 + 1, 5000));
}

static void unknown_method_is_unimplemented(void **state)
{
    struct fixture *f = *state;
    sl_rpc_reply r;
    sl_err err;
    sl_rpc_call_opts o = {.timeout_ms = 5000};
    assert_int_equal(
        sl_rpc_client_call(f->cli, "/sluice.v1.Sluice/NoSuchCall", "", 0, &o, &r, &err),
        SL_EREMOTE);
    assert_int_equal(r.status.code, SL_RPC_UNIMPLEMENTED);
    assert_non_null(strstr(r.status.details, "NoSuchCall"));
    sl_rpc_reply_cleanup(&r);
}

static void message_over_the_limit_is_resource_exhausted(void **state)
{
    struct fixture *f = *state;
    size_t big = 100 * 1024; /* the fixture's limit is 64 KiB */
    char *input = malloc(big + 1);
    memset(input, 'x', big);
    input[big] = '\0';
    Sluice__V1__StartWorkflowRequest req = SLUICE__V1__START_WORKFLOW_REQUEST__INIT;
    req.type = (char *)"noop_chain";
    req.input_json = input;
    size_t len;
    uint8_t *buf = sl_rpc_pack(&req.base, &len);
    sl_rpc_call_opts o = {.timeout_ms = 5000};
    sl_rpc_reply r;
    sl_err err;
    assert_int_equal(sl_rpc_client_call(f->cli, M_START, buf, len, &o, &r, &err), SL_EREMOTE);
    assert_int_equal(r.status.code, SL_RPC_RESOURCE_EXHAUSTED);
    sl_rpc_reply_cleanup(&r);
    free(buf);
    free(input);
    /* and the server keeps serving */
    assert_int_equal(call_start(f->cli, "noop_chain", "after-big", 5000, NULL, 0, &r, &err), SL_OK);
    sl_rpc_reply_cleanup(&r);
}

static void garbage_request_is_invalid_argument(void **state)
{
    struct fixture *f = *state;
    const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0a};
    sl_rpc_call_opts o = {.timeout_ms = 5000};
    sl_rpc_reply r;
    sl_err err;
    assert_int_equal(sl_rpc_client_call(f->cli, M_START, garbage, sizeof garbage, &o, &r, &err),
                     SL_EINVAL);
    assert_int_equal(r.status.code, SL_RPC_INVALID_ARGUMENT);
    assert_string_equal(r.status.details, "malformed sluice.v1.StartWorkflowRequest");
    sl_rpc_reply_cleanup(&r);
    assert_int_equal(call_start(f->cli, "noop_chain", "after-garbage", 5000, NULL, 0, &r, &err),
                     SL_OK);
    sl_rpc_reply_cleanup(&r);
    /* the helper on its own, as a client decoding a response uses it */
    sl_rpc_status st;
    assert_null(
        sl_rpc_unpack(&sluice__v1__history_event__descriptor, garbage, sizeof garbage, &st));
    assert_int_equal(st.code, SL_RPC_INVALID_ARGUMENT);
}

static void server_stream_delivers_every_message_in_order(void **state)
{
    struct fixture *f = *state;
    const int n = 50;
    Sluice__V1__GetHistoryRequest req = SLUICE__V1__GET_HISTORY_REQUEST__INIT;
    req.after_event_id = n;
    size_t len;
    uint8_t *buf = sl_rpc_pack(&req.base, &len);
    sl_rpc_call_opts o = {.timeout_ms = 5000};
    sl_rpc_stream *s;
    sl_err err;
    assert_int_equal(sl_rpc_client_stream_open(f->cli, M_HISTORY, buf, len, &o, &s, &err), SL_OK);
    free(buf);
    uint8_t *msg;
    size_t mlen;
    int got = 0;
    while (sl_rpc_stream_read(s, &msg, &mlen)) {
        Sluice__V1__HistoryEvent *ev = (Sluice__V1__HistoryEvent *)sl_rpc_unpack(
            &sluice__v1__history_event__descriptor, msg, mlen, NULL);
        free(msg);
        assert_non_null(ev);
        got++;
        assert_int_equal(ev->event_id, got);
        char want[64];
        snprintf(want, sizeof want, "{\"i\":%d}", got);
        assert_string_equal(ev->attributes_json, want);
        protobuf_c_message_free_unpacked(&ev->base, NULL);
    }
    assert_int_equal(got, n);
    sl_rpc_status st;
    assert_int_equal(sl_rpc_stream_finish(s, &st, &err), SL_OK);
    assert_int_equal(st.code, SL_RPC_OK);
    sl_rpc_stream_free(s);

    /* a stream closed early by the client: freeing it cancels the call cleanly */
    req.after_event_id = 100000;
    buf = sl_rpc_pack(&req.base, &len);
    assert_int_equal(sl_rpc_client_stream_open(f->cli, M_HISTORY, buf, len, &o, &s, &err), SL_OK);
    free(buf);
    assert_true(sl_rpc_stream_read(s, &msg, &mlen));
    free(msg);
    sl_rpc_stream_free(s);
}

struct worker_arg {
    sl_rpc_client *cli;
    int idx;
    int ok;
};

static void *hammer(void *p)
{
    struct worker_arg *a = p;
    for (int i = 0; i < 200; i++) {
        char id[64];
        snprintf(id, sizeof id, "t%d-%d", a->idx, i);
        sl_rpc_reply r;
        sl_err err;
        if (call_start(a->cli, "noop_chain", id, 10000, NULL, 0, &r, &err) == SL_OK) {
            Sluice__V1__StartWorkflowResponse *resp = start_resp(&r);
            if (resp && strcmp(resp->workflow_id, id) == 0)
                a->ok++;
            if (resp)
                protobuf_c_message_free_unpacked(&resp->base, NULL);
        }
        sl_rpc_reply_cleanup(&r);
    }
    return NULL;
}

static void concurrent_calls_all_succeed(void **state)
{
    struct fixture *f = *state;
    pthread_t th[8];
    struct worker_arg a[8];
    int64_t t0 = mono_ms();
    for (int i = 0; i < 8; i++) {
        a[i] = (struct worker_arg){f->cli, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &a[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        total += a[i].ok;
    }
    print_message("1600 calls from 8 threads in %lld ms\n", (long long)(mono_ms() - t0));
    assert_int_equal(total, 8 * 200);
}

struct pending {
    sl_rpc_client *cli;
    sl_code rc;
    sl_rpc_reply r;
};

static void *pending_call(void *p)
{
    struct pending *pc = p;
    sl_err err;
    pc->rc = call_start(pc->cli, "slow", "long-poll", 30000, NULL, 0, &pc->r, &err);
    return NULL;
}

static void stop_answers_a_call_still_in_its_handler(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(0);
    int entered0 = seen_get(&slow_entered), stopping0 = seen_get(&slow_stopping);
    struct pending pc = {.cli = f->cli};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, pending_call, &pc), 0);
    assert_true(wait_for(&slow_entered, entered0 + 1, 5000));
    int64_t t0 = mono_ms();
    sl_rpc_server_stop(f->srv, 10000);
    int64_t took = mono_ms() - t0;
    pthread_join(th, NULL);
    /* the handler was told, answered (empty, as a long poll does), and the stop did not wait
     * for the grace time */
    assert_int_equal(seen_get(&slow_stopping), stopping0 + 1);
    assert_int_equal(pc.rc, SL_OK);
    assert_int_equal(pc.r.status.code, SL_RPC_OK);
    Sluice__V1__StartWorkflowResponse *resp = start_resp(&pc.r);
    assert_non_null(resp);
    assert_string_equal(resp->run_id, "");
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    sl_rpc_reply_cleanup(&pc.r);
    assert_true(took < 5000);
    /* after the stop nothing answers */
    sl_rpc_reply r;
    sl_err err;
    assert_int_equal(call_start(f->cli, "noop_chain", "late", 1000, NULL, 0, &r, &err) == SL_OK, 0);
    assert_true(r.status.code == SL_RPC_UNAVAILABLE || r.status.code == SL_RPC_DEADLINE_EXCEEDED);
    sl_rpc_reply_cleanup(&r);
    fixture_free(f);
}

/* A second server on a port in use fails to bind: grpc's SO_REUSEPORT default would let it
 * share the port, and a client's calls would then land on either process at random. */
static void a_port_in_use_is_refused(void **state)
{
    struct fixture *f = *state;
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", sl_rpc_server_port(f->srv));
    sl_rpc_server_opts so;
    sl_rpc_server_opts_init(&so);
    so.listen = listen;
    sl_rpc_server *second = NULL;
    sl_err err;
    assert_int_equal(sl_rpc_server_new(&so, &second, &err), SL_EIO);
    assert_null(second);
    assert_non_null(strstr(err.msg, listen));
}

static void options_and_names_are_checked(void **state)
{
    (void)state;
    sl_err err;
    sl_rpc_client *c;
    sl_rpc_client_opts co;
    sl_rpc_client_opts_init(&co);
    co.target = "127.0.0.1:1";
    co.auth_token = "secret";
    assert_int_equal(sl_rpc_client_new(&co, &c, &err), SL_EINVAL);
    assert_null(c);
    assert_null(strstr(err.msg, "secret"));
    sl_rpc_server *s;
    sl_rpc_server_opts so;
    sl_rpc_server_opts_init(&so);
    so.listen = "256.0.0.1:0";
    assert_int_equal(sl_rpc_server_new(&so, &s, &err), SL_EIO);
    assert_null(s);
    assert_string_equal(sl_rpc_code_name(SL_RPC_RESOURCE_EXHAUSTED), "RESOURCE_EXHAUSTED");
    assert_string_equal(sl_rpc_code_name(99), "UNKNOWN");
}

int main(void)
{
    sl_rpc_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(unary_call_round_trips_fields_and_metadata, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(handler_status_and_details_reach_the_client, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(deadline_exceeded_reaches_both_sides, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_method_is_unimplemented, setup, teardown),
        cmocka_unit_test_setup_teardown(message_over_the_limit_is_resource_exhausted, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(garbage_request_is_invalid_argument, setup, teardown),
        cmocka_unit_test_setup_teardown(server_stream_delivers_every_message_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(concurrent_calls_all_succeed, setup, teardown),
        cmocka_unit_test_setup_teardown(a_port_in_use_is_refused, setup, teardown),
        cmocka_unit_test(stop_answers_a_call_still_in_its_handler),
        cmocka_unit_test(options_and_names_are_checked),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    sl_rpc_global_cleanup();
    return rc;
}
