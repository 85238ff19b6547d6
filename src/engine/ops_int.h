/*
 * ops_int.h - private to the state changes of src/engine (runs.c, wft.c, change.c,
 * outcomes.c, actions.c, deferred.c), which all run inside the engine's write transaction.
 *
 * A change to a run is built against its cached state (events are applied to the cache as
 * they are added, so workflow code sees them) and written only at the end, conditional on
 * the run's version (sl__change_commit). If another process appended events first the
 * change reports SL_ESTALE; the caller drops the cached run, reloads it and builds the change
 * again, after dropping the deferred work the attempt queued (sl__deferred_truncate). Side
 * effects that need event ids (activity task rows, timers) are kept in the change until
 * commit, when the ids are final. Work that follows a change on *other* runs (starting the
 * next run of a retry chain, telling a parent its child closed, closing children) is queued
 * as deferred work and drained in the same transaction (deferred.c).
 *
 * Threads: the engine thread (or a direct engine's caller under writer.direct_mu) only.
 */
#ifndef SLUICE_ENGINE_OPS_INT_H
#define SLUICE_ENGINE_OPS_INT_H

#include "engine_int.h"

/* ---- deferred work (deferred.c) ------------------------------------------------------- */

enum deferred_kind { D_START_RUN, D_NOTIFY_PARENT, D_CLOSE_CHILDREN };

/* Everything needed to start a run that is not the caller's own first run. */
typedef struct new_run {
    char *workflow_id;
    char *type;
    char *queue;
    json_t *input;
    int attempt;
    char *first_run_id;
    char *prev_run_id;
    char *parent_run_id;
    int32_t parent_seq;
    int parent_close_policy;
    json_t *retry;         /* retry policy JSON or NULL */
    int64_t visible_at;    /* 0: now */
    json_t *started_extra; /* merged into the Started event's attributes */
    json_t *carry;         /* events copied from an earlier run: [{type, attrs, from_event_id}] */
    char run_id[37];       /* chosen up front (continue-as-new and children name it) */
} new_run;

struct deferred {
    enum deferred_kind kind;
    struct deferred *next;
    new_run *nr;  /* D_START_RUN */
    char *run_id; /* D_NOTIFY_PARENT: the child; D_CLOSE_CHILDREN: the parent */
    char *workflow_id;
    char *parent_run_id;
    int32_t parent_seq;
    int status;
    char *result;  /* JSON text */
    char *failure; /* JSON text */
};

void sl__new_run_free(new_run *nr);
/* Queue d (taken) / a run start (nr taken) behind the current change. */
void sl__defer(sl_engine *e, struct deferred *d);
void sl__defer_start(sl_engine *e, new_run *nr);
/* After a run closed: tell its parent, and apply its children's parent-close policy. */
void sl__defer_close_followups(sl_engine *e, const run_state *rs, int status, const char *result,
                               const char *failure);
/* Deferred work added after `mark` (NULL: all) is dropped when a change is recomputed. */
struct deferred *sl__deferred_mark(sl_engine *e);
void sl__deferred_truncate(sl_engine *e, struct deferred *mark);
/* Whether deferred work will start a run of workflow_id. */
bool sl__deferred_starts(const sl_engine *e, const char *workflow_id);

/* ---- a change to one run (change.c) --------------------------------------------------- */

typedef struct pend_ev {
    const char *type;
    int64_t time_ms;
    char *attrs; /* owned */
    size_t len;
} pend_ev;

enum fx_kind { FX_ACT, FX_TIMER, FX_TIMER_DELETE };

typedef struct pend_fx {
    enum fx_kind kind;
    int ev_index;        /* index in change.evs of the command event */
    sl_act_task_row row; /* FX_ACT (owned strings) */
    int32_t seq;         /* FX_TIMER, FX_TIMER_DELETE */
    int64_t fire_at;
} pend_fx;

typedef struct change {
    run_state *rs;
    sl_run_row *new_run; /* insert this run rather than advancing an existing one */
    int64_t base;        /* rs->next_event_id when the change began */
    pend_ev *evs;
    int n_evs, cap_evs;
    pend_fx *fxs;
    int n_fx, cap_fx;
    int64_t bytes;
    bool delete_wft;
    bool ensure_wft;
    int64_t wft_visible_at; /* 0: now */
    bool postpone_wft;
    bool cancel_activities; /* mark the run's activity tasks cancel-requested */
    bool close;
    int close_status;
    char *close_result;
    char *close_failure;
} change;

void sl__change_init(change *ch, run_state *rs);
void sl__change_free(change *ch);
/* The id the next added event gets. */
static inline int64_t sl__change_next_id(const change *ch)
{
    return ch->base + ch->n_evs;
}
/* Append an event (attrs taken) and account for it in the cached run; its index. */
int sl__change_event(change *ch, const char *type, int64_t time_ms, char *attrs_take);
/* A side effect of the event at ev_index (-1: none), zeroed. */
pend_fx *sl__change_fx(change *ch, enum fx_kind kind, int ev_index);
/* The run closes with this change (result/failure JSON text taken). */
void sl__change_close(change *ch, int status, char *result_take, char *failure_take);
/* Write the change: SL_ESTALE if the run's version moved. Activity tasks for queues this
 * engine serves are inserted leased to it and handed to the dispatcher after commit. */
sl_code sl__change_commit(sl_engine *e, change *ch, sl_err *err);
/* json_dumps of j (taken), owned. */
char *sl__dumps_take(json_t *j);

/* ---- workflow tasks: the code's commands become events (wft.c) ------------------------ */

/* Run the workflow code on rs and add what it decided to ch. */
void sl__wft_into_change(sl_engine *e, run_state *rs, change *ch, int64_t now);
/* Run the workflow code now if this engine serves the run's queue, else leave a task row. */
void sl__wft_schedule(sl_engine *e, run_state *rs, change *ch, int64_t now);
/* Events for what a closing run leaves behind: activities asked to cancel, timers canceled. */
void sl__emit_close_pending(run_state *rs, change *ch, int64_t now);
/* A new run of the same workflow id (retry, continue-as-new, retry from a failed step). */
new_run *sl__next_run_of(const run_state *rs, json_t *input_take);
const char *sl__policy_name(int p);
int sl__policy_parse(const char *s);

/* ---- runs (runs.c) --------------------------------------------------------------------- */

/* Insert a new run (its id must have no open run) with its Started event, carried-over
 * events, and either its first workflow task inline or a task row. */
sl_code sl__start_run(sl_engine *e, new_run *nr, sl_err *err);

/* ---- recording outcomes on a run (outcomes.c) ----------------------------------------- */

typedef struct run_op_args {
    int64_t run_pk;
    int n_evs;
    const char *types[3];
    int64_t times[3];
    const char *attrs[3];
    int resolve_at; /* index of the resolving event, -1: none */
    int32_t resolve_seq;
    int resolve_state;
    json_t *resolve_value; /* borrowed */
    bool wft;              /* run (or schedule) a workflow task after the events */
} run_op_args;

/* Append a->types/attrs to the run (nothing if it is closed or gone), resolving a command,
 * then run or schedule a workflow task; recomputed when stale. */
sl_code sl__run_op(sl_engine *e, const run_op_args *a, sl_err *err);

#endif
