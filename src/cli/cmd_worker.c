/* cmd_worker.c - placeholder until the worker commands land. */
#include "cli/cli.h"

static int worker_run(sl_cli *cli, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return sl_cli_fail(cli, "not implemented yet");
}

static const struct sl_cmd cmds[] = {
    {.name = "", .run = worker_run, .usage = "worker", .help = ""},
};
const struct sl_cmd_group sl_cli_worker = {"worker", "not implemented yet", cmds, 1};
