/*
 * rpc_int.h - what the files of src/rpc share: grpc slices and buffers to and from bytes,
 * deadlines, and the status-to-sl_code mapping.
 */
#ifndef SLUICE_RPC_INT_H
#define SLUICE_RPC_INT_H

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/support/time.h>

#include "sluice/rpc.h"

/* A byte buffer holding a copy of buf (destroy with grpc_byte_buffer_destroy). */
grpc_byte_buffer *sl__rpc_buffer_new(const void *buf, size_t len);
/* The bytes of bb in a new buffer (owned: free()); never NULL (1 byte for an empty one). */
uint8_t *sl__rpc_buffer_bytes(grpc_byte_buffer *bb, size_t *len);
/* Copy a slice into a NUL-terminated buffer of cap bytes (cut if longer). */
void sl__rpc_slice_copy(grpc_slice s, char *buf, size_t cap);
/* A monotonic deadline timeout_ms from now (gpr_inf_future for < 0). */
gpr_timespec sl__rpc_deadline(int64_t timeout_ms);
/* Fill err from a non-OK status (see sl_rpc_client_call); returns the code. */
sl_code sl__rpc_status_err(const sl_rpc_status *st, sl_err *err);

#endif
