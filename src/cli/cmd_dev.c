/*
 * cmd_dev.c - `sluice dev`: the embedded default. A local Databricks workspace emulator on
 * 127.0.0.1 and a worker (queues databricks, default, genie) in one process, pointed at
 * each other, so the whole dataset-sync path runs with no credentials.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "sluice/emulator.h"
#include "sluice/worker.h"
#include "sluice/workflows.h"

static const struct sl_opt dev_opts[] = {
    SL_CLI_STR('l', "listen", 'l', "127.0.0.1:PORT",
               "the emulator's address (default 127.0.0.1:0, a free port)"),
    SL_CLI_STR('D', "data-dir", 'D', "DIR", "default $SLUICE_DATA_DIR, else ./sluice-data"),
    SL_CLI_INT('c', "concurrency", 'c', "N", 1, 1024, "activities run at once (default 4)"),
    SL_CLI_DUR('s', "statement-latency", 's', "D", "time an emulated statement runs"),
    SL_CLI_DUR('g', "genie-latency", 'g', "D", "time emulated Genie takes to answer"),
    SL_CLI_STR('r', "genie-rate", 'r', "N/min", "emulated Genie questions per minute"),
    SL_CLI_STR('f', "faults", 'f', "SPEC", "faults the emulator injects (docs/emulator.md)"),
    SL_CLI_END,
};

static int dev_exec(sl_cli *cli, const sl_cli_args *args)
{
    const char *listen = sl_cli_arg_str(args, 'l', "127.0.0.1:0");
    const char *data_dir = sl_cli_arg_str(args, 'D', getenv("SLUICE_DATA_DIR"));
    long long conc = sl_cli_arg_int(args, 'c', 4);
    sl_emulator_opts eo;
    sl_emulator_opts_init(&eo);
    eo.statement_latency_ms = sl_cli_arg_ms(args, 's', eo.statement_latency_ms);
    eo.genie_latency_ms = sl_cli_arg_ms(args, 'g', eo.genie_latency_ms);
    eo.genie_rate = sl_cli_arg_str(args, 'r', eo.genie_rate);
    eo.faults = sl_cli_arg_str(args, 'f', eo.faults);
    if (args->argc > 0)
        return sl_cli_usage(cli, "unexpected argument '%s'", args->argv[0]);
    char host[64];
    int port = 0;
    if (!sl_cli_parse_listen(cli, listen, true, host, sizeof(host), &port))
        return SL_EXIT_USAGE;
    if (!data_dir || !*data_dir)
        data_dir = "sluice-data";
    char *emu_dir = sl_xasprintf("%s/emulator", data_dir);
    sl_err err;
    sl_err_clear(&err);
    if (sl_mkdirs(emu_dir, &err) != SL_OK) {
        free(emu_dir);
        return sl_cli_fail_err(cli, &err);
    }
    eo.listen_host = host;
    eo.port = port;
    eo.data_dir = emu_dir;

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    sl_emulator *emu = NULL;
    if (sl_emulator_start(&eo, &emu, &err) != SL_OK) {
        free(emu_dir);
        return sl_cli_fail(cli, "emulator: %s", err.msg);
    }
    sl_engine *e = sl_cli_engine_open(cli, true, false, SL_DURABILITY_NORMAL);
    if (!e) {
        sl_emulator_stop(emu);
        free(emu_dir);
        return SL_EXIT_FAIL;
    }
    /* The client talks to the emulator; retry settings still come from the environment. */
    sl_dbx_config cfg;
    sl_dbx_config_init(&cfg);
    cfg.host = sl_emulator_url(emu);
    cfg.token = "dapi-emulator";
    cfg.profile = NULL;
    sl_dbx_settings s;
    sl_dbx_settings_init(&s);
    sl_dbx_client *dbx = NULL;
    int rc = SL_EXIT_OK;
    sl_wf_env *env = NULL;
    sl_worker *w = NULL;
    if (sl_dbx_config_resolve_default(&cfg, &s, &err) != SL_OK ||
        sl_dbx_client_new(&s, &dbx, &err) != SL_OK) {
        rc = sl_cli_fail(cli, "client: %s", err.msg);
        goto out;
    }
    sl_wf_env_opts wo_env = {.db_path = cli->db_path, .data_dir = data_dir};
    if (sl_wf_env_new(&wo_env, &env, &err) != SL_OK) {
        rc = sl_cli_fail_err(cli, &err);
        goto out;
    }
    sl_wf_env_set_dbx(env, dbx);
    dbx = NULL;
    sl_wf_env_set_engine(env, e);
    sl_engine_set_env(e, env);
    static const char *const queues[] = {"databricks", "default", "genie"};
    sl_worker_opts wo;
    sl_worker_opts_init(&wo);
    wo.queues = queues;
    wo.n_queues = 3;
    wo.concurrency = (int)conc;
    if (sl_worker_start(e, &wo, &w, &err) != SL_OK) {
        rc = sl_cli_fail_err(cli, &err);
        goto out;
    }
    printf("sluice dev ready: emulator=%s db=%s data_dir=%s queues=databricks,default,genie\n",
           sl_emulator_url(emu), cli->db_path, data_dir);
    printf("  local Databricks workspace  %s (token dapi-emulator)\n", sl_emulator_url(emu));
    printf("  engine database             %s\n", cli->db_path);
    printf("  data directory              %s\n", data_dir);
    printf("  worker                      queues databricks, default, genie; concurrency %lld\n",
           conc);
    printf("  in another shell:\n"
           "    sluice dataset ingest FILE --name NAME      # synced here in the background\n"
           "    DATABRICKS_HOST=%s DATABRICKS_TOKEN=dapi-emulator sluice dbx sql \"SHOW CATALOGS\"\n"
           "  Ctrl-C stops everything.\n",
           sl_emulator_url(emu));
    fflush(stdout);
    int sig;
    for (;;) {
        struct timespec ts = {.tv_sec = 1, .tv_nsec = 0};
        sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM)
            break;
    }
    sl_info("dev: stopping (%s)", sig == SIGINT ? "SIGINT" : "SIGTERM");
out:
    if (w && !sl_worker_stop(w)) {
        sl_warn("dev: activities still running after the grace period; exiting");
        _Exit(SL_EXIT_OK);
    }
    sl_engine_close(e);
    sl_wf_env_free(env);
    sl_dbx_client_free(dbx);
    sl_dbx_settings_cleanup(&s);
    sl_emulator_stop(emu);
    free(emu_dir);
    return rc;
}

static const struct sl_cmd cmds[] = {
    {.name = "",
     .exec = dev_exec,
     .opts = dev_opts,
     .help = "Run a local Databricks workspace emulator and a worker (queues databricks,\n"
             "default, genie) in one process, pointed at each other: ingest a dataset from\n"
             "another shell and watch it sync. Ctrl-C stops both."},
};
const struct sl_cmd_group sl_cli_dev = {"dev", "emulator + worker in one process", cmds, 1};
