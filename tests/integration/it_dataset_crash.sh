#!/usr/bin/env bash
# timeout: 180
# The worker is killed (SIGKILL) during transform_to_silver; after a restart the sync completes
# without uploading the file again (the emulator counts uploads per path).
. "$SLUICE_SRC/tests/lib/common.sh"
S=$SLUICE_BIN
F=$SLUICE_SRC/tests/fixtures/datasets
export SLUICE_DATA_DIR="$T/data" SLUICE_MAINTENANCE_INTERVAL=100ms
export SLUICE_SYNC_HEARTBEAT_TIMEOUT=1s DATABRICKS_RETRY_INTERVAL=0.1
it_start_bg emu "$S" emulator --listen 127.0.0.1:0 --data-dir "$T/emu" --statement-latency 1500ms
url=$(it_wait_line "$T/emu.log" "listening on" 20 | sed 's/.*listening on //')
export DATABRICKS_HOST="$url" DATABRICKS_TOKEN=dapi-emulator
it_start_bg w1 "$S" worker --task-queue databricks
w1=$IT_LAST_PID
id=$($S dataset ingest "$F/small.csv" --name crashy --tenant crash)
# transform_to_silver is running (its statements take 1.5 s each).
it_wait_for 60 bash -c "$S workflow describe dataset-sync-$id -o json | jq -e '.pending_activities[0].activity_type == \"transform_to_silver\" and .pending_activities[0].state == \"started\"'"
kill -KILL "$w1"; wait "$w1" 2>/dev/null || true
it_start_bg w2 "$S" worker --task-queue databricks
it_wait_for 90 bash -c "$S dataset status $id -o json | jq -e '.sync_status == \"synced\"'"
uploads=$(curl -s "$url/_emulator/stats" | jq "[.uploads | to_entries[] | select(.key | endswith(\"$id.csv\")) | .value.count] | add")
it_expect_eq "uploads of the file" "$uploads" 1
h=$($S workflow show "dataset-sync-$id" -o json)
it_expect_eq "bronze ran once" "$(jq '[.[] | select(.type=="ActivityTaskStarted" and .attributes.seq==0)] | length' <<<"$h")" 1
it_expect_eq "silver timed out once" "$(jq '[.[] | select(.type=="ActivityTaskTimedOut" and .attributes.seq==1)] | length' <<<"$h")" 1
# The file after kill -9: no CLI runs PRAGMA integrity_check, so sqlite3 does.
it_expect_eq integrity "$(sqlite3 "$SLUICE_DB" 'PRAGMA integrity_check')" ok
echo PASS
