/*
 * appstore.h - application data kept beside the engine's tables in the Sluice database:
 * datasets (sluice dataset, workflows/datasets.c) and the Genie answer cache (sluice
 * loadtest --cache, the Genie ask path). The engine never reads these tables; the
 * engine's store interface (store.h) stays what a second backend must implement for the
 * engine, and these functions what it must implement for the applications.
 *
 * Every function takes a connection: the engine's, inside sl_engine_exec/sl_engine_read
 * (so a dataset row commits with the workflow start it belongs to), or one opened here
 * with sl_appstore_open. Threads: a connection belongs to one thread at a time.
 */
#ifndef SLUICE_APPSTORE_H
#define SLUICE_APPSTORE_H

#include "sluice/util.h"

typedef struct sl_store sl_store; /* a connection to the Sluice database (store.h) */

/* Open a connection to the database at path for application data, creating and migrating
 * it as sl_store_open does (default durability, no background checkpointer). */
SL_MUST_USE sl_code sl_appstore_open(const char *path, sl_store **out, sl_err *err);
void sl_appstore_close(sl_store *st);

/* ---- datasets ------------------------------------------------------------------ */

typedef struct sl_dataset_row {
    char *dataset_id;
    char *tenant;
    char *name;
    char *description;       /* or NULL */
    char *file_name;
    char *format;            /* csv | jsonl */
    int64_t bytes;
    int64_t row_count_local;
    int64_t created_ms;
    bool databricks_enabled;
    char *sync_status;       /* not_synced | pending | syncing | synced | failed */
    char *bronze_table;      /* or NULL */
    char *silver_table;      /* or NULL */
    int64_t last_sync_at;    /* 0: never */
    int64_t last_sync_attempt;
    char *last_sync_error;   /* or NULL */
    int64_t row_count_databricks; /* -1: unknown */
    int64_t silver_row_count;     /* -1: unknown */
    char *workflow_id;       /* or NULL */
} sl_dataset_row;

void sl_dataset_row_cleanup(sl_dataset_row *r);
/* SL_ECONFLICT when the id exists. */
SL_MUST_USE sl_code sl_appstore_dataset_insert(sl_store *st, const sl_dataset_row *r, sl_err *err);
/* SL_ENOTFOUND when absent. */
SL_MUST_USE sl_code sl_appstore_dataset_get(sl_store *st, const char *id, sl_dataset_row *out,
                                         sl_err *err);
/* Write the sync fields (databricks_enabled .. workflow_id). */
SL_MUST_USE sl_code sl_appstore_dataset_update(sl_store *st, const sl_dataset_row *r, sl_err *err);
typedef void (*sl_dataset_fn)(const sl_dataset_row *r, void *arg);
/* Newest first; tenant NULL = all. */
SL_MUST_USE sl_code sl_appstore_dataset_list(sl_store *st, const char *tenant, sl_dataset_fn fn,
                                          void *arg, sl_err *err);

/* ---- Genie answer cache (sluice loadtest --cache) ------------------------------ */
/*
 * Rows of the two cache layers (schema/migrations/0005_genie_cache.sql). The policy
 * (normalisation, similarity, thresholds, ranking) lives in src/loadtest; these
 * functions only store, expire, touch and evict. Several processes may share them.
 */

typedef struct sl_genie_cache_entry {
    int64_t entry_id;      /* semantic entries (assigned on put); 0 for exact-match ones */
    char *space_id;
    char *question;        /* exact layer: normalised; semantic layer: as asked */
    char *context;         /* conversation context string, "" when none */
    char *sql;
    char *conversation_id; /* may be NULL */
    char *message_id;      /* may be NULL */
    float *question_emb;   /* semantic only: dim floats */
    float *context_emb;    /* semantic only: dim floats, NULL = zero vector */
    size_t dim;
    int64_t created_ms;
    int64_t last_access_ms;
} sl_genie_cache_entry;

/* Free the owned fields (the struct itself is the caller's); accepts NULL. */
void sl_genie_cache_entry_cleanup(sl_genie_cache_entry *e);

/*
 * Exact layer lookup by (space, question, context). SL_OK: *out filled (owned fields)
 * and last_access_ms set to now_ms. SL_ENOTFOUND: absent, or created more than ttl_ms
 * before now_ms (ttl_ms < 0: never expires), in which case the row is deleted.
 * SL_EBUSY/SL_EIO from SQLite.
 */
SL_MUST_USE sl_code sl_appstore_genie_lru_get(sl_store *st, const char *space, const char *question,
                                           const char *context, int64_t now_ms, int64_t ttl_ms,
                                           sl_genie_cache_entry *out, sl_err *err);
/*
 * Insert or replace e (space_id, question, context, sql, conversation_id, message_id,
 * created_ms, last_access_ms are used), then delete the space's least recently accessed
 * rows beyond `capacity` (<= 0: no limit). One transaction.
 */
SL_MUST_USE sl_code sl_appstore_genie_lru_put(sl_store *st, const sl_genie_cache_entry *e,
                                           int capacity, sl_err *err);
SL_MUST_USE sl_code sl_appstore_genie_lru_delete(sl_store *st, const char *space,
                                              const char *question, const char *context,
                                              sl_err *err);

/* One semantic row for a scan; vectors borrowed for the call only, ctx NULL = zero. */
typedef bool (*sl_genie_cache_scan_fn)(void *arg, int64_t entry_id, const float *q,
                                       const float *ctx, size_t dim);
/*
 * Delete the space's semantic rows older than ttl_ms (ttl_ms < 0: none), then call fn
 * for every remaining row of the space (stop early by returning false).
 */
SL_MUST_USE sl_code sl_appstore_genie_semantic_scan(sl_store *st, const char *space, int64_t now_ms,
                                                 int64_t ttl_ms, sl_genie_cache_scan_fn fn,
                                                 void *arg, sl_err *err);
/* Read one semantic row (vectors included) and set its last_access_ms to now_ms.
 * SL_ENOTFOUND when it is gone. */
SL_MUST_USE sl_code sl_appstore_genie_semantic_get(sl_store *st, int64_t entry_id, int64_t now_ms,
                                                sl_genie_cache_entry *out, sl_err *err);
/*
 * Evict the space's least recently accessed rows while it holds >= capacity rows
 * (<= 0: no limit; a row with the same space+question+context is replaced, not counted),
 * then insert e. e->entry_id is ignored; *out_id (may be NULL) gets the new id.
 * One transaction.
 */
SL_MUST_USE sl_code sl_appstore_genie_semantic_put(sl_store *st, const sl_genie_cache_entry *e,
                                                int capacity, int64_t *out_id, sl_err *err);
SL_MUST_USE sl_code sl_appstore_genie_semantic_delete(sl_store *st, int64_t entry_id, sl_err *err);
/* Row counts of both layers for `space` (NULL = all spaces). */
SL_MUST_USE sl_code sl_appstore_genie_cache_count(sl_store *st, const char *space, int64_t *n_lru,
                                               int64_t *n_semantic, sl_err *err);

#endif
