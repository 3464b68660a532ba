/*
 * replica.c — the records: their rows, the local view rebuilt from the
 * remote version and the outbox (rebase), reads for the local API, and
 * what a pull does to them (upsert, seen marks, eviction, remote deletes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

/* The record's state from its unsettled ops: a held op shows as a
 * conflict, else a rejected one as rejected, else any op as pending. */
#define STATE_SQL(ent, id)                                                        \
    "(SELECT MAX(CASE o.state WHEN 4 THEN 3 WHEN 3 THEN 2 ELSE 1 END) FROM outbox o " \
    "WHERE o.entity = " ent " AND o.record_id = " id ")"

static store_sync_state state_from_col(sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return SYNC_SYNCED;
    switch (sqlite3_column_int(st, col)) {
    case 3:
        return SYNC_CONFLICT;
    case 2:
        return SYNC_REJECTED;
    default:
        return SYNC_PENDING;
    }
}

store_sync_state si_state_of(store *s, store_entity e, const char *id, int *err)
{
    sqlite3_stmt *st = si_stmt(s, "SELECT " STATE_SQL("?1", "?2"));
    store_sync_state out = SYNC_SYNCED;

    *err = STORE_OK;
    if (!st) {
        *err = STORE_ERR;
        return out;
    }
    sqlite3_bind_int(st, 1, (int)e);
    si_bind_text(st, 2, id);
    if (sqlite3_step(st) == SQLITE_ROW)
        out = state_from_col(st, 0);
    else
        *err = si_dberr(s, "record state");
    sqlite3_reset(st);
    return out;
}

/* ---- rows --------------------------------------------------------------- */

void si_rec_release(si_rec *r)
{
    if (!r)
        return;
    free(r->id);
    free(r->parent_id);
    cJSON_Delete(r->body);
    free(r->remote_body);
    free(r->updated_at);
    free(r->etag);
    memset(r, 0, sizeof *r);
}

int si_rec_load(store *s, store_entity e, const char *id, si_rec *out)
{
    sqlite3_stmt *st;
    int rc, oom = 0;

    memset(out, 0, sizeof *out);
    st = si_stmt(s, "SELECT parent_id, body, remote_body, updated_at, etag, deleted_locally, "
                    "seen_gen, remote_same FROM records WHERE entity = ?1 AND id = ?2");
    if (!st)
        return STORE_ERR;
    sqlite3_bind_int(st, 1, (int)e);
    if (si_bind_text(st, 2, id) != STORE_OK) {
        rc = si_fail(s, STORE_NOMEM, "out of memory");
        goto out;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        rc = si_fail(s, STORE_NOTFOUND, "no %s %s", store_entity_name(e), id);
        goto out;
    }
    if (rc != SQLITE_ROW) {
        rc = si_dberr(s, "load record");
        goto out;
    }
    out->e = e;
    out->id = strdup(id);
    out->parent_id = si_col_dup(st, 0, &oom);
    out->body = cJSON_Parse((const char *)sqlite3_column_text(st, 1));
    /* remote_same: the remote version is the body itself */
    out->remote_body = si_col_dup(st, sqlite3_column_int(st, 7) ? 1 : 2, &oom);
    out->updated_at = si_col_dup(st, 3, &oom);
    out->etag = si_col_dup(st, 4, &oom);
    out->deleted_locally = sqlite3_column_int(st, 5);
    out->seen_gen = sqlite3_column_int64(st, 6);
    rc = STORE_OK;
    if (oom || !out->id || !out->body)
        rc = si_fail(s, STORE_NOMEM, "load record: out of memory or bad stored JSON");
out:
    sqlite3_reset(st);
    if (rc != STORE_OK)
        si_rec_release(out);
    return rc;
}

static int bind_opt_ms(sqlite3_stmt *st, int idx, const char *text)
{
    int64_t ms;

    if (text && store_time_parse(text, &ms) == STORE_OK)
        return sqlite3_bind_int64(st, idx, ms);
    return sqlite3_bind_null(st, idx);
}

int si_rec_save(store *s, const si_rec *r)
{
    sqlite3_stmt *st;
    char *body = NULL, *summary = NULL;
    cJSON *sum;
    si_cols c;
    int rc = STORE_OK, same;

    body = si_json_print(r->body);
    sum = si_summary(r->e, r->body);
    summary = sum ? si_json_print(sum) : NULL;
    cJSON_Delete(sum);
    if (!body || (sum == NULL && (r->e == ENT_CUSTOMER || r->e == ENT_WORK_ORDER)) ||
        ((r->e == ENT_CUSTOMER || r->e == ENT_WORK_ORDER) && !summary)) {
        rc = si_fail(s, STORE_NOMEM, "out of memory");
        goto out;
    }
    si_columns(r->e, r->body, r->parent_id, &c);
    /* A record without pending edits stores its JSON once. */
    same = r->remote_body && strcmp(r->remote_body, body) == 0;
    st = si_stmt(s,
                 "INSERT INTO records (entity, id, parent_id, body, remote_body, summary, status, "
                 "customer_id, contact_id, technician_id, branch_id, sched_day, created_at, "
                 "created_ms, name, number, updated_at, updated_ms, etag, deleted_locally, "
                 "seen_gen, remote_same) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
                 "?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22) "
                 "ON CONFLICT (entity, id) DO UPDATE SET parent_id = excluded.parent_id, "
                 "body = excluded.body, remote_body = excluded.remote_body, "
                 "summary = excluded.summary, status = excluded.status, "
                 "customer_id = excluded.customer_id, contact_id = excluded.contact_id, "
                 "technician_id = excluded.technician_id, branch_id = excluded.branch_id, "
                 "sched_day = excluded.sched_day, created_at = excluded.created_at, "
                 "created_ms = excluded.created_ms, name = excluded.name, "
                 "number = excluded.number, updated_at = excluded.updated_at, "
                 "updated_ms = excluded.updated_ms, etag = excluded.etag, "
                 "deleted_locally = excluded.deleted_locally, seen_gen = excluded.seen_gen, "
                 "remote_same = excluded.remote_same");
    if (!st) {
        rc = STORE_ERR;
        goto out;
    }
    sqlite3_bind_int(st, 1, (int)r->e);
    if (si_bind_text(st, 2, r->id) || si_bind_text(st, 3, r->parent_id) ||
        sqlite3_bind_text(st, 4, body, -1, SQLITE_STATIC) != SQLITE_OK ||
        si_bind_text(st, 5, same ? NULL : r->remote_body) ||
        (summary ? sqlite3_bind_text(st, 6, summary, -1, SQLITE_STATIC)
                 : sqlite3_bind_null(st, 6)) != SQLITE_OK ||
        si_bind_text(st, 7, c.status) || si_bind_text(st, 8, c.customer_id) ||
        si_bind_text(st, 9, c.contact_id) || si_bind_text(st, 10, c.technician_id) ||
        si_bind_text(st, 11, c.branch_id) || si_bind_text(st, 12, c.sched_day[0] ? c.sched_day : NULL) ||
        si_bind_text(st, 13, c.created_at) ||
        (c.has_created_ms ? sqlite3_bind_int64(st, 14, c.created_ms)
                          : sqlite3_bind_null(st, 14)) != SQLITE_OK ||
        si_bind_text(st, 15, c.name) || si_bind_text(st, 16, c.number) ||
        si_bind_text(st, 17, r->updated_at) || bind_opt_ms(st, 18, r->updated_at) ||
        si_bind_text(st, 19, r->etag) || sqlite3_bind_int(st, 20, r->deleted_locally) ||
        sqlite3_bind_int64(st, 21, r->seen_gen) || sqlite3_bind_int(st, 22, same)) {
        sqlite3_reset(st);
        rc = si_fail(s, STORE_NOMEM, "out of memory");
        goto out;
    }
    rc = si_step_done(s, st, "save record");
    sqlite3_clear_bindings(st);   /* body and summary are freed below */
out:
    free(body);
    free(summary);
    return rc;
}

int si_rec_delete(store *s, store_entity e, const char *id)
{
    sqlite3_stmt *st = si_stmt(s, "DELETE FROM records WHERE entity = ?1 AND id = ?2");

    if (!st)
        return STORE_ERR;
    sqlite3_bind_int(st, 1, (int)e);
    si_bind_text(st, 2, id);
    return si_step_done(s, st, "delete record");
}

/* ---- the local view ------------------------------------------------------ */

/*
 * Rebase.  The local view is never edited in place by a pull: it is the
 * remote version with the unsettled ops re-applied on top, in outbox
 * order.  Settled ops are gone, so they are in the remote version already.
 * Rejected updates and deletes are left out (the server refused them; they
 * stay in the outbox for the user to retry or discard), but a rejected
 * create still makes the record (it has no remote version to fall back
 * to).  Held ops are kept: the user's values stay visible while the
 * conflict waits.  A record created here has no remote version until its
 * create is done: its base is rebuilt from the create op, keeping the
 * created_at it was given.
 */
int si_recompute(store *s, si_rec *r)
{
    store_op *ops = NULL;
    int n = 0, rc, deleted = 0;
    cJSON *view = NULL, *f = NULL;
    const store_op *create = NULL;

    rc = si_ops_of(s, r->e, r->id, &ops, &n);
    if (rc != STORE_OK)
        return rc;
    for (int i = 0; i < n && !create; i++)
        if (ops[i].kind == OP_CREATE)
            create = &ops[i];
    if (r->remote_body) {
        view = cJSON_Parse(r->remote_body);
    } else if (create) {
        f = cJSON_Parse(create->fields);
        view = f ? si_synthesize(s, r->e, r->id, create->parent_id, f,
                                 si_jstr(r->body, "created_at"))
                 : NULL;
        cJSON_Delete(f);
        f = NULL;
    } else {
        view = cJSON_Duplicate(r->body, 1);
    }
    if (!view) {
        rc = si_fail(s, STORE_NOMEM, "rebuild %s %s: out of memory", store_entity_name(r->e),
                     r->id);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        if (ops[i].kind == OP_CREATE || ops[i].state == OPST_REJECTED)
            continue;
        if (ops[i].kind == OP_DELETE) {
            deleted = 1;
            continue;
        }
        f = cJSON_Parse(ops[i].fields);
        if (!f) {
            rc = si_fail(s, STORE_CORRUPT, "op %s: bad fields JSON", ops[i].op_id);
            goto out;
        }
        rc = store_apply_fields(s, r->e, view, f);
        cJSON_Delete(f);
        f = NULL;
        if (rc != STORE_OK)
            goto out;
    }
    cJSON_Delete(r->body);
    r->body = view;
    view = NULL;
    r->deleted_locally = deleted;
out:
    cJSON_Delete(view);
    store_ops_free(ops, n);
    return rc;
}

/* Saves r and reports a change when its view or visibility changed from
 * old_text / old_deleted. */
static int save_and_report(store *s, const si_rec *r, const char *old_text, int old_deleted)
{
    char *now_text;
    int rc = si_rec_save(s, r), differs;

    if (rc != STORE_OK)
        return rc;
    now_text = si_json_print(r->body);
    if (!now_text)
        return si_fail(s, STORE_NOMEM, "out of memory");
    differs = !old_text || strcmp(old_text, now_text) != 0 || old_deleted != r->deleted_locally;
    free(now_text);
    if (differs)
        rc = si_changed(s, r->e, r->id, r->deleted_locally ? "deleted" : "changed");
    return rc;
}

int si_refresh(store *s, store_entity e, const char *id)
{
    si_rec r;
    char *old = NULL;
    int rc = si_rec_load(s, e, id, &r), old_deleted;

    if (rc != STORE_OK)
        return rc;
    old = si_json_print(r.body);
    old_deleted = r.deleted_locally;
    rc = old ? si_recompute(s, &r) : si_fail(s, STORE_NOMEM, "out of memory");
    if (rc == STORE_OK)
        rc = save_and_report(s, &r, old, old_deleted);
    free(old);
    si_rec_release(&r);
    return rc;
}

/* 1 if the record has unsettled ops, 0 if not, <0 on error. */
static int has_ops(store *s, store_entity e, const char *id)
{
    sqlite3_stmt *st = si_stmt(s, "SELECT 1 FROM outbox WHERE entity = ?1 AND record_id = ?2 "
                                  "LIMIT 1");
    int rc;

    if (!st)
        return STORE_ERR;
    sqlite3_bind_int(st, 1, (int)e);
    si_bind_text(st, 2, id);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return si_dberr(s, "ops of record");
}

/* ---- reads ----------------------------------------------------------- */

static int check_id(store *s, const char *id)
{
    if (!id || !*id)
        return si_fail(s, STORE_INVALID, "no id given");
    if (strlen(id) > SI_MAX_ID)
        return si_fail(s, STORE_INVALID, "id over %d bytes", SI_MAX_ID);
    return STORE_OK;
}

int store_get(store *s, store_entity e, const char *id, char **json_out)
{
    sqlite3_stmt *st;
    si_buf b = {0};
    int rc;

    *json_out = NULL;
    if ((unsigned)e >= ENT__COUNT)
        return si_fail(s, STORE_INVALID, "bad entity");
    rc = check_id(s, id);
    if (rc != STORE_OK)
        return rc == STORE_INVALID ? si_fail(s, STORE_NOTFOUND, "no %s %.40s",
                                             store_entity_name(e), id ? id : "")
                                   : rc;
    st = si_stmt(s, "SELECT r.body, " STATE_SQL("r.entity", "r.id") " FROM records r "
                    "WHERE r.entity = ?1 AND r.id = ?2 AND r.deleted_locally = 0");
    if (!st)
        return STORE_ERR;
    sqlite3_bind_int(st, 1, (int)e);
    si_bind_text(st, 2, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        si_buf_add_with_sync(&b, (const char *)sqlite3_column_text(st, 0),
                             state_from_col(st, 1));
        rc = STORE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = si_fail(s, STORE_NOTFOUND, "no %s %s", store_entity_name(e), id);
    } else {
        rc = si_dberr(s, "get");
    }
    sqlite3_reset(st);
    if (rc == STORE_OK) {
        *json_out = si_buf_take(&b);
        if (!*json_out)
            rc = si_fail(s, STORE_NOMEM, "out of memory");
    }
    si_buf_release(&b);
    return rc;
}

int store_record_get(store *s, store_entity e, const char *id, store_record *out)
{
    si_rec r;
    int rc, err;

    memset(out, 0, sizeof *out);
    rc = check_id(s, id);
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
    si_buf b = {0};
    int64_t total = 0, pages;
    int page, per_page, rc, began = 0, first = 1;

    *json_out = NULL;
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
             "SELECT COALESCE(r.summary, r.body), " STATE_SQL("r.entity", "r.id")
             " FROM records r WHERE %s ORDER BY r.id LIMIT ?98 OFFSET ?99",
             f.where);
    st = si_stmt(s, sql);
    if (!st || bind_filter(st, e, &f) != STORE_OK ||
        sqlite3_bind_int(st, 98, per_page) != SQLITE_OK ||
        sqlite3_bind_int64(st, 99, (int64_t)(page - 1) * per_page) != SQLITE_OK) {
        rc = st ? si_fail(s, STORE_NOMEM, "out of memory") : STORE_ERR;
        goto out;
    }
    si_buf_puts(&b, "{\"data\":[");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!first)
            si_buf_puts(&b, ",");
        first = 0;
        si_buf_add_with_sync(&b, (const char *)sqlite3_column_text(st, 0),
                             state_from_col(st, 1));
    }
    rc = rc == SQLITE_DONE ? STORE_OK : si_dberr(s, "list");
    sqlite3_reset(st);
    if (rc != STORE_OK)
        goto out;
    pages = (total + per_page - 1) / per_page;
    si_buf_printf(&b, "],\"meta\":{\"current_page\":%d,\"total_pages\":%lld,"
                      "\"total_count\":%lld}}",
                  page, (long long)pages, (long long)total);
    *json_out = si_buf_take(&b);
    if (!*json_out)
        rc = si_fail(s, STORE_NOMEM, "out of memory");
out:
    si_read_end(s, began);
    si_buf_release(&b);
    return rc;
}

/* ---- pulls --------------------------------------------------------------- */

/* Checks a remote record; returns the parsed object or NULL (error set). */
static cJSON *parse_remote(store *s, store_entity e, const char *json, const cJSON *item,
                           int64_t *ms, int *has_ms)
{
    char why[128];
    cJSON *j, *d = NULL;
    const char *id, *field = NULL, *msg = NULL, *dup;
    const cJSON *upd;

    *has_ms = 0;
    if (item) {
        /* Already parsed by the caller: the same checks on a copy. */
        j = cJSON_Duplicate(item, 1);
        if (!j) {
            si_fail(s, STORE_NOMEM, "out of memory");
            return NULL;
        }
        if ((dup = si_json_dup_key(j))) {
            snprintf(why, sizeof why, "duplicate key \"%.60s\"", dup);
            field = "body";
            msg = why;
            goto bad;
        }
    } else if (!(j = si_json_parse(json, why, sizeof why))) {
        field = "body";
        msg = why;
        goto bad;
    }
    if (!cJSON_IsObject(j)) {
        field = "body";
        msg = "must be a JSON object";
        goto bad;
    }
    id = si_jstr(j, "id");
    if (!id || !*id || strlen(id) > SI_MAX_ID) {
        field = "id";
        msg = "must be a non-empty string of at most 128 bytes";
        goto bad;
    }
    upd = cJSON_GetObjectItemCaseSensitive(j, "updated_at");
    if (cJSON_IsString(upd)) {
        if (store_time_parse(upd->valuestring, ms) != STORE_OK) {
            field = "updated_at";
            msg = "must be an RFC 3339 date-time";
            goto bad;
        }
        *has_ms = 1;
    } else if ((upd && !cJSON_IsNull(upd)) || e == ENT_CUSTOMER || e == ENT_WORK_ORDER) {
        field = "updated_at";
        msg = "is required (an RFC 3339 date-time)";
        goto bad;
    }
    return j;
bad:
    cJSON_Delete(j);
    d = cJSON_CreateArray();
    if (!d || si_detail(d, field, msg) != 0) {
        cJSON_Delete(d);
        si_fail(s, STORE_NOMEM, "out of memory");
        return NULL;
    }
    si_invalid(s, d, "bad remote record");
    return NULL;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/*
 * Version order: the stored remote version is replaced only by one whose
 * updated_at is later.  The same updated_at is the same version (a 200
 * where a 304 could have been): only the ETag and the seen mark move.
 * An older one is a stale read (a list and a detail fetched across a
 * remote edit, a lagging replica): ignored, but the record is in scope.
 * Records without updated_at (contacts and assets may lack one) cannot be
 * ordered: they apply, unless their text is what we hold.
 */
static int upsert(store *s, store_entity e, const char *json, const cJSON *item,
                  const char *etag, const char *parent_id, int64_t generation,
                  store_upsert_result *res)
{
    si_rec r;
    cJSON *j;
    char *norm = NULL, *old = NULL;
    int64_t new_ms = 0, old_ms = 0;
    int has_ms, rc, ops, old_deleted;

    j = parse_remote(s, e, json, item, &new_ms, &has_ms);
    if (!j)
        return STORE_INVALID;
    norm = si_json_print(j);
    if (norm && strlen(norm) > SI_MAX_JSON) {
        free(norm);
        cJSON_Delete(j);
        return si_fail(s, STORE_INVALID, "remote record over %d bytes", SI_MAX_JSON);
    }
    if (!norm) {
        cJSON_Delete(j);
        return si_fail(s, STORE_NOMEM, "out of memory");
    }
    if (!parent_id && (e == ENT_CONTACT || e == ENT_ASSET))
        parent_id = si_jstr(j, "customer_id");
    rc = si_rec_load(s, e, si_jstr(j, "id"), &r);
    if (rc == STORE_NOTFOUND) {
        r.e = e;
        r.id = strdup(si_jstr(j, "id"));
        r.parent_id = si_strdup(parent_id);
        r.body = j;
        j = NULL;
        r.remote_body = norm;
        norm = NULL;
        r.updated_at = si_strdup(si_jstr(r.body, "updated_at"));
        r.etag = si_strdup(etag);
        r.seen_gen = generation;
        if (!r.id || (parent_id && !r.parent_id) || (etag && !r.etag) ||
            (has_ms && !r.updated_at)) {
            rc = si_fail(s, STORE_NOMEM, "out of memory");
            goto out;
        }
        *res = UPSERT_APPLIED;
        rc = si_rec_save(s, &r);
        if (rc == STORE_OK)
            rc = si_changed(s, e, r.id, "changed");
        goto out;
    }
    if (rc != STORE_OK)
        goto out;

    r.seen_gen = max64(r.seen_gen, generation);
    if (parent_id && (!r.parent_id || strcmp(r.parent_id, parent_id) != 0)) {
        free(r.parent_id);
        r.parent_id = strdup(parent_id);
        if (!r.parent_id) {
            rc = si_fail(s, STORE_NOMEM, "out of memory");
            goto out;
        }
    }
    /*
     * Older than what we hold: ignored.  The same version: nothing to do,
     * unless the body differs, which happens when the record shows fields
     * of other records (a work order's contact phone) that changed without
     * moving its updated_at; the remote's copy of the same version is the
     * truth then, and taking it overwrites nothing newer.
     */
    if (has_ms && r.updated_at && store_time_parse(r.updated_at, &old_ms) == STORE_OK &&
        (new_ms < old_ms ||
         (new_ms == old_ms && (!r.remote_body || strcmp(r.remote_body, norm) == 0)))) {
        *res = new_ms < old_ms ? UPSERT_STALE : UPSERT_UNCHANGED;
        if (*res == UPSERT_UNCHANGED && etag) {
            free(r.etag);
            r.etag = strdup(etag);
            if (!r.etag) {
                rc = si_fail(s, STORE_NOMEM, "out of memory");
                goto out;
            }
        }
        rc = si_rec_save(s, &r);
        goto out;
    }
    if (!has_ms && r.remote_body && strcmp(r.remote_body, norm) == 0) {
        *res = UPSERT_UNCHANGED;
        rc = si_rec_save(s, &r);
        goto out;
    }

    old = si_json_print(r.body);
    old_deleted = r.deleted_locally;
    free(r.remote_body);
    r.remote_body = norm;
    norm = NULL;
    free(r.updated_at);
    r.updated_at = si_strdup(si_jstr(j, "updated_at"));
    free(r.etag);
    r.etag = si_strdup(etag);
    if (!old || (has_ms && !r.updated_at) || (etag && !r.etag)) {
        rc = si_fail(s, STORE_NOMEM, "out of memory");
        goto out;
    }
    ops = has_ops(s, e, r.id);
    if (ops < 0) {
        rc = ops;
        goto out;
    }
    if (ops) {
        *res = UPSERT_REBASED;
        rc = si_recompute(s, &r);
    } else {
        *res = UPSERT_APPLIED;
        cJSON_Delete(r.body);
        r.body = j;
        j = NULL;
        r.deleted_locally = 0;
        rc = STORE_OK;
    }
    if (rc == STORE_OK)
        rc = save_and_report(s, &r, old, old_deleted);
out:
    cJSON_Delete(j);
    free(norm);
    free(old);
    si_rec_release(&r);
    return rc;
}

static int remote_upsert(store *s, store_entity e, const char *json, const cJSON *item,
                         const char *etag, const char *parent_id, int64_t generation,
                         store_upsert_result *result_out)
{
    store_upsert_result res = UPSERT_UNCHANGED;
    int rc;

    if ((unsigned)e >= ENT__COUNT)
        return si_fail(s, STORE_INVALID, "bad entity");
    if ((parent_id && strlen(parent_id) > SI_MAX_ID) || (etag && strlen(etag) > 1024))
        return si_fail(s, STORE_INVALID, "parent id or ETag too long");
    rc = si_tx_begin(s);
    if (rc != STORE_OK)
        return rc;
    rc = si_tx_end(s, upsert(s, e, json, item, etag, parent_id, generation, &res));
    if (rc == STORE_OK && result_out)
        *result_out = res;
    return rc;
}

int store_remote_upsert(store *s, store_entity e, const char *json, const char *etag,
                        const char *parent_id, int64_t generation,
                        store_upsert_result *result_out)
{
    return remote_upsert(s, e, json, NULL, etag, parent_id, generation, result_out);
}

int store_remote_upsert_item(store *s, store_entity e, const cJSON *rec, const char *etag,
                             const char *parent_id, int64_t generation,
                             store_upsert_result *result_out)
{
    if (!rec)
        return si_fail(s, STORE_INVALID, "no record");
    return remote_upsert(s, e, NULL, rec, etag, parent_id, generation, result_out);
}

int store_record_etag(store *s, store_entity e, const char *id, char **etag_out)
{
    sqlite3_stmt *st = si_stmt(s, "SELECT etag FROM records WHERE entity = ?1 AND id = ?2");
    int rc, oom = 0;

    *etag_out = NULL;
    if (!st)
        return STORE_ERR;
    sqlite3_bind_int(st, 1, (int)e);
    si_bind_text(st, 2, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *etag_out = si_col_dup(st, 0, &oom);
    sqlite3_reset(st);
    if (oom)
        return si_fail(s, STORE_NOMEM, "out of memory");
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return si_dberr(s, "etag");
    if (!*etag_out)
        return si_fail(s, STORE_NOTFOUND, "no ETag for %s %s", store_entity_name(e), id);
    return STORE_OK;
}

int store_mark_seen(store *s, store_entity e, const char *id, int64_t generation)
{
    sqlite3_stmt *st = si_stmt(s, "UPDATE records SET seen_gen = max(seen_gen, ?3) "
                                  "WHERE entity = ?1 AND id = ?2");
    int rc;

    if (!st)
        return STORE_ERR;
    sqlite3_bind_int(st, 1, (int)e);
    si_bind_text(st, 2, id);
    sqlite3_bind_int64(st, 3, generation);
    rc = si_step_done(s, st, "mark seen");
    if (rc == STORE_OK && sqlite3_changes(s->db) == 0)
        rc = si_fail(s, STORE_NOTFOUND, "no %s %s", store_entity_name(e), id);
    return rc;
}

int store_mark_children_seen(store *s, const char *customer_id, int64_t generation)
{
    sqlite3_stmt *st = si_stmt(s, "UPDATE records SET seen_gen = max(seen_gen, ?2) "
                                  "WHERE entity IN (1, 2) AND parent_id = ?1");

    if (!st)
        return STORE_ERR;
    si_bind_text(st, 1, customer_id);
    sqlite3_bind_int64(st, 2, generation);
    return si_step_done(s, st, "mark children seen");
}

/* Ids from a query with up to two bound parameters (an entity, a text, an
 * integer), collected first so the rows can then be changed. */
typedef struct {
    store_entity *e;
    char **id;
    int n, cap;
} idlist;

static void idlist_free(idlist *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->id[i]);
    free(l->id);
    free(l->e);
    memset(l, 0, sizeof *l);
}

static int idlist_collect(store *s, sqlite3_stmt *st, idlist *l)
{
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (l->n == l->cap) {
            int cap = l->cap ? l->cap * 2 : 16;
            char **ni = realloc(l->id, (size_t)cap * sizeof *ni);
            store_entity *ne;

            if (!ni)
                goto oom;
            l->id = ni;
            ne = realloc(l->e, (size_t)cap * sizeof *ne);
            if (!ne)
                goto oom;
            l->e = ne;
            l->cap = cap;
        }
        l->e[l->n] = (store_entity)sqlite3_column_int(st, 0);
        l->id[l->n] = strdup((const char *)sqlite3_column_text(st, 1));
        if (!l->id[l->n])
            goto oom;
        l->n++;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? STORE_OK : si_dberr(s, "collect ids");
oom:
    sqlite3_reset(st);
    return si_fail(s, STORE_NOMEM, "out of memory");
}

static int delete_all(store *s, const idlist *l)
{
    int rc = STORE_OK;

    for (int i = 0; i < l->n && rc == STORE_OK; i++) {
        rc = si_rec_delete(s, l->e[i], l->id[i]);
        if (rc == STORE_OK)
            rc = si_changed(s, l->e[i], l->id[i], "deleted");
    }
    return rc;
}

int si_drop_children(store *s, const char *customer_id)
{
    sqlite3_stmt *st = si_stmt(s, "SELECT r.entity, r.id FROM records r "
                                  "WHERE r.entity IN (1, 2) AND r.parent_id = ?1 "
                                  "AND NOT EXISTS (SELECT 1 FROM outbox o "
                                  "WHERE o.entity = r.entity AND o.record_id = r.id)");
    idlist l = {0};
    int rc;

    if (!st)
        return STORE_ERR;
    si_bind_text(st, 1, customer_id);
    rc = idlist_collect(s, st, &l);
    if (rc == STORE_OK)
        rc = delete_all(s, &l);
    idlist_free(&l);
    return rc;
}

static int gone(store *s, store_entity e, const char *id)
{
    int rc = has_ops(s, e, id);
    si_rec r;

    if (rc < 0)
        return rc;
    if (rc == 1)
        return STORE_OK;   /* its ops settle it at push */
    rc = si_rec_load(s, e, id, &r);
    if (rc != STORE_OK)
        return rc;
    si_rec_release(&r);
    rc = si_rec_delete(s, e, id);
    if (rc == STORE_OK)
        rc = si_changed(s, e, id, "deleted");
    if (rc == STORE_OK && e == ENT_CUSTOMER)
        rc = si_drop_children(s, id);
    return rc;
}

int store_remote_gone(store *s, store_entity e, const char *id)
{
    int rc = check_id(s, id);

    if (rc != STORE_OK)
        return rc;
    rc = si_tx_begin(s);
    if (rc != STORE_OK)
        return rc;
    return si_tx_end(s, gone(s, e, id));
}

/*
 * Eviction after a complete walk: what was not seen has left scope.  A
 * record with unsettled ops stays until they settle (an edit is never
 * dropped by a scope change), and so does a customer one of whose
 * contacts or assets has ops; the other children go with their customer.
 */
static int evict(store *s, store_entity e, int64_t generation, int64_t *count)
{
    sqlite3_stmt *st = si_stmt(s, "SELECT r.entity, r.id FROM records r "
                                  "WHERE r.entity = ?1 AND r.seen_gen < ?2 "
                                  "AND NOT EXISTS (SELECT 1 FROM outbox o "
                                  "WHERE o.entity = r.entity AND o.record_id = r.id) "
                                  "AND NOT EXISTS (SELECT 1 FROM records c JOIN outbox o "
                                  "ON o.entity = c.entity AND o.record_id = c.id "
                                  "WHERE r.entity = 0 AND c.entity IN (1, 2) "
                                  "AND c.parent_id = r.id)");
    idlist l = {0};
    int rc;

    if (!st)
        return STORE_ERR;
    sqlite3_bind_int(st, 1, (int)e);
    sqlite3_bind_int64(st, 2, generation);
    rc = idlist_collect(s, st, &l);
    if (rc == STORE_OK)
        rc = delete_all(s, &l);
    *count = l.n;
    for (int i = 0; i < l.n && rc == STORE_OK && e == ENT_CUSTOMER; i++) {
        int64_t before = sqlite3_total_changes64(s->db);

        rc = si_drop_children(s, l.id[i]);
        *count += sqlite3_total_changes64(s->db) - before;
    }
    idlist_free(&l);
    return rc;
}

int store_evict_unseen(store *s, store_entity e, int64_t generation, int64_t *evicted_out)
{
    int64_t n = 0;
    int rc;

    if ((unsigned)e >= ENT__COUNT)
        return si_fail(s, STORE_INVALID, "bad entity");
    rc = si_tx_begin(s);
    if (rc != STORE_OK)
        return rc;
    rc = si_tx_end(s, evict(s, e, generation, &n));
    if (evicted_out)
        *evicted_out = rc == STORE_OK ? n : 0;
    return rc;
}

/* ---- test support ------------------------------------------------------ */

int si_check_consistency(store *s)
{
    sqlite3_stmt *st;
    idlist l = {0};
    int rc;

    st = si_stmt(s, "SELECT o.entity, o.record_id FROM outbox o WHERE NOT EXISTS "
                    "(SELECT 1 FROM records r WHERE r.entity = o.entity AND r.id = o.record_id)");
    if (!st)
        return STORE_ERR;
    rc = idlist_collect(s, st, &l);
    if (rc == STORE_OK && l.n > 0)
        rc = si_fail(s, STORE_ERR, "op of %s %s has no record", store_entity_name(l.e[0]),
                     l.id[0]);
    idlist_free(&l);
    if (rc != STORE_OK)
        return rc;
    st = si_stmt(s, "SELECT entity, id FROM records ORDER BY entity, id");
    if (!st)
        return STORE_ERR;
    rc = idlist_collect(s, st, &l);
    for (int i = 0; i < l.n && rc == STORE_OK; i++) {
        si_rec r;
        cJSON *stored;
        int was_deleted;

        rc = si_rec_load(s, l.e[i], l.id[i], &r);
        if (rc != STORE_OK)
            break;
        if (!r.remote_body && has_ops(s, r.e, r.id) == 0)
            rc = si_fail(s, STORE_ERR, "%s %s: created locally but has no op",
                         store_entity_name(r.e), r.id);
        stored = cJSON_Duplicate(r.body, 1);
        was_deleted = r.deleted_locally;
        if (rc == STORE_OK)
            rc = stored ? si_recompute(s, &r) : STORE_NOMEM;
        if (rc == STORE_OK && (!cJSON_Compare(stored, r.body, 1) ||
                               was_deleted != r.deleted_locally)) {
            char *a = si_json_print(stored), *b = si_json_print(r.body);

            rc = si_fail(s, STORE_ERR, "%s %s: stored view %.200s differs from rebuilt %.200s",
                         store_entity_name(r.e), r.id, a ? a : "?", b ? b : "?");
            free(a);
            free(b);
        }
        cJSON_Delete(stored);
        si_rec_release(&r);
    }
    idlist_free(&l);
    return rc;
}
