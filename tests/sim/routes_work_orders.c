/* /api/v1/work-orders: list, get, create, update, delete.
 *
 * Writes name customer_id, contact_id and technician_id; the record shows
 * customer{id,name,address}, contact{id,name,phone} and technician{id,name}
 * read live from those records.  Tasks are read-only here (their API is not
 * in the spec pages): seeded work orders have them, created ones start
 * with none. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sim.h"

const char *const WO_STATUSES[] = {"draft", "open", "assigned", "in_progress",
                                   "on_hold", "completed", "cancelled", NULL};
const char *const WO_PRIORITIES[] = {"low", "medium", "high", "urgent", NULL};
const char *const WO_TYPES[] = {"service", "installation", "maintenance", "repair",
                                "inspection", NULL};

static const struct field_spec work_order_fields[] = {
    {"customer_id", "customer_id", FK_REF, FF_REQUIRED, 0, NULL,
     "SELECT 1 FROM customers WHERE id = ? AND deleted = 0", "Customer not found"},
    {"contact_id", "contact_id", FK_REF, FF_NULLABLE, 0, NULL,
     "SELECT 1 FROM contacts WHERE id = ? AND deleted = 0", "Contact not found"},
    {"technician_id", "technician_id", FK_REF, FF_NULLABLE, 0, NULL,
     "SELECT 1 FROM technicians WHERE id = ?", "Technician not found"},
    {"status", "status", FK_ENUM, 0, 0, WO_STATUSES, NULL, NULL},
    {"priority", "priority", FK_ENUM, 0, 0, WO_PRIORITIES, NULL, NULL},
    {"work_order_type", "work_order_type", FK_ENUM, FF_NULLABLE, 0, WO_TYPES, NULL, NULL},
    {"scheduled_date", "scheduled_date", FK_DATETIME, FF_NULLABLE, 0, NULL, NULL, NULL},
    {"estimated_duration", "estimated_duration", FK_INT, FF_NULLABLE, 100000, NULL, NULL, NULL},
    {"description", "description", FK_STRING, FF_NULLABLE, 10000, NULL, NULL, NULL},
    {"notes", "notes", FK_STRING, FF_NULLABLE, 10000, NULL, NULL, NULL},
};
#define N_WORK_ORDER_FIELDS (sizeof work_order_fields / sizeof work_order_fields[0])

int work_orders_filters(const struct sim_request *rq, struct sim_response *rs,
                        struct list_query *q)
{
    static const char *const dates[2][2] = {
        {"from_date", "substr(w.scheduled_date, 1, 10) >= ?"},
        {"to_date", "substr(w.scheduled_date, 1, 10) <= ?"}};
    const char *v;
    int64_t ms;

    if (list_where(q, "w.deleted = 0", NULL))
        goto fail;
    if (req_query(rq, "status", &v)) {
        if (!list_check_choice(rs, "status", v, WO_STATUSES))
            return 0;
        if (list_where(q, "w.status = ?", v))
            goto fail;
    }
    if (req_query(rq, "customer_id", &v) && list_where(q, "w.customer_id = ?", v))
        goto fail;
    if (req_query(rq, "technician_id", &v) && list_where(q, "w.technician_id = ?", v))
        goto fail;
    /* dates compare as text: YYYY-MM-DD sorts like the dates it names */
    for (int i = 0; i < 2; i++) {
        if (!req_query(rq, dates[i][0], &v))
            continue;
        if (clock_parse_date(v, &ms)) {
            char msg[80];

            snprintf(msg, sizeof msg, "%s must be a date (YYYY-MM-DD)", dates[i][0]);
            resp_error(rs, 400, "bad_request", msg, NULL);
            return 0;
        }
        if (list_where(q, dates[i][1], v))
            goto fail;
    }
    return 1;
fail:
    resp_internal(rs);
    return 0;
}

void work_orders_list(const struct sim_request *rq, struct sim_response *rs)
{
    struct list_query q;

    list_init(&q, REC_WORK_ORDER_SUMMARY_COLS, REC_WORK_ORDER_SUMMARY_FROM, "w.seq",
              rec_work_order_summary_row);
    list_join(&q, "w", REC_WORK_ORDER_SUMMARY_JOIN);
    if (work_orders_filters(rq, rs, &q))
        list_respond(rq, rs, rq->sim->db, &q);
}

void work_orders_get(const struct sim_request *rq, struct sim_response *rs)
{
    rec_respond(rs, rq->sim->db, rec_work_order_shown, rq->id, 200,
                "Work order not found");
}

/* contact_id must name a contact of the work order's customer: 1 when it
 * does, 0 when not (422 answered), -1 on error */
static int contact_matches(sqlite3 *db, struct sim_response *rs, const char *contact,
                           const char *customer)
{
    sqlite3_stmt *st = db_stmt(db, "SELECT 1 FROM contacts WHERE id = ? AND customer_id = ?");
    cJSON *details;
    int rc;

    if (!st || db_bind_text(st, 1, contact) || db_bind_text(st, 2, customer))
        return -1;
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc != SQLITE_DONE)
        return -1;
    details = cJSON_CreateArray();
    if (!details ||
        details_add(details, "contact_id", "Contact does not belong to this customer")) {
        cJSON_Delete(details);
        return -1;
    }
    resp_error(rs, 422, "validation_error", "Validation failed", details);
    return 0;
}

/* the customer a write leaves the work order with */
static const char *target_customer(sqlite3 *db, const struct field_values *fv,
                                   const char *id, char *buf, size_t bufsz)
{
    const cJSON *c = field_item(fv, "customer_id");
    sqlite3_stmt *st;

    if (c)
        return c->valuestring;
    st = db_stmt(db, "SELECT customer_id FROM work_orders WHERE id = ?");
    if (!st || db_bind_text(st, 1, id))
        return NULL;
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return NULL;
    }
    snprintf(buf, bufsz, "%s", db_col_text(st, 0));
    sqlite3_reset(st);
    return buf;
}

/* validates the body; NULL when answered (fv then unusable) */
static cJSON *checked_body(const struct sim_request *rq, struct sim_response *rs,
                           int create, struct field_values *fv)
{
    cJSON *body = validate_request(rq, rs, work_order_fields, N_WORK_ORDER_FIELDS,
                                   create, fv);
    const cJSON *contact;
    char buf[128];
    const char *customer;
    int rc;

    if (!body)
        return NULL;
    contact = field_item(fv, "contact_id");
    if (!contact)
        return body;
    customer = target_customer(rq->sim->db, fv, rq->id, buf, sizeof buf);
    rc = customer ? contact_matches(rq->sim->db, rs, contact->valuestring, customer) : -1;
    if (rc == 1)
        return body;
    if (rc < 0)
        resp_internal(rs);
    cJSON_Delete(body);
    return NULL;
}

void work_orders_create(const struct sim_request *rq, struct sim_response *rs)
{
    sqlite3 *db = rq->sim->db;
    struct field_values fv;
    cJSON *body = checked_body(rq, rs, 1, &fv);
    char id[32], number[48];
    int64_t seq, now = clock_now_ms();
    time_t sec = (time_t)(now / 1000);
    struct tm tm;

    if (!body)
        return;
    gmtime_r(&sec, &tm);
    if (db_next_id(db, "work_orders", "wo", 5, &seq, id, sizeof id))
        goto fail;
    snprintf(number, sizeof number, "WO-%04d-%06lld", tm.tm_year + 1900, (long long)seq);
    {
        const char *const extra[] = {"work_order_number", number, "status", "open",
                                     "priority", "medium", "work_order_type", "service",
                                     NULL};

        if (validate_apply_insert(db, "work_orders", id, seq, now, &fv, extra))
            goto fail;
    }
    cJSON_Delete(body);
    rs->applied = 1;
    rec_respond(rs, db, rec_work_order_shown, id, 201, "Work order not found");
    return;
fail:
    cJSON_Delete(body);
    resp_internal(rs);
}

void work_orders_update(const struct sim_request *rq, struct sim_response *rs)
{
    sqlite3 *db = rq->sim->db;
    struct field_values fv;
    cJSON *body;
    int64_t old;

    if (!rec_find_live(rs, db, "work_orders", rq->id, "Work order not found", &old))
        return;
    body = checked_body(rq, rs, 0, &fv);
    if (!body)
        return;
    if (validate_apply_update(db, "work_orders", &fv, clock_stamp_after(old), rq->id) ||
        /* a new customer without a new contact: the old contact is the
         * other customer's, so the work order is left without one */
        db_run(db, "UPDATE work_orders SET contact_id = NULL WHERE id = ?"
                   " AND contact_id IS NOT NULL AND contact_id NOT IN"
                   " (SELECT id FROM contacts WHERE customer_id = work_orders.customer_id)",
               rq->id)) {
        cJSON_Delete(body);
        resp_internal(rs);
        return;
    }
    cJSON_Delete(body);
    rs->applied = 1;
    rec_respond(rs, db, rec_work_order_shown, rq->id, 200, "Work order not found");
}

void work_orders_delete(const struct sim_request *rq, struct sim_response *rs)
{
    sqlite3 *db = rq->sim->db;
    int64_t old;

    if (!rec_find_live(rs, db, "work_orders", rq->id, "Work order not found", &old))
        return;
    if (rec_trash(db, "work_orders", rq->id, old)) {
        resp_internal(rs);
        return;
    }
    rs->applied = 1;
    resp_empty(rs, 204);
}
