/*
 * log.h — the daemon's log: one line per event on stderr, with time and
 * level, never a secret.
 *
 * The macros test the level before anything else, so the arguments of a
 * message below the current level are not even evaluated (as Redis'
 * serverLog does): a debug line that formats a large object costs nothing
 * when debug is off.  The level may be changed at any time from any
 * thread (SIGHUP reload); lines from several threads never interleave
 * because each is written with one write(2).
 */
#ifndef FIELDSYNC_AGENT_LOG_H
#define FIELDSYNC_AGENT_LOG_H

#include <stddef.h>

typedef enum {
    LOG_LVL_ERROR = 0,
    LOG_LVL_WARN,
    LOG_LVL_INFO,
    LOG_LVL_DEBUG,
} log_level;

/* "error", "warn", "info", "debug"; parse returns 0 or -1. */
const char *log_level_name(log_level lvl);
int log_level_parse(const char *name, log_level *out);

void log_set_level(log_level lvl);
log_level log_get_level(void);

/* Redirects the lines to fd (default 2); for tests. */
void log_set_fd(int fd);

/* Formats a one-line error message into a caller's buffer (err may be
 * NULL); the one way the agent's functions report what failed. */
void log_errfmt(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes one line; use the macros below instead. */
void log_write(log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define LOG_AT(lvl, ...)                                                     \
    do {                                                                     \
        if ((int)(lvl) <= (int)log_get_level())                              \
            log_write((lvl), __VA_ARGS__);                                   \
    } while (0)

#define log_error(...) LOG_AT(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  LOG_AT(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  LOG_AT(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) LOG_AT(LOG_LVL_DEBUG, __VA_ARGS__)

#endif /* FIELDSYNC_AGENT_LOG_H */
