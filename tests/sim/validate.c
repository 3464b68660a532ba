/* The write rules: one table of field specs per entity (in its routes_*.c
 * file) and the checks, bindings and SQL built from it here, so every
 * entity validates and stores the same way. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define MAX_DETAILS 50   /* bounds an answer to a body full of junk keys */

static const char *const address_keys[] = {"street", "city", "state",
                                           "postal_code", "country", NULL};

/* characters, not bytes: UTF-8 continuation bytes do not count */
static size_t utf8_len(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int is_blank(const char *s)
{
    for (; *s; s++)
        if (!strchr(" \t\r\n", *s))
            return 0;
    return 1;
}

static int add(cJSON *details, const char *field, const char *message)
{
    if (cJSON_GetArraySize(details) >= MAX_DETAILS)
        return 0;
    return details_add(details, field, message);
}

static int one_of(const char *s, const char *const *choices)
{
    for (; *choices; choices++)
        if (strcmp(s, *choices) == 0)
            return 1;
    return 0;
}

static void choices_message(const char *const *choices, char *out, size_t outsz)
{
    size_t len = (size_t)snprintf(out, outsz, "must be one of:");

    for (const char *const *c = choices; *c && len < outsz; c++)
        len += (size_t)snprintf(out + len, outsz - len, "%s %s",
                                c == choices ? "" : ",", *c);
}

/* an object whose members are all strings (and, for addresses, only the
 * five address keys); problems are named "field.key" */
static int check_string_object(const cJSON *item, const char *field,
                               const char *const *allowed, cJSON *details)
{
    char name[160];
    int bad = 0;

    if (!cJSON_IsObject(item))
        return add(details, field, "must be an object") ? -1 : 1;
    for (const cJSON *c = item->child; c; c = c->next) {
        snprintf(name, sizeof name, "%s.%.100s", field, c->string);
        if (allowed && !one_of(c->string, allowed)) {
            if (add(details, name, "unknown field"))
                return -1;
            bad = 1;
        } else if (!cJSON_IsString(c)) {
            if (add(details, name, "must be a string"))
                return -1;
            bad = 1;
        }
    }
    return bad;
}

/* one field's value: 0 valid, 1 invalid (detail added), -1 error */
static int check_value(sqlite3 *db, const struct field_spec *sp,
                       const cJSON *item, cJSON *details)
{
    char msg[200];
    const char *s = cJSON_IsString(item) ? item->valuestring : NULL;
    int rc;

    if (cJSON_IsNull(item)) {
        if (sp->flags & FF_NULLABLE)
            return 0;
        if (sp->kind == FK_ADDRESS || sp->kind == FK_STRMAP)
            return add(details, sp->name, "must be an object") ? -1 : 1;
    }
    switch (sp->kind) {
    case FK_ADDRESS:
        return check_string_object(item, sp->name, address_keys, details);
    case FK_STRMAP:
        return check_string_object(item, sp->name, NULL, details);
    case FK_BOOL:
        if (!cJSON_IsBool(item))
            return add(details, sp->name, "must be a boolean") ? -1 : 1;
        return 0;
    case FK_INT:
        /* floor, not a cast: casting 1e300 to an integer is undefined */
        if (!cJSON_IsNumber(item) || item->valuedouble != floor(item->valuedouble))
            return add(details, sp->name, "must be an integer") ? -1 : 1;
        if (item->valuedouble < 0 || item->valuedouble > (double)sp->max) {
            snprintf(msg, sizeof msg, "must be between 0 and %ld", sp->max);
            return add(details, sp->name, msg) ? -1 : 1;
        }
        return 0;
    default:
        break;
    }
    /* the rest are strings */
    if (!s)
        return add(details, sp->name, "must be a string") ? -1 : 1;
    switch (sp->kind) {
    case FK_NAME:
        if (is_blank(s))
            return add(details, sp->name, "must not be blank") ? -1 : 1;
        break;
    case FK_EMAIL:
        if (*s && !strchr(s, '@'))
            return add(details, sp->name, "must be a valid email address") ? -1 : 1;
        break;
    case FK_ENUM:
        if (!one_of(s, sp->choices)) {
            choices_message(sp->choices, msg, sizeof msg);
            return add(details, sp->name, msg) ? -1 : 1;
        }
        return 0;
    case FK_DATETIME: {
        int64_t ms;

        if (clock_parse_rfc3339(s, &ms))
            return add(details, sp->name,
                       "must be an RFC 3339 UTC date-time (YYYY-MM-DDTHH:MM:SSZ)")
                       ? -1 : 1;
        return 0;
    }
    case FK_REF:
        rc = db_exists(db, sp->ref_sql, s);
        if (rc < 0)
            return -1;
        if (rc == 0)
            return add(details, sp->name, sp->ref_message) ? -1 : 1;
        return 0;
    default:
        break;
    }
    if (sp->max > 0 && utf8_len(s) > (size_t)sp->max) {
        snprintf(msg, sizeof msg, "must be at most %ld characters", sp->max);
        return add(details, sp->name, msg) ? -1 : 1;
    }
    return 0;
}

int validate_fields(sqlite3 *db, const struct field_spec *specs, size_t count,
                    const cJSON *body, int create, struct field_values *out,
                    cJSON *details)
{
    int bad = 0;

    if (count > sizeof out->items / sizeof out->items[0])
        return -1;
    memset(out, 0, sizeof *out);
    out->specs = specs;
    out->count = count;
    for (const cJSON *c = body->child; c; c = c->next) {
        size_t i;

        for (i = 0; i < count && strcmp(specs[i].name, c->string) != 0; i++)
            ;
        if (i == count) {
            char name[120];

            snprintf(name, sizeof name, "%.100s", c->string);
            if (add(details, name, "unknown field"))
                return -1;
            bad = 1;
            continue;
        }
        out->items[i] = c;
    }
    for (size_t i = 0; i < count; i++) {
        int rc;

        if (!out->items[i]) {
            if (create && (specs[i].flags & FF_REQUIRED)) {
                if (add(details, specs[i].name, "is required"))
                    return -1;
                bad = 1;
            }
            continue;
        }
        rc = check_value(db, &specs[i], out->items[i], details);
        if (rc < 0)
            return -1;
        bad |= rc;
    }
    return bad;
}

const cJSON *field_item(const struct field_values *fv, const char *name)
{
    for (size_t i = 0; i < fv->count; i++)
        if (strcmp(fv->specs[i].name, name) == 0)
            return fv->items[i];
    return NULL;
}

/* the stored form of an address: all five keys, missing ones null */
static char *address_text(const cJSON *item)
{
    cJSON *a = cJSON_CreateObject();
    char *text = NULL;

    if (!a)
        return NULL;
    for (const char *const *k = address_keys; *k; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, *k);

        if (!(cJSON_IsString(v) ? cJSON_AddStringToObject(a, *k, v->valuestring)
                                : cJSON_AddNullToObject(a, *k)))
            goto out;
    }
    text = cJSON_PrintUnformatted(a);
out:
    cJSON_Delete(a);
    return text;
}

int validate_bind(sqlite3_stmt *st, int idx, const struct field_spec *spec,
                  const cJSON *item)
{
    char *text;
    int rc;

    if (cJSON_IsNull(item))
        return sqlite3_bind_null(st, idx) == SQLITE_OK ? 0 : -1;
    switch (spec->kind) {
    case FK_BOOL:
        return sqlite3_bind_int(st, idx, cJSON_IsTrue(item)) == SQLITE_OK ? 0 : -1;
    case FK_INT:
        return sqlite3_bind_int64(st, idx, (sqlite3_int64)item->valuedouble) ==
                       SQLITE_OK ? 0 : -1;
    case FK_ADDRESS:
    case FK_STRMAP:
        text = spec->kind == FK_ADDRESS ? address_text(item)
                                        : cJSON_PrintUnformatted(item);
        if (!text)
            return -1;
        rc = sqlite3_bind_text(st, idx, text, -1, SQLITE_TRANSIENT);
        free(text);
        return rc == SQLITE_OK ? 0 : -1;
    default:
        return db_bind_text(st, idx, item->valuestring);
    }
}

/* runs a one-off statement (the column sets vary per request, so these are
 * not worth caching) */
static int run(sqlite3 *db, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    if (rc != SQLITE_DONE)
        sim_log("sqlite: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int validate_apply_update(sqlite3 *db, const char *table,
                          const struct field_values *fv, int64_t updated_ms,
                          const char *id)
{
    char sql[1024];
    size_t len = (size_t)snprintf(sql, sizeof sql, "UPDATE %s SET ", table);
    sqlite3_stmt *st;
    int idx = 1;

    for (size_t i = 0; i < fv->count; i++)
        if (fv->items[i])
            len += (size_t)snprintf(sql + len, sizeof sql - len, "%s = ?, ",
                                    fv->specs[i].column);
    snprintf(sql + len, sizeof sql - len, "updated_at = ? WHERE id = ?");
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        sim_log("sqlite prepare: %s", sqlite3_errmsg(db));
        return -1;
    }
    for (size_t i = 0; i < fv->count; i++)
        if (fv->items[i] && validate_bind(st, idx++, &fv->specs[i], fv->items[i]))
            goto fail;
    if (sqlite3_bind_int64(st, idx++, updated_ms) != SQLITE_OK ||
        db_bind_text(st, idx, id))
        goto fail;
    return run(db, st);
fail:
    sqlite3_finalize(st);
    return -1;
}

/* 1 when a present field already fills column */
static int column_given(const struct field_values *fv, const char *column)
{
    for (size_t i = 0; i < fv->count; i++)
        if (fv->items[i] && strcmp(fv->specs[i].column, column) == 0)
            return 1;
    return 0;
}

int validate_apply_insert(sqlite3 *db, const char *table, const char *id,
                          int64_t seq, int64_t now_ms,
                          const struct field_values *fv,
                          const char *const *extra)
{
    char cols[1024], marks[256];
    size_t cl, ml;
    sqlite3_stmt *st;
    int idx = 5;

    cl = (size_t)snprintf(cols, sizeof cols, "id, seq, created_at, updated_at");
    ml = (size_t)snprintf(marks, sizeof marks, "?, ?, ?, ?");
    for (size_t i = 0; i < fv->count; i++) {
        if (!fv->items[i])
            continue;
        cl += (size_t)snprintf(cols + cl, sizeof cols - cl, ", %s", fv->specs[i].column);
        ml += (size_t)snprintf(marks + ml, sizeof marks - ml, ", ?");
    }
    for (const char *const *e = extra; e && e[0]; e += 2) {
        if (column_given(fv, e[0]))
            continue;
        cl += (size_t)snprintf(cols + cl, sizeof cols - cl, ", %s", e[0]);
        ml += (size_t)snprintf(marks + ml, sizeof marks - ml, ", ?");
    }
    {
        char sql[1400];

        snprintf(sql, sizeof sql, "INSERT INTO %s (%s) VALUES (%s)", table, cols, marks);
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
            sim_log("sqlite prepare: %s", sqlite3_errmsg(db));
            return -1;
        }
    }
    if (db_bind_text(st, 1, id) || sqlite3_bind_int64(st, 2, seq) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, now_ms) != SQLITE_OK ||
        sqlite3_bind_int64(st, 4, now_ms) != SQLITE_OK)
        goto fail;
    for (size_t i = 0; i < fv->count; i++)
        if (fv->items[i] && validate_bind(st, idx++, &fv->specs[i], fv->items[i]))
            goto fail;
    for (const char *const *e = extra; e && e[0]; e += 2)
        if (!column_given(fv, e[0]) && db_bind_text(st, idx++, e[1]))
            goto fail;
    return run(db, st);
fail:
    sqlite3_finalize(st);
    return -1;
}

cJSON *validate_request(const struct sim_request *rq, struct sim_response *rs,
                        const struct field_spec *specs, size_t count, int create,
                        struct field_values *fv)
{
    cJSON *body = req_json_object(rq, rs);
    cJSON *details;
    int rc;

    if (!body)
        return NULL;
    details = cJSON_CreateArray();
    rc = details ? validate_fields(rq->sim->db, specs, count, body, create, fv, details)
                 : -1;
    if (rc == 0) {
        cJSON_Delete(details);
        return body;
    }
    cJSON_Delete(body);
    if (rc < 0) {
        cJSON_Delete(details);
        resp_internal(rs);
    } else {
        resp_error(rs, 422, "validation_error", "Validation failed", details);
    }
    return NULL;
}
