/* store_int.h - private to src/store: the connection, its prepared-statement cache. */
#ifndef SLUICE_STORE_INT_H
#define SLUICE_STORE_INT_H

#include <pthread.h>
#include <sqlite3.h>

#include "sluice/store.h"

/* Every statement the store runs more than once, prepared on first use. */
enum stmt_id {
    STMT_BEGIN,
    STMT_COMMIT,
    STMT_ROLLBACK,
    STMT_SAVEPOINT,
    STMT_RELEASE,
    STMT_ROLLBACK_TO,
    STMT_RUN_INSERT,
    STMT_RUN_FIND_OPEN,
    STMT_RUN_FIND_LATEST,
    STMT_RUN_FIND_ID,
    STMT_RUN_GET,
    STMT_RUN_VERSION,
    STMT_RUN_ADVANCE,
    STMT_RUN_CLOSE,
    STMT_RUNS_OF,
    STMT_EVENT_INSERT,
    STMT_EVENTS_SCAN,
    STMT_WFT_ENSURE,
    STMT_WFT_DELETE,
    STMT_WFT_POSTPONE,
    STMT_WFT_DUE,
    STMT_WFT_NEXT,
    STMT_WFT_DUE_ANY,
    STMT_WFT_NEXT_ANY,
    STMT_ACT_INSERT,
    STMT_ACT_LEASE,
    STMT_ACT_TAKE,
    STMT_ACT_TAKE_ANY,
    STMT_ACT_RETRY,
    STMT_ACT_RETRY_ANY,
    STMT_ACT_HEARTBEAT,
    STMT_ACT_RELEASE,
    STMT_ACT_EXPIRED,
    STMT_ACT_OF_RUN,
    STMT_ACT_GET,
    STMT_ACT_CANCEL,
    STMT_ACT_DELETE_RUN,
    STMT_TIMER_DELETE_RUN,
    STMT_ACT_NEXT,
    STMT_QUEUE_PENDING,
    STMT_TIMER_INSERT,
    STMT_TIMER_DELETE,
    STMT_TIMERS_DUE,
    STMT_TIMER_NEXT,
    STMT_RUNS_CHILDREN,
    STMT_QLIMIT_GET,
    STMT_QLIMIT_PUT,
    STMT_QLIMIT_DELETE,
    STMT_QLIMIT_NAMES,
    STMT_QUEUE_INFLIGHT,
    STMT_QUEUE_RUNNABLE,
    STMT__COUNT
};

/* The background checkpointer: its own connection, woken by the WAL hook. */
typedef struct store_ckpt {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sqlite3 *db;
    bool wake;    /* the WAL hook asked for a checkpoint */
    bool running; /* a checkpoint is in progress */
    bool stop;
} store_ckpt;

/* The test fault hook (sl_store_fault in store.h). */
typedef struct store_fault {
    bool armed;
    bool fired;
    int64_t nth;     /* 0: count only */
    int64_t counted; /* statements started since armed */
    int rc;          /* SQLITE_BUSY or SQLITE_IOERR */
    int injected;    /* the code the last statement was failed with, 0: it was not */
} store_fault;

struct sl_store {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *stmts[STMT__COUNT];
    bool in_txn;
    store_ckpt *ckpt; /* NULL: SQLite checkpoints on commit, as by default */
    store_fault fault;
    /* A read-only open of a database that does not exist yet (or a blank file): db is an
     * in-memory database with the current schema, refusing writes; path names the file. */
    bool stand_in;
};

/* The cached prepared statement for id, prepared on first use (SQLITE_PREPARE_PERSISTENT).
 * The caller resets it (and clears bindings) after use; sl__store_exec_stmt does. */
sl_code sl__store_stmt(sl_store *st, enum stmt_id id, sqlite3_stmt **out, sl_err *err);
/* Reset a cached statement and clear its bindings, ready for the next use. */
void sl__store_stmt_done(sqlite3_stmt *s);
/* A one-shot statement (not cached): the caller finalizes it. */
sl_code sl__store_prepare(sl_store *st, const char *sql, sqlite3_stmt **out, sl_err *err);
/* Declare `var`, get the cached statement `id` into it, or return the failure's code. */
#define SL__STMT_OR_RETURN(st, var, id, err)                                                   \
    sqlite3_stmt *var;                                                                         \
    do {                                                                                       \
        sl_code stmt_rc_ = sl__store_stmt((st), (id), &var, (err));                            \
        if (stmt_rc_ != SL_OK)                                                                 \
            return stmt_rc_;                                                                   \
    } while (0)
/* sqlite3_step through the fault hook: every statement the store runs steps through here
 * (only the undo statements of rollbacks call sqlite3_step directly). */
int sl__store_step(sl_store *st, sqlite3_stmt *s);
/* Map a SQLite result code to an sl_code with the connection's message. */
sl_code sl__store_fail(sl_store *st, int rc, const char *what, sl_err *err);
/* Step a statement that returns no rows; resets it. */
sl_code sl__store_exec_stmt(sl_store *st, sqlite3_stmt *s, const char *what, sl_err *err);

/* Column helpers: NULL-safe strdup of a text column. */
char *sl__col_dup(sqlite3_stmt *s, int col);
void sl__bind_text(sqlite3_stmt *s, int idx, const char *v);
void sl__bind_opt_i64(sqlite3_stmt *s, int idx, int64_t v); /* 0 binds NULL */

#endif
