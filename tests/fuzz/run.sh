#!/usr/bin/env bash
# run.sh - build the libFuzzer targets (clang, -DSLUICE_FUZZ=ON: ASan + UBSan) in build-fuzz/
# and run each for FUZZ_SECONDS (default 60), FUZZ_JOBS (default 2) at a time, starting from
# its seed corpus tests/fuzz/corpus/<name>/ (and its dictionary <name>.dict if there is one).
# Fails if any target finds a crash, a leak, undefined behaviour, a failed property or a
# timeout; the input that did it is kept in build-fuzz/fuzz-artifacts/<name>/ (emptied when
# the target next runs) and the log in build-fuzz/fuzz-logs/<name>.log. New inputs go to
# build-fuzz/fuzz-corpus/<name>/, never into the source tree: copy one into corpus/<name>/
# only with its fix and unit test.
#   tests/fuzz/run.sh                 every target
#   tests/fuzz/run.sh csv emu_sql     just these
#   FUZZ_SECONDS=600 FUZZ_NICE=10 tests/fuzz/run.sh
set -euo pipefail
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${FUZZ_BUILD:-$SRC/build-fuzz}"
SECONDS_EACH="${FUZZ_SECONDS:-60}"
JOBS="${FUZZ_JOBS:-2}"
NICE="${FUZZ_NICE:-0}"
ALL=(csv jsonl convfile history duration_cron emu_sql)
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL[@]}")

command -v clang >/dev/null || { echo "fuzz: clang not found (deploy/install-deps.sh)" >&2; exit 1; }
cmake -S "$SRC" -B "$BUILD" -DCMAKE_C_COMPILER=clang -DSLUICE_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j "$(nproc 2>/dev/null || echo 2)" --target fuzz_all

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}"
mkdir -p "$BUILD/fuzz-artifacts" "$BUILD/fuzz-logs" "$BUILD/fuzz-corpus"

pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

# One target: its own scratch TMPDIR, corpus and artifact directory; exit status of libFuzzer.
run_one() {
  local name="$1" bin="$BUILD/fuzz/fuzz_$1"
  local corpus="$BUILD/fuzz-corpus/$name" art="$BUILD/fuzz-artifacts/$name"
  local tmp="$BUILD/fuzz-tmp/$name"
  rm -rf "$tmp" "$art" # the artifact directory holds this run's findings only
  mkdir -p "$corpus" "$art" "$tmp"
  local args=(-max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048
    -max_len=16384 -print_final_stats=1 -artifact_prefix="$art/")
  [ -f "$SRC/tests/fuzz/$name.dict" ] && args+=(-dict="$SRC/tests/fuzz/$name.dict")
  local rc=0
  TMPDIR="$tmp" nice -n "$NICE" "$bin" "${args[@]}" "$corpus" "$SRC/tests/fuzz/corpus/$name" \
    >"$BUILD/fuzz-logs/$name.log" 2>&1 || rc=$?
  rm -rf "$tmp"
  return $rc
}

failed=()
names=()
i=0
for name in "${TARGETS[@]}"; do
  [ -x "$BUILD/fuzz/fuzz_$name" ] || { echo "fuzz: no target '$name'" >&2; exit 2; }
  run_one "$name" &
  pids+=($!)
  names+=("$name")
  i=$((i + 1))
  # at most JOBS at a time: wait for the oldest before starting another
  if [ ${#pids[@]} -ge "$JOBS" ]; then
    if ! wait "${pids[0]}"; then failed+=("${names[0]}"); fi
    pids=("${pids[@]:1}")
    names=("${names[@]:1}")
  fi
done
for k in "${!pids[@]}"; do
  if ! wait "${pids[$k]}"; then failed+=("${names[$k]}"); fi
done
pids=()

printf '%-14s %12s %8s %s\n' target executions corpus result
for name in "${TARGETS[@]}"; do
  log="$BUILD/fuzz-logs/$name.log"
  # a target stopped by a finding prints no final stats: the last status line says how far
  execs=$(grep -Eo '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)
  units=$(grep -Eo 'corp: [0-9]+' "$log" | tail -1 | awk '{print $2}' || true)
  result=ok
  for f in "${failed[@]}"; do [ "$f" = "$name" ] && result="FAILED: see $log and $BUILD/fuzz-artifacts/$name/"; done
  printf '%-14s %12s %8s %s\n' "$name" "${execs:-?}" "${units:-?}" "$result"
done
if [ ${#failed[@]} -gt 0 ]; then
  for name in "${failed[@]}"; do
    echo "--- $name ---" >&2
    grep -E 'ERROR|runtime error|fuzz: property|SUMMARY|Test unit written' \
      "$BUILD/fuzz-logs/$name.log" | head -20 >&2 || true
  done
  exit 1
fi
