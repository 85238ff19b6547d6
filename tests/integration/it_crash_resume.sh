#!/usr/bin/env bash
# timeout: 120
# labels: tsan
# A worker killed with SIGKILL while it runs a long activity: a new worker notices the
# expired lease (heartbeat timeout), retries the activity, and the workflow completes.
# History shows the timed-out attempt; the database passes PRAGMA integrity_check.
. "$SLUICE_SRC/tests/lib/common.sh"
S=$SLUICE_BIN
export SLUICE_MAINTENANCE_INTERVAL=100ms

$S workflow start --type noop_chain --id long --input \
  '{"steps":2,"activity_ms":3000,"activity_options":{"heartbeat_timeout":"1s","retry_policy":{"initial_interval":"100ms"}}}' >/dev/null

it_start_bg w1 "$S" worker
w1=$IT_LAST_PID
# Wait until the first activity is running (leased and started) in w1.
it_wait_for 20 bash -c "$S workflow describe long -o json | jq -e '.pending_activities[0].state == \"started\"'"
kill -KILL "$w1"
wait "$w1" 2>/dev/null || true

it_start_bg w2 "$S" worker --exit-when-idle
wait "$IT_LAST_PID" || it_fail "second worker failed"

d=$($S workflow describe long -o json)
it_expect_eq status "$(jq -r .status <<<"$d")" completed
h=$($S workflow show long -o json)
to=$(jq -c '[.[] | select(.type=="ActivityTaskTimedOut") | .attributes]' <<<"$h")
it_expect_eq "timed-out attempts" "$(jq length <<<"$to")" 1
it_expect_eq "timeout type" "$(jq -r '.[0].timeout_type' <<<"$to")" heartbeat
it_expect_eq "timed-out attempt" "$(jq '.[0].attempt' <<<"$to")" 1
it_expect_eq "will retry" "$(jq '.[0].will_retry' <<<"$to")" true
it_expect_eq "retried step completed on attempt 2" \
  "$(jq '[.[] | select(.type=="ActivityTaskCompleted")][0].attributes.attempt' <<<"$h")" 2
it_expect_eq "steps completed" "$(jq '[.[] | select(.type=="ActivityTaskCompleted")] | length' <<<"$h")" 2
# The file after kill -9: no CLI runs PRAGMA integrity_check, so sqlite3 does.
it_expect_eq integrity "$(sqlite3 "$SLUICE_DB" 'PRAGMA integrity_check')" ok
echo PASS
