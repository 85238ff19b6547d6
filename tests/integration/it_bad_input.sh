#!/usr/bin/env bash
# timeout: 60
# Every bad input gets one clear stderr line and a non-zero exit (2 for usage errors), and
# nothing already stored changes.
. "$SLUICE_SRC/tests/lib/common.sh"
S=$SLUICE_BIN

# sqlite3 stays in this script on purpose, on files as files: it makes databases that are not
# Sluice's (a foreign schema, a newer schema level) and compares a dump of every table of the
# engine database, which no CLI output covers, to show that refused input changed nothing.
$S workflow start --type noop_chain --id keep --input '{"steps":1}' >/dev/null
$S workflow start --type noop_chain --id runner --task-queue nobody-serves-this >/dev/null
it_start_bg worker "$S" worker --exit-when-idle
wait "$IT_LAST_PID"
before=$(sqlite3 "$SLUICE_DB" .dump | md5sum)

# Workflow control on the wrong state.
it_expect_fail 1 "workflow 'runner' is running; only failed, canceled, terminated or timed-out" $S workflow retry runner
it_expect_fail 1 "workflow 'keep' is not running \\(it is completed\\)" $S workflow signal keep --name x
it_expect_fail 1 "workflow 'keep' is not running" $S workflow terminate keep
it_expect_fail 1 "no workflow with id 'ghost'" $S workflow cancel ghost
it_expect_fail 2 "give a workflow id or --query, not both" $S workflow cancel keep --query status=running
it_expect_fail 2 "--query: unknown key 'color'" $S workflow cancel --query color=red
it_expect_fail 2 "cron field" $S schedule create --id s --type noop_chain --cron "*/0 * * * *"
it_expect_fail 1 "no schedule 'nope'" $S schedule pause nope

it_expect_fail 2 "invalid JSON at line 1" $S workflow start --type noop_chain --input '{"steps":'
it_expect_fail 2 "cannot read .*nope.json" $S workflow start --type noop_chain --input @"$T/nope.json"
it_expect_fail 2 "unknown workflow type 'nosuch'.*noop_chain" $S workflow start --type nosuch
it_expect_fail 2 "missing --type" $S workflow start
it_expect_fail 2 "unknown option '--bogus'" $S workflow start --type noop_chain --bogus
it_expect_fail 2 "retry policy has unknown field 'initial'" $S workflow start --type noop_chain --retry-policy '{"initial":"1s"}'
it_expect_fail 2 "invalid duration '5x'" $S workflow start --type noop_chain --retry-policy '{"initial_interval":"5x"}'
it_expect_fail 1 "no workflow with id 'ghost'" $S workflow describe ghost
it_expect_fail 1 "no workflow with id 'ghost'" $S workflow show ghost
it_expect_fail 2 "missing workflow id" $S workflow describe
it_expect_fail 2 "unknown status 'done'" $S workflow list --status done
it_expect_fail 2 "--concurrency must be an integer" $S worker --concurrency lots
it_expect_fail 2 "unknown command 'wrkflow'" $S wrkflow start
it_expect_fail 2 "unknown sub-command 'begin'" $S workflow begin

# Batch files that are not lines of UTF-8 questions (each used to start workflows or abort).
printf 'why \xff?\n' >"$T/latin1.txt"
it_expect_fail 1 "latin1.txt line 1 is not UTF-8 text" $S genie batch "$T/latin1.txt" --space x
printf 'ok\n["a", 42]\n' >"$T/mixed.txt"
it_expect_fail 1 "mixed.txt line 2 is JSON but not an array of non-empty strings" $S genie batch "$T/mixed.txt" --space x
printf 'a\n\0b\n' >"$T/nul.txt"
it_expect_fail 1 "nul.txt line 2 has a NUL byte" $S genie batch "$T/nul.txt" --space x

# Databases that are not ours, or not usable.
it_expect_fail 1 "cannot create database $T/missing/dir/x.db" $S --db "$T/missing/dir/x.db" workflow start --type noop_chain
mkdir "$T/adir"
it_expect_fail 1 "is a directory" $S --db "$T/adir" workflow start --type noop_chain
echo "just some text, not a database at all........................................" >"$T/text.db"
it_expect_fail 1 "not a Sluice database" $S --db "$T/text.db" workflow start --type noop_chain
sqlite3 "$T/other.db" "CREATE TABLE customers(id INTEGER); INSERT INTO customers VALUES (1);"
it_expect_fail 1 "not a Sluice database" $S --db "$T/other.db" workflow start --type noop_chain
it_expect_eq "foreign db untouched" "$(sqlite3 "$T/other.db" 'SELECT count(*) FROM customers')" 1
# A read of a database that does not exist yet reads an empty one (it_new_database.sh has more).
it_expect_eq "list of a database not there" "$($S --db "$T/never.db" workflow list -o json 2>&1)" "[]"
[ ! -e "$T/never.db" ] || it_fail "a read command created a database"

# A database from a newer schema level is refused, for reads and writes.
cp "$SLUICE_DB" "$T/newer.db"
sqlite3 "$T/newer.db" "PRAGMA user_version=999"
newer_before=$(sqlite3 "$T/newer.db" .dump | md5sum)
it_expect_fail 1 "schema level 999, newer than this sluice" $S --db "$T/newer.db" workflow start --type noop_chain
it_expect_fail 1 "schema level 999, newer than this sluice" $S --db "$T/newer.db" workflow list
it_expect_eq "newer db untouched" "$(sqlite3 "$T/newer.db" .dump | md5sum)" "$newer_before"

# Environment defaults are validated where the library resolves them (the dbx resolver, the
# engine's and the load generator's options): one line naming the variable, nothing stored.
printf 'a,b\n1,2\n' >"$T/small.csv"
export SLUICE_DATA_DIR="$T/data"
DATABRICKS_RETRY_ATTEMPTS=lots it_expect_fail 1 "^sluice: dataset ingest: bad DATABRICKS_RETRY_ATTEMPTS 'lots' \(environment DATABRICKS_RETRY_ATTEMPTS\): expected an integer 1\.\.1000$" \
  $S dataset ingest "$T/small.csv" --name x
DATABRICKS_RETRY_INTERVAL=-1 it_expect_fail 1 "^sluice: dataset ingest: bad DATABRICKS_RETRY_INTERVAL '-1'" \
  $S dataset ingest "$T/small.csv" --name x
SLUICE_MAINTENANCE_INTERVAL=soon it_expect_fail 1 "^sluice: workflow list: bad SLUICE_MAINTENANCE_INTERVAL 'soon'" $S workflow list
SLUICE_HISTORY_LIMIT_EVENTS=-1 it_expect_fail 1 "SLUICE_HISTORY_LIMIT_EVENTS must be a non-negative integer" $S workflow list
GENIE_SAMPLE_SIZE=ten it_expect_fail 1 "^sluice: loadtest genie: bad GENIE_SAMPLE_SIZE 'ten'" \
  $S loadtest genie --conversations "$T/none.yaml"
GENIE_MIN_WAIT=-2 it_expect_fail 1 "^sluice: loadtest genie: bad GENIE_MIN_WAIT '-2'" \
  $S loadtest genie --conversations "$T/none.yaml"
[ ! -e "$T/data" ] || it_fail "a refused ingest left files in $T/data"

it_expect_eq "stored data unchanged" "$(sqlite3 "$SLUICE_DB" .dump | md5sum)" "$before"
it_expect_eq "kept workflow" "$($S workflow describe keep -o json | jq -r .status)" completed
echo PASS
