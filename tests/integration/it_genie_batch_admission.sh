#!/usr/bin/env bash
# timeout: 180
# it_genie_batch_admission.sh - two `sluice genie batch` processes released at the same
# moment (a barrier file both poll for, not a sleep) against a MAX_QUEUE_SIZE that only one
# of the batches fits: admission and starts are one transaction, so in every round exactly
# one batch succeeds, the other is refused with one clear line and exit 1, and the database
# holds exactly one batch's runs. (Before sl_genie_batch_start, both counted 0 running runs
# before either started anything, and both batches were queued.)
. "$SLUICE_SRC/tests/lib/common.sh"

for v in $(env | grep -oE '^(DATABRICKS_[A-Z_]+|GENIE_[A-Z_]+|MAX_QUEUE_SIZE)='); do
  unset "${v%=}"
done
export HOME="$T/home" LOG_LEVEL=WARN
mkdir -p "$HOME" "$T/work"
cd "$T/work"
S="$SLUICE_BIN"
SP=5a1e5000000000000000000000000001
N=150
ROUNDS=${ROUNDS:-4}
for k in a b; do
  for i in $(seq 1 $N); do echo "question $k $i"; done >"$k.txt"
done
export MAX_QUEUE_SIZE=$N # one batch fits, two do not

# wait_go FILE: poll for the barrier file (deadline 30 s), then return
wait_go() {
  local deadline=$(( $(date +%s) + 30 ))
  until [ -e "$1" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || exit 97
    sleep 0.002
  done
}

for r in $(seq 1 "$ROUNDS"); do
  export SLUICE_DB="$T/round$r.db"
  # create the database (a run of another type), so both batches race on the same file
  "$S" workflow start --type noop_chain --id warm --input '{"steps":1}' >/dev/null
  rm -f go ready.a ready.b
  pids=()
  for k in a b; do
    ( touch "ready.$k"; wait_go go; exec "$S" genie batch "$k.txt" --space "$SP" ) \
      >"$T/r$r.$k.out" 2>"$T/r$r.$k.err" &
    pids+=($!)
    IT_PIDS+=($!)
  done
  it_wait_for 30 test -e ready.a -a -e ready.b
  touch go
  rcs=()
  for p in "${pids[@]}"; do
    rc=0; wait "$p" || rc=$?
    rcs+=("$rc")
  done
  ok=0 refused=0
  for i in 0 1; do
    k=$([ $i -eq 0 ] && echo a || echo b)
    case "${rcs[$i]}" in
      0)
        ok=$((ok + 1))
        it_expect_eq "round $r $k ids" "$(grep -c '^genie-' "$T/r$r.$k.out")" "$N"
        grep -q "^$N workflows started, 0 already running or completed" "$T/r$r.$k.err" ||
          it_fail "round $r $k: $(cat "$T/r$r.$k.err")"
        ;;
      1)
        refused=$((refused + 1))
        it_expect_eq "round $r $k stderr lines" "$(wc -l <"$T/r$r.$k.err")" 1
        grep -Eq "^sluice: genie batch: refusing to queue $N workflows: $N genie_query workflows are already running and MAX_QUEUE_SIZE is $N \(nothing was started\)$" \
          "$T/r$r.$k.err" || it_fail "round $r $k refusal: $(cat "$T/r$r.$k.err")"
        ;;
      *) it_fail "round $r $k exited ${rcs[$i]}: $(cat "$T/r$r.$k.err")" ;;
    esac
  done
  it_expect_eq "round $r: batches admitted" "$ok" 1
  it_expect_eq "round $r: batches refused" "$refused" 1
  it_expect_eq "round $r: runs started" "$("$S" workflow count --type genie_query)" "$N"
done
echo "ok: $ROUNDS rounds, one of two concurrent batches admitted each time"
