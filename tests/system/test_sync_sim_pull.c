/*
 * test_sync_sim_pull.c — pulling a technician's scope from the real
 * fieldsync-sim: the replica holds exactly the in-scope data, a second
 * pull without remote changes transfers no record bodies, records leaving
 * scope are evicted, and an interrupted pull resumes where it stopped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>

#include "tests/system/test_sync_harness.h"

#define TECH H_TECH

static void start(harness *h, const char *const *args, int back, int ahead)
{
    sync_config cfg;

    assert_int_equal(h_sim_start(h, args), 0);
    memset(&cfg, 0, sizeof cfg);
    cfg.technician_id = TECH;
    cfg.days_back = back;
    cfg.days_ahead = ahead;
    cfg.max_connections = 8;
    assert_int_equal(h_engine(h, &cfg), 0);
}

/* Asserts the replica holds exactly the in-scope records of the sim. */
static void assert_replica_is_scope(harness *h, int back, int ahead, int *n_wo)
{
    cJSON *state = h_get_json(h, "/__sim/state", 0);
    const cJSON *wo, *c;
    char custs[512][64];
    int ncust = 0, nwo = 0, ncontacts = 0, nassets = 0;
    int64_t count;

    assert_non_null(state);
    cJSON_ArrayForEach(wo, cJSON_GetObjectItem(state, "work_orders")) {
        const char *id = h_str(wo, "id"), *cust = h_ref(wo, "customer");
        store_record rec;
        int in = h_in_window(wo, TECH, back, ahead, h_now_ms());
        int rc = store_record_get(h->st, ENT_WORK_ORDER, id, &rec);

        if (!in) {
            /* Out of scope: not in the replica. */
            if (rc == STORE_OK)
                fail_msg("work order %s is out of scope but in the replica", id);
            continue;
        }
        if (rc != STORE_OK)
            fail_msg("work order %s in scope but missing", id);
        /* Same version as the remote. */
        assert_non_null(rec.updated_at);
        {
            int64_t a, b;
            assert_int_equal(store_time_parse(rec.updated_at, &a), 0);
            assert_int_equal(store_time_parse(h_str(wo, "updated_at"), &b), 0);
            assert_true(a == b);
        }
        store_record_release(&rec);
        nwo++;
        int seen = 0;
        for (int i = 0; i < ncust; i++)
            seen |= strcmp(custs[i], cust) == 0;
        if (!seen && ncust < 512)
            snprintf(custs[ncust++], sizeof custs[0], "%s", cust);
    }
    assert_true(nwo > 0);
    assert_int_equal(store_count(h->st, ENT_WORK_ORDER, &count), 0);
    assert_int_equal(count, nwo);
    assert_int_equal(store_count(h->st, ENT_CUSTOMER, &count), 0);
    assert_int_equal(count, ncust);
    for (int i = 0; i < ncust; i++) {
        store_record rec;
        if (store_record_get(h->st, ENT_CUSTOMER, custs[i], &rec) != STORE_OK)
            fail_msg("customer %s of an in-scope work order missing", custs[i]);
        store_record_release(&rec);
    }
    /* Contacts and assets: exactly those of the in-scope customers. */
    for (int t = 0; t < 2; t++) {
        const char *table = t ? "assets" : "contacts";
        store_entity e = t ? ENT_ASSET : ENT_CONTACT;
        cJSON_ArrayForEach(c, cJSON_GetObjectItem(state, table)) {
            const char *owner = h_str(c, "customer_id");
            store_record rec;
            int in = 0, rc;
            for (int i = 0; i < ncust && owner; i++)
                in |= strcmp(custs[i], owner) == 0;
            rc = store_record_get(h->st, e, h_str(c, "id"), &rec);
            if (in != (rc == STORE_OK))
                fail_msg("%s %s (customer %s): in scope %d, in replica %d", table,
                         h_str(c, "id"), owner ? owner : "?", in, rc == STORE_OK);
            if (rc == STORE_OK)
                store_record_release(&rec);
            if (in)
                t ? nassets++ : ncontacts++;
        }
    }
    assert_int_equal(store_count(h->st, ENT_CONTACT, &count), 0);
    assert_int_equal(count, ncontacts);
    assert_int_equal(store_count(h->st, ENT_ASSET, &count), 0);
    assert_int_equal(count, nassets);
    print_message("scope: %d work orders, %d customers, %d contacts, %d assets\n",
                  nwo, ncust, ncontacts, nassets);
    if (n_wo)
        *n_wo = nwo;
    cJSON_Delete(state);
}

static void test_initial_and_unchanged_sync(void **state)
{
    harness *h = *state;
    const char *const args[] = {"--seed", "11", NULL};
    sync_summary s;
    sync_progress p;
    cJSON *stats;
    int nwo = 0;

    start(h, args, 7, 30);
    assert_int_equal(h_cycle(h, &s), 0);
    assert_true(s.online);
    assert_true(s.complete);
    assert_int_equal(s.errors, 0);
    assert_true(s.pulled > 0);
    assert_replica_is_scope(h, 7, 30, &nwo);
    sync_progress_get(h->se, &p);
    assert_false(p.running);
    assert_string_equal(p.phase, "idle");
    assert_true(p.records_total >= nwo);
    assert_true(p.records_done >= nwo);

    /* Again, nothing changed remotely: every detail answers 304, so does
     * every list page (kept from the first walk), no contacts or assets
     * list is fetched, and no answer has a body. */
    assert_int_equal(h_http(h, "DELETE", "/__sim/stats", NULL, 0, NULL) / 100, 2);
    assert_int_equal(h_cycle(h, &s), 0);
    assert_true(s.complete);
    assert_int_equal(s.pulled, 0);
    stats = h_get_json(h, "/__sim/stats", 0);
    assert_non_null(stats);
    assert_int_equal(h_stat(stats, "GET /api/v1/work-orders/{id}", "200"), 0);
    assert_int_equal(h_stat(stats, "GET /api/v1/work-orders/{id}", "304"), nwo);
    assert_int_equal(h_stat(stats, "GET /api/v1/customers/{id}", "200"), 0);
    assert_true(h_stat(stats, "GET /api/v1/customers/{id}", "304") > 0);
    assert_int_equal(h_stat(stats, "GET /api/v1/customers/{id}/contacts", NULL), 0);
    assert_int_equal(h_stat(stats, "GET /api/v1/customers/{id}/assets", NULL), 0);
    assert_int_equal(h_stat(stats, "GET /api/v1/work-orders", "200"), 0);
    assert_true(h_stat(stats, "GET /api/v1/work-orders", "304") > 0);
    assert_int_equal((long)cJSON_GetObjectItem(stats, "bytes_out")->valuedouble, 0);
    print_message("second sync: %ld requests, %ld bytes out\n",
                  (long)cJSON_GetObjectItem(stats, "requests")->valuedouble,
                  (long)cJSON_GetObjectItem(stats, "bytes_out")->valuedouble);
    cJSON_Delete(stats);
    assert_replica_is_scope(h, 7, 30, NULL);
}

/* A dispatcher change shows up; a work order moved to another technician
 * and one deleted remotely leave the replica. */
static void test_remote_changes_and_eviction(void **state)
{
    harness *h = *state;
    const char *const args[] = {"--seed", "12", NULL};
    sync_summary s;
    cJSON *state0, *local;
    const cJSON *wo;
    const char *ids[3] = {NULL, NULL, NULL};
    int k = 0;
    char path[128];

    start(h, args, 7, 30);
    assert_int_equal(h_cycle(h, &s), 0);
    assert_true(s.complete);
    state0 = h_get_json(h, "/__sim/state", 0);
    cJSON_ArrayForEach(wo, cJSON_GetObjectItem(state0, "work_orders")) {
        const char *st = h_str(wo, "status");
        if (k < 3 && h_in_window(wo, TECH, 7, 30, h_now_ms()) && st &&
            strcmp(st, "completed") && strcmp(st, "cancelled"))
            ids[k++] = h_str(wo, "id");
    }
    assert_int_equal(k, 3);
    snprintf(path, sizeof path, "/work-orders/%s", ids[0]);
    assert_int_equal(h_dispatch(h, "PUT", path, "{\"notes\":\"gate code 4711\"}"), 200);
    snprintf(path, sizeof path, "/work-orders/%s", ids[1]);
    assert_int_equal(h_dispatch(h, "PUT", path, "{\"technician_id\":\"tech-002\"}"), 200);
    snprintf(path, sizeof path, "/work-orders/%s", ids[2]);
    assert_int_equal(h_dispatch(h, "DELETE", path, NULL) / 100, 2);

    assert_int_equal(h_cycle(h, &s), 0);
    assert_true(s.complete);
    assert_true(s.pulled >= 1);
    assert_true(s.evicted >= 2);
    local = h_local(h, ENT_WORK_ORDER, ids[0]);
    assert_non_null(local);
    assert_string_equal(h_str(local, "notes"), "gate code 4711");
    cJSON_Delete(local);
    assert_null(h_local(h, ENT_WORK_ORDER, ids[1]));
    assert_null(h_local(h, ENT_WORK_ORDER, ids[2]));
    cJSON_Delete(state0);
    assert_replica_is_scope(h, 7, 30, NULL);
}

/* Cancels the cycle once the first page's records were committed. */
static void cancel_after_first_page(void *ud, const char *type, const char *json)
{
    harness *h = ud;
    (void)json;
    if (strcmp(type, "record_changed") == 0)
        sync_engine_cancel(h->se);
}

static long list_requests(harness *h)
{
    cJSON *stats = h_get_json(h, "/__sim/stats", 0);
    long n = h_stat(stats, "GET /api/v1/work-orders", NULL);
    cJSON_Delete(stats);
    return n;
}

/*
 * An interrupted pull resumes at its cursor instead of starting over: the
 * resumed walk fetches only the list pages the first one did not commit
 * (the pages that were in flight, fetched but not yet applied, are
 * fetched again: at most the pipeline's depth less one), and the replica
 * is whole afterwards.
 */
static void test_interrupted_pull_resumes(void **state)
{
    harness *h = *state;
    const char *const args[] = {"--seed", "13", "--work-orders", "1500", NULL};
    sync_summary s;
    sync_progress p;
    long first, resumed, fresh;

    start(h, args, 30, 60);
    sync_set_event_hook(h->se, cancel_after_first_page, h);
    h_http(h, "DELETE", "/__sim/stats", NULL, 0, NULL);
    assert_int_equal(h_cycle(h, &s), 0);
    assert_false(s.complete);
    assert_true(s.pulled > 0);
    first = list_requests(h);
    sync_set_event_hook(h->se, NULL, NULL);

    h_http(h, "DELETE", "/__sim/stats", NULL, 0, NULL);
    assert_int_equal(h_cycle(h, &s), 0);
    assert_true(s.complete);
    resumed = list_requests(h);
    sync_progress_get(h->se, &p);
    assert_false(p.running);
    assert_replica_is_scope(h, 30, 60, NULL);

    /* A walk from the start, for comparison. */
    h_http(h, "DELETE", "/__sim/stats", NULL, 0, NULL);
    assert_int_equal(h_cycle(h, &s), 0);
    assert_true(s.complete);
    assert_int_equal(s.pulled, 0);
    fresh = list_requests(h);
    print_message("list pages: interrupted walk %ld, resumed %ld, whole %ld\n",
                  first, resumed, fresh);
    assert_true(fresh >= 2);
    assert_true(resumed < fresh);
    assert_true(first + resumed <= fresh + 2);
}


typedef struct {
    harness *h;
    sync_summary s;
    int rc;
    int64_t returned_ms;
} cycle_thread;

static void *run_cycle(void *ud)
{
    cycle_thread *c = ud;
    c->rc = h_cycle(c->h, &c->s);
    c->returned_ms = h_now_ms();
    return NULL;
}

/* sync_engine_cancel from another thread ends a cycle stuck on a slow
 * remote at once; what was committed stays, the next cycle completes. */
static void test_cancel_running_cycle(void **state)
{
    harness *h = *state;
    const char *const args[] = {"--seed", "14", NULL};
    cycle_thread c;
    sync_progress p;
    pthread_t t;
    int64_t deadline, cancelled_at;
    sync_summary s;

    start(h, args, 7, 30);
    assert_int_equal(h_faults(h, "{\"latency_ms\":20000,\"path_prefix\":\"/api/v1/customers/\"}") / 100, 2);
    memset(&c, 0, sizeof c);
    c.h = h;
    assert_int_equal(pthread_create(&t, NULL, run_cycle, &c), 0);
    /* Wait (bounded) until the pull has committed some work orders. */
    deadline = h_now_ms() + 10000;
    do {
        struct timespec ts = {0, 5 * 1000 * 1000};
        sync_progress_get(h->se, &p);
        if (p.running && p.records_total > 0 && strcmp(p.phase, "pull") == 0)
            break;
        nanosleep(&ts, NULL);   /* between polls of the condition */
    } while (h_now_ms() < deadline);
    assert_true(p.running);
    cancelled_at = h_now_ms();
    sync_engine_cancel(h->se);
    pthread_join(t, NULL);
    print_message("cancel: cycle returned %lld ms after sync_engine_cancel\n",
                  (long long)(c.returned_ms - cancelled_at));
    assert_int_equal(c.rc, 0);
    assert_true(c.returned_ms - cancelled_at < 1000);
    assert_false(c.s.complete);
    assert_string_equal(c.s.last_error, "cancelled");
    assert_int_equal(h_faults(h, NULL) / 100, 2);
    assert_int_equal(h_cycle(h, &s), 0);
    assert_true(s.complete);
    assert_replica_is_scope(h, 7, 30, NULL);
}


/* Counts the records of a table in the sim's state and in the replica. */
static void assert_same_ids(harness *h, const cJSON *state, const char *table,
                            store_entity e, const char *branch)
{
    const cJSON *r;
    int64_t count;
    int n = 0;

    cJSON_ArrayForEach(r, cJSON_GetObjectItem(state, table)) {
        store_record rec;
        if (branch && (!h_ref(r, "branch") || strcmp(h_ref(r, "branch"), branch)))
            continue;
        if (store_record_get(h->st, e, h_str(r, "id"), &rec) != STORE_OK)
            fail_msg("%s %s missing from the replica", table, h_str(r, "id"));
        store_record_release(&rec);
        n++;
    }
    assert_int_equal(store_count(h->st, e, &count), 0);
    assert_int_equal(count, n);
}

/* No technician, no branch: every customer and every work order. */
static void test_whole_account_scope(void **state)
{
    harness *h = *state;
    const char *const args[] = {"--seed", "15", "--customers", "40", "--work-orders", "150", NULL};
    sync_config cfg;
    sync_summary s;
    cJSON *st;

    memset(&cfg, 0, sizeof cfg);
    h_start(h, args, &cfg, &s);
    assert_int_equal(s.errors, 0);
    st = h_get_json(h, "/__sim/state", 0);
    assert_same_ids(h, st, "customers", ENT_CUSTOMER, NULL);
    assert_same_ids(h, st, "work_orders", ENT_WORK_ORDER, NULL);
    assert_same_ids(h, st, "contacts", ENT_CONTACT, NULL);
    assert_same_ids(h, st, "assets", ENT_ASSET, NULL);
    cJSON_Delete(st);
}

/* A branch alone: the customers of that branch (with their contacts and
 * assets), and no work orders. */
static void test_branch_scope(void **state)
{
    harness *h = *state;
    const char *const args[] = {"--seed", "16", "--customers", "60", "--work-orders", "100", NULL};
    sync_config cfg;
    cJSON *st;
    int64_t count;

    memset(&cfg, 0, sizeof cfg);
    cfg.branch_id = "branch-002";
    h_start(h, args, &cfg, NULL);
    st = h_get_json(h, "/__sim/state", 0);
    assert_same_ids(h, st, "customers", ENT_CUSTOMER, "branch-002");
    assert_true(store_count(h->st, ENT_CUSTOMER, &count) == 0 && count > 0);
    assert_int_equal(store_count(h->st, ENT_WORK_ORDER, &count), 0);
    assert_int_equal(count, 0);
    cJSON_Delete(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        H_TEST(test_initial_and_unchanged_sync),
        H_TEST(test_remote_changes_and_eviction),
        H_TEST(test_interrupted_pull_resumes),
        H_TEST(test_cancel_running_cycle),
        H_TEST(test_whole_account_scope),
        H_TEST(test_branch_scope),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return cmocka_run_group_tests_name("sync_sim_pull", tests, NULL, NULL);
}
