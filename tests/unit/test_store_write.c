/* Local writes: validation as the remote does it, write -> read mapping,
 * the outbox op and its base, coalescing. */
#include "tests/unit/store_fixture.h"

/* Expects STORE_INVALID with a detail on field (message containing msg). */
static void expect_invalid_update(store *s, store_entity e, const char *id, const char *fields,
                                  const char *field, const char *msg)
{
    int rc = fx_update(s, e, id, fields, T0);

    if (rc != STORE_INVALID)
        fail_msg("%s: expected STORE_INVALID, got %d", fields, rc);
    fx_assert_detail(s, field, msg);
}

static void expect_invalid_create(store *s, store_entity e, const char *parent,
                                  const char *fields, const char *field, const char *msg)
{
    int rc = fx_create(s, e, parent, fields, T0, NULL);

    if (rc != STORE_INVALID)
        fail_msg("%s: expected STORE_INVALID, got %d", fields, rc);
    fx_assert_detail(s, field, msg);
}

static void test_customer_validation(void **state)
{
    fx *f = *state;
    store *s = f->s;
    char *name201 = malloc(202);

    fx_seed(s);
    expect_invalid_create(s, ENT_CUSTOMER, NULL, "{\"email\":\"a@b\"}", "name", "is required");
    expect_invalid_update(s, ENT_CUSTOMER, "cust-1", "{\"name\":\"\"}", "name", "blank");
    expect_invalid_update(s, ENT_CUSTOMER, "cust-1", "{\"name\":\"   \"}", "name", "blank");
    expect_invalid_update(s, ENT_CUSTOMER, "cust-1", "{\"name\":42}", "name", "string");
    memset(name201, 'n', 201);
    name201[201] = '\0';
    char *body = fx_fmt("{\"name\":\"%s\"}", name201);
    expect_invalid_update(s, ENT_CUSTOMER, "cust-1", body, "name", "200");
    free(body);
    /* 200 characters of 2-byte UTF-8 are still 200 characters */
    char *u200 = malloc(401);
    for (int i = 0; i < 200; i++)
        memcpy(u200 + 2 * i, "\xc3\xa9", 2);
    u200[400] = '\0';
    body = fx_fmt("{\"name\":\"%s\"}", u200);
    assert_int_equal(fx_update(s, ENT_CUSTOMER, "cust-1", body, T0), STORE_OK);
    free(body);
    free(u200);
    free(name201);
    expect_invalid_update(s, ENT_CUSTOMER, "cust-1", "{\"customer_type\":\"industrial\"}",
                          "customer_type", "commercial, residential");
    expect_invalid_update(s, ENT_CUSTOMER, "cust-1", "{\"status\":\"deleted\"}", "status",
                          "active, inactive");
    expect_invalid_update(s, ENT_CUSTOMER, "cust-1", "{\"payment_terms\":\"net90\"}",
                          "payment_terms", "net60");
    expect_invalid_update(s, ENT_CUSTOMER, "cust-1", "{\"email\":\"nobody\"}", "email", "email");
    assert_int_equal(fx_update(s, ENT_CUSTOMER, "cust-1", "{\"email\":\"\"}", T0), STORE_OK);
    expect_invalid_update(s, ENT_CUSTOMER, "cust-1", "{\"phone\":5551234}", "phone", "string");
    /* null clears a nullable field, as on the remote (issue 13) */
    assert_int_equal(fx_update(s, ENT_CUSTOMER, "cust-1", "{\"fax\":null}", T0), STORE_OK);
    expect_invalid_update(s, ENT_CUSTOMER, "cust-1", "{\"status\":null}", "status", "string");
    expect_invalid_update(s, ENT_CUSTOMER, "cust-1", "{\"website\":[]}", "website", "string");
    expect_invalid_update(s, ENT_CUSTOMER, "cust-1", "{\"tax_id\":true}", "tax_id", "string");
    expect_invalid_update(s, ENT_CUSTOMER, "cust-1", "{\"branch_id\":1}", "branch_id", "string");
    expect_invalid_update(s, ENT_CUSTOMER, "cust-1", "{\"address\":\"1 Main St\"}", "address",
                          "object");
    assert_int_equal(fx_update(s, ENT_CUSTOMER, "cust-1", "{\"address\":null}", T0), STORE_OK);
    expect_invalid_update(s, ENT_CUSTOMER, "cust-1", "{\"address\":{\"zip\":\"1\"}}",
                          "address.zip", "unknown field");
    expect_invalid_update(s, ENT_CUSTOMER, "cust-1", "{\"billing_address\":{\"city\":7}}",
                          "billing_address.city", "string");
    expect_invalid_update(s, ENT_CUSTOMER, "cust-1", "{\"custom_fields\":{\"n\":5}}",
                          "custom_fields.n", "string");
    expect_invalid_update(s, ENT_CUSTOMER, "cust-1", "{\"customer_number\":\"C-9\"}",
                          "customer_number", "unknown field");
    expect_invalid_update(s, ENT_CUSTOMER, "cust-1", "{\"id\":\"x\"}", "id", "unknown field");
    /* all problems are reported, not just the first */
    expect_invalid_update(s, ENT_CUSTOMER, "cust-1", "{\"bogus\":1,\"status\":\"x\",\"email\":\"y\"}",
                          "bogus", "unknown field");
    fx_assert_detail(s, "status", NULL);
    fx_assert_detail(s, "email", NULL);
    /* nothing invalid was applied or queued */
    cJSON *j = fx_get(s, ENT_CUSTOMER, "cust-1");
    assert_string_equal(fx_str(j, "status"), "active");
    cJSON_Delete(j);
}

static void test_duplicate_keys_rejected(void **state)
{
    fx *f = *state;
    store *s = f->s;

    fx_seed(s);
    expect_invalid_update(s, ENT_CUSTOMER, "cust-1", "{\"notes\":\"a\",\"notes\":\"b\"}", "notes",
                          "duplicate");
    expect_invalid_update(s, ENT_CUSTOMER, "cust-1",
                          "{\"address\":{\"city\":\"a\",\"city\":\"b\"}}", "city", "duplicate");
    assert_int_equal(fx_outbox_len(s), 0);
}

static void test_contact_validation(void **state)
{
    fx *f = *state;
    store *s = f->s;

    fx_seed(s);
    expect_invalid_create(s, ENT_CONTACT, "cust-1", "{\"title\":\"x\"}", "name", "is required");
    expect_invalid_create(s, ENT_CONTACT, "cust-404", "{\"name\":\"x\"}", "customer_id",
                          "Customer not found");
    expect_invalid_create(s, ENT_CONTACT, NULL, "{\"name\":\"x\"}", "customer_id",
                          "Customer not found");
    expect_invalid_update(s, ENT_CONTACT, "con-1", "{\"is_primary\":\"yes\"}", "is_primary",
                          "boolean");
    expect_invalid_update(s, ENT_CONTACT, "con-1", "{\"customer_id\":\"cust-2\"}", "customer_id",
                          "unknown field");
    assert_int_equal(fx_update(s, ENT_CONTACT, "con-1", "{\"is_primary\":false}", T0), STORE_OK);
}

static void test_work_order_validation(void **state)
{
    fx *f = *state;
    store *s = f->s;
    char *text10001 = malloc(10002);

    fx_seed(s);
    fx_put(s, ENT_CUSTOMER, fx_customer_json("cust-2", "Other", "C-2", "2024-01-20T14:15:00Z"),
           NULL, 0);
    fx_put(s, ENT_CONTACT, fx_contact_json("con-2", "cust-2", "Bob", "2024-01-01T00:00:00Z"),
           "cust-2", 0);
    expect_invalid_create(s, ENT_WORK_ORDER, NULL, "{\"priority\":\"low\"}", "customer_id",
                          "is required");
    expect_invalid_create(s, ENT_WORK_ORDER, NULL, "{\"customer_id\":\"cust-404\"}",
                          "customer_id", "Customer not found");
    expect_invalid_create(s, ENT_WORK_ORDER, NULL, "{\"customer_id\":7}", "customer_id", "string");
    /* the contact must belong to the work order's customer */
    expect_invalid_create(s, ENT_WORK_ORDER, NULL,
                          "{\"customer_id\":\"cust-1\",\"contact_id\":\"con-2\"}", "contact_id",
                          "Contact not found");
    expect_invalid_update(s, ENT_WORK_ORDER, "wo-1", "{\"contact_id\":\"con-2\"}", "contact_id",
                          "Contact not found");
    expect_invalid_update(s, ENT_WORK_ORDER, "wo-1", "{\"contact_id\":\"con-404\"}",
                          "contact_id", "Contact not found");
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, "wo-1",
                               "{\"customer_id\":\"cust-2\",\"contact_id\":\"con-2\"}", T0),
                     STORE_OK);
    expect_invalid_update(s, ENT_WORK_ORDER, "wo-1", "{\"status\":\"done\"}", "status",
                          "draft, open, assigned, in_progress, on_hold, completed, cancelled");
    expect_invalid_update(s, ENT_WORK_ORDER, "wo-1", "{\"priority\":\"asap\"}", "priority",
                          "urgent");
    expect_invalid_update(s, ENT_WORK_ORDER, "wo-1", "{\"work_order_type\":\"fun\"}",
                          "work_order_type", "inspection");
    expect_invalid_update(s, ENT_WORK_ORDER, "wo-1", "{\"scheduled_date\":\"2024-02-01\"}",
                          "scheduled_date", "RFC 3339");
    expect_invalid_update(s, ENT_WORK_ORDER, "wo-1",
                          "{\"scheduled_date\":\"2024-02-01T10:00:00+02:00\"}", "scheduled_date",
                          "UTC");
    expect_invalid_update(s, ENT_WORK_ORDER, "wo-1", "{\"estimated_duration\":1.5}",
                          "estimated_duration", "integer");
    expect_invalid_update(s, ENT_WORK_ORDER, "wo-1", "{\"estimated_duration\":\"90\"}",
                          "estimated_duration", "integer");
    expect_invalid_update(s, ENT_WORK_ORDER, "wo-1", "{\"estimated_duration\":-1}",
                          "estimated_duration", "between 0 and 100000");
    expect_invalid_update(s, ENT_WORK_ORDER, "wo-1", "{\"estimated_duration\":100001}",
                          "estimated_duration", "between 0 and 100000");
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, "wo-1", "{\"estimated_duration\":100000}", T0),
                     STORE_OK);
    memset(text10001, 'd', 10001);
    text10001[10001] = '\0';
    char *body = fx_fmt("{\"description\":\"%s\"}", text10001);
    expect_invalid_update(s, ENT_WORK_ORDER, "wo-1", body, "description", "10000");
    free(body);
    body = fx_fmt("{\"notes\":\"%s\"}", text10001 + 1);
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, "wo-1", body, T0), STORE_OK);
    free(body);
    free(text10001);
    expect_invalid_update(s, ENT_WORK_ORDER, "wo-1", "{\"technician_id\":5}", "technician_id",
                          "string");
    expect_invalid_update(s, ENT_WORK_ORDER, "wo-1", "{\"tasks\":[]}", "tasks", "unknown field");
    expect_invalid_update(s, ENT_WORK_ORDER, "wo-1", "{\"customer\":{\"id\":\"cust-1\"}}",
                          "customer", "unknown field");
}

static void test_assets_read_only_and_missing(void **state)
{
    fx *f = *state;
    store *s = f->s;

    fx_seed(s);
    assert_int_equal(fx_update(s, ENT_ASSET, "ast-1", "{\"name\":\"x\"}", T0), STORE_STATE);
    assert_int_equal(fx_create(s, ENT_ASSET, "cust-1", "{\"name\":\"x\"}", T0, NULL), STORE_STATE);
    assert_int_equal(store_local_delete(s, ENT_ASSET, "ast-1", T0), STORE_STATE);
    assert_int_equal(fx_update(s, ENT_CUSTOMER, "cust-404", "{\"notes\":\"x\"}", T0),
                     STORE_NOTFOUND);
    assert_int_equal(store_local_delete(s, ENT_CUSTOMER, "cust-404", T0), STORE_NOTFOUND);
    assert_int_equal(fx_outbox_len(s), 0);
}

/* write shape in, read shape out: ids become objects with known names */
static void test_write_to_read_mapping(void **state)
{
    fx *f = *state;
    store *s = f->s;
    char *id = NULL;
    cJSON *j;

    fx_seed(s);
    fx_put(s, ENT_WORK_ORDER, fx_wo_json("wo-2", "cust-1", "tech-007", "2024-03-06T09:00:00Z",
                                         "open", "2024-01-25T10:15:00Z"), NULL, 0);
    assert_int_equal(fx_create(s, ENT_WORK_ORDER, NULL,
                               "{\"customer_id\":\"cust-1\",\"contact_id\":\"con-1\","
                               "\"technician_id\":\"tech-007\",\"work_order_type\":\"repair\","
                               "\"scheduled_date\":\"2024-03-07T10:00:00Z\","
                               "\"description\":\"Fix AC\"}",
                               T0, &id),
                     STORE_OK);
    assert_non_null(strstr(id, "local-"));
    assert_int_equal(strlen(id), 6 + 36);
    j = fx_get(s, ENT_WORK_ORDER, id);
    assert_string_equal(fx_str(j, "customer.id"), "cust-1");
    assert_string_equal(fx_str(j, "customer.name"), "Acme Corp");
    assert_string_equal(fx_str(j, "customer.address"), "1 Main St, Springfield, IL 62701");
    assert_string_equal(fx_str(j, "contact.name"), "John Smith");
    assert_string_equal(fx_str(j, "contact.phone"), "+1-555-0111");
    assert_string_equal(fx_str(j, "technician.name"), "Tech tech-007");
    /* the remote's defaults */
    assert_string_equal(fx_str(j, "status"), "open");
    assert_string_equal(fx_str(j, "priority"), "medium");
    assert_string_equal(fx_str(j, "created_at"), "2024-03-01T00:00:00.000Z");
    /* a provisional number of the remote's type, flagged (issue 13) */
    assert_non_null(fx_str(j, "work_order_number"));
    assert_int_equal(strncmp(fx_str(j, "work_order_number"), "LOCAL-", 6), 0);
    assert_int_equal(strlen(fx_str(j, "work_order_number")), 6 + 16);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "_sync"),
                                                 "provisional_number")));
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(j, "tasks")));
    assert_string_equal(fx_sync(j), "pending");
    cJSON_Delete(j);
    /* unassign; an unknown technician gets a null name */
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, id, "{\"technician_id\":null}", T0), STORE_OK);
    j = fx_get(s, ENT_WORK_ORDER, id);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "technician")));
    cJSON_Delete(j);
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, id, "{\"technician_id\":\"tech-new\"}", T0),
                     STORE_OK);
    j = fx_get(s, ENT_WORK_ORDER, id);
    assert_string_equal(fx_str(j, "technician.id"), "tech-new");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "technician"), "name")));
    cJSON_Delete(j);
    free(id);
    /* a customer: branch_id -> branch {id, name known from another customer} */
    assert_int_equal(fx_create(s, ENT_CUSTOMER, NULL,
                               "{\"name\":\"New Co\",\"branch_id\":\"branch-001\"}", T0, &id),
                     STORE_OK);
    j = fx_get(s, ENT_CUSTOMER, id);
    assert_string_equal(fx_str(j, "branch.name"), "Midwest");
    assert_string_equal(fx_str(j, "status"), "active");
    assert_int_equal(strncmp(fx_str(j, "customer_number"), "LOCAL-", 6), 0);
    cJSON_Delete(j);
    free(id);
    /* the list filter columns follow the local view */
    store_query q = {.technician_id = "tech-007"};
    cJSON *p = fx_list(s, ENT_WORK_ORDER, &q);
    assert_int_equal(fx_meta(p, "total_count"), 1); /* wo-2; ours moved to tech-new */
    cJSON_Delete(p);
}

static void test_write_view(void **state)
{
    (void)state;
    cJSON *rec = cJSON_Parse("{\"id\":\"wo\",\"customer\":{\"id\":\"c1\",\"name\":\"A\"},"
                             "\"contact\":null,\"technician\":{\"id\":\"t1\",\"name\":\"T\"},"
                             "\"notes\":\"n\"}");
    cJSON *names = cJSON_Parse("[\"customer_id\",\"contact_id\",\"technician_id\",\"notes\","
                               "\"priority\"]");
    cJSON *wv = store_write_view(ENT_WORK_ORDER, rec, names);

    assert_string_equal(fx_str(wv, "customer_id"), "c1");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(wv, "contact_id")));
    assert_string_equal(fx_str(wv, "technician_id"), "t1");
    assert_string_equal(fx_str(wv, "notes"), "n");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(wv, "priority")));
    cJSON_Delete(wv);
    /* names given as an object's keys */
    cJSON *obj = cJSON_Parse("{\"customer_id\":\"x\"}");
    wv = store_write_view(ENT_WORK_ORDER, rec, obj);
    assert_int_equal(cJSON_GetArraySize(wv), 1);
    assert_string_equal(fx_str(wv, "customer_id"), "c1");
    cJSON_Delete(wv);
    cJSON_Delete(obj);
    /* apply without a store: ids mapped, names unknown */
    cJSON *fields = cJSON_Parse("{\"customer_id\":\"c2\",\"notes\":\"m\"}");
    assert_int_equal(store_apply_fields(NULL, ENT_WORK_ORDER, rec, fields), STORE_OK);
    assert_string_equal(fx_str(rec, "customer.id"), "c2");
    assert_string_equal(fx_str(rec, "notes"), "m");
    cJSON_Delete(fields);
    cJSON_Delete(rec);
    cJSON_Delete(names);
}

/* ---- the op and its base ------------------------------------------------- */

static cJSON *op_at(cJSON *outbox, int i)
{
    return cJSON_GetArrayItem(outbox, i);
}

static void test_update_op_and_base(void **state)
{
    fx *f = *state;
    store *s = f->s;
    cJSON *ob, *op;

    fx_seed(s);
    /* equal values are no edit: no op */
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, "wo-1",
                               "{\"notes\":\"orig\",\"technician_id\":\"tech-001\"}", T0),
                     STORE_OK);
    assert_int_equal(fx_outbox_len(s), 0);
    fx_assert_state(s, ENT_WORK_ORDER, "wo-1", "synced");
    /* only the changed fields are in the op, with their remote base */
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, "wo-1",
                               "{\"notes\":\"new\",\"technician_id\":\"tech-001\","
                               "\"status\":\"in_progress\"}",
                               T0),
                     STORE_OK);
    ob = fx_outbox(s);
    assert_int_equal(cJSON_GetArraySize(ob), 1);
    op = op_at(ob, 0);
    assert_string_equal(fx_str(op, "kind"), "update");
    assert_string_equal(fx_str(op, "state"), "pending");
    assert_string_equal(fx_str(op, "entity"), "work_order");
    assert_string_equal(fx_str(op, "record_id"), "wo-1");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(op, "fields")), 2);
    assert_string_equal(fx_str(op, "fields.notes"), "new");
    assert_string_equal(fx_str(op, "fields.status"), "in_progress");
    assert_string_equal(fx_str(op, "base_values.notes"), "orig");
    assert_string_equal(fx_str(op, "base_values.status"), "open");
    assert_string_equal(fx_str(op, "base_updated_at"), "2024-01-25T10:15:00Z");
    assert_string_equal(fx_str(op, "edited_at"), "2024-03-01T00:00:00.000Z");
    assert_int_equal(strlen(fx_str(op, "op_id")), 36);
    cJSON_Delete(ob);
}

static void test_coalesce_update_update(void **state)
{
    fx *f = *state;
    store *s = f->s;
    cJSON *ob, *op;

    fx_seed(s);
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, "wo-1", "{\"notes\":\"one\"}", T0), STORE_OK);
    /* a newer remote version arrives between the edits */
    char *newer = fx_wo_json("wo-1", "cust-1", "tech-001", "2024-03-05T09:00:00Z", "assigned",
                             "2024-02-01T00:00:00Z");
    assert_int_equal(fx_put(s, ENT_WORK_ORDER, newer, NULL, 0), UPSERT_REBASED);
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, "wo-1",
                               "{\"notes\":\"two\",\"status\":\"in_progress\"}", T0 + MIN_MS),
                     STORE_OK);
    ob = fx_outbox(s);
    assert_int_equal(cJSON_GetArraySize(ob), 1);
    op = op_at(ob, 0);
    assert_string_equal(fx_str(op, "fields.notes"), "two");       /* later value wins */
    assert_string_equal(fx_str(op, "fields.status"), "in_progress");
    assert_string_equal(fx_str(op, "base_values.notes"), "orig"); /* earliest base kept */
    assert_string_equal(fx_str(op, "base_values.status"), "assigned"); /* new field: current remote */
    assert_string_equal(fx_str(op, "base_updated_at"), "2024-01-25T10:15:00Z");
    assert_string_equal(fx_str(op, "edited_at"), "2024-03-01T00:01:00.000Z");
    cJSON_Delete(ob);
}

static void test_coalesce_create_update_delete(void **state)
{
    fx *f = *state;
    store *s = f->s;
    char *id = NULL, *out = NULL;
    cJSON *ob;
    int64_t n;

    fx_seed(s);
    assert_int_equal(fx_create(s, ENT_CONTACT, "cust-1", "{\"name\":\"Jane\"}", T0, &id),
                     STORE_OK);
    assert_int_equal(fx_update(s, ENT_CONTACT, id, "{\"title\":\"Owner\"}", T0 + 1), STORE_OK);
    ob = fx_outbox(s);
    assert_int_equal(cJSON_GetArraySize(ob), 1); /* create+update -> one create */
    assert_string_equal(fx_str(op_at(ob, 0), "kind"), "create");
    assert_string_equal(fx_str(op_at(ob, 0), "fields.name"), "Jane");
    assert_string_equal(fx_str(op_at(ob, 0), "fields.title"), "Owner");
    assert_string_equal(fx_str(op_at(ob, 0), "parent_id"), "cust-1");
    cJSON_Delete(ob);
    cJSON *j = fx_get(s, ENT_CONTACT, id);
    assert_string_equal(fx_str(j, "customer_id"), "cust-1");
    assert_string_equal(fx_str(j, "title"), "Owner");
    cJSON_Delete(j);
    /* create+delete -> nothing, and the record is gone */
    assert_int_equal(store_local_delete(s, ENT_CONTACT, id, T0 + 2), STORE_OK);
    assert_int_equal(fx_outbox_len(s), 0);
    store_record rec;
    assert_int_equal(store_record_get(s, ENT_CONTACT, id, &rec), STORE_NOTFOUND);
    assert_int_equal(store_get(s, ENT_CONTACT, id, &out), STORE_NOTFOUND);
    assert_int_equal(store_count(s, ENT_CONTACT, &n), STORE_OK);
    assert_int_equal(n, 1);
    free(id);
}

static void test_coalesce_update_delete(void **state)
{
    fx *f = *state;
    store *s = f->s;
    cJSON *ob;

    fx_seed(s);
    assert_int_equal(fx_update(s, ENT_CONTACT, "con-1", "{\"title\":\"X\"}", T0), STORE_OK);
    assert_int_equal(store_local_delete(s, ENT_CONTACT, "con-1", T0 + 5), STORE_OK);
    ob = fx_outbox(s);
    assert_int_equal(cJSON_GetArraySize(ob), 1);
    assert_string_equal(fx_str(op_at(ob, 0), "kind"), "delete");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(op_at(ob, 0), "fields")), 0);
    assert_string_equal(fx_str(op_at(ob, 0), "base_updated_at"), "2024-01-20T14:15:00Z");
    cJSON_Delete(ob);
    /* a deleted record takes no more edits */
    assert_int_equal(fx_update(s, ENT_CONTACT, "con-1", "{\"title\":\"Y\"}", T0), STORE_NOTFOUND);
    assert_int_equal(store_local_delete(s, ENT_CONTACT, "con-1", T0), STORE_NOTFOUND);
}

/* An op that was ever attempted is never coalesced into. */
static void test_never_coalesce_into_attempted(void **state)
{
    fx *f = *state;
    store *s = f->s;
    store_op *ops = NULL;
    int n = 0;
    cJSON *ob;
    char *id = NULL;

    fx_seed(s);
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, "wo-1", "{\"notes\":\"a\"}", T0), STORE_OK);
    assert_int_equal(store_outbox_claim(s, T0, 10, &ops, &n), STORE_OK);
    assert_int_equal(n, 1);
    /* in flight: a new edit queues a second op */
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, "wo-1", "{\"notes\":\"b\"}", T0), STORE_OK);
    assert_int_equal(fx_outbox_len(s), 2);
    /* back to pending after a transient failure: still attempted */
    assert_int_equal(store_op_retry_later(s, ops[0].op_id, T0 + 1000, "timeout"), STORE_OK);
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, "wo-1", "{\"notes\":\"c\"}", T0), STORE_OK);
    ob = fx_outbox(s);
    assert_int_equal(cJSON_GetArraySize(ob), 2); /* c joined b, not a */
    assert_string_equal(fx_str(op_at(ob, 0), "fields.notes"), "a");
    assert_int_equal(cJSON_GetObjectItem(op_at(ob, 0), "attempts")->valueint, 1);
    assert_string_equal(fx_str(op_at(ob, 1), "fields.notes"), "c");
    cJSON_Delete(ob);
    store_ops_free(ops, n);

    /* a created record whose create was attempted: the delete is queued after it */
    assert_int_equal(fx_create(s, ENT_CUSTOMER, NULL, "{\"name\":\"Tmp\"}", T0, &id), STORE_OK);
    assert_int_equal(store_outbox_claim(s, T0, 10, &ops, &n), STORE_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ops[0].record_id, id);
    assert_int_equal(store_local_delete(s, ENT_CUSTOMER, id, T0), STORE_OK);
    ob = fx_outbox(s);
    assert_int_equal(cJSON_GetArraySize(ob), 4);
    assert_string_equal(fx_str(op_at(ob, 2), "kind"), "create");
    assert_string_equal(fx_str(op_at(ob, 3), "kind"), "delete");
    assert_string_equal(fx_str(op_at(ob, 3), "record_id"), id);
    cJSON_Delete(ob);
    store_ops_free(ops, n);
    free(id);
}

static void test_delete_customer_with_active_work_orders(void **state)
{
    fx *f = *state;
    store *s = f->s;

    fx_seed(s);
    assert_int_equal(store_local_delete(s, ENT_CUSTOMER, "cust-1", T0), STORE_STATE);
    assert_non_null(strstr(store_errmsg(s), "active work orders"));
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, "wo-1", "{\"status\":\"completed\"}", T0),
                     STORE_OK);
    assert_int_equal(store_local_delete(s, ENT_CUSTOMER, "cust-1", T0), STORE_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FX_TEST(test_customer_validation),
        FX_TEST(test_duplicate_keys_rejected),
        FX_TEST(test_contact_validation),
        FX_TEST(test_work_order_validation),
        FX_TEST(test_assets_read_only_and_missing),
        FX_TEST(test_write_to_read_mapping),
        cmocka_unit_test(test_write_view),
        FX_TEST(test_update_op_and_base),
        FX_TEST(test_coalesce_update_update),
        FX_TEST(test_coalesce_create_update_delete),
        FX_TEST(test_coalesce_update_delete),
        FX_TEST(test_never_coalesce_into_attempted),
        FX_TEST(test_delete_customer_with_active_work_orders),
    };

    return cmocka_run_group_tests_name("store_write", tests, NULL, NULL);
}
