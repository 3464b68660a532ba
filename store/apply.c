/*
 * apply.c — what a pull does to the replica: remote upserts (with pending
 * edits re-applied on top), seen marks and pull generations' eviction, and
 * records deleted remotely.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

/* ---- pulls --------------------------------------------------------------- */

int store_pull_begin(store *s, int64_t *generation_out)
{
    sqlite3_stmt *st;
    int rc = si_tx_begin(s);
    int64_t gen = 0;

    if (rc != STORE_OK)
        return rc;
    st = si_stmt(s, "INSERT INTO pulls DEFAULT VALUES");
    rc = st ? si_step_done(s, st, "pull begin") : STORE_ERR;
    if (rc == STORE_OK) {
        gen = sqlite3_last_insert_rowid(s->db);
        /* Only the counter matters; AUTOINCREMENT never reuses a number. */
        st = si_stmt(s, "DELETE FROM pulls WHERE gen < ?1");
        if (!st) {
            rc = STORE_ERR;
        } else {
            sqlite3_bind_int64(st, 1, gen);
            rc = si_step_done(s, st, "pull begin");
        }
    }
    rc = si_tx_end(s, rc);
    if (rc == STORE_OK)
        *generation_out = gen;
    return rc;
}

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
        if ((dup = fs_json_dup_key(j))) {
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
        rc = si_rec_save_changed(s, &r);
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
        rc = *res == UPSERT_UNCHANGED ? si_rec_take_etag(s, &r, etag) : STORE_OK;
        if (rc == STORE_OK)
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
    ops = si_has_ops(s, e, r.id);
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
        rc = si_save_and_report(s, &r, old, old_deleted);
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
                                  "WHERE entity IN " SI_SQL_CHILD_ENTITIES " AND parent_id = ?1");

    if (!st)
        return STORE_ERR;
    si_bind_text(st, 1, customer_id);
    sqlite3_bind_int64(st, 2, generation);
    return si_step_done(s, st, "mark children seen");
}

int si_rec_drop(store *s, store_entity e, const char *id)
{
    int rc = si_rec_delete(s, e, id);

    if (rc == STORE_OK)
        rc = si_changed(s, e, id, "deleted");
    if (rc == STORE_OK && e == ENT_CUSTOMER)
        rc = si_drop_children(s, id);
    return rc;
}

static int delete_all(store *s, const si_ref *refs, int nrefs)
{
    int rc = STORE_OK;

    for (int i = 0; i < nrefs && rc == STORE_OK; i++) {
        rc = si_rec_delete(s, refs[i].e, refs[i].id);
        if (rc == STORE_OK)
            rc = si_changed(s, refs[i].e, refs[i].id, "deleted");
    }
    return rc;
}

int si_drop_children(store *s, const char *customer_id)
{
    sqlite3_stmt *st = si_stmt(s, "SELECT r.entity, r.id FROM records r "
                                  "WHERE r.entity IN " SI_SQL_CHILD_ENTITIES " AND r.parent_id = ?1 "
                                  "AND NOT EXISTS (SELECT 1 FROM outbox o "
                                  "WHERE o.entity = r.entity AND o.record_id = r.id)");
    si_ref *refs = NULL;
    int nrefs = 0;
    int rc;

    if (!st)
        return STORE_ERR;
    si_bind_text(st, 1, customer_id);
    rc = si_refs_collect(s, st, &refs, &nrefs, "collect ids");
    if (rc == STORE_OK)
        rc = delete_all(s, refs, nrefs);
    si_refs_free(refs, nrefs);
    return rc;
}

static int gone(store *s, store_entity e, const char *id)
{
    int rc = si_has_ops(s, e, id);
    si_rec r;

    if (rc < 0)
        return rc;
    if (rc == 1)
        return STORE_OK;   /* its ops settle it at push */
    rc = si_rec_load(s, e, id, &r);
    if (rc != STORE_OK)
        return rc;
    si_rec_release(&r);
    return si_rec_drop(s, e, id);
}

int store_remote_gone(store *s, store_entity e, const char *id)
{
    int rc = si_check_id(s, id);

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
                                  "WHERE r.entity = " SI_SQL_ENT_CUSTOMER " AND c.entity IN " SI_SQL_CHILD_ENTITIES " "
                                  "AND c.parent_id = r.id)");
    si_ref *refs = NULL;
    int nrefs = 0;
    int rc;

    if (!st)
        return STORE_ERR;
    sqlite3_bind_int(st, 1, (int)e);
    sqlite3_bind_int64(st, 2, generation);
    rc = si_refs_collect(s, st, &refs, &nrefs, "collect ids");
    if (rc == STORE_OK)
        rc = delete_all(s, refs, nrefs);
    *count = nrefs;
    for (int i = 0; i < nrefs && rc == STORE_OK && e == ENT_CUSTOMER; i++) {
        int64_t before = sqlite3_total_changes64(s->db);

        rc = si_drop_children(s, refs[i].id);
        *count += sqlite3_total_changes64(s->db) - before;
    }
    si_refs_free(refs, nrefs);
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
