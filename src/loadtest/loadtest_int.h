/*
 * loadtest_int.h - internals shared by the files of src/loadtest: the event loop (curl
 * multi driven by epoll, a timer heap, a pool of reusable transfers), a seeded RNG and a
 * growable string buffer. Nothing outside src/loadtest includes this.
 *
 * The loop runs on one thread. Transfers and timers call back on that thread from
 * lt_loop_run_once, never from inside curl callbacks, so a callback may start new
 * transfers and timers freely.
 */
#ifndef SLUICE_LOADTEST_INT_H
#define SLUICE_LOADTEST_INT_H

#include <curl/curl.h>

#include "sluice/loadtest.h"

/* ---- seeded RNG (splitmix64): reproducible choices for a given seed ---- */

typedef struct lt_rng {
    uint64_t s;
} lt_rng;

uint64_t lt_rng_next(lt_rng *r);
double lt_rng_unit(lt_rng *r);                          /* [0, 1) */
double lt_rng_uniform(lt_rng *r, double lo, double hi); /* [lo, hi] like random.uniform */

/* ---- event loop ---- */

typedef struct lt_loop lt_loop;
typedef struct lt_xfer lt_xfer;
typedef void (*lt_xfer_fn)(lt_xfer *x, void *arg);
typedef void (*lt_timer_fn)(void *arg);

#define LT_RESP_MAX (8u * 1024 * 1024) /* a response body beyond this is an error */

struct lt_xfer {
    CURL *easy;
    sl_buf resp;  /* response body (capped at LT_RESP_MAX unless discard) */
    bool discard; /* count bytes only (benchmark) */
    bool too_big;
    uint64_t bytes;       /* body bytes received */
    char *req_body;       /* owned copy of the request body */
    char retry_after[32]; /* Retry-After header value, "" when absent */
    long status;          /* HTTP status, 0 when none */
    CURLcode cc;          /* transport result */
    char curl_err[CURL_ERROR_SIZE];
    int64_t started_ns; /* sl_mono_ns() when added */
    lt_xfer_fn done;
    void *arg;
    bool active;
    lt_xfer *next_free;
};

typedef struct lt_loop_opts {
    long connect_timeout_ms;
    bool tls_verify;
    const char *user_agent;
    int max_connections; /* connection cache size (CURLMOPT_MAXCONNECTS) */
} lt_loop_opts;

/* A new loop (epoll + curl multi); NULL after setting err when epoll/curl fail. */
lt_loop *lt_loop_new(const lt_loop_opts *o, sl_err *err);
void lt_loop_free(lt_loop *l); /* aborts active transfers without callbacks */

/* A transfer from the pool (its easy handle keeps options between uses). */
lt_xfer *lt_xfer_get(lt_loop *l);
/* Return a transfer that is not active to the pool. */
void lt_xfer_put(lt_loop *l, lt_xfer *x);
/*
 * Start x: method "GET" or "POST" (body copied; NULL = empty for POST), absolute url,
 * header list borrowed (must outlive the transfer), timeout_ms for the whole transfer.
 * `done` runs on completion (check x->cc, then x->status and x->resp).
 */
void lt_xfer_start(lt_loop *l, lt_xfer *x, const char *method, const char *url, const char *body,
                   const struct curl_slist *headers, long timeout_ms, lt_xfer_fn done, void *arg);
/* Start x again with the options it already has (benchmark re-issue). */
void lt_xfer_restart(lt_loop *l, lt_xfer *x);
/* Abort an active transfer without calling its callback; it returns to the caller. */
void lt_xfer_abort(lt_loop *l, lt_xfer *x);

/* Call fn(arg) at due_ns (sl_mono_ns clock) or soon after; equal times run in order. */
void lt_timer_add(lt_loop *l, int64_t due_ns, lt_timer_fn fn, void *arg);
/* Earliest pending timer, or INT64_MAX. */
int64_t lt_timer_next(const lt_loop *l);

/* Wait up to max_wait_ns for socket activity, drive curl, run completions and due
 * timers. Returns the number of active transfers. */
int lt_loop_run_once(lt_loop *l, int64_t max_wait_ns);
int lt_loop_active(const lt_loop *l);
/* Highest number of simultaneous transfers seen. */
int lt_loop_peak(const lt_loop *l);

/* Raise RLIMIT_NOFILE to its hard limit (1000+ sockets need it). */
void lt_raise_nofile(void);

/* ---- conversations file helpers ---- */

/* datetime.now().isoformat(): naive local time, microseconds only when non-zero. Owned. */
char *lt_local_iso_now(void);
/* Sort a conversation's messages by timestamp (stable, like Python's sort). */
void lt_conversation_sort(sl_lt_conversation *c);

/* ---- reporting shared by the generator and MLflow ---- */

/* One request as reported (a row of detailed_metrics.csv). */
typedef struct lt_record {
    size_t index; /* request number, in due order */
    int user;     /* replay: 1-based user; scenario: 0 */
    sl_lt_rtype type;
    sl_lt_cause cause;
    bool ok;
    const char *prompt;      /* borrowed from the question source */
    const char *src_conv_id; /* replay: borrowed */
    const char *src_msg_id;
    int msg_index, msg_count; /* replay: 0-based message index and count */
    char genie_conv_id[48], genie_msg_id[48], stmt_id[64];
    char *sql;   /* owned */
    char *error; /* owned, NULL on success */
    int http_status;
    int retries;
    int64_t rows;          /* -1 unknown */
    int64_t response_size; /* bytes of the final response(s) */
    int64_t sched_us;      /* offsets from the run start (µs) */
    int64_t send_us;
    int64_t done_us;
} lt_record;

struct sl_lt_result {
    sl_lt_opts opts;     /* copy (borrowed pointers as given) */
    char *schedule;      /* the schedule line */
    int64_t start_ms;    /* wall clock at t0 */
    int64_t duration_us; /* t0 -> last completion */
    lt_record *recs;
    size_t n_recs;
    size_t aborted;     /* in flight (or queued) when the run was stopped */
    size_t not_started; /* due later than an early stop */
    /* per type and overall (index SL_LT_RTYPE_COUNT) */
    sl_lt_hist *h_sched[SL_LT_RTYPE_COUNT + 1];
    sl_lt_hist *h_actual[SL_LT_RTYPE_COUNT + 1];
    uint64_t count[SL_LT_RTYPE_COUNT + 1];
    uint64_t ok[SL_LT_RTYPE_COUNT + 1];
    uint64_t fail[SL_LT_RTYPE_COUNT + 1][SL_LT_CAUSE_COUNT];
    int peak_in_flight; /* HTTP transfers at once */
    int peak_questions; /* questions in flight at once */
    char *warehouse_id; /* used for cache hits, or NULL */
    char **own_pool;    /* generated sample questions (opts.pool points here) */
    json_t *summary;
};

/* Build r->summary from the counters (called once at the end of a run). */
void lt_result_finish(sl_lt_result *r);

#endif
