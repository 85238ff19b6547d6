/* server_int.h - src/server's private declarations: the server struct and the handler table. */
#ifndef SLUICE_SERVER_INT_H
#define SLUICE_SERVER_INT_H

#include "sluice/server.h"

struct sl_server {
    sl_engine *e;
    sl_rpc_server *rpc;
};

/* One served method of sluice.v1.Sluice, by its short name ("StartWorkflow"). */
typedef struct sl_server_method {
    const char *name;
    sl_rpc_handler_fn fn; /* arg: the sl_server */
} sl_server_method;

/* The methods with handlers (handlers.c), terminated by {NULL, NULL}. */
extern const sl_server_method sl__server_methods[];

#endif
