/*
 * log.c — the sync engine's logging: one line per event, levelled, to the
 * agent's logger or to stderr.  Callers never pass the API key in.
 */
#include <stdarg.h>
#include <stdio.h>

#include "sync/sync_int.h"

void sync_log_init(sync_logger *lg, sync_log_fn fn, void *ud, int level)
{
    lg->fn = fn;
    lg->ud = ud;
    lg->level = level > 0 ? level : SYNC_LOG_WARN;
}

void sync_log_emit(const sync_logger *lg, int level, const char *fmt, ...)
{
    static const char *const names[] = {"?", "error", "warn", "info", "debug"};
    char line[1024];
    va_list ap;

    if (level > lg->level)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (lg->fn) {
        lg->fn(lg->ud, level, line);
        return;
    }
    fprintf(stderr, "fieldsync sync %s: %s\n",
            names[level >= 1 && level <= 4 ? level : 0], line);
}
