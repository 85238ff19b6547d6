/*
 * http.c - the emulator's HTTP side: libmicrohttpd in poll thread-pool mode, the route
 * table, the per-request state machine, faults, auth, and suspension of connections whose
 * response must wait (statement wait_timeout, injected latency, /_emulator/stall).
 *
 * A request goes through MHD's access handler several times:
 *   first call    match the route, count it, draw faults, check auth, open an upload
 *   body calls    append the body (bounded) or stream it to the upload file
 *   final call    hold for latency/stall, run the handler, hold again if a stall began,
 *                 queue the response
 * A handler that must wait suspends the connection (sl__emu_suspend); the timer thread or
 * sl__emu_wake resumes it and the final call runs again. Replies are prepared first and
 * queued only by the final call, so every response passes the same hold and stats code.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emulator_int.h"

#define MAX_BODY       (17u * 1024 * 1024) /* statements may be 16 MiB */
#define MAX_PARAMS     5
#define LISTEN_BACKLOG 4096

enum { R_NOAUTH = 1, R_CONTROL = 2, R_PREFIX = 4, R_UPLOAD = 8 };

struct route {
    const char *method;
    const char *pattern;
    emu_handler fn;
    unsigned flags;
};

#define G "/api/2.0/genie/spaces/{space}"
#define C G "/conversations/{conv}"
#define M C "/messages/{msg}"
static const struct route routes[] = {
    {"GET", "/_emulator/stats", sl__emu_ctl_stats, R_NOAUTH | R_CONTROL},
    {"POST", "/_emulator/reset-stats", sl__emu_ctl_reset_stats, R_NOAUTH | R_CONTROL},
    {"POST", "/_emulator/faults", sl__emu_ctl_faults, R_NOAUTH | R_CONTROL},
    {"POST", "/_emulator/stall", sl__emu_ctl_stall, R_NOAUTH | R_CONTROL},
    {"POST", "/_emulator/genie-rate", sl__emu_ctl_genie_rate, R_NOAUTH | R_CONTROL},
    {"POST", "/_emulator/expire-tokens", sl__emu_ctl_expire_tokens, R_NOAUTH | R_CONTROL},
    {"POST", "/oidc/v1/token", sl__emu_oauth_token, R_NOAUTH},
    {"GET", "/oidc/.well-known/oauth-authorization-server", sl__emu_oauth_discovery, R_NOAUTH},
    {"GET", "/api/2.0/sql/warehouses", sl__emu_wh_list, 0},
    {"GET", "/api/2.0/sql/warehouses/{id}", sl__emu_wh_get, 0},
    {"POST", "/api/2.0/sql/statements", sl__emu_stmt_execute, 0},
    {"POST", "/api/2.0/sql/statements/", sl__emu_stmt_execute, 0},
    {"GET", "/api/2.0/sql/statements/{id}", sl__emu_stmt_get, 0},
    {"GET", "/api/2.0/sql/statements/{id}/result/chunks/{n}", sl__emu_stmt_chunk, 0},
    {"POST", "/api/2.0/sql/statements/{id}/cancel", sl__emu_stmt_cancel, 0},
    {"PUT", "/api/2.0/fs/files{path}", sl__emu_files_put, R_PREFIX | R_UPLOAD},
    {"GET", "/api/2.0/fs/files{path}", sl__emu_files_get, R_PREFIX},
    {"HEAD", "/api/2.0/fs/files{path}", sl__emu_files_get, R_PREFIX},
    {"DELETE", "/api/2.0/fs/files{path}", sl__emu_files_delete, R_PREFIX},
    {"PUT", "/api/2.0/fs/directories{path}", sl__emu_dirs_put, R_PREFIX},
    {"GET", "/api/2.0/fs/directories{path}", sl__emu_dirs_get, R_PREFIX},
    {"HEAD", "/api/2.0/fs/directories{path}", sl__emu_dirs_head, R_PREFIX},
    {"DELETE", "/api/2.0/fs/directories{path}", sl__emu_dirs_delete, R_PREFIX},
    {"POST", "/api/2.1/unity-catalog/catalogs", sl__emu_uc_catalog_post, 0},
    {"GET", "/api/2.1/unity-catalog/catalogs/{name}", sl__emu_uc_catalog_get_h, 0},
    {"DELETE", "/api/2.1/unity-catalog/catalogs/{name}", sl__emu_uc_catalog_delete_h, 0},
    {"POST", "/api/2.1/unity-catalog/schemas", sl__emu_uc_schema_post, 0},
    {"GET", "/api/2.1/unity-catalog/schemas/{name}", sl__emu_uc_schema_get_h, 0},
    {"DELETE", "/api/2.1/unity-catalog/schemas/{name}", sl__emu_uc_schema_delete_h, 0},
    {"POST", "/api/2.1/unity-catalog/volumes", sl__emu_uc_volume_post, 0},
    {"GET", "/api/2.1/unity-catalog/volumes/{name}", sl__emu_uc_volume_get_h, 0},
    {"DELETE", "/api/2.1/unity-catalog/volumes/{name}", sl__emu_uc_volume_delete_h, 0},
    {"GET", "/api/2.1/unity-catalog/tables/{name}", sl__emu_uc_table_get_h, 0},
    {"GET", "/api/2.1/unity-catalog/tables/{name}/exists", sl__emu_uc_table_exists_h, 0},
    {"DELETE", "/api/2.1/unity-catalog/tables/{name}", sl__emu_uc_table_delete_h, 0},
    {"GET", "/api/2.0/genie/spaces", sl__emu_genie_spaces, 0},
    {"GET", G, sl__emu_genie_space, 0},
    {"POST", G "/start-conversation", sl__emu_genie_start_conv, 0},
    {"GET", G "/conversations", sl__emu_genie_list_convs, 0},
    {"DELETE", C, sl__emu_genie_delete_conv, 0},
    {"POST", C "/messages", sl__emu_genie_create_msg, 0},
    {"GET", C "/messages", sl__emu_genie_list_msgs, 0},
    {"GET", M, sl__emu_genie_get_msg, 0},
    {"GET", M "/attachments/{att}/query-result", sl__emu_genie_query_result, 0},
    {"POST", M "/attachments/{att}/execute-query", sl__emu_genie_execute_query, 0},
    {"GET", M "/query-result/{att}", sl__emu_genie_query_result, 0},
    {"POST", "/serving-endpoints/{name}/invocations", sl__emu_serving_invoke, 0},
    {"GET", "/api/2.0/mlflow/experiments/get-by-name", sl__emu_ml_exp_get_by_name, 0},
    {"GET", "/api/2.0/mlflow/experiments/get", sl__emu_ml_exp_get, 0},
    {"POST", "/api/2.0/mlflow/experiments/create", sl__emu_ml_exp_create, 0},
    {"POST", "/api/2.0/mlflow/runs/create", sl__emu_ml_run_create, 0},
    {"POST", "/api/2.0/mlflow/runs/update", sl__emu_ml_run_update, 0},
    {"GET", "/api/2.0/mlflow/runs/get", sl__emu_ml_run_get, 0},
    {"POST", "/api/2.0/mlflow/runs/search", sl__emu_ml_run_search, 0},
    {"POST", "/api/2.0/mlflow/runs/log-metric", sl__emu_ml_log_metric, 0},
    {"POST", "/api/2.0/mlflow/runs/log-parameter", sl__emu_ml_log_param, 0},
    {"POST", "/api/2.0/mlflow/runs/set-tag", sl__emu_ml_set_tag, 0},
    {"POST", "/api/2.0/mlflow/runs/log-batch", sl__emu_ml_log_batch, 0},
};
#undef G
#undef C
#undef M
#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

struct emu_req {
    sl_emulator *emu;
    struct MHD_Connection *conn;
    char method[12];
    char *path; /* decoded */
    const struct route *route;
    char *params[MAX_PARAMS];
    char route_key[160];
    bool control;
    /* body */
    sl_buf body;
    bool body_too_big;
    bool upload_active;
    emu_upload up;
    json_t *json;
    /* flow */
    bool hold_done;
    int64_t fault_latency_ms;
    struct MHD_Response *pending;
    int pending_status;
    /* suspension (guarded by emu->susp_mu) */
    bool suspended;
    int64_t deadline_ms;
    const void *key;
    emu_req *next;
    /* handler scratch */
    void *slot;
    void (*slot_free)(void *);
    sl__map *query;
};

/* ------------------------------------------------------------------ accessors */

const char *sl__emu_req_method(const emu_req *r)
{
    return r->method;
}

const char *sl__emu_req_path(const emu_req *r)
{
    return r->path;
}

const char *sl__emu_req_param(const emu_req *r, int i)
{
    return i >= 0 && i < MAX_PARAMS ? r->params[i] : NULL;
}

sl_emulator *sl__emu_req_emu(const emu_req *r)
{
    return r->emu;
}

struct MHD_Connection *sl__emu_req_conn(const emu_req *r)
{
    return r->conn;
}

void **sl__emu_req_slot(emu_req *r)
{
    return &r->slot;
}

void sl__emu_req_set_slot_free(emu_req *r, void (*fn)(void *))
{
    r->slot_free = fn;
}

emu_upload *sl__emu_req_upload(emu_req *r)
{
    return &r->up;
}

const char *sl__emu_req_header(emu_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *sl__emu_req_query(emu_req *r, const char *name)
{
    if (r->query) {
        const char *v = sl__map_get(r->query, name);
        if (v)
            return v;
    }
    const char *raw = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
    if (!raw)
        return NULL;
    char *dec = sl__pct_decode(raw, strlen(raw), true, NULL);
    if (!dec)
        dec = sl_xstrdup(raw);
    if (!r->query)
        r->query = sl__map_new();
    free(sl__map_del(r->query, name));
    sl__map_put(r->query, name, dec);
    return dec;
}

const char *sl__emu_req_body(const emu_req *r, size_t *len)
{
    if (len)
        *len = r->body.len;
    return sl_buf_str(&r->body);
}

json_t *sl__emu_req_json(emu_req *r)
{
    if (r->json)
        return r->json;
    if (r->body.len == 0) {
        r->json = sl_json_check(json_object());
        return r->json;
    }
    json_error_t je;
    memset(&je, 0, sizeof(je));
    json_t *j = json_loadb(sl_buf_str(&r->body), r->body.len, JSON_REJECT_DUPLICATES, &je);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        sl__emu_reply_error(r, 400, "MALFORMED_REQUEST",
                            j ? "Invalid JSON given in the body of the request - expected a map"
                              : "Could not parse request object: %s (line %d column %d)",
                            je.text, je.line, je.column);
        return NULL;
    }
    r->json = j;
    return j;
}

/* ------------------------------------------------------------------ replies */

emu_hr sl__emu_reply(emu_req *r, int status, struct MHD_Response *resp)
{
    if (r->pending)
        MHD_destroy_response(r->pending);
    r->pending = resp;
    r->pending_status = status;
    return EMU_HR_DONE;
}

void sl__emu_reply_header(emu_req *r, const char *name, const char *value)
{
    if (r->pending)
        MHD_add_response_header(r->pending, name, value);
}

emu_hr sl__emu_reply_json(emu_req *r, int status, json_t *body_take)
{
    char *s = sl_json_dumps(body_take);
    json_decref(body_take);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
    if (!resp)
        abort();
    MHD_add_response_header(resp, "Content-Type", "application/json");
    return sl__emu_reply(r, status, resp);
}

emu_hr sl__emu_reply_error(emu_req *r, int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return sl__emu_reply_json(r, status, json_pack("{s:s, s:s}", "error_code", code, "message",
                                                   msg));
}

emu_hr sl__emu_reply_emu_err(emu_req *r, const emu_err *e)
{
    const char *code = e->error_code[0] ? e->error_code : "INVALID_PARAMETER_VALUE";
    return sl__emu_reply_error(r, sl__emu_err_http(e), code, "%s", e->msg);
}

/* Delay-seconds; 0 is valid ("retry at once") and is what retry_after=0 asks for. */
static void add_retry_after(struct MHD_Response *resp, int64_t secs)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", (long long)(secs < 0 ? 0 : secs));
    MHD_add_response_header(resp, "Retry-After", buf);
}

/* ------------------------------------------------------------------ suspension */

bool sl__emu_suspend(emu_req *r, int64_t deadline_ms, const void *key,
                     bool (*still_wait)(const void *key))
{
    sl_emulator *emu = r->emu;
    pthread_mutex_lock(&emu->susp_mu);
    if (emu->stopping || (still_wait && !still_wait(key))) {
        pthread_mutex_unlock(&emu->susp_mu);
        return false;
    }
    r->suspended = true;
    r->deadline_ms = deadline_ms;
    r->key = key;
    r->next = emu->susp_head;
    emu->susp_head = r;
    MHD_suspend_connection(r->conn);
    pthread_cond_signal(&emu->susp_cv);
    pthread_mutex_unlock(&emu->susp_mu);
    return true;
}

/* Unlink every suspended request matching (key or due); caller holds susp_mu. */
static emu_req *collect(sl_emulator *emu, const void *key, bool all, int64_t now)
{
    emu_req *out = NULL, **pp = &emu->susp_head;
    while (*pp) {
        emu_req *r = *pp;
        bool take = all || (key && r->key == key) || (!key && r->deadline_ms <= now);
        if (take) {
            *pp = r->next;
            r->suspended = false;
            r->next = out;
            out = r;
        } else {
            pp = &r->next;
        }
    }
    return out;
}

static void resume_list(emu_req *list)
{
    while (list) {
        emu_req *next = list->next;
        list->next = NULL;
        MHD_resume_connection(list->conn);
        list = next;
    }
}

void sl__emu_wake(sl_emulator *emu, const void *key)
{
    pthread_mutex_lock(&emu->susp_mu);
    emu_req *list = collect(emu, key, false, 0);
    pthread_mutex_unlock(&emu->susp_mu);
    resume_list(list);
}

bool sl__emu_is_stopping(sl_emulator *emu)
{
    pthread_mutex_lock(&emu->susp_mu);
    bool stopping = emu->stopping;
    pthread_mutex_unlock(&emu->susp_mu);
    return stopping;
}

static void *timer_main(void *arg)
{
    sl_emulator *emu = arg;
    pthread_mutex_lock(&emu->susp_mu);
    while (!emu->stopping) {
        int64_t now = sl_now_ms(), next = now + 1000;
        emu_req *due = collect(emu, NULL, false, now);
        if (due) {
            pthread_mutex_unlock(&emu->susp_mu);
            resume_list(due);
            pthread_mutex_lock(&emu->susp_mu);
            continue;
        }
        for (emu_req *r = emu->susp_head; r; r = r->next)
            if (r->deadline_ms < next)
                next = r->deadline_ms;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wait_ms = next - now;
        ts.tv_sec += wait_ms / 1000;
        ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&emu->susp_cv, &emu->susp_mu, &ts);
    }
    pthread_mutex_unlock(&emu->susp_mu);
    return NULL;
}

/* ------------------------------------------------------------------ routing */

/* Match url (raw, not decoded) against a pattern; fills decoded params. */
static bool match(const struct route *rt, const char *url, char **params)
{
    const char *pat = rt->pattern, *u = url;
    int np = 0;
    while (*pat) {
        if (*pat == '{') {
            const char *close = strchr(pat, '}');
            if (rt->flags & R_PREFIX && close[1] == '\0') {
                /* Rest of the path, starting at '/'. */
                if (*u != '/')
                    goto no;
                size_t len;
                char *dec = sl__pct_decode(u, strlen(u), false, &len);
                if (!dec)
                    goto no;
                if (len != strlen(dec)) { /* %00 */
                    free(dec);
                    dec = sl_xstrdup("\x01nul");
                }
                params[np++] = dec;
                return true;
            }
            const char *end = strchr(u, '/');
            size_t n = end ? (size_t)(end - u) : strlen(u);
            if (n == 0)
                goto no;
            size_t len;
            char *dec = sl__pct_decode(u, n, false, &len);
            if (!dec)
                goto no;
            params[np++] = dec;
            u += n;
            pat = close + 1;
            continue;
        }
        if (*pat != *u)
            goto no;
        pat++;
        u++;
    }
    if (*u == '\0')
        return true;
no:
    for (int k = 0; k < np; k++) {
        free(params[k]);
        params[k] = NULL;
    }
    return false;
}

static bool is_loopback(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return false;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return false;
}

static void fault_reply(emu_req *r, const emu_fault_decision *d)
{
    static const struct {
        int status;
        const char *code, *msg;
    } kinds[] = {
        {429, "REQUEST_LIMIT_EXCEEDED", "Too many requests. Please wait and retry (injected)."},
        {500, "INTERNAL_ERROR", "Internal error (injected by the emulator)."},
        {502, "BAD_GATEWAY", "Bad gateway (injected by the emulator)."},
        {503, "TEMPORARILY_UNAVAILABLE", "The service is temporarily unavailable (injected)."},
        {504, "DEADLINE_EXCEEDED", "Gateway timeout (injected by the emulator)."},
    };
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        if (kinds[k].status != d->status)
            continue;
        sl__emu_reply_error(r, d->status, kinds[k].code, "%s", kinds[k].msg);
        if (d->status == 429 || d->status == 503)
            add_retry_after(r->pending, d->retry_after_s);
    }
    char kind[8];
    snprintf(kind, sizeof(kind), "%d", d->status);
    sl__emu_stats_fault(r->emu, kind);
}

/* First call: route, stats, faults, auth, upload set-up. false = drop the connection. */
static bool first_call(emu_req *r, const char *url)
{
    sl_emulator *emu = r->emu;
    bool path_known = false;
    for (size_t k = 0; k < N_ROUTES && !r->route; k++) {
        char *params[MAX_PARAMS] = {0};
        if (!match(&routes[k], url, params))
            continue;
        path_known = true;
        if (strcmp(routes[k].method, r->method) != 0) {
            for (int i = 0; i < MAX_PARAMS; i++)
                free(params[i]);
            continue;
        }
        r->route = &routes[k];
        memcpy(r->params, params, sizeof(params));
    }
    size_t plen;
    r->path = sl__pct_decode(url, strlen(url), false, &plen);
    if (!r->path)
        r->path = sl_xstrdup(url);
    if (r->route) {
        snprintf(r->route_key, sizeof(r->route_key), "%s %s", r->method, r->route->pattern);
        r->control = (r->route->flags & R_CONTROL) != 0;
    } else {
        snprintf(r->route_key, sizeof(r->route_key), "%s (unmatched)", r->method);
        r->control = sl_str_has_prefix(url, "/_emulator/");
    }
    sl__emu_stats_request(emu, r->route_key);
    if (r->control) {
        if (!is_loopback(r->conn))
            sl__emu_reply_error(r, 403, "PERMISSION_DENIED",
                                "Emulator control endpoints are only served to 127.0.0.1.");
        else if (!r->route)
            sl__emu_reply_error(r, 404, "ENDPOINT_NOT_FOUND", "No API found for '%s %s'",
                                r->method, url);
        return true;
    }
    /* Faults (never on control paths). */
    pthread_mutex_lock(&emu->fault_mu);
    double u = (double)(sl__emu_rng_next(&emu->rng) >> 11) * 0x1.0p-53;
    double j = (double)(sl__emu_rng_next(&emu->rng) >> 11) * 0x1.0p-53;
    emu_fault_decision d = sl__emu_faults_decide(&emu->faults, r->path, u, j);
    pthread_mutex_unlock(&emu->fault_mu);
    r->fault_latency_ms = d.latency_ms;
    if (d.latency_ms > 0)
        sl__emu_stats_fault(emu, "latency");
    if (d.drop) {
        sl__emu_stats_fault(emu, "drop");
        return false;
    }
    if (d.status) {
        fault_reply(r, &d);
        return true;
    }
    if (!r->route) {
        /* Like the real gateway: a known path with the wrong method is also a 404. */
        (void)path_known;
        sl__emu_reply_error(r, 404, "ENDPOINT_NOT_FOUND", "No API found for '%s %s'",
                            r->method, url);
        return true;
    }
    if (!(r->route->flags & R_NOAUTH) && !sl__emu_auth_check(r))
        return true;
    if (r->route->flags & R_UPLOAD) {
        r->up.fd = -1;
        sl__emu_files_put_begin(r);
        r->upload_active = r->up.fd >= 0 && !r->pending;
    }
    return true;
}

static void take_body(emu_req *r, const char *data, size_t n)
{
    if (r->pending)
        return; /* an error is already decided: discard */
    if (r->upload_active) {
        /* A block of zeros becomes a hole (the size is fixed by ftruncate at the end), so
         * multi-GiB sparse test files cost no disk writes. */
        if (n >= 4096 && data[0] == 0 && memcmp(data, data + 1, n - 1) == 0) {
            if (lseek(r->up.fd, (off_t)n, SEEK_CUR) >= 0) {
                r->up.bytes += (int64_t)n;
                return;
            }
        }
        while (n > 0 && !r->up.err_errno) {
            ssize_t w = write(r->up.fd, data, n);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                r->up.err_errno = errno;
                break;
            }
            data += w;
            n -= (size_t)w;
            r->up.bytes += w;
        }
        return;
    }
    if (r->body.len + n > MAX_BODY) {
        r->body_too_big = true;
        return;
    }
    sl_buf_put(&r->body, data, n);
}

static bool hold(emu_req *r, int64_t until)
{
    return until > sl_now_ms() && sl__emu_suspend(r, until, NULL, NULL);
}

static int64_t stall_until(sl_emulator *emu)
{
    pthread_mutex_lock(&emu->fault_mu);
    int64_t t = emu->stall_until_ms;
    pthread_mutex_unlock(&emu->fault_mu);
    return t;
}

static enum MHD_Result final_call(emu_req *r)
{
    sl_emulator *emu = r->emu;
    if (!r->hold_done) {
        r->hold_done = true;
        int64_t until = r->fault_latency_ms > 0 ? sl_now_ms() + r->fault_latency_ms : 0;
        if (!r->control) {
            int64_t s = stall_until(emu);
            if (s > until)
                until = s;
        }
        if (hold(r, until))
            return MHD_YES;
    }
    if (!r->pending) {
        emu_hr hr;
        if (r->body_too_big)
            hr = sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                                     "The request body exceeds %u bytes.", MAX_BODY);
        else
            hr = r->route->fn(r);
        if (hr == EMU_HR_SUSPENDED)
            return MHD_YES;
        if (hr == EMU_HR_DROP)
            return MHD_NO;
        if (!r->pending)
            sl__emu_reply_error(r, 500, "INTERNAL_ERROR", "The handler produced no response.");
    }
    if (!r->control && hold(r, stall_until(emu)))
        return MHD_YES;
    enum MHD_Result rc = MHD_queue_response(r->conn, (unsigned)r->pending_status, r->pending);
    sl__emu_stats_status(emu, r->pending_status);
    MHD_destroy_response(r->pending);
    r->pending = NULL;
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version;
    emu_req *r = *con_cls;
    if (!r) {
        r = sl_xcalloc(1, sizeof(*r));
        r->emu = cls;
        r->conn = conn;
        r->up.fd = -1;
        snprintf(r->method, sizeof(r->method), "%s", method);
        *con_cls = r;
        return first_call(r, url) ? MHD_YES : MHD_NO;
    }
    if (*upload_size) {
        take_body(r, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    return final_call(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    emu_req *r = *con_cls;
    if (!r)
        return;
    *con_cls = NULL;
    if (r->up.fd >= 0)
        close(r->up.fd);
    if (r->up.tmp_path)
        unlink(r->up.tmp_path);
    free(r->up.tmp_path);
    free(r->up.final_path);
    if (r->pending)
        MHD_destroy_response(r->pending);
    if (r->slot && r->slot_free)
        r->slot_free(r->slot);
    for (int k = 0; k < MAX_PARAMS; k++)
        free(r->params[k]);
    free(r->path);
    sl_buf_free(&r->body);
    json_decref(r->json);
    sl__map_free(r->query, free);
    free(r);
}

/* Leave URL and query unescaped; we decode (and detect %00) ourselves. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char buf[512];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    buf[strcspn(buf, "\n")] = '\0';
    sl_debug("emulator: mhd: %s", buf);
}

/* ------------------------------------------------------------------ start / stop */

void sl_emulator_opts_init(sl_emulator_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->listen_host = "127.0.0.1";
    o->token = "dapi-emulator";
    o->token_ttl_ms = 3600 * 1000;
    o->statement_latency_ms = 100;
    o->genie_latency_ms = 1000;
    o->genie_rate = "5/min";
    o->chunk_rows = 1000;
    o->threads = 4;
}

static char *dup_or_null(const char *s)
{
    return s ? sl_xstrdup(s) : NULL;
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static sl_code seed_defaults(sl_emulator *emu, sl_err *err)
{
    emu_err e = {0};
    sqlite3 *db = sl__emu_db_acquire(emu->store);
    bool ok = sl__emu_uc_catalog_create(db, "main", "Default catalog", true, &e);
    sl__emu_db_release(emu->store, db);
    ok = ok && sl__emu_seed_samples(emu->store, &e);
    return ok ? SL_OK : sl_err_set(err, SL_EIO, "seed data: %s", e.msg);
}

/* A listening TCP socket on sa, or -1 with errno set. SO_REUSEADDR as MHD sets it on the
 * sockets it opens itself, non-blocking as MHD's event loop expects. */
static int listen_socket(const struct sockaddr_in *sa)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    int on = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) != 0 ||
        listen(fd, LISTEN_BACKLOG) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

/*
 * Bind and listen first, read the port the kernel chose, fill emu->port and emu->url, and
 * only then hand the socket to MHD: every field a handler reads is written before the first
 * request can arrive (MHD_start_daemon starts the worker threads that serve it).
 */
static sl_code start_mhd(sl_emulator *emu, sl_err *err)
{
    const char *host = emu->listen_host;
    if (strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)emu->opts.port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return sl_err_set(err, SL_EINVAL, "--listen host '%s' is not an IPv4 address",
                          emu->listen_host);
    raise_nofile();
    int fd = listen_socket(&sa);
    struct sockaddr_in bound;
    socklen_t bound_len = sizeof(bound);
    struct stat fd_st;
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&bound, &bound_len) != 0 ||
        fstat(fd, &fd_st) != 0) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        return sl_err_set(err, SL_EIO, "cannot listen on %s:%d: %s", emu->listen_host,
                          emu->opts.port, strerror(saved));
    }
    emu->port = ntohs(bound.sin_port);
    snprintf(emu->url, sizeof(emu->url), "http://%s:%d", host, emu->port);
    /* poll, not epoll: with Debian 12's libmicrohttpd 0.9.75 in epoll thread-pool mode about
     * one run in 90 of 1000 keep-alive connections x 10 GETs left a request unanswered
     * forever (4 of 360 runs; 0 of 350 with poll). poll costs ~20% of peak req/s at 1000
     * connections, which no test or benchmark here is near. */
    unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    /* clang-format off */
    emu->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, emu,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(emu->opts.threads > 0 ? emu->opts.threads : 4),
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)8192,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)300,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, emu,
        MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
        MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
        MHD_OPTION_END);
    /* clang-format on */
    if (!emu->mhd) {
        int saved = errno;
        /* MHD closes a given socket on some of its failure paths and not on others: close it
         * only if the descriptor still names our socket (sockets have unique inodes). */
        struct stat now_st;
        if (fstat(fd, &now_st) == 0 && now_st.st_dev == fd_st.st_dev &&
            now_st.st_ino == fd_st.st_ino)
            close(fd);
        return sl_err_set(err, SL_EIO, "cannot listen on %s:%d: %s", emu->listen_host,
                          emu->opts.port, strerror(saved));
    }
    return SL_OK; /* MHD_stop_daemon closes the socket */
}

sl_code sl_emulator_start(const sl_emulator_opts *opts, sl_emulator **out, sl_err *err)
{
    *out = NULL;
    sl_emulator *emu = sl_xcalloc(1, sizeof(*emu));
    emu->opts = *opts;
    emu->listen_host = sl_xstrdup(opts->listen_host ? opts->listen_host : "127.0.0.1");
    emu->token = sl_xstrdup(opts->token && *opts->token ? opts->token : "dapi-emulator");
    emu->client_id = dup_or_null(opts->client_id);
    emu->client_secret = dup_or_null(opts->client_secret);
    emu->genie_config_path = dup_or_null(opts->genie_config_path);
    if (emu->opts.token_ttl_ms <= 0)
        emu->opts.token_ttl_ms = 3600 * 1000;
    if (emu->opts.chunk_rows <= 0)
        emu->opts.chunk_rows = 1000;
    pthread_mutex_init(&emu->fault_mu, NULL);
    pthread_mutex_init(&emu->susp_mu, NULL);
    pthread_cond_init(&emu->susp_cv, NULL);
    pthread_mutex_init(&emu->token_mu, NULL);
    pthread_mutex_init(&emu->stmt_mu, NULL);
    pthread_cond_init(&emu->stmt_cv, NULL);
    pthread_mutex_init(&emu->stats_mu, NULL);
    emu->tokens = sl__map_new();
    emu->stmts = sl__map_new();
    sl__emu_stats_init(emu);
    emu->rng = opts->seed ? opts->seed : sl_rand_u64();

    sl_code rc = SL_OK;
    char eb[512];
    if (opts->data_dir && *opts->data_dir) {
        emu->data_dir = sl_xstrdup(opts->data_dir);
    } else {
        char tmpl[] = "/tmp/sluice-emulator-XXXXXX";
        if (!mkdtemp(tmpl)) {
            rc = sl_err_set(err, SL_EIO, "cannot create a temp dir: %s",
                            strerror(errno));
            goto fail;
        }
        emu->data_dir = sl_xstrdup(tmpl);
        emu->own_data_dir = true;
    }
    if (sl_mkdirs(emu->data_dir, NULL) != SL_OK) {
        rc = sl_err_set(err, SL_EIO, "cannot create %s: %s", emu->data_dir,
                        strerror(errno));
        goto fail;
    }
    if (!sl__emu_faults_parse(opts->faults, &emu->faults, eb, sizeof(eb))) {
        rc = sl_err_set(err, SL_EINVAL, "%s", eb);
        goto fail;
    }
    char *dbpath = sl_xasprintf("%s/emulator.db", emu->data_dir);
    emu->store = sl__emu_store_open(dbpath, eb, sizeof(eb));
    free(dbpath);
    if (!emu->store) {
        rc = sl_err_set(err, SL_EIO, "%s", eb);
        goto fail;
    }
    if ((rc = seed_defaults(emu, err)) != SL_OK)
        goto fail;
    if (!sl__emu_genie_start(emu, eb, sizeof(eb))) {
        rc = sl_err_set(err, SL_EINVAL, "%s", eb);
        goto fail;
    }
    if (!sl__emu_stmts_start(emu, eb, sizeof(eb))) {
        rc = sl_err_set(err, SL_EIO, "%s", eb);
        goto fail;
    }
    if (pthread_create(&emu->timer_thread, NULL, timer_main, emu) != 0) {
        rc = sl_err_set(err, SL_EIO, "cannot start the timer thread");
        goto fail;
    }
    emu->timer_started = true;
    if ((rc = start_mhd(emu, err)) != SL_OK)
        goto fail;
    *out = emu;
    return SL_OK;
fail:
    sl_emulator_stop(emu);
    return rc ? rc : SL_EIO;
}

const char *sl_emulator_url(const sl_emulator *emu)
{
    return emu->url;
}

int sl_emulator_port(const sl_emulator *emu)
{
    return emu->port;
}

void sl_emulator_stop(sl_emulator *emu)
{
    if (!emu)
        return;
    pthread_mutex_lock(&emu->susp_mu);
    emu->stopping = true;
    emu_req *list = collect(emu, NULL, true, 0);
    pthread_cond_broadcast(&emu->susp_cv);
    pthread_mutex_unlock(&emu->susp_mu);
    resume_list(list);
    if (emu->mhd)
        MHD_stop_daemon(emu->mhd);
    if (emu->timer_started)
        pthread_join(emu->timer_thread, NULL);
    sl__emu_stmts_stop(emu);
    sl__emu_genie_stop(emu);
    sl__emu_store_close(emu->store);
    sl__emu_faults_free(&emu->faults);
    sl__emu_tokens_free(emu);
    sl__emu_stats_free(emu);
    if (emu->own_data_dir && emu->data_dir)
        sl__rmtree(emu->data_dir);
    pthread_mutex_destroy(&emu->fault_mu);
    pthread_mutex_destroy(&emu->susp_mu);
    pthread_cond_destroy(&emu->susp_cv);
    pthread_mutex_destroy(&emu->token_mu);
    pthread_mutex_destroy(&emu->stmt_mu);
    pthread_cond_destroy(&emu->stmt_cv);
    pthread_mutex_destroy(&emu->stats_mu);
    free(emu->listen_host);
    free(emu->data_dir);
    sl_secret_free(emu->token);
    free(emu->client_id);
    sl_secret_free(emu->client_secret);
    free(emu->genie_config_path);
    free(emu);
}
