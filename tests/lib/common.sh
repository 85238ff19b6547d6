# tests/lib/common.sh - shared helpers for integration tests (source it first).
#
#   . "$SLUICE_SRC/tests/lib/common.sh"
#   it_start_bg NAME CMD...        start a background process, output to $T/NAME.log,
#                                  killed (by PID) when the test exits, even on failure
#   it_wait_line FILE REGEX [SECS] block until a line matching REGEX appears in FILE
#   it_wait_for SECS CMD...        re-run CMD until it succeeds (polling, not a fixed sleep)
#   it_fail MSG                    print "FAIL: MSG" and exit 1
#   it_expect_eq WHAT GOT WANT     compare and fail with a clear message
#
# Every test gets its own temporary directory $T (removed at exit unless KEEP=1) and its own
# database $SLUICE_DB inside it. Binaries (set by ctest): $SLUICE_BIN is the product `sluice`;
# $SLUICE_FIXTURE_BIN is sluice-testfixture, the same command line plus the test-only
# workflows of tests/workflows/ (flaky, sleepy, collector, ...): a script that needs one of
# them runs that binary, every other script the product.
set -euo pipefail

: "${SLUICE_BIN:?SLUICE_BIN must point at the sluice binary (ctest sets it)}"
SLUICE_FIXTURE_BIN=${SLUICE_FIXTURE_BIN:-$(dirname "$SLUICE_BIN")/sluice-testfixture}
SLUICE_SRC=${SLUICE_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
T=$(mktemp -d "${TMPDIR:-/tmp}/sluice-it.XXXXXX")
export SLUICE_DB="$T/sluice.db"
export LOG_LEVEL=${LOG_LEVEL:-INFO}
export HOME_ORIG="$HOME"
# Sanitizer runs: fail on the first error, report leaks only where they matter (the CLI
# exits with live allocations by design in a few places).
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:exitcode=99}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=98}
IT_PIDS=()

it_cleanup() {
  local rc=$?
  for pid in "${IT_PIDS[@]:-}"; do
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${IT_PIDS[@]:-}"; do
    [ -n "$pid" ] || continue
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ $rc -ne 0 ]; then
    echo "--- test failed (rc=$rc); logs in $T:" >&2
    for f in "$T"/*.log; do
      [ -f "$f" ] || continue
      echo "--- $f (last 40 lines)" >&2
      tail -n 40 "$f" >&2
    done
  fi
  if [ "${KEEP:-0}" != 1 ]; then rm -rf "$T"; else echo "kept $T" >&2; fi
  exit $rc
}
trap it_cleanup EXIT
trap 'exit 130' INT TERM

it_fail() { echo "FAIL: $*" >&2; exit 1; }

it_expect_eq() {
  [ "$2" == "$3" ] || it_fail "$1: got '$2', want '$3'"
}

# it_start_bg NAME CMD... ; sets IT_LAST_PID
it_start_bg() {
  local name=$1; shift
  "$@" >"$T/$name.log" 2>&1 &
  IT_LAST_PID=$!
  IT_PIDS+=("$IT_LAST_PID")
}

# it_wait_line FILE REGEX [TIMEOUT_S]: prints the matching line.
it_wait_line() {
  local file=$1 re=$2 timeout=${3:-30} deadline
  deadline=$(( $(date +%s) + timeout ))
  while :; do
    if [ -f "$file" ] && grep -Eq -- "$re" "$file"; then
      grep -E -m1 -- "$re" "$file"; return 0
    fi
    [ "$(date +%s)" -lt "$deadline" ] || it_fail "timed out after ${timeout}s waiting for /$re/ in $file"
    sleep 0.05
  done
}

# it_wait_for TIMEOUT_S CMD...: polls CMD (quietly) until it succeeds.
it_wait_for() {
  local timeout=$1 deadline; shift
  deadline=$(( $(date +%s) + timeout ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || it_fail "timed out after ${timeout}s waiting for: $*"
    sleep 0.05
  done
}

# it_expect_fail EXIT_CODE STDERR_REGEX CMD...: CMD must exit with EXIT_CODE and print one
# stderr line matching the regex.
it_expect_fail() {
  local want=$1 re=$2 rc=0; shift 2
  "$@" >"$T/expect_fail.out" 2>"$T/expect_fail.err" || rc=$?
  [ "$rc" -eq "$want" ] || { cat "$T/expect_fail.err" >&2; it_fail "'$*' exited $rc, want $want"; }
  local lines; lines=$(wc -l <"$T/expect_fail.err")
  [ "$lines" -eq 1 ] || { cat "$T/expect_fail.err" >&2; it_fail "'$*' printed $lines stderr lines, want 1"; }
  grep -Eq -- "$re" "$T/expect_fail.err" || it_fail "'$*' stderr '$(cat "$T/expect_fail.err")' does not match /$re/"
}
