/*
 * cmd_dbx.c - `sluice dbx ...`: talk to a Databricks workspace (or the local emulator)
 * from the shell: list warehouses, run SQL, move files to and from volumes.
 *
 * Connection flags on every command: --host, --token, --profile; everything else comes
 * from the environment, ./.env and ~/.databrickscfg (see docs/dbx.md). Unless
 * LOG_LEVEL is set, only warnings are logged, so stderr holds just the error line.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "sluice/dbx.h"

enum {
    OPT_FIRST = 1000,
    OPT_WAREHOUSE,
    OPT_CATALOG,
    OPT_SCHEMA,
    OPT_PARAM,
    OPT_OVERWRITE,
    OPT_TIMEOUT,
    OPT_ROW_LIMIT,
};

/* ---- dbx warehouses ---- */

static int warehouses_run(sl_cli *cli, int argc, char **argv)
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
        if (c == 'o' &&
            !sl_cli_parse_output(cli, optarg, (1u << SL_OUT_TABLE) | (1u << SL_OUT_JSON), &fmt))
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
    if (sl_dbx_warehouse_list(cl, NULL, &list, &err) != SL_OK)
        return sl_cli_dbx_finish(cl, sl_cli_fail_err(cli, &err));
    if (fmt == SL_OUT_JSON) {
        sl_cli_print_json(list);
    } else {
        static const char *const names[] = {"id", "name", "state", "size"};
        static const char *const keys[] = {"id", "name", "state", "cluster_size"};
        json_t *rows = json_array();
        size_t i;
        json_t *w;
        json_array_foreach(list, i, w)
        {
            json_t *row = json_array();
            for (size_t k = 0; k < 4; k++) {
                json_t *v = json_object_get(w, keys[k]);
                json_array_append_new(row, v ? json_incref(v) : json_null());
            }
            json_array_append_new(rows, row);
        }
        sl_dbx_render_table(stdout, 4, names, rows, NULL);
        json_decref(rows);
    }
    json_decref(list);
    return sl_cli_dbx_finish(cl, SL_EXIT_OK);
}

/* ---- dbx sql ---- */

/* SQL type names accepted as the :TYPE suffix of --param. */
static bool is_sql_type(const char *t)
{
    static const char *const types[] = {
        "STRING",    "INT",           "INTEGER",       "BIGINT", "LONG",    "SMALLINT", "SHORT",
        "TINYINT",   "BYTE",          "FLOAT",         "DOUBLE", "REAL",    "BOOLEAN",  "DATE",
        "TIMESTAMP", "TIMESTAMP_NTZ", "TIMESTAMP_LTZ", "BINARY", "DECIMAL", "VOID",     "INTERVAL",
    };
    size_t n = strcspn(t, "(");
    if (n == 0)
        return false;
    if (t[n] == '(' && t[strlen(t) - 1] != ')')
        return false;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strlen(types[i]) == n && strncasecmp(t, types[i], n) == 0)
            return true;
    return false;
}

/* "name=value[:TYPE]" or "name[:TYPE]" (SQL NULL). Strings point into `arg` (modified). */
static bool parse_param(char *arg, sl_dbx_sql_param *p)
{
    memset(p, 0, sizeof(*p));
    char *eq = strchr(arg, '=');
    char *colon = strrchr(eq ? eq + 1 : arg, ':');
    if (colon && is_sql_type(colon + 1)) {
        *colon = '\0';
        p->type = colon + 1;
    }
    if (eq) {
        *eq = '\0';
        p->value = eq + 1;
    }
    p->name = arg;
    if (p->name[0] == ':') /* tolerate ":name=..." */
        p->name++;
    if (!*p->name)
        return false;
    for (const char *q = p->name; *q; q++)
        if (!(*q == '_' || (*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'z') ||
              (*q >= 'A' && *q <= 'Z')))
            return false;
    return true;
}

static int sql_run(sl_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        SL_CLI_CONN_OPTS,
        {"warehouse", required_argument, NULL, OPT_WAREHOUSE},
        {"catalog", required_argument, NULL, OPT_CATALOG},
        {"schema", required_argument, NULL, OPT_SCHEMA},
        {"param", required_argument, NULL, OPT_PARAM},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"row-limit", required_argument, NULL, OPT_ROW_LIMIT},
        {"output", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    sl_cli_conn f = {0};
    sl_out_fmt fmt = SL_OUT_TABLE;
    sl_dbx_statement_req req;
    sl_dbx_statement_req_init(&req);
    sl_dbx_sql_param *params = sl_xcalloc((size_t)argc + 1, sizeof(*params));
    size_t n_params = 0;
    int64_t timeout_ms = 0;
    long long row_limit = 0;
    int c, rc = SL_EXIT_OK;
    while ((c = sl_cli_getopt(cli, argc, argv, "o:", longopts)) != -1) {
        if (c == '?') {
            free(params);
            return SL_EXIT_USAGE;
        }
        if (sl_cli_conn_opt(&f, c))
            continue;
        switch (c) {
        case OPT_WAREHOUSE:
            req.warehouse_id = optarg;
            break;
        case OPT_CATALOG:
            req.catalog = optarg;
            break;
        case OPT_SCHEMA:
            req.schema = optarg;
            break;
        case OPT_PARAM:
            if (!parse_param(optarg, &params[n_params])) {
                free(params);
                return sl_cli_usage(cli, "--param wants name=value[:TYPE], not '%s'", optarg);
            }
            n_params++;
            break;
        case OPT_TIMEOUT:
            if (!sl_cli_parse_duration(cli, "--timeout", optarg, &timeout_ms)) {
                free(params);
                return SL_EXIT_USAGE;
            }
            break;
        case OPT_ROW_LIMIT:
            if (!sl_cli_parse_int(cli, "--row-limit", optarg, 1, INT64_MAX, &row_limit)) {
                free(params);
                return SL_EXIT_USAGE;
            }
            break;
        case 'o':
            if (!sl_cli_parse_output(cli, optarg, 7u, &fmt)) {
                free(params);
                return SL_EXIT_USAGE;
            }
            break;
        }
    }
    if (optind >= argc) {
        free(params);
        return sl_cli_usage(cli, "missing STATEMENT");
    }
    if (optind + 1 < argc) {
        free(params);
        return sl_cli_usage(cli, "unexpected argument '%s' (quote the statement)",
                            argv[optind + 1]);
    }
    char *stmt_buf = NULL;
    if (strcmp(argv[optind], "-") == 0) {
        sl_err rerr;
        sl_err_clear(&rerr);
        if (sl_file_read_arg("-", &stmt_buf, NULL, &rerr) != SL_OK) {
            free(params);
            return sl_cli_fail_err(cli, &rerr);
        }
    }
    req.statement = stmt_buf ? stmt_buf : argv[optind];
    if (!*req.statement) {
        free(params);
        free(stmt_buf);
        return sl_cli_usage(cli, "empty STATEMENT");
    }
    req.params = params;
    req.n_params = n_params;
    req.row_limit = row_limit;

    sl_dbx_client *cl = NULL;
    sl_dbx_result *res = NULL;
    const char **names = NULL, **types = NULL;
    if ((rc = sl_cli_dbx_open(cli, &f, &cl)) != SL_EXIT_OK)
        goto out;
    sl_dbx_call call = {0};
    if (timeout_ms > 0)
        call.deadline_ms = sl_now_ms() + timeout_ms;
    sl_err err;
    sl_err_clear(&err);
    if (sl_dbx_sql_query(cl, &req, &call, &res, &err) != SL_OK) {
        rc = sl_cli_fail_err(cli, &err);
        goto out;
    }
    size_t n_cols = json_array_size(res->columns);
    names = sl_xcalloc(n_cols + 1, sizeof(char *));
    types = sl_xcalloc(n_cols + 1, sizeof(char *));
    for (size_t i = 0; i < n_cols; i++) {
        const json_t *col = json_array_get(res->columns, i);
        names[i] = json_string_value(json_object_get(col, "name"));
        types[i] = json_string_value(json_object_get(col, "type_name"));
        if (!names[i])
            names[i] = "";
    }
    if (fmt == SL_OUT_TABLE)
        sl_dbx_render_table(stdout, n_cols, names, res->rows, NULL);
    else if (fmt == SL_OUT_CSV)
        sl_dbx_render_csv(stdout, n_cols, names, res->rows);
    else
        sl_dbx_render_json(stdout, n_cols, names, types, res->rows);
    if (res->truncated)
        fprintf(stderr, "sluice: %s: note: result truncated by the row or byte limit\n",
                cli->cmd_name);
out:
    free(names);
    free(types);
    sl_dbx_result_free(res);
    free(params);
    free(stmt_buf);
    return sl_cli_dbx_finish(cl, rc);
}

/* ---- dbx files ---- */

static int files_put(sl_cli *cli, sl_dbx_client *cl, int n, char **args, bool overwrite)
{
    if (n != 2)
        return sl_cli_usage(cli, "files put wants LOCAL and REMOTE");
    sl_err err;
    sl_err_clear(&err);
    if (sl_dbx_file_upload(cl, args[0], args[1], overwrite, NULL, &err) != SL_OK)
        return sl_cli_fail_err(cli, &err);
    printf("uploaded %s to %s\n", args[0], args[1]);
    return SL_EXIT_OK;
}

static int files_get(sl_cli *cli, sl_dbx_client *cl, int n, char **args)
{
    if (n != 2)
        return sl_cli_usage(cli, "files get wants REMOTE and LOCAL");
    sl_err err;
    sl_err_clear(&err);
    if (sl_dbx_file_download(cl, args[0], args[1], NULL, &err) != SL_OK)
        return sl_cli_fail_err(cli, &err);
    printf("downloaded %s to %s\n", args[0], args[1]);
    return SL_EXIT_OK;
}

static int files_ls(sl_cli *cli, sl_dbx_client *cl, int n, char **args, sl_out_fmt fmt)
{
    if (n != 1)
        return sl_cli_usage(cli, "files ls wants one REMOTE directory");
    sl_err err;
    sl_err_clear(&err);
    json_t *list = NULL;
    if (sl_dbx_dir_list(cl, args[0], 0, NULL, &list, &err) != SL_OK)
        return sl_cli_fail_err(cli, &err);
    if (fmt == SL_OUT_JSON) {
        sl_cli_print_json(list);
    } else {
        static const char *const names[] = {"name", "type", "size", "modified"};
        json_t *rows = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(list, i, e)
        {
            bool dir = json_is_true(json_object_get(e, "is_directory"));
            json_t *size = json_object_get(e, "file_size");
            json_t *mod = json_object_get(e, "last_modified");
            char ts[40] = "";
            if (json_is_integer(mod))
                sl_time_format(json_integer_value(mod), ts, sizeof(ts));
            json_t *row = json_array();
            json_t *name = json_object_get(e, "name");
            json_array_append_new(row, name ? json_incref(name) : json_null());
            json_array_append_new(row, json_string(dir ? "dir" : "file"));
            json_array_append_new(row, dir || !size ? json_string("") : json_incref(size));
            json_array_append_new(row, json_string(ts));
            json_array_append_new(rows, row);
        }
        sl_dbx_render_table(stdout, 4, names, rows, NULL);
        json_decref(rows);
    }
    json_decref(list);
    return SL_EXIT_OK;
}

static int files_stat(sl_cli *cli, sl_dbx_client *cl, int n, char **args)
{
    if (n != 1)
        return sl_cli_usage(cli, "files stat wants one REMOTE file");
    sl_err err;
    sl_err_clear(&err);
    sl_dbx_file_info info;
    if (sl_dbx_file_head(cl, args[0], NULL, &info, &err) != SL_OK)
        return sl_cli_fail_err(cli, &err);
    char ts[40] = "";
    if (info.last_modified_ms >= 0)
        sl_time_format(info.last_modified_ms, ts, sizeof(ts));
    printf("path: %s\nsize: %lld\ncontent_type: %s\nlast_modified: %s\n", args[0],
           (long long)info.size, info.content_type, ts);
    return SL_EXIT_OK;
}

static int files_simple(sl_cli *cli, sl_dbx_client *cl, int n, char **args, bool mkdir)
{
    if (n != 1)
        return sl_cli_usage(cli, "files %s wants one REMOTE path", mkdir ? "mkdir" : "rm");
    sl_err err;
    sl_err_clear(&err);
    sl_code rc = mkdir ? sl_dbx_dir_create(cl, args[0], NULL, &err)
                       : sl_dbx_file_delete(cl, args[0], NULL, &err);
    if (rc != SL_OK)
        return sl_cli_fail_err(cli, &err);
    return SL_EXIT_OK;
}

static int files_run(sl_cli *cli, int argc, char **argv)
{
    static const char *const subs[] = {"put", "get", "ls", "stat", "rm", "mkdir"};
    if (argc < 2)
        return sl_cli_usage(cli, "missing sub-command (put, get, ls, stat, rm or mkdir)");
    const char *sub = argv[1];
    size_t which = 0;
    while (which < 6 && strcmp(sub, subs[which]) != 0)
        which++;
    if (which == 6)
        return sl_cli_usage(cli, "unknown files sub-command '%s'", sub);
    static const struct option longopts[] = {
        SL_CLI_CONN_OPTS,
        {"overwrite", no_argument, NULL, OPT_OVERWRITE},
        {"output", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    sl_cli_conn f = {0};
    bool overwrite = false;
    sl_out_fmt fmt = SL_OUT_TABLE;
    int c;
    /* parse after the sub-command word */
    int sub_argc = argc - 1;
    char **sub_argv = argv + 1;
    while ((c = sl_cli_getopt(cli, sub_argc, sub_argv, "o:", longopts)) != -1) {
        if (c == '?')
            return SL_EXIT_USAGE;
        if (sl_cli_conn_opt(&f, c))
            continue;
        if (c == OPT_OVERWRITE) {
            if (which != 0)
                return sl_cli_usage(cli, "--overwrite only applies to files put");
            overwrite = true;
        } else if (c == 'o') {
            if (which != 2)
                return sl_cli_usage(cli, "-o only applies to files ls");
            if (!sl_cli_parse_output(cli, optarg, (1u << SL_OUT_TABLE) | (1u << SL_OUT_JSON), &fmt))
                return SL_EXIT_USAGE;
        }
    }
    int n = sub_argc - optind;
    char **args = sub_argv + optind;
    sl_dbx_client *cl = NULL;
    int rc = sl_cli_dbx_open(cli, &f, &cl);
    if (rc != SL_EXIT_OK)
        return sl_cli_dbx_finish(cl, rc);
    switch (which) {
    case 0:
        rc = files_put(cli, cl, n, args, overwrite);
        break;
    case 1:
        rc = files_get(cli, cl, n, args);
        break;
    case 2:
        rc = files_ls(cli, cl, n, args, fmt);
        break;
    case 3:
        rc = files_stat(cli, cl, n, args);
        break;
    default:
        rc = files_simple(cli, cl, n, args, which == 5);
        break;
    }
    return sl_cli_dbx_finish(cl, rc);
}

static const struct sl_cmd cmds[] = {
    {
        .name = "warehouses",
        .run = warehouses_run,
        .usage = "dbx warehouses [-o table|json] " SL_CLI_CONN_USAGE,
        .help = "List the SQL warehouses of the workspace (id, name, state, size).\n"
                "Connection: --host/--token/--profile, else DATABRICKS_HOST, DATABRICKS_TOKEN\n"
                "(or DATABRICKS_CLIENT_ID/SECRET), ./.env, ~/.databrickscfg.",
    },
    {
        .name = "sql",
        .run = sql_run,
        .usage = "dbx sql STATEMENT|- [--warehouse ID] [--catalog C] [--schema S] "
                 "[--param name=value[:TYPE]]... [--timeout DUR] [--row-limit N] "
                 "[-o table|json|csv] " SL_CLI_CONN_USAGE,
        .help = "Run one SQL statement on a warehouse and print its result.\n"
                "  --warehouse ID   default DATABRICKS_WAREHOUSE_ID, else the first RUNNING one\n"
                "  --param name=value[:TYPE]  bind :name (TYPE e.g. INT, DATE, DECIMAL(10,2));\n"
                "                   --param name[:TYPE] without '=' binds SQL NULL\n"
                "  --timeout DUR    give up (and cancel the statement) after DUR, e.g. 5m\n"
                "  -o table|json|csv  aligned table (default), array of objects, RFC 4180 CSV\n"
                "  STATEMENT '-'    read the statement from stdin",
    },
    {
        .name = "files",
        .run = files_run,
        .usage = "dbx files put LOCAL REMOTE [--overwrite] | get REMOTE LOCAL | ls REMOTE "
                 "[-o table|json] | stat REMOTE | rm REMOTE | mkdir REMOTE " SL_CLI_CONN_USAGE,
        .help = "Move files to and from Unity Catalog volumes (REMOTE like\n"
                "/Volumes/catalog/schema/volume/dir/file.csv). Uploads and downloads stream,\n"
                "so any size works in constant memory; put refuses to replace an existing\n"
                "file unless --overwrite is given.",
    },
};

const struct sl_cmd_group sl_cli_dbx = {"dbx", "Databricks: warehouses, SQL, volume files", cmds,
                                        sizeof(cmds) / sizeof(cmds[0])};
