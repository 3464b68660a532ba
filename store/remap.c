/*
 * remap.c — replacing a record's local id by the server's once its create
 * is done, everywhere the id is held.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

/* Replaces, in place, every string equal to from at the top level of obj
 * and every {"id": from} object member's id.  Returns 1 if any changed. */
int si_rewrite_ids(cJSON *obj, const char *from, const char *to)
{
    int changed = 0;

    for (cJSON *c = obj ? obj->child : NULL; c; c = c->next) {
        cJSON *target = c;

        if (cJSON_IsObject(c))
            target = cJSON_GetObjectItemCaseSensitive(c, "id");
        if (cJSON_IsString(target) && strcmp(target->valuestring, from) == 0 &&
            cJSON_SetValuestring(target, to))
            changed = 1;
    }
    return changed;
}

/*
 * Remap: the local id is replaced by the server's everywhere, in the
 * caller's transaction — the record, references in other records' views
 * and index columns (a work order's customer and contact, a contact's or
 * asset's customer), and the record id, parent id, fields and bases of
 * later ops (so the next push names the server id).
 */
int si_remap(store *s, store_entity e, const char *from, const char *to)
{
    static const char *const moves[] = {
        "UPDATE records SET id = ?3 WHERE entity = ?1 AND id = ?2",
        "UPDATE outbox SET record_id = ?3 WHERE entity = ?1 AND record_id = ?2",
        "UPDATE outbox SET parent_id = ?3 WHERE parent_id = ?2 AND ?1 = " SI_SQL_ENT_CUSTOMER,
        "UPDATE conflicts SET record_id = ?3 WHERE entity = ?1 AND record_id = ?2",
        "UPDATE idempotency SET record_id = ?3 WHERE entity = ?1 AND record_id = ?2",
    };
    sqlite3_stmt *st;
    int rc = STORE_OK;
    si_ref *refs = NULL;
    int nrefs = 0;
    store_op *ops = NULL;
    int nops = 0;

    for (size_t i = 0; i < sizeof moves / sizeof moves[0] && rc == STORE_OK; i++) {
        st = si_stmt(s, moves[i]);
        if (!st)
            return STORE_ERR;
        sqlite3_bind_int(st, 1, (int)e);
        si_bind_text(st, 2, from);
        si_bind_text(st, 3, to);
        rc = si_step_done(s, st, "remap");
    }
    if (rc != STORE_OK)
        return rc;
    rc = si_changed(s, e, from, "deleted");

    /* Records that refer to it: collected, then rewritten. */
    st = si_stmt(s, "SELECT entity, id FROM records WHERE "
                    "(?1 = " SI_SQL_ENT_CUSTOMER " AND entity IN " SI_SQL_CHILD_ENTITIES
                    " AND parent_id = ?2) OR "
                    "(?1 = " SI_SQL_ENT_CUSTOMER " AND entity = " SI_SQL_ENT_WORK_ORDER
                    " AND customer_id = ?2) OR "
                    "(?1 = " SI_SQL_ENT_CONTACT " AND entity = " SI_SQL_ENT_WORK_ORDER
                    " AND contact_id = ?2)");
    if (!st)
        return STORE_ERR;
    sqlite3_bind_int(st, 1, (int)e);
    si_bind_text(st, 2, from);
    if (rc == STORE_OK)
        rc = si_refs_collect(s, st, &refs, &nrefs, "remap: records referring");
    for (int i = 0; i < nrefs && rc == STORE_OK; i++) {
        si_rec r;

        rc = si_rec_load(s, refs[i].e, refs[i].id, &r);
        if (rc != STORE_OK)
            break;
        si_rewrite_ids(r.body, from, to);
        if (r.parent_id && strcmp(r.parent_id, from) == 0) {
            free(r.parent_id);
            r.parent_id = strdup(to);
            if (!r.parent_id)
                rc = si_fail(s, STORE_NOMEM, "out of memory");
        }
        if (rc == STORE_OK)
            rc = si_rec_save(s, &r);
        if (rc == STORE_OK)
            rc = si_changed(s, r.e, r.id, "changed");
        si_rec_release(&r);
    }

    /* Ops whose fields or bases hold the id as a value. */
    if (rc == STORE_OK) {
        st = si_stmt(s, "SELECT " SI_OP_COLS " FROM outbox WHERE instr(fields, ?1) > 0 "
                        "OR instr(base_values, ?1) > 0");
        if (st)
            si_bind_text(st, 1, from);
        rc = si_ops_collect(s, st, &ops, &nops, "remap: ops referring");
    }
    for (int i = 0; i < nops && rc == STORE_OK; i++) {
        const store_op *op = &ops[i];
        cJSON *f = cJSON_Parse(op->fields), *b = cJSON_Parse(op->base_values);
        char *ft = NULL, *bt = NULL;

        if (f && b) {
            si_rewrite_ids(f, from, to);
            si_rewrite_ids(b, from, to);
            ft = si_json_print(f);
            bt = si_json_print(b);
        }
        st = ft && bt ? si_stmt(s, "UPDATE outbox SET fields = ?2, base_values = ?3 "
                                   "WHERE op_id = ?1")
                      : NULL;
        if (!st) {
            rc = ft && bt ? STORE_ERR : si_fail(s, STORE_NOMEM, "out of memory");
        } else {
            si_bind_text(st, 1, op->op_id);
            si_bind_text(st, 2, ft);
            si_bind_text(st, 3, bt);
            rc = si_step_done(s, st, "remap op");
        }
        cJSON_Delete(f);
        cJSON_Delete(b);
        free(ft);
        free(bt);
    }
    si_refs_free(refs, nrefs);
    store_ops_free(ops, nops);
    return rc;
}
