/* Stored rows → the API's JSON shapes, key for key in the order of the
 * spec's examples.  Summaries are for lists (no updated_at), details for
 * single records (with updated_at, the record's version). */
#include <stdio.h>
#include <string.h>

#include "sim.h"

const char REC_CUSTOMER_SUMMARY_COLS[] =
    "id, name, customer_number, status, email, phone, address, created_at";
const char REC_CONTACT_COLS[] =
    "id, customer_id, name, title, email, phone, is_primary, created_at, updated_at";
const char REC_ASSET_COLS[] =
    "id, customer_id, name, asset_type, manufacturer, model, serial_number,"
    " install_date, location, status, created_at, updated_at";
const char REC_WORK_ORDER_SUMMARY_COLS[] =
    "w.id, w.work_order_number, w.status, c.id, c.name, w.scheduled_date,"
    " w.priority, w.created_at";
/* Every work order names a customer row (deleted customers keep theirs) */
const char REC_WORK_ORDER_SUMMARY_FROM[] = "work_orders w";
const char REC_WORK_ORDER_SUMMARY_JOIN[] = "JOIN customers c ON c.id = w.customer_id";

static const char *const address_keys[] = {"street", "city", "state",
                                           "postal_code", "country"};

/* Each adder returns the added item, or NULL when memory ran out; a NULL
 * makes the whole shape fail (checked once, at the end, by the callers). */
static cJSON *add_text(cJSON *obj, const char *name, sqlite3_stmt *st, int col)
{
    const char *s = db_col_text(st, col);

    return s ? cJSON_AddStringToObject(obj, name, s) : cJSON_AddNullToObject(obj, name);
}

static cJSON *add_int(cJSON *obj, const char *name, sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return cJSON_AddNullToObject(obj, name);
    return cJSON_AddNumberToObject(obj, name, (double)sqlite3_column_int64(st, col));
}

static cJSON *add_bool(cJSON *obj, const char *name, sqlite3_stmt *st, int col)
{
    return cJSON_AddBoolToObject(obj, name, sqlite3_column_int(st, col) != 0);
}

cJSON *rec_add_time(cJSON *obj, const char *name, sqlite3_stmt *st, int col)
{
    char text[CLOCK_TEXT_MAX];

    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return cJSON_AddNullToObject(obj, name);
    clock_format_stamp(sqlite3_column_int64(st, col), text);
    return cJSON_AddStringToObject(obj, name, text);
}

/* stored JSON text; NULL becomes def_object ({} or an address of nulls) */
static cJSON *add_stored_object(cJSON *obj, const char *name, sqlite3_stmt *st,
                                int col, int is_address)
{
    const char *s = db_col_text(st, col);
    cJSON *v = s ? cJSON_Parse(s) : NULL;

    if (!v) {
        v = cJSON_CreateObject();
        for (size_t i = 0; v && is_address && i < 5; i++)
            if (!cJSON_AddNullToObject(v, address_keys[i])) {
                cJSON_Delete(v);
                v = NULL;
            }
    }
    if (v && !cJSON_AddItemToObject(obj, name, v)) {
        cJSON_Delete(v);
        v = NULL;
    }
    return v;
}

/* {"id":…, "name":…} from two columns, or null when the id is NULL */
static cJSON *add_ref(cJSON *obj, const char *name, sqlite3_stmt *st, int col)
{
    cJSON *r;

    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return cJSON_AddNullToObject(obj, name);
    r = cJSON_AddObjectToObject(obj, name);
    if (!r || !add_text(r, "id", st, col) || !add_text(r, "name", st, col + 1))
        return NULL;
    return r;
}

/* "123 Main St, City, ST 12345" from a stored address */
static void one_line_address(const char *stored, char *out, size_t outsz)
{
    cJSON *a = stored ? cJSON_Parse(stored) : NULL;
    const char *part[5];
    size_t len = 0;

    out[0] = '\0';
    for (size_t i = 0; i < 5; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, address_keys[i]);

        part[i] = cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
    }
#define PUT(...) len += (size_t)snprintf(out + len, len < outsz ? outsz - len : 0, __VA_ARGS__)
    if (part[0])
        PUT("%s", part[0]);
    if (part[1])
        PUT("%s%s", len ? ", " : "", part[1]);
    if (part[2])
        PUT("%s%s", len ? ", " : "", part[2]);
    if (part[3])
        PUT("%s%s", part[2] ? " " : len ? ", " : "", part[3]);
#undef PUT
    cJSON_Delete(a);
}

/* A shape as a table: each key, how its value is read, from which column
 * (O_REF reads id and name from col and col + 1). */
enum out_kind { O_TEXT, O_INT, O_BOOL, O_TIME, O_ADDRESS, O_OBJECT, O_REF };
struct out_field {
    const char *name;
    enum out_kind kind;
    int col;
};

/* adds the fields to o from the current row; 0 or -1 */
static int add_fields(cJSON *o, sqlite3_stmt *st, const struct out_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cJSON *v = NULL;

        switch (f[i].kind) {
        case O_TEXT: v = add_text(o, f[i].name, st, f[i].col); break;
        case O_INT: v = add_int(o, f[i].name, st, f[i].col); break;
        case O_BOOL: v = add_bool(o, f[i].name, st, f[i].col); break;
        case O_TIME: v = rec_add_time(o, f[i].name, st, f[i].col); break;
        case O_ADDRESS: v = add_stored_object(o, f[i].name, st, f[i].col, 1); break;
        case O_OBJECT: v = add_stored_object(o, f[i].name, st, f[i].col, 0); break;
        case O_REF: v = add_ref(o, f[i].name, st, f[i].col); break;
        }
        if (!v)
            return -1;
    }
    return 0;
}

/* a new object with the fields, or NULL */
static cJSON *build(sqlite3_stmt *st, const struct out_field *f, size_t n)
{
    cJSON *o = cJSON_CreateObject();

    if (o && add_fields(o, st, f, n)) {
        cJSON_Delete(o);
        o = NULL;
    }
    return o;
}
#define BUILD(st, fields) build((st), (fields), sizeof(fields) / sizeof((fields)[0]))
#define ADD_FIELDS(o, st, fields) \
    add_fields((o), (st), (fields), sizeof(fields) / sizeof((fields)[0]))

/* The column numbers follow the REC_*_COLS lists and the detail queries. */
static const struct out_field customer_summary[] = {
    {"id", O_TEXT, 0}, {"name", O_TEXT, 1}, {"customer_number", O_TEXT, 2},
    {"status", O_TEXT, 3}, {"email", O_TEXT, 4}, {"phone", O_TEXT, 5},
    {"address", O_ADDRESS, 6}, {"created_at", O_TIME, 7},
};
static const struct out_field contact_full[] = {
    {"id", O_TEXT, 0}, {"customer_id", O_TEXT, 1}, {"name", O_TEXT, 2},
    {"title", O_TEXT, 3}, {"email", O_TEXT, 4}, {"phone", O_TEXT, 5},
    {"is_primary", O_BOOL, 6}, {"created_at", O_TIME, 7}, {"updated_at", O_TIME, 8},
};
static const struct out_field contact_short[] = {
    {"id", O_TEXT, 0}, {"name", O_TEXT, 1}, {"title", O_TEXT, 2},
    {"email", O_TEXT, 3}, {"phone", O_TEXT, 4}, {"is_primary", O_BOOL, 5},
};
static const struct out_field asset_full[] = {
    {"id", O_TEXT, 0}, {"customer_id", O_TEXT, 1}, {"name", O_TEXT, 2},
    {"asset_type", O_TEXT, 3}, {"manufacturer", O_TEXT, 4}, {"model", O_TEXT, 5},
    {"serial_number", O_TEXT, 6}, {"install_date", O_TEXT, 7}, {"location", O_TEXT, 8},
    {"status", O_TEXT, 9}, {"created_at", O_TIME, 10}, {"updated_at", O_TIME, 11},
};
static const struct out_field work_order_summary[] = {
    {"id", O_TEXT, 0}, {"work_order_number", O_TEXT, 1}, {"status", O_TEXT, 2},
    {"customer", O_REF, 3}, {"scheduled_date", O_TEXT, 5}, {"priority", O_TEXT, 6},
    {"created_at", O_TIME, 7},
};
static const struct out_field task_full[] = {
    {"id", O_TEXT, 0}, {"name", O_TEXT, 1}, {"status", O_TEXT, 2},
};
/* customer detail: contacts go between these two parts */
static const struct out_field customer_head[] = {
    {"id", O_TEXT, 0}, {"name", O_TEXT, 1}, {"customer_number", O_TEXT, 2},
    {"status", O_TEXT, 3}, {"customer_type", O_TEXT, 4}, {"email", O_TEXT, 5},
    {"phone", O_TEXT, 6}, {"fax", O_TEXT, 7}, {"website", O_TEXT, 8},
    {"address", O_ADDRESS, 9}, {"billing_address", O_ADDRESS, 10},
};
static const struct out_field customer_tail[] = {
    {"branch", O_REF, 11}, {"tax_id", O_TEXT, 13}, {"payment_terms", O_TEXT, 14},
    {"notes", O_TEXT, 15}, {"custom_fields", O_OBJECT, 16}, {"created_at", O_TIME, 17},
    {"updated_at", O_TIME, 18},
};
/* work-order detail: customer and contact are built by hand between */
static const struct out_field work_order_head[] = {
    {"id", O_TEXT, 0}, {"work_order_number", O_TEXT, 1}, {"status", O_TEXT, 2},
    {"priority", O_TEXT, 3}, {"work_order_type", O_TEXT, 4}, {"description", O_TEXT, 5},
    {"notes", O_TEXT, 6},
};
static const struct out_field work_order_middle[] = {
    {"scheduled_date", O_TEXT, 13}, {"estimated_duration", O_INT, 14},
    {"technician", O_REF, 15},
};
static const struct out_field work_order_tail[] = {
    {"created_at", O_TIME, 17}, {"updated_at", O_TIME, 18},
};
static const struct out_field work_order_contact[] = {
    {"id", O_TEXT, 10}, {"name", O_TEXT, 11}, {"phone", O_TEXT, 12},
};

cJSON *rec_customer_summary_row(sqlite3_stmt *st)
{
    return BUILD(st, customer_summary);
}

cJSON *rec_contact_row(sqlite3_stmt *st)
{
    return BUILD(st, contact_full);
}

cJSON *rec_asset_row(sqlite3_stmt *st)
{
    return BUILD(st, asset_full);
}

cJSON *rec_work_order_summary_row(sqlite3_stmt *st)
{
    return BUILD(st, work_order_summary);
}

static cJSON *short_contact_row(sqlite3_stmt *st)
{
    return BUILD(st, contact_short);
}

static cJSON *task_row(sqlite3_stmt *st)
{
    return BUILD(st, task_full);
}

/* Steps a detail query bound to id: 1 row, 0 none, -1 error. */
static int step_one(sqlite3 *db, sqlite3_stmt *st, const char *id)
{
    int rc;

    if (db_bind_text(st, 1, id))
        return -1;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc != SQLITE_DONE)
        sim_log("sqlite: %s", sqlite3_errmsg(db));
    return rc == SQLITE_DONE ? 0 : -1;
}

int rec_append_rows(sqlite3_stmt *st, cJSON *(*fn)(sqlite3_stmt *st), cJSON *arr)
{
    int rc;

    if (!arr) {
        sqlite3_reset(st);
        return -1;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *item = fn(st);

        if (!item || !cJSON_AddItemToArray(arr, item)) {
            cJSON_Delete(item);
            sqlite3_reset(st);
            return -1;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* o[name] = the rows sql (bound to id) returns, built by fn; 0 or -1 */
static int add_children(sqlite3 *db, cJSON *o, const char *name, const char *sql,
                        const char *id, cJSON *(*fn)(sqlite3_stmt *st))
{
    sqlite3_stmt *st = db_stmt(db, sql);

    if (!st || db_bind_text(st, 1, id))
        return -1;
    return rec_append_rows(st, fn, cJSON_AddArrayToObject(o, name));
}

/* Runs a detail query for id and builds the record with fill (which sees
 * the row and may run other queries); see rec_customer_detail. */
static int detail(sqlite3 *db, const char *sql, const char *id, cJSON **out,
                  int64_t *updated_ms, int updated_col,
                  int (*fill)(sqlite3 *db, sqlite3_stmt *st, const char *id, cJSON *o))
{
    sqlite3_stmt *st = db_stmt(db, sql);
    cJSON *o;
    int rc;

    *out = NULL;
    if (!st)
        return -1;
    rc = step_one(db, st, id);
    if (rc <= 0) {
        sqlite3_reset(st);
        return rc;
    }
    o = cJSON_CreateObject();
    if (!o || fill(db, st, id, o)) {
        sqlite3_reset(st);
        cJSON_Delete(o);
        return -1;
    }
    if (updated_ms)
        *updated_ms = sqlite3_column_int64(st, updated_col);
    sqlite3_reset(st);
    *out = o;
    return 0;
}

static int fill_customer(sqlite3 *db, sqlite3_stmt *st, const char *id, cJSON *o)
{
    /* contacts come between billing_address and branch in the spec's
     * example; the row stays current while their query runs */
    return ADD_FIELDS(o, st, customer_head) ||
           add_children(db, o, "contacts",
                        "SELECT id, name, title, email, phone, is_primary FROM contacts"
                        " WHERE customer_id = ? AND deleted = 0 ORDER BY seq",
                        id, short_contact_row) ||
           ADD_FIELDS(o, st, customer_tail) ? -1 : 0;
}

int rec_customer_detail(sqlite3 *db, const char *id, cJSON **out, int64_t *updated_ms)
{
    return detail(db,
                  "SELECT c.id, c.name, c.customer_number, c.status, c.customer_type,"
                  " c.email, c.phone, c.fax, c.website, c.address, c.billing_address,"
                  " c.branch_id, b.name, c.tax_id, c.payment_terms, c.notes,"
                  " c.custom_fields, c.created_at, c.updated_at"
                  " FROM customers c LEFT JOIN branches b ON b.id = c.branch_id"
                  " WHERE c.id = ? AND c.deleted = 0",
                  id, out, updated_ms, 18, fill_customer);
}

static int fill_work_order(sqlite3 *db, sqlite3_stmt *st, const char *id, cJSON *o)
{
    char line[600];
    cJSON *cust, *contact;

    if (ADD_FIELDS(o, st, work_order_head))
        return -1;
    cust = cJSON_AddObjectToObject(o, "customer");
    one_line_address(db_col_text(st, 9), line, sizeof line);
    if (!cust || !add_text(cust, "id", st, 7) || !add_text(cust, "name", st, 8) ||
        !cJSON_AddStringToObject(cust, "address", line))
        return -1;
    if (sqlite3_column_type(st, 10) == SQLITE_NULL)
        contact = cJSON_AddNullToObject(o, "contact");
    else if ((contact = cJSON_AddObjectToObject(o, "contact")) != NULL &&
             ADD_FIELDS(contact, st, work_order_contact))
        contact = NULL;
    if (!contact || ADD_FIELDS(o, st, work_order_middle) ||
        add_children(db, o, "tasks",
                     "SELECT id, name, status FROM tasks WHERE work_order_id = ? ORDER BY seq",
                     id, task_row) ||
        ADD_FIELDS(o, st, work_order_tail))
        return -1;
    return 0;
}

int rec_documented_detail;

int rec_work_order_detail(sqlite3 *db, const char *id, cJSON **out, int64_t *updated_ms)
{
    return detail(db,
                  "SELECT w.id, w.work_order_number, w.status, w.priority,"
                  " w.work_order_type, w.description, w.notes, c.id, c.name, c.address,"
                  " k.id, k.name, k.phone, w.scheduled_date, w.estimated_duration,"
                  " t.id, t.name, w.created_at, w.updated_at"
                  " FROM work_orders w JOIN customers c ON c.id = w.customer_id"
                  " LEFT JOIN contacts k ON k.id = w.contact_id"
                  " LEFT JOIN technicians t ON t.id = w.technician_id"
                  " WHERE w.id = ? AND w.deleted = 0",
                  id, out, updated_ms, 18, fill_work_order);
}

int rec_work_order_shown(sqlite3 *db, const char *id, cJSON **out, int64_t *updated_ms)
{
    int rc = rec_work_order_detail(db, id, out, updated_ms);

    if (rc == 0 && *out && rec_documented_detail) {
        cJSON_DeleteItemFromObjectCaseSensitive(*out, "notes");
        cJSON_DeleteItemFromObjectCaseSensitive(*out, "work_order_type");
    }
    return rc;
}

int rec_contact(sqlite3 *db, const char *id, cJSON **out)
{
    char sql[256];
    sqlite3_stmt *st;
    int rc;

    snprintf(sql, sizeof sql, "SELECT %s FROM contacts WHERE id = ? AND deleted = 0",
             REC_CONTACT_COLS);
    st = db_stmt(db, sql);
    *out = NULL;
    if (!st)
        return -1;
    rc = step_one(db, st, id);
    if (rc == 1) {
        *out = rec_contact_row(st);
        rc = *out ? 0 : -1;
    }
    sqlite3_reset(st);
    return rc;
}

int rec_updated_at(sqlite3 *db, const char *table, const char *id, int64_t *out)
{
    char sql[128];
    sqlite3_stmt *st;
    int rc;

    /* table is one of the code's own names */
    snprintf(sql, sizeof sql, "SELECT updated_at FROM %s WHERE id = ? AND deleted = 0",
             table);
    st = db_stmt(db, sql);
    *out = 0;
    if (!st)
        return -1;
    rc = step_one(db, st, id);
    if (rc == 1)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc < 0 ? -1 : 0;
}

void rec_respond(struct sim_response *rs, sqlite3 *db, rec_detail_fn fn,
                 const char *id, int status, const char *missing_message)
{
    cJSON *data;
    int64_t updated = 0;

    if (fn(db, id, &data, &updated)) {
        resp_internal(rs);
        return;
    }
    if (!data) {
        resp_error(rs, 404, "not_found", missing_message, NULL);
        return;
    }
    resp_data(rs, status, data);
    resp_set_etag(rs, id, updated);
}

/* runs a cached "UPDATE … SET …, updated_at = ?1 WHERE id = ?2" */
static int stamp(sqlite3 *db, const char *sql, int64_t ms, const char *id)
{
    sqlite3_stmt *st = db_stmt(db, sql);

    if (!st || sqlite3_bind_int64(st, 1, ms) != SQLITE_OK || db_bind_text(st, 2, id))
        return -1;
    return db_step_done(db, st);
}

int rec_trash(sqlite3 *db, const char *table, const char *id, int64_t old_updated_ms)
{
    char sql[128];

    snprintf(sql, sizeof sql, "UPDATE %s SET deleted = 1, updated_at = ?1 WHERE id = ?2",
             table);
    return stamp(db, sql, clock_stamp_after(old_updated_ms), id);
}

int rec_touch(sqlite3 *db, const char *table, const char *id)
{
    char sql[128];
    int64_t old;

    if (rec_updated_at(db, table, id, &old))
        return -1;
    snprintf(sql, sizeof sql, "UPDATE %s SET updated_at = ?1 WHERE id = ?2", table);
    return stamp(db, sql, clock_stamp_after(old), id);
}

int rec_find_live(struct sim_response *rs, sqlite3 *db, const char *table,
                  const char *id, const char *missing_message, int64_t *updated)
{
    if (rec_updated_at(db, table, id, updated)) {
        resp_internal(rs);
        return 0;
    }
    if (!*updated) {
        resp_error(rs, 404, "not_found", missing_message, NULL);
        return 0;
    }
    return 1;
}
