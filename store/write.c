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

/*
 * The remote refuses a second customer with the same name (409, compared
 * as it does: trimmed, ASCII case folded); the replica can tell for the
 * customers it holds.  STORE_STATE with the remote's message.
 */
static int name_check(store *s, store_entity e, const cJSON *fields)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(fields, "name");
    sqlite3_stmt *st;
    int64_t n = 0;
    int rc;

    if (e != ENT_CUSTOMER || !cJSON_IsString(name))
        return STORE_OK;
    st = si_stmt(s, "SELECT count(*) FROM records WHERE entity = " SI_SQL_ENT_CUSTOMER
                    " AND deleted_locally = 0 AND lower(trim(name, char(32,9,10,13))) ="
                    " lower(trim(?1, char(32,9,10,13)))");
    if (st && si_bind_text(st, 1, name->valuestring) != STORE_OK) {
        sqlite3_reset(st);
        return si_fail(s, STORE_NOMEM, "out of memory");
    }
    rc = si_one_int(s, st, &n, "customer name check");
    if (rc == STORE_OK && n > 0)
        rc = si_fail(s, STORE_STATE, "Customer already exists");
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
        (rc = check_size(s, fields)) != STORE_OK || (rc = name_check(s, e, fields)) != STORE_OK)
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

/* ---- Idempotency-Key ------------------------------------------------------ */

#define IDEM_KEY_MAX 255
#define IDEM_KEEP_MS (24 * 3600 * 1000LL) /* as long as a retrying script plausibly waits */
#define IDEM_KEEP_MAX 10000               /* and never more keys than this */

/* What a key's request was: entity, parent and body, as a 64-bit FNV-1a
 * (the same key with another request is refused, as by the remote). */
static void fingerprint(store_entity e, const char *parent_id, const char *body, char out[40])
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    const char *parts[2] = {parent_id ? parent_id : "", body};

    for (int i = 0; i < 2; i++) {
        for (const char *p = parts[i]; *p; p++)
            h = (h ^ (unsigned char)*p) * UINT64_C(0x100000001b3);
        h = (h ^ 0xff) * UINT64_C(0x100000001b3); /* a separator no UTF-8 text holds */
    }
    snprintf(out, 40, "%d:%016llx", (int)e, (unsigned long long)h);
}

/* The first answer's text with the record's id as it is now (the
 * server's once the create was pushed). */
static int replay_answer(store *s, const char *answer, const char *id, char **json_out)
{
    cJSON *j = cJSON_Parse(answer);
    int rc = j ? si_jset(j, "id", cJSON_CreateString(id)) : STORE_NOMEM;

    if (rc == STORE_OK && !(*json_out = si_json_print(j)))
        rc = STORE_NOMEM;
    cJSON_Delete(j);
    return rc == STORE_OK ? rc : si_fail(s, rc, "out of memory or bad stored answer");
}

/*
 * A key seen before: *json_out is the first answer again — the record as
 * it is now (under the server's id once pushed), or the first answer's
 * text if the record is gone since.  STORE_NOTFOUND if the key is new.
 */
static int idem_replay(store *s, const char *key, const char *fp, char **json_out)
{
    sqlite3_stmt *st = si_stmt(s, "SELECT fingerprint, entity, record_id, answer "
                                  "FROM idempotency WHERE key = ?1");
    char *id = NULL, *answer = NULL;
    store_entity e = ENT_CUSTOMER;
    int rc, oom = 0, same = 0;

    if (!st)
        return STORE_ERR;
    si_bind_text(st, 1, key);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        same = strcmp((const char *)sqlite3_column_text(st, 0), fp) == 0;
        e = (store_entity)sqlite3_column_int(st, 1);
        id = si_col_dup(st, 2, &oom);
        answer = si_col_dup(st, 3, &oom);
        rc = oom ? si_fail(s, STORE_NOMEM, "out of memory") : STORE_OK;
    } else {
        rc = rc == SQLITE_DONE ? STORE_NOTFOUND : si_dberr(s, "idempotency key");
    }
    sqlite3_reset(st);
    if (rc == STORE_OK && !same) {
        cJSON *d = cJSON_CreateArray();

        rc = d && si_detail(d, "Idempotency-Key", "was already used with a different request") == 0
                 ? si_invalid(s, d, "Idempotency-Key was already used with a different request")
                 : (cJSON_Delete(d), si_fail(s, STORE_NOMEM, "out of memory"));
    } else if (rc == STORE_OK) {
        rc = store_get(s, e, id, json_out);
        if (rc == STORE_NOTFOUND) /* gone since (deleted, out of scope) */
            rc = replay_answer(s, answer, id, json_out);
    }
    free(id);
    free(answer);
    return rc;
}

/* Keeps key -> the create's answer, in the create's transaction, and
 * forgets keys past their retention. */
static int idem_remember(store *s, const char *key, const char *fp, store_entity e,
                         const char *id, const char *answer, int64_t now_ms)
{
    sqlite3_stmt *st = si_stmt(s, "DELETE FROM idempotency WHERE created_ms < ?1 OR key IN "
                                  "(SELECT key FROM idempotency ORDER BY created_ms DESC "
                                  "LIMIT -1 OFFSET ?2)");
    int rc;

    if (!st)
        return STORE_ERR;
    sqlite3_bind_int64(st, 1, now_ms - IDEM_KEEP_MS);
    sqlite3_bind_int(st, 2, IDEM_KEEP_MAX - 1);
    rc = si_step_done(s, st, "forget idempotency keys");
    if (rc != STORE_OK)
        return rc;
    st = si_stmt(s, "INSERT INTO idempotency (key, fingerprint, entity, record_id, answer, "
                    "created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    if (!st)
        return STORE_ERR;
    sqlite3_bind_int(st, 3, (int)e);
    sqlite3_bind_int64(st, 6, now_ms);
    if (si_bind_text(st, 1, key) || si_bind_text(st, 2, fp) || si_bind_text(st, 4, id) ||
        si_bind_text(st, 5, answer)) {
        sqlite3_reset(st);
        return si_fail(s, STORE_NOMEM, "out of memory");
    }
    return si_step_done(s, st, "remember idempotency key");
}

static int create_keyed(store *s, store_entity e, const char *parent_id, const cJSON *fields,
                        const char *key, int64_t now_ms, char **json_out, int *replayed)
{
    char id[48], fp[40], *body = NULL;
    int rc;

    if (key) {
        if (!(body = si_json_print(fields)))
            return si_fail(s, STORE_NOMEM, "out of memory");
        fingerprint(e, parent_id, body, fp);
        free(body);
        rc = idem_replay(s, key, fp, json_out);
        if (rc != STORE_NOTFOUND) {
            *replayed = rc == STORE_OK;
            return rc;
        }
    }
    rc = create(s, e, parent_id, fields, now_ms, id);
    if (rc == STORE_OK && (json_out || key))
        rc = store_get(s, e, id, json_out);
    if (rc == STORE_OK && key)
        rc = idem_remember(s, key, fp, e, id, *json_out, now_ms);
    return rc;
}

int store_local_create_keyed(store *s, store_entity e, const char *parent_id,
                             const cJSON *fields, const char *idem_key, int64_t now_ms,
                             char **json_out, int *replayed_out)
{
    char *js = NULL;
    int rc, replayed = 0;

    if (json_out)
        *json_out = NULL;
    if (replayed_out)
        *replayed_out = 0;
    if (idem_key && !*idem_key)
        idem_key = NULL;
    if (idem_key && strlen(idem_key) > IDEM_KEY_MAX) {
        cJSON *d = cJSON_CreateArray();

        if (!d || si_detail(d, "Idempotency-Key", "must be at most 255 characters") != 0) {
            cJSON_Delete(d);
            return si_fail(s, STORE_NOMEM, "out of memory");
        }
        return si_invalid(s, d, "Validation failed");
    }
    rc = check_writable(s, e);
    if (rc != STORE_OK)
        return rc;
    rc = si_tx_begin(s);
    if (rc != STORE_OK)
        return rc;
    rc = si_tx_end(s, create_keyed(s, e, parent_id, fields, idem_key, now_ms,
                                   json_out || idem_key ? &js : NULL, &replayed));
    if (rc == STORE_OK && json_out) {
        *json_out = js;
        js = NULL;
    }
    if (replayed_out)
        *replayed_out = replayed;
    free(js);
    return rc;
}

int store_local_create(store *s, store_entity e, const char *parent_id, const cJSON *fields,
                       int64_t now_ms, char **json_out)
{
    return store_local_create_keyed(s, e, parent_id, fields, NULL, now_ms, json_out, NULL);
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
