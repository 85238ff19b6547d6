#!/usr/bin/env bash
# timeout: 60
# it_loadtest_http.sh - the zero-latency benchmark mode: keep-alive GETs from many
# connections against one emulator endpoint for a second, reporting requests/s, latency
# percentiles and CPU per request (text and JSON); a wrong token shows as non-2xx; bad
# flags are usage errors.
. "$SLUICE_SRC/tests/lib/common.sh"
. "$SLUICE_SRC/tests/fixtures/emulator/lib.sh"
. "$SLUICE_SRC/tests/fixtures/loadtest/lib.sh"

emu_start emu
lt_env
URL="$EMU_URL/api/2.0/genie/spaces"
lt_run bench http --url "$URL" -H "Authorization: Bearer dapi-emulator" --concurrency 50 \
  --duration 1s --json
J="$T/bench.out"
reqs=$(jq .requests "$J")
[ "$reqs" -gt 200 ] || it_fail "only $reqs requests"
it_expect_eq "errors" "$(jq .errors "$J")" 0
it_expect_eq "non-2xx" "$(jq .non_2xx "$J")" 0
it_expect_eq "all 50 connections in flight" "$(jq .max_in_flight "$J")" 50
jq -e '.latency_us.p50 > 0 and .latency_us.p50 <= .latency_us.p99 and .latency_us.p99 <= .latency_us.max
       and .cpu_us_per_request > 0 and .requests_per_s > 0' "$J" >/dev/null || it_fail "figures: $(cat "$J")"
emulator_saw=$(lt_stat '.requests["GET /api/2.0/genie/spaces"]')
[ "$emulator_saw" -ge "$reqs" ] || it_fail "emulator saw $emulator_saw GETs, generator counted $reqs"

lt_run text http --url "$URL" -H "Authorization: Bearer wrong" -c 4 -d 300ms
grep -Eq "^requests: [0-9]+ \([0-9.]+/s\), errors 0, non-2xx [1-9][0-9]*" "$T/text.out" \
  || it_fail "text output: $(cat "$T/text.out")"
grep -q "^latency (ms): min" "$T/text.out" || it_fail "latency line"
grep -q "^generator cpu: .* us per request" "$T/text.out" || it_fail "cpu line"

it_expect_fail 2 "--url is required" "$SLUICE_BIN" loadtest http --duration 1s
it_expect_fail 2 "-H needs 'Name: value'" "$SLUICE_BIN" loadtest http --url "$URL" -H nocolon
it_expect_fail 2 "choose --scenario NAME" "$SLUICE_BIN" loadtest genie
it_expect_fail 2 "do not combine" "$SLUICE_BIN" loadtest genie --scenario burst_test --users 3
emu_stop_all
