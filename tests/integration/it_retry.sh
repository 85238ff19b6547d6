#!/usr/bin/env bash
# timeout: 120
# labels: tsan
# Retrying workflows: a workflow retry policy producing 3 runs; `workflow retry` of a run whose
# third step failed non-retryably reuses the results of steps 1 and 2 (not executed again) and
# runs from step 3; batch retry by --query; retry of a running workflow is refused.
. "$SLUICE_SRC/tests/lib/common.sh"
S=$SLUICE_FIXTURE_BIN # for flaky, gated_chain and the execution log
export SLUICE_FIXTURE_LOG="$T/exec.log"
it_start_bg worker "$S" worker

# Workflow-level retry policy: runs 1 and 2 fail, run 3 completes.
$S workflow start --type flaky --id wr --input '{"fail_runs":2}' \
  --retry-policy '{"initial_interval":"200ms","maximum_attempts":5}' >/dev/null
it_wait_for 30 bash -c "$S workflow describe wr -o json | jq -e '.status == \"completed\"'"
d=$($S workflow describe wr -o json)
it_expect_eq "runs in the chain" "$(jq '.runs | length' <<<"$d")" 3
it_expect_eq "chain statuses" "$(jq -c '[.runs[].status]' <<<"$d")" '["completed","failed","failed"]'
it_expect_eq "chain attempts" "$(jq -c '[.runs[].attempt]' <<<"$d")" '[3,2,1]'
first=$(jq -r '.runs[2].run_id' <<<"$d")
it_expect_eq "first run says it retries" "$($S workflow show wr --run "$first" -o json | jq -r '.[-1].attributes.retry_state')" in_progress

# Retry from the failed step.
touch "$T/broken"
$S workflow start --type gated_chain --id sync --input "{\"steps\":3,\"fail_step\":3,\"fail_while_exists\":\"$T/broken\"}" >/dev/null
it_wait_for 30 bash -c "$S workflow describe sync -o json | jq -e '.status == \"failed\"'"
old_run=$($S workflow describe sync -o json | jq -r .run_id)
it_expect_fail 1 "workflow 'wr' is completed; only failed" $S workflow retry wr
rm "$T/broken"   # the operator fixes the cause
out=$($S workflow retry sync --reason "fixed the gate")
new_run=${out##*new run }
it_wait_for 30 bash -c "$S workflow describe sync -o json | jq -e '.status == \"completed\"'"
d=$($S workflow describe sync -o json)
it_expect_eq "new run is the latest" "$(jq -r .run_id <<<"$d")" "$new_run"
# Steps 1 and 2 ran once in total; step 3 ran in both runs.
it_expect_eq "step 1 executions" "$(grep -c "^noop $old_run/0 \|^noop $new_run/0 " "$SLUICE_FIXTURE_LOG")" 1
it_expect_eq "step 2 executions" "$(grep -c "^noop $old_run/1 \|^noop $new_run/1 " "$SLUICE_FIXTURE_LOG")" 1
it_expect_eq "step 3 in the new run" "$(grep -c "^noop $new_run/2 " "$SLUICE_FIXTURE_LOG")" 1
h=$($S workflow show sync -o json)
started=$(jq '.[0].attributes' <<<"$h")
it_expect_eq "continues" "$(jq -r .continued_from_run_id <<<"$started")" "$old_run"
it_expect_eq "reason" "$(jq -r .reason <<<"$started")" "fixed the gate"
it_expect_eq "carried events" "$(jq -c .carried_over_events <<<"$started")" "[2,4,5,7]"
it_expect_eq "carried results visible" "$(jq -c '[.[] | select(.attributes.carried_over_from) | .type]' <<<"$h")" \
  '["ActivityTaskScheduled","ActivityTaskCompleted","ActivityTaskScheduled","ActivityTaskCompleted"]'
$S workflow show sync | grep -q "carried over from event 4 of run ${old_run:0:8}" || it_fail "table does not show carried events"

# Batch: retry every failed workflow of a type after showing the count.
touch "$T/gate"
for i in 1 2 3; do
  $S workflow start --type gated_chain --id "b$i" --input "{\"steps\":2,\"fail_step\":2,\"fail_while_exists\":\"$T/gate\"}" >/dev/null
done
it_wait_for 30 bash -c "[ \$($S workflow count --status failed --prefix b) -eq 3 ]"
rm "$T/gate"
it_expect_fail 2 "refusing to act on 3 workflows without --yes" $S workflow retry --query "status=failed type=gated_chain prefix=b"
out=$($S workflow retry --query "status=failed type=gated_chain prefix=b" --yes)
grep -q "^3 workflows match" <<<"$out" || it_fail "count not shown: $out"
grep -q "^3 done, 0 failed" <<<"$out" || it_fail "batch result: $out"
it_wait_for 30 bash -c "[ \$($S workflow list --prefix b -o json | jq '[.[] | select(.status==\"completed\")] | length') -eq 3 ]"
echo PASS
