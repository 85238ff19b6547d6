/* csv.c - a streaming RFC 4180 reader: quoted fields with embedded separators, doubled
 * quotes and line breaks; CRLF, LF or CR records; blank lines skipped; every record must have
 * as many fields as the first (a ragged row is an error naming its line). Memory is one
 * read buffer plus the current record. A NUL byte anywhere is an error naming its line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/util.h"

struct sl_csv {
    FILE *f;
    char sep;
    char buf[65536];
    size_t pos, len;
    bool eof;
    long line;       /* current physical line (1-based) */
    long rec_line;   /* line where the last record started */
    char *rec;       /* field bytes, each NUL-terminated */
    size_t rec_len, rec_cap;
    size_t *offs;    /* field start offsets into rec */
    char **fields;
    size_t n, cap;
    size_t width;    /* fields per record, from the first record (0 = not yet known) */
};

sl_csv *sl_csv_open(const char *path, char sep)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    sl_csv *c = sl_xcalloc(1, sizeof(*c));
    c->f = f;
    c->sep = sep;
    c->line = 1;
    return c;
}

void sl_csv_close(sl_csv *c)
{
    if (!c)
        return;
    fclose(c->f);
    free(c->rec);
    free(c->offs);
    free(c->fields);
    free(c);
}

long sl_csv_line(const sl_csv *c)
{
    return c->rec_line;
}

static int peekc(sl_csv *c)
{
    if (c->pos == c->len) {
        if (c->eof)
            return EOF;
        c->len = fread(c->buf, 1, sizeof(c->buf), c->f);
        c->pos = 0;
        if (c->len == 0) {
            c->eof = true;
            return EOF;
        }
    }
    return (unsigned char)c->buf[c->pos];
}

/* A physical line ends at "\n", "\r\n" or a lone "\r" (the three record ends eol() accepts),
 * so line numbers in errors are right for old Mac files too. */
static int getc_(sl_csv *c)
{
    int ch = peekc(c);
    if (ch != EOF)
        c->pos++;
    if (ch == '\n' || (ch == '\r' && peekc(c) != '\n'))
        c->line++;
    return ch;
}

static void put(sl_csv *c, char ch)
{
    if (c->rec_len + 1 >= c->rec_cap) {
        c->rec_cap = c->rec_cap ? c->rec_cap * 2 : 256;
        c->rec = sl_xrealloc(c->rec, c->rec_cap);
    }
    c->rec[c->rec_len++] = ch;
}

static void start_field(sl_csv *c)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->offs = sl_xrealloc(c->offs, c->cap * sizeof(*c->offs));
        c->fields = sl_xrealloc(c->fields, c->cap * sizeof(*c->fields));
    }
    c->offs[c->n++] = c->rec_len;
}

/* Consume an end of line ("\n" or "\r\n") if one is next; true if consumed or at EOF. */
static bool eol(sl_csv *c, int ch)
{
    if (ch == '\n' || ch == EOF)
        return true;
    if (ch == '\r') {
        if (peekc(c) == '\n')
            getc_(c);
        return true;
    }
    return false;
}

/* A NUL byte is never text: a binary file, or one in UTF-16, which would otherwise load as
 * truncated fields. */
static int nul_byte(sl_csv *c, char *errbuf, size_t errlen)
{
    snprintf(errbuf, errlen, "line %ld: NUL byte (binary data or UTF-16, not CSV text)", c->line);
    return -1;
}

int sl_csv_next(sl_csv *c, char ***fields, size_t *n_fields, char *errbuf, size_t errlen)
{
    int ch;
    /* Skip blank lines. */
    for (;;) {
        ch = peekc(c);
        if (ch == EOF)
            return 0;
        if (ch == '\n' || ch == '\r') {
            getc_(c);
            if (ch == '\r' && peekc(c) == '\n')
                getc_(c);
            continue;
        }
        break;
    }
    c->rec_line = c->line;
    c->rec_len = 0;
    c->n = 0;
    for (;;) {
        start_field(c);
        ch = getc_(c);
        if (ch == '"') {
            for (;;) {
                ch = getc_(c);
                if (ch == EOF) {
                    snprintf(errbuf, errlen, "line %ld: unterminated quoted field", c->rec_line);
                    return -1;
                }
                if (ch == '\0')
                    return nul_byte(c, errbuf, errlen);
                if (ch == '"') {
                    if (peekc(c) == '"') {
                        getc_(c);
                        put(c, '"');
                        continue;
                    }
                    break;
                }
                put(c, (char)ch);
            }
            ch = getc_(c);
            if (ch != c->sep && !eol(c, ch)) {
                snprintf(errbuf, errlen, "line %ld: unexpected character after a closing quote",
                         c->line);
                return -1;
            }
        } else {
            while (ch != c->sep && !eol(c, ch)) {
                if (ch == '\0')
                    return nul_byte(c, errbuf, errlen);
                if (ch == '"') {
                    snprintf(errbuf, errlen, "line %ld: quote inside an unquoted field",
                             c->line);
                    return -1;
                }
                put(c, (char)ch);
                ch = getc_(c);
            }
        }
        put(c, '\0');
        if (ch != c->sep)
            break;
    }
    if (c->width == 0) {
        c->width = c->n;
    } else if (c->n != c->width) {
        snprintf(errbuf, errlen, "line %ld: expected %zu fields, found %zu", c->rec_line,
                 c->width, c->n);
        return -1;
    }
    for (size_t i = 0; i < c->n; i++)
        c->fields[i] = c->rec + c->offs[i];
    *fields = c->fields;
    *n_fields = c->n;
    return 1;
}
