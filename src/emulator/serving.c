/* serving.c - POST /serving-endpoints/{name}/invocations for the embedding endpoints:
 * deterministic 1024-dim vectors from a hashed bag of lower-cased word tokens (plus a
 * weaker 4-letter-prefix feature so "product"/"products" agree), unit-normalised, so that
 * similar questions get similar vectors without any model. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emulator_int.h"

static const char *endpoints[] = {"databricks-gte-large-en", "databricks-bge-large-en"};
#define MAX_INPUTS 256

static uint64_t fnv(const char *s, size_t n, uint64_t salt)
{
    uint64_t h = sl_fnv1a(SL_FNV1A_INIT ^ salt, s, n);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static void add_feature(float *v, const char *s, size_t n, uint64_t salt, float w)
{
    uint64_t h = fnv(s, n, salt);
    v[h % EMU_EMBED_DIM] += (h >> 63) ? -w : w;
}

/* Calls fn for each lower-cased word token; returns the count. */
static int for_tokens(const char *text, float *v)
{
    int n = 0;
    char tok[128];
    size_t len = 0;
    for (const char *p = text;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c && (isalnum(c) || c >= 0x80)) {
            if (len < sizeof(tok))
                tok[len++] = (char)tolower(c);
            continue;
        }
        if (len) {
            n++;
            if (v) {
                add_feature(v, tok, len, 0, 1.0f);
                if (len > 4)
                    add_feature(v, tok, 4, 0x5eed, 0.5f);
            }
            len = 0;
        }
        if (!c)
            break;
    }
    return n;
}

int sl__emu_embed_tokens(const char *text)
{
    return for_tokens(text, NULL);
}

void sl__emu_embed(const char *text, float out[EMU_EMBED_DIM])
{
    memset(out, 0, sizeof(float) * EMU_EMBED_DIM);
    for_tokens(text, out);
    double norm = 0;
    for (int i = 0; i < EMU_EMBED_DIM; i++)
        norm += (double)out[i] * out[i];
    if (norm == 0) {
        out[0] = 1.0f;
        return;
    }
    float inv = (float)(1.0 / sqrt(norm));
    for (int i = 0; i < EMU_EMBED_DIM; i++)
        out[i] *= inv;
}

emu_hr sl__emu_serving_invoke(emu_req *r)
{
    const char *name = sl__emu_req_param(r, 0);
    bool known = false;
    for (size_t k = 0; k < sizeof(endpoints) / sizeof(endpoints[0]); k++)
        if (strcmp(name, endpoints[k]) == 0)
            known = true;
    if (!known)
        return sl__emu_reply_error(r, 404, "RESOURCE_DOES_NOT_EXIST",
                                   "Endpoint with name '%s' does not exist.", name);
    json_t *body = sl__emu_req_json(r);
    if (!body)
        return EMU_HR_DONE;
    json_t *in = json_object_get(body, "input");
    json_t *list = json_is_string(in) ? json_pack("[O]", in) : json_incref(in);
    size_t n = json_array_size(list);
    if (!json_is_array(list) || n == 0 || n > MAX_INPUTS) {
        json_decref(list);
        return sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                                   "'input' must be a string or a non-empty array of at most %d "
                                   "strings.",
                                   MAX_INPUTS);
    }
    json_t *data = json_array();
    int tokens = 0;
    float *v = sl_xmalloc(sizeof(float) * EMU_EMBED_DIM);
    for (size_t i = 0; i < n; i++) {
        const char *t = json_string_value(json_array_get(list, i));
        if (!t) {
            free(v);
            json_decref(data);
            json_decref(list);
            return sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                                       "input[%zu] must be a string.", i);
        }
        sl__emu_embed(t, v);
        tokens += sl__emu_embed_tokens(t) + 2;
        json_t *vec = json_array();
        for (int k = 0; k < EMU_EMBED_DIM; k++)
            json_array_append_new(vec, json_real((double)v[k]));
        json_array_append_new(data, json_pack("{s:s, s:I, s:o}", "object", "embedding", "index",
                                              (json_int_t)i, "embedding", vec));
    }
    free(v);
    json_decref(list);
    json_t *o = json_pack("{s:s, s:s, s:o, s:{s:i, s:i}}", "object", "list", "model", name,
                          "data", data, "usage", "prompt_tokens", tokens, "total_tokens", tokens);
    emu_hr hr = sl__emu_reply_json(r, 200, o);
    sl__emu_reply_header(r, "served-model-name", name);
    return hr;
}
