#!/usr/bin/env bash
# timeout: 60
# labels: tsan
# Replay check: a history exported from a completed run replays as deterministic; after the
# code reorders its two activities, replay names the first mismatching event.
. "$SLUICE_SRC/tests/lib/common.sh"
S=$SLUICE_FIXTURE_BIN # for pair
$S workflow start --type pair --id pr >/dev/null
it_start_bg worker "$S" worker --exit-when-idle
wait "$IT_LAST_PID"
$S workflow show pr -o json >"$T/history.json"
out=$($S workflow replay --history "$T/history.json")
grep -q "^deterministic: workflow 'pair'" <<<"$out" || it_fail "replay: $out"
# The same check through the JSON output.
$S workflow replay --history "$T/history.json" -o json | jq -e '.deterministic == true' >/dev/null

# "Deploy" code that swaps the two activities and replay the old history against it.
rc=0
SLUICE_FIXTURE_REORDER=1 $S workflow replay --history "$T/history.json" -o json >"$T/mismatch.json" || rc=$?
it_expect_eq "exit code" "$rc" 1
m=$(cat "$T/mismatch.json")
it_expect_eq deterministic "$(jq .deterministic <<<"$m")" false
it_expect_eq "event id" "$(jq .event_id <<<"$m")" 2
it_expect_eq recorded "$(jq -r .recorded <<<"$m")" "ActivityTaskScheduled(step_a)"
it_expect_eq requested "$(jq -r .requested <<<"$m")" "ActivityTaskScheduled(step_b)"
it_expect_eq type "$(jq -r .workflow_type <<<"$m")" pair

it_expect_fail 2 "missing --history" $S workflow replay
echo '{"not":"a history"}' >"$T/bad.json"
it_expect_fail 1 "must be the non-empty JSON array" $S workflow replay --history "$T/bad.json"
it_expect_fail 2 "cannot read" $S workflow replay --history "$T/none.json"
echo PASS
