/*
 * cmd_genie.c - `sluice genie ...`: ask Databricks Genie questions from the shell and
 * queue batches of them as durable `genie_query` workflows.
 *
 *   genie spaces         the spaces this user can see
 *   genie ask Q          one question, answered end to end (sl_dbx_genie_ask): the text, the
 *                        SQL and its description, the rows; then `conversation: <id>`
 *   genie conversations  conversations of a space
 *   genie batch FILE     one genie_query workflow per non-empty line, on task queue genie
 *
 * Connection flags as `sluice dbx` has (--host, --token, --profile), else DATABRICKS_*,
 * ./.env, ~/.databrickscfg. Unless LOG_LEVEL is set only warnings are logged, so a
 * failure leaves exactly one line on stderr. See docs/genie.md.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sluice/dbx.h"
#include "sluice/engine.h"

#define OUT_TJ  ((1u << SL_OUT_TABLE) | (1u << SL_OUT_JSON))
#define OUT_ALL ((1u << SL_OUT_TABLE) | (1u << SL_OUT_JSON) | (1u << SL_OUT_CSV))

#define MAX_QUEUE_SIZE_DEFAULT 1000
#define BATCH_QUEUE            "genie"
#define BATCH_MAX_LINES        100000

enum {
    OPT_FIRST = 1000,
    OPT_SPACE,
    OPT_CONVERSATION,
    OPT_TIMEOUT,
    OPT_MAX_WIDTH,
    OPT_ALL_USERS,
};

/* Render a listing: one row per object of `list`, the given keys as columns. */
static void print_listing(const json_t *list, size_t n, const char *const *names,
                          const char *const *keys, size_t time_col)
{
    json_t *rows = sl_json_check(json_array());
    size_t i;
    const json_t *o;
    json_array_foreach(list, i, o)
    {
        json_t *row = sl_json_check(json_array());
        for (size_t k = 0; k < n; k++) {
            const json_t *v = json_object_get(o, keys[k]);
            char ts[40];
            if (k == time_col && json_is_integer(v))
                json_array_append_new(
                    row, json_string(sl_time_format(json_integer_value(v), ts, sizeof(ts))));
            else
                json_array_append_new(row, v ? json_incref((json_t *)v) : json_null());
        }
        json_array_append_new(rows, row);
    }
    sl_dbx_render_opts ro;
    sl_dbx_render_opts_init(&ro);
    ro.align_numbers = false; /* ids are hex: a column of all-digit ids is still text */
    sl_dbx_render_table(stdout, n, names, rows, &ro);
    json_decref(rows);
}

/* True when every real in j prints back to the same double with 15 significant digits. */
static bool reals_fit_15(const json_t *j)
{
    if (json_is_real(j)) {
        char buf[40];
        snprintf(buf, sizeof(buf), "%.15g", json_real_value(j));
        return strtod(buf, NULL) == json_real_value(j);
    }
    size_t i;
    const char *k;
    const json_t *v;
    if (json_is_array(j)) {
        json_array_foreach(j, i, v)
        {
            if (!reals_fit_15(v))
                return false;
        }
    }
    if (json_is_object(j)) {
        json_object_foreach((json_t *)j, k, v)
        {
            if (!reals_fit_15(v))
                return false;
        }
    }
    return true;
}

/* Like sl_cli_print_json, but DOUBLE cells print as 9115.28 rather than
 * 9115.2800000000007 whenever that loses nothing. */
static void print_json_tidy(const json_t *j)
{
    size_t flags = JSON_INDENT(2) | JSON_REAL_PRECISION(reals_fit_15(j) ? 15 : 17);
    char *s = json_dumps(j, flags);
    if (s) {
        puts(s);
        free(s);
    }
}

/* ---- genie spaces ---- */

static int spaces_run(sl_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        SL_CLI_CONN_OPTS, {"output", required_argument, NULL, 'o'}, {NULL, 0, NULL, 0}};
    sl_cli_conn f = {0};
    sl_out_fmt fmt = SL_OUT_TABLE;
    int c;
    while ((c = sl_cli_getopt(cli, argc, argv, "o:", longopts)) != -1) {
        if (c == '?')
            return SL_EXIT_USAGE;
        if (sl_cli_conn_opt(&f, c))
            continue;
        if (c == 'o' && !sl_cli_parse_output(cli, optarg, OUT_TJ, &fmt))
            return SL_EXIT_USAGE;
    }
    if (optind < argc)
        return sl_cli_usage(cli, "unexpected argument '%s'", argv[optind]);
    sl_dbx_client *cl = NULL;
    int rc = sl_cli_dbx_open(cli, &f, &cl);
    if (rc != SL_EXIT_OK)
        return sl_cli_dbx_finish(cl, rc);
    sl_err err;
    sl_err_clear(&err);
    json_t *list = NULL;
    if (sl_dbx_genie_space_list(cl, 0, NULL, &list, &err) != SL_OK)
        return sl_cli_dbx_finish(cl, sl_cli_fail_err(cli, &err));
    if (fmt == SL_OUT_JSON) {
        sl_cli_print_json(list);
    } else {
        static const char *const names[] = {"space_id", "title", "warehouse_id", "description"};
        print_listing(list, 4, names, names, (size_t)-1);
    }
    json_decref(list);
    return sl_cli_dbx_finish(cl, SL_EXIT_OK);
}

/* ---- genie ask ---- */

static void print_answer_table(const sl_dbx_genie_answer *a, size_t max_width)
{
    bool sep = false;
    if (a->text) {
        printf("%s\n", a->text);
        sep = true;
    }
    if (a->sql) {
        if (sep)
            putchar('\n');
        if (a->description)
            printf("Description: %s\n", a->description);
        printf("SQL: %s\n", a->sql);
        sep = true;
    }
    size_t n_cols = json_array_size(a->columns);
    if (n_cols > 0) {
        const char **names = sl_xcalloc(n_cols + 1, sizeof(char *));
        for (size_t i = 0; i < n_cols; i++) {
            names[i] = json_string_value(json_object_get(json_array_get(a->columns, i), "name"));
            if (!names[i])
                names[i] = "";
        }
        if (sep)
            putchar('\n');
        sl_dbx_render_opts ro;
        sl_dbx_render_opts_init(&ro);
        ro.max_width = max_width;
        sl_dbx_render_table(stdout, n_cols, names, a->rows, &ro);
        size_t n = json_array_size(a->rows);
        printf("(%zu row%s%s)\n", n, n == 1 ? "" : "s", a->truncated ? ", truncated by Genie" : "");
        free(names);
        sep = true;
    }
    if (sep)
        putchar('\n');
    printf("conversation: %s\n", a->conversation_id);
}

static int ask_run(sl_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        SL_CLI_CONN_OPTS,
        {"space", required_argument, NULL, OPT_SPACE},
        {"conversation", required_argument, NULL, OPT_CONVERSATION},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"max-width", required_argument, NULL, OPT_MAX_WIDTH},
        {"output", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    sl_cli_conn f = {0};
    sl_out_fmt fmt = SL_OUT_TABLE;
    sl_dbx_genie_ask_opts o;
    sl_dbx_genie_ask_opts_init(&o);
    long long max_width = SL_DBX_RENDER_MAX_WIDTH;
    int c;
    while ((c = sl_cli_getopt(cli, argc, argv, "o:", longopts)) != -1) {
        if (c == '?')
            return SL_EXIT_USAGE;
        if (sl_cli_conn_opt(&f, c))
            continue;
        switch (c) {
        case OPT_SPACE:
            if (!*optarg)
                return sl_cli_usage(cli, "--space needs a space id");
            o.space_id = optarg;
            break;
        case OPT_CONVERSATION:
            if (!*optarg)
                return sl_cli_usage(cli, "--conversation needs a conversation id");
            o.conversation_id = optarg;
            break;
        case OPT_TIMEOUT:
            if (!sl_cli_parse_duration(cli, "--timeout", optarg, &o.timeout_ms))
                return SL_EXIT_USAGE;
            if (o.timeout_ms <= 0)
                return sl_cli_usage(cli, "--timeout must be greater than 0");
            break;
        case OPT_MAX_WIDTH:
            if (!sl_cli_parse_int(cli, "--max-width", optarg, 0, 100000, &max_width))
                return SL_EXIT_USAGE;
            break;
        case 'o':
            if (!sl_cli_parse_output(cli, optarg, OUT_ALL, &fmt))
                return SL_EXIT_USAGE;
            break;
        }
    }
    if (optind >= argc)
        return sl_cli_usage(cli, "missing QUESTION");
    if (optind + 1 < argc)
        return sl_cli_usage(cli, "unexpected argument '%s' (quote the question)", argv[optind + 1]);
    const char *question = argv[optind];
    if (!*question)
        return sl_cli_usage(cli, "empty QUESTION");

    sl_dbx_client *cl = NULL;
    int rc = sl_cli_dbx_open(cli, &f, &cl);
    if (rc != SL_EXIT_OK)
        return sl_cli_dbx_finish(cl, rc);
    sl_err err;
    sl_err_clear(&err);
    sl_dbx_call call = {0};
    if (sl_dbx_genie_poll_from_env(&call, &err) != SL_OK)
        return sl_cli_dbx_finish(cl, sl_cli_fail_err(cli, &err));
    sl_dbx_genie_state st;
    sl_dbx_genie_answer *ans = NULL;
    if (sl_dbx_genie_ask(cl, question, &o, &call, &st, &ans, &err) != SL_OK)
        return sl_cli_dbx_finish(cl, sl_cli_fail_err(cli, &err));
    if (st.space_picked && sl_log_get_level() > SL_LOG_INFO)
        fprintf(stderr, "sluice: %s: GENIE_SPACE_ID not set; used Genie space %s (%s)\n",
                cli->cmd_name, st.space_id, st.space_title);
    if (fmt == SL_OUT_JSON) {
        json_t *j = sl_dbx_genie_answer_to_json(ans, 0, SL_DBX_GENIE_JSON_ROW_OBJECTS);
        json_object_set_new(j, "question", json_string(question));
        print_json_tidy(j);
        json_decref(j);
    } else if (fmt == SL_OUT_CSV) {
        size_t n_cols = json_array_size(ans->columns);
        const char **names = sl_xcalloc(n_cols + 1, sizeof(char *));
        for (size_t i = 0; i < n_cols; i++) {
            names[i] = json_string_value(json_object_get(json_array_get(ans->columns, i), "name"));
            if (!names[i])
                names[i] = "";
        }
        sl_dbx_render_csv(stdout, n_cols, names, ans->rows);
        free(names);
        fflush(stdout);
        fprintf(stderr, "conversation: %s\n", ans->conversation_id);
    } else {
        print_answer_table(ans, (size_t)max_width);
    }
    sl_dbx_genie_answer_free(ans);
    return sl_cli_dbx_finish(cl, SL_EXIT_OK);
}

/* ---- genie conversations ---- */

static int conversations_run(sl_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        SL_CLI_CONN_OPTS,
        {"space", required_argument, NULL, OPT_SPACE},
        {"all-users", no_argument, NULL, OPT_ALL_USERS},
        {"output", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    sl_cli_conn f = {0};
    sl_out_fmt fmt = SL_OUT_TABLE;
    const char *space = NULL;
    bool all = false;
    int c;
    while ((c = sl_cli_getopt(cli, argc, argv, "o:", longopts)) != -1) {
        if (c == '?')
            return SL_EXIT_USAGE;
        if (sl_cli_conn_opt(&f, c))
            continue;
        if (c == OPT_SPACE) {
            if (!*optarg)
                return sl_cli_usage(cli, "--space needs a space id");
            space = optarg;
        } else if (c == OPT_ALL_USERS) {
            all = true;
        } else if (c == 'o' && !sl_cli_parse_output(cli, optarg, OUT_TJ, &fmt)) {
            return SL_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return sl_cli_usage(cli, "unexpected argument '%s'", argv[optind]);
    sl_dbx_client *cl = NULL;
    int rc = sl_cli_dbx_open(cli, &f, &cl);
    if (rc != SL_EXIT_OK)
        return sl_cli_dbx_finish(cl, rc);
    sl_err err;
    sl_err_clear(&err);
    char *space_id = NULL;
    json_t *list = NULL;
    if (sl_dbx_genie_space_resolve(cl, space, NULL, &space_id, &err) != SL_OK ||
        sl_dbx_genie_conversation_list(cl, space_id, all, 0, NULL, &list, &err) != SL_OK) {
        free(space_id);
        return sl_cli_dbx_finish(cl, sl_cli_fail_err(cli, &err));
    }
    if (fmt == SL_OUT_JSON) {
        sl_cli_print_json(list);
    } else {
        static const char *const names[] = {"conversation_id", "title", "created"};
        static const char *const keys[] = {"conversation_id", "title", "created_timestamp"};
        print_listing(list, 3, names, keys, 2);
    }
    json_decref(list);
    free(space_id);
    return sl_cli_dbx_finish(cl, SL_EXIT_OK);
}

/* ---- genie batch ---- */

/* Questions of one line: a JSON array of strings, else the line itself. Owned. */
/* The questions of one batch line (owned), or NULL with *why set: a line is UTF-8 text, and
 * one that parses as JSON but is not a non-empty array of non-empty strings is a mistake
 * (a line that merely starts with '[' and is not JSON is a question). */
static json_t *line_questions(const char *line, const char **why)
{
    json_t *text = json_string(line);
    if (!text) {
        *why = "is not UTF-8 text";
        return NULL;
    }
    if (line[0] == '[') {
        json_t *j = json_loads(line, JSON_DECODE_ANY, NULL);
        if (j) {
            bool ok = json_is_array(j) && json_array_size(j) > 0;
            size_t i;
            json_t *q;
            json_array_foreach(j, i, q)
            {
                ok = ok && json_is_string(q) && json_string_length(q) > 0;
            }
            json_decref(ok ? text : j);
            if (ok)
                return j;
            json_decref(text);
            *why = "is JSON but not an array of non-empty strings";
            return NULL;
        }
    }
    return sl_json_check(json_pack("[o]", text));
}

/* The space batch workflows use: --space, else GENIE_SPACE_ID (environment, ./.env or the
 * profile), else "" (each activity picks the first visible space). Owned. */
static char *batch_space(const char *flag)
{
    if (flag)
        return sl_xstrdup(flag);
    sl_dbx_settings s;
    sl_err err;
    sl_err_clear(&err);
    char *id = NULL;
    if (sl_dbx_config_resolve_default(NULL, &s, &err) == SL_OK) {
        if (s.genie_space_id && *s.genie_space_id)
            id = sl_xstrdup(s.genie_space_id);
        sl_dbx_settings_cleanup(&s);
    } else {
        const char *e = getenv("GENIE_SPACE_ID");
        if (e && *e)
            id = sl_xstrdup(e);
    }
    return id ? id : sl_xstrdup("");
}

typedef struct batch_item {
    char id[40];
    size_t line_no;
    json_t *input;
    const char *state; /* "started", or the status of the run that is already there */
    char run_id[37];
} batch_item;

static int batch_run(sl_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"space", required_argument, NULL, OPT_SPACE},
        {"conversation", required_argument, NULL, OPT_CONVERSATION},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"output", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    const char *space_flag = NULL, *mode = "new", *timeout = NULL;
    sl_out_fmt fmt = SL_OUT_TABLE;
    int c;
    while ((c = sl_cli_getopt(cli, argc, argv, "o:", longopts)) != -1) {
        switch (c) {
        case OPT_SPACE:
            if (!*optarg)
                return sl_cli_usage(cli, "--space needs a space id");
            space_flag = optarg;
            break;
        case OPT_CONVERSATION:
            if (strcmp(optarg, "new") != 0 && strcmp(optarg, "continue") != 0)
                return sl_cli_usage(cli, "--conversation must be new or continue, not '%s'",
                                    optarg);
            mode = optarg;
            break;
        case OPT_TIMEOUT: {
            int64_t ms;
            if (!sl_cli_parse_duration(cli, "--timeout", optarg, &ms))
                return SL_EXIT_USAGE;
            if (ms <= 0)
                return sl_cli_usage(cli, "--timeout must be greater than 0");
            timeout = optarg;
            break;
        }
        case 'o':
            if (!sl_cli_parse_output(cli, optarg, OUT_TJ, &fmt))
                return SL_EXIT_USAGE;
            break;
        default:
            return SL_EXIT_USAGE;
        }
    }
    if (optind >= argc)
        return sl_cli_usage(cli, "missing FILE (one question per line, or - for stdin)");
    if (optind + 1 < argc)
        return sl_cli_usage(cli, "unexpected argument '%s'", argv[optind + 1]);
    const char *path = argv[optind];
    sl_cli_quiet_logs();

    long long max_queue = MAX_QUEUE_SIZE_DEFAULT;
    const char *mq = getenv("MAX_QUEUE_SIZE");
    if (mq && *mq) {
        char *end;
        max_queue = strtoll(mq, &end, 10);
        if (*end || max_queue < 1 || max_queue > 100000000)
            return sl_cli_fail(cli, "bad MAX_QUEUE_SIZE '%.40s': expected an integer >= 1", mq);
    }

    sl_err err;
    sl_err_clear(&err);
    char *text = NULL;
    size_t len = 0;
    if (sl_file_read_arg(path, &text, &len, &err) != SL_OK)
        return sl_cli_fail_err(cli, &err);

    const char *nul = memchr(text, '\0', len);
    if (nul) {
        size_t nul_line = 1;
        for (const char *q = text; q < nul; q++)
            nul_line += *q == '\n';
        int frc = sl_cli_fail(cli, "%s line %zu has a NUL byte (not a text file?)", path, nul_line);
        free(text);
        return frc;
    }
    char *space = batch_space(space_flag);
    batch_item *items = NULL;
    size_t n_items = 0, cap_items = 0, line_no = 0;
    int rc = SL_EXIT_OK;
    /* strtok_r would skip empty lines and so lose the line numbering: split by hand. */
    for (char *line = text; line && (size_t)(line - text) <= len;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        line_no++;
        char *s = line, *e = line + strlen(line);
        while (*s == ' ' || *s == '\t')
            s++;
        while (e > s && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
            *--e = '\0';
        line = nl ? nl + 1 : NULL;
        if (!*s)
            continue;
        if (n_items == BATCH_MAX_LINES) {
            rc = sl_cli_fail(cli, "%s has more than %d questions", path, BATCH_MAX_LINES);
            goto out;
        }
        if (n_items == cap_items)
            items =
                sl_xrealloc(items, (cap_items = cap_items ? 2 * cap_items : 64) * sizeof(*items));
        batch_item *it = &items[n_items++];
        memset(it, 0, sizeof(*it));
        it->line_no = line_no;
        char num[32];
        snprintf(num, sizeof(num), "%zu", line_no);
        /* FNV-1a: stable across runs and machines, so a re-run finds the same ids */
        uint64_t h = SL_FNV1A_INIT;
        h = sl_fnv1a(h, space, strlen(space) + 1);
        h = sl_fnv1a(h, num, strlen(num) + 1);
        h = sl_fnv1a(h, s, strlen(s));
        snprintf(it->id, sizeof(it->id), "genie-%016llx", (unsigned long long)h);
        const char *why = NULL;
        json_t *qs = line_questions(s, &why);
        if (!qs) {
            rc = sl_cli_fail(cli, "%s line %zu %s", path, line_no, why);
            goto out;
        }
        it->input =
            sl_json_check(json_pack("{s:o,s:s}", "questions", qs, "conversation", mode));
        if (*space)
            json_object_set_new(it->input, "space_id", json_string(space));
        if (timeout)
            json_object_set_new(it->input, "timeout", json_string(timeout));
    }
    if (n_items == 0) {
        rc = sl_cli_fail(cli, "%s has no questions (no non-empty line)", path);
        goto out;
    }

    sl_engine *e = sl_cli_engine_open(cli, false, false, SL_DURABILITY_NORMAL);
    if (!e) {
        rc = SL_EXIT_FAIL;
        goto out;
    }
    /* Idempotent re-runs: a line whose workflow is running or completed is not started again
     * (a failed, canceled or terminated one is). */
    size_t to_start = 0;
    for (size_t i = 0; i < n_items; i++) {
        json_t *d = NULL;
        sl_code src = sl_engine_describe(e, items[i].id, NULL, &d, &err);
        if (src == SL_OK) {
            const char *status = json_string_value(json_object_get(d, "status"));
            if (sl_str_eq(status, "running") || sl_str_eq(status, "completed")) {
                items[i].state = sl_str_eq(status, "running") ? "running" : "completed";
                snprintf(items[i].run_id, sizeof(items[i].run_id), "%s",
                         json_string_value(json_object_get(d, "run_id")));
            }
            json_decref(d);
        } else if (src != SL_ENOTFOUND) {
            sl_engine_close(e);
            rc = sl_cli_fail_err(cli, &err);
            goto out;
        }
        sl_err_clear(&err);
        if (!items[i].state)
            to_start++;
    }
    sl_run_filter rf;
    sl_run_filter_init(&rf);
    rf.status = SL_RUN_RUNNING;
    rf.type = "genie_query";
    rf.latest_only = true;
    int64_t running = 0;
    if (sl_engine_count(e, &rf, &running, &err) != SL_OK) {
        sl_engine_close(e);
        rc = sl_cli_fail_err(cli, &err);
        goto out;
    }
    if (running + (int64_t)to_start > max_queue) {
        sl_engine_close(e);
        rc = sl_cli_fail(cli,
                         "refusing to queue %zu workflow%s: %lld genie_query workflow%s already "
                         "running and MAX_QUEUE_SIZE is %lld (nothing was started)",
                         to_start, to_start == 1 ? "" : "s", (long long)running,
                         running == 1 ? " is" : "s are", max_queue);
        goto out;
    }
    size_t started = 0;
    for (size_t i = 0; i < n_items; i++) {
        if (items[i].state)
            continue;
        sl_start_opts so = {.workflow_id = items[i].id, .task_queue = BATCH_QUEUE};
        sl_start_result res;
        if (sl_engine_start(e, "genie_query", items[i].input, &so, &res, &err) != SL_OK) {
            sl_engine_close(e);
            sl_err_prefix(&err, "line %zu (after starting %zu)", items[i].line_no, started);
            rc = sl_cli_fail_err(cli, &err);
            goto out;
        }
        items[i].state = res.existing ? "running" : "started";
        memcpy(items[i].run_id, res.run_id, sizeof(items[i].run_id));
        started += !res.existing;
    }
    sl_engine_close(e);
    if (fmt == SL_OUT_JSON) {
        json_t *arr = sl_json_check(json_array());
        for (size_t i = 0; i < n_items; i++)
            json_array_append_new(
                arr, sl_json_check(json_pack("{s:s,s:s,s:s,s:I,s:O}", "workflow_id", items[i].id,
                                             "run_id", items[i].run_id, "state", items[i].state,
                                             "line", (json_int_t)items[i].line_no, "questions",
                                             json_object_get(items[i].input, "questions"))));
        sl_cli_print_json(arr);
        json_decref(arr);
    } else {
        for (size_t i = 0; i < n_items; i++)
            printf("%s\n", items[i].id);
    }
    fflush(stdout);
    fprintf(stderr, "%zu workflow%s started, %zu already running or completed (task queue %s)\n",
            started, started == 1 ? "" : "s", n_items - started, BATCH_QUEUE);
out:
    for (size_t i = 0; i < n_items; i++)
        json_decref(items[i].input);
    free(items);
    free(space);
    free(text);
    return rc;
}

static const struct sl_cmd cmds[] = {
    {
        .name = "spaces",
        .run = spaces_run,
        .usage = "genie spaces [-o table|json] " SL_CLI_CONN_USAGE,
        .help = "List the Genie spaces this user can see (space_id, title, warehouse, "
                "description).",
    },
    {
        .name = "ask",
        .run = ask_run,
        .usage = "genie ask QUESTION [--space ID] [--conversation ID] [--timeout DURATION] "
                 "[--max-width N] [-o table|json|csv] " SL_CLI_CONN_USAGE,
        .help = "Ask Genie one question and wait for the answer: the text, the generated SQL\n"
                "and its description, then the rows as a table, and last a line\n"
                "'conversation: <id>' to follow up with --conversation <id>.\n"
                "  --space ID         default GENIE_SPACE_ID, else the first visible space\n"
                "  --conversation ID  ask a follow-up in that conversation\n"
                "  --timeout DUR      give up after DUR (default 10m)\n"
                "  --max-width N      cut table cells wider than N columns with '…' (default "
                "40, 0 = never)\n"
                "  -o json            one object: conversation_id, message_id, status, text, sql,\n"
                "                     description, columns, rows (objects), row_count, truncated\n"
                "  -o csv             the rows only, RFC 4180 (conversation line on stderr)\n"
                "Polling starts at GENIE_POLL_INTERVAL (1s) and backs off to\n"
                "GENIE_POLL_MAX_INTERVAL (10s).",
    },
    {
        .name = "conversations",
        .run = conversations_run,
        .usage = "genie conversations [--space ID] [--all-users] [-o table|json] " SL_CLI_CONN_USAGE,
        .help = "List the conversations of a space (yours, or everyone's with --all-users,\n"
                "which needs CAN MANAGE on the space).",
    },
    {
        .name = "batch",
        .run = batch_run,
        .usage = "genie batch FILE|- [--space ID] [--conversation new|continue] "
                 "[--timeout DURATION] [-o table|json]",
        .help = "Queue one genie_query workflow per non-empty line of FILE on task queue\n"
                "'genie' and print their ids (genie-<hash of space, line number and line>).\n"
                "A line is one question, or a JSON array of questions asked in order\n"
                "(--conversation continue: as follow-ups in one Genie conversation).\n"
                "Re-running a batch starts only lines whose workflow is not running or\n"
                "completed. A batch that would take the running genie_query workflows over\n"
                "MAX_QUEUE_SIZE (default 1000) is refused before anything starts.\n"
                "Run them with: sluice worker --task-queue genie",
    },
    {
        .name = "export",
        .run = sl_cli_genie_export_run,
        .usage = "genie export --space-id ID [--include-all] [--max-conversations N] [--from T] "
                 "[--to T] [-o conversations.yaml]",
        .help = "Export a Genie space's conversations (messages with content, by time) to YAML\n"
                "in the format of the genie-simulation tool, for `sluice loadtest genie\n"
                "--conversations FILE`. --from/--to: 7d, 24h, 30m, 1w, ISO 8601 or YYYY-MM-DD.",
    },
};

const struct sl_cmd_group sl_cli_genie = {"genie", "Databricks Genie: ask questions, batches", cmds,
                                          sizeof(cmds) / sizeof(cmds[0])};
