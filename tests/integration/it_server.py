"""it_server.py - the Python gRPC client of it_server.sh (Debian python3-grpcio, stubs made by
python3-grpc-tools from schema/proto/ into the test's directory).

  it_server.py STUBS ADDR OUTDIR main       the API checks; writes OUTDIR/*.txt|json for the script
  it_server.py STUBS ADDR OUTDIR follow ID  follow ID's history; writes OUTDIR/follow.started
                                            after the first event, OUTDIR/follow.code at the end
"""
import json
import sys
import threading
import time

sys.path.insert(0, sys.argv[1])
import grpc  # noqa: E402
from sluice.v1 import sluice_pb2 as pb  # noqa: E402
from sluice.v1 import sluice_pb2_grpc as pbg  # noqa: E402

ADDR, OUT, MODE = sys.argv[2], sys.argv[3], sys.argv[4]
TIMEOUT = 30


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def expect(what, got, want):
    if got != want:
        fail("%s: got %r, want %r" % (what, got, want))


def expect_error(what, fn, code, details=None):
    try:
        fn()
    except grpc.RpcError as e:
        expect(what + " code", e.code(), code)
        if details is not None:
            expect(what + " details", e.details(), details)
        return e.details()
    fail(what + ": succeeded, want " + str(code))


def execution(wid):
    return pb.WorkflowExecution(workflow_id=wid)


def wait_status(st, wid, status):
    deadline = time.time() + TIMEOUT
    while True:
        d = st.DescribeWorkflow(pb.DescribeWorkflowRequest(execution=execution(wid)), timeout=10)
        if d.run.status == status:
            return d
        if time.time() > deadline:
            fail("%s: status %s after %ds, want %s" % (wid, d.run.status, TIMEOUT, status))
        time.sleep(0.05)


def write(name, text):
    with open(OUT + "/" + name, "w") as f:
        f.write(text)


def main(ch, st):
    # Start a noop_chain; a second start of the open id returns the same run.
    r = st.StartWorkflow(pb.StartWorkflowRequest(workflow_id="chain-1", type="noop_chain",
                                                 input_json='{"steps":2}'), timeout=10)
    expect("start id", r.workflow_id, "chain-1")
    expect("start existing", r.existing, False)
    d = wait_status(st, "chain-1", pb.WORKFLOW_STATUS_COMPLETED)
    expect("describe run id", d.run.run_id, r.run_id)
    expect("describe type", d.run.type, "noop_chain")
    expect("describe result", json.loads(d.run.result_json),
           {"steps": 2, "last": {"step": 2, "v": "r-2"}})
    expect("describe_json status", json.loads(d.describe_json)["status"], "completed")
    expect("chain", [c.run_id for c in d.chain], [r.run_id])
    again = st.StartWorkflow(pb.StartWorkflowRequest(workflow_id="chain-1", type="noop_chain"),
                             timeout=10)
    expect("restart of a closed id starts a new run", again.existing, False)
    d = wait_status(st, "chain-1", pb.WORKFLOW_STATUS_COMPLETED)
    expect("chain after the second run", [c.run_id for c in d.chain], [r.run_id, again.run_id])

    # The history of the first run, streamed; then the tail after event 6.
    events = list(st.GetHistory(pb.GetHistoryRequest(
        execution=pb.WorkflowExecution(workflow_id="chain-1", run_id=r.run_id)), timeout=10))
    want = (["WorkflowExecutionStarted"]
            + ["ActivityTaskScheduled", "ActivityTaskStarted", "ActivityTaskCompleted"] * 2
            + ["WorkflowExecutionCompleted"])
    expect("event types", [e.type for e in events], want)
    expect("event ids", [e.event_id for e in events], list(range(1, 9)))
    if not all(e.time_ms > 1.7e12 for e in events):
        fail("event times are not Unix ms: %r" % [e.time_ms for e in events])
    write("history.json", json.dumps([{"event_id": e.event_id, "type": e.type,
                                       "attributes": json.loads(e.attributes_json)}
                                      for e in events]))
    tail = list(st.GetHistory(pb.GetHistoryRequest(
        execution=pb.WorkflowExecution(workflow_id="chain-1", run_id=r.run_id),
        after_event_id=6), timeout=10))
    expect("tail ids", [e.event_id for e in tail], [7, 8])
    write("run_id.txt", r.run_id)

    # Count and list see the runs, with the CLI's filters.
    expect("count all", st.CountWorkflows(pb.CountWorkflowsRequest(), timeout=10).count, 2)
    f = pb.WorkflowFilter(status=pb.WORKFLOW_STATUS_COMPLETED, type="noop_chain",
                          id_prefix="chain-")
    expect("count filtered", st.CountWorkflows(pb.CountWorkflowsRequest(filter=f),
                                               timeout=10).count, 2)
    expect("count other type", st.CountWorkflows(pb.CountWorkflowsRequest(
        filter=pb.WorkflowFilter(type="collector")), timeout=10).count, 0)
    lst = st.ListWorkflows(pb.ListWorkflowsRequest(filter=f, limit=1, include_history=True),
                           timeout=10)
    expect("list rows", [(x.workflow_id, x.run_id) for x in lst.runs],
           [("chain-1", again.run_id)])
    expect("list history (3 steps by default)", len(json.loads(lst.history_json[0])), 11)
    expect_error("bad status filter", lambda: st.CountWorkflows(pb.CountWorkflowsRequest(
        filter=pb.WorkflowFilter(status=99)), timeout=10), grpc.StatusCode.INVALID_ARGUMENT)

    # Errors carry the CLI's text (the script compares it with the local CLI's line).
    write("notfound.txt", expect_error(
        "unknown id", lambda: st.DescribeWorkflow(pb.DescribeWorkflowRequest(
            execution=execution("no-such-id")), timeout=10), grpc.StatusCode.NOT_FOUND))
    write("badtype.txt", expect_error(
        "unknown type", lambda: st.StartWorkflow(pb.StartWorkflowRequest(type="no_such_type"),
                                                 timeout=10), grpc.StatusCode.INVALID_ARGUMENT))
    expect_error("bad input json", lambda: st.StartWorkflow(pb.StartWorkflowRequest(
        type="noop_chain", input_json="{not json"), timeout=10),
        grpc.StatusCode.INVALID_ARGUMENT)
    expect_error("history of unknown id", lambda: list(st.GetHistory(pb.GetHistoryRequest(
        execution=execution("no-such-id")), timeout=10)), grpc.StatusCode.NOT_FOUND,
        "no workflow with id 'no-such-id'")
    expect_error("not yet served", lambda: st.RetryWorkflow(pb.RetryWorkflowRequest(
        workflow_id="chain-1"), timeout=10), grpc.StatusCode.UNIMPLEMENTED,
        "RetryWorkflow is not implemented by this server yet")

    # Garbage bytes as a message, then a message over --max-message-size; the server goes on.
    raw = ch.unary_unary("/sluice.v1.Sluice/StartWorkflow")
    expect_error("garbage", lambda: raw(b"\xff\xff\xff\xff\x0f\x07garbage", timeout=10),
                 grpc.StatusCode.INVALID_ARGUMENT, "malformed sluice.v1.StartWorkflowRequest")
    expect("serving after garbage",
           st.CountWorkflows(pb.CountWorkflowsRequest(), timeout=10).count, 2)
    big = '{"pad":"' + "x" * (2 * 1024 * 1024) + '"}'
    expect_error("oversized", lambda: st.StartWorkflow(pb.StartWorkflowRequest(
        type="noop_chain", input_json=big), timeout=10), grpc.StatusCode.RESOURCE_EXHAUSTED)
    expect("serving after oversized",
           st.CountWorkflows(pb.CountWorkflowsRequest(), timeout=10).count, 2)

    # follow: the stream stays open while the run waits for a signal, and ends after it.
    st.StartWorkflow(pb.StartWorkflowRequest(workflow_id="col-1", type="collector",
                                             input_json='{"count":1,"signal":"add"}'),
                     timeout=10)
    got, ended = [], []

    def follow():
        try:
            for e in st.GetHistory(pb.GetHistoryRequest(execution=execution("col-1"),
                                                        follow=True), timeout=TIMEOUT):
                got.append(e.type)
            ended.append("OK")
        except grpc.RpcError as e:
            ended.append(str(e.code()))
    t = threading.Thread(target=follow)
    t.start()
    deadline = time.time() + TIMEOUT
    while "WorkflowExecutionStarted" not in got and time.time() < deadline:
        time.sleep(0.02)
    expect("follow still open before the signal", ended, [])
    st.SignalWorkflow(pb.SignalWorkflowRequest(workflow_id="col-1", name="add",
                                               input_json='{"v":1}'), timeout=10)
    t.join(TIMEOUT)
    expect("follow ended", ended, ["OK"])
    expect("followed to the end", got[-1], "WorkflowExecutionCompleted")
    d = wait_status(st, "col-1", pb.WORKFLOW_STATUS_COMPLETED)
    expect("signal delivered", json.loads(d.run.result_json), {"signals": [{"v": 1}]})
    expect_error("signal to a closed run", lambda: st.SignalWorkflow(pb.SignalWorkflowRequest(
        workflow_id="col-1", name="add"), timeout=10), grpc.StatusCode.FAILED_PRECONDITION)

    # terminate and cancel, by id and by query.
    for wid in ("col-2", "col-3"):
        st.StartWorkflow(pb.StartWorkflowRequest(workflow_id=wid, type="collector"), timeout=10)
    expect("terminate", st.TerminateWorkflow(pb.TerminateWorkflowRequest(
        workflow_id="col-2", reason="test"), timeout=10).affected, 1)
    wait_status(st, "col-2", pb.WORKFLOW_STATUS_TERMINATED)
    expect("cancel by query", st.CancelWorkflow(pb.CancelWorkflowRequest(
        query=pb.WorkflowFilter(status=pb.WORKFLOW_STATUS_RUNNING, id_prefix="col-")),
        timeout=10).affected, 1)
    wait_status(st, "col-3", pb.WORKFLOW_STATUS_CANCELED)
    expect_error("cancel unknown id", lambda: st.CancelWorkflow(pb.CancelWorkflowRequest(
        workflow_id="no-such-id"), timeout=10), grpc.StatusCode.NOT_FOUND,
        "no workflow with id 'no-such-id'")
    expect_error("cancel with no target", lambda: st.CancelWorkflow(
        pb.CancelWorkflowRequest(), timeout=10), grpc.StatusCode.INVALID_ARGUMENT)
    print("client: all checks passed")


def follow_only(st, wid):
    code = "OK"
    try:
        for _ in st.GetHistory(pb.GetHistoryRequest(execution=execution(wid), follow=True),
                               timeout=TIMEOUT):
            write("follow.started", "1")
    except grpc.RpcError as e:
        code = "%s %s" % (e.code().name, e.details())
    write("follow.code", code)


ch = grpc.insecure_channel(ADDR, options=[("grpc.max_send_message_length", 8 * 1024 * 1024)])
stub = pbg.SluiceStub(ch)
if MODE == "main":
    main(ch, stub)
else:
    follow_only(stub, sys.argv[5])
