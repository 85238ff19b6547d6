/*
 * dbx.h - the Databricks REST client: configuration, authentication (personal access
 * token or OAuth machine-to-machine), one HTTP transfer run by two drivers (the retrying
 * blocking transport of every API call, and sl_dbx_async, non-blocking, for thousands of
 * requests from one thread), and the API areas Sluice uses: SQL warehouses, SQL
 * statements, Files, Unity Catalog, Genie (the ask also as a step function with no I/O),
 * model-serving embeddings and MLflow tracking. The only code that speaks HTTP to a
 * Databricks workspace (or to the local emulator, which serves the same endpoints) and
 * the only code that uses curl or builds Databricks URLs.
 *
 * Invariants:
 *  (1) Secrets never leave this module: every sl_err message and log line produced here
 *      has been through sl_dbx_redact() (PATs, bearer/basic values, client secrets and
 *      access tokens are replaced by "[REDACTED]").
 *  (2) A call either succeeds, or returns one sl_err whose `retryable` says whether a
 *      later attempt may succeed (429/500/502/503/504, connection errors, transient error
 *      codes), with `http_status`, the Databricks `error_code` and a one-line message
 *      prefixed by what was being done ("upload /Volumes/a/b/c/x.csv: HTTP 404 ...").
 *      Authentication failures (SL_EAUTH) concern the credentials, not the object, so
 *      they carry no per-call prefix: "authentication failed (HTTP 403 ...): ...".
 *  (3) Retryable failures are retried inside the call, up to max_retries times, with
 *      delay = min(initial * multiplier^attempt, max) + U[0, 10% of that], or the
 *      server's Retry-After when present; every sleep is bounded by the caller's
 *      deadline and interrupted by its cancel check.
 *  (4) Memory is bounded: uploads and downloads stream through a fixed-size buffer;
 *      SQL results can be streamed chunk by chunk; JSON responses are capped at
 *      SL_DBX_MAX_RESPONSE bytes.
 *
 * Configuration is resolved once, per attribute, in the order the official Databricks
 * tools use: explicit options > environment (real variables, then ./.env) > profile in
 * ~/.databrickscfg (see sl_dbx_config_resolve and docs/dbx.md).
 *
 * Threads: an sl_dbx_client is shared by any number of threads once created; all API
 * functions may run concurrently on it. Each thread drives its own curl easy handle
 * (thread-local, reused across calls and clients so connections stay open), released
 * when the thread exits or by sl_dbx_thread_cleanup(). The OAuth token cache is shared
 * by all threads of a client; exactly one thread refreshes it while the others wait.
 * sl_dbx_global_init() must have run (once, in main) before threads start. Free a client
 * only when no thread still uses it. A non-blocking driver (sl_dbx_async) belongs to the
 * thread that made it. Pure functions (config, backoff, error mapping,
 * redaction, path encoding, rendering) are thread-safe.
 */
#ifndef SLUICE_DBX_H
#define SLUICE_DBX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "sluice/util.h"

#define SL_DBX_MAX_RESPONSE    (256u * 1024 * 1024) /* cap on a buffered (JSON) response */
#define SL_DBX_RETRY_AFTER_MAX (15 * 60 * 1000)     /* longest Retry-After we honour, ms */

typedef struct sl_dbx_client sl_dbx_client;

/* ------------------------------------------------------------------------------------
 * Retry policy and error mapping (pure functions)
 * ---------------------------------------------------------------------------------- */

typedef struct sl_dbx_retry_policy {
    int max_retries;           /* retries after the first attempt (MAX_RETRIES, 5) */
    double initial_backoff_s;  /* delay before the first retry (INITIAL_BACKOFF, 1.0) */
    double max_backoff_s;      /* cap on the exponential part (MAX_BACKOFF, 60) */
    double backoff_multiplier; /* growth per retry (BACKOFF_MULTIPLIER, 2.0) */
} sl_dbx_retry_policy;

/* Defaults: 5 retries, 1 s initial, 60 s cap, x2. */
void sl_dbx_retry_policy_init(sl_dbx_retry_policy *p);

/*
 * Delay in ms before retry number `attempt` (0 = the first retry):
 *   d = min(initial * multiplier^attempt, max);  delay = d + unit_random * 0.1 * d
 * where unit_random is a uniform draw in [0, 1) supplied by the caller (the transport
 * passes sl_rand_unit()), so the jitter lies in [0, 10% of d]. This reproduces the
 * seed (a) helper: about 1, 2, 4, 8, 16 s. Pure; never negative.
 */
int64_t sl_dbx_backoff_ms(const sl_dbx_retry_policy *p, int attempt, double unit_random);

/*
 * Parse a Retry-After header value: delay-seconds ("120") or an HTTP-date
 * ("Wed, 21 Oct 2015 07:28:00 GMT", also RFC 850 and asctime forms) relative to now_ms
 * (Unix ms). Returns the delay in ms (0 for a date in the past), capped at
 * SL_DBX_RETRY_AFTER_MAX, or -1 when `value` is NULL, empty or unparseable. Pure.
 */
int64_t sl_dbx_retry_after_ms(const char *value, int64_t now_ms);

/* True for the HTTP statuses the transport retries: 429, 500, 502, 503, 504 (500 too,
 * unlike the SDKs: Databricks reports transient failures as 500 INTERNAL_ERROR). */
bool sl_dbx_http_status_is_retryable(int status);

/*
 * Map a non-2xx response to *err (err may be NULL; returns the code): http_status,
 * error_code (standard body {"error_code","message"}, int codes tolerated, the legacy
 * {"error": "..."} and OAuth {"error","error_description"} shapes, or "CODE: message"
 * plain text), retryable, and retry_after_ms (from `retry_after` header value, else a
 * RetryInfo detail, else -1). Codes follow the SDK classes, error_code overriding the
 * status: 400 INVALID_* -> SL_EINVAL, 401/403 -> SL_EAUTH, *_DOES_NOT_EXIST/404 ->
 * SL_ENOTFOUND, *_ALREADY_EXISTS/ABORTED/409 -> SL_ECONFLICT, 429/REQUEST_LIMIT_EXCEEDED/
 * RESOURCE_EXHAUSTED -> SL_ELIMIT (retryable), 499 -> SL_ECANCELED, 504 -> SL_ETIMEOUT
 * (retryable), 500/502/503/TEMPORARILY_UNAVAILABLE -> SL_EREMOTE (retryable), other 5xx ->
 * SL_EREMOTE (not retryable). A retryable status stays retryable unless the error_code
 * names a bad-request, not-found or conflict class. Message: "HTTP 404 RESOURCE_DOES_NOT_EXIST: <message>" (secrets not yet
 * redacted: the transport redacts). Pure.
 */
sl_code sl_dbx_error_from_http(int status, const char *body, size_t body_len,
                               const char *retry_after, int64_t now_ms, sl_err *err);

/*
 * Classify a Databricks error code on its own (statement errors, SQL error codes):
 * sets err->code and err->retryable; leaves the message alone. Unknown codes become
 * SL_EREMOTE, not retryable. TEMPORARILY_UNAVAILABLE, WORKSPACE_TEMPORARILY_UNAVAILABLE,
 * SERVICE_UNDER_MAINTENANCE, REQUEST_LIMIT_EXCEEDED, RESOURCE_EXHAUSTED and
 * DEADLINE_EXCEEDED are retryable.
 */
void sl_dbx_error_code_classify(const char *error_code, sl_err *err);

/* ------------------------------------------------------------------------------------
 * Redaction and paths (pure functions)
 * ---------------------------------------------------------------------------------- */

/*
 * Return a copy of `text` (owned; free()) with secrets replaced by "[REDACTED]":
 * the values of "Authorization:" headers, "Bearer <x>" / "Basic <x>" credentials,
 * Databricks PATs (dapi...), OAuth secrets (dose...), JWTs (eyJ...), values of
 * access_token / client_secret / refresh_token / id_token / token / password / secret
 * keys (JSON, form or header style), and every literal in `secrets` (NULL-terminated
 * list, may be NULL; entries that are NULL or shorter than 4 bytes are ignored).
 */
SL_MUST_USE char *sl_dbx_redact(const char *text, const char *const *secrets);
/* Same, in place in a NUL-terminated buffer of buf_len bytes (truncates if needed). */
void sl_dbx_redact_buf(char *buf, size_t buf_len, const char *const *secrets);

/*
 * Percent-encode each segment of an absolute workspace path, keeping '/':
 * "/Volumes/m/d/v/a b.txt" -> "/Volumes/m/d/v/a%20b.txt". A trailing '/' is dropped.
 * SL_EINVAL (with a message naming the path) for a path that is empty, relative, has an
 * empty, "." or ".." segment, or contains a control character. *out is owned.
 */
SL_MUST_USE sl_code sl_dbx_path_encode(const char *path, char **out, sl_err *err);

/*
 * Check a Unity Catalog object name (catalog, schema, volume or table part): 1..255
 * bytes, no '.', ' ', '/', control characters or DEL. SL_EINVAL otherwise, naming
 * `what` ("catalog") and the name.
 */
SL_MUST_USE sl_code sl_dbx_uc_name_check(const char *what, const char *name, sl_err *err);

/* ------------------------------------------------------------------------------------
 * Configuration
 * ---------------------------------------------------------------------------------- */

/* Explicit options (CLI flags / code). Strings are borrowed; NULL or "" = not given. */
typedef struct sl_dbx_config {
    const char *host;           /* --host; DATABRICKS_HOST; host = */
    const char *token;          /* --token; DATABRICKS_TOKEN; token = */
    const char *client_id;      /* DATABRICKS_CLIENT_ID; client_id = */
    const char *client_secret;  /* DATABRICKS_CLIENT_SECRET; client_secret = */
    const char *warehouse_id;   /* DATABRICKS_WAREHOUSE_ID; warehouse_id = */
    const char *genie_space_id; /* GENIE_SPACE_ID; genie_space_id = */
    const char *profile;        /* --profile; DATABRICKS_CONFIG_PROFILE; else DEFAULT */
    int max_retries;            /* < 0: MAX_RETRIES; max_retries =; else 5 */
    double initial_backoff_s;   /* < 0: INITIAL_BACKOFF; initial_backoff =; else 1.0 */
    double max_backoff_s;       /* < 0: MAX_BACKOFF; max_backoff =; else 60 */
    double backoff_multiplier;  /* < 0: BACKOFF_MULTIPLIER; backoff_multiplier =; else 2 */
    int64_t connect_timeout_ms; /* <= 0: 10 s */
    int64_t request_timeout_ms; /* <= 0: DATABRICKS_HTTP_TIMEOUT_SECONDS; else 60 s */
    int tls_insecure;           /* < 0: DATABRICKS_INSECURE_SKIP_VERIFY; else 0 (verify) */
} sl_dbx_config;

/* Everything "not given": resolution falls through to environment and config file. */
void sl_dbx_config_init(sl_dbx_config *cfg);

typedef enum sl_dbx_auth_kind {
    SL_DBX_AUTH_PAT,       /* Authorization: Bearer <token> */
    SL_DBX_AUTH_OAUTH_M2M, /* client credentials at {host}/oidc/v1/token, cached */
} sl_dbx_auth_kind;

/*
 * Workflow-level retries of a dataset's sync (the dataset_sync workflow, fixed in its input
 * at start): DATABRICKS_RETRY_ATTEMPTS (integer 1..1000, default 3) and
 * DATABRICKS_RETRY_INTERVAL (seconds before the first retry, 0.001..86400, default 300).
 */
typedef struct sl_dbx_sync_retry {
    int attempts;
    double interval_s;
} sl_dbx_sync_retry;

/* Resolved settings. Strings are owned (release with sl_dbx_settings_cleanup). */
typedef struct sl_dbx_settings {
    char *host; /* "https://adb-1.azuredatabricks.net" or "http://127.0.0.1:8080" */
    sl_dbx_auth_kind auth;
    char *token;          /* PAT when auth == SL_DBX_AUTH_PAT, else NULL */
    char *client_id;      /* OAuth M2M, else NULL */
    char *client_secret;  /* OAuth M2M, else NULL */
    char *warehouse_id;   /* or NULL */
    char *genie_space_id; /* or NULL */
    char *profile;        /* profile read from the config file, or NULL */
    char *config_file;    /* config file consulted (may not exist), or NULL */
    sl_dbx_retry_policy retry;
    int64_t connect_timeout_ms;
    int64_t request_timeout_ms; /* whole request; transfers use it as a stall timeout */
    bool tls_verify;
    sl_dbx_sync_retry sync_retry;
} sl_dbx_settings;

/* Defaults with no host or credentials (for building settings by hand, e.g. tests). */
void sl_dbx_settings_init(sl_dbx_settings *s);
void sl_dbx_settings_cleanup(sl_dbx_settings *s);

/* Environment lookup: the value of `name`, or NULL. */
typedef const char *(*sl_dbx_env_fn)(void *arg, const char *name);

/*
 * Resolve settings, each attribute independently: `cfg` (may be NULL) > env(name)
 * > .env file at `dotenv_path` (may be NULL; KEY=VALUE lines, `export ` prefix,
 * quotes and # comments; never overrides env) > profile in the INI file at
 * `config_path` (NULL: $DATABRICKS_CONFIG_FILE, else $HOME/.databrickscfg, both looked
 * up through env and .env). The profile is cfg->profile, else DATABRICKS_CONFIG_PROFILE,
 * else DEFAULT; keys of [DEFAULT] are inherited by every profile (as configparser does).
 * The host gets https:// when it has no scheme (http:// is kept) and loses any path.
 * Auth: the token when one is found at the same or a higher level than the client id
 * and secret, else OAuth M2M (both id and secret required).
 * Pure apart from reading the two files. On failure *out is left clean and the error is:
 * SL_EINVAL "no host: ...", "no credentials: ...", "unknown profile 'x' in <path>",
 * "bad MAX_RETRIES 'x' (environment): expected ..."; SL_EIO "cannot read <path>: ...".
 */
SL_MUST_USE sl_code sl_dbx_config_resolve(const sl_dbx_config *cfg, sl_dbx_env_fn env,
                                          void *env_arg, const char *config_path,
                                          const char *dotenv_path, sl_dbx_settings *out,
                                          sl_err *err);

/* sl_dbx_config_resolve with getenv(), the default config path and "./.env". */
SL_MUST_USE sl_code sl_dbx_config_resolve_default(const sl_dbx_config *cfg, sl_dbx_settings *out,
                                                  sl_err *err);

/*
 * Just the dataset sync's retry settings, from env(name) then the .env file at dotenv_path
 * (may be NULL), for callers that need them without a Databricks host (sl_dbx_config_resolve
 * fills settings.sync_retry the same way). Defaults when unset. SL_EINVAL for a bad value:
 * "bad DATABRICKS_RETRY_ATTEMPTS 'x' (environment DATABRICKS_RETRY_ATTEMPTS): expected an
 * integer 1..1000"; SL_EIO when the .env file cannot be read.
 */
SL_MUST_USE sl_code sl_dbx_sync_retry_resolve(sl_dbx_env_fn env, void *env_arg,
                                              const char *dotenv_path, sl_dbx_sync_retry *out,
                                              sl_err *err);
/* sl_dbx_sync_retry_resolve with getenv() and "./.env". */
SL_MUST_USE sl_code sl_dbx_sync_retry_resolve_default(sl_dbx_sync_retry *out, sl_err *err);

/*
 * Normalise a host: trim, add "https://" when there is no scheme, keep http/https,
 * drop path/query/fragment and trailing '/'. SL_EINVAL for an empty host or another
 * scheme. *out is owned.
 */
SL_MUST_USE sl_code sl_dbx_host_normalize(const char *host, char **out, sl_err *err);

/* ------------------------------------------------------------------------------------
 * Client, per-call options, statistics
 * ---------------------------------------------------------------------------------- */

/*
 * Create a client from resolved settings (copied; `s` may be cleaned up afterwards).
 * Does no I/O: an OAuth token is fetched on first use. SL_EINVAL for settings without
 * a host or credentials. Free with sl_dbx_client_free.
 */
SL_MUST_USE sl_code sl_dbx_client_new(const sl_dbx_settings *s, sl_dbx_client **out, sl_err *err);
/* Accepts NULL. Only when no other thread uses the client. */
void sl_dbx_client_free(sl_dbx_client *c);
/* Borrowed; valid for the client's life. Never log the credential fields. */
const sl_dbx_settings *sl_dbx_client_settings(const sl_dbx_client *c);

/*
 * Process-wide set-up of the HTTP library (curl_global_init): once, in main, before any
 * thread starts; sl_dbx_global_cleanup once at exit. SL_EIO when it fails.
 */
SL_MUST_USE sl_code sl_dbx_global_init(sl_err *err);
void sl_dbx_global_cleanup(void);

/* Release the calling thread's curl handle (also happens at thread exit). */
void sl_dbx_thread_cleanup(void);

/* Return true to abandon the call now (SL_ECANCELED). Called often; must be cheap. */
typedef bool (*sl_dbx_cancel_fn)(void *arg);

typedef struct sl_dbx_progress {
    const char *op;      /* "statement", "genie message", "upload", "download" */
    const char *id;      /* statement id, message id or remote path */
    const char *state;   /* statement state / message status; NULL for transfers */
    int polls;           /* polls so far (waits) */
    int64_t bytes_done;  /* transfers */
    int64_t bytes_total; /* transfers; -1 when unknown */
} sl_dbx_progress;

/* Heartbeat hook: called on every poll and, for transfers, at most every 500 ms. */
typedef void (*sl_dbx_progress_fn)(void *arg, const sl_dbx_progress *p);

/* Per-call options; pass NULL for "no deadline, no hooks, default polling". */
typedef struct sl_dbx_call {
    int64_t deadline_ms; /* Unix ms (sl_now_ms clock) after which the call gives up
                            with SL_ETIMEOUT (retryable); 0 = none. Bounds retry sleeps,
                            polls and each request's timeout. */
    sl_dbx_cancel_fn cancel;
    void *cancel_arg;
    sl_dbx_progress_fn progress;
    void *progress_arg;
    int64_t poll_initial_ms; /* first poll interval for waits; 0 = per-API default */
    int64_t poll_max_ms;     /* cap on the poll interval; 0 = per-API default */
    bool no_retry_on_429;    /* return a 429 at once (retryable, with retry_after_ms) so a
                                durable caller waits it out as a recorded attempt */
} sl_dbx_call;

/* Counters since the client was created (atomic; a consistent-enough snapshot). */
typedef struct sl_dbx_stats {
    uint64_t requests;        /* HTTP requests sent, retries included */
    uint64_t retries;         /* requests repeated after a retryable failure or a 401 */
    uint64_t http_429;        /* responses with status 429 */
    uint64_t http_5xx;        /* responses with status 500-599 */
    uint64_t conn_errors;     /* refused / reset / timed out / DNS failures */
    uint64_t token_refreshes; /* OAuth tokens obtained (the first one included) */
    uint64_t bytes_up;        /* request bodies */
    uint64_t bytes_down;      /* response bodies */
} sl_dbx_stats;

void sl_dbx_stats_get(const sl_dbx_client *c, sl_dbx_stats *out);

/*
 * Raw JSON call for endpoints without a wrapper: `method` ("GET", "POST", "PUT",
 * "PATCH", "DELETE"), `path` already encoded and starting with "/api/" or
 * "/serving-endpoints/" (query string allowed), `body` borrowed (NULL = none). On SL_OK *out holds
 * the parsed response (an empty body becomes {}). Errors as in invariant (2), prefixed with "METHOD
 * path". Blocks for the request and its retries.
 */
SL_MUST_USE sl_code sl_dbx_api_call(sl_dbx_client *c, const char *method, const char *path,
                                    const json_t *body, const sl_dbx_call *call, json_t **out,
                                    sl_err *err);

/* ------------------------------------------------------------------------------------
 * Requests as data, and non-blocking requests (src/dbx/async.c)
 *
 * An sl_dbx_request says what to send (method, path, JSON body); request builders
 * (sl_dbx_statement_execute_request, sl_dbx_serving_embed_request, ...) and the Genie
 * step function (sl_dbx_genie_step_next) produce them, so URLs are built only here. The
 * blocking API sends its own requests through the retrying transport; a non-blocking
 * driver sends these:
 *
 * An sl_dbx_async is one curl multi handle driven through epoll: thousands of requests
 * in flight from one thread, connections kept open and reused between requests (up to
 * max_connections idle ones), no thread per request, no retries (the caller decides,
 * e.g. from sl_dbx_retry_delay_ms). A client driver (made with a client) sends paths on
 * the client's host with its auth (PAT, or the shared OAuth token: a token that is
 * missing or due is fetched, blocking, when a request is submitted; a 401/403 on an
 * OAuth token refreshes it and re-sends once), counts requests in the client's
 * statistics and maps failures as invariant (2). A raw driver (no client) sends absolute
 * http(s) URLs with no auth, only the headers given (`sluice loadtest http`).
 *
 * States of a request:
 *
 *   IDLE --submit / resubmit--> IN FLIGHT --transfer ends--> DONE: done(r, arg) runs,
 *    ^ ^                          |                           from sl_dbx_async_run
 *    | '-----------abort----------'                                  |
 *    '------- done returns (result kept until the next submit) ------'
 *                 (or done submits it again: IN FLIGHT)
 *
 * Threads: a driver, its requests and their results belong to one thread. Callbacks run
 * only from sl_dbx_async_run on that thread, after curl has finished with the transfer
 * (never inside a curl callback), so a callback may submit, resubmit, abort or free any
 * request, including its own. sl_dbx_async_run waits for socket activity at most the
 * time it is given, so the caller interleaves its own timers with the transfers.
 * ---------------------------------------------------------------------------------- */

#define SL_DBX_ASYNC_BODY_MAX (8u * 1024 * 1024) /* default cap on a kept response body */

/* One request as data. Strings are borrowed (submit copies what it needs) unless a
 * builder made them: then own_path/own_body hold them and sl_dbx_request_cleanup frees. */
typedef struct sl_dbx_request {
    const char *method;         /* "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD" */
    const char *path;           /* client driver: encoded path from the host root ("/api/2.0/...",
                                   query allowed); raw driver: an absolute http(s) URL */
    const char *body;           /* JSON text (Content-Type: application/json), or NULL */
    char what[160];             /* error context ("get Genie message 01ef"); "" = "METHOD path" */
    const char *const *headers; /* raw drivers: extra "Name: value" lines (borrowed) */
    size_t n_headers;
    int64_t timeout_ms;        /* whole request; 0 = the client's request timeout (raw: 0 = none) */
    size_t body_max;           /* a longer 2xx body fails SL_ELIMIT; 0 = SL_DBX_ASYNC_BODY_MAX */
    bool discard;              /* count 2xx body bytes, keep nothing (benchmarks) */
    char *own_path, *own_body; /* storage of a built request, or NULL */
} sl_dbx_request;

/* Zeroed, with method and path set (borrowed). */
void sl_dbx_request_init(sl_dbx_request *r, const char *method, const char *path);
/* Frees own_path/own_body; accepts a request that owns nothing. */
void sl_dbx_request_cleanup(sl_dbx_request *r);

/* The outcome of a request, borrowed from it (valid in its callback and until it is next
 * submitted or freed). */
typedef struct sl_dbx_response {
    sl_code code;      /* SL_OK: a 2xx response; otherwise the failure in err */
    const sl_err *err; /* never NULL; code SL_OK on success. For an HTTP error it holds
                          http_status, error_code, retryable and retry_after_ms (from
                          Retry-After), redacted and prefixed with `what` */
    int status;        /* HTTP status; 0 when no response arrived (connection, timeout) */
    const char *body;  /* a 2xx body, NUL-terminated ("" when discarded or empty) */
    size_t body_len;
    uint64_t bytes;       /* body bytes received, kept or not */
    int64_t submitted_ns; /* sl_mono_ns() when the request was (re)submitted */
} sl_dbx_response;

/*
 * The delay before re-sending a request that failed with `err` after `attempt` earlier
 * re-sends: for a 429 or 503 while attempt < max_retries, the server's Retry-After
 * (err->retry_after_ms), else sl_dbx_backoff_ms(p, attempt, unit_random); -1 when it is
 * not to be re-sent (another failure, retries used up, or deadline_ms > 0 and
 * now_ms + delay >= deadline_ms, in the caller's clock). Pure.
 */
int64_t sl_dbx_retry_delay_ms(const sl_err *err, int attempt, int max_retries,
                              const sl_dbx_retry_policy *p, double unit_random, int64_t now_ms,
                              int64_t deadline_ms);

typedef struct sl_dbx_async sl_dbx_async;
typedef struct sl_dbx_async_req sl_dbx_async_req;
typedef void (*sl_dbx_async_fn)(sl_dbx_async_req *r, void *arg);

typedef struct sl_dbx_async_opts {
    int max_connections; /* idle connections kept for reuse (CURLMOPT_MAXCONNECTS); 0 = 64 */
    /* raw drivers only; a client driver uses the client's settings */
    int64_t connect_timeout_ms; /* 0 = 10 s */
    bool tls_verify;            /* default true */
    const char *user_agent;     /* NULL = "sluice/<version>" (copied) */
} sl_dbx_async_opts;

void sl_dbx_async_opts_init(sl_dbx_async_opts *o);

/*
 * A driver for client `c` (borrowed; must outlive the driver), or a raw driver when c is
 * NULL; `o` may be NULL for the defaults. An OAuth client's token is obtained here
 * (blocking), so rejected credentials fail the driver (SL_EAUTH) rather than every
 * request. SL_EIO when epoll or curl cannot be set up. Free with sl_dbx_async_free.
 */
SL_MUST_USE sl_code sl_dbx_async_new(sl_dbx_client *c, const sl_dbx_async_opts *o,
                                     sl_dbx_async **out, sl_err *err);
/* Aborts what is in flight (no callbacks) and frees every request made from the driver.
 * Accepts NULL. Not from a callback. */
void sl_dbx_async_free(sl_dbx_async *a);

/*
 * Wait up to max_wait_ns (0: do not wait) for socket activity or one of curl's own
 * timeouts, move every transfer that can progress, then run the callbacks of the
 * requests that finished. Returns the number of requests in flight afterwards.
 * Interrupted waits (EINTR) return early.
 */
int sl_dbx_async_run(sl_dbx_async *a, int64_t max_wait_ns);
int sl_dbx_async_in_flight(const sl_dbx_async *a);
int sl_dbx_async_peak(const sl_dbx_async *a); /* most requests in flight at once */

/* An idle request of driver `a` (pooled: its easy handle keeps its connection cache
 * entries warm). Never NULL (out of memory aborts). */
SL_MUST_USE sl_dbx_async_req *sl_dbx_async_req_new(sl_dbx_async *a);
/* Abort it if in flight (no callback) and return it to the driver. Accepts NULL. */
void sl_dbx_async_req_free(sl_dbx_async_req *r);

/*
 * Send `rq` (copied); done(r, arg) runs from a later sl_dbx_async_run when it finished,
 * successfully or not. The request must not be in flight. Fails without sending only
 * when the client's OAuth token cannot be obtained (that error, e.g. SL_EAUTH) or for a
 * raw URL that is not http(s) (SL_EINVAL).
 */
SL_MUST_USE sl_code sl_dbx_async_req_submit(sl_dbx_async_req *r, const sl_dbx_request *rq,
                                            sl_dbx_async_fn done, void *arg, sl_err *err);
/* Send the previous request again as it was (its options are kept: the cheap re-issue
 * of a benchmark); with a new OAuth token when the cached one changed. Errors as submit. */
SL_MUST_USE sl_code sl_dbx_async_req_resubmit(sl_dbx_async_req *r, sl_err *err);
/* Stop an in-flight request now; its callback does not run. No-op when idle. */
void sl_dbx_async_req_abort(sl_dbx_async_req *r);
bool sl_dbx_async_req_is_in_flight(const sl_dbx_async_req *r);
/* The outcome of the last completed send (borrowed). */
const sl_dbx_response *sl_dbx_async_req_response(const sl_dbx_async_req *r);

/* ------------------------------------------------------------------------------------
 * SQL warehouses (/api/2.0/sql/warehouses)
 * ---------------------------------------------------------------------------------- */

/* All warehouses: *out is an owned array of warehouse objects (id, name, state, ...). */
SL_MUST_USE sl_code sl_dbx_warehouse_list(sl_dbx_client *c, const sl_dbx_call *call, json_t **out,
                                          sl_err *err);
/* One warehouse object (owned). SL_ENOTFOUND when it does not exist. */
SL_MUST_USE sl_code sl_dbx_warehouse_get(sl_dbx_client *c, const char *id, const sl_dbx_call *call,
                                         json_t **out, sl_err *err);
/*
 * Pick the warehouse to use: `explicit_id` when given, else the configured
 * warehouse_id, else the first RUNNING warehouse in the list (else the first one),
 * logged at INFO and remembered by the client. *out_id is owned. SL_ENOTFOUND when the
 * workspace has no warehouse.
 */
SL_MUST_USE sl_code sl_dbx_warehouse_resolve(sl_dbx_client *c, const char *explicit_id,
                                             const sl_dbx_call *call, char **out_id, sl_err *err);

/* ------------------------------------------------------------------------------------
 * SQL statements (/api/2.0/sql/statements)
 * ---------------------------------------------------------------------------------- */

typedef struct sl_dbx_sql_param {
    const char *name;  /* marker name, without ':' */
    const char *value; /* NULL = SQL NULL */
    const char *type;  /* "INT", "DATE", "DECIMAL(10,2)" ...; NULL = STRING */
} sl_dbx_sql_param;

/*
 * Parse a parameter written "name=value[:TYPE]" or "name[:TYPE]" (SQL NULL), as `sluice dbx
 * sql --param` takes it (a leading ':' on the name is tolerated; TYPE is a Databricks SQL
 * type such as INT, DATE or DECIMAL(10,2), case-insensitive). `arg` is modified and p's
 * strings point into it. False when the name is empty or not [A-Za-z0-9_]+.
 */
bool sl_dbx_sql_param_parse(char *arg, sl_dbx_sql_param *p);

typedef struct sl_dbx_statement_req {
    const char *statement;    /* required; named markers :name */
    const char *warehouse_id; /* NULL: sl_dbx_warehouse_resolve(c, NULL) */
    const char *catalog;      /* NULL: the warehouse default */
    const char *schema;       /* NULL: the warehouse default */
    const sl_dbx_sql_param *params;
    size_t n_params;
    int wait_timeout_s;          /* 0 (return at once) or 5..50; default 10 */
    const char *on_wait_timeout; /* "CONTINUE" (default) or "CANCEL" */
    int64_t row_limit;           /* 0 = no limit */
} sl_dbx_statement_req;

void sl_dbx_statement_req_init(sl_dbx_statement_req *r);

/*
 * Submit a statement. On SL_OK *out is the owned StatementResponse in whatever state it
 * reached within wait_timeout (check it with sl_dbx_statement_error, or wait for it).
 * SL_EINVAL for a bad request (checked locally or by the server). Blocks up to
 * wait_timeout_s plus transport retries.
 */
SL_MUST_USE sl_code sl_dbx_statement_execute(sl_dbx_client *c, const sl_dbx_statement_req *req,
                                             const sl_dbx_call *call, json_t **out, sl_err *err);
/* One status poll: the owned StatementResponse. SL_ENOTFOUND once it has expired. */
SL_MUST_USE sl_code sl_dbx_statement_get(sl_dbx_client *c, const char *statement_id,
                                         const sl_dbx_call *call, json_t **out, sl_err *err);
/*
 * The same two calls as requests (sl_dbx_request, for sl_dbx_async): *out holds the
 * method, path, JSON body and `what`; release with sl_dbx_request_cleanup (also after a
 * failure). execute needs req->warehouse_id (nothing is resolved here) and checks req as
 * sl_dbx_statement_execute does (SL_EINVAL). Pure.
 */
SL_MUST_USE sl_code sl_dbx_statement_execute_request(const sl_dbx_statement_req *req,
                                                     sl_dbx_request *out, sl_err *err);
SL_MUST_USE sl_code sl_dbx_statement_get_request(const char *statement_id, sl_dbx_request *out,
                                                 sl_err *err);
/*
 * The state's verdict on a StatementResponse: SL_OK for PENDING/RUNNING/SUCCEEDED;
 * for FAILED the statement's error_code (classified by sl_dbx_error_code_classify, so
 * TEMPORARILY_UNAVAILABLE is retryable) and "statement <id> failed: <error_code>:
 * <message> (SQLSTATE xxxxx)" (message redacted); SL_ECANCELED for CANCELED; SL_ESTALE for CLOSED; SL_EREMOTE for
 * a response without a state.
 */
sl_code sl_dbx_statement_error(const json_t *resp, sl_err *err);
/* True for SUCCEEDED, FAILED, CANCELED and CLOSED. */
bool sl_dbx_statement_state_is_terminal(const char *state);
/*
 * Poll until the statement is terminal: backoff from poll_initial_ms (default 250 ms)
 * x1.5 up to poll_max_ms (default 5 s); call->progress on every poll. SL_OK with the
 * SUCCEEDED response in *out (owned); otherwise the sl_dbx_statement_error verdict,
 * SL_ETIMEOUT (retryable) at the deadline, SL_ECANCELED when cancelled. The statement is
 * left running on timeout/cancel (see sl_dbx_statement_cancel). Blocks.
 */
SL_MUST_USE sl_code sl_dbx_statement_wait(sl_dbx_client *c, const char *statement_id,
                                          const sl_dbx_call *call, json_t **out, sl_err *err);
/* Ask the warehouse to cancel (fire and forget; the state becomes CANCELED later). */
SL_MUST_USE sl_code sl_dbx_statement_cancel(sl_dbx_client *c, const char *statement_id,
                                            const sl_dbx_call *call, sl_err *err);

/*
 * Row callback: `columns` is the manifest's schema.columns array (ColumnInfo objects:
 * name, type_name, position), `row` an array of string-or-null cells; both borrowed for
 * the call only. Return false to stop early (the fetch then returns SL_OK).
 */
typedef bool (*sl_dbx_row_fn)(void *arg, const json_t *columns, const json_t *row);

/*
 * Stream every row of a SUCCEEDED StatementResponse `resp` (borrowed): the inline first
 * chunk, then each next chunk via next_chunk_internal_link / next_chunk_index. Memory is
 * bounded by one chunk. SL_EINVAL if resp has not SUCCEEDED or uses EXTERNAL_LINKS.
 */
SL_MUST_USE sl_code sl_dbx_statement_fetch(sl_dbx_client *c, const json_t *resp,
                                           const sl_dbx_call *call, sl_dbx_row_fn fn, void *arg,
                                           sl_err *err);

/* A collected result. Release with sl_dbx_result_free. */
typedef struct sl_dbx_result {
    char *statement_id;
    json_t *columns; /* array of ColumnInfo (name, type_name, position, ...) */
    json_t *rows;    /* array of rows; each an array of string-or-null */
    bool truncated;  /* manifest.truncated (row_limit/byte_limit hit) */
} sl_dbx_result;

void sl_dbx_result_free(sl_dbx_result *r);

/*
 * Execute, wait and collect every row (execute + wait + fetch). On a deadline or a
 * cancel the statement is cancelled (best effort) before returning. Errors as for
 * sl_dbx_statement_wait, prefixed with "statement <id>" where known. *out is owned.
 */
SL_MUST_USE sl_code sl_dbx_sql_query(sl_dbx_client *c, const sl_dbx_statement_req *req,
                                     const sl_dbx_call *call, sl_dbx_result **out, sl_err *err);
/* Same, but streams rows to fn (for results too large to hold). */
SL_MUST_USE sl_code sl_dbx_sql_stream(sl_dbx_client *c, const sl_dbx_statement_req *req,
                                      const sl_dbx_call *call, sl_dbx_row_fn fn, void *arg,
                                      sl_err *err);

/* ------------------------------------------------------------------------------------
 * Files (/api/2.0/fs/files, /api/2.0/fs/directories); paths like /Volumes/c/s/v/x
 * ---------------------------------------------------------------------------------- */

/*
 * Stream `local_path` to `remote_path` (PUT, Content-Length set, overwrite=true|false)
 * through a fixed buffer: memory does not grow with the file. call->progress gets
 * bytes_done/bytes_total at most every 500 ms. Retries restart from byte 0.
 * SL_EIO for a local read error; SL_ECONFLICT when the file exists and !overwrite.
 * Stall timeout: request_timeout without progress. Blocks.
 */
SL_MUST_USE sl_code sl_dbx_file_upload(sl_dbx_client *c, const char *local_path,
                                       const char *remote_path, bool overwrite,
                                       const sl_dbx_call *call, sl_err *err);
/*
 * Stream `remote_path` into `local_path` (written to a temporary sibling, renamed on
 * success, so a failure never leaves a partial file). SL_ENOTFOUND, SL_EIO. Blocks.
 */
SL_MUST_USE sl_code sl_dbx_file_download(sl_dbx_client *c, const char *remote_path,
                                         const char *local_path, const sl_dbx_call *call,
                                         sl_err *err);

typedef struct sl_dbx_file_info {
    int64_t size;             /* Content-Length, or -1 */
    char content_type[128];   /* "" when absent */
    int64_t last_modified_ms; /* Unix ms from Last-Modified, or -1 */
} sl_dbx_file_info;

/* HEAD a file. SL_ENOTFOUND when it does not exist. */
SL_MUST_USE sl_code sl_dbx_file_head(sl_dbx_client *c, const char *remote_path,
                                     const sl_dbx_call *call, sl_dbx_file_info *out, sl_err *err);
SL_MUST_USE sl_code sl_dbx_file_delete(sl_dbx_client *c, const char *remote_path,
                                       const sl_dbx_call *call, sl_err *err);
/* mkdir -p (idempotent). */
SL_MUST_USE sl_code sl_dbx_dir_create(sl_dbx_client *c, const char *remote_path,
                                      const sl_dbx_call *call, sl_err *err);
/*
 * List a directory, following next_page_token until the end or `max_items` entries
 * (0 = all). *out is an owned array of DirectoryEntry (path, name, is_directory,
 * file_size, last_modified).
 */
SL_MUST_USE sl_code sl_dbx_dir_list(sl_dbx_client *c, const char *remote_path, size_t max_items,
                                    const sl_dbx_call *call, json_t **out, sl_err *err);

/* ------------------------------------------------------------------------------------
 * Unity Catalog (/api/2.1/unity-catalog). Names are checked with sl_dbx_uc_name_check.
 * `out` may be NULL when the caller does not want the info object.
 * ---------------------------------------------------------------------------------- */

SL_MUST_USE sl_code sl_dbx_catalog_create(sl_dbx_client *c, const char *name, const char *comment,
                                          const sl_dbx_call *call, json_t **out, sl_err *err);
SL_MUST_USE sl_code sl_dbx_catalog_get(sl_dbx_client *c, const char *name, const sl_dbx_call *call,
                                       json_t **out, sl_err *err);
/* Create, treating 409 / *ALREADY_EXISTS as success (then *out is the existing info). */
SL_MUST_USE sl_code sl_dbx_catalog_ensure(sl_dbx_client *c, const char *name, const char *comment,
                                          const sl_dbx_call *call, json_t **out, sl_err *err);

SL_MUST_USE sl_code sl_dbx_schema_create(sl_dbx_client *c, const char *catalog, const char *name,
                                         const char *comment, const sl_dbx_call *call, json_t **out,
                                         sl_err *err);
/* full_name = "catalog.schema" */
SL_MUST_USE sl_code sl_dbx_schema_get(sl_dbx_client *c, const char *full_name,
                                      const sl_dbx_call *call, json_t **out, sl_err *err);
SL_MUST_USE sl_code sl_dbx_schema_ensure(sl_dbx_client *c, const char *catalog, const char *name,
                                         const char *comment, const sl_dbx_call *call, json_t **out,
                                         sl_err *err);

/* MANAGED volumes. */
SL_MUST_USE sl_code sl_dbx_volume_create(sl_dbx_client *c, const char *catalog, const char *schema,
                                         const char *name, const char *comment,
                                         const sl_dbx_call *call, json_t **out, sl_err *err);
/* full_name = "catalog.schema.volume" */
SL_MUST_USE sl_code sl_dbx_volume_get(sl_dbx_client *c, const char *full_name,
                                      const sl_dbx_call *call, json_t **out, sl_err *err);
SL_MUST_USE sl_code sl_dbx_volume_ensure(sl_dbx_client *c, const char *catalog, const char *schema,
                                         const char *name, const char *comment,
                                         const sl_dbx_call *call, json_t **out, sl_err *err);

/* full_name = "catalog.schema.table". SL_ENOTFOUND when absent. */
SL_MUST_USE sl_code sl_dbx_table_get(sl_dbx_client *c, const char *full_name,
                                     const sl_dbx_call *call, json_t **out, sl_err *err);
/* *exists from the /exists endpoint. */
SL_MUST_USE sl_code sl_dbx_table_exists(sl_dbx_client *c, const char *full_name,
                                        const sl_dbx_call *call, bool *exists, sl_err *err);

/* ------------------------------------------------------------------------------------
 * Genie (/api/2.0/genie/spaces). Objects are returned as the API's JSON (owned).
 * ---------------------------------------------------------------------------------- */

/* All visible spaces (paging followed; max_items 0 = all): owned array of GenieSpace. */
SL_MUST_USE sl_code sl_dbx_genie_space_list(sl_dbx_client *c, size_t max_items,
                                            const sl_dbx_call *call, json_t **out, sl_err *err);
SL_MUST_USE sl_code sl_dbx_genie_space_get(sl_dbx_client *c, const char *space_id,
                                           const sl_dbx_call *call, json_t **out, sl_err *err);
/*
 * `explicit_id` when given, else the configured GENIE_SPACE_ID, else the first visible
 * space (its title logged at INFO). *out_id is owned. SL_ENOTFOUND when there is none.
 */
SL_MUST_USE sl_code sl_dbx_genie_space_resolve(sl_dbx_client *c, const char *explicit_id,
                                               const sl_dbx_call *call, char **out_id, sl_err *err);
/* POST start-conversation: {conversation_id, message_id, conversation, message}. */
SL_MUST_USE sl_code sl_dbx_genie_conversation_start(sl_dbx_client *c, const char *space_id,
                                                    const char *content, const sl_dbx_call *call,
                                                    json_t **out, sl_err *err);
/* Follow-up question in a conversation: the new GenieMessage. */
SL_MUST_USE sl_code sl_dbx_genie_message_create(sl_dbx_client *c, const char *space_id,
                                                const char *conversation_id, const char *content,
                                                const sl_dbx_call *call, json_t **out, sl_err *err);
SL_MUST_USE sl_code sl_dbx_genie_message_get(sl_dbx_client *c, const char *space_id,
                                             const char *conversation_id, const char *message_id,
                                             const sl_dbx_call *call, json_t **out, sl_err *err);
/* True for COMPLETED, FAILED, CANCELLED and QUERY_RESULT_EXPIRED. */
bool sl_dbx_genie_status_is_terminal(const char *status);
/*
 * Verdict on a GenieMessage: SL_OK unless FAILED (error_code = error.type, message
 * "genie message <id> failed: <type>: <text>", retryable for rate-limit / retryable /
 * network / timeout error types) or CANCELLED (SL_ECANCELED).
 */
sl_code sl_dbx_genie_message_error(const json_t *message, sl_err *err);
/*
 * Poll a message until terminal: poll_initial_ms (default 1 s) x1.5 up to poll_max_ms
 * (default 5 s), progress on every poll. SL_OK with the message (COMPLETED or
 * QUERY_RESULT_EXPIRED: check "status") in *out; the sl_dbx_genie_message_error verdict
 * for FAILED/CANCELLED; SL_ETIMEOUT at the deadline. Blocks.
 */
SL_MUST_USE sl_code sl_dbx_genie_message_wait(sl_dbx_client *c, const char *space_id,
                                              const char *conversation_id, const char *message_id,
                                              const sl_dbx_call *call, json_t **out, sl_err *err);
/* GET .../attachments/{id}/query-result: {statement_response: StatementResponse}. */
SL_MUST_USE sl_code sl_dbx_genie_attachment_query_result(
    sl_dbx_client *c, const char *space_id, const char *conversation_id, const char *message_id,
    const char *attachment_id, const sl_dbx_call *call, json_t **out, sl_err *err);
/* POST .../attachments/{id}/execute-query (re-run an expired query): same shape. */
SL_MUST_USE sl_code sl_dbx_genie_attachment_execute_query(
    sl_dbx_client *c, const char *space_id, const char *conversation_id, const char *message_id,
    const char *attachment_id, const sl_dbx_call *call, json_t **out, sl_err *err);
/* Conversations of a space (all users' with include_all): owned array of summaries. */
SL_MUST_USE sl_code sl_dbx_genie_conversation_list(sl_dbx_client *c, const char *space_id,
                                                   bool include_all, size_t max_items,
                                                   const sl_dbx_call *call, json_t **out,
                                                   sl_err *err);
/* One page of them (page_size 100; page_token NULL for the first): the owned response
 * {conversations: [...], next_page_token}, for callers that stop paging early. */
SL_MUST_USE sl_code sl_dbx_genie_conversation_page(sl_dbx_client *c, const char *space_id,
                                                   bool include_all, const char *page_token,
                                                   const sl_dbx_call *call, json_t **out,
                                                   sl_err *err);
/* Messages of a conversation: owned array of GenieMessage. */
SL_MUST_USE sl_code sl_dbx_genie_message_list(sl_dbx_client *c, const char *space_id,
                                              const char *conversation_id, size_t max_items,
                                              const sl_dbx_call *call, json_t **out, sl_err *err);
SL_MUST_USE sl_code sl_dbx_genie_conversation_delete(sl_dbx_client *c, const char *space_id,
                                                     const char *conversation_id,
                                                     const sl_dbx_call *call, sl_err *err);

/* ------------------------------------------------------------------------------------
 * Genie "ask": one question answered end to end (src/dbx/genie_ask.c, which runs the
 * step function of genie_step.c below on the blocking transport)
 *
 *   resolve space -> send (start-conversation | follow-up message) -> poll the message
 *     -> COMPLETED ------------------------------> query result (poll while PENDING/RUNNING,
 *     -> QUERY_RESULT_EXPIRED -> execute-query --^   every chunk) -> answer
 *     -> FAILED: error with Genie's message and type;  CANCELLED: error
 *   the deadline at any step: SL_ETIMEOUT "no answer from Genie within <timeout> ..."
 *
 * Polls back off from call->poll_initial_ms (default 1 s) x1.5 up to call->poll_max_ms
 * (default 10 s), the first one an interval after the question was sent;
 * call->progress runs after every poll (the place for a heartbeat). HTTP 429s are retried
 * by the transport per Retry-After (invariant 3), or returned at once with
 * call->no_retry_on_429.
 * ---------------------------------------------------------------------------------- */

#define SL_DBX_GENIE_TIMEOUT_MS      (10 * 60 * 1000) /* default wait for one answer */
#define SL_DBX_GENIE_POLL_INITIAL_MS 1000
#define SL_DBX_GENIE_POLL_MAX_MS     10000

typedef struct sl_dbx_genie_ask_opts {
    const char *space_id;        /* NULL: GENIE_SPACE_ID, else the first visible space */
    const char *conversation_id; /* NULL: start a new conversation; else ask a follow-up */
    const char *message_id;      /* resume: wait for this message of conversation_id rather
                                    than sending the question again (retry after a crash) */
    int64_t timeout_ms;          /* whole ask; 0 = SL_DBX_GENIE_TIMEOUT_MS; < 0 = none (only
                                    call->deadline_ms bounds it) */
} sl_dbx_genie_ask_opts;

void sl_dbx_genie_ask_opts_init(sl_dbx_genie_ask_opts *o);

/*
 * Where an ask got to, filled in as it goes (caller-allocated; also valid after a
 * failure): which space and conversation to follow up in, which message to resume, and
 * whether the failure was Genie's own verdict.
 */
typedef struct sl_dbx_genie_state {
    char space_id[72];
    char space_title[128];    /* when the space was picked as the first visible one */
    bool space_picked;        /* no space given or configured: the first visible was used */
    char conversation_id[72]; /* "" until the question was accepted */
    char message_id[72];      /* "" until the question was accepted */
    char status[40];          /* last message status seen, "" before the first poll */
    int polls;                /* message and query-result polls */
    bool genie_failed;        /* Genie ended the message FAILED or CANCELLED (see err) */
    bool result_failed;       /* the query result's statement ended FAILED, CANCELED or
                                 CLOSED (after the one re-execution) */
} sl_dbx_genie_state;

/* One answer. Owned; release with sl_dbx_genie_answer_free. */
typedef struct sl_dbx_genie_answer {
    char *space_id;
    char *conversation_id;
    char *message_id;
    char *status;        /* "COMPLETED" (also after an expired result was re-executed) */
    char *text;          /* text attachments joined by newlines, or NULL */
    char *sql;           /* the first query attachment's SQL, or NULL */
    char *description;   /* its description, or NULL */
    char *title;         /* its title, or NULL */
    char *attachment_id; /* its attachment id, or NULL */
    char *statement_id;  /* its statement id, or NULL */
    json_t *columns;     /* array of ColumnInfo {name, type_name, ...}; [] without rows */
    json_t *rows;        /* array of rows, each an array of string-or-null; every chunk */
    bool truncated;      /* Genie cut the result (manifest.truncated / is_truncated) */
    bool reexecuted;     /* the result had expired and was re-run with execute-query */
    int64_t row_count;   /* manifest.total_row_count, else the rows received; -1 without a
                            query result */
    int64_t response_bytes; /* bodies of the terminal message, the last query-result
                               response and the chunks read */
} sl_dbx_genie_answer;

void sl_dbx_genie_answer_free(sl_dbx_genie_answer *a);

#define SL_DBX_GENIE_JSON_ROW_OBJECTS 1u /* rows as {column: typed value} objects */

/*
 * JSON form (owned): {space_id, conversation_id, message_id, status, text, sql,
 * description, columns: [{name, type_name}], rows, row_count, truncated, reexecuted}; absent
 * strings are null. rows holds at most max_rows rows (0 = all): arrays of string-or-null
 * cells, or with SL_DBX_GENIE_JSON_ROW_OBJECTS objects keyed by column name with typed
 * values (as sl_dbx_rows_to_objects). row_count is the number of rows Genie returned;
 * truncated is true when rows holds fewer or Genie cut the result. Pure.
 */
SL_MUST_USE json_t *sl_dbx_genie_answer_to_json(const sl_dbx_genie_answer *a, size_t max_rows,
                                                unsigned flags);

/*
 * Ask `question` and wait for the whole answer (see the diagram above). On SL_OK *out is
 * a COMPLETED answer (owned). `st` (may be NULL) is filled in as the ask progresses.
 * Failures (err's message is one line):
 *   Genie FAILED: SL_EREMOTE ("Genie failed: <Genie's message> (<type>)", error_code =
 *     the MessageErrorType; SL_ELIMIT and retryable for RATE_LIMIT_* types, retryable for
 *     other transient types), st->genie_failed set;
 *   Genie CANCELLED: SL_EREMOTE, error_code "CANCELLED", st->genie_failed set;
 *   the query result FAILED/CANCELED: the statement's error (sl_dbx_statement_error);
 *   timeout (opts->timeout_ms or call->deadline_ms): SL_ETIMEOUT, not retryable,
 *     "no answer from Genie within 10m (message <id> still <status> after N polls;
 *     conversation <id>)";
 *   call->cancel: SL_ECANCELED; a space that does not exist: SL_ENOTFOUND; HTTP errors as
 *   invariant (2) (429s exhausted: SL_ELIMIT, retryable, retry_after_ms set).
 * Blocks for up to the timeout.
 */
SL_MUST_USE sl_code sl_dbx_genie_ask(sl_dbx_client *c, const char *question,
                                     const sl_dbx_genie_ask_opts *o, const sl_dbx_call *call,
                                     sl_dbx_genie_state *st, sl_dbx_genie_answer **out,
                                     sl_err *err);

/* ------------------------------------------------------------------------------------
 * The ask as a step function (src/dbx/genie_step.c): the state machine behind both
 * sl_dbx_genie_ask (blocking transport) and `sluice loadtest genie` (sl_dbx_async,
 * thousands at once). It does no I/O: given the outcome of the request it asked for, it
 * says what to do next.
 *
 *   sl_dbx_genie_step_next(g, outcome of the last REQUEST or NULL, now) -> one of
 *     REQUEST  send next.req, then call again with its sl_dbx_response
 *     WAIT     wait next.wait_ms (a poll interval; with next.retry, a 429/503's
 *              Retry-After or backoff), then call again with NULL
 *     DONE     the answer: sl_dbx_genie_step_take_answer
 *     FAILED   sl_dbx_genie_step_error (never an answer)
 *
 *   send: POST start-conversation | POST .../messages (resume: skip to polling)
 *     -> the message is not terminal: WAIT, GET the message (a poll) ... (x1.5, capped)
 *     -> FAILED | CANCELLED: FAILED, state.genie_failed
 *     -> COMPLETED | QUERY_RESULT_EXPIRED: text and SQL; a query that ran (or expired):
 *          GET query-result | POST execute-query (expired, or CLOSED once) -> polls while
 *          PENDING/RUNNING -> SUCCEEDED -> GET every further chunk (unless
 *          first_chunk_only) -> DONE;  FAILED/CANCELED: FAILED, state.result_failed
 *   a failed request: 429/503 with retries left and time before the deadline: WAIT,
 *     send it again (sl_dbx_retry_delay_ms); otherwise FAILED with its error, plus
 *     " (retries exhausted)" after re-sends. A reply that is not JSON: FAILED SL_EREMOTE.
 *   deadline_ms reached (before a request, during a wait, or a request timed out past
 *     it): FAILED SL_ETIMEOUT "no answer from Genie within <budget> (message <id> still
 *     <status> after N polls; conversation <id>)", not retryable.
 *
 * Time is the caller's: now_ms and deadline_ms in one clock of its choice. A step is
 * owned by one thread at a time.
 * ---------------------------------------------------------------------------------- */

typedef struct sl_dbx_genie_step sl_dbx_genie_step;

typedef struct sl_dbx_genie_step_opts {
    const char *space_id;        /* required (copied, as every string here) */
    const char *question;        /* required unless resuming */
    const char *conversation_id; /* ask a follow-up here; NULL: start a conversation */
    const char *message_id;      /* resume: poll this message of conversation_id */
    int64_t deadline_ms;         /* when to give up, in the clock of now_ms; 0 = never */
    int64_t budget_ms;           /* the timeout as reported ("within 10m"); < 0: unknown */
    int64_t poll_initial_ms;     /* 0 = SL_DBX_GENIE_POLL_INITIAL_MS */
    int64_t poll_max_ms;         /* 0 = SL_DBX_GENIE_POLL_MAX_MS */
    int max_retries;             /* 429/503 re-sends per request; 0 = none (a blocking
                                    transport that already retried) */
    sl_dbx_retry_policy retry;   /* their backoff without Retry-After */
    bool first_chunk_only;       /* read no further result chunk: rows holds the first
                                    chunk, row_count the manifest's total */
} sl_dbx_genie_step_opts;

/* Zeroed, budget -1, the default retry policy. */
void sl_dbx_genie_step_opts_init(sl_dbx_genie_step_opts *o);

typedef enum sl_dbx_genie_step_kind {
    SL_DBX_GENIE_STEP_REQUEST,
    SL_DBX_GENIE_STEP_WAIT,
    SL_DBX_GENIE_STEP_DONE,
    SL_DBX_GENIE_STEP_FAILED,
} sl_dbx_genie_step_kind;

typedef struct sl_dbx_genie_next {
    sl_dbx_genie_step_kind kind;
    const sl_dbx_request *req; /* REQUEST: borrowed until the next call; timeout_ms is the
                                  time left before the deadline (0 without one) */
    int64_t wait_ms;           /* WAIT */
    bool retry;                /* WAIT: before re-sending a refused (429/503) request */
    sl_dbx_progress progress;  /* op != NULL when the outcome just given was a poll
                                  ("genie message" / "genie query result") */
} sl_dbx_genie_next;

/* SL_EINVAL "ask Genie: empty question" / "... needs its conversation" / "no space". */
SL_MUST_USE sl_code sl_dbx_genie_step_new(const sl_dbx_genie_step_opts *o, sl_dbx_genie_step **out,
                                          sl_err *err);
void sl_dbx_genie_step_free(sl_dbx_genie_step *g); /* accepts NULL */
/*
 * The next move, given `last`: the outcome of the REQUEST the previous call returned
 * (borrowed for this call only; everything needed is copied), NULL on the first call
 * and after a WAIT. Also returns out->kind. After DONE or FAILED it keeps returning that.
 */
sl_dbx_genie_step_kind sl_dbx_genie_step_next(sl_dbx_genie_step *g, const sl_dbx_response *last,
                                              int64_t now_ms, sl_dbx_genie_next *out);
/* Where the ask got to (borrowed; valid until the step is freed). */
const sl_dbx_genie_state *sl_dbx_genie_step_state(const sl_dbx_genie_step *g);
/* FAILED: why (borrowed). */
const sl_err *sl_dbx_genie_step_error(const sl_dbx_genie_step *g);
/* The answer so far (borrowed): NULL until the message COMPLETED, then filled in as the
 * result arrives (also after a FAILED result). */
const sl_dbx_genie_answer *sl_dbx_genie_step_answer(const sl_dbx_genie_step *g);
/* DONE: the answer (owned); NULL otherwise or when already taken. */
SL_MUST_USE sl_dbx_genie_answer *sl_dbx_genie_step_take_answer(sl_dbx_genie_step *g);
/* The GenieMessage Genie ended FAILED or CANCELLED (borrowed; its error.error and
 * error.type are Genie's own words), or NULL. */
const json_t *sl_dbx_genie_step_message(const sl_dbx_genie_step *g);

/*
 * Poll intervals from the environment, for tools and workers: GENIE_POLL_INTERVAL (first
 * interval) and GENIE_POLL_MAX_INTERVAL (cap), durations like "50ms" or "2s". Sets
 * call->poll_initial_ms / poll_max_ms only for the variables that are set. SL_EINVAL
 * "bad GENIE_POLL_INTERVAL 'x': ..." for a malformed value.
 */
SL_MUST_USE sl_code sl_dbx_genie_poll_from_env(sl_dbx_call *call, sl_err *err);

/* ------------------------------------------------------------------------------------
 * Model serving: embeddings (/serving-endpoints/{name}/invocations)
 * ---------------------------------------------------------------------------------- */

typedef struct sl_dbx_vectors {
    size_t n;    /* number of vectors (= inputs) */
    size_t dim;  /* floats per vector */
    float *data; /* n * dim, row-major, vector i at data + i * dim */
} sl_dbx_vectors;

void sl_dbx_vectors_free(sl_dbx_vectors *v);

/*
 * Embed `n` texts (n >= 1) with serving endpoint `endpoint`. Vectors come back in input
 * order (by data[].index). SL_EREMOTE when the response is malformed (missing index,
 * ragged dimensions). *out is owned.
 */
SL_MUST_USE sl_code sl_dbx_serving_embed(sl_dbx_client *c, const char *endpoint,
                                         const char *const *inputs, size_t n,
                                         const sl_dbx_call *call, sl_dbx_vectors **out,
                                         sl_err *err);
/* sl_dbx_serving_embed in two halves, for sl_dbx_async: the request (release with
 * sl_dbx_request_cleanup; SL_EINVAL as above), and the parse of its parsed JSON response
 * (`what` prefixes errors; SL_EREMOTE when malformed). Pure. */
SL_MUST_USE sl_code sl_dbx_serving_embed_request(const char *endpoint, const char *const *inputs,
                                                 size_t n, sl_dbx_request *out, sl_err *err);
SL_MUST_USE sl_code sl_dbx_serving_embed_parse(const json_t *resp, size_t n, const char *what,
                                               sl_dbx_vectors **out, sl_err *err);

/* ------------------------------------------------------------------------------------
 * MLflow tracking (/api/2.0/mlflow)
 * ---------------------------------------------------------------------------------- */

#define SL_DBX_MLFLOW_MAX_METRICS  1000 /* per log-batch request */
#define SL_DBX_MLFLOW_MAX_PARAMS   100
#define SL_DBX_MLFLOW_MAX_TAGS     100
#define SL_DBX_MLFLOW_MAX_ENTITIES 1000
#define SL_DBX_MLFLOW_MAX_KEY      250 /* bytes */
#define SL_DBX_MLFLOW_MAX_VALUE    250 /* bytes, params and tags */

/* Experiment id by name (workspace path), creating it when absent. *out_id is owned. */
SL_MUST_USE sl_code sl_dbx_mlflow_experiment_ensure(sl_dbx_client *c, const char *name,
                                                    const sl_dbx_call *call, char **out_id,
                                                    sl_err *err);
/*
 * Create a run: `run_name` and `tags` ([{key,value}], borrowed) may be NULL;
 * start_time_ms 0 = now. *out is the owned Run ({info: {run_id, ...}, data}).
 */
SL_MUST_USE sl_code sl_dbx_mlflow_run_create(sl_dbx_client *c, const char *experiment_id,
                                             const char *run_name, int64_t start_time_ms,
                                             const json_t *tags, const sl_dbx_call *call,
                                             json_t **out, sl_err *err);
/* Set status (RUNNING, SCHEDULED, FINISHED, FAILED, KILLED; NULL = unchanged) and
 * end_time_ms (0 = unchanged). */
SL_MUST_USE sl_code sl_dbx_mlflow_run_update(sl_dbx_client *c, const char *run_id,
                                             const char *status, int64_t end_time_ms,
                                             const sl_dbx_call *call, sl_err *err);
/*
 * Log metrics [{key, value, timestamp, step?}], params [{key, value}] and tags
 * [{key, value}] (each borrowed, may be NULL), split into as many log-batch requests as
 * the limits above need (params first, since they are write-once). Keys and values are
 * checked up front: SL_EINVAL for a key over 250 bytes or a param/tag value over 250
 * bytes, never silent truncation. A metric without timestamp gets now.
 */
SL_MUST_USE sl_code sl_dbx_mlflow_run_log_batch(sl_dbx_client *c, const char *run_id,
                                                const json_t *metrics, const json_t *params,
                                                const json_t *tags, const sl_dbx_call *call,
                                                sl_err *err);
SL_MUST_USE sl_code sl_dbx_mlflow_run_get(sl_dbx_client *c, const char *run_id,
                                          const sl_dbx_call *call, json_t **out, sl_err *err);

/* ------------------------------------------------------------------------------------
 * Rendering of tabular results (CLI and later tools)
 * ---------------------------------------------------------------------------------- */

/*
 * Display width in terminal columns of UTF-8 text: wide East Asian characters and
 * emoji count 2, combining marks and zero-width characters 0, control characters 0,
 * each invalid byte 1. Pure.
 */
size_t sl_dbx_text_width(const char *s);

/*
 * True when `s` reads as a number in a SQL result: an optional sign, digits with an
 * optional fraction (or a fraction alone), an optional exponent ("-12", "3.50", ".5",
 * "1.0E20"), or NaN / [+-]Infinity as Databricks prints doubles. No spaces. Pure.
 */
bool sl_dbx_text_is_number(const char *s);

/*
 * Copy of `s` (owned) cut to at most max_width display columns: when it is wider, the
 * longest prefix of max_width - 1 columns (never splitting a UTF-8 sequence or a wide
 * character; combining marks stay with their base) followed by U+2026 '…'. max_width 0
 * means no limit. NULL for NULL. Pure.
 */
SL_MUST_USE char *sl_dbx_text_truncate(const char *s, size_t max_width);

#define SL_DBX_RENDER_MAX_WIDTH 40 /* default cap on a table cell, in display columns */

typedef struct sl_dbx_render_opts {
    const char *null_text; /* table cell for SQL NULL; default "NULL" */
    size_t max_width;      /* cells and headers wider than this many display columns are cut
                              with '…' (sl_dbx_text_truncate); 0 = no limit; default
                              SL_DBX_RENDER_MAX_WIDTH */
    bool align_numbers;    /* right-align (header included) every column whose non-NULL cells
                              all pass sl_dbx_text_is_number (JSON numbers count); default true */
} sl_dbx_render_opts;

/* The defaults above. */
void sl_dbx_render_opts_init(sl_dbx_render_opts *o);

/*
 * Rows are a JSON array of arrays; a cell is a string, number, boolean or null.
 * Cells beyond n_cols are ignored, missing ones render as NULL.
 */
/* Aligned columns (padded by display width, so CJK text and emoji line up), a header and
 * a dashed rule; two spaces between columns, no trailing spaces; control characters shown
 * as spaces. An empty result prints the header and the rule. opts NULL gives the plain
 * layout `sluice dbx` has always printed: "NULL", no width limit, everything left-aligned;
 * sl_dbx_render_opts_init gives truncation and number alignment. */
void sl_dbx_render_table(FILE *out, size_t n_cols, const char *const *names, const json_t *rows,
                         const sl_dbx_render_opts *opts);
/* RFC 4180: header line, CRLF line ends, fields quoted when they hold , " CR or LF;
 * NULL is an empty field. */
void sl_dbx_render_csv(FILE *out, size_t n_cols, const char *const *names, const json_t *rows);
/* Rows as an owned JSON array of objects {name: value} in column order. `types` (may be
 * NULL) are SQL type names per column: INT/LONG/SHORT/BYTE cells become integers,
 * FLOAT/DOUBLE reals, BOOLEAN booleans when they parse; everything else (DECIMAL
 * included) stays a string; a repeated column name keeps its last value. Pure. */
SL_MUST_USE json_t *sl_dbx_rows_to_objects(size_t n_cols, const char *const *names,
                                           const char *const *types, const json_t *rows);
/* sl_dbx_rows_to_objects, printed indented. */
void sl_dbx_render_json(FILE *out, size_t n_cols, const char *const *names,
                        const char *const *types, const json_t *rows);

#endif
