/* cmd_workflow.c - `sluice workflow start|describe|show|list|count|timers|...`. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sluice/engine.h"

#define OUT_TJ ((1u << SL_OUT_TABLE) | (1u << SL_OUT_JSON))

/* ---- start ------------------------------------------------------------------------------ */

static const struct sl_opt start_opts[] = {
    SL_CLI_STR_REQ('t', "type", 't', "T", "workflow type (or the first argument)"),
    SL_CLI_STR('i', "id", 'i', "ID", "workflow id (default <type>-<uuid>)"),
    SL_CLI_STR('I', "input", 'I', "JSON|@FILE|-", "the workflow's input"),
    SL_CLI_STR('q', "task-queue", 'q', "Q", "task queue (default \"default\")"),
    SL_CLI_STR('r', "retry-policy", 'r', "JSON", "workflow-level retry policy"),
    SL_CLI_OUT(OUT_TJ, "table (default) or json"),
    SL_CLI_END,
};

static int start_exec(sl_cli *cli, const sl_cli_args *args)
{
    const char *type = sl_cli_arg_str(args, 't', NULL), *id = sl_cli_arg_str(args, 'i', NULL);
    const char *input_arg = sl_cli_arg_str(args, 'I', NULL);
    const char *queue = sl_cli_arg_str(args, 'q', NULL);
    const char *retry_arg = sl_cli_arg_str(args, 'r', NULL);
    sl_out_fmt fmt = (sl_out_fmt)sl_cli_arg_fmt(args, 'o', SL_OUT_TABLE);
    int pos = 0;
    if (pos < args->argc && !type)
        type = args->argv[pos++];
    if (pos < args->argc)
        return sl_cli_usage(cli, "unexpected argument '%s'", args->argv[pos]);
    if (!type)
        return sl_cli_usage(cli, "missing --type");
    if (!sl_registry_workflow(sl_cli_registry(), type))
        return sl_cli_usage(cli, "unknown workflow type '%s' (known: %s)", type,
                            sl_registry_workflow_names(sl_cli_registry()));
    sl_err err;
    sl_err_clear(&err);
    json_t *input = NULL;
    if (input_arg && sl_json_arg(input_arg, &input, &err) != SL_OK)
        return sl_cli_usage(cli, "--input: %s", err.msg);
    sl_retry_policy rp;
    bool has_rp = false;
    if (retry_arg) {
        json_t *rj;
        sl_retry_policy_init(&rp);
        if (sl_json_arg(retry_arg, &rj, &err) != SL_OK) {
            json_decref(input);
            return sl_cli_usage(cli, "--retry-policy: %s", err.msg);
        }
        sl_code rc = sl_retry_policy_from_json(rj, &rp, &err);
        json_decref(rj);
        if (rc != SL_OK) {
            json_decref(input);
            return sl_cli_usage(cli, "--retry-policy: %s", err.msg);
        }
        has_rp = true;
    }
    sl_engine *e = sl_cli_engine_open(cli, false, false, SL_DURABILITY_NORMAL);
    if (!e) {
        json_decref(input);
        return SL_EXIT_FAIL;
    }
    sl_start_opts so = {.workflow_id = id, .task_queue = queue, .retry = has_rp ? &rp : NULL};
    sl_start_result res;
    sl_code rc = sl_engine_start(e, type, input, &so, &res, &err);
    json_decref(input);
    sl_engine_close(e);
    if (rc != SL_OK)
        return rc == SL_EINVAL ? sl_cli_usage(cli, "%s", err.msg) : sl_cli_fail_err(cli, &err);
    if (fmt == SL_OUT_JSON) {
        json_t *j = json_pack("{s:s,s:s,s:b}", "workflow_id", res.workflow_id, "run_id",
                              res.run_id, "existing", res.existing);
        sl_cli_print_json(j);
        json_decref(j);
    } else {
        printf("workflow_id: %s\nrun_id: %s\n", res.workflow_id, res.run_id);
        if (res.existing)
            printf("existing: true (a run with this id is already open; nothing was started)\n");
    }
    return SL_EXIT_OK;
}

/* ---- describe ----------------------------------------------------------------------------- */

static void print_kv_json(const char *key, const json_t *v)
{
    if (!v || json_is_null(v)) {
        printf("%-16s -\n", key);
        return;
    }
    if (json_is_string(v)) {
        printf("%-16s %s\n", key, json_string_value(v));
        return;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    printf("%-16s %s\n", key, s ? s : "");
    free(s);
}

static void print_describe(const json_t *d)
{
    static const char *const keys[] = {"workflow_id", "run_id",     "type",       "task_queue",
                                       "status",      "attempt",    "start_time", "close_time",
                                       "input",       "result",     "failure",    "history_length",
                                       "history_bytes"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        print_kv_json(keys[i], json_object_get(d, keys[i]));
    json_t *pend = json_object_get(d, "pending_activities");
    size_t i;
    json_t *p;
    if (json_array_size(pend) > 0) {
        printf("pending activities:\n");
        json_array_foreach(pend, i, p)
        {
            printf("  seq %lld %s attempt %lld %s", json_integer_value(json_object_get(p, "seq")),
                   json_string_value(json_object_get(p, "activity_type")),
                   json_integer_value(json_object_get(p, "attempt")),
                   json_string_value(json_object_get(p, "state")));
            const char *next = json_string_value(json_object_get(p, "next_attempt_time"));
            if (next)
                printf(" next attempt %s", next);
            json_t *lf = json_object_get(p, "last_failure");
            if (lf)
                printf(" last failure: %s: %s", json_string_value(json_object_get(lf, "type")),
                       json_string_value(json_object_get(lf, "message")));
            printf("\n");
        }
    }
    json_t *runs = json_object_get(d, "runs");
    if (json_array_size(runs) > 1) {
        printf("runs (newest first):\n");
        json_array_foreach(runs, i, p)
        printf("  %s  %-10s attempt %lld  started %s\n",
               json_string_value(json_object_get(p, "run_id")),
               json_string_value(json_object_get(p, "status")),
               json_integer_value(json_object_get(p, "attempt")),
               json_string_value(json_object_get(p, "start_time")));
    }
}

static const struct sl_opt describe_opts[] = {
    SL_CLI_STR('r', "run", 'r', "RUN", "this run of the id (default the latest)"),
    SL_CLI_OUT(OUT_TJ, "table (default) or json"),
    SL_CLI_END,
};

/* The one positional argument: a workflow id. */
static int one_id(sl_cli *cli, const sl_cli_args *args, const char **id)
{
    if (args->argc != 1)
        return sl_cli_usage(cli, args->argc < 1 ? "missing workflow id" : "too many arguments");
    *id = args->argv[0];
    return SL_EXIT_OK;
}

static int describe_exec(sl_cli *cli, const sl_cli_args *args)
{
    const char *run = sl_cli_arg_str(args, 'r', NULL);
    sl_out_fmt fmt = (sl_out_fmt)sl_cli_arg_fmt(args, 'o', SL_OUT_TABLE);
    const char *id = NULL;
    int urc = one_id(cli, args, &id);
    if (urc != SL_EXIT_OK)
        return urc;
    sl_engine *e = sl_cli_engine_open(cli, false, true, SL_DURABILITY_NORMAL);
    if (!e)
        return SL_EXIT_FAIL;
    sl_err err;
    sl_err_clear(&err);
    json_t *d;
    sl_code rc = sl_engine_describe(e, id, run, &d, &err);
    sl_engine_close(e);
    if (rc != SL_OK)
        return sl_cli_fail_err(cli, &err);
    if (fmt == SL_OUT_JSON)
        sl_cli_print_json(d);
    else
        print_describe(d);
    json_decref(d);
    return SL_EXIT_OK;
}

/* ---- show ----------------------------------------------------------------------------------- */

/* One readable line of the most telling attributes of an event. */
static void event_details(const char *type, const json_t *a, char *buf, size_t len)
{
    buf[0] = '\0';
    size_t n = 0;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (n < len)                                                                               \
            n += (size_t)snprintf(buf + n, len - n, __VA_ARGS__);                                  \
    } while (0)
    const char *at = json_string_value(json_object_get(a, "activity_type"));
    json_t *seq = json_object_get(a, "seq");
    json_t *attempt = json_object_get(a, "attempt");
    if (at)
        ADD("%s ", at);
    if (seq)
        ADD("seq=%lld ", json_integer_value(seq));
    if (attempt)
        ADD("attempt=%lld ", json_integer_value(attempt));
    json_t *f = json_object_get(a, "failure");
    if (f) {
        const char *ft = json_string_value(json_object_get(f, "type"));
        const char *fm = json_string_value(json_object_get(f, "message"));
        ADD("error=%s: %s ", ft ? ft : "?", fm ? fm : "");
    }
    json_t *carried = json_object_get(a, "carried_over_from");
    if (carried)
        ADD("carried over from event %lld of run %.8s ",
            json_integer_value(json_object_get(carried, "event_id")),
            json_string_value(json_object_get(carried, "run_id")));
    const char *tt = json_string_value(json_object_get(a, "timeout_type"));
    if (tt)
        ADD("timeout=%s ", tt);
    const char *next = json_string_value(json_object_get(a, "next_attempt_time"));
    if (next)
        ADD("next_attempt=%s ", next);
    else if (json_object_get(a, "will_retry"))
        ADD("retry_state=%s ", json_string_value(json_object_get(a, "retry_state")));
    const char *keys[] = {"result",      "input",  "message",    "fire_at",
                          "identity",    "reason", "signal_name", "new_run_id",
                          "continued_from_run_id", "workflow_id", "version", "change_id"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_t *v = json_object_get(a, keys[i]);
        if (!v || (strcmp(keys[i], "input") == 0 && strcmp(type, "ActivityTaskScheduled") != 0 &&
                   strcmp(type, "WorkflowExecutionStarted") != 0))
            continue;
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        ADD("%s=%s ", keys[i], s ? s : "");
        free(s);
    }
#undef ADD
    if (n >= len && len > 4)
        strcpy(buf + len - 4, "...");
    size_t l = strlen(buf);
    while (l > 0 && buf[l - 1] == ' ')
        buf[--l] = '\0';
}

static void print_events(const json_t *events)
{
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        char details[200];
        const char *type = json_string_value(json_object_get(ev, "type"));
        event_details(type, json_object_get(ev, "attributes"), details, sizeof(details));
        printf("%4lld  %s  %-28s %s\n", json_integer_value(json_object_get(ev, "event_id")),
               json_string_value(json_object_get(ev, "time")), type, details);
    }
}

static const struct sl_opt show_opts[] = {
    SL_CLI_STR('r', "run", 'r', "RUN", "this run of the id (default the latest)"),
    SL_CLI_FLAG('f', "follow", 'f', "keep printing new events until the run closes"),
    SL_CLI_OUT(OUT_TJ, "table (default) or json"),
    SL_CLI_END,
};

static int show_exec(sl_cli *cli, const sl_cli_args *args)
{
    const char *run = sl_cli_arg_str(args, 'r', NULL);
    bool follow = sl_cli_arg_has(args, 'f');
    sl_out_fmt fmt = (sl_out_fmt)sl_cli_arg_fmt(args, 'o', SL_OUT_TABLE);
    const char *id = NULL;
    int urc = one_id(cli, args, &id);
    if (urc != SL_EXIT_OK)
        return urc;
    sl_engine *e = sl_cli_engine_open(cli, false, true, SL_DURABILITY_NORMAL);
    if (!e)
        return SL_EXIT_FAIL;
    sl_err err;
    sl_err_clear(&err);
    int64_t last = 0;
    char run_id[37];
    if (fmt == SL_OUT_TABLE)
        printf("  ID  TIME (UTC)                TYPE                         DETAILS\n");
    for (;;) {
        json_t *events;
        bool closed = false;
        sl_code rc = sl_engine_history(e, id, run, last, &events, run_id, &closed, &err);
        if (rc != SL_OK) {
            sl_engine_close(e);
            return sl_cli_fail_err(cli, &err);
        }
        if (!run)
            run = run_id; /* --follow stays on the run it started with */
        if (fmt == SL_OUT_JSON && !follow) {
            sl_cli_print_json(events);
        } else if (fmt == SL_OUT_JSON) {
            size_t i;
            json_t *ev;
            json_array_foreach(events, i, ev)
            {
                char *s = json_dumps(ev, JSON_COMPACT);
                printf("%s\n", s);
                free(s);
            }
        } else {
            print_events(events);
        }
        fflush(stdout);
        size_t n = json_array_size(events);
        if (n > 0)
            last = json_integer_value(json_object_get(json_array_get(events, n - 1), "event_id"));
        json_decref(events);
        if (!follow || (closed && n == 0))
            break;
        if (closed)
            continue; /* print what arrived, then stop */
        sl_sleep_ms(200);
    }
    sl_engine_close(e);
    return SL_EXIT_OK;
}

/* ---- list / count ------------------------------------------------------------------------- */

#define FILTER_OPTS                                                                                \
    SL_CLI_STR('s', "status", 's', "S",                                                            \
               "running, completed, failed, canceled, terminated, timed_out, continued_as_new"),   \
        SL_CLI_STR('t', "type", 't', "T", "workflow type"),                                        \
        SL_CLI_STR('p', "prefix", 'p', "ID", "workflow ids starting with ID"),                     \
        SL_CLI_STR('S', "since", 'S', "TIME", "started at or after (ISO 8601, YYYY-MM-DD, 7d)"),   \
        SL_CLI_STR('U', "until", 'U', "TIME", "started before"),                                   \
        SL_CLI_INT('n', "limit", 'n', "N", 1, 1000000, "at most N runs")

static const struct sl_opt list_opts[] = {
    FILTER_OPTS,
    SL_CLI_OUT(OUT_TJ, "table (default) or json"),
    SL_CLI_FLAG('H', "history", 0, "with -o json: each run's events as \"history\""),
    SL_CLI_END,
};

static const struct sl_opt count_opts[] = {FILTER_OPTS, SL_CLI_END};

/* The run filter of list and count (limit: their default). */
static bool filter_from_args(sl_cli *cli, const sl_cli_args *args, int limit, sl_run_filter *f)
{
    sl_run_filter_init(f);
    f->limit = (int)sl_cli_arg_int(args, 'n', limit);
    const char *status = sl_cli_arg_str(args, 's', NULL);
    if (status && !sl_run_status_parse(status, &f->status)) {
        sl_cli_usage(cli,
                     "unknown status '%s' (running, completed, failed, canceled, "
                     "terminated, timed_out, continued_as_new)",
                     status);
        return false;
    }
    f->type = sl_cli_arg_str(args, 't', NULL);
    f->id_prefix = sl_cli_arg_str(args, 'p', NULL);
    const struct {
        int id;
        const char *flag;
        int64_t *field;
    } times[] = {{'S', "--since", &f->started_after_ms}, {'U', "--until", &f->started_before_ms}};
    for (size_t i = 0; i < 2; i++) {
        const char *v = sl_cli_arg_str(args, times[i].id, NULL);
        sl_err err;
        sl_err_clear(&err);
        if (v && sl_time_parse(v, times[i].field, &err) != SL_OK) {
            sl_cli_usage(cli, "%s: %s", times[i].flag, err.msg);
            return false;
        }
    }
    if (args->argc > 0) {
        sl_cli_usage(cli, "unexpected argument '%s'", args->argv[0]);
        return false;
    }
    return true;
}

/* Add each listed run's events (as `workflow show -o json` prints them) as "history". */
static sl_code add_histories(sl_engine *e, json_t *runs, sl_err *err)
{
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r)
    {
        json_t *events;
        sl_code rc = sl_engine_history(e, json_string_value(json_object_get(r, "workflow_id")),
                                       json_string_value(json_object_get(r, "run_id")), 0, &events,
                                       NULL, NULL, err);
        if (rc != SL_OK)
            return rc;
        json_object_set_new(r, "history", events);
    }
    return SL_OK;
}

static int list_exec(sl_cli *cli, const sl_cli_args *args)
{
    sl_run_filter f;
    sl_out_fmt fmt = (sl_out_fmt)sl_cli_arg_fmt(args, 'o', SL_OUT_TABLE);
    bool history = sl_cli_arg_has(args, 'H');
    if (!filter_from_args(cli, args, 100, &f))
        return SL_EXIT_USAGE;
    if (history && fmt != SL_OUT_JSON)
        return sl_cli_usage(cli, "--history needs -o json");
    sl_engine *e = sl_cli_engine_open(cli, false, true, SL_DURABILITY_NORMAL);
    if (!e)
        return SL_EXIT_FAIL;
    sl_err err;
    sl_err_clear(&err);
    json_t *arr = NULL;
    sl_code rc = sl_engine_list(e, &f, &arr, &err);
    if (rc == SL_OK && history)
        rc = add_histories(e, arr, &err);
    sl_engine_close(e);
    if (rc != SL_OK) {
        json_decref(arr);
        return sl_cli_fail_err(cli, &err);
    }
    if (fmt == SL_OUT_JSON) {
        sl_cli_print_json(arr);
    } else {
        printf("%-40s %-12s %-11s %-24s %s\n", "WORKFLOW ID", "TYPE", "STATUS", "STARTED (UTC)",
               "EVENTS");
        size_t i;
        json_t *r;
        json_array_foreach(arr, i, r)
        printf("%-40s %-12s %-11s %-24s %lld\n", json_string_value(json_object_get(r, "workflow_id")),
               json_string_value(json_object_get(r, "type")),
               json_string_value(json_object_get(r, "status")),
               json_string_value(json_object_get(r, "start_time")),
               json_integer_value(json_object_get(r, "history_length")));
    }
    json_decref(arr);
    return SL_EXIT_OK;
}

static int count_exec(sl_cli *cli, const sl_cli_args *args)
{
    sl_run_filter f;
    if (!filter_from_args(cli, args, 0, &f))
        return SL_EXIT_USAGE;
    sl_engine *e = sl_cli_engine_open(cli, false, true, SL_DURABILITY_NORMAL);
    if (!e)
        return SL_EXIT_FAIL;
    sl_err err;
    sl_err_clear(&err);
    int64_t n;
    sl_code rc = sl_engine_count(e, &f, &n, &err);
    sl_engine_close(e);
    if (rc != SL_OK)
        return sl_cli_fail_err(cli, &err);
    printf("%lld\n", (long long)n);
    return SL_EXIT_OK;
}

/* ---- timers -------------------------------------------------------------------------------- */

static const struct sl_opt timers_opts[] = {
    SL_CLI_INT('n', "limit", 'n', "N", 1, SL_ENGINE_TIMERS_MAX, "at most N timers (default 100)"),
    SL_CLI_OUT(OUT_TJ, "table (default) or json"),
    SL_CLI_END,
};

static int timers_exec(sl_cli *cli, const sl_cli_args *args)
{
    int limit = (int)sl_cli_arg_int(args, 'n', 100);
    sl_out_fmt fmt = (sl_out_fmt)sl_cli_arg_fmt(args, 'o', SL_OUT_TABLE);
    if (args->argc > 0)
        return sl_cli_usage(cli, "unexpected argument '%s'", args->argv[0]);
    sl_engine *e = sl_cli_engine_open(cli, false, true, SL_DURABILITY_NORMAL);
    if (!e)
        return SL_EXIT_FAIL;
    sl_err err;
    sl_err_clear(&err);
    json_t *arr = NULL;
    sl_code rc = sl_engine_timers_list(e, limit, &arr, &err);
    sl_engine_close(e);
    if (rc != SL_OK)
        return sl_cli_fail_err(cli, &err);
    if (fmt == SL_OUT_JSON) {
        sl_cli_print_json(arr);
    } else {
        printf("%-24s %-40s %-36s %s\n", "FIRES AT (UTC)", "WORKFLOW ID", "RUN ID", "SEQ");
        size_t i;
        json_t *t;
        json_array_foreach(arr, i, t)
        printf("%-24s %-40s %-36s %lld\n", json_string_value(json_object_get(t, "fire_at")),
               json_string_value(json_object_get(t, "workflow_id")),
               json_string_value(json_object_get(t, "run_id")),
               json_integer_value(json_object_get(t, "seq")));
    }
    json_decref(arr);
    return SL_EXIT_OK;
}

/* ---- signal ---------------------------------------------------------------------------------- */

static const struct sl_opt signal_opts[] = {
    SL_CLI_STR_REQ('n', "name", 'n', "N", "the signal's name"),
    SL_CLI_STR('I', "input", 'I', "JSON|@FILE", "its payload"),
    SL_CLI_END,
};

static int signal_exec(sl_cli *cli, const sl_cli_args *args)
{
    const char *name = sl_cli_arg_str(args, 'n', NULL);
    const char *input_arg = sl_cli_arg_str(args, 'I', NULL);
    const char *id = NULL;
    int urc = one_id(cli, args, &id);
    if (urc != SL_EXIT_OK)
        return urc;
    if (!name || !*name)
        return sl_cli_usage(cli, "missing --name");
    sl_err err;
    sl_err_clear(&err);
    json_t *input = NULL;
    if (input_arg && sl_json_arg(input_arg, &input, &err) != SL_OK)
        return sl_cli_usage(cli, "--input: %s", err.msg);
    sl_engine *e = sl_cli_engine_open(cli, false, false, SL_DURABILITY_NORMAL);
    if (!e) {
        json_decref(input);
        return SL_EXIT_FAIL;
    }
    sl_code rc = sl_engine_signal(e, id, name, input, &err);
    sl_engine_close(e);
    json_decref(input);
    if (rc != SL_OK)
        return sl_cli_fail_err(cli, &err);
    printf("signaled %s: %s\n", id, name);
    return SL_EXIT_OK;
}

/* ---- cancel / terminate / retry, one id or a --query batch ----------------------------------- */

enum action { ACT_CANCEL, ACT_TERMINATE, ACT_RETRY };

/* "status=failed type=dataset_sync prefix=x since=T until=T" */
static bool parse_query(sl_cli *cli, const char *q, sl_run_filter *f, char *buf, size_t buf_len)
{
    sl_run_filter_init(f);
    f->latest_only = true;
    snprintf(buf, buf_len, "%s", q);
    char *save = NULL;
    for (char *tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok || !eq[1]) {
            sl_cli_usage(cli, "--query: '%s' is not key=value (keys: status, type, prefix, since, "
                              "until)",
                         tok);
            return false;
        }
        *eq = '\0';
        const char *k = tok, *v = eq + 1;
        if (strcmp(k, "status") == 0) {
            if (!sl_run_status_parse(v, &f->status)) {
                sl_cli_usage(cli, "--query: unknown status '%s'", v);
                return false;
            }
        } else if (strcmp(k, "type") == 0) {
            f->type = v;
        } else if (strcmp(k, "prefix") == 0 || strcmp(k, "id") == 0) {
            f->id_prefix = v;
        } else if (strcmp(k, "since") == 0 || strcmp(k, "until") == 0) {
            int64_t ms;
            sl_err err;
            if (sl_time_parse(v, &ms, &err) != SL_OK) {
                sl_cli_usage(cli, "--query: %s", err.msg);
                return false;
            }
            if (k[0] == 's')
                f->started_after_ms = ms;
            else
                f->started_before_ms = ms;
        } else {
            sl_cli_usage(cli, "--query: unknown key '%s' (status, type, prefix, since, until)", k);
            return false;
        }
    }
    return true;
}

static sl_code do_action(sl_engine *e, enum action a, const char *id, const char *reason,
                         char *note, size_t note_len, sl_err *err)
{
    bool already = false;
    sl_code rc;
    sl_start_result res;
    switch (a) {
    case ACT_CANCEL:
        rc = sl_engine_cancel(e, id, reason, &already, err);
        if (rc == SL_OK)
            snprintf(note, note_len, already ? "cancel already requested for %s"
                                             : "cancel requested for %s",
                     id);
        return rc;
    case ACT_TERMINATE:
        rc = sl_engine_terminate(e, id, reason, &already, err);
        if (rc == SL_OK)
            snprintf(note, note_len, already ? "%s was already terminated" : "terminated %s", id);
        return rc;
    case ACT_RETRY:
        rc = sl_engine_retry(e, id, reason, &res, err);
        if (rc == SL_OK)
            snprintf(note, note_len, "retrying %s: new run %s", id, res.run_id);
        return rc;
    }
    return SL_EINVAL;
}

static const struct sl_opt action_opts[] = {
    SL_CLI_STR('r', "reason", 'r', "R", "recorded in the history"),
    SL_CLI_STR('q', "query", 'q', "Q",
               "every workflow matching \"status=S type=T prefix=P since=T until=T\""),
    SL_CLI_FLAG('y', "yes", 'y', "with --query: no confirmation"),
    SL_CLI_END,
};

static int action_exec(sl_cli *cli, const sl_cli_args *args, enum action a)
{
    const char *reason = sl_cli_arg_str(args, 'r', NULL);
    const char *query = sl_cli_arg_str(args, 'q', NULL);
    bool yes = sl_cli_arg_has(args, 'y');
    if (query && args->argc > 0)
        return sl_cli_usage(cli, "give a workflow id or --query, not both");
    if (!query && args->argc != 1)
        return sl_cli_usage(cli, args->argc < 1 ? "missing workflow id (or --query)"
                                                : "too many arguments");
    if (a == ACT_TERMINATE && !reason)
        reason = "terminated by operator";
    sl_run_filter f;
    char qbuf[512];
    if (query && !parse_query(cli, query, &f, qbuf, sizeof(qbuf)))
        return SL_EXIT_USAGE;
    sl_engine *e = sl_cli_engine_open(cli, false, false, SL_DURABILITY_NORMAL);
    if (!e)
        return SL_EXIT_FAIL;
    sl_err err;
    sl_err_clear(&err);
    char note[256];
    if (!query) {
        sl_code rc = do_action(e, a, args->argv[0], reason, note, sizeof(note), &err);
        sl_engine_close(e);
        if (rc != SL_OK)
            return sl_cli_fail_err(cli, &err);
        printf("%s\n", note);
        return SL_EXIT_OK;
    }
    json_t *runs;
    if (sl_engine_list(e, &f, &runs, &err) != SL_OK) {
        sl_engine_close(e);
        return sl_cli_fail_err(cli, &err);
    }
    size_t n = json_array_size(runs);
    printf("%zu workflow%s match '%s'\n", n, n == 1 ? "" : "s", query);
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r)
    {
        if (i == 20) {
            printf("  ... and %zu more\n", n - 20);
            break;
        }
        printf("  %s (%s, %s)\n", json_string_value(json_object_get(r, "workflow_id")),
               json_string_value(json_object_get(r, "type")),
               json_string_value(json_object_get(r, "status")));
    }
    if (n > 0 && !yes) {
        if (!isatty(STDIN_FILENO)) {
            json_decref(runs);
            sl_engine_close(e);
            return sl_cli_usage(cli, "refusing to act on %zu workflows without --yes", n);
        }
        printf("Proceed? [y/N] ");
        fflush(stdout);
        char answer[16] = "";
        if (!fgets(answer, sizeof(answer), stdin) || (answer[0] != 'y' && answer[0] != 'Y')) {
            json_decref(runs);
            sl_engine_close(e);
            printf("nothing done\n");
            return SL_EXIT_OK;
        }
    }
    int failed = 0;
    json_array_foreach(runs, i, r)
    {
        const char *id = json_string_value(json_object_get(r, "workflow_id"));
        sl_err_clear(&err);
        if (do_action(e, a, id, reason, note, sizeof(note), &err) == SL_OK) {
            printf("%s\n", note);
        } else {
            failed++;
            fprintf(stderr, "sluice: %s: %s: %s\n", cli->cmd_name, id, err.msg);
        }
    }
    json_decref(runs);
    sl_engine_close(e);
    printf("%zu done, %d failed\n", n - (size_t)failed, failed);
    return failed ? SL_EXIT_FAIL : SL_EXIT_OK;
}

static int cancel_exec(sl_cli *cli, const sl_cli_args *args)
{
    return action_exec(cli, args, ACT_CANCEL);
}

static int terminate_exec(sl_cli *cli, const sl_cli_args *args)
{
    return action_exec(cli, args, ACT_TERMINATE);
}

static int retry_exec(sl_cli *cli, const sl_cli_args *args)
{
    return action_exec(cli, args, ACT_RETRY);
}

/* ---- replay -------------------------------------------------------------------------------- */

static const struct sl_opt replay_opts[] = {
    SL_CLI_STR_REQ('H', "history", 'H', "FILE", "a history from 'workflow show ID -o json' (or -)"),
    SL_CLI_OUT(OUT_TJ, "table (default) or json"),
    SL_CLI_END,
};

static int replay_exec(sl_cli *cli, const sl_cli_args *args)
{
    const char *file = sl_cli_arg_str(args, 'H', NULL);
    sl_out_fmt fmt = (sl_out_fmt)sl_cli_arg_fmt(args, 'o', SL_OUT_TABLE);
    int pos = 0;
    if (!file && pos < args->argc)
        file = args->argv[pos++];
    if (pos < args->argc)
        return sl_cli_usage(cli, "unexpected argument '%s'", args->argv[pos]);
    if (!file)
        return sl_cli_usage(cli, "missing --history FILE");
    sl_err err;
    sl_err_clear(&err);
    json_t *h;
    char *arg = sl_xasprintf("@%s", file);
    sl_code rc = strcmp(file, "-") == 0 ? sl_json_arg("-", &h, &err) : sl_json_arg(arg, &h, &err);
    free(arg);
    if (rc != SL_OK)
        return sl_cli_usage(cli, "--history: %s", err.msg);
    sl_replay_result res;
    rc = sl_replay_history(sl_cli_registry(), h, &res, &err);
    json_decref(h);
    if (rc != SL_OK)
        return sl_cli_fail(cli, "%s: %s", file, err.msg);
    if (fmt == SL_OUT_JSON) {
        json_t *j = json_pack("{s:b,s:s,s:s}", "deterministic", res.deterministic,
                              "workflow_type", res.workflow_type, "message", res.message);
        if (!res.deterministic) {
            json_object_set_new(j, "event_id", json_integer(res.event_id));
            json_object_set_new(j, "recorded", json_string(res.recorded));
            json_object_set_new(j, "requested", json_string(res.requested));
        }
        sl_cli_print_json(j);
        json_decref(j);
    } else {
        printf("%s\n", res.message);
    }
    return res.deterministic ? SL_EXIT_OK : SL_EXIT_FAIL;
}

static const struct sl_cmd cmds[] = {
    {.name = "start",
     .exec = start_exec,
     .opts = start_opts,
     .help = "Start a workflow run, or report the open run that already has this id.\n"
             "Prints the workflow id and run id."},
    {.name = "describe",
     .exec = describe_exec,
     .opts = describe_opts,
     .args = "ID",
     .help = "Status, input, result or failure, pending activities and the chain of runs."},
    {.name = "show",
     .exec = show_exec,
     .opts = show_opts,
     .args = "ID",
     .help = "The run's history, one event per line (times in UTC). -o json prints an array\n"
             "of {event_id, type, time, attributes}; with --follow, one JSON event per line."},
    {.name = "list",
     .exec = list_exec,
     .opts = list_opts,
     .usage = "workflow list [--status S] [--type T] [--prefix ID] [--since TIME] "
              "[--until TIME] [--limit N] [-o table|json [--history]]",
     .help = "Runs, newest first (default limit 100). With -o json, --history adds each run's\n"
             "events as \"history\" (the array 'workflow show -o json' prints)."},
    {.name = "signal",
     .exec = signal_exec,
     .opts = signal_opts,
     .args = "ID",
     .help = "Deliver a named signal (with an optional JSON payload) to a running workflow."},
    {.name = "cancel",
     .exec = cancel_exec,
     .opts = action_opts,
     .usage = "workflow cancel (ID | --query Q [--yes]) [--reason R]",
     .help = "Ask a running workflow to cancel: its code can observe it and clean up; its\n"
             "activities see the request through their heartbeat. Idempotent.\n"
             "--query \"status=running type=T prefix=P since=TIME until=TIME\" acts on every\n"
             "matching workflow after showing the count (confirmation unless --yes)."},
    {.name = "terminate",
     .exec = terminate_exec,
     .opts = action_opts,
     .usage = "workflow terminate (ID | --query Q [--yes]) [--reason R]",
     .help = "Close a running workflow at once (no workflow code runs). Idempotent."},
    {.name = "retry",
     .exec = retry_exec,
     .opts = action_opts,
     .usage = "workflow retry (ID | --query Q [--yes]) [--reason R]",
     .help = "Start a new run of a failed (or canceled, terminated, timed-out) workflow that\n"
             "keeps the results of the steps that succeeded and runs from the first that did\n"
             "not. The new run's history names the run it continues and the events it carried."},
    {.name = "replay",
     .exec = replay_exec,
     .opts = replay_opts,
     .help = "Re-run the current workflow code against a history saved with\n"
             "'sluice workflow show ID -o json'. Prints 'deterministic' (exit 0) or the first\n"
             "mismatch: event id, what history recorded, what the code asked for (exit 1)."},
    {.name = "timers",
     .exec = timers_exec,
     .opts = timers_opts,
     .help = "Durable timers waiting to fire (SL_SLEEP, signal wait timeouts), soonest first:\n"
             "fire time (UTC), workflow id, run id, the timer's sequence number and, in JSON,\n"
             "the workflow type. At most --limit (default 100, at most 256)."},
    {.name = "count",
     .exec = count_exec,
     .opts = count_opts,
     .usage = "workflow count [--status S] [--type T] [--prefix ID] [--since TIME] "
              "[--until TIME]",
     .help = "Number of runs matching the filters."},
};

const struct sl_cmd_group sl_cli_workflow = {"workflow", "start, inspect and list workflows", cmds,
                                             sizeof(cmds) / sizeof(cmds[0])};
