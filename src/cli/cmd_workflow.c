/* cmd_workflow.c - placeholder until the workflow commands land. */
#include "cli/cli.h"

static int workflow_run(sl_cli *cli, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return sl_cli_fail(cli, "not implemented yet");
}

static const struct sl_cmd cmds[] = {
    {.name = "", .run = workflow_run, .usage = "workflow", .help = ""},
};
const struct sl_cmd_group sl_cli_workflow = {"workflow", "not implemented yet", cmds, 1};
