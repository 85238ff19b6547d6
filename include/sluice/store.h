/*
 * store.h - durable state: workflow runs, their histories, task queues and timers.
 * The only code that speaks SQL to the engine database; callers see runs, events
 * and tasks, never statements or rows.
 *
 * Invariants:
 *  (1) history is append-only, with dense event ids per run starting at 1, and
 *      runs.next_event_id is the id the next event gets (the run's version);
 *  (2) everything a workflow task decides (its events, new tasks, the run's new
 *      state, consuming the workflow task) commits in one transaction;
 *  (3) at most one worker holds an activity task's lease, and completion, failure
 *      and heartbeat are conditional on (task_id, lease_owner, attempt);
 *  (4) a database from a newer schema level, or a file that is not a Sluice
 *      database, is refused before anything is written; (5) a read-only open never
 *      creates, migrates or writes the file, and never refuses one that another process
 *      is creating or migrating (it waits for the migration's commit).
 *
 * Activity task states:
 *
 *   VISIBLE --sl_store_act_lease--> LEASED --sl_store_act_take--> (row deleted: resolved)
 *      ^                              |
 *      +------sl_store_act_retry------+   (failed attempt, or expired lease found by
 *                                           sl_store_act_expired: a timed-out attempt)
 *
 * Threads: an sl_store is one SQLite connection and belongs to one thread at a time.
 * Several processes may open the same file (WAL mode, busy timeout); the write
 * lock serialises their transactions.
 */
#ifndef SLUICE_STORE_H
#define SLUICE_STORE_H

#include "sluice/model.h"
#include "sluice/util.h"

typedef struct sl_store sl_store;

/*
 * Fault injection, for tests (as SQLite's own harness fails the Nth I/O): make the nth
 * statement this connection starts after arming fail as if SQLite had returned
 * SQLITE_BUSY (code SL_EBUSY: the caller sees SL_EBUSY, retryable) or SQLITE_IOERR
 * (code SL_EIO: SL_EIO, not retryable), with "(injected fault)" in the message.
 *
 * What is counted: every statement the store starts on this connection, once - the first
 * sqlite3_step of an execution, so a SELECT returning many rows is one statement; BEGIN,
 * COMMIT, SAVEPOINT and RELEASE count like any other. Never counted and never failed: the
 * ROLLBACK of sl_store_rollback and the ROLLBACK TO / RELEASE of
 * sl_store_savepoint_rollback (undo must always work), statements run while opening
 * (schema checks, migrations), WAL checkpoints and the background checkpointer's own
 * connection.
 *
 * The failing statement does not run. An open transaction stays open, holding what earlier
 * statements wrote; the caller must roll it back as after a real failure (SQLite itself may
 * or may not have rolled back after a real I/O error; sl_store_rollback handles both).
 * The fault fires once; later statements run normally and are still counted.
 */
typedef struct sl_store_fault {
    int64_t nth;  /* 1 = the next statement started; 0 = never fail, only count */
    sl_code code; /* SL_EBUSY or SL_EIO */
} sl_store_fault;

typedef struct sl_store_opts {
    const char *path;
    sl_durability durability;
    int busy_timeout_ms; /* default 10000 */
    bool read_only;      /* never create, migrate or write the file (CLI reads) */
    /* Checkpoint the WAL from a background thread with its own connection, so commits on
     * this one do not stop to copy pages into the database (the engine's write connection). */
    bool background_checkpoint;
    /* Tests only: armed as with sl_store_fault_arm once the open completed (so the opening
     * statements are not counted); all zero (sl_store_opts_init): no fault. */
    sl_store_fault fault;
} sl_store_opts;

void sl_store_opts_init(sl_store_opts *o);

/*
 * Open (creating if needed) the database at opts->path and bring its schema to the
 * current level. SL_ESCHEMA: not a Sluice database, or a newer schema level than this
 * binary knows. SL_EIO: cannot open or create the file (message names the path).
 * On success *out is the caller's; release it with sl_store_close().
 *
 * With opts->read_only nothing is created or migrated:
 *  - a file at a lower level may be one another process is creating or migrating right now,
 *    so the open waits for that migration to commit (it takes and releases the write lock,
 *    writing nothing; without write access it polls the level), up to the busy timeout
 *    (SL_EBUSY past it);
 *  - a file that does not exist, or one left blank (created, nothing written), reads as an
 *    empty database: an in-memory stand-in with the current schema, which refuses writes
 *    (sl_store_is_stand_in); the file is not created;
 *  - a file really at an older level, not being migrated: SL_ESCHEMA, "older than this
 *    sluice", as any command that writes upgrades it.
 */
SL_MUST_USE sl_code sl_store_open(const sl_store_opts *opts, sl_store **out, sl_err *err);
void sl_store_close(sl_store *st);
/* True when st is the empty stand-in of a read-only open (see sl_store_open). */
bool sl_store_is_stand_in(const sl_store *st);
const char *sl_store_path(const sl_store *st);
int sl_store_schema_version(void);

/* Transactions. begin takes the write lock (BEGIN IMMEDIATE), waiting up to the busy
 * timeout (SL_EBUSY after that). A savepoint scopes one change inside a batch. */
SL_MUST_USE sl_code sl_store_begin(sl_store *st, sl_err *err);
SL_MUST_USE sl_code sl_store_commit(sl_store *st, sl_err *err);
void sl_store_rollback(sl_store *st);
SL_MUST_USE sl_code sl_store_savepoint(sl_store *st, sl_err *err);
void sl_store_savepoint_release(sl_store *st);
void sl_store_savepoint_rollback(sl_store *st);

/*
 * Fault injection (see sl_store_fault), for tests. Arm `f` on st (NULL disarms), restarting
 * the count; *f is copied. sl_store_fault_counted returns how many statements st started
 * since it was armed (0 when disarmed) and, in *fired (may be NULL), whether the fault has
 * fired. A test that first arms with nth 0 and runs an operation learns how many statements
 * the operation runs, then can fail each in turn. Threads: like every call on st, from the
 * thread using the connection (for an engine's connection: inside sl_engine_exec).
 * SL_EINVAL: code is neither SL_EBUSY nor SL_EIO, or nth is negative (nothing is armed).
 */
SL_MUST_USE sl_code sl_store_fault_arm(sl_store *st, const sl_store_fault *f, sl_err *err);
int64_t sl_store_fault_counted(const sl_store *st, bool *fired);

/* Total bytes of the database file plus its WAL. */
int64_t sl_store_size_bytes(sl_store *st);
/* Run a WAL checkpoint (TRUNCATE). */
void sl_store_checkpoint(sl_store *st);
/* PRAGMA integrity_check; SL_OK when "ok". */
SL_MUST_USE sl_code sl_store_integrity_check(sl_store *st, sl_err *err);

/* ---- runs ---------------------------------------------------------------------- */

typedef struct sl_run_row {
    int64_t run_pk;
    char run_id[37];
    char *workflow_id;
    char *type;
    char *task_queue;
    int status;      /* sl_run_status */
    char *input;     /* JSON text or NULL */
    char *result;    /* JSON text or NULL */
    char *failure;   /* JSON text or NULL */
    int64_t start_ms;
    int64_t close_ms; /* 0 while open */
    int64_t next_event_id;
    int64_t history_bytes;
    int attempt;
    char *first_run_id;
    char *prev_run_id;
    char *parent_run_id;
    char *opts;      /* JSON text or NULL */
} sl_run_row;

void sl_run_row_cleanup(sl_run_row *r);

/* Insert a run; r->run_pk is set. The caller has checked there is no open run. */
SL_MUST_USE sl_code sl_store_run_insert(sl_store *st, sl_run_row *r, sl_err *err);
/* The open run of workflow_id, if any (SL_ENOTFOUND otherwise). */
SL_MUST_USE sl_code sl_store_run_find_open(sl_store *st, const char *workflow_id,
                                           sl_run_row *out, sl_err *err);
/* A run by workflow id and run id; run_id NULL means the latest run of the id. */
SL_MUST_USE sl_code sl_store_run_find(sl_store *st, const char *workflow_id, const char *run_id,
                                      sl_run_row *out, sl_err *err);
SL_MUST_USE sl_code sl_store_run_get(sl_store *st, int64_t run_pk, sl_run_row *out, sl_err *err);
/* Read just the version and status of a run (hot path). */
SL_MUST_USE sl_code sl_store_run_version(sl_store *st, int64_t run_pk, int64_t *next_event_id,
                                         int *status, sl_err *err);
/*
 * Conditionally move a run's version from `expect` to `next` and add `add_bytes` to its
 * history size. *ok is false (and nothing changes) when the stored version is not `expect`:
 * another writer appended events first.
 */
SL_MUST_USE sl_code sl_store_run_advance(sl_store *st, int64_t run_pk, int64_t expect,
                                         int64_t next, int64_t add_bytes, bool *ok, sl_err *err);
/* Close a run: status, result or failure (JSON text, may be NULL), close time. */
SL_MUST_USE sl_code sl_store_run_close(sl_store *st, int64_t run_pk, int status,
                                       const char *result, const char *failure, int64_t close_ms,
                                       sl_err *err);
/* Runs of a workflow id, newest first (the retry / continue-as-new chain). */
typedef void (*sl_run_fn)(const sl_run_row *r, void *arg);
SL_MUST_USE sl_code sl_store_runs_of(sl_store *st, const char *workflow_id, sl_run_fn fn,
                                     void *arg, sl_err *err);

/* Runs whose parent_run_id is parent_run_id (child workflows). */
SL_MUST_USE sl_code sl_store_runs_children(sl_store *st, const char *parent_run_id, sl_run_fn fn,
                                           void *arg, sl_err *err);

/* Runs matching f, newest first. */
SL_MUST_USE sl_code sl_store_runs_list(sl_store *st, const sl_run_filter *f, sl_run_fn fn,
                                       void *arg, sl_err *err);
SL_MUST_USE sl_code sl_store_runs_count(sl_store *st, const sl_run_filter *f, int64_t *out,
                                        sl_err *err);

/* ---- history ------------------------------------------------------------------- */

typedef struct sl_event_row {
    int64_t event_id;
    const char *type;
    int64_t time_ms;
    const char *attrs; /* JSON object text */
    size_t attrs_len;
} sl_event_row;

/* Append one event with an explicit id (the caller advanced the run's version). */
SL_MUST_USE sl_code sl_store_event_insert(sl_store *st, int64_t run_pk, const sl_event_row *ev,
                                          sl_err *err);
/* Call fn for events with from_id <= event_id < to_id (to_id 0: no bound), in order.
 * The row is borrowed for the duration of the call. fn returns false to stop. */
typedef bool (*sl_event_fn)(const sl_event_row *ev, void *arg);
SL_MUST_USE sl_code sl_store_events_scan(sl_store *st, int64_t run_pk, int64_t from_id,
                                         int64_t to_id, sl_event_fn fn, void *arg, sl_err *err);

/* ---- workflow tasks ------------------------------------------------------------ */

/* Make sure run_pk has a pending workflow task visible at visible_at (the earlier time
 * wins if one exists). */
SL_MUST_USE sl_code sl_store_wft_ensure(sl_store *st, int64_t run_pk, const char *queue,
                                        int64_t visible_at, sl_err *err);
SL_MUST_USE sl_code sl_store_wft_delete(sl_store *st, int64_t run_pk, sl_err *err);
/* Postpone a run's workflow task after a failure by 1s, 2s, 4s, ... up to max_backoff_ms;
 * *failures gets the consecutive failure count. */
SL_MUST_USE sl_code sl_store_wft_postpone(sl_store *st, int64_t run_pk, int64_t now_ms,
                                          int64_t max_backoff_ms, int *failures, sl_err *err);
/* Due workflow tasks on `queue` (visible_at <= now), oldest first, up to limit; queue NULL:
 * on every queue. */
typedef void (*sl_pk_fn)(int64_t run_pk, void *arg);
SL_MUST_USE sl_code sl_store_wft_due(sl_store *st, const char *queue, int64_t now_ms, int limit,
                                     sl_pk_fn fn, void *arg, sl_err *err);
/* Earliest visible_at of a pending workflow task on queue (NULL: any), or INT64_MAX. */
SL_MUST_USE sl_code sl_store_wft_next_visible(sl_store *st, const char *queue, int64_t *out,
                                              sl_err *err);

/* ---- activity tasks ------------------------------------------------------------ */

typedef struct sl_act_task_row {
    int64_t task_id;
    int64_t run_pk;
    int32_t seq;
    int64_t sched_event_id;
    char *queue;
    char *activity_type;
    char *input;             /* JSON text or NULL */
    char *opts;              /* JSON text or NULL */
    int64_t start_to_close_ms;
    int64_t heartbeat_ms;    /* 0: no heartbeat timeout */
    int attempt;
    int64_t scheduled_ms;
    int64_t visible_at;
    char *lease_owner;       /* NULL when visible */
    int64_t lease_expiry;    /* 0 when visible */
    int64_t started_ms;      /* 0 when not leased */
    int64_t deadline;        /* schedule_to_start/close for this attempt; 0: none */
    int64_t close_deadline;  /* schedule_to_close; 0: none */
    char *heartbeat_details; /* JSON text or NULL */
    char *last_failure;      /* JSON text or NULL */
    bool cancel_requested;
} sl_act_task_row;

void sl_act_task_row_cleanup(sl_act_task_row *t);

/* Insert; t->task_id is set. Set lease_owner/lease_expiry/started_ms to insert it leased. */
SL_MUST_USE sl_code sl_store_act_insert(sl_store *st, sl_act_task_row *t, sl_err *err);
/*
 * Lease up to `limit` visible tasks of `queue` (visible_at <= now), oldest first, to
 * `owner`. The lease lasts the heartbeat timeout (or start-to-close when there is none),
 * never past schedule-to-close. fn gets each leased row (borrowed).
 */
typedef void (*sl_act_fn)(const sl_act_task_row *t, void *arg);
SL_MUST_USE sl_code sl_store_act_lease(sl_store *st, const char *queue, int64_t now_ms,
                                       const char *owner, int limit, sl_act_fn fn, void *arg,
                                       sl_err *err);
/* Delete the task if (task_id, owner, attempt) still holds the lease; *found says whether it
 * did. owner NULL skips the lease check (resolution by the engine itself). */
SL_MUST_USE sl_code sl_store_act_take(sl_store *st, int64_t task_id, const char *owner,
                                      int attempt, bool *found, sl_err *err);
/* Schedule the next attempt if (task_id, owner, attempt) holds the lease (owner NULL: the task
 * must be unleased or expired, as the reaper finds it). */
SL_MUST_USE sl_code sl_store_act_retry(sl_store *st, int64_t task_id, const char *owner,
                                       int attempt, int64_t visible_at, int64_t deadline,
                                       const char *last_failure, bool *found, sl_err *err);
/* Extend a lease and record heartbeat details (NULL keeps the old ones). *found false: the
 * lease is gone; *cancel_requested reports a pending cancel request. */
SL_MUST_USE sl_code sl_store_act_heartbeat(sl_store *st, int64_t task_id, const char *owner,
                                           int attempt, const char *details,
                                           int64_t lease_expiry_ms, bool *found,
                                           bool *cancel_requested, sl_err *err);
/* Give back a lease without counting an attempt (worker shutting down). */
SL_MUST_USE sl_code sl_store_act_release(sl_store *st, int64_t task_id, const char *owner,
                                         int attempt, int64_t visible_at, sl_err *err);
/* Tasks whose lease expired or whose deadline passed (now > lease_expiry / deadline). */
SL_MUST_USE sl_code sl_store_act_expired(sl_store *st, int64_t now_ms, int limit, sl_act_fn fn,
                                         void *arg, sl_err *err);
/* The activity task task_id into *out (clean it up); *found false (and *out zeroed) if it is
 * gone. */
SL_MUST_USE sl_code sl_store_act_get(sl_store *st, int64_t task_id, sl_act_task_row *out,
                                     bool *found, sl_err *err);
/* Pending activity tasks of a run, by seq. */
SL_MUST_USE sl_code sl_store_act_of_run(sl_store *st, int64_t run_pk, sl_act_fn fn, void *arg,
                                        sl_err *err);
/* Mark all of a run's activity tasks cancel-requested. */
SL_MUST_USE sl_code sl_store_act_request_cancel(sl_store *st, int64_t run_pk, sl_err *err);
/* Delete all of a run's activity tasks and timers (run closed). */
SL_MUST_USE sl_code sl_store_run_tasks_delete(sl_store *st, int64_t run_pk, sl_err *err);
/* Earliest visible_at of an unleased activity task on queue, or INT64_MAX. */
SL_MUST_USE sl_code sl_store_act_next_visible(sl_store *st, const char *queue, int64_t *out,
                                              sl_err *err);
/* Count of tasks (workflow, activity, timers) that belong to queue: for idle detection. */
SL_MUST_USE sl_code sl_store_queue_pending(sl_store *st, const char *queue, int64_t *out,
                                           sl_err *err);
/*
 * Count of the queue's tasks a worker could run at now_ms: workflow tasks and unleased
 * activity tasks visible by then, activity tasks whose lease expired or whose deadline passed
 * (the reaper times them out), timers due. Not counted: timers and retries due later, tasks
 * another worker holds a live lease on. For "drained" detection (sl_engine_is_drained).
 */
SL_MUST_USE sl_code sl_store_queue_runnable(sl_store *st, const char *queue, int64_t now_ms,
                                            int64_t *out, sl_err *err);

/* ---- timers -------------------------------------------------------------------- */

SL_MUST_USE sl_code sl_store_timer_insert(sl_store *st, int64_t run_pk, int32_t seq,
                                          int64_t fire_at, const char *queue, sl_err *err);
SL_MUST_USE sl_code sl_store_timer_delete(sl_store *st, int64_t run_pk, int32_t seq, bool *found,
                                          sl_err *err);
/* Earliest fire time of any timer, or INT64_MAX. */
SL_MUST_USE sl_code sl_store_timer_next(sl_store *st, int64_t *out, sl_err *err);
typedef void (*sl_timer_fn)(int64_t run_pk, int32_t seq, int64_t fire_at, void *arg);
SL_MUST_USE sl_code sl_store_timers_due(sl_store *st, int64_t now_ms, int limit, sl_timer_fn fn,
                                        void *arg, sl_err *err);

/* ---- schedules ----------------------------------------------------------------- */

typedef struct sl_schedule_row {
    char *schedule_id;
    char *spec;          /* JSON: {"cron":"..."} or {"every_ms":N} */
    char *workflow_type;
    char *input;         /* JSON text or NULL */
    char *task_queue;
    char *overlap;       /* skip | buffer_one | allow_all | cancel_other */
    int64_t catchup_ms;
    int64_t jitter_ms;
    char *timezone;
    bool paused;
    char *note;
    int64_t next_fire_ms; /* 0: none */
    int64_t buffered_ms;  /* 0: none */
    int64_t created_ms;
    int64_t updated_ms;
    char *actions;       /* JSON array */
} sl_schedule_row;

void sl_schedule_row_cleanup(sl_schedule_row *r);
/* SL_ECONFLICT when the id exists. */
SL_MUST_USE sl_code sl_store_schedule_insert(sl_store *st, const sl_schedule_row *r, sl_err *err);
/* SL_ENOTFOUND when absent. */
SL_MUST_USE sl_code sl_store_schedule_get(sl_store *st, const char *id, sl_schedule_row *out,
                                          sl_err *err);
/* Write the mutable fields (paused, note, next_fire_ms, buffered_ms, actions, updated_ms). */
SL_MUST_USE sl_code sl_store_schedule_update(sl_store *st, const sl_schedule_row *r, sl_err *err);
SL_MUST_USE sl_code sl_store_schedule_delete(sl_store *st, const char *id, bool *found,
                                             sl_err *err);
typedef void (*sl_schedule_fn)(const sl_schedule_row *r, void *arg);
SL_MUST_USE sl_code sl_store_schedule_list(sl_store *st, sl_schedule_fn fn, void *arg,
                                           sl_err *err);
/* Unpaused schedules with a fire due (next_fire_ms <= now) or a buffered fire. */
SL_MUST_USE sl_code sl_store_schedules_due(sl_store *st, int64_t now_ms, sl_schedule_fn fn,
                                           void *arg, sl_err *err);
/* Earliest next_fire_ms of unpaused schedules (0 if one has a buffered fire), or INT64_MAX. */
SL_MUST_USE sl_code sl_store_schedule_next(sl_store *st, int64_t *out, sl_err *err);
/* Open runs whose workflow id starts with prefix. */
SL_MUST_USE sl_code sl_store_runs_open_prefix(sl_store *st, const char *prefix, sl_run_fn fn,
                                              void *arg, sl_err *err);

/* ---- queue limits and queue statistics ------------------------------------------ */

typedef struct sl_queue_limit_row {
    char *queue;
    int64_t rate_n;          /* starts allowed per period; 0: no rate limit */
    int64_t rate_period_ms;
    int64_t burst;           /* 0: rate_n */
    int64_t concurrency;     /* 0: none */
    char *window;            /* JSON array of recent start times */
    double tokens;
    int64_t refill_ms;
    int64_t updated_ms;
} sl_queue_limit_row;

void sl_queue_limit_row_cleanup(sl_queue_limit_row *r);
/* SL_ENOTFOUND when the queue has no limits. */
SL_MUST_USE sl_code sl_store_queue_limit_get(sl_store *st, const char *queue,
                                             sl_queue_limit_row *out, sl_err *err);
/* Insert or replace the whole row. */
SL_MUST_USE sl_code sl_store_queue_limit_put(sl_store *st, const sl_queue_limit_row *r,
                                             sl_err *err);
SL_MUST_USE sl_code sl_store_queue_limit_delete(sl_store *st, const char *queue, bool *found,
                                                sl_err *err);
/* Names of queues with limits; fn gets each (borrowed). */
typedef void (*sl_name_fn)(const char *name, void *arg);
SL_MUST_USE sl_code sl_store_queue_limits_names(sl_store *st, sl_name_fn fn, void *arg,
                                                sl_err *err);
/* Leased activity tasks of a queue (across workers). */
SL_MUST_USE sl_code sl_store_queue_inflight(sl_store *st, const char *queue, int64_t *out,
                                            sl_err *err);

typedef struct sl_queue_stats {
    const char *queue;
    int64_t depth;      /* runnable now, not leased (activity + workflow tasks) */
    int64_t backoff;    /* activity tasks waiting for a later attempt */
    int64_t in_flight;  /* leased activity tasks */
    int64_t oldest_ms;  /* visible_at of the oldest runnable task, 0: none */
} sl_queue_stats;
typedef void (*sl_queue_stats_fn)(const sl_queue_stats *s, void *arg);
/* Every queue with tasks or limits, by name. */
SL_MUST_USE sl_code sl_store_queue_stats(sl_store *st, int64_t now_ms, sl_queue_stats_fn fn,
                                         void *arg, sl_err *err);

#endif
