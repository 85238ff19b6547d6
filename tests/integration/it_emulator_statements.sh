#!/usr/bin/env bash
# timeout: 120
# it_emulator_statements.sh - slow statements: wait_timeout returns RUNNING/PENDING and the
# client polls; cancel moves a statement to CANCELED; on_wait_timeout=CANCEL cancels it.
. "$SLUICE_SRC/tests/lib/common.sh"
. "$SLUICE_SRC/tests/fixtures/emulator/lib.sh"

emu_start emu --statement-latency 6s

req POST /api/2.0/sql/statements '{"warehouse_id":"emu0000000000001","statement":"SELECT 1","wait_timeout":"0s"}'
expect_code 200
it_expect_eq "pending" "$(jb .status.state)" PENDING
SID=$(jb .statement_id)
req GET "/api/2.0/sql/statements/$SID/result/chunks/0"
expect_error 400 INVALID_PARAMETER_VALUE
req POST "/api/2.0/sql/statements/$SID/cancel"
expect_code 200
canceled() { req GET "/api/2.0/sql/statements/$SID"; [ "$(jb .status.state)" == CANCELED ]; }
it_wait_for 10 canceled

start=$(date +%s%N)
req POST /api/2.0/sql/statements '{"warehouse_id":"emu0000000000001","statement":"SELECT 2","wait_timeout":"5s","on_wait_timeout":"CANCEL"}'
expect_code 200
ms=$(( ($(date +%s%N) - start) / 1000000 ))
it_expect_eq "on_wait_timeout=CANCEL" "$(jb .status.state)" CANCELED
[ "$ms" -ge 4500 ] || it_fail "returned after ${ms}ms, before wait_timeout"

req POST /api/2.0/sql/statements '{"warehouse_id":"emu0000000000001","statement":"SELECT 3","wait_timeout":"5s"}'
expect_code 200
state=$(jb .status.state)
[ "$state" == RUNNING ] || [ "$state" == PENDING ] || it_fail "CONTINUE state $state"
SID=$(jb .statement_id)
done_state() { req GET "/api/2.0/sql/statements/$SID"; [ "$(jb .status.state)" == SUCCEEDED ]; }
it_wait_for 15 done_state
it_expect_eq "result" "$(jb -c .result.data_array)" '[["3"]]'

# Many waiting executes do not tie up the server: a GET still answers at once.
pids=()
for i in 1 2 3 4 5 6 7 8; do
  curl -s -o "$T/wait$i" -H "$AUTH" -X POST -d '{"warehouse_id":"emu0000000000001","statement":"SELECT 1","wait_timeout":"30s"}' "$EMU_URL/api/2.0/sql/statements" &
  pids+=($!)
done
t=$(curl -s -o /dev/null -w '%{time_total}' -H "$AUTH" "$EMU_URL/api/2.0/sql/warehouses")
awk -v t="$t" 'BEGIN { exit !(t < 1.0) }' || it_fail "GET took ${t}s while executes waited"
for p in "${pids[@]}"; do wait "$p"; done
for i in 1 2 3 4 5 6 7 8; do
  it_expect_eq "waited execute $i" "$(jq -r .status.state "$T/wait$i")" SUCCEEDED
done
# Stopping the server while an execute waits and a statement is queued is clean (no leak,
# exit 0): the waiting client gets an answer or a closed connection, not a hang.
curl -s -o "$T/late" -H "$AUTH" -X POST -d '{"warehouse_id":"emu0000000000001","statement":"SELECT 4","wait_timeout":"50s"}' "$EMU_URL/api/2.0/sql/statements" &
late=$!
waiting() { curl -sf "$EMU_URL/_emulator/stats" | jq -e '[.statements[].statement] | index("SELECT 4") != null' >/dev/null; }
it_wait_for 10 waiting
emu_stop_all
wait "$late" || true
echo "it_emulator_statements: ok"
