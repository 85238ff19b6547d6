#!/usr/bin/env bash
# timeout: 120
# it_genie_workflow.sh - the durable path: `sluice genie batch` queues one genie_query
# workflow per non-empty line on task queue genie (ids stable, so a re-run starts nothing),
# refuses a batch over MAX_QUEUE_SIZE before starting anything, and `sluice worker
# --task-queue genie --exit-when-idle` completes every workflow with its answers (rows equal
# to the same SQL run directly; "continue" keeps one Genie conversation). A question Genie
# fails on fails its workflow with Genie's message (type GenieFailed, not retried), and an
# answer slower than the workflow's timeout fails it with GenieTimeout.
. "$SLUICE_SRC/tests/lib/common.sh"
. "$SLUICE_SRC/tests/fixtures/emulator/lib.sh"

for v in $(env | grep -oE '^(DATABRICKS_[A-Z_]+|GENIE_[A-Z_]+|MAX_RETRIES|INITIAL_BACKOFF|MAX_BACKOFF|BACKOFF_MULTIPLIER|MAX_QUEUE_SIZE)='); do
  unset "${v%=}"
done
export HOME="$T/home"
mkdir -p "$HOME" "$T/work"
cd "$T/work"

emu_start emu --genie-latency 200ms --genie-rate 0
export DATABRICKS_HOST="$EMU_URL" DATABRICKS_TOKEN=dapi-emulator
export GENIE_POLL_INTERVAL=50ms GENIE_POLL_MAX_INTERVAL=200ms
S="$SLUICE_BIN"
SP=5a1e5000000000000000000000000001
Q="Which products generate the highest total sales value?"

cat >questions.txt <<EOF
$Q

Show sales by region
["Show sales by region", "how many orders are there?"]
EOF
"$S" genie batch questions.txt --space "$SP" --conversation continue >ids.txt 2>batch.err
it_expect_eq "ids" "$(grep -cE '^genie-[0-9a-f]{16}$' ids.txt)" 3
grep -q '^3 workflows started, 0 already running or completed' batch.err || it_fail "batch: $(cat batch.err)"
mapfile -t IDS <ids.txt
it_expect_eq "queue" "$("$S" workflow describe "${IDS[0]}" -o json | jq -r .task_queue)" genie

# a re-run finds the same workflows and starts nothing
"$S" genie batch questions.txt --space "$SP" --conversation continue -o json >again.json 2>batch2.err
it_expect_eq "same ids" "$(jq -r '.[].workflow_id' again.json)" "$(cat ids.txt)"
it_expect_eq "nothing new" "$(jq -r '[.[].state] | unique | join(",")' again.json)" running
it_expect_eq "json line numbers" "$(jq -c '[.[].line]' again.json)" "[1,3,4]"

# MAX_QUEUE_SIZE: 3 running + 2 more > 4 is refused, and nothing starts
printf 'units by product\nmonthly totals\n' >more.txt
MAX_QUEUE_SIZE=4 it_expect_fail 1 '^sluice: genie batch: refusing to queue 2 workflows: 3 genie_query workflows are already running and MAX_QUEUE_SIZE is 4 \(nothing was started\)$' \
  "$S" genie batch more.txt --space "$SP"
it_expect_eq "nothing started" "$("$S" workflow count --type genie_query)" 3
MAX_QUEUE_SIZE=lots it_expect_fail 1 "bad MAX_QUEUE_SIZE 'lots'" "$S" genie batch more.txt
it_expect_fail 1 'has no questions' "$S" genie batch /dev/null

# a question Genie fails on, and one slower than its timeout
printf 'please force a failure\n' >fail.txt
FAIL_ID=$("$S" genie batch fail.txt --space "$SP" 2>/dev/null)
printf 'Show sales by region\n' >slow.txt
SLOW_ID=$("$S" genie batch slow.txt --space "$SP" --timeout 100ms 2>/dev/null)

export LOG_LEVEL=INFO
it_start_bg worker timeout 90 "$S" worker --task-queue genie --concurrency 4 --exit-when-idle
WPID=$IT_LAST_PID
rc=0; wait "$WPID" || rc=$?
[ "$rc" -eq 0 ] || it_fail "worker exited $rc"
grep -q 'Sanitizer' "$T/worker.log" && it_fail "sanitizer report in the worker log"

for id in "${IDS[@]}"; do
  "$S" workflow describe "$id" -o json >"$id.json"
  jq -e '.status == "completed" and (.result.answers | length) >= 1
    and all(.result.answers[]; .status == "COMPLETED" and (.rows | length) == .row_count
            and .truncated == false and (.message_id | test("^[0-9a-f]{32}$")))' "$id.json" >/dev/null ||
    it_fail "workflow $id: $(cat "$id.json")"
done
first="${IDS[0]}.json"
it_expect_eq "question" "$(jq -r '.result.answers[0].question' "$first")" "$Q"
SQL=$(jq -r '.result.answers[0].sql' "$first")
sql_ok "$SQL"
it_expect_eq "rows as direct SQL" "$(jq -c '.result.answers[0].rows' "$first")" "$(jb -c .result.data_array)"
it_expect_eq "columns" "$(jq -c '[.result.answers[0].columns[].name]' "$first")" '["product_name","total_sales_value"]'
# "continue": both questions of line 4 in one Genie conversation, named in the result
thread="${IDS[2]}.json"
it_expect_eq "one conversation" "$(jq -r '[.result.answers[].conversation_id] | unique | length' "$thread")" 1
it_expect_eq "result conversation" "$(jq -r .result.conversation_id "$thread")" "$(jq -r '.result.answers[1].conversation_id' "$thread")"
C=$(jq -r .result.conversation_id "$thread")
curl -sf "$EMU_URL/_emulator/stats" -o stats.json
it_expect_eq "emulator saw the thread" \
  "$(jq -c --arg c "$C" '[.genie_questions[] | select(.conversation_id == $c) | .content]' stats.json)" \
  '["Show sales by region","how many orders are there?"]'
it_expect_eq "orders answer" "$(jq -c '.result.answers[1].rows' "$thread")" '[["50"]]'

# Genie's failure is the workflow's failure
"$S" workflow describe "$FAIL_ID" -o json >fail.json
it_expect_eq "failed status" "$(jq -r .status fail.json)" failed
it_expect_eq "failure type" "$(jq -r .failure.type fail.json)" GenieFailed
jq -r .failure.message fail.json | grep -q 'Genie failed: Genie failed to generate a query for this question. (GENERIC_CHAT_COMPLETION_EXCEPTION)' ||
  it_fail "failure message: $(jq -c .failure fail.json)"
it_expect_eq "not retried" "$(jq -r '.failure.cause.attempt' fail.json)" 1
"$S" workflow describe "$SLOW_ID" -o json >slow.json
it_expect_eq "timeout type" "$(jq -r .failure.type slow.json)" GenieTimeout
jq -r .failure.message slow.json | grep -q 'no answer from Genie within 100ms' ||
  it_fail "timeout message: $(jq -c .failure slow.json)"
emu_stop_all
echo "it_genie_workflow: ok"
