/* cmd_queue.c - `sluice queue limit|list`: rate and concurrency limits per task queue. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sluice/engine.h"

/* "5/min", "10/s", "300/h", "5/2s" -> n per period. */
static bool parse_rate(const char *s, int64_t *n, int64_t *period_ms)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end != '/' || v <= 0)
        return false;
    const char *u = end + 1;
    if (!strcmp(u, "s") || !strcmp(u, "sec") || !strcmp(u, "second"))
        *period_ms = 1000;
    else if (!strcmp(u, "min") || !strcmp(u, "m") || !strcmp(u, "minute"))
        *period_ms = 60000;
    else if (!strcmp(u, "h") || !strcmp(u, "hour"))
        *period_ms = 3600000;
    else if (isdigit((unsigned char)*u) && sl_duration_parse(u, period_ms, NULL) == SL_OK &&
             *period_ms > 0)
        ;
    else
        return false;
    *n = v;
    return true;
}

#define OUT_TJ ((1u << SL_OUT_TABLE) | (1u << SL_OUT_JSON))

static const struct sl_opt limit_opts[] = {
    SL_CLI_STR('r', "rate", 'r', "N/PERIOD",
               "at most N starts in any PERIOD (5/min, 10/s, 300/h, 5/2s)"),
    SL_CLI_INT('b', "burst", 'b', "N", 1, 1000000, "at most N at once after a quiet spell"),
    SL_CLI_INT('c', "concurrency", 'c', "N", 1, 1000000, "at most N running at once"),
    SL_CLI_FLAG('x', "clear", 'x', "remove the queue's limits"),
    SL_CLI_END,
};

static int limit_exec(sl_cli *cli, const sl_cli_args *args)
{
    sl_queue_limit lim = {0};
    const char *rate = sl_cli_arg_str(args, 'r', NULL);
    if (rate && !parse_rate(rate, &lim.rate_n, &lim.rate_period_ms))
        return sl_cli_usage(cli, "--rate must look like 5/min, 10/s, 300/h or 5/2s, not '%s'",
                            rate);
    lim.burst = sl_cli_arg_int(args, 'b', 0);
    lim.concurrency = sl_cli_arg_int(args, 'c', 0);
    bool clear = sl_cli_arg_has(args, 'x');
    if (args->argc != 1)
        return sl_cli_usage(cli, args->argc < 1 ? "missing queue name" : "too many arguments");
    const char *queue = args->argv[0];
    if (clear && (lim.rate_n || lim.burst || lim.concurrency))
        return sl_cli_usage(cli, "--clear takes no limits");
    if (!clear && !lim.rate_n && !lim.concurrency)
        return sl_cli_usage(cli, "give --rate and/or --concurrency (or --clear)");
    if (lim.burst && !lim.rate_n)
        return sl_cli_usage(cli, "--burst needs --rate");
    sl_engine *e = sl_cli_engine_open(cli, false, false, SL_DURABILITY_NORMAL);
    if (!e)
        return SL_EXIT_FAIL;
    sl_err err;
    sl_err_clear(&err);
    sl_code rc = sl_engine_queue_limit(e, queue, clear ? NULL : &lim, &err);
    sl_engine_close(e);
    if (rc != SL_OK)
        return sl_cli_fail_err(cli, &err);
    if (clear)
        printf("queue %s: limits removed\n", queue);
    else
        printf("queue %s: limits set\n", queue);
    return SL_EXIT_OK;
}

static const struct sl_opt list_opts[] = {
    SL_CLI_OUT(OUT_TJ, "table (default) or json"),
    SL_CLI_END,
};

static int list_exec(sl_cli *cli, const sl_cli_args *args)
{
    sl_out_fmt fmt = (sl_out_fmt)sl_cli_arg_fmt(args, 'o', SL_OUT_TABLE);
    if (args->argc > 0)
        return sl_cli_usage(cli, "unexpected argument '%s'", args->argv[0]);
    sl_engine *e = sl_cli_engine_open(cli, false, false, SL_DURABILITY_NORMAL);
    if (!e)
        return SL_EXIT_FAIL;
    sl_err err;
    sl_err_clear(&err);
    json_t *arr;
    sl_code rc = sl_engine_queue_list(e, &arr, &err);
    sl_engine_close(e);
    if (rc != SL_OK)
        return sl_cli_fail_err(cli, &err);
    if (fmt == SL_OUT_JSON) {
        sl_cli_print_json(arr);
    } else {
        printf("%-20s %7s %8s %9s %11s  %s\n", "QUEUE", "DEPTH", "BACKOFF", "IN-FLIGHT",
               "OLDEST WAIT", "LIMITS");
        size_t i;
        json_t *q;
        json_array_foreach(arr, i, q)
        {
            char wait[32] = "-", limits[96] = "-";
            json_t *ow = json_object_get(q, "oldest_wait_ms");
            if (json_is_integer(ow))
                sl_duration_format(json_integer_value(ow), wait, sizeof(wait));
            json_t *l = json_object_get(q, "limits");
            if (json_is_object(l)) {
                const char *rate = json_string_value(json_object_get(l, "rate"));
                json_int_t conc = json_integer_value(json_object_get(l, "concurrency"));
                snprintf(limits, sizeof(limits), "%s%s%s", rate ? "rate " : "", rate ? rate : "",
                         "");
                if (rate)
                    snprintf(limits + strlen(limits), sizeof(limits) - strlen(limits),
                             " burst %lld", json_integer_value(json_object_get(l, "burst")));
                if (conc)
                    snprintf(limits + strlen(limits), sizeof(limits) - strlen(limits),
                             "%sconcurrency %lld", rate ? ", " : "", (long long)conc);
            }
            printf("%-20s %7lld %8lld %9lld %11s  %s\n",
                   json_string_value(json_object_get(q, "queue")),
                   json_integer_value(json_object_get(q, "depth")),
                   json_integer_value(json_object_get(q, "backoff")),
                   json_integer_value(json_object_get(q, "in_flight")), wait, limits);
        }
    }
    json_decref(arr);
    return SL_EXIT_OK;
}

static const struct sl_cmd cmds[] = {
    {.name = "limit",
     .exec = limit_exec,
     .opts = limit_opts,
     .usage = "queue limit QUEUE (--rate N/PERIOD [--burst N] [--concurrency N] | --concurrency N "
              "| --clear)",
     .help = "Limit how fast a task queue's activities start, across all workers.\n"
             "--burst defaults to the rate's N. Retried attempts count as starts."},
    {.name = "list",
     .exec = list_exec,
     .opts = list_opts,
     .help = "Each queue's depth (runnable tasks), tasks in backoff, in-flight activities,\n"
             "the oldest runnable task's wait and its limits."},
};
const struct sl_cmd_group sl_cli_queue = {"queue", "rate and concurrency limits per task queue",
                                          cmds, sizeof(cmds) / sizeof(cmds[0])};
