#!/usr/bin/env bash
# timeout: 90
# it_genie_resume.sh - a worker killed (-9) while its genie_ask activity polls a slow Genie
# answer: the next worker's attempt resumes polling the same message (taken from the last
# heartbeat's details) instead of asking again, so the emulator sees the question once and
# the workflow completes with that message's answer. Also: activity_options in the input.
# The heartbeat timeout (2 s) leaves room for scheduling stalls on a busy machine: a lease
# that expired under the live worker before its first heartbeat would make the next attempt
# ask again.
. "$SLUICE_SRC/tests/lib/common.sh"
. "$SLUICE_SRC/tests/fixtures/emulator/lib.sh"

for v in $(env | grep -oE '^(DATABRICKS_[A-Z_]+|GENIE_[A-Z_]+|MAX_RETRIES|INITIAL_BACKOFF|MAX_BACKOFF|BACKOFF_MULTIPLIER|MAX_QUEUE_SIZE)='); do
  unset "${v%=}"
done
export HOME="$T/home"
mkdir -p "$HOME" "$T/work"
cd "$T/work"

emu_start emu --genie-latency 5s --genie-rate 0
export DATABRICKS_HOST="$EMU_URL" DATABRICKS_TOKEN=dapi-emulator
export GENIE_POLL_INTERVAL=50ms GENIE_POLL_MAX_INTERVAL=100ms
export SLUICE_MAINTENANCE_INTERVAL=100ms LOG_LEVEL=INFO
S="$SLUICE_BIN"
SP=5a1e5000000000000000000000000001

"$S" workflow start --type genie_query --task-queue genie --id genie-resume --input \
  "{\"questions\":[\"Show sales by region\"],\"space_id\":\"$SP\",
    \"activity_options\":{\"heartbeat_timeout\":\"2s\",\"retry_policy\":{\"initial_interval\":\"50ms\"}}}" >/dev/null

it_start_bg worker1 "$S" worker --task-queue genie
W1=$IT_LAST_PID
hb_message() {
  "$S" workflow describe genie-resume -o json |
    jq -er '.pending_activities[0].heartbeat_details.message_id | select(test("^[0-9a-f]{32}$"))'
}
it_wait_for 30 hb_message
M=$(hb_message)
kill -9 "$W1"
wait "$W1" 2>/dev/null || true
curl -sf "$EMU_URL/_emulator/stats" -o stats.json
it_expect_eq "asked once before the crash" "$(jq '.genie_questions | length' stats.json)" 1
it_expect_eq "heartbeat names the message" "$(jq -r '.genie_questions[0].message_id' stats.json)" "$M"

it_start_bg worker2 timeout 60 "$S" worker --task-queue genie --exit-when-idle
W2=$IT_LAST_PID
rc=0; wait "$W2" || rc=$?
[ "$rc" -eq 0 ] || it_fail "worker2 exited $rc"
grep -q "resuming Genie message $M" "$T/worker2.log" || it_fail "no resume in worker2's log"
grep -q 'Sanitizer' "$T/worker2.log" && it_fail "sanitizer report in worker2's log"

"$S" workflow describe genie-resume -o json >d.json
it_expect_eq "completed" "$(jq -r .status d.json)" completed
it_expect_eq "same message" "$(jq -r '.result.answers[0].message_id' d.json)" "$M"
it_expect_eq "rows" "$(jq '.result.answers[0].row_count' d.json)" 4
curl -sf "$EMU_URL/_emulator/stats" -o stats.json
it_expect_eq "still asked once" "$(jq '.genie_questions | length' stats.json)" 1

# bad activity_options fail the workflow at once, naming the field
"$S" workflow start --type genie_query --task-queue genie --id genie-badopts --input \
  '{"questions":["x"],"activity_options":{"heartbeat_timeout":"soon"}}' >/dev/null
timeout 60 "$S" worker --task-queue genie --exit-when-idle 2>/dev/null
it_expect_eq "bad options" "$("$S" workflow describe genie-badopts -o json | jq -r '.failure.type')" InvalidInput
emu_stop_all
echo "it_genie_resume: ok"
