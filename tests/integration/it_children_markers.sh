#!/usr/bin/env bash
# timeout: 90
# labels: tsan
# Child workflows (results, parent-close policy), continue-as-new keeping histories bounded,
# version and side-effect markers, and history size limits.
. "$SLUICE_SRC/tests/lib/common.sh"
S=$SLUICE_FIXTURE_BIN # for fanout, looper, versioned
it_start_bg worker "$S" worker

$S workflow start --type fanout --id parent --input '{"children":3,"child":{"steps":2}}' >/dev/null
it_wait_for 30 bash -c "$S workflow describe parent -o json | jq -e '.status == \"completed\"'"
it_expect_eq "child results" "$($S workflow describe parent -o json | jq -c '[.result.children[].last.step]')" "[2,2,2]"
it_expect_eq "children closed" "$($S workflow count --prefix parent-child- --status completed)" 3
it_expect_eq "child knows its parent" "$($S workflow show parent-child-0 -o json | jq -r '.[0].attributes.parent_workflow_id')" parent

# Parent terminated: its children (policy terminate) are terminated too; abandoned ones run on.
$S workflow start --type fanout --id p2 --input '{"children":2,"child":{"steps":1,"activity_ms":30000}}' >/dev/null
$S workflow start --type fanout --id p3 --input '{"children":1,"parent_close_policy":"abandon","child":{"steps":1,"activity_ms":1500}}' >/dev/null
it_wait_for 30 bash -c "[ \$($S workflow count --prefix p2-child- --status running) -eq 2 ] && [ \$($S workflow count --prefix p3-child- --status running) -eq 1 ]"
$S workflow terminate p2 --reason "stop all" >/dev/null
$S workflow terminate p3 --reason "leave the child" >/dev/null
it_wait_for 30 bash -c "[ \$($S workflow count --prefix p2-child- --status terminated) -eq 2 ]"
it_wait_for 30 bash -c "[ \$($S workflow count --prefix p3-child- --status completed) -eq 1 ]"

# Continue-as-new: 25 steps, 10 per run -> 3 runs, each history small.
$S workflow start --type looper --id loop --input '{"iterations":25,"per_run":10}' >/dev/null
it_wait_for 30 bash -c "$S workflow describe loop -o json | jq -e '.status == \"completed\"'"
d=$($S workflow describe loop -o json)
it_expect_eq "runs" "$(jq -c '[.runs[].status]' <<<"$d")" '["completed","continued_as_new","continued_as_new"]'
it_expect_eq "done" "$(jq .result.done <<<"$d")" 25
[ "$(jq .history_length <<<"$d")" -lt 30 ] || it_fail "history not bounded"

# Version and side-effect markers are recorded once and replayed.
$S workflow start --type versioned --id ver >/dev/null
it_wait_for 30 bash -c "$S workflow describe ver -o json | jq -e '.status == \"completed\"'"
h=$($S workflow show ver -o json)
it_expect_eq "version" "$($S workflow describe ver -o json | jq .result.version)" 1
it_expect_eq "markers" "$(jq -c '[.[] | select(.type=="MarkerRecorded") | .attributes.marker_name]' <<<"$h")" '["version","side_effect"]'
it_expect_eq "side effect replayed" "$(jq '[.[] | select(.type=="MarkerRecorded")][1].attributes.value' <<<"$h")" \
  "$($S workflow describe ver -o json | jq .result.pick)"

# History hard limit: the run fails clearly instead of growing past it.
kill -TERM "$IT_LAST_PID" 2>/dev/null || true
export SLUICE_HISTORY_LIMIT_EVENTS=20
it_start_bg limited "$S" worker
$S workflow start --type noop_chain --id big --input '{"steps":30}' >/dev/null
it_wait_for 30 bash -c "$S workflow describe big -o json | jq -e '.status == \"failed\"'"
d=$($S workflow describe big -o json)
it_expect_eq "limit failure" "$(jq -r .failure.type <<<"$d")" HistorySizeLimitExceeded
[ "$(jq .history_length <<<"$d")" -le 24 ] || it_fail "history grew past the limit"
echo PASS
