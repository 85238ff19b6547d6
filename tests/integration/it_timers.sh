#!/usr/bin/env bash
# timeout: 90
# labels: tsan
# A durable timer survives the worker: killed (SIGKILL) before the timer is due and restarted
# after, the timer fires exactly once and the workflow completes.
. "$SLUICE_SRC/tests/lib/common.sh"
S=$SLUICE_FIXTURE_BIN # for sleepy
$S workflow start --type sleepy --id nap --input '{"sleep":"2s"}' >/dev/null
it_start_bg w1 "$S" worker
w1=$IT_LAST_PID
it_wait_for 20 bash -c "$S workflow show nap -o json | jq -e 'any(.[]; .type == \"TimerStarted\")'"
kill -KILL "$w1"; wait "$w1" 2>/dev/null || true
started=$($S workflow show nap -o json | jq -r '.[] | select(.type=="TimerStarted") | .attributes.fire_at')
fire_at=$(jq -rn --arg t "$started" '$t | sub("\\.[0-9]+Z$";"Z") | fromdate')
# The timer is pending, and `workflow timers` shows it.
it_expect_eq "pending timers" "$($S workflow timers -o json | jq -c '[.[] | [.workflow_id, .seq, .fire_at]]')" "[[\"nap\",0,\"$started\"]]"
# The timer falls due while no worker runs.
it_wait_for 20 bash -c "[ \$(date +%s) -gt $fire_at ]"
it_expect_eq "still running" "$($S workflow describe nap -o json | jq -r .status)" running
it_start_bg w2 "$S" worker --exit-when-idle
wait "$IT_LAST_PID" || it_fail "worker 2 failed"
h=$($S workflow show nap -o json)
it_expect_eq status "$($S workflow describe nap -o json | jq -r .status)" completed
it_expect_eq "timers fired" "$(jq '[.[] | select(.type=="TimerFired")] | length' <<<"$h")" 1
it_expect_eq "slept at least 2s" "$($S workflow describe nap -o json | jq '.result.slept_ms >= 2000')" true
it_expect_eq "timer rows left" "$($S workflow timers -o json | jq length)" 0
echo PASS
