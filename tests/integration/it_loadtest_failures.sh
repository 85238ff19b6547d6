#!/usr/bin/env bash
# timeout: 120
# it_loadtest_failures.sh - failures are failures, each with its cause: a Genie FAILED
# message (genie_failed; the Locust tool counted it as a success), 429 after the last
# retry (rate_limited) while Retry-After retries succeed, a question past its deadline
# (timeout), and HTTP errors (unknown space, injected 500s). Ctrl-C stops a run early
# with a summary of what finished (exit 1).
. "$SLUICE_SRC/tests/lib/common.sh"
. "$SLUICE_SRC/tests/fixtures/emulator/lib.sh"
. "$SLUICE_SRC/tests/fixtures/loadtest/lib.sh"

emu_start emu --genie-latency 20ms --genie-rate 0
lt_env
# the space comes from GENIE_SPACE_ID: listing spaces to find one would itself wait out a
# stall or meet an injected fault
export GENIE_SPACE_ID=5a1e5000000000000000000000000001
cause_of() { lt_rows "$1" | awk -F, '{print $(NF-9)}' | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}'; }

printf 'Show sales by region\nplease force a failure\nHow many orders are there\nunits by product\n' >"$T/q.txt"
lt_run failed genie --questions-file "$T/q.txt" --workers 4 --poll-initial 10ms --out "$T/failed"
grep -qx "Failed: 1" "$T/failed.out" || it_fail "Genie FAILED is a failure"
grep -qx "Success Rate: 75.00%" "$T/failed.out" || it_fail "success rate"
it_expect_eq "causes" "$(cause_of failed)" "genie_failed=1 ok=3 "
it_expect_eq "summary failures" "$(lt_sum failed .failures.genie_failed)" 1
lt_rows failed | grep -q "Genie message FAILED: GENERIC_CHAT_COMPLETION_EXCEPTION" \
  || it_fail "error text in the CSV"

# 429: one question per second; without retries two of three are refused
curl -sf -X POST "$EMU_URL/_emulator/genie-rate?rate=1/s" -o /dev/null
lt_run limited genie --questions 3 --workers 3 --max-retries 0 --poll-initial 10ms --out "$T/limited"
it_expect_eq "no retries" "$(cause_of limited)" "ok=1 rate_limited=2 "
it_expect_eq "429 exhausted" "$(lt_sum limited .failures.rate_limited)" 2
# with retries they wait Retry-After and all succeed
curl -sf -X POST "$EMU_URL/_emulator/genie-rate?rate=1/s" -o /dev/null
lt_run retried genie --questions 3 --workers 3 --poll-initial 10ms --out "$T/retried"
it_expect_eq "with retries" "$(cause_of retried)" "ok=3 "
it_expect_eq "retries recorded" "$(lt_rows retried | awk -F, '{s += $(NF-7)} END {print (s >= 2)}')" 1
curl -sf -X POST "$EMU_URL/_emulator/genie-rate?rate=0" -o /dev/null

# a question past its deadline
curl -sf -X POST "$EMU_URL/_emulator/stall?ms=1500" -o /dev/null
lt_run slow genie --questions 2 --workers 2 --timeout 300ms --poll-initial 10ms --out "$T/slow"
it_expect_eq "timeouts" "$(cause_of slow)" "timeout=2 "
awk -v v="$(lt_sum slow .latency_ms.actual.max)" 'BEGIN { exit !(v < 1200) }' \
  || it_fail "a timed-out question waited past its deadline"
stalled() { [ "$(lt_stat .stall_until_ms)" -lt "$(($(date +%s%3N)))" ]; }
it_wait_for 10 stalled

# HTTP errors: an unknown space, injected 500s on Genie
lt_run nospace genie --questions 1 --space-id 0000000000000000000000000000dead \
  --poll-initial 10ms --out "$T/nospace"
it_expect_eq "unknown space" "$(cause_of nospace)" "http_error=1 "
lt_rows nospace | grep -q "HTTP 404 RESOURCE_DOES_NOT_EXIST" || it_fail "404 text"
curl -sf -X POST "$EMU_URL/_emulator/faults" -d '/api/2.0/genie/*:500=1' -o /dev/null
lt_run faults genie --questions 2 --poll-initial 10ms --out "$T/faults"
it_expect_eq "500s" "$(cause_of faults)" "http_error=2 "
curl -sf -X POST "$EMU_URL/_emulator/faults" -o /dev/null

# SIGINT mid-run: what finished is reported, the rest is counted as not started/aborted
lt_reset
it_start_bg int "$SLUICE_BIN" loadtest genie --questions 40 --duration 8s --workers 2 \
  --poll-initial 10ms
INT_PID=$IT_LAST_PID
asked3() { [ "$(lt_stat '.genie_questions | length')" -ge 3 ]; }
it_wait_for 20 asked3
kill -INT "$INT_PID"
rc=0; wait "$INT_PID" || rc=$?
it_expect_eq "interrupted exit" "$rc" 1
grep -q "interrupted; stopping" "$T/int.log" || it_fail "interrupt warning"
grep -Eq "^Not started \(due after the stop\): [0-9]+" "$T/int.log" || it_fail "not started line"
grep -Eq "^Total Questions: [1-9]" "$T/int.log" || it_fail "summary of what finished"
emu_stop_all
