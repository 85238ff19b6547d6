/*
 * genie_run.c - the Genie generator: every question is a small state machine driven by
 * the event loop (loop.c: timers in front of an sl_dbx_async); no thread per request.
 *
 *   q_due --(worker free)--> q_start --cache?--> lru hit? --> reexec --ok--> done (LRU)
 *       \--(all busy: FIFO)      |                 | no          \-fail: forget, go on
 *                                |            embed -> semantic hit? -> reexec -> done
 *                                v                      | no / fail: forget
 *                              live: the ask's step function (sl_dbx_genie_step, the one
 *                                `sluice genie ask` runs): REQUEST -> sl_dbx_async,
 *                                WAIT -> a timer, DONE -> done, FAILED -> failed (cause)
 *
 * The live path is dbx's state machine: start or follow up, poll the message (x1.5, cap),
 * COMPLETED -> query result (poll while PENDING/RUNNING; CLOSED/expired -> execute-query),
 * FAILED/CANCELLED -> genie_failed; 429 and 503 wait Retry-After (else the client's
 * backoff) up to max_retries, past that a 429 is "rate_limited"; the question deadline is
 * "timeout". The cache path's own requests (statement re-execution, embeddings) are built
 * by dbx too (sl_dbx_statement_*_request, sl_dbx_serving_embed_request) and sent by q_http
 * with the same 429/503 rule (sl_dbx_retry_delay_ms). Scenario mode schedules question i
 * at t0 + offset(i) (open loop, invariant (1) of loadtest.h); replay mode runs users that
 * pick conversations and think between messages, as the Locust tool's users do.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loadtest_int.h"

#define NS_PER_MS 1000000LL

typedef struct run run;
typedef struct user user;

typedef enum { QS_PENDING, QS_QUEUED, QS_ACTIVE, QS_DONE, QS_ABORTED } qstate;
typedef enum { HIT_NONE, HIT_LRU, HIT_SEM } hitkind;

typedef struct q q;
typedef void (*ok_fn)(q *k, json_t *body, size_t body_len);
typedef void (*err_fn)(q *k, sl_lt_cause cause, const char *msg);

struct q {
    run *r;
    user *u;
    lt_record rec;
    char *context; /* owned; "" when the question has no history */
    qstate state;
    int64_t sched_ns, send_ns, deadline_ns;
    char conv_in[72]; /* replay: the Genie conversation to follow up, "" = start one */
    hitkind hit;
    int64_t sem_id;
    char *cached_sql;
    float *qv, *cv; /* embeddings (semantic mode), cv NULL = zero vector */
    size_t dim;
    sl_dbx_async_req *x;  /* this question's request (reused step after step), or NULL */
    sl_dbx_genie_step *g; /* live: the ask */
    /* cache path: the request in progress */
    sl_dbx_request rq;
    ok_fn on_ok;
    err_fn on_err;
    int attempts;
    int64_t poll_ms;
    void (*poll_fn)(q *k);
    char last_status[32];
    q *next_queued;
};

struct user {
    run *r;
    int id;
    const sl_lt_conversation *conv;
    size_t msg;
    char genie_conv[72];
    int64_t next_due_ns;
};

struct run {
    const sl_lt_opts *o;
    sl_dbx_client *c;
    const sl_dbx_settings *s;
    lt_loop *loop;
    sl_lt_result *res;
    sl_lt_cache *cache;
    char *warehouse;
    sl_dbx_retry_policy retry;
    int max_retries;
    /* questions */
    q **qs;
    size_t n_qs, cap_qs;
    q *queue_head, *queue_tail;
    int in_flight;
    size_t n_done, n_errors;
    int64_t t0, end_ns, last_done_ns;
    double scale;
    bool stopping;
    /* replay */
    user *users;
    lt_rng rng;
    const char *const *pool;
    size_t n_pool;
    char **own_pool;
    bool warned_embed, warned_cache;
    int64_t progress_ns;
};

static int64_t now_ns(void)
{
    return sl_mono_ns();
}

/* ------------------------------------------------------------------ helpers */

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void copy_id(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

/* ------------------------------------------------------------------ completion */

static void user_after(q *k);
static void sched_next(run *r);

static void free_transient(q *k)
{
    sl_dbx_request_cleanup(&k->rq);
    free(k->cached_sql);
    k->cached_sql = NULL;
    free(k->qv);
    free(k->cv);
    k->qv = k->cv = NULL;
    sl_dbx_genie_step_free(k->g);
    k->g = NULL;
    sl_dbx_async_req_free(k->x); /* back to the pool (also from inside its own callback) */
    k->x = NULL;
}

static void record(run *r, q *k)
{
    sl_lt_result *res = r->res;
    lt_record *rec = &k->rec;
    rec->sched_us = (k->sched_ns - r->t0) / 1000;
    rec->send_us = (k->send_ns - r->t0) / 1000;
    rec->done_us = (now_ns() - r->t0) / 1000;
    sl_lt_rtype t = k->hit == HIT_LRU                      ? SL_LT_GENIE_LRU_HIT
                    : k->hit == HIT_SEM                    ? SL_LT_GENIE_SEMANTIC_HIT
                    : r->o->cache.mode != SL_LT_CACHE_NONE ? SL_LT_GENIE_LIVE
                                                           : SL_LT_GENIE;
    rec->type = t;
    int64_t lat_sched = rec->done_us - rec->sched_us, lat_act = rec->done_us - rec->send_us;
    size_t idx[2] = {(size_t)t, SL_LT_RTYPE_COUNT};
    for (int i = 0; i < 2; i++) {
        sl_lt_hist_record(res->h_sched[idx[i]], lat_sched);
        sl_lt_hist_record(res->h_actual[idx[i]], lat_act);
        res->count[idx[i]]++;
        if (rec->ok)
            res->ok[idx[i]]++;
        else
            res->fail[idx[i]][rec->cause]++;
    }
}

static void done(q *k)
{
    run *r = k->r;
    k->state = QS_DONE;
    r->in_flight--;
    r->n_done++;
    if (!k->rec.ok)
        r->n_errors++;
    record(r, k);
    r->last_done_ns = now_ns();
    free_transient(k);
    if (k->u)
        user_after(k);
    else
        sched_next(r);
}

static void cache_warn(run *r, const char *what, const sl_err *err)
{
    if (!r->warned_cache)
        sl_warn("loadtest: cache %s failed: %s (the question goes on without it)", what, err->msg);
    r->warned_cache = true;
}

static void finish_ok(q *k)
{
    run *r = k->r;
    k->rec.ok = true;
    k->rec.cause = SL_LT_OK;
    if (k->hit == HIT_NONE && r->cache && k->rec.sql) {
        int64_t now = sl_now_ms();
        sl_err err;
        sl_err_clear(&err);
        if (k->qv && sl_lt_cache_semantic_put(
                         r->cache, r->o->space_id, k->rec.prompt, k->context, k->qv, k->cv, k->dim,
                         k->rec.sql, k->rec.genie_conv_id, k->rec.genie_msg_id, now, &err) != SL_OK)
            cache_warn(r, "store", &err);
        if (r->o->cache.lru_capacity > 0 &&
            sl_lt_cache_lru_put(r->cache, r->o->space_id, k->rec.prompt, k->context, k->rec.sql,
                                k->rec.genie_conv_id, now, &err) != SL_OK)
            cache_warn(r, "store", &err);
    }
    done(k);
}

static void finish_fail(q *k, sl_lt_cause cause, const char *msg)
{
    k->rec.ok = false;
    k->rec.cause = cause;
    free(k->rec.error);
    char buf[300];
    snprintf(buf, sizeof(buf), "%s", msg ? msg : sl_lt_cause_name(cause));
    sl_dbx_redact_buf(buf, sizeof(buf), NULL);
    k->rec.error = sl_xstrdup(buf);
    done(k);
}

/* The cause of a failed request or ask. */
static sl_lt_cause cause_of(const sl_err *e)
{
    if (e->http_status == 429)
        return SL_LT_RATE_LIMITED;
    if (e->code == SL_ETIMEOUT && e->http_status == 0)
        return SL_LT_TIMEOUT; /* the question's deadline, or a transfer timeout */
    return SL_LT_HTTP_ERROR;
}

/* Send rq on the question's request object (made on first use); false (and the question
 * failed through on_err) when it could not be sent. */
static bool q_submit(q *k, const sl_dbx_request *rq, sl_dbx_async_fn fn, err_fn on_err)
{
    run *r = k->r;
    sl_dbx_request send = *rq; /* shallow: the strings stay rq's */
    int64_t left_ms = (k->deadline_ns - now_ns()) / NS_PER_MS + 1;
    send.timeout_ms = r->o->http_timeout_ms;
    if (left_ms < send.timeout_ms)
        send.timeout_ms = left_ms;
    if (!k->x)
        k->x = sl_dbx_async_req_new(lt_loop_async(r->loop));
    sl_err err;
    sl_err_clear(&err);
    if (sl_dbx_async_req_submit(k->x, &send, fn, k, &err) != SL_OK) {
        on_err(k, SL_LT_HTTP_ERROR, err.msg);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ live Genie */

static void step(q *k, const sl_dbx_response *last);

static void step_done(sl_dbx_async_req *x, void *arg)
{
    q *k = arg;
    const sl_dbx_response *p = sl_dbx_async_req_response(x);
    if (p->status > 0)
        k->rec.http_status = p->status;
    step(k, p);
}

static void step_timer(void *arg)
{
    q *k = arg;
    if (k->state == QS_ACTIVE)
        step(k, NULL);
}

/* The answer (or how far the ask got) into the question's record. */
static void take_ids(q *k)
{
    const sl_dbx_genie_state *st = sl_dbx_genie_step_state(k->g);
    copy_id(k->rec.genie_conv_id, sizeof(k->rec.genie_conv_id), st->conversation_id);
    copy_id(k->rec.genie_msg_id, sizeof(k->rec.genie_msg_id), st->message_id);
    const sl_dbx_genie_answer *a = sl_dbx_genie_step_answer(k->g);
    if (!a)
        return;
    free(k->rec.sql);
    k->rec.sql = a->sql ? sl_xstrdup(a->sql) : NULL;
    copy_id(k->rec.stmt_id, sizeof(k->rec.stmt_id), a->statement_id);
    k->rec.rows = a->row_count;
    k->rec.response_size = a->response_bytes;
}

static void live_failed(q *k)
{
    const sl_err *e = sl_dbx_genie_step_error(k->g);
    const sl_dbx_genie_state *st = sl_dbx_genie_step_state(k->g);
    take_ids(k);
    if (st->genie_failed) { /* in Genie's own words, as the notebook reports them */
        const json_t *err = json_object_get(sl_dbx_genie_step_message(k->g), "error");
        char msg[300];
        snprintf(msg, sizeof(msg), "Genie message %s: %s%s%s", st->status,
                 jstr(err, "type") ? jstr(err, "type") : "",
                 jstr(err, "type") && jstr(err, "error") ? ": " : "",
                 jstr(err, "error") ? jstr(err, "error") : "");
        finish_fail(k, SL_LT_GENIE_FAILED, msg);
        return;
    }
    finish_fail(k, st->result_failed ? SL_LT_GENIE_FAILED : cause_of(e), e->msg);
}

static void step(q *k, const sl_dbx_response *last)
{
    run *r = k->r;
    sl_dbx_genie_next nx;
    switch (sl_dbx_genie_step_next(k->g, last, now_ns() / NS_PER_MS, &nx)) {
    case SL_DBX_GENIE_STEP_REQUEST:
        q_submit(k, nx.req, step_done, finish_fail);
        return;
    case SL_DBX_GENIE_STEP_WAIT:
        if (nx.retry)
            k->rec.retries++;
        lt_timer_add(r->loop, now_ns() + nx.wait_ms * NS_PER_MS, step_timer, k);
        return;
    case SL_DBX_GENIE_STEP_DONE:
        take_ids(k);
        finish_ok(k);
        return;
    case SL_DBX_GENIE_STEP_FAILED:
        live_failed(k);
        return;
    }
}

static void live(q *k)
{
    run *r = k->r;
    const sl_lt_opts *o = r->o;
    k->hit = HIT_NONE;
    sl_dbx_genie_step_opts so;
    sl_dbx_genie_step_opts_init(&so);
    so.space_id = o->space_id;
    so.question = k->rec.prompt;
    so.conversation_id = k->conv_in[0] ? k->conv_in : NULL;
    so.deadline_ms = k->deadline_ns / NS_PER_MS; /* the sl_mono_ns clock, in ms */
    so.budget_ms = o->question_timeout_ms;
    so.poll_initial_ms = o->poll_initial_ms;
    so.poll_max_ms = o->poll_max_ms;
    so.max_retries = r->max_retries;
    so.retry = r->retry;
    so.first_chunk_only = true; /* the row count is the manifest's; no chunk requests */
    sl_dbx_genie_step_free(k->g);
    k->g = NULL;
    sl_err err;
    sl_err_clear(&err);
    if (sl_dbx_genie_step_new(&so, &k->g, &err) != SL_OK) {
        finish_fail(k, SL_LT_HTTP_ERROR, err.msg);
        return;
    }
    step(k, NULL);
}

/* ------------------------------------------------------------------ cache path requests */

static void q_send(void *arg);

static void http_done(sl_dbx_async_req *x, void *arg)
{
    q *k = arg;
    run *r = k->r;
    const sl_dbx_response *p = sl_dbx_async_req_response(x);
    if (p->status > 0)
        k->rec.http_status = p->status;
    if (p->code != SL_OK) {
        const sl_err *e = p->err;
        int64_t now = now_ns();
        int64_t delay =
            sl_dbx_retry_delay_ms(e, k->attempts, r->max_retries, &r->retry, sl_rand_unit(),
                                  now / NS_PER_MS, k->deadline_ns / NS_PER_MS);
        if (delay >= 0) {
            k->attempts++;
            k->rec.retries++;
            lt_timer_add(r->loop, now + delay * NS_PER_MS, q_send, k);
            return;
        }
        char msg[300];
        snprintf(msg, sizeof(msg), "%s%s", e->msg,
                 (e->http_status == 429 || e->http_status == 503) && k->attempts > 0
                     ? " (retries exhausted)"
                     : "");
        k->on_err(k, cause_of(e), msg);
        return;
    }
    json_error_t je;
    json_t *j = p->body_len ? json_loadb(p->body, p->body_len, 0, &je) : json_object();
    if (!j) {
        k->on_err(k, SL_LT_HTTP_ERROR, "malformed JSON in the response");
        return;
    }
    k->on_ok(k, j, p->body_len);
    json_decref(j);
}

static void q_send(void *arg)
{
    q *k = arg;
    if (k->state != QS_ACTIVE)
        return;
    if (now_ns() >= k->deadline_ns) {
        k->on_err(k, SL_LT_TIMEOUT, "question timed out");
        return;
    }
    q_submit(k, &k->rq, http_done, k->on_err);
}

/* Start a cache-path request: rq (built by dbx, taken) with its outcome handlers. */
static void q_http(q *k, sl_dbx_request *rq, ok_fn on_ok, err_fn on_err)
{
    sl_dbx_request_cleanup(&k->rq);
    k->rq = *rq;
    rq->own_path = rq->own_body = NULL;
    k->on_ok = on_ok;
    k->on_err = on_err;
    k->attempts = 0;
    q_send(k);
}

static void poll_timer(void *arg)
{
    q *k = arg;
    if (k->state == QS_ACTIVE)
        k->poll_fn(k);
}

/* Wait poll_ms (growing x1.5 to the cap), then run fn; a deadline in between is a
 * timeout. */
static void schedule_poll(q *k, void (*fn)(q *k))
{
    run *r = k->r;
    int64_t due = now_ns() + k->poll_ms * NS_PER_MS;
    if (due >= k->deadline_ns) {
        char msg[160];
        snprintf(msg, sizeof(msg), "no answer within %llds (last status %s)",
                 (long long)(r->o->question_timeout_ms / 1000),
                 k->last_status[0] ? k->last_status : "unknown");
        finish_fail(k, SL_LT_TIMEOUT, msg);
        return;
    }
    k->poll_fn = fn;
    lt_timer_add(r->loop, due, poll_timer, k);
    k->poll_ms = k->poll_ms * 3 / 2;
    if (k->poll_ms > r->o->poll_max_ms)
        k->poll_ms = r->o->poll_max_ms;
}

/* ------------------------------------------------------------------ cache path */

static void embed(q *k);
static void reexec(q *k);

static void reexec_err(q *k, sl_lt_cause cause, const char *msg)
{
    (void)cause;
    run *r = k->r;
    sl_err err;
    sl_err_clear(&err);
    sl_debug("loadtest: cached SQL failed (%s); entry dropped, asking Genie", msg);
    hitkind was = k->hit;
    if (was == HIT_LRU &&
        sl_lt_cache_lru_forget(r->cache, r->o->space_id, k->rec.prompt, k->context, &err) != SL_OK)
        cache_warn(r, "delete", &err);
    if (was == HIT_SEM && sl_lt_cache_semantic_forget(r->cache, k->sem_id, &err) != SL_OK)
        cache_warn(r, "delete", &err);
    k->hit = HIT_NONE;
    free(k->cached_sql);
    k->cached_sql = NULL;
    free(k->rec.sql);
    k->rec.sql = NULL;
    k->rec.stmt_id[0] = '\0';
    if (was == HIT_LRU && r->o->cache.mode == SL_LT_CACHE_SEMANTIC)
        embed(k); /* the exact layer missed after all: ask the semantic layer */
    else
        live(k);
}

static void reexec_poll(q *k);

static void stmt_ok(q *k, json_t *j, size_t len)
{
    const char *state = jstr(json_object_get(j, "status"), "state");
    copy_id(k->rec.stmt_id, sizeof(k->rec.stmt_id), jstr(j, "statement_id"));
    copy_id(k->last_status, sizeof(k->last_status), state);
    if (state && strcmp(state, "SUCCEEDED") == 0) {
        const json_t *tr = json_object_get(json_object_get(j, "manifest"), "total_row_count");
        const json_t *rows = json_object_get(json_object_get(j, "result"), "data_array");
        k->rec.rows = json_is_integer(tr) ? json_integer_value(tr) : (int64_t)json_array_size(rows);
        k->rec.response_size = (int64_t)len;
        run *r = k->r;
        if (k->hit == HIT_SEM && r->o->cache.lru_capacity > 0) {
            sl_err err;
            sl_err_clear(&err);
            if (sl_lt_cache_lru_put(r->cache, r->o->space_id, k->rec.prompt, k->context,
                                    k->cached_sql, NULL, sl_now_ms(), &err) != SL_OK)
                cache_warn(r, "store", &err);
        }
        finish_ok(k);
    } else if (state && (strcmp(state, "PENDING") == 0 || strcmp(state, "RUNNING") == 0)) {
        schedule_poll(k, reexec_poll);
    } else {
        const json_t *e = json_object_get(json_object_get(j, "status"), "error");
        char msg[300];
        snprintf(msg, sizeof(msg), "statement %s: %s", state ? state : "without state",
                 jstr(e, "message") ? jstr(e, "message") : "");
        reexec_err(k, SL_LT_GENIE_FAILED, msg);
    }
}

static void reexec_poll(q *k)
{
    sl_dbx_request rq;
    sl_err err;
    sl_err_clear(&err);
    if (sl_dbx_statement_get_request(k->rec.stmt_id, &rq, &err) != SL_OK) {
        sl_dbx_request_cleanup(&rq);
        reexec_err(k, SL_LT_HTTP_ERROR, err.msg);
        return;
    }
    q_http(k, &rq, stmt_ok, reexec_err);
}

static void reexec(q *k)
{
    run *r = k->r;
    free(k->rec.sql);
    k->rec.sql = sl_xstrdup(k->cached_sql);
    k->poll_ms = r->o->poll_initial_ms;
    sl_dbx_statement_req sr;
    sl_dbx_statement_req_init(&sr);
    sr.statement = k->cached_sql;
    sr.warehouse_id = r->warehouse;
    sr.wait_timeout_s = 30;
    sl_dbx_request rq;
    sl_err err;
    sl_err_clear(&err);
    if (sl_dbx_statement_execute_request(&sr, &rq, &err) != SL_OK) {
        sl_dbx_request_cleanup(&rq);
        reexec_err(k, SL_LT_HTTP_ERROR, err.msg);
        return;
    }
    q_http(k, &rq, stmt_ok, reexec_err);
}

static void embed_err(q *k, sl_lt_cause cause, const char *msg)
{
    (void)cause;
    run *r = k->r;
    if (!r->warned_embed)
        sl_warn("loadtest: embedding with %s failed: %s (semantic layer skipped)",
                r->o->cache.embedding_model, msg);
    r->warned_embed = true;
    free(k->qv);
    free(k->cv);
    k->qv = k->cv = NULL;
    live(k);
}

static void embed_ok(q *k, json_t *j, size_t len)
{
    (void)len;
    run *r = k->r;
    bool has_ctx = k->context && *k->context;
    size_t n = has_ctx ? 2 : 1;
    sl_dbx_vectors *v = NULL;
    sl_err err;
    sl_err_clear(&err);
    if (sl_dbx_serving_embed_parse(j, n, k->rq.what, &v, &err) != SL_OK) {
        embed_err(k, SL_LT_HTTP_ERROR, err.msg);
        return;
    }
    size_t dim = v->dim;
    k->dim = dim;
    k->qv = sl_xmalloc(dim * sizeof(float));
    memcpy(k->qv, v->data, dim * sizeof(float));
    if (has_ctx) {
        k->cv = sl_xmalloc(dim * sizeof(float));
        memcpy(k->cv, v->data + dim, dim * sizeof(float));
    }
    sl_dbx_vectors_free(v);
    sl_lt_cache_match m;
    sl_code rc = sl_lt_cache_semantic_find(r->cache, r->o->space_id, k->qv, k->cv, k->dim,
                                           sl_now_ms(), &m, &err);
    if (rc == SL_OK) {
        sl_debug("loadtest: semantic hit q_sim=%.3f c_sim=%.3f for '%s' (cached '%s')",
                 m.question_sim, m.context_sim, k->rec.prompt, m.question);
        k->hit = HIT_SEM;
        k->sem_id = m.entry_id;
        k->cached_sql = m.sql;
        m.sql = NULL;
        sl_lt_cache_match_cleanup(&m);
        reexec(k);
        return;
    }
    sl_lt_cache_match_cleanup(&m);
    if (rc != SL_ENOTFOUND)
        cache_warn(r, "lookup", &err);
    live(k);
}

static void embed(q *k)
{
    run *r = k->r;
    const char *in[2] = {k->rec.prompt, k->context};
    size_t n = k->context && *k->context ? 2 : 1;
    sl_dbx_request rq;
    sl_err err;
    sl_err_clear(&err);
    if (sl_dbx_serving_embed_request(r->o->cache.embedding_model, in, n, &rq, &err) != SL_OK) {
        sl_dbx_request_cleanup(&rq);
        embed_err(k, SL_LT_HTTP_ERROR, err.msg);
        return;
    }
    q_http(k, &rq, embed_ok, embed_err);
}

/* ------------------------------------------------------------------ start */

static void q_start(q *k)
{
    run *r = k->r;
    k->state = QS_ACTIVE;
    k->send_ns = now_ns();
    k->deadline_ns = k->send_ns + r->o->question_timeout_ms * NS_PER_MS;
    if (++r->in_flight > r->res->peak_questions)
        r->res->peak_questions = r->in_flight;
    if (r->cache && r->o->cache.lru_capacity > 0) {
        char *sql = NULL;
        sl_err err;
        sl_err_clear(&err);
        sl_code rc = sl_lt_cache_lru_get(r->cache, r->o->space_id, k->rec.prompt, k->context,
                                         sl_now_ms(), &sql, NULL, &err);
        if (rc == SL_OK) {
            k->hit = HIT_LRU;
            k->cached_sql = sql;
            reexec(k);
            return;
        }
        if (rc != SL_ENOTFOUND)
            cache_warn(r, "lookup", &err);
    }
    if (r->cache && r->o->cache.mode == SL_LT_CACHE_SEMANTIC) {
        embed(k);
        return;
    }
    live(k);
}

static void queue_push(run *r, q *k)
{
    k->state = QS_QUEUED;
    k->next_queued = NULL;
    if (r->queue_tail)
        r->queue_tail->next_queued = k;
    else
        r->queue_head = k;
    r->queue_tail = k;
}

static q *queue_pop(run *r)
{
    q *k = r->queue_head;
    if (k) {
        r->queue_head = k->next_queued;
        if (!r->queue_head)
            r->queue_tail = NULL;
    }
    return k;
}

static void q_due(void *arg)
{
    q *k = arg;
    run *r = k->r;
    if (r->stopping || k->state != QS_PENDING)
        return;
    if (r->in_flight < r->o->workers && !r->queue_head)
        q_start(k);
    else
        queue_push(r, k);
}

static void sched_next(run *r)
{
    while (!r->stopping && r->queue_head && r->in_flight < r->o->workers)
        q_start(queue_pop(r));
}

static q *new_q(run *r)
{
    if (r->n_qs == r->cap_qs) {
        r->cap_qs = r->cap_qs ? r->cap_qs * 2 : 64;
        r->qs = sl_xrealloc(r->qs, r->cap_qs * sizeof(*r->qs));
    }
    q *k = sl_xcalloc(1, sizeof(*k));
    k->r = r;
    k->rec.index = r->n_qs;
    k->rec.rows = -1;
    r->qs[r->n_qs++] = k;
    return k;
}

/* ------------------------------------------------------------------ replay users */

static void user_send(void *arg);

static void user_begin(void *arg)
{
    user *u = arg;
    run *r = u->r;
    if (r->stopping || now_ns() >= r->end_ns)
        return;
    const sl_lt_convset *cs = r->o->convs;
    u->conv = &cs->convs[lt_rng_next(&r->rng) % cs->n_convs];
    u->msg = 0;
    u->genie_conv[0] = '\0';
    sl_debug("loadtest: user %d replays conversation %s (%zu messages)", u->id,
             u->conv->id ? u->conv->id : "?", u->conv->n_msgs);
    user_send(u);
}

static void user_send(void *arg)
{
    user *u = arg;
    run *r = u->r;
    if (r->stopping || now_ns() >= r->end_ns)
        return;
    const sl_lt_conversation *c = u->conv;
    q *k = new_q(r);
    k->u = u;
    k->rec.user = u->id;
    k->rec.prompt = c->msgs[u->msg].content;
    k->rec.src_conv_id = c->id;
    k->rec.src_msg_id = c->msgs[u->msg].message_id;
    k->rec.msg_index = (int)u->msg;
    k->rec.msg_count = (int)c->n_msgs;
    if (r->cache) {
        const char **hist = sl_xcalloc(u->msg + 1, sizeof(*hist));
        for (size_t i = 0; i < u->msg; i++)
            hist[i] = c->msgs[i].content;
        k->context = sl_lt_context_string(hist, u->msg, r->o->cache.context_window);
        free(hist);
    } else {
        k->context = sl_xstrdup("");
    }
    copy_id(k->conv_in, sizeof(k->conv_in), u->genie_conv);
    k->sched_ns = u->next_due_ns ? u->next_due_ns : now_ns();
    q_start(k);
}

static int64_t wait_ns(run *r, double lo_s, double hi_s)
{
    double s = lt_rng_uniform(&r->rng, lo_s, hi_s) * r->scale;
    return (int64_t)(s * 1e9);
}

static void user_after(q *k)
{
    user *u = k->u;
    run *r = u->r;
    /* a live answer continues its Genie conversation; a hit adds nothing to Genie */
    if (k->hit == HIT_NONE && k->rec.genie_conv_id[0])
        copy_id(u->genie_conv, sizeof(u->genie_conv), k->rec.genie_conv_id);
    u->msg++;
    int64_t due;
    lt_timer_fn fn;
    if (u->msg < u->conv->n_msgs) {
        due = now_ns() + wait_ns(r, r->o->min_wait_s / 2, r->o->max_wait_s / 2);
        fn = user_send;
    } else {
        due = now_ns() + wait_ns(r, r->o->min_wait_s, r->o->max_wait_s);
        fn = user_begin;
    }
    if (r->stopping || due >= r->end_ns)
        return; /* Locust stops a user sleeping past the run time */
    u->next_due_ns = due;
    lt_timer_add(r->loop, due, fn, u);
}

static void user_spawn(void *arg)
{
    user *u = arg;
    u->next_due_ns = now_ns();
    user_begin(u);
}

/* ------------------------------------------------------------------ run */

void sl_lt_opts_init(sl_lt_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->mode = SL_LT_MODE_SCENARIO;
    o->scenario = "custom";
    o->workers = 10;
    o->users = 1;
    o->spawn_rate = 1.0;
    o->run_time_ms = 600000;
    o->min_wait_s = 8;
    o->max_wait_s = 30;
    o->stop_timeout_ms = 30000;
    o->time_scale = 1.0;
    o->question_timeout_ms = 300000;
    o->poll_initial_ms = 200;
    o->poll_max_ms = 1500;
    o->max_retries = -1;
    o->http_timeout_ms = 60000;
    sl_lt_cache_opts_init(&o->cache);
}

static const char *fmt_dur(double s, char *buf, size_t n)
{
    if (s >= 1 || s == 0)
        snprintf(buf, n, "%.3gs", s);
    else
        snprintf(buf, n, "%.3gms", s * 1000);
    return buf;
}

char *sl_lt_schedule_describe(const sl_lt_opts *o)
{
    char a[32], b[32], c[32];
    if (o->mode == SL_LT_MODE_SCENARIO) {
        double dur = (double)o->duration_ms / 1000.0;
        double eff = dur * o->time_scale;
        if (o->duration_ms <= 0 || o->questions <= 1)
            return sl_xasprintf("schedule: %s: %lld question%s at once (immediate), %d worker%s, "
                                "open loop",
                                o->scenario, (long long)o->questions, o->questions == 1 ? "" : "s",
                                o->workers, o->workers == 1 ? "" : "s");
        return sl_xasprintf("schedule: %s: %lld questions over %s x %g = %s, interval %s "
                            "(question i due at t0 + i x interval), %d worker%s, open loop",
                            o->scenario, (long long)o->questions, fmt_dur(dur, a, sizeof(a)),
                            o->time_scale, fmt_dur(eff, b, sizeof(b)),
                            fmt_dur(eff / (double)o->questions, c, sizeof(c)), o->workers,
                            o->workers == 1 ? "" : "s");
    }
    double rt = (double)o->run_time_ms / 1000.0 * o->time_scale;
    return sl_xasprintf("schedule: replay: %d user%s started at %g/s, run time %s; waits "
                        "U(%g, %g)s between messages and U(%g, %g)s between conversations "
                        "(all x %g)",
                        o->users, o->users == 1 ? "" : "s", o->spawn_rate / o->time_scale,
                        fmt_dur(rt, a, sizeof(a)), o->min_wait_s / 2 * o->time_scale,
                        o->max_wait_s / 2 * o->time_scale, o->min_wait_s * o->time_scale,
                        o->max_wait_s * o->time_scale, o->time_scale);
}

static void progress(run *r, bool final)
{
    FILE *f = r->o->progress;
    if (!f)
        return;
    int64_t now = now_ns();
    if (!final && now - r->progress_ns < 250 * NS_PER_MS)
        return;
    r->progress_ns = now;
    double p95 = (double)sl_lt_hist_percentile(r->res->h_sched[SL_LT_RTYPE_COUNT], 95) / 1e6;
    if (r->o->mode == SL_LT_MODE_SCENARIO)
        fprintf(f, "\r[%zu/%lld] in flight %d, queued %s, p95 %.2fs, errors %zu\033[K", r->n_done,
                (long long)r->o->questions, r->in_flight, r->queue_head ? "yes" : "no", p95,
                r->n_errors);
    else
        fprintf(f, "\r[%.1fs/%.1fs] done %zu, in flight %d, p95 %.2fs, errors %zu\033[K",
                (double)(now - r->t0) / 1e9, (double)(r->end_ns - r->t0) / 1e9, r->n_done,
                r->in_flight, p95, r->n_errors);
    if (final)
        fputc('\n', f);
    fflush(f);
}

/* Abort every question still in flight or waiting (not recorded). */
static void abort_all(run *r)
{
    r->stopping = true;
    for (size_t i = 0; i < r->n_qs; i++) {
        q *k = r->qs[i];
        if (k->state == QS_DONE || k->state == QS_ABORTED)
            continue;
        sl_dbx_async_req_free(k->x); /* aborts the transfer */
        k->x = NULL;
        if (k->state == QS_ACTIVE)
            r->in_flight--;
        if (k->state == QS_PENDING)
            r->res->not_started++;
        else
            r->res->aborted++;
        k->state = QS_ABORTED;
    }
    r->queue_head = r->queue_tail = NULL;
}

static bool finished(run *r)
{
    if (r->o->mode == SL_LT_MODE_SCENARIO)
        return r->n_done + r->res->aborted + r->res->not_started >= (size_t)r->o->questions;
    return r->in_flight == 0 && (r->stopping || now_ns() >= r->end_ns);
}

static sl_code check_opts(const sl_lt_opts *o, sl_err *err)
{
    if (!o->space_id || !*o->space_id)
        return sl_err_set(err, SL_EINVAL, "no Genie space id");
    if (!(o->time_scale > 0))
        return sl_err_set(err, SL_EINVAL, "time scale must be > 0");
    if (o->mode == SL_LT_MODE_SCENARIO) {
        if (o->questions < 1)
            return sl_err_set(err, SL_EINVAL, "questions must be >= 1");
        if (o->workers < 1)
            return sl_err_set(err, SL_EINVAL, "workers must be >= 1");
        if (o->duration_ms < 0)
            return sl_err_set(err, SL_EINVAL, "duration must be >= 0");
    } else {
        if (!o->convs || o->convs->n_convs == 0)
            return sl_err_set(err, SL_EINVAL, "no conversations to replay");
        if (o->users < 1)
            return sl_err_set(err, SL_EINVAL, "users must be >= 1");
        if (!(o->spawn_rate > 0))
            return sl_err_set(err, SL_EINVAL, "spawn rate must be > 0");
        if (o->min_wait_s < 0 || o->max_wait_s < o->min_wait_s)
            return sl_err_set(err, SL_EINVAL, "waits need 0 <= min-wait <= max-wait");
        if (o->run_time_ms <= 0)
            return sl_err_set(err, SL_EINVAL, "run time must be > 0");
    }
    if (o->poll_initial_ms <= 0 || o->poll_max_ms < o->poll_initial_ms)
        return sl_err_set(err, SL_EINVAL, "polls need 0 < poll-initial <= poll-max");
    if (o->question_timeout_ms <= 0)
        return sl_err_set(err, SL_EINVAL, "question timeout must be > 0");
    return SL_OK;
}

static sl_lt_result *result_new(const sl_lt_opts *o)
{
    sl_lt_result *res = sl_xcalloc(1, sizeof(*res));
    res->opts = *o;
    for (int i = 0; i <= SL_LT_RTYPE_COUNT; i++) {
        res->h_sched[i] = sl_lt_hist_new();
        res->h_actual[i] = sl_lt_hist_new();
    }
    return res;
}

void sl_lt_result_free(sl_lt_result *res)
{
    if (!res)
        return;
    for (size_t i = 0; i < res->n_recs; i++) {
        free(res->recs[i].sql);
        free(res->recs[i].error);
    }
    free(res->recs);
    for (int i = 0; i <= SL_LT_RTYPE_COUNT; i++) {
        sl_lt_hist_free(res->h_sched[i]);
        sl_lt_hist_free(res->h_actual[i]);
    }
    free(res->schedule);
    free(res->warehouse_id);
    json_decref(res->summary);
    sl_lt_strv_free(res->own_pool);
    free(res);
}

static sl_code setup_cache(run *r, sl_err *err)
{
    const sl_lt_opts *o = r->o;
    if (o->cache.mode == SL_LT_CACHE_NONE)
        return SL_OK;
    sl_code rc = sl_lt_cache_open(&o->cache, &r->cache, err);
    if (rc != SL_OK)
        return rc;
    const char *wh = o->cache.warehouse_id;
    if (!wh || !*wh)
        wh = r->s->warehouse_id;
    if (wh && *wh) {
        r->warehouse = sl_xstrdup(wh);
        return SL_OK;
    }
    rc = sl_dbx_warehouse_resolve(r->c, NULL, NULL, &r->warehouse, err);
    if (rc != SL_OK)
        return sl_err_prefix(err, "cache: SQL warehouse for re-executing cached queries");
    return SL_OK;
}

sl_code sl_lt_genie_run(sl_dbx_client *c, const sl_lt_opts *o, sl_lt_result **out, sl_err *err)
{
    *out = NULL;
    sl_code rc = check_opts(o, err);
    if (rc != SL_OK)
        return rc;
    run R;
    memset(&R, 0, sizeof(R));
    run *r = &R;
    r->o = o;
    r->c = c;
    r->s = sl_dbx_client_settings(c);
    r->scale = o->time_scale;
    r->retry = r->s->retry;
    r->max_retries = o->max_retries >= 0 ? o->max_retries : r->s->retry.max_retries;
    r->rng.s = o->seed ? o->seed : sl_rand_u64();
    r->res = result_new(o);
    r->res->schedule = sl_lt_schedule_describe(o);
    lt_raise_nofile();
    if ((rc = setup_cache(r, err)) != SL_OK)
        goto out;
    r->res->warehouse_id = r->warehouse ? sl_xstrdup(r->warehouse) : NULL;
    sl_dbx_async_opts ao;
    sl_dbx_async_opts_init(&ao);
    ao.max_connections = (o->mode == SL_LT_MODE_SCENARIO ? o->workers : o->users) + 16;
    if ((rc = lt_loop_new(c, &ao, &r->loop, err)) != SL_OK) /* OAuth: the token, now */
        goto out;
    /* question texts for scenario mode */
    if (o->mode == SL_LT_MODE_SCENARIO) {
        r->pool = o->pool;
        r->n_pool = o->n_pool;
        if (!r->pool || r->n_pool == 0) {
            size_t n = (size_t)o->questions;
            r->own_pool = sl_xcalloc(n + 1, sizeof(char *));
            for (size_t i = 0; i < n; i++)
                r->own_pool[i] = sl_lt_sample_question(i);
            r->pool = (const char *const *)r->own_pool;
            r->n_pool = n;
            r->res->opts.pool = r->pool; /* the result keeps them (records point into them) */
            r->res->opts.n_pool = n;
            r->res->own_pool = r->own_pool;
            r->own_pool = NULL;
        }
    }

    r->t0 = now_ns();
    r->res->start_ms = sl_now_ms();
    if (o->mode == SL_LT_MODE_SCENARIO) {
        int64_t dur_us = (int64_t)llround((double)o->duration_ms * 1000.0 * o->time_scale);
        for (int64_t i = 0; i < o->questions; i++) {
            q *k = new_q(r);
            k->rec.prompt = r->pool[(size_t)i % r->n_pool];
            k->context = sl_xstrdup("");
            k->sched_ns = r->t0 + sl_lt_schedule_offset_us(dur_us, o->questions, i) * 1000;
            lt_timer_add(r->loop, k->sched_ns, q_due, k);
        }
    } else {
        r->end_ns = r->t0 + (int64_t)((double)o->run_time_ms * o->time_scale * 1e6);
        r->users = sl_xcalloc((size_t)o->users, sizeof(*r->users));
        double every_ns = 1e9 / o->spawn_rate * o->time_scale;
        for (int i = 0; i < o->users; i++) {
            user *u = &r->users[i];
            u->r = r;
            u->id = i + 1;
            lt_timer_add(r->loop, r->t0 + (int64_t)(every_ns * i), user_spawn, u);
        }
    }

    int64_t hard_stop = INT64_MAX;
    while (!finished(r)) {
        if (o->stop && *o->stop && !r->stopping) {
            sl_warn("loadtest: interrupted; stopping (questions in flight are not counted)");
            abort_all(r);
            break;
        }
        if (o->mode == SL_LT_MODE_REPLAY && now_ns() >= r->end_ns && hard_stop == INT64_MAX)
            hard_stop = now_ns() + o->stop_timeout_ms * NS_PER_MS;
        if (now_ns() >= hard_stop) {
            char d[32];
            sl_warn("loadtest: %d question(s) still in flight %s after the run time; aborted",
                    r->in_flight, sl_duration_format(o->stop_timeout_ms, d, sizeof(d)));
            abort_all(r);
            break;
        }
        int64_t cap = 100 * NS_PER_MS;
        if (o->mode == SL_LT_MODE_REPLAY && r->end_ns > now_ns() && r->end_ns - now_ns() < cap)
            cap = r->end_ns - now_ns();
        lt_loop_run_once(r->loop, cap);
        progress(r, false);
    }
    progress(r, true);
    /* scenario: until the last answer; replay: the whole run (run time + drain) */
    int64_t end =
        o->mode == SL_LT_MODE_SCENARIO && r->last_done_ns > r->t0 ? r->last_done_ns : now_ns();
    r->res->duration_us = (end - r->t0) / 1000;
    r->res->peak_in_flight = lt_loop_peak(r->loop);

    /* hand the finished records to the result, in due order */
    r->res->recs = sl_xcalloc(r->n_qs + 1, sizeof(lt_record));
    for (size_t i = 0; i < r->n_qs; i++) {
        q *k = r->qs[i];
        if (k->state == QS_DONE) {
            r->res->recs[r->res->n_recs++] = k->rec;
            k->rec.sql = k->rec.error = NULL;
        }
    }
    lt_result_finish(r->res);
    *out = r->res;
    r->res = NULL;
    rc = SL_OK;
out:
    sl_lt_result_free(r->res);
    for (size_t i = 0; i < r->n_qs; i++) {
        q *k = r->qs[i];
        free_transient(k); /* before the loop: its requests go back to the driver */
        free(k->context);
        free(k->rec.sql);
        free(k->rec.error);
        free(k);
    }
    free(r->qs);
    free(r->users);
    lt_loop_free(r->loop);
    free(r->warehouse);
    sl_lt_cache_close(r->cache);
    return rc;
}
