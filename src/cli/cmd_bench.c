/* cmd_bench.c - placeholder until the bench commands land. */
#include "cli/cli.h"

static int bench_run(sl_cli *cli, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return sl_cli_fail(cli, "not implemented yet");
}

static const struct sl_cmd cmds[] = {
    {.name = "", .run = bench_run, .usage = "bench", .help = ""},
};
const struct sl_cmd_group sl_cli_bench = {"bench", "not implemented yet", cmds, 1};
