/*
 * test_sync_sim_faults.c — a bad network between the laptop and the
 * remote: dropped connections (half of them after the server applied the
 * request), 503s and 429s with Retry-After.  With idempotency on the
 * server, 200 queued edits and 10 creates all land exactly once; without
 * it, customer creates are still not duplicated (409 + match by name), and
 * the work order duplicates that remain are counted and reported.
 *
 * The engine's retry backoff is shortened for these tests through
 * sync_config.backoff_scale (the FIELDSYNC_TEST_BACKOFF_SCALE environment
 * variable does the same for programs), so no cycle waits for real
 * minutes: the cycles are run back to back until the outbox is empty.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/system/test_sync_harness.h"

#define TECH H_TECH
#define MAX_CYCLES 60
#define FAULTS "{\"drop_rate\":0.25,\"drop_after_apply\":0.5,\"error_rate\":0.10," \
               "\"error_status\":503,\"rate_429\":0.05,\"retry_after\":1}"

static void start(harness *h, const char *const *args)
{
    sync_config cfg;

    memset(&cfg, 0, sizeof cfg);
    cfg.technician_id = TECH;
    cfg.days_back = 30;
    cfg.days_ahead = 60;
    cfg.backoff_scale = 0.001;   /* retry waits of 1 ms .. 300 ms */
    cfg.request_timeout_ms = 10000;
    h_start(h, args, &cfg, NULL);
}

/* Queues n_edits updates of distinct work orders and creates customers and
 * work orders (n_creates in all, half each); returns the edited ids. */
static int queue_work(harness *h, const char **ids, int n_edits, int n_creates,
                      const char *tag, cJSON **state_out)
{
    cJSON *state = h_get_json(h, "/__sim/state", 0);
    const cJSON *wo;
    char fields[512], id[64], when[32];
    const char *cust = NULL;
    int n = 0;
    time_t t = (time_t)(h_now_ms() / 1000) + 86400;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT09:00:00Z", &tm);
    assert_non_null(state);
    cJSON_ArrayForEach(wo, cJSON_GetObjectItem(state, "work_orders")) {
        if (n < n_edits && h_in_window(wo, TECH, 30, 60, h_now_ms())) {
            ids[n] = h_str(wo, "id");
            cust = h_ref(wo, "customer");
            snprintf(fields, sizeof fields, "{\"notes\":\"%s edit %d\"}", tag, n);
            assert_int_equal(h_update(h, ENT_WORK_ORDER, ids[n], fields, h_now_ms()), 0);
            n++;
        }
    }
    assert_int_equal(n, n_edits);
    for (int i = 0; i < n_creates; i++) {
        if (i % 2 == 0) {
            snprintf(fields, sizeof fields,
                     "{\"name\":\"%s Customer %d\",\"customer_type\":\"commercial\"}", tag, i);
            assert_int_equal(h_create(h, ENT_CUSTOMER, NULL, fields, id, sizeof id), 0);
        } else {
            snprintf(fields, sizeof fields,
                     "{\"customer_id\":\"%s\",\"technician_id\":\"" TECH "\","
                     "\"work_order_type\":\"service\",\"priority\":\"low\","
                     "\"description\":\"%s job %d\",\"scheduled_date\":\"%s\"}",
                     cust, tag, i, when);
            assert_int_equal(h_create(h, ENT_WORK_ORDER, NULL, fields, id, sizeof id), 0);
        }
    }
    *state_out = state;
    return n;
}

/* With the FAULTS on, runs cycles until the outbox is empty, then heals
 * the network; returns the number of cycles. */
static int drain_under_faults(harness *h, int64_t *retried)
{
    sync_summary s;
    int cycles = 0;

    assert_int_equal(h_faults(h, FAULTS) / 100, 2);
    *retried = 0;
    while (h_pending(h) > 0 && cycles < MAX_CYCLES) {
        assert_int_equal(h_cycle(h, &s), 0);
        assert_false(s.auth_error);
        *retried += s.retried;
        cycles++;
    }
    assert_int_equal(h_faults(h, NULL) / 100, 2);
    return cycles;
}

/* The sim's state now; each of the n edits queue_work made with tag has
 * landed on its work order. */
static cJSON *assert_edits_landed(harness *h, const char *const *ids, int n, const char *tag)
{
    cJSON *st = h_get_json(h, "/__sim/state", 0);
    char want[128];

    assert_non_null(st);
    for (int i = 0; i < n; i++) {
        snprintf(want, sizeof want, "%s edit %d", tag, i);
        assert_string_equal(h_str(h_find(st, "work_orders", ids[i]), "notes"), want);
    }
    return st;
}

/* How many records the sim holds of queue_work's i-th create with tag (a
 * customer when i is even, else a work order). */
static int created(const cJSON *st, const char *tag, int i)
{
    char want[128];

    if (i % 2 == 0) {
        snprintf(want, sizeof want, "%s Customer %d", tag, i);
        return h_count_by(st, "customers", "name", want, NULL);
    }
    snprintf(want, sizeof want, "%s job %d", tag, i);
    return h_count_by(st, "work_orders", "description", want, NULL);
}

static void test_faults_with_idempotency(void **state)
{
    harness *h = *state;
    const char *const args[] = {"--seed", "41", "--work-orders", "1500", NULL};
    const char *ids[200];
    cJSON *st0, *st1;
    int64_t pend, rej, held, retried;
    int cycles;

    start(h, args);
    queue_work(h, ids, 200, 10, "idem", &st0);
    assert_int_equal(h_pending(h), 210);
    cycles = drain_under_faults(h, &retried);
    print_message("faults: outbox empty after %d cycles, %lld transient failures retried\n",
                  cycles, (long long)retried);
    assert_int_equal(h_pending(h), 0);
    assert_int_equal(store_outbox_counts(h->st, &pend, &rej, &held), 0);
    assert_int_equal(rej, 0);
    assert_true(retried > 0);   /* the faults did bite */

    st1 = assert_edits_landed(h, ids, 200, "idem");
    for (int i = 0; i < 10; i++)
        assert_int_equal(created(st1, "idem", i), 1);
    cJSON_Delete(st1);
    cJSON_Delete(st0);
}

static void test_faults_without_idempotency(void **state)
{
    harness *h = *state;
    const char *const args[] = {"--seed", "42", "--work-orders", "600", "--no-idempotency", NULL};
    const char *ids[50];
    cJSON *st0, *st1;
    int64_t retried;
    int cycles, dup_wo = 0, missing = 0;

    start(h, args);
    queue_work(h, ids, 50, 20, "noidem", &st0);
    cycles = drain_under_faults(h, &retried);
    assert_int_equal(h_pending(h), 0);

    st1 = assert_edits_landed(h, ids, 50, "noidem");
    for (int i = 0; i < 20; i++) {
        int n = created(st1, "noidem", i);
        if (i % 2 == 0) {
            /* The 409 duplicate is matched by name: never two customers. */
            assert_int_equal(n, 1);
        } else {
            missing += n == 0;
            dup_wo += n > 1 ? n - 1 : 0;
        }
    }
    print_message("no idempotency: %d cycles; duplicate creates: customers 0 of 10, "
                  "work orders %d of 10\n", cycles, dup_wo);
    assert_int_equal(missing, 0);
    cJSON_Delete(st1);
    cJSON_Delete(st0);
}


/* Truncated bodies (200 with half the JSON) on work order details: those
 * records are skipped and keep their old copy, the cycle goes on, nothing
 * is evicted; once the bodies are whole again the changes come in. */
static void test_bad_bodies_skipped(void **state)
{
    harness *h = *state;
    const char *const args[] = {"--seed", "43", NULL};
    const char *ids[10];
    cJSON *st0, *local;
    const cJSON *wo;
    char path[128], body[128];
    sync_summary s;
    int64_t before, after;
    int n = 0, fresh = 0;

    start(h, args);
    assert_int_equal(store_count(h->st, ENT_WORK_ORDER, &before), 0);
    st0 = h_get_json(h, "/__sim/state", 0);
    cJSON_ArrayForEach(wo, cJSON_GetObjectItem(st0, "work_orders"))
        if (n < 10 && h_in_window(wo, TECH, 30, 60, h_now_ms()))
            ids[n++] = h_str(wo, "id");
    assert_int_equal(n, 10);
    for (int i = 0; i < 10; i++) {
        snprintf(path, sizeof path, "/work-orders/%s", ids[i]);
        snprintf(body, sizeof body, "{\"notes\":\"dispatcher %d\"}", i);
        assert_int_equal(h_dispatch(h, "PUT", path, body), 200);
    }
    assert_int_equal(h_faults(h, "{\"bad_body_rate\":0.5,\"methods\":[\"GET\"],"
                                 "\"path_prefix\":\"/api/v1/work-orders/\"}") / 100, 2);
    assert_int_equal(h_cycle(h, &s), 0);
    assert_true(s.errors > 0);
    assert_true(s.complete);
    assert_int_equal(s.evicted, 0);
    assert_int_equal(store_count(h->st, ENT_WORK_ORDER, &after), 0);
    assert_int_equal(after, before);
    assert_int_equal(h_faults(h, NULL) / 100, 2);
    assert_int_equal(h_cycle(h, &s), 0);
    assert_int_equal(s.errors, 0);
    for (int i = 0; i < 10; i++) {
        snprintf(body, sizeof body, "dispatcher %d", i);
        local = h_local(h, ENT_WORK_ORDER, ids[i]);
        assert_non_null(local);
        assert_string_equal(h_str(local, "notes"), body);
        cJSON_Delete(local);
        fresh++;
    }
    print_message("bad bodies: %d records current after the faults cleared\n", fresh);
    cJSON_Delete(st0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        H_TEST(test_faults_with_idempotency),
        H_TEST(test_faults_without_idempotency),
        H_TEST(test_bad_bodies_skipped),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return cmocka_run_group_tests_name("sync_sim_faults", tests, NULL, NULL);
}
