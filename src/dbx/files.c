/*
 * files.c - the Files API on Unity Catalog volumes: streamed upload and download
 * (memory does not grow with the file), HEAD metadata, delete, mkdir -p and paged
 * directory listing. Remote paths are absolute ("/Volumes/cat/schema/vol/dir/x.csv")
 * and percent-encoded segment by segment.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "dbx_int.h"

static sl_code encoded_path(const char *prefix, const char *remote, char **out, sl_err *err)
{
    char *enc = NULL;
    sl_code rc = sl_dbx_path_encode(remote, &enc, err);
    if (rc != SL_OK)
        return rc;
    *out = sl_xasprintf("%s%s", prefix, enc);
    free(enc);
    return SL_OK;
}

sl_code sl_dbx_file_upload(sl_dbx_client *c, const char *local_path, const char *remote_path,
                           bool overwrite, const sl_dbx_call *call, sl_err *err)
{
    char what[200];
    snprintf(what, sizeof(what), "upload %.180s", remote_path ? remote_path : "");
    char *enc = NULL;
    sl_code rc = encoded_path("/api/2.0/fs/files", remote_path, &enc, err);
    if (rc != SL_OK)
        return sl__dbx_ctx(rc, err, "upload");
    int fd = open(local_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = sl_err_set(err, SL_EIO, "%s: cannot open %s: %s", what, local_path, strerror(errno));
        free(enc);
        return rc;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = sl_err_set(err, SL_EIO, "%s: %s is not a regular file", what, local_path);
        close(fd);
        free(enc);
        return rc;
    }
#ifdef POSIX_FADV_SEQUENTIAL
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    char *path = sl_xasprintf("%s?overwrite=%s", enc, overwrite ? "true" : "false");
    sl__dbx_req req;
    sl__dbx_req_init(&req, "PUT", path, what);
    req.upload_fd = fd;
    req.upload_size = (int64_t)st.st_size;
    req.progress_op = "upload";
    req.progress_id = remote_path;
    req.call = call;
    sl__dbx_resp resp;
    rc = sl__dbx_request(c, &req, &resp, err);
    if (rc == SL_OK && call && call->progress) {
        sl_dbx_progress p = {.op = "upload",
                             .id = remote_path,
                             .bytes_done = (int64_t)st.st_size,
                             .bytes_total = (int64_t)st.st_size};
        call->progress(call->progress_arg, &p);
    }
    sl__dbx_resp_cleanup(&resp);
    close(fd);
    free(path);
    free(enc);
    return rc;
}

sl_code sl_dbx_file_download(sl_dbx_client *c, const char *remote_path, const char *local_path,
                             const sl_dbx_call *call, sl_err *err)
{
    char what[200];
    snprintf(what, sizeof(what), "download %.180s", remote_path ? remote_path : "");
    char *path = NULL;
    sl_code rc = encoded_path("/api/2.0/fs/files", remote_path, &path, err);
    if (rc != SL_OK)
        return sl__dbx_ctx(rc, err, "download");
    /* Write next to the target and rename on success: never a partial file. */
    char *tmp = sl_xasprintf("%s.part-XXXXXX", local_path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        rc = sl_err_set(err, SL_EIO, "%s: cannot create %s: %s", what, tmp, strerror(errno));
        free(tmp);
        free(path);
        return rc;
    }
    fchmod(fd, 0644);
    sl__dbx_req req;
    sl__dbx_req_init(&req, "GET", path, what);
    req.download_fd = fd;
    req.accept = "application/octet-stream";
    req.progress_op = "download";
    req.progress_id = remote_path;
    req.call = call;
    sl__dbx_resp resp;
    rc = sl__dbx_request(c, &req, &resp, err);
    sl__dbx_resp_cleanup(&resp);
    if (rc == SL_OK && fsync(fd) != 0)
        rc = sl_err_set(err, SL_EIO, "%s: writing %s: %s", what, local_path, strerror(errno));
    if (close(fd) != 0 && rc == SL_OK)
        rc = sl_err_set(err, SL_EIO, "%s: writing %s: %s", what, local_path, strerror(errno));
    if (rc == SL_OK && rename(tmp, local_path) != 0)
        rc = sl_err_set(err, SL_EIO, "%s: cannot rename to %s: %s", what, local_path,
                        strerror(errno));
    if (rc != SL_OK)
        unlink(tmp);
    free(tmp);
    free(path);
    return rc;
}

sl_code sl_dbx_file_head(sl_dbx_client *c, const char *remote_path, const sl_dbx_call *call,
                         sl_dbx_file_info *out, sl_err *err)
{
    memset(out, 0, sizeof(*out));
    out->size = -1;
    out->last_modified_ms = -1;
    char what[200];
    snprintf(what, sizeof(what), "stat %.180s", remote_path ? remote_path : "");
    char *path = NULL;
    sl_code rc = encoded_path("/api/2.0/fs/files", remote_path, &path, err);
    if (rc != SL_OK)
        return sl__dbx_ctx(rc, err, "stat");
    sl__dbx_req req;
    sl__dbx_req_init(&req, "HEAD", path, what);
    req.call = call;
    sl__dbx_resp resp;
    rc = sl__dbx_request(c, &req, &resp, err);
    if (rc == SL_OK) {
        out->size = resp.content_length;
        snprintf(out->content_type, sizeof(out->content_type), "%s", resp.content_type);
        if (resp.last_modified[0]) {
            time_t t = curl_getdate(resp.last_modified, NULL);
            if (t != (time_t)-1)
                out->last_modified_ms = (int64_t)t * 1000;
        }
    }
    sl__dbx_resp_cleanup(&resp);
    free(path);
    return rc;
}

static sl_code simple(sl_dbx_client *c, const char *method, const char *prefix,
                      const char *remote_path, const char *verb, const sl_dbx_call *call,
                      sl_err *err)
{
    char what[200];
    snprintf(what, sizeof(what), "%s %.180s", verb, remote_path ? remote_path : "");
    char *path = NULL;
    sl_code rc = encoded_path(prefix, remote_path, &path, err);
    if (rc != SL_OK)
        return sl__dbx_ctx(rc, err, "%s", verb);
    sl__dbx_req req;
    sl__dbx_req_init(&req, method, path, what);
    req.call = call;
    sl__dbx_resp resp;
    rc = sl__dbx_request(c, &req, &resp, err);
    sl__dbx_resp_cleanup(&resp);
    free(path);
    return rc;
}

sl_code sl_dbx_file_delete(sl_dbx_client *c, const char *remote_path, const sl_dbx_call *call,
                           sl_err *err)
{
    return simple(c, "DELETE", "/api/2.0/fs/files", remote_path, "delete", call, err);
}

sl_code sl_dbx_dir_create(sl_dbx_client *c, const char *remote_path, const sl_dbx_call *call,
                          sl_err *err)
{
    return simple(c, "PUT", "/api/2.0/fs/directories", remote_path, "create directory", call, err);
}

sl_code sl_dbx_dir_list(sl_dbx_client *c, const char *remote_path, size_t max_items,
                        const sl_dbx_call *call, json_t **out, sl_err *err)
{
    *out = NULL;
    char what[200];
    snprintf(what, sizeof(what), "list %.180s", remote_path ? remote_path : "");
    char *path = NULL;
    sl_code rc = encoded_path("/api/2.0/fs/directories", remote_path, &path, err);
    if (rc != SL_OK)
        return sl__dbx_ctx(rc, err, "list");
    rc = sl__dbx_list_all(c, path, "contents", max_items, what, call, out, err);
    free(path);
    return rc;
}
