#!/usr/bin/env bash
# timeout: 120
# A sync that fails non-retryably (a warehouse that does not exist) ends `failed` with a clear
# last_sync_error; once the cause is fixed, `sluice workflow retry` resumes it from the failed
# step (the upload is not repeated) and `sluice dataset sync` starts a fresh one.
. "$SLUICE_SRC/tests/lib/common.sh"
S=$SLUICE_BIN
F=$SLUICE_SRC/tests/fixtures/datasets
export SLUICE_DATA_DIR="$T/data" DATABRICKS_RETRY_INTERVAL=0.1
it_start_bg emu "$S" emulator --listen 127.0.0.1:0 --data-dir "$T/emu" --statement-latency 20ms
url=$(it_wait_line "$T/emu.log" "listening on" 20 | sed 's/.*listening on //')
export DATABRICKS_HOST="$url" DATABRICKS_TOKEN=dapi-emulator

DATABRICKS_WAREHOUSE_ID=no-such-warehouse it_start_bg bad "$S" worker --task-queue databricks
bad=$IT_LAST_PID
id=$($S dataset ingest "$F/small.csv" --name orders --tenant t1)
it_wait_for 60 bash -c "$S dataset status $id -o json | jq -e '.sync_status == \"failed\"'"
err=$($S dataset status "$id" -o json | jq -r .last_sync_error)
grep -q "sync_to_bronze" <<<"$err" && grep -qi "warehouse" <<<"$err" || it_fail "unclear error: $err"
grep -q "dapi-emulator" <<<"$err" && it_fail "the token leaked into the error"
it_expect_eq "one attempt" "$($S workflow show "dataset-sync-$id" -o json | jq '[.[] | select(.type=="ActivityTaskStarted" and .attributes.seq==0)] | length')" 1
it_expect_eq "workflow failed" "$($S workflow describe "dataset-sync-$id" -o json | jq -r .status)" failed
kill -TERM "$bad"; wait "$bad" 2>/dev/null || true

# Fixed: a worker with the right configuration, and an operator retry.
it_start_bg good "$S" worker --task-queue databricks
$S workflow retry "dataset-sync-$id" --reason "warehouse fixed" >/dev/null
it_wait_for 60 bash -c "$S dataset status $id -o json | jq -e '.sync_status == \"synced\"'"
it_expect_eq "error cleared" "$($S dataset status "$id" -o json | jq .last_sync_error)" null

# A manual sync of a synced dataset runs the whole sync again; while it runs it is idempotent.
out=$($S dataset sync "$id")
grep -q "^sync started: dataset-sync-$id" <<<"$out" || it_fail "sync: $out"
it_wait_for 60 bash -c "$S dataset status $id -o json | jq -e '.sync_status == \"synced\"'"
it_expect_eq "runs" "$($S workflow describe "dataset-sync-$id" -o json | jq '.runs | length')" 3
echo PASS
