#!/usr/bin/env bash
# timeout: 180
# it_loadtest_replay.sh - export -> replay round trip. Conversations with follow-ups are
# created in the emulator through its REST API, exported to conversations.yaml (paging,
# --max-conversations, --from/--to with the filter block), then replayed by 5 users with
# short waits: every Genie conversation the emulator saw holds a prefix of one exported
# conversation, in the original order (follow-ups went to the same conversation), every
# exported question was asked, and the CSV matches the emulator's question log.
. "$SLUICE_SRC/tests/lib/common.sh"
. "$SLUICE_SRC/tests/fixtures/emulator/lib.sh"
. "$SLUICE_SRC/tests/fixtures/loadtest/lib.sh"

emu_start emu --genie-latency 30ms --genie-rate 0 --statement-latency 10ms
lt_env
SP=5a1e5000000000000000000000000001
G=/api/2.0/genie/spaces/$SP

CONVS='[["Show sales by region","Now only the North region","And units by product there"],
        ["How many orders are there?","Break that down by month"],
        ["Which products generate the highest total sales value?"]]'
for k in 0 1 2; do
  first=$(jq -r ".[$k][0]" <<<"$CONVS")
  req POST "$G/start-conversation" "$(jq -nc --arg c "$first" '{content:$c}')"
  expect_code 200
  C=$(jb .conversation_id)
  n=$(jq ".[$k] | length" <<<"$CONVS")
  for ((m = 1; m < n; m++)); do
    req POST "$G/conversations/$C/messages" "$(jq -nc --arg c "$(jq -r ".[$k][$m]" <<<"$CONVS")" '{content:$c}')"
    expect_code 200
  done
done

# export everything (paging through 100-conversation pages is exercised by the emulator's
# page size; here 3 conversations, 6 messages)
lt_run export export --space-id $SP --include-all -o "$T/conversations.yaml"
grep -qx "Exported 3 conversations with 6 messages to $T/conversations.yaml" "$T/export.out" \
  || it_fail "export line: $(cat "$T/export.out")"
Y="$T/conversations.yaml"
grep -qx "space_id: $SP" "$Y" || it_fail "space_id"
grep -Eqx "exported_at: '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+'" "$Y" || it_fail "exported_at"
grep -qx "total_conversations: 3" "$Y" || it_fail "total_conversations"
grep -qx "total_messages: 6" "$Y" || it_fail "total_messages"
grep -q "^conversations:$" "$Y" || it_fail "conversations key"
grep -qx "  title: Show sales by region" "$Y" || it_fail "title"
grep -Eqx "  created_timestamp: [0-9]{13}" "$Y" || it_fail "created_timestamp"
grep -Eqx "    timestamp: [0-9]{13}" "$Y" || it_fail "message timestamp"
grep -Eqx "    message_id: [0-9a-f]{32}" "$Y" || it_fail "message_id"
# key order of the tool
it_expect_eq "top-level keys" "$(grep -Eo '^[a-z_]+:' "$Y" | tr '\n' ' ')" \
  "space_id: exported_at: total_conversations: total_messages: conversations: "
# follow-ups in creation order under their conversation
awk '/^- id:/ { c++ } /^  - content:/ { print c ": " substr($0, 14) }' "$Y" >"$T/flat.txt"
grep -qx "1: Which products generate the highest total sales value?" "$T/flat.txt" \
  || { cat "$T/flat.txt"; it_fail "newest conversation first"; }
it_expect_eq "conversation with follow-ups" "$(grep '^3: ' "$T/flat.txt" | cut -c4- | tr '\n' '|')" \
  "Show sales by region|Now only the North region|And units by product there|"

# `sluice genie export` is the same command: same conversations, same order
"$SLUICE_BIN" genie export --space-id $SP --include-all -o "$T/via_genie.yaml" >/dev/null 2>&1 \
  || it_fail "sluice genie export failed"
it_expect_eq "genie export" "$(grep -v '^exported_at' "$T/via_genie.yaml" | md5sum)" \
  "$(grep -v '^exported_at' "$Y" | md5sum)"

# --max-conversations counts conversations with messages; --from/--to add the filter block
lt_run export2 export --space-id $SP --include-all --max-conversations 2 -o "$T/two.yaml"
grep -qx "total_conversations: 2" "$T/two.yaml" || it_fail "max-conversations"
lt_run export3 export --space-id $SP --include-all --from 1h --to 2099-01-01 -o "$T/window.yaml"
grep -qx "total_conversations: 3" "$T/window.yaml" || it_fail "window"
grep -q "^filter:$" "$T/window.yaml" || it_fail "filter block"
grep -qx "  to_timestamp_iso: '2099-01-01T00:00:00+00:00'" "$T/window.yaml" || it_fail "to iso"
grep -Eqx "  from_timestamp: [0-9]{13}" "$T/window.yaml" || it_fail "from ms"
lt_run export4 export --space-id $SP --from 2099-01-01 -o "$T/none.yaml"
grep -qx "total_conversations: 0" "$T/none.yaml" || it_fail "future window"
it_expect_fail 2 "--from: unable to parse timestamp 'soon'" \
  "$SLUICE_BIN" loadtest export --space-id $SP --from soon -o "$T/x.yaml"
it_expect_fail 1 "Export failed: .*RESOURCE_DOES_NOT_EXIST" \
  "$SLUICE_BIN" loadtest export --space-id 0000000000000000000000000000dead -o "$T/x.yaml"

# replay: 5 users, short waits; follow-ups must continue the same Genie conversation
lt_reset
lt_run replay genie --conversations "$Y" --users 5 --spawn-rate 50 --run-time 3s \
  --min-wait 0.05 --max-wait 0.2 --poll-initial 10ms --poll-max 50ms --seed 7 --headless \
  --out "$T/replay"
grep -q "^schedule: replay: 5 users started at 50/s, run time 3s" "$T/replay.out" \
  || it_fail "replay schedule: $(grep ^schedule "$T/replay.out")"
lt_stat . >"$T/stats.json"
asked=$(jq '.genie_questions | length' "$T/stats.json")
[ "$asked" -ge 15 ] || it_fail "only $asked questions replayed"
it_expect_eq "CSV rows = questions the emulator saw" "$(lt_rows replay | wc -l)" "$asked"
it_expect_eq "all succeeded" "$(lt_sum replay .successful)" "$asked"
it_expect_eq "users in the CSV" "$(lt_rows replay | awk -F, '{print $7}' | sort -u | tr '\n' ' ')" \
  "user_1 user_2 user_3 user_4 user_5 "
# every Genie conversation is a prefix of one exported conversation, in order
jq --argjson convs "$CONVS" -e '
  def prefix_of($b): length <= ($b | length) and $b[0:length] == .;
  [.genie_questions | group_by(.conversation_id)[] | map(.content)] as $groups
  | ($groups | all(. as $g | any($convs[]; . as $c | $g | prefix_of($c))))
    and ($groups | any(. == $convs[0]))          # a full three-message replay
    and ([$groups[][]] | unique) == ([$convs[][]] | unique)' "$T/stats.json" >/dev/null \
  || { jq -c '[.genie_questions | group_by(.conversation_id)[] | map(.content)]' "$T/stats.json"
       it_fail "replayed conversations do not follow the export"; }
# the CSV carries the source ids and the Genie ids the emulator issued
src_ids=$(grep -Eo '^- id: [0-9a-f]{32}' "$Y" | cut -c7- | sort | tr '\n' ' ')
it_expect_eq "source conversation ids" \
  "$(lt_rows replay | awk -F, '{print $9}' | sort -u | tr '\n' ' ')" "$src_ids"
it_expect_eq "Genie conversation ids" \
  "$(lt_rows replay | awk -F, '{print $11}' | sort -u | tr '\n' ' ')" \
  "$(jq -r '[.genie_questions[].conversation_id] | unique[]' "$T/stats.json" | tr '\n' ' ')"

# sampling: one conversation only, deterministic with a seed
lt_reset
lt_run sample genie --conversations "$Y" --sample-size 1 --sample-seed 3 --users 2 \
  --spawn-rate 20 --run-time 1s --min-wait 0.05 --max-wait 0.1 --poll-initial 10ms
it_expect_eq "one sampled conversation" \
  "$(lt_stat '[.genie_questions[] | .content] | unique | length <= 3')" true
first=$(lt_stat '.genie_questions[0].content')
lt_reset
lt_run sample2 genie --conversations "$Y" --sample-size 1 --sample-seed 3 --users 1 \
  --spawn-rate 20 --run-time 300ms --min-wait 0.05 --max-wait 0.1 --poll-initial 10ms
it_expect_eq "same sample for the same seed" "$(lt_stat '.genie_questions[0].content')" "$first"

it_expect_fail 1 "conversations file $T/missing.yaml not found \(run 'sluice loadtest export' first\)" \
  "$SLUICE_BIN" loadtest genie --conversations "$T/missing.yaml" --users 1
emu_stop_all
