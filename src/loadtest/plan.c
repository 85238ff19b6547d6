/*
 * plan.c - what `loadtest genie` runs, resolved from what it was asked: the question file or
 * the exported conversations loaded (and sampled), the mode chosen, a built-in scenario's
 * numbers taken and overridden, and the question pool set up. The plan owns everything the
 * resulting sl_lt_opts borrow (pool, conversations), so it must outlive the run.
 */
#include <stdlib.h>

#include "loadtest_int.h"

struct sl_lt_plan {
    char **pool; /* --questions-file lines (owned) */
    size_t n_pool;
    const char **flat; /* the conversations' messages in file order (borrowed texts) */
    sl_lt_convset *cs; /* owned */
};

void sl_lt_plan_free(sl_lt_plan *p)
{
    if (!p)
        return;
    sl_lt_strv_free(p->pool);
    free(p->flat);
    sl_lt_convset_free(p->cs);
    free(p);
}

const sl_lt_convset *sl_lt_plan_convs(const sl_lt_plan *p)
{
    return p->cs;
}

static sl_code load(const sl_lt_plan_opts *in, sl_lt_plan *p, sl_err *err)
{
    sl_code rc;
    if (in->questions_file &&
        (rc = sl_lt_questions_load(in->questions_file, &p->pool, &p->n_pool, err)) != SL_OK)
        return rc;
    if (!in->conversations_file)
        return SL_OK;
    if ((rc = sl_lt_convset_load(in->conversations_file, &p->cs, err)) != SL_OK)
        return rc;
    if (p->cs->n_convs == 0)
        return sl_err_set(err, SL_EINVAL, "%s holds no conversation with messages",
                          in->conversations_file);
    if (in->sample.size > 0) {
        size_t before = p->cs->n_convs;
        sl_lt_convset_sample(p->cs, (size_t)in->sample.size,
                             in->sample.has_seed ? in->sample.seed : sl_rand_u64());
        if (p->cs->n_convs < before)
            sl_info("Sampled %zu of %zu conversations for reuse during the simulation",
                    p->cs->n_convs, before);
    }
    return SL_OK;
}

sl_code sl_lt_plan_new(const sl_lt_plan_opts *in, sl_lt_opts *o, sl_lt_plan **out, sl_err *err)
{
    *out = NULL;
    const sl_lt_scenario *sc = NULL;
    if (in->scenario && !(sc = sl_lt_scenario_find(in->scenario)))
        return sl_err_set(err, SL_EINVAL, "unknown scenario '%s'", in->scenario);
    sl_lt_plan *p = sl_xcalloc(1, sizeof(*p));
    sl_code rc = load(in, p, err);
    if (rc != SL_OK) {
        sl_lt_plan_free(p);
        return rc;
    }
    if (!sl_lt_plan_is_scenario(in)) {
        o->mode = SL_LT_MODE_REPLAY;
        o->scenario = "replay";
        o->convs = p->cs;
        *out = p;
        return SL_OK;
    }
    o->mode = SL_LT_MODE_SCENARIO;
    o->scenario = sc ? sc->name : "custom";
    o->questions = in->has_questions ? in->questions : sc ? sc->questions : 0;
    o->duration_ms = in->has_duration ? in->duration_ms : sc ? sc->duration_ms : 0;
    o->workers = in->has_workers ? in->workers : sc ? sc->workers : 10;
    if (!sc && !in->has_questions)
        o->questions =
            p->pool ? (int64_t)p->n_pool : (int64_t)(p->cs ? sl_lt_convset_messages(p->cs) : 0);
    if (p->pool) {
        o->pool = (const char *const *)p->pool;
        o->n_pool = p->n_pool;
    } else if (p->cs) {
        size_t n = sl_lt_convset_messages(p->cs), k = 0;
        p->flat = sl_xcalloc(n + 1, sizeof(*p->flat));
        for (size_t i = 0; i < p->cs->n_convs; i++)
            for (size_t j = 0; j < p->cs->convs[i].n_msgs; j++)
                p->flat[k++] = p->cs->convs[i].msgs[j].content;
        o->pool = p->flat;
        o->n_pool = n;
    }
    *out = p;
    return SL_OK;
}

bool sl_lt_plan_is_scenario(const sl_lt_plan_opts *in)
{
    return in->scenario || in->has_questions || in->questions_file || !in->conversations_file;
}
