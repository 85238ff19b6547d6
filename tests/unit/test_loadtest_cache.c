/* test_loadtest_cache.c - the answer cache: similarity measures (1/(1+L2) by default,
 * cosine on request, zero context vectors) and the dual threshold with its weighted
 * ranking; the exact layer's key (normalised question + context), LRU eviction by last
 * access and TTL from creation; semantic capacity per space; entries surviving a reopen
 * of the database (the cache is persistent and shared). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sluice/loadtest.h"

static char dir[] = "/tmp/sluice-lt-cache.XXXXXX";
static char db[256];
static int n_db;

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static sl_lt_cache *open_cache(sl_lt_cache_opts *o, bool fresh)
{
    if (fresh)
        snprintf(db, sizeof(db), "%s/c%d.db", dir, n_db++);
    o->db_path = db;
    sl_lt_cache *c = NULL;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_lt_cache_open(o, &c, &err), SL_OK);
    return c;
}

/* unit vector in 4 dims at cosine `cs` to e1 */
static void at_cos(float v[4], double cs)
{
    v[0] = (float)cs;
    v[1] = (float)sqrt(1 - cs * cs);
    v[2] = v[3] = 0;
}

static void similarity_is_one_over_one_plus_distance(void **state)
{
    (void)state;
    float e1[2] = {1, 0}, e2[2] = {0, 1}, m1[2] = {-1, 0};
    assert_true(fabs(sl_lt_similarity(SL_LT_SIM_L2, e1, e1, 2) - 1.0) < 1e-12);
    assert_true(fabs(sl_lt_similarity(SL_LT_SIM_L2, NULL, NULL, 2) - 1.0) < 1e-12);
    assert_true(fabs(sl_lt_similarity(SL_LT_SIM_L2, e1, NULL, 2) - 0.5) < 1e-12);
    assert_true(fabs(sl_lt_similarity(SL_LT_SIM_L2, e1, e2, 2) - 1 / (1 + sqrt(2))) < 1e-9);
    assert_true(fabs(sl_lt_similarity(SL_LT_SIM_L2, e1, m1, 2) - 1 / 3.0) < 1e-9);
    assert_true(fabs(sl_lt_similarity(SL_LT_SIM_COSINE, e1, e1, 2) - 1.0) < 1e-12);
    assert_true(fabs(sl_lt_similarity(SL_LT_SIM_COSINE, e1, e2, 2)) < 1e-12);
    assert_true(fabs(sl_lt_similarity(SL_LT_SIM_COSINE, e1, m1, 2) + 1.0) < 1e-12);
    assert_true(fabs(sl_lt_similarity(SL_LT_SIM_COSINE, NULL, NULL, 2) - 1.0) < 1e-12);
    assert_true(fabs(sl_lt_similarity(SL_LT_SIM_COSINE, e1, NULL, 2)) < 1e-12);
    /* for unit vectors q_sim >= 0.85 <=> cos >= 1 - (1/0.85 - 1)^2 / 2 = 0.98443 */
    float v[4], e[4] = {1, 0, 0, 0};
    at_cos(v, 0.9850);
    assert_true(sl_lt_similarity(SL_LT_SIM_L2, e, v, 4) >= 0.85);
    at_cos(v, 0.9840);
    assert_true(sl_lt_similarity(SL_LT_SIM_L2, e, v, 4) < 0.85);
    /* c_sim >= 0.80 <=> cos >= 0.96875 */
    at_cos(v, 0.9690);
    assert_true(sl_lt_similarity(SL_LT_SIM_L2, e, v, 4) >= 0.80);
    at_cos(v, 0.9685);
    assert_true(sl_lt_similarity(SL_LT_SIM_L2, e, v, 4) < 0.80);
    sl_lt_sim k;
    assert_true(sl_lt_sim_parse("cosine", &k) && k == SL_LT_SIM_COSINE);
    assert_true(sl_lt_sim_parse("l2", &k) && k == SL_LT_SIM_L2);
    assert_false(sl_lt_sim_parse("dot", &k));
}

static void semantic_hit_needs_both_thresholds_and_ranks_by_weighted_score(void **state)
{
    (void)state;
    sl_lt_cache_opts o;
    sl_lt_cache_opts_init(&o);
    o.mode = SL_LT_CACHE_SEMANTIC;
    sl_lt_cache *c = open_cache(&o, true);
    sl_err err;
    sl_err_clear(&err);
    float e1[4] = {1, 0, 0, 0}, e2[4] = {0, 1, 0, 0}, near[4], far[4];
    at_cos(near, 0.9850);
    at_cos(far, 0.9800);
    /* a first message (no history) stored with the zero context */
    assert_int_equal(sl_lt_cache_semantic_put(c, "s", "Sales by region?", "", e1, NULL, 4,
                                              "SELECT 1", "conv1", "msg1", 1000, &err),
                     SL_OK);
    sl_lt_cache_match m;
    assert_int_equal(sl_lt_cache_semantic_find(c, "s", e1, NULL, 4, 1001, &m, &err), SL_OK);
    assert_true(m.question_sim > 0.999 && m.context_sim > 0.999);
    assert_string_equal(m.sql, "SELECT 1");
    assert_string_equal(m.conversation_id, "conv1");
    assert_string_equal(m.question, "Sales by region?");
    sl_lt_cache_match_cleanup(&m);
    /* a reworded question just inside the threshold hits; just outside misses */
    assert_int_equal(sl_lt_cache_semantic_find(c, "s", near, NULL, 4, 1002, &m, &err), SL_OK);
    sl_lt_cache_match_cleanup(&m);
    assert_int_equal(sl_lt_cache_semantic_find(c, "s", far, NULL, 4, 1003, &m, &err), SL_ENOTFOUND);
    assert_true(m.question_sim < 0.85 && m.question_sim > 0.8);
    sl_lt_cache_match_cleanup(&m);
    /* the same question asked as a follow-up: real context vs zero context is 0.5 -> miss */
    assert_int_equal(sl_lt_cache_semantic_find(c, "s", e1, e2, 4, 1004, &m, &err), SL_ENOTFOUND);
    assert_true(fabs(m.context_sim - 0.5) < 1e-6);
    sl_lt_cache_match_cleanup(&m);
    /* another space sees nothing */
    assert_int_equal(sl_lt_cache_semantic_find(c, "t", e1, NULL, 4, 1005, &m, &err), SL_ENOTFOUND);
    sl_lt_cache_match_cleanup(&m);

    /* ranking: entry A matches the question exactly but not the context (score 0.8);
     * entry B is a near question with the same context (0.6*0.86+0.4 = 0.91): B wins
     * and passes both thresholds */
    assert_int_equal(sl_lt_cache_semantic_put(c, "s", "B question", "Previous: x", near, e2, 4,
                                              "SELECT 'B'", NULL, NULL, 1100, &err),
                     SL_OK);
    assert_int_equal(sl_lt_cache_semantic_find(c, "s", e1, e2, 4, 1101, &m, &err), SL_OK);
    assert_string_equal(m.sql, "SELECT 'B'");
    assert_true(m.score > 0.9);
    sl_lt_cache_match_cleanup(&m);

    /* cosine measure: same gates on cosine values */
    sl_lt_cache_close(c);
    o.similarity = SL_LT_SIM_COSINE;
    o.similarity_threshold = 0.99;
    c = open_cache(&o, false);
    assert_int_equal(sl_lt_cache_semantic_find(c, "s", near, NULL, 4, 1200, &m, &err),
                     SL_ENOTFOUND); /* cos 0.985 < 0.99 */
    sl_lt_cache_match_cleanup(&m);
    assert_int_equal(sl_lt_cache_semantic_find(c, "s", e1, NULL, 4, 1201, &m, &err), SL_OK);
    sl_lt_cache_match_cleanup(&m);
    sl_lt_cache_close(c);
}

static bool lru_has(sl_lt_cache *c, const char *q, const char *ctx, int64_t now)
{
    char *sql = NULL, *conv = NULL;
    sl_err err;
    sl_err_clear(&err);
    sl_code rc = sl_lt_cache_lru_get(c, "s", q, ctx, now, &sql, &conv, &err);
    assert_true(rc == SL_OK || rc == SL_ENOTFOUND);
    free(sql);
    free(conv);
    return rc == SL_OK;
}

static void lru_evicts_least_recently_used_and_keys_on_normalised_question_and_context(void **state)
{
    (void)state;
    sl_lt_cache_opts o;
    sl_lt_cache_opts_init(&o);
    o.mode = SL_LT_CACHE_LRU;
    o.lru_capacity = 3;
    sl_lt_cache *c = open_cache(&o, true);
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_lt_cache_lru_put(c, "s", "Q1", "", "SELECT 1", "c1", 1, &err), SL_OK);
    assert_int_equal(sl_lt_cache_lru_put(c, "s", "Q2", "", "SELECT 2", NULL, 2, &err), SL_OK);
    assert_int_equal(sl_lt_cache_lru_put(c, "s", "Q3", "", "SELECT 3", NULL, 3, &err), SL_OK);
    assert_true(lru_has(c, "  q1 ", "", 4)); /* strip + lower; touches Q1 */
    assert_int_equal(sl_lt_cache_lru_put(c, "s", "Q4", "", "SELECT 4", NULL, 5, &err), SL_OK);
    assert_false(lru_has(c, "Q2", "", 6)); /* least recently used: gone */
    assert_true(lru_has(c, "Q1", "", 7));
    assert_true(lru_has(c, "Q3", "", 8));
    assert_true(lru_has(c, "Q4", "", 9));
    /* the context is part of the key */
    assert_false(lru_has(c, "Q1", "Previous: something", 10));
    /* another space has its own capacity */
    assert_int_equal(sl_lt_cache_lru_put(c, "t", "Q1", "", "SELECT 9", NULL, 11, &err), SL_OK);
    int64_t nl = 0, ns = 0;
    assert_int_equal(sl_lt_cache_count(c, "s", &nl, &ns, &err), SL_OK);
    assert_int_equal(nl, 3);
    assert_int_equal(sl_lt_cache_count(c, NULL, &nl, &ns, &err), SL_OK);
    assert_int_equal(nl, 4);
    /* a blank SQL is never stored; forget removes */
    assert_int_equal(sl_lt_cache_lru_put(c, "s", "Q5", "", "  ", NULL, 12, &err), SL_OK);
    assert_false(lru_has(c, "Q5", "", 13));
    assert_int_equal(sl_lt_cache_lru_forget(c, "s", "Q4", "", &err), SL_OK);
    assert_false(lru_has(c, "Q4", "", 14));
    sl_lt_cache_close(c);
}

static void entries_expire_ttl_after_creation_not_after_access(void **state)
{
    (void)state;
    sl_lt_cache_opts o;
    sl_lt_cache_opts_init(&o);
    o.mode = SL_LT_CACHE_SEMANTIC;
    o.ttl_ms = 1000;
    sl_lt_cache *c = open_cache(&o, true);
    sl_err err;
    sl_err_clear(&err);
    float e1[4] = {1, 0, 0, 0};
    assert_int_equal(sl_lt_cache_lru_put(c, "s", "Q", "", "SELECT 1", NULL, 0, &err), SL_OK);
    assert_int_equal(
        sl_lt_cache_semantic_put(c, "s", "Q", "", e1, NULL, 4, "SELECT 1", NULL, NULL, 0, &err),
        SL_OK);
    assert_true(lru_has(c, "Q", "", 600)); /* the access does not extend the life */
    assert_true(lru_has(c, "Q", "", 1000));
    sl_lt_cache_match m;
    assert_int_equal(sl_lt_cache_semantic_find(c, "s", e1, NULL, 4, 1000, &m, &err), SL_OK);
    sl_lt_cache_match_cleanup(&m);
    assert_false(lru_has(c, "Q", "", 1001));
    assert_int_equal(sl_lt_cache_semantic_find(c, "s", e1, NULL, 4, 1001, &m, &err), SL_ENOTFOUND);
    sl_lt_cache_match_cleanup(&m);
    int64_t nl = -1, ns = -1;
    assert_int_equal(sl_lt_cache_count(c, NULL, &nl, &ns, &err), SL_OK);
    assert_int_equal(nl, 0); /* expired rows are deleted, not just skipped */
    assert_int_equal(ns, 0);
    sl_lt_cache_close(c);
}

static void semantic_capacity_evicts_by_last_access_per_space(void **state)
{
    (void)state;
    sl_lt_cache_opts o;
    sl_lt_cache_opts_init(&o);
    o.mode = SL_LT_CACHE_SEMANTIC;
    o.capacity = 2;
    sl_lt_cache *c = open_cache(&o, true);
    sl_err err;
    sl_err_clear(&err);
    float a[4] = {1, 0, 0, 0}, b[4] = {0, 1, 0, 0}, d[4] = {0, 0, 1, 0};
    assert_int_equal(
        sl_lt_cache_semantic_put(c, "s", "A", "", a, NULL, 4, "SELECT 'a'", NULL, NULL, 1, &err),
        SL_OK);
    assert_int_equal(
        sl_lt_cache_semantic_put(c, "s", "B", "", b, NULL, 4, "SELECT 'b'", NULL, NULL, 2, &err),
        SL_OK);
    sl_lt_cache_match m;
    assert_int_equal(sl_lt_cache_semantic_find(c, "s", a, NULL, 4, 3, &m, &err), SL_OK);
    sl_lt_cache_match_cleanup(&m); /* A is now the most recently used */
    assert_int_equal(
        sl_lt_cache_semantic_put(c, "s", "D", "", d, NULL, 4, "SELECT 'd'", NULL, NULL, 4, &err),
        SL_OK);
    assert_int_equal(sl_lt_cache_semantic_find(c, "s", b, NULL, 4, 5, &m, &err), SL_ENOTFOUND);
    sl_lt_cache_match_cleanup(&m);
    assert_int_equal(sl_lt_cache_semantic_find(c, "s", a, NULL, 4, 6, &m, &err), SL_OK);
    sl_lt_cache_match_cleanup(&m);
    /* replacing the same question does not count against the capacity */
    assert_int_equal(
        sl_lt_cache_semantic_put(c, "s", "D", "", d, NULL, 4, "SELECT 'd2'", NULL, NULL, 7, &err),
        SL_OK);
    int64_t nl, ns;
    assert_int_equal(sl_lt_cache_count(c, "s", &nl, &ns, &err), SL_OK);
    assert_int_equal(ns, 2);
    assert_int_equal(sl_lt_cache_semantic_find(c, "s", d, NULL, 4, 8, &m, &err), SL_OK);
    assert_string_equal(m.sql, "SELECT 'd2'");
    assert_int_equal(sl_lt_cache_semantic_forget(c, m.entry_id, &err), SL_OK);
    sl_lt_cache_match_cleanup(&m);
    assert_int_equal(sl_lt_cache_semantic_find(c, "s", d, NULL, 4, 9, &m, &err), SL_ENOTFOUND);
    sl_lt_cache_match_cleanup(&m);
    sl_lt_cache_close(c);
}

static void entries_survive_reopening_the_database(void **state)
{
    (void)state;
    sl_lt_cache_opts o;
    sl_lt_cache_opts_init(&o);
    o.mode = SL_LT_CACHE_SEMANTIC;
    o.ttl_ms = -1; /* never expires */
    sl_lt_cache *c = open_cache(&o, true);
    sl_err err;
    sl_err_clear(&err);
    float a[4] = {0.5f, 0.5f, 0.5f, 0.5f}, ctx[4] = {0, 0, 0, 1};
    assert_int_equal(sl_lt_cache_lru_put(c, "s", "Q", "Previous: hi", "SELECT 1", "cv", 1, &err),
                     SL_OK);
    assert_int_equal(sl_lt_cache_semantic_put(c, "s", "Q", "Previous: hi", a, ctx, 4, "SELECT 1",
                                              "cv", "mv", 1, &err),
                     SL_OK);
    sl_lt_cache_close(c);
    c = open_cache(&o, false); /* a restart, or a second generator on the host */
    char *sql = NULL, *conv = NULL;
    assert_int_equal(sl_lt_cache_lru_get(c, "s", "q", "Previous: hi", 999999999, &sql, &conv, &err),
                     SL_OK);
    assert_string_equal(sql, "SELECT 1");
    assert_string_equal(conv, "cv");
    free(sql);
    free(conv);
    sl_lt_cache_match m;
    assert_int_equal(sl_lt_cache_semantic_find(c, "s", a, ctx, 4, 999999999, &m, &err), SL_OK);
    assert_string_equal(m.conversation_id, "cv");
    sl_lt_cache_match_cleanup(&m);
    sl_lt_cache_close(c);
}

static void options_come_from_the_genie_environment(void **state)
{
    (void)state;
    sl_lt_cache_opts o;
    sl_lt_cache_opts_init(&o);
    assert_int_equal(o.lru_capacity, 100);
    assert_int_equal(o.capacity, 1000);
    assert_int_equal(o.ttl_ms, 86400000);
    assert_int_equal(o.context_window, 3);
    assert_true(o.similarity_threshold == 0.85 && o.context_threshold == 0.80);
    assert_true(o.question_weight == 0.6);
    assert_string_equal(o.embedding_model, "databricks-gte-large-en");
    setenv("GENIE_LRU_CAPACITY", "7", 1);
    setenv("GENIE_CACHE_TTL", "60", 1);
    setenv("GENIE_SIMILARITY_THRESHOLD", "0.9", 1);
    setenv("GENIE_EMBEDDING_MODEL", "databricks-bge-large-en", 1);
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_lt_cache_opts_from_env(&o, &err), SL_OK);
    assert_int_equal(o.lru_capacity, 7);
    assert_int_equal(o.ttl_ms, 60000);
    assert_true(o.similarity_threshold == 0.9);
    assert_string_equal(o.embedding_model, "databricks-bge-large-en");
    setenv("GENIE_CONTEXT_SIMILARITY_THRESHOLD", "lots", 1);
    assert_int_equal(sl_lt_cache_opts_from_env(&o, &err), SL_EINVAL);
    assert_non_null(strstr(err.msg, "GENIE_CONTEXT_SIMILARITY_THRESHOLD"));
    unsetenv("GENIE_LRU_CAPACITY");
    unsetenv("GENIE_CACHE_TTL");
    unsetenv("GENIE_SIMILARITY_THRESHOLD");
    unsetenv("GENIE_EMBEDDING_MODEL");
    unsetenv("GENIE_CONTEXT_SIMILARITY_THRESHOLD");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(similarity_is_one_over_one_plus_distance),
        cmocka_unit_test(semantic_hit_needs_both_thresholds_and_ranks_by_weighted_score),
        cmocka_unit_test(
            lru_evicts_least_recently_used_and_keys_on_normalised_question_and_context),
        cmocka_unit_test(entries_expire_ttl_after_creation_not_after_access),
        cmocka_unit_test(semantic_capacity_evicts_by_last_access_per_space),
        cmocka_unit_test(entries_survive_reopening_the_database),
        cmocka_unit_test(options_come_from_the_genie_environment),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
