#!/usr/bin/env bash
# timeout: 120
# it_dbx_emulator.sh - `sluice dbx ...` against the real emulator: `dbx sql` prints an
# exact table, parseable JSON and RFC 4180 CSV (every 2-row chunk read); a wrong token is
# one auth line (exit 1), missing host or credentials one configuration line; settings
# come from the environment, ~/.databrickscfg profiles, ./.env, and explicit
# --host/--token win over all of them; OAuth M2M from the environment; and with
# LOG_LEVEL=DEBUG, through failures, faults and retries, neither the PAT, the OAuth
# client secret nor an OAuth access token ever reaches stderr.
. "$SLUICE_SRC/tests/lib/common.sh"

# A clean configuration world: no inherited Databricks settings, no ~/.databrickscfg.
for v in $(env | grep -oE '^(DATABRICKS_[A-Z_]+|GENIE_SPACE_ID|MAX_RETRIES|INITIAL_BACKOFF|MAX_BACKOFF|BACKOFF_MULTIPLIER)='); do
  unset "${v%=}"
done
export HOME="$T/home"
mkdir -p "$HOME" "$T/work"
cd "$T/work"
unset LOG_LEVEL

# Secrets that no generic pattern (dapi..., dose..., JWT) would catch: only the client's
# knowledge of its own credentials can redact them.
TOK="it-sekrit-pat-7f3a91"
CID="it-service-principal"
CSECRET="it-sekrit-client-55c2e0"
EMU_TOKEN=$TOK
. "$SLUICE_SRC/tests/fixtures/emulator/lib.sh"
emu_start emu --token "$TOK" --client-id "$CID" --client-secret "$CSECRET" \
  --chunk-rows 2 --statement-latency 20ms
S="$SLUICE_BIN"
U="$EMU_URL"
DEAD=http://127.0.0.1:1 # nothing listens there

# ---- dbx sql: table, json, csv ----
out=$("$S" dbx sql --host "$U" --token "$TOK" "SELECT 1")
it_expect_eq "SELECT 1 table" "$out" "$(printf '1\n-\n1')"

Q="SELECT order_id, product_name, region, units, total_value FROM samples.sales.product_sales ORDER BY order_id LIMIT 5"
"$S" dbx sql --host "$U" --token "$TOK" "$Q" >"$T/table.out"
diff -u - "$T/table.out" <<'EOF' || it_fail "table output differs"
order_id  product_name     region  units  total_value
--------  ---------------  ------  -----  -----------
1001      Alpine Jacket    South   1      189.0
1002      Wool Socks       North   8      116.0
1003      Summit Backpack  West    3      297.0
1004      Water Filter     East    10     449.5
1005      Rain Shell       South   5      745.0
EOF

"$S" dbx sql --host "$U" --token "$TOK" -o json \
  --param note:STRING --param n=7:INT --param d=2024-02-29:DATE \
  "SELECT 1 AS one, :note AS note, :n + 1 AS n1, :d AS d, 'a,\"b\"' AS s" >"$T/one.json"
jq -e 'length == 1 and .[0] == {"one": 1, "note": null, "n1": 8, "d": "2024-02-29", "s": "a,\"b\""}' \
  "$T/one.json" >/dev/null || it_fail "sql -o json: $(cat "$T/one.json")"

"$S" dbx sql --host "$U" --token "$TOK" -o json "$(echo "$Q" | sed 's/LIMIT 5/LIMIT 11/')" >"$T/eleven.json"
jq -e 'length == 11 and (map(.order_id) == [range(1001; 1012)]) and (.[3].units == 10)' \
  "$T/eleven.json" >/dev/null || it_fail "11 rows over 2-row chunks: $(cat "$T/eleven.json")"

"$S" dbx sql --host "$U" --token "$TOK" -o csv \
  "SELECT order_id, product_name, NULL AS nothing, 'x, \"y\"' AS q FROM samples.sales.product_sales ORDER BY order_id LIMIT 3" >"$T/rows.csv"
python3 - "$T/rows.csv" <<'PY' || it_fail "sql -o csv: $(cat -A "$T/rows.csv")"
import csv, sys
raw = open(sys.argv[1], newline="").read()
assert raw.endswith("\r\n") and "\n" not in raw.replace("\r\n", ""), "CRLF line ends"
rows = list(csv.reader(open(sys.argv[1], newline="")))
assert rows[0] == ["order_id", "product_name", "nothing", "q"], rows[0]
assert len(rows) == 4, rows
assert rows[1] == ["1001", "Alpine Jacket", "", 'x, "y"'], rows[1]
assert [r[0] for r in rows[1:]] == ["1001", "1002", "1003"]
PY

# a failed statement: one line with its error_code and SQLSTATE (said once)
it_expect_fail 1 '^sluice: dbx sql: statement [0-9a-f-]+ failed: BAD_REQUEST: \[TABLE_OR_VIEW_NOT_FOUND\] .* \(SQLSTATE 42P01\)$' \
  "$S" dbx sql --host "$U" --token "$TOK" "SELECT * FROM main.default.nope"
[ "$(grep -o SQLSTATE "$T/expect_fail.err" | wc -l)" -eq 1 ] || it_fail "SQLSTATE repeated: $(cat "$T/expect_fail.err")"
# a warehouse that does not exist: its error_code, no retry
it_expect_fail 1 "^sluice: dbx sql: execute statement on warehouse 0000000000bad000: HTTP 400 INVALID_PARAMETER_VALUE: .*0000000000bad000" \
  "$S" dbx sql --host "$U" --token "$TOK" --warehouse 0000000000bad000 "SELECT 1"
grep -q 'attempts' "$T/expect_fail.err" && it_fail "a 400 was retried"

# ---- authentication and configuration errors: one line each ----
it_expect_fail 1 '^sluice: dbx sql: authentication failed \(HTTP 403 PERMISSION_DENIED\): Invalid access token\.$' \
  "$S" dbx sql --host "$U" --token wrong-token-1 "SELECT 1"
it_expect_fail 1 '^sluice: dbx sql: no host: ' "$S" dbx sql "SELECT 1"
it_expect_fail 1 '^sluice: dbx sql: no credentials: ' "$S" dbx sql --host "$U" "SELECT 1"
DATABRICKS_CLIENT_ID=$CID DATABRICKS_CLIENT_SECRET=wrong-secret it_expect_fail 1 \
  '^sluice: dbx sql: authentication failed.*invalid_client' "$S" dbx sql --host "$U" "SELECT 1"

# ---- configuration sources ----
# How many requests the emulator has seen: proves a command really reached it.
api_requests() { curl -sf "$U/_emulator/stats" | jq '[.requests | to_entries[] | select(.key | test(" /_emulator/") | not) | .value] | add'; }
# ok_sql [FLAGS...]: `dbx sql` must reach the emulator and print the right result.
ok_sql() { "$S" dbx sql "$@" -o csv "SELECT 42 AS x" >"$T/ok.out" 2>"$T/ok.err" || { cat "$T/ok.err" >&2; it_fail "failed: dbx sql $*"; }
  it_expect_eq "result of dbx sql $*" "$(tr -d '\r' <"$T/ok.out")" "$(printf 'x\n42')"; }
export MAX_RETRIES=0 # a wrong source fails at once instead of retrying

# environment
DATABRICKS_HOST=$U DATABRICKS_TOKEN=$TOK ok_sql
# host without a scheme gets https:// (so it cannot reach the plain-HTTP emulator)
DATABRICKS_HOST=${U#http://} DATABRICKS_TOKEN=$TOK it_expect_fail 1 'list warehouses: ' "$S" dbx sql "SELECT 1"

# ~/.databrickscfg: [DEFAULT] keys are inherited; a profile is chosen by flag or variable
cat >"$HOME/.databrickscfg" <<EOF
[DEFAULT]
host = $U
token = wrong-default-token

[emu]
token = $TOK

[dead]
host = $DEAD
token = $TOK
EOF
it_expect_fail 1 'authentication failed' "$S" dbx sql "SELECT 1" # DEFAULT's own token
ok_sql --profile emu
DATABRICKS_CONFIG_PROFILE=emu ok_sql
it_expect_fail 1 "unknown profile 'nope'" "$S" dbx sql --profile nope "SELECT 1"
# the environment beats the profile, per setting
DATABRICKS_TOKEN=$TOK ok_sql
DATABRICKS_HOST=$DEAD it_expect_fail 1 '127\.0\.0\.1:1|onnect' "$S" dbx sql --profile emu "SELECT 1"
DATABRICKS_CONFIG_FILE="$T/none.cfg" it_expect_fail 1 '^sluice: dbx sql: no host: ' "$S" dbx sql "SELECT 1"

# ./.env: read from the working directory, beats the profile, never beats the environment
printf '# local settings\nexport DATABRICKS_HOST="%s"\nDATABRICKS_TOKEN=%s # the emulator\n' "$U" "$TOK" >.env
ok_sql
ok_sql --profile dead # .env's host and token beat the profile's
DATABRICKS_TOKEN=wrong-env-token it_expect_fail 1 'authentication failed' "$S" dbx sql "SELECT 1"
(cd "$T" && it_expect_fail 1 'authentication failed' "$S" dbx sql "SELECT 1") # no .env there

# explicit --host/--token beat .env, the environment and the profile
printf 'DATABRICKS_HOST=%s\nDATABRICKS_TOKEN=wrong-dotenv-token\n' "$DEAD" >.env
before=$(api_requests)
DATABRICKS_HOST=$DEAD DATABRICKS_TOKEN=wrong-env-token ok_sql --profile dead --host "$U" --token "$TOK"
[ "$(api_requests)" -gt "$before" ] || it_fail "--host did not reach the emulator"
DATABRICKS_HOST=$U DATABRICKS_TOKEN=$TOK it_expect_fail 1 'authentication failed' \
  "$S" dbx sql --token wrong-flag-token "SELECT 1"
rm .env "$HOME/.databrickscfg"

# OAuth M2M from the environment: the token endpoint is used, once per command
tokens() { curl -sf "$U/_emulator/stats" | jq '.requests["POST /oidc/v1/token"] // 0'; }
t0=$(tokens)
DATABRICKS_HOST=$U DATABRICKS_CLIENT_ID=$CID DATABRICKS_CLIENT_SECRET=$CSECRET ok_sql
it_expect_eq "OAuth tokens fetched" "$(tokens)" $((t0 + 1))
# a token in the same place as the client pair wins
DATABRICKS_HOST=$U DATABRICKS_TOKEN=$TOK DATABRICKS_CLIENT_ID=$CID DATABRICKS_CLIENT_SECRET=wrong ok_sql
unset MAX_RETRIES

# ---- secrets never reach stderr, even at DEBUG, through failures and retries ----
export LOG_LEVEL=DEBUG
: >"$T/debug.err"
run_dbg() { "$@" >/dev/null 2>>"$T/debug.err" || true; }
run_dbg "$S" dbx sql --host "$U" --token "$TOK" "SELECT * FROM main.default.nope"
run_dbg "$S" dbx sql --host "$U" --token "$TOK" --warehouse nope "SELECT 1"
run_dbg "$S" dbx files get --host "$U" --token "$TOK" /Volumes/main/default/none/x.csv "$T/x.csv"
run_dbg "$S" dbx sql --host "$U" --token "$TOK-wrong" "SELECT 1"
MAX_RETRIES=1 INITIAL_BACKOFF=0.01 run_dbg "$S" dbx warehouses --host "$DEAD" --token "$TOK"
export DATABRICKS_HOST=$U DATABRICKS_CLIENT_ID=$CID
DATABRICKS_CLIENT_SECRET=$CSECRET run_dbg "$S" dbx sql "SELECT * FROM main.default.nope"
DATABRICKS_CLIENT_SECRET=$CSECRET-wrong run_dbg "$S" dbx sql "SELECT 1"
# through injected faults and their retries (which must all succeed)
curl -sf -X POST "$U/_emulator/faults?seed=3" -d '429=0.3,500=0.2,retry_after=0' -o /dev/null
for i in 1 2 3 4; do
  DATABRICKS_CLIENT_SECRET=$CSECRET MAX_RETRIES=20 INITIAL_BACKOFF=0.001 \
    "$S" dbx sql -o csv "SELECT $i AS i" >/dev/null 2>>"$T/debug.err" || it_fail "call $i failed under faults"
  MAX_RETRIES=20 INITIAL_BACKOFF=0.001 \
    "$S" dbx warehouses --token "$TOK" >/dev/null 2>>"$T/debug.err" || it_fail "warehouses $i failed under faults"
done
curl -sf -X POST "$U/_emulator/faults" -o /dev/null
unset DATABRICKS_HOST DATABRICKS_CLIENT_ID LOG_LEVEL
grep -q 'DEBUG dbx: GET /api/2.0/sql/warehouses' "$T/debug.err" || it_fail "no DEBUG request lines logged"
grep -q 'retry 1 of' "$T/debug.err" || it_fail "no retry was logged"
grep -q 'POST /oidc/v1/token: retry 1 of' "$T/debug.err" || it_fail "token retries not logged legibly"
grep -q 'invalid_client' "$T/debug.err" || it_fail "the rejected client was not reported"
for secret in "$TOK" "$CSECRET" emu-oauth-; do
  if grep -F -- "$secret" "$T/debug.err" >&2; then it_fail "secret '$secret' reached stderr"; fi
done
emu_stop_all
echo ok
