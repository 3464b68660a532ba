/*
 * util.c — the byte buffer, the duplicate-key check, ISO 8601 times,
 * the clocks and the log of util.h.  libc and cJSON only: no SQLite, no fieldsync
 * header but its own, so any program can compile it in.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/util.h"

/* ---- growable byte buffer ------------------------------------------------ */

void fs_buf_init(fs_buf *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max;
}

/* Room for n more bytes and the NUL, growing by doubling (up to max + 1). */
static int buf_reserve(fs_buf *b, size_t n)
{
    size_t need, cap;
    char *d;

    if (b->err)
        return b->err;
    if (n > b->max - b->len) {
        b->err = FS_BUF_TOO_BIG;
        return b->err;
    }
    need = b->len + n + 1;
    if (need <= b->cap)
        return FS_BUF_OK;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (b->max < SIZE_MAX && cap > b->max + 1)
        cap = b->max + 1;   /* need <= max + 1 here: never allocate past it */
    d = realloc(b->data, cap);
    if (!d) {
        b->err = FS_BUF_NOMEM;
        return b->err;
    }
    b->data = d;
    b->cap = cap;
    return FS_BUF_OK;
}

int fs_buf_add(fs_buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);

    if (rc != FS_BUF_OK)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return FS_BUF_OK;
}

int fs_buf_adds(fs_buf *b, const char *s)
{
    return fs_buf_add(b, s, strlen(s));
}

int fs_buf_vaddf(fs_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n, rc;

    if (b->err)
        return b->err;
    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        b->err = FS_BUF_NOMEM;   /* vsnprintf fails only on encoding or memory */
        return b->err;
    }
    rc = buf_reserve(b, (size_t)n);
    if (rc != FS_BUF_OK)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return FS_BUF_OK;
}

int fs_buf_addf(fs_buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = fs_buf_vaddf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void fs_buf_fail(fs_buf *b, int err)
{
    if (!b->err)
        b->err = err ? err : FS_BUF_NOMEM;
}

int fs_buf_error(const fs_buf *b)
{
    return b->err;
}

const char *fs_buf_str(const fs_buf *b)
{
    return b->data ? b->data : "";
}

size_t fs_buf_len(const fs_buf *b)
{
    return b->len;
}

void fs_buf_reset(fs_buf *b)
{
    b->len = 0;
    b->err = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *fs_buf_take(fs_buf *b)
{
    char *p;

    if (b->err || (!b->data && fs_buf_add(b, "", 0) != FS_BUF_OK)) {
        fs_buf_release(b);
        return NULL;
    }
    p = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void fs_buf_release(fs_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->err = 0;
}

/* ---- strict JSON ------------------------------------------------------------ */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char *fs_json_dup_key(const cJSON *item)
{
    const char *dup = NULL;

    if (!item)
        return NULL;
    if (cJSON_IsObject(item)) {
        int n = cJSON_GetArraySize(item), i = 0;

        if (n > 1) {
            /* Sorting finds a duplicate in n log n: objects can be large. */
            const char **names = malloc((size_t)n * sizeof *names);

            if (!names)
                return "";   /* treated as invalid: we cannot check it */
            for (const cJSON *c = item->child; c; c = c->next)
                names[i++] = c->string ? c->string : "";
            qsort(names, (size_t)n, sizeof *names, cmp_names);
            for (i = 1; i < n && !dup; i++)
                if (strcmp(names[i - 1], names[i]) == 0)
                    dup = names[i];
            free(names);
            if (dup)
                return dup;
        }
    }
    if (cJSON_IsObject(item) || cJSON_IsArray(item))
        for (const cJSON *c = item->child; c && !dup; c = c->next)
            dup = fs_json_dup_key(c);
    return dup;
}

/* ---- ISO 8601 times ------------------------------------------------------------ */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * algorithm): no timegm(), no time zone, no table. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (*m <= 2));
}

static int digits(const char *p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 ? 28 + leap : dm[m - 1];
}

int fs_time_parse(const char *text, int64_t *ms_out)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, milli = 0, off = 0;
    const char *p;

    if (!text || !ms_out)
        return -1;
    if (digits(text, 4, &y) || text[4] != '-' || digits(text + 5, 2, &mo) ||
        text[7] != '-' || digits(text + 8, 2, &d))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return -1;
    p = text + 10;
    if (*p == '\0')
        goto done;
    if (*p != 'T' && *p != 't')
        return -1;
    if (digits(p + 1, 2, &h) || p[3] != ':' || digits(p + 4, 2, &mi) || p[6] != ':' ||
        digits(p + 7, 2, &sec))
        return -1;
    /* 60 is a leap second: counted as :59, as POSIX time has no room. */
    if (h > 23 || mi > 59 || sec > 60)
        return -1;
    if (sec == 60)
        sec = 59;
    p += 9;
    if (*p == '.') {
        int n = 0;

        for (p++; *p >= '0' && *p <= '9'; p++, n++)
            if (n < 3)
                milli = milli * 10 + (*p - '0');
        if (n == 0)
            return -1;
        for (; n < 3; n++)
            milli *= 10;
    }
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        off = 0;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int oh, om;

        if (digits(p + 1, 2, &oh) || digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        off = (oh * 60 + om) * (*p == '-' ? -1 : 1);
    } else {
        return -1;
    }
done:
    *ms_out = ((days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 +
                mi * 60 + sec - (int64_t)off * 60) * 1000) + milli;
    return 0;
}

void fs_time_format(int64_t ms, char *buf, size_t len)
{
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int64_t milli = ms - secs * 1000;
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    int y;
    unsigned m, d;

    if (!buf || len == 0)
        return;
    civil_from_days(days, &y, &m, &d);
    snprintf(buf, len, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", y, m, d, (int)(rem / 3600),
             (int)(rem % 3600 / 60), (int)(rem % 60), (int)milli);
}

void fs_time_day(int64_t ms, char out[11])
{
    char buf[40];

    fs_time_format(ms, buf, sizeof buf);
    memcpy(out, buf, 10);
    out[10] = '\0';
}

/* ---- clocks --------------------------------------------------------------------- */

int64_t fs_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t fs_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the log ------------------------------------------------------------------- */

static int log_level_cur = FS_LOG_INFO;
static int log_fd = 2;
static int log_journal; /* prefix lines with <N> for the journal */

static const char *const log_names[] = { "error", "warn", "info", "debug" };
/* syslog priorities (sd-daemon(3)): LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG. */
static const int log_prio[] = { 3, 4, 6, 7 };

const char *fs_log_level_name(int level)
{
    if (level < FS_LOG_ERROR || level > FS_LOG_DEBUG)
        return "?";
    return log_names[level - FS_LOG_ERROR];
}

int fs_log_level_parse(const char *name, int *out)
{
    for (int l = FS_LOG_ERROR; l <= FS_LOG_DEBUG; l++) {
        if (name && strcmp(name, log_names[l - FS_LOG_ERROR]) == 0) {
            *out = l;
            return 0;
        }
    }
    return -1;
}

void fs_log_set_level(int level)
{
    __atomic_store_n(&log_level_cur, level, __ATOMIC_RELAXED);
}

int fs_log_get_level(void)
{
    return __atomic_load_n(&log_level_cur, __ATOMIC_RELAXED);
}

void fs_log_set_fd(int fd)
{
    log_fd = fd;
}

int fs_log_detect_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    char tail;

    /* systemd sets "DEV:INO" of the stream it connected stdout/stderr to;
     * a child whose stderr was redirected elsewhere inherits the variable,
     * so the fd itself must be that stream. */
    log_journal = js && sscanf(js, "%llu:%llu%c", &dev, &ino, &tail) == 2 &&
                  fstat(log_fd, &st) == 0 && (unsigned long long)st.st_dev == dev &&
                  (unsigned long long)st.st_ino == ino;
    return log_journal;
}

void fs_log_write(int level, const char *fmt, ...)
{
    /* Bounded: a record longer than the buffer is cut, never split. */
    char line[1024];
    size_t n;
    int saved = errno;

    if (level < FS_LOG_ERROR || level > FS_LOG_DEBUG)
        level = FS_LOG_ERROR;
    if (log_journal) {
        n = (size_t)snprintf(line, sizeof line, "<%d>%s: ", log_prio[level - FS_LOG_ERROR],
                             fs_log_level_name(level));
    } else {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
        n += (size_t)snprintf(line + n, sizeof line - n, ".%03ldZ %s: ", ts.tv_nsec / 1000000L,
                              fs_log_level_name(level));
    }
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

void fs_errfmt(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || !errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}
