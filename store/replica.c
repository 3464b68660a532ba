/*
 * replica.c — the records' rows and their local view: loading and saving
 * a row (columns and summary derived from its body), the view rebuilt from
 * the remote version and the outbox (rebase), a record's sync state.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

store_sync_state si_state_from_col(sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return STORE_SYNC_SYNCED;
    switch (sqlite3_column_int(st, col)) {
    case 3:
        return STORE_SYNC_CONFLICT;
    case 2:
        return STORE_SYNC_REJECTED;
    default:
        return STORE_SYNC_PENDING;
    }
}

store_sync_state si_state_of(store *s, store_entity e, const char *id, int *err)
{
    sqlite3_stmt *st = si_stmt(s, "SELECT " SI_STATE_SQL("?1", "?2"));
    store_sync_state out = STORE_SYNC_SYNCED;

    *err = STORE_OK;
    if (!st) {
        *err = STORE_ERR;
        return out;
    }
    sqlite3_bind_int(st, 1, (int)e);
    si_bind_text(st, 2, id);
    if (sqlite3_step(st) == SQLITE_ROW)
        out = si_state_from_col(st, 0);
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
int si_save_and_report(store *s, const si_rec *r, const char *old_text, int old_deleted)
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
        rc = si_save_and_report(s, &r, old, old_deleted);
    free(old);
    si_rec_release(&r);
    return rc;
}

int si_rec_save_changed(store *s, const si_rec *r)
{
    int rc = si_rec_save(s, r);

    return rc == STORE_OK ? si_changed(s, r->e, r->id, "changed") : rc;
}

int si_op_refresh(store *s, const store_op *op)
{
    int rc = si_refresh(s, op->entity, op->record_id);

    return rc == STORE_OK ? si_changed(s, op->entity, op->record_id, "changed") : rc;
}

int si_rec_take_etag(store *s, si_rec *r, const char *etag)
{
    char *copy;

    if (!etag)
        return STORE_OK;
    copy = strdup(etag);
    if (!copy)
        return si_fail(s, STORE_NOMEM, "out of memory");
    free(r->etag);
    r->etag = copy;
    return STORE_OK;
}

/* 1 if the record has unsettled ops, 0 if not, <0 on error. */
int si_has_ops(store *s, store_entity e, const char *id)
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

int si_check_id(store *s, const char *id)
{
    if (!id || !*id)
        return si_fail(s, STORE_INVALID, "no id given");
    if (strlen(id) > SI_MAX_ID)
        return si_fail(s, STORE_INVALID, "id over %d bytes", SI_MAX_ID);
    return STORE_OK;
}

/* ---- test support ------------------------------------------------------ */

int si_check_consistency(store *s)
{
    sqlite3_stmt *st;
    si_ref *refs = NULL;
    int nrefs = 0;
    int rc;

    st = si_stmt(s, "SELECT o.entity, o.record_id FROM outbox o WHERE NOT EXISTS "
                    "(SELECT 1 FROM records r WHERE r.entity = o.entity AND r.id = o.record_id)");
    if (!st)
        return STORE_ERR;
    rc = si_refs_collect(s, st, &refs, &nrefs, "collect ids");
    if (rc == STORE_OK && nrefs > 0)
        rc = si_fail(s, STORE_ERR, "op of %s %s has no record", store_entity_name(refs[0].e),
                     refs[0].id);
    si_refs_free(refs, nrefs);
    if (rc != STORE_OK)
        return rc;
    st = si_stmt(s, "SELECT entity, id FROM records ORDER BY entity, id");
    if (!st)
        return STORE_ERR;
    rc = si_refs_collect(s, st, &refs, &nrefs, "collect ids");
    for (int i = 0; i < nrefs && rc == STORE_OK; i++) {
        si_rec r;
        cJSON *stored;
        int was_deleted;

        rc = si_rec_load(s, refs[i].e, refs[i].id, &r);
        if (rc != STORE_OK)
            break;
        if (!r.remote_body && si_has_ops(s, r.e, r.id) == 0)
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
    si_refs_free(refs, nrefs);
    return rc;
}
