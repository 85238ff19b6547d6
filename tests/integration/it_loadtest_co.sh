#!/usr/bin/env bash
# timeout: 120
# it_loadtest_co.sh - coordinated omission. 200 questions over 10 s (one every 50 ms) with
# one worker; once 40 have been asked the emulator stalls every response for 2 s. The one
# question in flight waits 2 s, the ~40 due meanwhile queue behind it: measured from the
# scheduled send time the p99 shows the stall (>= 1.5 s), while latency from the actual
# send time - what a closed-loop tool reports - hides it (p99 < 0.5 s; only its max,
# one sample, sees it).
. "$SLUICE_SRC/tests/lib/common.sh"
. "$SLUICE_SRC/tests/fixtures/emulator/lib.sh"
. "$SLUICE_SRC/tests/fixtures/loadtest/lib.sh"

emu_start emu --genie-latency 10ms --genie-rate 0
lt_env
it_start_bg gen "$SLUICE_BIN" loadtest genie --questions 200 --duration 10s --workers 1 \
  --poll-initial 5ms --poll-max 20ms --out "$T/co"
GEN=$IT_LAST_PID
asked40() { [ "$(lt_stat '.genie_questions | length')" -ge 40 ]; }
it_wait_for 30 asked40
curl -sf -X POST "$EMU_URL/_emulator/stall?ms=2000" -o /dev/null || it_fail "stall"
wait "$GEN" || { cat "$T/gen.log" >&2; it_fail "generator failed"; }
cat "$T/gen.log"

it_expect_eq "all answered" "$(lt_sum co .successful)" 200
sched_p99=$(lt_sum co .latency_ms.scheduled.p99)
actual_p99=$(lt_sum co .latency_ms.actual.p99)
actual_max=$(lt_sum co .latency_ms.actual.max)
echo "p99 from scheduled send: ${sched_p99} ms; from actual send: ${actual_p99} ms (max ${actual_max} ms)"
awk -v v="$sched_p99" 'BEGIN { exit !(v >= 1500) }' || it_fail "scheduled p99 $sched_p99 ms hides the stall"
awk -v v="$actual_p99" 'BEGIN { exit !(v < 500) }' || it_fail "actual p99 $actual_p99 ms"
awk -v v="$actual_max" 'BEGIN { exit !(v >= 1500) }' || it_fail "the stalled question: $actual_max ms"
# the delayed questions were sent late, each counting its wait
late=$(lt_rows co | awk -F, '$(NF-3) - $(NF-4) > 500' | wc -l)
[ "$late" -ge 20 ] || it_fail "only $late questions were sent late"
grep -q "^Latency from the scheduled send time" "$T/gen.log" || it_fail "scheduled table"
grep -q "^Latency from the actual send time" "$T/gen.log" || it_fail "actual table"
emu_stop_all
