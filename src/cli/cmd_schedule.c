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

static const struct sl_opt create_opts[] = {
    SL_CLI_STR_REQ('i', "id", 'i', "S", "schedule id; each fire's workflow id is S-<time>"),
    SL_CLI_STR_REQ('t', "type", 't', "T", "workflow type to start"),
    SL_CLI_STR('I', "input", 'I', "JSON", "workflow input (JSON, @FILE or -)"),
    SL_CLI_STR('q', "task-queue", 'q', "Q", "task queue of the started workflows"),
    SL_CLI_STR('c', "cron", 'c', "\"m h dom mon dow\"", "cron fields"),
    SL_CLI_DUR('e', "every", 'e', "DURATION", "or a fixed interval (at least 1s)"),
    SL_CLI_STR('O', "overlap", 'O', "POLICY",
               "skip (default), buffer_one, allow_all, cancel_other"),
    SL_CLI_DUR('w', "catchup-window", 'w', "DURATION", "catch up missed fires within it (1d)"),
    SL_CLI_DUR('j', "jitter", 'j', "DURATION", "delay each fire by up to this"),
    SL_CLI_STR('z', "timezone", 'z', "ZONE", "IANA zone the cron fields are read in (UTC)"),
    SL_CLI_FLAG('p', "paused", 'p', "create it paused"),
    SL_CLI_STR('n', "note", 'n', "TEXT", "free text shown by describe"),
    SL_CLI_END,
};

static int create_exec(sl_cli *cli, const sl_cli_args *args)
{
    sl_schedule_opts o;
    sl_schedule_opts_init(&o);
    o.id = sl_cli_arg_str(args, 'i', NULL);
    o.workflow_type = sl_cli_arg_str(args, 't', NULL);
    const char *input_arg = sl_cli_arg_str(args, 'I', NULL);
    o.task_queue = sl_cli_arg_str(args, 'q', o.task_queue);
    o.cron = sl_cli_arg_str(args, 'c', o.cron);
    o.every_ms = sl_cli_arg_ms(args, 'e', o.every_ms);
    if (sl_cli_arg_has(args, 'e') && o.every_ms < 1000)
        return sl_cli_usage(cli, "--every must be at least 1s");
    o.overlap = sl_cli_arg_str(args, 'O', o.overlap);
    o.catchup_ms = sl_cli_arg_ms(args, 'w', o.catchup_ms);
    o.jitter_ms = sl_cli_arg_ms(args, 'j', o.jitter_ms);
    o.timezone = sl_cli_arg_str(args, 'z', o.timezone);
    o.paused = o.paused || sl_cli_arg_has(args, 'p');
    o.note = sl_cli_arg_str(args, 'n', o.note);
    if (args->argc > 0)
        return sl_cli_usage(cli, "unexpected argument '%s'", args->argv[0]);
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

static int one_id(sl_cli *cli, const sl_cli_args *args, const char **id)
{
    if (args->argc != 1)
        return sl_cli_usage(cli, args->argc < 1 ? "missing schedule id" : "too many arguments");
    *id = args->argv[0];
    return SL_EXIT_OK;
}

static const struct sl_opt no_opts[] = {SL_CLI_END};

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

static const struct sl_opt describe_opts[] = {
    SL_CLI_INT('n', "next", 'n', "N", 0, 1000, "how many next fire times (default 5)"),
    SL_CLI_OUT(OUT_TJ, "table (default) or json"),
    SL_CLI_END,
};

static int describe_exec(sl_cli *cli, const sl_cli_args *args)
{
    sl_out_fmt fmt = (sl_out_fmt)sl_cli_arg_fmt(args, 'o', SL_OUT_TABLE);
    long long n_next = sl_cli_arg_int(args, 'n', 5);
    const char *id = NULL;
    int rc0 = one_id(cli, args, &id);
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

static const struct sl_opt list_opts[] = {
    SL_CLI_OUT(OUT_TJ, "table (default) or json"),
    SL_CLI_END,
};

static int list_exec(sl_cli *cli, const sl_cli_args *args)
{
    sl_out_fmt fmt = (sl_out_fmt)sl_cli_arg_fmt(args, 'o', SL_OUT_TABLE);
    if (args->argc > 0)
        return sl_cli_usage(cli, "unexpected argument '%s'", args->argv[0]);
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

static const struct sl_opt pause_opts[] = {
    SL_CLI_STR('n', "note", 'n', "TEXT", "why (shown by describe)"),
    SL_CLI_END,
};

static int pause_common(sl_cli *cli, const sl_cli_args *args, bool pause)
{
    const char *note = sl_cli_arg_str(args, 'n', NULL);
    const char *id = NULL;
    int rc0 = one_id(cli, args, &id);
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

static int pause_exec(sl_cli *cli, const sl_cli_args *args)
{
    return pause_common(cli, args, true);
}

static int unpause_exec(sl_cli *cli, const sl_cli_args *args)
{
    return pause_common(cli, args, false);
}

static int trigger_exec(sl_cli *cli, const sl_cli_args *args)
{
    const char *id = NULL;
    int rc0 = one_id(cli, args, &id);
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

static const struct sl_opt backfill_opts[] = {
    SL_CLI_STR_REQ('f', "from", 'f', "TIME",
                   "first scheduled time (ISO 8601, YYYY-MM-DD, 7d, ...)"),
    SL_CLI_STR_REQ('t', "to", 't', "TIME", "end of the range (exclusive)"),
    SL_CLI_STR('O', "overlap", 'O', "POLICY", "overlap policy for these fires (allow_all)"),
    SL_CLI_END,
};

static int backfill_exec(sl_cli *cli, const sl_cli_args *args)
{
    const char *from = sl_cli_arg_str(args, 'f', NULL), *to = sl_cli_arg_str(args, 't', NULL);
    const char *overlap = sl_cli_arg_str(args, 'O', NULL);
    const char *id = NULL;
    int rc0 = one_id(cli, args, &id);
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

static int delete_exec(sl_cli *cli, const sl_cli_args *args)
{
    const char *id = NULL;
    int rc0 = one_id(cli, args, &id);
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
     .exec = create_exec,
     .opts = create_opts,
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
    {.name = "list", .exec = list_exec, .opts = list_opts, .help = ""},
    {.name = "describe",
     .exec = describe_exec,
     .opts = describe_opts,
     .args = "S",
     .help = "The spec, the next fire times, running workflows and recent actions."},
    {.name = "pause", .exec = pause_exec, .opts = pause_opts, .args = "S", .help = ""},
    {.name = "unpause",
     .exec = unpause_exec,
     .opts = pause_opts,
     .args = "S",
     .help = "Resume from the next fire after now."},
    {.name = "trigger",
     .exec = trigger_exec,
     .opts = no_opts,
     .args = "S",
     .help = "Start a run now, whatever the overlap policy."},
    {.name = "backfill",
     .exec = backfill_exec,
     .opts = backfill_opts,
     .args = "S",
     .help = "Start every fire scheduled in [from, to) (default overlap allow_all); fires\n"
             "already started are skipped."},
    {.name = "delete", .exec = delete_exec, .opts = no_opts, .args = "S", .help = ""},
};

const struct sl_cmd_group sl_cli_schedule = {"schedule", "run workflows on a cron or interval",
                                             cmds, sizeof(cmds) / sizeof(cmds[0])};
