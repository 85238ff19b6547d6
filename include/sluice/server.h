/*
 * server.h - the Sluice API served over gRPC: the handlers of the sluice.v1.Sluice service
 * (schema/proto/sluice/v1/sluice.proto) mapped onto the engine's public calls (engine.h),
 * the same calls the CLI makes, on a server of the rpc layer (rpc.h). No SQL and no grpc
 * here: src/server speaks to the engine through engine.h and to the wire through rpc.h.
 *
 * Errors: an engine failure becomes one gRPC status whose details are the engine's message,
 * the text the local CLI prints after "sluice: <command>: " (sl_server_code_of maps the
 * code: SL_ENOTFOUND NOT_FOUND, SL_EINVAL INVALID_ARGUMENT, SL_EBUSY UNAVAILABLE, ...).
 * A request that does not unpack is INVALID_ARGUMENT; a method of the contract that this
 * server does not serve yet is UNIMPLEMENTED naming the method.
 *
 *   sl_server_start --> SERVING   handlers call the engine on the rpc handler threads
 *                          |
 *                    sl_server_stop   no new calls; running ones answered (an open
 *                          |          GetHistory follow stream: UNAVAILABLE), then grpc
 *                          v          cancels what is left
 *                       STOPPED --sl_server_free--> gone
 *
 * Threads: the engine must be threaded and outlive the server; sl_server_stop from any
 * thread but a handler. sl_rpc_global_init must have run (rpc.h).
 */
#ifndef SLUICE_SERVER_H
#define SLUICE_SERVER_H

#include <stdint.h>

#include "sluice/engine.h"
#include "sluice/rpc.h"

typedef struct sl_server sl_server;

typedef struct sl_server_opts {
    const char *listen;        /* "host:port"; port 0 picks a free one (sl_server_port) */
    int threads;               /* rpc handler threads, default 8 */
    int64_t max_message_bytes; /* a larger request: RESOURCE_EXHAUSTED; default 4 MiB */
} sl_server_opts;

void sl_server_opts_init(sl_server_opts *o);

/* Bind, register every method of the service and start serving calls on engine e
 * (borrowed). SL_EINVAL: bad options; SL_EIO: the address could not be bound. */
SL_MUST_USE sl_code sl_server_start(sl_engine *e, const sl_server_opts *o, sl_server **out,
                                    sl_err *err);
/* The bound port. */
int sl_server_port(const sl_server *s);
/* Graceful stop (sl_rpc_server_stop): running calls get up to grace_ms to answer. Idempotent. */
void sl_server_stop(sl_server *s, int64_t grace_ms);
/* Stops (grace 0) if needed, then frees. NULL is fine. */
void sl_server_free(sl_server *s);

/* The gRPC status an engine error is answered with. */
sl_rpc_code sl_server_code_of(sl_code c);

#endif
