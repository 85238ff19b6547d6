/*
 * scenario.c - the pure parts of the generator: the notebook's scenario table and
 * sample questions, the open-loop schedule, question normalisation, questions files,
 * vector similarity, conversation context strings, names of modes/types/causes, and the
 * small buffer and RNG helpers.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loadtest_int.h"

/* ---- scenarios ---- */

static const sl_lt_scenario scenarios[] = {
    {"single_test", 1, 0, 1, "Single question test for validation"},
    {"light_load", 10, 60000, 3, "Light load - 10 questions over 1 minute"},
    {"moderate_load", 20, 30000, 5, "Moderate load - 20 questions over 30 seconds"},
    {"high_load", 35, 30000, 10, "High load - 35 questions over 30 seconds"},
    {"stress_test", 50, 20000, 15, "Stress test - 50 questions over 20 seconds"},
    {"burst_test", 50, 0, 20, "Burst test - 50 questions submitted immediately"},
    {"sustained_load", 100, 120000, 10, "Sustained load - 100 questions over 2 minutes"},
};

const sl_lt_scenario *sl_lt_scenario_list(size_t *n)
{
    *n = sizeof(scenarios) / sizeof(scenarios[0]);
    return scenarios;
}

const sl_lt_scenario *sl_lt_scenario_find(const char *name)
{
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
        if (name && strcmp(scenarios[i].name, name) == 0)
            return &scenarios[i];
    return NULL;
}

int64_t sl_lt_schedule_offset_us(int64_t duration_us, int64_t n, int64_t i)
{
    if (duration_us <= 0 || n <= 1 || i <= 0)
        return 0;
    /* i * duration / n without overflow for any realistic run (i < n, duration < 2^40) */
    __int128 p = (__int128)i * duration_us;
    return (int64_t)(p / n);
}

/* ---- questions ---- */

static const char *const sample_questions[SL_LT_SAMPLE_QUESTIONS] = {
    "What is the total sales for last month?",
    "Show me top 10 customers by revenue",
    "What are the sales trends over the last 6 months?",
    "Which products have the highest profit margin?",
    "What is the average order value?",
    "Show me sales by region",
    "What is the customer churn rate?",
    "How many new customers joined last month?",
    "What is the inventory level for top products?",
    "Show me the sales forecast for next quarter",
};

char *sl_lt_sample_question(size_t i)
{
    return sl_xasprintf("%s (iteration %zu)", sample_questions[i % SL_LT_SAMPLE_QUESTIONS],
                        i / SL_LT_SAMPLE_QUESTIONS + 1);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

char *sl_lt_question_normalize(const char *q)
{
    if (!q)
        return sl_xstrdup("");
    while (is_space(*q))
        q++;
    size_t n = strlen(q);
    while (n > 0 && is_space(q[n - 1]))
        n--;
    char *out = sl_xstrndup(q, n);
    for (char *p = out; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return out;
}

void sl_lt_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

sl_code sl_lt_questions_load(const char *path, char ***out, size_t *n, sl_err *err)
{
    *out = NULL;
    *n = 0;
    char *text = NULL;
    size_t len = 0;
    sl_code rc = sl_file_read(path, &text, &len, err);
    if (rc != SL_OK)
        return sl_err_prefix(err, "questions file");
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        /* strtok_r would stop there and drop the rest of the file without a word */
        size_t line_no = 1;
        for (const char *c = text; c < nul; c++)
            line_no += *c == '\n';
        free(text);
        return sl_err_set(err, SL_EINVAL, "questions file %s line %zu has a NUL byte", path,
                          line_no);
    }
    size_t cap = 16, k = 0;
    char **v = sl_xcalloc(cap, sizeof(*v));
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *q = sl_lt_question_normalize(line); /* only for the blank/comment test */
        bool skip = !*q || *q == '#';
        free(q);
        if (skip)
            continue;
        while (is_space(*line))
            line++;
        size_t l = strlen(line);
        while (l > 0 && is_space(line[l - 1]))
            l--;
        if (k + 2 > cap) {
            cap *= 2;
            v = sl_xrealloc(v, cap * sizeof(*v));
        }
        v[k++] = sl_xstrndup(line, l);
        v[k] = NULL;
    }
    free(text);
    if (k == 0) {
        free(v);
        return sl_err_set(err, SL_EINVAL, "questions file %s holds no question", path);
    }
    *out = v;
    *n = k;
    return SL_OK;
}

/* ---- similarity ---- */

double sl_lt_similarity(sl_lt_sim kind, const float *a, const float *b, size_t dim)
{
    double dot = 0, na = 0, nb = 0, d2 = 0;
    for (size_t i = 0; i < dim; i++) {
        double x = a ? a[i] : 0.0, y = b ? b[i] : 0.0;
        dot += x * y;
        na += x * x;
        nb += y * y;
        d2 += (x - y) * (x - y);
    }
    if (kind == SL_LT_SIM_COSINE) {
        if (na == 0 && nb == 0)
            return 1.0;
        if (na == 0 || nb == 0)
            return 0.0;
        return dot / (sqrt(na) * sqrt(nb));
    }
    return 1.0 / (1.0 + sqrt(d2));
}

bool sl_lt_sim_parse(const char *s, sl_lt_sim *out)
{
    if (strcmp(s, "l2") == 0 || strcmp(s, "L2") == 0)
        *out = SL_LT_SIM_L2;
    else if (strcmp(s, "cosine") == 0)
        *out = SL_LT_SIM_COSINE;
    else
        return false;
    return true;
}

const char *sl_lt_sim_name(sl_lt_sim kind)
{
    return kind == SL_LT_SIM_COSINE ? "cosine" : "l2";
}

/* ---- context ---- */

/* Length of s cut to at most max bytes without splitting a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

char *sl_lt_context_string(const char *const *history, size_t n, int window)
{
    sl_buf b = {0};
    sl_buf_puts(&b, "");
    if (window <= 0 || n == 0)
        return b.p;
    size_t first = n > (size_t)window ? n - (size_t)window : 0;
    for (size_t i = first; i < n; i++) {
        const char *m = history[i] ? history[i] : "";
        size_t cut = utf8_cut(m, SL_LT_CONTEXT_MSG_MAX);
        if (b.len)
            sl_buf_puts(&b, "\n");
        sl_buf_puts(&b, "Previous: ");
        sl_buf_put(&b, m, cut);
        if (cut < strlen(m))
            sl_buf_puts(&b, "...");
    }
    return b.p;
}

/* ---- names ---- */

bool sl_lt_cache_mode_parse(const char *s, sl_lt_cache_mode *out)
{
    if (strcmp(s, "none") == 0)
        *out = SL_LT_CACHE_NONE;
    else if (strcmp(s, "lru") == 0)
        *out = SL_LT_CACHE_LRU;
    else if (strcmp(s, "semantic") == 0)
        *out = SL_LT_CACHE_SEMANTIC;
    else
        return false;
    return true;
}

const char *sl_lt_cache_mode_name(sl_lt_cache_mode m)
{
    return m == SL_LT_CACHE_LRU ? "lru" : m == SL_LT_CACHE_SEMANTIC ? "semantic" : "none";
}

const char *sl_lt_rtype_name(sl_lt_rtype t)
{
    static const char *const names[] = {"GENIE", "GENIE_LIVE", "GENIE_LRU_HIT",
                                        "GENIE_SEMANTIC_HIT", "TOTAL"};
    return t <= SL_LT_RTYPE_COUNT ? names[t] : "?";
}

const char *sl_lt_cause_name(sl_lt_cause c)
{
    static const char *const names[] = {"ok", "rate_limited", "timeout", "genie_failed",
                                        "http_error"};
    return c < SL_LT_CAUSE_COUNT ? names[c] : "?";
}

/* ---- RNG ---- */

uint64_t lt_rng_next(lt_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

double lt_rng_unit(lt_rng *r)
{
    return (double)(lt_rng_next(r) >> 11) * 0x1.0p-53;
}

double lt_rng_uniform(lt_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * lt_rng_unit(r);
}
