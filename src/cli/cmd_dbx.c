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

static const struct sl_opt warehouses_opts[] = {
    SL_CLI_OUT((1u << SL_OUT_TABLE) | (1u << SL_OUT_JSON), "table (default) or json"),
    SL_CLI_CONN_OPT_TABLE,
    SL_CLI_END,
};

static int warehouses_exec(sl_cli *cli, const sl_cli_args *args)
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

static void strv_free_n(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static const struct sl_opt sql_opts[] = {
    SL_CLI_STR(OPT_WAREHOUSE, "warehouse", 0, "ID",
               "default DATABRICKS_WAREHOUSE_ID, else the first RUNNING one"),
    SL_CLI_STR(OPT_CATALOG, "catalog", 0, "C", "default catalog of the statement"),
    SL_CLI_STR(OPT_SCHEMA, "schema", 0, "S", "default schema of the statement"),
    SL_CLI_STR_MULTI(OPT_PARAM, "param", 0, "name=value[:TYPE]",
                     "bind :name (TYPE e.g. INT, DATE, DECIMAL(10,2)); name[:TYPE] binds NULL"),
    SL_CLI_DUR(OPT_TIMEOUT, "timeout", 0, "DUR", "give up (and cancel the statement) after DUR"),
    SL_CLI_INT(OPT_ROW_LIMIT, "row-limit", 0, "N", 1, INT64_MAX, "at most N rows"),
    SL_CLI_OUT(7u, "aligned table (default), array of objects (json) or RFC 4180 csv"),
    SL_CLI_CONN_OPT_TABLE,
    SL_CLI_END,
};

static int sql_exec(sl_cli *cli, const sl_cli_args *args)
{
    sl_cli_conn f = sl_cli_conn_from_args(args);
    sl_out_fmt fmt = (sl_out_fmt)sl_cli_arg_fmt(args, 'o', SL_OUT_TABLE);
    sl_dbx_statement_req req;
    sl_dbx_statement_req_init(&req);
    req.warehouse_id = sl_cli_arg_str(args, OPT_WAREHOUSE, NULL);
    req.catalog = sl_cli_arg_str(args, OPT_CATALOG, NULL);
    req.schema = sl_cli_arg_str(args, OPT_SCHEMA, NULL);
    int64_t timeout_ms = sl_cli_arg_ms(args, OPT_TIMEOUT, 0);
    long long row_limit = sl_cli_arg_int(args, OPT_ROW_LIMIT, 0);
    size_t n_params;
    const char *const *ptext = sl_cli_arg_list(args, OPT_PARAM, &n_params);
    if (args->argc < 1)
        return sl_cli_usage(cli, "missing STATEMENT");
    if (args->argc > 1)
        return sl_cli_usage(cli, "unexpected argument '%s' (quote the statement)", args->argv[1]);
    /* the parser splits its text in place: parse copies, freed with the params */
    sl_dbx_sql_param *params = sl_xcalloc(n_params + 1, sizeof(*params));
    char **copies = sl_xcalloc(n_params + 1, sizeof(*copies));
    int rc = SL_EXIT_OK;
    for (size_t i = 0; i < n_params; i++) {
        copies[i] = sl_xstrdup(ptext[i]);
        if (!sl_dbx_sql_param_parse(copies[i], &params[i])) {
            sl_cli_usage(cli, "--param wants name=value[:TYPE], not '%s'", ptext[i]);
            strv_free_n(copies, n_params);
            free(params);
            return SL_EXIT_USAGE;
        }
    }
    char *stmt_buf = NULL;
    if (strcmp(args->argv[0], "-") == 0) {
        sl_err rerr;
        sl_err_clear(&rerr);
        if (sl_file_read_arg("-", &stmt_buf, NULL, &rerr) != SL_OK) {
            strv_free_n(copies, n_params);
            free(params);
            return sl_cli_fail_err(cli, &rerr);
        }
    }
    req.statement = stmt_buf ? stmt_buf : args->argv[0];
    if (!*req.statement) {
        strv_free_n(copies, n_params);
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
    strv_free_n(copies, n_params);
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

static const struct sl_opt files_opts[] = {
    SL_CLI_FLAG(OPT_OVERWRITE, "overwrite", 0, "put: replace an existing file"),
    SL_CLI_OUT((1u << SL_OUT_TABLE) | (1u << SL_OUT_JSON), "ls: table (default) or json"),
    SL_CLI_CONN_OPT_TABLE,
    SL_CLI_END,
};

static int files_exec(sl_cli *cli, const sl_cli_args *a)
{
    static const char *const subs[] = {"put", "get", "ls", "stat", "rm", "mkdir"};
    if (a->argc < 1)
        return sl_cli_usage(cli, "missing sub-command (put, get, ls, stat, rm or mkdir)");
    const char *sub = a->argv[0];
    size_t which = 0;
    while (which < 6 && strcmp(sub, subs[which]) != 0)
        which++;
    if (which == 6)
        return sl_cli_usage(cli, "unknown files sub-command '%s'", sub);
    sl_cli_conn f = sl_cli_conn_from_args(a);
    bool overwrite = sl_cli_arg_has(a, OPT_OVERWRITE);
    if (overwrite && which != 0)
        return sl_cli_usage(cli, "--overwrite only applies to files put");
    if (sl_cli_arg_has(a, 'o') && which != 2)
        return sl_cli_usage(cli, "-o only applies to files ls");
    sl_out_fmt fmt = (sl_out_fmt)sl_cli_arg_fmt(a, 'o', SL_OUT_TABLE);
    int n = a->argc - 1;
    char **args = a->argv + 1;
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
        .exec = warehouses_exec,
        .opts = warehouses_opts,
        .help = "List the SQL warehouses of the workspace (id, name, state, size).\n"
                "Connection: --host/--token/--profile, else DATABRICKS_HOST, DATABRICKS_TOKEN\n"
                "(or DATABRICKS_CLIENT_ID/SECRET), ./.env, ~/.databrickscfg.",
    },
    {
        .name = "sql",
        .exec = sql_exec,
        .opts = sql_opts,
        .args = "STATEMENT|-",
        .help = "Run one SQL statement on a warehouse and print its result; STATEMENT '-'\n"
                "reads it from stdin.",
    },
    {
        .name = "files",
        .exec = files_exec,
        .opts = files_opts,
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
