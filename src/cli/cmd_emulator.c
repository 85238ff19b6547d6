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

static const struct sl_opt emulator_opts[] = {
    SL_CLI_STR(OPT_LISTEN, "listen", 0, "HOST:PORT",
               "address to listen on (also :PORT or PORT; port 0 picks a free one)"),
    SL_CLI_STR(OPT_DATA_DIR, "data-dir", 0, "DIR", "state and files (default: a temporary one)"),
    SL_CLI_STR(OPT_TOKEN, "token", 0, "T",
               "accepted personal access token (default dapi-emulator)"),
    SL_CLI_STR(OPT_CLIENT_ID, "client-id", 0, "ID", "OAuth M2M client id"),
    SL_CLI_STR(OPT_CLIENT_SECRET, "client-secret", 0, "S", "OAuth M2M client secret"),
    SL_CLI_DUR(OPT_TOKEN_TTL, "token-ttl", 0, "DUR", "lifetime of issued OAuth tokens"),
    SL_CLI_STR(OPT_FAULTS, "faults", 0, "SPEC", "injected faults (docs/emulator.md)"),
    SL_CLI_INT(OPT_SEED, "seed", 0, "N", 0, INT64_MAX, "seed of the fault injector"),
    SL_CLI_DUR(OPT_STMT_LATENCY, "statement-latency", 0, "DUR", "time a statement runs"),
    SL_CLI_DUR(OPT_GENIE_LATENCY, "genie-latency", 0, "DUR", "time Genie takes to answer"),
    SL_CLI_STR(OPT_GENIE_RATE, "genie-rate", 0, "N/min",
               "Genie questions per minute (0: no limit)"),
    SL_CLI_STR(OPT_GENIE_CONFIG, "genie-config", 0, "FILE", "spaces and canned answers"),
    SL_CLI_INT(OPT_CHUNK_ROWS, "chunk-rows", 0, "N", 1, 1000000, "rows per result chunk"),
    SL_CLI_INT(OPT_THREADS, "threads", 0, "N", 1, 64, "HTTP threads"),
    SL_CLI_END,
};

static int emulator_exec(sl_cli *cli, const sl_cli_args *args)
{
    sl_emulator_opts o;
    sl_emulator_opts_init(&o);
    char host[256];
    const char *listen = sl_cli_arg_str(args, OPT_LISTEN, NULL);
    if (listen) {
        if (!sl_cli_parse_listen(cli, listen, false, host, sizeof(host), &o.port))
            return SL_EXIT_USAGE;
        if (*host)
            o.listen_host = host;
    }
    o.data_dir = sl_cli_arg_str(args, OPT_DATA_DIR, o.data_dir);
    o.token = sl_cli_arg_str(args, OPT_TOKEN, o.token);
    o.client_id = sl_cli_arg_str(args, OPT_CLIENT_ID, o.client_id);
    o.client_secret = sl_cli_arg_str(args, OPT_CLIENT_SECRET, o.client_secret);
    o.token_ttl_ms = sl_cli_arg_ms(args, OPT_TOKEN_TTL, o.token_ttl_ms);
    o.faults = sl_cli_arg_str(args, OPT_FAULTS, o.faults);
    o.seed = (uint64_t)sl_cli_arg_int(args, OPT_SEED, (long long)o.seed);
    o.statement_latency_ms = sl_cli_arg_ms(args, OPT_STMT_LATENCY, o.statement_latency_ms);
    o.genie_latency_ms = sl_cli_arg_ms(args, OPT_GENIE_LATENCY, o.genie_latency_ms);
    o.genie_rate = sl_cli_arg_str(args, OPT_GENIE_RATE, o.genie_rate);
    o.genie_config_path = sl_cli_arg_str(args, OPT_GENIE_CONFIG, o.genie_config_path);
    o.chunk_rows = (int)sl_cli_arg_int(args, OPT_CHUNK_ROWS, o.chunk_rows);
    o.threads = (int)sl_cli_arg_int(args, OPT_THREADS, o.threads);
    if (args->argc > 0)
        return sl_cli_usage(cli, "unexpected argument '%s'", args->argv[0]);

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
     .exec = emulator_exec,
     .opts = emulator_opts,
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
