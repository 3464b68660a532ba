/*
 * revalidate.c — what the sync engine's revalidation schedule knows of
 * each record: when its copy was last confirmed against the remote's
 * detail, how often its updated_at moved between two checks, and the last
 * list summary seen of it.  The schedule itself (which record to ask for
 * when) lives in sync/; this file only keeps its memory durable, in the
 * same transactions as the answers it describes.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

static int64_t col_ms(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, col);
}

int64_t si_checked_from_col(sqlite3_stmt *st, int col)
{
    return col_ms(st, col);
}

/* The parts of a row that own memory. */
static void release_reval_row(void *item)
{
    store_reval_row *r = item;

    free(r->id);
    free(r->status);
    free(r->technician_id);
    free(r->customer_id);
}

/* Copies one row of store_reval_rows()'s query into item (si_collect). */
static int fill_reval_row(sqlite3_stmt *st, void *item)
{
    store_reval_row *r = item;
    const unsigned char *day;
    int oom = 0;

    memset(r, 0, sizeof *r);
    r->entity = (store_entity)sqlite3_column_int(st, 0);
    r->id = si_col_dup(st, 1, &oom);
    r->status = si_col_dup(st, 2, &oom);
    r->technician_id = si_col_dup(st, 3, &oom);
    r->customer_id = si_col_dup(st, 4, &oom);
    day = sqlite3_column_text(st, 5);
    if (day && strlen((const char *)day) < sizeof r->sched_day)
        strcpy(r->sched_day, (const char *)day);
    r->updated_ms = col_ms(st, 6);
    r->checked_ms = col_ms(st, 7);
    r->first_ms = col_ms(st, 8);
    r->changes = sqlite3_column_int64(st, 9);
    if (oom || !r->id) {
        release_reval_row(r);
        return STORE_NOMEM;
    }
    return STORE_OK;
}

void store_reval_rows_free(store_reval_row *rows, size_t n)
{
    if (!rows)
        return;
    for (size_t i = 0; i < n; i++)
        release_reval_row(&rows[i]);
    free(rows);
}

int store_reval_rows(store *s, store_reval_row **rows_out, size_t *n_out)
{
    sqlite3_stmt *st;
    si_rows rows;
    int rc, began;

    *rows_out = NULL;
    *n_out = 0;
    if (si_read_begin(s, &began) != STORE_OK)
        return STORE_ERR;
    /* Records never seen remotely (created here, unsent) have no updated_at. */
    st = si_stmt(s, "SELECT r.entity, r.id, r.status, r.technician_id, r.customer_id,"
                    " r.sched_day, r.updated_ms, v.checked_ms, v.first_ms, v.changes"
                    " FROM records r LEFT JOIN revalidation v"
                    " ON v.entity = r.entity AND v.id = r.id"
                    " WHERE r.entity IN (?1, ?2) AND r.updated_ms IS NOT NULL"
                    " AND r.deleted_locally = 0");
    if (st) {
        sqlite3_bind_int(st, 1, ENT_CUSTOMER);
        sqlite3_bind_int(st, 2, ENT_WORK_ORDER);
    }
    rc = si_collect(s, st, sizeof(store_reval_row), fill_reval_row, release_reval_row, &rows,
                    "revalidation rows");
    si_read_end(s, began);
    if (rc != STORE_OK)
        return rc;
    *rows_out = rows.items;
    *n_out = (size_t)rows.n;
    return STORE_OK;
}

int store_reval_checked(store *s, store_entity e, const char *id, int64_t now_ms)
{
    sqlite3_stmt *st;
    int64_t found = 0;
    int rc;

    rc = si_tx_begin(s);
    if (rc != STORE_OK)
        return rc;
    st = si_stmt(s, "SELECT count(*) FROM records WHERE entity = ?1 AND id = ?2");
    if (st) {
        sqlite3_bind_int(st, 1, e);
        si_bind_text(st, 2, id);
    }
    rc = si_one_int(s, st, &found, "revalidation check");
    if (rc == STORE_OK && !found)
        rc = si_fail(s, STORE_NOTFOUND, "no such record");
    if (rc == STORE_OK) {
        /* A change is an updated_at that moved since the previous check. */
        st = si_stmt(s, "INSERT INTO revalidation (entity, id, checked_ms, first_ms,"
                        " seen_updated_ms, changes)"
                        " SELECT ?1, ?2, ?3, ?3, updated_ms, 0 FROM records"
                        " WHERE entity = ?1 AND id = ?2"
                        " ON CONFLICT (entity, id) DO UPDATE SET checked_ms = excluded.checked_ms,"
                        " first_ms = coalesce(first_ms, excluded.first_ms),"
                        " changes = changes + (seen_updated_ms IS NOT NULL AND"
                        "  excluded.seen_updated_ms IS NOT seen_updated_ms),"
                        " seen_updated_ms = excluded.seen_updated_ms");
        if (!st) {
            rc = STORE_ERR;
        } else {
            sqlite3_bind_int(st, 1, e);
            sqlite3_bind_int64(st, 3, now_ms);
            rc = si_bind_text(st, 2, id) ? si_fail(s, STORE_NOMEM, "out of memory")
                                         : si_step_done(s, st, "revalidation check");
        }
    }
    return si_tx_end(s, rc);
}

int store_reval_summary(store *s, store_entity e, const char *id, const char *hash,
                        int keep, int *changed)
{
    sqlite3_stmt *st;
    char *old = NULL;
    int rc, step, oom = 0;

    *changed = 0;
    rc = si_tx_begin(s);
    if (rc != STORE_OK)
        return rc;
    st = si_stmt(s, "SELECT summary FROM revalidation WHERE entity = ?1 AND id = ?2");
    if (!st)
        return si_tx_end(s, STORE_ERR);
    sqlite3_bind_int(st, 1, e);
    si_bind_text(st, 2, id);
    step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        old = si_col_dup(st, 0, &oom);
    sqlite3_reset(st);
    if (oom)
        rc = si_fail(s, STORE_NOMEM, "out of memory");
    else if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = si_dberr(s, "revalidation summary");
    if (rc == STORE_OK && old && strcmp(old, hash) == 0) {
        free(old);
        return si_tx_end(s, STORE_OK);
    }
    *changed = rc == STORE_OK && old != NULL;
    free(old);
    if (rc == STORE_OK && keep) {
        st = si_stmt(s, "INSERT INTO revalidation (entity, id, summary) VALUES (?1, ?2, ?3)"
                        " ON CONFLICT (entity, id) DO UPDATE SET summary = excluded.summary");
        if (!st) {
            rc = STORE_ERR;
        } else {
            sqlite3_bind_int(st, 1, e);
            if (si_bind_text(st, 2, id) || si_bind_text(st, 3, hash)) {
                sqlite3_reset(st);
                rc = si_fail(s, STORE_NOMEM, "out of memory");
            } else {
                rc = si_step_done(s, st, "revalidation summary");
            }
        }
    }
    return si_tx_end(s, rc);
}

int store_reval_checked_at(store *s, store_entity e, const char *id, int64_t *ms_out)
{
    sqlite3_stmt *st;
    int step;

    *ms_out = -1;
    if (e == ENT_CONTACT || e == ENT_ASSET) {
        st = si_stmt(s, "SELECT v.checked_ms FROM records r JOIN revalidation v"
                        " ON v.entity = ?3 AND v.id = r.parent_id"
                        " WHERE r.entity = ?1 AND r.id = ?2");
        if (st)
            sqlite3_bind_int(st, 3, ENT_CUSTOMER);
    } else {
        st = si_stmt(s, "SELECT checked_ms FROM revalidation WHERE entity = ?1 AND id = ?2");
    }
    if (!st)
        return STORE_ERR;
    sqlite3_bind_int(st, 1, e);
    si_bind_text(st, 2, id);
    step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        *ms_out = col_ms(st, 0);
    sqlite3_reset(st);
    return step == SQLITE_ROW || step == SQLITE_DONE ? STORE_OK
                                                     : si_dberr(s, "revalidation checked_at");
}

int store_reval_prune(store *s)
{
    sqlite3_stmt *st;
    int rc = si_tx_begin(s);

    if (rc != STORE_OK)
        return rc;
    st = si_stmt(s, "DELETE FROM revalidation WHERE NOT EXISTS (SELECT 1 FROM records r"
                    " WHERE r.entity = revalidation.entity AND r.id = revalidation.id)");
    return si_tx_end(s, st ? si_step_done(s, st, "revalidation prune") : STORE_ERR);
}
