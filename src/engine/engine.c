/*
 * engine.c - opening and closing an engine, and the engine thread's loop: wait for calls or
 * due polls, take a batch (the writer), decide whether to poll and maintain (the poller), run
 * the batch as one transaction, publish it.
 *
 * Owns the engine lock e->mu and its condition variable e->cv (calls submitted, serving
 * begun, stop); see engine_int.h for what each part keeps under it.
 * Threads: sl_engine_open/close from one controlling thread; the loop on the engine thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine_int.h"

#define MAX_BATCH_ITEMS 4096

void sl_engine_opts_init(sl_engine_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->db_path = "sluice.db";
    o->durability = SL_DURABILITY_NORMAL;
    o->cache_runs = 4096;
    o->maintenance_ms = 1000;
    o->history_warn_events = 10000;
    o->history_warn_bytes = 10 * 1024 * 1024;
    o->history_limit_events = 50000;
    o->history_limit_bytes = 50 * 1024 * 1024;
}

sl_code sl_engine_opts_from_env(sl_engine_opts *o, sl_err *err)
{
    const char *m = getenv("SLUICE_MAINTENANCE_INTERVAL");
    if (m && *m) {
        int64_t ms;
        if (sl_duration_parse(m, &ms, NULL) != SL_OK || ms <= 0)
            return sl_err_set(err, SL_EINVAL,
                              "bad SLUICE_MAINTENANCE_INTERVAL '%.40s': expected a duration "
                              "greater than 0, such as 500ms",
                              m);
        o->maintenance_ms = ms;
    }
    const struct {
        const char *env;
        int64_t *field;
    } limits[] = {{"SLUICE_HISTORY_WARN_EVENTS", &o->history_warn_events},
                  {"SLUICE_HISTORY_WARN_BYTES", &o->history_warn_bytes},
                  {"SLUICE_HISTORY_LIMIT_EVENTS", &o->history_limit_events},
                  {"SLUICE_HISTORY_LIMIT_BYTES", &o->history_limit_bytes}};
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        const char *v = getenv(limits[i].env);
        if (!v || !*v)
            continue;
        char *end;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (errno || end == v || *end || n < 0)
            return sl_err_set(err, SL_EINVAL, "%s must be a non-negative integer",
                              limits[i].env);
        *limits[i].field = n;
    }
    return SL_OK;
}

static struct timespec abs_after_ms(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    return ts;
}

static void *engine_main(void *arg)
{
    sl_engine *e = arg;
    for (;;) {
        pthread_mutex_lock(&e->mu);
        for (;;) {
            if (e->writer.q_head || e->stop)
                break;
            int64_t wake = sl__poller_next_wake_ms(e);
            if (wake == INT64_MAX) {
                pthread_cond_wait(&e->cv, &e->mu);
                continue;
            }
            int64_t now = sl_now_ms();
            if (now >= wake)
                break;
            struct timespec ts = abs_after_ms(wake - now);
            pthread_cond_timedwait(&e->cv, &e->mu, &ts);
        }
        /* Stop once everything submitted before close is committed. */
        if (e->stop && !e->writer.q_head) {
            pthread_mutex_unlock(&e->mu);
            break;
        }
        sl__poller_snapshot(e);
        /* At most MAX_BATCH_ITEMS so one transaction stays short. */
        struct item *list = sl__writer_take(e, MAX_BATCH_ITEMS);
        pthread_mutex_unlock(&e->mu);

        bool do_poll, do_maint;
        if (sl__poller_plan(e, list != NULL, sl_now_ms(), &do_poll, &do_maint)) {
            int found = 0;
            sl__writer_run(e, list, do_poll, do_maint, &found);
            sl__poller_after(e, do_poll, do_maint, found);
        }
        sl__writer_batch_end(e);
    }
    return NULL;
}

sl_code sl_engine_open(const sl_engine_opts *o, sl_engine **out, sl_err *err)
{
    *out = NULL;
    sl_engine *e = sl_xcalloc(1, sizeof(*e));
    sl_store_opts so;
    sl_store_opts_init(&so);
    so.path = o->db_path;
    so.durability = o->durability;
    so.read_only = o->read_only;
    so.background_checkpoint = o->threaded && !o->read_only;
    sl_code rc = sl_store_open(&so, &e->st, err);
    if (rc != SL_OK) {
        free(e);
        return rc;
    }
    e->reg = o->registry;
    e->durability = o->durability;
    e->threaded = o->threaded && !o->read_only;
    e->cache.max = o->cache_runs > 0 ? o->cache_runs : 4096;
    sl__poller_init(e, o->maintenance_ms > 0 ? o->maintenance_ms : 1000);
    if (o->identity && *o->identity) {
        snprintf(e->identity, sizeof(e->identity), "%s", o->identity);
    } else {
        char host[64] = "localhost";
        gethostname(host, sizeof(host) - 1);
        char rnd[33];
        sl_hexid_new(rnd);
        snprintf(e->identity, sizeof(e->identity), "%s:%d:%.6s", host, (int)getpid(), rnd);
    }
    pthread_mutex_init(&e->mu, NULL);
    pthread_mutex_init(&e->close_mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    pthread_mutex_init(&e->reader.mu, NULL);
    sl__writer_init(e);
    sl__dispatch_init(e);
    sl__remote_init(e);
    e->poller.all_workflows = o->all_workflow_queues;
    e->hist_warn_events = o->history_warn_events;
    e->hist_warn_bytes = o->history_warn_bytes;
    e->hist_limit_events = o->history_limit_events;
    e->hist_limit_bytes = o->history_limit_bytes;
    if (e->threaded) {
        if (pthread_create(&e->thread, NULL, engine_main, e) != 0) {
            sl_engine_close(e);
            return sl_err_set(err, SL_EIO, "cannot start the engine thread");
        }
        e->thread_started = true;
    }
    *out = e;
    return SL_OK;
}

const char *sl_engine_identity(const sl_engine *e)
{
    return e->identity;
}

void sl_engine_set_env(sl_engine *e, void *env)
{
    e->env = env;
}

void *sl_engine_env(const sl_engine *e)
{
    return e->env;
}

const sl_registry *sl_engine_registry(const sl_engine *e)
{
    return e->reg;
}

void sl_engine_on_close(sl_engine *e, sl_close_cb cb, void *arg)
{
    pthread_mutex_lock(&e->close_mu);
    e->on_close = cb;
    e->on_close_arg = arg;
    pthread_mutex_unlock(&e->close_mu);
}

void sl_engine_close(sl_engine *e)
{
    if (!e)
        return;
    if (e->thread_started) {
        pthread_mutex_lock(&e->mu);
        e->stop = true;
        pthread_cond_signal(&e->cv);
        pthread_mutex_unlock(&e->mu);
        pthread_join(e->thread, NULL);
    }
    sl__cache_clear(e);
    sl__writer_cleanup(e);
    sl__dispatch_cleanup(e);
    sl__remote_cleanup(e);
    sl__poller_cleanup(e);
    sl__limits_cleanup(e);
    sl_store_close(e->st);
    sl_store_close(e->reader.rd);
    free(e->opts_memo_queue);
    free(e->opts_memo_text);
    pthread_mutex_destroy(&e->mu);
    pthread_mutex_destroy(&e->close_mu);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->reader.mu);
    free(e);
}
