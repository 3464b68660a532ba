/*
 * model.c — the data model: entity names, the mapping between write shape
 * and read shape, the list projection (summary) and the indexed columns of
 * a record.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

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
 * JSON null when there is no row (or no store to ask).  NULL on failure,
 * with *err set to a store_rc when the database failed (the message set). */
static cJSON *lookup_text(store *s, const char *sql, const char *param, int *err)
{
    sqlite3_stmt *st;
    cJSON *out = NULL;
    int rc;

    if (!s || !param)
        return cJSON_CreateNull();
    st = si_stmt(s, sql);
    if (!st) {
        *err = STORE_ERR;
        return NULL;
    }
    if (si_bind_text(st, 1, param) != STORE_OK)
        return NULL;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        out = cJSON_CreateString((const char *)sqlite3_column_text(st, 0));
    else if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        out = cJSON_CreateNull();
    else
        *err = si_dberr(s, "lookup");
    sqlite3_reset(st);
    return out;
}

/* A record's body parsed, or NULL (absent, or no store).  A failed read is
 * not "absent": it sets *err (a store_rc, message set). */
static cJSON *lookup_body(store *s, store_entity e, const char *id, int *err)
{
    sqlite3_stmt *st;
    cJSON *out = NULL;
    int rc;

    if (!s || !id)
        return NULL;
    st = si_stmt(s, "SELECT body FROM records WHERE entity = ?1 AND id = ?2");
    if (!st) {
        *err = STORE_ERR;
        return NULL;
    }
    sqlite3_bind_int(st, 1, (int)e);
    if (si_bind_text(st, 2, id) != STORE_OK) {
        sqlite3_reset(st);
        return NULL;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        out = cJSON_Parse((const char *)sqlite3_column_text(st, 0));
    else if (rc != SQLITE_DONE)
        *err = si_dberr(s, "lookup");
    sqlite3_reset(st);
    return out;
}

/* "street, city, state postal_code": the remote's one-line address. */
static cJSON *address_line(const cJSON *addr)
{
    const char *street = si_jstr(addr, "street"), *city = si_jstr(addr, "city");
    const char *state = si_jstr(addr, "state"), *zip = si_jstr(addr, "postal_code");
    fs_buf b;
    char *text;
    cJSON *out;

    if (!cJSON_IsObject(addr))
        return cJSON_CreateNull();
    fs_buf_init(&b, SI_MAX_JSON);
    if (street && *street)
        fs_buf_adds(&b, street);
    if (city && *city)
        fs_buf_addf(&b, "%s%s", fs_buf_len(&b) ? ", " : "", city);
    if ((state && *state) || (zip && *zip)) {
        fs_buf_adds(&b, fs_buf_len(&b) ? ", " : "");
        if (state && *state)
            fs_buf_adds(&b, state);
        if (zip && *zip)
            fs_buf_addf(&b, "%s%s", state && *state ? " " : "", zip);
    }
    text = fs_buf_take(&b);
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
static cJSON *ref_object(store *s, store_entity e, const refmap *r, const char *id, int *err)
{
    cJSON *o = cJSON_CreateObject(), *other = NULL, *name = NULL, *extra = NULL;
    const char *extra_key = NULL;
    int ok = 0;

    if (!o || !cJSON_AddStringToObject(o, "id", id))
        goto out;
    if (e == ENT_CUSTOMER) {   /* branch */
        name = lookup_text(s,
                           "SELECT json_extract(body, '$.branch.name') FROM records "
                           "WHERE entity = " SI_SQL_ENT_CUSTOMER " AND branch_id = ?1 "
                           "AND json_extract(body, '$.branch.name') IS NOT NULL LIMIT 1",
                           id, err);
    } else if (strcmp(r->field, "technician_id") == 0) {
        name = lookup_text(s,
                           "SELECT json_extract(body, '$.technician.name') FROM records "
                           "WHERE entity = " SI_SQL_ENT_WORK_ORDER " AND technician_id = ?1 "
                           "AND json_extract(body, '$.technician.name') IS NOT NULL LIMIT 1",
                           id, err);
    } else if (strcmp(r->field, "customer_id") == 0) {
        other = lookup_body(s, ENT_CUSTOMER, id, err);
        name = dup_or_null(cJSON_GetObjectItemCaseSensitive(other, "name"));
        extra = address_line(cJSON_GetObjectItemCaseSensitive(other, "address"));
        extra_key = "address";
    } else {   /* contact_id */
        other = lookup_body(s, ENT_CONTACT, id, err);
        name = dup_or_null(cJSON_GetObjectItemCaseSensitive(other, "name"));
        extra = dup_or_null(cJSON_GetObjectItemCaseSensitive(other, "phone"));
        extra_key = "phone";
    }
    if (*err != STORE_OK) {
        cJSON_Delete(name);
        cJSON_Delete(extra);
        goto out;
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
        int rc = STORE_OK;

        if (r)
            v = cJSON_IsString(c) ? ref_object(s, e, r, c->valuestring, &rc) : cJSON_CreateNull();
        else
            v = cJSON_Duplicate(c, 1);
        if (rc != STORE_OK)
            return rc;   /* the lookup's message is set */
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

/* "LOCAL-" and 16 hex digits of the UUID in "local-<uuid>" (any other id:
 * of the id's first alphanumerics), upper case like the remote's numbers. */
static cJSON *provisional_number(const char *id)
{
    char num[sizeof SI_PROVISIONAL_PREFIX + 16];
    size_t n = strlen(SI_PROVISIONAL_PREFIX);
    const char *p = strncmp(id, "local-", 6) == 0 ? id + 6 : id;

    memcpy(num, SI_PROVISIONAL_PREFIX, n);
    for (; *p && n < sizeof num - 1; p++)
        if (isalnum((unsigned char)*p))
            num[n++] = (char)toupper((unsigned char)*p);
    num[n] = '\0';
    return cJSON_CreateString(num);
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
        else if (strcmp(k, "customer_number") == 0 || strcmp(k, "work_order_number") == 0)
            v = provisional_number(id);
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

/*
 * The fields the remote accepts on write but never shows on read (DESIGN
 * §5): each write-shape field of fields whose read-shape key the remote's
 * detail (answer) lacks, added to old (a JSON array text or NULL).  Sets
 * *list_out to the new array's text (caller frees), or NULL when nothing
 * changed.  Only a detail (it has updated_at) can tell: a short answer
 * leaves fields out for brevity, not because they are write-only.
 */
int si_write_only_merge(store *s, store_entity e, const cJSON *answer, const char *fields,
                        const char *old, char **list_out)
{
    cJSON *f = fields ? cJSON_Parse(fields) : NULL, *list = NULL;
    int added = 0, rc = STORE_OK;

    *list_out = NULL;
    if (!cJSON_IsObject(answer) || !cJSON_GetObjectItemCaseSensitive(answer, "updated_at") ||
        !cJSON_IsObject(f))
        goto out;
    list = old ? cJSON_Parse(old) : cJSON_CreateArray();
    if (!cJSON_IsArray(list)) {
        cJSON_Delete(list);
        list = cJSON_CreateArray();
    }
    if (!list) {
        rc = si_fail(s, STORE_NOMEM, "out of memory");
        goto out;
    }
    for (const cJSON *c = f->child; c; c = c->next) {
        const refmap *r = ref_of(e, c->string);
        const cJSON *have;
        int listed = 0;

        if (cJSON_GetObjectItemCaseSensitive(answer, r ? r->object : c->string))
            continue;
        cJSON_ArrayForEach(have, list)
            listed |= cJSON_IsString(have) && strcmp(have->valuestring, c->string) == 0;
        if (listed)
            continue;
        if (!cJSON_AddItemToArray(list, cJSON_CreateString(c->string))) {
            rc = si_fail(s, STORE_NOMEM, "out of memory");
            goto out;
        }
        added = 1;
    }
    if (added && !(*list_out = si_json_print(list)))
        rc = si_fail(s, STORE_NOMEM, "out of memory");
out:
    cJSON_Delete(f);
    cJSON_Delete(list);
    return rc;
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
            fs_time_day(ms, c->sched_day);
        break;
    default:
        break;
    }
}
