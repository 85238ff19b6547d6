/*
 * files.c - the Files API over Unity Catalog volumes, stored under <data>/volumes/c/s/v.
 * Uploads stream straight to a temp file (bounded memory whatever the size) and are
 * renamed into place when complete; downloads are served from the file descriptor with
 * Range support. Every path is validated: absolute, under /Volumes/<c>/<s>/<v>/ of an
 * existing volume, no '.'/'..' or empty segments, no NUL or control characters.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "emulator_int.h"

#define MAX_PATH_LEN 4096

bool sl__emu_path_parse(const char *path, size_t n, char **cat, char **sch, char **vol,
                        char **rel, emu_err *e)
{
    *cat = *sch = *vol = *rel = NULL;
    const char *bad = NULL;
    if (n != strlen(path))
        bad = "the path contains a NUL character";
    else if (n > MAX_PATH_LEN)
        bad = "the path is too long";
    else if (!sl_str_has_prefix(path, "/Volumes/"))
        bad = "the path must be absolute and start with /Volumes/<catalog>/<schema>/<volume>/";
    for (size_t k = 0; !bad && k < n; k++)
        if ((unsigned char)path[k] < 0x20 || path[k] == 0x7f)
            bad = "the path contains a NUL or control character";
    if (bad) {
        sl__emu_err_set(e, EMU_E_INVALID, "INVALID_PARAMETER_VALUE", NULL, NULL,
                        "Invalid path: %s.", bad);
        return false;
    }
    char *copy = sl_xstrdup(path + strlen("/Volumes/"));
    size_t len = strlen(copy);
    if (len && copy[len - 1] == '/')
        copy[--len] = '\0'; /* one trailing slash (directories) */
    char *parts[3] = {0};
    sl_buf relsb = {0};
    int k = 0;
    char *p = copy;
    while (!bad) {
        char *slash = strchr(p, '/');
        if (slash)
            *slash = '\0';
        if (!*p)
            bad = "the path has an empty segment";
        else if (strcmp(p, ".") == 0 || strcmp(p, "..") == 0)
            bad = "'.' and '..' segments are not allowed";
        else if (k < 3)
            parts[k++] = p;
        else {
            if (relsb.len)
                sl_buf_putc(&relsb, '/');
            sl_buf_puts(&relsb, p);
        }
        if (!slash)
            break;
        p = slash + 1;
    }
    if (!bad && k < 3)
        bad = "the path must name a volume: /Volumes/<catalog>/<schema>/<volume>/...";
    if (bad) {
        sl__emu_err_set(e, EMU_E_INVALID, "INVALID_PARAMETER_VALUE", NULL, NULL,
                        "Invalid path '%.200s': %s.", path, bad);
        free(copy);
        sl_buf_free(&relsb);
        return false;
    }
    *cat = sl_xstrdup(parts[0]);
    *sch = sl_xstrdup(parts[1]);
    *vol = sl_xstrdup(parts[2]);
    sl__lower(*cat);
    sl__lower(*sch);
    sl__lower(*vol);
    *rel = sl_buf_take(&relsb);
    free(copy);
    return true;
}

typedef struct fpath {
    char *c, *s, *v, *rel;
    char *fs;  /* local path */
    char *api; /* canonical /Volumes/c/s/v[/rel] */
} fpath;

static void fpath_free(fpath *f)
{
    free(f->c);
    free(f->s);
    free(f->v);
    free(f->rel);
    free(f->fs);
    free(f->api);
}

/* Validate the request path and check its volume; replies the error and returns false. */
static bool resolve(emu_req *r, fpath *f)
{
    memset(f, 0, sizeof(*f));
    sl_emulator *emu = sl__emu_req_emu(r);
    const char *p = sl__emu_req_param(r, 0);
    emu_err e = {0};
    if (!p || !sl__emu_path_parse(p, strlen(p), &f->c, &f->s, &f->v, &f->rel, &e)) {
        sl__emu_reply_emu_err(r, &e);
        return false;
    }
    bool exists = false;
    sqlite3 *db = sl__emu_db_acquire(emu->store);
    exists = sl__emu_uc_volume_exists(db, f->c, f->s, f->v);
    sl__emu_db_release(emu->store, db);
    if (!exists) {
        sl__emu_reply_error(r, 404, "NOT_FOUND",
                            "Volume '%s.%s.%s' does not exist (path %s).", f->c, f->s, f->v, p);
        fpath_free(f);
        return false;
    }
    const char *root = sl__emu_store_volumes_root(emu->store);
    bool has_rel = f->rel[0] != '\0';
    f->fs = sl_xasprintf("%s/%s/%s/%s%s%s", root, f->c, f->s, f->v, has_rel ? "/" : "", f->rel);
    f->api = sl_xasprintf("/Volumes/%s/%s/%s%s%s", f->c, f->s, f->v, has_rel ? "/" : "", f->rel);
    return true;
}

static emu_hr reply_empty(emu_req *r, int status)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"",
                                                                MHD_RESPMEM_PERSISTENT);
    return sl__emu_reply(r, status, resp);
}

static bool query_false(emu_req *r, const char *name)
{
    const char *v = sl__emu_req_query(r, name);
    return v && strcmp(v, "false") == 0;
}

static char *parent_of(const char *p)
{
    char *d = sl_xstrdup(p);
    char *slash = strrchr(d, '/');
    if (slash)
        *slash = '\0';
    return d;
}

emu_hr sl__emu_files_put_begin(emu_req *r)
{
    emu_upload *up = sl__emu_req_upload(r);
    fpath f;
    if (!resolve(r, &f))
        return EMU_HR_DONE;
    emu_hr hr = EMU_HR_DONE;
    struct stat st;
    if (!f.rel[0]) {
        sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                            "Cannot upload to a volume root; name a file inside it.");
        goto out;
    }
    if (stat(f.fs, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            sl__emu_reply_error(r, 409, "ALREADY_EXISTS", "A directory exists at %s.", f.api);
            goto out;
        }
        if (query_false(r, "overwrite")) {
            sl__emu_reply_error(r, 409, "ALREADY_EXISTS",
                                "The file %s already exists and overwrite is false.", f.api);
            goto out;
        }
    }
    char *parent = parent_of(f.fs);
    if (sl_mkdirs(parent, NULL) != SL_OK) {
        int err = errno;
        free(parent);
        sl__emu_reply_error(r, err == ENOTDIR || err == EEXIST ? 409 : 500,
                            err == ENOTDIR || err == EEXIST ? "ALREADY_EXISTS" : "INTERNAL_ERROR",
                            "Cannot create the parent directory of %s: %s.", f.api,
                            strerror(err));
        goto out;
    }
    free(parent);
    char *tmpdir = sl_xasprintf("%s/.tmp", sl__emu_store_volumes_root(sl__emu_req_emu(r)->store));
    if (sl_mkdirs(tmpdir, NULL) != SL_OK) /* the failure surfaces at first use */
        sl_debug("emulator: mkdir %s: %s", tmpdir, strerror(errno));
    up->tmp_path = sl_xasprintf("%s/upload-XXXXXX", tmpdir);
    free(tmpdir);
    up->fd = mkstemp(up->tmp_path);
    if (up->fd < 0) {
        sl__emu_reply_error(r, 500, "INTERNAL_ERROR", "Cannot store the upload: %s.",
                            strerror(errno));
        free(up->tmp_path);
        up->tmp_path = NULL;
        goto out;
    }
    up->final_path = sl_xstrdup(f.fs);
out:
    fpath_free(&f);
    return hr;
}

emu_hr sl__emu_files_put(emu_req *r)
{
    emu_upload *up = sl__emu_req_upload(r);
    if (up->fd < 0 || !up->tmp_path)
        return sl__emu_reply_error(r, 500, "INTERNAL_ERROR", "The upload was not set up.");
    if (!up->err_errno && ftruncate(up->fd, (off_t)up->bytes) != 0) /* trailing holes */
        up->err_errno = errno;
    if (up->err_errno)
        return sl__emu_reply_error(r, 500, "INTERNAL_ERROR", "Writing the upload failed: %s.",
                                   strerror(up->err_errno));
    close(up->fd);
    up->fd = -1;
    struct stat st;
    if (query_false(r, "overwrite") && stat(up->final_path, &st) == 0)
        return sl__emu_reply_error(r, 409, "ALREADY_EXISTS",
                                   "The file already exists and overwrite is false.");
    if (rename(up->tmp_path, up->final_path) != 0)
        return sl__emu_reply_error(r, 500, "INTERNAL_ERROR", "Storing the upload failed: %s.",
                                   strerror(errno));
    free(up->tmp_path);
    up->tmp_path = NULL;
    sl__emu_stats_upload(sl__emu_req_emu(r), sl__emu_req_param(r, 0), up->bytes);
    return reply_empty(r, 204);
}

static void http_date(time_t t, char *buf, size_t n)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* RFC 7231 IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT". */
static bool parse_http_date(const char *s, time_t *out)
{
    static const char *months = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char mon[4];
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (sscanf(s, "%*3s, %2d %3s %4d %2d:%2d:%2d GMT", &tm.tm_mday, mon, &tm.tm_year, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return false;
    const char *m = strstr(months, mon);
    if (!m || (m - months) % 3)
        return false;
    tm.tm_mon = (int)((m - months) / 3);
    tm.tm_year -= 1900;
    *out = timegm(&tm);
    return true;
}

/* Parse a single "bytes=" range against size. 1 = range, 0 = none/ignored, -1 = bad. */
static int parse_range(const char *h, int64_t size, int64_t *from, int64_t *to)
{
    if (!h)
        return 0;
    if (!sl_str_has_prefix(h, "bytes=") || strchr(h, ','))
        return 0;
    const char *p = h + 6;
    char *end;
    if (*p == '-') {
        long long n = strtoll(p + 1, &end, 10);
        if (end == p + 1 || *end || n <= 0)
            return -1;
        *from = n >= size ? 0 : size - n;
        *to = size - 1;
    } else {
        long long a = strtoll(p, &end, 10);
        if (end == p || *end != '-' || a < 0)
            return -1;
        p = end + 1;
        long long b = size - 1;
        if (*p) {
            b = strtoll(p, &end, 10);
            if (*end || b < a)
                return -1;
        }
        if (a >= size)
            return -1;
        *from = a;
        *to = b >= size ? size - 1 : b;
    }
    return size > 0 ? 1 : -1;
}

emu_hr sl__emu_files_get(emu_req *r)
{
    fpath f;
    if (!resolve(r, &f))
        return EMU_HR_DONE;
    emu_hr hr;
    struct stat st;
    int fd = open(f.fs, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        hr = sl__emu_reply_error(r, 404, "NOT_FOUND", "The file %s does not exist.", f.api);
        fpath_free(&f);
        return hr;
    }
    int64_t size = st.st_size, from = 0, to = size - 1;
    bool head = strcmp(sl__emu_req_method(r), "HEAD") == 0;
    const char *ius = sl__emu_req_header(r, "If-Unmodified-Since");
    time_t since;
    if (ius && parse_http_date(ius, &since) && st.st_mtime > since) {
        close(fd);
        hr = sl__emu_reply_error(r, 412, "PRECONDITION_FAILED",
                                 "The file %s was modified after %s.", f.api, ius);
        fpath_free(&f);
        return hr;
    }
    int rng = head ? 0 : parse_range(sl__emu_req_header(r, "Range"), size, &from, &to);
    char buf[128];
    if (rng < 0) {
        close(fd);
        hr = sl__emu_reply_error(r, 416, "INVALID_PARAMETER_VALUE",
                                 "The requested range is not satisfiable for a %lld-byte file.",
                                 (long long)size);
        snprintf(buf, sizeof(buf), "bytes */%lld", (long long)size);
        sl__emu_reply_header(r, "Content-Range", buf);
        fpath_free(&f);
        return hr;
    }
    struct MHD_Response *resp;
    int64_t len = rng ? to - from + 1 : size;
    if (len == 0) {
        close(fd);
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else {
        resp = MHD_create_response_from_fd_at_offset64((uint64_t)len, fd, (uint64_t)from);
    }
    MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
    http_date(st.st_mtime, buf, sizeof(buf));
    MHD_add_response_header(resp, "Last-Modified", buf);
    MHD_add_response_header(resp, "Accept-Ranges", "bytes");
    if (rng) {
        snprintf(buf, sizeof(buf), "bytes %lld-%lld/%lld", (long long)from, (long long)to,
                 (long long)size);
        MHD_add_response_header(resp, "Content-Range", buf);
    }
    fpath_free(&f);
    return sl__emu_reply(r, rng ? 206 : 200, resp);
}

emu_hr sl__emu_files_delete(emu_req *r)
{
    fpath f;
    if (!resolve(r, &f))
        return EMU_HR_DONE;
    struct stat st;
    emu_hr hr;
    if (stat(f.fs, &st) != 0 || S_ISDIR(st.st_mode))
        hr = sl__emu_reply_error(r, 404, "NOT_FOUND", "The file %s does not exist.", f.api);
    else if (unlink(f.fs) != 0)
        hr = sl__emu_reply_error(r, 500, "INTERNAL_ERROR", "Cannot delete %s: %s.", f.api,
                                 strerror(errno));
    else
        hr = reply_empty(r, 204);
    fpath_free(&f);
    return hr;
}

emu_hr sl__emu_dirs_put(emu_req *r)
{
    fpath f;
    if (!resolve(r, &f))
        return EMU_HR_DONE;
    emu_hr hr;
    if (sl_mkdirs(f.fs, NULL) != SL_OK) {
        int err = errno;
        hr = err == EEXIST || err == ENOTDIR
                 ? sl__emu_reply_error(r, 409, "ALREADY_EXISTS",
                                       "A file exists at (or above) %s.", f.api)
                 : sl__emu_reply_error(r, 500, "INTERNAL_ERROR", "Cannot create %s: %s.", f.api,
                                       strerror(err));
    } else {
        struct stat st;
        hr = stat(f.fs, &st) == 0 && S_ISDIR(st.st_mode)
                 ? reply_empty(r, 204)
                 : sl__emu_reply_error(r, 409, "ALREADY_EXISTS", "A file exists at %s.", f.api);
    }
    fpath_free(&f);
    return hr;
}

emu_hr sl__emu_dirs_head(emu_req *r)
{
    fpath f;
    if (!resolve(r, &f))
        return EMU_HR_DONE;
    struct stat st;
    emu_hr hr = stat(f.fs, &st) == 0 && S_ISDIR(st.st_mode)
                    ? reply_empty(r, 200)
                    : sl__emu_reply_error(r, 404, "NOT_FOUND", "The directory %s does not exist.",
                                          f.api);
    fpath_free(&f);
    return hr;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *hex_encode(const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = strlen(s);
    char *o = sl_xmalloc(2 * n + 1);
    for (size_t i = 0; i < n; i++) {
        o[2 * i] = hex[(unsigned char)s[i] >> 4];
        o[2 * i + 1] = hex[(unsigned char)s[i] & 15];
    }
    o[2 * n] = '\0';
    return o;
}

static char *hex_decode(const char *s)
{
    size_t n = strlen(s);
    if (n % 2)
        return NULL;
    char *o = sl_xmalloc(n / 2 + 1);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1) {
            free(o);
            return NULL;
        }
        o[i] = (char)v;
    }
    o[n / 2] = '\0';
    return o;
}

emu_hr sl__emu_dirs_get(emu_req *r)
{
    fpath f;
    if (!resolve(r, &f))
        return EMU_HR_DONE;
    const char *ps = sl__emu_req_query(r, "page_size");
    const char *tok = sl__emu_req_query(r, "page_token");
    long page = ps ? strtol(ps, NULL, 10) : 1000;
    if (page <= 0 || page > 1000)
        page = 1000;
    char *after = tok && *tok ? hex_decode(tok) : NULL;
    if (tok && *tok && !after) {
        fpath_free(&f);
        return sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE", "Invalid page_token.");
    }
    DIR *d = opendir(f.fs);
    if (!d) {
        emu_hr hr = sl__emu_reply_error(r, 404, "NOT_FOUND", "The directory %s does not exist.",
                                        f.api);
        free(after);
        fpath_free(&f);
        return hr;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (after && strcmp(de->d_name, after) <= 0)
            continue;
        names = sl_xrealloc(names, (n + 1) * sizeof(*names));
        names[n++] = sl_xstrdup(de->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), cmp_names);
    json_t *contents = json_array();
    size_t shown = n < (size_t)page ? n : (size_t)page;
    for (size_t i = 0; i < shown; i++) {
        char *full = sl_xasprintf("%s/%s", f.fs, names[i]);
        char *api = sl_xasprintf("%s/%s", f.api, names[i]);
        struct stat st;
        if (stat(full, &st) == 0) {
            json_t *e = json_pack("{s:s, s:s, s:b, s:I}", "path", api, "name", names[i],
                                  "is_directory", S_ISDIR(st.st_mode), "last_modified",
                                  (json_int_t)st.st_mtime * 1000);
            if (!S_ISDIR(st.st_mode))
                json_object_set_new(e, "file_size", json_integer(st.st_size));
            json_array_append_new(contents, e);
        }
        free(full);
        free(api);
    }
    json_t *o = json_pack("{s:o}", "contents", contents);
    if (n > shown) {
        char *t = hex_encode(names[shown - 1]);
        json_object_set_new(o, "next_page_token", json_string(t));
        free(t);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(after);
    fpath_free(&f);
    return sl__emu_reply_json(r, 200, o);
}

emu_hr sl__emu_dirs_delete(emu_req *r)
{
    fpath f;
    if (!resolve(r, &f))
        return EMU_HR_DONE;
    emu_hr hr;
    struct stat st;
    if (!f.rel[0])
        hr = sl__emu_reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                                 "A volume root cannot be deleted with the Files API.");
    else if (stat(f.fs, &st) != 0 || !S_ISDIR(st.st_mode))
        hr = sl__emu_reply_error(r, 404, "NOT_FOUND", "The directory %s does not exist.", f.api);
    else if (rmdir(f.fs) != 0)
        hr = errno == ENOTEMPTY || errno == EEXIST
                 ? sl__emu_reply_error(r, 400, "DIRECTORY_NOT_EMPTY",
                                       "The directory %s is not empty.", f.api)
                 : sl__emu_reply_error(r, 500, "INTERNAL_ERROR", "Cannot delete %s: %s.", f.api,
                                       strerror(errno));
    else
        hr = reply_empty(r, 204);
    fpath_free(&f);
    return hr;
}
