/*
 * client.c - the rpc client: one grpc channel shared by all threads; every call has its
 * own pluck completion queue and blocks its caller, as grpc's own synchronous API does.
 */
#include "rpc_int.h"

#include <stdlib.h>
#include <string.h>

#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>

struct sl_rpc_client {
    grpc_channel *ch;
    int64_t default_timeout_ms;
};

struct sl_rpc_stream {
    grpc_completion_queue *cq;
    grpc_call *call;
    grpc_metadata_array initial_md;
    bool got_initial_md;
    bool ended;    /* RECV_MESSAGE gave no message */
    bool finished; /* the status was received */
    sl_rpc_status status;
};

void sl_rpc_client_opts_init(sl_rpc_client_opts *o)
{
    memset(o, 0, sizeof *o);
    o->default_timeout_ms = 30000;
    o->max_message_bytes = SL_RPC_DEFAULT_MAX_MESSAGE;
}

sl_code sl_rpc_client_new(const sl_rpc_client_opts *o, sl_rpc_client **out, sl_err *err)
{
    *out = NULL;
    if (!o->target || !o->target[0])
        return sl_err_set(err, SL_EINVAL, "no server address");
    if (o->tls_ca_pem || o->auth_token)
        return sl_err_set(err, SL_EINVAL, "TLS and auth tokens are not supported yet");
    int64_t max = o->max_message_bytes > 0 ? o->max_message_bytes : SL_RPC_DEFAULT_MAX_MESSAGE;
    if (max > INT32_MAX)
        max = INT32_MAX;
    sl_rpc_client *c = sl_xcalloc(1, sizeof *c);
    c->default_timeout_ms = o->default_timeout_ms > 0 ? o->default_timeout_ms : 30000;
    grpc_init(); /* paired with grpc_shutdown in sl_rpc_client_free */
    grpc_arg args[1];
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = (int)max;
    grpc_channel_args ch_args = {1, args};
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    c->ch = grpc_channel_create(o->target, creds, &ch_args);
    grpc_channel_credentials_release(creds);
    *out = c;
    return SL_OK;
}

void sl_rpc_client_free(sl_rpc_client *c)
{
    if (!c)
        return;
    grpc_channel_destroy(c->ch);
    grpc_shutdown();
    free(c);
}

void sl_rpc_reply_cleanup(sl_rpc_reply *r)
{
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
}

/* The call, on its own queue; NULL if grpc refused. md[] gets slices to unref after use. */
static grpc_call *call_start(sl_rpc_client *c, grpc_completion_queue *cq, const char *method,
                             const sl_rpc_call_opts *o)
{
    int64_t timeout = o && o->timeout_ms > 0 ? o->timeout_ms : c->default_timeout_ms;
    grpc_slice m = grpc_slice_from_copied_string(method);
    grpc_call *call = grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, m, NULL,
                                               sl__rpc_deadline(timeout), NULL);
    grpc_slice_unref(m);
    return call;
}

static grpc_metadata *md_new(const sl_rpc_call_opts *o, size_t *n)
{
    *n = o ? o->n_md : 0;
    if (*n == 0)
        return NULL;
    grpc_metadata *md = sl_xcalloc(*n, sizeof *md);
    for (size_t i = 0; i < *n; i++) {
        md[i].key = grpc_slice_from_copied_string(o->md[i].key);
        md[i].value = grpc_slice_from_copied_string(o->md[i].value);
    }
    return md;
}

static void md_free(grpc_metadata *md, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        grpc_slice_unref(md[i].key);
        grpc_slice_unref(md[i].value);
    }
    free(md);
}

/* Run a batch and wait for it; false if it could not start or failed. */
static bool run_batch(grpc_completion_queue *cq, grpc_call *call, const grpc_op *ops, size_t n)
{
    int tag;
    if (grpc_call_start_batch(call, ops, n, &tag, NULL) != GRPC_CALL_OK)
        return false;
    grpc_event ev = grpc_completion_queue_pluck(cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    return ev.type == GRPC_OP_COMPLETE && ev.success;
}

static void cq_free(grpc_completion_queue *cq)
{
    grpc_completion_queue_shutdown(cq);
    grpc_completion_queue_destroy(cq); /* every batch was plucked: nothing left to drain */
}

static void status_fill(sl_rpc_status *st, grpc_status_code code, grpc_slice details)
{
    st->code = (sl_rpc_code)code;
    sl__rpc_slice_copy(details, st->details, sizeof st->details);
}

/* The client's opening ops: initial metadata, the one request message, half-close. */
static void send_ops(grpc_op ops[3], grpc_metadata *md, size_t n_md, grpc_byte_buffer *send)
{
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = n_md;
    ops[0].data.send_initial_metadata.metadata = md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
}

sl_code sl_rpc_client_call(sl_rpc_client *c, const char *method, const void *req, size_t req_len,
                           const sl_rpc_call_opts *o, sl_rpc_reply *out, sl_err *err)
{
    memset(out, 0, sizeof *out);
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_call *call = call_start(c, cq, method, o);
    if (!call) {
        cq_free(cq);
        out->status.code = SL_RPC_INTERNAL;
        return sl_err_set(err, SL_EIO, "%s: cannot create the call", method);
    }
    size_t n_md;
    grpc_metadata *md = md_new(o, &n_md);
    grpc_byte_buffer *send = sl__rpc_buffer_new(req, req_len);
    grpc_byte_buffer *recv = NULL;
    grpc_metadata_array initial_md, trailing_md;
    grpc_metadata_array_init(&initial_md);
    grpc_metadata_array_init(&trailing_md);
    grpc_status_code status = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();

    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    send_ops(ops, md, n_md, send);
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &trailing_md;
    ops[5].data.recv_status_on_client.status = &status;
    ops[5].data.recv_status_on_client.status_details = &details;
    if (!run_batch(cq, call, ops, 6)) {
        /* only a refused batch (bad metadata) gets here: a failed call still has a status */
        status = GRPC_STATUS_INTERNAL;
        grpc_slice_unref(details);
        details = grpc_slice_from_copied_string("the call could not be started");
    }
    status_fill(&out->status, status, details);
    if (status == GRPC_STATUS_OK && recv)
        out->body = sl__rpc_buffer_bytes(recv, &out->body_len);
    else if (status == GRPC_STATUS_OK)
        out->body = sl_xcalloc(1, 1); /* OK with no message: treat as an empty one */

    if (recv)
        grpc_byte_buffer_destroy(recv);
    grpc_byte_buffer_destroy(send);
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&initial_md);
    grpc_metadata_array_destroy(&trailing_md);
    md_free(md, n_md);
    grpc_call_unref(call);
    cq_free(cq);
    return sl__rpc_status_err(&out->status, err);
}

sl_code sl_rpc_client_stream_open(sl_rpc_client *c, const char *method, const void *req,
                                  size_t req_len, const sl_rpc_call_opts *o, sl_rpc_stream **out,
                                  sl_err *err)
{
    *out = NULL;
    sl_rpc_stream *s = sl_xcalloc(1, sizeof *s);
    s->cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_metadata_array_init(&s->initial_md);
    s->call = call_start(c, s->cq, method, o);
    if (!s->call) {
        sl_rpc_stream_free(s);
        return sl_err_set(err, SL_EIO, "%s: cannot create the call", method);
    }
    size_t n_md;
    grpc_metadata *md = md_new(o, &n_md);
    grpc_byte_buffer *send = sl__rpc_buffer_new(req, req_len);
    grpc_op ops[3];
    memset(ops, 0, sizeof ops);
    send_ops(ops, md, n_md, send);
    /* A failed send shows up as the stream's status; reads then end at once. */
    if (!run_batch(s->cq, s->call, ops, 3))
        s->ended = true;
    grpc_byte_buffer_destroy(send);
    md_free(md, n_md);
    *out = s;
    return SL_OK;
}

bool sl_rpc_stream_read(sl_rpc_stream *s, uint8_t **msg, size_t *len)
{
    *msg = NULL;
    *len = 0;
    if (s->ended)
        return false;
    grpc_byte_buffer *recv = NULL;
    grpc_op ops[2];
    size_t n = 0;
    memset(ops, 0, sizeof ops);
    if (!s->got_initial_md) {
        /* the first read also takes the initial metadata (received once per call) */
        s->got_initial_md = true;
        ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
        ops[n].data.recv_initial_metadata.recv_initial_metadata = &s->initial_md;
        n++;
    }
    ops[n].op = GRPC_OP_RECV_MESSAGE;
    ops[n].data.recv_message.recv_message = &recv;
    n++;
    bool ok = run_batch(s->cq, s->call, ops, n);
    if (!ok || !recv) {
        if (recv)
            grpc_byte_buffer_destroy(recv);
        s->ended = true;
        return false;
    }
    *msg = sl__rpc_buffer_bytes(recv, len);
    grpc_byte_buffer_destroy(recv);
    return true;
}

sl_code sl_rpc_stream_finish(sl_rpc_stream *s, sl_rpc_status *st, sl_err *err)
{
    if (!s->finished) {
        grpc_metadata_array trailing_md;
        grpc_metadata_array_init(&trailing_md);
        grpc_status_code status = GRPC_STATUS_UNKNOWN;
        grpc_slice details = grpc_empty_slice();
        grpc_op op;
        memset(&op, 0, sizeof op);
        op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
        op.data.recv_status_on_client.trailing_metadata = &trailing_md;
        op.data.recv_status_on_client.status = &status;
        op.data.recv_status_on_client.status_details = &details;
        if (!run_batch(s->cq, s->call, &op, 1)) {
            status = GRPC_STATUS_INTERNAL;
            grpc_slice_unref(details);
            details = grpc_slice_from_copied_string("the stream's status could not be read");
        }
        status_fill(&s->status, status, details);
        grpc_slice_unref(details);
        grpc_metadata_array_destroy(&trailing_md);
        s->finished = true;
        s->ended = true;
    }
    if (st)
        *st = s->status;
    return sl__rpc_status_err(&s->status, err);
}

void sl_rpc_stream_free(sl_rpc_stream *s)
{
    if (!s)
        return;
    if (s->call) {
        if (!s->finished) {
            grpc_call_cancel(s->call, NULL);
            sl_rpc_status st;
            sl_code rc = sl_rpc_stream_finish(s, &st, NULL); /* collect the status grpc owes */
            (void)rc;
        }
        grpc_call_unref(s->call);
    }
    grpc_metadata_array_destroy(&s->initial_md);
    cq_free(s->cq);
    free(s);
}
