#!/usr/bin/env bash
# timeout: 120
# labels: tsan
# Cancel during a long heartbeating activity: the activity sees the request and the workflow
# ends canceled. Terminate closes at once. Both are idempotent; on other closed runs they
# say so clearly. A canceled workflow schedules no further attempts, even ones in backoff.
. "$SLUICE_SRC/tests/lib/common.sh"
S=$SLUICE_FIXTURE_BIN # for flaky and the execution log
export SLUICE_FIXTURE_LOG="$T/exec.log"
$S workflow start --type noop_chain --id long --input '{"steps":2,"activity_ms":20000,"activity_options":{"heartbeat_timeout":"1s"}}' >/dev/null
it_start_bg worker "$S" worker
it_wait_for 20 bash -c "$S workflow describe long -o json | jq -e '.pending_activities[0].state == \"started\"'"
it_expect_eq "cancel" "$($S workflow cancel long --reason 'stop it')" "cancel requested for long"
it_wait_for 20 bash -c "$S workflow describe long -o json | jq -e '.status == \"canceled\"'"
# The activity noticed through its heartbeat.
it_wait_for 20 grep -q " canceled$" "$SLUICE_FIXTURE_LOG"
h=$($S workflow show long -o json)
it_expect_eq "cancel request event" "$(jq -r '[.[] | select(.type=="WorkflowExecutionCancelRequested")][0].attributes.reason' <<<"$h")" "stop it"
it_expect_eq "activity cancel event" "$(jq '[.[] | select(.type=="ActivityTaskCancelRequested")] | length' <<<"$h")" 1
it_expect_eq "closed canceled" "$(jq -r '.[-1].type' <<<"$h")" WorkflowExecutionCanceled
it_expect_eq "cancel again" "$($S workflow cancel long)" "cancel already requested for long"
it_expect_fail 1 "workflow 'long' is not running \\(it is canceled\\)" $S workflow terminate long

$S workflow start --type noop_chain --id term --input '{"steps":2,"activity_ms":20000,"activity_options":{"heartbeat_timeout":"1s"}}' >/dev/null
it_wait_for 20 bash -c "$S workflow describe term -o json | jq -e '.pending_activities[0].state == \"started\"'"
it_expect_eq "terminate" "$($S workflow terminate term --reason maintenance)" "terminated term"
it_expect_eq "status" "$($S workflow describe term -o json | jq -r .status)" terminated
it_expect_eq "reason" "$($S workflow show term -o json | jq -r '.[-1].attributes.reason')" maintenance
it_expect_eq "terminate again" "$($S workflow terminate term)" "term was already terminated"
it_expect_fail 1 "workflow 'term' is not running \\(it is terminated\\)" $S workflow cancel term
# Activity tasks on any queue: each is counted once by queue list, as runnable (depth, which
# also counts runnable workflow tasks), waiting for a retry (backoff) or leased (in_flight).
tasks() { $S queue list -o json | jq '[.[] | .depth + .backoff + .in_flight] | add // 0'; }
it_expect_eq "no tasks left" "$(tasks)" 0

# Cancel wins over retry: an activity waiting 30s for its next attempt is never retried.
$S workflow start --type flaky --id backoff --input '{"fail_times":5,"activity_options":{"retry_policy":{"initial_interval":"30s"}}}' >/dev/null
it_wait_for 20 bash -c "$S workflow describe backoff -o json | jq -e '.pending_activities[0].state == \"backoff\"'"
$S workflow cancel backoff >/dev/null
it_wait_for 20 bash -c "$S workflow describe backoff -o json | jq -e '.status == \"canceled\"'"
it_expect_eq "attempts after cancel" "$($S workflow show backoff -o json | jq '[.[] | select(.type=="ActivityTaskStarted")] | length')" 1
it_expect_eq "no retry scheduled" "$(tasks)" 0
echo PASS
