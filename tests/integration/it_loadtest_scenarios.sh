#!/usr/bin/env bash
# timeout: 240
# it_loadtest_scenarios.sh - every built-in scenario against the emulator, time-scaled by
# 0.05 (about 14 s of schedule in all): the summary block has every field of the
# notebook's, the request count matches the scenario table and the emulator's question
# log, question i is scheduled at exactly i * interval, and each was sent within a
# tolerance of its due time (burst_test: the first 20 at once, the rest as workers free).
. "$SLUICE_SRC/tests/lib/common.sh"
. "$SLUICE_SRC/tests/fixtures/emulator/lib.sh"
. "$SLUICE_SRC/tests/fixtures/loadtest/lib.sh"

emu_start emu --genie-latency 20ms --genie-rate 0 --statement-latency 10ms
lt_env
SCALE=0.05
TOL_MS=${LT_SEND_TOLERANCE_MS:-150} # a loaded 2-core box (and ASan) still sends on time

check_scenario() { # NAME N DURATION_MS WORKERS
  local name=$1 n=$2 dur_ms=$3 workers=$4 out
  lt_reset
  lt_run "$name" genie --scenario "$name" --time-scale $SCALE --poll-initial 10ms \
    --poll-max 50ms --out "$T/$name"
  out="$T/$name.out"
  grep -qx "Load Test Summary: load_test_$name" "$out" || it_fail "$name: summary title"
  grep -qx "Total Questions: $n" "$out" || it_fail "$name: total questions"
  grep -qx "Successful: $n" "$out" || it_fail "$name: successful"
  grep -qx "Failed: 0" "$out" || it_fail "$name: failed"
  grep -qx "Success Rate: 100.00%" "$out" || it_fail "$name: success rate"
  grep -Eqx "Total Duration: [0-9]+\.[0-9]{2}s" "$out" || it_fail "$name: total duration"
  grep -Eqx "Avg Question Duration: [0-9]+\.[0-9]{2}s" "$out" || it_fail "$name: avg duration"
  grep -Eqx "Throughput: [0-9]+\.[0-9]{2} QPS" "$out" || it_fail "$name: throughput"
  # the schedule actually used
  if [ "$dur_ms" -eq 0 ] || [ "$n" -eq 1 ]; then
    grep -q "^schedule: $name: $n questions\? at once (immediate), $workers workers\?, open loop" \
      "$out" || it_fail "$name: schedule line: $(grep ^schedule "$out")"
  else
    grep -q "^schedule: $name: $n questions over .* x $SCALE = .*, $workers workers, open loop" \
      "$out" || it_fail "$name: schedule line: $(grep ^schedule "$out")"
  fi
  # requests: the scenario's count, in the CSV and at the emulator
  it_expect_eq "$name rows" "$(lt_rows "$name" | wc -l)" "$n"
  it_expect_eq "$name emulator questions" "$(lt_stat '.genie_questions | length')" "$n"
  it_expect_eq "$name summary total" "$(lt_sum "$name" .total_questions)" "$n"
  it_expect_eq "$name peak questions <= workers" \
    "$(lt_sum "$name" "[.peak_in_flight_questions, $workers] | min")" \
    "$(lt_sum "$name" .peak_in_flight_questions)"
  # spacing: scheduled offset of row i is i * D/N exactly (µs resolution); actual sends
  # within TOL_MS of it, except while every worker is busy (burst)
  local eff_ms
  eff_ms=$(awk -v d="$dur_ms" -v s=$SCALE 'BEGIN { printf "%.6f", d * s }')
  lt_rows "$name" | awk -F, -v n="$n" -v d="$eff_ms" -v w="$workers" -v tol="$TOL_MS" \
    -v name="$name" '
    { i = NR - 1; sched = $(NF-4); send = $(NF-3)
      want = (n > 1 && d > 0) ? int(i * d * 1000 / n) / 1000 : 0
      if (sched - want > 0.0015 || want - sched > 0.0015) {
        printf "%s: row %d scheduled at %.3f ms, want %.3f\n", name, i, sched, want; bad = 1 }
      lag = send - sched
      if (lag < -0.001) { printf "%s: row %d sent %.3f ms early\n", name, i, -lag; bad = 1 }
      if (i < w && lag > tol) { printf "%s: row %d sent %.1f ms late\n", name, i, lag; bad = 1 }
      if (d > 0 && lag > tol) { printf "%s: row %d sent %.1f ms late\n", name, i, lag; bad = 1 }
      if (lag > maxlag) maxlag = lag }
    END { printf "%s: %d rows, max send lag %.1f ms\n", name, NR, maxlag; exit bad }' \
    || it_fail "$name: send-time spacing"
}

check_scenario single_test 1 0 1
check_scenario light_load 10 60000 3
check_scenario moderate_load 20 30000 5
check_scenario high_load 35 30000 10
check_scenario stress_test 50 20000 15
check_scenario burst_test 50 0 20
check_scenario sustained_load 100 120000 10

# burst: 50 due at t0 with 20 workers - exactly 20 start at once, the rest queue
started_at_once=$(lt_rows burst_test | awk -F, -v tol="$TOL_MS" '$(NF-3) - $(NF-4) <= tol' | wc -l)
[ "$started_at_once" -ge 20 ] || it_fail "burst: only $started_at_once sent at once"
it_expect_eq "burst peak" "$(lt_sum burst_test .peak_in_flight_questions)" 20
# the queued ones wait for a worker, and that wait is in the scheduled latency only
lt_rows burst_test | awk -F, '{ if ($(NF-1) + 0.001 < $NF) bad = 1 } END { exit bad }' \
  || it_fail "burst: scheduled latency below actual latency"

# progress: none when stdout is not a TTY; on a TTY a line redrawn with \r a few times a second
if grep -q $'\r' "$T/high_load.out"; then it_fail "progress line without a TTY"; fi
if command -v script >/dev/null; then
  script -qec "'$SLUICE_BIN' loadtest genie --scenario high_load --time-scale 0.05 --poll-initial 10ms" \
    /dev/null >"$T/tty.out" </dev/null || it_fail "run on a pty"
  redraws=$(grep -o $'\r\\[[0-9]*/35\\] in flight [0-9]*, queued [a-z]*, p95 [0-9.]*s, errors 0' "$T/tty.out" | wc -l)
  [ "$redraws" -ge 2 ] && [ "$redraws" -le 12 ] || it_fail "$redraws progress redraws in a 1.5 s run"
  grep -q "Total Questions: 35" "$T/tty.out" || it_fail "summary on a TTY"
fi

# a custom scenario overrides the table; an unknown one is a usage error
lt_reset
lt_run custom genie --questions 7 --duration 200ms --workers 2 --poll-initial 10ms --out "$T/custom"
grep -qx "Load Test Summary: load_test_custom" "$T/custom.out" || it_fail "custom title"
it_expect_eq "custom rows" "$(lt_rows custom | wc -l)" 7
it_expect_eq "custom emulator" "$(lt_stat '.genie_questions | length')" 7
it_expect_eq "sample question suffix" "$(lt_stat '.genie_questions[0].content')" \
  "What is the total sales for last month? (iteration 1)"
it_expect_fail 2 "unknown scenario 'heavy_load' \(one of: single_test, light_load" \
  "$SLUICE_BIN" loadtest genie --scenario heavy_load
emu_stop_all
