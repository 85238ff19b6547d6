-- 0004_datasets: datasets registered locally and the state of their sync to Databricks.
CREATE TABLE datasets (
    dataset_id          TEXT PRIMARY KEY,
    tenant              TEXT NOT NULL,
    name                TEXT NOT NULL,
    description         TEXT,
    file_name           TEXT NOT NULL,      -- the copy in the data directory
    format              TEXT NOT NULL,      -- csv | jsonl
    bytes               INTEGER NOT NULL,
    row_count_local     INTEGER NOT NULL,
    created_ms          INTEGER NOT NULL,
    databricks_enabled  INTEGER NOT NULL DEFAULT 0,
    sync_status         TEXT NOT NULL DEFAULT 'not_synced',
                        -- not_synced | pending | syncing | synced | failed
    bronze_table        TEXT,
    silver_table        TEXT,
    last_sync_at        INTEGER,
    last_sync_attempt   INTEGER,
    last_sync_error     TEXT,
    row_count_databricks INTEGER,
    silver_row_count    INTEGER,
    workflow_id         TEXT
) WITHOUT ROWID;
CREATE INDEX datasets_tenant ON datasets(tenant, created_ms);
