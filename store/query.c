/*
 * query.c — reads for the local API: one record, a record for the sync
 * engine, counts, and filtered list pages served from the indexed columns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

/* ---- reads ----------------------------------------------------------- */

int store_get(store *s, store_entity e, const char *id, char **json_out)
{
    sqlite3_stmt *st;
    fs_buf b;
    int rc;

    *json_out = NULL;
    fs_buf_init(&b, SI_MAX_TEXT);
    if ((unsigned)e >= ENT__COUNT)
        return si_fail(s, STORE_INVALID, "bad entity");
    rc = si_check_id(s, id);
    if (rc != STORE_OK)
        return rc == STORE_INVALID ? si_fail(s, STORE_NOTFOUND, "no %s %.40s",
                                             store_entity_name(e), id ? id : "")
                                   : rc;
    st = si_stmt(s, "SELECT r.body, " SI_STATE_SQL("r.entity", "r.id") ", r.number, r.write_only, "
                    SI_CHECKED_SQL("r.entity", "r.id", "r.parent_id")
                    " FROM records r WHERE r.entity = ?1 AND r.id = ?2 AND r.deleted_locally = 0");
    if (!st)
        return STORE_ERR;
    sqlite3_bind_int(st, 1, (int)e);
    si_bind_text(st, 2, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        si_buf_add_with_sync(&b, (const char *)sqlite3_column_text(st, 0),
                             si_state_from_col(st, 1), (const char *)sqlite3_column_text(st, 2),
                             (const char *)sqlite3_column_text(st, 3), si_checked_from_col(st, 4));
        rc = STORE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = si_fail(s, STORE_NOTFOUND, "no %s %s", store_entity_name(e), id);
    } else {
        rc = si_dberr(s, "get");
    }
    sqlite3_reset(st);
    if (rc == STORE_OK) {
        *json_out = fs_buf_take(&b);
        if (!*json_out)
            rc = si_fail(s, STORE_NOMEM, "out of memory");
    }
    fs_buf_release(&b);
    return rc;
}

int store_record_get(store *s, store_entity e, const char *id, store_record *out)
{
    si_rec r;
    int rc, err;

    memset(out, 0, sizeof *out);
    rc = si_check_id(s, id);
    if (rc != STORE_OK)
        return rc;
    rc = si_rec_load(s, e, id, &r);
    if (rc != STORE_OK)
        return rc;
    out->state = si_state_of(s, e, id, &err);
    out->body = si_json_print(r.body);
    out->id = r.id;
    out->parent_id = r.parent_id;
    out->remote_body = r.remote_body;
    out->updated_at = r.updated_at;
    out->etag = r.etag;
    out->deleted_locally = r.deleted_locally;
    r.id = r.parent_id = r.remote_body = r.updated_at = r.etag = NULL;
    si_rec_release(&r);
    if (err != STORE_OK || !out->body) {
        store_record_release(out);
        return err != STORE_OK ? err : si_fail(s, STORE_NOMEM, "out of memory");
    }
    return STORE_OK;
}

void store_record_release(store_record *r)
{
    if (!r)
        return;
    free(r->id);
    free(r->parent_id);
    free(r->body);
    free(r->remote_body);
    free(r->updated_at);
    free(r->etag);
    memset(r, 0, sizeof *r);
}

int store_count(store *s, store_entity e, int64_t *count_out)
{
    sqlite3_stmt *st = si_stmt(s, "SELECT count(*) FROM records WHERE entity = ?1 "
                                  "AND deleted_locally = 0");

    *count_out = 0;
    if (st)
        sqlite3_bind_int(st, 1, (int)e);
    return si_one_int(s, st, count_out, "count");
}

/* ---- lists ----------------------------------------------------------- */

#define MAX_BINDS 8

typedef struct {
    char where[1024];
    size_t len;
    const char *text[MAX_BINDS];   /* ?2.. in order; NULL for an integer */
    int64_t num[MAX_BINDS];
    int n;
    char pattern[2 * SI_MAX_FILTER + 3];
} filter;

/* Appends " AND cond" where each '#' in cond becomes the condition's
 * parameter number (?2, ?3, …: ?1 is the entity). */
static void add_cond(filter *f, const char *cond, const char *text, int64_t num)
{
    int idx;

    f->text[f->n] = text;
    f->num[f->n] = num;
    idx = ++f->n + 1;
    f->len += (size_t)snprintf(f->where + f->len, sizeof f->where - f->len, " AND ");
    for (; *cond && f->len + 4 < sizeof f->where; cond++) {
        if (*cond == '#')
            f->len += (size_t)snprintf(f->where + f->len, sizeof f->where - f->len, "%d", idx);
        else
            f->where[f->len++] = *cond;
    }
    f->where[f->len] = '\0';
}

/* LIKE pattern for a case-insensitive substring: the user's % and _ (and
 * the escape itself) are made literal. */
static void like_pattern(const char *in, char *out)
{
    size_t j = 0;

    out[j++] = '%';
    for (; *in; in++) {
        if (*in == '%' || *in == '_' || *in == '\\')
            out[j++] = '\\';
        out[j++] = *in;
    }
    out[j++] = '%';
    out[j] = '\0';
}

static int bad_filter(store *s, const char *field, const char *msg)
{
    cJSON *d = cJSON_CreateArray();

    if (!d || si_detail(d, field, msg) != 0) {
        cJSON_Delete(d);
        return si_fail(s, STORE_NOMEM, "out of memory");
    }
    return si_invalid(s, d, "invalid query parameter");
}

static int is_day(const char *t)
{
    int64_t ms;

    return strlen(t) == 10 && store_time_parse(t, &ms) == STORE_OK;
}

static int build_filter(store *s, store_entity e, const store_query *q, filter *f)
{
    const char *const vals[] = {q->search, q->status, q->branch_id, q->created_after,
                                q->customer_id, q->technician_id, q->from_date, q->to_date};
    int64_t ms;

    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        if (vals[i] && strlen(vals[i]) > SI_MAX_FILTER)
            return bad_filter(s, "query", "value too long");
    f->len = (size_t)snprintf(f->where, sizeof f->where,
                              "r.entity = ?1 AND r.deleted_locally = 0");
    if (e == ENT_CUSTOMER) {
        if (q->search && *q->search) {
            like_pattern(q->search, f->pattern);
            add_cond(f, "(r.name LIKE ?# ESCAPE '\\' OR r.number LIKE ?# ESCAPE '\\')",
                     f->pattern, 0);
        }
        if (q->branch_id)
            add_cond(f, "r.branch_id = ?#", q->branch_id, 0);
        if (q->created_after) {
            if (store_time_parse(q->created_after, &ms) != STORE_OK)
                return bad_filter(s, "created_after", "must be a date (YYYY-MM-DD)");
            /* Strictly after, as the remote filters: a date means its midnight UTC. */
            add_cond(f, "r.created_ms > ?#", NULL, ms);
        }
    }
    if (e == ENT_CUSTOMER || e == ENT_WORK_ORDER) {
        if (q->status) {
            if (!si_valid_status(e, q->status))
                return bad_filter(s, "status", "is not a valid status");
            add_cond(f, "r.status = ?#", q->status, 0);
        }
    }
    if (e == ENT_CONTACT || e == ENT_ASSET) {
        if (!q->customer_id)
            return bad_filter(s, "customer_id", "is required");
        add_cond(f, "r.customer_id = ?#", q->customer_id, 0);
    }
    if (e == ENT_WORK_ORDER) {
        if (q->customer_id)
            add_cond(f, "r.customer_id = ?#", q->customer_id, 0);
        if (q->technician_id)
            add_cond(f, "r.technician_id = ?#", q->technician_id, 0);
        if (q->from_date) {
            if (!is_day(q->from_date))
                return bad_filter(s, "from_date", "must be a date (YYYY-MM-DD)");
            add_cond(f, "r.sched_day >= ?#", q->from_date, 0);
        }
        if (q->to_date) {
            if (!is_day(q->to_date))
                return bad_filter(s, "to_date", "must be a date (YYYY-MM-DD)");
            add_cond(f, "r.sched_day <= ?#", q->to_date, 0);
        }
    }
    return STORE_OK;
}

static int bind_filter(sqlite3_stmt *st, store_entity e, const filter *f)
{
    int rc = sqlite3_bind_int(st, 1, (int)e);

    for (int i = 0; i < f->n && rc == SQLITE_OK; i++)
        rc = f->text[i] ? sqlite3_bind_text(st, i + 2, f->text[i], -1, SQLITE_STATIC)
                        : sqlite3_bind_int64(st, i + 2, f->num[i]);
    return rc == SQLITE_OK ? STORE_OK : STORE_NOMEM;
}

int store_list(store *s, store_entity e, const store_query *q, char **json_out)
{
    static const store_query none;
    filter f;
    char sql[2048];
    sqlite3_stmt *st;
    fs_buf b;
    int64_t total = 0, pages;
    int page, per_page, rc, began = 0, first = 1;

    *json_out = NULL;
    fs_buf_init(&b, SI_MAX_TEXT);
    if (!q)
        q = &none;
    if ((unsigned)e >= ENT__COUNT)
        return si_fail(s, STORE_INVALID, "bad entity");
    if (q->page < 0)
        return bad_filter(s, "page", "must be a positive integer");
    if (q->per_page < 0)
        return bad_filter(s, "per_page", "must be a positive integer");
    page = q->page ? q->page : 1;
    per_page = q->per_page ? (q->per_page > 100 ? 100 : q->per_page) : 25;
    memset(&f, 0, sizeof f);
    rc = build_filter(s, e, q, &f);
    if (rc != STORE_OK)
        return rc;
    rc = si_read_begin(s, &began);
    if (rc != STORE_OK)
        return rc;

    snprintf(sql, sizeof sql, "SELECT count(*) FROM records r WHERE %s", f.where);
    st = si_stmt(s, sql);
    if (!st || bind_filter(st, e, &f) != STORE_OK) {
        rc = st ? si_fail(s, STORE_NOMEM, "out of memory") : STORE_ERR;
        goto out;
    }
    if (sqlite3_step(st) == SQLITE_ROW)
        total = sqlite3_column_int64(st, 0);
    else
        rc = si_dberr(s, "list count");
    sqlite3_reset(st);
    if (rc != STORE_OK)
        goto out;

    snprintf(sql, sizeof sql,
             "SELECT COALESCE(r.summary, r.body), " SI_STATE_SQL("r.entity", "r.id")
             ", r.number, r.write_only, " SI_CHECKED_SQL("r.entity", "r.id", "r.parent_id")
             " FROM records r WHERE %s ORDER BY r.id LIMIT ?98 OFFSET ?99",
             f.where);
    st = si_stmt(s, sql);
    if (!st || bind_filter(st, e, &f) != STORE_OK ||
        sqlite3_bind_int(st, 98, per_page) != SQLITE_OK ||
        sqlite3_bind_int64(st, 99, (int64_t)(page - 1) * per_page) != SQLITE_OK) {
        rc = st ? si_fail(s, STORE_NOMEM, "out of memory") : STORE_ERR;
        goto out;
    }
    fs_buf_adds(&b, "{\"data\":[");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!first)
            fs_buf_adds(&b, ",");
        first = 0;
        si_buf_add_with_sync(&b, (const char *)sqlite3_column_text(st, 0),
                             si_state_from_col(st, 1), (const char *)sqlite3_column_text(st, 2),
                             (const char *)sqlite3_column_text(st, 3), si_checked_from_col(st, 4));
    }
    rc = rc == SQLITE_DONE ? STORE_OK : si_dberr(s, "list");
    sqlite3_reset(st);
    if (rc != STORE_OK)
        goto out;
    pages = (total + per_page - 1) / per_page;
    fs_buf_addf(&b, "],\"meta\":{\"current_page\":%d,\"total_pages\":%lld,"
                      "\"total_count\":%lld}}",
                  page, (long long)pages, (long long)total);
    *json_out = fs_buf_take(&b);
    if (!*json_out)
        rc = si_fail(s, STORE_NOMEM, "out of memory");
out:
    si_read_end(s, began);
    fs_buf_release(&b);
    return rc;
}
