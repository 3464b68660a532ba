/*
 * when.c — times and dates as people read and type them.  The daemon
 * speaks ISO 8601 UTC (and --json passes that on untouched); a person
 * reads local time (TZ honoured) with "5 min ago" / "in 2 h" beside it,
 * and types `today`, `tomorrow`, `+7d` or `-1d` where a date is wanted.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/cli/output.h"

#define MIN_MS ((int64_t)60 * 1000)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * HOUR_MS)
#define RELATIVE_MAX_MS (30 * DAY_MS)

void cli_relative(int64_t delta_ms, char *buf, size_t len)
{
    int64_t a = delta_ms < 0 ? -delta_ms : delta_ms;
    char amount[32];

    if (a < 45 * 1000) {
        snprintf(buf, len, "%s", delta_ms <= 0 ? "just now" : "in under a minute");
        return;
    }
    /* Rounded to the nearest unit: 89 s is "1 min", 100 min is "2 h". */
    if (a < 90 * MIN_MS)
        snprintf(amount, sizeof amount, "%lld min", (long long)((a + MIN_MS / 2) / MIN_MS));
    else if (a < 48 * HOUR_MS)
        snprintf(amount, sizeof amount, "%lld h", (long long)((a + HOUR_MS / 2) / HOUR_MS));
    else
        snprintf(amount, sizeof amount, "%lld d", (long long)((a + DAY_MS / 2) / DAY_MS));
    snprintf(buf, len, delta_ms < 0 ? "%s ago" : "in %s", amount);
}

int cli_time_local(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000 - (ms % 1000 < 0));
    struct tm tm;

    if (!localtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%d %H:%M", &tm) == 0)
        return -1;
    return 0;
}

int cli_time_human_ms(int64_t ms, int64_t now_ms, int relative, char *buf, size_t len)
{
    char local[32], rel[48];
    int64_t d = ms - now_ms;

    if (cli_time_local(ms, local, sizeof local) < 0)
        return -1;
    /* "3 h ago" helps; "1044 d ago" does not: the date says it better. */
    if (!relative || d > RELATIVE_MAX_MS || d < -RELATIVE_MAX_MS) {
        snprintf(buf, len, "%s", local);
        return 0;
    }
    cli_relative(d, rel, sizeof rel);
    snprintf(buf, len, "%s (%s)", local, rel);
    return 0;
}

int cli_time_human(const char *iso, int64_t now_ms, int relative, char *buf, size_t len)
{
    int64_t ms;

    /* A plain date is a day, not a time: shown as it is. */
    if (!iso || !strchr(iso, 'T') || fs_time_parse(iso, &ms) < 0)
        return -1;
    return cli_time_human_ms(ms, now_ms, relative, buf, len);
}

/* The local calendar date `days` days from now, as YYYY-MM-DD. */
static int local_day(time_t now, long days, char out[11])
{
    struct tm tm;

    if (!localtime_r(&now, &tm))
        return -1;
    /* mktime normalises the day of the month; noon keeps DST changes
     * from moving the date. */
    tm.tm_mday += (int)days;
    tm.tm_hour = 12;
    tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    if (mktime(&tm) == (time_t)-1)
        return -1;
    return strftime(out, 11, "%Y-%m-%d", &tm) == 10 ? 0 : -1;
}

int cli_date_arg(const char *in, time_t now, char out[11])
{
    int64_t ms;
    char *end;
    long n;

    if (strcmp(in, "today") == 0)
        return local_day(now, 0, out);
    if (strcmp(in, "tomorrow") == 0)
        return local_day(now, 1, out);
    if (strcmp(in, "yesterday") == 0)
        return local_day(now, -1, out);
    if ((in[0] == '+' || in[0] == '-') && isdigit((unsigned char)in[1])) {
        errno = 0;
        n = strtol(in, &end, 10);
        if (errno || (strcmp(end, "d") != 0 && strcmp(end, "w") != 0) || n < -36500 ||
            n > 36500)
            return -1;
        return local_day(now, *end == 'w' ? n * 7 : n, out);
    }
    if (strlen(in) != 10 || fs_time_parse(in, &ms) < 0)
        return -1;
    memcpy(out, in, 11);
    return 0;
}

int cli_time_arg(const char *in, time_t now, char *out, size_t len)
{
    char day[11], word[32];
    const char *sep = strpbrk(in, " T");
    int64_t ms;
    struct tm tm;
    time_t t;
    int hh, mm, used = 0;

    /* A full ISO 8601 time with its offset goes as it is. */
    if (fs_time_parse(in, &ms) == 0 && strchr(in, 'T') &&
        (strchr(in, 'Z') || strchr(in, 'z') || strchr(in + 10, '+') || strchr(in + 10, '-'))) {
        snprintf(out, len, "%s", in);
        return 0;
    }
    /* DATE HH:MM (or DATETHH:MM) in local time, DATE as cli_date_arg. */
    if (!sep || (size_t)(sep - in) >= sizeof word)
        return -1;
    memcpy(word, in, (size_t)(sep - in));
    word[sep - in] = '\0';
    if (cli_date_arg(word, now, day) < 0 ||
        sscanf(sep + 1, "%2d:%2d%n", &hh, &mm, &used) != 2 || sep[1 + used] != '\0' ||
        hh < 0 || hh > 23 || mm < 0 || mm > 59)
        return -1;
    memset(&tm, 0, sizeof tm);
    if (sscanf(day, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_isdst = -1;
    t = mktime(&tm);
    if (t == (time_t)-1 || !gmtime_r(&t, &tm) ||
        strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return -1;
    return 0;
}
