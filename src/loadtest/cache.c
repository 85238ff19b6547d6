/*
 * cache.c - the answer cache policy of `sluice loadtest genie --cache` (dao-ai's
 * LRUCacheService over its context-aware semantic service, made shared and persistent):
 *
 *  - exact layer: key (space, stripped lower-case question, conversation context string);
 *    TTL from creation; least recently used beyond lru_capacity evicted;
 *  - semantic layer: the question and its context embedded separately (context = zero
 *    vector when there is no history); each entry scored q_sim * w + c_sim * (1 - w) for
 *    ranking, and the best one is a hit only when q_sim >= similarity_threshold AND
 *    c_sim >= context_threshold; similarity 1 / (1 + L2 distance) unless cosine is chosen.
 *
 * Rows live in the Sluice database (store.h), so a restart or another generator on the
 * same host sees the same cache. Only SQL is stored; the caller re-executes it on a hit.
 */
#include <stdlib.h>
#include <string.h>

#include "loadtest_int.h"
#include "sluice/appstore.h"

struct sl_lt_cache {
    sl_lt_cache_opts o;
    sl_store *st;
};

void sl_lt_cache_opts_init(sl_lt_cache_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->mode = SL_LT_CACHE_NONE;
    o->lru_capacity = 100;
    o->capacity = 1000;
    o->ttl_ms = 86400LL * 1000;
    o->similarity_threshold = 0.85;
    o->context_threshold = 0.80;
    o->context_window = 3;
    o->question_weight = 0.6;
    o->similarity = SL_LT_SIM_L2;
    o->embedding_model = "databricks-gte-large-en";
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static sl_code env_int(const char *name, long long min, long long *out, sl_err *err)
{
    const char *v = env(name);
    if (!v)
        return SL_OK;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || x < min)
        return sl_err_set(err, SL_EINVAL, "bad %s '%s': expected an integer >= %lld", name, v, min);
    *out = x;
    return SL_OK;
}

static sl_code env_double(const char *name, double *out, sl_err *err)
{
    const char *v = env(name);
    if (!v)
        return SL_OK;
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || x < 0 || x > 1)
        return sl_err_set(err, SL_EINVAL, "bad %s '%s': expected a number in [0, 1]", name, v);
    *out = x;
    return SL_OK;
}

sl_code sl_lt_cache_opts_from_env(sl_lt_cache_opts *o, sl_err *err)
{
    long long v;
    sl_code rc;
    v = o->lru_capacity;
    if ((rc = env_int("GENIE_LRU_CAPACITY", 0, &v, err)) != SL_OK)
        return rc;
    o->lru_capacity = (int)v;
    v = o->capacity;
    if ((rc = env_int("GENIE_CACHE_CAPACITY", 1, &v, err)) != SL_OK)
        return rc;
    o->capacity = (int)v;
    v = o->ttl_ms < 0 ? -1 : o->ttl_ms / 1000;
    if ((rc = env_int("GENIE_CACHE_TTL", -1, &v, err)) != SL_OK)
        return rc;
    o->ttl_ms = v < 0 ? -1 : v * 1000;
    v = o->context_window;
    if ((rc = env_int("GENIE_CONTEXT_WINDOW_SIZE", 0, &v, err)) != SL_OK)
        return rc;
    o->context_window = (int)v;
    if ((rc = env_double("GENIE_SIMILARITY_THRESHOLD", &o->similarity_threshold, err)) != SL_OK)
        return rc;
    if ((rc = env_double("GENIE_CONTEXT_SIMILARITY_THRESHOLD", &o->context_threshold, err)) !=
        SL_OK)
        return rc;
    if (env("GENIE_EMBEDDING_MODEL"))
        o->embedding_model = env("GENIE_EMBEDDING_MODEL");
    if (env("GENIE_WAREHOUSE_ID"))
        o->warehouse_id = env("GENIE_WAREHOUSE_ID");
    return SL_OK;
}

sl_code sl_lt_cache_open(const sl_lt_cache_opts *o, sl_lt_cache **out, sl_err *err)
{
    *out = NULL;
    sl_store *st = NULL;
    sl_code rc = sl_appstore_open(o->db_path && *o->db_path ? o->db_path : "sluice.db", &st, err);
    if (rc != SL_OK)
        return sl_err_prefix(err, "cache database");
    sl_lt_cache *c = sl_xcalloc(1, sizeof(*c));
    c->o = *o;
    c->st = st;
    *out = c;
    return SL_OK;
}

void sl_lt_cache_close(sl_lt_cache *c)
{
    if (!c)
        return;
    sl_appstore_close(c->st);
    free(c);
}

const sl_lt_cache_opts *sl_lt_cache_get_opts(const sl_lt_cache *c)
{
    return &c->o;
}

static bool blank(const char *s)
{
    if (!s)
        return true;
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return false;
    return true;
}

/* ---- exact layer ---- */

sl_code sl_lt_cache_lru_get(sl_lt_cache *c, const char *space, const char *question,
                            const char *context, int64_t now_ms, char **sql, char **conversation_id,
                            sl_err *err)
{
    *sql = NULL;
    if (conversation_id)
        *conversation_id = NULL;
    char *key = sl_lt_question_normalize(question);
    sl_genie_cache_entry e;
    sl_code rc = sl_appstore_genie_lru_get(c->st, space, key, context ? context : "", now_ms,
                                        c->o.ttl_ms, &e, err);
    free(key);
    if (rc != SL_OK)
        return rc;
    if (blank(e.sql)) { /* an empty SQL is never a hit */
        sl_genie_cache_entry_cleanup(&e);
        return SL_ENOTFOUND;
    }
    *sql = e.sql;
    e.sql = NULL;
    if (conversation_id) {
        *conversation_id = e.conversation_id;
        e.conversation_id = NULL;
    }
    sl_genie_cache_entry_cleanup(&e);
    return SL_OK;
}

sl_code sl_lt_cache_lru_put(sl_lt_cache *c, const char *space, const char *question,
                            const char *context, const char *sql, const char *conversation_id,
                            int64_t now_ms, sl_err *err)
{
    if (blank(sql) || c->o.lru_capacity <= 0)
        return SL_OK;
    char *key = sl_lt_question_normalize(question);
    sl_genie_cache_entry e;
    memset(&e, 0, sizeof(e));
    e.space_id = (char *)space;
    e.question = key;
    e.context = (char *)(context ? context : "");
    e.sql = (char *)sql;
    e.conversation_id = (char *)conversation_id;
    e.created_ms = now_ms;
    e.last_access_ms = now_ms;
    sl_code rc = sl_appstore_genie_lru_put(c->st, &e, c->o.lru_capacity, err);
    free(key);
    return rc;
}

sl_code sl_lt_cache_lru_forget(sl_lt_cache *c, const char *space, const char *question,
                               const char *context, sl_err *err)
{
    char *key = sl_lt_question_normalize(question);
    sl_code rc = sl_appstore_genie_lru_delete(c->st, space, key, context ? context : "", err);
    free(key);
    return rc;
}

/* ---- semantic layer ---- */

void sl_lt_cache_match_cleanup(sl_lt_cache_match *m)
{
    if (!m)
        return;
    free(m->sql);
    free(m->conversation_id);
    free(m->question);
    memset(m, 0, sizeof(*m));
}

typedef struct scan_state {
    const sl_lt_cache_opts *o;
    const float *q, *ctx;
    size_t dim;
    bool any;
    int64_t best_id;
    double best_q, best_c, best_score;
} scan_state;

static bool scan_row(void *arg, int64_t id, const float *q, const float *ctx, size_t dim)
{
    scan_state *s = arg;
    if (dim != s->dim)
        return true; /* another embedding model: not comparable */
    double qs = sl_lt_similarity(s->o->similarity, s->q, q, dim);
    double cs = sl_lt_similarity(s->o->similarity, s->ctx, ctx, dim);
    double w = s->o->question_weight;
    double score = w * qs + (1.0 - w) * cs;
    if (!s->any || score > s->best_score) {
        s->any = true;
        s->best_id = id;
        s->best_q = qs;
        s->best_c = cs;
        s->best_score = score;
    }
    return true;
}

sl_code sl_lt_cache_semantic_find(sl_lt_cache *c, const char *space, const float *q_vec,
                                  const float *ctx_vec, size_t dim, int64_t now_ms,
                                  sl_lt_cache_match *out, sl_err *err)
{
    memset(out, 0, sizeof(*out));
    scan_state s = {.o = &c->o, .q = q_vec, .ctx = ctx_vec, .dim = dim};
    sl_code rc = sl_appstore_genie_semantic_scan(c->st, space, now_ms, c->o.ttl_ms, scan_row, &s, err);
    if (rc != SL_OK)
        return rc;
    if (!s.any)
        return SL_ENOTFOUND;
    out->question_sim = s.best_q;
    out->context_sim = s.best_c;
    out->score = s.best_score;
    if (s.best_q < c->o.similarity_threshold || s.best_c < c->o.context_threshold)
        return SL_ENOTFOUND;
    sl_genie_cache_entry e;
    rc = sl_appstore_genie_semantic_get(c->st, s.best_id, now_ms, &e, err);
    if (rc != SL_OK)
        return rc; /* SL_ENOTFOUND: another generator evicted it meanwhile */
    if (blank(e.sql)) {
        sl_genie_cache_entry_cleanup(&e);
        return SL_ENOTFOUND;
    }
    out->entry_id = s.best_id;
    out->sql = e.sql;
    out->conversation_id = e.conversation_id;
    out->question = e.question;
    e.sql = e.conversation_id = e.question = NULL;
    sl_genie_cache_entry_cleanup(&e);
    return SL_OK;
}

sl_code sl_lt_cache_semantic_put(sl_lt_cache *c, const char *space, const char *question,
                                 const char *context, const float *q_vec, const float *ctx_vec,
                                 size_t dim, const char *sql, const char *conversation_id,
                                 const char *message_id, int64_t now_ms, sl_err *err)
{
    if (blank(sql))
        return SL_OK;
    sl_genie_cache_entry e;
    memset(&e, 0, sizeof(e));
    e.space_id = (char *)space;
    e.question = (char *)question;
    e.context = (char *)(context ? context : "");
    e.sql = (char *)sql;
    e.conversation_id = (char *)conversation_id;
    e.message_id = (char *)message_id;
    e.question_emb = (float *)q_vec;
    e.context_emb = (float *)ctx_vec;
    e.dim = dim;
    e.created_ms = now_ms;
    e.last_access_ms = now_ms;
    return sl_appstore_genie_semantic_put(c->st, &e, c->o.capacity, NULL, err);
}

sl_code sl_lt_cache_semantic_forget(sl_lt_cache *c, int64_t entry_id, sl_err *err)
{
    return sl_appstore_genie_semantic_delete(c->st, entry_id, err);
}

sl_code sl_lt_cache_count(sl_lt_cache *c, const char *space, int64_t *n_lru, int64_t *n_semantic,
                          sl_err *err)
{
    return sl_appstore_genie_cache_count(c->st, space, n_lru, n_semantic, err);
}
