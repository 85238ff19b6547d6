-- 0002_control: child workflows (lookup by parent) and schedules.

CREATE INDEX runs_parent ON runs(parent_run_id) WHERE parent_run_id IS NOT NULL;

-- A schedule starts workflow `type` at the times of its spec. Each fire uses the workflow
-- id "<schedule_id>-<scheduled time, UTC ISO-8601>", so a fire is never started twice.
CREATE TABLE schedules (
    schedule_id     TEXT PRIMARY KEY,
    spec            TEXT NOT NULL,             -- JSON: {"cron": "..."} or {"every_ms": N}
    workflow_type   TEXT NOT NULL,
    input           TEXT,
    task_queue      TEXT NOT NULL,
    overlap         TEXT NOT NULL,             -- skip | buffer_one | allow_all | cancel_other
    catchup_ms      INTEGER NOT NULL,
    jitter_ms       INTEGER NOT NULL DEFAULT 0,
    timezone        TEXT NOT NULL DEFAULT 'UTC',
    paused          INTEGER NOT NULL DEFAULT 0,
    note            TEXT,                      -- pause/unpause note
    next_fire_ms    INTEGER,                   -- next scheduled time not yet processed
    buffered_ms     INTEGER,                   -- buffer_one: a fire waiting for the running one
    created_ms      INTEGER NOT NULL,
    updated_ms      INTEGER NOT NULL,
    actions         TEXT NOT NULL DEFAULT '[]' -- JSON: recent actions, newest last
) WITHOUT ROWID;
CREATE INDEX schedules_due ON schedules(next_fire_ms) WHERE paused = 0;
