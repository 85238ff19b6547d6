#!/usr/bin/env bash
# timeout: 90
# labels: tsan
# Signals: sent before the code waits they are kept, in order; sent while it waits they wake
# it; a wait with a timeout fails with SignalTimeout; signalling a closed workflow is an error.
. "$SLUICE_SRC/tests/lib/common.sh"
S=$SLUICE_FIXTURE_BIN # for collector
$S workflow start --type collector --id col --input '{"count":3,"signal":"add","timeout":"60s"}' >/dev/null
$S workflow signal col --name add --input '{"n":1}' >/dev/null
$S workflow signal col --name other --input '"ignored"' >/dev/null
$S workflow signal col --name add --input '{"n":2}' >/dev/null
it_start_bg worker "$S" worker
# The third wait starts a timeout timer: the code is now waiting.
it_wait_for 20 bash -c "$S workflow show col -o json | jq -e '[.[] | select(.type==\"TimerStarted\")] | length == 3'"
$S workflow signal col --name add --input '{"n":3}' >/dev/null
it_wait_for 20 bash -c "$S workflow describe col -o json | jq -e '.status == \"completed\"'"
it_expect_eq "signals in order" "$($S workflow describe col -o json | jq -c .result.signals)" '[{"n":1},{"n":2},{"n":3}]'
h=$($S workflow show col -o json)
it_expect_eq "signal events" "$(jq '[.[] | select(.type=="WorkflowExecutionSignaled")] | length' <<<"$h")" 4
it_expect_eq "timeout timers canceled" "$(jq '[.[] | select(.type=="TimerCanceled")] | length' <<<"$h")" 3

$S workflow start --type collector --id lonely --input '{"count":1,"timeout":"300ms"}' >/dev/null
it_wait_for 20 bash -c "$S workflow describe lonely -o json | jq -e '.status == \"failed\"'"
it_expect_eq "timeout failure" "$($S workflow describe lonely -o json | jq -r .failure.type)" SignalTimeout

it_expect_fail 1 "workflow 'col' is not running \\(it is completed\\)" $S workflow signal col --name add
it_expect_fail 1 "no workflow with id 'nobody'" $S workflow signal nobody --name add
it_expect_fail 2 "missing --name" $S workflow signal col
echo PASS
