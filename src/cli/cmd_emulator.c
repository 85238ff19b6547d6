/* cmd_emulator.c - `sluice emulator`: run the local Databricks workspace emulator until
 * SIGINT/SIGTERM. Prints one readiness line on stdout once it listens. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sluice/emulator.h"

enum {
    OPT_LISTEN = 1000,
    OPT_DATA_DIR,
    OPT_TOKEN,
    OPT_CLIENT_ID,
    OPT_CLIENT_SECRET,
    OPT_TOKEN_TTL,
    OPT_FAULTS,
    OPT_SEED,
    OPT_STMT_LATENCY,
    OPT_GENIE_LATENCY,
    OPT_GENIE_RATE,
    OPT_GENIE_CONFIG,
    OPT_CHUNK_ROWS,
    OPT_THREADS,
};

static const struct option longopts[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"data-dir", required_argument, NULL, OPT_DATA_DIR},
    {"token", required_argument, NULL, OPT_TOKEN},
    {"client-id", required_argument, NULL, OPT_CLIENT_ID},
    {"client-secret", required_argument, NULL, OPT_CLIENT_SECRET},
    {"token-ttl", required_argument, NULL, OPT_TOKEN_TTL},
    {"faults", required_argument, NULL, OPT_FAULTS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"statement-latency", required_argument, NULL, OPT_STMT_LATENCY},
    {"genie-latency", required_argument, NULL, OPT_GENIE_LATENCY},
    {"genie-rate", required_argument, NULL, OPT_GENIE_RATE},
    {"genie-config", required_argument, NULL, OPT_GENIE_CONFIG},
    {"chunk-rows", required_argument, NULL, OPT_CHUNK_ROWS},
    {"threads", required_argument, NULL, OPT_THREADS},
    {NULL, 0, NULL, 0},
};

/* "HOST:PORT" or ":PORT" or "PORT". */
static bool parse_listen(sl_cli *cli, char *s, sl_emulator_opts *o)
{
    char *colon = strrchr(s, ':');
    const char *port = colon ? colon + 1 : s;
    if (colon) {
        *colon = '\0';
        if (*s)
            o->listen_host = s;
    }
    long long p;
    if (!sl_cli_parse_int(cli, "--listen port", port, 0, 65535, &p))
        return false;
    o->port = (int)p;
    return true;
}

static int emulator_run(sl_cli *cli, int argc, char **argv)
{
    sl_emulator_opts o;
    sl_emulator_opts_init(&o);
    int c;
    long long n;
    while ((c = sl_cli_getopt(cli, argc, argv, "", longopts)) != -1) {
        switch (c) {
        case OPT_LISTEN:
            if (!parse_listen(cli, optarg, &o))
                return SL_EXIT_USAGE;
            break;
        case OPT_DATA_DIR:
            o.data_dir = optarg;
            break;
        case OPT_TOKEN:
            o.token = optarg;
            break;
        case OPT_CLIENT_ID:
            o.client_id = optarg;
            break;
        case OPT_CLIENT_SECRET:
            o.client_secret = optarg;
            break;
        case OPT_TOKEN_TTL:
            if (!sl_cli_parse_duration(cli, "--token-ttl", optarg, &o.token_ttl_ms))
                return SL_EXIT_USAGE;
            break;
        case OPT_FAULTS:
            o.faults = optarg;
            break;
        case OPT_SEED:
            if (!sl_cli_parse_int(cli, "--seed", optarg, 0, INT64_MAX, &n))
                return SL_EXIT_USAGE;
            o.seed = (uint64_t)n;
            break;
        case OPT_STMT_LATENCY:
            if (!sl_cli_parse_duration(cli, "--statement-latency", optarg,
                                       &o.statement_latency_ms))
                return SL_EXIT_USAGE;
            break;
        case OPT_GENIE_LATENCY:
            if (!sl_cli_parse_duration(cli, "--genie-latency", optarg, &o.genie_latency_ms))
                return SL_EXIT_USAGE;
            break;
        case OPT_GENIE_RATE:
            o.genie_rate = optarg;
            break;
        case OPT_GENIE_CONFIG:
            o.genie_config_path = optarg;
            break;
        case OPT_CHUNK_ROWS:
            if (!sl_cli_parse_int(cli, "--chunk-rows", optarg, 1, 1000000, &n))
                return SL_EXIT_USAGE;
            o.chunk_rows = (int)n;
            break;
        case OPT_THREADS:
            if (!sl_cli_parse_int(cli, "--threads", optarg, 1, 64, &n))
                return SL_EXIT_USAGE;
            o.threads = (int)n;
            break;
        default:
            return SL_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return sl_cli_usage(cli, "unexpected argument '%s'", argv[optind]);

    /* Block the stop signals before any thread starts, then wait for them here. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    sl_err err;
    sl_err_clear(&err);
    sl_emulator *emu = NULL;
    if (sl_emulator_start(&o, &emu, &err) != SL_OK)
        return sl_cli_fail_err(cli, &err);
    printf("sluice emulator listening on %s\n", sl_emulator_url(emu));
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    sl_info("emulator: stopping (signal %d)", sig);
    sl_emulator_stop(emu);
    return SL_EXIT_OK;
}

static const struct sl_cmd cmds[] = {
    {.name = "",
     .run = emulator_run,
     .usage = "emulator --listen HOST:PORT [--data-dir DIR] [--token T] [--client-id ID "
              "--client-secret S] [--token-ttl DUR] [--faults SPEC] [--seed N] "
              "[--statement-latency DUR] [--genie-latency DUR] [--genie-rate N/min] "
              "[--genie-config FILE] [--chunk-rows N] [--threads N]",
     .help = "Serve a local Databricks workspace (SQL warehouses and statements, Files, Unity\n"
             "Catalog, Genie, embeddings, MLflow, OAuth) with no credentials. Port 0 picks a\n"
             "free port; the line 'sluice emulator listening on URL' is printed once ready.\n"
             "Default PAT: dapi-emulator. See docs/emulator.md for faults and control endpoints."},
};
const struct sl_cmd_group sl_cli_emulator = {"emulator", "local Databricks workspace emulator",
                                             cmds, 1};
