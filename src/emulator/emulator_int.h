/*
 * emulator_int.h - private interface between the emulator's files, one per API area:
 *
 *   http.c       MHD set-up, routing, auth, faults, suspension (delayed responses)
 *   control.c    /_emulator/... test endpoints and the stats counters
 *   auth.c       OAuth M2M token endpoint and token checks
 *   faults.c     fault spec parsing and per-request decisions; the Genie rate limiter
 *   store.c      the state database (connection pool), Unity Catalog metadata
 *   catalog.c    Unity Catalog REST
 *   cast.c       Databricks types, casting and printing (also SQLite functions)
 *   sql_*.c      the Databricks SQL subset: lexer, expressions, SELECT, read_files,
 *                statement execution (their shared parser state is in sql_int.h)
 *   statements.c SQL warehouses and the Statement Execution API
 *   files.c      Files API (volumes)
 *   genie.c      Genie spaces, conversations, messages
 *   serving.c    embeddings endpoint
 *   mlflow.c     MLflow tracking
 *   support.c    SQL quoting, string map, percent-decoding, rmtree, emu_err
 *
 * Lock order (never taken the other way round): susp_mu -> stmt_mu; genie_mu -> stmt_mu;
 * stats_mu, fault_mu, token_mu and pool_mu are leaves.
 */
#ifndef SLUICE_EMULATOR_INT_H
#define SLUICE_EMULATOR_INT_H

#include <pthread.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>
#include <sqlite3.h>

#include "sluice/emulator.h"
#include "sluice/util.h"

/* ------------------------------------------------------------------ support.c */

/* SQL text is built in an sl_buf (util.h). */
/* Double-quoted SQLite identifier with '"' doubled. */
void sl__sql_put_ident(sl_buf *sb, const char *name);
/* Single-quoted SQL string literal with '\'' doubled. */
void sl__sql_put_literal(sl_buf *sb, const char *s);

/* String-keyed hash map (keys copied); not thread-safe. */
typedef struct sl__map sl__map;
sl__map *sl__map_new(void);
void sl__map_free(sl__map *m, void (*free_val)(void *));
void *sl__map_get(const sl__map *m, const char *key);
void sl__map_put(sl__map *m, const char *key, void *val); /* replaces */
void *sl__map_del(sl__map *m, const char *key);           /* returns old value */
size_t sl__map_count(const sl__map *m);
/* Iterate: size_t it = 0; while (sl__map_next(m, &it, &k, &v)) ... (no changes meanwhile) */
bool sl__map_next(const sl__map *m, size_t *it, const char **key, void **val);

/* Percent-decode s[0..n) into an owned string; *out_len gets the decoded length (which
 * is < strlen of the result when the input had %00). plus_is_space for query values.
 * Returns NULL for a malformed escape. */
char *sl__pct_decode(const char *s, size_t n, bool plus_is_space, size_t *out_len);
void sl__lower(char *s);
/* Remove a directory tree (best effort). */
void sl__rmtree(const char *path);

/* ------------------------------------------------------------------ cast.c */

typedef enum emu_type {
    EMU_T_NULL = 0,
    EMU_T_STRING,
    EMU_T_INT,
    EMU_T_BIGINT,
    EMU_T_DOUBLE,
    EMU_T_BOOLEAN,
    EMU_T_DATE,
    EMU_T_TIMESTAMP,
} emu_type;

const char *sl__emu_type_text(emu_type t);  /* "BIGINT" (manifest type_text) */
const char *sl__emu_type_name(emu_type t);  /* "LONG" (manifest/UC type_name) */
const char *sl__emu_type_lower(emu_type t); /* "bigint" (DESCRIBE, UC type_text) */
const char *sl__emu_type_json(emu_type t);  /* "long" (Spark type_json) */
/* Parse a Databricks type name (BIGINT, LONG, INT, INTEGER, SMALLINT, TINYINT, DOUBLE,
 * FLOAT, REAL, BOOLEAN, DATE, TIMESTAMP, TIMESTAMP_NTZ, STRING, VARCHAR, DECIMAL...). */
bool sl__emu_type_parse(const char *s, emu_type *out);
bool sl__emu_type_is_numeric(emu_type t);

/* Databricks (ANSI) casting of text. */
bool sl__emu_parse_bigint(const char *s, int64_t *out);
bool sl__emu_parse_double(const char *s, double *out);
bool sl__emu_parse_boolean(const char *s, bool *out);
bool sl__emu_parse_date(const char *s, char out[11]);      /* -> "YYYY-MM-DD" */
bool sl__emu_parse_timestamp(const char *s, char out[32]); /* -> "YYYY-MM-DDTHH:MM:SS.fffZ" */
/* Shortest round-trip text, Java style: 1.0, 0.25, 1.0E20, NaN, Infinity. */
void sl__emu_format_double(double d, char *buf, size_t n);
/* Register sl_cast(x, to, from), sl_try_cast(x, to, from), sl_date_trunc(u, x), sl_now(). */
void sl__emu_cast_register(sqlite3 *db);
/* Error text prefix sl_cast uses, so the executor can map it to CAST_INVALID_INPUT. */
#define EMU_CAST_ERR_PREFIX "CAST_INVALID_INPUT:"

/* ------------------------------------------------------------------ errors shared by areas */

typedef enum emu_ekind {
    EMU_E_NONE = 0,
    EMU_E_INVALID,     /* 400 INVALID_PARAMETER_VALUE */
    EMU_E_NOT_FOUND,   /* 404 *_DOES_NOT_EXIST */
    EMU_E_EXISTS,      /* 409 *_ALREADY_EXISTS */
    EMU_E_NOT_EMPTY,   /* 400 *_NOT_EMPTY */
    EMU_E_PARSE,       /* SQL syntax */
    EMU_E_UNSUPPORTED, /* SQL the emulator does not do */
    EMU_E_RUNTIME,     /* SQL execution error (cast, ...) */
    EMU_E_CANCELED,
    EMU_E_INTERNAL,
} emu_ekind;

typedef struct emu_err {
    emu_ekind kind;
    char error_code[48]; /* REST error_code, e.g. SCHEMA_DOES_NOT_EXIST */
    char cls[64];        /* SQL error class, e.g. TABLE_OR_VIEW_NOT_FOUND */
    char sqlstate[8];
    char msg[512];
} emu_err;

void sl__emu_err_set(emu_err *e, emu_ekind kind, const char *error_code, const char *cls,
                     const char *sqlstate, const char *fmt, ...) SL_PRINTF(6, 7);
/* HTTP status for a REST error of this kind. */
int sl__emu_err_http(const emu_err *e);

/* ------------------------------------------------------------------ faults.c */

typedef struct emu_fault_rule {
    char *glob;          /* path pattern (fnmatch), NULL = every path */
    double p_status[5];  /* probabilities for 429, 500, 502, 503, 504 */
    double p_drop;
    int64_t latency_ms;  /* added to every matching response */
    int64_t latency_jitter_ms;
    int retry_after_s;   /* Retry-After on injected 429/503 */
} emu_fault_rule;

typedef struct emu_faults {
    emu_fault_rule *rules;
    size_t n_rules;
} emu_faults;

/* Parse a spec (docs/emulator.md). On error returns false with a one-line message. */
bool sl__emu_faults_parse(const char *spec, emu_faults *out, char *errbuf, size_t errlen);
void sl__emu_faults_free(emu_faults *f);

typedef struct emu_fault_decision {
    int status;         /* 0 = none, else 429/500/502/503/504 */
    bool drop;
    int64_t latency_ms;
    int retry_after_s;
} emu_fault_decision;

/* Decide for one request given a uniform draw u in [0,1) and jitter draw j in [0,1). */
emu_fault_decision sl__emu_faults_decide(const emu_faults *f, const char *path, double u,
                                         double j);

/* Deterministic RNG (splitmix64). */
uint64_t sl__emu_rng_next(uint64_t *state);

/* Sliding-window rate limiter: at most `limit` events per `window_ms`. limit 0 = off. */
typedef struct emu_rate {
    int limit;
    int64_t window_ms;
    int64_t *ts; /* ring of accepted event times */
    int head, count, cap;
} emu_rate;

bool sl__emu_rate_parse(const char *spec, int *limit, int64_t *window_ms, char *errbuf,
                        size_t errlen);
void sl__emu_rate_init(emu_rate *r, int limit, int64_t window_ms);
void sl__emu_rate_cleanup(emu_rate *r);
/* Try to take a slot at now_ms. true = accepted (recorded). false = limited; *retry_after_ms
 * gets the time until a slot frees. */
bool sl__emu_rate_take(emu_rate *r, int64_t now_ms, int64_t *retry_after_ms);

/* ------------------------------------------------------------------ store.c */

typedef struct emu_store emu_store;

/* Open (create) the state database at path with a connection pool. */
emu_store *sl__emu_store_open(const char *path, char *errbuf, size_t errlen);
void sl__emu_store_close(emu_store *st);
/* Borrow a connection (blocks when all are in use); give it back with release. */
sqlite3 *sl__emu_db_acquire(emu_store *st);
void sl__emu_db_release(emu_store *st, sqlite3 *db);
/* Exec SQL without results; false with e set (EMU_E_INTERNAL). */
bool sl__emu_db_exec(sqlite3 *db, const char *sql, emu_err *e);
const char *sl__emu_store_volumes_root(emu_store *st); /* "<data>/volumes" */

/* Unity Catalog metadata. Names are lower-cased by callers. */
typedef struct emu_column {
    char *name;
    emu_type type;
} emu_column;

typedef struct emu_table_info {
    char *catalog, *schema, *name, *id, *comment, *table_type, *format;
    int64_t created_at_ms, updated_at_ms;
    emu_column *cols;
    int n_cols;
} emu_table_info;

void sl__emu_table_info_free(emu_table_info *t);

bool sl__emu_uc_catalog_create(sqlite3 *db, const char *name, const char *comment,
                               bool if_not_exists, emu_err *e);
bool sl__emu_uc_schema_create(sqlite3 *db, const char *cat, const char *name,
                              const char *comment, bool if_not_exists, emu_err *e);
bool sl__emu_uc_volume_create(emu_store *st, sqlite3 *db, const char *cat, const char *sch,
                              const char *name, const char *type, const char *comment,
                              bool if_not_exists, emu_err *e);
bool sl__emu_uc_catalog_delete(emu_store *st, sqlite3 *db, const char *name, bool force,
                               bool if_exists, emu_err *e);
bool sl__emu_uc_schema_delete(emu_store *st, sqlite3 *db, const char *cat, const char *name,
                              bool force, bool if_exists, emu_err *e);
bool sl__emu_uc_volume_delete(emu_store *st, sqlite3 *db, const char *cat, const char *sch,
                              const char *name, bool if_exists, emu_err *e);
bool sl__emu_uc_table_drop(sqlite3 *db, const char *cat, const char *sch, const char *name,
                           bool if_exists, emu_err *e);
/* Row of uc_catalog/uc_schema/uc_volume as JSON-ready fields: returns an owned object with
 * keys of the table's columns, or NULL with e set (NOT_FOUND). */
json_t *sl__emu_uc_catalog_get(sqlite3 *db, const char *name, emu_err *e);
json_t *sl__emu_uc_schema_get(sqlite3 *db, const char *cat, const char *name, emu_err *e);
json_t *sl__emu_uc_volume_get(sqlite3 *db, const char *cat, const char *sch, const char *name,
                              emu_err *e);
bool sl__emu_uc_volume_exists(sqlite3 *db, const char *cat, const char *sch, const char *name);
/* Table metadata with columns; false with e (NOT_FOUND: TABLE/SCHEMA/CATALOG). */
bool sl__emu_uc_table_get(sqlite3 *db, const char *cat, const char *sch, const char *name,
                          emu_table_info *out, emu_err *e);
/* Check the schema exists (e: SCHEMA or CATALOG not found). */
bool sl__emu_uc_schema_exists(sqlite3 *db, const char *cat, const char *sch, emu_err *e);
/* Physical SQLite table name for a UC table: "cat.sch.tbl". Owned. */
char *sl__emu_phys_name(const char *cat, const char *sch, const char *tbl);
/* Register table metadata (after the physical table was created). */
bool sl__emu_uc_table_register(sqlite3 *db, const char *cat, const char *sch, const char *name,
                               const emu_column *cols, int n_cols, const char *format,
                               emu_err *e);

/* ------------------------------------------------------------------ sql_exec.c */

typedef struct emu_result {
    int n_cols;
    emu_column *cols;
    size_t n_rows, cap_rows;
    char **cells; /* n_rows * n_cols, NULL = SQL NULL */
    size_t bytes; /* approximate JSON size of all cells */
    bool truncated;
} emu_result;

void sl__emu_result_free(emu_result *r);

typedef struct emu_sql_ctx {
    emu_store *store;
    const char *catalog;     /* default catalog, may be NULL */
    const char *schema;      /* default schema, may be NULL */
    const json_t *params;    /* [{name, value?, type?}] or NULL */
    int64_t row_limit;       /* 0 = none */
    size_t max_result_bytes; /* 0 = none */
    /* NULL, or a flag another thread may set to stop the statement; polled while it runs. */
    const atomic_bool *canceled;
} emu_sql_ctx;

/* Parse, translate and run one Databricks SQL statement. On success *out holds the result
 * (owned). On failure e is set with a SQL error class and SQLSTATE. Blocks while it runs. */
bool sl__emu_sql_run(const emu_sql_ctx *ctx, const char *sql, emu_result *out, emu_err *e);
/* Translate a SELECT to SQLite text only (unit tests): owned SQL or NULL with e. */
char *sl__emu_sql_translate(const emu_sql_ctx *ctx, const char *sql, emu_err *e);

/* Seed samples.sales.product_sales (50 deterministic rows) if missing. */
bool sl__emu_seed_samples(emu_store *st, emu_err *e);

/* ------------------------------------------------------------------ embeddings (serving.c) */

#define EMU_EMBED_DIM 1024
void sl__emu_embed(const char *text, float out[EMU_EMBED_DIM]);
int sl__emu_embed_tokens(const char *text);

/* ------------------------------------------------------------------ files.c */

/* Validate an API path "/Volumes/c/s/v/rest..." (decoded, length n). On success fills
 * c/s/v (lower-cased, owned) and rel (owned, may be ""), returns true; else e set. */
bool sl__emu_path_parse(const char *path, size_t n, char **cat, char **sch, char **vol,
                        char **rel, emu_err *e);

/* ------------------------------------------------------------------ the emulator */

typedef struct emu_stmt emu_stmt;
typedef struct emu_genie emu_genie;
typedef struct emu_req emu_req;

struct sl_emulator {
    sl_emulator_opts opts; /* strings below are owned copies */
    char *listen_host, *data_dir, *token, *client_id, *client_secret, *genie_config_path;
    bool own_data_dir;
    char url[64];
    int port;
    struct MHD_Daemon *mhd;
    emu_store *store;
    bool stopping; /* guarded by susp_mu; read it with sl__emu_is_stopping */

    /* faults + stall */
    pthread_mutex_t fault_mu;
    emu_faults faults;
    uint64_t rng;
    int64_t stall_until_ms;

    /* suspended connections */
    pthread_mutex_t susp_mu;
    pthread_cond_t susp_cv;
    emu_req *susp_head;
    pthread_t timer_thread;
    bool timer_started;

    /* OAuth tokens: token -> expiry (int64_t*) */
    pthread_mutex_t token_mu;
    sl__map *tokens;

    /* statements */
    pthread_mutex_t stmt_mu;
    pthread_cond_t stmt_cv;
    sl__map *stmts;
    emu_stmt *order_head, *order_tail; /* retention order */
    size_t n_stmts;
    emu_stmt *queue_head, *queue_tail;
    pthread_t exec_threads[4];
    int n_exec;
    bool exec_quit;

    /* genie */
    emu_genie *genie;

    /* stats */
    pthread_mutex_t stats_mu;
    json_t *st_requests;   /* "GET /route" -> n */
    json_t *st_statuses;   /* "200" -> n */
    json_t *st_faults;     /* "429" / "drop" / "latency" -> n */
    json_t *st_uploads;    /* path -> {count, bytes} */
    json_t *st_genie;      /* [{ts_ms, space_id, conversation_id, message_id, content}] */
    json_t *st_statements; /* [{statement_id, statement, state}] */
    int64_t st_429s, st_total;
};

/* A request in flight (http.c). Handlers see it through these accessors. */
const char *sl__emu_req_method(const emu_req *r);
const char *sl__emu_req_path(const emu_req *r); /* decoded */
const char *sl__emu_req_param(const emu_req *r, int i); /* {x} captures, decoded */
/* Decoded query argument or NULL. */
const char *sl__emu_req_query(emu_req *r, const char *name);
const char *sl__emu_req_header(emu_req *r, const char *name);
const char *sl__emu_req_body(const emu_req *r, size_t *len);
/* Parse the body as a JSON object; on failure replies 400 and returns NULL. An empty body
 * parses as {}. Borrowed (freed with the request). */
json_t *sl__emu_req_json(emu_req *r);
sl_emulator *sl__emu_req_emu(const emu_req *r);
struct MHD_Connection *sl__emu_req_conn(const emu_req *r);
/* Per-request scratch the handler may keep across suspensions. */
void **sl__emu_req_slot(emu_req *r);
void sl__emu_req_set_slot_free(emu_req *r, void (*fn)(void *));
/* Upload state (PUT files): the handler decides at the first call. */
typedef struct emu_upload {
    int fd;
    char *tmp_path, *final_path;
    int64_t bytes;
    int err_errno;
} emu_upload;
emu_upload *sl__emu_req_upload(emu_req *r);

/* Handler result: a reply was queued (or must be), or the request waits. */
typedef enum emu_hr { EMU_HR_DONE = 0, EMU_HR_SUSPENDED, EMU_HR_DROP } emu_hr;

/* Replies (take ownership of body). */
emu_hr sl__emu_reply_json(emu_req *r, int status, json_t *body_take);
emu_hr sl__emu_reply_error(emu_req *r, int status, const char *code, const char *fmt, ...)
    SL_PRINTF(4, 5);
emu_hr sl__emu_reply_emu_err(emu_req *r, const emu_err *e);
/* Add a header to the reply prepared last. */
void sl__emu_reply_header(emu_req *r, const char *name, const char *value);
/* Reply with a prepared MHD response (taken). */
emu_hr sl__emu_reply(emu_req *r, int status, struct MHD_Response *resp);
/* Suspend until deadline_ms or until sl__emu_wake(emu, key); still_wait is re-checked under
 * the suspension lock: if it returns false the request is not suspended and the function
 * returns false (the caller replies now). */
bool sl__emu_suspend(emu_req *r, int64_t deadline_ms, const void *key,
                     bool (*still_wait)(const void *key));
void sl__emu_wake(sl_emulator *emu, const void *key);
/* true once sl_emulator_stop has begun (no request is suspended after that). */
bool sl__emu_is_stopping(sl_emulator *emu);

/* Handlers: each area's entry points (routes live in http.c). */
typedef emu_hr (*emu_handler)(emu_req *r);

/* control.c */
emu_hr sl__emu_ctl_stats(emu_req *r);
emu_hr sl__emu_ctl_reset_stats(emu_req *r);
emu_hr sl__emu_ctl_faults(emu_req *r);
emu_hr sl__emu_ctl_stall(emu_req *r);
emu_hr sl__emu_ctl_genie_rate(emu_req *r);
emu_hr sl__emu_ctl_expire_tokens(emu_req *r);
void sl__emu_stats_init(sl_emulator *emu);
void sl__emu_stats_free(sl_emulator *emu);
void sl__emu_stats_request(sl_emulator *emu, const char *route_key);
void sl__emu_stats_status(sl_emulator *emu, int status);
void sl__emu_stats_fault(sl_emulator *emu, const char *kind);
void sl__emu_stats_upload(sl_emulator *emu, const char *path, int64_t bytes);
void sl__emu_stats_genie(sl_emulator *emu, const char *space_id, const char *conv_id,
                         const char *msg_id, const char *content, int64_t ts_ms);
void sl__emu_stats_statement(sl_emulator *emu, const char *id, const char *sql);

/* auth.c */
emu_hr sl__emu_oauth_token(emu_req *r);
emu_hr sl__emu_oauth_discovery(emu_req *r);
/* true when the request carries a valid bearer; otherwise replies 401/403 and false. */
bool sl__emu_auth_check(emu_req *r);
void sl__emu_tokens_free(sl_emulator *emu);
/* End the life of every OAuth access token issued so far (as if each had reached its
 * expiry); returns how many there were. The PAT is unaffected. */
size_t sl__emu_tokens_expire_all(sl_emulator *emu);

/* catalog.c */
emu_hr sl__emu_uc_catalog_post(emu_req *r);
emu_hr sl__emu_uc_catalog_get_h(emu_req *r);
emu_hr sl__emu_uc_catalog_delete_h(emu_req *r);
emu_hr sl__emu_uc_schema_post(emu_req *r);
emu_hr sl__emu_uc_schema_get_h(emu_req *r);
emu_hr sl__emu_uc_schema_delete_h(emu_req *r);
emu_hr sl__emu_uc_volume_post(emu_req *r);
emu_hr sl__emu_uc_volume_get_h(emu_req *r);
emu_hr sl__emu_uc_volume_delete_h(emu_req *r);
emu_hr sl__emu_uc_table_get_h(emu_req *r);
emu_hr sl__emu_uc_table_exists_h(emu_req *r);
emu_hr sl__emu_uc_table_delete_h(emu_req *r);

/* statements.c */
emu_hr sl__emu_wh_list(emu_req *r);
emu_hr sl__emu_wh_get(emu_req *r);
emu_hr sl__emu_stmt_execute(emu_req *r);
emu_hr sl__emu_stmt_get(emu_req *r);
emu_hr sl__emu_stmt_chunk(emu_req *r);
emu_hr sl__emu_stmt_cancel(emu_req *r);
bool sl__emu_warehouse_exists(const char *id);
bool sl__emu_stmts_start(sl_emulator *emu, char *errbuf, size_t errlen);
void sl__emu_stmts_stop(sl_emulator *emu);
/* Run SQL now on the caller's thread and register the result as a statement (Genie).
 * Returns a new reference; drop it with sl__emu_stmt_put. */
emu_stmt *sl__emu_stmt_run_sync(sl_emulator *emu, const char *sql, const char *catalog,
                                const char *schema);
void sl__emu_stmt_put(sl_emulator *emu, emu_stmt *s);
const char *sl__emu_stmt_id(const emu_stmt *s);
/* true when SUCCEEDED; *rows gets the row count. Otherwise e gets the failure. */
bool sl__emu_stmt_outcome(sl_emulator *emu, emu_stmt *s, int64_t *rows, emu_err *e);
/* StatementResponse JSON (owned) for a statement id, or NULL if unknown. closed = report
 * state CLOSED without results (expired Genie results). */
json_t *sl__emu_stmt_response(sl_emulator *emu, const char *id, bool closed);

/* files.c */
emu_hr sl__emu_files_put(emu_req *r);
emu_hr sl__emu_files_get(emu_req *r); /* GET and HEAD */
emu_hr sl__emu_files_delete(emu_req *r);
emu_hr sl__emu_dirs_put(emu_req *r);
emu_hr sl__emu_dirs_get(emu_req *r);
emu_hr sl__emu_dirs_head(emu_req *r);
emu_hr sl__emu_dirs_delete(emu_req *r);
/* First call of a PUT /fs/files: validate and open the temp file, or reply an error. */
emu_hr sl__emu_files_put_begin(emu_req *r);

/* genie.c */
bool sl__emu_genie_start(sl_emulator *emu, char *errbuf, size_t errlen);
void sl__emu_genie_stop(sl_emulator *emu);
bool sl__emu_genie_set_rate(sl_emulator *emu, const char *spec, char *errbuf, size_t errlen);
emu_hr sl__emu_genie_spaces(emu_req *r);
emu_hr sl__emu_genie_space(emu_req *r);
emu_hr sl__emu_genie_start_conv(emu_req *r);
emu_hr sl__emu_genie_create_msg(emu_req *r);
emu_hr sl__emu_genie_get_msg(emu_req *r);
emu_hr sl__emu_genie_list_convs(emu_req *r);
emu_hr sl__emu_genie_list_msgs(emu_req *r);
emu_hr sl__emu_genie_delete_conv(emu_req *r);
emu_hr sl__emu_genie_query_result(emu_req *r);
emu_hr sl__emu_genie_execute_query(emu_req *r);

/* serving.c */
emu_hr sl__emu_serving_invoke(emu_req *r);

/* mlflow.c */
emu_hr sl__emu_ml_exp_get_by_name(emu_req *r);
emu_hr sl__emu_ml_exp_get(emu_req *r);
emu_hr sl__emu_ml_exp_create(emu_req *r);
emu_hr sl__emu_ml_run_create(emu_req *r);
emu_hr sl__emu_ml_run_update(emu_req *r);
emu_hr sl__emu_ml_run_get(emu_req *r);
emu_hr sl__emu_ml_run_search(emu_req *r);
emu_hr sl__emu_ml_log_metric(emu_req *r);
emu_hr sl__emu_ml_log_param(emu_req *r);
emu_hr sl__emu_ml_set_tag(emu_req *r);
emu_hr sl__emu_ml_log_batch(emu_req *r);
bool sl__emu_ml_schema(sqlite3 *db, emu_err *e);

#endif
