/* cmd_worker.c - `sluice worker`: run workflow and activity tasks until told to stop. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "sluice/worker.h"
#include "sluice/workflows.h"

#define MAX_QUEUES 32

static const struct sl_opt worker_opts[] = {
    SL_CLI_STR_MULTI('q', "task-queue", 'q', "Q",
                     "poll this task queue (repeatable; default: default)"),
    SL_CLI_INT('c', "concurrency", 'c', "N", 1, 4096, "activities run at once (default 8)"),
    SL_CLI_FLAG('x', "exit-when-idle", 'x', "exit once nothing is pending, timers included"),
    SL_CLI_FLAG('D', "exit-when-drained", 0, "exit once nothing is runnable now"),
    SL_CLI_STR('d', "durability", 'd', "normal|full", "commit durability (default normal)"),
    SL_CLI_DUR('g', "shutdown-grace", 'g', "DURATION",
               "how long running activities may finish at a stop (default 10s)"),
    SL_CLI_END,
};

static int worker_exec(sl_cli *cli, const sl_cli_args *args)
{
    size_t n_given;
    const char *const *given = sl_cli_arg_list(args, 'q', &n_given);
    if (n_given > MAX_QUEUES)
        return sl_cli_usage(cli, "at most %d task queues", MAX_QUEUES);
    const char *queues[MAX_QUEUES];
    size_t n_queues = 0;
    for (size_t i = 0; i < n_given; i++) {
        if (!*given[i])
            return sl_cli_usage(cli, "--task-queue needs a name");
        queues[n_queues++] = given[i];
    }
    long long conc = sl_cli_arg_int(args, 'c', 8);
    bool exit_idle = sl_cli_arg_has(args, 'x'), exit_drained = sl_cli_arg_has(args, 'D');
    sl_durability dur;
    if (!sl_cli_arg_durability(cli, args, &dur))
        return SL_EXIT_USAGE;
    int64_t grace = sl_cli_arg_ms(args, 'g', 10000);
    if (args->argc > 0)
        return sl_cli_usage(cli, "unexpected argument '%s'", args->argv[0]);
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
    sl_buf qlist = SL_BUF_INIT;
    for (size_t i = 0; i < n_queues; i++)
        sl_buf_printf(&qlist, "%s%s", i ? "," : "", queues[i]);
    sl_info("worker %s ready: queues=%s concurrency=%lld db=%s", sl_engine_identity(e),
            sl_buf_str(&qlist), conc, cli->db_path);
    sl_buf_free(&qlist);
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
     .exec = worker_exec,
     .opts = worker_opts,
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
