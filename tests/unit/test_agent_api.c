/* Unit tests of the local API's request handling: routing, methods,
 * query parameters, bodies, the error format and the event format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/api_request.h"
#include "agent/events.h"
#include "agent/syncctl.h"

static void test_routes(void **state)
{
    static const struct {
        const char *path;
        routes_id id;
        const char *param;
    } ok[] = {
        { "/api/v1/customers", ROUTE_CUSTOMERS, "" },
        { "/api/v1/customers/cust-1", ROUTE_CUSTOMER, "cust-1" },
        { "/api/v1/customers/local-9f/contacts", ROUTE_CUSTOMER_CONTACTS, "local-9f" },
        { "/api/v1/customers/c/assets", ROUTE_CUSTOMER_ASSETS, "c" },
        { "/api/v1/customers/c/work-orders", ROUTE_CUSTOMER_WORK_ORDERS, "c" },
        { "/api/v1/contacts/contact-1", ROUTE_CONTACT, "contact-1" },
        { "/api/v1/work-orders", ROUTE_WORK_ORDERS, "" },
        { "/api/v1/work-orders/wo-1", ROUTE_WORK_ORDER, "wo-1" },
        { "/agent/status", ROUTE_AGENT_STATUS, "" },
        { "/agent/sync", ROUTE_AGENT_SYNC, "" },
        { "/agent/outbox", ROUTE_AGENT_OUTBOX, "" },
        { "/agent/outbox/0b7f", ROUTE_AGENT_OUTBOX_OP, "0b7f" },
        { "/agent/outbox/0b7f/retry", ROUTE_AGENT_OUTBOX_RETRY, "0b7f" },
        { "/agent/conflicts", ROUTE_AGENT_CONFLICTS, "" },
        { "/agent/conflicts/12/resolve", ROUTE_AGENT_CONFLICT_RESOLVE, "12" },
        { "/agent/events", ROUTE_AGENT_EVENTS, "" },
        { "/api/v1/customers/' OR 1=1 --", ROUTE_CUSTOMER, "' OR 1=1 --" },
    };
    static const char *const bad[] = {
        "", "/", "customers", "/api/v1", "/api/v1/", "/api/v1/customers/", "/api/v1//customers",
        "/api/v2/customers", "/api/v1/customers/c/x", "/api/v1/assets/a", "/agent",
        "/agent/status/x", "/api/v1/customers/c/contacts/x/y", "/API/v1/customers",
        "/agent/conflicts/1", "/agent/outbox/1/retry/now",
    };
    routes_hit rt;
    char longid[API_MAX_ID + 40];
    (void)state;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(routes_match(ok[i].path, &rt), 0);
        assert_int_equal(rt.id, ok[i].id);
        assert_string_equal(rt.param, ok[i].param);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (routes_match(bad[i], &rt) == 0)
            fail_msg("'%s' should not route", bad[i]);
    assert_int_equal(routes_match(NULL, &rt), -1);
    /* ids are bounded */
    snprintf(longid, sizeof longid, "/api/v1/customers/%0*d", API_MAX_ID, 7);
    assert_int_equal(routes_match(longid, &rt), 0);
    snprintf(longid, sizeof longid, "/api/v1/customers/%0*d", API_MAX_ID + 1, 7);
    assert_int_equal(routes_match(longid, &rt), -1);
}

static void test_methods(void **state)
{
    char allow[64];
    (void)state;
    assert_int_equal(routes_method_bit("GET"), ROUTE_GET);
    assert_int_equal(routes_method_bit("HEAD"), ROUTE_GET);
    assert_int_equal(routes_method_bit("POST"), ROUTE_POST);
    assert_int_equal(routes_method_bit("PUT"), ROUTE_PUT);
    assert_int_equal(routes_method_bit("DELETE"), ROUTE_DELETE);
    assert_int_equal(routes_method_bit("PATCH"), 0);
    assert_int_equal(routes_method_bit("get"), 0);
    routes_allow_header(ROUTE_CUSTOMERS, allow, sizeof allow);
    assert_string_equal(allow, "GET, POST");
    routes_allow_header(ROUTE_WORK_ORDER, allow, sizeof allow);
    assert_string_equal(allow, "GET, PUT, DELETE");
    routes_allow_header(ROUTE_AGENT_SYNC, allow, sizeof allow);
    assert_string_equal(allow, "POST");
    routes_allow_header(ROUTE_AGENT_OUTBOX_OP, allow, sizeof allow);
    assert_string_equal(allow, "DELETE");
    assert_false(routes_methods(ROUTE_CUSTOMER_ASSETS) & ROUTE_POST);
    assert_int_equal(api_route_entity(ROUTE_CUSTOMER_CONTACTS), ENT_CONTACT);
    assert_int_equal(api_route_entity(ROUTE_CUSTOMER_WORK_ORDERS), ENT_WORK_ORDER);
}

/* Makes q hold just the given parameter, value, ... pairs (NULL ends). */
static void set_query(api_query *q, const char *const *pairs)
{
    memset(q, 0, sizeof *q);
    for (; pairs[0]; pairs += 2)
        api_query_set(q, pairs[0], pairs[1]);
}

static void test_query(void **state)
{
    api_query q;
    store_query sq;
    const char *field;
    char msg[128];
    (void)state;

    set_query(&q, (const char *const[]){"page", "2", "per_page", "500",
                                        "search", "' OR 1=1 --", "status", "active",
                                        "unknown", "x", "created_after", "2024-01-01", NULL});
    assert_int_equal(api_query_to_store(&q, ROUTE_CUSTOMERS, &sq, &field, msg, sizeof msg), 0);
    assert_int_equal(sq.page, 2);
    assert_int_equal(sq.per_page, 100); /* clamped */
    assert_string_equal(sq.search, "' OR 1=1 --");
    assert_string_equal(sq.status, "active");
    assert_string_equal(sq.created_after, "2024-01-01");
    assert_null(sq.technician_id);

    /* the last of a repeated parameter wins */
    api_query_set(&q, "page", "3");
    assert_int_equal(api_query_to_store(&q, ROUTE_CUSTOMERS, &sq, &field, msg, sizeof msg), 0);
    assert_int_equal(sq.page, 3);

    static const struct {
        const char *key, *value;
    } bad[] = {
        { "page", "abc" }, { "page", "0" }, { "page", "-1" }, { "page", "" }, { "page", "1.5" },
        { "page", "99999999999" }, { "per_page", "x" }, { "per_page", "0" },
        { "created_after", "yesterday" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&q, 0, sizeof q);
        api_query_set(&q, bad[i].key, bad[i].value);
        assert_int_equal(api_query_to_store(&q, ROUTE_CUSTOMERS, &sq, &field, msg, sizeof msg), -1);
        assert_string_equal(field, bad[i].key);
    }
    memset(&q, 0, sizeof q);
    api_query_set(&q, "from_date", "2024-13-45");
    assert_int_equal(api_query_to_store(&q, ROUTE_WORK_ORDERS, &sq, &field, msg, sizeof msg), -1);
    assert_string_equal(field, "from_date");

    set_query(&q, (const char *const[]){"technician_id", "tech-001", "customer_id", "cust-1",
                                        "from_date", "2024-01-01", "to_date", "2024-02-01",
                                        "search", "ignored for work orders", NULL});
    assert_int_equal(api_query_to_store(&q, ROUTE_WORK_ORDERS, &sq, &field, msg, sizeof msg), 0);
    assert_string_equal(sq.technician_id, "tech-001");
    assert_string_equal(sq.customer_id, "cust-1");
    assert_string_equal(sq.to_date, "2024-02-01");
    assert_null(sq.search);
    /* under /customers/{id}/work-orders the path names the customer */
    assert_int_equal(api_query_to_store(&q, ROUTE_CUSTOMER_WORK_ORDERS, &sq, &field, msg, sizeof msg), 0);
    assert_null(sq.customer_id);

    memset(&q, 0, sizeof q);
    api_query_set(&q, "wait", NULL);
    assert_string_equal(q.wait, "");
    assert_int_equal(api_parse_bool(q.wait), 1);
    assert_int_equal(api_parse_bool("true"), 1);
    assert_int_equal(api_parse_bool("false"), 0);
    assert_int_equal(api_parse_bool(NULL), 0);
    assert_int_equal(api_parse_bool("maybe"), -1);
}

static void test_body(void **state)
{
    static const char *const bad[] = {
        "", "   ", "{", "{\"a\":}", "[1,2]", "\"str\"", "42", "null", "{\"a\":1} {}",
        "{\"a\":1,\"a\":2}", "{\"x\":{\"b\":1,\"b\":1}}", "{\"x\":[{\"c\":1,\"c\":2}]}",
        "{'a':1}", "\xff\xfe",
    };
    char why[200];
    cJSON *o;
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o = api_parse_body(bad[i], strlen(bad[i]), why, sizeof why);
        if (o) {
            cJSON_Delete(o);
            fail_msg("body %zu should be refused", i);
        }
        assert_true(strlen(why) > 0);
    }
    /* a NUL inside the declared length */
    o = api_parse_body("{\"a\":1}\0x", 9, why, sizeof why);
    assert_null(o);
    o = api_parse_body(" {\"a\":1,\"b\":{\"a\":2}}\r\n", 22, why, sizeof why);
    assert_non_null(o);
    cJSON_Delete(o);
    /* many keys: duplicate detection is not quadratic */
    {
        size_t cap = 20 * 60000 + 16, n = 0;
        char *big = malloc(cap);
        assert_non_null(big);
        big[n++] = '{';
        for (int i = 0; i < 60000; i++)
            n += (size_t)snprintf(big + n, cap - n, "%s\"k%d\":1", i ? "," : "", i);
        big[n++] = '}';
        o = api_parse_body(big, n, why, sizeof why);
        assert_non_null(o);
        cJSON_Delete(o);
        free(big);
    }
}

static void test_errors(void **state)
{
    char *js, *det;
    cJSON *o;
    const cJSON *e;
    (void)state;
    assert_string_equal(api_error_code(400), "bad_request");
    assert_string_equal(api_error_code(403), "forbidden");
    assert_string_equal(api_error_code(404), "not_found");
    assert_string_equal(api_error_code(405), "method_not_allowed");
    assert_string_equal(api_error_code(409), "conflict");
    assert_string_equal(api_error_code(413), "payload_too_large");
    assert_string_equal(api_error_code(422), "validation_error");
    assert_string_equal(api_error_code(503), "service_unavailable");

    js = api_error_json("not_found", "Customer \"x\" not found", NULL);
    assert_string_equal(js, "{\"error\":{\"code\":\"not_found\",\"message\":\"Customer \\\"x\\\" not found\"}}");
    free(js);
    det = api_details_one("customer_id", "Customer not found");
    js = api_error_json("validation_error", "Validation failed", det);
    o = cJSON_Parse(js);
    assert_non_null(o);
    e = cJSON_GetObjectItemCaseSensitive(o, "error");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "code")->valuestring, "validation_error");
    e = cJSON_GetObjectItemCaseSensitive(e, "details");
    assert_true(cJSON_IsArray(e));
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(e->child, "field")->valuestring, "customer_id");
    cJSON_Delete(o);
    free(js);
    free(det);
    /* details that are not an array are left out rather than corrupting */
    js = api_error_json("bad_request", "m", "{not json");
    assert_string_equal(js, "{\"error\":{\"code\":\"bad_request\",\"message\":\"m\"}}");
    free(js);
}

static void test_sse_format(void **state)
{
    char *s;
    (void)state;
    s = events_format("record_changed", "{\"entity\":\"customer\",\"id\":\"c1\",\"what\":\"changed\"}");
    assert_string_equal(s, "event: record_changed\ndata: {\"entity\":\"customer\",\"id\":\"c1\",\"what\":\"changed\"}\n\n");
    free(s);
    s = events_format("x", "a\nb\r\nc");
    assert_string_equal(s, "event: x\ndata: a\ndata: b\ndata: c\n\n");
    free(s);
    s = events_format("sync_started", "{}");
    assert_string_equal(s, "event: sync_started\ndata: {}\n\n");
    free(s);
    assert_null(events_format("bad type", "{}"));
    assert_null(events_format("a\nevent: forged", "{}"));
    assert_null(events_format("", "{}"));
    assert_null(events_format("t", NULL));
}

static void test_summary_json(void **state)
{
    sync_summary s;
    char *js;
    cJSON *o;
    static const char *const keys[] = {
        "started_at", "finished_at", "online", "auth_error", "complete", "pulled", "unchanged",
        "evicted", "deleted_remotely", "pushed", "conflicts", "rejected", "retried", "errors",
        "last_error",
    };
    (void)state;
    memset(&s, 0, sizeof s);
    s.started_ms = 1700000000000;
    s.finished_ms = 1700000001500;
    s.online = 1;
    s.pushed = 3;
    js = syncctl_summary_json(&s);
    o = cJSON_Parse(js);
    assert_non_null(o);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_non_null(cJSON_GetObjectItemCaseSensitive(o, keys[i]));
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "last_error")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "online")));
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(o, "pushed")->valueint, 3);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "started_at")->valuestring,
                        "2023-11-14T22:13:20.000Z");
    cJSON_Delete(o);
    free(js);
}

static void test_backoff(void **state)
{
    (void)state;
    /* success: the interval ±10 % */
    assert_int_equal(syncctl_next_delay(60000, 0, 0.0), 54000);
    assert_int_equal(syncctl_next_delay(60000, 0, 0.5), 60000);
    assert_true(syncctl_next_delay(60000, 0, 0.999) <= 66000);
    /* failures: 1 s, 2 s, 4 s … capped at the interval */
    assert_int_equal(syncctl_next_delay(60000, 1, 0.5), 1000);
    assert_int_equal(syncctl_next_delay(60000, 2, 0.5), 2000);
    assert_int_equal(syncctl_next_delay(60000, 3, 0.5), 4000);
    assert_int_equal(syncctl_next_delay(60000, 7, 0.5), 60000);
    assert_int_equal(syncctl_next_delay(60000, 1000, 0.5), 60000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_body),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_sse_format),
        cmocka_unit_test(test_summary_json),
        cmocka_unit_test(test_backoff),
    };
    return cmocka_run_group_tests_name("agent_api", tests, NULL, NULL);
}
