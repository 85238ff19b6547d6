/*
 * main.c - sluice-testfixture: `sluice` plus the test-only workflows of this directory.
 * Every command behaves as in the product; `worker`, `workflow start`, `workflow replay`
 * and the rest also know the fixtures (fixtures.h).
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fixtures.h"

int main(int argc, char **argv)
{
    /* Test switches are read here, once, before any workflow or activity code runs. */
    const char *log = getenv("SLUICE_FIXTURE_LOG");
    const char *reorder = getenv("SLUICE_FIXTURE_REORDER");
    static sl_fixtures_opts opts;
    opts.exec_log = log && *log ? log : NULL;
    opts.reorder_pair = reorder && strcmp(reorder, "1") == 0;
    return sl_cli_main(argc, argv, sl_fixtures_register, &opts);
}
