#!/usr/bin/env bash
# timeout: 120
# `sluice server` over loopback gRPC, driven by a Python client (python3-grpcio, stubs from
# schema/proto/ made here with python3-grpc-tools): a noop_chain started over the wire runs to
# completed with its history streamed; count/list see it; errors carry the local CLI's text
# (NOT_FOUND, INVALID_ARGUMENT); a port in use is refused; garbage bytes and an oversized message are refused and the
# server goes on; a follow stream ends when a signaled run closes; terminate and cancel; then
# SIGTERM answers an open stream (UNAVAILABLE), the server exits 0, and the local CLI shows the
# same history from the database file.
. "$SLUICE_SRC/tests/lib/common.sh"
# The fixture binary: the shipped workflows plus `collector` (waits for signals).
S=$SLUICE_FIXTURE_BIN
PY=${SLUICE_PYTHON:-/usr/bin/python3}
DB=$T/s.db

"$PY" -c 'import grpc, grpc_tools' 2>/dev/null ||
  it_fail "$PY lacks grpc / grpc_tools (deploy/install-deps.sh installs python3-grpcio, python3-grpc-tools)"
mkdir -p "$T/py"
"$PY" -m grpc_tools.protoc -I"$SLUICE_SRC/schema/proto" --python_out="$T/py" \
  --grpc_python_out="$T/py" sluice/v1/sluice.proto || it_fail "grpc_tools.protoc failed"

it_start_bg server "$S" --db "$DB" server --listen 127.0.0.1:0 --task-queue default \
  --max-message-size 1048576
server=$IT_LAST_PID
line=$(it_wait_line "$T/server.log" '^sluice server listening on 127\.0\.0\.1:[0-9]+$')
addr=${line#sluice server listening on }
[ "${addr##*:}" != 0 ] || it_fail "readiness line names port 0: $line"

# Bad command lines, and a second server on the address in use: one line each, non-zero.
it_expect_fail 2 '^sluice: server: missing --listen' "$S" --db "$T/other.db" server
it_expect_fail 2 '^sluice: server: --listen must be HOST:PORT' "$S" --db "$T/other.db" server \
  --listen nowhere
# no authentication or TLS yet: only this host may be served
it_expect_fail 2 "^sluice: server: --listen host must be 127.0.0.1, localhost or \\[::1\\]" \
  "$S" --db "$T/other.db" server --listen 0.0.0.0:0
it_expect_fail 1 "^sluice: server: cannot listen on $addr\$" "$S" --db "$T/other.db" server \
  --listen "$addr"

"$PY" "$SLUICE_SRC/tests/integration/it_server.py" "$T/py" "$addr" "$T" main ||
  it_fail "python client checks"

# The server's error details are the text the local CLI prints after "sluice: <command>: ".
it_expect_fail 1 "" "$S" --db "$DB" workflow describe no-such-id
it_expect_eq "NOT_FOUND text" "$(cat "$T/expect_fail.err")" \
  "sluice: workflow describe: $(cat "$T/notfound.txt")"
it_expect_fail 2 "" "$S" --db "$DB" workflow start --type no_such_type
case "$(cat "$T/expect_fail.err")" in
  "sluice: workflow start: $(cat "$T/badtype.txt") (usage:"*) ;;
  *) it_fail "unknown type: CLI '$(cat "$T/expect_fail.err")' vs server '$(cat "$T/badtype.txt")'" ;;
esac

# SIGTERM with a follow stream open: the stream is answered, the server exits 0.
"$PY" - "$T/py" "$addr" <<'PYEOF' || it_fail "start col-4"
import sys; sys.path.insert(0, sys.argv[1])
import grpc
from sluice.v1 import sluice_pb2 as pb, sluice_pb2_grpc as pbg
pbg.SluiceStub(grpc.insecure_channel(sys.argv[2])).StartWorkflow(
    pb.StartWorkflowRequest(workflow_id="col-4", type="collector"), timeout=10)
PYEOF
it_start_bg follow "$PY" "$SLUICE_SRC/tests/integration/it_server.py" "$T/py" "$addr" "$T" \
  follow col-4
follow=$IT_LAST_PID
it_wait_for 30 test -f "$T/follow.started"
kill -TERM "$server"
rc=0
wait "$server" || rc=$?
it_expect_eq "server exit status after SIGTERM" "$rc" 0
grep -q "server stopped" "$T/server.log" || it_fail "no clean stop in the server log"
wait "$follow" || it_fail "follow client exited non-zero"
case "$(cat "$T/follow.code")" in
  "UNAVAILABLE the server is stopping"*) ;;
  *) it_fail "open stream at SIGTERM ended with '$(cat "$T/follow.code")'" ;;
esac

# The database holds what the server said: the same history, seen by the local CLI.
run_id=$(cat "$T/run_id.txt")
local_h=$("$S" --db "$DB" workflow show chain-1 --run "$run_id" -o json |
  jq -c 'map({event_id, type, attributes})')
it_expect_eq "local history = streamed history" "$local_h" "$(jq -c . "$T/history.json")"
it_expect_eq "local status of col-4" "$("$S" --db "$DB" workflow describe col-4 -o json | jq -r .status)" running
echo PASS
