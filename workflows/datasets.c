/*
 * datasets.c - registering datasets: names that are safe in SQL, validating and copying the
 * file, recording it and starting its sync in one transaction, status and listing.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/appstore.h"
#include "sluice/datasets.h"
#include "sluice/dbx.h"

#define TABLE_NAME_MAX 100

/* ---- names -------------------------------------------------------------------------- */

/* Lower-case [a-z0-9], everything else one '_', trimmed; camelCase split when asked. */
static char *normalise(const char *s, bool split_camel, size_t cap)
{
    size_t n = strlen(s);
    char *out = sl_xmalloc(2 * n + 1);
    size_t o = 0;
    bool pending_sep = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) && c < 0x80) {
            if (split_camel && isupper(c) && i > 0 && o > 0 &&
                (islower((unsigned char)s[i - 1]) ||
                 (i + 1 < n && islower((unsigned char)s[i + 1]) &&
                  isupper((unsigned char)s[i - 1]))))
                pending_sep = true;
            if (pending_sep && o > 0)
                out[o++] = '_';
            pending_sep = false;
            out[o++] = (char)tolower(c);
        } else {
            pending_sep = true;
        }
    }
    out[o] = '\0';
    if (o > cap) {
        out[cap] = '\0';
        o = cap;
        while (o > 0 && out[o - 1] == '_')
            out[--o] = '\0';
    }
    return out;
}

char *sl_dataset_table_name(const char *dataset_name)
{
    char *n = normalise(dataset_name ? dataset_name : "", false, TABLE_NAME_MAX - 2);
    if (!n[0]) {
        free(n);
        return sl_xstrdup("dataset");
    }
    if (isdigit((unsigned char)n[0])) {
        char *p = sl_xasprintf("t_%s", n);
        free(n);
        return p;
    }
    return n;
}

char *sl_dataset_catalog_name(const char *tenant)
{
    char *t = normalise(tenant && *tenant ? tenant : "default", false, 64);
    char *c = sl_xasprintf("catalog_tenant_%s", t[0] ? t : "default");
    free(t);
    return c;
}

char **sl_dataset_column_names(const char *const *names, size_t n)
{
    char **out = sl_xcalloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        char *c = normalise(names[i] ? names[i] : "", true, 120);
        if (!c[0]) {
            free(c);
            c = sl_xasprintf("column_%zu", i + 1);
        } else if (isdigit((unsigned char)c[0])) {
            char *p = sl_xasprintf("c_%s", c);
            free(c);
            c = p;
        }
        /* unique: name, name_2, name_3, ... */
        char *cand = sl_xstrdup(c);
        for (int k = 2;; k++) {
            bool taken = false;
            for (size_t j = 0; j < i && !taken; j++)
                taken = strcmp(out[j], cand) == 0;
            if (!taken)
                break;
            free(cand);
            cand = sl_xasprintf("%s_%d", c, k);
        }
        free(c);
        out[i] = cand;
    }
    return out;
}

char *sl_sql_quote_ident(const char *name)
{
    size_t n = strlen(name), o = 0;
    char *q = sl_xmalloc(2 * n + 3);
    q[o++] = '`';
    for (size_t i = 0; i < n; i++) {
        if (name[i] == '`')
            q[o++] = '`';
        q[o++] = name[i];
    }
    q[o++] = '`';
    q[o] = '\0';
    return q;
}

/* ---- validation ---------------------------------------------------------------------- */

static bool has_ext(const char *path, const char *ext)
{
    size_t n = strlen(path), e = strlen(ext);
    return n > e && strcasecmp(path + n - e, ext) == 0;
}

static sl_code validate_jsonl(const char *path, int64_t *rows, sl_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return sl_err_set(err, SL_EINVAL, "cannot read %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    int64_t n = 0;
    sl_code rc = SL_OK;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t i = 0;
        while (i < (size_t)len && isspace((unsigned char)line[i]))
            i++;
        if (i == (size_t)len)
            continue; /* blank line */
        json_error_t je;
        /* the whole line is one value: `{"a":1} junk` or `{"a":1}{"b":2}` is refused here, as
         * the sync's read_files refuses it, not accepted now to fail later */
        json_t *j = json_loadb(line, (size_t)len, 0, &je);
        if (!j) {
            rc = sl_err_set(err, SL_EINVAL, "%s line %ld: invalid JSON: %s", path, lineno, je.text);
            break;
        }
        bool obj = json_is_object(j);
        json_decref(j);
        if (!obj) {
            rc = sl_err_set(err, SL_EINVAL, "%s line %ld: expected one JSON object per line",
                            path, lineno);
            break;
        }
        n++;
    }
    if (rc == SL_OK && ferror(f))
        rc = sl_err_set(err, SL_EINVAL, "cannot read %s: %s", path, strerror(errno));
    free(line);
    fclose(f);
    if (rc == SL_OK && n == 0)
        rc = sl_err_set(err, SL_EINVAL, "%s has no records", path);
    *rows = n;
    return rc;
}

static sl_code validate_csv(const char *path, int64_t *rows, sl_err *err)
{
    sl_csv *c = sl_csv_open(path, ',');
    if (!c)
        return sl_err_set(err, SL_EINVAL, "cannot read %s: %s", path, strerror(errno));
    char **fields;
    size_t n_fields;
    char eb[200];
    int r = sl_csv_next(c, &fields, &n_fields, eb, sizeof(eb));
    sl_code rc = SL_OK;
    int64_t n = 0;
    if (r == 0) {
        rc = sl_err_set(err, SL_EINVAL, "%s is empty (a CSV file needs a header row)", path);
    } else if (r < 0) {
        rc = sl_err_set(err, SL_EINVAL, "%s: %s", path, eb);
    } else {
        while ((r = sl_csv_next(c, &fields, &n_fields, eb, sizeof(eb))) == 1)
            n++;
        if (r < 0)
            rc = sl_err_set(err, SL_EINVAL, "%s: %s", path, eb);
    }
    sl_csv_close(c);
    *rows = n;
    return rc;
}

sl_code sl_dataset_validate(const char *path, sl_dataset_format *fmt, int64_t *rows,
                            int64_t *bytes, sl_err *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return sl_err_set(err, SL_EINVAL, "cannot read %s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return sl_err_set(err, SL_EINVAL, "%s is not a regular file", path);
    if (access(path, R_OK) != 0)
        return sl_err_set(err, SL_EINVAL, "cannot read %s: %s", path, strerror(errno));
    if (sb.st_size == 0)
        return sl_err_set(err, SL_EINVAL, "%s is empty", path);
    *bytes = sb.st_size;
    if (has_ext(path, ".jsonl") || has_ext(path, ".ndjson") || has_ext(path, ".json")) {
        *fmt = SL_DATASET_JSONL;
    } else if (has_ext(path, ".csv")) {
        *fmt = SL_DATASET_CSV;
    } else {
        /* no telling extension: sniff the first non-blank byte */
        FILE *f = fopen(path, "rb");
        int ch = ' ';
        while (f && (ch = fgetc(f)) != EOF && isspace(ch))
            ;
        if (f)
            fclose(f);
        *fmt = ch == '{' ? SL_DATASET_JSONL : SL_DATASET_CSV;
    }
    return *fmt == SL_DATASET_JSONL ? validate_jsonl(path, rows, err)
                                    : validate_csv(path, rows, err);
}

/* ---- ingest ------------------------------------------------------------------------------ */

static bool env_false(const char *name)
{
    const char *v = getenv(name);
    return v && (strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0 || strcasecmp(v, "no") == 0 ||
                 strcasecmp(v, "off") == 0);
}

/* Copy src to dst through a temporary sibling, fsynced, so a crash never leaves half a file. */
static sl_code copy_file(const char *src, const char *dst, sl_err *err)
{
    char *tmp = sl_xasprintf("%s.tmp.%d", dst, (int)getpid());
    int in = open(src, O_RDONLY | O_CLOEXEC);
    int out = in < 0 ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    sl_code rc = SL_OK;
    if (in < 0 || out < 0) {
        rc = sl_err_set(err, SL_EIO, "cannot copy %s to %s: %s", src, dst, strerror(errno));
        goto out;
    }
    static _Thread_local char buf[1 << 16];
    ssize_t n;
    while ((n = read(in, buf, sizeof(buf))) > 0) {
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0) {
                rc = sl_err_set(err, SL_EIO, "cannot write %s: %s", dst, strerror(errno));
                goto out;
            }
            off += w;
        }
    }
    if (n < 0 || fsync(out) != 0) {
        rc = sl_err_set(err, SL_EIO, "cannot copy %s: %s", src, strerror(errno));
        goto out;
    }
    if (close(out) != 0 || rename(tmp, dst) != 0) {
        out = -1;
        rc = sl_err_set(err, SL_EIO, "cannot store %s: %s", dst, strerror(errno));
        goto out;
    }
    out = -1;
out:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    if (rc != SL_OK)
        unlink(tmp);
    free(tmp);
    return rc;
}

static bool valid_dataset_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 64)
        return false;
    for (; *id; id++)
        if (!isalnum((unsigned char)*id) && *id != '-' && *id != '_')
            return false;
    return true;
}

/* The workflow's input: which dataset, plus retry settings fixed at start time (workflow
 * code must not read the environment: replays would see other values). The settings come
 * from the dbx resolver (DATABRICKS_RETRY_*) and SLUICE_SYNC_HEARTBEAT_TIMEOUT, each
 * validated: a bad value is SL_EINVAL naming the variable. */
static sl_code sync_input(const char *id, const char *tenant, json_t **out, sl_err *err)
{
    *out = NULL;
    sl_dbx_sync_retry r;
    sl_code rc = sl_dbx_sync_retry_resolve_default(&r, err);
    if (rc != SL_OK)
        return rc;
    int64_t hb = 60000;
    const char *h = getenv("SLUICE_SYNC_HEARTBEAT_TIMEOUT");
    if (h && *h && (sl_duration_parse(h, &hb, NULL) != SL_OK || hb <= 0))
        return sl_err_set(err, SL_EINVAL,
                          "bad SLUICE_SYNC_HEARTBEAT_TIMEOUT '%.40s': expected a duration such "
                          "as 60s",
                          h);
    char hbuf[32];
    *out = sl_json_check(json_pack(
        "{s:s,s:s,s:{s:i,s:f,s:f,s:s},s:s}", "dataset_id", id, "tenant", tenant, "retry",
        "maximum_attempts", r.attempts, "initial_interval", r.interval_s, "backoff_coefficient",
        2.0, "maximum_interval", "10m", "heartbeat_timeout",
        sl_duration_format(hb, hbuf, sizeof(hbuf))));
    return SL_OK;
}

static sl_code insert_fn(sl_store *st, void *arg, sl_err *err)
{
    return sl_appstore_dataset_insert(st, (const sl_dataset_row *)arg, err);
}

static sl_code exists_fn(sl_store *st, void *arg, sl_err *err)
{
    sl_dataset_row r;
    sl_code rc = sl_appstore_dataset_get(st, (const char *)arg, &r, err);
    if (rc == SL_OK) {
        sl_dataset_row_cleanup(&r);
        return sl_err_set(err, SL_ECONFLICT, "dataset '%s' already exists", (const char *)arg);
    }
    if (rc == SL_ENOTFOUND) {
        sl_err_clear(err);
        return SL_OK;
    }
    return rc;
}

sl_code sl_dataset_ingest(sl_engine *e, const sl_dataset_ingest_opts *o, json_t **status,
                          sl_err *err)
{
    *status = NULL;
    if (sl_engine_name_check("dataset name", o->name, err) != SL_OK)
        return SL_EINVAL;
    const char *tenant = o->tenant && *o->tenant ? o->tenant : "default";
    if (strlen(tenant) > 64)
        return sl_err_set(err, SL_EINVAL, "tenant must be at most 64 characters");
    if (sl_engine_name_check("tenant", tenant, err) != SL_OK)
        return SL_EINVAL;
    char gen[17];
    const char *id = o->id;
    if (id && !valid_dataset_id(id))
        return sl_err_set(err, SL_EINVAL,
                          "dataset id must be 1-64 letters, digits, '-' or '_'");
    if (!id) {
        char hex[33];
        sl_hexid_new(hex);
        memcpy(gen, hex, 16);
        gen[16] = '\0';
        id = gen;
    }
    sl_dataset_format fmt;
    int64_t rows, bytes;
    sl_code rc = sl_dataset_validate(o->path, &fmt, &rows, &bytes, err);
    if (rc != SL_OK)
        return rc;
    if ((rc = sl_engine_read(e, exists_fn, (void *)id, err)) != SL_OK)
        return rc;
    bool sync = o->sync && !env_false("DATABRICKS_AUTO_SYNC") &&
                !env_false("DATABRICKS_SYNC_ENABLED");
    json_t *input = NULL;
    if (sync && (rc = sync_input(id, tenant, &input, err)) != SL_OK)
        return rc;
    const char *dd = o->data_dir ? o->data_dir : getenv("SLUICE_DATA_DIR");
    char *dir = sl_xasprintf("%s/datasets", dd && *dd ? dd : "sluice-data");
    if ((rc = sl_mkdirs(dir, err)) != SL_OK) {
        free(dir);
        json_decref(input);
        return rc;
    }
    char *dst = sl_xasprintf("%s/%s.%s", dir, id, fmt == SL_DATASET_JSONL ? "jsonl" : "csv");
    free(dir);
    if ((rc = copy_file(o->path, dst, err)) != SL_OK) {
        free(dst);
        json_decref(input);
        return rc;
    }
    char wid[128];
    snprintf(wid, sizeof(wid), "dataset-sync-%s", id);
    const char *base = strrchr(o->path, '/');
    sl_dataset_row row = {
        .dataset_id = (char *)id,
        .tenant = (char *)tenant,
        .name = (char *)o->name,
        .description = (char *)o->description,
        .file_name = dst,
        .format = fmt == SL_DATASET_JSONL ? "jsonl" : "csv",
        .bytes = bytes,
        .row_count_local = rows,
        .created_ms = sl_now_ms(),
        .databricks_enabled = sync,
        .sync_status = sync ? "pending" : "not_synced",
        .row_count_databricks = -1,
        .silver_row_count = -1,
        .workflow_id = sync ? wid : NULL,
    };
    (void)base;
    if (sync) {
        sl_start_opts so = {.workflow_id = wid, .task_queue = SL_DATASET_QUEUE};
        sl_start_result res;
        rc = sl_engine_start_with(e, "dataset_sync", input, &so, insert_fn, &row, &res, err);
        json_decref(input);
    } else {
        rc = sl_engine_exec(e, insert_fn, &row, err);
    }
    if (rc != SL_OK) {
        unlink(dst);
        free(dst);
        return rc;
    }
    free(dst);
    return sl_dataset_status(e, id, status, err);
}

/* ---- status, list, sync -------------------------------------------------------------------- */

static json_t *status_json(const sl_dataset_row *r)
{
    char t1[40], t2[40];
    json_t *j = sl_json_check(json_pack(
        "{s:s,s:s,s:s,s:b,s:s,s:s?,s:s?,s:o,s:s?,s:I,s:o,s:s?,s:s?,s:s,s:s,s:s,s:o}",
        "dataset_id", r->dataset_id, "dataset_name", r->name, "tenant", r->tenant,
        "databricks_enabled", r->databricks_enabled, "sync_status", r->sync_status,
        "bronze_table", r->bronze_table, "silver_table", r->silver_table, "last_sync_at",
        r->last_sync_at ? json_string(sl_time_format(r->last_sync_at, t1, sizeof(t1)))
                        : json_null(),
        "last_sync_error", r->last_sync_error, "row_count_local",
        (json_int_t)r->row_count_local, "row_count_databricks",
        r->row_count_databricks >= 0 ? json_integer(r->row_count_databricks) : json_null(),
        "workflow_id", r->workflow_id, "description", r->description, "format", r->format,
        "file", r->file_name, "created_at", sl_time_format(r->created_ms, t2, sizeof(t2)),
        "silver_row_count",
        r->silver_row_count >= 0 ? json_integer(r->silver_row_count) : json_null()));
    return j;
}

struct get_ctx {
    const char *id;
    const char *tenant;
    json_t *out;
};

static sl_code status_fn(sl_store *st, void *arg, sl_err *err)
{
    struct get_ctx *c = arg;
    sl_dataset_row r;
    sl_code rc = sl_appstore_dataset_get(st, c->id, &r, err);
    if (rc != SL_OK)
        return rc;
    c->out = status_json(&r);
    sl_dataset_row_cleanup(&r);
    return SL_OK;
}

sl_code sl_dataset_status(sl_engine *e, const char *id, json_t **out, sl_err *err)
{
    struct get_ctx c = {.id = id};
    sl_code rc = sl_engine_read(e, status_fn, &c, err);
    *out = c.out;
    return rc;
}

static void list_cb(const sl_dataset_row *r, void *arg)
{
    json_array_append_new((json_t *)arg, status_json(r));
}

static sl_code list_fn(sl_store *st, void *arg, sl_err *err)
{
    struct get_ctx *c = arg;
    c->out = sl_json_check(json_array());
    return sl_appstore_dataset_list(st, c->tenant, list_cb, c->out, err);
}

sl_code sl_dataset_list(sl_engine *e, const char *tenant, json_t **out, sl_err *err)
{
    struct get_ctx c = {.tenant = tenant};
    sl_code rc = sl_engine_read(e, list_fn, &c, err);
    if (rc != SL_OK) {
        json_decref(c.out);
        c.out = NULL;
    }
    *out = c.out;
    return rc;
}

struct sync_ctx {
    const char *id;
    char wid[128];
    char tenant[80];
};

/* In the start's transaction: mark the dataset pending unless its sync is already running. */
static sl_code pending_fn(sl_store *st, void *arg, sl_err *err)
{
    struct sync_ctx *c = arg;
    sl_dataset_row r;
    sl_code rc = sl_appstore_dataset_get(st, c->id, &r, err);
    if (rc != SL_OK)
        return rc;
    bool open = false;
    if ((rc = sl_engine_tx_run_is_open(st, c->wid, &open, err)) != SL_OK || open) {
        sl_dataset_row_cleanup(&r);
        return rc;
    }
    r.databricks_enabled = true;
    free(r.sync_status);
    r.sync_status = sl_xstrdup("pending");
    free(r.workflow_id);
    r.workflow_id = sl_xstrdup(c->wid);
    rc = sl_appstore_dataset_update(st, &r, err);
    sl_dataset_row_cleanup(&r);
    return rc;
}

static sl_code tenant_fn(sl_store *st, void *arg, sl_err *err)
{
    struct sync_ctx *c = arg;
    sl_dataset_row r;
    sl_code rc = sl_appstore_dataset_get(st, c->id, &r, err);
    if (rc == SL_OK) {
        snprintf(c->tenant, sizeof(c->tenant), "%s", r.tenant);
        sl_dataset_row_cleanup(&r);
    }
    return rc;
}

sl_code sl_dataset_sync(sl_engine *e, const char *id, sl_start_result *res, sl_err *err)
{
    struct sync_ctx c = {.id = id};
    snprintf(c.wid, sizeof(c.wid), "dataset-sync-%s", id);
    sl_code rc = sl_engine_read(e, tenant_fn, &c, err);
    if (rc != SL_OK)
        return rc;
    json_t *input = NULL;
    if ((rc = sync_input(id, c.tenant, &input, err)) != SL_OK)
        return rc;
    sl_start_opts so = {.workflow_id = c.wid, .task_queue = SL_DATASET_QUEUE};
    rc = sl_engine_start_with(e, "dataset_sync", input, &so, pending_fn, &c, res, err);
    json_decref(input);
    return rc;
}
