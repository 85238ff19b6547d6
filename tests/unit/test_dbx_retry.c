/*
 * test_dbx_retry.c - the pure retry rules of src/dbx/retry.c: the backoff schedule
 * and its cap, jitter bounds, Retry-After in both forms, and the mapping of HTTP
 * statuses, Databricks error codes and legacy bodies to sl_err.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/dbx.h"

static void backoff_schedule_doubles_from_initial(void **state)
{
    (void)state;
    sl_dbx_retry_policy p;
    sl_dbx_retry_policy_init(&p);
    assert_int_equal(p.max_retries, 5);
    /* seed (a): 1, 2, 4, 8, 16 s with no jitter */
    int64_t want[] = {1000, 2000, 4000, 8000, 16000, 32000};
    for (int i = 0; i < 6; i++)
        assert_int_equal(sl_dbx_backoff_ms(&p, i, 0.0), want[i]);
}

static void backoff_is_capped_at_max(void **state)
{
    (void)state;
    sl_dbx_retry_policy p;
    sl_dbx_retry_policy_init(&p);
    assert_int_equal(sl_dbx_backoff_ms(&p, 6, 0.0), 60000); /* 64 s -> 60 */
    assert_int_equal(sl_dbx_backoff_ms(&p, 50, 0.0), 60000);
    assert_int_equal(sl_dbx_backoff_ms(&p, 5000, 0.0), 60000); /* pow overflow */
    p.initial_backoff_s = 0.01;
    p.max_backoff_s = 0.05;
    p.backoff_multiplier = 3;
    assert_int_equal(sl_dbx_backoff_ms(&p, 0, 0.0), 10);
    assert_int_equal(sl_dbx_backoff_ms(&p, 1, 0.0), 30);
    assert_int_equal(sl_dbx_backoff_ms(&p, 2, 0.0), 50);
}

static void jitter_stays_within_ten_percent(void **state)
{
    (void)state;
    sl_dbx_retry_policy p;
    sl_dbx_retry_policy_init(&p);
    for (int attempt = 0; attempt < 8; attempt++) {
        int64_t base = sl_dbx_backoff_ms(&p, attempt, 0.0);
        int64_t hi = sl_dbx_backoff_ms(&p, attempt, 0.999999);
        assert_true(hi >= base);
        assert_true(hi <= base + base / 10);
        for (int i = 0; i < 1000; i++) {
            int64_t d = sl_dbx_backoff_ms(&p, attempt, sl_rand_unit());
            assert_true(d >= base && d <= base + base / 10);
        }
    }
    /* out-of-range draws are clamped */
    assert_int_equal(sl_dbx_backoff_ms(&p, 0, -5.0), 1000);
    assert_true(sl_dbx_backoff_ms(&p, 0, 7.0) <= 1100);
    assert_int_equal(sl_dbx_backoff_ms(&p, 0, 0.5), 1050);
}

static void retry_after_seconds(void **state)
{
    (void)state;
    assert_int_equal(sl_dbx_retry_after_ms("0", 0), 0);
    assert_int_equal(sl_dbx_retry_after_ms("3", 0), 3000);
    assert_int_equal(sl_dbx_retry_after_ms(" 120 \r\n", 0), 120000);
    assert_int_equal(sl_dbx_retry_after_ms("999999999999", 0), SL_DBX_RETRY_AFTER_MAX);
    assert_int_equal(sl_dbx_retry_after_ms(NULL, 0), -1);
    assert_int_equal(sl_dbx_retry_after_ms("", 0), -1);
    assert_int_equal(sl_dbx_retry_after_ms("-5", 0), -1);
    assert_int_equal(sl_dbx_retry_after_ms("1.5", 0), -1);
    assert_int_equal(sl_dbx_retry_after_ms("soon", 0), -1);
}

static void retry_after_http_date(void **state)
{
    (void)state;
    /* Wed, 21 Oct 2015 07:28:00 GMT = 1445412480 */
    int64_t t = 1445412480LL * 1000;
    assert_int_equal(sl_dbx_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", t - 5000), 5000);
    assert_int_equal(sl_dbx_retry_after_ms("Wednesday, 21-Oct-15 07:28:00 GMT", t - 7000),
                     7000); /* RFC 850 */
    assert_int_equal(sl_dbx_retry_after_ms("Wed Oct 21 07:28:00 2015", t - 1000), 1000);
    /* in the past: no wait */
    assert_int_equal(sl_dbx_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", t + 60000), 0);
    /* far future: capped */
    assert_int_equal(sl_dbx_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", t - 86400000LL),
                     SL_DBX_RETRY_AFTER_MAX);
}

static sl_err map(int status, const char *body, const char *retry_after)
{
    sl_err e;
    sl_err_clear(&e);
    sl_dbx_error_from_http(status, body, body ? strlen(body) : 0, retry_after, 0, &e);
    return e;
}

static void status_decides_retryable(void **state)
{
    (void)state;
    int retryable[] = {429, 500, 502, 503, 504};
    for (size_t i = 0; i < 5; i++) {
        sl_err e = map(retryable[i], NULL, NULL);
        assert_true(e.retryable);
        assert_true(sl_dbx_http_status_is_retryable(retryable[i]));
        assert_int_equal(e.http_status, retryable[i]);
    }
    int fatal[] = {400, 401, 403, 404, 409, 412, 501};
    for (size_t i = 0; i < 7; i++) {
        sl_err e = map(fatal[i], NULL, NULL);
        assert_false(e.retryable);
        assert_false(sl_dbx_http_status_is_retryable(fatal[i]));
    }
    assert_int_equal(map(400, NULL, NULL).code, SL_EINVAL);
    assert_int_equal(map(401, NULL, NULL).code, SL_EAUTH);
    assert_int_equal(map(403, NULL, NULL).code, SL_EAUTH);
    assert_int_equal(map(404, NULL, NULL).code, SL_ENOTFOUND);
    assert_int_equal(map(409, NULL, NULL).code, SL_ECONFLICT);
    assert_int_equal(map(429, NULL, NULL).code, SL_ELIMIT);
    assert_int_equal(map(499, NULL, NULL).code, SL_ECANCELED);
    assert_int_equal(map(500, NULL, NULL).code, SL_EREMOTE);
    assert_int_equal(map(503, NULL, NULL).code, SL_EREMOTE);
    assert_int_equal(map(504, NULL, NULL).code, SL_ETIMEOUT);
}

static void standard_body_is_surfaced(void **state)
{
    (void)state;
    sl_err e = map(404,
                   "{\"error_code\":\"RESOURCE_DOES_NOT_EXIST\",\"message\":\"No file "
                   "at /Volumes/a\"}",
                   NULL);
    assert_int_equal(e.code, SL_ENOTFOUND);
    assert_string_equal(e.error_code, "RESOURCE_DOES_NOT_EXIST");
    assert_string_equal(e.msg, "HTTP 404 RESOURCE_DOES_NOT_EXIST: No file at /Volumes/a");
    assert_int_equal(e.retry_after_ms, -1);

    e = map(403, "{\"error_code\":\"PERMISSION_DENIED\",\"message\":\"Invalid access token.\"}",
            NULL);
    assert_int_equal(e.code, SL_EAUTH);
    assert_string_equal(
        e.msg, "authentication failed (HTTP 403 PERMISSION_DENIED): Invalid access token.");

    /* integer codes are tolerated */
    e = map(400, "{\"error_code\": 1234, \"message\": \"bad\"}", NULL);
    assert_string_equal(e.error_code, "1234");
    assert_int_equal(e.code, SL_EINVAL);
}

static void error_code_overrides_status(void **state)
{
    (void)state;
    /* 400 carrying a not-found code is a not-found */
    sl_err e = map(400, "{\"error_code\":\"RESOURCE_DOES_NOT_EXIST\",\"message\":\"x\"}", NULL);
    assert_int_equal(e.code, SL_ENOTFOUND);
    e = map(400, "{\"error_code\":\"SCHEMA_DOES_NOT_EXIST\",\"message\":\"x\"}", NULL);
    assert_int_equal(e.code, SL_ENOTFOUND);
    e = map(400, "{\"error_code\":\"RESOURCE_ALREADY_EXISTS\",\"message\":\"x\"}", NULL);
    assert_int_equal(e.code, SL_ECONFLICT);
    e = map(400, "{\"error_code\":\"CATALOG_ALREADY_EXISTS\",\"message\":\"x\"}", NULL);
    assert_int_equal(e.code, SL_ECONFLICT);
    e = map(500, "{\"error_code\":\"INVALID_PARAMETER_VALUE\",\"message\":\"x\"}", NULL);
    assert_int_equal(e.code, SL_EINVAL);
    assert_false(e.retryable);
    /* rate-limit codes are retryable whatever the status */
    e = map(400, "{\"error_code\":\"REQUEST_LIMIT_EXCEEDED\",\"message\":\"slow down\"}", NULL);
    assert_int_equal(e.code, SL_ELIMIT);
    assert_true(e.retryable);
    e = map(500, "{\"error_code\":\"TEMPORARILY_UNAVAILABLE\",\"message\":\"x\"}", NULL);
    assert_true(e.retryable);
    e = map(409, "{\"error_code\":\"ABORTED\",\"message\":\"x\"}", NULL);
    assert_int_equal(e.code, SL_ECONFLICT);
    e = map(503, "{\"error_code\":\"DATA_LOSS\",\"message\":\"x\"}", NULL);
    assert_int_equal(e.code, SL_EREMOTE);
    assert_true(e.retryable); /* a 503 stays an outage */
    /* a 500 is transient (INTERNAL_ERROR, UNKNOWN) unless its code blames the request */
    e = map(500, "{\"error_code\":\"UNKNOWN\",\"message\":\"x\"}", NULL);
    assert_int_equal(e.code, SL_EREMOTE);
    assert_true(e.retryable);
    e = map(500, "{\"error_code\":\"INTERNAL_ERROR\",\"message\":\"x\"}", NULL);
    assert_true(e.retryable);
    e = map(500, "{\"error_code\":\"RESOURCE_DOES_NOT_EXIST\",\"message\":\"x\"}", NULL);
    assert_int_equal(e.code, SL_ENOTFOUND);
    assert_false(e.retryable);
    e = map(501, "{\"error_code\":\"NOT_IMPLEMENTED\",\"message\":\"x\"}", NULL);
    assert_false(e.retryable);

    sl_err c;
    sl_err_clear(&c);
    sl_dbx_error_code_classify("TEMPORARILY_UNAVAILABLE", &c);
    assert_true(c.retryable);
    sl_dbx_error_code_classify("BAD_REQUEST", &c);
    assert_false(c.retryable);
    assert_int_equal(c.code, SL_EINVAL);
    /* a FAILED statement's INTERNAL_ERROR is the statement's verdict, not the transport's */
    sl_dbx_error_code_classify("INTERNAL_ERROR", &c);
    assert_false(c.retryable);
    sl_dbx_error_code_classify("SOMETHING_NEW", &c);
    assert_int_equal(c.code, SL_EREMOTE);
    assert_false(c.retryable);
}

static void legacy_bodies_are_understood(void **state)
{
    (void)state;
    sl_err e = map(400, "{\"error\": \"Cluster abc does not exist\"}", NULL);
    assert_string_equal(e.msg, "HTTP 400: Cluster abc does not exist");
    assert_string_equal(e.error_code, "");

    e = map(401,
            "{\"error\":\"invalid_client\",\"error_description\":\"Client authentication "
            "failed\"}",
            NULL);
    assert_int_equal(e.code, SL_EAUTH);
    assert_string_equal(e.error_code, "invalid_client");
    assert_string_equal(e.msg,
                        "authentication failed (HTTP 401 invalid_client): Client authentication "
                        "failed");

    e = map(400, "INVALID_STATE: cluster is terminating\n", NULL);
    assert_string_equal(e.error_code, "INVALID_STATE");
    assert_string_equal(e.msg, "HTTP 400 INVALID_STATE: cluster is terminating");

    e = map(502, "<html><body><pre>Bad gateway from proxy</pre></body></html>", NULL);
    assert_string_equal(e.msg, "HTTP 502: Bad gateway from proxy");
    assert_true(e.retryable);

    e = map(500, "", NULL);
    assert_string_equal(e.msg, "HTTP 500: (no message)");

    e = map(404, "{\"detail\":\"User not found\",\"status\":\"404\"}", NULL); /* SCIM */
    assert_string_equal(e.msg, "HTTP 404: User not found");

    /* multi-line messages become one line */
    e = map(400, "{\"error_code\":\"BAD_REQUEST\",\"message\":\"line one\\nline two\"}", NULL);
    assert_null(strchr(e.msg, '\n'));
}

static void retry_after_sources(void **state)
{
    (void)state;
    sl_err e = map(429, "{\"error_code\":\"REQUEST_LIMIT_EXCEEDED\",\"message\":\"x\"}", "7");
    assert_int_equal(e.retry_after_ms, 7000);
    e = map(429,
            "{\"error_code\":\"REQUEST_LIMIT_EXCEEDED\",\"message\":\"x\",\"details\":[{\"@type\":"
            "\"type.googleapis.com/google.rpc.RetryInfo\",\"retry_delay\":\"2s\"}]}",
            NULL);
    assert_int_equal(e.retry_after_ms, 2000);
    /* the header wins over the detail */
    e = map(429,
            "{\"error_code\":\"REQUEST_LIMIT_EXCEEDED\",\"message\":\"x\",\"details\":[{\"@type\":"
            "\"type.googleapis.com/google.rpc.RetryInfo\",\"retry_delay\":\"2s\"}]}",
            "1");
    assert_int_equal(e.retry_after_ms, 1000);
    e = map(503, NULL, "garbage");
    assert_int_equal(e.retry_after_ms, -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(backoff_schedule_doubles_from_initial),
        cmocka_unit_test(backoff_is_capped_at_max),
        cmocka_unit_test(jitter_stays_within_ten_percent),
        cmocka_unit_test(retry_after_seconds),
        cmocka_unit_test(retry_after_http_date),
        cmocka_unit_test(status_decides_retryable),
        cmocka_unit_test(standard_body_is_surfaced),
        cmocka_unit_test(error_code_overrides_status),
        cmocka_unit_test(legacy_bodies_are_understood),
        cmocka_unit_test(retry_after_sources),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
