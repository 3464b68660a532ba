/* util.c — time, ids, a growable text buffer and strict JSON helpers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "store/store_internal.h"

/* ---- time ------------------------------------------------------------- */

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

int store_time_parse(const char *text, int64_t *ms_out)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, milli = 0, off = 0;
    const char *p;

    if (!text || !ms_out)
        return STORE_INVALID;
    if (digits(text, 4, &y) || text[4] != '-' || digits(text + 5, 2, &mo) ||
        text[7] != '-' || digits(text + 8, 2, &d))
        return STORE_INVALID;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return STORE_INVALID;
    p = text + 10;
    if (*p == '\0')
        goto done;
    if (*p != 'T' && *p != 't')
        return STORE_INVALID;
    if (digits(p + 1, 2, &h) || p[3] != ':' || digits(p + 4, 2, &mi) || p[6] != ':' ||
        digits(p + 7, 2, &sec))
        return STORE_INVALID;
    /* 60 is a leap second: counted as :59, as POSIX time has no room. */
    if (h > 23 || mi > 59 || sec > 60)
        return STORE_INVALID;
    if (sec == 60)
        sec = 59;
    p += 9;
    if (*p == '.') {
        int n = 0;

        for (p++; *p >= '0' && *p <= '9'; p++, n++)
            if (n < 3)
                milli = milli * 10 + (*p - '0');
        if (n == 0)
            return STORE_INVALID;
        for (; n < 3; n++)
            milli *= 10;
    }
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        off = 0;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int oh, om;

        if (digits(p + 1, 2, &oh) || digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return STORE_INVALID;
        off = (oh * 60 + om) * (*p == '-' ? -1 : 1);
    } else {
        return STORE_INVALID;
    }
done:
    *ms_out = ((days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 +
                mi * 60 + sec - (int64_t)off * 60) * 1000) + milli;
    return STORE_OK;
}

void store_time_format(int64_t ms, char *buf, size_t len)
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

void si_day(int64_t ms, char out[11])
{
    char buf[40];

    store_time_format(ms, buf, sizeof buf);
    memcpy(out, buf, 10);
    out[10] = '\0';
}

int64_t si_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int store_uuid(char out[37])
{
    unsigned char b[16];
    size_t got = 0;

    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return STORE_ERR;
        }
        got += (size_t)n;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);  /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);  /* RFC 4122 variant */
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
             b[12], b[13], b[14], b[15]);
    return STORE_OK;
}

/* ---- text buffer ------------------------------------------------------ */

void si_buf_add(si_buf *b, const char *p, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *nb;

        while (cap < b->len + n + 1)
            cap *= 2;
        nb = realloc(b->buf, cap);
        if (!nb) {
            b->oom = 1;
            return;
        }
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, p, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

void si_buf_puts(si_buf *b, const char *p)
{
    si_buf_add(b, p, strlen(p));
}

void si_buf_printf(si_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        si_buf_add(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);

    if (!big) {
        b->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    si_buf_add(b, big, (size_t)n);
    free(big);
}

char *si_buf_take(si_buf *b)
{
    char *p;

    if (b->oom || (!b->buf && (si_buf_add(b, "", 0), b->oom))) {
        si_buf_release(b);
        return NULL;
    }
    p = b->buf;
    b->buf = NULL;
    b->len = b->cap = 0;
    return p;
}

void si_buf_release(si_buf *b)
{
    free(b->buf);
    b->buf = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

/* Our stored objects are printed compactly by cJSON, so they end with '}':
 * the state is spliced in before it rather than parsing and printing again
 * (a list page is served from stored text). */
void si_buf_add_with_sync(si_buf *b, const char *obj_text, store_sync_state st)
{
    size_t n = strlen(obj_text);

    while (n > 0 && obj_text[n - 1] != '}')
        n--;
    if (n == 0) {
        b->oom = 1;   /* not an object: never stored by us */
        return;
    }
    si_buf_add(b, obj_text, n - 1);
    if (n > 2)
        si_buf_puts(b, ",");
    si_buf_printf(b, "\"_sync\":{\"state\":\"%s\"}}", store_sync_state_name(st));
}

/* ---- JSON ------------------------------------------------------------- */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char *si_json_dup_key(const cJSON *item)
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
            dup = si_json_dup_key(c);
    return dup;
}

cJSON *si_json_parse(const char *text, char *whybuf, size_t whylen)
{
    size_t len;
    cJSON *j;
    const char *dup;

    if (!text) {
        snprintf(whybuf, whylen, "no JSON given");
        return NULL;
    }
    len = strnlen(text, SI_MAX_JSON + 1);
    if (len > SI_MAX_JSON) {
        snprintf(whybuf, whylen, "JSON over %d bytes", SI_MAX_JSON);
        return NULL;
    }
    j = cJSON_ParseWithLengthOpts(text, len + 1, NULL, 1);
    if (!j) {
        snprintf(whybuf, whylen, "not valid JSON");
        return NULL;
    }
    dup = si_json_dup_key(j);
    if (dup) {
        snprintf(whybuf, whylen, "duplicate key \"%.60s\"", dup);
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

const char *si_jstr(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int si_jset(cJSON *obj, const char *key, cJSON *val)
{
    if (!val)
        return STORE_NOMEM;
    if (cJSON_GetObjectItemCaseSensitive(obj, key)) {
        if (!cJSON_ReplaceItemInObjectCaseSensitive(obj, key, val)) {
            cJSON_Delete(val);
            return STORE_NOMEM;
        }
        return STORE_OK;
    }
    if (!cJSON_AddItemToObject(obj, key, val)) {
        cJSON_Delete(val);
        return STORE_NOMEM;
    }
    return STORE_OK;
}

char *si_json_print(const cJSON *item)
{
    return cJSON_PrintUnformatted(item);
}

size_t si_utf8_len(const char *p)
{
    size_t n = 0;

    for (; *p; p++)
        n += ((unsigned char)*p & 0xC0) != 0x80;
    return n;
}

char *si_strdup(const char *p)
{
    return p ? strdup(p) : NULL;
}
