/* cmd_dataset.c - `sluice dataset ingest|list|status|sync`. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sluice/datasets.h"

#define OUT_TJ ((1u << SL_OUT_TABLE) | (1u << SL_OUT_JSON))

static void print_status(const json_t *s)
{
    static const char *const keys[] = {
        "dataset_id",   "dataset_name", "tenant",          "description",     "format",
        "file",         "created_at",   "row_count_local", "databricks_enabled", "sync_status",
        "workflow_id",  "bronze_table", "silver_table",    "row_count_databricks",
        "silver_row_count", "last_sync_at", "last_sync_error"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_t *v = json_object_get(s, keys[i]);
        if (json_is_string(v))
            printf("%-21s %s\n", keys[i], json_string_value(v));
        else if (json_is_integer(v))
            printf("%-21s %lld\n", keys[i], json_integer_value(v));
        else if (json_is_boolean(v))
            printf("%-21s %s\n", keys[i], json_is_true(v) ? "true" : "false");
        else
            printf("%-21s -\n", keys[i]);
    }
}

static const struct sl_opt ingest_opts[] = {
    SL_CLI_STR_REQ('n', "name", 'n', "NAME", "the dataset's name (its Databricks table name)"),
    SL_CLI_STR('t', "tenant", 't', "T", "tenant (its Databricks catalog; default \"default\")"),
    SL_CLI_STR('d', "description", 'd', "D", "free text"),
    SL_CLI_STR('i', "id", 'i', "ID", "dataset id (default: a random 16-hex id)"),
    SL_CLI_FLAG('N', "no-sync", 'N', "record it locally only"),
    SL_CLI_OUT(OUT_TJ, "table (the id, default) or json (its status)"),
    SL_CLI_END,
};

static int ingest_exec(sl_cli *cli, const sl_cli_args *args)
{
    sl_dataset_ingest_opts o = {
        .name = sl_cli_arg_str(args, 'n', NULL),
        .tenant = sl_cli_arg_str(args, 't', NULL),
        .description = sl_cli_arg_str(args, 'd', NULL),
        .id = sl_cli_arg_str(args, 'i', NULL),
        .sync = !sl_cli_arg_has(args, 'N'),
    };
    sl_out_fmt fmt = (sl_out_fmt)sl_cli_arg_fmt(args, 'o', SL_OUT_TABLE);
    if (args->argc != 1)
        return sl_cli_usage(cli, args->argc < 1 ? "missing FILE" : "too many arguments");
    o.path = args->argv[0];
    if (!o.name)
        return sl_cli_usage(cli, "missing --name");
    sl_engine *e = sl_cli_engine_open(cli, false, false, SL_DURABILITY_NORMAL);
    if (!e)
        return SL_EXIT_FAIL;
    sl_err err;
    sl_err_clear(&err);
    json_t *st;
    sl_code rc = sl_dataset_ingest(e, &o, &st, &err);
    sl_engine_close(e);
    if (rc != SL_OK)
        return sl_cli_fail_err(cli, &err);
    if (fmt == SL_OUT_JSON) {
        sl_cli_print_json(st);
    } else {
        printf("%s\n", json_string_value(json_object_get(st, "dataset_id")));
        fprintf(stderr, "ingested %lld rows as dataset %s; sync %s\n",
                json_integer_value(json_object_get(st, "row_count_local")),
                json_string_value(json_object_get(st, "dataset_id")),
                json_string_value(json_object_get(st, "sync_status")));
    }
    json_decref(st);
    return SL_EXIT_OK;
}

static const struct sl_opt list_opts[] = {
    SL_CLI_STR('t', "tenant", 't', "T", "only this tenant's datasets"),
    SL_CLI_OUT(OUT_TJ, "table (default) or json"),
    SL_CLI_END,
};

static int list_exec(sl_cli *cli, const sl_cli_args *args)
{
    const char *tenant = sl_cli_arg_str(args, 't', NULL);
    sl_out_fmt fmt = (sl_out_fmt)sl_cli_arg_fmt(args, 'o', SL_OUT_TABLE);
    if (args->argc > 0)
        return sl_cli_usage(cli, "unexpected argument '%s'", args->argv[0]);
    sl_engine *e = sl_cli_engine_open(cli, false, true, SL_DURABILITY_NORMAL);
    if (!e)
        return SL_EXIT_FAIL;
    sl_err err;
    sl_err_clear(&err);
    json_t *arr;
    sl_code rc = sl_dataset_list(e, tenant, &arr, &err);
    sl_engine_close(e);
    if (rc != SL_OK)
        return sl_cli_fail_err(cli, &err);
    if (fmt == SL_OUT_JSON) {
        sl_cli_print_json(arr);
    } else {
        printf("%-18s %-24s %-12s %9s %-11s %s\n", "DATASET", "NAME", "TENANT", "ROWS", "SYNC",
               "SILVER TABLE");
        size_t i;
        json_t *d;
        json_array_foreach(arr, i, d)
        printf("%-18s %-24.24s %-12.12s %9lld %-11s %s\n",
               json_string_value(json_object_get(d, "dataset_id")),
               json_string_value(json_object_get(d, "dataset_name")),
               json_string_value(json_object_get(d, "tenant")),
               json_integer_value(json_object_get(d, "row_count_local")),
               json_string_value(json_object_get(d, "sync_status")),
               json_string_value(json_object_get(d, "silver_table"))
                   ? json_string_value(json_object_get(d, "silver_table"))
                   : "-");
    }
    json_decref(arr);
    return SL_EXIT_OK;
}

static const struct sl_opt status_opts[] = {
    SL_CLI_OUT(OUT_TJ, "table (default) or json"),
    SL_CLI_END,
};

static int status_exec(sl_cli *cli, const sl_cli_args *args)
{
    sl_out_fmt fmt = (sl_out_fmt)sl_cli_arg_fmt(args, 'o', SL_OUT_TABLE);
    if (args->argc != 1)
        return sl_cli_usage(cli, args->argc < 1 ? "missing dataset id" : "too many arguments");
    sl_engine *e = sl_cli_engine_open(cli, false, true, SL_DURABILITY_NORMAL);
    if (!e)
        return SL_EXIT_FAIL;
    sl_err err;
    sl_err_clear(&err);
    json_t *st;
    sl_code rc = sl_dataset_status(e, args->argv[0], &st, &err);
    sl_engine_close(e);
    if (rc != SL_OK)
        return sl_cli_fail_err(cli, &err);
    if (fmt == SL_OUT_JSON)
        sl_cli_print_json(st);
    else
        print_status(st);
    json_decref(st);
    return SL_EXIT_OK;
}

static const struct sl_opt sync_opts[] = {SL_CLI_END};

static int sync_exec(sl_cli *cli, const sl_cli_args *args)
{
    if (args->argc != 1)
        return sl_cli_usage(cli, args->argc < 1 ? "missing dataset id" : "too many arguments");
    sl_engine *e = sl_cli_engine_open(cli, false, false, SL_DURABILITY_NORMAL);
    if (!e)
        return SL_EXIT_FAIL;
    sl_err err;
    sl_err_clear(&err);
    sl_start_result res;
    sl_code rc = sl_dataset_sync(e, args->argv[0], &res, &err);
    sl_engine_close(e);
    if (rc != SL_OK)
        return sl_cli_fail_err(cli, &err);
    if (res.existing)
        printf("sync already running: %s (run %s)\n", res.workflow_id, res.run_id);
    else
        printf("sync started: %s (run %s)\n", res.workflow_id, res.run_id);
    return SL_EXIT_OK;
}

static const struct sl_cmd cmds[] = {
    {.name = "ingest",
     .exec = ingest_exec,
     .opts = ingest_opts,
     .args = "FILE",
     .help = "Validate a CSV (header row) or JSON Lines file, copy it into the data directory\n"
             "($SLUICE_DATA_DIR, default ./sluice-data), record it and start its sync to\n"
             "Databricks (workflow dataset-sync-<id> on queue databricks) unless --no-sync or\n"
             "DATABRICKS_AUTO_SYNC=false / DATABRICKS_SYNC_ENABLED=false. Prints the dataset id."},
    {.name = "list", .exec = list_exec, .opts = list_opts, .help = ""},
    {.name = "status",
     .exec = status_exec,
     .opts = status_opts,
     .args = "ID",
     .help = "Sync status: not_synced, pending, syncing, synced or failed, with table names,\n"
             "row counts, last sync time and last error."},
    {.name = "sync",
     .exec = sync_exec,
     .opts = sync_opts,
     .args = "ID",
     .help = "Start a sync now (idempotent while one is running)."},
};
const struct sl_cmd_group sl_cli_dataset = {"dataset", "local datasets synced to Databricks",
                                            cmds, sizeof(cmds) / sizeof(cmds[0])};
