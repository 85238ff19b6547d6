#!/usr/bin/env bash
# timeout: 60
# labels: tsan
# A 3-step noop_chain goes running -> completed through a real worker process, and its
# history (show -o json) is Started, three Scheduled/Started/Completed triples, Completed.
. "$SLUICE_SRC/tests/lib/common.sh"
S=$SLUICE_BIN

out=$($S workflow start --type noop_chain --id chain-1 --input '{"steps":3}' -o json)
it_expect_eq "workflow id" "$(jq -r .workflow_id <<<"$out")" chain-1
run_id=$(jq -r .run_id <<<"$out")
it_expect_eq "status before a worker ran" "$($S workflow describe chain-1 -o json | jq -r .status)" running

# Idempotent start: the open run is returned, nothing new is started.
again=$($S workflow start --type noop_chain --id chain-1 --input '{"steps":3}' -o json)
it_expect_eq "idempotent start run id" "$(jq -r .run_id <<<"$again")" "$run_id"
it_expect_eq "idempotent start flag" "$(jq -r .existing <<<"$again")" true

# --follow prints events as they happen and returns once the run has closed.
it_start_bg follow "$S" workflow show chain-1 --follow -o json
follow=$IT_LAST_PID
it_start_bg worker "$S" worker --exit-when-idle
wait "$IT_LAST_PID" || it_fail "worker exited non-zero"
wait "$follow" || it_fail "show --follow exited non-zero"
it_expect_eq "followed events" "$(jq -s 'map(.type) | last' "$T/follow.log")" '"WorkflowExecutionCompleted"'
it_expect_eq "followed all" "$(jq -s 'length' "$T/follow.log")" 11

d=$($S workflow describe chain-1 -o json)
it_expect_eq status "$(jq -r .status <<<"$d")" completed
it_expect_eq result "$(jq -c .result <<<"$d")" '{"steps":3,"last":{"step":3,"v":"r-3"}}'
it_expect_eq pending "$(jq '.pending_activities | length' <<<"$d")" 0

h=$($S workflow show chain-1 -o json)
types=$(jq -r '[.[].type] | join(",")' <<<"$h")
want="WorkflowExecutionStarted"
for i in 1 2 3; do want+=",ActivityTaskScheduled,ActivityTaskStarted,ActivityTaskCompleted"; done
want+=",WorkflowExecutionCompleted"
it_expect_eq "event types" "$types" "$want"
it_expect_eq "dense event ids" "$(jq -c '[.[].event_id]' <<<"$h")" "[1,2,3,4,5,6,7,8,9,10,11]"
it_expect_eq "history_length" "$(jq .history_length <<<"$d")" 11
# Times are UTC ISO-8601 and non-decreasing.
jq -e 'all(.[]; .time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$"))' <<<"$h" >/dev/null || it_fail "bad time format"
jq -e '[.[].time] as $t | $t == ($t | sort)' <<<"$h" >/dev/null || it_fail "times go backwards"
# Completed results carry the activity's output, attempt 1.
it_expect_eq "second result" "$(jq -c '[.[] | select(.type=="ActivityTaskCompleted")][1].attributes.result' <<<"$h")" '{"step":2,"v":"r-2"}'
# The table view is one line per event plus a header.
lines=$($S workflow show chain-1 | wc -l)
it_expect_eq "table lines" "$lines" 12
$S workflow list -o json | jq -e 'length == 1 and .[0].status == "completed"' >/dev/null || it_fail "list"
it_expect_eq "count completed" "$($S workflow count --status completed)" 1
echo PASS
