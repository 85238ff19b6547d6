/* cmd_dbx.c - placeholder until the dbx commands land. */
#include "cli/cli.h"

static int dbx_run(sl_cli *cli, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return sl_cli_fail(cli, "not implemented yet");
}

static const struct sl_cmd cmds[] = {
    {.name = "", .run = dbx_run, .usage = "dbx", .help = ""},
};
const struct sl_cmd_group sl_cli_dbx = {"dbx", "not implemented yet", cmds, 1};
