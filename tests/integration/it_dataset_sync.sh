#!/usr/bin/env bash
# timeout: 120
# Dataset sync end to end through the real binaries: a separate emulator and worker; ingest ->
# synced; bronze and silver tables exist in the emulator with the right row counts (silver
# smaller by the duplicates), snake_case columns and types inferred column by column; JSON Lines
# datasets sync too.
. "$SLUICE_SRC/tests/lib/common.sh"
S=$SLUICE_BIN
F=$SLUICE_SRC/tests/fixtures/datasets
export SLUICE_DATA_DIR="$T/data"
it_start_bg emu "$S" emulator --listen 127.0.0.1:0 --data-dir "$T/emu" --statement-latency 50ms
url=$(it_wait_line "$T/emu.log" "listening on" 20 | sed 's/.*listening on //')
export DATABRICKS_HOST="$url" DATABRICKS_TOKEN=dapi-emulator
it_start_bg worker "$S" worker --task-queue databricks

id=$($S dataset ingest "$F/small.csv" --name "Customers: Q1 export" --tenant "acme" --description "crm dump")
st=$($S dataset status "$id" -o json)
jq -e '.sync_status == "pending" or .sync_status == "syncing" or .sync_status == "synced"' <<<"$st" >/dev/null || it_fail "status right after ingest: $(jq -r .sync_status <<<"$st")"
it_expect_eq "workflow id" "$(jq -r .workflow_id <<<"$st")" "dataset-sync-$id"
it_expect_eq "local rows" "$(jq .row_count_local <<<"$st")" 7
it_wait_for 60 bash -c "$S dataset status $id -o json | jq -e '.sync_status == \"synced\"'"
st=$($S dataset status "$id" -o json)
it_expect_eq bronze "$(jq -r .bronze_table <<<"$st")" "catalog_tenant_acme.bronze.customers_q1_export"
it_expect_eq silver "$(jq -r .silver_table <<<"$st")" "catalog_tenant_acme.silver.customers_q1_export_clean"
it_expect_eq "databricks rows" "$(jq .row_count_databricks <<<"$st")" 7
it_expect_eq "silver rows" "$(jq .silver_row_count <<<"$st")" 5
jq -e '.last_sync_at | test("Z$")' <<<"$st" >/dev/null || it_fail "last_sync_at"
it_expect_eq "no error" "$(jq .last_sync_error <<<"$st")" null

# What the emulator's table store really holds.
sql() { $S dbx sql "$1" -o json; }
it_expect_eq "bronze count" "$(sql 'SELECT COUNT(*) AS n FROM catalog_tenant_acme.bronze.customers_q1_export' | jq -r '.[0].n')" 7
it_expect_eq "silver count" "$(sql 'SELECT COUNT(*) AS n FROM catalog_tenant_acme.silver.customers_q1_export_clean' | jq -r '.[0].n')" 5
types=$(sql 'DESCRIBE TABLE catalog_tenant_acme.silver.customers_q1_export_clean' | jq -c '[.[] | [.col_name, .data_type]]')
it_expect_eq "silver columns and types" "$types" \
  '[["customer_id","bigint"],["full_name","string"],["signup_date","date"],["score","double"],["active","boolean"],["last_login","timestamp"],["comment","string"]]'
# Bronze keeps the raw names and strings.
it_expect_eq "bronze raw columns" "$(sql 'DESCRIBE TABLE catalog_tenant_acme.bronze.customers_q1_export' | jq -c '[.[] | .data_type] | unique')" '["string"]'
# Empty strings became NULL; quoted commas survived.
it_expect_eq "nulls" "$(sql 'SELECT COUNT(*) AS n FROM catalog_tenant_acme.silver.customers_q1_export_clean WHERE full_name IS NULL' | jq -r '.[0].n')" 1
it_expect_eq "quoted" "$(sql 'SELECT comment FROM catalog_tenant_acme.silver.customers_q1_export_clean WHERE customer_id = 1' | jq -r '.[0].comment')" 'likes "math", engines'
# The raw file is in the volume.
$S dbx files ls "/Volumes/catalog_tenant_acme/bronze/raw" | grep -q "$id.csv" || it_fail "file not in the volume"

# JSON Lines.
j=$($S dataset ingest "$F/good.jsonl" --name events --tenant acme)
it_wait_for 60 bash -c "$S dataset status $j -o json | jq -e '.sync_status == \"synced\"'"
it_expect_eq "jsonl silver rows" "$($S dataset status "$j" -o json | jq .silver_row_count)" 2
it_expect_eq "jsonl types" "$(sql 'DESCRIBE TABLE catalog_tenant_acme.silver.events_clean' | jq -c '[.[] | [.col_name, .data_type]]')" \
  '[["id","bigint"],["name","string"],["nested","string"],["extra","boolean"]]'
$S dataset list -o json | jq -e 'length == 2 and all(.[]; .sync_status == "synced")' >/dev/null || it_fail list
echo PASS
