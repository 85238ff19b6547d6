#!/usr/bin/env bash
# timeout: 240
# labels: tsan
# Kill -9 at many random points: 200 workflows, a worker killed again and again at random
# moments, restarted each time. Every workflow completes exactly once (one run, one
# WorkflowExecutionCompleted, each step completed once), and the database stays sound.
. "$SLUICE_SRC/tests/lib/common.sh"
S=$SLUICE_BIN
export SLUICE_MAINTENANCE_INTERVAL=100ms
opts='"activity_options":{"heartbeat_timeout":"400ms","start_to_close_timeout":"2s","retry_policy":{"initial_interval":"50ms"}}'
N=200
for i in $(seq 1 $N); do
  $S workflow start --type noop_chain --id "r$i" --input "{\"steps\":3,\"activity_ms\":25,$opts}" >/dev/null
done

kills=0
for round in $(seq 1 40); do
  completed=$($S workflow count --status completed)
  [ "$completed" -lt $N ] || break
  it_start_bg "w$round" "$S" worker --concurrency 4
  pid=$IT_LAST_PID
  # fault injection: kill after a random 50-400 ms (this is the fault, not a synchronisation)
  sleep "0.$(( (RANDOM % 35) + 5 ))"
  kill -KILL "$pid" 2>/dev/null && kills=$((kills + 1))
  wait "$pid" 2>/dev/null || true
done
# Finish whatever is left with a worker that is allowed to live.
it_start_bg final "$S" worker --concurrency 4 --exit-when-idle
wait "$IT_LAST_PID" || it_fail "final worker failed"
[ "$kills" -ge 5 ] || it_fail "only $kills kills happened"

it_expect_eq completed "$($S workflow count --status completed)" $N
it_expect_eq "runs" "$($S workflow count)" $N
# The file after kill -9: no CLI runs PRAGMA integrity_check, so sqlite3 does.
it_expect_eq integrity "$(sqlite3 "$SLUICE_DB" 'PRAGMA integrity_check')" ok
# Every run with its history.
$S workflow list --limit 1000000 --history -o json >"$T/runs.json"
q() { jq "$1" "$T/runs.json"; }
completed() { echo '[.history[] | select(.type == "WorkflowExecutionCompleted")]'; }
it_expect_eq "completions per run" "$(q "[.[] | $(completed) | length | select(. > 1)] | length")" 0
it_expect_eq "runs with a completion" "$(q "[.[] | $(completed) | select(length > 0)] | length")" $N
it_expect_eq "steps completed twice" "$(q '[.[] | [.history[] | select(.type == "ActivityTaskCompleted") | .attributes.seq] | group_by(.)[] | select(length > 1)] | length')" 0
it_expect_eq "steps completed" "$(q '[.[].history[] | select(.type == "ActivityTaskCompleted")] | length')" $((N * 3))
# history_length is the run's next event id - 1; the events are 1..that, no gaps
it_expect_eq "dense histories" "$(q '[.[] | select([.history[].event_id] != [range(1; .history_length + 1)])] | length')" 0
# No activity or workflow task left on any queue (and none has limits): queue list is empty.
it_expect_eq "leftover tasks" "$($S queue list -o json | jq length)" 0
echo "PASS ($kills kills)"
