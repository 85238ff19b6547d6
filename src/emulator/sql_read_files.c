/*
 * sql_read_files.c - the read_files('/Volumes/...', format => ..., ...) table function: the
 * path (a file, or a directory's visible files in name order) is loaded into a temp table
 * that the query reads as its first FROM source. CSV columns come from the first file's
 * header (or _c0, _c1, ...), JSON Lines columns are the union of keys in first-seen order;
 * with inferColumnTypes (the default) each column gets the narrowest type all its values
 * parse as. Loading checks for cancellation.
 */
#include <ctype.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "sql_int.h"

typedef struct rf_opts {
    char format[16];
    bool header, infer;
    char sep;
} rf_opts;

/* Infer a column type from its non-empty values: BIGINT < DOUBLE, else BOOLEAN, DATE,
 * TIMESTAMP, else STRING. mask bit k set = still possible. */
enum { INF_BIGINT = 1, INF_DOUBLE = 2, INF_BOOL = 4, INF_DATE = 8, INF_TS = 16, INF_ALL = 31 };

static unsigned infer_mask(const char *v)
{
    unsigned m = 0;
    int64_t i;
    double d;
    bool b;
    char buf[32];
    if (sl__emu_parse_bigint(v, &i))
        m |= INF_BIGINT | INF_DOUBLE;
    else if (sl__emu_parse_double(v, &d))
        m |= INF_DOUBLE;
    if ((strcasecmp(v, "true") == 0 || strcasecmp(v, "false") == 0) && sl__emu_parse_boolean(v, &b))
        m |= INF_BOOL;
    if (strlen(v) == 10 && sl__emu_parse_date(v, buf))
        m |= INF_DATE;
    if (strlen(v) > 10 && sl__emu_parse_timestamp(v, buf))
        m |= INF_TS;
    return m;
}

static emu_type mask_type(unsigned m, bool seen)
{
    if (!seen)
        return EMU_T_STRING;
    if (m & INF_BIGINT)
        return EMU_T_BIGINT;
    if (m & INF_DOUBLE)
        return EMU_T_DOUBLE;
    if (m & INF_BOOL)
        return EMU_T_BOOLEAN;
    if (m & INF_DATE)
        return EMU_T_DATE;
    if (m & INF_TS)
        return EMU_T_TIMESTAMP;
    return EMU_T_STRING;
}

/* Bind one loaded value converted to its column type. */
static void bind_loaded(sqlite3_stmt *st, int idx, const char *v, emu_type t, bool infer)
{
    char buf[32];
    if (!v) {
        sqlite3_bind_null(st, idx);
        return;
    }
    if (infer && t != EMU_T_STRING && !*v) {
        sqlite3_bind_null(st, idx);
        return;
    }
    int64_t i;
    double d;
    bool b;
    switch (t) {
    case EMU_T_BIGINT:
        if (sl__emu_parse_bigint(v, &i)) {
            sqlite3_bind_int64(st, idx, i);
            return;
        }
        break;
    case EMU_T_DOUBLE:
        if (sl__emu_parse_double(v, &d)) {
            sqlite3_bind_double(st, idx, d);
            return;
        }
        break;
    case EMU_T_BOOLEAN:
        if (sl__emu_parse_boolean(v, &b)) {
            sqlite3_bind_int(st, idx, b);
            return;
        }
        break;
    case EMU_T_DATE:
        if (sl__emu_parse_date(v, buf)) {
            sqlite3_bind_text(st, idx, buf, -1, SQLITE_TRANSIENT);
            return;
        }
        break;
    case EMU_T_TIMESTAMP:
        if (sl__emu_parse_timestamp(v, buf)) {
            sqlite3_bind_text(st, idx, buf, -1, SQLITE_TRANSIENT);
            return;
        }
        break;
    default:
        break;
    }
    sqlite3_bind_text(st, idx, v, -1, SQLITE_TRANSIENT);
}

static bool create_temp(sql_parser *p, const char *tname)
{
    sl_buf sql = {0};
    sl_buf_puts(&sql, "CREATE TEMP TABLE ");
    sl__sql_put_ident(&sql, tname);
    sl_buf_puts(&sql, "(");
    for (int k = 0; k < p->n_cols; k++) {
        for (int j = 0; j < k; j++)
            if (strcasecmp(p->cols[j].name, p->cols[k].name) == 0) {
                sl_buf_free(&sql);
                sl__sql_fail(p, EMU_E_INVALID, "COLUMN_ALREADY_EXISTS", "42711",
                             "The column `%s` already exists. Choose another name or rename the "
                             "existing column.",
                             p->cols[k].name);
                return false;
            }
        if (k)
            sl_buf_puts(&sql, ", ");
        sl__sql_put_ident(&sql, p->cols[k].name);
    }
    sl_buf_puts(&sql, ")");
    emu_err tmp = {0};
    bool ok = sl__emu_db_exec(p->db, sl_buf_str(&sql), &tmp);
    sl_buf_free(&sql);
    if (!ok) {
        sl__sql_fail(p, EMU_E_INTERNAL, "INTERNAL_ERROR", "XX000", "%s", tmp.msg);
        return false;
    }
    p->temps = sl_xrealloc(p->temps, (size_t)(p->n_temps + 1) * sizeof(*p->temps));
    p->temps[p->n_temps++] = sl_xstrdup(tname);
    return true;
}

static sqlite3_stmt *insert_stmt(sql_parser *p, const char *tname, int ncols)
{
    sl_buf sql = {0};
    sl_buf_puts(&sql, "INSERT INTO temp.");
    sl__sql_put_ident(&sql, tname);
    sl_buf_puts(&sql, " VALUES(");
    for (int k = 0; k < ncols; k++)
        sl_buf_puts(&sql, k ? ",?" : "?");
    sl_buf_puts(&sql, ")");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(p->db, sl_buf_str(&sql), -1, &st, NULL) != SQLITE_OK)
        sl__sql_fail(p, EMU_E_INTERNAL, "INTERNAL_ERROR", "XX000", "load: %s",
                     sqlite3_errmsg(p->db));
    sl_buf_free(&sql);
    return st;
}

static bool step_insert(sql_parser *p, sqlite3_stmt *st)
{
    if (sqlite3_step(st) != SQLITE_DONE) {
        sl__sql_fail(p, EMU_E_INTERNAL, "INTERNAL_ERROR", "XX000", "load: %s",
                     sqlite3_errmsg(p->db));
        return false;
    }
    sqlite3_reset(st);
    return true;
}

static int csv_fail(sql_parser *p, const char *file, const char *msg)
{
    const char *base = strrchr(file, '/');
    return sl__sql_fail(p, EMU_E_RUNTIME, "MALFORMED_RECORD_IN_PARSING", "22023",
                        "Malformed records are detected in record parsing: %s: %s.",
                        base ? base + 1 : file, msg);
}

/* Load CSV files into temp table tname (columns from the first file's header). */
static bool load_csv(sql_parser *p, char **files, int nf, const rf_opts *o, const char *tname)
{
    char eb[256];
    char **f;
    size_t nfld;
    unsigned *mask = NULL;
    bool *seen = NULL;
    int ncols = -1;
    /* Pass 1: header (+ types). */
    for (int fi = 0; fi < nf && !p->failed; fi++) {
        sl_csv *c = sl_csv_open(files[fi], o->sep);
        if (!c) {
            sl__sql_fail(p, EMU_E_RUNTIME, "PATH_NOT_FOUND", "42K03", "Path does not exist: %s.",
                         files[fi]);
            break;
        }
        int rc;
        bool first = true;
        while ((rc = sl_csv_next(c, &f, &nfld, eb, sizeof(eb))) == 1) {
            if (first && ncols < 0) {
                ncols = (int)nfld;
                mask = sl_xcalloc(nfld, sizeof(*mask));
                seen = sl_xcalloc(nfld, sizeof(*seen));
                for (size_t k = 0; k < nfld; k++) {
                    mask[k] = INF_ALL;
                    char nm[32];
                    snprintf(nm, sizeof(nm), "_c%zu", k);
                    sl__sql_scope_add(p, o->header && *f[k] ? f[k] : nm, EMU_T_STRING);
                }
            } else if ((int)nfld != ncols) {
                snprintf(eb, sizeof(eb), "line %ld: expected %d fields, found %zu", sl_csv_line(c),
                         ncols, nfld);
                rc = -1;
                break;
            }
            bool is_header = first && o->header;
            first = false;
            if (is_header || !o->infer)
                continue;
            for (size_t k = 0; k < nfld; k++)
                if (*f[k]) {
                    mask[k] &= infer_mask(f[k]);
                    seen[k] = true;
                }
        }
        sl_csv_close(c);
        if (rc < 0)
            csv_fail(p, files[fi], eb);
    }
    if (!p->failed && ncols < 0) {
        sl__sql_fail(p, EMU_E_RUNTIME, "UNABLE_TO_INFER_SCHEMA", "42KD9",
                     "Unable to infer schema for CSV. It must be specified manually (the input is "
                     "empty).");
    }
    for (int k = 0; k < ncols && !p->failed; k++)
        p->cols[k].type = o->infer ? mask_type(mask[k], seen[k]) : EMU_T_STRING;
    free(mask);
    free(seen);
    if (p->failed || !create_temp(p, tname))
        return false;
    sqlite3_stmt *st = insert_stmt(p, tname, ncols);
    for (int fi = 0; fi < nf && st && !p->failed; fi++) {
        sl_csv *c = sl_csv_open(files[fi], o->sep);
        if (!c)
            break;
        int rc;
        bool first = true;
        long n = 0;
        while ((rc = sl_csv_next(c, &f, &nfld, eb, sizeof(eb))) == 1) {
            if (first && o->header) {
                first = false;
                continue;
            }
            first = false;
            for (int k = 0; k < ncols; k++)
                bind_loaded(st, k + 1, (size_t)k < nfld ? f[k] : NULL, p->cols[k].type, o->infer);
            if (!step_insert(p, st))
                break;
            if ((++n & 4095) == 0 && is_canceled(p)) {
                sl__sql_fail(p, EMU_E_CANCELED, "OPERATION_CANCELED", "HY008",
                             "The statement was canceled.");
                break;
            }
        }
        if (rc < 0 && !p->failed)
            csv_fail(p, files[fi], eb);
        sl_csv_close(c);
    }
    sqlite3_finalize(st);
    return !p->failed;
}

static char *json_cell(const json_t *v, emu_type t)
{
    if (!v || json_is_null(v))
        return NULL;
    if (json_is_string(v))
        return sl_xstrdup(json_string_value(v));
    if (json_is_true(v) || json_is_false(v))
        return sl_xstrdup(t == EMU_T_BOOLEAN ? (json_is_true(v) ? "1" : "0")
                                             : (json_is_true(v) ? "true" : "false"));
    if (json_is_real(v)) {
        char buf[64];
        sl__emu_format_double(json_real_value(v), buf, sizeof(buf));
        return sl_xstrdup(buf);
    }
    return sl_json_dumps(v);
}

static emu_type json_kind(const json_t *v)
{
    if (json_is_integer(v))
        return EMU_T_BIGINT;
    if (json_is_real(v))
        return EMU_T_DOUBLE;
    if (json_is_boolean(v))
        return EMU_T_BOOLEAN;
    return EMU_T_STRING;
}

/* Load JSON Lines: columns = union of keys in first-seen order. */
static bool load_json(sql_parser *p, char **files, int nf, const rf_opts *o, const char *tname)
{
    sl__map *idx = sl__map_new();
    int *state = NULL; /* per column: -1 = no value yet, else emu_type so far */
    for (int pass = 0; pass < 2 && !p->failed; pass++) {
        sqlite3_stmt *st = NULL;
        if (pass == 1) {
            for (int k = 0; k < p->n_cols; k++)
                p->cols[k].type = o->infer && state[k] >= 0 ? (emu_type)state[k] : EMU_T_STRING;
            if (p->n_cols == 0) {
                sl__sql_fail(p, EMU_E_RUNTIME, "UNABLE_TO_INFER_SCHEMA", "42KD9",
                             "Unable to infer schema for JSON (the input is empty).");
                break;
            }
            if (!create_temp(p, tname) || !(st = insert_stmt(p, tname, p->n_cols)))
                break;
        }
        for (int fi = 0; fi < nf && !p->failed; fi++) {
            FILE *fp = fopen(files[fi], "rb");
            if (!fp) {
                sl__sql_fail(p, EMU_E_RUNTIME, "PATH_NOT_FOUND", "42K03",
                             "Path does not exist: %s.", files[fi]);
                break;
            }
            char *line = NULL;
            size_t cap = 0;
            long lineno = 0;
            ssize_t len;
            while ((len = getline(&line, &cap, fp)) >= 0 && !p->failed) {
                lineno++;
                bool blank = true;
                for (ssize_t k = 0; k < len; k++)
                    if (!isspace((unsigned char)line[k]))
                        blank = false;
                if (blank)
                    continue;
                json_error_t je;
                json_t *obj = json_loadb(line, (size_t)len, 0, &je);
                if (!json_is_object(obj)) {
                    char m[128];
                    snprintf(m, sizeof(m), "line %ld: not a JSON object", lineno);
                    csv_fail(p, files[fi], m);
                    json_decref(obj);
                    break;
                }
                const char *key;
                json_t *v;
                if (pass == 0) {
                    json_object_foreach(obj, key, v)
                    {
                        intptr_t k = (intptr_t)sl__map_get(idx, key);
                        if (!k) {
                            sl__sql_scope_add(p, key, EMU_T_STRING);
                            k = p->n_cols;
                            sl__map_put(idx, key, (void *)k);
                            state = sl_xrealloc(state, (size_t)p->n_cols * sizeof(*state));
                            state[k - 1] = -1;
                        }
                        if (json_is_null(v))
                            continue;
                        int jt = (int)json_kind(v);
                        int *s = &state[k - 1];
                        if (*s < 0)
                            *s = jt;
                        else if (*s != jt)
                            *s = (sl__emu_type_is_numeric((emu_type)*s) &&
                                  sl__emu_type_is_numeric((emu_type)jt))
                                     ? EMU_T_DOUBLE
                                     : EMU_T_STRING;
                    }
                } else {
                    for (int k = 0; k < p->n_cols; k++) {
                        char *cell =
                            json_cell(json_object_get(obj, p->cols[k].name), p->cols[k].type);
                        bind_loaded(st, k + 1, cell, p->cols[k].type, true);
                        free(cell);
                    }
                    step_insert(p, st);
                }
                json_decref(obj);
            }
            free(line);
            fclose(fp);
        }
        sqlite3_finalize(st);
    }
    free(state);
    sl__map_free(idx, NULL);
    return !p->failed;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Resolve a /Volumes path to data files (a file, or the visible files of a directory). */
static char **rf_files(sql_parser *p, const char *path, int *n)
{
    *n = 0;
    char *c = NULL, *s = NULL, *v = NULL, *rel = NULL;
    emu_err pe = {0};
    if (!sl__emu_path_parse(path, strlen(path), &c, &s, &v, &rel, &pe)) {
        sl__sql_fail(p, EMU_E_RUNTIME, "PATH_NOT_FOUND", "42K03", "Path does not exist: %s (%s).",
                     path, pe.msg);
        return NULL;
    }
    char *full = sl_xasprintf("%s/%s/%s/%s%s%s", sl__emu_store_volumes_root(p->ctx->store), c, s, v,
                              *rel ? "/" : "", rel);
    bool vol_ok = sl__emu_uc_volume_exists(p->db, c, s, v);
    free(c);
    free(s);
    free(v);
    free(rel);
    struct stat stt;
    char **files = NULL;
    if (!vol_ok || stat(full, &stt) != 0) {
        sl__sql_fail(p, EMU_E_RUNTIME, "PATH_NOT_FOUND", "42K03", "Path does not exist: %s.", path);
    } else if (S_ISDIR(stt.st_mode)) {
        DIR *d = opendir(full);
        struct dirent *de;
        while (d && (de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.' || de->d_name[0] == '_')
                continue;
            char *fp = sl_xasprintf("%s/%s", full, de->d_name);
            if (stat(fp, &stt) == 0 && S_ISREG(stt.st_mode)) {
                files = sl_xrealloc(files, (size_t)(*n + 1) * sizeof(*files));
                files[(*n)++] = fp;
            } else {
                free(fp);
            }
        }
        if (d)
            closedir(d);
        if (*n)
            qsort(files, (size_t)*n, sizeof(*files), cmp_str);
        else
            sl__sql_fail(p, EMU_E_RUNTIME, "UNABLE_TO_INFER_SCHEMA", "42KD9",
                         "Unable to infer schema: no files found in %s.", path);
    } else {
        files = sl_xmalloc(sizeof(*files));
        files[(*n)++] = sl_xstrdup(full);
    }
    free(full);
    return files;
}

static bool opt_bool(sql_parser *p, bool *out)
{
    sql_tok *t = cur(p);
    if (is_kw(t, "TRUE") || is_kw(t, "FALSE")) {
        *out = is_kw(t, "TRUE");
    } else if (t->k == TK_STRING &&
               (strcasecmp(t->text, "true") == 0 || strcasecmp(t->text, "false") == 0)) {
        *out = strcasecmp(t->text, "true") == 0;
    } else {
        sl__sql_fail_syntax(p);
        return false;
    }
    p->i++;
    return true;
}

/* FROM read_files('/Volumes/...', format => 'csv', header => true, ...) */
bool sl__sql_read_files(sql_parser *p)
{
    p->i += 2; /* read_files ( */
    if (cur(p)->k != TK_STRING) {
        sl__sql_fail_syntax(p);
        return false;
    }
    char *path = sl_xstrdup(cur(p)->text);
    p->i++;
    rf_opts o = {.format = "", .header = false, .infer = true, .sep = ','};
    while (!p->failed && accept_op(p, ",")) {
        if (!is_name_tok(cur(p)) || !is_op(peek_at(p, 1), "=>")) {
            sl__sql_fail_syntax(p);
            break;
        }
        char key[64];
        snprintf(key, sizeof(key), "%s", cur(p)->text);
        p->i += 2;
        if (strcasecmp(key, "format") == 0 && cur(p)->k == TK_STRING) {
            snprintf(o.format, sizeof(o.format), "%s", cur(p)->text);
            sl__lower(o.format);
            p->i++;
        } else if (strcasecmp(key, "header") == 0) {
            opt_bool(p, &o.header);
        } else if (strcasecmp(key, "inferColumnTypes") == 0 ||
                   strcasecmp(key, "inferSchema") == 0) {
            opt_bool(p, &o.infer);
        } else if ((strcasecmp(key, "sep") == 0 || strcasecmp(key, "delimiter") == 0) &&
                   cur(p)->k == TK_STRING && strlen(cur(p)->text) == 1) {
            o.sep = cur(p)->text[0];
            p->i++;
        } else if (cur(p)->k == TK_STRING || cur(p)->k == TK_NUMBER || is_kw(cur(p), "TRUE") ||
                   is_kw(cur(p), "FALSE")) {
            sl_debug("emulator: read_files option '%s' ignored", key);
            p->i++;
        } else {
            sl__sql_fail_syntax(p);
        }
    }
    if (!p->failed)
        expect_op(p, ")");
    if (!p->failed && !*o.format) {
        const char *dot = strrchr(path, '.');
        snprintf(o.format, sizeof(o.format), "%s",
                 dot && (strcasecmp(dot, ".json") == 0 || strcasecmp(dot, ".jsonl") == 0) ? "json"
                                                                                          : "csv");
    }
    if (!p->failed && strcmp(o.format, "csv") != 0 && strcmp(o.format, "json") != 0) {
        char what[64];
        snprintf(what, sizeof(what), "read_files format '%s'", o.format);
        sl__sql_fail_unsupported(p, what);
    }
    int nf = 0;
    char **files = p->failed ? NULL : rf_files(p, path, &nf);
    char tname[32];
    snprintf(tname, sizeof(tname), "rf_%d", p->n_temps + 1);
    if (!p->failed) {
        if (strcmp(o.format, "csv") == 0)
            load_csv(p, files, nf, &o, tname);
        else
            load_json(p, files, nf, &o, tname);
    }
    for (int k = 0; k < nf; k++)
        free(files[k]);
    free(files);
    free(path);
    if (p->failed)
        return false;
    sl_buf s = {0};
    sl_buf_puts(&s, "temp.");
    sl__sql_put_ident(&s, tname);
    p->from_sql = sl_buf_take(&s);
    p->srcs[0].name = sl_xstrdup("read_files");
    return true;
}
