/* log.c — levelled one-line log records on stderr (see log.h). */
#include "agent/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_level_cur = LOG_LVL_INFO;
static int log_fd = 2;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

const char *log_level_name(log_level lvl)
{
    if ((int)lvl < 0 || (size_t)lvl >= sizeof level_names / sizeof level_names[0])
        return "?";
    return level_names[lvl];
}

int log_level_parse(const char *name, log_level *out)
{
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (name && strcmp(name, level_names[i]) == 0) {
            *out = (log_level)i;
            return 0;
        }
    }
    return -1;
}

void log_set_level(log_level lvl)
{
    __atomic_store_n(&log_level_cur, (int)lvl, __ATOMIC_RELAXED);
}

log_level log_get_level(void)
{
    return (log_level)__atomic_load_n(&log_level_cur, __ATOMIC_RELAXED);
}

void log_set_fd(int fd)
{
    log_fd = fd;
}

void log_errfmt(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || !errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void log_write(log_level lvl, const char *fmt, ...)
{
    /* Bounded: a record longer than the buffer is cut, never split. */
    char line[1024];
    struct timespec ts;
    struct tm tm;
    size_t n;
    int saved = errno;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof line - n, ".%03ldZ %s: ",
                          ts.tv_nsec / 1000000L, log_level_name(lvl));
    if (n < sizeof line - 1) {
        va_list ap;
        int m;
        va_start(ap, fmt);
        m = vsnprintf(line + n, sizeof line - n, fmt, ap);
        va_end(ap);
        if (m > 0) {
            size_t start = n;
            n += (size_t)m;
            if (n > sizeof line - 2)
                n = sizeof line - 2;
            /* One record, one line: control characters from outside
             * (a server's message, a path) cannot forge another line. */
            for (size_t i = start; i < n; i++)
                if ((unsigned char)line[i] < 0x20)
                    line[i] = ' ';
        }
    }
    if (n > sizeof line - 2)
        n = sizeof line - 2;
    line[n++] = '\n';
    /* A failed log write has nowhere to be reported. */
    if (write(log_fd, line, n) < 0) {
        /* ignored */
    }
    errno = saved;
}
