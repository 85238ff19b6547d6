/*
 * genie.c - Genie spaces, conversations and messages. Spaces come from --genie-config or
 * a demo space over samples.sales.product_sales. A question is matched against the space's
 * rules (POSIX extended regexes, case-insensitive): the first match supplies the SQL, run
 * at once on the table store and registered as a statement; no match gives a text answer.
 *
 * Message status is a function of time, so polling is a lock and a lookup (no SQLite):
 *   SUBMITTED [0, L/2) -> EXECUTING_QUERY or ASKING_AI [L/2, L) -> COMPLETED | FAILED |
 *   QUERY_RESULT_EXPIRED (rule flag; execute-query re-runs it and the message completes).
 * State is in memory only. POST start-conversation / create-message are rate limited per
 * workspace (sliding window) with 429 REQUEST_LIMIT_EXCEEDED + Retry-After.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emulator_int.h"

#define USER_ID    1000000000000001LL
#define DEMO_SPACE "5a1e5000000000000000000000000001"

typedef struct rule {
    regex_t re;
    char *sql, *title, *description, *text;
    char *fail_error, *fail_type; /* set = the message FAILS */
    bool expire;
} rule;

typedef struct space {
    char *id, *title, *description, *warehouse_id, *fallback;
    json_t *config;
    rule *rules;
    int n_rules;
    bool has_fail;
    regex_t fail_re;
    char *fail_error, *fail_type;
} space;

typedef enum { MSG_TEXT, MSG_QUERY, MSG_FAIL } msg_kind;

typedef struct conv conv;

typedef struct msg {
    char id[33], att_query[33], att_text[33];
    conv *c;
    char *content, *text, *sql, *title, *description, *err, *err_type;
    msg_kind kind;
    char stmt_id[40];
    int64_t row_count;
    int64_t created_ms, done_ms, updated_ms;
    bool expired;
} msg;

struct conv {
    char id[33];
    space *sp;
    char *title;
    int64_t created_ms, updated_ms;
    msg **msgs;
    size_t n_msgs;
};

struct emu_genie {
    pthread_mutex_t mu;
    space *spaces;
    int n_spaces;
    sl__map *convs, *msgs;
    emu_rate rate;
    json_t *cfg;
};

/* ------------------------------------------------------------------ config */

static char *opt_dup(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? sl_xstrdup(s) : NULL;
}

static bool compile(regex_t *re, const char *pat, char *eb, size_t n)
{
    int rc = regcomp(re, pat, REG_EXTENDED | REG_ICASE | REG_NOSUB);
    if (rc != 0) {
        char m[128];
        regerror(rc, re, m, sizeof(m));
        snprintf(eb, n, "genie config: bad regex '%s': %s", pat, m);
        return false;
    }
    return true;
}

static bool load_rule(rule *r, const json_t *j, char *eb, size_t n)
{
    const char *m = json_string_value(json_object_get(j, "match"));
    if (!m) {
        snprintf(eb, n, "genie config: every rule needs a \"match\" regex");
        return false;
    }
    if (!compile(&r->re, m, eb, n))
        return false;
    r->sql = opt_dup(j, "sql");
    r->title = opt_dup(j, "title");
    r->description = opt_dup(j, "description");
    r->text = opt_dup(j, "text");
    r->expire = json_is_true(json_object_get(j, "expire_result"));
    const json_t *f = json_object_get(j, "fail");
    if (json_is_true(f) || json_is_object(f) || json_is_string(f)) {
        const char *err = json_is_string(f) ? json_string_value(f)
                                            : json_string_value(json_object_get(f, "error"));
        const char *type = json_string_value(json_object_get(f, "type"));
        r->fail_error = sl_xstrdup(err ? err : "Genie could not answer this question.");
        r->fail_type = sl_xstrdup(type ? type : "GENERIC_CHAT_COMPLETION_EXCEPTION");
    }
    return true;
}

static void free_space(space *s)
{
    free(s->id);
    free(s->title);
    free(s->description);
    free(s->warehouse_id);
    free(s->fallback);
    free(s->fail_error);
    free(s->fail_type);
    json_decref(s->config);
    for (int k = 0; k < s->n_rules; k++) {
        regfree(&s->rules[k].re);
        free(s->rules[k].sql);
        free(s->rules[k].title);
        free(s->rules[k].description);
        free(s->rules[k].text);
        free(s->rules[k].fail_error);
        free(s->rules[k].fail_type);
    }
    free(s->rules);
    if (s->has_fail)
        regfree(&s->fail_re);
}

static bool load_space(space *s, json_t *j, char *eb, size_t n)
{
    memset(s, 0, sizeof(*s));
    s->config = json_incref(j);
    s->id = opt_dup(j, "space_id");
    if (!s->id) {
        char hex[33];
        sl_hexid_new(hex);
        s->id = sl_xstrdup(hex);
    }
    s->title = opt_dup(j, "title");
    if (!s->title)
        s->title = sl_xstrdup("Genie space");
    s->description = opt_dup(j, "description");
    s->warehouse_id = opt_dup(j, "warehouse_id");
    if (!s->warehouse_id)
        s->warehouse_id = sl_xstrdup("emu0000000000001");
    s->fallback = opt_dup(j, "fallback_text");
    if (!s->fallback)
        s->fallback = sl_xstrdup("I could not find data to answer that question in this space. "
                                 "Try rephrasing it or ask about the space's tables.");
    const char *fm = json_string_value(json_object_get(j, "fail_match"));
    if (fm) {
        if (!compile(&s->fail_re, fm, eb, n))
            return false;
        s->has_fail = true;
        s->fail_error = opt_dup(j, "fail_error");
        if (!s->fail_error)
            s->fail_error = sl_xstrdup("Genie failed to generate a query for this question.");
        s->fail_type = opt_dup(j, "fail_type");
        if (!s->fail_type)
            s->fail_type = sl_xstrdup("GENERIC_CHAT_COMPLETION_EXCEPTION");
    }
    json_t *rules = json_object_get(j, "rules");
    size_t k;
    json_t *rj;
    s->rules = sl_xcalloc(json_array_size(rules) + 1, sizeof(*s->rules));
    json_array_foreach(rules, k, rj)
    {
        if (!load_rule(&s->rules[s->n_rules], rj, eb, n))
            return false;
        s->n_rules++;
    }
    return true;
}

static const char *demo_config =
    "{\"spaces\":[{\"space_id\":\"" DEMO_SPACE "\","
    "\"title\":\"Product sales (demo)\","
    "\"description\":\"Demo space over samples.sales.product_sales, served by the Sluice "
    "emulator.\","
    "\"warehouse_id\":\"emu0000000000001\","
    "\"tables\":[\"samples.sales.product_sales\"],"
    "\"fail_match\":\"force (a )?failure\","
    "\"fallback_text\":\"I can answer questions about samples.sales.product_sales: top products by "
    "total sales value, sales by region, units by product, monthly totals and order counts.\","
    "\"rules\":["
    "{\"match\":\"expired?( query)? result\","
    "\"sql\":\"SELECT product_name, ROUND(SUM(total_value), 2) AS total_sales_value FROM "
    "samples.sales.product_sales GROUP BY product_name ORDER BY total_sales_value DESC LIMIT 5\","
    "\"title\":\"Top products by total sales value\",\"description\":\"Products ranked by the "
    "sum of total_value.\",\"text\":\"Here are the top products by total sales value.\","
    "\"expire_result\":true},"
    "{\"match\":\"(highest|top|best|most).*(sales|revenue|value)|(sales|revenue) value.*product\","
    "\"sql\":\"SELECT product_name, ROUND(SUM(total_value), 2) AS total_sales_value FROM "
    "samples.sales.product_sales GROUP BY product_name ORDER BY total_sales_value DESC LIMIT 5\","
    "\"title\":\"Top products by total sales value\",\"description\":\"Products ranked by the "
    "sum of total_value.\",\"text\":\"These products generate the highest total sales value.\"},"
    "{\"match\":\"region\","
    "\"sql\":\"SELECT region, ROUND(SUM(total_value), 2) AS total_sales_value, SUM(units) AS "
    "units_sold FROM samples.sales.product_sales GROUP BY region ORDER BY total_sales_value "
    "DESC\",\"title\":\"Sales by region\",\"description\":\"Total sales value and units per "
    "region.\",\"text\":\"Here is the sales breakdown by region.\"},"
    "{\"match\":\"(units|quantity|quantities|how many).*(product|item)|(product|item).*(units|"
    "quantity)\","
    "\"sql\":\"SELECT product_name, SUM(units) AS units_sold FROM samples.sales.product_sales "
    "GROUP BY product_name ORDER BY units_sold DESC\",\"title\":\"Units sold by product\","
    "\"description\":\"Sum of units per product.\",\"text\":\"Here are the units sold per "
    "product.\"},"
    "{\"match\":\"month|monthly|trend|over time\","
    "\"sql\":\"SELECT date_trunc('MONTH', order_date) AS month, ROUND(SUM(total_value), 2) AS "
    "total_sales_value FROM samples.sales.product_sales GROUP BY 1 ORDER BY month\","
    "\"title\":\"Monthly sales totals\",\"description\":\"Total sales value per month.\","
    "\"text\":\"Here are the monthly sales totals.\"},"
    "{\"match\":\"(how many|number of|count).*orders?|orders? count\","
    "\"sql\":\"SELECT COUNT(*) AS orders FROM samples.sales.product_sales\","
    "\"title\":\"Order count\",\"description\":\"Number of orders.\",\"text\":\"This is the "
    "number of orders.\"}"
    "]}]}";

bool sl__emu_genie_start(sl_emulator *emu, char *eb, size_t n)
{
    emu_genie *g = sl_xcalloc(1, sizeof(*g));
    pthread_mutex_init(&g->mu, NULL);
    g->convs = sl__map_new();
    g->msgs = sl__map_new();
    emu->genie = g;
    int limit;
    int64_t window;
    if (!sl__emu_rate_parse(emu->opts.genie_rate ? emu->opts.genie_rate : "5/min", &limit,
                            &window, eb, n))
        return false;
    sl__emu_rate_init(&g->rate, limit, window);
    json_error_t je;
    if (emu->genie_config_path)
        g->cfg = json_load_file(emu->genie_config_path, JSON_REJECT_DUPLICATES, &je);
    else
        g->cfg = json_loads(demo_config, 0, &je);
    if (!g->cfg) {
        snprintf(eb, n, "genie config %s: line %d: %s",
                 emu->genie_config_path ? emu->genie_config_path : "(demo)", je.line, je.text);
        return false;
    }
    json_t *spaces = json_object_get(g->cfg, "spaces");
    if (!json_is_array(spaces)) {
        snprintf(eb, n, "genie config: expected {\"spaces\": [...]}");
        return false;
    }
    g->spaces = sl_xcalloc(json_array_size(spaces) + 1, sizeof(*g->spaces));
    size_t k;
    json_t *sj;
    json_array_foreach(spaces, k, sj)
    {
        bool ok = load_space(&g->spaces[g->n_spaces], sj, eb, n);
        g->n_spaces++;
        if (!ok)
            return false;
    }
    return true;
}

static void conv_free(void *p)
{
    conv *c = p;
    free(c->title);
    free(c->msgs);
    free(c);
}

static void msg_free(void *p)
{
    msg *m = p;
    free(m->content);
    free(m->text);
    free(m->sql);
    free(m->title);
    free(m->description);
    free(m->err);
    free(m->err_type);
    free(m);
}

void sl__emu_genie_stop(sl_emulator *emu)
{
    emu_genie *g = emu->genie;
    if (!g)
        return;
    for (int k = 0; k < g->n_spaces; k++)
        free_space(&g->spaces[k]);
    free(g->spaces);
    sl__map_free(g->convs, conv_free);
    sl__map_free(g->msgs, msg_free);
    sl__emu_rate_cleanup(&g->rate);
    json_decref(g->cfg);
    pthread_mutex_destroy(&g->mu);
    free(g);
    emu->genie = NULL;
}

bool sl__emu_genie_set_rate(sl_emulator *emu, const char *spec, char *eb, size_t n)
{
    int limit;
    int64_t window;
    if (!sl__emu_rate_parse(spec, &limit, &window, eb, n))
        return false;
    emu_genie *g = emu->genie;
    pthread_mutex_lock(&g->mu);
    sl__emu_rate_cleanup(&g->rate);
    sl__emu_rate_init(&g->rate, limit, window);
    pthread_mutex_unlock(&g->mu);
    return true;
}

/* ------------------------------------------------------------------ JSON */

static space *find_space(emu_genie *g, const char *id)
{
    for (int k = 0; k < g->n_spaces; k++)
        if (id && strcmp(g->spaces[k].id, id) == 0)
            return &g->spaces[k];
    return NULL;
}

static json_t *space_json(const space *s, bool serialized)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "space_id", s->id, "title", s->title,
                          "warehouse_id", s->warehouse_id, "create_time", "2024-01-01T00:00:00Z",
                          "update_time", "2024-01-01T00:00:00Z");
    if (s->description)
        json_object_set_new(o, "description", json_string(s->description));
    if (serialized) {
        char *ser = sl_json_dumps(s->config);
        json_object_set_new(o, "serialized_space", json_string(ser));
        free(ser);
    }
    return o;
}

static const char *msg_status(const msg *m, int64_t now)
{
    if (now < m->done_ms) {
        if (now < m->created_ms + (m->done_ms - m->created_ms) / 2)
            return "SUBMITTED";
        return m->kind == MSG_QUERY ? "EXECUTING_QUERY" : "ASKING_AI";
    }
    if (m->kind == MSG_FAIL)
        return "FAILED";
    return m->expired ? "QUERY_RESULT_EXPIRED" : "COMPLETED";
}

static json_t *msg_json(const msg *m, int64_t now)
{
    const char *st = msg_status(m, now);
    bool done = now >= m->done_ms;
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "message_id", m->id,
                          "id", m->id, "conversation_id", m->c->id, "space_id", m->c->sp->id,
                          "content", m->content, "status", st, "user_id", (json_int_t)USER_ID,
                          "created_timestamp", (json_int_t)m->created_ms,
                          "last_updated_timestamp",
                          (json_int_t)(done ? (m->updated_ms > m->done_ms ? m->updated_ms
                                                                          : m->done_ms)
                                            : m->created_ms));
    json_t *atts = json_array();
    if (m->kind == MSG_QUERY && strcmp(st, "SUBMITTED") != 0) {
        json_t *q = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:I}, s:I}", "id", m->att_query,
                              "title", m->title ? m->title : "Query result", "description",
                              m->description ? m->description : "", "query", m->sql,
                              "statement_id", m->stmt_id, "query_result_metadata", "row_count",
                              (json_int_t)m->row_count, "last_updated_timestamp",
                              (json_int_t)m->done_ms);
        json_array_append_new(atts, json_pack("{s:s, s:o}", "attachment_id", m->att_query,
                                              "query", q));
    }
    if (done && m->kind != MSG_FAIL)
        json_array_append_new(atts, json_pack("{s:s, s:{s:s, s:s}}", "attachment_id",
                                              m->att_text, "text", "id", m->att_text, "content",
                                              m->text ? m->text : ""));
    if (json_array_size(atts))
        json_object_set_new(o, "attachments", atts);
    else
        json_decref(atts);
    if (done && m->kind == MSG_QUERY)
        json_object_set_new(o, "query_result",
                            json_pack("{s:s, s:I}", "statement_id", m->stmt_id, "row_count",
                                      (json_int_t)m->row_count));
    if (done && m->kind == MSG_FAIL)
        json_object_set_new(o, "error", json_pack("{s:s, s:s}", "error", m->err, "type",
                                                  m->err_type));
    return o;
}

static json_t *conv_json(const conv *c)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "conversation_id", c->id, "id", c->id,
                     "space_id", c->sp->id, "title", c->title, "user_id", (json_int_t)USER_ID,
                     "created_timestamp", (json_int_t)c->created_ms, "last_updated_timestamp",
                     (json_int_t)c->updated_ms);
}

/* ------------------------------------------------------------------ paging */

static bool paging(emu_req *r, long dflt, long max, long *off, long *size)
{
    const char *ps = sl__emu_req_query(r, "page_size");
    const char *pt = sl__emu_req_query(r, "page_token");
    char *end;
    *size = dflt;
    *off = 0;
    if (ps && *ps) {
        *size = strtol(ps, &end, 10);
        if (*end || *size < 0) {
            sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE", "Invalid page_size '%s'.", ps);
            return false;
        }
        if (*size == 0)
            *size = dflt;
        if (*size > max)
            *size = max;
    }
    if (pt && *pt) {
        *off = strtol(pt, &end, 10);
        if (*end || *off < 0) {
            sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE", "Invalid page_token.");
            return false;
        }
    }
    return true;
}

static void set_next(json_t *o, long off, long size, long total)
{
    if (off + size < total) {
        char t[32];
        snprintf(t, sizeof(t), "%ld", off + size);
        json_object_set_new(o, "next_page_token", json_string(t));
    }
}

/* ------------------------------------------------------------------ handlers */

static emu_hr not_found(emu_req *r, const char *what, const char *id)
{
    return sl__emu_reply_error(r, 404, "RESOURCE_DOES_NOT_EXIST", "%s %s does not exist.", what,
                               id ? id : "");
}

emu_hr sl__emu_genie_spaces(emu_req *r)
{
    emu_genie *g = sl__emu_req_emu(r)->genie;
    long off, size;
    if (!paging(r, 100, 100, &off, &size))
        return EMU_HR_DONE;
    json_t *arr = json_array();
    for (long k = off; k < g->n_spaces && k < off + size; k++)
        json_array_append_new(arr, space_json(&g->spaces[k], false));
    json_t *o = json_pack("{s:o}", "spaces", arr);
    set_next(o, off, size, g->n_spaces);
    return sl__emu_reply_json(r, 200, o);
}

emu_hr sl__emu_genie_space(emu_req *r)
{
    emu_genie *g = sl__emu_req_emu(r)->genie;
    space *s = find_space(g, sl__emu_req_param(r, 0));
    if (!s)
        return not_found(r, "Genie space", sl__emu_req_param(r, 0));
    const char *ser = sl__emu_req_query(r, "include_serialized_space");
    return sl__emu_reply_json(r, 200, space_json(s, ser && strcmp(ser, "true") == 0));
}

/* Decide the answer for a question and run its SQL (no lock held). */
static void answer(sl_emulator *emu, space *s, msg *m)
{
    if (s->has_fail && regexec(&s->fail_re, m->content, 0, NULL, 0) == 0) {
        m->kind = MSG_FAIL;
        m->err = sl_xstrdup(s->fail_error);
        m->err_type = sl_xstrdup(s->fail_type);
        return;
    }
    const rule *ru = NULL;
    for (int k = 0; k < s->n_rules && !ru; k++)
        if (regexec(&s->rules[k].re, m->content, 0, NULL, 0) == 0)
            ru = &s->rules[k];
    if (!ru) {
        m->kind = MSG_TEXT;
        m->text = sl_xstrdup(s->fallback);
        return;
    }
    if (ru->fail_error) {
        m->kind = MSG_FAIL;
        m->err = sl_xstrdup(ru->fail_error);
        m->err_type = sl_xstrdup(ru->fail_type);
        return;
    }
    m->text = sl_xstrdup(ru->text ? ru->text : "Here is the answer to your question.");
    if (!ru->sql) {
        m->kind = MSG_TEXT;
        return;
    }
    m->kind = MSG_QUERY;
    m->sql = sl_xstrdup(ru->sql);
    m->title = ru->title ? sl_xstrdup(ru->title) : NULL;
    m->description = ru->description ? sl_xstrdup(ru->description) : NULL;
    m->expired = ru->expire;
    emu_stmt *st = sl__emu_stmt_run_sync(emu, ru->sql, NULL, NULL);
    snprintf(m->stmt_id, sizeof(m->stmt_id), "%s", sl__emu_stmt_id(st));
    emu_err e = {0};
    if (!sl__emu_stmt_outcome(emu, st, &m->row_count, &e)) {
        m->kind = MSG_FAIL;
        m->err = sl_xasprintf("SQL execution failed: [%s] %s", e.cls, e.msg);
        m->err_type = sl_xstrdup("SQL_EXECUTION_EXCEPTION");
    }
    sl__emu_stmt_put(emu, st);
}

static msg *new_msg(sl_emulator *emu, const char *content)
{
    msg *m = sl_xcalloc(1, sizeof(*m));
    sl_hexid_new(m->id);
    sl_hexid_new(m->att_query);
    sl_hexid_new(m->att_text);
    m->content = sl_xstrdup(content);
    m->created_ms = sl_now_ms();
    m->done_ms = m->created_ms + (emu->opts.genie_latency_ms > 0 ? emu->opts.genie_latency_ms : 0);
    return m;
}

static const char *content_of(emu_req *r)
{
    json_t *body = sl__emu_req_json(r);
    if (!body)
        return NULL;
    const char *c = json_string_value(json_object_get(body, "content"));
    if (!c || !*c) {
        sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE", "Field 'content' is required.");
        return NULL;
    }
    return c;
}

/* Take a rate-limit slot; on refusal replies 429. Caller holds g->mu. */
static bool take_slot(emu_req *r, emu_genie *g)
{
    int64_t wait_ms = 0;
    if (sl__emu_rate_take(&g->rate, sl_now_ms(), &wait_ms))
        return true;
    int64_t secs = (wait_ms + 999) / 1000;
    if (secs < 1)
        secs = 1;
    sl__emu_reply_error(r, 429, "REQUEST_LIMIT_EXCEEDED",
                        "Genie API throughput limit exceeded: at most %d questions per %llds per "
                        "workspace. Retry after %lld seconds.",
                        g->rate.limit, (long long)(g->rate.window_ms / 1000), (long long)secs);
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", (long long)secs);
    sl__emu_reply_header(r, "Retry-After", buf);
    return false;
}

static void attach(emu_genie *g, conv *c, msg *m)
{
    m->c = c;
    c->msgs = sl_xrealloc(c->msgs, (c->n_msgs + 1) * sizeof(*c->msgs));
    c->msgs[c->n_msgs++] = m;
    c->updated_ms = m->created_ms;
    sl__map_put(g->msgs, m->id, m);
}

emu_hr sl__emu_genie_start_conv(emu_req *r)
{
    sl_emulator *emu = sl__emu_req_emu(r);
    emu_genie *g = emu->genie;
    space *s = find_space(g, sl__emu_req_param(r, 0));
    if (!s)
        return not_found(r, "Genie space", sl__emu_req_param(r, 0));
    const char *content = content_of(r);
    if (!content)
        return EMU_HR_DONE;
    pthread_mutex_lock(&g->mu);
    bool ok = take_slot(r, g);
    pthread_mutex_unlock(&g->mu);
    if (!ok)
        return EMU_HR_DONE;
    msg *m = new_msg(emu, content);
    answer(emu, s, m);
    conv *c = sl_xcalloc(1, sizeof(*c));
    sl_hexid_new(c->id);
    c->sp = s;
    c->title = sl_xstrndup(content, 100);
    c->created_ms = m->created_ms;
    pthread_mutex_lock(&g->mu);
    sl__map_put(g->convs, c->id, c);
    attach(g, c, m);
    int64_t now = sl_now_ms();
    json_t *o = json_pack("{s:s, s:s, s:o, s:o}", "conversation_id", c->id, "message_id", m->id,
                          "conversation", conv_json(c), "message", msg_json(m, now));
    pthread_mutex_unlock(&g->mu);
    sl__emu_stats_genie(emu, s->id, c->id, m->id, content, m->created_ms);
    return sl__emu_reply_json(r, 200, o);
}

/* Look up the conversation in the request (params 0, 1); replies 404. Caller holds g->mu. */
static conv *find_conv(emu_req *r, emu_genie *g)
{
    conv *c = sl__map_get(g->convs, sl__emu_req_param(r, 1));
    if (!c || strcmp(c->sp->id, sl__emu_req_param(r, 0)) != 0) {
        if (!find_space(g, sl__emu_req_param(r, 0)))
            not_found(r, "Genie space", sl__emu_req_param(r, 0));
        else
            not_found(r, "Conversation", sl__emu_req_param(r, 1));
        return NULL;
    }
    return c;
}

static msg *find_msg(emu_req *r, emu_genie *g)
{
    if (!find_conv(r, g))
        return NULL;
    msg *m = sl__map_get(g->msgs, sl__emu_req_param(r, 2));
    if (!m || strcmp(m->c->id, sl__emu_req_param(r, 1)) != 0) {
        not_found(r, "Message", sl__emu_req_param(r, 2));
        return NULL;
    }
    return m;
}

emu_hr sl__emu_genie_create_msg(emu_req *r)
{
    sl_emulator *emu = sl__emu_req_emu(r);
    emu_genie *g = emu->genie;
    const char *content = content_of(r);
    if (!content)
        return EMU_HR_DONE;
    pthread_mutex_lock(&g->mu);
    conv *c = find_conv(r, g);
    space *s = c ? c->sp : NULL;
    bool ok = c && take_slot(r, g);
    pthread_mutex_unlock(&g->mu);
    if (!ok)
        return EMU_HR_DONE;
    msg *m = new_msg(emu, content);
    answer(emu, s, m);
    pthread_mutex_lock(&g->mu);
    c = sl__map_get(g->convs, sl__emu_req_param(r, 1)); /* may be deleted meanwhile */
    json_t *o = NULL;
    if (c) {
        attach(g, c, m);
        o = msg_json(m, sl_now_ms());
    }
    pthread_mutex_unlock(&g->mu);
    if (!o) {
        msg_free(m);
        return not_found(r, "Conversation", sl__emu_req_param(r, 1));
    }
    sl__emu_stats_genie(emu, s->id, sl__emu_req_param(r, 1), m->id, content, m->created_ms);
    return sl__emu_reply_json(r, 200, o);
}

emu_hr sl__emu_genie_get_msg(emu_req *r)
{
    emu_genie *g = sl__emu_req_emu(r)->genie;
    pthread_mutex_lock(&g->mu);
    msg *m = find_msg(r, g);
    json_t *o = m ? msg_json(m, sl_now_ms()) : NULL;
    pthread_mutex_unlock(&g->mu);
    return o ? sl__emu_reply_json(r, 200, o) : EMU_HR_DONE;
}

static int conv_newest_first(const void *a, const void *b)
{
    const conv *x = *(conv *const *)a, *y = *(conv *const *)b;
    if (x->created_ms != y->created_ms)
        return x->created_ms < y->created_ms ? 1 : -1;
    return strcmp(x->id, y->id);
}

emu_hr sl__emu_genie_list_convs(emu_req *r)
{
    emu_genie *g = sl__emu_req_emu(r)->genie;
    space *s = find_space(g, sl__emu_req_param(r, 0));
    if (!s)
        return not_found(r, "Genie space", sl__emu_req_param(r, 0));
    long off, size;
    if (!paging(r, 20, 100, &off, &size))
        return EMU_HR_DONE;
    pthread_mutex_lock(&g->mu);
    conv **all = sl_xcalloc(sl__map_count(g->convs) + 1, sizeof(*all));
    long n = 0;
    size_t it = 0;
    void *v;
    while (sl__map_next(g->convs, &it, NULL, &v))
        if (((conv *)v)->sp == s)
            all[n++] = v;
    qsort(all, (size_t)n, sizeof(*all), conv_newest_first);
    json_t *arr = json_array();
    for (long k = off; k < n && k < off + size; k++)
        json_array_append_new(arr, json_pack("{s:s, s:s, s:I}", "conversation_id", all[k]->id,
                                             "title", all[k]->title, "created_timestamp",
                                             (json_int_t)all[k]->created_ms));
    pthread_mutex_unlock(&g->mu);
    free(all);
    json_t *o = json_pack("{s:o}", "conversations", arr);
    set_next(o, off, size, n);
    return sl__emu_reply_json(r, 200, o);
}

emu_hr sl__emu_genie_list_msgs(emu_req *r)
{
    emu_genie *g = sl__emu_req_emu(r)->genie;
    long off, size;
    if (!paging(r, 100, 100, &off, &size))
        return EMU_HR_DONE;
    pthread_mutex_lock(&g->mu);
    conv *c = find_conv(r, g);
    json_t *o = NULL;
    if (c) {
        json_t *arr = json_array();
        int64_t now = sl_now_ms();
        for (long k = off; k < (long)c->n_msgs && k < off + size; k++)
            json_array_append_new(arr, msg_json(c->msgs[k], now));
        o = json_pack("{s:o}", "messages", arr);
        set_next(o, off, size, (long)c->n_msgs);
    }
    pthread_mutex_unlock(&g->mu);
    return o ? sl__emu_reply_json(r, 200, o) : EMU_HR_DONE;
}

emu_hr sl__emu_genie_delete_conv(emu_req *r)
{
    emu_genie *g = sl__emu_req_emu(r)->genie;
    pthread_mutex_lock(&g->mu);
    conv *c = find_conv(r, g);
    if (c) {
        sl__map_del(g->convs, c->id);
        for (size_t k = 0; k < c->n_msgs; k++) {
            sl__map_del(g->msgs, c->msgs[k]->id);
            msg_free(c->msgs[k]);
        }
        conv_free(c);
    }
    pthread_mutex_unlock(&g->mu);
    return c ? sl__emu_reply_json(r, 200, json_object()) : EMU_HR_DONE;
}

/* Find the message's query attachment; replies errors. Caller holds g->mu. */
static msg *query_msg(emu_req *r, emu_genie *g)
{
    msg *m = find_msg(r, g);
    if (!m)
        return NULL;
    const char *att = sl__emu_req_param(r, 3);
    if (m->kind != MSG_QUERY || strcmp(att, m->att_query) != 0) {
        if (strcmp(att, m->att_query) == 0 || strcmp(att, m->att_text) == 0)
            sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                                "Attachment %s has no query result.", att);
        else
            not_found(r, "Attachment", att);
        return NULL;
    }
    if (sl_now_ms() < m->created_ms + (m->done_ms - m->created_ms) / 2) {
        sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                            "The query for message %s has not started yet.", m->id);
        return NULL;
    }
    return m;
}

static json_t *closed_response(const char *stmt_id)
{
    return json_pack("{s:s, s:{s:s}}", "statement_id", stmt_id, "status", "state", "CLOSED");
}

emu_hr sl__emu_genie_query_result(emu_req *r)
{
    sl_emulator *emu = sl__emu_req_emu(r);
    emu_genie *g = emu->genie;
    pthread_mutex_lock(&g->mu);
    msg *m = query_msg(r, g);
    char stmt_id[40] = "";
    bool expired = false;
    if (m) {
        snprintf(stmt_id, sizeof(stmt_id), "%s", m->stmt_id);
        expired = m->expired && sl_now_ms() >= m->done_ms;
    }
    pthread_mutex_unlock(&g->mu);
    if (!m)
        return EMU_HR_DONE;
    json_t *sr = sl__emu_stmt_response(emu, stmt_id, expired);
    if (!sr)
        sr = closed_response(stmt_id);
    return sl__emu_reply_json(r, 200, json_pack("{s:o}", "statement_response", sr));
}

emu_hr sl__emu_genie_execute_query(emu_req *r)
{
    sl_emulator *emu = sl__emu_req_emu(r);
    emu_genie *g = emu->genie;
    pthread_mutex_lock(&g->mu);
    msg *m = query_msg(r, g);
    char *sql = m ? sl_xstrdup(m->sql) : NULL;
    pthread_mutex_unlock(&g->mu);
    if (!m)
        return EMU_HR_DONE;
    emu_stmt *st = sl__emu_stmt_run_sync(emu, sql, NULL, NULL);
    free(sql);
    int64_t rows = 0;
    emu_err e = {0};
    bool ok = sl__emu_stmt_outcome(emu, st, &rows, &e);
    pthread_mutex_lock(&g->mu);
    m = sl__map_get(g->msgs, sl__emu_req_param(r, 2));
    if (m && ok) {
        snprintf(m->stmt_id, sizeof(m->stmt_id), "%s", sl__emu_stmt_id(st));
        m->row_count = rows;
        m->expired = false;
        m->updated_ms = sl_now_ms();
    }
    pthread_mutex_unlock(&g->mu);
    json_t *sr = sl__emu_stmt_response(emu, sl__emu_stmt_id(st), false);
    if (!sr)
        sr = closed_response(sl__emu_stmt_id(st));
    sl__emu_stmt_put(emu, st);
    return sl__emu_reply_json(r, 200, json_pack("{s:o}", "statement_response", sr));
}
