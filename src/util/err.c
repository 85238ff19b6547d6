/* err.c - error codes, the caller-owned sl_err, and assertion failures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/util.h"

static const char *const code_names[] = {
#define X(name, text) #name,
    SL_CODE_MAP(X)
#undef X
};
static const char *const code_texts[] = {
#define X(name, text) text,
    SL_CODE_MAP(X)
#undef X
};

const char *sl_code_name(sl_code code)
{
    return (unsigned)code < SL__CODE_COUNT ? code_names[code] : "EUNKNOWN";
}

const char *sl_code_text(sl_code code)
{
    return (unsigned)code < SL__CODE_COUNT ? code_texts[code] : "unknown error";
}

void sl_err_clear(sl_err *err)
{
    if (!err)
        return;
    memset(err, 0, sizeof(*err));
    err->retry_after_ms = -1;
}

/* Messages are one line: newlines and control characters become spaces. */
static void one_line(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = '\0';
    for (char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
}

sl_code sl_err_set(sl_err *err, sl_code code, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    one_line(err->msg);
    return code;
}

sl_code sl_err_prefix(sl_err *err, const char *fmt, ...)
{
    if (!err)
        return SL_OK;
    char prefix[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    char old[sizeof(err->msg)];
    snprintf(old, sizeof(old), "%s", err->msg[0] ? err->msg : sl_code_text(err->code));
    size_t n = strlen(prefix);
    if (n > sizeof(err->msg) - 3)
        n = sizeof(err->msg) - 3;
    memcpy(err->msg, prefix, n);
    memcpy(err->msg + n, ": ", 2);
    size_t rest = sizeof(err->msg) - n - 3;
    size_t ol = strnlen(old, rest);
    memcpy(err->msg + n + 2, old, ol);
    err->msg[n + 2 + ol] = '\0';
    one_line(err->msg);
    return err->code;
}

void sl__assert_fail(const char *cond, const char *file, int line)
{
    fprintf(stderr, "sluice: assertion failed: %s (%s:%d)\n", cond, file, line);
    abort();
}
