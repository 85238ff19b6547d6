/*
 * dbx_int.h - internals shared by the files of src/dbx: the client struct, the
 * request/response pair of the transport, OAuth token access and small helpers.
 * Nothing outside src/dbx includes this.
 */
#ifndef SLUICE_DBX_INT_H
#define SLUICE_DBX_INT_H

#include <pthread.h>

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

/* One HTTP exchange (the transport adds auth, retries and error mapping). */
typedef struct sl__dbx_req {
    const char *method;     /* "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD" */
    const char *path;       /* encoded, from the host root: "/api/2.0/..." (+ query) */
    const char *what;       /* context for errors: "upload /Volumes/..." */
    const json_t *json;     /* JSON body, or NULL */
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

/* String member of an object, or NULL. */
const char *sl__dbx_jstr(const json_t *obj, const char *key);

/* Statistics. */
#define SL__DBX_STAT_ADD(c, field, n)                                                              \
    __atomic_fetch_add(&(c)->field, (uint64_t)(n), __ATOMIC_RELAXED)

#endif
