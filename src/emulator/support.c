/* support.c - small helpers for the emulator: SQL quoting, string map, decoding, dirs,
 * error text. (String building, mkdir -p and hashing are util.h's.) */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emulator_int.h"

static void put_quoted(sl_buf *sb, const char *s, char q)
{
    sl_buf_putc(sb, q);
    for (const char *p = s; *p; p++) {
        if (*p == q)
            sl_buf_putc(sb, q);
        sl_buf_putc(sb, *p);
    }
    sl_buf_putc(sb, q);
}

void sl__sql_put_ident(sl_buf *sb, const char *name)
{
    put_quoted(sb, name, '"');
}

void sl__sql_put_literal(sl_buf *sb, const char *s)
{
    put_quoted(sb, s, '\'');
}

/* ---- map: open addressing with linear probing, tombstones on delete */

struct map_slot {
    char *key; /* NULL = empty; TOMB = deleted */
    void *val;
};

struct sl__map {
    struct map_slot *slots;
    size_t cap, count, used; /* used counts tombstones too */
};

static char tomb_marker;
#define TOMB (&tomb_marker)

static uint64_t hash_str(const char *s)
{
    return sl_fnv1a(SL_FNV1A_INIT, s, strlen(s));
}

sl__map *sl__map_new(void)
{
    sl__map *m = sl_xcalloc(1, sizeof(*m));
    m->cap = 16;
    m->slots = sl_xcalloc(m->cap, sizeof(*m->slots));
    return m;
}

void sl__map_free(sl__map *m, void (*free_val)(void *))
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key && m->slots[i].key != TOMB) {
            free(m->slots[i].key);
            if (free_val)
                free_val(m->slots[i].val);
        }
    }
    free(m->slots);
    free(m);
}

static struct map_slot *find(const sl__map *m, const char *key)
{
    size_t i = hash_str(key) & (m->cap - 1);
    for (;;) {
        struct map_slot *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->key != TOMB && strcmp(s->key, key) == 0)
            return s;
        i = (i + 1) & (m->cap - 1);
    }
}

static void rehash(sl__map *m, size_t cap)
{
    struct map_slot *old = m->slots;
    size_t old_cap = m->cap;
    m->slots = sl_xcalloc(cap, sizeof(*m->slots));
    m->cap = cap;
    m->used = m->count;
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i].key || old[i].key == TOMB)
            continue;
        size_t k = hash_str(old[i].key) & (cap - 1);
        while (m->slots[k].key)
            k = (k + 1) & (cap - 1);
        m->slots[k] = old[i];
    }
    free(old);
}

void *sl__map_get(const sl__map *m, const char *key)
{
    struct map_slot *s = find(m, key);
    return s ? s->val : NULL;
}

void sl__map_put(sl__map *m, const char *key, void *val)
{
    struct map_slot *s = find(m, key);
    if (s) {
        s->val = val;
        return;
    }
    if ((m->used + 1) * 4 >= m->cap * 3)
        rehash(m, m->count * 4 >= m->cap ? m->cap * 2 : m->cap);
    size_t i = hash_str(key) & (m->cap - 1);
    while (m->slots[i].key && m->slots[i].key != TOMB)
        i = (i + 1) & (m->cap - 1);
    if (!m->slots[i].key)
        m->used++;
    m->slots[i].key = sl_xstrdup(key);
    m->slots[i].val = val;
    m->count++;
}

void *sl__map_del(sl__map *m, const char *key)
{
    struct map_slot *s = find(m, key);
    if (!s)
        return NULL;
    void *v = s->val;
    free(s->key);
    s->key = TOMB;
    s->val = NULL;
    m->count--;
    return v;
}

size_t sl__map_count(const sl__map *m)
{
    return m->count;
}

bool sl__map_next(const sl__map *m, size_t *it, const char **key, void **val)
{
    while (*it < m->cap) {
        struct map_slot *s = &m->slots[(*it)++];
        if (s->key && s->key != TOMB) {
            if (key)
                *key = s->key;
            if (val)
                *val = s->val;
            return true;
        }
    }
    return false;
}

/* ---- decoding and files */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *sl__pct_decode(const char *s, size_t n, bool plus_is_space, size_t *out_len)
{
    char *out = sl_xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n) {
                free(out);
                return NULL;
            }
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(h * 16 + l);
            i += 2;
        } else if (plus_is_space && s[i] == '+') {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    if (out_len)
        *out_len = o;
    return out;
}

void sl__lower(char *s)
{
    for (; s && *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

void sl__rmtree(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *child = sl_xasprintf("%s/%s", path, de->d_name);
        struct stat st;
        if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
            sl__rmtree(child);
        else
            unlink(child);
        free(child);
    }
    closedir(d);
    rmdir(path);
}

void sl__emu_err_set(emu_err *e, emu_ekind kind, const char *error_code, const char *cls,
                     const char *sqlstate, const char *fmt, ...)
{
    if (!e)
        return;
    e->kind = kind;
    snprintf(e->error_code, sizeof(e->error_code), "%s", error_code ? error_code : "");
    snprintf(e->cls, sizeof(e->cls), "%s", cls ? cls : "");
    snprintf(e->sqlstate, sizeof(e->sqlstate), "%s", sqlstate ? sqlstate : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
}

int sl__emu_err_http(const emu_err *e)
{
    switch (e->kind) {
    case EMU_E_NOT_FOUND:
        return 404;
    case EMU_E_EXISTS:
        return 409;
    case EMU_E_INTERNAL:
        return 500;
    case EMU_E_UNSUPPORTED:
        return 501;
    default:
        return 400;
    }
}
