/* The replica: remote upserts and version order, rebase, reads and lists,
 * seen marks, eviction, remote deletes. */
#include "tests/unit/store_fixture.h"

static void test_upsert_order(void **state)
{
    fx *f = *state;
    store *s = f->s;
    store_upsert_result r;
    char *etag = NULL;

    assert_int_equal(fx_put(s, ENT_CUSTOMER, fx_customer_json("cust-1", "Acme", "C-1",
                                                              "2024-01-20T14:15:00Z"), NULL, 1),
                     UPSERT_APPLIED);
    /* same version: unchanged, but the ETag is refreshed */
    char *same = fx_customer_json("cust-1", "Acme", "C-1", "2024-01-20T14:15:00Z");
    assert_int_equal(store_remote_upsert(s, ENT_CUSTOMER, same, "\"e2\"", NULL, 2, &r), STORE_OK);
    assert_int_equal(r, UPSERT_UNCHANGED);
    free(same);
    assert_int_equal(store_record_etag(s, ENT_CUSTOMER, "cust-1", &etag), STORE_OK);
    assert_string_equal(etag, "\"e2\"");
    free(etag);
    /* newer: applied */
    assert_int_equal(fx_put(s, ENT_CUSTOMER, fx_customer_json("cust-1", "Acme Newer", "C-1",
                                                              "2024-01-21T00:00:00Z"), NULL, 2),
                     UPSERT_APPLIED);
    /* older: ignored, never replaces the newer one */
    assert_int_equal(fx_put(s, ENT_CUSTOMER, fx_customer_json("cust-1", "Acme Old", "C-1",
                                                              "2024-01-20T23:59:59.999Z"), NULL, 3),
                     UPSERT_STALE);
    fx_assert_str(s, ENT_CUSTOMER, "cust-1", "name", "Acme Newer");
    fx_assert_state(s, ENT_CUSTOMER, "cust-1", "synced");
    /* The same version (an instant in another offset is the same one) with
     * another body: a field shown from another record changed without the
     * version moving.  Not older, so the remote's copy is taken... */
    assert_int_equal(fx_put(s, ENT_CUSTOMER, fx_customer_json("cust-1", "Acme Same", "C-1",
                                                              "2024-01-21T01:00:00+01:00"), NULL, 3),
                     UPSERT_APPLIED);
    fx_assert_str(s, ENT_CUSTOMER, "cust-1", "name", "Acme Same");
    /* ...and the same bytes again change nothing */
    assert_int_equal(fx_put(s, ENT_CUSTOMER, fx_customer_json("cust-1", "Acme Same", "C-1",
                                                              "2024-01-21T01:00:00+01:00"), NULL, 3),
                     UPSERT_UNCHANGED);
}

static void test_upsert_rejects_bad_records(void **state)
{
    fx *f = *state;
    store *s = f->s;
    store_upsert_result r;
    int64_t n = -1;
    static const char *const bad[] = {
        "not json",
        "[1,2]",
        "{\"name\":\"no id\",\"updated_at\":\"2024-01-01T00:00:00Z\"}",
        "{\"id\":\"\",\"updated_at\":\"2024-01-01T00:00:00Z\"}",
        "{\"id\":7,\"updated_at\":\"2024-01-01T00:00:00Z\"}",
        "{\"id\":\"c\"}",
        "{\"id\":\"c\",\"updated_at\":\"last tuesday\"}",
        "{\"id\":\"c\",\"updated_at\":\"2024-01-01T00:00:00Z\",\"name\":\"a\",\"name\":\"b\"}",
        "{\"id\":\"c\",\"updated_at\":\"2024-01-01T00:00:00Z\",\"address\":{\"city\":\"a\",\"city\":\"b\"}}",
        "{\"id\":\"c\",\"updated_at\":\"2024-01-01T00:00:00Z\"} trailing",
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(store_remote_upsert(s, ENT_CUSTOMER, bad[i], NULL, NULL, 1, &r),
                         STORE_INVALID);
    /* The same checks on a record handed already parsed (the pull's way):
     * all but the first and last, which are not a bad parsed record. */
    for (size_t i = 1; i + 1 < sizeof bad / sizeof bad[0]; i++) {
        cJSON *j = cJSON_Parse(bad[i]);
        assert_non_null(j);
        assert_int_equal(store_remote_upsert_item(s, ENT_CUSTOMER, j, NULL, NULL, 1, &r),
                         STORE_INVALID);
        cJSON_Delete(j);
    }
    /* an id over 128 bytes */
    char *longid = fx_fmt("{\"id\":\"%0200d\",\"updated_at\":\"2024-01-01T00:00:00Z\"}", 1);
    assert_int_equal(store_remote_upsert(s, ENT_CUSTOMER, longid, NULL, NULL, 1, &r),
                     STORE_INVALID);
    free(longid);
    /* over 1 MiB */
    size_t big = 1024 * 1024 + 100;
    char *huge = malloc(big + 1);
    int off = snprintf(huge, big, "{\"id\":\"c\",\"updated_at\":\"2024-01-01T00:00:00Z\",\"notes\":\"");
    memset(huge + off, 'x', big - (size_t)off - 2);
    huge[big - 2] = '"';
    huge[big - 1] = '}';
    huge[big] = '\0';
    assert_int_equal(store_remote_upsert(s, ENT_CUSTOMER, huge, NULL, NULL, 1, &r), STORE_INVALID);
    free(huge);
    {
        /* a parsed record whose text would pass 1 MiB */
        cJSON *j = cJSON_CreateObject();
        char *notes = malloc(big);
        memset(notes, 'x', big - 1);
        notes[big - 1] = '\0';
        cJSON_AddStringToObject(j, "id", "c");
        cJSON_AddStringToObject(j, "updated_at", "2024-01-01T00:00:00Z");
        cJSON_AddStringToObject(j, "notes", notes);
        assert_int_equal(store_remote_upsert_item(s, ENT_CUSTOMER, j, NULL, NULL, 1, &r),
                         STORE_INVALID);
        free(notes);
        cJSON_Delete(j);
    }
    assert_int_equal(store_count(s, ENT_CUSTOMER, &n), STORE_OK);
    assert_int_equal(n, 0);
    /* contacts may lack updated_at: they apply, and equal text is unchanged */
    const char *c = "{\"id\":\"con-9\",\"customer_id\":\"cust-1\",\"name\":\"Z\"}";
    assert_int_equal(store_remote_upsert(s, ENT_CONTACT, c, NULL, NULL, 1, &r), STORE_OK);
    assert_int_equal(r, UPSERT_APPLIED);
    assert_int_equal(store_remote_upsert(s, ENT_CONTACT, c, NULL, NULL, 1, &r), STORE_OK);
    assert_int_equal(r, UPSERT_UNCHANGED);
    {
        cJSON *j = cJSON_Parse(c);
        assert_int_equal(store_remote_upsert_item(s, ENT_CONTACT, j, NULL, NULL, 1, &r), STORE_OK);
        assert_int_equal(r, UPSERT_UNCHANGED);
        cJSON_Delete(j);
    }
}

/* Rebase: a newer remote version under pending edits keeps the edits. */
static void test_rebase_keeps_pending_edit(void **state)
{
    fx *f = *state;
    store *s = f->s;
    cJSON *j, *ob;
    char *newer;

    fx_seed(s);
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, "wo-1", "{\"notes\":\"gate code 1234\"}", T0),
                     STORE_OK);
    /* the dispatcher changed the priority and the description remotely */
    newer = fx_wo_json("wo-1", "cust-1", "tech-001", "2024-03-05T09:00:00Z", "open",
                       "2024-02-01T00:00:00Z");
    cJSON *nj = cJSON_Parse(newer);
    cJSON_ReplaceItemInObjectCaseSensitive(nj, "priority", cJSON_CreateString("urgent"));
    cJSON_ReplaceItemInObjectCaseSensitive(nj, "notes", cJSON_CreateString("remote notes"));
    free(newer);
    newer = cJSON_PrintUnformatted(nj);
    cJSON_Delete(nj);
    assert_int_equal(fx_put(s, ENT_WORK_ORDER, newer, NULL, 1), UPSERT_REBASED);
    j = fx_get(s, ENT_WORK_ORDER, "wo-1");
    assert_string_equal(fx_str(j, "notes"), "gate code 1234"); /* ours kept */
    assert_string_equal(fx_str(j, "priority"), "urgent");      /* theirs taken */
    assert_string_equal(fx_sync(j), "pending");
    cJSON_Delete(j);
    /* the op still carries the base it was made against */
    ob = fx_outbox(s);
    assert_int_equal(cJSON_GetArraySize(ob), 1);
    assert_string_equal(fx_str(cJSON_GetArrayItem(ob, 0), "base_values.notes"), "orig");
    assert_string_equal(fx_str(cJSON_GetArrayItem(ob, 0), "base_updated_at"),
                        "2024-01-25T10:15:00Z");
    cJSON_Delete(ob);
    /* the stored remote version is the new one */
    store_record rec;
    assert_int_equal(store_record_get(s, ENT_WORK_ORDER, "wo-1", &rec), STORE_OK);
    assert_string_equal(rec.updated_at, "2024-02-01T00:00:00Z");
    assert_non_null(strstr(rec.remote_body, "remote notes"));
    assert_non_null(strstr(rec.body, "gate code 1234"));
    assert_int_equal(rec.state, STORE_SYNC_PENDING);
    store_record_release(&rec);
}

static void test_rebase_keeps_local_delete_hidden(void **state)
{
    fx *f = *state;
    store *s = f->s;
    char *out = NULL;

    fx_seed(s);
    assert_int_equal(store_local_delete(s, ENT_WORK_ORDER, "wo-1", T0), STORE_OK);
    assert_int_equal(fx_put(s, ENT_WORK_ORDER,
                            fx_wo_json("wo-1", "cust-1", "tech-001", "2024-03-05T09:00:00Z",
                                       "assigned", "2024-02-01T00:00:00Z"), NULL, 1),
                     UPSERT_REBASED);
    assert_int_equal(store_get(s, ENT_WORK_ORDER, "wo-1", &out), STORE_NOTFOUND);
    assert_null(out);
}

static void seed_many(store *s)
{
    char id[32], num[32], name[64];
    static const char *const names[] = {"Acme Corp", "Beta 100% Ltd", "Gamma_Co", "acme west",
                                        "Delta"};

    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "cust-%d", i);
        snprintf(num, sizeof num, "C-10%02d", i);
        snprintf(name, sizeof name, "%s", names[i]);
        fx_put(s, ENT_CUSTOMER, fx_customer_json(id, name, num, "2024-01-20T14:15:00Z"), NULL, 1);
    }
    for (int i = 0; i < 60; i++) {
        char sched[40];

        snprintf(id, sizeof id, "wo-%03d", i);
        snprintf(sched, sizeof sched, "2024-03-%02dT%02d:00:00Z", 1 + i % 20, 8 + i % 10);
        fx_put(s, ENT_WORK_ORDER,
               fx_wo_json(id, i % 2 ? "cust-1" : "cust-2", i % 3 ? "tech-001" : "tech-002",
                          sched, i % 4 ? "open" : "completed", "2024-02-01T00:00:00Z"),
               NULL, 1);
    }
}

static void test_list_pagination_meta(void **state)
{
    fx *f = *state;
    store_query q = {0};
    cJSON *p, *item;

    seed_many(f->s);
    p = fx_list(f->s, ENT_WORK_ORDER, &q);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(p, "data")), 25);
    assert_int_equal(fx_meta(p, "current_page"), 1);
    assert_int_equal(fx_meta(p, "total_pages"), 3);
    assert_int_equal(fx_meta(p, "total_count"), 60);
    item = cJSON_GetArrayItem(cJSON_GetObjectItem(p, "data"), 0);
    assert_string_equal(fx_str(item, "id"), "wo-000"); /* ordered by id */
    /* summary shape: the list fields only, customer {id, name}, plus _sync */
    assert_string_equal(fx_str(item, "customer.name"), "Acme");
    assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(item, "customer"), "address"));
    assert_null(cJSON_GetObjectItem(item, "tasks"));
    assert_null(cJSON_GetObjectItem(item, "updated_at"));
    assert_non_null(cJSON_GetObjectItem(item, "scheduled_date"));
    assert_non_null(cJSON_GetObjectItem(item, "priority"));
    assert_string_equal(fx_sync(item), "synced");
    cJSON_Delete(p);

    q.page = 3;
    p = fx_list(f->s, ENT_WORK_ORDER, &q);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(p, "data")), 10);
    assert_string_equal(fx_str(cJSON_GetArrayItem(cJSON_GetObjectItem(p, "data"), 9), "id"),
                        "wo-059");
    cJSON_Delete(p);
    q.page = 4;
    p = fx_list(f->s, ENT_WORK_ORDER, &q);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(p, "data")), 0);
    assert_int_equal(fx_meta(p, "total_count"), 60);
    cJSON_Delete(p);
    /* per_page is clamped to 100 */
    q.page = 1;
    q.per_page = 500;
    p = fx_list(f->s, ENT_WORK_ORDER, &q);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(p, "data")), 60);
    assert_int_equal(fx_meta(p, "total_pages"), 1);
    cJSON_Delete(p);
    q.per_page = 7;
    p = fx_list(f->s, ENT_WORK_ORDER, &q);
    assert_int_equal(fx_meta(p, "total_pages"), 9);
    cJSON_Delete(p);
    /* negative numbers are refused */
    char *out = NULL;
    q.per_page = -1;
    assert_int_equal(store_list(f->s, ENT_WORK_ORDER, &q, &out), STORE_INVALID);
    fx_assert_detail(f->s, "per_page", NULL);
    q.per_page = 0;
    q.page = -2;
    assert_int_equal(store_list(f->s, ENT_WORK_ORDER, &q, &out), STORE_INVALID);
    fx_assert_detail(f->s, "page", NULL);
    /* empty result */
    store_query none = {.technician_id = "tech-999"};
    p = fx_list(f->s, ENT_WORK_ORDER, &none);
    assert_int_equal(fx_meta(p, "total_count"), 0);
    assert_int_equal(fx_meta(p, "total_pages"), 0);
    cJSON_Delete(p);
}

static int count_of(store *s, store_entity e, store_query q)
{
    cJSON *p;
    int n;

    q.per_page = 100;
    p = fx_list(s, e, &q);
    n = fx_meta(p, "total_count");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(p, "data")), n < 100 ? n : 100);
    cJSON_Delete(p);
    return n;
}

static void test_list_filters(void **state)
{
    fx *f = *state;
    store *s = f->s;
    char *out = NULL;

    int want = 0;

    /* i in 0..59 with tech-001 (i%3 != 0), open (i%4 != 0), day 1..10 */
    for (int i = 0; i < 60; i++)
        want += i % 3 && i % 4 && i % 20 < 10;
    seed_many(s);
    assert_int_equal(count_of(s, ENT_WORK_ORDER, (store_query){.technician_id = "tech-002"}), 20);
    assert_int_equal(count_of(s, ENT_WORK_ORDER, (store_query){.customer_id = "cust-1"}), 30);
    assert_int_equal(count_of(s, ENT_WORK_ORDER, (store_query){.status = "completed"}), 15);
    /* dates inclusive, on the scheduled date's day */
    assert_int_equal(count_of(s, ENT_WORK_ORDER,
                              (store_query){.from_date = "2024-03-01", .to_date = "2024-03-01"}),
                     3);
    assert_int_equal(count_of(s, ENT_WORK_ORDER,
                              (store_query){.from_date = "2024-03-19"}), 6);
    assert_int_equal(count_of(s, ENT_WORK_ORDER,
                              (store_query){.technician_id = "tech-001", .status = "open",
                                            .from_date = "2024-03-01", .to_date = "2024-03-10"}),
                     want);
    /* bad filter values */
    assert_int_equal(store_list(s, ENT_WORK_ORDER, &(store_query){.status = "bogus"}, &out),
                     STORE_INVALID);
    fx_assert_detail(s, "status", NULL);
    assert_int_equal(store_list(s, ENT_WORK_ORDER, &(store_query){.from_date = "03/01/2024"}, &out),
                     STORE_INVALID);
    fx_assert_detail(s, "from_date", NULL);
    assert_int_equal(store_list(s, ENT_CUSTOMER, &(store_query){.created_after = "soon"}, &out),
                     STORE_INVALID);
    assert_int_equal(store_list(s, ENT_CONTACT, NULL, &out), STORE_INVALID);
    fx_assert_detail(s, "customer_id", "required");
    assert_null(out);
    /* customers */
    assert_int_equal(count_of(s, ENT_CUSTOMER, (store_query){.branch_id = "branch-001"}), 5);
    assert_int_equal(count_of(s, ENT_CUSTOMER, (store_query){.branch_id = "branch-002"}), 0);
    assert_int_equal(count_of(s, ENT_CUSTOMER, (store_query){.status = "inactive"}), 0);
    assert_int_equal(count_of(s, ENT_CUSTOMER, (store_query){.created_after = "2023-06-15"}), 5);
    assert_int_equal(count_of(s, ENT_CUSTOMER, (store_query){.created_after = "2023-06-16"}), 0);
    /* strictly after, as the remote: a customer created at that instant is not listed */
    assert_int_equal(count_of(s, ENT_CUSTOMER,
                              (store_query){.created_after = "2023-06-15T10:29:59Z"}), 5);
    assert_int_equal(count_of(s, ENT_CUSTOMER,
                              (store_query){.created_after = "2023-06-15T10:30:00Z"}), 0);
}

static void test_search_is_literal_and_safe(void **state)
{
    fx *f = *state;
    store *s = f->s;

    seed_many(s);
    /* case-insensitive substring of name or number */
    assert_int_equal(count_of(s, ENT_CUSTOMER, (store_query){.search = "ACME"}), 2);
    assert_int_equal(count_of(s, ENT_CUSTOMER, (store_query){.search = "c-1003"}), 1);
    /* % and _ are literal */
    assert_int_equal(count_of(s, ENT_CUSTOMER, (store_query){.search = "100%"}), 1);
    assert_int_equal(count_of(s, ENT_CUSTOMER, (store_query){.search = "%"}), 1);
    assert_int_equal(count_of(s, ENT_CUSTOMER, (store_query){.search = "_"}), 1);
    assert_int_equal(count_of(s, ENT_CUSTOMER, (store_query){.search = "a_m"}), 0);
    assert_int_equal(count_of(s, ENT_CUSTOMER, (store_query){.search = "\\"}), 0);
    /* SQL-looking text matches nothing and breaks nothing */
    assert_int_equal(count_of(s, ENT_CUSTOMER, (store_query){.search = "' OR 1=1 --"}), 0);
    assert_int_equal(count_of(s, ENT_CUSTOMER, (store_query){.search = "\"; DROP TABLE records; --"}),
                     0);
    assert_int_equal(count_of(s, ENT_CUSTOMER, (store_query){0}), 5);
}

static void test_contacts_assets_lists(void **state)
{
    fx *f = *state;
    store *s = f->s;
    cJSON *p;

    fx_seed(s);
    fx_put(s, ENT_CONTACT, fx_contact_json("con-2", "cust-1", "Jane", "2024-01-01T00:00:00Z"),
           "cust-1", 0);
    p = fx_list(s, ENT_CONTACT, &(store_query){.customer_id = "cust-1"});
    assert_int_equal(fx_meta(p, "total_count"), 2);
    /* contacts and assets list items are whole records */
    assert_string_equal(fx_str(cJSON_GetArrayItem(cJSON_GetObjectItem(p, "data"), 0), "title"),
                        "Manager");
    cJSON_Delete(p);
    p = fx_list(s, ENT_ASSET, &(store_query){.customer_id = "cust-1"});
    assert_int_equal(fx_meta(p, "total_count"), 1);
    assert_string_equal(fx_str(cJSON_GetArrayItem(cJSON_GetObjectItem(p, "data"), 0),
                               "serial_number"),
                        "SN1");
    cJSON_Delete(p);
    p = fx_list(s, ENT_ASSET, &(store_query){.customer_id = "cust-2"});
    assert_int_equal(fx_meta(p, "total_count"), 0);
    cJSON_Delete(p);
}

static void test_get_shapes_and_states(void **state)
{
    fx *f = *state;
    store *s = f->s;
    cJSON *j;
    char *out = NULL;
    int64_t n;

    fx_seed(s);
    j = fx_get(s, ENT_CUSTOMER, "cust-1");
    /* detail = the whole record + _sync */
    assert_string_equal(fx_str(j, "payment_terms"), "net30");
    assert_string_equal(fx_str(j, "address.city"), "Springfield");
    assert_string_equal(fx_sync(j), "synced");
    cJSON_Delete(j);
    assert_int_equal(store_get(s, ENT_CUSTOMER, "nope", &out), STORE_NOTFOUND);
    assert_int_equal(store_get(s, ENT_WORK_ORDER, "cust-1", &out), STORE_NOTFOUND);
    /* pending after an edit, hidden after a delete */
    assert_int_equal(fx_update(s, ENT_CUSTOMER, "cust-1", "{\"phone\":\"+1\"}", T0), STORE_OK);
    fx_assert_state(s, ENT_CUSTOMER, "cust-1", "pending");
    assert_int_equal(store_local_delete(s, ENT_CONTACT, "con-1", T0), STORE_OK);
    assert_int_equal(store_get(s, ENT_CONTACT, "con-1", &out), STORE_NOTFOUND);
    assert_int_equal(store_count(s, ENT_CONTACT, &n), STORE_OK);
    assert_int_equal(n, 0);
    /* the sync engine still sees it */
    store_record rec;
    assert_int_equal(store_record_get(s, ENT_CONTACT, "con-1", &rec), STORE_OK);
    assert_int_equal(rec.deleted_locally, 1);
    assert_string_equal(rec.parent_id, "cust-1");
    assert_int_equal(rec.state, STORE_SYNC_PENDING);
    store_record_release(&rec);
}

static void test_evict_unseen(void **state)
{
    fx *f = *state;
    store *s = f->s;
    int64_t gen = 0, ev = 0, n = 0;
    char *out = NULL;

    fx_seed(s);
    fx_put(s, ENT_CUSTOMER, fx_customer_json("cust-2", "Other", "C-2", "2024-01-20T14:15:00Z"),
           NULL, 0);
    fx_put(s, ENT_CONTACT, fx_contact_json("con-2", "cust-2", "Bob", "2024-01-01T00:00:00Z"),
           "cust-2", 0);
    fx_put(s, ENT_CUSTOMER, fx_customer_json("cust-3", "Edited", "C-3", "2024-01-20T14:15:00Z"),
           NULL, 0);
    assert_int_equal(fx_update(s, ENT_CUSTOMER, "cust-3", "{\"notes\":\"mine\"}", T0), STORE_OK);
    /* a pull that sees only cust-1 (and, by 304, its children) */
    assert_int_equal(store_pull_begin(s, &gen), STORE_OK);
    char *c1 = fx_customer_json("cust-1", "Acme Corp", "C-1001", "2024-01-20T14:15:00Z");
    store_upsert_result r;
    assert_int_equal(store_remote_upsert(s, ENT_CUSTOMER, c1, NULL, NULL, gen, &r), STORE_OK);
    free(c1);
    assert_int_equal(store_mark_children_seen(s, "cust-1", gen), STORE_OK);
    assert_int_equal(store_mark_seen(s, ENT_WORK_ORDER, "wo-1", gen), STORE_OK);
    assert_int_equal(store_mark_seen(s, ENT_WORK_ORDER, "wo-404", gen), STORE_NOTFOUND);
    assert_int_equal(store_evict_unseen(s, ENT_CUSTOMER, gen, &ev), STORE_OK);
    /* cust-2 and its contact went; cust-3 has a pending edit and stays */
    assert_int_equal(ev, 2);
    assert_int_equal(store_get(s, ENT_CUSTOMER, "cust-2", &out), STORE_NOTFOUND);
    assert_int_equal(store_get(s, ENT_CONTACT, "con-2", &out), STORE_NOTFOUND);
    fx_assert_state(s, ENT_CUSTOMER, "cust-3", "pending");
    assert_int_equal(store_evict_unseen(s, ENT_CONTACT, gen, &ev), STORE_OK);
    assert_int_equal(ev, 0);
    assert_int_equal(store_evict_unseen(s, ENT_WORK_ORDER, gen, &ev), STORE_OK);
    assert_int_equal(ev, 0);
    assert_int_equal(store_count(s, ENT_CUSTOMER, &n), STORE_OK);
    assert_int_equal(n, 2);
    /* the next generation without anything seen: only the edited one stays */
    assert_int_equal(store_pull_begin(s, &gen), STORE_OK);
    assert_int_equal(store_evict_unseen(s, ENT_CUSTOMER, gen, &ev), STORE_OK);
    assert_int_equal(ev, 3); /* cust-1, con-1, ast-1 */
    assert_int_equal(store_count(s, ENT_CUSTOMER, &n), STORE_OK);
    assert_int_equal(n, 1);
}

static void test_evict_keeps_customer_of_edited_contact(void **state)
{
    fx *f = *state;
    store *s = f->s;
    int64_t gen = 0, ev = 0;

    fx_seed(s);
    assert_int_equal(fx_update(s, ENT_CONTACT, "con-1", "{\"title\":\"Boss\"}", T0), STORE_OK);
    assert_int_equal(store_pull_begin(s, &gen), STORE_OK);
    assert_int_equal(store_evict_unseen(s, ENT_CUSTOMER, gen, &ev), STORE_OK);
    assert_int_equal(ev, 0);
    fx_assert_state(s, ENT_CUSTOMER, "cust-1", "synced");
    fx_assert_state(s, ENT_CONTACT, "con-1", "pending");
}

static void test_remote_gone(void **state)
{
    fx *f = *state;
    store *s = f->s;
    char *out = NULL;

    fx_seed(s);
    /* without ops: removed, with the customer's children */
    assert_int_equal(store_remote_gone(s, ENT_CUSTOMER, "cust-1"), STORE_OK);
    assert_int_equal(store_get(s, ENT_CUSTOMER, "cust-1", &out), STORE_NOTFOUND);
    assert_int_equal(store_get(s, ENT_CONTACT, "con-1", &out), STORE_NOTFOUND);
    assert_int_equal(store_get(s, ENT_ASSET, "ast-1", &out), STORE_NOTFOUND);
    assert_int_equal(store_remote_gone(s, ENT_CUSTOMER, "cust-1"), STORE_NOTFOUND);
    /* with ops: kept until they settle */
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, "wo-1", "{\"notes\":\"x\"}", T0), STORE_OK);
    assert_int_equal(store_remote_gone(s, ENT_WORK_ORDER, "wo-1"), STORE_OK);
    fx_assert_state(s, ENT_WORK_ORDER, "wo-1", "pending");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FX_TEST(test_upsert_order),
        FX_TEST(test_upsert_rejects_bad_records),
        FX_TEST(test_rebase_keeps_pending_edit),
        FX_TEST(test_rebase_keeps_local_delete_hidden),
        FX_TEST(test_list_pagination_meta),
        FX_TEST(test_list_filters),
        FX_TEST(test_search_is_literal_and_safe),
        FX_TEST(test_contacts_assets_lists),
        FX_TEST(test_get_shapes_and_states),
        FX_TEST(test_evict_unseen),
        FX_TEST(test_evict_keeps_customer_of_edited_contact),
        FX_TEST(test_remote_gone),
    };

    return cmocka_run_group_tests_name("store_replica", tests, NULL, NULL);
}
