#!/usr/bin/env bash
# timeout: 120
# labels: tsan
# Schedules: an every-1s schedule with a slow workflow and overlap=skip never overlaps runs;
# pause stops fires; trigger fires now; backfill of a */15 cron over one hour starts exactly 4
# workflows with the expected ids; a cron in Europe/Amsterdam backfilled across both 2026
# daylight-saving changes fires once per wall-clock time (the date command, reading the
# system's tzdata, confirms each fire's local time); bad input is refused clearly and changes
# nothing.
. "$SLUICE_SRC/tests/lib/common.sh"
S=$SLUICE_BIN
$S schedule create --id tick --type noop_chain --every 1s --overlap skip \
  --input '{"steps":1,"activity_ms":2200}' | grep -q "created schedule tick" || it_fail create
it_start_bg worker "$S" worker
# Five fires, whatever they did (started or skipped).
it_wait_for 30 bash -c "$S schedule describe tick -o json | jq -e '[.recent_actions[] | select(.action==\"started\" or .action==\"skipped\")] | length >= 5'"
$S schedule pause tick --note "maintenance" >/dev/null
d=$($S schedule describe tick -o json)
it_expect_eq paused "$(jq .paused <<<"$d")" true
started=$(jq '[.recent_actions[] | select(.action=="started")] | length' <<<"$d")
skipped=$(jq '[.recent_actions[] | select(.action=="skipped")] | length' <<<"$d")
[ "$started" -ge 1 ] && [ "$skipped" -ge 1 ] || it_fail "started=$started skipped=$skipped"
# Wait for the runs to finish, then check no two of them overlapped in time.
it_wait_for 30 bash -c "[ \$($S workflow count --status running --prefix tick-) -eq 0 ]"
$S workflow list --prefix tick- -o json | jq -e '
  [.[] | {s: .start_time, c: .close_time}] | sort_by(.s) as $r
  | [range(1; $r | length) | select($r[.].s < $r[. - 1].c)] | length == 0' >/dev/null || it_fail "runs overlapped"
it_expect_eq "runs started" "$($S workflow count --prefix tick-)" "$started"
# Paused: a manual trigger still starts; no scheduled fire is taken meanwhile.
out=$($S schedule trigger tick)
trig=$(awk '{print $2}' <<<"$out")
it_wait_for 30 bash -c "$S workflow describe $trig -o json | jq -e '.status == \"completed\"'"
after=$($S schedule describe tick -o json)
it_expect_eq "no fires while paused" "$(jq '[.recent_actions[] | select(.action=="started" or .action=="skipped")] | length' <<<"$after")" "$((started + skipped))"
it_expect_eq "trigger recorded" "$(jq -r '[.recent_actions[] | select(.action=="triggered")][0].workflow_id' <<<"$after")" "$trig"

# Backfill a cron schedule over one hour: exactly 4 workflows with the fire times as ids.
$S schedule create --id q --type noop_chain --cron "*/15 * * * *" --paused --input '{"steps":1}' >/dev/null
out=$($S schedule backfill q --from 2026-01-01T10:00:00Z --to 2026-01-01T11:00:00Z)
it_expect_eq "backfill count" "$(tail -1 <<<"$out")" "4 workflows started"
it_expect_eq "backfill ids" "$($S workflow list --prefix q- -o json | jq -c '[.[].workflow_id] | sort')" \
  '["q-2026-01-01T10:00:00Z","q-2026-01-01T10:15:00Z","q-2026-01-01T10:30:00Z","q-2026-01-01T10:45:00Z"]'
# Running it again starts nothing: a fire is never started twice.
it_expect_eq "backfill again" "$($S schedule backfill q --from 2026-01-01T10:00:00Z --to 2026-01-01T11:00:00Z | tail -1)" "0 workflows started"
$S schedule list | grep -q "^q .*\*/15 \* \* \* \*" || it_fail "list"

# Time zones: "0 2 * * *" in Amsterdam. 29 March has no 02:00 (fires at 03:00 CEST, the
# first minute after the gap); 25 October has 02:30 twice (fires at the first one only).
$S schedule create --id ams --type noop_chain --cron "30 2 * * *" --timezone Europe/Amsterdam \
  --paused --input '{"steps":1}' >/dev/null
$S schedule backfill ams --from 2026-03-27T00:00:00Z --to 2026-03-31T00:00:00Z >/dev/null
$S schedule backfill ams --from 2026-10-23T00:00:00Z --to 2026-10-27T00:00:00Z >/dev/null
ids=$($S workflow list --prefix ams- -o json | jq -r '[.[].workflow_id] | sort | .[]')
it_expect_eq "amsterdam fires" "$(wc -l <<<"$ids")" 8
while read -r id; do
  utc=${id#ams-}
  loc=$(TZ=Europe/Amsterdam date -d "$utc" +%F_%H:%M)
  case "$loc" in
  2026-03-29_03:30) ;;            # 02:30 did not happen that day
  *_02:30) ;;
  *) it_fail "fire $id is $loc in Amsterdam" ;;
  esac
done <<<"$ids"
it_expect_eq "one fire on 25 October" "$(grep -c '^ams-2026-10-25' <<<"$ids")" 1
it_expect_eq "first 02:30 of 25 October" "$(grep '^ams-2026-10-25' <<<"$ids")" "ams-2026-10-25T00:30:00Z"
$S schedule unpause ams >/dev/null
d=$($S schedule describe ams -o json)
it_expect_eq timezone "$(jq -r .timezone <<<"$d")" Europe/Amsterdam
for i in 0 1 2; do
  utc=$(jq -r ".next_fire_times[$i]" <<<"$d")
  it_expect_eq "next fire $i local" "$(jq -r ".next_fire_times_local[$i]" <<<"$d")" \
    "$(TZ=Europe/Amsterdam date -d "$utc" +%FT%T%:z)"
done
$S schedule delete ams >/dev/null

before=$($S schedule list -o json | jq length)
it_expect_fail 2 "cron field 'hour' value 25 out of range 0-23" $S schedule create --id x --type noop_chain --cron "0 25 * * *"
it_expect_fail 2 "cron expression|5 fields|fields" $S schedule create --id x --type noop_chain --cron "* * *"
it_expect_fail 2 "unknown overlap policy 'sometimes'" $S schedule create --id x --type noop_chain --every 1m --overlap sometimes
it_expect_fail 2 "applies to --cron schedules only" $S schedule create --id x --type noop_chain --every 1m --timezone Europe/Paris
it_expect_fail 2 "unknown time zone 'Mars/Olympus_Mons'" $S schedule create --id x --type noop_chain --cron "0 2 * * *" --timezone Mars/Olympus_Mons
it_expect_fail 2 "invalid time zone name" $S schedule create --id x --type noop_chain --cron "0 2 * * *" --timezone ../../etc/passwd
it_expect_fail 1 "schedule 'q' already exists" $S schedule create --id q --type noop_chain --every 1m
it_expect_fail 1 "no schedule 'ghost'" $S schedule describe ghost
it_expect_fail 1 "no schedule 'ghost'" $S schedule trigger ghost
it_expect_fail 1 "no schedule 'ghost'" $S schedule delete ghost
it_expect_eq "schedules unchanged" "$($S schedule list -o json | jq length)" "$before"
$S schedule delete q >/dev/null
it_expect_fail 1 "no schedule 'q'" $S schedule describe q
echo PASS
