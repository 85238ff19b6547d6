#!/usr/bin/env bash
# timeout: 240
# it_emulator_pipeline.sh - the data path a sync workflow takes: UC DDL through SQL, a
# 100k-row CSV (quoted fields, embedded commas/quotes/newlines, blanks, duplicates)
# uploaded to a volume, bronze CTAS via read_files, silver CTAS with casts, NULLIF, TRIM and
# DISTINCT; row counts, DESCRIBE types and UC column types checked.
. "$SLUICE_SRC/tests/lib/common.sh"
. "$SLUICE_SRC/tests/fixtures/emulator/lib.sh"

emu_start emu --statement-latency 50ms

sql_ok "CREATE CATALOG IF NOT EXISTS catalog_tenant_acme"
sql_ok "CREATE SCHEMA IF NOT EXISTS catalog_tenant_acme.bronze"
sql_ok "CREATE SCHEMA IF NOT EXISTS \`catalog_tenant_acme\`.\`silver\`"
sql_ok "CREATE VOLUME IF NOT EXISTS catalog_tenant_acme.bronze.uploads"

# 100000 data rows; every 10th has an empty amount, every 1000th is a bad date, rows
# 99990..99999 repeat rows 0..9 exactly (so DISTINCT drops 10).
awk 'BEGIN {
  print "Order ID,Customer Name,Amount,Is Paid,Order Date"
  for (i = 0; i < 100000; i++) {
    k = i < 99990 ? i : i - 99990
    amount = (k % 10 == 3) ? "" : sprintf(" %d.%02d ", k % 500, k % 100)
    name = (k % 7 == 0) ? sprintf("\"Doe, \"\"J%d\"\"\"", k) : sprintf("Cust %d", k)
    if (k == 5) name = "\"two\nlines\""
    date = (k % 1000 == 999) ? "not-a-date" : sprintf("2024-%d-%d", 1 + k % 12, 1 + k % 28)
    printf "%d,%s,%s,%s,%s\n", k, name, amount, (k % 2 ? "yes" : "N"), date
  }
}' > "$T/orders.csv"

CODE=$(curl -sS -o "$T/body" -w '%{http_code}' -X PUT -H "$AUTH" -H 'Content-Type: application/octet-stream' \
  --data-binary "@$T/orders.csv" "$EMU_URL/api/2.0/fs/files/Volumes/catalog_tenant_acme/bronze/uploads/orders%20v1.csv?overwrite=true")
expect_code 204

start=$(date +%s%N)
sql_ok "CREATE OR REPLACE TABLE catalog_tenant_acme.bronze.orders AS SELECT * FROM read_files('/Volumes/catalog_tenant_acme/bronze/uploads/orders v1.csv', format => 'csv', header => true, inferColumnTypes => false)"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "bronze CTAS of 100000 rows: ${ms} ms"
it_expect_eq "bronze inserted" "$(jb '.result.data_array[0][1]')" 100000
sql_ok "SELECT count(*), count_if(Amount = ''), count(DISTINCT \`Order ID\`) FROM catalog_tenant_acme.bronze.orders"
it_expect_eq "bronze counts" "$(jb -c '.result.data_array[0]')" '["100000","10000","99990"]'
sql_ok "DESCRIBE TABLE catalog_tenant_acme.bronze.orders"
it_expect_eq "bronze types" "$(jb -c '[.result.data_array[] | .[1]] | unique')" '["string"]'
sql_ok "SELECT \`Customer Name\` FROM catalog_tenant_acme.bronze.orders WHERE \`Order ID\` = '5' LIMIT 1"
it_expect_eq "embedded newline" "$(jb '.result.data_array[0][0]')" "two
lines"
sql_ok "SELECT \`Customer Name\` FROM catalog_tenant_acme.bronze.orders WHERE \`Order ID\` = '7' LIMIT 1"
it_expect_eq "doubled quotes" "$(jb '.result.data_array[0][0]')" 'Doe, "J7"'

sql_ok "CREATE OR REPLACE TABLE catalog_tenant_acme.silver.orders AS SELECT DISTINCT CAST(\`Order ID\` AS BIGINT) AS order_id, TRIM(\`Customer Name\`) AS customer_name, try_cast(NULLIF(TRIM(\`Amount\`), '') AS DOUBLE) AS amount, try_cast(\`Is Paid\` AS BOOLEAN) AS is_paid, try_cast(\`Order Date\` AS DATE) AS order_date FROM catalog_tenant_acme.bronze.orders"
it_expect_eq "silver rows" "$(jb '.result.data_array[0][0]')" 99990
sql_ok "SELECT count(*), count(amount), count(order_date), count_if(is_paid), ROUND(SUM(amount), 2), MIN(order_date), MAX(order_date) FROM catalog_tenant_acme.silver.orders"
it_expect_eq "silver aggregates" "$(jb -c '.result.data_array[0][0:4]')" '["99990","89991","99891","49995"]'
it_expect_eq "date range" "$(jb -c '.result.data_array[0][5:7]')" '["2024-01-01","2024-12-28"]'
sql_ok "DESCRIBE catalog_tenant_acme.silver.orders"
it_expect_eq "silver DESCRIBE" "$(jb -c '[.result.data_array[] | .[0:2]]')" \
  '[["order_id","bigint"],["customer_name","string"],["amount","double"],["is_paid","boolean"],["order_date","date"]]'
req GET /api/2.1/unity-catalog/tables/catalog_tenant_acme.silver.orders
expect_code 200
it_expect_eq "UC types" "$(jb -c '[.columns[].type_name]')" '["LONG","STRING","DOUBLE","BOOLEAN","DATE"]'
sql_ok "SHOW TABLES IN catalog_tenant_acme.silver"
it_expect_eq "show tables" "$(jb -c '.result.data_array')" '[["silver","orders","false"]]'

# Strict CAST of a dirty column fails the whole statement (ANSI), creating nothing.
sql "CREATE TABLE catalog_tenant_acme.silver.bad AS SELECT CAST(\`Order Date\` AS DATE) AS d FROM catalog_tenant_acme.bronze.orders"
it_expect_eq "ANSI cast" "$(jb .status.state)/$(jb .status.sql_state)" FAILED/22018
req GET /api/2.1/unity-catalog/tables/catalog_tenant_acme.silver.bad/exists
it_expect_eq "no half table" "$(jb .table_exists)" false

# Re-running the same sync is idempotent (CREATE OR REPLACE).
sql_ok "CREATE OR REPLACE TABLE catalog_tenant_acme.bronze.orders AS SELECT * FROM read_files('/Volumes/catalog_tenant_acme/bronze/uploads/orders v1.csv', format => 'csv', header => true, inferColumnTypes => false)"
sql_ok "SELECT count(*) FROM catalog_tenant_acme.bronze.orders"
it_expect_eq "rerun count" "$(jb '.result.data_array[0][0]')" 100000
emu_stop_all
echo "it_emulator_pipeline: ok"
