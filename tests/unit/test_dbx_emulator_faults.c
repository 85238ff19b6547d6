/*
 * test_dbx_emulator_faults.c - the client's retry and OAuth machinery against the real
 * emulator in this process.
 *
 * Covers: 200 consecutive client calls (reads, writes, uploads, SQL) under injected
 * faults 429=0.3,500=0.1 (seeded) all succeed, and the client's retry/429/5xx counters
 * equal the faults the emulator says it injected; an OAuth M2M client running several
 * threads across its token's expiry fetches exactly two tokens (the first and one
 * refresh) with no request rejected; and when the workspace stops accepting every
 * token mid-run, the threads that hit 403 share exactly one refresh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "test_dbx_emulator.h"

#define CLIENT_ID     "it-sp-0001"
#define CLIENT_SECRET "dose-it-secret-0123456789"
#define TOKEN_ROUTE   "POST /oidc/v1/token"

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "%s/sluice-dbx-faults.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sl_dbx_thread_cleanup();
    char *cmd = sl_xasprintf("rm -rf '%s'", tmpdir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    return 0;
}

static void set_faults(sl_emulator *emu, const char *spec, const char *seed)
{
    char *path = sl_xasprintf("/_emulator/faults%s%s", seed ? "?seed=" : "", seed ? seed : "");
    long st = 0;
    json_t *j = te_ctl(emu, "POST", path, spec, &st);
    assert_int_equal(st, 200);
    json_decref(j);
    free(path);
}

/* One client call of a mix that touches every kind of request: GETs, JSON POSTs,
 * a streamed PUT, a HEAD, and a whole SQL query (submit, poll, chunks). */
static sl_code one_call(sl_dbx_client *c, int i, const char *local, sl_err *err)
{
    json_t *o = NULL;
    sl_code rc = SL_OK;
    char path[128];
    switch (i % 8) {
    case 0:
        rc = sl_dbx_warehouse_list(c, NULL, &o, err);
        break;
    case 1:
        rc = sl_dbx_warehouse_get(c, "emu0000000000001", NULL, &o, err);
        break;
    case 2:
        rc = sl_dbx_catalog_get(c, "main", NULL, &o, err);
        break;
    case 3:
        snprintf(path, sizeof(path), "/Volumes/main/default/fv/f%d.bin", i);
        rc = sl_dbx_file_upload(c, local, path, true, NULL, err);
        break;
    case 4: {
        sl_dbx_file_info info;
        snprintf(path, sizeof(path), "/Volumes/main/default/fv/f%d.bin", i - 1);
        rc = sl_dbx_file_head(c, path, NULL, &info, err);
        if (rc == SL_OK && info.size != 1000)
            rc = sl_err_set(err, SL_EREMOTE, "size %lld", (long long)info.size);
        break;
    }
    case 5:
        rc = sl_dbx_schema_ensure(c, "main", "faults", NULL, NULL, &o, err);
        break;
    case 6: {
        sl_dbx_statement_req req;
        sl_dbx_statement_req_init(&req);
        req.statement = "SELECT order_id FROM samples.sales.product_sales LIMIT 5";
        sl_dbx_result *res = NULL;
        sl_dbx_call call = {.poll_initial_ms = 10, .poll_max_ms = 20};
        rc = sl_dbx_sql_query(c, &req, &call, &res, err);
        if (rc == SL_OK && json_array_size(res->rows) != 5)
            rc = sl_err_set(err, SL_EREMOTE, "%zu rows", json_array_size(res->rows));
        sl_dbx_result_free(res);
        break;
    }
    default:
        rc = sl_dbx_genie_space_list(c, 0, NULL, &o, err);
        break;
    }
    json_decref(o);
    return rc;
}

static void faults_are_retried_and_counted(void **state)
{
    (void)state;
    sl_emulator_opts o;
    te_opts(&o);
    o.chunk_rows = 2;
    o.statement_latency_ms = 20;
    sl_emulator *emu = te_start(&o);
    sl_dbx_client *c = te_client(emu, NULL, NULL, 12);
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_dbx_volume_ensure(c, "main", "default", "fv", NULL, NULL, NULL, &err),
                     SL_OK);
    char *local = sl_xasprintf("%s/small.bin", tmpdir);
    FILE *f = fopen(local, "wb");
    assert_non_null(f);
    for (int i = 0; i < 1000; i++)
        fputc(i & 0xff, f);
    fclose(f);

    /* Retry-After: 0 keeps the 429s cheap; 500s carry none, so the (2 ms) backoff runs */
    set_faults(emu, "429=0.3,500=0.1,retry_after=0", "20261125");
    long st_code = 0;
    json_decref(te_ctl(emu, "POST", "/_emulator/reset-stats", NULL, &st_code));
    assert_int_equal(st_code, 200);
    sl_dbx_stats s0, s1;
    sl_dbx_stats_get(c, &s0);
    for (int i = 0; i < 200; i++) {
        sl_err_clear(&err);
        sl_code rc = one_call(c, i, local, &err);
        if (rc != SL_OK)
            fail_msg("call %d failed: %s", i, err.msg);
    }
    sl_dbx_stats_get(c, &s1);
    set_faults(emu, "", NULL);
    json_t *st = te_stats(emu);
    long long f429 = te_count(st, "faults", "429"), f500 = te_count(st, "faults", "500");
    long long injected = json_integer_value(json_object_get(st, "faults_injected"));
    fprintf(stderr,
            "# 200 calls: %llu requests, %llu retries (%llu x 429, %llu x 5xx); emulator "
            "injected %lld x 429, %lld x 500\n",
            (unsigned long long)(s1.requests - s0.requests),
            (unsigned long long)(s1.retries - s0.retries),
            (unsigned long long)(s1.http_429 - s0.http_429),
            (unsigned long long)(s1.http_5xx - s0.http_5xx), f429, f500);
    assert_true(f429 > 30);
    assert_true(f500 > 10);
    assert_int_equal(injected, f429 + f500);
    assert_int_equal(s1.http_429 - s0.http_429, f429);
    assert_int_equal(s1.http_5xx - s0.http_5xx, f500);
    assert_int_equal(s1.retries - s0.retries, injected);
    assert_int_equal(s1.requests - s0.requests, te_api_requests(st));
    assert_int_equal(s1.conn_errors - s0.conn_errors, 0);
    json_decref(st);
    free(local);
    sl_dbx_client_free(c);
    sl_emulator_stop(emu);
}

/* ---- OAuth ---- */

typedef struct runner {
    sl_dbx_client *c;
    int64_t until_ms;    /* run calls until then ... */
    atomic_int *stop;  /* ... or until told to stop (when non-NULL) */
    atomic_int *calls; /* calls done by all threads */
    int ok, failed;
    char why[256];
} runner;

static void *run_calls(void *arg)
{
    runner *r = arg;
    while ((!r->stop || !atomic_load(r->stop)) &&
           (r->until_ms == 0 || sl_now_ms() < r->until_ms)) {
        json_t *o = NULL;
        sl_err err;
        sl_err_clear(&err);
        if (sl_dbx_warehouse_get(r->c, "emu0000000000001", NULL, &o, &err) == SL_OK) {
            r->ok++;
        } else {
            r->failed++;
            snprintf(r->why, sizeof(r->why), "%s", err.msg);
        }
        json_decref(o);
        atomic_fetch_add(r->calls, 1);
        sl_sleep_ms(1); /* pacing only: a few hundred calls per thread are plenty, and
                           the 2-core test machine runs other tests meanwhile */
    }
    sl_dbx_thread_cleanup();
    return NULL;
}

enum { THREADS = 4 };

static void oauth_refreshes_once_across_expiry(void **state)
{
    (void)state;
    sl_emulator_opts o;
    te_opts(&o);
    o.client_id = CLIENT_ID;
    o.client_secret = CLIENT_SECRET;
    o.token_ttl_ms = 2000; /* expires_in 2: the client renews it after 1 s */
    sl_emulator *emu = te_start(&o);
    sl_dbx_client *c = te_client(emu, CLIENT_ID, CLIENT_SECRET, 3);
    atomic_int calls = 0;
    runner rs[THREADS];
    pthread_t th[THREADS];
    /* 1.6 s of calls from the first token: past its renewal point (1 s), before the
     * second one's (2 s after the first) */
    int64_t t0 = sl_now_ms();
    for (int i = 0; i < THREADS; i++) {
        rs[i] = (runner){.c = c, .until_ms = t0 + 1600, .calls = &calls};
        assert_int_equal(pthread_create(&th[i], NULL, run_calls, &rs[i]), 0);
    }
    int ok = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        if (rs[i].failed)
            fail_msg("thread %d: %d calls failed: %s", i, rs[i].failed, rs[i].why);
        ok += rs[i].ok;
    }
    sl_dbx_stats s;
    sl_dbx_stats_get(c, &s);
    json_t *st = te_stats(emu);
    fprintf(stderr, "# %d calls on %d threads across the expiry: %llu tokens\n", ok, THREADS,
            (unsigned long long)s.token_refreshes);
    assert_true(ok >= 2 * THREADS);
    assert_int_equal(s.token_refreshes, 2);
    assert_int_equal(te_route(st, TOKEN_ROUTE), 2);
    assert_int_equal(te_count(st, "responses", "403"), 0); /* renewed before, not after */
    assert_int_equal(s.retries, 0);
    json_decref(st);
    sl_dbx_client_free(c);
    sl_emulator_stop(emu);
}

static void oauth_revoked_tokens_refresh_once(void **state)
{
    (void)state;
    sl_emulator_opts o;
    te_opts(&o);
    o.client_id = CLIENT_ID;
    o.client_secret = CLIENT_SECRET;
    sl_emulator *emu = te_start(&o); /* tokens live an hour */
    sl_dbx_client *c = te_client(emu, CLIENT_ID, CLIENT_SECRET, 3);
    atomic_int calls = 0, stop = 0;
    runner rs[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        rs[i] = (runner){.c = c, .stop = &stop, .calls = &calls};
        assert_int_equal(pthread_create(&th[i], NULL, run_calls, &rs[i]), 0);
    }
    while (atomic_load(&calls) < 40)
        sl_sleep_ms(1);
    long st_code = 0;
    json_t *ex = te_ctl(emu, "POST", "/_emulator/expire-tokens", NULL, &st_code);
    long long expired = json_integer_value(json_object_get(ex, "expired"));
    json_decref(ex);
    int mark = atomic_load(&calls);
    int64_t give_up = sl_now_ms() + 10000;
    while (st_code == 200 && atomic_load(&calls) < mark + 80 &&
           sl_now_ms() < give_up)
        sl_sleep_ms(1);
    atomic_store(&stop, 1);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(st_code, 200);
    assert_int_equal(expired, 1); /* the one token all threads share */
    for (int i = 0; i < THREADS; i++) {
        if (rs[i].failed)
            fail_msg("thread %d: %d calls failed: %s", i, rs[i].failed, rs[i].why);
    }
    sl_dbx_stats s;
    sl_dbx_stats_get(c, &s);
    json_t *st = te_stats(emu);
    long long rejected = te_count(st, "responses", "403");
    fprintf(stderr, "# tokens expired mid-run: %lld requests rejected, %llu tokens fetched\n",
            rejected, (unsigned long long)s.token_refreshes);
    assert_true(rejected >= 1);
    assert_true(rejected <= THREADS); /* each thread is rejected at most once */
    assert_int_equal(s.retries, (uint64_t)rejected);
    assert_int_equal(s.token_refreshes, 2);
    assert_int_equal(te_route(st, TOKEN_ROUTE), 2);
    json_decref(st);
    sl_dbx_client_free(c);
    sl_emulator_stop(emu);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(faults_are_retried_and_counted),
        cmocka_unit_test(oauth_refreshes_once_across_expiry),
        cmocka_unit_test(oauth_revoked_tokens_refresh_once),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
