/*
 * schedule.c - schedules: their spec (cron or interval), the fires due, overlap policies,
 * catch-up, and the operator commands. All changes run in the engine's transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "sluice/cron.h"
#include "sluice/schedule.h"

#define MAX_ACTIONS       20
#define MAX_FIRES_PER_RUN 1000
#define DEFAULT_CATCHUP   (24 * 3600 * 1000LL)

void sl_schedule_opts_init(sl_schedule_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->task_queue = "default";
    o->overlap = "skip";
    o->catchup_ms = DEFAULT_CATCHUP;
    o->timezone = "UTC";
}

/* ---- spec ---------------------------------------------------------------------------- */

typedef struct spec {
    sl_cron *cron;
    sl_tz *tz; /* cron fields are wall-clock time here; NULL: UTC */
    int64_t every_ms;
} spec;

/* text: the stored spec JSON; zone: the schedule's zone (NULL or "UTC": UTC). */
static sl_code spec_parse(const char *text, const char *zone, spec *sp, sl_err *err)
{
    memset(sp, 0, sizeof(*sp));
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    json_t *c = json_object_get(j, "cron");
    json_t *ev = json_object_get(j, "every_ms");
    sl_code rc = SL_OK;
    if (json_is_string(c))
        rc = sl_cron_parse(json_string_value(c), &sp->cron, err);
    else if (json_is_integer(ev) && json_integer_value(ev) > 0)
        sp->every_ms = json_integer_value(ev);
    else
        rc = sl_err_set(err, SL_EINVAL, "schedule spec needs a cron expression or an interval");
    json_decref(j);
    /* every spec validates its zone; only a cron reads its fields in it */
    if (rc == SL_OK && zone && (rc = sl_tz_load(zone, &sp->tz, err)) != SL_OK) {
        sl_cron_free(sp->cron);
        sp->cron = NULL;
    }
    return rc;
}

static void spec_free(spec *sp)
{
    sl_cron_free(sp->cron);
    sl_tz_free(sp->tz);
}

/* First fire strictly after t, or -1. */
static int64_t spec_next(const spec *sp, int64_t t)
{
    if (sp->cron)
        return sl_cron_next_tz(sp->cron, sp->tz, t);
    return (t / sp->every_ms + 1) * sp->every_ms;
}

static bool overlap_valid(const char *o)
{
    return o && (strcmp(o, "skip") == 0 || strcmp(o, "buffer_one") == 0 ||
                 strcmp(o, "allow_all") == 0 || strcmp(o, "cancel_other") == 0);
}

/* ---- fires ----------------------------------------------------------------------------- */

static void fire_id(const char *sid, int64_t t, char *out, size_t len)
{
    char ts[40];
    sl_time_format(t, ts, sizeof(ts));
    if (t % 1000 == 0) /* "2026-11-25T13:00:00.000Z" -> "2026-11-25T13:00:00Z" */
        memmove(ts + 19, ts + 23, strlen(ts + 23) + 1);
    snprintf(out, len, "%s-%s", sid, ts);
}

static void add_action(sl_schedule_row *r, const char *action, int64_t scheduled,
                       const char *workflow_id, const char *run_id)
{
    json_error_t je;
    json_t *arr = r->actions ? json_loads(r->actions, 0, &je) : NULL;
    if (!json_is_array(arr)) {
        json_decref(arr);
        arr = json_array();
    }
    char now[40], st[40];
    json_t *a = json_pack("{s:s,s:s,s:s}", "time", sl_time_format(sl_now_ms(), now, sizeof(now)),
                          "action", action, "scheduled_time",
                          sl_time_format(scheduled, st, sizeof(st)));
    if (workflow_id)
        json_object_set_new(a, "workflow_id", json_string(workflow_id));
    if (run_id)
        json_object_set_new(a, "run_id", json_string(run_id));
    json_array_append_new(arr, a);
    while (json_array_size(arr) > MAX_ACTIONS)
        json_array_remove(arr, 0);
    free(r->actions);
    r->actions = sl_json_dumps(arr);
    json_decref(arr);
}

struct open_ctx {
    size_t prefix_len;
    json_t *ids;
};

static void open_cb(const sl_run_row *r, void *arg)
{
    struct open_ctx *c = arg;
    int64_t ms;
    /* only "<sid>-<time>" ids: another schedule's id may share the prefix */
    if (sl_time_parse(r->workflow_id + c->prefix_len, &ms, NULL) == SL_OK)
        json_array_append_new(c->ids, json_string(r->workflow_id));
}

/* Workflow ids of the schedule's open runs (owned array). */
static json_t *open_runs(sl_engine *e, const char *sid, sl_err *err, sl_code *rc)
{
    char *prefix = sl_xasprintf("%s-", sid);
    struct open_ctx c = {.prefix_len = strlen(prefix), .ids = sl_json_check(json_array())};
    *rc = sl_store_runs_open_prefix(e->st, prefix, open_cb, &c, err);
    free(prefix);
    return c.ids;
}

/* Start the fire at t unless it was started before. *started says whether it was. */
static sl_code start_fire(sl_engine *e, sl_schedule_row *r, int64_t t, bool manual,
                          bool *started, sl_start_result *res, sl_err *err)
{
    char id[SL_WORKFLOW_ID_MAX + 1];
    fire_id(r->schedule_id, t, id, sizeof(id));
    *started = false;
    sl_run_row existing;
    sl_code rc = sl_store_run_find(e->st, id, NULL, &existing, err);
    if (rc == SL_OK) {
        sl_run_row_cleanup(&existing);
        if (res) {
            memset(res, 0, sizeof(*res));
            snprintf(res->workflow_id, sizeof(res->workflow_id), "%s", id);
            res->existing = true;
        }
        return SL_OK; /* this fire was started before */
    }
    if (rc != SL_ENOTFOUND)
        return rc;
    sl_err_clear(err);
    json_error_t je;
    json_t *input = r->input ? json_loads(r->input, JSON_DECODE_ANY, &je) : NULL;
    sl_start_opts o = {.workflow_id = id, .task_queue = r->task_queue};
    int64_t visible = r->jitter_ms > 0 && !manual
                          ? sl_now_ms() + (int64_t)(sl_rand_unit() * (double)r->jitter_ms)
                          : 0;
    sl_start_result local;
    rc = sl__op_start_at(e, r->workflow_type, input, &o, visible, res ? res : &local, err);
    json_decref(input);
    if (rc == SL_OK) {
        *started = true;
        add_action(r, manual ? "triggered" : "started", t, id,
                   res ? res->run_id : local.run_id);
    }
    return rc;
}

/* Apply the overlap policy to the fire at t. */
static sl_code fire(sl_engine *e, sl_schedule_row *r, int64_t t, const char *overlap,
                    sl_err *err)
{
    sl_code rc;
    json_t *running = open_runs(e, r->schedule_id, err, &rc);
    size_t n_running = json_array_size(running);
    bool started;
    if (rc != SL_OK) {
        json_decref(running);
        return rc;
    }
    if (n_running > 0 && strcmp(overlap, "skip") == 0) {
        add_action(r, "skipped", t, json_string_value(json_array_get(running, 0)), NULL);
    } else if (n_running > 0 && strcmp(overlap, "buffer_one") == 0) {
        if (!r->buffered_ms) {
            r->buffered_ms = t;
            add_action(r, "buffered", t, NULL, NULL);
        } else {
            add_action(r, "skipped", t, NULL, NULL);
        }
    } else {
        if (n_running > 0 && strcmp(overlap, "cancel_other") == 0) {
            size_t i;
            json_t *id;
            json_array_foreach(running, i, id)
            {
                bool already;
                sl_code crc = sl__op_cancel(e, json_string_value(id), "canceled by schedule",
                                            &already, err);
                if (crc == SL_EIO || crc == SL_EBUSY) {
                    json_decref(running);
                    return crc;
                }
                sl_err_clear(err);
                add_action(r, "canceled_other", t, json_string_value(id), NULL);
            }
        }
        rc = start_fire(e, r, t, false, &started, NULL, err);
    }
    json_decref(running);
    return rc;
}

static sl_code process_one(sl_engine *e, sl_schedule_row *r, int64_t now, int *found,
                           sl_err *err)
{
    spec sp;
    sl_code rc = spec_parse(r->spec, r->timezone, &sp, err);
    if (rc != SL_OK) {
        /* A broken spec must not block the others: pause it with a note. */
        r->paused = true;
        free(r->note);
        r->note = sl_xasprintf("paused: %s", err->msg);
        sl_err_clear(err);
        r->updated_ms = now;
        return sl_store_schedule_update(e->st, r, err);
    }
    /* A buffered fire starts once nothing of this schedule runs. */
    if (r->buffered_ms) {
        json_t *running = open_runs(e, r->schedule_id, err, &rc);
        size_t n = json_array_size(running);
        json_decref(running);
        if (rc == SL_OK && n == 0) {
            bool started;
            int64_t t = r->buffered_ms;
            r->buffered_ms = 0;
            rc = start_fire(e, r, t, false, &started, NULL, err);
            (*found)++;
        }
    }
    int64_t t = r->next_fire_ms;
    int fires = 0, missed = 0;
    int64_t first_missed = 0;
    while (rc == SL_OK && t > 0 && t <= now && fires < MAX_FIRES_PER_RUN) {
        if (now - t > r->catchup_ms) {
            if (!missed)
                first_missed = t;
            missed++;
        } else {
            rc = fire(e, r, t, r->overlap, err);
            (*found)++;
        }
        fires++;
        t = spec_next(&sp, t);
    }
    if (missed) {
        char note[64];
        snprintf(note, sizeof(note), "missed %d (outside the catch-up window)", missed);
        add_action(r, note, first_missed, NULL, NULL);
    }
    spec_free(&sp);
    if (rc != SL_OK)
        return rc;
    r->next_fire_ms = t > 0 ? t : 0;
    r->updated_ms = now;
    return sl_store_schedule_update(e->st, r, err);
}

struct due_ctx {
    sl_engine *e;
    int64_t now;
    int *found;
    sl_err *err;
    sl_code rc;
};

static void due_cb(const sl_schedule_row *r, void *arg)
{
    struct due_ctx *c = arg;
    if (c->rc != SL_OK)
        return;
    sl_schedule_row copy = *r;
    /* each_sched frees the row after the callback: work on a deep copy */
    copy.schedule_id = sl_xstrdup(r->schedule_id);
    copy.spec = sl_xstrdup(r->spec);
    copy.workflow_type = sl_xstrdup(r->workflow_type);
    copy.input = r->input ? sl_xstrdup(r->input) : NULL;
    copy.task_queue = sl_xstrdup(r->task_queue);
    copy.overlap = sl_xstrdup(r->overlap);
    copy.timezone = r->timezone ? sl_xstrdup(r->timezone) : NULL;
    copy.note = r->note ? sl_xstrdup(r->note) : NULL;
    copy.actions = r->actions ? sl_xstrdup(r->actions) : NULL;
    c->rc = process_one(c->e, &copy, c->now, c->found, c->err);
    sl_schedule_row_cleanup(&copy);
}

sl_code sl__schedules_process(sl_engine *e, int64_t now, int *found, sl_err *err)
{
    int64_t next;
    sl_code rc = sl_store_schedule_next(e->st, &next, err);
    if (rc != SL_OK || next > now)
        return rc;
    struct due_ctx c = {.e = e, .now = now, .found = found, .err = err, .rc = SL_OK};
    rc = sl_store_schedules_due(e->st, now, due_cb, &c, err);
    return rc != SL_OK ? rc : c.rc;
}

/* ---- operator commands -------------------------------------------------------------------- */

struct sched_call {
    const sl_schedule_opts *o;
    const char *id;
    bool pause;
    const char *note;
    int64_t from, to;
    const char *overlap;
    int n_next;
    json_t *out;
    sl_start_result res;
};

static sl_code run_call(sl_engine *e, sl__call_fn fn, struct sched_call *c, sl_err *err)
{
    return sl__engine_call(e, fn, c, 0, err);
}

static bool valid_schedule_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 200)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f)
            return false;
    return true;
}

static sl_code create_fn(sl_engine *e, void *arg, sl_err *err)
{
    struct sched_call *c = arg;
    const sl_schedule_opts *o = c->o;
    if (!o->id || !valid_schedule_id(o->id))
        return sl_err_set(err, SL_EINVAL, "schedule id must be 1-200 characters without spaces");
    if (!o->workflow_type || !sl_registry_workflow(e->reg, o->workflow_type))
        return sl_err_set(err, SL_EINVAL, "unknown workflow type '%s' (known: %s)",
                          o->workflow_type ? o->workflow_type : "",
                          sl_registry_workflow_names(e->reg));
    if (o->task_queue && sl_engine_name_check("task queue name", o->task_queue, err) != SL_OK)
        return SL_EINVAL;
    if ((o->cron != NULL) == (o->every_ms > 0))
        return sl_err_set(err, SL_EINVAL, "give exactly one of --cron and --every");
    if (!overlap_valid(o->overlap))
        return sl_err_set(err, SL_EINVAL,
                          "unknown overlap policy '%s' (skip, buffer_one, allow_all, cancel_other)",
                          o->overlap ? o->overlap : "");
    json_t *spj = o->cron ? json_pack("{s:s}", "cron", o->cron)
                          : json_pack("{s:I}", "every_ms", (json_int_t)o->every_ms);
    char *spec_text = sl_json_dumps(spj);
    json_decref(spj);
    spec sp;
    sl_code rc = spec_parse(spec_text, o->timezone, &sp, err);
    if (rc != SL_OK) {
        free(spec_text);
        return rc;
    }
    if (!o->cron && strcmp(sl_tz_name(sp.tz), "UTC") != 0) {
        /* an interval runs in real time; a zone would mean nothing */
        spec_free(&sp);
        free(spec_text);
        return sl_err_set(err, SL_EINVAL, "--timezone applies to --cron schedules only; "
                                          "--every runs in real time");
    }
    const char *zone = sl_tz_name(sp.tz);
    int64_t now = sl_now_ms();
    int64_t next = spec_next(&sp, now);
    if (o->cron && next < 0) {
        /* "0 0 30 2 *" parses, but a schedule that can never fire is a mistake */
        spec_free(&sp);
        free(spec_text);
        return sl_err_set(err, SL_EINVAL,
                          "cron '%s' never fires in the next %d days (is the day in the month?)",
                          o->cron, SL_CRON_HORIZON_DAYS);
    }
    sl_schedule_row r = {
        .schedule_id = (char *)o->id,
        .spec = spec_text,
        .workflow_type = (char *)o->workflow_type,
        .task_queue = (char *)(o->task_queue ? o->task_queue : "default"),
        .overlap = (char *)o->overlap,
        .catchup_ms = o->catchup_ms > 0 ? o->catchup_ms : DEFAULT_CATCHUP,
        .jitter_ms = o->jitter_ms,
        .timezone = (char *)zone,
        .paused = o->paused,
        .note = (char *)o->note,
        .next_fire_ms = next > 0 ? next : 0,
        .created_ms = now,
        .updated_ms = now,
        .actions = "[]",
    };
    r.input = o->input ? sl_json_dumps(o->input) : NULL;
    rc = sl_store_schedule_insert(e->st, &r, err);
    free(r.input);
    spec_free(&sp);
    free(spec_text);
    /* wake pollers early for the first fire */
    if (rc == SL_OK && next > 0)
        sl__engine_wake_at(e, next);
    return rc;
}

sl_code sl_schedule_create(sl_engine *e, const sl_schedule_opts *o, sl_err *err)
{
    struct sched_call c = {.o = o};
    return run_call(e, create_fn, &c, err);
}

/* t as wall-clock time in tz with its offset: "2026-11-26T02:00:00+01:00". */
static const char *local_time(const sl_tz *tz, int64_t t, char *buf, size_t len)
{
    int32_t off = sl_tz_offset(tz, t / 1000);
    char ts[40];
    sl_time_format(t + (int64_t)off * 1000, ts, sizeof(ts)); /* "...T02:00:00.000Z" */
    ts[t % 1000 == 0 ? 19 : 23] = '\0';
    unsigned a = (unsigned)(off < 0 ? -off : off) % 86400;
    snprintf(buf, len, "%.23s%c%02u:%02u", ts, off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
    return buf;
}

static json_t *row_json(const sl_schedule_row *r, int n_next)
{
    char buf[40];
    json_error_t je;
    json_t *spj = json_loads(r->spec, 0, &je);
    json_t *j = sl_json_check(json_pack(
        "{s:s,s:s,s:s,s:s,s:b,s:s,s:s}", "schedule_id", r->schedule_id, "workflow_type",
        r->workflow_type, "task_queue", r->task_queue, "overlap", r->overlap, "paused", r->paused,
        "catchup_window", sl_duration_format(r->catchup_ms, buf, sizeof(buf)), "timezone",
        r->timezone ? r->timezone : "UTC"));
    json_t *c = json_object_get(spj, "cron");
    if (c)
        json_object_set(j, "cron", c);
    else
        json_object_set_new(
            j, "every",
            json_string(sl_duration_format(json_integer_value(json_object_get(spj, "every_ms")),
                                           buf, sizeof(buf))));
    if (r->jitter_ms)
        json_object_set_new(j, "jitter", json_string(sl_duration_format(r->jitter_ms, buf,
                                                                         sizeof(buf))));
    if (r->note)
        json_object_set_new(j, "note", json_string(r->note));
    json_error_t je2;
    json_t *input = r->input ? json_loads(r->input, JSON_DECODE_ANY, &je2) : json_null();
    json_object_set_new(j, "input", input ? input : json_null());
    json_t *next = json_array(), *local = NULL;
    spec sp;
    if (n_next > 0 && !r->paused && spec_parse(r->spec, r->timezone, &sp, NULL) == SL_OK) {
        if (sp.tz && strcmp(sl_tz_name(sp.tz), "UTC") != 0)
            local = json_array();
        int64_t t = r->next_fire_ms;
        for (int i = 0; i < n_next && t > 0; i++) {
            json_array_append_new(next, json_string(sl_time_format(t, buf, sizeof(buf))));
            if (local)
                json_array_append_new(local, json_string(local_time(sp.tz, t, buf,
                                                                    sizeof(buf))));
            t = spec_next(&sp, t);
        }
        spec_free(&sp);
    }
    json_object_set_new(j, "next_fire_times", next);
    if (local)
        json_object_set_new(j, "next_fire_times_local", local);
    json_t *acts = r->actions ? json_loads(r->actions, 0, &je) : NULL;
    json_object_set_new(j, "recent_actions", acts ? acts : json_array());
    json_decref(spj);
    return j;
}

static sl_code describe_fn(sl_engine *e, void *arg, sl_err *err)
{
    struct sched_call *c = arg;
    sl_schedule_row r;
    sl_code rc = sl_store_schedule_get(e->st, c->id, &r, err);
    if (rc != SL_OK)
        return rc;
    c->out = row_json(&r, c->n_next);
    json_t *running = open_runs(e, c->id, err, &rc);
    json_object_set_new(c->out, "running", running);
    sl_schedule_row_cleanup(&r);
    return rc;
}

sl_code sl_schedule_describe(sl_engine *e, const char *id, int n_next, json_t **out, sl_err *err)
{
    struct sched_call c = {.id = id, .n_next = n_next};
    sl_code rc = run_call(e, describe_fn, &c, err);
    *out = c.out;
    return rc;
}

static void list_cb(const sl_schedule_row *r, void *arg)
{
    json_array_append_new((json_t *)arg, row_json(r, 1));
}

static sl_code list_fn(sl_engine *e, void *arg, sl_err *err)
{
    struct sched_call *c = arg;
    c->out = sl_json_check(json_array());
    return sl_store_schedule_list(e->st, list_cb, c->out, err);
}

sl_code sl_schedule_list(sl_engine *e, json_t **out, sl_err *err)
{
    struct sched_call c = {0};
    sl_code rc = run_call(e, list_fn, &c, err);
    *out = c.out;
    return rc;
}

static sl_code pause_fn(sl_engine *e, void *arg, sl_err *err)
{
    struct sched_call *c = arg;
    sl_schedule_row r;
    sl_code rc = sl_store_schedule_get(e->st, c->id, &r, err);
    if (rc != SL_OK)
        return rc;
    int64_t now = sl_now_ms();
    if (!c->pause && r.paused) {
        /* resume from the next fire after now: what was missed while paused is not run */
        spec sp;
        if ((rc = spec_parse(r.spec, r.timezone, &sp, err)) != SL_OK) {
            sl_schedule_row_cleanup(&r);
            return rc;
        }
        int64_t next = spec_next(&sp, now);
        r.next_fire_ms = next > 0 ? next : 0;
        spec_free(&sp);
    }
    r.paused = c->pause;
    free(r.note);
    r.note = c->note ? sl_xstrdup(c->note) : NULL;
    add_action(&r, c->pause ? "paused" : "unpaused", now, NULL, NULL);
    r.updated_ms = now;
    rc = sl_store_schedule_update(e->st, &r, err);
    sl_schedule_row_cleanup(&r);
    return rc;
}

sl_code sl_schedule_pause(sl_engine *e, const char *id, bool pause, const char *note, sl_err *err)
{
    struct sched_call c = {.id = id, .pause = pause, .note = note};
    return run_call(e, pause_fn, &c, err);
}

static sl_code trigger_fn(sl_engine *e, void *arg, sl_err *err)
{
    struct sched_call *c = arg;
    sl_schedule_row r;
    sl_code rc = sl_store_schedule_get(e->st, c->id, &r, err);
    if (rc != SL_OK)
        return rc;
    bool started;
    rc = start_fire(e, &r, sl_now_ms(), true, &started, &c->res, err);
    if (rc == SL_OK && !started)
        rc = sl_err_set(err, SL_ECONFLICT, "a run for this instant already exists; try again");
    if (rc == SL_OK) {
        r.updated_ms = sl_now_ms();
        rc = sl_store_schedule_update(e->st, &r, err);
    }
    sl_schedule_row_cleanup(&r);
    return rc;
}

sl_code sl_schedule_trigger(sl_engine *e, const char *id, sl_start_result *res, sl_err *err)
{
    struct sched_call c = {.id = id};
    sl_code rc = run_call(e, trigger_fn, &c, err);
    if (rc == SL_OK)
        *res = c.res;
    return rc;
}

static sl_code backfill_fn(sl_engine *e, void *arg, sl_err *err)
{
    struct sched_call *c = arg;
    sl_schedule_row r;
    sl_code rc = sl_store_schedule_get(e->st, c->id, &r, err);
    if (rc != SL_OK)
        return rc;
    spec sp;
    if ((rc = spec_parse(r.spec, r.timezone, &sp, err)) != SL_OK) {
        sl_schedule_row_cleanup(&r);
        return rc;
    }
    c->out = sl_json_check(json_array());
    const char *overlap = c->overlap ? c->overlap : "allow_all";
    int n = 0;
    for (int64_t t = spec_next(&sp, c->from - 1); t > 0 && t < c->to && rc == SL_OK;
         t = spec_next(&sp, t)) {
        if (++n > 10000) {
            rc = sl_err_set(err, SL_ELIMIT, "backfill range holds more than 10000 fires");
            break;
        }
        char id[SL_WORKFLOW_ID_MAX + 1];
        fire_id(r.schedule_id, t, id, sizeof(id));
        sl_run_row existing;
        sl_code frc = sl_store_run_find(e->st, id, NULL, &existing, err);
        if (frc == SL_OK) {
            sl_run_row_cleanup(&existing);
            continue; /* already started */
        }
        sl_err_clear(err);
        rc = fire(e, &r, t, overlap, err);
        sl_run_row started;
        if (rc == SL_OK && sl_store_run_find(e->st, id, NULL, &started, NULL) == SL_OK) {
            json_array_append_new(c->out, json_string(id));
            sl_run_row_cleanup(&started);
        }
    }
    spec_free(&sp);
    if (rc == SL_OK) {
        r.updated_ms = sl_now_ms();
        rc = sl_store_schedule_update(e->st, &r, err);
    }
    sl_schedule_row_cleanup(&r);
    return rc;
}

sl_code sl_schedule_backfill(sl_engine *e, const char *id, int64_t from_ms, int64_t to_ms,
                             const char *overlap, json_t **started, sl_err *err)
{
    if (to_ms <= from_ms)
        return sl_err_set(err, SL_EINVAL, "backfill --to must be after --from");
    if (overlap && !overlap_valid(overlap))
        return sl_err_set(err, SL_EINVAL, "unknown overlap policy '%s'", overlap);
    struct sched_call c = {.id = id, .from = from_ms, .to = to_ms, .overlap = overlap};
    sl_code rc = run_call(e, backfill_fn, &c, err);
    if (rc != SL_OK) {
        json_decref(c.out);
        c.out = NULL;
    }
    *started = c.out;
    return rc;
}

static sl_code delete_fn(sl_engine *e, void *arg, sl_err *err)
{
    struct sched_call *c = arg;
    bool found;
    sl_code rc = sl_store_schedule_delete(e->st, c->id, &found, err);
    if (rc == SL_OK && !found)
        rc = sl_err_set(err, SL_ENOTFOUND, "no schedule '%s'", c->id);
    return rc;
}

sl_code sl_schedule_delete(sl_engine *e, const char *id, sl_err *err)
{
    struct sched_call c = {.id = id};
    return run_call(e, delete_fn, &c, err);
}
