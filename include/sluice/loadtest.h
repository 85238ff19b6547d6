/*
 * loadtest.h - Genie load testing: an open-loop generator of Genie questions (the
 * notebook's seven scenarios or custom ones), replay of exported conversations by
 * simulated users (the Locust tool's load shape), an answer cache shared through the
 * Sluice database, statistics without coordinated omission, MLflow logging, and a
 * zero-latency HTTP benchmark mode. `sluice loadtest ...` is the command; this module
 * owns the generator, the conversations file format and the cache policy (the cache
 * rows themselves live in src/store, see store.h "Genie answer cache").
 *
 * Invariants:
 *  (1) Open loop: request i of a schedule is due at t0 + i * duration / N whether or
 *      not earlier requests finished; it starts then, or as soon as a worker (a
 *      concurrency slot) frees, and its "scheduled" latency counts from its due time.
 *  (2) A Genie FAILED or CANCELLED message, a FAILED query result, a question past its
 *      timeout and a 429 still refused after the last retry are failures, each with its
 *      cause; only a COMPLETED message (and its query result, when it has one) succeeds.
 *  (3) Memory is bounded per request type: percentiles come from sl_lt_hist, a
 *      log-linear histogram with <= 0.4% relative error, never from stored samples
 *      (per-request rows are kept for the CSV and MLflow only in Genie modes).
 *  (4) A cache hit never reaches Genie: hits re-execute the stored SQL through the SQL
 *      Statement API; a failed re-execution deletes the entry and the question goes to
 *      Genie as a miss.
 *
 * One question, as driven by the event loop (one thread: the generator's timers in front
 * of an sl_dbx_async, which does all HTTP; no curl here):
 *
 *   due --(worker free)--> [LRU lookup] -hit-> re-execute SQL -ok-> done (LRU hit)
 *                             | miss              | failed: forget entry
 *                          [embed, semantic find] -hit-> re-execute -ok-> done (semantic)
 *                             | miss                     | failed: forget entry
 *                             v                          v
 *                          the Genie ask step function of dbx.h (sl_dbx_genie_step, as
 *                          `sluice genie ask`): POST start-conversation | follow-up (429:
 *                          Retry-After, retry) -> poll GET message (backoff) -> COMPLETED
 *                          -> GET query result (poll while PENDING/RUNNING) -> done (live,
 *                          stored);  FAILED/CANCELLED -> failed
 *
 * Threads: sl_lt_genie_run and sl_lt_http_run block their calling thread and run one
 * event loop on it; the dbx client they use may be shared with other threads. Pure
 * helpers (histogram on distinct objects, schedule, similarity, parsing) are
 * thread-safe. An sl_lt_cache belongs to one thread (it holds an sl_store).
 */
#ifndef SLUICE_LOADTEST_H
#define SLUICE_LOADTEST_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "sluice/dbx.h"
#include "sluice/util.h"

/* ------------------------------------------------------------------------------------
 * Histogram: HDR-style log-linear buckets over non-negative int64 values (we record
 * microseconds). Values below 128 are exact; above, each power of two is split into
 * 128 linear buckets, so a bucket's width is at most 1/128 of its lower bound and the
 * reported midpoint is within 0.4% of any value in it. About 57 KB per histogram.
 * ---------------------------------------------------------------------------------- */

typedef struct sl_lt_hist sl_lt_hist;

/* A new empty histogram (owned; sl_lt_hist_free). Never NULL (OOM aborts). */
SL_MUST_USE sl_lt_hist *sl_lt_hist_new(void);
void sl_lt_hist_free(sl_lt_hist *h); /* accepts NULL */
void sl_lt_hist_reset(sl_lt_hist *h);
/* Record one value (negative values count as 0). O(1). */
void sl_lt_hist_record(sl_lt_hist *h, int64_t value);
/* Add every count of `from` into `into`. */
void sl_lt_hist_merge(sl_lt_hist *into, const sl_lt_hist *from);
uint64_t sl_lt_hist_count(const sl_lt_hist *h);
int64_t sl_lt_hist_min(const sl_lt_hist *h); /* exact; 0 when empty */
int64_t sl_lt_hist_max(const sl_lt_hist *h); /* exact; 0 when empty */
double sl_lt_hist_mean(const sl_lt_hist *h); /* exact (from the running sum) */
/*
 * Nearest-rank percentile: the value of rank ceil(pct/100 * count) (at least 1) in
 * sorted order, reported as its bucket's midpoint clamped to [min, max], so p0 = min and
 * p100 = max exactly. pct is clamped to [0, 100]. 0 when empty.
 */
int64_t sl_lt_hist_percentile(const sl_lt_hist *h, double pct);

/* ------------------------------------------------------------------------------------
 * Scenarios and schedules
 * ---------------------------------------------------------------------------------- */

typedef struct sl_lt_scenario {
    const char *name;
    int64_t questions;
    int64_t duration_ms; /* 0 = immediate (all due at t0) */
    int workers;         /* concurrent questions at most */
    const char *description;
} sl_lt_scenario;

/* The built-in table (the notebook's LOAD_TEST_SCENARIOS); *n gets its length. */
const sl_lt_scenario *sl_lt_scenario_list(size_t *n);
/* By name, or NULL. */
const sl_lt_scenario *sl_lt_scenario_find(const char *name);

/*
 * Due offset from t0 of request i (0-based) of n spread over duration_us:
 * floor(i * duration_us / n), exact in integer microseconds; 0 for every request when
 * duration_us <= 0 or n <= 1 (the notebook's rule). Pure.
 */
int64_t sl_lt_schedule_offset_us(int64_t duration_us, int64_t n, int64_t i);

/* ------------------------------------------------------------------------------------
 * Questions, normalisation, similarity, context
 * ---------------------------------------------------------------------------------- */

#define SL_LT_SAMPLE_QUESTIONS 10

/* The notebook's question i: base[i % 10] + " (iteration k)", k = i / 10 + 1. Owned. */
SL_MUST_USE char *sl_lt_sample_question(size_t i);
/* Cache key form of a question: surrounding whitespace stripped, ASCII letters
 * lower-cased (Python's q.strip().lower() on ASCII text). Owned. */
SL_MUST_USE char *sl_lt_question_normalize(const char *q);
/*
 * Read a questions file: one question per line, surrounding whitespace stripped, blank
 * lines and lines starting with '#' skipped. *out is an owned NULL-terminated array
 * (sl_lt_strv_free). SL_ENOTFOUND / SL_EIO for an unreadable file, SL_EINVAL when it
 * holds no question.
 */
SL_MUST_USE sl_code sl_lt_questions_load(const char *path, char ***out, size_t *n, sl_err *err);
void sl_lt_strv_free(char **v);

typedef enum sl_lt_sim {
    SL_LT_SIM_L2,     /* 1 / (1 + L2 distance): dao-ai's measure, the default */
    SL_LT_SIM_COSINE, /* dot / (|a| |b|); two zero vectors count as identical (1) */
} sl_lt_sim;

/* Similarity of two dim-float vectors; NULL stands for the zero vector. Pure. */
double sl_lt_similarity(sl_lt_sim kind, const float *a, const float *b, size_t dim);
bool sl_lt_sim_parse(const char *s, sl_lt_sim *out); /* "l2" | "cosine" */
const char *sl_lt_sim_name(sl_lt_sim kind);

#define SL_LT_CONTEXT_MSG_MAX 500 /* characters (bytes) kept of each earlier message */

/*
 * The conversation context of a question: the last `window` of the `n` earlier
 * messages (oldest first), each cut to 500 bytes (at a UTF-8 boundary) plus "..." when
 * longer, each as "Previous: <text>", joined by "\n". "" when n == 0 or window <= 0.
 * Owned.
 */
SL_MUST_USE char *sl_lt_context_string(const char *const *history, size_t n, int window);

/* ------------------------------------------------------------------------------------
 * Conversations file (the Python export tool's conversations.yaml)
 * ---------------------------------------------------------------------------------- */

typedef struct sl_lt_message {
    char *content;
    int64_t timestamp_ms; /* created_timestamp, epoch ms (0 when absent) */
    char *message_id;     /* may be NULL */
} sl_lt_message;

typedef struct sl_lt_conversation {
    char *id;
    char *title;
    int64_t created_ms;
    sl_lt_message *msgs;
    size_t n_msgs;
} sl_lt_conversation;

typedef struct sl_lt_convset {
    char *space_id;
    char *exported_at; /* naive local ISO-8601, as the tool writes it */
    sl_lt_conversation *convs;
    size_t n_convs;
    bool has_from, has_to; /* the optional `filter` block */
    int64_t from_ms, to_ms;
} sl_lt_convset;

SL_MUST_USE sl_lt_convset *sl_lt_convset_new(void);
void sl_lt_convset_free(sl_lt_convset *cs); /* accepts NULL */
size_t sl_lt_convset_messages(const sl_lt_convset *cs);
/*
 * Read a conversations file with the libyaml parser: any quoting style, the tool's key
 * order or another, extra keys ignored. Messages without content are dropped, then
 * conversations without messages. SL_ENOTFOUND "conversations file X not found (run
 * 'sluice loadtest export' first)", SL_EINVAL with line and column for malformed YAML, a
 * document that is not a mapping with a `conversations` list, or a timestamp that is not a
 * number of milliseconds in int64 range (an integer; a fraction is truncated).
 */
SL_MUST_USE sl_code sl_lt_convset_load(const char *path, sl_lt_convset **out, sl_err *err);
/*
 * Write `cs` with the libyaml emitter exactly as the tool's yaml.dump(sort_keys=False)
 * does: keys space_id, exported_at, total_conversations, total_messages, conversations
 * (then filter when set); conversations id, title ("Untitled" when empty),
 * created_timestamp, messages; messages content, timestamp, message_id; strings that
 * YAML 1.1 would read as another type single-quoted. The file is written to a temporary
 * sibling and renamed. SL_EIO on a write error.
 */
SL_MUST_USE sl_code sl_lt_convset_save(const sl_lt_convset *cs, const char *path, sl_err *err);
/*
 * Keep a deterministic subset of `k` conversations chosen by `seed` (a partial
 * Fisher-Yates shuffle driven by splitmix64; the same seed gives the same subset, but
 * not the subset Python's random.sample would pick). k == 0 or k >= n keeps all.
 */
void sl_lt_convset_sample(sl_lt_convset *cs, size_t k, uint64_t seed);

/* ------------------------------------------------------------------------------------
 * Export (the tool's export-conversations)
 * ---------------------------------------------------------------------------------- */

typedef struct sl_lt_export_opts {
    const char *space_id;     /* required */
    bool include_all;         /* include_all=true: every user's conversations */
    size_t max_conversations; /* 0 = all; counts conversations with messages */
    bool has_from, has_to;    /* inclusive bounds on the conversation created_timestamp */
    int64_t from_ms, to_ms;
    const char *output_path; /* YAML written here; NULL = do not write */
} sl_lt_export_opts;

void sl_lt_export_opts_init(sl_lt_export_opts *o);

/*
 * Parse a --from/--to value as the tool does: relative "<n>[mhdw]" (minutes, hours,
 * days, weeks before now_ms), ISO-8601 with or without zone/fraction (naive = UTC), or
 * YYYY-MM-DD (UTC midnight). SL_EINVAL listing the accepted forms otherwise. Pure.
 */
SL_MUST_USE sl_code sl_lt_time_arg_parse(const char *s, int64_t now_ms, int64_t *out_ms,
                                         sl_err *err);

/*
 * Page through the space's conversations (page_size 100) and each one's messages
 * (page_size 100), build the conversations file (messages with content, sorted by
 * timestamp; conversations with messages; bounds and max_conversations applied) and
 * write it to o->output_path. *out (may be NULL) receives the set (owned). Errors are
 * the client's (SL_ENOTFOUND for an unknown space, SL_EAUTH, ...) or SL_EIO writing.
 * Blocks.
 */
SL_MUST_USE sl_code sl_loadtest_export(sl_dbx_client *c, const sl_lt_export_opts *o,
                                       sl_lt_convset **out, sl_err *err);

/* ------------------------------------------------------------------------------------
 * Answer cache policy (rows in the Sluice database through store.h)
 * ---------------------------------------------------------------------------------- */

typedef enum sl_lt_cache_mode {
    SL_LT_CACHE_NONE,
    SL_LT_CACHE_LRU,      /* exact match only */
    SL_LT_CACHE_SEMANTIC, /* exact match in front of the context-aware semantic layer */
} sl_lt_cache_mode;

bool sl_lt_cache_mode_parse(const char *s, sl_lt_cache_mode *out);
const char *sl_lt_cache_mode_name(sl_lt_cache_mode m);

typedef struct sl_lt_cache_opts {
    sl_lt_cache_mode mode;
    int lru_capacity;            /* GENIE_LRU_CAPACITY (100); 0 disables the exact layer */
    int capacity;                /* GENIE_CACHE_CAPACITY (1000) semantic entries per space */
    int64_t ttl_ms;              /* GENIE_CACHE_TTL seconds (86400) from creation; < 0 never */
    double similarity_threshold; /* GENIE_SIMILARITY_THRESHOLD (0.85), on the question */
    double context_threshold;    /* GENIE_CONTEXT_SIMILARITY_THRESHOLD (0.80) */
    int context_window;          /* GENIE_CONTEXT_WINDOW_SIZE (3) earlier messages */
    double question_weight;      /* ranking weight of the question (0.6; context 1 - w) */
    sl_lt_sim similarity;        /* --similarity l2|cosine */
    const char *embedding_model; /* GENIE_EMBEDDING_MODEL (databricks-gte-large-en) */
    const char *warehouse_id;    /* GENIE_WAREHOUSE_ID, else DATABRICKS_WAREHOUSE_ID, else
                                    resolved by the run (NULL here) */
    const char *db_path;         /* --cache-db, else the Sluice database */
} sl_lt_cache_opts;

/* Defaults above (mode NONE, strings borrowed from static storage). */
void sl_lt_cache_opts_init(sl_lt_cache_opts *o);
/* Override from the GENIE_* environment variables (strings point into the environment).
 * SL_EINVAL naming the variable for a malformed number. */
SL_MUST_USE sl_code sl_lt_cache_opts_from_env(sl_lt_cache_opts *o, sl_err *err);

typedef struct sl_lt_cache sl_lt_cache;

/* Open the cache database (sl_store_open: created and migrated when needed). */
SL_MUST_USE sl_code sl_lt_cache_open(const sl_lt_cache_opts *o, sl_lt_cache **out, sl_err *err);
void sl_lt_cache_close(sl_lt_cache *c); /* accepts NULL */

/*
 * Exact layer. `question` is normalised here; `context` is the context string (""
 * when none). get: SL_OK with *sql (owned) and *conversation_id (owned, may be NULL),
 * touching the entry; SL_ENOTFOUND when absent or older than the TTL (then deleted).
 * put stores only a non-blank SQL (SL_OK without storing otherwise) and evicts the
 * least recently used entries beyond lru_capacity.
 */
SL_MUST_USE sl_code sl_lt_cache_lru_get(sl_lt_cache *c, const char *space, const char *question,
                                        const char *context, int64_t now_ms, char **sql,
                                        char **conversation_id, sl_err *err);
SL_MUST_USE sl_code sl_lt_cache_lru_put(sl_lt_cache *c, const char *space, const char *question,
                                        const char *context, const char *sql,
                                        const char *conversation_id, int64_t now_ms, sl_err *err);
SL_MUST_USE sl_code sl_lt_cache_lru_forget(sl_lt_cache *c, const char *space, const char *question,
                                           const char *context, sl_err *err);

typedef struct sl_lt_cache_match {
    int64_t entry_id;
    double question_sim, context_sim, score; /* score = w q + (1 - w) c, for ranking */
    char *sql;                               /* owned */
    char *conversation_id;                   /* owned, may be NULL */
    char *question;                          /* owned: the cached question */
} sl_lt_cache_match;

void sl_lt_cache_match_cleanup(sl_lt_cache_match *m);

/*
 * Semantic layer: rank the space's live entries by score, take the best, and call it a
 * hit only if question_sim >= similarity_threshold AND context_sim >= context_threshold.
 * ctx_vec NULL = no history (the zero vector). Expired entries are deleted on the way.
 * SL_OK with *out filled (entry touched); SL_ENOTFOUND when no entry qualifies (out
 * still holds the best candidate's similarities when there was one, entry_id 0).
 */
SL_MUST_USE sl_code sl_lt_cache_semantic_find(sl_lt_cache *c, const char *space, const float *q_vec,
                                              const float *ctx_vec, size_t dim, int64_t now_ms,
                                              sl_lt_cache_match *out, sl_err *err);
/* Store (replacing the same space+question+context), evicting by last access while the
 * space holds >= capacity entries. A blank SQL is not stored. */
SL_MUST_USE sl_code sl_lt_cache_semantic_put(sl_lt_cache *c, const char *space,
                                             const char *question, const char *context,
                                             const float *q_vec, const float *ctx_vec, size_t dim,
                                             const char *sql, const char *conversation_id,
                                             const char *message_id, int64_t now_ms, sl_err *err);
SL_MUST_USE sl_code sl_lt_cache_semantic_forget(sl_lt_cache *c, int64_t entry_id, sl_err *err);
/* Entries currently stored for `space` (NULL = all spaces). */
SL_MUST_USE sl_code sl_lt_cache_count(sl_lt_cache *c, const char *space, int64_t *n_lru,
                                      int64_t *n_semantic, sl_err *err);
const sl_lt_cache_opts *sl_lt_cache_get_opts(const sl_lt_cache *c);

/* ------------------------------------------------------------------------------------
 * The Genie generator
 * ---------------------------------------------------------------------------------- */

typedef enum sl_lt_mode {
    SL_LT_MODE_SCENARIO, /* N questions on an open-loop schedule */
    SL_LT_MODE_REPLAY,   /* U users replaying conversations until run_time */
} sl_lt_mode;

/* Request types, reported separately. */
typedef enum sl_lt_rtype {
    SL_LT_GENIE,              /* no cache */
    SL_LT_GENIE_LIVE,         /* cache miss: asked Genie */
    SL_LT_GENIE_LRU_HIT,      /* exact-match hit */
    SL_LT_GENIE_SEMANTIC_HIT, /* semantic hit */
    SL_LT_RTYPE_COUNT
} sl_lt_rtype;
const char *sl_lt_rtype_name(sl_lt_rtype t); /* "GENIE", "GENIE_LIVE", ... */

/* Failure causes. */
typedef enum sl_lt_cause {
    SL_LT_OK,
    SL_LT_RATE_LIMITED, /* 429 still refused after the last retry */
    SL_LT_TIMEOUT,      /* question deadline or a transfer timeout */
    SL_LT_GENIE_FAILED, /* message FAILED/CANCELLED, or its query result FAILED */
    SL_LT_HTTP_ERROR,   /* another non-2xx status, connection error, malformed reply */
    SL_LT_CAUSE_COUNT
} sl_lt_cause;
const char *sl_lt_cause_name(sl_lt_cause c); /* "ok", "rate_limited", "timeout", ... */

typedef struct sl_lt_opts {
    sl_lt_mode mode;
    const char *space_id; /* required */
    const char *name;     /* test name for the summary and MLflow ("load_test_high_load") */
    const char *scenario; /* scenario name or "custom" (reporting only) */

    /* scenario mode */
    int64_t questions;       /* N */
    int64_t duration_ms;     /* spread over (before time_scale); 0 = immediate */
    int workers;             /* concurrency limit */
    const char *const *pool; /* question texts (borrowed); question i = pool[i % n_pool];
                                NULL = the notebook's sample questions */
    size_t n_pool;

    /* replay mode */
    const sl_lt_convset *convs; /* borrowed */
    int users;
    double spawn_rate;   /* users started per second */
    int64_t run_time_ms; /* before time_scale */
    double min_wait_s;   /* between conversations: U(min, max); between messages:
                            U(min/2, max/2) */
    double max_wait_s;
    uint64_t seed;           /* user choices; 0 = random */
    int64_t stop_timeout_ms; /* grace for in-flight questions after run_time (30 s) */

    double time_scale;           /* every schedule time (duration, waits, spawn, run time) x F */
    int64_t question_timeout_ms; /* per question, from its start (300 s) */
    int64_t poll_initial_ms;     /* first message poll (200 ms) */
    int64_t poll_max_ms;         /* poll backoff cap, x1.5 per poll (1500 ms) */
    int max_retries;             /* 429/503 retries per HTTP step; < 0 = the client's */
    int64_t http_timeout_ms;     /* per transfer (60 s) */

    sl_lt_cache_opts cache;
    FILE *progress;              /* live progress line target (a TTY), or NULL */
    volatile sig_atomic_t *stop; /* set (e.g. by SIGINT) to stop early; may be NULL */
} sl_lt_opts;

void sl_lt_opts_init(sl_lt_opts *o);

/* Which exported conversations a replay uses: a seeded subset (sl_lt_convset_sample). */
typedef struct sl_lt_sample {
    int64_t size;  /* 0: all of them */
    bool has_seed; /* else a random seed */
    uint64_t seed;
} sl_lt_sample;

/*
 * The Locust tool's environment defaults, over what sl_lt_opts_init set: GENIE_MIN_WAIT and
 * GENIE_MAX_WAIT (seconds, 0..86400) into o->min_wait_s / o->max_wait_s, GENIE_SAMPLE_SIZE
 * (integer >= 1) and GENIE_SAMPLE_SEED (integer >= 0) into *sample. Unset or empty variables
 * leave the field alone; apply flags afterwards, as they win. SL_EINVAL naming the variable
 * for a malformed value ("bad GENIE_MIN_WAIT 'x': expected seconds, a number 0..86400").
 * The cache's variables are sl_lt_cache_opts_from_env's.
 */
SL_MUST_USE sl_code sl_lt_opts_from_env(sl_lt_opts *o, sl_lt_sample *sample, sl_err *err);

/* The schedule `o` describes, one line: "schedule: high_load: 35 questions over 30s x 0.1
 * = 3s, interval 85.7ms (question i due at t0 + i x interval), 10 workers, open loop".
 * Owned. */
SL_MUST_USE char *sl_lt_schedule_describe(const sl_lt_opts *o);

/* What `loadtest genie` was asked to run (sl_lt_plan_new resolves it into sl_lt_opts). */
typedef struct sl_lt_plan_opts {
    const char *scenario;                          /* built-in scenario name, or NULL */
    bool has_questions, has_duration, has_workers; /* the numbers below were given */
    int64_t questions;
    int64_t duration_ms;
    int workers;
    const char *questions_file;     /* one question per line, or NULL */
    const char *conversations_file; /* conversations.yaml, or NULL */
    sl_lt_sample sample;            /* replay a subset of the conversations */
} sl_lt_plan_opts;

typedef struct sl_lt_plan sl_lt_plan;

/* Scenario mode (a scenario, --questions or a question file, or no conversations), else a
 * replay of the conversations. */
bool sl_lt_plan_is_scenario(const sl_lt_plan_opts *in);

/*
 * Load the files (sampling the conversations), pick the mode and set o's mode, scenario,
 * questions, duration, workers and question pool (scenario mode: the question file, else
 * the conversations' messages in file order, else the notebook's questions) or convs
 * (replay). The replay shape (users, spawn rate, run time, waits, seed) stays the caller's.
 * On SL_OK *out owns what o now borrows: free it (sl_lt_plan_free) after the run.
 * SL_EINVAL: unknown scenario, a file that holds no question or conversation (the message
 * names it); SL_EIO: a file that cannot be read.
 */
SL_MUST_USE sl_code sl_lt_plan_new(const sl_lt_plan_opts *in, sl_lt_opts *o, sl_lt_plan **out,
                                   sl_err *err);
void sl_lt_plan_free(sl_lt_plan *p);
/* The loaded conversations (borrowed from the plan), or NULL. */
const sl_lt_convset *sl_lt_plan_convs(const sl_lt_plan *p);

typedef struct sl_lt_result sl_lt_result;

/*
 * Run the generator to completion against the client's workspace. Blocks. SL_OK when
 * the run happened (however many questions failed); SL_EINVAL for bad options; errors
 * opening the cache or resolving its warehouse. *out (owned, sl_lt_result_free) holds
 * the statistics, the per-request rows and the summary.
 */
SL_MUST_USE sl_code sl_lt_genie_run(sl_dbx_client *c, const sl_lt_opts *o, sl_lt_result **out,
                                    sl_err *err);
void sl_lt_result_free(sl_lt_result *r);
/* The schedule actually used, one line ("schedule: high_load: 35 questions ..."). */
const char *sl_lt_result_schedule(const sl_lt_result *r);
/* The summary as JSON (borrowed; the summary.json document). */
const json_t *sl_lt_result_summary(const sl_lt_result *r);
/* The notebook's summary block, the per-type tables and (with a cache) the
 * test_complete line. */
void sl_lt_result_print(const sl_lt_result *r, FILE *out);
/* Write <dir>/detailed_metrics.csv (one row per request) and <dir>/summary.json,
 * creating dir. SL_EIO naming the path. */
SL_MUST_USE sl_code sl_lt_result_write(const sl_lt_result *r, const char *dir, sl_err *err);

typedef struct sl_lt_mlflow_opts {
    const char *experiment; /* workspace path, e.g. /Shared/genie-load-test */
    int max_children;       /* per-question child runs logged (default 100; 0 = none) */
} sl_lt_mlflow_opts;

/*
 * Log the run to MLflow through `ml`: experiment (created when absent), a parent run
 * named after the test with params (scenario, mode, num_questions, max_workers,
 * target_duration, duration, cache, questions, ...) and metrics (the summary figures;
 * success_rate a fraction), then one child run per question (tag mlflow.parentRunId;
 * params question (cut to 250 bytes), timestamp, conversation_id/message_id or error;
 * metrics duration_seconds, success, row_count; tag status) up to max_children.
 * *run_id (may be NULL) gets the parent's id (owned). Blocks.
 */
/*
 * The client MLflow logging goes through, from MLFLOW_TRACKING_URI: unset or "databricks"
 * -> the workspace client itself (*out = workspace, *owned false); "databricks://PROFILE"
 * -> a client for that profile of ~/.databrickscfg (conn's host and token still win);
 * "http(s)://..." -> that server, with MLFLOW_TRACKING_TOKEN (else the workspace's token)
 * and the workspace's retry policy. *owned: the caller frees *out. SL_EINVAL for another
 * URI or a bad profile (the message says which); does no I/O beyond reading the config.
 */
SL_MUST_USE sl_code sl_lt_mlflow_client(sl_dbx_client *workspace, const sl_dbx_config *conn,
                                        sl_dbx_client **out, bool *owned, sl_err *err);

SL_MUST_USE sl_code sl_lt_mlflow_log(sl_dbx_client *ml, const sl_lt_mlflow_opts *o,
                                     const sl_lt_result *r, char **run_id, sl_err *err);

/* ------------------------------------------------------------------------------------
 * Zero-latency HTTP benchmark (`sluice loadtest http`)
 * ---------------------------------------------------------------------------------- */

typedef struct sl_lt_http_opts {
    const char *url;
    int concurrency; /* connections, each re-issuing GET on completion */
    int64_t duration_ms;
    const char *const *headers; /* "Name: value" lines (borrowed) */
    size_t n_headers;
    int64_t timeout_ms; /* per request (10 s) */
    FILE *progress;     /* TTY progress line, or NULL */
    volatile sig_atomic_t *stop;
} sl_lt_http_opts;

void sl_lt_http_opts_init(sl_lt_http_opts *o);

typedef struct sl_lt_http_result {
    uint64_t requests; /* completed within the duration */
    uint64_t errors;   /* transport errors */
    uint64_t non_2xx;  /* completed with a status outside 200-299 */
    double seconds;    /* measured wall time */
    double requests_per_s;
    int64_t p50_us, p90_us, p99_us, p999_us, max_us, min_us;
    double mean_us;
    double cpu_s; /* user + system CPU of this process during the run */
    double cpu_us_per_request;
    uint64_t bytes;    /* response bodies */
    int max_in_flight; /* highest simultaneous transfers seen */
} sl_lt_http_result;

/* Run the benchmark. Blocks for the duration. SL_EINVAL for bad options. */
SL_MUST_USE sl_code sl_lt_http_run(const sl_lt_http_opts *o, sl_lt_http_result *out, sl_err *err);

#endif
