/*
 * statements.c - SQL warehouses and the Statement Execution API. Statements run for real
 * on executor threads (sql_exec.c) and move PENDING -> RUNNING -> SUCCEEDED/FAILED/CANCELED
 * over --statement-latency. An execute call waits (its connection suspended, no thread held)
 * up to wait_timeout for a terminal state. Results stay in memory (bounded: the INLINE
 * 25 MiB limit per statement and a cap on retained statements) and are served in chunks
 * of --chunk-rows rows.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "emulator_int.h"

#define WAREHOUSE_ID      "emu0000000000001"
#define MAX_RETAINED      2000
#define INLINE_MAX_BYTES  (25u * 1024 * 1024)

enum { ST_PENDING, ST_RUNNING, ST_SUCCEEDED, ST_FAILED, ST_CANCELED, ST_CLOSED };
static const char *state_names[] = {"PENDING",  "RUNNING",  "SUCCEEDED",
                                    "FAILED",   "CANCELED", "CLOSED"};

struct emu_stmt {
    sl_emulator *emu;
    char id[40];
    int refs;        /* guarded by stmt_mu */
    bool registered; /* in emu->stmts and the retention list */
    char *sql, *catalog, *schema;
    json_t *params;
    int64_t row_limit;
    int fin;           /* outcome once executed: SUCCEEDED, FAILED or CANCELED */
    bool executed;
    bool canceled;     /* canceled by the API: visible state is CANCELED */
    atomic_bool cancel; /* asks a running execution to stop (polled by sql_*.c, no lock) */
    emu_result res;
    emu_err err;
    int64_t created_ms, latency_ms;
    emu_stmt *qnext;         /* executor queue */
    emu_stmt *onext, *oprev; /* retention order, oldest first */
};

/* ------------------------------------------------------------------ warehouses */

bool sl__emu_warehouse_exists(const char *id)
{
    return id && strcmp(id, WAREHOUSE_ID) == 0;
}

static json_t *warehouse_json(sl_emulator *emu)
{
    char *path = sl_xasprintf("/sql/1.0/warehouses/%s", WAREHOUSE_ID);
    char *jdbc = sl_xasprintf("jdbc:databricks://127.0.0.1:%d/default;transportMode=http;ssl=0;"
                              "AuthMech=3;httpPath=%s;",
                              emu->port, path);
    json_t *w = json_pack(
        "{s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:s, s:b, s:b, s:s, s:s, s:{s:s}, "
        "s:{s:s}, s:s, s:{s:s, s:s, s:i, s:s}, s:{s:[]}}",
        "id", WAREHOUSE_ID, "name", "Sluice Emulator Warehouse", "state", "RUNNING",
        "cluster_size", "2X-Small", "auto_stop_mins", 10, "min_num_clusters", 1,
        "max_num_clusters", 1, "num_clusters", 1, "num_active_sessions", 0, "creator_name",
        "emulator@sluice.local", "enable_photon", 1, "enable_serverless_compute", 1,
        "warehouse_type", "PRO", "spot_instance_policy", "COST_OPTIMIZED", "channel", "name",
        "CHANNEL_NAME_CURRENT", "health", "status", "HEALTHY", "jdbc_url", jdbc, "odbc_params",
        "hostname", "127.0.0.1", "path", path, "port", emu->port, "protocol", "http", "tags",
        "custom_tags");
    free(path);
    free(jdbc);
    return w;
}

emu_hr sl__emu_wh_list(emu_req *r)
{
    json_t *arr = json_array();
    json_array_append_new(arr, warehouse_json(sl__emu_req_emu(r)));
    return sl__emu_reply_json(r, 200, json_pack("{s:o}", "warehouses", arr));
}

emu_hr sl__emu_wh_get(emu_req *r)
{
    const char *id = sl__emu_req_param(r, 0);
    if (!sl__emu_warehouse_exists(id))
        return sl__emu_reply_error(r, 404, "RESOURCE_DOES_NOT_EXIST",
                                   "SQL warehouse %s does not exist.", id);
    return sl__emu_reply_json(r, 200, warehouse_json(sl__emu_req_emu(r)));
}

/* ------------------------------------------------------------------ registry */

static void stmt_free(emu_stmt *s)
{
    free(s->sql);
    free(s->catalog);
    free(s->schema);
    json_decref(s->params);
    sl__emu_result_free(&s->res);
    free(s);
}

/* Caller holds stmt_mu. */
static void put_locked(emu_stmt *s)
{
    if (--s->refs == 0)
        stmt_free(s);
}

void sl__emu_stmt_put(sl_emulator *emu, emu_stmt *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&emu->stmt_mu);
    put_locked(s);
    pthread_mutex_unlock(&emu->stmt_mu);
}

static bool terminal(int st)
{
    return st >= ST_SUCCEEDED;
}

/* The state a client sees: PENDING for the first half of the latency, RUNNING until the
 * latency has passed and the SQL has finished, then the outcome. Caller holds stmt_mu. */
static int visible(const emu_stmt *s, int64_t now)
{
    if (s->canceled)
        return ST_CANCELED;
    if (now < s->created_ms + s->latency_ms / 2)
        return ST_PENDING;
    if (!s->executed || now < s->created_ms + s->latency_ms)
        return ST_RUNNING;
    return s->fin;
}

/* Caller holds stmt_mu. */
static void unregister_locked(sl_emulator *emu, emu_stmt *s)
{
    sl__map_del(emu->stmts, s->id);
    if (s->oprev)
        s->oprev->onext = s->onext;
    else
        emu->order_head = s->onext;
    if (s->onext)
        s->onext->oprev = s->oprev;
    else
        emu->order_tail = s->oprev;
    s->registered = false;
    emu->n_stmts--;
    put_locked(s);
}

/* Caller holds stmt_mu. */
static void register_locked(sl_emulator *emu, emu_stmt *s)
{
    s->refs++;
    s->registered = true;
    sl__map_put(emu->stmts, s->id, s);
    s->oprev = emu->order_tail;
    if (emu->order_tail)
        emu->order_tail->onext = s;
    else
        emu->order_head = s;
    emu->order_tail = s;
    emu->n_stmts++;
    for (emu_stmt *o = emu->order_head; o && emu->n_stmts > MAX_RETAINED;) {
        emu_stmt *next = o->onext;
        if (terminal(visible(o, sl_now_ms())))
            unregister_locked(emu, o);
        o = next;
    }
}

static emu_stmt *stmt_new(sl_emulator *emu, const char *sql, const char *cat, const char *sch)
{
    emu_stmt *s = sl_xcalloc(1, sizeof(*s));
    s->emu = emu;
    sl_uuid_new(s->id);
    s->refs = 1;
    s->sql = sl_xstrdup(sql);
    s->catalog = cat ? sl_xstrdup(cat) : NULL;
    s->schema = sch ? sl_xstrdup(sch) : NULL;
    s->created_ms = sl_now_ms();
    return s;
}

/* New reference to a registered statement, or NULL. */
static emu_stmt *stmt_get(sl_emulator *emu, const char *id)
{
    pthread_mutex_lock(&emu->stmt_mu);
    emu_stmt *s = id ? sl__map_get(emu->stmts, id) : NULL;
    if (s)
        s->refs++;
    pthread_mutex_unlock(&emu->stmt_mu);
    return s;
}

const char *sl__emu_stmt_id(const emu_stmt *s)
{
    return s->id;
}

/* ------------------------------------------------------------------ execution */

static void run_sql(sl_emulator *emu, emu_stmt *s)
{
    emu_sql_ctx ctx = {
        .store = emu->store,
        .catalog = s->catalog,
        .schema = s->schema,
        .params = s->params,
        .row_limit = s->row_limit,
        .max_result_bytes = INLINE_MAX_BYTES,
        .canceled = &s->cancel,
    };
    emu_result res;
    emu_err e;
    bool ok = sl__emu_sql_run(&ctx, s->sql, &res, &e);
    pthread_mutex_lock(&emu->stmt_mu);
    if (ok) {
        s->res = res;
    } else {
        s->err = e;
    }
    s->fin = ok ? ST_SUCCEEDED : (e.kind == EMU_E_CANCELED ? ST_CANCELED : ST_FAILED);
    s->executed = true;
    pthread_mutex_unlock(&emu->stmt_mu);
}

/* Executors run statements as soon as they are free; the latency only shapes the state
 * clients see (visible()), so a slow --statement-latency never ties up a thread. */
static void *exec_main(void *arg)
{
    sl_emulator *emu = arg;
    pthread_mutex_lock(&emu->stmt_mu);
    while (!emu->exec_quit) {
        emu_stmt *s = emu->queue_head;
        if (!s) {
            pthread_cond_wait(&emu->stmt_cv, &emu->stmt_mu);
            continue;
        }
        emu->queue_head = s->qnext;
        if (!emu->queue_head)
            emu->queue_tail = NULL;
        if (atomic_load(&s->cancel)) {
            s->fin = ST_CANCELED;
            s->executed = true;
        } else {
            pthread_mutex_unlock(&emu->stmt_mu);
            run_sql(emu, s);
            pthread_mutex_lock(&emu->stmt_mu);
        }
        pthread_mutex_unlock(&emu->stmt_mu);
        sl__emu_wake(emu, s);
        pthread_mutex_lock(&emu->stmt_mu);
        put_locked(s); /* the queue's reference */
    }
    pthread_mutex_unlock(&emu->stmt_mu);
    return NULL;
}

bool sl__emu_stmts_start(sl_emulator *emu, char *errbuf, size_t errlen)
{
    int n = (int)(sizeof(emu->exec_threads) / sizeof(emu->exec_threads[0]));
    for (int k = 0; k < n; k++) {
        if (pthread_create(&emu->exec_threads[k], NULL, exec_main, emu) != 0) {
            snprintf(errbuf, errlen, "cannot start statement executors");
            return false;
        }
        emu->n_exec++;
    }
    return true;
}

void sl__emu_stmts_stop(sl_emulator *emu)
{
    pthread_mutex_lock(&emu->stmt_mu);
    emu->exec_quit = true;
    for (emu_stmt *s = emu->order_head; s; s = s->onext)
        atomic_store(&s->cancel, true);
    pthread_cond_broadcast(&emu->stmt_cv);
    pthread_mutex_unlock(&emu->stmt_mu);
    for (int k = 0; k < emu->n_exec; k++)
        pthread_join(emu->exec_threads[k], NULL);
    emu->n_exec = 0;
    pthread_mutex_lock(&emu->stmt_mu);
    while (emu->queue_head) {
        emu_stmt *s = emu->queue_head;
        emu->queue_head = s->qnext;
        put_locked(s);
    }
    emu->queue_tail = NULL;
    while (emu->order_head)
        unregister_locked(emu, emu->order_head);
    pthread_mutex_unlock(&emu->stmt_mu);
    sl__map_free(emu->stmts, NULL);
    emu->stmts = NULL;
}

emu_stmt *sl__emu_stmt_run_sync(sl_emulator *emu, const char *sql, const char *catalog,
                                const char *schema)
{
    emu_stmt *s = stmt_new(emu, sql, catalog, schema);
    sl__emu_stats_statement(emu, s->id, sql);
    run_sql(emu, s);
    pthread_mutex_lock(&emu->stmt_mu);
    register_locked(emu, s);
    pthread_mutex_unlock(&emu->stmt_mu);
    return s;
}

bool sl__emu_stmt_outcome(sl_emulator *emu, emu_stmt *s, int64_t *rows, emu_err *e)
{
    pthread_mutex_lock(&emu->stmt_mu);
    bool ok = s->executed && s->fin == ST_SUCCEEDED;
    if (ok)
        *rows = (int64_t)s->res.n_rows;
    else
        *e = s->err;
    pthread_mutex_unlock(&emu->stmt_mu);
    return ok;
}

/* ------------------------------------------------------------------ JSON */

static int chunk_count(sl_emulator *emu, const emu_stmt *s)
{
    size_t per = (size_t)emu->opts.chunk_rows;
    size_t n = (s->res.n_rows + per - 1) / per;
    return n ? (int)n : 1;
}

static json_int_t chunk_bytes(const emu_stmt *s, size_t from, size_t to)
{
    json_int_t b = 0;
    for (size_t i = from * (size_t)s->res.n_cols; i < to * (size_t)s->res.n_cols; i++)
        b += s->res.cells[i] ? (json_int_t)strlen(s->res.cells[i]) + 3 : 5;
    return b;
}

static json_t *chunk_json(sl_emulator *emu, const emu_stmt *s, int idx)
{
    size_t per = (size_t)emu->opts.chunk_rows;
    size_t from = (size_t)idx * per, to = from + per;
    if (to > s->res.n_rows)
        to = s->res.n_rows;
    if (from > to)
        from = to;
    json_t *c = json_pack("{s:i, s:I, s:I, s:I}", "chunk_index", idx, "row_offset",
                          (json_int_t)from, "row_count", (json_int_t)(to - from), "byte_count",
                          chunk_bytes(s, from, to));
    if (to > from) {
        json_t *rows = json_array();
        for (size_t i = from; i < to; i++) {
            json_t *row = json_array();
            for (int k = 0; k < s->res.n_cols; k++) {
                const char *v = s->res.cells[i * (size_t)s->res.n_cols + (size_t)k];
                json_array_append_new(row, v ? json_string(v) : json_null());
            }
            json_array_append_new(rows, row);
        }
        json_object_set_new(c, "data_array", rows);
    }
    if (idx + 1 < chunk_count(emu, s)) {
        char link[160];
        snprintf(link, sizeof(link), "/api/2.0/sql/statements/%s/result/chunks/%d", s->id,
                 idx + 1);
        json_object_set_new(c, "next_chunk_index", json_integer(idx + 1));
        json_object_set_new(c, "next_chunk_internal_link", json_string(link));
    }
    return c;
}

static json_t *manifest_json(sl_emulator *emu, const emu_stmt *s)
{
    json_t *cols = json_array();
    for (int k = 0; k < s->res.n_cols; k++)
        json_array_append_new(cols, json_pack("{s:s, s:s, s:s, s:i}", "name",
                                               s->res.cols[k].name, "type_name",
                                               sl__emu_type_name(s->res.cols[k].type),
                                               "type_text",
                                               sl__emu_type_text(s->res.cols[k].type),
                                               "position", k));
    json_t *chunks = json_array();
    int nc = chunk_count(emu, s);
    size_t per = (size_t)emu->opts.chunk_rows;
    json_int_t total_bytes = 0;
    for (int i = 0; i < nc; i++) {
        size_t from = (size_t)i * per, to = from + per > s->res.n_rows ? s->res.n_rows : from + per;
        json_int_t b = chunk_bytes(s, from, to);
        total_bytes += b;
        json_array_append_new(chunks, json_pack("{s:i, s:I, s:I, s:I}", "chunk_index", i,
                                                "row_offset", (json_int_t)from, "row_count",
                                                (json_int_t)(to - from), "byte_count", b));
    }
    return json_pack("{s:s, s:{s:i, s:o}, s:I, s:I, s:i, s:o, s:b}", "format", "JSON_ARRAY",
                     "schema", "column_count", s->res.n_cols, "columns", cols, "total_row_count",
                     (json_int_t)s->res.n_rows, "total_byte_count", total_bytes,
                     "total_chunk_count", nc, "chunks", chunks, "truncated", s->res.truncated);
}

/* Caller holds stmt_mu. */
static json_t *response_locked(sl_emulator *emu, const emu_stmt *s, bool closed)
{
    int st = closed ? ST_CLOSED : visible(s, sl_now_ms());
    json_t *status = json_pack("{s:s}", "state", state_names[st]);
    if (st == ST_FAILED) {
        char msg[700];
        snprintf(msg, sizeof(msg), "[%s] %s SQLSTATE: %s", s->err.cls, s->err.msg,
                 s->err.sqlstate);
        json_object_set_new(status, "error",
                            json_pack("{s:s, s:s}", "error_code",
                                      s->err.error_code[0] ? s->err.error_code : "BAD_REQUEST",
                                      "message", msg));
        json_object_set_new(status, "sql_state", json_string(s->err.sqlstate));
    }
    json_t *o = json_pack("{s:s, s:o}", "statement_id", s->id, "status", status);
    if (st == ST_SUCCEEDED) {
        json_object_set_new(o, "manifest", manifest_json(emu, s));
        json_object_set_new(o, "result", chunk_json(emu, s, 0));
    }
    return o;
}

json_t *sl__emu_stmt_response(sl_emulator *emu, const char *id, bool closed)
{
    emu_stmt *s = stmt_get(emu, id);
    if (!s)
        return NULL;
    pthread_mutex_lock(&emu->stmt_mu);
    json_t *o = response_locked(emu, s, closed);
    put_locked(s);
    pthread_mutex_unlock(&emu->stmt_mu);
    return o;
}

static emu_hr reply_stmt(emu_req *r, emu_stmt *s)
{
    sl_emulator *emu = sl__emu_req_emu(r);
    pthread_mutex_lock(&emu->stmt_mu);
    json_t *o = response_locked(emu, s, false);
    pthread_mutex_unlock(&emu->stmt_mu);
    return sl__emu_reply_json(r, 200, o);
}

/* ------------------------------------------------------------------ handlers */

typedef struct wait_slot {
    sl_emulator *emu;
    emu_stmt *s;
    int64_t deadline_ms;
    bool cancel_on_timeout;
} wait_slot;

static void wait_slot_free(void *p)
{
    wait_slot *w = p;
    sl__emu_stmt_put(w->emu, w->s);
    free(w);
}

/* Called with susp_mu held (susp_mu -> stmt_mu is the lock order). */
static bool not_terminal(const void *key)
{
    const emu_stmt *s = key;
    pthread_mutex_lock(&s->emu->stmt_mu);
    bool r = !terminal(visible(s, sl_now_ms()));
    pthread_mutex_unlock(&s->emu->stmt_mu);
    return r;
}

static bool parse_wait(const char *s, int64_t *secs)
{
    size_t n = strlen(s);
    if (n < 2 || s[n - 1] != 's')
        return false;
    for (size_t i = 0; i + 1 < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    *secs = strtoll(s, NULL, 10);
    return *secs == 0 || (*secs >= 5 && *secs <= 50);
}

static void cancel_stmt(sl_emulator *emu, emu_stmt *s)
{
    pthread_mutex_lock(&emu->stmt_mu);
    bool changed = !terminal(visible(s, sl_now_ms()));
    if (changed) {
        atomic_store(&s->cancel, true);
        s->canceled = true;
    }
    pthread_mutex_unlock(&emu->stmt_mu);
    if (changed)
        sl__emu_wake(emu, s);
}

static emu_hr execute_resume(emu_req *r, wait_slot *w)
{
    for (;;) {
        int64_t now = sl_now_ms();
        pthread_mutex_lock(&w->emu->stmt_mu);
        int st = visible(w->s, now);
        int64_t ready_at = w->s->created_ms + w->s->latency_ms;
        pthread_mutex_unlock(&w->emu->stmt_mu);
        if (terminal(st) || now >= w->deadline_ms) {
            if (!terminal(st) && w->cancel_on_timeout)
                cancel_stmt(w->emu, w->s);
            return reply_stmt(r, w->s);
        }
        /* Wake at the deadline, when the latency has passed, or when the SQL finishes. */
        int64_t until = ready_at > now && ready_at < w->deadline_ms ? ready_at : w->deadline_ms;
        if (sl__emu_suspend(r, until, w->s, not_terminal))
            return EMU_HR_SUSPENDED;
        if (sl__emu_is_stopping(sl__emu_req_emu(r)))
            return reply_stmt(r, w->s);
    }
}

static const char *opt_str(emu_req *r, json_t *body, const char *key, bool *bad)
{
    json_t *v = json_object_get(body, key);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE", "Field '%s' must be a string.",
                            key);
        *bad = true;
        return NULL;
    }
    return json_string_value(v);
}

static bool check_params(emu_req *r, json_t *params)
{
    if (!params || json_is_null(params))
        return true;
    if (!json_is_array(params)) {
        sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE", "parameters must be an array.");
        return false;
    }
    size_t i;
    json_t *p;
    json_array_foreach(params, i, p)
    {
        if (!json_is_object(p) || !json_is_string(json_object_get(p, "name"))) {
            sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                                "parameters[%zu] must be an object with a string 'name'.", i);
            return false;
        }
    }
    return true;
}

emu_hr sl__emu_stmt_execute(emu_req *r)
{
    sl_emulator *emu = sl__emu_req_emu(r);
    wait_slot **slot = (wait_slot **)sl__emu_req_slot(r);
    if (*slot)
        return execute_resume(r, *slot);
    json_t *body = sl__emu_req_json(r);
    if (!body)
        return EMU_HR_DONE;
    bool bad = false;
    const char *sql = opt_str(r, body, "statement", &bad);
    const char *wh = opt_str(r, body, "warehouse_id", &bad);
    const char *wait = opt_str(r, body, "wait_timeout", &bad);
    const char *onwait = opt_str(r, body, "on_wait_timeout", &bad);
    const char *disp = opt_str(r, body, "disposition", &bad);
    const char *fmt = opt_str(r, body, "format", &bad);
    const char *cat = opt_str(r, body, "catalog", &bad);
    const char *sch = opt_str(r, body, "schema", &bad);
    if (bad)
        return EMU_HR_DONE;
    json_t *params = json_object_get(body, "parameters");
    json_t *rl = json_object_get(body, "row_limit");
    int64_t wait_s = 10;
    if (!sql || !*sql)
        return sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                                   "Field 'statement' is required.");
    if (!wh || !*wh)
        return sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                                   "Field 'warehouse_id' is required.");
    if (wait && !parse_wait(wait, &wait_s))
        return sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                                   "wait_timeout must be 0s or between 5s and 50s, got '%s'.",
                                   wait);
    if (onwait && strcmp(onwait, "CONTINUE") != 0 && strcmp(onwait, "CANCEL") != 0)
        return sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                                   "on_wait_timeout must be CONTINUE or CANCEL.");
    if (disp && strcmp(disp, "EXTERNAL_LINKS") == 0)
        return sl__emu_reply_error(r, 501, "NOT_IMPLEMENTED",
                                   "disposition EXTERNAL_LINKS is not supported by the Sluice "
                                   "emulator; use INLINE.");
    if (disp && strcmp(disp, "INLINE") != 0)
        return sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                                   "disposition must be INLINE or EXTERNAL_LINKS.");
    if (fmt && strcmp(fmt, "JSON_ARRAY") != 0)
        return sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                                   "format %s is only supported with disposition EXTERNAL_LINKS; "
                                   "use JSON_ARRAY with INLINE.",
                                   fmt);
    if (rl && !json_is_null(rl) && (!json_is_integer(rl) || json_integer_value(rl) < 0))
        return sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                                   "row_limit must be a non-negative integer.");
    if (!check_params(r, params))
        return EMU_HR_DONE;
    if (!sl__emu_warehouse_exists(wh))
        return sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                                   "Warehouse %s does not exist. Check the warehouse_id.", wh);
    emu_stmt *s = stmt_new(emu, sql, cat, sch);
    s->params = params && json_is_array(params) ? json_incref(params) : NULL;
    s->row_limit = rl && json_is_integer(rl) ? json_integer_value(rl) : 0;
    s->latency_ms = emu->opts.statement_latency_ms;
    sl__emu_stats_statement(emu, s->id, sql);
    pthread_mutex_lock(&emu->stmt_mu);
    register_locked(emu, s);
    s->refs++; /* the queue's */
    if (emu->queue_tail)
        emu->queue_tail->qnext = s;
    else
        emu->queue_head = s;
    emu->queue_tail = s;
    pthread_cond_broadcast(&emu->stmt_cv);
    pthread_mutex_unlock(&emu->stmt_mu);
    wait_slot *w = sl_xcalloc(1, sizeof(*w));
    w->emu = emu;
    w->s = s; /* stmt_new's reference */
    w->deadline_ms = sl_now_ms() + wait_s * 1000;
    w->cancel_on_timeout = onwait && strcmp(onwait, "CANCEL") == 0;
    *slot = w;
    sl__emu_req_set_slot_free(r, wait_slot_free);
    if (wait_s == 0)
        return reply_stmt(r, s);
    return execute_resume(r, w);
}

static emu_stmt *get_or_404(emu_req *r)
{
    const char *id = sl__emu_req_param(r, 0);
    emu_stmt *s = stmt_get(sl__emu_req_emu(r), id);
    if (!s)
        sl__emu_reply_error(r, 404, "RESOURCE_DOES_NOT_EXIST",
                            "Statement %s does not exist or its result has expired.", id);
    return s;
}

emu_hr sl__emu_stmt_get(emu_req *r)
{
    emu_stmt *s = get_or_404(r);
    if (!s)
        return EMU_HR_DONE;
    emu_hr hr = reply_stmt(r, s);
    sl__emu_stmt_put(sl__emu_req_emu(r), s);
    return hr;
}

emu_hr sl__emu_stmt_chunk(emu_req *r)
{
    sl_emulator *emu = sl__emu_req_emu(r);
    emu_stmt *s = get_or_404(r);
    if (!s)
        return EMU_HR_DONE;
    const char *n = sl__emu_req_param(r, 1);
    char *end;
    long idx = strtol(n, &end, 10);
    emu_hr hr;
    pthread_mutex_lock(&emu->stmt_mu);
    int vis = visible(s, sl_now_ms());
    if (vis != ST_SUCCEEDED) {
        pthread_mutex_unlock(&emu->stmt_mu);
        hr = sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                                 "Statement %s is %s; results are only available once it has "
                                 "SUCCEEDED.",
                                 s->id, state_names[vis]);
    } else if (*end || idx < 0 || idx >= chunk_count(emu, s)) {
        pthread_mutex_unlock(&emu->stmt_mu);
        hr = sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                                 "chunk_index %s is out of range.", n);
    } else {
        json_t *c = chunk_json(emu, s, (int)idx);
        pthread_mutex_unlock(&emu->stmt_mu);
        hr = sl__emu_reply_json(r, 200, c);
    }
    sl__emu_stmt_put(emu, s);
    return hr;
}

emu_hr sl__emu_stmt_cancel(emu_req *r)
{
    emu_stmt *s = get_or_404(r);
    if (!s)
        return EMU_HR_DONE;
    cancel_stmt(sl__emu_req_emu(r), s);
    sl__emu_stmt_put(sl__emu_req_emu(r), s);
    return sl__emu_reply_json(r, 200, json_object());
}
