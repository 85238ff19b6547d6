/*
 * schedule.h - schedules: start a workflow on a cron spec or a fixed interval.
 *
 * Each fire starts workflow `type` with id "<schedule id>-<scheduled time, UTC ISO-8601>"
 * (e.g. nightly-2026-11-25T02:00:00Z), so a fire is never started twice, whichever
 * worker sees it first. Workers process due schedules as part of their polling.
 *
 * Overlap policy, when a fire comes while the previous run is still open:
 *   skip          the fire is skipped (default)
 *   buffer_one    one fire waits and starts when the running one closes; more are dropped
 *   allow_all     every fire starts
 *   cancel_other  the running one gets a cancel request and the fire starts
 * Fires missed while nothing ran are caught up if they are within the catch-up window
 * (default 1 day); older ones are recorded as missed. Paused schedules fire nothing;
 * unpausing resumes from the next fire after now. Cron fields are read in the schedule's
 * time zone (IANA name, default UTC; see sl_cron_next_tz for daylight-saving changes);
 * workflow ids and stored times are UTC.
 */
#ifndef SLUICE_SCHEDULE_H
#define SLUICE_SCHEDULE_H

#include "sluice/engine.h"

typedef struct sl_schedule_opts {
    const char *id;
    const char *workflow_type;
    const json_t *input;
    const char *task_queue;  /* default "default" */
    const char *cron;        /* one of cron ... */
    int64_t every_ms;        /* ... or every_ms */
    const char *overlap;     /* default "skip" */
    int64_t catchup_ms;      /* default 1 day */
    int64_t jitter_ms;       /* random delay added to each start, default 0 */
    const char *timezone;    /* IANA zone for cron fields, e.g. "Europe/Amsterdam"; "UTC" */
    bool paused;
    const char *note;
} sl_schedule_opts;

void sl_schedule_opts_init(sl_schedule_opts *o);

/* SL_EINVAL: bad spec, policy, type or id (one line); SL_ECONFLICT: the id exists. */
SL_MUST_USE sl_code sl_schedule_create(sl_engine *e, const sl_schedule_opts *o, sl_err *err);
/* JSON object: the schedule, its next n fire times, recent actions, open runs. */
SL_MUST_USE sl_code sl_schedule_describe(sl_engine *e, const char *id, int n_next, json_t **out,
                                         sl_err *err);
SL_MUST_USE sl_code sl_schedule_list(sl_engine *e, json_t **out, sl_err *err);
SL_MUST_USE sl_code sl_schedule_pause(sl_engine *e, const char *id, bool pause, const char *note,
                                      sl_err *err);
/* Start a run now (whatever the overlap policy), id "<schedule id>-<now>". */
SL_MUST_USE sl_code sl_schedule_trigger(sl_engine *e, const char *id, sl_start_result *res,
                                        sl_err *err);
/* Start the fires scheduled in [from_ms, to_ms); *started (owned) lists workflow ids. Fires
 * already started are skipped. overlap NULL: allow_all. */
SL_MUST_USE sl_code sl_schedule_backfill(sl_engine *e, const char *id, int64_t from_ms,
                                         int64_t to_ms, const char *overlap, json_t **started,
                                         sl_err *err);
SL_MUST_USE sl_code sl_schedule_delete(sl_engine *e, const char *id, sl_err *err);

#endif
