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

static int limit_run(sl_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"rate", required_argument, NULL, 'r'},
                                         {"burst", required_argument, NULL, 'b'},
                                         {"concurrency", required_argument, NULL, 'c'},
                                         {"clear", no_argument, NULL, 'x'},
                                         {NULL, 0, NULL, 0}};
    sl_queue_limit lim = {0};
    bool clear = false;
    long long v;
    int c;
    while ((c = sl_cli_getopt(cli, argc, argv, "r:b:c:x", opts)) != -1) {
        switch (c) {
        case 'r':
            if (!parse_rate(optarg, &lim.rate_n, &lim.rate_period_ms))
                return sl_cli_usage(cli, "--rate must look like 5/min, 10/s, 300/h or 5/2s, not '%s'",
                                    optarg);
            break;
        case 'b':
            if (!sl_cli_parse_int(cli, "--burst", optarg, 1, 1000000, &v))
                return SL_EXIT_USAGE;
            lim.burst = v;
            break;
        case 'c':
            if (!sl_cli_parse_int(cli, "--concurrency", optarg, 1, 1000000, &v))
                return SL_EXIT_USAGE;
            lim.concurrency = v;
            break;
        case 'x':
            clear = true;
            break;
        default:
            return SL_EXIT_USAGE;
        }
    }
    if (optind != argc - 1)
        return sl_cli_usage(cli, optind >= argc ? "missing queue name" : "too many arguments");
    const char *queue = argv[optind];
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

static int list_run(sl_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {NULL, 0, NULL, 0}};
    sl_out_fmt fmt = SL_OUT_TABLE;
    int c;
    while ((c = sl_cli_getopt(cli, argc, argv, "o:", opts)) != -1) {
        if (c != 'o' ||
            !sl_cli_parse_output(cli, optarg, (1u << SL_OUT_TABLE) | (1u << SL_OUT_JSON), &fmt))
            return SL_EXIT_USAGE;
    }
    if (optind < argc)
        return sl_cli_usage(cli, "unexpected argument '%s'", argv[optind]);
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
     .run = limit_run,
     .usage = "queue limit QUEUE (--rate N/PERIOD [--burst N] [--concurrency N] | --concurrency N "
              "| --clear)",
     .help = "Limit how fast a task queue's activities start, across all workers:\n"
             "--rate 5/min: at most 5 starts in any minute (also 10/s, 300/h, 5/2s);\n"
             "--burst N: at most N at once after a quiet spell (default: the rate's N);\n"
             "--concurrency N: at most N running at once. Retried attempts count as starts."},
    {.name = "list",
     .run = list_run,
     .usage = "queue list [-o table|json]",
     .help = "Each queue's depth (runnable tasks), tasks in backoff, in-flight activities,\n"
             "the oldest runnable task's wait and its limits."},
};
const struct sl_cmd_group sl_cli_queue = {"queue", "rate and concurrency limits per task queue",
                                          cmds, sizeof(cmds) / sizeof(cmds[0])};
