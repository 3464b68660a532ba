/* Contacts: POST /api/v1/customers/{id}/contacts, PUT and DELETE
 * /api/v1/contacts/{id} (the list is in routes_customers.c).
 *
 * A customer's detail embeds its contacts, so a contact write also stamps
 * the customer's updated_at: otherwise its ETag would stay the same while
 * its body changed, and a client would keep a stale copy after a 304.
 * At most one contact per customer is primary: making one primary clears
 * the flag on the others. */
#include <stdio.h>

#include "sim.h"

static const struct field_spec contact_fields[] = {
    {"name", "name", FK_NAME, FF_REQUIRED, 200, NULL, NULL, NULL},
    {"title", "title", FK_STRING, FF_NULLABLE, 0, NULL, NULL, NULL},
    {"email", "email", FK_STRING, FF_NULLABLE, 0, NULL, NULL, NULL},
    {"phone", "phone", FK_STRING, FF_NULLABLE, 0, NULL, NULL, NULL},
    {"is_primary", "is_primary", FK_BOOL, FF_NULLABLE, 0, NULL, NULL, NULL},
};
#define N_CONTACT_FIELDS (sizeof contact_fields / sizeof contact_fields[0])

/* after a write to contact id of customer: keep one primary, stamp the
 * customer; 0 or -1 */
static int after_contact_write(sqlite3 *db, const char *customer_id, const char *id,
                               const struct field_values *fv)
{
    if (cJSON_IsTrue(field_item(fv, "is_primary"))) {
        sqlite3_stmt *st = db_stmt(
            db, "UPDATE contacts SET is_primary = 0, updated_at = MAX(updated_at + 1, ?1)"
                " WHERE customer_id = ?2 AND id <> ?3 AND is_primary = 1 AND deleted = 0");

        if (!st || sqlite3_bind_int64(st, 1, clock_now_ms()) != SQLITE_OK ||
            db_bind_text(st, 2, customer_id) || db_bind_text(st, 3, id) ||
            db_step_done(db, st))
            return -1;
    }
    return rec_touch(db, "customers", customer_id);
}

void contacts_create(const struct sim_request *rq, struct sim_response *rs)
{
    sqlite3 *db = rq->sim->db;
    struct field_values fv;
    const char *const extra[] = {"customer_id", rq->id, NULL};
    cJSON *body, *data;
    char id[32];
    int64_t seq;
    int rc = db_exists(db, "SELECT 1 FROM customers WHERE id = ? AND deleted = 0", rq->id);

    if (rc <= 0) {
        if (rc < 0)
            resp_internal(rs);
        else
            resp_error(rs, 404, "not_found", "Customer not found", NULL);
        return;
    }
    body = validate_request(rq, rs, contact_fields, N_CONTACT_FIELDS, 1, &fv);
    if (!body)
        return;
    if (db_next_id(db, "contacts", "contact", 3, &seq, id, sizeof id) ||
        validate_apply_insert(db, "contacts", id, seq, clock_now_ms(), &fv, extra) ||
        after_contact_write(db, rq->id, id, &fv) || rec_contact(db, id, &data) || !data) {
        cJSON_Delete(body);
        resp_internal(rs);
        return;
    }
    cJSON_Delete(body);
    rs->applied = 1;
    resp_data(rs, 201, data);
}

/* the customer of a live contact into out; 1 found, 0 answered 404, -1 error */
static int contact_owner(const struct sim_request *rq, struct sim_response *rs,
                         char *out, size_t outsz, int64_t *updated)
{
    sqlite3_stmt *st = db_stmt(rq->sim->db, "SELECT customer_id, updated_at FROM contacts"
                                            " WHERE id = ? AND deleted = 0");
    int rc;

    if (!st || db_bind_text(st, 1, rq->id))
        return -1;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        snprintf(out, outsz, "%s", db_col_text(st, 0));
        *updated = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        resp_error(rs, 404, "not_found", "Contact not found", NULL);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

void contacts_update(const struct sim_request *rq, struct sim_response *rs)
{
    sqlite3 *db = rq->sim->db;
    struct field_values fv;
    char customer[128];
    int64_t old;
    cJSON *body, *data;
    int rc = contact_owner(rq, rs, customer, sizeof customer, &old);

    if (rc <= 0) {
        if (rc < 0)
            resp_internal(rs);
        return;
    }
    body = validate_request(rq, rs, contact_fields, N_CONTACT_FIELDS, 0, &fv);
    if (!body)
        return;
    if (validate_apply_update(db, "contacts", &fv, clock_stamp_after(old), rq->id) ||
        after_contact_write(db, customer, rq->id, &fv) || rec_contact(db, rq->id, &data) ||
        !data) {
        cJSON_Delete(body);
        resp_internal(rs);
        return;
    }
    cJSON_Delete(body);
    rs->applied = 1;
    resp_data(rs, 200, data);
}

void contacts_delete(const struct sim_request *rq, struct sim_response *rs)
{
    sqlite3 *db = rq->sim->db;
    char customer[128];
    int64_t old;
    int rc = contact_owner(rq, rs, customer, sizeof customer, &old);

    if (rc <= 0) {
        if (rc < 0)
            resp_internal(rs);
        return;
    }
    if (rec_trash(db, "contacts", rq->id, old) || rec_touch(db, "customers", customer)) {
        resp_internal(rs);
        return;
    }
    rs->applied = 1;
    resp_empty(rs, 204);
}
