#!/usr/bin/env bash
# timeout: 180
# A new database: reads of one that does not exist yet (or of an empty file left behind) print
# the empty answer and create nothing; a read racing the first worker, which creates and
# migrates the file, waits for the migration instead of calling a seconds-old file "old"; and
# 20 rounds of 2 workers, 4 readers and 4 starters on a new file all succeed, with no refusal
# and no "database is locked" reaching a user. A really older database is refused by reads
# with one line saying a write upgrades it, and a write does.
. "$SLUICE_SRC/tests/lib/common.sh"
S=$SLUICE_BIN

# No database yet: the answers of an empty one, and no file.
it_expect_eq "list of a missing db" "$($S --db "$T/none.db" workflow list -o json)" "[]"
it_expect_eq "count of a missing db" "$($S --db "$T/none.db" workflow count)" 0
it_expect_eq "timers of a missing db" "$($S --db "$T/none.db" workflow timers -o json)" "[]"
it_expect_fail 1 "no workflow with id 'ghost'" $S --db "$T/none.db" workflow describe ghost
[ ! -e "$T/none.db" ] || it_fail "a read command created a database"
# An empty file (a first open killed before it wrote anything) reads as empty, untouched.
: >"$T/empty.db"
it_expect_eq "list of an empty file" "$($S --db "$T/empty.db" workflow list -o json)" "[]"
it_expect_eq "empty file untouched" "$(stat -c %s "$T/empty.db")" 0

# A database from an older sluice (schema level 3): reads refuse it with one line, a command
# that writes upgrades it, and reads work again.
for m in "$SLUICE_SRC"/schema/migrations/000[123]_*.sql; do sqlite3 "$T/old.db" <"$m"; done
sqlite3 "$T/old.db" "PRAGMA user_version=3; PRAGMA application_id=$((0x534C4345))"
it_expect_fail 1 "old.db is older than this sluice \\(schema level 3, this sluice has [0-9]+\\); any command that writes upgrades it" \
  $S --db "$T/old.db" workflow list
$S --db "$T/old.db" workflow start --type noop_chain --id up --input '{"steps":1}' >/dev/null
it_expect_eq "level after a write" "$(sqlite3 "$T/old.db" 'PRAGMA user_version')" \
  "$(ls "$SLUICE_SRC"/schema/migrations/*.sql | wc -l)"
it_expect_eq "upgraded db lists" "$($S --db "$T/old.db" workflow list -o json | jq -r '.[].workflow_id')" up

# run_bg NAME CMD...: CMD in the background, stdout to NAME.out, stderr to NAME.err; its PID
# joins the test's (killed on exit) until end_round collects it.
ROUND=()
run_bg() {
  local name=$1; shift
  echo "$*" >"$name.cmd"
  "$@" >"$name.out" 2>"$name.err" &
  IT_PIDS+=("$!")
  ROUND+=("$!:$name")
}

# end_round: wait for every command of the round; each must exit 0 and print nothing
# alarming: readers and starters nothing on stderr at all, workers only INFO lines.
end_round() {
  local e pid name rc
  for e in "${ROUND[@]}"; do
    pid=${e%%:*}; name=${e#*:}; rc=0
    wait "$pid" || rc=$?
    [ "$rc" = 0 ] || it_fail "$(cat "$name.cmd") exited $rc: $(cat "$name.err")"
    if [[ "$(basename "$name")" == w* ]]; then
      if grep -v ' INFO ' "$name.err" | grep -q .; then
        it_fail "$(cat "$name.cmd") logged: $(grep -v ' INFO ' "$name.err")"
      fi
    else
      [ ! -s "$name.err" ] || it_fail "$(cat "$name.cmd") printed: $(cat "$name.err")"
    fi
  done
  ROUND=()
  IT_PIDS=()
}

# (a) The issue's race: a worker creating a new file, and a read right behind it.
for i in $(seq 1 40); do
  db="$T/race$i.db"
  d="$T/a$i"; mkdir "$d"
  run_bg "$d/w1" $S --db "$db" worker --exit-when-idle
  run_bg "$d/r1" $S --db "$db" workflow list -o json
  end_round
  jq -e 'type == "array"' "$d/r1.out" >/dev/null || it_fail "try $i: list printed $(cat "$d/r1.out")"
done

# (b) 20 rounds: a new file, 2 workers starting, 4 readers and 4 starters, all at once.
readers=("workflow list" "workflow count" "workflow list -o json" "workflow timers")
for round in $(seq 1 20); do
  db="$T/stress$round.db"
  d="$T/b$round"; mkdir "$d"
  for k in 1 2; do
    run_bg "$d/w$k" $S --db "$db" worker --exit-when-idle
  done
  for k in 1 2 3 4; do
    # shellcheck disable=SC2086 # the reader's words are its arguments
    run_bg "$d/r$k" $S --db "$db" ${readers[$((k - 1))]}
    run_bg "$d/s$k" $S --db "$db" workflow start --type noop_chain --id "r$round-s$k" \
      --input '{"steps":1}'
  done
  end_round
  got=$($S --db "$db" workflow list -o json | jq -r '[.[].workflow_id] | sort | join(",")')
  it_expect_eq "round $round workflows" "$got" "r$round-s1,r$round-s2,r$round-s3,r$round-s4"
done
echo PASS
