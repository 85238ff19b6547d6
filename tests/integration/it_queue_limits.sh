#!/usr/bin/env bash
# timeout: 120
# labels: tsan
# Task-queue limits are enforced across worker processes: a rate of 4 per second holds in every
# one-second window even with two workers, a concurrency limit caps overlapping activities, and
# `queue list` shows depth, in-flight work, waits and limits.
. "$SLUICE_SRC/tests/lib/common.sh"
S=$SLUICE_BIN
it_expect_fail 2 "--rate must look like 5/min" $S queue limit q --rate fast
it_expect_fail 2 "give --rate and/or --concurrency" $S queue limit q
it_expect_fail 1 "queue 'q' has no limits" $S queue limit q --clear

$S queue limit paced --rate 4/1s --burst 4 >/dev/null
$S queue limit narrow --concurrency 2 >/dev/null
start_all() {
  for i in $(seq 1 16); do
    $S workflow start --type noop_chain --id "r$i" --task-queue paced --input '{"steps":1}' >/dev/null
  done
  for i in $(seq 1 6); do
    $S workflow start --type noop_chain --id "c$i" --task-queue narrow --input '{"steps":1,"activity_ms":300}' >/dev/null
  done
}
# queue list before any worker runs: depth and limits
start_all
q=$($S queue list -o json)
it_expect_eq "paced depth" "$(jq '.[] | select(.queue=="paced") | .depth' <<<"$q")" 16
it_expect_eq "paced limits" "$(jq -r '.[] | select(.queue=="paced") | .limits.rate' <<<"$q")" "4/1s"
it_expect_eq "narrow limits" "$(jq '.[] | select(.queue=="narrow") | .limits.concurrency' <<<"$q")" 2
$S queue list | grep -q "^paced .* rate 4/1s burst 4" || it_fail "queue list table"
# The measured run uses a fresh database and starts the workflows once both workers are up,
# so neither can take every workflow task before the other has started (a loaded machine).
export SLUICE_DB="$T/run.db"
$S queue limit paced --rate 4/1s --burst 4 >/dev/null
$S queue limit narrow --concurrency 2 >/dev/null
it_start_bg w1 "$S" worker --task-queue paced --task-queue narrow --concurrency 4
p1=$IT_LAST_PID
it_start_bg w2 "$S" worker --task-queue paced --task-queue narrow --concurrency 4
p2=$IT_LAST_PID
it_wait_line "$T/w1.log" "ready:" 60 >/dev/null
it_wait_line "$T/w2.log" "ready:" 60 >/dev/null
start_all
it_wait_for 60 bash -c "[ \$($S workflow count --status completed) -eq 22 ]"
kill -TERM "$p1" "$p2"
wait "$p1" || it_fail "worker 1 did not stop cleanly"
wait "$p2" || it_fail "worker 2 did not stop cleanly"
it_expect_eq "all done" "$($S workflow count --status completed)" 22

# Every run with its history; event times in Unix ms ("2026-01-01T10:00:00.123Z").
$S workflow list --limit 1000000 --history -o json >"$T/runs.json"
q() { jq -r 'def ms: (.[0:19] + "Z" | fromdateiso8601) * 1000 + (.[20:23] | tonumber); '"$1" "$T/runs.json"; }
# Start times of the paced activities, in ms, sorted.
starts=$(q '[.[] | select(.task_queue == "paced") | .history[] | select(.type == "ActivityTaskStarted") | .time | ms] | sort | .[]')
max=$(awk '{t[NR]=$1} END {m=0; for (i=1;i<=NR;i++) {n=0; for (j=i;j<=NR && t[j]-t[i]<1000;j++) n++; if (n>m) m=n}; print m}' <<<"$starts")
[ "$max" -le 4 ] || it_fail "$max starts within one second (limit 4)"
span=$(awk 'NR==1{a=$1} {b=$1} END{print b-a}' <<<"$starts")
[ "$span" -ge 2900 ] || it_fail "16 starts at 4/s took only ${span}ms"
# Both workers took part.
it_expect_eq "workers" "$(q '[.[].history[] | select(.type == "ActivityTaskStarted") | .attributes.identity | values] | unique | length')" 2
# Concurrency: never more than 2 narrow activities between their start and completion.
over=$(q '.[] | select(.task_queue == "narrow") | .history as $h | ($h[] | select(.type == "ActivityTaskStarted") | .time | ms) as $s | ($h[] | select(.type == "ActivityTaskCompleted") | .time | ms) as $c | "\($s)|\($c)"' |
  awk -F'|' '{s[NR]=$1; e[NR]=$2} END {m=0; for (i=1;i<=NR;i++) {n=0; for (j=1;j<=NR;j++) if (s[j]<=s[i] && e[j]>s[i]) n++; if (n>m) m=n}; print m}')
[ "$over" -le 2 ] || it_fail "$over narrow activities ran at once (limit 2)"
$S queue limit paced --clear | grep -q "limits removed" || it_fail clear
echo PASS
