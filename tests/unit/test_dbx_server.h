/*
 * test_dbx_server.h - a tiny HTTP server (libmicrohttpd, thread per connection) on
 * 127.0.0.1 port 0, started inside a unit test to stand in for a Databricks workspace.
 * A test supplies one handler, called twice per request: phase 0 with headers only
 * (it may answer at once, e.g. reject an upload before its body is sent), phase 1
 * with the complete body. Bodies beyond 1 MiB are counted, not kept, so multi-GiB
 * uploads cost no memory.
 */
#ifndef SLUICE_TEST_DBX_SERVER_H
#define SLUICE_TEST_DBX_SERVER_H

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/util.h"

#define TS_KEEP_MAX (1024 * 1024)

typedef struct ts_req {
    const char *method;
    const char *url; /* decoded path, no query */
    struct MHD_Connection *conn;
    char *body; /* first TS_KEEP_MAX bytes, NUL-terminated */
    size_t body_len;
    uint64_t body_bytes;       /* all bytes received */
    int first_byte, last_byte; /* -1 when no body */
} ts_req;

typedef struct ts_resp {
    int status;      /* 0: not answered (phase 0) */
    char *body;      /* owned (sl_xstrdup / sl_xasprintf), may be NULL */
    size_t body_len; /* 0: strlen(body) */
    const char *content_type;
    const char *hdr_name[4];
    char hdr_value[4][128];
    int n_hdr;
} ts_resp;

typedef void (*ts_handler)(void *arg, int phase, ts_req *r, ts_resp *out);

typedef struct ts_server {
    struct MHD_Daemon *d;
    int port;
    char url[64];
    ts_handler fn;
    void *arg;
} ts_server;

typedef struct ts_conn_ctx {
    ts_req req;
    bool answered_phase0_checked;
} ts_conn_ctx;

static inline void ts_set(ts_resp *o, int status, const char *body)
{
    o->status = status;
    free(o->body);
    o->body = body ? sl_xstrdup(body) : NULL;
    o->body_len = 0;
}

static inline void ts_header(ts_resp *o, const char *name, const char *value)
{
    if (o->n_hdr < 4) {
        o->hdr_name[o->n_hdr] = name;
        snprintf(o->hdr_value[o->n_hdr], sizeof(o->hdr_value[0]), "%s", value);
        o->n_hdr++;
    }
}

static inline const char *ts_hdr(ts_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

static inline const char *ts_arg(ts_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

static inline enum MHD_Result ts_send(struct MHD_Connection *conn, ts_resp *o)
{
    size_t len = o->body ? (o->body_len ? o->body_len : strlen(o->body)) : 0;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, o->body ? o->body : (void *)"", MHD_RESPMEM_MUST_COPY);
    if (o->body)
        MHD_add_response_header(resp, "Content-Type",
                                o->content_type ? o->content_type : "application/json");
    for (int i = 0; i < o->n_hdr; i++)
        MHD_add_response_header(resp, o->hdr_name[i], o->hdr_value[i]);
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)o->status, resp);
    MHD_destroy_response(resp);
    free(o->body);
    o->body = NULL;
    return rc;
}

static enum MHD_Result ts_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    (void)version;
    ts_server *s = cls;
    ts_conn_ctx *ctx = *con_cls;
    if (!ctx) {
        ctx = sl_xcalloc(1, sizeof(*ctx));
        ctx->req.method = method;
        ctx->req.url = url;
        ctx->req.conn = conn;
        ctx->req.first_byte = ctx->req.last_byte = -1;
        ctx->req.body = sl_xcalloc(1, 1);
        *con_cls = ctx;
        /* phase 0: headers only */
        ts_resp o = {0};
        s->fn(s->arg, 0, &ctx->req, &o);
        if (o.status) {
            ctx->answered_phase0_checked = true;
            return ts_send(conn, &o);
        }
        free(o.body);
        return MHD_YES;
    }
    if (ctx->answered_phase0_checked) { /* discard any body after an early answer */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        ts_req *r = &ctx->req;
        if (r->first_byte < 0)
            r->first_byte = (unsigned char)upload_data[0];
        r->last_byte = (unsigned char)upload_data[n - 1];
        if (r->body_len < TS_KEEP_MAX) {
            size_t keep = n;
            if (r->body_len + keep > TS_KEEP_MAX)
                keep = TS_KEEP_MAX - r->body_len;
            r->body = sl_xrealloc(r->body, r->body_len + keep + 1);
            memcpy(r->body + r->body_len, upload_data, keep);
            r->body_len += keep;
            r->body[r->body_len] = '\0';
        }
        r->body_bytes += n;
        *upload_data_size = 0;
        return MHD_YES;
    }
    ts_resp o = {0};
    s->fn(s->arg, 1, &ctx->req, &o);
    if (!o.status)
        o.status = 500;
    return ts_send(conn, &o);
}

static void ts_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    ts_conn_ctx *ctx = *con_cls;
    if (ctx) {
        free(ctx->req.body);
        free(ctx);
        *con_cls = NULL;
    }
}

static inline void ts_start(ts_server *s, ts_handler fn, void *arg)
{
    memset(s, 0, sizeof(*s));
    s->fn = fn;
    s->arg = arg;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = 0;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                            NULL, NULL, ts_access, s, MHD_OPTION_SOCK_ADDR, &sa,
                            MHD_OPTION_NOTIFY_COMPLETED, ts_completed, NULL,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (!s->d) {
        fprintf(stderr, "MHD_start_daemon failed\n");
        abort();
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
}

static inline void ts_stop(ts_server *s)
{
    if (s->d)
        MHD_stop_daemon(s->d);
    s->d = NULL;
}

#endif
