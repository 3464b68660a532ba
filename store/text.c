/*
 * text.c — text the store reads and writes: strict JSON (parse, member
 * access, compact print), UTF-8 length, the stored object with its sync
 * state spliced in, RFC 3339 times (store.h's names for util.c's) and
 * UUIDs.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "store/store_internal.h"

/* ---- time and ids ------------------------------------------------------ */

int store_time_parse(const char *text, int64_t *ms_out)
{
    return fs_time_parse(text, ms_out) == 0 ? STORE_OK : STORE_INVALID;
}

void store_time_format(int64_t ms, char *buf, size_t len)
{
    fs_time_format(ms, buf, len);
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

/* ---- JSON ------------------------------------------------------------- */

/* Our stored objects are printed compactly by cJSON, so they end with '}':
 * the state is spliced in before it rather than parsing and printing again
 * (a list page is served from stored text).  number is the record's
 * customer_number/work_order_number (a provisional one is flagged);
 * write_only a JSON array of field names, or NULL; checked_ms when the
 * copy was last confirmed against the remote (< 0: never, null). */
void si_buf_add_with_sync(fs_buf *b, const char *obj_text, store_sync_state st,
                          const char *number, const char *write_only, int64_t checked_ms)
{
    char when[40];
    size_t n = strlen(obj_text);

    while (n > 0 && obj_text[n - 1] != '}')
        n--;
    if (n == 0) {
        fs_buf_fail(b, FS_BUF_NOMEM);   /* not an object: never stored by us */
        return;
    }
    fs_buf_add(b, obj_text, n - 1);
    if (n > 2)
        fs_buf_adds(b, ",");
    fs_buf_addf(b, "\"_sync\":{\"state\":\"%s\"", store_sync_state_name(st));
    if (checked_ms >= 0) {
        fs_time_format(checked_ms, when, sizeof when);
        fs_buf_addf(b, ",\"checked_at\":\"%s\"", when);
    } else {
        fs_buf_adds(b, ",\"checked_at\":null");
    }
    if (si_number_provisional(number))
        fs_buf_adds(b, ",\"provisional_number\":true");
    if (write_only && write_only[0] == '[')
        fs_buf_addf(b, ",\"write_only\":%s", write_only);
    fs_buf_adds(b, "}}");
}

int si_number_provisional(const char *number)
{
    return number && strncmp(number, SI_PROVISIONAL_PREFIX, strlen(SI_PROVISIONAL_PREFIX)) == 0;
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
    dup = fs_json_dup_key(j);
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
