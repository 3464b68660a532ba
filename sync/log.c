/*
 * log.c — the sync engine's logging: a thin forwarder to the one log of
 * fieldsync (store/util.h), with the same level numbers, or to the
 * caller's sync_log_fn when one was given.  Callers never pass the API
 * key in.
 */
#include <stdarg.h>
#include <stdio.h>

#include "store/util.h"
#include "sync/sync_int.h"

/* The engine's levels are the log's: forwarded as they are, no map. */
_Static_assert((int)SYNC_LOG_ERROR == (int)FS_LOG_ERROR && (int)SYNC_LOG_WARN == (int)FS_LOG_WARN &&
                   (int)SYNC_LOG_INFO == (int)FS_LOG_INFO && (int)SYNC_LOG_DEBUG == (int)FS_LOG_DEBUG,
               "sync log levels are the log's levels");

void sync_log_init(sync_logger *lg, sync_log_fn fn, void *ud, int level)
{
    lg->fn = fn;
    lg->ud = ud;
    lg->level = level > 0 ? level : SYNC_LOG_WARN;
}

void sync_log_emit(const sync_logger *lg, int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    if (level > lg->level)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (lg->fn)
        lg->fn(lg->ud, level, line);
    else
        fs_log_write(level, "sync: %s", line);
}
