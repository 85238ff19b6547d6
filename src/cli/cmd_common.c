/* cmd_common.c - helpers shared by every command: error lines, option parsing, output. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* An error is one line: a control character that came in with user input (a newline in an
 * id, an escape sequence in a file name) is shown as '?', never sent to the terminal. */
static void one_line(char *msg)
{
    for (unsigned char *p = (unsigned char *)msg; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = '?';
}

int sl_cli_fail(sl_cli *cli, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    one_line(msg);
    fflush(stdout);
    fprintf(stderr, "sluice: %s: %s\n", cli->cmd_name, msg);
    return SL_EXIT_FAIL;
}

int sl_cli_fail_err(sl_cli *cli, const sl_err *err)
{
    return sl_cli_fail(cli, "%s", err->msg[0] ? err->msg : sl_code_text(err->code));
}

int sl_cli_usage(sl_cli *cli, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    one_line(msg);
    fflush(stdout);
    fprintf(stderr, "sluice: %s: %s (usage: sluice %s)\n", cli->cmd_name, msg,
            cli->usage ? cli->usage : cli->cmd_name);
    return SL_EXIT_USAGE;
}

int sl_cli_getopt(sl_cli *cli, int argc, char **argv, const char *shortopts,
                  const struct option *longopts)
{
    char so[2 * SL_CLI_MAX_OPTS + 2]; /* ":" + a letter and ":" per option + NUL */
    /* Leading ':' makes getopt report a missing argument as ':' and stay quiet. */
    snprintf(so, sizeof(so), ":%s", shortopts);
    opterr = 0;
    int c = getopt_long(argc, argv, so, longopts, NULL);
    if (c == '?') {
        if (optopt)
            sl_cli_usage(cli, "unknown option '-%c'", optopt);
        else
            sl_cli_usage(cli, "unknown option '%s'", argv[optind - 1]);
        return '?';
    }
    if (c == ':') {
        sl_cli_usage(cli, "option '%s' needs a value", argv[optind - 1]);
        return '?';
    }
    return c;
}

bool sl_cli_parse_output(sl_cli *cli, const char *s, unsigned allowed, sl_out_fmt *out)
{
    static const char *const names[] = {"table", "json", "csv"};
    for (int i = 0; i < 3; i++)
        if (strcmp(s, names[i]) == 0 && (allowed & (1u << i))) {
            *out = (sl_out_fmt)i;
            return true;
        }
    sl_buf list = SL_BUF_INIT;
    for (int i = 0; i < 3; i++)
        if (allowed & (1u << i))
            sl_buf_printf(&list, "%s%s", list.len ? "|" : "", names[i]);
    sl_cli_usage(cli, "unknown output format '%s' (use %s)", s, sl_buf_str(&list));
    sl_buf_free(&list);
    return false;
}

bool sl_cli_parse_int(sl_cli *cli, const char *flag, const char *s, long long min, long long max,
                      long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        sl_cli_usage(cli, "%s must be an integer between %lld and %lld, not '%s'", flag, min, max,
                     s);
        return false;
    }
    *out = v;
    return true;
}

bool sl_cli_parse_listen(sl_cli *cli, const char *s, bool need_host, char *host, size_t host_len,
                         int *port)
{
    const char *colon = strrchr(s, ':');
    host[0] = '\0';
    if (need_host && (!colon || colon == s)) {
        sl_cli_usage(cli, "--listen must be HOST:PORT");
        return false;
    }
    if (colon && (size_t)(colon - s) >= host_len) {
        sl_cli_usage(cli, "--listen: host name longer than %zu bytes", host_len - 1);
        return false;
    }
    long long p;
    if (!sl_cli_parse_int(cli, "--listen port", colon ? colon + 1 : s, 0, 65535, &p))
        return false;
    if (colon) {
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
    }
    *port = (int)p;
    return true;
}

bool sl_cli_parse_duration(sl_cli *cli, const char *flag, const char *s, int64_t *out_ms)
{
    sl_err err;
    sl_err_clear(&err);
    if (sl_duration_parse(s, out_ms, &err) != SL_OK) {
        sl_cli_usage(cli, "%s: %s", flag, err.msg);
        return false;
    }
    return true;
}

void sl_cli_print_json(const json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
}

#include "sluice/dbx.h"
#include "sluice/workflows.h"

bool sl_cli_conn_opt(sl_cli_conn *f, int c)
{
    switch (c) {
    case SL_CLI_OPT_HOST:
        f->host = optarg;
        return true;
    case SL_CLI_OPT_TOKEN:
        f->token = optarg;
        return true;
    case SL_CLI_OPT_PROFILE:
        f->profile = optarg;
        return true;
    default:
        return false;
    }
}

void sl_cli_quiet_logs(void)
{
    const char *lvl = getenv("LOG_LEVEL");
    if (!lvl || !*lvl)
        sl_log_set_level(SL_LOG_WARN);
}

int sl_cli_dbx_open(sl_cli *cli, const sl_cli_conn *f, sl_dbx_client **out)
{
    sl_cli_quiet_logs();
    sl_dbx_config cfg;
    sl_dbx_config_init(&cfg);
    cfg.host = f->host;
    cfg.token = f->token;
    cfg.profile = f->profile;
    sl_dbx_settings s;
    sl_err err;
    sl_err_clear(&err);
    if (sl_dbx_config_resolve_default(&cfg, &s, &err) != SL_OK)
        return sl_cli_fail_err(cli, &err);
    sl_code rc = sl_dbx_client_new(&s, out, &err);
    sl_dbx_settings_cleanup(&s);
    if (rc != SL_OK)
        return sl_cli_fail_err(cli, &err);
    return SL_EXIT_OK;
}

int sl_cli_dbx_finish(sl_dbx_client *c, int rc)
{
    sl_dbx_client_free(c);
    sl_dbx_thread_cleanup();
    return rc;
}

static sl_registry *cli_registry;
static sl_cli_register_fn cli_register_more;
static void *cli_register_arg;

void sl_cli_registry_extend(sl_cli_register_fn register_more, void *arg)
{
    SL_ASSERT(!cli_registry);
    cli_register_more = register_more;
    cli_register_arg = arg;
}

const sl_registry *sl_cli_registry(void)
{
    if (!cli_registry) {
        cli_registry = sl_registry_new();
        sl_workflows_register(cli_registry);
        if (cli_register_more)
            cli_register_more(cli_registry, cli_register_arg);
    }
    return cli_registry;
}

sl_engine *sl_cli_engine_open(sl_cli *cli, bool threaded, bool read_only, int durability)
{
    sl_engine_opts o;
    sl_engine_opts_init(&o);
    o.db_path = cli->db_path;
    o.registry = sl_cli_registry();
    o.threaded = threaded;
    o.read_only = read_only;
    o.durability = (sl_durability)durability;
    sl_engine *e = NULL;
    sl_err err;
    sl_err_clear(&err);
    if (sl_engine_opts_from_env(&o, &err) != SL_OK || sl_engine_open(&o, &e, &err) != SL_OK) {
        sl_cli_fail_err(cli, &err);
        return NULL;
    }
    return e;
}
