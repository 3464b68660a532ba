/*
 * validate.c — every body from the remote is checked here before any of it
 * reaches the store: the envelope, list metadata, and each record's id and
 * field types.  A record that fails is logged and skipped by the caller;
 * it never stops the rest of its page or the cycle.
 */
#include <stdio.h>
#include <string.h>

#include "store/util.h"
#include "sync/sync_int.h"

enum {
    T_STR = 1, T_NUM = 2, T_BOOL = 4, T_OBJ = 8, T_ARR = 16, T_NULL = 32,
};

typedef struct {
    const char *name;
    int types;
} field_rule;

/* Fields whose type we rely on (the store maps them, the merge compares
 * them); fields not listed may hold anything. */
static const field_rule customer_rules[] = {
    {"name", T_STR}, {"customer_number", T_STR | T_NULL},
    {"status", T_STR | T_NULL}, {"customer_type", T_STR | T_NULL},
    {"email", T_STR | T_NULL}, {"phone", T_STR | T_NULL},
    {"address", T_OBJ | T_NULL}, {"billing_address", T_OBJ | T_NULL},
    {"contacts", T_ARR | T_NULL}, {"branch", T_OBJ | T_NULL},
    {"custom_fields", T_OBJ | T_NULL}, {"notes", T_STR | T_NULL},
    {"created_at", T_STR | T_NULL}, {"updated_at", T_STR},
    {NULL, 0},
};
static const field_rule contact_rules[] = {
    {"customer_id", T_STR | T_NULL}, {"name", T_STR}, {"title", T_STR | T_NULL},
    {"email", T_STR | T_NULL}, {"phone", T_STR | T_NULL},
    {"is_primary", T_BOOL | T_NULL}, {"created_at", T_STR | T_NULL},
    {"updated_at", T_STR}, {NULL, 0},
};
static const field_rule asset_rules[] = {
    {"customer_id", T_STR | T_NULL}, {"name", T_STR | T_NULL},
    {"created_at", T_STR | T_NULL}, {"updated_at", T_STR | T_NULL},
    {NULL, 0},
};
static const field_rule work_order_rules[] = {
    {"work_order_number", T_STR | T_NULL}, {"status", T_STR | T_NULL},
    {"priority", T_STR | T_NULL}, {"description", T_STR | T_NULL},
    {"customer", T_OBJ | T_NULL}, {"contact", T_OBJ | T_NULL},
    {"technician", T_OBJ | T_NULL}, {"branch", T_OBJ | T_NULL},
    {"scheduled_date", T_STR | T_NULL}, {"estimated_duration", T_NUM | T_NULL},
    {"tasks", T_ARR | T_NULL}, {"created_at", T_STR | T_NULL},
    {"updated_at", T_STR}, {NULL, 0},
};

static const field_rule *rules_of(store_entity e)
{
    switch (e) {
    case ENT_CUSTOMER: return customer_rules;
    case ENT_CONTACT: return contact_rules;
    case ENT_ASSET: return asset_rules;
    case ENT_WORK_ORDER: return work_order_rules;
    default: return NULL;
    }
}

static int type_of(const cJSON *v)
{
    if (cJSON_IsString(v)) return T_STR;
    if (cJSON_IsNumber(v)) return T_NUM;
    if (cJSON_IsBool(v)) return T_BOOL;
    if (cJSON_IsObject(v)) return T_OBJ;
    if (cJSON_IsArray(v)) return T_ARR;
    if (cJSON_IsNull(v)) return T_NULL;
    return 0;
}

int sync_id_ok(const char *id)
{
    size_t n = 0;

    if (!id)
        return 0;
    for (const char *p = id; *p; p++, n++) {
        char c = *p;
        if (n >= 128)
            return 0;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || strchr("._~:@-", c)))
            return 0;
    }
    return n > 0;
}

cJSON *sync_body_parse(const char *body, size_t len, int want_array, char *err,
                size_t errlen)
{
    cJSON *root;
    const cJSON *data;

    if (!body || len == 0) {
        snprintf(err, errlen, "empty body");
        return NULL;
    }
    root = cJSON_ParseWithLength(body, len);
    if (!root) {
        snprintf(err, errlen, "invalid or truncated JSON (%zu bytes)", len);
        return NULL;
    }
    data = cJSON_GetObjectItemCaseSensitive(root, "data");
    if (!cJSON_IsObject(root) ||
        !(want_array ? cJSON_IsArray(data) : cJSON_IsObject(data))) {
        snprintf(err, errlen, "no \"data\" %s in the answer",
                 want_array ? "array" : "object");
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

static int get_count(const cJSON *meta, const char *name, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(meta, name);

    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e12 ||
        v->valuedouble != (double)(int64_t)v->valuedouble)
        return -1;
    *out = (int64_t)v->valuedouble;
    return 0;
}

int sync_list_meta_get(const cJSON *root, sync_list_meta *m, char *err, size_t errlen)
{
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "meta");

    if (!cJSON_IsObject(meta) ||
        get_count(meta, "current_page", &m->current_page) ||
        get_count(meta, "total_pages", &m->total_pages) ||
        get_count(meta, "total_count", &m->total_count) ||
        m->total_pages > SYNC_MAX_LIST_PAGES) {
        snprintf(err, errlen, "missing or malformed \"meta\"");
        return -1;
    }
    return 0;
}

int sync_record_ok(store_entity e, const cJSON *rec, int detail, char *err,
                 size_t errlen)
{
    const field_rule *rules = rules_of(e);
    const cJSON *id;
    const char *dup;
    int64_t ms;

    if (!rules || !cJSON_IsObject(rec)) {
        snprintf(err, errlen, "record is not an object");
        return -1;
    }
    /* cJSON keeps duplicate keys and finds the first: a record that says
     * two different things about one field (at any depth) is not trusted
     * at all. */
    if ((dup = fs_json_dup_key(rec))) {
        snprintf(err, errlen, "duplicate key \"%.40s\"", *dup ? dup : "?");
        return -1;
    }
    id = cJSON_GetObjectItemCaseSensitive(rec, "id");
    if (!cJSON_IsString(id) || !sync_id_ok(id->valuestring)) {
        snprintf(err, errlen, "missing or malformed id");
        return -1;
    }
    for (const field_rule *r = rules; r->name; r++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, r->name);
        if (!v)
            continue;
        if (!(type_of(v) & r->types)) {
            snprintf(err, errlen, "%.128s: field \"%s\" has the wrong type",
                     id->valuestring, r->name);
            return -1;
        }
        /* A nested reference must name its record by a valid id. */
        if (cJSON_IsObject(v) && (strcmp(r->name, "customer") == 0 ||
                                  strcmp(r->name, "technician") == 0 ||
                                  strcmp(r->name, "contact") == 0 ||
                                  strcmp(r->name, "branch") == 0)) {
            const cJSON *rid = cJSON_GetObjectItemCaseSensitive(v, "id");
            if (!cJSON_IsString(rid) || !sync_id_ok(rid->valuestring)) {
                snprintf(err, errlen, "%.128s: \"%s\" without a valid id",
                         id->valuestring, r->name);
                return -1;
            }
        }
    }
    if (detail || e == ENT_CONTACT) {
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(rec, "updated_at");
        if (e != ENT_ASSET && !cJSON_IsString(u)) {
            snprintf(err, errlen, "%.128s: no updated_at", id->valuestring);
            return -1;
        }
        if (cJSON_IsString(u) && store_time_parse(u->valuestring, &ms) != STORE_OK) {
            snprintf(err, errlen, "%.128s: unparsable updated_at",
                     id->valuestring);
            return -1;
        }
    }
    return 0;
}
