/*
 * test_server.c - the sluice.v1 handlers (src/server) on a threaded engine over a temporary
 * database, called in process through the rpc client over 127.0.0.1: start/describe round
 * trip, error codes and the engine's texts, malformed requests, unserved methods, and the
 * sl_code -> gRPC code table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/engine.h"
#include "sluice/server.h"
#include "sluice/v1/sluice.pb-c.h"

#define M "/sluice.v1.Sluice/"

/* Returns its input as its result, with no activity. */
static sl_wf_status echo_wf(sl_wf *wf, const json_t *in, json_t **out)
{
    (void)wf;
    *out = json_deep_copy(in ? in : json_null());
    return SL_WF_DONE;
}

static sl_registry *reg;

struct fixture {
    char dir[64], db[128];
    sl_engine *e;
    sl_server *srv;
    sl_rpc_client *cli;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/sluice-test-server.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->db, sizeof(f->db), "%s/s.db", f->dir);
    sl_engine_opts o;
    sl_engine_opts_init(&o);
    o.db_path = f->db;
    o.registry = reg;
    o.threaded = true;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_engine_open(&o, &f->e, &err), SL_OK);
    static const char *const q[] = {"default"};
    assert_int_equal(sl_engine_serve(f->e, q, 1, NULL, &err), SL_OK);
    sl_server_opts so;
    sl_server_opts_init(&so);
    so.listen = "127.0.0.1:0";
    so.max_message_bytes = 64 * 1024;
    assert_int_equal(sl_server_start(f->e, &so, &f->srv, &err), SL_OK);
    char target[64];
    snprintf(target, sizeof(target), "127.0.0.1:%d", sl_server_port(f->srv));
    sl_rpc_client_opts co;
    sl_rpc_client_opts_init(&co);
    co.target = target;
    co.default_timeout_ms = 10000;
    assert_int_equal(sl_rpc_client_new(&co, &f->cli, &err), SL_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    sl_rpc_client_free(f->cli);
    sl_server_stop(f->srv, 1000);
    sl_server_free(f->srv);
    sl_engine_close(f->e);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
    free(f);
    return 0;
}

/* Call method with message m; the reply in *r (cleanup by the caller). */
static sl_code call(struct fixture *f, const char *method, const ProtobufCMessage *m,
                    sl_rpc_reply *r, sl_err *err)
{
    size_t len;
    uint8_t *buf = sl_rpc_pack(m, &len);
    sl_code rc = sl_rpc_client_call(f->cli, method, buf, len, NULL, r, err);
    free(buf);
    return rc;
}

static Sluice__V1__DescribeWorkflowResponse *describe(struct fixture *f, const char *id,
                                                      sl_rpc_reply *r, sl_err *err)
{
    Sluice__V1__WorkflowExecution x = SLUICE__V1__WORKFLOW_EXECUTION__INIT;
    x.workflow_id = (char *)id;
    Sluice__V1__DescribeWorkflowRequest req = SLUICE__V1__DESCRIBE_WORKFLOW_REQUEST__INIT;
    req.execution = &x;
    if (call(f, M "DescribeWorkflow", &req.base, r, err) != SL_OK)
        return NULL;
    return (Sluice__V1__DescribeWorkflowResponse *)sl_rpc_unpack(
        &sluice__v1__describe_workflow_response__descriptor, r->body, r->body_len, NULL);
}

static void started_workflow_completes_and_describes(void **state)
{
    struct fixture *f = *state;
    Sluice__V1__StartWorkflowRequest req = SLUICE__V1__START_WORKFLOW_REQUEST__INIT;
    req.type = (char *)"echo";
    req.workflow_id = (char *)"w-1";
    req.input_json = (char *)"{\"a\":1}";
    sl_rpc_reply r;
    sl_err err;
    assert_int_equal(call(f, M "StartWorkflow", &req.base, &r, &err), SL_OK);
    Sluice__V1__StartWorkflowResponse *sr = (Sluice__V1__StartWorkflowResponse *)sl_rpc_unpack(
        &sluice__v1__start_workflow_response__descriptor, r.body, r.body_len, NULL);
    assert_non_null(sr);
    assert_string_equal(sr->workflow_id, "w-1");
    assert_false(sr->existing);
    char run_id[64];
    snprintf(run_id, sizeof(run_id), "%s", sr->run_id);
    protobuf_c_message_free_unpacked(&sr->base, NULL);
    sl_rpc_reply_cleanup(&r);

    int64_t deadline = sl_now_ms() + 10000;
    for (;;) {
        Sluice__V1__DescribeWorkflowResponse *d = describe(f, "w-1", &r, &err);
        assert_non_null(d);
        bool done = d->run->status == SLUICE__V1__WORKFLOW_STATUS__WORKFLOW_STATUS_COMPLETED;
        if (done) {
            assert_string_equal(d->run->run_id, run_id);
            assert_string_equal(d->run->type, "echo");
            assert_string_equal(d->run->result_json, "{\"a\":1}");
            assert_true(d->run->start_ms > 0 && d->run->close_ms >= d->run->start_ms);
            assert_int_equal(d->n_chain, 1);
            assert_true(strstr(d->describe_json, "\"status\":\"completed\"") != NULL);
        }
        protobuf_c_message_free_unpacked(&d->base, NULL);
        sl_rpc_reply_cleanup(&r);
        if (done)
            break;
        assert_true(sl_now_ms() < deadline);
        sl_sleep_ms(20);
    }
}

static void engine_errors_keep_their_text(void **state)
{
    struct fixture *f = *state;
    sl_rpc_reply r;
    sl_err err;
    assert_null(describe(f, "nope", &r, &err));
    assert_int_equal(r.status.code, SL_RPC_NOT_FOUND);
    assert_int_equal(err.code, SL_ENOTFOUND);
    assert_string_equal(r.status.details, "no workflow with id 'nope'");
    sl_rpc_reply_cleanup(&r);

    Sluice__V1__StartWorkflowRequest req = SLUICE__V1__START_WORKFLOW_REQUEST__INIT;
    req.type = (char *)"no_such_type";
    assert_int_equal(call(f, M "StartWorkflow", &req.base, &r, &err), SL_EINVAL);
    assert_int_equal(r.status.code, SL_RPC_INVALID_ARGUMENT);
    assert_string_equal(r.status.details, "unknown workflow type 'no_such_type' (known: echo)");
    sl_rpc_reply_cleanup(&r);

    Sluice__V1__SignalWorkflowRequest sig = SLUICE__V1__SIGNAL_WORKFLOW_REQUEST__INIT;
    sig.workflow_id = (char *)"nope";
    sig.name = (char *)"go";
    assert_int_equal(call(f, M "SignalWorkflow", &sig.base, &r, &err), SL_ENOTFOUND);
    assert_int_equal(r.status.code, SL_RPC_NOT_FOUND);
    sl_rpc_reply_cleanup(&r);
}

static void malformed_and_unserved_calls_are_refused(void **state)
{
    struct fixture *f = *state;
    sl_rpc_reply r;
    sl_err err;
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x07, 'j', 'u', 'n', 'k'};
    assert_int_equal(
        sl_rpc_client_call(f->cli, M "StartWorkflow", junk, sizeof(junk), NULL, &r, &err),
        SL_EINVAL);
    assert_string_equal(r.status.details, "malformed sluice.v1.StartWorkflowRequest");
    sl_rpc_reply_cleanup(&r);

    Sluice__V1__RetryWorkflowRequest rq = SLUICE__V1__RETRY_WORKFLOW_REQUEST__INIT;
    rq.workflow_id = (char *)"w";
    assert_int_not_equal(call(f, M "RetryWorkflow", &rq.base, &r, &err), SL_OK);
    assert_int_equal(r.status.code, SL_RPC_UNIMPLEMENTED);
    assert_string_equal(r.status.details, "RetryWorkflow is not implemented by this server yet");
    sl_rpc_reply_cleanup(&r);

    Sluice__V1__CountWorkflowsRequest cq = SLUICE__V1__COUNT_WORKFLOWS_REQUEST__INIT;
    Sluice__V1__WorkflowFilter wf = SLUICE__V1__WORKFLOW_FILTER__INIT;
    wf.status = (Sluice__V1__WorkflowStatus)99;
    cq.filter = &wf;
    assert_int_equal(call(f, M "CountWorkflows", &cq.base, &r, &err), SL_EINVAL);
    assert_string_equal(r.status.details, "unknown status 99");
    sl_rpc_reply_cleanup(&r);

    /* Still serving. */
    cq.filter = NULL;
    assert_int_equal(call(f, M "CountWorkflows", &cq.base, &r, &err), SL_OK);
    sl_rpc_reply_cleanup(&r);
}

static void every_engine_code_maps_to_a_grpc_code(void **state)
{
    (void)state;
    assert_int_equal(sl_server_code_of(SL_OK), SL_RPC_OK);
    assert_int_equal(sl_server_code_of(SL_EINVAL), SL_RPC_INVALID_ARGUMENT);
    assert_int_equal(sl_server_code_of(SL_ENOTFOUND), SL_RPC_NOT_FOUND);
    assert_int_equal(sl_server_code_of(SL_EBUSY), SL_RPC_UNAVAILABLE);
    assert_int_equal(sl_server_code_of(SL_ECLOSED), SL_RPC_FAILED_PRECONDITION);
    assert_int_equal(sl_server_code_of(SL_ETIMEOUT), SL_RPC_DEADLINE_EXCEEDED);
    assert_int_equal(sl_server_code_of(SL_EAUTH), SL_RPC_UNAUTHENTICATED);
    assert_int_equal(sl_server_code_of(SL_ELIMIT), SL_RPC_RESOURCE_EXHAUSTED);
    for (int c = 1; c < SL__CODE_COUNT; c++)
        assert_int_not_equal(sl_server_code_of((sl_code)c), SL_RPC_OK);
}

int main(void)
{
    sl_rpc_global_init();
    reg = sl_registry_new();
    sl_registry_add_workflow(reg, "echo", echo_wf);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(started_workflow_completes_and_describes, setup, teardown),
        cmocka_unit_test_setup_teardown(engine_errors_keep_their_text, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_and_unserved_calls_are_refused, setup, teardown),
        cmocka_unit_test(every_engine_code_maps_to_a_grpc_code),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    sl_registry_free(reg);
    sl_rpc_global_cleanup();
    return failed;
}
