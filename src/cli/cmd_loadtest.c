/*
 * cmd_loadtest.c - `sluice loadtest ...`: load-test a Genie space before launch.
 *
 *   loadtest genie   the notebook's scenarios (open loop), or replay of exported
 *                    conversations by simulated users (the Locust tool), with an optional
 *                    shared answer cache, statistics, CSV/JSON output and MLflow logging
 *   loadtest export  export a space's conversations to conversations.yaml (the tool's
 *                    export-conversations; wired as `sluice genie export` by the lead)
 *   loadtest http    zero-latency benchmark of the generator against one GET endpoint
 *   loadtest cache   how many answers each cache layer holds (read-only)
 *
 * Connection flags --host, --token, --profile; the rest comes from the environment,
 * ./.env and ~/.databrickscfg (docs/dbx.md). Only warnings are logged unless LOG_LEVEL
 * is set, so stderr holds just the error line on failure.
 */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "sluice/appstore.h"
#include "sluice/dbx.h"
#include "sluice/engine.h"
#include "sluice/loadtest.h"

enum {
    OPT_FIRST = 1000,
    OPT_SCENARIO,
    OPT_QUESTIONS,
    OPT_DURATION,
    OPT_WORKERS,
    OPT_QFILE,
    OPT_CONVS,
    OPT_USERS,
    OPT_SPAWN,
    OPT_RUNTIME,
    OPT_MINWAIT,
    OPT_MAXWAIT,
    OPT_SSIZE,
    OPT_SSEED,
    OPT_HEADLESS,
    OPT_SPACE,
    OPT_CACHE,
    OPT_SIM,
    OPT_CACHEDB,
    OPT_SCALE,
    OPT_OUT,
    OPT_EXPERIMENT,
    OPT_CHILDREN,
    OPT_TIMEOUT,
    OPT_POLLI,
    OPT_POLLM,
    OPT_RETRIES,
    OPT_STOPTO,
    OPT_SEED,
    OPT_LIST,
    OPT_INCLUDE_ALL,
    OPT_MAXCONV,
    OPT_FROM,
    OPT_TO,
    OPT_URL,
    OPT_CONC,
    OPT_JSON,
};

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static bool parse_double(sl_cli *cli, const char *flag, const char *s, double min, double *out)
{
    char *end;
    double v = strtod(s, &end);
    /* decimal only: strtod would also take inf, 1e400 (inf) and hex such as 0x10 */
    if (end == s || *end || !(v >= min) || !isfinite(v) || strpbrk(s, "xX")) {
        sl_cli_usage(cli, "%s must be a number >= %g, not '%s'", flag, min, s);
        return false;
    }
    *out = v;
    return true;
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* ---- loadtest genie ---- */

static void list_scenarios(void)
{
    size_t n;
    const sl_lt_scenario *sc = sl_lt_scenario_list(&n);
    printf("%-16s %9s %9s %7s  %s\n", "scenario", "questions", "duration", "workers",
           "description");
    for (size_t i = 0; i < n; i++) {
        char d[32];
        printf("%-16s %9lld %9s %7d  %s\n", sc[i].name, (long long)sc[i].questions,
               sc[i].duration_ms ? sl_duration_format(sc[i].duration_ms, d, sizeof(d))
                                 : "immediate",
               sc[i].workers, sc[i].description);
    }
}

static const struct sl_opt genie_opts[] = {
    SL_CLI_STR(OPT_SCENARIO, "scenario", 0, "NAME",
               "built-in scenario (flags override its numbers)"),
    SL_CLI_INT(OPT_QUESTIONS, "questions", 0, "N", 1, 10000000, "custom scenario: N questions"),
    SL_CLI_DUR(OPT_DURATION, "duration", 0, "D", "spread over D (0 = all at once)"),
    SL_CLI_INT(OPT_WORKERS, "workers", 0, "W", 1, 100000, "at most W questions in flight"),
    SL_CLI_STR(OPT_QFILE, "questions-file", 0, "FILE", "one question per line (default: the ten)"),
    SL_CLI_STR(OPT_CONVS, "conversations", 'c', "FILE",
               "conversations.yaml (replay, or questions)"),
    SL_CLI_INT(OPT_USERS, "users", 'u', "U", 1, 100000, "replay: simulated users (1)"),
    SL_CLI_STR(OPT_SPAWN, "spawn-rate", 'r', "R", "replay: users started per second (1)"),
    SL_CLI_DUR(OPT_RUNTIME, "run-time", 't', "D", "replay: run time (10m)"),
    SL_CLI_STR(OPT_MINWAIT, "min-wait", 0, "S", "think time minimum, seconds (GENIE_MIN_WAIT, 8)"),
    SL_CLI_STR(OPT_MAXWAIT, "max-wait", 0, "S", "think time maximum, seconds (GENIE_MAX_WAIT, 30)"),
    SL_CLI_INT(OPT_SSIZE, "sample-size", 0, "N", 1, 100000000,
               "replay a subset of N conversations"),
    SL_CLI_INT(OPT_SSEED, "sample-seed", 0, "N", 0, INT64_MAX, "seed of that subset"),
    SL_CLI_FLAG(OPT_HEADLESS, "headless", 0, "accepted for compatibility (always headless)"),
    SL_CLI_STR(OPT_SPACE, "space-id", 0, "ID", "default: the file's space, GENIE_SPACE_ID, first"),
    SL_CLI_STR(OPT_CACHE, "cache", 0, "none|lru|semantic", "answer cache (GENIE_* settings)"),
    SL_CLI_STR(OPT_SIM, "similarity", 0, "l2|cosine", "semantic similarity (default l2)"),
    SL_CLI_STR(OPT_CACHEDB, "cache-db", 0, "PATH", "cache database (default --db / SLUICE_DB)"),
    SL_CLI_STR(OPT_SCALE, "time-scale", 0, "F", "multiply every schedule time by F"),
    SL_CLI_STR(OPT_OUT, "out", 0, "DIR", "write DIR/detailed_metrics.csv and DIR/summary.json"),
    SL_CLI_STR(OPT_EXPERIMENT, "experiment", 0, "PATH", "log to MLflow (MLFLOW_TRACKING_URI)"),
    SL_CLI_INT(OPT_CHILDREN, "mlflow-children", 0, "N", 0, 100000, "per-question child runs (100)"),
    SL_CLI_DUR(OPT_TIMEOUT, "timeout", 0, "D", "per question (5m)"),
    SL_CLI_DUR(OPT_POLLI, "poll-initial", 0, "D", "first message poll (200ms)"),
    SL_CLI_DUR(OPT_POLLM, "poll-max", 0, "D", "poll backoff cap (1.5s)"),
    SL_CLI_INT(OPT_RETRIES, "max-retries", 0, "N", 0, 100, "429/503 retries per HTTP step"),
    SL_CLI_DUR(OPT_STOPTO, "stop-timeout", 0, "D",
               "grace for questions in flight at the end (30s)"),
    SL_CLI_INT(OPT_SEED, "seed", 0, "N", 0, INT64_MAX, "replay choices (default random)"),
    SL_CLI_FLAG(OPT_LIST, "list-scenarios", 0, "print the built-in scenarios and exit"),
    SL_CLI_CONN_OPT_TABLE,
    SL_CLI_END,
};

/* A number flag >= min (seconds, rates, factors); false after a usage line. */
static bool arg_double(sl_cli *cli, const sl_cli_args *args, int id, const char *flag, double min,
                       double *out)
{
    const char *v = sl_cli_arg_str(args, id, NULL);
    return !v || parse_double(cli, flag, v, min, out);
}

static int genie_exec(sl_cli *cli, const sl_cli_args *args)
{
    if (sl_cli_arg_has(args, OPT_LIST)) {
        list_scenarios();
        return SL_EXIT_OK;
    }
    sl_cli_conn conn = sl_cli_conn_from_args(args);
    const char *scenario = sl_cli_arg_str(args, OPT_SCENARIO, NULL);
    const char *qfile = sl_cli_arg_str(args, OPT_QFILE, NULL);
    const char *convs = sl_cli_arg_str(args, OPT_CONVS, NULL);
    const char *space_arg = sl_cli_arg_str(args, OPT_SPACE, NULL);
    const char *out_dir = sl_cli_arg_str(args, OPT_OUT, NULL);
    bool has_questions = sl_cli_arg_has(args, OPT_QUESTIONS);
    bool has_users = sl_cli_arg_has(args, OPT_USERS), has_spawn = sl_cli_arg_has(args, OPT_SPAWN);
    bool has_runtime = sl_cli_arg_has(args, OPT_RUNTIME);
    double spawn = 1.0, min_wait = 0, max_wait = 0, scale = 1.0;
    if (!arg_double(cli, args, OPT_SPAWN, "--spawn-rate", 1e-9, &spawn) ||
        !arg_double(cli, args, OPT_MINWAIT, "--min-wait", 0, &min_wait) ||
        !arg_double(cli, args, OPT_MAXWAIT, "--max-wait", 0, &max_wait) ||
        !arg_double(cli, args, OPT_SCALE, "--time-scale", 1e-6, &scale))
        return SL_EXIT_USAGE;
    sl_lt_cache_mode cache = SL_LT_CACHE_NONE;
    sl_lt_sim sim = SL_LT_SIM_L2;
    const char *v;
    if ((v = sl_cli_arg_str(args, OPT_CACHE, NULL)) && !sl_lt_cache_mode_parse(v, &cache))
        return sl_cli_usage(cli, "--cache must be none, lru or semantic, not '%s'", v);
    if ((v = sl_cli_arg_str(args, OPT_SIM, NULL)) && !sl_lt_sim_parse(v, &sim))
        return sl_cli_usage(cli, "--similarity must be l2 or cosine, not '%s'", v);
    if (args->argc > 0)
        return sl_cli_usage(cli, "unexpected argument '%s'", args->argv[0]);
    sl_cli_quiet_logs();

    sl_lt_opts o;
    sl_lt_opts_init(&o);
    sl_lt_plan_opts po = {
        .scenario = scenario,
        .has_questions = has_questions,
        .has_duration = sl_cli_arg_has(args, OPT_DURATION),
        .has_workers = sl_cli_arg_has(args, OPT_WORKERS),
        .questions = sl_cli_arg_int(args, OPT_QUESTIONS, 0),
        .duration_ms = sl_cli_arg_ms(args, OPT_DURATION, 0),
        .workers = (int)sl_cli_arg_int(args, OPT_WORKERS, 0),
        .questions_file = qfile,
        .conversations_file = convs,
    };
    bool scenario_mode = sl_lt_plan_is_scenario(&po);
    if (!scenario && !has_questions && !qfile && !convs)
        return sl_cli_usage(cli, "choose --scenario NAME, --questions N, --questions-file FILE "
                                 "or --conversations FILE");
    if (scenario_mode && (has_users || has_spawn || has_runtime))
        return sl_cli_usage(cli, "--users/--spawn-rate/--run-time replay conversations; they "
                                 "do not combine with --scenario/--questions");
    if (!scenario_mode && (po.has_workers || po.has_duration))
        return sl_cli_usage(cli, "--workers/--duration belong to scenarios (--scenario or "
                                 "--questions)");
    if (scenario && !sl_lt_scenario_find(scenario)) {
        size_t n;
        const sl_lt_scenario *all = sl_lt_scenario_list(&n);
        sl_buf names = SL_BUF_INIT;
        for (size_t i = 0; i < n; i++)
            sl_buf_printf(&names, "%s%s", i ? ", " : "", all[i].name);
        int urc =
            sl_cli_usage(cli, "unknown scenario '%s' (one of: %s)", scenario, sl_buf_str(&names));
        sl_buf_free(&names);
        return urc;
    }

    /* environment defaults of the Locust tool (the library's), then the flags */
    sl_err err;
    sl_err_clear(&err);
    if (sl_lt_opts_from_env(&o, &po.sample, &err) != SL_OK)
        return sl_cli_fail_err(cli, &err);
    if (sl_cli_arg_has(args, OPT_MINWAIT))
        o.min_wait_s = min_wait;
    if (sl_cli_arg_has(args, OPT_MAXWAIT))
        o.max_wait_s = max_wait;
    po.sample.size = sl_cli_arg_int(args, OPT_SSIZE, po.sample.size);
    if (sl_cli_arg_has(args, OPT_SSEED)) {
        po.sample.has_seed = true;
        po.sample.seed = (uint64_t)sl_cli_arg_int(args, OPT_SSEED, 0);
    }
    if (!scenario_mode && o.max_wait_s < o.min_wait_s)
        return sl_cli_usage(cli, "--max-wait (%g) is below --min-wait (%g)", o.max_wait_s,
                            o.min_wait_s);

    sl_lt_plan *plan = NULL;
    sl_dbx_client *cl = NULL, *ml = NULL;
    bool ml_owned = false;
    sl_lt_result *res = NULL;
    int rc = SL_EXIT_OK;
    char *space = NULL;
    if (sl_lt_plan_new(&po, &o, &plan, &err) != SL_OK) {
        rc = sl_cli_fail_err(cli, &err);
        goto out;
    }
    const sl_lt_convset *cs = sl_lt_plan_convs(plan);
    if (!scenario_mode) {
        o.users = (int)sl_cli_arg_int(args, OPT_USERS, 1);
        o.spawn_rate = spawn;
        o.run_time_ms = sl_cli_arg_ms(args, OPT_RUNTIME, 600000);
        o.seed = (uint64_t)sl_cli_arg_int(args, OPT_SEED, 0);
    }
    o.time_scale = scale;
    /* 0 keeps the default, as before */
    const struct {
        int id;
        int64_t *field;
    } durs[] = {{OPT_TIMEOUT, &o.question_timeout_ms},
                {OPT_POLLI, &o.poll_initial_ms},
                {OPT_POLLM, &o.poll_max_ms},
                {OPT_STOPTO, &o.stop_timeout_ms}};
    for (size_t i = 0; i < sizeof(durs) / sizeof(durs[0]); i++)
        if (sl_cli_arg_ms(args, durs[i].id, 0))
            *durs[i].field = sl_cli_arg_ms(args, durs[i].id, 0);
    if (o.poll_max_ms < o.poll_initial_ms)
        o.poll_max_ms = o.poll_initial_ms;
    o.max_retries = (int)sl_cli_arg_int(args, OPT_RETRIES, -1);
    if (sl_lt_cache_opts_from_env(&o.cache, &err) != SL_OK) {
        rc = sl_cli_fail_err(cli, &err);
        goto out;
    }
    o.cache.mode = cache;
    o.cache.similarity = sim;
    o.cache.db_path = sl_cli_arg_str(args, OPT_CACHEDB, cli->db_path);
    o.progress = isatty(STDOUT_FILENO) ? stdout : NULL;
    o.stop = &interrupted;

    if ((rc = sl_cli_dbx_open(cli, &conn, &cl)) != SL_EXIT_OK)
        goto out;
    const char *sp = space_arg ? space_arg : (!scenario_mode && cs) ? cs->space_id : NULL;
    if (sl_dbx_genie_space_resolve(cl, sp, NULL, &space, &err) != SL_OK) {
        rc = sl_cli_fail_err(cli, &err);
        goto out;
    }
    o.space_id = space;
    const char *experiment = sl_cli_arg_str(args, OPT_EXPERIMENT, env("MLFLOW_EXPERIMENT_NAME"));
    sl_dbx_config mcfg;
    sl_dbx_config_init(&mcfg);
    mcfg.host = conn.host;
    mcfg.token = conn.token;
    if (experiment && sl_lt_mlflow_client(cl, &mcfg, &ml, &ml_owned, &err) != SL_OK) {
        rc = sl_cli_fail_err(cli, &err);
        goto out;
    }

    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old);
    interrupted = 0;
    sl_lt_result *tmp = NULL;
    {
        /* print the schedule before the run starts */
        sl_code src;
        if (o.mode == SL_LT_MODE_SCENARIO)
            printf("Genie space %s, scenario %s\n", space, o.scenario);
        else
            printf("Genie space %s, replaying %zu conversations (%zu messages) from %s\n", space,
                   cs->n_convs, sl_lt_convset_messages(cs), convs);
        char *line = sl_lt_schedule_describe(&o);
        printf("%s\n", line);
        free(line);
        fflush(stdout);
        src = sl_lt_genie_run(cl, &o, &tmp, &err);
        sigaction(SIGINT, &old, NULL);
        if (src != SL_OK) {
            rc = sl_cli_fail_err(cli, &err);
            goto out;
        }
    }
    res = tmp;
    sl_lt_result_print(res, stdout);
    fflush(stdout);
    if (out_dir) {
        if (sl_lt_result_write(res, out_dir, &err) != SL_OK) {
            rc = sl_cli_fail_err(cli, &err);
            goto out;
        }
        printf("results: %s/detailed_metrics.csv, %s/summary.json\n", out_dir, out_dir);
    }
    if (experiment) {
        sl_lt_mlflow_opts mo = {.experiment = experiment,
                                .max_children = (int)sl_cli_arg_int(args, OPT_CHILDREN, 100)};
        char *run_id = NULL;
        if (sl_lt_mlflow_log(ml, &mo, res, &run_id, &err) != SL_OK) {
            rc = sl_cli_fail(cli, "MLflow: %s", err.msg);
            goto out;
        }
        printf("mlflow: run %s in experiment %s\n", run_id, experiment);
        free(run_id);
    }
    if (interrupted)
        rc = SL_EXIT_FAIL;
out:
    fflush(stdout);
    sl_lt_result_free(res);
    sl_lt_plan_free(plan);
    free(space);
    if (ml_owned)
        sl_dbx_client_free(ml);
    sl_dbx_client_free(cl);
    sl_dbx_thread_cleanup();
    return rc;
}

/* ---- loadtest export ---- */

const struct sl_opt sl_cli_export_opts[] = {
    SL_CLI_STR_REQ(OPT_SPACE, "space-id", 0, "ID", "the Genie space"),
    SL_CLI_FLAG(OPT_INCLUDE_ALL, "include-all", 0, "every user's conversations, not only yours"),
    SL_CLI_INT(OPT_MAXCONV, "max-conversations", 0, "N", 1, 100000000, "at most N conversations"),
    SL_CLI_STR(OPT_FROM, "from", 0, "T", "created at or after T (7d, 24h, ISO 8601, YYYY-MM-DD)"),
    SL_CLI_STR(OPT_TO, "to", 0, "T", "created at or before T"),
    SL_CLI_STR('o', "output", 'o', "FILE", "where to write (default conversations.yaml)"),
    SL_CLI_CONN_OPT_TABLE,
    SL_CLI_END,
};

int sl_cli_genie_export_exec(sl_cli *cli, const sl_cli_args *args)
{
    sl_cli_conn f = sl_cli_conn_from_args(args);
    sl_lt_export_opts o;
    sl_lt_export_opts_init(&o);
    o.output_path = sl_cli_arg_str(args, 'o', "conversations.yaml");
    o.space_id = sl_cli_arg_str(args, OPT_SPACE, NULL);
    o.include_all = sl_cli_arg_has(args, OPT_INCLUDE_ALL);
    o.max_conversations = (size_t)sl_cli_arg_int(args, OPT_MAXCONV, (long long)o.max_conversations);
    const char *from = sl_cli_arg_str(args, OPT_FROM, NULL),
               *to = sl_cli_arg_str(args, OPT_TO, NULL);
    if (args->argc > 0)
        return sl_cli_usage(cli, "unexpected argument '%s'", args->argv[0]);
    if (!o.space_id)
        return sl_cli_usage(cli, "--space-id is required");
    sl_err err;
    sl_err_clear(&err);
    int64_t now = sl_now_ms();
    if (from) {
        if (sl_lt_time_arg_parse(from, now, &o.from_ms, &err) != SL_OK)
            return sl_cli_usage(cli, "--from: %s", err.msg);
        o.has_from = true;
    }
    if (to) {
        if (sl_lt_time_arg_parse(to, now, &o.to_ms, &err) != SL_OK)
            return sl_cli_usage(cli, "--to: %s", err.msg);
        o.has_to = true;
    }
    sl_cli_quiet_logs();
    sl_dbx_client *cl = NULL;
    int rc = sl_cli_dbx_open(cli, &f, &cl);
    if (rc != SL_EXIT_OK)
        return rc;
    sl_lt_convset *cs = NULL;
    if (sl_loadtest_export(cl, &o, &cs, &err) != SL_OK) {
        rc = sl_cli_fail(cli, "Export failed: %s", err.msg);
    } else {
        printf("Exported %zu conversations with %zu messages to %s\n", cs->n_convs,
               sl_lt_convset_messages(cs), o.output_path);
    }
    sl_lt_convset_free(cs);
    sl_dbx_client_free(cl);
    sl_dbx_thread_cleanup();
    return rc;
}

/* ---- loadtest http ---- */

static const struct sl_opt http_opts[] = {
    SL_CLI_STR(OPT_URL, "url", 0, "URL", "the endpoint (or the first argument)"),
    SL_CLI_INT(OPT_CONC, "concurrency", 'c', "N", 1, 100000, "keep-alive connections"),
    SL_CLI_DUR(OPT_DURATION, "duration", 'd', "D", "how long to run"),
    SL_CLI_STR_MULTI('H', "header", 'H', "'Name: value'", "extra request header (repeatable)"),
    SL_CLI_DUR(OPT_TIMEOUT, "timeout", 0, "D", "per request (10s)"),
    SL_CLI_FLAG(OPT_JSON, "json", 0, "print the result as one JSON object"),
    SL_CLI_END,
};

static int http_exec(sl_cli *cli, const sl_cli_args *args)
{
    sl_lt_http_opts o;
    sl_lt_http_opts_init(&o);
    o.url = sl_cli_arg_str(args, OPT_URL, NULL);
    o.concurrency = (int)sl_cli_arg_int(args, OPT_CONC, o.concurrency);
    o.duration_ms = sl_cli_arg_ms(args, OPT_DURATION, o.duration_ms);
    o.timeout_ms = sl_cli_arg_ms(args, OPT_TIMEOUT, o.timeout_ms);
    bool json = sl_cli_arg_has(args, OPT_JSON);
    size_t n_hdrs;
    const char *const *hdrs = sl_cli_arg_list(args, 'H', &n_hdrs);
    for (size_t i = 0; i < n_hdrs; i++)
        if (!strchr(hdrs[i], ':'))
            return sl_cli_usage(cli, "-H needs 'Name: value', not '%s'", hdrs[i]);
    int pos = 0, rc = SL_EXIT_OK;
    if (pos < args->argc && !o.url)
        o.url = args->argv[pos++];
    if (pos < args->argc)
        return sl_cli_usage(cli, "unexpected argument '%s'", args->argv[pos]);
    if (!o.url)
        return sl_cli_usage(cli, "--url is required");
    if (o.duration_ms <= 0)
        return sl_cli_usage(cli, "--duration must be > 0");
    sl_cli_quiet_logs();
    o.headers = hdrs;
    o.n_headers = n_hdrs;
    o.progress = isatty(STDOUT_FILENO) && !json ? stdout : NULL;
    o.stop = &interrupted;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old);
    sl_lt_http_result r;
    sl_err err;
    sl_err_clear(&err);
    sl_code src = sl_lt_http_run(&o, &r, &err);
    sigaction(SIGINT, &old, NULL);
    if (src != SL_OK)
        return sl_cli_fail_err(cli, &err);
    if (json) {
        json_t *j = json_pack(
            "{s:s, s:i, s:f, s:I, s:f, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I, "
            "s:I, s:I, s:f}, s:f, s:f, s:i}",
            "url", o.url, "concurrency", o.concurrency, "seconds", r.seconds, "requests",
            (json_int_t)r.requests, "requests_per_s", r.requests_per_s, "errors",
            (json_int_t)r.errors, "non_2xx", (json_int_t)r.non_2xx, "bytes", (json_int_t)r.bytes,
            "latency_us", "min", (json_int_t)r.min_us, "p50", (json_int_t)r.p50_us, "p90",
            (json_int_t)r.p90_us, "p99", (json_int_t)r.p99_us, "p99_9", (json_int_t)r.p999_us,
            "max", (json_int_t)r.max_us, "mean", r.mean_us, "cpu_s", r.cpu_s, "cpu_us_per_request",
            r.cpu_us_per_request, "max_in_flight", r.max_in_flight);
        sl_cli_print_json(j);
        json_decref(j);
    } else {
        printf("%s: %d connections, %.2fs\n", o.url, o.concurrency, r.seconds);
        printf("requests: %llu (%.1f/s), errors %llu, non-2xx %llu, %.1f MB read\n",
               (unsigned long long)r.requests, r.requests_per_s, (unsigned long long)r.errors,
               (unsigned long long)r.non_2xx, (double)r.bytes / 1e6);
        printf("latency (ms): min %.3f  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  "
               "mean %.3f\n",
               (double)r.min_us / 1e3, (double)r.p50_us / 1e3, (double)r.p90_us / 1e3,
               (double)r.p99_us / 1e3, (double)r.p999_us / 1e3, (double)r.max_us / 1e3,
               r.mean_us / 1e3);
        printf("generator cpu: %.2fs user+sys, %.1f us per request; peak in flight %d\n", r.cpu_s,
               r.cpu_us_per_request, r.max_in_flight);
    }
    if (interrupted)
        rc = SL_EXIT_FAIL;
    return rc;
}

struct cache_count {
    const char *space;
    int64_t n_lru, n_semantic;
};

static sl_code cache_count_fn(sl_store *st, void *arg, sl_err *err)
{
    struct cache_count *c = arg;
    return sl_appstore_genie_cache_count(st, c->space, &c->n_lru, &c->n_semantic, err);
}

static const struct sl_opt cache_opts[] = {
    SL_CLI_STR('d', "cache-db", 0, "PATH", "the cache database (default --db / SLUICE_DB)"),
    SL_CLI_STR('s', "space-id", 0, "ID", "one space (default all)"),
    SL_CLI_OUT((1u << SL_OUT_TABLE) | (1u << SL_OUT_JSON), "table (default) or json"),
    SL_CLI_END,
};

static int cache_exec(sl_cli *cli, const sl_cli_args *args)
{
    struct cache_count cc = {.space = sl_cli_arg_str(args, 's', NULL)};
    sl_out_fmt fmt = (sl_out_fmt)sl_cli_arg_fmt(args, 'o', SL_OUT_TABLE);
    /* the cache database is a Sluice database */
    cli->db_path = sl_cli_arg_str(args, 'd', cli->db_path);
    if (args->argc > 0)
        return sl_cli_usage(cli, "unexpected argument '%s'", args->argv[0]);
    sl_engine *e = sl_cli_engine_open(cli, false, true, SL_DURABILITY_NORMAL);
    if (!e)
        return SL_EXIT_FAIL;
    sl_err err;
    sl_err_clear(&err);
    sl_code rc = sl_engine_read(e, cache_count_fn, &cc, &err);
    sl_engine_close(e);
    if (rc != SL_OK)
        return sl_cli_fail_err(cli, &err);
    if (fmt == SL_OUT_JSON) {
        json_t *j = json_pack("{s:I,s:I}", "lru_entries", (json_int_t)cc.n_lru, "semantic_entries",
                              (json_int_t)cc.n_semantic);
        sl_cli_print_json(j);
        json_decref(j);
    } else {
        printf("lru entries:      %lld\nsemantic entries: %lld\n", (long long)cc.n_lru,
               (long long)cc.n_semantic);
    }
    return SL_EXIT_OK;
}

static const struct sl_cmd cmds[] = {
    {.name = "genie",
     .exec = genie_exec,
     .opts = genie_opts,
     .usage = "loadtest genie (--scenario NAME | --questions N [--duration D] [--workers W] | "
              "--conversations FILE [--users U --spawn-rate R --run-time D]) [options]",
     .help =
         "Load-test a Genie space. Scenarios (open loop: question i is sent at t0 + i*D/N, or as\n"
         "soon as one of W workers frees): single_test, light_load, moderate_load, high_load,\n"
         "stress_test, burst_test, sustained_load (--list-scenarios). Replay: U users replay\n"
         "random conversations from FILE, waiting U(min/2, max/2) between messages and\n"
         "U(min, max) between conversations (GENIE_MIN_WAIT/GENIE_MAX_WAIT, 8/30 s).\n"
         "Custom scenario: --questions N --duration D --workers W. --time-scale 0.1 runs the\n"
         "schedule 10x faster; --cache and the GENIE_* settings: docs/loadtest.md."},
    {.name = "export",
     .exec = sl_cli_genie_export_exec,
     .opts = sl_cli_export_opts,
     .usage = "loadtest export --space-id ID [--include-all] [--max-conversations N] "
              "[--from T] [--to T] [-o conversations.yaml]",
     .help = "Export a Genie space's conversations (messages with content, by time) to YAML in\n"
             "the format of the genie-simulation tool. --from/--to: 7d, 24h, 30m, 1w, ISO 8601\n"
             "or YYYY-MM-DD (inclusive, on the conversation's creation time)."},
    {.name = "http",
     .exec = http_exec,
     .opts = http_opts,
     .usage = "loadtest http --url URL [--concurrency N] [--duration D] [-H 'Name: value']... "
              "[--timeout D] [--json]",
     .help = "Zero-latency benchmark: N keep-alive connections GET URL back to back for D;\n"
             "reports requests/s, latency percentiles and generator CPU per request."},
    {.name = "cache",
     .exec = cache_exec,
     .opts = cache_opts,
     .usage = "loadtest cache [--cache-db PATH] [--space-id ID] [-o table|json]",
     .help = "How many answers the cache holds in its exact (LRU) and semantic layers, for one\n"
             "space or all; read-only. --cache-db as for 'loadtest genie' (default --db /\n"
             "SLUICE_DB). -o json: {\"lru_entries\": N, \"semantic_entries\": M}."},
};

const struct sl_cmd_group sl_cli_loadtest = {
    .name = "loadtest",
    .summary = "load-test a Genie space (scenarios, replay, cache) or an HTTP endpoint",
    .cmds = cmds,
    .n_cmds = sizeof(cmds) / sizeof(cmds[0]),
};
