/*
 * model.c — the data model: entity names, the remote's write rules
 * (validation), the mapping between write shape and read shape, the list
 * projection (summary) and the indexed columns of a record.
 *
 * The write rules mirror the remote's (and fieldsync-sim's) field by field:
 * unknown fields are reported first in input order, then each known field
 * in the entity's order; messages use the remote's words.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

#define MAX_DETAILS 50   /* bounds the answer to a body full of junk keys */

static const char *const entity_names[ENT__COUNT] = {"customer", "contact", "asset",
                                                     "work_order"};

const char *store_entity_name(store_entity e)
{
    return (unsigned)e < ENT__COUNT ? entity_names[e] : "?";
}

int store_entity_from_name(const char *name, store_entity *out)
{
    for (int i = 0; name && i < ENT__COUNT; i++)
        if (strcmp(name, entity_names[i]) == 0) {
            *out = (store_entity)i;
            return STORE_OK;
        }
    return STORE_INVALID;
}

const char *store_sync_state_name(store_sync_state st)
{
    static const char *const n[] = {"synced", "pending", "conflict", "rejected"};

    return (unsigned)st < 4 ? n[st] : "?";
}

const char *store_op_kind_name(store_op_kind k)
{
    static const char *const n[] = {"create", "update", "delete"};

    return (unsigned)k < 3 ? n[k] : "?";
}

const char *store_op_state_name(store_op_state st)
{
    static const char *const n[] = {"pending", "in_flight", "done", "rejected", "held"};

    return (unsigned)st < 5 ? n[st] : "?";
}

/* ---- the write rules -------------------------------------------------- */

typedef enum {
    WK_STRING,    /* any string, bounded by max when max > 0 */
    WK_NAME,      /* non-blank string, bounded by max */
    WK_EMAIL,     /* string holding '@' when non-empty */
    WK_ENUM,
    WK_ADDRESS,   /* object of the five address strings */
    WK_STRMAP,    /* object of strings */
    WK_BOOL,
    WK_INT,       /* integer in 0..max */
    WK_DATETIME,  /* RFC 3339 UTC: YYYY-MM-DDTHH:MM:SS[.f]Z */
    WK_CUSTOMER,  /* id of a customer in the replica */
    WK_CONTACT,   /* id of a contact of the work order's customer */
} wkind;

#define WF_REQUIRED 1u  /* on create */
#define WF_NULLABLE 2u

typedef struct {
    const char *name;
    wkind kind;
    unsigned flags;
    long max;
    const char *const *choices;
} wspec;

static const char *const customer_types[] = {"commercial", "residential", NULL};
static const char *const customer_statuses[] = {"active", "inactive", NULL};
static const char *const payment_terms[] = {"due_on_receipt", "net15", "net30", "net45",
                                            "net60", NULL};
static const char *const wo_statuses[] = {"draft", "open", "assigned", "in_progress",
                                          "on_hold", "completed", "cancelled", NULL};
static const char *const wo_priorities[] = {"low", "medium", "high", "urgent", NULL};
static const char *const wo_types[] = {"service", "installation", "maintenance", "repair",
                                       "inspection", NULL};
static const char *const address_keys[] = {"street", "city", "state", "postal_code",
                                           "country", NULL};

static const wspec customer_spec[] = {
    {"name", WK_NAME, WF_REQUIRED, 200, NULL},
    {"customer_type", WK_ENUM, 0, 0, customer_types},
    {"status", WK_ENUM, 0, 0, customer_statuses},
    {"email", WK_EMAIL, 0, 0, NULL},
    {"phone", WK_STRING, 0, 0, NULL},
    {"fax", WK_STRING, 0, 0, NULL},
    {"website", WK_STRING, 0, 0, NULL},
    {"address", WK_ADDRESS, 0, 0, NULL},
    {"billing_address", WK_ADDRESS, 0, 0, NULL},
    /* A branch cannot be checked offline: any string is accepted. */
    {"branch_id", WK_STRING, 0, 0, NULL},
    {"tax_id", WK_STRING, 0, 0, NULL},
    {"payment_terms", WK_ENUM, 0, 0, payment_terms},
    {"notes", WK_STRING, 0, 0, NULL},
    {"custom_fields", WK_STRMAP, 0, 0, NULL},
};

static const wspec contact_spec[] = {
    {"name", WK_NAME, WF_REQUIRED, 200, NULL},
    {"title", WK_STRING, 0, 0, NULL},
    {"email", WK_STRING, 0, 0, NULL},
    {"phone", WK_STRING, 0, 0, NULL},
    {"is_primary", WK_BOOL, 0, 0, NULL},
};

static const wspec wo_spec[] = {
    {"customer_id", WK_CUSTOMER, WF_REQUIRED, 0, NULL},
    {"contact_id", WK_CONTACT, 0, 0, NULL},
    {"technician_id", WK_STRING, WF_NULLABLE, 0, NULL},
    {"status", WK_ENUM, 0, 0, wo_statuses},
    {"priority", WK_ENUM, 0, 0, wo_priorities},
    {"work_order_type", WK_ENUM, 0, 0, wo_types},
    {"scheduled_date", WK_DATETIME, 0, 0, NULL},
    {"estimated_duration", WK_INT, 0, 100000, NULL},
    {"description", WK_STRING, 0, 10000, NULL},
    {"notes", WK_STRING, 0, 10000, NULL},
};

static const wspec *spec_of(store_entity e, size_t *n)
{
    switch (e) {
    case ENT_CUSTOMER:
        *n = sizeof customer_spec / sizeof customer_spec[0];
        return customer_spec;
    case ENT_CONTACT:
        *n = sizeof contact_spec / sizeof contact_spec[0];
        return contact_spec;
    case ENT_WORK_ORDER:
        *n = sizeof wo_spec / sizeof wo_spec[0];
        return wo_spec;
    default:
        *n = 0;
        return NULL;
    }
}

static int one_of(const char *s, const char *const *choices)
{
    for (; *choices; choices++)
        if (strcmp(s, *choices) == 0)
            return 1;
    return 0;
}

int si_valid_status(store_entity e, const char *status)
{
    switch (e) {
    case ENT_CUSTOMER:
        return one_of(status, customer_statuses);
    case ENT_WORK_ORDER:
        return one_of(status, wo_statuses);
    default:
        return 1;   /* contacts have none; assets' are the remote's business */
    }
}

static int is_blank(const char *s)
{
    for (; *s; s++)
        if (!strchr(" \t\r\n", *s))
            return 0;
    return 1;
}

/* Validation state: details collected, the store for reference checks. */
typedef struct {
    store *s;
    cJSON *details;
    int bad;
    int failed;   /* allocation or database failure: rc in err */
    int err;
} vctx;

static void add(vctx *v, const char *field, const char *msg)
{
    v->bad = 1;
    if (cJSON_GetArraySize(v->details) >= MAX_DETAILS)
        return;
    if (si_detail(v->details, field, msg) != 0) {
        v->failed = 1;
        v->err = STORE_NOMEM;
    }
}

static void check_string_object(vctx *v, const cJSON *item, const char *field,
                                const char *const *allowed)
{
    char name[160];

    if (!cJSON_IsObject(item)) {
        add(v, field, "must be an object");
        return;
    }
    for (const cJSON *c = item->child; c; c = c->next) {
        snprintf(name, sizeof name, "%s.%.100s", field, c->string);
        if (allowed && !one_of(c->string, allowed))
            add(v, name, "unknown field");
        else if (!cJSON_IsString(c))
            add(v, name, "must be a string");
    }
}

static int strict_datetime(const char *s)
{
    size_t n = strlen(s);
    int64_t ms;

    return n >= 20 && s[10] == 'T' && s[n - 1] == 'Z' && store_time_parse(s, &ms) == STORE_OK;
}

/* 1 if a record of e with id exists and is not deleted locally; -1 error. */
static int exists_live(store *s, store_entity e, const char *id, char **parent_out)
{
    sqlite3_stmt *st = si_stmt(s, "SELECT parent_id FROM records "
                                  "WHERE entity = ?1 AND id = ?2 AND deleted_locally = 0");
    int rc, oom = 0;

    if (!st)
        return -1;
    sqlite3_bind_int(st, 1, (int)e);
    if (si_bind_text(st, 2, id) != STORE_OK) {
        sqlite3_reset(st);
        return -1;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && parent_out)
        *parent_out = si_col_dup(st, 0, &oom);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        si_dberr(s, "reference check");
    sqlite3_reset(st);
    if (oom || (rc != SQLITE_ROW && rc != SQLITE_DONE))
        return -1;
    return rc == SQLITE_ROW;
}

static void check_value(vctx *v, const wspec *sp, const cJSON *item,
                        const cJSON *fields, const cJSON *body)
{
    char msg[200];
    const char *str = cJSON_IsString(item) ? item->valuestring : NULL;

    if (cJSON_IsNull(item)) {
        if (sp->flags & WF_NULLABLE)
            return;
        if (sp->kind == WK_ADDRESS || sp->kind == WK_STRMAP) {
            add(v, sp->name, "must be an object");
            return;
        }
    }
    switch (sp->kind) {
    case WK_ADDRESS:
        check_string_object(v, item, sp->name, address_keys);
        return;
    case WK_STRMAP:
        check_string_object(v, item, sp->name, NULL);
        return;
    case WK_BOOL:
        if (!cJSON_IsBool(item))
            add(v, sp->name, "must be a boolean");
        return;
    case WK_INT:
        /* floor, not a cast: casting 1e300 to an integer is undefined */
        if (!cJSON_IsNumber(item) || item->valuedouble != floor(item->valuedouble)) {
            add(v, sp->name, "must be an integer");
        } else if (item->valuedouble < 0 || item->valuedouble > (double)sp->max) {
            snprintf(msg, sizeof msg, "must be between 0 and %ld", sp->max);
            add(v, sp->name, msg);
        }
        return;
    default:
        break;
    }
    if (!str) {
        add(v, sp->name, "must be a string");
        return;
    }
    switch (sp->kind) {
    case WK_NAME:
        if (is_blank(str)) {
            add(v, sp->name, "must not be blank");
            return;
        }
        break;
    case WK_EMAIL:
        if (*str && !strchr(str, '@'))
            add(v, sp->name, "must be a valid email address");
        return;
    case WK_ENUM: {
        size_t len = (size_t)snprintf(msg, sizeof msg, "must be one of:");

        if (one_of(str, sp->choices))
            return;
        for (const char *const *c = sp->choices; *c && len < sizeof msg; c++)
            len += (size_t)snprintf(msg + len, sizeof msg - len, "%s %s",
                                    c == sp->choices ? "" : ",", *c);
        add(v, sp->name, msg);
        return;
    }
    case WK_DATETIME:
        if (!strict_datetime(str))
            add(v, sp->name, "must be an RFC 3339 UTC date-time (YYYY-MM-DDTHH:MM:SSZ)");
        return;
    case WK_CUSTOMER: {
        int r = strlen(str) <= SI_MAX_ID ? exists_live(v->s, ENT_CUSTOMER, str, NULL) : 0;

        if (r < 0) {
            v->failed = 1;
            v->err = STORE_ERR;
        } else if (r == 0) {
            add(v, sp->name, "Customer not found");
        }
        return;
    }
    case WK_CONTACT: {
        /* The contact must belong to the work order's customer: the one
         * named in this write, else the one it has now. */
        const char *cust = si_jstr(fields, "customer_id");
        char *parent = NULL;
        int r;

        if (!cust)
            cust = si_jstr(cJSON_GetObjectItemCaseSensitive(body, "customer"), "id");
        r = strlen(str) <= SI_MAX_ID ? exists_live(v->s, ENT_CONTACT, str, &parent) : 0;
        if (r < 0) {
            v->failed = 1;
            v->err = STORE_ERR;
        } else if (r == 0 || !parent || !cust || strcmp(parent, cust) != 0) {
            add(v, sp->name, "Contact not found");
        }
        free(parent);
        return;
    }
    default:
        break;
    }
    if (sp->max > 0 && si_utf8_len(str) > (size_t)sp->max) {
        snprintf(msg, sizeof msg, "must be at most %ld characters", sp->max);
        add(v, sp->name, msg);
    }
}

int si_validate(store *s, store_entity e, const cJSON *fields, int create, const cJSON *body)
{
    size_t n;
    const wspec *spec = spec_of(e, &n);
    vctx v = {s, cJSON_CreateArray(), 0, 0, STORE_OK};
    const char *dup;

    if (!v.details)
        return si_fail(s, STORE_NOMEM, "out of memory");
    if (!spec) {
        cJSON_Delete(v.details);
        return si_fail(s, STORE_STATE, "%ss are read-only", store_entity_name(e));
    }
    if (!cJSON_IsObject(fields)) {
        add(&v, "body", "must be a JSON object");
        goto out;
    }
    dup = si_json_dup_key(fields);
    if (dup) {
        add(&v, dup, "duplicate key");
        goto out;
    }
    for (const cJSON *c = fields->child; c; c = c->next) {
        size_t i;
        char name[120];

        for (i = 0; i < n && strcmp(spec[i].name, c->string) != 0; i++)
            ;
        if (i == n) {
            snprintf(name, sizeof name, "%.100s", c->string);
            add(&v, name, "unknown field");
        }
    }
    for (size_t i = 0; i < n && !v.failed; i++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(fields, spec[i].name);

        if (!item) {
            if (create && (spec[i].flags & WF_REQUIRED))
                add(&v, spec[i].name, "is required");
            continue;
        }
        check_value(&v, &spec[i], item, fields, body);
    }
out:
    if (v.failed) {
        cJSON_Delete(v.details);
        return v.err == STORE_NOMEM ? si_fail(s, STORE_NOMEM, "out of memory") : STORE_ERR;
    }
    if (v.bad)
        return si_invalid(s, v.details, "Validation failed");
    cJSON_Delete(v.details);
    return STORE_OK;
}

/* ---- write shape <-> read shape --------------------------------------- */

/* Write-shape fields that name another record, and the object holding it. */
typedef struct {
    store_entity e;
    const char *field;
    const char *object;
} refmap;

static const refmap refs[] = {
    {ENT_CUSTOMER, "branch_id", "branch"},
    {ENT_WORK_ORDER, "customer_id", "customer"},
    {ENT_WORK_ORDER, "contact_id", "contact"},
    {ENT_WORK_ORDER, "technician_id", "technician"},
};

static const refmap *ref_of(store_entity e, const char *field)
{
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++)
        if (refs[i].e == e && strcmp(refs[i].field, field) == 0)
            return &refs[i];
    return NULL;
}

static cJSON *write_value(store_entity e, const cJSON *record, const char *name)
{
    const refmap *r = ref_of(e, name);
    const cJSON *v;

    if (r) {
        v = cJSON_GetObjectItemCaseSensitive(record, r->object);
        v = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, "id") : NULL;
    } else {
        v = cJSON_GetObjectItemCaseSensitive(record, name);
    }
    return v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull();
}

cJSON *store_write_view(store_entity e, const cJSON *record, const cJSON *names)
{
    cJSON *out = cJSON_CreateObject();

    if (!out)
        return NULL;
    for (const cJSON *c = names ? names->child : NULL; c; c = c->next) {
        const char *name = cJSON_IsObject(names) ? c->string
                                                 : (cJSON_IsString(c) ? c->valuestring : NULL);
        cJSON *v;

        if (!name || cJSON_GetObjectItemCaseSensitive(out, name))
            continue;
        v = write_value(e, record, name);
        if (!v || !cJSON_AddItemToObject(out, name, v)) {
            cJSON_Delete(v);
            cJSON_Delete(out);
            return NULL;
        }
    }
    return out;
}

/* The first column of a one-parameter query as a new cJSON string, or a
 * JSON null when there is no row (or no store to ask). */
static cJSON *lookup_text(store *s, const char *sql, const char *param)
{
    sqlite3_stmt *st;
    cJSON *out = NULL;
    int rc;

    if (!s || !param)
        return cJSON_CreateNull();
    st = si_stmt(s, sql);
    if (!st || si_bind_text(st, 1, param) != STORE_OK)
        return NULL;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        out = cJSON_CreateString((const char *)sqlite3_column_text(st, 0));
    else if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        out = cJSON_CreateNull();
    else
        si_dberr(s, "lookup");
    sqlite3_reset(st);
    return out;
}

/* A record's body parsed, or NULL (absent, or no store). */
static cJSON *lookup_body(store *s, store_entity e, const char *id)
{
    sqlite3_stmt *st;
    cJSON *out = NULL;

    if (!s || !id)
        return NULL;
    st = si_stmt(s, "SELECT body FROM records WHERE entity = ?1 AND id = ?2");
    if (!st)
        return NULL;
    sqlite3_bind_int(st, 1, (int)e);
    if (si_bind_text(st, 2, id) == STORE_OK && sqlite3_step(st) == SQLITE_ROW)
        out = cJSON_Parse((const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    return out;
}

/* "street, city, state postal_code": the remote's one-line address. */
static cJSON *address_line(const cJSON *addr)
{
    const char *street = si_jstr(addr, "street"), *city = si_jstr(addr, "city");
    const char *state = si_jstr(addr, "state"), *zip = si_jstr(addr, "postal_code");
    si_buf b = {0};
    char *text;
    cJSON *out;

    if (!cJSON_IsObject(addr))
        return cJSON_CreateNull();
    if (street && *street)
        si_buf_puts(&b, street);
    if (city && *city)
        si_buf_printf(&b, "%s%s", b.len ? ", " : "", city);
    if ((state && *state) || (zip && *zip)) {
        si_buf_puts(&b, b.len ? ", " : "");
        if (state && *state)
            si_buf_puts(&b, state);
        if (zip && *zip)
            si_buf_printf(&b, "%s%s", state && *state ? " " : "", zip);
    }
    text = si_buf_take(&b);
    if (!text)
        return NULL;
    out = cJSON_CreateString(text);
    free(text);
    return out;
}

static int add_copy(cJSON *obj, const char *key, const cJSON *from)
{
    cJSON *v = from ? cJSON_Duplicate(from, 1) : cJSON_CreateNull();

    if (!v || !cJSON_AddItemToObject(obj, key, v)) {
        cJSON_Delete(v);
        return -1;
    }
    return 0;
}

static cJSON *dup_or_null(const cJSON *v)
{
    return v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull();
}

/* Adds item to obj, or deletes it: -1 if it could not be added. */
static int attach(cJSON *obj, const char *key, cJSON *item)
{
    if (!item)
        return -1;
    if (!cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        return -1;
    }
    return 0;
}

/* The read-shape object for a reference field set to id, with the names
 * the replica knows (null when it knows none). */
static cJSON *ref_object(store *s, store_entity e, const refmap *r, const char *id)
{
    cJSON *o = cJSON_CreateObject(), *other = NULL, *name = NULL, *extra = NULL;
    const char *extra_key = NULL;
    int ok = 0;

    if (!o || !cJSON_AddStringToObject(o, "id", id))
        goto out;
    if (e == ENT_CUSTOMER) {   /* branch */
        name = lookup_text(s,
                           "SELECT json_extract(body, '$.branch.name') FROM records "
                           "WHERE entity = 0 AND branch_id = ?1 "
                           "AND json_extract(body, '$.branch.name') IS NOT NULL LIMIT 1",
                           id);
    } else if (strcmp(r->field, "technician_id") == 0) {
        name = lookup_text(s,
                           "SELECT json_extract(body, '$.technician.name') FROM records "
                           "WHERE entity = 3 AND technician_id = ?1 "
                           "AND json_extract(body, '$.technician.name') IS NOT NULL LIMIT 1",
                           id);
    } else if (strcmp(r->field, "customer_id") == 0) {
        other = lookup_body(s, ENT_CUSTOMER, id);
        name = dup_or_null(cJSON_GetObjectItemCaseSensitive(other, "name"));
        extra = address_line(cJSON_GetObjectItemCaseSensitive(other, "address"));
        extra_key = "address";
    } else {   /* contact_id */
        other = lookup_body(s, ENT_CONTACT, id);
        name = dup_or_null(cJSON_GetObjectItemCaseSensitive(other, "name"));
        extra = dup_or_null(cJSON_GetObjectItemCaseSensitive(other, "phone"));
        extra_key = "phone";
    }
    ok = attach(o, "name", name) == 0;
    if (extra_key) {
        if (ok)
            ok = attach(o, extra_key, extra) == 0;   /* attach() frees on failure */
        else
            cJSON_Delete(extra);
    }
out:
    cJSON_Delete(other);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

int store_apply_fields(store *s, store_entity e, cJSON *record, const cJSON *fields)
{
    if (!cJSON_IsObject(record) || !cJSON_IsObject(fields))
        return s ? si_fail(s, STORE_INVALID, "apply_fields: not objects") : STORE_INVALID;
    for (const cJSON *c = fields->child; c; c = c->next) {
        const refmap *r = ref_of(e, c->string);
        cJSON *v;
        int rc;

        if (r)
            v = cJSON_IsString(c) ? ref_object(s, e, r, c->valuestring) : cJSON_CreateNull();
        else
            v = cJSON_Duplicate(c, 1);
        rc = si_jset(record, r ? r->object : c->string, v);
        if (rc != STORE_OK)
            return s ? si_fail(s, rc, "out of memory") : rc;
    }
    return STORE_OK;
}

/* ---- shapes ----------------------------------------------------------- */

static const char *const customer_detail[] = {
    "id", "name", "customer_number", "status", "customer_type", "email", "phone", "fax",
    "website", "address", "billing_address", "contacts", "branch", "tax_id",
    "payment_terms", "notes", "custom_fields", "created_at", "updated_at", NULL};
static const char *const wo_detail[] = {
    "id", "work_order_number", "status", "priority", "work_order_type", "description",
    "notes", "customer", "contact", "scheduled_date", "estimated_duration", "technician",
    "tasks", "created_at", "updated_at", NULL};
static const char *const contact_detail[] = {"id", "customer_id", "name", "title", "email",
                                             "phone", "is_primary", "created_at",
                                             "updated_at", NULL};
static const char *const customer_list[] = {"id", "name", "customer_number", "status",
                                            "email", "phone", "address", "created_at",
                                            NULL};
static const char *const wo_list[] = {"id", "work_order_number", "status", "customer",
                                      "scheduled_date", "priority", "created_at", NULL};

cJSON *si_summary(store_entity e, const cJSON *body)
{
    const char *const *keys = e == ENT_CUSTOMER ? customer_list
                            : e == ENT_WORK_ORDER ? wo_list : NULL;
    cJSON *out;

    if (!keys)
        return NULL;
    out = cJSON_CreateObject();
    for (; out && *keys; keys++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, *keys);
        cJSON *copy;

        if (e == ENT_WORK_ORDER && strcmp(*keys, "customer") == 0 && cJSON_IsObject(v)) {
            /* the list item's customer is {id, name} only */
            copy = cJSON_CreateObject();
            if (copy && (add_copy(copy, "id", cJSON_GetObjectItemCaseSensitive(v, "id")) ||
                         add_copy(copy, "name", cJSON_GetObjectItemCaseSensitive(v, "name")))) {
                cJSON_Delete(copy);
                copy = NULL;
            }
        } else {
            copy = v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull();
        }
        if (!copy || !cJSON_AddItemToObject(out, *keys, copy)) {
            cJSON_Delete(copy);
            cJSON_Delete(out);
            out = NULL;
        }
    }
    return out;
}

cJSON *si_synthesize(store *s, store_entity e, const char *id, const char *parent_id,
                     const cJSON *fields, const char *created_at)
{
    const char *const *keys = e == ENT_CUSTOMER ? customer_detail
                            : e == ENT_WORK_ORDER ? wo_detail
                            : e == ENT_CONTACT ? contact_detail : NULL;
    static const char *const id_only[] = {"id", NULL};
    cJSON *rec = cJSON_CreateObject();

    if (!keys)
        keys = id_only;
    for (; rec && *keys; keys++) {
        const char *k = *keys;
        cJSON *v;

        if (strcmp(k, "id") == 0)
            v = cJSON_CreateString(id);
        else if (strcmp(k, "created_at") == 0 || strcmp(k, "updated_at") == 0)
            v = created_at ? cJSON_CreateString(created_at) : cJSON_CreateNull();
        else if (strcmp(k, "status") == 0)
            v = cJSON_CreateString(e == ENT_CUSTOMER ? "active" : "open");
        else if (strcmp(k, "priority") == 0)
            v = cJSON_CreateString("medium");
        else if (strcmp(k, "customer_id") == 0)
            v = parent_id ? cJSON_CreateString(parent_id) : cJSON_CreateNull();
        else if (strcmp(k, "is_primary") == 0)
            v = cJSON_CreateFalse();
        else if (strcmp(k, "contacts") == 0 || strcmp(k, "tasks") == 0)
            v = cJSON_CreateArray();
        else if (strcmp(k, "custom_fields") == 0)
            v = cJSON_CreateObject();
        else
            v = cJSON_CreateNull();
        if (!v || !cJSON_AddItemToObject(rec, k, v)) {
            cJSON_Delete(v);
            cJSON_Delete(rec);
            rec = NULL;
        }
    }
    if (rec && fields && store_apply_fields(s, e, rec, fields) != STORE_OK) {
        cJSON_Delete(rec);
        rec = NULL;
    }
    return rec;
}

/* ---- indexed columns -------------------------------------------------- */

static const char *nested_id(const cJSON *body, const char *obj)
{
    return si_jstr(cJSON_GetObjectItemCaseSensitive(body, obj), "id");
}

void si_columns(store_entity e, const cJSON *body, const char *parent_id, si_cols *c)
{
    const char *sched;
    int64_t ms;

    memset(c, 0, sizeof *c);
    c->status = si_jstr(body, "status");
    c->name = si_jstr(body, "name");
    c->created_at = si_jstr(body, "created_at");
    if (c->created_at && store_time_parse(c->created_at, &c->created_ms) == STORE_OK)
        c->has_created_ms = 1;
    switch (e) {
    case ENT_CUSTOMER:
        c->branch_id = nested_id(body, "branch");
        c->number = si_jstr(body, "customer_number");
        break;
    case ENT_CONTACT:
    case ENT_ASSET:
        c->customer_id = parent_id ? parent_id : si_jstr(body, "customer_id");
        break;
    case ENT_WORK_ORDER:
        c->customer_id = nested_id(body, "customer");
        c->contact_id = nested_id(body, "contact");
        c->technician_id = nested_id(body, "technician");
        c->number = si_jstr(body, "work_order_number");
        c->name = NULL;
        sched = si_jstr(body, "scheduled_date");
        if (sched && store_time_parse(sched, &ms) == STORE_OK)
            si_day(ms, c->sched_day);
        break;
    default:
        break;
    }
}
