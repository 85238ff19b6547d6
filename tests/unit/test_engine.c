/* test_engine.c - the engine end to end on a temporary database: a threaded engine and a worker
 * running workflows and activities defined here, under an injected clock. Covers a step and its
 * history, idempotent start, retries whose delays follow the policy, durable timers, an expired
 * lease recorded as a timed-out attempt and retried, cancel and terminate, a worker drained
 * (nothing runnable now) but not idle while a run sleeps, a restart that continues an open run,
 * and store faults injected on the engine's own connection.
 *
 * Time: everything the engine decides (retry and timer times, leases, maintenance, when it
 * next polls) is sl_now_ms, which here is a fake clock the test moves. Only the engine's idle
 * waits and the worker's task waits are real, and both are short. A test never sleeps to let
 * something happen: it polls observable state (history, describe) in a bounded loop, moving
 * the fake clock a few ms per round when the engine must see time pass to poll again. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sluice/engine.h"
#include "sluice/schedule.h"
#include "sluice/store.h"
#include "sluice/worker.h"

/* ---- the fake clock ------------------------------------------------------------------- */

#define T0 INT64_C(1700000000000) /* 2023-11-14T22:13:20Z */

static int64_t fake_now_ms;

static int64_t fake_clock(void *arg)
{
    (void)arg;
    return __atomic_load_n(&fake_now_ms, __ATOMIC_ACQUIRE);
}

static void clock_set(int64_t ms)
{
    __atomic_store_n(&fake_now_ms, ms, __ATOMIC_RELEASE);
}

static void clock_advance(int64_t ms)
{
    __atomic_add_fetch(&fake_now_ms, ms, __ATOMIC_ACQ_REL);
}

/* ---- activities and workflows of this test ---------------------------------------------- */

/* A gate that attempt 1 of the "gate" activity waits at until the test opens it. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
    int started;  /* attempt-1 runs that reached the gate */
    int finished; /* ... and returned */
} gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0, 0};

static int flaky_runs; /* atomic: attempts of "flaky" so far */

static json_t *echo_act(sl_act *act, const json_t *in)
{
    return json_pack("{s:O,s:i}", "input", (json_t *)in, "attempt", sl_act_attempt(act));
}

/* Fails its first two attempts, then succeeds. */
static json_t *flaky_act(sl_act *act, const json_t *in)
{
    (void)in;
    __atomic_add_fetch(&flaky_runs, 1, __ATOMIC_ACQ_REL);
    if (sl_act_attempt(act) <= 2)
        return sl_act_fail(act, "Flaky", "attempt %d fails", sl_act_attempt(act));
    return json_pack("{s:i}", "attempt", sl_act_attempt(act));
}

/* Attempt 1 stops heartbeating: it waits at the gate. Later attempts return at once. */
static json_t *gate_act(sl_act *act, const json_t *in)
{
    (void)in;
    if (sl_act_attempt(act) == 1) {
        pthread_mutex_lock(&gate.mu);
        gate.started++;
        pthread_cond_broadcast(&gate.cv);
        while (!gate.open)
            pthread_cond_wait(&gate.cv, &gate.mu);
        gate.finished++;
        pthread_cond_broadcast(&gate.cv);
        pthread_mutex_unlock(&gate.mu);
    }
    return json_pack("{s:i}", "attempt", sl_act_attempt(act));
}

static sl_wf_status one_step(sl_wf *wf, const json_t *in, json_t **out)
{
    const json_t *r;
    SL_AWAIT(wf, sl_activity(wf, "echo", json_incref((json_t *)in), NULL), &r);
    *out = json_pack("{s:O}", "echo", (json_t *)r);
    return SL_WF_DONE;
}

static sl_wf_status retrying(sl_wf *wf, const json_t *in, json_t **out)
{
    (void)in;
    sl_activity_opts o;
    sl_activity_opts_init(&o);
    o.has_retry = true;
    sl_retry_policy_init(&o.retry);
    o.retry.initial_interval_ms = 1000;
    o.retry.backoff_coefficient = 2.0;
    o.retry.maximum_interval_ms = 100000;
    o.retry.maximum_attempts = 5;
    o.retry.jitter = 0;
    const json_t *r;
    SL_AWAIT(wf, sl_activity(wf, "flaky", NULL, &o), &r);
    *out = json_pack("{s:O}", "flaky", (json_t *)r);
    return SL_WF_DONE;
}

/* A durable minute, then one step. */
static sl_wf_status sleeper(sl_wf *wf, const json_t *in, json_t **out)
{
    (void)in;
    const json_t *r;
    SL_SLEEP(wf, 60000);
    SL_AWAIT(wf, sl_activity(wf, "echo", json_string("after"), NULL), &r);
    *out = json_pack("{s:O}", "echo", (json_t *)r);
    return SL_WF_DONE;
}

/* One "gate" step with a 1 s heartbeat timeout, retried after 500 ms. */
static sl_wf_status gated(sl_wf *wf, const json_t *in, json_t **out)
{
    (void)in;
    sl_activity_opts o;
    sl_activity_opts_init(&o);
    o.heartbeat_ms = 1000;
    o.start_to_close_ms = 600000;
    o.has_retry = true;
    sl_retry_policy_init(&o.retry);
    o.retry.initial_interval_ms = 500;
    o.retry.maximum_attempts = 3;
    const json_t *r;
    SL_AWAIT(wf, sl_activity(wf, "gate", NULL, &o), &r);
    *out = json_pack("{s:O}", "gate", (json_t *)r);
    return SL_WF_DONE;
}

/* ---- fixture: one engine and worker per test ------------------------------------------------ */

static sl_registry *reg;
static char dir[64];
static char db_path[128];
static sl_engine *E;
static sl_worker *W;

static void engine_up(void)
{
    sl_engine_opts o;
    sl_engine_opts_init(&o);
    o.db_path = db_path;
    o.registry = reg;
    o.threaded = true;
    o.maintenance_ms = 100;
    o.identity = "test-engine";
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_engine_open(&o, &E, &err), SL_OK);
    sl_worker_opts wo;
    sl_worker_opts_init(&wo);
    wo.concurrency = 2;
    wo.shutdown_grace_ms = 5000;
    assert_int_equal(sl_worker_start(E, &wo, &W, &err), SL_OK);
}

static void engine_down(void)
{
    if (W)
        assert_true(sl_worker_stop(W));
    W = NULL;
    sl_engine_close(E);
    E = NULL;
}

static void gate_reset(void)
{
    pthread_mutex_lock(&gate.mu);
    gate.open = false;
    gate.started = gate.finished = 0;
    pthread_mutex_unlock(&gate.mu);
}

static void gate_open(void)
{
    pthread_mutex_lock(&gate.mu);
    gate.open = true;
    pthread_cond_broadcast(&gate.cv);
    pthread_mutex_unlock(&gate.mu);
}

static int gate_count(const int *field)
{
    pthread_mutex_lock(&gate.mu);
    int n = *field;
    pthread_mutex_unlock(&gate.mu);
    return n;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/sluice-test-engine.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(db_path, sizeof(db_path), "%s/engine.db", dir);
    clock_set(T0); /* no engine thread runs between tests */
    gate_reset();
    __atomic_store_n(&flaky_runs, 0, __ATOMIC_RELEASE);
    engine_up();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gate_open(); /* never leave an activity thread waiting, even after a failed assertion */
    engine_down();
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- observing the engine ------------------------------------------------------------------ */

static json_t *history(const char *wid)
{
    json_t *h = NULL;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_engine_history(E, wid, NULL, 0, &h, NULL, NULL, &err), SL_OK);
    return h;
}

/* Events of `type` in wid's history. */
static int n_events(const char *wid, const char *type)
{
    json_t *h = history(wid);
    int n = 0;
    size_t i;
    json_t *ev;
    json_array_foreach(h, i, ev)
    {
        if (strcmp(json_string_value(json_object_get(ev, "type")), type) == 0)
            n++;
    }
    json_decref(h);
    return n;
}

/* The k-th (from 0) event of `type` in h, borrowed. */
static json_t *event_of(json_t *h, const char *type, int k)
{
    size_t i;
    json_t *ev;
    json_array_foreach(h, i, ev)
    {
        if (strcmp(json_string_value(json_object_get(ev, "type")), type) == 0 && k-- == 0)
            return ev;
    }
    fail_msg("no %s event", type);
    return NULL;
}

static int64_t time_of(const json_t *v)
{
    int64_t ms = 0;
    assert_int_equal(sl_time_parse(json_string_value(v), &ms, NULL), SL_OK);
    return ms;
}

/* Event types of h, comma separated, and checks the ids are 1, 2, 3, ... */
static char *types_of(json_t *h)
{
    static char buf[2048];
    buf[0] = '\0';
    size_t i;
    json_t *ev;
    json_array_foreach(h, i, ev)
    {
        assert_int_equal(json_integer_value(json_object_get(ev, "event_id")), (json_int_t)i + 1);
        if (i)
            strncat(buf, ",", sizeof(buf) - strlen(buf) - 1);
        strncat(buf, json_string_value(json_object_get(ev, "type")), sizeof(buf) - strlen(buf) - 1);
    }
    return buf;
}

static bool status_is(const char *wid, const char *status)
{
    json_t *d = NULL;
    assert_int_equal(sl_engine_describe(E, wid, NULL, &d, NULL), SL_OK);
    bool same = strcmp(json_string_value(json_object_get(d, "status")), status) == 0;
    json_decref(d);
    return same;
}

static json_t *describe(const char *wid)
{
    json_t *d = NULL;
    assert_int_equal(sl_engine_describe(E, wid, NULL, &d, NULL), SL_OK);
    return d;
}

/*
 * Poll `cond` (about 2 ms apart, at most ~20 s) until it holds; between rounds move the fake
 * clock by tick_ms - 0 when what we wait for needs no time to pass, a few ms when the engine
 * must see time pass to poll the database again.
 */
#define WAIT_FOR(cond, tick_ms)                                                                    \
    do {                                                                                           \
        int rounds_ = 0;                                                                           \
        while (!(cond)) {                                                                          \
            if (++rounds_ > 10000)                                                                 \
                fail_msg("timed out waiting for %s", #cond);                                       \
            clock_advance(tick_ms);                                                                \
            sl_sleep_ms(2);                                                                        \
        }                                                                                          \
    } while (0)

static sl_code nothing(sl_store *st, void *arg, sl_err *err)
{
    (void)st;
    (void)arg;
    (void)err;
    return SL_OK;
}

/* One engine commit after now: the engine has polled at the current fake time (a commit of a
 * batch polls due work), so what was due is done, and what is not due has not happened. */
static void engine_sync(void)
{
    assert_int_equal(sl_engine_exec(E, nothing, NULL, NULL), SL_OK);
}

static void start(const char *type, const char *wid, json_t *input_take, sl_start_result *res)
{
    sl_start_opts so = {.workflow_id = wid};
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_engine_start(E, type, input_take, &so, res, &err), SL_OK);
    json_decref(input_take);
}

/* ---- tests ------------------------------------------------------------------------------- */

/* A blank, space-padded, control-character or over-long workflow id, task queue, schedule
 * queue or signal name is refused where runs are started, limited and served, and nothing is stored; so is a
 * cron schedule that names no real day (February 30). */
static void bad_names_and_never_firing_crons_are_refused(void **state)
{
    (void)state;
    char longname[SL_WORKFLOW_ID_MAX + 2];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    const char *bad[] = {"", " ", "\t", "  keep", "keep ", "a\nb", "a\rb", "\x1b[31mred", "a\x7f",
                         longname};
    sl_err err;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sl_start_result res;
        sl_start_opts by_id = {.workflow_id = bad[i]};
        sl_err_clear(&err);
        assert_int_equal(sl_engine_start(E, "one_step", NULL, &by_id, &res, &err), SL_EINVAL);
        assert_non_null(strstr(err.msg, "workflow id"));
        assert_null(strchr(err.msg, '\n'));
        sl_start_opts by_queue = {.workflow_id = "fine", .task_queue = bad[i]};
        sl_err_clear(&err);
        assert_int_equal(sl_engine_start(E, "one_step", NULL, &by_queue, &res, &err), SL_EINVAL);
        assert_non_null(strstr(err.msg, "task queue name"));
        sl_queue_limit lim = {.concurrency = 1};
        assert_int_equal(sl_engine_queue_limit(E, bad[i], &lim, NULL), SL_EINVAL);
        sl_schedule_opts so;
        sl_schedule_opts_init(&so);
        so.id = "sched";
        so.workflow_type = "one_step";
        so.every_ms = 60000;
        so.task_queue = bad[i];
        assert_int_equal(sl_schedule_create(E, &so, NULL), SL_EINVAL);
        sl_err_clear(&err);
        assert_int_equal(sl_engine_signal(E, "fine", bad[i], NULL, &err), SL_EINVAL);
        assert_non_null(strstr(err.msg, "signal name"));
    }
    assert_int_equal(sl_engine_name_check("workflow id", "a fine id", NULL), SL_OK);
    /* a cron that parses but names no day that exists is refused, one that is rare is not */
    const char *never[] = {"0 0 30 2 *", "* * 31 2 *", "0 0 31 4,6,9,11 *"};
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
        sl_schedule_opts so;
        sl_schedule_opts_init(&so);
        so.id = "never";
        so.workflow_type = "one_step";
        so.cron = never[i];
        sl_err_clear(&err);
        assert_int_equal(sl_schedule_create(E, &so, &err), SL_EINVAL);
        assert_non_null(strstr(err.msg, "never fires"));
    }
    sl_schedule_opts leap;
    sl_schedule_opts_init(&leap);
    leap.id = "leap";
    leap.workflow_type = "one_step";
    leap.cron = "0 0 29 2 *";
    assert_int_equal(sl_schedule_create(E, &leap, NULL), SL_OK);
    json_t *h = NULL;
    assert_int_equal(sl_engine_history(E, "fine", NULL, 0, &h, NULL, NULL, NULL), SL_ENOTFOUND);
}

static void activity_step_completes_with_its_history(void **state)
{
    (void)state;
    sl_start_result res;
    start("one_step", "wf-one", json_pack("{s:s}", "hello", "world"), &res);
    assert_false(res.existing);
    assert_string_equal(res.workflow_id, "wf-one");
    WAIT_FOR(status_is("wf-one", "completed"), 0);
    json_t *h = history("wf-one");
    assert_string_equal(types_of(h), "WorkflowExecutionStarted,ActivityTaskScheduled,"
                                     "ActivityTaskStarted,ActivityTaskCompleted,"
                                     "WorkflowExecutionCompleted");
    json_t *a = json_object_get(event_of(h, "WorkflowExecutionStarted", 0), "attributes");
    assert_string_equal(json_string_value(json_object_get(a, "workflow_type")), "one_step");
    assert_string_equal(json_string_value(json_object_get(a, "workflow_id")), "wf-one");
    json_t *in = json_pack("{s:s}", "hello", "world");
    assert_true(json_equal(json_object_get(a, "input"), in));
    a = json_object_get(event_of(h, "ActivityTaskScheduled", 0), "attributes");
    assert_string_equal(json_string_value(json_object_get(a, "activity_type")), "echo");
    assert_true(json_equal(json_object_get(a, "input"), in));
    a = json_object_get(event_of(h, "ActivityTaskStarted", 0), "attributes");
    assert_int_equal(json_integer_value(json_object_get(a, "attempt")), 1);
    assert_int_equal(json_integer_value(json_object_get(a, "scheduled_event_id")), 2);
    json_t *want = json_pack("{s:O,s:i}", "input", in, "attempt", 1);
    a = json_object_get(event_of(h, "ActivityTaskCompleted", 0), "attributes");
    assert_true(json_equal(json_object_get(a, "result"), want));
    json_t *result = json_pack("{s:O}", "echo", want);
    a = json_object_get(event_of(h, "WorkflowExecutionCompleted", 0), "attributes");
    assert_true(json_equal(json_object_get(a, "result"), result));
    /* every event happened at the (unmoved) fake time */
    assert_int_equal(time_of(json_object_get(event_of(h, "WorkflowExecutionCompleted", 0), "time")),
                     T0);
    json_t *d = describe("wf-one");
    assert_true(json_equal(json_object_get(d, "result"), result));
    assert_int_equal(json_integer_value(json_object_get(d, "history_length")), 5);
    assert_int_equal(json_array_size(json_object_get(d, "pending_activities")), 0);
    json_decref(d);
    json_decref(result);
    json_decref(want);
    json_decref(in);
    json_decref(h);
}

static void start_with_an_open_id_returns_the_open_run(void **state)
{
    (void)state;
    sl_start_result a, b, c;
    start("sleeper", "wf-idem", NULL, &a);
    assert_false(a.existing);
    start("sleeper", "wf-idem", json_string("other input"), &b);
    assert_true(b.existing);
    assert_string_equal(b.run_id, a.run_id);
    json_t *d = describe("wf-idem");
    assert_int_equal(json_array_size(json_object_get(d, "runs")), 1);
    json_decref(d);
    assert_int_equal(n_events("wf-idem", "WorkflowExecutionStarted"), 1);
    /* once the run is closed the id starts a new run */
    bool already;
    assert_int_equal(sl_engine_terminate(E, "wf-idem", "test", &already, NULL), SL_OK);
    start("sleeper", "wf-idem", NULL, &c);
    assert_false(c.existing);
    assert_string_not_equal(c.run_id, a.run_id);
}

static void failed_attempts_are_retried_after_the_policy_delays(void **state)
{
    (void)state;
    sl_start_result res;
    start("retrying", "wf-retry", NULL, &res);
    /* attempt 1 runs at once and fails; attempt 2 is due 1 s (initial_interval) later */
    WAIT_FOR(n_events("wf-retry", "ActivityTaskFailed") == 1, 0);
    json_t *h = history("wf-retry");
    json_t *f1 = event_of(h, "ActivityTaskFailed", 0);
    json_t *a = json_object_get(f1, "attributes");
    int64_t failed1 = time_of(json_object_get(f1, "time"));
    int64_t next2 = time_of(json_object_get(a, "next_attempt_time"));
    assert_int_equal(next2 - failed1, 1000);
    assert_int_equal(json_integer_value(json_object_get(a, "attempt")), 1);
    assert_true(json_is_true(json_object_get(a, "will_retry")));
    assert_string_equal(json_string_value(json_object_get(a, "retry_state")), "in_progress");
    assert_string_equal(json_string_value(json_object_get(json_object_get(a, "failure"), "type")),
                        "Flaky");
    json_decref(h);
    json_t *d = describe("wf-retry");
    json_t *p = json_array_get(json_object_get(d, "pending_activities"), 0);
    assert_string_equal(json_string_value(json_object_get(p, "state")), "backoff");
    assert_int_equal(json_integer_value(json_object_get(p, "attempt")), 2);
    assert_int_equal(time_of(json_object_get(p, "next_attempt_time")), next2);
    json_decref(d);

    /* a millisecond early, nothing runs */
    clock_set(next2 - 1);
    engine_sync();
    assert_int_equal(__atomic_load_n(&flaky_runs, __ATOMIC_ACQUIRE), 1);
    /* at the due time attempt 2 runs and fails; attempt 3 is due 2 s (x coefficient) later */
    clock_set(next2);
    WAIT_FOR(n_events("wf-retry", "ActivityTaskFailed") == 2, 1);
    h = history("wf-retry");
    json_t *f2 = event_of(h, "ActivityTaskFailed", 1);
    a = json_object_get(f2, "attributes");
    int64_t failed2 = time_of(json_object_get(f2, "time"));
    int64_t next3 = time_of(json_object_get(a, "next_attempt_time"));
    assert_true(failed2 >= next2);
    assert_int_equal(next3 - failed2, 2000);
    assert_int_equal(json_integer_value(json_object_get(a, "attempt")), 2);
    json_decref(h);
    clock_set(next3 - 1);
    engine_sync();
    assert_int_equal(__atomic_load_n(&flaky_runs, __ATOMIC_ACQUIRE), 2);
    clock_set(next3);
    WAIT_FOR(status_is("wf-retry", "completed"), 1);
    assert_int_equal(__atomic_load_n(&flaky_runs, __ATOMIC_ACQUIRE), 3);
    h = history("wf-retry");
    assert_string_equal(types_of(h),
                        "WorkflowExecutionStarted,ActivityTaskScheduled,ActivityTaskStarted,"
                        "ActivityTaskFailed,ActivityTaskStarted,ActivityTaskFailed,"
                        "ActivityTaskStarted,ActivityTaskCompleted,WorkflowExecutionCompleted");
    a = json_object_get(event_of(h, "ActivityTaskStarted", 2), "attributes");
    assert_int_equal(json_integer_value(json_object_get(a, "attempt")), 3);
    json_decref(h);
}

static void durable_timer_fires_only_when_the_clock_passes_it(void **state)
{
    (void)state;
    sl_start_result res;
    start("sleeper", "wf-timer", NULL, &res);
    WAIT_FOR(n_events("wf-timer", "TimerStarted") == 1, 0);
    json_t *h = history("wf-timer");
    json_t *ts = event_of(h, "TimerStarted", 0);
    int64_t fire_at = time_of(json_object_get(json_object_get(ts, "attributes"), "fire_at"));
    assert_int_equal(fire_at - time_of(json_object_get(ts, "time")), 60000);
    json_decref(h);
    clock_set(fire_at - 1);
    engine_sync();
    assert_int_equal(n_events("wf-timer", "TimerFired"), 0);
    assert_true(status_is("wf-timer", "running"));
    clock_set(fire_at);
    WAIT_FOR(status_is("wf-timer", "completed"), 1);
    h = history("wf-timer");
    assert_string_equal(types_of(h), "WorkflowExecutionStarted,TimerStarted,TimerFired,"
                                     "ActivityTaskScheduled,ActivityTaskStarted,"
                                     "ActivityTaskCompleted,WorkflowExecutionCompleted");
    assert_true(time_of(json_object_get(event_of(h, "TimerFired", 0), "time")) >= fire_at);
    json_decref(h);
}

static void expired_lease_is_recorded_as_timed_out_and_retried(void **state)
{
    (void)state;
    sl_start_result res;
    start("gated", "wf-lease", NULL, &res);
    WAIT_FOR(gate_count(&gate.started) == 1, 0);
    /* attempt 1 holds its lease and never heartbeats: past the 1 s heartbeat timeout the
     * maintenance pass times it out and schedules attempt 2 after 500 ms */
    clock_advance(1001);
    WAIT_FOR(n_events("wf-lease", "ActivityTaskTimedOut") == 1, 1);
    json_t *h = history("wf-lease");
    json_t *to = event_of(h, "ActivityTaskTimedOut", 0);
    json_t *a = json_object_get(to, "attributes");
    assert_int_equal(json_integer_value(json_object_get(a, "attempt")), 1);
    assert_string_equal(json_string_value(json_object_get(a, "timeout_type")), "heartbeat");
    assert_true(json_is_true(json_object_get(a, "will_retry")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(a, "failure"), "type")),
                        "TimeoutError");
    int64_t next2 = time_of(json_object_get(a, "next_attempt_time"));
    assert_int_equal(next2 - time_of(json_object_get(to, "time")), 500);
    json_decref(h);
    /* attempt 2 runs when due and completes the workflow */
    clock_set(next2 > fake_clock(NULL) ? next2 : fake_clock(NULL));
    WAIT_FOR(status_is("wf-lease", "completed"), 1);
    /* the stale attempt 1 finishing now changes nothing */
    gate_open();
    WAIT_FOR(gate_count(&gate.finished) == 1, 0);
    engine_sync();
    h = history("wf-lease");
    assert_string_equal(types_of(h), "WorkflowExecutionStarted,ActivityTaskScheduled,"
                                     "ActivityTaskStarted,ActivityTaskTimedOut,"
                                     "ActivityTaskStarted,ActivityTaskCompleted,"
                                     "WorkflowExecutionCompleted");
    a = json_object_get(event_of(h, "ActivityTaskCompleted", 0), "attributes");
    assert_int_equal(json_integer_value(json_object_get(a, "attempt")), 2);
    json_decref(h);
}

static void cancel_ends_a_waiting_run_as_canceled(void **state)
{
    (void)state;
    sl_start_result res;
    start("sleeper", "wf-cancel", NULL, &res);
    WAIT_FOR(n_events("wf-cancel", "TimerStarted") == 1, 0);
    bool already = true;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_engine_cancel(E, "wf-cancel", "no longer needed", &already, &err), SL_OK);
    assert_false(already);
    WAIT_FOR(status_is("wf-cancel", "canceled"), 0);
    assert_int_equal(sl_engine_cancel(E, "wf-cancel", "again", &already, &err), SL_OK);
    assert_true(already);
    json_t *h = history("wf-cancel");
    json_t *a = json_object_get(event_of(h, "WorkflowExecutionCancelRequested", 0), "attributes");
    assert_string_equal(json_string_value(json_object_get(a, "reason")), "no longer needed");
    json_t *last = json_array_get(h, json_array_size(h) - 1);
    assert_string_equal(json_string_value(json_object_get(last, "type")),
                        "WorkflowExecutionCanceled");
    size_t n = json_array_size(h);
    json_decref(h);
    /* the timer died with the run */
    clock_advance(120000);
    engine_sync();
    assert_int_equal(n_events("wf-cancel", "TimerFired"), 0);
    h = history("wf-cancel");
    assert_int_equal(json_array_size(h), n);
    json_decref(h);
}

static void terminate_closes_a_run_with_an_activity_in_flight(void **state)
{
    (void)state;
    sl_start_result res;
    start("gated", "wf-term", NULL, &res);
    WAIT_FOR(gate_count(&gate.started) == 1, 0);
    bool already = true;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_engine_terminate(E, "wf-term", "operator", &already, &err), SL_OK);
    assert_false(already);
    assert_true(status_is("wf-term", "terminated")); /* at once: terminate is not cooperative */
    json_t *d = describe("wf-term");
    json_t *f = json_object_get(d, "failure");
    assert_string_equal(json_string_value(json_object_get(f, "type")), "Terminated");
    assert_string_equal(json_string_value(json_object_get(f, "message")), "operator");
    json_decref(d);
    assert_int_equal(sl_engine_terminate(E, "wf-term", "again", &already, &err), SL_OK);
    assert_true(already);
    assert_int_equal(sl_engine_cancel(E, "wf-term", "late", &already, &err), SL_ECLOSED);
    /* the activity finishing afterwards records nothing */
    gate_open();
    WAIT_FOR(gate_count(&gate.finished) == 1, 0);
    engine_sync();
    json_t *h = history("wf-term");
    assert_string_equal(types_of(h), "WorkflowExecutionStarted,ActivityTaskScheduled,"
                                     "ActivityTaskCancelRequested,WorkflowExecutionTerminated");
    json_decref(h);
}

/*
 * Drained vs idle: while an activity runs the worker is neither; once the quick run completed
 * and the other sleeps on its minute-long timer, it is drained (nothing runnable now) but not
 * idle (the timer is pending); when the clock passes the timer and that run completes, it is
 * both.
 */
static void drained_leaves_sleeping_runs_idle_waits_for_them(void **state)
{
    (void)state;
    sl_start_result res;
    start("sleeper", "wf-asleep", NULL, &res);
    start("gated", "wf-busy", NULL, &res);
    WAIT_FOR(gate_count(&gate.started) == 1, 0);
    assert_false(sl_worker_is_drained(W)); /* an activity in flight on this worker */
    assert_false(sl_worker_is_idle(W));
    gate_open();
    WAIT_FOR(status_is("wf-busy", "completed"), 0);
    WAIT_FOR(n_events("wf-asleep", "TimerStarted") == 1, 0);
    WAIT_FOR(sl_worker_is_drained(W), 0);
    assert_false(sl_worker_is_idle(W));
    assert_true(status_is("wf-asleep", "running"));
    clock_advance(60000);
    WAIT_FOR(status_is("wf-asleep", "completed"), 1);
    WAIT_FOR(sl_worker_is_idle(W), 0);
    assert_true(sl_worker_is_drained(W));
}

static void reopened_engine_continues_an_open_run(void **state)
{
    (void)state;
    sl_start_result res;
    start("sleeper", "wf-restart", NULL, &res);
    WAIT_FOR(n_events("wf-restart", "TimerStarted") == 1, 0);
    engine_down();
    /* a new engine on the same file: nothing cached, the run is replayed from the store */
    engine_up();
    assert_true(status_is("wf-restart", "running"));
    clock_advance(60000);
    WAIT_FOR(status_is("wf-restart", "completed"), 1);
    json_t *h = history("wf-restart");
    assert_string_equal(types_of(h), "WorkflowExecutionStarted,TimerStarted,TimerFired,"
                                     "ActivityTaskScheduled,ActivityTaskStarted,"
                                     "ActivityTaskCompleted,WorkflowExecutionCompleted");
    json_decref(h);
    json_t *d = describe("wf-restart");
    assert_string_equal(json_string_value(json_object_get(d, "run_id")), res.run_id);
    json_decref(d);
}

/* Store faults on the engine's own connection, armed from inside sl_engine_exec (the
 * connection's thread). */
struct fault_arg {
    sl_store_fault fault;
    const char *queue; /* a queue limit written after arming */
};

static sl_code arm_and_write(sl_store *st, void *arg, sl_err *err)
{
    struct fault_arg *a = arg;
    sl_code rc = sl_store_fault_arm(st, &a->fault, err);
    if (rc != SL_OK || !a->queue)
        return rc;
    sl_queue_limit_row r = {.queue = (char *)a->queue, .rate_n = 1, .rate_period_ms = 1000};
    return sl_store_queue_limit_put(st, &r, err);
}

static bool has_limit(const char *queue)
{
    json_t *qs = NULL;
    assert_int_equal(sl_engine_queue_list(E, &qs, NULL), SL_OK);
    bool found = false;
    size_t i;
    json_t *q;
    json_array_foreach(qs, i, q)
    {
        if (strcmp(json_string_value(json_object_get(q, "queue")), queue) == 0 &&
            json_is_object(json_object_get(q, "limits")))
            found = true;
    }
    json_decref(qs);
    return found;
}

static void store_fault_in_engine_work_fails_it_whole(void **state)
{
    (void)state;
    /* the write after arming fails: the caller sees SL_EBUSY (retryable), nothing is written */
    struct fault_arg a = {.fault = {.nth = 1, .code = SL_EBUSY}, .queue = "q-busy"};
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_engine_exec(E, arm_and_write, &a, &err), SL_EBUSY);
    assert_true(err.retryable);
    assert_non_null(strstr(err.msg, "injected fault"));
    assert_false(has_limit("q-busy"));
    a = (struct fault_arg){.fault = {.nth = 1, .code = SL_EIO}, .queue = "q-io"};
    assert_int_equal(sl_engine_exec(E, arm_and_write, &a, &err), SL_EIO);
    assert_false(err.retryable);
    assert_false(has_limit("q-io"));
    /* the engine goes on working */
    a = (struct fault_arg){.fault = {.nth = 0, .code = SL_EBUSY}, .queue = "q-ok"};
    assert_int_equal(sl_engine_exec(E, arm_and_write, &a, &err), SL_OK);
    assert_true(has_limit("q-ok"));
    sl_start_result res;
    start("one_step", "wf-after-fault", NULL, &res);
    WAIT_FOR(status_is("wf-after-fault", "completed"), 0);
}

/* Arms a fault once, however often the engine runs the work (it redoes a batch that failed). */
struct arm_once {
    sl_store_fault fault;
    bool armed;
};

static sl_code arm_once_fn(sl_store *st, void *arg, sl_err *err)
{
    struct arm_once *a = arg;
    if (a->armed)
        return SL_OK;
    a->armed = true;
    return sl_store_fault_arm(st, &a->fault, err);
}

struct probe {
    int64_t counted;
    bool fired;
};

static sl_code probe_fn(sl_store *st, void *arg, sl_err *err)
{
    (void)err;
    struct probe *p = arg;
    p->counted = sl_store_fault_counted(st, &p->fired);
    return sl_store_fault_arm(st, NULL, NULL); /* and disarm */
}

/* Start one_step as wid with a fault armed on the engine's connection just before the start
 * runs (in its transaction), and wait for the run to complete. */
static void run_with_fault(const char *wid, const sl_store_fault *f, int64_t tick_ms)
{
    struct arm_once a = {.fault = *f};
    sl_start_opts so = {.workflow_id = wid};
    sl_start_result res;
    sl_err err;
    sl_err_clear(&err);
    json_t *in = json_pack("{s:s}", "id", wid);
    assert_int_equal(sl_engine_start_with(E, "one_step", in, &so, arm_once_fn, &a, &res, &err),
                     SL_OK);
    json_decref(in);
    WAIT_FOR(status_is(wid, "completed"), tick_ms);
    json_t *h = history(wid);
    assert_string_equal(types_of(h), "WorkflowExecutionStarted,ActivityTaskScheduled,"
                                     "ActivityTaskStarted,ActivityTaskCompleted,"
                                     "WorkflowExecutionCompleted");
    json_decref(h);
}

/*
 * A fault on the k-th statement the engine's connection runs from a workflow's start to its
 * completion, for every k: whichever statement fails (the start, its workflow task, the
 * commit, a poll, the recording of the activity's outcome and the next workflow task), the
 * engine undoes the change whole and redoes it, and the run completes with the exact history
 * of a faultless run - nothing lost, nothing twice.
 */
static void workflows_complete_exactly_once_whatever_statement_fails(void **state)
{
    (void)state;
    /* count the statements of a faultless run (the clock stands still: no idle polls) */
    sl_store_fault count = {.nth = 0, .code = SL_EBUSY};
    run_with_fault("wf-count", &count, 0);
    struct probe p;
    assert_int_equal(sl_engine_exec(E, probe_fn, &p, NULL), SL_OK);
    assert_false(p.fired);
    int64_t m = p.counted - 1; /* not the probe's own SAVEPOINT */
    assert_true(m >= 8);
    /* How many statements a run takes varies a little (a batch redone alone does not poll,
     * idle polls add some), so the last few k may land after the run: most must not. */
    int fired = 0;
    for (int64_t k = 1; k <= m; k++) {
        char wid[32];
        snprintf(wid, sizeof(wid), "wf-fault-%lld", (long long)k);
        sl_store_fault f = {.nth = k, .code = k % 2 ? SL_EBUSY : SL_EIO};
        run_with_fault(wid, &f, 1);
        assert_int_equal(sl_engine_exec(E, probe_fn, &p, NULL), SL_OK);
        fired += p.fired;
    }
    fprintf(stderr, "a run took %lld statements; %d of as many faults fired during one\n",
            (long long)m, fired);
    assert_true(4 * fired >= 3 * m);
    assert_int_equal(sl_engine_integrity_check(E, NULL), SL_OK);
}

int main(void)
{
    sl_clock_set(fake_clock, NULL); /* once, before any engine thread starts */
    reg = sl_registry_new();
    sl_registry_add_workflow(reg, "one_step", one_step);
    sl_registry_add_workflow(reg, "retrying", retrying);
    sl_registry_add_workflow(reg, "sleeper", sleeper);
    sl_registry_add_workflow(reg, "gated", gated);
    sl_registry_add_activity(reg, "echo", echo_act);
    sl_registry_add_activity(reg, "flaky", flaky_act);
    sl_registry_add_activity(reg, "gate", gate_act);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(activity_step_completes_with_its_history, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_names_and_never_firing_crons_are_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(start_with_an_open_id_returns_the_open_run, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(failed_attempts_are_retried_after_the_policy_delays, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(durable_timer_fires_only_when_the_clock_passes_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(expired_lease_is_recorded_as_timed_out_and_retried, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(cancel_ends_a_waiting_run_as_canceled, setup, teardown),
        cmocka_unit_test_setup_teardown(terminate_closes_a_run_with_an_activity_in_flight, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(drained_leaves_sleeping_runs_idle_waits_for_them, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(reopened_engine_continues_an_open_run, setup, teardown),
        cmocka_unit_test_setup_teardown(store_fault_in_engine_work_fails_it_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(workflows_complete_exactly_once_whatever_statement_fails,
                                        setup, teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    sl_registry_free(reg);
    sl_clock_set(NULL, NULL);
    return failed;
}
