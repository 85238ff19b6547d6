#!/usr/bin/env bash
# timeout: 180
# labels: tsan
# it_emulator_faults.sh - seeded fault injection: 429/500/drops in roughly the configured
# proportions, the same sequence for the same seed, 429 with Retry-After, per-path specs set
# at run time, injected latency, /_emulator/stall holding responses, control paths never
# faulted, and the fault counters in /_emulator/stats.
. "$SLUICE_SRC/tests/lib/common.sh"
. "$SLUICE_SRC/tests/fixtures/emulator/lib.sh"

N=400
# One curl process, sequential requests, a fresh connection each (curl silently retries a
# request whose reused keep-alive connection was dropped): a drop shows as 000.
codes() {
  local urls=() i
  for ((i = 0; i < N; i++)); do urls+=(-o /dev/null "$EMU_URL/api/2.0/sql/warehouses"); done
  curl -s -H "$AUTH" -H "Connection: close" -w '%{http_code}\n' "${urls[@]}" > "$1" || true
}
count() { grep -c "^$1\$" "$2" || true; }

emu_start emu1 --faults "429=0.2,500=0.1,drop=0.05,retry_after=2" --seed 7
codes "$T/run1"
it_expect_eq "responses" "$(wc -l < "$T/run1")" $N
c429=$(count 429 "$T/run1"); c500=$(count 500 "$T/run1"); c000=$(count 000 "$T/run1"); c200=$(count 200 "$T/run1")
echo "seed 7: 200=$c200 429=$c429 500=$c500 drop=$c000"
[ "$c429" -ge 50 ] && [ "$c429" -le 115 ] || it_fail "429 count $c429 not near 80"
[ "$c500" -ge 20 ] && [ "$c500" -le 65 ] || it_fail "500 count $c500 not near 40"
[ "$c000" -ge 6 ] && [ "$c000" -le 40 ] || it_fail "drop count $c000 not near 20"
[ $((c200 + c429 + c500 + c000)) -eq $N ] || it_fail "unexpected status codes"
curl -sf "$EMU_URL/_emulator/stats" -o "$T/body"
it_expect_eq "429 counted" "$(jb '.faults["429"]')" "$c429"
it_expect_eq "drops counted" "$(jb '.faults.drop')" "$c000"
it_expect_eq "injected" "$(jb .faults_injected)" $((c429 + c500 + c000))

# 429 carries Retry-After and the Databricks error body; 503 is TEMPORARILY_UNAVAILABLE.
curl -sf -X POST "$EMU_URL/_emulator/faults" -d '429=1,retry_after=3' -o /dev/null
req GET /api/2.0/sql/warehouses
expect_error 429 REQUEST_LIMIT_EXCEEDED
grep -qi '^Retry-After: 3' "$T/hdr" || it_fail "Retry-After"
curl -sf "$EMU_URL/_emulator/stats" -o /dev/null || it_fail "control path was faulted"
curl -sf -X POST "$EMU_URL/_emulator/faults" -d '503=1' -o /dev/null
req GET /api/2.0/sql/warehouses
expect_error 503 TEMPORARILY_UNAVAILABLE
curl -sf -X POST "$EMU_URL/_emulator/faults" -d '500=1' -o /dev/null
req GET /api/2.0/sql/warehouses
expect_error 500 INTERNAL_ERROR
CODE=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "$EMU_URL/_emulator/faults" -d '429=7')
expect_error 400 INVALID_PARAMETER_VALUE

# per-path rules
curl -sf -X POST "$EMU_URL/_emulator/faults" -d '/api/2.0/sql/statements*:503=1;/api/2.0/fs/*:429=1' -o /dev/null
req POST /api/2.0/sql/statements '{"warehouse_id":"emu0000000000001","statement":"SELECT 1"}'
expect_code 503
req GET /api/2.0/fs/directories/Volumes/main/default
expect_code 429
req GET /api/2.0/sql/warehouses
expect_code 200

# injected latency
curl -sf -X POST "$EMU_URL/_emulator/faults" -d 'latency_ms=300' -o /dev/null
t=$(curl -s -o /dev/null -w '%{time_total}' -H "$AUTH" "$EMU_URL/api/2.0/sql/warehouses")
awk -v t="$t" 'BEGIN { exit !(t >= 0.28) }' || it_fail "latency not applied (${t}s)"
curl -sf -X POST "$EMU_URL/_emulator/faults" -d '' -o /dev/null

# stall: every non-control response waits until the stall ends; control paths do not
curl -sf -X POST "$EMU_URL/_emulator/stall?ms=1500" -o /dev/null
t0=$(date +%s%N)
curl -s -o "$T/s1" -H "$AUTH" "$EMU_URL/api/2.0/sql/warehouses" &
p1=$!
t=$(curl -s -o /dev/null -w '%{time_total}' "$EMU_URL/_emulator/stats")
awk -v t="$t" 'BEGIN { exit !(t < 0.5) }' || it_fail "control path stalled (${t}s)"
wait "$p1"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -ge 1300 ] || it_fail "stalled request returned after ${ms}ms"
it_expect_eq "stalled response" "$(jq -r '.warehouses[0].state' "$T/s1")" RUNNING

# Same seed, same sequence (requests are sequential here).
emu_start emu2 --faults "429=0.2,500=0.1,drop=0.05,retry_after=2" --seed 7
codes "$T/run2"
cmp -s "$T/run1" "$T/run2" || it_fail "seed 7 gave a different sequence"
emu_start emu3 --faults "429=0.2,500=0.1,drop=0.05,retry_after=2" --seed 8
codes "$T/run3"
! cmp -s "$T/run1" "$T/run3" || it_fail "seed 8 gave the same sequence as seed 7"
emu_stop_all
echo "it_emulator_faults: ok"
