-- 0005_genie_cache: the Genie answer cache of `sluice loadtest genie --cache`, shared by
-- every generator that opens this database. Entries hold the SQL Genie generated, never
-- results: a hit re-executes it. Times are Unix ms; the TTL counts from created_ms and
-- eviction (per space, beyond the capacity) takes the oldest last_access_ms.

-- Exact-match layer: key = (space, normalised question, conversation context string).
CREATE TABLE genie_cache_lru (
    space_id        TEXT NOT NULL,
    question        TEXT NOT NULL,          -- stripped, lower-case
    context         TEXT NOT NULL,          -- '' for a first message
    sql_text        TEXT NOT NULL,
    conversation_id TEXT,
    message_id      TEXT,
    created_ms      INTEGER NOT NULL,
    last_access_ms  INTEGER NOT NULL,
    PRIMARY KEY (space_id, question, context)
) WITHOUT ROWID;
CREATE INDEX genie_cache_lru_access ON genie_cache_lru(space_id, last_access_ms);

-- Context-aware semantic layer: the question and its context embedded separately.
CREATE TABLE genie_cache_semantic (
    entry_id        INTEGER PRIMARY KEY,
    space_id        TEXT NOT NULL,
    question        TEXT NOT NULL,          -- as asked
    context         TEXT NOT NULL,
    question_emb    BLOB NOT NULL,          -- dim float32 values, host byte order
    context_emb     BLOB,                   -- NULL = the zero vector (no history)
    dim             INTEGER NOT NULL,
    sql_text        TEXT NOT NULL,
    conversation_id TEXT,
    message_id      TEXT,
    created_ms      INTEGER NOT NULL,
    last_access_ms  INTEGER NOT NULL,
    UNIQUE (space_id, question, context)
);
CREATE INDEX genie_cache_semantic_access ON genie_cache_semantic(space_id, last_access_ms);
