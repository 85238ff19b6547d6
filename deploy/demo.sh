#!/usr/bin/env bash
# make demo: the main job on the embedded default. Starts `sluice dev` (a local Databricks
# workspace emulator plus a worker), ingests a messy sample CSV, waits for its durable sync
# to bronze and silver tables, and prints the workflow history and the dataset status.
set -euo pipefail
S=$(cd "$(dirname "${1:-build/sluice}")" && pwd)/$(basename "${1:-build/sluice}")
here=$(cd "$(dirname "$0")" && pwd)
d=$(mktemp -d "${TMPDIR:-/tmp}/sluice-demo.XXXXXX")
export SLUICE_DB="$d/sluice.db" SLUICE_DATA_DIR="$d/data"
dev_pid=""
cleanup() {
  [ -n "$dev_pid" ] && kill -TERM "$dev_pid" 2>/dev/null && wait "$dev_pid" 2>/dev/null
  rm -rf "$d"
}
trap cleanup EXIT

echo "== starting sluice dev (emulator + worker), database $SLUICE_DB"
"$S" dev --listen 127.0.0.1:0 >"$d/dev.log" 2>&1 &
dev_pid=$!
for _ in $(seq 1 200); do
  grep -q "^sluice dev ready" "$d/dev.log" && break
  kill -0 "$dev_pid" 2>/dev/null || { cat "$d/dev.log"; exit 1; }
  sleep 0.05
done
grep -q "^sluice dev ready" "$d/dev.log" || { echo "sluice dev did not start"; cat "$d/dev.log"; exit 1; }
sed -n '2,5p' "$d/dev.log"
url=$(sed -n 's/^sluice dev ready: emulator=\([^ ]*\).*/\1/p' "$d/dev.log")

echo
echo "== sluice dataset ingest deploy/sample/sales_messy.csv --name \"Sales 2025 (messy export)\" --tenant demo"
id=$("$S" dataset ingest "$here/sample/sales_messy.csv" --name "Sales 2025 (messy export)" --tenant demo)
echo "dataset id: $id"
status=pending
for _ in $(seq 1 600); do
  status=$("$S" dataset status "$id" -o json | sed -n 's/.*"sync_status": "\([a-z_]*\)".*/\1/p')
  case "$status" in synced|failed) break ;; esac
  sleep 0.1
done

echo
echo "== sluice workflow show dataset-sync-$id"
"$S" workflow show "dataset-sync-$id"
echo
echo "== sluice dataset status $id"
"$S" dataset status "$id"
echo
echo "== the silver table in the local workspace (sluice dbx sql against $url)"
export DATABRICKS_HOST="$url" DATABRICKS_TOKEN=dapi-emulator
silver=$("$S" dataset status "$id" -o json | sed -n 's/.*"silver_table": "\([^"]*\)".*/\1/p')
if [ -n "$silver" ]; then
  "$S" dbx sql "DESCRIBE TABLE $silver"
  echo
  "$S" dbx sql "SELECT * FROM $silver ORDER BY order_id LIMIT 5"
fi
[ "$status" = synced ] || { echo "sync ended $status"; exit 1; }
echo
echo "Done: 300 messy rows became a typed, de-duplicated silver table, durably."
