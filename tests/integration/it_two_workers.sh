#!/usr/bin/env bash
# timeout: 180
# Two worker processes on one database complete 1,000 workflows together; no activity is
# executed or completed twice for the same attempt, and both workers did work.
. "$SLUICE_SRC/tests/lib/common.sh"
S=$SLUICE_BIN
export SLUICE_EXAMPLES_LOG="$T/executions.log"
N=1000
# Start everything first (one CLI transaction each would be slow: use a generated batch).
for i in $(seq 1 $N); do echo "$i"; done | while read -r i; do
  $S workflow start --type noop_chain --id "p$i" --input '{"steps":3,"activity_ms":1}' >/dev/null
done
it_start_bg w1 "$S" worker --concurrency 4 --exit-when-idle
p1=$IT_LAST_PID
it_start_bg w2 "$S" worker --concurrency 4 --exit-when-idle
p2=$IT_LAST_PID
wait "$p1" || it_fail "worker 1 failed"
wait "$p2" || it_fail "worker 2 failed"

it_expect_eq completed "$($S workflow count --status completed)" $N
q() { sqlite3 "$SLUICE_DB" "$1"; }
it_expect_eq "completions per step" "$(q "SELECT count(*) FROM (SELECT run_pk, json_extract(attrs,'\$.seq') FROM events WHERE type='ActivityTaskCompleted' GROUP BY 1,2 HAVING count(*) > 1)")" 0
# Executions: each (run/seq, attempt) ran exactly once.
it_expect_eq "executions" "$(wc -l <"$SLUICE_EXAMPLES_LOG")" $((N * 3))
it_expect_eq "duplicate executions" "$(sort "$SLUICE_EXAMPLES_LOG" | uniq -d | wc -l)" 0
workers=$(q "SELECT count(DISTINCT json_extract(attrs,'\$.identity')) FROM events WHERE type='ActivityTaskStarted'")
it_expect_eq "workers that ran activities" "$workers" 2
echo PASS
