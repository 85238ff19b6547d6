#!/usr/bin/env bash
# timeout: 120
# `worker --exit-when-drained` exits 0 once nothing is runnable now: the quick workflows have
# completed and a run sleeping on a 1-hour timer is left open, its timer pending. The same
# database keeps `worker --exit-when-idle` running (it waits for that timer), until it is
# told to stop.
. "$SLUICE_SRC/tests/lib/common.sh"
S=$SLUICE_FIXTURE_BIN # for the sleepy workflow

it_expect_fail 2 "give --exit-when-idle or --exit-when-drained, not both" \
  $S worker --exit-when-idle --exit-when-drained

$S workflow start --type sleepy --id nap --input '{"sleep":"1h"}' >/dev/null
for i in 1 2 3 4 5; do
  $S workflow start --type noop_chain --id "quick$i" --input '{"steps":3}' >/dev/null
done

# wait_exit PID SECS: wait for PID to exit within SECS; its exit code goes to $EXIT_RC.
wait_exit() {
  local pid=$1 deadline=$(( $(date +%s) + $2 ))
  while kill -0 "$pid" 2>/dev/null; do
    [ "$(date +%s)" -lt "$deadline" ] || it_fail "process $pid still running after $2 s"
    sleep 0.05
  done
  EXIT_RC=0
  wait "$pid" || EXIT_RC=$?
}

t0=$(date +%s%N)
it_start_bg drained "$S" worker --exit-when-drained
wait_exit "$IT_LAST_PID" 30
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
it_expect_eq "--exit-when-drained exit code" "$EXIT_RC" 0
grep -q "stopping (drained)" "$T/drained.log" || it_fail "no 'stopping (drained)' in the log"
echo "worker --exit-when-drained exited after ${ms} ms"
it_expect_eq "quick workflows completed" "$($S workflow count --status completed --prefix quick)" 5
it_expect_eq "sleepy run still open" "$($S workflow describe nap -o json | jq -r .status)" running
it_expect_eq "its timer pending" "$($S workflow timers -o json | jq -r '[.[].workflow_id] | join(",")')" nap

# --exit-when-idle on the same database waits for the timer: it is still up well after the
# ~0.3 s its idle check needs to exit, and stops cleanly when told to.
it_start_bg idle "$S" worker --exit-when-idle
idle_pid=$IT_LAST_PID
it_wait_line "$T/idle.log" "ready:" 30 >/dev/null
deadline=$(( $(date +%s) + 3 ))
while [ "$(date +%s)" -lt "$deadline" ]; do
  kill -0 "$idle_pid" 2>/dev/null || it_fail "--exit-when-idle exited while a run sleeps: $(cat "$T/idle.log")"
  sleep 0.1
done
kill -TERM "$idle_pid"
wait_exit "$idle_pid" 30
it_expect_eq "--exit-when-idle exit code after SIGTERM" "$EXIT_RC" 0
grep -q "stopping (SIGTERM)" "$T/idle.log" || it_fail "no 'stopping (SIGTERM)' in the idle worker's log"
it_expect_eq "sleepy run still open after both" "$($S workflow describe nap -o json | jq -r .status)" running
echo PASS
