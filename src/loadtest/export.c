/*
 * export.c - sl_loadtest_export: the Python tool's export-conversations. Pages the
 * space's conversation list (page_size 100, include_all on request) and stops paging
 * once max_conversations conversations *with messages* are kept; each conversation's
 * messages are listed (page_size 100), those without content dropped, the rest sorted by
 * created_timestamp; the --from/--to bounds (inclusive) apply to the conversation's
 * created_timestamp.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "loadtest_int.h"

void sl_lt_export_opts_init(sl_lt_export_opts *o)
{
    memset(o, 0, sizeof(*o));
}

sl_code sl_lt_time_arg_parse(const char *s, int64_t now_ms, int64_t *out_ms, sl_err *err)
{
    while (s && isspace((unsigned char)*s))
        s++;
    if (!s || !*s)
        return sl_err_set(err, SL_EINVAL, "empty timestamp");
    /* relative: 7d, 24h, 30m, 1w (case-insensitive) */
    const char *p = s;
    while (isdigit((unsigned char)*p))
        p++;
    if (p > s && p[1] == '\0' && strchr("dhwmDHWM", *p)) {
        errno = 0;
        long long v = strtoll(s, NULL, 10);
        int64_t unit = 0;
        switch (tolower((unsigned char)*p)) {
        case 'm':
            unit = 60000LL;
            break;
        case 'h':
            unit = 3600000LL;
            break;
        case 'd':
            unit = 86400000LL;
            break;
        default:
            unit = 7 * 86400000LL;
            break;
        }
        /* at most 100 years back: beyond that the product would overflow */
        if (errno || v > INT64_C(100) * 365 * 86400000 / unit)
            return sl_err_set(err, SL_EINVAL, "relative time '%s' is more than 100 years", s);
        *out_ms = now_ms - (int64_t)v * unit;
        return SL_OK;
    }
    /* ISO-8601 (naive = UTC) or a date (UTC midnight) */
    sl_err e2;
    sl_err_clear(&e2);
    if (sl_time_parse(s, out_ms, &e2) == SL_OK)
        return SL_OK;
    return sl_err_set(err, SL_EINVAL,
                      "unable to parse timestamp '%s' (use relative 7d, 24h, 30m, 1w; ISO 8601 "
                      "2026-01-15T10:30:00[Z]; or a date 2026-01-15)",
                      s);
}

/* Messages of one conversation as the tool keeps them. */
static sl_code fetch_messages(sl_dbx_client *c, const char *space, const char *conv_id,
                              sl_lt_conversation *out, sl_err *err)
{
    json_t *msgs = NULL;
    sl_code rc = sl_dbx_genie_message_list(c, space, conv_id, 0, NULL, &msgs, err);
    if (rc != SL_OK)
        return rc;
    size_t n = json_array_size(msgs);
    out->msgs = sl_xcalloc(n + 1, sizeof(*out->msgs));
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m)
    {
        const char *content = json_string_value(json_object_get(m, "content"));
        if (!content || !*content)
            continue;
        const char *id = json_string_value(json_object_get(m, "id"));
        if (!id)
            id = json_string_value(json_object_get(m, "message_id"));
        sl_lt_message *dst = &out->msgs[out->n_msgs++];
        dst->content = sl_xstrdup(content);
        dst->timestamp_ms = json_integer_value(json_object_get(m, "created_timestamp"));
        dst->message_id = id ? sl_xstrdup(id) : NULL;
    }
    json_decref(msgs);
    lt_conversation_sort(out);
    return SL_OK;
}

sl_code sl_loadtest_export(sl_dbx_client *c, const sl_lt_export_opts *o, sl_lt_convset **out,
                           sl_err *err)
{
    if (out)
        *out = NULL;
    if (!o->space_id || !*o->space_id)
        return sl_err_set(err, SL_EINVAL, "export: no Genie space id");
    sl_debug("loadtest: exporting the conversations of Genie space %s", o->space_id);
    sl_lt_convset *cs = sl_lt_convset_new();
    cs->space_id = sl_xstrdup(o->space_id);
    cs->has_from = o->has_from;
    cs->from_ms = o->from_ms;
    cs->has_to = o->has_to;
    cs->to_ms = o->to_ms;
    size_t cap = 16;
    cs->convs = sl_xcalloc(cap, sizeof(*cs->convs));
    char *token = NULL;
    sl_code rc = SL_OK;
    bool done = false;
    while (!done) {
        json_t *page = NULL;
        rc =
            sl_dbx_genie_conversation_page(c, o->space_id, o->include_all, token, NULL, &page, err);
        if (rc != SL_OK)
            break;
        json_t *list = json_object_get(page, "conversations");
        if (json_array_size(list) == 0) {
            json_decref(page);
            break;
        }
        size_t i;
        json_t *cv;
        json_array_foreach(list, i, cv)
        {
            if (o->max_conversations && cs->n_convs >= o->max_conversations)
                break;
            const char *id = json_string_value(json_object_get(cv, "conversation_id"));
            if (!id)
                id = json_string_value(json_object_get(cv, "id"));
            if (!id)
                continue;
            int64_t created = json_integer_value(json_object_get(cv, "created_timestamp"));
            if ((o->has_from && created < o->from_ms) || (o->has_to && created > o->to_ms))
                continue;
            sl_lt_conversation conv = {0};
            if ((rc = fetch_messages(c, o->space_id, id, &conv, err)) != SL_OK) {
                free(conv.msgs);
                break;
            }
            if (conv.n_msgs == 0) {
                free(conv.msgs);
                continue;
            }
            const char *title = json_string_value(json_object_get(cv, "title"));
            conv.id = sl_xstrdup(id);
            conv.title = sl_xstrdup(title && *title ? title : "Untitled");
            conv.created_ms = created;
            if (cs->n_convs + 1 >= cap) {
                cap *= 2;
                cs->convs = sl_xrealloc(cs->convs, cap * sizeof(*cs->convs));
            }
            cs->convs[cs->n_convs++] = conv;
        }
        const char *next = json_string_value(json_object_get(page, "next_page_token"));
        free(token);
        token = next && *next ? sl_xstrdup(next) : NULL;
        json_decref(page);
        done =
            rc != SL_OK || !token || (o->max_conversations && cs->n_convs >= o->max_conversations);
    }
    free(token);
    if (rc == SL_OK) {
        cs->exported_at = lt_local_iso_now();
        if (o->output_path)
            rc = sl_lt_convset_save(cs, o->output_path, err);
    }
    if (rc == SL_OK && o->output_path)
        sl_debug("loadtest: exported %zu conversations with %zu messages to %s", cs->n_convs,
                 sl_lt_convset_messages(cs), o->output_path);
    if (rc != SL_OK || !out)
        sl_lt_convset_free(cs);
    else
        *out = cs;
    return rc;
}
