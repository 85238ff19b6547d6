/*
 * genie_run.c - the Genie generator: every question is a small state machine driven by
 * the event loop (loop.c); no thread per request.
 *
 *   q_due --(worker free)--> q_start --cache?--> lru hit? --> reexec --ok--> done (LRU)
 *       \--(all busy: FIFO)      |                 | no          \-fail: forget, go on
 *                                |            embed -> semantic hit? -> reexec -> done
 *                                v                      | no / fail: forget
 *                              live: POST start-conversation | follow-up message
 *                                -> on_message: COMPLETED -> GET query-result (poll while
 *                                   PENDING/RUNNING; CLOSED -> execute-query) -> done
 *                                   FAILED/CANCELLED -> failed; other -> poll (x1.5, cap)
 *
 * Every HTTP step goes through q_http: 429 and 503 wait Retry-After (else the client's
 * backoff) and retry up to max_retries; past that a 429 is "rate_limited". A question
 * that reaches its deadline fails as "timeout". Scenario mode schedules question i at
 * t0 + offset(i) (open loop, invariant (1) of loadtest.h); replay mode runs users that
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
    char conv_in[48]; /* replay: the Genie conversation to follow up, "" = start one */
    char att_id[48];
    hitkind hit;
    int64_t sem_id;
    char *cached_sql;
    float *qv, *cv; /* embeddings (semantic mode), cv NULL = zero vector */
    size_t dim;
    bool exec_tried;
    int64_t poll_ms;
    int64_t msg_bytes;
    char last_status[32];
    /* the HTTP step in progress */
    lt_xfer *x;
    const char *method;
    char *url, *body;
    ok_fn on_ok;
    err_fn on_err;
    int attempts;
    void (*poll_fn)(q *k);
    q *next_queued;
};

struct user {
    run *r;
    int id;
    const sl_lt_conversation *conv;
    size_t msg;
    char genie_conv[48];
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
    char *space_enc;
    struct curl_slist *hdrs;
    struct curl_slist **old_hdrs;
    size_t n_old_hdrs;
    char *auth_line;
    int64_t auth_checked_ns;
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

static char *pct(const char *s)
{
    char *e = curl_easy_escape(NULL, s ? s : "", 0);
    if (!e) {
        sl_error("loadtest: curl_easy_escape failed (out of memory)");
        abort();
    }
    char *r = sl_xstrdup(e);
    curl_free(e);
    return r;
}

static char *genie_url(run *r, const char *conv, const char *msg, const char *att,
                       const char *suffix)
{
    sl_buf b = {0};
    sl_buf_printf(&b, "%s/api/2.0/genie/spaces/%s", r->s->host, r->space_enc);
    const char *ids[3] = {conv, msg, att};
    const char *names[3] = {"/conversations/", "/messages/", "/attachments/"};
    for (int i = 0; i < 3 && ids[i]; i++) {
        char *e = pct(ids[i]);
        sl_buf_puts(&b, names[i]);
        sl_buf_puts(&b, e);
        free(e);
    }
    if (suffix)
        sl_buf_puts(&b, suffix);
    return b.p;
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void copy_id(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

/* Refresh the shared header list when the Authorization value changed (OAuth). */
static sl_code refresh_headers(run *r, sl_err *err)
{
    char *line = NULL;
    sl_code rc = sl_dbx_auth_header(r->c, &line, err);
    if (rc != SL_OK)
        return rc;
    r->auth_checked_ns = now_ns();
    if (r->auth_line && strcmp(r->auth_line, line) == 0) {
        sl_secret_free(line);
        return SL_OK;
    }
    if (r->hdrs) { /* transfers in flight still point at it */
        r->old_hdrs = sl_xrealloc(r->old_hdrs, (r->n_old_hdrs + 1) * sizeof(*r->old_hdrs));
        r->old_hdrs[r->n_old_hdrs++] = r->hdrs;
    }
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, line);
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Accept: application/json");
    if (!h) {
        sl_error("loadtest: curl_slist_append failed (out of memory)");
        abort();
    }
    r->hdrs = h;
    sl_secret_free(r->auth_line);
    r->auth_line = line;
    return SL_OK;
}

/* ------------------------------------------------------------------ completion */

static void user_after(q *k);
static void sched_next(run *r);

static void free_transient(q *k)
{
    free(k->url);
    free(k->body);
    k->url = k->body = NULL;
    free(k->cached_sql);
    k->cached_sql = NULL;
    free(k->qv);
    free(k->cv);
    k->qv = k->cv = NULL;
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

/* ------------------------------------------------------------------ HTTP steps */

static void q_send(void *arg);

static void http_done(lt_xfer *x, void *arg)
{
    q *k = arg;
    run *r = k->r;
    k->x = NULL;
    err_fn on_err = k->on_err ? k->on_err : finish_fail;
    if (x->cc != CURLE_OK) {
        char msg[300];
        snprintf(msg, sizeof(msg), "%s %s: %s", k->method, x->too_big ? "(response too large)" : "",
                 x->curl_err[0] ? x->curl_err : curl_easy_strerror(x->cc));
        sl_lt_cause cause = x->cc == CURLE_OPERATION_TIMEDOUT ? SL_LT_TIMEOUT : SL_LT_HTTP_ERROR;
        lt_xfer_put(r->loop, x);
        on_err(k, cause, msg);
        return;
    }
    k->rec.http_status = (int)x->status;
    if (x->status < 200 || x->status >= 300) {
        sl_err e;
        sl_err_clear(&e);
        sl_dbx_error_from_http((int)x->status, x->resp.p, x->resp.len,
                               x->retry_after[0] ? x->retry_after : NULL, sl_now_ms(), &e);
        bool retryable = x->status == 429 || x->status == 503;
        if (retryable && k->attempts < r->max_retries) {
            int64_t delay = e.retry_after_ms >= 0
                                ? e.retry_after_ms
                                : sl_dbx_backoff_ms(&r->retry, k->attempts, sl_rand_unit());
            int64_t due = now_ns() + delay * NS_PER_MS;
            lt_xfer_put(r->loop, x);
            if (due < k->deadline_ns) {
                k->attempts++;
                k->rec.retries++;
                lt_timer_add(r->loop, due, q_send, k);
                return;
            }
        } else {
            lt_xfer_put(r->loop, x);
        }
        char msg[300];
        snprintf(msg, sizeof(msg), "%s%s", e.msg,
                 retryable && k->attempts > 0 ? " (retries exhausted)" : "");
        on_err(k, x->status == 429 ? SL_LT_RATE_LIMITED : SL_LT_HTTP_ERROR, msg);
        return;
    }
    json_error_t je;
    json_t *j = x->resp.len ? json_loadb(x->resp.p, x->resp.len, 0, &je) : json_object();
    size_t len = x->resp.len;
    lt_xfer_put(r->loop, x);
    if (!j) {
        on_err(k, SL_LT_HTTP_ERROR, "malformed JSON in the response");
        return;
    }
    k->on_ok(k, j, len);
    json_decref(j);
}

static void q_send(void *arg)
{
    q *k = arg;
    run *r = k->r;
    if (k->state != QS_ACTIVE)
        return;
    int64_t now = now_ns();
    if (now >= k->deadline_ns) {
        (k->on_err ? k->on_err : finish_fail)(k, SL_LT_TIMEOUT, "question timed out");
        return;
    }
    if (now - r->auth_checked_ns > 60 * 1000 * NS_PER_MS) {
        sl_err err;
        sl_err_clear(&err);
        if (refresh_headers(r, &err) != SL_OK) {
            finish_fail(k, SL_LT_HTTP_ERROR, err.msg);
            return;
        }
    }
    long timeout = (long)r->o->http_timeout_ms;
    int64_t left_ms = (k->deadline_ns - now) / NS_PER_MS + 1;
    if (left_ms < timeout)
        timeout = (long)left_ms;
    k->x = lt_xfer_get(r->loop);
    lt_xfer_start(r->loop, k->x, k->method, k->url, k->body, r->hdrs, timeout, http_done, k);
}

/* Start an HTTP step (url and body taken). on_err NULL = the question fails. */
static void q_http(q *k, const char *method, char *url, char *body, ok_fn on_ok, err_fn on_err)
{
    free(k->url);
    free(k->body);
    k->method = method;
    k->url = url;
    k->body = body;
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

/* ------------------------------------------------------------------ live Genie */

static void live(q *k);
static void fetch_result(q *k);

static void result_ok(q *k, json_t *j, size_t len)
{
    const json_t *sr = json_object_get(j, "statement_response");
    const char *state = jstr(json_object_get(sr, "status"), "state");
    if (!state) {
        finish_fail(k, SL_LT_HTTP_ERROR, "query result without statement_response.status");
        return;
    }
    snprintf(k->last_status, sizeof(k->last_status), "%s", state);
    if (strcmp(state, "SUCCEEDED") == 0) {
        const json_t *tr = json_object_get(json_object_get(sr, "manifest"), "total_row_count");
        const json_t *rows = json_object_get(json_object_get(sr, "result"), "data_array");
        k->rec.rows = json_is_integer(tr) ? json_integer_value(tr) : (int64_t)json_array_size(rows);
        k->rec.response_size = k->msg_bytes + (int64_t)len;
        if (!k->rec.stmt_id[0])
            copy_id(k->rec.stmt_id, sizeof(k->rec.stmt_id), jstr(sr, "statement_id"));
        finish_ok(k);
    } else if (strcmp(state, "PENDING") == 0 || strcmp(state, "RUNNING") == 0) {
        schedule_poll(k, fetch_result);
    } else if (strcmp(state, "CLOSED") == 0 && !k->exec_tried) {
        k->exec_tried = true;
        q_http(
            k, "POST",
            genie_url(k->r, k->rec.genie_conv_id, k->rec.genie_msg_id, k->att_id, "/execute-query"),
            NULL, result_ok, NULL);
    } else {
        const json_t *e = json_object_get(json_object_get(sr, "status"), "error");
        char msg[300];
        snprintf(msg, sizeof(msg), "query result %s: %s", state,
                 jstr(e, "message") ? jstr(e, "message") : "no detail");
        finish_fail(k, SL_LT_GENIE_FAILED, msg);
    }
}

static void fetch_result(q *k)
{
    q_http(k, "GET",
           genie_url(k->r, k->rec.genie_conv_id, k->rec.genie_msg_id, k->att_id, "/query-result"),
           NULL, result_ok, NULL);
}

static void poll_message(q *k);

static void on_message(q *k, const json_t *m, size_t len)
{
    const char *st = jstr(m, "status");
    snprintf(k->last_status, sizeof(k->last_status), "%s", st ? st : "");
    if (st && (strcmp(st, "COMPLETED") == 0 || strcmp(st, "QUERY_RESULT_EXPIRED") == 0)) {
        k->msg_bytes = (int64_t)len;
        k->rec.response_size = (int64_t)len;
        size_t i;
        const json_t *a;
        json_array_foreach(json_object_get(m, "attachments"), i, a)
        {
            const json_t *qa = json_object_get(a, "query");
            if (!qa)
                continue;
            const char *aid = jstr(a, "attachment_id");
            copy_id(k->att_id, sizeof(k->att_id), aid ? aid : jstr(qa, "id"));
            free(k->rec.sql);
            k->rec.sql = jstr(qa, "query") ? sl_xstrdup(jstr(qa, "query")) : NULL;
            copy_id(k->rec.stmt_id, sizeof(k->rec.stmt_id), jstr(qa, "statement_id"));
            break;
        }
        if (!k->att_id[0]) {
            finish_ok(k); /* a text answer */
            return;
        }
        k->poll_ms = k->r->o->poll_initial_ms;
        if (strcmp(st, "QUERY_RESULT_EXPIRED") == 0) {
            k->exec_tried = true;
            q_http(k, "POST",
                   genie_url(k->r, k->rec.genie_conv_id, k->rec.genie_msg_id, k->att_id,
                             "/execute-query"),
                   NULL, result_ok, NULL);
        } else {
            fetch_result(k);
        }
        return;
    }
    if (st && (strcmp(st, "FAILED") == 0 || strcmp(st, "CANCELLED") == 0)) {
        const json_t *e = json_object_get(m, "error");
        char msg[300];
        snprintf(msg, sizeof(msg), "Genie message %s: %s%s%s", st,
                 jstr(e, "type") ? jstr(e, "type") : "",
                 jstr(e, "type") && jstr(e, "error") ? ": " : "",
                 jstr(e, "error") ? jstr(e, "error") : "");
        finish_fail(k, SL_LT_GENIE_FAILED, msg);
        return;
    }
    schedule_poll(k, poll_message);
}

static void message_ok(q *k, json_t *j, size_t len)
{
    on_message(k, j, len);
}

static void poll_message(q *k)
{
    q_http(k, "GET", genie_url(k->r, k->rec.genie_conv_id, k->rec.genie_msg_id, NULL, NULL), NULL,
           message_ok, NULL);
}

static void posted(q *k, json_t *j, size_t len)
{
    const json_t *m = json_object_get(j, "message");
    if (!json_is_object(m))
        m = j; /* create-message answers with the GenieMessage itself */
    const char *conv = jstr(j, "conversation_id");
    if (!conv)
        conv = jstr(m, "conversation_id");
    if (!conv && k->conv_in[0])
        conv = k->conv_in;
    const char *mid = jstr(j, "message_id");
    if (!mid)
        mid = jstr(m, "message_id");
    if (!mid)
        mid = jstr(m, "id");
    if (!conv || !mid) {
        finish_fail(k, SL_LT_HTTP_ERROR, "Genie response without conversation_id/message_id");
        return;
    }
    copy_id(k->rec.genie_conv_id, sizeof(k->rec.genie_conv_id), conv);
    copy_id(k->rec.genie_msg_id, sizeof(k->rec.genie_msg_id), mid);
    k->poll_ms = k->r->o->poll_initial_ms;
    on_message(k, m, len);
}

static void live(q *k)
{
    k->hit = HIT_NONE;
    json_t *b = json_pack("{s:s}", "content", k->rec.prompt);
    char *body = sl_json_dumps(b);
    json_decref(b);
    char *url = k->conv_in[0] ? genie_url(k->r, k->conv_in, NULL, NULL, "/messages")
                              : genie_url(k->r, NULL, NULL, NULL, "/start-conversation");
    q_http(k, "POST", url, body, posted, NULL);
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
    char *id = pct(k->rec.stmt_id);
    char *url = sl_xasprintf("%s/api/2.0/sql/statements/%s", k->r->s->host, id);
    free(id);
    q_http(k, "GET", url, NULL, stmt_ok, reexec_err);
}

static void reexec(q *k)
{
    run *r = k->r;
    free(k->rec.sql);
    k->rec.sql = sl_xstrdup(k->cached_sql);
    k->poll_ms = r->o->poll_initial_ms;
    json_t *b = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "warehouse_id", r->warehouse,
                          "statement", k->cached_sql, "wait_timeout", "30s", "on_wait_timeout",
                          "CONTINUE", "disposition", "INLINE", "format", "JSON_ARRAY");
    char *body = sl_json_dumps(b);
    json_decref(b);
    q_http(k, "POST", sl_xasprintf("%s/api/2.0/sql/statements", r->s->host), body, stmt_ok,
           reexec_err);
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

/* data[i].embedding as floats, ordered by data[i].index; NULL when malformed. */
static float *vectors(const json_t *j, size_t n, size_t *dim)
{
    const json_t *data = json_object_get(j, "data");
    if (json_array_size(data) != n)
        return NULL;
    float *out = NULL;
    *dim = 0;
    size_t i;
    const json_t *d;
    json_array_foreach(data, i, d)
    {
        const json_t *idx = json_object_get(d, "index");
        size_t at = json_is_integer(idx) ? (size_t)json_integer_value(idx) : i;
        const json_t *e = json_object_get(d, "embedding");
        size_t m = json_array_size(e);
        if (at >= n || m == 0 || (*dim && m != *dim)) {
            free(out);
            return NULL;
        }
        if (!out) {
            *dim = m;
            out = sl_xcalloc(n * m, sizeof(float));
        }
        for (size_t k = 0; k < m; k++)
            out[at * m + k] = (float)json_number_value(json_array_get(e, k));
    }
    return out;
}

static void embed_ok(q *k, json_t *j, size_t len)
{
    (void)len;
    run *r = k->r;
    bool has_ctx = k->context && *k->context;
    size_t n = has_ctx ? 2 : 1, dim = 0;
    float *v = vectors(j, n, &dim);
    if (!v) {
        embed_err(k, SL_LT_HTTP_ERROR, "malformed embeddings response");
        return;
    }
    k->dim = dim;
    k->qv = sl_xmalloc(dim * sizeof(float));
    memcpy(k->qv, v, dim * sizeof(float));
    if (has_ctx) {
        k->cv = sl_xmalloc(dim * sizeof(float));
        memcpy(k->cv, v + dim, dim * sizeof(float));
    }
    free(v);
    sl_lt_cache_match m;
    sl_err err;
    sl_err_clear(&err);
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
    json_t *in = json_array();
    json_array_append_new(in, json_string(k->rec.prompt));
    if (k->context && *k->context)
        json_array_append_new(in, json_string(k->context));
    json_t *b = json_pack("{s:o}", "input", in);
    char *body = sl_json_dumps(b);
    json_decref(b);
    char *model = pct(r->o->cache.embedding_model);
    char *url = sl_xasprintf("%s/serving-endpoints/%s/invocations", r->s->host, model);
    free(model);
    q_http(k, "POST", url, body, embed_ok, embed_err);
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
        if (k->x) {
            lt_xfer_put(r->loop, k->x); /* aborts the transfer */
            k->x = NULL;
        }
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
    r->space_enc = pct(o->space_id);
    r->rng.s = o->seed ? o->seed : sl_rand_u64();
    r->res = result_new(o);
    r->res->schedule = sl_lt_schedule_describe(o);
    lt_raise_nofile();
    if ((rc = setup_cache(r, err)) != SL_OK)
        goto out;
    r->res->warehouse_id = r->warehouse ? sl_xstrdup(r->warehouse) : NULL;
    if ((rc = refresh_headers(r, err)) != SL_OK)
        goto out;
    lt_loop_opts lo = {
        .connect_timeout_ms = (long)r->s->connect_timeout_ms,
        .tls_verify = r->s->tls_verify,
        .user_agent = "sluice/" SL_VERSION " loadtest",
        .max_connections = (o->mode == SL_LT_MODE_SCENARIO ? o->workers : o->users) + 16,
    };
    if (!(r->loop = lt_loop_new(&lo, err))) {
        rc = err ? err->code : SL_EIO;
        goto out;
    }
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
        if (k->x && r->loop)
            lt_xfer_put(r->loop, k->x);
        free_transient(k);
        free(k->context);
        free(k->rec.sql);
        free(k->rec.error);
        free(k);
    }
    free(r->qs);
    free(r->users);
    lt_loop_free(r->loop);
    curl_slist_free_all(r->hdrs);
    for (size_t i = 0; i < r->n_old_hdrs; i++)
        curl_slist_free_all(r->old_hdrs[i]);
    free(r->old_hdrs);
    sl_secret_free(r->auth_line);
    free(r->space_enc);
    free(r->warehouse);
    sl_lt_cache_close(r->cache);
    return rc;
}
