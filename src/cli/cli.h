/*
 * cli.h - the `sluice` command: one file per command group (cmd_<group>.c), each
 * exporting a struct sl_cmd_group; main.c holds the table of groups.
 *
 * Exit codes: 0 success, 1 failure, 2 usage error, each failure with exactly one
 * line on stderr: "sluice: <command>: <what was wrong>".
 */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "sluice/model.h"
#include "sluice/util.h"

struct sl_buf;

#define SL_EXIT_OK    0
#define SL_EXIT_FAIL  1
#define SL_EXIT_USAGE 2

typedef struct sl_cli {
    const char *db_path;   /* --db, else $SLUICE_DB, else ./sluice.db */
    const char *cmd_name;  /* "workflow start", for error lines */
    const struct sl_cmd *cmd;
    const char *usage;     /* the command's usage line (cmd->usage, or built from its table) */
} sl_cli;

/*
 * Declarative options, as tmux's cmd_entry declares its args template: a command lists its
 * options in a table (terminated by an entry with a NULL name) and main.c parses argv against
 * it before the command runs (sl_cli_args_parse: one getopt_long driver built from the
 * table), checking each value by its kind with the messages of sl_cli_parse_int,
 * sl_cli_parse_duration and sl_cli_parse_output. The usage line and the options part of
 * --help are generated from the same table. The command's `exec` then reads the values
 * (sl_cli_arg_*), checks what only it knows, makes one library call and prints.
 */
typedef enum {
    SL_OPT_FLAG,     /* no value */
    SL_OPT_STR,      /* any text */
    SL_OPT_INT,      /* integer in [min, max] */
    SL_OPT_DURATION, /* "30s", "5m", ... (sl_duration_parse) */
    SL_OPT_OUTPUT,   /* an output format among `outputs` */
} sl_opt_kind;

struct sl_opt {
    int id;             /* what sl_cli_arg_* look it up by: its short letter, or an enum value */
    const char *name;   /* long name without "--"; NULL ends the table */
    char short_name;    /* or 0 */
    sl_opt_kind kind;
    const char *metavar; /* value placeholder in usage and help ("ID"); NULL for SL_OPT_OUTPUT */
    const char *help;    /* one line for --help */
    long long min, max;  /* SL_OPT_INT */
    unsigned outputs;    /* SL_OPT_OUTPUT: (1 << SL_OUT_*) bits */
    bool required;       /* shown without [] in the usage line; the command checks it */
    bool multi;          /* may repeat; every value kept (sl_cli_arg_list), usage shows "..." */
};

/* Table entries, by kind. */
#define SL_CLI_FLAG(id_, name_, short_, help_)                                                     \
    {                                                                                              \
        .id = (id_), .name = (name_), .short_name = (short_), .kind = SL_OPT_FLAG, .help = (help_) \
    }
#define SL_CLI_STR(id_, name_, short_, meta_, help_)                                               \
    {                                                                                              \
        .id = (id_), .name = (name_), .short_name = (short_), .kind = SL_OPT_STR,                  \
        .metavar = (meta_), .help = (help_)                                                        \
    }
#define SL_CLI_STR_REQ(id_, name_, short_, meta_, help_)                                           \
    {                                                                                              \
        .id = (id_), .name = (name_), .short_name = (short_), .kind = SL_OPT_STR,                  \
        .metavar = (meta_), .help = (help_), .required = true                                      \
    }
#define SL_CLI_INT(id_, name_, short_, meta_, min_, max_, help_)                                   \
    {                                                                                              \
        .id = (id_), .name = (name_), .short_name = (short_), .kind = SL_OPT_INT,                  \
        .metavar = (meta_), .help = (help_), .min = (min_), .max = (max_)                          \
    }
#define SL_CLI_STR_MULTI(id_, name_, short_, meta_, help_)                                         \
    {                                                                                              \
        .id = (id_), .name = (name_), .short_name = (short_), .kind = SL_OPT_STR,                  \
        .metavar = (meta_), .help = (help_), .multi = true                                         \
    }
#define SL_CLI_DUR(id_, name_, short_, meta_, help_)                                               \
    {                                                                                              \
        .id = (id_), .name = (name_), .short_name = (short_), .kind = SL_OPT_DURATION,             \
        .metavar = (meta_), .help = (help_)                                                        \
    }
/* -o/--output FMT, looked up by id 'o' */
#define SL_CLI_OUT(outputs_, help_)                                                                \
    {                                                                                              \
        .id = 'o', .name = "output", .short_name = 'o', .kind = SL_OPT_OUTPUT,                     \
        .outputs = (outputs_), .help = (help_)                                                     \
    }
#define SL_CLI_END                                                                                 \
    {                                                                                              \
        .name = NULL                                                                               \
    }

#define SL_CLI_MAX_OPTS 48

typedef struct sl_cli_args {
    const struct sl_opt *opts; /* the command's table */
    int argc;                  /* positional arguments (after the options) */
    char **argv;
    struct sl_cli_val {
        bool set;
        const char *str; /* the text given (borrowed from argv) */
        long long num;   /* SL_OPT_INT */
        int64_t ms;      /* SL_OPT_DURATION */
        int fmt;         /* SL_OPT_OUTPUT: sl_out_fmt */
        const char **all; /* multi: every value given, in order (owned by the args) */
        size_t n_all;
    } v[SL_CLI_MAX_OPTS];
} sl_cli_args;

typedef int (*sl_cmd_exec_fn)(sl_cli *cli, const sl_cli_args *args);

struct sl_cmd {
    const char *name;  /* sub-command word, or "" for a group that is itself a command */
    const char *usage; /* "workflow start --type T [--id ID] ..."; NULL: built from `opts` */
    const char *help;  /* a few lines shown by --help */
    /* Prints what --help shows after `help` that is known only at run time, or NULL. */
    void (*help_more)(void);
    const struct sl_opt *opts; /* option table: main parses argv, then calls exec */
    sl_cmd_exec_fn exec;
    const char *args;          /* positional words for the generated usage ("FILE|-") */
};

/* Parse argv (argv[0] is the command's last word) against cmd->opts into *out. Returns
 * SL_EXIT_OK, or SL_EXIT_USAGE after the usage line. */
int sl_cli_args_parse(sl_cli *cli, int argc, char **argv, sl_cli_args *out);
/* Free what sl_cli_args_parse allocated (multi values); the values themselves are argv's. */
void sl_cli_args_cleanup(sl_cli_args *a);
/* Every value of a multi option (borrowed; *n may be 0). */
const char *const *sl_cli_arg_list(const sl_cli_args *a, int id, size_t *n);
/* Append the usage line built from cmd's table ("genie batch FILE|- [--space ID] ...") */
void sl_cli_usage_build(struct sl_buf *b, const char *full_name, const struct sl_cmd *cmd);
/* Print the options part of --help for a command with a table. */
void sl_cli_opts_help(FILE *out, const struct sl_opt *opts);
bool sl_cli_arg_has(const sl_cli_args *a, int id);
/* The value given for option id, else def. */
const char *sl_cli_arg_str(const sl_cli_args *a, int id, const char *def);
long long sl_cli_arg_int(const sl_cli_args *a, int id, long long def);
int64_t sl_cli_arg_ms(const sl_cli_args *a, int id, int64_t def);
int sl_cli_arg_fmt(const sl_cli_args *a, int id, int def);
/* The --durability option (id 'd'): normal (the default) or full. False after a usage line. */
bool sl_cli_arg_durability(sl_cli *cli, const sl_cli_args *a, sl_durability *out);

struct sl_cmd_group {
    const char *name;    /* "workflow" */
    const char *summary; /* one line for `sluice --help` */
    const struct sl_cmd *cmds;
    size_t n_cmds;
};

/* Print "sluice: <cmd>: <msg>" and return SL_EXIT_FAIL. */
int sl_cli_fail(sl_cli *cli, const char *fmt, ...) SL_PRINTF(2, 3);
/* Same for an sl_err. */
int sl_cli_fail_err(sl_cli *cli, const sl_err *err);
/* Print "sluice: <cmd>: <msg>" then the usage line on stderr; return SL_EXIT_USAGE. */
int sl_cli_usage(sl_cli *cli, const char *fmt, ...) SL_PRINTF(2, 3);

/* getopt_long wrapper that resets state and turns unknown options / missing arguments into
 * a usage error (returns '?' after printing the line; the caller returns SL_EXIT_USAGE). */
int sl_cli_getopt(sl_cli *cli, int argc, char **argv, const char *shortopts,
                  const struct option *longopts);

/* Databricks connection flags shared by the dbx, genie and loadtest commands. */
enum { SL_CLI_OPT_HOST = 900, SL_CLI_OPT_TOKEN, SL_CLI_OPT_PROFILE };
#define SL_CLI_CONN_OPTS                                                                           \
    {"host", required_argument, NULL, SL_CLI_OPT_HOST},                                            \
        {"token", required_argument, NULL, SL_CLI_OPT_TOKEN},                                      \
        {"profile", required_argument, NULL, SL_CLI_OPT_PROFILE}
#define SL_CLI_CONN_USAGE "[--host URL] [--token PAT] [--profile NAME]"

typedef struct sl_cli_conn {
    const char *host, *token, *profile;
} sl_cli_conn;
/* The connection flags as table entries, and their values from parsed arguments. */
#define SL_CLI_CONN_OPT_TABLE                                                                      \
    SL_CLI_STR(SL_CLI_OPT_HOST, "host", 0, "URL", "workspace URL (default DATABRICKS_HOST)"),      \
        SL_CLI_STR(SL_CLI_OPT_TOKEN, "token", 0, "PAT",                                            \
                   "personal access token (default DATABRICKS_TOKEN)"),                            \
        SL_CLI_STR(SL_CLI_OPT_PROFILE, "profile", 0, "NAME",                                       \
                   "profile of ~/.databrickscfg (default DATABRICKS_CONFIG_PROFILE, else "         \
                   "DEFAULT)")
sl_cli_conn sl_cli_conn_from_args(const sl_cli_args *a);

struct sl_dbx_client;
/* Handle a connection flag; false if `c` is not one. */
bool sl_cli_conn_opt(sl_cli_conn *f, int c);
/* Databricks commands log only warnings unless LOG_LEVEL says otherwise. */
void sl_cli_quiet_logs(void);
/* Resolve configuration (flags, environment, ~/.databrickscfg, .env) and create a client;
 * prints the error line and returns SL_EXIT_FAIL on failure. */
int sl_cli_dbx_open(sl_cli *cli, const sl_cli_conn *f, struct sl_dbx_client **out);
/* Free the client and this thread's connection; returns rc. */
int sl_cli_dbx_finish(struct sl_dbx_client *c, int rc);

/* Output formats for -o. */
typedef enum { SL_OUT_TABLE, SL_OUT_JSON, SL_OUT_CSV } sl_out_fmt;
/* Parse -o value; `allowed` is a bitmask of (1 << SL_OUT_*). Returns false (after a usage line). */
bool sl_cli_parse_output(sl_cli *cli, const char *s, unsigned allowed, sl_out_fmt *out);

/* Parse a positive integer flag value; false after a usage line. */
bool sl_cli_parse_int(sl_cli *cli, const char *flag, const char *s, long long min, long long max,
                      long long *out);
/* Parse --listen: "HOST:PORT", or also ":PORT" / "PORT" unless need_host (host then "").
 * False after a usage line. */
bool sl_cli_parse_listen(sl_cli *cli, const char *s, bool need_host, char *host, size_t host_len,
                         int *port);
/* Parse a duration flag value; false after a usage line. */
bool sl_cli_parse_duration(sl_cli *cli, const char *flag, const char *s, int64_t *out_ms);

/* Print a JSON value to stdout, indented, with a trailing newline. */
void sl_cli_print_json(const json_t *j);

/*
 * The whole command line of a program built on the CLI: global options, dispatch to the
 * command, --help; returns the exit code. `sluice` (sluice.c) passes register_more NULL;
 * the test fixture binary (tests/workflows/) passes a function that adds its test-only
 * workflows and activities (called once with arg, after the shipped ones, before any
 * command uses the registry). Call once, from main.
 */
struct sl_registry;
typedef void (*sl_cli_register_fn)(struct sl_registry *r, void *arg);
int sl_cli_main(int argc, char **argv, sl_cli_register_fn register_more, void *arg);

/* Open the engine database named by --db with the program's workflows registered.
 * threaded: run the engine thread (workers). read_only: never create the file. On failure
 * prints the error line and returns NULL. */
struct sl_engine;
struct sl_engine *sl_cli_engine_open(sl_cli *cli, bool threaded, bool read_only,
                                     int durability);
/* The program's registry: the shipped workflows, plus those of sl_cli_main's register_more. */
const struct sl_registry *sl_cli_registry(void);
void sl_cli_registry_extend(sl_cli_register_fn register_more, void *arg);

/* The groups, defined in cmd_<group>.c. */
extern const struct sl_cmd_group sl_cli_workflow;
extern const struct sl_cmd_group sl_cli_worker;
extern const struct sl_cmd_group sl_cli_server;
extern const struct sl_cmd_group sl_cli_bench;
extern const struct sl_cmd_group sl_cli_dbx;
extern const struct sl_cmd_group sl_cli_emulator;
extern const struct sl_cmd_group sl_cli_schedule;
extern const struct sl_cmd_group sl_cli_queue;
extern const struct sl_cmd_group sl_cli_dataset;
extern const struct sl_cmd_group sl_cli_dev;
extern const struct sl_cmd_group sl_cli_genie;
extern const struct sl_cmd_group sl_cli_loadtest;
/* `genie export` and `loadtest export` are the same command (cmd_loadtest.c). */
extern const struct sl_opt sl_cli_export_opts[];
int sl_cli_genie_export_exec(sl_cli *cli, const sl_cli_args *args);

#endif
