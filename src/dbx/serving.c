/*
 * serving.c - model serving embeddings: POST /serving-endpoints/{name}/invocations
 * with {"input": text | [texts]} and back {"data": [{"index", "embedding": [...]}]},
 * returned as one contiguous float matrix in input order. The request and the parse are
 * also public on their own, for callers that send requests through sl_dbx_async.
 */
#include <stdlib.h>
#include <string.h>

#include "dbx_int.h"

void sl_dbx_vectors_free(sl_dbx_vectors *v)
{
    if (!v)
        return;
    free(v->data);
    free(v);
}

sl_code sl_dbx_serving_embed_request(const char *endpoint, const char *const *inputs, size_t n,
                                     sl_dbx_request *out, sl_err *err)
{
    sl_dbx_request_init(out, "POST", NULL);
    if (!endpoint || !*endpoint)
        return sl_err_set(err, SL_EINVAL, "embed: empty serving endpoint name");
    if (n == 0 || !inputs)
        return sl_err_set(err, SL_EINVAL, "embed: no input texts");
    for (size_t i = 0; i < n; i++)
        if (!inputs[i])
            return sl_err_set(err, SL_EINVAL, "embed: input %zu is NULL", i);
    json_t *body = sl_json_check(json_object());
    if (n == 1) {
        json_object_set_new(body, "input", sl_json_check(json_string(inputs[0])));
    } else {
        json_t *arr = sl_json_check(json_array());
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, sl_json_check(json_string(inputs[i])));
        json_object_set_new(body, "input", arr);
    }
    char *enc = sl__dbx_pct(endpoint);
    out->path = out->own_path = sl_xasprintf("/serving-endpoints/%s/invocations", enc);
    free(enc);
    out->body = out->own_body = sl_json_dumps(body);
    json_decref(body);
    snprintf(out->what, sizeof(out->what), "embed %zu text%s with %.100s", n, n == 1 ? "" : "s",
             endpoint);
    return SL_OK;
}

sl_code sl_dbx_serving_embed_parse(const json_t *resp, size_t n, const char *what,
                                   sl_dbx_vectors **out, sl_err *err)
{
    *out = NULL;
    if (!what)
        what = "embed";
    sl_code rc = SL_OK;
    sl_dbx_vectors *v = sl_xcalloc(1, sizeof(*v));
    bool *seen = sl_xcalloc(n ? n : 1, sizeof(bool));
    const json_t *data = json_object_get(resp, "data");
    if (!json_is_array(data) || json_array_size(data) != n) {
        rc = sl_err_set(err, SL_EREMOTE, "%s: expected %zu embeddings, got %zu", what, n,
                        json_array_size(data));
        goto out;
    }
    size_t i;
    const json_t *d;
    json_array_foreach(data, i, d)
    {
        const json_t *idx = json_object_get(d, "index");
        const json_t *emb = json_object_get(d, "embedding");
        size_t at = json_is_integer(idx) ? (size_t)json_integer_value(idx) : i;
        if (json_is_integer(idx) && (json_integer_value(idx) < 0 || at >= n)) {
            rc = sl_err_set(err, SL_EREMOTE, "%s: embedding index %lld out of range", what,
                            (long long)json_integer_value(idx));
            goto out;
        }
        if (seen[at]) {
            rc = sl_err_set(err, SL_EREMOTE, "%s: embedding index %zu repeated", what, at);
            goto out;
        }
        seen[at] = true;
        if (!json_is_array(emb) || json_array_size(emb) == 0) {
            rc =
                sl_err_set(err, SL_EREMOTE, "%s: embedding %zu is not a list of numbers", what, at);
            goto out;
        }
        if (!v->data) {
            v->n = n;
            v->dim = json_array_size(emb);
            v->data = sl_xcalloc(n * v->dim, sizeof(float));
        } else if (json_array_size(emb) != v->dim) {
            rc = sl_err_set(err, SL_EREMOTE, "%s: embedding %zu has %zu dimensions, not %zu", what,
                            at, json_array_size(emb), v->dim);
            goto out;
        }
        size_t k;
        const json_t *x;
        json_array_foreach(emb, k, x)
        {
            if (!json_is_number(x)) {
                rc = sl_err_set(err, SL_EREMOTE, "%s: embedding %zu holds a non-number", what, at);
                goto out;
            }
            v->data[at * v->dim + k] = (float)json_number_value(x);
        }
    }
out:
    free(seen);
    if (rc != SL_OK) {
        sl_dbx_vectors_free(v);
        return rc;
    }
    *out = v;
    return SL_OK;
}

sl_code sl_dbx_serving_embed(sl_dbx_client *c, const char *endpoint, const char *const *inputs,
                             size_t n, const sl_dbx_call *call, sl_dbx_vectors **out, sl_err *err)
{
    *out = NULL;
    sl_dbx_request rq;
    sl_code rc = sl_dbx_serving_embed_request(endpoint, inputs, n, &rq, err);
    json_t *resp = NULL;
    if (rc == SL_OK)
        rc = sl__dbx_json_request(c, &rq, call, &resp, err);
    if (rc == SL_OK)
        rc = sl_dbx_serving_embed_parse(resp, n, rq.what, out, err);
    json_decref(resp);
    sl_dbx_request_cleanup(&rq);
    return rc;
}
