/*
 * loadtest_int.h - internals shared by the files of src/loadtest: the event loop (the
 * generator's timer heap in front of an sl_dbx_async, which does every HTTP transfer) and
 * a seeded RNG. Nothing outside src/loadtest includes this.
 *
 * The loop runs on one thread. Requests and timers call back on that thread from
 * lt_loop_run_once (requests from inside sl_dbx_async_run, never from inside curl), so a
 * callback may start new requests and timers freely.
 */
#ifndef SLUICE_LOADTEST_INT_H
#define SLUICE_LOADTEST_INT_H

#include "sluice/loadtest.h"

/* ---- seeded RNG (splitmix64): reproducible choices for a given seed ---- */

typedef struct lt_rng {
    uint64_t s;
} lt_rng;

uint64_t lt_rng_next(lt_rng *r);
double lt_rng_unit(lt_rng *r);                          /* [0, 1) */
double lt_rng_uniform(lt_rng *r, double lo, double hi); /* [lo, hi] like random.uniform */

/* ---- event loop: timers + sl_dbx_async ---- */

typedef struct lt_loop lt_loop;
typedef void (*lt_timer_fn)(void *arg);

/*
 * A loop whose requests go to client `c`'s workspace, or raw http(s) URLs when c is NULL
 * (o: the sl_dbx_async options). Errors are sl_dbx_async_new's (SL_EIO, or SL_EAUTH for
 * rejected OAuth credentials).
 */
SL_MUST_USE sl_code lt_loop_new(sl_dbx_client *c, const sl_dbx_async_opts *o, lt_loop **out,
                                sl_err *err);
void lt_loop_free(lt_loop *l); /* aborts requests in flight without callbacks */
/* The driver requests are made from (borrowed). */
sl_dbx_async *lt_loop_async(lt_loop *l);

/* Call fn(arg) at due_ns (sl_mono_ns clock) or soon after; equal times run in order. */
void lt_timer_add(lt_loop *l, int64_t due_ns, lt_timer_fn fn, void *arg);
/* Earliest pending timer, or INT64_MAX. */
int64_t lt_timer_next(const lt_loop *l);

/* Run due timers, wait up to max_wait_ns (less when a timer is due sooner) for the
 * requests, run their callbacks, run due timers again. Returns requests in flight. */
int lt_loop_run_once(lt_loop *l, int64_t max_wait_ns);
int lt_loop_active(const lt_loop *l);
/* Highest number of simultaneous requests seen. */
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
    char genie_conv_id[72], genie_msg_id[72], stmt_id[72]; /* as sl_dbx_genie_state */
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
