#!/usr/bin/env bash
# timeout: 240
# labels: tsan
# it_emulator_api.sh - every REST area of `sluice emulator` round-trips with the real shapes:
# auth (PAT, OAuth M2M incl. expiry, 401/403), warehouses, the statement life cycle
# (sync, async polling, chunks, cancel, on_wait_timeout=CANCEL, FAILED, bad requests),
# Unity Catalog via REST and SQL, MLflow, embeddings, control endpoints and unknown routes.
. "$SLUICE_SRC/tests/lib/common.sh"
. "$SLUICE_SRC/tests/fixtures/emulator/lib.sh"

emu_start emu --statement-latency 200ms --chunk-rows 10 --client-id sp-1 --client-secret s3cret \
  --token-ttl 1s

# --- auth
CODE=$(curl -s -o "$T/body" -w '%{http_code}' "$EMU_URL/api/2.0/sql/warehouses")
expect_error 401 UNAUTHENTICATED
CODE=$(curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' -H 'Authorization: Bearer nope' \
  "$EMU_URL/api/2.0/sql/warehouses")
expect_error 403 PERMISSION_DENIED
it_expect_eq "403 message" "$(jb .message)" "Invalid access token."
CODE=$(curl -s -o "$T/body" -w '%{http_code}' -u sp-1:wrong -d 'grant_type=client_credentials&scope=all-apis' \
  "$EMU_URL/oidc/v1/token")
it_expect_eq "bad client status" "$CODE" 401
it_expect_eq "oauth error" "$(jb .error)" invalid_client
CODE=$(curl -s -o "$T/body" -w '%{http_code}' -u sp-1:s3cret -d 'grant_type=client_credentials&scope=all-apis' \
  "$EMU_URL/oidc/v1/token")
expect_code 200
it_expect_eq "token_type" "$(jb .token_type)" Bearer
it_expect_eq "expires_in" "$(jb .expires_in)" 1
TOK=$(jb .access_token)
CODE=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $TOK" "$EMU_URL/api/2.0/sql/warehouses")
expect_code 200
oauth_expired() {
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOK" "$EMU_URL/api/2.0/sql/warehouses")" == 403 ]
}
it_wait_for 10 oauth_expired
curl -sf "$EMU_URL/oidc/.well-known/oauth-authorization-server" -o "$T/body"
[[ "$(jb .token_endpoint)" == */oidc/v1/token ]] || it_fail "discovery token_endpoint"
! grep -q s3cret "$T/emu.log" || it_fail "client secret leaked into the log"

# --- warehouses
req GET /api/2.0/sql/warehouses
expect_code 200
it_expect_eq "warehouse state" "$(jb '.warehouses[0].state')" RUNNING
WH=$(jb '.warehouses[0].id')
req GET "/api/2.0/sql/warehouses/$WH"
expect_code 200
it_expect_eq "warehouse id" "$(jb .id)" "$WH"
req GET /api/2.0/sql/warehouses/0000000000000000
expect_error 404 RESOURCE_DOES_NOT_EXIST

# --- statements: synchronous, typed manifest
sql_ok "SELECT 1 AS one, 'a' AS s, CAST('2024-1-5' AS DATE) AS d, 1.5 AS x, true AS b"
it_expect_eq "types" "$(jb '[.manifest.schema.columns[].type_name] | join(",")')" "INT,STRING,DATE,DOUBLE,BOOLEAN"
it_expect_eq "row" "$(jb -c '.result.data_array[0]')" '["1","a","2024-01-05","1.5","true"]'

# async: PENDING first, then polled to SUCCEEDED, 50 rows in 5 chunks of 10
req POST /api/2.0/sql/statements '{"warehouse_id":"emu0000000000001","statement":"SELECT order_id, product_name FROM samples.sales.product_sales ORDER BY order_id","wait_timeout":"0s"}'
expect_code 200
it_expect_eq "async state" "$(jb .status.state)" PENDING
SID=$(jb .statement_id)
done_state() { req GET "/api/2.0/sql/statements/$SID"; [ "$(jb .status.state)" == SUCCEEDED ]; }
it_wait_for 20 done_state
req GET "/api/2.0/sql/statements/$SID"
it_expect_eq "total rows" "$(jb .manifest.total_row_count)" 50
it_expect_eq "chunks" "$(jb .manifest.total_chunk_count)" 5
it_expect_eq "chunk0 rows" "$(jb '.result.data_array | length')" 10
rows=10; link=$(jb '.result.next_chunk_internal_link')
while [ "$link" != null ]; do
  req GET "$link"; expect_code 200
  rows=$((rows + $(jb '.data_array | length')))
  link=$(jb '.next_chunk_internal_link')
done
it_expect_eq "rows over chunks" "$rows" 50
req GET "/api/2.0/sql/statements/$SID/result/chunks/9"
expect_error 400 INVALID_PARAMETER_VALUE
req GET /api/2.0/sql/statements/nope
expect_error 404 RESOURCE_DOES_NOT_EXIST

# row_limit truncates
sql_ok "SELECT order_id FROM samples.sales.product_sales" '{"row_limit":3}'
it_expect_eq "row_limit rows" "$(jb .manifest.total_row_count)" 3
it_expect_eq "truncated" "$(jb .manifest.truncated)" true

# execution failures are HTTP 200 FAILED with sql_state
sql "SELECT nope FROM samples.sales.product_sales"
it_expect_eq "failed state" "$(jb .status.state)" FAILED
it_expect_eq "sql_state" "$(jb .status.sql_state)" 42703
[[ "$(jb .status.error.message)" == *UNRESOLVED_COLUMN* ]] || it_fail "error message"
sql "SELECT 1; DROP TABLE samples.sales.product_sales"
it_expect_eq "injection refused" "$(jb .status.state)" FAILED
sql_ok "SELECT count(*) FROM samples.sales.product_sales"
it_expect_eq "table intact" "$(jb '.result.data_array[0][0]')" 50
sql "MERGE INTO a USING b ON a.x = b.x WHEN MATCHED THEN DELETE"
[[ "$(jb .status.error.message)" == *MERGE* ]] || it_fail "unsupported names MERGE"

# bad requests
req POST /api/2.0/sql/statements '{"warehouse_id":"emu0000000000001","statement":"SELECT 1","wait_timeout":"3s"}'
expect_error 400 INVALID_PARAMETER_VALUE
req POST /api/2.0/sql/statements '{"warehouse_id":"abcdef1234567890","statement":"SELECT 1"}'
expect_error 400 INVALID_PARAMETER_VALUE
[[ "$(jb .message)" == *"does not exist"* ]] || it_fail "unknown warehouse message"
req POST /api/2.0/sql/statements '{"warehouse_id":"emu0000000000001","statement":"SELECT 1","disposition":"EXTERNAL_LINKS"}'
expect_error 501 NOT_IMPLEMENTED
req POST /api/2.0/sql/statements '{"warehouse_id":"emu0000000000001","statement":'
expect_error 400 MALFORMED_REQUEST
req POST /api/2.0/sql/statements '{"warehouse_id":"emu0000000000001"}'
expect_error 400 INVALID_PARAMETER_VALUE

# --- Unity Catalog via REST, seen by SQL, and the other way round
req POST /api/2.1/unity-catalog/catalogs '{"name":"Tenant_A","comment":"c"}'
expect_code 200
it_expect_eq "catalog lower-cased" "$(jb .name)" tenant_a
req POST /api/2.1/unity-catalog/catalogs '{"name":"tenant_a"}'
expect_error 409 CATALOG_ALREADY_EXISTS
req POST /api/2.1/unity-catalog/schemas '{"name":"bronze","catalog_name":"tenant_a"}'
expect_code 200
it_expect_eq "schema full_name" "$(jb .full_name)" tenant_a.bronze
req POST /api/2.1/unity-catalog/schemas '{"name":"x","catalog_name":"nope"}'
expect_error 404 CATALOG_DOES_NOT_EXIST
req POST /api/2.1/unity-catalog/volumes '{"name":"raw","catalog_name":"tenant_a","schema_name":"bronze","volume_type":"MANAGED"}'
expect_code 200
it_expect_eq "volume full_name" "$(jb .full_name)" tenant_a.bronze.raw
req POST /api/2.1/unity-catalog/volumes '{"name":"raw","catalog_name":"tenant_a","schema_name":"bronze","volume_type":"MANAGED"}'
expect_code 409
req GET /api/2.1/unity-catalog/volumes/tenant_a.bronze.raw
expect_code 200
req GET /api/2.1/unity-catalog/schemas/tenant_a.silver
expect_error 404 SCHEMA_DOES_NOT_EXIST
sql_ok "CREATE SCHEMA IF NOT EXISTS tenant_a.silver"
req GET /api/2.1/unity-catalog/schemas/tenant_a.silver
expect_code 200
sql_ok "CREATE TABLE tenant_a.silver.t AS SELECT CAST(order_id AS STRING) AS id, units FROM samples.sales.product_sales"
req GET /api/2.1/unity-catalog/tables/tenant_a.silver.t
expect_code 200
it_expect_eq "uc columns" "$(jb -c '[.columns[] | [.name, .type_name, .type_text]]')" '[["id","STRING","string"],["units","LONG","bigint"]]'
req GET /api/2.1/unity-catalog/tables/tenant_a.silver.t/exists
it_expect_eq "exists" "$(jb .table_exists)" true
req GET /api/2.1/unity-catalog/tables/tenant_a.silver.nope/exists
it_expect_eq "not exists" "$(jb .table_exists)" false
req GET /api/2.1/unity-catalog/tables/tenant_a.silver.nope
expect_error 404 TABLE_DOES_NOT_EXIST
req DELETE /api/2.1/unity-catalog/schemas/tenant_a.silver
expect_error 400 SCHEMA_NOT_EMPTY
req DELETE /api/2.1/unity-catalog/tables/tenant_a.silver.t
expect_code 200
sql "SELECT * FROM tenant_a.silver.t"
it_expect_eq "dropped via REST" "$(jb .status.error.message | grep -c TABLE_OR_VIEW_NOT_FOUND)" 1
req DELETE "/api/2.1/unity-catalog/catalogs/tenant_a"
expect_error 400 CATALOG_NOT_EMPTY
req DELETE "/api/2.1/unity-catalog/catalogs/tenant_a?force=true"
expect_code 200
req GET /api/2.1/unity-catalog/catalogs/tenant_a
expect_error 404 CATALOG_DOES_NOT_EXIST

# --- MLflow
req POST /api/2.0/mlflow/experiments/create '{"name":"/Users/me@x.com/exp1","tags":[{"key":"team","value":"data"}]}'
expect_code 200
EXP=$(jb .experiment_id)
req POST /api/2.0/mlflow/experiments/create '{"name":"/Users/me@x.com/exp1"}'
expect_error 400 RESOURCE_ALREADY_EXISTS
req POST /api/2.0/mlflow/experiments/create '{"name":"relative"}'
expect_error 400 INVALID_PARAMETER_VALUE
req GET "/api/2.0/mlflow/experiments/get-by-name?experiment_name=%2FUsers%2Fme%40x.com%2Fexp1"
expect_code 200
it_expect_eq "exp by name" "$(jb .experiment.experiment_id)" "$EXP"
req GET "/api/2.0/mlflow/experiments/get?experiment_id=$EXP"
it_expect_eq "exp tag" "$(jb '.experiment.tags[0].value')" data
req GET "/api/2.0/mlflow/experiments/get-by-name?experiment_name=nope"
expect_error 404 RESOURCE_DOES_NOT_EXIST
req POST /api/2.0/mlflow/runs/create "{\"experiment_id\":\"$EXP\",\"run_name\":\"r1\",\"start_time\":1700000000000,\"tags\":[{\"key\":\"mlflow.parentRunId\",\"value\":\"p\"}]}"
expect_code 200
RUN=$(jb .run.info.run_id)
req POST /api/2.0/mlflow/runs/log-metric "{\"run_id\":\"$RUN\",\"key\":\"rows\",\"value\":10,\"timestamp\":1,\"step\":0}"
expect_code 200
req POST /api/2.0/mlflow/runs/log-metric "{\"run_id\":\"$RUN\",\"key\":\"rows\",\"value\":20,\"timestamp\":2,\"step\":1}"
req POST /api/2.0/mlflow/runs/log-parameter "{\"run_id\":\"$RUN\",\"key\":\"table\",\"value\":\"t1\"}"
expect_code 200
req POST /api/2.0/mlflow/runs/log-parameter "{\"run_id\":\"$RUN\",\"key\":\"table\",\"value\":\"t1\"}"
expect_code 200
req POST /api/2.0/mlflow/runs/log-parameter "{\"run_id\":\"$RUN\",\"key\":\"table\",\"value\":\"t2\"}"
expect_error 400 INVALID_PARAMETER_VALUE
req POST /api/2.0/mlflow/runs/set-tag "{\"run_id\":\"$RUN\",\"key\":\"stage\",\"value\":\"bronze\"}"
expect_code 200
req POST /api/2.0/mlflow/runs/log-batch "{\"run_id\":\"$RUN\",\"metrics\":[{\"key\":\"secs\",\"value\":1.5,\"timestamp\":3,\"step\":0}],\"params\":[{\"key\":\"mode\",\"value\":\"full\"}],\"tags\":[{\"key\":\"stage\",\"value\":\"silver\"}]}"
expect_code 200
big=$(jq -nc --arg r "$RUN" '{run_id:$r, params:[range(101) | {key:("p\(.)"), value:"v"}]}')
req POST /api/2.0/mlflow/runs/log-batch "$big"
expect_error 400 INVALID_PARAMETER_VALUE
req POST /api/2.0/mlflow/runs/update "{\"run_id\":\"$RUN\",\"status\":\"FINISHED\",\"end_time\":1700000001000}"
expect_code 200
it_expect_eq "run status" "$(jb .run_info.status)" FINISHED
req GET "/api/2.0/mlflow/runs/get?run_id=$RUN"
it_expect_eq "latest metric" "$(jb '.run.data.metrics[] | select(.key=="rows") | .value')" 20
it_expect_eq "params" "$(jb -c '[.run.data.params[] | .key] | sort')" '["mode","table"]'
it_expect_eq "tag last wins" "$(jb '.run.data.tags[] | select(.key=="stage") | .value')" silver
req POST /api/2.0/mlflow/runs/search "{\"experiment_ids\":[\"$EXP\"],\"filter\":\"tags.stage = 'silver'\"}"
it_expect_eq "search" "$(jb '.runs | length')" 1
req GET "/api/2.0/mlflow/runs/get?run_id=nope"
expect_error 404 RESOURCE_DOES_NOT_EXIST

# --- embeddings
req POST /serving-endpoints/databricks-gte-large-en/invocations '{"input":["top products by sales","which products sell best"]}'
expect_code 200
it_expect_eq "embeddings" "$(jb '[.data[].embedding | length] | join(",")')" "1024,1024"
it_expect_eq "index" "$(jb '.data[1].index')" 1
req POST /serving-endpoints/databricks-bge-large-en/invocations '{"input":"hi"}'
expect_code 200
req POST /serving-endpoints/nope/invocations '{"input":"hi"}'
expect_error 404 RESOURCE_DOES_NOT_EXIST

# --- unknown routes, control endpoints
req GET /api/2.0/nope
expect_error 404 ENDPOINT_NOT_FOUND
curl -sf "$EMU_URL/_emulator/stats" -o "$T/body"
[ "$(jb '.requests["GET /api/2.0/sql/warehouses"]')" -ge 3 ] || it_fail "request counter"
[ "$(jb '.responses["403"]')" -ge 2 ] || it_fail "status counter"
[ "$(jb '[.statements[].statement] | map(select(. == "SELECT count(*) FROM samples.sales.product_sales")) | length')" -ge 1 ] || it_fail "statement log"
curl -sf -X POST "$EMU_URL/_emulator/reset-stats" -o /dev/null
curl -sf "$EMU_URL/_emulator/stats" -o "$T/body"
it_expect_eq "reset" "$(jb .requests_total)" 1
emu_stop_all
echo "it_emulator_api: ok"
