/* Idempotency-Key on POST: the first answer is kept in the store with a
 * fingerprint of the request; a replay with the same fingerprint gets that
 * answer again and creates nothing, a different request with the same key
 * is refused (422 idempotency_key_reused). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/* method, path and a 64-bit FNV-1a of the exact body bytes */
static void fingerprint(const struct sim_request *rq, char *out, size_t outsz)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);

    for (size_t i = 0; i < rq->body_len; i++)
        h = (h ^ (unsigned char)rq->body[i]) * UINT64_C(0x100000001b3);
    snprintf(out, outsz, "%s %.300s %zu:%016llx", rq->method, rq->path, rq->body_len,
             (unsigned long long)h);
}

enum idem_result idem_lookup(sqlite3 *db, const char *key, const struct sim_request *rq,
                             struct sim_response *rs)
{
    sqlite3_stmt *st = db_stmt(db, "SELECT fingerprint, status, response"
                                   " FROM idempotency_keys WHERE key = ?");
    char fp[400];
    enum idem_result res;
    int rc;

    if (!st || db_bind_text(st, 1, key))
        return IDEM_ERROR;
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return IDEM_NEW;
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return IDEM_ERROR;
    }
    fingerprint(rq, fp, sizeof fp);
    if (strcmp(fp, db_col_text(st, 0)) != 0) {
        res = IDEM_REUSED;
        resp_error(rs, 422, "idempotency_key_reused",
                   "Idempotency-Key was already used with a different request", NULL);
    } else {
        const char *body = db_col_text(st, 2);

        res = IDEM_REPLAY;
        resp_empty(rs, sqlite3_column_int(st, 1));
        if (body && *body) {
            rs->body = strdup(body);
            if (!rs->body) {
                res = IDEM_ERROR;
            } else {
                rs->body_len = strlen(body);
            }
        }
    }
    sqlite3_reset(st);
    return res;
}

int idem_store(sqlite3 *db, const char *key, const struct sim_request *rq,
               const struct sim_response *rs)
{
    sqlite3_stmt *st = db_stmt(db, "INSERT INTO idempotency_keys"
                                   " (key, fingerprint, status, response, created_at)"
                                   " VALUES (?, ?, ?, ?, ?)");
    char fp[400];

    fingerprint(rq, fp, sizeof fp);
    if (!st || db_bind_text(st, 1, key) || db_bind_text(st, 2, fp) ||
        sqlite3_bind_int(st, 3, rs->status) != SQLITE_OK ||
        sqlite3_bind_text(st, 4, rs->body ? rs->body : "", (int)rs->body_len,
                          SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_bind_int64(st, 5, clock_now_ms()) != SQLITE_OK)
        return -1;
    return db_step_done(db, st);
}
