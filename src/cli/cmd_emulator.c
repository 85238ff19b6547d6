/* cmd_emulator.c - placeholder until the emulator commands land. */
#include "cli/cli.h"

static int emulator_run(sl_cli *cli, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return sl_cli_fail(cli, "not implemented yet");
}

static const struct sl_cmd cmds[] = {
    {.name = "", .run = emulator_run, .usage = "emulator", .help = ""},
};
const struct sl_cmd_group sl_cli_emulator = {"emulator", "not implemented yet", cmds, 1};
