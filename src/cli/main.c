/*
 * main.c - the command line (sl_cli_main): global options, the table of command groups,
 * dispatch and --help. The programs are thin main()s around it: `sluice` (sluice.c) and the
 * test fixture binary `sluice-testfixture` (tests/workflows/main.c), which adds its
 * test-only workflows to the registry.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sluice/dbx.h"

static const struct sl_cmd_group *const groups[] = {
    &sl_cli_dataset, &sl_cli_genie,    &sl_cli_loadtest, &sl_cli_workflow, &sl_cli_schedule,
    &sl_cli_queue,   &sl_cli_worker,   &sl_cli_dev,      &sl_cli_bench,    &sl_cli_dbx,
    &sl_cli_emulator, &sl_cli_server,
};
#define N_GROUPS (sizeof(groups) / sizeof(groups[0]))

/* A command's usage line: its own, or built from its option table. Owned by b. */
static const char *cmd_usage(sl_buf *b, const struct sl_cmd_group *g, const struct sl_cmd *cmd)
{
    if (cmd->usage)
        return cmd->usage;
    sl_buf_reset(b);
    char full[128];
    snprintf(full, sizeof(full), "%s%s%s", g->name, cmd->name[0] ? " " : "", cmd->name);
    sl_cli_usage_build(b, full, cmd);
    return sl_buf_str(b);
}

static void print_help(void)
{
    sl_buf u = SL_BUF_INIT;
    printf("sluice %s - durable workflows on SQLite, for Databricks data work\n\n"
           "usage: sluice [--db PATH] COMMAND [ARGS]\n\n"
           "commands:\n",
           SL_VERSION);
    for (size_t i = 0; i < N_GROUPS; i++) {
        const struct sl_cmd_group *g = groups[i];
        if (g->n_cmds == 1 && g->cmds[0].name[0] == '\0') {
            printf("  %-34s %s\n", cmd_usage(&u, g, &g->cmds[0]), g->summary);
            continue;
        }
        printf("  %-34s %s\n", g->name, g->summary);
        for (size_t k = 0; k < g->n_cmds; k++)
            printf("    sluice %s\n", cmd_usage(&u, g, &g->cmds[k]));
    }
    sl_buf_free(&u);
    printf("\nglobal options:\n"
           "  --db PATH   engine database (default $SLUICE_DB or ./sluice.db)\n"
           "  --version   print the version\n\n"
           "Run 'sluice COMMAND --help' for a command's options.\n");
}

static void print_cmd_help(const sl_cli *cli)
{
    const struct sl_cmd *cmd = cli->cmd;
    printf("usage: sluice %s\n", cli->usage);
    if (cmd->help && cmd->help[0])
        printf("\n%s\n", cmd->help);
    sl_cli_opts_help(stdout, cmd->opts);
    if (cmd->help_more)
        cmd->help_more();
}

static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    }
    return false;
}

int sl_cli_main(int argc, char **argv, sl_cli_register_fn register_more, void *arg)
{
    sl_cli cli = {.db_path = NULL, .cmd_name = "sluice", .cmd = NULL};
    signal(SIGPIPE, SIG_IGN);
    sl_cli_registry_extend(register_more, arg);

    /* Global options may appear anywhere before "--": take them out of argv. */
    int n = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "sluice: option '--db' needs a value\n");
                return SL_EXIT_USAGE;
            }
            cli.db_path = argv[++i];
            continue;
        }
        if (strncmp(argv[i], "--db=", 5) == 0) {
            cli.db_path = argv[i] + 5;
            continue;
        }
        argv[n++] = argv[i];
    }
    argc = n;
    argv[argc] = NULL;
    if (!cli.db_path)
        cli.db_path = getenv("SLUICE_DB");
    if (!cli.db_path || !*cli.db_path)
        cli.db_path = "sluice.db";

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_help();
        return argc < 2 ? SL_EXIT_USAGE : SL_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("sluice %s\n", SL_VERSION);
        return SL_EXIT_OK;
    }

    const struct sl_cmd_group *g = NULL;
    for (size_t i = 0; i < N_GROUPS; i++)
        if (strcmp(groups[i]->name, argv[1]) == 0)
            g = groups[i];
    if (!g) {
        fprintf(stderr, "sluice: unknown command '%s' (run 'sluice --help')\n", argv[1]);
        return SL_EXIT_USAGE;
    }

    const struct sl_cmd *cmd = NULL;
    int sub_argc;
    char **sub_argv;
    char name[128];
    if (g->n_cmds == 1 && g->cmds[0].name[0] == '\0') {
        cmd = &g->cmds[0];
        snprintf(name, sizeof(name), "%s", g->name);
        sub_argc = argc - 1;
        sub_argv = argv + 1;
    } else {
        if (argc < 3 || argv[2][0] == '-') {
            if (argc >= 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
                sl_buf u = SL_BUF_INIT;
                printf("usage:\n");
                for (size_t k = 0; k < g->n_cmds; k++)
                    printf("  sluice %s\n", cmd_usage(&u, g, &g->cmds[k]));
                sl_buf_free(&u);
                return SL_EXIT_OK;
            }
            fprintf(stderr, "sluice: %s: missing sub-command (one of:", g->name);
            for (size_t k = 0; k < g->n_cmds; k++)
                fprintf(stderr, " %s", g->cmds[k].name);
            fprintf(stderr, ")\n");
            return SL_EXIT_USAGE;
        }
        for (size_t k = 0; k < g->n_cmds; k++)
            if (strcmp(g->cmds[k].name, argv[2]) == 0)
                cmd = &g->cmds[k];
        if (!cmd) {
            fprintf(stderr, "sluice: %s: unknown sub-command '%s' (run 'sluice %s --help')\n",
                    g->name, argv[2], g->name);
            return SL_EXIT_USAGE;
        }
        snprintf(name, sizeof(name), "%s %s", g->name, cmd->name);
        sub_argc = argc - 2;
        sub_argv = argv + 2;
    }
    cli.cmd = cmd;
    cli.cmd_name = name;
    sl_buf usage = SL_BUF_INIT;
    cli.usage = cmd_usage(&usage, g, cmd);
    if (wants_help(sub_argc, sub_argv)) {
        print_cmd_help(&cli);
        sl_buf_free(&usage);
        return SL_EXIT_OK;
    }
    sl_err err;
    sl_err_clear(&err);
    if (sl_dbx_global_init(&err) != SL_OK) {
        fprintf(stderr, "sluice: %s: %s\n", name, err.msg);
        sl_buf_free(&usage);
        return SL_EXIT_FAIL;
    }
    optind = 0; /* glibc: full re-initialisation of getopt */
    /* declared options: parse here, then the command is its library call and output */
    sl_cli_args args;
    int rc = sl_cli_args_parse(&cli, sub_argc, sub_argv, &args);
    if (rc == SL_EXIT_OK)
        rc = cmd->exec(&cli, &args);
    sl_cli_args_cleanup(&args);
    fflush(stdout);
    sl_dbx_global_cleanup();
    sl_buf_free(&usage);
    return rc;
}
