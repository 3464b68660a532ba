/*
 * write.c — the local writes that append ops: validation, the replica
 * change and the op in one durable transaction, coalescing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

static int op_insert(store *s, store_entity e, const char *record_id, const char *parent_id,
                     store_op_kind kind, const char *fields, const char *base,
                     const char *base_updated_at, int64_t now_ms)
{
    sqlite3_stmt *st;
    char op_id[37];

    if (store_uuid(op_id) != STORE_OK)
        return si_fail(s, STORE_ERR, "getrandom failed");
    st = si_stmt(s, "INSERT INTO outbox (op_id, entity, record_id, parent_id, kind, fields, "
                    "base_values, base_updated_at, edited_at, state) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0)");
    if (!st)
        return STORE_ERR;
    sqlite3_bind_int(st, 2, (int)e);
    sqlite3_bind_int(st, 5, (int)kind);
    sqlite3_bind_int64(st, 9, now_ms);
    if (si_bind_text(st, 1, op_id) || si_bind_text(st, 3, record_id) ||
        si_bind_text(st, 4, parent_id) || si_bind_text(st, 6, fields) ||
        si_bind_text(st, 7, base) || si_bind_text(st, 8, base_updated_at)) {
        sqlite3_reset(st);
        return si_fail(s, STORE_NOMEM, "out of memory");
    }
    return si_step_done(s, st, "append op");
}

static int op_rewrite(store *s, const char *op_id, store_op_kind kind, const char *fields,
                      const char *base, int64_t now_ms)
{
    sqlite3_stmt *st = si_stmt(s, "UPDATE outbox SET kind = ?2, fields = ?3, base_values = ?4, "
                                  "edited_at = max(edited_at, ?5) WHERE op_id = ?1");

    if (!st)
        return STORE_ERR;
    sqlite3_bind_int(st, 2, (int)kind);
    sqlite3_bind_int64(st, 5, now_ms);
    if (si_bind_text(st, 1, op_id) || si_bind_text(st, 3, fields) || si_bind_text(st, 4, base)) {
        sqlite3_reset(st);
        return si_fail(s, STORE_NOMEM, "out of memory");
    }
    return si_step_done(s, st, "coalesce op");
}

/* ["name"]: the names argument of store_write_view() for one field. */
static cJSON *one_name(const char *name)
{
    const char *names[1] = {name};

    return cJSON_CreateStringArray(names, 1);
}

/* The record's remote version as the base of an edit: the stored remote
 * body, or for a record whose create has been attempted but is not done,
 * what that create will make. */
static cJSON *remote_version(store *s, const si_rec *r, const store_op *ops, int n)
{
    if (r->remote_body)
        return cJSON_Parse(r->remote_body);
    for (int i = 0; i < n; i++)
        if (ops[i].kind == OP_CREATE) {
            cJSON *f = cJSON_Parse(ops[i].fields), *v;

            if (!f)
                return NULL;
            v = si_synthesize(s, r->e, r->id, ops[i].parent_id, f,
                              si_jstr(r->body, "created_at"));
            cJSON_Delete(f);
            return v;
        }
    return cJSON_Duplicate(r->body, 1);
}

/* 1 if an op may still absorb later edits: it has never been offered to
 * the remote, so its outcome there cannot be fixed yet. */
static int coalescable(const store_op *op)
{
    return op->state == OPST_PENDING && op->attempts == 0;
}

/*
 * Bases of the fields in names (an object's keys or an array of names)
 * that an earlier unsettled op (ops[0..n)) sets: that op's value, the
 * latest one.  Such an op can no longer absorb the edit, but the user
 * made the edit on a view that already held its values.  Based on the remote version instead, a revert would look
 * unchanged and be lost, and a new value would conflict with our own
 * earlier op.
 */
static int base_from_earlier_ops(store *s, const store_op *ops, int n, cJSON *base,
                                 const cJSON *names)
{
    int rc = STORE_OK;

    if (!base)
        return STORE_OK; /* the caller reports the allocation failure */
    for (int i = 0; i < n && rc == STORE_OK; i++) {
        cJSON *prior;
        if (ops[i].kind == OP_DELETE || ops[i].state == OPST_REJECTED)
            continue;
        if (!(prior = cJSON_Parse(ops[i].fields)))
            return si_fail(s, STORE_CORRUPT, "op %s: bad JSON", ops[i].op_id);
        for (const cJSON *c = names->child; c && rc == STORE_OK; c = c->next) {
            const char *name = c->string ? c->string : c->valuestring;
            const cJSON *pv = name ? cJSON_GetObjectItemCaseSensitive(prior, name) : NULL;
            if (pv)
                rc = si_jset(base, name, cJSON_Duplicate(pv, 1));
        }
        cJSON_Delete(prior);
    }
    return rc == STORE_OK ? STORE_OK : si_fail(s, rc, "out of memory");
}

/*
 * Coalescing an update.  Into the record's last op only, and only if that
 * op was never attempted (a create or update whose request may have
 * reached the server cannot change any more: a retry replays the same
 * request under the same idempotency key).
 *   create+update: the fields join the create, which stays a create.
 *   update+update: later values win; each field keeps the base it had when
 *     first edited (the value the user saw before any of these edits), and
 *     fields new to the op take their base from the current remote version.
 * Otherwise a new update is appended, based on the remote version.
 * Either way a field that an earlier unsettled op sets takes that op's
 * value as its base (base_from_earlier_ops).
 */
static int enqueue_update(store *s, const si_rec *r, const cJSON *changed, int64_t now_ms)
{
    store_op *ops = NULL;
    int n = 0, rc;
    cJSON *remote = NULL, *merged = NULL, *base = NULL;
    char *fields_text = NULL, *base_text = NULL;
    store_op *last;

    rc = si_ops_of(s, r->e, r->id, &ops, &n);
    if (rc != STORE_OK)
        return rc;
    last = n ? &ops[n - 1] : NULL;
    remote = remote_version(s, r, ops, n);
    if (!remote) {
        rc = si_fail(s, STORE_NOMEM, "out of memory");
        goto out;
    }
    if (last && coalescable(last) && last->kind != OP_DELETE) {
        merged = cJSON_Parse(last->fields);
        base = cJSON_Parse(last->base_values);
        if (!merged || !base) {
            rc = si_fail(s, STORE_CORRUPT, "op %s: bad JSON", last->op_id);
            goto out;
        }
        for (const cJSON *c = changed->child; c && rc == STORE_OK; c = c->next) {
            rc = si_jset(merged, c->string, cJSON_Duplicate(c, 1));
            if (rc == STORE_OK && last->kind == OP_UPDATE &&
                !cJSON_GetObjectItemCaseSensitive(base, c->string)) {
                cJSON *names = one_name(c->string);
                cJSON *bv = names ? store_write_view(r->e, remote, names) : NULL;

                rc = bv ? si_jset(base, c->string,
                                  cJSON_DetachItemFromObjectCaseSensitive(bv, c->string))
                        : STORE_NOMEM;
                if (rc == STORE_OK)
                    rc = base_from_earlier_ops(s, ops, n - 1, base, names);
                cJSON_Delete(names);
                cJSON_Delete(bv);
            }
        }
        if (rc != STORE_OK) {
            rc = si_fail(s, rc, "out of memory");
            goto out;
        }
        fields_text = si_json_print(merged);
        base_text = si_json_print(base);
        rc = fields_text && base_text
                 ? op_rewrite(s, last->op_id, last->kind, fields_text, base_text, now_ms)
                 : si_fail(s, STORE_NOMEM, "out of memory");
        goto out;
    }
    base = store_write_view(r->e, remote, changed);
    rc = base_from_earlier_ops(s, ops, n, base, changed);
    if (rc != STORE_OK)
        goto out;
    fields_text = si_json_print(changed);
    base_text = base ? si_json_print(base) : NULL;
    rc = fields_text && base_text
             ? op_insert(s, r->e, r->id, NULL, OP_UPDATE, fields_text, base_text, r->updated_at,
                         now_ms)
             : si_fail(s, STORE_NOMEM, "out of memory");
out:
    cJSON_Delete(remote);
    cJSON_Delete(merged);
    cJSON_Delete(base);
    free(fields_text);
    free(base_text);
    store_ops_free(ops, n);
    return rc;
}

static int check_writable(store *s, store_entity e)
{
    if ((unsigned)e >= ENT__COUNT)
        return si_fail(s, STORE_INVALID, "bad entity");
    if (e == ENT_ASSET)
        return si_fail(s, STORE_STATE, "assets are read-only");
    return STORE_OK;
}

static int check_size(store *s, const cJSON *fields)
{
    char *text = si_json_print(fields);
    size_t len = text ? strlen(text) : 0;

    free(text);
    if (!text)
        return si_fail(s, STORE_NOMEM, "out of memory");
    if (len > SI_MAX_JSON) {
        cJSON *d = cJSON_CreateArray();

        if (!d || si_detail(d, "body", "over 1 MiB") != 0) {
            cJSON_Delete(d);
            return si_fail(s, STORE_NOMEM, "out of memory");
        }
        return si_invalid(s, d, "request body too large");
    }
    return STORE_OK;
}

static int not_found_detail(store *s, const char *field, const char *msg)
{
    cJSON *d = cJSON_CreateArray();

    if (!d || si_detail(d, field, msg) != 0) {
        cJSON_Delete(d);
        return si_fail(s, STORE_NOMEM, "out of memory");
    }
    return si_invalid(s, d, "Validation failed");
}

static int parent_check(store *s, store_entity e, const char *parent_id)
{
    si_rec p;
    int rc;

    if (e != ENT_CONTACT) {
        if (parent_id)
            return si_fail(s, STORE_INVALID, "only contacts are created under a parent");
        return STORE_OK;
    }
    if (!parent_id || !*parent_id || strlen(parent_id) > SI_MAX_ID)
        return not_found_detail(s, "customer_id", "Customer not found");
    rc = si_rec_load(s, ENT_CUSTOMER, parent_id, &p);
    if (rc == STORE_NOTFOUND || (rc == STORE_OK && p.deleted_locally)) {
        si_rec_release(&p);
        return not_found_detail(s, "customer_id", "Customer not found");
    }
    si_rec_release(&p);
    return rc;
}

static int create(store *s, store_entity e, const char *parent_id, const cJSON *fields,
                  int64_t now_ms, char *id_out)
{
    char uuid[37], created_at[40];
    char *fields_text = NULL;
    si_rec r;
    int rc;

    memset(&r, 0, sizeof r);
    if ((rc = parent_check(s, e, parent_id)) != STORE_OK ||
        (rc = si_validate(s, e, fields, 1, NULL)) != STORE_OK ||
        (rc = check_size(s, fields)) != STORE_OK)
        return rc;
    if (store_uuid(uuid) != STORE_OK)
        return si_fail(s, STORE_ERR, "getrandom failed");
    snprintf(id_out, 48, "local-%s", uuid);
    store_time_format(now_ms, created_at, sizeof created_at);
    r.e = e;
    r.id = strdup(id_out);
    r.parent_id = si_strdup(parent_id);
    r.body = si_synthesize(s, e, id_out, parent_id, fields, created_at);
    fields_text = si_json_print(fields);
    if (!r.id || (parent_id && !r.parent_id) || !r.body || !fields_text) {
        rc = si_fail(s, STORE_NOMEM, "out of memory");
        goto out;
    }
    rc = si_rec_save(s, &r);
    if (rc == STORE_OK)
        rc = si_changed(s, e, r.id, "changed");
    if (rc != STORE_OK)
        goto out;
    si_crash_point("local_write:replica_applied");
    rc = op_insert(s, e, r.id, parent_id, OP_CREATE, fields_text, "{}", NULL, now_ms);
out:
    free(fields_text);
    si_rec_release(&r);
    return rc;
}

int store_local_create(store *s, store_entity e, const char *parent_id, const cJSON *fields,
                       int64_t now_ms, char **json_out)
{
    char id[48];
    int rc;

    if (json_out)
        *json_out = NULL;
    rc = check_writable(s, e);
    if (rc != STORE_OK)
        return rc;
    rc = si_tx_begin(s);
    if (rc != STORE_OK)
        return rc;
    rc = si_tx_end(s, create(s, e, parent_id, fields, now_ms, id));
    if (rc == STORE_OK && json_out)
        rc = store_get(s, e, id, json_out);
    return rc;
}

static int load_live(store *s, store_entity e, const char *id, si_rec *r)
{
    int rc;

    memset(r, 0, sizeof *r);
    if (!id || !*id || strlen(id) > SI_MAX_ID)
        return si_fail(s, STORE_NOTFOUND, "no %s %.40s", store_entity_name(e), id ? id : "");
    rc = si_rec_load(s, e, id, r);
    if (rc == STORE_OK && r->deleted_locally) {
        si_rec_release(r);
        rc = si_fail(s, STORE_NOTFOUND, "%s %s is deleted", store_entity_name(e), id);
    }
    return rc;
}

static int update(store *s, store_entity e, const char *id, const cJSON *fields,
                  int64_t now_ms, int validate)
{
    si_rec r;
    cJSON *changed = NULL;
    int rc = load_live(s, e, id, &r);

    if (rc != STORE_OK)
        return rc;
    if (validate && ((rc = si_validate(s, e, fields, 0, r.body)) != STORE_OK ||
                     (rc = check_size(s, fields)) != STORE_OK))
        goto out;
    /* Only what differs from the local view is an edit: the op then names
     * exactly the fields the user changed, and its base only those. */
    changed = cJSON_CreateObject();
    for (const cJSON *c = fields->child; changed && c; c = c->next) {
        cJSON *names = one_name(c->string);
        cJSON *cur = names ? store_write_view(e, r.body, names) : NULL;
        int same = cur && cJSON_Compare(cJSON_GetObjectItemCaseSensitive(cur, c->string), c, 1);

        if (!cur || (!same && !cJSON_AddItemToObject(changed, c->string,
                                                     cJSON_Duplicate(c, 1)))) {
            cJSON_Delete(changed);
            changed = NULL;
        }
        cJSON_Delete(names);
        cJSON_Delete(cur);
    }
    if (!changed) {
        rc = si_fail(s, STORE_NOMEM, "out of memory");
        goto out;
    }
    if (!changed->child)
        goto out;   /* nothing changes: no op */
    rc = store_apply_fields(s, e, r.body, changed);
    if (rc == STORE_OK)
        rc = si_rec_save(s, &r);
    if (rc == STORE_OK)
        rc = si_changed(s, e, r.id, "changed");
    if (rc != STORE_OK)
        goto out;
    si_crash_point("local_write:replica_applied");
    rc = enqueue_update(s, &r, changed, now_ms);
out:
    cJSON_Delete(changed);
    si_rec_release(&r);
    return rc;
}

int si_local_update(store *s, store_entity e, const char *id, const cJSON *fields,
                    int64_t now_ms, int validate, char **json_out)
{
    int rc;

    if (json_out)
        *json_out = NULL;
    rc = check_writable(s, e);
    if (rc != STORE_OK)
        return rc;
    if (!cJSON_IsObject(fields))
        return not_found_detail(s, "body", "must be a JSON object");
    rc = si_tx_begin(s);
    if (rc != STORE_OK)
        return rc;
    rc = si_tx_end(s, update(s, e, id, fields, now_ms, validate));
    if (rc == STORE_OK && json_out)
        rc = store_get(s, e, id, json_out);
    return rc;
}

int store_local_update(store *s, store_entity e, const char *id, const cJSON *fields,
                       int64_t now_ms, char **json_out)
{
    return si_local_update(s, e, id, fields, now_ms, 1, json_out);
}

/* A customer with work orders not completed or cancelled cannot be
 * deleted (the remote answers 409): refused here rather than queued. */
static int active_work_orders(store *s, const char *customer_id)
{
    sqlite3_stmt *st = si_stmt(s, "SELECT 1 FROM records WHERE entity = " SI_SQL_ENT_WORK_ORDER
                                  " AND customer_id = ?1 "
                                  "AND deleted_locally = 0 "
                                  "AND coalesce(status, '') NOT IN ('completed', 'cancelled') "
                                  "LIMIT 1");
    int rc;

    if (!st)
        return STORE_ERR;
    si_bind_text(st, 1, customer_id);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return si_fail(s, STORE_STATE, "customer %s has active work orders: complete or "
                                       "cancel them first", customer_id);
    return rc == SQLITE_DONE ? STORE_OK : si_dberr(s, "active work orders");
}

/*
 * Coalescing a delete into the record's last op (if never attempted):
 *   create+delete: both vanish, with the record: the remote never knew it.
 *   update+delete: the update becomes the delete (its edits are moot).
 * A record whose create was attempted gets its delete queued after it:
 * the create may have happened remotely.
 */
static int delete_record(store *s, store_entity e, const char *id, int64_t now_ms)
{
    si_rec r;
    store_op *ops = NULL;
    int n = 0, rc = load_live(s, e, id, &r);
    store_op *last;

    if (rc != STORE_OK)
        return rc;
    if (e == ENT_CUSTOMER && (rc = active_work_orders(s, id)) != STORE_OK)
        goto out;
    rc = si_ops_of(s, e, id, &ops, &n);
    if (rc != STORE_OK)
        goto out;
    last = n ? &ops[n - 1] : NULL;
    if (last && coalescable(last) && last->kind == OP_CREATE) {
        rc = si_rec_delete(s, e, id);
        if (rc == STORE_OK)
            rc = si_changed(s, e, id, "deleted");
        if (rc == STORE_OK) {
            si_crash_point("local_write:replica_applied");
            rc = si_op_delete(s, last->op_id);
        }
        goto out;
    }
    r.deleted_locally = 1;
    rc = si_rec_save(s, &r);
    if (rc == STORE_OK)
        rc = si_changed(s, e, id, "deleted");
    if (rc != STORE_OK)
        goto out;
    si_crash_point("local_write:replica_applied");
    if (last && coalescable(last) && last->kind == OP_UPDATE)
        rc = op_rewrite(s, last->op_id, OP_DELETE, "{}", "{}", now_ms);
    else
        rc = op_insert(s, e, id, NULL, OP_DELETE, "{}", "{}", r.updated_at, now_ms);
out:
    store_ops_free(ops, n);
    si_rec_release(&r);
    return rc;
}

int store_local_delete(store *s, store_entity e, const char *id, int64_t now_ms)
{
    int rc = check_writable(s, e);

    if (rc != STORE_OK)
        return rc;
    rc = si_tx_begin(s);
    if (rc != STORE_OK)
        return rc;
    return si_tx_end(s, delete_record(s, e, id, now_ms));
}
