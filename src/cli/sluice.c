/* sluice.c - the `sluice` program: the command line with the shipped workflows only. */
#include "cli.h"

int main(int argc, char **argv)
{
    return sl_cli_main(argc, argv, NULL, NULL);
}
