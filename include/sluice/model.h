/*
 * model.h - the vocabulary the engine and its store share: run statuses, durability
 * modes and the filter that selects runs. Plain values, no behaviour beyond parsing and
 * naming; included by engine.h and store.h so that neither needs the other.
 */
#ifndef SLUICE_MODEL_H
#define SLUICE_MODEL_H

#include "sluice/util.h"

typedef enum sl_durability {
    SL_DURABILITY_NORMAL, /* WAL synchronous=NORMAL: survives a process crash */
    SL_DURABILITY_FULL    /* WAL synchronous=FULL: fsync per commit, survives power loss */
} sl_durability;

bool sl_durability_parse(const char *s, sl_durability *out);
const char *sl_durability_name(sl_durability d);

typedef enum sl_run_status {
    SL_RUN_RUNNING = 0,
    SL_RUN_COMPLETED = 1,
    SL_RUN_FAILED = 2,
    SL_RUN_CANCELED = 3,
    SL_RUN_TERMINATED = 4,
    SL_RUN_TIMED_OUT = 5,
    SL_RUN_CONTINUED_AS_NEW = 6,
} sl_run_status;

const char *sl_run_status_name(int status); /* "running", "completed", ... */
bool sl_run_status_parse(const char *s, int *out);

typedef struct sl_run_filter {
    int status;          /* -1: any */
    const char *type;    /* NULL: any */
    const char *id_prefix;
    int64_t started_after_ms;  /* 0: no bound */
    int64_t started_before_ms; /* 0: no bound */
    int limit;           /* 0: no limit */
    bool latest_only;    /* only the latest run of each workflow id */
} sl_run_filter;

void sl_run_filter_init(sl_run_filter *f);

#endif
