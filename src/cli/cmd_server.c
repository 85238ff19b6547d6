/* cmd_server.c - `sluice server`: serve the sluice.v1 gRPC API over the engine database. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "sluice/server.h"
#include "sluice/worker.h"
#include "sluice/workflows.h"

#define MAX_QUEUES 32

static const struct sl_opt server_opts[] = {
    SL_CLI_STR_REQ('l', "listen", 'l', "HOST:PORT", "address to serve on (port 0: a free one)"),
    SL_CLI_INT('m', "max-message-size", 0, "BYTES", 64, 1024 * 1024 * 1024,
               "largest request accepted (default 4194304)"),
    SL_CLI_STR_MULTI('q', "task-queue", 'q', "Q",
                     "also run activities of this queue here (repeatable)"),
    SL_CLI_INT('c', "concurrency", 'c', "N", 1, 4096,
               "activities run at once with --task-queue (default 8)"),
    SL_CLI_STR('d', "durability", 'd', "normal|full", "commit durability (default normal)"),
    SL_CLI_DUR('g', "shutdown-grace", 'g', "DURATION",
               "how long calls and activities may finish at a stop (default 10s)"),
    SL_CLI_END,
};

/* Everything the server runs, torn down in reverse order. */
typedef struct server_run {
    sl_engine *e;
    sl_wf_env *env;
    sl_worker *w; /* with --task-queue */
    sl_server *srv;
} server_run;

static void server_run_close(server_run *r)
{
    sl_server_free(r->srv);
    sl_engine_close(r->e);
    sl_wf_env_free(r->env);
    sl_rpc_global_cleanup();
}

static int server_exec(sl_cli *cli, const sl_cli_args *args)
{
    const char *listen = sl_cli_arg_str(args, 'l', NULL);
    size_t n_queues;
    const char *const *queues = sl_cli_arg_list(args, 'q', &n_queues);
    if (n_queues > MAX_QUEUES)
        return sl_cli_usage(cli, "at most %d task queues", MAX_QUEUES);
    for (size_t i = 0; i < n_queues; i++)
        if (!*queues[i])
            return sl_cli_usage(cli, "--task-queue needs a name");
    long long conc = sl_cli_arg_int(args, 'c', 8);
    long long max_msg = sl_cli_arg_int(args, 'm', SL_RPC_DEFAULT_MAX_MESSAGE);
    sl_durability dur;
    if (!sl_cli_arg_durability(cli, args, &dur))
        return SL_EXIT_USAGE;
    int64_t grace = sl_cli_arg_ms(args, 'g', 10000);
    if (args->argc > 0)
        return sl_cli_usage(cli, "unexpected argument '%s'", args->argv[0]);
    if (!listen)
        return sl_cli_usage(cli, "missing --listen");
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || !colon[1])
        return sl_cli_usage(cli, "--listen must be HOST:PORT");
    /* No authentication or TLS yet: serve this host only. */
    size_t host_len = (size_t)(colon - listen);
    static const char *const loopback[] = {"127.0.0.1", "localhost", "[::1]"};
    bool local = false;
    for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++)
        local = local ||
                (strlen(loopback[i]) == host_len && strncmp(listen, loopback[i], host_len) == 0);
    if (!local)
        return sl_cli_usage(cli,
                            "--listen host must be 127.0.0.1, localhost or [::1] (the API has "
                            "no authentication or TLS yet), not '%.*s'",
                            (int)host_len, listen);

    /* Signals go to this thread only (sigtimedwait below); block them before threads start. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    sl_rpc_global_init(); /* before the engine's and grpc's threads */

    server_run r = {0};
    sl_err err;
    sl_err_clear(&err);
    r.e = sl_cli_engine_open(cli, true, false, (int)dur);
    if (!r.e) {
        sl_rpc_global_cleanup();
        return SL_EXIT_FAIL;
    }
    sl_wf_env_opts eo = {.db_path = cli->db_path};
    if (sl_wf_env_new(&eo, &r.env, &err) != SL_OK) {
        server_run_close(&r);
        return sl_cli_fail_err(cli, &err);
    }
    sl_wf_env_set_engine(r.env, r.e);
    sl_engine_set_env(r.e, r.env);
    /* Workflow tasks run in the engine; activities here only for the queues given. */
    sl_code rc;
    if (n_queues > 0) {
        sl_worker_opts wo;
        sl_worker_opts_init(&wo);
        wo.queues = queues;
        wo.n_queues = n_queues;
        wo.concurrency = (int)conc;
        wo.shutdown_grace_ms = grace;
        rc = sl_worker_start(r.e, &wo, &r.w, &err);
    } else {
        static const char *const def[] = {"default"};
        rc = sl_engine_serve(r.e, def, 1, NULL, &err);
    }
    if (rc != SL_OK) {
        server_run_close(&r);
        return sl_cli_fail_err(cli, &err);
    }
    sl_server_opts so;
    sl_server_opts_init(&so);
    so.listen = listen;
    so.max_message_bytes = max_msg;
    if (sl_server_start(r.e, &so, &r.srv, &err) != SL_OK) {
        if (r.w && !sl_worker_stop(r.w))
            _Exit(SL_EXIT_FAIL);
        server_run_close(&r);
        return sl_cli_fail_err(cli, &err);
    }
    int port = sl_server_port(r.srv);
    printf("sluice server listening on %.*s:%d\n", (int)(colon - listen), listen, port);
    fflush(stdout);
    sl_info("server %s ready: listen=%.*s:%d db=%s activities=%s", sl_engine_identity(r.e),
            (int)(colon - listen), listen, port, cli->db_path, n_queues ? "local" : "none");

    int sig;
    do {
        struct timespec ts = {.tv_sec = 1, .tv_nsec = 0};
        sig = sigtimedwait(&set, NULL, &ts);
    } while (sig != SIGINT && sig != SIGTERM);
    sl_info("server %s stopping (%s)", sl_engine_identity(r.e),
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    /* In-flight calls are answered first; then the activities and the engine stop. */
    sl_server_stop(r.srv, grace);
    sl_server_free(r.srv);
    r.srv = NULL;
    if (r.w && !sl_worker_stop(r.w)) {
        sl_warn("server %s: activities still running after the grace period; exiting anyway "
                "(their leases expire and they are retried)",
                sl_engine_identity(r.e));
        _Exit(SL_EXIT_OK);
    }
    server_run_close(&r);
    sl_info("server stopped");
    return SL_EXIT_OK;
}

static const struct sl_cmd cmds[] = {
    {.name = "",
     .exec = server_exec,
     .opts = server_opts,
     .help = "Serve the Sluice gRPC API (schema/proto/sluice/v1/sluice.proto) on the database:\n"
             "workflow tasks, timers and the lease reaper run here; activities of the\n"
             "--task-queue queues too. Prints \"sluice server listening on HOST:PORT\" once\n"
             "ready. SIGINT/SIGTERM: answer the calls in flight, let running activities\n"
             "finish (up to the grace period), exit 0. See docs/server.md."},
};
const struct sl_cmd_group sl_cli_server = {"server", "serve the gRPC API", cmds, 1};
