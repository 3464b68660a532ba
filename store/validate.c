/*
 * validate.c — the remote's write rules (validation), field by field.
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

/* Every field but the identifying ones (name, status, priority, the
 * customer of a work order) clears with null, as on the remote. */
static const wspec customer_spec[] = {
    {"name", WK_NAME, WF_REQUIRED, 200, NULL},
    {"customer_type", WK_ENUM, WF_NULLABLE, 0, customer_types},
    {"status", WK_ENUM, 0, 0, customer_statuses},
    {"email", WK_EMAIL, WF_NULLABLE, 0, NULL},
    {"phone", WK_STRING, WF_NULLABLE, 0, NULL},
    {"fax", WK_STRING, WF_NULLABLE, 0, NULL},
    {"website", WK_STRING, WF_NULLABLE, 0, NULL},
    {"address", WK_ADDRESS, WF_NULLABLE, 0, NULL},
    {"billing_address", WK_ADDRESS, WF_NULLABLE, 0, NULL},
    /* A branch cannot be checked offline: any string is accepted. */
    {"branch_id", WK_STRING, WF_NULLABLE, 0, NULL},
    {"tax_id", WK_STRING, WF_NULLABLE, 0, NULL},
    {"payment_terms", WK_ENUM, WF_NULLABLE, 0, payment_terms},
    {"notes", WK_STRING, WF_NULLABLE, 0, NULL},
    {"custom_fields", WK_STRMAP, WF_NULLABLE, 0, NULL},
};

static const wspec contact_spec[] = {
    {"name", WK_NAME, WF_REQUIRED, 200, NULL},
    {"title", WK_STRING, WF_NULLABLE, 0, NULL},
    {"email", WK_STRING, WF_NULLABLE, 0, NULL},
    {"phone", WK_STRING, WF_NULLABLE, 0, NULL},
    {"is_primary", WK_BOOL, WF_NULLABLE, 0, NULL},
};

static const wspec wo_spec[] = {
    {"customer_id", WK_CUSTOMER, WF_REQUIRED, 0, NULL},
    {"contact_id", WK_CONTACT, WF_NULLABLE, 0, NULL},
    {"technician_id", WK_STRING, WF_NULLABLE, 0, NULL},
    {"status", WK_ENUM, 0, 0, wo_statuses},
    {"priority", WK_ENUM, 0, 0, wo_priorities},
    {"work_order_type", WK_ENUM, WF_NULLABLE, 0, wo_types},
    {"scheduled_date", WK_DATETIME, WF_NULLABLE, 0, NULL},
    {"estimated_duration", WK_INT, WF_NULLABLE, 100000, NULL},
    {"description", WK_STRING, WF_NULLABLE, 10000, NULL},
    {"notes", WK_STRING, WF_NULLABLE, 10000, NULL},
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
    dup = fs_json_dup_key(fields);
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
