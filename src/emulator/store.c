/* store.c - the emulator's state database: a small pool of SQLite connections (WAL, busy
 * timeout), the Unity Catalog metadata (catalogs, schemas, volumes, tables with their
 * Databricks column types) and the seeded sample table. Data tables live in the same file,
 * one SQLite table per UC table, named "catalog.schema.table". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emulator_int.h"

#define POOL_MAX 16

struct emu_store {
    char *path, *volumes_root;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sqlite3 *free_dbs[POOL_MAX];
    int n_free, n_open;
};

static const char *schema_sql =
    "CREATE TABLE IF NOT EXISTS uc_catalog(name TEXT PRIMARY KEY, id TEXT NOT NULL,"
    " comment TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS uc_schema(catalog TEXT NOT NULL, name TEXT NOT NULL,"
    " id TEXT NOT NULL, comment TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
    " PRIMARY KEY(catalog, name));"
    "CREATE TABLE IF NOT EXISTS uc_volume(catalog TEXT NOT NULL, schema TEXT NOT NULL,"
    " name TEXT NOT NULL, id TEXT NOT NULL, volume_type TEXT NOT NULL, comment TEXT,"
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
    " PRIMARY KEY(catalog, schema, name));"
    "CREATE TABLE IF NOT EXISTS uc_table(catalog TEXT NOT NULL, schema TEXT NOT NULL,"
    " name TEXT NOT NULL, id TEXT NOT NULL, table_type TEXT NOT NULL, format TEXT NOT NULL,"
    " comment TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
    " PRIMARY KEY(catalog, schema, name));"
    "CREATE TABLE IF NOT EXISTS uc_column(catalog TEXT NOT NULL, schema TEXT NOT NULL,"
    " tbl TEXT NOT NULL, position INTEGER NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,"
    " PRIMARY KEY(catalog, schema, tbl, position));";

static sqlite3 *open_conn(const char *path, char *errbuf, size_t errlen)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        snprintf(errbuf, errlen, "open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 15000);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA case_sensitive_like=ON;", NULL, NULL, NULL);
    sl__emu_cast_register(db);
    return db;
}

emu_store *sl__emu_store_open(const char *path, char *errbuf, size_t errlen)
{
    sqlite3 *db = open_conn(path, errbuf, errlen);
    if (!db)
        return NULL;
    emu_err e = {0};
    if (!sl__emu_db_exec(db, schema_sql, &e) || !sl__emu_ml_schema(db, &e)) {
        snprintf(errbuf, errlen, "init %s: %s", path, e.msg);
        sqlite3_close(db);
        return NULL;
    }
    emu_store *st = sl_xcalloc(1, sizeof(*st));
    st->path = sl_xstrdup(path);
    char *dir = sl_xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    st->volumes_root = sl_xasprintf("%s/volumes", slash ? dir : ".");
    free(dir);
    if (sl_mkdirs(st->volumes_root, NULL) != SL_OK) /* the failure surfaces at first use */
        sl_debug("emulator: mkdir %s: %s", st->volumes_root, strerror(errno));
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    st->free_dbs[st->n_free++] = db;
    st->n_open = 1;
    return st;
}

void sl__emu_store_close(emu_store *st)
{
    if (!st)
        return;
    for (int i = 0; i < st->n_free; i++)
        sqlite3_close(st->free_dbs[i]);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
    free(st->path);
    free(st->volumes_root);
    free(st);
}

const char *sl__emu_store_volumes_root(emu_store *st)
{
    return st->volumes_root;
}

sqlite3 *sl__emu_db_acquire(emu_store *st)
{
    pthread_mutex_lock(&st->mu);
    for (;;) {
        if (st->n_free > 0) {
            sqlite3 *db = st->free_dbs[--st->n_free];
            pthread_mutex_unlock(&st->mu);
            return db;
        }
        if (st->n_open < POOL_MAX) {
            st->n_open++;
            pthread_mutex_unlock(&st->mu);
            char eb[256];
            sqlite3 *db = open_conn(st->path, eb, sizeof(eb));
            if (db)
                return db;
            sl_error("emulator: %s", eb);
            pthread_mutex_lock(&st->mu);
            st->n_open--;
        }
        pthread_cond_wait(&st->cv, &st->mu);
    }
}

void sl__emu_db_release(emu_store *st, sqlite3 *db)
{
    if (!db)
        return;
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_lock(&st->mu);
    st->free_dbs[st->n_free++] = db;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

bool sl__emu_db_exec(sqlite3 *db, const char *sql, emu_err *e)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        sl__emu_err_set(e, EMU_E_INTERNAL, "INTERNAL_ERROR", "INTERNAL_ERROR", "XX000",
                        "state database: %s", msg ? msg : "error");
        sqlite3_free(msg);
        return false;
    }
    return true;
}

/* ---- small statement helpers */

static sqlite3_stmt *prep(sqlite3 *db, const char *sql, emu_err *e)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
        sl__emu_err_set(e, EMU_E_INTERNAL, "INTERNAL_ERROR", "INTERNAL_ERROR", "XX000",
                        "state database: %s", sqlite3_errmsg(db));
        return NULL;
    }
    return s;
}

static void bind_texts(sqlite3_stmt *s, int n, const char *const *v)
{
    for (int i = 0; i < n; i++)
        sqlite3_bind_text(s, i + 1, v[i], -1, SQLITE_TRANSIENT);
}

/* Count rows of `sql` with n text params; -1 on error. */
static int64_t count_q(sqlite3 *db, const char *sql, int n, const char *const *v, emu_err *e)
{
    sqlite3_stmt *s = prep(db, sql, e);
    if (!s)
        return -1;
    bind_texts(s, n, v);
    int64_t c = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    if (c < 0)
        sl__emu_err_set(e, EMU_E_INTERNAL, "INTERNAL_ERROR", "INTERNAL_ERROR", "XX000",
                        "state database: %s", sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return c;
}

static bool run_q(sqlite3 *db, const char *sql, int n, const char *const *v, emu_err *e)
{
    sqlite3_stmt *s = prep(db, sql, e);
    if (!s)
        return false;
    bind_texts(s, n, v);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        sl__emu_err_set(e, EMU_E_INTERNAL, "INTERNAL_ERROR", "INTERNAL_ERROR", "XX000",
                        "state database: %s", sqlite3_errmsg(db));
        return false;
    }
    return true;
}

/* Insert with created/updated = now and a fresh id; the texts come first. */
static bool insert_obj(sqlite3 *db, const char *sql, int n, const char *const *v, emu_err *e)
{
    sqlite3_stmt *s = prep(db, sql, e);
    if (!s)
        return false;
    bind_texts(s, n, v);
    char id[37];
    sl_uuid_new(id);
    sqlite3_bind_text(s, n + 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, n + 2, sl_now_ms());
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        sl__emu_err_set(e, EMU_E_INTERNAL, "INTERNAL_ERROR", "INTERNAL_ERROR", "XX000",
                        "state database: %s", sqlite3_errmsg(db));
        return false;
    }
    return true;
}

static bool begin(sqlite3 *db, emu_err *e)
{
    return sl__emu_db_exec(db, "BEGIN IMMEDIATE", e);
}

static bool finish(sqlite3 *db, bool ok, emu_err *e)
{
    if (ok)
        return sl__emu_db_exec(db, "COMMIT", e);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return false;
}

/* ---- existence checks with Databricks error classes */

static bool catalog_exists(sqlite3 *db, const char *cat, emu_err *e)
{
    const char *v[] = {cat};
    int64_t n = count_q(db, "SELECT count(*) FROM uc_catalog WHERE name=?", 1, v, e);
    if (n < 0)
        return false;
    if (n == 0) {
        sl__emu_err_set(e, EMU_E_NOT_FOUND, "CATALOG_DOES_NOT_EXIST", "NO_SUCH_CATALOG_EXCEPTION",
                        "42704", "Catalog '%s' does not exist.", cat);
        return false;
    }
    return true;
}

bool sl__emu_uc_schema_exists(sqlite3 *db, const char *cat, const char *sch, emu_err *e)
{
    if (!catalog_exists(db, cat, e))
        return false;
    const char *v[] = {cat, sch};
    int64_t n = count_q(db, "SELECT count(*) FROM uc_schema WHERE catalog=? AND name=?", 2, v, e);
    if (n < 0)
        return false;
    if (n == 0) {
        sl__emu_err_set(e, EMU_E_NOT_FOUND, "SCHEMA_DOES_NOT_EXIST", "SCHEMA_NOT_FOUND", "42704",
                        "The schema `%s`.`%s` cannot be found. Verify the spelling and "
                        "correctness of the schema and catalog.",
                        cat, sch);
        return false;
    }
    return true;
}

/* ---- create */

bool sl__emu_uc_catalog_create(sqlite3 *db, const char *name, const char *comment,
                               bool if_not_exists, emu_err *e)
{
    if (!begin(db, e))
        return false;
    const char *v[] = {name, comment};
    int64_t n = count_q(db, "SELECT count(*) FROM uc_catalog WHERE name=?", 1, v, e);
    bool ok = n >= 0;
    if (ok && n > 0) {
        if (!if_not_exists) {
            sl__emu_err_set(e, EMU_E_EXISTS, "CATALOG_ALREADY_EXISTS", "CATALOG_ALREADY_EXISTS",
                            "42P04", "Catalog '%s' already exists.", name);
            ok = false;
        }
        return finish(db, ok, e);
    }
    ok = ok && insert_obj(db,
                          "INSERT INTO uc_catalog(name, comment, id, created_at, updated_at)"
                          " VALUES(?1, ?2, ?3, ?4, ?4)",
                          2, v, e);
    const char *d[] = {name, NULL};
    ok = ok && insert_obj(db,
                          "INSERT INTO uc_schema(catalog, name, comment, id, created_at, updated_at)"
                          " VALUES(?1, 'default', ?2, ?3, ?4, ?4)",
                          2, d, e);
    return finish(db, ok, e);
}

bool sl__emu_uc_schema_create(sqlite3 *db, const char *cat, const char *name,
                              const char *comment, bool if_not_exists, emu_err *e)
{
    if (!begin(db, e))
        return false;
    bool ok = catalog_exists(db, cat, e);
    const char *v[] = {cat, name, comment};
    int64_t n = ok ? count_q(db, "SELECT count(*) FROM uc_schema WHERE catalog=? AND name=?", 2,
                             v, e)
                   : -1;
    ok = n >= 0;
    if (ok && n > 0) {
        if (!if_not_exists) {
            sl__emu_err_set(e, EMU_E_EXISTS, "SCHEMA_ALREADY_EXISTS", "SCHEMA_ALREADY_EXISTS",
                            "42P06", "Schema '%s.%s' already exists.", cat, name);
            ok = false;
        }
        return finish(db, ok, e);
    }
    ok = ok && insert_obj(db,
                          "INSERT INTO uc_schema(catalog, name, comment, id, created_at, updated_at)"
                          " VALUES(?, ?, ?, ?, ?5, ?5)",
                          3, v, e);
    return finish(db, ok, e);
}

static char *volume_dir(emu_store *st, const char *cat, const char *sch, const char *name)
{
    return sl_xasprintf("%s/%s/%s/%s", st->volumes_root, cat, sch, name);
}

bool sl__emu_uc_volume_create(emu_store *st, sqlite3 *db, const char *cat, const char *sch,
                              const char *name, const char *type, const char *comment,
                              bool if_not_exists, emu_err *e)
{
    if (!begin(db, e))
        return false;
    bool ok = sl__emu_uc_schema_exists(db, cat, sch, e);
    const char *v[] = {cat, sch, name, type ? type : "MANAGED", comment};
    int64_t n = ok ? count_q(db,
                             "SELECT count(*) FROM uc_volume WHERE catalog=? AND schema=? AND "
                             "name=?",
                             3, v, e)
                   : -1;
    ok = n >= 0;
    if (ok && n > 0) {
        if (!if_not_exists) {
            sl__emu_err_set(e, EMU_E_EXISTS, "RESOURCE_ALREADY_EXISTS", "VOLUME_ALREADY_EXISTS",
                            "42000", "Volume '%s.%s.%s' already exists.", cat, sch, name);
            ok = false;
        }
        return finish(db, ok, e);
    }
    ok = ok && insert_obj(db,
                          "INSERT INTO uc_volume(catalog, schema, name, volume_type, comment, id,"
                          " created_at, updated_at) VALUES(?, ?, ?, ?, ?, ?, ?7, ?7)",
                          5, v, e);
    if (ok) {
        char *dir = volume_dir(st, cat, sch, name);
        if (sl_mkdirs(dir, NULL) != SL_OK) {
            sl__emu_err_set(e, EMU_E_INTERNAL, "INTERNAL_ERROR", "INTERNAL_ERROR", "XX000",
                            "cannot create volume storage: %s", strerror(errno));
            ok = false;
        }
        free(dir);
    }
    return finish(db, ok, e);
}

/* ---- delete */

static bool drop_physical(sqlite3 *db, const char *cat, const char *sch, const char *tbl,
                          emu_err *e)
{
    char *phys = sl__emu_phys_name(cat, sch, tbl);
    sl_buf sb = {0};
    sl_buf_puts(&sb, "DROP TABLE IF EXISTS ");
    sl__sql_put_ident(&sb, phys);
    free(phys);
    bool ok = sl__emu_db_exec(db, sl_buf_str(&sb), e);
    sl_buf_free(&sb);
    const char *v[] = {cat, sch, tbl};
    ok = ok && run_q(db, "DELETE FROM uc_table WHERE catalog=? AND schema=? AND name=?", 3, v, e);
    ok = ok && run_q(db, "DELETE FROM uc_column WHERE catalog=? AND schema=? AND tbl=?", 3, v, e);
    return ok;
}

bool sl__emu_uc_table_drop(sqlite3 *db, const char *cat, const char *sch, const char *name,
                           bool if_exists, emu_err *e)
{
    if (!begin(db, e))
        return false;
    const char *v[] = {cat, sch, name};
    int64_t n = count_q(db, "SELECT count(*) FROM uc_table WHERE catalog=? AND schema=? AND name=?",
                        3, v, e);
    bool ok = n >= 0;
    if (ok && n == 0) {
        if (!if_exists) {
            sl__emu_err_set(e, EMU_E_NOT_FOUND, "TABLE_DOES_NOT_EXIST", "TABLE_OR_VIEW_NOT_FOUND",
                            "42P01",
                            "The table or view `%s`.`%s`.`%s` cannot be found. Verify the "
                            "spelling and correctness of the schema and catalog.",
                            cat, sch, name);
            ok = false;
        }
        return finish(db, ok, e);
    }
    ok = ok && drop_physical(db, cat, sch, name, e);
    return finish(db, ok, e);
}

static bool volume_delete_locked(emu_store *st, sqlite3 *db, const char *cat, const char *sch,
                                 const char *name, emu_err *e)
{
    const char *v[] = {cat, sch, name};
    if (!run_q(db, "DELETE FROM uc_volume WHERE catalog=? AND schema=? AND name=?", 3, v, e))
        return false;
    char *dir = volume_dir(st, cat, sch, name);
    sl__rmtree(dir);
    free(dir);
    return true;
}

bool sl__emu_uc_volume_delete(emu_store *st, sqlite3 *db, const char *cat, const char *sch,
                              const char *name, bool if_exists, emu_err *e)
{
    if (!begin(db, e))
        return false;
    const char *v[] = {cat, sch, name};
    int64_t n = count_q(db,
                        "SELECT count(*) FROM uc_volume WHERE catalog=? AND schema=? AND name=?",
                        3, v, e);
    bool ok = n >= 0;
    if (ok && n == 0) {
        if (!if_exists) {
            sl__emu_err_set(e, EMU_E_NOT_FOUND, "RESOURCE_DOES_NOT_EXIST", "VOLUME_NOT_FOUND",
                            "42704", "Volume '%s.%s.%s' does not exist.", cat, sch, name);
            ok = false;
        }
        return finish(db, ok, e);
    }
    ok = ok && volume_delete_locked(st, db, cat, sch, name, e);
    return finish(db, ok, e);
}

/* Drop everything in a schema (tables, volumes) and the schema row. */
static bool schema_drop_locked(emu_store *st, sqlite3 *db, const char *cat, const char *sch,
                               emu_err *e)
{
    bool ok = true;
    const char *v[] = {cat, sch};
    sqlite3_stmt *s = prep(db, "SELECT name FROM uc_table WHERE catalog=? AND schema=?", e);
    if (!s)
        return false;
    bind_texts(s, 2, v);
    char **names = NULL;
    size_t n = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        names = sl_xrealloc(names, (n + 1) * sizeof(*names));
        names[n++] = sl_xstrdup((const char *)sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
    for (size_t i = 0; i < n; i++) {
        ok = ok && drop_physical(db, cat, sch, names[i], e);
        free(names[i]);
    }
    free(names);
    names = NULL;
    n = 0;
    s = prep(db, "SELECT name FROM uc_volume WHERE catalog=? AND schema=?", e);
    if (!s)
        return false;
    bind_texts(s, 2, v);
    while (sqlite3_step(s) == SQLITE_ROW) {
        names = sl_xrealloc(names, (n + 1) * sizeof(*names));
        names[n++] = sl_xstrdup((const char *)sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
    for (size_t i = 0; i < n; i++) {
        ok = ok && volume_delete_locked(st, db, cat, sch, names[i], e);
        free(names[i]);
    }
    free(names);
    ok = ok && run_q(db, "DELETE FROM uc_schema WHERE catalog=? AND name=?", 2, v, e);
    return ok;
}

static int64_t schema_objects(sqlite3 *db, const char *cat, const char *sch, emu_err *e)
{
    const char *v[] = {cat, sch};
    return count_q(db,
                   "SELECT (SELECT count(*) FROM uc_table WHERE catalog=?1 AND schema=?2) +"
                   " (SELECT count(*) FROM uc_volume WHERE catalog=?1 AND schema=?2)",
                   2, v, e);
}

bool sl__emu_uc_schema_delete(emu_store *st, sqlite3 *db, const char *cat, const char *name,
                              bool force, bool if_exists, emu_err *e)
{
    if (!begin(db, e))
        return false;
    emu_err tmp = {0};
    bool ok = true;
    if (!sl__emu_uc_schema_exists(db, cat, name, &tmp)) {
        if (!if_exists || tmp.kind != EMU_E_NOT_FOUND) {
            *e = tmp;
            ok = false;
        }
        return finish(db, ok, e);
    }
    int64_t n = schema_objects(db, cat, name, e);
    ok = n >= 0;
    if (ok && n > 0 && !force) {
        sl__emu_err_set(e, EMU_E_NOT_EMPTY, "SCHEMA_NOT_EMPTY", "SCHEMA_NOT_EMPTY", "2BP01",
                        "Cannot drop a schema `%s`.`%s` because it contains objects. Use DROP "
                        "SCHEMA ... CASCADE to drop the schema and all its objects.",
                        cat, name);
        ok = false;
    }
    ok = ok && schema_drop_locked(st, db, cat, name, e);
    return finish(db, ok, e);
}

bool sl__emu_uc_catalog_delete(emu_store *st, sqlite3 *db, const char *name, bool force,
                               bool if_exists, emu_err *e)
{
    if (!begin(db, e))
        return false;
    emu_err tmp = {0};
    bool ok = true;
    if (!catalog_exists(db, name, &tmp)) {
        if (!if_exists || tmp.kind != EMU_E_NOT_FOUND) {
            *e = tmp;
            ok = false;
        }
        return finish(db, ok, e);
    }
    sqlite3_stmt *s = prep(db, "SELECT name FROM uc_schema WHERE catalog=?", e);
    if (!s)
        return finish(db, false, e);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    char **schemas = NULL;
    size_t n = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        schemas = sl_xrealloc(schemas, (n + 1) * sizeof(*schemas));
        schemas[n++] = sl_xstrdup((const char *)sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
    /* An empty `default` schema does not make a catalog non-empty. */
    for (size_t i = 0; i < n && ok && !force; i++) {
        int64_t objs = schema_objects(db, name, schemas[i], e);
        if (objs < 0 || objs > 0 || strcmp(schemas[i], "default") != 0) {
            if (objs >= 0)
                sl__emu_err_set(e, EMU_E_NOT_EMPTY, "CATALOG_NOT_EMPTY", "CATALOG_NOT_EMPTY",
                                "2BP01",
                                "Cannot drop catalog '%s' because it is not empty. Use "
                                "force=true (or DROP CATALOG ... CASCADE).",
                                name);
            ok = false;
        }
    }
    for (size_t i = 0; i < n; i++) {
        ok = ok && schema_drop_locked(st, db, name, schemas[i], e);
        free(schemas[i]);
    }
    free(schemas);
    const char *v[] = {name};
    ok = ok && run_q(db, "DELETE FROM uc_catalog WHERE name=?", 1, v, e);
    return finish(db, ok, e);
}

/* ---- get */

static json_t *row_json(sqlite3_stmt *s)
{
    json_t *o = sl_json_check(json_object());
    for (int i = 0; i < sqlite3_column_count(s); i++) {
        const char *k = sqlite3_column_name(s, i);
        switch (sqlite3_column_type(s, i)) {
        case SQLITE_INTEGER:
            json_object_set_new(o, k, json_integer(sqlite3_column_int64(s, i)));
            break;
        case SQLITE_NULL:
            break;
        default:
            json_object_set_new(o, k, json_string((const char *)sqlite3_column_text(s, i)));
        }
    }
    return o;
}

static json_t *get_row(sqlite3 *db, const char *sql, int n, const char *const *v, emu_err *e)
{
    sqlite3_stmt *s = prep(db, sql, e);
    if (!s)
        return NULL;
    bind_texts(s, n, v);
    json_t *o = sqlite3_step(s) == SQLITE_ROW ? row_json(s) : NULL;
    sqlite3_finalize(s);
    return o;
}

json_t *sl__emu_uc_catalog_get(sqlite3 *db, const char *name, emu_err *e)
{
    const char *v[] = {name};
    json_t *o = get_row(db, "SELECT * FROM uc_catalog WHERE name=?", 1, v, e);
    if (!o && e->kind == EMU_E_NONE)
        catalog_exists(db, name, e);
    return o;
}

json_t *sl__emu_uc_schema_get(sqlite3 *db, const char *cat, const char *name, emu_err *e)
{
    const char *v[] = {cat, name};
    json_t *o = get_row(db, "SELECT * FROM uc_schema WHERE catalog=? AND name=?", 2, v, e);
    if (!o && e->kind == EMU_E_NONE)
        sl__emu_uc_schema_exists(db, cat, name, e);
    return o;
}

json_t *sl__emu_uc_volume_get(sqlite3 *db, const char *cat, const char *sch, const char *name,
                              emu_err *e)
{
    const char *v[] = {cat, sch, name};
    json_t *o = get_row(db, "SELECT * FROM uc_volume WHERE catalog=? AND schema=? AND name=?", 3,
                        v, e);
    if (!o && e->kind == EMU_E_NONE && sl__emu_uc_schema_exists(db, cat, sch, e))
        sl__emu_err_set(e, EMU_E_NOT_FOUND, "RESOURCE_DOES_NOT_EXIST", "VOLUME_NOT_FOUND",
                        "42704", "Volume '%s.%s.%s' does not exist.", cat, sch, name);
    return o;
}

bool sl__emu_uc_volume_exists(sqlite3 *db, const char *cat, const char *sch, const char *name)
{
    emu_err e = {0};
    const char *v[] = {cat, sch, name};
    return count_q(db, "SELECT count(*) FROM uc_volume WHERE catalog=? AND schema=? AND name=?",
                   3, v, &e) > 0;
}

void sl__emu_table_info_free(emu_table_info *t)
{
    free(t->catalog);
    free(t->schema);
    free(t->name);
    free(t->id);
    free(t->comment);
    free(t->table_type);
    free(t->format);
    for (int i = 0; i < t->n_cols; i++)
        free(t->cols[i].name);
    free(t->cols);
    memset(t, 0, sizeof(*t));
}

static char *col_dup(sqlite3_stmt *s, int i)
{
    const char *t = (const char *)sqlite3_column_text(s, i);
    return t ? sl_xstrdup(t) : NULL;
}

bool sl__emu_uc_table_get(sqlite3 *db, const char *cat, const char *sch, const char *name,
                          emu_table_info *out, emu_err *e)
{
    memset(out, 0, sizeof(*out));
    const char *v[] = {cat, sch, name};
    sqlite3_stmt *s = prep(db,
                           "SELECT id, table_type, format, comment, created_at, updated_at FROM "
                           "uc_table WHERE catalog=? AND schema=? AND name=?",
                           e);
    if (!s)
        return false;
    bind_texts(s, 3, v);
    if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_finalize(s);
        if (sl__emu_uc_schema_exists(db, cat, sch, e))
            sl__emu_err_set(e, EMU_E_NOT_FOUND, "TABLE_DOES_NOT_EXIST", "TABLE_OR_VIEW_NOT_FOUND",
                            "42P01",
                            "The table or view `%s`.`%s`.`%s` cannot be found. Verify the "
                            "spelling and correctness of the schema and catalog.",
                            cat, sch, name);
        else if (e->kind == EMU_E_NOT_FOUND && strcmp(e->cls, "SCHEMA_NOT_FOUND") == 0)
            sl__emu_err_set(e, EMU_E_NOT_FOUND, "TABLE_DOES_NOT_EXIST", "TABLE_OR_VIEW_NOT_FOUND",
                            "42P01",
                            "The table or view `%s`.`%s`.`%s` cannot be found. Verify the "
                            "spelling and correctness of the schema and catalog.",
                            cat, sch, name);
        return false;
    }
    out->catalog = sl_xstrdup(cat);
    out->schema = sl_xstrdup(sch);
    out->name = sl_xstrdup(name);
    out->id = col_dup(s, 0);
    out->table_type = col_dup(s, 1);
    out->format = col_dup(s, 2);
    out->comment = col_dup(s, 3);
    out->created_at_ms = sqlite3_column_int64(s, 4);
    out->updated_at_ms = sqlite3_column_int64(s, 5);
    sqlite3_finalize(s);
    s = prep(db,
             "SELECT name, type FROM uc_column WHERE catalog=? AND schema=? AND tbl=? ORDER BY "
             "position",
             e);
    if (!s) {
        sl__emu_table_info_free(out);
        return false;
    }
    bind_texts(s, 3, v);
    while (sqlite3_step(s) == SQLITE_ROW) {
        out->cols = sl_xrealloc(out->cols, (size_t)(out->n_cols + 1) * sizeof(*out->cols));
        emu_type t = EMU_T_STRING;
        (void)sl__emu_type_parse((const char *)sqlite3_column_text(s, 1), &t);
        out->cols[out->n_cols].name = col_dup(s, 0);
        out->cols[out->n_cols].type = t;
        out->n_cols++;
    }
    sqlite3_finalize(s);
    return true;
}

char *sl__emu_phys_name(const char *cat, const char *sch, const char *tbl)
{
    return sl_xasprintf("%s.%s.%s", cat, sch, tbl);
}

bool sl__emu_uc_table_register(sqlite3 *db, const char *cat, const char *sch, const char *name,
                               const emu_column *cols, int n_cols, const char *format,
                               emu_err *e)
{
    const char *v[] = {cat, sch, name, format};
    if (!insert_obj(db,
                    "INSERT INTO uc_table(catalog, schema, name, format, table_type, id,"
                    " created_at, updated_at) VALUES(?, ?, ?, ?, 'MANAGED', ?, ?6, ?6)",
                    4, v, e))
        return false;
    sqlite3_stmt *s = prep(db,
                           "INSERT INTO uc_column(catalog, schema, tbl, position, name, type)"
                           " VALUES(?, ?, ?, ?, ?, ?)",
                           e);
    if (!s)
        return false;
    bool ok = true;
    for (int i = 0; i < n_cols && ok; i++) {
        sqlite3_reset(s);
        bind_texts(s, 3, v);
        sqlite3_bind_int(s, 4, i);
        sqlite3_bind_text(s, 5, cols[i].name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 6, sl__emu_type_text(cols[i].type), -1, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE) {
            sl__emu_err_set(e, EMU_E_INTERNAL, "INTERNAL_ERROR", "INTERNAL_ERROR", "XX000",
                            "state database: %s", sqlite3_errmsg(db));
            ok = false;
        }
    }
    sqlite3_finalize(s);
    return ok;
}

/* ---- the sample table behind the demo Genie space */

bool sl__emu_seed_samples(emu_store *st, emu_err *e)
{
    static const char *products[] = {"Alpine Jacket", "Trail Shoes", "Summit Backpack",
                                     "Camp Stove",    "Rain Shell",  "Wool Socks",
                                     "Headlamp",      "Water Filter"};
    static const double prices[] = {189.0, 129.5, 99.0, 59.99, 149.0, 14.5, 34.0, 44.95};
    static const char *regions[] = {"North", "South", "East", "West"};
    sqlite3 *db = sl__emu_db_acquire(st);
    bool ok = true;
    emu_table_info ti;
    emu_err tmp = {0};
    if (sl__emu_uc_table_get(db, "samples", "sales", "product_sales", &ti, &tmp)) {
        sl__emu_table_info_free(&ti);
        goto out;
    }
    ok = sl__emu_uc_catalog_create(db, "samples", "Sample data shipped with the emulator", true,
                                   e) &&
         sl__emu_uc_schema_create(db, "samples", "sales", NULL, true, e) && begin(db, e);
    if (!ok)
        goto out;
    ok = sl__emu_db_exec(db,
                         "CREATE TABLE \"samples.sales.product_sales\"(order_id INTEGER,"
                         " product_name TEXT, region TEXT, units INTEGER, total_value REAL,"
                         " order_date TEXT)",
                         e);
    sqlite3_stmt *s = ok ? prep(db,
                                "INSERT INTO \"samples.sales.product_sales\" VALUES(?,?,?,?,?,?)",
                                e)
                         : NULL;
    for (int i = 0; s && i < 50; i++) {
        int p = (i * 5 + i / 8) % 8, r = (i * 3 + 1) % 4, units = 1 + (i * 7) % 12;
        char date[11];
        snprintf(date, sizeof(date), "2024-%02d-%02d", 1 + i % 6, 1 + (i * 11) % 28);
        sqlite3_reset(s);
        sqlite3_bind_int(s, 1, 1001 + i);
        sqlite3_bind_text(s, 2, products[p], -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, regions[r], -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 4, units);
        sqlite3_bind_double(s, 5, (double)(int64_t)(units * prices[p] * 100 + 0.5) / 100.0);
        sqlite3_bind_text(s, 6, date, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(s) != SQLITE_DONE)
            ok = false;
    }
    sqlite3_finalize(s);
    static const emu_column cols[] = {
        {"order_id", EMU_T_BIGINT}, {"product_name", EMU_T_STRING}, {"region", EMU_T_STRING},
        {"units", EMU_T_BIGINT},    {"total_value", EMU_T_DOUBLE},  {"order_date", EMU_T_DATE},
    };
    ok = ok && sl__emu_uc_table_register(db, "samples", "sales", "product_sales", cols, 6, "DELTA",
                                         e);
    finish(db, ok, e);
out:
    sl__emu_db_release(st, db);
    return ok;
}
