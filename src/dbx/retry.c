/*
 * retry.c - the pure half of retrying: the backoff schedule, Retry-After parsing and
 * the mapping of HTTP statuses and Databricks error codes to sl_err. No I/O here, so
 * every rule is unit-tested with fixed clocks and random draws.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "dbx_int.h"

void sl_dbx_retry_policy_init(sl_dbx_retry_policy *p)
{
    p->max_retries = 5;
    p->initial_backoff_s = 1.0;
    p->max_backoff_s = 60.0;
    p->backoff_multiplier = 2.0;
}

int64_t sl_dbx_backoff_ms(const sl_dbx_retry_policy *p, int attempt, double unit_random)
{
    if (attempt < 0)
        attempt = 0;
    double initial = p->initial_backoff_s > 0 ? p->initial_backoff_s : 0;
    double cap = p->max_backoff_s > 0 ? p->max_backoff_s : 0;
    double mult = p->backoff_multiplier >= 1.0 ? p->backoff_multiplier : 1.0;
    /* pow() overflows to inf for huge attempts, which min() then caps. */
    double d = initial * pow(mult, (double)attempt);
    if (!(d <= cap))
        d = cap;
    if (unit_random < 0)
        unit_random = 0;
    if (unit_random >= 1)
        unit_random = nextafter(1.0, 0.0);
    double total_ms = (d + unit_random * 0.1 * d) * 1000.0;
    return (int64_t)llround(total_ms);
}

int64_t sl_dbx_retry_after_ms(const char *value, int64_t now_ms)
{
    if (!value)
        return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    if (!*value)
        return -1;
    if (isdigit((unsigned char)*value)) {
        const char *p = value;
        int64_t secs = 0;
        while (isdigit((unsigned char)*p)) {
            if (secs < SL_DBX_RETRY_AFTER_MAX)
                secs = secs * 10 + (*p - '0');
            p++;
        }
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (*p == '\0') {
            int64_t ms = secs * 1000;
            return ms > SL_DBX_RETRY_AFTER_MAX ? SL_DBX_RETRY_AFTER_MAX : ms;
        }
        /* digits followed by text: not delay-seconds; maybe a date (asctime has none) */
    }
    /* An HTTP-date must name a weekday or month, so reject bare garbage early:
     * curl_getdate is lenient and would accept odd strings. */
    if (!isalpha((unsigned char)*value))
        return -1;
    time_t now = (time_t)(now_ms / 1000);
    time_t t = curl_getdate(value, &now);
    if (t == (time_t)-1)
        return -1;
    int64_t ms = (int64_t)t * 1000 - now_ms;
    if (ms < 0)
        ms = 0;
    return ms > SL_DBX_RETRY_AFTER_MAX ? SL_DBX_RETRY_AFTER_MAX : ms;
}

/* 500 is here on purpose, unlike the SDKs' status lists: Databricks answers transient
 * back-end failures with 500 INTERNAL_ERROR too, and a 500 is no more likely than a 502
 * or 504 to mean the request took effect. A 500 whose error_code names a client error
 * (INVALID_PARAMETER_VALUE, *_DOES_NOT_EXIST, ...) is still not retried (below). */
bool sl_dbx_http_status_is_retryable(int status)
{
    return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

/* Error classes of the SDKs, decided by status then overridden by error_code. */
typedef enum {
    CLS_NONE,
    CLS_BAD_REQUEST,
    CLS_UNAUTHENTICATED,
    CLS_PERMISSION_DENIED,
    CLS_NOT_FOUND,
    CLS_CONFLICT,
    CLS_TOO_MANY_REQUESTS,
    CLS_CANCELLED,
    CLS_INTERNAL,
    CLS_NOT_IMPLEMENTED,
    CLS_BAD_GATEWAY,
    CLS_UNAVAILABLE,
    CLS_DEADLINE,
} err_class;

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static err_class class_of_code(const char *code)
{
    static const struct {
        const char *code;
        err_class cls;
    } map[] = {
        {"INVALID_STATE", CLS_BAD_REQUEST},
        {"INVALID_PARAMETER_VALUE", CLS_BAD_REQUEST},
        {"BAD_REQUEST", CLS_BAD_REQUEST},
        {"MALFORMED_REQUEST", CLS_BAD_REQUEST},
        {"UNAUTHENTICATED", CLS_UNAUTHENTICATED},
        {"PERMISSION_DENIED", CLS_PERMISSION_DENIED},
        {"RESOURCE_DOES_NOT_EXIST", CLS_NOT_FOUND},
        {"NOT_FOUND", CLS_NOT_FOUND},
        {"ABORTED", CLS_CONFLICT},
        {"ALREADY_EXISTS", CLS_CONFLICT},
        {"RESOURCE_ALREADY_EXISTS", CLS_CONFLICT},
        {"RESOURCE_CONFLICT", CLS_CONFLICT},
        {"RESOURCE_EXHAUSTED", CLS_TOO_MANY_REQUESTS},
        {"REQUEST_LIMIT_EXCEEDED", CLS_TOO_MANY_REQUESTS},
        {"CANCELLED", CLS_CANCELLED},
        {"UNKNOWN", CLS_INTERNAL},
        {"DATA_LOSS", CLS_INTERNAL},
        {"INTERNAL_ERROR", CLS_INTERNAL},
        {"NOT_IMPLEMENTED", CLS_NOT_IMPLEMENTED},
        {"TEMPORARILY_UNAVAILABLE", CLS_UNAVAILABLE},
        {"WORKSPACE_TEMPORARILY_UNAVAILABLE", CLS_UNAVAILABLE},
        {"SERVICE_UNDER_MAINTENANCE", CLS_UNAVAILABLE},
        {"DEADLINE_EXCEEDED", CLS_DEADLINE},
    };
    if (!code || !*code)
        return CLS_NONE;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(code, map[i].code) == 0)
            return map[i].cls;
    if (has_suffix(code, "_DOES_NOT_EXIST") || has_suffix(code, "_NOT_FOUND"))
        return CLS_NOT_FOUND;
    if (has_suffix(code, "_ALREADY_EXISTS"))
        return CLS_CONFLICT;
    return CLS_NONE;
}

static err_class class_of_status(int status)
{
    switch (status) {
    case 400:
        return CLS_BAD_REQUEST;
    case 401:
        return CLS_UNAUTHENTICATED;
    case 403:
        return CLS_PERMISSION_DENIED;
    case 404:
        return CLS_NOT_FOUND;
    case 409:
    case 412:
        return CLS_CONFLICT;
    case 429:
        return CLS_TOO_MANY_REQUESTS;
    case 499:
        return CLS_CANCELLED;
    case 501:
        return CLS_NOT_IMPLEMENTED;
    case 502:
        return CLS_BAD_GATEWAY;
    case 503:
        return CLS_UNAVAILABLE;
    case 504:
        return CLS_DEADLINE;
    default:
        if (status >= 500)
            return CLS_INTERNAL;
        if (status >= 400)
            return CLS_BAD_REQUEST;
        return CLS_NONE;
    }
}

static void apply_class(err_class cls, sl_err *err)
{
    switch (cls) {
    case CLS_BAD_REQUEST:
        err->code = SL_EINVAL;
        err->retryable = false;
        break;
    case CLS_UNAUTHENTICATED:
    case CLS_PERMISSION_DENIED:
        err->code = SL_EAUTH;
        err->retryable = false;
        break;
    case CLS_NOT_FOUND:
        err->code = SL_ENOTFOUND;
        err->retryable = false;
        break;
    case CLS_CONFLICT:
        err->code = SL_ECONFLICT;
        err->retryable = false;
        break;
    case CLS_TOO_MANY_REQUESTS:
        err->code = SL_ELIMIT;
        err->retryable = true;
        break;
    case CLS_CANCELLED:
        err->code = SL_ECANCELED;
        err->retryable = false;
        break;
    case CLS_BAD_GATEWAY:
    case CLS_UNAVAILABLE:
        err->code = SL_EREMOTE;
        err->retryable = true;
        break;
    case CLS_DEADLINE:
        err->code = SL_ETIMEOUT;
        err->retryable = true;
        break;
    case CLS_INTERNAL:
    case CLS_NOT_IMPLEMENTED:
    case CLS_NONE:
        err->code = SL_EREMOTE;
        err->retryable = false;
        break;
    }
}

void sl_dbx_error_code_classify(const char *error_code, sl_err *err)
{
    if (!err)
        return;
    err_class cls = class_of_code(error_code);
    apply_class(cls, err);
}

/* Copy at most cap-1 bytes of the first line of s, trimmed. */
static void copy_line(char *dst, size_t cap, const char *s, size_t len)
{
    while (len > 0 && isspace((unsigned char)*s))
        s++, len--;
    size_t n = 0;
    while (n < len && s[n] != '\n' && s[n] != '\r' && n + 1 < cap)
        n++;
    memcpy(dst, s, n);
    dst[n] = '\0';
    while (n > 0 && isspace((unsigned char)dst[n - 1]))
        dst[--n] = '\0';
}

/* "CODE: message" plain text, where CODE is upper-case letters and underscores. */
static bool parse_plain(const char *body, size_t len, char *code, size_t code_cap, char *msg,
                        size_t msg_cap)
{
    size_t i = 0;
    while (i < len && (isupper((unsigned char)body[i]) || body[i] == '_'))
        i++;
    if (i < 3 || i >= len || body[i] != ':' || i >= code_cap)
        return false;
    memcpy(code, body, i);
    code[i] = '\0';
    copy_line(msg, msg_cap, body + i + 1, len - i - 1);
    return true;
}

/* Text between <pre> and </pre> of an HTML error page. */
static bool parse_html(const char *body, size_t len, char *msg, size_t msg_cap)
{
    const char *pre = NULL;
    for (size_t i = 0; i + 5 <= len; i++)
        if (strncmp(body + i, "<pre>", 5) == 0) {
            pre = body + i + 5;
            break;
        }
    if (!pre)
        return false;
    size_t rest = len - (size_t)(pre - body), n = 0;
    while (n + 6 <= rest && strncmp(pre + n, "</pre>", 6) != 0)
        n++;
    copy_line(msg, msg_cap, pre, n);
    return msg[0] != '\0';
}

static int64_t retry_info_delay(const json_t *details)
{
    size_t i;
    const json_t *d;
    json_array_foreach(details, i, d)
    {
        const char *type = json_string_value(json_object_get(d, "@type"));
        const char *delay = json_string_value(json_object_get(d, "retry_delay"));
        if (type && strstr(type, "RetryInfo") && delay) {
            int64_t ms;
            sl_err e;
            sl_err_clear(&e);
            if (sl_duration_parse(delay, &ms, &e) == SL_OK)
                return ms > SL_DBX_RETRY_AFTER_MAX ? SL_DBX_RETRY_AFTER_MAX : ms;
        }
    }
    return -1;
}

sl_code sl_dbx_error_from_http(int status, const char *body, size_t body_len,
                               const char *retry_after, int64_t now_ms, sl_err *err)
{
    char code[64] = "", msg[200] = "";
    int64_t detail_delay = -1;
    if (body && body_len > 0) {
        json_error_t jerr;
        json_t *j = json_loadb(body, body_len, JSON_DECODE_ANY, &jerr);
        if (j && json_is_object(j)) {
            const json_t *ec = json_object_get(j, "error_code");
            const json_t *m = json_object_get(j, "message");
            const json_t *legacy = json_object_get(j, "error");
            const json_t *desc = json_object_get(j, "error_description");
            if (json_is_string(ec))
                snprintf(code, sizeof(code), "%s", json_string_value(ec));
            else if (json_is_integer(ec))
                snprintf(code, sizeof(code), "%lld", (long long)json_integer_value(ec));
            if (json_is_string(m)) {
                const char *s = json_string_value(m);
                copy_line(msg, sizeof(msg), s, strlen(s));
            }
            if (json_is_string(legacy)) {
                const char *s = json_string_value(legacy);
                if (json_is_string(desc)) {
                    /* OAuth: {"error": "invalid_client", "error_description": "..."} */
                    if (!code[0])
                        snprintf(code, sizeof(code), "%s", s);
                    if (!msg[0]) {
                        const char *d = json_string_value(desc);
                        copy_line(msg, sizeof(msg), d, strlen(d));
                    }
                } else if (!msg[0]) {
                    copy_line(msg, sizeof(msg), s, strlen(s));
                }
            } else if (!msg[0] && json_is_string(json_object_get(j, "detail"))) {
                const char *s = json_string_value(json_object_get(j, "detail")); /* SCIM */
                copy_line(msg, sizeof(msg), s, strlen(s));
            }
            detail_delay = retry_info_delay(json_object_get(j, "details"));
        } else if (!parse_plain(body, body_len, code, sizeof(code), msg, sizeof(msg)) &&
                   !parse_html(body, body_len, msg, sizeof(msg))) {
            copy_line(msg, sizeof(msg), body, body_len < 160 ? body_len : 160);
        }
        json_decref(j);
    }
    if (!err)
        return SL_EREMOTE;
    err_class cls = class_of_code(code);
    if (cls == CLS_NONE)
        cls = class_of_status(status);
    apply_class(cls, err);
    /* Transient statuses stay retryable whatever the code says (a 503 with an
     * unrecognised code is still an outage), and the SDK's text hint too. */
    if (sl_dbx_http_status_is_retryable(status) && cls != CLS_BAD_REQUEST && cls != CLS_NOT_FOUND &&
        cls != CLS_CONFLICT)
        err->retryable = true;
    if (strstr(msg, "REQUEST_LIMIT_EXCEEDED"))
        err->retryable = true;
    err->http_status = status;
    snprintf(err->error_code, sizeof(err->error_code), "%s", code);
    int64_t ra = sl_dbx_retry_after_ms(retry_after, now_ms);
    err->retry_after_ms = ra >= 0 ? ra : detail_delay;

    const char *text = msg[0] ? msg : "(no message)";
    if (err->code == SL_EAUTH)
        sl_err_set(err, err->code, "authentication failed (HTTP %d%s%s): %s", status,
                   code[0] ? " " : "", code, text);
    else
        sl_err_set(err, err->code, "HTTP %d%s%s: %s", status, code[0] ? " " : "", code, text);
    return err->code;
}
