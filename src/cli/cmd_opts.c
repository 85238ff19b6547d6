/*
 * cmd_opts.c - the generic option driver for commands that declare their options in a table
 * (struct sl_opt, cli.h): one getopt_long loop built from the table, values checked by kind,
 * and the usage line and the options part of --help generated from the same table.
 * Invariant: a table has at most SL_CLI_MAX_OPTS entries and unique ids (asserted).
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define LONG_ID_BASE 2000 /* getopt_long's val for table entry i: LONG_ID_BASE + i */

static size_t n_opts(const struct sl_opt *opts)
{
    size_t n = 0;
    while (opts && opts[n].name)
        n++;
    SL_ASSERT(n <= SL_CLI_MAX_OPTS);
    return n;
}

static const char *const fmt_names[] = {"table", "json", "csv"};

/* "table|json" for an output mask. */
static void fmt_list(sl_buf *b, unsigned mask)
{
    size_t start = b->len;
    for (int i = 0; i < 3; i++)
        if (mask & (1u << i))
            sl_buf_printf(b, "%s%s", b->len > start ? "|" : "", fmt_names[i]);
}

/* "--space ID", "-o table|json", "--all-users" */
static void opt_synopsis(sl_buf *b, const struct sl_opt *o, bool prefer_short)
{
    if (prefer_short && o->short_name)
        sl_buf_printf(b, "-%c", o->short_name);
    else
        sl_buf_printf(b, "--%s", o->name);
    if (o->kind == SL_OPT_FLAG)
        return;
    sl_buf_putc(b, ' ');
    if (o->kind == SL_OPT_OUTPUT)
        fmt_list(b, o->outputs);
    else
        sl_buf_puts(b, o->metavar ? o->metavar : "VALUE");
}

void sl_cli_usage_build(sl_buf *b, const char *full_name, const struct sl_cmd *cmd)
{
    sl_buf_puts(b, full_name);
    if (cmd->args && *cmd->args)
        sl_buf_printf(b, " %s", cmd->args);
    for (const struct sl_opt *o = cmd->opts; o && o->name; o++) {
        sl_buf_puts(b, o->required ? " " : " [");
        opt_synopsis(b, o, o->kind == SL_OPT_OUTPUT);
        if (!o->required)
            sl_buf_putc(b, ']');
        if (o->multi)
            sl_buf_puts(b, "...");
    }
}

void sl_cli_opts_help(FILE *out, const struct sl_opt *opts)
{
    if (!opts || !opts->name)
        return;
    fprintf(out, "\noptions:\n");
    sl_buf line = SL_BUF_INIT;
    for (const struct sl_opt *o = opts; o->name; o++) {
        sl_buf_reset(&line);
        if (o->short_name) {
            sl_buf_printf(&line, "-%c, ", o->short_name);
        }
        opt_synopsis(&line, o, false);
        fprintf(out, "  %-28s %s\n", sl_buf_str(&line), o->help ? o->help : "");
    }
    sl_buf_free(&line);
}

static int find_short(const struct sl_opt *opts, size_t n, int c)
{
    for (size_t i = 0; i < n; i++)
        if (opts[i].short_name && opts[i].short_name == c)
            return (int)i;
    return -1;
}

static int find_id(const sl_cli_args *a, int id)
{
    for (size_t i = 0; a->opts && a->opts[i].name; i++)
        if (a->opts[i].id == id)
            return (int)i;
    SL_ASSERT(!"option id not in the command's table");
    return -1;
}

int sl_cli_args_parse(sl_cli *cli, int argc, char **argv, sl_cli_args *out)
{
    const struct sl_opt *opts = cli->cmd->opts;
    size_t n = n_opts(opts);
    memset(out, 0, sizeof(*out));
    out->opts = opts;
    struct option longopts[SL_CLI_MAX_OPTS + 1];
    char shortopts[2 * SL_CLI_MAX_OPTS + 1];
    size_t ns = 0;
    for (size_t i = 0; i < n; i++) {
        bool arg = opts[i].kind != SL_OPT_FLAG;
        longopts[i] = (struct option){opts[i].name, arg ? required_argument : no_argument, NULL,
                                      LONG_ID_BASE + (int)i};
        if (opts[i].short_name) {
            shortopts[ns++] = opts[i].short_name;
            if (arg)
                shortopts[ns++] = ':';
        }
    }
    longopts[n] = (struct option){NULL, 0, NULL, 0};
    shortopts[ns] = '\0';
    int c;
    while ((c = sl_cli_getopt(cli, argc, argv, shortopts, longopts)) != -1) {
        if (c == '?')
            return SL_EXIT_USAGE;
        int i = c >= LONG_ID_BASE ? c - LONG_ID_BASE : find_short(opts, n, c);
        if (i < 0 || (size_t)i >= n)
            return sl_cli_usage(cli, "unexpected option");
        const struct sl_opt *o = &opts[i];
        struct sl_cli_val *v = &out->v[i];
        char flag[80];
        snprintf(flag, sizeof(flag), "--%s", o->name);
        v->set = true;
        v->str = optarg;
        if (o->multi) {
            if (!v->all)
                v->all = sl_xcalloc((size_t)argc + 1, sizeof(*v->all));
            v->all[v->n_all++] = optarg;
        }
        switch (o->kind) {
        case SL_OPT_FLAG:
        case SL_OPT_STR:
            break;
        case SL_OPT_INT:
            if (!sl_cli_parse_int(cli, flag, optarg, o->min, o->max, &v->num))
                return SL_EXIT_USAGE;
            break;
        case SL_OPT_DURATION:
            if (!sl_cli_parse_duration(cli, flag, optarg, &v->ms))
                return SL_EXIT_USAGE;
            break;
        case SL_OPT_OUTPUT: {
            sl_out_fmt f;
            if (!sl_cli_parse_output(cli, optarg, o->outputs, &f))
                return SL_EXIT_USAGE;
            v->fmt = (int)f;
            break;
        }
        }
    }
    out->argc = argc - optind;
    out->argv = argv + optind;
    return SL_EXIT_OK;
}

void sl_cli_args_cleanup(sl_cli_args *a)
{
    for (size_t i = 0; i < SL_CLI_MAX_OPTS; i++) {
        free(a->v[i].all);
        a->v[i].all = NULL;
        a->v[i].n_all = 0;
    }
}

const char *const *sl_cli_arg_list(const sl_cli_args *a, int id, size_t *n)
{
    int i = find_id(a, id);
    *n = i >= 0 ? a->v[i].n_all : 0;
    return i >= 0 ? a->v[i].all : NULL;
}

bool sl_cli_arg_has(const sl_cli_args *a, int id)
{
    int i = find_id(a, id);
    return i >= 0 && a->v[i].set;
}

const char *sl_cli_arg_str(const sl_cli_args *a, int id, const char *def)
{
    int i = find_id(a, id);
    return i >= 0 && a->v[i].set ? a->v[i].str : def;
}

long long sl_cli_arg_int(const sl_cli_args *a, int id, long long def)
{
    int i = find_id(a, id);
    return i >= 0 && a->v[i].set ? a->v[i].num : def;
}

int64_t sl_cli_arg_ms(const sl_cli_args *a, int id, int64_t def)
{
    int i = find_id(a, id);
    return i >= 0 && a->v[i].set ? a->v[i].ms : def;
}

int sl_cli_arg_fmt(const sl_cli_args *a, int id, int def)
{
    int i = find_id(a, id);
    return i >= 0 && a->v[i].set ? a->v[i].fmt : def;
}

bool sl_cli_arg_durability(sl_cli *cli, const sl_cli_args *a, sl_durability *out)
{
    *out = SL_DURABILITY_NORMAL;
    const char *v = sl_cli_arg_str(a, 'd', NULL);
    if (v && !sl_durability_parse(v, out)) {
        sl_cli_usage(cli, "--durability must be normal or full");
        return false;
    }
    return true;
}

sl_cli_conn sl_cli_conn_from_args(const sl_cli_args *a)
{
    sl_cli_conn f = {
        .host = sl_cli_arg_str(a, SL_CLI_OPT_HOST, NULL),
        .token = sl_cli_arg_str(a, SL_CLI_OPT_TOKEN, NULL),
        .profile = sl_cli_arg_str(a, SL_CLI_OPT_PROFILE, NULL),
    };
    return f;
}
