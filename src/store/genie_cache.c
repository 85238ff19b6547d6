/*
 * genie_cache.c - rows of the Genie answer cache (sluice loadtest --cache): the exact-match
 * layer (genie_cache_lru) and the semantic layer (genie_cache_semantic, embeddings as
 * float32 BLOBs). Expiry is by age from created_ms; eviction by oldest last_access_ms,
 * per space. Statements are prepared per call: the cache runs at Genie's pace (a few
 * questions per second), not the engine's.
 */
#include <stdlib.h>
#include <string.h>

#include "sluice/appstore.h"
#include "store_int.h"

void sl_genie_cache_entry_cleanup(sl_genie_cache_entry *e)
{
    if (!e)
        return;
    free(e->space_id);
    free(e->question);
    free(e->context);
    free(e->sql);
    free(e->conversation_id);
    free(e->message_id);
    free(e->question_emb);
    free(e->context_emb);
    memset(e, 0, sizeof(*e));
}


/* Step a statement to completion (no rows wanted) and finalize it. */
static sl_code run(sl_store *st, sqlite3_stmt *s, const char *what, sl_err *err)
{
    int rc = sl__store_step(st, s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return sl__store_fail(st, rc, what, err);
    return SL_OK;
}

static float *blob_floats(sqlite3_stmt *s, int col, size_t dim)
{
    const void *b = sqlite3_column_blob(s, col);
    size_t n = (size_t)sqlite3_column_bytes(s, col);
    if (!b || dim == 0 || n != dim * sizeof(float))
        return NULL;
    float *v = sl_xmalloc(n);
    memcpy(v, b, n);
    return v;
}

/* ---- exact-match layer ---- */

sl_code sl_appstore_genie_lru_get(sl_store *st, const char *space, const char *question,
                               const char *context, int64_t now_ms, int64_t ttl_ms,
                               sl_genie_cache_entry *out, sl_err *err)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *s;
    sl_code rc = sl__store_prepare(st, "UPDATE genie_cache_lru SET last_access_ms=?4 WHERE space_id=?1 AND "
                      "question=?2 AND context=?3 AND (?5 < 0 OR created_ms >= ?4 - ?5) "
                      "RETURNING sql_text, conversation_id, message_id, created_ms",
                      &s, err);
    if (rc != SL_OK)
        return rc;
    sl__bind_text(s, 1, space);
    sl__bind_text(s, 2, question);
    sl__bind_text(s, 3, context ? context : "");
    sqlite3_bind_int64(s, 4, now_ms);
    sqlite3_bind_int64(s, 5, ttl_ms);
    int src = sl__store_step(st, s);
    if (src == SQLITE_ROW) {
        out->space_id = sl_xstrdup(space);
        out->question = sl_xstrdup(question);
        out->context = sl_xstrdup(context ? context : "");
        out->sql = sl__col_dup(s, 0);
        out->conversation_id = sl__col_dup(s, 1);
        out->message_id = sl__col_dup(s, 2);
        out->created_ms = sqlite3_column_int64(s, 3);
        out->last_access_ms = now_ms;
        src = sl__store_step(st, s);
    }
    sqlite3_finalize(s);
    if (src != SQLITE_DONE) {
        sl_genie_cache_entry_cleanup(out);
        return sl__store_fail(st, src, "genie cache: lookup", err);
    }
    if (out->sql)
        return SL_OK;
    /* absent, or expired: drop an expired row so it stops taking capacity */
    if (ttl_ms >= 0) {
        if ((rc = sl__store_prepare(st, "DELETE FROM genie_cache_lru WHERE space_id=?1 AND question=?2 AND "
                       "context=?3 AND created_ms < ?4 - ?5",
                       &s, err)) != SL_OK)
            return rc;
        sl__bind_text(s, 1, space);
        sl__bind_text(s, 2, question);
        sl__bind_text(s, 3, context ? context : "");
        sqlite3_bind_int64(s, 4, now_ms);
        sqlite3_bind_int64(s, 5, ttl_ms);
        if ((rc = run(st, s, "genie cache: expire", err)) != SL_OK)
            return rc;
    }
    return SL_ENOTFOUND;
}

sl_code sl_appstore_genie_lru_put(sl_store *st, const sl_genie_cache_entry *e, int capacity,
                               sl_err *err)
{
    sl_code rc;
    if ((rc = sl_store_begin(st, err)) != SL_OK)
        return rc;
    sqlite3_stmt *s;
    if ((rc = sl__store_prepare(st, "INSERT OR REPLACE INTO genie_cache_lru (space_id, question, context, "
                   "sql_text, conversation_id, message_id, created_ms, last_access_ms) "
                   "VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
                   &s, err)) != SL_OK)
        goto fail;
    sl__bind_text(s, 1, e->space_id);
    sl__bind_text(s, 2, e->question);
    sl__bind_text(s, 3, e->context ? e->context : "");
    sl__bind_text(s, 4, e->sql);
    sl__bind_text(s, 5, e->conversation_id);
    sl__bind_text(s, 6, e->message_id);
    sqlite3_bind_int64(s, 7, e->created_ms);
    sqlite3_bind_int64(s, 8, e->last_access_ms);
    if ((rc = run(st, s, "genie cache: store", err)) != SL_OK)
        goto fail;
    if (capacity > 0) {
        /* a WITHOUT ROWID table: select the victims by their key */
        if ((rc = sl__store_prepare(st, "DELETE FROM genie_cache_lru WHERE (space_id, question, context) IN "
                       "(SELECT space_id, question, context FROM genie_cache_lru WHERE "
                       "space_id=?1 ORDER BY last_access_ms DESC, created_ms DESC "
                       "LIMIT -1 OFFSET ?2)",
                       &s, err)) != SL_OK)
            goto fail;
        sl__bind_text(s, 1, e->space_id);
        sqlite3_bind_int(s, 2, capacity);
        if ((rc = run(st, s, "genie cache: evict", err)) != SL_OK)
            goto fail;
    }
    return sl_store_commit(st, err);
fail:
    sl_store_rollback(st);
    return rc;
}

sl_code sl_appstore_genie_lru_delete(sl_store *st, const char *space, const char *question,
                                  const char *context, sl_err *err)
{
    sqlite3_stmt *s;
    sl_code rc = sl__store_prepare(st, "DELETE FROM genie_cache_lru WHERE space_id=?1 AND question=?2 AND "
                      "context=?3",
                      &s, err);
    if (rc != SL_OK)
        return rc;
    sl__bind_text(s, 1, space);
    sl__bind_text(s, 2, question);
    sl__bind_text(s, 3, context ? context : "");
    return run(st, s, "genie cache: delete", err);
}

/* ---- semantic layer ---- */

sl_code sl_appstore_genie_semantic_scan(sl_store *st, const char *space, int64_t now_ms,
                                     int64_t ttl_ms, sl_genie_cache_scan_fn fn, void *arg,
                                     sl_err *err)
{
    sqlite3_stmt *s;
    sl_code rc;
    if (ttl_ms >= 0) {
        if ((rc = sl__store_prepare(st, "DELETE FROM genie_cache_semantic WHERE space_id=?1 AND "
                       "created_ms < ?2 - ?3",
                       &s, err)) != SL_OK)
            return rc;
        sl__bind_text(s, 1, space);
        sqlite3_bind_int64(s, 2, now_ms);
        sqlite3_bind_int64(s, 3, ttl_ms);
        if ((rc = run(st, s, "genie cache: expire", err)) != SL_OK)
            return rc;
    }
    if ((rc = sl__store_prepare(st, "SELECT entry_id, question_emb, context_emb, dim FROM genie_cache_semantic "
                   "WHERE space_id=?1 ORDER BY entry_id",
                   &s, err)) != SL_OK)
        return rc;
    sl__bind_text(s, 1, space);
    int src;
    while ((src = sl__store_step(st, s)) == SQLITE_ROW) {
        size_t dim = (size_t)sqlite3_column_int64(s, 3);
        const void *q = sqlite3_column_blob(s, 1);
        size_t qn = (size_t)sqlite3_column_bytes(s, 1);
        const void *c = sqlite3_column_blob(s, 2);
        size_t cn = (size_t)sqlite3_column_bytes(s, 2);
        if (!q || qn != dim * sizeof(float) || (c && cn != dim * sizeof(float)))
            continue; /* a row from another writer with a broken vector: skip it */
        if (!fn(arg, sqlite3_column_int64(s, 0), q, c, dim)) {
            src = SQLITE_DONE;
            break;
        }
    }
    sqlite3_finalize(s);
    if (src != SQLITE_DONE)
        return sl__store_fail(st, src, "genie cache: scan", err);
    return SL_OK;
}

sl_code sl_appstore_genie_semantic_get(sl_store *st, int64_t entry_id, int64_t now_ms,
                                    sl_genie_cache_entry *out, sl_err *err)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *s;
    sl_code rc = sl__store_prepare(st, "UPDATE genie_cache_semantic SET last_access_ms=?2 WHERE entry_id=?1 "
                      "RETURNING space_id, question, context, question_emb, context_emb, dim, "
                      "sql_text, conversation_id, message_id, created_ms",
                      &s, err);
    if (rc != SL_OK)
        return rc;
    sqlite3_bind_int64(s, 1, entry_id);
    sqlite3_bind_int64(s, 2, now_ms);
    int src = sl__store_step(st, s);
    bool found = false;
    if (src == SQLITE_ROW) {
        found = true;
        out->entry_id = entry_id;
        out->space_id = sl__col_dup(s, 0);
        out->question = sl__col_dup(s, 1);
        out->context = sl__col_dup(s, 2);
        out->dim = (size_t)sqlite3_column_int64(s, 5);
        out->question_emb = blob_floats(s, 3, out->dim);
        out->context_emb = blob_floats(s, 4, out->dim);
        out->sql = sl__col_dup(s, 6);
        out->conversation_id = sl__col_dup(s, 7);
        out->message_id = sl__col_dup(s, 8);
        out->created_ms = sqlite3_column_int64(s, 9);
        out->last_access_ms = now_ms;
        src = sl__store_step(st, s);
    }
    sqlite3_finalize(s);
    if (src != SQLITE_DONE) {
        sl_genie_cache_entry_cleanup(out);
        return sl__store_fail(st, src, "genie cache: read", err);
    }
    return found ? SL_OK : SL_ENOTFOUND;
}

sl_code sl_appstore_genie_semantic_put(sl_store *st, const sl_genie_cache_entry *e, int capacity,
                                    int64_t *out_id, sl_err *err)
{
    if (!e->question_emb || e->dim == 0)
        return sl_err_set(err, SL_EINVAL, "genie cache: semantic entry without an embedding");
    sl_code rc;
    if ((rc = sl_store_begin(st, err)) != SL_OK)
        return rc;
    sqlite3_stmt *s;
    if ((rc = sl__store_prepare(st, "DELETE FROM genie_cache_semantic WHERE space_id=?1 AND question=?2 AND "
                   "context=?3",
                   &s, err)) != SL_OK)
        goto fail;
    sl__bind_text(s, 1, e->space_id);
    sl__bind_text(s, 2, e->question);
    sl__bind_text(s, 3, e->context ? e->context : "");
    if ((rc = run(st, s, "genie cache: replace", err)) != SL_OK)
        goto fail;
    if (capacity > 0) {
        /* make room: keep the capacity - 1 most recently accessed rows */
        if ((rc = sl__store_prepare(st, "DELETE FROM genie_cache_semantic WHERE entry_id IN (SELECT entry_id FROM "
                       "genie_cache_semantic WHERE space_id=?1 ORDER BY last_access_ms DESC, "
                       "entry_id DESC LIMIT -1 OFFSET ?2)",
                       &s, err)) != SL_OK)
            goto fail;
        sl__bind_text(s, 1, e->space_id);
        sqlite3_bind_int(s, 2, capacity - 1);
        if ((rc = run(st, s, "genie cache: evict", err)) != SL_OK)
            goto fail;
    }
    if ((rc = sl__store_prepare(st, "INSERT INTO genie_cache_semantic (space_id, question, context, question_emb, "
                   "context_emb, dim, sql_text, conversation_id, message_id, created_ms, "
                   "last_access_ms) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
                   &s, err)) != SL_OK)
        goto fail;
    sl__bind_text(s, 1, e->space_id);
    sl__bind_text(s, 2, e->question);
    sl__bind_text(s, 3, e->context ? e->context : "");
    sqlite3_bind_blob(s, 4, e->question_emb, (int)(e->dim * sizeof(float)), SQLITE_STATIC);
    if (e->context_emb)
        sqlite3_bind_blob(s, 5, e->context_emb, (int)(e->dim * sizeof(float)), SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 5);
    sqlite3_bind_int64(s, 6, (int64_t)e->dim);
    sl__bind_text(s, 7, e->sql);
    sl__bind_text(s, 8, e->conversation_id);
    sl__bind_text(s, 9, e->message_id);
    sqlite3_bind_int64(s, 10, e->created_ms);
    sqlite3_bind_int64(s, 11, e->last_access_ms);
    if ((rc = run(st, s, "genie cache: store", err)) != SL_OK)
        goto fail;
    if (out_id)
        *out_id = sqlite3_last_insert_rowid(st->db);
    return sl_store_commit(st, err);
fail:
    sl_store_rollback(st);
    return rc;
}

sl_code sl_appstore_genie_semantic_delete(sl_store *st, int64_t entry_id, sl_err *err)
{
    sqlite3_stmt *s;
    sl_code rc = sl__store_prepare(st, "DELETE FROM genie_cache_semantic WHERE entry_id=?1", &s, err);
    if (rc != SL_OK)
        return rc;
    sqlite3_bind_int64(s, 1, entry_id);
    return run(st, s, "genie cache: delete", err);
}

static sl_code count_rows(sl_store *st, const char *table, const char *space, int64_t *out,
                          sl_err *err)
{
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE ?1 IS NULL OR space_id=?1", table);
    sqlite3_stmt *s;
    sl_code rc = sl__store_prepare(st, sql, &s, err);
    if (rc != SL_OK)
        return rc;
    sl__bind_text(s, 1, space);
    int src = sl__store_step(st, s);
    *out = src == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    if (src != SQLITE_ROW)
        return sl__store_fail(st, src, "genie cache: count", err);
    return SL_OK;
}

sl_code sl_appstore_genie_cache_count(sl_store *st, const char *space, int64_t *n_lru,
                                   int64_t *n_semantic, sl_err *err)
{
    sl_code rc = count_rows(st, "genie_cache_lru", space, n_lru, err);
    if (rc == SL_OK)
        rc = count_rows(st, "genie_cache_semantic", space, n_semantic, err);
    return rc;
}
