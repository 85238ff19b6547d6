/*
 * config.c - resolve host, credentials, warehouse and retry settings the way the
 * official Databricks tools do: per attribute, explicit options > environment (real
 * variables, then ./.env, which never overrides them) > a profile of ~/.databrickscfg
 * (INI; [DEFAULT] keys inherited by every profile, as Python's configparser does).
 *
 * The resolver is a function of its inputs only (an env lookup callback and two file
 * paths), so tests drive every precedence rule without touching the real environment.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dbx_int.h"

/* ---- key/value lists (for .env and INI sections) ---- */

typedef struct {
    char *key, *val;
} kv;

typedef struct {
    char *name;
    kv *items;
    size_t n, cap;
} section;

typedef struct {
    section *secs;
    size_t n, cap;
} ini;

static void sec_put(section *s, const char *key, size_t key_len, const char *val, size_t val_len)
{
    for (size_t i = 0; i < s->n; i++)
        if (strlen(s->items[i].key) == key_len && strncmp(s->items[i].key, key, key_len) == 0) {
            sl_secret_free(s->items[i].val); /* later wins, as in configparser */
            s->items[i].val = sl_xstrndup(val, val_len);
            return;
        }
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 8;
        s->items = sl_xrealloc(s->items, s->cap * sizeof(kv));
    }
    s->items[s->n].key = sl_xstrndup(key, key_len);
    s->items[s->n].val = sl_xstrndup(val, val_len);
    s->n++;
}

static const char *sec_get(const section *s, const char *key)
{
    if (!s)
        return NULL;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i].key, key) == 0)
            return s->items[i].val;
    return NULL;
}

static void sec_free(section *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->items[i].key);
        sl_secret_free(s->items[i].val); /* values may be tokens or client secrets */
    }
    free(s->items);
    free(s->name);
}

static section *ini_section(ini *f, const char *name, size_t len, bool create)
{
    for (size_t i = 0; i < f->n; i++)
        if (strlen(f->secs[i].name) == len && strncmp(f->secs[i].name, name, len) == 0)
            return &f->secs[i];
    if (!create)
        return NULL;
    if (f->n == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 4;
        f->secs = sl_xrealloc(f->secs, f->cap * sizeof(section));
    }
    section *s = &f->secs[f->n++];
    memset(s, 0, sizeof(*s));
    s->name = sl_xstrndup(name, len);
    return s;
}

static void ini_free(ini *f)
{
    for (size_t i = 0; i < f->n; i++)
        sec_free(&f->secs[i]);
    free(f->secs);
    memset(f, 0, sizeof(*f));
}

/* Trim [*b, *e) in place. */
static void trim(const char **b, const char **e)
{
    while (*b < *e && isspace((unsigned char)**b))
        (*b)++;
    while (*e > *b && isspace((unsigned char)(*e)[-1]))
        (*e)--;
}

/* Returns SL_ENOTFOUND (quietly) for a missing file. */
static sl_code read_optional(const char *path, char **text, sl_err *err)
{
    *text = NULL;
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return SL_ENOTFOUND;
    size_t len;
    if (sl_file_read(path, text, &len, err) != SL_OK)
        return SL_EIO;
    return SL_OK;
}

/* Parse a databrickscfg-style INI file. */
static sl_code ini_parse(const char *path, const char *text, ini *f, sl_err *err)
{
    section *cur = NULL;
    const char *p = text;
    int lineno = 0;
    char *last_key = NULL; /* for continuation lines */
    while (*p) {
        const char *eol = strchr(p, '\n');
        if (!eol)
            eol = p + strlen(p);
        lineno++;
        const char *b = p, *e = eol;
        bool indented = b < e && (*b == ' ' || *b == '\t');
        trim(&b, &e);
        p = *eol ? eol + 1 : eol;
        if (b == e || *b == '#' || *b == ';')
            continue;
        if (indented && cur && last_key) {
            /* configparser continuation: append to the previous value */
            const char *old = sec_get(cur, last_key);
            char *joined = sl_xasprintf("%s\n%.*s", old ? old : "", (int)(e - b), b);
            sec_put(cur, last_key, strlen(last_key), joined, strlen(joined));
            free(joined);
            continue;
        }
        if (*b == '[') {
            const char *close = memchr(b, ']', (size_t)(e - b));
            if (!close || close != e - 1) {
                free(last_key);
                return sl_err_set(err, SL_EINVAL, "config file %s line %d: bad section header",
                                  path, lineno);
            }
            const char *nb = b + 1, *ne = close;
            trim(&nb, &ne);
            cur = ini_section(f, nb, (size_t)(ne - nb), true);
            free(last_key);
            last_key = NULL;
            continue;
        }
        const char *sep = NULL;
        for (const char *q = b; q < e; q++)
            if (*q == '=' || *q == ':') {
                sep = q;
                break;
            }
        if (!sep || sep == b) {
            free(last_key);
            return sl_err_set(err, SL_EINVAL,
                              "config file %s line %d: expected [profile] or key = value", path,
                              lineno);
        }
        if (!cur) {
            free(last_key);
            return sl_err_set(err, SL_EINVAL,
                              "config file %s line %d: key outside of a [profile] section", path,
                              lineno);
        }
        const char *kb = b, *ke = sep, *vb = sep + 1, *ve = e;
        trim(&kb, &ke);
        trim(&vb, &ve);
        char *key = sl_xstrndup(kb, (size_t)(ke - kb));
        for (char *k = key; *k; k++)
            *k = (char)tolower((unsigned char)*k);
        sec_put(cur, key, strlen(key), vb, (size_t)(ve - vb));
        free(last_key);
        last_key = key;
    }
    free(last_key);
    return SL_OK;
}

/* Parse a .env file into one section. Malformed lines are skipped with a warning. */
static void dotenv_parse(const char *path, const char *text, section *out)
{
    const char *p = text;
    int lineno = 0;
    while (*p) {
        const char *eol = strchr(p, '\n');
        if (!eol)
            eol = p + strlen(p);
        lineno++;
        const char *b = p, *e = eol;
        p = *eol ? eol + 1 : eol;
        trim(&b, &e);
        if (b == e || *b == '#')
            continue;
        if ((size_t)(e - b) > 7 && strncmp(b, "export", 6) == 0 && isspace((unsigned char)b[6])) {
            b += 7;
            trim(&b, &e);
        }
        const char *eq = memchr(b, '=', (size_t)(e - b));
        const char *kb = b, *ke = eq ? eq : e;
        trim(&kb, &ke);
        bool ok = eq && kb < ke && (isalpha((unsigned char)*kb) || *kb == '_');
        for (const char *q = kb; ok && q < ke; q++)
            if (!isalnum((unsigned char)*q) && *q != '_' && *q != '.')
                ok = false;
        if (!ok) {
            sl_warn("dbx: %s line %d ignored: expected KEY=VALUE", path, lineno);
            continue;
        }
        const char *vb = eq + 1, *ve = e;
        trim(&vb, &ve);
        char *val;
        if (vb < ve && (*vb == '"' || *vb == '\'')) {
            char q = *vb++;
            size_t cap = (size_t)(ve - vb) + 1, n = 0;
            val = sl_xmalloc(cap);
            while (vb < ve && *vb != q) {
                if (q == '"' && *vb == '\\' && vb + 1 < ve) {
                    vb++;
                    val[n++] = *vb == 'n' ? '\n' : *vb == 't' ? '\t' : *vb;
                    vb++;
                    continue;
                }
                val[n++] = *vb++;
            }
            val[n] = '\0';
        } else {
            /* unquoted: an inline comment starts at " #" */
            for (const char *q = vb; q < ve; q++)
                if (*q == '#' && q > vb && isspace((unsigned char)q[-1])) {
                    ve = q;
                    break;
                }
            trim(&vb, &ve);
            val = sl_xstrndup(vb, (size_t)(ve - vb));
        }
        sec_put(out, kb, (size_t)(ke - kb), val, strlen(val));
        free(val);
    }
}

/* ---- resolution ---- */

/* Lower wins. Keys a profile inherits from [DEFAULT] rank below its own keys, so a
 * profile with client_id/client_secret is not overruled by a token in [DEFAULT]. */
enum {
    RANK_OPTION = 0,
    RANK_ENV = 1,
    RANK_DOTENV = 2,
    RANK_FILE = 3,
    RANK_FILE_DEFAULT = 4,
    RANK_NONE = 9
};

typedef struct {
    sl_dbx_env_fn env;
    void *env_arg;
    section dotenv;
    const char *dotenv_path;
    const section *prof;   /* selected profile, or NULL */
    const section *defsec; /* [DEFAULT], or NULL */
    const char *profile;
    const char *config_path;
} ctx;

typedef struct {
    const char *val; /* borrowed */
    int rank;
    char src[160]; /* "environment", ".env", "profile DEFAULT in /x", "option" */
} got;

static bool set(const char *s)
{
    return s && *s;
}

/* Read and parse x->dotenv_path into x->dotenv, if it is set and the file exists. The text is
 * wiped when freed: the file may hold tokens. */
static sl_code load_dotenv(ctx *x, sl_err *err)
{
    if (!set(x->dotenv_path))
        return SL_OK;
    char *text = NULL;
    sl_code rc = read_optional(x->dotenv_path, &text, err);
    if (rc == SL_OK)
        dotenv_parse(x->dotenv_path, text, &x->dotenv);
    sl_secret_free(text);
    return rc == SL_ENOTFOUND ? SL_OK : rc;
}

static const char *env_get(ctx *x, const char *name, int *rank)
{
    const char *v = x->env ? x->env(x->env_arg, name) : NULL;
    if (set(v)) {
        *rank = RANK_ENV;
        return v;
    }
    v = sec_get(&x->dotenv, name);
    if (set(v)) {
        *rank = RANK_DOTENV;
        return v;
    }
    return NULL;
}

static got lookup(ctx *x, const char *option, const char *env_name, const char *file_key)
{
    got g = {.val = NULL, .rank = RANK_NONE, .src = ""};
    if (set(option)) {
        g.val = option;
        g.rank = RANK_OPTION;
        snprintf(g.src, sizeof(g.src), "option");
        return g;
    }
    int rank = RANK_NONE;
    const char *v = env_name ? env_get(x, env_name, &rank) : NULL;
    if (v) {
        g.val = v;
        g.rank = rank;
        snprintf(g.src, sizeof(g.src), "%s %s", rank == RANK_ENV ? "environment" : x->dotenv_path,
                 env_name);
        return g;
    }
    if (file_key) {
        /* a key present in the profile, even empty, shadows [DEFAULT] (configparser) */
        v = sec_get(x->prof, file_key);
        const char *from = x->profile;
        int frank = RANK_FILE;
        if (!v && x->defsec != x->prof) {
            v = sec_get(x->defsec, file_key);
            from = "DEFAULT";
            frank = RANK_FILE_DEFAULT;
        }
        if (set(v)) {
            g.val = v;
            g.rank = frank;
            snprintf(g.src, sizeof(g.src), "%s in profile %s of %s", file_key, from,
                     x->config_path);
        }
    }
    return g;
}

static sl_code parse_int(const got *g, const char *name, long lo, long hi, int *out, sl_err *err)
{
    char *end;
    errno = 0;
    long v = strtol(g->val, &end, 10);
    while (*end && isspace((unsigned char)*end))
        end++;
    if (errno || end == g->val || *end || v < lo || v > hi)
        return sl_err_set(err, SL_EINVAL, "bad %s '%s' (%s): expected an integer %ld..%ld", name,
                          g->val, g->src, lo, hi);
    *out = (int)v;
    return SL_OK;
}

static sl_code parse_double(const got *g, const char *name, double lo, double hi, double *out,
                            sl_err *err)
{
    char *end;
    errno = 0;
    double v = strtod(g->val, &end);
    while (*end && isspace((unsigned char)*end))
        end++;
    if (errno || end == g->val || *end || !isfinite(v) || v < lo || v > hi)
        return sl_err_set(err, SL_EINVAL, "bad %s '%s' (%s): expected a number %g..%g", name,
                          g->val, g->src, lo, hi);
    *out = v;
    return SL_OK;
}

static sl_code parse_bool(const got *g, const char *name, bool *out, sl_err *err)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(g->val, yes[i]) == 0) {
            *out = true;
            return SL_OK;
        }
        if (strcasecmp(g->val, no[i]) == 0) {
            *out = false;
            return SL_OK;
        }
    }
    return sl_err_set(err, SL_EINVAL, "bad %s '%s' (%s): expected true or false", name, g->val,
                      g->src);
}

void sl_dbx_config_init(sl_dbx_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_retries = -1;
    cfg->initial_backoff_s = -1;
    cfg->max_backoff_s = -1;
    cfg->backoff_multiplier = -1;
    cfg->tls_insecure = -1;
}

#define SYNC_RETRY_ATTEMPTS_DEFAULT   3
#define SYNC_RETRY_INTERVAL_S_DEFAULT 300.0

static sl_code resolve_sync_retry(ctx *x, sl_dbx_sync_retry *out, sl_err *err)
{
    out->attempts = SYNC_RETRY_ATTEMPTS_DEFAULT;
    out->interval_s = SYNC_RETRY_INTERVAL_S_DEFAULT;
    sl_code rc;
    got g = lookup(x, NULL, "DATABRICKS_RETRY_ATTEMPTS", NULL);
    if (g.val && (rc = parse_int(&g, "DATABRICKS_RETRY_ATTEMPTS", 1, 1000, &out->attempts,
                                 err)) != SL_OK)
        return rc;
    g = lookup(x, NULL, "DATABRICKS_RETRY_INTERVAL", NULL);
    if (g.val && (rc = parse_double(&g, "DATABRICKS_RETRY_INTERVAL", 0.001, 86400,
                                    &out->interval_s, err)) != SL_OK)
        return rc;
    return SL_OK;
}

void sl_dbx_settings_init(sl_dbx_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->auth = SL_DBX_AUTH_PAT;
    sl_dbx_retry_policy_init(&s->retry);
    s->connect_timeout_ms = 10000;
    s->request_timeout_ms = 60000;
    s->tls_verify = true;
    s->sync_retry.attempts = SYNC_RETRY_ATTEMPTS_DEFAULT;
    s->sync_retry.interval_s = SYNC_RETRY_INTERVAL_S_DEFAULT;
}

void sl_dbx_settings_cleanup(sl_dbx_settings *s)
{
    if (!s)
        return;
    free(s->host);
    sl_secret_free(s->token);
    free(s->client_id);
    sl_secret_free(s->client_secret);
    free(s->warehouse_id);
    free(s->genie_space_id);
    free(s->profile);
    free(s->config_file);
    sl_dbx_settings_init(s);
}

sl_code sl_dbx_host_normalize(const char *host, char **out, sl_err *err)
{
    *out = NULL;
    if (!host)
        return sl_err_set(err, SL_EINVAL, "empty host");
    const char *b = host, *e = host + strlen(host);
    trim(&b, &e);
    if (b == e)
        return sl_err_set(err, SL_EINVAL, "empty host");
    const char *scheme = "https";
    const char *sep = NULL;
    for (const char *q = b; q + 2 < e; q++) {
        if (q[0] == ':' && q[1] == '/' && q[2] == '/') {
            sep = q;
            break;
        }
        if (!isalnum((unsigned char)*q) && *q != '+' && *q != '-' && *q != '.')
            break;
    }
    if (sep) {
        size_t sl = (size_t)(sep - b);
        if (sl == 5 && strncasecmp(b, "https", 5) == 0)
            scheme = "https";
        else if (sl == 4 && strncasecmp(b, "http", 4) == 0)
            scheme = "http";
        else
            return sl_err_set(err, SL_EINVAL, "host '%.*s': scheme must be http or https",
                              (int)(e - b), b);
        b = sep + 3;
    }
    const char *hend = b;
    while (hend < e && *hend != '/' && *hend != '?' && *hend != '#')
        hend++;
    if (hend == b)
        return sl_err_set(err, SL_EINVAL, "host '%s' has no host name", host);
    for (const char *q = b; q < hend; q++)
        if (isspace((unsigned char)*q) || *q == '@')
            return sl_err_set(err, SL_EINVAL, "host '%s' is not a valid host name", host);
    *out = sl_xasprintf("%s://%.*s", scheme, (int)(hend - b), b);
    return SL_OK;
}

static char *dup_or_null(const char *s)
{
    return set(s) ? sl_xstrdup(s) : NULL;
}

sl_code sl_dbx_config_resolve(const sl_dbx_config *cfg_in, sl_dbx_env_fn env, void *env_arg,
                              const char *config_path, const char *dotenv_path,
                              sl_dbx_settings *out, sl_err *err)
{
    sl_dbx_config none;
    sl_dbx_config_init(&none);
    const sl_dbx_config *cfg = cfg_in ? cfg_in : &none;
    sl_dbx_settings_init(out);
    sl_code rc = SL_OK;
    ini file = {0};
    char *text = NULL, *cfg_path = NULL;
    ctx x = {.env = env, .env_arg = env_arg, .dotenv_path = dotenv_path};
    sl_dbx_settings s;
    sl_dbx_settings_init(&s);

    /* .env first: it can name the config file and profile too. */
    if ((rc = load_dotenv(&x, err)) != SL_OK)
        goto out;

    /* Which config file and profile. */
    int rank;
    bool file_exists = false;
    if (set(config_path)) {
        cfg_path = sl_xstrdup(config_path);
    } else {
        const char *p = env_get(&x, "DATABRICKS_CONFIG_FILE", &rank);
        const char *home = env_get(&x, "HOME", &rank);
        if (p && p[0] == '~' && p[1] == '/' && home)
            cfg_path = sl_xasprintf("%s%s", home, p + 1);
        else if (p)
            cfg_path = sl_xstrdup(p);
        else if (home)
            cfg_path = sl_xasprintf("%s/.databrickscfg", home);
    }
    const char *profile = set(cfg->profile) ? cfg->profile : NULL;
    bool profile_named = profile != NULL;
    if (!profile) {
        profile = env_get(&x, "DATABRICKS_CONFIG_PROFILE", &rank);
        profile_named = profile != NULL;
    }
    if (!profile)
        profile = "DEFAULT";
    x.profile = profile;
    x.config_path = cfg_path ? cfg_path : "~/.databrickscfg";

    if (cfg_path) {
        rc = read_optional(cfg_path, &text, err);
        if (rc == SL_OK) {
            file_exists = true;
            if ((rc = ini_parse(cfg_path, text, &file, err)) != SL_OK)
                goto out;
        } else if (rc == SL_ENOTFOUND) {
            rc = SL_OK;
        } else {
            goto out; /* "cannot read <path>: <reason>" */
        }
        x.prof = ini_section(&file, profile, strlen(profile), false);
        x.defsec = ini_section(&file, "DEFAULT", 7, false);
    }
    if (profile_named && !x.prof) {
        if (file_exists)
            rc = sl_err_set(err, SL_EINVAL, "unknown profile '%s' in %s", profile, cfg_path);
        else
            rc = sl_err_set(err, SL_EINVAL, "unknown profile '%s': no config file at %s", profile,
                            x.config_path);
        goto out;
    }
    if (x.prof || x.defsec)
        s.profile = sl_xstrdup(x.prof ? profile : "DEFAULT");
    s.config_file = dup_or_null(cfg_path);

    /* Host. */
    got host = lookup(&x, cfg->host, "DATABRICKS_HOST", "host");
    if (!host.val) {
        rc = sl_err_set(err, SL_EINVAL,
                        "no host: pass --host, set DATABRICKS_HOST, or add host to profile %s "
                        "in %s",
                        profile, x.config_path);
        goto out;
    }
    if ((rc = sl_dbx_host_normalize(host.val, &s.host, err)) != SL_OK) {
        sl_err_prefix(err, "%s", host.src);
        goto out;
    }

    /* Credentials. */
    got tok = lookup(&x, cfg->token, "DATABRICKS_TOKEN", "token");
    got cid = lookup(&x, cfg->client_id, "DATABRICKS_CLIENT_ID", "client_id");
    got csec = lookup(&x, cfg->client_secret, "DATABRICKS_CLIENT_SECRET", "client_secret");
    bool pair = cid.val && csec.val;
    int pair_rank = cid.rank > csec.rank ? cid.rank : csec.rank;
    if (tok.val && (!pair || tok.rank <= pair_rank)) {
        s.auth = SL_DBX_AUTH_PAT;
        s.token = sl_xstrdup(tok.val);
    } else if (pair) {
        s.auth = SL_DBX_AUTH_OAUTH_M2M;
        s.client_id = sl_xstrdup(cid.val);
        s.client_secret = sl_xstrdup(csec.val);
    } else if (cid.val || csec.val) {
        rc = sl_err_set(err, SL_EINVAL, "incomplete OAuth credentials: %s is set but %s is missing",
                        cid.val ? "DATABRICKS_CLIENT_ID" : "DATABRICKS_CLIENT_SECRET",
                        cid.val ? "DATABRICKS_CLIENT_SECRET" : "DATABRICKS_CLIENT_ID");
        goto out;
    } else {
        rc = sl_err_set(err, SL_EINVAL,
                        "no credentials: pass --token, set DATABRICKS_TOKEN (or "
                        "DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET), or add them to "
                        "profile %s in %s",
                        profile, x.config_path);
        goto out;
    }

    got wh = lookup(&x, cfg->warehouse_id, "DATABRICKS_WAREHOUSE_ID", "warehouse_id");
    s.warehouse_id = dup_or_null(wh.val);
    got gs = lookup(&x, cfg->genie_space_id, "GENIE_SPACE_ID", "genie_space_id");
    s.genie_space_id = dup_or_null(gs.val);

    /* Retry policy. Explicit struct values are validated like the others. */
    char numbuf[4][64];
    snprintf(numbuf[0], sizeof(numbuf[0]), "%d", cfg->max_retries);
    snprintf(numbuf[1], sizeof(numbuf[1]), "%.17g", cfg->initial_backoff_s);
    snprintf(numbuf[2], sizeof(numbuf[2]), "%.17g", cfg->max_backoff_s);
    snprintf(numbuf[3], sizeof(numbuf[3]), "%.17g", cfg->backoff_multiplier);
    got g;
    g = lookup(&x, cfg->max_retries >= 0 ? numbuf[0] : NULL, "MAX_RETRIES", "max_retries");
    if (g.val && (rc = parse_int(&g, "MAX_RETRIES", 0, 100, &s.retry.max_retries, err)) != SL_OK)
        goto out;
    g = lookup(&x, cfg->initial_backoff_s >= 0 ? numbuf[1] : NULL, "INITIAL_BACKOFF",
               "initial_backoff");
    if (g.val && (rc = parse_double(&g, "INITIAL_BACKOFF", 0, 3600, &s.retry.initial_backoff_s,
                                    err)) != SL_OK)
        goto out;
    g = lookup(&x, cfg->max_backoff_s >= 0 ? numbuf[2] : NULL, "MAX_BACKOFF", "max_backoff");
    if (g.val &&
        (rc = parse_double(&g, "MAX_BACKOFF", 0, 86400, &s.retry.max_backoff_s, err)) != SL_OK)
        goto out;
    g = lookup(&x, cfg->backoff_multiplier >= 0 ? numbuf[3] : NULL, "BACKOFF_MULTIPLIER",
               "backoff_multiplier");
    if (g.val && (rc = parse_double(&g, "BACKOFF_MULTIPLIER", 1, 100, &s.retry.backoff_multiplier,
                                    err)) != SL_OK)
        goto out;

    if ((rc = resolve_sync_retry(&x, &s.sync_retry, err)) != SL_OK)
        goto out;

    /* Timeouts and TLS. */
    if (cfg->connect_timeout_ms > 0)
        s.connect_timeout_ms = cfg->connect_timeout_ms;
    if (cfg->request_timeout_ms > 0) {
        s.request_timeout_ms = cfg->request_timeout_ms;
    } else {
        g = lookup(&x, NULL, "DATABRICKS_HTTP_TIMEOUT_SECONDS", "http_timeout_seconds");
        double secs;
        if (g.val) {
            if ((rc = parse_double(&g, "DATABRICKS_HTTP_TIMEOUT_SECONDS", 0.001, 86400, &secs,
                                   err)) != SL_OK)
                goto out;
            s.request_timeout_ms = (int64_t)llround(secs * 1000);
        }
    }
    if (cfg->tls_insecure >= 0) {
        s.tls_verify = cfg->tls_insecure == 0;
    } else {
        g = lookup(&x, NULL, "DATABRICKS_INSECURE_SKIP_VERIFY", "insecure_skip_verify");
        bool insecure = false;
        if (g.val &&
            (rc = parse_bool(&g, "DATABRICKS_INSECURE_SKIP_VERIFY", &insecure, err)) != SL_OK)
            goto out;
        s.tls_verify = !insecure;
    }

    *out = s;
    sl_dbx_settings_init(&s);
out:
    sl_dbx_settings_cleanup(&s);
    ini_free(&file);
    sec_free(&x.dotenv);
    sl_secret_free(text); /* the file may hold tokens */
    free(cfg_path);
    if (rc != SL_OK)
        sl_dbx_redact_buf(err ? err->msg : NULL, err ? sizeof(err->msg) : 0, NULL);
    return rc;
}

static const char *real_getenv(void *arg, const char *name)
{
    (void)arg;
    return getenv(name);
}

sl_code sl_dbx_config_resolve_default(const sl_dbx_config *cfg, sl_dbx_settings *out, sl_err *err)
{
    return sl_dbx_config_resolve(cfg, real_getenv, NULL, NULL, ".env", out, err);
}

sl_code sl_dbx_sync_retry_resolve(sl_dbx_env_fn env, void *env_arg, const char *dotenv_path,
                                  sl_dbx_sync_retry *out, sl_err *err)
{
    ctx x = {.env = env, .env_arg = env_arg, .dotenv_path = dotenv_path};
    sl_code rc = load_dotenv(&x, err);
    if (rc == SL_OK)
        rc = resolve_sync_retry(&x, out, err);
    sec_free(&x.dotenv);
    return rc;
}

sl_code sl_dbx_sync_retry_resolve_default(sl_dbx_sync_retry *out, sl_err *err)
{
    return sl_dbx_sync_retry_resolve(real_getenv, NULL, ".env", out, err);
}
