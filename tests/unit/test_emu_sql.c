/* test_emu_sql.c - the Databricks SQL subset on a real state database: SELECT forms,
 * aggregates, every SQL function (in any case, with its result type, and the wording of
 * unknown-function and arity errors), parameters, DDL, SHOW/DESCRIBE, read_files (CSV and
 * JSON Lines), CTAS with casts, JOINs (inner, outer, cross; ambiguity refused), UPDATE and
 * DELETE, INSERT (VALUES and SELECT, column lists, store-assignment casts, arity and unknown
 * columns refused without a partial write), Databricks printing, and refusal of
 * multi-statement injection and unsupported SQL. */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "emulator_int.h"

typedef struct fx {
    char dir[64];
    emu_store *st;
    emu_sql_ctx ctx;
    emu_result res;
    emu_err err;
} fx;

static int setup(void **state)
{
    fx *f = sl_xcalloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_emu_sql.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char *db = sl_xasprintf("%s/emulator.db", f->dir);
    char eb[256];
    f->st = sl__emu_store_open(db, eb, sizeof(eb));
    free(db);
    assert_non_null(f->st);
    emu_err e = {0};
    sqlite3 *c = sl__emu_db_acquire(f->st);
    assert_true(sl__emu_uc_catalog_create(c, "main", NULL, true, &e));
    sl__emu_db_release(f->st, c);
    assert_true(sl__emu_seed_samples(f->st, &e));
    f->ctx.store = f->st;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    sl__emu_result_free(&f->res);
    sl__emu_store_close(f->st);
    sl__rmtree(f->dir);
    free(f);
    return 0;
}

static bool run(fx *f, const char *sql)
{
    sl__emu_result_free(&f->res);
    bool ok = sl__emu_sql_run(&f->ctx, sql, &f->res, &f->err);
    if (!ok)
        print_message("  [%s] %s\n", f->err.cls, f->err.msg);
    return ok;
}

static const char *cell(fx *f, size_t r, int c)
{
    assert_true(r < f->res.n_rows && c < f->res.n_cols);
    return f->res.cells[r * (size_t)f->res.n_cols + (size_t)c];
}

static void write_volume_file(fx *f, const char *rel, const char *text)
{
    char *p = sl_xasprintf("%s/volumes/main/default/raw/%s", f->dir, rel);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    free(p);
}

static void select_literals_have_databricks_types(void **state)
{
    fx *f = *state;
    assert_true(run(f, "SELECT 1, 'it''s', 2.5, true, NULL, 1 = 1 AS eq, 10 / 4"));
    assert_int_equal(f->res.n_cols, 7);
    assert_string_equal(f->res.cols[0].name, "1");
    assert_int_equal(f->res.cols[0].type, EMU_T_INT);
    assert_string_equal(cell(f, 0, 1), "it's");
    assert_string_equal(cell(f, 0, 2), "2.5");
    assert_string_equal(cell(f, 0, 3), "true");
    assert_null(cell(f, 0, 4));
    assert_string_equal(f->res.cols[5].name, "eq");
    assert_string_equal(cell(f, 0, 5), "true");
    assert_string_equal(cell(f, 0, 6), "2.5");
}

static void aggregates_group_having_order_limit(void **state)
{
    fx *f = *state;
    assert_true(run(f, "SELECT region, COUNT(*), COUNT(units) AS n, count_if(units > 6) AS big, "
                       "SUM(units) AS u, ROUND(AVG(total_value), 2) AS avg_v, MIN(order_date) AS "
                       "first, MAX(total_value) AS mx FROM samples.sales.product_sales "
                       "WHERE region <> 'Nowhere' AND NOT (units IS NULL) GROUP BY region "
                       "HAVING COUNT(*) > 1 ORDER BY u DESC, region LIMIT 3"));
    assert_int_equal(f->res.n_rows, 3);
    assert_string_equal(f->res.cols[1].name, "count(1)");
    assert_int_equal(f->res.cols[1].type, EMU_T_BIGINT);
    assert_int_equal(f->res.cols[4].type, EMU_T_BIGINT);
    assert_int_equal(f->res.cols[5].type, EMU_T_DOUBLE);
    assert_int_equal(f->res.cols[6].type, EMU_T_DATE);
    long total = 0;
    assert_true(run(f, "SELECT count(*) FROM samples.sales.product_sales WHERE units IS NOT NULL "
                       "OR region = 'x'"));
    total = strtol(cell(f, 0, 0), NULL, 10);
    assert_int_equal(total, 50);
    assert_true(run(f, "SELECT SUM(units), ROUND(AVG(total_value), 2) FROM "
                       "samples.sales.product_sales"));
    assert_string_equal(f->res.cols[0].name, "sum(units)");
    assert_string_equal(f->res.cols[1].name, "round(avg(total_value), 2)");
}

static void backticks_and_two_part_names_resolve(void **state)
{
    fx *f = *state;
    f->ctx.catalog = "samples";
    f->ctx.schema = "sales";
    assert_true(run(f, "SELECT `product_name` AS `Product Name`, t.units FROM `sales`.`product_sales` t "
                       "ORDER BY `Product Name` LIMIT 1"));
    assert_string_equal(f->res.cols[0].name, "Product Name");
    assert_true(run(f, "SELECT count(*) FROM product_sales"));
    assert_string_equal(cell(f, 0, 0), "50");
    f->ctx.catalog = f->ctx.schema = NULL;
    assert_false(run(f, "SELECT nope FROM samples.sales.product_sales"));
    assert_string_equal(f->err.cls, "UNRESOLVED_COLUMN.WITH_SUGGESTION");
    assert_false(run(f, "SELECT * FROM samples.sales.missing"));
    assert_string_equal(f->err.cls, "TABLE_OR_VIEW_NOT_FOUND");
}

static void named_parameters_are_typed_and_bound(void **state)
{
    fx *f = *state;
    json_t *params = json_pack("[{s:s, s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s}]", "name", "min",
                               "value", "10", "type", "INT", "name", "region", "value", "North",
                               "name", "d", "value", "2024-01-01", "name", "nothing");
    f->ctx.params = params;
    assert_true(run(f, "SELECT count(*), :nothing IS NULL FROM samples.sales.product_sales WHERE "
                       "units >= :min AND region = :region AND order_date >= :d"));
    assert_string_equal(cell(f, 0, 1), "true");
    assert_false(run(f, "SELECT :missing"));
    assert_string_equal(f->err.cls, "UNBOUND_SQL_PARAMETER");
    json_decref(params);
    params = json_pack("[{s:s, s:s, s:s}]", "name", "n", "value", "ten", "type", "BIGINT");
    f->ctx.params = params;
    assert_false(run(f, "SELECT :n"));
    assert_string_equal(f->err.cls, "CAST_INVALID_INPUT");
    f->ctx.params = NULL;
    json_decref(params);
}

static void ddl_show_describe_and_drop(void **state)
{
    fx *f = *state;
    assert_true(run(f, "CREATE CATALOG IF NOT EXISTS c1"));
    assert_false(run(f, "CREATE CATALOG c1"));
    assert_string_equal(f->err.cls, "CATALOG_ALREADY_EXISTS");
    assert_true(run(f, "CREATE SCHEMA c1.s1 COMMENT 'x'"));
    assert_true(run(f, "CREATE SCHEMA IF NOT EXISTS c1.s1"));
    assert_false(run(f, "CREATE SCHEMA nope.s1"));
    assert_true(run(f, "CREATE VOLUME IF NOT EXISTS c1.s1.v1"));
    assert_true(run(f, "CREATE TABLE c1.s1.t AS SELECT product_name, units FROM "
                       "samples.sales.product_sales"));
    assert_string_equal(cell(f, 0, 0), "50");
    assert_false(run(f, "CREATE TABLE c1.s1.t AS SELECT 1 AS x"));
    assert_string_equal(f->err.cls, "TABLE_OR_VIEW_ALREADY_EXISTS");
    assert_true(run(f, "CREATE TABLE IF NOT EXISTS c1.s1.t AS SELECT 1 AS x"));
    assert_true(run(f, "SHOW TABLES IN c1.s1"));
    assert_int_equal(f->res.n_rows, 1);
    assert_string_equal(f->res.cols[1].name, "tableName");
    assert_string_equal(cell(f, 0, 1), "t");
    assert_string_equal(cell(f, 0, 2), "false");
    assert_true(run(f, "DESCRIBE TABLE c1.s1.t"));
    assert_int_equal(f->res.n_rows, 2);
    assert_string_equal(cell(f, 1, 0), "units");
    assert_string_equal(cell(f, 1, 1), "bigint");
    assert_false(run(f, "DROP SCHEMA c1.s1"));
    assert_string_equal(f->err.cls, "SCHEMA_NOT_EMPTY");
    assert_true(run(f, "DROP TABLE c1.s1.t"));
    assert_true(run(f, "DROP TABLE IF EXISTS c1.s1.t"));
    assert_false(run(f, "DROP TABLE c1.s1.t"));
    assert_true(run(f, "SHOW TABLES IN c1.s1"));
    assert_int_equal(f->res.n_rows, 0);
}

static void insert_values_and_select(void **state)
{
    fx *f = *state;
    assert_true(run(f, "CREATE CATALOG IF NOT EXISTS c1"));
    assert_true(run(f, "CREATE SCHEMA IF NOT EXISTS c1.s"));
    assert_true(run(f, "CREATE TABLE c1.s.t AS SELECT 1 AS id, 'a' AS name, 2.5 AS score, "
                       "DATE'2026-01-01' AS d"));
    assert_true(run(f, "INSERT INTO c1.s.t VALUES (2, 'b', 3.5, '2026-02-01'), "
                       "(3, NULL, 1, DATE'2026-03-01')"));
    assert_string_equal(f->res.cols[0].name, "num_affected_rows");
    assert_string_equal(f->res.cols[1].name, "num_inserted_rows");
    assert_string_equal(cell(f, 0, 0), "2");
    /* a column list in another order; the string '4' is stored as INT 4; the rest NULL */
    assert_true(run(f, "INSERT INTO TABLE c1.s.t (name, id) VALUES ('only', '4')"));
    assert_true(run(f, "INSERT INTO c1.s.t SELECT id + 10, name, score, d FROM c1.s.t "
                       "WHERE id < 3"));
    assert_string_equal(cell(f, 0, 0), "2");
    assert_true(run(f, "SELECT id, name, score, d FROM c1.s.t ORDER BY id"));
    assert_int_equal(f->res.n_rows, 6);
    static const char *const want[6][4] = {
        {"1", "a", "2.5", "2026-01-01"}, {"2", "b", "3.5", "2026-02-01"},
        {"3", NULL, "1.0", "2026-03-01"}, {"4", "only", NULL, NULL},
        {"11", "a", "2.5", "2026-01-01"}, {"12", "b", "3.5", "2026-02-01"},
    };
    for (size_t r = 0; r < 6; r++)
        for (int c = 0; c < 4; c++) {
            if (want[r][c])
                assert_string_equal(cell(f, r, c), want[r][c]);
            else
                assert_null(cell(f, r, c));
        }
    /* refused, and nothing written */
    assert_false(run(f, "INSERT INTO c1.s.t VALUES (1, 2)"));
    assert_string_equal(f->err.cls, "INSERT_COLUMN_ARITY_MISMATCH");
    assert_false(run(f, "INSERT INTO c1.s.t VALUES (7, 'x', 1.0, NULL), (8)"));
    assert_string_equal(f->err.cls, "INSERT_COLUMN_ARITY_MISMATCH");
    assert_false(run(f, "INSERT INTO c1.s.t SELECT id FROM c1.s.t"));
    assert_string_equal(f->err.cls, "INSERT_COLUMN_ARITY_MISMATCH");
    assert_false(run(f, "INSERT INTO c1.s.t (nope) VALUES (1)"));
    assert_string_equal(f->err.cls, "UNRESOLVED_COLUMN.WITH_SUGGESTION");
    assert_false(run(f, "INSERT INTO c1.s.t (id, id) VALUES (1, 2)"));
    assert_false(run(f, "INSERT INTO c1.s.t (id) VALUES (9), ('abc')"));
    assert_string_equal(f->err.cls, "CAST_INVALID_INPUT");
    assert_false(run(f, "INSERT INTO c1.s.nosuch VALUES (1)"));
    assert_string_equal(f->err.cls, "TABLE_OR_VIEW_NOT_FOUND");
    assert_false(run(f, "INSERT INTO c1.s.t VALUES (1, 'x', 1.0, NULL); DROP TABLE c1.s.t"));
    assert_true(run(f, "SELECT count(*) FROM c1.s.t"));
    assert_string_equal(cell(f, 0, 0), "6");
}

static void joins_inner_outer_cross_and_ambiguity(void **state)
{
    fx *f = *state;
    assert_true(run(f, "CREATE SCHEMA IF NOT EXISTS main.j"));
    assert_true(run(f, "CREATE TABLE main.j.customers AS SELECT 1 AS id, 'Ann' AS name"));
    assert_true(run(f, "INSERT INTO main.j.customers VALUES (2, 'Bob'), (3, 'Cy')"));
    assert_true(run(f, "CREATE TABLE main.j.orders AS SELECT 10 AS order_id, 1 AS customer_id, "
                       "5.0 AS amount"));
    assert_true(run(f, "INSERT INTO main.j.orders VALUES (11, 1, 7.5), (12, 2, 1.25), "
                       "(13, 9, 100)"));
    /* inner join with aggregates; a qualified column is named by the column */
    assert_true(run(f, "SELECT c.name, sum(o.amount) AS total, count(*) AS n FROM "
                       "main.j.customers c JOIN main.j.orders o ON o.customer_id = c.id "
                       "GROUP BY c.name ORDER BY total DESC"));
    assert_int_equal(f->res.n_rows, 2);
    assert_string_equal(f->res.cols[0].name, "name");
    assert_string_equal(cell(f, 0, 0), "Ann");
    assert_string_equal(cell(f, 0, 1), "12.5");
    assert_string_equal(cell(f, 1, 0), "Bob");
    assert_string_equal(cell(f, 1, 2), "1");
    /* left join keeps the customer without orders, with NULLs */
    assert_true(run(f, "SELECT c.name, o.order_id FROM main.j.customers AS c LEFT OUTER JOIN "
                       "main.j.orders AS o ON o.customer_id = c.id ORDER BY c.id, o.order_id"));
    assert_int_equal(f->res.n_rows, 4);
    assert_string_equal(cell(f, 3, 0), "Cy");
    assert_null(cell(f, 3, 1));
    /* full join keeps both sides; * expands every source, t.* one */
    assert_true(run(f, "SELECT * FROM main.j.customers c FULL JOIN main.j.orders o "
                       "ON o.customer_id = c.id"));
    assert_int_equal(f->res.n_rows, 5);
    assert_int_equal(f->res.n_cols, 5);
    assert_true(run(f, "SELECT o.* FROM main.j.customers c, main.j.orders o "
                       "WHERE c.id = o.customer_id AND c.name = 'Ann'"));
    assert_int_equal(f->res.n_cols, 3);
    assert_int_equal(f->res.n_rows, 2);
    assert_true(run(f, "SELECT count(*) FROM main.j.customers CROSS JOIN main.j.orders"));
    assert_string_equal(cell(f, 0, 0), "12");
    /* RIGHT JOIN, and a join feeding CREATE TABLE AS */
    assert_true(run(f, "CREATE TABLE main.j.spend AS SELECT o.order_id, c.name FROM "
                       "main.j.customers c RIGHT JOIN main.j.orders o ON o.customer_id = c.id"));
    assert_string_equal(cell(f, 0, 0), "4");
    assert_true(run(f, "SELECT count(*) FROM main.j.spend WHERE name IS NULL"));
    assert_string_equal(cell(f, 0, 0), "1");
    /* ambiguity and unknown qualifiers are refused */
    assert_false(run(f, "SELECT id FROM main.j.customers c JOIN main.j.customers d "
                        "ON c.id = d.id"));
    assert_string_equal(f->err.cls, "AMBIGUOUS_REFERENCE");
    assert_false(run(f, "SELECT 1 FROM main.j.customers JOIN main.j.customers ON true"));
    assert_string_equal(f->err.cls, "AMBIGUOUS_REFERENCE");
    assert_false(run(f, "SELECT x.name FROM main.j.customers c JOIN main.j.orders o "
                        "ON o.customer_id = c.id"));
    assert_string_equal(f->err.cls, "UNRESOLVED_COLUMN.WITHOUT_SUGGESTION");
    assert_false(run(f, "SELECT c.name FROM main.j.customers c JOIN main.j.orders o "
                        "ON o.nope = c.id"));
    assert_string_equal(f->err.cls, "UNRESOLVED_COLUMN.WITH_SUGGESTION");
}

static void update_and_delete(void **state)
{
    fx *f = *state;
    assert_true(run(f, "CREATE SCHEMA IF NOT EXISTS main.u"));
    assert_true(run(f, "CREATE TABLE main.u.t AS SELECT 1 AS id, 'a' AS name, 2.5 AS score"));
    assert_true(run(f, "INSERT INTO main.u.t VALUES (2, 'b', 3.5), (3, 'c', 4.5), (4, 'd', NULL)"));
    assert_true(run(f, "UPDATE main.u.t SET score = score * 2, name = upper(name) WHERE id >= 3"));
    assert_int_equal(f->res.n_cols, 1);
    assert_string_equal(f->res.cols[0].name, "num_affected_rows");
    assert_string_equal(cell(f, 0, 0), "2");
    /* an alias, a qualified target column, and a string cast to the column's type */
    assert_true(run(f, "UPDATE main.u.t AS x SET x.score = '7.25' WHERE x.id = 1"));
    assert_string_equal(cell(f, 0, 0), "1");
    assert_true(run(f, "SELECT id, name, score FROM main.u.t ORDER BY id"));
    assert_string_equal(cell(f, 0, 2), "7.25");
    assert_string_equal(cell(f, 1, 1), "b");
    assert_string_equal(cell(f, 2, 1), "C");
    assert_string_equal(cell(f, 2, 2), "9.0");
    assert_null(cell(f, 3, 2));
    /* a value that does not convert fails the whole statement: nothing changes */
    assert_false(run(f, "UPDATE main.u.t SET id = CASE WHEN id = 4 THEN 'x' ELSE '5' END"));
    assert_string_equal(f->err.cls, "CAST_INVALID_INPUT");
    assert_false(run(f, "UPDATE main.u.t SET nope = 1"));
    assert_string_equal(f->err.cls, "UNRESOLVED_COLUMN.WITH_SUGGESTION");
    assert_false(run(f, "UPDATE main.u.t SET y.id = 1"));
    assert_true(run(f, "DELETE FROM main.u.t WHERE score IS NULL OR name = 'b'"));
    assert_string_equal(cell(f, 0, 0), "2");
    assert_true(run(f, "SELECT sum(id) FROM main.u.t"));
    assert_string_equal(cell(f, 0, 0), "4");
    assert_true(run(f, "DELETE FROM main.u.t"));
    assert_string_equal(cell(f, 0, 0), "2");
    assert_false(run(f, "DELETE FROM main.u.nosuch"));
    assert_string_equal(f->err.cls, "TABLE_OR_VIEW_NOT_FOUND");
    assert_false(run(f, "DELETE main.u.t"));
}

static void csv_bronze_then_silver_with_casts(void **state)
{
    fx *f = *state;
    assert_true(run(f, "CREATE VOLUME main.default.raw"));
    write_volume_file(f, "orders.csv",
                      "Order ID,Customer Name,Amount,Paid,Order Date,When\n"
                      "1,\"Smith, Ann\", 10.5 ,yes,2024-01-05,2024-01-05 10:00\n"
                      "2,\"O\"\"Brien\",,no,2024-1-6,2024-01-06T11:30:00Z\n"
                      "2,\"O\"\"Brien\",,no,2024-1-6,2024-01-06T11:30:00Z\n"
                      "3,\"multi\nline\",abc,maybe,bad,bad\n");
    assert_true(run(f, "CREATE OR REPLACE TABLE main.default.bronze AS SELECT * FROM "
                       "read_files('/Volumes/main/default/raw/orders.csv', format => 'csv', "
                       "header => true, inferColumnTypes => false)"));
    assert_string_equal(cell(f, 0, 0), "4");
    assert_true(run(f, "DESCRIBE main.default.bronze"));
    assert_int_equal(f->res.n_rows, 6);
    assert_string_equal(cell(f, 1, 0), "Customer Name");
    assert_string_equal(cell(f, 2, 1), "string");
    assert_true(run(f, "SELECT count(*) FROM main.default.bronze WHERE Amount = ''"));
    assert_string_equal(cell(f, 0, 0), "2");
    assert_true(run(f, "CREATE OR REPLACE TABLE main.default.silver AS SELECT DISTINCT "
                       "CAST(`Order ID` AS BIGINT) AS order_id, TRIM(`Customer Name`) AS customer, "
                       "try_cast(NULLIF(TRIM(Amount), '') AS DOUBLE) AS amount, "
                       "try_cast(Paid AS BOOLEAN) AS paid, try_cast(`Order Date` AS DATE) AS "
                       "order_date, try_cast(`When` AS TIMESTAMP) AS at FROM main.default.bronze"));
    assert_string_equal(cell(f, 0, 0), "3");
    assert_true(run(f, "SELECT * FROM main.default.silver ORDER BY order_id"));
    assert_int_equal(f->res.cols[0].type, EMU_T_BIGINT);
    assert_int_equal(f->res.cols[2].type, EMU_T_DOUBLE);
    assert_int_equal(f->res.cols[3].type, EMU_T_BOOLEAN);
    assert_int_equal(f->res.cols[4].type, EMU_T_DATE);
    assert_int_equal(f->res.cols[5].type, EMU_T_TIMESTAMP);
    assert_string_equal(cell(f, 0, 1), "Smith, Ann");
    assert_string_equal(cell(f, 0, 2), "10.5");
    assert_string_equal(cell(f, 0, 3), "true");
    assert_string_equal(cell(f, 0, 4), "2024-01-05");
    assert_string_equal(cell(f, 0, 5), "2024-01-05T10:00:00.000Z");
    assert_null(cell(f, 1, 2));
    assert_string_equal(cell(f, 1, 3), "false");
    assert_string_equal(cell(f, 1, 4), "2024-01-06");
    assert_string_equal(cell(f, 2, 1), "multi\nline");
    assert_null(cell(f, 2, 2));
    assert_null(cell(f, 2, 3));
    assert_null(cell(f, 2, 4));
    assert_true(run(f, "DESCRIBE TABLE main.default.silver"));
    assert_string_equal(cell(f, 0, 1), "bigint");
    assert_string_equal(cell(f, 3, 1), "boolean");
    assert_string_equal(cell(f, 5, 1), "timestamp");
    /* ANSI CAST of a bad value fails the statement; nothing is created. */
    assert_false(run(f, "CREATE TABLE main.default.bad AS SELECT CAST(Amount AS DOUBLE) AS a "
                        "FROM main.default.bronze"));
    assert_string_equal(f->err.cls, "CAST_INVALID_INPUT");
    assert_string_equal(f->err.sqlstate, "22018");
    assert_false(run(f, "DESCRIBE main.default.bad"));
    /* A ragged CSV names its line. */
    write_volume_file(f, "ragged.csv", "a,b\n1,2\n3\n");
    assert_false(run(f, "CREATE TABLE main.default.r AS SELECT * FROM "
                        "read_files('/Volumes/main/default/raw/ragged.csv', format => 'csv', "
                        "header => true)"));
    assert_non_null(strstr(f->err.msg, "line 3"));
    assert_false(run(f, "SELECT * FROM read_files('/Volumes/main/default/raw/nope.csv')"));
    assert_string_equal(f->err.cls, "PATH_NOT_FOUND");
}

static void json_lines_union_keys_and_keep_nested_text(void **state)
{
    fx *f = *state;
    assert_true(run(f, "CREATE VOLUME IF NOT EXISTS main.default.raw"));
    write_volume_file(f, "events.json",
                      "{\"id\": 1, \"name\": \"a\", \"tags\": [\"x\", \"y\"]}\n"
                      "\n"
                      "{\"id\": 2, \"extra\": {\"k\": true}, \"ok\": false, \"score\": 1.5}\n");
    assert_true(run(f, "CREATE TABLE main.default.ev AS SELECT * FROM "
                       "read_files('/Volumes/main/default/raw/events.json', format => 'json', "
                       "inferColumnTypes => false)"));
    assert_true(run(f, "SELECT * FROM main.default.ev ORDER BY id"));
    assert_int_equal(f->res.n_cols, 6);
    assert_string_equal(f->res.cols[3].name, "extra");
    assert_string_equal(cell(f, 0, 2), "[\"x\",\"y\"]");
    assert_null(cell(f, 0, 3));
    assert_string_equal(cell(f, 1, 3), "{\"k\":true}");
    assert_string_equal(cell(f, 1, 4), "false");
    assert_string_equal(cell(f, 1, 5), "1.5");
}

static void injection_and_unsupported_sql_are_refused(void **state)
{
    fx *f = *state;
    assert_false(run(f, "SELECT 1; DROP TABLE samples.sales.product_sales"));
    assert_string_equal(f->err.cls, "PARSE_SYNTAX_ERROR");
    assert_non_null(strstr(f->err.msg, "one statement"));
    assert_false(run(f, "SELECT * FROM samples.sales.product_sales WHERE region = 'x'; DROP "
                        "TABLE samples.sales.product_sales; --"));
    assert_false(run(f, "SELECT * FROM `samples`.`sales`.`product_sales\"; DROP TABLE x; --`"));
    assert_true(run(f, "SELECT count(*) FROM samples.sales.product_sales WHERE region = "
                       "'x''; DROP TABLE samples.sales.product_sales; --'"));
    assert_string_equal(cell(f, 0, 0), "0");
    assert_true(run(f, "SELECT count(*) FROM samples.sales.product_sales;"));
    assert_string_equal(cell(f, 0, 0), "50");
    assert_false(run(f, "MERGE INTO samples.sales.product_sales USING x ON true"));
    assert_string_equal(f->err.cls, "UNSUPPORTED_FEATURE");
    assert_non_null(strstr(f->err.msg, "MERGE"));
    assert_false(run(f, "SELECT sha2(region, 256) FROM samples.sales.product_sales"));
    assert_string_equal(f->err.cls, "UNRESOLVED_ROUTINE");
    assert_non_null(strstr(f->err.msg, "sha2"));
    assert_false(run(f, "SELECT a.region FROM samples.sales.product_sales a NATURAL JOIN "
                        "samples.sales.product_sales b"));
    assert_string_equal(f->err.cls, "UNSUPPORTED_FEATURE");
    assert_non_null(strstr(f->err.msg, "NATURAL"));
    assert_false(run(f, "SELECT a.region FROM samples.sales.product_sales a JOIN "
                        "samples.sales.product_sales b USING (order_id)"));
    assert_non_null(strstr(f->err.msg, "USING"));
}

static void translation_quotes_identifiers_and_uses_cast_functions(void **state)
{
    fx *f = *state;
    emu_err e;
    char *sql = sl__emu_sql_translate(&f->ctx,
                                      "SELECT try_cast(units AS STRING) AS u, CAST(region AS "
                                      "BOOLEAN) FROM samples.sales.product_sales",
                                      &e);
    assert_non_null(sql);
    assert_non_null(strstr(sql, "\"samples.sales.product_sales\""));
    assert_non_null(strstr(sql, "sl_try_cast(\"units\", 'STRING', 'BIGINT')"));
    assert_non_null(strstr(sql, "sl_cast(\"region\", 'BOOLEAN', 'STRING')"));
    free(sql);
}

/* Every function the translator knows, called within its arity on order 1001 (South, 1 unit,
 * 189.0, 2024-01-01): it runs, with the Databricks result type and value (NULL = depends on
 * the clock), and the same in upper case, still named in lower case. */
static void every_known_function_runs_in_any_case(void **state)
{
    fx *f = *state;
    static const struct {
        const char *name, *args;
        emu_type type;
        const char *want;
    } fns[] = {
        {"abs", "-units", EMU_T_BIGINT, "1"},
        {"avg", "units", EMU_T_DOUBLE, "1.0"},
        {"bround", "total_value, 1", EMU_T_DOUBLE, "189.0"},
        {"char_length", "region", EMU_T_INT, "5"},
        {"coalesce", "NULL, units", EMU_T_BIGINT, "1"},
        {"concat", "region, '-', units", EMU_T_STRING, "South-1"},
        {"count", "*", EMU_T_BIGINT, "1"},
        {"count_if", "units > 6", EMU_T_BIGINT, "0"},
        {"curdate", "", EMU_T_DATE, NULL},
        {"current_date", "", EMU_T_DATE, NULL},
        {"current_timestamp", "", EMU_T_TIMESTAMP, NULL},
        {"date_trunc", "'month', order_date", EMU_T_TIMESTAMP, "2024-01-01T00:00:00.000Z"},
        {"day", "order_date", EMU_T_INT, "1"},
        {"dayofmonth", "order_date", EMU_T_INT, "1"},
        {"ifnull", "NULL, region", EMU_T_STRING, "South"},
        {"lcase", "region", EMU_T_STRING, "south"},
        {"length", "region", EMU_T_INT, "5"},
        {"lower", "region", EMU_T_STRING, "south"},
        {"ltrim", "region", EMU_T_STRING, "South"},
        {"max", "total_value", EMU_T_DOUBLE, "189.0"},
        {"mean", "units", EMU_T_DOUBLE, "1.0"},
        {"min", "order_date", EMU_T_DATE, "2024-01-01"},
        {"month", "order_date", EMU_T_INT, "1"},
        {"now", "", EMU_T_TIMESTAMP, NULL},
        {"nullif", "units, 3", EMU_T_BIGINT, "1"},
        {"nvl", "NULL, 2.5", EMU_T_DOUBLE, "2.5"},
        {"round", "total_value, 1", EMU_T_DOUBLE, "189.0"},
        {"rtrim", "region", EMU_T_STRING, "South"},
        {"substr", "region, 2", EMU_T_STRING, "outh"},
        {"substring", "region, 1, 2", EMU_T_STRING, "So"},
        {"sum", "units", EMU_T_BIGINT, "1"},
        {"trim", "region", EMU_T_STRING, "South"},
        {"ucase", "region", EMU_T_STRING, "SOUTH"},
        {"upper", "region", EMU_T_STRING, "SOUTH"},
        {"year", "order_date", EMU_T_INT, "2024"},
    };
    for (size_t k = 0; k < sizeof(fns) / sizeof(fns[0]); k++) {
        char upper[32];
        snprintf(upper, sizeof(upper), "%s", fns[k].name);
        for (char *c = upper; *c; c++)
            *c = (char)toupper((unsigned char)*c);
        char *want_col = sl_xasprintf("%s(%s)", fns[k].name, fns[k].args);
        const char *names[] = {fns[k].name, upper};
        for (int v = 0; v < 2; v++) {
            char *sql = sl_xasprintf("SELECT %s(%s) FROM samples.sales.product_sales WHERE "
                                     "order_id = 1001",
                                     names[v], fns[k].args);
            bool ok = run(f, sql);
            if (!ok || f->res.n_rows != 1 || f->res.cols[0].type != fns[k].type)
                print_message("  failed: %s\n", sql);
            assert_true(ok);
            assert_int_equal(f->res.n_rows, 1);
            assert_int_equal(f->res.cols[0].type, fns[k].type);
            assert_string_equal(f->res.cols[0].name,
                                strcmp(fns[k].name, "count") == 0 ? "count(1)" : want_col);
            if (fns[k].want)
                assert_string_equal(cell(f, 0, 0), fns[k].want);
            else
                assert_non_null(cell(f, 0, 0));
            free(sql);
        }
        free(want_col);
    }
}

/* Function errors keep their wording: an unknown name (reported in lower case, after its
 * arguments are checked), a count outside a function's arity, more than 8 arguments. */
static void function_errors_name_the_function(void **state)
{
    fx *f = *state;
    assert_false(run(f, "SELECT Sha2(region, 256) FROM samples.sales.product_sales"));
    assert_string_equal(f->err.cls, "UNRESOLVED_ROUTINE");
    assert_string_equal(f->err.sqlstate, "42883");
    assert_string_equal(f->err.msg,
                        "Cannot resolve routine `sha2` on search path [`system`.`builtin`, "
                        "`system`.`session`]: the Sluice emulator does not support this "
                        "function.");
    assert_false(run(f, "SELECT sha2(nope) FROM samples.sales.product_sales"));
    assert_string_equal(f->err.cls, "UNRESOLVED_COLUMN.WITH_SUGGESTION");
    static const struct {
        const char *sql, *name;
        int got;
    } arity[] = {
        {"SELECT ROUND(1, 2, 3)", "round", 3}, {"SELECT now(1)", "now", 1},
        {"SELECT concat()", "concat", 0},      {"SELECT substr('abc')", "substr", 1},
        {"SELECT nullif(1)", "nullif", 1},     {"SELECT sum()", "sum", 0},
    };
    for (size_t k = 0; k < sizeof(arity) / sizeof(arity[0]); k++) {
        assert_false(run(f, arity[k].sql));
        assert_string_equal(f->err.cls, "WRONG_NUM_ARGS.WITHOUT_SUGGESTION");
        assert_string_equal(f->err.sqlstate, "42605");
        char *want = sl_xasprintf("The `%s` requires a different number of parameters but the "
                                  "actual number is %d.",
                                  arity[k].name, arity[k].got);
        assert_string_equal(f->err.msg, want);
        free(want);
    }
    assert_false(run(f, "SELECT coalesce(1, 2, 3, 4, 5, 6, 7, 8, 9)"));
    assert_string_equal(f->err.cls, "WRONG_NUM_ARGS");
    assert_string_equal(f->err.msg, "Too many arguments.");
    assert_false(run(f, "SELECT count(units, region) FROM samples.sales.product_sales"));
    assert_string_equal(f->err.cls, "PARSE_SYNTAX_ERROR");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(select_literals_have_databricks_types, setup, teardown),
        cmocka_unit_test_setup_teardown(aggregates_group_having_order_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(backticks_and_two_part_names_resolve, setup, teardown),
        cmocka_unit_test_setup_teardown(named_parameters_are_typed_and_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(ddl_show_describe_and_drop, setup, teardown),
        cmocka_unit_test_setup_teardown(insert_values_and_select, setup, teardown),
        cmocka_unit_test_setup_teardown(joins_inner_outer_cross_and_ambiguity, setup, teardown),
        cmocka_unit_test_setup_teardown(update_and_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(csv_bronze_then_silver_with_casts, setup, teardown),
        cmocka_unit_test_setup_teardown(json_lines_union_keys_and_keep_nested_text, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(every_known_function_runs_in_any_case, setup, teardown),
        cmocka_unit_test_setup_teardown(function_errors_name_the_function, setup, teardown),
        cmocka_unit_test_setup_teardown(injection_and_unsupported_sql_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(translation_quotes_identifiers_and_uses_cast_functions,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
