#!/usr/bin/env bash
# timeout: 90
# labels: tsan
# Activity retries: failed attempts are in history with error type, message and next retry
# time; non-retryable errors (flagged, or listed in the policy) fail at once; exhausted
# maximum_attempts fail the workflow and describe shows the failure.
. "$SLUICE_SRC/tests/lib/common.sh"
S=$SLUICE_FIXTURE_BIN # for flaky
fast='"activity_options":{"retry_policy":{"initial_interval":"100ms","backoff_coefficient":2}}'

$S workflow start --type flaky --id ok --input "{\"fail_times\":2,\"error_type\":\"Boom\",$fast}" >/dev/null
$S workflow start --type flaky --id nr --input "{\"fail_times\":2,\"error_type\":\"Boom\",\"non_retryable\":true,$fast}" >/dev/null
$S workflow start --type flaky --id listed --input '{"fail_times":2,"error_type":"Fatal","activity_options":{"retry_policy":{"initial_interval":"100ms","non_retryable_error_types":["Fatal"]}}}' >/dev/null
$S workflow start --type flaky --id maxed --input '{"fail_times":9,"error_type":"Boom","activity_options":{"retry_policy":{"initial_interval":"50ms","maximum_attempts":3}}}' >/dev/null

it_start_bg worker "$S" worker --exit-when-idle
wait "$IT_LAST_PID" || it_fail "worker exited non-zero"

# ok: completes on attempt 3, two failed attempts recorded with next attempt times.
it_expect_eq "ok status" "$($S workflow describe ok -o json | jq -r .status)" completed
h=$($S workflow show ok -o json)
fails=$(jq -c '[.[] | select(.type=="ActivityTaskFailed") | .attributes]' <<<"$h")
it_expect_eq "failed attempts" "$(jq length <<<"$fails")" 2
it_expect_eq "attempt numbers" "$(jq -c '[.[].attempt]' <<<"$fails")" "[1,2]"
it_expect_eq "error types" "$(jq -c '[.[].failure.type]' <<<"$fails")" '["Boom","Boom"]'
it_expect_eq "messages" "$(jq -r '.[0].failure.message' <<<"$fails")" "planned failure 1 of 2"
jq -e 'all(.[]; .will_retry == true and (.next_attempt_time | test("Z$")))' <<<"$fails" >/dev/null || it_fail "next retry time missing"
# The second wait is about twice the first (100ms, then 200ms backoff).
d1=$(jq -r '[.[] | select(.type=="ActivityTaskFailed")] | .[0] | ((.attributes.next_attempt_time | sub("\\.[0-9]+Z$";"Z") | fromdate) - (.time | sub("\\.[0-9]+Z$";"Z") | fromdate))' <<<"$h")
[ "$d1" -le 1 ] || it_fail "first backoff too long: ${d1}s"
it_expect_eq "completed on attempt" "$(jq '[.[] | select(.type=="ActivityTaskCompleted")][0].attributes.attempt' <<<"$h")" 3

# nr: fails after one attempt, not retried.
d=$($S workflow describe nr -o json)
it_expect_eq "nr status" "$(jq -r .status <<<"$d")" failed
it_expect_eq "nr attempts" "$($S workflow show nr -o json | jq '[.[] | select(.type=="ActivityTaskStarted")] | length')" 1
it_expect_eq "nr retry state" "$(jq -r .failure.cause.retry_state <<<"$d")" non_retryable

# listed: error type in non_retryable_error_types -> one attempt.
it_expect_eq "listed status" "$($S workflow describe listed -o json | jq -r .status)" failed
it_expect_eq "listed attempts" "$($S workflow show listed -o json | jq '[.[] | select(.type=="ActivityTaskStarted")] | length')" 1

# maxed: three attempts, then the workflow fails and describe shows why.
d=$($S workflow describe maxed -o json)
it_expect_eq "maxed status" "$(jq -r .status <<<"$d")" failed
it_expect_eq "maxed failure type" "$(jq -r .failure.type <<<"$d")" Boom
it_expect_eq "maxed retry state" "$(jq -r .failure.cause.retry_state <<<"$d")" maximum_attempts_reached
it_expect_eq "maxed attempts" "$(jq -r .failure.cause.attempt <<<"$d")" 3
$S workflow describe maxed | grep -q "^failure .*planned failure 3 of 9" || it_fail "describe table lacks the failure"
echo PASS
