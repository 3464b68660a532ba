/* The server clock: wall time shifted by --clock-skew, formatted the way the
 * API writes timestamps. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sim.h"

static int64_t skew_ms;
static int stamp_seconds;

void clock_set_skew_ms(int64_t ms)
{
    skew_ms = ms;
}

int64_t clock_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + skew_ms;
}

double clock_mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t clock_stamp_after(int64_t last_ms)
{
    int64_t now = clock_now_ms();

    return now > last_ms ? now : last_ms + 1;
}

/* ms as UTC calendar time and its milliseconds; floor division, so times
 * before 1970 still split correctly */
static void utc_of_ms(int64_t ms, struct tm *tm, int *milli)
{
    int64_t s = ms / 1000, r = ms % 1000;
    time_t sec;

    if (r < 0) {
        r += 1000;
        s -= 1;
    }
    sec = (time_t)s;
    *milli = (int)r;
    gmtime_r(&sec, tm);
}

void clock_format_ms(int64_t ms, char out[CLOCK_TEXT_MAX])
{
    struct tm tm;
    int milli;

    utc_of_ms(ms, &tm, &milli);
    snprintf(out, CLOCK_TEXT_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, milli);
}

void clock_set_stamp_seconds(int on)
{
    stamp_seconds = on;
}

int clock_stamp_seconds(void)
{
    return stamp_seconds;
}

/* Records keep milliseconds inside (so their order and the ETags stay
 * exact); only what the API shows is cut to the second, as the spec's
 * examples are.  Two writes in one second then show the same updated_at,
 * which a client of the real API must cope with. */
void clock_format_stamp(int64_t ms, char out[CLOCK_TEXT_MAX])
{
    size_t len;

    clock_format_ms(ms, out);
    len = strlen(out);
    if (stamp_seconds && len > 5 && out[len - 5] == '.')
        memcpy(out + len - 5, "Z", 2);
}

void clock_format_http(int64_t ms, char out[CLOCK_TEXT_MAX])
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    int milli;

    utc_of_ms(ms, &tm, &milli);
    snprintf(out, CLOCK_TEXT_MAX, "%s, %02d %s %04d %02d:%02d:%02d GMT",
             days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* reads exactly n digits */
static int digits(const char *s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : d[m - 1];
}

/* YYYY-MM-DD at s; fills tm's date fields */
static int parse_ymd(const char *s, struct tm *tm)
{
    int y, m, d;

    if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &m) || s[7] != '-' ||
        digits(s + 8, 2, &d))
        return -1;
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return -1;
    memset(tm, 0, sizeof *tm);
    tm->tm_year = y - 1900;
    tm->tm_mon = m - 1;
    tm->tm_mday = d;
    return 0;
}

int clock_parse_date(const char *s, int64_t *ms)
{
    struct tm tm;

    if (strlen(s) != 10 || parse_ymd(s, &tm))
        return -1;
    *ms = (int64_t)timegm(&tm) * 1000;
    return 0;
}

int clock_parse_rfc3339(const char *s, int64_t *ms)
{
    struct tm tm;
    int h, mi, sec, milli = 0;
    const char *p;

    if (strlen(s) < 20 || parse_ymd(s, &tm) || s[10] != 'T' ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) ||
        s[16] != ':' || digits(s + 17, 2, &sec))
        return -1;
    if (h > 23 || mi > 59 || sec > 59)
        return -1;
    p = s + 19;
    if (*p == '.') {
        int n = 0;

        p++;
        /* any number of fraction digits; only milliseconds are kept */
        while (isdigit((unsigned char)*p)) {
            if (n < 3)
                milli = milli * 10 + (*p - '0');
            n++;
            p++;
        }
        if (n == 0 || n > 9)
            return -1;
        for (; n < 3; n++)
            milli *= 10;
    }
    if (p[0] != 'Z' || p[1] != '\0')
        return -1;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *ms = (int64_t)timegm(&tm) * 1000 + milli;
    return 0;
}
