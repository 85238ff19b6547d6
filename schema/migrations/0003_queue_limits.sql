-- 0003_queue_limits: rate and concurrency limits per task queue, enforced by every worker
-- when it leases activity tasks (all workers share this state inside their transactions).
CREATE TABLE queue_limits (
    queue           TEXT PRIMARY KEY,
    rate_n          INTEGER NOT NULL DEFAULT 0,   -- at most rate_n starts ...
    rate_period_ms  INTEGER NOT NULL DEFAULT 0,   -- ... in any window of this length (0: none)
    burst           INTEGER NOT NULL DEFAULT 0,   -- token bucket capacity (0: rate_n)
    concurrency     INTEGER NOT NULL DEFAULT 0,   -- leased at once across workers (0: none)
    window          TEXT NOT NULL DEFAULT '[]',   -- JSON: start times (ms) in the last period
    tokens          REAL NOT NULL DEFAULT 0,
    refill_ms       INTEGER NOT NULL DEFAULT 0,
    updated_ms      INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX activity_tasks_leased_queue ON activity_tasks(queue) WHERE lease_owner IS NOT NULL;
