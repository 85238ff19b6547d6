/*
 * datasets.h - datasets: a local file (CSV with a header row, or JSON Lines) registered
 * under an id, always available locally, and synced in the background to Databricks
 * Unity Catalog by the durable workflow dataset_sync (workflows/dataset_sync.c):
 *
 *   sync_to_bronze       catalog catalog_tenant_<tenant> with schemas bronze and silver and
 *                        volume bronze.raw; the file uploaded to
 *                        /Volumes/catalog_tenant_<tenant>/bronze/raw/<dataset_id>.<ext>;
 *                        table catalog_tenant_<tenant>.bronze.<table> (all STRING columns)
 *   transform_to_silver  catalog_tenant_<tenant>.silver.<table>_clean: snake_case columns,
 *                        each typed BIGINT, DOUBLE, BOOLEAN, DATE, TIMESTAMP or STRING (a type
 *                        only if every non-empty value converts), '' as NULL, no duplicates
 *   update_dataset_metadata  status synced, table names, row counts, sync time
 * On a final failure the dataset becomes `failed` with last_sync_error.
 *
 * Status: not_synced -> pending (workflow started) -> syncing -> synced | failed.
 * The workflow id is "dataset-sync-<dataset_id>" on task queue "databricks", so a dataset
 * never has two syncs running. Names are user input: table, catalog and column names are
 * normalised to [a-z0-9_] and every identifier is backtick-quoted in SQL.
 */
#ifndef SLUICE_DATASETS_H
#define SLUICE_DATASETS_H

#include "sluice/engine.h"

#define SL_DATASET_QUEUE "databricks"

/* "Revenue Q1; DROP TABLE x" -> "revenue_q1_drop_table_x"; leading digit -> "t_..."; at most
 * 100 characters; "" -> "dataset". Owned. */
SL_MUST_USE char *sl_dataset_table_name(const char *dataset_name);
/* "catalog_tenant_<normalised tenant>". Owned. */
SL_MUST_USE char *sl_dataset_catalog_name(const char *tenant);
/* Column names to snake_case, unique ("Product Name"/"productName" -> "product_name",
 * duplicates get _2, _3, ...; empty -> column_<n>). names[i] owned by the caller; the
 * results are owned (free each and the array). */
SL_MUST_USE char **sl_dataset_column_names(const char *const *names, size_t n);
/* `name` with backticks doubled, inside backticks. Owned. */
SL_MUST_USE char *sl_sql_quote_ident(const char *name);

typedef enum sl_dataset_format { SL_DATASET_CSV, SL_DATASET_JSONL } sl_dataset_format;

/*
 * Check a file before it is registered: readable, not empty, a CSV header and rows of the
 * same width, or one JSON object per line. SL_EINVAL with the line number on a bad line.
 * Streams: memory does not grow with the file.
 */
SL_MUST_USE sl_code sl_dataset_validate(const char *path, sl_dataset_format *fmt,
                                        int64_t *rows, int64_t *bytes, sl_err *err);

typedef struct sl_dataset_ingest_opts {
    const char *path;
    const char *name;
    const char *tenant;      /* default "default" */
    const char *description;
    const char *id;          /* default: generated */
    bool sync;               /* start the sync (unless DATABRICKS_AUTO_SYNC / _SYNC_ENABLED
                                say false) */
    const char *data_dir;    /* default $SLUICE_DATA_DIR or ./sluice-data */
} sl_dataset_ingest_opts;

/* Validate, copy into the data directory, record, and start the sync. *status (owned) is the
 * status JSON. SL_ECONFLICT: the id exists (nothing changes). */
SL_MUST_USE sl_code sl_dataset_ingest(sl_engine *e, const sl_dataset_ingest_opts *o,
                                      json_t **status, sl_err *err);
/* The status JSON: dataset_id, dataset_name, tenant, databricks_enabled, sync_status,
 * bronze_table, silver_table, last_sync_at, last_sync_error, row_count_local,
 * row_count_databricks, workflow_id (plus description, format, file, created_at,
 * silver_row_count). SL_ENOTFOUND names the id. */
SL_MUST_USE sl_code sl_dataset_status(sl_engine *e, const char *id, json_t **out, sl_err *err);
SL_MUST_USE sl_code sl_dataset_list(sl_engine *e, const char *tenant, json_t **out, sl_err *err);
/* Start (or find running) the sync of a dataset; *existing when one was running. */
SL_MUST_USE sl_code sl_dataset_sync(sl_engine *e, const char *id, sl_start_result *res,
                                    sl_err *err);

#endif
