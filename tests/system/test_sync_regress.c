/*
 * test_sync_regress.c — regressions found by the reliability campaign
 * (docs/RELIABILITY.md), each against the real fieldsync-sim.
 *
 * An update that was offered to the remote and must be retried cannot
 * absorb later edits (its outcome may be fixed), so a second edit of the
 * same field becomes a second op.  Its base must be what the user saw
 * when making it — the first op's value — not the remote version from
 * before the first op; otherwise the second op looks unchanged (a revert
 * was lost without a trace) or in conflict with our own first op (the
 * latest edit lost to the earlier one under lww).  The crash loop found
 * both (seed 13), and then the same through coalescing: a field new to a
 * never-tried op that follows a tried one (seed 15).
 *
 * A customer's detail embeds its contacts, and a pull refreshes contacts
 * and assets only when the customer's detail changed.  Storing the ETag of
 * our own PUT's answer made the next pull's 304 hide a contact the
 * dispatcher had changed before that PUT: the replica kept the old
 * contact for good.  The randomized histories found it (seed 4).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/system/test_sync_harness.h"

#define TECH H_TECH

/* An in-scope work order's id and priority (copied out). */
static void pick_work_order(harness *h, char *id, size_t idlen, char *prio, size_t plen)
{
    cJSON *state = h_get_json(h, "/__sim/state", 0);
    const cJSON *wo;
    assert_non_null(state);
    id[0] = '\0';
    cJSON_ArrayForEach(wo, cJSON_GetObjectItem(state, "work_orders")) {
        if (h_in_window(wo, TECH, 7, 30, h_now_ms())) {
            snprintf(id, idlen, "%s", h_str(wo, "id"));
            snprintf(prio, plen, "%s", h_str(wo, "priority"));
            break;
        }
    }
    cJSON_Delete(state);
    assert_true(id[0] != '\0');
}

static char *sim_priority(harness *h, const char *id)
{
    char path[128];
    cJSON *j;
    char *out;
    snprintf(path, sizeof path, "/api/v1/work-orders/%s", id);
    j = h_get_json(h, path, 1);
    assert_non_null(j);
    out = strdup(h_str(cJSON_GetObjectItem(j, "data"), "priority"));
    cJSON_Delete(j);
    return out;
}

static int64_t conflicts_logged(harness *h)
{
    char *js = NULL;
    cJSON *j;
    int64_t n;
    assert_int_equal(store_conflicts_list(h->st, 0, &js), STORE_OK);
    j = cJSON_Parse(js);
    n = cJSON_GetArraySize(j);
    cJSON_Delete(j);
    free(js);
    return n;
}

/* The remote heals; cycles run until the outbox is empty. */
static void heal_and_drain(harness *h)
{
    sync_summary s;

    assert_int_equal(h_faults(h, NULL), 200);
    for (int i = 0; i < 20 && h_pending(h) > 0; i++)
        assert_int_equal(h_cycle(h, &s), 0);
    assert_int_equal(h_pending(h), 0);
}

/* Every PUT fails with 503 from now until the remote heals. */
#define PUTS_FAIL "{\"error_rate\":1.0,\"error_status\":503,\"methods\":[\"PUT\"]}"

/* The first edit's PUT fails (503) and is to be retried; the user then
 * makes a second edit of the same field; the remote heals. */
static void edit_twice_across_a_failed_push(harness *h, const char *first,
                                             const char *second, char *id, size_t idlen,
                                             char *orig, size_t olen)
{
    char fields[128];
    sync_summary s;

    pick_work_order(h, id, idlen, orig, olen);
    assert_int_equal(h_faults(h, PUTS_FAIL), 200);
    snprintf(fields, sizeof fields, "{\"priority\":\"%s\"}", first ? first : "urgent");
    assert_int_equal(h_update(h, ENT_WORK_ORDER, id, fields, h_now_ms()), 0);
    assert_int_equal(h_cycle(h, &s), 0);
    assert_true(s.retried >= 1);
    assert_int_equal(h_pending(h), 1);
    snprintf(fields, sizeof fields, "{\"priority\":\"%s\"}", second ? second : orig);
    assert_int_equal(h_update(h, ENT_WORK_ORDER, id, fields, h_now_ms() + 5), 0);
    assert_int_equal(h_pending(h), 2); /* the tried op absorbed nothing */
    heal_and_drain(h);
}

/* Reverting a field whose push is being retried: the revert wins. */
static void test_revert_after_a_retried_push_is_not_lost(void **state)
{
    harness *h = *state;
    char id[64], orig[32], *now;

    h_start_seed(h, "31");
    edit_twice_across_a_failed_push(h, NULL, NULL, id, sizeof id, orig, sizeof orig);
    if (strcmp(orig, "urgent") == 0)
        skip(); /* the seed must give a work order that is not urgent */
    now = sim_priority(h, id);
    assert_string_equal(now, orig);
    free(now);
    assert_int_equal(conflicts_logged(h), 0);
}

/* A second value after a retried push: no conflict with our own first
 * op, and the latest edit is what the remote keeps. */
static void test_second_edit_after_a_retried_push_wins_without_conflict(void **state)
{
    harness *h = *state;
    char id[64], orig[32], *now;

    h_start_seed(h, "32");
    edit_twice_across_a_failed_push(h, "urgent", "low", id, sizeof id, orig, sizeof orig);
    now = sim_priority(h, id);
    assert_string_equal(now, "low");
    free(now);
    assert_int_equal(conflicts_logged(h), 0);
}

/* The tried op sets notes; a later op on another field absorbs a second
 * notes edit: its base is the tried op's value too. */
static void test_edit_coalesced_behind_a_retried_push_wins_without_conflict(void **state)
{
    harness *h = *state;
    char id[64], orig[32], path[128];
    sync_summary s;
    cJSON *j;

    h_start_seed(h, "33");
    pick_work_order(h, id, sizeof id, orig, sizeof orig);
    assert_int_equal(h_faults(h, PUTS_FAIL), 200);
    assert_int_equal(h_update(h, ENT_WORK_ORDER, id, "{\"notes\":\"first\"}", h_now_ms()), 0);
    assert_int_equal(h_cycle(h, &s), 0);
    assert_int_equal(h_pending(h), 1);
    assert_int_equal(h_update(h, ENT_WORK_ORDER, id, "{\"description\":\"other\"}", h_now_ms()), 0);
    assert_int_equal(h_update(h, ENT_WORK_ORDER, id, "{\"notes\":\"second\"}", h_now_ms()), 0);
    assert_int_equal(h_pending(h), 2); /* the second notes edit joined the new op */
    heal_and_drain(h);
    snprintf(path, sizeof path, "/api/v1/work-orders/%s", id);
    j = h_get_json(h, path, 1);
    assert_non_null(j);
    assert_string_equal(h_str(cJSON_GetObjectItem(j, "data"), "notes"), "second");
    assert_string_equal(h_str(cJSON_GetObjectItem(j, "data"), "description"), "other");
    cJSON_Delete(j);
    assert_int_equal(conflicts_logged(h), 0);
}

/* A contact of the sim whose customer (e ENT_CUSTOMER) or which itself
 * (ENT_CONTACT) is in the replica: its id and its customer's. */
static void pick_contact(harness *h, store_entity e, char cust[64], char contact[64])
{
    cJSON *st = h_get_json(h, "/__sim/state", 0);
    const cJSON *ct;

    assert_non_null(st);
    cust[0] = contact[0] = '\0';
    cJSON_ArrayForEach(ct, cJSON_GetObjectItem(st, "contacts")) {
        cJSON *mine = h_local(h, e, h_str(ct, e == ENT_CUSTOMER ? "customer_id" : "id"));
        if (mine) {
            snprintf(cust, 64, "%s", h_str(ct, "customer_id"));
            snprintf(contact, 64, "%s", h_str(ct, "id"));
            cJSON_Delete(mine);
            break;
        }
    }
    cJSON_Delete(st);
    assert_true(cust[0] && contact[0]);
}

/* A contact edited by the dispatcher, then our pending customer update
 * pushed: the replica shows the dispatcher's contact afterwards. */
static void test_contact_changed_before_our_customer_put_is_pulled(void **state)
{
    harness *h = *state;
    char cust[64], contact[64], path[160];
    sync_summary s;

    h_start_seed(h, "34");
    /* A customer in the replica with a contact. */
    pick_contact(h, ENT_CUSTOMER, cust, contact);
    assert_int_equal(h_faults(h, "{\"offline\":true}"), 200);
    assert_int_equal(h_update(h, ENT_CUSTOMER, cust, "{\"notes\":\"ours\"}", h_now_ms()), 0);
    assert_int_equal(h_cycle(h, &s), 0); /* offline: nothing moves */
    assert_int_equal(h_faults(h, NULL), 200);
    snprintf(path, sizeof path, "/contacts/%s", contact);
    assert_int_equal(h_dispatch(h, "PUT", path, "{\"title\":\"Dispatcher's title\"}"), 200);
    for (int i = 0; i < 3; i++)
        assert_int_equal(h_cycle(h, &s), 0);
    assert_int_equal(h_pending(h), 0);
    h_assert_local(h, ENT_CONTACT, contact, "title", "Dispatcher's title");
    h_assert_local(h, ENT_CUSTOMER, cust, "notes", "ours");
}

/* The dispatcher changes a contact (which stamps its customer); our next
 * pull gets the customer's new version but its contacts page fails.  The
 * customer's new ETag must not be kept, or every later pull gets 304 for
 * it, skips its contacts, and the stale contact stays for good.  Found by
 * the random histories (seeds 1011, 1018). */
static void test_contacts_lost_in_a_pull_are_fetched_next_time(void **state)
{
    harness *h = *state;
    cJSON *local;
    char cust[64], contact[64], path[160], faults[320];
    sync_summary s;

    h_start_seed(h, "35");
    pick_contact(h, ENT_CONTACT, cust, contact);
    snprintf(path, sizeof path, "/contacts/%s", contact);
    assert_int_equal(h_dispatch(h, "PUT", path, "{\"title\":\"Changed by dispatch\"}"), 200);

    /* This pull gets the customer's new version; its contacts page fails. */
    snprintf(faults, sizeof faults,
             "{\"error_rate\":1.0,\"error_status\":503,\"methods\":[\"GET\"],"
             "\"path_prefix\":\"/api/v1/customers/%s/contacts\"}", cust);
    assert_int_equal(h_faults(h, faults), 200);
    assert_int_equal(h_cycle(h, &s), 0);
    assert_true(s.errors >= 1);
    local = h_local(h, ENT_CONTACT, contact);
    assert_non_null(local);
    assert_string_not_equal(h_str(local, "title"), "Changed by dispatch");
    cJSON_Delete(local);

    /* Healed: the next pull brings the contact up to date. */
    assert_int_equal(h_faults(h, NULL), 200);
    assert_int_equal(h_cycle(h, &s), 0);
    h_assert_local(h, ENT_CONTACT, contact, "title", "Changed by dispatch");
}

/* A work order shows its contact's phone.  The dispatcher changes the
 * phone: the work order's updated_at stays, but its body (and ETag) do
 * not, and the next pull must bring the new phone into the replica.  Found
 * by the random histories, which had stopped editing phones to pass. */
static void test_work_order_shows_the_contacts_new_phone(void **state)
{
    harness *h = *state;
    cJSON *st, *local;
    const cJSON *wo;
    char id[64] = "", contact[64] = "", path[160];
    sync_summary s;

    h_start_seed(h, "36");
    st = h_get_json(h, "/__sim/state", 0);
    assert_non_null(st);
    cJSON_ArrayForEach(wo, cJSON_GetObjectItem(st, "work_orders")) {
        cJSON *mine = h_local(h, ENT_WORK_ORDER, h_str(wo, "id"));
        if (mine && h_ref(wo, "contact")) {
            snprintf(id, sizeof id, "%s", h_str(wo, "id"));
            snprintf(contact, sizeof contact, "%s", h_ref(wo, "contact"));
        }
        cJSON_Delete(mine);
        if (id[0])
            break;
    }
    cJSON_Delete(st);
    assert_true(id[0] && contact[0]);
    snprintf(path, sizeof path, "/contacts/%s", contact);
    assert_int_equal(h_dispatch(h, "PUT", path, "{\"phone\":\"+1-555-000-9876\"}"), 200);
    assert_int_equal(h_cycle(h, &s), 0);
    local = h_local(h, ENT_WORK_ORDER, id);
    assert_non_null(local);
    assert_string_equal(h_str(cJSON_GetObjectItem(local, "contact"), "phone"), "+1-555-000-9876");
    cJSON_Delete(local);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        H_TEST(test_revert_after_a_retried_push_is_not_lost),
        H_TEST(test_second_edit_after_a_retried_push_wins_without_conflict),
        H_TEST(test_edit_coalesced_behind_a_retried_push_wins_without_conflict),
        H_TEST(test_contact_changed_before_our_customer_put_is_pulled),
        H_TEST(test_contacts_lost_in_a_pull_are_fetched_next_time),
        H_TEST(test_work_order_shows_the_contacts_new_phone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
