/* test_store.c - the engine database: migrations and refusals, conditional run versions,
 * ordered history, activity task leases (lease, take, retry, heartbeat, expiry), first opens
 * racing from several processes, read-only opens of a database that does not exist yet, is
 * blank, is older or is being migrated, background checkpoints keeping the WAL bounded, and the
 * fault hook (BUSY / IOERR on the Nth statement) never leaving half a transaction. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "sluice/store.h"

static char dir[64];
static char path[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/sluice-test-store.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof(path), "%s/t.db", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Open p (bg: checkpoint in the background); on failure *st is NULL and err says why. */
static sl_code try_open(const char *p, bool bg, sl_store **st, sl_err *err)
{
    sl_store_opts o;
    sl_store_opts_init(&o);
    o.path = p;
    o.background_checkpoint = bg;
    *st = NULL;
    sl_err_clear(err);
    return sl_store_open(&o, st, err);
}

static sl_store *open_db_bg(bool bg)
{
    sl_store *st;
    sl_err err;
    assert_int_equal(try_open(path, bg, &st, &err), SL_OK);
    return st;
}

static sl_store *open_db(void)
{
    return open_db_bg(false);
}

static void exec(const char *p, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void new_database_is_migrated_and_reopens(void **state)
{
    (void)state;
    sl_store *st = open_db();
    sl_store_close(st);
    st = open_db();
    assert_int_equal(sl_store_integrity_check(st, NULL), SL_OK);
    sl_store_close(st);
}

static void newer_schema_and_foreign_files_are_refused(void **state)
{
    (void)state;
    sl_store_close(open_db());
    exec(path, "PRAGMA user_version=999");
    sl_store_opts o;
    sl_store_opts_init(&o);
    o.path = path;
    sl_store *st = NULL;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_store_open(&o, &st, &err), SL_ESCHEMA);
    assert_null(st);
    assert_non_null(strstr(err.msg, "newer"));

    char other[160];
    snprintf(other, sizeof(other), "%s/other.db", dir);
    exec(other, "CREATE TABLE t(x)");
    o.path = other;
    assert_int_equal(sl_store_open(&o, &st, &err), SL_ESCHEMA);
    assert_non_null(strstr(err.msg, "not a Sluice database"));

    snprintf(other, sizeof(other), "%s/text.db", dir);
    FILE *f = fopen(other, "w");
    fputs("this is plainly not an sqlite file, it is some text that goes on and on......", f);
    fclose(f);
    o.path = other;
    assert_int_equal(sl_store_open(&o, &st, &err), SL_ESCHEMA);
}

/* Paths that are not database files are refused at once: a FIFO (whose open would block
 * forever), a device, and the empty path (a throw-away temporary database in SQLite). */
static void fifo_device_and_empty_paths_are_refused(void **state)
{
    (void)state;
    char fifo[160];
    snprintf(fifo, sizeof(fifo), "%s/fifo.db", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    const char *bad[] = {fifo, "/dev/null", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        for (int ro = 0; ro < 2; ro++) {
            sl_store_opts o;
            sl_store_opts_init(&o);
            o.path = bad[i];
            o.read_only = ro;
            sl_store *st = NULL;
            sl_err err;
            sl_err_clear(&err);
            alarm(10); /* a blocked open fails the test instead of hanging it */
            assert_int_not_equal(sl_store_open(&o, &st, &err), SL_OK);
            alarm(0);
            assert_null(st);
            assert_true(strstr(err.msg, "not a regular file") || strstr(err.msg, "empty"));
        }
    }
}

/* A read of a path that cannot name a file (through a regular file, a symlink loop) is an
 * error, not a database that does not exist yet (which reads as empty). */
static void unreachable_paths_are_refused_not_read_as_empty(void **state)
{
    (void)state;
    char plain[160], under[200], loop[160];
    snprintf(plain, sizeof(plain), "%s/plain", dir);
    snprintf(under, sizeof(under), "%s/x.db", plain);
    snprintf(loop, sizeof(loop), "%s/loop.db", dir);
    FILE *f = fopen(plain, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(symlink(loop, loop), 0);
    const char *bad[] = {under, loop};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sl_store_opts o;
        sl_store_opts_init(&o);
        o.path = bad[i];
        o.read_only = true;
        sl_store *st = NULL;
        sl_err err;
        sl_err_clear(&err);
        assert_int_not_equal(sl_store_open(&o, &st, &err), SL_OK);
        assert_null(st);
        assert_non_null(strstr(err.msg, "cannot open database"));
    }
}

/*
 * Several processes opening one new file at the same moment (a worker and a CLI command
 * started together) must all succeed: none may mistake the file another is migrating for a
 * foreign database. The children wait on a pipe so they start together.
 */
static void concurrent_first_opens_all_succeed(void **state)
{
    (void)state;
    enum { ROUNDS = 30, PROCS = 4 };
    for (int round = 0; round < ROUNDS; round++) {
        char p[160];
        snprintf(p, sizeof(p), "%s/c%d.db", dir, round);
        int gate[2];
        assert_int_equal(pipe(gate), 0);
        pid_t pids[PROCS];
        for (int i = 0; i < PROCS; i++) {
            pids[i] = fork();
            assert_true(pids[i] >= 0);
            if (pids[i] == 0) {
                close(gate[1]);
                char b;
                (void)!read(gate[0], &b, 1); /* returns 0 when the parent closes the pipe */
                sl_store *st;
                sl_err err;
                sl_code rc = try_open(p, false, &st, &err);
                if (rc != SL_OK)
                    fprintf(stderr, "child %d: %s\n", i, err.msg);
                sl_store_close(st);
                _exit(rc == SL_OK ? 0 : 1);
            }
        }
        close(gate[0]);
        close(gate[1]);
        int failed = 0;
        for (int i = 0; i < PROCS; i++) {
            int status = 0;
            assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                failed++;
        }
        assert_int_equal(failed, 0);
    }
}

static sl_code try_open_ro(const char *p, sl_store **st, sl_err *err)
{
    sl_store_opts o;
    sl_store_opts_init(&o);
    o.path = p;
    o.read_only = true;
    *st = NULL;
    sl_err_clear(err);
    return sl_store_open(&o, st, err);
}

static int64_t runs_in(sl_store *st)
{
    sl_run_filter f;
    sl_run_filter_init(&f);
    int64_t n = -1;
    assert_int_equal(sl_store_runs_count(st, &f, &n, NULL), SL_OK);
    return n;
}

static int64_t file_size(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

static int64_t elapsed_ms(int64_t since_ns)
{
    return (sl_mono_ns() - since_ns) / 1000000;
}

/* A read of a database that does not exist yet answers as an empty one does, creates no file,
 * and the stand-in it reads takes no writes; a blank file (a first open killed before it wrote
 * anything) reads the same and stays blank. */
static void missing_or_blank_database_reads_empty_and_is_not_created(void **state)
{
    (void)state;
    sl_store *st;
    sl_err err;
    assert_int_equal(try_open_ro(path, &st, &err), SL_OK);
    assert_true(sl_store_is_stand_in(st));
    assert_int_equal(runs_in(st), 0);
    sl_run_row r;
    assert_int_equal(sl_store_run_find(st, "ghost", NULL, &r, NULL), SL_ENOTFOUND);
    sl_run_row w;
    memset(&w, 0, sizeof(w));
    snprintf(w.run_id, sizeof(w.run_id), "00000000-0000-4000-8000-000000000001");
    w.workflow_id = "wf";
    w.type = "t";
    w.task_queue = "q";
    w.start_ms = 1;
    w.next_event_id = 1;
    assert_int_not_equal(sl_store_run_insert(st, &w, NULL), SL_OK);
    sl_store_close(st);
    assert_int_equal(file_size(path), -1);

    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    int64_t t0 = sl_mono_ns();
    assert_int_equal(try_open_ro(path, &st, &err), SL_OK);
    assert_true(elapsed_ms(t0) < 2000); /* nobody migrates it: no waiting for the busy timeout */
    assert_true(sl_store_is_stand_in(st));
    assert_int_equal(runs_in(st), 0);
    sl_store_close(st);
    assert_int_equal(file_size(path), 0);

    /* a write opens the same blank file as a new database */
    st = open_db();
    assert_false(sl_store_is_stand_in(st));
    sl_store_close(st);
}

/* A database really at an older level, which nobody is migrating, is refused at once with one
 * line saying a write upgrades it; reading it changes nothing. */
static void older_database_is_refused_by_reads(void **state)
{
    (void)state;
    sl_store_close(open_db());
    exec(path, "PRAGMA user_version=3");
    sl_store *st;
    sl_err err;
    int64_t t0 = sl_mono_ns();
    assert_int_equal(try_open_ro(path, &st, &err), SL_ESCHEMA);
    assert_null(st);
    assert_true(elapsed_ms(t0) < 2000);
    assert_non_null(strstr(err.msg, "is older than this sluice (schema level 3"));
    assert_non_null(strstr(err.msg, "any command that writes upgrades it"));
    assert_null(strchr(err.msg, '\n'));
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 3);
    sqlite3_finalize(s);
    sqlite3_close(db);
}

/* The schema of a current database, as statements, and its level (see migrating_thread). */
struct migration {
    char *sql; /* every CREATE of the template's schema, ';'-separated */
    int level;
    int64_t hold_ms; /* how long the migration takes */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool locked; /* the migrating thread holds BEGIN IMMEDIATE */
    int64_t committed_ns;
    int rc; /* SQLite code of the first failure, SQLITE_OK */
};

static void migration_load(struct migration *m, const char *template_path)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(template_path, &db), SQLITE_OK);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT group_concat(sql, ';') FROM sqlite_master WHERE "
                                        "sql IS NOT NULL AND name NOT LIKE 'sqlite_%'",
                                        -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    m->sql = strdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    m->level = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
}

/*
 * What a first writer does to a new file, as sl_store_open does it: WAL mode, then the whole
 * migration in one BEGIN IMMEDIATE transaction, which here takes hold_ms - the time another
 * process's migration takes is part of the scenario, not a wait for this test's threads.
 */
static void *migrating_thread(void *arg)
{
    struct migration *m = arg;
    sqlite3 *db;
    int rc = sqlite3_open(path, &db);
    sqlite3_busy_timeout(db, 5000);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    pthread_mutex_lock(&m->mu);
    m->locked = true;
    m->rc = rc;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, m->sql, NULL, NULL, NULL);
    char pragmas[128];
    snprintf(pragmas, sizeof(pragmas), "PRAGMA user_version=%d; PRAGMA application_id=%d", m->level,
             0x534C4345);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, pragmas, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        sl_sleep_ms(m->hold_ms);
    int64_t before_commit = sl_mono_ns();
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    pthread_mutex_lock(&m->mu);
    m->committed_ns = before_commit;
    if (m->rc == SQLITE_OK)
        m->rc = rc;
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

/*
 * A read-only open of a file another connection is migrating (level 0, its migration not yet
 * committed: the race of a read with the first worker on a new database) waits for the
 * migration's commit and then reads the migrated database - it neither refuses the file as
 * old nor reads it as empty. Before the fix it failed with "needs a schema upgrade".
 */
static void read_only_open_waits_for_a_concurrent_migration(void **state)
{
    (void)state;
    char template_path[160];
    snprintf(template_path, sizeof(template_path), "%s/template.db", dir);
    sl_store *st;
    sl_err err;
    assert_int_equal(try_open(template_path, false, &st, &err), SL_OK);
    sl_store_close(st);
    struct migration m = {.hold_ms = 300,
                          .mu = PTHREAD_MUTEX_INITIALIZER,
                          .cv = PTHREAD_COND_INITIALIZER,
                          .rc = SQLITE_OK};
    migration_load(&m, template_path);
    assert_int_equal(m.level, sl_store_schema_version());
    FILE *f = fopen(path, "w"); /* as sl_store_open creates it, before SQLite writes anything */
    assert_non_null(f);
    fclose(f);

    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, migrating_thread, &m), 0);
    pthread_mutex_lock(&m.mu);
    while (!m.locked)
        pthread_cond_wait(&m.cv, &m.mu);
    int rc_locked = m.rc;
    pthread_mutex_unlock(&m.mu);
    assert_int_equal(rc_locked, SQLITE_OK);

    sl_code rc = try_open_ro(path, &st, &err);
    int64_t opened_ns = sl_mono_ns();
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(m.rc, SQLITE_OK);
    if (rc != SL_OK)
        fail_msg("read-only open during a migration: %s", err.msg);
    assert_false(sl_store_is_stand_in(st));
    assert_true(opened_ns >= m.committed_ns); /* it waited for the commit */
    assert_int_equal(runs_in(st), 0);
    sl_store_close(st);
    free(m.sql);
}

static sl_store *with_run_bg(int64_t *run_pk, bool bg)
{
    sl_store *st = open_db_bg(bg);
    sl_run_row r;
    memset(&r, 0, sizeof(r));
    snprintf(r.run_id, sizeof(r.run_id), "00000000-0000-4000-8000-000000000001");
    r.workflow_id = "wf";
    r.type = "t";
    r.task_queue = "q";
    r.start_ms = 1;
    r.next_event_id = 1;
    assert_int_equal(sl_store_begin(st, NULL), SL_OK);
    assert_int_equal(sl_store_run_insert(st, &r, NULL), SL_OK);
    assert_int_equal(sl_store_commit(st, NULL), SL_OK);
    *run_pk = r.run_pk;
    return st;
}

static sl_store *with_run(int64_t *run_pk)
{
    return with_run_bg(run_pk, false);
}

static bool count_cb(const sl_event_row *ev, void *arg)
{
    int64_t *n = arg;
    assert_int_equal(ev->event_id, *n + 1);
    (*n)++;
    return true;
}

static bool last_id_cb(const sl_event_row *ev, void *arg)
{
    *(int64_t *)arg = ev->event_id;
    return true;
}

/* A writer with background checkpoints, killed with SIGKILL at several points (some while a
 * checkpoint runs): the database opens, passes integrity_check, holds every transaction the
 * writer saw committed, and no half transaction. */
static void kill9_during_background_checkpoints_loses_nothing(void **state)
{
    (void)state;
    enum { PER_TX = 30 };
    static const int kill_after[] = {20, 45, 140, 333, 610};
    int64_t run_pk;
    sl_store_close(with_run(&run_pk));
    for (size_t round = 0; round < sizeof(kill_after) / sizeof(kill_after[0]); round++) {
        int acks[2];
        assert_int_equal(pipe(acks), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(acks[0]);
            sl_store *st = open_db_bg(true);
            char attrs[2049];
            memset(attrs, 'y', 2048);
            attrs[0] = attrs[2047] = '"';
            attrs[2048] = '\0';
            int64_t n = 0;
            if (sl_store_events_scan(st, run_pk, 1, 0, last_id_cb, &n, NULL) != SL_OK)
                _exit(3);
            for (;;) {
                if (sl_store_begin(st, NULL) != SL_OK)
                    _exit(4);
                for (int k = 0; k < PER_TX; k++) {
                    n++;
                    sl_event_row ev = {.event_id = n, .type = "Marker", .time_ms = n,
                                       .attrs = attrs, .attrs_len = 2048};
                    if (sl_store_event_insert(st, run_pk, &ev, NULL) != SL_OK)
                        _exit(5);
                }
                if (sl_store_commit(st, NULL) != SL_OK)
                    _exit(6);
                if (write(acks[1], &n, sizeof(n)) != sizeof(n))
                    _exit(7);
            }
        }
        close(acks[1]);
        int64_t acked = 0, v;
        int seen = 0;
        while (seen < kill_after[round] && read(acks[0], &v, sizeof(v)) == sizeof(v)) {
            acked = v;
            seen++;
        }
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        close(acks[0]);
        assert_int_equal(seen, kill_after[round]);
        sl_store *st = open_db();
        assert_int_equal(sl_store_integrity_check(st, NULL), SL_OK);
        int64_t n = 0;
        assert_int_equal(sl_store_events_scan(st, run_pk, 1, 0, count_cb, &n, NULL), SL_OK);
        sl_store_close(st);
        assert_true(n >= acked);
        assert_int_equal(n % PER_TX, 0);
    }
}

/*
 * With background checkpoints, 48 MiB of history written in 400 transactions without a
 * pause: the WAL stays bounded (the writer finishes each checkpoint the background thread
 * started, so the WAL restarts), and every event is there after reopening.
 */
static void background_checkpoints_keep_the_wal_bounded(void **state)
{
    (void)state;
    int64_t run_pk;
    sl_store *st = with_run_bg(&run_pk, true);
    char *attrs = malloc(4097);
    assert_non_null(attrs);
    memset(attrs, 'x', 4096);
    attrs[0] = '"';
    attrs[4095] = '"';
    attrs[4096] = '\0';
    char wal[160];
    snprintf(wal, sizeof(wal), "%s-wal", path);
    int64_t id = 1, max_wal = 0;
    for (int tx = 0; tx < 400; tx++) {
        assert_int_equal(sl_store_begin(st, NULL), SL_OK);
        for (int k = 0; k < 30; k++, id++) {
            sl_event_row ev = {.event_id = id, .type = "Marker", .time_ms = id,
                               .attrs = attrs, .attrs_len = 4096};
            assert_int_equal(sl_store_event_insert(st, run_pk, &ev, NULL), SL_OK);
        }
        assert_int_equal(sl_store_commit(st, NULL), SL_OK);
        struct stat sb;
        if (stat(wal, &sb) == 0 && sb.st_size > max_wal)
            max_wal = sb.st_size;
    }
    free(attrs);
    sl_store_close(st);
    fprintf(stderr, "largest WAL %lld bytes for %lld bytes written\n", (long long)max_wal,
            (long long)(id - 1) * 4096);
    assert_true(max_wal > 0);
    assert_true(max_wal < 32 * 1024 * 1024);
    st = open_db();
    int64_t n = 0;
    assert_int_equal(sl_store_events_scan(st, run_pk, 1, 0, count_cb, &n, NULL), SL_OK);
    assert_int_equal(n, id - 1);
    assert_int_equal(sl_store_integrity_check(st, NULL), SL_OK);
    sl_store_close(st);
}

static void run_versions_are_conditional_and_history_ordered(void **state)
{
    (void)state;
    int64_t pk;
    sl_store *st = with_run(&pk);
    bool ok;
    assert_int_equal(sl_store_begin(st, NULL), SL_OK);
    assert_int_equal(sl_store_run_advance(st, pk, 1, 4, 10, &ok, NULL), SL_OK);
    assert_true(ok);
    for (int i = 1; i <= 3; i++) {
        sl_event_row ev = {.event_id = i, .type = "X", .time_ms = i, .attrs = "{}", .attrs_len = 2};
        assert_int_equal(sl_store_event_insert(st, pk, &ev, NULL), SL_OK);
    }
    /* a writer that read version 1 loses */
    assert_int_equal(sl_store_run_advance(st, pk, 1, 2, 10, &ok, NULL), SL_OK);
    assert_false(ok);
    /* events are append-only: the same id cannot be written twice */
    sl_event_row dup = {.event_id = 2, .type = "Y", .time_ms = 9, .attrs = "{}", .attrs_len = 2};
    assert_int_not_equal(sl_store_event_insert(st, pk, &dup, NULL), SL_OK);
    assert_int_equal(sl_store_commit(st, NULL), SL_OK);
    int64_t n = 0;
    assert_int_equal(sl_store_events_scan(st, pk, 1, 0, count_cb, &n, NULL), SL_OK);
    assert_int_equal(n, 3);
    int64_t v;
    int status;
    assert_int_equal(sl_store_run_version(st, pk, &v, &status, NULL), SL_OK);
    assert_int_equal(v, 4);
    sl_store_close(st);
}

static int leased;
static int64_t leased_id;
static void lease_cb(const sl_act_task_row *t, void *arg)
{
    (void)arg;
    leased++;
    leased_id = t->task_id;
    assert_string_equal(t->lease_owner, "A");
    assert_int_equal(t->lease_expiry, 1000 + 500); /* heartbeat timeout wins over s2c */
}

static void leases_are_exclusive_and_checked(void **state)
{
    (void)state;
    int64_t pk;
    sl_store *st = with_run(&pk);
    sl_act_task_row t;
    memset(&t, 0, sizeof(t));
    t.run_pk = pk;
    t.queue = "q";
    t.activity_type = "a";
    t.start_to_close_ms = 60000;
    t.heartbeat_ms = 500;
    t.scheduled_ms = 900;
    t.visible_at = 900;
    assert_int_equal(sl_store_begin(st, NULL), SL_OK);
    assert_int_equal(sl_store_act_insert(st, &t, NULL), SL_OK);
    leased = 0;
    assert_int_equal(sl_store_act_lease(st, "q", 1000, "A", 10, lease_cb, NULL, NULL), SL_OK);
    assert_int_equal(leased, 1);
    assert_int_equal(leased_id, t.task_id);
    /* nobody else gets it while it is leased */
    assert_int_equal(sl_store_act_lease(st, "q", 1000, "B", 10, lease_cb, NULL, NULL), SL_OK);
    assert_int_equal(leased, 1);
    bool found, cancel;
    assert_int_equal(sl_store_act_heartbeat(st, t.task_id, "B", 1, NULL, 2000, &found, &cancel,
                                            NULL),
                     SL_OK);
    assert_false(found);
    assert_int_equal(sl_store_act_take(st, t.task_id, "B", 1, &found, NULL), SL_OK);
    assert_false(found);
    /* the holder schedules a retry: attempt 2, visible later, lease cleared */
    assert_int_equal(sl_store_act_retry(st, t.task_id, "A", 1, 5000, 0, "{}", &found, NULL),
                     SL_OK);
    assert_true(found);
    assert_int_equal(sl_store_act_lease(st, "q", 4999, "B", 10, lease_cb, NULL, NULL), SL_OK);
    assert_int_equal(leased, 1);
    /* a stale completion of attempt 1 is refused */
    assert_int_equal(sl_store_act_take(st, t.task_id, "A", 1, &found, NULL), SL_OK);
    assert_false(found);
    assert_int_equal(sl_store_commit(st, NULL), SL_OK);
    sl_store_close(st);
}

static int expired;
static void expired_cb(const sl_act_task_row *t, void *arg)
{
    (void)t;
    (void)arg;
    expired++;
}

static void expired_leases_and_deadlines_are_found(void **state)
{
    (void)state;
    int64_t pk;
    sl_store *st = with_run(&pk);
    sl_act_task_row t;
    memset(&t, 0, sizeof(t));
    t.run_pk = pk;
    t.queue = "q";
    t.activity_type = "a";
    t.start_to_close_ms = 100;
    t.visible_at = 0;
    t.lease_owner = "A";
    t.lease_expiry = 100;
    t.started_ms = 0;
    assert_int_equal(sl_store_begin(st, NULL), SL_OK);
    assert_int_equal(sl_store_act_insert(st, &t, NULL), SL_OK);
    t.lease_owner = NULL;
    t.deadline = 300; /* schedule-to-start */
    assert_int_equal(sl_store_act_insert(st, &t, NULL), SL_OK);
    expired = 0;
    assert_int_equal(sl_store_act_expired(st, 50, 10, expired_cb, NULL, NULL), SL_OK);
    assert_int_equal(expired, 0);
    assert_int_equal(sl_store_act_expired(st, 200, 10, expired_cb, NULL, NULL), SL_OK);
    assert_int_equal(expired, 1);
    expired = 0;
    assert_int_equal(sl_store_act_expired(st, 400, 10, expired_cb, NULL, NULL), SL_OK);
    assert_int_equal(expired, 2);
    assert_int_equal(sl_store_commit(st, NULL), SL_OK);
    sl_store_close(st);
}

static int64_t runnable_at(sl_store *st, const char *queue, int64_t now)
{
    int64_t n = -1;
    assert_int_equal(sl_store_queue_runnable(st, queue, now, &n, NULL), SL_OK);
    return n;
}

static int64_t pending_on(sl_store *st, const char *queue)
{
    int64_t n = -1;
    assert_int_equal(sl_store_queue_pending(st, queue, &n, NULL), SL_OK);
    return n;
}

/* "Runnable now" counts what a worker could do at that moment - visible workflow and activity
 * tasks, leases and deadlines the reaper would time out, due timers - and not a timer or a
 * retry due later, nor a live lease; "pending" counts all of them (what --exit-when-idle
 * waits for). */
static void runnable_counts_only_what_is_due_now(void **state)
{
    (void)state;
    int64_t pk;
    sl_store *st = with_run(&pk);
    assert_int_equal(sl_store_begin(st, NULL), SL_OK);
    assert_int_equal(sl_store_timer_insert(st, pk, 1, 10000, "q", NULL), SL_OK);
    sl_act_task_row t;
    memset(&t, 0, sizeof(t));
    t.run_pk = pk;
    t.queue = "q";
    t.activity_type = "a";
    t.start_to_close_ms = 60000;
    t.visible_at = 5000; /* a retry due at 5 s */
    assert_int_equal(sl_store_act_insert(st, &t, NULL), SL_OK);
    t.seq = 2;
    t.visible_at = 0;
    t.lease_owner = "other-worker";
    t.lease_expiry = 8000;
    assert_int_equal(sl_store_act_insert(st, &t, NULL), SL_OK);
    assert_int_equal(sl_store_commit(st, NULL), SL_OK);
    assert_int_equal(runnable_at(st, "q", 1000), 0);
    assert_int_equal(pending_on(st, "q"), 3);
    assert_int_equal(runnable_at(st, "q", 5000), 1);  /* the retry */
    assert_int_equal(runnable_at(st, "q", 8001), 2);  /* + the expired lease */
    assert_int_equal(runnable_at(st, "q", 10000), 3); /* + the timer */
    assert_int_equal(runnable_at(st, "other", 10000), 0);
    /* a workflow task counts from its visible time */
    assert_int_equal(sl_store_begin(st, NULL), SL_OK);
    assert_int_equal(sl_store_wft_ensure(st, pk, "q", 2000, NULL), SL_OK);
    assert_int_equal(sl_store_commit(st, NULL), SL_OK);
    assert_int_equal(runnable_at(st, "q", 1999), 0);
    assert_int_equal(runnable_at(st, "q", 2000), 1);
    sl_store_close(st);
}

/* ---- fault injection ------------------------------------------------------------- */

/* What a second connection sees of run pk: the run's version and history size, its events,
 * activity tasks, timers and pending workflow task. */
typedef struct seen {
    int64_t version, history_bytes, n_events, n_acts, next_timer, wft_at;
} seen;

static void count_act_cb(const sl_act_task_row *t, void *arg)
{
    (void)t;
    (*(int64_t *)arg)++;
}

static seen look(sl_store *st, int64_t pk)
{
    seen v;
    memset(&v, 0, sizeof(v));
    sl_run_row r;
    assert_int_equal(sl_store_run_get(st, pk, &r, NULL), SL_OK);
    v.version = r.next_event_id;
    v.history_bytes = r.history_bytes;
    sl_run_row_cleanup(&r);
    assert_int_equal(sl_store_events_scan(st, pk, 1, 0, count_cb, &v.n_events, NULL), SL_OK);
    assert_int_equal(sl_store_act_of_run(st, pk, count_act_cb, &v.n_acts, NULL), SL_OK);
    assert_int_equal(sl_store_timer_next(st, &v.next_timer, NULL), SL_OK);
    assert_int_equal(sl_store_wft_next_visible(st, "q", &v.wft_at, NULL), SL_OK);
    return v;
}

static void assert_seen_equal(seen a, seen b)
{
    assert_int_equal(a.version, b.version);
    assert_int_equal(a.history_bytes, b.history_bytes);
    assert_int_equal(a.n_events, b.n_events);
    assert_int_equal(a.n_acts, b.n_acts);
    assert_int_equal(a.next_timer, b.next_timer);
    assert_int_equal(a.wft_at, b.wft_at);
}

/*
 * What one workflow task commits, in the order the engine writes it: the run's version
 * moves from v, three events (scheduled, a marker, a timer started), an activity task, a
 * timer, the consumed workflow task and a new one for later, then COMMIT. On failure the
 * caller rolls back (as the engine does); returns the first failure.
 */
static sl_code wft_commit(sl_store *st, int64_t pk, int64_t v, sl_err *err)
{
    sl_code rc;
    bool ok;
    if ((rc = sl_store_begin(st, err)) != SL_OK)
        return rc;
    if ((rc = sl_store_run_advance(st, pk, v, v + 3, 6, &ok, err)) != SL_OK)
        return rc;
    assert_true(ok);
    for (int64_t id = v; id < v + 3; id++) {
        sl_event_row ev = {
            .event_id = id, .type = "E", .time_ms = id, .attrs = "{}", .attrs_len = 2};
        if ((rc = sl_store_event_insert(st, pk, &ev, err)) != SL_OK)
            return rc;
    }
    sl_act_task_row t;
    memset(&t, 0, sizeof(t));
    t.run_pk = pk;
    t.seq = (int32_t)v;
    t.sched_event_id = v;
    t.queue = "q";
    t.activity_type = "a";
    t.start_to_close_ms = 1000;
    t.visible_at = v;
    if ((rc = sl_store_act_insert(st, &t, err)) != SL_OK)
        return rc;
    if ((rc = sl_store_timer_insert(st, pk, (int32_t)v, 1000000 - v, "q", err)) != SL_OK)
        return rc;
    if ((rc = sl_store_wft_delete(st, pk, err)) != SL_OK)
        return rc;
    if ((rc = sl_store_wft_ensure(st, pk, "q", 5000 + v, err)) != SL_OK)
        return rc;
    return sl_store_commit(st, err);
}

/* The change wft_commit(v) makes to what `before` showed. */
static seen after_commit(seen before, int64_t v)
{
    seen a = before;
    a.version = v + 3;
    a.history_bytes += 6;
    a.n_events += 3;
    a.n_acts += 1;
    a.next_timer = 1000000 - v; /* later commits have earlier timers */
    a.wft_at = 5000 + v;
    return a;
}

static sl_store *open_reader(void)
{
    return open_db();
}

static void busy_on_nth_statement_rolls_back_whole_transaction(void **state)
{
    (void)state;
    int64_t pk;
    sl_store *st = with_run(&pk);
    sl_store *rd = open_reader();
    seen before = look(rd, pk);
    /* statements: BEGIN, advance, events 1, 2, 3, ...: the 4th is the second event, so the
     * run's version and one event are already written when it fails */
    sl_store_fault f = {.nth = 4, .code = SL_EBUSY};
    assert_int_equal(sl_store_fault_arm(st, &f, NULL), SL_OK);
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(wft_commit(st, pk, 1, &err), SL_EBUSY);
    assert_int_equal(err.code, SL_EBUSY);
    assert_true(err.retryable);
    assert_non_null(strstr(err.msg, "append event"));
    assert_non_null(strstr(err.msg, "injected fault"));
    bool fired;
    assert_int_equal(sl_store_fault_counted(st, &fired), 4);
    assert_true(fired);
    sl_store_rollback(st);
    /* the rollback is neither counted nor failed */
    assert_int_equal(sl_store_fault_counted(st, NULL), 4);
    assert_seen_equal(look(rd, pk), before);
    assert_seen_equal(look(st, pk), before);
    /* the connection works afterwards, and the same change commits in full */
    assert_int_equal(wft_commit(st, pk, 1, &err), SL_OK);
    assert_seen_equal(look(rd, pk), after_commit(before, 1));
    assert_int_equal(sl_store_integrity_check(st, NULL), SL_OK);
    sl_store_close(rd);
    sl_store_close(st);
}

static void ioerr_surfaces_as_eio_and_the_connection_recovers(void **state)
{
    (void)state;
    int64_t pk;
    sl_store *st = with_run(&pk);
    seen before = look(st, pk);
    sl_store_fault f = {.nth = 1, .code = SL_EIO};
    assert_int_equal(sl_store_fault_arm(st, &f, NULL), SL_OK);
    sl_err err;
    sl_err_clear(&err);
    /* the first statement is BEGIN: no transaction opens at all */
    assert_int_equal(wft_commit(st, pk, 1, &err), SL_EIO);
    assert_false(err.retryable);
    assert_non_null(strstr(err.msg, "begin transaction"));
    assert_non_null(strstr(err.msg, "injected fault"));
    sl_store_rollback(st);
    assert_seen_equal(look(st, pk), before);
    /* COMMIT failing leaves the transaction open for the caller to undo */
    f.nth = 10;
    assert_int_equal(sl_store_fault_arm(st, &f, NULL), SL_OK);
    assert_int_equal(wft_commit(st, pk, 1, &err), SL_EIO);
    assert_non_null(strstr(err.msg, "commit"));
    sl_store_rollback(st);
    assert_seen_equal(look(st, pk), before);
    assert_int_equal(sl_store_fault_arm(st, NULL, NULL), SL_OK);
    assert_int_equal(sl_store_fault_counted(st, NULL), 0);
    assert_int_equal(wft_commit(st, pk, 1, &err), SL_OK);
    assert_seen_equal(look(st, pk), after_commit(before, 1));
    sl_store_close(st);
}

/* Every statement of a workflow-task commit, failed in turn with BUSY and with IOERR: each
 * attempt fails with that code at that statement, nothing of it is visible after the
 * rollback (to this connection or another), and the retry that follows commits it all. */
static void sweeping_faults_over_a_commit_never_leaves_a_partial_change(void **state)
{
    (void)state;
    int64_t pk;
    sl_store *st = with_run(&pk);
    sl_store *rd = open_reader();
    /* count the commit's statements */
    sl_store_fault count = {.nth = 0, .code = SL_EBUSY};
    assert_int_equal(sl_store_fault_arm(st, &count, NULL), SL_OK);
    assert_int_equal(wft_commit(st, pk, 1, NULL), SL_OK);
    bool fired;
    int64_t n_stmts = sl_store_fault_counted(st, &fired);
    assert_false(fired);
    assert_int_equal(n_stmts, 10); /* BEGIN, advance, 3 events, task, timer, 2 wft, COMMIT */
    int64_t v = 4;
    static const sl_code codes[] = {SL_EBUSY, SL_EIO};
    for (size_t c = 0; c < sizeof(codes) / sizeof(codes[0]); c++) {
        for (int64_t n = 1; n <= n_stmts; n++, v += 3) {
            seen before = look(rd, pk);
            sl_store_fault f = {.nth = n, .code = codes[c]};
            assert_int_equal(sl_store_fault_arm(st, &f, NULL), SL_OK);
            sl_err err;
            sl_err_clear(&err);
            assert_int_equal(wft_commit(st, pk, v, &err), codes[c]);
            assert_int_equal(err.retryable, codes[c] == SL_EBUSY);
            assert_int_equal(sl_store_fault_counted(st, &fired), n);
            assert_true(fired);
            sl_store_rollback(st);
            assert_seen_equal(look(rd, pk), before);
            assert_seen_equal(look(st, pk), before);
            /* still armed but spent: the retry runs and is counted */
            assert_int_equal(wft_commit(st, pk, v, &err), SL_OK);
            assert_int_equal(sl_store_fault_counted(st, NULL), n + n_stmts + 5); /* + look() */
            assert_seen_equal(look(rd, pk), after_commit(before, v));
        }
    }
    assert_int_equal(sl_store_integrity_check(st, NULL), SL_OK);
    sl_store_close(rd);
    sl_store_close(st);
}

static void fault_counting_rules(void **state)
{
    (void)state;
    int64_t pk;
    sl_store *st = with_run(&pk);
    assert_int_equal(wft_commit(st, pk, 1, NULL), SL_OK);
    /* a scan of several rows is one statement */
    sl_store_fault f = {.nth = 0, .code = SL_EIO};
    assert_int_equal(sl_store_fault_arm(st, &f, NULL), SL_OK);
    int64_t n = 0;
    assert_int_equal(sl_store_events_scan(st, pk, 1, 0, count_cb, &n, NULL), SL_OK);
    assert_int_equal(n, 3);
    assert_int_equal(sl_store_fault_counted(st, NULL), 1);
    /* a savepoint's rollback is not counted and cannot be failed */
    assert_int_equal(sl_store_begin(st, NULL), SL_OK);
    assert_int_equal(sl_store_savepoint(st, NULL), SL_OK);
    assert_int_equal(sl_store_fault_counted(st, NULL), 3);
    f.nth = 1;
    assert_int_equal(sl_store_fault_arm(st, &f, NULL), SL_OK);
    sl_store_savepoint_rollback(st);
    sl_store_rollback(st);
    assert_int_equal(sl_store_fault_counted(st, &(bool){false}), 0);
    /* ... so the armed fault still waits for the next real statement */
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_store_wft_next_visible(st, "q", &n, &err), SL_EIO);
    assert_non_null(strstr(err.msg, "injected fault"));
    /* a real error after an injected one carries SQLite's own message */
    assert_int_equal(sl_store_begin(st, NULL), SL_OK);
    sl_event_row dup = {.event_id = 1, .type = "E", .time_ms = 1, .attrs = "{}", .attrs_len = 2};
    assert_int_not_equal(sl_store_event_insert(st, pk, &dup, &err), SL_OK);
    assert_null(strstr(err.msg, "injected"));
    sl_store_rollback(st);
    /* bad faults are refused and arm nothing */
    sl_store_fault bad = {.nth = 1, .code = SL_ENOTFOUND};
    assert_int_equal(sl_store_fault_arm(st, &bad, NULL), SL_EINVAL);
    bad = (sl_store_fault){.nth = -1, .code = SL_EBUSY};
    assert_int_equal(sl_store_fault_arm(st, &bad, NULL), SL_EINVAL);
    assert_int_equal(sl_store_begin(st, NULL), SL_OK);
    sl_store_rollback(st);
    sl_store_close(st);
}

/* A fault in the open options is armed when the open completes: the open itself succeeds
 * and the first statement after it fails. */
static void fault_in_options_arms_after_open(void **state)
{
    (void)state;
    sl_store_close(open_db());
    sl_store_opts o;
    sl_store_opts_init(&o);
    o.path = path;
    o.fault.nth = 1;
    o.fault.code = SL_EBUSY;
    sl_store *st;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_store_open(&o, &st, &err), SL_OK);
    assert_int_equal(sl_store_fault_counted(st, NULL), 0);
    assert_int_equal(sl_store_begin(st, &err), SL_EBUSY);
    assert_true(err.retryable);
    assert_int_equal(sl_store_begin(st, &err), SL_OK);
    sl_store_rollback(st);
    sl_store_close(st);
    o.fault.code = SL_ETIMEOUT;
    assert_int_equal(sl_store_open(&o, &st, &err), SL_EINVAL);
    assert_null(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(new_database_is_migrated_and_reopens, setup, teardown),
        cmocka_unit_test_setup_teardown(newer_schema_and_foreign_files_are_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(fifo_device_and_empty_paths_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(unreachable_paths_are_refused_not_read_as_empty, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(concurrent_first_opens_all_succeed, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_or_blank_database_reads_empty_and_is_not_created,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(older_database_is_refused_by_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(read_only_open_waits_for_a_concurrent_migration, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(background_checkpoints_keep_the_wal_bounded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(kill9_during_background_checkpoints_loses_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(run_versions_are_conditional_and_history_ordered, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(leases_are_exclusive_and_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(expired_leases_and_deadlines_are_found, setup, teardown),
        cmocka_unit_test_setup_teardown(runnable_counts_only_what_is_due_now, setup, teardown),
        cmocka_unit_test_setup_teardown(busy_on_nth_statement_rolls_back_whole_transaction, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(ioerr_surfaces_as_eio_and_the_connection_recovers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(sweeping_faults_over_a_commit_never_leaves_a_partial_change,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(fault_counting_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(fault_in_options_arms_after_open, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
