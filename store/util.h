/*
 * util.h — the small helpers every part of fieldsync needs once: a
 * growable byte buffer with a size cap, the duplicate-key check of strict
 * JSON, ISO 8601 times, the clocks and the log.
 *
 * util.c depends on libc and cJSON only (no SQLite, no store.h), so any
 * program (the CLI, the daemon, a test) can compile it in.  It sits at the
 * bottom of the layering: it includes no fieldsync header.
 *
 * Conventions: functions returning int return 0 on success and a negative
 * code on failure (FS_BUF_* for the buffer, -1 elsewhere).
 */
#ifndef FIELDSYNC_UTIL_H
#define FIELDSYNC_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* ---- growable byte buffer ------------------------------------------------ */

/*
 * A growable byte buffer, always NUL-terminated once anything was added,
 * with a cap on its length (as curl's dynbuf): bytes from outside never
 * grow it past what the caller said it may hold.
 *
 * Failures are sticky: once an append fails, the buffer keeps its error,
 * later appends do nothing and return it, and fs_buf_take() gives NULL.
 * So a caller may append many times and check once (at the end), or check
 * each append.  Initialise with fs_buf_init(); release with
 * fs_buf_release() (or hand the text out with fs_buf_take()).
 */
typedef struct {
    char *data;    /* the bytes and a NUL; NULL until the first append */
    size_t len;    /* bytes held, not counting the NUL */
    size_t cap;    /* bytes allocated */
    size_t max;    /* the cap on len */
    int err;       /* 0, or the first failure (FS_BUF_NOMEM, FS_BUF_TOO_BIG) */
} fs_buf;

enum {
    FS_BUF_OK = 0,
    FS_BUF_NOMEM = -1,   /* an allocation failed */
    FS_BUF_TOO_BIG = -2, /* the append would have taken len past max */
};

/* An empty buffer that may hold up to max bytes. */
void fs_buf_init(fs_buf *b, size_t max);
/* Appends n bytes (may contain NULs); FS_BUF_OK or the (sticky) error. */
int fs_buf_add(fs_buf *b, const void *p, size_t n);
/* Appends a C string. */
int fs_buf_adds(fs_buf *b, const char *s);
/* Appends printf-style text. */
int fs_buf_addf(fs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int fs_buf_vaddf(fs_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Marks the buffer failed with err (a producer found it cannot finish). */
void fs_buf_fail(fs_buf *b, int err);
/* The first failure, or FS_BUF_OK. */
int fs_buf_error(const fs_buf *b);
/* The text so far; "" when empty, never NULL.  Valid until the next append. */
const char *fs_buf_str(const fs_buf *b);
/* Bytes held. */
size_t fs_buf_len(const fs_buf *b);
/* Empties the buffer, keeping its memory, max, and clearing its error. */
void fs_buf_reset(fs_buf *b);
/*
 * Hands out the text (the caller frees it; "" allocated when empty) and
 * leaves b empty.  NULL if an append had failed (b is then released).
 */
char *fs_buf_take(fs_buf *b);
/* Frees the memory; b is empty (same max) and may be used again. */
void fs_buf_release(fs_buf *b);

/* ---- strict JSON ------------------------------------------------------------ */

/*
 * The first key that appears twice in one object anywhere in item (nested
 * objects and arrays included), or NULL if none.  Each object's keys are
 * sorted and compared neighbour to neighbour: n log n per object, not n².
 * Returns "" (not NULL: treat as a duplicate) when memory runs out, since
 * the check could not be made.  The result points into item.  Depth is
 * bounded by cJSON's parser (CJSON_NESTING_LIMIT).
 */
const char *fs_json_dup_key(const cJSON *item);

/* ---- ISO 8601 times ------------------------------------------------------------ */

/*
 * Parses an ISO 8601 / RFC 3339 time into Unix milliseconds:
 * "YYYY-MM-DDTHH:MM:SS[.fff…](Z|±hh:mm)" ('t' and 'z' too) or a date
 * "YYYY-MM-DD" (its midnight UTC).  The offset is honoured (10:00+02:00
 * is 08:00Z); a fraction keeps its first three digits; a leap second :60
 * counts as :59.  0 on success, -1 if text is not such a time (or a date
 * that does not exist, as 2023-02-29).
 */
int fs_time_parse(const char *text, int64_t *ms_out);
/* Formats ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf (32 bytes suffice). */
void fs_time_format(int64_t ms, char *buf, size_t len);
/* The UTC date "YYYY-MM-DD" of ms. */
void fs_time_day(int64_t ms, char out[11]);

/* ---- clocks --------------------------------------------------------------------- */

/* Wall-clock time (CLOCK_REALTIME) in Unix milliseconds. */
int64_t fs_wall_ms(void);
/* Monotonic time (CLOCK_MONOTONIC) in milliseconds, for intervals. */
int64_t fs_mono_ms(void);

/* ---- the log ------------------------------------------------------------------- */

/*
 * The one log of fieldsync: one line per event on stderr (or the fd given
 * to fs_log_set_fd), with time and level, never a secret.  The daemon
 * uses it directly; the sync engine's sync_log_emit forwards to it with
 * the same level numbers.
 *
 * The macros test the level before anything else, so the arguments of a
 * message below the current level are not even evaluated (as Redis'
 * serverLog does): a debug line that formats a large object costs nothing
 * when debug is off.  The level may be changed at any time from any
 * thread (SIGHUP reload); lines from several threads never interleave
 * because each is written with one write(2).
 *
 * When the fd is the systemd journal (JOURNAL_STREAM names its device and
 * inode: fs_log_detect_journal), each line starts with its syslog priority
 * "<3>" … "<7>" (sd-daemon(3)) instead of a time, which the journal adds,
 * so that `journalctl -p warning` selects by level.
 */
enum { FS_LOG_ERROR = 1, FS_LOG_WARN, FS_LOG_INFO, FS_LOG_DEBUG };

/* "error", "warn", "info", "debug" ("?" for another number). */
const char *fs_log_level_name(int level);
/* 0 and *out set, or -1 when name is none of the four. */
int fs_log_level_parse(const char *name, int *out);
void fs_log_set_level(int level);
int fs_log_get_level(void);
/* Writes the lines to fd (default 2). */
void fs_log_set_fd(int fd);
/*
 * Turns the priority prefixes on when JOURNAL_STREAM ("DEV:INO") names
 * the log fd, off otherwise.  Returns 1 when on.
 */
int fs_log_detect_journal(void);

/* Writes one line whatever the level; use the macros below instead. */
void fs_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define FS_LOG_AT(lvl, ...)                                                  \
    do {                                                                     \
        if ((int)(lvl) <= fs_log_get_level())                                \
            fs_log_write((lvl), __VA_ARGS__);                                \
    } while (0)

#define fs_log_error(...) FS_LOG_AT(FS_LOG_ERROR, __VA_ARGS__)
#define fs_log_warn(...)  FS_LOG_AT(FS_LOG_WARN, __VA_ARGS__)
#define fs_log_info(...)  FS_LOG_AT(FS_LOG_INFO, __VA_ARGS__)
#define fs_log_debug(...) FS_LOG_AT(FS_LOG_DEBUG, __VA_ARGS__)

/* Formats a one-line message into a caller's buffer (err may be NULL):
 * how functions that return -1 say what failed. */
void fs_errfmt(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* FIELDSYNC_UTIL_H */
