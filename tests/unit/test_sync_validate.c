/*
 * test_sync_validate.c — what the remote sends is checked before it
 * reaches the store: envelopes, list metadata, ids, field types, duplicate
 * keys, truncated and oversized bodies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sync/remote.h"

static int rec_ok(store_entity e, const char *json, int detail)
{
    char err[256];
    cJSON *r = cJSON_Parse(json);
    int rc;

    assert_non_null(r);
    rc = sync_record_ok(e, r, detail, err, sizeof err);
    cJSON_Delete(r);
    return rc;
}

static void test_envelope(void **st)
{
    char err[256];
    const char *list = "{\"data\":[],\"meta\":{\"current_page\":1,\"total_pages\":0,\"total_count\":0}}";
    const char *trunc = "{\"data\":{\"id\":\"wo-1\",\"upda";
    cJSON *r;
    sync_list_meta m;
    (void)st;

    r = sync_body_parse(list, strlen(list), 1, err, sizeof err);
    assert_non_null(r);
    assert_int_equal(sync_list_meta_get(r, &m, err, sizeof err), 0);
    assert_int_equal(m.total_pages, 0);
    cJSON_Delete(r);
    /* A list where an object is wanted, and the other way round. */
    assert_null(sync_body_parse(list, strlen(list), 0, err, sizeof err));
    assert_null(sync_body_parse("{\"data\":{}}", 11, 1, err, sizeof err));
    assert_null(sync_body_parse(trunc, strlen(trunc), 0, err, sizeof err));
    assert_non_null(strstr(err, "truncated"));
    assert_null(sync_body_parse("", 0, 0, err, sizeof err));
    assert_null(sync_body_parse("[1,2]", 5, 1, err, sizeof err));
    assert_null(sync_body_parse("<html>502</html>", 16, 0, err, sizeof err));
}

static void test_meta(void **st)
{
    char err[256];
    const char *bad[] = {
        "{\"data\":[]}",
        "{\"data\":[],\"meta\":{\"current_page\":1,\"total_pages\":\"2\",\"total_count\":3}}",
        "{\"data\":[],\"meta\":{\"current_page\":1,\"total_pages\":-1,\"total_count\":3}}",
        "{\"data\":[],\"meta\":{\"current_page\":1,\"total_pages\":1.5,\"total_count\":3}}",
        /* A server claiming endless pages is not walked. */
        "{\"data\":[],\"meta\":{\"current_page\":1,\"total_pages\":2000000,\"total_count\":3}}",
    };
    (void)st;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *r = sync_body_parse(bad[i], strlen(bad[i]), 1, err, sizeof err);
        sync_list_meta m;
        assert_non_null(r);
        assert_int_equal(sync_list_meta_get(r, &m, err, sizeof err), -1);
        cJSON_Delete(r);
    }
}

static void test_ids(void **st)
{
    char longid[200];
    (void)st;
    assert_true(sync_id_ok("wo-12345"));
    assert_true(sync_id_ok("cust_001.a:b@c~d"));
    assert_false(sync_id_ok(""));
    assert_false(sync_id_ok(NULL));
    assert_false(sync_id_ok("../etc/passwd"));
    assert_false(sync_id_ok("a b"));
    assert_false(sync_id_ok("a?x=1"));
    assert_false(sync_id_ok("a\nb"));
    memset(longid, 'a', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    assert_false(sync_id_ok(longid));
    longid[128] = '\0';
    assert_true(sync_id_ok(longid));
}

static void test_records(void **st)
{
    (void)st;
    assert_int_equal(rec_ok(ENT_WORK_ORDER,
        "{\"id\":\"wo-1\",\"status\":\"open\",\"customer\":{\"id\":\"c-1\",\"name\":\"A\"},"
        "\"technician\":null,\"estimated_duration\":90,\"tasks\":[],"
        "\"updated_at\":\"2024-01-25T10:15:00.000Z\"}", 1), 0);
    /* A list summary has no updated_at; a detail must. */
    assert_int_equal(rec_ok(ENT_WORK_ORDER, "{\"id\":\"wo-1\",\"status\":\"open\"}", 0), 0);
    assert_int_equal(rec_ok(ENT_WORK_ORDER, "{\"id\":\"wo-1\",\"status\":\"open\"}", 1), -1);
    /* Wrong types. */
    assert_int_equal(rec_ok(ENT_WORK_ORDER, "{\"id\":42}", 0), -1);
    assert_int_equal(rec_ok(ENT_WORK_ORDER, "{\"id\":\"wo-1\",\"estimated_duration\":\"90\"}", 0), -1);
    assert_int_equal(rec_ok(ENT_WORK_ORDER, "{\"id\":\"wo-1\",\"customer\":\"c-1\"}", 0), -1);
    assert_int_equal(rec_ok(ENT_WORK_ORDER, "{\"id\":\"wo-1\",\"customer\":{\"name\":\"x\"}}", 0), -1);
    assert_int_equal(rec_ok(ENT_CUSTOMER, "{\"id\":\"c-1\",\"name\":null}", 0), -1);
    assert_int_equal(rec_ok(ENT_CUSTOMER, "{\"name\":\"no id\"}", 0), -1);
    assert_int_equal(rec_ok(ENT_CUSTOMER,
        "{\"id\":\"c-1\",\"name\":\"A\",\"updated_at\":\"yesterday\"}", 1), -1);
    /* Contacts only come in lists, which carry updated_at: required there. */
    assert_int_equal(rec_ok(ENT_CONTACT,
        "{\"id\":\"ct-1\",\"name\":\"J\",\"is_primary\":true,\"updated_at\":\"2024-01-25T10:15:00Z\"}", 0), 0);
    assert_int_equal(rec_ok(ENT_CONTACT, "{\"id\":\"ct-1\",\"name\":\"J\"}", 0), -1);
    assert_int_equal(rec_ok(ENT_CONTACT,
        "{\"id\":\"ct-1\",\"name\":\"J\",\"is_primary\":\"yes\",\"updated_at\":\"2024-01-25T10:15:00Z\"}", 0), -1);
    /* Assets: read-only, updated_at optional. */
    assert_int_equal(rec_ok(ENT_ASSET, "{\"id\":\"as-1\",\"name\":\"Boiler\"}", 1), 0);
    /* Unknown fields are allowed. */
    assert_int_equal(rec_ok(ENT_CUSTOMER, "{\"id\":\"c-1\",\"name\":\"A\",\"x_new\":[1]}", 0), 0);
    /* Not an object. */
    assert_int_equal(rec_ok(ENT_CUSTOMER, "[\"c-1\"]", 0), -1);
}

/* cJSON finds the first of two equal keys; a record that says two things
 * about its id is refused instead. */
static void test_duplicate_keys(void **st)
{
    (void)st;
    assert_int_equal(rec_ok(ENT_CUSTOMER, "{\"id\":\"c-1\",\"name\":\"A\",\"id\":\"c-2\"}", 0), -1);
    assert_int_equal(rec_ok(ENT_CUSTOMER, "{\"id\":\"c-1\",\"name\":\"A\",\"name\":\"B\"}", 0), -1);
    /* Nested too: an address that names two cities is not trusted. */
    assert_int_equal(rec_ok(ENT_CUSTOMER,
                            "{\"id\":\"c-1\",\"name\":\"A\","
                            "\"address\":{\"city\":\"X\",\"city\":\"Y\"}}", 0),
                     -1);
    assert_int_equal(rec_ok(ENT_CUSTOMER,
                            "{\"id\":\"c-1\",\"name\":\"A\",\"address\":{\"city\":\"X\"}}", 0),
                     0);
}

/* Ids and names go into URLs percent-encoded, bounded by the buffer. */
static void test_escape(void **st)
{
    char out[64];
    (void)st;
    assert_int_equal(sync_remote_escape("Acme & Sons/Ltd", out, sizeof out), 0);
    assert_string_equal(out, "Acme%20%26%20Sons%2FLtd");
    assert_int_equal(sync_remote_escape("tech-001", out, sizeof out), 0);
    assert_string_equal(out, "tech-001");
    assert_int_equal(sync_remote_escape("\xc3\xa9", out, sizeof out), 0);
    assert_string_equal(out, "%C3%A9");
    assert_int_equal(sync_remote_escape("abcdefgh", out, 8), -1);
    assert_int_equal(sync_remote_escape("  ", out, 6), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envelope),
        cmocka_unit_test(test_meta),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_escape),
    };
    return cmocka_run_group_tests_name("sync_validate", tests, NULL, NULL);
}
