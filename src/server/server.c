/* server.c - the sluice.v1 service on an rpc server: binding, routing every method, stop. */
#include <stdlib.h>
#include <string.h>

#include "server_int.h"
#include "sluice/v1/sluice.pb-c.h"

#define SERVICE_PREFIX "/sluice.v1.Sluice/"

void sl_server_opts_init(sl_server_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->threads = 8;
    o->max_message_bytes = SL_RPC_DEFAULT_MAX_MESSAGE;
}

sl_rpc_code sl_server_code_of(sl_code c)
{
    switch (c) {
    case SL_OK:
        return SL_RPC_OK;
    case SL_EINVAL:
        return SL_RPC_INVALID_ARGUMENT;
    case SL_ENOTFOUND:
        return SL_RPC_NOT_FOUND;
    case SL_ECONFLICT:
    case SL_ECLOSED:
    case SL_ESCHEMA:
        return SL_RPC_FAILED_PRECONDITION;
    case SL_EBUSY:
    case SL_EIO:
        return SL_RPC_UNAVAILABLE;
    case SL_ETIMEOUT:
        return SL_RPC_DEADLINE_EXCEEDED;
    case SL_EAUTH:
        return SL_RPC_UNAUTHENTICATED;
    case SL_ESTALE:
    case SL_ELEASE:
        return SL_RPC_ABORTED;
    case SL_ELIMIT:
        return SL_RPC_RESOURCE_EXHAUSTED;
    case SL_ECANCELED:
        return SL_RPC_CANCELLED;
    case SL_EREMOTE:
    case SL_ENONDET:
    default:
        return SL_RPC_INTERNAL;
    }
}

/* A method of the contract this server does not serve yet. */
static void unimplemented(sl_rpc_call *call, void *arg)
{
    (void)arg;
    const char *m = sl_rpc_call_method(call);
    const char *slash = strrchr(m, '/');
    sl_rpc_call_finish(call, SL_RPC_UNIMPLEMENTED, "%s is not implemented by this server yet",
                       slash ? slash + 1 : m);
}

sl_code sl_server_start(sl_engine *e, const sl_server_opts *o, sl_server **out, sl_err *err)
{
    *out = NULL;
    sl_rpc_server_opts ro;
    sl_rpc_server_opts_init(&ro);
    ro.listen = o->listen;
    ro.threads = o->threads > 0 ? o->threads : 8;
    ro.max_message_bytes =
        o->max_message_bytes > 0 ? o->max_message_bytes : SL_RPC_DEFAULT_MAX_MESSAGE;
    sl_server *s = sl_xcalloc(1, sizeof(*s));
    s->e = e;
    sl_code rc = sl_rpc_server_new(&ro, &s->rpc, err);
    if (rc != SL_OK) {
        free(s);
        return rc;
    }
    const ProtobufCServiceDescriptor *sd = &sluice__v1__sluice__descriptor;
    for (unsigned i = 0; i < sd->n_methods && rc == SL_OK; i++) {
        const char *name = sd->methods[i].name;
        sl_rpc_handler_fn fn = unimplemented;
        for (const sl_server_method *m = sl__server_methods; m->name; m++)
            if (strcmp(m->name, name) == 0)
                fn = m->fn;
        char full[128];
        snprintf(full, sizeof(full), SERVICE_PREFIX "%s", name);
        rc = sl_rpc_server_handle(s->rpc, full, fn, s, err);
    }
    if (rc == SL_OK)
        rc = sl_rpc_server_start(s->rpc, err);
    if (rc != SL_OK) {
        sl_rpc_server_free(s->rpc);
        free(s);
        return rc;
    }
    *out = s;
    return SL_OK;
}

int sl_server_port(const sl_server *s)
{
    return sl_rpc_server_port(s->rpc);
}

void sl_server_stop(sl_server *s, int64_t grace_ms)
{
    if (s)
        sl_rpc_server_stop(s->rpc, grace_ms);
}

void sl_server_free(sl_server *s)
{
    if (!s)
        return;
    sl_rpc_server_free(s->rpc);
    free(s);
}
