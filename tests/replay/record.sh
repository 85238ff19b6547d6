#!/usr/bin/env bash
# tests/replay/record.sh - re-record the replay cases from the shipped workflows, by running
# them for real against the local workspace emulator (as it_dataset_sync.sh and
# it_genie_workflow.sh do) and exporting each history with `sluice workflow show ID -o json`.
# Not run by ctest: run it after a deliberate change to what these workflows record, review
# the diff, and commit the files.
#
#   SLUICE_BIN=build/sluice bash tests/replay/record.sh
#
# Each case is tests/replay/<case>/{history.json,expected.json}. Recorded cases expect
# "deterministic"; the edited cases (copies of a recording changed so today's code no longer
# matches) expect the first mismatch stated here by hand. Worker identities (host:pid) are
# replaced by "recorder" so nothing names the recording machine; the emulator's URL, the
# token and local paths never reach a history (checked below).
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/common.sh"
. "$SLUICE_SRC/tests/fixtures/emulator/lib.sh"
S=$SLUICE_BIN
R=$SLUICE_SRC/tests/replay
for v in $(env | grep -oE '^(DATABRICKS_[A-Z_]+|GENIE_[A-Z_]+|MAX_RETRIES|INITIAL_BACKOFF|MAX_BACKOFF|BACKOFF_MULTIPLIER|MAX_QUEUE_SIZE)='); do
  unset "${v%=}"
done
export HOME="$T/home" SLUICE_DATA_DIR="$T/data"
mkdir -p "$HOME"
cd "$T"

# save CASE WORKFLOW_ID: the history of the workflow's latest run, identities replaced
save() {
  mkdir -p "$R/$1"
  "$S" workflow show "$2" -o json |
    jq 'walk(if type == "object" and has("identity") then .identity = "recorder" else . end)' \
      >"$R/$1/history.json"
  if grep -qE "$T|127\.0\.0\.1|dapi-|$(hostname)" "$R/$1/history.json"; then
    it_fail "$1: the history names this machine, the emulator or the token"
  fi
  echo '{"deterministic": true}' | jq . >"$R/$1/expected.json"
  echo "recorded $1 ($(jq length "$R/$1/history.json") events, $(jq -r '.[-1].type' "$R/$1/history.json"))"
}

# expect CASE EVENT_ID RECORDED REQUESTED
expect() {
  jq -n --argjson id "$2" --arg rec "$3" --arg req "$4" \
    '{deterministic: false, event_id: $id, recorded: $rec, requested: $req}' >"$R/$1/expected.json"
}

emu_start emu --statement-latency 50ms --genie-latency 200ms --genie-rate 0 --seed 7
export DATABRICKS_HOST="$EMU_URL" DATABRICKS_TOKEN=dapi-emulator
export GENIE_POLL_INTERVAL=50ms GENIE_POLL_MAX_INTERVAL=200ms
F=$SLUICE_SRC/tests/fixtures/datasets

# dataset_sync: bronze, silver, metadata
id=$("$S" dataset ingest "$F/small.csv" --name "Customers: Q1 export" --tenant acme)
timeout 90 "$S" worker --task-queue databricks --exit-when-idle >worker1.log 2>&1
save dataset_sync "dataset-sync-$id"

# dataset_sync whose steps fail and are retried: the Files API answers 503 half the time and
# the client does not retry by itself, so failed attempts (and their retries) are recorded
curl -sf -X POST "$EMU_URL/_emulator/faults?seed=1" --data-binary '/api/2.0/fs/files/*:503=0.6,retry_after=0' >/dev/null
id=$(MAX_RETRIES=0 DATABRICKS_RETRY_ATTEMPTS=10 DATABRICKS_RETRY_INTERVAL=0.05 "$S" dataset ingest "$F/small.csv" --name "flaky upload" --tenant acme)
MAX_RETRIES=0 timeout 90 "$S" worker --task-queue databricks --exit-when-idle >worker2.log 2>&1
curl -sf -X POST "$EMU_URL/_emulator/faults" --data-binary '' >/dev/null
save dataset_sync_retried "dataset-sync-$id"
jq -e 'any(.[]; .type == "ActivityTaskFailed")' "$R/dataset_sync_retried/history.json" >/dev/null ||
  it_fail "dataset_sync_retried recorded no failed attempt"

# genie_query: two questions in one conversation, and one Genie fails on
SP=5a1e5000000000000000000000000001
printf '%s\n' '["Which products generate the highest total sales value?", "how many orders are there?"]' >q1.txt
g1=$("$S" genie batch q1.txt --space "$SP" --conversation continue 2>/dev/null)
printf 'please force a failure\n' >q2.txt
g2=$("$S" genie batch q2.txt --space "$SP" 2>/dev/null)
timeout 90 "$S" worker --task-queue genie --exit-when-idle >worker3.log 2>&1
save genie_query_continue "$g1"
save genie_query_failed "$g2"
emu_stop_all

# Edited cases: today's code must report the first place it decides differently.
edit() { # NEW_CASE FROM_CASE JQ_FILTER
  mkdir -p "$R/$1"
  jq "$3" "$R/$2/history.json" >"$R/$1/history.json"
}
edit dataset_sync_activity_renamed dataset_sync \
  '(.[] | select(.event_id == 5) | .attributes.activity_type) = "transform_to_gold"'
expect dataset_sync_activity_renamed 5 \
  "ActivityTaskScheduled(transform_to_gold)" "ActivityTaskScheduled(transform_to_silver)"
edit dataset_sync_step_missing dataset_sync \
  'map(select(.event_id < 8 or .event_id > 10)) | map(if .event_id == 11 then .event_id = 8 else . end)'
expect dataset_sync_step_missing 8 \
  "WorkflowExecutionCompleted" "a new command (activity update_dataset_metadata)"
edit genie_query_question_dropped genie_query_continue \
  '(.[0].attributes.input.questions) |= .[0:1]'
expect genie_query_question_dropped 5 \
  "ActivityTaskScheduled(genie_ask)" "no command (the workflow completed)"
echo "edited cases written; check their expected.json against: sluice workflow replay --history FILE -o json"
