#!/usr/bin/env bash
# timeout: 180
# A sync survives a flaky workspace (429 30%, 500 10%): it completes and the history shows the
# retried attempts. With the workspace down for its first 5 s, the sync completes once it is up.
. "$SLUICE_SRC/tests/lib/common.sh"
S=$SLUICE_BIN
F=$SLUICE_SRC/tests/fixtures/datasets
export SLUICE_DATA_DIR="$T/data" SLUICE_MAINTENANCE_INTERVAL=100ms
# Short intervals everywhere: few client retries, quick activity retries.
export MAX_RETRIES=1 INITIAL_BACKOFF=0.02 MAX_BACKOFF=0.1
export DATABRICKS_RETRY_ATTEMPTS=50 DATABRICKS_RETRY_INTERVAL=0.1

it_start_bg emu "$S" emulator --listen 127.0.0.1:0 --data-dir "$T/emu" --statement-latency 20ms \
  --faults "429=0.3,500=0.1,retry_after=0" --seed 7
url=$(it_wait_line "$T/emu.log" "listening on" 20 | sed 's/.*listening on //')
export DATABRICKS_HOST="$url" DATABRICKS_TOKEN=dapi-emulator
it_start_bg worker "$S" worker --task-queue databricks
id=$($S dataset ingest "$F/small.csv" --name flaky_ws --tenant faults)
it_wait_for 120 bash -c "$S dataset status $id -o json | jq -e '.sync_status == \"synced\"'"
h=$($S workflow show "dataset-sync-$id" -o json)
failed=$(jq '[.[] | select(.type=="ActivityTaskFailed" and .attributes.will_retry)] | length' <<<"$h")
client=$(jq '[.[] | select(.type=="ActivityTaskCompleted") | .attributes.result.http.retries // 0] | add' <<<"$h")
echo "activity retries in history: $failed, client retries recorded: $client"
[ "$failed" -ge 1 ] || it_fail "no retried attempt in the history"
# Each failed attempt names its cause (a 429 or a 500 that outlasted the client's retries).
jq -e '[.[] | select(.type=="ActivityTaskFailed") | .attributes.failure.message] | all(test("429|500|REQUEST_LIMIT|INTERNAL|TEMPORARILY"))' <<<"$h" >/dev/null \
  || it_fail "failed attempts do not say why"
faults=$(curl -s "$url/_emulator/stats" | jq '.faults_injected')
[ "$faults" -ge 1 ] || it_fail "the emulator injected no faults"
it_expect_eq "silver rows" "$($S dataset status "$id" -o json | jq .silver_row_count)" 5

# The workspace is down for the first 5 seconds of the next sync.
kill -TERM "$IT_LAST_PID" 2>/dev/null || true   # the worker
it_start_bg emu_probe "$S" emulator --listen 127.0.0.1:0 --data-dir "$T/emu2"
port=$(it_wait_line "$T/emu_probe.log" "listening on" 20 | sed 's/.*127.0.0.1://')
kill -TERM "$IT_LAST_PID"; wait "$IT_LAST_PID" 2>/dev/null || true
export DATABRICKS_HOST="http://127.0.0.1:$port"
it_start_bg worker2 "$S" worker --task-queue databricks
t0=$(date +%s)
id2=$($S dataset ingest "$F/small.csv" --name outage --tenant faults)
# Attempts fail while nothing listens...
it_wait_for 30 bash -c "$S workflow show dataset-sync-$id2 -o json | jq -e '[.[] | select(.type==\"ActivityTaskFailed\")] | length >= 2'"
it_wait_for 30 bash -c "[ \$(( \$(date +%s) - $t0 )) -ge 5 ]"
it_expect_eq "still waiting" "$($S dataset status "$id2" -o json | jq -r .sync_status)" syncing
# ...and the sync completes once the workspace is up.
it_start_bg emu_late "$S" emulator --listen "127.0.0.1:$port" --data-dir "$T/emu2"
it_wait_line "$T/emu_late.log" "listening on" 20 >/dev/null
it_wait_for 60 bash -c "$S dataset status $id2 -o json | jq -e '.sync_status == \"synced\"'"
$S workflow show "dataset-sync-$id2" -o json | jq -e '[.[] | select(.type=="ActivityTaskFailed")][0].attributes.failure.message | test("connect|refused|Couldn")' >/dev/null \
  || it_fail "the outage is not visible in the history"
echo PASS
