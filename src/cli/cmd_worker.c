/* cmd_worker.c - `sluice worker`: run workflow and activity tasks until told to stop. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "sluice/worker.h"
#include "sluice/workflows.h"

#define MAX_QUEUES 32

static int worker_run(sl_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"task-queue", required_argument, NULL, 'q'},
                                         {"concurrency", required_argument, NULL, 'c'},
                                         {"exit-when-idle", no_argument, NULL, 'x'},
                                         {"exit-when-drained", no_argument, NULL, 'D'},
                                         {"durability", required_argument, NULL, 'd'},
                                         {"shutdown-grace", required_argument, NULL, 'g'},
                                         {NULL, 0, NULL, 0}};
    const char *queues[MAX_QUEUES];
    size_t n_queues = 0;
    long long conc = 8;
    bool exit_idle = false, exit_drained = false;
    sl_durability dur = SL_DURABILITY_NORMAL;
    int64_t grace = 10000;
    int c;
    while ((c = sl_cli_getopt(cli, argc, argv, "q:c:xd:g:", opts)) != -1) {
        switch (c) {
        case 'q':
            if (n_queues == MAX_QUEUES)
                return sl_cli_usage(cli, "at most %d task queues", MAX_QUEUES);
            if (!*optarg)
                return sl_cli_usage(cli, "--task-queue needs a name");
            queues[n_queues++] = optarg;
            break;
        case 'c':
            if (!sl_cli_parse_int(cli, "--concurrency", optarg, 1, 4096, &conc))
                return SL_EXIT_USAGE;
            break;
        case 'x':
            exit_idle = true;
            break;
        case 'D':
            exit_drained = true;
            break;
        case 'd':
            if (!sl_durability_parse(optarg, &dur))
                return sl_cli_usage(cli, "--durability must be normal or full");
            break;
        case 'g':
            if (!sl_cli_parse_duration(cli, "--shutdown-grace", optarg, &grace))
                return SL_EXIT_USAGE;
            break;
        default:
            return SL_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return sl_cli_usage(cli, "unexpected argument '%s'", argv[optind]);
    if (exit_idle && exit_drained)
        return sl_cli_usage(cli, "give --exit-when-idle or --exit-when-drained, not both");
    if (n_queues == 0)
        queues[n_queues++] = "default";

    /* Signals go to this thread only (sigtimedwait below); block them before threads start. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    sl_engine *e = sl_cli_engine_open(cli, true, false, (int)dur);
    if (!e)
        return SL_EXIT_FAIL;
    sl_wf_env_opts eo = {.db_path = cli->db_path};
    sl_wf_env *env = NULL;
    sl_err eerr;
    if (sl_wf_env_new(&eo, &env, &eerr) != SL_OK) {
        sl_engine_close(e);
        return sl_cli_fail_err(cli, &eerr);
    }
    sl_wf_env_set_engine(env, e);
    sl_engine_set_env(e, env);
    sl_worker_opts wo;
    sl_worker_opts_init(&wo);
    wo.queues = queues;
    wo.n_queues = n_queues;
    wo.concurrency = (int)conc;
    wo.shutdown_grace_ms = grace;
    sl_worker *w;
    sl_err err;
    sl_err_clear(&err);
    if (sl_worker_start(e, &wo, &w, &err) != SL_OK) {
        sl_engine_close(e);
        sl_wf_env_free(env);
        return sl_cli_fail_err(cli, &err);
    }
    char qlist[512] = "";
    for (size_t i = 0; i < n_queues; i++) {
        if (i)
            strncat(qlist, ",", sizeof(qlist) - strlen(qlist) - 1);
        strncat(qlist, queues[i], sizeof(qlist) - strlen(qlist) - 1);
    }
    sl_info("worker %s ready: queues=%s concurrency=%lld db=%s", sl_engine_identity(e), qlist,
            conc, cli->db_path);
    int idle_checks = 0;
    int sig = 0;
    for (;;) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 100 * 1000000};
        sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM)
            break;
        if (exit_idle || exit_drained) {
            bool done = exit_idle ? sl_worker_is_idle(w) : sl_worker_is_drained(w);
            idle_checks = done ? idle_checks + 1 : 0;
            if (idle_checks >= 3)
                break;
        }
    }
    const char *why = exit_idle ? "idle" : "drained";
    if (sig > 0)
        why = sig == SIGINT ? "SIGINT" : "SIGTERM";
    sl_info("worker %s stopping (%s)", sl_engine_identity(e), why);
    if (!sl_worker_stop(w)) {
        sl_warn("worker %s: activities still running after the grace period; exiting anyway "
                "(their leases expire and they are retried)",
                sl_engine_identity(e));
        _Exit(SL_EXIT_OK);
    }
    sl_engine_close(e);
    sl_wf_env_free(env);
    sl_info("worker stopped");
    return SL_EXIT_OK;
}

/* The types this worker can run: those the program registered. */
static void worker_help_types(void)
{
    printf("\nworkflow types: %s\n", sl_registry_workflow_names(sl_cli_registry()));
}

static const struct sl_cmd cmds[] = {
    {.name = "",
     .run = worker_run,
     .usage = "worker [--task-queue Q]... [--concurrency N] [--exit-when-idle | "
              "--exit-when-drained] [--durability normal|full] [--shutdown-grace DURATION]",
     .help = "Poll task queues (default: default) and run workflow tasks and activities.\n"
             "SIGINT/SIGTERM: stop taking work, release what has not started, let running\n"
             "activities finish (up to the grace period, default 10s).\n"
             "--exit-when-idle: exit once nothing is pending on the queues, waiting for\n"
             "  timers and retries of open runs to come due and run (drain everything).\n"
             "--exit-when-drained: exit once nothing is runnable now (no task visible on\n"
             "  the queues, none running here); runs sleeping on timers and retries due\n"
             "  later stay open for the next worker (scripts, cron jobs).",
     .help_more = worker_help_types},
};
const struct sl_cmd_group sl_cli_worker = {"worker", "run workflow and activity tasks", cmds, 1};
