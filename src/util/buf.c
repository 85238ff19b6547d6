/* buf.c - the growing string buffer (sl_buf), as curl's dynbuf. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/util.h"

static void grow(sl_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->p = sl_xrealloc(b->p, cap);
    b->cap = cap;
}

void sl_buf_put(sl_buf *b, const void *p, size_t n)
{
    grow(b, n);
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sl_buf_puts(sl_buf *b, const char *s)
{
    sl_buf_put(b, s, strlen(s));
}

void sl_buf_putc(sl_buf *b, char c)
{
    sl_buf_put(b, &c, 1);
}

void sl_buf_vprintf(sl_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(small)) {
        sl_buf_put(b, small, (size_t)n);
        return;
    }
    grow(b, (size_t)n);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void sl_buf_printf(sl_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sl_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

const char *sl_buf_str(const sl_buf *b)
{
    return b->p ? b->p : "";
}

char *sl_buf_take(sl_buf *b)
{
    char *s = b->p ? b->p : sl_xstrdup("");
    b->p = NULL;
    b->len = b->cap = 0;
    return s;
}

void sl_buf_reset(sl_buf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

void sl_buf_free(sl_buf *b)
{
    if (!b)
        return;
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
