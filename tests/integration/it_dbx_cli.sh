#!/usr/bin/env bash
# timeout: 120
# it_dbx_cli.sh - `sluice dbx ...` end to end: usage errors exit 2 with one line,
# configuration and connection failures exit 1 with one line, and (when python3 is
# available) a stub workspace on 127.0.0.1 port 0 drives a wrong token (one auth line),
# warehouses, sql in table/json/csv with parameters, files put/get/ls, and
# configuration from --profile and ./.env. The real emulator comes in a later issue.
. "$SLUICE_SRC/tests/lib/common.sh"

# A clean configuration world: no inherited Databricks settings, no ~/.databrickscfg.
for v in $(env | grep -oE '^(DATABRICKS_[A-Z_]+|GENIE_SPACE_ID|MAX_RETRIES|INITIAL_BACKOFF|MAX_BACKOFF|BACKOFF_MULTIPLIER)='); do
  unset "${v%=}"
done
export HOME="$T/home"
mkdir -p "$HOME" "$T/work"
cd "$T/work"
unset LOG_LEVEL

S="$SLUICE_BIN"

# ---- usage errors: exit 2, one line ----
it_expect_fail 2 '^sluice: dbx sql: missing STATEMENT' "$S" dbx sql
it_expect_fail 2 "unknown output format 'xml'" "$S" dbx sql -o xml "SELECT 1"
it_expect_fail 2 "--param wants name=value" "$S" dbx sql --param "bad name=1" "SELECT 1"
it_expect_fail 2 "unexpected argument" "$S" dbx sql SELECT 1
it_expect_fail 2 "unknown option" "$S" dbx warehouses --bogus
it_expect_fail 2 "files put wants LOCAL and REMOTE" "$S" dbx files put only-one --host h --token t
it_expect_fail 2 "unknown files sub-command 'cp'" "$S" dbx files cp a b
it_expect_fail 2 "missing sub-command" "$S" dbx
it_expect_fail 2 "--overwrite only applies to files put" "$S" dbx files get --overwrite a b

# ---- configuration errors: exit 1, one line ----
it_expect_fail 1 '^sluice: dbx warehouses: no host: ' "$S" dbx warehouses
it_expect_fail 1 'no credentials' "$S" dbx warehouses --host example.com
it_expect_fail 1 "unknown profile 'nope'" "$S" dbx warehouses --profile nope
MAX_RETRIES=x it_expect_fail 1 "bad MAX_RETRIES 'x'" "$S" dbx warehouses --host h --token t

# ---- connection refused: retried, then one line ----
MAX_RETRIES=1 INITIAL_BACKOFF=0.01 it_expect_fail 1 \
  '^sluice: dbx warehouses: list warehouses: .*(onnect|refused).*\(after 2 attempts\)$' \
  "$S" dbx warehouses --host http://127.0.0.1:1 --token dapi0123456789abcdef0123456789abcdef
grep -q dapi0123456789abcdef "$T/expect_fail.err" && it_fail "token leaked into the error line"

if ! command -v python3 >/dev/null 2>&1; then
  echo "SKIP: python3 not found; stub-server cases not run"
  exit 0
fi

# ---- a stub workspace ----
cat >"$T/stub.py" <<'PY'
import json, sys, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FILES = {}
GOOD = "Bearer good-token-123"

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def reply(self, status, obj=None, raw=None, ctype="application/json"):
        body = raw if raw is not None else (json.dumps(obj).encode() if obj is not None else b"")
        self.send_response(status)
        if body:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""
    def authed(self):
        if self.headers.get("Authorization") != GOOD:
            self.body()
            self.reply(403, {"error_code": "PERMISSION_DENIED", "message": "Invalid access token."})
            return False
        return True
    def route(self):
        if not self.authed():
            return
        u = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(u.path)
        q = urllib.parse.parse_qs(u.query)
        if path == "/api/2.0/sql/warehouses" and self.command == "GET":
            return self.reply(200, {"warehouses": [
                {"id": "w1", "name": "Starter", "state": "STOPPED", "cluster_size": "2X-Small"},
                {"id": "w2", "name": "Main \u65e5\u672c", "state": "RUNNING", "cluster_size": "Small"}]})
        if path == "/api/2.0/sql/statements" and self.command == "POST":
            req = json.loads(self.body())
            cols = [{"name": "id", "type_name": "LONG", "position": 0},
                    {"name": "name", "type_name": "STRING", "position": 1}]
            rows = [["1", "a,b"], ["2", None]]
            if req.get("parameters"):
                cols = [{"name": "param", "type_name": "STRING", "position": 0},
                        {"name": "value", "type_name": "STRING", "position": 1},
                        {"name": "type", "type_name": "STRING", "position": 2}]
                rows = [[p["name"], p.get("value"), p.get("type", "")] for p in req["parameters"]]
            if req["statement"].startswith("SELECT bad"):
                return self.reply(200, {"statement_id": "s-bad", "status": {"state": "FAILED",
                    "sql_state": "42P01", "error": {"error_code": "BAD_REQUEST",
                    "message": "[TABLE_OR_VIEW_NOT_FOUND] no table"}}})
            return self.reply(200, {"statement_id": "s1", "status": {"state": "SUCCEEDED"},
                "manifest": {"schema": {"column_count": len(cols), "columns": cols},
                             "total_chunk_count": 1, "truncated": False},
                "result": {"chunk_index": 0, "data_array": rows,
                           "wh": req["warehouse_id"]}})
        if path.startswith("/api/2.0/fs/files/"):
            p = path[len("/api/2.0/fs/files"):]
            if self.command == "PUT":
                data = self.body()
                if p in FILES and q.get("overwrite") == ["false"]:
                    return self.reply(409, {"error_code": "ALREADY_EXISTS", "message": "file exists"})
                FILES[p] = data
                return self.reply(204)
            if p not in FILES:
                return self.reply(404, {"error_code": "NOT_FOUND", "message": "The file does not exist"})
            if self.command in ("GET", "HEAD"):
                return self.reply(200, raw=FILES[p], ctype="application/octet-stream")
        if path.startswith("/api/2.0/fs/directories/") and self.command == "GET":
            d = path[len("/api/2.0/fs/directories"):].rstrip("/") + "/"
            entries = [{"path": k, "name": k[len(d):], "is_directory": False,
                        "file_size": len(v), "last_modified": 1700000000000}
                       for k, v in sorted(FILES.items()) if k.startswith(d)]
            return self.reply(200, {"contents": entries})
        self.reply(404, {"error_code": "NOT_FOUND", "message": "no route " + path})
    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = route

srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
print("listening on %d" % srv.server_address[1], flush=True)
srv.serve_forever()
PY
it_start_bg stub python3 "$T/stub.py"
PORT=$(it_wait_line "$T/stub.log" '^listening on [0-9]+' 20 | awk '{print $3}')
URL="http://127.0.0.1:$PORT"
GOOD=good-token-123

# wrong token: exactly one auth line, exit 1, no retries needed
it_expect_fail 1 '^sluice: dbx sql: authentication failed \(HTTP 403 PERMISSION_DENIED\): Invalid access token\.$' \
  "$S" dbx sql --host "$URL" --token wrong-token --warehouse w2 "SELECT 1"

# warehouses
out=$("$S" dbx warehouses --host "$URL" --token "$GOOD")
it_expect_eq "warehouses header" "$(echo "$out" | head -1)" "id  name       state    size"
echo "$out" | grep -q '^w2  Main 日本  RUNNING  Small$' || it_fail "warehouse row misaligned: $out"
"$S" dbx warehouses --host "$URL" --token "$GOOD" -o json | jq -e '.[1].id == "w2"' >/dev/null \
  || it_fail "warehouses -o json"

# sql: table, json, csv; the warehouse is chosen (first RUNNING) when not given
out=$("$S" dbx sql --host "$URL" --token "$GOOD" "SELECT id, name FROM t")
it_expect_eq "sql table" "$out" "$(printf 'id  name\n--  ----\n1   a,b\n2   NULL')"
out=$("$S" dbx sql --host "$URL" --token "$GOOD" -o json "SELECT id, name FROM t")
echo "$out" | jq -e '.[0].id == 1 and .[0].name == "a,b" and .[1].name == null' >/dev/null \
  || it_fail "sql -o json: $out"
out=$("$S" dbx sql --host "$URL" --token "$GOOD" -o csv "SELECT id, name FROM t")
it_expect_eq "sql csv" "$out" "$(printf 'id,name\r\n1,"a,b"\r\n2,\r')"
out=$("$S" dbx sql --host "$URL" --token "$GOOD" -o csv --warehouse w1 \
  --param d=2024-01-01:DATE --param t=10:00:00 --param n:INT --param s=x "SELECT :d")
it_expect_eq "sql params" "$out" "$(printf 'param,value,type\r\nd,2024-01-01,DATE\r\nt,10:00:00,\r\nn,,INT\r\ns,x,\r')"
it_expect_fail 1 '^sluice: dbx sql: statement s-bad failed: BAD_REQUEST: \[TABLE_OR_VIEW_NOT_FOUND\] no table \(SQLSTATE 42P01\)$' \
  "$S" dbx sql --host "$URL" --token "$GOOD" --warehouse w2 "SELECT bad"
echo "SELECT 1" | "$S" dbx sql --host "$URL" --token "$GOOD" --warehouse w2 - >/dev/null \
  || it_fail "statement from stdin"

# files: put, refuse to overwrite, get back, ls
printf 'a,b\n1,2\n' >"$T/in.csv"
"$S" dbx files put "$T/in.csv" "/Volumes/main/default/vol/dir/in file.csv" --host "$URL" --token "$GOOD" >/dev/null
it_expect_fail 1 '^sluice: dbx files: upload /Volumes/main/default/vol/dir/in file.csv: HTTP 409 ALREADY_EXISTS: file exists$' \
  "$S" dbx files put "$T/in.csv" "/Volumes/main/default/vol/dir/in file.csv" --host "$URL" --token "$GOOD"
"$S" dbx files put "$T/in.csv" "/Volumes/main/default/vol/dir/in file.csv" --overwrite --host "$URL" --token "$GOOD" >/dev/null
"$S" dbx files get "/Volumes/main/default/vol/dir/in file.csv" "$T/out.csv" --host "$URL" --token "$GOOD" >/dev/null
cmp -s "$T/in.csv" "$T/out.csv" || it_fail "downloaded file differs"
it_expect_fail 1 'download /Volumes/main/default/vol/nope.csv: HTTP 404 NOT_FOUND' \
  "$S" dbx files get /Volumes/main/default/vol/nope.csv "$T/nope.csv" --host "$URL" --token "$GOOD"
[ ! -e "$T/nope.csv" ] || it_fail "failed download left a file"
out=$("$S" dbx files ls /Volumes/main/default/vol/dir --host "$URL" --token "$GOOD")
echo "$out" | grep -qE '^in file\.csv +file +8 +2023-11-14T22:13:20\.000Z$' || it_fail "files ls: $out"
out=$("$S" dbx files stat "/Volumes/main/default/vol/dir/in file.csv" --host "$URL" --token "$GOOD")
echo "$out" | grep -q '^size: 8$' || it_fail "files stat: $out"

# configuration from a profile and from ./.env (which never overrides the environment)
cat >"$HOME/.databrickscfg" <<EOF
[DEFAULT]
host = http://127.0.0.1:1

[stub]
host = $URL
token = $GOOD
EOF
"$S" dbx warehouses --profile stub >/dev/null || it_fail "--profile stub"
DATABRICKS_CONFIG_PROFILE=stub "$S" dbx warehouses >/dev/null || it_fail "DATABRICKS_CONFIG_PROFILE"
rm "$HOME/.databrickscfg"
printf 'export DATABRICKS_HOST="%s"\nDATABRICKS_TOKEN=%s # the stub\n' "$URL" "$GOOD" >.env
"$S" dbx warehouses >/dev/null || it_fail ".env not read"
DATABRICKS_TOKEN=wrong-token it_expect_fail 1 'authentication failed' "$S" dbx warehouses
echo "ok"
