/* meta.c — the sync engine's key/value table (meta). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

#define MAX_KEY 256
#define MAX_VALUE (64 * 1024)

int store_meta_get(store *s, const char *key, char **value_out)
{
    sqlite3_stmt *st;
    int rc, oom = 0;

    *value_out = NULL;
    if (!key || strlen(key) > MAX_KEY)
        return si_fail(s, STORE_INVALID, "bad meta key");
    st = si_stmt(s, "SELECT value FROM meta WHERE key = ?1");
    if (!st)
        return STORE_ERR;
    si_bind_text(st, 1, key);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *value_out = si_col_dup(st, 0, &oom);
    sqlite3_reset(st);
    if (oom)
        return si_fail(s, STORE_NOMEM, "out of memory");
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : si_dberr(s, "meta get");
}

/* A NULL value deletes the key. */
int store_meta_set(store *s, const char *key, const char *value)
{
    sqlite3_stmt *st;

    if (!key || strlen(key) > MAX_KEY || (value && strlen(value) > MAX_VALUE))
        return si_fail(s, STORE_INVALID, "meta key or value too long");
    st = si_stmt(s, value ? "INSERT INTO meta (key, value) VALUES (?1, ?2) "
                            "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                          : "DELETE FROM meta WHERE key = ?1");
    if (!st)
        return STORE_ERR;
    if (si_bind_text(st, 1, key) || (value && si_bind_text(st, 2, value))) {
        sqlite3_reset(st);
        return si_fail(s, STORE_NOMEM, "out of memory");
    }
    return si_step_done(s, st, "meta set");
}

int store_meta_get_int(store *s, const char *key, int64_t dflt, int64_t *out)
{
    char *v = NULL, *end;
    int rc = store_meta_get(s, key, &v);
    long long n;

    *out = dflt;
    if (rc != STORE_OK || !v)
        return rc;
    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno || end == v || *end)
        rc = si_fail(s, STORE_INVALID, "meta %s is not an integer", key);
    else
        *out = n;
    free(v);
    return rc;
}

int store_meta_set_int(store *s, const char *key, int64_t value)
{
    char buf[32];

    snprintf(buf, sizeof buf, "%" PRId64, value);
    return store_meta_set(s, key, buf);
}
