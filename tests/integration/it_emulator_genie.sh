#!/usr/bin/env bash
# timeout: 180
# it_emulator_genie.sh - Genie: the demo space (ask, poll SUBMITTED -> COMPLETED, query
# result rows equal to the same SQL run directly, follow-ups, listings with paging, text-only
# and FAILED answers, expired result + execute-query), a --genie-config space, the workspace
# rate limit (429 + Retry-After) and the question log in /_emulator/stats.
. "$SLUICE_SRC/tests/lib/common.sh"
. "$SLUICE_SRC/tests/fixtures/emulator/lib.sh"

emu_start emu --genie-latency 400ms --genie-rate 3/s
SP=5a1e5000000000000000000000000001
G=/api/2.0/genie/spaces

req GET "$G"
expect_code 200
it_expect_eq "demo space" "$(jb '.spaces[0].space_id')" $SP
req GET "$G/$SP?include_serialized_space=true"
expect_code 200
[ -n "$(jb .serialized_space)" ] || it_fail "serialized_space"
req GET "$G/0000000000000000000000000000dead"
expect_error 404 RESOURCE_DOES_NOT_EXIST

req POST "$G/$SP/start-conversation" '{"content":"Which products generate the highest total sales value?"}'
expect_code 200
C=$(jb .conversation_id); M=$(jb .message_id)
[[ "$C" =~ ^[0-9a-f]{32}$ && "$M" =~ ^[0-9a-f]{32}$ ]] || it_fail "ids are not 32-hex"
it_expect_eq "first status" "$(jb .message.status)" SUBMITTED
completed() { req GET "$G/$SP/conversations/$C/messages/$M"; [ "$(jb .status)" == COMPLETED ]; }
it_wait_for 10 completed
A=$(jb '.attachments[] | select(.query) | .attachment_id')
ROWS=$(jb '.attachments[] | select(.query) | .query.query_result_metadata.row_count')
QSQL=$(jb '.attachments[] | select(.query) | .query.query')
it_expect_eq "text attachment" "$(jb '[.attachments[] | select(.text)] | length')" 1
req GET "$G/$SP/conversations/$C/messages/$M/attachments/$A/query-result"
expect_code 200
it_expect_eq "result state" "$(jb .statement_response.status.state)" SUCCEEDED
it_expect_eq "row_count" "$(jb '.statement_response.result.data_array | length')" "$ROWS"
GENIE_ROWS=$(jb -c .statement_response.result.data_array)
sql_ok "$QSQL"
it_expect_eq "same rows as direct SQL" "$(jb -c .result.data_array)" "$GENIE_ROWS"
it_expect_eq "top product" "$(jq -r '.[0][0]' <<<"$GENIE_ROWS")" "Rain Shell"

# follow-ups go to the same conversation; rate limit 3/s is shared by both POSTs
post_msg() { req POST "$G/$SP/conversations/$C/messages" "$(jq -nc --arg c "$1" '{content:$c}')"; }
ask() { # retries on 429 honouring Retry-After
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    post_msg "$1"; [ "$CODE" == 429 ] || break
    sleep "$(awk 'tolower($1) == "retry-after:" { print $2 + 0 }' "$T/hdr")" # honour Retry-After
  done
  expect_code 200
}
ask "Show sales by region"; M2=$(jb .message_id)
ask "What is the weather like?"; M3=$(jb .message_id)
ask "please force a failure"; M4=$(jb .message_id)
ask "show me an expired result"; M5=$(jb .message_id)
status_of() { req GET "$G/$SP/conversations/$C/messages/$1"; jb .status; }
terminal() { s=$(status_of "$1"); [ "$s" == COMPLETED ] || [ "$s" == FAILED ] || [ "$s" == QUERY_RESULT_EXPIRED ]; }
for m in $M2 $M3 $M4 $M5; do it_wait_for 10 terminal "$m"; done
it_expect_eq "region" "$(status_of "$M2")" COMPLETED
req GET "$G/$SP/conversations/$C/messages/$M2"
it_expect_eq "region rows" "$(jb '.attachments[] | select(.query) | .query.query_result_metadata.row_count')" 4
it_expect_eq "text only" "$(status_of "$M3")" COMPLETED
req GET "$G/$SP/conversations/$C/messages/$M3"
it_expect_eq "text only attachments" "$(jb -c '[.attachments[] | keys[]] | sort')" '["attachment_id","text"]'
it_expect_eq "failed" "$(status_of "$M4")" FAILED
req GET "$G/$SP/conversations/$C/messages/$M4"
it_expect_eq "failed error" "$(jb .error.type)" GENERIC_CHAT_COMPLETION_EXCEPTION
it_expect_eq "expired" "$(status_of "$M5")" QUERY_RESULT_EXPIRED
req GET "$G/$SP/conversations/$C/messages/$M5"
A5=$(jb '.attachments[] | select(.query) | .attachment_id')
req GET "$G/$SP/conversations/$C/messages/$M5/attachments/$A5/query-result"
it_expect_eq "expired result" "$(jb .statement_response.status.state)" CLOSED
req POST "$G/$SP/conversations/$C/messages/$M5/attachments/$A5/execute-query"
expect_code 200
it_expect_eq "re-executed" "$(jb .statement_response.status.state)" SUCCEEDED
it_expect_eq "re-executed rows" "$(jb '.statement_response.result.data_array | length')" 5
it_expect_eq "completed after re-run" "$(status_of "$M5")" COMPLETED

# listings with paging
req GET "$G/$SP/conversations/$C/messages?page_size=2"
expect_code 200
it_expect_eq "messages page" "$(jb '.messages | length')" 2
req GET "$G/$SP/conversations/$C/messages?page_size=2&page_token=$(jb .next_page_token)"
it_expect_eq "messages page 2 first" "$(jb '.messages[0].message_id')" "$M3"
for _ in 1 2 3 4 5 6 7 8 9 10; do
  req POST "$G/$SP/start-conversation" '{"content":"how many orders are there?"}'; [ "$CODE" == 429 ] || break
  sleep "$(awk 'tolower($1) == "retry-after:" { print $2 + 0 }' "$T/hdr")" # honour Retry-After
done
expect_code 200
C2=$(jb .conversation_id)
req GET "$G/$SP/conversations?page_size=1&include_all=true"
it_expect_eq "newest first" "$(jb '.conversations[0].conversation_id')" "$C2"
req GET "$G/$SP/conversations?page_size=1&page_token=$(jb .next_page_token)"
it_expect_eq "page 2" "$(jb '.conversations[0].conversation_id')" "$C"
req DELETE "$G/$SP/conversations/$C2"
expect_code 200
req GET "$G/$SP/conversations/$C2/messages"
expect_error 404 RESOURCE_DOES_NOT_EXIST

# the rate limit: a burst over 3/s gets 429 with Retry-After, and only accepted POSTs count
curl -sf -X POST "$EMU_URL/_emulator/reset-stats" -o /dev/null
n429=0; n200=0
for i in 1 2 3 4 5 6; do
  CODE=$(curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' -H "$AUTH" -X POST -d '{"content":"sales by region"}' "$EMU_URL$G/$SP/conversations/$C/messages")
  if [ "$CODE" == 429 ]; then
    n429=$((n429 + 1))
    it_expect_eq "429 code" "$(jb .error_code)" REQUEST_LIMIT_EXCEEDED
    grep -qi '^Retry-After: 1' "$T/hdr" || it_fail "Retry-After missing"
  else
    n200=$((n200 + 1))
  fi
done
[ "$n429" -ge 3 ] && [ "$n200" -le 3 ] || it_fail "burst: $n200 accepted, $n429 throttled"
curl -sf "$EMU_URL/_emulator/stats" -o "$T/body"
it_expect_eq "accepted questions logged" "$(jb '.genie_questions | length')" "$n200"
it_expect_eq "429s counted" "$(jb .throttled_429)" "$n429"
[ "$(jb '.genie_questions[0].ts_ms')" -gt 0 ] || it_fail "question timestamps"
curl -sf -X POST "$EMU_URL/_emulator/genie-rate" -d '1000/min' -o /dev/null
req POST "$G/$SP/conversations/$C/messages" '{"content":"units by product"}'
expect_code 200

# a configured space, with --genie-latency 0 (answers complete at once)
emu_start emu2 --genie-latency 0 --genie-config "$SLUICE_SRC/tests/fixtures/emulator/genie_config.json" --genie-rate 0
GS=0123456789abcdef0123456789abcdef
req GET "$G?page_size=1"
it_expect_eq "paged spaces" "$(jb '.spaces | length'):$(jb .next_page_token)" "1:1"
req POST "$G/$GS/start-conversation" '{"content":"How many units in the North?"}'
expect_code 200
it_expect_eq "immediate" "$(jb .message.status)" COMPLETED
C=$(jb .conversation_id); M=$(jb .message_id); A=$(jb '.message.attachments[] | select(.query) | .attachment_id')
req GET "$G/$GS/conversations/$C/messages/$M/attachments/$A/query-result"
GENIE_N=$(jb '.statement_response.result.data_array[0][0]')
sql_ok "SELECT SUM(units) FROM samples.sales.product_sales WHERE region = 'North'"
it_expect_eq "config rule result" "$GENIE_N" "$(jb '.result.data_array[0][0]')"
req POST "$G/$GS/conversations/$C/messages" '{"content":"over quota?"}'
it_expect_eq "rule failure" "$(jb .status):$(jb .error.type)" FAILED:RATE_LIMIT_EXCEEDED_GENERIC_EXCEPTION
req POST "$G/$GS/conversations/$C/messages" '{"content":"crash now"}'
it_expect_eq "fail_match" "$(jb .status)" FAILED
req POST "$G/$GS/conversations/$C/messages" '{"content":"run the broken sql"}'
it_expect_eq "sql failure" "$(jb .status):$(jb .error.type)" FAILED:SQL_EXECUTION_EXCEPTION
req POST "$G/$GS/conversations/$C/messages" '{"content":"anything else"}'
it_expect_eq "fallback" "$(jb '.attachments[0].text.content')" "Ask about units."
req POST "$G/$GS/conversations/$C/messages" '{}'
expect_error 400 INVALID_PARAMETER_VALUE
emu_stop_all
echo "it_emulator_genie: ok"
