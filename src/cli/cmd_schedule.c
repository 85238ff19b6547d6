/* cmd_schedule.c - `sluice schedule create|list|describe|pause|unpause|trigger|backfill|delete`. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sluice/schedule.h"

#define OUT_TJ ((1u << SL_OUT_TABLE) | (1u << SL_OUT_JSON))

static sl_engine *open_rw(sl_cli *cli)
{
    return sl_cli_engine_open(cli, false, false, SL_DURABILITY_NORMAL);
}

static int create_run(sl_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"id", required_argument, NULL, 'i'},        {"type", required_argument, NULL, 't'},
        {"input", required_argument, NULL, 'I'},     {"task-queue", required_argument, NULL, 'q'},
        {"cron", required_argument, NULL, 'c'},      {"every", required_argument, NULL, 'e'},
        {"overlap", required_argument, NULL, 'O'},   {"catchup-window", required_argument, NULL, 'w'},
        {"jitter", required_argument, NULL, 'j'},    {"timezone", required_argument, NULL, 'z'},
        {"paused", no_argument, NULL, 'p'},          {"note", required_argument, NULL, 'n'},
        {NULL, 0, NULL, 0}};
    sl_schedule_opts o;
    sl_schedule_opts_init(&o);
    const char *input_arg = NULL;
    int c;
    while ((c = sl_cli_getopt(cli, argc, argv, "i:t:I:q:c:e:O:w:j:z:pn:", opts)) != -1) {
        switch (c) {
        case 'i':
            o.id = optarg;
            break;
        case 't':
            o.workflow_type = optarg;
            break;
        case 'I':
            input_arg = optarg;
            break;
        case 'q':
            o.task_queue = optarg;
            break;
        case 'c':
            o.cron = optarg;
            break;
        case 'e':
            if (!sl_cli_parse_duration(cli, "--every", optarg, &o.every_ms))
                return SL_EXIT_USAGE;
            if (o.every_ms < 1000)
                return sl_cli_usage(cli, "--every must be at least 1s");
            break;
        case 'O':
            o.overlap = optarg;
            break;
        case 'w':
            if (!sl_cli_parse_duration(cli, "--catchup-window", optarg, &o.catchup_ms))
                return SL_EXIT_USAGE;
            break;
        case 'j':
            if (!sl_cli_parse_duration(cli, "--jitter", optarg, &o.jitter_ms))
                return SL_EXIT_USAGE;
            break;
        case 'z':
            o.timezone = optarg;
            break;
        case 'p':
            o.paused = true;
            break;
        case 'n':
            o.note = optarg;
            break;
        default:
            return SL_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return sl_cli_usage(cli, "unexpected argument '%s'", argv[optind]);
    if (!o.id)
        return sl_cli_usage(cli, "missing --id");
    if (!o.workflow_type)
        return sl_cli_usage(cli, "missing --type");
    if (!o.cron && !o.every_ms)
        return sl_cli_usage(cli, "missing --cron or --every");
    sl_err err;
    sl_err_clear(&err);
    json_t *input = NULL;
    if (input_arg && sl_json_arg(input_arg, &input, &err) != SL_OK)
        return sl_cli_usage(cli, "--input: %s", err.msg);
    o.input = input;
    sl_engine *e = open_rw(cli);
    if (!e) {
        json_decref(input);
        return SL_EXIT_FAIL;
    }
    sl_code rc = sl_schedule_create(e, &o, &err);
    json_t *d = NULL;
    if (rc == SL_OK)
        rc = sl_schedule_describe(e, o.id, 1, &d, &err);
    sl_engine_close(e);
    json_decref(input);
    if (rc == SL_EINVAL)
        return sl_cli_usage(cli, "%s", err.msg);
    if (rc != SL_OK)
        return sl_cli_fail_err(cli, &err);
    json_t *next = json_array_get(json_object_get(d, "next_fire_times"), 0);
    printf("created schedule %s; next fire %s\n", o.id,
           next ? json_string_value(next) : o.paused ? "(paused)" : "(never)");
    json_decref(d);
    return SL_EXIT_OK;
}

static int one_id(sl_cli *cli, int argc, char **argv, const char **id)
{
    if (optind != argc - 1)
        return sl_cli_usage(cli, optind >= argc ? "missing schedule id" : "too many arguments");
    *id = argv[optind];
    return SL_EXIT_OK;
}

/* A command that takes the schedule id and no options. */
static int only_id(sl_cli *cli, int argc, char **argv, const char **id)
{
    static const struct option opts[] = {{NULL, 0, NULL, 0}};
    if (sl_cli_getopt(cli, argc, argv, "", opts) != -1)
        return SL_EXIT_USAGE;
    return one_id(cli, argc, argv, id);
}

static void print_schedule_table(const json_t *d)
{
    const char *keys[] = {"schedule_id", "workflow_type", "cron",     "every",  "task_queue",
                          "overlap",     "catchup_window", "jitter",  "paused", "note",
                          "timezone"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_t *v = json_object_get(d, keys[i]);
        if (!v)
            continue;
        if (json_is_string(v))
            printf("%-16s %s\n", keys[i], json_string_value(v));
        else
            printf("%-16s %s\n", keys[i], json_is_true(v) ? "yes" : "no");
    }
    size_t i;
    json_t *v;
    json_t *local = json_object_get(d, "next_fire_times_local");
    printf("next fire times:\n");
    json_array_foreach(json_object_get(d, "next_fire_times"), i, v)
    {
        const char *lt = json_string_value(json_array_get(local, i));
        printf("  %s%s%s\n", json_string_value(v), lt ? "  " : "", lt ? lt : "");
    }
    printf("running:\n");
    json_array_foreach(json_object_get(d, "running"), i, v)
    printf("  %s\n", json_string_value(v));
    printf("recent actions (oldest first):\n");
    json_array_foreach(json_object_get(d, "recent_actions"), i, v)
    {
        const char *wid = json_string_value(json_object_get(v, "workflow_id"));
        printf("  %s  %-12s scheduled %s%s%s\n", json_string_value(json_object_get(v, "time")),
               json_string_value(json_object_get(v, "action")),
               json_string_value(json_object_get(v, "scheduled_time")), wid ? "  " : "",
               wid ? wid : "");
    }
}

static int describe_run(sl_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"next", required_argument, NULL, 'n'},
                                         {NULL, 0, NULL, 0}};
    sl_out_fmt fmt = SL_OUT_TABLE;
    long long n_next = 5;
    int c;
    while ((c = sl_cli_getopt(cli, argc, argv, "o:n:", opts)) != -1) {
        if (c == 'o') {
            if (!sl_cli_parse_output(cli, optarg, OUT_TJ, &fmt))
                return SL_EXIT_USAGE;
        } else if (c == 'n') {
            if (!sl_cli_parse_int(cli, "--next", optarg, 0, 1000, &n_next))
                return SL_EXIT_USAGE;
        } else
            return SL_EXIT_USAGE;
    }
    const char *id = NULL;
    int rc0 = one_id(cli, argc, argv, &id);
    if (rc0)
        return rc0;
    sl_engine *e = open_rw(cli);
    if (!e)
        return SL_EXIT_FAIL;
    sl_err err;
    sl_err_clear(&err);
    json_t *d;
    sl_code rc = sl_schedule_describe(e, id, (int)n_next, &d, &err);
    sl_engine_close(e);
    if (rc != SL_OK)
        return sl_cli_fail_err(cli, &err);
    if (fmt == SL_OUT_JSON)
        sl_cli_print_json(d);
    else
        print_schedule_table(d);
    json_decref(d);
    return SL_EXIT_OK;
}

static int list_run(sl_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {NULL, 0, NULL, 0}};
    sl_out_fmt fmt = SL_OUT_TABLE;
    int c;
    while ((c = sl_cli_getopt(cli, argc, argv, "o:", opts)) != -1) {
        if (c != 'o' || !sl_cli_parse_output(cli, optarg, OUT_TJ, &fmt))
            return SL_EXIT_USAGE;
    }
    if (optind < argc)
        return sl_cli_usage(cli, "unexpected argument '%s'", argv[optind]);
    sl_engine *e = open_rw(cli);
    if (!e)
        return SL_EXIT_FAIL;
    sl_err err;
    sl_err_clear(&err);
    json_t *arr;
    sl_code rc = sl_schedule_list(e, &arr, &err);
    sl_engine_close(e);
    if (rc != SL_OK)
        return sl_cli_fail_err(cli, &err);
    if (fmt == SL_OUT_JSON) {
        sl_cli_print_json(arr);
    } else {
        printf("%-24s %-16s %-32s %-7s %s\n", "SCHEDULE", "TYPE", "SPEC", "PAUSED", "NEXT FIRE");
        size_t i;
        json_t *d;
        json_array_foreach(arr, i, d)
        {
            json_t *cron = json_object_get(d, "cron");
            const char *zone = json_string_value(json_object_get(d, "timezone"));
            bool local = cron && zone && strcmp(zone, "UTC") != 0;
            char spec[160];
            snprintf(spec, sizeof(spec), "%s%s%s%s", cron ? "" : "every ",
                     json_string_value(cron ? cron : json_object_get(d, "every")),
                     local ? " " : "", local ? zone : "");
            json_t *next = json_array_get(json_object_get(d, "next_fire_times"), 0);
            printf("%-24s %-16s %-32s %-7s %s\n",
                   json_string_value(json_object_get(d, "schedule_id")),
                   json_string_value(json_object_get(d, "workflow_type")), spec,
                   json_is_true(json_object_get(d, "paused")) ? "yes" : "no",
                   next ? json_string_value(next) : "-");
        }
    }
    json_decref(arr);
    return SL_EXIT_OK;
}

static int pause_common(sl_cli *cli, int argc, char **argv, bool pause)
{
    static const struct option opts[] = {{"note", required_argument, NULL, 'n'},
                                         {NULL, 0, NULL, 0}};
    const char *note = NULL;
    int c;
    while ((c = sl_cli_getopt(cli, argc, argv, "n:", opts)) != -1) {
        if (c != 'n')
            return SL_EXIT_USAGE;
        note = optarg;
    }
    const char *id = NULL;
    int rc0 = one_id(cli, argc, argv, &id);
    if (rc0)
        return rc0;
    sl_engine *e = open_rw(cli);
    if (!e)
        return SL_EXIT_FAIL;
    sl_err err;
    sl_err_clear(&err);
    sl_code rc = sl_schedule_pause(e, id, pause, note, &err);
    sl_engine_close(e);
    if (rc != SL_OK)
        return sl_cli_fail_err(cli, &err);
    printf("%s %s\n", pause ? "paused" : "unpaused", id);
    return SL_EXIT_OK;
}

static int pause_run(sl_cli *cli, int argc, char **argv)
{
    return pause_common(cli, argc, argv, true);
}

static int unpause_run(sl_cli *cli, int argc, char **argv)
{
    return pause_common(cli, argc, argv, false);
}

static int trigger_run(sl_cli *cli, int argc, char **argv)
{
    const char *id = NULL;
    int rc0 = only_id(cli, argc, argv, &id);
    if (rc0)
        return rc0;
    sl_engine *e = open_rw(cli);
    if (!e)
        return SL_EXIT_FAIL;
    sl_err err;
    sl_err_clear(&err);
    sl_start_result res;
    sl_code rc = sl_schedule_trigger(e, id, &res, &err);
    sl_engine_close(e);
    if (rc != SL_OK)
        return sl_cli_fail_err(cli, &err);
    printf("started %s (run %s)\n", res.workflow_id, res.run_id);
    return SL_EXIT_OK;
}

static int backfill_run(sl_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"from", required_argument, NULL, 'f'},
                                         {"to", required_argument, NULL, 't'},
                                         {"overlap", required_argument, NULL, 'O'},
                                         {NULL, 0, NULL, 0}};
    const char *from = NULL, *to = NULL, *overlap = NULL;
    int c;
    while ((c = sl_cli_getopt(cli, argc, argv, "f:t:O:", opts)) != -1) {
        if (c == 'f')
            from = optarg;
        else if (c == 't')
            to = optarg;
        else if (c == 'O')
            overlap = optarg;
        else
            return SL_EXIT_USAGE;
    }
    const char *id = NULL;
    int rc0 = one_id(cli, argc, argv, &id);
    if (rc0)
        return rc0;
    if (!from || !to)
        return sl_cli_usage(cli, "missing --from or --to");
    sl_err err;
    sl_err_clear(&err);
    int64_t f, t;
    if (sl_time_parse(from, &f, &err) != SL_OK)
        return sl_cli_usage(cli, "--from: %s", err.msg);
    if (sl_time_parse(to, &t, &err) != SL_OK)
        return sl_cli_usage(cli, "--to: %s", err.msg);
    sl_engine *e = open_rw(cli);
    if (!e)
        return SL_EXIT_FAIL;
    json_t *started;
    sl_code rc = sl_schedule_backfill(e, id, f, t, overlap, &started, &err);
    sl_engine_close(e);
    if (rc == SL_EINVAL)
        return sl_cli_usage(cli, "%s", err.msg);
    if (rc != SL_OK)
        return sl_cli_fail_err(cli, &err);
    size_t i;
    json_t *v;
    json_array_foreach(started, i, v)
    printf("started %s\n", json_string_value(v));
    printf("%zu workflows started\n", json_array_size(started));
    json_decref(started);
    return SL_EXIT_OK;
}

static int delete_run(sl_cli *cli, int argc, char **argv)
{
    const char *id = NULL;
    int rc0 = only_id(cli, argc, argv, &id);
    if (rc0)
        return rc0;
    sl_engine *e = open_rw(cli);
    if (!e)
        return SL_EXIT_FAIL;
    sl_err err;
    sl_err_clear(&err);
    sl_code rc = sl_schedule_delete(e, id, &err);
    sl_engine_close(e);
    if (rc != SL_OK)
        return sl_cli_fail_err(cli, &err);
    printf("deleted schedule %s (its running workflows continue)\n", id);
    return SL_EXIT_OK;
}

static const struct sl_cmd cmds[] = {
    {.name = "create",
     .run = create_run,
     .usage = "schedule create --id S --type T [--input JSON] (--cron \"m h dom mon dow\" | "
              "--every DURATION) [--overlap skip|buffer_one|allow_all|cancel_other] "
              "[--catchup-window DURATION] [--jitter DURATION] [--timezone ZONE] [--task-queue Q] "
              "[--paused] [--note TEXT]",
     .help = "Each fire starts workflow T with id S-<scheduled time in UTC, ISO-8601>, so a fire\n"
             "is never started twice. Fires missed while no worker ran are caught up within the\n"
             "catch-up window (default 1d). Workers process schedules.\n"
             "--timezone (an IANA name such as Europe/Amsterdam; default UTC) reads the cron\n"
             "fields as wall-clock time there. At daylight-saving changes a cron with specific\n"
             "hours fires once per wall-clock time (a time skipped by the change runs just\n"
             "after it); a cron over all hours follows real time."},
    {.name = "list", .run = list_run, .usage = "schedule list [-o table|json]", .help = ""},
    {.name = "describe",
     .run = describe_run,
     .usage = "schedule describe S [--next N] [-o table|json]",
     .help = "The spec, the next fire times, running workflows and recent actions."},
    {.name = "pause", .run = pause_run, .usage = "schedule pause S [--note TEXT]", .help = ""},
    {.name = "unpause",
     .run = unpause_run,
     .usage = "schedule unpause S [--note TEXT]",
     .help = "Resume from the next fire after now."},
    {.name = "trigger",
     .run = trigger_run,
     .usage = "schedule trigger S",
     .help = "Start a run now, whatever the overlap policy."},
    {.name = "backfill",
     .run = backfill_run,
     .usage = "schedule backfill S --from TIME --to TIME [--overlap POLICY]",
     .help = "Start every fire scheduled in [from, to) (default overlap allow_all); fires\n"
             "already started are skipped."},
    {.name = "delete", .run = delete_run, .usage = "schedule delete S", .help = ""},
};

const struct sl_cmd_group sl_cli_schedule = {"schedule", "run workflows on a cron or interval",
                                             cmds, sizeof(cmds) / sizeof(cmds[0])};
