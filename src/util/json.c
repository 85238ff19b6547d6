/* json.c - JSON text in and out (jansson), with one-line error messages. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/util.h"

char *sl_json_dumps(const json_t *j)
{
    /* An absent value (json_object_get of a missing key) prints as JSON null, as jansson's
     * packers treat it: callers print what a history or response lacks. */
    if (!j)
        return sl_xstrdup("null");
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s)
        abort();
    return s;
}

sl_code sl_json_loads(const char *text, json_t **out, sl_err *err)
{
    json_error_t je;
    *out = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!*out)
        return sl_err_set(err, SL_EINVAL, "invalid JSON at line %d column %d: %s", je.line,
                          je.column, je.text);
    return SL_OK;
}

sl_code sl_json_arg(const char *arg, json_t **out, sl_err *err)
{
    *out = NULL;
    if (arg[0] == '@' || strcmp(arg, "-") == 0) {
        json_error_t je;
        json_t *j;
        const char *what = arg[0] == '@' ? arg + 1 : "stdin";
        if (arg[0] == '@') {
            FILE *f = fopen(arg + 1, "r");
            if (!f)
                return sl_err_set(err, SL_EINVAL, "cannot read %s: %s", arg + 1, strerror(errno));
            j = json_loadf(f, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
            fclose(f);
        } else {
            j = json_loadf(stdin, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
        }
        if (!j)
            return sl_err_set(err, SL_EINVAL, "invalid JSON in %s at line %d column %d: %s", what,
                              je.line, je.column, je.text);
        *out = j;
        return SL_OK;
    }
    return sl_json_loads(arg, out, err);
}
