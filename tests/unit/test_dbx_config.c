/*
 * test_dbx_config.c - configuration resolution (src/dbx/config.c): precedence of
 * explicit options > environment > .env > ~/.databrickscfg profile, [DEFAULT]
 * inheritance, .env parsing, auth selection, host normalisation and the one-line
 * errors. The environment is a fake lookup table and files live in a temp dir.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sluice/dbx.h"

static char dir[256];

typedef struct {
    const char *kv[32]; /* name, value, name, value, ..., NULL */
} fake_env;

static const char *env_get(void *arg, const char *name)
{
    fake_env *e = arg;
    for (int i = 0; e->kv[i]; i += 2)
        if (strcmp(e->kv[i], name) == 0)
            return e->kv[i + 1];
    return NULL;
}

static char *write_file(const char *name, const char *text)
{
    char *path = sl_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/sluice-dbxcfg-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char *cmd = sl_xasprintf("rm -rf '%s'", dir);
    int rc = system(cmd);
    free(cmd);
    return rc == 0 ? 0 : -1;
}

static const char *CFG = "; comment\n"
                         "[DEFAULT]\n"
                         "host = https://default.cloud.databricks.com\n"
                         "token = dapi-default-token-0000\n"
                         "warehouse_id = wh-default\n"
                         "max_retries = 7\n"
                         "\n"
                         "[dev]\n"
                         "host = dev.cloud.databricks.com/?o=123\n"
                         "token = dapi-dev-token-1111\n"
                         "\n"
                         "[sp]\n"
                         "host = sp.cloud.databricks.com\n"
                         "client_id = abc\n"
                         "client_secret = dose-secret-2222\n"
                         "token =\n";

static void file_profile_default_is_used(void **state)
{
    (void)state;
    char *cfg = write_file("cfg1", CFG);
    fake_env env = {{NULL}};
    sl_dbx_settings s;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_dbx_config_resolve(NULL, env_get, &env, cfg, NULL, &s, &err), SL_OK);
    assert_string_equal(s.host, "https://default.cloud.databricks.com");
    assert_int_equal(s.auth, SL_DBX_AUTH_PAT);
    assert_string_equal(s.token, "dapi-default-token-0000");
    assert_string_equal(s.warehouse_id, "wh-default");
    assert_string_equal(s.profile, "DEFAULT");
    assert_int_equal(s.retry.max_retries, 7);
    assert_true(s.retry.initial_backoff_s == 1.0);
    assert_true(s.retry.max_backoff_s == 60.0);
    assert_true(s.retry.backoff_multiplier == 2.0);
    assert_int_equal(s.connect_timeout_ms, 10000);
    assert_int_equal(s.request_timeout_ms, 60000);
    assert_true(s.tls_verify);
    sl_dbx_settings_cleanup(&s);
    free(cfg);
}

static void named_profile_inherits_default_keys(void **state)
{
    (void)state;
    char *cfg = write_file("cfg2", CFG);
    fake_env env = {{"DATABRICKS_CONFIG_PROFILE", "dev", NULL}};
    sl_dbx_settings s;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_dbx_config_resolve(NULL, env_get, &env, cfg, NULL, &s, &err), SL_OK);
    assert_string_equal(s.host, "https://dev.cloud.databricks.com"); /* path dropped */
    assert_string_equal(s.token, "dapi-dev-token-1111");
    assert_string_equal(s.warehouse_id, "wh-default"); /* inherited from [DEFAULT] */
    assert_string_equal(s.profile, "dev");
    sl_dbx_settings_cleanup(&s);

    /* the explicit profile wins over DATABRICKS_CONFIG_PROFILE */
    sl_dbx_config cfg_opt;
    sl_dbx_config_init(&cfg_opt);
    cfg_opt.profile = "sp";
    assert_int_equal(sl_dbx_config_resolve(&cfg_opt, env_get, &env, cfg, NULL, &s, &err), SL_OK);
    assert_int_equal(s.auth, SL_DBX_AUTH_OAUTH_M2M);
    assert_string_equal(s.client_id, "abc");
    assert_string_equal(s.client_secret, "dose-secret-2222");
    /* [sp] sets "token =" (empty): inherits DEFAULT's token, but the client pair sits in
     * the profile itself at the same level, and PAT wins ties */
    sl_dbx_settings_cleanup(&s);
    free(cfg);
}

static void env_overrides_file_and_option_overrides_env(void **state)
{
    (void)state;
    char *cfg = write_file("cfg3", CFG);
    fake_env env = {{"DATABRICKS_HOST", "env.example.com", "DATABRICKS_TOKEN", "dapi-env-3333",
                     "MAX_RETRIES", "2", "INITIAL_BACKOFF", "0.5", NULL}};
    sl_dbx_settings s;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_dbx_config_resolve(NULL, env_get, &env, cfg, NULL, &s, &err), SL_OK);
    assert_string_equal(s.host, "https://env.example.com");
    assert_string_equal(s.token, "dapi-env-3333");
    assert_int_equal(s.retry.max_retries, 2);
    assert_true(s.retry.initial_backoff_s == 0.5);
    assert_string_equal(s.warehouse_id, "wh-default"); /* still from the file */
    sl_dbx_settings_cleanup(&s);

    sl_dbx_config opt;
    sl_dbx_config_init(&opt);
    opt.host = "http://127.0.0.1:8080/";
    opt.token = "explicit-token";
    opt.max_retries = 0;
    opt.backoff_multiplier = 3;
    assert_int_equal(sl_dbx_config_resolve(&opt, env_get, &env, cfg, NULL, &s, &err), SL_OK);
    assert_string_equal(s.host, "http://127.0.0.1:8080"); /* explicit http kept */
    assert_string_equal(s.token, "explicit-token");
    assert_int_equal(s.retry.max_retries, 0);
    assert_true(s.retry.backoff_multiplier == 3.0);
    sl_dbx_settings_cleanup(&s);
    free(cfg);
}

static void dotenv_fills_gaps_but_never_overrides_env(void **state)
{
    (void)state;
    char *dotenv = write_file("dotenv1", "# a comment\n"
                                         "export DATABRICKS_HOST=\"dotenv.example.com\"\n"
                                         "DATABRICKS_TOKEN='dapi-dotenv-4444'\n"
                                         "DATABRICKS_WAREHOUSE_ID = wh-dotenv # inline\n"
                                         "MAX_BACKOFF=5\n"
                                         "this line is junk\n"
                                         "GENIE_SPACE_ID=\"space\\\"1\"\n");
    fake_env env = {{"DATABRICKS_HOST", "real-env.example.com", NULL}};
    sl_dbx_settings s;
    sl_err err;
    sl_err_clear(&err);
    sl_log_set_level(SL_LOG_ERROR); /* the junk line warns */
    char *none = sl_xasprintf("%s/missing.cfg", dir);
    assert_int_equal(sl_dbx_config_resolve(NULL, env_get, &env, none, dotenv, &s, &err), SL_OK);
    assert_string_equal(s.host, "https://real-env.example.com"); /* env wins */
    assert_string_equal(s.token, "dapi-dotenv-4444");
    assert_string_equal(s.warehouse_id, "wh-dotenv");
    assert_string_equal(s.genie_space_id, "space\"1");
    assert_true(s.retry.max_backoff_s == 5.0);
    assert_null(s.profile); /* no config file */
    sl_dbx_settings_cleanup(&s);

    /* .env beats the config file */
    char *cfg = write_file("cfg4", CFG);
    fake_env empty = {{NULL}};
    assert_int_equal(sl_dbx_config_resolve(NULL, env_get, &empty, cfg, dotenv, &s, &err), SL_OK);
    assert_string_equal(s.host, "https://dotenv.example.com");
    assert_string_equal(s.token, "dapi-dotenv-4444");
    assert_int_equal(s.retry.max_retries, 7); /* from the file's [DEFAULT] */
    sl_dbx_settings_cleanup(&s);
    free(cfg);
    free(none);
    free(dotenv);
}

static void config_file_found_via_env(void **state)
{
    (void)state;
    char *cfg = write_file("cfg5", CFG);
    char *home = sl_xasprintf("%s/home", dir);
    mkdir(home, 0700);
    char *homecfg = sl_xasprintf("%s/.databrickscfg", home);
    FILE *f = fopen(homecfg, "w");
    fputs("[DEFAULT]\nhost = home.example.com\ntoken = dapi-home\n", f);
    fclose(f);
    sl_dbx_settings s;
    sl_err err;
    sl_err_clear(&err);
    fake_env e1 = {{"HOME", home, NULL}};
    assert_int_equal(sl_dbx_config_resolve(NULL, env_get, &e1, NULL, NULL, &s, &err), SL_OK);
    assert_string_equal(s.host, "https://home.example.com");
    assert_string_equal(s.config_file, homecfg);
    sl_dbx_settings_cleanup(&s);
    fake_env e2 = {{"HOME", home, "DATABRICKS_CONFIG_FILE", cfg, NULL}};
    assert_int_equal(sl_dbx_config_resolve(NULL, env_get, &e2, NULL, NULL, &s, &err), SL_OK);
    assert_string_equal(s.host, "https://default.cloud.databricks.com");
    sl_dbx_settings_cleanup(&s);
    free(homecfg);
    free(home);
    free(cfg);
}

static void oauth_chosen_when_pair_outranks_token(void **state)
{
    (void)state;
    char *cfg = write_file("cfg6", CFG); /* [DEFAULT] has a token */
    fake_env env = {{"DATABRICKS_CLIENT_ID", "id-1", "DATABRICKS_CLIENT_SECRET", "sec-1", NULL}};
    sl_dbx_settings s;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_dbx_config_resolve(NULL, env_get, &env, cfg, NULL, &s, &err), SL_OK);
    assert_int_equal(s.auth, SL_DBX_AUTH_OAUTH_M2M);
    assert_null(s.token);
    sl_dbx_settings_cleanup(&s);
    /* an explicit token beats the env pair */
    sl_dbx_config opt;
    sl_dbx_config_init(&opt);
    opt.token = "dapi-flag";
    assert_int_equal(sl_dbx_config_resolve(&opt, env_get, &env, cfg, NULL, &s, &err), SL_OK);
    assert_int_equal(s.auth, SL_DBX_AUTH_PAT);
    assert_string_equal(s.token, "dapi-flag");
    assert_null(s.client_secret);
    sl_dbx_settings_cleanup(&s);
    free(cfg);
}

static void expect_error(const sl_dbx_config *opt, fake_env *env, const char *cfg,
                         const char *dotenv, sl_code code, const char *substr)
{
    sl_dbx_settings s;
    sl_err err;
    sl_err_clear(&err);
    sl_code rc = sl_dbx_config_resolve(opt, env_get, env, cfg, dotenv, &s, &err);
    if (rc != code || !strstr(err.msg, substr))
        fail_msg("got %s '%s', want %s containing '%s'", sl_code_name(rc), err.msg,
                 sl_code_name(code), substr);
    assert_null(strchr(err.msg, '\n'));
    assert_null(s.host); /* nothing half-resolved */
}

static void clear_one_line_errors(void **state)
{
    (void)state;
    char *cfg = write_file("cfg7", CFG);
    char *missing = sl_xasprintf("%s/nope.cfg", dir);
    fake_env empty = {{NULL}};
    expect_error(NULL, &empty, missing, NULL, SL_EINVAL, "no host");
    fake_env hostonly = {{"DATABRICKS_HOST", "h.example.com", NULL}};
    expect_error(NULL, &hostonly, missing, NULL, SL_EINVAL, "no credentials");
    fake_env halfpair = {{"DATABRICKS_HOST", "h", "DATABRICKS_CLIENT_ID", "x", NULL}};
    expect_error(NULL, &halfpair, missing, NULL, SL_EINVAL, "DATABRICKS_CLIENT_SECRET is missing");
    fake_env prof = {{"DATABRICKS_CONFIG_PROFILE", "nosuch", NULL}};
    expect_error(NULL, &prof, cfg, NULL, SL_EINVAL, "unknown profile 'nosuch' in");
    expect_error(NULL, &prof, missing, NULL, SL_EINVAL, "unknown profile 'nosuch': no config");
    fake_env badnum = {{"MAX_RETRIES", "lots", NULL}};
    expect_error(NULL, &badnum, cfg, NULL, SL_EINVAL,
                 "bad MAX_RETRIES 'lots' (environment MAX_RETRIES): expected an integer 0..100");
    fake_env badmult = {{"BACKOFF_MULTIPLIER", "0.5", NULL}};
    expect_error(NULL, &badmult, cfg, NULL, SL_EINVAL, "bad BACKOFF_MULTIPLIER '0.5'");
    fake_env badback = {{"INITIAL_BACKOFF", "1s", NULL}};
    expect_error(NULL, &badback, cfg, NULL, SL_EINVAL, "bad INITIAL_BACKOFF '1s'");
    fake_env badscheme = {{"DATABRICKS_HOST", "ftp://x", "DATABRICKS_TOKEN", "t", NULL}};
    expect_error(NULL, &badscheme, missing, NULL, SL_EINVAL, "scheme must be http or https");
    char *broken = write_file("broken.cfg", "[DEFAULT]\nthis is not a key value\n");
    expect_error(NULL, &empty, broken, NULL, SL_EINVAL, "line 2: expected [profile]");
    char *nosec = write_file("nosec.cfg", "host = x\n");
    expect_error(NULL, &empty, nosec, NULL, SL_EINVAL, "key outside of a [profile] section");
    sl_dbx_config opt;
    sl_dbx_config_init(&opt);
    opt.initial_backoff_s = 99999;
    fake_env ok = {{"DATABRICKS_HOST", "h", "DATABRICKS_TOKEN", "t", NULL}};
    expect_error(&opt, &ok, missing, NULL, SL_EINVAL, "bad INITIAL_BACKOFF");
    /* unreadable config (a directory) */
    if (geteuid() != 0) {
        char *unreadable = write_file("unreadable.cfg", CFG);
        chmod(unreadable, 0);
        expect_error(NULL, &empty, unreadable, NULL, SL_EIO, "cannot read");
        free(unreadable);
    }
    expect_error(NULL, &empty, dir, NULL, SL_EIO, "cannot read");
    free(broken);
    free(nosec);
    free(missing);
    free(cfg);
}

static void secrets_not_in_errors(void **state)
{
    (void)state;
    fake_env env = {{"DATABRICKS_HOST", "ftp://dapi0123456789abcdef0123@x", NULL}};
    sl_dbx_settings s;
    sl_err err;
    sl_err_clear(&err);
    assert_int_not_equal(sl_dbx_config_resolve(NULL, env_get, &env, NULL, NULL, &s, &err), SL_OK);
    assert_null(strstr(err.msg, "dapi0123456789abcdef0123"));
}

static void host_normalisation(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"adb-1.azuredatabricks.net", "https://adb-1.azuredatabricks.net"},
        {"  adb-1.azuredatabricks.net/  ", "https://adb-1.azuredatabricks.net"},
        {"https://adb-1.azuredatabricks.net/?o=1#x", "https://adb-1.azuredatabricks.net"},
        {"HTTPS://Host.Example.com", "https://Host.Example.com"},
        {"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
        {"127.0.0.1:8080", "https://127.0.0.1:8080"},
        {"localhost:9", "https://localhost:9"},
        {"http://[::1]:8080/api", "http://[::1]:8080"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out = NULL;
        sl_err err;
        sl_err_clear(&err);
        assert_int_equal(sl_dbx_host_normalize(cases[i][0], &out, &err), SL_OK);
        assert_string_equal(out, cases[i][1]);
        free(out);
    }
    const char *bad[] = {"", "   ", "ftp://x", "https://", "https:///path", "a b.com"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *out = NULL;
        assert_int_equal(sl_dbx_host_normalize(bad[i], &out, NULL), SL_EINVAL);
        assert_null(out);
    }
}

static void timeouts_and_tls_from_sources(void **state)
{
    (void)state;
    fake_env env = {{"DATABRICKS_HOST", "h", "DATABRICKS_TOKEN", "t",
                     "DATABRICKS_HTTP_TIMEOUT_SECONDS", "2.5", "DATABRICKS_INSECURE_SKIP_VERIFY",
                     "true", NULL}};
    sl_dbx_settings s;
    sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_dbx_config_resolve(NULL, env_get, &env, "/nonexistent", NULL, &s, &err),
                     SL_OK);
    assert_int_equal(s.request_timeout_ms, 2500);
    assert_false(s.tls_verify);
    sl_dbx_settings_cleanup(&s);
    sl_dbx_config opt;
    sl_dbx_config_init(&opt);
    opt.request_timeout_ms = 1234;
    opt.connect_timeout_ms = 99;
    opt.tls_insecure = 0;
    assert_int_equal(sl_dbx_config_resolve(&opt, env_get, &env, "/nonexistent", NULL, &s, &err),
                     SL_OK);
    assert_int_equal(s.request_timeout_ms, 1234);
    assert_int_equal(s.connect_timeout_ms, 99);
    assert_true(s.tls_verify);
    sl_dbx_settings_cleanup(&s);
}

/* DATABRICKS_RETRY_ATTEMPTS / _INTERVAL: defaults, environment over .env, validation. */
static void sync_retry_resolves_and_validates(void **state)
{
    (void)state;
    sl_dbx_sync_retry r;
    sl_err err;
    sl_err_clear(&err);
    fake_env empty = {{NULL}};
    assert_int_equal(sl_dbx_sync_retry_resolve(env_get, &empty, NULL, &r, &err), SL_OK);
    assert_int_equal(r.attempts, 3);
    assert_true(r.interval_s == 300.0);
    char *dotenv = write_file("retry.env", "DATABRICKS_RETRY_ATTEMPTS=7\n"
                                           "DATABRICKS_RETRY_INTERVAL=2.5\n");
    assert_int_equal(sl_dbx_sync_retry_resolve(env_get, &empty, dotenv, &r, &err), SL_OK);
    assert_int_equal(r.attempts, 7);
    assert_true(r.interval_s == 2.5);
    fake_env env = {{"DATABRICKS_RETRY_ATTEMPTS", "50", "DATABRICKS_RETRY_INTERVAL", "0.1", NULL}};
    assert_int_equal(sl_dbx_sync_retry_resolve(env_get, &env, dotenv, &r, &err), SL_OK);
    assert_int_equal(r.attempts, 50);
    assert_true(r.interval_s == 0.1);
    static const char *const bad[][3] = {
        {"DATABRICKS_RETRY_ATTEMPTS", "lots", "expected an integer 1..1000"},
        {"DATABRICKS_RETRY_ATTEMPTS", "0", "expected an integer 1..1000"},
        {"DATABRICKS_RETRY_ATTEMPTS", "3x", "expected an integer 1..1000"},
        {"DATABRICKS_RETRY_ATTEMPTS", "1001", "expected an integer 1..1000"},
        {"DATABRICKS_RETRY_INTERVAL", "-1", "expected a number"},
        {"DATABRICKS_RETRY_INTERVAL", "5m", "expected a number"},
        {"DATABRICKS_RETRY_INTERVAL", "0", "expected a number"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fake_env b = {{bad[i][0], bad[i][1], NULL}};
        sl_err_clear(&err);
        assert_int_equal(sl_dbx_sync_retry_resolve(env_get, &b, NULL, &r, &err), SL_EINVAL);
        char want[128];
        snprintf(want, sizeof(want), "bad %s '%s' (environment %s)", bad[i][0], bad[i][1],
                 bad[i][0]);
        assert_non_null(strstr(err.msg, want));
        assert_non_null(strstr(err.msg, bad[i][2]));
        assert_null(strchr(err.msg, '\n'));
    }
    /* the full resolver validates them too, and keeps them in the settings */
    fake_env full = {{"DATABRICKS_HOST", "h", "DATABRICKS_TOKEN", "dapi-secret-token",
                      "DATABRICKS_RETRY_ATTEMPTS", "9", NULL}};
    sl_dbx_settings s;
    assert_int_equal(sl_dbx_config_resolve(NULL, env_get, &full, "/nonexistent", NULL, &s, &err),
                     SL_OK);
    assert_int_equal(s.sync_retry.attempts, 9);
    assert_true(s.sync_retry.interval_s == 300.0);
    sl_dbx_settings_cleanup(&s);
    fake_env fullbad = {{"DATABRICKS_HOST", "h", "DATABRICKS_TOKEN", "dapi-secret-token",
                         "DATABRICKS_RETRY_INTERVAL", "soon", NULL}};
    assert_int_equal(
        sl_dbx_config_resolve(NULL, env_get, &fullbad, "/nonexistent", NULL, &s, &err), SL_EINVAL);
    assert_non_null(strstr(err.msg, "bad DATABRICKS_RETRY_INTERVAL 'soon'"));
    assert_null(strstr(err.msg, "dapi-secret-token"));
    free(dotenv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(file_profile_default_is_used),
        cmocka_unit_test(named_profile_inherits_default_keys),
        cmocka_unit_test(env_overrides_file_and_option_overrides_env),
        cmocka_unit_test(dotenv_fills_gaps_but_never_overrides_env),
        cmocka_unit_test(config_file_found_via_env),
        cmocka_unit_test(oauth_chosen_when_pair_outranks_token),
        cmocka_unit_test(clear_one_line_errors),
        cmocka_unit_test(secrets_not_in_errors),
        cmocka_unit_test(host_normalisation),
        cmocka_unit_test(timeouts_and_tls_from_sources),
        cmocka_unit_test(sync_retry_resolves_and_validates),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
