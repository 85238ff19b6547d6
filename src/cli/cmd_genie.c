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
#include "sluice/workflows.h"

#define OUT_TJ  ((1u << SL_OUT_TABLE) | (1u << SL_OUT_JSON))
#define OUT_ALL ((1u << SL_OUT_TABLE) | (1u << SL_OUT_JSON) | (1u << SL_OUT_CSV))

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

static const struct sl_opt spaces_opts[] = {
    SL_CLI_OUT(OUT_TJ, "table (default) or json"),
    SL_CLI_CONN_OPT_TABLE,
    SL_CLI_END,
};

static int spaces_exec(sl_cli *cli, const sl_cli_args *args)
{
    sl_cli_conn f = sl_cli_conn_from_args(args);
    sl_out_fmt fmt = (sl_out_fmt)sl_cli_arg_fmt(args, 'o', SL_OUT_TABLE);
    if (args->argc > 0)
        return sl_cli_usage(cli, "unexpected argument '%s'", args->argv[0]);
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

static const struct sl_opt ask_opts[] = {
    SL_CLI_STR(OPT_SPACE, "space", 0, "ID", "default GENIE_SPACE_ID, else the first visible space"),
    SL_CLI_STR(OPT_CONVERSATION, "conversation", 0, "ID", "ask a follow-up in that conversation"),
    SL_CLI_DUR(OPT_TIMEOUT, "timeout", 0, "DURATION", "give up after it (default 10m)"),
    SL_CLI_INT(OPT_MAX_WIDTH, "max-width", 0, "N", 0, 100000,
               "cut table cells wider than N columns with '…' (default 40, 0 = never)"),
    SL_CLI_OUT(OUT_ALL, "table (default), json or csv (see above)"),
    SL_CLI_CONN_OPT_TABLE,
    SL_CLI_END,
};

static int ask_exec(sl_cli *cli, const sl_cli_args *args)
{
    sl_cli_conn f = sl_cli_conn_from_args(args);
    sl_out_fmt fmt = (sl_out_fmt)sl_cli_arg_fmt(args, 'o', SL_OUT_TABLE);
    sl_dbx_genie_ask_opts o;
    sl_dbx_genie_ask_opts_init(&o);
    long long max_width = sl_cli_arg_int(args, OPT_MAX_WIDTH, SL_DBX_RENDER_MAX_WIDTH);
    o.space_id = sl_cli_arg_str(args, OPT_SPACE, o.space_id);
    if (o.space_id && !*o.space_id)
        return sl_cli_usage(cli, "--space needs a space id");
    o.conversation_id = sl_cli_arg_str(args, OPT_CONVERSATION, o.conversation_id);
    if (o.conversation_id && !*o.conversation_id)
        return sl_cli_usage(cli, "--conversation needs a conversation id");
    o.timeout_ms = sl_cli_arg_ms(args, OPT_TIMEOUT, o.timeout_ms);
    if (sl_cli_arg_has(args, OPT_TIMEOUT) && o.timeout_ms <= 0)
        return sl_cli_usage(cli, "--timeout must be greater than 0");
    if (args->argc < 1)
        return sl_cli_usage(cli, "missing QUESTION");
    if (args->argc > 1)
        return sl_cli_usage(cli, "unexpected argument '%s' (quote the question)", args->argv[1]);
    const char *question = args->argv[0];
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

static const struct sl_opt conversations_opts[] = {
    SL_CLI_STR(OPT_SPACE, "space", 0, "ID", "default GENIE_SPACE_ID, else the first visible space"),
    SL_CLI_FLAG(OPT_ALL_USERS, "all-users", 0,
                "everyone's conversations (needs CAN MANAGE on the space)"),
    SL_CLI_OUT(OUT_TJ, "table (default) or json"),
    SL_CLI_CONN_OPT_TABLE,
    SL_CLI_END,
};

static int conversations_exec(sl_cli *cli, const sl_cli_args *args)
{
    sl_cli_conn f = sl_cli_conn_from_args(args);
    sl_out_fmt fmt = (sl_out_fmt)sl_cli_arg_fmt(args, 'o', SL_OUT_TABLE);
    const char *space = sl_cli_arg_str(args, OPT_SPACE, NULL);
    if (space && !*space)
        return sl_cli_usage(cli, "--space needs a space id");
    bool all = sl_cli_arg_has(args, OPT_ALL_USERS);
    if (args->argc > 0)
        return sl_cli_usage(cli, "unexpected argument '%s'", args->argv[0]);
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

/* Parse, then sl_genie_batch_new + sl_genie_batch_start (admission and starts in one
 * transaction), then print. */
static const struct sl_opt batch_opts[] = {
    SL_CLI_STR(OPT_SPACE, "space", 0, "ID",
               "default GENIE_SPACE_ID, else each workflow picks the first visible space"),
    SL_CLI_STR(OPT_CONVERSATION, "conversation", 0, "new|continue",
               "new: a conversation per question (default); continue: a line's questions "
               "follow up"),
    SL_CLI_DUR(OPT_TIMEOUT, "timeout", 0, "DURATION", "per question (default 10m)"),
    SL_CLI_OUT(OUT_TJ, "table (the ids, default) or json"),
    SL_CLI_END,
};

static int batch_exec(sl_cli *cli, const sl_cli_args *args)
{
    sl_genie_batch_opts o;
    sl_genie_batch_opts_init(&o);
    sl_out_fmt fmt = (sl_out_fmt)sl_cli_arg_fmt(args, 'o', SL_OUT_TABLE);
    o.space_id = sl_cli_arg_str(args, OPT_SPACE, NULL);
    if (o.space_id && !*o.space_id)
        return sl_cli_usage(cli, "--space needs a space id");
    o.conversation = sl_cli_arg_str(args, OPT_CONVERSATION, "new");
    if (strcmp(o.conversation, "new") != 0 && strcmp(o.conversation, "continue") != 0)
        return sl_cli_usage(cli, "--conversation must be new or continue, not '%s'",
                            o.conversation);
    if (sl_cli_arg_has(args, OPT_TIMEOUT) && sl_cli_arg_ms(args, OPT_TIMEOUT, 0) <= 0)
        return sl_cli_usage(cli, "--timeout must be greater than 0");
    o.timeout = sl_cli_arg_str(args, OPT_TIMEOUT, NULL);
    if (args->argc < 1)
        return sl_cli_usage(cli, "missing FILE (one question per line, or - for stdin)");
    if (args->argc > 1)
        return sl_cli_usage(cli, "unexpected argument '%s'", args->argv[1]);
    const char *path = args->argv[0];
    sl_cli_quiet_logs();

    sl_err err;
    sl_err_clear(&err);
    int64_t max_queue;
    if (sl_genie_max_queue_size(&max_queue, &err) != SL_OK)
        return sl_cli_fail_err(cli, &err);
    o.max_queue = max_queue;
    char *text = NULL;
    size_t len = 0;
    if (sl_file_read_arg(path, &text, &len, &err) != SL_OK)
        return sl_cli_fail_err(cli, &err);
    sl_genie_batch *b = NULL;
    sl_code brc = sl_genie_batch_new(text, len, path, &o, &b, &err);
    free(text);
    if (brc != SL_OK)
        return sl_cli_fail_err(cli, &err);
    sl_engine *e = sl_cli_engine_open(cli, false, false, SL_DURABILITY_NORMAL);
    if (!e) {
        sl_genie_batch_free(b);
        return SL_EXIT_FAIL;
    }
    brc = sl_genie_batch_start(e, b, &err);
    sl_engine_close(e);
    if (brc != SL_OK) {
        sl_genie_batch_free(b);
        return sl_cli_fail_err(cli, &err);
    }
    if (fmt == SL_OUT_JSON) {
        json_t *arr = sl_genie_batch_to_json(b);
        sl_cli_print_json(arr);
        json_decref(arr);
    } else {
        for (size_t i = 0; i < b->n_items; i++)
            printf("%s\n", b->items[i].workflow_id);
    }
    fflush(stdout);
    fprintf(stderr, "%zu workflow%s started, %zu already running or completed (task queue %s)\n",
            b->n_started, b->n_started == 1 ? "" : "s", b->n_items - b->n_started,
            SL_GENIE_BATCH_QUEUE);
    sl_genie_batch_free(b);
    return SL_EXIT_OK;
}

static const struct sl_cmd cmds[] = {
    {
        .name = "spaces",
        .exec = spaces_exec,
        .opts = spaces_opts,
        .help = "List the Genie spaces this user can see (space_id, title, warehouse, "
                "description).",
    },
    {
        .name = "ask",
        .exec = ask_exec,
        .opts = ask_opts,
        .args = "QUESTION",
        .help = "Ask Genie one question and wait for the answer: the text, the generated SQL\n"
                "and its description, then the rows as a table, and last a line\n"
                "'conversation: <id>' to follow up with --conversation <id>.\n"
                "  -o json  one object: conversation_id, message_id, status, text, sql,\n"
                "           description, columns, rows (objects), row_count, truncated\n"
                "  -o csv   the rows only, RFC 4180 (conversation line on stderr)\n"
                "Polling starts at GENIE_POLL_INTERVAL (1s) and backs off to\n"
                "GENIE_POLL_MAX_INTERVAL (10s).",
    },
    {
        .name = "conversations",
        .exec = conversations_exec,
        .opts = conversations_opts,
        .help = "List the conversations of a space (yours, or everyone's with --all-users,\n"
                "which needs CAN MANAGE on the space).",
    },
    {
        .name = "batch",
        .exec = batch_exec,
        .opts = batch_opts,
        .args = "FILE|-",
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
        .exec = sl_cli_genie_export_exec,
        .opts = sl_cli_export_opts,
        .usage = "genie export --space-id ID [--include-all] [--max-conversations N] [--from T] "
                 "[--to T] [-o conversations.yaml]",
        .help = "Export a Genie space's conversations (messages with content, by time) to YAML\n"
                "in the format of the genie-simulation tool, for `sluice loadtest genie\n"
                "--conversations FILE`. --from/--to: 7d, 24h, 30m, 1w, ISO 8601 or YYYY-MM-DD.",
    },
};

const struct sl_cmd_group sl_cli_genie = {"genie", "Databricks Genie: ask questions, batches", cmds,
                                          sizeof(cmds) / sizeof(cmds[0])};
