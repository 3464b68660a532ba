/*
 * store_fixture.h — helpers shared by the store's unit tests: a private
 * temporary directory per test, realistic remote records, JSON probes.
 */
#ifndef FIELDSYNC_STORE_FIXTURE_H
#define FIELDSYNC_STORE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store.h"
#include "tests/unit/test_util.h"

typedef struct {
    char dir[64];
    char path[128];
    store *s;
} fx;

/* 2024-03-01T00:00:00Z, the tests' "now" */
#define T0 1709251200000LL
#define MIN_MS 60000LL

static inline store *fx_open(fx *f)
{
    char err[256];
    int rc = store_open(f->path, &f->s, err, sizeof err);

    if (rc != STORE_OK)
        fail_msg("store_open: %d %s", rc, err);
    return f->s;
}

static inline int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof *f);

    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/store-test-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/replica.db", f->dir);
    fx_open(f);
    *state = f;
    return 0;
}

static inline void fx_reopen(fx *f)
{
    store_close(f->s);
    f->s = NULL;
    fx_open(f);
}

static inline int fx_teardown(void **state)
{
    fx *f = *state;

    store_close(f->s);
    tu_rmtree(f->dir);
    free(f);
    return 0;
}

/* A test case with a fresh store of its own (fx_setup, fx_teardown). */
#define FX_TEST(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

/* ---- records as the remote would send them ------------------------------ */

static inline char *fx_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline char *fx_fmt(const char *fmt, ...)
{
    va_list ap;
    char *out = NULL;

    va_start(ap, fmt);
    if (vasprintf(&out, fmt, ap) < 0)
        out = NULL;
    va_end(ap);
    assert_non_null(out);
    return out;
}

static inline char *fx_customer_json(const char *id, const char *name, const char *number,
                                     const char *updated_at)
{
    return fx_fmt("{\"id\":\"%s\",\"name\":\"%s\",\"customer_number\":\"%s\","
                  "\"status\":\"active\",\"customer_type\":\"commercial\","
                  "\"email\":\"info@example.com\",\"phone\":\"+1-555-0100\",\"fax\":null,"
                  "\"website\":null,\"address\":{\"street\":\"1 Main St\",\"city\":\"Springfield\","
                  "\"state\":\"IL\",\"postal_code\":\"62701\",\"country\":\"US\"},"
                  "\"billing_address\":null,\"contacts\":[],"
                  "\"branch\":{\"id\":\"branch-001\",\"name\":\"Midwest\"},\"tax_id\":null,"
                  "\"payment_terms\":\"net30\",\"notes\":\"orig notes\",\"custom_fields\":{},"
                  "\"created_at\":\"2023-06-15T10:30:00Z\",\"updated_at\":\"%s\"}",
                  id, name, number, updated_at);
}

static inline char *fx_wo_json(const char *id, const char *cust, const char *tech,
                               const char *sched, const char *status, const char *updated_at)
{
    return fx_fmt("{\"id\":\"%s\",\"work_order_number\":\"WO-%s\",\"status\":\"%s\","
                  "\"priority\":\"medium\",\"work_order_type\":\"service\","
                  "\"description\":\"Annual maintenance\",\"notes\":\"orig\","
                  "\"customer\":{\"id\":\"%s\",\"name\":\"Acme\",\"address\":\"1 Main St\"},"
                  "\"contact\":null,\"scheduled_date\":\"%s\",\"estimated_duration\":60,"
                  "\"technician\":{\"id\":\"%s\",\"name\":\"Tech %s\"},"
                  "\"tasks\":[{\"id\":\"task-1\",\"name\":\"Inspect\",\"status\":\"pending\"}],"
                  "\"created_at\":\"2024-01-20T14:30:00Z\",\"updated_at\":\"%s\"}",
                  id, id, status, cust, sched, tech, tech, updated_at);
}

static inline char *fx_contact_json(const char *id, const char *cust, const char *name,
                                    const char *updated_at)
{
    return fx_fmt("{\"id\":\"%s\",\"customer_id\":\"%s\",\"name\":\"%s\",\"title\":\"Manager\","
                  "\"email\":\"x@example.com\",\"phone\":\"+1-555-0111\",\"is_primary\":true,"
                  "\"created_at\":\"2023-06-15T10:30:00Z\",\"updated_at\":\"%s\"}",
                  id, cust, name, updated_at);
}

static inline char *fx_asset_json(const char *id, const char *cust)
{
    return fx_fmt("{\"id\":\"%s\",\"customer_id\":\"%s\",\"name\":\"Rooftop unit\","
                  "\"asset_type\":\"hvac\",\"manufacturer\":\"Carrier\",\"model\":\"X1\","
                  "\"serial_number\":\"SN1\",\"install_date\":\"2020-01-01\","
                  "\"location\":\"Roof\",\"status\":\"active\","
                  "\"created_at\":\"2023-06-15T10:30:00Z\",\"updated_at\":\"2024-01-01T00:00:00Z\"}",
                  id, cust);
}

static inline store_upsert_result fx_put(store *s, store_entity e, char *json,
                                         const char *parent, int64_t gen)
{
    store_upsert_result res = UPSERT_STALE;
    int rc = store_remote_upsert(s, e, json, NULL, parent, gen, &res);

    if (rc != STORE_OK)
        fail_msg("upsert: %d %s %s", rc, store_errmsg(s), store_errdetails(s));
    free(json);
    return res;
}

/* A customer cust-1, contact con-1, asset ast-1 and work order wo-1. */
static inline void fx_seed(store *s)
{
    fx_put(s, ENT_CUSTOMER, fx_customer_json("cust-1", "Acme Corp", "C-1001",
                                             "2024-01-20T14:15:00Z"), NULL, 0);
    fx_put(s, ENT_CONTACT, fx_contact_json("con-1", "cust-1", "John Smith",
                                           "2024-01-20T14:15:00Z"), "cust-1", 0);
    fx_put(s, ENT_ASSET, fx_asset_json("ast-1", "cust-1"), "cust-1", 0);
    fx_put(s, ENT_WORK_ORDER, fx_wo_json("wo-1", "cust-1", "tech-001", "2024-03-05T09:00:00Z",
                                         "open", "2024-01-25T10:15:00Z"), NULL, 0);
}

/* ---- probes --------------------------------------------------------------- */

/* Parses text (which it frees) and returns the tree; fails the test if bad. */
static inline cJSON *fx_json(char *text)
{
    cJSON *j;

    assert_non_null(text);
    j = cJSON_Parse(text);
    if (!j)
        fail_msg("bad JSON: %s", text);
    free(text);
    return j;
}

/* The record as store_get returns it, parsed. */
static inline cJSON *fx_get(store *s, store_entity e, const char *id)
{
    char *out = NULL;
    int rc = store_get(s, e, id, &out);

    if (rc != STORE_OK)
        fail_msg("store_get %s: %d %s", id, rc, store_errmsg(s));
    return fx_json(out);
}

/* A string at a dotted path ("customer.id"), or NULL. */
static inline const char *fx_str(const cJSON *j, const char *path)
{
    char buf[128], *save = NULL, *tok;

    snprintf(buf, sizeof buf, "%s", path);
    for (tok = strtok_r(buf, ".", &save); tok && j; tok = strtok_r(NULL, ".", &save))
        j = cJSON_GetObjectItemCaseSensitive(j, tok);
    return cJSON_IsString(j) ? j->valuestring : NULL;
}

static inline const char *fx_sync(const cJSON *j)
{
    return fx_str(j, "_sync.state");
}

/* store_get's "_sync.state" for a record. */
static inline void fx_assert_state(store *s, store_entity e, const char *id, const char *want)
{
    cJSON *j = fx_get(s, e, id);

    assert_string_equal(fx_sync(j), want);
    cJSON_Delete(j);
}

/* A string at a dotted path of store_get's record equals want. */
static inline void fx_assert_str(store *s, store_entity e, const char *id, const char *path,
                                 const char *want)
{
    cJSON *j = fx_get(s, e, id);
    const char *v = fx_str(j, path);

    if (!v)
        fail_msg("%s has no string %s", id, path);
    assert_string_equal(v, want);
    cJSON_Delete(j);
}

/* A local update from JSON text; returns the store_rc. */
static inline int fx_update(store *s, store_entity e, const char *id, const char *fields,
                            int64_t now)
{
    cJSON *f = cJSON_Parse(fields);
    int rc;

    assert_non_null(f);
    rc = store_local_update(s, e, id, f, now, NULL);
    cJSON_Delete(f);
    return rc;
}

/* A local create from JSON text; *id_out (malloc'd) gets the new id. */
static inline int fx_create(store *s, store_entity e, const char *parent, const char *fields,
                            int64_t now, char **id_out)
{
    cJSON *f = cJSON_Parse(fields), *rec;
    char *out = NULL;
    int rc;

    assert_non_null(f);
    rc = store_local_create(s, e, parent, f, now, &out);
    cJSON_Delete(f);
    if (rc == STORE_OK && id_out) {
        rec = fx_json(out);
        *id_out = strdup(fx_str(rec, "id"));
        cJSON_Delete(rec);
    } else {
        free(out);
    }
    return rc;
}

/* The unsettled ops, parsed from store_outbox_list. */
static inline cJSON *fx_outbox(store *s)
{
    char *out = NULL;

    assert_int_equal(store_outbox_list(s, &out), STORE_OK);
    return fx_json(out);
}

static inline int fx_outbox_len(store *s)
{
    cJSON *o = fx_outbox(s);
    int n = cJSON_GetArraySize(o);

    cJSON_Delete(o);
    return n;
}

/* The details of the last STORE_INVALID contain {field, message}. */
static inline void fx_assert_detail(store *s, const char *field, const char *msg_part)
{
    cJSON *d = cJSON_Parse(store_errdetails(s)), *c;
    int found = 0;

    assert_non_null(d);
    cJSON_ArrayForEach(c, d) {
        const char *fl = fx_str(c, "field"), *m = fx_str(c, "message");

        if (fl && !strcmp(fl, field) && m && (!msg_part || strstr(m, msg_part)))
            found = 1;
    }
    if (!found)
        fail_msg("no detail %s/%s in %s", field, msg_part ? msg_part : "*",
                 store_errdetails(s));
    cJSON_Delete(d);
}

/* One page of a list, parsed. */
static inline cJSON *fx_list(store *s, store_entity e, const store_query *q)
{
    char *out = NULL;
    int rc = store_list(s, e, q, &out);

    if (rc != STORE_OK)
        fail_msg("store_list: %d %s %s", rc, store_errmsg(s), store_errdetails(s));
    return fx_json(out);
}

static inline int fx_meta(const cJSON *page, const char *key)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(page, "meta");

    return cJSON_GetObjectItemCaseSensitive(m, key)->valueint;
}

#endif /* FIELDSYNC_STORE_FIXTURE_H */
