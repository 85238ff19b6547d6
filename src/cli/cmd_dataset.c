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

static int ingest_run(sl_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"name", required_argument, NULL, 'n'},
                                         {"tenant", required_argument, NULL, 't'},
                                         {"description", required_argument, NULL, 'd'},
                                         {"id", required_argument, NULL, 'i'},
                                         {"no-sync", no_argument, NULL, 'N'},
                                         {"output", required_argument, NULL, 'o'},
                                         {NULL, 0, NULL, 0}};
    sl_dataset_ingest_opts o = {.sync = true};
    sl_out_fmt fmt = SL_OUT_TABLE;
    int c;
    while ((c = sl_cli_getopt(cli, argc, argv, "n:t:d:i:No:", opts)) != -1) {
        switch (c) {
        case 'n':
            o.name = optarg;
            break;
        case 't':
            o.tenant = optarg;
            break;
        case 'd':
            o.description = optarg;
            break;
        case 'i':
            o.id = optarg;
            break;
        case 'N':
            o.sync = false;
            break;
        case 'o':
            if (!sl_cli_parse_output(cli, optarg, OUT_TJ, &fmt))
                return SL_EXIT_USAGE;
            break;
        default:
            return SL_EXIT_USAGE;
        }
    }
    if (optind != argc - 1)
        return sl_cli_usage(cli, optind >= argc ? "missing FILE" : "too many arguments");
    o.path = argv[optind];
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

static int list_run(sl_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"tenant", required_argument, NULL, 't'},
                                         {"output", required_argument, NULL, 'o'},
                                         {NULL, 0, NULL, 0}};
    const char *tenant = NULL;
    sl_out_fmt fmt = SL_OUT_TABLE;
    int c;
    while ((c = sl_cli_getopt(cli, argc, argv, "t:o:", opts)) != -1) {
        if (c == 't')
            tenant = optarg;
        else if (c != 'o' || !sl_cli_parse_output(cli, optarg, OUT_TJ, &fmt))
            return SL_EXIT_USAGE;
    }
    if (optind < argc)
        return sl_cli_usage(cli, "unexpected argument '%s'", argv[optind]);
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

static int status_run(sl_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {NULL, 0, NULL, 0}};
    sl_out_fmt fmt = SL_OUT_TABLE;
    int c;
    while ((c = sl_cli_getopt(cli, argc, argv, "o:", opts)) != -1)
        if (c != 'o' || !sl_cli_parse_output(cli, optarg, OUT_TJ, &fmt))
            return SL_EXIT_USAGE;
    if (optind != argc - 1)
        return sl_cli_usage(cli, optind >= argc ? "missing dataset id" : "too many arguments");
    sl_engine *e = sl_cli_engine_open(cli, false, true, SL_DURABILITY_NORMAL);
    if (!e)
        return SL_EXIT_FAIL;
    sl_err err;
    sl_err_clear(&err);
    json_t *st;
    sl_code rc = sl_dataset_status(e, argv[optind], &st, &err);
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

static int sync_run(sl_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{NULL, 0, NULL, 0}};
    int c;
    while ((c = sl_cli_getopt(cli, argc, argv, "", opts)) != -1)
        return SL_EXIT_USAGE;
    if (optind != argc - 1)
        return sl_cli_usage(cli, optind >= argc ? "missing dataset id" : "too many arguments");
    sl_engine *e = sl_cli_engine_open(cli, false, false, SL_DURABILITY_NORMAL);
    if (!e)
        return SL_EXIT_FAIL;
    sl_err err;
    sl_err_clear(&err);
    sl_start_result res;
    sl_code rc = sl_dataset_sync(e, argv[optind], &res, &err);
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
     .run = ingest_run,
     .usage = "dataset ingest FILE --name NAME [--tenant T] [--description D] [--id ID] "
              "[--no-sync] [-o table|json]",
     .help = "Validate a CSV (header row) or JSON Lines file, copy it into the data directory\n"
             "($SLUICE_DATA_DIR, default ./sluice-data), record it and start its sync to\n"
             "Databricks (workflow dataset-sync-<id> on queue databricks) unless --no-sync or\n"
             "DATABRICKS_AUTO_SYNC=false / DATABRICKS_SYNC_ENABLED=false. Prints the dataset id."},
    {.name = "list",
     .run = list_run,
     .usage = "dataset list [--tenant T] [-o table|json]",
     .help = ""},
    {.name = "status",
     .run = status_run,
     .usage = "dataset status ID [-o table|json]",
     .help = "Sync status: not_synced, pending, syncing, synced or failed, with table names,\n"
             "row counts, last sync time and last error."},
    {.name = "sync",
     .run = sync_run,
     .usage = "dataset sync ID",
     .help = "Start a sync now (idempotent while one is running)."},
};
const struct sl_cmd_group sl_cli_dataset = {"dataset", "local datasets synced to Databricks",
                                            cmds, sizeof(cmds) / sizeof(cmds[0])};
