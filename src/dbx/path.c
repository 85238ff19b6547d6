/*
 * path.c - URL pieces: percent-encoding of workspace paths (segment by segment, '/'
 * kept), query values, and Unity Catalog name checks. curl would otherwise squash
 * "." and ".." segments silently, so such paths are rejected here with a clear error.
 */
#include <ctype.h>
#include <string.h>

#include "dbx_int.h"

static bool unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static void pct_append(char **out, size_t *len, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    char *o = *out + *len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c)) {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    *len = (size_t)(o - *out);
}

char *sl__dbx_pct(const char *s)
{
    size_t n = strlen(s), len = 0;
    char *out = sl_xmalloc(3 * n + 1);
    out[0] = '\0';
    pct_append(&out, &len, s, n);
    return out;
}

sl_code sl_dbx_path_encode(const char *path, char **out, sl_err *err)
{
    *out = NULL;
    if (!path || !*path)
        return sl_err_set(err, SL_EINVAL, "empty path");
    if (path[0] != '/')
        return sl_err_set(err, SL_EINVAL, "path '%s' is not absolute (it must start with /)", path);
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)path[i] < 0x20 || path[i] == 0x7f)
            return sl_err_set(err, SL_EINVAL, "path contains a control character");
    char *buf = sl_xmalloc(3 * n + 2);
    size_t len = 0;
    buf[0] = '\0';
    if (n == 1) { /* "/" */
        buf[0] = '/';
        buf[1] = '\0';
        *out = buf;
        return SL_OK;
    }
    size_t i = 1;
    while (i <= n) {
        size_t j = i;
        while (j < n && path[j] != '/')
            j++;
        size_t seg = j - i;
        if (seg == 0 || (seg == 1 && path[i] == '.') ||
            (seg == 2 && path[i] == '.' && path[i + 1] == '.')) {
            free(buf);
            return sl_err_set(err, SL_EINVAL, "path '%.*s' has an empty, '.' or '..' segment",
                              (int)(n > 200 ? 200 : n), path);
        }
        buf[len++] = '/';
        buf[len] = '\0';
        pct_append(&buf, &len, path + i, seg);
        i = j + 1;
    }
    *out = buf;
    return SL_OK;
}

sl_code sl_dbx_uc_name_check(const char *what, const char *name, sl_err *err)
{
    if (!name || !*name)
        return sl_err_set(err, SL_EINVAL, "%s name is empty", what);
    size_t n = strlen(name);
    if (n > 255)
        return sl_err_set(err, SL_EINVAL, "%s name is %zu bytes long (max 255)", what, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '.' || c == ' ' || c == '/' || c < 0x20 || c == 0x7f)
            return sl_err_set(err, SL_EINVAL,
                              "%s name '%.64s' contains '%s' (not allowed in Unity Catalog "
                              "names)",
                              what, name,
                              c == '.'   ? "."
                              : c == ' ' ? "a space"
                              : c == '/' ? "/"
                                         : "a control character");
    }
    return SL_OK;
}
