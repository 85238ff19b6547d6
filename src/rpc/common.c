/* common.c - status code names, grpc set-up, buffers, protobuf-c pack/unpack helpers. */
#include "rpc_int.h"

#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/slice.h>
#include <grpc/support/log.h>

static const char *const code_names[] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

const char *sl_rpc_code_name(int code)
{
    if (code < 0 || code >= (int)(sizeof code_names / sizeof code_names[0]))
        return "UNKNOWN";
    return code_names[code];
}

/* grpc's own log lines go to sl_log at debug level: every failure they describe reaches
 * the caller as a status or an sl_err, and a command's error stays one line. */
static void grpc_log_to_sl(gpr_log_func_args *a)
{
    sl_debug("grpc: %s", a->message);
}

void sl_rpc_global_init(void)
{
    if (!getenv("GRPC_VERBOSITY")) /* set: grpc's own stderr lines, for debugging grpc */
        gpr_set_log_function(grpc_log_to_sl);
    grpc_init();
}

void sl_rpc_global_cleanup(void)
{
    grpc_shutdown();
}

grpc_byte_buffer *sl__rpc_buffer_new(const void *buf, size_t len)
{
    grpc_slice s = grpc_slice_malloc(len);
    if (len)
        memcpy(GRPC_SLICE_START_PTR(s), buf, len);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1); /* takes its own ref */
    grpc_slice_unref(s);
    return bb;
}

uint8_t *sl__rpc_buffer_bytes(grpc_byte_buffer *bb, size_t *len)
{
    grpc_byte_buffer_reader r;
    uint8_t *out;
    if (!grpc_byte_buffer_reader_init(&r, bb)) {
        *len = 0;
        return sl_xmalloc(1);
    }
    grpc_slice all = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    *len = GRPC_SLICE_LENGTH(all);
    out = sl_xmalloc(*len ? *len : 1);
    if (*len)
        memcpy(out, GRPC_SLICE_START_PTR(all), *len);
    grpc_slice_unref(all);
    return out;
}

void sl__rpc_slice_copy(grpc_slice s, char *buf, size_t cap)
{
    size_t n = GRPC_SLICE_LENGTH(s);
    if (cap == 0)
        return;
    if (n > cap - 1)
        n = cap - 1;
    memcpy(buf, GRPC_SLICE_START_PTR(s), n);
    buf[n] = '\0';
    for (size_t i = 0; i < n; i++) /* one line: a peer's newline must not split our errors */
        if (buf[i] == '\n' || buf[i] == '\r')
            buf[i] = ' ';
}

gpr_timespec sl__rpc_deadline(int64_t timeout_ms)
{
    if (timeout_ms < 0)
        return gpr_inf_future(GPR_CLOCK_MONOTONIC);
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                        gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
}

sl_code sl__rpc_status_err(const sl_rpc_status *st, sl_err *err)
{
    sl_code code;
    switch (st->code) {
    case SL_RPC_OK:
        return SL_OK;
    case SL_RPC_DEADLINE_EXCEEDED:
        code = SL_ETIMEOUT;
        break;
    case SL_RPC_UNAVAILABLE:
        code = SL_EIO;
        break;
    case SL_RPC_NOT_FOUND:
        code = SL_ENOTFOUND;
        break;
    case SL_RPC_INVALID_ARGUMENT:
        code = SL_EINVAL;
        break;
    case SL_RPC_UNAUTHENTICATED:
    case SL_RPC_PERMISSION_DENIED:
        code = SL_EAUTH;
        break;
    case SL_RPC_ALREADY_EXISTS:
    case SL_RPC_FAILED_PRECONDITION:
        code = SL_ECONFLICT;
        break;
    default:
        code = SL_EREMOTE;
        break;
    }
    sl_err_set(err, code, "%s", st->details[0] ? st->details : sl_rpc_code_name((int)st->code));
    if (err) {
        err->retryable = st->code == SL_RPC_UNAVAILABLE;
        snprintf(err->error_code, sizeof err->error_code, "%s", sl_rpc_code_name((int)st->code));
    }
    return code;
}

uint8_t *sl_rpc_pack(const ProtobufCMessage *m, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = sl_xmalloc(n ? n : 1);
    *len = protobuf_c_message_pack(m, buf);
    return buf;
}

ProtobufCMessage *sl_rpc_unpack(const ProtobufCMessageDescriptor *d, const void *buf, size_t len,
                                sl_rpc_status *st)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, buf);
    if (!m && st) {
        st->code = SL_RPC_INVALID_ARGUMENT;
        snprintf(st->details, sizeof st->details, "malformed %s", d->name);
    }
    return m;
}
