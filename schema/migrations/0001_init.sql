-- 0001_init: workflow runs, their append-only histories, task queues and timers.
-- The store module (src/store) is the only code that reads or writes these tables.

-- One row per workflow run. A workflow id has at most one open run (status 0); the
-- engine checks that inside the write transaction that starts a run.
CREATE TABLE runs (
    run_pk          INTEGER PRIMARY KEY,
    run_id          TEXT NOT NULL UNIQUE,      -- UUID (libuuid)
    workflow_id     TEXT NOT NULL,
    type            TEXT NOT NULL,
    task_queue      TEXT NOT NULL,
    status          INTEGER NOT NULL,          -- 0 running, 1 completed, 2 failed, 3 canceled,
                                               -- 4 terminated, 5 timed_out, 6 continued_as_new
    input           TEXT,
    result          TEXT,
    failure         TEXT,
    start_ms        INTEGER NOT NULL,
    close_ms        INTEGER,
    next_event_id   INTEGER NOT NULL,          -- id the next history event gets (version)
    history_bytes   INTEGER NOT NULL DEFAULT 0,
    attempt         INTEGER NOT NULL DEFAULT 1, -- workflow-level retry attempt
    first_run_id    TEXT,                      -- first run of a retry / continue-as-new chain
    prev_run_id     TEXT,                      -- run this one continues
    parent_run_id   TEXT,
    opts            TEXT                       -- JSON: retry policy, timeouts, parent close policy
);
CREATE INDEX runs_workflow_id ON runs(workflow_id);

-- Append-only history: dense event ids per run starting at 1.
CREATE TABLE events (
    run_pk      INTEGER NOT NULL,
    event_id    INTEGER NOT NULL,
    type        TEXT NOT NULL,
    time_ms     INTEGER NOT NULL,
    attrs       TEXT NOT NULL,
    PRIMARY KEY (run_pk, event_id)
) WITHOUT ROWID;

-- Workflow tasks: at most one pending per run. Processed inside the write transaction
-- that consumes them, so they need no lease.
CREATE TABLE wf_tasks (
    run_pk      INTEGER PRIMARY KEY,
    queue       TEXT NOT NULL,
    visible_at  INTEGER NOT NULL,
    failures    INTEGER NOT NULL DEFAULT 0     -- consecutive workflow task failures (backoff)
);
CREATE INDEX wf_tasks_poll ON wf_tasks(queue, visible_at);

-- Activity tasks: one row per scheduled activity until it resolves; retries update it.
CREATE TABLE activity_tasks (
    task_id         INTEGER PRIMARY KEY,
    run_pk          INTEGER NOT NULL,
    seq             INTEGER NOT NULL,          -- command sequence number in the run
    sched_event_id  INTEGER NOT NULL,
    queue           TEXT NOT NULL,
    activity_type   TEXT NOT NULL,
    input           TEXT,
    opts            TEXT,                      -- JSON: timeouts and retry policy
    start_to_close_ms INTEGER NOT NULL,
    heartbeat_ms    INTEGER NOT NULL DEFAULT 0, -- 0: no heartbeat timeout
    attempt         INTEGER NOT NULL DEFAULT 1,
    scheduled_ms    INTEGER NOT NULL,          -- first scheduling (schedule_to_close)
    visible_at      INTEGER NOT NULL,          -- when this attempt may start
    lease_owner     TEXT,                      -- worker identity holding the lease, or NULL
    lease_expiry    INTEGER,
    started_ms      INTEGER,                   -- when the current attempt was leased
    deadline        INTEGER,                   -- earliest of schedule_to_start (while visible)
                                               -- and schedule_to_close, or NULL
    close_deadline  INTEGER,                   -- schedule_to_close, or NULL
    heartbeat_details TEXT,
    last_failure    TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX activity_tasks_poll ON activity_tasks(queue, visible_at) WHERE lease_owner IS NULL;
CREATE INDEX activity_tasks_lease ON activity_tasks(lease_expiry) WHERE lease_owner IS NOT NULL;
CREATE INDEX activity_tasks_deadline ON activity_tasks(deadline) WHERE deadline IS NOT NULL;
CREATE INDEX activity_tasks_run ON activity_tasks(run_pk, seq);

-- Durable timers: fired by whichever worker does maintenance first.
CREATE TABLE timers (
    run_pk      INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    fire_at     INTEGER NOT NULL,
    queue       TEXT NOT NULL,
    PRIMARY KEY (run_pk, seq)
) WITHOUT ROWID;
CREATE INDEX timers_fire ON timers(fire_at);
