/*
 * dbx_int.h - internals shared by the files of src/dbx: the client struct, the one
 * transfer both drivers run (xfer.c), the request/response pair of the blocking
 * transport, OAuth token access and small helpers. Nothing outside src/dbx includes
 * this (and so nothing outside src/dbx sees curl).
 */
#ifndef SLUICE_DBX_INT_H
#define SLUICE_DBX_INT_H

#include <pthread.h>

#include <curl/curl.h>

#include "sluice/dbx.h"

struct sl_dbx_client {
    sl_dbx_settings s;      /* owned copy */
    char *user_agent;       /* "sluice/0.1.0" */
    const char *secrets[4]; /* known secret literals for redaction, NULL-terminated */

    /* statistics (updated with __atomic builtins) */
    uint64_t n_requests, n_retries, n_429, n_5xx, n_conn_errors, n_token_refreshes;
    uint64_t n_bytes_up, n_bytes_down;

    /* OAuth M2M token cache: tok_mu guards everything below. */
    pthread_mutex_t tok_mu;
    char *tok;                 /* current access token, or NULL */
    uint64_t tok_gen;          /* bumped on every new token */
    int64_t tok_refresh_at_ms; /* sl_now_ms() after which a new token is fetched */

    /* warehouse chosen by sl_dbx_warehouse_resolve; guarded by wh_mu */
    pthread_mutex_t wh_mu;
    char *resolved_warehouse;
};

/* ---- one transfer (xfer.c), run by http.c (blocking) and async.c (multi) ---- */

typedef struct sl__dbx_xfer {
    CURL *h;
    sl_dbx_client *c;        /* statistics; NULL for a raw driver */
    struct curl_slist *hdrs; /* owned; built by setup, freed by detach */
    /* response body */
    int download_fd; /* a 2xx body streams into this file, or -1 */
    size_t max;      /* a 2xx body longer than this aborts the transfer (SL_ELIMIT) */
    bool discard;    /* a 2xx body is counted, not kept */
    char *buf;       /* kept body, NUL-terminated; owned by whoever runs the transfer */
    size_t len, cap;
    bool too_big;
    uint64_t bytes_down; /* body bytes received, kept or not */
    int64_t down_off;    /* bytes written to download_fd */
    /* request body streamed from a file */
    int upload_fd;
    int64_t upload_size, up_off;
    int io_errno; /* local read/write error */
    bool io_read; /* the local error was a read */
    /* blocking transport only: cancel, deadline and progress from the progress callback */
    const sl_dbx_call *call;
    const char *progress_op, *progress_id;
    int64_t last_progress_ns;
    int abort_reason; /* 1 cancel, 2 deadline */
    /* response */
    bool meta;    /* keep Content-Type, Content-Length and Last-Modified (Retry-After always) */
    long wstatus; /* the status the body being written belongs to (0: not looked up yet) */
    long status;  /* set by finish; 0 when no response arrived */
    int64_t content_length;
    char retry_after[128];
    char content_type[128];
    char last_modified[64];
    char errbuf[CURL_ERROR_SIZE];
} sl__dbx_xfer;

/* What one transfer sends. Strings are borrowed and must outlive the transfer. */
typedef struct sl__dbx_xfer_spec {
    const char *url; /* absolute */
    const char *method;
    const char *body;         /* in-memory body, or NULL */
    const char *content_type; /* of body; NULL = application/json */
    int upload_fd;            /* stream this file as the body instead, or -1 */
    int64_t upload_size;
    const char *bearer; /* Authorization: Bearer <bearer>, or NULL */
    const char *basic_user, *basic_pass;
    const char *accept;       /* Accept header, or NULL for curl's default */
    const char *const *extra; /* more "Name: value" lines */
    size_t n_extra;
    const char *user_agent;
    bool tls_verify;
    int64_t connect_timeout_ms; /* <= 0: 10 s */
    int64_t timeout_ms;         /* whole transfer; <= 0: none */
    long stall_s;               /* > 0: fail when under 1 byte/s for this long */
    bool progress;              /* run the progress callback (x->call) */
} sl__dbx_xfer_spec;

/* A new easy handle (out of memory aborts). */
CURL *sl__dbx_easy_new(void);
/* Forget the previous response (the body buffer is kept for reuse). */
void sl__dbx_xfer_reset(sl__dbx_xfer *x);
/*
 * The one place an easy handle is configured, in two halves. setup_handle: what every
 * request on the handle shares (the protocol whitelist http,https; TLS verification; the
 * user agent; the connect timeout; the callbacks on x). setup_request: the URL, the
 * request timeout or stall limit, Basic auth, the method and body, and the header list
 * `hdrs` (from sl__dbx_xfer_headers; owned by x when own_hdrs, else borrowed and it must
 * outlive the transfer). x->h and the body-sink fields must be set.
 */
void sl__dbx_xfer_setup_handle(sl__dbx_xfer *x, const sl__dbx_xfer_spec *s);
void sl__dbx_xfer_setup_request(sl__dbx_xfer *x, const sl__dbx_xfer_spec *s,
                                struct curl_slist *hdrs, bool own_hdrs);
/* The header list of a request (owned): Authorization (bearer), Accept, the extra lines
 * and Content-Type, which depends only on sl__dbx_xfer_header_kind (so requests of one
 * kind, token and extras can share one list). */
struct curl_slist *sl__dbx_xfer_headers(const sl__dbx_xfer_spec *s);
int sl__dbx_xfer_header_kind(const sl__dbx_xfer_spec *s); /* 0..3 */
/* Unhook the header list and error buffer from the handle and free the list. */
void sl__dbx_xfer_detach(sl__dbx_xfer *x);
/*
 * The one place a finished transfer becomes an outcome: counts it in x->c's statistics
 * (when x->c), then maps curl's code and the HTTP status to *err (never NULL; cleared
 * first unless it already is, as after sl_err_clear or a previous success): SL_OK for a 2xx;
 * sl_dbx_error_from_http for another status; SL_ECANCELED / SL_ETIMEOUT for the call's cancel /
 * deadline; SL_EIO for a local file error; SL_ELIMIT for a body over x->max; connection errors
 * SL_EREMOTE or SL_ETIMEOUT (retryable); other curl errors SL_EREMOTE. Not redacted or prefixed
 * yet. Returns err->code.
 */
sl_code sl__dbx_xfer_finish(sl__dbx_xfer *x, CURLcode cc, sl_err *err);

/* One HTTP exchange (the transport adds auth, retries and error mapping). */
typedef struct sl__dbx_req {
    const char *method;     /* "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD" */
    const char *path;       /* encoded, from the host root: "/api/2.0/..." (+ query) */
    const char *what;       /* context for errors: "upload /Volumes/..." */
    const json_t *json;     /* JSON body, or NULL */
    const char *json_text;  /* JSON body already serialised, or NULL */
    const char *form;       /* x-www-form-urlencoded body, or NULL */
    const char *basic_user; /* HTTP Basic instead of the bearer token (token endpoint) */
    const char *basic_pass;
    bool no_auth;  /* send no Authorization at all */
    int upload_fd; /* stream this file as the body (PUT), or -1 */
    int64_t upload_size;
    int download_fd;         /* stream a 2xx body into this file (truncated on retry), or -1 */
    const char *accept;      /* Accept header; default application/json */
    const char *progress_op; /* op name for call->progress during transfers */
    const char *progress_id; /* id reported with it (the remote path) */
    const sl_dbx_call *call; /* may be NULL */
} sl__dbx_req;

typedef struct sl__dbx_resp {
    long status;
    char *body; /* NUL-terminated buffered body (not for downloads), owned */
    size_t body_len;
    int64_t content_length; /* header, or -1 */
    char content_type[128];
    char last_modified[64];
} sl__dbx_resp;

void sl__dbx_req_init(sl__dbx_req *r, const char *method, const char *path, const char *what);
void sl__dbx_resp_cleanup(sl__dbx_resp *r);

/*
 * Perform a request with auth, retries (policy of the client), deadline and cancel.
 * SL_OK only for a 2xx response (resp filled). Errors are mapped, redacted and prefixed
 * with req->what (except SL_EAUTH). resp is cleaned by the caller in every case.
 */
SL_MUST_USE sl_code sl__dbx_request(sl_dbx_client *c, const sl__dbx_req *req, sl__dbx_resp *resp,
                                    sl_err *err);

/* JSON round trip: body may be NULL; *out = parsed response ({} for an empty body). */
SL_MUST_USE sl_code sl__dbx_json(sl_dbx_client *c, const char *method, const char *path,
                                 const json_t *body, const char *what, const sl_dbx_call *call,
                                 json_t **out, sl_err *err);

/* The same for a request as data (sl_dbx_request: body already JSON text). */
SL_MUST_USE sl_code sl__dbx_json_request(sl_dbx_client *c, const sl_dbx_request *rq,
                                         const sl_dbx_call *call, json_t **out, sl_err *err);

/* OAuth: copy the current token into *out (owned), fetching one when missing or due.
 * If `stale_gen` equals the current generation the token is refreshed first (used after
 * a 401/403); *out_gen gets the generation of the returned token. */
SL_MUST_USE sl_code sl__dbx_oauth_token(sl_dbx_client *c, const sl_dbx_call *call,
                                        uint64_t stale_gen, char **out, uint64_t *out_gen,
                                        sl_err *err);

/* Prefix context unless the error is an authentication failure; returns rc (so it can
 * be returned even when err is NULL). */
sl_code sl__dbx_ctx(sl_code rc, sl_err *err, const char *fmt, ...) SL_PRINTF(3, 4);

/* Redact err->msg with the client's known secrets (c may be NULL). */
void sl__dbx_redact_err(const sl_dbx_client *c, sl_err *err);

/* Log through the redactor. */
void sl__dbx_log(const sl_dbx_client *c, sl_log_level lvl, const char *fmt, ...) SL_PRINTF(3, 4);

/* Percent-encode one path segment or query value (owned). */
char *sl__dbx_pct(const char *s);

/* Bounded, interruptible sleep. SL_OK after sleeping ms; SL_ETIMEOUT when the deadline
 * comes first (it sleeps until the deadline); SL_ECANCELED when cancelled. */
sl_code sl__dbx_sleep(const sl_dbx_call *call, int64_t ms, sl_err *err);
/* SL_ECANCELED / SL_ETIMEOUT now, or SL_OK. */
sl_code sl__dbx_check_call(const sl_dbx_call *call, sl_err *err);

/* Next poll interval: initial, then x1.5 up to max. */
int64_t sl__dbx_poll_next(int64_t cur_ms, int64_t max_ms);

/* Fetch every page of a paged list: GET base_path (with `?`/`&` handled) adding
 * page_token, collecting the array under `key`. */
SL_MUST_USE sl_code sl__dbx_list_all(sl_dbx_client *c, const char *base_path, const char *key,
                                     size_t max_items, const char *what, const sl_dbx_call *call,
                                     json_t **out, sl_err *err);

/* "/api/2.0/genie/spaces/{s}[/conversations/{c}[/messages/{m}[/attachments/{a}]]]" +
 * suffix (may be NULL), each id percent-encoded; owned. */
char *sl__dbx_genie_path(const char *space, const char *conv, const char *msg, const char *att,
                         const char *suffix);

/* Result chunks (statements.c): feed the rows of one ResultData object to fn (*stop when
 * fn asked to stop; SL_EINVAL for EXTERNAL_LINKS), and the path of the chunk after it
 * (*out owned, NULL at the end; SL_EREMOTE for a link that is not an API path). */
sl_code sl__dbx_chunk_feed(const json_t *chunk, const json_t *columns, sl_dbx_row_fn fn, void *arg,
                           bool *stop, sl_err *err);
sl_code sl__dbx_chunk_next_path(const char *statement_id, const json_t *chunk, char **out,
                                sl_err *err);

/* Where a Genie ask got to, for timeout and cancel messages: "message <id> still <status>
 * after N polls; conversation <id>", or "while <doing>" before the question was accepted. */
void sl__dbx_genie_where(const sl_dbx_genie_state *st, const char *doing, char *buf, size_t n);

/* String member of an object, or NULL. */
const char *sl__dbx_jstr(const json_t *obj, const char *key);

/* Statistics. */
#define SL__DBX_STAT_ADD(c, field, n)                                                              \
    __atomic_fetch_add(&(c)->field, (uint64_t)(n), __ATOMIC_RELAXED)

#endif
