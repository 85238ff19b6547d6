#!/usr/bin/env bash
# Dataset sync benchmark (make bench-sync): end-to-end figures against a local emulator.
#   1. one 100,000-row CSV: ingest -> synced, wall time
#   2. 100 datasets ingested at once, one worker with 4 threads: time until all are synced
#   3. the worker's peak RSS for a small file and for a 1 GB file (flat with size)
# Usage: bench/dataset_sync.sh [build/sluice]   (BIG_MB=1024 to change the big file's size)
set -euo pipefail
S=$(cd "$(dirname "${1:-build/sluice}")" && pwd)/$(basename "${1:-build/sluice}")
BIG_MB=${BIG_MB:-1024}
d=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-sync.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$d"; }
trap cleanup EXIT
export SLUICE_DB="$d/sluice.db" SLUICE_DATA_DIR="$d/data" LOG_LEVEL=WARN
now() { date +%s%3N; }   # ms
wait_synced() { # ids...
  local id
  for id in "$@"; do
    until s=$("$S" dataset status "$id" -o json | jq -r .sync_status) && [ "$s" = synced -o "$s" = failed ]; do sleep 0.05; done
    [ "$s" = synced ] || { echo "dataset $id: $s: $("$S" dataset status "$id" -o json | jq -r .last_sync_error)"; exit 1; }
  done
}
gen_csv() { # rows file
  awk -v n="$1" 'BEGIN { srand(1); print "Order ID,Product Name,Units,Unit Price,Order Date,Shipped?,Region";
    for (i = 1; i <= n; i++) printf "%d,Product %d,%d,%.2f,2025-%02d-%02d,%s,R%d\n", i, i % 97, i % 50, (i % 1000) / 7.0,
      1 + i % 12, 1 + i % 28, (i % 2 ? "true" : "false"), i % 5 }' >"$2"
}
peak_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

"$S" emulator --listen 127.0.0.1:0 --data-dir "$d/emu" --statement-latency 10ms >"$d/emu.log" 2>&1 &
pids+=($!)
until grep -q "listening on" "$d/emu.log"; do sleep 0.05; done
export DATABRICKS_HOST=$(sed -n 's/.*listening on //p' "$d/emu.log") DATABRICKS_TOKEN=dapi-emulator
start_worker() { "$S" worker --task-queue databricks --concurrency 4 >"$d/worker.log" 2>&1 & wpid=$!; pids+=($wpid); }

echo "== 1. one 100,000-row CSV"
gen_csv 100000 "$d/100k.csv"
start_worker
t0=$(now); id=$("$S" dataset ingest "$d/100k.csv" --name big_orders); wait_synced "$id"; t1=$(now)
printf "100k rows: ingest -> synced in %d ms (silver rows %s)\n" "$((t1 - t0))" \
  "$("$S" dataset status "$id" -o json | jq .silver_row_count)"

echo "== 2. 100 datasets at once, 4 worker threads"
gen_csv 200 "$d/small.csv"
t0=$(now); ids=()
for i in $(seq 1 100); do ids+=("$("$S" dataset ingest "$d/small.csv" --name "ds_$i" --tenant "t$((i % 5))")"); done
t1=$(now); wait_synced "${ids[@]}"; t2=$(now)
printf "100 datasets: ingested in %d ms, all synced %d ms after the first ingest\n" \
  "$((t1 - t0))" "$((t2 - t0))"
small_rss=$(peak_kb "$wpid")
echo "worker peak RSS after 100 small syncs and a 100k-row sync: $((small_rss / 1024)) MiB"
kill -TERM "$wpid"; wait "$wpid" 2>/dev/null || true

echo "== 3. the worker's peak RSS with a ${BIG_MB} MB file"
# rows sized from the 100k sample's mean row length, so the file is BIG_MB large
row_bytes=$(( $(stat -c %s "$d/100k.csv") / 100000 ))
rows=$((BIG_MB * 1024 * 1024 / row_bytes))
gen_csv "$rows" "$d/big.csv"
ls -l "$d/big.csv" | awk '{printf "file: %.0f MB, %s rows\n", $5 / 1048576, "'"$rows"'"}'
start_worker
t0=$(now); id=$("$S" dataset ingest "$d/big.csv" --name huge); wait_synced "$id"; t1=$(now)
big_rss=$(peak_kb "$wpid")
printf "%s MB: synced in %d ms; worker peak RSS %d MiB (limit 64 MiB)\n" "$BIG_MB" "$((t1 - t0))" $((big_rss / 1024))
[ "$big_rss" -lt $((64 * 1024)) ] || { echo "worker RSS above 64 MiB"; exit 1; }
