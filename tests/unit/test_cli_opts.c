/* test_cli_opts.c - the CLI's option driver (src/cli/cmd_opts.c): a command's table parses
 * argv by kind, refuses bad values with a usage exit, and yields its usage line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"

enum { OPT_LONG_ONLY = 1000 };

static const struct sl_opt opts[] = {
    SL_CLI_FLAG('f', "force", 'f', "a flag"),
    SL_CLI_STR_REQ('t', "type", 't', "T", "a required text"),
    SL_CLI_INT('n', "count", 'n', "N", 1, 10, "an integer 1..10"),
    SL_CLI_DUR('w', "wait", 0, "DURATION", "a duration"),
    SL_CLI_STR_MULTI('q', "queue", 'q', "Q", "repeatable"),
    SL_CLI_STR(OPT_LONG_ONLY, "long-only", 0, "X", "no short name"),
    SL_CLI_OUT((1u << SL_OUT_TABLE) | (1u << SL_OUT_JSON), "table or json"),
    SL_CLI_END,
};
static const struct sl_cmd cmd = {.name = "thing", .opts = opts, .args = "FILE"};

static int parse(sl_cli_args *a, int argc, char **argv)
{
    sl_cli cli = {.cmd_name = "test thing", .cmd = &cmd, .usage = "test thing ..."};
    optind = 0;
    return sl_cli_args_parse(&cli, argc, argv, a);
}

static void values_parse_by_kind(void **state)
{
    (void)state;
    char *argv[] = {"thing", "-f",          "--type=x", "-n",      "7",     "--wait",
                    "90s",   "-q",          "a",        "--queue", "b",     "-o",
                    "json",  "--long-only", "L",        "file1",   "file2", NULL};
    sl_cli_args a;
    assert_int_equal(parse(&a, 17, argv), SL_EXIT_OK);
    assert_true(sl_cli_arg_has(&a, 'f'));
    assert_string_equal(sl_cli_arg_str(&a, 't', NULL), "x");
    assert_int_equal(sl_cli_arg_int(&a, 'n', 0), 7);
    assert_int_equal(sl_cli_arg_ms(&a, 'w', 0), 90000);
    assert_int_equal(sl_cli_arg_fmt(&a, 'o', SL_OUT_TABLE), SL_OUT_JSON);
    assert_string_equal(sl_cli_arg_str(&a, OPT_LONG_ONLY, NULL), "L");
    size_t n;
    const char *const *qs = sl_cli_arg_list(&a, 'q', &n);
    assert_int_equal(n, 2);
    assert_string_equal(qs[0], "a");
    assert_string_equal(qs[1], "b");
    assert_int_equal(a.argc, 2);
    assert_string_equal(a.argv[0], "file1");
    sl_cli_args_cleanup(&a);
}

static void absent_options_read_their_defaults(void **state)
{
    (void)state;
    char *argv[] = {"thing", NULL};
    sl_cli_args a;
    assert_int_equal(parse(&a, 1, argv), SL_EXIT_OK);
    assert_false(sl_cli_arg_has(&a, 'f'));
    assert_null(sl_cli_arg_str(&a, 't', NULL));
    assert_int_equal(sl_cli_arg_int(&a, 'n', 3), 3);
    assert_int_equal(sl_cli_arg_ms(&a, 'w', 5), 5);
    assert_int_equal(sl_cli_arg_fmt(&a, 'o', SL_OUT_TABLE), SL_OUT_TABLE);
    size_t n = 99;
    sl_cli_arg_list(&a, 'q', &n);
    assert_int_equal(n, 0);
    assert_int_equal(a.argc, 0);
    sl_cli_args_cleanup(&a);
}

static void bad_values_are_usage_errors(void **state)
{
    (void)state;
    char *bad[][3] = {
        {"thing", "-n", "0"},        {"thing", "-n", "11"},       {"thing", "-n", "x"},
        {"thing", "--wait", "soon"}, {"thing", "-o", "csv"},      {"thing", "--nope", "1"},
        {"thing", "-Z", "1"},        {"thing", "--count", "1e3"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sl_cli_args a;
        assert_int_equal(parse(&a, 3, bad[i]), SL_EXIT_USAGE);
        sl_cli_args_cleanup(&a);
    }
    char *missing[] = {"thing", "--type", NULL};
    sl_cli_args a;
    assert_int_equal(parse(&a, 2, missing), SL_EXIT_USAGE);
    sl_cli_args_cleanup(&a);
}

static void usage_is_built_from_the_table(void **state)
{
    (void)state;
    sl_buf b = SL_BUF_INIT;
    sl_cli_usage_build(&b, "test thing", &cmd);
    assert_string_equal(sl_buf_str(&b),
                        "test thing FILE [--force] --type T [--count N] [--wait DURATION] "
                        "[--queue Q]... [--long-only X] [-o table|json]");
    sl_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(values_parse_by_kind),
        cmocka_unit_test(absent_options_read_their_defaults),
        cmocka_unit_test(bad_values_are_usage_errors),
        cmocka_unit_test(usage_is_built_from_the_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
