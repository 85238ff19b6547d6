/*
 * test_dbx_redact.c - secrets never survive sl_dbx_redact (bearer/basic values,
 * Authorization headers, PATs, OAuth secrets, JWTs, secret-bearing keys, known
 * literals) while ordinary text is left alone; plus workspace path encoding and
 * Unity Catalog name checks (src/dbx/redact.c, src/dbx/path.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/dbx.h"

static void expect_redacted(const char *in, const char *want, const char *const *secrets)
{
    char *out = sl_dbx_redact(in, secrets);
    if (strcmp(out, want) != 0)
        fail_msg("redact(%s)\n  got  %s\n  want %s", in, out, want);
    free(out);
}

static void bearer_and_authorization_values(void **state)
{
    (void)state;
    expect_redacted("Authorization: Bearer dapi0123456789abcdef0123456789abcdef",
                    "Authorization: [REDACTED]", NULL);
    expect_redacted("authorization=Basic YWJjOmRlZg==", "authorization=[REDACTED]", NULL);
    expect_redacted("sent bearer abc.def-ghi_jkl to host", "sent bearer [REDACTED] to host", NULL);
    expect_redacted("{\"Authorization\": \"Bearer xyz123456\"}",
                    "{\"Authorization\": \"[REDACTED]\"}", NULL);
    expect_redacted("Basic dXNlcjpwYXNz", "Basic [REDACTED]", NULL);
}

static void pats_secrets_and_jwts(void **state)
{
    (void)state;
    expect_redacted("token dapi0123456789abcdef0123456789abcdef-2 leaked",
                    "token [REDACTED] leaked", NULL);
    expect_redacted("secret=dose0123456789abcdef", "secret=[REDACTED]", NULL);
    expect_redacted("x dose0123456789abcdef y", "x [REDACTED] y", NULL);
    expect_redacted("jwt eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl end",
                    "jwt [REDACTED] end", NULL);
}

static void secret_bearing_keys(void **state)
{
    (void)state;
    expect_redacted("{\"access_token\":\"abcdef\",\"expires_in\":3600}",
                    "{\"access_token\":\"[REDACTED]\",\"expires_in\":3600}", NULL);
    expect_redacted("client_id=me&client_secret=s3cr3t&scope=all-apis",
                    "client_id=me&client_secret=[REDACTED]&scope=all-apis", NULL);
    expect_redacted("password: hunter2", "password: [REDACTED]", NULL);
    expect_redacted("TOKEN=abc123", "TOKEN=[REDACTED]", NULL);
    expect_redacted("GET /x/?a=1&token=abc123", "GET /x/?a=1&token=[REDACTED]", NULL);
    expect_redacted("GET /x/token=abc123", "GET /x/token=[REDACTED]", NULL);
    /* look-alike keys are not secrets */
    expect_redacted("next_page_token=abc123", "next_page_token=abc123", NULL);
    expect_redacted("Invalid access token.", "Invalid access token.", NULL);
    expect_redacted("authorization_details=[1]", "authorization_details=[1]", NULL);
}

static void known_literals(void **state)
{
    (void)state;
    const char *const secrets[] = {"my-very-secret-value", "pat-xyz-0001", "ab", NULL};
    expect_redacted("value my-very-secret-value and pat-xyz-0001 twice pat-xyz-0001",
                    "value [REDACTED] and [REDACTED] twice [REDACTED]", secrets);
    /* short literals are ignored (they would mangle ordinary text) */
    expect_redacted("about", "about", secrets);
}

static void ordinary_text_untouched(void **state)
{
    (void)state;
    const char *texts[] = {
        "HTTP 404 RESOURCE_DOES_NOT_EXIST: No file at /Volumes/main/default/v/x.csv",
        "statement 01ef-12 failed: BAD_REQUEST: [TABLE_OR_VIEW_NOT_FOUND] (SQLSTATE 42P01)",
        "authentication failed (HTTP 403 PERMISSION_DENIED): Invalid access token.",
        "",
        "dapi", /* too short to be a PAT */
        /* a path ending in a key name is a path, not "key: value" (transport log lines) */
        "dbx: POST /oidc/v1/token: retry 1 of 5 in 100 ms",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        expect_redacted(texts[i], texts[i], NULL);
}

static void redact_buf_truncates_safely(void **state)
{
    (void)state;
    char buf[24];
    snprintf(buf, sizeof(buf), "Bearer abcdefghijkl");
    sl_dbx_redact_buf(buf, sizeof(buf), NULL);
    assert_string_equal(buf, "Bearer [REDACTED]");
    char small[12];
    snprintf(small, sizeof(small), "x dapi0123");
    sl_dbx_redact_buf(small, sizeof(small), (const char *const[]){"dapi0123", NULL});
    assert_string_equal(small, "x [REDACTED");
        /* cut at 11 bytes */ /* cut, but the secret is gone */
    char *null_in = sl_dbx_redact(NULL, NULL);
    assert_string_equal(null_in, "");
    free(null_in);
}

static void expect_path(const char *in, const char *want)
{
    char *out = NULL;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_dbx_path_encode(in, &out, &err), SL_OK);
    assert_string_equal(out, want);
    free(out);
}

static void path_segments_are_encoded(void **state)
{
    (void)state;
    expect_path("/Volumes/main/default/vol/a b.txt", "/Volumes/main/default/vol/a%20b.txt");
    expect_path("/Volumes/c/s/v/dir/", "/Volumes/c/s/v/dir");
    expect_path("/Volumes/c/s/v/100%?#&+=.csv", "/Volumes/c/s/v/100%25%3F%23%26%2B%3D.csv");
    expect_path("/Volumes/c/s/v/caf\xc3\xa9", "/Volumes/c/s/v/caf%C3%A9");
    expect_path("/", "/");
    expect_path("/a-b_c.d~e", "/a-b_c.d~e");
    const char *bad[] = {"", "relative/path", "/a//b", "/a/./b", "/a/../b", "/a/..", "/a\nb"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *out = NULL;
        sl_err err;
        sl_err_clear(&err);
        assert_int_equal(sl_dbx_path_encode(bad[i], &out, &err), SL_EINVAL);
        assert_null(out);
        assert_true(err.msg[0] != '\0');
    }
}

static void uc_names_are_checked(void **state)
{
    (void)state;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_dbx_uc_name_check("catalog", "tenant_42", &err), SL_OK);
    assert_int_equal(sl_dbx_uc_name_check("schema", "with-hyphen", &err), SL_OK);
    assert_int_equal(sl_dbx_uc_name_check("schema", "a.b", &err), SL_EINVAL);
    assert_string_equal(err.msg,
                        "schema name 'a.b' contains '.' (not allowed in Unity Catalog names)");
    assert_int_equal(sl_dbx_uc_name_check("volume", "a b", &err), SL_EINVAL);
    assert_int_equal(sl_dbx_uc_name_check("volume", "a/b", &err), SL_EINVAL);
    assert_int_equal(sl_dbx_uc_name_check("volume", "a\tb", &err), SL_EINVAL);
    assert_int_equal(sl_dbx_uc_name_check("volume", "", &err), SL_EINVAL);
    assert_int_equal(sl_dbx_uc_name_check("volume", NULL, &err), SL_EINVAL);
    char long_name[300];
    memset(long_name, 'x', 256);
    long_name[256] = '\0';
    assert_int_equal(sl_dbx_uc_name_check("table", long_name, &err), SL_EINVAL);
    long_name[255] = '\0';
    assert_int_equal(sl_dbx_uc_name_check("table", long_name, &err), SL_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bearer_and_authorization_values),
        cmocka_unit_test(pats_secrets_and_jwts),
        cmocka_unit_test(secret_bearing_keys),
        cmocka_unit_test(known_literals),
        cmocka_unit_test(ordinary_text_untouched),
        cmocka_unit_test(redact_buf_truncates_safely),
        cmocka_unit_test(path_segments_are_encoded),
        cmocka_unit_test(uc_names_are_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
