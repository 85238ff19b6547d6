/* log.c - one-line log records on stderr. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sluice/util.h"

static int log_level = -1; /* -1: not yet read from LOG_LEVEL */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

bool sl_log_parse_level(const char *s, sl_log_level *out)
{
    static const struct {
        const char *name;
        sl_log_level lvl;
    } names[] = {{"debug", SL_LOG_DEBUG}, {"info", SL_LOG_INFO},     {"warn", SL_LOG_WARN},
                 {"warning", SL_LOG_WARN}, {"error", SL_LOG_ERROR}, {"off", SL_LOG_OFF},
                 {"critical", SL_LOG_ERROR}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(s, names[i].name) == 0) {
            *out = names[i].lvl;
            return true;
        }
    return false;
}

void sl_log_set_level(sl_log_level lvl)
{
    __atomic_store_n(&log_level, (int)lvl, __ATOMIC_RELAXED);
}

sl_log_level sl_log_get_level(void)
{
    int lvl = __atomic_load_n(&log_level, __ATOMIC_RELAXED);
    if (lvl < 0) {
        sl_log_level parsed = SL_LOG_INFO;
        const char *env = getenv("LOG_LEVEL");
        if (env && *env && !sl_log_parse_level(env, &parsed))
            parsed = SL_LOG_INFO;
        lvl = (int)parsed;
        __atomic_store_n(&log_level, lvl, __ATOMIC_RELAXED);
    }
    return (sl_log_level)lvl;
}

void sl_log(sl_log_level lvl, const char *fmt, ...)
{
    if (lvl < sl_log_get_level())
        return;
    static const char *const tags[] = {"DEBUG", "INFO ", "WARN ", "ERROR", "OFF  "};
    char ts[40], line[1024];
    sl_time_format(sl_now_ms(), ts, sizeof(ts));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    pthread_mutex_lock(&log_mu);
    fprintf(stderr, "%s %s %s\n", ts, tags[lvl], line);
    pthread_mutex_unlock(&log_mu);
}
