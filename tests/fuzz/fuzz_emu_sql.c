/* fuzz_emu_sql.c - the emulator's Databricks SQL translator (src/emulator/sql_*.c: lexer,
 * expressions, SELECT, read_files, DDL and DML) on a real state database: one input is one
 * statement, run by sl__emu_sql_run as the statements API runs it, with parameters :n
 * (INT) and :s (STRING) bound and two volume files (CSV, JSON Lines) to read. Each input
 * starts from the same database, copied from a template made once, so a crash reproduces
 * from its one artifact. A statement gets 250 ms of CPU before it is canceled, as a client
 * cancels a slow statement. Properties: a failure carries an error class and a message; a
 * translated SELECT is one SQLite statement (sql_int.h invariant 1). */
#include <signal.h>
#include <stdatomic.h>
#include <sys/time.h>
#include <unistd.h>

#include "emulator_int.h"
#include "fuzz.h"

static char tmpl_path[600], db_path[600], raw_dir[700];
static uint8_t *tmpl;
static size_t tmpl_len;
static json_t *params;
static atomic_bool canceled;

static void on_alarm(int sig)
{
    (void)sig;
    atomic_store(&canceled, true);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    FUZZ_CHECK(f, "open %s", path);
    sl_buf b = SL_BUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        sl_buf_put(&b, chunk, n);
    fclose(f);
    *len = b.len;
    return (uint8_t *)sl_buf_take(&b);
}

static void put_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f && fwrite(data, 1, n, f) == n && fclose(f) == 0, "write %s", path);
}

static bool run(emu_store *st, const char *sql)
{
    emu_sql_ctx ctx = {.store = st,
                       .params = params,
                       .row_limit = 1000,
                       .max_result_bytes = 1 << 20,
                       .canceled = &canceled};
    emu_result res;
    emu_err e;
    atomic_store(&canceled, false);
    struct itimerval budget = {.it_value = {.tv_sec = 0, .tv_usec = 250000}};
    setitimer(ITIMER_PROF, &budget, NULL);
    bool ok = sl__emu_sql_run(&ctx, sql, &res, &e);
    struct itimerval off = {0};
    setitimer(ITIMER_PROF, &off, NULL);
    if (ok)
        sl__emu_result_free(&res);
    else
        FUZZ_CHECK(e.kind != EMU_E_NONE && e.cls[0] && e.msg[0], "'%s' failed silently", sql);
    if (!ok && !tmpl) /* setting up the template: say which statement failed */
        fprintf(stderr, "fuzz_emu_sql: %s: %s\n", sql, e.msg);
    return ok;
}

/* sql_int.h invariant (1): whatever the input, a translated SELECT is exactly one SQLite
 * statement, so text smuggled into a literal or identifier can never run as a second one. */
static void check_translation(emu_store *st, const char *sql)
{
    emu_sql_ctx ctx = {.store = st, .params = params};
    emu_err e;
    char *out = sl__emu_sql_translate(&ctx, sql, &e);
    if (!out)
        return;
    sqlite3 *db = sl__emu_db_acquire(st);
    sqlite3_stmt *stmt = NULL;
    const char *tail = NULL;
    int rc = sqlite3_prepare_v2(db, out, -1, &stmt, &tail);
    if (rc == SQLITE_OK) {
        while (tail && (*tail == ' ' || *tail == '\n' || *tail == '\t'))
            tail++;
        FUZZ_CHECK(!tail || !*tail, "'%s' translated to more than one statement: %s", sql, out);
    }
    sqlite3_finalize(stmt);
    sl__emu_db_release(st, db);
    free(out);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sl_log_set_level(SL_LOG_OFF);
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGPROF, &sa, NULL);
    const char *dir = fuzz_scratch_dir();
    char tdir[560];
    snprintf(tdir, sizeof(tdir), "%s/template", dir);
    FUZZ_CHECK(sl_mkdirs(tdir, NULL) == SL_OK, "mkdir %s", tdir);
    snprintf(tmpl_path, sizeof(tmpl_path), "%s/emulator.db", tdir);
    snprintf(db_path, sizeof(db_path), "%s/emulator.db", dir);
    snprintf(raw_dir, sizeof(raw_dir), "%s/volumes/main/default/raw", dir);
    params = json_pack("[{s:s,s:s,s:s},{s:s,s:s}]", "name", "n", "value", "7", "type", "INT",
                       "name", "s", "value", "North");
    char eb[256];
    emu_store *st = sl__emu_store_open(tmpl_path, eb, sizeof(eb));
    FUZZ_CHECK(st, "%s", eb);
    emu_err e = {0};
    sqlite3 *c = sl__emu_db_acquire(st);
    FUZZ_CHECK(sl__emu_uc_catalog_create(c, "main", NULL, true, &e), "%s", e.msg);
    sl__emu_db_release(st, c);
    FUZZ_CHECK(sl__emu_seed_samples(st, &e), "%s", e.msg);
    canceled = false;
    bool ok = true;
    ok = ok && run(st, "CREATE SCHEMA IF NOT EXISTS main.default");
    ok = ok && run(st, "CREATE VOLUME IF NOT EXISTS main.default.raw");
    ok = ok && run(st, "CREATE TABLE main.default.t AS SELECT 1 AS id, 'a' AS name, 1.5 AS price, "
                       "true AS ok, CAST('2024-01-02' AS DATE) AS d");
    ok = ok && run(st, "INSERT INTO main.default.t VALUES (2, NULL, NULL, false, NULL)");
    FUZZ_CHECK(ok, "the template database");
    sl__emu_store_close(st); /* the last connection checkpoints the WAL into the file */
    tmpl = slurp(tmpl_path, &tmpl_len);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char csv[] = "id,name,amount,when\n1,apple,2.5,2024-01-01\n2,\"b,c\",,"
                              "2024-02-30\n3,x,1e3,2024-03-01T10:00:00Z\n";
    static const char jsonl[] = "{\"id\":1,\"name\":\"a\",\"v\":1.5,\"ok\":true}\n\n"
                                "{\"id\":2,\"v\":\"x\",\"tags\":[1,2],\"o\":{\"k\":null}}\n";
    char wal[620], shm[620], path[760];
    snprintf(wal, sizeof(wal), "%s-wal", db_path);
    snprintf(shm, sizeof(shm), "%s-shm", db_path);
    unlink(wal);
    unlink(shm);
    put_file(db_path, tmpl, tmpl_len);
    FUZZ_CHECK(sl_mkdirs(raw_dir, NULL) == SL_OK, "mkdir %s", raw_dir);
    snprintf(path, sizeof(path), "%s/orders.csv", raw_dir);
    put_file(path, csv, sizeof(csv) - 1);
    snprintf(path, sizeof(path), "%s/events.json", raw_dir);
    put_file(path, jsonl, sizeof(jsonl) - 1);

    char eb[256];
    emu_store *st = sl__emu_store_open(db_path, eb, sizeof(eb));
    FUZZ_CHECK(st, "%s", eb);
    char *sql = fuzz_strndup(data, size);
    check_translation(st, sql);
    run(st, sql);
    free(sql);
    sl__emu_store_close(st);
    return 0;
}
