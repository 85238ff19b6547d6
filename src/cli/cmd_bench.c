/*
 * cmd_bench.c - `sluice bench`: parse, sl_bench_run (bench.h), print. The workload and its
 * harness are described in include/sluice/bench.h.
 */
#include <stdio.h>

#include "cli.h"
#include "sluice/bench.h"
#include "sluice/engine.h"

static const struct sl_opt bench_opts[] = {
    SL_CLI_INT('n', "workflows", 'n', "N", 1, 10000000, "workflows measured (default 10000)"),
    SL_CLI_INT('s', "steps", 's', "S", 0, 100000, "activity steps per workflow (default 3)"),
    SL_CLI_INT('c', "concurrency", 'c', "C", 1, 100000, "workflows in flight (default 256)"),
    SL_CLI_STR('d', "durability", 'd', "normal|full", "commit durability (default normal)"),
    SL_CLI_INT('T', "threads", 'T', "T", 1, 1024, "activity threads (default 2)"),
    SL_CLI_INT('w', "warmup", 'w', "W", 0, 1000000,
               "warm-up workflows, not measured (default 200)"),
    SL_CLI_OUT((1u << SL_OUT_TABLE) | (1u << SL_OUT_JSON), "table (default) or json"),
    SL_CLI_END,
};

static void announce(void *arg, const char *db)
{
    const sl_bench_opts *o = arg;
    fprintf(stderr,
            "bench: %lld warm-up + %lld workflows of %lld steps, %lld in flight, "
            "durability %s, db %s\n",
            (long long)o->warmup, (long long)o->workflows, (long long)o->steps,
            (long long)o->concurrency, sl_durability_name(o->durability), db);
}

static int bench_exec(sl_cli *cli, const sl_cli_args *args)
{
    sl_bench_opts o;
    sl_bench_opts_init(&o);
    o.registry = sl_cli_registry();
    o.workflows = sl_cli_arg_int(args, 'n', o.workflows);
    o.steps = sl_cli_arg_int(args, 's', o.steps);
    o.concurrency = sl_cli_arg_int(args, 'c', o.concurrency);
    o.threads = sl_cli_arg_int(args, 'T', o.threads);
    o.warmup = sl_cli_arg_int(args, 'w', o.warmup);
    if (!sl_cli_arg_durability(cli, args, &o.durability))
        return SL_EXIT_USAGE;
    sl_out_fmt fmt = (sl_out_fmt)sl_cli_arg_fmt(args, 'o', SL_OUT_TABLE);
    if (args->argc > 0)
        return sl_cli_usage(cli, "unexpected argument '%s'", args->argv[0]);
    if (fmt == SL_OUT_TABLE) {
        o.on_ready = announce;
        o.arg = &o;
    }

    sl_bench_result r;
    sl_err err;
    sl_err_clear(&err);
    if (sl_bench_run(&o, &r, &err) != SL_OK)
        return sl_cli_fail_err(cli, &err);
    if (r.errors > 0)
        fprintf(stderr, "sluice: bench: %d errors; first: %s\n", r.errors, r.first_error);
    if (fmt == SL_OUT_JSON) {
        json_t *j =
            json_pack("{s:I,s:I,s:I,s:s,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:i,s:I,s:I,s:I}", "workflows",
                      (json_int_t)o.workflows, "steps", (json_int_t)o.steps, "concurrency",
                      (json_int_t)o.concurrency, "durability", sl_durability_name(o.durability),
                      "wall_s", r.wall_s, "workflows_per_s", r.workflows_per_s, "transitions_per_s",
                      r.transitions_per_s, "p50_ms", r.p50_ms, "p99_ms", r.p99_ms, "rss_mb",
                      r.rss_mb, "db_bytes_per_workflow", r.db_bytes_per_workflow, "errors",
                      r.errors, "warmup", (json_int_t)o.warmup, "commits", (json_int_t)r.commits,
                      "threads", (json_int_t)o.threads);
        sl_cli_print_json(j);
        json_decref(j);
    } else {
        printf("workflows            %lld (+%lld warm-up), %lld steps each, %lld in flight\n",
               (long long)o.workflows, (long long)o.warmup, (long long)o.steps,
               (long long)o.concurrency);
        printf("durability           %s\n", sl_durability_name(o.durability));
        printf("wall                 %.2f s\n", r.wall_s);
        printf("workflows/s          %.0f\n", r.workflows_per_s);
        printf("state transitions/s  %.0f (history events written)\n", r.transitions_per_s);
        printf("commits              %lld (%.1f workflows per commit)\n", (long long)r.commits,
               (double)o.workflows / (double)(r.commits > 0 ? r.commits : 1));
        printf("latency p50 / p99    %.2f / %.2f ms (start to close)\n", r.p50_ms, r.p99_ms);
        printf("peak RSS             %.1f MiB\n", r.rss_mb);
        printf("db bytes/workflow    %.0f\n", r.db_bytes_per_workflow);
        printf("errors               %d\n", r.errors);
    }
    return r.errors > 0 ? SL_EXIT_FAIL : SL_EXIT_OK;
}
static const struct sl_cmd cmds[] = {
    {.name = "",
     .exec = bench_exec,
     .opts = bench_opts,
     .usage = "bench [--workflows N] [--steps S] [--concurrency C] [--durability normal|full] "
              "[--threads T] [--warmup W] [-o table|json]",
     .help =
         "Run N noop_chain workflows of S zero-millisecond steps end to end (closed loop, C in\n"
         "flight, after W warm-up workflows) on a fresh temporary database and report\n"
         "workflows/s, state transitions/s, p50/p99 start-to-close latency, peak RSS and\n"
         "database bytes per workflow."},
};
const struct sl_cmd_group sl_cli_bench = {"bench", "measure the engine on its own workload", cmds,
                                          1};
