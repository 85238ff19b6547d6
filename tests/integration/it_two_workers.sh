#!/usr/bin/env bash
# timeout: 240
# labels: tsan
# Two worker processes on one database complete 1,000 workflows together; no activity is
# executed or completed twice for the same attempt, and both workers did work.
. "$SLUICE_SRC/tests/lib/common.sh"
S=$SLUICE_FIXTURE_BIN # for the execution log
export SLUICE_FIXTURE_LOG="$T/executions.log"
N=1000
# Both workers are up before any work exists, then the workflows arrive while they run: each
# worker picks up workflow tasks as they come (a worker started first must not find everything
# already taken, as happened once on a loaded machine when work was queued before the workers).
it_start_bg w1 "$S" worker --concurrency 4
p1=$IT_LAST_PID
it_start_bg w2 "$S" worker --concurrency 4
p2=$IT_LAST_PID
it_wait_line "$T/w1.log" "ready:" 60 >/dev/null
it_wait_line "$T/w2.log" "ready:" 60 >/dev/null
for i in $(seq 1 $N); do
  $S workflow start --type noop_chain --id "p$i" --input '{"steps":3,"activity_ms":1}' >/dev/null
done
it_wait_for 150 bash -c "[ \$($S workflow count --status completed) -eq $N ]"
kill -TERM "$p1" "$p2"
wait "$p1" || it_fail "worker 1 did not stop cleanly"
wait "$p2" || it_fail "worker 2 did not stop cleanly"

it_expect_eq completed "$($S workflow count --status completed)" $N
# Every run with its history.
$S workflow list --limit 1000000 --history -o json >"$T/runs.json"
q() { jq "$1" "$T/runs.json"; }
it_expect_eq "completions per step" "$(q '[.[] | [.history[] | select(.type == "ActivityTaskCompleted") | .attributes.seq] | group_by(.)[] | select(length > 1)] | length')" 0
# Executions: each (run/seq, attempt) ran exactly once.
it_expect_eq "executions" "$(wc -l <"$SLUICE_FIXTURE_LOG")" $((N * 3))
it_expect_eq "duplicate executions" "$(sort "$SLUICE_FIXTURE_LOG" | uniq -d | wc -l)" 0
workers=$(q '[.[].history[] | select(.type == "ActivityTaskStarted") | .attributes.identity | values] | unique | length')
it_expect_eq "workers that ran activities" "$workers" 2
echo PASS
