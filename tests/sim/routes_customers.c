/* /api/v1/customers: list, get, create, update, delete, and the
 * customer's assets and work orders. */
#include <stdio.h>
#include <string.h>

#include "sim.h"

const char *const CUSTOMER_STATUSES[] = {"active", "inactive", NULL};
const char *const CUSTOMER_TYPES[] = {"commercial", "residential", NULL};
const char *const PAYMENT_TERMS[] = {"due_on_receipt", "net15", "net30", "net45",
                                     "net60", NULL};

#define LIVE_CUSTOMER_SQL "SELECT 1 FROM customers WHERE id = ? AND deleted = 0"

static const struct field_spec customer_fields[] = {
    {"name", "name", FK_NAME, FF_REQUIRED, 200, NULL, NULL, NULL},
    {"customer_type", "customer_type", FK_ENUM, FF_NULLABLE, 0, CUSTOMER_TYPES, NULL, NULL},
    {"status", "status", FK_ENUM, 0, 0, CUSTOMER_STATUSES, NULL, NULL},
    {"email", "email", FK_EMAIL, FF_NULLABLE, 0, NULL, NULL, NULL},
    {"phone", "phone", FK_STRING, FF_NULLABLE, 0, NULL, NULL, NULL},
    {"fax", "fax", FK_STRING, FF_NULLABLE, 0, NULL, NULL, NULL},
    {"website", "website", FK_STRING, FF_NULLABLE, 0, NULL, NULL, NULL},
    {"address", "address", FK_ADDRESS, FF_NULLABLE, 0, NULL, NULL, NULL},
    {"billing_address", "billing_address", FK_ADDRESS, FF_NULLABLE, 0, NULL, NULL, NULL},
    {"branch_id", "branch_id", FK_REF, FF_NULLABLE, 0, NULL,
     "SELECT 1 FROM branches WHERE id = ?", "Branch not found"},
    {"tax_id", "tax_id", FK_STRING, FF_NULLABLE, 0, NULL, NULL, NULL},
    {"payment_terms", "payment_terms", FK_ENUM, FF_NULLABLE, 0, PAYMENT_TERMS, NULL, NULL},
    {"notes", "notes", FK_STRING, FF_NULLABLE, 0, NULL, NULL, NULL},
    {"custom_fields", "custom_fields", FK_STRMAP, FF_NULLABLE, 0, NULL, NULL, NULL},
};
#define N_CUSTOMER_FIELDS (sizeof customer_fields / sizeof customer_fields[0])

void customers_list(const struct sim_request *rq, struct sim_response *rs)
{
    struct list_query q;
    const char *v;
    int64_t after;

    list_init(&q, REC_CUSTOMER_SUMMARY_COLS, "customers", "seq",
              rec_customer_summary_row);
    if (list_where(&q, "deleted = 0", NULL))
        goto fail;
    /* search: a case-insensitive substring of the name or the number;
     * instr() rather than LIKE, so % and _ in the term match themselves */
    if (req_query(rq, "search", &v) && *v &&
        list_where_n(&q, "(instr(lower(name), lower(?)) > 0"
                         " OR instr(lower(customer_number), lower(?)) > 0)", v, 2))
        goto fail;
    if (req_query(rq, "status", &v)) {
        if (!list_check_choice(rs, "status", v, CUSTOMER_STATUSES))
            return;
        if (list_where(&q, "status = ?", v))
            goto fail;
    }
    if (req_query(rq, "branch_id", &v) && list_where(&q, "branch_id = ?", v))
        goto fail;
    if (req_query(rq, "created_after", &v)) {
        /* a date means its midnight (UTC); a date-time is taken as is */
        if (clock_parse_date(v, &after) && clock_parse_rfc3339(v, &after)) {
            resp_error(rs, 400, "bad_request",
                       "created_after must be YYYY-MM-DD or an RFC 3339 UTC date-time",
                       NULL);
            return;
        }
        /* with --timestamps s a client sees created_at cut to the second:
         * "after" compares what it sees, so a customer shown at exactly
         * that second is not after it */
        if (clock_stamp_seconds() && after >= 0)
            after = after - after % 1000 + 999;
        if (list_where_int(&q, "created_at > ?", after))
            goto fail;
    }
    list_respond(rq, rs, rq->sim->db, &q);
    return;
fail:
    resp_internal(rs);
}

void customers_get(const struct sim_request *rq, struct sim_response *rs)
{
    rec_respond(rs, rq->sim->db, rec_customer_detail, rq->id, 200, "Customer not found");
}

/* 1 when a live customer already has this name (case and surrounding
 * white space ignored), 0 when not, -1 on error */
static int name_taken(sqlite3 *db, const char *name)
{
    return db_exists(db,
                     "SELECT 1 FROM customers WHERE deleted = 0 AND"
                     " lower(trim(name, char(32,9,10,13))) ="
                     " lower(trim(?, char(32,9,10,13)))",
                     name);
}

void customers_create(const struct sim_request *rq, struct sim_response *rs)
{
    sqlite3 *db = rq->sim->db;
    struct field_values fv;
    cJSON *body = validate_request(rq, rs, customer_fields, N_CUSTOMER_FIELDS, 1, &fv);
    char id[32], number[32];
    int64_t seq;
    int taken;

    if (!body)
        return;
    taken = name_taken(db, field_item(&fv, "name")->valuestring);
    if (taken) {
        cJSON *details = cJSON_CreateArray();

        if (taken < 0 || !details ||
            details_add(details, "name", "A customer with this name already exists")) {
            cJSON_Delete(details);
            resp_internal(rs);
        } else {
            resp_error(rs, 409, "conflict", "Customer already exists", details);
        }
        goto out;
    }
    if (db_next_id(db, "customers", "cust", 3, &seq, id, sizeof id))
        goto fail;
    snprintf(number, sizeof number, "C-%lld", (long long)(10000 + seq));
    {
        const char *const extra[] = {"customer_number", number, "status", "active",
                                     "customer_type", "commercial",
                                     "payment_terms", "net30", NULL};

        if (validate_apply_insert(db, "customers", id, seq, clock_now_ms(), &fv, extra))
            goto fail;
    }
    rs->applied = 1;
    rec_respond(rs, db, rec_customer_detail, id, 201, "Customer not found");
    goto out;
fail:
    resp_internal(rs);
out:
    cJSON_Delete(body);
}

void customers_update(const struct sim_request *rq, struct sim_response *rs)
{
    sqlite3 *db = rq->sim->db;
    struct field_values fv;
    cJSON *body;
    int64_t old;

    if (!rec_find_live(rs, db, "customers", rq->id, "Customer not found", &old))
        return;
    body = validate_request(rq, rs, customer_fields, N_CUSTOMER_FIELDS, 0, &fv);
    if (!body)
        return;
    if (validate_apply_update(db, "customers", &fv, clock_stamp_after(old), rq->id)) {
        cJSON_Delete(body);
        goto fail;
    }
    cJSON_Delete(body);
    rs->applied = 1;
    rec_respond(rs, db, rec_customer_detail, rq->id, 200, "Customer not found");
    return;
fail:
    resp_internal(rs);
}

void customers_delete(const struct sim_request *rq, struct sim_response *rs)
{
    sqlite3 *db = rq->sim->db;
    int64_t old;
    int active;

    if (!rec_find_live(rs, db, "customers", rq->id, "Customer not found", &old))
        return;
    active = db_exists(db,
                       "SELECT 1 FROM work_orders WHERE customer_id = ? AND deleted = 0"
                       " AND status NOT IN ('completed', 'cancelled')",
                       rq->id);
    if (active < 0)
        goto fail;
    if (active) {
        resp_error(rs, 409, "conflict",
                   "Customer has active work orders; complete or cancel them first",
                   NULL);
        return;
    }
    if (rec_trash(db, "customers", rq->id, old))
        goto fail;
    rs->applied = 1;
    resp_empty(rs, 204);
    return;
fail:
    resp_internal(rs);
}

/* 1 when the route's customer is live; otherwise answers and returns 0 */
static int customer_found(const struct sim_request *rq, struct sim_response *rs)
{
    int rc = db_exists(rq->sim->db, LIVE_CUSTOMER_SQL, rq->id);

    if (rc < 0)
        resp_internal(rs);
    else if (rc == 0)
        resp_error(rs, 404, "not_found", "Customer not found", NULL);
    return rc == 1;
}

/* a customer's contacts or assets: the live ones, paginated */
static void customer_items(const struct sim_request *rq, struct sim_response *rs,
                           const char *cols, const char *table,
                           cJSON *(*row)(sqlite3_stmt *st))
{
    struct list_query q;

    if (!customer_found(rq, rs))
        return;
    list_init(&q, cols, table, "seq", row);
    if (list_where(&q, "deleted = 0", NULL) || list_where(&q, "customer_id = ?", rq->id)) {
        resp_internal(rs);
        return;
    }
    list_respond(rq, rs, rq->sim->db, &q);
}

void customers_assets(const struct sim_request *rq, struct sim_response *rs)
{
    customer_items(rq, rs, REC_ASSET_COLS, "assets", rec_asset_row);
}

void contacts_list(const struct sim_request *rq, struct sim_response *rs)
{
    customer_items(rq, rs, REC_CONTACT_COLS, "contacts", rec_contact_row);
}

void customers_work_orders(const struct sim_request *rq, struct sim_response *rs)
{
    struct list_query q;

    if (!customer_found(rq, rs))
        return;
    list_init(&q, REC_WORK_ORDER_SUMMARY_COLS, REC_WORK_ORDER_SUMMARY_FROM, "w.seq",
              rec_work_order_summary_row);
    list_join(&q, "w", REC_WORK_ORDER_SUMMARY_JOIN);
    if (list_where(&q, "w.customer_id = ?", rq->id)) {
        resp_internal(rs);
        return;
    }
    if (work_orders_filters(rq, rs, &q))
        list_respond(rq, rs, rq->sim->db, &q);
}

