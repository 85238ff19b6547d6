/*
 * convfile.c - the conversations file of the Python export tool (conversations.yaml):
 * read with libyaml's document loader, written with libyaml's event emitter the way
 * PyYAML's yaml.dump(default_flow_style=False, sort_keys=False, allow_unicode=True)
 * writes it: block style, sequences not indented under their key, plain scalars where
 * YAML 1.1 would read them back as strings and single quotes where it would not (a
 * string "2026-02-01T09:15:00.123456" or "123" is quoted; integers are plain).
 */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <yaml.h>

#include "loadtest_int.h"

sl_lt_convset *sl_lt_convset_new(void)
{
    return sl_xcalloc(1, sizeof(sl_lt_convset));
}

static void conv_cleanup(sl_lt_conversation *c)
{
    free(c->id);
    free(c->title);
    for (size_t k = 0; k < c->n_msgs; k++) {
        free(c->msgs[k].content);
        free(c->msgs[k].message_id);
    }
    free(c->msgs);
    memset(c, 0, sizeof(*c));
}

void sl_lt_convset_free(sl_lt_convset *cs)
{
    if (!cs)
        return;
    for (size_t i = 0; i < cs->n_convs; i++)
        conv_cleanup(&cs->convs[i]);
    free(cs->convs);
    free(cs->space_id);
    free(cs->exported_at);
    free(cs);
}

size_t sl_lt_convset_messages(const sl_lt_convset *cs)
{
    size_t n = 0;
    for (size_t i = 0; i < cs->n_convs; i++)
        n += cs->convs[i].n_msgs;
    return n;
}

void sl_lt_convset_sample(sl_lt_convset *cs, size_t k, uint64_t seed)
{
    if (k == 0 || k >= cs->n_convs)
        return;
    lt_rng rng = {seed};
    /* partial Fisher-Yates: the first k slots become the sample, in draw order */
    for (size_t i = 0; i < k; i++) {
        size_t j = i + (size_t)(lt_rng_next(&rng) % (cs->n_convs - i));
        sl_lt_conversation t = cs->convs[i];
        cs->convs[i] = cs->convs[j];
        cs->convs[j] = t;
    }
    for (size_t i = k; i < cs->n_convs; i++)
        conv_cleanup(&cs->convs[i]);
    cs->n_convs = k;
}

/* ------------------------------------------------------------------ reading */

typedef struct reader {
    yaml_document_t *doc;
    yaml_node_t *bad;    /* the first number that is not one (the load fails), or NULL */
    const char *bad_key; /* its key */
} reader;

static yaml_node_t *node(reader *r, int id)
{
    return id ? yaml_document_get_node(r->doc, id) : NULL;
}

/* Value node of `key` in mapping m, or NULL. */
static yaml_node_t *map_get(reader *r, yaml_node_t *m, const char *key)
{
    if (!m || m->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(r, p->key);
        if (k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == strlen(key) &&
            memcmp(k->data.scalar.value, key, k->data.scalar.length) == 0)
            return node(r, p->value);
    }
    return NULL;
}

/* Plain null (~, null, empty) reads as absent, as yaml.safe_load gives None. */
static bool is_null(yaml_node_t *n)
{
    if (!n || n->type != YAML_SCALAR_NODE)
        return true;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)n->data.scalar.value;
    return !*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
           strcmp(v, "NULL") == 0;
}

static char *scalar_dup(yaml_node_t *n)
{
    if (is_null(n))
        return NULL;
    return sl_xstrndup((const char *)n->data.scalar.value, n->data.scalar.length);
}

/* A timestamp field: an integer, or a number with a fraction (truncated, as Python's int()
 * does) inside int64 range; absent reads as 0. Anything else (text, 1.7e100, nan) is
 * recorded in r->bad, which fails the load, and reads as 0. */
static int64_t scalar_int(reader *r, yaml_node_t *n, const char *key)
{
    if (n && n->type != YAML_SCALAR_NODE) { /* a list or a mapping */
        if (!r->bad) {
            r->bad = n;
            r->bad_key = key;
        }
        return 0;
    }
    if (is_null(n))
        return 0;
    const char *v = (const char *)n->data.scalar.value;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno == 0 && end != v && *end == '\0')
        return x;
    double d = strtod(v, &end);
    /* -2^63 and 2^63 are exact doubles; NaN fails both comparisons */
    if (end != v && *end == '\0' && d >= -9223372036854775808.0 && d < 9223372036854775808.0)
        return (int64_t)d;
    if (!r->bad) {
        r->bad = n;
        r->bad_key = key;
    }
    return 0;
}

static int msg_cmp(const void *a, const void *b)
{
    const sl_lt_message *x = a, *y = b;
    return (x->timestamp_ms > y->timestamp_ms) - (x->timestamp_ms < y->timestamp_ms);
}

static void insertion_sort_msgs(sl_lt_message *m, size_t n)
{
    /* stable (Python's sort is): equal timestamps keep their file order */
    for (size_t i = 1; i < n; i++) {
        sl_lt_message t = m[i];
        size_t j = i;
        while (j > 0 && msg_cmp(&m[j - 1], &t) > 0) {
            m[j] = m[j - 1];
            j--;
        }
        m[j] = t;
    }
}

sl_code sl_lt_convset_load(const char *path, sl_lt_convset **out, sl_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return sl_err_set(err, SL_ENOTFOUND,
                              "conversations file %s not found (run 'sluice loadtest export' "
                              "first)",
                              path);
        return sl_err_set(err, SL_EIO, "cannot read conversations file %s: %s", path,
                          strerror(errno));
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    sl_code rc = SL_OK;
    if (!yaml_parser_load(&parser, &doc)) {
        rc = sl_err_set(err, SL_EINVAL, "conversations file %s: line %zu column %zu: %s", path,
                        parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                        parser.problem ? parser.problem : "malformed YAML");
        yaml_parser_delete(&parser);
        fclose(f);
        return rc;
    }
    yaml_parser_delete(&parser);
    fclose(f);
    reader r = {&doc, NULL, NULL};
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    yaml_node_t *convs = map_get(&r, root, "conversations");
    if (!root || root->type != YAML_MAPPING_NODE || !convs ||
        (convs->type != YAML_SEQUENCE_NODE && !is_null(convs))) {
        yaml_document_delete(&doc);
        return sl_err_set(err, SL_EINVAL,
                          "conversations file %s: expected a mapping with a 'conversations' "
                          "list",
                          path);
    }
    sl_lt_convset *cs = sl_lt_convset_new();
    cs->space_id = scalar_dup(map_get(&r, root, "space_id"));
    cs->exported_at = scalar_dup(map_get(&r, root, "exported_at"));
    yaml_node_t *flt = map_get(&r, root, "filter");
    if (flt && flt->type == YAML_MAPPING_NODE) {
        yaml_node_t *a = map_get(&r, flt, "from_timestamp"), *b = map_get(&r, flt, "to_timestamp");
        if (!is_null(a)) {
            cs->has_from = true;
            cs->from_ms = scalar_int(&r, a, "from_timestamp");
        }
        if (!is_null(b)) {
            cs->has_to = true;
            cs->to_ms = scalar_int(&r, b, "to_timestamp");
        }
    }
    size_t n = convs->type == YAML_SEQUENCE_NODE
                   ? (size_t)(convs->data.sequence.items.top - convs->data.sequence.items.start)
                   : 0;
    cs->convs = sl_xcalloc(n + 1, sizeof(*cs->convs));
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *cn = node(&r, convs->data.sequence.items.start[i]);
        if (!cn || cn->type != YAML_MAPPING_NODE)
            continue;
        sl_lt_conversation c = {0};
        c.id = scalar_dup(map_get(&r, cn, "id"));
        c.title = scalar_dup(map_get(&r, cn, "title"));
        c.created_ms = scalar_int(&r, map_get(&r, cn, "created_timestamp"), "created_timestamp");
        yaml_node_t *ms = map_get(&r, cn, "messages");
        size_t nm = ms && ms->type == YAML_SEQUENCE_NODE
                        ? (size_t)(ms->data.sequence.items.top - ms->data.sequence.items.start)
                        : 0;
        c.msgs = sl_xcalloc(nm + 1, sizeof(*c.msgs));
        for (size_t k = 0; k < nm; k++) {
            yaml_node_t *mn = node(&r, ms->data.sequence.items.start[k]);
            if (!mn || mn->type != YAML_MAPPING_NODE)
                continue;
            char *content = scalar_dup(map_get(&r, mn, "content"));
            if (!content || !*content) {
                free(content);
                continue;
            }
            sl_lt_message *m = &c.msgs[c.n_msgs++];
            m->content = content;
            m->timestamp_ms = scalar_int(&r, map_get(&r, mn, "timestamp"), "timestamp");
            m->message_id = scalar_dup(map_get(&r, mn, "message_id"));
        }
        if (c.n_msgs == 0) {
            conv_cleanup(&c);
            continue;
        }
        cs->convs[cs->n_convs++] = c;
    }
    if (r.bad) {
        rc = sl_err_set(err, SL_EINVAL,
                        "conversations file %s: line %zu column %zu: %s '%.40s' is not a "
                        "timestamp in milliseconds",
                        path, r.bad->start_mark.line + 1, r.bad->start_mark.column + 1, r.bad_key,
                        r.bad->type == YAML_SCALAR_NODE ? (const char *)r.bad->data.scalar.value
                                                        : "(a list or mapping)");
        sl_lt_convset_free(cs);
        cs = NULL;
    }
    yaml_document_delete(&doc);
    *out = cs;
    return rc;
}

/* ------------------------------------------------------------------ writing */

/* YAML 1.1 implicit resolvers of PyYAML (bool, float, int, merge, null, timestamp,
 * value) as POSIX EREs: a string matching one must be quoted to stay a string. */
static const char *const resolvers[] = {
    "^(yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$",
    "^([-+]?([0-9][0-9_]*)\\.[0-9_]*([eE][-+][0-9]+)?|\\.[0-9_]+([eE][-+][0-9]+)?|"
    "[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\\.[0-9_]*|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN))$",
    "^([-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|"
    "[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+)$",
    "^(<<)$",
    "^(~|null|Null|NULL|)$",
    "^([0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?"
    "([Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](\\.[0-9]*)?([ \t]*(Z|[-+][0-9][0-9]?(:[0-9]"
    "[0-9])?))?)$",
    "^(=)$",
};
#define N_RESOLVERS (sizeof(resolvers) / sizeof(resolvers[0]))

typedef struct writer {
    yaml_emitter_t em;
    regex_t re[N_RESOLVERS];
    bool ok;
} writer;

static bool resolves_to_non_string(writer *w, const char *s)
{
    for (size_t i = 0; i < N_RESOLVERS; i++)
        if (regexec(&w->re[i], s, 0, NULL, 0) == 0)
            return true;
    return false;
}

static void emit(writer *w, yaml_event_t *ev)
{
    if (w->ok && !yaml_emitter_emit(&w->em, ev))
        w->ok = false;
    else if (!w->ok)
        yaml_event_delete(ev);
}

static void emit_str(writer *w, const char *s)
{
    yaml_event_t ev;
    if (!s)
        s = "";
    bool quote = resolves_to_non_string(w, s);
    yaml_scalar_event_initialize(&ev, NULL, (yaml_char_t *)YAML_STR_TAG, (yaml_char_t *)s,
                                 (int)strlen(s), !quote, 1,
                                 quote ? YAML_SINGLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
    emit(w, &ev);
}

static void emit_int(writer *w, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", (long long)v);
    yaml_event_t ev;
    yaml_scalar_event_initialize(&ev, NULL, (yaml_char_t *)YAML_INT_TAG, (yaml_char_t *)buf,
                                 (int)strlen(buf), 1, 0, YAML_PLAIN_SCALAR_STYLE);
    emit(w, &ev);
}

static void emit_null(writer *w)
{
    yaml_event_t ev;
    yaml_scalar_event_initialize(&ev, NULL, (yaml_char_t *)YAML_NULL_TAG, (yaml_char_t *)"null", 4,
                                 1, 0, YAML_PLAIN_SCALAR_STYLE);
    emit(w, &ev);
}

static void map_start(writer *w)
{
    yaml_event_t ev;
    yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
    emit(w, &ev);
}

static void map_end(writer *w)
{
    yaml_event_t ev;
    yaml_mapping_end_event_initialize(&ev);
    emit(w, &ev);
}

static void seq_start(writer *w)
{
    yaml_event_t ev;
    yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
    emit(w, &ev);
}

static void seq_end(writer *w)
{
    yaml_event_t ev;
    yaml_sequence_end_event_initialize(&ev);
    emit(w, &ev);
}

static void key(writer *w, const char *k)
{
    emit_str(w, k);
}

/* datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat() */
static void iso_utc(int64_t ms, char *buf, size_t n)
{
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int64_t frac = ms - (int64_t)t * 1000;
    struct tm tm;
    gmtime_r(&t, &tm);
    char base[40];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    if (frac)
        snprintf(buf, n, "%s.%06lld+00:00", base, (long long)frac * 1000);
    else
        snprintf(buf, n, "%s+00:00", base);
}

static int emit_to_fd(void *data, unsigned char *buffer, size_t size)
{
    return fwrite(buffer, 1, size, (FILE *)data) == size;
}

sl_code sl_lt_convset_save(const sl_lt_convset *cs, const char *path, sl_err *err)
{
    char *tmp = sl_xasprintf("%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        sl_code rc = sl_err_set(err, SL_EIO, "cannot write %s: %s", path, strerror(errno));
        free(tmp);
        return rc;
    }
    writer w;
    memset(&w, 0, sizeof(w));
    for (size_t i = 0; i < N_RESOLVERS; i++)
        if (regcomp(&w.re[i], resolvers[i], REG_EXTENDED | REG_NOSUB) != 0) {
            sl_error("loadtest: resolver regex %zu does not compile", i);
            abort();
        }
    yaml_emitter_initialize(&w.em);
    yaml_emitter_set_output(&w.em, emit_to_fd, f);
    yaml_emitter_set_unicode(&w.em, 1);
    yaml_emitter_set_indent(&w.em, 2);
    w.ok = true;

    yaml_event_t ev;
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    emit(&w, &ev);
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
    emit(&w, &ev);
    map_start(&w);
    key(&w, "space_id");
    if (cs->space_id)
        emit_str(&w, cs->space_id);
    else
        emit_null(&w);
    key(&w, "exported_at");
    emit_str(&w, cs->exported_at ? cs->exported_at : "");
    key(&w, "total_conversations");
    emit_int(&w, (int64_t)cs->n_convs);
    key(&w, "total_messages");
    emit_int(&w, (int64_t)sl_lt_convset_messages(cs));
    key(&w, "conversations");
    seq_start(&w);
    for (size_t i = 0; i < cs->n_convs; i++) {
        const sl_lt_conversation *c = &cs->convs[i];
        map_start(&w);
        key(&w, "id");
        emit_str(&w, c->id);
        key(&w, "title");
        emit_str(&w, c->title && *c->title ? c->title : "Untitled");
        key(&w, "created_timestamp");
        emit_int(&w, c->created_ms);
        key(&w, "messages");
        seq_start(&w);
        for (size_t k = 0; k < c->n_msgs; k++) {
            const sl_lt_message *m = &c->msgs[k];
            map_start(&w);
            key(&w, "content");
            emit_str(&w, m->content);
            key(&w, "timestamp");
            emit_int(&w, m->timestamp_ms);
            key(&w, "message_id");
            if (m->message_id)
                emit_str(&w, m->message_id);
            else
                emit_null(&w);
            map_end(&w);
        }
        seq_end(&w);
        map_end(&w);
    }
    seq_end(&w);
    if (cs->has_from || cs->has_to) {
        char iso[64];
        key(&w, "filter");
        map_start(&w);
        if (cs->has_from) {
            key(&w, "from_timestamp");
            emit_int(&w, cs->from_ms);
            key(&w, "from_timestamp_iso");
            iso_utc(cs->from_ms, iso, sizeof(iso));
            emit_str(&w, iso);
        }
        if (cs->has_to) {
            key(&w, "to_timestamp");
            emit_int(&w, cs->to_ms);
            key(&w, "to_timestamp_iso");
            iso_utc(cs->to_ms, iso, sizeof(iso));
            emit_str(&w, iso);
        }
        map_end(&w);
    }
    map_end(&w);
    yaml_document_end_event_initialize(&ev, 1);
    emit(&w, &ev);
    yaml_stream_end_event_initialize(&ev);
    emit(&w, &ev);
    if (w.ok && !yaml_emitter_flush(&w.em))
        w.ok = false;
    char problem[128];
    snprintf(problem, sizeof(problem), "%s", w.em.problem ? w.em.problem : "write failed");
    yaml_emitter_delete(&w.em);
    for (size_t i = 0; i < N_RESOLVERS; i++)
        regfree(&w.re[i]);
    bool closed = fclose(f) == 0;
    sl_code rc = SL_OK;
    if (!w.ok || !closed) {
        rc =
            sl_err_set(err, SL_EIO, "cannot write %s: %s", path, !w.ok ? problem : strerror(errno));
        unlink(tmp);
    } else if (rename(tmp, path) != 0) {
        rc = sl_err_set(err, SL_EIO, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return rc;
}

/* ------------------------------------------------------------------ helpers */

char *lt_local_iso_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    char base[40];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    if (tv.tv_usec)
        return sl_xasprintf("%s.%06ld", base, (long)tv.tv_usec);
    return sl_xstrdup(base);
}

void lt_conversation_sort(sl_lt_conversation *c)
{
    insertion_sort_msgs(c->msgs, c->n_msgs);
}
