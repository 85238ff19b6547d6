/* store.c - opening the engine database, migrations, transactions, the statement cache. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "migrations.h"
#include "store_int.h"

/* PRAGMA application_id marks a file as a Sluice engine database ("SLCE"). */
#define SL_APPLICATION_ID 0x534C4345

#define RUN_COLS                                                                                   \
    "run_pk, run_id, workflow_id, type, task_queue, status, input, result, failure, start_ms, "    \
    "close_ms, next_event_id, history_bytes, attempt, first_run_id, prev_run_id, parent_run_id, "  \
    "opts"
#define ACT_COLS                                                                                   \
    "task_id, run_pk, seq, sched_event_id, queue, activity_type, input, opts, start_to_close_ms, " \
    "heartbeat_ms, attempt, "                                                                      \
    "scheduled_ms, visible_at, lease_owner, lease_expiry, started_ms, deadline, close_deadline, "  \
    "heartbeat_details, last_failure, cancel_requested"

static const char *const stmt_sql[STMT__COUNT] = {
    [STMT_BEGIN] = "BEGIN IMMEDIATE",
    [STMT_COMMIT] = "COMMIT",
    [STMT_ROLLBACK] = "ROLLBACK",
    [STMT_SAVEPOINT] = "SAVEPOINT sl_change",
    [STMT_RELEASE] = "RELEASE sl_change",
    [STMT_ROLLBACK_TO] = "ROLLBACK TO sl_change",
    [STMT_RUN_INSERT] =
        "INSERT INTO runs (run_id, workflow_id, type, task_queue, status, input, result, failure, "
        "start_ms, close_ms, next_event_id, history_bytes, attempt, first_run_id, prev_run_id, "
        "parent_run_id, opts) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)",
    [STMT_RUN_FIND_OPEN] = "SELECT " RUN_COLS " FROM runs WHERE workflow_id=?1 AND status=0 "
                           "ORDER BY run_pk DESC LIMIT 1",
    [STMT_RUN_FIND_LATEST] =
        "SELECT " RUN_COLS " FROM runs WHERE workflow_id=?1 ORDER BY run_pk DESC LIMIT 1",
    [STMT_RUN_FIND_ID] = "SELECT " RUN_COLS " FROM runs WHERE run_id=?1 AND "
                         "(?2 IS NULL OR workflow_id=?2)",
    [STMT_RUN_GET] = "SELECT " RUN_COLS " FROM runs WHERE run_pk=?1",
    [STMT_RUN_VERSION] = "SELECT next_event_id, status FROM runs WHERE run_pk=?1",
    [STMT_RUN_ADVANCE] = "UPDATE runs SET next_event_id=?3, history_bytes=history_bytes+?4 "
                         "WHERE run_pk=?1 AND next_event_id=?2",
    [STMT_RUN_CLOSE] = "UPDATE runs SET status=?2, result=?3, failure=?4, close_ms=?5 "
                       "WHERE run_pk=?1",
    [STMT_RUNS_OF] = "SELECT " RUN_COLS " FROM runs WHERE workflow_id=?1 ORDER BY run_pk DESC",
    [STMT_EVENT_INSERT] =
        "INSERT INTO events (run_pk, event_id, type, time_ms, attrs) VALUES (?1,?2,?3,?4,?5)",
    [STMT_EVENTS_SCAN] = "SELECT event_id, type, time_ms, attrs FROM events WHERE run_pk=?1 AND "
                         "event_id>=?2 AND event_id<?3 ORDER BY event_id",
    [STMT_WFT_ENSURE] = "INSERT INTO wf_tasks (run_pk, queue, visible_at) VALUES (?1,?2,?3) "
                        "ON CONFLICT(run_pk) DO UPDATE SET visible_at=min(visible_at, "
                        "excluded.visible_at)",
    [STMT_WFT_DELETE] = "DELETE FROM wf_tasks WHERE run_pk=?1",
    [STMT_WFT_POSTPONE] = "UPDATE wf_tasks SET visible_at=?2 + min(?3, 1000 * (1 << "
                          "min(failures, 12))), failures=failures+1 WHERE run_pk=?1 "
                          "RETURNING failures",
    [STMT_WFT_DUE] = "SELECT run_pk FROM wf_tasks WHERE queue=?1 AND visible_at<=?2 "
                     "ORDER BY visible_at LIMIT ?3",
    [STMT_WFT_NEXT] = "SELECT min(visible_at) FROM wf_tasks WHERE queue=?1",
    [STMT_WFT_DUE_ANY] = "SELECT run_pk FROM wf_tasks WHERE visible_at<=?2 "
                         "ORDER BY visible_at LIMIT ?3",
    [STMT_WFT_NEXT_ANY] = "SELECT min(visible_at) FROM wf_tasks",
    [STMT_ACT_INSERT] =
        "INSERT INTO activity_tasks (run_pk, seq, sched_event_id, queue, activity_type, input, "
        "opts, attempt, scheduled_ms, visible_at, lease_owner, lease_expiry, started_ms, deadline, "
        "close_deadline, heartbeat_details, last_failure, cancel_requested, start_to_close_ms, "
        "heartbeat_ms) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,"
        "?19,?20)",
    [STMT_ACT_LEASE] = "UPDATE activity_tasks SET lease_owner=?1, lease_expiry=min(?3 + "
                       "CASE WHEN heartbeat_ms>0 THEN heartbeat_ms ELSE start_to_close_ms END, "
                       "coalesce(close_deadline, 9223372036854775807)), started_ms=?3, "
                       "deadline=close_deadline WHERE task_id IN (SELECT task_id FROM "
                       "activity_tasks WHERE queue=?4 AND lease_owner IS NULL AND visible_at<=?3 "
                       "ORDER BY visible_at LIMIT ?5) RETURNING " ACT_COLS,
    [STMT_ACT_TAKE] =
        "DELETE FROM activity_tasks WHERE task_id=?1 AND lease_owner=?2 AND attempt=?3",
    [STMT_ACT_TAKE_ANY] = "DELETE FROM activity_tasks WHERE task_id=?1 AND attempt=?3",
    [STMT_ACT_RETRY] = "UPDATE activity_tasks SET attempt=attempt+1, visible_at=?4, "
                       "lease_owner=NULL, lease_expiry=NULL, started_ms=NULL, deadline=?5, "
                       "last_failure=?6 WHERE task_id=?1 AND lease_owner=?2 AND attempt=?3",
    [STMT_ACT_RETRY_ANY] = "UPDATE activity_tasks SET attempt=attempt+1, visible_at=?4, "
                           "lease_owner=NULL, lease_expiry=NULL, started_ms=NULL, deadline=?5, "
                           "last_failure=?6 WHERE task_id=?1 AND attempt=?3",
    [STMT_ACT_HEARTBEAT] = "UPDATE activity_tasks SET lease_expiry=?4, "
                           "heartbeat_details=coalesce(?5, heartbeat_details) WHERE task_id=?1 "
                           "AND lease_owner=?2 AND attempt=?3 RETURNING cancel_requested",
    [STMT_ACT_RELEASE] = "UPDATE activity_tasks SET lease_owner=NULL, lease_expiry=NULL, "
                         "started_ms=NULL, visible_at=?4 WHERE task_id=?1 AND lease_owner=?2 AND "
                         "attempt=?3",
    [STMT_ACT_EXPIRED] =
        "SELECT " ACT_COLS " FROM activity_tasks WHERE lease_owner IS NOT NULL AND "
        "lease_expiry<?1 UNION ALL SELECT " ACT_COLS " FROM activity_tasks WHERE deadline<?1 AND "
        "NOT (lease_owner IS NOT NULL AND lease_expiry<?1) LIMIT ?2",
    [STMT_ACT_OF_RUN] = "SELECT " ACT_COLS " FROM activity_tasks WHERE run_pk=?1 ORDER BY seq",
    [STMT_ACT_GET] = "SELECT " ACT_COLS " FROM activity_tasks WHERE task_id=?1",
    [STMT_ACT_CANCEL] = "UPDATE activity_tasks SET cancel_requested=1 WHERE run_pk=?1",
    [STMT_ACT_DELETE_RUN] = "DELETE FROM activity_tasks WHERE run_pk=?1",
    [STMT_TIMER_DELETE_RUN] = "DELETE FROM timers WHERE run_pk=?1",
    [STMT_ACT_NEXT] =
        "SELECT min(visible_at) FROM activity_tasks WHERE queue=?1 AND lease_owner IS NULL",
    [STMT_QUEUE_PENDING] = "SELECT (SELECT count(*) FROM wf_tasks WHERE queue=?1) + "
                           "(SELECT count(*) FROM activity_tasks WHERE queue=?1) + "
                           "(SELECT count(*) FROM timers WHERE queue=?1)",
    [STMT_TIMER_INSERT] =
        "INSERT OR REPLACE INTO timers (run_pk, seq, fire_at, queue) VALUES (?1,?2,?3,?4)",
    [STMT_TIMER_DELETE] = "DELETE FROM timers WHERE run_pk=?1 AND seq=?2",
    [STMT_TIMERS_DUE] = "SELECT run_pk, seq, fire_at FROM timers WHERE fire_at<=?1 "
                        "ORDER BY fire_at LIMIT ?2",
    [STMT_TIMER_NEXT] = "SELECT min(fire_at) FROM timers",
    [STMT_RUNS_CHILDREN] = "SELECT " RUN_COLS " FROM runs WHERE parent_run_id=?1 ORDER BY run_pk",
    [STMT_QLIMIT_GET] = "SELECT queue, rate_n, rate_period_ms, burst, concurrency, window, tokens, "
                        "refill_ms, updated_ms FROM queue_limits WHERE queue=?1",
    [STMT_QLIMIT_PUT] = "INSERT OR REPLACE INTO queue_limits (queue, rate_n, rate_period_ms, "
                        "burst, concurrency, window, tokens, refill_ms, updated_ms) VALUES "
                        "(?1,?2,?3,?4,?5,?6,?7,?8,?9)",
    [STMT_QLIMIT_DELETE] = "DELETE FROM queue_limits WHERE queue=?1",
    [STMT_QLIMIT_NAMES] = "SELECT queue FROM queue_limits",
    [STMT_QUEUE_INFLIGHT] =
        "SELECT count(*) FROM activity_tasks WHERE queue=?1 AND lease_owner IS NOT NULL",
    /* Runnable now: due workflow tasks, visible activity tasks, leases and deadlines the
     * reaper would time out (each task once), due timers. */
    [STMT_QUEUE_RUNNABLE] =
        "SELECT (SELECT count(*) FROM wf_tasks WHERE queue=?1 AND visible_at<=?2) + "
        "(SELECT count(*) FROM activity_tasks WHERE queue=?1 AND lease_owner IS NULL AND "
        "visible_at<=?2) + "
        "(SELECT count(*) FROM activity_tasks WHERE queue=?1 AND lease_owner IS NOT NULL AND "
        "lease_expiry<?2) + "
        "(SELECT count(*) FROM activity_tasks WHERE queue=?1 AND deadline<?2 AND "
        "NOT (lease_owner IS NULL AND visible_at<=?2) AND "
        "NOT (lease_owner IS NOT NULL AND lease_expiry<?2)) + "
        "(SELECT count(*) FROM timers WHERE queue=?1 AND fire_at<=?2)",
};

bool sl_durability_parse(const char *s, sl_durability *out)
{
    if (strcmp(s, "normal") == 0)
        *out = SL_DURABILITY_NORMAL;
    else if (strcmp(s, "full") == 0)
        *out = SL_DURABILITY_FULL;
    else
        return false;
    return true;
}

const char *sl_durability_name(sl_durability d)
{
    return d == SL_DURABILITY_FULL ? "full" : "normal";
}

static const char *const status_names[] = {"running",    "completed", "failed",          "canceled",
                                           "terminated", "timed_out", "continued_as_new"};

const char *sl_run_status_name(int status)
{
    if (status < 0 || status >= (int)(sizeof(status_names) / sizeof(status_names[0])))
        return "unknown";
    return status_names[status];
}

bool sl_run_status_parse(const char *s, int *out)
{
    for (int i = 0; i < (int)(sizeof(status_names) / sizeof(status_names[0])); i++)
        if (strcmp(s, status_names[i]) == 0) {
            *out = i;
            return true;
        }
    if (strcmp(s, "cancelled") == 0) {
        *out = SL_RUN_CANCELED;
        return true;
    }
    return false;
}

void sl_store_opts_init(sl_store_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->path = "sluice.db";
    o->durability = SL_DURABILITY_NORMAL;
    o->busy_timeout_ms = 10000;
}

int sl_store_schema_version(void)
{
    return sl__migrations_count > 0 ? sl__migrations[sl__migrations_count - 1].version : 0;
}

sl_code sl__store_fail(sl_store *st, int rc, const char *what, sl_err *err)
{
    int prim = rc & 0xff;
    sl_code code = (prim == SQLITE_BUSY || prim == SQLITE_LOCKED) ? SL_EBUSY : SL_EIO;
    /* An injected failure never reached SQLite, whose message is about something else. */
    bool injected = st && st->fault.injected != 0 && st->fault.injected == rc;
    if (st)
        st->fault.injected = 0;
    if (err) {
        if (injected)
            sl_err_set(err, code, "%s: %s (injected fault)", what, sqlite3_errstr(rc));
        else
            sl_err_set(err, code, "%s: %s", what,
                       st && st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
        err->retryable = code == SL_EBUSY;
    }
    return code;
}

int sl__store_step(sl_store *st, sqlite3_stmt *s)
{
    store_fault *f = &st->fault;
    f->injected = 0;
    /* A statement part-way through its rows is not a new statement. */
    if (f->armed && !sqlite3_stmt_busy(s)) {
        f->counted++;
        if (!f->fired && f->nth > 0 && f->counted == f->nth) {
            f->fired = true;
            f->injected = f->rc;
            return f->rc;
        }
    }
    return sqlite3_step(s);
}

sl_code sl_store_fault_arm(sl_store *st, const sl_store_fault *f, sl_err *err)
{
    if (f && ((f->code != SL_EBUSY && f->code != SL_EIO) || f->nth < 0))
        return sl_err_set(err, SL_EINVAL, "a store fault needs nth >= 0 and SL_EBUSY or SL_EIO");
    memset(&st->fault, 0, sizeof(st->fault));
    if (f) {
        st->fault.armed = true;
        st->fault.nth = f->nth;
        st->fault.rc = f->code == SL_EBUSY ? SQLITE_BUSY : SQLITE_IOERR;
    }
    return SL_OK;
}

int64_t sl_store_fault_counted(const sl_store *st, bool *fired)
{
    if (fired)
        *fired = st->fault.fired;
    return st->fault.counted;
}

sl_code sl__store_stmt(sl_store *st, enum stmt_id id, sqlite3_stmt **out, sl_err *err)
{
    sqlite3_stmt *s = st->stmts[id];
    if (!s) {
        int rc = sqlite3_prepare_v3(st->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
        if (rc != SQLITE_OK) {
            *out = NULL;
            return sl__store_fail(st, rc, "prepare", err);
        }
        st->stmts[id] = s;
    }
    *out = s;
    return SL_OK;
}

void sl__store_stmt_done(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

sl_code sl__store_prepare(sl_store *st, const char *sql, sqlite3_stmt **out, sl_err *err)
{
    int rc = sqlite3_prepare_v2(st->db, sql, -1, out, NULL);
    if (rc != SQLITE_OK) {
        *out = NULL;
        return sl__store_fail(st, rc, "prepare", err);
    }
    return SL_OK;
}

sl_code sl__store_exec_stmt(sl_store *st, sqlite3_stmt *s, const char *what, sl_err *err)
{
    int rc = sl__store_step(st, s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return sl__store_fail(st, rc, what, err);
    return SL_OK;
}

char *sl__col_dup(sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    if (!t)
        return NULL;
    return sl_xstrndup((const char *)t, (size_t)sqlite3_column_bytes(s, col));
}

void sl__bind_text(sqlite3_stmt *s, int idx, const char *v)
{
    if (v)
        sqlite3_bind_text(s, idx, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, idx);
}

void sl__bind_opt_i64(sqlite3_stmt *s, int idx, int64_t v)
{
    if (v)
        sqlite3_bind_int64(s, idx, v);
    else
        sqlite3_bind_null(s, idx);
}

static sl_code exec_sql(sl_store *st, const char *sql, sl_err *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        sl_code code = sl_err_set(err, (rc & 0xff) == SQLITE_BUSY ? SL_EBUSY : SL_EIO, "%s",
                                  msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return code;
    }
    return SL_OK;
}

/* The first row's first n integer columns of sql (zeros when it returns no row). */
static sl_code query_ints(sl_store *st, const char *sql, int64_t *out, int n, sl_err *err)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return sl__store_fail(st, rc, sql, err);
    rc = sl__store_step(st, s);
    for (int i = 0; i < n; i++)
        out[i] = rc == SQLITE_ROW ? sqlite3_column_int64(s, i) : 0;
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        rc = SQLITE_OK;
    sqlite3_finalize(s);
    if (rc != SQLITE_OK)
        return sl__store_fail(st, rc, sql, err);
    return SL_OK;
}

static sl_code pragma_int(sl_store *st, const char *sql, int64_t *out, sl_err *err)
{
    return query_ints(st, sql, out, 1, err);
}

/*
 * Bring the schema to the current level (the caller checked the file is ours or empty).
 * Runs inside BEGIN IMMEDIATE so two processes opening a new file do not both migrate.
 */
static sl_code migrate(sl_store *st, bool read_only, sl_err *err)
{
    int64_t version;
    sl_code rc;
    if ((rc = pragma_int(st, "PRAGMA user_version", &version, err)) != SL_OK)
        return rc;
    int current = sl_store_schema_version();
    if (version > current)
        return sl_err_set(err, SL_ESCHEMA,
                          "%s has schema level %lld, newer than this sluice knows (%d); "
                          "upgrade sluice",
                          st->path, (long long)version, current);
    if (version == current)
        return SL_OK;
    if (read_only)
        return sl_err_set(err, SL_ESCHEMA,
                          "%s is older than this sluice (schema level %lld, this sluice has %d); "
                          "any command that writes upgrades it",
                          st->path, (long long)version, current);
    if ((rc = exec_sql(st, "BEGIN IMMEDIATE", err)) != SL_OK)
        return sl_err_prefix(err, "migrate %s", st->path);
    /* Re-read under the write lock: another process may have migrated meanwhile. */
    if ((rc = pragma_int(st, "PRAGMA user_version", &version, err)) != SL_OK)
        goto fail;
    for (int i = 0; i < sl__migrations_count; i++) {
        const struct sl__migration *m = &sl__migrations[i];
        if (m->version <= version)
            continue;
        if ((rc = exec_sql(st, m->sql, err)) != SL_OK) {
            sl_err_prefix(err, "migration %s", m->name);
            goto fail;
        }
        char sql[64];
        snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", m->version);
        if ((rc = exec_sql(st, sql, err)) != SL_OK)
            goto fail;
    }
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA application_id=%d", SL_APPLICATION_ID);
    if ((rc = exec_sql(st, sql, err)) != SL_OK)
        goto fail;
    if ((rc = exec_sql(st, "COMMIT", err)) != SL_OK)
        goto fail;
    return SL_OK;
fail:
    exec_sql(st, "ROLLBACK", NULL);
    return rc;
}

/*
 * Background checkpoints. SQLite's default copies WAL pages into the database inside the
 * commit that crosses 1000 pages, on the committing thread. With background_checkpoint the
 * WAL hook wakes a thread with its own connection at CKPT_WAKE_PAGES to copy them meanwhile;
 * the writer itself checkpoints at CKPT_INLINE_PAGES, which then has little left to copy and,
 * being between its transactions, completes - so the next transaction can restart the WAL from
 * its beginning and the file stays bounded under sustained load.
 */
#define CKPT_WAKE_PAGES   1000
#define CKPT_INLINE_PAGES 4000

static void *ckpt_main(void *arg)
{
    store_ckpt *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->stop && !c->wake)
            pthread_cond_wait(&c->cv, &c->mu);
        if (c->stop)
            break;
        c->wake = false;
        c->running = true;
        pthread_mutex_unlock(&c->mu);
        (void)sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&c->mu);
        c->running = false;
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    store_ckpt *c = arg;
    if (pages >= CKPT_INLINE_PAGES) {
        /* let a background checkpoint in progress finish: it holds the checkpoint lock */
        pthread_mutex_lock(&c->mu);
        while (c->running)
            pthread_cond_wait(&c->cv, &c->mu);
        pthread_mutex_unlock(&c->mu);
        (void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    } else if (pages >= CKPT_WAKE_PAGES) {
        pthread_mutex_lock(&c->mu);
        if (!c->wake) {
            c->wake = true;
            pthread_cond_signal(&c->cv);
        }
        pthread_mutex_unlock(&c->mu);
    }
    return SQLITE_OK;
}

/* Start the checkpointer for st; on failure st keeps SQLite's own checkpoints. */
static void ckpt_start(sl_store *st, const sl_store_opts *opts)
{
    store_ckpt *c = sl_xcalloc(1, sizeof(*c));
    if (sqlite3_open_v2(st->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        sqlite3_close_v2(c->db);
        free(c);
        return;
    }
    sqlite3_busy_timeout(c->db, 1000);
    sqlite3_exec(c->db,
                 opts->durability == SL_DURABILITY_FULL ? "PRAGMA synchronous=FULL"
                                                        : "PRAGMA synchronous=NORMAL",
                 NULL, NULL, NULL);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    if (pthread_create(&c->thread, NULL, ckpt_main, c) != 0) {
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->cv);
        sqlite3_close_v2(c->db);
        free(c);
        return;
    }
    st->ckpt = c;
    sqlite3_wal_hook(st->db, wal_hook, c);
}

static void ckpt_stop(sl_store *st)
{
    store_ckpt *c = st->ckpt;
    if (!c)
        return;
    sqlite3_wal_hook(st->db, NULL, NULL);
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    sqlite3_close_v2(c->db);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
    st->ckpt = NULL;
}

static int busy_timeout_ms(const sl_store_opts *opts)
{
    return opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms : 10000;
}

/* What a connection sees of the schema, read in one statement so from one snapshot: a process
 * migrating a new file commits its tables, level and id at once, and reading them apart could
 * see its tables but not its id. */
typedef struct schema_seen {
    int64_t app_id;
    int64_t n_tables;
    int64_t level; /* PRAGMA user_version */
} schema_seen;

static int schema_read(sqlite3 *db, schema_seen *out)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT (SELECT application_id FROM pragma_application_id), "
                                "(SELECT count(*) FROM sqlite_master), "
                                "(SELECT user_version FROM pragma_user_version)",
                                -1, &s, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        out->app_id = sqlite3_column_int64(s, 0);
        out->n_tables = sqlite3_column_int64(s, 1);
        out->level = sqlite3_column_int64(s, 2);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(s);
    return rc;
}

/* Nothing has been written to the file yet: a first open between creating it and committing
 * its migration, or one that was killed there. */
static bool schema_is_blank(const schema_seen *s)
{
    return s->level == 0 && s->n_tables == 0;
}

/*
 * A read-only open found the schema below this build's level. That is not yet an old
 * database: a writer (a worker, a command that writes) may be creating or migrating the file
 * this moment. Writers migrate in one BEGIN IMMEDIATE transaction, so taking the write lock
 * ourselves waits for any migration to commit, and what we read under the lock is settled;
 * we write nothing and roll back. Without write access to the file we cannot take the lock,
 * so watch the level instead until it is current or the busy timeout passes. *seen gets what
 * was settled. SL_EBUSY: the lock stayed taken past the busy timeout. Blocks for at most the
 * busy timeout.
 */
static sl_code await_migration(sl_store *st, const sl_store_opts *opts, schema_seen *seen,
                               sl_err *err)
{
    int timeout_ms = busy_timeout_ms(opts);
    int64_t deadline_ms = sl_mono_ns() / 1000000 + timeout_ms;
    sqlite3 *probe = NULL;
    int rc = sqlite3_open_v2(st->path, &probe, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(probe, timeout_ms);
        rc = sqlite3_exec(probe, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc == SQLITE_OK) {
            rc = schema_read(probe, seen);
            sqlite3_exec(probe, "ROLLBACK", NULL, NULL, NULL);
        }
    }
    sqlite3_close_v2(probe);
    if (rc == SQLITE_OK)
        return SL_OK;
    if ((rc & 0xff) == SQLITE_BUSY)
        return sl_err_set(err, SL_EBUSY,
                          "%s is being upgraded by another process; still busy after %d ms",
                          st->path, timeout_ms);
    /* No write access (read-only file or directory): poll. A blank file is an empty database
     * whatever happens next, so only a level between 0 and ours is worth waiting for. */
    while (seen->level < sl_store_schema_version() && !schema_is_blank(seen) &&
           sl_mono_ns() / 1000000 < deadline_ms) {
        sl_sleep_ms(10);
        if ((rc = schema_read(st->db, seen)) != SQLITE_OK)
            return sl__store_fail(st, rc, "read the schema level", err);
    }
    return SL_OK;
}

/*
 * Stand in for a database that does not exist yet (or a blank file) on a read-only open: an
 * in-memory database with the current schema, so reads answer as an empty database does
 * (empty lists, count 0, not found) without creating the file. It refuses writes.
 */
static sl_code open_stand_in(sl_store *st, sl_err *err)
{
    if (st->db)
        sqlite3_close_v2(st->db);
    st->db = NULL;
    int src =
        sqlite3_open_v2(":memory:", &st->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (src != SQLITE_OK)
        return sl_err_set(err, SL_EIO, "open an empty stand-in for %s: %s", st->path,
                          st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(src));
    sqlite3_extended_result_codes(st->db, 1);
    sl_code rc = migrate(st, false, err);
    if (rc == SL_OK)
        rc = exec_sql(st, "PRAGMA query_only=1", err);
    st->stand_in = rc == SL_OK;
    return rc;
}

bool sl_store_is_stand_in(const sl_store *st)
{
    return st->stand_in;
}

sl_code sl_store_open(const sl_store_opts *opts, sl_store **out, sl_err *err)
{
    *out = NULL;
    sl_store *st = sl_xcalloc(1, sizeof(*st));
    st->path = sl_xstrdup(opts->path);
    sl_code rc;
    struct stat sb;
    if (!opts->path[0]) {
        /* SQLite would open a private temporary database: every write lost at exit. */
        rc = sl_err_set(err, SL_EINVAL, "empty database path");
        goto fail;
    }
    bool exists = stat(opts->path, &sb) == 0;
    if (!exists && errno != ENOENT) {
        /* a path through a regular file, a symlink loop, a name too long, no permission:
         * not a database that does not exist yet */
        rc = sl_err_set(err, SL_EIO, "cannot open database %s: %s", opts->path,
                        strerror(errno));
        goto fail;
    }
    if (exists && S_ISDIR(sb.st_mode)) {
        rc = sl_err_set(err, SL_EIO, "cannot open database %s: it is a directory", opts->path);
        goto fail;
    }
    if (exists && !S_ISREG(sb.st_mode)) {
        /* A FIFO would block the open forever; a device is nobody's database. */
        rc = sl_err_set(err, SL_EIO, "cannot open database %s: not a regular file", opts->path);
        goto fail;
    }
    if (!exists && opts->read_only) {
        /* A read of a database that does not exist yet reads an empty one (as a query of an
         * empty server does), and creates nothing. */
        if ((rc = open_stand_in(st, err)) != SL_OK)
            goto fail;
        goto ready;
    }
    if (!exists) {
        /* Create the file ourselves so an unwritable location gets a clear message. */
        int fd = open(opts->path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST) {
            rc = sl_err_set(err, SL_EIO, "cannot create database %s: %s", opts->path,
                            strerror(errno));
            goto fail;
        }
        if (fd >= 0)
            close(fd);
    } else if (!opts->read_only && access(opts->path, W_OK) != 0) {
        rc = sl_err_set(err, SL_EIO, "cannot open database %s for writing: %s", opts->path,
                        strerror(errno));
        goto fail;
    }
    int flags = SQLITE_OPEN_NOMUTEX | (opts->read_only ? SQLITE_OPEN_READONLY
                                                       : SQLITE_OPEN_READWRITE);
    int src = sqlite3_open_v2(opts->path, &st->db, flags, NULL);
    if (src != SQLITE_OK) {
        rc = sl_err_set(err, SL_EIO, "cannot open database %s: %s", opts->path,
                        st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(src));
        goto fail;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, busy_timeout_ms(opts));
    /* Refuse foreign files before changing anything (journal mode writes the header). */
    int64_t app_id = 0;
    if ((rc = pragma_int(st, "PRAGMA application_id", &app_id, err)) != SL_OK) {
        if (strstr(err ? err->msg : "", "not a database") ||
            strstr(err ? err->msg : "", "file is not"))
            rc = sl_err_set(err, SL_ESCHEMA, "%s is not a Sluice database (not an SQLite file)",
                            opts->path);
        goto fail;
    }
    schema_seen seen;
    if ((src = schema_read(st->db, &seen)) != SQLITE_OK) {
        rc = sl__store_fail(st, src, "read the schema level", err);
        goto fail;
    }
    if (seen.app_id != SL_APPLICATION_ID && (seen.app_id != 0 || seen.n_tables > 0)) {
        rc = sl_err_set(err, SL_ESCHEMA, "%s is not a Sluice database; refusing to use it",
                        opts->path);
        goto fail;
    }
    if (opts->read_only && seen.level < sl_store_schema_version()) {
        if ((rc = await_migration(st, opts, &seen, err)) != SL_OK)
            goto fail;
        if (schema_is_blank(&seen)) {
            if ((rc = open_stand_in(st, err)) != SL_OK)
                goto fail;
            goto ready;
        }
        /* else: migrated meanwhile (this connection's next read sees it), or really older,
         * which migrate() below refuses */
    }
    if (!opts->read_only) {
        /* Switching to WAL needs a moment of exclusive access, and SQLite does not wait on
         * the busy handler for it: retry while another process holds the file. */
        int64_t deadline = sl_mono_ns() / 1000000 + busy_timeout_ms(opts);
        for (;;) {
            sl_err_clear(err);
            rc = exec_sql(st, "PRAGMA journal_mode=WAL", err);
            if (rc != SL_EBUSY || sl_mono_ns() / 1000000 > deadline)
                break;
            sl_sleep_ms(5);
        }
        if (rc != SL_OK) {
            sl_err_prefix(err, "open %s", opts->path);
            goto fail;
        }
    }
ready:
    if ((rc = exec_sql(st,
                       opts->durability == SL_DURABILITY_FULL ? "PRAGMA synchronous=FULL"
                                                              : "PRAGMA synchronous=NORMAL",
                       err)) != SL_OK)
        goto fail;
    if ((rc = exec_sql(st, "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY; "
                           "PRAGMA cache_size=-16000",
                       err)) != SL_OK)
        goto fail;
    if (!st->stand_in && (rc = migrate(st, opts->read_only, err)) != SL_OK)
        goto fail;
    if (opts->background_checkpoint && !opts->read_only)
        ckpt_start(st, opts);
    if ((opts->fault.nth != 0 || opts->fault.code != SL_OK) &&
        (rc = sl_store_fault_arm(st, &opts->fault, err)) != SL_OK)
        goto fail;
    *out = st;
    return SL_OK;
fail:
    sl_store_close(st);
    return rc;
}

void sl_store_close(sl_store *st)
{
    if (!st)
        return;
    ckpt_stop(st);
    for (int i = 0; i < STMT__COUNT; i++)
        sqlite3_finalize(st->stmts[i]);
    if (st->db)
        sqlite3_close_v2(st->db);
    free(st->path);
    free(st);
}

const char *sl_store_path(const sl_store *st)
{
    return st->path;
}

static sl_code run_simple(sl_store *st, enum stmt_id id, const char *what, sl_err *err)
{
    SL__STMT_OR_RETURN(st, s, id, err);
    return sl__store_exec_stmt(st, s, what, err);
}

/* The statements that undo: past the fault hook, so a rollback always runs. */
static void run_undo(sl_store *st, enum stmt_id id)
{
    sqlite3_stmt *s;
    if (sl__store_stmt(st, id, &s, NULL) != SL_OK)
        return;
    (void)sqlite3_step(s);
    sqlite3_reset(s);
}

sl_code sl_store_begin(sl_store *st, sl_err *err)
{
    sl_code rc = run_simple(st, STMT_BEGIN, "begin transaction", err);
    if (rc == SL_OK)
        st->in_txn = true;
    return rc;
}

sl_code sl_store_commit(sl_store *st, sl_err *err)
{
    sl_code rc = run_simple(st, STMT_COMMIT, "commit", err);
    if (rc == SL_OK)
        st->in_txn = false;
    return rc;
}

void sl_store_rollback(sl_store *st)
{
    if (sqlite3_get_autocommit(st->db) == 0)
        run_undo(st, STMT_ROLLBACK);
    st->in_txn = false;
}

sl_code sl_store_savepoint(sl_store *st, sl_err *err)
{
    return run_simple(st, STMT_SAVEPOINT, "savepoint", err);
}

void sl_store_savepoint_release(sl_store *st)
{
    (void)run_simple(st, STMT_RELEASE, "release savepoint", NULL);
}

void sl_store_savepoint_rollback(sl_store *st)
{
    run_undo(st, STMT_ROLLBACK_TO);
    run_undo(st, STMT_RELEASE);
}

int64_t sl_store_size_bytes(sl_store *st)
{
    struct stat sb;
    int64_t total = 0;
    if (stat(st->path, &sb) == 0)
        total += sb.st_size;
    char *wal = sl_xasprintf("%s-wal", st->path);
    if (stat(wal, &sb) == 0)
        total += sb.st_size;
    free(wal);
    return total;
}

void sl_store_checkpoint(sl_store *st)
{
    sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
}

sl_code sl_store_integrity_check(sl_store *st, sl_err *err)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, "PRAGMA integrity_check", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return sl__store_fail(st, rc, "integrity check", err);
    sl_code code = SL_OK;
    rc = sl__store_step(st, s);
    if (rc != SQLITE_ROW)
        code = sl__store_fail(st, rc, "integrity check", err);
    else if (strcmp((const char *)sqlite3_column_text(s, 0), "ok") != 0)
        code = sl_err_set(err, SL_EIO, "integrity check: %s", sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return code;
}
