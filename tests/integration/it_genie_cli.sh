#!/usr/bin/env bash
# timeout: 120
# it_genie_cli.sh - `sluice genie ...` against the emulator (127.0.0.1 port 0, 200 ms Genie
# latency): spaces; ask picks the first space and says so, prints the text, description,
# SQL, an aligned table (checked against the same SQL through `sluice dbx sql`) and the
# conversation line; --conversation continues the conversation (emulator stats and message
# list); -o json parses with jq and -o csv with python's csv module; --max-width cuts cells;
# an expired result is re-executed; a 429 is waited out per Retry-After; a question Genie
# fails on, a timeout, a bad space, a bad token and usage errors each end with one line.
. "$SLUICE_SRC/tests/lib/common.sh"
. "$SLUICE_SRC/tests/fixtures/emulator/lib.sh"

# A clean configuration world: nothing inherited, no ~/.databrickscfg, no ./.env.
for v in $(env | grep -oE '^(DATABRICKS_[A-Z_]+|GENIE_[A-Z_]+|MAX_RETRIES|INITIAL_BACKOFF|MAX_BACKOFF|BACKOFF_MULTIPLIER|MAX_QUEUE_SIZE)='); do
  unset "${v%=}"
done
export HOME="$T/home"
mkdir -p "$HOME" "$T/work"
cd "$T/work"

emu_start emu --genie-latency 200ms --genie-rate 0
unset LOG_LEVEL # the CLI then logs warnings only: stderr holds just its own lines
export DATABRICKS_HOST="$EMU_URL" DATABRICKS_TOKEN=dapi-emulator
export GENIE_POLL_INTERVAL=50ms GENIE_POLL_MAX_INTERVAL=200ms
S="$SLUICE_BIN"
SP=5a1e5000000000000000000000000001
Q="Which products generate the highest total sales value?"

# ---- usage errors: exit 2, one line ----
it_expect_fail 2 '^sluice: genie ask: missing QUESTION' "$S" genie ask
it_expect_fail 2 "unknown output format 'xml'" "$S" genie ask -o xml "$Q"
it_expect_fail 2 'unexpected argument .* \(quote the question\)' "$S" genie ask Which products
it_expect_fail 2 '--max-width must be an integer between 0 and' "$S" genie ask --max-width -1 "$Q"
it_expect_fail 2 '--timeout' "$S" genie ask --timeout soon "$Q"
it_expect_fail 2 "unknown sub-command 'tell'" "$S" genie tell "$Q"
it_expect_fail 2 '--conversation must be new or continue' "$S" genie batch --conversation maybe x.txt

# ---- spaces ----
"$S" genie spaces >spaces.txt
grep -q "^$SP  Product sales (demo)  emu0000000000001  Demo space" spaces.txt || it_fail "spaces: $(cat spaces.txt)"
it_expect_eq "spaces json" "$("$S" genie spaces -o json | jq -r '.[0].space_id')" "$SP"

# ---- ask: no space configured, so the first visible one is used and named on stderr ----
"$S" genie ask "$Q" >ask.out 2>ask.err
grep -q "GENIE_SPACE_ID not set; used Genie space $SP (Product sales (demo))" ask.err || it_fail "no space note: $(cat ask.err)"
grep -qx 'These products generate the highest total sales value.' ask.out || it_fail "text: $(cat ask.out)"
grep -qx 'Description: Products ranked by the sum of total_value.' ask.out || it_fail "description"
SQL=$(sed -n 's/^SQL: //p' ask.out)
[[ "$SQL" == SELECT* ]] || it_fail "no SQL line: $(cat ask.out)"
grep -qx '(5 rows)' ask.out || it_fail "row count line"
C=$(sed -n 's/^conversation: //p' ask.out)
[[ "$C" =~ ^[0-9a-f]{32}$ ]] || it_fail "conversation line: $(tail -n 2 ask.out)"
it_expect_eq "conversation is the last line" "$(tail -n 1 ask.out)" "conversation: $C"

# the rows equal the same SQL run directly, and the table is aligned: text left, numbers right
"$S" dbx sql -o csv "$SQL" >direct.csv
"$S" genie ask --space "$SP" -o csv "$Q" >genie.csv 2>genie_csv.err
cmp -s direct.csv genie.csv || { diff direct.csv genie.csv >&2; it_fail "genie rows differ from dbx sql"; }
grep -qE '^conversation: [0-9a-f]{32}$' genie_csv.err || it_fail "csv: conversation line on stderr"
awk '/^product_name/ {f = 1} f && /^\(/ {exit} f' ask.out >table.txt
python3 - direct.csv table.txt <<'PY' || it_fail "table layout: $(cat table.txt)"
import csv, re, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
head, body = rows[0], rows[1:]
num = re.compile(r'^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$')
numeric = [all(num.match(r[c]) for r in body) for c in range(len(head))]
width = [max(len(x) for x in [head[c]] + [r[c] for r in body]) for c in range(len(head))]
def line(cells):
    out = [cells[c].rjust(width[c]) if numeric[c] else cells[c].ljust(width[c]) for c in range(len(cells))]
    return "  ".join(out).rstrip()
want = [line(head), "  ".join("-" * w for w in width)] + [line(r) for r in body]
got = open(sys.argv[2]).read().splitlines()
assert numeric == [False, True], numeric
assert got == want, "\n".join(["got:"] + got + ["want:"] + want)
PY
python3 - genie.csv <<'PY' || it_fail "csv does not parse"
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
assert rows[0] == ["product_name", "total_sales_value"], rows[0]
assert len(rows) == 6 and rows[1][0] == "Rain Shell", rows
PY

# ---- follow-up in the same conversation ----
"$S" genie ask --space "$SP" --conversation "$C" "Show sales by region" >fu.out
it_expect_eq "follow-up conversation" "$(tail -n 1 fu.out)" "conversation: $C"
grep -q '^region ' fu.out || it_fail "follow-up table: $(cat fu.out)"
curl -sf "$EMU_URL/_emulator/stats" -o stats.json
it_expect_eq "questions in the conversation" \
  "$(jq -c --arg c "$C" '[.genie_questions[] | select(.conversation_id == $c) | .content]' stats.json)" \
  "[\"$Q\",\"Show sales by region\"]"
req GET "/api/2.0/genie/spaces/$SP/conversations/$C/messages"
it_expect_eq "messages listed" "$(jb '.messages | length')" 2

# ---- -o json: one object ----
"$S" genie ask --space "$SP" --conversation "$C" -o json "units by product" >ans.json
jq -e --arg c "$C" '.conversation_id == $c and .status == "COMPLETED" and (.message_id | test("^[0-9a-f]{32}$"))
  and (.sql | test("SUM\\(units\\)")) and .description == "Sum of units per product."
  and (.text | length > 0) and .columns[0].name == "product_name" and .columns[1].type_name == "LONG"
  and (.rows | length) == .row_count and .row_count > 0 and (.rows[0].units_sold | type) == "number"
  and .truncated == false' ans.json >/dev/null || it_fail "json answer: $(cat ans.json)"

# ---- a text-only answer; --max-width; an expired result ----
"$S" genie ask --space "$SP" "What is the weather like?" >text.out
grep -q '^I can answer questions about' text.out || it_fail "text answer: $(cat text.out)"
grep -q '^SQL:' text.out && it_fail "text answer has SQL"
"$S" genie ask --space "$SP" --max-width 8 "$Q" >narrow.out
grep -qE '^product…  total_s…$' narrow.out || it_fail "narrow header: $(cat narrow.out)"
grep -q '^Summit …' narrow.out || it_fail "narrow cell: $(cat narrow.out)"
"$S" genie ask --space "$SP" -o json "show me an expired result" >expired.json
jq -e '.status == "COMPLETED" and .reexecuted == true and (.rows | length) == 5' expired.json >/dev/null ||
  it_fail "expired result: $(cat expired.json)"

# ---- conversations ----
"$S" genie conversations --space "$SP" >convs.txt
grep -q "^$C  " convs.txt || it_fail "conversations: $(cat convs.txt)"
"$S" genie conversations --all-users -o json | jq -e --arg c "$C" 'map(.conversation_id) | index($c) != null' >/dev/null ||
  it_fail "conversations json"

# ---- a 429 is waited out per Retry-After by the transport ----
curl -sf -X POST "$EMU_URL/_emulator/genie-rate" -d '1/s' -o /dev/null
req POST "/api/2.0/genie/spaces/$SP/start-conversation" '{"content":"take the only slot"}'
expect_code 200
"$S" genie ask --space "$SP" -o json "how many orders are there?" | jq -e '.rows == [{"orders": 50}]' >/dev/null ||
  it_fail "answer after a 429"
curl -sf "$EMU_URL/_emulator/stats" -o stats.json
[ "$(jq .throttled_429 stats.json)" -ge 1 ] || it_fail "no 429 was served"
curl -sf -X POST "$EMU_URL/_emulator/genie-rate" -d '0' -o /dev/null

# ---- failures: one line each, exit 1 ----
it_expect_fail 1 '^sluice: genie ask: Genie failed: Genie failed to generate a query for this question\. \(GENERIC_CHAT_COMPLETION_EXCEPTION\)$' \
  "$S" genie ask --space "$SP" "please force a failure"
it_expect_fail 1 '^sluice: genie ask: no answer from Genie within 100ms \(message [0-9a-f]{32} still [A-Z_]+ after [0-9]+ polls?; conversation [0-9a-f]{32}\)$' \
  "$S" genie ask --space "$SP" --timeout 100ms "Show sales by region"
it_expect_fail 1 '^sluice: genie ask: start Genie conversation in space 0000000000000000000000000000dead: HTTP 404 RESOURCE_DOES_NOT_EXIST' \
  "$S" genie ask --space 0000000000000000000000000000dead "$Q"
it_expect_fail 1 '^sluice: genie ask: send Genie message to conversation 0+dead: HTTP 404' \
  "$S" genie ask --space "$SP" --conversation 0000000000000000000000000000dead "$Q"
it_expect_fail 1 '^sluice: genie ask: authentication failed \(HTTP 403' \
  "$S" genie ask --space "$SP" --token dapi-wrong "$Q"
GENIE_POLL_INTERVAL=soon it_expect_fail 1 "bad GENIE_POLL_INTERVAL 'soon'" "$S" genie ask --space "$SP" "$Q"
emu_stop_all
echo "it_genie_cli: ok"
