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

/* ---- MLflow client: MLFLOW_TRACKING_URI = databricks[://profile] | http(s)://... ---- */

static int mlflow_client(sl_cli *cli, const sl_cli_conn *f, sl_dbx_client *workspace,
                         sl_dbx_client **out, bool *owned)
{
    const char *uri = env("MLFLOW_TRACKING_URI");
    *owned = false;
    if (!uri || strcmp(uri, "databricks") == 0) {
        *out = workspace;
        return SL_EXIT_OK;
    }
    sl_err err;
    sl_err_clear(&err);
    if (strncmp(uri, "databricks://", 13) == 0) {
        sl_cli_conn g = *f;
        g.profile = uri + 13;
        *owned = true;
        return sl_cli_dbx_open(cli, &g, out);
    }
    if (strncmp(uri, "http://", 7) != 0 && strncmp(uri, "https://", 8) != 0)
        return sl_cli_fail(cli,
                           "MLFLOW_TRACKING_URI '%s' is not supported (use databricks, "
                           "databricks://PROFILE or an http(s) URL)",
                           uri);
    sl_dbx_settings s;
    sl_dbx_settings_init(&s);
    if (sl_dbx_host_normalize(uri, &s.host, &err) != SL_OK)
        return sl_cli_fail_err(cli, &err);
    const char *tok = env("MLFLOW_TRACKING_TOKEN");
    const sl_dbx_settings *ws = sl_dbx_client_settings(workspace);
    s.auth = SL_DBX_AUTH_PAT;
    s.token = sl_xstrdup(tok ? tok : ws->token ? ws->token : "unused");
    s.retry = ws->retry;
    sl_code rc = sl_dbx_client_new(&s, out, &err);
    sl_dbx_settings_cleanup(&s);
    if (rc != SL_OK)
        return sl_cli_fail_err(cli, &err);
    *owned = true;
    return SL_EXIT_OK;
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

typedef struct genie_args {
    sl_cli_conn conn;
    const char *scenario, *qfile, *convs, *space, *cache_db, *out, *experiment;
    long long questions, workers, users, sample_size, sample_seed, seed, max_retries, children;
    bool has_questions, has_workers, has_duration, has_users, has_spawn, has_runtime,
        has_sample_seed;
    int64_t duration_ms, run_time_ms, timeout_ms, poll_i, poll_m, stop_to;
    double spawn, min_wait, max_wait, scale;
    bool has_min, has_max;
    sl_lt_cache_mode cache;
    sl_lt_sim sim;
} genie_args;

static int genie_parse(sl_cli *cli, int argc, char **argv, genie_args *a)
{
    static const struct option longopts[] = {
        SL_CLI_CONN_OPTS,
        {"scenario", required_argument, NULL, OPT_SCENARIO},
        {"questions", required_argument, NULL, OPT_QUESTIONS},
        {"duration", required_argument, NULL, OPT_DURATION},
        {"workers", required_argument, NULL, OPT_WORKERS},
        {"questions-file", required_argument, NULL, OPT_QFILE},
        {"conversations", required_argument, NULL, OPT_CONVS},
        {"users", required_argument, NULL, OPT_USERS},
        {"spawn-rate", required_argument, NULL, OPT_SPAWN},
        {"run-time", required_argument, NULL, OPT_RUNTIME},
        {"min-wait", required_argument, NULL, OPT_MINWAIT},
        {"max-wait", required_argument, NULL, OPT_MAXWAIT},
        {"sample-size", required_argument, NULL, OPT_SSIZE},
        {"sample-seed", required_argument, NULL, OPT_SSEED},
        {"headless", no_argument, NULL, OPT_HEADLESS},
        {"space-id", required_argument, NULL, OPT_SPACE},
        {"cache", required_argument, NULL, OPT_CACHE},
        {"similarity", required_argument, NULL, OPT_SIM},
        {"cache-db", required_argument, NULL, OPT_CACHEDB},
        {"time-scale", required_argument, NULL, OPT_SCALE},
        {"out", required_argument, NULL, OPT_OUT},
        {"experiment", required_argument, NULL, OPT_EXPERIMENT},
        {"mlflow-children", required_argument, NULL, OPT_CHILDREN},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"poll-initial", required_argument, NULL, OPT_POLLI},
        {"poll-max", required_argument, NULL, OPT_POLLM},
        {"max-retries", required_argument, NULL, OPT_RETRIES},
        {"stop-timeout", required_argument, NULL, OPT_STOPTO},
        {"seed", required_argument, NULL, OPT_SEED},
        {"list-scenarios", no_argument, NULL, OPT_LIST},
        {NULL, 0, NULL, 0}};
    int c;
    while ((c = sl_cli_getopt(cli, argc, argv, "c:u:r:t:", longopts)) != -1) {
        if (c == '?')
            return SL_EXIT_USAGE;
        if (sl_cli_conn_opt(&a->conn, c))
            continue;
        bool ok = true;
        switch (c) {
        case OPT_SCENARIO:
            a->scenario = optarg;
            break;
        case OPT_QUESTIONS:
            ok = sl_cli_parse_int(cli, "--questions", optarg, 1, 10000000, &a->questions);
            a->has_questions = true;
            break;
        case OPT_DURATION:
            ok = sl_cli_parse_duration(cli, "--duration", optarg, &a->duration_ms);
            a->has_duration = true;
            break;
        case OPT_WORKERS:
            ok = sl_cli_parse_int(cli, "--workers", optarg, 1, 100000, &a->workers);
            a->has_workers = true;
            break;
        case OPT_QFILE:
            a->qfile = optarg;
            break;
        case 'c':
        case OPT_CONVS:
            a->convs = optarg;
            break;
        case 'u':
        case OPT_USERS:
            ok = sl_cli_parse_int(cli, "--users", optarg, 1, 100000, &a->users);
            a->has_users = true;
            break;
        case 'r':
        case OPT_SPAWN:
            ok = parse_double(cli, "--spawn-rate", optarg, 1e-9, &a->spawn);
            a->has_spawn = true;
            break;
        case 't':
        case OPT_RUNTIME:
            ok = sl_cli_parse_duration(cli, "--run-time", optarg, &a->run_time_ms);
            a->has_runtime = true;
            break;
        case OPT_MINWAIT:
            ok = parse_double(cli, "--min-wait", optarg, 0, &a->min_wait);
            a->has_min = true;
            break;
        case OPT_MAXWAIT:
            ok = parse_double(cli, "--max-wait", optarg, 0, &a->max_wait);
            a->has_max = true;
            break;
        case OPT_SSIZE:
            ok = sl_cli_parse_int(cli, "--sample-size", optarg, 1, 100000000, &a->sample_size);
            break;
        case OPT_SSEED:
            ok = sl_cli_parse_int(cli, "--sample-seed", optarg, 0, INT64_MAX, &a->sample_seed);
            a->has_sample_seed = true;
            break;
        case OPT_HEADLESS:
            break; /* always headless: there is no web UI */
        case OPT_SPACE:
            a->space = optarg;
            break;
        case OPT_CACHE:
            if (!sl_lt_cache_mode_parse(optarg, &a->cache))
                return sl_cli_usage(cli, "--cache must be none, lru or semantic, not '%s'", optarg);
            break;
        case OPT_SIM:
            if (!sl_lt_sim_parse(optarg, &a->sim))
                return sl_cli_usage(cli, "--similarity must be l2 or cosine, not '%s'", optarg);
            break;
        case OPT_CACHEDB:
            a->cache_db = optarg;
            break;
        case OPT_SCALE:
            ok = parse_double(cli, "--time-scale", optarg, 1e-6, &a->scale);
            break;
        case OPT_OUT:
            a->out = optarg;
            break;
        case OPT_EXPERIMENT:
            a->experiment = optarg;
            break;
        case OPT_CHILDREN:
            ok = sl_cli_parse_int(cli, "--mlflow-children", optarg, 0, 100000, &a->children);
            break;
        case OPT_TIMEOUT:
            ok = sl_cli_parse_duration(cli, "--timeout", optarg, &a->timeout_ms);
            break;
        case OPT_POLLI:
            ok = sl_cli_parse_duration(cli, "--poll-initial", optarg, &a->poll_i);
            break;
        case OPT_POLLM:
            ok = sl_cli_parse_duration(cli, "--poll-max", optarg, &a->poll_m);
            break;
        case OPT_RETRIES:
            ok = sl_cli_parse_int(cli, "--max-retries", optarg, 0, 100, &a->max_retries);
            break;
        case OPT_STOPTO:
            ok = sl_cli_parse_duration(cli, "--stop-timeout", optarg, &a->stop_to);
            break;
        case OPT_SEED:
            ok = sl_cli_parse_int(cli, "--seed", optarg, 0, INT64_MAX, &a->seed);
            break;
        case OPT_LIST:
            list_scenarios();
            return -1;
        default:
            return sl_cli_usage(cli, "unexpected option");
        }
        if (!ok)
            return SL_EXIT_USAGE;
    }
    if (optind < argc)
        return sl_cli_usage(cli, "unexpected argument '%s'", argv[optind]);
    return SL_EXIT_OK;
}

static int genie_run(sl_cli *cli, int argc, char **argv)
{
    genie_args a;
    memset(&a, 0, sizeof(a));
    a.max_retries = -1;
    a.children = 100;
    a.scale = 1.0;
    a.cache = SL_LT_CACHE_NONE;
    a.sim = SL_LT_SIM_L2;
    int prc = genie_parse(cli, argc, argv, &a);
    if (prc < 0)
        return SL_EXIT_OK;
    if (prc != SL_EXIT_OK)
        return prc;
    sl_cli_quiet_logs();

    sl_lt_opts o;
    sl_lt_opts_init(&o);
    bool scenario_mode = a.scenario || a.has_questions || a.qfile || !a.convs;
    if (!a.scenario && !a.has_questions && !a.qfile && !a.convs)
        return sl_cli_usage(cli, "choose --scenario NAME, --questions N, --questions-file FILE "
                                 "or --conversations FILE");
    if (scenario_mode && (a.has_users || a.has_spawn || a.has_runtime))
        return sl_cli_usage(cli, "--users/--spawn-rate/--run-time replay conversations; they "
                                 "do not combine with --scenario/--questions");
    if (!scenario_mode && (a.has_workers || a.has_duration))
        return sl_cli_usage(cli, "--workers/--duration belong to scenarios (--scenario or "
                                 "--questions)");

    /* environment defaults of the Locust tool */
    sl_err err;
    sl_err_clear(&err);
    const char *mw = env("GENIE_MIN_WAIT"), *xw = env("GENIE_MAX_WAIT");
    if (!a.has_min && mw && !parse_double(cli, "GENIE_MIN_WAIT", mw, 0, &a.min_wait))
        return SL_EXIT_USAGE;
    if (!a.has_max && xw && !parse_double(cli, "GENIE_MAX_WAIT", xw, 0, &a.max_wait))
        return SL_EXIT_USAGE;
    o.min_wait_s = a.has_min || mw ? a.min_wait : 8;
    o.max_wait_s = a.has_max || xw ? a.max_wait : 30;
    if (!a.sample_size && env("GENIE_SAMPLE_SIZE") &&
        !sl_cli_parse_int(cli, "GENIE_SAMPLE_SIZE", env("GENIE_SAMPLE_SIZE"), 1, 100000000,
                          &a.sample_size))
        return SL_EXIT_USAGE;
    if (!a.has_sample_seed && env("GENIE_SAMPLE_SEED")) {
        if (!sl_cli_parse_int(cli, "GENIE_SAMPLE_SEED", env("GENIE_SAMPLE_SEED"), 0, INT64_MAX,
                              &a.sample_seed))
            return SL_EXIT_USAGE;
        a.has_sample_seed = true;
    }

    /* questions */
    char **pool = NULL;
    size_t n_pool = 0;
    sl_lt_convset *cs = NULL;
    sl_dbx_client *cl = NULL, *ml = NULL;
    bool ml_owned = false;
    sl_lt_result *res = NULL;
    int rc = SL_EXIT_OK;
    char *space = NULL;
    const char **flat = NULL;
    if (a.qfile && sl_lt_questions_load(a.qfile, &pool, &n_pool, &err) != SL_OK) {
        rc = sl_cli_fail_err(cli, &err);
        goto out;
    }
    if (a.convs) {
        if (sl_lt_convset_load(a.convs, &cs, &err) != SL_OK) {
            rc = sl_cli_fail_err(cli, &err);
            goto out;
        }
        if (cs->n_convs == 0) {
            rc = sl_cli_fail(cli, "%s holds no conversation with messages", a.convs);
            goto out;
        }
        if (a.sample_size > 0) {
            size_t before = cs->n_convs;
            sl_lt_convset_sample(cs, (size_t)a.sample_size,
                                 a.has_sample_seed ? (uint64_t)a.sample_seed : sl_rand_u64());
            if (cs->n_convs < before)
                sl_info("Sampled %zu of %zu conversations for reuse during the simulation",
                        cs->n_convs, before);
        }
    }
    if (scenario_mode) {
        o.mode = SL_LT_MODE_SCENARIO;
        const sl_lt_scenario *sc = NULL;
        if (a.scenario && !(sc = sl_lt_scenario_find(a.scenario))) {
            size_t n;
            const sl_lt_scenario *all = sl_lt_scenario_list(&n);
            char names[256] = "";
            for (size_t i = 0; i < n; i++) {
                strcat(names, i ? ", " : "");
                strcat(names, all[i].name);
            }
            rc = sl_cli_usage(cli, "unknown scenario '%s' (one of: %s)", a.scenario, names);
            goto out;
        }
        o.scenario = sc ? sc->name : "custom";
        o.questions = sc ? sc->questions : 0;
        o.duration_ms = sc ? sc->duration_ms : 0;
        o.workers = sc ? sc->workers : 10;
        if (a.has_questions)
            o.questions = a.questions;
        if (a.has_duration)
            o.duration_ms = a.duration_ms;
        if (a.has_workers)
            o.workers = (int)a.workers;
        if (!sc && !a.has_questions)
            o.questions = pool ? (int64_t)n_pool : (int64_t)(cs ? sl_lt_convset_messages(cs) : 0);
        if (pool) {
            o.pool = (const char *const *)pool;
            o.n_pool = n_pool;
        } else if (cs) { /* the conversations' messages, in file order */
            size_t n = sl_lt_convset_messages(cs), k = 0;
            flat = sl_xcalloc(n + 1, sizeof(*flat));
            for (size_t i = 0; i < cs->n_convs; i++)
                for (size_t j = 0; j < cs->convs[i].n_msgs; j++)
                    flat[k++] = cs->convs[i].msgs[j].content;
            o.pool = flat;
            o.n_pool = n;
        }
    } else {
        o.mode = SL_LT_MODE_REPLAY;
        o.scenario = "replay";
        o.convs = cs;
        o.users = a.has_users ? (int)a.users : 1;
        o.spawn_rate = a.has_spawn ? a.spawn : 1.0;
        o.run_time_ms = a.has_runtime ? a.run_time_ms : 600000;
        o.seed = (uint64_t)a.seed;
        if (o.max_wait_s < o.min_wait_s) {
            rc = sl_cli_usage(cli, "--max-wait (%g) is below --min-wait (%g)", o.max_wait_s,
                              o.min_wait_s);
            goto out;
        }
    }
    o.time_scale = a.scale;
    if (a.timeout_ms)
        o.question_timeout_ms = a.timeout_ms;
    if (a.poll_i)
        o.poll_initial_ms = a.poll_i;
    if (a.poll_m)
        o.poll_max_ms = a.poll_m;
    if (o.poll_max_ms < o.poll_initial_ms)
        o.poll_max_ms = o.poll_initial_ms;
    if (a.stop_to)
        o.stop_timeout_ms = a.stop_to;
    o.max_retries = (int)a.max_retries;
    if (sl_lt_cache_opts_from_env(&o.cache, &err) != SL_OK) {
        rc = sl_cli_fail_err(cli, &err);
        goto out;
    }
    o.cache.mode = a.cache;
    o.cache.similarity = a.sim;
    o.cache.db_path = a.cache_db ? a.cache_db : cli->db_path;
    o.progress = isatty(STDOUT_FILENO) ? stdout : NULL;
    o.stop = &interrupted;

    if ((rc = sl_cli_dbx_open(cli, &a.conn, &cl)) != SL_EXIT_OK)
        goto out;
    const char *sp = a.space ? a.space : (!scenario_mode && cs) ? cs->space_id : NULL;
    if (sl_dbx_genie_space_resolve(cl, sp, NULL, &space, &err) != SL_OK) {
        rc = sl_cli_fail_err(cli, &err);
        goto out;
    }
    o.space_id = space;
    const char *experiment = a.experiment ? a.experiment : env("MLFLOW_EXPERIMENT_NAME");
    if (experiment && (rc = mlflow_client(cli, &a.conn, cl, &ml, &ml_owned)) != SL_EXIT_OK)
        goto out;

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
                   cs->n_convs, sl_lt_convset_messages(cs), a.convs);
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
    if (a.out) {
        if (sl_lt_result_write(res, a.out, &err) != SL_OK) {
            rc = sl_cli_fail_err(cli, &err);
            goto out;
        }
        printf("results: %s/detailed_metrics.csv, %s/summary.json\n", a.out, a.out);
    }
    if (experiment) {
        sl_lt_mlflow_opts mo = {.experiment = experiment, .max_children = (int)a.children};
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
    sl_lt_strv_free(pool);
    free(flat);
    sl_lt_convset_free(cs);
    free(space);
    if (ml_owned)
        sl_dbx_client_free(ml);
    sl_dbx_client_free(cl);
    sl_dbx_thread_cleanup();
    return rc;
}

/* ---- loadtest export ---- */

int sl_cli_genie_export_run(sl_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        SL_CLI_CONN_OPTS,
        {"space-id", required_argument, NULL, OPT_SPACE},
        {"include-all", no_argument, NULL, OPT_INCLUDE_ALL},
        {"max-conversations", required_argument, NULL, OPT_MAXCONV},
        {"from", required_argument, NULL, OPT_FROM},
        {"to", required_argument, NULL, OPT_TO},
        {"output", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0}};
    sl_cli_conn f = {0};
    sl_lt_export_opts o;
    sl_lt_export_opts_init(&o);
    o.output_path = "conversations.yaml";
    const char *from = NULL, *to = NULL;
    int c;
    while ((c = sl_cli_getopt(cli, argc, argv, "o:", longopts)) != -1) {
        if (c == '?')
            return SL_EXIT_USAGE;
        if (sl_cli_conn_opt(&f, c))
            continue;
        long long v;
        switch (c) {
        case OPT_SPACE:
            o.space_id = optarg;
            break;
        case OPT_INCLUDE_ALL:
            o.include_all = true;
            break;
        case OPT_MAXCONV:
            if (!sl_cli_parse_int(cli, "--max-conversations", optarg, 1, 100000000, &v))
                return SL_EXIT_USAGE;
            o.max_conversations = (size_t)v;
            break;
        case OPT_FROM:
            from = optarg;
            break;
        case OPT_TO:
            to = optarg;
            break;
        case 'o':
            o.output_path = optarg;
            break;
        default:
            return sl_cli_usage(cli, "unexpected option");
        }
    }
    if (optind < argc)
        return sl_cli_usage(cli, "unexpected argument '%s'", argv[optind]);
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

static int http_run(sl_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{"url", required_argument, NULL, OPT_URL},
                                             {"concurrency", required_argument, NULL, OPT_CONC},
                                             {"duration", required_argument, NULL, OPT_DURATION},
                                             {"header", required_argument, NULL, 'H'},
                                             {"timeout", required_argument, NULL, OPT_TIMEOUT},
                                             {"json", no_argument, NULL, OPT_JSON},
                                             {NULL, 0, NULL, 0}};
    sl_lt_http_opts o;
    sl_lt_http_opts_init(&o);
    const char **hdrs = sl_xcalloc((size_t)argc + 1, sizeof(*hdrs));
    size_t n_hdrs = 0;
    bool json = false;
    int c;
    long long v;
    int rc = SL_EXIT_OK;
    while ((c = sl_cli_getopt(cli, argc, argv, "H:c:d:", longopts)) != -1) {
        bool ok = true;
        switch (c) {
        case '?':
            ok = false;
            break;
        case OPT_URL:
            o.url = optarg;
            break;
        case 'c':
        case OPT_CONC:
            ok = sl_cli_parse_int(cli, "--concurrency", optarg, 1, 100000, &v);
            o.concurrency = (int)v;
            break;
        case 'd':
        case OPT_DURATION:
            ok = sl_cli_parse_duration(cli, "--duration", optarg, &o.duration_ms);
            break;
        case 'H':
            if (!strchr(optarg, ':')) {
                sl_cli_usage(cli, "-H needs 'Name: value', not '%s'", optarg);
                ok = false;
            }
            hdrs[n_hdrs++] = optarg;
            break;
        case OPT_TIMEOUT:
            ok = sl_cli_parse_duration(cli, "--timeout", optarg, &o.timeout_ms);
            break;
        case OPT_JSON:
            json = true;
            break;
        default:
            ok = false;
            sl_cli_usage(cli, "unexpected option");
        }
        if (!ok) {
            free(hdrs);
            return SL_EXIT_USAGE;
        }
    }
    if (optind < argc && !o.url)
        o.url = argv[optind++];
    if (optind < argc) {
        free(hdrs);
        return sl_cli_usage(cli, "unexpected argument '%s'", argv[optind]);
    }
    if (!o.url) {
        free(hdrs);
        return sl_cli_usage(cli, "--url is required");
    }
    if (o.duration_ms <= 0) {
        free(hdrs);
        return sl_cli_usage(cli, "--duration must be > 0");
    }
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
    free(hdrs);
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

static int cache_run(sl_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"cache-db", required_argument, NULL, 'd'},
                                         {"space-id", required_argument, NULL, 's'},
                                         {"output", required_argument, NULL, 'o'},
                                         {NULL, 0, NULL, 0}};
    struct cache_count cc = {0};
    sl_out_fmt fmt = SL_OUT_TABLE;
    int c;
    while ((c = sl_cli_getopt(cli, argc, argv, "o:", opts)) != -1) {
        if (c == 'd')
            cli->db_path = optarg; /* the cache database is a Sluice database */
        else if (c == 's')
            cc.space = optarg;
        else if (c != 'o' || !sl_cli_parse_output(cli, optarg,
                                                  (1u << SL_OUT_TABLE) | (1u << SL_OUT_JSON), &fmt))
            return SL_EXIT_USAGE;
    }
    if (optind < argc)
        return sl_cli_usage(cli, "unexpected argument '%s'", argv[optind]);
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
     .run = genie_run,
     .usage = "loadtest genie (--scenario NAME | --questions N [--duration D] [--workers W] | "
              "--conversations FILE [--users U --spawn-rate R --run-time D]) [options]",
     .help =
         "Load-test a Genie space. Scenarios (open loop: question i is sent at t0 + i*D/N, or as\n"
         "soon as one of W workers frees): single_test, light_load, moderate_load, high_load,\n"
         "stress_test, burst_test, sustained_load (--list-scenarios). Replay: U users replay\n"
         "random conversations from FILE, waiting U(min/2, max/2) between messages and\n"
         "U(min, max) between conversations (GENIE_MIN_WAIT/GENIE_MAX_WAIT, 8/30 s).\n"
         "\n"
         "  --scenario NAME            built-in scenario (flags below override its numbers)\n"
         "  --questions N --duration D --workers W   custom scenario (D 0 = all at once)\n"
         "  --questions-file FILE      one question per line (default: the notebook's ten)\n"
         "  -c, --conversations FILE   conversations.yaml (replay, or questions for scenarios)\n"
         "  -u, --users U  -r, --spawn-rate R  -t, --run-time D   replay shape (1, 1/s, 10m)\n"
         "  --min-wait S --max-wait S  think times in seconds\n"
         "  --sample-size N --sample-seed N   replay a deterministic subset of conversations\n"
         "  --space-id ID              default: the file's space, GENIE_SPACE_ID, first space\n"
         "  --cache none|lru|semantic  answer cache (GENIE_* settings, docs/loadtest.md)\n"
         "  --similarity l2|cosine     semantic similarity (default l2: 1/(1+distance))\n"
         "  --cache-db PATH            cache database (default --db / SLUICE_DB)\n"
         "  --time-scale F             multiply every schedule time by F (0.1 = 10x faster)\n"
         "  --out DIR                  write DIR/detailed_metrics.csv and DIR/summary.json\n"
         "  --experiment PATH          log to MLflow (MLFLOW_TRACKING_URI databricks|http URL)\n"
         "  --mlflow-children N        per-question child runs (default 100)\n"
         "  --timeout D --poll-initial D --poll-max D --max-retries N --stop-timeout D\n"
         "  --seed N                   replay choices (default random)\n"
         "  --headless                 accepted for compatibility (always headless)"},
    {.name = "export",
     .run = sl_cli_genie_export_run,
     .usage = "loadtest export --space-id ID [--include-all] [--max-conversations N] "
              "[--from T] [--to T] [-o conversations.yaml]",
     .help = "Export a Genie space's conversations (messages with content, by time) to YAML in\n"
             "the format of the genie-simulation tool. --from/--to: 7d, 24h, 30m, 1w, ISO 8601\n"
             "or YYYY-MM-DD (inclusive, on the conversation's creation time)."},
    {.name = "http",
     .run = http_run,
     .usage = "loadtest http --url URL [--concurrency N] [--duration D] [-H 'Name: value']... "
              "[--timeout D] [--json]",
     .help = "Zero-latency benchmark: N keep-alive connections GET URL back to back for D;\n"
             "reports requests/s, latency percentiles and generator CPU per request."},
    {.name = "cache",
     .run = cache_run,
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
