#!/usr/bin/env bash
# timeout: 600
# it_hostile_input.sh - Sluice as a hostile user would drive it: several hundred generated
# bad inputs against the real `sluice` binary, each of which must be refused cleanly:
#   - exit 1 or 2 (never 0, never a signal or a sanitizer exit code, never a hang),
#   - exactly one stderr line, starting "sluice: ", with no control characters in it,
#   - the secret token (given as DATABRICKS_TOKEN, --token and the emulator's PAT) nowhere in
#     stdout or stderr,
#   - and the engine database still opens afterwards (`workflow list` succeeds).
# Categories: flag values (numbers, durations, times, enums) for every command, calendar
# dates and offsets, cron expressions, JSON arguments, workflow ids and queue names, input
# files (CSV, JSON Lines, question lists, conversations.yaml, exported histories), --db paths
# and configuration from the environment. it_bad_input.sh holds the hand-written cases (with
# their exact messages); this script is the volume test. Every failing case is listed, then
# the script fails; on success it prints "PASS (N hostile inputs refused)".
. "$SLUICE_SRC/tests/lib/common.sh"
. "$SLUICE_SRC/tests/fixtures/emulator/lib.sh"

for v in $(env | grep -oE '^(DATABRICKS_[A-Z_]+|GENIE_[A-Z_]+|MLFLOW_[A-Z_]+|MAX_RETRIES|INITIAL_BACKOFF|MAX_BACKOFF|BACKOFF_MULTIPLIER|MAX_QUEUE_SIZE)='); do
  unset "${v%=}"
done
export HOME="$T/home"
mkdir -p "$HOME" "$T/work"
cd "$T/work"
S=$SLUICE_BIN
TOKEN="dapi-h0stile-$(od -An -tx8 -N8 /dev/urandom | tr -d ' ')"
if [ "${SLUICE_SANITIZE:-0}" = 1 ] || [ "${SLUICE_SANITIZE:-}" = ON ]; then CASE_S=40; else CASE_S=10; fi

emu_start emu --token "$TOKEN" --genie-latency 0 --genie-rate 0
unset LOG_LEVEL # the CLI then logs warnings only: stderr holds just its own lines
export DATABRICKS_HOST="$EMU_URL" DATABRICKS_TOKEN="$TOKEN" SLUICE_DATA_DIR="$T/data"
export GENIE_POLL_INTERVAL=50ms GENIE_POLL_MAX_INTERVAL=100ms MAX_RETRIES=0
SP=5a1e5000000000000000000000000001
WH=emu0000000000001

# Something stored, so a refused input has something to damage.
$S workflow start --type noop_chain --id keep --input '{"steps":2}' >/dev/null
$S worker --exit-when-idle >"$T/worker.log" 2>&1
$S schedule create --id sched --type noop_chain --every 1h --paused >/dev/null
$S queue limit q1 --concurrency 2 >/dev/null

N=0
FAILED=()
# h [ENV=VALUE...] [--stdin FILE] -- ARGS...: one hostile invocation of sluice.
h() {
  local envs=() stdin=/dev/null
  while [ "$1" != -- ]; do
    if [ "$1" = --stdin ]; then stdin=$2; shift 2; else envs+=("$1"); shift; fi
  done
  shift
  N=$((N + 1))
  local rc=0 why=""
  env "${envs[@]}" timeout -k 5 "$CASE_S" "$S" "$@" <"$stdin" >"$T/h.out" 2>"$T/h.err" || rc=$?
  local lines; lines=$(wc -l <"$T/h.err")
  if [ $rc -eq 0 ]; then why="exit 0"
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then why="hang (killed after ${CASE_S}s)"
  elif [ $rc -ne 1 ] && [ $rc -ne 2 ]; then why="exit $rc"
  elif grep -qE 'Sanitizer|runtime error:' "$T/h.err"; then why="sanitizer report"
  elif [ "$lines" -ne 1 ] || [ "$(tail -c1 "$T/h.err" | od -An -c | tr -d ' ')" != '\n' ]; then why="$lines stderr lines"
  elif [ "$(head -c 8 "$T/h.err")" != "sluice: " ]; then why="stderr does not start 'sluice: '"
  elif head -c -1 "$T/h.err" | LC_ALL=C grep -q '[[:cntrl:]]'; then why="control character in the error line"
  fi
  if [ -z "$why" ] && grep -qF -- "$TOKEN" "$T/h.out" "$T/h.err"; then why="secret token in output"; fi
  # The engine database must still open after every command that can touch it.
  local touches=0
  case "$1 ${2:-}" in workflow* | schedule* | queue* | worker* | dataset* | --db* | "genie batch") touches=1 ;; esac
  if [ -z "$why" ] && [ $touches = 1 ] && ! "$S" workflow list --limit 1 >/dev/null 2>"$T/h.db"; then
    why="database no longer opens: $(head -c 200 "$T/h.db")"
  fi
  if [ -n "$why" ]; then
    local shown; shown=$(printf '%q ' "${envs[@]}" sluice "$@" | head -c 300)
    FAILED+=("$why: $shown | $(head -c 300 "$T/h.err" | tr '\n\0' '~@')")
  fi
}

# ---- number flags: non-numeric, negative, 2^63+1, empty, NaN, 1e400, hex, fractions ----
BAD_INTS=(abc "" -1 9223372036854775809 NaN 1e400 0x10 1.5 inf)
INT_FLAGS=(
  "workflow list --limit"
  "workflow timers --limit"
  "schedule describe sched --next"
  "queue limit q1 --concurrency"
  "queue limit q1 --rate 5/min --burst"
  "worker --exit-when-idle --concurrency"
  "bench --workflows 1 --steps 1 --workflows"
  "bench --workflows 1 --steps"
  "bench --workflows 1 --steps 1 --concurrency"
  "bench --workflows 1 --steps 1 --threads"
  "genie ask hello --space $SP --max-width"
  "genie export --space-id $SP -o $T/x.yaml --max-conversations"
  "loadtest genie --space-id $SP --questions 1 --duration 0 --questions"
  "loadtest genie --space-id $SP --questions 1 --duration 0 --workers"
  "loadtest genie --space-id $SP --questions 1 --duration 0 --max-retries"
  "loadtest genie --space-id $SP --questions 1 --duration 0 --seed"
  "loadtest http --url $EMU_URL/health --duration 100ms --concurrency"
  "dbx sql select --warehouse $WH --row-limit"
  "emulator --listen 127.0.0.1:0 --seed"
  "emulator --listen 127.0.0.1:0 --chunk-rows"
  "dev --listen 127.0.0.1:0 --concurrency"
)
for f in "${INT_FLAGS[@]}"; do
  read -ra a <<<"$f"
  for v in "${BAD_INTS[@]}"; do h -- "${a[@]}" "$v"; done
done

# ---- duration flags: negative, overflowing, unknown units, empty, NaN, 1e400, hex ----
BAD_DURS=(-1s 99999999999h 5fortnights "" NaN 1e400 0x10 1h-5m 1e3s inf)
DUR_FLAGS=(
  "genie ask hello --space $SP --timeout"
  "genie batch $T/none.txt --timeout"
  "loadtest genie --space-id $SP --questions 1 --duration"
  "loadtest genie --space-id $SP --questions 1 --duration 0 --timeout"
  "loadtest genie --space-id $SP --questions 1 --duration 0 --poll-initial"
  "loadtest http --url $EMU_URL/health --duration"
  "loadtest http --url $EMU_URL/health --duration 100ms --timeout"
  "schedule create --id s2 --type noop_chain --paused --every"
  "schedule create --id s2 --type noop_chain --paused --every 1h --catchup-window"
  "schedule create --id s2 --type noop_chain --paused --every 1h --jitter"
  "worker --exit-when-idle --shutdown-grace"
  "dbx sql select --warehouse $WH --timeout"
  "emulator --listen 127.0.0.1:0 --token-ttl"
  "emulator --listen 127.0.0.1:0 --statement-latency"
  "dev --listen 127.0.0.1:0 --genie-latency"
)
for f in "${DUR_FLAGS[@]}"; do
  read -ra a <<<"$f"
  for v in "${BAD_DURS[@]}"; do h -- "${a[@]}" "$v"; done
done

# ---- decimal flags of loadtest genie ----
for fl in --time-scale --min-wait --max-wait; do
  for v in abc "" -1 NaN inf 1e400 0x10; do
    h -- loadtest genie --space-id "$SP" --questions 1 --duration 0 "$fl" "$v"
  done
done
for v in abc -1 NaN inf 1e400 0; do
  h -- loadtest genie --space-id "$SP" -c "$SLUICE_SRC/tests/fixtures/loadtest/handwritten.yaml" --users 1 --run-time 1s --spawn-rate "$v"
done

# ---- times: impossible dates, hours, minutes, offsets; relative times that overflow ----
BAD_TIMES=(2026-02-30 2026-02-29 2025-02-29T00:00:00Z 2026-04-31 2026-13-01 2026-00-10 2026-01-00
  2026-01-01T24:00:00Z 2026-01-01T23:61 2026-01-01T12:00:61Z 2026-01-01T12:00+99:00
  2026-01-01T12:00+24:00 2026-01-01T12:00-25:30 2026-01-01T12:00+05:99 2026-01-01T12:00Zjunk
  2026-01-01T 2026-1-1 "" yesterday 99999999999999999999d -7d 2026-01-01T12 "2026-01-01T12:00:00.Z")
for v in "${BAD_TIMES[@]}"; do
  h -- workflow list --since "$v"
  h -- schedule backfill sched --from "$v" --to 2026-01-02T00:00:00Z
  h -- genie export --space-id "$SP" -o "$T/x.yaml" --from "$v"
done

# ---- cron expressions ----
BAD_CRONS=("" "* * * *" "* * * * * *" "60 * * * *" "* 24 * * *" "* * 32 * *" "* * 0 * *"
  "* * * 13 *" "* * * 0 *" "* * * * 8" "5-1 * * * *" "*/99999999999999999999 * * * *"
  "a b c d e" "1,,2 * * * *" "-1 * * * *" "* * 31 2 *" "* * 30 2 *" "1-60/0 * * * *"
  "$(printf '1,%.0s' $(seq 1 600))1 * * * *" "@never" "*/-5 * * * *" "0x1 * * * *")
for v in "${BAD_CRONS[@]}"; do
  h -- schedule create --id s3 --type noop_chain --paused --cron "$v"
done

# ---- enum-like flags ----
h -- schedule create --id s4 --type noop_chain --every 1h --overlap sometimes
h -- schedule create --id s4 --type noop_chain --every 1h --timezone Not/AZone
h -- schedule create --id s4 --type noop_chain --every 1h --timezone ../../../../etc/passwd
h -- schedule create --id s4 --type noop_chain --every 1h --timezone /etc/passwd
h -- schedule create --id s4 --type noop_chain --every 1h --timezone ""
h -- schedule create --id s4 --type noop_chain --every 1h --cron "* * * * *"
h -- schedule backfill sched --from 2026-01-02T00:00:00Z --to 2026-01-01T00:00:00Z
h -- schedule backfill sched --from 2026-01-01T00:00:00Z --to 2026-01-01T00:00:00Z --overlap x
h -- worker --exit-when-idle --durability sometimes
h -- bench --workflows 1 --durability ""
h -- loadtest genie --space-id "$SP" --questions 1 --duration 0 --cache lfu
h -- loadtest genie --space-id "$SP" --questions 1 --duration 0 --cache semantic --similarity dot
h -- loadtest genie --scenario nosuch
for v in 5 5/ /min 0/min -5/min 5/0s 5/fortnight 99999999999999999999/s 5/min/3 NaN/s 5/-1s ""; do
  h -- queue limit q1 --rate "$v"
done
for v in nohost 127.0.0.1:99999 127.0.0.1:-1 : "[::1" 256.1.1.1:0 127.0.0.1:0x10 ""; do
  h -- emulator --listen "$v"
done
for v in garbage 429=2.0 500=-1 "drop=" "=0.5" "429=NaN"; do
  h -- emulator --listen 127.0.0.1:0 --faults "$v"
done
for v in -1/min x 5/fortnight 0/0s; do h -- emulator --listen 127.0.0.1:0 --genie-rate "$v"; done
for cmd in "workflow list" "workflow describe keep" "schedule list" "queue list" "genie spaces" "dbx warehouses"; do
  read -ra a <<<"$cmd"
  h -- "${a[@]}" -o xml
  h -- "${a[@]}" -o ""
done
for v in notaurl "" ftp://127.0.0.1/; do
  h -- loadtest http --url "$v" --duration 100ms
done
h -- loadtest http --url "$EMU_URL/health" --duration 100ms -H NoColon
h -- loadtest http --url "$EMU_URL/health" --duration 100ms -H $'A: b\r\nInjected: x'
h -- dbx sql 'select :a' --warehouse "$WH" --param =x

# ---- JSON arguments: truncated, deep, invalid UTF-8, NUL, wrong kind, huge numbers ----
printf '{"steps":1,"x":"\xff\xfe"}' >"$T/badutf8.json"
printf '{"steps":1}\0{"x":1}' >"$T/nul.json"
head -c 100000 /dev/zero | tr '\0' '[' >"$T/deep.json"
{ head -c 100000 /dev/zero | tr '\0' '['; head -c 100000 /dev/zero | tr '\0' ']'; } >"$T/deep_closed.json"
BAD_JSON=('{"steps":' '{' '' '{"a":1}{"b":2}' "@$T/badutf8.json"
  "@$T/nul.json" "@$T/deep.json" "@$T/deep_closed.json" '@' "@$T" '@/dev/null' "@$T/nope.json"
  '{"a":1e999}' '{"a":123456789012345678901234567890}')
for v in "${BAD_JSON[@]}"; do
  h -- workflow start --type noop_chain --input "$v"
  h -- workflow signal keep --name x --input "$v"
  h -- schedule create --id s5 --type noop_chain --every 1h --input "$v"
done
h --stdin "$T/nul.json" -- workflow start --type noop_chain --input -
h --stdin "$T/deep.json" -- workflow start --type noop_chain --input -
for v in '[]' '42' '{"maximum_attempts":-1}' '{"maximum_attempts":1e400}' \
  '{"maximum_attempts":99999999999999999999}' '{"backoff_coefficient":"NaN"}' \
  '{"backoff_coefficient":-2}' '{"initial_interval":"-1s"}' '{"initial_interval":-5}' \
  '{"initial_interval":1e400}' '{"maximum_interval":"99999999999h"}' \
  '{"non_retryable_error_types":"x"}' '{"jitter":5}' "@$T/deep_closed.json"; do
  h -- workflow start --type noop_chain --retry-policy "$v"
done

# ---- workflow ids, queue names, schedule ids, signal names ----
LONG=$(head -c 10240 /dev/zero | tr '\0' 'a')
BAD_IDS=("" " " $'\t' $'a\nb' $'a\rb' $'\e[31mred' $'a\x01b' "$LONG")
for v in "${BAD_IDS[@]}"; do
  h -- workflow start --type noop_chain --id "$v"
  h -- workflow start --type noop_chain --task-queue "$v"
  h -- workflow describe "$v"
  h -- workflow signal keep --name "$v"
  h -- schedule create --id "$v" --type noop_chain --every 1h --paused
  h -- schedule create --id s6 --type noop_chain --every 1h --paused --task-queue "$v"
  h -- queue limit "$v" --concurrency 1
  h -- worker --exit-when-idle --task-queue "$v"
  h -- dataset ingest "$SLUICE_SRC/tests/fixtures/datasets/small.csv" --no-sync --name "$v"
done
h -- workflow start --type "" --id x1
h -- workflow start --type $'noop_chain\n' --id x2

# ---- input files: datasets (CSV, JSON Lines), batches, conversations, histories ----
head -c 4096 /dev/urandom >"$T/garbage.bin"
printf 'a,b\n1,2\n3,\0\n' >"$T/nul.csv"
printf 'a,b\n1,2\n3,4,5\n' >"$T/ragged.csv"
printf 'a,b\n1\n' >"$T/short.csv"
printf 'a,b\n"1,2\n' >"$T/unterminated.csv"
printf '{"a":1}\n[1,2]\n' >"$T/array.jsonl"
printf '{"a":1}\n42\n' >"$T/number.jsonl"
printf '{"a":1}\n{"a":\n' >"$T/truncated.jsonl"
printf '{"a":1}\n{"a":"\0"}\n' >"$T/nul.jsonl"
printf '{"a":"\xff"}\n' >"$T/badutf8.jsonl"
cp "$T/deep_closed.json" "$T/deep.jsonl"
: >"$T/empty.csv"
: >"$T/empty.jsonl"
mkdir -p "$T/adir.csv"
mkfifo "$T/fifo.csv"
for f in "$T/missing.csv" "$T/adir.csv" /dev/null "$T/garbage.bin" "$T/nul.csv" "$T/ragged.csv" \
  "$T/short.csv" "$T/unterminated.csv" \
  "$T/array.jsonl" "$T/number.jsonl" "$T/truncated.jsonl" "$T/nul.jsonl" "$T/badutf8.jsonl" \
  "$T/deep.jsonl" "$T/empty.csv" "$T/empty.jsonl"; do
  h -- dataset ingest "$f" --name d --no-sync
done

printf 'a question\n\0another\n' >"$T/nul.txt"
printf '["ok", 42]\n' >"$T/nonstring.txt"
printf '[]\n' >"$T/emptyarray.txt"
printf 'why \xff\xfe?\n' >"$T/badutf8.txt"
printf '\n\n   \n' >"$T/blank.txt"
for f in "$T/missing.txt" "$T" /dev/null "$T/garbage.bin" "$T/nul.txt" "$T/nonstring.txt" \
  "$T/emptyarray.txt" "$T/badutf8.txt" "$T/blank.txt"; do
  h -- genie batch "$f" --space "$SP"
done
h --stdin "$T/nul.txt" -- genie batch - --space "$SP"

# y LINE...: a conversations.yaml of these lines; prints its path.
y() { local f; f=$(mktemp "$T/conv.XXXXXX"); printf '%s\n' "$@" >"$f"; echo "$f"; }
CONV_FILES=(
  "$(y 'conversations: "not a list"')"
  "$(y 'conversations: [1, 2, 3]')"
  "$(y 'conversations:' '  - id: c1' '    messages: {a: 1}')"
  "$(y 'conversations:' '  - id: c1' '    messages: [1, 2]')"
  "$(y 'conversations:' '  - id: [c1]' '    messages:' '      - content: {x: 1}')"
  "$(y 'conversations:' '  - id: c1' '    messages:' '      - content: hi' '        timestamp: 1e400')"
  "$(y 'conversations:' '  - id: c1' '    messages:' '      - content: hi' '        timestamp: -1e400')"
  "$(y 'conversations:' '  - id: c1' '    messages:' '      - content: hi' '        timestamp: [1]')"
  "$(y 'conversations:' '  - id: c1' '    created_timestamp: nan' '    messages:' '      - content: hi' '        timestamp: .nan')"
  "$(y '- just' '- a list')"
  "$(y 'just a string')"
  "$(y 'conversations: []')"
  "$(y 'conversations:' '  - id: c1' '    messages: []')"
  "$(y 'a: &a ["x","x","x","x","x","x","x","x","x"]' 'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]' \
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]' 'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]' \
      'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]' 'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]' \
      'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]' 'h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]' \
      'conversations: *h')"
  "$(y 'conversations: &c' '  - id: c1' '    messages: *c')"
  "$(y 'conversations:' '	- id: tab')"
  "$(y 'conversations: [' )"
  "$(y "conversations: \"$(printf '\xff\xfe')\"")"
  "$T/garbage.bin" "$T/nul.txt" "$T/missing.yaml" "$T" /dev/null
)
for f in "${CONV_FILES[@]}"; do
  h -- loadtest genie --space-id "$SP" -c "$f" --users 1 --run-time 1s
done
{ head -c 10000 /dev/zero | tr '\0' '['; } >"$T/deep.yaml"
h -- loadtest genie --space-id "$SP" -c "$T/deep.yaml" --users 1 --run-time 1s
for f in "$T/missing.txt" "$T" /dev/null "$T/blank.txt" "$T/nul.txt"; do
  h -- loadtest genie --space-id "$SP" --questions 1 --duration 0 --questions-file "$f"
done
for f in "$T/missing.yaml" "$T" "$T/garbage.bin" "${CONV_FILES[0]}"; do
  h -- emulator --listen 127.0.0.1:0 --genie-config "$f"
done

# Exported histories (`workflow show ID -o json`) for `workflow replay --history`.
$S workflow show keep -o json >"$T/good_history.json"
# hj TEXT: a history file holding TEXT; prints its path (named after TEXT's start).
hj() { local f; f=$(mktemp "$T/hist-$(printf '%s' "$1" | head -c 40 | tr -c 'a-zA-Z0-9' _).XXXXXX"); printf '%s' "$1" >"$f"; echo "$f"; }
# hm JQ_FILTER: the good history changed by the filter, in a file named after the filter.
hm() { local f; f=$(mktemp "$T/hist-$(printf '%s' "$1" | tr -c 'a-zA-Z0-9' _).XXXXXX"); jq -c "$1" "$T/good_history.json" >"$f"; echo "$f"; }
GOOD=$(cat "$T/good_history.json")
HIST_FILES=(
  "$T/missing.json" "$T" /dev/null "$T/garbage.bin" "$T/nul.json" "$T/deep.json" "$T/deep_closed.json"
  "$T/badutf8.json"
  "$(hj '[]')" "$(hj '{}')" "$(hj '42')" "$(hj '[1,2,3]')" "$(hj '[{}]')" "$(hj '{"history":"x"}')"
  "$(hj "${GOOD:0:$((${#GOOD} / 2))}")"
  "$(hj '[{"event_id":1,"type":"WorkflowExecutionStarted","attributes":{"workflow_type":"nosuch","input":{}}}]')"
  "$(hj '[{"event_id":1,"type":"WorkflowExecutionStarted","attributes":{"workflow_type":42}}]')"
  "$(hj '[{"event_id":1,"type":"WorkflowExecutionStarted","attributes":"x"}]')"
  "$(hj '[{"event_id":"1","type":"WorkflowExecutionStarted","attributes":{"workflow_type":"noop_chain"}}]')"
  "$(hj '[{"event_id":1,"type":"NoSuchEvent","attributes":{}}]')"
  "$(hj '[{"event_id":1,"type":"ActivityTaskScheduled","attributes":{}}]')"
  "$(hm '.[0].event_id = 9223372036854775807')"
  "$(hm '.[1].event_id = 7')"
  "$(hm '.[0].event_id = -1')"
  "$(hm '.[0].attributes.workflow_type = "noop_chain\u0000x"')"
  "$(hm '.[1].attributes.seq = 99999999999')"
  "$(hm '.[1].type = null')"
  "$(hm '[.[0]] + [.[0]]')"
  "$(hm '.[2:] + .[:2]')"
  "$(hm 'map(select(.type != "ActivityTaskCompleted"))')"
  "$(hm '.[-1].attributes = 42')"
)
for f in "${HIST_FILES[@]}"; do
  h -- workflow replay --history "$f"
done
h --stdin "$T/garbage.bin" -- workflow replay --history -

# ---- --db paths: a directory, not SQLite, under a regular file, device, fifo, too long ----
mkdir -p "$T/dbdir"
head -c 8192 /dev/urandom >"$T/garbage.db"
printf 'SQLite format 3\0' >"$T/trunc.db"
head -c 4096 /dev/urandom >>"$T/trunc.db"
echo text >"$T/plain"
mkfifo "$T/fifo.db"
ln -s "$T/loop.db" "$T/loop.db"
for db in "$T/dbdir" "$T/garbage.db" "$T/trunc.db" "$T/plain/x.db" /dev/null "$T/fifo.db" \
  "$T/loop.db" "$T/$LONG.db" "$T/garbage.bin"; do
  h -- --db "$db" workflow list
  h -- --db "$db" workflow start --type noop_chain
  h -- --db "$db" worker --exit-when-idle
done
h SLUICE_DB="$T/garbage.db" -- schedule list
h SLUICE_DB="$T/dbdir" -- queue list

# ---- configuration from the environment ----
for v in NaN -1 abc 1e400 0; do
  h DATABRICKS_HTTP_TIMEOUT_SECONDS="$v" -- dbx warehouses
done
for v in notaurl "ftp://127.0.0.1/" "http://" "http://127.0.0.1:99999"; do
  h DATABRICKS_HOST="$v" -- dbx warehouses
done
h DATABRICKS_INSECURE_SKIP_VERIFY=maybe -- dbx warehouses
h DATABRICKS_CONFIG_FILE="$T/garbage.bin" DATABRICKS_HOST= -- dbx warehouses
h DATABRICKS_CONFIG_FILE="$T" DATABRICKS_HOST= -- dbx warehouses
for v in abc -1 0 99999999999999999999 1e400; do
  h MAX_QUEUE_SIZE="$v" -- genie batch "$SLUICE_SRC/tests/fixtures/loadtest/handwritten.yaml" --space "$SP"
done
for v in abc -5 NaN 99999999999999999999; do
  h GENIE_SAMPLE_SIZE="$v" -- loadtest genie --space-id "$SP" -c "$SLUICE_SRC/tests/fixtures/loadtest/handwritten.yaml" --users 1 --run-time 1s
done
for v in abc -5 inf; do
  h GENIE_MIN_WAIT="$v" -- loadtest genie --space-id "$SP" -c "$SLUICE_SRC/tests/fixtures/loadtest/handwritten.yaml" --users 1 --run-time 1s
done
# A token is never echoed, even when it is the bad input.
h -- genie spaces --token "$TOKEN"$'\n'x
h -- dbx warehouses --token "$TOKEN-wrong"
h -- dbx sql "select '$TOKEN" --warehouse "$WH" --token "$TOKEN"

emu_stop_all
"$S" workflow list >/dev/null || it_fail "the database does not open after the hostile run"
"$S" workflow describe keep >/dev/null || it_fail "the stored workflow is gone"

if [ ${#FAILED[@]} -gt 0 ]; then
  printf '%s\n' "${FAILED[@]}" >&2
  it_fail "${#FAILED[@]} of $N hostile inputs were not refused cleanly"
fi
echo "PASS ($N hostile inputs refused)"
