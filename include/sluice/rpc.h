/*
 * rpc.h - gRPC transport: a small server and client on grpc core's completion-queue C API.
 * The only code that includes grpc headers (src/rpc/); callers see full method names
 * ("/sluice.v1.Sluice/StartWorkflow"), message bytes, metadata and status codes. Messages
 * are protobuf-c structs generated from schema/proto/ (the sluice_proto library), packed and
 * unpacked with the helpers at the end; a request that does not unpack is answered
 * INVALID_ARGUMENT, never a crash.
 *
 * A server call, from accept to its one status:
 *
 *   ACCEPTED --request read--> QUEUED --handler thread--> IN_HANDLER --reply/finish--> DONE
 *   ACCEPTED --unknown method----------------------------------> DONE (UNIMPLEMENTED)
 *   ACCEPTED --message > max_message_bytes---------------------> DONE (RESOURCE_EXHAUSTED)
 *   IN_HANDLER --sl_rpc_call_write--> IN_HANDLER   (server streaming, one message in flight)
 *   IN_HANDLER --handler returns without a status--> DONE (INTERNAL)
 *
 * Invariants: (1) every accepted call ends with exactly one status; (2) a handler runs on
 * a handler thread, never on the completion-queue thread, so a slow handler never delays
 * another call's bytes; (3) sl_rpc_server_stop answers every call: handlers see the stop
 * through sl_rpc_call_wait / sl_rpc_call_is_stopping and reply, and after the grace time
 * grpc cancels what is left.
 *
 * Threads: sl_rpc_global_init() once in main before threads start (grpc_init), and
 * sl_rpc_global_cleanup() last. A server runs one completion-queue thread, which only moves
 * bytes (accept, read the request, release sent buffers) and `threads` handler threads
 * (default 4), each running one call's handler at a time from a FIFO of read requests. A
 * handler may block (a long poll) but then holds its thread: size `threads` for the long
 * polls expected. A call handle belongs to the handler it was given to. sl_rpc_server_stop
 * may be called from any thread except a handler. A client is shared by any number of
 * threads: each call makes its own completion queue and blocks its caller until done; a
 * stream belongs to one thread.
 */
#ifndef SLUICE_RPC_H
#define SLUICE_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "sluice/util.h"

/* gRPC status codes; the values are the wire values and never change. */
typedef enum sl_rpc_code {
    SL_RPC_OK = 0,
    SL_RPC_CANCELLED = 1,
    SL_RPC_UNKNOWN = 2,
    SL_RPC_INVALID_ARGUMENT = 3,
    SL_RPC_DEADLINE_EXCEEDED = 4,
    SL_RPC_NOT_FOUND = 5,
    SL_RPC_ALREADY_EXISTS = 6,
    SL_RPC_PERMISSION_DENIED = 7,
    SL_RPC_RESOURCE_EXHAUSTED = 8,
    SL_RPC_FAILED_PRECONDITION = 9,
    SL_RPC_ABORTED = 10,
    SL_RPC_OUT_OF_RANGE = 11,
    SL_RPC_UNIMPLEMENTED = 12,
    SL_RPC_INTERNAL = 13,
    SL_RPC_UNAVAILABLE = 14,
    SL_RPC_DATA_LOSS = 15,
    SL_RPC_UNAUTHENTICATED = 16,
} sl_rpc_code;

/* "NOT_FOUND" for SL_RPC_NOT_FOUND; "UNKNOWN" for a value outside the table. */
const char *sl_rpc_code_name(int code);

#define SL_RPC_DETAILS_MAX         256
#define SL_RPC_DEFAULT_MAX_MESSAGE (4 * 1024 * 1024)

typedef struct sl_rpc_status {
    sl_rpc_code code;
    char details[SL_RPC_DETAILS_MAX]; /* one line, "" when the peer sent none */
} sl_rpc_status;

/* grpc_init (and quiets grpc's own log below errors); once, in main, before threads. */
void sl_rpc_global_init(void);
/* grpc_shutdown; after every server and client is freed. */
void sl_rpc_global_cleanup(void);

/* ---- server ----------------------------------------------------------------------------- */

typedef struct sl_rpc_server sl_rpc_server;
typedef struct sl_rpc_call sl_rpc_call;

/* Runs on a handler thread. It must end the call with sl_rpc_call_reply (unary) or
 * sl_rpc_call_finish (any status; after sl_rpc_call_write for a stream); returning
 * without either sends INTERNAL. The call handle is invalid once the handler returns. */
typedef void (*sl_rpc_handler_fn)(sl_rpc_call *call, void *arg);

typedef struct sl_rpc_server_opts {
    const char *listen;        /* "host:port"; port 0 picks a free one (sl_rpc_server_port) */
    int threads;               /* handler threads, default 4 */
    int max_threads;           /* more are started while every one is busy, up to this
                                * (default: threads, a fixed pool); long polls need one each */
    int64_t max_message_bytes; /* a larger request: RESOURCE_EXHAUSTED; default 4 MiB */
    /* Not yet supported (must be NULL): TLS with a PEM certificate chain and key. */
    const char *tls_cert_pem;
    const char *tls_key_pem;
} sl_rpc_server_opts;

void sl_rpc_server_opts_init(sl_rpc_server_opts *o);

/*
 * Create a server bound to o->listen (not yet serving: register handlers, then start).
 * SL_EINVAL: bad options (TLS asked for); SL_EIO: the address could not be bound.
 */
SL_MUST_USE sl_code sl_rpc_server_new(const sl_rpc_server_opts *o, sl_rpc_server **out,
                                      sl_err *err);
/* The bound port (the chosen one when o->listen asked for port 0). */
int sl_rpc_server_port(const sl_rpc_server *s);
/*
 * Route calls of `method` (full name, "/sluice.v1.Sluice/StartWorkflow") to fn(call, arg).
 * Before sl_rpc_server_start only. SL_EINVAL: after start, or the method is taken.
 */
SL_MUST_USE sl_code sl_rpc_server_handle(sl_rpc_server *s, const char *method, sl_rpc_handler_fn fn,
                                         void *arg, sl_err *err);
/* Start the threads and accept calls. SL_EINVAL if already started. */
SL_MUST_USE sl_code sl_rpc_server_start(sl_rpc_server *s, sl_err *err);
/*
 * Graceful stop: accept no new calls, tell running handlers (sl_rpc_call_wait returns
 * SL_RPC_WAIT_STOPPING), let them answer for up to grace_ms, then cancel what is left;
 * returns when every call has ended and every thread has exited. Idempotent.
 */
void sl_rpc_server_stop(sl_rpc_server *s, int64_t grace_ms);
/* Stops (grace 0) if needed, then frees. NULL is fine. */
void sl_rpc_server_free(sl_rpc_server *s);

/* ---- a server call, inside its handler -------------------------------------------------- */

const char *sl_rpc_call_method(const sl_rpc_call *c);
/* The request message's bytes (borrowed until the handler returns). */
const uint8_t *sl_rpc_call_request(const sl_rpc_call *c, size_t *len);
/* Copy the value of metadata `key` (lowercase) into buf, NUL-terminated. false: absent,
 * or longer than buf_len - 1 (buf then holds ""). */
bool sl_rpc_call_metadata(const sl_rpc_call *c, const char *key, char *buf, size_t buf_len);
/* Milliseconds left before the client's deadline (INT64_MAX when it set none). */
int64_t sl_rpc_call_remaining_ms(const sl_rpc_call *c);

typedef enum sl_rpc_wait {
    SL_RPC_WAIT_TIMEOUT,   /* timeout_ms passed */
    SL_RPC_WAIT_CANCELLED, /* the client went away (deadline, cancel, disconnect) */
    SL_RPC_WAIT_STOPPING,  /* the server is stopping: answer now */
    SL_RPC_WAIT_WOKEN,     /* sl_rpc_call_wake was called */
} sl_rpc_wait;
/* Block up to timeout_ms for the call to be cancelled, the server to stop, or a wake. */
sl_rpc_wait sl_rpc_call_wait(sl_rpc_call *c, int64_t timeout_ms);
/* Wake the call's handler from sl_rpc_call_wait (any thread; while the handler runs). A wake
 * before the wait is kept: the next sl_rpc_call_wait returns SL_RPC_WAIT_WOKEN at once, so
 * "check, then wait" loses no wake that comes between. */
void sl_rpc_call_wake(sl_rpc_call *c);
bool sl_rpc_call_is_cancelled(const sl_rpc_call *c);
bool sl_rpc_call_is_stopping(const sl_rpc_call *c);

/* Unary answer: the response message, then status OK. Does not block. SL_EINVAL: the call
 * already has a status. */
SL_MUST_USE sl_code sl_rpc_call_reply(sl_rpc_call *c, const void *msg, size_t len);
/*
 * Server streaming: send one message; blocks until grpc took it (flow control), so a
 * stream holds one message in flight. SL_EIO: the call is gone (client cancelled or the
 * deadline passed): stop writing and finish.
 */
SL_MUST_USE sl_code sl_rpc_call_write(sl_rpc_call *c, const void *msg, size_t len);
/* End the call with `code` and details (printf-style, one line, may be NULL). Does not
 * block. A second status is ignored. */
void sl_rpc_call_finish(sl_rpc_call *c, sl_rpc_code code, const char *fmt, ...) SL_PRINTF(3, 4);

/* ---- client ----------------------------------------------------------------------------- */

typedef struct sl_rpc_client sl_rpc_client;

typedef struct sl_rpc_client_opts {
    const char *target;         /* "host:port" */
    int64_t default_timeout_ms; /* deadline of a call that names none; default 30 s */
    int64_t max_message_bytes;  /* largest response accepted; default 4 MiB */
    /* Not yet supported (must be NULL): the CA (PEM) for TLS, a bearer token sent as
     * "authorization: Bearer <token>" on every call. */
    const char *tls_ca_pem;
    const char *auth_token;
} sl_rpc_client_opts;

void sl_rpc_client_opts_init(sl_rpc_client_opts *o);

/* A channel to o->target; connects lazily, on the first call. SL_EINVAL: bad options. */
SL_MUST_USE sl_code sl_rpc_client_new(const sl_rpc_client_opts *o, sl_rpc_client **out,
                                      sl_err *err);
void sl_rpc_client_free(sl_rpc_client *c);

typedef struct sl_rpc_md {
    const char *key; /* lowercase, as grpc requires */
    const char *value;
} sl_rpc_md;

typedef struct sl_rpc_call_opts {
    int64_t timeout_ms; /* deadline from now; 0: the client's default */
    const sl_rpc_md *md;
    size_t n_md;
} sl_rpc_call_opts;

typedef struct sl_rpc_reply {
    sl_rpc_status status;
    uint8_t *body; /* the response message (owned; free with sl_rpc_reply_cleanup) */
    size_t body_len;
} sl_rpc_reply;

void sl_rpc_reply_cleanup(sl_rpc_reply *r);

/*
 * Unary call of `method` with the request bytes; blocks until the status arrives or the
 * deadline passes. out->status always holds the status (cleanup out even on failure).
 * SL_OK: status OK, out->body is the response. Otherwise err->msg is the details (or the
 * code's name) and the code maps the status: SL_ETIMEOUT DEADLINE_EXCEEDED, SL_EIO
 * UNAVAILABLE (retryable), SL_ENOTFOUND NOT_FOUND, SL_EINVAL INVALID_ARGUMENT, SL_EAUTH
 * UNAUTHENTICATED / PERMISSION_DENIED, SL_ECONFLICT ALREADY_EXISTS / FAILED_PRECONDITION,
 * SL_EREMOTE any other.
 */
SL_MUST_USE sl_code sl_rpc_client_call(sl_rpc_client *c, const char *method, const void *req,
                                       size_t req_len, const sl_rpc_call_opts *o, sl_rpc_reply *out,
                                       sl_err *err);

typedef struct sl_rpc_stream sl_rpc_stream;

/* Open a server-streaming call. SL_EIO: grpc refused to start it. The deadline (o) covers
 * the whole stream. */
SL_MUST_USE sl_code sl_rpc_client_stream_open(sl_rpc_client *c, const char *method, const void *req,
                                              size_t req_len, const sl_rpc_call_opts *o,
                                              sl_rpc_stream **out, sl_err *err);
/* Next message (owned: free()), blocking; false at the end of the stream, whatever its
 * status: then call sl_rpc_stream_finish. */
SL_MUST_USE bool sl_rpc_stream_read(sl_rpc_stream *s, uint8_t **msg, size_t *len);
/* The stream's status, after sl_rpc_stream_read returned false; codes as for a unary call. */
SL_MUST_USE sl_code sl_rpc_stream_finish(sl_rpc_stream *s, sl_rpc_status *st, sl_err *err);
/* Cancels the call if it is still open. NULL is fine. */
void sl_rpc_stream_free(sl_rpc_stream *s);

/* ---- protobuf-c messages ---------------------------------------------------------------- */

/* Pack m into a new buffer (owned: free()); *len its size. */
SL_MUST_USE uint8_t *sl_rpc_pack(const ProtobufCMessage *m, size_t *len);
/*
 * Unpack bytes as a message of descriptor d (free with protobuf_c_message_free_unpacked).
 * NULL if they are not one: st (may be NULL) then holds INVALID_ARGUMENT "malformed
 * <full message name>".
 */
SL_MUST_USE ProtobufCMessage *sl_rpc_unpack(const ProtobufCMessageDescriptor *d, const void *buf,
                                            size_t len, sl_rpc_status *st);
/* The call's request as a message of d; if it does not unpack, the call is finished with
 * INVALID_ARGUMENT and NULL returned: the handler just returns. */
SL_MUST_USE ProtobufCMessage *sl_rpc_call_unpack(sl_rpc_call *c,
                                                 const ProtobufCMessageDescriptor *d);
/* Pack m and sl_rpc_call_reply / sl_rpc_call_write it. */
SL_MUST_USE sl_code sl_rpc_call_reply_msg(sl_rpc_call *c, const ProtobufCMessage *m);
SL_MUST_USE sl_code sl_rpc_call_write_msg(sl_rpc_call *c, const ProtobufCMessage *m);

#endif
