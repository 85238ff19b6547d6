#!/usr/bin/env bash
# timeout: 60
# The product binary knows only the shipped workflows: `worker --help`, the unknown-type
# errors of workflow start, schedule create and replay, and a worker meeting a fixture
# workflow list noop_chain, dataset_sync and genie_query and no test fixture. Only
# sluice-testfixture registers the fixtures, and their code is not linked into sluice.
. "$SLUICE_SRC/tests/lib/common.sh"
S=$SLUICE_BIN
F=$SLUICE_FIXTURE_BIN
shipped="dataset_sync genie_query noop_chain"
fixtures="collector fanout flaky gated_chain looper pair sleepy versioned"
# "workflow types: a, b, c" -> the names, sorted, space separated
types() { sed -n 's/^workflow types: //p' | tr -d ' ' | tr ',' '\n' | sort | xargs; }
known() { sed -E -n 's/.*\(known: ([^)]*)\).*/\1/p' | tr -d ' ' | tr ',' '\n' | sort | xargs; }

it_expect_eq "product worker --help" "$($S worker --help | types)" "$shipped"
it_expect_eq "fixture worker --help" "$($F worker --help | types)" \
  "$(echo $shipped $fixtures | tr ' ' '\n' | sort | xargs)"
it_expect_fail 2 "unknown workflow type 'nosuch'" $S workflow start --type nosuch
it_expect_eq "known types on a bad start" "$(known <"$T/expect_fail.err")" "$shipped"
for w in $fixtures; do
  it_expect_fail 2 "unknown workflow type '$w'" $S workflow start --type "$w"
  it_expect_fail 2 "unknown workflow type '$w'" $S schedule create --id "s-$w" --type "$w" --every 1m
  it_expect_eq "known types on schedule create --type $w" "$(known <"$T/expect_fail.err")" "$shipped"
done
# The fixture code is not in the product binary at all (names no shipped code uses).
for name in flaky_step gated_chain step_a step_b; do
  it_expect_eq "'$name' in the product binary" "$(grep -c -a -w "$name" "$S" || true)" 0
done

# Fixture workflows in the database: the fixture binary runs one; the product's replay of its
# history, and a product worker meeting another, have no code for it and say which types
# they have.
$F workflow start --type pair --id done >/dev/null
it_start_bg fixture "$F" worker --exit-when-idle
wait "$IT_LAST_PID" || it_fail "fixture worker failed"
it_expect_eq "fixture ran it" "$($S workflow describe done -o json | jq -r .status)" completed
$S workflow show done -o json >"$T/done.json"
$F workflow replay --history "$T/done.json" | grep -q "^deterministic" || it_fail "fixture replay"
rc=0
$S workflow replay --history "$T/done.json" >"$T/replay.out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || it_fail "the product replayed a fixture workflow: $(cat "$T/replay.out")"
grep -q "unknown workflow type 'pair'" "$T/replay.out" || it_fail "replay: $(cat "$T/replay.out")"
it_expect_eq "known types in replay" "$(known <"$T/replay.out")" "$shipped"

$F workflow start --type pair --id pr >/dev/null
it_start_bg product "$S" worker
product=$IT_LAST_PID
it_wait_for 20 bash -c "$S workflow show pr -o json | jq -e 'any(.[]; .type == \"WorkflowTaskFailed\")'"
kill -TERM "$product"; wait "$product" || it_fail "product worker did not stop cleanly"
msg=$($S workflow show pr -o json | jq -r '[.[] | select(.type == "WorkflowTaskFailed")][0].attributes | tostring')
grep -q "unknown workflow type 'pair'" <<<"$msg" || it_fail "worker failure: $msg"
it_expect_eq "known types in the worker's failure" "$(known <<<"$msg")" "$shipped"
echo PASS
